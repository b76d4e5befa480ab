"""Zarr v2 both ways with tensorstore's ``zarr`` driver.

tensorstore 0.1.86 reads and writes the numeric dtypes (every byte order), order C and
F, both separators, structured dtypes (one field at a time) and the compressors blosc,
zlib, gzip, bz2 and zstd; it refuses filters, lz4, lzma, ``U``, datetimes and object
arrays, so those are checked against zarr-python only. Its numpy view of ``|S`` and
``|V`` (a trailing "char" axis) cannot be compared in-process.
"""

from __future__ import annotations

import numpy as np
import pytest
from v2_helpers import assert_same, read_json, sample

import cuzarr

ts = pytest.importorskip("tensorstore")

NUMERIC = [
    "|b1", "|i1", "<i2", ">i2", ">i4", "<i8", "|u1", ">u2", "<u4", ">u8",
    "<f2", ">f4", "<f8", ">f8", "<c8", ">c16",
]  # fmt: skip
COMPRESSORS = {
    "raw": None,
    "blosc": {"id": "blosc", "cname": "zstd", "clevel": 3, "shuffle": 2, "blocksize": 0},
    "zlib": {"id": "zlib", "level": 5},
    "gzip": {"id": "gzip", "level": 5},
    "bz2": {"id": "bz2", "level": 9},
    "zstd": {"id": "zstd", "level": 1},
}
SHAPE, CHUNKS = (9, 7), (4, 3)


def ts_open(path, **spec):
    return ts.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, **spec}
    ).result()


def ts_create(path, data, **metadata):
    meta = {
        "shape": list(data.shape),
        "chunks": list(CHUNKS),
        "dtype": data.dtype.str,
        "compressor": None,
        "fill_value": None,
        "order": "C",
        **metadata,
    }
    t = ts_open(path, metadata=meta, create=True)
    t[...] = data
    return t


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", NUMERIC)
def test_numeric_dtypes(dtype, order, tmp_path):
    data = sample(dtype, SHAPE)
    ts_create(tmp_path / "ts", data, order=order)
    a = cuzarr.open_array(str(tmp_path / "ts"), mode="r")
    assert a.zarr_format == 2
    assert_same(a[...], data)
    cuzarr.create_array(
        str(tmp_path / "cz"), data=data, chunks=CHUNKS, order=order, zarr_format=2, compressors=None
    )
    assert_same(ts_open(tmp_path / "cz").read().result(), data)


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_compressors(name, tmp_path):
    data = sample("<i4", SHAPE)
    ts_create(tmp_path / "ts", data, compressor=COMPRESSORS[name])
    assert_same(cuzarr.open_array(str(tmp_path / "ts"), mode="r")[...], data)
    cuzarr.create_array(
        str(tmp_path / "cz"), data=data, chunks=CHUNKS, zarr_format=2, compressors=COMPRESSORS[name]
    )
    assert_same(ts_open(tmp_path / "cz").read().result(), data)


@pytest.mark.parametrize("separator", [".", "/"])
def test_dimension_separator(separator, tmp_path):
    data = sample("<u2", SHAPE)
    ts_create(tmp_path / "ts", data, dimension_separator=separator)
    assert_same(cuzarr.open_array(str(tmp_path / "ts"), mode="r")[...], data)
    cuzarr.create_array(
        str(tmp_path / "cz"),
        data=data,
        chunks=CHUNKS,
        zarr_format=2,
        chunk_key_encoding={"name": "v2", "separator": separator},
    )
    assert_same(ts_open(tmp_path / "cz").read().result(), data)
    assert read_json(tmp_path / "cz" / ".zarray")["dimension_separator"] == separator


@pytest.mark.parametrize(
    ("dtype", "fill"), [("<f4", float("nan")), (">f8", float("-inf")), ("<i2", -3), ("<c8", 1 + 2j)]
)
def test_fill_values_of_missing_chunks(dtype, fill, tmp_path):
    data = sample(dtype, SHAPE)
    a = cuzarr.create_array(
        str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype=dtype, zarr_format=2, fill_value=fill
    )
    a[4:, :] = data[4:, :]  # the top chunks stay missing
    expected = data.copy()
    expected[:4, :] = fill
    assert_same(ts_open(tmp_path).read().result(), expected)


def test_structured_fields(tmp_path):
    dtype = np.dtype([("a", "<i4"), ("b", ">f8"), ("c", "|u1")])
    data = sample(dtype, SHAPE)
    cuzarr.create_array(
        str(tmp_path / "cz"), data=data, chunks=CHUNKS, zarr_format=2, compressors=None
    )
    for name in dtype.names:
        assert_same(ts_open(tmp_path / "cz", field=name).read().result(), data[name])
    meta = {
        "shape": list(SHAPE),
        "chunks": list(CHUNKS),
        "dtype": [["a", "<i4"], ["b", ">f8"], ["c", "|u1"]],
        "compressor": {"id": "zlib", "level": 1},
        "fill_value": None,
        "order": "F",
    }
    for name in dtype.names:
        t = ts_open(tmp_path / "ts", field=name, metadata=meta, open=True, create=True)
        t[...] = data[name]
    assert_same(cuzarr.open_array(str(tmp_path / "ts"), mode="r")[...], data)
