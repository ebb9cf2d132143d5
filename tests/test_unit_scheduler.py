"""The page scheduler's guarantees, against an in-memory client (no network, milliseconds).

Gated tests play the server: they release answers one by one and check exactly which requests the
scheduler has in flight after each, while a thread consumes the events as dlt's extract would.
"""

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fake_client import (
    FIRST_ANSWER_AT,
    NEVER_RELEASED,
    WAIT_SECONDS,
    FakeClient,
    FakeList,
    rows,
    scan_of,
)
from harness_registry import AuthError, RegistryError
from harness_registry.scan import Page, PageScheduler, ScanFinished, ScanQueue

Event = Page | ScanFinished


@pytest.fixture(autouse=True)
def every_gated_request_is_released() -> Iterator[None]:
    """A request the test never released is answered after a timeout, and its error may be lost
    once the reading is over: fail on it here rather than pass slowly."""
    NEVER_RELEASED.clear()
    yield
    assert not NEVER_RELEASED, f"requests the test never released: {NEVER_RELEASED}"


class Reader(threading.Thread):
    """Consumes a scheduler's events in a thread; `on_event` may act on each (e.g. abandon a list)."""

    def __init__(
        self, events: Iterator[Event], on_event: Callable[[Event], None] | None = None
    ) -> None:
        super().__init__(daemon=True)
        self._events = events
        self._on_event = on_event
        self.events: list[Event] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for event in self._events:
                self.events.append(event)
                if self._on_event is not None:
                    self._on_event(event)
        except BaseException as error:
            self.error = error

    def finish(self) -> list[Event]:
        self.join(timeout=10)
        assert not self.is_alive(), "the scheduler did not finish"
        if self.error is not None:
            raise self.error
        return self.events


def summary(events: list[Event]) -> list[tuple[str, int | str]]:
    """Each event as (list, page index) or (list, 'end'), in the order handed out."""
    return [
        (e.scan.path, e.page_index) if isinstance(e, Page) else (e.scan.path, "end") for e in events
    ]


def rows_of(events: list[Event], path: str) -> list[dict]:
    return [row for e in events if isinstance(e, Page) and e.scan.path == path for row in e.rows]


def no_page_threads_alive() -> bool:
    return not any(t.name.startswith("harness-page") for t in threading.enumerate())


def test_pages_are_handed_out_in_page_order_whatever_order_they_are_answered_in():
    client = FakeClient({"/a": FakeList(rows("a", 8))}, gated=True)
    scan = scan_of("/a", page_size=2)
    reader = Reader(PageScheduler(client, [scan], concurrency=4).events())
    reader.start()
    try:
        client.in_flight(("/a", 0))
        client.release(("/a", 0))
        client.in_flight(("/a", 1), ("/a", 2), ("/a", 3))
        # the last page first, the first page last
        client.release(("/a", 3))
        client.release(("/a", 2))
        client.release(("/a", 1))
        events = reader.finish()
    finally:
        client.release_all()
    assert summary(events) == [("/a", 0), ("/a", 1), ("/a", 2), ("/a", 3), ("/a", "end")]
    assert rows_of(events, "/a") == rows("a", 8)
    assert scan.complete and (scan.requests, scan.wasted_requests, scan.pages_read) == (4, 0, 4)


def test_requests_in_flight_never_exceed_concurrency_and_every_row_arrives_once():
    lists = {f"/r{i}": FakeList(rows(f"r{i}", 3 * i + 1), page_count=i + 3) for i in range(6)}
    client = FakeClient(lists)
    scans = [scan_of(path, page_size=2) for path in lists]
    events = list(PageScheduler(client, scans, concurrency=3).events())
    assert client.peak_in_flight <= 3
    for path, listed in lists.items():
        assert rows_of(events, path) == listed.rows
        pages = [i for p, i in summary(events) if p == path and i != "end"]
        assert pages == list(range(len(pages)))
    assert all(scan.complete for scan in scans)
    assert sum(scan.requests for scan in scans) == client.requests_sent
    assert no_page_threads_alive()


def test_pages_are_fetched_ahead_only_once_every_list_has_started():
    lists = {"/a": FakeList(rows("a", 10))} | {p: FakeList(rows(p, 1)) for p in ("/b", "/c", "/d")}
    client = FakeClient(lists, gated=True)
    scans = [scan_of(path, page_size=2) for path in lists]
    reader = Reader(PageScheduler(client, scans, concurrency=3).events())
    reader.start()
    try:
        client.in_flight(("/a", 0), ("/b", 0), ("/c", 0))
        client.release(("/a", 0))
        # /a's next page is needed: it takes the free slot
        client.in_flight(("/b", 0), ("/c", 0), ("/a", 1))
        client.release(("/b", 0))
        # a slot frees: /d starts rather than /a fetching page 2 ahead
        client.in_flight(("/c", 0), ("/a", 1), ("/d", 0))
        client.release(("/c", 0))
        # nothing left to start: now /a fetches ahead
        client.in_flight(("/a", 1), ("/d", 0), ("/a", 2))
        client.release(("/d", 0))
        client.in_flight(("/a", 1), ("/a", 2), ("/a", 3))
        client.release_all()
        events = reader.finish()
    finally:
        client.release_all()
    assert rows_of(events, "/a") == rows("a", 10)
    assert client.pages_requested("/a") == [0, 1, 2, 3, 4]  # never past pageCount
    assert all(scan.complete for scan in scans)


def test_an_overstated_page_count_wastes_at_most_concurrency_minus_one_requests():
    # 12 rows in pages of 5: page 2 is short and proves the end, but pageCount says 10
    client = FakeClient({"/a": FakeList(rows("a", 12), page_count=10)}, gated=True)
    scan = scan_of("/a", page_size=5)
    reader = Reader(PageScheduler(client, [scan], concurrency=4).events())
    reader.start()
    try:
        client.release(("/a", 0))
        client.in_flight(("/a", 1), ("/a", 2), ("/a", 3), ("/a", 4))
        client.release(("/a", 1))
        client.in_flight(("/a", 2), ("/a", 3), ("/a", 4), ("/a", 5))
        client.release(("/a", 2))  # the short page: pages 3, 4 and 5 are on the wire, wasted
        client.in_flight(("/a", 3), ("/a", 4), ("/a", 5))
        client.release_all()
        events = reader.finish()
    finally:
        client.release_all()
    assert rows_of(events, "/a") == rows("a", 12)
    assert client.pages_requested("/a") == [0, 1, 2, 3, 4, 5]
    assert (scan.requests, scan.wasted_requests, scan.pages_read) == (6, 3, 3)
    assert scan.complete


@pytest.mark.parametrize(("row_count", "requests"), [(12, 3), (10, 3), (0, 1)])
def test_a_sequential_scan_sends_one_request_per_page_and_at_most_one_past_the_end(
    row_count, requests
):
    client = FakeClient({"/a": FakeList(rows("a", row_count), page_count=10)})
    scan = scan_of("/a", page_size=5)
    events = list(PageScheduler(client, [scan], concurrency=1).events())
    assert rows_of(events, "/a") == rows("a", row_count)
    assert client.pages_requested("/a") == list(range(requests))
    assert (scan.requests, scan.wasted_requests) == (requests, 0)


def test_the_first_page_gives_the_list_its_server_time():
    client = FakeClient({"/a": FakeList(rows("a", 6))})
    scan = scan_of("/a", page_size=2)
    list(PageScheduler(client, [scan], concurrency=2).events())
    assert scan.first_served_at == FIRST_ANSWER_AT  # the fake server's clock at page 0


def test_a_registry_error_ends_only_its_own_list():
    lists = {p: FakeList(rows(p, 7)) for p in ("/a", "/b", "/c")}
    failure = RegistryError("registry b", "access forbidden (403)")
    client = FakeClient(lists, failures={("/b", 1): failure})
    scans = [scan_of(path, page_size=2) for path in lists]
    events = list(PageScheduler(client, scans, concurrency=2).events())
    a, b, c = scans
    assert a.complete and c.complete
    assert rows_of(events, "/a") == lists["/a"].rows and rows_of(events, "/c") == lists["/c"].rows
    assert b.finished and not b.complete and b.error is failure
    assert rows_of(events, "/b") == lists["/b"].rows[:2]
    assert [e for e in summary(events) if e[0] == "/b"] == [("/b", 0), ("/b", "end")]


def test_a_body_that_breaks_the_paging_contract_ends_only_its_list_with_a_registry_error():
    lists = {p: FakeList(rows(p, 5)) for p in ("/a", "/b")}
    stuck = {"data": {"artifacts": rows("b", 2), "pageIndex": 0, "pageCount": 3}}
    client = FakeClient(lists, bodies={("/b", 1): stuck})
    a, b = scans = [scan_of(path, page_size=2) for path in lists]
    events = list(PageScheduler(client, scans, concurrency=2).events())
    assert a.complete and rows_of(events, "/a") == lists["/a"].rows
    assert isinstance(b.error, RegistryError)
    assert str(b.error) == (
        "registry b: asked for page 1 but the response says pageIndex 0: "
        "the server is not advancing through pages"
    )


def test_any_other_error_stops_every_list_and_is_raised():
    lists = {"/a": FakeList(rows("a", 40)), "/b": FakeList(rows("b", 4))}
    client = FakeClient(lists, failures={("/b", 0): AuthError("Harness refused the API key")})
    scans = [scan_of(path, page_size=2) for path in lists]
    with pytest.raises(AuthError, match="refused the API key"):
        list(PageScheduler(client, scans, concurrency=2).events())
    sent = client.requests_sent
    assert no_page_threads_alive()
    assert not scans[0].complete and client.requests_sent == sent


def test_closing_the_events_early_sends_nothing_more_and_shuts_the_pool_down():
    lists = {p: FakeList(rows(p, 6)) for p in ("/a", "/b", "/c")}
    client = FakeClient(lists)
    events = PageScheduler(client, [scan_of(p, page_size=2) for p in lists], 1).events()
    first = next(events)
    events.close()
    assert summary([first]) == [("/a", 0)]
    assert no_page_threads_alive()
    assert {path for path, _ in client.log} == {"/a"}  # the lists not started were never read


def test_an_abandoned_list_gets_no_more_requests_and_a_list_added_meanwhile_is_read():
    lists = {"/a": FakeList(rows("a", 6)), "/b": FakeList(rows("b", 1)), "/a2": FakeList([])}
    client = FakeClient(lists)
    a = scan_of("/a", page_size=2)
    queue = ScanQueue([a, scan_of("/b", page_size=2)])

    def abandon_a(event: Event) -> None:
        if isinstance(event, Page) and event.scan is a:
            a.abandoned = True
            queue.append(scan_of("/a2", page_size=2))

    reader = Reader(PageScheduler(client, queue, concurrency=1).events(), on_event=abandon_a)
    reader.start()
    events = reader.finish()
    assert summary(events) == [
        ("/a", 0),
        ("/a", "end"),
        ("/a2", 0),  # a list added to the queue starts before those given at first
        ("/a2", "end"),
        ("/b", 0),
        ("/b", "end"),
    ]
    # page 1 was already sent when page 0 was handed out; it is cancelled or thrown away
    assert client.pages_requested("/a") in ([0], [0, 1])
    assert a.requests == len(client.pages_requested("/a"))
    assert a.wasted_requests == a.requests - 1
    assert a.finished and not a.complete


def wait_until(condition: Callable[[], bool]) -> None:
    """Waits for the scheduler's threads to reach a state; failing after a while means it never did."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "the scheduler did not get there"
        time.sleep(0.001)


class BusyConsumer:
    """An `on_event` that keeps the consumer busy with the first event until `go` is set, as dlt's
    extract is while it flushes its buffers."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.busy = threading.Event()

    def __call__(self, event: Event) -> None:
        if not self.busy.is_set():
            self.busy.set()
            assert self.go.wait(WAIT_SECONDS)


def test_a_finished_request_is_replaced_while_the_consumer_is_busy():
    client = FakeClient({"/a": FakeList(rows("a", 10))}, gated=True)
    scan = scan_of("/a", page_size=2)
    consumer = BusyConsumer()
    reader = Reader(PageScheduler(client, [scan], concurrency=2).events(), on_event=consumer)
    reader.start()
    try:
        client.release(("/a", 0))
        client.in_flight(("/a", 1), ("/a", 2))
        assert consumer.busy.wait(WAIT_SECONDS)  # page 0 handed out, the consumer works on it
        client.release(("/a", 1))
        # the consumer has not asked for the next event: the answer is read and replaced anyway
        client.in_flight(("/a", 2), ("/a", 3))
        client.release(("/a", 2))
        client.in_flight(("/a", 3), ("/a", 4))
        consumer.go.set()
        client.release_all()
        events = reader.finish()
    finally:
        consumer.go.set()
        client.release_all()
    assert summary(events) == [("/a", i) for i in range(5)] + [("/a", "end")]
    assert rows_of(events, "/a") == rows("a", 10)
    assert client.pages_requested("/a") == [0, 1, 2, 3, 4]


def test_pages_requested_and_not_handed_out_stay_within_twice_the_concurrency():
    client = FakeClient({"/a": FakeList(rows("a", 10))}, gated=True)
    scan = scan_of("/a", page_size=1)
    consumer = BusyConsumer()
    scheduler = PageScheduler(client, [scan], concurrency=2)
    reader = Reader(scheduler.events(), on_event=consumer)
    reader.start()
    try:
        client.release(("/a", 0))
        assert consumer.busy.wait(WAIT_SECONDS)  # holds page 0 and asks for nothing more
        client.in_flight(("/a", 1), ("/a", 2))
        client.release(("/a", 1))
        client.in_flight(("/a", 2), ("/a", 3))
        client.release(("/a", 2))
        client.in_flight(("/a", 3), ("/a", 4))  # 2 read and waiting, 2 in flight: the bound
        client.release(("/a", 3))
        wait_until(lambda: scheduler.pages_waiting == 3)
        assert scan.requests == 5  # page 4 is in flight, and nothing else was sent
        client.release(("/a", 4))
        wait_until(lambda: scheduler.pages_waiting == 4)
        assert scan.requests == 5  # no slot is running, but 4 pages wait for the consumer
        assert client.pages_requested("/a") == [0, 1, 2, 3, 4]
        consumer.go.set()
        client.release_all()
        events = reader.finish()
    finally:
        consumer.go.set()
        client.release_all()
    assert rows_of(events, "/a") == rows("a", 10)
    assert client.pages_requested("/a") == list(range(10))
    assert scan.complete and (scan.requests, scan.wasted_requests) == (10, 0)


def test_a_list_added_while_the_consumer_is_busy_starts_before_pages_are_fetched_ahead():
    lists = {"/a": FakeList(rows("a", 10)), "/b": FakeList(rows("b", 1))}
    client = FakeClient(lists, gated=True)
    queue = ScanQueue([scan_of("/a", page_size=2)])
    busy = BusyConsumer()
    add_b, b_added = threading.Event(), threading.Event()

    def add_b_while_busy(event: Event) -> None:
        if not busy.busy.is_set():
            busy.busy.set()
            # as a re-read or a split adds a list, once no answer is left to take in
            assert add_b.wait(WAIT_SECONDS)
            queue.append(scan_of("/b", page_size=2))
            b_added.set()
            assert busy.go.wait(WAIT_SECONDS)

    reader = Reader(PageScheduler(client, queue, concurrency=2).events(), on_event=add_b_while_busy)
    reader.start()
    try:
        client.release(("/a", 0))
        client.in_flight(("/a", 1), ("/a", 2))  # the queue was empty: /a fetches ahead
        assert busy.busy.wait(WAIT_SECONDS)  # page 0 handed out
        add_b.set()
        assert b_added.wait(WAIT_SECONDS)
        client.release(("/a", 1))
        # the worker side does not fetch page 3 ahead: the slot waits for /b, which only the
        # consumer's side starts, once it asks for the next event
        busy.go.set()
        client.in_flight(("/a", 2), ("/b", 0))
        client.release_all()
        events = reader.finish()
    finally:
        add_b.set()
        busy.go.set()
        client.release_all()
    assert rows_of(events, "/a") == rows("a", 10) and rows_of(events, "/b") == rows("b", 1)
    assert client.pages_requested("/a") == [0, 1, 2, 3, 4]
