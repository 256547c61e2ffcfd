"""A version's checksum manifest (`checksums.json`): a version is complete once it has one, and every read of
its files is checked against it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from carolbatch.registry.names import MANIFEST_FILE, MODEL_FILE, RegistryError, check_plain_name, version_folder
from carolbatch.storage.stores import ObjectStore, read_bytes


def manifest_bytes(files: Mapping[str, bytes]) -> bytes:
    """The manifest of a version's files: each file's size and SHA-256."""
    records = {name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()}
    return json.dumps({"files": records}, indent=2).encode()


def parse_manifest(data: bytes, where: str) -> dict[str, dict[str, Any]]:
    """File name to `{"size", "sha256"}` from a version's checksum manifest.

    Raises:
        RegistryError: the manifest is not such a mapping of plain file names.
    """
    try:
        files = json.loads(data)["files"]
        for name, record in files.items():
            check_plain_name("file", name, reserved=())
            if not isinstance(record["size"], int) or not isinstance(record["sha256"], str):
                raise ValueError(name)
    except (ValueError, KeyError, TypeError, AttributeError, RegistryError):
        raise RegistryError(f"{where} is not a checksum manifest") from None
    return files


def read_manifest(store: ObjectStore, deploy_app: str, version: str) -> dict[str, dict[str, Any]]:
    """The checksum manifest of a version.

    Raises:
        RegistryError: the version is unknown, incomplete (no manifest) or its manifest is malformed.
    """
    folder = version_folder(deploy_app, version)
    name = f"{folder}/{MANIFEST_FILE}"
    data = read_bytes(store, name)
    if data is None:
        state = "is incomplete (no checksums)" if store.list_names(f"{folder}/") else "not found"
        raise RegistryError(f"model version {version} of {deploy_app} {state} in {store.describe(deploy_app)}")
    return parse_manifest(data, store.describe(name))


def verified_bytes(store: ObjectStore, deploy_app: str, version: str, file_name: str) -> bytes:
    """One file of a version, checked against the version's checksum manifest.

    Raises:
        RegistryError: the version has no manifest (it is incomplete or unknown), or the file is missing
            or its bytes differ from the manifest.
    """
    record = read_manifest(store, deploy_app, version).get(file_name)
    data = read_bytes(store, f"{version_folder(deploy_app, version)}/{file_name}") if record else None
    if record is None or data is None:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {file_name} is missing")
    if len(data) != record["size"] or hashlib.sha256(data).hexdigest() != record["sha256"]:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {file_name} has "
                            f"{len(data)} bytes that do not match its checksum ({record['size']} bytes expected)")
    return data


def verify_version(store: ObjectStore, deploy_app: str, version: str) -> None:
    """Check every file of a version against its manifest; raises `RegistryError` naming the first that fails."""
    for file_name in read_manifest(store, deploy_app, version):
        verified_bytes(store, deploy_app, version, file_name)


def model_record(store: ObjectStore, deploy_app: str, version: str) -> dict[str, Any]:
    """The manifest record of a version's model, checked against the stored object's size (no download).

    Raises:
        RegistryError: the version has no manifest, or its model is missing or has another size.
    """
    record = read_manifest(store, deploy_app, version).get(MODEL_FILE)
    stored = store.size(f"{version_folder(deploy_app, version)}/{MODEL_FILE}") if record else None
    if record is None or stored != record["size"]:
        raise RegistryError(f"model version {version} of {deploy_app} does not verify: {MODEL_FILE} "
                            + ("is missing" if stored is None else f"has {stored} bytes, {record['size']} expected"))
    return record
