"""The device read path equals the CPU path: every codec, dtype and layout the device
decodes, whole reads and crops, cupy results and out= (cupy, torch). Needs a GPU (see
conftest.py); nothing here imports cupy at module level, so collection works anywhere."""

from __future__ import annotations

import numpy as np
import pytest

import cuzarr

SHAPE, CHUNKS = (150, 130), (64, 48)  # edge chunks on both axes
SELECTIONS = [
    (slice(None), slice(None)),
    (slice(3, 140, 7), slice(None, None, -3)),
    (77, slice(5, 120)),
    (slice(60, 70), 129),
]
CODECS = {
    "zstd": [{"name": "zstd", "configuration": {"level": 3}}],
    "zstd-checksum": [{"name": "zstd", "configuration": {"level": 1, "checksum": True}}],
    "gzip": [{"name": "gzip", "configuration": {"level": 5}}],
    "zlib": [{"name": "numcodecs.zlib", "configuration": {"level": 1}}],
    "lz4": [{"name": "numcodecs.lz4"}],
    "blosc-lz4-shuffle": [
        {"name": "blosc", "configuration": {"cname": "lz4", "shuffle": "shuffle"}}
    ],
    "blosc-lz4-bitshuffle": [
        {"name": "blosc", "configuration": {"cname": "lz4", "shuffle": "bitshuffle"}}
    ],
    "blosc-zstd": [{"name": "blosc", "configuration": {"cname": "zstd", "shuffle": "shuffle"}}],
    "blosc-zlib": [{"name": "blosc", "configuration": {"cname": "zlib", "shuffle": "noshuffle"}}],
    "blosc-blosclz (host)": [{"name": "blosc", "configuration": {"cname": "blosclz"}}],
    "crc32c": [{"name": "zstd"}, {"name": "crc32c"}],
    "none": None,
}
DTYPES = ["u1", "<i2", "<f4", "<f8", "<c8"]


def data_for(dtype, shape=SHAPE):
    values = (np.arange(int(np.prod(shape))) % 251).reshape(shape)
    return (values * 3 + values // 7).astype(dtype)


def on_gpu(array):
    """The same array opened for device reads."""
    return cuzarr.open_array(array.store, path=array.path, device="gpu")


def gpu_read(array, selection, out=None, vectorized=False):
    """Read with the device path into a new cupy array (or ``out``)."""
    g = on_gpu(array)
    if vectorized:
        return g.get_coordinate_selection(selection, out=out)
    return g.get_orthogonal_selection(selection, out=out)


def check(array, selection, **kw):
    import cupy

    got = gpu_read(array, selection, **kw)
    want = array.vindex[selection] if kw.get("vectorized") else array[selection]
    np.testing.assert_array_equal(cupy.asnumpy(got), want, err_msg=str(selection))


@pytest.mark.parametrize("codec", list(CODECS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_codecs_and_dtypes(codec, dtype):
    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype=dtype, fill_value=7,
                            compressors=CODECS[codec])  # fmt: skip
    a[:128] = data_for(dtype)[:128]  # the last row of chunks is missing: fill value
    for selection in SELECTIONS:
        check(a, selection)


@pytest.mark.parametrize("dtype", [">u2", ">f8", ">c16"])
def test_big_endian(dtype):
    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype=dtype, data=data_for(dtype),
                            serializer={"name": "bytes", "configuration": {"endian": "big"}})  # fmt: skip
    for selection in SELECTIONS:
        check(a, selection)


@pytest.mark.parametrize("inner", ["zstd", "lz4", "blosc-lz4-shuffle"])
def test_sharded(inner):
    a = cuzarr.create_array({}, shape=(256, 192), chunks=(32, 48), shards=(128, 96), dtype="<u2",
                            compressors=CODECS[inner])  # fmt: skip
    a[:200, :150] = data_for("<u2", (200, 150))  # some inner chunks empty
    for selection in SELECTIONS:
        check(a, selection)


def test_zarr_v2_blosc_written_by_zarr_python(tmp_path):
    zarr = pytest.importorskip("zarr")
    numcodecs = pytest.importorskip("numcodecs")
    path = str(tmp_path / "v2.zarr")
    z = zarr.create_array(path, shape=SHAPE, chunks=CHUNKS, dtype="<f4", zarr_format=2,
                          compressors=numcodecs.Blosc("lz4", 5, numcodecs.Blosc.SHUFFLE))  # fmt: skip
    z[:] = data_for("<f4")
    a = cuzarr.open_array(path)
    for selection in SELECTIONS:
        check(a, selection)


def test_vindex_points():
    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype="<i4", data=data_for("<i4"))
    check(a, (np.array([0, 149, 64, 3]), np.array([129, 0, 48, 47])), vectorized=True)


def test_out_cupy_and_torch():
    import cupy

    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype="<f4", data=data_for("<f4"))
    out = cupy.zeros(SHAPE, dtype="<f4")
    assert gpu_read(a, (slice(None), slice(None)), out=out) is out
    np.testing.assert_array_equal(cupy.asnumpy(out), data_for("<f4"))
    torch = pytest.importorskip("torch")
    t = torch.zeros(SHAPE, dtype=torch.float32, device="cuda")
    gpu_read(a, (slice(None), slice(None)), out=t)
    np.testing.assert_array_equal(t.cpu().numpy(), data_for("<f4"))
    with pytest.raises(cuzarr.errors.IndexingError, match="host memory"):
        gpu_read(a, (slice(None), slice(None)), out=np.zeros(SHAPE, "<f4"))


@pytest.mark.parametrize("library", ["cupy", "torch"])
def test_reads_wait_for_work_queued_on_the_callers_stream(library):
    """out= still being filled by queued kernels (the caller's stream, the batch stream is
    another): the read's writes must come after them, not be overwritten by them."""
    import cupy

    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype="<f4", data=data_for("<f4"))
    if library == "cupy":
        out, big = cupy.empty(SHAPE, dtype="<f4"), cupy.empty(2**26, dtype="<f4")
        fill_out, fill_big = out.fill, big.fill
    else:
        torch = pytest.importorskip("torch")
        out = torch.empty(SHAPE, dtype=torch.float32, device="cuda")
        big = torch.empty(2**26, dtype=torch.float32, device="cuda")
        fill_out, fill_big = out.fill_, big.fill_
    for _ in range(300):  # tens of milliseconds of work queued before the read
        fill_big(1.0)
        fill_out(-1.0)
    gpu_read(a, (slice(None), slice(None)), out=out)
    got = cupy.asnumpy(out) if library == "cupy" else out.cpu().numpy()
    np.testing.assert_array_equal(got, data_for("<f4"))


@pytest.mark.parametrize("codec", ["zstd", "lz4", "none", "blosc-lz4-shuffle", "gzip"])
@pytest.mark.parametrize("sharded", [False, True])
def test_local_files(tmp_path, codec, sharded):
    """Local stores: zstd, lz4 and uncompressed chunks go straight from the files into
    device memory (kvikio); the others are staged through pinned host memory."""
    from cuzarr.pipeline import device

    device.HOST_FALLBACKS.clear()
    shards = dict(shards=(128, 96)) if sharded else {}
    a = cuzarr.create_array(str(tmp_path / "a"), shape=SHAPE, chunks=CHUNKS, dtype="<u2",
                            compressors=CODECS[codec], **shards)  # fmt: skip
    a[:140] = data_for("<u2")[:140]
    for selection in SELECTIONS:
        check(a, selection)
    with cuzarr.config.set(batch_chunks=2):  # batch k+1 lands while batch k decodes
        for selection in SELECTIONS:
            check(a, selection)
    assert not device.HOST_FALLBACKS


def test_array_api_returns_cupy_and_writes_take_device_arrays(tmp_path):
    import cupy

    a = cuzarr.create_array(str(tmp_path / "a"), shape=SHAPE, chunks=CHUNKS, dtype="<f4",
                            device="gpu")  # fmt: skip
    a[...] = cupy.asarray(data_for("<f4"))  # a device array written (encoded on the host)
    got = a[10:20, ::3]
    assert isinstance(got, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(got), data_for("<f4")[10:20, ::3])
    np.testing.assert_array_equal(np.asarray(a), data_for("<f4"))


def test_host_fallbacks_are_counted_and_right():
    from cuzarr.pipeline import device

    device.HOST_FALLBACKS.clear()
    a = cuzarr.create_array({}, shape=SHAPE, chunks=CHUNKS, dtype="<u4", data=data_for("<u4"),
                            compressors=CODECS["blosc-blosclz (host)"])  # fmt: skip
    check(a, (slice(None), slice(None)))
    assert device.HOST_FALLBACKS["BloscLZ has no device decoder"] == 9  # 3 x 3 chunks


def test_kernels_on_the_device():
    """Each kernel with cupy buffers on the device equals its numpy reference."""
    import cupy
    from numba import cuda

    from cuzarr.codecs import blosc_plan as ref
    from cuzarr.kernels.bitshuffle import bit_unshuffle
    from cuzarr.kernels.crc32c import crc32c
    from cuzarr.kernels.shuffle import byte_unshuffle

    rng = np.random.default_rng(0)
    sizes = np.array([0, 5, 64, 67, 4096, 40000], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    typesizes = np.array([4, 2, 8, 4, 4, 8], dtype=np.int64)
    host = rng.integers(0, 256, int(sizes.sum()), dtype=np.uint8)
    src, dst = cupy.asarray(host), cupy.zeros(len(host), dtype=np.uint8)
    args = [
        cuda.as_cuda_array(x)
        for x in (src, dst, *map(cupy.asarray, (offsets, offsets, sizes, typesizes)))
    ]
    for kernel, reference in (
        (byte_unshuffle, ref.byte_unshuffle),
        (bit_unshuffle, ref.bit_unshuffle),
    ):
        kernel(*args, max_size=int(sizes.max()))
        want = np.concatenate(
            [reference(host[o : o + n], int(t)) for o, n, t in zip(offsets, sizes, typesizes)]
        )
        np.testing.assert_array_equal(cupy.asnumpy(dst), want)
    import crc32c as crc32c_package

    out = cupy.zeros(len(sizes), dtype=np.uint32)
    crc32c(
        cuda.as_cuda_array(src), cupy.asarray(offsets), cupy.asarray(sizes), cuda.as_cuda_array(out)
    )
    want = [crc32c_package.crc32c(host[o : o + n].tobytes()) for o, n in zip(offsets, sizes)]
    assert cupy.asnumpy(out).tolist() == want


def test_auto_picks_the_gpu_after_the_device_check(tmp_path):
    """The device check behind device="auto" passes here (every codec family, memory
    and local files), so "auto" reads on the GPU; strings stay on the CPU."""
    from cuzarr.pipeline import device_check

    device_check._checked.cache_clear()
    assert device_check.compare_device_reads() is None
    a = cuzarr.create_array(str(tmp_path / "a"), shape=SHAPE, chunks=CHUNKS, dtype="<u2",
                            data=data_for("<u2"), device="auto")  # fmt: skip
    assert a.device == "gpu"
    s = cuzarr.create_array({}, shape=(2,), dtype=str, device="auto")
    assert s.device == "cpu"
