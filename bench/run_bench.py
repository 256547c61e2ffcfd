#!/usr/bin/env python
"""Benchmark the pipeline against the physical limit and write bench/RESULTS.md.

`python bench/run_bench.py [--sizes 1e5,1e6,1e7] [--epochs 1] [--format parquet] [--defaults]`

For each size: generate the records once (bench/data/, gitignored), measure the baseline
(bench/baseline.py: pyarrow read + fsynced write of the same bytes) in a fresh process, run `run.py`
end to end in a fresh work folder (task times from its 'finished <Task> in X.XXs' lines, peak RSS
from bench/probe.py), then run it again five times, which must reuse everything (a no-op), and
compare that with a process that only imports the same modules. Measurements accumulate in
bench/results.json, so sizes can be run at different times; RESULTS.md is rebuilt from all of them.
With `--defaults` the run uses the committed settings (early stopping decides the epochs) and the
same process then measures the NumPy floor of training at the batch size TrainModel used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
RESULTS_JSON = BENCH / "results.json"
TASK_LINE = re.compile(r"finished (\w+) in ([\d.]+)s")
SPEED_LINE = re.compile(r"([\d.]+) rows/s per epoch, ([\d.]+) in the fastest")
FLOAT64_COLUMNS = 15


def run_measured(command: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run a bench/probe.py command: wall time, exit code, output, and the probe's counters
    (peak RSS of the run.py process and the bytes it read)."""
    probe_out = cwd / "probe.json"
    probe_out.unlink(missing_ok=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env={**env, "BENCH_PROBE_OUT": str(probe_out)},
                            capture_output=True, text=True)
    wall = time.perf_counter() - started
    counters = json.loads(probe_out.read_text()) if probe_out.exists() else {}
    return {"wall_s": wall, "code": result.returncode, "stdout": result.stdout, "stderr": result.stderr,
            "peak_rss": counters.get("peak_rss", -1), "read_bytes": counters.get("rchar", -1),
            "task_stats": counters.get("tasks", {}), "training_floor": counters.get("training_floor")}


def ensure_data(rows: int, file_format: str) -> Path:
    path = DATA / f"boston_{rows}.{file_format}"
    if not path.exists():
        print(f"generating {path.name} ...", flush=True)
        subprocess.run([sys.executable, str(BENCH / "generate.py"), str(rows), str(path)], check=True)
    return path


def training_facts(work: Path, summary: str, log: str) -> dict:
    """TrainModel's facts from the run record, its speed from its log line, and the test RMSE from the
    deployed version's metadata."""
    record = json.loads((work / "targets" / "runs.jsonl").read_text().splitlines()[-1])
    training = next(entry.get("training") for entry in record["tasks"] if entry["family"] == "TrainModel")
    version = summary.split("deployed=")[1].split()[0]
    metadata = json.loads((work / "models" / "bostonhouseonline" / version / "metadata.json").read_text())
    mean, fastest = SPEED_LINE.findall(log)[-1]
    return {"training": training, "test_rmse": metadata["metrics"]["test"]["rmse"],
            "speed": {"rows_per_second": float(mean), "fastest_epoch_rows_per_second": float(fastest)}}


def measure_size(rows: int, file_format: str, epochs: int | None, max_in_memory_rows: int | None) -> dict:
    data = ensure_data(rows, file_format)
    work = DATA / f"work_{rows}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Large files vary less between repeats, and each repeat writes the whole records once more.
    repeats = "3" if rows < 50_000_000 else "1"
    baseline = json.loads(subprocess.run([sys.executable, str(BENCH / "baseline.py"), str(data),
                                          str(work / "scratch.bin"), repeats], check=True, capture_output=True,
                                         text=True).stdout)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("APP_", "CAROL", "LONGTASKID"))}
    env.update(APP_DATA_PATH=str(data), APP_TARGET_DIR=str(work / "targets"), APP_REGISTRY_DIR=str(work / "models"))
    probe = [sys.executable, str(BENCH / "probe.py")]
    args = [] if epochs is None else ["--set", f"model_epochs={epochs}", "--set",
                                      f"max_in_memory_rows={max_in_memory_rows}"]
    full = run_measured([*probe, *args], {**env, "BENCH_TRAINING_FLOOR": "1" if epochs is None else ""}, work)
    if full["code"] != 0:
        raise SystemExit(f"run.py failed at {rows} rows:\n{full['stdout']}\n{full['stderr']}")
    facts = training_facts(work, full["stdout"].strip().splitlines()[-1], full["stderr"]) if epochs is None else {}
    # Small timings on a shared machine: the fastest of five, the two kinds interleaved.
    pairs = [(run_measured([*probe, *args], env, work), run_measured([*probe, "--imports-only"], env, work))
             for _ in range(5)]
    rerun = min((pair[0] for pair in pairs), key=lambda run: run["wall_s"])
    imports = min((pair[1] for pair in pairs), key=lambda run: run["wall_s"])
    shutil.rmtree(work, ignore_errors=True)
    return {
        "rows": rows, "format": file_format, "epochs": epochs, "max_in_memory_rows": max_in_memory_rows,
        "file_bytes": data.stat().st_size, "float64_bytes": rows * FLOAT64_COLUMNS * 8, "baseline": baseline,
        "tasks": {name: float(seconds) for name, seconds in TASK_LINE.findall(full["stderr"])},
        "wall_s": full["wall_s"], "peak_rss": full["peak_rss"], "task_stats": full["task_stats"],
        "summary": full["stdout"].strip().splitlines()[-1], "rerun_summary": rerun["stdout"].strip().splitlines()[-1],
        "rerun_wall_s": rerun["wall_s"], "rerun_read_bytes": rerun["read_bytes"],
        "imports_wall_s": imports["wall_s"], "imports_read_bytes": imports["read_bytes"],
        "load_average": os.getloadavg(), "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "defaults": epochs is None, "training_floor": full["training_floor"], **facts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7", help="comma-separated record counts")
    parser.add_argument("--epochs", type=int, default=1, help="model_epochs for every size (default 1)")
    parser.add_argument("--max-in-memory-rows", type=int, default=100_000,
                        help="max_in_memory_rows for every size (default 100000: 1e6 and up train in chunks)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument("--defaults", action="store_true",
                        help="run with the committed settings (no --epochs/--max-in-memory-rows)")
    args = parser.parse_args()
    if args.defaults:
        args.epochs = args.max_in_memory_rows = None
    results = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    for size in args.sizes.split(","):
        rows = int(float(size))
        print(f"measuring {rows} records ...", flush=True)
        result = measure_size(rows, args.format, args.epochs, args.max_in_memory_rows)
        results[f"{args.format}:{rows}" + (":defaults" if args.defaults else "")] = result
        RESULTS_JSON.write_text(json.dumps(results, indent=1, sort_keys=True))
        print(json.dumps({key: result[key] for key in ("tasks", "wall_s", "peak_rss", "rerun_wall_s")}), flush=True)
    from report import write_results  # bench/report.py, beside this file

    write_results(results, BENCH / "RESULTS.md")


if __name__ == "__main__":
    main()
