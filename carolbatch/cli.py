"""Train, evaluate and deploy the model: `python run.py [--set NAME=VALUE ...]`.

The command line of a batch app: its `run.py` hands `main` a function loading its `AppDefinition`, and its
folder. The app is loaded only after `.env` and the folder's luigi.cfg are in place: Luigi reads its
configuration when it is first imported, and the app's tasks import it.

`--plan` shows what a run would do and why, `--force TASK` recomputes a task and its downstream,
`--gc [--keep N] [--keep-models N] [--dry-run]` removes targets no current or recent run uses.
`--models` lists the deployed model versions, `--rollback [VERSION]` makes an earlier one current.
`--settings` prints every setting, its effective value and the layer it came from.
`--version` prints the app's version (what its run.py hands `main`) and the platform's.
`--replace-champion` deploys this run's challenger (if it passes its thresholds) even when it is not comparable
with the deployed model, or worse; the registry history keeps the reason.

Exit codes: 0 success, 1 a task failed or Carol could not be reached, 2 bad settings, data or usage,
143 stopped by SIGTERM. The last line printed is always the run summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import carolbatch
from carolbatch.control.task_log import report_outcome, stop_task_log

if TYPE_CHECKING:
    from carolbatch.definition import AppDefinition

STARTED = time.monotonic()
USAGE_EXIT = 2
SIGTERM_EXIT = 143
# Set by the SIGTERM handler. The exception it raises can be caught and replaced by the code it interrupts
# (Python's `inspect`, under scikit-learn's parameter checks, turns it into "TypeError: unsupported callable"):
# the run is still one stopped by SIGTERM.
SIGTERM_RECEIVED = threading.Event()


class Terminated(Exception):
    """SIGTERM (a container stop): raised where the run is, so a running task fails and the run is recorded."""


class UsageParser(argparse.ArgumentParser):
    """argparse that ends a usage error like every other ending: one error line, the summary, exit 2."""

    def error(self, message: str) -> None:
        self.print_usage(sys.stderr)
        sys.exit(finish(Ending("FAILED", USAGE_EXIT, errors=[message]), STARTED))


def _terminate(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one is enough; the ending must not be interrupted
    SIGTERM_RECEIVED.set()
    raise Terminated("stopped by SIGTERM")


def stopped_by_sigterm(failed: dict[str, str]) -> bool:
    """Whether a SIGTERM stopped the run: this process received one, or a task's failure (`failed`: task to
    message, from a worker process) is its exception."""
    return SIGTERM_RECEIVED.is_set() or any(message.endswith("Terminated: stopped by SIGTERM")
                                            for message in failed.values())


def parse_args(argv: list[str] | None, app_version: str = "unknown") -> argparse.Namespace:
    parser = UsageParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"app {app_version}, carolbatch {carolbatch.__version__}",
                        help="print the app's version and the platform's (carolbatch), and exit")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="NAME=VALUE",
                        help="override a setting (repeatable); lists are comma-separated")
    parser.add_argument("--workers", type=int, default=1, help="Luigi worker processes (default 1)")
    parser.add_argument("--scheduler-host", default=os.environ.get("LUIGI_SCHEDULER_HOST"),
                        help="use the central luigid at HOST instead of a local scheduler")
    parser.add_argument("--verbose", action="store_true", help="show Luigi's own INFO lines too")
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
    parser.add_argument("--replace-champion", action="store_true",
                        help="deploy this run's challenger in place of the deployed model whatever their comparison")
    registry = parser.add_mutually_exclusive_group()
    registry.add_argument("--models", action="store_true", help="list the deploy app's model versions; run nothing")
    registry.add_argument("--rollback", nargs="?", const="", metavar="VERSION",
                          help="make VERSION (default: the one before the current) the current model; run nothing")
    registry.add_argument("--settings", action="store_true",
                          help="print every setting, its effective value and the layer it came from; run nothing")
    return check_args(parser, parser.parse_args(argv))


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.Namespace:
    """The option combinations argparse cannot check itself; a wrong one is a usage error."""
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.keep < 0 or (args.dry_run and not args.gc) or (args.gc and (args.plan or args.force)):
        parser.error("--dry-run and --keep N>=0 go with --gc, which goes with neither --plan nor --force")
    if args.keep_models is not None and (args.keep_models < 0 or not args.gc):
        parser.error("--keep-models N>=0 goes with --gc")
    if (args.models or args.settings or args.rollback is not None) and (args.plan or args.force or args.gc):
        parser.error("--models, --rollback and --settings go with neither --plan, --force nor --gc")
    if args.replace_champion and (args.plan or args.gc or args.models or args.settings or args.rollback is not None):
        parser.error("--replace-champion goes with a run only")
    return args


@dataclass
class Ending:
    """How a command ends: its printed lines, its error lines and the fields of the summary line."""

    status: str
    exit_code: int = 0
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    ran: int = 0
    reused: int = 0
    deployed: str | None = None


def main(load_app: Callable[[], AppDefinition], project_dir: Path, argv: list[str] | None = None,
         app_version: str = "unknown") -> int:
    """Run the command and return its exit code; the task log's last lines are sent before it returns.
    `app_version` is what `--version` prints for the app (its `app/__init__.py` `__version__`)."""
    try:
        return run_main(load_app, project_dir, argv, app_version)
    finally:
        stop_task_log()  # the task log's last lines, waiting at most FLUSH_SECONDS


def run_main(load_app: Callable[[], AppDefinition], project_dir: Path, argv: list[str] | None,
             app_version: str = "unknown") -> int:
    """Run the command; an `AppError` ends it with its one line, a SIGTERM with exit 143, both with the summary."""
    signal.signal(signal.SIGTERM, _terminate)
    try:
        args = parse_args(argv, app_version)
        from dotenv import load_dotenv

        load_dotenv(Path.cwd() / ".env")
        os.environ.setdefault("LUIGI_CONFIG_PATH", str(project_dir / "luigi.cfg"))
        from carolbatch.control.logging_setup import configure_logging
        from carolbatch.errors import AppError
        from carolbatch.storage.stores import StorageError

        configure_logging(project_dir / "logging.cfg", verbose=args.verbose)
        try:
            ending = run_command(load_app(), project_dir, args, dict(os.environ))
        except (AppError, StorageError) as error:
            ending = Ending("FAILED", getattr(error, "exit_code", 1), errors=[str(error)])
    except Terminated as stop:
        ending = Ending("FAILED", SIGTERM_EXIT, errors=[str(stop)])
    return finish(ending, STARTED)


def run_command(app: AppDefinition, project_dir: Path, args: argparse.Namespace, environ: dict[str, str]) -> Ending:
    """The command the arguments ask for; an `AppError` ends it with its one line and exit code."""
    from carolbatch.control import startup

    if args.settings:
        return Ending("LISTED", lines=startup.describe_settings(app, project_dir, environ, args.assignments))
    if args.models or args.rollback is not None:
        return manage_models(args, startup.open_registry(app, project_dir, environ, args.assignments))
    plan = startup.prepare_run(app, project_dir, environ, args.assignments, args.replace_champion)
    from carolbatch.control import maintenance
    from carolbatch.control.registry_upkeep import repair_registry
    from carolbatch.control.run_locks import lock_run
    from carolbatch.control.scheduler_check import check_scheduler

    maintenance.check_task_names(plan.root, args.force)
    if args.plan:
        return Ending("PLANNED", lines=maintenance.describe_plan(plan.root, args.force))
    if args.scheduler_host:
        check_scheduler(args.scheduler_host, args.scheduler_port)
    # With a central scheduler, runs sharing the folders is the point: Luigi coordinates them. A clean-up never is.
    with lock_run(plan, "gc" if args.gc else "run", not args.no_wait, shared=bool(args.scheduler_host) and not args.gc):
        if args.gc:
            lines = maintenance.describe_clean_up(plan.root, args.keep, args.dry_run, args.keep_models)
            return Ending("CLEANED", lines=lines)
        with plan.root.run_context().registry_writes():
            repair_registry(plan.registry, plan.settings.deploy_app)
        return run_pipeline(args, plan)


def run_pipeline(args: argparse.Namespace, plan) -> Ending:
    """Run the pipeline: a failed task ends the run with exit 1 (2 for bad data contents), a model not
    deployed does not."""
    from carolbatch.control.runner import run_pipeline as run

    # The deploy step decides again under --replace-champion, whatever it decided before.
    forced = [*args.force, plan.root.get_task_family()] if args.replace_champion else args.force
    outcome = run(plan.pipeline, plan.root, args.workers, args.scheduler_host, args.scheduler_port, forced=forced)
    if stopped_by_sigterm(outcome.failed):
        return Ending("FAILED", SIGTERM_EXIT, errors=["stopped by SIGTERM"], ran=len(outcome.ran),
                      reused=len(outcome.reused))
    lines = []
    if outcome.deploy_reason and outcome.deployed is None:
        lines.append(f"not deployed: {outcome.deploy_reason}")
    elif outcome.deployed:
        lines.append(f"deployed model version {outcome.deployed} to {plan.registry_location}")
    if outcome.decision and outcome.decision.get("report"):
        lines.append(f"report: {outcome.decision['report']}")
    # Bad data contents are bad input, like a bad setting: exit 2, as for a data file that cannot be read.
    bad_data = any(message.startswith("RecordsError:") for message in outcome.failed.values())
    return Ending("SUCCESS" if outcome.succeeded else "FAILED", 0 if outcome.succeeded else 2 if bad_data else 1,
                  lines, [f"{family} failed: {message}" for family, message in outcome.failed.items()],
                  len(outcome.ran), len(outcome.reused), outcome.deployed)


def manage_models(args: argparse.Namespace, registry) -> Ending:
    """`--models` lists the registry, `--rollback` moves its current pointer; neither builds the pipeline."""
    from carolbatch.control.run_locks import lock_registry
    from carolbatch.registry import list_versions, read_current_version, rollback_model
    from carolbatch.report import format_versions_table

    app, store = registry.settings.deploy_app, registry.store
    if args.models:
        table = format_versions_table(list_versions(store, app), read_current_version(store, app))
        return Ending("LISTED", lines=[table])
    with lock_registry(registry, "rollback", not args.no_wait):
        version = rollback_model(store, app, args.rollback or None)
    return Ending("ROLLEDBACK", lines=[f"current model of {app} is now {version} ({store.describe(app)})"],
                  deployed=version)


def finish(ending: Ending, started: float) -> int:
    """The one way every command ends: errors on stderr, its lines, then the summary line, always last.

    Errors, the deployment decision and the summary also reach the Carol task log.
    """
    for error in ending.errors:
        print(f"error: {error}", file=sys.stderr, flush=True)
        report_outcome(f"error: {error}", logging.ERROR)
    summary = (f"summary: status={ending.status} ran={ending.ran} reused={ending.reused} "
               f"deployed={ending.deployed or 'none'} elapsed={time.monotonic() - started:.1f}s")
    for line in [*ending.lines, summary]:
        print(line, flush=True)
        report_outcome(line)
    return ending.exit_code

