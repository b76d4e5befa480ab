"""``crc32c`` — bytes -> bytes: the input followed by its CRC-32C (Castagnoli) as a 4-byte
little-endian uint32.

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/crc32c/index.html
Names: v3 ``crc32c`` (no configuration; the checksum goes at the end), v3 alias
``numcodecs.crc32c`` and v2 id ``crc32c``, which add ``location``: ``"end"`` (default)
or ``"start"``.
Config: ``{"name": "crc32c"}``; ``{"name": "numcodecs.crc32c", "configuration":
{"location": "start"}}``; v2 ``{"id": "crc32c", "location": "start"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import crc32c
import numpy as np

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import ChecksumError, CorruptChunkError, MetadataError


@register_codec("crc32c", v2_id="crc32c", aliases=("numcodecs.crc32c",))
@dataclass(frozen=True)
class Crc32cCodec(BytesBytesCodec):
    location: str = "end"

    releases_gil = True  # the crc32c package drops the GIL for large buffers

    def __post_init__(self) -> None:
        if self.location not in ("start", "end"):
            raise MetadataError(
                f"crc32c codec: location must be 'start' or 'end', not {self.location!r}"
            )

    def config(self) -> dict[str, Any]:
        return {} if self.location == "end" else {"location": self.location}

    def to_v3(self) -> dict[str, Any]:
        if self.location == "start":  # only the numcodecs spelling can say so
            return {"name": "numcodecs.crc32c", "configuration": {"location": "start"}}
        return {"name": "crc32c"}

    def encoded_size(self, decoded_nbytes: int) -> int:
        return decoded_nbytes + 4

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        src = as_bytes_view(data)
        out = np.empty(src.nbytes + 4, dtype=np.uint8)
        payload, checksum = (out[4:], out[:4]) if self.location == "start" else (out[:-4], out[-4:])
        payload[:] = src
        checksum.view("<u4")[0] = crc32c.crc32c(src)
        return out

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> memoryview:
        src = as_bytes_view(data)
        if src.nbytes < 4:
            raise CorruptChunkError(
                f"crc32c codec: chunk of {src.nbytes} bytes is shorter than its 4-byte checksum"
            )
        if src.nbytes - 4 > spec.max_nbytes:  # not worth checksumming
            raise too_big("crc32c", spec.max_nbytes, src.nbytes - 4)
        payload, stored = (src[4:], src[:4]) if self.location == "start" else (src[:-4], src[-4:])
        computed = crc32c.crc32c(payload)
        if int.from_bytes(stored, "little") != computed:
            raise ChecksumError(
                f"crc32c codec: stored checksum {int.from_bytes(stored, 'little'):#010x} "
                f"does not match the data's {computed:#010x}"
            )
        return payload  # a view of the input: no copy
