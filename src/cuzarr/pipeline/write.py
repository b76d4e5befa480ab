"""The write path: gather -> (read old chunks where a write is partial) -> encode the
batch -> one batched store write. Under sharding, each shard the write does not replace
entirely is read once, whole, for both the old chunks and the ones the rewrite keeps.

A chunk whose selection covers all of its in-bounds elements is built fresh (fill value
outside the array, as the spec recommends); a partial chunk is read, decoded and
modified. Chunks that end up holding only the fill value are deleted rather than
written (unless ``write_empty_chunks``). A batch is fully encoded before any of it is
stored, so a value that fails to encode leaves the batch's chunks untouched. Threads that
write the same chunks or shards take turns (:mod:`cuzarr.locks`).

:func:`trim` runs before a resize stores the new shape: what is stored outside the part
of the array that the old and new shapes share is made to read as the fill value, so a
value a shrink removed never reappears when the array grows again, even when the process
dies between the steps (the shape is written last).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec
from cuzarr.concurrency import parallel_map
from cuzarr.indexing import ChunkProjection
from cuzarr.locks import holding_objects
from cuzarr.pipeline.chunk_io import ChunkIO, make_chunk_io


def write_projections(
    io: ChunkIO,
    projections: Sequence[ChunkProjection],
    value: np.ndarray,
    write_empty_chunks: bool = False,
) -> None:
    """Write ``value`` (already the view the projections index, and of the array's
    dtype) into the chunks."""
    for batch in io.batches(projections):
        _write_batch(io, batch, value, write_empty_chunks)


def chunk_is_fill(chunk: np.ndarray, fill: Any) -> bool:
    """Whether every element is bit-for-bit the fill value. Floats compare as bits, so a
    NaN with another payload, a -0.0 under a 0.0 fill, or a complex number that is NaN
    in only one part is data, not fill."""
    kind = chunk.dtype.kind
    if kind == "V":
        return chunk.tobytes() == np.asarray(fill, dtype=chunk.dtype).tobytes() * chunk.size
    if kind in "mM":  # NaT != NaT, but a chunk of NaT under a NaT fill is empty
        return bool(
            (chunk.view(np.int64) == np.asarray(fill, dtype=chunk.dtype).view(np.int64)).all()
        )
    if kind in "fc":
        unit = np.dtype(f"u{chunk.dtype.itemsize // (2 if kind == 'c' else 1)}")
        bits = np.ascontiguousarray(chunk).view(unit).reshape(-1, 2 if kind == "c" else 1)
        return bool((bits == np.asarray(fill, dtype=chunk.dtype).reshape(1).view(unit)).all())
    return bool((chunk == fill).all())


def _decode_old(
    io: ChunkIO, batch: Sequence[ChunkProjection], keys: list[str], datas: list[Any | None]
) -> dict[int, np.ndarray]:
    """Decode the stored chunks that partial writes modify."""
    stored = [(i, d) for i, d in enumerate(datas) if d is not None]
    if not stored:
        return {}
    decoded = io.chain.decode(
        [d for _, d in stored],
        [io.spec(batch[i].chunk_coords) for i, _ in stored],
        names=[keys[i] for i, _ in stored],
    )
    return {i: c for (i, _), c in zip(stored, decoded)}


def _new_chunk(spec: ChunkSpec, old: np.ndarray | None) -> np.ndarray:
    if old is not None:
        return np.array(old, dtype=spec.dtype, order="C")  # writable copy
    return np.full(spec.shape, spec.fill_value, dtype=spec.dtype)


def _write_batch(io: ChunkIO, batch, value: np.ndarray, write_empty: bool) -> None:
    # Another thread's (on local folders, another process's) write to the same chunks or
    # shards waits until these are stored: both read, merge and store, and one of them
    # would otherwise lose the other's values.
    stored = io.stored_keys([p.chunk_coords for p in batch])
    with holding_objects(io.store, stored):
        _write_batch_locked(io, batch, value, write_empty)


def _write_batch_locked(io: ChunkIO, batch, value: np.ndarray, write_empty: bool) -> None:
    keys = [io.key(p.chunk_coords) for p in batch]
    specs = [io.spec(p.chunk_coords) for p in batch]
    # The shard view reads each shard it rewrites once, whole, and keeps that shard's
    # untouched inner chunks for the rewrite.
    old_datas, store = io.read_for_write(
        [p.chunk_coords for p in batch], [p.is_complete for p in batch]
    )
    old = _decode_old(io, batch, keys, old_datas)

    def build(i: int) -> np.ndarray:
        p, spec = batch[i], specs[i]
        src = value[p.out_selection]
        if p.is_complete and src.shape == spec.shape and _is_whole(p.chunk_selection, spec.shape):
            return src  # the value already is the chunk
        chunk = _new_chunk(spec, old.get(i))
        chunk[p.chunk_selection] = src
        return chunk

    fill = io.metadata.fill_value

    def build_and_encode(i: int) -> Any | None:
        # One pool task per chunk: assemble, test for fill, encode (None: not stored).
        chunk = build(i)
        if not write_empty and chunk_is_fill(chunk, fill):
            return None
        return io.chain.encode([chunk], [specs[i]])[0]  # codecs run inline on a pool thread

    # Everything is encoded before anything is stored: a failure leaves the batch untouched.
    datas = parallel_map(
        build_and_encode, list(range(len(batch))), work_bytes=len(batch) * io.unit_nbytes
    )
    store(datas)


def _is_whole(selection: tuple[Any, ...], shape: tuple[int, ...]) -> bool:
    return len(selection) == len(shape) and all(
        isinstance(s, slice) and s.start == 0 and s.stop == n and s.step == 1
        for s, n in zip(selection, shape)
    )


# -- trimming before a resize -----------------------------------------------------------


def trim(
    io: ChunkIO,
    new_shape: Sequence[int],
    stored: Iterable[tuple[int, ...]],
    write_empty: bool = False,
) -> None:
    """Before the shape changes from ``io``'s to ``new_shape``: make what is stored
    outside ``keep`` (the shape both share) read as the fill value. ``stored`` are the
    grid coordinates of the stored objects (chunks, or shards). An object wholly outside
    ``keep`` is deleted; a storage unit (chunk, or inner chunk of a shard) that reaches
    past ``keep`` on an axis that changes is rewritten with the fill value outside
    ``keep``, or deleted when nothing else is left in it. Units that are already clear
    are not rewritten, so growing an array written only by resize-safe writers reads its
    edge units and writes nothing."""
    old_shape = io.metadata.shape
    keep = tuple(map(min, old_shape, new_shape))
    changed = [k for k, (a, b) in enumerate(zip(old_shape, new_shape)) if a != b]
    if not changed:
        return
    grid = io.metadata.chunk_grid.grid_shape(old_shape)
    # Units per stored object along each axis (a shard holds several inner chunks).
    per = getattr(io, "per_shard", (1,) * len(keep))
    # The first unit, per axis, that is not wholly inside keep.
    cuts = [int(d.chunk_of(k)) for d, k in zip(io.dims, keep)]
    gone, units = [], []
    for obj in set(stored):
        if any(c < 0 for c in obj):
            continue  # no key this array writes
        low = [c * p for c, p in zip(obj, per)]
        if any(c >= n for c, n in zip(obj, grid)) or any(
            d.start(u) >= k for d, u, k in zip(io.dims, low, keep)
        ):
            gone.append(obj)
        else:
            units.extend(_units_past(low, per, cuts, changed))
    # Units are rewritten under the shape they will have, so that formats which store
    # edge chunks truncated (N5) store them to the new extent.
    trimmed = make_chunk_io(io.store, io.prefix, io.metadata.with_shape(keep))
    for i in range(0, len(units), size := trimmed.batch_size()):
        _trim_batch(trimmed, units[i : i + size], keep, write_empty)
    if gone:
        io.delete_objects(gone)


def _units_past(
    low: Sequence[int], per: Sequence[int], cuts: Sequence[int], changed: Sequence[int]
) -> Iterator[tuple[int, ...]]:
    """The units of the object whose first unit is ``low`` (``per`` units along each
    axis) that reach past the cut on one of the ``changed`` axes: for each such axis,
    the units at or past its cut and before the cut on the changed axes before it (so
    no unit comes twice)."""
    for k in changed:
        ranges = []
        for j, (lo, n, cut) in enumerate(zip(low, per, cuts)):
            hi = lo + n
            if j == k:
                ranges.append(range(max(lo, cut), hi))
            elif j in changed and j < k:
                ranges.append(range(lo, min(hi, cut)))
            else:
                ranges.append(range(lo, hi))
        yield from itertools.product(*ranges)


_UNCHANGED = object()


def _trim_batch(io: ChunkIO, units: list[tuple[int, ...]], keep, write_empty: bool) -> None:
    with holding_objects(io.store, io.stored_keys(units)):
        datas = io.fetch(units)
        changes = []
        for coords, data in zip(units, datas):
            if data is not None:
                new = _trimmed_unit(io, coords, data, keep, write_empty)
                if new is not _UNCHANGED:
                    changes.append((coords, new))
        if changes:
            io.store_units([c for c, _ in changes], [d for _, d in changes])


def _trimmed_unit(io: ChunkIO, coords, data: Any, keep, write_empty: bool) -> Any:
    """The unit's new encoded bytes with the fill value outside ``keep`` (None: delete
    it), or _UNCHANGED when it holds only the fill value there already."""
    starts = [d.start(c) for d, c in zip(io.dims, coords)]
    if any(s >= k for s, k in zip(starts, keep)):
        return None  # wholly outside
    spec = io.spec(coords)
    (chunk,) = io.chain.decode([data], [spec], names=[io.key(coords)])
    fill = io.metadata.fill_value
    boxes = _outside_boxes([k - s for s, k in zip(starts, keep)], spec.shape)
    if all(chunk_is_fill(chunk[box], fill) for box in boxes):
        return _UNCHANGED
    chunk = np.array(chunk, order="C")  # writable copy
    for box in boxes:
        chunk[box] = fill
    if not write_empty and chunk_is_fill(chunk, fill):
        return None
    return io.chain.encode([chunk], [spec])[0]


def _outside_boxes(inside: Sequence[int], shape: Sequence[int]) -> list[tuple[slice, ...]]:
    """Disjoint boxes covering a chunk of ``shape`` outside its first ``inside`` elements
    per axis: for each axis cut short, the part past the cut and inside on the axes
    before it."""
    boxes = []
    for axis, (n, size) in enumerate(zip(inside, shape)):
        if n < size:
            head = tuple(slice(0, min(m, s)) for m, s in zip(inside[:axis], shape))
            boxes.append((*head, slice(n, None)))
    return boxes
