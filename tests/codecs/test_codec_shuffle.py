import time

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.shuffle import ShuffleCodec
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError


def test_layout():
    data = np.array([0x01020304, 0x05060708], dtype="<u4")
    spec = ChunkSpec((2,), data.dtype, 0)
    assert ShuffleCodec(4).encode_chunk(data.view("u1"), spec).tobytes() == bytes.fromhex(
        "0408030702060105"
    )


def test_round_trip(sample):
    spec, data = sample
    for codec in (ShuffleCodec(), ShuffleCodec(1), ShuffleCodec(data.dtype.itemsize)):
        encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
        assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()
        out = np.full(data.nbytes, 0xAB, dtype="u1")
        assert codec.decode_into(encoded, spec, out) is out
        assert out.tobytes() == data.tobytes()


@pytest.mark.parametrize("elementsize", [0, 1, 2, 3, 4, 8, 16])
def test_numcodecs_compatible(elementsize):
    payload = np.random.default_rng(1).integers(0, 256, 48 * 1000, dtype="u1")
    spec = ChunkSpec(payload.shape, payload.dtype, 0)
    ours, theirs = ShuffleCodec(elementsize), numcodecs.Shuffle(elementsize)
    assert bytes(ours.encode_chunk(payload, spec)) == bytes(theirs.encode(payload))
    assert bytes(ours.decode_chunk(theirs.encode(payload), spec)) == payload.tobytes()


def test_elementsize_from_spec():
    data = np.arange(100, dtype="<u2")
    spec = ChunkSpec(data.shape, data.dtype, 0)
    assert bytes(ShuffleCodec().encode_chunk(data.view("u1"), spec)) == bytes(
        numcodecs.Shuffle(2).encode(data)
    )
    assert ShuffleCodec().evolve(spec) == ShuffleCodec(2)


def test_ragged():
    spec = ChunkSpec((10,), np.dtype("u1"), 0)
    with pytest.raises(CodecError, match="shuffle"):
        ShuffleCodec(4).encode_chunk(b"x" * 10, spec)
    with pytest.raises(CorruptChunkError, match="shuffle"):
        ShuffleCodec(4).decode_chunk(b"x" * 10, spec)
    with pytest.raises(CorruptChunkError, match="shuffle"):
        ShuffleCodec(4).decode_chunk(b"x" * 12, spec, out=np.empty(8, "u1"))


def test_fast():
    data = np.arange(4 << 20, dtype="<f4")  # 16 MiB
    spec = ChunkSpec(data.shape, data.dtype, 0)
    codec = ShuffleCodec(4)
    start = time.perf_counter()
    encoded = codec.encode_chunk(data.view("u1"), spec)
    out = np.empty_like(data)
    codec.decode_chunk(encoded, spec, out=out)
    assert time.perf_counter() - start < 1.0
    np.testing.assert_array_equal(out, data)


def test_json_forms():
    codec = codec_from_v3({"name": "numcodecs.shuffle", "configuration": {"elementsize": 8}})
    assert codec == ShuffleCodec(8)
    assert codec.to_v3() == {"name": "numcodecs.shuffle", "configuration": {"elementsize": 8}}
    assert codec.to_v2() == {"id": "shuffle", "elementsize": 8}
    assert codec_from_v2(codec.to_v2()) == codec == as_codec(numcodecs.Shuffle(8))
    assert codec_from_v2({"id": "shuffle"}) == ShuffleCodec(4)  # numcodecs' default
    assert (
        codec_from_v3({"name": "numcodecs.shuffle", "configuration": {}}) == ShuffleCodec()
    )  # item size
    with pytest.raises(MetadataError, match="shuffle.*elementsize"):
        ShuffleCodec(-1)


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u4")
    codecs, raw = zp.write(data, compressors=[znc.Shuffle()])
    assert codecs[-1] == {"name": "numcodecs.shuffle", "configuration": {"elementsize": 4}}
    codec = codec_from_v3(codecs[-1])
    spec = ChunkSpec(data.shape, data.dtype, 0)
    assert bytes(codec.decode_chunk(raw, spec)) == data.tobytes()
    assert bytes(codec.encode_chunk(data.view("u1"), spec)) == raw
