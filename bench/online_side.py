"""Side by side for bench/online.py: today's online server against the previous release's, in one run.

The previous release (PREVIOUS_RELEASE) is checked out with `git worktree add` in the bench's temp folder; its
own run.py deploys its model (same data, same epochs) to its own registry and its own `python -m online` serves
it, with the same workers and threads, in the same virtual environment. Rounds interleave the two servers so
that the machine's load falls on both alike; each figure is the median over the rounds.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from carolbatch.registry import load_current_model
from carolbatch.storage.stores import LocalStore
from tests.app.online.server_process import ServerProcess, SlowClients, online_environment

PREVIOUS_RELEASE = "c926793"
PROJECT_DIR = Path(__file__).resolve().parents[1]
DEPLOY_APP = "bostonhouseonline"
SLOW_CLIENTS = 16
# Single-record requests sent while slow clients are attached, each given up after SLOW_RUN_TIMEOUT seconds (a
# failed request): the previous release answers a few per second then, or none, so the run stays bounded.
SLOW_RUN_REQUESTS = 40
SLOW_RUN_TIMEOUT = 5.0
IN_PROCESS_REPEATS = 20


def side_by_side(workdir: Path, today: ServerProcess, one: list[bytes], batch: bytes, args, drive: Callable) -> dict:
    """Median req/s (records/s for 1,000-record bodies) of both servers over interleaved rounds, and the
    records/s of today's model predicting the same records in-process."""
    checkout, previous_work = workdir / "previous-release", workdir / "previous"
    subprocess.run(["git", "-C", str(PROJECT_DIR), "worktree", "add", "--detach", str(checkout), PREVIOUS_RELEASE],
                   check=True, capture_output=True)
    try:
        _deploy(checkout, previous_work, args.epochs)
        previous = ServerProcess(previous_work, online_environment(previous_work), workers=args.workers,
                                 project_dir=checkout)
        try:
            previous.wait_ready()
            servers = {"today": today, "previous": previous}
            for server in servers.values():
                drive(server.port, one[:200], args.threads)  # warm-up
            runs = [_round(servers, one, batch, args, drive) for _ in range(args.rounds)]
        finally:
            previous.stop()
    finally:
        subprocess.run(["git", "-C", str(PROJECT_DIR), "worktree", "remove", "--force", str(checkout)],
                       capture_output=True)
    medians = {server: {run: statistics.median(measured[server][run] for measured in runs) for run in runs[0][server]}
               for server in servers}
    return {**medians, "in_process_records_per_s": _in_process(workdir / "models", batch),
            "rounds": args.rounds, "release": PREVIOUS_RELEASE}


def _deploy(checkout: Path, workdir: Path, epochs: int) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**online_environment(workdir), "APP_DATA_PATH": str(checkout / "data" / "boston_house_prices.csv"),
           "APP_TARGET_DIR": str(workdir / "targets"), "APP_MODEL_EPOCHS": str(epochs), "PYTHONPATH": str(checkout)}
    result = subprocess.run([sys.executable, str(checkout / "run.py")], cwd=workdir, env=env, capture_output=True,
                            text=True)
    if result.returncode != 0 or "deployed=none" in result.stdout:
        sys.exit(f"the previous release's run.py did not deploy:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def _round(servers: dict[str, ServerProcess], one: list[bytes], batch: bytes, args, drive: Callable) -> dict:
    measured = {}
    for name, server in servers.items():
        single = drive(server.port, one, args.threads)
        health = drive(server.port, [None] * len(one), args.threads, path="/health")
        batches = drive(server.port, [batch] * args.batch_requests, args.threads)
        with SlowClients(server.port, count=SLOW_CLIENTS, interval=0.5):
            slow = drive(server.port, one[:SLOW_RUN_REQUESTS], args.threads, timeout=SLOW_RUN_TIMEOUT)
        failed = single["failed"] + health["failed"] + batches["failed"] + slow["failed"]
        measured[name] = {"single": single["per_s"], "health": health["per_s"], "batch_records": batches["per_s"] * 1000,
                          "single_slow": slow["per_s"], "slow_failed": slow["failed"], "failed": failed}
    return measured


def _in_process(registry: Path, batch: bytes) -> float:
    """Records/s of today's current model predicting the 1,000 records of `batch` (a DataFrame), best of
    IN_PROCESS_REPEATS."""
    model = load_current_model(LocalStore(registry), DEPLOY_APP)
    frame = pd.DataFrame(json.loads(batch))
    model.predict(frame)
    best = float("inf")
    for _ in range(IN_PROCESS_REPEATS):
        started = time.perf_counter()
        model.predict(frame)
        best = min(best, time.perf_counter() - started)
    return len(frame) / best


def side_by_side_lines(measured: dict) -> list[str]:
    """The section's side-by-side table and the acceptance checks of issue 30."""
    today, previous = measured["today"], measured["previous"]
    names = [("single-record /predict, req/s", "single"), ("GET /health, req/s", "health"),
             ("1,000-record /predict, records/s", "batch_records"),
             (f"single-record /predict with {SLOW_CLIENTS} slow clients attached ({SLOW_RUN_REQUESTS} requests), "
              "req/s", "single_slow")]
    lines = ["", f"Side by side with the previous release ({measured['release']}, its own model deployed by its own "
             f"run.py), rounds interleaved, median of {measured['rounds']} rounds; failed requests (median per "
             f"round): today {today['failed']:.0f}, previous {previous['failed']:.0f}, of which with slow clients "
             f"attached (given up after {SLOW_RUN_TIMEOUT:g} s) today {today['slow_failed']:.0f}, previous "
             f"{previous['slow_failed']:.0f}.", "",
             "| run | today | previous release | today / previous |", "| --- | --- | --- | --- |"]
    lines += [f"| {label} | {today[key]:,.0f} | {previous[key]:,.0f} | {today[key] / previous[key]:.2f}x |"
              for label, key in names]
    in_process = measured["in_process_records_per_s"]
    checks = [("today: single-record /predict >= 0.5x /health", today["single"] / today["health"], 0.5),
              ("today: 1,000-record records/s >= 0.25x in-process "
               f"({in_process:,.0f} records/s, the same model and records)", today["batch_records"] / in_process, 0.25),
              ("single records: today >= 1.0x the previous release", today["single"] / previous["single"], 1.0)]
    lines += ["", "| check (issue 30) | ratio | result |", "| --- | --- | --- |"]
    lines += [f"| {name} | {ratio:.2f}x | {'pass' if ratio >= bound else 'FAIL'} |" for name, ratio, bound in checks]
    return lines
