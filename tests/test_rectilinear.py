"""The registered ``rectilinear`` chunk grid: JSON forms, indexing across irregular
chunks, sharding with irregular shards."""

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cuzarr
from cuzarr.errors import MetadataError
from cuzarr.grid import DimGrid, RectilinearChunkGrid, parse_chunk_grid
from cuzarr.metadata.v3 import parse_array_metadata


def test_registry_example_expands():
    grid = parse_chunk_grid({"name": "rectilinear", "configuration": {
        "kind": "inline", "chunk_shapes": [4, [1, 2, 3], [[4, 2]], [[1, 3], 3], [4, 4, 4]]}})
    dims = grid.dims((6, 6, 6, 6, 6))
    assert isinstance(dims[0], DimGrid) and dims[0].chunk == 4  # a regular step is computed
    assert [d.edges for d in dims[1:]] == [(1, 2, 3), (4, 4), (1, 1, 1, 3), (4, 4, 4)]
    assert grid.grid_shape((6, 6, 6, 6, 6)) == (2, 3, 2, 4, 2)  # the last chunk of axis 4 is unused
    assert [dims[1].chunk_of(i) for i in range(6)] == [0, 1, 1, 2, 2, 2]
    assert dims[3].start(3) == 3 and dims[3].stop(3) == 6
    assert grid.to_json()["configuration"]["chunk_shapes"] == [4, [1, 2, 3], [4, 4], [1, 1, 1, 3], [4, 4, 4]]
    assert RectilinearChunkGrid(((7,) * 50,)).to_json()["configuration"]["chunk_shapes"] == [[[7, 50]]]


def test_zep0003_style_index_resolution():
    grid = RectilinearChunkGrid(((5, 5, 5, 15, 15, 20, 35), 10))
    d0 = grid.dims((100, 30))[0]
    assert d0.chunk_of(17) == 3 and 17 - d0.start(3) == 2


@pytest.mark.parametrize("bad", [
    {"kind": "inline", "chunk_shapes": [[0, 3]]},
    {"kind": "inline", "chunk_shapes": ["x"]},
    {"kind": "inline", "chunk_shapes": [[[2, -1]]]},
    {"kind": "inline", "chunk_shapes": 5},
])
def test_bad_grids(bad):
    with pytest.raises(MetadataError):
        parse_chunk_grid({"name": "rectilinear", "configuration": bad})


def test_lengths_must_cover_the_array():
    with pytest.raises(MetadataError, match="add up to 5"):
        cuzarr.create_array({}, shape=(6,), chunks=[[2, 3]], dtype="u1")


def test_documented_json_reads_and_round_trips():
    store = {"zarr.json": json.dumps({
        "zarr_format": 3, "node_type": "array", "shape": [7, 5], "data_type": "int16",
        "chunk_grid": {"name": "rectilinear", "configuration": {
            "kind": "inline", "chunk_shapes": [[[2, 2], 3], 4]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0, "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
    }).encode()}
    a = cuzarr.open_array(store)
    assert a.cdata_shape == (3, 2)
    data = np.arange(35, dtype="i2").reshape(7, 5)
    a[...] = data
    assert sorted(k for k in store if k.startswith("c/")) == [f"c/{i}/{j}" for i in range(3) for j in range(2)]
    assert len(store["c/2/0"]) == 3 * 4 * 2  # a 3x4 chunk
    assert len(store["c/2/1"]) == 3 * 4 * 2  # the overrunning edge chunk is stored full size
    np.testing.assert_array_equal(a[...], data)
    again = parse_array_metadata(json.loads(store["zarr.json"]))
    assert again.chunk_grid == a.metadata.chunk_grid


@given(st.data())
def test_indexing_matches_numpy(data):
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.integers(1, 10)) for _ in range(ndim))
    chunks = []
    for size in shape:
        edges = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=12))
        while sum(edges) < size:
            edges.append(data.draw(st.integers(1, 4)))
        chunks.append(edges)
    a = cuzarr.create_array({}, shape=shape, chunks=chunks, dtype="i4", fill_value=-1, compressors=None)
    ref = np.full(shape, -1, dtype="i4")
    sel = tuple(slice(data.draw(st.integers(0, s)), data.draw(st.integers(0, s)),
                      data.draw(st.sampled_from([1, 2, -1, -2]))) for s in shape)
    value = np.arange(np.empty(shape)[sel].size, dtype="i4").reshape(np.empty(shape)[sel].shape)
    a[sel] = value
    ref[sel] = value
    np.testing.assert_array_equal(a[...], ref)
    np.testing.assert_array_equal(a[sel], ref[sel])
    points = tuple(np.array(data.draw(st.lists(st.integers(0, s - 1), min_size=4, max_size=4))) for s in shape)
    np.testing.assert_array_equal(a.vindex[points], ref[points])
    np.testing.assert_array_equal(a.oindex[tuple(p[:2] for p in points)], ref[np.ix_(*(p[:2] for p in points))])


def test_irregular_shards():
    a = cuzarr.create_array({}, shape=(20, 9), chunks=(2, 3), shards=[[4, 8, 8], 9], dtype="u2")
    data = np.arange(180, dtype="u2").reshape(20, 9)
    a[...] = data
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(a[3:17:5, ::-2], data[3:17:5, ::-2])
    with pytest.raises(MetadataError, match="multiple"):
        cuzarr.create_array({}, shape=(20,), chunks=(2,), shards=[[4, 5, 11]], dtype="u2")


def test_resize_keeps_regular_axes_growing():
    a = cuzarr.create_array({}, shape=(4, 4), chunks=[[1, 3], 2], dtype="u1")
    a.resize(4, 9)
    assert a.cdata_shape == (2, 5)
    with pytest.raises(MetadataError, match="add up"):
        a.resize(5, 9)


def test_chunks_property_lists_lengths():
    a = cuzarr.create_array({}, shape=(7, 4), chunks=[[2, 5], 3], dtype="u1")
    assert a.chunks == ((2, 5), (3, 1))
    assert cuzarr.create_array({}, shape=(7, 4), chunks=(2, 3), dtype="u1").chunks == (2, 3)
