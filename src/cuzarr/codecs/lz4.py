"""``numcodecs.lz4`` — bytes -> bytes: numcodecs' LZ4 framing, a uint32 LE decoded size
followed by one raw LZ4 block.

Format: numcodecs ``LZ4``, https://numcodecs.readthedocs.io (not the LZ4 frame format, and
not N5's lz4 nor Blosc's inner lz4 streams).
Names: v3 ``numcodecs.lz4``, v2 id ``lz4``.
Config: ``{"name": "numcodecs.lz4", "configuration": {"acceleration": 1}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numcodecs.lz4

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.fields import INT32_MAX, integer
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError


def lz4_bound(n: int) -> int:
    """LZ4_compressBound: the most bytes one raw LZ4 block of ``n`` bytes takes."""
    return n + n // 255 + 16


@register_codec("numcodecs.lz4", v2_id="lz4")
@dataclass(frozen=True)
class LZ4Codec(BytesBytesCodec):
    acceleration: int = 1

    releases_gil = True  # numcodecs calls LZ4 without the GIL
    decodes_into_out = True

    def __post_init__(self) -> None:
        integer("lz4", "acceleration", self.acceleration, -INT32_MAX - 1, INT32_MAX)  # a C int

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        return 4 + lz4_bound(decoded_nbytes)

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        return numcodecs.lz4.compress(as_bytes_view(data), self.acceleration)

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        src = as_bytes_view(data)
        if len(src) < 4:
            raise CorruptChunkError(
                f"lz4 codec: chunk of {len(src)} bytes has no 4-byte size header"
            )
        size = int.from_bytes(src[:4], "little")
        if out is None:
            if size > spec.max_nbytes:  # numcodecs allocates what the header says
                raise too_big("lz4", spec.max_nbytes, size)
        elif size != (expected := as_bytes_view(out).nbytes):
            raise CorruptChunkError(
                f"lz4 codec: chunk decodes to {size} bytes, expected {expected}"
            )
        if size == 0:  # numcodecs writes an empty block for b"" but will not decode it
            return b"" if out is None else out
        try:
            return numcodecs.lz4.decompress(src, out)
        except (RuntimeError, ValueError) as e:
            raise CorruptChunkError(f"lz4 codec: cannot decompress the chunk ({e})") from e
