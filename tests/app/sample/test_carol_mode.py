"""The whole pipeline in Carol mode at pycarol's boundary: settings from Apps, records through the
BigQuery reader, targets and the deployed model through Storage (all autospecced from the real classes)."""

from __future__ import annotations

import logging
from unittest.mock import create_autospec

import pandas as pd
import pycarol
import pytest

import carolbatch.storage.bigquery_reader
from app.pipeline import APP
from carolbatch.control.runner import run_pipeline
from carolbatch.control.startup import prepare_run
from carolbatch.errors import AppError
from carolbatch.storage.bigquery_reader import BigQueryReader
from tests.app.conftest import TASK_COUNT
from tests.conftest import PROJECT_DIR, sample_columns_query, sample_query_stream

ENVIRONMENT = {"CAROLTENANT": "tenant1", "CAROLAPPNAME": "bostonhousebatch", "CAROLAPPOAUTH": "key",
               "CAROLCONNECTORID": "connector1"}


@pytest.fixture
def carol_platform(monkeypatch, fake_storages, tmp_path):
    carol_class = create_autospec(pycarol.Carol)
    carol_class.return_value.app_name = "bostonhousebatch"
    apps_class = create_autospec(pycarol.Apps)
    apps_class.return_value.get_settings.return_value = {
        "model_epochs": "800", "deploy_app": "bostononline", "input_connector": "boston_house_price"}
    reader_class = create_autospec(BigQueryReader)
    queries: list[str] = []

    def probe(sql):
        queries.append(sql)
        columns = sample_columns_query(sql)
        if columns is not None:
            return columns
        return pd.DataFrame({"records": [506], "counter": [506], "updated": ["2026-01-01"], "deleted": [0]})

    def stream(sql):
        queries.append(sql)
        return sample_query_stream(sql)

    reader_class.return_value.query_frame.side_effect = probe
    reader_class.return_value.stream.side_effect = stream
    for owner, name, value in ((pycarol, "Carol", carol_class), (pycarol, "Apps", apps_class),
                               (carolbatch.storage.bigquery_reader, "BigQueryReader", reader_class)):
        monkeypatch.setattr(owner, name, value)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    formatters = [(handler, handler.formatter) for handler in root.handlers]
    yield {"carol": carol_class, "apps": apps_class, "queries": queries, "storages": fake_storages,
           "reader": reader_class}
    for handler, formatter in formatters:
        handler.setFormatter(formatter)


def test_carol_mode_reads_settings_and_staging_and_deploys_to_the_deploy_app(carol_platform, tmp_path):
    plan = prepare_run(APP, PROJECT_DIR, {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t")}, [])
    assert plan.carol_mode and plan.settings.model_epochs == 800 and plan.settings.deploy_app == "bostononline"
    assert carol_platform["carol"].call_args.kwargs["domain"] == "tenant1"

    outcome = run_pipeline(APP.pipeline, plan.root, workers=1, scheduler_host=None, scheduler_port=8082)

    assert outcome.succeeded and len(outcome.ran) == TASK_COUNT and outcome.deployed
    ingestion_sql = carol_platform["queries"][-1]
    assert "stg_boston_house_price_samples" in ingestion_sql and "ROW_NUMBER()" in ingestion_sql
    assert "mdmDeleted" in ingestion_sql
    objects = carol_platform["storages"].objects
    batch_targets = [name for name in objects["bostonhousebatch"] if name.endswith(".pkl")]
    assert len(batch_targets) == TASK_COUNT and all(name.startswith("pipeline/") for name in batch_targets)
    assert objects["bostononline"]["bostononline/current"].decode() == outcome.deployed
    assert f"bostononline/{outcome.deployed}/model.pkl" in objects["bostononline"]
    assert "bostononline/model.pkl" in objects["bostononline"]
    assert not (tmp_path / "t").exists() or not any((tmp_path / "t").rglob("*.pkl"))


def test_carol_mode_reuses_targets_from_carol_storage(carol_platform, tmp_path):
    environment = {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t")}
    first = run_pipeline(APP.pipeline, prepare_run(APP, PROJECT_DIR, environment, []).root, 1, None, 8082)
    second = run_pipeline(APP.pipeline, prepare_run(APP, PROJECT_DIR, environment, []).root, 1, None, 8082)
    assert first.succeeded and second.succeeded
    assert (len(second.ran), len(second.reused)) == (0, TASK_COUNT)


def test_carol_mode_with_cloud_target_false_keeps_targets_local(carol_platform, tmp_path):
    environment = {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t"), "CLOUD_TARGET": "false"}
    outcome = run_pipeline(APP.pipeline, prepare_run(APP, PROJECT_DIR, environment, []).root, 1, None, 8082)
    assert outcome.succeeded
    assert len(list((tmp_path / "t").rglob("*.pkl"))) == TASK_COUNT
    assert "bostonhousebatch" not in carol_platform["storages"].objects


def test_unreadable_app_settings_stop_the_run_with_one_line(carol_platform, tmp_path):
    carol_platform["apps"].return_value.get_settings.side_effect = RuntimeError("app not found\ndetails")
    with pytest.raises(AppError) as raised:
        prepare_run(APP, PROJECT_DIR, {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t")}, [])
    assert raised.value.exit_code == 1
    assert str(raised.value) == "Carol app settings of bostonhousebatch could not be read: app not found"


def test_failed_staging_probe_stops_the_run_with_one_line(carol_platform, tmp_path):
    carol_platform["reader"].return_value.query_frame.side_effect = RuntimeError("403 Access Denied: table stg_x")
    with pytest.raises(AppError) as raised:
        prepare_run(APP, PROJECT_DIR, {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t")}, [])
    assert raised.value.exit_code == 1
    assert "staging table could not be probed in Carol: 403 Access Denied" in str(raised.value)


def test_carol_app_settings_as_carol_sends_them(carol_platform, tmp_path, caplog):
    carol_platform["apps"].return_value.get_settings.return_value = {
        "deploy_app": None, "model_epochs": "", "feature_columns": '["CRIM", "ZN"]', "float32": True,
        "extra_online_setting": "x", "model_l2regularization": 0.5}
    plan = prepare_run(APP, PROJECT_DIR, {**ENVIRONMENT, "APP_TARGET_DIR": str(tmp_path / "t"), "APP_ENV": "prod"}, [])
    settings = plan.settings
    assert settings.deploy_app == "bostonhouseonline" and settings.model_epochs == 1000
    assert settings.feature_columns == ("CRIM", "ZN") and settings.float32 and settings.model_l2regularization == 0.5
    warnings = [record.getMessage() for record in caplog.records if "does not know" in record.getMessage()]
    assert warnings == ["ignoring settings this app does not know: extra_online_setting (Carol app settings), "
                        "APP_ENV (environment)"]
