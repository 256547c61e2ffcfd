"""Registry files in a store: the history log, checksum manifests, verified reads and the derived pointers.

See `carolbatch.registry.versions` for the layout. Every write pauses for the test hook first.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

from carolbatch.errors import BAD_INPUT, AppError
from carolbatch.registry.history import (
    HistoryError,
    check_plain_name,
    current_chain,
    parse_history,
    parse_manifest,
)
from carolbatch.storage.stores import ObjectStore, read_bytes, write_bytes

MODEL_FILE = "model.pkl"
METADATA_FILE = "metadata.json"
MANIFEST_FILE = "checksums.json"
HISTORY_FILE = "history.jsonl"
POINTER_FILE = "current"
# Test hook, read only here: seconds to pause before each registry write, so a test can kill a deploy
# at any step. Unset in real runs.
WRITE_DELAY_VARIABLE = "REGISTRY_TEST_WRITE_DELAY"


class RegistryError(AppError):
    """The registry does not hold what was asked for, does not verify, or refuses a change."""

    default_exit_code = BAD_INPUT


def registry_name(deploy_app: str, *parts: str) -> str:
    try:
        return "/".join([check_plain_name("deploy_app", deploy_app, reserved=()), *parts])
    except HistoryError as error:
        raise RegistryError(str(error)) from None


def write_registry_file(store: ObjectStore, name: str, data: bytes) -> None:
    time.sleep(float(os.environ.get(WRITE_DELAY_VARIABLE) or 0))
    write_bytes(store, name, data)


def current_pointer(deploy_app: str) -> str:
    return registry_name(deploy_app, POINTER_FILE)


def stable_model_name(deploy_app: str) -> str:
    """Where an online app finds the current model, whatever its version."""
    return registry_name(deploy_app, MODEL_FILE)


def check_version_id(version: str) -> str:
    """Raises `RegistryError` unless `version` is a plain name."""
    try:
        return check_plain_name("model version", version)
    except HistoryError as error:
        raise RegistryError(str(error)) from None


def read_history(store: ObjectStore, deploy_app: str) -> list[dict[str, Any]]:
    """Every history entry of `deploy_app`, oldest first.

    Raises:
        RegistryError: the history file has the wrong shape (the message names it).
    """
    name = registry_name(deploy_app, HISTORY_FILE)
    try:
        return parse_history(read_bytes(store, name) or b"", store.describe(name))
    except HistoryError as error:
        raise RegistryError(str(error)) from None


def read_current_version(store: ObjectStore, deploy_app: str) -> str | None:
    """The current version id of `deploy_app` as its history decides, or None before the first deployment.

    Raises:
        RegistryError: the history (or, in a registry without one, `current`) has the wrong shape.
    """
    entries = read_history(store, deploy_app)
    if entries:
        chain = current_chain(entries)
        return chain[-1] if chain else None
    data = read_bytes(store, current_pointer(deploy_app))
    if data is None:
        return None
    try:
        return check_plain_name("model version", data.decode(errors="replace").strip())
    except HistoryError:
        raise RegistryError(f"{store.describe(current_pointer(deploy_app))} does not hold a version id") from None


def verified_bytes(store: ObjectStore, deploy_app: str, version: str, file_name: str) -> bytes:
    """One file of a version, checked against the version's checksum manifest.

    Raises:
        RegistryError: the version has no manifest (it is incomplete or unknown), or the file is missing
            or its bytes differ from the manifest.
    """
    folder = registry_name(deploy_app, check_version_id(version))
    record = read_manifest(store, deploy_app, version).get(file_name)
    data = read_bytes(store, f"{folder}/{file_name}") if record else None
    if record is None or data is None:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {file_name} is missing")
    if len(data) != record["size"] or hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {file_name} has "
                            f"{len(data)} bytes that do not match its checksum ({record['size']} bytes expected)")
    return data


def read_manifest(store: ObjectStore, deploy_app: str, version: str) -> dict[str, dict[str, Any]]:
    """The checksum manifest of a version.

    Raises:
        RegistryError: the version is unknown, incomplete (no manifest) or its manifest is malformed.
    """
    folder = registry_name(deploy_app, check_version_id(version))
    name = f"{folder}/{MANIFEST_FILE}"
    data = read_bytes(store, name)
    if data is None:
        state = "is incomplete (no checksums)" if store.list_names(f"{folder}/") else "not found"
        raise RegistryError(f"model version {version} of {deploy_app} {state} in {store.describe(deploy_app)}")
    try:
        return parse_manifest(data, store.describe(name))
    except HistoryError as error:
        raise RegistryError(str(error)) from None


def verify_version(store: ObjectStore, deploy_app: str, version: str) -> None:
    """Check every file of a version against its manifest; raises `RegistryError` naming the first that fails."""
    for file_name in read_manifest(store, deploy_app, version):
        verified_bytes(store, deploy_app, version, file_name)


def model_record(store: ObjectStore, deploy_app: str, version: str) -> dict[str, Any]:
    """The manifest record of a version's model, checked against the stored object's size.

    Raises:
        RegistryError: the version has no manifest, or its model is missing or has another size.
    """
    record = read_manifest(store, deploy_app, version).get(MODEL_FILE)
    stored = store.size(f"{registry_name(deploy_app, version)}/{MODEL_FILE}") if record else None
    if record is None or stored != record["size"]:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {MODEL_FILE} "
                            + ("is missing" if stored is None else f"has {stored} bytes, {record['size']} expected"))
    return record
