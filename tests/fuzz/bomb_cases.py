"""Decompression bombs in a tiny array (one 1 KiB chunk) for every compressor, inside
shards and N5 blocks: reading must raise CorruptChunkError, with peak memory within a
small multiple of the chunk (plus the compressed bytes) over the child's baseline, and
without an allocation of the bomb's size even being tried (the child's address-space
limit lies far below it)."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import crc32c
import numcodecs
import numpy as np

import cuzarr

from . import bombs
from .bombs import MIB
from .report import Tally, non_zarr_errors
from .runner import Outcome, Runner, attempt
from .setups import ARRAY, CRC, LE, chunk_keys, sharding, zstd

CHUNK = 1024  # elements (uint8) of the one chunk
INNER = 256  # inner chunk length of the sharded set-ups
MEMORY_MIB = 512  # the child's address-space allowance, far below any bomb
BASE_BOUND_MIB = 16  # interpreter and pool noise a read may add


@dataclass(frozen=True)
class Bomb:
    label: str
    kwargs: dict
    payload: Callable[[], bytes]  # the stream a codec decodes
    wrap: str = "plain"  # "plain", "crc32c", "n5", "shard", "shard-crc32c"

    def describe(self) -> str:
        return f"{self.label} ({self.wrap})"


def _v3(compressors: list) -> dict:
    return dict(shape=(CHUNK,), chunks=(CHUNK,), dtype="uint8", compressors=compressors)


def _v2(compressor: object) -> dict:
    return dict(
        shape=(CHUNK,), chunks=(CHUNK,), dtype="uint8", zarr_format=2, compressors=[compressor]
    )


def _n5(compression: dict) -> dict:
    return dict(
        shape=(CHUNK,), chunks=(CHUNK,), dtype="uint8", zarr_format="n5", compressors=compression
    )


def _sharded(inner_codecs: list) -> dict:
    return dict(
        shape=(CHUNK,),
        chunks=(CHUNK,),
        dtype="uint8",
        serializer=sharding([INNER], inner_codecs),
        compressors=None,
    )


GZIP = [{"name": "gzip", "configuration": {"level": 1}}]


def catalogue(size: int, slow_size: int) -> list[Bomb]:
    """Every bomb: ``size`` is what streaming bombs decode to, ``slow_size`` the same for
    single bz2 and xz streams (slow to make)."""
    return _v3_bombs(size, slow_size) + _v2_bombs(size, slow_size) + _n5_bombs(size)


def _many(size: int) -> tuple[int, int]:
    """(count, size) of 16 MiB streams that together decode to ``size``."""
    return max(1, size // (16 * MIB)), 16 * MIB


def _v3_bombs(size: int, slow_size: int) -> list[Bomb]:
    b, p = bombs, functools.partial
    gz, zs = p(b.gzip_member, size), p(b.zstd_frame, size)
    blosc = _v3([{"name": "blosc", "configuration": _blosc()}])
    bz2, xz = _v3([numcodecs.BZ2(level=1)]), _v3([numcodecs.LZMA(preset=1)])
    lz4 = _v3([numcodecs.LZ4()])
    return [
        Bomb("v3 gzip: one member", _v3(GZIP), gz),
        Bomb("v3 gzip: ISIZE claims the chunk size", _v3(GZIP), p(b.gzip_member, size, CHUNK)),
        Bomb("v3 gzip: concatenated members", _v3(GZIP), p(b.gzip_members, *_many(size))),
        Bomb("v3 gzip: a zlib stream", _v3(GZIP), p(b.zlib_stream, size)),
        Bomb("v3 gzip: raw DEFLATE", _v3(GZIP), p(b.deflate_zeros, size)),
        Bomb("v3 zstd: content size stated", _v3([zstd()]), zs),
        Bomb("v3 zstd: no content size", _v3([zstd()]), p(b.zstd_frame, size, None)),
        Bomb("v3 zstd: claims 2**40 bytes", _v3([zstd()]), p(b.zstd_frame, MIB, 2**40)),
        Bomb("v3 zstd: zstd's own streaming frame", _v3([zstd()]), p(b.zstd_real, size)),
        Bomb("v3 zstd: concatenated frames", _v3([zstd()]), p(b.zstd_frames, *_many(size))),
        Bomb("v3 zstd + crc32c", _v3([zstd(), CRC]), zs, "crc32c"),
        Bomb("v3 blosc lz4", blosc, p(b.blosc_frame, min(size, 2**31 - 64))),
        Bomb("v3 blosc: header claims 2 GiB", blosc, p(b.blosc_claiming, 2**31 - 16)),
        Bomb("v3 numcodecs.zlib", _v3([numcodecs.Zlib(level=1)]), p(b.zlib_stream, size)),
        Bomb("v3 numcodecs.bz2: concatenated streams", bz2, p(b.bz2_streams, *_many(size))),
        Bomb("v3 numcodecs.bz2: one stream", bz2, p(b.bz2_stream, slow_size)),
        Bomb("v3 numcodecs.lzma: concatenated xz streams", xz, p(b.xz_streams, *_many(size))),
        Bomb("v3 numcodecs.lzma: one xz stream", xz, p(b.xz_stream, slow_size)),
        Bomb("v3 numcodecs.lz4", lz4, p(b.lz4_numcodecs, size)),
        Bomb("v3 numcodecs.lz4: prefix claims 4 GiB", lz4, p(b.lz4_claiming, 2**32 - 1)),
        Bomb("v3 shard: zstd inner chunk", _sharded([LE, zstd()]), zs, "shard"),
        Bomb("v3 shard: gzip inner chunk", _sharded([LE, *GZIP]), gz, "shard"),
        Bomb("v3 shard: zstd + crc32c inner", _sharded([LE, zstd(), CRC]), zs, "shard-crc32c"),
    ]


def _v2_bombs(size: int, slow_size: int) -> list[Bomb]:
    b, p = bombs, functools.partial
    return [
        Bomb("v2 zlib", _v2(numcodecs.Zlib(level=1)), p(b.zlib_stream, size)),
        Bomb("v2 gzip", _v2(numcodecs.GZip(level=1)), p(b.gzip_member, size)),
        Bomb("v2 bz2", _v2(numcodecs.BZ2(level=1)), p(b.bz2_streams, *_many(size))),
        Bomb("v2 lzma", _v2(numcodecs.LZMA(preset=1)), p(b.xz_stream, slow_size)),
        Bomb("v2 lz4", _v2(numcodecs.LZ4()), p(b.lz4_numcodecs, size)),
        Bomb("v2 blosc", _v2(numcodecs.Blosc(cname="zstd")), p(b.blosc_frame, min(size, 2**30))),
        Bomb("v2 zstd", _v2(numcodecs.Zstd(level=1)), p(b.zstd_frame, size, None)),
    ]


def _n5_bombs(size: int) -> list[Bomb]:
    b, p = bombs, functools.partial
    gz = p(b.gzip_member, size)
    huge = (2**31 - 1,)
    return [
        Bomb("n5 gzip", _n5({"type": "gzip", "level": 1}), gz, "n5"),
        Bomb(
            "n5 gzip useZlib",
            _n5({"type": "gzip", "level": 1, "useZlib": True}),
            p(b.zlib_stream, size),
            "n5",
        ),
        Bomb(
            "n5 bzip2", _n5({"type": "bzip2", "blockSize": 9}), p(b.bz2_streams, *_many(size)), "n5"
        ),
        Bomb("n5 xz", _n5({"type": "xz", "preset": 1}), p(b.xz_streams, *_many(size)), "n5"),
        Bomb("n5 lz4", _n5({"type": "lz4", "blockSize": 65536}), p(n5_lz4_stream, size), "n5"),
        Bomb(
            "n5 blosc",
            _n5({"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}),
            p(b.blosc_frame, min(size, 2**30)),
            "n5",
        ),
        Bomb("n5 zstd", _n5({"type": "zstd", "level": 1}), p(b.zstd_frame, size), "n5"),
        Bomb(
            "n5 raw: header dims claim 2**31 - 1",
            _n5({"type": "raw"}),
            p(_n5_block, huge, p(bytes, 64)),
            "as-is",
        ),
        Bomb(
            "n5 raw: varlength block claims 2**32 - 1 elements",
            _n5({"type": "raw"}),
            p(_n5_varlength, CHUNK, 2**32 - 1, p(bytes, 64)),
            "as-is",
        ),
        Bomb(
            "n5 gzip: header dims claim 2**31 - 1",
            _n5({"type": "gzip", "level": 1}),
            p(_n5_block, huge, gz),
            "as-is",
        ),
    ]


def _blosc() -> dict:
    return {"cname": "lz4", "clevel": 5, "shuffle": "noshuffle", "typesize": 1, "blocksize": 0}


def _n5_block(dims: tuple[int, ...], payload: Callable[[], bytes]) -> bytes:
    """A default-mode N5 block header stating ``dims``, before ``payload()``."""
    return struct.pack(f">HH{len(dims)}I", 0, len(dims), *dims) + payload()


def _n5_varlength(dim: int, count: int, payload: Callable[[], bytes]) -> bytes:
    """A varlength-mode N5 block header stating ``count`` elements, before ``payload()``."""
    return struct.pack(">HHII", 1, 1, dim, count) + payload()


@functools.cache
def n5_lz4_stream(size: int) -> bytes:
    """lz4-java LZ4Block blocks of 64 KiB (the array's block size) decoding to ``size``
    bytes of ones: made by writing one such block with cuzarr, then repeating it before
    the end marker."""
    block_size = 1 << 16
    store: dict = {}
    a = cuzarr.create_array(
        store,
        shape=(block_size,),
        chunks=(block_size,),
        dtype="uint8",
        zarr_format="n5",
        compressors={"type": "lz4", "blockSize": block_size},
    )
    a[...] = 1
    stream = bytes(store["0"])[8:]  # after the mode, ndim and one dimension
    end = 8 + 1 + 12  # the empty block that closes the stream
    return stream[:-end] * max(1, size // block_size) + stream[-end:]


def _shard(inner: bytes, crc: bool) -> bytes:
    """A shard whose first inner chunk is ``inner`` (the rest missing), index at the end."""
    if crc:
        inner += struct.pack("<I", crc32c.crc32c(inner))
    entries = [(0, len(inner))] + [(2**64 - 1, 2**64 - 1)] * (CHUNK // INNER - 1)
    index = b"".join(struct.pack("<QQ", *e) for e in entries)
    return inner + index + struct.pack("<I", crc32c.crc32c(index))


def wrapped(bomb: Bomb, payload: bytes) -> bytes:
    if bomb.wrap == "crc32c":
        return payload + struct.pack("<I", crc32c.crc32c(payload))
    if bomb.wrap == "n5":
        return _n5_block((CHUNK,), lambda: payload)
    if bomb.wrap in ("shard", "shard-crc32c"):
        return _shard(payload, bomb.wrap == "shard-crc32c")
    return payload


def bomb_store(bomb: Bomb) -> tuple[tuple[str, bytes], ...]:
    """A tiny array whose one stored chunk is the bomb."""
    store: dict = {}
    cuzarr.create_group(store, zarr_format=bomb.kwargs.get("zarr_format", 3))
    cuzarr.create_array(store, name=ARRAY, **bomb.kwargs)[...] = np.arange(CHUNK) % 250 + 1
    (key,) = chunk_keys(store)
    store[key] = wrapped(bomb, bomb.payload())
    return tuple(sorted((k, bytes(v)) for k, v in store.items()))


def generate(size: int, slow_size: int) -> Iterator[tuple[Bomb, tuple]]:
    for bomb in catalogue(size, slow_size):
        yield bomb, bomb_store(bomb)


# -- the child side ---------------------------------------------------------------------


def _read(store: dict, selection: object) -> None:
    cuzarr.open_array(store, path=ARRAY, mode="r")[selection]


def read_bomb(items: tuple) -> list[Outcome]:
    store = dict(items)
    return [
        attempt("read all", _read, store, Ellipsis),
        attempt("read [0:1]", _read, store, slice(0, 1)),
    ]


# -- the parent side --------------------------------------------------------------------


def bound_mib(items: tuple) -> float:
    stored = max(len(v) for _, v in items)
    return BASE_BOUND_MIB + (8 * CHUNK + 4 * stored) / MIB


def problems_of(outcome: Outcome, bound: float) -> list[tuple[str, Outcome]]:
    if outcome.kind != "ok":
        return non_zarr_errors([outcome])
    found = non_zarr_errors(outcome.value)
    for step in outcome.value:
        if step.kind == "ok":
            step.message = "the bomb was read without an error"
            found.append(("bomb read without CorruptChunkError", step))
        elif step.kind == "zarr_error" and not step.is_a("CorruptChunkError"):
            found.append((f"bomb raised {step.error}, not CorruptChunkError", step))
        elif step.kind == "zarr_error" and step.mentions_memory():
            found.append(("bomb: an allocation of its decoded size was tried", step))
    if outcome.peak_mib > bound:
        peak = Outcome("ok", message=f"peak {outcome.peak_mib:.0f} MiB > bound {bound:.0f} MiB")
        found.append(("bomb over the memory bound", peak))
    return found


def run(runner: Runner, cases: Iterator[tuple[Bomb, tuple]], tally: Tally | None = None) -> Tally:
    tally = tally or Tally("bombs")
    for bomb, items in cases:
        if tally.too_many_hangs():
            break
        outcome = runner.run(read_bomb, items)
        problems = problems_of(outcome, bound_mib(items))
        tally.record(bomb.describe(), problems)
        tally.count("over_bound", sum(p == "bomb over the memory bound" for p, _ in problems))
    return tally
