"""Zarr v3 ``zarr.json`` documents: parse, validate, write.

:class:`ArrayMetadata` is the one internal shape every array has, whatever its on-disk
format: v2 and N5 metadata are converted into it, so the pipeline only knows v3 terms.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec, Codec
from cuzarr.codecs.registry import codec_from_v3
from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.grid import ChunkGrid, ChunkKeyEncoding, RectilinearChunkGrid, parse_chunk_grid
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
                f"{where}: unknown field {name!r} must be understood (it does not set "
                f'"must_understand": false), so the node cannot be opened'
            )


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

    def validate(self, where: str = "zarr.json") -> None:
        if any((not isinstance(s, (int, np.integer))) or s < 0 for s in self.shape):
            raise MetadataError(
                f"{where}: shape must be non-negative integers, not {list(self.shape)}"
            )
        self.chunk_grid.validate(self.shape)
        if self.dimension_names is not None and len(self.dimension_names) != len(self.shape):
            raise MetadataError(
                f"{where}: dimension_names has {len(self.dimension_names)} entries, "
                f"shape has {len(self.shape)}"
            )
        check_codec_order(self.codecs, where)
        for spec in self._distinct_chunk_specs():
            for codec in self.codecs:
                codec.validate(spec)
                if codec.kind == "array_to_array":
                    spec = codec.resolve(spec)

    def _distinct_chunk_specs(self) -> list[ChunkSpec]:
        """Specs that cover every chunk length on every axis (one for a regular grid):
        codecs check shapes per axis (rank, divisibility), so this is enough."""
        if not isinstance(self.chunk_grid, RectilinearChunkGrid):
            return [self.chunk_spec()]
        dims = self.chunk_grid.dims(self.shape)
        lengths = [sorted({d.length(i) for i in range(d.nchunks)}) or [d.length(0)] for d in dims]
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


def _require(doc: dict[str, Any], name: str, where: str) -> Any:
    if name not in doc:
        raise MetadataError(f"{where}: required field {name!r} is missing")
    return doc[name]


def parse_array_metadata(doc: dict[str, Any], where: str = "zarr.json") -> ArrayMetadata:
    check_extension_fields(doc, ARRAY_FIELDS, where)
    shape = _require(doc, "shape", where)
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise MetadataError(
            f"{where}: 'shape' must be a list of non-negative integers, not {shape!r}"
        )
    try:
        dtype = parse_data_type_v3(_require(doc, "data_type", where))
        grid = parse_chunk_grid(_require(doc, "chunk_grid", where))
        key_encoding = ChunkKeyEncoding.from_json(_require(doc, "chunk_key_encoding", where))
        fill = parse_fill_value(_require(doc, "fill_value", where), dtype)
        raw_codecs = _require(doc, "codecs", where)
        if not isinstance(raw_codecs, list) or not raw_codecs:
            raise MetadataError("'codecs' must be a non-empty list")
        codecs = tuple(codec_from_v3(c) for c in raw_codecs)
    except MetadataError as e:
        raise MetadataError(f"{where}: {e}") from None
    except UnsupportedError as e:
        raise type(e)(f"{where}: {e}") from None
    transformers = doc.get("storage_transformers") or []
    if transformers:
        names = [t.get("name") if isinstance(t, dict) else t for t in transformers]
        raise UnsupportedError(f"{where}: storage transformers {names} are not supported")
    attributes = doc.get("attributes", {})
    if not isinstance(attributes, dict):
        raise MetadataError(f"{where}: 'attributes' must be an object")
    names = doc.get("dimension_names")
    if names is not None and (
        not isinstance(names, list) or not all(n is None or isinstance(n, str) for n in names)
    ):
        raise MetadataError(f"{where}: 'dimension_names' must be a list of strings or nulls")
    extra = {k: v for k, v in doc.items() if k not in ARRAY_FIELDS}
    return ArrayMetadata(
        shape=tuple(shape),
        dtype=dtype,
        chunk_grid=grid,
        chunk_key_encoding=key_encoding,
        fill_value=fill,
        codecs=codecs,
        attributes=attributes,
        dimension_names=tuple(names) if names is not None else None,
        extra_fields=extra,
    )


@dataclass(frozen=True)
class GroupMetadata:
    attributes: dict[str, Any] = field(default_factory=dict)
    zarr_format: int = 3
    consolidated_metadata: dict[str, Any] | None = None

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
        raise MetadataError(f"{where}: 'attributes' must be an object")
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
    if not isinstance(doc, dict):
        raise MetadataError(f"{where}: the document must be a JSON object")
    return doc


def parse_node_json(raw: bytes, where: str) -> dict[str, Any]:
    """Bytes of a ``zarr.json`` -> the JSON object, with errors that name the key."""
    doc = load_json_object(raw, where)
    if doc.get("zarr_format") != 3:
        raise MetadataError(f"{where}: zarr_format must be 3, found {doc.get('zarr_format')!r}")
    if doc.get("node_type") not in ("array", "group"):
        raise MetadataError(
            f"{where}: node_type must be 'array' or 'group', found {doc.get('node_type')!r}"
        )
    return doc


def dump_json(doc: dict[str, Any]) -> bytes:
    """JSON as zarr-python writes it (indented, NaN never bare)."""
    return json.dumps(doc, indent=2, allow_nan=False).encode()
