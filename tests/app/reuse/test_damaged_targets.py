"""A damaged or half-written target is never loaded: it is recomputed with its downstream."""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

from tests.app.conftest import ALL_TASKS
from tests.app.reuse.conftest import counts, latest_target, plan_of, start_app
from tests.conftest import app_environment, run_app


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
    assert counts(run_app(workdir)) == ("0", ALL_TASKS)


def test_kill_inside_a_target_write_never_leaves_a_loadable_broken_target(workdir):
    env = app_environment(workdir, PIPELINE_TEST_WRITE_DELAY="60", APP_MODEL_EPOCHS="50")
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

    env.pop("PIPELINE_TEST_WRITE_DELAY")
    assert plan_of(workdir, env=env)["TrainModel"][0] == "RUN"
    assert counts(run_app(workdir, env=env)) == ("3", "1")
    assert Path(f"{published}.sha256").exists() and os.path.getsize(published) > 0
