"""``numcodecs.bz2`` — bytes -> bytes: a bzip2 stream (Python's ``bz2.compress``).

Format: numcodecs ``BZ2``, https://numcodecs.readthedocs.io
Names: v3 ``numcodecs.bz2``, v2 id ``bz2``.
Config: ``{"name": "numcodecs.bz2", "configuration": {"level": 1}}`` (level 1..9).
"""

from __future__ import annotations

import bz2
from dataclasses import dataclass
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.fields import integer
from cuzarr.codecs.registry import register_codec
from cuzarr.codecs.streams import decode_streams
from cuzarr.errors import CorruptChunkError


@register_codec("numcodecs.bz2", v2_id="bz2")
@dataclass(frozen=True)
class BZ2Codec(BytesBytesCodec):
    level: int = 1

    releases_gil = True  # Python's bz2 drops the GIL while (de)compressing

    def __post_init__(self) -> None:
        integer("bz2", "level", self.level, 1, 9)

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        # bzip2's manual: at most 1% and 600 bytes more than the input; twice that here.
        return decoded_nbytes + decoded_nbytes // 50 + 1200

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        return bz2.compress(as_bytes_view(data), self.level)

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        src = as_bytes_view(data)
        if not src.nbytes:  # bz2.decompress returns b"" here; even empty data has a header
            raise CorruptChunkError("bz2 codec: the chunk is empty")
        try:
            # Concatenated streams, and bytes after them ignored, as bz2.decompress does.
            return decode_streams(
                "bz2", src, bz2.BZ2Decompressor, spec.max_nbytes, bool, garbage=(OSError,)
            )[0]
        except (OSError, ValueError, EOFError) as e:
            raise CorruptChunkError(f"bz2 codec: cannot decompress the chunk ({e})") from e
