#!/usr/bin/env python
"""Two runs with different settings started together on the same folders, repeated:
`python bench/registry_concurrency.py [--trials 10]`.

Each trial gives the pair a fresh registry (the target folder is shared, so later trials reuse the
training) and checks: both exit 0, or one exits 1 with the lock message; every deploy either run
reports is in the history; the current model's test RMSE is not worse than the better challenger's by
more than `champion_tolerance` (0). Prints one line per trial and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from bench.registry_crash import APP, environment  # noqa: E402
from carolbatch.registry import read_current_version, read_history, read_version_metadata  # noqa: E402
from carolbatch.storage.stores import LocalStore  # noqa: E402

SETTINGS = (["--set", "model_epochs=1000"], ["--set", "model_epochs=300"])
_DECISION = re.compile(r"(?:deploying model version (?P<version>\S+): |not deployed: )test RMSE (?P<rmse>[\d.]+)")


def start(workdir: Path, registry: Path, args: list[str]) -> subprocess.Popen:
    env = environment(workdir, APP_REGISTRY_DIR=str(registry))
    env.pop("APP_MODEL_EPOCHS")
    return subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trial(workdir: Path, index: int) -> dict:
    """One pair of concurrent runs on a fresh registry, and what was wrong with the outcome."""
    registry = workdir / f"models-{index}"
    processes = [start(workdir, registry, args) for args in SETTINGS]
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    codes = [process.returncode for process in processes]
    problems = []
    if not (codes == [0, 0] or (sorted(codes) == [0, 1] and "is locked by" in outputs[codes.index(1)])):
        problems.append(f"exit codes {codes}")
    decisions = [match for output in outputs for match in _DECISION.finditer(output)]
    store = LocalStore(registry)
    deployed = {entry["version"] for entry in read_history(store, APP) if entry["action"] == "deploy"}
    problems += [f"deploy {m['version']} missing from the history" for m in decisions
                 if m["version"] and m["version"] not in deployed]
    current = read_current_version(store, APP)
    best = min(float(match["rmse"]) for match in decisions)
    rmse = read_version_metadata(store, APP, current)["metrics"]["test"]["rmse"]
    if rmse > best + 0.0005:  # the log rounds to 3 decimals
        problems.append(f"current test RMSE {rmse:.3f} worse than the better challenger's {best:.3f}")
    return {"trial": index, "exit_codes": codes, "current_rmse": round(rmse, 3), "problems": problems}


def concurrency_trials(workdir: Path, trials: int) -> list[dict]:
    return [trial(workdir, index) for index in range(trials)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        results = concurrency_trials(Path(folder), args.trials)
    for result in results:
        print(f"trial {result['trial']:2d} exits {result['exit_codes']} current RMSE {result['current_rmse']}: "
              f"{'; '.join(result['problems']) or 'sound'}")
    failed = sum(bool(result["problems"]) for result in results)
    print(json.dumps({"trials": len(results), "failed": failed, "seconds": round(time.monotonic() - started, 1)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
