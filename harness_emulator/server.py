"""The HTTP server: keep-alive HTTP/1.1 on loopback, one daemon thread per connection.

API requests go through latency, the rate limiter and the fault rules before the HAR API
answers them; `/_emulator/` requests go straight to the control endpoints.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import sys
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import match_route
from .control import CONTROL_PREFIX, ControlEndpoints
from .faults import FaultRule
from .mutations import MutationError, apply_ops
from .request_log import NO_RESPONSE
from .responses import (
    JSON_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Response,
    error_response,
    go_json_dumps,
    html_response,
    json_response,
    proxy_error_page,
    unauthorized,
)
from .state import EmulatorState

NOT_JSON_PAGE = (
    "<!DOCTYPE html><html><head><title>Harness</title></head>"
    "<body><div id='root'>Loading…</div></body></html>"
)


class ResetConnection(Exception):
    """Raised by the handler to drop the connection with a TCP reset instead of answering."""


def loopback_host(host: str) -> str:
    """The address to bind for `host`, refusing anything that is not a loopback address."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"not an IP address: {host!r} (use 127.0.0.1 or ::1)") from None
    if not address.is_loopback:
        raise ValueError(f"refusing to bind to non-loopback address {host}")
    return host


class EmulatorServer(ThreadingHTTPServer):
    """A threading HTTP server bound to a loopback address, holding the emulator state."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, host: str, port: int, state: EmulatorState) -> None:
        host = loopback_host(host)
        if ipaddress.ip_address(host).version == 6:
            self.address_family = socket.AF_INET6
        self.state = state
        self.control = ControlEndpoints(state)
        super().__init__((host, port), EmulatorRequestHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (after a timeout fault, say) is normal here, not an error.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class EmulatorRequestHandler(BaseHTTPRequestHandler):
    """Dispatches one request; see the module docstring for the order of the steps."""

    protocol_version = "HTTP/1.1"
    server_version = "harness-emulator"
    # Go's net/http (the real server) sets TCP_NODELAY; with Nagle on, each body would wait ~40 ms
    # for the client's delayed ACK on a kept-alive connection.
    disable_nagle_algorithm = True
    server: EmulatorServer

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the request log endpoint is the record."""

    def handle(self) -> None:
        try:
            super().handle()
        except ResetConnection:
            self._reset_socket()

    # -- dispatch ---------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        body = self._read_body()
        if parts.path.startswith(CONTROL_PREFIX):
            self._send(self.server.control.handle(method, parts.path, query, body))
        else:
            self._serve_api(method, parts.path, query)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve_api(self, method: str, raw_path: str, query: dict[str, list[str]]) -> None:
        state = self.server.state
        api_key = self.headers.get("x-api-key")
        route = match_route(raw_path)
        artifact = route.artifact if route is not None else None
        entry = state.log.start(
            raw_path,
            query,
            has_api_key=bool(api_key),
            registry=route.ref if artifact is not None else None,
            artifact=artifact,
        )
        status, throttled = NO_RESPONSE, False
        try:
            if state.latency_ms > 0:
                time.sleep(state.latency_ms / 1000)
            if not state.limiter.allow():
                status, throttled = self._send(_throttled()), True
                return
            rule = state.faults.take(raw_path, query, artifact)
            if rule is not None:
                status = self._apply_fault(rule, method, raw_path, query, api_key)
                return
            status = self._send(self._api_response(method, raw_path, query, api_key))
        finally:
            state.log.finish(entry, status, throttled)

    def _api_response(
        self, method: str, raw_path: str, query: dict[str, list[str]], api_key: str | None
    ) -> Response:
        state = self.server.state
        response = state.api.handle(method, raw_path, query, api_key)
        served = response.served_page
        if served is not None:
            # Applied before the page is written, so every later request already sees the change.
            for trigger in state.triggers.due(served.registry_path, served.page):
                try:
                    apply_ops(state.dataset, trigger.ops)
                except MutationError as exc:
                    trigger.error = str(exc)
        return response

    # -- faults -----------------------------------------------------------------------------

    def _apply_fault(
        self,
        rule: FaultRule,
        method: str,
        raw_path: str,
        query: dict[str, list[str]],
        api_key: str | None,
    ) -> int:
        """Carry out a fault rule; returns the status sent (0 when nothing was)."""
        if rule.kind == "reset":
            raise ResetConnection()
        if rule.kind == "timeout":
            time.sleep(rule.seconds)
            return self._send(self._api_response(method, raw_path, query, api_key))
        if rule.kind == "truncate":
            response = self._api_response(method, raw_path, query, api_key)
            response.status = 200
            # Promise more than is sent, then hang up.
            return self._send(response, content_length=len(response.body) * 2 + 100, close=True)
        if rule.kind == "bad_json":
            body = self._api_response(method, raw_path, query, api_key).body
            return self._send(Response(200, body[: len(body) // 2], JSON_CONTENT_TYPE))
        return self._send(_fault_response(rule))

    # -- writing ----------------------------------------------------------------------------

    def _send(
        self, response: Response, *, content_length: int | None = None, close: bool = False
    ) -> int:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        length = len(response.body) if content_length is None else content_length
        self.send_header("Content-Length", str(length))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)
        if close:
            self.close_connection = True
        return response.status

    def _reset_socket(self) -> None:
        """Close with SO_LINGER 0, which makes the kernel send RST instead of FIN."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The file objects hold references to the socket; all must go for the close to happen.
        self.wfile.close()
        self.rfile.close()
        self.connection.close()


def _throttled() -> Response:
    # No Retry-After header: clients have to back off on their own.
    return error_response(429, "Too many requests, please retry later")


def _fault_response(rule: FaultRule) -> Response:
    """The canned answer of the fault kinds that do not involve the real response."""
    if rule.kind == "status":
        assert rule.status is not None  # checked when the rule was added
        if rule.body is None:
            reason = _reason(rule.status)
            return proxy_error_page(rule.status, reason)
        if isinstance(rule.body, str):
            body = rule.body.encode("utf-8")
            return Response(rule.status, body, rule.content_type or TEXT_CONTENT_TYPE)
        return Response(
            rule.status, go_json_dumps(rule.body), rule.content_type or JSON_CONTENT_TYPE
        )
    if rule.kind == "not_json":
        return html_response(200, NOT_JSON_PAGE)
    if rule.kind == "failure_status":
        return json_response(200, {"data": rule.data, "status": "FAILURE"})
    if rule.kind == "forbidden":
        return error_response(403, "forbidden")
    if rule.kind == "unauthorized":
        return unauthorized()
    raise AssertionError(f"unhandled fault kind {rule.kind}")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
