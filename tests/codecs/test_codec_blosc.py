import threading

import numcodecs
import numcodecs.blosc
import numpy as np
import pytest

import cuzarr
from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.blosc import AVAILABLE_CNAMES, BloscCodec
from cuzarr.concurrency import parallel_map
from cuzarr.errors import CorruptChunkError, MetadataError, UnsupportedError

CNAMES = sorted(AVAILABLE_CNAMES)
SHUFFLES = ["noshuffle", "shuffle", "bitshuffle"]
DATA = np.arange(20000, dtype="<i4") // 7
SPEC = ChunkSpec(DATA.shape, DATA.dtype, 0)


def header(chunk):
    """(flags, typesize) from a Blosc1 header."""
    return chunk[2], chunk[3]


def test_round_trip(sample):
    spec, data = sample
    for codec in (
        BloscCodec(),
        BloscCodec("zstd", 3, "bitshuffle"),
        BloscCodec("blosclz", 0, "noshuffle"),
    ):
        encoded = codec.encode_chunk(data.reshape(-1).view("u1"), spec)
        assert bytes(codec.decode_chunk(encoded, spec)) == data.tobytes()
        out = np.full(data.nbytes, 0xAB, dtype="u1")
        assert codec.decode_into(encoded, spec, out) is out
        assert out.tobytes() == data.tobytes()


@pytest.mark.parametrize("cname", CNAMES)
@pytest.mark.parametrize("shuffle", SHUFFLES)
@pytest.mark.parametrize("blocksize", [0, 4096])
def test_numcodecs_byte_identical(cname, shuffle, blocksize):
    codec = BloscCodec(cname, 5, shuffle, blocksize=blocksize)
    theirs = numcodecs.get_codec(codec.to_v2())
    # numcodecs (v2) takes the type size from the chunk's dtype, as we take it from the spec
    assert codec.encode_chunk(DATA.view("u1"), SPEC) == theirs.encode(DATA)
    assert bytes(codec.decode_chunk(theirs.encode(DATA), SPEC)) == DATA.tobytes()


def test_typesize_from_config_or_spec():
    as_bytes = DATA.view("u1")
    assert header(BloscCodec().encode_chunk(as_bytes, SPEC)) == (0x21, 4)  # lz4 + shuffle, ts 4
    assert header(BloscCodec(typesize=2).encode_chunk(as_bytes, SPEC))[1] == 2
    ragged = ChunkSpec((3,), np.dtype("<i4"), 0)  # 11 bytes: cannot hold 4-byte items
    assert (
        BloscCodec().decode_chunk(BloscCodec().encode_chunk(b"x" * 11, ragged), ragged) == b"x" * 11
    )
    # shuffle really happened: much smaller than without
    assert len(BloscCodec(shuffle="shuffle").encode_chunk(as_bytes, SPEC)) < len(
        BloscCodec(shuffle="noshuffle").encode_chunk(as_bytes, SPEC)
    )


def test_autoshuffle():
    auto = codec_from_v2(
        {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0}
    )
    assert auto.shuffle == "auto"
    assert header(auto.encode_chunk(DATA.view("u1"), SPEC))[0] & 0x05 == 0x01  # byte shuffle
    u1 = ChunkSpec((5000,), np.dtype("u1"), 0)
    assert header(auto.encode_chunk(DATA.view("u1")[:5000], u1))[0] & 0x05 == 0x04  # bit shuffle
    assert auto.to_v2()["shuffle"] == -1
    assert auto.to_v3() == {
        "name": "numcodecs.blosc",
        "configuration": {"cname": "lz4", "clevel": 5, "shuffle": -1, "blocksize": 0},
    }
    assert auto.evolve(SPEC) == BloscCodec("lz4", 5, "shuffle", typesize=4)
    assert auto.evolve(u1) == BloscCodec("lz4", 5, "bitshuffle", typesize=1)


def test_json_forms():
    v3 = {
        "name": "blosc",
        "configuration": {
            "typesize": 4,
            "cname": "zstd",
            "clevel": 3,
            "shuffle": "bitshuffle",
            "blocksize": 0,
        },
    }
    codec = codec_from_v3(v3)
    assert codec == BloscCodec("zstd", 3, "bitshuffle", typesize=4)
    assert codec.to_v3() == v3
    assert codec.to_v2() == {
        "id": "blosc",
        "cname": "zstd",
        "clevel": 3,
        "shuffle": 2,
        "blocksize": 0,
    }
    assert codec_from_v2(codec.to_v2()) == BloscCodec("zstd", 3, "bitshuffle")
    assert as_codec(numcodecs.Blosc("zstd", 3, 2)) == BloscCodec("zstd", 3, "bitshuffle")
    # the numcodecs.* name carries the v2-style configuration; {} means numcodecs' defaults
    assert codec_from_v3(
        {"name": "numcodecs.blosc", "configuration": {"cname": "zstd", "clevel": 3, "shuffle": 2}}
    ) == BloscCodec("zstd", 3, "bitshuffle")
    assert codec_from_v3({"name": "numcodecs.blosc", "configuration": {}}) == codec_from_v2(
        {"id": "blosc"}
    )
    assert codec_from_v2({"id": "blosc"}).to_v2() == numcodecs.Blosc().get_config()
    assert BloscCodec().evolve(SPEC).to_v3()["configuration"]["typesize"] == 4


@pytest.mark.parametrize(
    "config,field",
    [
        ({"cname": "lzma"}, "cname"),
        ({"shuffle": "byteshuffle"}, "shuffle"),
        ({"shuffle": 3}, "shuffle"),
        ({"clevel": 10}, "clevel"),
        ({"typesize": 0}, "typesize"),
        ({"blocksize": -1}, "blocksize"),
    ],
)
def test_bad_config(config, field):
    with pytest.raises(MetadataError, match=f"blosc.*{field}"):
        codec_from_v3({"name": "blosc", "configuration": config})


def test_unavailable_cname():
    if "snappy" in AVAILABLE_CNAMES:
        pytest.skip("this build has snappy")
    with pytest.raises(UnsupportedError, match="snappy"):
        BloscCodec("snappy").encode_chunk(b"abc" * 100, SPEC)
    chunk = bytearray(BloscCodec("lz4", 5, "noshuffle").encode_chunk(DATA.view("u1"), SPEC))
    chunk[2] = (chunk[2] & 0x1F) | (2 << 5)  # claim snappy in the header
    with pytest.raises(UnsupportedError, match="snappy"):
        BloscCodec().decode_chunk(chunk, SPEC)


def test_corrupt():
    encoded = BloscCodec("zstd").encode_chunk(DATA.view("u1"), SPEC)
    for bad in (b"", encoded[:15], encoded[:-3], encoded[:200]):  # never read past the chunk
        with pytest.raises(CorruptChunkError, match="blosc"):
            BloscCodec().decode_chunk(bad, SPEC)
    garbage = bytearray(encoded)
    garbage[16:] = bytes(len(garbage) - 16)
    with pytest.raises(CorruptChunkError, match="blosc"):
        BloscCodec().decode_chunk(garbage, SPEC)
    with pytest.raises(CorruptChunkError, match="blosc"):
        BloscCodec().decode_chunk(encoded, SPEC, out=np.empty(DATA.nbytes - 1, "u1"))


@pytest.mark.parametrize("setting", [None, False])  # numcodecs' default; zarr-python sets False
def test_no_blosc_threads_inside_worker_threads(monkeypatch, setting):
    # numcodecs lets Blosc spawn its own pool only from the main thread
    monkeypatch.setattr(numcodecs.blosc, "use_threads", setting)
    with cuzarr.config.set(threads=4):
        seen = parallel_map(
            lambda _: (threading.current_thread().name, numcodecs.blosc._get_use_threads()),
            range(8),
        )
    assert any(name.startswith("cuzarr") for name, _ in seen)
    assert all(not uses for name, uses in seen if name.startswith("cuzarr"))


def test_zarr_python_interop(zp):
    from zarr.codecs import BloscCodec as ZBlosc

    data = np.arange(3000, dtype="<u2") // 5
    codecs, raw = zp.write(data, compressors=[ZBlosc(cname="lz4", clevel=5)])
    assert codecs[-1] == {
        "name": "blosc",
        "configuration": {
            "typesize": 2,
            "cname": "lz4",
            "clevel": 5,
            "shuffle": "shuffle",
            "blocksize": 0,
        },
    }
    codec = codec_from_v3(codecs[-1])
    spec = ChunkSpec(data.shape, data.dtype, 0)
    assert bytes(codec.decode_chunk(raw, spec)) == data.tobytes()
    assert codec.encode_chunk(data.view("u1"), spec) == raw
    np.testing.assert_array_equal(
        zp.read(raw, data.shape, data.dtype, compressors=[codecs[-1]]), data
    )


def test_zarr_python_numcodecs_blosc(zp):
    import zarr.codecs.numcodecs as znc

    data = np.arange(3000, dtype="<u2") // 5
    codecs, raw = zp.write(data, compressors=[znc.Blosc(cname="zstd", shuffle=2)])
    assert codecs[-1] == {
        "name": "numcodecs.blosc",
        "configuration": {"cname": "zstd", "shuffle": 2},
    }
    assert raw[3] == 1  # zarr-python hands numcodecs the raw bytes: typesize 1
    codec = codec_from_v3(codecs[-1])
    spec = ChunkSpec(data.shape, data.dtype, 0)
    assert bytes(codec.decode_chunk(raw, spec)) == data.tobytes()
    mine = codec.encode_chunk(data.view("u1"), spec)  # typesize 2 here: still reads back there
    np.testing.assert_array_equal(
        zp.read(mine, data.shape, data.dtype, compressors=[codecs[-1]]), data
    )


def test_tensorstore_interop(tstore):
    from zarr.codecs import BloscCodec as ZBlosc

    data = np.arange(3000, dtype="<i4") // 3
    codec = BloscCodec("zstd", 5, "bitshuffle", typesize=4)
    mine = codec.encode_chunk(data.view("u1"), SPEC)
    np.testing.assert_array_equal(
        tstore.read(mine, data.shape, data.dtype, compressors=[ZBlosc()]), data
    )
    raw = tstore.write(
        data, [{"name": "bytes", "configuration": {"endian": "little"}}, codec.to_v3()]
    )
    assert bytes(BloscCodec().decode_chunk(raw, SPEC)) == data.tobytes()
