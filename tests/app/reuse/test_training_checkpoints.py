"""A run killed (SIGKILL) past the middle of training goes on from its last checkpoint and deploys the same model
as an uninterrupted run; checkpoints are deleted when TrainModel completes, ignored by another task identity,
ignored and deleted by `--force`, removed by `--gc`.

Training runs exactly EPOCHS epochs (n_iter_no_change = model_epochs), so "past the middle" and "how much is
left" are counted in epochs: the run is killed once its checkpoint says epoch KILL_AFTER or later (a checkpoint
after every epoch: checkpoint_min_seconds=0).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from tests.app.conftest import ALL_TASKS, DEPLOY_APP
from tests.app.reuse.conftest import counts, latest_target, run_log, slow_training_data
from tests.conftest import PROJECT_DIR, app_environment, run_app

EPOCHS = 40
KILL_AFTER = 24  # 60% of the epochs
RESUMED = re.compile(r"resuming TrainModel from epoch (\d+) checkpoint")


def checkpoint_files(workdir: Path) -> list[Path]:
    return sorted((workdir / "luigi_targets" / "checkpoints").glob("TrainModel.*"))


def checkpoint_epoch(workdir: Path) -> int:
    """The epoch of the TrainModel checkpoint there is now, 0 while there is none (or it is being replaced)."""
    for record in (workdir / "luigi_targets" / "checkpoints").glob("TrainModel.*.pkl.sha256"):
        try:
            return json.loads(record.read_text())["summary"]["epoch"]
        except (OSError, ValueError, KeyError):
            return 0
    return 0


def kill_in_training(workdir: Path, env: dict, epoch: int) -> int:
    """Start a run, SIGKILL it once its checkpoint has reached `epoch`; the epoch of the checkpoint it left."""
    with open(workdir / "killed-run.log", "w") as log:
        process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py")], cwd=workdir, env=env,
                                   stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 240
        while checkpoint_epoch(workdir) < epoch and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, (workdir / "killed-run.log").read_text()
    # Poll again: a kill inside a checkpoint write leaves the previous record gone and no new one yet.
    assert checkpoint_epoch(workdir) >= epoch or checkpoint_files(workdir), "no checkpoint left by the killed run"
    return checkpoint_epoch(workdir)


def environment(workdir: Path, data: Path, **extra: str) -> dict:
    return app_environment(workdir, **{"APP_DATA_PATH": str(data), "APP_MODEL_EPOCHS": str(EPOCHS),
                                       "APP_N_ITER_NO_CHANGE": str(EPOCHS), "APP_CHECKPOINT_MIN_SECONDS": "0",
                                       **extra})


def train_seconds(workdir: Path) -> float:
    return next(task["seconds"] for task in run_log(workdir)[-1]["tasks"] if task["family"] == "TrainModel")


def deployed_metrics(workdir: Path) -> dict:
    version = next(record["deployed"] for record in reversed(run_log(workdir)) if record["deployed"])
    return json.loads((workdir / "models" / DEPLOY_APP / version / "metadata.json").read_text())["metrics"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    # Big enough that an epoch takes a while (about 0.1-0.3 s here), so the kill lands between epochs 24 and 40.
    return slow_training_data(tmp_path_factory.mktemp("data") / "records.csv", rows=20000)


@pytest.fixture(scope="module")
def killed(tmp_path_factory, data) -> Path:
    """A folder whose run was killed in TrainModel with a checkpoint of epoch KILL_AFTER or later."""
    workdir = tmp_path_factory.mktemp("killed")
    epoch = kill_in_training(workdir, environment(workdir, data), KILL_AFTER)
    assert KILL_AFTER <= epoch < EPOCHS
    return workdir


@pytest.fixture
def copy_of_killed(killed, tmp_path) -> Path:
    shutil.copytree(killed, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_a_killed_training_resumes_and_deploys_the_model_of_an_uninterrupted_run(copy_of_killed, data,
                                                                                 tmp_path_factory):
    clean = tmp_path_factory.mktemp("clean")
    assert counts(run_app(clean, env=environment(clean, data))) == (ALL_TASKS, "0")
    rerun = run_app(copy_of_killed, env=environment(copy_of_killed, data))
    assert counts(rerun) == ("3", "1")
    resumed_from = int(RESUMED.search(rerun.stderr).group(1))
    # What is asserted: the rerun trained at most 40% of the epochs (it went on from epoch 24 or later) ...
    assert EPOCHS - resumed_from <= 0.4 * EPOCHS
    # ... and ended with the same model: bit-identical predictions and the same training facts and test metrics.
    # (Not the same pickle bytes: objects loaded from a checkpoint pickle with other memo references.)
    resumed, uninterrupted = (joblib.load(latest_target(folder, "TrainModel")) for folder in (copy_of_killed, clean))
    for part in ("y_train_predicted", "y_test_predicted"):
        np.testing.assert_array_equal(getattr(resumed, part), getattr(uninterrupted, part))
    assert resumed.training == uninterrupted.training and resumed.validation_losses == uninterrupted.validation_losses
    assert deployed_metrics(copy_of_killed) == deployed_metrics(clean)
    assert checkpoint_files(copy_of_killed) == [] and checkpoint_files(clean) == []
    # Wall time, for the record (the epoch count above is the assertion; the machine may be loaded unevenly).
    print(f"TrainModel {train_seconds(copy_of_killed):.1f}s after resuming from epoch {resumed_from} against "
          f"{train_seconds(clean):.1f}s uninterrupted")


def test_another_task_identity_never_reads_the_checkpoint(copy_of_killed, data):
    left = checkpoint_files(copy_of_killed)
    result = run_app(copy_of_killed, env=environment(copy_of_killed, data, APP_MODEL_EPOCHS="3"))
    assert counts(result) == ("3", "1") and "resuming" not in result.stderr
    assert "for 3 epochs" in result.stderr
    # The other identity's checkpoint stays for its own rerun.
    assert checkpoint_files(copy_of_killed) == left


def test_force_ignores_and_deletes_the_checkpoint(copy_of_killed, data):
    env = environment(copy_of_killed, data)
    result = run_app(copy_of_killed, "--force", "TrainModel", env=env)
    assert counts(result) == ("3", "1") and "resuming" not in result.stderr
    assert f"for {EPOCHS} epochs" in result.stderr and checkpoint_files(copy_of_killed) == []


def test_gc_removes_checkpoints(copy_of_killed, data):
    env = environment(copy_of_killed, data)
    result = run_app(copy_of_killed, "--gc", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^removed checkpoints/TrainModel\.[0-9a-f]{64}\.pkl \(\d+ bytes\)$", result.stdout, re.M)
    assert checkpoint_files(copy_of_killed) == []
