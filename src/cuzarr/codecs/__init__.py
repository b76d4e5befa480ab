"""Codecs: one module per codec, registered by name (v3) and id (v2)."""

from cuzarr.codecs.base import (
    ArrayArrayCodec,
    ArrayBytesCodec,
    BytesBytesCodec,
    ChunkSpec,
    Codec,
)
from cuzarr.codecs.registry import as_codec, codec_from_v2, codec_from_v3, register_codec

__all__ = [
    "ArrayArrayCodec",
    "ArrayBytesCodec",
    "BytesBytesCodec",
    "ChunkSpec",
    "Codec",
    "as_codec",
    "codec_from_v2",
    "codec_from_v3",
    "register_codec",
]
