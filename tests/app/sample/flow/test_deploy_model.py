"""DeployModel's gate: the challenger against the champion on the same test rows, locally and in Carol mode
(pycarol's Carol, BQ and Storage autospecced from the real classes)."""

from __future__ import annotations

import json
import pickle
import re
from unittest.mock import create_autospec

import joblib
import pandas as pd
import pycarol
import pytest

from app.pipeline import PIPELINE
from carolbatch.control.runner import build_pipeline, run_pipeline
from carolbatch.tasks import pipeline_params
from carolbatch.evaluation import score_predictions
from carolbatch.identity import fingerprint_file
from carolbatch.registry import load_current, read_current_version, rollback_model
from carolbatch.storage.bigquery_reader import BigQueryReader
from carolbatch.storage.run_context import RunContext
from carolbatch.storage.stores import CarolStore, LocalStore
from tests.app.conftest import default_settings
from tests.conftest import SAMPLE_DATA, sample_columns_query, sample_fingerprint, sample_query_stream

# Early stopping ends the defaults at epoch 94 (test RMSE 2.887); capped at 40 epochs 3.292, at 20 3.649: worse,
# still far better than the mean predictor (about 9).
GOOD, MIDDLE, BAD = 300, 40, 20
APP = "bostonhouseonline"


def pipeline(tmp_path, context: RunContext | None = None, **overrides):
    settings = default_settings(data_path=str(SAMPLE_DATA), target_dir=str(tmp_path / "t"),
                                registry_dir=str(tmp_path / "m"), **overrides)
    carol_mode = context is not None
    params = pipeline_params(settings, {"data_path": sample_fingerprint()}, carol_mode=carol_mode, cloud_targets=False)
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
        trained.y_test, current.model.predict(records.frame.loc[trained.split.test_rows,
                                                                list(current.feature_columns)])).rmse
    test_records = len(trained.split.test_rows)
    assert f"vs {champion_rmse:.3f} of deployed model {champion} on {test_records} common test records, difference +" \
           in outcome.deploy_reason
    assert re.search(r"\(95% interval \+[\d.]+ to \+[\d.]+\): worse by more than champion_tolerance=0$",
                     outcome.deploy_reason), outcome.deploy_reason
    report = (tmp_path / "t" / challenger.output().name).with_suffix(".report.html")
    assert deployment.report == str(report) and "<h1>Model not deployed</h1>" in report.read_text()


def test_a_large_tolerance_lets_the_worse_challenger_replace_the_champion(tmp_path):
    run(pipeline(tmp_path, model_epochs=GOOD))
    outcome = run(pipeline(tmp_path, model_epochs=BAD, champion_tolerance=1000))
    assert outcome.deployed and read_current_version(LocalStore(tmp_path / "m"), APP) == outcome.deployed
    assert "not worse by more than champion_tolerance=1000" in outcome.deploy_reason


def test_a_refusal_is_decided_again_once_the_champion_changes(tmp_path):
    store = LocalStore(tmp_path / "m")
    first = run(pipeline(tmp_path, model_epochs=BAD)).deployed
    better = run(pipeline(tmp_path, model_epochs=GOOD)).deployed
    middle = pipeline(tmp_path, model_epochs=MIDDLE)
    assert run(middle).deployed is None
    assert run(pipeline(tmp_path, model_epochs=MIDDLE)).ran == []

    rollback_model(store, APP, first)
    again = run(pipeline(tmp_path, model_epochs=MIDDLE))

    assert again.ran == ["DeployModel"] and again.deployed and again.deployed not in (first, better)
    assert read_current_version(store, APP) == again.deployed


def test_published_version_carries_report_plots_and_the_decision(tmp_path):
    outcome = run(pipeline(tmp_path, model_epochs=GOOD))
    folder = tmp_path / "m" / APP / outcome.deployed
    assert {path.name for path in folder.iterdir()} == {
        "model.pkl", "metadata.json", "report.html", "learning_curve.png", "residuals.png", "predicted_vs_true.png",
        "checksums.json"}
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["decision"] == outcome.decision and outcome.decision["report"] == str(folder / "report.html")
    assert metadata["decision"]["reason"] == outcome.deploy_reason and metadata["decision"]["champion"] is None
    assert metadata["split"] == {"method": "key-hash-v2", "random_state": 1, "test_size": 0.2, "validation_size": 0.1,
                                 "key_columns": ["sample"]}
    assert metadata["source"] == {"source": str(SAMPLE_DATA), "data_fingerprint": sample_fingerprint()}


@pytest.fixture
def carol_session(monkeypatch, fake_storages):
    """A Carol session whose staging query answers with the sample data and whose storages live in memory."""
    carol = create_autospec(pycarol.Carol, instance=True)
    carol.app_name = "bostonhousebatch"
    reader = create_autospec(BigQueryReader, instance=True)
    reader.stream.side_effect = sample_query_stream
    reader.query_frame.side_effect = sample_columns_query
    return RunContext(carol=carol, bigquery=reader), fake_storages


def test_carol_mode_gate_loads_the_champion_from_the_deploy_app_storage(tmp_path, carol_session):
    context, storages = carol_session
    champion = run(pipeline(tmp_path, context, model_epochs=GOOD)).deployed
    deploy_objects = storages.objects[APP]
    assert deploy_objects[f"{APP}/current"].decode() == champion
    objects_before = len(deploy_objects)

    outcome = run(pipeline(tmp_path, context, model_epochs=BAD))

    assert outcome.deployed is None and f"of deployed model {champion} on " in outcome.deploy_reason
    assert outcome.decision["comparison"]["records"] >= 30
    assert deploy_objects[f"{APP}/current"].decode() == champion and len(deploy_objects) == objects_before
    assert not (tmp_path / "m").exists()
    online_app = create_autospec(pycarol.Carol, instance=True)
    online_app.app_name = APP
    assert load_current(CarolStore(pycarol.Storage(online_app), APP), APP).version == champion


def staging_stream_with_text_ids(sql: str):
    """The sample as the staging query gives it when the record key is text."""
    import pyarrow as pa

    from carolbatch.storage.bigquery_reader import QueryStream

    frame = pd.read_csv(SAMPLE_DATA)
    frame = frame.astype({"sample": str, **{name: "float64" for name in frame.columns[1:]}})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return QueryStream(table.num_rows, table.schema, iter(table.to_batches(max_chunksize=100)), "test")


def test_carol_staging_keys_as_text_split_and_gate_as_the_local_file(tmp_path, carol_session):
    context, _ = carol_session
    context.bigquery.stream.side_effect = staging_stream_with_text_ids
    local, carol = pipeline(tmp_path / "local"), pipeline(tmp_path / "carol", context)
    run(local), run(carol)
    parts = []
    for root in (local, carol):
        trained, records = root.requires()[0].output().load(), root.requires()[2].output().load()
        ids = records.frame["sample"]
        assert (ids.dtype.kind == "i") == (root is local)  # text in Carol
        ids = ids.astype(int).to_numpy()
        parts.append([sorted(ids[rows]) for rows in (trained.split.train_rows, trained.split.test_rows)])
    assert parts[0] == parts[1]
    assert carol.output().load().comparison is None and "no model is deployed yet" in carol.output().load().reason


def test_the_sample_in_another_row_order_trains_the_same_model(tmp_path):
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(SAMPLE_DATA).sample(frac=1.0, random_state=0).to_csv(shuffled, index=False)
    first = run(pipeline(tmp_path))
    settings = default_settings(data_path=str(shuffled), target_dir=str(tmp_path / "t"), registry_dir=str(tmp_path / "m"))
    params = pipeline_params(settings, {"data_path": f"file:{fingerprint_file(shuffled)}"}, carol_mode=False, cloud_targets=False)
    again = build_pipeline(PIPELINE, params)
    outcome = run(again)
    published = joblib.load(tmp_path / "m" / APP / first.deployed / "model.pkl")
    trained = again.requires()[0].output().load()
    assert pickle.dumps(trained.model) == pickle.dumps(published)
    comparison = outcome.decision["comparison"]
    assert comparison["challenger"] == comparison["champion"] and comparison["records"] == len(trained.split.test_rows)
