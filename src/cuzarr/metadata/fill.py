"""Fill values: JSON <-> numpy scalars, for every v3 data type.

Floats may be numbers, ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` or ``"0x…"`` (the bit
pattern, most significant digit first; the only way to keep a NaN payload). Complex
values are ``[real, imag]`` pairs of those; raw bits are lists of byte values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError

_FLOAT_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_CANONICAL_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}


def default_fill_value(dtype: np.dtype) -> Any:
    if dtype.kind == "V":
        return np.zeros((), dtype=dtype)[()]
    return dtype.type(0)


def _parse_float(value: Any, dtype: np.dtype, field: str) -> Any:
    if isinstance(value, str):
        if value in _FLOAT_SPECIAL:
            return dtype.type(_FLOAT_SPECIAL[value])
        if value.startswith("0x"):
            size = dtype.itemsize
            if len(value) != 2 + 2 * size:
                raise MetadataError(f"{field}: {value!r} needs {2 * size} hex digits for {dtype}")
            try:
                bits = int(value, 16)
            except ValueError:
                raise MetadataError(f"{field}: {value!r} is not hexadecimal") from None
            return np.array(bits, dtype=_UINT_OF_SIZE[size]).view(dtype)[()]
        raise MetadataError(f"{field}: {value!r} is not a number, NaN, Infinity or 0x… bits")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MetadataError(f"{field}: {value!r} is not a valid {dtype} value")
    return dtype.type(value)


def parse_fill_value(value: Any, dtype: np.dtype, field: str = "fill_value") -> Any:
    """JSON fill value -> numpy scalar of ``dtype`` (None -> the type's zero)."""
    if value is None:
        return default_fill_value(dtype)
    kind = dtype.kind
    if kind == "b":
        if not isinstance(value, bool):
            raise MetadataError(f"{field}: {value!r} is not true or false")
        return np.bool_(value)
    if kind in "iu":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise MetadataError(f"{field}: {value!r} is not an integer")
        info = np.iinfo(dtype)
        if not info.min <= int(value) <= info.max:
            raise MetadataError(f"{field}: {value} is out of range for {dtype}")
        return dtype.type(int(value))
    if kind == "f":
        return _parse_float(value, dtype, field)
    if kind == "c":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise MetadataError(f"{field}: complex fill value must be [real, imag], not {value!r}")
        part = np.dtype(f"f{dtype.itemsize // 2}")
        re, im = (_parse_float(v, part, field) for v in value)
        out = np.zeros((), dtype=dtype)
        out.real, out.imag = re, im
        return out[()]
    if kind == "V":
        if not isinstance(value, (list, tuple)) or len(value) != dtype.itemsize:
            raise MetadataError(f"{field}: raw fill value must be {dtype.itemsize} byte values")
        return np.frombuffer(bytes(value), dtype=dtype)[0]
    raise MetadataError(f"{field}: no fill value encoding for {dtype}")


def _encode_float(value: Any) -> Any:
    v = float(value)
    if math.isnan(v):
        size = np.dtype(type(value)).itemsize if isinstance(value, np.floating) else 8
        bits = int(np.array(value, dtype=f"f{size}").view(_UINT_OF_SIZE[size]))
        if bits == _CANONICAL_NAN_BITS[size]:
            return "NaN"
        return "0x" + format(bits, f"0{2 * size}x")
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def encode_fill_value(value: Any, dtype: np.dtype) -> Any:
    """numpy scalar -> JSON fill value."""
    kind = dtype.kind
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _encode_float(np.asarray(value, dtype=dtype)[()])
    if kind == "c":
        c = np.asarray(value, dtype=dtype)[()]
        return [_encode_float(c.real), _encode_float(c.imag)]
    if kind == "V":
        return list(bytes(np.asarray(value, dtype=dtype).tobytes()))
    raise MetadataError(f"no fill value encoding for {dtype}")


def fill_value_for(value: Any, dtype: np.dtype) -> Any:
    """A user-given fill value (Python or numpy scalar, or JSON form) -> numpy scalar."""
    if value is None:
        return default_fill_value(dtype)
    if isinstance(value, (str, list, tuple)) or dtype.kind == "V":
        return parse_fill_value(value, dtype)
    try:
        return np.asarray(value).astype(dtype, casting="unsafe")[()]
    except (TypeError, ValueError) as e:
        raise MetadataError(f"fill_value {value!r} is not a valid {dtype} value") from e


def is_nan_like(dtype: np.dtype, value: Any) -> bool:
    return dtype.kind in "fc" and bool(np.isnan(value))
