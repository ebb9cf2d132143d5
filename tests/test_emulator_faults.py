"""Injected misbehaviour over real HTTP: every fault kind, latency, the rate limit, and the
request log that tests assert on."""

from __future__ import annotations

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from emulator_client import (
    DOCKER,
    PYPI,
    artifacts_url,
    assert_json_error,
    get,
)
from harness_emulator import DEFAULT_API_KEY, EmulatorError, EmulatorProcess

# -- faults -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_status_fault_sends_an_html_page(emulator: EmulatorProcess, status: int) -> None:
    emulator.add_faults([{"kind": "status", "status": status}])
    response = get(artifacts_url(emulator, PYPI))
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<title>{status} " in response.text
    assert get(artifacts_url(emulator, PYPI)).status_code == 200  # times defaults to 1


def test_status_fault_with_body_times_skip_page_and_match(emulator: EmulatorProcess) -> None:
    emulator.add_faults(
        [
            {
                "kind": "status",
                "status": 429,
                "body": {"message": "slow down"},
                "times": 2,
                "skip": 1,
                "match": "/data/pypi/",
                "page": 1,
            },
        ]
    )
    url = artifacts_url(emulator, PYPI)
    statuses = [get(url, {"page": 1, "size": 5}).status_code for _ in range(4)]
    assert statuses == [200, 429, 429, 200]
    emulator.clear_faults()
    emulator.add_faults([{"kind": "status", "status": 429, "match": "/data/pypi/", "page": 1}])
    assert get(url, {"page": 0, "size": 5}).status_code == 200
    assert get(artifacts_url(emulator, DOCKER), {"page": 1, "size": 5}).status_code == 200
    throttled = get(url, {"page": 1, "size": 5})
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers
    emulator.add_faults([{"kind": "status", "status": 503, "body": "down", "content_type": "x/y"}])
    custom = get(url)
    assert (custom.status_code, custom.text, custom.headers["Content-Type"]) == (503, "down", "x/y")


def test_reset_fault_closes_the_connection_without_an_answer(emulator: EmulatorProcess) -> None:
    emulator.reset_log()
    emulator.add_faults([{"kind": "reset"}])
    with pytest.raises(requests.exceptions.ConnectionError):
        get(artifacts_url(emulator, PYPI))
    assert get(artifacts_url(emulator, PYPI)).status_code == 200
    assert [entry["status"] for entry in emulator.requests_log()] == [0, 200]


def test_timeout_fault_delays_the_answer(emulator: EmulatorProcess) -> None:
    emulator.add_faults([{"kind": "timeout", "seconds": 2}, {"kind": "timeout", "seconds": 0.5}])
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            artifacts_url(emulator, PYPI), headers={"x-api-key": DEFAULT_API_KEY}, timeout=0.5
        )
    started = time.monotonic()
    response = get(artifacts_url(emulator, PYPI))
    assert response.status_code == 200 and len(response.json()["data"]["artifacts"]) == 10
    assert time.monotonic() - started >= 0.5


def test_truncate_fault_promises_more_than_it_sends(emulator: EmulatorProcess) -> None:
    emulator.add_faults([{"kind": "truncate"}, {"kind": "truncate"}])
    with pytest.raises(
        (requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)
    ):
        get(artifacts_url(emulator, PYPI))
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.request(
        "GET", f"/har/api/v1/registry/{PYPI}/+/artifacts", headers={"x-api-key": DEFAULT_API_KEY}
    )
    response = connection.getresponse()
    assert response.status == 200
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    connection.close()


def test_not_json_and_bad_json_faults(emulator: EmulatorProcess) -> None:
    emulator.add_faults([{"kind": "not_json"}, {"kind": "bad_json"}])
    html = get(artifacts_url(emulator, PYPI))
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        html.json()
    cut = get(artifacts_url(emulator, PYPI))
    assert cut.status_code == 200
    assert cut.headers["Content-Type"] == "application/json"
    assert int(cut.headers["Content-Length"]) == len(cut.content)
    assert cut.text.startswith('{"data":{"artifacts":[')
    with pytest.raises(ValueError):
        json.loads(cut.text)


def test_failure_status_forbidden_and_unauthorized_faults(emulator: EmulatorProcess) -> None:
    emulator.add_faults(
        [
            {"kind": "failure_status"},
            {"kind": "failure_status", "data": {}},
            {"kind": "forbidden"},
            {"kind": "unauthorized"},
        ]
    )
    url = artifacts_url(emulator, PYPI)
    first, second = get(url), get(url)
    assert (first.status_code, first.json()) == (200, {"data": None, "status": "FAILURE"})
    assert (second.status_code, second.json()) == (200, {"data": {}, "status": "FAILURE"})
    assert_json_error(get(url), 403, "forbidden")
    unauthorized = get(url)
    assert (unauthorized.status_code, unauthorized.json()) == (401, {"message": "Unauthorized"})
    assert get(url).status_code == 200


def test_bad_fault_rules_are_refused_and_add_nothing(emulator: EmulatorProcess) -> None:
    for rule in (
        {"kind": "explode"},
        {"kind": "status"},
        {"kind": "reset", "times": 0},
        {"kind": "reset", "colour": "red"},
    ):
        with pytest.raises(EmulatorError, match="400"):
            emulator.add_faults([{"kind": "reset"}, rule])
    assert emulator.faults() == []


# -- latency, rate limit, request log ---------------------------------------------------------


def test_latency_applies_per_request_and_concurrent_requests_overlap(
    emulator: EmulatorProcess,
) -> None:
    emulator.set_config(latency_ms=400)
    url = artifacts_url(emulator, DOCKER)
    started = time.monotonic()
    assert get(url).status_code == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: get(url).status_code, range(6)))
    elapsed = time.monotonic() - started
    assert statuses == [200] * 6
    assert 0.4 <= elapsed < 6 * 0.4 / 2
    assert emulator.set_config(latency_ms=0) == {
        "latency_ms": 0.0,
        "rate_limit_per_minute": None,
        "tie_order": "random",
    }


def test_rate_limit_answers_429_without_retry_after(emulator: EmulatorProcess) -> None:
    emulator.set_config(rate_limit_per_minute=60)  # one token a second, one token of burst
    url = artifacts_url(emulator, DOCKER)
    statuses = []
    for _ in range(5):
        response = get(url)
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert "Retry-After" not in response.headers
    assert statuses[0] == 200 and statuses.count(429) >= 3
    time.sleep(1.1)
    assert get(url).status_code == 200
    stats = emulator.stats()
    assert stats["throttled"] == statuses.count(429)
    assert stats["by_status"]["429"] == statuses.count(429)
    emulator.set_config(rate_limit_per_minute=None)
    assert all(get(url).status_code == 200 for _ in range(5))


def test_rate_limit_latency_and_tie_order_flags() -> None:
    with EmulatorProcess(
        rate_limit_per_minute=120, latency_ms=5, tie_order="adversarial"
    ) as emulator:
        assert emulator.config() == {
            "latency_ms": 5.0,
            "rate_limit_per_minute": 120,
            "tie_order": "adversarial",
        }
        statuses = [get(artifacts_url(emulator, DOCKER)).status_code for _ in range(6)]
        assert 429 in statuses


def test_request_log_and_stats(emulator: EmulatorProcess) -> None:
    emulator.reset_log()
    assert emulator.stats() == {"requests": 0, "by_status": {}, "throttled": 0}
    get(artifacts_url(emulator, PYPI), {"page": 0, "size": 5, "label": ["a", "b"]})
    get(artifacts_url(emulator, PYPI), key=None)
    get(emulator.base_url + "/nowhere")
    emulator.dataset()  # control calls are not logged
    log = emulator.requests_log()
    assert log == [
        {
            "path": f"/har/api/v1/registry/{PYPI}/+/artifacts",
            "query": {"page": ["0"], "size": ["5"], "label": ["a", "b"]},
            "status": 200,
            "has_api_key": True,
        },
        {
            "path": f"/har/api/v1/registry/{PYPI}/+/artifacts",
            "query": {},
            "status": 401,
            "has_api_key": False,
        },
        {"path": "/nowhere", "query": {}, "status": 404, "has_api_key": True},
    ]
    assert DEFAULT_API_KEY not in json.dumps(log)
    assert emulator.stats() == {
        "requests": 3,
        "by_status": {"200": 1, "401": 1, "404": 1},
        "throttled": 0,
    }
    emulator.reset_log()
    assert emulator.requests_log() == []
