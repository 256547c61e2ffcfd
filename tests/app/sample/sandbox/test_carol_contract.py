"""run.py against the sandbox where Carol is unkind: a partial environment, a failing task log, a refused storage."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sandbox.storage import list_app_objects
from sandbox.tenant import open_tenant, read_task_log, refuse_storage, set_fault, write_app_settings
from tests.app.sample.sandbox.conftest import carol_environment
from tests.conftest import PROJECT_DIR, run_app, summary_of

APP_NAME = "bostonhouse"
DEPLOY_APP = "bostoncontractonline"
FLUSH_SECONDS = 10


def task_log_warnings(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if "Carol task log" in line]


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error: ")]


def read_current(sandbox, app: str) -> bytes | None:

    from sandbox.storage import storage_client

    bucket = storage_client(sandbox.environment["STORAGE_EMULATOR_HOST"], "sandbox").bucket(
        open_tenant(sandbox.folder).bucket)
    blob = bucket.blob(f"carolapps/{app}/files/{app}/current")
    return blob.download_as_bytes() if blob.exists() else None


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="module")
def deployed_run(sandbox_process, staged_records, workdir):
    """A first run that deploys a model: the task log's content, and the state the faults must not change."""
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {})
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "150", "deploy_app": DEPLOY_APP})
    env = carol_environment(workdir, sandbox_process.environment, LONGTASKID="contract-first")
    return run_app(workdir, env=env)


def timed_run(workdir: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float]:
    """run.py's result and the seconds from its summary line to its exit (the task log's flush)."""
    process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py")], cwd=workdir, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors: list[str] = []
    reader = threading.Thread(target=lambda: errors.append(process.stderr.read()), daemon=True)
    reader.start()
    lines, summary_at = [], None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("summary: "):
            summary_at = time.monotonic()
    process.wait(timeout=600)
    exited_at = time.monotonic()
    reader.join(10)
    result = subprocess.CompletedProcess(process.args, process.returncode, "".join(lines), "".join(errors))
    assert summary_at is not None, result.stdout + result.stderr
    return result, exited_at - summary_at


@pytest.mark.parametrize("missing", ["CAROLAPPOAUTH", "CAROLTENANT", "CAROLAPPNAME"])
def test_a_partial_carol_environment_exits_1_naming_what_is_missing_and_writes_nothing(
        sandbox_process, tmp_path, missing):
    env = carol_environment(tmp_path, sandbox_process.environment)
    del env[missing]
    before = set(tmp_path.rglob("*"))
    result = run_app(tmp_path, env=env, timeout=120)

    assert result.returncode == 1, result.stderr[-2000:]
    assert error_lines(result) == [error_lines(result)[0]] and f"{missing} missing" in error_lines(result)[0]
    assert summary_of(result)["status"] == "FAILED"
    assert set(tmp_path.rglob("*")) == before  # no target, registry or fingerprint cache written


def test_a_task_id_alone_is_not_local_mode(tmp_path):
    from tests.conftest import app_environment

    result = run_app(tmp_path, env=app_environment(tmp_path, LONGTASKID="t1"), timeout=120)
    assert result.returncode == 1
    assert "CAROLTENANT and CAROLAPPNAME and CAROLAPPOAUTH missing (found LONGTASKID)" in error_lines(result)[0]
    assert not (tmp_path / "luigi_targets").exists() and not (tmp_path / "models").exists()


def test_the_task_log_gets_the_apps_lines_the_decision_and_the_summary_not_the_libraries(
        deployed_run, sandbox_process):
    assert deployed_run.returncode == 0, deployed_run.stderr[-3000:]
    posted = [entry["mdmLogMessage"] for entry in read_task_log(sandbox_process.folder, "contract-first")]
    assert any(message.startswith("ingested ") for message in posted)
    assert any(message.startswith("deployed model version ") for message in posted)
    assert any(message.startswith("report: ") and message.endswith("/report.html") for message in posted)
    assert posted[-1].startswith("summary: status=SUCCESS")
    console = [json.loads(line) for line in deployed_run.stderr.splitlines() if line.startswith("{")]
    assert [line["message"] for line in console if line["name"].startswith(("app.", "carolbatch."))] == [
        message for message in posted if not message.startswith(("deployed model version ", "report: ", "summary: "))]


def test_a_start_up_error_reaches_the_task_log(deployed_run, sandbox_process, workdir):
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "many", "deploy_app": DEPLOY_APP})
    env = carol_environment(workdir, sandbox_process.environment, LONGTASKID="contract-bad-setting")
    result = run_app(workdir, env=env)
    assert result.returncode == 2
    posted = [entry for entry in read_task_log(sandbox_process.folder, "contract-bad-setting")]
    assert [entry["mdmLogLevel"] for entry in posted if entry["mdmLogMessage"].startswith("error: ")] == ["ERROR"]
    assert any("model_epochs" in entry["mdmLogMessage"] for entry in posted)
    assert posted[-1]["mdmLogMessage"].startswith("summary: status=FAILED")


@pytest.mark.parametrize("fault", ["500", "hang"])
def test_a_failing_task_log_costs_at_most_ten_seconds_and_one_line(deployed_run, sandbox_process, workdir, fault):
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "150", "deploy_app": DEPLOY_APP})
    env = carol_environment(workdir, sandbox_process.environment, LONGTASKID=f"contract-{fault}")
    set_fault(sandbox_process.folder, "task_logs", fault)
    try:
        failing, flush_seconds = timed_run(workdir, env)
    finally:
        set_fault(sandbox_process.folder, "task_logs", "ok")

    assert failing.returncode == 0, failing.stderr[-3000:]
    assert summary_of(failing)["status"] == "SUCCESS"
    assert len(task_log_warnings(failing)) == 1, failing.stderr[-3000:]
    # Logging never waits for Carol, so the only cost is the wait at exit.
    assert flush_seconds <= FLUSH_SECONDS + 2, flush_seconds


def test_a_healthy_task_log_warns_of_nothing(deployed_run):
    assert task_log_warnings(deployed_run) == []


def test_a_refused_deploy_app_storage_ends_the_run_with_one_line_and_keeps_the_current_model(
        deployed_run, sandbox_process, workdir):
    current = read_current(sandbox_process, DEPLOY_APP)
    assert current, deployed_run.stderr[-3000:]
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "140", "deploy_app": DEPLOY_APP})
    refuse_storage(sandbox_process.folder, [DEPLOY_APP])
    try:
        result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment), timeout=600)
    finally:
        refuse_storage(sandbox_process.folder, [])

    assert result.returncode == 1, result.stderr[-3000:]
    assert len(error_lines(result)) == 1 and DEPLOY_APP in error_lines(result)[0], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert summary_of(result)["status"] == "FAILED"
    assert read_current(sandbox_process, DEPLOY_APP) == current
    names = list_app_objects(sandbox_process.environment["STORAGE_EMULATOR_HOST"],
                             open_tenant(sandbox_process.folder).bucket, DEPLOY_APP)
    assert sum(name.endswith("/model.pkl") for name in names) >= 1


def test_a_deploy_app_storage_that_refuses_writes_fails_the_run_in_one_line_and_keeps_the_current_model(
        deployed_run, sandbox_process, workdir):
    current = read_current(sandbox_process, DEPLOY_APP)
    assert current, deployed_run.stderr[-3000:]
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "130", "deploy_app": DEPLOY_APP})
    refuse_storage(sandbox_process.folder, [DEPLOY_APP], writes_only=True)
    try:
        result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment), timeout=600)
    finally:
        refuse_storage(sandbox_process.folder, [], writes_only=True)

    assert result.returncode == 1, result.stderr[-3000:]
    assert len(error_lines(result)) == 1, result.stderr[-3000:]
    # The run's lock on the registry (issue 13) is the first write the refusing storage sees: the run stops
    # before any task; a storage that refuses only later writes fails DeployModel the same way.
    line = error_lines(result)[0]
    assert "DeployModel failed" in line and "StorageError: " in line or f"{DEPLOY_APP}/.lock" in line
    assert f"Carol storage of app {DEPLOY_APP}" in line and "could not be written" in line
    assert "Traceback" not in result.stderr
    assert summary_of(result)["status"] == "FAILED"
    assert read_current(sandbox_process, DEPLOY_APP) == current
