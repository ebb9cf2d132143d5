"""One paging logic for dlt's `RESTClient` and the concurrent reader: `read_page` on bodies built in
memory (no network), and `update_state` agreeing with it."""

import json

import pytest
from requests import Response

from harness_registry import PageIndexPaginator, PagingError


def body(page_index, page_count, rows, items_path="artifacts", **extra):
    data = {items_path: rows, "pageIndex": page_index, "pageCount": page_count, **extra}
    return {"status": "SUCCESS", "data": data}


def response(payload):
    r = Response()
    r.status_code = 200
    r._content = json.dumps(payload).encode()
    return r


def names(count, start=0):
    return [{"name": f"a{i}"} for i in range(start, start + count)]


def test_read_page_returns_the_rows_and_advances():
    paginator = PageIndexPaginator(page_size=2)
    assert paginator.read_page(body(0, 3, names(2), itemCount=5)) == names(2)
    assert (paginator.page_index, paginator.page_count, paginator.has_next_page) == (1, 3, True)
    assert paginator.read_page(body(1, 3, names(2, 2), itemCount=5)) == names(2, 2)
    assert paginator.read_page(body(2, 3, names(1, 4), itemCount=5)) == names(1, 4)
    assert not paginator.has_next_page and paginator.item_counts == [5, 5, 5]
    assert not paginator.raced


def test_read_page_takes_the_rows_of_its_items_path():
    paginator = PageIndexPaginator(page_size=10, items_path="registries")
    rows = [{"path": "acme/docker"}]
    assert paginator.read_page(body(0, 1, rows, items_path="registries")) == rows


def test_a_null_list_is_an_empty_page_that_ends_the_list():
    paginator = PageIndexPaginator(page_size=10)
    assert paginator.read_page(body(0, 4, None)) == []
    assert not paginator.has_next_page


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"status": "SUCCESS"}, r"the response has no 'data' object: \{'status': 'SUCCESS'\}"),
        ([], r"the response has no 'data' object: \[\]"),
        (body(0, 1, {"name": "a"}), r"'data.artifacts' is not a list: \{'name': 'a'\}"),
        (body(1, 3, []), r"asked for page 0 but the response says pageIndex 1"),
    ],
)
def test_read_page_refuses_a_body_that_breaks_the_paging_contract(payload, message):
    paginator = PageIndexPaginator(page_size=10)
    with pytest.raises(PagingError, match=message):
        paginator.read_page(payload)


def test_update_state_and_read_page_leave_the_same_state():
    pages = [
        body(0, 9, names(3), itemCount=7, pageSize=3),
        body(1, 9, names(3, 3), itemCount=8, pageSize=3),
        body(2, 9, names(1, 6), itemCount=8, pageSize=3),
    ]
    through_dlt = PageIndexPaginator(page_size=5)
    through_reader = PageIndexPaginator(page_size=5)
    for page in pages:
        through_dlt.update_state(response(page))
        through_reader.read_page(page)
        assert vars(through_dlt) == vars(through_reader)
    assert not through_reader.has_next_page and through_reader.raced


def test_reset_starts_again_at_page_zero():
    paginator = PageIndexPaginator(page_size=2)
    paginator.read_page(body(0, 3, names(2), itemCount=6))
    paginator.reset()
    assert (paginator.page_index, paginator.page_count, paginator.item_counts) == (0, None, [])
    assert paginator.has_next_page
    assert paginator.page_params(paginator.page_index) == {"page": 0, "size": 2}
