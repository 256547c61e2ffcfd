"""Every way run.py ends prints the summary last: usage errors, SIGTERM, an unreachable scheduler,
wrong-shaped state files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app.conftest import default_settings
from tests.conftest import PROJECT_DIR, app_environment, copy_project, run_app, summary_of


def test_a_usage_error_ends_with_one_error_line_and_the_summary(tmp_path):
    result = run_app(tmp_path, "--bogus")
    assert result.returncode == 2 and summary_of(result)["status"] == "FAILED"
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: unrecognized arguments: --bogus"]


def test_an_unreachable_scheduler_ends_within_seconds_with_one_line(tmp_path):
    started = time.monotonic()
    result = run_app(tmp_path, "--scheduler-host", "127.0.0.1", "--scheduler-port", "1")
    assert result.returncode == 1 and summary_of(result)["status"] == "FAILED"
    assert "error: central scheduler 127.0.0.1:1 could not be reached within 10 s" in result.stderr
    assert "Traceback" not in result.stderr and time.monotonic() - started < 60  # imports under load included


def test_sigterm_during_a_task_ends_with_the_summary_exit_143_and_a_run_record(tmp_path):
    process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py"), "--set", "model_epochs=5000"],
                               cwd=tmp_path, env=app_environment(tmp_path), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    log = tmp_path / "luigi_targets" / "IngestRecords"
    deadline = time.monotonic() + 120
    while not any(log.glob("*.sha256")) and time.monotonic() < deadline:  # ingestion done: training runs
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    result = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    assert result.returncode == 143 and summary_of(result)["status"] == "FAILED"
    assert "error: stopped by SIGTERM" in err
    # IngestRecords finished before the signal; the summary and the run record count it.
    assert (summary_of(result)["ran"], summary_of(result)["reused"]) == ("1", "0"), out + err[-3000:]
    record = json.loads((tmp_path / "luigi_targets" / "runs.jsonl").read_text().splitlines()[-1])
    outcomes = {task["family"]: task["outcome"] for task in record["tasks"]}
    assert record["status"] == "FAILED" and outcomes["IngestRecords"] == "ran", outcomes
    assert outcomes["TrainModel"] == "failed" and outcomes["DeployModel"] == "not run", outcomes


def test_wrong_shaped_state_files_do_not_crash_the_commands(tmp_path):
    assert run_app(tmp_path, "--set", "model_epochs=300").returncode == 0
    targets, registry = tmp_path / "luigi_targets", tmp_path / "models" / default_settings().deploy_app
    with open(targets / "runs.jsonl", "a") as log:
        log.write('[1, 2]\n{"tasks": 3}\n{"tasks": [1]}\n')
    (targets / ".data-fingerprints.json").write_text('["not", "a", "cache"]')
    (registry / "current").write_text("../../etc")
    for args in (["--plan"], ["--gc", "--dry-run"], ["--models"]):
        result = run_app(tmp_path, *args)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert summary_of(result)["status"] in ("PLANNED", "CLEANED", "LISTED")
    assert "runs.jsonl line" in run_app(tmp_path, "--plan").stderr
    (registry / "history.jsonl").write_text('{"version": 1}\n')
    for args in (["--models"], ["--rollback"]):
        result = run_app(tmp_path, *args)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert "history.jsonl line 1 is not a registry history entry" in result.stderr
        assert summary_of(result)["status"] == "FAILED"


@pytest.mark.parametrize("setting", ["target_dir", "registry_dir"])
def test_a_file_as_an_output_folder_is_exit_2_naming_the_setting(tmp_path, setting):
    (tmp_path / "afile").write_text("x")
    result = run_app(tmp_path, "--set", f"{setting}={tmp_path / 'afile'}")
    assert result.returncode == 2 and summary_of(result)["status"] == "FAILED"
    assert f"error: setting {setting}=" in result.stderr and "is a file, not a folder" in result.stderr
    assert "Traceback" not in result.stderr


def one_line_ending(result: subprocess.CompletedProcess) -> str:
    """The one error line of a run that ended with exit 2 and the summary last, no traceback."""
    assert result.returncode == 2 and summary_of(result)["status"] == "FAILED", result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("setting", ["target_dir", "data_path", "registry_dir"])
def test_an_over_long_path_is_one_line_naming_the_setting(tmp_path, setting):
    error = one_line_ending(run_app(tmp_path, "--set", f"{setting}={tmp_path / ('a' * 5000)}"))
    assert f"setting {setting}" in error and "too long" in error and len(error) < 300


def test_cloud_targets_without_carol_credentials_is_one_line(tmp_path):
    error = one_line_ending(run_app(tmp_path, env=app_environment(tmp_path, CLOUD_TARGET="true")))
    assert "cloud_target" in error and "Carol credentials" in error


@pytest.mark.parametrize("value", ['{"a": 1}', '[["RM"], "LSTAT"]'])
@pytest.mark.parametrize("layer", ["--set", "APP_ env", "settings.toml"])
def test_a_table_or_nested_list_is_not_a_column_name(tmp_path, value, layer):
    project = copy_project(tmp_path / "project")
    settings = project / "settings.toml"
    toml_value = "{a = 1}" if value.startswith("{") else '[["RM"], "LSTAT"]'
    if layer == "settings.toml":
        kept = [line for line in settings.read_text().splitlines() if not line.startswith("feature_columns")]
        settings.write_text("\n".join([*kept, f"feature_columns = {toml_value}", ""]))
    args = ("--set", f"feature_columns={value}") if layer == "--set" else ()
    environment = app_environment(tmp_path, **({"APP_FEATURE_COLUMNS": value} if layer == "APP_ env" else {}))
    error = one_line_ending(run_app(tmp_path, *args, env=environment, project=project))
    assert "feature_columns" in error and "column names" in error


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "folder"])
def test_a_special_file_as_data_is_not_a_regular_file(tmp_path, kind):
    path = {"/dev/zero": Path("/dev/zero"), "fifo": tmp_path / "fifo", "folder": tmp_path}[kind]
    if kind == "fifo":
        os.mkfifo(path)
    error = one_line_ending(run_app(tmp_path, "--set", f"data_path={path}"))
    assert f"data file {path} is not a regular file" in error
