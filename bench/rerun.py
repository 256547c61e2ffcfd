#!/usr/bin/env python
"""Cost of a no-op rerun next to the cost of importing the app: `python bench/rerun.py [--rows N]`.

For the bundled sample and for an N-row synthetic CSV (default 1,000,000, made by `bench/generate.py`
under the gitignored `bench/data/`), it runs the pipeline once in a temp folder, then times no-op reruns
of `run.py` as whole processes and lists the files each rerun opened (through an audit hook), to show that
it neither reads the data nor loads a big target. Imports are timed as a process importing what `run.py`
imports. Times are the best of `--repeat` runs. It runs a snapshot copy of the project, so an edit made
to the tree meanwhile cannot turn a rerun into real work.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_DIR / "bench" / "data"
IMPORTS = "import dotenv, app.pipeline, carolbatch.control.startup, carolbatch.control.runner, carolbatch.control.maintenance, carolbatch.control.logging_setup"
# Runs run.py in a process that first imports what run.py imports, timing both parts, with an audit hook
# noting every file opened; writes {"opened", "imports_s", "work_s"} as JSON to $TRACE_LOG.
TRACED_RUN = """
import json, os, runpy, sys, time
started = time.perf_counter()
opened = set()
sys.addaudithook(lambda event, args: event == "open" and isinstance(args[0], str) and opened.add(args[0]))
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))
IMPORTS
imported = time.perf_counter()
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
finally:
    trace = {"opened": sorted(opened), "imports_s": imported - started, "work_s": time.perf_counter() - imported}
    open(os.environ["TRACE_LOG"], "w").write(json.dumps(trace))
""".replace("IMPORTS", IMPORTS)


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return elapsed, result


def environment(workdir: Path, data: Path, epochs: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "CLOUD"))}
    env.update(APP_DATA_PATH=str(data), APP_TARGET_DIR=str(workdir / "targets"),
               APP_REGISTRY_DIR=str(workdir / "models"), APP_MODEL_EPOCHS=str(epochs),
               TRACE_LOG=str(workdir / "trace.json"))
    return env


def measure(project: Path, data: Path, epochs: int, repeat: int) -> dict:
    """Time a first run and the best no-op rerun on `data`, and what the rerun opened."""
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = environment(workdir, data, epochs)
        first, _ = timed([sys.executable, str(project / "run.py")], env, workdir)
        reruns = []
        for _ in range(repeat):
            seconds, result = timed([sys.executable, "-c", TRACED_RUN, str(project / "run.py")], env, workdir)
            assert "ran=0" in result.stdout.splitlines()[-1], result.stdout
            reruns.append({"wall_s": seconds, **json.loads((workdir / "trace.json").read_text())})
        best = min(reruns, key=lambda rerun: rerun["work_s"])
        targets = [Path(name) for name in best["opened"] if name.startswith(str(workdir / "targets"))]
        return {
            "data": str(data), "data_bytes": data.stat().st_size, "first_run_s": round(first, 2),
            "noop_rerun_wall_s": round(min(rerun["wall_s"] for rerun in reruns), 3),
            "imports_in_rerun_s": round(best["imports_s"], 3), "beyond_imports_s": round(best["work_s"], 3),
            "data_opened": str(data) in best["opened"],
            "targets_opened": {path.relative_to(workdir / "targets").as_posix(): path.stat().st_size
                               for path in targets if path.is_file()},
        }


def import_seconds(project: Path, repeat: int) -> float:
    env = {key: value for key, value in os.environ.items() if not key.startswith("APP_")}
    return min(timed([sys.executable, "-c", IMPORTS], env, project)[0] for _ in range(repeat))


def synthetic_file(rows: int) -> Path:
    path = DATA_DIR / f"rerun_{rows}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(PROJECT_DIR / "bench" / "generate.py"), str(rows), str(path)], check=True)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the synthetic file")
    parser.add_argument("--epochs", type=int, default=5, help="model_epochs of the runs (training is not timed)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    datasets = (PROJECT_DIR / "data" / "boston_house_prices.csv", synthetic_file(args.rows))
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder) / "project"
        shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(
            ".venv", ".git", "data", "luigi_targets", "models", "__pycache__", ".pytest_cache", ".hypothesis"))
        print(f"import app alone (own process, best of {args.repeat}): {import_seconds(project, args.repeat):.3f}s")
        for data in datasets:
            print(json.dumps(measure(project, data, args.epochs, args.repeat), indent=2))


if __name__ == "__main__":
    main()
