"""run.py in a subprocess: exit codes, the summary line, reuse between runs, bad input."""

from __future__ import annotations

import json
import shutil

import pytest

import pandas as pd

from tests.app.conftest import ALL_TASKS, default_settings
from tests.conftest import APP_DATA, app_environment, run_app, summary_of

# The app's table as its settings name it: tests below edit it into bad data.
SETTINGS = default_settings()
FRAME = pd.read_csv(APP_DATA)
KEY, TARGET, FEATURE = SETTINGS.id_column, SETTINGS.target_column, SETTINGS.feature_columns[-1]


def current_version(workdir):
    pointer = workdir / "models" / SETTINGS.deploy_app / "current"
    return pointer.read_text() if pointer.exists() else None


def test_first_run_trains_and_deploys_then_rerun_reuses_everything(tmp_path):
    first = run_app(tmp_path)
    assert first.returncode == 0, first.stderr
    summary = summary_of(first)
    assert (summary["status"], summary["ran"], summary["reused"]) == ("SUCCESS", ALL_TASKS, "0")
    version = summary["deployed"]
    assert current_version(tmp_path) == version
    folder = tmp_path / "models" / SETTINGS.deploy_app / version
    metadata = json.loads((folder / "metadata.json").read_text())
    # The defaults' promise on the sample is checked in tests/app/sample/functions/test_model.py.
    training = metadata["metrics"]["training"]
    assert "n_iter_no_change=10" in training["stop_reason"] and training["epochs_run"] < 1000
    report = (folder / "report.html").read_text()
    assert f"{metadata['metrics']['test']['rmse']:.4f}" in report and training["stop_reason"] in report
    assert first.stdout.strip().splitlines()[-2] == f"report: {folder / 'report.html'}"
    for task in ("IngestRecords", "TrainModel", "EvaluateModel", "DeployModel"):
        assert f"running {task}" in first.stderr

    second = run_app(tmp_path)
    assert second.returncode == 0, second.stderr
    assert summary_of(second) | {"elapsed": ""} == {
        "status": "SUCCESS", "ran": "0", "reused": ALL_TASKS, "deployed": "none", "elapsed": ""}
    assert current_version(tmp_path) == version


def test_changing_epochs_reuses_ingestion_only(tmp_path):
    assert run_app(tmp_path).returncode == 0
    result = run_app(tmp_path, "--set", "model_epochs=50")
    assert result.returncode == 0, result.stderr
    assert (summary_of(result)["ran"], summary_of(result)["reused"]) == ("3", "1")


def write_data(tmp_path, edit) -> str:
    path = tmp_path / "records.csv"
    edit(FRAME.copy()).to_csv(path, index=False) if not isinstance(edit, str) else path.write_text(edit)
    return str(path)


BAD_INPUTS = {
    "missing data file": (["--set", "data_path=does-not-exist.csv"], 2, "not found"),
    "model_epochs=abc": (["--set", "model_epochs=abc"], 2, "model_epochs"),
    "negative l2": (["--set", "model_l2regularization=-1"], 2, "model_l2regularization"),
    "unknown setting": (["--set", "learning_rate=0.1"], 2, "unknown setting 'learning_rate'"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_settings_stop_before_any_task_and_keep_the_deployed_model(tmp_path, case):
    assert run_app(tmp_path).returncode == 0
    before = current_version(tmp_path)
    args, code, words = BAD_INPUTS[case]
    result = run_app(tmp_path, *args)
    assert result.returncode == code
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0]
    assert summary_of(result)["status"] == "FAILED"
    assert current_version(tmp_path) == before


BAD_DATA = {
    "missing column": (lambda frame: frame.drop(columns=[FEATURE]),
                       f"no column {FEATURE}; its columns are: {', '.join(FRAME.columns.drop(FEATURE)[:3])}"),
    "non-numeric column": (lambda frame: frame.assign(**{FEATURE: "high"}),
                           f"column {FEATURE} is not numeric: it holds 'high' in record {KEY}={FRAME[KEY].iloc[0]}"),
    "no target at all": (lambda frame: frame.assign(**{TARGET: float("nan")}), f"target column {TARGET} has no value"),
    "empty file": ("", "is empty"),
    "duplicate ids": (lambda frame: frame.assign(**{KEY: frame[KEY].where(frame.index != 5, frame[KEY].iloc[0])}),
                      f"id column {KEY} has 1 duplicate values"),
}


@pytest.mark.parametrize("case", BAD_DATA, ids=list(BAD_DATA))
def test_bad_data_fails_with_one_line_and_keeps_the_deployed_model(tmp_path, case):
    assert run_app(tmp_path).returncode == 0
    before = current_version(tmp_path)
    edit, words = BAD_DATA[case]
    path = write_data(tmp_path, edit)
    result = run_app(tmp_path, "--set", f"data_path={path}")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert summary_of(result)["status"] == "FAILED"
    assert current_version(tmp_path) == before


def test_usage_error_exits_2(tmp_path):
    result = run_app(tmp_path, "--workers", "0")
    assert result.returncode == 2


def test_settings_lists_each_value_with_its_layer_and_runs_nothing(tmp_path):
    env = app_environment(tmp_path, APP_MODEL_EPOCHS="7", APP_ENV="prod")
    result = run_app(tmp_path, "--settings", "--set", "test_size=0.3", env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[:-1]}
    assert lines["model_epochs"] == ["7", "environment"]
    assert lines["test_size"] == ["0.3", "--set"]
    assert lines["random_state"] == ["1", "default"]
    warnings = [line for line in result.stderr.splitlines() if "does not know" in line]
    assert len(warnings) == 1 and "APP_ENV" in warnings[0]
    assert summary_of(result)["status"] == "LISTED"
    assert not (tmp_path / "luigi_targets").exists()


def test_unknown_set_name_is_exit_2_naming_it(tmp_path):
    result = run_app(tmp_path, "--settings", "--set", "epochs=3")
    assert result.returncode == 2
    assert "unknown setting 'epochs' (from --set)" in result.stderr
