"""Keeping a model registry sound: derived files repaired from the history, leftovers and old versions removed.

Run only while holding the registry's lock, so nothing found incomplete is still being written.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from carolbatch.registry.versions import (
    MANIFEST_FILE,
    RegistryError,
    list_version_ids,
    read_history,
    repair_pointers,
)
from carolbatch.registry.commit import commit_removal
from carolbatch.registry.files import registry_name
from carolbatch.registry.history import check_plain_name, current_chain, select_removable_versions
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


def incomplete_versions(store: ObjectStore, deploy_app: str) -> list[str]:
    """Version folders without a checksum manifest: writes a crash interrupted (never current)."""
    folders: dict[str, set[str]] = {}
    for name in store.list_names(registry_name(deploy_app) + "/"):
        parts = name.split("/")
        if len(parts) == 3:
            folders.setdefault(parts[1], set()).add(parts[2])
    chain = set(current_chain(read_history(store, deploy_app)))
    return sorted(version for version, files in folders.items()
                  if MANIFEST_FILE not in files and version not in chain and _plain(version))


def _plain(version: str) -> bool:
    try:
        check_plain_name("model version", version)
    except ValueError:
        return False
    return True


def clean_registry(store: ObjectStore, deploy_app: str, keep_models: int | None, dry_run: bool) -> list[tuple[str, int]]:
    """Remove `.part` leftovers, incomplete versions and, with `keep_models`, versions beyond the newest N.

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
    old = []
    if keep_models is not None:
        old = select_removable_versions(list_version_ids(store, deploy_app),
                                        current_chain(read_history(store, deploy_app)), keep_models)
    for version in [*incomplete_versions(store, deploy_app), *old]:
        removed.extend(_remove_version(store, deploy_app, version, dry_run, recorded=version in old))
    return removed


def _remove_version(store: ObjectStore, deploy_app: str, version: str, dry_run: bool, recorded: bool):
    folder = registry_name(deploy_app, version)
    # The manifest goes first: an interrupted removal leaves an incomplete version, never a wrong one.
    names = sorted(store.list_names(folder + "/"), key=lambda name: not name.endswith("/" + MANIFEST_FILE))
    sizes = [(name, store.size(name) or 0) for name in names]
    if not dry_run:
        if recorded:
            commit_removal(store, deploy_app, version)
        for name in names:
            store.delete(name)
        if store.local_path(folder):
            _remove_empty(store.local_path(folder))
    return sizes


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass
