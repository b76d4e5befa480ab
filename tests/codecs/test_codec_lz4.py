import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.lz4 import LZ4Codec
from cuzarr.errors import CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()


def test_round_trip(sample):
    spec, data = sample
    for codec in (LZ4Codec(), LZ4Codec(acceleration=50)):
        encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
        assert int.from_bytes(encoded[:4], "little") == data.nbytes  # numcodecs' size prefix
        assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()
        out = np.full(data.nbytes, 0xAB, dtype="u1")
        assert codec.decode_into(encoded, spec, out) is out
        assert out.tobytes() == data.tobytes()


@pytest.mark.parametrize("acceleration", [1, 10])
def test_numcodecs_compatible(acceleration):
    ours, theirs = LZ4Codec(acceleration), numcodecs.LZ4(acceleration)
    assert ours.encode_chunk(PAYLOAD, SPEC) == theirs.encode(PAYLOAD)
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD
    assert bytes(ours.decode_chunk(theirs.encode(b""), SPEC)) == b""  # numcodecs cannot


def test_corrupt():
    encoded = LZ4Codec().encode_chunk(PAYLOAD, SPEC)
    lying = (len(PAYLOAD) + 8).to_bytes(4, "little") + encoded[4:]
    for bad in (b"", b"\x01\x02", encoded[:-9], lying, encoded[:4] + b"\xff" * 50):
        with pytest.raises(CorruptChunkError, match="lz4"):
            LZ4Codec().decode_chunk(bad, SPEC)
    with pytest.raises(CorruptChunkError, match="lz4"):
        LZ4Codec().decode_chunk(encoded, SPEC, out=np.empty(len(PAYLOAD) + 1, "u1"))


def test_json_forms():
    codec = codec_from_v3({"name": "numcodecs.lz4", "configuration": {"acceleration": 3}})
    assert codec == LZ4Codec(3)
    assert codec.to_v3() == {"name": "numcodecs.lz4", "configuration": {"acceleration": 3}}
    assert codec.to_v2() == {"id": "lz4", "acceleration": 3}
    assert codec_from_v2(codec.to_v2()) == codec == as_codec(numcodecs.LZ4(3))
    assert codec_from_v2({"id": "lz4"}) == LZ4Codec(1)
    with pytest.raises(MetadataError, match="lz4.*acceleration"):
        LZ4Codec("fast")


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u2")
    codecs, raw = zp.write(data, compressors=[znc.LZ4(acceleration=2)])
    assert codecs[-1] == {"name": "numcodecs.lz4", "configuration": {"acceleration": 2}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), SPEC) == raw
