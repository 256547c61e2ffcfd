"""Changing the model is a change in app/functions/model.py alone: done here in a copy of the project, with an
estimator that has no epochs (no partial_fit), and the whole pipeline run end to end."""

from __future__ import annotations

import json

import pytest

from tests.app.conftest import ALL_TASKS
from tests.app.sample.recipes.conftest import copy_project, files_changed, outside_the_users_room
from tests.conftest import PROJECT_DIR, run_app, summary_of

IMPORTS = '''from sklearn.ensemble import HistGradientBoostingRegressor
from carolbatch.training.contract import OneStepModel
'''
BUILD_MODEL = '''def build_model(settings: ModelSettings, train_rows: int) -> OneStepModel:
    estimator = HistGradientBoostingRegressor(random_state=settings.random_state)
    return OneStepModel(Pipeline([("trees", estimator)]), facts={"estimator": "HistGradientBoostingRegressor"})
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project whose model is HistGradientBoostingRegressor, fitted in one step."""
    copy = tmp_path_factory.mktemp("changed") / "project"
    copy_project(copy)
    model = copy / "app" / "functions" / "model.py"
    text = model.read_text()
    start = text.index("\ndef build_model(") + 1
    anchor = "from sklearn.pipeline import Pipeline\n"
    model.write_text(text[:start].replace(anchor, anchor + IMPORTS) + BUILD_MODEL)
    return copy


def test_a_model_without_epochs_runs_through_the_whole_pipeline(project, tmp_path):
    result = run_app(tmp_path, project=project)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    assert (summary["status"], summary["ran"]) == ("SUCCESS", ALL_TASKS) and summary["deployed"] != "none"
    (record,) = [json.loads(line) for line in (tmp_path / "luigi_targets" / "runs.jsonl").read_text().splitlines()]
    training = next(task["training"] for task in record["tasks"] if task["family"] == "TrainModel")
    assert training["estimator"] == "HistGradientBoostingRegressor" and training["validation_loss"] > 0
    assert "epochs_run" not in training and training["train_rows"] == 361  # the split by identity of the sample
    version = tmp_path / "models" / "bostonhouseonline" / summary["deployed"]
    metadata = json.loads((version / "metadata.json").read_text())
    assert metadata["epochs_run"] is None and metadata["metrics"]["training"] == training
    assert metadata["metrics"]["test"]["rmse"] < metadata["metrics"]["baseline_test"]["rmse"]
    assert "carolbatch.training.contract: fitted on 361 records in one step (validation loss " in result.stderr
    # A rerun reuses everything: the model's reproducible facts and bytes are the same.
    assert summary_of(run_app(tmp_path, project=project))["reused"] == ALL_TASKS


def test_the_recipe_touches_only_the_users_room(project):
    changed = files_changed(project)
    assert changed and not outside_the_users_room(changed), changed
