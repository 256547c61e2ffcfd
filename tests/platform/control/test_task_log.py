"""The Carol task log's life in the process: started on the app's loggers, found there when stopped.
(Posting against the Carol stand-in is tested in tests/app/sample/sandbox/test_task_log.py.)"""

from __future__ import annotations

import logging

from carolbatch.control.task_log import APP_LOGGERS, TaskLog, report_outcome, start_task_log, stop_task_log


class FakeCarol:
    """Records the lines posted; `copy.copy` (the sender's own session) shares the record."""

    session = None

    def __init__(self) -> None:
        self.posted: list[tuple[str, list[dict]]] = []

    def call_api(self, path, data, **_):
        self.posted.append((path, data))


def running() -> list[logging.Handler]:
    return [handler for handler in logging.getLogger(APP_LOGGERS[0]).handlers if isinstance(handler, TaskLog)]


def test_a_started_task_log_posts_app_lines_and_the_outcome_until_stopped():
    carol = FakeCarol()
    start_task_log(carol, "t1")
    try:
        logging.getLogger("app.test").warning("a line of the app")
        report_outcome("summary: status=SUCCESS")
        logging.getLogger("elsewhere").warning("not the app's")
    finally:
        stop_task_log()
    logging.getLogger("app.test").warning("after the stop")
    messages = [entry["mdmLogMessage"] for _, entries in carol.posted for entry in entries]
    assert {path for path, _ in carol.posted} == {"v1/tasks/t1/logs"}
    assert any("a line of the app" in message for message in messages)
    assert any("summary: status=SUCCESS" in message for message in messages)
    assert not any("not the app's" in message or "after the stop" in message for message in messages)
    assert running() == []


def test_starting_again_replaces_the_running_task_log():
    first, second = FakeCarol(), FakeCarol()
    start_task_log(first, "t1")
    start_task_log(second, "t2")
    try:
        assert len(running()) == 1
        logging.getLogger("app.test").warning("for the second")
    finally:
        stop_task_log()
    assert running() == [] and second.posted and not any(
        "for the second" in entry["mdmLogMessage"] for _, entries in first.posted for entry in entries)


def test_stopping_without_a_task_log_does_nothing():
    stop_task_log()
    assert running() == []
