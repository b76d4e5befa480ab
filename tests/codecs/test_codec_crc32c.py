import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.crc32c import Crc32cCodec
from cuzarr.errors import ChecksumError, CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()


def test_check_value():
    assert Crc32cCodec().encode_chunk(b"123456789", SPEC).tobytes() == b"123456789" + (
        0xE3069283
    ).to_bytes(4, "little")
    assert Crc32cCodec("start").encode_chunk(b"123456789", SPEC).tobytes()[:4] == (
        0xE3069283
    ).to_bytes(4, "little")


@pytest.mark.parametrize("location", ["start", "end"])
def test_round_trip(sample, location):
    spec, data = sample
    codec = Crc32cCodec(location)
    encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
    assert len(encoded) == codec.encoded_size(data.nbytes) == data.nbytes + 4
    assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()


@pytest.mark.parametrize("location", ["start", "end"])
def test_numcodecs_compatible(location):
    ours, theirs = Crc32cCodec(location), numcodecs.CRC32C(location=location)
    assert bytes(ours.encode_chunk(PAYLOAD, SPEC)) == bytes(theirs.encode(PAYLOAD))
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD


@pytest.mark.parametrize("location", ["start", "end"])
def test_mismatch(location):
    codec = Crc32cCodec(location)
    for i in (0, 2, 3, -1, -4, 100):
        bad = bytearray(codec.encode_chunk(PAYLOAD, SPEC))
        bad[i] ^= 0x10
        with pytest.raises(ChecksumError, match="crc32c"):
            codec.decode_chunk(bad, SPEC)


def test_too_short():
    for bad in (b"", b"abc"):
        with pytest.raises(CorruptChunkError, match="crc32c.*shorter"):
            Crc32cCodec().decode_chunk(bad, SPEC)
    assert bytes(Crc32cCodec().decode_chunk(Crc32cCodec().encode_chunk(b"", SPEC), SPEC)) == b""


def test_json_forms():
    assert codec_from_v3({"name": "crc32c"}) == codec_from_v3("crc32c") == Crc32cCodec()
    assert Crc32cCodec().to_v3() == {"name": "crc32c"}
    assert Crc32cCodec().to_v2() == {"id": "crc32c"}
    start = codec_from_v3({"name": "numcodecs.crc32c", "configuration": {"location": "start"}})
    assert start == Crc32cCodec("start")
    assert start.to_v3() == {"name": "numcodecs.crc32c", "configuration": {"location": "start"}}
    assert start.to_v2() == {"id": "crc32c", "location": "start"}
    assert codec_from_v2(start.to_v2()) == start
    assert codec_from_v3({"name": "numcodecs.crc32c", "configuration": {}}) == Crc32cCodec()
    assert as_codec(numcodecs.CRC32C()) == Crc32cCodec()
    assert as_codec(numcodecs.CRC32C(location="start")) == start
    with pytest.raises(MetadataError, match="crc32c.*location"):
        Crc32cCodec("middle")


def test_zarr_python_interop(zp):
    import zarr.codecs.numcodecs as znc
    from zarr.codecs import Crc32cCodec as ZCrc

    data = np.arange(3000, dtype="<u2")
    for compressor, name in [
        (ZCrc(), "crc32c"),
        (znc.CRC32C(location="start"), "numcodecs.crc32c"),
    ]:
        codecs, raw = zp.write(data, compressors=[compressor])
        assert codecs[-1]["name"] == name
        codec = codec_from_v3(codecs[-1])
        assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
        assert bytes(codec.encode_chunk(data.view("u1"), SPEC)) == raw
        np.testing.assert_array_equal(
            zp.read(raw, data.shape, data.dtype, compressors=[codec.to_v3()]), data
        )


def test_tensorstore_interop(tstore):
    from zarr.codecs import Crc32cCodec as ZCrc

    data = np.arange(3000, dtype="<i4")
    mine = Crc32cCodec().encode_chunk(data.view("u1"), SPEC)
    np.testing.assert_array_equal(
        tstore.read(mine, data.shape, data.dtype, compressors=[ZCrc()]), data
    )
    raw = tstore.write(
        data, [{"name": "bytes", "configuration": {"endian": "little"}}, Crc32cCodec().to_v3()]
    )
    assert bytes(Crc32cCodec().decode_chunk(raw, SPEC)) == data.tobytes()
