"""Changes to the registry's current version: the history entry that decides it, and the pointers derived from it.

The history log is the truth; `current` and the stable `model.pkl` follow it and are repaired on the next run
when a crash left them behind.
"""

from __future__ import annotations

import logging

from carolbatch.registry.files import (MODEL_FILE, POINTER_FILE, HISTORY_FILE, RegistryError, current_pointer,
                                          model_record, read_current_version, read_history, registry_name,
                                          stable_model_name, verified_bytes, write_registry_file)
from carolbatch.registry.history import current_chain, history_line
from carolbatch.storage.stores import ObjectStore, read_bytes

logger = logging.getLogger(__name__)


def commit_current(store: ObjectStore, deploy_app: str, action: str, version: str) -> str | None:
    """Append one entry to the history (the atomic step), then derive `current` and `model.pkl` from it.

    Returns:
        The version that was current before.

    Raises:
        RegistryError: the history could not be written; the current version is unchanged.
    """
    previous = read_current_version(store, deploy_app)
    try:
        append_history(store, deploy_app, history_line(action, version, previous))
    except Exception as error:
        raise RegistryError(f"the history of {deploy_app} could not be written ({error}); "
                            f"the current version is still {previous}") from None
    try:
        repair_pointers(store, deploy_app)
    except Exception as error:  # noqa: BLE001 (the history has decided; the next run repairs the rest)
        logger.warning("%s is current, but its derived files could not be updated (%s); the next run "
                       "repairs them", version, error)
    return previous


def commit_removal(store: ObjectStore, deploy_app: str, version: str) -> None:
    """Record in the history that `version` is removed (before its files go)."""
    append_history(store, deploy_app, history_line("remove", version, read_current_version(store, deploy_app)))


def append_history(store: ObjectStore, deploy_app: str, line: bytes) -> None:
    name = registry_name(deploy_app, HISTORY_FILE)
    history = read_bytes(store, name) or b""
    write_registry_file(store, name, history + (b"\n" if history and not history.endswith(b"\n") else b"") + line)


def repair_pointers(store: ObjectStore, deploy_app: str) -> list[str]:
    """Make `current` and the stable `model.pkl` agree with the history; returns what was repaired.

    A registry in order costs metadata reads and the small registry files only, never the model: the
    stable `model.pkl` is always written before `current`, so a `current` that names the history's
    version vouches for it.

    Raises:
        RegistryError: the current version does not verify (nothing is changed then).
    """
    entries = read_history(store, deploy_app)
    chain = current_chain(entries) if entries else []
    if not chain:
        return []
    version = chain[-1]
    expected_size = model_record(store, deploy_app, version)["size"]
    pointer = (read_bytes(store, current_pointer(deploy_app)) or b"").decode(errors="replace").strip()
    if pointer == version and store.size(stable_model_name(deploy_app)) == expected_size:
        return []
    repaired = []
    model = verified_bytes(store, deploy_app, version, MODEL_FILE)
    if read_bytes(store, stable_model_name(deploy_app)) != model:
        write_registry_file(store, stable_model_name(deploy_app), model)
        repaired.append(MODEL_FILE)
    if pointer != version:
        write_registry_file(store, current_pointer(deploy_app), version.encode())
        repaired.append(POINTER_FILE)
    return repaired
