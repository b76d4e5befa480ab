import lzma

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.lzma import LZMACodec
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()
DELTA_LZMA2 = [{"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2, "preset": 1}]
CONFIGS = [
    {},
    {"preset": 1},
    {"format": lzma.FORMAT_XZ, "check": lzma.CHECK_SHA256, "preset": 1 | lzma.PRESET_EXTREME},
    {"format": lzma.FORMAT_ALONE, "preset": 2},
    {"format": lzma.FORMAT_RAW, "filters": DELTA_LZMA2},
]


def test_round_trip(sample):
    spec, data = sample
    for config in CONFIGS:
        codec = LZMACodec(**config)
        encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
        assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()


@pytest.mark.parametrize("config", CONFIGS)
def test_numcodecs_compatible(config):
    ours, theirs = LZMACodec(**config), numcodecs.LZMA(**config)
    assert ours.encode_chunk(PAYLOAD, SPEC) == theirs.encode(PAYLOAD)
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD
    assert bytes(theirs.decode(ours.encode_chunk(PAYLOAD, SPEC))) == PAYLOAD


def test_xz_with_filters_decodes():
    # the xz container records its filter chain; numcodecs would wrongly pass it again
    codec = LZMACodec(filters=DELTA_LZMA2)
    assert codec.decode_chunk(codec.encode_chunk(PAYLOAD, SPEC), SPEC) == PAYLOAD


def test_auto_format_decodes_both():
    auto = LZMACodec(format=lzma.FORMAT_AUTO)
    assert auto.decode_chunk(lzma.compress(PAYLOAD), SPEC) == PAYLOAD
    assert auto.decode_chunk(lzma.compress(PAYLOAD, lzma.FORMAT_ALONE), SPEC) == PAYLOAD
    with pytest.raises(CodecError, match="lzma"):
        auto.encode_chunk(PAYLOAD, SPEC)


@pytest.mark.parametrize("bad", [b"", b"\xfd7zXZ\x00garbage", lzma.compress(PAYLOAD)[:-10]])
def test_corrupt(bad):
    with pytest.raises(CorruptChunkError, match="lzma"):
        LZMACodec().decode_chunk(bad, SPEC)


def test_json_forms():
    v3 = {
        "name": "numcodecs.lzma",
        "configuration": {"format": 3, "check": -1, "preset": None, "filters": DELTA_LZMA2},
    }
    codec = codec_from_v3(v3)
    assert codec.to_v3() == v3
    assert codec.to_v2() == {"id": "lzma", **v3["configuration"]}
    assert codec_from_v2(codec.to_v2()) == codec
    assert as_codec(numcodecs.LZMA(format=3, filters=DELTA_LZMA2)) == codec
    assert as_codec(numcodecs.LZMA()) == LZMACodec()
    assert hash(codec) == hash(LZMACodec(format=3, filters=DELTA_LZMA2))


@pytest.mark.parametrize(
    "config,field",
    [
        ({"format": 7}, "format"),
        ({"check": 2}, "check"),
        ({"preset": 10}, "preset"),
        ({"filters": [{"dist": 1}]}, "filters"),
        ({"format": 3}, "filters"),
    ],
)
def test_bad_config(config, field):
    with pytest.raises(MetadataError, match=f"lzma.*{field}"):
        LZMACodec(**config)


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u2")
    codecs, raw = zp.write(data, compressors=[znc.LZMA(preset=1)])
    assert codecs[-1] == {"name": "numcodecs.lzma", "configuration": {"preset": 1}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), SPEC) == raw
