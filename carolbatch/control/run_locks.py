"""The target folder and model registry a command writes: checked to be folders, then locked."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from carolbatch.errors import BAD_INPUT, AppError
from carolbatch.storage.locks import LOCK_FILE, carol_lock, local_locks
from carolbatch.storage.stores import ObjectStore

if TYPE_CHECKING:
    from carolbatch.control.startup import RegistryAccess, RunPlan
    from carolbatch.settings.declaration import Settings


def lock_run(plan: RunPlan, purpose: str, wait: bool, shared: bool = False) -> AbstractContextManager:
    """The locks of the run's target folder and model registry for the whole run.

    A run `shared` with other processes through a central scheduler holds none for its length (Luigi
    coordinates the tasks): its registry writes take the registry lock each (`RunContext.registry_writes`),
    so a clean-up or a rollback never meets a version half written.

    Raises:
        LockBusyError: on entering, when another process holds one and `wait` is false.
    """
    registry = (plan.registry, f"{plan.settings.deploy_app}/")
    if shared:
        return _registry_writes_locked(plan.root.run_context(), partial(_locks, [registry], purpose, wait))
    return _locks([(plan.root.target_store(), plan.root.target_prefix()), registry], purpose, wait)


@contextmanager
def _registry_writes_locked(context, take_lock):
    context.registry_lock = take_lock
    try:
        yield
    finally:
        context.registry_lock = None


def lock_registry(access: RegistryAccess, purpose: str, wait: bool) -> AbstractContextManager:
    """The lock of the model registry, for a rollback or a clean-up of versions."""
    return _locks([(access.store, f"{access.settings.deploy_app}/")], purpose, wait)


@contextmanager
def _locks(places: list[tuple[ObjectStore, str]], purpose: str, wait: bool):
    """Take the lock of each (store, folder) in the order given: targets before the registry, in every process.

    A lock two places share (a target folder inside the registry) is taken once: taken twice, the second
    would wait for the first, held by this very process.
    """
    taken: set[str] = set()
    with ExitStack() as stack:
        for store, folder in places:
            local_folder = store.local_path(folder)
            lock = str(local_folder.resolve() / LOCK_FILE) if local_folder else store.describe(f"{folder}{LOCK_FILE}")
            if lock in taken:
                continue
            taken.add(lock)
            if local_folder is not None:
                stack.enter_context(local_locks([local_folder], purpose, wait))
            else:
                stack.enter_context(carol_lock(store, f"{folder}{LOCK_FILE}", purpose, wait))
        yield


def check_folders(settings: Settings, local_registry: bool = True) -> None:
    """A target folder, or a local registry and its deploy app's folder, that is a file or lies inside one
    is bad input, named before anything is written."""
    for name, path in _folders(settings, local_registry).items():
        found = _nearest_existing(path)
        if found is None or found.is_dir():
            continue
        where = "is a file, not a folder" if found == path else f"lies inside the file {str(found)!r}"
        raise AppError(f"{_subject(settings, name, path)} {where}", BAD_INPUT)


def check_writable(settings: Settings, local_registry: bool = True) -> None:
    """A target folder or local registry this user cannot write (a volume owned by root, say) is bad input,
    named before anything is written."""
    for name, path in _folders(settings, local_registry).items():
        found = _nearest_existing(path)
        if found is not None and not os.access(found, os.W_OK | os.X_OK):
            where = f"cannot be written by this user (uid {os.geteuid()}): {os.path.abspath(found)!r} is not writable"
            raise AppError(f"{_subject(settings, name, path)} {where}", BAD_INPUT)


def _folders(settings: Settings, local_registry: bool) -> dict[str, Path]:
    folders = {"target_dir": Path(settings.target_dir)}
    if local_registry:
        registry = Path(settings.registry_dir)
        folders.update(registry_dir=registry, deploy_app=registry / settings.deploy_app)
    return folders


def _nearest_existing(path: Path) -> Path | None:
    return next((folder for folder in (path, *path.parents) if folder.exists()), None)


def _subject(settings: Settings, name: str, path: Path) -> str:
    if name == "deploy_app":
        return f"the registry folder {str(path)!r} of deploy_app={settings.deploy_app!r}"
    return f"setting {name}={getattr(settings, name)!r}"
