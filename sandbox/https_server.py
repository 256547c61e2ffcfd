"""A small threaded HTTPS server on 127.0.0.1 that dispatches requests to route functions.

The same port also acts as the HTTPS proxy that carries a client's calls to Carol's own host
names (`CONNECT {organization}.{CAROL_DOMAIN}:443`), so the client needs no host or port of ours.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import socketserver
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
HANDSHAKE_SECONDS = 10
_TLS_HANDSHAKE = b"\x16"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    match: re.Match | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode()))


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any = field(default_factory=dict)


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    answer: Callable[[Request], Reply]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, routes: Sequence[Route], context: ssl.SSLContext, counters=None) -> None:
        super().__init__((HOST, port), _Handler)
        self.context = context
        self.tunnel_targets: frozenset[str] = frozenset()
        self.counters = counters
        self.set_routes(routes)

    def set_routes(self, routes: Sequence[Route]) -> None:
        self.routes = [(route.method, re.compile(route.pattern), route.answer) for route in routes]

    def handle_error(self, request, client_address) -> None:
        # A client that does not trust the CA drops the handshake: not worth a traceback.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        # The handshake happens here, in the request's own thread, so a stalled client blocks no one.
        self.request.settimeout(HANDSHAKE_SECONDS)
        # Headers and body leave in separate writes: without this, Nagle and delayed ACKs add 40 ms a call.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # A TLS client hello starts with 0x16; anything else is a proxy client asking for a tunnel.
        self.secure = self.request.recv(1, socket.MSG_PEEK) == _TLS_HANDSHAKE
        if self.secure:
            self.request = self.server.context.wrap_socket(self.request, server_side=True)
        self.request.settimeout(None)
        super().setup()

    def do_CONNECT(self) -> None:  # noqa: N802
        """Open a tunnel to one of Carol's host names, then speak TLS to the client inside it."""
        if self.secure or self.path not in self.server.tunnel_targets:
            self.send_error(403, f"this sandbox tunnels only to {', '.join(sorted(self.server.tunnel_targets))}")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        self.connection.settimeout(HANDSHAKE_SECONDS)
        self.connection = self.request = self.server.context.wrap_socket(self.connection, server_side=True)
        self.connection.settimeout(None)
        self.rfile = self.connection.makefile("rb", self.rbufsize)
        self.wfile = socketserver._SocketWriter(self.connection)
        self.secure = True
        self.close_connection = False  # clients ask in HTTP/1.0, which would close after this answer

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        if not self.secure:
            self.send_error(400, "plain HTTP: use HTTPS, or CONNECT through this port as a proxy")
            return
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command, path=urllib.parse.unquote(url.path), query=dict(urllib.parse.parse_qsl(url.query)),
            headers={key.lower(): value for key, value in self.headers.items()}, body=self.rfile.read(length),
        )
        reply = Reply(404, {"errorMessage": f"no such endpoint: {request.method} {request.path}"})
        for method, pattern, answer in self.server.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                if self.server.counters is not None:
                    self.server.counters.add(f"{method} {pattern.pattern}")
                reply = _answer(answer, Request(**{**vars(request), "match": match}))
                break
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if request.method != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (http.server's signature)
        logger.debug("%s " + format, self.address_string(), *args)


def _answer(answer: Callable[[Request], Reply], request: Request) -> Reply:
    try:
        return answer(request)
    except Exception as error:  # a bug in the stand-in answers 500, as a server would, and is logged
        logger.exception("%s %s failed", request.method, request.path)
        return Reply(500, {"errorMessage": f"{type(error).__name__}: {error}"})


class HTTPSServer:
    """The server running in a background thread; `stop()` closes it."""

    def __init__(self, port: int, routes: Sequence[Route], certificate: Path, key: Path, counters=None) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate, key)
        self._server = _Server(port, routes, context, counters)
        self._thread = threading.Thread(target=self._server.serve_forever, name="sandbox-https", daemon=True)
        self._thread.start()

    def set_routes(self, routes: Sequence[Route]) -> None:
        """Replace the routes (the answers may need the port, known only once the server listens)."""
        self._server.set_routes(routes)

    def tunnel_to(self, *targets: str) -> None:
        """Accept `CONNECT host:port` for these targets (as a client's HTTPS proxy) and answer inside."""
        self._server.tunnel_targets = frozenset(targets)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
