"""Data types and every fill-value JSON form."""

import math

import numpy as np
import pytest

from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.metadata.dtypes import as_dtype, data_type_to_v3, parse_data_type_v3
from cuzarr.metadata.fill import encode_fill_value, fill_value_for, parse_fill_value

V3_TYPES = [
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128",
]


@pytest.mark.parametrize("name", V3_TYPES)
def test_core_types_round_trip(name):
    dtype = parse_data_type_v3(name)
    assert dtype.byteorder in "=|"
    assert data_type_to_v3(dtype) == name
    assert as_dtype(name) == dtype
    assert as_dtype(dtype.newbyteorder(">")) == dtype  # byte order lives in the codec


def test_raw_bits_and_aliases():
    assert parse_data_type_v3("r24") == np.dtype("V3")
    assert data_type_to_v3(np.dtype("V2")) == "r16"
    assert parse_data_type_v3("complex_float32") == np.dtype("c8")
    with pytest.raises(MetadataError, match="multiple of 8"):
        parse_data_type_v3("r12")
    with pytest.raises(UnsupportedError, match="not supported"):
        parse_data_type_v3("float128x")


@pytest.mark.parametrize(
    ("json_value", "dtype", "check"),
    [
        ("NaN", "f4", lambda v: math.isnan(v)),
        ("Infinity", "f8", lambda v: v == math.inf),
        ("-Infinity", "f2", lambda v: v == -math.inf),
        ("0x7fc00000", "f4", lambda v: math.isnan(v)),
        ("0x3ff0000000000000", "f8", lambda v: v == 1.0),
        ("0x3c00", "f2", lambda v: v == 1.0),
        (1.5, "f4", lambda v: v == 1.5),
        (-3, "i2", lambda v: v == -3),
        (18446744073709551615, "u8", lambda v: v == np.uint64(2**64 - 1)),
        (True, "bool", lambda v: v == True),  # noqa: E712
        ([1.0, "NaN"], "c8", lambda v: v.real == 1.0 and math.isnan(v.imag)),
        (["Infinity", -2.0], "c16", lambda v: v.real == math.inf and v.imag == -2.0),
        ([1, 2, 3], "V3", lambda v: bytes(v.tobytes()) == b"\x01\x02\x03"),
    ],
)
def test_fill_value_forms(json_value, dtype, check):
    value = parse_fill_value(json_value, np.dtype(dtype))
    assert check(value)
    # and back to JSON, then parsed again to the same bits
    again = parse_fill_value(encode_fill_value(value, np.dtype(dtype)), np.dtype(dtype))
    assert np.asarray(again).tobytes() == np.asarray(value).tobytes()


def test_nan_payload_survives_as_hex():
    odd_nan = np.array(0x7FC00001, dtype="u4").view("f4")[()]
    assert encode_fill_value(odd_nan, np.dtype("f4")) == "0x7fc00001"
    assert encode_fill_value(np.float32("nan"), np.dtype("f4")) == "NaN"


@pytest.mark.parametrize(
    ("json_value", "dtype", "message"),
    [
        (1.5, "i4", "not an integer"),
        (300, "u1", "out of range"),
        ("nan", "f4", "not a number"),
        ("0x7fc0", "f4", "8 hex digits"),
        (1, "bool", "true or false"),
        ([1.0], "c8", "real, imag"),
        ([1, 2], "V3", "3 byte values"),
        (True, "i4", "not an integer"),
    ],
)
def test_bad_fill_values_name_the_problem(json_value, dtype, message):
    with pytest.raises(MetadataError, match=message):
        parse_fill_value(json_value, np.dtype(dtype))


def test_user_fill_values():
    assert fill_value_for(None, np.dtype("f4")) == 0
    assert math.isnan(fill_value_for(float("nan"), np.dtype("f8")))
    assert math.isnan(fill_value_for("NaN", np.dtype("f8")))
    assert fill_value_for(7, np.dtype("u2")) == 7
