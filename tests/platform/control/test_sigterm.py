"""A SIGTERM ends the run as stopped by SIGTERM even when the code it interrupted replaced its exception."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from carolbatch import cli


@pytest.fixture
def sigterm_handler(monkeypatch):
    monkeypatch.setattr(cli, "SIGTERM_RECEIVED", threading.Event())
    previous = signal.signal(signal.SIGTERM, cli._terminate)
    yield
    signal.signal(signal.SIGTERM, previous)


def interrupted_library_call() -> None:
    """What Python's `inspect` does under scikit-learn's parameter checks: any exception becomes its own."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    except Exception as error:
        raise TypeError("unsupported callable") from error


def test_a_sigterm_replaced_by_a_library_error_still_stops_the_run(sigterm_handler):
    assert not cli.stopped_by_sigterm({"TrainModel": "TypeError: unsupported callable"})
    with pytest.raises(TypeError, match="unsupported callable"):
        interrupted_library_call()
    assert cli.stopped_by_sigterm({"TrainModel": "TypeError: unsupported callable"})
    # One is enough: the handler ignores a second while the run ends.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN


def test_a_worker_processs_sigterm_is_read_from_its_failure():
    assert cli.stopped_by_sigterm({"TrainModel": "Traceback ...\nTerminated: stopped by SIGTERM"})
    assert not cli.stopped_by_sigterm({"TrainModel": "ValueError: bad"})
