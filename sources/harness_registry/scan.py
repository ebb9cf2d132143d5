"""Reading every page of many registries, side by side, with a bounded number of requests in flight.

One thread pool of `concurrency` workers only sends requests; the generator `scan_pages` schedules
them and hands out pages in order for each registry. Within a registry, once the first page says how
many pages there may be, up to `concurrency` later pages are fetched ahead. Because `pageCount`
overstates for most package types, a page past the real end may be requested; the window bounds that
waste to `concurrency - 1` requests per registry beyond the empty or short page that proves the end.
With `concurrency=1` it is a plain sequential scan: one request per page, and one past the end at
most.
"""

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .client import ApiAnswer, HarnessClient
from .errors import PagingError, RegistryError
from .paginator import PageIndexPaginator

logger = logging.getLogger(__name__)


@dataclass
class ListScan:
    """The reading of one list (a registry's artifacts or a space's registries) and how it ended."""

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


class ScanQueue:
    """The scans still to start, in order; `append` adds one while `scan_pages` runs."""

    def __init__(self, scans: Iterable[ListScan]) -> None:
        self._scans: Iterator[ListScan] = iter(scans)
        self._added: deque[ListScan] = deque()

    def append(self, scan: ListScan) -> None:
        self._added.append(scan)

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


def scan_pages(
    client: HarnessClient,
    scans: Iterator[ListScan],
    items_path: str,
    concurrency: int,
) -> Iterator[Page | ScanFinished]:
    """Reads every page of every scan, yielding `Page`s in page order per scan and a `ScanFinished`
    after the last page (or the error) of each scan.

    A `RegistryError` ends only its own scan (recorded on `scan.error`); any other error (a refused
    key, a wrong base URL) stops everything and is raised.

    Args:
        client: sends the requests.
        scans: the lists to read; consumed lazily and asked again whenever there is room, so a
            `ScanQueue` may be given more scans (a re-read) while others run.
        items_path: the key of the rows in `data` (`artifacts` or `registries`).
        concurrency: requests in flight at most, and pages fetched ahead per registry at most.
    """
    pending = iter(scans)
    active: list[ListScan] = []
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="harness-page")

    def submit(scan: ListScan) -> None:
        page_index = scan.next_page
        params = {**scan.params, **scan.paginator.page_params(page_index)}
        future = executor.submit(client.get, scan.path, params, scan.subject)
        scan.in_flight.append((page_index, future))
        scan.next_page += 1
        scan.requests += 1

    def in_flight_total() -> int:
        return sum(len(scan.in_flight) for scan in active)

    def schedule() -> None:
        def room() -> bool:
            return in_flight_total() < concurrency

        def may_fetch(scan: ListScan, depth: int) -> bool:
            page_count = scan.paginator.page_count
            return (
                page_count is not None
                and scan.paginator.has_next_page
                and scan.next_page < page_count
                and len(scan.in_flight) < depth
            )

        # 1. keep every started registry moving: its next page is needed, not speculative;
        for scan in active:
            if room() and may_fetch(scan, 1) and not scan.abandoned:
                submit(scan)
        # 2. start new registries while there is room;
        while room():
            scan = next(pending, None)
            if scan is None:
                break
            active.append(scan)
            submit(scan)
        # 3. only then fetch ahead: pageCount may overstate, so pages fetched ahead can fall past the
        #    end. Doing it last confines that waste to the tail of the run.
        for scan in active:
            while room() and may_fetch(scan, concurrency) and not scan.abandoned:
                submit(scan)

    def finish(scan: ListScan, error: RegistryError | None = None) -> ScanFinished:
        scan.error = error
        scan.finished = True
        for _, future in scan.in_flight:
            # Requests already on the wire complete and are thrown away: the bounded waste.
            if not future.cancel():
                scan.wasted_requests += 1
            else:
                scan.requests -= 1
        scan.in_flight.clear()
        active.remove(scan)
        return ScanFinished(scan)

    try:
        while True:
            yield from [finish(scan) for scan in list(active) if scan.abandoned]
            schedule()
            if not active:
                break
            # Pages are handed out in order, so only each scan's oldest request can unblock it;
            # waiting on all of them would spin while a later page is done and the oldest is not.
            wait([s.in_flight[0][1] for s in active if s.in_flight], return_when=FIRST_COMPLETED)
            events: list[Page | ScanFinished] = []
            for scan in list(active):
                while scan.in_flight and scan.in_flight[0][1].done():
                    page_index, future = scan.in_flight.popleft()
                    try:
                        answer = future.result()
                        if page_index == 0:
                            scan.first_served_at = answer.served_at
                        rows = scan.paginator.read_page(answer.body)
                    except RegistryError as error:
                        events.append(finish(scan, error))
                        break
                    except PagingError as error:
                        events.append(finish(scan, RegistryError(scan.subject, str(error))))
                        break
                    scan.pages_read += 1
                    events.append(Page(scan, page_index, rows))
                    if not scan.paginator.has_next_page:
                        events.append(finish(scan))
                        break
            schedule()
            yield from events
    finally:
        for scan in active:
            for _, future in scan.in_flight:
                future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
