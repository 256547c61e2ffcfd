"""Resumable uploads appended on disk, as Cloud Storage takes them, instead of gcp-storage-emulator's rewrites.

google-cloud-storage uploads a file over 8 MiB in resumable chunks (100 MiB by default). For every chunk the
emulator reads the whole partial object, appends the chunk, writes it all back and reads it once more to count
its bytes: quadratic in the object's size. A 6 GB target (5e7 records, 60 chunks) meant hundreds of GB of
copying: the upload had not finished after 15 minutes, with the machine out of memory. Cloud Storage takes it
at network speed. Here a chunk is appended to the partial file, the count is that file's size, and the
finished object is read once.
"""

from __future__ import annotations

from pathlib import Path

from gcp_storage_emulator.exceptions import BadRequest
from gcp_storage_emulator.storage import RESUMABLE_DIR, Storage

_ORIGINALS = {"add_to_resumable_upload": Storage.add_to_resumable_upload,
              "get_resumable_byte_count": Storage.get_resumable_byte_count}


def _partial_file(storage: Storage, upload_id: str) -> Path | None:
    """The partial object's file, or None when the emulator keeps objects in memory (the sandbox never does)."""
    store = storage._store
    if store._use_memory:
        return None
    return store._disk_path(storage._object_path(RESUMABLE_DIR, storage.safe_id(upload_id)))


def _received(path: Path) -> int:
    return path.stat().st_size if path.is_file() else 0


def _byte_count(storage: Storage, upload_id: str) -> int:
    path = _partial_file(storage, upload_id)
    if path is None:
        return _ORIGINALS["get_resumable_byte_count"](storage, upload_id)
    return _received(path)


def _append(storage: Storage, upload_id: str, content: bytes | None, total_size: int | None = None,
            expected_start: int | None = None) -> bytes | None:
    """Append `content`; the whole object once `total_size` bytes have arrived, else None (the emulator's
    contract)."""
    path = _partial_file(storage, upload_id)
    if path is None:
        return _ORIGINALS["add_to_resumable_upload"](storage, upload_id, content, total_size, expected_start)
    received = _received(path)
    if expected_start is not None and expected_start != received:
        raise BadRequest(f"Invalid Content-Range start: expected {received}, got {expected_start}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as handle:
        handle.write(content or b"")
    if total_size is None or received + len(content or b"") < total_size:
        return None
    with open(path, "rb") as handle:
        return handle.read(total_size)


def append_resumable_chunks() -> None:
    """Replace the emulator's resumable-upload bookkeeping (once per process)."""
    Storage.add_to_resumable_upload = _append
    Storage.get_resumable_byte_count = _byte_count
