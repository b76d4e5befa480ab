"""``sharding_indexed`` — array -> bytes: a shard holds many inner chunks plus an index.

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/sharding-indexed/index.html
Config::

    {"name": "sharding_indexed", "configuration": {
        "chunk_shape": [32, 32],
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "zstd"}],
        "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                         {"name": "crc32c"}],
        "index_location": "end"}}

The index is a uint64 array of shape ``chunks_per_shard + (2,)`` holding each inner
chunk's (offset, length) from the start of the shard; ``2**64 - 1`` twice marks an empty
inner chunk. This module encodes and decodes *whole* shards (nested sharding, or
compressors after the sharding codec, need that); partial reads of single inner chunks
go through the shard view in :mod:`cuzarr.pipeline.shard_io`, which uses the index
helpers here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.codecs.base import ArrayBytesCodec, ChunkSpec, Codec
from cuzarr.codecs.fields import INT64_MAX, codec_list, integers, one_of
from cuzarr.codecs.registry import as_codec, register_codec
from cuzarr.errors import CorruptChunkError, MetadataError

EMPTY = np.uint64(2**64 - 1)
DEFAULT_INDEX_CODECS = (
    {"name": "bytes", "configuration": {"endian": "little"}},
    {"name": "crc32c"},
)


@dataclass(frozen=True)
class ShardIndex:
    """Offsets and lengths (uint64) of a shard's inner chunks, flat in C order."""

    offsets: np.ndarray
    lengths: np.ndarray

    @classmethod
    def empty(cls, n: int) -> ShardIndex:
        return cls(np.full(n, EMPTY, dtype=np.uint64), np.full(n, EMPTY, dtype=np.uint64))

    def is_empty(self, i: int) -> bool:
        return self.offsets[i] == EMPTY and self.lengths[i] == EMPTY

    @property
    def all_empty(self) -> bool:
        return bool(((self.offsets == EMPTY) & (self.lengths == EMPTY)).all())

    def range(self, i: int) -> tuple[int, int] | None:
        """(start, stop) of inner chunk ``i`` in the shard, None when it is empty."""
        if self.is_empty(i):
            return None
        start = int(self.offsets[i])
        return start, start + int(self.lengths[i])


@register_codec("sharding_indexed")
@dataclass(frozen=True)
class ShardingCodec(ArrayBytesCodec):
    chunk_shape: tuple[int, ...]
    codecs: tuple[Codec, ...]
    index_codecs: tuple[Codec, ...] = ()
    index_location: str = "end"

    def __init__(
        self,
        chunk_shape: Any,
        codecs: Any = None,
        index_codecs: Any = None,
        index_location: str = "end",
    ):
        from cuzarr.codecs.bytes import BytesCodec

        shape = integers("sharding_indexed", "chunk_shape", chunk_shape, 1, INT64_MAX)
        object.__setattr__(self, "chunk_shape", shape)
        inner = [BytesCodec("little")] if codecs is None else codecs
        inner = codec_list("sharding_indexed", "codecs", inner)
        object.__setattr__(self, "codecs", tuple(as_codec(c) for c in inner))
        index = DEFAULT_INDEX_CODECS if index_codecs is None else index_codecs
        index = codec_list("sharding_indexed", "index_codecs", index)
        object.__setattr__(self, "index_codecs", tuple(as_codec(c) for c in index))
        one_of("sharding_indexed", "index_location", index_location, ("start", "end"))
        object.__setattr__(self, "index_location", index_location)

    def config(self) -> dict[str, Any]:
        return {
            "chunk_shape": list(self.chunk_shape),
            "codecs": [c.to_v3() for c in self.codecs],
            "index_codecs": [c.to_v3() for c in self.index_codecs],
            "index_location": self.index_location,
        }

    # -- shapes -------------------------------------------------------------------------
    def chunks_per_shard(self, shard_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(s // c for s, c in zip(shard_shape, self.chunk_shape))

    def inner_spec(self, spec: ChunkSpec) -> ChunkSpec:
        return ChunkSpec(self.chunk_shape, spec.dtype, spec.fill_value)

    def index_spec(self, shard_shape: tuple[int, ...]) -> ChunkSpec:
        return ChunkSpec((*self.chunks_per_shard(shard_shape), 2), np.dtype("u8"), EMPTY)

    def index_nbytes(self, shard_shape: tuple[int, ...]) -> int:
        size = 16 * math.prod(self.chunks_per_shard(shard_shape))
        for codec in self.index_codecs:
            size = codec.encoded_size(size)
            if size is None:
                raise MetadataError(
                    f"sharding_indexed: index codec {codec.name!r} has no fixed size"
                )
        return size

    def max_encoded_size(self, spec: ChunkSpec) -> int:
        """The index and every inner chunk at its largest encoding."""
        from cuzarr.pipeline.chain import CodecChain

        n = math.prod(self.chunks_per_shard(spec.shape))
        inner = CodecChain(self.codecs).max_encoded_size(self.inner_spec(spec))
        return self.index_nbytes(spec.shape) + n * inner

    def validate(self, spec: ChunkSpec) -> None:
        from cuzarr.metadata.v3 import check_codec_order

        if len(self.chunk_shape) != len(spec.shape):
            raise MetadataError(
                f"sharding_indexed: chunk_shape {list(self.chunk_shape)} has {len(self.chunk_shape)} "
                f"dimensions, the shard has {len(spec.shape)}"
            )
        if any(s % c for s, c in zip(spec.shape, self.chunk_shape)):
            raise MetadataError(
                f"sharding_indexed: the shard shape {list(spec.shape)} is not a multiple of the "
                f"inner chunk shape {list(self.chunk_shape)}"
            )
        check_codec_order(self.codecs, "sharding_indexed codecs")
        check_codec_order(self.index_codecs, "sharding_indexed index_codecs")
        inner = self.inner_spec(spec)
        for codec in self.codecs:
            codec.validate(inner)
            if codec.kind == "array_to_array":
                inner = codec.resolve(inner)
        self.index_nbytes(spec.shape)  # raises if the index has no fixed size

    def evolve(self, spec: ChunkSpec) -> ShardingCodec:
        from cuzarr.api import evolve_codecs

        inner = evolve_codecs(list(self.codecs), self.inner_spec(spec))
        return ShardingCodec(self.chunk_shape, inner, self.index_codecs, self.index_location)

    # -- the index ------------------------------------------------------------------------
    def index_range(self, shard_shape: tuple[int, ...]) -> tuple[int, int | None]:
        """Where the index lives, as slice bounds (a negative start is a suffix)."""
        n = self.index_nbytes(shard_shape)
        return (0, n) if self.index_location == "start" else (-n, None)

    def decode_index(
        self, data: Any, shard_shape: tuple[int, ...], shard_size: int | None, where: str
    ) -> ShardIndex:
        """Parse and check an encoded index. ``shard_size`` (when known) bounds the ranges."""
        from cuzarr.pipeline.chain import CodecChain

        spec = self.index_spec(shard_shape)
        expected = self.index_nbytes(shard_shape)
        if len(memoryview(data)) != expected:
            raise CorruptChunkError(
                f"shard {where!r}: index has {len(memoryview(data))} bytes, expected {expected}"
            )
        try:
            table = CodecChain(self.index_codecs).decode([data], [spec])[0]
        except CorruptChunkError as e:
            raise type(e)(f"shard {where!r}: bad index: {e}") from None
        table = np.asarray(table, dtype=np.uint64).reshape(-1, 2)
        index = ShardIndex(np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, 1]))
        check_index(index, shard_size, expected if self.index_location == "start" else 0, where)
        return index

    def encode_index(self, index: ShardIndex, shard_shape: tuple[int, ...]) -> Any:
        from cuzarr.pipeline.chain import CodecChain

        spec = self.index_spec(shard_shape)
        table = np.stack([index.offsets, index.lengths], axis=-1).reshape(spec.shape)
        return CodecChain(self.index_codecs).encode([table], [spec])[0]

    def assemble(self, parts: list[Any | None], shard_shape: tuple[int, ...]) -> bytes | None:
        """Lay encoded inner chunks (C order; None = empty) out as a shard; None when all
        are empty (the shard is then not stored)."""
        index = ShardIndex.empty(len(parts))
        base = self.index_nbytes(shard_shape) if self.index_location == "start" else 0
        pieces: list[Any] = []
        pos = base
        for i, part in enumerate(parts):
            if part is None:
                continue
            n = len(memoryview(part).cast("B"))
            index.offsets[i], index.lengths[i] = pos, n
            pieces.append(part)
            pos += n
        if not pieces:
            return None
        encoded_index = bytes(memoryview(self.encode_index(index, shard_shape)).cast("B"))
        body = b"".join(
            bytes(memoryview(p).cast("B")) if not isinstance(p, bytes) else p for p in pieces
        )
        return encoded_index + body if self.index_location == "start" else body + encoded_index

    # -- whole shards ---------------------------------------------------------------------
    def decode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        from cuzarr.pipeline.chain import CodecChain

        view = memoryview(data).cast("B")
        start, stop = self.index_range(spec.shape)
        index = self.decode_index(view[start:stop], spec.shape, len(view), "<shard>")
        out = np.full(spec.shape, spec.fill_value, dtype=spec.dtype)
        cps = self.chunks_per_shard(spec.shape)
        present = [i for i in range(math.prod(cps)) if not index.is_empty(i)]
        if present:
            inner = self.inner_spec(spec)
            parts = [view[slice(*index.range(i))] for i in present]
            chunks = CodecChain(self.codecs).decode(parts, [inner] * len(parts))
            for i, chunk in zip(present, chunks):
                out[self._inner_region(i, cps)] = chunk
        return out

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> bytes | None:
        from cuzarr.pipeline.chain import CodecChain
        from cuzarr.pipeline.write import chunk_is_fill

        cps = self.chunks_per_shard(spec.shape)
        inner = self.inner_spec(spec)
        regions = [self._inner_region(i, cps) for i in range(math.prod(cps))]
        keep = [i for i, r in enumerate(regions) if not chunk_is_fill(data[r], spec.fill_value)]
        encoded = CodecChain(self.codecs).encode(
            [data[regions[i]] for i in keep], [inner] * len(keep)
        )
        parts: list[Any] = [None] * len(regions)
        for i, e in zip(keep, encoded):
            parts[i] = e
        shard = self.assemble(parts, spec.shape)
        # A shard with no data still needs bytes when it is nested inside another chunk.
        return shard if shard is not None else self.assemble_empty(spec.shape)

    def assemble_empty(self, shard_shape: tuple[int, ...]) -> bytes:
        n = math.prod(self.chunks_per_shard(shard_shape))
        return bytes(memoryview(self.encode_index(ShardIndex.empty(n), shard_shape)).cast("B"))

    def _inner_region(self, i: int, cps: tuple[int, ...]) -> tuple[slice, ...]:
        coords = np.unravel_index(i, cps)
        return tuple(slice(int(c) * s, (int(c) + 1) * s) for c, s in zip(coords, self.chunk_shape))


def check_index(index: ShardIndex, shard_size: int | None, data_start: int, where: str) -> None:
    """Ranges must lie inside the shard (after the index, when it is at the start) and must
    not overlap; an entry is either both EMPTY or a real range."""
    used = ~((index.offsets == EMPTY) & (index.lengths == EMPTY))
    half = (index.offsets == EMPTY) ^ (index.lengths == EMPTY)
    if half.any():
        raise CorruptChunkError(
            f"shard {where!r}: index entry {int(np.flatnonzero(half)[0])} is half empty"
        )
    starts = index.offsets[used].astype(np.uint64)
    stops = starts + index.lengths[used]
    if (stops < starts).any():
        raise CorruptChunkError(f"shard {where!r}: an index range overflows")
    if starts.size and (starts < data_start).any():
        raise CorruptChunkError(f"shard {where!r}: an inner chunk starts inside the index")
    if shard_size is not None and starts.size and int(stops.max()) > shard_size:
        raise CorruptChunkError(
            f"shard {where!r}: an inner chunk ends at byte {int(stops.max())}, past the shard's {shard_size} bytes"
        )
    order = np.argsort(starts, kind="stable")
    if starts.size > 1 and (starts[order][1:] < stops[order][:-1]).any():
        raise CorruptChunkError(f"shard {where!r}: inner chunk ranges overlap")
