#!/usr/bin/env python
"""Benchmark Carol mode through the sandbox and add its rows to bench/RESULTS.md.

`python bench/carol_bench.py [--sizes 1e5,1e6,1e7] [--rest-sizes 1e6] [--streams 4] [--noop-only]`

For each size: stage the generated records (bench/generate.py) in a fresh sandbox process, run
`run.py` in Carol mode under bench/probe.py (IngestRecords CPU and peak RSS of the app process), read
the sandbox's own CPU from /proc, then ingest the same records from the local Parquet file for
comparison, and time no-op reruns in both modes with the sandbox's request counters (OAuth token
requests, storage metadata calls, bytes downloaded). `--rest-sizes` repeats the Carol run with the
Storage Read API refused. `--streams 1,4` measures each size with the sandbox offering that many Storage
Read streams a session (the app lets the server choose and reads them all at once); the streams read and
the most read at once come from the sandbox's counters. Measurements accumulate in bench/carol_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PROJECT = BENCH.parent
sys.path[:0] = [str(BENCH), str(PROJECT)]

from run_bench import DATA, FLOAT64_COLUMNS, ensure_data, run_measured  # noqa: E402

from sandbox.staging import stage_file  # noqa: E402
from sandbox.tenant import write_app_settings  # noqa: E402

CAROL_RESULTS = BENCH / "carol_results.json"
APP, DEPLOY_APP = "bostonhouse", "bostonhouseonline"
RERUNS = 3


class BenchSandbox:
    """`python -m sandbox` in its own process, so its CPU time is its own."""

    def __init__(self, folder: Path, refuse_storage_read: bool, streams: int = 4) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder, env_file = folder, folder / ".env.sandbox"
        command = [sys.executable, "-m", "sandbox", "--folder", str(folder), "--carol-port", "0", "--storage-port",
                   "0", "--storage-read-port", "0", "--env-file", str(env_file), "--no-sample",
                   "--storage-read-streams", str(streams)]
        self.process = subprocess.Popen([*command, *(["--refuse-storage-read"] if refuse_storage_read else [])],
                                        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=open(folder / "log", "w"))
        while not env_file.is_file():
            if self.process.poll() is not None:
                raise SystemExit(f"sandbox did not start: {(folder / 'log').read_text()}")
            time.sleep(0.2)
        from dotenv import dotenv_values

        self.environment = dict(dotenv_values(env_file))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def counters(self) -> dict[str, int]:
        context = ssl.create_default_context(cafile=self.environment["REQUESTS_CA_BUNDLE"])
        url = f"{self.environment['BIGQUERY_EMULATOR_HOST']}/sandbox/counters"
        with urllib.request.urlopen(url, context=context) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after if after[key] != before.get(key, 0)}


def app_environment(work: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("APP_", "CAROL", "LONGTASKID", "CLOUD_TARGET", "BIGQUERY", "STORAGE_EMULATOR"))}
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(APP_TARGET_DIR=str(work / "targets"), APP_REGISTRY_DIR=str(work / "models"), TMPDIR=str(work / "tmp"))
    return {**env, **extra}


def timed_reruns(command: list[str], env: dict[str, str], work: Path, sandbox: BenchSandbox | None) -> dict:
    """The fastest of a few no-op reruns, with the sandbox requests it made."""
    runs = []
    for _ in range(RERUNS):
        before = sandbox.counters() if sandbox else {}
        run = run_measured(command, env, work)
        run["requests"] = difference(sandbox.counters(), before) if sandbox else {}
        runs.append(run)
    best = min(runs, key=lambda run: run["wall_s"])
    return {"wall_s": best["wall_s"], "summary": best["stdout"].strip().splitlines()[-1],
            "requests": best["requests"], "read_bytes": best["read_bytes"]}


def measure(rows: int, args: argparse.Namespace, refuse_storage_read: bool, streams: int = 4,
            with_local: bool = True) -> dict:
    data = ensure_data(rows, "parquet")
    work = DATA / f"carol_work_{rows}"
    shutil.rmtree(work, ignore_errors=True)
    sandbox = BenchSandbox(DATA / f"carol_sandbox_{rows}", refuse_storage_read, streams)
    try:
        stage_file(sandbox.folder, "boston_house_price", "samples", data, "sample")
        write_app_settings(sandbox.folder, APP, {"deploy_app": DEPLOY_APP})
        write_app_settings(sandbox.folder, DEPLOY_APP, {})
        probe = [sys.executable, str(BENCH / "probe.py")]
        settings = ["--set", f"model_epochs={args.epochs}", "--set", f"max_in_memory_rows={args.max_in_memory_rows}"]
        carol_env = app_environment(work / "carol", **sandbox.environment)
        cpu, before = sandbox.cpu_seconds(), sandbox.counters()
        full = run_measured([*probe, *settings], carol_env, work / "carol")
        if full["code"] != 0:
            raise SystemExit(f"Carol run failed at {rows} rows:\n{full['stdout']}\n{full['stderr'][-5000:]}")
        result = {"rows": rows, "route": "REST" if refuse_storage_read else "Storage Read API",
                  "float64_bytes": rows * FLOAT64_COLUMNS * 8, "wall_s": full["wall_s"], "peak_rss": full["peak_rss"],
                  "tasks": full["task_stats"], "sandbox_cpu_s": sandbox.cpu_seconds() - cpu,
                  "requests": difference(sandbox.counters(), before), "summary": full["stdout"].strip().splitlines()[-1],
                  "streams_offered": streams}
        result["streams_read"] = result["requests"].get("storage read streams", 0)
        result["streams_at_once"] = sandbox.counters().get("storage read streams at once", 0)
        if not refuse_storage_read and with_local:
            result["carol_noop"] = timed_reruns([*probe, *settings], carol_env, work / "carol", sandbox)
    finally:
        sandbox.stop()
    if not refuse_storage_read and with_local:
        local_env = app_environment(work / "local", APP_DATA_PATH=str(data))
        local = run_measured([*probe, *settings], local_env, work / "local")
        result.update(local_tasks=local["task_stats"], local_peak_rss=local["peak_rss"],
                      local_noop=timed_reruns([*probe, *settings], local_env, work / "local", None),
                      imports_s=min(run_measured([*probe, "--imports-only"], local_env, work / "local")["wall_s"]
                                    for _ in range(RERUNS)))
    shutil.rmtree(work, ignore_errors=True)
    result.update(load_average=os.getloadavg(), measured_at=time.strftime("%Y-%m-%d %H:%M:%S"))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7", help="record counts through the Storage Read API")
    parser.add_argument("--rest-sizes", default="1e6", help="record counts with the Storage Read API refused")
    parser.add_argument("--streams", default="4", help="Storage Read streams the sandbox offers a session (list)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-in-memory-rows", type=int, default=100_000)
    args = parser.parse_args()
    results = json.loads(CAROL_RESULTS.read_text()) if CAROL_RESULTS.exists() else {}
    offers = [int(count) for count in args.streams.split(",")]
    plan = [(size, False, count) for size in args.sizes.split(",") if size for count in offers] + \
           [(size, True, 1) for size in args.rest_sizes.split(",") if size]
    for size, refuse, count in plan:
        rows = int(float(size))
        print(f"measuring {rows} records in Carol mode{' (REST)' if refuse else f', {count} streams'} ...", flush=True)
        key = f"rest:{rows}" if refuse else f"storage:{rows}:streams{count}"
        results[key] = measure(rows, args, refuse, count, with_local=count == max(offers))
        CAROL_RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True))
    write_carol_section()


def write_carol_section() -> None:
    """bench/sections/carol.md from bench/carol_results.json, then RESULTS.md rebuilt with it."""
    from carol_report import carol_section  # beside this file
    from report import write_results

    sections = BENCH / "sections"
    sections.mkdir(exist_ok=True)
    (sections / "carol.md").write_text("\n".join(carol_section(CAROL_RESULTS)))
    write_results(json.loads((BENCH / "results.json").read_text()), BENCH / "RESULTS.md")


if __name__ == "__main__":
    main()
