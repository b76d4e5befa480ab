"""``numcodecs.zlib`` — bytes -> bytes: a zlib stream (RFC 1950) wrapping DEFLATE.

Format: numcodecs ``Zlib`` (Python's ``zlib.compress``), https://numcodecs.readthedocs.io
Names: v3 ``numcodecs.zlib``, v2 id ``zlib``.
Config: ``{"name": "numcodecs.zlib", "configuration": {"level": 1}}``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.fields import integer
from cuzarr.codecs.gzip import deflate_bound, inflate
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError


@register_codec("numcodecs.zlib", v2_id="zlib")
@dataclass(frozen=True)
class ZlibCodec(BytesBytesCodec):
    level: int = 1

    releases_gil = True  # zlib drops the GIL while (de)compressing

    def __post_init__(self) -> None:
        integer("zlib", "level", self.level, -1, 9)

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        return deflate_bound(decoded_nbytes)

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        return zlib.compress(as_bytes_view(data), self.level)

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        try:
            # wbits 32+15: accept a zlib or a gzip header, whichever the chunk has.
            decoded, rest = inflate(
                "zlib", as_bytes_view(data), 32 + zlib.MAX_WBITS, spec.max_nbytes
            )
        except zlib.error as e:
            raise CorruptChunkError(f"zlib codec: cannot decompress the chunk ({e})") from e
        if rest is None:
            raise CorruptChunkError("zlib codec: the chunk ends inside the stream (truncated)")
        return decoded
