"""Verified artifacts: atomic publication, checksum records, damage treated as missing, local and Carol."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import numpy as np
import pytest

from carolbatch.storage.artifacts import (
    RECORD_SUFFIX,
    ArtifactChecks,
    CorruptArtifactError,
    artifact_is_present,
    artifact_is_valid,
    artifact_looks_damaged,
    artifact_size,
    delete_artifact,
    inspect_artifact,
    load_artifact,
    save_artifact,
    verified_copy,
)
from carolbatch.storage.checksums import digest_file, read_summary
from carolbatch.storage.stores import CarolStore, LocalStore, read_bytes, write_bytes
from tests.conftest import FakeCarolStorages

VALUE = {"weights": np.arange(1000, dtype="float64"), "name": "model"}


@pytest.fixture(params=["local", "carol"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "targets")
    storage = FakeCarolStorages(tmp_path / "downloads")(SimpleNamespace(app_name="batchapp"))
    return CarolStore(storage, "batchapp")


def test_saved_artifact_loads_back_with_a_record_of_its_size(store):
    record = save_artifact(store, "pipeline/TrainModel/abc.pkl", VALUE)
    loaded = load_artifact(store, "pipeline/TrainModel/abc.pkl")
    assert np.array_equal(loaded["weights"], VALUE["weights"]) and loaded["name"] == "model"
    stored = json.loads(read_bytes(store, "pipeline/TrainModel/abc.pkl" + RECORD_SUFFIX))
    assert stored == {"size": record.size, "sha256": record.sha256}
    assert artifact_size(store, "pipeline/TrainModel/abc.pkl") == record.size
    assert inspect_artifact(store, "pipeline/TrainModel/abc.pkl") == "valid"


def test_artifact_without_record_is_missing_not_corrupt(store):
    write_bytes(store, "T/x.pkl", b"bytes published, record never written")
    assert inspect_artifact(store, "T/x.pkl") == "missing"
    assert not artifact_is_valid(store, "T/x.pkl") and not artifact_looks_damaged(store, "T/x.pkl")
    with pytest.raises(CorruptArtifactError, match="no checksum record"):
        load_artifact(store, "T/x.pkl")


def test_truncated_artifact_is_reported_corrupt_never_loaded(store, caplog):
    save_artifact(store, "T/x.pkl", VALUE)
    whole = read_bytes(store, "T/x.pkl")
    write_bytes(store, "T/x.pkl", whole[: len(whole) // 2])
    with caplog.at_level(logging.WARNING):
        assert inspect_artifact(store, "T/x.pkl") == "corrupt"
    assert "does not match its checksum record" in caplog.text and "recomputed" in caplog.text
    assert not artifact_is_valid(store, "T/x.pkl")
    with pytest.raises(CorruptArtifactError, match="does not match"):
        load_artifact(store, "T/x.pkl")


def test_a_runs_checks_hash_an_unchanged_file_once_and_report_damage_once(tmp_path, monkeypatch, caplog):
    import carolbatch.storage.artifacts as artifacts

    store, checks, hashed = LocalStore(tmp_path), ArtifactChecks(), []
    monkeypatch.setattr(artifacts, "digest_file", lambda path: hashed.append(path) or digest_file(path))
    save_artifact(store, "T/x.pkl", VALUE, checks=checks)
    for _ in range(3):
        assert inspect_artifact(store, "T/x.pkl", checks) == "valid" and load_artifact(store, "T/x.pkl", checks)
    assert hashed == []  # written by this run: its digest was taken while writing
    assert inspect_artifact(store, "T/x.pkl") == "valid" and len(hashed) == 1  # no checks: hashed afresh

    write_bytes(store, "T/x.pkl", read_bytes(store, "T/x.pkl")[:100])
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            assert inspect_artifact(store, "T/x.pkl", checks) == "corrupt"
            assert artifact_looks_damaged(store, "T/x.pkl", checks)
    assert caplog.text.count("it will be recomputed") == 1
    assert ArtifactChecks().verified == set()  # each run starts with nothing checked


def test_same_size_corruption_is_caught_by_the_checksum(store):
    save_artifact(store, "T/flip.pkl", VALUE)
    whole = bytearray(read_bytes(store, "T/flip.pkl"))
    whole[-20] ^= 0xFF
    write_bytes(store, "T/flip.pkl", bytes(whole))
    assert inspect_artifact(store, "T/flip.pkl") == "corrupt"
    with pytest.raises(CorruptArtifactError):
        verified_copy(store, "T/flip.pkl")


def test_cheap_damage_check_sees_a_vanished_object(store):
    save_artifact(store, "T/gone.pkl", VALUE)
    assert not artifact_looks_damaged(store, "T/gone.pkl")
    store.delete("T/gone.pkl")
    assert artifact_looks_damaged(store, "T/gone.pkl")


def test_cheap_damage_check_and_presence_see_a_truncated_object(store):
    save_artifact(store, "T/x.pkl", VALUE)
    write_bytes(store, "T/x.pkl", read_bytes(store, "T/x.pkl")[:10])
    assert artifact_looks_damaged(store, "T/x.pkl") and not artifact_is_present(store, "T/x.pkl")


def test_a_summary_kept_in_the_record_reads_back_without_the_artifact(store):
    save_artifact(store, "T/d.pkl", VALUE, summary={"version": "v1", "champion": None})
    save_artifact(store, "T/plain.pkl", VALUE)
    assert read_summary(store, "T/d.pkl") == {"version": "v1", "champion": None}
    assert read_summary(store, "T/plain.pkl") is None and read_summary(store, "T/none.pkl") is None
    assert load_artifact(store, "T/d.pkl")["name"] == "model"
    write_bytes(store, "T/d.pkl" + RECORD_SUFFIX, b'{"summary": {"version": "v1"}}')  # no checksum: unfinished
    assert read_summary(store, "T/d.pkl") is None


def test_rewrite_removes_the_old_record_before_publishing_new_bytes(store, monkeypatch):
    save_artifact(store, "T/x.pkl", VALUE)
    seen = []
    original = store.write_file

    def observe(name, path):
        seen.append(store.exists("T/x.pkl" + RECORD_SUFFIX))
        original(name, path)

    monkeypatch.setattr(store, "write_file", observe)
    save_artifact(store, "T/x.pkl", {"other": 1})
    assert seen[0] is False
    assert load_artifact(store, "T/x.pkl") == {"other": 1}


def test_delete_removes_record_and_bytes(store):
    save_artifact(store, "T/x.pkl", VALUE)
    delete_artifact(store, "T/x.pkl")
    assert not store.exists("T/x.pkl") and not store.exists("T/x.pkl" + RECORD_SUFFIX)
    assert inspect_artifact(store, "T/x.pkl") == "missing"


def test_unreadable_record_means_missing(store):
    save_artifact(store, "T/x.pkl", VALUE)
    write_bytes(store, "T/x.pkl" + RECORD_SUFFIX, b"{not json")
    assert inspect_artifact(store, "T/x.pkl") == "missing"


def test_carol_store_uses_pycarol_storage_signatures(tmp_path):
    storage = FakeCarolStorages(tmp_path / "downloads")(SimpleNamespace(app_name="batchapp"))
    store = CarolStore(storage, "batchapp")
    save_artifact(store, "pipeline/EvaluateModel/e.pkl", VALUE)
    assert load_artifact(store, "pipeline/EvaluateModel/e.pkl")["name"] == "model"
    saved = [call.args[0] for call in storage.save.call_args_list]
    assert saved == ["pipeline/EvaluateModel/e.pkl", "pipeline/EvaluateModel/e.pkl" + RECORD_SUFFIX]
    assert all(call.kwargs["format"] == "file" for call in storage.save.call_args_list)


def test_presence_reads_the_record_not_the_bytes_and_a_corrupt_load_drops_the_record(tmp_path):
    storages = FakeCarolStorages(tmp_path / "downloads")
    storage = storages(SimpleNamespace(app_name="batchapp"))
    store = CarolStore(storage, "batchapp")
    save_artifact(store, "T/big.pkl", VALUE)
    storages.read_names.clear()
    assert artifact_is_present(store, "T/big.pkl") and not artifact_is_present(store, "T/other.pkl")
    assert storages.read_names == ["T/big.pkl" + RECORD_SUFFIX, "T/other.pkl" + RECORD_SUFFIX]
    assert not storage.load.called
    whole = bytearray(read_bytes(store, "T/big.pkl"))
    whole[-20] ^= 0xFF
    write_bytes(store, "T/big.pkl", bytes(whole))
    with pytest.raises(CorruptArtifactError):
        load_artifact(store, "T/big.pkl")
    assert not artifact_is_present(store, "T/big.pkl")
