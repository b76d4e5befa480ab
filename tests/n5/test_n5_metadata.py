"""attributes.json <-> the internal metadata: axis reversal, compression mapping, user
attributes, block keys and the errors for what N5 cannot state."""

from __future__ import annotations

import numpy as np
import pytest

from cuzarr.codecs.blosc import BloscCodec
from cuzarr.codecs.bz2 import BZ2Codec
from cuzarr.codecs.crc32c import Crc32cCodec
from cuzarr.codecs.gzip import GzipCodec
from cuzarr.codecs.lz4 import LZ4Codec
from cuzarr.codecs.lzma import LZMACodec
from cuzarr.codecs.n5 import N5DefaultCodec, N5LZ4Codec
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.codecs.zlib import ZlibCodec
from cuzarr.codecs.zstd import ZstdCodec
from cuzarr.errors import MetadataError, UnsupportedError
from cuzarr.metadata.n5 import (
    N5ChunkKeyEncoding,
    compression_codec,
    compression_json,
    new_n5_metadata,
    parse_n5_dataset,
)

DOC = {
    "dimensions": [30, 20, 10],
    "blockSize": [8, 7, 6],
    "dataType": "int16",
    "compression": {"type": "gzip", "level": 4, "useZlib": False},
    "resolution": [1, 1, 4],
}


def test_axes_are_reversed_and_user_attributes_kept():
    m = parse_n5_dataset(DOC, "ds/attributes.json")
    assert m.shape == (10, 20, 30) and m.chunk_shape == (6, 7, 8)
    assert m.dtype == np.dtype("int16") and m.fill_value == 0 and m.zarr_format == "n5"
    assert m.attributes == {"resolution": [1, 1, 4]}
    outer, block = m.codecs
    assert outer == TransposeCodec((2, 1, 0)) and isinstance(block, N5DefaultCodec)
    assert block.compressor == GzipCodec(4)
    assert m.to_json() == DOC  # written back as read


def test_block_keys_are_n5_positions():
    enc = N5ChunkKeyEncoding()
    assert enc.encode((3, 2, 1)) == "1/2/3"
    assert enc.decode("1/2/3") == (3, 2, 1)
    assert enc.decode("attributes.json") is None and enc.decode("1/x") is None


@pytest.mark.parametrize(
    ("compression", "codec"),
    [
        ({"type": "raw"}, None),
        ({"type": "gzip"}, GzipCodec(-1)),
        ({"type": "gzip", "level": 6, "useZlib": True}, ZlibCodec(6)),
        ({"type": "bzip2", "blockSize": 4}, BZ2Codec(4)),
        ({"type": "xz", "preset": 3}, LZMACodec(format=1, check=-1, preset=3)),
        ({"type": "lz4", "blockSize": 1024}, N5LZ4Codec(1024)),
        (
            {
                "type": "blosc",
                "cname": "zstd",
                "clevel": 3,
                "shuffle": 2,
                "blocksize": 0,
                "nthreads": 4,
            },
            BloscCodec("zstd", 3, "bitshuffle", 2, 0),
        ),
        ({"type": "zstd", "level": 7}, ZstdCodec(7)),
        ({"type": "zstd", "level": 1, "useChecksums": True, "nbWorkers": 2}, ZstdCodec(1, True)),
    ],
)
def test_every_compression_type_maps_to_a_codec(compression, codec):
    assert compression_codec(compression, np.dtype("u2"), "x") == codec
    back = compression_json(codec)
    assert compression_codec(back, np.dtype("u2"), "x") == codec


def test_unknown_compression_parameters_survive_a_rewrite():
    doc = {**DOC, "compression": {"type": "zstd", "level": 3, "nbWorkers": 8}, "n5": "2.0.0"}
    m = parse_n5_dataset(doc)
    assert m.with_attributes({"a": 1}).to_json() == {
        "n5": "2.0.0",
        **{k: v for k, v in doc.items() if k not in ("resolution", "n5")},
        "a": 1,
    }


def test_legacy_and_missing_compression():
    legacy = {k: v for k, v in DOC.items() if k != "compression"}
    assert parse_n5_dataset({**legacy, "compressionType": "bzip2"}).codecs[
        1
    ].compressor == BZ2Codec(9)
    assert parse_n5_dataset(legacy).codecs[1].compressor is None


def test_tensorstore_axes_become_dimension_names():
    m = parse_n5_dataset({**DOC, "axes": ["x", "y", ""]})
    assert m.dimension_names == (None, "y", "x")
    m = new_n5_metadata((4, 5), np.dtype("u1"), (2, 2), dimension_names=("y", "x"))
    assert m.attributes["axes"] == ["x", "y"]


def test_codecs_n5_cannot_store():
    assert compression_json(LZ4Codec()) == {"type": "lz4", "blockSize": 65536}
    with pytest.raises(UnsupportedError, match="crc32c"):
        compression_json(Crc32cCodec())
    with pytest.raises(UnsupportedError, match="one compressor"):
        new_n5_metadata((4,), np.dtype("u1"), (2,), compressors=["gzip", "zstd"])


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"blockSize": [8, 7]}, MetadataError, "differ in rank"),
        ({"dimensions": [30, -1, 10]}, MetadataError, r"dimensions\[1\] must be an integer"),
        ({"blockSize": [8, 0, 6]}, MetadataError, r"blockSize\[1\]"),
        ({"dataType": "object"}, UnsupportedError, "dataType 'object'"),
        ({"compression": {"level": 1}}, MetadataError, "'compression' must be an object"),
        ({"compression": {"type": "gzip", "level": "max"}}, MetadataError, "compression.level"),
        ({"compression": {"type": "gzip", "level": 12}}, MetadataError, "level must be"),
        ({"compression": {"type": "snappy"}}, UnsupportedError, "snappy"),
        ({"dimensions": [], "blockSize": []}, UnsupportedError, "at least one dimension"),
    ],
)
def test_bad_attributes_name_the_document_and_field(change, error, match):
    with pytest.raises(error, match=match) as info:
        parse_n5_dataset({**DOC, **change}, "store/ds/attributes.json")
    assert "store/ds/attributes.json" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dtype": np.dtype("c8")}, UnsupportedError, "complex64"),
        ({"dtype": np.dtype("bool")}, UnsupportedError, "bool"),
        ({"filters": ["delta"]}, UnsupportedError, "no filters"),
        ({"fill_value": 3}, MetadataError, "no fill value"),
        ({"attributes": {"dataType": 1}}, MetadataError, "reserved"),
        ({"chunks": ((1, 3), 2)}, UnsupportedError, "regular"),
    ],
)
def test_new_datasets_refuse_what_n5_cannot_state(kwargs, error, match):
    args = {"dtype": np.dtype("u1"), "chunks": (2, 2), **kwargs}
    with pytest.raises(error, match=match):
        new_n5_metadata((4, 4), args.pop("dtype"), args.pop("chunks"), **args)


def test_new_dataset_defaults():
    m = new_n5_metadata((4, 6), np.dtype("f4"), (2, 3), root=True, fill_value=0)
    doc = m.to_json()
    assert doc["n5"] == "4.0.0" and doc["dimensions"] == [6, 4] and doc["blockSize"] == [3, 2]
    assert doc["compression"] == {"type": "gzip", "level": -1, "useZlib": False}
    assert new_n5_metadata((4,), np.dtype("u1"), (2,), compressors=None).compression == {
        "type": "raw"
    }
    assert new_n5_metadata((4,), np.dtype("u1"), (2,), compressors={"type": "xz"}).compression == {
        "type": "xz"
    }
