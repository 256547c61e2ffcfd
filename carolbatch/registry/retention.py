"""Which versions a clean-up may remove, and removing them: never the version being served nor the one
current before it, whatever the history holds.

Run only while holding the registry's lock, so nothing found incomplete is still being written.
"""

from __future__ import annotations

from collections.abc import Iterable

from carolbatch.registry.history import commit_removal, current_chain, read_history, read_pointer
from carolbatch.registry.names import MANIFEST_FILE, is_plain_name, registry_name
from carolbatch.registry.versions import list_version_ids
from carolbatch.storage.stores import ObjectStore


def protected_versions(store: ObjectStore, deploy_app: str) -> set[str]:
    """The versions no clean-up removes: the current one and the one current before it (where a rollback
    without a version goes), as the history says, and the version `current` names.

    Without two current versions in the history (a registry from before the history, a lost or emptied
    log), the newest complete version before the one `current` names stands in for the previous.
    """
    chain = current_chain(read_history(store, deploy_app))
    pointer = read_pointer(store, deploy_app)
    protected = set(chain[-2:])
    if pointer is not None and is_plain_name(pointer):
        protected.add(pointer)
        if len(chain) < 2:
            protected.update([version for version in list_version_ids(store, deploy_app) if version < pointer][-1:])
    return protected


def removable_versions(store: ObjectStore, deploy_app: str, keep_models: int) -> list[str]:
    """Complete versions retention may remove: all but the newest `keep_models`, never a protected one
    (`protected_versions`), oldest first."""
    complete = list_version_ids(store, deploy_app)
    keep = protected_versions(store, deploy_app) | (set(complete[-keep_models:]) if keep_models else set())
    return [version for version in complete if version not in keep]


def incomplete_versions(store: ObjectStore, deploy_app: str) -> list[str]:
    """Version folders without a checksum manifest: writes a crash interrupted (never a protected version)."""
    folders: dict[str, set[str]] = {}
    for name in store.list_names(registry_name(deploy_app) + "/"):
        parts = name.split("/")
        if len(parts) == 3:
            folders.setdefault(parts[1], set()).add(parts[2])
    keep = set(current_chain(read_history(store, deploy_app))) | protected_versions(store, deploy_app)
    return sorted(version for version, files in folders.items()
                  if MANIFEST_FILE not in files and version not in keep and is_plain_name(version))


def remove_version(store: ObjectStore, deploy_app: str, version: str, dry_run: bool,
                   recorded: bool) -> list[tuple[str, int]]:
    """Remove every file of a version, its manifest first (an interrupted removal leaves an incomplete
    version, never a wrong one); a `recorded` removal is written to the history before.

    Returns:
        `(name, bytes)` of every file removed (or that would be, with `dry_run`).
    """
    folder = registry_name(deploy_app, version)
    names = sorted(store.list_names(folder + "/"), key=lambda name: not name.endswith("/" + MANIFEST_FILE))
    sizes = [(name, store.size(name) or 0) for name in names]
    if not dry_run:
        if recorded:
            commit_removal(store, deploy_app, version)
        _delete(store, names)
    return sizes


def _delete(store: ObjectStore, names: Iterable[str]) -> None:
    for name in names:
        store.delete(name)
