"""``numcodecs.shuffle`` — bytes -> bytes: a whole-buffer byte shuffle. Byte j of element
i moves to ``j * count + i``, so the buffer becomes ``elementsize`` planes, one per byte
position (unlike Blosc's shuffle: no blocks, and the size must divide evenly).

Format: numcodecs ``Shuffle``, https://numcodecs.readthedocs.io
Names: v3 ``numcodecs.shuffle``, v2 id ``shuffle``.
Config: ``{"name": "numcodecs.shuffle", "configuration": {"elementsize": 4}}``. A missing
``elementsize`` means 4 in v2 (numcodecs' default) and the item size in v3 (zarr-python
fills it in from the data type; :meth:`evolve` does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.fields import INT32_MAX, integer
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CodecError, CorruptChunkError


@register_codec("numcodecs.shuffle", v2_id="shuffle")
@dataclass(frozen=True)
class ShuffleCodec(BytesBytesCodec):
    elementsize: int | None = None

    releases_gil = True  # the work is numpy strided copies, which run without the GIL
    decodes_into_out = True

    def __post_init__(self) -> None:
        if self.elementsize is not None:
            integer("shuffle", "elementsize", self.elementsize, 0, INT32_MAX)

    @classmethod
    def from_v2(cls, config: dict[str, Any]) -> ShuffleCodec:
        return cls.from_config({"elementsize": 4, **{k: v for k, v in config.items() if k != "id"}})

    def config(self) -> dict[str, Any]:
        return {} if self.elementsize is None else {"elementsize": self.elementsize}

    def to_v3(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": self.config()}  # zarr-python needs the key

    def evolve(self, spec: ChunkSpec) -> ShuffleCodec:
        if self.elementsize is not None:
            return self
        return replace(self, elementsize=spec.dtype.itemsize)

    def encoded_size(self, decoded_nbytes: int) -> int:
        return decoded_nbytes

    def _planes(
        self, src: memoryview, spec: ChunkSpec, error: type[Exception]
    ) -> tuple[np.ndarray, int]:
        es = self.elementsize if self.elementsize is not None else spec.dtype.itemsize
        if es > 1 and src.nbytes % es:
            raise error(
                f"shuffle codec: {src.nbytes} bytes is not a whole number of {es}-byte elements"
            )
        return np.frombuffer(src, dtype=np.uint8), es

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> np.ndarray:
        arr, es = self._planes(as_bytes_view(data), spec, CodecError)
        if es <= 1:
            return arr
        return np.ascontiguousarray(arr.reshape(-1, es).T).reshape(-1)

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        arr, es = self._planes(as_bytes_view(data), spec, CorruptChunkError)
        if out is None:
            if arr.size > spec.max_nbytes:
                raise too_big("shuffle", spec.max_nbytes, arr.size)
            dst = np.empty(arr.size, dtype=np.uint8)
        else:
            dst = np.frombuffer(as_bytes_view(out), dtype=np.uint8)
            if dst.size != arr.size:
                raise CorruptChunkError(
                    f"shuffle codec: chunk has {arr.size} bytes, expected {dst.size}"
                )
        if es <= 1:
            dst[:] = arr
        else:
            # Plane j holds byte j of every element: copy it into column j. One long strided
            # copy per plane is several times faster than numpy's transposed assignment,
            # whose inner loop would run over the few bytes of one element.
            columns, planes = dst.reshape(-1, es), arr.reshape(es, -1)
            for j in range(es):
                columns[:, j] = planes[j]
        return dst if out is None else out
