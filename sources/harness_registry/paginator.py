"""Paging through Harness list endpoints by `pageIndex` and `pageCount`."""

from typing import Any

from dlt.sources.helpers.rest_client.paginators import BasePaginator
from requests import Request, Response

from .client import json_body
from .errors import PagingError


class PageIndexPaginator(BasePaginator):
    """Pages a Harness list endpoint with 0-based `page` and `size`, driven by the response's
    `pageIndex` and `pageCount`.

    The next page is `pageIndex + 1`. Paging stops at `pageCount`, and also at the first page shorter
    than `size` or empty: for every package type but Docker and Helm, `itemCount` counts versions
    while the list returns one row per artifact, so `pageCount` overstates the number of pages. Both
    `page` and `size` are always sent, because the server ignores `page` when `size` is absent.
    See docs/harness-api.md#paging-traps.

    dlt's `RESTClient` drives it through `init_request`, `update_state` and `update_request`; the
    concurrent reader (`scan.PageScheduler`) asks for pages with `page_params` and hands each body to
    `read_page`, which `update_state` calls too: both follow the same stop rules and checks.

    Example:
        client = RESTClient(base_url="https://app.harness.io", auth=ApiKeyAuth(key))
        for page in client.paginate(
            "/har/api/v1/registry/acct/reg/+/artifacts",
            paginator=PageIndexPaginator(page_size=100),
            data_selector="data.artifacts",
        ):
            print(len(page))

    Attributes:
        page_index: the page to request next.
        page_count: `pageCount` of the last response (an upper bound), None before the first.
        item_counts: `itemCount` of every page read; a change between pages of one scan means the
            scan raced an insert or delete.
    """

    def __init__(self, page_size: int, items_path: str = "artifacts") -> None:
        super().__init__()
        if not isinstance(page_size, int) or page_size < 1:
            raise ValueError(f"page_size must be a positive integer, got {page_size!r}")
        self.page_size = page_size
        self.items_path = items_path
        self.page_index = 0
        self.page_count: int | None = None
        self.item_counts: list[int] = []

    def init_request(self, request: Request) -> None:
        self.reset()
        request.params.update(self.page_params(self.page_index))

    def reset(self) -> None:
        """Forgets every page read: the next page is page 0 again."""
        self.page_index = 0
        self.page_count = None
        self.item_counts = []
        self._has_next_page = True

    def page_params(self, page_index: int) -> dict[str, int]:
        """The query parameters that ask for page `page_index`."""
        return {"page": page_index, "size": self.page_size}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        # `data` is what the client's data selector picked; the rows are counted from the body, so
        # that dlt's client and the concurrent reader judge a page by the same rows.
        self.read_page(json_body(response))

    def read_page(self, body: Any) -> list[Any]:
        """Checks the body of page `self.page_index`, advances past it and returns its rows.

        Pages must be read in order; the concurrent reader fetches ahead but reads in order.

        Example:
            rows = paginator.read_page({"data": {"artifacts": [...], "pageIndex": 0, "pageCount": 3}})
            paginator.has_next_page  # False once the page was short, empty or the last one

        Raises:
            PagingError: the body has no `data` object, its rows are not a list, or its paging
                fields are missing, not integers or do not advance.
        """
        paging = body.get("data") if isinstance(body, dict) else None
        if not isinstance(paging, dict):
            raise PagingError(f"the response has no 'data' object: {_excerpt(body)}")
        rows = paging.get(self.items_path)
        if rows is None:
            rows = []  # Harness sends null for an empty list
        if not isinstance(rows, list):
            raise PagingError(f"'data.{self.items_path}' is not a list: {_excerpt(rows)}")
        self._advance(paging, len(rows))
        return rows

    def _advance(self, paging: dict[str, Any], row_count: int) -> None:
        page_index = _int_field(paging, "pageIndex")
        page_count = _int_field(paging, "pageCount")
        if page_index != self.page_index:
            raise PagingError(
                f"asked for page {self.page_index} but the response says pageIndex {page_index}: "
                "the server is not advancing through pages"
            )
        self.page_count = page_count
        item_count = paging.get("itemCount")
        if isinstance(item_count, int):
            self.item_counts.append(item_count)
        # A server that caps the page size says so in `pageSize`; a page is full at that size.
        served_size = paging.get("pageSize")
        if not isinstance(served_size, int) or isinstance(served_size, bool) or served_size < 1:
            served_size = self.page_size
        is_full = row_count >= min(served_size, self.page_size)
        self.page_index = page_index + 1
        self._has_next_page = is_full and self.page_index < page_count

    def update_request(self, request: Request) -> None:
        request.params.update(self.page_params(self.page_index))

    @property
    def raced(self) -> bool:
        """True when `itemCount` changed between pages: rows may have been skipped or repeated."""
        return len(set(self.item_counts)) > 1


def _int_field(paging: dict[str, Any], name: str) -> int:
    value = paging.get(name)
    # bool is an int in Python; JSON true is not a page number
    if not isinstance(value, int) or isinstance(value, bool):
        raise PagingError(
            f"the response's data.{name} is {_excerpt(value)}, not an integer: cannot page safely"
        )
    return value


def _excerpt(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
