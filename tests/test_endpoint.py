"""A base URL that redirects, or whose TLS certificate fails, ends in one clear error without
sending the key anywhere else. Both servers here are small local stand-ins: the emulator speaks
plain HTTP and does not redirect."""

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest

from conftest import make_pipeline
from harness_registry import EndpointError, harness_registry_source


class Recorder(http.server.BaseHTTPRequestHandler):
    seen_keys: list[str | None] = []
    location = ""

    def do_GET(self) -> None:
        type(self).seen_keys.append(self.headers.get("x-api-key"))
        self.send_response(302)
        self.send_header("Location", type(self).location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.seen_keys = []
    Recorder.location = f"http://localhost:{server.server_address[1]}/elsewhere/artifacts?x=1"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run(base_url: str, tmp_path) -> None:
    source = harness_registry_source(
        registries=["acme/docker"], base_url=base_url, api_key="pat.secret", requests_per_minute=0
    )
    make_pipeline(tmp_path).run(source)


def root(error: BaseException) -> BaseException:
    while not isinstance(error, EndpointError):
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    return error


def test_a_redirect_is_not_followed_and_names_its_target(redirecting_server, tmp_path):
    with pytest.raises(Exception) as failure:
        run(redirecting_server, tmp_path)
    port = redirecting_server.rsplit(":", 1)[1]
    assert str(root(failure.value)) == (
        f"{redirecting_server} redirects (302) to http://localhost:{port}/elsewhere/artifacts: "
        "the API key is not sent to a redirect target; set base_url to the final address"
    )
    assert Recorder.seen_keys == ["pat.secret"], "only the configured host saw the key"


@pytest.fixture
def not_a_tls_server() -> Iterator[tuple[str, list[int]]]:
    """Accepts connections and answers plain HTTP, so a TLS handshake fails; counts connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    accepted: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            accepted.append(1)
            with connection:
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}", accepted
    stop.set()
    server.join()  # before closing: accept() on a closed socket raises in the thread
    listener.close()


def test_a_failed_tls_handshake_is_named_once_not_retried(not_a_tls_server, tmp_path):
    base_url, accepted = not_a_tls_server
    with pytest.raises(Exception) as failure:
        run(base_url, tmp_path)
    host = base_url.removeprefix("https://")
    assert str(root(failure.value)) == (
        f"TLS handshake with {host} failed: check that base_url is the server's https address"
    )
    assert len(accepted) == 1, "a TLS failure is not retried"
