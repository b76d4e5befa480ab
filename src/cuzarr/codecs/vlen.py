"""``vlen-utf8`` and ``vlen-bytes`` — array -> bytes: variable-length strings / bytes.

Spec: https://github.com/zarr-developers/zarr-extensions/tree/main/codecs/vlen-utf8
(and ``vlen-bytes``); numcodecs ``VLenUTF8`` / ``VLenBytes`` in v2.
Names: v3 ``vlen-utf8`` / ``vlen-bytes``; v2 ids the same. In v2 they are the object
array's "object codec", stored as ``filters[0]`` of a ``"|O"`` array.
Config: none: ``{"name": "vlen-utf8", "configuration": {}}``, v2 ``{"id": "vlen-utf8"}``.

Bytes: uint32 LE element count, then per element (C order) a uint32 LE byte length and
the bytes (UTF-8 for strings). ``["ab", "é", ""]`` -> ``03000000 02000000 6162 02000000
c3a9 00000000``. The chunk's values must all be ``str`` (``bytes``); ``None`` is written
as an empty value, as numcodecs does. The loops run in numcodecs' compiled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numcodecs
import numpy as np

from cuzarr.codecs.base import ArrayBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.registry import register_codec
from cuzarr.config import config
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError
from cuzarr.metadata.dtypes import vlen_kind


class _VlenCodec(ArrayBytesCodec):
    holds: ClassVar[str]  # "string" or "bytes": the data type this codec serialises
    _impl: ClassVar[Any]

    def config(self) -> dict[str, Any]:
        return {}

    def to_v3(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": {}}  # as zarr-python writes it

    def max_encoded_size(self, spec: ChunkSpec) -> int:
        # Values have any length, so no size follows from the chunk's shape: the configured
        # largest chunk is what bounds the decompressors in front of this codec.
        return int(config["max_chunk_bytes"])

    def validate(self, spec: ChunkSpec) -> None:
        kind = vlen_kind(spec.dtype) if spec.dtype.kind == "O" else None
        if spec.dtype.kind != "O" or (kind is not None and kind != self.holds):
            raise MetadataError(
                f"{self.name} codec: needs the variable-length {self.holds} data type, "
                f"not {spec.dtype if kind is None else kind}"
            )

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> Any:
        flat = np.ascontiguousarray(data, dtype=object).reshape(-1)
        if not flat.flags.writeable:  # numcodecs takes a writable buffer only
            flat = flat.copy()
        try:
            return self._impl.encode(flat)
        except (TypeError, ValueError, UnicodeEncodeError) as e:
            raise CodecError(f"{self.name} codec: cannot encode the chunk ({e})") from e

    def decode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        src = as_bytes_view(data)
        n = int(np.prod(spec.shape, dtype=np.int64))
        if len(src) < 4 or int.from_bytes(src[:4], "little") != n:
            count = int.from_bytes(src[:4], "little") if len(src) >= 4 else "no"
            raise CorruptChunkError(
                f"{self.name} codec: chunk holds {count} items, expected {n} for shape {spec.shape}"
            )
        out = np.empty(n, dtype=spec.dtype)
        try:
            self._impl.decode(src, out=out)
        except (ValueError, UnicodeDecodeError) as e:
            raise CorruptChunkError(f"{self.name} codec: cannot decode the chunk ({e})") from e
        return out.reshape(spec.shape)


@register_codec("vlen-utf8", v2_id="vlen-utf8")
@dataclass(frozen=True)
class VlenUTF8Codec(_VlenCodec):
    holds = "string"
    _impl = numcodecs.VLenUTF8()


@register_codec("vlen-bytes", v2_id="vlen-bytes")
@dataclass(frozen=True)
class VlenBytesCodec(_VlenCodec):
    holds = "bytes"
    _impl = numcodecs.VLenBytes()


OBJECT_CODEC_IDS = ("vlen-utf8", "vlen-bytes", "vlen-array", "pickle", "json2", "msgpack2")
