"""Interop with TensorStore's ``n5`` driver, both ways: every compression TensorStore has
(it has no N5 lz4), several dtypes, edge blocks (TensorStore writes them padded, cuzarr
truncated; each must read the other's)."""

from __future__ import annotations

import numpy as np
import pytest

import cuzarr

ts = pytest.importorskip("tensorstore")

COMPRESSIONS = [
    {"type": "raw"},
    {"type": "gzip", "level": 5},
    {"type": "gzip", "level": -1, "useZlib": True},
    {"type": "bzip2", "blockSize": 3},
    {"type": "xz", "preset": 1},
    {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
    {"type": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2},
    {"type": "zstd", "level": 4},
]
DTYPES = {
    "raw": [
        "uint8",
        "int16",
        "uint32",
        "int64",
        "float32",
        "float64",
        "int8",
        "uint16",
        "int32",
        "uint64",
    ],
}
DEFAULT_DTYPES = ["uint8", "int32", "float64", "uint64"]
CASES = [(c, d) for c in COMPRESSIONS for d in DTYPES.get(c["type"], DEFAULT_DTYPES)]
SHAPE, CHUNKS = (13, 9, 5), (4, 4, 3)  # the C-order view; every axis has an edge block


def _ids(case):
    c, d = case
    return "-".join([c["type"], *(str(v) for k, v in c.items() if k != "type"), d])


def _data(dtype: str) -> np.ndarray:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 120, SHAPE) * (
        1 if dtype.startswith("u") else rng.choice([-1, 1], SHAPE)
    )
    return values.astype(dtype)


def _ts_spec(path, **extra):
    return {"driver": "n5", "kvstore": {"driver": "file", "path": str(path)}, **extra}


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_tensorstore_reads_what_cuzarr_writes(tmp_path, case):
    compression, dtype = case
    data = _data(dtype)
    a = cuzarr.create_array(
        str(tmp_path / "c.n5"),
        name="ds",
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        zarr_format="n5",
        compressors=compression,
    )
    a[...] = data
    t = ts.open(_ts_spec(tmp_path / "c.n5" / "ds")).result()
    assert t.shape == SHAPE[::-1] and t.dtype.numpy_dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.read().result(), data.T)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_cuzarr_reads_what_tensorstore_writes(tmp_path, case):
    compression, dtype = case
    data = _data(dtype)
    metadata = {
        "dimensions": list(SHAPE[::-1]),
        "blockSize": list(CHUNKS[::-1]),
        "dataType": dtype,
        "compression": compression,
    }
    t = ts.open(_ts_spec(tmp_path / "t.n5", metadata=metadata), create=True).result()
    t[...] = data.T
    a = cuzarr.open_array(str(tmp_path / "t.n5"), mode="r")
    assert a.zarr_format == "n5" and a.shape == SHAPE and a.chunks == CHUNKS
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(a[1:12:3, ::-2, 4], data[1:12:3, ::-2, 4])


def test_partial_writes_on_both_sides(tmp_path):
    path = tmp_path / "p.n5"
    a = cuzarr.create_array(
        str(path), shape=(10, 11), chunks=(4, 4), dtype="int16", zarr_format="n5"
    )
    a[2:9, 3:] = 5
    t = ts.open(_ts_spec(path)).result()
    t[0:2, 8:10] = -3  # N5 order: x 0..1, y 8..9
    expected = np.zeros((10, 11), "i2")
    expected[2:9, 3:] = 5
    expected[8:10, 0:2] = -3
    np.testing.assert_array_equal(cuzarr.open_array(str(path))[...], expected)
    a[9, 10] = 1
    expected[9, 10] = 1
    np.testing.assert_array_equal(ts.open(_ts_spec(path)).result().read().result(), expected.T)


def test_dimension_labels(tmp_path):
    path = tmp_path / "l.n5"
    metadata = {
        "dimensions": [4, 3],
        "blockSize": [2, 2],
        "dataType": "uint8",
        "compression": {"type": "raw"},
        "axes": ["x", "y"],
    }
    ts.open(_ts_spec(path, metadata=metadata), create=True).result()
    assert cuzarr.open_array(str(path)).dimension_names == ("y", "x")
    cuzarr.create_array(
        str(tmp_path / "m.n5"),
        shape=(3, 4),
        chunks=(2, 2),
        dtype="u1",
        zarr_format="n5",
        dimension_names=("y", "x"),
    )
    assert list(ts.open(_ts_spec(tmp_path / "m.n5")).result().domain.labels) == ["x", "y"]
