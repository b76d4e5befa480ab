"""Decompression bombs: small streams that decode to huge outputs, made cheaply.

DEFLATE of zeros reaches a steady state: once the window holds only zeros, every further
MiB of zeros flushed to a byte boundary compresses to the same bytes, so a 1 GiB stream
is one segment repeated. zstd bombs are written block by block (RLE blocks), and headers
may claim sizes the body does not hold. bz2 and xz streams may be concatenated, which
every decoder that follows the formats must accept.
"""

from __future__ import annotations

import bz2
import functools
import lzma
import struct
import zlib

import numcodecs
import zstandard

MIB = 1 << 20
ZSTD_MAGIC = 0xFD2FB528
ZSTD_BLOCK = 128 * 1024  # the largest zstd block


@functools.cache
def deflate_zeros(size: int) -> bytes:
    """A raw DEFLATE stream of ``size`` zeros (a multiple of 1 MiB, at least 2 MiB)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    mib = bytes(MIB)
    first = c.compress(mib) + c.flush(zlib.Z_SYNC_FLUSH)
    steady = c.compress(mib) + c.flush(zlib.Z_SYNC_FLUSH)
    again = c.compress(mib) + c.flush(zlib.Z_SYNC_FLUSH)
    assert steady == again, "DEFLATE of zeros did not reach a steady state"
    return first + steady * (size // MIB - 1) + c.flush()


@functools.cache
def crc32_of_zeros(size: int) -> int:
    mib = bytes(MIB)
    crc = 0
    for _ in range(size // MIB):
        crc = zlib.crc32(mib, crc)
    return crc


def gzip_member(size: int, isize: int | None = None) -> bytes:
    """A gzip member of ``size`` zeros; ``isize`` overrides the stated length."""
    head = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    stated = size if isize is None else isize
    trailer = struct.pack("<II", crc32_of_zeros(size), stated & 0xFFFFFFFF)
    return head + deflate_zeros(size) + trailer


def zlib_stream(size: int) -> bytes:
    adler = ((size % 65521) << 16) | 1  # Adler-32 of zeros: a stays 1, b counts bytes
    return b"\x78\xda" + deflate_zeros(size) + struct.pack(">I", adler)


@functools.cache
def gzip_members(count: int, each: int) -> bytes:
    return gzip_member(each) * count


def _zstd_rle_blocks(size: int) -> bytes:
    n = size // ZSTD_BLOCK
    blocks = []
    for i in range(n):
        header = (1 if i == n - 1 else 0) | (1 << 1) | (ZSTD_BLOCK << 3)  # last, RLE, size
        blocks.append(header.to_bytes(3, "little") + b"\x00")
    return b"".join(blocks)


@functools.cache
def zstd_frame(size: int, content_size: int | None = -1) -> bytes:
    """A zstd frame of ``size`` zeros. ``content_size``: -1 states the true size, None
    states none (a streaming frame), any other value is claimed instead."""
    body = _zstd_rle_blocks(size)
    if content_size is None:
        window = 10 << 3  # window log 20: 1 MiB, more than a block
        return struct.pack("<IBB", ZSTD_MAGIC, 0, window) + body
    stated = size if content_size == -1 else content_size
    # Frame header: an 8-byte content size, single segment (the window is the content).
    return struct.pack("<IBQ", ZSTD_MAGIC, 0b11100000, stated) + body


def zstd_frames(count: int, each: int) -> bytes:
    return zstd_frame(each) * count


@functools.cache
def zstd_real(size: int) -> bytes:
    """zstd's own encoding of ``size`` zeros, streamed (no content size in the header)."""
    return zstandard.ZstdCompressor(level=1, write_content_size=False).compress(bytes(size))


@functools.cache
def bz2_stream(size: int) -> bytes:
    c = bz2.BZ2Compressor(9)
    chunk = bytes(16 * MIB)
    parts = [c.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + c.flush()


@functools.cache
def xz_stream(size: int, format: int = lzma.FORMAT_XZ) -> bytes:
    c = lzma.LZMACompressor(format=format, preset=1)
    chunk = bytes(16 * MIB)
    parts = [c.compress(chunk) for _ in range(size // len(chunk))]
    return b"".join(parts) + c.flush()


def bz2_streams(count: int, each: int) -> bytes:
    return bz2_stream(each) * count


def xz_streams(count: int, each: int) -> bytes:
    return xz_stream(each) * count


@functools.cache
def lz4_numcodecs(size: int) -> bytes:
    """numcodecs' LZ4 framing (uint32 LE decoded size, one raw block) of ``size`` zeros."""
    return bytes(numcodecs.LZ4(acceleration=1).encode(bytes(size)))


def lz4_claiming(claimed: int) -> bytes:
    """A numcodecs LZ4 buffer whose size prefix claims ``claimed`` bytes."""
    return struct.pack("<I", claimed) + lz4_numcodecs(MIB)[4:]


@functools.cache
def blosc_frame(size: int, cname: str = "lz4") -> bytes:
    return bytes(numcodecs.Blosc(cname=cname, clevel=1, shuffle=0).encode(bytes(size)))


def blosc_claiming(nbytes: int) -> bytes:
    """A blosc frame whose header claims ``nbytes`` decoded bytes."""
    frame = bytearray(blosc_frame(MIB))
    struct.pack_into("<I", frame, 4, nbytes)
    return bytes(frame)
