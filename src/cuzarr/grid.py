"""Chunk grids (which chunk holds which element) and chunk key encodings (its name).

A grid is described per dimension by a :class:`DimGrid`, so indexing code works the same
for regular grids and (later) irregular ones: it only asks which chunk an index falls in
and where a chunk starts and ends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError, UnsupportedError


@dataclass(frozen=True)
class DimGrid:
    """One dimension of a regular grid: ``size`` elements in chunks of ``chunk``."""

    size: int
    chunk: int

    @property
    def nchunks(self) -> int:
        return -(-self.size // self.chunk) if self.size else 0

    def chunk_of(self, index: Any) -> Any:
        """Chunk number of an index (or of an integer array of indices)."""
        return index // self.chunk

    def start(self, chunk_index: int) -> int:
        return chunk_index * self.chunk

    def stop(self, chunk_index: int) -> int:
        """End of the chunk's in-bounds part (may be less than start + chunk length)."""
        return min((chunk_index + 1) * self.chunk, self.size)

    def length(self, chunk_index: int) -> int:
        """The stored chunk's length (regular chunks are full length, even at the edge)."""
        return self.chunk


@dataclass(frozen=True)
class RegularChunkGrid:
    chunk_shape: tuple[int, ...]

    name = "regular"

    @classmethod
    def from_json(cls, obj: Any) -> RegularChunkGrid:
        if not isinstance(obj, dict) or obj.get("name") != "regular":
            name = obj.get("name") if isinstance(obj, dict) else obj
            raise UnsupportedError(f"chunk_grid {name!r} is not supported (only 'regular')")
        shape = (obj.get("configuration") or {}).get("chunk_shape")
        if not isinstance(shape, list) or not all(isinstance(c, int) and c > 0 for c in shape):
            raise MetadataError(f"chunk_grid.configuration.chunk_shape must be positive ints: {shape!r}")
        return cls(tuple(shape))

    def to_json(self) -> dict[str, Any]:
        return {"name": "regular", "configuration": {"chunk_shape": list(self.chunk_shape)}}

    def dims(self, shape: Sequence[int]) -> tuple[DimGrid, ...]:
        return tuple(DimGrid(s, c) for s, c in zip(shape, self.chunk_shape))

    def grid_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(d.nchunks for d in self.dims(shape))

    def chunk_shape_at(self, coords: Sequence[int]) -> tuple[int, ...]:
        return self.chunk_shape

    def all_chunk_coords(self, shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
        return itertools.product(*(range(n) for n in self.grid_shape(shape)))

    def validate(self, shape: Sequence[int]) -> None:
        if len(self.chunk_shape) != len(shape):
            raise MetadataError(
                f"chunk_shape {list(self.chunk_shape)} has {len(self.chunk_shape)} dimensions, "
                f"shape {list(shape)} has {len(shape)}"
            )


def parse_chunk_grid(obj: Any) -> RegularChunkGrid:
    return RegularChunkGrid.from_json(obj)


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """``default`` (``c/1/2``) or ``v2`` (``1.2``) chunk keys."""

    name: str = "default"
    separator: str = "/"

    def __post_init__(self) -> None:
        if self.name not in ("default", "v2"):
            raise UnsupportedError(f"chunk_key_encoding {self.name!r} is not supported")
        if self.separator not in ("/", "."):
            raise MetadataError(f"chunk_key_encoding separator must be '/' or '.', not {self.separator!r}")

    @classmethod
    def from_json(cls, obj: Any) -> ChunkKeyEncoding:
        if isinstance(obj, str):
            obj = {"name": obj}
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise MetadataError(f"chunk_key_encoding must be an object with a 'name': {obj!r}")
        name = obj["name"]
        default_sep = "/" if name == "default" else "."
        sep = (obj.get("configuration") or {}).get("separator", default_sep)
        return cls(name, sep)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": {"separator": self.separator}}

    def encode(self, coords: Sequence[int]) -> str:
        if self.name == "v2":
            return self.separator.join(map(str, coords)) if coords else "0"
        return "c" + "".join(self.separator + str(c) for c in coords)

    def decode(self, key: str) -> tuple[int, ...] | None:
        """Chunk coords of a key (relative to the array), None if it is no chunk key."""
        if self.name == "default":
            if key == "c":
                return ()
            if not key.startswith("c" + self.separator):
                return None
            key = key[2:]
        try:
            return tuple(int(p) for p in key.split(self.separator))
        except ValueError:
            return None


def chunk_slices(grid_dims: Sequence[DimGrid], coords: Sequence[int]) -> tuple[slice, ...]:
    """The array region a chunk covers, clipped to the array bounds."""
    return tuple(slice(d.start(c), d.stop(c)) for d, c in zip(grid_dims, coords))


def chunk_nbytes(chunk_shape: Sequence[int], dtype: np.dtype) -> int:
    return int(np.prod(chunk_shape, dtype=np.int64)) * dtype.itemsize
