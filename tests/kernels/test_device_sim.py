"""pipeline/device.py's orchestration, run on the CPU: numpy buffers stand in for cupy,
CPU decoders for nvCOMP, numba's CUDA simulator runs the kernels.

This is not a GPU test (tests/gpu is): it shows that the planning, the one-buffer
layouts, the kernel launches, the host fallbacks and the scatter of DeviceReader fit
together and give what the CPU path gives. What it cannot show: that cupy, nvCOMP and
numba-cuda behave on a device as the documented APIs say they do.
"""

import collections
import contextlib
import ctypes
import zlib

import numcodecs.lz4
import numcodecs.zstd
import numpy as np
import pytest

pytest.importorskip("numba")

import cuzarr  # noqa: E402
from cuzarr import indexing  # noqa: E402
from cuzarr.errors import ChecksumError, UnsupportedError  # noqa: E402
from cuzarr.pipeline import device  # noqa: E402

DECODERS = {  # what nvCOMP's RAW decoders do, on the CPU
    "LZ4": lambda stream, n: numcodecs.lz4.decompress(n.to_bytes(4, "little") + stream),
    "Zstd": lambda stream, n: numcodecs.zstd.decompress(stream),
    "Deflate": lambda stream, n: zlib.decompress(stream, -15),
}


class CpuReader(device.DeviceReader):
    def _open_device(self):
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        self._fake = FakeCUDAArray  # wraps without copying: kernels see the real memory
        self.stream = contextlib.nullcontext()
        self.nb_stream = 0
        self.device_array = np.ndarray
        self.nvcomp_calls = collections.Counter()

    def _empty(self, nbytes):
        return np.full(max(nbytes, device.OUT_ALIGN), 0xEE, dtype=np.uint8)

    def _pinned(self, nbytes):
        return np.empty(nbytes, dtype=np.uint8)

    def _copy_in(self, dev, host):
        dev[...] = host

    def _dev(self, array):
        return self._fake(array) if isinstance(array, np.ndarray) else array

    def _nvcomp_decode(self, algorithm, ins, outs):
        self.nvcomp_calls[algorithm] += 1
        sizes = []
        for src, dst in zip(ins, outs):
            data = np.frombuffer(DECODERS[algorithm](src.tobytes(), len(dst)), np.uint8)
            dst[: len(data)] = data[: len(dst)]
            sizes.append(len(data))
        return sizes

    def _to_host(self, dev):
        return dev

    def _synchronize(self):
        pass

    def _flat_target(self, arr):
        lo, span = device._span(arr)
        address = arr.__array_interface__["data"][0] + lo
        flat = np.ctypeslib.as_array((ctypes.c_uint8 * span).from_address(address))
        return flat, -lo, device._alignment(address)


def device_read(array, selection, reader=None, vectorized=False):
    """Read ``selection`` the way the device path will: DeviceReader.read_batch per batch."""
    reader = reader or CpuReader(array._io)
    select = indexing.vectorized_selection if vectorized else indexing.orthogonal_selection
    sel = select(selection, array.shape, array._io.dims)
    out = np.full(sel.out_shape, 123, dtype=array.dtype)
    for batch in array._io.batches(sel.projections):
        reader.read_batch(batch, sel.out_view(out))
    return out, reader


DATA = (np.arange(21 * 30).reshape(21, 30) % 97).astype("<u2")
SELECTIONS = [
    (slice(None), slice(None)),
    (slice(2, 19, 3), slice(29, 0, -4)),
    (5, slice(3, 25)),
]
CODECS = {
    "zstd": dict(compressors=[{"name": "zstd", "configuration": {"level": 1}}]),
    "gzip": dict(compressors=[{"name": "gzip", "configuration": {"level": 1}}]),
    "zlib": dict(compressors=[{"name": "numcodecs.zlib", "configuration": {"level": 1}}]),
    "lz4": dict(compressors=[{"name": "numcodecs.lz4"}]),
    "blosc-lz4": dict(compressors=[{"name": "blosc", "configuration": {"cname": "lz4", "shuffle": "shuffle", "blocksize": 128}}]),
    "blosc-zstd-bit": dict(compressors=[{"name": "blosc", "configuration": {"cname": "zstd", "shuffle": "bitshuffle"}}]),
    "blosc-zlib": dict(compressors=[{"name": "blosc", "configuration": {"cname": "zlib", "shuffle": "shuffle"}}]),
    "big-endian+crc32c": dict(serializer={"name": "bytes", "configuration": {"endian": "big"}},
                              compressors=[{"name": "crc32c"}]),
    "raw": dict(compressors=None),
    "sharded": dict(shards=(20, 16), compressors=[{"name": "zstd", "configuration": {"level": 1}}]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CODECS))
def test_device_reads_equal_cpu_reads(name):
    with cuzarr.config.set(batch_chunks=4):  # several batches per read
        a = cuzarr.create_array(
            {}, shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype, fill_value=5, **CODECS[name]
        )
        a[:20] = DATA[:20]  # the last row of chunks stays missing: fill value
        reader = None
        for selection in SELECTIONS:
            got, reader = device_read(a, selection, reader)
            np.testing.assert_array_equal(got, a[selection], err_msg=str(selection))
    algorithm = {"zstd": "Zstd", "gzip": "Deflate", "zlib": "Deflate", "lz4": "LZ4", "blosc-lz4": "LZ4",
                 "blosc-zstd-bit": "Zstd", "blosc-zlib": "Deflate", "sharded": "Zstd"}.get(name)  # fmt: skip
    assert (sum(reader.nvcomp_calls.values()) > 0) == (algorithm is not None)
    assert set(reader.nvcomp_calls) <= {algorithm}


def test_vindex_goes_through_per_chunk_indexing():
    a = cuzarr.create_array({}, shape=DATA.shape, chunks=(7, 8), dtype=DATA.dtype, data=DATA)
    points = (np.array([0, 20, 7, 3]), np.array([29, 0, 8, 8]))
    got, _ = device_read(a, points, vectorized=True)
    np.testing.assert_array_equal(got, DATA[points])


def test_host_fallbacks_are_counted():
    device.HOST_FALLBACKS.clear()
    blosclz = [{"name": "blosc", "configuration": {"cname": "blosclz", "shuffle": "shuffle"}}]
    a = cuzarr.create_array(
        {}, shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype, data=DATA, compressors=blosclz
    )
    got, reader = device_read(a, (slice(None), slice(None)))
    np.testing.assert_array_equal(got, DATA)
    assert device.HOST_FALLBACKS["BloscLZ has no device decoder"] == 6
    assert not reader.nvcomp_calls

    # a zstd frame without a content size (a streaming writer's), hand-made: raw blocks
    z = cuzarr.create_array(
        {}, shape=(4, 4), chunks=(4, 4), dtype="u1", data=np.arange(16).reshape(4, 4)
    )
    key = "c/0/0"
    payload = bytes(range(16))
    frame = b"\x28\xb5\x2f\xfd" + b"\x00\x00" + ((16 << 3) | 1).to_bytes(3, "little") + payload
    z.store.set(key, frame)
    got, _ = device_read(z, (slice(None), slice(None)))
    np.testing.assert_array_equal(got, np.arange(16).reshape(4, 4))
    assert device.HOST_FALLBACKS["zstd frame without a content size"] == 1


def test_crc32c_mismatch_is_an_error():
    a = cuzarr.create_array(
        {}, shape=(8,), chunks=(4,), dtype="u1", data=np.arange(8), compressors=[{"name": "crc32c"}]
    )
    store = a.store
    bad = bytearray(bytes(memoryview(store.get("c/1")).cast("B")))
    bad[0] ^= 1
    store.set("c/1", bytes(bad))
    with pytest.raises(ChecksumError, match="c/1"):
        device_read(a, (slice(None),))


def test_unsupported_chains_are_refused():
    a = cuzarr.create_array(
        {},
        shape=(8, 8),
        chunks=(4, 4),
        dtype="u1",
        filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}],
    )
    with pytest.raises(UnsupportedError, match="device"):
        CpuReader(a._io)
