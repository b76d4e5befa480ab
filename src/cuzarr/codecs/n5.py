"""N5 blocks: ``n5_default`` (array -> bytes, the block header around an inner chain) and
``n5_lz4`` (bytes -> bytes, lz4-java's ``LZ4Block`` framing that N5's ``lz4`` uses).

Spec: https://github.com/saalfeldlab/n5 (README, "file-system specification" 4.0.0) and
https://github.com/zarr-developers/zarr-extensions/tree/main/codecs/n5_default
Config: ``{"name": "n5_default", "configuration": {"codecs": [
{"name": "transpose", "configuration": {"order": [2, 1, 0]}},
{"name": "bytes", "configuration": {"endian": "big"}}, {"name": "gzip"}]}}``.

A block is ``mode`` (uint16 BE), ``ndim`` (uint16 BE), the block's size per dimension
(uint32 BE each, N5 order = the order of this codec's input), for mode 1 (varlength) a
uint32 element count, then the payload the inner codecs make. Edge blocks: Java writes
them *truncated* to the part inside the dataset, zarr-python 2 and TensorStore write them
full size. Encoding truncates (the chunk spec's ``extent`` says how far); decoding takes
both and pads a short block with the fill value. Mode 2 (object) blocks are not read.

``n5_lz4``: ``{"name": "n5_lz4", "configuration": {"block_size": 65536}}``. The stream
is a run of blocks, each: magic ``LZ4Block``, a token (method 0x10 raw / 0x20 LZ4, OR'ed
with the level ``ceil(log2(block_size)) - 10``), int32 LE compressed length, int32 LE
decoded length, int32 LE ``XXH32(decoded, 0x9747B28C) & 0x0FFFFFFF``, the bytes; it ends
with an empty raw block. The raw LZ4 block codec is numcodecs' (its LZ4 format is a
uint32 LE size followed by exactly one raw block, so the size is stripped or added here).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numcodecs.lz4
import numpy as np

from cuzarr.codecs.base import (
    ArrayBytesCodec,
    BytesBytesCodec,
    ChunkSpec,
    Codec,
    as_bytes_view,
    too_big,
)
from cuzarr.codecs.fields import codec_list
from cuzarr.codecs.registry import as_codec, register_codec
from cuzarr.concurrency import parallel_map
from cuzarr.config import config
from cuzarr.errors import ChecksumError, CorruptChunkError, MetadataError, UnsupportedError

MODE_DEFAULT, MODE_VARLENGTH, MODE_OBJECT = 0, 1, 2


def _chain(codecs: tuple[Codec, ...]) -> Any:
    # A fresh chain per batch: a chain caches specs by shape alone, and this codec value
    # may serve arrays of other dtypes. Imported late: the pipeline depends on the codecs.
    from cuzarr.pipeline.chain import CodecChain

    return CodecChain(codecs)


def encode_header(dims: tuple[int, ...]) -> bytes:
    """A default-mode block header for a block of ``dims`` (N5 order)."""
    return struct.pack(f">HH{len(dims)}I", MODE_DEFAULT, len(dims), *dims)


def decode_header(data: memoryview, ndim: int) -> tuple[tuple[int, ...], int | None, int]:
    """(block dims, element count for varlength blocks, payload offset)."""
    if len(data) < 4:
        raise CorruptChunkError(f"n5 block: {len(data)} bytes is shorter than a block header")
    mode, n = struct.unpack_from(">HH", data)
    if mode == MODE_OBJECT:
        raise UnsupportedError("n5 block: object-mode (mode 2) blocks are not supported")
    if mode not in (MODE_DEFAULT, MODE_VARLENGTH):
        raise CorruptChunkError(f"n5 block: unknown block mode {mode}")
    if n != ndim:
        raise CorruptChunkError(f"n5 block: the header has {n} dimensions, the dataset {ndim}")
    end = 4 + 4 * n + (4 if mode == MODE_VARLENGTH else 0)
    if len(data) < end:
        raise CorruptChunkError(
            f"n5 block: {len(data)} bytes is shorter than its {end}-byte header"
        )
    dims = struct.unpack_from(f">{n}I", data, 4)
    count = struct.unpack_from(">I", data, 4 + 4 * n)[0] if mode == MODE_VARLENGTH else None
    return dims, count, end


@register_codec("n5_default")
@dataclass(frozen=True)
class N5DefaultCodec(ArrayBytesCodec):
    codecs: tuple[Codec, ...]

    def __init__(self, codecs: Any = None):
        from cuzarr.codecs.bytes import BytesCodec

        inner = [BytesCodec("big")] if codecs is None else codecs
        inner = codec_list("n5_default", "codecs", inner)
        object.__setattr__(self, "codecs", tuple(as_codec(c) for c in inner))

    def config(self) -> dict[str, Any]:
        return {"codecs": [c.to_v3() for c in self.codecs]}

    @property
    def compressor(self) -> Codec | None:
        """The bytes->bytes codec (N5's ``compression``), None for ``raw``."""
        return next((c for c in self.codecs if c.kind == "bytes_to_bytes"), None)

    def validate(self, spec: ChunkSpec) -> None:
        from cuzarr.metadata.v3 import check_codec_order

        check_codec_order(self.codecs, "n5_default codecs")
        if len(spec.shape) > 0xFFFF or any(s > 0xFFFFFFFF for s in spec.shape):
            raise MetadataError(
                f"n5_default: block shape {list(spec.shape)} does not fit the header"
            )
        for codec in self.codecs:
            codec.validate(spec)
            if codec.kind == "array_to_array":
                spec = codec.resolve(spec)

    def evolve(self, spec: ChunkSpec) -> N5DefaultCodec:
        from cuzarr.api import evolve_codecs

        return N5DefaultCodec(evolve_codecs(list(self.codecs), spec))

    def max_encoded_size(self, spec: ChunkSpec) -> int:
        # The largest header (a varlength block's) and the payload of a full-size block.
        return 8 + 4 * len(spec.shape) + _chain(self.codecs).max_encoded_size(spec)

    # -- a batch: headers here, the payloads through the inner chain in one call ----------
    def decode(self, chunks: Any, specs: Any) -> list[np.ndarray]:
        views = [as_bytes_view(c) for c in chunks]
        headers = [decode_header(v, len(s.shape)) for v, s in zip(views, specs)]
        inner = []
        for (dims, count, _), spec in zip(headers, specs):
            if any(d > s for d, s in zip(dims, spec.shape)):
                raise CorruptChunkError(
                    f"n5 block: header size {list(dims)} exceeds the block size {list(spec.shape)}"
                )
            if count is not None and count != int(np.prod(dims, dtype=np.int64)):
                # A varlength block of numbers must still fill its stated box.
                raise UnsupportedError(
                    f"n5 block: varlength block of {count} elements for a {list(dims)} box"
                )
            inner.append(ChunkSpec(tuple(dims), spec.dtype, spec.fill_value))
        payloads = [v[end:] for v, (_, _, end) in zip(views, headers)]
        arrays = _chain(self.codecs).decode(payloads, inner)
        return [_pad(a, s) for a, s in zip(arrays, specs)]

    def encode(self, chunks: Any, specs: Any) -> list[bytearray]:
        arrays, inner = [], []
        for chunk, spec in zip(chunks, specs):
            if spec.extent is not None and tuple(spec.extent) != tuple(spec.shape):
                # An edge block is stored truncated to the dataset, as N5 Java writes it.
                chunk = chunk[tuple(slice(0, e) for e in spec.extent)]
            arrays.append(chunk)
            inner.append(ChunkSpec(tuple(chunk.shape), spec.dtype, spec.fill_value))
        payloads = _chain(self.codecs).encode(arrays, inner)
        out = []
        for a, payload in zip(arrays, payloads):
            header = encode_header(a.shape)
            body = as_bytes_view(payload)
            block = bytearray(len(header) + body.nbytes)
            block[: len(header)] = header
            block[len(header) :] = body
            out.append(block)
        return out

    def decode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        return self.decode([data], [spec])[0]

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> bytearray:
        return self.encode([data], [spec])[0]


def _pad(block: np.ndarray, spec: ChunkSpec) -> np.ndarray:
    """A truncated edge block placed into a full block of the fill value."""
    if tuple(block.shape) == tuple(spec.shape):
        return block
    out = np.full(spec.shape, spec.fill_value, dtype=spec.dtype)
    out[tuple(slice(0, d) for d in block.shape)] = block
    return out


# -- XXH32 (lz4-java's block checksum) ------------------------------------------------------

_M = 0xFFFFFFFF
_P1, _P2, _P3, _P4, _P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
LZ4_SEED = 0x9747B28C


def _seed_lanes(seed: int) -> list[int]:
    return [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed & _M, (seed - _P1) & _M]


def _finish(lanes: list[int] | None, data: memoryview, n: int, seed: int) -> int:
    """XXH32 from the four lanes after the 16-byte stripes (None: fewer than 16 bytes),
    the bytes after the stripes, and the total length."""
    if lanes is None:
        h = seed + _P5
    else:
        v1, v2, v3, v4 = lanes
        h = (
            (v1 << 1 | v1 >> 31)
            + (v2 << 7 | v2 >> 25)
            + (v3 << 12 | v3 >> 20)
            + (v4 << 18 | v4 >> 14)
        )
    h = (h + n) & _M
    i = 0
    while i + 4 <= len(data):
        h = (h + int.from_bytes(data[i : i + 4], "little") * _P3) & _M
        h = ((h << 17 | h >> 15) & _M) * _P4 & _M
        i += 4
    for b in data[i:]:
        h = (h + b * _P5) & _M
        h = ((h << 11 | h >> 21) & _M) * _P1 & _M
    h ^= h >> 15
    h = h * _P2 & _M
    h ^= h >> 13
    h = h * _P3 & _M
    return h ^ (h >> 16)


def xxh32(data: Any, seed: int = 0) -> int:
    """XXH32 of ``data`` (pure Python: one sequential recurrence per lane)."""
    view = as_bytes_view(data)
    n = len(view)
    stripes = n // 16 * 16
    if not stripes:
        return _finish(None, view, n, seed)
    v1, v2, v3, v4 = _seed_lanes(seed)
    for a, b, c, d in struct.iter_unpack("<4I", view[:stripes]):
        v1 = (v1 + a * _P2) & _M
        v1 = ((v1 << 13 | v1 >> 19) & _M) * _P1 & _M
        v2 = (v2 + b * _P2) & _M
        v2 = ((v2 << 13 | v2 >> 19) & _M) * _P1 & _M
        v3 = (v3 + c * _P2) & _M
        v3 = ((v3 << 13 | v3 >> 19) & _M) * _P1 & _M
        v4 = (v4 + d * _P2) & _M
        v4 = ((v4 << 13 | v4 >> 19) & _M) * _P1 & _M
    return _finish([v1, v2, v3, v4], view[stripes:], n, seed)


def xxh32_equal_blocks(data: Any, block_size: int, seed: int = 0) -> list[int]:
    """XXH32 of each ``block_size`` slice of ``data`` (whose length is a multiple of it).
    Each hash is sequential, but the blocks are independent: numpy runs the lane
    recurrences of all blocks side by side, one stripe at a time."""
    view = as_bytes_view(data)
    k = len(view) // block_size
    if k < 4 or block_size < 16:  # too few blocks to pay numpy's per-call cost
        return [xxh32(view[i * block_size : (i + 1) * block_size], seed) for i in range(k)]
    stripes = block_size // 16 * 16
    blocks = np.frombuffer(view, dtype=np.uint8).reshape(k, block_size)
    # (stripe, block, lane): each step of the loop reads one contiguous slab
    lanes = np.ascontiguousarray(blocks[:, :stripes]).view("<u4").reshape(k, -1, 4)
    lanes = np.ascontiguousarray(lanes.transpose(1, 0, 2))
    acc = np.tile(np.array(_seed_lanes(seed), dtype=np.uint32), (k, 1))
    tmp = np.empty_like(acc)
    p1, p2 = np.uint32(_P1), np.uint32(_P2)
    with np.errstate(over="ignore"):
        for stripe in lanes:
            np.multiply(stripe, p2, out=tmp)
            acc += tmp
            np.left_shift(acc, 13, out=tmp)
            acc >>= 19
            acc |= tmp
            acc *= p1
    return [
        _finish(
            [int(v) for v in acc[i]],
            view[i * block_size + stripes : (i + 1) * block_size],
            block_size,
            seed,
        )
        for i in range(k)
    ]


# -- lz4-java LZ4Block framing ----------------------------------------------------------------

LZ4_MAGIC = b"LZ4Block"
_LZ4_HEADER = struct.Struct("<8sBiii")
METHOD_RAW, METHOD_LZ4 = 0x10, 0x20
_CHECK_MASK = 0x0FFFFFFF  # lz4-java keeps only the low 28 bits of the hash


def lz4_checksums(blocks: Sequence[Any]) -> list[int]:
    """lz4-java's checksum of each block. Blocks of one length (all but the last of each
    chunk) are hashed side by side, however many chunks they come from."""
    by_length: dict[int, list[int]] = {}
    for i, b in enumerate(blocks):
        by_length.setdefault(len(b), []).append(i)
    sums = [0] * len(blocks)
    for n, members in by_length.items():
        joined = b"".join(blocks[i] for i in members)
        hashes = (
            xxh32_equal_blocks(joined, n, LZ4_SEED) if n else [xxh32(b"", LZ4_SEED)] * len(members)
        )
        for i, h in zip(members, hashes):
            sums[i] = h & _CHECK_MASK
    return sums


def _unframe(data: Any, limit: int) -> tuple[list[memoryview], list[int]]:
    """A stream's decoded blocks and the checksums it states for them; the blocks may
    hold ``limit`` bytes in all."""
    src = as_bytes_view(data)
    blocks: list[memoryview] = []
    checks: list[int] = []
    pos = done = 0
    while pos < len(src):
        if len(src) - pos < _LZ4_HEADER.size:
            raise CorruptChunkError(f"n5 lz4: {len(src) - pos} stray bytes at offset {pos}")
        magic, token, clen, dlen, check = _LZ4_HEADER.unpack_from(src, pos)
        if magic != LZ4_MAGIC:
            raise CorruptChunkError(f"n5 lz4: no LZ4Block magic at offset {pos}")
        method, level = token & 0xF0, token & 0x0F
        if (
            method not in (METHOD_RAW, METHOD_LZ4)
            or not 0 <= dlen <= 1 << (level + 10)
            or clen < 0
            or (method == METHOD_RAW and clen != dlen)
            or pos + _LZ4_HEADER.size + clen > len(src)
        ):
            raise CorruptChunkError(f"n5 lz4: bad block header at offset {pos}")
        pos += _LZ4_HEADER.size
        body = src[pos : pos + clen]
        pos += clen
        if dlen == 0:  # the end marker (a following stream, if any, is read on)
            continue
        done += dlen
        if done > limit:
            raise too_big("n5 lz4", limit)
        if method == METHOD_LZ4:
            try:  # numcodecs' LZ4 format is this raw block behind a uint32 LE size
                body = memoryview(numcodecs.lz4.decompress(struct.pack("<I", dlen) + bytes(body)))
            except (RuntimeError, ValueError) as e:
                raise CorruptChunkError(f"n5 lz4: cannot decompress a block ({e})") from e
            if len(body) != dlen:
                raise CorruptChunkError(f"n5 lz4: a block decodes to {len(body)} bytes, not {dlen}")
        blocks.append(body)
        checks.append(check)
    return blocks, checks


@register_codec("n5_lz4")
@dataclass(frozen=True)
class N5LZ4Codec(BytesBytesCodec):
    block_size: int = 65536

    def __post_init__(self) -> None:
        bs = self.block_size
        if isinstance(bs, bool) or not isinstance(bs, int) or not 64 <= bs <= 1 << 25:
            raise MetadataError(
                f"n5 lz4: blockSize must be an integer in 64..{1 << 25}, not {bs!r}"
            )

    @property
    def level(self) -> int:
        return max(0, (self.block_size - 1).bit_length() - 10)

    # Batch calls: LZ4 runs on the thread pool (numcodecs drops the GIL); the checksums,
    # which hold it, are computed for the whole batch at once.
    def encode(self, chunks: Sequence[Any], specs: Sequence[ChunkSpec]) -> list[bytes]:
        bs = self.block_size
        views = [as_bytes_view(c) for c in chunks]
        blocks = [[v[i : i + bs] for i in range(0, len(v), bs)] for v in views]
        sums = iter(lz4_checksums([b for per_chunk in blocks for b in per_chunk]))
        checks = [[next(sums) for _ in per_chunk] for per_chunk in blocks]
        return parallel_map(self._frame, blocks, checks)

    def _frame(self, blocks: list[memoryview], checks: list[int]) -> bytes:
        parts: list[Any] = []
        for block, check in zip(blocks, checks):
            packed = numcodecs.lz4.compress(block)[4:]  # drop numcodecs' size prefix
            method, body = (METHOD_LZ4, packed) if len(packed) < len(block) else (METHOD_RAW, block)
            parts += [
                _LZ4_HEADER.pack(LZ4_MAGIC, method | self.level, len(body), len(block), check),
                body,
            ]
        parts.append(_LZ4_HEADER.pack(LZ4_MAGIC, METHOD_RAW | self.level, 0, 0, 0))
        return b"".join(parts)

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        # Each block (stored raw where LZ4 would not shrink it) and the end marker add a header.
        blocks = decoded_nbytes // self.block_size + 2
        return decoded_nbytes + blocks * _LZ4_HEADER.size

    def decode(self, chunks: Sequence[Any], specs: Sequence[ChunkSpec]) -> list[bytes]:
        # Without a spec (a stream decoded on its own) the configured largest chunk bounds it.
        limits = [config["max_chunk_bytes"] if s is None else s.max_nbytes for s in specs]
        streams = parallel_map(_unframe, list(chunks), limits)
        sums = iter(lz4_checksums([b for blocks, _ in streams for b in blocks]))
        for _, stated in streams:
            for i, want in enumerate(stated):
                got = next(sums)
                if got != want:
                    raise ChecksumError(
                        f"n5 lz4: block {i} has checksum {got:#x}, the stream says {want:#x}"
                    )
        return [b"".join(blocks) for blocks, _ in streams]

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        return self.encode([data], [spec])[0]

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        return self.decode([data], [spec])[0]
