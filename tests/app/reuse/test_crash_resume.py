"""A run killed in the middle resumes from the finished tasks and ends where a clean run ends."""

from __future__ import annotations

import json
from pathlib import Path

from tests.app.conftest import ALL_TASKS, DEPLOY_APP
from tests.app.reuse.conftest import counts, kill_when, latest_target, run_log, slow_training_data, start_app
from tests.conftest import app_environment, run_app


def deployed_metrics(workdir: Path) -> dict:
    version = summary_of_run_log_deploy(workdir)
    return json.loads((workdir / "models" / DEPLOY_APP / version / "metadata.json").read_text())["metrics"]


def summary_of_run_log_deploy(workdir: Path) -> str:
    return next(record["deployed"] for record in reversed(run_log(workdir)) if record["deployed"])


def test_killed_training_resumes_and_matches_a_clean_run(tmp_path):
    data = slow_training_data(tmp_path / "records.csv")
    crashed, clean = tmp_path / "crashed", tmp_path / "clean"
    crashed.mkdir()
    clean.mkdir()
    env = app_environment(crashed, APP_DATA_PATH=str(data))
    kill_when(start_app(crashed, env), "running TrainModel")
    assert not list((crashed / "luigi_targets" / "TrainModel").glob("*.pkl.sha256"))
    assert counts(run_app(crashed, env=env)) == ("3", "1")
    assert counts(run_app(clean, env=app_environment(clean, APP_DATA_PATH=str(data)))) == (ALL_TASKS, "0")
    assert deployed_metrics(crashed) == deployed_metrics(clean)
    assert latest_target(crashed, "TrainModel").read_bytes() == latest_target(clean, "TrainModel").read_bytes()
