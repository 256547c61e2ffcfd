"""The model registry on a local folder and on Carol storage: publish, load, list, roll back, history."""

from __future__ import annotations

import json
from unittest.mock import create_autospec

import numpy as np
import pycarol
import pytest
from sklearn.linear_model import LinearRegression

from carolbatch.registry import (
    RegistryError,
    list_version_ids,
    list_versions,
    load_current,
    load_current_model,
    publish_model,
    read_current_marker,
    read_current_version,
    repair_pointers,
    rollback_model,
)
from carolbatch.storage.stores import CarolStore, LocalStore, read_bytes, write_bytes

APP = "onlineapp"
X = np.arange(12, dtype=float).reshape(6, 2)


def fitted(slope: float) -> LinearRegression:
    return LinearRegression().fit(X, X[:, 0] * slope)


def metadata(version: str, rmse: float) -> dict:
    return {"version": version, "metrics": {"test": {"rmse": rmse, "r2": 0.9}}, "feature_columns": ["a", "b"],
            "created_at": version}


@pytest.fixture(params=["local", "carol"])
def store(request, tmp_path):
    """The same registry tests on a local folder and on an autospecced pycarol Storage."""
    if request.param == "local":
        return LocalStore(tmp_path / "models")
    request.getfixturevalue("fake_storages")
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = APP
    return CarolStore(pycarol.Storage(carol), APP)


def publish(store, version: str, slope: float, rmse: float = 1.0) -> None:
    publish_model(store, APP, version, fitted(slope), metadata(version, rmse), {"report.html": b"<html>"})


def predict(model) -> float:
    return float(model.predict(X[:1] + 1)[0])


def test_nothing_deployed_yet(store):
    assert load_current_model(store, APP) is None
    assert read_current_version(store, APP) is None and list_versions(store, APP) == []


def test_published_version_is_current_and_loadable(store):
    publish(store, "v1", slope=2.0)
    assert read_current_version(store, APP) == "v1"
    assert predict(load_current_model(store, APP)) == pytest.approx(2.0)
    current = load_current(store, APP)
    assert (current.version, current.feature_columns) == ("v1", ("a", "b"))
    assert store.exists(f"{APP}/v1/report.html") and store.exists(f"{APP}/v1/metadata.json")


def test_a_version_is_never_overwritten(store):
    publish(store, "v1", slope=2.0)
    with pytest.raises(RegistryError, match="already exists"):
        publish(store, "v1", slope=5.0)
    assert predict(load_current_model(store, APP)) == pytest.approx(2.0)


def test_rollback_goes_to_the_previous_version_and_updates_the_stable_copy(store, tmp_path):
    publish(store, "v1", slope=2.0, rmse=4.0)
    publish(store, "v2", slope=3.0, rmse=3.5)
    assert [entry["version"] for entry in list_versions(store, APP)] == ["v1", "v2"]

    assert rollback_model(store, APP) == "v1"

    assert read_current_version(store, APP) == "v1"
    assert predict(load_current_model(store, APP)) == pytest.approx(2.0)
    assert store.local_copy(f"{APP}/model.pkl").read_bytes() == store.local_copy(f"{APP}/v1/model.pkl").read_bytes()
    history = [json.loads(line) for line in store.local_copy(f"{APP}/history.jsonl").read_text().splitlines()]
    assert [(entry["action"], entry["version"], entry["previous"]) for entry in history] == [
        ("deploy", "v1", None), ("deploy", "v2", "v1"), ("rollback", "v1", "v2")]


def test_rollback_to_a_named_version_can_also_go_forward(store):
    publish(store, "v1", slope=2.0)
    publish(store, "v2", slope=3.0)
    rollback_model(store, APP, "v1")
    assert rollback_model(store, APP, "v2") == "v2"
    assert predict(load_current_model(store, APP)) == pytest.approx(3.0)


def test_rollback_refuses_unknown_versions_and_a_missing_predecessor(store):
    with pytest.raises(RegistryError, match="was current before"):
        rollback_model(store, APP)
    publish(store, "v1", slope=2.0)
    with pytest.raises(RegistryError, match="was current before"):
        rollback_model(store, APP)
    with pytest.raises(RegistryError, match="version nope of onlineapp not found"):
        rollback_model(store, APP, "nope")
    assert read_current_version(store, APP) == "v1"


def test_current_pointing_at_a_missing_model_is_an_error(tmp_path):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    (tmp_path / "models" / APP / "v1" / "model.pkl").unlink()
    with pytest.raises(RegistryError, match="v1 of onlineapp does not verify: model.pkl is missing"):
        load_current_model(store, APP)


def test_load_current_brings_the_versions_metadata(store):
    publish(store, "v1", 2.0, rmse=1.5)
    current = load_current(store, APP)
    assert current.metadata["metrics"]["test"]["rmse"] == 1.5 and current.metadata["version"] == "v1"


def test_current_marker_moves_with_each_deploy_and_rollback(tmp_path):
    store = LocalStore(tmp_path / "models")
    assert read_current_marker(store, APP) is None
    publish(store, "v1", 2.0)
    markers = [read_current_marker(store, APP)]
    publish(store, "v2", 3.0)
    markers.append(read_current_marker(store, APP))
    rollback_model(store, APP)
    markers.append(read_current_marker(store, APP))
    assert None not in markers and len(set(markers)) == 3
    assert read_current_marker(store, APP) == markers[-1]


def test_a_truncated_version_is_refused_by_rollback_and_by_the_loader(tmp_path):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    publish(store, "v2", slope=3.0)
    model = tmp_path / "models" / APP / "v1" / "model.pkl"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(RegistryError, match="v1 of onlineapp does not verify: model.pkl has 100 bytes"):
        rollback_model(store, APP, "v1")
    assert read_current_version(store, APP) == "v2"
    (tmp_path / "models" / APP / "v2" / "metadata.json").write_text("{}")
    with pytest.raises(RegistryError, match="v2 of onlineapp does not verify: metadata.json"):
        load_current_model(store, APP)


def test_rollback_without_a_version_never_returns_to_a_version_rolled_back_from(store):
    for number in (1, 2, 3):
        publish(store, f"v{number}", slope=float(number))
    assert rollback_model(store, APP) == "v2"
    assert rollback_model(store, APP) == "v1"
    with pytest.raises(RegistryError, match="was current before"):
        rollback_model(store, APP)
    assert read_current_version(store, APP) == "v1"


@pytest.mark.parametrize("version", ["../otherapp/v1", "v1/../v1", "/abs", "", "current", "model.pkl", ".."])
def test_rollback_refuses_names_that_are_not_plain(tmp_path, version):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    with pytest.raises(RegistryError, match="is not a plain name"):
        rollback_model(store, APP, version)


@pytest.mark.parametrize("app", ["/tmp/x", "../../x", "a/b", "onlineapp/v1", ".", ""])
def test_deploy_app_must_be_a_plain_name(tmp_path, app):
    store = LocalStore(tmp_path / "models")
    with pytest.raises(RegistryError, match="deploy_app .* is not a plain name"):
        publish_model(store, app, "v1", fitted(1.0), metadata("v1", 1.0))
    assert not (tmp_path / "models").exists()


class FailingHistoryStore(LocalStore):
    def write_file(self, name, local_path):
        if name.endswith("history.jsonl") and self.root.joinpath(APP, "history.jsonl").exists():
            raise OSError("disk full")
        super().write_file(name, local_path)


def test_a_failed_history_write_leaves_the_current_version_unchanged(tmp_path):
    store = FailingHistoryStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    with pytest.raises(RegistryError, match="could not be written .*still v1"):
        publish(store, "v2", slope=3.0)
    assert read_current_version(store, APP) == "v1" and predict(load_current_model(store, APP)) == pytest.approx(2.0)
    assert (tmp_path / "models" / APP / "current").read_text() == "v1"


def test_derived_pointers_are_repaired_from_the_history(store):
    publish(store, "v1", slope=2.0)
    publish(store, "v2", slope=3.0)
    write_bytes(store, f"{APP}/current", b"v1")
    write_bytes(store, f"{APP}/model.pkl", b"torn")
    assert repair_pointers(store, APP) == ["model.pkl", "current"]
    assert read_bytes(store, f"{APP}/model.pkl") == read_bytes(store, f"{APP}/v2/model.pkl")
    assert read_bytes(store, f"{APP}/current") == b"v2" and repair_pointers(store, APP) == []


def test_a_wrong_shaped_history_or_metadata_is_one_error_naming_the_file(tmp_path):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    (tmp_path / "models" / APP / "v1" / "metadata.json").write_text("[1, 2]")
    with pytest.raises(RegistryError, match=r"v1/metadata.json is not a JSON object"):
        list_versions(store, APP)
    (tmp_path / "models" / APP / "history.jsonl").write_text('{"version": 3}\n')
    with pytest.raises(RegistryError, match=r"history.jsonl line 1 is not a registry history entry"):
        read_current_version(store, APP)


def test_an_incomplete_version_is_not_listed_and_not_rolled_back_to(tmp_path):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1", slope=2.0)
    publish(store, "v2", slope=3.0)
    (tmp_path / "models" / APP / "v1" / "checksums.json").unlink()
    assert list_version_ids(store, APP) == ["v2"]
    with pytest.raises(RegistryError, match="v1 of onlineapp is incomplete"):
        rollback_model(store, APP)


@pytest.mark.parametrize("duplicated", [0, 1])
def test_a_duplicated_history_line_is_read_once(store, duplicated):
    publish(store, "v1", slope=1.0)
    publish(store, "v2", slope=2.0)
    lines = read_bytes(store, "onlineapp/history.jsonl").splitlines(keepends=True)
    write_bytes(store, "onlineapp/history.jsonl", b"".join([*lines, lines[duplicated]]))
    assert read_current_version(store, APP) == "v2"
    assert rollback_model(store, APP) == "v1"
    assert read_current_version(store, APP) == "v1"


def test_a_deploy_line_written_twice_is_no_version_to_roll_back_to(store):
    publish(store, "v1", slope=1.0)
    line = read_bytes(store, "onlineapp/history.jsonl")
    write_bytes(store, "onlineapp/history.jsonl", line + line)
    with pytest.raises(RegistryError, match=r"no model version of onlineapp was current before the current one \(v1\)"):
        rollback_model(store, APP)
    assert read_current_version(store, APP) == "v1"


@pytest.mark.parametrize("settings", [["a"], "a,b", 7])
def test_metadata_of_the_wrong_shape_reads_as_no_feature_columns_and_does_not_load(tmp_path, settings):
    from carolbatch.registry import current_feature_columns

    local = LocalStore(tmp_path / "models")
    publish_model(local, APP, "v1", fitted(1.0), {"version": "v1", "settings": settings})
    assert current_feature_columns(local, APP) == ()
    with pytest.raises(RegistryError, match="settings that are not a JSON object"):
        load_current(local, APP)
