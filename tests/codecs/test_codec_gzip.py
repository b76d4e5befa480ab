import gzip
import zlib

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.gzip import GzipCodec
from cuzarr.errors import CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()


def test_round_trip(sample):
    spec, data = sample
    codec = GzipCodec(level=5)
    encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
    assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()


@pytest.mark.parametrize("level", [0, 1, 9, -1])
def test_numcodecs_compatible(level):
    ours = GzipCodec(level=level)
    theirs = numcodecs.GZip(level=level)
    assert bytes(theirs.decode(ours.encode_chunk(PAYLOAD, SPEC))) == PAYLOAD
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD


@pytest.mark.parametrize("level", [-1, 0, 1, 5, 9])
@pytest.mark.parametrize("size", [0, 100, 5000, 3 << 20])
def test_same_bytes_as_numcodecs_but_the_timestamp(level, size):
    payload = (np.arange(size // 4, dtype="<u4") // 9).tobytes()
    ours = bytearray(GzipCodec(level).encode_chunk(payload, SPEC))
    theirs = bytearray(numcodecs.GZip(level).encode(payload))
    theirs[4:8] = bytes(4)  # the mtime
    assert ours == theirs


def test_encoder_writes_one_plain_member():
    encoded = GzipCodec(level=1).encode_chunk(PAYLOAD, SPEC)
    assert encoded[:3] == b"\x1f\x8b\x08" and encoded[4:8] == b"\0\0\0\0"  # no name, zero mtime
    assert gzip.decompress(encoded) == PAYLOAD
    assert GzipCodec(level=1).encode_chunk(PAYLOAD, SPEC) == encoded  # deterministic


@pytest.mark.parametrize(
    "accepts", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, "u1")]
)
def test_accepts_any_bytes_like(accepts):
    codec = GzipCodec()
    assert (
        bytes(codec.decode_chunk(accepts(codec.encode_chunk(accepts(PAYLOAD), SPEC)), SPEC))
        == PAYLOAD
    )


def test_forgiving_decode():
    codec = GzipCodec()
    a, b = PAYLOAD[:777], PAYLOAD[777:]
    assert codec.decode_chunk(gzip.compress(a) + gzip.compress(b), SPEC) == PAYLOAD  # members
    assert codec.decode_chunk(gzip.compress(PAYLOAD) + b"\0" * 8, SPEC) == PAYLOAD  # zero padding
    assert codec.decode_chunk(zlib.compress(PAYLOAD, 6), SPEC) == PAYLOAD  # z5py writes zlib
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert codec.decode_chunk(raw.compress(PAYLOAD) + raw.flush(), SPEC) == PAYLOAD  # raw deflate


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"not compressed at all",
        gzip.compress(PAYLOAD)[:-5],  # truncated trailer
        gzip.compress(PAYLOAD)[:100],  # truncated stream
        gzip.compress(PAYLOAD) + b"trailing",
        zlib.compress(PAYLOAD)[:-1],
    ],
)
def test_corrupt(bad):
    with pytest.raises(CorruptChunkError, match="gzip"):
        GzipCodec().decode_chunk(bad, SPEC)


def test_corrupt_crc():
    enc = bytearray(gzip.compress(PAYLOAD))
    enc[-6] ^= 1
    with pytest.raises(CorruptChunkError):
        GzipCodec().decode_chunk(enc, SPEC)


def test_json_forms():
    codec = codec_from_v3({"name": "gzip", "configuration": {"level": 5}})
    assert codec == GzipCodec(5)
    assert codec.to_v3() == {"name": "gzip", "configuration": {"level": 5}}
    assert codec.to_v2() == {"id": "gzip", "level": 5}
    assert codec_from_v2({"id": "gzip", "level": 5}) == codec
    assert codec_from_v3({"name": "numcodecs.gzip", "configuration": {"level": 5}}) == codec
    assert as_codec(numcodecs.GZip(level=5)) == codec
    assert as_codec(codec.to_v3()) == as_codec(codec.to_v2()) == codec
    assert codec_from_v2({"id": "gzip"}) == GzipCodec(1)  # numcodecs' default
    assert GzipCodec(-1).to_v3() == {"name": "numcodecs.gzip", "configuration": {"level": -1}}


@pytest.mark.parametrize("level", [10, -2, "5", 1.5, True])
def test_bad_level(level):
    with pytest.raises(MetadataError, match="gzip.*level"):
        codec_from_v3({"name": "gzip", "configuration": {"level": level}})


def test_zarr_python_interop(zp):
    from zarr.codecs import GzipCodec as ZGzip

    data = np.arange(3000, dtype="<u2")
    codecs, raw = zp.write(data, compressors=[ZGzip(level=3)])
    assert codecs[-1] == {"name": "gzip", "configuration": {"level": 3}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    mine = codec.encode_chunk(data.view("u1"), SPEC)
    np.testing.assert_array_equal(
        zp.read(mine, data.shape, data.dtype, compressors=[ZGzip(level=3)]), data
    )


def test_tensorstore_interop(tstore):
    from zarr.codecs import GzipCodec as ZGzip

    data = np.arange(3000, dtype="<i4")
    mine = GzipCodec(6).encode_chunk(data.view("u1"), SPEC)
    np.testing.assert_array_equal(
        tstore.read(mine, data.shape, data.dtype, compressors=[ZGzip()]), data
    )
    raw = tstore.write(
        data, [{"name": "bytes", "configuration": {"endian": "little"}}, GzipCodec(6).to_v3()]
    )
    assert bytes(GzipCodec().decode_chunk(raw, SPEC)) == data.tobytes()
