"""Fill values: JSON <-> numpy scalars, for every data type, in the v3 and v2 forms.

Floats may be numbers, ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` or (v3) ``"0x…"`` (the
bit pattern, most significant digit first; the only way to keep a NaN payload). Complex
values are ``[real, imag]`` pairs of those. Datetimes are the int64 count (``"NaT"`` is
read too). Fixed strings ``U`` and variable strings are JSON strings. Byte-like values
differ by format:

============================  ===========================  ===========================
type                          v3                           v2
============================  ===========================  ===========================
``r<N>`` / ``raw_bytes``      list of byte values / Base64 Base64 of the element
``null_terminated_bytes``     Base64                       Base64 (legacy: ``0``, text)
``structured`` / ``struct``   Base64 / {field: value}      Base64 of the element
``bytes`` (variable length)   Base64 (list of ints read)   Base64
============================  ===========================  ===========================

v2's ``null`` ("no fill value") is read as the type's default, as zarr-python 3 does;
the caller keeps the null to write it back. v3 always states a fill value.

A value the type cannot hold is refused, never wrapped or rounded into one: 300 or -1 for
``uint8``, NaN for an integer type, 1e300 for ``float32`` (it would become infinity).
Integral floats (``2.0``) are taken for integer types: they name the value exactly.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError
from cuzarr.metadata import shown
from cuzarr.metadata.dtypes import vlen_kind

_FLOAT_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_UINT_OF_SIZE = {2: np.uint16, 4: np.uint32, 8: np.uint64}
_CANONICAL_NAN_BITS = {2: 0x7E00, 4: 0x7FC00000, 8: 0x7FF8000000000000}
_NAT = -(2**63)


def default_fill_value(dtype: np.dtype) -> Any:
    """The fill value a type has when none is given (zarr-python 3's defaults)."""
    vlen = vlen_kind(dtype)
    if vlen is not None:
        return "" if vlen == "string" else b""
    if dtype.kind in "Mm":
        return np.array(_NAT, dtype="i8").view(dtype)[()]
    return np.zeros((), dtype=dtype)[()]


def _is_real(value: Any) -> bool:
    """A Python or numpy int or float (bools are not numbers here)."""
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _float_value(value: Any, dtype: np.dtype, field: str) -> Any:
    """A real number as ``dtype``; one too large for it is refused, not made infinite."""
    try:
        as_float = float(value)
    except OverflowError:
        raise MetadataError(f"{field}: {shown(value)} is out of range for {dtype}") from None
    with np.errstate(over="ignore"):
        out = dtype.type(value if isinstance(value, np.floating) else as_float)
    if math.isinf(out) and not math.isinf(as_float):
        raise MetadataError(f"{field}: {shown(value)} is out of range for {dtype}")
    return out


def _parse_float(value: Any, dtype: np.dtype, field: str) -> Any:
    if isinstance(value, str):
        if value in _FLOAT_SPECIAL:
            return dtype.type(_FLOAT_SPECIAL[value])
        if value.startswith("0x"):
            size = dtype.itemsize
            if len(value) != 2 + 2 * size:
                raise MetadataError(
                    f"{field}: {shown(value)} needs {2 * size} hex digits for {dtype}"
                )
            try:
                bits = int(value, 16)
            except ValueError:
                raise MetadataError(f"{field}: {shown(value)} is not hexadecimal") from None
            return np.array(bits, dtype=_UINT_OF_SIZE[size]).view(dtype.newbyteorder("="))[()]
        raise MetadataError(f"{field}: {shown(value)} is not a number, NaN, Infinity or 0x… bits")
    if not _is_real(value):
        raise MetadataError(f"{field}: {shown(value)} is not a valid {dtype} value")
    return _float_value(value, dtype, field)


def _parse_int(value: Any, dtype: np.dtype, field: str) -> Any:
    """An integer (or an integral float, which names one exactly) that ``dtype`` holds."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        value = int(value)
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise MetadataError(f"{field}: {shown(value)} is not an integer")
    info = np.iinfo(dtype)
    if not info.min <= value <= info.max:
        raise MetadataError(f"{field}: {shown(value)} is out of range for {dtype}")
    return dtype.type(value)


def _parse_bool(value: Any, field: str, ints: bool = False) -> Any:
    """true or false; with ``ints``, 0 and 1 too (v2 writers and Python users use them)."""
    if isinstance(value, bool | np.bool_):
        return np.bool_(value)
    if ints and isinstance(value, int | np.integer) and value in (0, 1):
        return np.bool_(value)
    raise MetadataError(f"{field}: {shown(value)} is not true or false")


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise MetadataError(f"{field}: {shown(value)} is not Base64") from None


def _element(raw: bytes, dtype: np.dtype, field: str) -> Any:
    """The element of ``dtype`` whose bytes are ``raw``."""
    if len(raw) != dtype.itemsize:
        raise MetadataError(f"{field}: {len(raw)} bytes do not make one {dtype} ({dtype.itemsize})")
    return np.frombuffer(raw, dtype=dtype)[0]


def _parse_bytes_like(value: Any, dtype: np.dtype, field: str) -> Any:
    """Base64 text or a list of byte values -> an element of an S/V/structured type."""
    raw = _b64(value, field) if isinstance(value, str) else bytes(_byte_list(value, field))
    if dtype.kind == "S":
        if len(raw) > dtype.itemsize:
            raise MetadataError(f"{field}: {len(raw)} bytes do not fit {dtype}")
        return np.array(raw, dtype=dtype)[()]  # as numpy holds it: NUL padding dropped
    return _element(raw, dtype, field)


def _parse_struct(value: dict[str, Any], dtype: np.dtype, field: str) -> Any:
    if set(value) != set(dtype.names):
        raise MetadataError(
            f"{field}: struct fill value needs exactly the fields {shown(dtype.names)}"
        )
    out = np.zeros((), dtype=dtype)
    for name in dtype.names:
        out[name] = parse_fill_value(value[name], dtype.fields[name][0], f"{field}.{name}")
    return out[()]


def parse_fill_value(value: Any, dtype: np.dtype, field: str = "fill_value") -> Any:
    """v3 JSON fill value -> numpy scalar of ``dtype``."""
    if value is None:
        raise MetadataError(f"{field}: null is not a {dtype} value")
    kind = dtype.kind
    vlen = vlen_kind(dtype)
    if vlen == "string" or kind == "U":
        if not isinstance(value, str):
            raise MetadataError(f"{field}: {shown(value)} is not a string")
        return value if vlen else _fixed_string(value, dtype, field)
    if vlen == "bytes":
        return _b64(value, field) if isinstance(value, str) else bytes(_byte_list(value, field))
    if kind == "b":
        return _parse_bool(value, field)
    if kind in "iu":
        return _parse_int(value, dtype, field)
    if kind == "f":
        return _parse_float(value, dtype, field)
    if kind == "c":
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise MetadataError(
                f"{field}: complex fill value must be [real, imag], not {shown(value)}"
            )
        part = np.dtype(f"f{dtype.itemsize // 2}")
        re, im = (_parse_float(v, part, field) for v in value)
        out = np.zeros((), dtype=dtype)
        out.real, out.imag = re, im
        return out[()]
    if kind in "Mm":
        return _parse_time(value, dtype, field)
    if dtype.fields is not None and isinstance(value, dict):
        return _parse_struct(value, dtype, field)
    if kind in "SV":
        if kind == "V" and dtype.fields is None and isinstance(value, list):
            if len(value) != dtype.itemsize:
                raise MetadataError(f"{field}: raw fill value must be {dtype.itemsize} byte values")
        return _parse_bytes_like(value, dtype, field)
    raise MetadataError(f"{field}: no fill value encoding for {dtype}")


def _byte_list(value: Any, field: str) -> list[int]:
    if not isinstance(value, list) or not all(type(b) is int and 0 <= b < 256 for b in value):
        raise MetadataError(f"{field}: {shown(value)} is neither Base64 nor a list of byte values")
    return value


def _fixed_string(value: str, dtype: np.dtype, field: str) -> Any:
    if len(value) > dtype.itemsize // 4:
        raise MetadataError(f"{field}: {shown(value)} is longer than {dtype} holds")
    return np.str_(value)


def _parse_time(value: Any, dtype: np.dtype, field: str) -> Any:
    if value == "NaT":
        value = _NAT
    if isinstance(value, bool) or not isinstance(value, int) or not _NAT <= value < 2**63:
        raise MetadataError(f"{field}: {shown(value)} is not an int64 count or 'NaT'")
    return np.array(value, dtype="i8").view(dtype.newbyteorder("="))[()]


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


def _raw(value: Any, dtype: np.dtype) -> bytes:
    return np.asarray(value, dtype=dtype).tobytes()


def encode_fill_value(value: Any, dtype: np.dtype) -> Any:
    """numpy scalar -> v3 JSON fill value."""
    kind = dtype.kind
    vlen = vlen_kind(dtype)
    if vlen == "string" or kind == "U":
        return str(value)
    if vlen == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "b":
        return bool(value)
    if kind in "iu":
        return int(value)
    if kind == "f":
        return _encode_float(np.asarray(value, dtype=dtype)[()])
    if kind == "c":
        c = np.asarray(value, dtype=dtype)[()]
        return [_encode_float(c.real), _encode_float(c.imag)]
    if kind in "Mm":
        return int(np.asarray(value, dtype=dtype).astype(dtype.newbyteorder("=")).view("i8"))
    if dtype.fields is not None:
        if (dtype.metadata or {}).get("zarr_v3_name") == "struct":
            v = np.asarray(value, dtype=dtype)
            return {n: encode_fill_value(v[n][()], dtype.fields[n][0]) for n in dtype.names}
        return base64.b64encode(_raw(value, dtype)).decode()
    if kind == "S":  # the value without its NUL padding, as zarr-python writes it
        return base64.b64encode(bytes(np.bytes_(value))).decode()
    if kind == "V":
        if (dtype.metadata or {}).get("zarr_v3_name") == "raw_bytes":
            return base64.b64encode(_raw(value, dtype)).decode()
        return list(_raw(value, dtype))
    raise MetadataError(f"no fill value encoding for {dtype}")


# -- Zarr v2 ------------------------------------------------------------------------------


def parse_fill_value_v2(value: Any, dtype: np.dtype, field: str = "fill_value") -> Any:
    """v2 JSON fill value -> numpy scalar of ``dtype`` (the stored v2 dtype, byte order
    included), or None for ``null``."""
    if value is None:
        return None
    kind = dtype.kind
    if kind == "O":
        vlen = vlen_kind(dtype)
        if not isinstance(value, str):
            return _legacy_zero(value, dtype, field)  # zarr-python 2 wrote 0: no value
        if vlen == "bytes":
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return value.encode()
        return value
    if kind == "S":
        if not isinstance(value, str):
            return _legacy_zero(value, dtype, field)
        try:
            return _parse_bytes_like(value, dtype, field)
        except MetadataError:
            return _legacy_text(value, dtype, field)
    if kind == "V":
        return _parse_bytes_like(value, dtype, field)
    if kind == "b":
        return _parse_bool(value, field, ints=True)
    if kind == "c" and _is_real(value):
        value = [value, 0.0]
    return parse_fill_value(value, dtype, field)


def _legacy_zero(value: Any, dtype: np.dtype, field: str) -> Any:
    """The 0 that zarr-python 2 wrote for string and object types meaning "no value"."""
    if type(value) in (int, float) and value == 0:
        return default_fill_value(dtype)
    raise MetadataError(f"{field}: {shown(value)} is not a {dtype} fill value")


def _legacy_text(value: str, dtype: np.dtype, field: str) -> Any:
    """A fixed-bytes fill value written as plain text (old zarr-python)."""
    raw = value.encode()
    if len(raw) > dtype.itemsize:
        raise MetadataError(f"{field}: {shown(value)} is longer than {dtype} holds")
    return np.bytes_(raw)


def encode_fill_value_v2(value: Any, dtype: np.dtype) -> Any:
    """numpy scalar -> v2 JSON fill value (``dtype``: the stored v2 dtype)."""
    if value is None:
        return None
    kind = dtype.kind
    if kind == "O":
        vlen = vlen_kind(dtype)
        return base64.b64encode(bytes(value)).decode() if vlen == "bytes" else str(value)
    if kind in "SV":
        # The whole element, NUL padding included: tensorstore insists on itemsize bytes
        # (zarr-python writes S values unpadded, and reads either).
        return base64.b64encode(_raw(value, dtype)).decode()
    if kind == "f":
        v = float(np.asarray(value, dtype=dtype))
        return "NaN" if math.isnan(v) else _encode_float(v) if math.isinf(v) else v
    if kind == "c":
        c = complex(np.asarray(value, dtype=dtype))
        return [
            encode_fill_value_v2(c.real, np.dtype("f8")),
            encode_fill_value_v2(c.imag, np.dtype("f8")),
        ]
    return encode_fill_value(value, dtype)


# -- what users write ---------------------------------------------------------------------


def fill_value_for(value: Any, dtype: np.dtype) -> Any:
    """A user-given fill value (Python or numpy scalar, or JSON form) -> numpy scalar of
    ``dtype``; one the type cannot hold exactly is refused (see the module docstring)."""
    if value is None:
        return default_fill_value(dtype)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    vlen = vlen_kind(dtype)
    if vlen is not None:
        if vlen == "string" and isinstance(value, str):
            return value
        if vlen == "bytes" and isinstance(value, bytes | bytearray):
            return bytes(value)
        raise MetadataError(
            f"fill_value {shown(value)} is not a {'str' if vlen == 'string' else 'bytes'}"
        )
    kind, field = dtype.kind, "fill_value"
    if kind == "b":
        return _parse_bool(value, field, ints=True)
    if kind in "iu":
        return _parse_int(value, dtype, field)
    if kind == "f" and _is_real(value):
        return _float_value(value, dtype, field)
    if kind == "c" and (_is_real(value) or isinstance(value, complex | np.complexfloating)):
        return _user_complex(complex(value), dtype)
    if kind in "SU" and isinstance(value, str | bytes | np.str_ | np.bytes_):
        return _user_text(value, dtype)
    times = str | int | np.integer | np.datetime64 | np.timedelta64
    if kind in "Mm" and isinstance(value, times) and not isinstance(value, bool):
        return _user_time(value, dtype)
    if kind == "V" and isinstance(value, bytes | bytearray):
        return _element(bytes(value), dtype, field)
    if isinstance(value, np.void) or (dtype.fields is not None and isinstance(value, tuple)):
        return _user_struct(value, dtype)
    if dtype.fields is not None and _is_real(value) and value == 0:
        return np.zeros((), dtype)[()]  # 0 for a record: every field zero, as in zarr-python
    if isinstance(value, str | list | tuple | dict):
        return parse_fill_value(value, dtype)
    raise MetadataError(f"fill_value {shown(value)} is not a valid {dtype} value")


def _user_complex(value: complex, dtype: np.dtype) -> Any:
    part = np.dtype(f"f{dtype.itemsize // 2}")
    try:
        re, im = (_float_value(v, part, "fill_value") for v in (value.real, value.imag))
    except MetadataError:
        raise MetadataError(f"fill_value {value} is out of range for {dtype}") from None
    return dtype.type(complex(re, im))


def _user_text(value: Any, dtype: np.dtype) -> Any:
    """Text or bytes for a fixed-size type; too long is refused (numpy would cut it)."""
    try:
        raw = value.encode("ascii") if dtype.kind == "S" and isinstance(value, str) else value
        out = np.asarray(raw).astype(dtype)[()]
    except (TypeError, ValueError) as e:  # non-ASCII text for bytes, and the like
        raise MetadataError(f"fill_value {shown(value)} is not a valid {dtype} value") from e
    capacity = dtype.itemsize // (4 if dtype.kind == "U" else 1)
    if len(raw.rstrip("\x00" if isinstance(raw, str) else b"\x00")) > capacity:
        raise MetadataError(f"fill_value {shown(value)} is longer than {dtype} holds")
    return out


def _user_time(value: Any, dtype: np.dtype) -> Any:
    try:
        return np.asarray(value).astype(dtype)[()]
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"fill_value {shown(value)} is not a valid {dtype} value") from e


def _user_struct(value: Any, dtype: np.dtype) -> Any:
    try:
        return np.asarray(value, dtype=dtype)[()]
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"fill_value {shown(value)} is not a valid {dtype} value") from e
