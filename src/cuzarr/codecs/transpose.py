"""``transpose`` — array -> array: permutes the chunk's axes.

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/transpose/index.html
Config: ``{"name": "transpose", "configuration": {"order": [2, 1, 0]}}``. Encoded
``B[pos_B] = A[pos_A]`` with ``pos_B[i] = pos_A[order[i]]``; a v2 ``order: "F"`` array of
rank n is ``order = [n-1, ..., 0]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.codecs.base import ArrayArrayCodec, ChunkSpec
from cuzarr.codecs.fields import INT64_MAX, integers
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import MetadataError


@register_codec("transpose")
@dataclass(frozen=True)
class TransposeCodec(ArrayArrayCodec):
    order: tuple[int, ...]

    def __init__(self, order: Any):
        if isinstance(order, str):
            raise MetadataError(
                f"transpose: order {order!r} is the removed 'C'/'F' form; give a permutation"
            )
        object.__setattr__(self, "order", integers("transpose", "order", order, 0, INT64_MAX))
        if sorted(self.order) != list(range(len(self.order))):
            raise MetadataError(f"transpose: order {list(self.order)} is not a permutation")

    def config(self) -> dict[str, Any]:
        return {"order": list(self.order)}

    def validate(self, spec: ChunkSpec) -> None:
        if len(self.order) != len(spec.shape):
            raise MetadataError(
                f"transpose: order {list(self.order)} has {len(self.order)} axes, "
                f"the chunk has {len(spec.shape)}"
            )

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        extent = None if spec.extent is None else tuple(spec.extent[i] for i in self.order)
        return ChunkSpec(
            tuple(spec.shape[i] for i in self.order), spec.dtype, spec.fill_value, extent
        )

    def encoded_size(self, decoded_nbytes: int) -> int:
        return decoded_nbytes

    def decode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return np.transpose(data, np.argsort(self.order))

    def encode_chunk(self, data: np.ndarray, spec: ChunkSpec) -> np.ndarray:
        return np.transpose(data, self.order)
