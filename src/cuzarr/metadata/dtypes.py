"""Zarr v3 data types <-> numpy dtypes.

In v3 a data type names *what* a value is; byte order belongs to the ``bytes`` codec, so
the numpy dtype kept in memory is always native-endian. Raw bits ``r<N>`` map to numpy's
void type ``V<N/8>``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError, UnsupportedError

V3_NUMERIC = {
    "bool": "?",
    "int8": "i1",
    "int16": "i2",
    "int32": "i4",
    "int64": "i8",
    "uint8": "u1",
    "uint16": "u2",
    "uint32": "u4",
    "uint64": "u8",
    "float16": "f2",
    "float32": "f4",
    "float64": "f8",
    "complex64": "c8",
    "complex128": "c16",
}
V3_ALIASES = {"complex_float32": "complex64", "complex_float64": "complex128"}
_NAME_OF_CHAR = {np.dtype(v).str[1:]: k for k, v in V3_NUMERIC.items()}
_RAW = re.compile(r"^r(\d+)$")


def native(dtype: np.dtype) -> np.dtype:
    """``dtype`` in the machine's byte order (v3 keeps byte order in the codecs)."""
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def parse_data_type_v3(obj: Any) -> np.dtype:
    """A v3 ``data_type`` JSON value -> native numpy dtype."""
    name = obj
    if isinstance(obj, dict):
        name = obj.get("name")
        if obj.get("configuration") not in (None, {}):
            raise UnsupportedError(f"data type {name!r} with configuration is not supported")
    if not isinstance(name, str):
        raise MetadataError(f"data_type must be a name or an object with a 'name', not {obj!r}")
    name = V3_ALIASES.get(name, name)
    if name in V3_NUMERIC:
        return np.dtype(V3_NUMERIC[name])
    raw = _RAW.match(name)
    if raw:
        bits = int(raw.group(1))
        if bits == 0 or bits % 8:
            raise MetadataError(f"data_type {name!r}: raw bits must be a positive multiple of 8")
        return np.dtype(f"V{bits // 8}")
    raise UnsupportedError(f"data type {name!r} is not supported")


def data_type_to_v3(dtype: np.dtype) -> str:
    """Native numpy dtype -> v3 ``data_type`` name."""
    if dtype.kind == "V" and dtype.fields is None and dtype.subdtype is None:
        return f"r{dtype.itemsize * 8}"
    name = _NAME_OF_CHAR.get(np.dtype(dtype).newbyteorder("<").str[1:]) if dtype.kind != "b" else "bool"
    if name is None:
        raise UnsupportedError(f"numpy dtype {dtype} has no Zarr v3 data type")
    return name


def as_dtype(dtype: Any) -> np.dtype:
    """A user's dtype spelling (numpy dtype, ``"uint16"``, ``"<u2"``, a v3 name) -> native
    numpy dtype."""
    if isinstance(dtype, str):
        name = V3_ALIASES.get(dtype, dtype)
        if name in V3_NUMERIC or _RAW.match(name):
            return parse_data_type_v3(name)
    try:
        return native(np.dtype(dtype))
    except TypeError as e:
        raise MetadataError(f"not a data type: {dtype!r}") from e
