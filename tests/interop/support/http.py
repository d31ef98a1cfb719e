"""Loopback HTTP stub servers: 127.0.0.1 only, an ephemeral port, stopped by their fixture."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Response:
    status: int
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


class StubServer:
    """Calls `handler(Request) -> Response` for every request, and keeps a log of them."""

    def __init__(self, name: str, handler):
        self.name = name
        self.handler = handler
        self.log: list[Request] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                target = self.path
                # A client going through this stub as an HTTP proxy sends an absolute URI.
                if target.startswith("http://") or target.startswith("https://"):
                    parts = urlsplit(target)
                    target = parts.path + ("?" + parts.query if parts.query else "")
                parts = urlsplit(target)
                req = Request(
                    self.command,
                    parts.path or "/",
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                stub.log.append(req)
                try:
                    resp = stub.handler(req)
                except Exception as exc:  # a bug in a stub must be loud, not a hang
                    resp = Response(500, f"stub {stub.name} crashed: {exc!r}")
                data = resp.body.encode() if isinstance(resp.body, str) else resp.body
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"stub-{name}", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> StubServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
