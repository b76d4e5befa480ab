"""``zstd`` — bytes -> bytes: Zstandard frame(s) (RFC 8878).

Spec: https://github.com/zarr-developers/zarr-extensions/tree/main/codecs/zstd
Names: v3 ``zstd`` (alias ``numcodecs.zstd``), v2 id ``zstd``.
Config: ``{"name": "zstd", "configuration": {"level": 0, "checksum": false}}`` (level 0
is zstd's default, 3). The v2 form leaves ``checksum`` out when false, as zarr-python 3 does.

A chunk that is one frame stating its content size (as zarr-python, tensorstore and
cuzarr write them) is decoded by ``zstandard`` with a decompression context kept per
thread: numcodecs sets up a new context for every call, which costs about a third of the
time of decompressing a 32 KiB chunk. Anything else (frames that do not state their
content size, as streaming writers make them, concatenated frames, damaged data) goes
through numcodecs, which decodes the former and reports the latter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numcodecs.zstd
import zstandard

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.gzip import check_level
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError

_MAGIC = b"\x28\xb5\x2f\xfd"
_local = threading.local()
# What makes the one-shot decoder give up: not a single frame with a stated size, or a
# buffer it cannot take (not contiguous); the general path then decodes or reports it.
_ONE_SHOT_FAILS = (zstandard.ZstdError, ValueError, TypeError, BufferError)


def _decompressor() -> zstandard.ZstdDecompressor:
    """This thread's decompressor (a context is not safe to share between threads)."""
    try:
        return _local.dctx
    except AttributeError:
        dctx = _local.dctx = zstandard.ZstdDecompressor()
        return dctx


def _decompress_one_frame(src: Any) -> bytes | None:
    """``src`` decoded when it is exactly one frame that states its content size (which
    the decompressor checks), else None."""
    try:
        return _decompressor().decompress(src, allow_extra_data=False)
    except _ONE_SHOT_FAILS:
        return None


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

    releases_gil = True  # zstandard and numcodecs (de)compress without the GIL
    decodes_into_out = True
    # Chunks smaller than this decode into a buffer of zstandard's own that is then copied
    # into out=, so a reused scratch buffer would only add a copy. From this size up, the
    # context numcodecs sets up per call costs little, and a fresh output buffer (fresh
    # pages every time) more than the copy. Measured on 2 cores: 2 MiB chunks read 10-15%
    # faster decoded straight into a reused buffer, 256 KiB chunks 4-20% slower.
    direct_out_from = 1 << 20

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
        if out is None:
            decoded = _decompress_one_frame(data)
            if decoded is not None:
                return decoded
            return self._decode_general(data, None)
        dst = as_bytes_view(out)
        # Check the stated size first, so a damaged header cannot make us allocate a lot.
        if (
            len(dst) < self.direct_out_from
            and _frame_header(as_bytes_view(data))[0] == len(dst)
            and (decoded := _decompress_one_frame(data)) is not None
        ):
            dst[:] = decoded
            return out
        return self._decode_general(data, out)

    def _decode_general(self, data: Any, out: Any) -> Any:
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
