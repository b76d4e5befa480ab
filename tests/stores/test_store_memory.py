"""MemoryStore: the dict it uses, copies on set, views on ranged reads, threads."""

from __future__ import annotations

import pickle

import numpy as np

from cuzarr.concurrency import parallel_map
from cuzarr.stores import ByteRange, MemoryStore


def test_uses_the_given_dict() -> None:
    data = {"zarr.json": b"{}"}
    store = MemoryStore(data)
    assert store.get("zarr.json") == b"{}"
    store.set("a/k", b"v")
    assert data["a/k"] == b"v"


def test_set_copies_mutable_buffers() -> None:
    store = MemoryStore()
    buf = bytearray(b"abc")
    store.set("k", buf)
    buf[0] = ord("X")
    assert store.get("k") == b"abc"
    arr = np.arange(4, dtype="<i2")
    store.set("arr", arr)
    arr[0] = 99
    assert store.get("arr") == np.arange(4, dtype="<i2").tobytes()
    assert type(store.get("arr")) is bytes


def test_ranged_read_is_a_view() -> None:
    store = MemoryStore()
    value = b"0123456789"
    store.set("k", value)
    got = store.get("k", ByteRange(2, 5))
    assert isinstance(got, memoryview) and got.obj is value
    assert bytes(got) == b"234"


def test_concurrent_sets_and_gets() -> None:
    store = MemoryStore()
    keys = [f"c/{i}" for i in range(500)]
    parallel_map(store.set, keys, [k.encode() for k in keys])
    assert parallel_map(store.get, keys) == [k.encode() for k in keys]
    assert sorted(store.list_prefix("c/")) == sorted(keys)


def test_pickle_keeps_content() -> None:
    store = MemoryStore(read_only=False)
    store.set("k", b"v")
    again = pickle.loads(pickle.dumps(store))
    assert again.get("k") == b"v"
    again.set("k2", b"w")  # the lock was recreated
    assert "MemoryStore" in repr(again)


def test_memory_and_mapping_stores_pickle_with_a_fresh_lock():
    """Data-loader workers receive stores by pickling; the lock must not travel."""

    from cuzarr.stores.mapping import MappingStore

    for store in (MemoryStore({"a": b"1"}), MappingStore({"a": b"1"})):
        again = pickle.loads(pickle.dumps(store))
        assert bytes(again.get("a")) == b"1"
        assert again._lock is not store._lock
        again.set("b", b"2")  # the new lock works
        assert bytes(again.get("b")) == b"2"
