"""HTTP response values and the encodings the real (Go) server uses for them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_CONTENT_TYPE = "application/json"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
HTML_CONTENT_TYPE = "text/html; charset=utf-8"

# Go's encoding/json escapes these even inside strings; clients must decode, not pattern-match.
_GO_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True)
class ServedPage:
    """Which page of which registry a successful artifact listing answered (for triggers)."""

    registry_path: str
    page: int


@dataclass
class Response:
    """A complete HTTP answer, before any fault mangles it."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)
    served_page: ServedPage | None = None


def go_json_dumps(payload: Any) -> bytes:
    """Encode like Go's json.Marshal: compact, raw UTF-8, HTML-sensitive characters escaped."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _GO_JSON_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode("utf-8")


def json_response(status: int, payload: Any) -> Response:
    """A JSON response encoded the Go way."""
    return Response(status, go_json_dumps(payload), JSON_CONTENT_TYPE)


def text_response(status: int, text: str) -> Response:
    """A plain-text response, as Go's router and parameter binder write them."""
    return Response(status, text.encode("utf-8"), TEXT_CONTENT_TYPE)


def html_response(status: int, html: str) -> Response:
    """An HTML response, as proxies and gateways write them."""
    return Response(status, html.encode("utf-8"), HTML_CONTENT_TYPE)


def error_response(status: int, message: str) -> Response:
    """The server's JSON error envelope: `code` is the status as a string."""
    return json_response(status, {"code": str(status), "message": message})


def not_found() -> Response:
    """The router's answer for a path no route matches (Go's http.NotFound)."""
    return text_response(404, "404 page not found\n")


def unauthorized() -> Response:
    """The auth middleware's answer: note there is no `code`, unlike every other error."""
    return json_response(401, {"message": "Unauthorized"})


def proxy_error_page(status: int, reason: str) -> Response:
    """The HTML page a gateway or load balancer sends when the backend fails."""
    title = f"{status} {reason}".strip()
    html = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n"
        "</body>\r\n</html>\r\n"
    )
    return html_response(status, html)
