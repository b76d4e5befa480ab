"""Chunk grids (which chunk holds which element) and chunk key encodings (its name).

A grid is described per dimension by a :class:`DimGrid`, so indexing code works the same
for regular grids and (later) irregular ones: it only asks which chunk an index falls in
and where a chunk starts and ends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
            raise UnsupportedError(
                f"chunk_grid {name!r} is not supported (known: regular, rectilinear)"
            )
        shape = (obj.get("configuration") or {}).get("chunk_shape")
        if not isinstance(shape, list) or not all(isinstance(c, int) and c > 0 for c in shape):
            raise MetadataError(
                f"chunk_grid.configuration.chunk_shape must be positive ints: {shape!r}"
            )
        return cls(tuple(shape))

    def to_json(self) -> dict[str, Any]:
        return {"name": "regular", "configuration": {"chunk_shape": list(self.chunk_shape)}}

    def dims(self, shape: Sequence[int]) -> tuple[DimGrid, ...]:
        return tuple(DimGrid(s, c) for s, c in zip(shape, self.chunk_shape))

    def grid_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(d.nchunks for d in self.dims(shape))

    def chunks(self, shape: Sequence[int]) -> tuple[int, ...]:
        return self.chunk_shape

    def validate(self, shape: Sequence[int]) -> None:
        if len(self.chunk_shape) != len(shape):
            raise MetadataError(
                f"chunk_shape {list(self.chunk_shape)} has {len(self.chunk_shape)} dimensions, "
                f"shape {list(shape)} has {len(shape)}"
            )


@dataclass(frozen=True)
class RectilinearDimGrid:
    """One dimension of a rectilinear grid: chunks of the given ``edges`` (lengths)."""

    size: int
    edges: tuple[int, ...]

    def __post_init__(self) -> None:
        starts = np.concatenate([[0], np.cumsum(self.edges, dtype=np.int64)])
        object.__setattr__(self, "_starts", starts)

    @property
    def nchunks(self) -> int:
        if not self.size:
            return 0
        return int(np.searchsorted(self._starts, self.size, side="left"))

    def chunk_of(self, index: Any) -> Any:
        found = np.searchsorted(self._starts, index, side="right") - 1
        return found if isinstance(found, np.ndarray) else int(found)

    def start(self, chunk_index: int) -> int:
        return int(self._starts[chunk_index])

    def stop(self, chunk_index: int) -> int:
        return min(int(self._starts[chunk_index + 1]), self.size)

    def length(self, chunk_index: int) -> int:
        return self.edges[chunk_index]


def _expand_edges(spec: int | tuple[int, ...], size: int) -> tuple[int, ...]:
    """A per-dimension ``chunk_shapes`` entry -> explicit edge lengths covering ``size``."""
    if isinstance(spec, int):
        return (spec,) * max(1, -(-size // spec))
    return spec


def _parse_dim_entry(entry: Any, axis: int) -> int | tuple[int, ...]:
    """An int (regular step), or a list of lengths and ``[length, count]`` runs."""
    if isinstance(entry, int) and not isinstance(entry, bool):
        if entry < 1:
            raise MetadataError(f"chunk_grid: chunk_shapes[{axis}] must be >= 1, not {entry}")
        return entry
    if not isinstance(entry, list) or not entry:
        raise MetadataError(
            f"chunk_grid: chunk_shapes[{axis}] must be an int or a non-empty list, not {entry!r}"
        )
    edges: list[int] = []
    for item in entry:
        if isinstance(item, list) and len(item) == 2 and all(isinstance(v, int) for v in item):
            length, count = item
            if count < 0:
                raise MetadataError(
                    f"chunk_grid: chunk_shapes[{axis}] run {item} has a negative count"
                )
            edges.extend([length] * count)
        elif isinstance(item, int) and not isinstance(item, bool):
            edges.append(item)
        else:
            raise MetadataError(
                f"chunk_grid: chunk_shapes[{axis}] item {item!r} is not a length or [length, count]"
            )
    if any(e < 1 for e in edges):
        raise MetadataError(f"chunk_grid: chunk_shapes[{axis}] lengths must be >= 1")
    return tuple(edges)


def _run_length(edges: tuple[int, ...]) -> list[Any]:
    """The run-length form of an edge list when its JSON is shorter, else the plain one."""
    runs: list[list[int]] = []
    for e in edges:
        if runs and runs[-1][0] == e:
            runs[-1][1] += 1
        else:
            runs.append([e, 1])
    encoded = [r if r[1] > 1 else r[0] for r in runs]
    plain = list(edges)
    compact = {"separators": (",", ":")}
    return (
        encoded
        if len(json.dumps(encoded, **compact)) < len(json.dumps(plain, **compact))
        else plain
    )


@dataclass(frozen=True)
class RectilinearChunkGrid:
    """The registered ``rectilinear`` grid: per dimension a regular step or explicit
    chunk lengths (run-length encoding allowed). Chunks may overrun the array's end."""

    chunk_shapes: tuple[int | tuple[int, ...], ...]

    name = "rectilinear"

    @classmethod
    def from_json(cls, obj: Any) -> RectilinearChunkGrid:
        config = obj.get("configuration") or {}
        if config.get("kind", "inline") != "inline":
            raise UnsupportedError(
                f"rectilinear chunk grid kind {config.get('kind')!r} is not supported"
            )
        shapes = config.get("chunk_shapes")
        if not isinstance(shapes, list):
            raise MetadataError(
                f"chunk_grid.configuration.chunk_shapes must be a list, not {shapes!r}"
            )
        return cls(tuple(_parse_dim_entry(e, i) for i, e in enumerate(shapes)))

    def to_json(self) -> dict[str, Any]:
        shapes = [e if isinstance(e, int) else _run_length(e) for e in self.chunk_shapes]
        return {"name": "rectilinear", "configuration": {"kind": "inline", "chunk_shapes": shapes}}

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        """The largest chunk length per dimension (what batch sizing plans for)."""
        return tuple(e if isinstance(e, int) else max(e) for e in self.chunk_shapes)

    def dims(self, shape: Sequence[int]) -> tuple[RectilinearDimGrid, ...]:
        return tuple(
            RectilinearDimGrid(s, _expand_edges(e, s)) for s, e in zip(shape, self.chunk_shapes)
        )

    def grid_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(d.nchunks for d in self.dims(shape))

    def chunks(self, shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """Per dimension, the in-bounds length of each chunk (dask's ``chunks`` form)."""
        return tuple(
            tuple(d.stop(i) - d.start(i) for i in range(d.nchunks)) for d in self.dims(shape)
        )

    def validate(self, shape: Sequence[int]) -> None:
        if len(self.chunk_shapes) != len(shape):
            raise MetadataError(
                f"chunk_grid has {len(self.chunk_shapes)} dimensions, shape {list(shape)} has {len(shape)}"
            )
        for axis, (e, size) in enumerate(zip(self.chunk_shapes, shape)):
            if not isinstance(e, int) and sum(e) < size:
                raise MetadataError(
                    f"chunk_grid: the chunk lengths of dimension {axis} add up to {sum(e)}, "
                    f"less than the array's {size}"
                )


ChunkGrid = RegularChunkGrid | RectilinearChunkGrid


def parse_chunk_grid(obj: Any) -> ChunkGrid:
    if isinstance(obj, dict) and obj.get("name") == "rectilinear":
        return RectilinearChunkGrid.from_json(obj)
    return RegularChunkGrid.from_json(obj)


def make_chunk_grid(chunks: Sequence[Any]) -> ChunkGrid:
    """A user's chunk spec (ints, or per-dimension lists of lengths) -> a grid."""
    if any(isinstance(c, (list, tuple)) for c in chunks):
        return RectilinearChunkGrid(
            tuple(
                int(c) if isinstance(c, (int, np.integer)) else tuple(int(v) for v in c)
                for c in chunks
            )
        )
    return RegularChunkGrid(tuple(int(c) for c in chunks))


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """``default`` (``c/1/2``) or ``v2`` (``1.2``) chunk keys."""

    name: str = "default"
    separator: str = "/"

    def __post_init__(self) -> None:
        if self.name not in ("default", "v2"):
            raise UnsupportedError(f"chunk_key_encoding {self.name!r} is not supported")
        if self.separator not in ("/", "."):
            raise MetadataError(
                f"chunk_key_encoding separator must be '/' or '.', not {self.separator!r}"
            )

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
        # Once per chunk on every read and write: one join, no generator.
        if self.name == "v2":
            return self.separator.join(map(str, coords)) if len(coords) else "0"
        return "c" + self.separator + self.separator.join(map(str, coords)) if len(coords) else "c"

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
