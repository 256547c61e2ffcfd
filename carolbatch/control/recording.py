"""The run log: one JSON line per pipeline run, kept beside the targets.

A record holds the run id, start and end, the settings, the data fingerprint, and per task its identity,
the parts of that identity (significant parameters, code fingerprint, upstream identities), whether it ran
or was reused and why, its duration, output size and outcome. Later runs read it to explain their plans
and to know which targets clean-up must keep.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from carolbatch.storage.stores import ObjectStore, read_bytes, write_bytes

logger = logging.getLogger(__name__)

RUN_LOG_NAME = "runs.jsonl"
REUSABLE_OUTCOMES = ("ran", "reused")


def make_run_id(started_at: datetime) -> str:
    """A run id that sorts by start time and is unique among runs started in the same second."""
    return f"{started_at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def read_run_records(store: ObjectStore, name: str) -> list[dict[str, Any]]:
    """Every record of the run log, oldest first; a line that does not parse (a torn write) or does not
    have a record's shape is skipped with a warning naming the file."""
    data = read_bytes(store, name)
    if data is None:
        return []
    records = []
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            logger.warning("%s line %d is not a run record; skipped", store.describe(name), number)
            continue
        if _well_shaped(record):
            records.append(record)
        else:
            logger.warning("%s line %d does not have the shape of a run record; skipped", store.describe(name), number)
    return records


def _well_shaped(record: Any) -> bool:
    tasks = record.get("tasks", []) if isinstance(record, dict) else None
    return isinstance(tasks, list) and all(isinstance(task, dict) for task in tasks)


def append_run_record(store: ObjectStore, name: str, record: Mapping[str, Any]) -> None:
    """Add one record at the end of the run log.

    Object stores cannot append, so the log is read and written back whole; the write is atomic, so a
    crash keeps the old log intact.
    """
    existing = read_bytes(store, name) or b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    line = json.dumps(record, sort_keys=True, default=str).encode() + b"\n"
    write_bytes(store, name, existing + line)


def latest_task_entries(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task family, its entry in the latest run whose output for it was produced or reused."""
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        for entry in record.get("tasks", []):
            if entry.get("outcome") in REUSABLE_OUTCOMES and entry.get("family"):
                latest[entry["family"]] = dict(entry)
    return latest


def deployed_lineage_from_runs(records: Sequence[Mapping[str, Any]], version: str) -> list[str]:
    """Identities of the tasks of the run that deployed `version`, or [] when no record names it."""
    for record in reversed(records):
        if record.get("deployed") == version:
            return [entry["identity"] for entry in record.get("tasks", []) if entry.get("identity")]
    return []
