"""The codec chain over a batch of chunks: pure compute, no I/O.

Decoding runs layer by layer, each codec seeing the whole batch (bytes->bytes codecs in
reverse, then the array->bytes codec, then array->array codecs in reverse), so a device
implementation can make one call per layer. When a decode fails, the batch is decoded
again one chunk at a time to name the chunk that is bad.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cuzarr.codecs.base import ChunkSpec, Codec
from cuzarr.concurrency import parallel_map
from cuzarr.errors import CodecError, CorruptChunkError


class CodecChain:
    def __init__(self, codecs: Sequence[Codec]):
        self.codecs = tuple(codecs)
        self.array_array = [c for c in self.codecs if c.kind == "array_to_array"]
        self.array_bytes = next(c for c in self.codecs if c.kind == "array_to_bytes")
        self.bytes_bytes = [c for c in self.codecs if c.kind == "bytes_to_bytes"]
        self._specs: dict[tuple, list[ChunkSpec]] = {}
        # decode_chunk runs once per chunk: its codec order is worked out here, once.
        self._bytes_before_last = tuple(reversed(self.bytes_bytes[1:]))
        self._last_bytes = self.bytes_bytes[0] if self.bytes_bytes else None
        self._array_array_reversed = tuple(reversed(list(enumerate(self.array_array))))

    def layer_specs(self, spec: ChunkSpec) -> list[ChunkSpec]:
        """Input spec of each array->array codec, then of the array->bytes codec."""
        specs = self._specs.get((spec.shape, spec.extent))
        if specs is None:
            specs = [spec]
            for codec in self.array_array:
                specs.append(codec.resolve(specs[-1]))
            self._specs[(spec.shape, spec.extent)] = specs
        return specs

    def scratch_helps(self, spec: ChunkSpec) -> bool:
        """Whether decoding into a reused buffer saves an allocation: true when the chunk
        can be decoded into ``out`` and is big enough for the last decompressor to do so
        without a buffer of its own (its ``direct_out_from``, if it has one)."""
        return self.decodes_into_out(spec) and spec.nbytes >= getattr(
            self._last_bytes, "direct_out_from", 0
        )

    def decodes_into_out(self, spec: ChunkSpec) -> bool:
        """Whether a chunk can be decompressed straight into the caller's memory: no
        array->array codec, a byte-order-preserving ``bytes`` codec, and a last
        decompressor that takes ``out=``."""
        ab = self.array_bytes
        return (
            not self.array_array
            and bool(self.bytes_bytes)
            and self.bytes_bytes[0].decodes_into_out
            and getattr(ab, "is_native", lambda dt: False)(spec.dtype)
        )

    # -- decode ---------------------------------------------------------------------------
    def decode(
        self,
        datas: Sequence[Any],
        specs: Sequence[ChunkSpec],
        outs: Sequence[np.ndarray | None] | None = None,
        names: Sequence[str] | None = None,
    ) -> list[np.ndarray]:
        """Decode a batch. ``outs[i]``, when given, is a C-contiguous array of the chunk's
        shape and dtype to decode into; the result for that chunk is then ``outs[i]``."""
        try:
            return self._decode(datas, specs, outs)
        except Exception as first:
            # Decode one chunk at a time to find (and name) the one that is bad.
            for i, (data, spec) in enumerate(zip(datas, specs)):
                try:
                    self._decode([data], [spec], None)
                except Exception as e:
                    raise named_failure(e, names[i] if names else None) from e
            raise named_failure(first, None) from first

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: np.ndarray | None = None) -> np.ndarray:
        """One chunk through the whole chain, without the batch bookkeeping (the host
        path runs this on each pool thread). ``out`` as for :meth:`decode`. Errors come
        out as the codecs raise them: the caller names the chunk (:func:`named_failure`)."""
        # Without array->array codecs the array->bytes codec sees the chunk's own spec.
        specs = self.layer_specs(spec) if self.array_array else None
        ab_spec = spec if specs is None else specs[-1]
        for codec in self._bytes_before_last:
            data = codec.decode_chunk(data, ab_spec)
        last = self._last_bytes
        if last is not None:
            if out is None:
                data = last.decode_chunk(data, ab_spec)
            else:
                data = last.decode_chunk(data, ab_spec, out=out.reshape(-1).view(np.uint8))
        array = self.array_bytes.decode_chunk(data, ab_spec)
        for i, codec in self._array_array_reversed:
            array = codec.decode_chunk(array, specs[i])
        return array

    def _decode(self, datas, specs, outs) -> list[np.ndarray]:
        chains = [self.layer_specs(s) for s in specs]
        ab_specs = [c[-1] for c in chains]
        for codec in reversed(self.bytes_bytes[1:]):
            datas = codec.decode(datas, ab_specs)
        if self.bytes_bytes:
            datas = self._decode_last_bytes(datas, ab_specs, outs)
        arrays = self.array_bytes.decode(datas, ab_specs)
        for i, codec in reversed(list(enumerate(self.array_array))):
            arrays = codec.decode(arrays, [c[i] for c in chains])
        return arrays

    def _decode_last_bytes(self, datas, specs, outs) -> list[Any]:
        codec = self.bytes_bytes[0]
        if outs is None or not any(o is not None for o in outs):
            return codec.decode(datas, specs)

        def one(data: Any, spec: ChunkSpec, out: np.ndarray | None) -> Any:
            if out is None:
                return codec.decode_chunk(data, spec)
            return codec.decode_chunk(data, spec, out=out.reshape(-1).view(np.uint8))

        return parallel_map(one, datas, specs, outs)

    # -- encode ---------------------------------------------------------------------------
    def encode(self, arrays: Sequence[np.ndarray], specs: Sequence[ChunkSpec]) -> list[Any]:
        chains = [self.layer_specs(s) for s in specs]
        for i, codec in enumerate(self.array_array):
            arrays = codec.encode(arrays, [c[i] for c in chains])
        ab_specs = [c[-1] for c in chains]
        datas = self.array_bytes.encode(arrays, ab_specs)
        for codec in self.bytes_bytes:
            datas = codec.encode(datas, ab_specs)
        return datas


def named_failure(e: Exception, key: str | None) -> CodecError:
    """An exception from inside a codec -> a CodecError naming the chunk key."""
    where = f"chunk {key!r}: " if key else ""
    if isinstance(e, CodecError):
        return type(e)(f"{where}{e}")
    return CorruptChunkError(f"{where}cannot decode: {type(e).__name__}: {e}")
