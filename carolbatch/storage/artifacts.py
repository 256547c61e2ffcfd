"""Pipeline outputs stored with a checksum record, so a damaged output is never mistaken for a finished one.

An artifact `name` is two objects: the joblib dump at `name`, then `name.sha256` holding its size and
SHA-256. The record is written last, so an artifact without one was never finished.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib

from carolbatch.storage.checksums import (RECORD_SUFFIX, ArtifactRecord, digest_file, dump_with_digest,
                                             read_record, write_record)
from carolbatch.storage.stores import ObjectStore

logger = logging.getLogger(__name__)

MMAP_MIN_BYTES = 1 << 26



@dataclass
class ArtifactChecks:
    """What a run has already checked: the files it verified (by path, stat and record), so planning,
    Luigi's completeness check and loading hash a big target once; and the damage it reported, once each.
    A call given none checks afresh."""

    verified: set[tuple] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)


class CorruptArtifactError(RuntimeError):
    """An artifact's bytes do not match its checksum record."""


def _publish(store: ObjectStore, name: str, value: Any, checks: ArtifactChecks) -> ArtifactRecord:
    """Write the dump where it will live when the store is a folder (one write, then a rename)."""
    final = store.local_path(name)
    if final is None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "artifact.pkl"
            with open(path, "wb") as handle:
                record = dump_with_digest(value, handle)
            store.write_file(name, path)
        return record
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            record = dump_with_digest(value, handle)
        os.replace(temporary, final)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    status = final.stat()
    checks.verified.add((str(final), status.st_size, status.st_mtime_ns, status.st_ino, record))
    return record


def save_artifact(store: ObjectStore, name: str, value: Any, pause_seconds: float = 0.0,
                  summary: dict | None = None, checks: ArtifactChecks | None = None) -> ArtifactRecord:
    """Serialise `value`, publish it under `name`, then publish its checksum record.

    A record left from an earlier write is removed first: until the new record lands, the artifact
    reads as unfinished, never as the old record vouching for new bytes.

    Args:
        pause_seconds: test hook (`RunContext.write_delay_seconds`): a pause between the bytes and
            their record, so a test can kill the process inside that window. 0 in real runs.
        summary: JSON facts about `value` kept in the record (`read_summary`).
    """
    store.delete(name + RECORD_SUFFIX)
    record = _publish(store, name, value, checks or ArtifactChecks())
    time.sleep(pause_seconds)
    write_record(store, name, record, summary)
    return record


def verified_copy(store: ObjectStore, name: str, checks: ArtifactChecks | None = None) -> Path:
    """A local path to the artifact's bytes, checked against its record.

    Raises:
        CorruptArtifactError: the artifact or its record is missing, or they disagree.
    """
    record = read_record(store, name)
    path = store.local_copy(name) if record is not None else None
    if record is None or path is None:
        raise CorruptArtifactError(f"{store.describe(name)} is missing or has no checksum record")
    status = path.stat()
    # Only a local store's path is the object itself; a download path is reused for other bytes.
    seen = (str(path), status.st_size, status.st_mtime_ns, status.st_ino, record)
    checks = checks or ArtifactChecks()
    if seen not in checks.verified or store.local_path(name) is None:
        actual = digest_file(path)
        if actual != record:
            raise CorruptArtifactError(
                f"{store.describe(name)} does not match its checksum record "
                f"(size {actual.size}, expected {record.size})"
            )
        checks.verified.add(seen)
    return path


def _report_damage(store: ObjectStore, name: str, problem: str, checks: ArtifactChecks | None) -> None:
    if checks is not None:
        if store.describe(name) in checks.reported:
            return
        checks.reported.add(store.describe(name))
    logger.warning("%s; it will be recomputed", problem)


def inspect_artifact(store: ObjectStore, name: str, checks: ArtifactChecks | None = None) -> str:
    """`"valid"`, `"missing"` (never finished) or `"corrupt"` (its bytes disagree with its record, logged)."""
    if read_record(store, name) is None:
        return "missing"
    try:
        verified_copy(store, name, checks)
    except CorruptArtifactError as error:
        _report_damage(store, name, str(error), checks)
        return "corrupt"
    return "valid"


def artifact_is_present(store: ObjectStore, name: str) -> bool:
    """True when a finished artifact is there, judged from its checksum record and the object, reading no bytes.

    For Carol storage, where an upload appears whole and every load checks the bytes (`load_artifact`):
    a rerun that reuses a large output does not download it, it compares the object's size with the record.
    """
    record = read_record(store, name)
    return record is not None and store.size(name) == record.size


def artifact_is_valid(store: ObjectStore, name: str, checks: ArtifactChecks | None = None) -> bool:
    """True when the artifact is complete and intact; a damaged one is logged and reported as missing."""
    return inspect_artifact(store, name, checks) == "valid"


def artifact_looks_damaged(store: ObjectStore, name: str, checks: ArtifactChecks | None = None) -> bool:
    """True when a finished artifact is visibly broken, judged without reading its bytes.

    Damaged means it has a record but its object is gone or has another size.
    An unfinished artifact (no record) is not damaged: it is simply missing.
    """
    record = read_record(store, name)
    if record is None:
        return False
    size = store.size(name)
    if size != record.size:
        found = "is missing" if size is None else f"has {size} bytes"
        _report_damage(store, name, f"{store.describe(name)} {found}, its checksum record says {record.size}", checks)
    return size != record.size


def artifact_size(store: ObjectStore, name: str) -> int | None:
    """Bytes of a finished artifact as its record states, or None when it has no record."""
    record = read_record(store, name)
    return None if record is None else record.size


def load_artifact(store: ObjectStore, name: str, checks: ArtifactChecks | None = None) -> Any:
    """Load a verified artifact.

    Raises:
        CorruptArtifactError: the artifact is missing or damaged.
    """
    try:
        path = verified_copy(store, name, checks)
    except CorruptArtifactError:
        # Its record goes, so the next run recomputes it instead of failing on it again.
        store.delete(name + RECORD_SUFFIX)
        raise
    # Large outputs (the records) are mapped read-only instead of copied: loading costs no time and the
    # page cache holds their bytes once, instead of once there and once more in this process.
    return joblib.load(path, mmap_mode="r" if path.stat().st_size >= MMAP_MIN_BYTES else None)


def delete_artifact(store: ObjectStore, name: str) -> None:
    """Remove the record first, so an interrupted delete leaves an unfinished artifact, not a wrong one."""
    store.delete(name + RECORD_SUFFIX)
    store.delete(name)
