"""Malformed metadata documents of every format (v3 zarr.json, v2 .zarray/.zgroup/.zattrs,
N5 attributes.json) fail with a MetadataError (or another ZarrError) that names the field,
values are never silently coerced, and metadata implying absurd memory fails fast.

The generator-driven test opens seeded random mutations of valid documents in a child
process with a bounded address space, so a case that would allocate without bound shows
up as a failure instead of taking the machine down."""

from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
import sys

import numpy as np
import pytest

import cuzarr
from cuzarr.errors import MetadataError, ZarrError

# -- valid documents of every format ---------------------------------------------------------


def _v3(shape, chunks, data_type, fill, codecs=None, **extra):
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill,
        "codecs": codecs or [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {"a": [1, {"b": None}]},
    }
    doc.update(extra)
    return doc


_GZIP = {"name": "gzip", "configuration": {"level": 1}}
_SHARDED = [{"name": "sharding_indexed", "configuration": {
    "chunk_shape": [2, 4],
    "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, _GZIP],
    "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                     {"name": "crc32c"}],
    "index_location": "end"}}]  # fmt: skip
_STRUCT = {"name": "structured", "configuration": {"fields": [["a", "int32"], ["b", "uint8"]]}}

# fmt: off
V3_ARRAYS = [
    _v3([6, 5], [4, 3], "uint8", 7, [{"name": "bytes"}, _GZIP], dimension_names=["y", None]),
    _v3([5, 4], [2, 4], "float64", "NaN",
        [{"name": "transpose", "configuration": {"order": [1, 0]}},
         {"name": "bytes", "configuration": {"endian": "big"}}]),
    _v3([4], [3], "complex64", ["NaN", 1.5]),
    _v3([5, 4], [3, 3], "int32", -3, chunk_grid={"name": "rectilinear", "configuration": {
        "kind": "inline", "chunk_shapes": [[2, 3], [[2, 2]]]}}),
    _v3([8, 8], [4, 8], "uint16", 1, _SHARDED),
    _v3([3], [2], "string", "", [{"name": "vlen-utf8"}]),
    _v3([3], [2], _STRUCT, "AQAAAAI="),
    _v3([3], [2], "r16", [0, 255]),
    _v3([3], [2], {"name": "numpy.datetime64",
                   "configuration": {"unit": "s", "scale_factor": 1}}, "NaT"),
    _v3([3], [2], "bool", True),
    _v3([3], [2], {"name": "fixed_length_utf32", "configuration": {"length_bytes": 8}}, "ab"),
    _v3([], [], "float32", "0x7fc00001"),
]
# fmt: on
V3_GROUP = {"zarr_format": 3, "node_type": "group", "attributes": {"x": [1, 2.5, "s"]}}


def _zarray(shape, chunks, dtype, fill, compressor=None, filters=None, **extra):
    doc = {
        "zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
        "compressor": compressor, "fill_value": fill, "order": "C", "filters": filters,
        "dimension_separator": ".",
    }  # fmt: skip
    doc.update(extra)
    return doc


V2_ARRAYS = [
    _zarray([6, 5], [4, 3], "<i4", 0, {"id": "zlib", "level": 1}),
    _zarray([5, 4], [2, 4], "<f8", "NaN", None, [{"id": "delta", "dtype": "<f8"}], order="F"),
    _zarray([3], [2], [["a", "<i4"], ["b", "|S2"]], "AQAAAGFi"),
    _zarray([3], [2], "|O", "", None, [{"id": "vlen-utf8"}]),
    _zarray([4], [3], ">u2", None, dimension_separator="/"),
    _zarray([3], [2], "|S3", "YWI=", {"id": "gzip", "level": 1}),
    _zarray([3], [2], "<c8", ["NaN", "-Infinity"]),
]
ZGROUP = {"zarr_format": 2}
ZATTRS = {"units": "m", "nested": {"k": [1, 2]}}

N5_ARRAYS = [
    {"n5": "4.0.0", "dimensions": [5, 6], "blockSize": [3, 4], "dataType": "uint16",
     "compression": {"type": "gzip", "level": -1, "useZlib": False}, "axes": ["x", "y"]},
    {"dimensions": [7], "blockSize": [4], "dataType": "float32",
     "compression": {"type": "raw"}, "units": "nm"},
    {"dimensions": [4, 4], "blockSize": [2, 2], "dataType": "int8",
     "compression": {"type": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1,
                     "blocksize": 0}},
]  # fmt: skip
N5_GROUP = {"n5": "4.0.0", "label": [1, 2]}

# -- stores built from them --------------------------------------------------------------------


def _with_chunks(store, key):
    """``store`` plus the chunks a write of non-fill values stores, so reads decode."""
    with cuzarr.config.set(write_empty_chunks=True):
        a = cuzarr.open_array(store, mode="r+")
        value = {"U": "q", "O": "q", "S": b"q", "b": False}.get(a.dtype.kind, 1)
        if a.dtype.fields is not None or a.dtype.kind in "VMm":
            value = np.zeros((), dtype=a.dtype)[()]
        a[...] = value
    return {k: v for k, v in store.items() if k != key}


def base_stores():
    """(format name, metadata key, document, other keys of the store) of every base case."""
    out = []
    for doc in V3_ARRAYS:
        store = {"zarr.json": json.dumps(doc).encode()}
        out.append(("v3", "zarr.json", doc, _with_chunks(store, "zarr.json")))
    out.append(("v3", "zarr.json", V3_GROUP, {}))
    for doc in V2_ARRAYS:
        store = {".zarray": json.dumps(doc).encode(), ".zattrs": json.dumps(ZATTRS).encode()}
        out.append(("v2", ".zarray", doc, _with_chunks(store, ".zarray")))
    attrs = {".zarray": json.dumps(V2_ARRAYS[0]).encode()}
    out.append(("v2", ".zattrs", ZATTRS, attrs))
    out.append(("v2", ".zgroup", ZGROUP, {".zattrs": json.dumps(ZATTRS).encode()}))
    for doc in N5_ARRAYS:
        store = {"attributes.json": json.dumps(doc).encode()}
        out.append(("n5", "attributes.json", doc, _with_chunks(store, "attributes.json")))
    out.append(("n5", "attributes.json", N5_GROUP, {}))
    return out


# -- mutations -------------------------------------------------------------------------------

DEEP = "\x00deep\x00"  # stands for a list nested 5000 deep (json.dumps cannot write one)
# fmt: off
HOSTILE = [
    None, True, False, 0, -1, 1.5, 2.0, 2**31, 2**63, 2**64, 2**70, -(2**70), "x", "", "NaN",
    "Infinity", "0x7fc00000", "AAAA", [], {}, [1, 2], [[1, 2**40]], {"name": "x"},
    {"name": "x", "configuration": []}, {"must_understand": False}, math.nan, math.inf,
    -math.inf, DEEP, ["x"], [None], [True], [1.5], [-1], [2**64], [0], [2**31, 2],
]
# fmt: on


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*prefix, i))


def _mutate_once(doc, rng):
    path = rng.choice(list(_paths(doc)))
    if not path:
        return rng.choice(HOSTILE) if rng.random() < 0.1 else doc
    parent = doc
    for p in path[:-1]:
        parent = parent[p]
    last = path[-1]
    op = rng.random()
    if op < 0.2:
        del parent[last]
    elif op < 0.3 and isinstance(parent[last], dict):
        parent[last][rng.choice(["bogus", "configuration", "name", "must_understand"])] = (
            rng.choice(HOSTILE)
        )
    elif op < 0.35:
        parent[last] = [parent[last]]
    else:
        parent[last] = copy.deepcopy(rng.choice(HOSTILE))
    return doc


def mutated(doc, rng):
    out = copy.deepcopy(doc)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        out = _mutate_once(out, rng)
    deep = "[" * 5000 + "]" * 5000
    return json.dumps(out).replace(json.dumps(DEEP), deep).encode()


def _open_and_read(fmt, store):
    zarr_format = {"v3": 3, "v2": 2, "n5": "n5"}[fmt]
    node = cuzarr.open(store, mode="r", zarr_format=zarr_format)
    dict(node.attrs)
    if isinstance(node, cuzarr.Array):
        node[(0,) * node.ndim]
        node[...] if node.size < 1000 else None
        node.metadata.to_json()


def run_cases(seed, count):
    """Open ``count`` mutated documents; the cases that raised something other than a
    ZarrError, as ``(case, error)`` lines."""
    rng = random.Random(seed)
    bases = base_stores()
    leaks = []
    with cuzarr.config.set(max_chunk_bytes=2**24, threads=1):
        for case in range(count):
            fmt, key, doc, rest = bases[case % len(bases)]
            raw = mutated(doc, rng)
            try:
                _open_and_read(fmt, {**rest, key: raw})
            except ZarrError:
                pass
            except Exception as e:  # noqa: BLE001 - what the test looks for
                leaks.append(f"{fmt} {key} {raw[:300]!r}: {type(e).__name__}: {e}"[:600])
    return leaks


_CHILD = """
import importlib.util, json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
spec = importlib.util.spec_from_file_location("hostile", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.run_cases({seed}, {count})))
"""


def run_in_child(seed, count, limit=3 * 2**30, timeout=120):
    code = _CHILD.format(limit=limit, path=os.path.abspath(__file__), seed=seed, count=count)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


FUZZ_CASES = int(os.environ.get("CUZARR_HOSTILE_CASES", "300"))


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_documents_raise_only_zarr_errors(seed):
    leaks = run_in_child(seed, FUZZ_CASES)
    assert not leaks, "\n".join(leaks[:20])


# -- targeted cases ----------------------------------------------------------------------------

DEEP_JSON = b"[" * 5000 + b"]" * 5000


def _doc_store(key, doc, **more):
    return {key: json.dumps(doc).encode(), **{k: json.dumps(v).encode() for k, v in more.items()}}


def _open(store, zarr_format=None):
    return cuzarr.open(store, mode="r", zarr_format=zarr_format)


DEEP_DOCUMENT = b'{"x": ' + DEEP_JSON + b"}"  # its x: a list nested 5000 deep


@pytest.mark.parametrize(
    ("key", "others", "zarr_format"),
    [
        ("zarr.json", {}, 3),
        (".zarray", {}, 2),
        (".zgroup", {}, 2),
        (".zattrs", {".zgroup": ZGROUP}, 2),
        ("attributes.json", {}, "n5"),
        (".zmetadata", {".zgroup": ZGROUP}, 2),
    ],
)
def test_deeply_nested_json_names_the_document(key, others, zarr_format):
    store = {key: DEEP_DOCUMENT, **{k: json.dumps(v).encode() for k, v in others.items()}}
    with pytest.raises(MetadataError, match=f"{key}: JSON nested too deeply"):
        node = _open(store, zarr_format)
        dict(node.attrs)
        if key == ".zmetadata":
            cuzarr.open_consolidated(store, zarr_format=2)


def _v3_with(**changes):
    doc = copy.deepcopy(V3_ARRAYS[0])
    for name, value in changes.items():
        if value is _DROP:
            del doc[name]
        else:
            doc[name] = value
    return doc


_DROP = object()
_REGULAR = {"name": "regular", "configuration": {"chunk_shape": [4, 3]}}


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"zarr_format": 3.0}, "zarr_format must be 3"),
        ({"zarr_format": "3"}, "zarr_format must be 3"),
        ({"node_type": ["array"]}, "node_type"),
        ({"shape": [True, 5]}, r"shape\[0\] must be an integer, not True"),
        ({"shape": [6.0, 5]}, r"shape\[0\] must be an integer, not 6.0"),
        ({"shape": 6}, "'shape' must be a list"),
        ({"shape": [2**64, 5]}, r"shape\[0\] must be an integer in 0..2\*\*63-1"),
        ({"shape": [2**40, 2**40]}, "more than 2\\*\\*63-1 elements"),
        ({"shape": [1] * 33}, "33 dimensions"),
        ({"data_type": {"name": "uint8", "configuration": {"x": 1}}}, "takes no configuration"),
        ({"data_type": {"name": "uint8", "configuration": 5}}, "configuration must be an object"),
        ({"data_type": {"name": ["uint8"]}}, "data_type must be a name"),
        ({"data_type": {"name": "fixed_length_utf32", "configuration": {"length_bytes": 2**70}}},
         "length_bytes"),
        ({"data_type": "r99999999999999999999"}, "raw bits"),
        ({"data_type": {"name": "structured", "configuration": {"fields": [["", "int8"]]}}},
         "field name"),
        ({"chunk_grid": {"name": "regular", "configuration": ["chunk_shape"]}},
         "chunk_grid.configuration must be an object"),
        ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": ["3", 2.9]}}},
         r"chunk_shape\[0\] must be an integer, not '3'"),
        ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 2.9]}}},
         r"chunk_shape\[1\] must be an integer, not 2.9"),
        ({"chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, True]}}},
         r"chunk_shape\[1\] must be an integer"),
        ({"chunk_key_encoding": {"name": "default", "configuration": 1}},
         "chunk_key_encoding.configuration must be an object"),
        ({"chunk_key_encoding": {"name": "default", "configuration": {"separator": "-"}}},
         "separator must be '/' or '.'"),
        ({"chunk_key_encoding": {"name": "default", "configuration": {"separator": ["/"]}}},
         "separator must be '/' or '.'"),
        ({"fill_value": None}, "'fill_value' must be a value of the data type, not null"),
        ({"fill_value": _DROP}, "'fill_value' is missing"),
        ({"fill_value": 300}, "fill_value: 300 is out of range for uint8"),
        ({"fill_value": -1}, "fill_value: -1 is out of range for uint8"),
        ({"fill_value": math.nan}, "fill_value: nan is not an integer"),
        ({"fill_value": math.inf}, "fill_value: inf is not an integer"),
        ({"fill_value": "NaN"}, "fill_value: 'NaN' is not an integer"),
        ({"fill_value": 2**70}, "out of range for uint8"),
        ({"codecs": {"name": "bytes"}}, "'codecs' must be a non-empty list"),
        ({"codecs": [5]}, "a codec must be a name or an object"),
        ({"attributes": []}, "attributes must be an object"),
        ({"dimension_names": ["y"]}, "dimension_names has 1 entries, shape has 2"),
        ({"dimension_names": ["y", 5]}, "dimension_names must be a list of strings or nulls"),
        ({"dimension_names": "yx"}, "dimension_names must be a list of strings or nulls"),
        ({"storage_transformers": True}, "'storage_transformers' must be a list"),
    ],
)  # fmt: skip
def test_v3_array_fields_name_the_document_and_field(changes, match):
    store = _doc_store("zarr.json", _v3_with(**changes))
    with pytest.raises(MetadataError, match=match) as info:
        _open(store, 3)
    assert "zarr.json" in str(info.value)


@pytest.mark.parametrize(
    ("data_type", "fill", "match"),
    [
        ("int32", math.nan, "nan is not an integer"),
        ("int64", -math.inf, "-inf is not an integer"),
        ("float32", 1e300, "out of range for float32"),
        ("float16", 2**70, "out of range for float16"),
        ("float64", 2**2000, "out of range for float64"),
        ("float32", "nan", "not a number, NaN, Infinity"),
        ("float32", "0x7fc0", "8 hex digits"),
        ("complex64", [1.0], r"\[real, imag\]"),
        ("complex64", ["NaN", "x"], "'x' is not a number"),
        ("bool", 1, "not true or false"),
        ("r16", [1, True], "neither Base64 nor a list of byte values"),
        ("r16", [1, 2, 3], "2 byte values"),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 2}}, "AAAA", "3 bytes"),
        ({"name": "null_terminated_bytes", "configuration": {"length_bytes": 2}}, "AAAA",
         "do not fit"),
        ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 4}}, "ab", "longer"),
        ({"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}},
         2**63, "int64 count"),
        (_STRUCT, {"a": 1}, "exactly the fields"),
        ({"name": "struct", "configuration": {"fields": [{"name": "a", "data_type": "uint8"}]}},
         {"a": None}, r"fill_value\.a: null"),
        ("bytes", 5, "neither Base64"),
        ("string", 5, "not a string"),
    ],
)  # fmt: skip
def test_v3_fill_values_of_every_type_are_checked(data_type, fill, match):
    doc = _v3([3], [3], data_type, fill)
    if data_type in ("bytes", "string"):
        doc["codecs"] = [{"name": "vlen-bytes" if data_type == "bytes" else "vlen-utf8"}]
    with pytest.raises(MetadataError, match=match):
        _open(_doc_store("zarr.json", doc), 3)


@pytest.mark.parametrize(
    ("key", "doc"),
    [
        ("zarr.json", _v3([3], [3], {"name": "structured", "configuration": {
            "fields": [["a", "string"]]}}, "")),
        (".zarray", _zarray([3], [3], [["a", "|O"]], None)),
        (".zarray", _zarray([3], [3], "<f16", 0)),
    ],
)  # fmt: skip
def test_types_no_zarr_reader_shares_are_unsupported(key, doc):
    with pytest.raises(cuzarr.errors.UnsupportedError, match="fixed size|no Zarr data type"):
        _open(_doc_store(key, doc))


def test_v3_group_fields_are_checked():
    with pytest.raises(MetadataError, match="'attributes' must be an object"):
        _open(_doc_store("zarr.json", {**V3_GROUP, "attributes": [1]}), 3)
    with pytest.raises(cuzarr.errors.UnsupportedError, match="'extra' must be understood"):
        _open(_doc_store("zarr.json", {**V3_GROUP, "extra": {"must_understand": True}}), 3)
    group = _open(_doc_store("zarr.json", {**V3_GROUP, "extra": {"must_understand": False}}), 3)
    assert dict(group.attrs) == V3_GROUP["attributes"]


def _zarray_with(**changes):
    doc = copy.deepcopy(V2_ARRAYS[0])
    for name, value in changes.items():
        if value is _DROP:
            del doc[name]
        else:
            doc[name] = value
    return doc


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"zarr_format": 2.0}, "zarr_format must be 2"),
        ({"zarr_format": True}, "zarr_format must be 2"),
        ({"shape": [2**64, 5]}, r"shape\[0\] must be an integer in 0..2\*\*63-1"),
        ({"shape": [2**62, 5]}, "more than 2\\*\\*63-1 elements"),
        ({"shape": [True, 5]}, r"shape\[0\] must be an integer, not True"),
        ({"chunks": [4, 3.0]}, r"chunks\[1\] must be an integer, not 3.0"),
        ({"chunks": [2**31, 2]}, "max_chunk_bytes"),
        ({"dtype": {"name": "int32"}}, "not a numpy typestring or a list of fields"),
        ({"dtype": "|S0"}, "no bytes"),
        ({"dtype": [["a", "<i4", 3]]}, "bad shape"),
        ({"dtype": [["a", {"x": 1}]]}, r"\[name, type\(, shape\)\]"),
        ({"compressor": "zlib"}, "compressor must be an object with an 'id'"),
        ({"filters": {"id": "delta"}}, "filters must be a list or null"),
        ({"filters": False}, "filters must be a list or null"),
        ({"filters": [["delta"]]}, "each filter must be an object"),
        ({"order": "K"}, "order must be 'C' or 'F'"),
        ({"order": ["C"]}, "order must be 'C' or 'F'"),
        ({"dimension_separator": ""}, "dimension_separator must be '.' or '/'"),
        ({"dimension_separator": False}, "dimension_separator must be '.' or '/'"),
        ({"fill_value": "NaN"}, "'NaN' is not an integer"),
        ({"fill_value": math.nan}, "nan is not an integer"),
        ({"fill_value": 2**40}, "out of range for int32"),
        ({"fill_value": True}, "True is not an integer"),
        ({"fill_value": _DROP}, "'fill_value' is missing"),
    ],
)
def test_v2_zarray_fields_name_the_document_and_field(changes, match):
    store = _doc_store(".zarray", _zarray_with(**changes))
    with pytest.raises(MetadataError, match=match) as info:
        _open(store, 2)
    assert ".zarray" in str(info.value)


@pytest.mark.parametrize(
    ("dtype", "fill", "match"),
    [
        ("|S2", "YWJj", "longer than"),  # Base64 of 3 bytes, or (old writers) text
        ("|S2", "abc", "longer than"),
        ("|S2", [1, 2], "not a |S2 fill value"),
        ("|O", 5, "not a"),
        ("|V2", "AAAA", "3 bytes"),
        ([["a", "<i4"]], "AA==", "1 bytes do not make one"),
        ("<f4", "nan", "not a number"),
        ("<f2", 1e10, "out of range for float16"),
        ("<c8", "NaN", r"\[real, imag\]"),
        ("|b1", 2, "not true or false"),
        ("<M8[s]", "2020", "int64 count"),
    ],
)
def test_v2_fill_values_of_every_type_are_checked(dtype, fill, match):
    filters = [{"id": "vlen-utf8"}] if dtype == "|O" else None
    store = _doc_store(".zarray", _zarray([3], [3], dtype, fill, None, filters))
    with pytest.raises(MetadataError, match=match):
        _open(store, 2)


@pytest.mark.parametrize(
    ("dtype", "fill", "expected"),
    [
        ("<f8", "NaN", math.nan),
        ("<f4", "-Infinity", -math.inf),
        ("<f8", 3, 3.0),
        ("<i2", None, 0),  # v2 null: no fill value, read as the type's default
        ("<i2", 5.0, 5),  # an integral float names the integer exactly
        ("|b1", 1, True),
        ("|S3", "YWI=", b"ab"),
        ("|S3", 0, b""),  # zarr-python 2 wrote 0 for "no value"
        ("|O", 0, ""),
        ("<c16", ["NaN", 2.0], complex(math.nan, 2.0)),
    ],
)
def test_v2_fill_value_forms_writers_use_still_read(dtype, fill, expected):
    filters = [{"id": "vlen-utf8"}] if dtype == "|O" else None
    a = _open(_doc_store(".zarray", _zarray([3], [3], dtype, fill, None, filters)), 2)
    got = a.fill_value
    if isinstance(expected, float | complex) and np.isnan(expected):
        assert np.isnan(got) and (not isinstance(expected, complex) or got.imag == 2.0)
    else:
        assert got == expected


def test_v2_group_documents_are_checked():
    with pytest.raises(MetadataError, match=".zgroup: zarr_format must be 2"):
        _open(_doc_store(".zgroup", {"zarr_format": "2"}), 2)
    with pytest.raises(MetadataError, match=".zattrs: the document must be a JSON object"):
        dict(_open(_doc_store(".zgroup", ZGROUP, **{".zattrs": [1, 2]}), 2).attrs)


_N5 = N5_ARRAYS[0]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"dataType": {"name": "uint16"}}, "'dataType' must be a string"),
        ({"dataType": ["uint16"]}, "'dataType' must be a string"),
        ({"dimensions": [5, 2**64]}, r"dimensions\[1\] must be an integer in 0..2\*\*63-1"),
        ({"dimensions": [5, 6.0]}, r"dimensions\[1\] must be an integer, not 6.0"),
        ({"blockSize": [3, True]}, r"blockSize\[1\] must be an integer, not True"),
        ({"blockSize": [2**20, 2**20]}, "max_chunk_bytes"),
        ({"compression": "gzip"}, "'compression' must be an object"),
        ({"compression": {"type": "gzip", "useZlib": "yes"}}, "useZlib must be true or false"),
        ({"compression": {"type": "zstd", "useChecksums": 1}}, "useChecksums must be true"),
        ({"compression": {"type": "blosc", "cname": 5}}, "cname must be a string"),
        ({"compression": {"type": "gzip", "level": 1.5}}, "level must be an integer"),
        ({"axes": ["x"]}, "'axes' must be a list of 2 strings"),
        ({"axes": ["x", 5]}, "'axes' must be a list of 2 strings"),
        ({"axes": "xy"}, "'axes' must be a list of 2 strings"),
        ({"n5": 4}, "'n5' \\(the version\\) must be a string"),
    ],
)
def test_n5_attributes_name_the_document_and_field(changes, match):
    store = _doc_store("attributes.json", {**_N5, **changes})
    with pytest.raises(MetadataError, match=match) as info:
        _open(store, "n5")
    assert "attributes.json" in str(info.value)


# -- the Python API builds the same metadata and gets the same checks ------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fill_value": 300}, "300 is out of range for uint8"),
        ({"fill_value": -1}, "-1 is out of range for uint8"),
        ({"fill_value": 2**70}, "out of range for uint8"),
        ({"fill_value": 1.5}, "1.5 is not an integer"),
        ({"fill_value": True}, "True is not an integer"),
        ({"fill_value": "7"}, "'7' is not an integer"),
        ({"dtype": "int32", "fill_value": math.nan}, "nan is not an integer"),
        ({"dtype": "int32", "fill_value": np.float64("inf")}, r"inf\) is not an integer"),
        ({"dtype": "float32", "fill_value": 1e300}, "out of range for float32"),
        ({"dtype": "complex64", "fill_value": 1e300j}, "out of range for complex64"),
        ({"dtype": "bool", "fill_value": 2}, "2 is not true or false"),
        ({"dtype": "U2", "fill_value": "abc"}, "longer than"),
        ({"dtype": "S2", "fill_value": b"abc"}, "longer than"),
        ({"dtype": "M8[s]", "fill_value": 2**70}, "not a valid datetime64"),
        ({"dtype": [("a", "u1")], "fill_value": (300,)}, "not a valid"),
        ({"dimension_names": (5,)}, "dimension_names must be a list of str"),
        ({"dimension_names": ("a", "b")}, "dimension_names has 2 entries"),
        ({"shape": (1.5,)}, "shape"),
        ({"chunks": (1.5,)}, "chunks"),
        ({"chunks": (True,)}, "chunks"),
        ({"chunks": (2**31 + 1,)}, "max_chunk_bytes"),
    ],
)
@pytest.mark.parametrize("zarr_format", [3, 2])
def test_create_array_refuses_what_the_type_cannot_hold(kwargs, match, zarr_format):
    if zarr_format == 2 and "dimension_names" in kwargs:
        pytest.skip("v2 has no dimension_names")
    args = {"shape": (4,), "chunks": (2,), "dtype": "uint8", **kwargs}
    store = {}
    with pytest.raises(MetadataError, match=match):
        cuzarr.create_array(store, zarr_format=zarr_format, **args)
    assert not store  # refused before anything was written


@pytest.mark.parametrize(
    ("dtype", "fill", "expected"),
    [
        ("uint8", 255, 255),
        ("uint8", np.uint16(7), 7),
        ("int32", 2.0, 2),
        ("uint64", 2**64 - 1, 2**64 - 1),
        ("float32", 2**70, np.float32(2**70)),
        ("float64", "NaN", math.nan),
        ("bool", 1, True),
        ("complex64", 2, 2 + 0j),
        ("U3", "abc", "abc"),
    ],
)
def test_create_array_keeps_values_the_type_holds(dtype, fill, expected):
    a = cuzarr.create_array({}, shape=(4,), chunks=(2,), dtype=dtype, fill_value=fill)
    if isinstance(expected, float) and math.isnan(expected):
        assert math.isnan(a.fill_value) and math.isnan(a[0])
    else:
        assert a.fill_value == expected and a[0] == expected


def test_the_metadata_model_checks_what_any_caller_gives():
    from cuzarr.codecs.bytes import BytesCodec
    from cuzarr.grid import ChunkKeyEncoding, RegularChunkGrid
    from cuzarr.metadata.v3 import ArrayMetadata

    def meta(shape=(4,), chunks=(2,), names=None):
        return ArrayMetadata(
            shape=shape, dtype=np.dtype("u1"), chunk_grid=RegularChunkGrid(chunks),
            chunk_key_encoding=ChunkKeyEncoding(), fill_value=np.uint8(0),
            codecs=(BytesCodec(None),), dimension_names=names,
        )  # fmt: skip

    assert meta(shape=(np.int64(4),)).shape == (4,) and type(meta().shape[0]) is int
    with pytest.raises(MetadataError, match=r"shape\[0\] must be an integer, not 1.5"):
        meta(shape=(1.5,))
    with pytest.raises(MetadataError, match=r"chunk_shape\[0\] must be an integer, not 1.5"):
        meta(chunks=(1.5,))
    with pytest.raises(MetadataError, match="dimension_names"):
        meta(names=(5,))


# -- sizes that would need absurd memory fail fast -------------------------------------------


def _rectilinear(shape, chunk_shapes):
    return _v3(shape, None, "uint8", 3, chunk_grid={"name": "rectilinear", "configuration": {
        "kind": "inline", "chunk_shapes": chunk_shapes}})  # fmt: skip


_BOUNDED_READ = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import cuzarr
a = cuzarr.open_array({{"zarr.json": json.dumps({doc!r}).encode()}}, mode="r")
assert a[:2, :2].tolist() == [[3, 3], [3, 3]]
print(a.cdata_shape)
"""


@pytest.mark.parametrize("size", [2**27, 2**60])
def test_a_regular_dimension_of_a_rectilinear_grid_is_never_listed(size):
    doc = _rectilinear([size, 4], [1, [[2, 2]]])
    code = _BOUNDED_READ.format(limit=2**31, doc=doc)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"({size}, 2)"


def test_listing_the_chunks_of_a_huge_regular_dimension_is_refused():
    a = _open(_doc_store("zarr.json", _rectilinear([2**40, 4], [1, [[2, 2]]])), 3)
    with pytest.raises(cuzarr.errors.UnsupportedError, match="too many to list"):
        _ = a.chunks
    assert _open(_doc_store("zarr.json", _rectilinear([5, 4], [2, [1, 3]])), 3).chunks == (
        (2, 2, 1),
        (1, 3),
    )


@pytest.mark.parametrize(
    ("chunk_shapes", "match"),
    [
        ([[[1, 2**40]], 4], "lists more than 1048576 chunks"),
        ([[[4, 0]], 4], "non-empty list"),
        ([[], 4], "non-empty list"),
        ([[[4, 2], [1]], 4], r"\[1\] must be a length or \[length, count\]"),
        ([[[4, -1]], 4], r"chunk_shapes\[0\]\[0\]\[1\] must be an integer in 0"),
        ([[[True, 2]], 4], r"chunk_shapes\[0\]\[0\]\[0\] must be an integer, not True"),
        ([[2.5, 8], 4], r"chunk_shapes\[0\]\[0\] must be an integer, not 2.5"),
        ([0, 4], r"chunk_shapes\[0\] must be an integer in 1"),
        ([[2, 2], 4], "add up to 4, less than the array's 10"),
    ],
)
def test_rectilinear_lengths_are_checked(chunk_shapes, match):
    with pytest.raises(MetadataError, match=match):
        _open(_doc_store("zarr.json", _rectilinear([10, 4], chunk_shapes)), 3)


def test_rectilinear_lengths_past_the_end_may_exceed_int64():
    doc = _rectilinear([10, 4], [[3, 7, 2**62, 2**62, 2**62], 4])
    a = _open(_doc_store("zarr.json", doc), 3)
    assert a.cdata_shape == (2, 1) and a[9, 3] == 3
    written = a.metadata.to_json()["chunk_grid"]["configuration"]["chunk_shapes"]
    assert written == [[3, 7, [2**62, 3]], 4]


@pytest.mark.parametrize(
    ("doc", "what"),
    [
        (_v3([4, 4], [2**31, 2], "uint8", 0), "one chunk of shape [2147483648, 2] and data "
         "type uint8 decodes to 4294967296 bytes"),
        (_v3([4], [2**29], "float64", 0), "one chunk of shape [536870912]"),
        (_rectilinear([4, 4], [[2, 2**32], 2]), "one chunk of shape [4294967296, 2]"),
        (_v3([8, 8], [2**16, 2**16], "uint16", 1, [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 4], "codecs": [{"name": "bytes", "configuration": {
                "endian": "little"}}]}}]), "one shard of shape [65536, 65536]"),
        (_v3([8, 8], [4, 8], "uint16", 1, [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2**16, 2**16], "codecs": [{"name": "bytes", "configuration": {
                "endian": "little"}}]}}]), "one inner chunk of shape [65536, 65536]"),
    ],
)  # fmt: skip
def test_a_chunk_too_large_to_decode_is_refused_at_open(doc, what):
    store = _doc_store("zarr.json", doc)
    with pytest.raises(MetadataError) as info:
        _open(store, 3)
    message = str(info.value)
    assert "zarr.json" in message and what in message
    assert "more than max_chunk_bytes (2147483648)" in message
    assert "cuzarr.config.set(max_chunk_bytes=...)" in message


def test_max_chunk_bytes_can_be_raised_and_lowered():
    store = _doc_store("zarr.json", _v3([4, 4], [2**16, 2**16], "uint8", 5))
    with cuzarr.config.set(max_chunk_bytes=2**32):
        a = _open(store, 3)
        assert a[1, 1] == 5
    with cuzarr.config.set(max_chunk_bytes=100), pytest.raises(MetadataError, match="(100)"):
        cuzarr.create_array({}, shape=(20,), chunks=(20,), dtype="float64")
    with pytest.raises(MetadataError, match="max_chunk_bytes"):
        cuzarr.create_array({}, shape=(4,), chunks=(4,), shards=(2**32,), dtype="uint8")


def test_v2_and_n5_absurd_sizes_fail_at_open():
    with pytest.raises(MetadataError, match=".zarray: one chunk of shape"):
        _open(_doc_store(".zarray", _zarray([4], [2**40], "<i4", 0)), 2)
    with pytest.raises(MetadataError, match="attributes.json: one chunk of shape"):
        _open(_doc_store("attributes.json", {**_N5, "blockSize": [2**20, 2**20]}), "n5")
    a = _open(_doc_store(".zarray", _zarray([2**61, 2], [1, 1], "|u1", 0)), 2)
    assert a.size == 2**62 and a[2**61 - 1, 1] == 0


def test_metadata_that_cannot_be_written_as_json_says_so():
    from cuzarr.metadata.v2 import dump_json_v2
    from cuzarr.metadata.v3 import dump_json

    for dump in (dump_json, dump_json_v2):
        with pytest.raises(MetadataError, match="cannot be written as JSON"):
            dump({"attributes": {"x": math.nan}})
        with pytest.raises(MetadataError, match="cannot be written as JSON"):
            dump({"attributes": {"x": object()}})


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zero_fills_a_record_with_zeros_as_zarr_python_does(zarr_format):
    dtype = np.dtype([("a", "<i4"), ("b", "<f8")])
    a = cuzarr.create_array({}, shape=(2,), dtype=dtype, fill_value=0, zarr_format=zarr_format)
    assert a.fill_value == np.zeros((), dtype)[()]
    np.testing.assert_array_equal(a[...], np.zeros(2, dtype))
    for bad in (1, True, 0.5):
        with pytest.raises(MetadataError):
            cuzarr.create_array({}, shape=(2,), dtype=dtype, fill_value=bad)
