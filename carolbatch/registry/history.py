"""The history log (`<deploy_app>/history.jsonl`): the registry's one source of truth for the current version.

Appending one entry to it is the one atomic step of a deploy, a rollback or a removal. `current` and the
stable `model.pkl` are derived from it: written after it, and repaired when a crash left them behind.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from carolbatch.registry.checksums import model_record, verified_bytes
from carolbatch.registry.names import (HISTORY_FILE, MODEL_FILE, POINTER_FILE, RegistryError, check_plain_name,
                                       current_pointer, is_plain_name, registry_name, stable_model_name,
                                       write_registry_file)
from carolbatch.storage.stores import ObjectStore, read_bytes

logger = logging.getLogger(__name__)

ACTIONS = ("deploy", "rollback", "remove")


def parse_history(data: bytes, where: str) -> list[dict[str, Any]]:
    """The entries of a history log, oldest first; a line written twice is read once.

    Raises:
        RegistryError: a line is not a JSON object with a plain `version` and an `action`.
    """
    entries, seen = [], set()
    for number, line in enumerate(data.decode(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            check_plain_name("version", entry["version"])
            if entry["action"] not in ACTIONS:
                raise ValueError(entry["action"])
        except (ValueError, KeyError, TypeError, RegistryError):
            raise RegistryError(f"{where} line {number} is not a registry history entry") from None
        key = json.dumps(entry, sort_keys=True)
        if key not in seen:
            seen.add(key)
            entries.append(entry)
    return entries


def current_chain(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The versions that are current, each over the one it replaced: the last is current now.

    A deploy puts its version on top (unless it is on top already); a rollback to a version in the chain
    goes back to it (what was above is dropped, so it is never returned to by a rollback without a
    version); a rollback to any other version puts it on top. A removed version leaves the chain.
    """
    chain: list[str] = []
    for entry in entries:
        version = entry["version"]
        if entry["action"] == "remove":
            chain = [known for known in chain if known != version]
        elif entry["action"] == "rollback" and version in chain:
            chain = chain[: chain.index(version) + 1]
        elif chain[-1:] != [version]:
            chain.append(version)
    return chain


def history_line(action: str, version: str, previous: str | None, reason: str | None = None) -> bytes:
    """One history entry as a JSON line."""
    entry = {"at": datetime.now(timezone.utc).isoformat(), "action": action, "version": version,
             "previous": previous, **({"reason": reason} if reason else {})}
    return json.dumps(entry).encode() + b"\n"


def read_history(store: ObjectStore, deploy_app: str) -> list[dict[str, Any]]:
    """Every history entry of `deploy_app`, oldest first (none when there is no history).

    Raises:
        RegistryError: the history file has the wrong shape (the message names it).
    """
    name = registry_name(deploy_app, HISTORY_FILE)
    return parse_history(read_bytes(store, name) or b"", store.describe(name))


def read_current_version(store: ObjectStore, deploy_app: str) -> str | None:
    """The current version id of `deploy_app` as its history decides, or None before the first deployment.

    A history that makes no version current (a registry from before the history, a lost log, one that
    records removals only) leaves the decision to `current`.

    Raises:
        RegistryError: the history (or, in a registry without a current chain, `current`) has the wrong shape.
    """
    chain = current_chain(read_history(store, deploy_app))
    if chain:
        return chain[-1]
    pointer = read_pointer(store, deploy_app)
    if pointer is not None and not is_plain_name(pointer):
        raise RegistryError(f"{store.describe(current_pointer(deploy_app))} does not hold a version id")
    return pointer


def read_pointer(store: ObjectStore, deploy_app: str) -> str | None:
    """What the `current` file says, unchecked; None when there is none."""
    data = read_bytes(store, current_pointer(deploy_app))
    return None if data is None else data.decode(errors="replace").strip()


def commit_current(store: ObjectStore, deploy_app: str, action: str, version: str,
                   reason: str | None = None) -> str | None:
    """Append one entry to the history (the atomic step, with its `reason` when given), then derive `current`
    and `model.pkl` from it.

    Returns:
        The version that was current before.

    Raises:
        RegistryError: the history could not be written; the current version is unchanged.
    """
    previous = read_current_version(store, deploy_app)
    try:
        _append_history(store, deploy_app, history_line(action, version, previous, reason))
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
    _append_history(store, deploy_app, history_line("remove", version, read_current_version(store, deploy_app)))


def _append_history(store: ObjectStore, deploy_app: str, line: bytes) -> None:
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
    chain = current_chain(read_history(store, deploy_app))
    if not chain:
        return []
    version, pointer = chain[-1], read_pointer(store, deploy_app)
    expected_size = model_record(store, deploy_app, version)["size"]
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
