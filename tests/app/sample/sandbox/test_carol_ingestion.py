"""run.py in Carol mode ingesting staging columns of every type: Storage Read API, REST fallback, bad values."""

from __future__ import annotations

import decimal
import pickle
from pathlib import Path

import pandas as pd
import pytest
import requests

from carolbatch.storage.artifacts import load_artifact
from carolbatch.storage.stores import LocalStore
from sandbox.staging import stage_records
from sandbox.storage import storage_client
from sandbox.storage_read import DEFAULT_STREAMS, cut_storage_read_streams, set_storage_read_api, set_storage_read_streams
from sandbox.tenant import open_tenant, write_app_settings
from tests.app.conftest import ALL_TASKS
from tests.app.sample.sandbox.conftest import SandboxProcess, carol_environment, carol_staging_records, expected_record_count
from tests.app.sample.sandbox.test_run_in_carol_mode import APP_NAME, log_messages, stored_names
from tests.conftest import run_app, summary_of

DEPLOY_APP = "bostontypesonline"
CONNECTOR, STAGING = "boston_house_price", "samples"
STRING_COLUMNS = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM")
NUMERIC_COLUMNS = ("AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    process = SandboxProcess(tmp_path_factory.mktemp("types_sandbox"))
    # Default training (early stopping): a model must beat the mean predictor to be deployed (issue 13's gate).
    write_app_settings(process.folder, APP_NAME, {"deploy_app": DEPLOY_APP})
    write_app_settings(process.folder, DEPLOY_APP, {})
    yield process
    process.stop()


def typed_records(updated: str) -> pd.DataFrame:
    """The staging records with features as a connector may deliver them: STRING and NUMERIC columns."""
    records = carol_staging_records().assign(mdmLastUpdated=updated)
    for name in STRING_COLUMNS:
        records[name] = records[name].map(repr)
    for name in NUMERIC_COLUMNS:
        records[name] = records[name].map(lambda value: decimal.Decimal(repr(value)))
    return records


def run_ingestion(sandbox: SandboxProcess, workdir: Path):
    """run.py with local targets in `workdir` (each workdir ingests afresh); returns the result and Records."""
    workdir.mkdir(parents=True, exist_ok=True)
    result = run_app(workdir, env=carol_environment(workdir, sandbox.environment, CLOUD_TARGET="false"))
    targets = sorted((workdir / "luigi_targets").glob("IngestRecords/*.pkl"))
    records = load_artifact(LocalStore(workdir / "luigi_targets"), f"IngestRecords/{targets[0].name}") if targets else None
    return result, records


@pytest.fixture(scope="module")
def double_run(sandbox, tmp_path_factory):
    stage_records(sandbox.folder, CONNECTOR, STAGING, carol_staging_records())
    return run_ingestion(sandbox, tmp_path_factory.mktemp("double"))


@pytest.fixture(scope="module")
def fallback_run(double_run, sandbox, tmp_path_factory):
    set_storage_read_api(sandbox.folder, False)
    try:
        return run_ingestion(sandbox, tmp_path_factory.mktemp("fallback"))
    finally:
        set_storage_read_api(sandbox.folder, True)


@pytest.fixture(scope="module")
def typed_run(fallback_run, sandbox, tmp_path_factory):
    stage_records(sandbox.folder, CONNECTOR, STAGING, typed_records("2026-11-03 10:00:00"), file_format="parquet")
    return run_ingestion(sandbox, tmp_path_factory.mktemp("typed"))


def test_double_columns_stream_through_the_storage_read_api(double_run):
    result, records = double_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert any("through the BigQuery Storage Read API" in message for message in log_messages(result)), result.stderr[-4000:]
    assert len(records.frame) == expected_record_count(carol_staging_records())
    assert records.frame["sample"].is_monotonic_increasing


def streamed_run(sandbox, workdir: Path, streams: int):
    """run_ingestion with the sandbox offering `streams` streams a session; also returns the trained model."""
    set_storage_read_streams(sandbox.folder, streams)
    try:
        result, records = run_ingestion(sandbox, workdir)
    finally:
        set_storage_read_streams(sandbox.folder, DEFAULT_STREAMS)
    trained = sorted((workdir / "luigi_targets").glob("TrainModel/*.pkl"))
    model = load_artifact(LocalStore(workdir / "luigi_targets"), f"TrainModel/{trained[0].name}") if trained else None
    return result, records, model


def test_several_streams_at_once_give_the_records_and_model_of_one_stream(double_run, sandbox, tmp_path):
    result, records, model = streamed_run(sandbox, tmp_path / "many", DEFAULT_STREAMS)
    single, single_records, single_model = streamed_run(sandbox, tmp_path / "one", 1)
    assert result.returncode == single.returncode == 0, result.stderr[-3000:] + single.stderr[-3000:]
    assert any(f"Storage Read API ({DEFAULT_STREAMS} streams at once)" in line for line in log_messages(result))
    assert any("Storage Read API (1 stream)" in line for line in log_messages(single))
    assert sandbox_counters(sandbox)["storage read streams at once"] > 1
    assert records.frame["sample"].is_unique and len(records.frame) == expected_record_count(carol_staging_records())
    pd.testing.assert_frame_equal(records.frame, single_records.frame)
    # The same parts and the same fitted model (its training facts hold timings, which differ).
    for part in ("train_rows", "validation_rows", "test_rows"):
        assert (getattr(model.split, part) == getattr(single_model.split, part)).all()
    assert pickle.dumps(model.model) == pickle.dumps(single_model.model)
    assert (model.y_test_predicted == single_model.y_test_predicted).all()
    assert model.validation_losses == single_model.validation_losses


def test_a_short_read_fails_naming_both_counts_and_keeps_nothing(double_run, sandbox, tmp_path):
    cut_storage_read_streams(sandbox.folder, 3)
    try:
        result, saved = run_ingestion(sandbox, tmp_path)
    finally:
        cut_storage_read_streams(sandbox.folder, 0)
    expected = expected_record_count(carol_staging_records())
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode != 0 and saved is None and len(errors) == 1, result.stderr[-3000:]
    assert f"the query returned {expected} records but {expected - 3} arrived" in errors[0]
    assert "Traceback" not in result.stderr


def test_refused_storage_api_falls_back_to_rest_pages_with_identical_records(double_run, fallback_run):
    result, records = fallback_run
    assert result.returncode == 0, result.stderr[-3000:]
    assert any("through the BigQuery REST result pages" in message for message in log_messages(result))
    pd.testing.assert_frame_equal(records.frame, double_run[1].frame)


def test_string_and_numeric_feature_columns_give_the_same_records(double_run, typed_run):
    result, records = typed_run
    assert result.returncode == 0, result.stderr[-3000:]
    pd.testing.assert_frame_equal(records.frame, double_run[1].frame)


def sandbox_counters(sandbox: SandboxProcess) -> dict[str, int]:
    environment = sandbox.environment
    url = f"{environment['BIGQUERY_EMULATOR_HOST']}/sandbox/counters"
    return requests.get(url, verify=environment["REQUESTS_CA_BUNDLE"], timeout=10).json()


def test_a_no_op_rerun_downloads_no_target_bytes_and_reuses_its_tokens(typed_run, sandbox, tmp_path):
    environment = carol_environment(tmp_path, sandbox.environment)
    first = run_app(tmp_path, env=environment)
    assert summary_of(first)["ran"] == ALL_TASKS, first.stderr[-3000:]
    before = sandbox_counters(sandbox)
    rerun = run_app(tmp_path, env=environment)
    after = sandbox_counters(sandbox)
    assert (summary_of(rerun)["ran"], summary_of(rerun)["reused"]) == ("0", ALL_TASKS)
    made = {key: after[key] - before.get(key, 0) for key in after}
    # Checksum records, registry records and the run log only: no target, no model.
    assert made.get("storage download bytes of .pkl objects", 0) == 0, made
    assert 0 < made["storage download bytes"] < 40_000, made
    # One service account in the stand-in, so one token for BigQuery and both apps' storages.
    assert made["POST /oauth2/token"] == 1 and made.get("storage read sessions", 0) == 0, made


# A NULL is a blank cell, imputed by the model (tests/app/sample/sandbox/test_own_table_in_carol.py).
@pytest.mark.parametrize(("bad_value", "shown"), [("12 m", "'12 m'")])
def test_a_value_that_is_not_a_number_fails_in_one_line_and_keeps_the_deployed_model(
        typed_run, sandbox, tmp_path, bad_value, shown):
    assert summary_of(typed_run[0])["deployed"] != "none"
    current = current_model(sandbox)
    records = typed_records("2026-11-04 10:00:00" if bad_value else "2026-11-05 10:00:00")
    records.loc[records["sample"].isin([41, 42]), "CRIM"] = bad_value
    stage_records(sandbox.folder, CONNECTOR, STAGING, records, file_format="parquet")

    result, saved = run_ingestion(sandbox, tmp_path)

    assert result.returncode != 0 and saved is None
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert f"column CRIM holds {shown} in record sample=41, not a finite number" in errors[0]
    assert "Traceback" not in result.stderr
    assert current_model(sandbox) == current


def current_model(sandbox: SandboxProcess) -> str:
    """The version the deploy app's `current` names."""
    assert f"{DEPLOY_APP}/current" in stored_names(sandbox, DEPLOY_APP)
    bucket = storage_client(sandbox.environment["STORAGE_EMULATOR_HOST"], "sandbox").bucket(
        open_tenant(sandbox.folder).bucket)
    return bucket.blob(f"carolapps/{DEPLOY_APP}/files/{DEPLOY_APP}/current").download_as_bytes().decode()
