"""MappingStore: any MutableMapping (a dict, a zarr-python-2-style store)."""

from __future__ import annotations

import types
from collections.abc import Iterator, MutableMapping

import numpy as np
import pytest

from cuzarr.errors import ReadOnlyError
from cuzarr.stores import ByteRange, MappingStore


class LoggingMapping(MutableMapping):
    """A user mapping that is not a dict, holding mixed keys."""

    def __init__(self) -> None:
        self.data: dict[object, bytes] = {}
        self.calls: list[str] = []

    def __getitem__(self, key: object) -> bytes:
        self.calls.append(f"get {key}")
        return self.data[key]

    def __setitem__(self, key: object, value: bytes) -> None:
        self.calls.append(f"set {key}")
        self.data[key] = value

    def __delitem__(self, key: object) -> None:
        del self.data[key]

    def __iter__(self) -> Iterator[object]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def test_values_become_bytes() -> None:
    d: dict[str, bytes] = {}
    store = MappingStore(d)
    store.set("a", bytearray(b"x"))
    store.set("b", np.array([1, 2], dtype="<u2"))
    store.set("c", memoryview(b"abc")[1:])
    assert d == {"a": b"x", "b": b"\x01\x00\x02\x00", "c": b"bc"}
    assert all(type(v) is bytes for v in d.values())


def test_custom_mapping() -> None:
    m = LoggingMapping()
    m.data[("not", "a", "str")] = b"ignored"
    store = MappingStore(m)
    store.set("a/b", b"0123")
    assert bytes(store.get("a/b", ByteRange(-2))) == b"23"
    assert store.get("missing") is None
    assert list(store.list()) == ["a/b"]  # non-str keys are skipped
    store.delete("missing")
    store.delete("a/b")
    assert "a/b" not in m.data
    assert m.calls[:2] == ["set a/b", "get a/b"]


def test_read_only_mapping_makes_a_read_only_store() -> None:
    store = MappingStore(types.MappingProxyType({"k": b"v"}))
    assert store.read_only
    assert store.get("k") == b"v"
    with pytest.raises(ReadOnlyError):
        store.set("k", b"w")
