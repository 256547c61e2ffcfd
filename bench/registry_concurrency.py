#!/usr/bin/env python
"""Two runs with different settings started together on the same folders, repeated:
`python bench/registry_concurrency.py [--trials 10]`.

Each trial gives the pair a fresh registry (the target folder is shared, so later trials reuse the
training) and checks: both exit 0, or one exits 1 with the lock message; every deploy either run
reports is in the history; the current model's test RMSE is not worse than the better challenger's by
more than `champion_tolerance` (0). Prints one line per trial and a JSON summary.

Then, issue 23: a run through a central scheduler (`luigid`) deploys to a fresh registry with its writes
slowed, and `run.py --gc --keep-models 0` starts while the new version is half written, repeated
(`--gc-trials 10`). Each must end with the deployed version complete, verified and current: the gc waits
for the registry lock the deploy step holds. Writes bench/sections/registry_concurrency.md and rebuilds
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from bench.registry_crash import APP, environment, run  # noqa: E402
from carolbatch.registry import (MANIFEST_FILE, read_current_version, read_history,  # noqa: E402
                                 read_version_metadata, verify_version)
from carolbatch.storage.stores import LocalStore  # noqa: E402

# Two different models (model_epochs=300 would stop early where 1000 does: the same model, no decision by RMSE).
SETTINGS = (["--set", "model_epochs=1000"], ["--set", "model_l2regularization=0.9"])
SECTION = PROJECT_DIR / "bench" / "sections" / "registry_concurrency.md"
LUIGID = Path(sys.executable).with_name("luigid")
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


def start_luigid(folder: Path) -> tuple[subprocess.Popen, int]:
    """A central scheduler on a free local port with the project's Luigi settings, listening."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    env = {**environment(folder), "LUIGI_CONFIG_PATH": str(PROJECT_DIR / "luigi.cfg")}
    process = subprocess.Popen([str(LUIGID), "--port", str(port), "--address", "127.0.0.1", "--pidfile",
                                str(folder / "pid"), "--logdir", str(folder), "--state-path", str(folder / "state")],
                               cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("luigid did not start listening within 30 s")


def half_written_version(folder: Path, process: subprocess.Popen) -> str | None:
    """The version a run has started to write (files, no manifest yet); None if the run ended first."""
    while process.poll() is None:
        for path in folder.glob("*/*"):
            if path.is_file() and path.parent.is_dir() and not (path.parent / MANIFEST_FILE).exists():
                return path.parent.name
        time.sleep(0.02)
    return None


def gc_trial(workdir: Path, index: int, port: int) -> dict:
    """A deploying run through the central scheduler and a `--gc --keep-models 0` started mid-write."""
    registry = workdir / f"models-gc-{index}"
    env = environment(workdir, APP_REGISTRY_DIR=str(registry), REGISTRY_TEST_WRITE_DELAY="0.2")
    # A DeployModel of its own each trial (the registry folder is not significant): luigid would otherwise
    # see the previous trial's task again and may refuse it run permission while it forgets the last worker.
    args = ["--scheduler-host", "127.0.0.1", "--scheduler-port", str(port), "--set", f"champion_tolerance={index}"]
    deploying = subprocess.Popen([sys.executable, str(PROJECT_DIR / "run.py"), *args], cwd=workdir, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    version = half_written_version(registry / APP, deploying)
    started = time.monotonic()
    clean = run(workdir, "--gc", "--keep-models", "0", APP_REGISTRY_DIR=str(registry))
    gc_seconds = time.monotonic() - started
    output = deploying.communicate(timeout=900)[0]
    problems = [] if version else ["the run wrote no version files"]
    if deploying.returncode != 0 or clean.returncode != 0:
        said = [line for line in (output + clean.stdout + clean.stderr).splitlines()
                if line.startswith(("error:", "summary:")) or " failed: " in line]
        problems.append(f"run exit {deploying.returncode}, gc exit {clean.returncode}: {' / '.join(said)[-600:]}")
    try:
        verify_version(LocalStore(registry), APP, version)
        if read_current_version(LocalStore(registry), APP) != version or f"deployed={version}" not in output:
            problems.append(f"{version} is not the deployed, current version")
    except Exception as error:  # noqa: BLE001 (reported, not raised)
        problems.append(f"{version} lost: {error}")
    return {"trial": index, "gc_seconds": round(gc_seconds, 2), "problems": problems}


def gc_trials(workdir: Path, trials: int) -> list[dict]:
    """`trials` of `gc_trial`, against one central scheduler."""
    scheduler, port = start_luigid(workdir / "luigid")
    try:
        return [gc_trial(workdir, index, port) for index in range(trials)]
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)


def _row(name: str, rows: list[dict], measured: str) -> str:
    failed = [result for result in rows if result["problems"]]
    problems = "; ".join(problem for result in failed for problem in result["problems"])
    return f"| {name} | {len(rows)} | {len(rows) - len(failed)} | {measured} | {problems or 'pass'} |"


def write_section(results: list[dict], gc_results: list[dict], seconds: float) -> None:
    """This bench's rows in bench/sections/registry_concurrency.md; rebuilds bench/RESULTS.md around them."""
    waits = [result["gc_seconds"] for result in gc_results] or [0]
    rmse = sorted({result["current_rmse"] for result in results})
    lines = ["## Registry: concurrent commands (bench/registry_concurrency.py)", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s in all.", "",
             "| case | trials | sound | measured | result |", "| --- | --- | --- | --- | --- |",
             _row("two runs, different settings, one registry", results, f"current test RMSE {rmse}"),
             _row("run via central scheduler + `--gc --keep-models 0` mid-write", gc_results,
                 f"gc waited {min(waits):.1f}-{max(waits):.1f} s for the deploy's registry lock")]
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from report import publish_section  # bench/report.py, beside this file

    publish_section(SECTION, lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--gc-trials", type=int, default=10)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        results = concurrency_trials(Path(folder), args.trials)
        gc_results = gc_trials(Path(folder), args.gc_trials)
    for result in results:
        print(f"trial {result['trial']:2d} exits {result['exit_codes']} current RMSE {result['current_rmse']}: "
              f"{'; '.join(result['problems']) or 'sound'}")
    for result in gc_results:
        print(f"gc trial {result['trial']:2d} gc took {result['gc_seconds']:.2f}s: "
              f"{'; '.join(result['problems']) or 'sound'}")
    write_section(results, gc_results, time.monotonic() - started)
    failed = sum(bool(result["problems"]) for result in [*results, *gc_results])
    print(json.dumps({"trials": len(results), "failed": failed, "seconds": round(time.monotonic() - started, 1)}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
