"""The read path: for each batch of chunk projections, one batched store read, then
decode and scatter into the preallocated output on the thread pool.

A chunk that is a whole, C-contiguous slab of the output is decompressed straight into
it. Missing chunks are written with the fill value without touching the store again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from cuzarr.concurrency import parallel_map
from cuzarr.indexing import ChunkProjection
from cuzarr.pipeline.chunk_io import ChunkIO


def read_projections(io: ChunkIO, projections: Sequence[ChunkProjection], out: np.ndarray) -> None:
    """Fill ``out`` (already the view the projections index) from storage."""
    for batch in io.batches(projections):
        _read_batch(io, batch, out)


def _may_decode_in_place(io: ChunkIO, out: np.ndarray) -> bool:
    """Cheap once-per-batch test: a chunk can only be a C-contiguous slab of ``out`` when
    it spans all of out's trailing dimensions (and the codecs allow it)."""
    shape = io.unit_shape
    return (
        out.flags.c_contiguous
        and len(shape) == out.ndim
        and tuple(shape[1:]) == out.shape[1:]
        and io.chain.decodes_into_out(io.spec((0,) * len(shape)))
    )


def _direct_target(io: ChunkIO, p: ChunkProjection, out: np.ndarray) -> np.ndarray | None:
    """The slab of ``out`` a chunk can be decoded into in place, or None."""
    if not p.is_complete:
        return None
    spec = io.spec(p.chunk_coords)
    if out.dtype != spec.dtype or not io.chain.decodes_into_out(spec):
        return None
    if not all(isinstance(s, slice) for s in p.out_selection) or len(p.out_selection) != len(
        spec.shape
    ):
        return None
    target = out[(*p.out_selection, Ellipsis)]  # a view even for 0-d output
    if target.shape != spec.shape or not target.flags.c_contiguous:
        return None
    return target


def _read_batch(io: ChunkIO, batch: Sequence[ChunkProjection], out: np.ndarray) -> None:
    datas = io.fetch([p.chunk_coords for p in batch])  # one batched store call
    present = [i for i, d in enumerate(datas) if d is not None]
    fill = io.metadata.fill_value
    for i, d in enumerate(datas):
        if d is None:
            out[batch[i].out_selection] = fill
    if not present:
        return
    in_place = _may_decode_in_place(io, out)
    scratch_ok = io.chain.decodes_into_out(io.spec(batch[present[0]].chunk_coords))

    def decode_and_scatter(i: int) -> None:
        # On the host, each pool task takes one chunk through the whole codec chain and
        # into the output while it is still in cache: one pool stage per batch, with the
        # C codecs (which drop the GIL) running on all threads at once. The chain keeps
        # its batch interface for the device backend, which decodes layer by layer.
        p = batch[i]
        spec = io.spec(p.chunk_coords)
        target = _direct_target(io, p, out) if in_place else None
        if target is None:
            # Decompress into this thread's reused buffer rather than a fresh one
            # (allocating is a large part of decompressing), then copy out the part wanted.
            chunk = io.chain.decode_chunk(
                datas[i], spec, _scratch(spec) if scratch_ok else None, io.key(p.chunk_coords)
            )
            out[p.out_selection] = chunk[p.chunk_selection]
        else:
            chunk = io.chain.decode_chunk(datas[i], spec, target, io.key(p.chunk_coords))
            if not np.may_share_memory(chunk, target):  # the codec could not decode in place
                target[...] = chunk

    parallel_map(decode_and_scatter, present, work_bytes=len(present) * io.unit_nbytes)


_local = threading.local()


def _scratch(spec) -> np.ndarray:
    """A per-thread buffer for one decoded chunk, reused while chunks keep their shape."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.shape != spec.shape or buf.dtype != spec.dtype:
        buf = _local.buf = np.empty(spec.shape, dtype=spec.dtype)
    return buf
