"""Selections -> chunk projections.

A selection (ints, slices with any step, Ellipsis, integer and boolean arrays) becomes a
:class:`Selection`: the output shape and, for every chunk it touches, a
:class:`ChunkProjection` saying which part of the decoded chunk is wanted and where it
lands in the output. Selections are ready for numpy: ``out[p.out_selection] =
chunk[p.chunk_selection]`` is the whole scatter step.

Three modes, as in zarr-python and numpy:

- basic / orthogonal: each dimension is selected independently (ints drop the
  dimension); with two or more integer arrays the per-chunk selections are in
  ``np.ix_`` form, so the result is their outer product;
- vectorized (``vindex``): integer arrays broadcast against each other and pick points,
  or one boolean mask of the array's shape picks its true elements. Projections then
  index the *flattened* output (``Selection.flat_out``).

Negative-step slices are turned into positive ones plus an axis flip of the output
(``Selection.flip_axes``), so chunks are always read in ascending order. An integer array
of several dimensions on one axis (numpy's ``a[np.array([[0, 1], [2, 3]])]``) is
projected as the flat list of its indices: the projections index the output reshaped so
that those dimensions are one (``Selection.view_shape``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.errors import BoundsCheckError, IndexingError
from cuzarr.grid import DimGrid


@dataclass(frozen=True)
class ChunkProjection:
    chunk_coords: tuple[int, ...]
    chunk_selection: tuple[Any, ...]
    out_selection: Any
    # True when the selection covers every in-bounds element of the chunk, so a write
    # need not read the old chunk first.
    is_complete: bool


@dataclass(frozen=True)
class Selection:
    out_shape: tuple[int, ...]
    projections: list[ChunkProjection]
    flip_axes: tuple[int, ...] = ()
    flat_out: bool = False
    # The shape the projections index when it is not out_shape (multi-dimensional index
    # arrays flattened); flip_axes count its axes.
    view_shape: tuple[int, ...] | None = None

    def out_view(self, out: np.ndarray) -> np.ndarray:
        """The view of ``out`` that projections index (axes flipped, or flattened)."""
        if self.flat_out:
            return out.reshape(-1)
        if self.view_shape is not None:
            out = out.reshape(self.view_shape)
        if self.flip_axes:
            index = [slice(None)] * out.ndim
            for axis in self.flip_axes:
                index[axis] = slice(None, None, -1)
            return out[tuple(index)]
        return out

    def check_out(self, out: Any, dtype: np.dtype) -> None:
        """IndexingError unless ``out`` (numpy or device array) fits the selection."""
        if tuple(out.shape) != tuple(self.out_shape):
            raise IndexingError(
                f"out= has shape {tuple(out.shape)}, the selection has shape {self.out_shape}"
            )
        if out.dtype != dtype:
            raise IndexingError(f"out= has dtype {out.dtype}, the array has {dtype}")

    def read_into(self, result: Any, read: Callable[[Any], None], empty: Callable) -> None:
        """``read(view)`` fills ``result`` through :meth:`out_view`; a flattened or reshaped
        output must be contiguous (else the reshape is a copy), so a strided ``result`` is
        filled through a fresh ``empty(shape, dtype)`` buffer (numpy or cupy) and copied."""
        target = result
        reshaped = self.flat_out or self.view_shape is not None
        if reshaped and not result.flags.c_contiguous:
            target = empty(self.out_shape, result.dtype)
        read(self.out_view(target))
        if target is not result:
            result[...] = target


# -- per-dimension projections ----------------------------------------------------------


@dataclass(frozen=True)
class _DimPiece:
    chunk: int
    chunk_sel: Any  # int, slice or int array
    out_sel: Any  # slice or int array; None when the dimension is dropped (int)
    complete: bool


def _int_pieces(index: int, dim: DimGrid) -> list[_DimPiece]:
    c = int(dim.chunk_of(index))
    start = dim.start(c)
    return [_DimPiece(c, index - start, None, dim.stop(c) - start == 1)]


def _slice_pieces(start: int, stop: int, step: int, dim: DimGrid) -> list[_DimPiece]:
    pieces = []
    if stop <= start:
        return pieces
    for c in range(int(dim.chunk_of(start)), int(dim.chunk_of(stop - 1)) + 1):
        c_start, c_stop = dim.start(c), dim.stop(c)
        first = start if start >= c_start else start + -(-(c_start - start) // step) * step
        end = min(stop, c_stop)
        if first >= end:
            continue
        count = -(-(end - first) // step)
        o = (first - start) // step
        complete = step == 1 and first == c_start and end == c_stop
        pieces.append(
            _DimPiece(c, slice(first - c_start, end - c_start, step), slice(o, o + count), complete)
        )
    return pieces


def _array_pieces(indices: np.ndarray, dim: DimGrid) -> list[_DimPiece]:
    chunks = dim.chunk_of(indices)
    if indices.size and np.all(chunks[1:] >= chunks[:-1]):
        order = None
        sorted_chunks = chunks
    else:
        order = np.argsort(chunks, kind="stable")
        sorted_chunks = chunks[order]
    bounds = np.flatnonzero(np.diff(sorted_chunks)) + 1
    pieces = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(indices)]):
        if lo == hi:
            continue
        c = int(sorted_chunks[lo])
        positions = np.arange(lo, hi) if order is None else order[lo:hi]
        local = indices[positions] - dim.start(c)
        out_sel: Any = slice(int(lo), int(hi)) if order is None else positions
        span = dim.stop(c) - dim.start(c)
        complete = len(local) == span and np.array_equal(np.sort(local), np.arange(span))
        pieces.append(_DimPiece(c, local, out_sel, bool(complete)))
    return pieces


# -- normalising user selections --------------------------------------------------------


def _expand_ellipsis(selection: Any, ndim: int) -> tuple[Any, ...]:
    if not isinstance(selection, tuple):
        selection = (selection,)
    n_ellipsis = sum(s is Ellipsis for s in selection)
    if n_ellipsis > 1:
        raise IndexingError("an index can only have a single ellipsis ('...')")
    if n_ellipsis:
        i = next(i for i, s in enumerate(selection) if s is Ellipsis)
        fill = ndim - (len(selection) - 1)
        selection = selection[:i] + (slice(None),) * max(fill, 0) + selection[i + 1 :]
    if len(selection) > ndim:
        raise IndexingError(
            f"too many indices for array: array is {ndim}-d, {len(selection)} were given"
        )
    return selection + (slice(None),) * (ndim - len(selection))


def is_integer(x: Any) -> bool:
    """An int or a numpy integer, and not a bool: True is neither an index nor a length."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _index_array(sel: Any) -> np.ndarray:
    """A user's index array; an empty list is an empty integer index, as in numpy (its
    own dtype would be float64)."""
    if isinstance(sel, np.ndarray):
        return sel
    try:
        arr = np.asarray(sel)
    except (TypeError, ValueError) as e:  # ragged lists
        raise IndexingError(f"{sel!r:.80} is not an index array: {e}") from None
    if arr.size == 0:
        return arr.astype(np.intp)
    return arr


def _slice_indices(sel: slice, size: int, axis: int) -> tuple[int, int, int]:
    try:
        return sel.indices(size)
    except (TypeError, ValueError) as e:  # slice("a"), a zero step
        raise IndexingError(f"axis {axis}: {sel!r} is not a valid slice: {e}") from None


def _normalize_int(i: Any, size: int, axis: int) -> int:
    i = int(i)
    if not -size <= i < size:
        raise BoundsCheckError(f"index {i} is out of bounds for axis {axis} with size {size}")
    return i + size if i < 0 else i


def _normalize_array(sel: Any, size: int, axis: int) -> np.ndarray:
    """Indices into an axis of ``size``, non-negative, as a 1-d array (a multi-dimensional
    integer array is flattened: the caller keeps its shape)."""
    arr = _index_array(sel)
    if arr.dtype == bool:
        if arr.ndim != 1 or arr.shape[0] != size:
            raise IndexingError(
                f"boolean index for axis {axis} has shape {arr.shape}, expected ({size},)"
            )
        return np.flatnonzero(arr)
    if arr.dtype.kind not in "iu" or arr.ndim == 0:
        raise IndexingError(
            f"axis {axis}: expected an int, slice, integer array or 1-d boolean array, not {sel!r}"
        )
    arr = arr.astype(np.int64, copy=False).reshape(-1)
    if arr.size and (arr.min() < -size or arr.max() >= size):
        raise BoundsCheckError(f"an index in axis {axis} is out of bounds for size {size}")
    return np.where(arr < 0, arr + size, arr)


def _is_array_like(x: Any) -> bool:
    return isinstance(x, (list, np.ndarray)) or (hasattr(x, "__array__") and not np.isscalar(x))


def orthogonal_selection(
    selection: Any, shape: Sequence[int], dims: Sequence[DimGrid]
) -> Selection:
    """Each dimension selected on its own: ints, slices (any step), int or bool arrays."""
    selection = _expand_ellipsis(selection, len(shape))
    per_dim: list[list[_DimPiece]] = []
    out_shape: list[int] = []  # the axes the projections index
    final_shape: list[int] = []  # the same, with index arrays' own shapes
    flip: list[int] = []
    n_arrays = n_ints = 0
    for axis, (sel, size, dim) in enumerate(zip(selection, shape, dims)):
        if isinstance(sel, np.ndarray) and sel.ndim == 0 and sel.dtype.kind in "iu":
            sel = sel[()]  # numpy takes a 0-d integer array as an int
        if is_integer(sel):
            per_dim.append(_int_pieces(_normalize_int(sel, size, axis), dim))
            n_ints += 1
        elif isinstance(sel, slice):
            start, stop, step = _slice_indices(sel, size, axis)
            if step < 0:
                # Read the same elements ascending, then flip that output axis.
                n = len(range(start, stop, step))
                start, stop, step = (start + (n - 1) * step, start + 1, -step) if n else (0, 0, 1)
                flip.append(len(out_shape))
            out_shape.append(len(range(start, stop, step)))
            final_shape.append(out_shape[-1])
            per_dim.append(_slice_pieces(start, stop, step, dim))
        elif _is_array_like(sel):
            arr = _index_array(sel)
            indices = _normalize_array(arr, size, axis)
            out_shape.append(len(indices))
            # An integer array's own shape (numpy's a[np.array([[0, 1], [2, 3]])]).
            multi = arr.ndim > 1 and arr.dtype != bool
            final_shape.extend(arr.shape if multi else (len(indices),))
            per_dim.append(_array_pieces(indices, dim))
            n_arrays += 1
        elif sel is None:
            raise IndexingError("np.newaxis (None) is not supported in Zarr selections")
        else:
            raise IndexingError(f"axis {axis}: unsupported selection {sel!r}")
    # numpy treats ints as advanced indices too once an array is present, and moves the
    # broadcast dimensions first when they are not adjacent: the outer form avoids that.
    outer = n_arrays >= 2 or (n_arrays == 1 and n_ints > 0)
    if outer:
        projections = [_combine(pieces, outer) for pieces in itertools.product(*per_dim)]
    else:
        projections = _product_projections(per_dim)
    view = tuple(out_shape) if final_shape != out_shape else None
    return Selection(tuple(final_shape), projections, tuple(flip), view_shape=view)


def _product_projections(per_dim: list[list[_DimPiece]]) -> list[ChunkProjection]:
    """One projection per combination of the dimensions' pieces, in
    ``itertools.product`` order, for selections that need no outer form. Each field is a
    product of its own per-dimension column, so the combining runs in C rather than
    once per chunk in Python (a full read of a big array has thousands of chunks, and
    the pool waits for this list)."""
    if not all(per_dim):
        return []
    coords = itertools.product(*[[p.chunk for p in pieces] for pieces in per_dim])
    chunk_sels = itertools.product(*[[p.chunk_sel for p in pieces] for pieces in per_dim])
    completes = itertools.product(*[[p.complete for p in pieces] for pieces in per_dim])
    # A dimension selected by an int has one piece and no output axis: leaving it out of
    # the product keeps the order and the count.
    out_sels = itertools.product(
        *[[p.out_sel for p in pieces] for pieces in per_dim if pieces[0].out_sel is not None]
    )
    return list(map(ChunkProjection, coords, chunk_sels, out_sels, map(all, completes)))


def _outer(sels: list[Any]) -> tuple[Any, ...]:
    """Turn a per-dimension selection with several arrays into ``np.ix_`` form (ints stay
    scalars and drop their dimension; slices become ranges)."""
    k = sum(not is_integer(s) for s in sels)
    out, j = [], 0
    for s in sels:
        if is_integer(s):
            out.append(s)
            continue
        a = np.arange(s.start, s.stop, s.step) if isinstance(s, slice) else s
        shape = [1] * k
        shape[j] = -1
        out.append(a.reshape(shape))
        j += 1
    return tuple(out)


def _combine(pieces: tuple[_DimPiece, ...], outer: bool) -> ChunkProjection:
    chunk_sel = [p.chunk_sel for p in pieces]
    out_sel = [p.out_sel for p in pieces if p.out_sel is not None]
    if outer:
        chunk_sel_t, out_sel_t = _outer(chunk_sel), _outer(out_sel)
    else:
        chunk_sel_t, out_sel_t = tuple(chunk_sel), tuple(out_sel)
    return ChunkProjection(
        tuple(p.chunk for p in pieces), chunk_sel_t, out_sel_t, all(p.complete for p in pieces)
    )


def basic_selection(selection: Any, shape: Sequence[int], dims: Sequence[DimGrid]) -> Selection:
    """Ints, slices and Ellipsis only (numpy's basic indexing)."""
    for sel in _expand_ellipsis(selection, len(shape)):
        if not (is_integer(sel) or isinstance(sel, slice)):
            raise IndexingError(f"basic selection takes ints, slices and Ellipsis, not {sel!r}")
    return orthogonal_selection(selection, shape, dims)


def vectorized_selection(
    selection: Any, shape: Sequence[int], dims: Sequence[DimGrid]
) -> Selection:
    """Points: integer arrays broadcast together, or one boolean mask of the array's shape."""
    if not isinstance(selection, tuple):
        selection = (selection,)
    if len(selection) == 1 and _index_array(selection[0]).dtype == bool:
        mask = _index_array(selection[0])
        if mask.shape != tuple(shape):
            raise IndexingError(
                f"boolean mask has shape {mask.shape}, the array has {tuple(shape)}"
            )
        selection = np.nonzero(mask)
    if len(selection) != len(shape):
        raise IndexingError(
            f"vindex needs one integer array per dimension ({len(shape)}), got {len(selection)}"
        )
    for axis, sel in enumerate(selection):
        if isinstance(sel, slice) or not (is_integer(sel) or _is_array_like(sel)):
            raise IndexingError(f"vindex axis {axis}: expected integer arrays, not {sel!r}")
    arrays = [_index_array(s) for s in selection]
    for axis, a in enumerate(arrays):
        if a.dtype.kind not in "iu":
            raise IndexingError(f"vindex axis {axis}: expected integers, got dtype {a.dtype}")
    try:
        arrays = np.broadcast_arrays(*arrays)
    except ValueError as e:
        raise IndexingError(f"vindex arrays do not broadcast together: {e}") from None
    out_shape = arrays[0].shape if arrays else ()
    points = [
        _normalize_array(a.reshape(-1), size, axis)
        for axis, (a, size) in enumerate(zip(arrays, shape))
    ]
    return Selection(tuple(out_shape), _point_projections(points, dims), flat_out=True)


def _point_projections(points: list[np.ndarray], dims: Sequence[DimGrid]) -> list[ChunkProjection]:
    if not points or points[0].size == 0:
        return []
    chunk_ids = [d.chunk_of(p) for d, p in zip(dims, points)]
    linear = np.ravel_multi_index(chunk_ids, [max(d.nchunks, 1) for d in dims])
    order = np.argsort(linear, kind="stable")
    sorted_linear = linear[order]
    bounds = np.flatnonzero(np.diff(sorted_linear)) + 1
    projections = []
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(order)]):
        group = order[lo:hi]
        coords = tuple(int(ids[group[0]]) for ids in chunk_ids)
        local = tuple(p[group] - d.start(c) for p, d, c in zip(points, dims, coords))
        projections.append(ChunkProjection(coords, local, group, False))
    return projections


def is_pure_vectorized(selection: Any, ndim: int) -> bool:
    """numpy's fancy indexing, as ``Array.__getitem__`` dispatches it: a full boolean mask,
    or integer arrays in every dimension (a single 1-d array is orthogonal anyway)."""
    sel = selection if isinstance(selection, tuple) else (selection,)
    arrays = [_index_array(s) for s in sel if _is_array_like(s)]
    if len(sel) == 1 and ndim > 1 and arrays and arrays[0].dtype == bool:
        return arrays[0].ndim == ndim
    if len(arrays) < 2 and not any(a.ndim > 1 for a in arrays):
        return False
    return len(sel) == ndim and all(_is_array_like(s) or is_integer(s) for s in sel)
