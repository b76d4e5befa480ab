"""The same behaviour checks over every store: the protocol in cuzarr/stores/base.py."""

from __future__ import annotations

import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuzarr.errors import InvalidKeyError, ReadOnlyError, UnsupportedError
from cuzarr.stores import (
    ByteRange,
    FsspecStore,
    LocalStore,
    MappingStore,
    MemoryStore,
    Store,
    ZipStore,
    make_store,
)


@dataclass
class Kind:
    """How to make one kind of store, and reopen its content read-only."""

    name: str
    make: Any  # (tmp_path) -> writable store
    reopen: Any  # (store, tmp_path) -> read-only store over the same content
    can_delete: bool = True


def _memory_url() -> str:
    return f"memory://cuzarr-test-{uuid.uuid4().hex}"


def _reopen_zip(store: ZipStore, tmp_path: Path) -> ZipStore:
    store.close()
    return ZipStore(store.path, mode="r")


KINDS = [
    Kind(
        "local",
        lambda tmp: LocalStore(tmp / "store"),
        lambda s, tmp: LocalStore(tmp / "store", read_only=True),
    ),
    Kind("memory", lambda tmp: MemoryStore(), lambda s, tmp: MemoryStore(s._data, read_only=True)),
    Kind(
        "mapping",
        lambda tmp: MappingStore({}),
        lambda s, tmp: MappingStore(s.mapping, read_only=True),
    ),
    Kind(
        "fsspec-memory",
        lambda tmp: FsspecStore(_memory_url()),
        lambda s, tmp: FsspecStore(s.fs, path=s.root, read_only=True),
    ),
    Kind(
        "fsspec-file",
        lambda tmp: FsspecStore(f"file://{tmp}/store"),
        lambda s, tmp: FsspecStore(f"file://{tmp}/store", read_only=True),
    ),
    Kind("zip", lambda tmp: ZipStore(tmp / "store.zip", mode="w"), _reopen_zip, can_delete=False),
]


@pytest.fixture(params=KINDS, ids=[k.name for k in KINDS])
def kind(request: pytest.FixtureRequest) -> Kind:
    return request.param


@pytest.fixture
def store(kind: Kind, tmp_path: Path):
    s = kind.make(tmp_path)
    yield s
    s.close()


VALUE = bytes(range(100))
TREE = ["zarr.json", "a/zarr.json", "a/c/0/0", "a/c/0/1", "ab/x", "b/c/d/e"]


def fill(store: Store, keys: list[str] = TREE) -> None:
    for key in keys:
        store.set(key, key.encode())


# -- get / set / exists / delete -------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [b"abc", bytearray(b"abc"), memoryview(b"xabcx")[1:4], np.array([1, 2], dtype="<i4")],
    ids=["bytes", "bytearray", "memoryview", "numpy"],
)
def test_set_get_roundtrip(store: Store, value: Any) -> None:
    store.set("k", value)
    assert bytes(store.get("k")) == memoryview(value).tobytes()
    assert store.exists("k")


def test_multi_dimensional_buffer_is_stored_flat(store: Store) -> None:
    value = np.arange(12, dtype="<u2").reshape(3, 4)
    store.set("a/b", value)
    assert bytes(store.get("a/b")) == value.tobytes()
    store.set("t", value.T)  # not contiguous: stored in C order of the view
    assert bytes(store.get("t")) == value.T.tobytes()


def test_empty_value(store: Store) -> None:
    store.set("empty", b"")
    assert bytes(store.get("empty")) == b""
    assert store.exists("empty")
    assert bytes(store.get("empty", ByteRange(-4))) == b""
    store.set("empty2", np.empty((0, 3)))
    assert bytes(store.get("empty2")) == b""


def test_missing_reads_none(store: Store) -> None:
    assert store.get("nope") is None
    assert store.get("a/b/nope", ByteRange(0, 4)) is None
    assert store.get("nope", ByteRange(-4)) is None
    assert not store.exists("nope")


def test_folder_is_not_a_key(store: Store) -> None:
    store.set("a/b/c", b"x")
    assert store.get("a") is None
    assert store.get("a/b") is None
    assert not store.exists("a/b")


def test_overwrite_reads_last(store: Store) -> None:
    store.set("k", b"first")
    store.set("k", b"second value")
    assert bytes(store.get("k")) == b"second value"
    assert list(store.list_prefix("")) == ["k"]


def test_delete(kind: Kind, store: Store) -> None:
    store.set("a/k", b"v")
    store.delete("a/missing")  # missing is fine, on every store
    if not kind.can_delete:
        with pytest.raises(UnsupportedError):
            store.delete("a/k")
        return
    store.delete("a/k")
    assert store.get("a/k") is None
    assert not store.exists("a/k")
    assert list(store.list()) == []
    store.delete("a/k")


def test_set_many_get_many_delete_many(kind: Kind, store: Store) -> None:
    items = [(f"c/{i}/{j}", bytes([i, j]) * 10) for i in range(6) for j in range(6)]
    store.set_many(items)
    keys = [k for k, _ in items] + ["c/9/9"]
    got = store.get_many(keys)
    assert [bytes(g) if g is not None else None for g in got] == [v for _, v in items] + [None]
    if kind.can_delete:
        store.delete_many(keys[:10] + ["c/9/9"])
        assert sorted(store.list()) == sorted(keys[10:-1])


def test_persists_after_reopen(kind: Kind, store: Store, tmp_path: Path) -> None:
    fill(store)
    again = kind.reopen(store, tmp_path)
    assert sorted(again.list()) == sorted(TREE)
    assert bytes(again.get("a/c/0/1", ByteRange(2, 5))) == b"c/0"
    again.close()


# -- byte ranges ----------------------------------------------------------------------

RANGES = [
    (10, 20),  # start/stop
    (0, None),
    (10, None),  # open-ended
    (-16, None),  # suffix
    (-200, None),  # suffix longer than the value
    (90, 200),  # stop past the end
    (100, None),  # start at the end
    (200, None),  # start past the end
    (150, 160),
    (50, 50),  # empty
    (20, 10),  # stop before start
    (10, -5),  # negative stop
    (-20, -5),
    (-5, 99),
]


@pytest.mark.parametrize("start,stop", RANGES, ids=[f"{a}:{b}" for a, b in RANGES])
def test_byte_range_has_slice_semantics(store: Store, start: int, stop: int | None) -> None:
    store.set("a/k", VALUE)
    got = store.get("a/k", ByteRange(start, stop))
    assert bytes(got) == VALUE[start:stop]


def test_get_ranges_order_and_missing(store: Store) -> None:
    store.set("a", VALUE)
    store.set("b/c", b"0123456789")
    requests = [
        ("a", None),
        ("missing", None),
        ("b/c", ByteRange(2, 4)),
        ("missing", ByteRange.suffix(4)),
        ("a", ByteRange.suffix(3)),
        ("b/c", ByteRange(-3, -1)),
        ("b/c", ByteRange(8)),
    ]
    got = store.get_ranges(requests)
    assert [None if g is None else bytes(g) for g in got] == [
        VALUE,
        None,
        b"23",
        None,
        VALUE[-3:],
        b"78",
        b"89",
    ]
    assert store.get_ranges([]) == []


# -- listing ----------------------------------------------------------------------------


def test_list_prefix(store: Store) -> None:
    fill(store)
    assert sorted(store.list()) == sorted(TREE)
    assert sorted(store.list_prefix("")) == sorted(TREE)
    assert sorted(store.list_prefix("a/")) == ["a/c/0/0", "a/c/0/1", "a/zarr.json"]
    assert sorted(store.list_prefix("a")) == ["a/c/0/0", "a/c/0/1", "a/zarr.json", "ab/x"]
    assert sorted(store.list_prefix("a/c/0/")) == ["a/c/0/0", "a/c/0/1"]
    assert sorted(store.list_prefix("a/c/0/1")) == ["a/c/0/1"]
    assert list(store.list_prefix("nope/")) == []
    assert list(store.list_prefix("zz")) == []


def test_list_dir(store: Store) -> None:
    fill(store)
    assert store.list_dir("") == (["zarr.json"], ["a", "ab", "b"])
    assert store.list_dir("a/") == (["zarr.json"], ["c"])
    assert store.list_dir("a/c/0/") == (["0", "1"], [])
    assert store.list_dir("b/") == ([], ["c"])
    assert store.list_dir("nope/") == ([], [])


def test_empty_store_lists_nothing(store: Store) -> None:
    assert list(store.list()) == []
    assert store.list_dir("") == ([], [])


def test_delete_prefix(kind: Kind, store: Store) -> None:
    fill(store)
    store.delete_prefix("nope/")  # nothing matches: fine everywhere
    if not kind.can_delete:
        with pytest.raises(UnsupportedError):
            store.delete_prefix("a/")
        assert sorted(store.list()) == sorted(TREE)
        return
    store.delete_prefix("a/")
    assert sorted(store.list()) == ["ab/x", "b/c/d/e", "zarr.json"]
    assert store.get("a/zarr.json") is None
    assert store.list_dir("") == (["zarr.json"], ["ab", "b"])
    store.delete_prefix("b/c/d/e")  # a prefix that is a whole key
    assert sorted(store.list()) == ["ab/x", "zarr.json"]
    store.delete_prefix("")
    assert list(store.list()) == []
    store.set("again/k", b"v")  # still usable after being emptied
    assert bytes(store.get("again/k")) == b"v"


def test_delete_prefix_without_slash_matches_names(kind: Kind, store: Store) -> None:
    if not kind.can_delete:
        pytest.skip("zip archives cannot delete")
    fill(store)
    store.delete_prefix("a")
    assert sorted(store.list()) == ["b/c/d/e", "zarr.json"]


# -- read-only ----------------------------------------------------------------------------


def test_read_only_raises_and_keeps_data(kind: Kind, store: Store, tmp_path: Path) -> None:
    fill(store)
    ro = kind.reopen(store, tmp_path)
    assert ro.read_only
    writes = [
        lambda: ro.set("zarr.json", b"changed"),
        lambda: ro.set("new", b"x"),
        lambda: ro.set_many([("new", b"x"), ("zarr.json", b"changed")]),
        lambda: ro.delete("zarr.json"),
        lambda: ro.delete_many(["zarr.json"]),
        lambda: ro.delete_prefix("a/"),
        lambda: ro.delete_prefix(""),
    ]
    for write in writes:
        with pytest.raises(ReadOnlyError):
            write()
    assert sorted(ro.list()) == sorted(TREE)
    assert bytes(ro.get("zarr.json")) == b"zarr.json"
    assert ro.get("new") is None
    ro.close()


def test_str_and_repr_name_the_location(kind: Kind, store: Store, tmp_path: Path) -> None:
    if kind.name in ("local", "zip", "fsspec-file"):
        assert str(tmp_path) in str(store)
        assert str(tmp_path) in repr(store)
    if kind.name == "fsspec-memory":
        assert str(store).startswith("memory://")


# -- make_store -----------------------------------------------------------------------------


def test_make_store_dispatch(tmp_path: Path) -> None:
    memory = MemoryStore()
    assert make_store(memory) is memory
    assert isinstance(make_store(None), MemoryStore)
    assert make_store(None, mode="r").read_only

    local = make_store(str(tmp_path / "d"))
    assert isinstance(local, LocalStore) and local.root == tmp_path / "d"
    assert isinstance(make_store(tmp_path / "d"), LocalStore)
    assert make_store(tmp_path / "d", mode="r").read_only
    for mode in ("r+", "a", "w", "w-"):
        assert not make_store(tmp_path / "d", mode=mode).read_only
    sub = make_store(tmp_path, path="x/y")
    assert isinstance(sub, LocalStore) and sub.root == tmp_path / "x" / "y"

    file_url = make_store(f"file://{tmp_path}/d")
    assert isinstance(file_url, LocalStore) and file_url.root == tmp_path / "d"

    mem = make_store(_memory_url())
    assert isinstance(mem, FsspecStore)
    assert isinstance(make_store(mem.fs), FsspecStore)

    d: dict[str, bytes] = {}
    mapped = make_store(d)
    assert isinstance(mapped, MappingStore) and mapped.mapping is d
    assert make_store({}, mode="r").read_only

    with make_store(tmp_path / "a.zip", mode="w") as zipped:
        assert isinstance(zipped, ZipStore)
        zipped.set("k", b"v")
    with make_store(str(tmp_path / "a.zip"), mode="r") as zipped:
        assert zipped.read_only and bytes(zipped.get("k")) == b"v"
    with make_store(f"file://{tmp_path}/a.zip", mode="a") as zipped:
        assert isinstance(zipped, ZipStore) and not zipped.read_only
    assert zipfile.is_zipfile(tmp_path / "a.zip")


def test_make_store_chained_url(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("zarr.json", b"{}")
    store = make_store(f"zip::file://{tmp_path}/z.zip", mode="r")
    assert isinstance(store, FsspecStore)
    assert store.get("zarr.json") == b"{}"


def test_make_store_storage_options_go_to_fsspec(tmp_path: Path) -> None:
    store = make_store(f"file://{tmp_path}/d", storage_options={"auto_mkdir": True})
    assert isinstance(store, FsspecStore) and store.fs.auto_mkdir


@pytest.mark.parametrize(
    "args",
    [
        dict(store_like=None, mode="rw"),
        dict(store_like=42),
        dict(store_like=None, path="x"),
        dict(store_like={}, storage_options={"a": 1}),
        dict(store_like="/tmp/some/folder", storage_options={"a": 1}),
        dict(store_like="unknownproto://x"),
    ],
    ids=[
        "bad-mode",
        "bad-type",
        "path-with-store",
        "options-with-mapping",
        "options-with-path",
        "bad-protocol",
    ],  # fmt: skip
)
def test_make_store_rejects(args: dict[str, Any]) -> None:
    from cuzarr.errors import ZarrError

    with pytest.raises(ZarrError):
        make_store(**args)


# -- keys confined to the store ------------------------------------------------------------

HOSTILE_KEYS = [
    "../victim.txt", "a/../../victim.txt", "..", ".", "./a", "a/./b", "a//b", "/abs", "a/",
    "a\\b", "..\\victim.txt", "a\0b", "", 5, None,
]  # fmt: skip
HOSTILE_PREFIXES = ["../", "a/../../", "../victim", "/", "//", "a//", "a\0/", "..\\"]


def _outside(tmp_path: Path) -> dict[str, bytes]:
    """Everything beside the store's own folder or archive, with its content."""
    inside = {"store", "store.zip"}
    return {
        str(p): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(tmp_path.rglob("*"))
        if p.relative_to(tmp_path).parts[0] not in inside
    }


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_every_call_refuses_keys_that_leave_the_store(
    store: Store, kind: Kind, tmp_path: Path, key: Any
) -> None:
    (tmp_path / "victim.txt").write_bytes(b"keep me")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "victim.txt").write_bytes(b"keep me too")
    store.set("a/zarr.json", b"{}")
    before = _outside(tmp_path)
    calls = [
        lambda: store.get(key),
        lambda: store.get(key, ByteRange(0, 4)),
        lambda: store.get_ranges([("a/zarr.json", None), (key, None)]),
        lambda: store.get_many([key]),
        lambda: store.exists(key),
        lambda: store.set(key, b"evil"),
        lambda: store.set_many([(key, b"evil")]),
    ]
    if kind.can_delete:
        calls += [lambda: store.delete(key), lambda: store.delete_many([key])]
    for call in calls:
        with pytest.raises(InvalidKeyError):
            call()
    assert _outside(tmp_path) == before
    assert bytes(store.get("a/zarr.json")) == b"{}"


@pytest.mark.parametrize("prefix", HOSTILE_PREFIXES, ids=repr)
def test_listing_and_deleting_refuse_prefixes_that_leave_the_store(
    store: Store, kind: Kind, tmp_path: Path, prefix: str
) -> None:
    (tmp_path / "victim.txt").write_bytes(b"keep me")
    store.set("a/zarr.json", b"{}")
    before = _outside(tmp_path)
    with pytest.raises(InvalidKeyError):
        list(store.list_prefix(prefix))
    with pytest.raises(InvalidKeyError):
        store.list_dir(prefix)
    if kind.can_delete:
        with pytest.raises(InvalidKeyError):
            store.delete_prefix(prefix)
    assert _outside(tmp_path) == before
    assert bytes(store.get("a/zarr.json")) == b"{}"
