"""Array set-ups over every codec, format and data type, written with real data into
dict stores: the valid documents the metadata fuzzer mutates and the valid chunks the
chunk fuzzer corrupts."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Any

import numcodecs
import numpy as np

import cuzarr

ARRAY = "n"  # every set-up's array lives at this path, below a root group

LE = {"name": "bytes", "configuration": {"endian": "little"}}
BE = {"name": "bytes", "configuration": {"endian": "big"}}
CRC = {"name": "crc32c"}


def zstd(checksum: bool = False) -> dict:
    return {"name": "zstd", "configuration": {"level": 1, "checksum": checksum}}


def blosc(cname: str, shuffle: str, typesize: int) -> dict:
    config = {"cname": cname, "clevel": 5, "shuffle": shuffle, "typesize": typesize, "blocksize": 0}
    return {"name": "blosc", "configuration": config}


def sharding(chunk_shape: list, codecs: list, location: str = "end", index: list | None = None):
    config = {
        "chunk_shape": chunk_shape,
        "codecs": codecs,
        "index_codecs": [LE, CRC] if index is None else index,
        "index_location": location,
    }
    return {"name": "sharding_indexed", "configuration": config}


@dataclass(frozen=True)
class Setup:
    """One array: ``create_array`` keyword arguments (shape and dtype included).
    ``guarded``: a crc32c checksum covers every stored byte of every chunk, so a
    corrupted chunk must never read back as wrong values."""

    label: str
    kwargs: dict = field(hash=False)
    guarded: bool = False

    @property
    def zarr_format(self) -> Any:
        return self.kwargs.get("zarr_format", 3)


def _v3(label: str, guarded: bool = False, **kwargs: Any) -> Setup:
    kwargs.setdefault("shape", (9, 7))
    kwargs.setdefault("chunks", (4, 3))
    kwargs.setdefault("dtype", "int32")
    return Setup(f"v3 {label}", kwargs, guarded)


def _v2(label: str, guarded: bool = False, **kwargs: Any) -> Setup:
    kwargs.setdefault("shape", (9, 7))
    kwargs.setdefault("chunks", (4, 3))
    kwargs.setdefault("dtype", "<i4")
    return Setup(f"v2 {label}", dict(kwargs, zarr_format=2), guarded)


def _n5(compression: dict) -> Setup:
    label = "n5 " + "-".join(f"{v}" for v in compression.values())
    kwargs = dict(shape=(9, 7), chunks=(4, 3), dtype="int16", zarr_format="n5")
    return Setup(label, dict(kwargs, compressors=compression))


CODEC_SETUPS: tuple[Setup, ...] = (
    _v3("bytes-le", serializer=LE, compressors=None, dtype="uint16"),
    _v3("bytes-be", serializer=BE, compressors=None),
    _v3("gzip", compressors=[{"name": "gzip", "configuration": {"level": 1}}], dtype="float32"),
    _v3("zstd", compressors=[zstd()], dtype="int64"),
    _v3("zstd-checksum", compressors=[zstd(checksum=True)]),
    _v3("blosc-lz4-shuffle", compressors=[blosc("lz4", "shuffle", 4)]),
    _v3("blosc-zstd-bitshuffle", compressors=[blosc("zstd", "bitshuffle", 2)], dtype="int16"),
    _v3("blosc-blosclz-noshuffle", compressors=[blosc("blosclz", "noshuffle", 8)], dtype="f8"),
    _v3("crc32c", guarded=True, compressors=[CRC]),
    _v3("zstd-crc32c", guarded=True, compressors=[zstd(), CRC]),
    _v3("crc32c-zstd", guarded=True, compressors=[CRC, zstd()]),
    _v3("blosc-crc32c", guarded=True, compressors=[blosc("lz4", "shuffle", 4), CRC]),
    _v3("transpose", filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}]),
    _v3("numcodecs-zlib", compressors=[numcodecs.Zlib(level=1)]),
    _v3("numcodecs-lz4", compressors=[numcodecs.LZ4()]),
    _v3("numcodecs-bz2", compressors=[numcodecs.BZ2(level=1)]),
    _v3("numcodecs-lzma", compressors=[numcodecs.LZMA(preset=1)]),
    _v3("delta", filters=[numcodecs.Delta("<i4")], compressors=[zstd()]),
    _v3(
        "fixedscaleoffset",
        filters=[numcodecs.FixedScaleOffset(offset=10, scale=100, dtype="<f8", astype="<u2")],
        dtype="float64",
    ),
    _v3("shuffle", compressors=[numcodecs.Shuffle(elementsize=4), zstd()]),
    _v3("quantize", filters=[numcodecs.Quantize(digits=3, dtype="<f8")], dtype="float64"),
    _v3("bitround", filters=[numcodecs.BitRound(keepbits=8)], dtype="float32"),
    _v3("packbits", filters=[numcodecs.PackBits()], dtype="bool"),
    _v3("astype", filters=[numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8")], dtype="f8"),
    _v3("vlen-utf8", dtype=str, shape=(11,), chunks=(4,)),
    _v3("vlen-bytes", dtype=bytes, shape=(11,), chunks=(4,)),
    _v3("shard-end", shards=(8, 6), chunks=(2, 3), compressors=[zstd()]),
    _v3("shard-start", shards={"shape": (8, 6), "index_location": "start"}, chunks=(2, 3)),
    _v3(
        "shard-crc32c-inner",
        guarded=True,
        serializer=sharding([2, 3], [LE, zstd(), CRC]),
        compressors=None,
        chunks=(4, 6),
    ),
    _v3(
        "shard-no-index-crc",
        serializer=sharding([2, 3], [LE, zstd()], "start", index=[LE]),
        compressors=None,
        chunks=(4, 6),
    ),
    _v3(
        "shard-nested",
        serializer=sharding([4, 3], [sharding([2, 3], [LE, zstd()])]),
        compressors=None,
        chunks=(8, 6),
    ),
    _v2("zlib-delta", filters=[numcodecs.Delta("<i4")], compressors=[numcodecs.Zlib(level=1)]),
    _v2(
        "blosc-fixedscaleoffset",
        dtype="<f8",
        filters=[numcodecs.FixedScaleOffset(offset=1, scale=10, dtype="<f8", astype="<i4")],
        compressors=[{"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}],
    ),
    _v2("lz4-be", dtype=">i4", compressors=[numcodecs.LZ4()]),
    _v2("bz2-order-F", compressors=[numcodecs.BZ2(level=1)], order="F"),
    _v2("lzma", compressors=[numcodecs.LZMA(preset=1)]),
    _v2("zstd-shuffle", filters=[numcodecs.Shuffle(elementsize=4)], compressors=[numcodecs.Zstd()]),
    _v2("gzip", compressors=[numcodecs.GZip(level=1)], dtype="<u2"),
    _v2("crc32c", guarded=True, compressors=[numcodecs.CRC32C()]),
    _v2("vlen-utf8", dtype=str, shape=(11,), chunks=(4,), compressors=[numcodecs.Zstd()]),
    _v2("vlen-bytes", dtype=bytes, shape=(11,), chunks=(4,)),
    _v2(
        "categorize",
        dtype="<U5",
        shape=(11,),
        chunks=(4,),
        filters=[numcodecs.Categorize(["ab", "cd", "ef"], dtype="<U5", astype="u1")],
    ),
    _v2("packbits", dtype="bool", filters=[numcodecs.PackBits()]),
    _n5({"type": "raw"}),
    _n5({"type": "gzip", "level": 1}),
    _n5({"type": "gzip", "level": 1, "useZlib": True}),
    _n5({"type": "bzip2", "blockSize": 9}),
    _n5({"type": "xz", "preset": 1}),
    _n5({"type": "lz4", "blockSize": 65536}),
    _n5({"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1}),
    _n5({"type": "zstd", "level": 1}),
)

# Further set-ups whose documents are worth mutating (data types, grids, attributes).
DOCUMENT_SETUPS: tuple[Setup, ...] = (
    _v3("bool", dtype="bool", shape=(5,), chunks=(2,)),
    _v3("complex128", dtype="complex128", shape=(3, 2), chunks=(2, 2)),
    _v3("float16-dimension-names", dtype="float16", dimension_names=("y", None)),
    _v3("float32-nan", dtype="float32", fill_value=float("nan")),
    _v3("float64-inf", dtype="float64", fill_value=float("-inf"), compressors=[zstd(), CRC]),
    _v3("raw-bits", dtype="V2", shape=(4,), chunks=(2,)),
    _v3("uint64-fill", dtype="uint64", fill_value=2**64 - 1),
    _v3("rectilinear", chunks=[[2, 3, 4], 3]),
    _v3("v2-key-encoding", chunk_key_encoding={"name": "v2", "separator": "."}),
    _v3("attributes", attributes={"a": [1, {"b": None}], "s": "x", "f": 1.5}),
    _v3("zero-size", shape=(0, 3), chunks=(2, 3)),
    _v3("zero-dim", shape=(), chunks=()),
    _v2("f8-be-nan", dtype=">f8", fill_value=float("nan"), compressors=[numcodecs.Zstd()]),
    _v2("S4", dtype="S4", shape=(5,), chunks=(2,)),
    _v2("datetime", dtype="<M8[s]", shape=(5,), chunks=(2,)),
    _v2("structured", dtype=[("a", "<i4"), ("b", "<f8")], shape=(5,), chunks=(2,)),
    _v2("slash-separator", chunk_key_encoding={"name": "v2", "separator": "/"}),
    _v2("attributes", attributes={"a": [1, 2], "b": {"c": None}}),
)


def sample_data(dtype: np.dtype, shape: tuple[int, ...], rng: random.Random) -> np.ndarray:
    """Values of ``dtype``: varied enough that corruption shows, regular enough to compress."""
    n = int(np.prod(shape, dtype=np.int64))
    seed = rng.randrange(2**32)
    gen = np.random.default_rng(seed)
    if dtype.kind == "O" or dtype.kind == "T":
        return np.array([f"s{seed % 97}-{i}" * (i % 3) for i in range(n)], dtype=object).reshape(
            shape
        )
    if dtype.kind == "S":
        return np.array([f"b{i}".encode() for i in range(n)], dtype=dtype).reshape(shape)
    if dtype.kind == "U":
        return np.array([["ab", "cd", "ef"][i % 3] for i in range(n)], dtype=dtype).reshape(shape)
    if dtype.kind == "V" and dtype.fields is None:
        return np.frombuffer(gen.bytes(n * dtype.itemsize), dtype=dtype).reshape(shape).copy()
    if dtype.fields is not None:
        out = np.zeros(shape, dtype=dtype)
        for name in dtype.names:
            out[name] = gen.integers(0, 100, size=shape)
        return out
    if dtype.kind == "b":
        return gen.integers(0, 2, size=shape).astype(bool)
    if dtype.kind == "f":
        return np.round(gen.normal(50, 10, size=shape), 2).astype(dtype)
    if dtype.kind == "c":
        return (gen.normal(size=shape) + 1j * gen.normal(size=shape)).astype(dtype)
    if dtype.kind == "M" or dtype.kind == "m":
        return gen.integers(0, 10**9, size=shape).astype(dtype)
    return gen.integers(0, 120, size=shape).astype(dtype)


def build(setup: Setup, seed: int = 0) -> dict[str, bytes]:
    """A dict store holding a root group and the set-up's array, with data written."""
    store: dict = {}
    kwargs = dict(setup.kwargs)
    fmt = kwargs.get("zarr_format", 3)
    cuzarr.create_group(store, zarr_format=fmt)
    a = cuzarr.create_array(store, name=ARRAY, **kwargs)
    data = sample_data(a.dtype, a.shape, random.Random(f"{seed}:{setup.label}"))
    if setup.kwargs.get("dtype") is bytes:
        data = np.array([str(s).encode() for s in data.ravel()], dtype=object).reshape(a.shape)
    a[...] = data
    return {k: bytes(v) for k, v in store.items()}


@functools.cache
def built(setup: Setup, seed: int = 0) -> tuple[tuple[str, bytes], ...]:
    return tuple(sorted(build(setup, seed).items()))


def store_of(setup: Setup, seed: int = 0) -> dict[str, bytes]:
    return dict(built(setup, seed))


METADATA_KEYS = ("zarr.json", ".zarray", ".zgroup", ".zattrs", ".zmetadata", "attributes.json")


def is_metadata_key(key: str) -> bool:
    return key.rsplit("/", 1)[-1] in METADATA_KEYS


def chunk_keys(store: dict[str, bytes]) -> list[str]:
    return sorted(k for k in store if k.startswith(ARRAY + "/") and not is_metadata_key(k))
