#!/usr/bin/env python
"""Start-up cost of run.py, side by side: `python bench/startup.py [--against DIR] [--repeat N]`.

For this project and, with `--against`, another checkout of it (e.g. `git archive main | tar -x -C DIR`), in
the same run: the wall time of `run.py --help` (best of N whole processes) and of a no-op rerun of the bundled
sample after one first run in a temp folder, split as bench/rerun.py splits it (a process that first imports
what run.py imports, timed, then runs run.py: `beyond imports` is the second part, best of N), and the
heaviest top-level imports of a rerun from `python -X importtime`. Writes bench/sections/startup.md and
rebuilds RESULTS.md with it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started, result.stderr


def top_level_imports(importtime: str) -> dict[str, float]:
    """Seconds per top-level import (the modules the process itself imported), from -X importtime's lines."""
    found = {}
    for match in IMPORT_LINE.finditer(importtime):
        if not match.group(3):
            found[match.group(4)] = found.get(match.group(4), 0) + int(match.group(2)) / 1e6
    return found


def traced_rerun(project: Path, env: dict[str, str], workdir: Path) -> tuple[float, float]:
    """(imports, beyond imports) of one no-op rerun, in seconds."""
    from rerun import TRACED_RUN  # beside this file

    timed([sys.executable, "-c", TRACED_RUN, str(project / "run.py")], env, workdir)
    trace = json.loads((workdir / "trace.json").read_text())
    return trace["imports_s"], trace["work_s"]


def measure(project: Path, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = {key: value for key, value in os.environ.items() if not key.startswith(("CAROL", "APP_", "CLOUD"))}
        env.update(APP_TARGET_DIR=str(workdir / "targets"), APP_REGISTRY_DIR=str(workdir / "models"),
                   APP_DATA_PATH=str(PROJECT_DIR / "data" / "boston_house_prices.csv"),
                   TRACE_LOG=str(workdir / "trace.json"))
        run = [sys.executable, str(project / "run.py")]
        help_s = min(timed([*run, "--help"], env, workdir)[0] for _ in range(repeat))
        timed(run, env, workdir)  # the first run, which the reruns reuse
        rerun_s = min(timed(run, env, workdir)[0] for _ in range(repeat))
        imports_s, work_s = min((traced_rerun(project, env, workdir) for _ in range(repeat)), key=lambda pair: pair[1])
        imports = top_level_imports(timed([sys.executable, "-X", "importtime", *run[1:]], env, workdir)[1])
    return {"help_s": help_s, "rerun_s": rerun_s, "imports_s": imports_s, "work_s": work_s, "imports": imports}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="another checkout of the project, measured in the same run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    projects = [PROJECT_DIR, *([args.against] if args.against else [])]
    lines = ["## Start-up (bench/startup.py)", "",
             f"`python bench/startup.py --repeat {args.repeat}`, the projects side by side in one run; seconds, best of "
             f"{args.repeat}; load average {os.getloadavg()[0]:.1f} at the start (2 cores, shared).", "",
             "| project | --help | no-op rerun | its imports | beyond imports | heaviest imports of a rerun (-X importtime) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for project in projects:
        result = measure(project, args.repeat)
        heaviest = sorted(result["imports"].items(), key=lambda item: -item[1])[:4]
        names = ", ".join(f"{name} {seconds:.2f}" for name, seconds in heaviest)
        lines.append(f"| {project.name if project != PROJECT_DIR else 'this tree'} | {result['help_s']:.2f} "
                     f"| {result['rerun_s']:.2f} | {result['imports_s']:.2f} | {result['work_s']:.2f} | {names} |")
        print(lines[-1], flush=True)
    write_section(lines)


def write_section(lines: list[str]) -> None:
    """bench/sections/startup.md, then RESULTS.md rebuilt with it."""
    from report import write_results  # beside this file

    bench = Path(__file__).resolve().parent
    (bench / "sections" / "startup.md").write_text("\n".join(lines) + "\n")
    write_results(json.loads((bench / "results.json").read_text()), bench / "RESULTS.md")


if __name__ == "__main__":
    main()
