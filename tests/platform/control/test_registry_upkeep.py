"""Registry upkeep: pointers repaired from the history, `.part` leftovers and incomplete or old versions removed."""

from __future__ import annotations

import json
import logging

import pytest

from carolbatch.control.registry_upkeep import clean_registry, part_leftovers, repair_registry
from carolbatch.registry import (RegistryError, incomplete_versions, list_version_ids, publish_model,
                                 read_current_version, rollback_model)
from carolbatch.storage.stores import LocalStore

APP = "onlineapp"


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "models")


def publish(store: LocalStore, *versions: str) -> None:
    """Each version with a model that differs in content and size, so a wrong copy shows."""
    for number, version in enumerate(versions, start=1):
        publish_model(store, APP, version, {"weights": [1.0] * number}, {"version": version})


def read(store: LocalStore, name: str) -> bytes:
    return store.path(name).read_bytes()


def snapshot(store: LocalStore) -> dict[str, bytes]:
    """Every file below the store's root (`.part` leftovers included) with its bytes."""
    return {path.relative_to(store.root).as_posix(): path.read_bytes()
            for path in store.root.rglob("*") if path.is_file()}


def history(store: LocalStore) -> list[dict]:
    return [json.loads(line) for line in read(store, f"{APP}/history.jsonl").splitlines()]


def test_repair_restores_current_and_model_pkl_from_the_history(store, caplog):
    publish(store, "v1", "v2")
    # A crash between the history write and the derived files: both still name the version before.
    store.path(f"{APP}/model.pkl").write_bytes(read(store, f"{APP}/v1/model.pkl"))
    store.path(f"{APP}/current").unlink()
    with caplog.at_level(logging.WARNING, logger="carolbatch.control.registry_upkeep"):
        repair_registry(store, APP)
    assert read(store, f"{APP}/current") == b"v2"
    assert read(store, f"{APP}/model.pkl") == read(store, f"{APP}/v2/model.pkl")
    assert [record.getMessage() for record in caplog.records] == [
        f"repaired model.pkl and current of {APP}: they did not follow its history"]


def test_repair_of_a_registry_in_order_changes_and_reports_nothing(store, caplog):
    repair_registry(store, APP)  # before any deployment
    assert snapshot(store) == {}
    publish(store, "v1")
    before = {name: store.change_marker(name) for name in snapshot(store)}
    with caplog.at_level(logging.WARNING, logger="carolbatch.control.registry_upkeep"):
        repair_registry(store, APP)
    assert {name: store.change_marker(name) for name in snapshot(store)} == before
    assert caplog.records == []


def test_a_current_version_that_does_not_verify_is_reported_and_nothing_changes(store, caplog):
    publish(store, "v1", "v2")
    store.path(f"{APP}/current").write_bytes(b"v1")
    store.path(f"{APP}/model.pkl").write_bytes(read(store, f"{APP}/v1/model.pkl"))
    store.path(f"{APP}/v2/model.pkl").write_bytes(b"truncated")
    before = snapshot(store)
    with caplog.at_level(logging.WARNING, logger="carolbatch.control.registry_upkeep"):
        repair_registry(store, APP)
    assert snapshot(store) == before
    [message] = [record.getMessage() for record in caplog.records]
    assert message.startswith("the current model cannot be served: model version v2 of onlineapp does not verify")
    assert "run.py --rollback VERSION" in message


def test_part_leftovers_are_found_only_down_to_the_given_depth(tmp_path):
    top, one, two = tmp_path / ".a.part", tmp_path / "v1" / ".model.pkl.x1.part", tmp_path / "v1" / "d" / ".b.part"
    for path in (top, one, two):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half")
    # Not the temporary names of an interrupted write.
    for name in ("a.part", ".part", ".lock", "model.pkl", "v1/.partial"):
        (tmp_path / name).write_bytes(b"whole")
    assert part_leftovers(tmp_path, depth=0) == [top]
    assert part_leftovers(tmp_path, depth=1) == [top, one]
    assert part_leftovers(tmp_path, depth=2) == [top, one, two]


def test_part_leftovers_of_a_missing_folder_or_behind_a_symlink_are_none(tmp_path):
    assert part_leftovers(tmp_path / "missing", depth=1) == []
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / ".a.part").write_bytes(b"half")
    (tmp_path / "registry").mkdir()
    (tmp_path / "registry" / "link").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert part_leftovers(tmp_path / "registry", depth=1) == []


def test_incomplete_versions_are_those_without_a_manifest_and_never_current(store):
    publish(store, "v1", "v2")
    store.path(f"{APP}/v3").mkdir()
    store.path(f"{APP}/v3/model.pkl").write_bytes(b"half a model")
    # Not a version: a reserved name.
    store.path(f"{APP}/lock").mkdir()
    store.path(f"{APP}/lock/owner").write_bytes(b"x")
    assert incomplete_versions(store, APP) == ["v3"]
    store.path(f"{APP}/v2/checksums.json").unlink()
    assert incomplete_versions(store, APP) == ["v3"]  # v2 lost its manifest but is current: never removed
    store.path(f"{APP}/v1/checksums.json").unlink()
    assert incomplete_versions(store, APP) == ["v3"]  # v1 is the previous current, in the chain too


def leftovers_and_versions(store: LocalStore) -> None:
    """v1 current before v2, v3, v4 deployed; rolled back to v2; `.part` leftovers and an incomplete v5."""
    publish(store, "v1", "v2", "v3", "v4")
    rollback_model(store, APP, "v2")
    for name in (f"{APP}/.current.k2.part", f"{APP}/v4/.metadata.json.q9.part", f"{APP}/v4/deep/.x.part"):
        store.path(name).parent.mkdir(parents=True, exist_ok=True)
        store.path(name).write_bytes(b"half written")
    store.path(f"{APP}/v5").mkdir()
    store.path(f"{APP}/v5/model.pkl").write_bytes(b"half a model")


def test_clean_up_removes_part_leftovers_and_incomplete_versions_only(store):
    leftovers_and_versions(store)
    entries = history(store)
    removed = clean_registry(store, APP, keep_models=None, dry_run=False)
    assert removed == [(f"{APP}/.current.k2.part", 12), (f"{APP}/v4/.metadata.json.q9.part", 12),
                       (f"{APP}/v5/model.pkl", 12)]
    assert not store.path(f"{APP}/v5").exists() and not store.path(f"{APP}/.current.k2.part").exists()
    assert store.path(f"{APP}/v4/deep/.x.part").exists()  # deeper than a version folder's own files
    assert list_version_ids(store, APP) == ["v1", "v2", "v3", "v4"]
    assert history(store) == entries  # an incomplete version was never in the history


def test_keeping_models_never_removes_the_current_nor_the_previous_current(store):
    leftovers_and_versions(store)
    files = {name: len(data) for name, data in snapshot(store).items() if name.startswith(f"{APP}/v3/")}
    removed = clean_registry(store, APP, keep_models=1, dry_run=False)
    # v4 is the newest, v2 current and v1 before it: only v3 goes, its manifest first.
    assert removed[3:] == [(f"{APP}/v3/checksums.json", files[f"{APP}/v3/checksums.json"]),
                           *sorted((name, size) for name, size in files.items() if not name.endswith("checksums.json"))]
    assert list_version_ids(store, APP) == ["v1", "v2", "v4"] and not store.path(f"{APP}/v3").exists()
    assert {key: history(store)[-1][key] for key in ("action", "version", "previous")} == {
        "action": "remove", "version": "v3", "previous": "v2"}
    assert read_current_version(store, APP) == "v2"
    assert rollback_model(store, APP) == "v1"


def test_a_dry_run_removes_nothing_and_reports_what_a_clean_up_removes(store):
    leftovers_and_versions(store)
    before = snapshot(store)
    would = clean_registry(store, APP, keep_models=0, dry_run=True)
    assert snapshot(store) == before
    assert [size for _, size in would] == [len(before[name]) for name, _ in would]
    assert clean_registry(store, APP, keep_models=0, dry_run=False) == would
    assert {name.split("/")[1] for name, _ in would} == {".current.k2.part", "v3", "v4", "v5"}
    assert list_version_ids(store, APP) == ["v1", "v2"]


def test_a_deploy_app_that_is_not_a_plain_name_is_refused_before_anything_is_removed(store, tmp_path):
    publish(store, "v1")
    (tmp_path / ".outside.part").write_bytes(b"not the registry's")
    with pytest.raises(RegistryError, match="deploy_app '..' is not a plain name"):
        clean_registry(store, "..", keep_models=0, dry_run=False)
    assert (tmp_path / ".outside.part").exists() and list_version_ids(store, APP) == ["v1"]


@pytest.mark.parametrize("history_file", [None, b"", b"\n"], ids=["missing", "empty", "blank"])
def test_keeping_no_models_keeps_the_version_current_names_whatever_the_history_holds(store, history_file):
    publish(store, "v1", "v2", "v3")
    # A registry from before the history, or one whose log was lost: `current` still names v3.
    if history_file is None:
        store.path(f"{APP}/history.jsonl").unlink()
    else:
        store.path(f"{APP}/history.jsonl").write_bytes(history_file)
    assert read_current_version(store, APP) == "v3"
    clean_registry(store, APP, keep_models=0, dry_run=False)
    # v3 is served; v2, the newest before it, is where a rollback goes.
    assert list_version_ids(store, APP) == ["v2", "v3"]
    assert read_current_version(store, APP) == "v3"
    assert rollback_model(store, APP, "v2") == "v2"


def test_keeping_no_models_keeps_what_current_names_when_the_history_names_no_current_version(store):
    publish(store, "v1", "v2")
    store.path(f"{APP}/history.jsonl").write_text(json.dumps({"action": "remove", "version": "v0"}) + "\n")
    clean_registry(store, APP, keep_models=0, dry_run=False)
    assert list_version_ids(store, APP) == ["v1", "v2"]
    assert read(store, f"{APP}/current") == b"v2"
