"""The Carol task log: the app's own log lines and the run's outcome, posted by a background thread.

Logging a line only puts it on a queue (`QueueHandler`); a `QueueListener` thread posts what has
queued up in one call to Carol's `POST /api/v1/tasks/{id}/logs`. A line is posted within
`LINE_SECONDS` of being logged or dropped, the run waits at most `FLUSH_SECONDS` at exit, and a
failing endpoint is reported once on the console: the task log is a copy of the console, never a reason
to fail or slow the run.
"""

from __future__ import annotations

import atexit
import copy
import logging
import queue
import time
from logging.handlers import QueueHandler, QueueListener

LINE_SECONDS = 5.0
FLUSH_SECONDS = 10.0
BATCH_LINES = 200
# The loggers whose lines go to the task log: the platform's, the app's own, and the run's outcome.
APP_LOGGERS = ("carolbatch", "app")
OUTCOME_LOGGER = "outcome"
_CAROL_LEVELS = {"WARNING": "WARN", "CRITICAL": "ERROR"}  # as pycarol's CarolHandler names them

# Outside those, so the report of a failing task log goes to the console and not back into the queue.
_console = logging.getLogger("carol_task_log")
outcome_logger = logging.getLogger(OUTCOME_LOGGER)
outcome_logger.propagate = False  # run.py prints the outcome itself; this logger only feeds the task log
outcome_logger.addHandler(logging.NullHandler())
outcome_logger.setLevel(logging.INFO)


def report_outcome(line: str, level: int = logging.INFO) -> None:
    """Send a line of the run's outcome (error, deployment decision, summary) to the task log, if any."""
    outcome_logger.log(level, line)


class TaskLogSender(logging.Handler):
    """Posts lines to one Carol long task through its own copy of the Carol session, without retries."""

    def __init__(self, carol, task_id: str) -> None:
        super().__init__(logging.INFO)
        self.carol = copy.copy(carol)
        self.carol.session = None  # its own HTTP session: the main thread keeps using the original
        self.task_id = task_id
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        self.post([record])

    def post(self, records: list[logging.LogRecord]) -> None:
        """Post `records` in one call, giving up when the oldest would wait more than `LINE_SECONDS`."""
        seconds_left = LINE_SECONDS - (time.time() - min(record.created for record in records))
        if seconds_left <= 0.05:
            self.report_failure(f"{len(records)} lines not posted within {LINE_SECONDS:g} s")
            return
        entries = [{"mdmTaskId": self.task_id, "mdmLogMessage": self.format(record),
                    "mdmLogLevel": _CAROL_LEVELS.get(record.levelname, record.levelname)} for record in records]
        try:
            # Connect and read share the time left; pycarol's default eight retries would stall the queue.
            self.carol.call_api(f"v1/tasks/{self.task_id}/logs", data=entries, retries=0, status_forcelist=(),
                                timeout=(seconds_left / 2, seconds_left / 2))
        except Exception as error:  # noqa: BLE001 (any failure of a copy of the console is only reported)
            self.report_failure(_first_line(error))

    def report_failure(self, reason: str) -> None:
        if not self.failed:
            self.failed = True
            _console.warning("Carol task log %s unavailable, its lines stay on the console only: %s",
                             self.task_id, reason)


class BatchingListener(QueueListener):
    """A `QueueListener` that hands its sender every line queued so far at once."""

    def __init__(self, lines: queue.Queue, sender: TaskLogSender) -> None:
        super().__init__(lines, sender)
        self.sender = sender

    def handle(self, record: logging.LogRecord) -> None:
        batch = [record]
        while len(batch) < BATCH_LINES:
            try:
                more = self.queue.get_nowait()
            except queue.Empty:
                break
            if more is self._sentinel:
                self.queue.put_nowait(more)  # the monitor loop stops on it after this batch
                break
            batch.append(more)
        self.sender.post(batch)

    def stop_within(self, seconds: float) -> bool:
        """Post what is queued and stop, waiting at most `seconds`; False when lines were left behind."""
        thread = self._thread
        if thread is None:
            return True
        self.enqueue_sentinel()
        thread.join(seconds)
        self._thread = None
        return not thread.is_alive()


class TaskLog(QueueHandler):
    """The running task log: a queue handler on the app's loggers, and the listener posting its lines.

    It is found where it works, among the handlers of the app's logger; nothing else keeps it.
    """

    def __init__(self, carol, task_id: str) -> None:
        lines: queue.Queue = queue.Queue()
        super().__init__(lines)
        self.setLevel(logging.INFO)
        self.listener = BatchingListener(lines, TaskLogSender(carol, task_id))

    def start(self) -> None:
        self.listener.start()
        for logger in _logged():
            logger.addHandler(self)

    def stop(self, seconds: float = FLUSH_SECONDS) -> bool:
        """Detach from the loggers and post what is left, waiting at most `seconds`."""
        for logger in _logged():
            logger.removeHandler(self)
        return self.listener.stop_within(seconds)


def _logged() -> list[logging.Logger]:
    return [*(logging.getLogger(name) for name in APP_LOGGERS), outcome_logger]


def start_task_log(carol, task_id: str) -> None:
    """Copy the app's log lines and the run's outcome to the Carol long task `task_id` from now on."""
    stop_task_log()
    TaskLog(carol, task_id).start()


def stop_task_log(seconds: float = FLUSH_SECONDS) -> None:
    """Post the lines still queued, waiting at most `seconds`; a no-op when no task log runs."""
    for handler in list(logging.getLogger(APP_LOGGERS[0]).handlers):
        if isinstance(handler, TaskLog):
            handler.stop(seconds)


atexit.register(stop_task_log)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__
