"""The HTTP client: API-key auth, the shared rate limit, retries with jittered backoff, and errors.

Plain `requests` and `tenacity`, owned here outright:

- `RetrySettings` comes from dlt's runtime configuration (`RUNTIME__REQUEST_MAX_ATTEMPTS`,
  `RUNTIME__REQUEST_BACKOFF_FACTOR`, `RUNTIME__REQUEST_MAX_RETRY_DELAY`, `RUNTIME__REQUEST_TIMEOUT`),
  resolved through dlt's public `resolve_configuration`;
- `RetryingHttp` keeps one `requests.Session` per thread (sessions are not thread-safe), all sharing
  one `CountingRateLimitedAdapter`, so every attempt, retries included, passes the shared
  `RateLimiter` and is counted; every request carries the timeout and follows no redirect;
- an attempt is retried on 429, on 500 unless it is a soft-deleted registry, on 501-599, on a
  transient connection error (not a TLS failure), and on a 200 whose body is cut off, is not JSON or
  says `"status": "FAILURE"`/`"ERROR"`: parsed as an empty page it would silently end a registry early;
- the wait before a retry is the answer's `Retry-After` (seconds or an HTTP date) when it has one,
  capped by the maximum retry delay, else exponential backoff with full jitter (Harness's 429 carries
  no `Retry-After`, and clients throttled together should not retry together);
- after the last attempt its answer is returned and `HarnessClient` turns it into one-line
  `HarnessRegistryError`s that name the cause and never the key.
See docs/harness-api.md#errors and docs/harness-api.md#rate-limits for what the server sends.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import AuthError, EndpointError, RegistryError
from .ratelimit import RateLimiter
from .settings import DELETED_REGISTRY_MESSAGE

logger = logging.getLogger(__name__)

# 500 is retried only when it is not a soft-deleted registry (see `should_retry`).
RETRY_STATUSES = frozenset((429, *range(501, 600)))
# Errors of a connection that may work on the next try; an `SSLError` (a `ConnectionError` too) is
# excluded in `is_transient`: a certificate that failed verification stays failed.
TRANSIENT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
_BODY_CACHE = "_harness_json_body"


@dataclass(frozen=True)
class RetrySettings:
    """How often and how patiently a request is tried.

    Args:
        max_attempts: attempts in all, the first included.
        backoff_factor: multiplier of the exponential backoff, in seconds.
        max_delay: longest wait between two attempts, in seconds (also caps `Retry-After`).
        timeout: seconds to wait for a connection and for each read.

    Example:
        settings = RetrySettings.from_runtime_config()  # honours RUNTIME__REQUEST_* settings
    """

    max_attempts: int = 5
    backoff_factor: float = 1.0
    max_delay: float = 300.0
    timeout: float = 60.0

    @classmethod
    def from_runtime_config(cls) -> "RetrySettings":
        """The settings of dlt's `[runtime]` section (config files or `RUNTIME__REQUEST_*` env)."""
        config = resolve_configuration(RuntimeConfiguration())
        return cls(
            max_attempts=int(config.request_max_attempts),
            backoff_factor=float(config.request_backoff_factor),
            max_delay=float(config.request_max_retry_delay),
            timeout=float(config.request_timeout),
        )


class ApiKeyAuth(AuthBase):
    """Sets `x-api-key` on each prepared request.

    The key lives only here, never in a session's or a request's own headers, so nothing that logs
    those sees it. `repr` masks it.
    """

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["x-api-key"] = self._api_key
        return request

    def __repr__(self) -> str:
        return "ApiKeyAuth(x-api-key=***)"


class CountingRateLimitedAdapter(HTTPAdapter):
    """Transport adapter that makes every attempt wait for the rate limiter, and counts attempts."""

    def __init__(self, limiter: RateLimiter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.limiter = limiter
        self.attempts = 0
        self.throttled = 0
        self._count_lock = threading.Lock()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.limiter.acquire()
        with self._count_lock:
            self.attempts += 1
        response = super().send(request, **kwargs)
        if response.status_code == 429:
            with self._count_lock:
                self.throttled += 1
        return response


def json_body(response: requests.Response) -> Any:
    """The response's JSON, parsed once and kept on the response (the retry check parses it first)."""
    if _BODY_CACHE not in response.__dict__:
        response.__dict__[_BODY_CACHE] = json.loads(response.content)
    return response.__dict__[_BODY_CACHE]


def bad_success_body(response: requests.Response) -> str | None:
    """Why a 200 answer cannot be used, or None when it can."""
    try:
        body = json_body(response)
    except (ValueError, UnicodeDecodeError):
        return "a body that is not valid JSON (cut off or not JSON)"
    if not isinstance(body, dict):
        return "a JSON body that is not an object"
    status = body.get("status")
    if status != "SUCCESS":
        return f'"status": {json.dumps(status)} instead of "SUCCESS"'
    if not isinstance(body.get("data"), dict):
        return 'no "data" object'
    return None


def is_transient(exception: BaseException) -> bool:
    """A connection error worth another attempt."""
    return isinstance(exception, TRANSIENT_ERRORS) and not isinstance(
        exception, requests.exceptions.SSLError
    )


def should_retry(response: requests.Response) -> bool:
    """An answer worth another attempt: throttled, a passing server fault, or an unusable 200."""
    status = response.status_code
    if status in RETRY_STATUSES:
        return True
    if status == 200:
        return bad_success_body(response) is not None
    if status == 500:
        return DELETED_REGISTRY_MESSAGE not in response.text
    return False


def retry_after_seconds(response: requests.Response, now: datetime) -> float | None:
    """The wait a `Retry-After` header asks for (delay seconds or an HTTP date), None without one.

    Example:
        retry_after_seconds(response_with("Retry-After: 7"), now)  # 7.0
    """
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; `-0000` parses as naive
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class RetryAfterOrJitteredBackoff:
    """A tenacity wait: the answer's `Retry-After`, capped by `max_delay`, else full-jitter backoff.

    Args:
        backoff_factor: multiplier of the exponential backoff, in seconds.
        max_delay: longest wait, in seconds.
        now: the current time (tests inject a fixed one).
    """

    def __init__(
        self,
        backoff_factor: float,
        max_delay: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        # Full jitter: clients throttled together do not retry together.
        self._backoff = wait_random_exponential(multiplier=backoff_factor, max=max_delay)
        self._max_delay = max_delay
        self._now = now

    def __call__(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after_seconds(outcome.result(), self._now())
            if asked is not None:
                return min(asked, self._max_delay)
        return float(self._backoff(state))


class RetryingHttp:
    """Sends GET requests with retries, through per-thread sessions sharing one counting adapter.

    Args:
        adapter: the transport every attempt goes through (counts attempts, applies the rate limit).
        settings: attempts, backoff and timeout; dlt's runtime configuration when not given.
        sleep: how to wait between attempts (tests inject one that records the waits).
        now: the current time, for `Retry-After` dates.

    Example:
        http = RetryingHttp(CountingRateLimitedAdapter(RateLimiter(400)))
        response = http.get("https://app.harness.io/...", {"page": 0}, ApiKeyAuth(key))
    """

    def __init__(
        self,
        adapter: CountingRateLimitedAdapter,
        settings: RetrySettings | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.adapter = adapter
        self.settings = settings or RetrySettings.from_runtime_config()
        self._sleep = sleep
        self._wait = RetryAfterOrJitteredBackoff(
            self.settings.backoff_factor, self.settings.max_delay, now
        )
        self._local = threading.local()
        self._environments: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def session(self) -> requests.Session:
        """This thread's session, made on first use."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # The environment's proxies and CA bundle are read once per server, in `environment`
            # (the only other thing trust_env does, .netrc, applies to requests without auth).
            session.trust_env = False
            session.mount("http://", self.adapter)
            session.mount("https://", self.adapter)
            self._local.session = session
        return session

    def get(self, url: str, params: dict[str, Any], auth: AuthBase) -> requests.Response:
        """GETs `url`, retrying as the module describes; returns the last answer, or raises the
        last connection error."""
        retrying = Retrying(
            wait=self._wait,
            retry=retry_if_result(should_retry) | retry_if_exception(is_transient),
            stop=stop_after_attempt(self.settings.max_attempts),
            sleep=self._sleep,
            reraise=True,
            # After the last attempt return its answer; `HarnessClient` turns it into an error.
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
            before_sleep=_log_retry,
        )
        # No redirects: requests would forward x-api-key to wherever a 3xx points.
        environment = self.environment(url)
        return retrying(
            lambda: self.session.get(
                url,
                params=params,
                auth=auth,
                allow_redirects=False,
                timeout=self.settings.timeout,
                **environment,
            )
        )

    def environment(self, url: str) -> dict[str, Any]:
        """The proxies (`HTTPS_PROXY`, `NO_PROXY`...) and CA bundle (`REQUESTS_CA_BUNDLE`,
        `CURL_CA_BUNDLE`) the environment sets for `url`'s server, as requests reads them, read
        once per server: a session that trusts the environment reads all of it again on every
        request, a quarter of the client's CPU per request (1.3 ms against 1.0 ms on a 2-core
        Xeon, 40 variables set).

        Example:
            http.environment("https://app.harness.io/har/api/v1/...")
            # {"proxies": {"https": "http://proxy:3128"}, "verify": True}
        """
        parts = urlsplit(url)
        server = (parts.scheme, parts.netloc)
        found = self._environments.get(server)
        if found is None:
            # the settings a default session would merge into each request to this server
            merged = requests.Session().merge_environment_settings(
                f"{parts.scheme}://{parts.netloc}/", {}, None, None, None
            )
            found = self._environments[server] = {
                "proxies": merged["proxies"],
                "verify": merged["verify"],
            }
        return found


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome
    if outcome is None:
        return
    what = (
        type(outcome.exception()).__name__
        if outcome.failed
        else f"HTTP {outcome.result().status_code}"
    )
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.info(f"retrying after {what} (attempt {state.attempt_number}) in {wait:.2f} s")


@dataclass(frozen=True)
class ApiAnswer:
    """A successful answer: its JSON body and the server's clock (`Date` header) when it answered."""

    body: dict[str, Any]
    served_at: datetime | None


def _served_at(response: requests.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["Date"])
    except (KeyError, TypeError, ValueError):
        return None


class HarnessClient:
    """Sends GET requests to the Harness API and returns their JSON bodies, or raises a clear error.

    Args:
        base_url: `https://app.harness.io`, `https://app.harness.io/gateway` or a self-managed host.
        api_key: personal access or service account token, sent as `x-api-key`.
        requests_per_minute: shared client-side limit, `None` for none.
        max_connections: size of the connection pool (the run's concurrency).
        http: the retrying sender to use instead of one built from the arguments above (tests pass
            one over a fake transport).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        requests_per_minute: float | None = None,
        max_connections: int = 4,
        *,
        http: RetryingHttp | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = ApiKeyAuth(api_key)
        self._http = http or RetryingHttp(
            CountingRateLimitedAdapter(
                RateLimiter(requests_per_minute), pool_maxsize=max_connections
            )
        )
        self._max_attempts = self._http.settings.max_attempts

    @property
    def requests_sent(self) -> int:
        """HTTP attempts made so far, retries included."""
        return self._http.adapter.attempts

    @property
    def throttled(self) -> int:
        """Answers of 429 received so far."""
        return self._http.adapter.throttled

    def get(self, path: str, params: dict[str, Any], subject: str) -> ApiAnswer:
        """GETs `base_url + path` and returns the body (and server time) of a successful answer.

        Args:
            path: the URL path, already quoted.
            params: query parameters.
            subject: what is being read (for example `registry acme/docker`), named in errors.

        Raises:
            AuthError: the key was refused (401).
            EndpointError: the base URL is unreachable or serves no such route (404).
            RegistryError: this registry or space could not be read (400, 403, 5xx, bad bodies).
        """
        url = self.base_url + path
        logger.debug(f"GET {url} {params}")  # the key is a header added by the auth object
        try:
            response = self._http.get(url, params, self._auth)
        except requests.exceptions.SSLError as exc:
            host = urlsplit(url).netloc
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                raise EndpointError(
                    f"TLS certificate of {host} is not trusted: if the server uses a private "
                    "certificate authority, point REQUESTS_CA_BUNDLE at its certificate bundle"
                ) from None
            raise EndpointError(
                f"TLS handshake with {host} failed: check that base_url is the server's https address"
            ) from None
        except requests.exceptions.Timeout as exc:
            raise RegistryError(
                subject,
                f"no answer within the timeout after {self._max_attempts} attempts "
                f"({type(exc).__name__}); raise RUNTIME__REQUEST_TIMEOUT or retry later",
            ) from None
        except (
            requests.exceptions.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            host = urlsplit(url).netloc
            if _never_answered(exc):
                raise EndpointError(
                    f"cannot connect to {host} ({_short_reason(exc)}): check base_url and the network"
                ) from None
            raise RegistryError(
                subject,
                f"the connection to {host} failed {self._max_attempts} times "
                f"({_short_reason(exc)}); retry later",
            ) from None
        return self._check(response, subject)

    def _check(self, response: requests.Response, subject: str) -> ApiAnswer:
        status = response.status_code
        if status == 200:
            problem = bad_success_body(response)
            if problem is None:
                return ApiAnswer(json_body(response), _served_at(response))
            raise RegistryError(
                subject,
                f"the server answered 200 with {problem} {self._max_attempts} times; retry later",
            )
        message = _server_message(response)
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", ""))
            where = (
                f"{target.scheme}://{target.netloc}{target.path}" if target.netloc else "elsewhere"
            )
            raise EndpointError(
                f"{self.base_url} redirects ({status}) to {where}: the API key is not sent to a "
                "redirect target; set base_url to the final address"
            )
        if status == 401:
            raise AuthError(
                "Harness refused the API key (401 Unauthorized): check api_key in .dlt/secrets.toml "
                "or SOURCES__HARNESS_REGISTRY__API_KEY, and that the token has not expired"
            )
        if status == 403:
            raise RegistryError(
                subject,
                "access forbidden (403): the key's user or service account lacks permission",
            )
        if status == 404 and _api_error_code(response) is not None:
            # The API's own JSON "not found" (an artifact deleted since it was listed), not a
            # route the server lacks: that one is plain text and means a wrong base URL.
            raise RegistryError(subject, f"not found (404: {message}); it may have been deleted")
        if status == 404:
            raise EndpointError(
                f"{self.base_url} has no Harness Artifact Registry API at {urlsplit(response.url).path} "
                "(404): check base_url (https://app.harness.io, or your server's URL)"
            )
        if status == 400 and "not found" in message.lower():
            raise RegistryError(subject, f"not found (Harness said: {message}); check the ref")
        if status == 500 and DELETED_REGISTRY_MESSAGE in message:
            raise RegistryError(subject, f"the registry is deleted or unavailable (500: {message})")
        if status == 429 or status >= 500:
            raise RegistryError(
                subject,
                f"gave up after {self._max_attempts} attempts, last answer {status} "
                f"({message}); retry later or lower requests_per_minute",
            )
        raise RegistryError(subject, f"the server rejected the request ({status}: {message})")


def _api_error_code(response: requests.Response) -> str | None:
    """The `code` of a JSON error body the API sent, None for any other body."""
    try:
        body = json_body(response)
    except (ValueError, UnicodeDecodeError):
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return str(code) if code is not None else None


def _server_message(response: requests.Response) -> str:
    """The server's `message` field, or the start of a text body, on one line."""
    try:
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            return _one_line(body["message"])
    except (ValueError, UnicodeDecodeError):
        pass
    text = response.text.strip()
    if text.lstrip().startswith("<"):
        return f"HTTP {response.status_code} with an HTML body"
    return _one_line(text) or f"HTTP {response.status_code}"


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# What a failed connection's message says, most telling first; the first group means no TCP connection
# could be opened at all (wrong host or port, DNS), the rest that an open one broke.
NEVER_CONNECTED = (
    "Connection refused",
    "Name or service not known",
    "nodename nor servname",
    "Failed to resolve",
    "No route to host",
)
CONNECTION_BROKE = (
    "Connection reset by peer",
    "RemoteDisconnected",
    "IncompleteRead",
    "Connection broken",
)


def _never_answered(exc: BaseException) -> bool:
    return any(marker in str(exc) for marker in NEVER_CONNECTED)


def _short_reason(exc: BaseException) -> str:
    text = str(exc)
    return next(
        (marker for marker in (*NEVER_CONNECTED, *CONNECTION_BROKE) if marker in text),
        type(exc).__name__,
    )
