"""What the read and write paths need of an array: its grid of storage units, how a
unit is encoded, and batched fetch/store of units.

A unit is a chunk of an unsharded array, or an *inner* chunk of a sharded one: the shard
view (:mod:`cuzarr.pipeline.shard_io`) has the same interface, so the read and write
paths never check for sharding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from operator import ge
from typing import Any

from cuzarr.codecs.base import ChunkSpec
from cuzarr.concurrency import PARALLEL_MIN_BYTES
from cuzarr.config import config
from cuzarr.grid import DimGrid
from cuzarr.indexing import ChunkProjection
from cuzarr.metadata.v3 import ArrayMetadata
from cuzarr.pipeline.chain import CodecChain
from cuzarr.stores.base import Store


class ChunkIO:
    """Units are the array's chunks, each stored whole under its own key."""

    def __init__(self, store: Store, prefix: str, metadata: ArrayMetadata):
        self.store = store
        self.prefix = prefix  # "" for a root array, else "path/to/array/"
        self.metadata = metadata
        self.chain = CodecChain(metadata.codecs)
        self.dims: tuple[DimGrid, ...] = metadata.chunk_grid.dims(metadata.shape)
        # Every chunk of a regular grid but the last along an axis is an interior chunk
        # with the same spec: compute it once, not once per chunk (a hot path).
        self._interior_spec = metadata.chunk_spec()
        self._regular = all(isinstance(d, DimGrid) for d in self.dims)
        self._first_edge = tuple(
            d.size // d.chunk if isinstance(d, DimGrid) else 0 for d in self.dims
        )
        self._encode_key = metadata.chunk_key_encoding.encode

    @property
    def unit_shape(self) -> tuple[int, ...]:
        return self.metadata.chunk_shape

    def key(self, coords: Sequence[int]) -> str:
        return self.prefix + self._encode_key(coords)

    def spec(self, coords: Sequence[int]) -> ChunkSpec:
        if self._regular and not any(map(ge, coords, self._first_edge)):
            return self._interior_spec
        return self.metadata.chunk_spec(tuple(coords))

    def batches(
        self, projections: Sequence[ChunkProjection]
    ) -> Iterator[Sequence[ChunkProjection]]:
        """Cut a request into batches bounded in unit count and decoded bytes."""
        for i in range(0, len(projections), size := self.batch_size()):
            yield projections[i : i + size]

    def batch_size(self) -> int:
        unit_bytes = max(1, self.unit_nbytes)
        return max(1, min(config["batch_chunks"], config["batch_bytes"] // unit_bytes))

    @property
    def unit_nbytes(self) -> int:
        return math.prod(self.unit_shape) * self.metadata.dtype.itemsize

    def fetch(self, coords: Sequence[tuple[int, ...]]) -> list[Any | None]:
        """Encoded bytes of each unit (None when absent), in one batched store call; a
        few small units from a local store are read on the calling thread."""
        keys = [self.key(c) for c in coords]
        if self.store.supports_partial_reads and len(keys) * self.unit_nbytes < PARALLEL_MIN_BYTES:
            return [self.store.get(k) for k in keys]
        return self.store.get_many(keys)

    def stored_keys(self, coords: Sequence[tuple[int, ...]]) -> list[str]:
        """The store keys that a write of these units replaces."""
        return [self.key(c) for c in coords]

    def read_for_write(
        self, coords: Sequence[tuple[int, ...]], complete: Sequence[bool]
    ) -> tuple[list[Any | None], Callable[[Sequence[Any | None]], None]]:
        """For a write of ``coords`` (``complete[i]``: unit i is written whole): the
        stored encoded bytes of each unit written in part (None for the others and for
        absent units), and the function that stores the new encoded units."""
        partial = [i for i, whole in enumerate(complete) if not whole]
        old: list[Any | None] = [None] * len(coords)
        for i, data in zip(partial, self.fetch([coords[i] for i in partial]) if partial else []):
            old[i] = data
        return old, lambda datas: self.store_units(coords, datas)

    def store_units(self, coords: Sequence[tuple[int, ...]], datas: Sequence[Any | None]) -> None:
        """Write encoded units; None deletes the unit (it reads as the fill value)."""
        self.store.set_many([(self.key(c), d) for c, d in zip(coords, datas) if d is not None])
        deleted = [self.key(c) for c, d in zip(coords, datas) if d is None]
        if deleted:
            self.store.delete_many(deleted)

    def delete_objects(self, objects: Sequence[tuple[int, ...]]) -> None:
        """Delete the stored objects at these grid coordinates: chunks here, shards for
        a sharded array (whose cached indexes then go too)."""
        self.store.delete_many([self.key(o) for o in objects])


def make_chunk_io(store: Store, prefix: str, metadata: ArrayMetadata) -> ChunkIO:
    """The shard view when the array's only codec is ``sharding_indexed`` (then inner
    chunks can be read and written one by one), else plain chunks."""
    from cuzarr.codecs.sharding import ShardingCodec
    from cuzarr.grid import RegularChunkGrid

    # Irregular shards are decoded whole (the shard view assumes one shard shape).
    regular = isinstance(metadata.chunk_grid, RegularChunkGrid)
    if regular and len(metadata.codecs) == 1 and isinstance(metadata.codecs[0], ShardingCodec):
        from cuzarr.pipeline.shard_io import ShardIO

        return ShardIO(store, prefix, metadata)
    return ChunkIO(store, prefix, metadata)
