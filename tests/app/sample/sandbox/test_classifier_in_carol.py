"""The classifier recipe in Carol mode: a staging table whose label column is STRING ("benign"/"malignant") trains
a classifier of text labels, judged on ROC AUC, and deploys to the deploy app's Carol storage."""

from __future__ import annotations

import numpy as np
import pytest

from sandbox.staging import stage_records
from sandbox.tenant import write_app_settings
from tests.app.sample.recipes.test_making_it_a_classifier import breast_cancer, make_it_a_classifier
from tests.app.sample.sandbox.conftest import carol_environment
from tests.app.sample.sandbox.test_own_table_in_carol import BATCH_APP, stored_model
from tests.conftest import run_app, summary_of

DEPLOY_APP = "canceronline"
CONNECTOR, STAGING = "clinic", "patients"


def staged_patients():
    table = breast_cancer()
    labels = np.where(table["diagnosis"] == 1, "benign", "malignant")
    return table.drop(columns=["patient"]).assign(
        diagnosis=labels, mdmId=[f"patient-{number}" for number in table["patient"]], mdmCounterForEntity=1,
        mdmDeleted=False, mdmLastUpdated="2026-11-02 10:00:00")


@pytest.fixture(scope="module")
def carol_run(sandbox_process, tmp_path_factory):
    project = make_it_a_classifier(tmp_path_factory.mktemp("classifier_carol") / "project")
    table = staged_patients()
    stage_records(sandbox_process.folder, CONNECTOR, STAGING, table, file_format="parquet")
    features = [name for name in table.columns if name not in ("diagnosis", "mdmId", "mdmCounterForEntity",
                                                                "mdmDeleted", "mdmLastUpdated")]
    write_app_settings(sandbox_process.folder, BATCH_APP, {
        "input_connector": CONNECTOR, "input_staging": STAGING, "feature_columns": ",".join(features),
        "target_column": "diagnosis", "deploy_app": DEPLOY_APP, "decision_metric": "roc_auc", "model_epochs": "60"})
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {"deploy_app": DEPLOY_APP})
    workdir = tmp_path_factory.mktemp("classifier_carol_run")
    # Carol reads an empty app setting as not set: the records go by their mdmId (no id column of their own).
    result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment, APP_ID_COLUMN=""),
                     project=project)
    return table, result


def test_a_string_label_column_in_carol_staging_trains_a_classifier_of_text_labels(carol_run, sandbox_process):
    table, result = carol_run
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    version = summary_of(result)["deployed"]
    assert version != "none" and "binary classification (benign, malignant) model, metrics:" in result.stderr
    assert "test ROC AUC" in result.stdout + result.stderr
    model = stored_model(sandbox_process, version, DEPLOY_APP)
    assert list(model.classes_) == ["benign", "malignant"]
    features = table[list(model.feature_names_in_)].head(40)
    assert np.mean(model.predict(features) == table["diagnosis"].head(40)) > 0.9
