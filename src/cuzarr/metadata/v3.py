"""Zarr v3 ``zarr.json`` documents: parse, validate, write.

:class:`ArrayMetadata` is the one internal shape every array has, whatever its on-disk
format: v2 and N5 metadata are converted into it, so the pipeline only knows v3 terms.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec, Codec
from cuzarr.codecs.registry import codec_from_v3
from cuzarr.config import config
from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.grid import (
    ChunkGrid,
    ChunkKeyEncoding,
    RegularChunkGrid,
    check_shape,
    parse_chunk_grid,
)
from cuzarr.metadata import shown
from cuzarr.metadata.dtypes import data_type_to_v3, parse_data_type_v3
from cuzarr.metadata.fill import encode_fill_value, parse_fill_value

ARRAY_FIELDS = {
    "zarr_format",
    "node_type",
    "shape",
    "data_type",
    "chunk_grid",
    "chunk_key_encoding",
    "fill_value",
    "codecs",
    "attributes",
    "dimension_names",
    "storage_transformers",
}
GROUP_FIELDS = {"zarr_format", "node_type", "attributes", "consolidated_metadata"}


def check_extension_fields(doc: dict[str, Any], known: set[str], where: str) -> None:
    """Refuse unknown top-level fields unless they say ``"must_understand": false``."""
    for name in set(doc) - known:
        value = doc[name]
        if not (isinstance(value, dict) and value.get("must_understand") is False):
            raise UnsupportedError(
                f"{where}: unknown field {shown(name)} must be understood (it does not set "
                f'"must_understand": false), so the node cannot be opened'
            )


def check_dimension_names(names: Any, ndim: int) -> tuple[str | None, ...] | None:
    """``dimension_names``: None, or one str or None per dimension."""
    if names is None:
        return None
    if not isinstance(names, list | tuple) or not all(
        n is None or isinstance(n, str) for n in names
    ):
        raise MetadataError(
            f"dimension_names must be a list of strings or nulls, not {shown(names)}"
        )
    if len(names) != ndim:
        raise MetadataError(f"dimension_names has {len(names)} entries, shape has {ndim}")
    return tuple(names)


def _unit_bytes(shape: tuple[int, ...], dtype: np.dtype, what: str) -> None:
    """Refuse a unit (chunk, shard, inner chunk) that decodes to more than
    ``max_chunk_bytes``, before anything is allocated for it."""
    limit = config["max_chunk_bytes"]
    nbytes = math.prod(shape) * max(dtype.itemsize, 1)
    if nbytes > limit:
        raise MetadataError(
            f"one {what} of shape {list(shape)} and data type {dtype} decodes to {nbytes} "
            f"bytes, more than max_chunk_bytes ({limit}); cuzarr.config.set("
            "max_chunk_bytes=...) raises the limit"
        )


def check_chunk_bytes(
    chunk_shape: tuple[int, ...], codecs: tuple[Codec, ...], dtype: np.dtype
) -> None:
    """Every unit a read decodes whole fits ``max_chunk_bytes``: the chunk, or for a
    sharded array the shard and its inner chunks (at every level of nesting)."""
    serializer = next((c for c in codecs if c.kind == "array_to_bytes"), None)
    inner = getattr(serializer, "chunk_shape", None)
    _unit_bytes(chunk_shape, dtype, "chunk" if inner is None else "shard")
    while inner is not None:
        _unit_bytes(tuple(inner), dtype, "inner chunk")
        serializer = next(
            (c for c in getattr(serializer, "codecs", ()) if c.kind == "array_to_bytes"), None
        )
        inner = getattr(serializer, "chunk_shape", None)


def check_codec_order(codecs: tuple[Codec, ...], where: str) -> None:
    kinds = [c.kind for c in codecs]
    n_ab = kinds.count("array_to_bytes")
    if n_ab != 1:
        raise MetadataError(
            f"{where}: codecs must hold exactly one array->bytes codec, found {n_ab}"
        )
    i = kinds.index("array_to_bytes")
    if any(k != "array_to_array" for k in kinds[:i]) or any(
        k != "bytes_to_bytes" for k in kinds[i + 1 :]
    ):
        raise MetadataError(
            f"{where}: codecs must be array->array*, one array->bytes, bytes->bytes*; got "
            + ", ".join(f"{c.name} ({c.kind})" for c in codecs)
        )


@dataclass(frozen=True)
class ArrayMetadata:
    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_grid: ChunkGrid
    chunk_key_encoding: ChunkKeyEncoding
    fill_value: Any
    codecs: tuple[Codec, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    dimension_names: tuple[str | None, ...] | None = None
    # Extension fields that we may ignore ("must_understand": false), kept on rewrite.
    extra_fields: dict[str, Any] = field(default_factory=dict)
    zarr_format: int = 3

    def __post_init__(self) -> None:
        # The one check of every field, whether a document or create_array made it.
        object.__setattr__(self, "shape", check_shape(self.shape))
        names = check_dimension_names(self.dimension_names, len(self.shape))
        object.__setattr__(self, "dimension_names", names)
        if not isinstance(self.attributes, dict):
            raise MetadataError(f"attributes must be an object, not {shown(self.attributes)}")
        self.validate()

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def chunk_shape(self) -> tuple[int, ...]:
        return self.chunk_grid.chunk_shape

    def chunk_spec(self, coords: tuple[int, ...] | None = None) -> ChunkSpec:
        """What chunk ``coords`` is (without coords: a full interior chunk)."""
        if coords is None:
            return ChunkSpec(tuple(self.chunk_shape), self.dtype, self.fill_value)
        dims = self.chunk_grid.dims(self.shape)
        shape = tuple(d.length(c) for d, c in zip(dims, coords))
        extent = tuple(d.stop(c) - d.start(c) for d, c in zip(dims, coords))
        return ChunkSpec(shape, self.dtype, self.fill_value, None if extent == shape else extent)

    def validate(self) -> None:
        """Check the fields against each other (messages name no document: the parsers
        that know it add it)."""
        self.chunk_grid.validate(self.shape)
        check_codec_order(self.codecs, "codecs")
        check_chunk_bytes(self.chunk_grid.largest_chunk(self.shape), self.codecs, self.dtype)
        for spec in self._distinct_chunk_specs():
            for codec in self.codecs:
                codec.validate(spec)
                if codec.kind == "array_to_array":
                    spec = codec.resolve(spec)

    def _distinct_chunk_specs(self) -> list[ChunkSpec]:
        """Specs that cover every chunk length on every axis (one for a regular grid):
        codecs check shapes per axis (rank, divisibility), so this is enough."""
        if isinstance(self.chunk_grid, RegularChunkGrid):
            return [self.chunk_spec()]
        lengths = [list(d.distinct_lengths()) for d in self.chunk_grid.dims(self.shape)]
        base = [ls[0] for ls in lengths]
        shapes = {tuple(base)}
        for axis, ls in enumerate(lengths):
            shapes.update(tuple(base[:axis] + [n] + base[axis + 1 :]) for n in ls)
        return [ChunkSpec(shape, self.dtype, self.fill_value) for shape in sorted(shapes)]

    def with_shape(self, shape: tuple[int, ...]) -> ArrayMetadata:
        return replace(self, shape=tuple(shape))

    def with_attributes(self, attributes: dict[str, Any]) -> ArrayMetadata:
        return replace(self, attributes=dict(attributes))

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "zarr_format": 3,
            "node_type": "array",
            "shape": list(self.shape),
            "data_type": data_type_to_v3(self.dtype),
            "chunk_grid": self.chunk_grid.to_json(),
            "chunk_key_encoding": self.chunk_key_encoding.to_json(),
            "fill_value": encode_fill_value(self.fill_value, self.dtype),
            "codecs": [c.to_v3() for c in self.codecs],
            "attributes": self.attributes,
        }
        if self.dimension_names is not None:
            doc["dimension_names"] = list(self.dimension_names)
        doc["storage_transformers"] = []
        doc.update(self.extra_fields)
        return doc


def _require(doc: dict[str, Any], name: str) -> Any:
    if name not in doc:
        raise MetadataError(f"required field {name!r} is missing")
    return doc[name]


def _codecs(raw: Any) -> tuple[Codec, ...]:
    if not isinstance(raw, list) or not raw:
        raise MetadataError(f"'codecs' must be a non-empty list, not {shown(raw)}")
    return tuple(codec_from_v3(c) for c in raw)


def _no_storage_transformers(doc: dict[str, Any]) -> None:
    transformers = doc.get("storage_transformers", [])
    if not isinstance(transformers, list):
        raise MetadataError(f"'storage_transformers' must be a list, not {shown(transformers)}")
    if transformers:
        names = [t.get("name") if isinstance(t, dict) else t for t in transformers]
        raise UnsupportedError(f"storage transformers {shown(names)} are not supported")


def _fill_value(doc: dict[str, Any], dtype: np.dtype) -> Any:
    value = _require(doc, "fill_value")
    if value is None:  # v2 has "no fill value"; v3 always states one
        raise MetadataError("'fill_value' must be a value of the data type, not null")
    return parse_fill_value(value, dtype)


def parse_array_metadata(doc: dict[str, Any], where: str = "zarr.json") -> ArrayMetadata:
    check_extension_fields(doc, ARRAY_FIELDS, where)
    try:
        shape = _require(doc, "shape")
        if not isinstance(shape, list):
            raise MetadataError(f"'shape' must be a list of integers, not {shown(shape)}")
        dtype = parse_data_type_v3(_require(doc, "data_type"))
        _no_storage_transformers(doc)
        return ArrayMetadata(
            shape=tuple(shape),
            dtype=dtype,
            chunk_grid=parse_chunk_grid(_require(doc, "chunk_grid")),
            chunk_key_encoding=ChunkKeyEncoding.from_json(_require(doc, "chunk_key_encoding")),
            fill_value=_fill_value(doc, dtype),
            codecs=_codecs(_require(doc, "codecs")),
            attributes=doc.get("attributes", {}),
            dimension_names=doc.get("dimension_names"),
            extra_fields={k: v for k, v in doc.items() if k not in ARRAY_FIELDS},
        )
    except (MetadataError, UnsupportedError) as e:
        raise with_where(e, where) from None


def with_where(error: MetadataError | UnsupportedError, where: str) -> Exception:
    """``error`` with its message led by the document it is about (once)."""
    msg = str(error)
    return type(error)(msg if msg.startswith(where) else f"{where}: {msg}")


@dataclass(frozen=True)
class GroupMetadata:
    attributes: dict[str, Any] = field(default_factory=dict)
    zarr_format: int = 3
    consolidated_metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.attributes, dict):
            raise MetadataError(f"attributes must be an object, not {shown(self.attributes)}")

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "zarr_format": 3,
            "node_type": "group",
            "attributes": self.attributes,
        }
        if self.consolidated_metadata is not None:
            doc["consolidated_metadata"] = self.consolidated_metadata
        return doc


def parse_group_metadata(doc: dict[str, Any], where: str = "zarr.json") -> GroupMetadata:
    check_extension_fields(doc, GROUP_FIELDS, where)
    attributes = doc.get("attributes", {})
    if not isinstance(attributes, dict):
        raise MetadataError(f"{where}: 'attributes' must be an object, not {shown(attributes)}")
    return GroupMetadata(
        attributes=attributes, consolidated_metadata=doc.get("consolidated_metadata")
    )


def load_json_object(raw: Any, where: str) -> dict[str, Any]:
    """Bytes of a JSON metadata document -> the object, with errors that name the key.
    (Python's parser also takes the bare NaN/Infinity tokens some old writers emit.)"""
    try:
        doc = json.loads(bytes(raw))
    except (ValueError, UnicodeDecodeError) as e:
        raise MetadataError(f"{where}: not valid JSON ({e})") from None
    except RecursionError:
        raise MetadataError(f"{where}: JSON nested too deeply to read") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{where}: the document must be a JSON object, not {shown(doc)}")
    return doc


def is_json_int(value: Any, expected: int) -> bool:
    """``value`` is the JSON integer ``expected`` (not 3.0, not true, not "3")."""
    return type(value) is int and value == expected


def parse_node_json(raw: bytes, where: str) -> dict[str, Any]:
    """Bytes of a ``zarr.json`` -> the JSON object, with errors that name the key."""
    doc = load_json_object(raw, where)
    if not is_json_int(doc.get("zarr_format"), 3):
        raise MetadataError(
            f"{where}: zarr_format must be 3, found {shown(doc.get('zarr_format'))}"
        )
    if doc.get("node_type") not in ("array", "group"):
        raise MetadataError(
            f"{where}: node_type must be 'array' or 'group', found {shown(doc.get('node_type'))}"
        )
    return doc


def dump_json(doc: dict[str, Any]) -> bytes:
    """JSON as zarr-python writes it (indented, NaN never bare)."""
    try:
        return json.dumps(doc, indent=2, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as e:
        raise MetadataError(f"metadata cannot be written as JSON ({e})") from None
