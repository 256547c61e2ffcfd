"""Keeping a model registry sound: derived files repaired from the history, leftovers and old versions removed.

Run only while holding the registry's lock, so nothing found incomplete is still being written.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from carolbatch.registry import (RegistryError, incomplete_versions, registry_name, removable_versions,
                                 remove_version, repair_pointers)
from carolbatch.storage.stores import ObjectStore

logger = logging.getLogger(__name__)

# The temporary names LocalStore and the artifact writer give files before renaming them into place.
_LEFTOVER = re.compile(r"^\..+\.part$")


def repair_registry(store: ObjectStore, deploy_app: str) -> None:
    """Make `current` and `model.pkl` follow the history; a current version that does not verify is reported."""
    try:
        repaired = repair_pointers(store, deploy_app)
    except RegistryError as error:
        logger.warning("the current model cannot be served: %s; run.py --rollback VERSION to a sound one", error)
        return
    if repaired:
        logger.warning("repaired %s of %s: they did not follow its history", " and ".join(repaired), deploy_app)


def part_leftovers(folder: Path, depth: int) -> list[Path]:
    """Temporary `.part` files left by interrupted writes in `folder`, at most `depth` folders down."""
    found: list[Path] = []
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file() and _LEFTOVER.match(path.name):
                found.append(path)
            elif path.is_dir() and depth > 0 and not path.is_symlink():
                found.extend(part_leftovers(path, depth - 1))
    return sorted(found)


def clean_registry(store: ObjectStore, deploy_app: str, keep_models: int | None, dry_run: bool) -> list[tuple[str, int]]:
    """Remove `.part` leftovers, incomplete versions and, with `keep_models`, versions beyond the newest N
    (never the current version nor the one before it: `carolbatch.registry.protected_versions`).

    Returns:
        `(name, bytes)` of every file removed (or that would be).
    """
    removed: list[tuple[str, int]] = []
    # Only a local folder can hold `.part` leftovers: an upload to Carol storage is whole or absent.
    folder, root = store.local_path(registry_name(deploy_app)), store.local_path("")
    for path in part_leftovers(folder, depth=1) if folder else []:
        removed.append((path.relative_to(root).as_posix(), path.stat().st_size))
        if not dry_run:
            path.unlink(missing_ok=True)
    old = [] if keep_models is None else removable_versions(store, deploy_app, keep_models)
    for version in [*incomplete_versions(store, deploy_app), *old]:
        removed.extend(remove_version(store, deploy_app, version, dry_run, recorded=version in old))
        if not dry_run and store.local_path(registry_name(deploy_app, version)):
            _remove_empty(store.local_path(registry_name(deploy_app, version)))
    return removed


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
