"""The numcodecs array -> array filters, under zarr-python's ``numcodecs.*`` v3 names.

Format: numcodecs, https://numcodecs.readthedocs.io (v3 names: zarr-python's
``zarr.codecs.numcodecs``; configuration = the numcodecs config without ``"id"``).

========================== ============== ==========================================
v3 name                    v2 id          configuration
========================== ============== ==========================================
``numcodecs.delta``        delta          ``dtype``, ``astype``
``numcodecs.fixedscaleoffset`` fixedscaleoffset ``offset``, ``scale``, ``dtype``, ``astype``
``numcodecs.quantize``     quantize       ``digits``, ``dtype``, ``astype``
``numcodecs.bitround``     bitround       ``keepbits`` (alias ``bitround``; floats only)
``numcodecs.packbits``     packbits       none (bool -> uint8 ``(1 + ceil(n / 8),)``)
``numcodecs.astype``       astype         ``encode_dtype``, ``decode_dtype``
========================== ============== ==========================================

Example: ``{"name": "numcodecs.delta", "configuration": {"dtype": "<i4", "astype": "<i2"}}``.

The bytes written match zarr-python's: like numcodecs, each filter works on the chunk
flattened in C order, and the encoded chunk has the ``astype`` dtype (packbits: its
packed shape), which the ``bytes`` codec then writes. Dtypes in a configuration say what
values are computed in; their byte order is ignored, since chunks here are always native
and the ``bytes`` codec owns the stored byte order (numcodecs would reinterpret memory,
which round-trips wrongly in zarr-python for a non-native dtype anyway). A filter dtype of
a different kind but the same item size as the array reinterprets the bits, as numcodecs
does. A dtype a configuration leaves out is the array's (:meth:`evolve` records it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from cuzarr.codecs.base import ArrayArrayCodec, ChunkSpec
from cuzarr.codecs.fields import integer, number
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError


def _native(dtype: np.dtype) -> np.dtype:
    return dtype.newbyteorder("=")


def _flat(data: Any, dtype: np.dtype) -> np.ndarray:
    """The chunk as a 1-d C-order array of ``dtype`` (same item size: reinterpreted)."""
    arr = np.ascontiguousarray(data).reshape(-1)
    return arr if arr.dtype == dtype else arr.view(dtype)


def _value_dtype(codec: str, name: str, value: Any) -> np.dtype:
    """A configuration's dtype (a type string, or a dtype where code builds the codec) as a
    dtype of numbers, booleans or datetimes: what these filters compute in."""
    if not isinstance(value, str | np.dtype):
        raise MetadataError(f"{codec} codec: {name} must be a data type string, not {value!r}")
    try:
        dt = np.dtype(value)
    except (TypeError, ValueError) as e:
        raise MetadataError(f"{codec} codec: {name} {value!r} is not a data type") from e
    if dt.hasobject:
        raise MetadataError(f"{codec} codec: {name} cannot be an object dtype")
    if dt.kind not in "biufcmM":
        raise MetadataError(f"{codec} codec: {name} must be a numeric data type, not {value!r}")
    return dt


class _NumcodecsFilter(ArrayArrayCodec):
    """Shared plumbing: the subclass gives the decoded and encoded value dtypes and the two
    transforms on flat arrays; this class handles shape, dtype views and the fill value."""

    _dtype_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self._dtype_fields:  # JSON gives type strings; hold np.dtype values
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _value_dtype(self.name, name, value))

    def config(self) -> dict[str, Any]:
        cfg = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        return {k: v.str if isinstance(v, np.dtype) else v for k, v in cfg.items() if v is not None}

    def to_v3(self) -> dict[str, Any]:
        # zarr-python rejects a numcodecs.* codec without a configuration key, even if empty
        return {"name": self.name, "configuration": self.config()}

    def evolve(self, spec: ChunkSpec) -> _NumcodecsFilter:
        """This codec with a dtype the configuration left out set to the array's."""
        return self

    # -- what the subclass defines ------------------------------------------------------
    def decoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return spec.dtype

    def encoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return self.decoded_dtype(spec)

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        raise NotImplementedError

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        raise NotImplementedError

    # -- the codec ----------------------------------------------------------------------
    def validate(self, spec: ChunkSpec) -> None:
        if self.decoded_dtype(spec).itemsize != spec.dtype.itemsize:
            raise MetadataError(
                f"{self.name} codec: dtype {self.decoded_dtype(spec)} does not fit "
                f"the array's data type {spec.dtype} (item sizes differ)"
            )

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        return ChunkSpec(spec.shape, self.encoded_dtype(spec), self._encoded_fill(spec))

    def _encoded_fill(self, spec: ChunkSpec) -> Any:
        """The fill value as the filter encodes one element of it (for codecs after this
        one that fill missing data); unchanged where it cannot be encoded."""
        if spec.fill_value is None:
            return None
        try:
            with np.errstate(all="ignore"):
                one = np.full(1, spec.fill_value, dtype=spec.dtype)
                return self._encode(_flat(one, self.decoded_dtype(spec)), spec)[0]
        except (TypeError, ValueError, OverflowError):
            return spec.fill_value

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        encoded = self._encode(_flat(data, self.decoded_dtype(spec)), spec)
        return encoded.reshape(spec.shape)

    def decode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        decoded = self._decode(_flat(data, self.encoded_dtype(spec)), spec)
        return _flat(decoded, spec.dtype).reshape(spec.shape)


class _DtypeAstype(_NumcodecsFilter):
    """Filters configured by ``dtype`` (decoded values) and ``astype`` (encoded values)."""

    _dtype_fields = ("dtype", "astype")
    dtype: Any  # the subclasses declare both as dataclass fields
    astype: Any

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.astype is None and self.dtype is not None:
            object.__setattr__(self, "astype", self.dtype)

    def decoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return spec.dtype if self.dtype is None else _native(self.dtype)

    def encoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return self.decoded_dtype(spec) if self.astype is None else _native(self.astype)

    def evolve(self, spec: ChunkSpec) -> _DtypeAstype:
        return self if self.dtype is not None else replace(self, dtype=spec.dtype)


@register_codec("numcodecs.delta", v2_id="delta")
@dataclass(frozen=True)
class DeltaCodec(_DtypeAstype):
    """out[0] = x[0], out[i] = x[i] - x[i-1] (wrapping for integers), stored as ``astype``."""

    dtype: Any = None
    astype: Any = None

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        enc = np.empty(values.shape, dtype=self.encoded_dtype(spec))
        if values.size:
            enc[0] = values[0]
            enc[1:] = np.diff(values)
        return enc

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        dec = np.empty(values.shape, dtype=self.decoded_dtype(spec))
        return np.cumsum(values, out=dec)  # accumulates in the decoded dtype, as numcodecs


@register_codec("numcodecs.fixedscaleoffset", v2_id="fixedscaleoffset")
@dataclass(frozen=True)
class FixedScaleOffsetCodec(_DtypeAstype):
    """Encode ``round((x - offset) * scale)`` as ``astype``; decode ``y / scale + offset``."""

    offset: Any = 0
    scale: Any = 1
    dtype: Any = None
    astype: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        number("fixedscaleoffset", "offset", self.offset)
        if number("fixedscaleoffset", "scale", self.scale) == 0:  # decoding divides by it
            raise MetadataError("fixedscaleoffset codec: scale must not be 0")

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        # numcodecs' arithmetic exactly (NumPy promotion rules included), for equal bytes
        return np.around((values - self.offset) * self.scale).astype(
            self.encoded_dtype(spec), copy=False
        )

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return (values / self.scale + self.offset).astype(self.decoded_dtype(spec), copy=False)


@register_codec("numcodecs.quantize", v2_id="quantize")
@dataclass(frozen=True)
class QuantizeCodec(_DtypeAstype):
    """Round floats to ``digits`` decimal digits' worth of binary precision."""

    digits: int
    dtype: Any = None
    astype: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        integer("quantize", "digits", self.digits, -300, 300)  # 10 ** -digits stays a float
        for name in ("dtype", "astype"):
            dt = getattr(self, name)
            if dt is not None and dt.kind != "f":
                raise MetadataError(f"quantize codec: {name} must be a float type, not {dt}")

    def validate(self, spec: ChunkSpec) -> None:
        super().validate(spec)
        if self.decoded_dtype(spec).kind != "f":
            raise MetadataError(f"quantize codec: needs a float data type, not {spec.dtype}")

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        exp = math.log10(10.0**-self.digits)
        exp = math.floor(exp) if exp < 0 else math.ceil(exp)
        scale = 2.0 ** math.ceil(math.log2(10.0**-exp))
        return (np.around(scale * values) / scale).astype(self.encoded_dtype(spec), copy=False)

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return values.astype(self.decoded_dtype(spec), copy=False)


_MANTISSA_BITS = {2: 10, 4: 23, 8: 52}  # float16, float32, float64


@register_codec("numcodecs.bitround", v2_id="bitround", aliases=("bitround",))
@dataclass(frozen=True)
class BitRoundCodec(_NumcodecsFilter):
    """Round float mantissas to ``keepbits`` bits (round half to even); decoding is a no-op."""

    keepbits: int

    def __post_init__(self) -> None:
        integer("bitround", "keepbits", self.keepbits, 0, max(_MANTISSA_BITS.values()))

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.kind != "f" or spec.dtype.itemsize not in _MANTISSA_BITS:
            raise MetadataError(f"bitround codec: needs float16/32/64 data, not {spec.dtype}")
        if self.keepbits > _MANTISSA_BITS[spec.dtype.itemsize]:
            raise MetadataError(
                f"bitround codec: keepbits {self.keepbits} exceeds the mantissa of {spec.dtype}"
            )

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        maskbits = _MANTISSA_BITS[values.dtype.itemsize] - self.keepbits
        if maskbits <= 0:
            return values
        # numcodecs' integer trick: add half a quantum (+1 if the kept LSB is odd), then mask
        bits = values.view(f"i{values.dtype.itemsize}").copy()
        mask = np.array(-1, dtype=bits.dtype) >> maskbits << maskbits
        bits += (bits >> maskbits & 1) + ((1 << (maskbits - 1)) - 1)
        bits &= mask
        return bits.view(values.dtype)

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return values


@register_codec("numcodecs.astype", v2_id="astype")
@dataclass(frozen=True)
class AsTypeCodec(_NumcodecsFilter):
    """Store the values cast to ``encode_dtype``; cast back to ``decode_dtype`` on read."""

    encode_dtype: Any
    decode_dtype: Any = None

    _dtype_fields = ("encode_dtype", "decode_dtype")

    def __post_init__(self) -> None:
        if self.encode_dtype is None:
            raise MetadataError("astype codec: encode_dtype is required")
        super().__post_init__()

    def decoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return spec.dtype if self.decode_dtype is None else _native(self.decode_dtype)

    def encoded_dtype(self, spec: ChunkSpec) -> np.dtype:
        return _native(self.encode_dtype)

    def evolve(self, spec: ChunkSpec) -> AsTypeCodec:
        return self if self.decode_dtype is not None else replace(self, decode_dtype=spec.dtype)

    def _encode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return values.astype(self.encoded_dtype(spec))

    def _decode(self, values: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return values.astype(self.decoded_dtype(spec))


@register_codec("numcodecs.packbits", v2_id="packbits")
@dataclass(frozen=True)
class PackBitsCodec(_NumcodecsFilter):
    """bool -> uint8 of shape ``(1 + ceil(n / 8),)``: byte 0 counts the padding bits of the
    last byte, then ``np.packbits`` (element 0 is the most significant bit of byte 1)."""

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype != np.bool_:
            raise MetadataError(f"packbits codec: needs bool data, not {spec.dtype}")

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        n = math.prod(spec.shape)
        return ChunkSpec((1 + -(-n // 8),), np.dtype(np.uint8), 0)

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        bits = _flat(data, np.dtype(np.bool_))
        enc = np.empty(1 + -(-bits.size // 8), dtype=np.uint8)
        enc[0] = -bits.size % 8
        enc[1:] = np.packbits(bits)
        return enc

    def decode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        enc = _flat(data, np.dtype(np.uint8))
        n = math.prod(spec.shape)
        if enc.size != 1 + -(-n // 8) or enc[0] != -n % 8:
            raise CorruptChunkError(
                f"packbits codec: {enc.size} bytes with {enc[0] if enc.size else '?'} padding bits "
                f"do not hold {n} booleans"
            )
        return np.unpackbits(enc[1:], count=n).view(np.bool_).reshape(spec.shape)
