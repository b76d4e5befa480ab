"""``gzip`` — bytes -> bytes: a gzip member (RFC 1952) wrapping DEFLATE (RFC 1951).

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/gzip/index.html
Names: v3 ``gzip`` (alias ``numcodecs.gzip``), v2 id ``gzip``.
Config: ``{"name": "gzip", "configuration": {"level": 5}}``.

Decoding is forgiving, as other readers are: concatenated members, a zlib stream (z5py
writes those under the gzip name) and raw DEFLATE all decode. It stops, an error, at the
most bytes the chunk may hold. Encoding writes one plain member with a zero timestamp
(equal chunks give equal bytes), otherwise byte for byte what numcodecs writes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.fields import integer
from cuzarr.codecs.registry import register_codec
from cuzarr.codecs.streams import decode_streams
from cuzarr.errors import CorruptChunkError

_GZIP_MAGIC = b"\x1f\x8b"


def _looks_like_zlib(data: memoryview) -> bool:
    """RFC 1950 header: deflate method, window <= 32 KiB, header checksum."""
    return (
        len(data) >= 2
        and data[0] & 0x0F == 8
        and data[0] >> 4 <= 7
        and (data[0] * 256 + data[1]) % 31 == 0
    )


def deflate_bound(n: int) -> int:
    """The most bytes a DEFLATE encoding of ``n`` bytes takes, from any encoder: zlib's
    conservative bound (fixed Huffman codes spend up to 9 bits on a byte), plus room for a
    zlib or gzip wrapper with optional header fields."""
    return n + ((n + 7) >> 3) + ((n + 63) >> 6) + 5 + 1024


def inflate(codec: str, data: Any, wbits: int, limit: int) -> tuple[bytes, Any]:
    """One zlib/gzip/raw DEFLATE stream (``wbits`` as for zlib) decoded to at most ``limit``
    bytes: (the output, the input after the stream, or None when the stream did not end)."""
    d = zlib.decompressobj(wbits)
    out = d.decompress(data, limit + 1)  # one byte more than allowed tells a bomb
    if len(out) > limit:
        raise too_big(codec, limit)
    return out, d.unused_data if d.eof else None


def _gunzip(data: memoryview, limit: int) -> bytes:
    """Decode one or more concatenated gzip members (zero padding after the last is allowed)."""
    out, end = decode_streams(
        "gzip",
        data,
        lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
        limit,
        lambda rest: rest[:2] == _GZIP_MAGIC,
    )
    if data[end:].tobytes().strip(b"\0"):
        raise CorruptChunkError(f"gzip codec: {len(data) - end} stray bytes after a gzip member")
    return out


def _inflate(data: memoryview, wbits: int, limit: int) -> bytes:
    out, rest = inflate("gzip", data, wbits, limit)
    if rest is None:
        raise CorruptChunkError("gzip codec: the DEFLATE stream is truncated")
    return out


@register_codec("gzip", v2_id="gzip", aliases=("numcodecs.gzip",))
@dataclass(frozen=True)
class GzipCodec(BytesBytesCodec):
    level: int = 1  # numcodecs' default; v3 documents always state one

    releases_gil = True  # zlib drops the GIL while (de)compressing

    def __post_init__(self) -> None:
        # -1 (zlib's default) is numcodecs-only; the v3 ``gzip`` spelling allows 0..9.
        integer("gzip", "level", self.level, -1, 9)

    def to_v3(self) -> dict[str, Any]:
        if self.level == -1:
            return {"name": "numcodecs.gzip", "configuration": self.config()}
        return super().to_v3()

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        return deflate_bound(decoded_nbytes)

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
        limit = spec.max_nbytes
        try:
            if src[:2] == _GZIP_MAGIC:
                return _gunzip(src, limit)
            if _looks_like_zlib(src):
                try:
                    out, rest = inflate("gzip", src, zlib.MAX_WBITS, limit)
                    if rest is not None:
                        return out
                except zlib.error:
                    pass  # a raw DEFLATE stream can start with bytes that look like a zlib header
            return _inflate(src, -zlib.MAX_WBITS, limit)
        except zlib.error as e:
            raise CorruptChunkError(f"gzip codec: cannot decompress the chunk ({e})") from e
