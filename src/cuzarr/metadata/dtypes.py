"""Data types: Zarr v3 ``data_type`` values and Zarr v2 ``dtype`` typestrings <-> numpy.

In v3 a data type names *what* a value is; byte order belongs to the ``bytes`` codec, so
the numpy dtype kept in memory is native-endian. v2 typestrings carry a byte order
(``"<i4"``, ``">f8"``, ``"|u1"``); :func:`parse_dtype_v2` keeps it, and the v2 -> v3
conversion moves it into the ``bytes`` codec.

Variable-length strings and bytes are numpy object arrays; which of the two an object
dtype holds rides in the dtype's ``metadata`` (as h5py does), so it survives in the one
``np.dtype`` the pipeline sees: :data:`STRING` (v3 ``string``, v2 ``|O`` + ``vlen-utf8``)
and :data:`BYTES` (v3 ``bytes``, v2 ``|O`` + ``vlen-bytes``). Where a type has two v3
spellings (``r<N>`` / ``raw_bytes``, ``struct`` / ``structured``, ``bytes`` /
``variable_length_bytes``) the one read is kept there too, so rewriting an array's
metadata never changes how other readers see its type.

=========================  =====================  =========================================
numpy                      v2 dtype               v3 data_type
=========================  =====================  =========================================
bool, int*, uint*, float*  ``|b1``, ``<i4`` ...   ``bool``, ``int32`` ... (core)
complex64/128              ``<c8``, ``<c16``      ``complex64``, ``complex128``
datetime64[10us]           ``<M8[10us]``          ``numpy.datetime64`` {unit, scale_factor}
timedelta64[s]             ``<m8[s]``             ``numpy.timedelta64`` {unit, scale_factor}
U3                         ``<U3``                ``fixed_length_utf32`` {length_bytes: 12}
S3                         ``|S3``                ``null_terminated_bytes`` {length_bytes: 3}
V3                         ``|V3``                ``r24`` (core) or ``raw_bytes`` {length_bytes}
structured                 ``[["a", "<i4"], ..]`` ``structured`` {fields: [["a", "int32"]]}
                                                  (zarr-python 3's; ``struct`` is read too)
object of str / bytes      ``|O`` + object codec  ``string`` / ``bytes``
=========================  =====================  =========================================
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.metadata import shown

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
_TIME_UNITS = ("Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as", "generic")
_SPELLING = "zarr_v3_name"  # dtype.metadata key: the v3 name this type was read under

# The largest element numpy makes (its item size is a C int).
MAX_ITEMSIZE = 2**31 - 1

STRING = np.dtype("O", metadata={"vlen": "string"})
BYTES = np.dtype("O", metadata={"vlen": "bytes"})


def _with_metadata(dtype: np.dtype, **extra: Any) -> np.dtype:
    return np.dtype(dtype, metadata={**(dtype.metadata or {}), **extra})


def vlen_kind(dtype: np.dtype) -> str | None:
    """``"string"`` or ``"bytes"`` for a variable-length dtype, else None."""
    return (dtype.metadata or {}).get("vlen") if dtype.kind == "O" else None


def spelled(dtype: np.dtype, name: str) -> np.dtype:
    """``dtype`` remembering that v3 metadata names it ``name``."""
    return _with_metadata(dtype, **{_SPELLING: name})


def byte_order(dtype: np.dtype) -> str | None:
    """``"<"`` or ``">"`` when every multi-byte part of ``dtype`` has that byte order,
    ``"mixed"`` when fields disagree, None when the type has no byte order (bytes)."""
    if dtype.fields is not None:
        orders = {byte_order(dtype.fields[n][0]) for n in dtype.names} - {None}
        return orders.pop() if len(orders) == 1 else ("mixed" if orders else None)
    if dtype.subdtype is not None:
        return byte_order(dtype.subdtype[0])
    if dtype.kind in "bSVO" or dtype.itemsize == 1:
        return None
    return ">" if dtype.str[0] == ">" else "<"


def native(dtype: np.dtype) -> np.dtype:
    """``dtype`` in the machine's byte order (v3 keeps byte order in the codecs). A
    structured type whose fields disagree is left as it is: no one order describes it."""
    if byte_order(dtype) in (None, "mixed") or dtype.isnative:
        return dtype
    out = dtype.newbyteorder("=")
    return _with_metadata(out) if dtype.metadata else out


# -- Zarr v3 ------------------------------------------------------------------------------


def _length_bytes(name: str, config: dict[str, Any], multiple: int = 1) -> int:
    n = config.get("length_bytes")
    if type(n) is not int or not 0 < n <= MAX_ITEMSIZE or n % multiple:
        raise MetadataError(
            f"data_type {name!r}: configuration.length_bytes must be a positive multiple "
            f"of {multiple} (at most {MAX_ITEMSIZE}), not {shown(n)}"
        )
    return n


def _time_dtype(name: str, config: dict[str, Any]) -> np.dtype:
    unit = config.get("unit")
    unit = "us" if unit == "μs" else unit
    scale = config.get("scale_factor", 1)
    if not isinstance(unit, str) or unit not in _TIME_UNITS:
        raise MetadataError(
            f"data_type {name!r}: unit must be one of {_TIME_UNITS}, not {shown(unit)}"
        )
    if type(scale) is not int or not 1 <= scale < 2**31:
        raise MetadataError(
            f"data_type {name!r}: scale_factor must be 1..2**31-1, not {shown(scale)}"
        )
    char = "M8" if name == "numpy.datetime64" else "m8"
    if unit == "generic":
        return np.dtype(char)
    return np.dtype(f"{char}[{scale if scale != 1 else ''}{unit}]")


def _struct_dtype(name: str, config: dict[str, Any]) -> np.dtype:
    fields = config.get("fields")
    if not isinstance(fields, list) or not fields:
        raise MetadataError(f"data_type {name!r}: configuration.fields must be a non-empty list")
    out = []
    for f in fields:
        if isinstance(f, dict) and name == "struct":
            field_name, field_type = f.get("name"), f.get("data_type")
        elif isinstance(f, list) and len(f) == 2:
            field_name, field_type = f
        else:
            raise MetadataError(f"data_type {name!r}: bad field {shown(f)}")
        if not isinstance(field_name, str) or not field_name:
            raise MetadataError(
                f"data_type {name!r}: field name must be a non-empty string, not "
                f"{shown(field_name)}"
            )
        out.append((field_name, parse_data_type_v3(field_type)))
    return spelled(_fixed_struct(out, f"data_type {name!r}"), name)


def _fixed_struct(fields: list[Any], what: str) -> np.dtype:
    """A structured dtype of fixed-size fields (no variable-length strings inside)."""
    try:
        dtype = np.dtype(fields)
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"{what}: {e}") from None
    _check_fixed_fields(dtype, what)
    return dtype


def _check_fixed_fields(dtype: np.dtype, what: str) -> None:
    if dtype.hasobject:
        raise UnsupportedError(f"{what}: structured fields must have a fixed size, not object")
    if dtype.itemsize == 0:
        raise MetadataError(f"{what}: a structured type needs at least one byte")


def parse_data_type_v3(obj: Any) -> np.dtype:
    """A v3 ``data_type`` JSON value -> native numpy dtype."""
    name, config = obj, {}
    if isinstance(obj, dict):
        name, config = obj.get("name"), obj.get("configuration", {})
        if not isinstance(config, dict):
            raise MetadataError(
                f"data_type {shown(name)}: configuration must be an object, not {shown(config)}"
            )
    if not isinstance(name, str):
        raise MetadataError(
            f"data_type must be a name or an object with a 'name', not {shown(obj)}"
        )
    name = V3_ALIASES.get(name, name)
    raw = _RAW.match(name)
    if (name in V3_NUMERIC or raw) and config:
        raise MetadataError(f"data_type {name!r} takes no configuration, not {shown(config)}")
    if name in V3_NUMERIC:
        return np.dtype(V3_NUMERIC[name])
    if raw:
        bits = int(raw.group(1))
        if bits == 0 or bits % 8 or bits // 8 > MAX_ITEMSIZE:
            raise MetadataError(
                f"data_type {shown(name)}: raw bits must be a positive multiple of 8 "
                f"(at most {MAX_ITEMSIZE} bytes)"
            )
        return np.dtype(f"V{bits // 8}")
    if name == "string":
        return STRING
    if name in ("bytes", "variable_length_bytes"):
        return BYTES if name == "bytes" else spelled(BYTES, name)
    if name in ("numpy.datetime64", "numpy.timedelta64"):
        return _time_dtype(name, config)
    if name == "fixed_length_utf32":
        return np.dtype(f"U{_length_bytes(name, config, 4) // 4}")
    if name == "null_terminated_bytes":
        return np.dtype(f"S{_length_bytes(name, config)}")
    if name == "raw_bytes":
        return spelled(np.dtype(f"V{_length_bytes(name, config)}"), name)
    if name in ("structured", "struct"):
        return _struct_dtype(name, config)
    raise UnsupportedError(f"data type {shown(name)} is not supported")


def _is_packed(dtype: np.dtype) -> bool:
    offset = 0
    for n in dtype.names:
        field, at = dtype.fields[n][:2]
        if at != offset:
            return False
        offset += field.itemsize
    return offset == dtype.itemsize


def _struct_to_v3(dtype: np.dtype) -> dict[str, Any]:
    if not _is_packed(dtype) or any(dtype.fields[n][0].subdtype for n in dtype.names):
        raise UnsupportedError(
            f"structured dtype {dtype} has padding or subarray fields, which no v3 data type holds"
        )
    if (dtype.metadata or {}).get(_SPELLING) == "struct":
        fields: list[Any] = [
            {"name": n, "data_type": data_type_to_v3(dtype.fields[n][0])} for n in dtype.names
        ]
        return {"name": "struct", "configuration": {"fields": fields}}
    # zarr-python 3.1's spelling: the one it reads (it does not know "struct" yet)
    fields = [[n, data_type_to_v3(dtype.fields[n][0])] for n in dtype.names]
    return {"name": "structured", "configuration": {"fields": fields}}


def data_type_to_v3(dtype: np.dtype) -> Any:
    """numpy dtype -> v3 ``data_type`` (a name, or an object with a configuration)."""
    name = (dtype.metadata or {}).get(_SPELLING)
    kind = dtype.kind
    if kind == "O":
        vlen = vlen_kind(dtype)
        if vlen is None:
            raise UnsupportedError(
                "an object dtype needs to say what it holds: use dtype=str or dtype=bytes"
            )
        return name or vlen
    if dtype.fields is not None:
        return _struct_to_v3(dtype)
    if kind == "V" and dtype.subdtype is None:
        if name == "raw_bytes":
            return {"name": "raw_bytes", "configuration": {"length_bytes": dtype.itemsize}}
        return f"r{dtype.itemsize * 8}"
    if kind in "Mm":
        unit, scale = np.datetime_data(dtype)
        return {
            "name": "numpy.datetime64" if kind == "M" else "numpy.timedelta64",
            "configuration": {"unit": unit, "scale_factor": scale},
        }
    if kind == "U":
        return {"name": "fixed_length_utf32", "configuration": {"length_bytes": dtype.itemsize}}
    if kind == "S":
        return {"name": "null_terminated_bytes", "configuration": {"length_bytes": dtype.itemsize}}
    found = "bool" if kind == "b" else _NAME_OF_CHAR.get(np.dtype(dtype).newbyteorder("<").str[1:])
    if found is None:
        raise UnsupportedError(f"numpy dtype {dtype} has no Zarr v3 data type")
    return found


# -- Zarr v2 ------------------------------------------------------------------------------


def _descr_entry(entry: Any) -> tuple[Any, ...]:
    if (
        not isinstance(entry, list)
        or len(entry) not in (2, 3)
        or not isinstance(entry[0], str)
        or not entry[0]
        or not isinstance(entry[1], str | list)
    ):
        raise MetadataError(
            f"structured dtype field must be [name, type(, shape)], not {shown(entry)}"
        )
    name, sub = entry[0], entry[1]
    sub = [_descr_entry(e) for e in sub] if isinstance(sub, list) else _typestring(sub)
    if len(entry) == 2:
        return (name, sub)
    shape = entry[2]
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise MetadataError(f"structured dtype field {name!r}: bad shape {shown(shape)}")
    return (name, sub, tuple(shape))


# Item sizes numpy gives each kind of number (it also knows float128 and the like,
# which no Zarr reader shares).
_NUMBER_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8), "c": (8, 16)}


def _typestring(text: str) -> np.dtype:
    try:
        dtype = np.dtype(text)
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"dtype {shown(text)} is not a numpy typestring ({e})") from None
    if dtype.kind not in "biufcmMSUVO":
        raise UnsupportedError(f"dtype {shown(text)} is not a Zarr v2 data type")
    if dtype.itemsize not in _NUMBER_SIZES.get(dtype.kind, (dtype.itemsize,)):
        raise UnsupportedError(f"dtype {shown(text)} ({dtype}) has no Zarr data type")
    if dtype.itemsize == 0 and dtype.kind != "O":
        raise MetadataError(f"dtype {shown(text)} has elements of no bytes")
    return dtype


def parse_dtype_v2(obj: Any) -> np.dtype:
    """A v2 ``dtype`` (typestring or structured list) -> numpy dtype, byte order kept."""
    if isinstance(obj, str):
        return _typestring(obj)
    if not isinstance(obj, list) or not obj:
        raise MetadataError(f"dtype {shown(obj)} is not a numpy typestring or a list of fields")
    return _fixed_struct([_descr_entry(e) for e in obj], f"dtype {shown(obj)}")


def _listify(descr: Any) -> Any:
    if isinstance(descr, list | tuple):
        return [_listify(d) for d in descr]
    return descr


def dtype_to_v2(dtype: np.dtype) -> Any:
    """numpy dtype (with the byte order to store) -> v2 ``dtype`` JSON."""
    if dtype.fields is not None:
        return _listify(dtype.descr)
    return "|O" if dtype.kind == "O" else dtype.str


# -- what users write ---------------------------------------------------------------------


def as_dtype(dtype: Any) -> np.dtype:
    """A user's dtype spelling (numpy dtype, ``"uint16"``, ``"<u2"``, a v3 name or JSON
    object, ``str``, ``bytes``) -> native numpy dtype. ``str`` and ``object`` mean
    variable-length strings, as in zarr-python 3; ``bytes`` variable-length bytes."""
    if dtype is str or dtype is object or isinstance(dtype, np.dtypes.StringDType):
        return STRING
    if dtype is np.dtypes.StringDType:
        return STRING
    if dtype is bytes:
        return BYTES
    if isinstance(dtype, dict):
        return parse_data_type_v3(dtype)
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        return dtype if vlen_kind(dtype) else STRING
    if isinstance(dtype, str):
        name = V3_ALIASES.get(dtype, dtype)
        if name in V3_NUMERIC or _RAW.match(name) or name in ("string", "bytes"):
            return parse_data_type_v3(name)
        if name in ("str", "O", "|O", "object"):
            return STRING
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"not a data type: {shown(dtype)}") from e
    # fields of mixed byte order: all native here; a v2 array may keep them (convert.py)
    return dt.newbyteorder("=") if byte_order(dt) == "mixed" else native(dt)
