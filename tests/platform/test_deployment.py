from __future__ import annotations

import pytest

from carolbatch.deployment import Deployment, deployment_is_current, stale_decision_reason
from carolbatch.gate import REMEDY
from carolbatch.evaluation import Thresholds, evaluate_model
from carolbatch.registry import load_current_model, read_current_version, read_version_metadata
from carolbatch.storage.stores import LocalStore
from tests.conftest import FEATURES, deploy_tiny, train_tiny


def challenger(frame, epochs):
    trained = train_tiny(frame, epochs, l2=0.0)
    # No baseline margin: these tests are about the champion comparison, with deliberately poor models.
    return trained, evaluate_model(trained, Thresholds(min_improvement_over_baseline=-1e9))


def deploy(store, version, frame, epochs, tolerance=0.0):
    trained, evaluation = challenger(frame, epochs)
    return deploy_tiny(store, "online", version, trained, evaluation, frame, tolerance,
                       settings={"model_epochs": epochs, "data_fingerprint": "file:abc"})


def test_first_model_is_published_with_its_metadata(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    decision = deploy(store, "v1", tiny_frame, 300)
    assert decision.version == "v1" and decision.champion is None
    assert read_current_version(store, "online") == "v1"
    metadata = read_version_metadata(store, "online", "v1")
    assert metadata["source"] == {"source": "tiny", "data_fingerprint": "file:abc"}
    assert metadata["settings"]["model_epochs"] == 300
    assert metadata["training"]["epochs_run"] == 300 == metadata["metrics"]["training"]["epochs_run"]
    assert metadata["rows"] == {"train": 10, "validation": 4, "test": 6}
    assert metadata["decision"]["version"] == "v1" and metadata["split"]["key_columns"] == ["id"]


def test_worse_challenger_is_refused_and_current_stays(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    decision = deploy(store, "v2", tiny_frame, 1)
    assert decision.version is None and decision.champion == "v1"
    assert "champion_tolerance" in decision.reason
    assert read_current_version(store, "online") == "v1"
    assert not (tmp_path / "online" / "v2").exists()


def test_tolerance_lets_a_slightly_worse_challenger_through(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    assert deploy(store, "v2", tiny_frame, 1, tolerance=1e9).version == "v2"
    assert read_current_version(store, "online") == "v2"


def test_a_version_is_never_overwritten(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    with pytest.raises(Exception, match="already exists"):
        deploy(store, "v1", tiny_frame, 200, tolerance=1e9)


def test_published_version_keeps_a_check_record_its_model_predicts(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    record = read_version_metadata(store, "online", "v1")["check_record"]
    assert set(record["features"]) == set(FEATURES)
    row = next(row for _, row in tiny_frame.iterrows() if all(row[name] == record["features"][name]
                                                               for name in FEATURES))
    model = load_current_model(store, "online")
    assert model.predict(row[list(FEATURES)].to_frame().T.astype(float))[0] == record["prediction"]


def test_the_same_model_on_the_same_data_creates_no_new_version(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    decision = deploy(store, "v2", tiny_frame, 300)
    assert decision.version is None and "identical to deployed model v1" in decision.reason
    assert not (tmp_path / "online" / "v2").exists()


def test_a_champion_that_does_not_verify_blocks_deployment_with_the_reason(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    (tmp_path / "online" / "v1" / "model.pkl").write_bytes(b"torn")
    decision = deploy(store, "v2", tiny_frame, 200, tolerance=1e9)
    assert decision.version is None and decision.champion == "v1"
    assert "v1 of online does not verify: model.pkl" in decision.reason and "--rollback" in decision.reason


def test_a_champion_without_its_columns_blocks_deployment(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    trained, evaluation = challenger(tiny_frame, 300)
    decision = deploy_tiny(store, "online", "v2", trained, evaluation, tiny_frame.drop(columns="b"), 1e9,
                           settings={"data_fingerprint": "file:other"})
    assert decision.version is None and decision.reason.endswith(f"no usable column b; {REMEDY}")


def test_derived_files_are_repaired_before_the_champion_is_read(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    (tmp_path / "online" / "current").write_text("garbage")
    (tmp_path / "online" / "model.pkl").unlink()
    deploy(store, "v2", tiny_frame, 200, tolerance=1e9)
    assert (tmp_path / "online" / "current").read_text() == "v2"
    assert (tmp_path / "online" / "model.pkl").read_bytes() == (tmp_path / "online" / "v2" / "model.pkl").read_bytes()


def test_a_deployment_holds_only_while_its_version_is_the_current_model(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    assert deployment_is_current(store, "online", Deployment("v1", "better"))
    assert not deployment_is_current(store, "online", Deployment("v9", "better"))
    deploy(store, "v2", tiny_frame, 1, tolerance=1000)
    assert read_current_version(store, "online") == "v2"
    assert not deployment_is_current(store, "online", Deployment("v1", "better"))  # present, no longer current
    reason = stale_decision_reason(store, "online", Deployment("v1", "better", decided_at="2026-01-01T00:00:00"))
    assert reason.startswith("the deploy decision of 2026-01-01T00:00:00 no longer holds") and "(v2)" in reason


def test_a_refusal_without_a_champion_holds_while_there_is_none(tmp_path):
    assert deployment_is_current(LocalStore(tmp_path), "online", Deployment(None, "thresholds", champion=None))


def test_a_refusal_goes_stale_when_the_champion_changes(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    refusal = Deployment(None, "worse than v1", champion="v1")
    assert deployment_is_current(store, "online", refusal)
    deploy(store, "v2", tiny_frame, 1, tolerance=1000)
    assert read_current_version(store, "online") == "v2"
    assert not deployment_is_current(store, "online", refusal)
    assert not deployment_is_current(store, "online", Deployment(None, "thresholds", champion=None))


def republish_v1_with(store, tmp_path, tiny_frame, split=None, model=None, metadata_changes=None):
    """v1 as a deploy published it, then published again in a fresh registry with its split rule, its model or
    other metadata replaced (a registry edited by hand, checksums made to match)."""
    from carolbatch.registry import publish_model

    scratch = LocalStore(tmp_path / "scratch")
    deploy(scratch, "v1", tiny_frame, 300)
    metadata = read_version_metadata(scratch, "online", "v1")
    metadata["split"].update(split or {})
    metadata.update(metadata_changes or {})
    publish_model(store, "online", "v1", model if model is not None else load_current_model(scratch, "online"),
                  metadata)


@pytest.mark.parametrize("split", [{"test_size": float("nan")}, {"test_size": 1e300}, {"random_state": -1},
                                   {"validation_size": -0.5}, {"key_columns": []}])
def test_a_champion_whose_split_rule_is_out_of_range_is_not_comparable_and_can_be_replaced(tmp_path, tiny_frame,
                                                                                            split):
    store = LocalStore(tmp_path / "registry")
    republish_v1_with(store, tmp_path, tiny_frame, split=split)
    refused = deploy(store, "v2", tiny_frame, 200, tolerance=1e9)
    assert refused.version is None and "not comparable with deployed model v1" in refused.reason
    assert "records no split rule" in refused.reason and "\n" not in refused.reason
    trained, evaluation = challenger(tiny_frame, 200)
    replaced = deploy_tiny(store, "online", "v3", trained, evaluation, tiny_frame, replace=True)
    assert replaced.version == "v3" and read_current_version(store, "online") == "v3"


class BrokenModel:
    """A pickled object whose predict fails on any records."""

    def predict(self, frame):
        raise TypeError("this model predicts nothing:\n- not a\n- not b")


@pytest.mark.parametrize("model, problem", [("not a model", "not a model with predict"),
                                            ({"predict": 1}, "not a model with predict"),
                                            (BrokenModel(), "cannot predict these records (TypeError")])
def test_a_champion_whose_model_cannot_predict_can_be_replaced(tmp_path, tiny_frame, model, problem):
    store = LocalStore(tmp_path / "registry")
    republish_v1_with(store, tmp_path, tiny_frame, model=model)
    refused = deploy(store, "v2", tiny_frame, 200, tolerance=1e9)
    assert refused.version is None and problem in refused.reason
    assert "--replace-champion" in refused.reason and "\n" not in refused.reason
    trained, evaluation = challenger(tiny_frame, 200)
    assert deploy_tiny(store, "online", "v3", trained, evaluation, tiny_frame, replace=True).version == "v3"
    assert read_current_version(store, "online") == "v3"


def test_a_corrupt_only_version_is_replaced_with_replace_champion(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    deploy(store, "v1", tiny_frame, 300)
    (tmp_path / "online" / "v1" / "model.pkl").write_bytes(b"torn")
    trained, evaluation = challenger(tiny_frame, 200)
    decision = deploy_tiny(store, "online", "v2", trained, evaluation, tiny_frame, replace=True)
    assert decision.version == "v2" and decision.champion == "v1" and "does not verify" in decision.reason
    assert read_current_version(store, "online") == "v2"
    assert load_current_model(store, "online") is not None


def test_replace_champion_with_the_same_model_on_the_same_data_publishes_nothing(tmp_path, tiny_frame):
    store = LocalStore(tmp_path)
    settings = {"model_epochs": 300, "data_fingerprint": "file:abc"}
    for version in ("v1", "v2"):
        trained, evaluation = challenger(tiny_frame, 300)
        decision = deploy_tiny(store, "online", version, trained, evaluation, tiny_frame, replace=True,
                               settings=settings)
    assert decision.version is None and "identical to deployed model v1" in decision.reason
    assert read_current_version(store, "online") == "v1" and not (tmp_path / "online" / "v2").exists()


@pytest.mark.parametrize("changes, problem", [({"settings": ["y"]}, "holds settings that are not a JSON object"),
                                              ({"feature_columns": 7, "settings": {}}, "names no feature_columns")])
def test_a_champion_with_metadata_of_the_wrong_shape_can_be_replaced(tmp_path, tiny_frame, changes, problem):
    store = LocalStore(tmp_path / "registry")
    republish_v1_with(store, tmp_path, tiny_frame, metadata_changes=changes)
    refused = deploy(store, "v2", tiny_frame, 200, tolerance=1e9)
    assert refused.version is None and problem in refused.reason and "\n" not in refused.reason
    trained, evaluation = challenger(tiny_frame, 200)
    assert deploy_tiny(store, "online", "v3", trained, evaluation, tiny_frame, replace=True).version == "v3"
