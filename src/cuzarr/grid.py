"""Chunk grids (which chunk holds which element) and chunk key encodings (its name).

A grid is described per dimension by a :class:`DimGrid`, so indexing code works the same
for regular grids and (later) irregular ones: it only asks which chunk an index falls in
and where a chunk starts and ends.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.metadata import shown

INT64_MAX = 2**63 - 1
# The most dimensions an array may have (TensorStore's limit too): numpy stops at 64, and
# some steps add a dimension (a shard index has one more than its chunks).
MAX_NDIM = 32
# The most chunks a dimension given as a list of lengths may list: the lengths are held
# one by one, so a run-length entry like [1, 2**40] must not expand without bound.
MAX_LISTED_CHUNKS = 2**20


# -- integers in metadata ------------------------------------------------------------------


def integer(value: Any, what: str, low: int = 0) -> int:
    """``value`` when it is an integer (Python or numpy, not a bool) in ``low..2**63-1``.
    Floats (even 2.0, as numpy refuses them in shapes), strings and bools are refused,
    never rounded or parsed."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise MetadataError(f"{what} must be an integer, not {shown(value)}")
    if not low <= value <= INT64_MAX:
        raise MetadataError(f"{what} must be an integer in {low}..2**63-1, not {shown(value)}")
    return int(value)


def integers(values: Any, what: str, low: int = 0) -> tuple[int, ...]:
    """A list (or tuple, or 1-d integer array) of integers checked by :func:`integer`."""
    if isinstance(values, np.ndarray) and values.ndim == 1:
        values = values.tolist()
    if not isinstance(values, list | tuple):
        raise MetadataError(f"{what} must be a list of integers, not {shown(values)}")
    if len(values) > MAX_NDIM:
        raise MetadataError(f"{what} has {len(values)} dimensions, more than {MAX_NDIM}")
    return tuple(integer(v, f"{what}[{i}]", low) for i, v in enumerate(values))


def check_shape(shape: Any, what: str = "shape") -> tuple[int, ...]:
    """An array shape: at most MAX_NDIM non-negative integers, whose element count (with
    empty dimensions counted as 1, as chunk counts are) fits in an int64."""
    out = integers(shape, what, 0)
    if math.prod(max(s, 1) for s in out) > INT64_MAX:
        raise MetadataError(f"{what} {list(out)} holds more than 2**63-1 elements")
    return out


def _configuration(obj: dict[str, Any], what: str) -> dict[str, Any]:
    """The ``configuration`` object of a named JSON entry ({} when absent)."""
    config = obj.get("configuration", {})
    if not isinstance(config, dict):
        raise MetadataError(f"{what}.configuration must be an object, not {shown(config)}")
    return config


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

    def distinct_lengths(self) -> tuple[int, ...]:
        return (self.chunk,)


@dataclass(frozen=True)
class RegularChunkGrid:
    chunk_shape: tuple[int, ...]

    name = "regular"

    def __post_init__(self) -> None:
        object.__setattr__(self, "chunk_shape", integers(self.chunk_shape, "chunk_shape", 1))

    @classmethod
    def from_json(cls, obj: Any) -> RegularChunkGrid:
        if not isinstance(obj, dict) or obj.get("name") != "regular":
            name = obj.get("name") if isinstance(obj, dict) else obj
            raise UnsupportedError(
                f"chunk_grid {shown(name)} is not supported (known: regular, rectilinear)"
            )
        field = "chunk_grid.configuration.chunk_shape"
        shape = _configuration(obj, "chunk_grid").get("chunk_shape")
        if not isinstance(shape, list):
            raise MetadataError(f"{field} must be a list of integers, not {shown(shape)}")
        return cls(integers(shape, field, 1))

    def to_json(self) -> dict[str, Any]:
        return {"name": "regular", "configuration": {"chunk_shape": list(self.chunk_shape)}}

    def dims(self, shape: Sequence[int]) -> tuple[DimGrid, ...]:
        return tuple(DimGrid(s, c) for s, c in zip(shape, self.chunk_shape))

    def grid_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(d.nchunks for d in self.dims(shape))

    def chunks(self, shape: Sequence[int]) -> tuple[int, ...]:
        return self.chunk_shape

    def largest_chunk(self, shape: Sequence[int]) -> tuple[int, ...]:
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
        object.__setattr__(self, "_starts", _chunk_starts(self.edges, self.size))

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

    def distinct_lengths(self) -> tuple[int, ...]:
        """The lengths of the chunks that hold elements (the first chunk when none do)."""
        return tuple(sorted(set(self.edges[: max(self.nchunks, 1)])))


def _chunk_starts(edges: tuple[int, ...], size: int) -> np.ndarray:
    """Where each chunk starts, up to the first chunk that reaches ``size`` (whose end is
    given as ``size``): lengths past the array's end may add up to more than an int64.
    Each length is clipped to ``size`` first, so the sums up to that chunk stay below
    2 * size < 2**64 and uint64 holds them exactly."""
    if not edges:
        return np.zeros(1, dtype=np.int64)
    ends = np.cumsum(np.minimum(np.array(edges, dtype=np.uint64), size), dtype=np.uint64)
    reached = np.flatnonzero(ends >= size)
    if reached.size:
        ends = ends[: reached[0] + 1]
        ends[-1] = size
    return np.concatenate([[0], ends.astype(np.int64)])


def _listed_lengths(entry: Any, what: str) -> tuple[int, ...]:
    """A user's list of chunk lengths for one dimension, checked."""
    if not isinstance(entry, list | tuple) or not entry:
        raise MetadataError(f"{what} must be an integer or a non-empty list, not {shown(entry)}")
    if len(entry) > MAX_LISTED_CHUNKS:
        raise MetadataError(f"{what} lists {len(entry)} chunks, more than {MAX_LISTED_CHUNKS}")
    return tuple(integer(v, f"{what}[{i}]", 1) for i, v in enumerate(entry))


def _dim_spec(entry: Any, what: str) -> int | tuple[int, ...]:
    """One dimension of a rectilinear grid: a regular step, or the chunk lengths."""
    if isinstance(entry, list | tuple):
        return _listed_lengths(entry, what)
    return integer(entry, what, 1)


def _parse_dim_entry(entry: Any, axis: int) -> int | tuple[int, ...]:
    """JSON: an int (regular step), or a list of lengths and ``[length, count]`` runs."""
    what = f"chunk_grid.configuration.chunk_shapes[{axis}]"
    if not isinstance(entry, list):
        return integer(entry, what, 1)
    edges: list[int] = []
    for i, item in enumerate(entry):
        if isinstance(item, list):
            if len(item) != 2:
                raise MetadataError(f"{what}[{i}] must be a length or [length, count]")
            length = integer(item[0], f"{what}[{i}][0]", 1)
            count = integer(item[1], f"{what}[{i}][1]", 0)
            if len(edges) + count > MAX_LISTED_CHUNKS:
                raise MetadataError(
                    f"{what} lists more than {MAX_LISTED_CHUNKS} chunks; a dimension of "
                    "equal chunks is given as one integer"
                )
            edges.extend([length] * count)
        else:
            edges.append(integer(item, f"{what}[{i}]", 1))
    return _listed_lengths(edges, what)


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

    def __post_init__(self) -> None:
        shapes = self.chunk_shapes
        if not isinstance(shapes, list | tuple) or len(shapes) > MAX_NDIM:
            raise MetadataError(
                f"chunk_shapes must be a list of at most {MAX_NDIM} entries, not {shown(shapes)}"
            )
        checked = tuple(_dim_spec(e, f"chunk_shapes[{i}]") for i, e in enumerate(shapes))
        object.__setattr__(self, "chunk_shapes", checked)

    @classmethod
    def from_json(cls, obj: Any) -> RectilinearChunkGrid:
        config = _configuration(obj, "chunk_grid")
        kind = config.get("kind", "inline")
        if kind != "inline":
            raise UnsupportedError(f"rectilinear chunk grid kind {shown(kind)} is not supported")
        shapes = config.get("chunk_shapes")
        if not isinstance(shapes, list):
            raise MetadataError(
                f"chunk_grid.configuration.chunk_shapes must be a list, not {shown(shapes)}"
            )
        return cls(tuple(_parse_dim_entry(e, i) for i, e in enumerate(shapes)))

    def to_json(self) -> dict[str, Any]:
        shapes = [e if isinstance(e, int) else _run_length(e) for e in self.chunk_shapes]
        return {"name": "rectilinear", "configuration": {"kind": "inline", "chunk_shapes": shapes}}

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        """The largest chunk length per dimension (what batch sizing plans for)."""
        return tuple(e if isinstance(e, int) else max(e) for e in self.chunk_shapes)

    def dims(self, shape: Sequence[int]) -> tuple[DimGrid | RectilinearDimGrid, ...]:
        # A regular dimension is computed, never listed: it may have 2**60 chunks.
        return tuple(
            DimGrid(s, e) if isinstance(e, int) else RectilinearDimGrid(s, e)
            for s, e in zip(shape, self.chunk_shapes)
        )

    def grid_shape(self, shape: Sequence[int]) -> tuple[int, ...]:
        return tuple(d.nchunks for d in self.dims(shape))

    def largest_chunk(self, shape: Sequence[int]) -> tuple[int, ...]:
        """The largest length per dimension among the chunks that hold elements (listed
        lengths past the array's end are never read, and may be huge)."""
        return tuple(max(d.distinct_lengths()) for d in self.dims(shape))

    def chunks(self, shape: Sequence[int]) -> tuple[tuple[int, ...], ...]:
        """Per dimension, the in-bounds length of each chunk (dask's ``chunks`` form)."""
        dims = self.dims(shape)
        for axis, d in enumerate(dims):
            if d.nchunks > MAX_LISTED_CHUNKS:
                raise UnsupportedError(
                    f"dimension {axis} has {d.nchunks} chunks, too many to list one by one "
                    f"(at most {MAX_LISTED_CHUNKS})"
                )
        return tuple(tuple(d.stop(i) - d.start(i) for i in range(d.nchunks)) for d in dims)

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
    """A user's chunk spec (integers, or per-dimension lists of lengths) -> a grid; the
    grids check every length (no rounding of floats, no bools)."""
    if any(isinstance(c, list | tuple) for c in chunks):
        return RectilinearChunkGrid(tuple(chunks))
    return RegularChunkGrid(tuple(chunks))


@dataclass(frozen=True)
class ChunkKeyEncoding:
    """``default`` (``c/1/2``) or ``v2`` (``1.2``) chunk keys."""

    name: str = "default"
    separator: str = "/"

    def __post_init__(self) -> None:
        if self.name not in ("default", "v2"):
            raise UnsupportedError(f"chunk_key_encoding {shown(self.name)} is not supported")
        if self.separator not in ("/", "."):
            raise MetadataError(
                f"chunk_key_encoding separator must be '/' or '.', not {shown(self.separator)}"
            )

    @classmethod
    def from_json(cls, obj: Any) -> ChunkKeyEncoding:
        if isinstance(obj, str):
            obj = {"name": obj}
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise MetadataError(
                f"chunk_key_encoding must be an object with a 'name', not {shown(obj)}"
            )
        name = obj["name"]
        default_sep = "/" if name == "default" else "."
        sep = _configuration(obj, "chunk_key_encoding").get("separator", default_sep)
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
