"""``bytes`` — array -> bytes: the chunk's elements in C order, in a chosen byte order.

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/bytes/index.html
Config: ``{"name": "bytes", "configuration": {"endian": "little"}}``; ``endian`` may be
omitted for types without a byte order (bool, int8, uint8, ``r<N>``, fixed bytes ``S``).

Every fixed-size type goes through here: numbers, datetimes (int64), fixed strings ``U``
(UTF-32 code units in the chosen order), ``S`` and raw bytes as they are, structured types
field by field in declaration order. A structured type may also come without ``endian``
(zarr-python 3 writes it so); its bytes are then laid out as its own fields say, which is
how a v2 structured dtype whose fields have different byte orders is read and written.
Variable-length strings and bytes need ``vlen-utf8`` / ``vlen-bytes`` instead.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from cuzarr.codecs.base import ArrayBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CorruptChunkError, MetadataError
from cuzarr.metadata.dtypes import byte_order

NATIVE_ENDIAN = sys.byteorder  # "little" on every platform cuzarr targets


def _has_byte_order(dtype: np.dtype) -> bool:
    return byte_order(dtype) is not None


@functools.lru_cache(maxsize=256)
def _stored_dtype(endian: str | None, dtype: np.dtype) -> np.dtype:
    # Called once per chunk: the dtype inspection is cached.
    if endian is None or not _has_byte_order(dtype):
        return dtype
    return dtype.newbyteorder("<" if endian == "little" else ">")


@register_codec("bytes", aliases=("endian",))
@dataclass(frozen=True)
class BytesCodec(ArrayBytesCodec):
    endian: str | None = None
    _memo: ClassVar[tuple | None] = None  # per instance once set (see decode_chunk)
    encodes_nbytes = True

    def __post_init__(self) -> None:
        if self.endian not in ("little", "big", None):
            raise MetadataError(
                f"bytes codec: endian must be 'little' or 'big', not {self.endian!r}"
            )

    def config(self) -> dict[str, Any]:
        return {} if self.endian is None else {"endian": self.endian}

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.kind == "O":
            raise MetadataError(
                f"bytes codec: cannot store variable-length {spec.dtype} values; "
                "use the vlen-utf8 or vlen-bytes codec"
            )
        if self.endian is None and _has_byte_order(spec.dtype) and spec.dtype.fields is None:
            raise MetadataError(f"bytes codec: 'endian' is required for data type {spec.dtype}")

    def encoded_size(self, decoded_nbytes: int) -> int:
        return decoded_nbytes

    def stored_dtype(self, dtype: np.dtype) -> np.dtype:
        """The dtype whose memory layout equals the encoded bytes."""
        return _stored_dtype(self.endian, dtype)

    def is_native(self, dtype: np.dtype) -> bool:
        """True when decoding is a plain reinterpretation of the bytes (no swap)."""
        return self.stored_dtype(dtype) == dtype

    def decode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        # Once per chunk: a decompressor's bytes go to frombuffer as they are.
        view = data if type(data) is bytes else as_bytes_view(data)
        if len(view) != spec.nbytes:
            raise CorruptChunkError(
                f"bytes codec: chunk has {len(view)} bytes, expected {spec.nbytes} "
                f"for shape {spec.shape} of {spec.dtype}"
            )
        # (dtype, stored dtype, whether they are equal) of the last chunk: hashing and
        # comparing dtypes costs more than the rest of this call, and an array's chunks
        # all share one dtype object.
        memo = self._memo
        if memo is None or memo[0] is not spec.dtype:
            stored = _stored_dtype(self.endian, spec.dtype)
            memo = (spec.dtype, stored, stored == spec.dtype)
            object.__setattr__(self, "_memo", memo)  # one tuple: safe across threads
        arr = np.frombuffer(view, memo[1]).reshape(spec.shape)
        return arr if memo[2] else arr.astype(spec.dtype)

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        arr = np.ascontiguousarray(data, dtype=self.stored_dtype(spec.dtype))
        return arr.reshape(-1).view(np.uint8)
