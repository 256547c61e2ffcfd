"""The guarded worker's socket: heads gathered without a thread, reads and sends bounded by deadlines."""

from __future__ import annotations

import socket
import time

import pytest

from carolbatch.online.worker import DeadlineSocket


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield server, client
    server.close()
    client.close()


def test_a_head_is_gathered_until_its_blank_line_then_read_back_first(pair):
    server, client = pair
    server.setblocking(False)
    guarded = DeadlineSocket(server, seconds=5)
    assert guarded.gather() is False and guarded.deadline is None  # nothing sent yet: no deadline
    client.sendall(b"GET /health HTTP/1.1\r\n")
    assert guarded.gather() is False and guarded.deadline is not None  # the first byte starts the deadline
    client.sendall(b"Host: x\r\n\r\nrest")
    assert guarded.gather() is True
    server.setblocking(True)
    assert guarded.recv(8) == b"GET /hea" and guarded.recv(1000) == b"lth HTTP/1.1\r\nHost: x\r\n\r\nrest"
    client.close()
    assert guarded.recv(10) == b""


def test_a_closed_client_gathers_none(pair):
    server, client = pair
    server.setblocking(False)
    client.close()
    assert DeadlineSocket(server, seconds=5).gather() is None


def test_an_answer_the_client_does_not_take_is_given_up_at_the_deadline(pair):
    server, client = pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    server.setblocking(True)
    guarded = DeadlineSocket(server, seconds=0.3)
    started = time.monotonic()
    with pytest.raises(BrokenPipeError):
        guarded.sendall(b"x" * 10_000_000)  # never read
    assert time.monotonic() - started < 2 and guarded.expired


def test_a_request_overdue_reads_as_closed(pair):
    server, client = pair
    guarded = DeadlineSocket(server, seconds=0.2)
    guarded.start_request()
    started = time.monotonic()
    assert guarded.recv(10) == b"" and guarded.expired and time.monotonic() - started < 1
