"""The app's one error type, and which errors one line describes."""

from __future__ import annotations

from carolbatch.storage.stores import StorageError

# Exit codes of run.py.
BAD_INPUT = 2
UNAVAILABLE = 1


class AppError(Exception):
    """Ends the run with one line naming the problem and `exit_code`: 2 (`BAD_INPUT`) for bad settings,
    data or usage; 1 (`UNAVAILABLE`) when Carol or the stored state cannot do what was asked.

    A subclass sets `default_exit_code` for the errors it stands for.
    """

    default_exit_code = UNAVAILABLE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.exit_code = self.default_exit_code if exit_code is None else exit_code


def is_one_line_error(error: BaseException) -> bool:
    """Bad input (settings, data: a ValueError) or a storage that refuses: the message says all there is
    to fix, so no traceback is shown."""
    return isinstance(error, (ValueError, StorageError))
