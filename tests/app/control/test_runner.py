"""The runner: one `luigi.build` of the pipeline, each task classified as ran, reused or failed from Luigi's
events and its run summary, and the run recorded."""

from __future__ import annotations

import json

import pytest

import app.flow.train_model
from app.pipeline import APP
from carolbatch.control.runner import build_pipeline, run_pipeline
from carolbatch.tasks import pipeline_params
from tests.app.conftest import TASKS, default_settings
from tests.conftest import APP_DATA, app_fingerprint



def pipeline(tmp_path, **overrides):
    settings = default_settings(data_path=str(APP_DATA), target_dir=str(tmp_path / "t"),
                                registry_dir=str(tmp_path / "m"), model_epochs=20, **overrides)
    params = pipeline_params(settings, {"data_path": app_fingerprint()}, carol_mode=False, cloud_targets=False)
    return build_pipeline(APP.pipeline, params)


def last_record(tmp_path) -> dict:
    return json.loads((tmp_path / "t" / "runs.jsonl").read_text().splitlines()[-1])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_classifies_every_task_and_records_its_seconds(tmp_path, workers):
    outcome = run_pipeline(APP.pipeline, pipeline(tmp_path), workers, None, 8082)

    assert outcome.succeeded and outcome.ran == list(TASKS) and outcome.reused == [] and outcome.failed == {}
    assert outcome.deploy_reason and set(outcome.seconds) == set(TASKS)
    record = last_record(tmp_path)
    assert record["status"] == "SUCCESS" and all(task["seconds"] > 0 for task in record["tasks"])
    again = run_pipeline(APP.pipeline, pipeline(tmp_path), workers, None, 8082)
    assert again.succeeded and again.ran == [] and again.reused == list(TASKS) and again.deploy_reason is None


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_task_is_named_in_one_line_and_only_outputs_found_done_count_as_reused(tmp_path, monkeypatch,
                                                                                       workers):
    assert run_pipeline(APP.pipeline, pipeline(tmp_path), 1, None, 8082).succeeded

    def broken(*args, **kwargs):
        raise RuntimeError("training diverged\nafter 3 epochs")

    monkeypatch.setattr(app.flow.train_model, "build_model", broken)
    outcome = run_pipeline(APP.pipeline, pipeline(tmp_path, random_state=7), workers, None, 8082)

    assert not outcome.succeeded and outcome.failed == {"TrainModel": "after 3 epochs"}
    assert outcome.ran == [] and outcome.reused == ["IngestRecords"] and outcome.deployed is None
    entries = {task["family"]: task for task in last_record(tmp_path)["tasks"]}
    assert last_record(tmp_path)["status"] == "FAILED" and entries["TrainModel"]["outcome"] == "failed"
    assert entries["IngestRecords"]["outcome"] == "reused" and entries["EvaluateModel"]["outcome"] == "not run"


def test_the_declared_pipeline_must_match_the_tasks_the_root_requires(tmp_path):
    from app.flow.deploy_model import DeployModel
    from app.flow.evaluate_model import EvaluateModel
    from app.flow.ingestion import IngestRecords
    from app.flow.train_model import TrainModel
    from carolbatch import Pipeline
    from carolbatch.errors import AppError

    roles = {"records": IngestRecords, "model": TrainModel, "evaluation": EvaluateModel, "deployment": DeployModel}
    with pytest.raises(ValueError, match="the deployment task is the root"):
        Pipeline(tasks=(IngestRecords, TrainModel, DeployModel, EvaluateModel), **roles)
    with pytest.raises(ValueError, match="must be one of the pipeline's tasks: evaluation"):
        Pipeline(tasks=(IngestRecords, TrainModel, DeployModel), **roles)
    settings = default_settings(data_path=str(APP_DATA), target_dir=str(tmp_path / "t"))
    params = pipeline_params(settings, {"data_path": app_fingerprint()}, carol_mode=False, cloud_targets=False)
    swapped = Pipeline(tasks=(TrainModel, IngestRecords, EvaluateModel, DeployModel), **roles)
    with pytest.raises(AppError, match="declares TrainModel before IngestRecords, which it requires"):
        build_pipeline(swapped, params)
