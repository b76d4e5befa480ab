"""The three codec kinds of the Zarr v3 pipeline, batch-first.

A codec is a frozen value parsed from JSON. It knows its v3 form
(``{"name": ..., "configuration": ...}``) and, where one exists, its v2 form
(``{"id": ...}``), so one object serves both formats.

Every codec decodes and encodes a *batch*: ``decode(chunks, specs)`` takes a list of
encoded chunks and a parallel list of :class:`ChunkSpec` (what the decoded chunk is).
The default batch call maps the one-chunk call over the shared thread pool when the
codec drops the GIL; a device implementation overrides the batch call instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from cuzarr.concurrency import parallel_map
from cuzarr.config import config
from cuzarr.errors import CorruptChunkError, MetadataError

CodecKind = Literal["array_to_array", "array_to_bytes", "bytes_to_bytes"]

# What travels between codecs: numpy arrays between array codecs, any C-contiguous
# bytes-like object (bytes, bytearray, memoryview, 1-d uint8 ndarray) between byte codecs.
BytesLike = Any


@dataclass(frozen=True)
class ChunkSpec:
    """What a decoded chunk is: its shape, its (native byte order) dtype, its fill value."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fill_value: Any
    # The part of the chunk inside the array (None: all of it). Formats that store edge
    # chunks truncated (N5) need it; everything else ignores it.
    extent: tuple[int, ...] | None = None
    # The most bytes a bytes->bytes decoder may produce for this chunk; a decoder that would
    # produce more stops there and reports the chunk as corrupt, so a decompression bomb
    # costs no more memory than a good chunk. None means ``nbytes`` (what the last
    # decompressor before the ``bytes`` codec yields); the codec chain sets it for the
    # other layers (:meth:`cuzarr.pipeline.chain.CodecChain.bytes_specs`).
    max_nbytes: int = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    nbytes: int = field(init=False, repr=False, compare=False)  # asked for on every chunk

    def __post_init__(self) -> None:
        nbytes = math.prod(self.shape) * self.dtype.itemsize
        object.__setattr__(self, "nbytes", nbytes)
        if self.max_nbytes is None:
            object.__setattr__(self, "max_nbytes", nbytes)

    def bounded(self, max_nbytes: int) -> ChunkSpec:
        """This spec with ``max_nbytes`` as the bound on a decoder's output."""
        return ChunkSpec(self.shape, self.dtype, self.fill_value, self.extent, max_nbytes)


class Codec:
    """Base of all codecs. Subclasses are frozen dataclasses registered with
    :func:`cuzarr.codecs.registry.register_codec`."""

    kind: ClassVar[CodecKind]
    # Registered v3 name (and accepted aliases) and v2 numcodecs id, set by the registry.
    name: ClassVar[str]
    v2_id: ClassVar[str | None] = None
    # True when the one-chunk call spends its time in C code that releases the GIL, so
    # running chunks on several threads is a real speed-up.
    releases_gil: ClassVar[bool] = False

    # -- JSON forms -------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Codec:
        """Build from a v3 ``configuration`` object (``{}`` when absent)."""
        if not isinstance(config, dict):
            raise MetadataError(
                f"codec {cls.name!r}: configuration must be an object, not {config!r}"
            )
        try:
            return cls(**config)
        except TypeError as e:  # an unknown or a missing field
            raise MetadataError(f"codec {cls.name!r}: bad configuration {config!r} ({e})") from e

    def config(self) -> dict[str, Any]:
        """The v3 ``configuration`` object ({} means: write no configuration)."""
        return dict(self.__dict__)

    def to_v3(self) -> dict[str, Any]:
        cfg = self.config()
        return {"name": self.name, "configuration": cfg} if cfg else {"name": self.name}

    @classmethod
    def from_v2(cls, config: dict[str, Any]) -> Codec:
        """Build from a v2 numcodecs config (``{"id": ..., ...}``)."""
        return cls.from_config({k: v for k, v in config.items() if k != "id"})

    def to_v2(self) -> dict[str, Any] | None:
        """The v2 numcodecs config, or None when the codec has no v2 form."""
        if self.v2_id is None:
            return None
        return {"id": self.v2_id, **self.config()}

    # -- representation ---------------------------------------------------------------
    def validate(self, spec: ChunkSpec) -> None:
        """Raise MetadataError if this codec cannot encode chunks like ``spec``."""

    def evolve(self, spec: ChunkSpec) -> Codec:
        """This codec completed for an array whose chunks look like ``spec`` (blosc records
        its typesize, for example); what a new array's metadata states. Default: self."""
        return self

    def resolve(self, spec: ChunkSpec) -> ChunkSpec:
        """The spec of the encoded chunk (array->array codecs may change shape/dtype)."""
        return spec

    def encoded_size(self, decoded_nbytes: int) -> int | None:
        """Encoded byte size for a fixed-size codec, None when it depends on the data."""
        return None

    # -- one chunk ----------------------------------------------------------------------
    def decode_chunk(self, data: Any, spec: ChunkSpec) -> Any:
        raise NotImplementedError

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> Any:
        raise NotImplementedError

    # -- a batch ------------------------------------------------------------------------
    def decode(self, chunks: Sequence[Any], specs: Sequence[ChunkSpec]) -> list[Any]:
        if self.releases_gil:
            return parallel_map(self.decode_chunk, chunks, specs)
        return [self.decode_chunk(c, s) for c, s in zip(chunks, specs)]

    def encode(self, chunks: Sequence[Any], specs: Sequence[ChunkSpec]) -> list[Any]:
        if self.releases_gil:
            return parallel_map(self.encode_chunk, chunks, specs)
        return [self.encode_chunk(c, s) for c, s in zip(chunks, specs)]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config()})"


class ArrayArrayCodec(Codec):
    kind = "array_to_array"


class ArrayBytesCodec(Codec):
    kind = "array_to_bytes"
    # True when an encoded chunk is exactly the chunk's ``nbytes`` long (``bytes``).
    encodes_nbytes: ClassVar[bool] = False

    def max_encoded_size(self, spec: ChunkSpec) -> int:
        """The most bytes a chunk like ``spec`` can take encoded, which bounds what the
        bytes->bytes decoders before this codec may produce. Default: the fixed size, or,
        for codecs whose size depends on the data, the configured ``max_chunk_bytes``."""
        size = self.encoded_size(spec.nbytes)
        return int(config["max_chunk_bytes"]) if size is None else size


class BytesBytesCodec(Codec):
    """bytes -> bytes. ``decode_chunk`` may be given ``out=``: a writable, C-contiguous
    buffer of exactly the decoded size; a codec that can decompress straight into it
    does so (and returns it), which saves a copy when the chunk is a slab of the result.
    Without ``out=``, a decoder produces at most ``spec.max_nbytes`` bytes: it stops
    there and raises :func:`too_big`."""

    kind = "bytes_to_bytes"

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        """The most bytes any writer's encoding of ``decoded_nbytes`` bytes can take (the
        bound on the output of the decoder after this one). Default: the fixed size, or
        the configured ``max_chunk_bytes`` for a codec that states no bound."""
        size = self.encoded_size(decoded_nbytes)
        return max(int(config["max_chunk_bytes"]), decoded_nbytes) if size is None else size

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        raise NotImplementedError

    def decode_into(self, data: Any, spec: ChunkSpec, out: Any) -> Any:
        """Decode into ``out`` when the codec can (``decodes_into_out``); returns what was
        decoded: ``out`` itself, or a new buffer to copy from."""
        if self.decodes_into_out:
            return self.decode_chunk(data, spec, out=out)
        return self.decode_chunk(data, spec)

    decodes_into_out: ClassVar[bool] = False


def too_big(codec: str, limit: int, size: int | None = None) -> CorruptChunkError:
    """The error of a chunk that decodes (or says it decodes) to more than ``limit`` bytes."""
    got = "more" if size is None else f"{size} bytes, more"
    return CorruptChunkError(
        f"{codec} codec: the chunk decodes to {got} than the {limit} bytes it may hold"
    )


def as_bytes_view(data: Any) -> memoryview:
    """A flat, read-only byte view of any buffer (bytes, bytearray, ndarray, memoryview)."""
    if isinstance(data, np.ndarray):
        data = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return memoryview(data).cast("B")
