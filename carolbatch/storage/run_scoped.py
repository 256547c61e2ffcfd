"""A store seen by one run that alone changes it: what it read once it need not ask again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from carolbatch.storage.stores import ObjectStore


class RunScopedStore:
    """Remembers, for the length of a run, the bytes and sizes of the objects of `store` whose names end
    with one of `suffixes`, once they exist.

    Meant for the pipeline targets in Carol storage and their checksum records: their names are
    content-addressed, so an object once there keeps its bytes until this process replaces or deletes it
    (which forgets it). Luigi asks every task's completeness several times a run; without this each ask
    is a round trip to Carol per record and per target. An object not there yet is asked for again: a
    run sharing a central scheduler may write it meanwhile. Not for objects other processes replace (the
    run log, the registry).
    """

    def __init__(self, store: ObjectStore, suffixes: tuple[str, ...]) -> None:
        self.store = store
        self.suffixes = suffixes
        self._reads: dict[str, bytes] = {}
        self._sizes: dict[str, int] = {}

    def read(self, name: str) -> bytes | None:
        if name in self._reads:
            return self._reads[name]
        data = self.store.read(name)
        if data is not None and name.endswith(self.suffixes):
            self._reads[name] = data
        return data

    def size(self, name: str) -> int | None:
        if name in self._sizes:
            return self._sizes[name]
        size = self.store.size(name)
        if size is not None and name.endswith(self.suffixes):
            self._sizes[name] = size
        return size

    def exists(self, name: str) -> bool:
        return self.size(name) is not None

    def write_file(self, name: str, local_path: Path) -> None:
        self._forget(name)
        try:
            self.store.write_file(name, local_path)
        finally:
            self._forget(name)

    def delete(self, name: str) -> None:
        self._forget(name)
        try:
            self.store.delete(name)
        finally:
            self._forget(name)

    def local_copy(self, name: str) -> Path | None:
        return self.store.local_copy(name)

    def local_path(self, name: str) -> Path | None:
        return self.store.local_path(name)

    def list_names(self, prefix: str) -> list[str]:
        return self.store.list_names(prefix)

    def change_marker(self, name: str) -> str | None:
        return self.store.change_marker(name)

    def describe(self, name: str) -> str:
        return self.store.describe(name)

    def __getattr__(self, attribute: str) -> Any:
        # What only the wrapped store offers (a Carol store's `blob` for lock objects).
        return getattr(self.store, attribute)

    def _forget(self, name: str) -> None:
        self._reads.pop(name, None)
        self._sizes.pop(name, None)
