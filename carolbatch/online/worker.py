"""gunicorn's threaded worker, guarded for clients that connect and then send slowly or not at all.

gunicorn's `gthread` worker hands a connection to a request thread and lets that thread block on the socket
until the whole request has arrived, however slowly it comes; a new connection also holds a thread while
it waits for its first byte. This worker changes two things and nothing else:

- a new connection waits for its first byte in the worker's poller (no thread), and is closed after
  `keepalive` seconds of silence, like a kept-alive one;
- once a thread takes a connection, the request (head and body) must arrive within `request_seconds`;
  the socket then reads as closed, gunicorn drops a half-sent head quietly, and the app answers a
  half-sent body with 408 (`DeadlineSocket.expired` tells it why the body ended early).
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

# How long a request (head and body) may take to arrive once its first byte has; `--request-seconds` sets it.
DEFAULT_REQUEST_SECONDS = 10.0


class DeadlineSocket:
    """A connection's socket whose reads end (as if the client closed) once a request is overdue, for good:
    the connection is then closed, not kept alive for another request."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self.seconds = seconds
        self.deadline: float | None = None
        self.expired = False

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def start_request(self) -> None:
        """The next request must arrive within `seconds` from now."""
        self.deadline = time.monotonic() + self.seconds

    def recv(self, size: int, *flags: int) -> bytes:
        """What the socket's `recv` gives, or b"" (end of stream) for good once a request was overdue."""
        if self.expired:
            return b""
        remaining = None if self.deadline is None else self.deadline - time.monotonic()
        if remaining is None:
            return self._sock.recv(size, *flags)
        previous = self._sock.gettimeout()
        try:
            if remaining <= 0:
                raise TimeoutError
            self._sock.settimeout(remaining if previous is None else min(previous, remaining))
            return self._sock.recv(size, *flags)
        except TimeoutError:
            self._expire()
            return b""
        finally:
            self._sock.settimeout(previous)


    def _expire(self) -> None:
        # The socket now polls readable at once with nothing to read: gunicorn closes it instead of keeping it
        # alive for another request (it ignores an app's "Connection: close").
        self.expired = True
        try:
            self._sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


class GuardedThreadWorker(ThreadWorker):
    """`gthread` with the two guards above; `request_seconds` is set by the server before workers start."""

    request_seconds = DEFAULT_REQUEST_SECONDS

    def accept(self, listener) -> None:
        try:
            client, address = listener.accept()
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, DeadlineSocket(client, self.request_seconds), address, listener.getsockname())
        conn.timeout = time.monotonic() + self.cfg.keepalive  # `murder_pending` closes it after that
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_pending_socket_readable, conn))

    def handle(self, conn):
        conn.sock.start_request()
        return super().handle(conn)
