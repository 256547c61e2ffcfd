"""Issue 13's reproductions, each through run.py in a temporary project folder.

`S1` is a folder after one deploying run (300 epochs keep it quick: test RMSE about 5.0, the mean
predictor's about 9.9).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from carolbatch.registry import load_current_model, publish_model, read_current_version, rollback_model
from carolbatch.storage.stores import LocalStore
from tests.app.conftest import ALL_TASKS
from tests.conftest import PROJECT_DIR, SAMPLE_DATA, app_environment, run_app, summary_of

APP = "bostonhouseonline"
BASE = ("--set", "model_epochs=300")


def registry(workdir: Path) -> Path:
    return workdir / "models" / APP


def history(workdir: Path) -> list[dict]:
    return [json.loads(line) for line in (registry(workdir) / "history.jsonl").read_text().splitlines()]


def errors(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.fixture(scope="module")
def s1(tmp_path_factory) -> tuple[Path, str]:
    """A folder after one default deploying run, copied fresh for each test that changes it."""
    workdir = tmp_path_factory.mktemp("s1")
    result = run_app(workdir, *BASE)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, summary_of(result)["deployed"]


@pytest.fixture
def project(s1, tmp_path) -> tuple[Path, str]:
    import shutil

    workdir, version = s1
    shutil.copytree(workdir, tmp_path / "s1")
    return tmp_path / "s1", version


def test_1_the_champion_is_scored_when_the_features_change(project, tmp_path):
    workdir, champion = project
    fewer = run_app(workdir, *BASE, "--set", "feature_columns=RM,LSTAT,PTRATIO")
    assert fewer.returncode == 0, fewer.stderr
    assert f"of deployed model {champion}" in fewer.stdout + fewer.stderr  # scored, not skipped
    chas = run_app(workdir, *BASE, "--set", "feature_columns=CHAS")
    assert summary_of(chas)["deployed"] == "none", chas.stdout + chas.stderr
    assert read_current_version(LocalStore(workdir / "models"), APP) in (champion, summary_of(fewer)["deployed"])

    # Data without a column the champion needs: no deploy, and the reason names the column.
    pd.read_csv(SAMPLE_DATA).drop(columns=["LSTAT"]).to_csv(tmp_path / "no_lstat.csv", index=False)
    lacking = run_app(workdir, *BASE, "--set", f"data_path={tmp_path / 'no_lstat.csv'}",
                      "--set", "feature_columns=RM,PTRATIO", "--set", "champion_tolerance=100")
    assert summary_of(lacking)["deployed"] == "none"
    assert (f"not comparable with deployed model {read_current_version(LocalStore(workdir / 'models'), APP)}: the "
            "records have no usable column LSTAT; deploy to a new deploy_app, or run once with --replace-champion"
            ) in lacking.stdout


def test_2_a_data_file_rewritten_during_a_run_is_never_stored_under_the_first_fingerprint(project, tmp_path):
    workdir, champion = project
    data = workdir / "mydata.csv"
    original = pd.read_csv(SAMPLE_DATA).head(480)  # other data than S1 ran on
    original.to_csv(data, index=False)
    run = start_app(workdir, *BASE, "--set", f"data_path={data}", PIPELINE_TEST_START_DELAY="3")
    cache = workdir / "luigi_targets" / ".data-fingerprints.json"
    deadline = time.monotonic() + 120
    while str(data) not in (cache.read_text() if cache.exists() else "") and time.monotonic() < deadline:
        time.sleep(0.05)
    original.assign(target=original["target"] * 2).to_csv(data, index=False)
    result = finish(run)
    assert result.returncode == 1 and summary_of(result)["deployed"] == "none"
    assert any("IngestRecords failed" in line and "the data file changed while it was read" in line
               for line in errors(result))
    first = json.loads(cache.read_text())
    assert len(list((workdir / "luigi_targets" / "IngestRecords").glob("*.pkl"))) == 1  # only S1's records
    original.to_csv(data, index=False)
    again = run_app(workdir, *BASE, "--set", f"data_path={data}")
    assert again.returncode == 0 and summary_of(again)["ran"] == ALL_TASKS, again.stderr
    assert first  # the cache was written before the rewrite


def fitted(slope: float) -> LinearRegression:
    features = np.arange(12, dtype=float).reshape(6, 2)
    return LinearRegression().fit(features, features[:, 0] * slope)


def publish(store: LocalStore, version: str) -> None:
    publish_model(store, APP, version, fitted(1.0), {"feature_columns": ["a", "b"]})


def test_3_rollback_without_a_version_never_restores_a_version_rolled_back_from(tmp_path):
    store = LocalStore(tmp_path / "models")
    for version in ("v1", "v2", "v3"):
        publish(store, version)
    rollback_model(store, APP, "v1")  # v2 and v3 were bad
    publish(store, "v4")
    result = run_app(tmp_path, "--rollback")
    assert result.returncode == 0 and summary_of(result)["deployed"] == "v1", result.stderr
    assert (registry(tmp_path) / "current").read_text() == "v1"


def test_4_registry_files_are_verified_and_rollback_names_are_plain(tmp_path):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1")
    publish(store, "v2")
    model = registry(tmp_path) / "v1" / "model.pkl"
    model.write_bytes(model.read_bytes()[:100])
    result = run_app(tmp_path, "--rollback", "v1")
    assert result.returncode == 2 and summary_of(result)["status"] == "FAILED"
    assert len(errors(result)) == 1
    assert f"model version v1 of {APP} does not verify: model.pkl has 100 bytes" in errors(result)[0]
    assert read_current_version(store, APP) == "v2" and load_current_model(store, APP) is not None
    outside = run_app(tmp_path, "--rollback", "../otherapp/v1")
    assert outside.returncode == 2 and "is not a plain name" in errors(outside)[0]


@pytest.mark.parametrize("app", ["/abs/app", "../../x", "a/b", f"{APP}/20261127T082012Z-6cc72f61"])
def test_5_deploy_app_must_be_a_plain_name(tmp_path, app):
    result = run_app(tmp_path, "--set", f"deploy_app={app}")
    assert result.returncode == 2 and summary_of(result)["status"] == "FAILED"
    assert len(errors(result)) == 1 and "deploy_app" in errors(result)[0] and "plain name" in errors(result)[0]
    assert not (tmp_path / "luigi_targets").exists() and not (tmp_path / "models").exists()


def test_6_a_failed_history_write_changes_nothing_and_is_reported(project):
    workdir, champion = project
    # A folder where the history file should be: the atomic replace of history.jsonl fails.
    (registry(workdir) / "history.jsonl").rename(registry(workdir) / "history.saved")
    (registry(workdir) / "history.jsonl").mkdir()
    # Another model than the champion (model_epochs=1000 would stop early where 300 did), let through.
    result = run_app(workdir, "--set", "model_l2regularization=0.9", "--set", "champion_tolerance=100")
    assert result.returncode == 1 and summary_of(result)["deployed"] == "none"
    assert "the current version is still" in result.stderr
    assert (registry(workdir) / "current").read_text() == champion


def test_6_derived_files_left_by_a_crash_are_repaired_by_the_next_run(project):
    workdir, champion = project
    (registry(workdir) / "current").write_text("20990101T000000Z-deadbeef")
    (registry(workdir) / "model.pkl").write_bytes(b"torn")
    result = run_app(workdir, *BASE)
    assert result.returncode == 0 and "repaired model.pkl and current" in result.stderr
    assert (registry(workdir) / "current").read_text() == champion
    assert (registry(workdir) / "model.pkl").read_bytes() == (registry(workdir) / champion / "model.pkl").read_bytes()


def start_app(workdir: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir,
                            env=app_environment(workdir, **extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def wait_for_holder(lock: Path, pid: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if json.loads(lock.read_text())["pid"] == pid:
                return
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{lock} never named pid {pid}")


def test_7_a_second_run_waits_for_the_lock_or_with_no_wait_exits_1_naming_the_holder(project):
    workdir, champion = project
    # Slowed registry writes keep the first run inside its lock for a few seconds.
    first = start_app(workdir, "--set", "model_l2regularization=0.9", "--set", "champion_tolerance=100",
                      REGISTRY_TEST_WRITE_DELAY="2")
    wait_for_holder(workdir / "luigi_targets" / ".lock", first.pid)
    refused = start_app(workdir, *BASE, "--no-wait")
    waited = start_app(workdir, *BASE, "--set", "champion_tolerance=0.5")
    results = [finish(process) for process in (first, refused, waited)]
    first, refused, waited = results
    assert first.returncode == 0, first.stderr
    assert refused.returncode == 1 and summary_of(refused)["status"] == "FAILED"
    assert len(errors(refused)) == 1 and "is locked by pid" in errors(refused)[0] and "(run)" in errors(refused)[0]
    assert waited.returncode == 0 and "waiting for" in waited.stderr
    deployed = [entry["version"] for entry in history(workdir) if entry["action"] == "deploy"]
    assert deployed[0] == champion and deployed[-1] == read_current_version(LocalStore(workdir / "models"), APP)


# Issue 23, item 1: the served model is never collected.


@pytest.mark.parametrize("lost", ["missing", "empty"])
def test_23_gc_keeping_no_models_keeps_the_version_current_names_with_a_lost_history(project, lost):
    workdir, version = project
    older = registry(workdir) / "20200101T000000Z-00000000"  # an older version, as a registry from before the history
    publish(LocalStore(workdir / "models"), older.name)
    (registry(workdir) / "current").write_text(version)
    if lost == "missing":
        (registry(workdir) / "history.jsonl").unlink()
    else:
        (registry(workdir) / "history.jsonl").write_text("")
    result = run_app(workdir, "--gc", "--keep-models", "0")
    assert result.returncode == 0 and summary_of(result)["status"] == "CLEANED", result.stdout + result.stderr
    assert f"{version}/" not in result.stdout and f"{older.name}/" not in result.stdout
    store = LocalStore(workdir / "models")
    assert read_current_version(store, APP) == version and load_current_model(store, APP) is not None
    served = run_app(workdir, "--models")
    assert any(line.startswith(f"* {version}") for line in served.stdout.splitlines()), served.stdout


@pytest.mark.parametrize("duplicated", ["deploy of the current version", "whole history"])
def test_23_a_duplicated_history_line_is_read_once_by_rollback(tmp_path, duplicated):
    store = LocalStore(tmp_path / "models")
    publish(store, "v1")
    publish(store, "v2")
    lines = (registry(tmp_path) / "history.jsonl").read_text().splitlines(keepends=True)
    doubled = [*lines, lines[-1]] if duplicated == "deploy of the current version" else [*lines, *lines]
    (registry(tmp_path) / "history.jsonl").write_text("".join(doubled))
    result = run_app(tmp_path, "--rollback")
    assert result.returncode == 0 and summary_of(result)["deployed"] == "v1", result.stdout + result.stderr
    assert f"current model of {APP} is now v1" in result.stdout
    again = run_app(tmp_path, "--rollback")  # nothing was current before v1: the chain is not cut to v2
    assert again.returncode == 2 and "no model version of" in errors(again)[0]
    assert read_current_version(store, APP) == "v1"
