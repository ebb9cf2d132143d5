"""Reading every page of many lists, side by side, with a bounded number of requests in flight.

A list is a registry's artifacts, a space's registries or an artifact's versions. One thread pool of `concurrency` workers
only sends requests; a `PageScheduler` decides which page of which list to ask for next and hands
the pages out in order for each list. Its guarantees:

- at most `concurrency` requests are in flight, over all lists, and at most `2 x concurrency` pages
  are requested and not yet handed out (in flight or answered), so memory stays bounded while the
  consumer is busy;
- each list's pages are handed out in page order, whatever order their answers arrive in;
- within a list, once the first page says how many pages there may be, up to `concurrency` later
  pages are fetched ahead, but only after every list that can start has started. Because
  `pageCount` overstates for most package types, a page past the real end may be requested; the
  window bounds that waste to `concurrency - 1` requests per list beyond the empty or short page
  that proves the end. With `concurrency=1` it is a plain sequential scan: one request per page,
  and one past the end at most;
- a `RegistryError` (or a body that breaks the paging contract) ends only its own list; any other
  error (a refused key, a wrong base URL) stops everything and is raised;
- a list the consumer marks `abandoned` gets no further requests and is finished at once;
- when the reading ends, early or not, requests not yet sent are cancelled and the pool is shut
  down.

Answers are taken in as they arrive, on the worker thread that got them (a done callback, under the
scheduler's lock): the page is read and a finished request is replaced at once, while the consumer
(dlt's extract) is still busy with earlier pages. Only the consumer's side starts new lists (the
queue's lists are built by the consumer's code, on its thread), so the worker side fetches ahead
only while the queue is known to be empty: not since the consumer added to it.
See docs/harness-api.md#paging-traps.
"""

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .client import ApiAnswer
from .errors import PagingError, RegistryError
from .paginator import PageIndexPaginator

logger = logging.getLogger(__name__)


class PageClient(Protocol):
    """What the scheduler needs of `HarnessClient`: one GET, answered or raising."""

    def get(self, path: str, params: dict[str, Any], subject: str) -> ApiAnswer: ...


@dataclass
class ListScan:
    """The reading of one list (a registry's artifacts, a space's registries or an artifact's
    versions) and how it ended."""

    ref: str  # registry or space ref, without `/+`
    subject: str  # what is read, for messages: "registry acme/docker" or "space acme"
    path: str
    params: dict[str, Any]
    paginator: PageIndexPaginator
    pages_read: int = 0
    requests: int = 0
    wasted_requests: int = 0  # fetched ahead past the end, discarded unread
    error: RegistryError | None = None
    first_served_at: datetime | None = None  # the server's clock when it answered the first page
    in_flight: deque[tuple[int, Future[ApiAnswer]]] = field(default_factory=deque)
    next_page: int = 0
    finished: bool = False
    abandoned: bool = False  # set by the consumer: stop reading this list, its pages are not wanted

    @property
    def complete(self) -> bool:
        """Every page was read without error."""
        return self.finished and self.error is None and not self.abandoned

    @property
    def raced(self) -> bool:
        return self.paginator.raced

    def wants_page(self, depth: int) -> bool:
        """A page may be asked for with fewer than `depth` of this list's requests in flight: the
        first page said how many there may be, and no page read so far proved the end."""
        page_count = self.paginator.page_count
        return (
            not self.abandoned
            and page_count is not None
            and self.paginator.has_next_page
            and self.next_page < page_count
            and len(self.in_flight) < depth
        )


class ScanQueue:
    """The scans still to start, in order; `append` adds one while a `PageScheduler` runs.

    Used from the consumer's thread only; `additions` tells the scheduler's worker side that the
    queue may no longer be empty.
    """

    def __init__(self, scans: Iterable[ListScan]) -> None:
        self._scans: Iterator[ListScan] = iter(scans)
        self._added: deque[ListScan] = deque()
        self.additions = 0  # calls to append or extend so far

    def append(self, scan: ListScan) -> None:
        self._added.append(scan)
        self.additions += 1

    def extend(self, scans: Iterable[ListScan]) -> None:
        """Adds scans after all others, taken lazily (a long stream costs no memory up front)."""
        self._scans = itertools.chain(self._scans, scans)
        self.additions += 1

    def __iter__(self) -> "ScanQueue":
        return self

    def __next__(self) -> ListScan:
        if self._added:
            return self._added.popleft()
        return next(self._scans)


@dataclass
class Page:
    """Rows of one page, handed out in page order for each scan."""

    scan: ListScan
    page_index: int
    rows: list[dict[str, Any]]


@dataclass
class ScanFinished:
    """The last event of a scan: look at `scan.error` and `scan.raced`."""

    scan: ListScan


class PageScheduler:
    """Reads every page of every scan with at most `concurrency` requests in flight.

    Example:
        queue = ScanQueue([scan_a, scan_b])
        for event in PageScheduler(client, queue, concurrency=4).events():
            if isinstance(event, Page):
                load(event.rows)
            elif event.scan.error:
                print(event.scan.error)

    Args:
        client: sends the requests (`HarnessClient`, or any object with its `get`).
        scans: the lists to read; consumed lazily and asked again whenever there is room, so a
            `ScanQueue` may be given more scans (a re-read) while others run.
        concurrency: requests in flight at most, and pages fetched ahead per list at most.
    """

    def __init__(self, client: PageClient, scans: Iterable[ListScan], concurrency: int) -> None:
        self._client = client
        self._queue = scans if isinstance(scans, ScanQueue) else ScanQueue(scans)
        self._concurrency = concurrency
        # requested and not yet handed out: in flight, answered out of order, or read and waiting
        self._outstanding_limit = 2 * concurrency
        self._active: list[ListScan] = []
        self._ready: deque[Page | ScanFinished] = deque()  # read, in order, not handed out yet
        self._ready_pages = 0
        # Submitted requests whose done callback has not run yet: they hold a worker (an answer
        # not yet taken in may make its list's next page the most needed one).
        self._running = 0
        self._answered_in_step = 0  # answered at once on submit, within a step (see `_on_done`)
        self._queue_drained_at: int | None = None  # the queue's `additions` when it was last empty
        self._executor: ThreadPoolExecutor | None = None
        # Everything below is changed under this lock, by the consumer's thread in `events()` and
        # by the workers' done callbacks. Reentrant: a future done before `add_done_callback`, or
        # cancelled under the lock, runs its callback at once on the thread that holds it.
        self._changed = threading.Condition(threading.RLock())
        self._in_step = False
        self._step_again = False
        self._closed = False
        self._worker_error: BaseException | None = None
        self._answered = 0
        self._answer_seconds = 0.0
        self._timing = threading.Lock()

    @property
    def mean_answer_seconds(self) -> float | None:
        """How long a request took on average so far (waits for the rate limit and retries
        included), None before the first answer; for estimates."""
        with self._timing:
            return self._answer_seconds / self._answered if self._answered else None

    @property
    def pages_waiting(self) -> int:
        """Pages read and not handed out yet (for tests and diagnostics)."""
        with self._changed:
            return self._ready_pages

    def events(self) -> Iterator[Page | ScanFinished]:
        """Yields `Page`s in page order per scan, and a `ScanFinished` after the last page (or the
        error, or the abandonment) of each scan.

        Raises:
            HarnessRegistryError: any error but a `RegistryError` (e.g. `AuthError`), which ends
                every scan.
        """
        self._executor = ThreadPoolExecutor(
            max_workers=self._concurrency, thread_name_prefix="harness-page"
        )
        try:
            while True:
                with self._changed:
                    event = self._next_event()
                if event is None:
                    return
                yield event
        finally:
            with self._changed:
                self._closed = True  # from now on a done callback does nothing
                self._cancel_in_flight()
            # Not under the lock: a worker's done callback waits for it before it returns.
            self._executor.shutdown(wait=True, cancel_futures=True)

    def _next_event(self) -> Page | ScanFinished | None:
        """Under the lock: the next event, waiting for an answer if need be; None at the end."""
        while True:
            if self._worker_error is not None:
                raise self._worker_error
            self._ready.extend(self._finish_abandoned())
            self._step(consumer=True)
            event = self._take_ready()
            if event is not None:
                return event
            if not self._active and self._queue_drained_at == self._queue.additions:
                return None
            # Nothing to hand out, and a request runs whose done callback wakes this up: an active
            # list's oldest request, or one left over from a finished list (it holds a worker, so
            # the next list in the queue waits for it).
            self._changed.wait()

    def _step(self, consumer: bool) -> None:
        """Under the lock: takes in the answers that can be read, then sends what there is room
        for; on the worker side, new lists are not started (see `_schedule`)."""
        self._in_step = True
        try:
            while True:
                self._step_again = False
                self._release_answered_in_step()
                self._collect()
                self._schedule(consumer)
                if not self._step_again:
                    return
        finally:
            self._release_answered_in_step()
            self._in_step = False

    def _release_answered_in_step(self) -> None:
        self._running -= self._answered_in_step
        self._answered_in_step = 0

    def _on_done(self, future: Future[ApiAnswer]) -> None:
        """A request finished or was cancelled: on a worker thread, or at once on the thread that
        submitted (it was that quick) or cancelled it."""
        with self._changed:
            if self._in_step and not future.cancelled():
                # Answered within `_submit` on this very thread: it keeps its slot until that step
                # goes round again and takes the answer in, before it sends anything else (the
                # answer may make its list's next page the most needed request).
                self._answered_in_step += 1
                self._step_again = True
                return
            self._running -= 1
            if future.cancelled() or self._closed or self._worker_error is not None:
                return
            try:
                self._step(consumer=False)
            except BaseException as error:  # raised on the consumer's thread by `events()`
                self._worker_error = error
            self._changed.notify_all()

    def _take_ready(self) -> Page | ScanFinished | None:
        while self._ready:
            event = self._ready.popleft()
            if isinstance(event, Page):
                self._ready_pages -= 1
                if event.scan.abandoned:
                    # read after the consumer gave the list up: discarded unread (its ScanFinished
                    # comes after it, so the list's figures are final when that is handed out)
                    event.scan.pages_read -= 1
                    event.scan.wasted_requests += 1
                    continue
            return event
        return None

    # Scheduling: which requests to send, in three passes of decreasing need.

    def _schedule(self, consumer: bool) -> None:
        self._keep_started_lists_moving()
        if consumer:
            self._start_new_lists()
        if self._queue_drained_at == self._queue.additions:
            # The consumer may add to the queue while a worker reads this (a race of one step):
            # at worst a page is fetched ahead before a list added then starts.
            self._fetch_ahead()

    def _keep_started_lists_moving(self) -> None:
        """A started list's next page is needed, not speculative: it goes first."""
        for scan in self._active:
            if self._has_room() and scan.wants_page(depth=1):
                self._submit(scan)

    def _start_new_lists(self) -> None:
        """The consumer's side only: the queue's lists are built by its code, on its thread."""
        while self._has_room():
            scan = next(self._queue, None)
            if scan is None:
                self._queue_drained_at = self._queue.additions
                return
            self._active.append(scan)
            self._submit(scan)

    def _fetch_ahead(self) -> None:
        """Only after new lists started: `pageCount` may overstate, so pages fetched ahead can
        fall past the end. Doing it last confines that waste to the tail of the run."""
        for scan in self._active:
            while self._has_room() and scan.wants_page(depth=self._concurrency):
                self._submit(scan)

    def _has_room(self) -> bool:
        """A request may be sent: fewer than `concurrency` running (an answer taken in frees its
        slot even before the consumer asks for it), and fewer than `2 x concurrency` pages
        requested and not yet handed out (memory)."""
        outstanding = sum(len(scan.in_flight) for scan in self._active) + self._ready_pages
        return self._running < self._concurrency and outstanding < self._outstanding_limit

    def _submit(self, scan: ListScan) -> None:
        assert self._executor is not None
        page_index = scan.next_page
        params = {**scan.params, **scan.paginator.page_params(page_index)}
        future = self._executor.submit(self._timed_get, scan.path, params, scan.subject)
        scan.in_flight.append((page_index, future))
        scan.next_page += 1
        scan.requests += 1
        self._running += 1
        future.add_done_callback(self._on_done)  # exactly once per future, cancelled or not

    def _timed_get(self, path: str, params: dict[str, Any], subject: str) -> ApiAnswer:
        started = time.monotonic()
        try:
            return self._client.get(path, params, subject)
        finally:
            with self._timing:
                self._answered += 1
                self._answer_seconds += time.monotonic() - started

    # Collecting: answers become pages, in page order per list.

    def _collect(self) -> None:
        """Reads each list's answered pages, oldest first (a later page waits for the ones before
        it), into the events to hand out."""
        for scan in list(self._active):
            while scan.in_flight and scan.in_flight[0][1].done():
                page_index, future = scan.in_flight.popleft()
                for event in self._read(scan, page_index, future):
                    self._ready.append(event)
                    self._ready_pages += isinstance(event, Page)
                if scan.finished:
                    break

    def _read(
        self, scan: ListScan, page_index: int, future: Future[ApiAnswer]
    ) -> list[Page | ScanFinished]:
        """One answered page: its rows, and the end of its list if it was the last, or failed."""
        try:
            answer = future.result()  # other errors than these end the whole reading
            if page_index == 0:
                scan.first_served_at = answer.served_at
            rows = scan.paginator.read_page(answer.body)
        except RegistryError as error:
            return [self._finish(scan, error)]
        except PagingError as error:
            return [self._finish(scan, RegistryError(scan.subject, str(error)))]
        scan.pages_read += 1
        page = Page(scan, page_index, rows)
        if not scan.paginator.has_next_page:
            return [page, self._finish(scan)]
        return [page]

    # Finishing a list.

    def _finish_abandoned(self) -> list[ScanFinished]:
        return [self._finish(scan) for scan in list(self._active) if scan.abandoned]

    def _finish(self, scan: ListScan, error: RegistryError | None = None) -> ScanFinished:
        scan.error = error
        scan.finished = True
        for _, future in scan.in_flight:
            # Requests already on the wire complete and are thrown away: the bounded waste.
            if future.cancel():
                scan.requests -= 1
            else:
                scan.wasted_requests += 1
        scan.in_flight.clear()
        self._active.remove(scan)
        return ScanFinished(scan)

    def _cancel_in_flight(self) -> None:
        for scan in self._active:
            for _, future in scan.in_flight:
                future.cancel()
