"""Byte order reversal of many segments in place, one launch per batch.

Segment i is ``counts[i]`` items of ``itemsizes[i]`` bytes starting at ``offsets[i]`` of
a flat uint8 buffer; each item's bytes are reversed (a big-endian chunk becomes native).
For complex types the item is one component (8 bytes for complex128), as numpy's
``byteswap`` does. One thread per item. Numpy reference: ``ndarray.byteswap``.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from ._launch import grid_2d, host_max


@cuda.jit
def _byteswap(buf, offsets, counts, itemsizes):
    seg = cuda.blockIdx.x
    count = counts[seg]
    size = itemsizes[seg]
    base = offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for item in range(start, count, step):
        lo = base + item * size
        hi = lo + size - 1
        for b in range(size // 2):
            tmp = buf[lo + b]
            buf[lo + b] = buf[hi - b]
            buf[hi - b] = tmp


def byteswap(
    buf: Any,
    offsets: Any,
    counts: Any,
    itemsizes: Any,
    *,
    max_count: int | None = None,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """Reverse the bytes of every item of every segment of ``buf`` (flat uint8), in
    place. Descriptors are int64 arrays; ``max_count`` when ``counts`` is on the device."""
    n = len(counts)
    if n == 0:
        return
    grid, block = grid_2d(n, host_max(counts, max_count, "byteswap"), threads)
    _byteswap[grid, block, stream](buf, offsets, counts, itemsizes)
