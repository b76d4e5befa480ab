"""The public API with Zarr v2: creating, detecting, choosing the format, groups,
attributes, and the errors a user meets (each names the key and what was expected)."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from v2_helpers import assert_same, read_json

import cuzarr
from cuzarr.codecs.blosc import BloscCodec
from cuzarr.codecs.crc32c import Crc32cCodec
from cuzarr.codecs.filters import DeltaCodec
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.errors import MetadataError, NodeNotFoundError, UnknownCodecError, UnsupportedError

numcodecs = pytest.importorskip("numcodecs")


def test_v2_arrays_and_groups_are_v2_documents(tmp_path):
    root = cuzarr.create_group(str(tmp_path), zarr_format=2, attributes={"a": 1})
    arr = root.create_array("g/x", shape=(5,), chunks=(2,), dtype="<u2")  # inherits v2
    arr[:] = np.arange(5)
    assert sorted(p.name for p in tmp_path.rglob(".z*")) == [
        ".zarray",
        ".zattrs",
        ".zgroup",
        ".zgroup",
    ]
    assert not list(tmp_path.rglob("zarr.json"))
    assert read_json(tmp_path / ".zattrs") == {"a": 1}
    assert read_json(tmp_path / "g" / ".zgroup") == {"zarr_format": 2}
    assert sorted((tmp_path / "g" / "x").iterdir())[-1].name == "2"  # v2 keys: no "c/"
    assert arr.zarr_format == 2 and root["g"].zarr_format == 2


def test_default_zarr_format_from_config(tmp_path):
    with cuzarr.config.set(default_zarr_format=2):
        g = cuzarr.create_group(str(tmp_path / "g"))
        a = cuzarr.create_array(str(tmp_path / "a"), shape=(2,), dtype="i1")
    assert g.zarr_format == 2 and a.zarr_format == 2
    assert (tmp_path / "a" / ".zarray").exists()
    assert cuzarr.create_array(str(tmp_path / "b"), shape=(2,), dtype="i1").zarr_format == 3


def test_format_detection_and_forcing(tmp_path):
    cuzarr.create_array(str(tmp_path / "v2"), data=np.arange(4), chunks=(2,), zarr_format=2)
    cuzarr.create_array(str(tmp_path / "v3"), data=np.arange(4), chunks=(2,))
    assert cuzarr.open(str(tmp_path / "v2"), mode="r").zarr_format == 2
    assert cuzarr.open_array(str(tmp_path / "v2"), mode="r", zarr_format=2).zarr_format == 2
    with pytest.raises(NodeNotFoundError, match="zarr_format=2"):
        cuzarr.open(str(tmp_path / "v2"), mode="r", zarr_format=3)
    with pytest.raises(NodeNotFoundError, match="Zarr v3 metadata"):
        cuzarr.open(str(tmp_path / "v3"), mode="r", zarr_format=2)


def test_a_store_with_both_prefers_v3_unless_told(tmp_path):
    cuzarr.create_array(
        str(tmp_path), data=np.arange(6), chunks=(4,), zarr_format=2, attributes={"from": "v2"}
    )
    cuzarr.migrate(str(tmp_path))
    doc = read_json(tmp_path / "zarr.json")
    doc["attributes"] = {"from": "v3"}
    (tmp_path / "zarr.json").write_text(json.dumps(doc))
    assert cuzarr.open(str(tmp_path), mode="r").attrs["from"] == "v3"
    v2 = cuzarr.open(str(tmp_path), mode="r", zarr_format=2)
    assert v2.zarr_format == 2 and v2.attrs["from"] == "v2"
    assert_same(v2[...], cuzarr.open_array(str(tmp_path), mode="r")[...])


def test_v2_group_members_ignore_folders_that_are_no_nodes(tmp_path):
    root = cuzarr.create_group(str(tmp_path), zarr_format=2)
    root.create_array("x", shape=(2,), dtype="f4")
    root.create_group("y")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file.txt").write_text("hi")
    cuzarr.create_array(str(tmp_path), name="v3child", shape=(1,), dtype="i1", zarr_format=3)
    assert sorted(cuzarr.open_group(str(tmp_path), mode="r")) == ["x", "y"]  # v2 members only
    del root["y"]
    assert sorted(root) == ["x"]


def test_v2_attributes_live_in_zattrs(tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(2,), dtype="i1", zarr_format=2)
    assert not (tmp_path / ".zattrs").exists()
    a.attrs["units"] = "m"
    assert read_json(tmp_path / ".zattrs") == {"units": "m"}
    del a.attrs["units"]
    assert not (tmp_path / ".zattrs").exists()
    assert cuzarr.open_array(str(tmp_path)).attrs.asdict() == {}


def test_zero_dimensional_v2_array(tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(), dtype="<f8", zarr_format=2, fill_value=1.5)
    assert a[()] == 1.5
    a[()] = 2.5
    assert (tmp_path / "0").exists()
    assert cuzarr.open_array(str(tmp_path), mode="r")[()] == 2.5


def test_big_endian_user_dtype_is_kept_in_v2(tmp_path):
    a = cuzarr.create_array(
        str(tmp_path), data=np.arange(3, dtype=">i4"), chunks=(3,), zarr_format=2, compressors=None
    )
    assert read_json(tmp_path / ".zarray")["dtype"] == ">i4"
    assert (tmp_path / "0").read_bytes() == np.arange(3, dtype=">i4").tobytes()
    assert a.dtype == np.dtype("i4")  # in memory: native


def test_one_codec_object_for_both_formats(tmp_path):
    codec = BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle")
    spellings = [
        codec,
        numcodecs.Blosc("zstd", 5, 2),
        {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2},
        {"name": "blosc", "configuration": {"cname": "zstd", "clevel": 5, "shuffle": "bitshuffle"}},
    ]
    docs = []
    for i, c in enumerate(spellings):
        for fmt in (2, 3):
            a = cuzarr.create_array(
                str(tmp_path / f"{i}-{fmt}"),
                data=np.arange(50),
                chunks=(10,),
                zarr_format=fmt,
                filters=[DeltaCodec()],
                compressors=[c],
            )
            assert_same(a[...], np.arange(50))
        docs.append(read_json(tmp_path / f"{i}-2" / ".zarray")["compressor"])
    assert all(
        d == {"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2, "blocksize": 0}
        for d in docs
    )
    assert (
        read_json(tmp_path / "0-3" / "zarr.json")["codecs"][-1]["configuration"]["shuffle"]
        == "bitshuffle"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(filters=[TransposeCodec((0,))]), "order='F'"),
        (dict(compressors=[Crc32cCodec(), {"id": "zlib"}]), "one compressor"),
        (
            dict(
                serializer={
                    "name": "sharding_indexed",
                    "configuration": {
                        "chunk_shape": [5],
                        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
                    },
                }
            ),
            "sharding_indexed",
        ),
        (dict(shards=(10,)), "no shards"),
        (dict(dimension_names=["x"]), "dimension_names"),
        (dict(chunk_key_encoding={"name": "default"}), "'v2' chunk key encoding"),
        (dict(compressors=[{"id": "delta", "dtype": "<i4"}]), "not a bytes->bytes codec"),
    ],
)
def test_what_v2_cannot_express_fails_clearly(kwargs, message):
    with pytest.raises(UnsupportedError, match=message):
        cuzarr.create_array({}, shape=(10,), chunks=(5,), dtype="<i4", zarr_format=2, **kwargs)


def test_v2_only_placements_fail_clearly_in_v3():
    with pytest.raises(UnsupportedError, match="'numcodecs.shuffle' is bytes->bytes"):
        cuzarr.create_array(
            {}, shape=(10,), dtype="<i4", filters=[{"id": "shuffle", "elementsize": 4}]
        )
    # and work in v2, where numcodecs runs byte filters before the compressor
    a = cuzarr.create_array(
        {}, shape=(10,), dtype="<i4", zarr_format=2, filters=[{"id": "shuffle", "elementsize": 4}]
    )
    a[:] = 3
    assert_same(a[:], np.full(10, 3))


def test_unknown_codec_ids_are_named(tmp_path):
    cuzarr.create_array(str(tmp_path), shape=(2,), dtype="i1", zarr_format=2)
    doc = read_json(tmp_path / ".zarray")
    doc["compressor"] = {"id": "snazzy", "level": 1}
    (tmp_path / ".zarray").write_text(json.dumps(doc))
    with pytest.raises(UnknownCodecError, match=r"\.zarray: unknown v2 codec id 'snazzy'"):
        cuzarr.open_array(str(tmp_path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"order": "X"}, "order must be 'C' or 'F'"),
        ({"chunks": [2, 2]}, "differ in rank"),
        ({"dimension_separator": "-"}, "dimension_separator"),
        ({"dtype": "<q9"}, "dtype"),
        ({"fill_value": "banana"}, "fill_value"),
        ({"filters": {"id": "delta"}}, "filters must be a list"),
    ],
)
def test_malformed_zarray_names_the_field(change, message, tmp_path):
    cuzarr.create_array(str(tmp_path), shape=(4,), chunks=(2,), dtype="<f4", zarr_format=2)
    doc = read_json(tmp_path / ".zarray")
    doc.update(change)
    (tmp_path / ".zarray").write_text(json.dumps(doc))
    with pytest.raises(MetadataError, match=message):
        cuzarr.open_array(str(tmp_path))


def test_gzip_chunks_that_are_zlib_streams_still_read(tmp_path):
    """z5py writes zlib streams under the gzip id; a forgiving reader takes both."""
    cuzarr.create_array(
        str(tmp_path),
        shape=(6,),
        chunks=(6,),
        dtype="<i2",
        zarr_format=2,
        compressors={"id": "gzip", "level": 5},
    )
    (tmp_path / "0").write_bytes(zlib.compress(np.arange(6, dtype="<i2").tobytes()))
    assert_same(cuzarr.open_array(str(tmp_path), mode="r")[...], np.arange(6))


def test_variable_length_strings_and_bytes(tmp_path):
    words = np.array(["α", "", "longer text", "x"], dtype=object)
    for fmt in (2, 3):
        s = cuzarr.create_array(
            str(tmp_path / f"s{fmt}"), shape=(4,), chunks=(3,), dtype=str, zarr_format=fmt
        )
        s[...] = words
        assert_same(cuzarr.open_array(str(tmp_path / f"s{fmt}"))[...], words)
        b = cuzarr.create_array(
            str(tmp_path / f"b{fmt}"),
            shape=(4,),
            chunks=(3,),
            dtype=bytes,
            zarr_format=fmt,
            fill_value=b"?",
        )
        b[:2] = [b"\x00\x01", b""]
        assert_same(
            cuzarr.open_array(str(tmp_path / f"b{fmt}"))[...],
            np.array([b"\x00\x01", b"", b"?", b"?"], dtype=object),
        )
    assert read_json(tmp_path / "s3" / "zarr.json")["codecs"][0] == {
        "name": "vlen-utf8",
        "configuration": {},
    }
    with pytest.raises(cuzarr.errors.CodecError, match="vlen-utf8"):
        s[0] = 5  # not a string
