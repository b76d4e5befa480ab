"""``numcodecs.categorize`` — array -> array: strings -> small integer codes.

Format: numcodecs ``Categorize``, https://numcodecs.readthedocs.io
Names: v3 ``numcodecs.categorize``, v2 id ``categorize``.
Config: ``{"id": "categorize", "labels": ["female", "male"], "dtype": "<U6",
"astype": "|u1"}`` (v3: the same without ``id``). ``dtype`` is ``"|O"`` for an object
(variable-length string) array.

Each value becomes the 1-based index of its label in ``labels``, 0 when it is none of
them; decoding maps codes back and 0 to ``""``. The chunk is flattened in C order, as
numcodecs flattens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cuzarr.codecs.base import ArrayArrayCodec, ChunkSpec
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import MetadataError
from cuzarr.metadata.dtypes import native


def _dtype(name: str, value: Any) -> np.dtype:
    if not isinstance(value, str | np.dtype):
        raise MetadataError(f"categorize codec: {name} must be a data type string, not {value!r}")
    try:
        return np.dtype(value)
    except (TypeError, ValueError):
        raise MetadataError(f"categorize codec: {name} {value!r} is not a data type") from None


@register_codec("numcodecs.categorize", v2_id="categorize")
@dataclass(frozen=True)
class CategorizeCodec(ArrayArrayCodec):
    labels: list[str] = field(hash=False)  # a list: left out of the hash, still compared
    dtype: Any = "|O"
    astype: Any = "|u1"

    def __post_init__(self) -> None:
        if not isinstance(self.labels, list | tuple) or not all(
            isinstance(s, str) for s in self.labels
        ):
            raise MetadataError(
                f"categorize codec: labels must be a list of strings, not {self.labels!r}"
            )
        object.__setattr__(self, "labels", list(self.labels))
        dt, astype = _dtype("dtype", self.dtype), _dtype("astype", self.astype)
        if dt.kind not in "UO":
            raise MetadataError(f"categorize codec: dtype must be a string type, not {dt}")
        if astype.kind != "u" or len(self.labels) >= 2 ** (8 * astype.itemsize):
            raise MetadataError(
                f"categorize codec: astype must be an unsigned type with room for "
                f"{len(self.labels)} labels, not {astype}"
            )
        object.__setattr__(self, "dtype", dt)
        object.__setattr__(self, "astype", astype)

    def config(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "dtype": self.dtype.str if self.dtype.kind != "O" else "|O",
            "astype": self.astype.str,
        }

    def to_v3(self) -> dict[str, Any]:
        return {"name": self.name, "configuration": self.config()}

    def validate(self, spec: ChunkSpec) -> None:
        if spec.dtype.kind not in "UO":
            raise MetadataError(f"categorize codec: needs string data, not {spec.dtype}")

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        return ChunkSpec(spec.shape, native(self.astype), 0, spec.extent)

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        values = np.ascontiguousarray(data).reshape(-1)
        codes = np.zeros(values.shape, dtype=native(self.astype))
        for i, label in enumerate(self.labels):
            codes[values == label] = i + 1
        return codes.reshape(spec.shape)

    def decode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        codes = np.ascontiguousarray(data).reshape(-1)
        values = np.full(codes.shape, "", dtype=spec.dtype)
        for i, label in enumerate(self.labels):
            values[codes == i + 1] = label
        return values.reshape(spec.shape)
