"""Interoperability with tensorstore's ``zarr3`` driver, both ways, on local folders.

For every numeric data type (with a few codec chains) and every codec tensorstore has
(``bytes``, ``transpose``, ``gzip``, ``zstd``, ``blosc``, ``crc32c``; sharding is out of
scope here) the same array is written once by tensorstore and once by cuzarr; then each
library reads the other's, the stored chunks are compared byte for byte where both use
the same compressor library, and the two ``zarr.json`` documents are compared. Then the
corners: edge, missing and fill-valued chunks, 0-d and empty arrays, key encodings, fill
value JSON forms.

tensorstore has no ``numcodecs.*`` codecs and handles ``r<N>`` data types differently
(see the skips below).
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import crc32c
import numcodecs.blosc
import numcodecs.zstd
import numpy as np
import pytest

import cuzarr

ts = pytest.importorskip("tensorstore")

SHAPE = (20, 30)
CHUNKS = (7, 8)  # 3 x 4 chunks; the last row and column of chunks overhang the edge
ATTRS = {"title": "tëst", "n": 3, "nested": {"list": [1, 2.5, None, True]}}
DIMS = ["y", "x"]
NUMERIC = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]  # fmt: skip


# -- data and comparisons -------------------------------------------------------------


def native(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def sample(dtype: Any, shape: tuple[int, ...] = SHAPE, seed: int = 0) -> np.ndarray:
    """Deterministic data using the type's range: extremes; NaN, infinities, -0.0."""
    dtype = native(dtype)
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    if dtype.kind == "b":
        flat = rng.random(n) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)
        flat[:2] = info.min, info.max
    elif dtype.kind == "f":
        flat = (rng.standard_normal(n) * 1000).astype(dtype)
        flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    else:
        part = np.dtype(f"f{dtype.itemsize // 2}")
        flat = np.empty(n, dtype)
        flat.real = rng.standard_normal(n).astype(part) * 100
        flat.imag = rng.standard_normal(n).astype(part) * 100
        flat[:2] = [complex(np.nan, 1.0), complex(np.inf, -np.inf)]
    return flat.reshape(shape)


def as_bits(values: Any, dtype: Any) -> bytes:
    return np.ascontiguousarray(np.asarray(values), dtype=native(dtype)).tobytes()


def assert_same_values(got: Any, want: Any, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert native(got.dtype) == native(want.dtype), (
        f"{what}: dtype {got.dtype}, expected {want.dtype}"
    )
    if as_bits(got, got.dtype) != as_bits(want, want.dtype):
        np.testing.assert_array_equal(got, want, err_msg=what)
        raise AssertionError(
            f"{what}: values equal but not bit for bit (NaN payload or signed zero)"
        )


def assert_same_fill(got: Any, want: Any, dtype: Any, what: str = "fill value") -> None:
    g, w = as_bits(got, dtype), as_bits(want, dtype)
    assert g == w, (
        f"{what}: got {np.asarray(got, dtype=native(dtype))!r} ({g.hex()}), expected {want!r} ({w.hex()})"
    )


def stored_chunks(root: Path) -> dict[str, bytes]:
    """Every stored object below an array's folder except its metadata (tensorstore
    leaves empty folders behind; only files count)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    }


def peel_compressors(data: bytes, codecs: tuple[dict[str, Any], ...]) -> bytes:
    """Undo the bytes -> bytes codecs with the reference libraries."""
    names = [c["name"] for c in codecs]
    for codec in reversed(codecs[names.index("bytes") + 1 :]):
        if codec["name"] == "crc32c":
            payload, stored = data[:-4], data[-4:]
            assert crc32c.crc32c(payload) == int.from_bytes(stored, "little"), "bad crc32c"
            data = payload
        elif codec["name"] == "zstd":
            data = bytes(numcodecs.zstd.decompress(data))
        elif codec["name"] == "gzip":
            data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        elif codec["name"] == "blosc":
            data = bytes(numcodecs.blosc.decompress(data))
        else:
            raise AssertionError(f"no reference decoder for {codec['name']}")
    return data


def assert_same_chunks(got_root: Path, want_root: Path, peel: Any = None) -> None:
    got, want = stored_chunks(got_root), stored_chunks(want_root)
    assert sorted(got) == sorted(want), "stored chunk keys differ"
    for key in want:
        a, b = got[key], want[key]
        if peel is not None:
            a, b = peel(a), peel(b)
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            raise AssertionError(
                f"chunk {key!r}: {len(a)} bytes, expected {len(b)}; first difference at byte {at}: "
                f"got {a[at : at + 12].hex()} expected {b[at : at + 12].hex()}"
            )


def read_doc(root: Path) -> dict[str, Any]:
    return json.loads((root / "zarr.json").read_text())


def norm_doc(doc: dict[str, Any], itemsize: int) -> dict[str, Any]:
    """The meaning of a zarr.json, with optional spellings made explicit."""
    enc = dict(doc["chunk_key_encoding"])
    cfg = dict(enc.get("configuration") or {})
    cfg.setdefault("separator", "/" if enc["name"] == "default" else ".")
    codecs = []
    for c in doc["codecs"]:
        c = {"name": c} if isinstance(c, str) else c
        ccfg = dict(c.get("configuration") or {})
        if c["name"] == "bytes" and itemsize == 1:
            ccfg.pop("endian", None)  # optional for one-byte types
        if c["name"] == "blosc" and ccfg.get("shuffle") == "noshuffle":
            ccfg.pop("typesize", None)  # optional without shuffling (tensorstore drops it)
        codecs.append((c["name"], ccfg))
    return {
        "zarr_format": doc["zarr_format"],
        "node_type": doc["node_type"],
        "shape": doc["shape"],
        "data_type": doc["data_type"],
        "chunk_grid": doc["chunk_grid"],
        "chunk_key_encoding": (enc["name"], cfg),
        "fill_value": doc["fill_value"],
        "codecs": codecs,
        "attributes": doc.get("attributes", {}),
        "dimension_names": doc.get("dimension_names"),
        "storage_transformers": doc.get("storage_transformers", []),
    }


# -- tensorstore ------------------------------------------------------------------------


def ts_spec(path: Path) -> dict[str, Any]:
    return {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}


def ts_create(path: Path, metadata: dict[str, Any]) -> Any:
    return ts.open({**ts_spec(path), "metadata": metadata}, create=True).result()


def ts_open(path: Path) -> Any:
    return ts.open(ts_spec(path), open=True).result()


def ts_read(t: Any) -> np.ndarray:
    return np.asarray(t.read().result())


# -- the cases ------------------------------------------------------------------------


def v3(name: str, **config: Any) -> dict[str, Any]:
    return {"name": name, "configuration": config} if config else {"name": name}


@dataclass(frozen=True)
class Case:
    """One array as v3 metadata; both libraries are given the same codec JSON."""

    id: str
    dtype: str
    codecs: tuple[dict[str, Any], ...]
    fill: Any = 0
    fill_json: Any = None  # None: the JSON of ``fill``
    shape: tuple[int, ...] = SHAPE
    chunks: tuple[int, ...] = CHUNKS

    @property
    def library_bound(self) -> bool:
        """True when the compressed bytes depend on the zlib / zstd build (tensorstore
        bundles its own, cuzarr uses numcodecs' and CPython's), so only what they decode
        to must be equal."""
        return any(
            c["name"] in ("gzip", "zstd")
            or (c["name"] == "blosc" and c["configuration"]["cname"] in ("zlib", "zstd"))
            for c in self.codecs
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "shape": list(self.shape),
            "data_type": self.dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": self.fill_json
            if self.fill_json is not None
            else fill_json_of(self.fill, self.dtype),
            "codecs": list(self.codecs),
            "attributes": ATTRS,
            "dimension_names": DIMS if len(self.shape) == 2 else ["a", "b", "c"],
        }

    def cuzarr_kwargs(self) -> dict[str, Any]:
        i = next(i for i, c in enumerate(self.codecs) if c["name"] == "bytes")
        return {
            "filters": list(self.codecs[:i]),
            "serializer": self.codecs[i],
            "compressors": list(self.codecs[i + 1 :]),
        }


def fill_json_of(value: Any, dtype: str) -> Any:
    """JSON of a finite fill value."""
    kind = np.dtype(dtype).kind
    if kind == "c":
        return [float(complex(value).real), float(complex(value).imag)]
    return bool(value) if kind == "b" else float(value) if kind == "f" else int(value)


def serializer(dtype: str, endian: str = "little") -> dict[str, Any]:
    return v3("bytes", endian=endian) if np.dtype(dtype).itemsize > 1 else v3("bytes")


def codec_cases() -> list[Case]:
    cases = [
        Case("bytes-little", "int32", (v3("bytes", endian="little"),)),
        Case("bytes-big", "float64", (v3("bytes", endian="big"),)),
        Case("transpose", "uint16", (v3("transpose", order=[1, 0]), v3("bytes", endian="little"))),
        Case(
            "transpose-3d-big",
            "int32",
            (v3("transpose", order=[2, 0, 1]), v3("bytes", endian="big")),
            shape=(5, 6, 7),
            chunks=(2, 4, 3),
        ),
        Case("crc32c", "int16", (v3("bytes", endian="little"), v3("crc32c"))),
        Case(
            "transpose-zstd-crc32c",
            "float32",
            (
                v3("transpose", order=[1, 0]),
                v3("bytes", endian="big"),
                v3("zstd", level=3, checksum=True),
                v3("crc32c"),
            ),
        ),
    ]
    for level in (0, 1, 5, 9):
        cases.append(
            Case(f"gzip-{level}", "int32", (v3("bytes", endian="little"), v3("gzip", level=level)))
        )
    for level, checksum in ((0, False), (3, False), (5, True), (-3, False), (19, True)):
        cases.append(
            Case(
                f"zstd-{level}{'-checksum' if checksum else ''}",
                "float32",
                (v3("bytes", endian="little"), v3("zstd", level=level, checksum=checksum)),
            )
        )
    for cname in ("blosclz", "lz4", "lz4hc", "zlib", "zstd"):
        for shuffle in ("noshuffle", "shuffle", "bitshuffle"):
            blosc = v3("blosc", cname=cname, clevel=5, shuffle=shuffle, typesize=4, blocksize=0)
            cases.append(
                Case(f"blosc-{cname}-{shuffle}", "int32", (v3("bytes", endian="little"), blosc))
            )
    for cid, dtype, cfg in [
        (
            "blosc-typesize2-float64",
            "float64",
            {"cname": "lz4", "clevel": 9, "shuffle": "shuffle", "typesize": 2, "blocksize": 0},
        ),
        (
            "blosc-blocksize256",
            "uint16",
            {
                "cname": "zstd",
                "clevel": 3,
                "shuffle": "bitshuffle",
                "typesize": 2,
                "blocksize": 256,
            },
        ),
        (
            "blosc-clevel0",
            "int64",
            {"cname": "blosclz", "clevel": 0, "shuffle": "shuffle", "typesize": 8, "blocksize": 0},
        ),
        (
            "blosc-uint8-bitshuffle",
            "uint8",
            {"cname": "lz4", "clevel": 5, "shuffle": "bitshuffle", "typesize": 1, "blocksize": 0},
        ),
        (
            "blosc-complex128",
            "complex128",
            {"cname": "zstd", "clevel": 5, "shuffle": "shuffle", "typesize": 16, "blocksize": 0},
        ),
    ]:
        cases.append(Case(cid, dtype, (serializer(dtype), v3("blosc", **cfg))))
    return cases


# dtype: (fill value given to cuzarr, the same as JSON for tensorstore)
FILLS = {
    "bool": (True, True),
    "int8": (-128, -128),
    "int16": (-7, -7),
    "int32": (123456, 123456),
    "int64": (-(2**63), -(2**63)),
    "uint8": (255, 255),
    "uint16": (7, 7),
    "uint32": (2**32 - 1, 2**32 - 1),
    "uint64": (2**64 - 1, 2**64 - 1),
    "float16": (float("nan"), "NaN"),
    "float32": (float("-inf"), "-Infinity"),
    "float64": (float("nan"), "NaN"),
    "complex64": (complex(float("nan"), float("inf")), ["NaN", "Infinity"]),
    "complex128": (complex(1.5, -0.0), [1.5, -0.0]),
}


def dtype_cases() -> list[Case]:
    cases = []
    for dtype in NUMERIC:
        fill, fill_json = FILLS[dtype]
        size = np.dtype(dtype).itemsize
        chains = {
            "bytes": (serializer(dtype),),
            "big-blosc": (
                serializer(dtype, "big"),
                v3("blosc", cname="zstd", clevel=3, shuffle="shuffle", typesize=size, blocksize=0),
            ),
            "transpose-zstd-crc32c": (
                v3("transpose", order=[1, 0]),
                serializer(dtype),
                v3("zstd", level=1, checksum=True),
                v3("crc32c"),
            ),
            "gzip": (serializer(dtype, "big"), v3("gzip", level=6)),
        }
        for name, codecs in chains.items():
            cases.append(Case(f"{dtype}-{name}", dtype, codecs, fill, fill_json))
    return cases


ALL_CASES = [pytest.param(c, id=c.id) for c in codec_cases() + dtype_cases()]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """case id -> (tensorstore's folder, cuzarr's folder), each written once."""
    cache: dict[str, tuple[Path, Path]] = {}

    def get(case: Case) -> tuple[Path, Path]:
        if case.id not in cache:
            base = tmp_path_factory.mktemp(case.id)
            data = sample(case.dtype, case.shape)
            t = ts_create(base / "ts.zarr", case.metadata())
            t[...] = data
            try:
                a = cuzarr.create_array(
                    str(base / "cz.zarr"),
                    shape=case.shape,
                    chunks=case.chunks,
                    dtype=case.dtype,
                    fill_value=case.fill,
                    attributes=ATTRS,
                    dimension_names=case.metadata()["dimension_names"],
                    **case.cuzarr_kwargs(),
                )
                a[...] = data
            except Exception as e:  # keep tensorstore's half usable for the read test
                (base / "cz.error").write_text(f"{type(e).__name__}: {e}")
            cache[case.id] = (base / "ts.zarr", base / "cz.zarr")
        return cache[case.id]

    return get


def cuzarr_side(path: Path) -> Path:
    err = path.parent / "cz.error"
    if err.exists():
        raise AssertionError(f"cuzarr could not write the array: {err.read_text()}")
    return path


# -- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES)
def test_tensorstore_writes_cuzarr_reads(case: Case, written):
    ts_path, _ = written(case)
    a = cuzarr.open_array(str(ts_path), mode="r")
    assert a.shape == case.shape
    assert a.chunks == case.chunks
    assert a.dtype == np.dtype(case.dtype)
    assert_same_fill(a.fill_value, np.asarray(case.fill).astype(case.dtype), case.dtype)
    assert dict(a.attrs) == ATTRS
    assert list(a.dimension_names) == case.metadata()["dimension_names"]
    got = a[...]
    assert_same_values(got, sample(case.dtype, case.shape), "cuzarr's read vs the data written")
    assert_same_values(got, ts_read(ts_open(ts_path)), "cuzarr's read vs tensorstore's read")


@pytest.mark.parametrize("case", ALL_CASES)
def test_cuzarr_writes_tensorstore_reads(case: Case, written):
    _, cz_path = written(case)
    t = ts_open(cuzarr_side(cz_path))
    assert tuple(t.shape) == case.shape
    assert np.dtype(t.dtype.numpy_dtype) == np.dtype(case.dtype)
    assert list(t.domain.labels) == case.metadata()["dimension_names"]
    assert_same_fill(np.asarray(t.fill_value), np.asarray(case.fill).astype(case.dtype), case.dtype)
    assert_same_values(
        ts_read(t), sample(case.dtype, case.shape), "tensorstore's read vs the data written"
    )


@pytest.mark.parametrize("case", ALL_CASES)
def test_same_chunks(case: Case, written):
    """Equal bytes; where the compressor library differs (``library_bound``), equal
    bytes once the compressors are undone by the reference libraries (not by cuzarr)."""
    ts_path, cz_path = written(case)
    peel = (lambda data: peel_compressors(data, case.codecs)) if case.library_bound else None
    assert_same_chunks(cuzarr_side(cz_path), ts_path, peel)


@pytest.mark.parametrize("case", ALL_CASES)
def test_same_metadata_document(case: Case, written):
    ts_path, cz_path = written(case)
    size = np.dtype(case.dtype).itemsize
    got, want = norm_doc(read_doc(cuzarr_side(cz_path)), size), norm_doc(read_doc(ts_path), size)
    for key in want:
        assert got[key] == want[key], f"{key}: cuzarr wrote {got[key]!r}, tensorstore {want[key]!r}"


# -- what tensorstore lacks ---------------------------------------------------------------


NUMCODECS = [
    ("numcodecs.zlib", {"level": 1}),
    ("numcodecs.lz4", {"acceleration": 1}),
    ("numcodecs.bz2", {"level": 1}),
    ("numcodecs.lzma", {"preset": 1}),
    ("numcodecs.shuffle", {"elementsize": 4}),
]


@pytest.mark.parametrize("name,config", NUMCODECS, ids=[n for n, _ in NUMCODECS])
def test_numcodecs_codecs(name, config, tmp_path):
    """tensorstore has none of zarr-python's numcodecs.* codecs; should one appear, this
    checks it reads cuzarr's chunks."""
    data = sample("int32")
    a = cuzarr.create_array(
        str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype="int32", compressors=[v3(name, **config)]
    )
    a[...] = data
    try:
        t = ts_open(tmp_path)
    except ValueError as e:
        if "is not registered" not in str(e):
            raise
        pytest.skip(f"tensorstore's zarr3 driver has no {name!r} codec")
    assert_same_values(ts_read(t), data)


@pytest.mark.skip(
    reason="tensorstore maps r<N> to a 'byte' array with an extra trailing dimension, wants the "
    "fill value as base64 (the spec says a list of byte values, which cuzarr writes) and aborts "
    "the whole process with a CHECK failure when such an array is created from metadata"
)
def test_raw_bits():
    """Kept as a marker: raw bits cannot be exchanged with tensorstore 0.1.86 in-process."""


# -- edge, missing and fill-valued chunks ---------------------------------------------------


def basic_metadata(
    dtype: str, fill_json: Any, shape=SHAPE, chunks=CHUNKS, encoding=None
) -> dict[str, Any]:
    return {
        "shape": list(shape),
        "data_type": dtype,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(chunks)}},
        "chunk_key_encoding": encoding or {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_json,
        "codecs": [serializer(dtype)],  # uncompressed: the bytes are the layout itself
    }


@pytest.mark.parametrize(
    "dtype,fill,fill_json", [("float32", float("nan"), "NaN"), ("int16", -7, -7), ("uint8", 3, 3)]
)
def test_missing_and_edge_chunks(dtype, fill, fill_json, tmp_path):
    data = sample(dtype)
    t = ts_create(tmp_path / "ts", basic_metadata(dtype, fill_json))
    t[3:10, 5:17] = data[3:10, 5:17]  # touches chunks (0..1, 0..2) only
    a = cuzarr.open_array(str(tmp_path / "ts"), mode="r")
    want = np.full(SHAPE, fill, dtype)
    want[3:10, 5:17] = data[3:10, 5:17]
    assert_same_values(a[...], want)
    b = cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        fill_value=fill,
        compressors=None,
    )
    b[3:10, 5:17] = data[3:10, 5:17]
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")
    # whole array, edge chunks included
    t[...] = data
    b[...] = data
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")
    assert_same_values(ts_read(ts_open(tmp_path / "cz")), data)


@pytest.mark.parametrize(
    "dtype,fill,fill_json",
    [("float64", float("nan"), "NaN"), ("bool", False, False), ("int32", 5, 5)],
)
def test_chunks_equal_to_fill_value_are_not_written(dtype, fill, fill_json, tmp_path):
    data = sample(dtype)
    data[7:14, 8:16] = fill  # chunk (1, 1)
    data[14:, 24:] = fill  # in-bounds part of the corner edge chunk
    t = ts_create(tmp_path / "ts", basic_metadata(dtype, fill_json))
    t[...] = data
    a = cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        fill_value=fill,
        compressors=None,
    )
    a[...] = data
    keys = stored_chunks(tmp_path / "cz")
    assert "c/1/1" not in keys and "c/2/3" not in keys and len(keys) == 10
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")
    a[0:7, 0:8] = fill
    t[0:7, 0:8] = fill
    assert "c/0/0" not in stored_chunks(tmp_path / "cz")
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")


# -- 0-d and empty arrays ----------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding,key",
    [
        ({"name": "default", "configuration": {"separator": "/"}}, "c"),
        ({"name": "v2", "configuration": {"separator": "."}}, "0"),
    ],
)
@pytest.mark.parametrize(
    "dtype,value", [("float64", 3.25), ("int8", -5), ("complex64", complex(1, -2)), ("bool", False)]
)
def test_zero_dimensional(dtype, value, encoding, key, tmp_path):
    t = ts_create(
        tmp_path / "ts",
        basic_metadata(dtype, FILLS[dtype][1], shape=(), chunks=(), encoding=encoding),
    )
    t[...] = value
    assert list(stored_chunks(tmp_path / "ts")) == [key]
    a = cuzarr.open_array(str(tmp_path / "ts"), mode="r")
    assert a.shape == () and a.dtype == np.dtype(dtype)
    assert_same_values(a[...], np.asarray(value, dtype))
    b = cuzarr.create_array(
        str(tmp_path / "cz"), shape=(), chunks=(), dtype=dtype, fill_value=FILLS[dtype][0],
        chunk_key_encoding=encoding, compressors=None,
    )  # fmt: skip
    b[...] = value
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")
    assert_same_values(ts_read(ts_open(tmp_path / "cz")), np.asarray(value, dtype))


@pytest.mark.parametrize("shape", [(0, 30), (20, 0), (0,)])
def test_empty_arrays(shape, tmp_path):
    chunks = CHUNKS[: len(shape)]
    ts_create(tmp_path / "ts", basic_metadata("float32", 1.5, shape=shape, chunks=chunks))
    a = cuzarr.open_array(str(tmp_path / "ts"), mode="r")
    assert a.shape == shape and a.chunks == chunks
    assert_same_values(a[...], np.empty(shape, "float32"))
    b = cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=shape,
        chunks=chunks,
        dtype="float32",
        fill_value=1.5,
        compressors=None,
    )
    b[...] = np.empty(shape, "float32")
    assert stored_chunks(tmp_path / "cz") == {}
    t = ts_open(tmp_path / "cz")
    assert tuple(t.shape) == shape
    assert_same_values(ts_read(t), np.empty(shape, "float32"))


# -- chunk key encodings -------------------------------------------------------------------


ENCODINGS = [
    ("default", "/", "c/1/2"),
    ("default", ".", "c.1.2"),
    ("v2", ".", "1.2"),
    ("v2", "/", "1/2"),
]


@pytest.mark.parametrize("name,sep,key", ENCODINGS, ids=[f"{n}{s}" for n, s, _ in ENCODINGS])
def test_chunk_key_encodings(name, sep, key, tmp_path):
    data = sample("int32")
    encoding = {"name": name, "configuration": {"separator": sep}}
    t = ts_create(tmp_path / "ts", basic_metadata("int32", 0, encoding=encoding))
    t[...] = data
    assert key in stored_chunks(tmp_path / "ts")
    assert_same_values(cuzarr.open_array(str(tmp_path / "ts"), mode="r")[...], data)
    b = cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="int32",
        chunk_key_encoding=encoding,
        compressors=None,
    )
    b[...] = data
    assert_same_chunks(tmp_path / "cz", tmp_path / "ts")
    assert_same_values(ts_read(ts_open(tmp_path / "cz")), data)


def test_array_inside_cuzarr_group(tmp_path):
    """tensorstore has no group API; it opens an array by its folder inside a group tree."""
    g = cuzarr.create_group(str(tmp_path), attributes={"root": 1})
    a = g.create_array("sub/arr", shape=SHAPE, chunks=CHUNKS, dtype="uint16")
    a[...] = sample("uint16")
    assert_same_values(ts_read(ts_open(tmp_path / "sub" / "arr")), sample("uint16"))


# -- fill value JSON forms -------------------------------------------------------------------


def f_bits(dtype: str, bits: int) -> Any:
    return np.array(bits, dtype=f"u{np.dtype(dtype).itemsize}").view(dtype)[()]


FILL_FORMS = [
    ("float32", "NaN", f_bits("float32", 0x7FC00000)),
    ("float32", "Infinity", np.float32(np.inf)),
    ("float32", "-Infinity", np.float32(-np.inf)),
    ("float32", "0x7fc00001", f_bits("float32", 0x7FC00001)),
    ("float32", "0x3f800000", np.float32(1.0)),
    ("float32", 1, np.float32(1.0)),
    ("float64", "0x7ff8000000000001", f_bits("float64", 0x7FF8000000000001)),
    ("float64", "0xfff8000000000000", f_bits("float64", 0xFFF8000000000000)),
    ("float64", 0.1, np.float64(0.1)),
    ("float16", "0xfe00", f_bits("float16", 0xFE00)),
    ("float16", 65504.0, np.float16(65504)),
    ("complex64", ["NaN", "Infinity"], np.complex64(complex(np.nan, np.inf))),
    ("complex128", [1.5, "-Infinity"], np.complex128(complex(1.5, -np.inf))),
    ("int64", -(2**63), np.int64(-(2**63))),
    ("uint64", 2**64 - 1, np.uint64(2**64 - 1)),
    ("uint64", 2**53 + 1, np.uint64(2**53 + 1)),
    ("bool", True, np.bool_(True)),
]


@pytest.mark.parametrize("dtype,form,value", FILL_FORMS, ids=[f"{d}-{f}" for d, f, _ in FILL_FORMS])
def test_fill_value_json_forms(dtype, form, value, tmp_path):
    # tensorstore writes the form; cuzarr reads the same value, bit for bit
    t = ts_create(tmp_path / "ts", basic_metadata(dtype, form, shape=(4, 6), chunks=(2, 3)))
    assert_same_fill(np.asarray(t.fill_value), value, dtype, "tensorstore's fill value")
    a = cuzarr.open_array(str(tmp_path / "ts"), mode="r")
    assert_same_fill(a.fill_value, value, dtype, "cuzarr's fill value")
    assert_same_values(a[...], np.full((4, 6), value, dtype))
    # cuzarr writes the form; tensorstore reads the same value, and the same JSON
    cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=(4, 6),
        chunks=(2, 3),
        dtype=dtype,
        fill_value=form,
        compressors=None,
    )
    t2 = ts_open(tmp_path / "cz")
    assert_same_fill(
        np.asarray(t2.fill_value), value, dtype, "tensorstore's fill value of cuzarr's array"
    )
    assert_same_values(ts_read(t2), np.full((4, 6), value, dtype))
    assert read_doc(tmp_path / "cz")["fill_value"] == read_doc(tmp_path / "ts")["fill_value"]
