"""Copy decoded chunks into a strided output, and plain byte-range copies, one launch each.

:func:`copy_boxes` moves many n-d boxes: box i takes ``counts[i]`` elements (per
dimension) starting at ``src_base[i]`` with steps ``src_strides[i]`` from the decoded
chunks, and writes them at ``dst_base[i]`` with steps ``dst_strides[i]`` in the output.
Everything is counted in *units* (the buffers may be viewed as uint8, uint16, uint32 or
uint64 when item size, offsets and strides allow; an element is ``per`` units). That
covers the selections of basic and orthogonal-slice indexing: an int in a chunk
dimension is a count of 1 with no output stride; a slice with a step is a stride
multiple; a negative-step selection is a negative output stride; edge chunks are boxes
cut short. A box with ``src_base < 0`` is filled with ``fill`` (a missing chunk).

:func:`copy_segments` copies ``(src, dst, length)`` byte ranges (Blosc's stored-raw
splits and memcpyed chunks). Numpy references: slicing assignment.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ._launch import grid_2d, host_max


@cuda.jit
def _copy_boxes(src, dst, fill, src_base, src_strides, dst_base, dst_strides, counts, per):
    box = cuda.blockIdx.x
    ndim = counts.shape[1]
    total = 1
    for d in range(ndim):
        total *= counts[box, d]
    s0 = src_base[box]
    d0 = dst_base[box]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for e in range(start, total, step):
        rest = e
        s = s0
        t = d0
        for dd in range(ndim):  # C order: the last dimension varies fastest
            d = ndim - 1 - dd
            c = counts[box, d]
            i = rest % c
            rest //= c
            s += i * src_strides[box, d]
            t += i * dst_strides[box, d]
        if s0 < 0:
            for u in range(per):
                dst[t + u] = fill[u]
        else:
            for u in range(per):
                dst[t + u] = src[s + u]


@cuda.jit
def _copy_segments(src, dst, src_offsets, dst_offsets, lengths):
    seg = cuda.blockIdx.x
    length = lengths[seg]
    s0 = src_offsets[seg]
    d0 = dst_offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for p in range(start, length, step):
        dst[d0 + p] = src[s0 + p]


def copy_boxes(
    src: Any,
    dst: Any,
    fill: Any,
    src_base: Any,
    src_strides: Any,
    dst_base: Any,
    dst_strides: Any,
    counts: Any,
    per: int,
    *,
    max_elements: int | None = None,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """Copy every box (see the module docstring). ``src``, ``dst`` and ``fill`` are flat
    arrays of one unit type; ``src_base``/``dst_base`` are int64 (n,), the strides and
    ``counts`` int64 (n, ndim), in units. ``max_elements`` (the largest box's element
    count) is needed when the descriptors are on the device."""
    n = len(src_base)
    if n == 0:
        return
    sizes = counts.prod(axis=1) if isinstance(counts, np.ndarray) else counts
    grid, block = grid_2d(n, host_max(sizes, max_elements, "copy_boxes"), threads)
    _copy_boxes[grid, block, stream](
        src, dst, fill, src_base, src_strides, dst_base, dst_strides, counts, per
    )


def copy_segments(
    src: Any,
    dst: Any,
    src_offsets: Any,
    dst_offsets: Any,
    lengths: Any,
    *,
    max_length: int | None = None,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """``dst[dst_offsets[i]:][:lengths[i]] = src[src_offsets[i]:][:lengths[i]]`` for all i
    (flat arrays of one type, int64 descriptors, non-overlapping)."""
    n = len(lengths)
    if n == 0:
        return
    grid, block = grid_2d(n, host_max(lengths, max_length, "copy_segments"), threads)
    _copy_segments[grid, block, stream](src, dst, src_offsets, dst_offsets, lengths)
