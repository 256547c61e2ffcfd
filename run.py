#!/usr/bin/env python
"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]`.

`--plan` shows what a run would do and why, `--force TASK` recomputes a task and its downstream,
`--gc [--keep N] [--dry-run]` removes targets no current or recent run uses.
`--models` lists the deployed model versions, `--rollback [VERSION]` makes an earlier one current.

Exit codes: 0 success, 1 a task failed or Carol could not be reached, 2 bad settings or usage.
The last line printed is always the run summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from pathlib import Path

from app.control.task_log import report_outcome, stop_task_log

PROJECT_DIR = Path(__file__).resolve().parent
STARTED = time.monotonic()
SIGTERM_EXIT = 143


class Terminated(Exception):
    """SIGTERM (a container stop): raised where the run is, so a running task fails and the run is recorded."""


class UsageParser(argparse.ArgumentParser):
    """argparse that ends a usage error like every other ending: one error line, the summary, exit 2."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        print_error(message)
        print_summary("FAILED", 0, 0, None, STARTED)
        sys.exit(2)


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough; the ending must not be interrupted
    raise Terminated("stopped by SIGTERM")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = UsageParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--keep-models", type=int, metavar="N",
                        help="with --gc: also remove model versions but the newest N (never the current or previous)")
    parser.add_argument("--dry-run", action="store_true", help="with --gc: list what would be removed")
    parser.add_argument("--no-wait", action="store_true",
                        help="exit 1 at once, naming the holder, when another process holds the target folder or registry")
    registry = parser.add_mutually_exclusive_group()
    registry.add_argument("--models", action="store_true", help="list the deploy app's model versions; run nothing")
    registry.add_argument("--rollback", nargs="?", const="", metavar="VERSION",
                          help="make VERSION (default: the one before the current) the current model; run nothing")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.keep < 0 or (args.dry_run and not args.gc) or (args.gc and (args.plan or args.force)):
        parser.error("--dry-run and --keep N>=0 go with --gc, which goes with neither --plan nor --force")
    if args.keep_models is not None and (args.keep_models < 0 or not args.gc):
        parser.error("--keep-models N>=0 goes with --gc")
    if (args.models or args.rollback is not None) and (args.plan or args.force or args.gc):
        parser.error("--models and --rollback go with neither --plan, --force nor --gc")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the command; a SIGTERM ends it with the summary too (exit 143)."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return run_command(parse_args(argv), STARTED)
    except Terminated as stop:
        print_error(str(stop))
        print_summary("FAILED", 0, 0, None, STARTED)
        return SIGTERM_EXIT


def run_command(args: argparse.Namespace, started: float) -> int:
    """Everything `main` does, for one parsed command line."""
    from dotenv import load_dotenv

    load_dotenv(Path.cwd() / ".env")
    os.environ.setdefault("LUIGI_CONFIG_PATH", str(PROJECT_DIR / "luigi.cfg"))

    from app.control.logging_setup import configure_logging
    from app.control.startup import StartupError, prepare_run

    configure_logging(PROJECT_DIR / "logging.cfg")
    if args.models or args.rollback is not None:
        return manage_models(args, started)
    try:
        plan = prepare_run(PROJECT_DIR, dict(os.environ), args.assignments)
    except StartupError as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return error.exit_code

    from app.control.maintenance import MaintenanceError, check_task_names, describe_clean_up, describe_plan
    from app.control.runner import SchedulerUnreachableError, check_scheduler, run_pipeline
    from app.control.registry_upkeep import repair_registry
    from app.control.startup import lock_run
    from app.functions.storage.locks import LockBusyError
    from app.functions.storage.stores import StorageError

    try:
        check_task_names(plan.root, args.force)
        if args.plan:
            print("\n".join(describe_plan(plan.root, args.force)))
            print_summary("PLANNED", 0, 0, None, started)
            return 0
        if args.scheduler_host:
            check_scheduler(args.scheduler_host, args.scheduler_port)
        # With a central scheduler, processes sharing the folders is the point: Luigi coordinates them.
        with lock_run(plan, "gc" if args.gc else "run", not args.no_wait, shared=bool(args.scheduler_host)):
            if args.gc:
                print("\n".join(describe_clean_up(plan.root, args.keep, args.dry_run, args.keep_models)))
                print_summary("CLEANED", 0, 0, None, started)
                return 0
            repair_registry(plan.registry, plan.settings.deploy_app)
            outcome = run_pipeline(plan.root, args.workers, args.scheduler_host, args.scheduler_port,
                                   forced=args.force)
    except (MaintenanceError, LockBusyError, SchedulerUnreachableError, StorageError) as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return getattr(error, "exit_code", 1)
    if any(message.endswith(f"Terminated: stopped by SIGTERM") for message in outcome.failed.values()):
        raise Terminated("stopped by SIGTERM")
    for family, message in outcome.failed.items():
        print_error(f"{family} failed: {message}")
    if outcome.deploy_reason and outcome.deployed is None:
        print_outcome(f"not deployed: {outcome.deploy_reason}")
    elif outcome.deployed:
        print_outcome(f"deployed model version {outcome.deployed} to {plan.registry_location}")
    print_summary("SUCCESS" if outcome.succeeded else "FAILED", len(outcome.ran), len(outcome.reused),
                  outcome.deployed, started)
    if outcome.succeeded:
        return 0
    # Bad data contents are bad input, like a bad setting: exit 2, as for a data file that cannot be read.
    return 2 if any(message.startswith("RecordsError:") for message in outcome.failed.values()) else 1


def manage_models(args: argparse.Namespace, started: float) -> int:
    """`--models` lists the registry, `--rollback` moves its current pointer; neither builds the pipeline."""
    from app.control.startup import StartupError, lock_registry, open_registry
    from app.functions.storage.locks import LockBusyError
    from app.functions.registry import RegistryError, list_versions, read_current_version, rollback_model
    from app.functions.report import format_versions_table
    from app.functions.storage.stores import StorageError

    try:
        registry = open_registry(PROJECT_DIR, dict(os.environ), args.assignments)
        app, store = registry.settings.deploy_app, registry.store
        if args.models:
            print(format_versions_table(list_versions(store, app), read_current_version(store, app)))
            print_summary("LISTED", 0, 0, None, started)
            return 0
        with lock_registry(registry, "rollback", not args.no_wait):
            version = rollback_model(store, app, args.rollback or None)
    except (StartupError, RegistryError, LockBusyError, StorageError) as error:
        print_error(str(error))
        print_summary("FAILED", 0, 0, None, started)
        return getattr(error, "exit_code", 1 if isinstance(error, (LockBusyError, StorageError)) else 2)
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


def print_summary(status: str, ran: int, reused: int, deployed: str | None, started: float) -> None:
    print_outcome(f"summary: status={status} ran={ran} reused={reused} deployed={deployed or 'none'} "
                  f"elapsed={time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    try:
        exit_code = main()
    finally:
        stop_task_log()  # the task log's last lines, waiting at most FLUSH_SECONDS
    sys.exit(exit_code)
