"""Whether the central Luigi scheduler answers, checked once before a run that uses it."""

from __future__ import annotations

import socket

from carolbatch.errors import AppError

SCHEDULER_TIMEOUT_SECONDS = 10


class SchedulerUnreachableError(AppError):
    """The central scheduler did not answer (exit 1)."""


def check_scheduler(host: str, port: int, timeout: float = SCHEDULER_TIMEOUT_SECONDS) -> None:
    """Connect to the central scheduler once, so an unreachable one ends the run within `timeout` seconds
    instead of after Luigi's minute of retries.

    Raises:
        SchedulerUnreachableError: no connection within `timeout`.
    """
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        reason = "no answer" if isinstance(error, TimeoutError) else (error.strerror or str(error))
        raise SchedulerUnreachableError(
            f"central scheduler {host}:{port} could not be reached within {timeout:g} s: {reason}") from None
