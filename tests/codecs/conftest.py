"""Shared fixtures for the codec tests: sample chunks, and zarr-python / tensorstore as
reference implementations (single-chunk arrays whose raw chunk bytes we read or replace)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec

SAMPLES = [
    ((0,), "u1"),
    ((1,), "u1"),
    ((7,), "i2"),
    ((1000,), "i4"),
    ((3, 5, 7), "f8"),
    ((4097,), "u2"),
    ((64, 64), "f4"),
    ((33,), "c16"),
]


def sample_data(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Compressible but not trivial values: a slow ramp plus a little noise."""
    n = int(np.prod(shape))
    rng = np.random.default_rng(seed)
    values = np.arange(n) // 3 + rng.integers(0, 4, n)
    return values.astype(dtype).reshape(shape)


@pytest.fixture(params=SAMPLES, ids=[f"{d}{list(s)}" for s, d in SAMPLES])
def sample(request) -> tuple[ChunkSpec, np.ndarray]:
    """(spec, decoded chunk) for a spread of shapes and dtypes, empty and odd sizes included."""
    shape, dtype = request.param
    return ChunkSpec(shape, np.dtype(dtype), 0), sample_data(shape, dtype)


class ZarrPython:
    """Single-chunk zarr-python v3 arrays in a memory store."""

    def _create(self, shape, dtype, **kwargs: Any):
        import zarr
        from zarr.storage import MemoryStore

        store: dict = {}
        kwargs.setdefault("compressors", None)
        kwargs.setdefault("fill_value", 0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "numcodecs codecs are not in the v3 spec"
            arr = zarr.create_array(
                store=MemoryStore(store),
                shape=shape,
                chunks=shape,
                dtype=dtype,
                config={"write_empty_chunks": True},
                **kwargs,
            )
        return arr, store, "c/" + "/".join("0" * len(shape))

    def write(self, data: np.ndarray, **kwargs: Any) -> tuple[list[dict], bytes]:
        """Write ``data`` as one chunk; return the ``codecs`` JSON and the raw chunk bytes."""
        arr, store, key = self._create(data.shape, data.dtype, **kwargs)
        arr[...] = data
        codecs = json.loads(store["zarr.json"].to_bytes())["codecs"]
        return codecs, store[key].to_bytes()

    def read(self, raw: Any, shape, dtype, **kwargs: Any) -> np.ndarray:
        """Read ``raw`` as the one chunk of an array made with ``kwargs``."""
        from zarr.core.buffer import default_buffer_prototype

        arr, store, key = self._create(shape, dtype, **kwargs)
        store[key] = default_buffer_prototype().buffer.from_bytes(bytes(raw))
        return arr[...]


@pytest.fixture
def zp() -> ZarrPython:
    pytest.importorskip("zarr")
    return ZarrPython()


class TensorStore:
    """Single-chunk v3 arrays on disk, created by zarr-python and read by tensorstore."""

    def __init__(self, root: Path):
        self.root = root

    def read(self, raw: Any, shape, dtype, **kwargs: Any) -> np.ndarray:
        import tensorstore as ts
        import zarr

        path = self.root / "a.zarr"
        kwargs.setdefault("fill_value", 0)
        zarr.create_array(
            store=str(path), shape=shape, chunks=shape, dtype=dtype, overwrite=True, **kwargs
        )
        chunk = path.joinpath("c", *("0" * len(shape)))
        chunk.parent.mkdir(parents=True, exist_ok=True)
        chunk.write_bytes(bytes(raw))
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
        return ts.open(spec).result().read().result()

    def write(self, data: np.ndarray, codecs: list[dict]) -> bytes:
        """Write ``data`` as one chunk with tensorstore; return the raw chunk bytes."""
        import tensorstore as ts

        path = self.root / "t.zarr"
        metadata = {
            "shape": list(data.shape),
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(data.shape)}},
            "data_type": np.dtype(data.dtype).name,
            "codecs": codecs,
        }
        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(path)},
            "metadata": metadata,
        }
        arr = ts.open(spec, create=True, delete_existing=True).result()
        arr.write(data).result()
        return path.joinpath("c", *("0" * data.ndim)).read_bytes()


@pytest.fixture
def tstore(tmp_path) -> TensorStore:
    pytest.importorskip("tensorstore")
    return TensorStore(tmp_path)
