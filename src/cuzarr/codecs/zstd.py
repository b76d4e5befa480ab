"""``zstd`` — bytes -> bytes: Zstandard frame(s) (RFC 8878).

Spec: https://github.com/zarr-developers/zarr-extensions/tree/main/codecs/zstd
Names: v3 ``zstd`` (alias ``numcodecs.zstd``), v2 id ``zstd``.
Config: ``{"name": "zstd", "configuration": {"level": 0, "checksum": false}}`` (level 0
is zstd's default, 3). The v2 form leaves ``checksum`` out when false, as zarr-python 3 does.

Decoding goes through numcodecs, which also handles frames that do not state their
content size (streaming writers) and concatenated frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numcodecs.zstd

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.gzip import check_level
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError

_MAGIC = b"\x28\xb5\x2f\xfd"


def _frame_header(src: memoryview) -> tuple[int | None, int]:
    """(content size the first frame declares or None, the frame header's length); (None, 0)
    when the chunk does not start with a plain frame (a skippable one, say)."""
    if len(src) < 6 or src[:4] != _MAGIC:
        return None, 0
    fhd = src[4]
    single_segment = fhd >> 5 & 1
    pos = 5 + (1 - single_segment) + (0, 1, 2, 4)[fhd & 3]
    fcs_len = (single_segment, 2, 4, 8)[fhd >> 6]
    if fcs_len == 0:
        return None, pos
    size = int.from_bytes(src[pos : pos + fcs_len], "little") + (256 if fcs_len == 2 else 0)
    return size, pos + fcs_len


def _is_empty_frame(src: memoryview, header_len: int) -> bool:
    """The chunk is one frame of no content: header, one empty last raw block, checksum.
    numcodecs writes these for b"" but will not decode them."""
    checksum_len = 4 if src[4] & 4 else 0
    block = src[header_len : header_len + 3]
    return len(src) == header_len + 3 + checksum_len and block == b"\x01\0\0"


@register_codec("zstd", v2_id="zstd", aliases=("numcodecs.zstd",))
@dataclass(frozen=True)
class ZstdCodec(BytesBytesCodec):
    level: int = 0
    checksum: bool = False

    releases_gil = True  # numcodecs runs ZSTD_compress2 / ZSTD_decompress without the GIL
    decodes_into_out = True

    def __post_init__(self) -> None:
        check_level("zstd", self.level, -131072, 22)
        if not isinstance(self.checksum, bool):
            raise MetadataError(
                f"zstd codec: checksum must be true or false, not {self.checksum!r}"
            )

    def config(self) -> dict[str, Any]:
        return {"level": self.level, "checksum": self.checksum}

    def to_v2(self) -> dict[str, Any]:
        return {"id": "zstd", "level": self.level, **({"checksum": True} if self.checksum else {})}

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        return numcodecs.zstd.compress(as_bytes_view(data), self.level, self.checksum)

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        src = as_bytes_view(data)
        size, header_len = _frame_header(src)
        dst = None if out is None else as_bytes_view(out)
        if size == 0 and _is_empty_frame(src, header_len):
            decoded: Any = b""
        else:
            try:
                if dst is not None and size == len(dst):
                    # The frame states the size: decompress straight into the caller's buffer
                    # (numcodecs rejects a chunk whose frames add up to more).
                    numcodecs.zstd.decompress(src, dst)
                    return out
                decoded = numcodecs.zstd.decompress(src)
            except (RuntimeError, ValueError) as e:
                raise CorruptChunkError(f"zstd codec: cannot decompress the chunk ({e})") from e
        if dst is None:
            return decoded
        if len(decoded) != len(dst):
            raise CorruptChunkError(
                f"zstd codec: chunk decodes to {len(decoded)} bytes, expected {len(dst)}"
            )
        dst[:] = decoded
        return out
