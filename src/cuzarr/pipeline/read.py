"""The read path: chunks are fetched, decoded and scattered into the preallocated output
on the thread pool.

From a store whose requests are cheap (local files, memory) each pool task fetches a
piece of the request and decodes it; from a costly one (network) each batch is fetched
in one batched store call, then decoded on the pool. A request too small for the pool
runs on the calling thread, store calls included.

A chunk that is a whole, C-contiguous slab of the output is decompressed straight into
it. Missing chunks are written with the fill value without touching the store again.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from cuzarr.concurrency import PARALLEL_MIN_BYTES, inline, parallel_map, run_each, split_runs
from cuzarr.indexing import ChunkProjection
from cuzarr.pipeline.chain import named_failure
from cuzarr.pipeline.chunk_io import ChunkIO


def read_projections(io: ChunkIO, projections: Sequence[ChunkProjection], out: np.ndarray) -> None:
    """Fill ``out`` (already the view the projections index) from storage."""
    if not io.store.supports_partial_reads:
        # Costly requests (network): one batched fetch per batch lets the store run them
        # concurrently, then the batch is decoded on the pool.
        for batch in io.batches(projections):
            _read_batch(io, batch, out)
        return
    # Cheap requests (local files, memory): each pool task reads a piece of the request
    # and decodes it, so a thread's reads overlap the other threads' decompression. All
    # pieces go to the pool at once, with no wait at batch ends.
    pieces = [piece for batch in io.batches(projections) for piece in _pieces(io, batch)]
    if len(pieces) > 1:
        run_each(lambda piece: _read_batch(io, piece, out), pieces)
        return
    # Too little work for the pool: its store calls too stay on this thread.
    with inline():
        for piece in pieces:
            _read_batch(io, piece, out)


# Decoded bytes per piece: small enough to keep the threads evenly busy to the end, big
# enough that a piece's own fetch (a store call wrapped in Python; for a sharded array
# the index lookup and the range reads) is a small part of it. Measured: 1 MiB pieces
# read sharded arrays 10-25% slower than 4 MiB ones.
PIECE_BYTES = 4 << 20


def _pieces(io: ChunkIO, batch: Sequence[ChunkProjection]) -> list[Sequence[ChunkProjection]]:
    """A batch cut into pieces of about PIECE_BYTES of chunks (at least two when it is
    worth the pool at all)."""
    nbytes = len(batch) * io.unit_nbytes
    if nbytes < PARALLEL_MIN_BYTES or len(batch) < 2:
        return [batch]
    return split_runs(batch, min(len(batch), max(2, nbytes // PIECE_BYTES)))


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
    chain, spec_of = io.chain, io.spec
    in_place = _may_decode_in_place(io, out)
    scratch_ok = chain.scratch_helps(spec_of(batch[present[0]].chunk_coords))

    def decode_and_scatter(i: int) -> None:
        # On the host, each chunk goes through the whole codec chain and into the output
        # while it is still in cache, with the C codecs (which drop the GIL) running on
        # all threads at once. The chain keeps its batch interface for the device
        # backend, which decodes layer by layer. The Python here holds the GIL once per
        # chunk, so with small chunks every step counts: keep it short.
        p = batch[i]
        spec = spec_of(p.chunk_coords)
        target = _direct_target(io, p, out) if in_place else None
        try:
            if target is None:
                # Where the codec decodes into out= without a buffer of its own, use this
                # thread's reused buffer rather than a fresh one (fresh pages for every
                # big chunk cost more than the copy), then copy out the part wanted.
                chunk = chain.decode_chunk(datas[i], spec, _scratch(spec) if scratch_ok else None)
            else:
                chunk = chain.decode_chunk(datas[i], spec, target)
        except Exception as e:
            # The chunk's name only now: building it for every chunk costs more than a
            # small chunk's copy.
            raise named_failure(e, io.key(p.chunk_coords)) from e
        if target is None:
            out[p.out_selection] = chunk[p.chunk_selection]
        elif not np.may_share_memory(chunk, target):  # the codec could not decode in place
            target[...] = chunk

    parallel_map(decode_and_scatter, present, work_bytes=len(present) * io.unit_nbytes)


_local = threading.local()


def _scratch(spec) -> np.ndarray:
    """A per-thread buffer for one decoded chunk, reused while chunks keep their shape."""
    buf = getattr(_local, "buf", None)
    if buf is None or buf.shape != spec.shape or buf.dtype != spec.dtype:
        buf = _local.buf = np.empty(spec.shape, dtype=spec.dtype)
    return buf
