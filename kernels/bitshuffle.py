"""Bit shuffle and unshuffle of many blocks in one launch, Blosc's per-block layout.

For a block of ``size`` bytes with ``n = size // typesize`` elements and ``n % 8 == 0``,
the first ``n * typesize`` bytes are ``8 * typesize`` bit rows of ``n / 8`` bytes: bit k
(LSB = 0) of byte j of element i sits in row ``8j + k``, byte ``i // 8``, bit ``i % 8``.
The ``size % typesize`` trailing bytes are copied. When ``n`` is not a multiple of 8,
c-blosc stores the block as it is, and so do these kernels (formats.md 5.3, c-blosc
``bitshuffle()``/``bitunshuffle()``). This is not the HDF5 bitshuffle filter's 8 KiB
inner blocking.

Each thread produces one output byte from 8 input bytes (one bit each). Numpy references:
:func:`cuzarr.codecs.blosc_plan.bit_unshuffle` and :func:`~cuzarr.codecs.blosc_plan.bit_shuffle`.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from ._launch import launch_segments


@cuda.jit
def _bit_unshuffle(src, dst, src_offsets, dst_offsets, sizes, typesizes):
    seg = cuda.blockIdx.x
    size = sizes[seg]
    ts = typesizes[seg]
    n = size // ts
    body = n * ts if n % 8 == 0 else 0  # not a multiple of 8: stored unshuffled
    row = n // 8  # bytes per bit row
    s0 = src_offsets[seg]
    d0 = dst_offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for p in range(start, size, step):
        if p < body:
            i = p // ts  # element
            j = p - i * ts  # byte within the element
            at = s0 + 8 * j * row + i // 8
            bit = i % 8
            value = 0
            for k in range(8):
                value |= ((src[at + k * row] >> bit) & 1) << k
            dst[d0 + p] = value
        else:
            dst[d0 + p] = src[s0 + p]


@cuda.jit
def _bit_shuffle(src, dst, src_offsets, dst_offsets, sizes, typesizes):
    seg = cuda.blockIdx.x
    size = sizes[seg]
    ts = typesizes[seg]
    n = size // ts
    body = n * ts if n % 8 == 0 else 0
    row = n // 8
    s0 = src_offsets[seg]
    d0 = dst_offsets[seg]
    start = cuda.blockIdx.y * cuda.blockDim.x + cuda.threadIdx.x
    step = cuda.gridDim.y * cuda.blockDim.x
    for q in range(start, size, step):
        if q < body:
            r = q // row  # bit row = 8 * byte + bit
            first = (q - r * row) * 8  # first of the 8 elements this byte covers
            j = r // 8
            k = r % 8
            value = 0
            for m in range(8):
                value |= ((src[s0 + (first + m) * ts + j] >> k) & 1) << m
            dst[d0 + q] = value
        else:
            dst[d0 + q] = src[s0 + q]


def bit_unshuffle(
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
    """Bit-unshuffle segment i, ``src[src_offsets[i]:][:sizes[i]]`` (element size
    ``typesizes[i]`` >= 1), into ``dst[dst_offsets[i]:]``. Flat uint8 buffers that do
    not overlap; int64 descriptors; ``max_size`` when ``sizes`` is on the device."""
    args = (src, dst, src_offsets, dst_offsets, sizes, typesizes)
    launch_segments(_bit_unshuffle, args, max_size, stream, threads, "bitshuffle")


def bit_shuffle(
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
    """The inverse of :func:`bit_unshuffle`."""
    args = (src, dst, src_offsets, dst_offsets, sizes, typesizes)
    launch_segments(_bit_shuffle, args, max_size, stream, threads, "bitshuffle")
