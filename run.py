#!/usr/bin/env python
"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]`.

Exit codes: 0 success, 1 a task failed or Carol could not be reached, 2 bad settings or usage.
The last line printed is always the run summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (repeatable); lists are comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    parser.add_argument("--scheduler-host", default=os.environ.get("LUIGI_SCHEDULER_HOST"),
                        help="use the central luigid at HOST instead of a local scheduler")
    parser.add_argument("--scheduler-port", type=int, default=8082, help="port of the central luigid")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    os.environ.setdefault("LUIGI_CONFIG_PATH", str(PROJECT_DIR / "luigi.cfg"))

    from app.flow.startup import StartupError, prepare_run
    from app.functions.logs import configure_logging

    configure_logging(PROJECT_DIR / "logging.cfg")
    try:
        plan = prepare_run(PROJECT_DIR, dict(os.environ), args.assignments)
    except StartupError as error:
        print(f"error: {error}", file=sys.stderr)
        print_summary("FAILED", 0, 0, None, started)
        return error.exit_code

    from app.flow.runner import run_pipeline

    outcome = run_pipeline(plan.root, args.workers, args.scheduler_host, args.scheduler_port)
    for family, message in outcome.failed.items():
        print(f"error: {family} failed: {message}", file=sys.stderr)
    if outcome.deploy_reason and outcome.deployed is None:
        print(f"not deployed: {outcome.deploy_reason}")
    elif outcome.deployed:
        print(f"deployed model version {outcome.deployed} to {plan.registry_location}")
    print_summary("SUCCESS" if outcome.succeeded else "FAILED", len(outcome.ran), len(outcome.reused),
                  outcome.deployed, started)
    return 0 if outcome.succeeded else 1


def print_summary(status: str, ran: int, reused: int, deployed: str | None, started: float) -> None:
    print(f"summary: status={status} ran={ran} reused={reused} deployed={deployed or 'none'} "
          f"elapsed={time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
