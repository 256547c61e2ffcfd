"""Category codes that look like numbers (`1`, `01`, `24`, a blank) in a local CSV file and in the Carol
sandbox's staging table: both modes read them as the same text, keep `01` apart from `1`, and train the same
model from the same values."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest

from sandbox.staging import stage_records
from sandbox.storage import storage_client
from sandbox.tenant import open_tenant, write_app_settings
from tests.app.sample.recipes.test_own_table import own_table
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import SAMPLE_DATA, run_app, summary_of

BATCH_APP = "bostonhouse"
DEPLOY_APP = "zonesonline"
CONNECTOR, STAGING = "zones", "records"
FEATURES = ("crime_rate", "rooms", "age", "lower_status", "tax", "zone")


def zoned_table() -> pd.DataFrame:
    """The own table with an id and a zone code instead of a district: `01` on the river, else the highway
    index as written (`1` ... `24`), one zone blank."""
    sample = pd.read_csv(SAMPLE_DATA)
    table = own_table().drop(columns="district")
    table.insert(0, "house", np.arange(len(table)))
    table.insert(6, "zone", np.where(sample["CHAS"] == 1, "01", sample["RAD"].astype(str)).astype(object))
    table.loc[10, "zone"] = None
    return table


def settings() -> dict[str, str]:
    return {"feature_columns": ",".join(FEATURES), "categorical_columns": "zone", "target_column": "price",
            "id_column": "house", "model_epochs": "20", "deploy_app": DEPLOY_APP}


@pytest.fixture(scope="module")
def models(sandbox_process, tmp_path_factory):
    """The model each mode deployed from the same table: (local, Carol)."""
    table = zoned_table()
    local_dir = tmp_path_factory.mktemp("zones_local")
    table.to_csv(local_dir / "zones.csv", index=False)
    assignments = [f"--set={name}={value}" for name, value in {**settings(), "data_path": "zones.csv"}.items()]
    local = run_app(local_dir, *assignments)
    assert local.returncode == 0, local.stdout + local.stderr[-3000:]

    staged = table.assign(mdmId=[f"house-{number}" for number in range(len(table))], mdmCounterForEntity=1,
                          mdmDeleted=False, mdmLastUpdated="2026-11-02 10:00:00")
    stage_records(sandbox_process.folder, CONNECTOR, STAGING, staged, file_format="parquet")
    write_app_settings(sandbox_process.folder, BATCH_APP,
                       {**settings(), "input_connector": CONNECTOR, "input_staging": STAGING})
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {"deploy_app": DEPLOY_APP})
    carol_dir = tmp_path_factory.mktemp("zones_carol")
    carol = run_app(carol_dir, env=carol_environment(carol_dir, sandbox_process.environment))
    assert carol.returncode == 0, carol.stdout + carol.stderr[-3000:]

    local_version, carol_version = summary_of(local)["deployed"], summary_of(carol)["deployed"]
    local_model = joblib.load(local_dir / "models" / DEPLOY_APP / local_version / "model.pkl")
    bucket = storage_client(sandbox_process.environment["STORAGE_EMULATOR_HOST"], project="sandbox").bucket(
        open_tenant(sandbox_process.folder).bucket)
    data = bucket.blob(f"carolapps/{DEPLOY_APP}/files/{DEPLOY_APP}/{carol_version}/model.pkl").download_as_bytes()
    return local_model, joblib.load(io.BytesIO(data))


def test_local_and_carol_mode_train_the_same_model_from_the_same_codes(models):
    table = zoned_table()[list(FEATURES)]
    local, carol = (model.predict(table) for model in models)
    np.testing.assert_allclose(local, carol, rtol=1e-9)


def test_a_code_with_a_leading_zero_is_its_own_category_in_both_modes(models):
    record = zoned_table()[list(FEATURES)].iloc[[0]]
    for model in models:
        answers = {zone: float(model.predict(record.assign(zone=zone))[0]) for zone in ("01", "1", "24")}
        assert len(set(answers.values())) == 3, answers
