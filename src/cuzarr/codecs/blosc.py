"""``blosc`` — bytes -> bytes: a Blosc1 chunk (16-byte header, optional byte/bit shuffle,
then an inner lz4/lz4hc/blosclz/zlib/zstd/snappy codec per block).

Spec: https://zarr-specs.readthedocs.io/en/latest/v3/codecs/blosc/index.html
Names: v3 ``blosc`` (alias ``numcodecs.blosc``, which takes the v2-style configuration),
v2 id ``blosc``.
Config (v3): ``{"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5,
"shuffle": "shuffle", "typesize": 4, "blocksize": 0}}``;
v2: ``{"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}``.

One object serves both forms. ``shuffle`` is held as the v3 name; v2's -1 (AUTOSHUFFLE,
no v3 spelling) is held as ``"auto"`` and resolved per chunk from the type size, as
numcodecs does. A missing ``typesize`` is taken from the chunk's item size at encode time
(:meth:`evolve` records it, so the v3 document states it as the spec asks).

Threads: numcodecs lets Blosc start its own thread pool only when called from the main
thread (``numcodecs.blosc.use_threads`` left at None); calls from cuzarr's worker threads
use the single-threaded ``*_ctx`` functions, so the two pools never multiply.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

import numcodecs.blosc
import numpy as np

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view, too_big
from cuzarr.codecs.fields import INT32_MAX, integer, is_int
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError, UnsupportedError

SHUFFLE_TO_V2 = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2, "auto": -1}
SHUFFLE_FROM_V2 = {v: k for k, v in SHUFFLE_TO_V2.items()}
CNAMES = ("blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd")
_FORMAT_CODE_NAMES = {
    0: "blosclz",
    1: "lz4",
    2: "snappy",
    3: "zlib",
    4: "zstd",
}  # header flags >> 5
AVAILABLE_CNAMES = frozenset(numcodecs.blosc.list_compressors())
MAX_OVERHEAD = 16  # BLOSC_MAX_OVERHEAD: the header


@register_codec("blosc", v2_id="blosc", aliases=("numcodecs.blosc",))
@dataclass(frozen=True)
class BloscCodec(BytesBytesCodec):
    # Defaults are numcodecs' (what a bare ``{"id": "blosc"}`` means).
    cname: str = "lz4"
    clevel: int = 5
    shuffle: str = "shuffle"
    typesize: int | None = None
    blocksize: int = 0

    releases_gil = True  # c-blosc runs without the GIL
    decodes_into_out = True

    def __post_init__(self) -> None:
        shuffle = self.shuffle
        if is_int(shuffle):
            shuffle = SHUFFLE_FROM_V2.get(shuffle, shuffle)
        if not isinstance(shuffle, str) or shuffle not in SHUFFLE_TO_V2:
            raise MetadataError(
                f"blosc codec: shuffle must be 'noshuffle', 'shuffle' or 'bitshuffle' "
                f"(v2: 0, 1, 2 or -1), not {self.shuffle!r}"
            )
        object.__setattr__(self, "shuffle", shuffle)
        if not isinstance(self.cname, str) or self.cname not in CNAMES:
            raise MetadataError(
                f"blosc codec: cname must be one of {list(CNAMES)}, not {self.cname!r}"
            )
        integer("blosc", "clevel", self.clevel, 0, 9)
        integer("blosc", "blocksize", self.blocksize, 0, INT32_MAX)  # c-blosc's int
        if self.typesize is not None:
            integer("blosc", "typesize", self.typesize, 1, INT32_MAX)

    # -- JSON forms -------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {} if self.typesize is None else {"typesize": self.typesize}
        return {
            **cfg,
            "cname": self.cname,
            "clevel": self.clevel,
            "shuffle": self.shuffle,
            "blocksize": self.blocksize,
        }

    def to_v3(self) -> dict[str, Any]:
        if self.shuffle == "auto":  # no v3 spelling: keep the numcodecs form
            return {
                "name": "numcodecs.blosc",
                "configuration": {k: v for k, v in self.to_v2().items() if k != "id"},
            }
        return super().to_v3()

    def to_v2(self) -> dict[str, Any]:
        # No typesize: numcodecs before 0.16 rejects it, and v2 takes it from the dtype.
        shuffle = SHUFFLE_TO_V2[self.shuffle]
        return {
            "id": "blosc",
            "cname": self.cname,
            "clevel": self.clevel,
            "shuffle": shuffle,
            "blocksize": self.blocksize,
        }

    def evolve(self, spec: ChunkSpec) -> BloscCodec:
        """This codec with the chunk's item size recorded as ``typesize`` (and AUTOSHUFFLE
        resolved), as zarr-python writes it into a new array's metadata."""
        typesize = self.typesize or spec.dtype.itemsize
        return replace(self, typesize=typesize, shuffle=self._shuffle_for(typesize))

    def _shuffle_for(self, typesize: int) -> str:
        if self.shuffle == "auto":
            return "bitshuffle" if typesize == 1 else "shuffle"
        return self.shuffle

    # -- one chunk ----------------------------------------------------------------------
    def max_encoded_size(self, decoded_nbytes: int) -> int:
        return decoded_nbytes + MAX_OVERHEAD  # c-blosc stores a chunk it cannot shrink as is

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        if self.cname not in AVAILABLE_CNAMES:
            raise UnsupportedError(
                f"blosc codec: this numcodecs build has no {self.cname!r} "
                f"(it has {sorted(AVAILABLE_CNAMES)})"
            )
        src = as_bytes_view(data)
        if src.nbytes > numcodecs.blosc.MAX_BUFFERSIZE:
            raise CodecError(
                f"blosc codec: a chunk of {src.nbytes} bytes exceeds Blosc's 2 GiB limit"
            )
        typesize = self.typesize or spec.dtype.itemsize
        # numcodecs takes the type size from the buffer's item size: hand it a view whose
        # items are ``typesize`` bytes wide (a ragged tail cannot be viewed so; c-blosc then
        # sees typesize 1, still a valid chunk).
        if typesize > 1 and src.nbytes % typesize == 0:
            src = np.frombuffer(src, dtype=f"V{typesize}")
        shuffle = SHUFFLE_TO_V2[self._shuffle_for(typesize)]
        return numcodecs.blosc.compress(
            src, self.cname.encode(), self.clevel, shuffle, self.blocksize
        )

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> Any:
        src = as_bytes_view(data)
        if len(src) < 16:
            raise CorruptChunkError(
                f"blosc codec: chunk of {len(src)} bytes is shorter than the 16-byte header"
            )
        nbytes, _, cbytes = struct.unpack_from("<III", src, 4)
        # c-blosc trusts the header's compressed size; never let it read past the chunk.
        if not 16 <= cbytes <= len(src):
            raise CorruptChunkError(
                f"blosc codec: header gives {cbytes} compressed bytes, the chunk has {len(src)}"
            )
        if out is None:
            if nbytes > spec.max_nbytes:  # c-blosc allocates what the header says
                raise too_big("blosc", spec.max_nbytes, nbytes)
        elif nbytes != (expected := as_bytes_view(out).nbytes):
            raise CorruptChunkError(
                f"blosc codec: chunk decodes to {nbytes} bytes, expected {expected}"
            )
        if nbytes == 0:
            return b"" if out is None else out
        try:
            return numcodecs.blosc.decompress(src[:cbytes], out)
        except (RuntimeError, ValueError) as e:
            inner = _FORMAT_CODE_NAMES.get(src[2] >> 5)
            if inner is not None and inner not in AVAILABLE_CNAMES:
                raise UnsupportedError(
                    f"blosc codec: chunk uses {inner!r}, which this numcodecs build lacks"
                ) from e
            raise CorruptChunkError(f"blosc codec: cannot decompress the chunk ({e})") from e
