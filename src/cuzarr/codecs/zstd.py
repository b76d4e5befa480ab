"""``zstd`` — bytes -> bytes: Zstandard frame(s) (RFC 8878).

Spec: https://github.com/zarr-developers/zarr-extensions/tree/main/codecs/zstd
Names: v3 ``zstd`` (alias ``numcodecs.zstd``), v2 id ``zstd``.
Config: ``{"name": "zstd", "configuration": {"level": 0, "checksum": false}}`` (level 0
is zstd's default, 3). The v2 form leaves ``checksum`` out when false, as zarr-python 3 does.

A chunk that is one frame stating its content size (as zarr-python, tensorstore and
cuzarr write them) is decoded by ``zstandard`` with a decompression context kept per
thread: numcodecs sets up a new context for every call, which costs about a third of the
time of decompressing a 32 KiB chunk. The size a frame states is checked against the most
the chunk may hold before anything is allocated for it. Anything else (frames that do not
state their content size, as streaming writers make them, concatenated or skippable
frames, damaged data) goes through a streaming decoder that stops at that bound.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numcodecs.zstd
import zstandard

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.fields import integer
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError

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


def _content_size(src: Any) -> int:
    """The content size the chunk's first frame states; -1 when it states none, or when the
    chunk does not start with a frame (0 for a skippable one)."""
    try:
        return zstandard.frame_content_size(src)
    except _ONE_SHOT_FAILS:
        return -1


_FRAME_MAGIC = 0xFD2FB528
_SKIPPABLE_MAGIC = 0x184D2A50  # the low 4 bits are free
_BLOCK_MAX = 128 << 10  # the most a compressed block decodes to


def _frames(src: memoryview) -> Iterator[tuple[memoryview, int, int]]:
    """(frame, content size it states or -1, the most bytes it can decode to) of each
    frame of the chunk, skippable frames skipped. Only the frame and block headers are
    read (RFC 8878, 3.1); where they do not add up, the chunk is corrupt."""
    pos, end = 0, len(src)
    while pos < end:
        magic = int.from_bytes(src[pos : pos + 4], "little")
        if magic & ~0xF == _SKIPPABLE_MAGIC and pos + 8 <= end:
            pos += 8 + int.from_bytes(src[pos + 4 : pos + 8], "little")
            if pos > end:
                raise CorruptChunkError("zstd codec: the chunk ends inside a skippable frame")
            continue
        if magic != _FRAME_MAGIC or pos + 6 > end:
            raise CorruptChunkError(f"zstd codec: no frame at byte {pos} of the chunk")
        start, fhd = pos, src[pos + 4]
        single_segment = fhd >> 5 & 1
        fcs_len = (single_segment, 2, 4, 8)[fhd >> 6]
        pos += 5 + (1 - single_segment) + (0, 1, 2, 4)[fhd & 3]
        size = int.from_bytes(src[pos : pos + fcs_len], "little") if fcs_len else -1
        pos += fcs_len
        size += 256 if fcs_len == 2 else 0
        bound, last = 0, 0
        while not last and pos + 3 <= end:
            header = int.from_bytes(src[pos : pos + 3], "little")
            last, kind, block_size = header & 1, header >> 1 & 3, header >> 3
            if kind == 3:
                raise CorruptChunkError(f"zstd codec: reserved block type at byte {pos}")
            pos += 3 + (1 if kind == 1 else block_size)  # an RLE block holds one byte
            bound += _BLOCK_MAX if kind == 2 else block_size
        pos += 4 if fhd & 4 else 0  # the content checksum
        if not last or pos > end:
            raise CorruptChunkError("zstd codec: the chunk ends inside a frame (truncated)")
        yield src[start:pos], size, bound


def _decode_frames(data: Any, limit: int) -> bytes:
    """All frames of the chunk decoded, at most ``limit`` bytes in all: one call per frame,
    into a buffer no bigger than what the frame can give and the chunk may still hold."""
    src = as_bytes_view(data)
    if not src.nbytes:
        raise CorruptChunkError("zstd codec: the chunk is empty (not even a frame header)")
    parts: list[bytes] = []
    done = 0
    dctx = _decompressor()
    for frame, size, bound in _frames(src):
        room = limit - done
        if size > room:
            raise too_big("zstd", limit, done + size)
        if size == 0 or bound == 0:
            continue
        try:
            if size > 0:
                part = dctx.decompress(frame, allow_extra_data=False)
            else:  # no stated size: decoded into a buffer of this size, an error if it is short
                part = dctx.decompress(frame, max(1, min(room, bound)), allow_extra_data=False)
        except zstandard.ZstdError as e:
            why = f"within the {limit} bytes it may hold " if bound > room else ""
            raise CorruptChunkError(f"zstd codec: cannot decompress the chunk {why}({e})") from e
        done += len(part)
        if done > limit:
            raise too_big("zstd", limit)
        parts.append(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def zstd_bound(n: int) -> int:
    """ZSTD_COMPRESSBOUND: the most bytes one frame of ``n`` bytes takes."""
    return n + (n >> 8) + ((128 << 10) - n >> 11 if n < 128 << 10 else 0)


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
        integer("zstd", "level", self.level, -131072, 22)
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

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        # A writer may cut the chunk into several frames: room for their headers.
        return zstd_bound(decoded_nbytes) + 1024

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        size = _content_size(data)
        if out is None:
            limit = spec.max_nbytes
            if size > limit:  # zstandard would allocate what the frame states
                raise too_big("zstd", limit, size)
            if size > 0 and (decoded := _decompress_one_frame(data)) is not None:
                return decoded
            return _decode_frames(data, limit)
        dst = as_bytes_view(out)
        if size == len(dst) and size:
            if size < self.direct_out_from:
                decoded = _decompress_one_frame(data)
                if decoded is not None:
                    dst[:] = decoded
                    return out
            else:
                # Straight into the caller's buffer, which bounds it (numcodecs rejects a
                # chunk whose frames add up to more).
                try:
                    numcodecs.zstd.decompress(as_bytes_view(data), dst)
                except (RuntimeError, ValueError) as e:
                    raise CorruptChunkError(f"zstd codec: cannot decompress the chunk ({e})") from e
                return out
        decoded = _decode_frames(data, len(dst))
        if len(decoded) != len(dst):
            raise CorruptChunkError(
                f"zstd codec: chunk decodes to {len(decoded)} bytes, expected {len(dst)}"
            )
        dst[:] = decoded
        return out
