"""Interoperability with zarr-python 3, both ways, on local folder stores.

For every data type (with a few representative codec chains) and every codec (with a
representative data type), the same array is written once by zarr-python and once by
cuzarr; then

- cuzarr reads what zarr-python wrote: equal values and metadata,
- zarr-python reads what cuzarr wrote: equal values,
- the stored chunks are equal byte for byte (gzip: except the timestamp),
- the two ``zarr.json`` documents say the same thing.

Then the corners: edge chunks, missing chunks, chunks equal to the fill value, 0-d and
empty arrays, chunk key encodings, group trees, fill value JSON forms, and cuzarr's API
(selections, resize, append, attributes) on arrays zarr-python wrote.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numcodecs
import numpy as np
import pytest

import cuzarr

zarr = pytest.importorskip("zarr")
zc = pytest.importorskip("zarr.codecs")
znc = pytest.importorskip("zarr.codecs.numcodecs")

# zarr-python warns about numcodecs.* names and its own unstable data types.
pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore:.*does not have a Zarr V3 specification"),
]

SHAPE = (20, 30)
CHUNKS = (7, 8)  # 3 x 4 chunks; the last row and column of chunks overhang the edge
ATTRS = {"title": "tëst", "n": 3, "nested": {"list": [1, 2.5, None, True]}}
DIMS = ("y", "x")
CORE = {"bytes", "transpose", "gzip", "zstd", "blosc", "crc32c"}
GZIP_MTIME = (4, 8)  # the gzip header's timestamp: the one field allowed to differ


# -- data and comparisons -------------------------------------------------------------


def native(dtype: Any) -> np.dtype:
    dtype = np.dtype(dtype)
    return dtype.newbyteorder("=") if dtype.byteorder not in ("=", "|") else dtype


def sample(
    dtype: Any,
    shape: tuple[int, ...] = SHAPE,
    seed: int = 0,
    finite: bool = False,
    small: bool = False,
) -> np.ndarray:
    """Deterministic data of ``dtype`` that uses the type's range: extremes, NaN,
    infinities and -0.0 for floats (unless ``finite``); ``small``: integers 0..99."""
    dtype = native(dtype)
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    if small:
        flat = rng.integers(0, 100, size=n).astype(dtype)
    elif dtype.kind == "b":
        flat = rng.random(n) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        flat = rng.integers(info.min, info.max, size=n, dtype=dtype, endpoint=True)
        flat[:2] = info.min, info.max
    elif dtype.kind == "f":
        flat = (rng.standard_normal(n) * 1000).astype(dtype)
        if not finite:
            flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    elif dtype.kind == "c":
        part = np.dtype(f"f{dtype.itemsize // 2}")
        flat = np.empty(n, dtype)
        flat.real = rng.standard_normal(n).astype(part) * 100
        flat.imag = rng.standard_normal(n).astype(part) * 100
        if not finite:
            flat[:2] = [complex(np.nan, 1.0), complex(np.inf, -np.inf)]
    elif dtype.kind == "V":
        flat = np.frombuffer(rng.bytes(n * dtype.itemsize), dtype=dtype).copy()
    else:
        raise AssertionError(f"no sample data for {dtype}")
    return flat.reshape(shape)


def as_bits(values: Any, dtype: Any) -> bytes:
    """The values' bytes in native order (NaN payloads and -0.0 count)."""
    return np.ascontiguousarray(np.asarray(values), dtype=native(dtype)).tobytes()


def assert_same_values(got: Any, want: Any, what: str = "") -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    assert native(got.dtype) == native(want.dtype), (
        f"{what}: dtype {got.dtype}, expected {want.dtype}"
    )
    if as_bits(got, got.dtype) != as_bits(want, want.dtype):
        if want.dtype.kind != "V":
            np.testing.assert_array_equal(got, want, err_msg=what)
        bad = np.argwhere(
            np.ascontiguousarray(got).view(np.uint8).reshape(got.size, -1)
            != np.ascontiguousarray(want).view(np.uint8).reshape(want.size, -1)
        )
        raise AssertionError(
            f"{what}: values differ bitwise at flat elements {sorted(set(bad[:, 0]))[:10]}"
        )


def assert_same_fill(got: Any, want: Any, dtype: Any, what: str = "fill value") -> None:
    g, w = as_bits(got, dtype), as_bits(want, dtype)
    assert g == w, (
        f"{what}: got {np.asarray(got, dtype=native(dtype))!r} ({g.hex()}), expected {want!r} ({w.hex()})"
    )


def stored_chunks(root: Path) -> dict[str, bytes]:
    """Every stored object below an array's folder except its metadata."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "zarr.json"
    }


def assert_same_chunks(
    got_root: Path, want_root: Path, mask: tuple[int, int] | None = None
) -> None:
    got, want = stored_chunks(got_root), stored_chunks(want_root)
    assert sorted(got) == sorted(want), "stored chunk keys differ"
    for key in want:
        a, b = bytearray(got[key]), bytearray(want[key])
        if mask is not None:
            lo, hi = mask
            a[lo:hi] = bytes(len(a[lo:hi]))
            b[lo:hi] = bytes(len(b[lo:hi]))
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            raise AssertionError(
                f"chunk {key!r}: {len(a)} bytes, expected {len(b)}; first difference at byte {at}: "
                f"got {bytes(a[at : at + 12]).hex()} expected {bytes(b[at : at + 12]).hex()} "
                f"(starts: got {bytes(a[:16]).hex()} expected {bytes(b[:16]).hex()})"
            )


def read_doc(root: Path) -> dict[str, Any]:
    return json.loads((root / "zarr.json").read_text())


def norm_codecs(codecs: list[Any], itemsize: int) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for c in codecs:
        c = {"name": c} if isinstance(c, str) else c
        cfg = dict(c.get("configuration") or {})
        if c["name"] == "bytes" and itemsize == 1:
            cfg.pop("endian", None)  # optional for one-byte types; either spelling is right
        out.append((c["name"], cfg))
    return out


def assert_same_metadata(
    got: dict[str, Any], want: dict[str, Any], itemsize: int, same_names: bool = True
) -> None:
    """``got`` (cuzarr's zarr.json) says what ``want`` (zarr-python's) says."""
    for key in (
        "zarr_format",
        "node_type",
        "shape",
        "data_type",
        "chunk_grid",
        "chunk_key_encoding",
    ):
        assert got.get(key) == want.get(key), (
            f"{key}: cuzarr wrote {got.get(key)!r}, zarr-python {want.get(key)!r}"
        )
    assert got.get("fill_value") == want.get("fill_value"), (
        f"fill_value: cuzarr wrote {got.get('fill_value')!r}, zarr-python {want.get('fill_value')!r}"
    )
    assert got.get("attributes", {}) == want.get("attributes", {})
    assert got.get("dimension_names") == want.get("dimension_names")
    assert got.get("storage_transformers", []) == want.get("storage_transformers", [])
    mine, theirs = norm_codecs(got["codecs"], itemsize), norm_codecs(want["codecs"], itemsize)
    if not same_names:
        return
    assert [n for n, _ in mine] == [n for n, _ in theirs], (
        f"codecs: cuzarr {got['codecs']}, zarr-python {want['codecs']}"
    )
    for (name, cfg), (_, cfg_want) in zip(mine, theirs):
        if name in CORE:
            assert cfg == cfg_want, f"{name} configuration: cuzarr {cfg}, zarr-python {cfg_want}"
        else:  # numcodecs.*: cuzarr may state defaults zarr-python leaves out
            missing = {k: v for k, v in cfg_want.items() if cfg.get(k) != v}
            assert not missing, f"{name} configuration: cuzarr {cfg} lacks {missing}"


# -- the cases ------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One array, described once for each library: zarr-python codec objects (``zp``, a
    function so objects are fresh) and the v3 JSON dicts cuzarr takes (``cz``)."""

    id: str
    dtype: str
    zp: Any
    cz: dict[str, Any]
    fill: Any = 0
    # decoded values differ from the written ones: compare with the writer's own read
    lossy: bool = False
    finite: bool = False
    small: bool = False
    compare_bytes: bool = True
    mask: tuple[int, int] | None = None
    same_names: bool = True  # False: zarr-python writes a numcodecs.* alias, cuzarr the core name
    shape: tuple[int, ...] = SHAPE
    chunks: tuple[int, ...] = CHUNKS

    @property
    def dims(self) -> tuple[str, ...]:
        return DIMS if len(self.shape) == 2 else ("a", "b", "c")

    def data(self) -> np.ndarray:
        return sample(self.dtype, self.shape, finite=self.finite, small=self.small)


def v3(name: str, **config: Any) -> dict[str, Any]:
    return {"name": name, "configuration": config} if config else {"name": name}


LE, BE = v3("bytes", endian="little"), v3("bytes", endian="big")


def chain(filters=(), serializer=LE, compressors=()):
    return {"filters": list(filters), "serializer": serializer, "compressors": list(compressors)}


def zp_chain(filters=(), serializer=None, compressors=()):
    return {
        "filters": list(filters),
        "serializer": serializer or zc.BytesCodec(endian="little"),
        "compressors": list(compressors),
    }


def codec_cases() -> list[Case]:
    cases = [
        Case("bytes-little", "int32", lambda: zp_chain(), chain()),
        Case(
            "bytes-big",
            "float64",
            lambda: zp_chain(serializer=zc.BytesCodec(endian="big")),
            chain(serializer=BE),
        ),
        Case(
            "bytes-big-uint16",
            "uint16",
            lambda: zp_chain(serializer=zc.BytesCodec(endian="big")),
            chain(serializer=BE),
        ),
        Case(
            "transpose",
            "uint16",
            lambda: zp_chain(filters=[zc.TransposeCodec(order=(1, 0))]),
            chain(filters=[v3("transpose", order=[1, 0])]),
        ),
        Case(
            "transpose-3d-big",
            "int32",
            lambda: zp_chain(
                filters=[zc.TransposeCodec(order=(2, 0, 1))], serializer=zc.BytesCodec(endian="big")
            ),
            chain(filters=[v3("transpose", order=[2, 0, 1])], serializer=BE),
            shape=(5, 6, 7),
            chunks=(2, 4, 3),
        ),
        Case(
            "crc32c",
            "int16",
            lambda: zp_chain(compressors=[zc.Crc32cCodec()]),
            chain(compressors=[v3("crc32c")]),
        ),
        Case(
            "transpose-zstd-crc32c",
            "float32",
            lambda: zp_chain(
                filters=[zc.TransposeCodec(order=(1, 0))],
                compressors=[zc.ZstdCodec(level=3, checksum=True), zc.Crc32cCodec()],
            ),
            chain(
                filters=[v3("transpose", order=[1, 0])],
                compressors=[v3("zstd", level=3, checksum=True), v3("crc32c")],
            ),
        ),
    ]
    for level in (0, 1, 5, 9):
        cases.append(
            Case(
                f"gzip-{level}",
                "int32",
                lambda level=level: zp_chain(compressors=[zc.GzipCodec(level=level)]),
                chain(compressors=[v3("gzip", level=level)]),
                mask=GZIP_MTIME,
            )
        )
    for level, checksum in ((0, False), (3, False), (5, True), (-3, False), (19, True)):
        cases.append(
            Case(
                f"zstd-{level}{'-checksum' if checksum else ''}",
                "float32",
                lambda level=level, checksum=checksum: zp_chain(
                    compressors=[zc.ZstdCodec(level=level, checksum=checksum)]
                ),
                chain(compressors=[v3("zstd", level=level, checksum=checksum)]),
            )
        )
    for cname in ("blosclz", "lz4", "lz4hc", "zlib", "zstd"):
        for shuffle in ("noshuffle", "shuffle", "bitshuffle"):
            cases.append(
                Case(
                    f"blosc-{cname}-{shuffle}",
                    "int32",
                    lambda cname=cname, shuffle=shuffle: zp_chain(
                        compressors=[zc.BloscCodec(cname=cname, clevel=5, shuffle=shuffle)]
                    ),
                    chain(
                        compressors=[
                            v3(
                                "blosc",
                                cname=cname,
                                clevel=5,
                                shuffle=shuffle,
                                typesize=4,
                                blocksize=0,
                            )
                        ]
                    ),
                )
            )
    blosc_more = [
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
    ]
    for cid, dtype, cfg in blosc_more:
        cases.append(
            Case(
                cid,
                dtype,
                lambda cfg=cfg: zp_chain(compressors=[zc.BloscCodec(**cfg)]),
                chain(compressors=[v3("blosc", **cfg)]),
            )
        )
    # zarr-python's numcodecs.* codecs (zarr.codecs.numcodecs), each with a dtype it suits.
    numcodecs_cases = [
        ("zlib-1", "int64", [], [("Zlib", {"level": 1})], {}),
        ("zlib-9", "uint32", [], [("Zlib", {"level": 9})], {}),
        ("lz4", "float32", [], [("LZ4", {"acceleration": 1})], {}),
        ("lz4-accel10", "int16", [], [("LZ4", {"acceleration": 10})], {}),
        ("bz2-1", "uint8", [], [("BZ2", {"level": 1})], {}),
        ("bz2-9", "complex64", [], [("BZ2", {"level": 9})], {}),
        ("lzma-preset1", "complex64", [], [("LZMA", {"preset": 1})], {}),
        ("lzma-default", "float64", [], [("LZMA", {})], {}),
        ("shuffle-4", "int32", [], [("Shuffle", {"elementsize": 4})], {}),
        (
            "shuffle-8-zlib",
            "float64",
            [],
            [("Shuffle", {"elementsize": 8}), ("Zlib", {"level": 5})],
            {},
        ),
        ("crc32c-start", "int32", [], [("CRC32C", {"location": "start"})], {}),
        ("delta", "int32", [("Delta", {"dtype": "<i4"})], [("Zlib", {"level": 1})], {}),
        (
            "delta-astype",
            "int32",
            [("Delta", {"dtype": "<i4", "astype": "<i2"})],
            [],
            {"small": True},
        ),
        (
            "delta-float64",
            "float64",
            [("Delta", {"dtype": "<f8"})],
            [],
            {"finite": True, "lossy": True},
        ),
        (
            "fixedscaleoffset",
            "float64",
            [("FixedScaleOffset", {"offset": 1000, "scale": 10, "dtype": "<f8", "astype": "<i4"})],
            [("Zlib", {"level": 1})],
            {"finite": True, "lossy": True},
        ),
        ("quantize", "float64", [("Quantize", {"digits": 3, "dtype": "<f8"})], [], {"lossy": True}),
        (
            "bitround",
            "float32",
            [("BitRound", {"keepbits": 10})],
            [("Zlib", {"level": 1})],
            {"lossy": True},
        ),
        ("bitround-float64", "float64", [("BitRound", {"keepbits": 20})], [], {"lossy": True}),
        ("packbits", "bool", [("PackBits", {})], [], {}),
        (
            "astype",
            "float64",
            [("AsType", {"encode_dtype": "<f4", "decode_dtype": "<f8"})],
            [],
            {"finite": True, "lossy": True},
        ),
        (
            "astype-int",
            "int16",
            [("AsType", {"encode_dtype": "<i8", "decode_dtype": "<i2"})],
            [("Zlib", {"level": 1})],
            {},
        ),
        # numcodecs.* spellings of core codecs: zarr-python writes the alias, cuzarr the core name
        (
            "numcodecs.gzip",
            "int32",
            [],
            [("GZip", {"level": 5})],
            {"mask": GZIP_MTIME, "same_names": False},
        ),
        ("numcodecs.zstd", "int32", [], [("Zstd", {"level": 3})], {"same_names": False}),
        # zarr-python hands numcodecs.blosc a byte buffer, so its chunks say typesize 1; cuzarr
        # writes core blosc with typesize = item size (different, equally valid chunks)
        (
            "numcodecs.blosc",
            "int32",
            [],
            [("Blosc", {"cname": "lz4", "clevel": 5, "shuffle": 1})],
            {"same_names": False, "compare_bytes": False},
        ),
    ]
    for cid, dtype, filters, compressors, extra in numcodecs_cases:
        cases.append(
            Case(
                f"numcodecs-{cid}",
                dtype,
                lambda f=filters, c=compressors, dtype=dtype: zp_chain(
                    filters=[getattr(znc, n)(**cfg) for n, cfg in f],
                    serializer=zc.BytesCodec(endian="little")
                    if np.dtype(dtype).itemsize > 1
                    else zc.BytesCodec(),
                    compressors=[getattr(znc, n)(**cfg) for n, cfg in c],
                ),
                chain(
                    filters=[v3(f"numcodecs.{n.lower()}", **cfg) for n, cfg in filters],
                    serializer=LE if np.dtype(dtype).itemsize > 1 else v3("bytes"),
                    compressors=[v3(f"numcodecs.{n.lower()}", **cfg) for n, cfg in compressors],
                ),
                **extra,
            )
        )
    return cases


NUMERIC_DTYPES = {
    # dtype: the fill value both libraries are given
    "bool": True,
    "int8": -128,
    "int16": -7,
    "int32": 123456,
    "int64": -(2**63),
    "uint8": 255,
    "uint16": 7,
    "uint32": 2**32 - 1,
    "uint64": 2**64 - 1,
    "float16": float("nan"),
    "float32": float("-inf"),
    "float64": float("nan"),
    "complex64": complex(float("nan"), float("inf")),
    "complex128": complex(1.5, -0.0),
}


def dtype_cases() -> list[Case]:
    cases = []
    for dtype, fill in NUMERIC_DTYPES.items():
        one_byte = np.dtype(dtype).itemsize == 1
        cases += [
            # zarr-python's defaults and cuzarr's: bytes (little) + zstd level 0
            Case(f"{dtype}-defaults", dtype, lambda: {}, {}, fill=fill),
            Case(
                f"{dtype}-big-blosc",
                dtype,
                lambda: {
                    "serializer": zc.BytesCodec(endian="big"),
                    "compressors": [zc.BloscCodec(cname="zstd", clevel=3, shuffle="shuffle")],
                },
                {
                    "serializer": BE,
                    "compressors": [
                        v3(
                            "blosc",
                            cname="zstd",
                            clevel=3,
                            shuffle="shuffle",
                            typesize=np.dtype(dtype).itemsize,
                            blocksize=0,
                        )
                    ],
                },
                fill=fill,
            ),
            Case(
                f"{dtype}-transpose-crc32c",
                dtype,
                lambda one_byte=one_byte: {
                    "filters": [zc.TransposeCodec(order=(1, 0))],
                    "serializer": zc.BytesCodec() if one_byte else zc.BytesCodec(endian="little"),
                    "compressors": [zc.Crc32cCodec()],
                },
                {
                    "filters": [v3("transpose", order=[1, 0])],
                    "serializer": v3("bytes") if one_byte else LE,
                    "compressors": [v3("crc32c")],
                },
                fill=fill,
            ),
        ]
    return cases


CODEC_CASES = codec_cases()
DTYPE_CASES = dtype_cases()
ALL_CASES = [pytest.param(c, id=c.id) for c in CODEC_CASES + DTYPE_CASES]


# -- writing each case once per library ------------------------------------------------


def zp_write(path: Path, case: Case, data: np.ndarray) -> Any:
    z = zarr.create_array(
        store=str(path),
        shape=case.shape,
        chunks=case.chunks,
        dtype=case.dtype,
        fill_value=case.fill,
        attributes=ATTRS,
        dimension_names=case.dims,
        **case.zp(),
    )
    z[...] = data
    return z


def cz_write(path: Path, case: Case, data: np.ndarray) -> cuzarr.Array:
    a = cuzarr.create_array(
        str(path),
        shape=case.shape,
        chunks=case.chunks,
        dtype=case.dtype,
        fill_value=case.fill,
        attributes=ATTRS,
        dimension_names=case.dims,
        **case.cz,
    )
    a[...] = data
    return a


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """case id -> (zarr-python's folder, cuzarr's folder), each written once."""
    cache: dict[str, tuple[Path, Path]] = {}

    def get(case: Case) -> tuple[Path, Path]:
        if case.id not in cache:
            base = tmp_path_factory.mktemp(case.id.replace(".", "_"))
            data = case.data()
            zp_write(base / "zp.zarr", case, data)
            try:
                cz_write(base / "cz.zarr", case, data)
            except Exception as e:  # keep the zarr-python half usable for the read test
                shutil.rmtree(base / "cz.zarr", ignore_errors=True)
                (base / "cz.error").write_text(f"{type(e).__name__}: {e}")
            cache[case.id] = (base / "zp.zarr", base / "cz.zarr")
        return cache[case.id]

    return get


def cuzarr_side(path: Path) -> Path:
    err = path.parent / "cz.error"
    if err.exists():
        raise AssertionError(f"cuzarr could not write the array: {err.read_text()}")
    return path


# -- the matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("case", ALL_CASES)
def test_zarr_python_writes_cuzarr_reads(case: Case, written):
    zp_path, _ = written(case)
    z = zarr.open_array(str(zp_path), mode="r")
    a = cuzarr.open_array(str(zp_path), mode="r")
    assert a.shape == case.shape == z.shape
    assert a.chunks == case.chunks
    assert a.dtype == native(z.dtype) == native(case.dtype)
    assert_same_fill(a.fill_value, z.fill_value, case.dtype)
    assert_same_fill(a.fill_value, np.asarray(case.fill).astype(case.dtype), case.dtype)
    assert dict(a.attrs) == ATTRS
    assert tuple(a.dimension_names) == tuple(z.metadata.dimension_names) == case.dims
    got = a[...]
    assert_same_values(got, z[...], "cuzarr's read vs zarr-python's read")
    if not case.lossy:
        assert_same_values(got, case.data(), "cuzarr's read vs the data written")


@pytest.mark.parametrize("case", ALL_CASES)
def test_cuzarr_writes_zarr_python_reads(case: Case, written):
    _, cz_path = written(case)
    cz_path = cuzarr_side(cz_path)
    z = zarr.open_array(str(cz_path), mode="r")
    assert z.shape == case.shape
    assert z.chunks == case.chunks
    assert native(z.dtype) == native(case.dtype)
    assert_same_fill(z.fill_value, np.asarray(case.fill).astype(case.dtype), case.dtype)
    assert dict(z.attrs) == ATTRS
    got = z[...]
    assert_same_values(
        got, cuzarr.open_array(str(cz_path), mode="r")[...], "zarr-python's read vs cuzarr's read"
    )
    if not case.lossy:
        assert_same_values(got, case.data(), "zarr-python's read vs the data written")


@pytest.mark.parametrize("case", ALL_CASES)
def test_same_chunk_bytes(case: Case, written):
    if not case.compare_bytes:
        pytest.skip("the two libraries write different (valid) configurations of this codec")
    zp_path, cz_path = written(case)
    assert_same_chunks(cuzarr_side(cz_path), zp_path, mask=case.mask)


@pytest.mark.parametrize("case", ALL_CASES)
def test_same_metadata_document(case: Case, written):
    zp_path, cz_path = written(case)
    assert_same_metadata(
        read_doc(cuzarr_side(cz_path)),
        read_doc(zp_path),
        np.dtype(case.dtype).itemsize,
        case.same_names,
    )


# -- codec spellings cuzarr accepts -----------------------------------------------------


SPELLINGS = {
    "zstd": (
        lambda: zc.ZstdCodec(level=3),
        [
            v3("zstd", level=3, checksum=False),
            {"id": "zstd", "level": 3},
            numcodecs.Zstd(level=3),
        ],
    ),
    "blosc": (
        lambda: zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
        [
            v3("blosc", cname="lz4", clevel=5, shuffle="shuffle", typesize=4, blocksize=0),
            v3(
                "blosc", cname="lz4", clevel=5, shuffle="shuffle"
            ),  # typesize filled in from the dtype
            {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0},
            numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
        ],
    ),
    "gzip": (
        lambda: zc.GzipCodec(level=6),
        [v3("gzip", level=6), {"id": "gzip", "level": 6}, numcodecs.GZip(level=6)],
    ),
    "zlib": (
        lambda: znc.Zlib(level=3),
        [v3("numcodecs.zlib", level=3), {"id": "zlib", "level": 3}, numcodecs.Zlib(level=3)],
    ),
}


@pytest.mark.parametrize("codec", sorted(SPELLINGS))
def test_codec_spellings_write_zarr_python_bytes(codec, tmp_path):
    """v3 dicts, v2 dicts, numcodecs instances and cuzarr codec objects all give the
    chunks and the codec JSON that zarr-python writes."""
    zp_codec, spellings = SPELLINGS[codec]
    spellings = [*spellings, cuzarr.codecs.as_codec(spellings[0])]
    data = sample("int32")
    zp = zarr.create_array(
        store=str(tmp_path / "zp"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="int32",
        compressors=[zp_codec()],
    )
    zp[...] = data
    mask = GZIP_MTIME if codec == "gzip" else None
    for i, spelling in enumerate(spellings):
        path = tmp_path / f"cz{i}"
        a = cuzarr.create_array(
            str(path), shape=SHAPE, chunks=CHUNKS, dtype="int32", compressors=[spelling]
        )
        a[...] = data
        assert read_doc(path)["codecs"] == read_doc(tmp_path / "zp")["codecs"], (
            f"spelling {spelling!r}"
        )
        assert_same_chunks(path, tmp_path / "zp", mask=mask)
        assert_same_values(zarr.open_array(str(path), mode="r")[...], data)


# -- raw bits ---------------------------------------------------------------------------


@pytest.mark.parametrize("itemsize", [1, 2, 3])
def test_raw_bytes_from_zarr_python(itemsize, tmp_path):
    """zarr-python writes numpy 'V' arrays as its own ``raw_bytes`` type (base64 fill)."""
    dtype = np.dtype(f"V{itemsize}")
    fill = bytes(range(1, itemsize + 1))
    data = sample(dtype)
    z = zarr.create_array(
        store=str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill
    )
    z[3:17, 2:25] = data[3:17, 2:25]  # some chunks stay missing
    want = z[...]
    a = cuzarr.open_array(str(tmp_path), mode="r+")
    assert a.dtype == dtype
    assert_same_fill(a.fill_value, np.frombuffer(fill, dtype)[0], dtype)
    assert_same_values(a[...], want)
    # cuzarr's writes and metadata rewrites keep the array readable by zarr-python
    before = read_doc(tmp_path)
    a[0, :] = data[0, :]
    a.attrs["x"] = 1
    after = read_doc(tmp_path)
    assert (after["data_type"], after["fill_value"]) == (before["data_type"], before["fill_value"])
    want[0, :] = data[0, :]
    assert_same_values(zarr.open_array(str(tmp_path), mode="r")[...], want)


@pytest.mark.parametrize("itemsize", [1, 2, 3])
def test_raw_bits_json_written_by_cuzarr(itemsize, tmp_path):
    """cuzarr writes the spec's ``r<N>`` with a fill value given as a list of byte values."""
    dtype = np.dtype(f"V{itemsize}")
    data = sample(dtype)
    data[:7, :8] = np.frombuffer(bytes(range(1, itemsize + 1)), dtype=dtype)[0]  # one chunk of fill
    a = cuzarr.create_array(
        str(tmp_path),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        fill_value=list(range(1, itemsize + 1)),
    )
    a[...] = data
    doc = read_doc(tmp_path)
    assert doc["data_type"] == f"r{8 * itemsize}"
    assert doc["fill_value"] == list(range(1, itemsize + 1))
    assert "c/0/0" not in stored_chunks(tmp_path)
    assert_same_values(cuzarr.open_array(str(tmp_path), mode="r")[...], data)


@pytest.mark.parametrize("itemsize", [1, 2, 3])
def test_raw_bits_to_zarr_python(itemsize, tmp_path):
    dtype = np.dtype(f"V{itemsize}")
    data = sample(dtype)
    cuzarr.create_array(str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype=dtype)[...] = data
    try:
        z = zarr.open_array(str(tmp_path), mode="r")
    except Exception as e:
        pytest.skip(f"zarr-python {zarr.__version__} cannot open the core r<N> data type: {e}")
    assert_same_values(z[...], data)


# -- edge, missing and fill-valued chunks ---------------------------------------------------


@pytest.mark.parametrize(
    "dtype,fill", [("float32", float("nan")), ("int16", -7), ("complex64", complex(0, 1))]
)
def test_missing_chunks_read_as_fill_value(dtype, fill, tmp_path):
    data = sample(dtype, finite=True)
    z = zarr.create_array(
        store=str(tmp_path / "zp"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill
    )
    z[3:10, 5:17] = data[3:10, 5:17]  # touches chunks (0..1, 0..2) only
    assert "c/2/3" not in stored_chunks(tmp_path / "zp")
    a = cuzarr.open_array(str(tmp_path / "zp"), mode="r")
    assert_same_values(a[...], z[...])
    assert_same_values(a[14:, 24:], np.full((6, 6), fill, dtype))
    # the same partial write by cuzarr stores the same chunks, with the same bytes
    b = cuzarr.create_array(
        str(tmp_path / "cz"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill
    )
    b[3:10, 5:17] = data[3:10, 5:17]
    assert_same_chunks(tmp_path / "cz", tmp_path / "zp")
    assert_same_values(zarr.open_array(str(tmp_path / "cz"), mode="r")[...], z[...])


@pytest.mark.parametrize(
    "dtype,fill",
    [("float64", float("nan")), ("uint8", 3), ("bool", False), ("complex128", complex(np.nan, 0))],
)
def test_chunks_equal_to_fill_value_are_not_written(dtype, fill, tmp_path):
    data = sample(dtype, finite=True)
    data[7:14, 8:16] = fill  # chunk (1, 1) is all fill
    data[14:, 24:] = fill  # the corner edge chunk: its in-bounds part is all fill
    z = zarr.create_array(
        store=str(tmp_path / "zp"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill
    )
    z[...] = data
    a = cuzarr.create_array(
        str(tmp_path / "cz"), shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=fill
    )
    a[...] = data
    keys = stored_chunks(tmp_path / "cz")
    assert "c/1/1" not in keys and "c/2/3" not in keys
    assert len(keys) == 10
    assert_same_chunks(tmp_path / "cz", tmp_path / "zp")
    # overwriting a stored chunk with the fill value deletes it, as zarr-python does
    a[0:7, 0:8] = fill
    z[0:7, 0:8] = fill
    assert "c/0/0" not in stored_chunks(tmp_path / "cz")
    assert_same_chunks(tmp_path / "cz", tmp_path / "zp")
    assert_same_values(zarr.open_array(str(tmp_path / "cz"), mode="r")[...], z[...])


def test_chunk_of_other_complex_nan_than_fill_is_kept(tmp_path):
    a = cuzarr.create_array(
        str(tmp_path), shape=(4,), chunks=(2,), dtype="complex64", fill_value=complex(np.nan, 0)
    )
    a[:2] = complex(0, np.nan)
    assert_same_values(a[:2], np.full(2, complex(0, np.nan), "complex64"))
    odd_nan = np.array([0x7FC00001, 0x7FC00001], dtype="u4").view("f4")
    b = cuzarr.create_array(str(tmp_path / "b"), shape=(2,), chunks=(2,), dtype="f4", fill_value=np.nan)
    b[...] = odd_nan  # a NaN payload is data, not the fill value
    assert b[...].view("u4").tolist() == [0x7FC00001] * 2
    c = cuzarr.create_array(str(tmp_path / "c"), shape=(2,), chunks=(2,), dtype="f8", fill_value=0.0)
    c[...] = -0.0
    assert np.signbit(c[...]).all()


def test_edge_chunks_are_padded_with_fill_value(tmp_path):
    """Edge chunks are stored full size; the part beyond the array holds the fill value."""
    data = sample("uint16")
    a = cuzarr.create_array(
        str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype="uint16", fill_value=9, compressors=None
    )
    a[...] = data
    raw = np.frombuffer(stored_chunks(tmp_path)["c/2/3"], dtype="<u2").reshape(CHUNKS)
    assert_same_values(raw[:6, :6], data[14:, 24:])
    assert (raw[6:, :] == 9).all() and (raw[:, 6:] == 9).all()
    z = zarr.open_array(str(tmp_path), mode="r")
    assert_same_values(z[14:, 24:], data[14:, 24:])


# -- 0-d and empty arrays ----------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding,key",
    [({"name": "default", "separator": "/"}, "c"), ({"name": "v2", "separator": "."}, "0")],
)
@pytest.mark.parametrize(
    "dtype,value", [("float64", 3.25), ("int8", -5), ("complex64", complex(1, -2)), ("bool", True)]
)
def test_zero_dimensional(dtype, value, encoding, key, tmp_path):
    z = zarr.create_array(
        store=str(tmp_path / "zp"),
        shape=(),
        chunks=(),
        dtype=dtype,
        chunk_key_encoding=encoding,
        attributes=ATTRS,
    )
    z[...] = value
    assert list(stored_chunks(tmp_path / "zp")) == [key]
    a = cuzarr.open_array(str(tmp_path / "zp"), mode="r")
    assert a.shape == () and a.chunks == () and a.dtype == np.dtype(dtype)
    assert dict(a.attrs) == ATTRS
    assert_same_values(a[...], np.asarray(value, dtype))
    assert_same_values(a[()], np.asarray(value, dtype))
    b = cuzarr.create_array(
        str(tmp_path / "cz"),
        shape=(),
        chunks=(),
        dtype=dtype,
        chunk_key_encoding=encoding,
        attributes=ATTRS,
    )
    b[...] = value
    assert_same_chunks(tmp_path / "cz", tmp_path / "zp")
    assert_same_metadata(
        read_doc(tmp_path / "cz"), read_doc(tmp_path / "zp"), np.dtype(dtype).itemsize
    )
    assert_same_values(
        zarr.open_array(str(tmp_path / "cz"), mode="r")[...], np.asarray(value, dtype)
    )


@pytest.mark.parametrize("shape", [(0, 30), (20, 0), (0,)])
def test_empty_arrays(shape, tmp_path):
    chunks = CHUNKS[: len(shape)]
    z = zarr.create_array(
        store=str(tmp_path / "zp"), shape=shape, chunks=chunks, dtype="float32", fill_value=1.5
    )
    z[...] = np.empty(shape, "float32")
    a = cuzarr.open_array(str(tmp_path / "zp"), mode="r")
    assert a.shape == shape and a.chunks == chunks and a.nchunks == 0
    assert_same_values(a[...], np.empty(shape, "float32"))
    b = cuzarr.create_array(
        str(tmp_path / "cz"), shape=shape, chunks=chunks, dtype="float32", fill_value=1.5
    )
    b[...] = np.empty(shape, "float32")
    assert stored_chunks(tmp_path / "cz") == {}
    assert_same_metadata(read_doc(tmp_path / "cz"), read_doc(tmp_path / "zp"), 4)
    z2 = zarr.open_array(str(tmp_path / "cz"), mode="r")
    assert z2.shape == shape
    assert_same_values(z2[...], np.empty(shape, "float32"))


# -- chunk key encodings -------------------------------------------------------------------


ENCODINGS = [
    ({"name": "default", "separator": "/"}, "c/1/2"),
    ({"name": "default", "separator": "."}, "c.1.2"),
    ({"name": "v2", "separator": "."}, "1.2"),
    ({"name": "v2", "separator": "/"}, "1/2"),
]


@pytest.mark.parametrize(
    "encoding,key", ENCODINGS, ids=[f"{e['name']}{e['separator']}" for e, _ in ENCODINGS]
)
def test_chunk_key_encodings(encoding, key, tmp_path):
    data = sample("int32")
    z = zarr.create_array(
        store=str(tmp_path / "zp"),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="int32",
        chunk_key_encoding=encoding,
    )
    z[...] = data
    assert key in stored_chunks(tmp_path / "zp")
    a = cuzarr.open_array(str(tmp_path / "zp"), mode="r")
    assert_same_values(a[...], data)
    assert a.nchunks_initialized == 12
    b = cuzarr.create_array(
        str(tmp_path / "cz"), shape=SHAPE, chunks=CHUNKS, dtype="int32", chunk_key_encoding=encoding
    )
    b[...] = data
    assert (
        read_doc(tmp_path / "cz")["chunk_key_encoding"]
        == read_doc(tmp_path / "zp")["chunk_key_encoding"]
    )
    assert_same_chunks(tmp_path / "cz", tmp_path / "zp")
    assert_same_values(zarr.open_array(str(tmp_path / "cz"), mode="r")[...], data)


# -- groups -------------------------------------------------------------------------------


TREE_ATTRS = {
    "": {"root": True, "unicode": "µm", "numbers": [1, -2, 3.5]},
    "a": {"level": 1},
    "a/b": {"level": 2, "empty": {}},
    "c": {},
}
TREE_ARRAYS = {"a/x": "int16", "a/b/y": "float64", "z": "uint8"}


def expected_members() -> dict[str, str]:
    kinds = {p: "group" for p in TREE_ATTRS if p}
    kinds.update({p: "array" for p in TREE_ARRAYS})
    return kinds


def test_group_tree_from_zarr_python(tmp_path):
    root = zarr.create_group(store=str(tmp_path), attributes=TREE_ATTRS[""])
    for path in ("a", "a/b", "c"):
        root.create_group(path, attributes=TREE_ATTRS[path])
    for path, dtype in TREE_ARRAYS.items():
        z = root.create_array(
            path, shape=SHAPE, chunks=CHUNKS, dtype=dtype, attributes={"name": path}
        )
        z[...] = sample(dtype)
    g = cuzarr.open_group(tmp_path, mode="r")  # a pathlib.Path works as a store too
    assert dict(g.attrs) == TREE_ATTRS[""]
    members = dict(g.members(max_depth=None))
    assert {
        p: "array" if isinstance(m, cuzarr.Array) else "group" for p, m in members.items()
    } == expected_members()
    for path in ("a", "a/b", "c"):
        assert dict(members[path].attrs) == TREE_ATTRS[path]
        assert dict(g[path].attrs) == TREE_ATTRS[path]
    for path, dtype in TREE_ARRAYS.items():
        assert dict(members[path].attrs) == {"name": path}
        assert_same_values(members[path][...], sample(dtype), path)
    x = cuzarr.open_array(str(tmp_path), path="a/x", mode="r")
    assert_same_values(x[...], sample("int16"), "a/x opened with path=")
    assert isinstance(cuzarr.open(str(tmp_path), mode="r"), cuzarr.Group)
    assert isinstance(cuzarr.open(str(tmp_path / "a" / "x"), mode="r"), cuzarr.Array)
    assert sorted(g.group_keys()) == ["a", "c"] and sorted(g.array_keys()) == ["z"]


def test_group_tree_to_zarr_python(tmp_path):
    root = cuzarr.create_group(str(tmp_path), attributes=TREE_ATTRS[""])
    root.create_group("a", attributes=TREE_ATTRS["a"])
    root.create_group("a/b", attributes=TREE_ATTRS["a/b"])
    root.create_group("c")
    for path, dtype in TREE_ARRAYS.items():
        a = root.create_array(
            path, shape=SHAPE, chunks=CHUNKS, dtype=dtype, attributes={"name": path}
        )
        a[...] = sample(dtype)
    g = zarr.open_group(str(tmp_path), mode="r")
    assert dict(g.attrs) == TREE_ATTRS[""]
    members = dict(g.members(max_depth=None))
    assert {
        p: "array" if isinstance(m, zarr.Array) else "group" for p, m in members.items()
    } == expected_members()
    for path in ("a", "a/b", "c"):
        assert dict(members[path].attrs) == TREE_ATTRS[path]
    for path, dtype in TREE_ARRAYS.items():
        assert dict(members[path].attrs) == {"name": path}
        assert_same_values(members[path][...], sample(dtype), path)
    # attributes cuzarr changes later are seen by zarr-python
    cuzarr.open_group(str(tmp_path), path="a", mode="r+").attrs["level"] = "changed"
    assert zarr.open_group(str(tmp_path / "a"), mode="r").attrs["level"] == "changed"


# -- fill value JSON forms -------------------------------------------------------------------


def f_bits(dtype: str, bits: int) -> Any:
    size = np.dtype(dtype).itemsize
    return np.array(bits, dtype=f"u{size}").view(dtype)[()]


FILL_FORMS = [
    # (data_type, JSON as found in a document, the value it means, the JSON cuzarr writes back)
    ("float32", "NaN", f_bits("float32", 0x7FC00000), "NaN"),
    ("float32", "Infinity", np.float32(np.inf), "Infinity"),
    ("float32", "-Infinity", np.float32(-np.inf), "-Infinity"),
    ("float32", "0x7fc00001", f_bits("float32", 0x7FC00001), "0x7fc00001"),  # NaN payload kept
    ("float32", "0x3f800000", np.float32(1.0), 1.0),
    ("float32", -0.0, np.float32(-0.0), -0.0),
    ("float32", 1, np.float32(1.0), 1.0),  # a JSON integer for a float type
    ("float64", "0x7ff8000000000001", f_bits("float64", 0x7FF8000000000001), "0x7ff8000000000001"),
    (
        "float64",
        "0xfff8000000000000",
        f_bits("float64", 0xFFF8000000000000),
        "0xfff8000000000000",
    ),  # -NaN
    ("float64", 0.1, np.float64(0.1), 0.1),
    ("float64", 1e300, np.float64(1e300), 1e300),
    ("float16", "0x7e00", f_bits("float16", 0x7E00), "NaN"),
    ("float16", "0xfe00", f_bits("float16", 0xFE00), "0xfe00"),
    ("float16", 65504.0, np.float16(65504), 65504.0),
    ("float16", "-Infinity", np.float16(-np.inf), "-Infinity"),
    ("complex64", ["NaN", "Infinity"], np.complex64(complex(np.nan, np.inf)), ["NaN", "Infinity"]),
    ("complex64", ["0x7fc00001", 2.0], None, ["0x7fc00001", 2.0]),
    ("complex128", [1.5, "-Infinity"], np.complex128(complex(1.5, -np.inf)), [1.5, "-Infinity"]),
    ("complex128", [0.0, -0.0], np.complex128(complex(0.0, -0.0)), [0.0, -0.0]),
    ("int64", -(2**63), np.int64(-(2**63)), -(2**63)),
    ("uint64", 2**64 - 1, np.uint64(2**64 - 1), 2**64 - 1),
    ("uint64", 2**53 + 1, np.uint64(2**53 + 1), 2**53 + 1),  # not a float: must stay exact
    ("int8", -128, np.int8(-128), -128),
    ("uint32", 4294967295, np.uint32(4294967295), 4294967295),
    ("bool", True, np.bool_(True), True),
]


def fill_scalar(dtype: str, form: Any, value: Any) -> np.ndarray:
    if value is not None:
        return np.asarray(value, dtype=dtype)
    out = np.zeros((), dtype)  # complex with a NaN payload in the real part
    out.real = f_bits("float32", 0x7FC00001)
    out.imag = 2.0
    return out


def handmade_doc(dtype: str, fill: Any) -> dict[str, Any]:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [4, 6],
        "data_type": dtype,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2, 3]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": [
            {"name": "bytes", "configuration": {"endian": "little"}}
            if np.dtype(dtype).itemsize > 1
            else {"name": "bytes"}
        ],
        "attributes": {},
    }


@pytest.mark.parametrize(
    "dtype,form,value,canonical", FILL_FORMS, ids=[f"{d}-{f}" for d, f, _, _ in FILL_FORMS]
)
def test_fill_value_json_forms(dtype, form, value, canonical, tmp_path):
    want = fill_scalar(dtype, form, value)
    # 1. the same document opened by both libraries: the same fill value, bit for bit
    doc_path = tmp_path / "doc"
    doc_path.mkdir()
    (doc_path / "zarr.json").write_text(json.dumps(handmade_doc(dtype, form)))
    z = zarr.open_array(str(doc_path), mode="r")
    a = cuzarr.open_array(str(doc_path), mode="r")
    assert_same_fill(z.fill_value, want, dtype, "zarr-python's fill value")
    assert_same_fill(a.fill_value, want, dtype, "cuzarr's fill value")
    assert_same_values(a[...], np.full((4, 6), want, dtype))
    assert_same_values(a[...], z[...])
    # 2. cuzarr given the JSON form writes the canonical JSON; zarr-python reads it back
    b = cuzarr.create_array(
        str(tmp_path / "cz"), shape=(4, 6), chunks=(2, 3), dtype=dtype, fill_value=form
    )
    b[:2, :3] = np.asarray(want, dtype)  # equal to the fill value: not stored
    assert read_doc(tmp_path / "cz")["fill_value"] == canonical
    assert stored_chunks(tmp_path / "cz") == {}
    z2 = zarr.open_array(str(tmp_path / "cz"), mode="r")
    assert_same_fill(z2.fill_value, want, dtype, "zarr-python's fill value of cuzarr's array")
    assert_same_values(z2[...], np.full((4, 6), want, dtype))


# -- cuzarr's API on arrays zarr-python wrote -------------------------------------------------


@pytest.fixture
def zp_array(tmp_path):
    data = sample("float64")
    z = zarr.create_array(
        store=str(tmp_path / "a"), shape=SHAPE, chunks=CHUNKS, dtype="float64", fill_value=-1.0
    )
    z[...] = data
    return tmp_path / "a", data


SELECTIONS = [
    (slice(2, 19, 3), slice(None, None, 2)),
    (slice(None, None, -3), slice(25, 1, -4)),
    (5, Ellipsis),
    (Ellipsis, 29),
    (slice(13, 15), slice(0, 30, 7)),
]


@pytest.mark.parametrize("sel", SELECTIONS, ids=[str(s) for s in SELECTIONS])
def test_selections_on_zarr_python_array(sel, zp_array):
    path, data = zp_array
    a = cuzarr.open_array(str(path), mode="r")
    assert_same_values(a[sel], data[sel])
    out = np.empty(data[sel].shape, data.dtype)
    result = a.get_basic_selection(sel, out=out)
    assert_same_values(out, data[sel])
    assert result is out or np.shares_memory(result, out)


def test_fancy_selections_on_zarr_python_array(zp_array):
    path, data = zp_array
    a = cuzarr.open_array(str(path), mode="r")
    z = zarr.open_array(str(path), mode="r")
    rows, cols = np.array([19, 0, 7, 7, 13]), np.array([29, 3, 8, 0, 16])
    assert_same_values(a.oindex[rows, cols], data[np.ix_(rows, cols)])
    assert_same_values(a.oindex[rows, cols], z.oindex[rows, cols])
    assert_same_values(a.vindex[rows, cols], data[rows, cols])
    assert_same_values(a.vindex[rows, cols], z.vindex[rows, cols])
    mask = data > 500
    assert_same_values(a.vindex[mask], data[mask])


def test_cuzarr_writes_into_zarr_python_array(zp_array):
    path, data = zp_array
    a = cuzarr.open_array(str(path), mode="r+")
    a[3:12:2, 5:29:3] = 7.5
    data[3:12:2, 5:29:3] = 7.5
    a.oindex[[0, 19], [1, 28]] = -2.0
    data[np.ix_([0, 19], [1, 28])] = -2.0
    assert_same_values(zarr.open_array(str(path), mode="r")[...], data)


def test_resize_and_append_seen_by_zarr_python(zp_array, tmp_path):
    path, data = zp_array
    twin = tmp_path / "twin"
    shutil.copytree(path, twin)
    a = cuzarr.open_array(str(path), mode="r+")
    a.resize((12, 17))
    zarr.open_array(str(twin), mode="r+").resize((12, 17))
    assert zarr.open_array(str(path), mode="r").shape == (12, 17)
    assert sorted(stored_chunks(path)) == sorted(stored_chunks(twin)), (
        "resize left other chunks than zarr-python's"
    )
    assert_same_values(zarr.open_array(str(path), mode="r")[...], data[:12, :17])
    extra = sample("float64", (12, 9), seed=1)
    assert tuple(a.append(extra, axis=1)) == (12, 26)
    z = zarr.open_array(str(path), mode="r")
    assert z.shape == (12, 26)
    assert_same_values(z[...], np.concatenate([data[:12, :17], extra], axis=1))
    a.attrs["added"] = [1, 2]
    a.attrs.update({"more": {"x": None}})
    assert dict(zarr.open_array(str(path), mode="r").attrs) == {
        "added": [1, 2],
        "more": {"x": None},
    }


def test_metadata_rewrite_keeps_what_zarr_python_wrote(tmp_path):
    """cuzarr rewriting zarr.json (an attribute change) keeps every other field's meaning."""
    z = zarr.create_array(
        store=str(tmp_path),
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="float32",
        fill_value=float("nan"),
        filters=[zc.TransposeCodec(order=(1, 0)), znc.Delta(dtype="<f4")],
        compressors=[
            zc.BloscCodec(cname="lz4hc", clevel=7, shuffle="bitshuffle"),
            zc.Crc32cCodec(),
        ],
        chunk_key_encoding={"name": "v2", "separator": "."},
        dimension_names=["y", None],
        attributes={"keep": 1},
    )
    z[...] = sample("float32", finite=True)
    before = read_doc(tmp_path)
    cuzarr.open_array(str(tmp_path), mode="r+").attrs["added"] = True
    after = read_doc(tmp_path)
    assert after["attributes"] == {"keep": 1, "added": True}
    assert_same_metadata(after, {**before, "attributes": after["attributes"]}, 4)
    assert_same_values(zarr.open_array(str(tmp_path), mode="r")[...], z[...])


def test_zarr_python_resize_seen_by_cuzarr(tmp_path):
    data = sample("int32")
    a = cuzarr.create_array(
        str(tmp_path), shape=SHAPE, chunks=CHUNKS, dtype="int32", attributes={"k": 1}
    )
    a[...] = data
    z = zarr.open_array(str(tmp_path), mode="r+")
    z.resize((25, 10))
    z[20:, :] = 4
    z.attrs["k"] = 2
    b = cuzarr.open_array(str(tmp_path), mode="r")
    assert b.shape == (25, 10)
    want = np.zeros((25, 10), "int32")
    want[:20] = data[:, :10]
    want[20:] = 4
    assert_same_values(b[...], want)
    assert dict(b.attrs) == {"k": 2}
