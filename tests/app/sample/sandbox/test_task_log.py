"""The Carol task log against the in-process sandbox: which lines are posted, and a failing or hanging endpoint."""

from __future__ import annotations

import logging
import time

import pytest
from pycarol.carolina import Carolina

from carolbatch.control.task_log import LINE_SECONDS, report_outcome, start_task_log, stop_task_log
from carolbatch.storage.carol_credentials import credentials_from_environment
from carolbatch.storage.carol_platform import connect_carol
from sandbox.server import start_sandbox
from sandbox.tenant import read_task_log, set_fault


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    running = start_sandbox(tmp_path_factory.mktemp("task_log"))
    yield running
    running.stop()


@pytest.fixture
def carol(sandbox, monkeypatch, caplog):
    caplog.set_level(logging.INFO)  # as logging.cfg sets the root logger
    for name, value in sandbox.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(Carolina, "token", None)
    set_fault(sandbox.folder, "task_logs", "ok")
    yield connect_carol(credentials_from_environment(sandbox.environment()))
    stop_task_log()
    set_fault(sandbox.folder, "task_logs", "ok")


def posted(sandbox, task_id: str) -> list[str]:
    return [entry["mdmLogMessage"] for entry in read_task_log(sandbox.folder, task_id)]


def test_the_apps_lines_and_the_outcome_are_posted_not_the_libraries(sandbox, carol):
    start_task_log(carol, "t-lines")
    logging.getLogger("carolbatch.records.sources").info("ingested %d records", 3)
    logging.getLogger("carolbatch.records.sources").debug("not at INFO")
    logging.getLogger("luigi-interface").warning("a library's line")
    logging.getLogger().warning("the root logger's line")
    report_outcome("summary: status=SUCCESS")
    stop_task_log()
    assert posted(sandbox, "t-lines") == ["ingested 3 records", "summary: status=SUCCESS"]
    levels = {entry["mdmLogLevel"] for entry in read_task_log(sandbox.folder, "t-lines")}
    assert levels == {"INFO"}


def test_warnings_are_posted_with_carols_level_name(sandbox, carol):
    start_task_log(carol, "t-levels")
    logging.getLogger("app.x").warning("careful")
    report_outcome("error: bad", logging.ERROR)
    stop_task_log()
    assert [(entry["mdmLogMessage"], entry["mdmLogLevel"]) for entry in read_task_log(sandbox.folder, "t-levels")] == [
        ("careful", "WARN"), ("error: bad", "ERROR")]


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_failing_endpoint_is_reported_once_and_stalls_nothing(sandbox, carol, caplog, fault):
    set_fault(sandbox.folder, "task_logs", fault)
    start_task_log(carol, f"t-{fault}")
    started = time.monotonic()
    for number in range(50):
        logging.getLogger("app.flow").info("line %d", number)
    logged = time.monotonic() - started
    stop_task_log()
    stopped = time.monotonic() - started

    assert logged < 1.0
    assert stopped < LINE_SECONDS + 1.0
    warnings = [record.getMessage() for record in caplog.records if "task log" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith(f"Carol task log t-{fault} unavailable")
    assert posted(sandbox, f"t-{fault}") == []


def test_the_task_log_recovers_when_the_endpoint_does(sandbox, carol):
    set_fault(sandbox.folder, "task_logs", "500")
    start_task_log(carol, "t-recover")
    logging.getLogger("app.flow").info("lost")
    time.sleep(0.5)
    set_fault(sandbox.folder, "task_logs", "ok")
    logging.getLogger("app.flow").info("kept")
    stop_task_log()
    assert posted(sandbox, "t-recover") == ["kept"]
