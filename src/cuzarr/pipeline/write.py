"""The write path: gather -> (read old chunks where a write is partial) -> encode the
batch -> one batched store write. Under sharding, each shard the write does not replace
entirely is read once, whole, for both the old chunks and the ones the rewrite keeps.

A chunk whose selection covers all of its in-bounds elements is built fresh (fill value
outside the array, as the spec recommends); a partial chunk is read, decoded and
modified. Chunks that end up holding only the fill value are deleted rather than
written (unless ``write_empty_chunks``). A batch is fully encoded before any of it is
stored, so a value that fails to encode leaves the batch's chunks untouched. Threads that
write the same chunks or shards take turns (:mod:`cuzarr.locks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec
from cuzarr.concurrency import parallel_map
from cuzarr.indexing import ChunkProjection
from cuzarr.locks import holding_objects
from cuzarr.pipeline.chunk_io import ChunkIO


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
