"""The run log: appended records, torn lines, latest entries per task, deployed lineage."""

from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from carolbatch.control.recording import (
    append_run_record,
    deployed_lineage_from_runs,
    latest_task_entries,
    make_run_id,
    read_run_records,
)
from carolbatch.storage.stores import CarolStore, LocalStore, read_bytes, write_bytes
from tests.conftest import FakeCarolStorages


@pytest.fixture(params=["local", "carol"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "targets")
    return CarolStore(FakeCarolStorages(tmp_path / "downloads")(SimpleNamespace(app_name="batchapp")), "batchapp")


def test_records_append_one_line_each_in_order(store):
    assert read_run_records(store, "pipeline/runs.jsonl") == []
    for number in range(3):
        append_run_record(store, "pipeline/runs.jsonl", {"run_id": str(number), "tasks": []})
    assert [record["run_id"] for record in read_run_records(store, "pipeline/runs.jsonl")] == ["0", "1", "2"]
    assert read_bytes(store, "pipeline/runs.jsonl").count(b"\n") == 3


def test_a_torn_line_is_skipped_and_the_next_append_starts_a_new_line(store):
    write_bytes(store, "runs.jsonl", b'{"run_id": "a"}\n{"run_id": "tor')
    append_run_record(store, "runs.jsonl", {"run_id": "b"})
    assert [record["run_id"] for record in read_run_records(store, "runs.jsonl")] == ["a", "b"]


def test_latest_entries_ignore_failed_and_unneeded_tasks():
    records = [
        {"tasks": [{"family": "TrainModel", "identity": "t1", "outcome": "ran"}]},
        {"tasks": [{"family": "TrainModel", "identity": "t2", "outcome": "failed"},
                   {"family": "IngestRecords", "identity": "i2", "outcome": "not needed"}]},
        {"tasks": [{"family": "IngestRecords", "identity": "i3", "outcome": "reused"}]},
    ]
    latest = latest_task_entries(records)
    assert {family: entry["identity"] for family, entry in latest.items()} == {"TrainModel": "t1",
                                                                             "IngestRecords": "i3"}


def test_deployed_lineage_comes_from_the_run_that_deployed_the_version():
    records = [{"deployed": "v1", "tasks": [{"identity": "a"}, {"identity": "b"}]},
               {"deployed": None, "tasks": [{"identity": "c"}]}]
    assert deployed_lineage_from_runs(records, "v1") == ["a", "b"]
    assert deployed_lineage_from_runs(records, "v9") == []


def test_run_ids_sort_by_time_and_differ():
    first = make_run_id(datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert first.startswith("20240101T000000-") and first != make_run_id(datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert make_run_id(datetime(2025, 1, 1, tzinfo=timezone.utc)) > first
