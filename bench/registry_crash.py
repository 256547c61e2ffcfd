#!/usr/bin/env python
"""Kill deploying runs at random moments and check the registry after each rerun:
`python bench/registry_crash.py [--trials 30] [--seed 13]`.

Each trial starts `run.py` with a new seed (so it trains a new model) and a tolerance that lets it
deploy, with registry writes slowed by the test hook (`REGISTRY_TEST_WRITE_DELAY`), kills it with
SIGKILL at a random moment of its deploy step, reruns the same command, runs `--gc`, and checks:
the current version verifies, `current` and `model.pkl` equal it, the history names it last, and
no `.part` file or incomplete version is left. Prints one line per trial and a JSON summary.

Then, on copies of the registry the trials left, the history cases of issue 23: `--gc --keep-models 0`
with `history.jsonl` missing, and emptied, must keep the version `current` names (and it must still
load); `--rollback` with the current version's history line written twice must go to the version
current before it. Writes bench/sections/registry_crash.md and rebuilds bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from carolbatch.registry import (MANIFEST_FILE, current_chain, list_version_ids, load_current_model,  # noqa: E402
                                 read_current_version, read_history, verify_version)
from carolbatch.storage.stores import LocalStore  # noqa: E402

APP = "bostonhouseonline"
DATA = PROJECT_DIR / "data" / "boston_house_prices.csv"
WRITE_DELAY = "0.2"
DEPLOY_WINDOW_S = 3.0
SECTION = PROJECT_DIR / "bench" / "sections" / "registry_crash.md"


def environment(workdir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "CLOUD_TARGET"))}
    env.update(APP_DATA_PATH=str(DATA), APP_TARGET_DIR=str(workdir / "luigi_targets"),
               APP_REGISTRY_DIR=str(workdir / "models"), APP_MODEL_EPOCHS="300", PYTHONDONTWRITEBYTECODE="1")
    env.update(extra)
    return env


def run(workdir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir,
                          env=environment(workdir, **extra), capture_output=True, text=True, timeout=600)


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
    # Another seed each trial: a new model, not comparable with the last one, so it replaces it.
    args = ["--set", f"random_state={index + 2}", "--replace-champion"]
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


def registry_copy(workdir: Path, name: str) -> tuple[Path, LocalStore]:
    """A copy of the registry the trials left, to damage."""
    copy = workdir / name
    shutil.copytree(workdir / "models", copy)
    return copy, LocalStore(copy)


def lost_history_case(workdir: Path, how: str) -> dict:
    """`--gc --keep-models 0` on a registry whose history is missing or empty: `current` must survive."""
    copy, store = registry_copy(workdir, f"models-history-{how}")
    history = copy / APP / "history.jsonl"
    if how == "missing":
        history.unlink()
    else:
        history.write_bytes(b"")
    current, before = (copy / APP / "current").read_text(), list_version_ids(store, APP)
    clean = run(workdir, "--gc", "--keep-models", "0", APP_REGISTRY_DIR=str(copy))
    problems = [] if clean.returncode == 0 else [f"gc exit {clean.returncode}: {clean.stderr[-300:]}"]
    try:
        verify_version(store, APP, current)
        if read_current_version(store, APP) != current or load_current_model(store, APP) is None:
            problems.append(f"the registry no longer serves {current}")
    except Exception as error:  # noqa: BLE001 (reported, not raised)
        problems.append(f"current {current} lost: {error}")
    return {"case": f"history {how}, --gc --keep-models 0", "versions": f"{len(before)} -> "
            f"{len(list_version_ids(store, APP))}", "problems": problems}


def duplicated_line_case(workdir: Path) -> dict:
    """`--rollback` with the current version's history line written twice: back to the one before it."""
    copy, store = registry_copy(workdir, "models-history-duplicated")
    chain = current_chain(read_history(store, APP))
    history = copy / APP / "history.jsonl"
    last = [line for line in history.read_bytes().splitlines(keepends=True) if line.strip()][-1]
    history.write_bytes(history.read_bytes() + last)
    result = run(workdir, "--rollback", APP_REGISTRY_DIR=str(copy))
    now = read_current_version(store, APP)
    problems = [] if now == chain[-2] and result.returncode == 0 else [
        f"rollback exit {result.returncode}: current {now}, expected {chain[-2]} (was {chain[-1]})"]
    return {"case": "current's history line twice, --rollback", "versions": f"{chain[-1]} -> {now}",
            "problems": problems}


def history_cases(workdir: Path) -> list[dict]:
    """Issue 23's history cases on copies of the registry in `workdir` (after `crash_trials`)."""
    return [lost_history_case(workdir, "missing"), lost_history_case(workdir, "empty"),
            duplicated_line_case(workdir)]


def write_section(results: list[dict], cases: list[dict], seconds: float) -> None:
    """This bench's rows in bench/sections/registry_crash.md; rebuilds bench/RESULTS.md around them."""
    failed = sum(bool(result["problems"]) for result in results)
    lines = ["## Registry: crashes and a damaged history (bench/registry_crash.py)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
             f"{len(results)} deploying runs SIGKILLed 0-{DEPLOY_WINDOW_S:.0f} s into DeployModel (registry writes "
             f"slowed by {WRITE_DELAY} s each), each rerun and `--gc`: {len(results) - failed} of {len(results)} "
             f"sound, {seconds:.0f} s in all. Then, on copies of the registry they left:", "",
             "| case | versions | result |", "| --- | --- | --- |"]
    lines += [f"| {case['case']} | {case['versions']} | {'; '.join(case['problems']) or 'pass'} |" for case in cases]
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from report import publish_section  # bench/report.py, beside this file

    publish_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        results = crash_trials(Path(folder), args.trials, args.seed)
        cases = history_cases(Path(folder))
    for result in results:
        print(f"trial {result['trial']:2d} killed {result['killed_after_s']:.2f}s into the deploy: "
              f"{'; '.join(result['problems']) or 'sound'}")
    for case in cases:
        print(f"{case['case']}: versions {case['versions']}: {'; '.join(case['problems']) or 'sound'}")
    write_section(results, cases, time.monotonic() - started)
    failed = sum(bool(result["problems"]) for result in [*results, *cases])
    print(json.dumps({"trials": len(results), "failed": failed, "seconds": round(time.monotonic() - started, 1)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
