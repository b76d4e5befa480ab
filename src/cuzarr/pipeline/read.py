"""The read path: for each batch of chunk projections, one batched store read, one
batched decode, then a scatter into the preallocated output.

A chunk that is a whole, C-contiguous slab of the output is decompressed straight into
it. Missing chunks are written with the fill value without touching the store again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cuzarr.concurrency import parallel_map
from cuzarr.indexing import ChunkProjection
from cuzarr.pipeline.chunk_io import ChunkIO


def read_projections(io: ChunkIO, projections: Sequence[ChunkProjection], out: np.ndarray) -> None:
    """Fill ``out`` (already the view the projections index) from storage."""
    for batch in io.batches(projections):
        _read_batch(io, batch, out)


def _direct_target(io: ChunkIO, p: ChunkProjection, out: np.ndarray) -> np.ndarray | None:
    """The slab of ``out`` a chunk can be decoded into in place, or None."""
    spec = io.spec(p.chunk_coords)
    if not p.is_complete or out.dtype != spec.dtype or not io.chain.decodes_into_out(spec):
        return None
    if not all(isinstance(s, slice) for s in p.out_selection) or len(p.out_selection) != len(spec.shape):
        return None
    target = out[p.out_selection]
    if target.shape != spec.shape or not target.flags.c_contiguous:
        return None
    return target


def _read_batch(io: ChunkIO, batch: Sequence[ChunkProjection], out: np.ndarray) -> None:
    keys = [io.key(p.chunk_coords) for p in batch]
    datas = io.fetch([p.chunk_coords for p in batch])
    present = [i for i, d in enumerate(datas) if d is not None]
    missing = [batch[i] for i, d in enumerate(datas) if d is None]
    fill = io.metadata.fill_value
    for p in missing:
        out[p.out_selection] = fill
    if not present:
        return
    targets = [_direct_target(io, batch[i], out) for i in present]
    chunks = io.chain.decode(
        [datas[i] for i in present],
        [io.spec(batch[i].chunk_coords) for i in present],
        targets if any(t is not None for t in targets) else None,
        [keys[i] for i in present],
    )

    def scatter(i: int, chunk: np.ndarray, target: Any) -> None:
        if target is not None and np.may_share_memory(chunk, target):
            return  # decoded in place
        p = batch[i]
        out[p.out_selection] = chunk[p.chunk_selection]

    parallel_map(scatter, present, chunks, targets)
