#!/usr/bin/env python
"""Load-test the online app on loopback: `python bench/online.py [--requests N] [--threads T]`.

Deploys two model versions with `run.py` into a temp registry, starts `python -m online` on a free
127.0.0.1 port, then sends a bounded number of POST /predict requests from a thread pool (one keep-alive
connection per thread): single-record requests, 1,000-record requests, both again with 16 slow clients
attached (each announces a body and sends one byte every 0.5 s, reconnecting when dropped), and
single-record requests while the registry's `current` flips between the two versions.

Side by side (bench/online_side.py): the previous release's server (PREVIOUS_RELEASE, checked out with
`git worktree add` in the temp folder, its model deployed by its own run.py on the same data) runs beside
today's; rounds interleave single-record /predict and /health on each, with and without slow clients, and
the 1,000-record bodies are set against the same model predicting the same records in-process. Writes
bench/sections/online.md and rebuilds bench/RESULTS.md around it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from carolbatch.registry import list_version_ids, rollback_model  # noqa: E402
from carolbatch.online.server import DEFAULT_THREADS  # noqa: E402
from carolbatch.online.worker import DEFAULT_REQUEST_SECONDS  # noqa: E402
from carolbatch.storage.stores import LocalStore  # noqa: E402
from tests.app.online.server_process import ServerProcess, SlowClients, online_environment, request_json  # noqa: E402
from online_side import side_by_side, side_by_side_lines  # noqa: E402  (bench/online_side.py, beside this file)

DEPLOY_APP = "bostonhouseonline"
POLL_SECONDS = 0.2
FLIP_SECONDS = 0.5
SLOW_CLIENTS = 16
SECTION = PROJECT_DIR / "bench" / "sections" / "online.md"


def sample_records(count: int) -> list[dict]:
    frame = pd.read_csv(PROJECT_DIR / "data" / "boston_house_prices.csv")
    features = frame.drop(columns=["sample", "target"])
    rows = features.sample(n=count, replace=True, random_state=0)
    return rows.to_dict(orient="records")


def drive(port: int, bodies: list[bytes | None], threads: int, path: str = "/predict", timeout: float = 30) -> dict:
    """Send every body once (POST, or GET for None) to `path` from `threads` threads; latency per request,
    failures, versions answering."""
    local = threading.local()
    versions: dict[str, int] = {}
    lock = threading.Lock()

    def send(body: bytes) -> tuple[float, bool]:
        started = time.perf_counter()
        try:
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            method = "GET" if body is None else "POST"
            status, answer = request_json(port, method, path, body, connection=local.connection)
            ok = status == 200
            if ok:
                with lock:
                    versions[answer["version"]] = versions.get(answer["version"], 0) + 1
        except Exception:  # a refused or dropped connection counts as a failed request
            local.__dict__.clear()
            ok = False
        return time.perf_counter() - started, ok

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        outcomes = list(pool.map(send, bodies))
    wall = time.perf_counter() - started
    latencies = np.array([latency for latency, _ in outcomes]) * 1000
    return {"requests": len(bodies), "failed": sum(not ok for _, ok in outcomes), "wall_s": wall,
            "per_s": len(bodies) / wall, "p50_ms": float(np.percentile(latencies, 50)),
            "p99_ms": float(np.percentile(latencies, 99)), "versions": versions}


def flip_versions(registry: Path, stop: threading.Event, interval: float) -> list[str]:
    """Point `current` at the other version every `interval` seconds until `stop`; the versions set."""
    store = LocalStore(registry)
    first, second = list_version_ids(store, DEPLOY_APP)[-2:]
    flipped = []
    while not stop.wait(interval):
        target = first if len(flipped) % 2 == 0 else second
        rollback_model(store, DEPLOY_APP, target)
        flipped.append(target)
    return flipped


def swap_under_load(port: int, registry: Path, bodies: list[bytes], threads: int) -> dict:
    stop = threading.Event()
    flips: list[str] = []
    flipper = threading.Thread(target=lambda: flips.extend(flip_versions(registry, stop, FLIP_SECONDS)))
    flipper.start()
    try:
        result = drive(port, bodies, threads)
    finally:
        stop.set()
        flipper.join()
    return {**result, "swaps": len(flips)}


def under_slow_clients(server: ServerProcess, one: list[bytes], batch: list[bytes], threads: int) -> dict:
    """The single-record and 1,000-record runs again while SLOW_CLIENTS trickle bodies; how many were dropped."""
    with SlowClients(server.port, count=SLOW_CLIENTS, interval=0.5) as slow:
        attached = time.monotonic()
        single = drive(server.port, one, threads)
        health = drive_health(server.port)
        batch_result = drive(server.port, batch, threads)
        time.sleep(max(0.0, attached + DEFAULT_REQUEST_SECONDS + 3 - time.monotonic()))  # past one deadline
        dropped = slow.dropped
    return {"single_slow": single, "batch_1000_slow": batch_result, "health_slow": health,
            "slow_dropped": dropped}


def drive_health(port: int, probes: int = 20) -> dict:
    """GET /health on a new connection every 0.1 s: the slowest answer, in ms."""
    latencies = []
    for _ in range(probes):
        started = time.perf_counter()
        status, _ = request_json(port, "GET", "/health", timeout=10)
        latencies.append((time.perf_counter() - started) * 1000 if status == 200 else float("inf"))
        time.sleep(0.1)
    return {"max_ms": max(latencies)}


def deploy_two_versions(workdir: Path, epochs: int) -> None:
    """Two versions in `workdir/models` (the second with another seed, deployed whatever its score)."""
    env = {**online_environment(workdir), "APP_DATA_PATH": str(PROJECT_DIR / "data" / "boston_house_prices.csv"),
           "APP_TARGET_DIR": str(workdir / "targets"), "APP_MODEL_EPOCHS": str(epochs)}
    # Another seed's model is not comparable with the first (few common test records): it replaces it.
    for extra in ([], ["--set", "random_state=2", "--replace-champion"]):
        result = subprocess.run([sys.executable, str(PROJECT_DIR / "run.py"), *extra], cwd=workdir, env=env,
                                capture_output=True, text=True)
        if result.returncode != 0 or "deployed=none" in result.stdout:
            sys.exit(f"run.py did not deploy:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def measure(workdir: Path, args: argparse.Namespace) -> dict:
    deploy_two_versions(workdir, args.epochs)
    server = ServerProcess(workdir, online_environment(workdir, model_poll_seconds=str(POLL_SECONDS)),
                           workers=args.workers)
    try:
        server.wait_ready()
        one = [json.dumps(record).encode() for record in sample_records(args.requests)]
        batch = json.dumps(sample_records(1000)).encode()
        load_before = os.getloadavg()[0]
        drive(server.port, one[:200], args.threads)  # warm-up: connections, first predictions
        results = {
            "side_by_side": side_by_side(workdir, server, one, batch, args, drive),
            "single": drive(server.port, one, args.threads),
            "batch_1000": drive(server.port, [batch] * args.batch_requests, args.threads),
            **under_slow_clients(server, one, [batch] * args.batch_requests, args.threads),
            "swap": swap_under_load(server.port, workdir / "models", one * args.swap_rounds, args.threads),
        }
        return {**results, "load_before": load_before, "load_after": os.getloadavg()[0],
                "workers": args.workers, "threads": args.threads, "cpus": len(os.sched_getaffinity(0)),
                "worker_rss_mb": max(server.worker_rss_mb())}
    finally:
        server.stop()


def write_section(measured: dict) -> None:
    rows = [("single record", measured["single"]), ("1,000 records", measured["batch_1000"]),
            (f"single record, {SLOW_CLIENTS} slow clients attached", measured["single_slow"]),
            (f"1,000 records, {SLOW_CLIENTS} slow clients attached", measured["batch_1000_slow"]),
            (f"single record, current flipped every {FLIP_SECONDS} s", measured["swap"])]
    lines = [
        "## Online app (bench/online.py)",
        "",
        f"`python -m online` with {measured['workers']} gunicorn workers x {DEFAULT_THREADS} threads (its "
        f"defaults) on 127.0.0.1, driven by {measured['threads']} client threads (one keep-alive connection each) "
        "in the "
        f"same {measured['cpus']}-core machine, shared at the time by several agents' work (load average "
        f"{measured['load_before']:.1f} before, {measured['load_after']:.1f} after): client and server share the "
        "CPUs, so these are lower bounds.",
        "",
        "| requests | sent | failed | requests/s | p50 ms | p99 ms | versions answering |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, result in rows:
        answered = ", ".join(f"{version}: {count}" for version, count in sorted(result["versions"].items()))
        lines.append(f"| {name} | {result['requests']} | {result['failed']} | {result['per_s']:.0f} | "
                     f"{result['p50_ms']:.1f} | {result['p99_ms']:.1f} | {answered} |")
    swap, single, health = measured["swap"], measured["single"], measured["health_slow"]
    checks = [
        (f"/health within 2 s with {SLOW_CLIENTS} slow clients attached", f"slowest {health['max_ms']:.0f} ms",
         health["max_ms"] <= 2000),
        ("slow clients dropped at the request deadline", f"{measured['slow_dropped']} drops",
         measured["slow_dropped"] >= SLOW_CLIENTS),("single record: >= 300 requests/s", f"{single['per_s']:.0f}/s", single["per_s"] >= 300),
              ("single record: p99 <= 50 ms", f"{single['p99_ms']:.1f} ms", single["p99_ms"] <= 50),
              ("no failed request while versions are swapped", f"{swap['failed']} failed, {swap['swaps']} swaps",
               swap["failed"] == 0 and swap["swaps"] > 0 and len(swap["versions"]) == 2)]
    lines += side_by_side_lines(measured["side_by_side"])
    lines += ["", "| check | measured | result |", "| --- | --- | --- |"]
    lines += [f"| {name} | {value} | {'pass' if ok else 'FAIL'} |" for name, value, ok in checks]
    lines += ["", f"During the swap run `current` moved {swap['swaps']} times (`rollback_model`, as "
              f"`run.py --rollback` does) while the server polled every {POLL_SECONDS} s, loaded and checked each "
              f"new version and swapped it in; {swap['failed']} of {swap['requests']} requests failed.",
              "", f"Slow clients announce a 100,000-byte body and send one byte every 0.5 s; the server drops each "
              f"after its {DEFAULT_REQUEST_SECONDS:g} s request deadline and it reconnects at once "
              f"({measured['slow_dropped']} drops). Largest worker RSS at the end: "
              f"{measured['worker_rss_mb']:.0f} MiB.", ""]
    SECTION.parent.mkdir(exist_ok=True)
    SECTION.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="single-record requests per run")
    parser.add_argument("--batch-requests", type=int, default=100, help="1,000-record requests")
    parser.add_argument("--swap-rounds", type=int, default=3,
                        help="the single-record requests sent this many times while current flips")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--epochs", type=int, default=200, help="model_epochs of the deployed versions")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the side-by-side runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="online-bench-") as folder:
        measured = measure(Path(folder), args)
    print(json.dumps(measured, indent=1))
    write_section(measured)
    from report import write_results  # bench/report.py, beside this file

    results_json = PROJECT_DIR / "bench" / "results.json"
    write_results(json.loads(results_json.read_text()), PROJECT_DIR / "bench" / "RESULTS.md")


if __name__ == "__main__":
    main()
