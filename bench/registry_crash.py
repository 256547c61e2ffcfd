#!/usr/bin/env python
"""Kill deploying runs at random moments and check the registry after each rerun:
`python bench/registry_crash.py [--trials 30] [--seed 13]`.

Each trial starts `run.py` with a new seed (so it trains a new model) and a tolerance that lets it
deploy, with registry writes slowed by the test hook (`REGISTRY_TEST_WRITE_DELAY`), kills it with
SIGKILL at a random moment of its deploy step, reruns the same command, runs `--gc`, and checks:
the current version verifies, `current` and `model.pkl` equal it, the history names it last, and
no `.part` file or incomplete version is left. Prints one line per trial and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from carolbatch.registry import MANIFEST_FILE, read_current_version, read_history, verify_version  # noqa: E402
from carolbatch.storage.stores import LocalStore  # noqa: E402

APP = "bostonhouseonline"
DATA = PROJECT_DIR / "data" / "boston_house_prices.csv"
WRITE_DELAY = "0.2"
DEPLOY_WINDOW_S = 3.0


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "CLOUD_TARGET"))}
    env.update(APP_DATA_PATH=str(DATA), APP_TARGET_DIR=str(workdir / "luigi_targets"),
               APP_REGISTRY_DIR=str(workdir / "models"), APP_MODEL_EPOCHS="300", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir,
                          env=environment(workdir), capture_output=True, text=True, timeout=600)


def killed_run(workdir: Path, args: list[str], rng: random.Random) -> float:
    """Start a deploying run, SIGKILL it at a random moment of its deploy step; seconds into that step."""
    log = workdir / "killed.log"
    with open(log, "w") as handle:
        process = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir,
                                   env=environment(workdir, REGISTRY_TEST_WRITE_DELAY=WRITE_DELAY),
                                   stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while "running DeployModel" not in log.read_text() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    moment = rng.uniform(0, DEPLOY_WINDOW_S)
    time.sleep(moment)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return moment


def registry_problems(workdir: Path) -> list[str]:
    """What is wrong with the registry and the targets after a rerun and `--gc` (empty when sound)."""
    store, folder = LocalStore(workdir / "models"), workdir / "models" / APP
    version = read_current_version(store, APP)
    problems = []
    try:
        verify_version(store, APP, version)
    except Exception as error:  # noqa: BLE001 (reported, not raised)
        problems.append(f"current {version} does not verify: {error}")
    if (folder / "current").read_text() != version:
        problems.append(f"current file says {(folder / 'current').read_text()!r}, history {version}")
    if (folder / "model.pkl").read_bytes() != (folder / version / "model.pkl").read_bytes():
        problems.append("model.pkl differs from the current version's")
    last = [entry for entry in read_history(store, APP) if entry["action"] in ("deploy", "rollback")][-1]
    if last["version"] != version:
        problems.append(f"history names {last['version']} last, current is {version}")
    problems += [f"leftover {path}" for path in workdir.rglob("*.part")]
    problems += [f"incomplete version {path.name}" for path in folder.iterdir()
                 if path.is_dir() and not (path / MANIFEST_FILE).is_file()]
    return problems


def trial(workdir: Path, index: int, rng: random.Random) -> dict:
    """One kill, rerun, clean-up and check."""
    args = ["--set", f"random_state={index + 2}", "--set", "champion_tolerance=1000"]
    moment = killed_run(workdir, args, rng)
    rerun = run(workdir, *args)
    clean = run(workdir, "--gc")
    problems = registry_problems(workdir)
    if rerun.returncode != 0 or clean.returncode != 0:
        problems.append(f"rerun exit {rerun.returncode}, gc exit {clean.returncode}: {rerun.stderr[-300:]}")
    return {"trial": index, "killed_after_s": round(moment, 2), "problems": problems}


def crash_trials(workdir: Path, trials: int, seed: int) -> list[dict]:
    """Set up a deployed model in `workdir`, then run `trials` kill-and-check trials."""
    first = run(workdir)
    if first.returncode != 0:
        raise RuntimeError(first.stderr[-2000:])
    rng = random.Random(seed)
    return [trial(workdir, index, rng) for index in range(trials)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        results = crash_trials(Path(folder), args.trials, args.seed)
    for result in results:
        print(f"trial {result['trial']:2d} killed {result['killed_after_s']:.2f}s into the deploy: "
              f"{'; '.join(result['problems']) or 'sound'}")
    failed = sum(bool(result["problems"]) for result in results)
    print(json.dumps({"trials": len(results), "failed": failed, "seconds": round(time.monotonic() - started, 1)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
