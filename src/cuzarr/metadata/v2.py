"""Zarr v2 documents: ``.zarray``, ``.zgroup``, ``.zattrs`` — parse, validate, write.

Spec: https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html
These are the JSON models only; :mod:`cuzarr.metadata.convert` turns a ``.zarray`` into
the internal (v3-shaped) :class:`~cuzarr.metadata.v3.ArrayMetadata` and back.

Example ``.zarray``: ``{"zarr_format": 2, "shape": [100, 100], "chunks": [10, 10],
"dtype": "<f8", "compressor": {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1},
"fill_value": "NaN", "order": "C", "filters": null, "dimension_separator": "."}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError
from cuzarr.grid import integer
from cuzarr.metadata import shown
from cuzarr.metadata.dtypes import dtype_to_v2, parse_dtype_v2
from cuzarr.metadata.v3 import is_json_int, load_json_object

ZARRAY, ZGROUP, ZATTRS, ZMETADATA = ".zarray", ".zgroup", ".zattrs", ".zmetadata"


load_object = load_json_object  # .zarray, .zgroup, .zattrs and .zmetadata are JSON objects


@dataclass(frozen=True)
class ZArray:
    """A parsed ``.zarray``. ``dtype`` keeps its stored byte order; ``fill_value`` and the
    codec configs stay JSON until conversion (their meaning depends on the object codec)."""

    shape: tuple[int, ...]
    chunks: tuple[int, ...]
    dtype: np.dtype
    compressor: dict[str, Any] | None
    filters: tuple[dict[str, Any], ...]
    fill_value: Any
    order: str = "C"
    dimension_separator: str = "."

    def to_json(self) -> dict[str, Any]:
        # zarr-python 3's key order, so documents diff cleanly against its output
        return {
            "shape": list(self.shape),
            "chunks": list(self.chunks),
            "dtype": dtype_to_v2(self.dtype),
            "fill_value": self.fill_value,
            "order": self.order,
            "filters": [dict(f) for f in self.filters] or None,
            "dimension_separator": self.dimension_separator,
            "compressor": self.compressor,
            "zarr_format": 2,
        }


def _ints(doc: dict[str, Any], name: str, where: str, low: int) -> tuple[int, ...]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise MetadataError(f"{where}: {name!r} must be a list of integers, not {shown(value)}")
    try:
        return tuple(integer(v, f"{name}[{i}]", low) for i, v in enumerate(value))
    except MetadataError as e:
        raise MetadataError(f"{where}: {e}") from None


def _codec_json(value: Any, name: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        raise MetadataError(f"{where}: {name} must be an object with an 'id', not {shown(value)}")
    return value


def check_zarr_format_2(doc: dict[str, Any], where: str) -> None:
    """The document is an object whose ``zarr_format`` is the JSON integer 2 (not 2.0,
    not "2")."""
    if not isinstance(doc, dict):
        raise MetadataError(f"{where}: must be a JSON object, not {shown(doc)}")
    value = doc.get("zarr_format")
    if not is_json_int(value, 2):
        raise MetadataError(f"{where}: zarr_format must be 2, found {shown(value)}")


def _separator(doc: dict[str, Any], where: str) -> str:
    separator = doc.get("dimension_separator")
    if separator is None:  # absent or null: the default
        return "."
    if separator not in (".", "/"):
        raise MetadataError(
            f"{where}: dimension_separator must be '.' or '/', not {shown(separator)}"
        )
    return separator


def parse_zarray(doc: dict[str, Any], where: str = ".zarray") -> ZArray:
    check_zarr_format_2(doc, where)
    for name in ("shape", "chunks", "dtype", "compressor", "fill_value", "order", "filters"):
        if name not in doc:
            raise MetadataError(f"{where}: required field {name!r} is missing")
    shape = _ints(doc, "shape", where, 0)
    chunks = _ints(doc, "chunks", where, 1)
    if len(chunks) != len(shape):
        raise MetadataError(
            f"{where}: chunks {list(chunks)} and shape {list(shape)} differ in rank"
        )
    try:
        dtype = parse_dtype_v2(doc["dtype"])
    except MetadataError as e:
        raise MetadataError(f"{where}: {e}") from None
    order = doc["order"]
    if order not in ("C", "F"):
        raise MetadataError(f"{where}: order must be 'C' or 'F', not {shown(order)}")
    separator = _separator(doc, where)
    compressor = doc["compressor"]
    if compressor is not None:
        compressor = _codec_json(compressor, "compressor", where)
    filters = doc["filters"]
    if filters is not None and not isinstance(filters, list):
        raise MetadataError(f"{where}: filters must be a list or null, not {shown(filters)}")
    # zarr-python 3 reads a non-conformant [] as null
    filters = tuple(_codec_json(f, "each filter", where) for f in filters or [])
    return ZArray(shape, chunks, dtype, compressor, filters, doc["fill_value"], order, separator)


def parse_zgroup(doc: dict[str, Any], where: str = ".zgroup") -> None:
    # zarr-python 3 adds a "consolidated_metadata" entry inside .zgroup; other keys are
    # ignored as the spec says readers should.
    check_zarr_format_2(doc, where)


def parse_zattrs(raw: Any, where: str = ".zattrs") -> dict[str, Any]:
    """The user attributes (absent -> {})."""
    return {} if raw is None else load_object(raw, where)


def zgroup_json() -> dict[str, Any]:
    return {"zarr_format": 2}


def dump_json_v2(doc: Any) -> bytes:
    """JSON as zarr-python writes v2 documents (indented, sorted-free, NaN never bare)."""
    try:
        return json.dumps(doc, indent=4, allow_nan=False).encode()
    except (TypeError, ValueError, RecursionError) as e:
        raise MetadataError(f"metadata cannot be written as JSON ({e})") from None
