"""Reuse through run.py, for real: data, settings and code changes, crashes, damaged targets, plan, force, gc.

Most tests start from one finished default run (`finished`), copied into their own folder.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import PROJECT_DIR, SAMPLE_DATA, app_environment, run_app, summary_of

FAMILIES = ("IngestRecords", "TrainModel", "EvaluateModel", "DeployModel")


def counts(result) -> tuple[str, str]:
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    return summary["ran"], summary["reused"]


def plan_of(workdir: Path, *args: str, env=None, project: Path = PROJECT_DIR) -> dict[str, tuple[str, str]]:
    """`{task: (RUN|SKIP, reason)}` from `run.py --plan`, which must run nothing."""
    before = target_files(workdir)
    result = run_app(workdir, "--plan", *args, env=env, project=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert summary_of(result)["status"] == "PLANNED" and summary_of(result)["ran"] == "0"
    assert "running " not in result.stderr and target_files(workdir) == before
    lines = re.findall(r"^(RUN|SKIP)\s+(\w+)\s+(.+)$", result.stdout, flags=re.MULTILINE)
    return {family: (verb, reason.strip()) for verb, family, reason in lines}


def target_files(workdir: Path) -> dict[str, int]:
    root = workdir / "luigi_targets"
    return {path.relative_to(root).as_posix(): path.stat().st_size
            for family in FAMILIES for path in sorted((root / family).glob("*")) if path.is_file()}


def run_log(workdir: Path) -> list[dict]:
    return [json.loads(line) for line in (workdir / "luigi_targets" / "runs.jsonl").read_text().splitlines()]


def latest_target(workdir: Path, family: str) -> Path:
    entry = next(task for task in run_log(workdir)[-1]["tasks"] if task["family"] == family)
    return workdir / "luigi_targets" / entry["target"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A folder holding one finished default run."""
    workdir = tmp_path_factory.mktemp("finished")
    assert counts(run_app(workdir)) == ("4", "0")
    return workdir


@pytest.fixture
def workdir(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_run_record_describes_every_task(workdir):
    (record,) = run_log(workdir)
    assert record["status"] == "SUCCESS" and record["data_fingerprint"].startswith("file:")
    assert record["settings"]["model_epochs"] == 1000 and record["deployed"]
    assert [task["family"] for task in record["tasks"]] == list(FAMILIES)
    for task in record["tasks"]:
        assert task["outcome"] == "ran" and task["reason"] == "no output" and task["seconds"] > 0
        assert task["output_bytes"] == (workdir / "luigi_targets" / task["target"]).stat().st_size
    metadata = json.loads((workdir / "models" / "bostonhouseonline" / record["deployed"] / "metadata.json").read_text())
    assert metadata["settings"]["target_lineage"] == {task["family"]: task["identity"] for task in record["tasks"]}
    # How training went is in the TrainModel entry, as in the registry metadata.
    training = next(task["training"] for task in record["tasks"] if task["family"] == "TrainModel")
    assert training == metadata["metrics"]["training"] and training["epochs_run"] > training["best_epoch"] > 0


def test_new_data_reruns_everything_and_data_seen_before_is_reused(tmp_path):
    data = tmp_path / "records.csv"
    shutil.copy(SAMPLE_DATA, data)
    env = app_environment(tmp_path, APP_DATA_PATH=str(data))
    assert counts(run_app(tmp_path, env=env)) == ("4", "0")
    assert counts(run_app(tmp_path, env=env)) == ("0", "4")
    original = data.read_bytes()
    frame = pd.read_csv(data)
    frame.loc[3, "RM"] += 0.5
    frame.to_csv(data, index=False)
    assert plan_of(tmp_path, env=env) == {"IngestRecords": ("RUN", "data changed"),
                                          "TrainModel": ("RUN", "upstream reruns"),
                                          "EvaluateModel": ("RUN", "upstream reruns"),
                                          "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(tmp_path, env=env)) == ("4", "0")
    data.write_bytes(original)
    assert set(plan_of(tmp_path, env=env).values()) == {("SKIP", "output exists")}
    assert counts(run_app(tmp_path, env=env)) == ("0", "4")


def test_changing_epochs_reruns_training_and_below(workdir):
    assert plan_of(workdir, "--set", "model_epochs=300") == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "settings changed: model_epochs"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, "--set", "model_epochs=300")) == ("3", "1")
    assert [task["outcome"] for task in run_log(workdir)[-1]["tasks"]] == ["reused", "ran", "ran", "ran"]


def insert_in_train_model(source: str, line: str) -> str:
    """`line` as the first statement of `train_model`'s body (after its docstring)."""
    function = next(node for node in ast.walk(ast.parse(source))
                    if isinstance(node, ast.FunctionDef) and node.name == "train_model")
    first = function.body[1] if ast.get_docstring(function) else function.body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}{line}\n")
    return "".join(lines)


def test_code_changes_rerun_their_task_and_below_but_comments_do_not(workdir, tmp_path_factory):
    project = tmp_path_factory.mktemp("project") / "app-copy"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(
        ".venv", "luigi_targets", "models", ".git", "bench", "__pycache__", ".pytest_cache", ".hypothesis",
        ".tmp"))
    modeling = project / "app" / "functions" / "modeling.py"
    original = modeling.read_text()
    assert counts(run_app(workdir, project=project)) == ("0", "4")

    modeling.write_text(insert_in_train_model(original, "# why: a comment changes no result"))
    assert set(plan_of(workdir, project=project).values()) == {("SKIP", "output exists")}
    assert counts(run_app(workdir, project=project)) == ("0", "4")

    modeling.write_text(insert_in_train_model(original, "feature_columns = list(feature_columns)"))
    assert plan_of(workdir, project=project) == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "code changed: TrainModel"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, project=project)) == ("3", "1")


def test_a_truncated_target_is_recomputed_with_its_downstream(workdir):
    trained = latest_target(workdir, "TrainModel")
    with open(trained, "r+b") as handle:
        handle.truncate(trained.stat().st_size // 2)
    assert plan_of(workdir) == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "output corrupt"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    result = run_app(workdir)
    assert counts(result) == ("3", "1")
    assert re.search(r"WARNING .*TrainModel/.*checksum record.*recomputed", result.stderr)
    assert "Traceback" not in result.stderr
    assert counts(run_app(workdir)) == ("0", "4")


def test_force_recomputes_in_place(workdir):
    before = target_files(workdir)
    assert plan_of(workdir, "--force", "TrainModel") == {
        "IngestRecords": ("SKIP", "output exists"), "TrainModel": ("RUN", "forced"),
        "EvaluateModel": ("RUN", "upstream reruns"), "DeployModel": ("RUN", "upstream reruns")}
    assert counts(run_app(workdir, "--force", "TrainModel")) == ("3", "1")
    assert target_files(workdir).keys() == before.keys()
    assert run_app(workdir, "--force", "NoSuchTask").returncode == 2


def test_gc_keeps_current_and_deployed_lineage_and_reports_bytes(workdir):
    deployed = {task["target"] for task in run_log(workdir)[0]["tasks"]}
    for epochs in ("40", "60"):
        assert counts(run_app(workdir, "--set", f"model_epochs={epochs}")) == ("3", "1")
    current = {task["target"] for task in run_log(workdir)[-1]["tasks"]}
    before = target_files(workdir)

    dry = run_app(workdir, "--gc", "--keep", "0", "--dry-run", "--set", "model_epochs=60")
    assert dry.returncode == 0 and target_files(workdir) == before
    listed = re.findall(r"^would remove (\S+) \((\d+) bytes\)$", dry.stdout, flags=re.MULTILINE)
    assert len(listed) == 6

    result = run_app(workdir, "--gc", "--keep", "0", "--set", "model_epochs=60")
    assert result.returncode == 0, result.stderr
    after = target_files(workdir)
    removed = before.keys() - after.keys()
    assert len(removed) == 6 and {name for name in removed if name.endswith(".pkl")}.isdisjoint(deployed | current)
    assert all(name in after for name in deployed | current)
    freed = int(re.search(r"freed (\d+) bytes", result.stdout).group(1))
    assert freed == sum(before[name] for name in removed) > 0
    assert counts(run_app(workdir)) == ("0", "4")


def slow_training_data(path: Path, rows: int = 2000) -> Path:
    """The sample resampled with a little noise: slow enough to train that a kill lands inside TrainModel."""
    frame = pd.read_csv(SAMPLE_DATA).sample(rows, replace=True, random_state=0).reset_index(drop=True)
    noise = np.random.default_rng(0).normal(1.0, 0.01, size=len(frame))
    frame["CRIM"] = frame["CRIM"] * noise
    frame["sample"] = np.arange(rows)
    frame.to_csv(path, index=False)
    return path


def start_app(workdir: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py")], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when(process: subprocess.Popen, line_seen: str) -> None:
    for line in process.stderr:
        if line_seen in line:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def deployed_metrics(workdir: Path) -> dict:
    version = summary_of_run_log_deploy(workdir)
    return json.loads((workdir / "models" / "bostonhouseonline" / version / "metadata.json").read_text())["metrics"]


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
    assert counts(run_app(clean, env=app_environment(clean, APP_DATA_PATH=str(data)))) == ("4", "0")
    assert deployed_metrics(crashed) == deployed_metrics(clean)
    assert latest_target(crashed, "TrainModel").read_bytes() == latest_target(clean, "TrainModel").read_bytes()


def test_kill_inside_a_target_write_never_leaves_a_loadable_broken_target(workdir):
    env = app_environment(workdir, APP_TEST_WRITE_DELAY_SECONDS="60", APP_MODEL_EPOCHS="50")
    process = start_app(workdir, env)
    trained = workdir / "luigi_targets" / "TrainModel"
    before = set(trained.glob("*.pkl"))
    deadline = time.monotonic() + 120
    while not set(trained.glob("*.pkl")) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    (published,) = set(trained.glob("*.pkl")) - before
    assert not Path(f"{published}.sha256").exists()

    env.pop("APP_TEST_WRITE_DELAY_SECONDS")
    assert plan_of(workdir, env=env)["TrainModel"][0] == "RUN"
    assert counts(run_app(workdir, env=env)) == ("3", "1")
    assert Path(f"{published}.sha256").exists() and os.path.getsize(published) > 0
