#!/usr/bin/env python
"""Run `run.py` (or, with `--imports-only`, only import what it imports) in this process, then write
this process's I/O counters (/proc/self/io) and peak RSS as JSON to the file named by $BENCH_PROBE_OUT.

Luigi runs the tasks inside this process (one worker), so the peak RSS is the whole pipeline's; per
task it also records the peak RSS while the task ran and the CPU seconds it used.

The benchmark launches this instead of `run.py` so it can tell how many bytes a run read.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import resource
import runpy
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
# The modules run.py imports inside main() before a run starts.
RUN_IMPORTS = ("dotenv", "carolbatch.control.logging_setup", "app.pipeline", "carolbatch.control.startup",
               "carolbatch.control.runner")


_task_stats: dict[str, dict] = {}
_task_start: dict[str, tuple[float, float]] = {}
_process_peak = [0]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return -1


def _watch_tasks() -> None:
    """Per task: its peak RSS (the kernel's high-water mark is reset when it starts) and CPU seconds."""
    import luigi

    @luigi.Task.event_handler(luigi.Event.START)
    def started(task) -> None:
        # Resetting the high-water mark also resets ru_maxrss: keep the process peak so far first.
        _process_peak[0] = max(_process_peak[0], _peak_rss())
        Path("/proc/self/clear_refs").write_text("5")
        _task_start[task.task_id] = (_cpu_seconds(), time.perf_counter())

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    def finished(task) -> None:
        cpu, wall = _task_start.pop(task.task_id)
        _task_stats[task.get_task_family()] = {"peak_rss": _peak_rss(), "cpu_s": _cpu_seconds() - cpu,
                                               "wall_s": time.perf_counter() - wall}


def _training_floor() -> dict | None:
    """With $BENCH_TRAINING_FLOOR: the NumPy floor of training at the batch size and network TrainModel
    used (from the run record), measured in this process so it sees the same machine load."""
    if not os.environ.get("BENCH_TRAINING_FLOOR"):
        return None
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from baseline import training_floor

    record = json.loads((Path(os.environ["APP_TARGET_DIR"]) / "runs.jsonl").read_text().splitlines()[-1])
    training = next(entry.get("training") for entry in record["tasks"] if entry["family"] == "TrainModel")
    return training_floor(training["hidden_layers"], training["batch_size"]) if training else None


def _write_counters() -> None:
    counters = {key: int(value) for key, value in
                (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())}
    counters["peak_rss"] = max(_process_peak[0], _peak_rss())
    counters["tasks"] = _task_stats
    counters["training_floor"] = _training_floor()
    Path(os.environ["BENCH_PROBE_OUT"]).write_text(json.dumps(counters))


if __name__ == "__main__":
    atexit.register(_write_counters)
    sys.path.insert(0, str(PROJECT_DIR))
    if sys.argv[1:] == ["--imports-only"]:
        # What run.py loads before it runs anything, without running it (nothing imports run.py itself).
        runpy.run_path(str(PROJECT_DIR / "run.py"), run_name="run_imports_only")
        for module in RUN_IMPORTS:
            importlib.import_module(module)
    else:
        _watch_tasks()
        sys.argv = [str(PROJECT_DIR / "run.py"), *sys.argv[1:]]
        runpy.run_path(str(PROJECT_DIR / "run.py"), run_name="__main__")
