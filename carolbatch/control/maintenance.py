"""Looking at the stored targets of a pipeline: the plan of a run, forced recomputation, clean-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import luigi

from carolbatch.control.registry_upkeep import clean_registry, part_leftovers, repair_registry
from carolbatch.control.recording import RUN_LOG_NAME, deployed_lineage_from_runs, latest_task_entries, read_run_records
from carolbatch.tasks import LINEAGE_KEY, AppTask
from carolbatch.errors import BAD_INPUT, AppError
from carolbatch.planning import (
    Decision,
    TaskFacts,
    explain_rerun,
    format_plan,
    identities_to_keep,
    own_parameters,
    select_garbage,
)
from carolbatch.registry import RegistryError, read_current_version, read_version_metadata
from carolbatch.storage.artifacts import RECORD_SUFFIX, artifact_size
from carolbatch.storage.stores import read_bytes
from carolbatch.training.checkpoints import select_checkpoints

logger = logging.getLogger(__name__)


def all_tasks(root: AppTask) -> list[AppTask]:
    """The root and everything upstream of it, upstream first."""
    ordered: list[AppTask] = []
    for task in luigi.task.flatten(root.requires()):
        ordered.extend(t for t in all_tasks(task) if t not in ordered)
    return [*ordered, root]


def run_records(root: AppTask) -> list[dict]:
    """The run log of the store the root's targets live in."""
    return read_run_records(root.target_store(), root.target_prefix() + RUN_LOG_NAME)


def task_facts(task: AppTask) -> TaskFacts:
    """The parts of a task's identity, as the run log records them."""
    upstream = list(luigi.task.flatten(task.requires()))
    inherited = [name for parent in upstream for name in parent.to_str_params(only_significant=True)]
    params = task.to_str_params(only_significant=True)
    return TaskFacts(
        family=task.get_task_family(),
        identity=task.identity(),
        params=params,
        code=task.code_fingerprint(),
        upstream={parent.get_task_family(): parent.identity() for parent in upstream},
        own_params=own_parameters(params, inherited),
    )


def check_task_names(root: AppTask, names: list[str]) -> None:
    """Raises `AppError` when a name is not a task of the pipeline."""
    families = [task.get_task_family() for task in all_tasks(root)]
    unknown = [name for name in names if name not in families]
    if unknown:
        raise AppError(f"unknown task {', '.join(unknown)}; tasks are {', '.join(families)}", BAD_INPUT)


def affected_tasks(root: AppTask, forced: list[str]) -> list[AppTask]:
    """The tasks named in `forced` and every task downstream of them."""
    tasks = all_tasks(root)
    named = {task for task in tasks if task.get_task_family() in forced}
    return [task for task in tasks if task in named or named & set(task.upstream_tasks())]


def plan_pipeline(root: AppTask, records: list[dict], forced: list[str] = ()) -> list[Decision]:
    """What a run of `root` will do to each task, and why, mirroring how Luigi decides.

    Like Luigi, the walk descends only from tasks that are not complete, so a complete root means no
    other target is read.
    """
    previous = latest_task_entries(records)
    affected = set(affected_tasks(root, list(forced)))
    decided: dict[AppTask, Decision] = {}

    def visit(task: AppTask) -> bool:
        if task not in decided:
            # The task's own complete(), as Luigi will ask it: the deployment task's also consults the registry.
            if task not in affected and task.complete():
                decided[task] = Decision(task.get_task_family(), False, "output exists")
            else:
                upstream_runs = [visit(upstream) for upstream in luigi.task.flatten(task.requires())]
                reason = explain_rerun(task_facts(task), previous.get(task.get_task_family()),
                                       task.output().state(), any(upstream_runs), task.get_task_family() in forced)
                decided[task] = Decision(task.get_task_family(), True, reason)
        return decided[task].run

    visit(root)
    return [decided.get(task) or _unvisited(task) for task in all_tasks(root)]


def describe_plan(root: AppTask, forced: list[str] = ()) -> list[str]:
    """The plan of a run as printed lines, ending with the counts."""
    decisions = plan_pipeline(root, run_records(root), forced)
    running = sum(decision.run for decision in decisions)
    return [*format_plan(decisions), f"plan: {running} to run, {len(decisions) - running} to reuse"]


def describe_clean_up(root: AppTask, keep_runs: int, dry_run: bool, keep_models: int | None = None) -> list[str]:
    """Run clean-up of targets and registry and describe it as printed lines, ending with the bytes freed.

    Args:
        keep_models: keep this many newest model versions (and always the current and previous current);
            None removes no complete version.
    """
    clean_up = collect_garbage(root, keep_runs, dry_run)
    registry = root.model_registry()
    if not dry_run:
        repair_registry(registry, root.deploy_app)
    in_registry = clean_registry(registry, root.deploy_app, keep_models, dry_run)
    removed = [*clean_up.removed, *((registry.describe(name), size) for name, size in in_registry)]
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {name} ({size} bytes)" for name, size in removed]
    freed = "would free" if dry_run else "freed"
    total = sum(size for _, size in removed)
    return [*lines, f"gc: {verb} {len(removed)} files, {freed} {total} bytes"]


def _unvisited(task: AppTask) -> Decision:
    exists = task.output().size() is not None
    return Decision(task.get_task_family(), False, "output exists" if exists else "not needed")


@dataclass(frozen=True)
class CleanUp:
    """What clean-up removed (or would remove) and how many bytes that frees."""

    removed: list[tuple[str, int]]
    freed: int


def collect_garbage(root: AppTask, keep_runs: int, dry_run: bool) -> CleanUp:
    """Remove targets that neither the current settings, the last `keep_runs` runs nor the deployed model use.

    Raises:
        AppError: a model is deployed but no record tells which targets produced it.
    """
    store, records = root.target_store(), run_records(root)
    keep = identities_to_keep(root.lineage().values(), records[-keep_runs:] if keep_runs else [],
                              _deployed_lineage(root, records))
    families = [task.get_task_family() for task in all_tasks(root)]
    names, prefix = store.list_names(root.target_prefix()), root.target_prefix()
    # Checkpoints only serve a run that was stopped: clean-up removes them all.
    garbage = select_garbage(names, families, keep, prefix) + select_checkpoints(names, prefix)
    # Records first: an interrupted clean-up leaves unfinished targets, never unverifiable ones.
    garbage.sort(key=lambda name: (not name.endswith(RECORD_SUFFIX), name))
    removed = [(name, _stored_bytes(store, name)) for name in garbage]
    folder = store.local_path("")
    leftovers = part_leftovers(folder, depth=1) if folder is not None else []
    removed += [(path.relative_to(folder).as_posix(), path.stat().st_size) for path in leftovers]
    if not dry_run:
        for name in garbage:
            store.delete(name)
        for path in leftovers:
            path.unlink(missing_ok=True)
    return CleanUp(removed=removed, freed=sum(size for _, size in removed))


def _deployed_lineage(root: AppTask, records: list[dict]) -> list[str]:
    registry = root.model_registry()
    version = read_current_version(registry, root.deploy_app)
    if version is None:
        return []
    try:
        recorded = read_version_metadata(registry, root.deploy_app, version).get("settings", {}).get(LINEAGE_KEY)
    except RegistryError:
        recorded = None
    lineage = list((recorded or {}).values()) + deployed_lineage_from_runs(records, version)
    if not lineage:
        raise AppError(f"deployed model {version} has no recorded target lineage; nothing removed")
    return lineage


def _stored_bytes(store, name: str) -> int:
    path = store.local_path(name)
    if path is not None:
        return path.stat().st_size if path.is_file() else 0
    if name.endswith(RECORD_SUFFIX):
        return len(read_bytes(store, name) or b"")
    return artifact_size(store, name) or 0
