"""Indexing (basic, orthogonal, vectorized, writes) compared with numpy on random shapes
and chunkings."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cuzarr
from cuzarr.errors import BoundsCheckError, IndexingError
from cuzarr.stores.memory import MemoryStore


@st.composite
def array_and_chunks(draw, max_ndim=3):
    ndim = draw(st.integers(0, max_ndim))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=ndim, max_size=ndim)))
    chunks = tuple(draw(st.integers(1, 5)) for _ in shape)
    return shape, chunks


def dim_selection(size):
    ints = st.integers(-size, size - 1) if size else st.nothing()
    bound = st.none() | st.integers(-size - 2, size + 2)
    steps = st.none() | st.integers(-4, 4).filter(lambda s: s != 0)
    slices = st.builds(slice, bound, bound, steps)
    return ints | slices


def dim_array(size):
    int_arrays = st.lists(st.integers(-size, size - 1), min_size=0, max_size=6).map(
        lambda v: np.array(v, dtype=np.int64)
    ) if size else st.just(np.array([], dtype=np.int64))
    bools = st.lists(st.booleans(), min_size=size, max_size=size).map(lambda v: np.array(v, dtype=bool))
    return int_arrays | bools


def make(shape, chunks, fill=-1):
    data = np.arange(int(np.prod(shape)), dtype="i4").reshape(shape)
    a = cuzarr.create_array(
        MemoryStore(), shape=shape, chunks=chunks, dtype="i4", fill_value=fill, compressors=None
    )
    a[...] = data
    return a, data.copy()


@given(array_and_chunks(), st.data())
def test_basic_read_and_write_match_numpy(spec, data):
    shape, chunks = spec
    a, ref = make(shape, chunks)
    sel = tuple(data.draw(dim_selection(s)) for s in shape)
    np.testing.assert_array_equal(a[sel], ref[sel])
    value = -np.arange(np.asarray(ref[sel]).size, dtype="i4").reshape(np.shape(ref[sel])) - 7
    a[sel] = value
    ref[sel] = value
    np.testing.assert_array_equal(a[...], ref)


@given(array_and_chunks(), st.data())
def test_orthogonal_read_and_write_match_numpy(spec, data):
    shape, chunks = spec
    a, ref = make(shape, chunks)
    if not shape:
        return
    sel = tuple(data.draw(dim_selection(s) | dim_array(s)) for s in shape)
    # numpy's orthogonal equivalent: apply one axis at a time.
    expected = ref
    axis = 0
    for s in sel:
        if isinstance(s, (int, np.integer)):
            expected = np.take(expected, s, axis=axis)
        else:
            index = [slice(None)] * expected.ndim
            index[axis] = s
            expected = expected[tuple(index)]
            axis += 1
    np.testing.assert_array_equal(a.oindex[sel], expected)
    # write back distinct values through oindex and compare with numpy's ix_ writes
    value = np.full(expected.shape, -3, dtype="i4")
    a.oindex[sel] = value
    ix = [np.arange(n)[s] if not isinstance(s, (int, np.integer)) else s for s, n in zip(sel, shape)]
    grids = np.ix_(*[np.atleast_1d(i) for i in ix])
    ref[grids] = -3
    np.testing.assert_array_equal(a[...], ref)


@given(array_and_chunks(), st.data())
def test_vectorized_read_and_write_match_numpy(spec, data):
    shape, chunks = spec
    if not shape or 0 in shape:
        return
    a, ref = make(shape, chunks)
    n = data.draw(st.integers(0, 8))
    sel = tuple(
        np.array(data.draw(st.lists(st.integers(-s, s - 1), min_size=n, max_size=n)), dtype=np.intp)
        for s in shape
    )
    np.testing.assert_array_equal(a.vindex[sel], ref[sel])
    a.vindex[sel] = 12345
    ref[sel] = 12345
    np.testing.assert_array_equal(a[...], ref)
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=ref.size, max_size=ref.size))).reshape(shape)
    np.testing.assert_array_equal(a.vindex[mask], ref[mask])
    a.vindex[mask] = -9
    ref[mask] = -9
    np.testing.assert_array_equal(a[...], ref)


def test_getitem_dispatches_fancy_indexing_like_numpy():
    a, ref = make((6, 7), (4, 3))
    rows, cols = np.array([0, 5, 3]), np.array([6, 0, 2])
    np.testing.assert_array_equal(a[rows, cols], ref[rows, cols])
    np.testing.assert_array_equal(a[ref > 20], ref[ref > 20])
    np.testing.assert_array_equal(a[rows, 1:4], ref[rows, 1:4])
    np.testing.assert_array_equal(a[np.array([[1, 2], [3, 4]]), np.array([[0, 0], [6, 6]])],
                                  ref[np.array([[1, 2], [3, 4]]), np.array([[0, 0], [6, 6]])])


def test_out_parameter_decodes_into_callers_array():
    a, ref = make((10, 12), (5, 4))
    out = np.zeros((3, 12), dtype="i4")
    result = a.get_basic_selection((slice(2, 5), slice(None)), out=out)
    assert result is out
    np.testing.assert_array_equal(out, ref[2:5])
    with pytest.raises(IndexingError, match="shape"):
        a.get_basic_selection(slice(0, 2), out=np.zeros((3, 12), dtype="i4"))
    with pytest.raises(IndexingError, match="dtype"):
        a.get_basic_selection(slice(0, 3), out=np.zeros((3, 12), dtype="f8"))


def test_bad_selections_raise_indexing_errors():
    a, _ = make((4, 5), (2, 2))
    with pytest.raises(BoundsCheckError):
        a[4, 0]
    with pytest.raises(BoundsCheckError):
        a.oindex[[0, 9], :]
    with pytest.raises(IndexingError, match="too many indices"):
        a[0, 0, 0]
    with pytest.raises(IndexingError):
        a[None]
    with pytest.raises(IndexingError, match="boolean"):
        a.oindex[np.array([True, False]), :]
    with pytest.raises(IndexingError, match="broadcast"):
        a.vindex[np.array([0, 1]), np.array([0, 1, 2])]
    with pytest.raises(IndexingError, match="does not fit"):
        a[0:2, 0:2] = np.ones((3, 3))
