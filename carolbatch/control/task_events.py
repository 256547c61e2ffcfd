"""What happened to each task of one `luigi.build`, as Luigi's own task events tell it.

With several workers Luigi runs each task in a forked worker process and fires START, PROCESSING_TIME,
SUCCESS and FAILURE there: those events come back through a `multiprocessing.SimpleQueue` the workers
inherit, read when `luigi.build` returns. The events of the run's own process (DEPENDENCY_PRESENT while
scheduling, PROCESS_FAILURE and TIMEOUT of a worker process, every event with one worker) are noted at once.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from contextlib import contextmanager

import luigi

from carolbatch.tasks import AppTask
from carolbatch.storage.run_context import RunContext

logger = logging.getLogger(__name__)

RAN, FAILED, SECONDS, FOUND_DONE = "ran", "failed", "seconds", "found done"


class TaskEvents:
    """The task ids this process ran to success, found done when scheduling, and saw fail (with the one line
    naming the failure), and the seconds each task ran."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.queue = multiprocessing.SimpleQueue()
        self.ran: set[str] = set()
        self.found_done: set[str] = set()
        self.failed: dict[str, str] = {}
        self.seconds: dict[str, float] = {}

    def note(self, kind: str, task_id: str, detail=None) -> None:
        """Record an event; a worker process passes it on to the run's process."""
        if os.getpid() == self.pid:
            self._apply(kind, task_id, detail)
        else:
            self.queue.put((kind, task_id, detail))

    def collect(self) -> None:
        """Take in what worker processes reported (call once `luigi.build` has returned)."""
        while not self.queue.empty():
            self._apply(*self.queue.get())
        self.queue.close()

    def _apply(self, kind: str, task_id: str, detail) -> None:
        if kind == RAN:
            self.ran.add(task_id)
            self.failed.pop(task_id, None)  # a retry succeeded
        elif kind == FAILED and task_id not in self.ran:
            self.failed[task_id] = detail
        elif kind == SECONDS:
            self.seconds[task_id] = detail
        elif kind == FOUND_DONE:
            self.found_done.add(task_id)


@contextmanager
def listening(context: RunContext) -> Iterator[TaskEvents]:
    """The events of the tasks that share `context`, noted while the block runs (around `luigi.build`)."""
    events = TaskEvents()
    context.events = events
    try:
        yield events
    finally:
        context.events = None
        events.collect()


def failure_line(text) -> str:
    """The one line that names a task's failure: the last line of its message or traceback."""
    lines = [line.strip() for line in str(text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed (see the log above)"


@AppTask.event_handler(luigi.Event.START)
def _started(task: AppTask) -> None:
    logger.info("running %s", task.get_task_family())


@AppTask.event_handler(luigi.Event.PROCESSING_TIME)
def _timed(task: AppTask, seconds: float) -> None:
    task.run_context().report(SECONDS, task.task_id, seconds)
    logger.info("finished %s in %.2fs", task.get_task_family(), seconds)


@AppTask.event_handler(luigi.Event.SUCCESS)
def _succeeded(task: AppTask) -> None:
    task.run_context().report(RAN, task.task_id)


@AppTask.event_handler(luigi.Event.DEPENDENCY_PRESENT)
def _found_done(task: AppTask) -> None:
    task.run_context().report(FOUND_DONE, task.task_id)


@AppTask.event_handler(luigi.Event.FAILURE)
def _failed(task: AppTask, exception: BaseException) -> None:
    # Fired inside Luigi's exception handler: `on_failure` gives the text Luigi itself records.
    task.run_context().report(FAILED, task.task_id, failure_line(task.on_failure(exception)))


@AppTask.event_handler(luigi.Event.PROCESS_FAILURE)
@AppTask.event_handler(luigi.Event.TIMEOUT)
def _died(task: AppTask, message: str) -> None:
    task.run_context().report(FAILED, task.task_id, failure_line(message))
