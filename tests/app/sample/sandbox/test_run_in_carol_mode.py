"""run.py in Carol mode against the sandbox: pycarol's own HTTP, BigQuery and Cloud Storage code runs for real."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from sandbox.storage import list_app_objects
from sandbox.tenant import open_tenant, read_task_log, write_app_settings
from tests.app.conftest import ALL_TASKS
from tests.app.sample.sandbox.conftest import SandboxProcess, carol_environment, expected_record_count
from tests.conftest import run_app, summary_of

APP_NAME = "bostonhouse"
DEPLOY_APP = "bostonsandboxonline"
TASK_ID = "longtask-1"
FAMILIES = ("IngestRecords", "TrainModel", "EvaluateModel", "DeployModel")


def log_messages(result: subprocess.CompletedProcess) -> list[str]:
    """Messages of the JSON log lines run.py writes to stderr in Carol mode."""
    messages = []
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            messages.append(json.loads(line)["message"])
    return messages


def logged_settings(result: subprocess.CompletedProcess) -> dict:
    line = next(message for message in log_messages(result) if message.startswith("settings: "))
    return json.loads(line[len("settings: "):])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("carol_run")


@pytest.fixture(scope="module")
def first_run(sandbox_process, staged_records, workdir):
    write_app_settings(sandbox_process.folder, DEPLOY_APP, {})
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "150", "deploy_app": DEPLOY_APP})
    env = carol_environment(workdir, sandbox_process.environment, LONGTASKID=TASK_ID)
    return run_app(workdir, env=env)


@pytest.fixture(scope="module")
def second_run(first_run, sandbox_process, workdir):
    return run_app(workdir, env=carol_environment(workdir, sandbox_process.environment))


@pytest.fixture(scope="module")
def changed_setting_run(second_run, sandbox_process, workdir):
    write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "120", "deploy_app": DEPLOY_APP})
    return run_app(workdir, env=carol_environment(workdir, sandbox_process.environment))


def stored_names(sandbox: SandboxProcess, app_name: str) -> list[str]:
    bucket = open_tenant(sandbox.folder).bucket
    return list_app_objects(sandbox.environment["STORAGE_EMULATOR_HOST"], bucket, app_name)


def test_first_run_takes_its_settings_from_the_carol_app(first_run):
    assert first_run.returncode == 0, first_run.stderr[-3000:]
    settings = logged_settings(first_run)
    assert settings["model_epochs"] == 150 and settings["deploy_app"] == DEPLOY_APP


def test_first_run_ingests_latest_undeleted_records_through_bigquery(first_run, staged_records):
    assert first_run.returncode == 0, first_run.stderr[-3000:]
    expected = expected_record_count(staged_records)
    assert expected < len(staged_records)
    assert f"ingested {expected} records from Carol staging boston_house_price/samples" in log_messages(first_run)


def test_first_run_keeps_targets_in_carol_storage_and_nothing_locally(first_run, sandbox_process, workdir):
    assert summary_of(first_run)["ran"] == ALL_TASKS
    names = stored_names(sandbox_process, APP_NAME)
    for family in FAMILIES:
        assert any(name.startswith(f"pipeline/{family}/") and name.endswith(".pkl") for name in names), names
    target_dir = workdir / "luigi_targets"
    assert not target_dir.exists() or not any(target_dir.rglob("*"))


def test_first_run_deploys_into_the_deploy_apps_storage(first_run, sandbox_process):
    deployed = summary_of(first_run)["deployed"]
    assert deployed != "none"
    names = stored_names(sandbox_process, DEPLOY_APP)
    assert f"{DEPLOY_APP}/{deployed}/model.pkl" in names and f"{DEPLOY_APP}/current" in names
    assert not any(name.startswith(DEPLOY_APP) for name in stored_names(sandbox_process, APP_NAME))


def test_first_run_posts_its_log_to_the_carol_task(first_run, sandbox_process):
    entries = read_task_log(sandbox_process.folder, TASK_ID)
    assert entries and {entry["mdmTaskId"] for entry in entries} == {TASK_ID}
    posted = [entry["mdmLogMessage"] for entry in entries]
    assert any(message.startswith("ingested ") for message in posted)
    assert any(message.startswith("finished DeployModel") for message in posted)


def test_second_run_reuses_every_target_from_carol_storage(second_run):
    assert second_run.returncode == 0, second_run.stderr[-3000:]
    summary = summary_of(second_run)
    assert (summary["ran"], summary["reused"]) == ("0", ALL_TASKS)


def test_a_lock_object_in_carol_storage_makes_a_no_wait_run_exit_1_naming_its_holder(second_run, sandbox_process,
                                                                                   workdir):
    from google.api_core.exceptions import PreconditionFailed

    from sandbox.storage import storage_client

    assert ".lock" not in " ".join(stored_names(sandbox_process, APP_NAME))  # released by the runs before
    client = storage_client(sandbox_process.environment["STORAGE_EMULATOR_HOST"], project="sandbox")
    lock = client.bucket(open_tenant(sandbox_process.folder).bucket).blob(f"carolapps/{APP_NAME}/files/pipeline/.lock")
    holder = {"pid": 4242, "host": "otherhost", "purpose": "run", "since": "2026-11-27T12:00:00+00:00"}
    lock.upload_from_string(json.dumps(holder), if_generation_match=0)
    with pytest.raises(PreconditionFailed):  # Cloud Storage's precondition, as the stand-in now honours it
        lock.upload_from_string(b"second", if_generation_match=0)
    try:
        result = run_app(workdir, "--no-wait", env=carol_environment(workdir, sandbox_process.environment))
    finally:
        lock.delete()
    assert result.returncode == 1 and summary_of(result)["status"] == "FAILED"
    assert "is locked by pid 4242 on otherhost (run)" in result.stderr


def test_changing_an_app_setting_reruns_the_three_tasks_it_feeds(changed_setting_run):
    assert changed_setting_run.returncode == 0, changed_setting_run.stderr[-3000:]
    summary = summary_of(changed_setting_run)
    assert (summary["ran"], summary["reused"]) == ("3", "1")
    assert logged_settings(changed_setting_run)["model_epochs"] == 120


def test_with_other_features_the_deployed_model_is_still_scored_on_the_same_records(
        first_run, changed_setting_run, sandbox_process, workdir):
    champion = next(summary_of(run)["deployed"] for run in (changed_setting_run, first_run)
                    if summary_of(run)["deployed"] != "none")
    write_app_settings(sandbox_process.folder, APP_NAME, {
        "model_epochs": "120", "deploy_app": DEPLOY_APP, "feature_columns": "RM,LSTAT,PTRATIO"})
    try:
        result = run_app(workdir, env=carol_environment(workdir, sandbox_process.environment))
    finally:
        write_app_settings(sandbox_process.folder, APP_NAME, {"model_epochs": "120", "deploy_app": DEPLOY_APP})
    assert result.returncode == 0, result.stderr[-3000:]
    decision = [message for message in log_messages(result) if "of deployed model" in message]
    assert "cannot be scored" not in result.stdout + result.stderr, result.stderr[-3000:]
    assert decision and f"of deployed model {champion}" in decision[0]


def test_stopped_sandbox_fails_fast_with_one_line(tmp_path):
    sandbox = SandboxProcess(tmp_path / "stopped")
    sandbox.stop()
    started = time.monotonic()
    result = run_app(tmp_path, env=carol_environment(tmp_path, sandbox.environment), timeout=60)
    elapsed = time.monotonic() - started

    assert result.returncode == 1
    assert elapsed < 30
    unreachable = [line for line in result.stderr.splitlines() if "Carol could not be reached" in line]
    assert len(unreachable) == 1 and "Traceback" not in result.stderr
    assert summary_of(result)["status"] == "FAILED"
