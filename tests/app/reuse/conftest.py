"""Shared by the reuse tests (run.py for real in temp folders): one finished default run to start from,
and helpers reading a run's summary, plan, targets and run record."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.app.conftest import ALL_TASKS, SETTINGS
from tests.conftest import APP_DATA, PROJECT_DIR, run_app, summary_of

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


@pytest.fixture(scope="session")
def finished(tmp_path_factory) -> Path:
    """A folder holding one finished default run."""
    workdir = tmp_path_factory.mktemp("finished")
    assert counts(run_app(workdir)) == (ALL_TASKS, "0")
    return workdir


@pytest.fixture
def workdir(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path, dirs_exist_ok=True)
    return tmp_path


def slow_training_data(path: Path, rows: int = 2000) -> Path:
    """The app's data resampled with a little noise: slow enough to train that a kill lands inside TrainModel."""
    frame = pd.read_csv(APP_DATA).sample(rows, replace=True, random_state=0).reset_index(drop=True)
    noise = np.random.default_rng(0).normal(1.0, 0.01, size=len(frame))
    feature = SETTINGS.feature_columns[0]
    frame[feature] = frame[feature] * noise
    if SETTINGS.id_column:
        frame[SETTINGS.id_column] = np.arange(rows)
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
