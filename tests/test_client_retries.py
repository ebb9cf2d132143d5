"""The client's retry policy, unit-fast: a scripted transport stands in for the server and the sleep
between attempts is recorded, not slept. What the server really does is covered over HTTP by
test_reliability.py; these pin the rules themselves."""

import io
import json
import re
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter

from harness_registry import RegistryError
from harness_registry.client import (
    CountingRateLimitedAdapter,
    HarnessClient,
    RetryingHttp,
    RetrySettings,
)
from harness_registry.ratelimit import RateLimiter

BASE_URL = "http://harness.test"
PATH = "/har/api/v1/registry/acme/docker/+/artifacts"
NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
GOOD_BODY = {"status": "SUCCESS", "data": {"artifacts": [], "pageIndex": 0}}

Answer = dict[str, Any] | BaseException


def answer(status: int = 200, body: Any = GOOD_BODY, **headers: str) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"status": status, "text": text, "headers": headers}


class ScriptedTransport(HTTPAdapter):
    """Answers each request with the next scripted answer (or raises it) and records what it got."""

    def __init__(self, answers: Iterable[Answer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.answers = list(answers)
        self.sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((request, kwargs))
        scripted = self.answers.pop(0)
        if isinstance(scripted, BaseException):
            raise scripted
        response = requests.Response()
        response.status_code = scripted["status"]
        response.raw = io.BytesIO(scripted["text"].encode())
        response.headers.update(scripted["headers"])
        response.url = request.url or ""
        response.request = request
        return response


class CountingScriptedTransport(CountingRateLimitedAdapter, ScriptedTransport):
    """The real counting adapter over a scripted transport: its `super().send` reaches the script."""

    def __init__(self, answers: Iterable[Answer]) -> None:
        super().__init__(RateLimiter(None), answers=answers)


class Fixture:
    def __init__(self, answers: Iterable[Answer], max_attempts: int = 3) -> None:
        self.transport = CountingScriptedTransport(answers)
        self.waits: list[float] = []
        self.settings = RetrySettings(
            max_attempts=max_attempts, backoff_factor=0.5, max_delay=8.0, timeout=7.5
        )
        self.http = RetryingHttp(
            self.transport, self.settings, sleep=self.waits.append, now=lambda: NOW
        )
        self.client = HarnessClient(BASE_URL, "secret-key", http=self.http)

    def get(self) -> Any:
        return self.client.get(PATH, {"page": 0}, "registry acme/docker")


def retried_then_served(first: Answer) -> Fixture:
    fixture = Fixture([first, first, answer()])
    assert fixture.get().body == GOOD_BODY
    assert fixture.client.requests_sent == 3
    assert len(fixture.waits) == 2
    return fixture


@pytest.mark.parametrize("status", [429, 500, 501, 502, 503, 504, 599])
def test_throttling_and_server_faults_are_retried(status):
    retried_then_served(answer(status, "<html>busy</html>"))


@pytest.mark.parametrize(
    "body",
    [
        '{"status": "SUCCESS", "data": {"artifa',
        "<html>maintenance</html>",
        {"status": "FAILURE", "data": {}},
        {"status": "ERROR"},
        {"status": "SUCCESS"},
        ["not", "an", "object"],
    ],
    ids=["cut-off", "html", "failure", "error", "no-data", "array"],
)
def test_a_200_with_an_unusable_body_is_retried(body):
    retried_then_served(answer(200, body))


@pytest.mark.parametrize(
    "error",
    [
        requests.exceptions.ConnectionError("Connection reset by peer"),
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ConnectTimeout("connect timed out"),
        requests.exceptions.ChunkedEncodingError("IncompleteRead"),
    ],
    ids=type,
)
def test_transient_connection_errors_are_retried(error):
    retried_then_served(error)


def test_a_tls_failure_is_not_retried():
    fixture = Fixture([requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED")])
    with pytest.raises(Exception, match=r"TLS certificate of harness\.test is not trusted"):
        fixture.get()
    assert fixture.client.requests_sent == 1
    assert fixture.waits == []


def test_a_soft_deleted_registry_is_not_retried():
    fixture = Fixture([answer(500, {"message": "Failed to find repo acme/docker"})])
    with pytest.raises(RegistryError) as error:
        fixture.get()
    assert str(error.value.reason) == (
        "the registry is deleted or unavailable (500: Failed to find repo acme/docker)"
    )
    assert fixture.client.requests_sent == 1
    assert fixture.waits == []


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "the server rejected the request (400: bad sort field)"),
        (403, "access forbidden (403): the key's user or service account lacks permission"),
        (422, "the server rejected the request (422: bad sort field)"),
    ],
)
def test_client_errors_are_not_retried(status, reason):
    fixture = Fixture([answer(status, {"message": "bad sort field"})])
    with pytest.raises(RegistryError) as error:
        fixture.get()
    assert error.value.reason == reason
    assert fixture.client.requests_sent == 1


def test_a_redirect_is_not_followed():
    fixture = Fixture([answer(302, "", Location="https://elsewhere.test/login?next=x")])
    with pytest.raises(
        Exception, match=re.escape("redirects (302) to https://elsewhere.test/login")
    ):
        fixture.get()
    assert fixture.client.requests_sent == 1


def test_after_the_last_attempt_the_last_answer_becomes_the_error():
    fixture = Fixture([answer(503, "<html>down</html>")] * 3)
    with pytest.raises(RegistryError) as error:
        fixture.get()
    assert error.value.reason == (
        "gave up after 3 attempts, last answer 503 (HTTP 503 with an HTML body); "
        "retry later or lower requests_per_minute"
    )
    assert fixture.client.requests_sent == 3
    assert fixture.client.throttled == 0
    assert len(fixture.waits) == 2


def test_a_200_that_stays_unusable_is_an_error_naming_the_attempts():
    fixture = Fixture([answer(200, {"status": "FAILURE"})] * 2, max_attempts=2)
    with pytest.raises(RegistryError) as error:
        fixture.get()
    assert error.value.reason == (
        'the server answered 200 with "status": "FAILURE" instead of "SUCCESS" 2 times; retry later'
    )


def test_a_timeout_on_every_attempt_is_an_error_naming_the_attempts():
    fixture = Fixture([requests.exceptions.ReadTimeout("read timed out")] * 3)
    with pytest.raises(RegistryError) as error:
        fixture.get()
    assert error.value.reason == (
        "no answer within the timeout after 3 attempts (ReadTimeout); "
        "raise RUNTIME__REQUEST_TIMEOUT or retry later"
    )
    assert fixture.client.requests_sent == 3


def test_attempts_and_throttled_answers_are_counted_retries_included():
    fixture = Fixture([answer(429, ""), answer(502, ""), answer(), answer(429, ""), answer()])
    fixture.get()
    fixture.get()
    assert fixture.client.requests_sent == 5
    assert fixture.client.throttled == 2


def test_every_attempt_carries_the_timeout_the_key_and_no_redirects():
    fixture = Fixture([answer(503, ""), answer()])
    fixture.get()
    assert [kwargs["timeout"] for _, kwargs in fixture.transport.sent] == [7.5, 7.5]
    for request, _ in fixture.transport.sent:
        assert request.headers["x-api-key"] == "secret-key"
        assert request.url == BASE_URL + PATH + "?page=0"
    assert "x-api-key" not in fixture.http.session.headers


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("3", 3.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("120", 8.0),  # capped by the maximum retry delay
        ("Sat, 01 Mar 2025 12:00:05 GMT", 5.0),
        ("Sat, 01 Mar 2025 13:00:00 GMT", 8.0),
        ("Sat, 01 Mar 2025 11:59:00 GMT", 0.0),  # already past
    ],
)
def test_retry_after_sets_the_wait_capped_by_the_maximum_delay(retry_after, wait):
    fixture = Fixture([answer(429, "", **{"Retry-After": retry_after}), answer()])
    fixture.get()
    assert fixture.waits == [wait]


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "soon"}], ids=["none", "unreadable"])
def test_without_a_usable_retry_after_the_wait_is_jittered_exponential_backoff(headers):
    fixture = Fixture([answer(503, "", **headers)] * 5 + [answer()], max_attempts=6)
    fixture.get()
    # full jitter: after attempt n the wait is random in [0, min(0.5 * 2 ** (n - 1), 8)]
    bounds = [0.5, 1.0, 2.0, 4.0, 8.0]
    assert len(fixture.waits) == 5
    assert all(0 <= wait <= bound for wait, bound in zip(fixture.waits, bounds, strict=True))


def test_settings_come_from_dlt_runtime_configuration(monkeypatch):
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.25")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_RETRY_DELAY", "11")
    monkeypatch.setenv("RUNTIME__REQUEST_TIMEOUT", "13")
    assert RetrySettings.from_runtime_config() == RetrySettings(7, 0.25, 11.0, 13.0)
    http = RetryingHttp(CountingRateLimitedAdapter(RateLimiter(None)))
    assert http.settings == RetrySettings(7, 0.25, 11.0, 13.0)


def test_each_thread_has_its_own_session_over_the_shared_adapter():
    fixture = Fixture([])
    http = fixture.http
    sessions = []
    thread = threading.Thread(target=lambda: sessions.append(http.session))
    thread.start()
    thread.join()
    assert sessions[0] is not http.session
    assert sessions[0].get_adapter(BASE_URL) is http.session.get_adapter(BASE_URL) is http.adapter


@pytest.mark.parametrize(
    ("environment", "proxies", "verify"),
    [
        ({}, {}, True),
        ({"HTTP_PROXY": "http://proxy.test:3128"}, {"http": "http://proxy.test:3128"}, True),
        ({"ALL_PROXY": "http://proxy.test:3128"}, {"all": "http://proxy.test:3128"}, True),
        ({"HTTP_PROXY": "http://proxy.test:3128", "NO_PROXY": "harness.test"}, {}, True),
        ({"REQUESTS_CA_BUNDLE": "/etc/ssl/corp.pem"}, {}, "/etc/ssl/corp.pem"),
        ({"CURL_CA_BUNDLE": "/etc/ssl/curl.pem"}, {}, "/etc/ssl/curl.pem"),
    ],
    ids=["none", "proxy", "all-proxy", "no-proxy", "requests-ca-bundle", "curl-ca-bundle"],
)
def test_every_attempt_honours_the_proxy_and_ca_bundle_of_the_environment(
    monkeypatch, environment, proxies, verify
):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        for key in (name, name.lower()):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    fixture = Fixture([answer(503, ""), answer()])
    fixture.get()
    sent = fixture.transport.sent
    assert [kwargs["proxies"] for _, kwargs in sent] == [proxies, proxies]
    assert [kwargs["verify"] for _, kwargs in sent] == [verify, verify]
