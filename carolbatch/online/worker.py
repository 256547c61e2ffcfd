"""gunicorn's threaded worker, guarded for clients that connect and then send or read slowly, or not at all.

gunicorn's `gthread` worker hands a connection to a request thread as soon as it has a byte to read and lets the
thread block on the socket until the whole request has arrived, and until the whole answer is sent, however
slowly the client goes; connections beyond the threads wait in a queue without a deadline. This worker bounds
every phase of a connection:

- waiting: a new or kept-alive connection waits in the worker's poller (no thread) and is closed after
  `keepalive` seconds of silence;
- the head: the poller gathers the request head (up to its blank line) without a thread; the request (head
  and body) must arrive within `request_seconds` of its first byte, time queued for a thread included;
- the body: a thread reads it until that deadline; the socket then reads as closed, and the app answers a
  half-sent body with 408 (`DeadlineSocket.expired` tells it why the body ended early);
- the answer: it must be taken by the client within `request_seconds`; a client that does not read it is
  dropped (its socket closed), so it never holds a thread longer;
- gunicorn's own refusals (a malformed request line or header, a header too large, an invalid chunk) answer
  one JSON line like the app's, quoting at most ERROR_CHARACTERS of the request.
"""

from __future__ import annotations

import errno
import html
import json
import re
import selectors
import socket
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

# How long a request (head and body) may take to arrive once its first byte has, and an answer to be taken by
# the client; `--request-seconds` sets it.
DEFAULT_REQUEST_SECONDS = 10.0
# A head gathered beyond this many bytes goes to a thread as it is: gunicorn refuses it (431) by its own limits.
MAX_HEAD_BYTES = 65536
# The most characters of a request that an error answer quotes.
ERROR_CHARACTERS = 200
_GUNICORN_ERROR = re.compile(rb"^HTTP/1\.1 (\d{3}) ([^\r]*)\r\n.*<h1><p>[^<]*</p></h1>\s*(.*?)\s*</body>", re.S)


class DeadlineSocket:
    """A connection's socket whose reads end (as if the client closed) once a request is overdue, for good (the
    connection is then closed, not kept alive), whose sends give up (closing it) once an answer is overdue, and
    which first gives back the bytes the poller gathered (`gather`)."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self.seconds = seconds
        self.deadline: float | None = None
        self.expired = False
        self._gathered = bytearray()

    def __getattr__(self, name: str):
        return getattr(self._sock, name)

    def fileno(self) -> int:
        return self._sock.fileno()

    def start_request(self) -> None:
        """The next request must arrive within `seconds` from now."""
        self.deadline = time.monotonic() + self.seconds

    def gather(self) -> bool | None:
        """Read what a non-blocking socket holds into the gathered bytes: True once they hold a whole head (or
        more than any head may take), False while not, None when the client closed. The first bytes of a
        request start its deadline."""
        try:
            data = self._sock.recv(MAX_HEAD_BYTES)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return None
        if not data:
            return None
        if not self._gathered:
            self.start_request()
        self._gathered += data
        return b"\r\n\r\n" in self._gathered or len(self._gathered) > MAX_HEAD_BYTES

    def recv(self, size: int, *flags: int) -> bytes:
        """The gathered bytes first, then what the socket's `recv` gives, or b"" (end of stream) for good once
        a request was overdue."""
        if self._gathered:
            data = bytes(self._gathered[:size])
            del self._gathered[:size]
            return data
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

    def sendall(self, data: bytes) -> None:
        """The socket's `sendall`, given up after `seconds` (the socket is then shut: the client is dropped).

        Raises:
            BrokenPipeError: the client did not take the answer in time (gunicorn ignores it quietly).
        """
        previous = self._sock.gettimeout()
        if previous == 0.0:  # gunicorn's own error answers are written without blocking
            return self._sock.sendall(data)
        try:
            self._sock.settimeout(self.seconds)
            self._sock.sendall(data)
        except TimeoutError:
            self._expire(socket.SHUT_RDWR)
            raise BrokenPipeError(errno.EPIPE, "answer not taken by the client in time") from None
        finally:
            self._sock.settimeout(previous)

    def new_request(self) -> None:
        """A kept-alive connection waits for its next request: no deadline until its first byte."""
        self.deadline = None

    def _expire(self, how: int = socket.SHUT_RD) -> None:
        # The socket now polls readable at once with nothing to read: gunicorn closes it instead of keeping it
        # alive for another request (it ignores an app's "Connection: close").
        self.expired = True
        try:
            self._sock.shutdown(how)
        except OSError:
            pass


class GuardedThreadWorker(ThreadWorker):
    """`gthread` with the guards above; `request_seconds` is set by the server before workers start."""

    request_seconds = DEFAULT_REQUEST_SECONDS

    def init_process(self) -> None:
        self.gathering: deque[TConn] = deque()  # connections with part of a head, by deadline
        super().init_process()

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

    def on_pending_socket_readable(self, conn, client) -> None:
        """A new or deferred connection's bytes: gathered until its head is whole."""
        self.pending_conns.remove(conn)
        self._gather(conn, client)

    def on_client_socket_readable(self, conn, client) -> None:
        """A kept-alive connection's next request: gathered like a new one's."""
        self.keepalived_conns.remove(conn)
        conn.sock.new_request()
        self._gather(conn, client)

    def on_gathering_socket_readable(self, conn, client) -> None:
        self.gathering.remove(conn)
        self._gather(conn, client)

    def _gather(self, conn, client) -> None:
        self.poller.unregister(client)
        whole = conn.sock.gather()
        if whole is None:
            self.nr_conns -= 1
            conn.close()
        elif whole:
            conn.data_ready = True
            super().enqueue_req(conn)
        else:
            conn.timeout = conn.sock.deadline
            self.gathering.append(conn)
            self.poller.register(client, selectors.EVENT_READ, partial(self.on_gathering_socket_readable, conn))

    def enqueue_req(self, conn) -> None:
        """A request read ahead behind the last one (gunicorn hands it to a thread at once): its deadline starts
        now."""
        conn.sock.start_request()
        super().enqueue_req(conn)

    def murder_pending(self) -> None:
        """Close silent new connections, and those whose head did not arrive by its deadline."""
        super().murder_pending()
        now = time.monotonic()
        while self.gathering and self.gathering[0].timeout <= now:
            conn = self.gathering.popleft()
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.nr_conns -= 1
            conn.close()

    def handle_error(self, req, client, addr, exc) -> None:
        """gunicorn's own refusal (and its log line), answered as one JSON line instead of an HTML page."""
        captured = _Captured()
        super().handle_error(req, captured, addr, exc)
        found = _GUNICORN_ERROR.match(bytes(captured.data))
        status, reason, message = (found.group(1).decode(), found.group(2).decode("latin1"),
                                   html.unescape(found.group(3).decode("latin1"))) if found else ("500", "Internal "
                                                                                                 "Server Error", "")
        text = f"{status} {reason}" + (f": {message[:ERROR_CHARACTERS]}" if message else "")
        body = json.dumps({"error": text, "field": None, "record": None}).encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")
        try:
            client.sendall(head + body)
        except OSError:
            self.log.debug("Failed to send error message.")


class _Captured:
    """Where gunicorn writes its HTML error answer, to be answered as JSON."""

    def __init__(self) -> None:
        self.data = bytearray()

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data
