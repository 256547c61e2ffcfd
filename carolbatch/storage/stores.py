"""Named byte objects kept in a local folder or in a Carol app's storage, written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Protocol


class ObjectStore(Protocol):
    """The few operations targets and the model registry need from a storage."""

    def write_file(self, name: str, local_path: Path) -> None:
        """Publish a finished local file under `name`; readers never see a partial object."""

    def local_copy(self, name: str) -> Path | None:
        """A local path holding the object's bytes, or None when it does not exist."""

    def read(self, name: str) -> bytes | None:
        """A small object's bytes in one request, or None when it does not exist."""

    def local_path(self, name: str) -> Path | None:
        """The object's own file when the store is a local folder (it can be written in place and its
        stat describes the object); None for a store that only hands out copies."""

    def exists(self, name: str) -> bool: ...

    def delete(self, name: str) -> None: ...

    def list_names(self, prefix: str) -> list[str]: ...

    def change_marker(self, name: str) -> str | None:
        """A short text that changes whenever the object is replaced (None when it does not exist),
        read from the object's metadata without downloading it."""

    def size(self, name: str) -> int | None:
        """The object's size in bytes (None when it does not exist), from its metadata, without a download."""

    def describe(self, name: str) -> str:
        """Where `name` lives, for messages."""


def write_bytes(store: ObjectStore, name: str, data: bytes) -> None:
    """Write `data` under `name` through a temporary local file."""
    descriptor, temporary = tempfile.mkstemp(suffix=".part")
    try:
        # Inside the try: a failed write (a full disk) must not leave the temporary file behind either.
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        store.write_file(name, Path(temporary))
    finally:
        Path(temporary).unlink(missing_ok=True)


def read_bytes(store: ObjectStore, name: str) -> bytes | None:
    """The bytes stored under `name`, or None when it does not exist."""
    return store.read(name)


def published_mode() -> int:
    """The mode a plainly created file gets under the process umask (mkstemp's files are owner-only)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class LocalStore:
    """Objects as files below a root folder; each write is a rename of a complete, synced file."""

    def __init__(self, root: Path, file_mode: int | None = None) -> None:
        """`file_mode` of published files: by default what the umask allows (`published_mode`)."""
        self.root = Path(root)
        self.file_mode = published_mode() if file_mode is None else file_mode

    def path(self, name: str) -> Path:
        return self.root / name

    def local_path(self, name: str) -> Path | None:
        return self.path(name)

    def write_file(self, name: str, local_path: Path) -> None:
        final = self.path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
        try:
            # mkstemp makes owner-only files; a registry is read by other users (the online app).
            os.fchmod(descriptor, self.file_mode)
            with os.fdopen(descriptor, "wb") as target, open(local_path, "rb") as source:
                while chunk := source.read(1 << 22):
                    target.write(chunk)
                target.flush()
                os.fsync(target.fileno())
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def local_copy(self, name: str) -> Path | None:
        path = self.path(name)
        return path if path.is_file() else None

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def list_names(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        names = (path.relative_to(self.root).as_posix() for path in self.root.rglob("*") if path.is_file())
        return sorted(name for name in names if name.startswith(prefix) and not name.endswith(".part"))

    def change_marker(self, name: str) -> str | None:
        try:
            status = self.path(name).stat()
        except FileNotFoundError:
            return None
        # A rename into place gives a new inode even when size and mtime happen to match.
        return f"{status.st_ino}:{status.st_mtime_ns}:{status.st_size}"

    def size(self, name: str) -> int | None:
        path = self.path(name)
        return path.stat().st_size if path.is_file() else None

    def describe(self, name: str) -> str:
        return str(self.path(name))


class StorageError(RuntimeError):
    """A Carol storage could not be opened or written; the message names it and says why, in one line."""


class CarolStore:
    """Objects in a Carol app's storage through `pycarol.Storage`; an upload appears whole or not at all."""

    def __init__(self, storage: Any, app_name: str) -> None:
        self.storage = storage
        self.app_name = app_name

    def write_file(self, name: str, local_path: Path) -> None:
        try:
            self.storage.save(name, str(local_path), format="file", cache=False)
        except Exception as error:  # google-cloud-storage and pycarol raise many kinds
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise StorageError(f"{self.describe(name)} could not be written: {reason[:300]}") from error

    def blob(self, name: str):
        """The google-cloud-storage blob behind `name`, for what pycarol's Storage does not offer: preconditions,
        metadata, and a small read in one request (its `load` asks twice for metadata before downloading)."""
        backend = self.storage.backend
        return backend._get_app_storage_bucket().blob(f"{backend.carolina.get_path('app', {})}{name}")

    def read(self, name: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.blob(name).download_as_bytes()
        except NotFound:
            return None

    def local_copy(self, name: str) -> Path | None:
        path = self.storage.load(name, format="file", cache=False)
        return None if path is None else Path(path)

    def local_path(self, name: str) -> Path | None:
        """None: a download is a copy, and its path is reused for other objects."""
        return None

    def exists(self, name: str) -> bool:
        return bool(self.storage.exists(name))

    def delete(self, name: str) -> None:
        self.storage.delete(name)

    def list_names(self, prefix: str) -> list[str]:
        return sorted(self.storage.files_storage_list(prefix=prefix))

    def metadata(self, name: str):
        """The object's blob with its metadata loaded (a GET without media), or None when it does not exist."""
        blob = self.blob(name)
        return blob.bucket.get_blob(blob.name)

    def change_marker(self, name: str) -> str | None:
        blob = self.metadata(name)
        # Every upload of an object gets a new generation.
        return None if blob is None else f"{blob.generation}:{blob.size}"

    def size(self, name: str) -> int | None:
        return None if (blob := self.metadata(name)) is None else int(blob.size)

    def describe(self, name: str) -> str:
        return f"Carol storage of app {self.app_name}: {name}"
