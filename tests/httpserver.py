"""A scripted local HTTP server for download tests (reference now, GEO/ENA later).

Each path maps to a sequence of replies, one consumed per request (the last one repeats),
so "429 then 200" or "500 forever" is one line in a test. Loaded as a pytest plugin
(``pytest_plugins = ["httpserver"]`` in a test module or tests/conftest.py) it provides
the ``http_server`` fixture: a fresh server on 127.0.0.1, ephemeral port, stopped after
the test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass(frozen=True)
class Reply:
    """One scripted response; ``truncate_to`` sends only that many body bytes, then closes."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    truncate_to: int | None = None


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


def as_reply(item: Reply | bytes | int) -> Reply:
    """Shorthand: bytes are a 200 with that body, an int is that status with a short body."""
    if isinstance(item, Reply):
        return item
    if isinstance(item, bytes):
        return Reply(200, item)
    return Reply(item, f"status {item}\n".encode())


class ScriptedHTTPServer:
    """Serves scripted replies per path; records every request it received.

    ``Reply`` is reachable as ``http_server.Reply`` so test modules that load this file as a
    plugin need not import it too (which would defeat pytest's assertion rewriting).
    """

    Reply = Reply

    def __init__(self) -> None:
        self._scripts: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> ScriptedHTTPServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def serve(self, path: str, *replies: Reply | bytes | int) -> str:
        """Script ``path`` and return its URL."""
        if not replies:
            raise ValueError("serve() needs at least one reply")
        with self._lock:
            self._scripts[path] = [as_reply(r) for r in replies]
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def _next_reply(self, path: str) -> Reply:
        with self._lock:
            script = self._scripts.get(path)
            if not script:
                return Reply(404, b"not found\n")
            return script.pop(0) if len(script) > 1 else script[0]

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.requests.append(Request(self.path, dict(self.headers.items())))
                reply = owner._next_reply(self.path)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                if reply.truncate_to is not None:
                    self.send_header("Connection", "close")
                self.end_headers()
                if reply.truncate_to is None:
                    self.wfile.write(reply.body)
                else:
                    self.wfile.write(reply.body[: reply.truncate_to])
                    self.wfile.flush()
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        return Handler


@pytest.fixture
def http_server() -> Iterator[ScriptedHTTPServer]:
    server = ScriptedHTTPServer().start()
    try:
        yield server
    finally:
        server.stop()
