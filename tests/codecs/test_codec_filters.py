import warnings

import numcodecs
import numpy as np
import pytest

from cuzarr.codecs import ChunkSpec, as_codec, codec_from_v2, codec_from_v3
from cuzarr.codecs.filters import (
    AsTypeCodec,
    BitRoundCodec,
    DeltaCodec,
    FixedScaleOffsetCodec,
    PackBitsCodec,
    QuantizeCodec,
)
from cuzarr.errors import CorruptChunkError, MetadataError

RNG = np.random.default_rng(0)
FLOATS = (1000 + np.cumsum(RNG.normal(0, 0.3, 600))).reshape(6, 10, 10)
INTS = np.cumsum(RNG.integers(-3, 4, 600)).astype("<i4").reshape(20, 30)
BOOLS = RNG.integers(0, 2, 77).astype(bool).reshape(7, 11)

# (cuzarr codec, equivalent numcodecs codec, sample data)
CASES = {
    "delta": (DeltaCodec("<i4"), numcodecs.Delta("<i4"), INTS),
    "delta-astype": (DeltaCodec("<i4", "<i2"), numcodecs.Delta("<i4", "<i2"), INTS),
    "delta-float": (DeltaCodec("<f8"), numcodecs.Delta("<f8"), FLOATS),
    "delta-u1-wraps": (DeltaCodec("|u1"), numcodecs.Delta("|u1"), (INTS % 256).astype("u1")),
    "fixedscaleoffset": (
        FixedScaleOffsetCodec(offset=1000, scale=10, dtype="<f8", astype="<i2"),
        numcodecs.FixedScaleOffset(offset=1000, scale=10, dtype="<f8", astype="<i2"),
        FLOATS,
    ),
    "quantize": (QuantizeCodec(2, "<f8"), numcodecs.Quantize(2, "<f8"), FLOATS),
    "quantize-astype": (
        QuantizeCodec(1, "<f8", "<f4"),
        numcodecs.Quantize(1, "<f8", "<f4"),
        FLOATS,
    ),
    "bitround": (BitRoundCodec(7), numcodecs.BitRound(7), FLOATS.astype("f4")),
    "bitround-f2": (BitRoundCodec(3), numcodecs.BitRound(3), FLOATS.astype("f2")),
    "bitround-f8-all": (BitRoundCodec(52), numcodecs.BitRound(52), FLOATS),
    "astype": (AsTypeCodec("<f4", "<f8"), numcodecs.AsType("<f4", "<f8"), FLOATS),
    "astype-int": (AsTypeCodec("<i2", "<i4"), numcodecs.AsType("<i2", "<i4"), INTS),
    "packbits": (PackBitsCodec(), numcodecs.PackBits(), BOOLS),
}


def spec_of(data, fill=0):
    return ChunkSpec(data.shape, data.dtype, fill)


@pytest.mark.parametrize("name", CASES)
def test_matches_numcodecs(name):
    ours, theirs, data = CASES[name]
    spec = spec_of(data)
    ours.validate(spec)
    encoded = ours.encode_chunk(data, spec)
    resolved = ours.resolve(spec)
    assert encoded.shape == resolved.shape and encoded.dtype == resolved.dtype
    expected = np.asarray(theirs.encode(data))
    assert encoded.tobytes() == expected.tobytes()  # same values in the same (native) layout
    decoded = ours.decode_chunk(encoded, spec)
    assert decoded.shape == spec.shape and decoded.dtype == spec.dtype
    np.testing.assert_array_equal(decoded, np.asarray(theirs.decode(expected)).reshape(spec.shape))


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("shape", [(0,), (1,), (3, 0), (5, 3)])
def test_round_trip_shapes(name, shape):
    ours, _, data = CASES[name]
    small = data.reshape(-1)[: int(np.prod(shape))].reshape(shape)
    spec = spec_of(small)
    encoded = ours.encode_chunk(small, spec)
    resolved = ours.resolve(spec)
    assert encoded.shape == resolved.shape and encoded.dtype == resolved.dtype
    decoded = ours.decode_chunk(encoded, spec)
    assert decoded.shape == shape and decoded.dtype == small.dtype
    if name in (
        "delta",
        "delta-astype",
        "delta-u1-wraps",
        "astype-int",
        "packbits",
        "bitround-f8-all",
        "delta-float",
    ):
        np.testing.assert_array_equal(decoded, small)  # lossless ones


def test_lossy_ones_are_close():
    for name, tol in [
        ("fixedscaleoffset", 0.05),
        ("quantize", 0.01),
        ("bitround", 2.0),
        ("astype", 1e-3),
    ]:
        ours, _, data = CASES[name]
        spec = spec_of(data)
        np.testing.assert_allclose(
            ours.decode_chunk(ours.encode_chunk(data, spec), spec), data, atol=tol
        )


def test_resolve():
    i4 = ChunkSpec((4, 5), np.dtype("i4"), 7)
    assert DeltaCodec("<i4", "<i2").resolve(i4) == ChunkSpec((4, 5), np.dtype("i2"), 7)
    assert DeltaCodec(">i4").resolve(i4).dtype == np.dtype("i4")  # byte order is the bytes codec's
    f8 = ChunkSpec((4, 5), np.dtype("f8"), 1000.25)
    fso = FixedScaleOffsetCodec(offset=1000, scale=10, dtype="<f8", astype="|u1").resolve(f8)
    assert fso.dtype == np.dtype("u1") and fso.fill_value == 2  # round(2.5) to even
    assert AsTypeCodec("<f4", "<f8").resolve(f8) == ChunkSpec((4, 5), np.dtype("f4"), 1000.25)
    assert QuantizeCodec(1, "<f8", "<f4").resolve(f8).dtype == np.dtype("f4")
    assert BitRoundCodec(3).resolve(f8).dtype == np.dtype("f8")
    assert PackBitsCodec().resolve(ChunkSpec((3, 7), np.dtype(bool), True)) == ChunkSpec(
        (4,), np.dtype("u1"), 0
    )
    assert PackBitsCodec().resolve(ChunkSpec((16,), np.dtype(bool), False)).shape == (3,)
    assert DeltaCodec("<i4").resolve(ChunkSpec((2,), np.dtype("i4"), None)).fill_value is None


def test_dtype_from_the_array():
    f4 = ChunkSpec((10,), np.dtype("f4"), 0)
    data = np.linspace(0, 1, 10, dtype="f4")
    delta = codec_from_v3({"name": "numcodecs.delta", "configuration": {}})
    np.testing.assert_array_equal(delta.decode_chunk(delta.encode_chunk(data, f4), f4), data)
    assert delta.evolve(f4) == DeltaCodec("<f4")
    assert delta.evolve(f4).to_v3() == {
        "name": "numcodecs.delta",
        "configuration": {"dtype": "<f4", "astype": "<f4"},
    }
    fso = FixedScaleOffsetCodec(offset=0, scale=100, astype="<i2")
    assert fso.resolve(f4).dtype == np.dtype("i2") and fso.evolve(f4).dtype == np.dtype("f4")
    assert AsTypeCodec("<f2").evolve(f4) == AsTypeCodec("<f2", "<f4")


def test_same_size_dtype_reinterprets_like_numcodecs():
    data = np.linspace(-3, 3, 50, dtype="<f4")
    codec, theirs = DeltaCodec("<i4"), numcodecs.Delta("<i4")
    spec = spec_of(data)
    encoded = codec.encode_chunk(data, spec)
    assert encoded.dtype == np.dtype("i4") and encoded.tobytes() == theirs.encode(data).tobytes()
    np.testing.assert_array_equal(codec.decode_chunk(encoded, spec), data)
    with pytest.raises(MetadataError, match="delta"):
        DeltaCodec("<i2").validate(spec)


def test_validation():
    with pytest.raises(MetadataError, match="packbits"):
        PackBitsCodec().validate(spec_of(INTS))
    with pytest.raises(MetadataError, match="bitround"):
        BitRoundCodec(3).validate(spec_of(INTS))
    with pytest.raises(MetadataError, match="bitround.*keepbits"):
        BitRoundCodec(24).validate(spec_of(FLOATS.astype("f4")))
    with pytest.raises(MetadataError, match="quantize"):
        QuantizeCodec(2, "<i4")
    with pytest.raises(MetadataError, match="quantize"):
        QuantizeCodec(2).validate(spec_of(INTS))
    with pytest.raises(MetadataError, match="delta.*dtype"):
        DeltaCodec("not a dtype")
    with pytest.raises(MetadataError, match="object"):
        AsTypeCodec("O")
    with pytest.raises(MetadataError, match="fixedscaleoffset.*scale"):
        FixedScaleOffsetCodec(offset=0, scale="10")
    with pytest.raises(MetadataError):
        codec_from_v3({"name": "numcodecs.astype", "configuration": {}})  # encode_dtype required


def test_packbits_corrupt():
    spec = spec_of(BOOLS)
    encoded = PackBitsCodec().encode_chunk(BOOLS, spec)
    for bad in (encoded[:-1], np.concatenate([[encoded[0] + 1], encoded[1:]]).astype("u1")):
        with pytest.raises(CorruptChunkError, match="packbits"):
            PackBitsCodec().decode_chunk(bad, spec)


def test_packbits_layout():
    bits = np.array([1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1], bool)
    assert PackBitsCodec().encode_chunk(bits, spec_of(bits)).tolist() == [5, 0x80, 0xE0]


@pytest.mark.parametrize("name", CASES)
def test_json_forms(name):
    ours, theirs, _ = CASES[name]
    assert ours.to_v2() == theirs.get_config()
    assert as_codec(theirs) == ours == codec_from_v2(theirs.get_config())
    v3 = ours.to_v3()
    assert v3["name"] == "numcodecs." + theirs.codec_id and "configuration" in v3
    assert codec_from_v3(v3) == ours == as_codec(v3)


def test_bitround_registry_name():
    assert codec_from_v3({"name": "bitround", "configuration": {"keepbits": 4}}) == BitRoundCodec(4)


# -- zarr-python v3 arrays: the same bytes either way --------------------------------------


def bytes_codec():
    from cuzarr.codecs.bytes import BytesCodec

    return BytesCodec("little")


def write_v3(codec, data):
    spec = spec_of(data)
    encoded = codec.encode_chunk(data, spec)
    inner = codec.resolve(spec)
    return bytes(bytes_codec().encode_chunk(encoded, inner))


def read_v3(codec, raw, spec):
    return codec.decode_chunk(bytes_codec().decode_chunk(raw, codec.resolve(spec)), spec)


ZARR_CASES = {
    "delta": ("Delta", {"dtype": "<i4"}, INTS),
    "delta-astype": ("Delta", {"dtype": "<i4", "astype": "<i2"}, INTS),
    "fixedscaleoffset": (
        "FixedScaleOffset",
        {"offset": 1000, "scale": 10, "dtype": "<f8", "astype": "<u2"},
        FLOATS,
    ),
    "fixedscaleoffset-nodtype": (
        "FixedScaleOffset",
        {"offset": 1000, "scale": 10, "astype": "<u2"},
        FLOATS,
    ),
    "quantize": ("Quantize", {"digits": 2, "dtype": "<f8"}, FLOATS),
    "quantize-astype": ("Quantize", {"digits": 2, "dtype": "<f8", "astype": "<f4"}, FLOATS),
    "bitround": ("BitRound", {"keepbits": 5}, FLOATS.astype("f4")),
    "packbits": ("PackBits", {}, BOOLS),
    "astype": ("AsType", {"encode_dtype": "<f4", "decode_dtype": "<f8"}, FLOATS),
}


@pytest.mark.parametrize("name", ZARR_CASES)
def test_zarr_python_v3_bytes(zp, name):
    import zarr.codecs.numcodecs as znc

    cls_name, config, data = ZARR_CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zfilter = getattr(znc, cls_name)(**config)
    codecs, raw = zp.write(data, filters=[zfilter])
    assert codecs[0]["name"] == "numcodecs." + cls_name.lower()
    codec = codec_from_v3(codecs[0])
    spec = spec_of(data)
    assert write_v3(codec, data) == raw  # we write exactly zarr-python's bytes
    expected = np.asarray(
        numcodecs.get_codec({"id": cls_name.lower(), **codecs[0]["configuration"]}).decode(
            np.frombuffer(raw, codec.resolve(spec).dtype)
        )
    ).reshape(spec.shape)
    np.testing.assert_array_equal(read_v3(codec, raw, spec), expected)
    if name != "quantize-astype":  # zarr-python 3.1.6 cannot read that one back itself
        np.testing.assert_array_equal(
            zp.read(raw, data.shape, data.dtype, filters=[codec.to_v3()]), expected
        )


@pytest.mark.parametrize("order", ["<", ">"])
def test_zarr_python_v2_bytes(order):
    """v2: filters, then the dtype's byte order, then the compressor, which takes its type
    size from the filtered spec; byte-identical with zarr-python, big-endian included."""
    import json

    import zarr
    from zarr.storage import MemoryStore

    dtype = order + "i4"
    data = (np.arange(600) // 3).astype(dtype).reshape(20, 30)
    store: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        arr = zarr.create_array(
            store=MemoryStore(store),
            shape=data.shape,
            chunks=data.shape,
            dtype=dtype,
            zarr_format=2,
            filters=[numcodecs.Delta(dtype=dtype, astype=order + "i2")],
            compressors=numcodecs.Blosc("zstd", 3, numcodecs.Blosc.SHUFFLE),
            fill_value=0,
        )
    arr[...] = data
    meta = json.loads(store[".zarray"].to_bytes())
    raw = store["0.0"].to_bytes()
    delta, blosc = codec_from_v2(meta["filters"][0]), codec_from_v2(meta["compressor"])
    from cuzarr.codecs.bytes import BytesCodec

    serializer = BytesCodec("little" if order == "<" else "big")
    spec = ChunkSpec(data.shape, np.dtype("i4"), 0)
    inner = delta.resolve(spec)
    decoded = serializer.decode_chunk(blosc.decode_chunk(raw, inner), inner)
    np.testing.assert_array_equal(delta.decode_chunk(decoded, spec), data)
    encoded = delta.encode_chunk(data.astype("i4"), spec)
    assert bytes(blosc.encode_chunk(serializer.encode_chunk(encoded, inner), inner)) == raw
