"""CRC-32C (Castagnoli) of many buffers in one launch, table-driven.

One CUDA block per segment. Its threads each run the byte-table CRC over one contiguous
piece of the segment; thread 0 then joins the pieces in order with the CRC combination
rule ``crc(A || B) = crc(A) * x^(8|B|) mod P  xor  crc0(B)`` (GF(2) arithmetic, ``crc0``
starting from a zero register), so a long buffer is not read by a single thread. The
result equals the ``crc32c`` package's (the zarr ``crc32c`` codec's) checksum.

The tables are built on the host with numpy (:func:`tables`) and passed as arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda, uint32

from ._launch import default_threads

POLY = 0x82F63B78  # CRC-32C polynomial, bit-reversed
MAX_THREADS = 256  # size of the per-block scratch; launches use at most this many threads
_X0 = 0x80000000  # the polynomial "1" in the reflected representation


def byte_table() -> np.ndarray:
    """crc register after one byte, for each byte value (the classic 256-entry table)."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(POLY), crc >> 1).astype(np.uint32)
    return crc


def _multiply(a: int, b: int) -> int:
    """a * b mod P in the reflected representation (host version of ``_mulmod``)."""
    product = 0
    m = _X0
    while m:
        if a & m:
            product ^= b
        b = (b >> 1) ^ POLY if b & 1 else b >> 1
        m >>= 1
    return product


def power_table() -> np.ndarray:
    """``x^(8 * 2^k) mod P`` for k = 0..63: shifting a register by ``2^k`` zero bytes."""
    powers = np.zeros(64, dtype=np.uint32)
    p = _X0 >> 1  # x
    for _ in range(3):  # x^8
        p = _multiply(p, p)
    for k in range(64):
        powers[k] = p
        p = _multiply(p, p)
    return powers


def tables() -> tuple[np.ndarray, np.ndarray]:
    return byte_table(), power_table()


@cuda.jit(device=True)
def _mulmod(a, b):
    product = uint32(0)
    m = uint32(_X0)
    for _ in range(32):
        if a & m:
            product ^= b
        if b & 1:
            b = (b >> 1) ^ uint32(POLY)
        else:
            b = b >> 1
        m = m >> 1
    return uint32(product)


@cuda.jit(device=True)
def _shift(crc, nbytes, powers):
    """crc * x^(8 * nbytes) mod P."""
    k = 0
    while nbytes:
        if nbytes & 1:
            crc = _mulmod(powers[k], crc)
        nbytes >>= 1
        k += 1
    return crc


@cuda.jit
def _crc32c(buf, offsets, lengths, out, table, powers):
    seg = cuda.blockIdx.x
    t = cuda.threadIdx.x
    nthreads = cuda.blockDim.x
    parts = cuda.shared.array(MAX_THREADS, uint32)
    length = lengths[seg]
    piece = (length + nthreads - 1) // nthreads
    lo = t * piece  # (min() is avoided: not every numba CUDA target types it for ints)
    if lo > length:
        lo = length
    hi = lo + piece
    if hi > length:
        hi = length
    crc = uint32(0xFFFFFFFF) if t == 0 else uint32(0)
    base = offsets[seg]
    for p in range(base + lo, base + hi):
        crc = table[(crc ^ buf[p]) & 0xFF] ^ (crc >> 8)
    parts[t] = crc
    cuda.syncthreads()
    if t == 0:
        total = parts[0]
        full = uint32(0)
        if piece > 0:
            full = _shift(uint32(_X0), piece, powers)
        for u in range(1, nthreads):
            begin = u * piece
            if begin >= length:
                break  # the pieces after the end are empty
            size = length - begin
            if size >= piece:
                total = _mulmod(full, total) ^ parts[u]
            else:
                total = _shift(total, size, powers) ^ parts[u]
        out[seg] = total ^ uint32(0xFFFFFFFF)


def crc32c(
    buf: Any,
    offsets: Any,
    lengths: Any,
    out: Any,
    table: Any = None,
    powers: Any = None,
    *,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """``out[i]`` = CRC-32C of ``buf[offsets[i] : offsets[i] + lengths[i]]`` (flat uint8
    buffer, int64 descriptors, uint32 output). ``table``/``powers`` default to
    :func:`tables` (pass device copies to avoid re-uploading them per launch)."""
    n = len(lengths)
    if n == 0:
        return
    if table is None or powers is None:
        table, powers = tables()
    threads = min(threads or default_threads(), MAX_THREADS)
    _crc32c[n, threads, stream](buf, offsets, lengths, out, table, powers)
