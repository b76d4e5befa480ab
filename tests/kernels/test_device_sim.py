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
import os
import threading
import zlib

import numcodecs.lz4
import numcodecs.zstd
import numpy as np
import pytest

pytest.importorskip("numba")

import cuzarr  # noqa: E402
from cuzarr import indexing  # noqa: E402
from cuzarr.errors import ChecksumError, CorruptChunkError, UnsupportedError  # noqa: E402
from cuzarr.pipeline import device, device_check  # noqa: E402
from cuzarr.pipeline import device_plan as dp  # noqa: E402

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
        self.file_reads = 0
        self.ordered_reads = 0
        self.read_threads = set()

    def _empty(self, nbytes):
        return np.full(max(nbytes, device.OUT_ALIGN), 0xEE, dtype=np.uint8)

    _empty_for_reads = _empty

    def _pinned(self, nbytes):
        return np.empty(nbytes, dtype=np.uint8)

    def _copy_in(self, dev, host):
        dev[...] = host

    def _dev(self, array):
        return self._fake(array) if isinstance(array, np.ndarray) else array

    def _nvcomp_decode(self, algorithm, src, src_offsets, lengths, dst, dst_offsets, sizes):
        self.nvcomp_calls[algorithm] += 1
        got = []
        for s, n, d, size in zip(src_offsets, lengths, dst_offsets, sizes):
            stream = src[s : s + n].tobytes()
            if algorithm == "Zstd" and dp.zstd_streams(stream, [0], [n]).host[0]:
                got.append(0)  # like nvCOMP's RAW zstd: one frame stating its content size
                continue
            try:
                data = np.frombuffer(DECODERS[algorithm](stream, size), np.uint8)
            except Exception:
                got.append(0)
                continue
            dst[d : d + min(size, len(data))] = data[:size]
            got.append(len(data))
        return got

    def _input_alignment(self, algorithm):
        return self.input_alignment

    input_alignment = 8  # nvCOMP's for Zstd: streams of odd sizes land misaligned

    @staticmethod
    def _kvikio():
        return "os.pread"  # direct reads go through _read_files below

    def _read_files(self, dev, reads):
        self.file_reads += len(reads)
        self.read_threads.add(threading.current_thread().name.split("_")[0])
        got = []
        for path, offset, nbytes, at in reads:
            with open(path, "rb") as f:
                data = os.pread(f.fileno(), nbytes, offset)
            dev[at : at + len(data)] = np.frombuffer(data, np.uint8)
            got.append(len(data))
        return got

    def _to_host(self, dev):
        return dev

    def after_callers_work(self):
        self.ordered_reads += 1

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


# -- local files read straight into device memory (kvikio on a GPU) -------------------------

DIRECT = {
    "zstd": CODECS["zstd"],
    "lz4": CODECS["lz4"],
    "raw": CODECS["raw"],
    "big-endian": dict(serializer={"name": "bytes", "configuration": {"endian": "big"}},
                       compressors=None),
    "sharded": CODECS["sharded"],
}  # fmt: skip


@pytest.mark.parametrize("name", list(DIRECT))
def test_local_files_are_read_straight_into_device_memory(tmp_path, name):
    device.HOST_FALLBACKS.clear()
    with cuzarr.config.set(batch_chunks=4):
        a = cuzarr.create_array(str(tmp_path / "a"), shape=DATA.shape, chunks=(10, 16),
                                dtype=DATA.dtype, fill_value=5, **DIRECT[name])  # fmt: skip
        a[:20] = DATA[:20]
        reader = CpuReader(a._io)
        assert reader.direct
        for selection in SELECTIONS:
            got, reader = device_read(a, selection, reader)
            np.testing.assert_array_equal(got, a[selection], err_msg=str(selection))
    assert reader.file_reads > 0
    assert not device.HOST_FALLBACKS


@pytest.mark.parametrize("align", [1, 8, 4096])
def test_inner_chunks_of_a_shard_come_in_one_read(tmp_path, monkeypatch, align):
    """Direct reads are one request per run of nearby inner chunks; streams that land where
    the decoder cannot take them are moved to aligned slots on the device first."""
    device.HOST_FALLBACKS.clear()
    data = np.random.default_rng(0).integers(0, 1000, (40, 64)).astype("<u2")
    a = cuzarr.create_array(str(tmp_path / "s"), shape=data.shape, chunks=(5, 8), shards=(20, 32),
                            dtype=data.dtype, data=data, **DIRECT["zstd"])  # fmt: skip
    plans = []
    plan_file_reads = dp.plan_file_reads
    monkeypatch.setattr(
        dp, "plan_file_reads", lambda *a: plans.append(plan_file_reads(*a)) or plans[-1]
    )
    reader = CpuReader(a._io)
    reader.input_alignment = align
    got, reader = device_read(a, (slice(None), slice(None)), reader)
    np.testing.assert_array_equal(got, data)
    assert reader.file_reads == 4  # one per shard, 64 inner chunks
    moved = sum(len(p.moves()) for p in plans)
    assert (moved == 0) if align == 1 else (moved > 0)
    with cuzarr.config.set(coalesce_max_gap=0):  # every other inner chunk: no run to merge
        reader.file_reads = 0
        got, reader = device_read(a, (slice(None, None, 10), slice(None, None, 16)), reader)
        np.testing.assert_array_equal(got, data[::10, ::16])
        assert reader.file_reads == 16
    assert not device.HOST_FALLBACKS


def test_chains_the_device_must_parse_are_staged_on_the_host(tmp_path):
    for i, codecs in enumerate([CODECS["gzip"], CODECS["blosc-lz4"], CODECS["big-endian+crc32c"]]):
        a = cuzarr.create_array(str(tmp_path / str(i)), shape=(8,), chunks=(4,), dtype="u2",
                                **codecs)  # fmt: skip
        assert not CpuReader(a._io).direct
    assert not CpuReader(cuzarr.create_array({}, shape=(8,), chunks=(4,), dtype="u2")._io).direct


def test_streams_nvcomp_cannot_decode_go_to_the_host(tmp_path):
    device.HOST_FALLBACKS.clear()
    z = cuzarr.create_array(str(tmp_path / "z"), shape=(4, 8), chunks=(4, 4), dtype="u1",
                            data=np.arange(32).reshape(4, 8))  # fmt: skip
    payload = np.ascontiguousarray(np.arange(32, dtype="u1").reshape(4, 8)[:, 4:]).tobytes()
    # a zstd frame without a content size (a streaming writer's): raw blocks, last flag set
    frame = b"\x28\xb5\x2f\xfd" + b"\x00\x00" + ((16 << 3) | 1).to_bytes(3, "little") + payload
    z.store.set("c/0/1", frame)
    got, reader = device_read(z, (slice(None), slice(None)))
    assert reader.direct
    np.testing.assert_array_equal(got, np.arange(32).reshape(4, 8))
    assert device.HOST_FALLBACKS == {device.NVCOMP_FAILED: 1}
    # the same on the staged path (a memory store): the host planning catches it first
    device.HOST_FALLBACKS.clear()
    m = cuzarr.create_array({}, shape=(4, 8), chunks=(4, 4), dtype="u1",
                            data=np.arange(32).reshape(4, 8))  # fmt: skip
    m.store.set("c/0/1", frame)
    got, _ = device_read(m, (slice(None), slice(None)))
    np.testing.assert_array_equal(got, np.arange(32).reshape(4, 8))
    assert device.HOST_FALLBACKS == {"zstd frame without a content size": 1}


def test_nvcomp_failures_on_the_staged_path_go_to_the_host():
    device.HOST_FALLBACKS.clear()
    a = cuzarr.create_array({}, shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype,
                            data=DATA, **CODECS["blosc-zstd-bit"])  # fmt: skip

    class Refusing(CpuReader):  # nvCOMP refusing whole batches
        def _nvcomp_decode(self, *args):
            raise RuntimeError("nvCOMP status 11")

    got, reader = device_read(a, (slice(None), slice(None)), Refusing(a._io))
    np.testing.assert_array_equal(got, DATA)
    assert device.HOST_FALLBACKS == {device.NVCOMP_FAILED: 6}


def test_a_shard_shorter_than_its_index_says_is_an_error(tmp_path):
    a = cuzarr.create_array(str(tmp_path / "s"), shape=(16,), chunks=(4,), shards=(16,),
                            dtype="u1", data=np.arange(16), compressors=None)  # fmt: skip
    reader = CpuReader(a._io)
    device_read(a, (slice(None),), reader)  # caches the shard index
    path = tmp_path / "s" / "c" / "0"
    path.write_bytes(path.read_bytes()[:10])
    with pytest.raises(CorruptChunkError, match="c/0"):
        device_read(a, (slice(None),), reader)


# -- Array reads with device="gpu", numpy standing in for cupy ------------------------------


@pytest.fixture
def cpu_device(monkeypatch):
    from cuzarr import buffers

    monkeypatch.setattr(buffers, "gpu_unavailable_reason", lambda: None)
    monkeypatch.setitem(device.BACKEND, "reader", CpuReader)
    monkeypatch.setitem(device.BACKEND, "wrap", lambda out: out)
    monkeypatch.setitem(device.BACKEND, "new", lambda shape, dtype: np.full(shape, 77, dtype))
    monkeypatch.setitem(device.BACKEND, "upload", np.array)
    device_check._checked.cache_clear()  # "auto" checks the (stand-in) device afresh
    # smaller arrays for the check: the simulator runs kernels a thread at a time
    monkeypatch.setattr(device_check, "SHAPE", (20, 30))
    monkeypatch.setattr(device_check, "CHUNKS", (8, 12))
    monkeypatch.setattr(device_check, "DTYPES", ("<u2",))
    with cuzarr.config.set(device="cpu"):  # arrays made to be read back: on the CPU
        yield
    device_check._checked.cache_clear()


def test_array_reads_on_the_device(tmp_path, cpu_device):
    cuzarr.create_array(str(tmp_path / "a"), shape=DATA.shape, chunks=(10, 16),
                        dtype=DATA.dtype, data=DATA, **CODECS["sharded"])  # fmt: skip
    a = cuzarr.open_array(str(tmp_path / "a"), device="gpu")
    assert a.device == "gpu"
    assert cuzarr.open_array(str(tmp_path / "a"), device="auto").device == "gpu"  # checked
    np.testing.assert_array_equal(a[:], DATA)
    np.testing.assert_array_equal(a[3:17:2, ::-5], DATA[3:17:2, ::-5])
    assert device._reader(a._io).ordered_reads == 2  # each read waits for the caller's stream
    np.testing.assert_array_equal(a.oindex[[1, 20, 4], 7:9], DATA[[1, 20, 4], 7:9])
    points = (np.array([0, 20, 7]), np.array([29, 0, 8]))
    np.testing.assert_array_equal(a.vindex[points], DATA[points])
    np.testing.assert_array_equal(np.asarray(a), DATA)
    out = np.zeros((30, 21), DATA.dtype).T  # a non-contiguous out=
    assert a.get_basic_selection(..., out=out) is out
    np.testing.assert_array_equal(out, DATA)
    with pytest.raises(cuzarr.errors.IndexingError, match="shape"):
        a.get_basic_selection(..., out=np.zeros((2, 2), DATA.dtype))
    with pytest.raises(cuzarr.errors.IndexingError, match="dtype"):
        a.get_basic_selection(..., out=np.zeros(DATA.shape, "f4"))


def test_chains_without_a_device_decoder_are_read_on_the_host(tmp_path, cpu_device):
    device.HOST_FALLBACKS.clear()
    cuzarr.create_array(str(tmp_path / "t"), shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype,
                        data=DATA, compressors=[{"name": "numcodecs.bz2"}],
                        filters=[{"name": "transpose", "configuration": {"order": [1, 0]}}])  # fmt: skip
    a = cuzarr.open_array(str(tmp_path / "t"), device="gpu")
    np.testing.assert_array_equal(a[2:19, ::2], DATA[2:19, ::2])
    assert device.HOST_FALLBACKS == {device.CHAIN_ON_HOST: 4}  # 2 x 2 chunks
    s = cuzarr.create_array({}, shape=(2,), dtype=str, data=np.array(["a", "b"]))
    with pytest.raises(UnsupportedError, match="device arrays"):
        cuzarr.open_array(s.store, device="gpu")[:]


def test_batches_are_fetched_one_ahead(tmp_path, cpu_device):
    """Several batches: the host fetches batch k+1 on another thread while batch k is
    decoded; results and errors are those of the one-batch-at-a-time read."""
    for name in ("zstd", "sharded", "blosc-lz4"):
        cuzarr.create_array(str(tmp_path / name), shape=DATA.shape, chunks=(10, 16),
                            dtype=DATA.dtype, data=DATA, **CODECS[name])  # fmt: skip
        a = cuzarr.open_array(str(tmp_path / name), device="gpu")
        with cuzarr.config.set(batch_chunks=2):
            np.testing.assert_array_equal(a[:], DATA)
            np.testing.assert_array_equal(a[1:20:3, ::-7], DATA[1:20:3, ::-7])
        if name != "blosc-lz4":  # read straight from the files: batch k+1 lands meanwhile
            assert "device-prefetch" in device._reader(a._io).read_threads
    (tmp_path / "zstd" / "c" / "2" / "1").write_bytes(b"\x28\xb5\x2f\xfd garbage")
    a = cuzarr.open_array(str(tmp_path / "zstd"), device="gpu")
    with cuzarr.config.set(batch_chunks=2), pytest.raises(CorruptChunkError, match="c/2/1"):
        a[:]


DTYPE_CODECS = {
    "zstd": dict(compressors=[{"name": "zstd", "configuration": {"level": 1}}]),
    "blosc-shuffle": dict(compressors=[{"name": "blosc", "configuration": {"cname": "lz4", "shuffle": "shuffle", "blocksize": 64}}]),
    "blosc-bitshuffle": dict(compressors=[{"name": "blosc", "configuration": {"cname": "zstd", "shuffle": "bitshuffle"}}]),
    "raw": dict(compressors=None),
}  # fmt: skip


@pytest.mark.parametrize("dtype", ["bool", "u1", "<i2", "<f4", "<f8", "<c8", ">u2", ">f8", ">c16"])
def test_every_dtype_on_both_fetch_paths(tmp_path, dtype):
    """Byte swapping and unshuffling depend on the item size: each dtype through each
    codec, staged through host memory (memory store) and read from files (local)."""
    values = (np.arange(9 * 13).reshape(9, 13) * 37 % 101 - 50).astype(dtype)
    for name, codecs in DTYPE_CODECS.items():
        big = np.dtype(dtype).byteorder == ">"
        serializer = {"name": "bytes", "configuration": {"endian": "big" if big else "little"}}
        for store in ({}, str(tmp_path / f"{name}.zarr")):
            a = cuzarr.create_array(store, shape=values.shape, chunks=(4, 5), dtype=dtype,
                                    fill_value=1, serializer=serializer, **codecs)  # fmt: skip
            a[:8] = values[:8]
            got, reader = device_read(a, (slice(None), slice(None, None, -2)))
            np.testing.assert_array_equal(got, a[:, ::-2], err_msg=f"{name} {store}")
            assert reader.direct == (isinstance(store, str) and name in ("zstd", "raw"))


def test_nvcomp_scratch_comes_from_the_pool_of_nvcomps_stream():
    """nvCOMP's scratch memory is allocated with nvCOMP's stream current, so cupy's pool
    hands it out again only to work ordered after nvCOMP's on that stream."""
    import types

    current = [0]

    class ExternalStream:
        def __init__(self, ptr):
            self.ptr = ptr

        def __enter__(self):
            self.saved, current[0] = current[0], self.ptr

        def __exit__(self, *exc):
            current[0] = self.saved

    def alloc(nbytes):
        return types.SimpleNamespace(ptr=1, nbytes=nbytes, stream=current[0])

    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(ExternalStream=ExternalStream,
                                                            alloc=alloc))  # fmt: skip
    memory = device._scratch_allocator(cupy)(4096, types.SimpleNamespace(ptr=0xABC))
    assert (memory.nbytes, memory.stream, current[0]) == (4096, 0xABC, 0)


# -- device="auto": the device check -----------------------------------------------------


def _auto_array_with(reader, monkeypatch, caplog, **kwargs):
    """An array created with device="auto" where ``reader`` stands in for the device
    (the check's warnings go to ``caplog``)."""
    monkeypatch.setitem(device.BACKEND, "reader", reader)
    with caplog.at_level("WARNING", logger="cuzarr.pipeline.device_check"):
        return cuzarr.create_array({}, shape=(8,), chunks=(4,), dtype="u1", device="auto",
                                   **kwargs)  # fmt: skip


def test_auto_stays_on_the_cpu_when_device_reads_differ(cpu_device, monkeypatch, caplog):
    class Corrupting(CpuReader):  # a device decoder that gets one byte wrong
        def _nvcomp_decode(self, algorithm, src, src_offsets, lengths, dst, dst_offsets, sizes):
            got = super()._nvcomp_decode(algorithm, src, src_offsets, lengths, dst,
                                         dst_offsets, sizes)  # fmt: skip
            dst[dst_offsets[0]] ^= 1
            return got

    a = _auto_array_with(Corrupting, monkeypatch, caplog, data=np.arange(8))
    assert a.device == "cpu"
    assert "zstd <u2 (memory): the device read differs" in caplog.text
    assert cuzarr.open_array(a.store, device="gpu").device == "gpu"  # asked for: no check
    np.testing.assert_array_equal(a[:], np.arange(8))


def test_auto_stays_on_the_cpu_when_the_device_fails(cpu_device, monkeypatch, caplog):
    class Failing(CpuReader):
        def _open_device(self):
            raise RuntimeError("cudaErrorNoKernelImageForDevice")

    a = _auto_array_with(Failing, monkeypatch, caplog)
    assert a.device == "cpu"
    assert "RuntimeError: cudaErrorNoKernelImageForDevice" in caplog.text


def test_auto_checks_nothing_without_the_gpu_libraries(monkeypatch):
    from cuzarr import buffers

    def fail():
        raise AssertionError("the device check ran")

    monkeypatch.setattr(buffers, "gpu_unavailable_reason", lambda: "cupy is not installed")
    monkeypatch.setattr(device_check, "compare_device_reads", fail)
    device_check._checked.cache_clear()
    assert cuzarr.create_array({}, shape=(8,), chunks=(4,), dtype="u1").device == "cpu"


def test_a_process_forked_after_cuda_was_set_up_reads_on_the_cpu(monkeypatch):
    """Data-loader workers are often forked, and CUDA does not survive fork(): there
    "auto" arrays read on the CPU, and "gpu" ones say why they cannot."""
    from cuzarr import buffers
    from cuzarr.errors import DeviceUnavailableError

    monkeypatch.setattr(buffers, "_probe", lambda: None)  # the GPU libraries are here,
    monkeypatch.setattr(buffers, "_cuda_probed", True)  # CUDA was asked for its devices
    monkeypatch.setattr(device_check, "_checked", lambda: None)  # and the check passed
    a = cuzarr.create_array({}, shape=(8,), chunks=(4,), dtype="u1", data=np.arange(8),
                            device="auto")  # fmt: skip
    g = cuzarr.open_array(a.store, device="gpu")
    assert (a.device, g.device) == ("gpu", "gpu")
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status
        status = 0
        try:
            status |= 1 if a.device != "cpu" else 0
            status |= 2 if not np.array_equal(a[:], np.arange(8)) else 0
            try:
                g[:]
                status |= 4
            except DeviceUnavailableError as e:
                status |= 0 if "forked after CUDA" in str(e) else 8
        except BaseException:
            status = 16
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert a.device == "gpu"  # the parent is unchanged


def test_gzip_members_with_a_file_name_are_decoded_on_the_device():
    """A gzip header is 10 bytes only without optional fields: chunks are packed by their
    real header length, so the DEFLATE data nvCOMP reads starts aligned."""
    import gzip
    import io

    device.HOST_FALLBACKS.clear()
    a = cuzarr.create_array({}, shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype, data=DATA,
                            **CODECS["gzip"])  # fmt: skip
    for key in [k for k in a.store.list_prefix("") if k.startswith("c/")]:
        raw = gzip.decompress(a.store.get(key))
        member = io.BytesIO()
        with gzip.GzipFile(filename=f"{key}.bin", mode="wb", fileobj=member, mtime=0) as f:
            f.write(raw)
        a.store.set(key, member.getvalue())
    got, _ = device_read(a, (slice(None), slice(None)))
    np.testing.assert_array_equal(got, DATA)
    assert not device.HOST_FALLBACKS


@pytest.mark.parametrize("align", [1, 8])
def test_blosc_inner_streams_are_moved_only_where_nvcomp_cannot_read_them(align):
    """Blosc's inner streams are decoded where they lie in the uploaded batch; those at
    addresses the codec's alignment forbids are first copied to aligned slots."""
    plans = []

    class Spying(CpuReader):
        input_alignment = align

        def _plan_blosc(self, *args):
            plans.append(super()._plan_blosc(*args))
            return plans[-1]

    a = cuzarr.create_array({}, shape=DATA.shape, chunks=(10, 16), dtype=DATA.dtype, data=DATA,
                            **CODECS["blosc-lz4"])  # fmt: skip
    got, _ = device_read(a, (slice(None), slice(None)), Spying(a._io))
    np.testing.assert_array_equal(got, DATA)
    moved = sum(len(p.moved) for p in plans)
    assert (moved == 0) if align == 1 else (moved > 0)
    assert all((p.at[p.live & ~p.plan.split_raw] % align == 0).all() for p in plans)


def test_auto_stays_on_the_cpu_when_nvcomp_decodes_nothing(cpu_device, monkeypatch, caplog):
    """Right results, but every chunk decoded on the host: not a usable device."""

    class Refusing(CpuReader):
        def _nvcomp_decode(self, *args):
            raise RuntimeError("nvCOMP status 10")

    a = _auto_array_with(Refusing, monkeypatch, caplog)
    assert a.device == "cpu"
    assert "zstd <u2 (memory): decoded on the host" in caplog.text


def test_a_host_out_for_a_gpu_array_is_refused_clearly():
    from cuzarr.errors import IndexingError

    with pytest.raises(IndexingError, match="ndarray in host memory.*device='cpu'"):
        device.as_device_array(np.zeros(3))
