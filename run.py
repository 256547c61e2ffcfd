#!/usr/bin/env python
"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]`.

`--plan` shows what a run would do and why, `--force TASK` recomputes a task and its downstream,
`--gc [--keep N] [--dry-run]` removes targets no current or recent run uses.
`--models` lists the deployed model versions, `--rollback [VERSION]` makes an earlier one current.
`--settings` prints every setting, its effective value and the layer it came from.

Exit codes: 0 success, 1 a task failed or Carol could not be reached, 2 bad settings or usage.
The last line printed is always the run summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from app.control.task_log import report_outcome, stop_task_log

PROJECT_DIR = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (repeatable); lists are comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    parser.add_argument("--scheduler-host", default=os.environ.get("LUIGI_SCHEDULER_HOST"),
                        help="use the central luigid at HOST instead of a local scheduler")
    parser.add_argument("--scheduler-port", type=int, default=8082, help="port of the central luigid")
    parser.add_argument("--plan", action="store_true", help="print RUN or SKIP and why for each task; run nothing")
    parser.add_argument("--force", action="append", default=[], metavar="TASK",
                        help="recompute TASK and everything downstream of it (repeatable)")
    parser.add_argument("--gc", action="store_true", help="remove targets no current or recent run uses")
    parser.add_argument("--keep", type=int, default=5, metavar="N", help="with --gc: keep the last N runs' targets")
    parser.add_argument("--dry-run", action="store_true", help="with --gc: list what would be removed")
    registry = parser.add_mutually_exclusive_group()
    registry.add_argument("--models", action="store_true", help="list the deploy app's model versions; run nothing")
    registry.add_argument("--rollback", nargs="?", const="", metavar="VERSION",
                          help="make VERSION (default: the one before the current) the current model; run nothing")
    registry.add_argument("--settings", action="store_true",
                          help="print every setting, its effective value and the layer it came from; run nothing")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.keep < 0 or (args.dry_run and not args.gc) or (args.gc and (args.plan or args.force)):
        parser.error("--dry-run and --keep N>=0 go with --gc, which goes with neither --plan nor --force")
    if (args.models or args.settings or args.rollback is not None) and (args.plan or args.force or args.gc):
        parser.error("--models, --rollback and --settings go with neither --plan, --force nor --gc")
    return args


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    os.environ.setdefault("LUIGI_CONFIG_PATH", str(PROJECT_DIR / "luigi.cfg"))

    from app.control.logging_setup import configure_logging
    from app.control.startup import StartupError, prepare_run

    configure_logging(PROJECT_DIR / "logging.cfg")
    if args.settings:
        return show_settings(args, started)
    if args.models or args.rollback is not None:
        return manage_models(args, started)
    try:
        plan = prepare_run(PROJECT_DIR, dict(os.environ), args.assignments)
    except StartupError as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return error.exit_code

    from app.control.maintenance import MaintenanceError, check_task_names, describe_clean_up, describe_plan
    from app.control.runner import run_pipeline

    try:
        check_task_names(plan.root, args.force)
        if args.plan or args.gc:
            lines = describe_plan(plan.root, args.force) if args.plan else describe_clean_up(
                plan.root, args.keep, args.dry_run)
            print("\n".join(lines))
            print_summary("PLANNED" if args.plan else "CLEANED", 0, 0, None, started)
            return 0
    except MaintenanceError as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return error.exit_code
    outcome = run_pipeline(plan.root, args.workers, args.scheduler_host, args.scheduler_port, forced=args.force)
    for family, message in outcome.failed.items():
        print_error(f"{family} failed: {message}")
    if outcome.deploy_reason and outcome.deployed is None:
        print_outcome(f"not deployed: {outcome.deploy_reason}")
    elif outcome.deployed:
        print_outcome(f"deployed model version {outcome.deployed} to {plan.registry_location}")
    print_summary("SUCCESS" if outcome.succeeded else "FAILED", len(outcome.ran), len(outcome.reused),
                  outcome.deployed, started)
    return 0 if outcome.succeeded else 1


def manage_models(args: argparse.Namespace, started: float) -> int:
    """`--models` lists the registry, `--rollback` moves its current pointer; neither builds the pipeline."""
    from app.control.startup import StartupError, open_registry
    from app.functions.registry import RegistryError, list_versions, read_current_version, rollback_model
    from app.functions.report import format_versions_table

    try:
        registry = open_registry(PROJECT_DIR, dict(os.environ), args.assignments)
        app, store = registry.settings.deploy_app, registry.store
        if args.models:
            print(format_versions_table(list_versions(store, app), read_current_version(store, app)))
            print_summary("LISTED", 0, 0, None, started)
            return 0
        version = rollback_model(store, app, args.rollback or None)
    except (StartupError, RegistryError) as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return getattr(error, "exit_code", 2)
    print(f"current model of {app} is now {version} ({store.describe(app)})")
    print_summary("ROLLEDBACK", 0, 0, version, started)
    return 0


def print_outcome(line: str) -> None:
    """A line of the run's outcome, on stdout and in the Carol task log."""
    print(line, flush=True)
    report_outcome(line)


def print_error(message: str) -> None:
    """`error: message` on stderr and in the Carol task log."""
    print(f"error: {message}", file=sys.stderr, flush=True)
    report_outcome(f"error: {message}", logging.ERROR)


def show_settings(args: argparse.Namespace, started: float) -> int:
    """`--settings`: every setting, its effective value and its layer; runs nothing."""
    from app.control.startup import StartupError, describe_settings

    try:
        lines = describe_settings(PROJECT_DIR, dict(os.environ), args.assignments)
    except StartupError as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return error.exit_code
    print("\n".join(lines))
    print_summary("LISTED", 0, 0, None, started)
    return 0


def print_summary(status: str, ran: int, reused: int, deployed: str | None, started: float) -> None:
    print_outcome(f"summary: status={status} ran={ran} reused={reused} deployed={deployed or 'none'} "
                  f"elapsed={time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    try:
        exit_code = main()
    finally:
        stop_task_log()  # the task log's last lines, waiting at most FLUSH_SECONDS
    sys.exit(exit_code)
