"""TrainModel shows its epoch, bound and validation loss in a running luigid while it trains."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.parse
import urllib.request

from tests.app.test_central_scheduler import luigid  # noqa: F401 (fixture)
from tests.conftest import PROJECT_DIR, app_environment, run_app, summary_of

EPOCH_MESSAGE = re.compile(r"epoch (\d+) of at most 2000: validation loss [\d.]+ \(best [\d.]+ at epoch \d+\)")


def api(port: int, method: str, **data) -> dict:
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/{method}?{query}", timeout=5) as response:
        return json.load(response)["response"]


def running_train_model(port: int) -> str | None:
    tasks = api(port, "task_list", status="RUNNING", upstream_status="", search="TrainModel")
    return next(iter(tasks), None)


def test_luigid_shows_train_model_progress_during_training(tmp_path, luigid):  # noqa: F811
    # 2000 epochs with no early stop: several seconds of training on the sample, ended by the test.
    run = subprocess.Popen(
        [sys.executable, str(PROJECT_DIR / "run.py"), "--scheduler-host", "127.0.0.1", "--scheduler-port", str(luigid),
         "--set", "model_epochs=2000", "--set", "n_iter_no_change=2000"],
        cwd=tmp_path, env=app_environment(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 240
        while len(seen) < 2 and run.poll() is None and time.monotonic() < deadline:
            task_id = running_train_model(luigid)
            if task_id is not None:
                # Progress first: the message read after it is from the same update or a later one.
                percent = api(luigid, "get_task_progress_percentage", task_id=task_id)["progressPercentage"]
                message = api(luigid, "get_task_status_message", task_id=task_id)["statusMessage"] or ""
                match = EPOCH_MESSAGE.fullmatch(message)
                if match and percent is not None and (not seen or int(match[1]) > seen[-1][0]):
                    seen.append((int(match[1]), percent))
            time.sleep(0.3)
    finally:
        run.kill()
        run.wait(timeout=30)
    assert len(seen) == 2, f"saw {seen} before the run ended (exit {run.returncode})"
    (first, first_percent), (later, later_percent) = seen
    assert first < later < 2000 and 0 <= first_percent <= later_percent <= 100
    # Progress is the epoch over its bound, sent with the message: never ahead of the message read after it.
    assert later_percent <= round(100 * later / 2000)


def test_a_new_network_shape_retrains_reuses_ingestion_and_faces_the_champion(tmp_path):
    champion = summary_of(run_app(tmp_path))["deployed"]
    plan = run_app(tmp_path, "--plan", "--set", "model_hidden_layers=64").stdout
    assert re.search(r"^RUN\s+TrainModel\s+settings changed: model_hidden_layers$", plan, re.MULTILINE), plan
    assert re.search(r"^SKIP\s+IngestRecords\s", plan, re.MULTILINE), plan
    result = run_app(tmp_path, "--set", "model_hidden_layers=64")
    assert result.returncode == 0, result.stderr
    assert (summary_of(result)["ran"], summary_of(result)["reused"]) == ("3", "1")
    # The early-stopped challenger went through the gate against the deployed model like any other.
    assert re.search(rf"test RMSE [\d.]+ vs [\d.]+ of deployed model {champion}", result.stdout + result.stderr)
