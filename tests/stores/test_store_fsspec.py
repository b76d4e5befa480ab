"""FsspecStore: batching through cat_ranges / pipe, edge ranges, fsspec staying optional."""

from __future__ import annotations

import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem

import cuzarr
from cuzarr.errors import InvalidKeyError, StoreError, UnsupportedError
from cuzarr.stores import ByteRange, FsspecStore


class BatchingMemoryFS(MemoryFileSystem):
    """A memory file system with its own batch calls, counting them."""

    protocol = "batchmem"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[int] = []
        self.pipes: list[int] = []

    def cat_ranges(self, paths, starts, ends, max_gap=None, on_error="return", **kwargs):
        self.batches.append(len(paths))
        return super().cat_ranges(paths, starts, ends, on_error=on_error, **kwargs)

    def pipe(self, path, value=None, **kwargs):
        self.pipes.append(len(path) if isinstance(path, dict) else 1)
        return super().pipe(path, value, **kwargs)


class RangeRefusingFS(MemoryFileSystem):
    """Refuses ranges starting past the end, as HTTP servers and S3 do (416)."""

    protocol = "refusemem"

    def cat_file(self, path, start=None, end=None, **kwargs):
        size = self.size(path)
        if start is not None and start >= size:
            raise OSError("416 Range Not Satisfiable")
        return super().cat_file(path, start, end, **kwargs)


def memory_root() -> str:
    return f"/cuzarr-test-{uuid.uuid4().hex}"


def test_get_ranges_is_one_cat_ranges_call() -> None:
    fs = BatchingMemoryFS(skip_instance_cache=True)
    store = FsspecStore(fs, path=memory_root())
    store.set_many([("a", b"0123456789"), ("b/c", b"abcdef"), ("b/d", b"xyz")])
    assert fs.pipes == [3]
    got = store.get_ranges(
        [("a", ByteRange(1, 3)), ("missing", None), ("b/c", ByteRange.suffix(2)), ("b/d", None)]
    )
    assert got == [b"12", None, b"ef", b"xyz"]
    assert fs.batches == [4]


def test_ranges_fsspec_cannot_express_go_through_the_size() -> None:
    fs = BatchingMemoryFS(skip_instance_cache=True)
    store = FsspecStore(fs, path=memory_root())
    store.set("k", b"0123456789")
    got = store.get_ranges(
        [("k", ByteRange(2, -2)), ("k", ByteRange(-4, -1)), ("gone", ByteRange(1, -1))]
    )
    assert got == [b"234567", b"678", None]
    assert fs.batches == [2]  # both ranges resolved against the size, then read in one batch


def test_refused_range_past_the_end_reads_empty() -> None:
    store = FsspecStore(RangeRefusingFS(skip_instance_cache=True), path=memory_root())
    store.set("k", b"0123")
    assert store.get("k", ByteRange(10)) == b""
    assert store.get("k", ByteRange(1)) == b"123"
    assert store.get("missing", ByteRange(10)) is None


def test_other_errors_become_store_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    fs = MemoryFileSystem(skip_instance_cache=True)
    store = FsspecStore(fs, path=memory_root())
    store.set("k", b"v")

    def broken(*args: object, **kwargs: object) -> bytes:
        raise ConnectionError("network down")

    monkeypatch.setattr(fs, "cat_file", broken)
    with pytest.raises(StoreError, match="'k'.*network down"), cuzarr.config.set(store_retries=0):
        store.get("k")


def test_url_path_and_file_system_object() -> None:
    root = memory_root()
    store = FsspecStore(f"memory://{root}", path="sub/dir")
    store.set("k", b"v")
    assert store.fs.cat_file(f"{root}/sub/dir/k") == b"v"
    same = FsspecStore(store.fs, path=f"memory://{root}/sub/dir")
    assert same.get("k") == b"v"
    assert str(same) == f"memory://{root}/sub/dir"
    assert same.supports_partial_reads
    with pytest.raises(StoreError):
        FsspecStore(store.fs, storage_options={"a": 1})
    with pytest.raises(StoreError):
        FsspecStore(42)


def test_local_file_system_creates_parents(tmp_path: Path) -> None:
    store = FsspecStore(f"file://{tmp_path}/s")
    store.set("a/b/c", b"x")
    store.set_many([("d/e", b"1"), ("f/g/h", b"2")])
    assert (tmp_path / "s" / "a" / "b" / "c").read_bytes() == b"x"
    assert (tmp_path / "s" / "f" / "g" / "h").read_bytes() == b"2"


def test_chained_zip_url(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("zarr.json", b"{}")
        zf.writestr("c/0", b"0123456789")
    store = FsspecStore(f"zip::file://{tmp_path}/z.zip", read_only=True)
    assert sorted(store.list()) == ["c/0", "zarr.json"]
    assert store.get_ranges([("c/0", ByteRange(-3)), ("c/1", None)]) == [b"789", None]
    assert store.list_dir("") == (["zarr.json"], ["c"])


def test_missing_fsspec_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)  # makes `import fsspec` fail
    with pytest.raises(UnsupportedError, match=r"cuzarr\[remote\]"):
        FsspecStore("memory://x")


def test_importing_cuzarr_does_not_import_fsspec() -> None:
    code = "import sys, cuzarr.stores; from cuzarr.stores import make_store; make_store('/tmp/x'); " \
        "assert 'fsspec' not in sys.modules, 'fsspec imported'"  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_protocol_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="nosuchproto"):
        FsspecStore("nosuchproto://bucket/x")


def test_fs_instances_are_shared_by_fsspec() -> None:
    root = memory_root()
    FsspecStore(f"memory://{root}").set("k", b"v")
    assert fsspec.filesystem("memory").cat_file(f"{root}/k") == b"v"


# -- keys confined to the store ------------------------------------------------------------

HOSTILE_KEYS = ["../victim", "a/../../victim", "/abs", "a\\b", "a\0b", "a//b", "./a", ".."]


def _confined_store(where: str, tmp_path: Path) -> tuple[FsspecStore, Callable[[], bytes]]:
    """A store beside a victim object, and a reader of the victim."""
    if where == "file":
        (tmp_path / "victim").write_bytes(b"keep")
        store = FsspecStore(f"file://{tmp_path}/store", storage_options={"auto_mkdir": True})
        return store, (tmp_path / "victim").read_bytes
    parent = memory_root()
    fs = MemoryFileSystem(skip_instance_cache=True)
    fs.pipe_file(f"{parent}/victim", b"keep")
    return FsspecStore(fs, path=f"{parent}/store"), lambda: fs.cat_file(f"{parent}/victim")


@pytest.mark.parametrize("where", ["file", "memory"])
@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_keys_that_leave_the_root_are_refused(where: str, key: str, tmp_path: Path) -> None:
    store, victim = _confined_store(where, tmp_path)
    store.set("a/zarr.json", b"{}")
    before = sorted(store.fs.find(store.root.rpartition("/")[0]))
    prefix = key if key.endswith("/") else f"{key}/"
    for call in (
        lambda: store.get(key),
        lambda: store.get_ranges([("a/zarr.json", None), (key, ByteRange(0, 2))]),
        lambda: store.exists(key),
        lambda: store.set(key, b"evil"),
        lambda: store.set_many([("ok", b"1"), (key, b"evil")]),
        lambda: store.delete(key),
        lambda: store.delete_many(["a/zarr.json", key]),
        lambda: store.delete_prefix(prefix),
        lambda: list(store.list_prefix(prefix)),
        lambda: store.list_dir(prefix),
    ):
        with pytest.raises(InvalidKeyError):
            call()
    assert victim() == b"keep"
    assert sorted(store.fs.find(store.root.rpartition("/")[0])) == before  # nothing written
    assert store.get("a/zarr.json") == b"{}"  # a batch with a bad key does nothing at all
