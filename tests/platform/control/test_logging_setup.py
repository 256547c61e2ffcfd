from __future__ import annotations

import io
import json
import logging

from carolbatch.control.logging_setup import OneLineInputErrors, configure_logging, use_json_console
from tests.conftest import PROJECT_DIR


def record(message="hello", level=logging.INFO):
    return logging.LogRecord("app.test", level, __file__, 1, message, None, None)


def test_json_console_lines_carry_severity_and_task_id():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        use_json_console("task-42")
        handler.handle(record("ingested 5 records"))
    finally:
        root.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert line["severity"] == "INFO" and line["carol_task_id"] == "task-42"
    assert line["message"] == "ingested 5 records"


def test_input_errors_lose_their_traceback_but_keep_the_message():
    try:
        raise ValueError("column b is missing")
    except ValueError:
        import sys

        failure = logging.LogRecord("luigi-interface", logging.ERROR, __file__, 1, "task %s failed", ("X",),
                                    sys.exc_info())
    OneLineInputErrors().filter(failure)
    assert failure.exc_info is None
    assert failure.getMessage() == "task X failed: ValueError: column b is missing"


def test_logging_cfg_is_valid():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(PROJECT_DIR / "logging.cfg")
        assert logging.getLogger("luigi-interface").level == logging.WARNING
        assert any(isinstance(f, OneLineInputErrors) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
