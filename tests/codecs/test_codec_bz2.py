import bz2

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.bz2 import BZ2Codec
from cuzarr.errors import CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()


def test_round_trip(sample):
    spec, data = sample
    codec = BZ2Codec(level=9)
    assert (
        bytes(codec.decode_chunk(codec.encode_chunk(data.reshape(-1).view("u1"), spec), spec))
        == data.tobytes()
    )


@pytest.mark.parametrize("level", [1, 9])
def test_numcodecs_compatible(level):
    ours, theirs = BZ2Codec(level), numcodecs.BZ2(level)
    assert ours.encode_chunk(PAYLOAD, SPEC) == theirs.encode(PAYLOAD)
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD


def test_concatenated_streams():
    assert (
        BZ2Codec().decode_chunk(bz2.compress(PAYLOAD[:10]) + bz2.compress(PAYLOAD[10:]), SPEC)
        == PAYLOAD
    )


@pytest.mark.parametrize("bad", [b"", b"BZh9garbage", bz2.compress(PAYLOAD)[:-10]])
def test_corrupt(bad):
    with pytest.raises(CorruptChunkError, match="bz2"):
        BZ2Codec().decode_chunk(bad, SPEC)


def test_json_forms():
    codec = codec_from_v3({"name": "numcodecs.bz2", "configuration": {"level": 7}})
    assert codec == BZ2Codec(7)
    assert codec.to_v3() == {"name": "numcodecs.bz2", "configuration": {"level": 7}}
    assert codec.to_v2() == {"id": "bz2", "level": 7}
    assert codec_from_v2(codec.to_v2()) == codec == as_codec(numcodecs.BZ2(7))
    with pytest.raises(MetadataError, match="bz2.*level"):
        BZ2Codec(0)


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u2")
    codecs, raw = zp.write(data, compressors=[znc.BZ2(level=5)])
    assert codecs[-1] == {"name": "numcodecs.bz2", "configuration": {"level": 5}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), SPEC) == raw
