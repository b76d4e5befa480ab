"""Zarr v2 ``.zarray`` <-> the internal, v3-shaped :class:`ArrayMetadata`.

The pipeline knows v3 terms only, so a v2 array is converted on open:

- ``order: "F"`` -> a leading ``transpose`` codec with the axes reversed (the filters
  then see the F-ordered element sequence, as numcodecs does);
- the dtype's byte order -> the ``bytes`` codec's ``endian`` (taken from the dtype that
  reaches it: the last filter's ``astype`` where filters change the type);
- ``filters`` -> array->array codecs before ``bytes`` and bytes->bytes codecs after it;
  an object array's object codec (``vlen-utf8`` / ``vlen-bytes``, zarr-python's
  ``filters[0]``) becomes the array->bytes codec in place of ``bytes``;
- ``compressor`` -> the last bytes->bytes codec;
- ``dimension_separator`` -> the ``v2`` chunk key encoding; ``null`` fill -> the type's
  default (what zarr-python 3 reads), remembered so it is written back as ``null``.

:func:`to_zarray` is the reverse, used to write v2 metadata; it fails with a clear
:class:`~cuzarr.errors.UnsupportedError` for a codec or placement v2 cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec, Codec
from cuzarr.codecs.blosc import BloscCodec
from cuzarr.codecs.bytes import BytesCodec
from cuzarr.codecs.registry import as_codec, codec_from_v2
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.codecs.vlen import OBJECT_CODEC_IDS, VlenBytesCodec, VlenUTF8Codec
from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.grid import ChunkKeyEncoding, RegularChunkGrid
from cuzarr.metadata.dtypes import BYTES, STRING, byte_order, native, vlen_kind
from cuzarr.metadata.fill import default_fill_value, encode_fill_value_v2, parse_fill_value_v2
from cuzarr.metadata.v2 import ZArray
from cuzarr.metadata.v3 import ArrayMetadata, with_where

_DTYPE_FIELDS = ("dtype", "astype", "encode_dtype", "decode_dtype")


@dataclass(frozen=True)
class V2ArrayMetadata(ArrayMetadata):
    """The internal metadata of a v2 array, plus what v2 states that v3 terms do not."""

    zarr_format: int = 2
    fill_value_null: bool = False  # .zarray says null; written back as null
    has_compressor: bool = True  # the last bytes->bytes codec is the v2 compressor


def default_serializer(dtype: np.dtype) -> Codec:
    """The array->bytes codec a new array of ``dtype`` gets."""
    vlen = vlen_kind(dtype)
    if vlen is not None:
        return VlenUTF8Codec() if vlen == "string" else VlenBytesCodec()
    return BytesCodec("little" if byte_order(dtype) is not None else None)


# -- .zarray -> internal ----------------------------------------------------------------


def _after(serializer: Codec, bytes_codecs: list[Codec]) -> list[Codec]:
    """The bytes->bytes codecs as they run after ``serializer``: behind an object codec,
    numcodecs hands blosc plain bytes, so its type size is 1, not the object item size."""
    if not isinstance(serializer, VlenUTF8Codec | VlenBytesCodec):
        return bytes_codecs
    return [
        replace(c, typesize=1) if isinstance(c, BloscCodec) and c.typesize is None else c
        for c in bytes_codecs
    ]


def _endian(order: str | None) -> str | None:
    return {"<": "little", ">": "big"}.get(order or "")


def _serialized_order(stored: np.dtype, filters: list[dict[str, Any]], where: str) -> str | None:
    """Byte order of the values the array->array filters hand to the serializer. numcodecs
    reinterprets memory, so a filter computing in the other byte order than the data it
    gets would read swapped values: no v3 chain does that, so it is refused."""
    current = stored
    for f in filters:
        wanted = f.get("dtype") or f.get("decode_dtype")
        if wanted is not None:
            w = np.dtype(wanted)
            if byte_order(w) and byte_order(current) and byte_order(w) != byte_order(current):
                raise UnsupportedError(
                    f"{where}: filter {f['id']!r} computes in {w.str} on {current.str} data "
                    "(byte orders differ), which cuzarr cannot reproduce"
                )
        out = f.get("astype") or f.get("encode_dtype") or ("|u1" if f["id"] == "packbits" else None)
        current = np.dtype(out) if out is not None else current
    return byte_order(current)


def _object_codec(z: ZArray, where: str) -> tuple[Codec, list[dict[str, Any]], dict | None]:
    """(serializer, remaining filters, compressor) of a ``|O`` array."""
    filters, compressor = list(z.filters), z.compressor
    if filters and filters[0]["id"] in ("vlen-utf8", "vlen-bytes"):
        return codec_from_v2(filters[0]), filters[1:], compressor
    if not filters and compressor and compressor["id"] in ("vlen-utf8", "vlen-bytes"):
        return codec_from_v2(compressor), [], None  # zarr-python 3 looks there too
    found = [c["id"] for c in [*filters, compressor or {"id": ""}] if c["id"] in OBJECT_CODEC_IDS]
    if found:
        raise UnsupportedError(
            f"{where}: object codec {found[0]!r} is not supported (only vlen-utf8 and vlen-bytes)"
        )
    if filters and filters[0]["id"] == "categorize":  # strings -> codes: bytes of the codes
        return BytesCodec(None), filters, compressor
    raise MetadataError(f"{where}: an object ('|O') array needs an object codec such as vlen-utf8")


def from_zarray(z: ZArray, attributes: dict[str, Any], where: str = ".zarray") -> V2ArrayMetadata:
    """A parsed ``.zarray`` (+ ``.zattrs``) -> internal metadata."""
    stored = z.dtype
    if stored.kind == "O":
        serializer, filters_json, compressor_json = _object_codec(z, where)
        is_bytes = isinstance(serializer, VlenBytesCodec)
        dtype = BYTES if is_bytes else STRING
        stored = dtype
    else:
        filters_json, compressor_json = list(z.filters), z.compressor
        dtype = native(stored)
        serializer = None
    try:
        filters = [codec_from_v2(f) for f in filters_json]
        compressor = codec_from_v2(compressor_json) if compressor_json is not None else None
        n_array = sum(1 for f in filters if f.kind == "array_to_array")
        if any(f.kind != "array_to_array" for f in filters[:n_array]):
            raise UnsupportedError(
                "a bytes filter before an array filter has no v3 form: "
                + ", ".join(f.name for f in filters)
            )
        if compressor is not None and compressor.kind != "bytes_to_bytes":
            raise UnsupportedError(f"compressor {compressor.name!r} is not a bytes->bytes codec")
        if serializer is None:
            order = _serialized_order(stored, filters_json[:n_array], where)
            serializer = BytesCodec(_endian(order) if order != "mixed" else None)
        bytes_codecs = _after(
            serializer, filters[n_array:] + ([compressor] if compressor is not None else [])
        )
        lead = [TransposeCodec(tuple(reversed(range(len(z.shape)))))] if z.order == "F" else []
        codecs = (*lead, *filters[:n_array], serializer, *bytes_codecs)
        fill = parse_fill_value_v2(z.fill_value, stored)
        null = fill is None
        if null:
            fill = default_fill_value(dtype)
        elif stored != dtype and dtype.kind != "O":
            fill = np.asarray(fill, dtype=stored).astype(dtype)[()]
        return V2ArrayMetadata(
            shape=z.shape,
            dtype=dtype,
            chunk_grid=RegularChunkGrid(z.chunks),
            chunk_key_encoding=ChunkKeyEncoding("v2", z.dimension_separator),
            fill_value=fill,
            codecs=codecs,
            attributes=attributes,
            fill_value_null=null,
            has_compressor=compressor is not None,
        )
    except (MetadataError, UnsupportedError) as e:
        raise with_where(e, where) from None


# -- internal -> .zarray ----------------------------------------------------------------


def _v2_form(codec: Codec, where: str) -> dict[str, Any]:
    form = codec.to_v2()
    if form is None:
        raise UnsupportedError(f"{where}: codec {codec.name!r} has no Zarr v2 form")
    return form


def _with_byte_order(form: dict[str, Any], order: str | None) -> dict[str, Any]:
    """A filter config whose dtypes carry the stored byte order (numcodecs computes in the
    byte order its config names)."""
    if order not in ("<", ">"):
        return form
    out = dict(form)
    for name in _DTYPE_FIELDS:
        if isinstance(out.get(name), str) and byte_order(np.dtype(out[name])) is not None:
            out[name] = np.dtype(out[name]).newbyteorder(order).str
    return out


def to_zarray(meta: ArrayMetadata, where: str = ".zarray") -> ZArray:
    """Internal metadata -> ``.zarray`` model; UnsupportedError where v2 has no form."""
    if not isinstance(meta.chunk_grid, RegularChunkGrid):
        raise UnsupportedError(f"{where}: Zarr v2 has regular chunks only")
    if meta.chunk_key_encoding.name != "v2":
        raise UnsupportedError(f"{where}: Zarr v2 needs the 'v2' chunk key encoding")
    if meta.dimension_names is not None:
        raise UnsupportedError(f"{where}: Zarr v2 has no dimension_names")
    codecs = list(meta.codecs)
    order = "C"
    if codecs and isinstance(codecs[0], TransposeCodec):
        if codecs[0].order != tuple(reversed(range(meta.ndim))):
            raise UnsupportedError(
                f"{where}: transpose {list(codecs[0].order)} has no v2 form (only the full "
                "reversal, which is order='F')"
            )
        order, codecs = "F", codecs[1:]
    ab = next(i for i, c in enumerate(codecs) if c.kind == "array_to_bytes")
    array_filters, serializer, bytes_codecs = codecs[:ab], codecs[ab], codecs[ab + 1 :]
    for c in array_filters:
        if isinstance(c, TransposeCodec):
            raise UnsupportedError(f"{where}: a transpose after filters has no v2 form")
    has_compressor = getattr(meta, "has_compressor", True) and bool(bytes_codecs)
    compressor = _v2_form(bytes_codecs[-1], where) if has_compressor else None
    byte_filters = bytes_codecs[:-1] if has_compressor else bytes_codecs
    if isinstance(serializer, VlenUTF8Codec | VlenBytesCodec):
        stored = np.dtype("O")
        first: list[dict[str, Any]] = [_v2_form(serializer, where)]
        bo = None
    elif isinstance(serializer, BytesCodec):
        bo = {"little": "<", "big": ">"}.get(serializer.endian or "")
        stored = meta.dtype.newbyteorder(bo) if bo and byte_order(meta.dtype) else meta.dtype
        first = []
    else:
        raise UnsupportedError(
            f"{where}: serializer {serializer.name!r} has no Zarr v2 form (v2 stores the "
            "dtype's bytes, or an object codec)"
        )
    filters = first + [_with_byte_order(_v2_form(c, where), bo) for c in array_filters]
    filters += [_v2_form(c, where) for c in byte_filters]
    if getattr(meta, "fill_value_null", False):
        fill = None
    elif stored.kind == "O":
        fill = encode_fill_value_v2(meta.fill_value, meta.dtype)
    else:
        fill = encode_fill_value_v2(
            np.asarray(meta.fill_value, dtype=meta.dtype).astype(stored)[()], stored
        )
    return ZArray(
        shape=tuple(meta.shape),
        chunks=tuple(meta.chunk_shape),
        dtype=stored,
        compressor=compressor,
        filters=tuple(filters),
        fill_value=fill,
        order=order,
        dimension_separator=meta.chunk_key_encoding.separator,
    )


# -- new v2 arrays ----------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _user_numpy_dtype(user_dtype: Any) -> np.dtype | None:
    try:
        dt = np.dtype(user_dtype)
    except TypeError:
        return None
    return None if dt.kind == "O" else dt


def new_v2_metadata(
    *,
    shape: tuple[int, ...],
    dtype: np.dtype,
    user_dtype: Any,
    chunk_shape: tuple[int, ...],
    fill_value: Any,
    filters: Any,
    compressors: Any,
    serializer: Any,
    order: str | None,
    separator: str,
    attributes: dict[str, Any],
) -> V2ArrayMetadata:
    """The metadata of a new v2 array from ``create_array``'s arguments. Codecs are the
    same objects v3 takes; a v3-only one fails here, naming itself."""
    where = "create_array(zarr_format=2)"
    if order not in (None, "C", "F"):
        raise MetadataError(f"{where}: order must be 'C' or 'F', not {order!r}")
    filters = (
        []
        if isinstance(filters, str) and filters == "auto"
        else [as_codec(f) for f in _as_list(filters)]
    )
    if isinstance(compressors, str) and compressors == "auto":
        compressors = [{"id": "zstd", "level": 0}]  # zarr-python 3's v2 default
    compressors = [as_codec(c) for c in _as_list(compressors)]
    if len(compressors) > 1:
        raise UnsupportedError(
            f"{where}: v2 has one compressor, got {len(compressors)}; put the others in filters"
        )
    for c in compressors:
        if c.kind != "bytes_to_bytes":
            raise UnsupportedError(f"{where}: compressor {c.name!r} is not a bytes->bytes codec")
    for f in filters:
        if isinstance(f, TransposeCodec):
            raise UnsupportedError(f"{where}: v2 has no transpose filter; pass order='F' instead")
        if f.kind == "array_to_bytes":
            raise UnsupportedError(f"{where}: {f.name!r} is an array->bytes codec, not a v2 filter")
    if isinstance(serializer, str) and serializer == "auto":
        serializer = default_serializer(dtype)
        if isinstance(serializer, BytesCodec):
            # create_array(dtype=">i4") keeps its byte order in v2, as zarr-python does;
            # a structured dtype whose fields disagree is stored as its fields say
            user = _user_numpy_dtype(user_dtype)
            if user is not None and byte_order(user) == ">":
                serializer = BytesCodec("big")
            elif user is not None and byte_order(user) == "mixed":
                dtype, serializer = user, BytesCodec(None)
                fill_value = np.asarray(fill_value, dtype=user)[()]
    serializer = as_codec(serializer)
    n_array = sum(1 for f in filters if f.kind == "array_to_array")
    if any(f.kind != "array_to_array" for f in filters[:n_array]):
        raise UnsupportedError(f"{where}: array filters must come before bytes filters")
    lead = [TransposeCodec(tuple(reversed(range(len(shape)))))] if order == "F" else []
    spec = ChunkSpec(chunk_shape, dtype, fill_value)
    array_codecs = []
    for c in [*lead, *filters[:n_array]]:
        c = c.evolve(spec)  # a filter's dtype left out becomes the array's, as numcodecs does
        array_codecs.append(c)
        spec = c.resolve(spec)
    bytes_codecs = _after(serializer, [*filters[n_array:], *compressors])
    meta = V2ArrayMetadata(
        shape=shape,
        dtype=dtype,
        chunk_grid=RegularChunkGrid(chunk_shape),
        chunk_key_encoding=ChunkKeyEncoding("v2", separator),
        fill_value=fill_value,
        codecs=(*array_codecs, serializer, *bytes_codecs),
        attributes=attributes,
        has_compressor=bool(compressors),
    )
    to_zarray(meta, where)  # fail now, before anything is written, if v2 cannot say it
    return meta
