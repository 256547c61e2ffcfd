"""An own table staged in the Carol sandbox (a STRING category, NULL numbers, no id column of its own) trains and
deploys in Carol mode, and the online app in Carol mode answers for records with a category and a null."""

from __future__ import annotations

import io

import joblib
import pandas as pd
import pytest

from sandbox.staging import stage_records
from sandbox.storage import storage_client
from sandbox.tenant import open_tenant, write_app_settings
from tests.app.online.server_process import ServerProcess
from tests.app.sample.recipes.test_own_table import FEATURES, own_table
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import run_app, summary_of

BATCH_APP = "bostonhouse"
DEPLOY_APP = "housesonline"
CONNECTOR, STAGING = "houses", "records"


def staged_table() -> pd.DataFrame:
    table = own_table()
    return table.assign(mdmId=[f"house-{number}" for number in range(len(table))], mdmCounterForEntity=1,
                        mdmDeleted=False, mdmLastUpdated="2026-11-02 10:00:00")


def own_settings() -> dict[str, str]:
    """The table's settings as the Carol app settings hold them (text)."""
    return {"input_connector": CONNECTOR, "input_staging": STAGING, "feature_columns": ",".join(FEATURES),
            "categorical_columns": "district", "target_column": "price", "model_epochs": "60",
            "deploy_app": DEPLOY_APP}


@pytest.fixture(scope="module")
def carol_run(sandbox_process, tmp_path_factory):
    stage_records(sandbox_process.folder, CONNECTOR, STAGING, staged_table(), file_format="parquet")
    write_app_settings(sandbox_process.folder, BATCH_APP, own_settings())
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {"deploy_app": DEPLOY_APP})
    workdir = tmp_path_factory.mktemp("own_table_carol")
    # Carol reads an empty app setting as not set: an empty id_column comes from the environment (or --set).
    result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment, APP_ID_COLUMN=""))
    return workdir, result


def test_an_own_table_in_carol_staging_trains_and_deploys(carol_run):
    _, result = carol_run
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert summary_of(result)["deployed"] != "none"
    assert "column rooms has 30 blank values; the model imputes them" in result.stderr


def test_the_online_app_in_carol_mode_answers_with_a_category_and_a_null(carol_run, sandbox_process,
                                                                         tmp_path_factory):
    _, result = carol_run
    version = summary_of(result)["deployed"]
    online_dir = tmp_path_factory.mktemp("own_table_online")
    server = ServerProcess(online_dir, carol_environment(online_dir, {**sandbox_process.environment,
                                                                      "CAROLAPPNAME": DEPLOY_APP}))
    try:
        server.wait_ready()
        record = {"crime_rate": 0.02, "rooms": None, "age": 65.2, "lower_status": 4.98, "tax": 296.0,
                  "district": "riverside"}
        status, answer = server.post("/predict", [record, {**record, "district": "nowhere", "age": None}])
        assert status == 200 and answer["version"] == version, answer
        frame = pd.DataFrame([record], columns=list(FEATURES)).astype({"rooms": float})
        assert answer["predictions"][0] == pytest.approx(float(stored_model(sandbox_process, version).predict(
            frame)[0]), rel=1e-9)
    finally:
        server.stop()


def stored_model(sandbox_process, version: str, deploy_app: str = DEPLOY_APP):
    """The model file of `version` in the deploy app's storage, read straight from the emulator."""
    bucket = storage_client(sandbox_process.environment["STORAGE_EMULATOR_HOST"], project="sandbox").bucket(
        open_tenant(sandbox_process.folder).bucket)
    data = bucket.blob(f"carolapps/{deploy_app}/files/{deploy_app}/{version}/model.pkl").download_as_bytes()
    return joblib.load(io.BytesIO(data))


def test_a_text_value_in_a_numeric_column_names_the_record_in_carol(sandbox_process, tmp_path_factory):
    table = staged_table().astype({"tax": object})
    table.loc[7, "tax"] = "high"
    stage_records(sandbox_process.folder, CONNECTOR, "broken", table.astype({"tax": str}), file_format="parquet")
    write_app_settings(sandbox_process.folder, BATCH_APP, {**own_settings(), "input_staging": "broken"})
    workdir = tmp_path_factory.mktemp("own_table_broken")
    result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment, APP_ID_COLUMN=""))
    assert result.returncode == 2, result.stderr[-3000:]
    assert "column tax holds 'high' in record mdmId=house-7, not a finite number" in result.stderr
    assert summary_of(result)["deployed"] == "none"
