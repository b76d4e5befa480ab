"""Byte shuffle and unshuffle of many blocks in one launch, Blosc's per-block layout.

A shuffled block of ``size`` bytes with ``n = size // typesize`` elements holds byte
plane j (byte j of every element) at ``[j*n, (j+1)*n)``; the ``size % typesize`` trailing
bytes are not shuffled (formats.md 5.3). One segment of the batch is one Blosc block (or
a whole buffer, for the numcodecs ``shuffle`` filter); each thread writes output bytes,
so writes are coalesced. Numpy references: :func:`cuzarr.codecs.blosc_plan.byte_unshuffle`
and :func:`~cuzarr.codecs.blosc_plan.byte_shuffle`.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from ._launch import launch_segments


@cuda.jit
def _byte_unshuffle(src, dst, src_offsets, dst_offsets, sizes, typesizes):
    seg = cuda.blockIdx.x
    size = sizes[seg]
    ts = typesizes[seg]
    n = size // ts
    body = n * ts
    s0 = src_offsets[seg]
    d0 = dst_offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for p in range(start, size, step):
        if p < body:
            i = p // ts  # element
            j = p - i * ts  # byte within the element
            dst[d0 + p] = src[s0 + j * n + i]
        else:
            dst[d0 + p] = src[s0 + p]


@cuda.jit
def _byte_shuffle(src, dst, src_offsets, dst_offsets, sizes, typesizes):
    seg = cuda.blockIdx.x
    size = sizes[seg]
    ts = typesizes[seg]
    n = size // ts
    body = n * ts
    s0 = src_offsets[seg]
    d0 = dst_offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for q in range(start, size, step):
        if q < body:
            j = q // n  # byte plane
            i = q - j * n  # element
            dst[d0 + q] = src[s0 + i * ts + j]
        else:
            dst[d0 + q] = src[s0 + q]


def byte_unshuffle(
    src: Any,
    dst: Any,
    src_offsets: Any,
    dst_offsets: Any,
    sizes: Any,
    typesizes: Any,
    *,
    max_size: int | None = None,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """Unshuffle segment i, ``src[src_offsets[i]:][:sizes[i]]`` with element size
    ``typesizes[i]`` (>= 1), into ``dst[dst_offsets[i]:]``. ``src`` and ``dst`` are flat
    uint8 arrays and must not overlap; the descriptors are int64 arrays. ``max_size`` is
    needed when ``sizes`` lives on the device."""
    args = (src, dst, src_offsets, dst_offsets, sizes, typesizes)
    launch_segments(_byte_unshuffle, args, max_size, stream, threads, "shuffle")


def byte_shuffle(
    src: Any,
    dst: Any,
    src_offsets: Any,
    dst_offsets: Any,
    sizes: Any,
    typesizes: Any,
    *,
    max_size: int | None = None,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """The inverse of :func:`byte_unshuffle` (what a Blosc encoder does per block)."""
    args = (src, dst, src_offsets, dst_offsets, sizes, typesizes)
    launch_segments(_byte_shuffle, args, max_size, stream, threads, "shuffle")
