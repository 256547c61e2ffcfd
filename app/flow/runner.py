"""Building the pipeline from its parameters and running it with Luigi."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import luigi
from luigi.execution_summary import LuigiStatusCode, _partition_tasks

from app.flow.commons import AppTask
from app.flow.deploy_model import DeployModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOutcome:
    """What one `luigi.build` did to the pipeline."""

    succeeded: bool
    ran: list[str]
    reused: list[str]
    failed: dict[str, str]
    deployed: str | None
    deploy_reason: str | None


def build_pipeline(params: dict) -> DeployModel:
    """The root task; pycarol hands every task the parameters it declares."""
    return DeployModel(**params)


def all_tasks(root: AppTask) -> list[AppTask]:
    """The root and everything upstream of it, upstream first."""
    ordered: list[AppTask] = []
    for task in luigi.task.flatten(root.requires()):
        ordered.extend(t for t in all_tasks(task) if t not in ordered)
    return [*ordered, root]


@AppTask.event_handler(luigi.Event.START)
def _log_start(task: AppTask) -> None:
    logger.info("running %s", task.get_task_family())


@AppTask.event_handler(luigi.Event.PROCESSING_TIME)
def _log_done(task: AppTask, seconds: float) -> None:
    logger.info("finished %s in %.2fs", task.get_task_family(), seconds)


def run_pipeline(root: DeployModel, workers: int, scheduler_host: str | None, scheduler_port: int) -> RunOutcome:
    """Run the pipeline and classify each task as ran, reused or failed."""
    scheduler = {"local_scheduler": True}
    if scheduler_host:
        scheduler = {"scheduler_host": scheduler_host, "scheduler_port": scheduler_port}
    result = luigi.build([root], workers=workers, detailed_summary=True, **scheduler)
    partition = _partition_tasks(result.worker)
    ran = {task.task_id for task in partition["completed"]}
    failed_tasks = partition["ever_failed"] - partition["completed"]
    failed = {task.get_task_family(): _failure_message(result.worker, task) for task in failed_tasks}
    not_done = {task.task_id for group in partition.values() for task in group} - ran - {
        task.task_id for task in partition["already_done"]
    }
    tasks = all_tasks(root)
    deployment = root.output().load() if root.task_id in ran else None
    return RunOutcome(
        succeeded=result.status in (LuigiStatusCode.SUCCESS, LuigiStatusCode.SUCCESS_WITH_RETRY),
        ran=[task.get_task_family() for task in tasks if task.task_id in ran],
        reused=[task.get_task_family() for task in tasks if task.task_id not in ran | not_done],
        failed=failed,
        deployed=deployment.version if deployment else None,
        deploy_reason=deployment.reason if deployment else None,
    )


def _failure_message(worker, task) -> str:
    error = worker._scheduler.fetch_error(task.task_id) or {}
    lines = [line for line in str(error.get("error") or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else "failed (see the log above)"
