"""Building the pipeline from its parameters, running it with Luigi, and recording the run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

import luigi
from luigi.execution_summary import LuigiStatusCode

from carolbatch.control.maintenance import affected_tasks, all_tasks, plan_pipeline, run_records, task_facts
from carolbatch.control.recording import RUN_LOG_NAME, append_run_record, make_run_id
from carolbatch.control.task_events import TaskEvents, listening
from carolbatch.definition import Pipeline
from carolbatch.errors import AppError
from carolbatch.planning import Decision
from carolbatch.tasks import AppTask, attach_context
from carolbatch.storage.run_context import RunContext

logger = logging.getLogger(__name__)

__all__ = ["RunOutcome", "all_tasks", "build_pipeline", "run_pipeline"]


@dataclass(frozen=True)
class RunOutcome:
    """What one `luigi.build` did to the pipeline."""

    succeeded: bool
    ran: list[str]
    reused: list[str]
    failed: dict[str, str]
    deployed: str | None
    deploy_reason: str | None
    # The deploy step's decision when it ran (`Deployment.as_summary()`): also in the run record.
    decision: dict | None = None
    reasons: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def build_pipeline(pipeline: Pipeline, params: dict, context: RunContext | None = None) -> AppTask:
    """The root task, the pipeline's deployment task; pycarol hands every task the parameters it declares, run
    control the run's context.

    Raises:
        AppError: the tasks the root requires are not the declared ones, or not in the declared order.
    """
    root = attach_context(pipeline.deployment(**params), context or RunContext())
    _check_declared(pipeline, all_tasks(root))
    return root


def _check_declared(pipeline: Pipeline, tasks: list[AppTask]) -> None:
    declared = pipeline.families
    found = [task.get_task_family() for task in tasks]
    if set(found) != set(declared):
        raise AppError(f"the pipeline's tasks are {', '.join(found)}, but the app declares {', '.join(declared)}")
    for task in tasks:
        early = [upstream.get_task_family() for upstream in task.upstream_tasks()
                 if declared.index(upstream.get_task_family()) > declared.index(task.get_task_family())]
        if early:
            raise AppError(f"the app declares {task.get_task_family()} before {', '.join(early)}, which it requires")


def run_pipeline(pipeline: Pipeline, root: AppTask, workers: int, scheduler_host: str | None, scheduler_port: int,
                 forced: list[str] = ()) -> RunOutcome:
    """Plan, run and record the pipeline; classify each task as ran, reused or failed.

    An exception out of Luigi itself (a SIGTERM's, raised between tasks) ends the run like a failed task,
    under the name "run": the tasks that finished before it are counted and recorded.

    Args:
        pipeline: the app's declaration, whose roles the run record reads.
        root: from `build_pipeline`: its tasks share the run context whose task events classify them.
        forced: task families to recompute with everything downstream; their targets are removed first.
    """
    started_at = datetime.now(timezone.utc)
    records = run_records(root)
    decisions = plan_pipeline(root, records, forced)
    for decision in decisions:
        logger.info("%s %s: %s", "RUN " if decision.run else "SKIP", decision.family, decision.reason)
    for task in affected_tasks(root, list(forced)):
        task.output().remove()
        task.checkpoints().delete()  # a forced task trains from its first epoch
    scheduler = {"local_scheduler": True}
    if scheduler_host:
        scheduler = {"scheduler_host": scheduler_host, "scheduler_port": scheduler_port}
        # Another process may be running tasks of this pipeline: wait for it instead of giving up on them.
        luigi.configuration.get_config().set("worker", "keep_alive", "true")
    with listening(root.run_context()) as events:
        status, stopped = _build(root, workers, scheduler)
    # With a central scheduler another process may have finished the work this one waited for.
    shared_success = bool(scheduler_host) and not stopped and root.complete()
    outcome = _classify(root, status, events, decisions, make_run_id(started_at), shared_success)
    if stopped:
        outcome = replace(outcome, failed={**outcome.failed, "run": stopped})
    _record_run(pipeline, root, outcome, decisions, started_at, list(forced))
    return outcome


def _build(root: AppTask, workers: int, scheduler: dict) -> tuple[LuigiStatusCode, str | None]:
    """Luigi's status, and what stopped Luigi itself (a SIGTERM's exception raised between tasks), as text."""
    try:
        return luigi.build([root], workers=workers, detailed_summary=True, **scheduler).status, None
    except Exception as error:  # noqa: BLE001 (any: the tasks that finished are still counted and recorded)
        return LuigiStatusCode.FAILED, f"{type(error).__name__}: {error}"


def _classify(root: AppTask, status: LuigiStatusCode, events: TaskEvents, decisions: list[Decision],
              run_id: str, shared_success: bool) -> RunOutcome:
    tasks = all_tasks(root)
    failed = {task.get_task_family(): events.failed[task.task_id] for task in tasks if task.task_id in events.failed}
    succeeded = status in (LuigiStatusCode.SUCCESS, LuigiStatusCode.SUCCESS_WITH_RETRY) or (
        shared_success and not failed)
    # After a success every task not run here was found done (by an earlier run or another process); after a
    # failure only those found done when scheduling.
    reused = [task for task in tasks
              if task.task_id not in events.ran and (succeeded or task.task_id in events.found_done)]
    deployment = root.output().load() if root.task_id in events.ran else None
    return RunOutcome(
        succeeded=succeeded,
        ran=[task.get_task_family() for task in tasks if task.task_id in events.ran],
        reused=[task.get_task_family() for task in reused],
        failed=failed,
        deployed=deployment.version if deployment else None,
        deploy_reason=deployment.reason if deployment else None,
        decision=deployment.as_summary() if deployment else None,
        reasons={decision.family: decision.reason for decision in decisions},
        run_id=run_id,
        seconds={task.get_task_family(): events.seconds[task.task_id] for task in tasks
                 if task.task_id in events.seconds},
    )


def _record_run(pipeline: Pipeline, root: AppTask, outcome: RunOutcome, decisions: list[Decision],
                started_at: datetime, forced: list[str]) -> None:
    """Append the run record; a run log that cannot be written costs the next plan its reasons, not this run."""
    planned = {decision.family: decision for decision in decisions}
    entries = [_task_entry(task, outcome, planned[task.get_task_family()]) for task in all_tasks(root)]
    for entry in entries:
        if entry["family"] == pipeline.family("model") and entry["outcome"] == "ran":
            entry["training"] = _training_facts(pipeline.family("evaluation"), root, outcome)
    record = {
        "run_id": outcome.run_id,
        "started_at": started_at.isoformat(),
        "ended_at": datetime.now(timezone.utc).isoformat(),
        "status": "SUCCESS" if outcome.succeeded else "FAILED",
        "settings": {name: value for name, value in root.param_kwargs.items()},
        "data_fingerprint": root.data_fingerprint,
        "forced": forced,
        "deployed": outcome.deployed,
        "roles": pipeline.roles,
        "decision": outcome.decision,
        "tasks": entries,
    }
    try:
        append_run_record(root.target_store(), root.target_prefix() + RUN_LOG_NAME, record)
    except Exception as error:  # noqa: BLE001 (any storage failure)
        logger.warning("could not write the run record: %s", error)


def _task_entry(task: AppTask, outcome: RunOutcome, decision: Decision) -> dict:
    family = task.get_task_family()
    if family in outcome.failed:
        result = "failed"
    elif family in outcome.ran:
        result = "ran"
    else:
        result = "reused" if family in outcome.reused else "not run"
    if result == "reused" and decision.reason == "not needed":
        result = "not needed"
    facts = task_facts(task)
    return {
        "family": family,
        "identity": facts.identity,
        "target": task.output().name,
        "params": dict(facts.params),
        "code": facts.code,
        "upstream": dict(facts.upstream),
        "outcome": result,
        "reason": decision.reason,
        "seconds": round(outcome.seconds[family], 3) if family in outcome.seconds else None,
        "output_bytes": task.output().size() if result in ("ran", "reused") else None,
    }


def _training_facts(evaluation: str, root: AppTask, outcome: RunOutcome) -> dict | None:
    """Epochs run, best validation loss and why training stopped, from the `evaluation` task's small output (the
    trained model's output holds every prediction), when that task ran in this run."""
    if evaluation not in outcome.ran:
        return None
    evaluate = next(task for task in all_tasks(root) if task.get_task_family() == evaluation)
    try:
        return dict(evaluate.output().load().training)
    except Exception as error:  # noqa: BLE001 (the record is a report; it must not fail the run)
        logger.warning("could not read the training facts for the run record: %s", error)
        return None

