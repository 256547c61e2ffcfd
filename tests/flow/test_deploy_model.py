"""DeployModel's gate: the challenger against the champion on the same test rows, locally and in Carol mode
(pycarol's Carol, BQ and Storage autospecced from the real classes)."""

from __future__ import annotations

import json
from unittest.mock import create_autospec

import pycarol
import pytest

from app.pipeline import PIPELINE
from carolbatch.control.runner import build_pipeline, run_pipeline
from carolbatch.tasks import pipeline_params
from carolbatch.evaluation import score_predictions
from carolbatch.registry import load_current, read_current_version, rollback_model
from carolbatch.storage.bigquery_reader import BigQueryReader
from carolbatch.storage.run_context import RunContext
from carolbatch.storage.stores import CarolStore, LocalStore
from tests.conftest import SAMPLE_DATA, default_settings, sample_fingerprint, sample_query_stream

GOOD, BAD = 300, 100  # 100 epochs: worse than 300, still better than the mean predictor
APP = "bostonhouseonline"


def pipeline(tmp_path, context: RunContext | None = None, **overrides):
    settings = default_settings(data_path=str(SAMPLE_DATA), target_dir=str(tmp_path / "t"),
                                registry_dir=str(tmp_path / "m"), **overrides)
    carol_mode = context is not None
    params = pipeline_params(settings, sample_fingerprint(), carol_mode=carol_mode, cloud_targets=False)
    return build_pipeline(PIPELINE, params, context)


def run(root):
    outcome = run_pipeline(PIPELINE, root, 1, None, 8082)
    assert outcome.succeeded, outcome.failed
    return outcome


def test_worse_challenger_is_scored_against_the_champion_and_not_deployed(tmp_path):
    store = LocalStore(tmp_path / "m")
    champion = run(pipeline(tmp_path, model_epochs=GOOD)).deployed
    challenger = pipeline(tmp_path, model_epochs=BAD)

    outcome = run(challenger)

    assert outcome.deployed is None and read_current_version(store, APP) == champion
    deployment = challenger.output().load()
    assert deployment.champion == champion
    trained = challenger.requires()[0].output().load()
    records = challenger.requires()[2].output().load()
    current = load_current(store, APP)
    champion_rmse = score_predictions(
        trained.y_test, current.model.predict(records.frame[list(current.feature_columns)].to_numpy()[
            trained.split.test_rows])).rmse
    assert f"vs {champion_rmse:.3f} of deployed model {champion}" in outcome.deploy_reason
    assert "worse by more than champion_tolerance=0" in outcome.deploy_reason


def test_a_large_tolerance_lets_the_worse_challenger_replace_the_champion(tmp_path):
    run(pipeline(tmp_path, model_epochs=GOOD))
    outcome = run(pipeline(tmp_path, model_epochs=BAD, champion_tolerance=1000))
    assert outcome.deployed and read_current_version(LocalStore(tmp_path / "m"), APP) == outcome.deployed
    assert "not worse by more than champion_tolerance=1000" in outcome.deploy_reason


def test_a_refusal_is_decided_again_once_the_champion_changes(tmp_path):
    store = LocalStore(tmp_path / "m")
    first = run(pipeline(tmp_path, model_epochs=BAD)).deployed
    better = run(pipeline(tmp_path, model_epochs=GOOD)).deployed
    middle = pipeline(tmp_path, model_epochs=200)
    assert run(middle).deployed is None
    assert run(pipeline(tmp_path, model_epochs=200)).ran == []

    rollback_model(store, APP, first)
    again = run(pipeline(tmp_path, model_epochs=200))

    assert again.ran == ["DeployModel"] and again.deployed and again.deployed not in (first, better)
    assert read_current_version(store, APP) == again.deployed


def test_published_version_carries_report_plots_and_the_decision(tmp_path):
    outcome = run(pipeline(tmp_path, model_epochs=GOOD))
    folder = tmp_path / "m" / APP / outcome.deployed
    assert {path.name for path in folder.iterdir()} == {
        "model.pkl", "metadata.json", "report.html", "residuals.png", "predicted_vs_true.png", "checksums.json"}
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["decision"] == {"reason": outcome.deploy_reason, "champion": None, "champion_test": None}
    assert metadata["source"] == {"source": str(SAMPLE_DATA), "data_fingerprint": sample_fingerprint()}


@pytest.fixture
def carol_session(monkeypatch, fake_storages):
    """A Carol session whose staging query answers with the sample data and whose storages live in memory."""
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = "bostonhousebatch"
    reader = create_autospec(BigQueryReader, instance=True)
    reader.stream.side_effect = sample_query_stream
    return RunContext(carol=carol, bigquery=reader), fake_storages


def test_carol_mode_gate_loads_the_champion_from_the_deploy_app_storage(tmp_path, carol_session):
    context, storages = carol_session
    champion = run(pipeline(tmp_path, context, model_epochs=GOOD)).deployed
    deploy_objects = storages.objects[APP]
    assert deploy_objects[f"{APP}/current"].decode() == champion
    objects_before = len(deploy_objects)

    outcome = run(pipeline(tmp_path, context, model_epochs=BAD))

    assert outcome.deployed is None and f"of deployed model {champion}" in outcome.deploy_reason
    assert deploy_objects[f"{APP}/current"].decode() == champion and len(deploy_objects) == objects_before
    assert not (tmp_path / "m").exists()
    online_app = create_autospec(pycarol.Carol, instance=True)
    online_app.app_name = APP
    assert load_current(CarolStore(pycarol.Storage(online_app), APP), APP).version == champion
