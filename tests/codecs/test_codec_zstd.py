import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.zstd import ZstdCodec
from cuzarr.errors import CorruptChunkError, MetadataError

# Byte codecs look only at max_nbytes: the most a chunk may decode to.
SPEC = ChunkSpec((0,), np.dtype("u1"), 0, max_nbytes=1 << 24)
PAYLOAD = np.arange(5000, dtype="<i4").tobytes()
zstandard = pytest.importorskip("zstandard")


def test_round_trip(sample):
    spec, data = sample
    for codec in (ZstdCodec(), ZstdCodec(level=-5, checksum=True), ZstdCodec(level=19)):
        encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
        assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()
        out = np.full(data.nbytes, 0xAB, dtype="u1")
        assert codec.decode_chunk(encoded, spec, out=out) is out
        assert out.tobytes() == data.tobytes()


@pytest.mark.parametrize("level,checksum", [(0, False), (3, True), (-1, False), (22, False)])
def test_numcodecs_compatible(level, checksum):
    ours, theirs = ZstdCodec(level, checksum), numcodecs.Zstd(level=level, checksum=checksum)
    assert ours.encode_chunk(PAYLOAD, SPEC) == theirs.encode(PAYLOAD)
    assert bytes(ours.decode_chunk(theirs.encode(PAYLOAD), SPEC)) == PAYLOAD


def test_checksum_flag_in_frame():
    assert ZstdCodec(checksum=True).encode_chunk(PAYLOAD, SPEC)[4] & 4
    assert not ZstdCodec(checksum=False).encode_chunk(PAYLOAD, SPEC)[4] & 4


def test_frames_without_content_size_and_concatenated():
    streamed = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    frame = streamed.compress(PAYLOAD) + streamed.flush()
    two = ZstdCodec().encode_chunk(PAYLOAD[:999], SPEC) + ZstdCodec().encode_chunk(
        PAYLOAD[999:], SPEC
    )
    for chunk in (frame, two):
        assert bytes(ZstdCodec().decode_chunk(chunk, SPEC)) == PAYLOAD
        out = bytearray(len(PAYLOAD))
        assert ZstdCodec().decode_into(chunk, SPEC, out) is out
        assert bytes(out) == PAYLOAD


def test_out_of_wrong_size_is_an_error():
    encoded = ZstdCodec().encode_chunk(PAYLOAD, SPEC)
    for size in (len(PAYLOAD) - 1, len(PAYLOAD) + 1):
        with pytest.raises(CorruptChunkError, match="zstd"):
            ZstdCodec().decode_chunk(encoded, SPEC, out=np.empty(size, "u1"))


def test_empty_chunk_from_numcodecs():
    assert bytes(ZstdCodec().decode_chunk(numcodecs.Zstd().encode(b""), SPEC)) == b""
    assert (
        bytes(
            ZstdCodec(checksum=True).decode_chunk(numcodecs.Zstd(checksum=True).encode(b""), SPEC)
        )
        == b""
    )


@pytest.mark.parametrize("cut", [slice(0, 0), slice(0, 3), slice(0, -7), slice(1, None)])
def test_corrupt(cut):
    encoded = ZstdCodec().encode_chunk(PAYLOAD, SPEC)
    with pytest.raises(CorruptChunkError, match="zstd"):
        ZstdCodec().decode_chunk(encoded[cut], SPEC)
    with pytest.raises(CorruptChunkError, match="zstd"):
        ZstdCodec().decode_chunk(encoded[cut], SPEC, out=np.empty(len(PAYLOAD), "u1"))


def test_corrupt_checksum():
    encoded = bytearray(ZstdCodec(checksum=True).encode_chunk(PAYLOAD, SPEC))
    encoded[-1] ^= 0xFF
    with pytest.raises(CorruptChunkError):
        ZstdCodec().decode_chunk(encoded, SPEC)


def test_json_forms():
    codec = codec_from_v3({"name": "zstd", "configuration": {"level": 5, "checksum": True}})
    assert codec == ZstdCodec(5, True)
    assert codec.to_v3() == {"name": "zstd", "configuration": {"level": 5, "checksum": True}}
    assert ZstdCodec().to_v3() == {"name": "zstd", "configuration": {"level": 0, "checksum": False}}
    assert codec.to_v2() == {"id": "zstd", "level": 5, "checksum": True}
    assert ZstdCodec(3).to_v2() == {"id": "zstd", "level": 3}  # checksum omitted when false
    assert codec_from_v2(codec.to_v2()) == codec
    assert codec_from_v2({"id": "zstd", "level": 3}) == ZstdCodec(3)
    assert codec_from_v3({"name": "numcodecs.zstd", "configuration": {}}) == ZstdCodec()
    assert as_codec(numcodecs.Zstd(level=5, checksum=True)) == codec


@pytest.mark.parametrize(
    "config", [{"level": 23}, {"level": -131073}, {"level": "1"}, {"checksum": 1}, {"lvl": 1}]
)
def test_bad_config(config):
    with pytest.raises(MetadataError, match="zstd"):
        codec_from_v3({"name": "zstd", "configuration": config})


def test_zarr_python_interop(zp):
    from zarr.codecs import ZstdCodec as ZZstd

    data = np.arange(3000, dtype="<f4")
    codecs, raw = zp.write(data, compressors=[ZZstd(level=4, checksum=True)])
    assert codecs[-1] == {"name": "zstd", "configuration": {"level": 4, "checksum": True}}
    codec = codec_from_v3(codecs[-1])
    assert bytes(codec.decode_chunk(raw, SPEC)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), SPEC) == raw


def test_tensorstore_interop(tstore):
    from zarr.codecs import ZstdCodec as ZZstd

    data = np.arange(3000, dtype="<i4")
    mine = ZstdCodec(3, True).encode_chunk(data.view("u1"), SPEC)
    np.testing.assert_array_equal(
        tstore.read(mine, data.shape, data.dtype, compressors=[ZZstd()]), data
    )
    raw = tstore.write(
        data, [{"name": "bytes", "configuration": {"endian": "little"}}, ZstdCodec(3).to_v3()]
    )
    out = np.empty(data.nbytes, "u1")
    ZstdCodec().decode_chunk(raw, SPEC, out=out)
    assert out.tobytes() == data.tobytes()
