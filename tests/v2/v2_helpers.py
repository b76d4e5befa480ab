"""Helpers shared by the tests in tests/v2: sample data for any dtype, value comparison, and
a store that counts how often it is asked for something."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cuzarr.stores.base import Store
from cuzarr.stores.memory import MemoryStore


def sample(dtype: Any, shape: tuple[int, ...] = (7, 9), seed: int = 0) -> np.ndarray:
    """Varied values of ``dtype`` (any kind a v2 array can hold), in that dtype."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    n = int(np.prod(shape))
    if dt.fields is not None:
        out = np.zeros(n, dtype=dt)
        for name in dt.names:
            sub = dt.fields[name][0]
            out[name] = (
                sample(sub.base, (n, *sub.shape), seed + 1)
                if sub.shape
                else sample(sub, (n,), seed + 1)
            )
        return out.reshape(shape)
    if dt.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        v = rng.integers(0, 100 if dt.itemsize == 1 else 30000, n)
    elif dt.kind == "f":
        v = rng.standard_normal(n) * 100
    elif dt.kind == "c":
        v = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    elif dt.kind in "Mm":
        return (
            rng.integers(-(10**6), 10**6, n)
            .astype("i8")
            .view(dt.newbyteorder("="))
            .astype(dt)
            .reshape(shape)
        )
    elif dt.kind == "U":
        v = np.array([f"é{i}"[: dt.itemsize // 4] for i in range(n)])
    elif dt.kind == "S":
        v = np.array([f"b{i}".encode()[: dt.itemsize] for i in range(n)])
    elif dt.kind == "V":
        raw = rng.integers(0, 256, n * dt.itemsize, dtype=np.uint8).tobytes()
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    elif dt.kind == "O":
        return np.array([f"s{i}-é" * (i % 3) for i in range(n)], dtype=object).reshape(shape)
    return v.astype(dt).reshape(shape)


def assert_same(a: Any, b: Any) -> None:
    """Equal values, NaN equal to NaN, object / numpy-string arrays compared as Python
    objects, structured arrays compared field by field whatever their byte order."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    if a.dtype.fields is not None or b.dtype.fields is not None:
        assert a.dtype.names == b.dtype.names
        for name in a.dtype.names:
            assert_same(a[name], b[name])
        return
    if a.dtype.kind in "OT" or b.dtype.kind in "OT":
        assert a.astype(object).tolist() == b.astype(object).tolist()
        return
    if a.dtype.kind == "V":
        assert a.tobytes() == b.astype(a.dtype).tobytes()
        return
    np.testing.assert_array_equal(a, b)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def chunk_files(folder: Path) -> dict[str, bytes]:
    """Every non-metadata file below ``folder`` by its relative key."""
    folder = Path(folder)
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith(".") and p.name != "zarr.json"
    }


class CountingStore(Store):
    """A MemoryStore that records every read and listing it is asked for."""

    def __init__(self, inner: MemoryStore | None = None):
        self.inner = inner or MemoryStore()
        self.reset()

    def reset(self) -> None:
        self.gets: list[str] = []
        self.hits: list[str] = []
        self.lists = 0

    def get(self, key, byte_range=None):
        self.gets.append(key)
        value = self.inner.get(key, byte_range)
        if value is not None:
            self.hits.append(key)
        return value

    def set(self, key, value):
        self.inner.set(key, value)

    def delete(self, key):
        self.inner.delete(key)

    def list_prefix(self, prefix):
        self.lists += 1
        return self.inner.list_prefix(prefix)

    def list_dir(self, prefix):
        self.lists += 1
        return self.inner.list_dir(prefix)

    def __repr__(self) -> str:
        return "CountingStore"
