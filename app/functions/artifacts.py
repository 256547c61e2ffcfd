"""Pipeline outputs stored with a checksum record, so a damaged output is never mistaken for a finished one.

An artifact `name` is two objects: the joblib dump at `name`, then `name.sha256` holding its size and
SHA-256. The record is written last, so an artifact without one was never finished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from app.functions.stores import ObjectStore, read_bytes, write_bytes

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".sha256"


class CorruptArtifactError(RuntimeError):
    """An artifact's bytes do not match its checksum record."""


@dataclass(frozen=True)
class ArtifactRecord:
    size: int
    sha256: str


def digest_file(path: Path) -> ArtifactRecord:
    """Size and SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
            size += len(chunk)
    return ArtifactRecord(size=size, sha256=digest.hexdigest())


def save_artifact(store: ObjectStore, name: str, value: Any) -> ArtifactRecord:
    """Serialise `value`, publish it under `name`, then publish its checksum record."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "artifact.pkl"
        joblib.dump(value, path)
        record = digest_file(path)
        store.write_file(name, path)
    write_bytes(store, name + RECORD_SUFFIX, json.dumps(record.__dict__).encode())
    return record


def read_record(store: ObjectStore, name: str) -> ArtifactRecord | None:
    """The checksum record of `name`, or None when there is none or it is unreadable."""
    data = read_bytes(store, name + RECORD_SUFFIX)
    if data is None:
        return None
    try:
        fields = json.loads(data)
        return ArtifactRecord(size=int(fields["size"]), sha256=str(fields["sha256"]))
    except (ValueError, KeyError, TypeError):
        return None


def verified_copy(store: ObjectStore, name: str) -> Path:
    """A local path to the artifact's bytes, checked against its record.

    Raises:
        CorruptArtifactError: the artifact or its record is missing, or they disagree.
    """
    record = read_record(store, name)
    path = store.local_copy(name) if record is not None else None
    if record is None or path is None:
        raise CorruptArtifactError(f"{store.describe(name)} is missing or has no checksum record")
    actual = digest_file(path)
    if actual != record:
        raise CorruptArtifactError(
            f"{store.describe(name)} does not match its checksum record "
            f"(size {actual.size}, expected {record.size})"
        )
    return path


def artifact_is_valid(store: ObjectStore, name: str) -> bool:
    """True when the artifact is complete and intact; a damaged one is logged and reported as missing."""
    if read_record(store, name) is None:
        return False
    try:
        verified_copy(store, name)
    except CorruptArtifactError as error:
        logger.warning("%s; it will be recomputed", error)
        return False
    return True


def load_artifact(store: ObjectStore, name: str) -> Any:
    """Load a verified artifact.

    Raises:
        CorruptArtifactError: the artifact is missing or damaged.
    """
    return joblib.load(verified_copy(store, name))


def delete_artifact(store: ObjectStore, name: str) -> None:
    """Remove the record first, so an interrupted delete leaves an unfinished artifact, not a wrong one."""
    store.delete(name + RECORD_SUFFIX)
    store.delete(name)
