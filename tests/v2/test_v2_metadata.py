"""The v2 documents and their conversion to the internal (v3-shaped) metadata: dtypes,
fill values, codec placement, and the v3 names of the data types v2 arrays bring."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cuzarr.codecs.bytes import BytesCodec
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.codecs.vlen import VlenBytesCodec, VlenUTF8Codec
from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.metadata.convert import from_zarray, to_zarray
from cuzarr.metadata.dtypes import (
    BYTES,
    STRING,
    as_dtype,
    data_type_to_v3,
    dtype_to_v2,
    parse_data_type_v3,
    parse_dtype_v2,
)
from cuzarr.metadata.fill import (
    encode_fill_value,
    encode_fill_value_v2,
    parse_fill_value,
    parse_fill_value_v2,
)
from cuzarr.metadata.v2 import parse_zarray


def zarray(**changes):
    doc = {
        "zarr_format": 2,
        "shape": [10, 6],
        "chunks": [4, 3],
        "dtype": "<i4",
        "compressor": None,
        "fill_value": 0,
        "order": "C",
        "filters": None,
    }
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    "typestr",
    ["|b1", "<i2", ">u8", "<f2", ">c16", "<M8[10us]", ">m8[D]", "<U7", ">U1", "|S5", "|V3", "|O",
     [["a", "<i4"], ["b", ">f8", [2, 3]], ["c", [["d", "|u1"], ["e", "<U2"]]]]],
)  # fmt: skip
def test_v2_dtypes_round_trip(typestr):
    assert dtype_to_v2(parse_dtype_v2(typestr)) == typestr


def test_v2_dtype_errors():
    with pytest.raises(MetadataError, match="typestring"):
        parse_dtype_v2("<x4")
    with pytest.raises(MetadataError, match="field"):
        parse_dtype_v2([["a"]])


@pytest.mark.parametrize(
    ("json_value", "dtype", "check"),
    [
        ("NaN", "<f8", lambda v: math.isnan(v)),
        ("Infinity", ">f4", lambda v: v == math.inf),
        ("-Infinity", "<f2", lambda v: v == -math.inf),
        (3, "<f8", lambda v: v == 3.0),
        ([1.0, "NaN"], "<c8", lambda v: v.real == 1 and math.isnan(v.imag)),
        (-9223372036854775808, ">M8[s]", lambda v: np.isnat(v)),
        ("NaT", "<m8[s]", lambda v: np.isnat(v)),
        (12, "<M8[D]", lambda v: v == np.datetime64(12, "D")),
        ("abc", "<U4", lambda v: v == "abc"),
        ("YWI=", "|S3", lambda v: v == b"ab"),
        ("YWIA", "|S3", lambda v: v == b"ab"),
        (0, "|S3", lambda v: v == b""),  # zarr-python 2's legacy "no value"
        ("AQI=", "|V2", lambda v: v.tobytes() == b"\x01\x02"),
        ("AQAAAEAAAAA=", [["a", "<i4"], ["b", ">f4"]], lambda v: v["a"] == 1 and v["b"] == 2.0),
        (1, "|b1", lambda v: v == True),  # noqa: E712
        (None, "<i4", lambda v: v is None),
    ],
)
def test_v2_fill_values(json_value, dtype, check):
    dt = parse_dtype_v2(dtype)
    value = parse_fill_value_v2(json_value, dt)
    assert check(value)
    if value is not None:
        again = parse_fill_value_v2(encode_fill_value_v2(value, dt), dt)
        assert np.asarray(again, dtype=dt).tobytes() == np.asarray(value, dtype=dt).tobytes()


def test_v2_fill_encodings_are_zarr_pythons():
    assert encode_fill_value_v2(np.float64("nan"), np.dtype("<f8")) == "NaN"
    assert encode_fill_value_v2(np.float32("-inf"), np.dtype(">f4")) == "-Infinity"
    assert encode_fill_value_v2(np.complex64(1 + 2j), np.dtype("<c8")) == [1.0, 2.0]
    assert encode_fill_value_v2(np.datetime64("NaT"), np.dtype(">M8[ns]")) == -(2**63)
    assert encode_fill_value_v2("x", STRING) == "x"
    assert encode_fill_value_v2(b"\x00", BYTES) == "AA=="


def test_conversion_moves_v2_facts_into_codecs():
    meta = from_zarray(parse_zarray(zarray(
        dtype=">i4", order="F", dimension_separator="/",
        filters=[{"id": "delta", "dtype": ">i4", "astype": ">i2"}, {"id": "shuffle", "elementsize": 2}],
        compressor={"id": "zlib", "level": 3},
    )), {"k": 1})  # fmt: skip
    names = [c.name for c in meta.codecs]
    assert names == ["transpose", "numcodecs.delta", "bytes", "numcodecs.shuffle", "numcodecs.zlib"]
    assert meta.codecs[0] == TransposeCodec((1, 0))
    assert meta.codecs[2] == BytesCodec("big")  # the byte order of what delta hands on
    assert meta.dtype == np.dtype("i4") and meta.attributes == {"k": 1}
    assert meta.chunk_key_encoding.encode((1, 2)) == "1/2"
    back = to_zarray(meta).to_json()
    assert back["dtype"] == ">i4" and back["order"] == "F" and back["dimension_separator"] == "/"
    assert back["filters"] == [
        {"id": "delta", "dtype": ">i4", "astype": ">i2"},
        {"id": "shuffle", "elementsize": 2},
    ]
    assert back["compressor"] == {"id": "zlib", "level": 3}


def test_filters_without_a_compressor_stay_filters():
    doc = zarray(filters=[{"id": "shuffle", "elementsize": 4}], compressor=None)
    back = to_zarray(from_zarray(parse_zarray(doc), {})).to_json()
    assert back["filters"] == [{"id": "shuffle", "elementsize": 4}] and back["compressor"] is None


@pytest.mark.parametrize(
    ("changes", "serializer", "dtype"),
    [
        ({"filters": [{"id": "vlen-utf8"}], "fill_value": ""}, VlenUTF8Codec, STRING),
        ({"filters": [{"id": "vlen-bytes"}], "fill_value": None}, VlenBytesCodec, BYTES),
        ({"filters": None, "compressor": {"id": "vlen-utf8"}}, VlenUTF8Codec, STRING),
    ],
)
def test_object_codec_becomes_the_serializer(changes, serializer, dtype):
    meta = from_zarray(parse_zarray(zarray(dtype="|O", **changes)), {})
    assert isinstance(meta.codecs[0], serializer)
    assert meta.dtype == dtype and meta.dtype.metadata == dtype.metadata
    assert to_zarray(meta).to_json()["filters"][0]["id"] == serializer.v2_id


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"dtype": "|O", "filters": None}, MetadataError, "needs an object codec"),
        (
            {"dtype": "|O", "filters": [{"id": "msgpack2"}]},
            UnsupportedError,
            "object codec 'msgpack2'",
        ),
        (
            {"filters": [{"id": "shuffle"}, {"id": "delta", "dtype": "<i4"}]},
            UnsupportedError,
            "bytes filter before",
        ),
        (
            {"dtype": ">i4", "filters": [{"id": "delta", "dtype": "<i4"}]},
            UnsupportedError,
            "byte orders differ",
        ),
        ({"compressor": {"id": "delta", "dtype": "<i4"}}, UnsupportedError, "not a bytes->bytes"),
    ],
)
def test_conversion_errors_name_the_problem(changes, error, message):
    with pytest.raises(error, match=message):
        from_zarray(parse_zarray(zarray(**changes)), {}, "x/.zarray")


def test_empty_filters_list_reads_as_null():
    assert parse_zarray(zarray(filters=[])).filters == ()


# -- v3 names of the types v2 arrays bring --------------------------------------------------


@pytest.mark.parametrize(
    ("data_type", "dtype"),
    [
        ({"name": "numpy.datetime64", "configuration": {"unit": "us", "scale_factor": 10}}, "M8[10us]"),
        ({"name": "numpy.timedelta64", "configuration": {"unit": "s", "scale_factor": 1}}, "m8[s]"),
        ({"name": "fixed_length_utf32", "configuration": {"length_bytes": 12}}, "U3"),
        ({"name": "null_terminated_bytes", "configuration": {"length_bytes": 3}}, "S3"),
        ({"name": "raw_bytes", "configuration": {"length_bytes": 2}}, "V2"),
        ({"name": "structured", "configuration": {"fields": [["a", "int32"], ["b", "float64"]]}},
         [("a", "<i4"), ("b", "<f8")]),
        ({"name": "struct", "configuration": {"fields": [{"name": "a", "data_type": "uint8"}]}}, [("a", "u1")]),
        ("string", "O"),
        ("bytes", "O"),
        ("variable_length_bytes", "O"),
    ],
)  # fmt: skip
def test_v3_data_types_round_trip_with_their_spelling(data_type, dtype):
    parsed = parse_data_type_v3(data_type)
    assert parsed == np.dtype(dtype)
    assert data_type_to_v3(parsed) == data_type


def test_v3_fill_values_of_the_extra_types():
    dt = parse_data_type_v3(
        {"name": "numpy.datetime64", "configuration": {"unit": "s", "scale_factor": 1}}
    )
    assert np.isnat(parse_fill_value("NaT", dt))
    assert encode_fill_value(parse_fill_value("NaT", dt), dt) == -(2**63)
    struct = parse_data_type_v3({"name": "struct", "configuration": {"fields": [
        {"name": "x", "data_type": "float32"}, {"name": "y", "data_type": "int8"}]}})  # fmt: skip
    value = parse_fill_value({"x": "NaN", "y": -1}, struct)
    assert math.isnan(value["x"]) and value["y"] == -1
    assert encode_fill_value(value, struct) == {"x": "NaN", "y": -1}
    structured = parse_data_type_v3(
        {"name": "structured", "configuration": {"fields": [["y", "int8"]]}}
    )
    assert encode_fill_value(parse_fill_value("/w==", structured), structured) == "/w=="
    assert (
        parse_fill_value("AAE=", BYTES) == b"\x00\x01"
        and encode_fill_value(b"\x00\x01", BYTES) == "AAE="
    )
    assert parse_fill_value("eHk=", np.dtype("S3")) == b"xy"


def test_user_dtype_spellings():
    assert as_dtype(str) is STRING and as_dtype("string") is STRING and as_dtype(object) is STRING
    assert as_dtype(bytes) is BYTES and as_dtype("bytes") is BYTES
    assert as_dtype(np.dtypes.StringDType()) is STRING
    assert as_dtype(">M8[ns]") == np.dtype("M8[ns]")
    mixed = as_dtype([("a", "<i4"), ("b", ">f8")])
    assert mixed.fields["b"][0] == np.dtype("f8")  # v3 holds one byte order: native
    with pytest.raises(UnsupportedError, match="subarray"):
        data_type_to_v3(np.dtype([("a", "<i4", (2,))]))
    with pytest.raises(UnsupportedError, match="dtype=str"):
        data_type_to_v3(np.dtype(object))
