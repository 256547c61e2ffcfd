"""RunScopedStore: asks the store once per run for what cannot change under it, and forgets what it changes."""

from __future__ import annotations

from collections import Counter

from carolbatch.storage.run_scoped import RunScopedStore
from carolbatch.storage.stores import LocalStore, read_bytes, write_bytes


class CountingStore(LocalStore):
    """A local folder that counts the reads and size lookups it answers."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.asked: Counter[str] = Counter()

    def read(self, name):
        self.asked[f"read {name}"] += 1
        return super().read(name)

    def size(self, name):
        self.asked[f"size {name}"] += 1
        return super().size(name)


def test_records_and_targets_are_asked_for_once_and_other_objects_every_time(tmp_path):
    store = CountingStore(tmp_path)
    for name in ("a.pkl", "a.pkl.sha256", "runs.jsonl"):
        write_bytes(store, name, b"12345")
    scoped = RunScopedStore(store, (".sha256", ".pkl"))
    for _ in range(3):
        assert read_bytes(scoped, "a.pkl.sha256") == b"12345" and scoped.size("a.pkl") == 5
        assert scoped.exists("a.pkl") and read_bytes(scoped, "runs.jsonl") == b"12345"
    assert store.asked == Counter({"read a.pkl.sha256": 1, "size a.pkl": 1, "read runs.jsonl": 3})


def test_an_object_not_there_yet_is_asked_for_again(tmp_path):
    store = CountingStore(tmp_path)
    scoped = RunScopedStore(store, (".sha256",))
    assert read_bytes(scoped, "b.pkl.sha256") is None
    write_bytes(store, "b.pkl.sha256", b"written by another run")  # e.g. a run sharing a central scheduler
    assert read_bytes(scoped, "b.pkl.sha256") == b"written by another run"


def test_what_this_run_writes_or_deletes_is_forgotten(tmp_path):
    store = CountingStore(tmp_path)
    scoped = RunScopedStore(store, (".sha256",))
    write_bytes(scoped, "c.pkl.sha256", b"first")
    assert read_bytes(scoped, "c.pkl.sha256") == b"first"
    write_bytes(scoped, "c.pkl.sha256", b"second")
    assert read_bytes(scoped, "c.pkl.sha256") == b"second" and scoped.size("c.pkl.sha256") == 6
    scoped.delete("c.pkl.sha256")
    assert read_bytes(scoped, "c.pkl.sha256") is None and not scoped.exists("c.pkl.sha256")


def test_everything_else_is_the_wrapped_store(tmp_path):
    store = CountingStore(tmp_path)
    scoped = RunScopedStore(store, (".sha256",))
    write_bytes(scoped, "d/e.pkl", b"x")
    assert scoped.list_names("d/") == ["d/e.pkl"] and scoped.local_path("d/e.pkl") == tmp_path / "d/e.pkl"
    assert scoped.describe("d/e.pkl") == str(tmp_path / "d/e.pkl") and scoped.root == tmp_path
    assert scoped.change_marker("d/e.pkl") == store.change_marker("d/e.pkl")
