import gzip
import zlib

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.zlib import ZlibCodec
from cuzarr.errors import CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()


def test_round_trip(sample):
    spec, data = sample
    codec = ZlibCodec(level=5)
    encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
    assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()


@pytest.mark.parametrize("level", [0, 1, 9, -1])
def test_numcodecs_compatible(level):
    ours, theirs = ZlibCodec(level=level), numcodecs.Zlib(level=level)
    assert ours.encode_chunk(PAYLOAD, SPEC) == theirs.encode(PAYLOAD)  # same library, same bytes
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD


def test_reads_gzip_too():
    assert ZlibCodec().decode_chunk(gzip.compress(PAYLOAD), SPEC) == PAYLOAD


@pytest.mark.parametrize("bad", [b"", b"garbage garbage", zlib.compress(PAYLOAD)[:-4]])
def test_corrupt(bad):
    with pytest.raises(CorruptChunkError, match="zlib"):
        ZlibCodec().decode_chunk(bad, SPEC)


def test_json_forms():
    codec = codec_from_v3({"name": "numcodecs.zlib", "configuration": {"level": 4}})
    assert codec == ZlibCodec(4)
    assert codec.to_v3() == {"name": "numcodecs.zlib", "configuration": {"level": 4}}
    assert codec.to_v2() == {"id": "zlib", "level": 4}
    assert codec_from_v2(codec.to_v2()) == codec == as_codec(numcodecs.Zlib(4))
    with pytest.raises(MetadataError, match="zlib.*level"):
        ZlibCodec(12)


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u2")
    codecs, raw = zp.write(data, compressors=[znc.Zlib(level=2)])
    assert codecs[-1] == {"name": "numcodecs.zlib", "configuration": {"level": 2}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), SPEC) == raw
    np.testing.assert_array_equal(
        zp.read(raw, data.shape, data.dtype, compressors=[codec.to_v3()]), data
    )
