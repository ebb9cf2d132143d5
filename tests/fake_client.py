"""An in-memory stand-in for `HarnessClient`, for unit tests of the scheduler (no network).

It serves lists of rows in pages the way the API does (`data.<items>`, `pageIndex`, `pageCount`,
`itemCount`, `pageSize`), records every request, and counts the requests in flight. Gated, it
answers a request only once the test releases it, so a test can play the server and see exactly
which requests the scheduler has in flight at each step.
"""

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from harness_registry.client import ApiAnswer
from harness_registry.paginator import PageIndexPaginator
from harness_registry.scan import ListScan

FIRST_ANSWER_AT = datetime(2026, 1, 1, tzinfo=UTC)
WAIT_SECONDS = 5  # a wait this long means the scheduler did not do what the test expects

Request = tuple[str, int]  # (path, page)


@dataclass
class FakeList:
    """A list as the server holds it; `page_count` is what it claims (overstated for most types)."""

    rows: list[dict[str, Any]]
    page_count: int | None = None
    items_path: str = "artifacts"


def rows(name: str, count: int) -> list[dict[str, Any]]:
    return [{"name": f"{name}{i:03d}"} for i in range(count)]


def scan_of(path: str, page_size: int, items_path: str = "artifacts") -> ListScan:
    return ListScan(
        ref=path.strip("/"),
        subject=f"registry {path.strip('/')}",
        path=path,
        params={"sort_field": "name"},
        paginator=PageIndexPaginator(page_size, items_path=items_path),
    )


# Requests a gated client held for WAIT_SECONDS without the test releasing them, by client: the
# unit tests' teardown fails on any (the scheduler may have swallowed the error, its reading over).
NEVER_RELEASED: list[Request] = []


class FakeClient:
    """Answers `get(path, params, subject)` from `lists`, like `HarnessClient.get`.

    Args:
        lists: the lists by path.
        gated: answer a request only after `release` (or `release_all`).
        failures: an exception to raise instead of answering, by request.
        bodies: a body to answer instead of the list's page, by request.
    """

    def __init__(
        self,
        lists: dict[str, FakeList],
        *,
        gated: bool = False,
        failures: dict[Request, Exception] | None = None,
        bodies: dict[Request, dict[str, Any]] | None = None,
    ) -> None:
        self.lists = lists
        self.failures = failures or {}
        self.bodies = bodies or {}
        self.requests_sent = 0
        self.throttled = 0
        self.log: list[Request] = []
        self.peak_in_flight = 0
        self._gated = gated
        self._in_flight: list[Request] = []
        self._released: set[Request] = set()
        self._changed = threading.Condition()

    def get(self, path: str, params: dict[str, Any], subject: str) -> ApiAnswer:
        request = (path, params["page"])
        with self._changed:
            self.requests_sent += 1
            self.log.append(request)
            self._in_flight.append(request)
            self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            self._changed.notify_all()
            released = self._changed.wait_for(
                lambda: not self._gated or request in self._released, timeout=WAIT_SECONDS
            )
            self._in_flight.remove(request)
            self._changed.notify_all()
        if not released:
            NEVER_RELEASED.append(request)
            raise AssertionError(f"the test never released {request}")
        if request in self.failures:
            raise self.failures[request]
        body = self.bodies.get(request) or self._page(path, params["page"], params["size"])
        return ApiAnswer(body, FIRST_ANSWER_AT + timedelta(seconds=params["page"]))

    def _page(self, path: str, page: int, size: int) -> dict[str, Any]:
        listed = self.lists[path]
        item_count = len(listed.rows)
        page_count = listed.page_count
        if page_count is None:
            page_count = -(-item_count // size)
        data = {
            listed.items_path: listed.rows[page * size : (page + 1) * size],
            "pageIndex": page,
            "pageCount": page_count,
            "itemCount": item_count,
            "pageSize": size,
        }
        return {"status": "SUCCESS", "data": data}

    # The test's side, when gated.

    def in_flight(self, *expected: Request) -> set[Request]:
        """Waits until exactly `expected` are in flight, and returns them; fails after a while."""
        with self._changed:
            self._changed.wait_for(
                lambda: sorted(self._in_flight) == sorted(expected), timeout=WAIT_SECONDS
            )
            assert sorted(self._in_flight) == sorted(expected), (
                f"in flight: {sorted(self._in_flight)}, expected {sorted(expected)}"
            )
            return set(self._in_flight)

    def release(self, *requests: Request) -> None:
        with self._changed:
            self._released.update(requests)
            self._changed.notify_all()

    def release_all(self) -> None:
        with self._changed:
            self._gated = False
            self._changed.notify_all()

    def pages_requested(self, path: str) -> list[int]:
        return [page for requested, page in self.log if requested == path]
