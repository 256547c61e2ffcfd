#!/usr/bin/env python
"""Run `run.py` (or, with `--imports-only`, only import what it imports) in this process, then write
this process's I/O counters (/proc/self/io) and peak RSS as JSON to the file named by $BENCH_PROBE_OUT.

Luigi runs the tasks inside this process (one worker), so the peak RSS is the whole pipeline's.

The benchmark launches this instead of `run.py` so it can tell how many bytes a run read.
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import runpy
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def _write_counters() -> None:
    counters = {key: int(value) for key, value in
                (line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())}
    counters["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    Path(os.environ["BENCH_PROBE_OUT"]).write_text(json.dumps(counters))


if __name__ == "__main__":
    atexit.register(_write_counters)
    sys.path.insert(0, str(PROJECT_DIR))
    if sys.argv[1:] == ["--imports-only"]:
        import run  # noqa: F401
        from app.flow import runner, startup  # noqa: F401
    else:
        sys.argv = [str(PROJECT_DIR / "run.py"), *sys.argv[1:]]
        runpy.run_path(str(PROJECT_DIR / "run.py"), run_name="__main__")
