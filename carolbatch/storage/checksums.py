"""Checksums of pipeline outputs, computed while they are written so a large one is never read back, and
their records: `<name>.sha256` beside each output, holding its size and SHA-256 (and an optional summary)."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from carolbatch.storage.stores import ObjectStore, read_bytes, write_bytes

RECORD_SUFFIX = ".sha256"


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


class _HashingWriter:
    """A binary file that hashes what is written to it, so a large artifact is never read back to digest it.

    Hashing runs in a helper thread (hashlib releases the GIL) while the next piece is written, so it
    costs little on top of the write; at most one piece waits to be hashed.
    """

    def __init__(self, handle, hasher: ThreadPoolExecutor) -> None:
        self.handle = handle
        self.hasher = hasher
        self.digest = hashlib.sha256()
        self.size = 0
        self.pending: Future | None = None

    def write(self, data) -> int:
        # Only immutable bytes may be hashed while the caller goes on; joblib hands over fresh bytes.
        piece = data if isinstance(data, bytes) else bytes(data)
        if self.pending is not None:
            self.pending.result()
        self.pending = self.hasher.submit(self.digest.update, piece)
        self.size += len(piece)
        return self.handle.write(piece)

    def tell(self) -> int:
        return self.handle.tell()

    def flush(self) -> None:
        self.handle.flush()

    def record(self) -> ArtifactRecord:
        if self.pending is not None:
            self.pending.result()
        return ArtifactRecord(size=self.size, sha256=self.digest.hexdigest())


def dump_with_digest(value: Any, handle) -> ArtifactRecord:
    """joblib-dump `value` into an open binary file, synced, and return the size and SHA-256 written."""
    # joblib writes NumPy arrays as raw bytes (no pickled Python objects), in 16 MiB pieces.
    with ThreadPoolExecutor(max_workers=1) as hasher:
        writer = _HashingWriter(handle, hasher)
        joblib.dump(value, writer)
        record = writer.record()
    handle.flush()
    os.fsync(handle.fileno())
    return record


def write_record(store: ObjectStore, name: str, record: ArtifactRecord, summary: dict | None = None) -> None:
    fields = {**record.__dict__, **({"summary": summary} if summary is not None else {})}
    write_bytes(store, name + RECORD_SUFFIX, json.dumps(fields).encode())


def read_record(store: ObjectStore, name: str) -> ArtifactRecord | None:
    """The checksum record of `name`, or None when there is none or it is unreadable."""
    fields = _record_fields(store, name)
    try:
        return ArtifactRecord(size=int(fields["size"]), sha256=str(fields["sha256"]))
    except (KeyError, TypeError, ValueError):
        return None


def read_summary(store: ObjectStore, name: str) -> dict | None:
    """The summary `save_artifact` kept in the record of `name`, or None (no record, or none kept)."""
    summary = _record_fields(store, name).get("summary")
    return summary if isinstance(summary, dict) and read_record(store, name) else None


def _record_fields(store: ObjectStore, name: str) -> dict:
    try:
        fields = json.loads(read_bytes(store, name + RECORD_SUFFIX) or b"{}")
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}
