from __future__ import annotations

import pytest

from carolbatch.storage.stores import CarolStore, LocalStore, read_bytes, write_bytes


def test_local_store_round_trip_and_listing(tmp_path):
    store = LocalStore(tmp_path / "root")
    assert store.list_names("") == [] and read_bytes(store, "a/b.txt") is None
    write_bytes(store, "a/b.txt", b"one")
    write_bytes(store, "a/c.txt", b"two")
    write_bytes(store, "z.txt", b"three")
    assert read_bytes(store, "a/b.txt") == b"one"
    assert store.list_names("a/") == ["a/b.txt", "a/c.txt"]
    assert store.exists("z.txt") and store.describe("z.txt") == str(tmp_path / "root" / "z.txt")
    store.delete("z.txt")
    store.delete("z.txt")
    assert not store.exists("z.txt")


def test_overwrite_replaces_whole_content(tmp_path):
    store = LocalStore(tmp_path)
    write_bytes(store, "x", b"a" * 1000)
    write_bytes(store, "x", b"b")
    assert read_bytes(store, "x") == b"b"


def test_failed_write_keeps_the_old_object_and_leaves_no_temporary_file(tmp_path):
    store = LocalStore(tmp_path / "root")
    write_bytes(store, "model", b"old")
    with pytest.raises(FileNotFoundError):
        store.write_file("model", tmp_path / "missing-source")
    assert read_bytes(store, "model") == b"old"
    assert sorted(path.name for path in (tmp_path / "root").iterdir()) == ["model"]


def test_listing_hides_unfinished_temporary_files(tmp_path):
    store = LocalStore(tmp_path)
    (tmp_path / ".model.abc.part").write_bytes(b"half")
    write_bytes(store, "model", b"whole")
    assert store.list_names("") == ["model"]


def test_published_files_are_readable_by_others_as_umask_allows(tmp_path):
    store = LocalStore(tmp_path)
    write_bytes(store, "model", b"x")
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o666 & ~_current_umask()


def test_a_given_file_mode_is_used_instead_of_the_umask(tmp_path):
    write_bytes(LocalStore(tmp_path, file_mode=0o640), "model", b"x")
    assert (tmp_path / "model").stat().st_mode & 0o777 == 0o640


def test_only_a_local_folder_hands_out_the_object_s_own_path(tmp_path):
    store = LocalStore(tmp_path)
    write_bytes(store, "a/model", b"x")
    assert store.local_path("a/model") == tmp_path / "a" / "model"
    assert CarolStore(storage=None, app_name="app").local_path("a/model") is None


def _current_umask() -> int:
    import os

    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_local_change_marker_moves_with_every_replacement_and_is_none_when_missing(tmp_path):
    store = LocalStore(tmp_path)
    assert store.change_marker("app/current") is None
    write_bytes(store, "app/current", b"v1")
    first = store.change_marker("app/current")
    assert first == store.change_marker("app/current")
    write_bytes(store, "app/current", b"v1")  # same bytes, same size, possibly the same mtime: still new
    assert store.change_marker("app/current") not in (None, first)


class FullDisk:
    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, data):
        raise OSError(28, "No space left on device")


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(os, "fdopen", lambda descriptor, mode: FullDisk(open(descriptor, mode)))
    with pytest.raises(OSError, match="No space left"):
        write_bytes(LocalStore(tmp_path / "store"), "x", b"data")
    assert list((tmp_path / "tmp").iterdir()) == []
