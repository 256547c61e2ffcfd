"""Task events: what each task did in one `luigi.build`, from Luigi's event handlers, with one worker or
several worker processes."""

from __future__ import annotations

import multiprocessing
import os

import luigi
import pytest

from carolbatch.control.task_events import FAILED, RAN, TaskEvents, failure_line, listening
from carolbatch.tasks import AppTask, attach_context
from carolbatch.storage.run_context import RunContext


class EventsFine(AppTask):
    """Produces 1."""

    def easy_run(self, inputs) -> int:
        return 1


class EventsBroken(AppTask):
    """Fails on bad input."""

    def easy_run(self, inputs) -> int:
        raise ValueError("column b is missing")


class EventsDying(AppTask):
    """Its process dies."""

    def easy_run(self, inputs) -> int:
        os._exit(3)


def tasks(tmp_path, *classes) -> list[AppTask]:
    context = RunContext()
    params = {"target_dir": str(tmp_path), "cloud_targets": False, "carol_mode": False}
    return [attach_context(task_class(**params), context) for task_class in classes]


def build(tasks_to_run: list[AppTask], workers: int) -> TaskEvents:
    with listening(tasks_to_run[0].run_context()) as events:
        luigi.build(tasks_to_run, workers=workers, local_scheduler=True, detailed_summary=True)
    return events


@pytest.mark.parametrize("workers", [1, 2])
def test_ran_failed_seconds_and_found_done_reach_the_run(tmp_path, workers):
    fine, broken = tasks(tmp_path, EventsFine, EventsBroken)

    events = build([fine, broken], workers)

    assert events.ran == {fine.task_id} and events.failed == {broken.task_id: "ValueError: column b is missing"}
    assert set(events.seconds) == {fine.task_id} and events.seconds[fine.task_id] >= 0
    assert events.found_done == set()
    again = build([fine], workers)
    assert again.ran == set() and again.found_done == {fine.task_id}


def test_a_worker_process_that_dies_is_a_failure_named_in_one_line(tmp_path):
    dying, fine = tasks(tmp_path, EventsDying, EventsFine)
    events = build([dying, fine], workers=2)
    assert events.ran == {fine.task_id}
    assert events.failed == {dying.task_id: f"Task {dying.task_id} died unexpectedly with exit code 3"}


def test_without_a_listener_tasks_report_nothing(tmp_path):
    (fine,) = tasks(tmp_path, EventsFine)
    luigi.build([fine], local_scheduler=True)
    with listening(fine.run_context()) as events:
        pass
    assert fine.output().exists() and events.ran == set() and fine.run_context().events is None


def test_events_of_a_worker_process_come_back_through_the_queue():
    events = TaskEvents()
    child = multiprocessing.get_context("fork").Process(target=events.note, args=(FAILED, "task", "boom"))
    child.start()
    child.join()
    events.note(RAN, "other")
    assert events.failed == {} and events.ran == {"other"}
    events.collect()
    assert events.failed == {"task": "boom"}


def test_a_success_after_a_failure_clears_it():
    events = TaskEvents()
    events.note(FAILED, "task", "first try")
    events.note(RAN, "task")
    events.note(FAILED, "task", "late")
    assert events.ran == {"task"} and events.failed == {}


@pytest.mark.parametrize("text, line", [
    ("Traceback (most recent call last):\n  File x\nKeyError: 'b'\n", "KeyError: 'b'"),
    ("ValueError: plain", "ValueError: plain"),
    (None, "failed (see the log above)"),
    ("  \n", "failed (see the log above)"),
])
def test_a_failure_is_named_by_its_last_line(text, line):
    assert failure_line(text) == line
