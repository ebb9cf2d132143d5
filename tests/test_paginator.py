"""The paginator's stop rules and its refusals, on responses built in memory (no network involved)."""

import json

import pytest
from requests import Request, Response

from harness_registry import PageIndexPaginator, PagingError


def response(**data):
    body = {"status": "SUCCESS", "data": data}
    r = Response()
    r.status_code = 200
    r._content = json.dumps(body).encode()
    return r


def page(page_index, page_count, rows, item_count=100, page_size=10):
    return response(
        artifacts=[{"name": f"a{i}"} for i in range(rows)],
        pageIndex=page_index,
        pageCount=page_count,
        itemCount=item_count,
        pageSize=page_size,
    )


def test_init_request_sends_page_zero_and_size_and_resets_state():
    paginator = PageIndexPaginator(page_size=10)
    paginator.update_state(page(0, 3, 10))
    request = Request("GET", "http://127.0.0.1/x", params={})
    paginator.init_request(request)
    assert request.params == {"page": 0, "size": 10}
    assert paginator.page_index == 0 and paginator.page_count is None and paginator.has_next_page


def test_next_page_is_page_index_plus_one():
    paginator = PageIndexPaginator(page_size=10)
    request = Request("GET", "http://127.0.0.1/x", params={})
    paginator.init_request(request)
    paginator.update_state(page(0, 3, 10))
    paginator.update_request(request)
    assert request.params == {"page": 1, "size": 10}
    assert paginator.has_next_page


def test_stops_at_page_count_even_when_the_page_is_full():
    paginator = PageIndexPaginator(page_size=10)
    paginator.update_state(page(0, 1, 10))
    assert not paginator.has_next_page


@pytest.mark.parametrize("rows", [0, 3, 9])
def test_stops_at_a_short_or_empty_page_although_page_count_says_more(rows):
    paginator = PageIndexPaginator(page_size=10)
    paginator.update_state(page(0, 8, rows))
    assert not paginator.has_next_page


def test_a_server_capped_page_size_is_not_mistaken_for_a_short_page():
    paginator = PageIndexPaginator(page_size=500)
    paginator.update_state(page(0, 8, 100, page_size=100))
    assert paginator.has_next_page


def test_refuses_a_page_index_that_does_not_advance():
    paginator = PageIndexPaginator(page_size=10)
    paginator.update_state(page(0, 5, 10))
    with pytest.raises(PagingError, match="asked for page 1 but the response says pageIndex 0"):
        paginator.update_state(page(0, 5, 10))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"pageCount": 3}, r"data.pageIndex is None, not an integer"),
        ({"pageIndex": 0}, r"data.pageCount is None, not an integer"),
        ({"pageIndex": "0", "pageCount": 3}, r"data.pageIndex is '0', not an integer"),
        ({"pageIndex": 0, "pageCount": 2.5}, r"data.pageCount is 2.5, not an integer"),
        ({"pageIndex": True, "pageCount": 3}, r"data.pageIndex is True, not an integer"),
    ],
)
def test_refuses_missing_or_non_integer_paging_fields(fields, message):
    paginator = PageIndexPaginator(page_size=10)
    with pytest.raises(PagingError, match=message):
        paginator.update_state(response(artifacts=[], **fields))


def test_item_count_change_between_pages_marks_a_race():
    paginator = PageIndexPaginator(page_size=10)
    paginator.update_state(page(0, 5, 10, item_count=50))
    assert not paginator.raced
    paginator.update_state(page(1, 5, 10, item_count=49))
    assert paginator.raced


@pytest.mark.parametrize("size", [0, -1, 2.0, "10"])
def test_page_size_must_be_a_positive_integer(size):
    with pytest.raises(ValueError, match="page_size must be a positive integer"):
        PageIndexPaginator(page_size=size)
