"""The HTTP client: API-key auth, the shared rate limit, retries with jittered backoff, and errors.

Built on dlt's `requests` helper `Client` (thread-local sessions, tenacity retries configured from dlt's
runtime settings `RUNTIME__REQUEST_MAX_ATTEMPTS`, `RUNTIME__REQUEST_BACKOFF_FACTOR`,
`RUNTIME__REQUEST_MAX_RETRY_DELAY`, `RUNTIME__REQUEST_TIMEOUT`). What it adds:

- every attempt, retries included, passes the shared `RateLimiter` and is counted;
- backoff is exponential with full jitter, since Harness's 429 carries no `Retry-After`;
- a 200 whose body is cut off, is not JSON or says `"status": "FAILURE"`/`"ERROR"` is retried like a
  5xx: parsed as an empty page it would silently end a registry early;
- final failures become one-line `HarnessRegistryError`s that name the cause and never the key.
See docs/harness-api.md#errors and docs/harness-api.md#rate-limits for what the server sends.
"""

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests.retry import (
    DEFAULT_RETRY_EXCEPTIONS,
    Client,
    retry_if_predicate,
    retry_if_status,
)
from dlt.sources.helpers.requests.session import Session
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import (
    Retrying,
    retry_any,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from .errors import AuthError, EndpointError, RegistryError
from .ratelimit import RateLimiter
from .settings import DELETED_REGISTRY_MESSAGE

logger = logging.getLogger(__name__)

# 500 is retried only when it is not a soft-deleted registry (see `_should_retry`).
RETRY_STATUSES = (429, *range(501, 600))
_BODY_CACHE = "_harness_json_body"


class ApiKeyAuth(AuthBase):
    """Sets `x-api-key` on each prepared request.

    The key lives only here: dlt logs request headers it was given, and an auth object's header is
    added after that, so the key is never logged. `repr` masks it.
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


def _is_transient(exception: BaseException) -> bool:
    # An SSLError is a ConnectionError, but a certificate that failed verification stays failed.
    return isinstance(exception, DEFAULT_RETRY_EXCEPTIONS) and not isinstance(
        exception, requests.exceptions.SSLError
    )


def _should_retry(response: requests.Response | None, exception: BaseException | None) -> bool:
    if response is None:
        return False
    if response.status_code == 200:
        return bad_success_body(response) is not None
    if response.status_code == 500:
        return DELETED_REGISTRY_MESSAGE not in response.text
    return False


class RetryingClient(Client):
    """dlt's retrying `Client` with a rate-limited, counting adapter and jittered backoff."""

    def __init__(self, limiter: RateLimiter, max_connections: int) -> None:
        super().__init__(
            raise_for_status=False,
            status_codes=RETRY_STATUSES,
            retry_condition=_should_retry,
            respect_retry_after_header=True,
        )
        self._adapter = CountingRateLimitedAdapter(limiter, pool_maxsize=max_connections)
        self.update_from_config(resolve_configuration(RuntimeConfiguration()))

    @property
    def adapter(self) -> CountingRateLimitedAdapter:
        return self._adapter  # type: ignore[return-value]

    def _make_session(self) -> Session:
        session = Session(**self._session_kwargs)  # type: ignore[arg-type]
        session.mount("http://", self._adapter)
        session.mount("https://", self._adapter)
        kwargs = self._retry_kwargs
        retrying = Retrying(
            # Full jitter: clients throttled together do not retry together.
            wait=wait_random_exponential(
                multiplier=kwargs["backoff_factor"], max=kwargs["max_delay"]
            ),
            retry=retry_any(
                retry_if_status(kwargs["status_codes"]),
                retry_if_exception(_is_transient),
                retry_if_predicate(kwargs["condition"]),
            ),
            stop=stop_after_attempt(kwargs["max_attempts"]),
            reraise=True,
            # After the last attempt return its response; `HarnessClient` turns it into an error.
            retry_error_callback=lambda state: state.outcome.result(),
            before_sleep=_log_retry,
        )
        session.send = retrying.wraps(session.send)  # type: ignore[method-assign]
        return session

    @property
    def max_attempts(self) -> int:
        return int(self._retry_kwargs["max_attempts"])


def _log_retry(state: Any) -> None:
    outcome = state.outcome
    what = (
        type(outcome.exception()).__name__
        if outcome.failed
        else f"HTTP {outcome.result().status_code}"
    )
    logger.info(f"retrying after {what} (attempt {state.attempt_number})")


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
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        requests_per_minute: float | None = None,
        max_connections: int = 4,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = ApiKeyAuth(api_key)
        self._http = RetryingClient(RateLimiter(requests_per_minute), max_connections)

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
            # No redirects: requests would forward x-api-key to wherever a 3xx points.
            response = self._http.session.get(
                url, params=params, auth=self._auth, allow_redirects=False
            )
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
                f"no answer within the timeout after {self._http.max_attempts} attempts "
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
                f"the connection to {host} failed {self._http.max_attempts} times "
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
                f"the server answered 200 with {problem} {self._http.max_attempts} times; retry later",
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
                f"gave up after {self._http.max_attempts} attempts, last answer {status} "
                f"({message}); retry later or lower requests_per_minute",
            )
        raise RegistryError(subject, f"the server rejected the request ({status}: {message})")


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
