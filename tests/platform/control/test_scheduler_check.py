"""The central scheduler check: a listening scheduler passes, an unreachable one ends the run fast, in one line."""

from __future__ import annotations

import socket
import time

import pytest

from carolbatch.control.scheduler_check import SchedulerUnreachableError, check_scheduler
from carolbatch.errors import UNAVAILABLE


@pytest.fixture
def listening():
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        yield server


@pytest.fixture
def closed_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    return port


def test_a_listening_scheduler_passes_having_connected_once(listening):
    check_scheduler("127.0.0.1", listening.getsockname()[1], timeout=0.5)
    connection, _ = listening.accept()
    with connection:
        assert connection.recv(1) == b""  # connected, then closed without a word


def test_a_closed_port_fails_at_once_not_after_its_bound_in_one_line(closed_port):
    started = time.monotonic()
    with pytest.raises(SchedulerUnreachableError) as raised:
        check_scheduler("127.0.0.1", closed_port)
    assert time.monotonic() - started < 0.5
    assert str(raised.value) == (f"central scheduler 127.0.0.1:{closed_port} could not be reached within 10 s: "
                                 "Connection refused")
    assert raised.value.exit_code == UNAVAILABLE and raised.value.__cause__ is None


def fill_queue(port: int) -> list[socket.socket]:
    """Connect to a listener that accepts nothing until one attempt goes unanswered (how many the kernel queues
    depends on its version)."""
    queued = []
    for _ in range(8):
        try:
            queued.append(socket.create_connection(("127.0.0.1", port), timeout=0.1))
        except TimeoutError:
            return queued
    raise AssertionError(f"the kernel queued {len(queued)} connections to a listener with backlog 0")


def test_a_scheduler_that_does_not_answer_fails_within_the_bound():
    # A listener whose queue is full drops new connection attempts unanswered, as a host that is gone does.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as server:
        port = server.getsockname()[1]
        queued = fill_queue(port)
        started = time.monotonic()
        try:
            with pytest.raises(SchedulerUnreachableError) as raised:
                check_scheduler("127.0.0.1", port, timeout=0.3)
        finally:
            for connection in queued:
                connection.close()
    assert 0.25 < time.monotonic() - started < 1.0
    assert str(raised.value) == f"central scheduler 127.0.0.1:{port} could not be reached within 0.3 s: no answer"
