"""Logging: readable console lines locally, JSON lines in Carol (the task log is `carolbatch.control.task_log`)."""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path

from pythonjsonlogger.json import JsonFormatter

from carolbatch.errors import is_one_line_error


# Luigi's own loggers: logging.cfg keeps them at WARNING; `--verbose` shows their INFO lines (each task's
# scheduling and parameters) again.
LUIGI_LOGGERS = ("luigi", "luigi-interface")


def configure_logging(config_path: Path, verbose: bool = False) -> None:
    """Apply `logging.cfg` (keeping loggers created at import time), after pycarol's import.

    Importing pycarol's pipeline sets the `luigi-interface` logger to INFO, so it is imported first and
    logging.cfg has the last word. `verbose` sets Luigi's loggers to INFO.
    """
    import pycarol.pipeline.task.task  # noqa: F401  (its import-time setLevel must come before logging.cfg)

    logging.config.fileConfig(config_path, disable_existing_loggers=False)
    for handler in logging.getLogger().handlers:
        handler.addFilter(OneLineInputErrors())
    if verbose:
        for name in LUIGI_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)


def json_formatter(task_id: str | None) -> logging.Formatter:
    """One JSON object per record, with `severity` and `carol_task_id`, as Carol's log viewer reads them."""
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "severity", "asctime": "time"},
        static_fields={"carol_task_id": task_id or ""},
    )


def use_json_console(task_id: str | None) -> None:
    """Switch the root handlers to one JSON object per line."""
    formatter = json_formatter(task_id)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)


class OneLineInputErrors(logging.Filter):
    """Drop the traceback of a task that failed on bad input: the message says all there is to fix."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and is_one_line_error(record.exc_info[1]):
            record.msg = f"{record.getMessage()}: {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True
