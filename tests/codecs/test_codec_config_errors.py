"""Malformed codec configurations: every registered codec, many bad configurations each.

A bad configuration raises MetadataError naming the codec (or UnknownCodecError for a
nested codec that does not exist), never another exception, and is never coerced into a
good one: ``true`` is not 1, ``1.9`` and ``"3"`` are not integers, an object is not a list.
"""

from __future__ import annotations

import json

import pytest

import cuzarr
from cuzarr.codecs.registry import (
    _BY_V3_NAME,
    _load_builtins,
    codec_class_v3,
    codec_from_v2,
    codec_from_v3,
)
from cuzarr.errors import MetadataError, UnknownCodecError

HUGE = 2**64
BYTES = {"name": "bytes", "configuration": {"endian": "little"}}

# Bad values of an integer field, beyond its range.
NOT_INTEGERS = [True, False, 1.9, 2.0, "3", None, [1], {"a": 1}, float("inf"), float("nan")]

# Per codec (its canonical v3 name): configurations that must be refused.
BAD: dict[str, list[dict]] = {
    "blosc": [
        *({"clevel": v} for v in [*NOT_INTEGERS, -1, 10, HUGE]),
        *({"blocksize": v} for v in [*NOT_INTEGERS, -1, HUGE]),
        *({"typesize": v} for v in [True, 1.9, "4", 0, -1, HUGE, [4]]),
        *({"cname": v} for v in ["zip", "", None, 5, ["lz4"], {"a": 1}]),
        *({"shuffle": v} for v in ["byte", None, True, 1.0, 3, -2, ["shuffle"], {"a": 1}]),
    ],
    "bytes": [{"endian": v} for v in ["middle", "", 5, True, ["little"], {"a": 1}]],
    "crc32c": [{"location": v} for v in ["middle", None, 5, True, ["end"]]],
    "gzip": [{"level": v} for v in [*NOT_INTEGERS, -2, 10, HUGE]],
    "n5_default": [
        {"codecs": v} for v in ["bytes", 5, True, {"name": "bytes"}, [5], [{"name": "nope"}]]
    ],
    "n5_lz4": [{"block_size": v} for v in [*NOT_INTEGERS, 0, 63, 2**26, HUGE]],
    "numcodecs.astype": [
        {},  # encode_dtype is required
        *({"encode_dtype": v} for v in [None, "not a dtype", "O", "S4", [], {}, 5, True]),
        {"encode_dtype": "<f4", "decode_dtype": ["<f8"]},
    ],
    "numcodecs.bitround": [{"keepbits": v} for v in [*NOT_INTEGERS, -1, 53, HUGE]],
    "numcodecs.bz2": [{"level": v} for v in [*NOT_INTEGERS, 0, 10, HUGE]],
    "numcodecs.categorize": [
        {"labels": v} for v in [None, "ab", [1, 2], [None], {"a": "b"}, True]
    ]
    + [{"labels": ["a"], "dtype": v} for v in ["<i4", None, 5, [], "nonsense"]]
    + [{"labels": ["a"], "astype": v} for v in ["<i4", "<f4", None, 5, [], "nonsense"]],
    "numcodecs.delta": [
        *({"dtype": v} for v in ["not a dtype", "O", "U3", [], {}, [["a", "<i4"]], 5, True]),
        *({"astype": v} for v in ["not a dtype", [], {}, 5]),
    ],
    "numcodecs.fixedscaleoffset": [
        *({"offset": v} for v in ["1", None, True, [1], float("inf"), float("nan"), HUGE]),
        *({"scale": v} for v in ["10", None, False, 0, 0.0, float("inf"), float("nan"), HUGE]),
        {"dtype": []},
    ],
    "numcodecs.lz4": [{"acceleration": v} for v in [*NOT_INTEGERS, 2**31, -(2**31) - 1, HUGE]],
    "numcodecs.lzma": [
        *({"format": v} for v in [True, False, 1.0, "1", 4, -1, None, HUGE]),
        *({"check": v} for v in [True, 1.0, "4", 2, 11, None, HUGE]),
        *({"preset": v} for v in [True, 1.5, "6", -1, 10, HUGE, [6]]),
        {"format": 3},  # a raw stream needs filters
        *(
            {"format": 3, "filters": v}
            for v in [
                [],
                "lzma2",
                {"id": 33},
                [33],
                [{"id": "33"}],
                [{"id": True}],
                [{"id": 12345}],
                [{"id": [33]}],
                [{"nope": 1}],
                [{"id": 33, "dict_size": 1.5}],
                [{"id": 33, "dict_size": True}],
                [{"id": 33, "dict_size": 0}],
                [{"id": 33, "dict_size": HUGE}],
                [{"id": 33, "dict_size": "1m"}],
                [{"id": 33, "lc": 9}],
                [{"id": 33, "preset": 42}],
                [{"id": 33, "bogus": 1}],
                [{"id": 3, "dist": 0}],
            ]
        ),
    ],
    "numcodecs.packbits": [{"bogus": 1}],
    "numcodecs.quantize": [
        {},  # digits is required
        *({"digits": v} for v in [*NOT_INTEGERS, 301, -301, HUGE]),
        {"digits": 2, "dtype": "<i4"},
    ],
    "numcodecs.shuffle": [{"elementsize": v} for v in [True, 1.9, "4", -1, HUGE, [4]]],
    "numcodecs.zlib": [{"level": v} for v in [*NOT_INTEGERS, -2, 10, HUGE]],
    "sharding_indexed": [
        {},  # chunk_shape is required
        *(
            {"chunk_shape": v}
            for v in [None, 4, "4", "x", [2.9], ["3"], [True], [0], [-1], [HUGE], {"a": 1}]
        ),
        *({"chunk_shape": [4], "codecs": v} for v in ["bytes", 5, {"name": "bytes"}, [7]]),
        {"chunk_shape": [4], "codecs": [{"name": "no such codec"}]},
        *({"chunk_shape": [4], "index_codecs": v} for v in ["bytes", 5, {}, [7]]),
        *({"chunk_shape": [4], "index_location": v} for v in ["middle", None, 1, True, ["end"]]),
    ],
    "transpose": [
        {},  # order is required
        *(
            {"order": v}
            for v in [
                None,
                5,
                "C",
                "F",
                [1.9, 0],
                ["0"],
                [True, 0],
                [1, 1],
                [0, 2],
                [-1, 0],
                [HUGE, 0],
                [0, float("inf")],
                {"a": 1},
                [[0]],
            ]
        ),
    ],
    "vlen-bytes": [{"bogus": 1}],
    "vlen-utf8": [{"bogus": 1}],
    "zstd": [
        *({"level": v} for v in [*NOT_INTEGERS, 23, -131073, HUGE]),
        *({"checksum": v} for v in [1, 0, "true", None, [True]]),
    ],
}
# Not a configuration at all, or one with a field no codec has.
NOT_OBJECTS = [[], [1], "x", 5, True, None]
_load_builtins()
NAMES = sorted({cls.name for cls in _BY_V3_NAME.values()})


def _refused(parse, doc) -> None:
    try:
        codec = parse(doc)
    except (MetadataError, UnknownCodecError):
        return
    except Exception as e:  # noqa: BLE001 - what the test looks for
        pytest.fail(f"{json.dumps(doc, default=str)}: {type(e).__name__}: {e}")
    pytest.fail(f"{json.dumps(doc, default=str)} was accepted as {codec!r}")


def test_every_codec_has_bad_configurations():
    assert sorted(BAD) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_bad_configurations_are_metadata_errors(name):
    cls = codec_class_v3(name)
    for config in [*BAD[name], {"bogus": 1}]:
        _refused(codec_from_v3, {"name": name, "configuration": config})
        if cls.v2_id is not None:  # the same fields in the v2 form
            _refused(codec_from_v2, {"id": cls.v2_id, **config})
    for config in NOT_OBJECTS:
        _refused(codec_from_v3, {"name": name, "configuration": config})
    for must_understand in [1, "yes", None]:
        _refused(codec_from_v3, {"name": name, "must_understand": must_understand})


@pytest.mark.parametrize(
    "codec",
    [
        {"name": "transpose", "configuration": {"order": [1, 0]}},  # an array of rank 3
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2]}},  # rank 2
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [4, 3, 4]}},  # 3 in 4
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [8, 4, 4]}},  # 8 > 4
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2, 2], "codecs": []}},
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2, 2], "codecs": [
            {"name": "zstd"}, BYTES]}},  # fmt: skip
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 2, 2],
            "index_codecs": [BYTES, {"name": "zstd"}]}},  # an index of no fixed size; fmt: skip
        {"name": "n5_default", "configuration": {"codecs": [{"name": "gzip"}]}},
    ],
)
def test_codecs_unfit_for_the_array_are_metadata_errors(codec):
    doc = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [8, 8, 8],
        "data_type": "uint16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [4, 4, 4]}},
        "chunk_key_encoding": {"name": "default"},
        "fill_value": 0,
        "codecs": [codec] if codec["name"] != "transpose" else [codec, BYTES],
    }
    with pytest.raises(MetadataError, match=codec["name"]):
        cuzarr.open_array({"zarr.json": json.dumps(doc).encode()})


@pytest.mark.parametrize(
    "doc",
    [
        {"name": "transpose", "configuration": {"order": [2, 0, 1]}},
        {"name": "sharding_indexed", "configuration": {"chunk_shape": [2, 4]}},
        {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 0, "shuffle": "noshuffle",
            "typesize": 2, "blocksize": 0}},  # fmt: skip
        {"name": "numcodecs.blosc", "configuration": {"shuffle": -1}},
        {"name": "numcodecs.lzma", "configuration": {"format": 3, "filters": [
            {"id": 3, "dist": 4}, {"id": 33, "preset": 1, "dict_size": 1 << 20}]}},  # fmt: skip
        {"name": "numcodecs.fixedscaleoffset", "configuration": {"offset": 1.5, "scale": -10,
            "dtype": "<f8", "astype": "<i4"}},  # fmt: skip
        {"name": "numcodecs.quantize", "configuration": {"digits": -2, "dtype": "<f4"}},
        {"name": "numcodecs.lz4", "configuration": {"acceleration": 0}},
    ],
)
def test_good_configurations_still_parse(doc):
    assert codec_from_v3(doc).to_v3()["name"] == doc["name"]
