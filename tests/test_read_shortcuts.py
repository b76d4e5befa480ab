"""The read path's per-chunk shortcuts give what the general code gives: chunk keys, inner
chunks located with precomputed strides, orthogonal
selections combined a column at a time, and local reads that skip the stat for small
values."""

import itertools
import os

import numpy as np
import pytest

import cuzarr
from cuzarr.grid import ChunkKeyEncoding, DimGrid
from cuzarr.indexing import (
    _array_pieces,
    _combine,
    _int_pieces,
    _product_projections,
    _slice_pieces,
)
from cuzarr.stores.base import ByteRange
from cuzarr.stores.local import _GUESS, LocalStore


@pytest.mark.parametrize(
    "encoding, want",
    [(("default", "/"), "c/2/13/0"), (("default", "."), "c.2.13.0"), (("v2", "."), "2.13.0"),
     (("v2", "/"), "2/13/0")],
)  # fmt: skip
@pytest.mark.parametrize("name", [None, "group/arr"])
def test_chunk_keys(tmp_path, encoding, want, name):
    enc = ChunkKeyEncoding(*encoding)
    a = cuzarr.create_array(str(tmp_path / "a.zarr"), name=name, shape=(10, 7, 3),
                            chunks=(4, 2, 3), dtype="u1", chunk_key_encoding=enc)  # fmt: skip
    prefix = "group/arr/" if name else ""
    assert a._io.key((2, 13, 0)) == prefix + want
    assert a._io.key(np.array([2, 13, 0])) == prefix + want
    assert enc.decode(want) == (2, 13, 0)


def test_zero_dimensional_chunk_key(tmp_path):
    for enc in [ChunkKeyEncoding("default", "/"), ChunkKeyEncoding("v2", ".")]:
        a = cuzarr.create_array(str(tmp_path / f"{enc.name}.zarr"), shape=(), dtype="i4",
                                chunk_key_encoding=enc)  # fmt: skip
        assert a._io.key(()) == enc.encode(())
        a[...] = 5
        assert a[...] == 5


def test_shard_locate_and_keys(tmp_path):
    a = cuzarr.create_array(str(tmp_path / "s.zarr"), shape=(20, 30, 9), chunks=(2, 5, 3),
                            shards=(4, 15, 9), dtype="u1")  # fmt: skip
    io = a._io
    per_shard = (2, 3, 3)
    for coords in itertools.product(range(10), range(6), range(3)):
        shard = tuple(c // n for c, n in zip(coords, per_shard))
        local = [c % n for c, n in zip(coords, per_shard)]
        flat = (local[0] * 3 + local[1]) * 3 + local[2]
        assert io.locate(coords) == (shard, flat)
        assert io.shard_key(shard) == "c/" + "/".join(map(str, shard))
        assert io.key(coords).startswith(io.shard_key(shard) + "[inner chunk ")


def test_projections_match_the_per_combination_form():
    dims = [DimGrid(20, 4), DimGrid(30, 7), DimGrid(9, 2)]
    per_axis = [
        [_int_pieces(5, dims[0]), _slice_pieces(1, 19, 3, dims[0]), _slice_pieces(3, 3, 1, dims[0])],
        [_int_pieces(29, dims[1]), _slice_pieces(0, 30, 1, dims[1]),
         _array_pieces(np.array([1, 5, 29]), dims[1]), _array_pieces(np.array([20, 3, 8]), dims[1])],
        [_slice_pieces(0, 9, 4, dims[2]), _slice_pieces(2, 9, 1, dims[2]), _int_pieces(0, dims[2])],
    ]  # fmt: skip
    for per_dim in itertools.product(*per_axis):
        want = [_combine(p, False) for p in itertools.product(*per_dim)]
        got = _product_projections(list(per_dim))
        assert [repr(p) for p in got] == [repr(p) for p in want]
    assert _product_projections([]) == [_combine((), False)]


@pytest.fixture
def store(tmp_path):
    return LocalStore(tmp_path / "store")


@pytest.mark.parametrize("size", [0, 1, 100, _GUESS - 1, _GUESS, _GUESS + 1, 3 * _GUESS])
def test_local_get_whole_values_of_any_size(store, size):
    value = os.urandom(size)
    store.set("k/v", value)
    got = store.get("k/v")
    assert isinstance(got, bytes) and got == value


@pytest.mark.parametrize("size", [0, 10, _GUESS + 5])
@pytest.mark.parametrize(
    "start, stop",
    [(0, 1), (3, 8), (0, None), (5, None), (-4, None), (2, 2), (8, 20), (15, 30), (40, 50),
     (0, _GUESS), (1, _GUESS + 3), (_GUESS, _GUESS + 10)],
)  # fmt: skip
def test_local_get_ranges_clip_like_slices(store, size, start, stop):
    value = os.urandom(size)
    store.set("r", value)
    got = store.get("r", ByteRange(start, stop))
    assert isinstance(got, bytes) and got == value[start:stop]


def test_local_get_of_a_folder_or_missing_key_is_none(store):
    store.set("a/b/c", b"data")
    assert store.get("a/b") is None
    assert store.get("a/b", ByteRange(0, 2)) is None
    assert store.get("a/b", ByteRange(-2)) is None
    assert store.get("a/x") is None
    assert store.get("a/b/c/d") is None
    assert store.get("a/b/c", ByteRange(1, 3)) == b"at"


def test_local_get_sees_a_value_replaced_between_reads(store):
    store.set("v", b"x" * 10)
    assert store.get("v") == b"x" * 10
    store.set("v", b"y" * (_GUESS + 7))
    assert store.get("v") == b"y" * (_GUESS + 7)
    store.set("v", b"z")
    assert store.get("v") == b"z"
