"""LocalStore: atomic writes, key checks, listing details."""

from __future__ import annotations

import os
import pickle
import stat
import threading
from pathlib import Path

import pytest

import cuzarr.stores.local as local
from cuzarr.errors import StoreError
from cuzarr.stores import ByteRange, LocalStore


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("zarr.json", b"{}")
    store.set_many([(f"c/{i}/0", bytes(1000)) for i in range(20)])
    store.set("zarr.json", b'{"a": 1}')
    assert all_files(tmp_path) == sorted(["zarr.json"] + [f"c/{i}/0" for i in range(20)])


class NoBuffer:
    """A value whose buffer export fails."""


def test_value_without_buffer_fails_before_touching_disk(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("a/k", b"old")
    with pytest.raises(TypeError):
        store.set("a/k", NoBuffer())
    assert store.get("a/k") == b"old"
    assert all_files(tmp_path) == ["a/k"]


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_write_keeps_old_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    store = LocalStore(tmp_path)
    store.set("a/k", b"old value")

    def write_half_then_fail(fd: int, data: memoryview) -> None:
        os.write(fd, data[: len(data) // 2])
        raise error

    monkeypatch.setattr(local, "_write_all", write_half_then_fail)
    with pytest.raises(StoreError if isinstance(error, OSError) else KeyboardInterrupt):
        store.set("a/k", b"a new value that is torn")
    assert store.get("a/k") == b"old value"
    assert all_files(tmp_path) == ["a/k"]


def test_files_get_umask_permissions_not_private_temp_ones(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        LocalStore(tmp_path).set("k", b"v")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o644


def test_concurrent_writes_of_one_key(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    values = [bytes([i]) * 100_000 for i in range(8)]
    threads = [threading.Thread(target=store.set, args=("a/k", v)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("a/k") in values  # one whole value, never a mix
    assert all_files(tmp_path) == ["a/k"]


def test_parent_folders_are_created_and_root_only_on_write(tmp_path: Path) -> None:
    root = tmp_path / "not" / "yet"
    store = LocalStore(root)
    assert store.get("k") is None
    assert list(store.list()) == []
    store.delete("k")
    store.delete_prefix("")
    assert not root.exists()
    store.set("a/b/c/d", b"x")
    assert (root / "a" / "b" / "c" / "d").read_bytes() == b"x"


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a/.", "", "a/"]
)
def test_keys_escaping_the_root_are_rejected(tmp_path: Path, key: str) -> None:
    store = LocalStore(tmp_path / "s")
    for call in (store.get, store.exists, store.delete, lambda k: store.set(k, b"x")):
        with pytest.raises(StoreError, match="key"):
            call(key)
    assert not (tmp_path / "x").exists()


def test_dotted_names_are_fine(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for key in (".zarray", "a/.zattrs", "0.0.1", "a..b/..c"):
        store.set(key, key.encode())
        assert store.get(key) == key.encode()


def test_listing_skips_temporary_files_and_empty_folders(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("a/k", b"1")
    store.set("b/k", b"2")
    (tmp_path / "a" / f".k.abc123{local.TMP_SUFFIX}").write_bytes(b"torn")
    store.delete("b/k")  # leaves the empty folder b/
    assert (tmp_path / "b").is_dir()
    assert sorted(store.list()) == ["a/k"]
    assert store.list_dir("") == ([], ["a"])
    assert store.list_dir("a/") == (["k"], [])


def test_delete_prefix_removes_the_folder_and_keeps_the_root(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "s")
    store.set("a/b/c", b"1")
    store.set("ab", b"2")
    store.delete_prefix("a/")
    assert not (tmp_path / "s" / "a").exists()
    assert list(store.list()) == ["ab"]
    store.delete_prefix("")
    assert (tmp_path / "s").is_dir()
    assert list((tmp_path / "s").iterdir()) == []


def test_key_under_a_file_reads_none(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("a/b", b"file")
    assert store.get("a/b/c") is None
    assert not store.exists("a/b/c")
    store.delete("a/b/c")
    with pytest.raises(StoreError):
        store.set("a/b/c", b"x")


def test_writing_over_a_folder_fails_cleanly(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.set("a/b", b"x")
    with pytest.raises(StoreError, match="'a'"):
        store.set("a", b"y")
    assert all_files(tmp_path) == ["a/b"]


def test_large_value_and_ranges(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    value = os.urandom(3 << 20)
    store.set("big", value)
    assert store.get("big") == value
    assert store.get("big", ByteRange(1 << 20, 2 << 20)) == value[1 << 20 : 2 << 20]
    assert store.get("big", ByteRange.suffix(12)) == value[-12:]


def test_read_at_handles_short_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Values over the single-read limit are read in pieces into one buffer.
    monkeypatch.setattr(local, "_MAX_PREAD", 7)
    store = LocalStore(tmp_path)
    store.set("k", bytes(range(50)))
    assert bytes(store.get("k")) == bytes(range(50))
    assert bytes(store.get("k", ByteRange(3, 40))) == bytes(range(3, 40))


def test_fsync_option(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, fsync=True)
    store.set("k", b"durable")
    assert store.get("k") == b"durable"


def test_repr_pickle_and_path_types(tmp_path: Path) -> None:
    store = LocalStore(str(tmp_path), read_only=True)
    assert repr(store) == f"LocalStore({str(tmp_path)!r}, read_only=True)"
    assert str(store) == str(tmp_path)
    again = pickle.loads(pickle.dumps(store))
    assert again.root == tmp_path and again.read_only


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LocalStore("rel")
    store.set("k", b"v")
    monkeypatch.chdir("/")
    assert store.get("k") == b"v"
    assert store.root == tmp_path / "rel"


@pytest.mark.parametrize("mode", ["r", "a", "w"])
def test_a_plain_file_is_no_store(tmp_path, mode):
    import cuzarr
    from cuzarr.errors import NotAZarrHierarchyError

    (tmp_path / "notes.txt").write_text("not zarr")
    with pytest.raises(NotAZarrHierarchyError, match="is a file, not a Zarr or N5 store"):
        cuzarr.open(str(tmp_path / "notes.txt"), mode=mode)
    assert (tmp_path / "notes.txt").read_text() == "not zarr"
