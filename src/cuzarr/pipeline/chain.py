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
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError


class _Layers:
    """What decoding a chunk of one shape needs, worked out once per shape."""

    __slots__ = ("array", "ab", "last", "outer", "bound")

    def __init__(self, chain: CodecChain, spec: ChunkSpec):
        # Input spec of each array->array codec, then of the array->bytes codec.
        self.array = [spec]
        for codec in chain.array_array:
            self.array.append(codec.resolve(self.array[-1]))
        self.ab = self.array[-1]
        # Each bytes->bytes codec decodes to at most what the codec after it (in decoding
        # order) can take: the array->bytes codec's largest encoding, then each outer
        # layer's largest encoding of that.
        bound = chain.array_bytes.max_encoded_size(self.ab)
        bytes_specs = []
        for codec in chain.bytes_bytes:
            bytes_specs.append(self.ab.bounded(bound))
            bound = codec.max_encoded_size(bound)
        self.bound = bound  # the most bytes an encoded chunk can have
        self.last = bytes_specs[0] if bytes_specs else None
        # (codec, spec) of the layers decoded before the last one, in decoding order
        self.outer = tuple(reversed(list(zip(chain.bytes_bytes, bytes_specs))[1:]))


class CodecChain:
    def __init__(self, codecs: Sequence[Codec]):
        self.codecs = tuple(codecs)
        self.array_array = [c for c in self.codecs if c.kind == "array_to_array"]
        array_bytes = [c for c in self.codecs if c.kind == "array_to_bytes"]
        if len(array_bytes) != 1:
            raise MetadataError(
                f"a codec chain needs exactly one array->bytes codec, not {len(array_bytes)}: "
                f"{[c.name for c in self.codecs]}"
            )
        self.array_bytes = array_bytes[0]
        self.bytes_bytes = [c for c in self.codecs if c.kind == "bytes_to_bytes"]
        self._layers: dict[tuple, _Layers] = {}
        # decode_chunk runs once per chunk: the common chain ([bytes, compressor]) needs
        # no per-shape lookup, since the chunk's own spec (max_nbytes = its nbytes) bounds
        # its one decompressor.
        self._own_spec = (
            not self.array_array and len(self.bytes_bytes) <= 1 and self.array_bytes.encodes_nbytes
        )
        self._last_bytes = self.bytes_bytes[0] if self.bytes_bytes else None
        self._array_array_reversed = tuple(reversed(list(enumerate(self.array_array))))

    def _layers_of(self, spec: ChunkSpec) -> _Layers:
        layers = self._layers.get((spec.shape, spec.extent))
        if layers is None:
            layers = self._layers[(spec.shape, spec.extent)] = _Layers(self, spec)
        return layers

    def layer_specs(self, spec: ChunkSpec) -> list[ChunkSpec]:
        """Input spec of each array->array codec, then of the array->bytes codec."""
        return self._layers_of(spec).array

    def bytes_specs(self, spec: ChunkSpec) -> list[ChunkSpec]:
        """The spec each bytes->bytes codec (in encoding order) decodes with: the
        array->bytes codec's input spec, ``max_nbytes`` set to what that layer may give."""
        layers = self._layers_of(spec)
        return [] if layers.last is None else [layers.last, *(s for _, s in layers.outer[::-1])]

    def max_encoded_size(self, spec: ChunkSpec) -> int:
        """The most bytes a chunk like ``spec`` can take encoded by this chain (what bounds
        the decoders of a codec that wraps it: a shard of such chunks, say)."""
        return self._layers_of(spec).bound

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
        if self._own_spec:
            specs = None
            ab_spec = last_spec = spec
        else:
            layers = self._layers_of(spec)
            specs, ab_spec, last_spec = layers.array, layers.ab, layers.last
            for codec, bytes_spec in layers.outer:
                data = codec.decode_chunk(data, bytes_spec)
        last = self._last_bytes
        if last is not None:
            if out is None:
                data = last.decode_chunk(data, last_spec)
            else:
                data = last.decode_chunk(data, last_spec, out=out.reshape(-1).view(np.uint8))
        array = self.array_bytes.decode_chunk(data, ab_spec)
        for i, codec in self._array_array_reversed:
            array = codec.decode_chunk(array, specs[i])
        return array

    def _decode(self, datas, specs, outs) -> list[np.ndarray]:
        layers = [self._layers_of(s) for s in specs]
        ab_specs = [la.ab for la in layers]
        for k, codec in enumerate(reversed(self.bytes_bytes[1:])):
            datas = codec.decode(datas, [la.outer[k][1] for la in layers])
        if self.bytes_bytes:
            datas = self._decode_last_bytes(datas, [la.last for la in layers], outs)
        arrays = self.array_bytes.decode(datas, ab_specs)
        for i, codec in reversed(list(enumerate(self.array_array))):
            arrays = codec.decode(arrays, [la.array[i] for la in layers])
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
