"""``gzip`` — bytes -> bytes: a gzip member (RFC 1952) wrapping DEFLATE (RFC 1951).

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/gzip/index.html
Names: v3 ``gzip`` (alias ``numcodecs.gzip``), v2 id ``gzip``.
Config: ``{"name": "gzip", "configuration": {"level": 5}}``.

Decoding is forgiving, as other readers are: concatenated members, a zlib stream (z5py
writes those under the gzip name) and raw DEFLATE all decode. Encoding writes one plain
member with a zero timestamp (equal chunks give equal bytes), otherwise byte for byte what
numcodecs writes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError

_GZIP_MAGIC = b"\x1f\x8b"


def check_level(codec: str, level: Any, low: int, high: int) -> int:
    """``level`` as an int in ``low..high``, else a MetadataError naming the codec."""
    if isinstance(level, bool) or not isinstance(level, int) or not low <= level <= high:
        raise MetadataError(
            f"{codec} codec: level must be an integer in {low}..{high}, not {level!r}"
        )
    return level


def _looks_like_zlib(data: memoryview) -> bool:
    """RFC 1950 header: deflate method, window <= 32 KiB, header checksum."""
    return (
        len(data) >= 2
        and data[0] & 0x0F == 8
        and data[0] >> 4 <= 7
        and (data[0] * 256 + data[1]) % 31 == 0
    )


def _gunzip(data: memoryview) -> bytes:
    """Decode one or more concatenated gzip members (zero padding after the last is allowed)."""
    parts = []
    rest: Any = data
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        parts.append(d.decompress(rest))
        if not d.eof:
            raise CorruptChunkError("gzip codec: the chunk ends inside a gzip member (truncated)")
        rest = d.unused_data
        if not rest.strip(b"\0"):
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if not rest.startswith(_GZIP_MAGIC):
            raise CorruptChunkError(f"gzip codec: {len(rest)} stray bytes after a gzip member")


def _inflate(data: memoryview, wbits: int) -> bytes:
    d = zlib.decompressobj(wbits)
    out = d.decompress(data)
    if not d.eof:
        raise CorruptChunkError("gzip codec: the DEFLATE stream is truncated")
    return out


@register_codec("gzip", v2_id="gzip", aliases=("numcodecs.gzip",))
@dataclass(frozen=True)
class GzipCodec(BytesBytesCodec):
    level: int = 1  # numcodecs' default; v3 documents always state one

    releases_gil = True  # zlib drops the GIL while (de)compressing

    def __post_init__(self) -> None:
        # -1 (zlib's default) is numcodecs-only; the v3 ``gzip`` spelling allows 0..9.
        check_level("gzip", self.level, -1, 9)

    def to_v3(self) -> dict[str, Any]:
        if self.level == -1:
            return {"name": "numcodecs.gzip", "configuration": self.config()}
        return super().to_v3()

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytearray:
        # Built as Python's GzipFile builds it (header, raw DEFLATE streamed into its own
        # buffer, CRC-32 and size), so the member equals numcodecs' and zarr-python's byte
        # for byte except for their timestamp; ours is 0. (Letting zlib write the header
        # shifts its output buffer, which changes the stored blocks of level 0.)
        src = as_bytes_view(data)
        xfl = 2 if self.level == 9 else 4 if self.level == 1 else 0
        # magic, method deflate, no flags, mtime 0, extra flags, OS "unknown"
        member = bytearray(b"\x1f\x8b\x08\x00\x00\x00\x00\x00" + bytes([xfl, 0xFF]))
        deflate = zlib.compressobj(self.level, zlib.DEFLATED, -zlib.MAX_WBITS)
        member += deflate.compress(src)
        member += deflate.flush()
        member += struct.pack("<II", zlib.crc32(src), src.nbytes & 0xFFFFFFFF)
        return member

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        src = as_bytes_view(data)
        try:
            if src[:2] == _GZIP_MAGIC:
                return _gunzip(src)
            if _looks_like_zlib(src):
                try:
                    return _inflate(src, zlib.MAX_WBITS)
                except (zlib.error, CorruptChunkError):
                    pass  # a raw DEFLATE stream can start with bytes that look like a zlib header
            return _inflate(src, -zlib.MAX_WBITS)
        except zlib.error as e:
            raise CorruptChunkError(f"gzip codec: cannot decompress the chunk ({e})") from e
