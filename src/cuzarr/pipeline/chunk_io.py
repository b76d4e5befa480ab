"""What the read and write paths need of an array: where its chunks live, what they
are, and how they are encoded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from cuzarr.codecs.base import ChunkSpec
from cuzarr.config import config
from cuzarr.grid import DimGrid
from cuzarr.indexing import ChunkProjection
from cuzarr.metadata.v3 import ArrayMetadata
from cuzarr.pipeline.chain import CodecChain
from cuzarr.stores.base import Store


@dataclass
class ChunkIO:
    store: Store
    prefix: str  # "" for a root array, else "path/to/array/"
    metadata: ArrayMetadata
    chain: CodecChain = field(init=False)

    def __post_init__(self) -> None:
        self.chain = CodecChain(self.metadata.codecs)

    @property
    def dims(self) -> tuple[DimGrid, ...]:
        return self.metadata.chunk_grid.dims(self.metadata.shape)

    def key(self, coords: Sequence[int]) -> str:
        return self.prefix + self.metadata.chunk_key_encoding.encode(coords)

    def spec(self, coords: Sequence[int]) -> ChunkSpec:
        return self.metadata.chunk_spec(tuple(coords))

    def batches(self, projections: Sequence[ChunkProjection]) -> Iterator[Sequence[ChunkProjection]]:
        """Cut a request into batches bounded in chunk count and decoded bytes."""
        chunk_bytes = max(1, int(np.prod(self.metadata.chunk_shape, dtype=np.int64)) * self.metadata.dtype.itemsize)
        size = max(1, min(config["batch_chunks"], config["batch_bytes"] // chunk_bytes))
        for i in range(0, len(projections), size):
            yield projections[i : i + size]
