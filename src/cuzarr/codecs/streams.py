"""Compressed streams laid end to end (gzip members, bzip2 and xz streams), decoded to at
most a given number of bytes.

A chunk may hold several streams one after the other, and every reader decodes them all.
Two things keep a hostile chunk cheap: each decompressor call may give only one byte more
than the chunk may still hold (so a bomb stops there), and the input after the first
stream goes in windows (at the end of a stream the decompressor copies the input left
over, which over many small streams would take time quadratic in the chunk's size).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cuzarr.codecs.base import too_big
from cuzarr.errors import CorruptChunkError

WINDOW = 1 << 16


def decode_streams(
    codec: str,
    data: memoryview,
    new_stream: Callable[[], Any],
    limit: int,
    starts_stream: Callable[[memoryview], bool],
    garbage: tuple[type[Exception], ...] = (),
) -> tuple[bytes, int]:
    """Decode the streams in ``data`` to at most ``limit`` bytes in all. ``new_stream()``
    makes a decompressor (zlib's, bz2's or lzma's: ``decompress(data, max_length)``,
    ``eof``, ``unused_data``); after each stream, ``starts_stream(rest)`` says whether
    another one follows. A stream after the first that raises one of ``garbage`` is taken
    for trailing bytes (bzip2 and xz readers ignore those). Returns the output and where
    the streams end in ``data``."""
    parts: list[bytes] = []
    done = pos = 0
    while True:
        start, kept = pos, len(parts)
        try:
            pos, done = _one_stream(codec, data, new_stream(), limit, pos, done, parts)
        except garbage:
            if not start:
                raise
            del parts[kept:]
            pos = start
            break
        if pos >= len(data) or not starts_stream(data[pos:]):
            break
    return (parts[0] if len(parts) == 1 else b"".join(parts)), pos


def _one_stream(
    codec: str, data: memoryview, d: Any, limit: int, pos: int, done: int, parts: list[bytes]
) -> tuple[int, int]:
    """Feed ``d`` from ``pos`` to the end of its stream, appending its output to ``parts``;
    returns (the position after the stream, the bytes decoded so far)."""
    first = pos == 0
    while not d.eof:
        if pos >= len(data):
            raise CorruptChunkError(f"{codec} codec: the chunk ends inside a stream (truncated)")
        window = data[pos:] if first else data[pos : pos + WINDOW]
        part = d.decompress(window, limit - done + 1)  # one byte more than allowed: a bomb
        done += len(part)
        if done > limit:
            raise too_big(codec, limit)
        parts.append(part)
        pos += len(window) - len(d.unused_data)
    return pos, done
