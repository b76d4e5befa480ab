"""The device read path: encoded chunks -> one device buffer -> nvCOMP -> kernels -> output.

**This module has not run on a GPU yet.** It is written against the APIs of cupy,
nvCOMP's Python module (``nvidia.nvcomp`` 6, RAW bitstreams, batches carved from one
buffer by ``as_arrays``), kvikio and numba-cuda. What it relies on is tested on the CPU:
the host planning (:mod:`cuzarr.pipeline.device_plan`, :mod:`cuzarr.codecs.blosc_plan`,
proven byte-exact against c-blosc), every kernel of ``cuzarr.kernels`` under numba's CUDA
simulator, and this module's orchestration with numpy and CPU decoders standing in for
cupy, nvCOMP and kvikio. ``Array`` reads come here for arrays opened with device="gpu".

Per batch, on one CUDA stream:

1. the encoded chunks land in one device buffer, each RAW payload aligned: read from
   local files straight into it by kvikio when the chain lets the device find the RAW
   stream without looking at it (zstd, lz4, no compressor), one request per run of nearby
   inner chunks of a shard, streams that land misaligned for nvCOMP moved by a copy
   kernel; otherwise fetched on the host (whole chunks, or the inner chunks of shards,
   whose index the shard view already parsed), packed into one pinned staging buffer and
   copied in one transfer;
2. one nvCOMP batch decode per algorithm writes every chunk into one device buffer (Blosc:
   all inner streams of all chunks, grouped by inner codec, read where they lie in the
   uploaded batch or, where misaligned for nvCOMP, from aligned slots a copy kernel fills;
   decoded into a stage region; raw splits by a copy kernel; then the byte/bit unshuffle
   kernels);
3. crc32c verification and byteswap run as one kernel launch each;
4. ``copy_boxes`` scatters every chunk into the output and fills missing chunks, in one
   launch (integer-array selections: cupy indexing per chunk).

A chunk the device cannot take (BloscLZ, a zstd frame without content size, odd framing, a
stream nvCOMP does not decode to the chunk's size) is decoded by the host codec chain alone
and uploaded: counted in ``HOST_FALLBACKS`` and logged at debug level. Synchronisation:
nvCOMP's ``decode`` without a precomputed configuration synchronises once per call
(documented); each batch ends with one stream synchronisation (staging buffers are
released, crc32c results compared). Nothing synchronises per chunk.

With several batches, a helper thread prepares batch k+1 while batch k is decoded: its
store reads on the host, or, for direct reads, its file reads into device memory (a
buffer from a pool the batch stream does not allocate from, kept until the batch that
decodes it has synchronised).
"""

from __future__ import annotations

import collections
import logging
import threading
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np

from cuzarr.buffers import device_holds, is_device_array
from cuzarr.codecs import blosc_plan as bp
from cuzarr.codecs.base import ChunkSpec
from cuzarr.config import config
from cuzarr.errors import ChecksumError, CorruptChunkError, IndexingError, UnsupportedError
from cuzarr.indexing import ChunkProjection
from cuzarr.pipeline import device_plan as dp

log = logging.getLogger(__name__)
HOST_FALLBACKS: collections.Counter[str] = collections.Counter()
NVCOMP = {bp.LZ4: "LZ4", bp.SNAPPY: "Snappy", bp.ZLIB: "Deflate", bp.ZSTD: "Zstd"}
LEAD = {None: 0, "blosc": 0, "lz4": 4, "zstd": 0}  # framing bytes before the RAW stream
OUT_ALIGN = 256
KVIKIO_THREADS = 16
DIRECT_KINDS = (None, "zstd", "lz4")  # RAW stream at a fixed offset (LEAD bytes in)
RAW_ALGORITHM = {"zstd": "Zstd", "lz4": "LZ4"}
NVCOMP_FAILED = "nvCOMP did not decode the stream to the chunk's size"
_local = threading.local()
_allocator_set = False
_kvikio_threads_set = False


def _libs() -> tuple[Any, Any, Any]:
    """cupy, nvidia.nvcomp and numba.cuda, imported on first use."""
    global _allocator_set
    import cupy
    from numba import cuda
    from nvidia import nvcomp

    if not _allocator_set:  # nvCOMP's scratch from cupy's pool: no cudaMalloc per call
        nvcomp.set_device_allocator(_scratch_allocator(cupy))
        _allocator_set = True
    return cupy, nvcomp, cuda


def _scratch_allocator(cupy: Any) -> Any:
    def allocate(nbytes: int, stream: Any) -> Any:
        # From the pool of the stream nvCOMP works on: memory freed there is handed out
        # again only to work ordered after it on that stream, never to another stream
        # while nvCOMP's kernels may still use it.
        with cupy.cuda.ExternalStream(stream.ptr):
            return cupy.cuda.alloc(nbytes)

    return allocate


def device_chain(chain: Any, dtype: np.dtype) -> tuple[str | None, bool, int]:
    """(compressor kind, crc32c outermost?, byte-swap unit) of a codec chain the device
    path decodes; UnsupportedError for any other chain (the array is read on the CPU)."""
    from cuzarr.codecs.blosc import BloscCodec
    from cuzarr.codecs.bytes import BytesCodec
    from cuzarr.codecs.crc32c import Crc32cCodec
    from cuzarr.codecs.gzip import GzipCodec
    from cuzarr.codecs.lz4 import LZ4Codec
    from cuzarr.codecs.zlib import ZlibCodec
    from cuzarr.codecs.zstd import ZstdCodec

    kinds = {BloscCodec: "blosc", ZstdCodec: "zstd", LZ4Codec: "lz4", ZlibCodec: "deflate",
             GzipCodec: "deflate"}  # fmt: skip
    bb = list(chain.bytes_bytes)
    crc = bool(bb) and isinstance(bb[-1], Crc32cCodec) and bb[-1].location == "end"
    bb = bb[:-1] if crc else bb
    swap = dp.swap_unit(dtype) if isinstance(chain.array_bytes, BytesCodec) else None
    if chain.array_array or swap is None or len(bb) > 1 or (bb and type(bb[0]) not in kinds):
        raise UnsupportedError(f"no device decoder for the codec chain {list(chain.codecs)}")
    native = chain.array_bytes.is_native(dtype)
    return (kinds[type(bb[0])] if bb else None), crc, (1 if native else swap)


class Landed(NamedTuple):
    """A batch's RAW streams read from local files into device memory (see
    :meth:`DeviceReader.land_files`)."""

    present: list[int]  # the batch's units that exist
    dev_in: Any  # the device buffer the streams landed in
    plan: dp.FileReads  # where each present unit's stream landed and is decoded from
    lengths: np.ndarray  # int64: each present unit's RAW stream length
    host: dict[int, str]  # present units for the host decoder: reason


class BloscStreams(NamedTuple):
    """A Blosc batch planned on the host (see :meth:`DeviceReader._plan_blosc`)."""

    plan: bp.BloscPlan
    src: np.ndarray  # int64: each inner stream's start in the uploaded batch
    length: np.ndarray  # int64: its length (raw DEFLATE for zlib streams)
    at: np.ndarray  # int64: where nvCOMP reads it (src, or its aligned slot)
    live: np.ndarray  # bool: streams of chunks decoded on the device
    host: dict[int, str]  # chunks for the host decoder: reason
    spare: int  # bytes of room the slots need after the batch

    @property
    def moved(self) -> np.ndarray:
        """The streams copied to an aligned slot first."""
        return np.flatnonzero(self.at != self.src)


class DeviceReader:
    """Reads batches of chunks of one array into device memory (one per array and thread).

    Every call into cupy, nvCOMP or numba goes through the methods of the first section,
    so that a test can run the rest (planning, launches, fallbacks, scatter) on the CPU
    with numpy buffers, nvCOMP replaced by CPU decoders and numba's CUDA simulator.
    """

    def __init__(self, io: Any):
        self._io = weakref.ref(io)  # readers are cached per io object, weakly
        self.dtype = io.metadata.dtype
        self.fill_value = io.metadata.fill_value
        self.kind, self.crc, self.swap = device_chain(io.chain, self.dtype)
        self._keep: list[Any] = []  # host buffers in flight until the batch synchronises
        self._pending_crc: tuple[Any, np.ndarray] | None = None
        self._alignments: dict[str, int] = {}  # nvCOMP's input alignment per algorithm
        self._open_device()
        self.direct = self._reads_files_directly()

    def _reads_files_directly(self) -> bool:
        """Local files are read straight into device memory (kvikio) when the RAW stream
        of every chunk sits at a fixed offset in its stored bytes: no Blosc header or
        Deflate container to parse on the host first, no crc32c trailer to compare."""
        from cuzarr.stores.local import LocalStore

        return (
            isinstance(self.io.store, LocalStore)
            and not self.crc
            and self.kind in DIRECT_KINDS
            and self._kvikio() is not None
        )

    @property
    def io(self) -> Any:
        return self._io()

    # -- the device: cupy, nvCOMP, numba ----------------------------------------------------
    def _open_device(self) -> None:
        self.cupy, self.nvcomp, self.cuda = _libs()
        self.stream = self.cupy.cuda.Stream(non_blocking=True)
        self.read_pool = self.cupy.cuda.Stream(non_blocking=True)  # allocations only
        self.nb_stream = self.cuda.external_stream(self.stream.ptr)
        self.device_array = self.cupy.ndarray

    def _empty(self, nbytes: int) -> Any:
        with self.stream:
            return self.cupy.empty(max(nbytes, OUT_ALIGN), dtype=np.uint8)

    def _empty_for_reads(self, nbytes: int) -> Any:
        """A device buffer for file reads, from the pool of a stream that runs no work:
        memory this reader's batch stream freed while its kernels may still be running
        is never handed to reads that may run meanwhile (from another thread)."""
        with self.read_pool:
            return self.cupy.empty(max(nbytes, OUT_ALIGN), dtype=np.uint8)

    def _pinned(self, nbytes: int) -> np.ndarray:
        mem = self.cupy.cuda.alloc_pinned_memory(max(nbytes, 1))
        self._keep.append(mem)
        return np.frombuffer(mem, np.uint8, nbytes)

    def _copy_in(self, dev: Any, host: np.ndarray) -> None:
        """Host -> device on the batch stream (asynchronous from pinned memory)."""
        dev.set(host, stream=self.stream)

    def _dev(self, array: Any) -> Any:
        """A kernel argument: a numba view (no CAI synchronisation) of a cupy array, or of
        a host array uploaded on the batch stream."""
        if isinstance(array, np.ndarray):
            with self.stream:
                array = self.cupy.asarray(np.ascontiguousarray(array))
        return self.cuda.as_cuda_array(array, sync=False)

    def _codec(self, algorithm: str) -> Any:
        """nvCOMP's RAW codec for ``algorithm`` on this reader's stream (a Codec is bound
        to a stream and kept per thread)."""
        cache = _local.__dict__.setdefault("codecs", {})
        key = (algorithm, self.stream.ptr)
        if key not in cache:
            cache[key] = self.nvcomp.Codec(
                algorithm=algorithm,
                bitstream_kind=self.nvcomp.BitstreamKind.RAW,
                device_id=self.cupy.cuda.Device().id,
                cuda_stream=self.stream.ptr,
            )
        return cache[key]

    def _input_alignment(self, algorithm: str) -> int:
        """The alignment nvCOMP asks of ``algorithm``'s compressed input (and output); its
        most cautious answer when the codec cannot be made (the decode then falls back).
        Asked once per reader: the prefetch thread asks too, and codecs are per thread."""
        if algorithm not in self._alignments:
            try:
                align = int(self._codec(algorithm).get_required_decompression_alignment())
            except Exception as e:
                log.debug("nvCOMP %s: no alignment known (%s)", algorithm, e)
                align = dp.ALIGN
            self._alignments[algorithm] = align
        return self._alignments[algorithm]

    def _nvcomp_decode(self, algorithm, src, src_offsets, lengths, dst, dst_offsets, sizes):
        """One nvCOMP batch of RAW streams ``src[src_offsets[i]:][:lengths[i]]`` decoded into
        ``dst[dst_offsets[i]:][:sizes[i]]``, both buffers carved without copies; returns
        the decoded sizes (a stream that failed to decode does not give its size)."""
        ptr = self.stream.ptr
        ins = self.nvcomp.as_arrays(src, src_offsets, lengths, cuda_stream=ptr)
        outs = self.nvcomp.as_arrays(dst, dst_offsets, sizes, cuda_stream=ptr)
        # Without a precomputed configuration, decode reads the streams' sizes first: one
        # synchronisation per call, that is per algorithm and batch. buffer_sizes waits for
        # the decode.
        return list(self._codec(algorithm).decode(ins, out=outs).buffer_sizes)

    def _to_host(self, dev: Any) -> np.ndarray:
        return dev.get()

    def after_callers_work(self) -> None:
        """Order what this read does after the work already queued on the caller's current
        stream: the fill of an ``out=`` array, or the last use of memory that cupy's pool
        hands out again for the result. The batch stream is non-blocking, so it does not
        wait for that work by itself. (``out=`` arrays of other libraries were ordered onto
        the current stream when they were wrapped: the CUDA array interface's and
        DLPack's stream protocols.)"""
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())

    def _synchronize(self) -> None:
        self.stream.synchronize()

    def _flat_target(self, arr: Any) -> tuple[Any, int, int]:
        """(flat uint8 view over all of ``arr``'s memory, byte offset of its element 0 in
        that view, alignment of the view's start): strided and flipped outputs included."""
        lo, span = _span(arr)
        mem = arr.data
        start = self.cupy.cuda.MemoryPointer(mem.mem, mem.ptr - mem.mem.ptr + lo)
        flat = self.cupy.ndarray((span,), dtype=np.uint8, memptr=start)
        return flat, -lo, _alignment(start.ptr)

    @staticmethod
    def _kvikio() -> Any:
        """kvikio, or None when it is not installed."""
        global _kvikio_threads_set
        try:
            import kvikio
            import kvikio.defaults
        except ImportError:
            return None
        if not _kvikio_threads_set:  # its default is one thread: one read at a time
            if kvikio.defaults.get("num_threads") < KVIKIO_THREADS:
                kvikio.defaults.set("num_threads", KVIKIO_THREADS)
            _kvikio_threads_set = True
        return kvikio

    def _read_files(self, dev: Any, reads: Sequence[tuple[str, int, int, int]]) -> list[int]:
        """Read ``(path, file offset, nbytes, device offset)`` ranges straight into device
        memory (GPUDirect Storage where present, else kvikio's compatibility mode through
        its bounce buffers), all in flight at once; the bytes read of each."""
        kvikio = self._kvikio()
        files: dict[str, Any] = {}
        try:
            futures = []
            for path, offset, nbytes, at in reads:
                if path not in files:
                    files[path] = kvikio.CuFile(path, "r")
                futures.append(files[path].pread(dev[at : at + nbytes], nbytes, offset))
            return [f.get() for f in futures]
        finally:
            for f in files.values():
                f.close()

    # -- helpers ---------------------------------------------------------------------------
    def _upload(self, host: np.ndarray, spare: int = 0) -> Any:
        """``host`` copied to a new device buffer with ``spare`` bytes of room after it."""
        dev = self._empty(len(host) + spare)
        self._copy_in(dev[: len(host)], host)
        return dev

    def _run(self, kernel: Any, *args: Any, **options: Any) -> None:
        """Launch a ``cuzarr.kernels`` function on the batch stream, array arguments (host
        descriptors or device buffers) passed through :meth:`_dev`."""
        arrays = (np.ndarray, self.device_array)
        args = tuple(self._dev(a) if isinstance(a, arrays) else a for a in args)
        kernel(*args, stream=self.nb_stream, **options)

    def _nvcomp(self, algorithm, dev_in, srcs, lengths, work, dsts, sizes) -> np.ndarray:
        """One nvCOMP batch: RAW streams ``dev_in[src:src+len]`` -> ``work[dst:dst+size]``;
        the positions of the streams that did not decode to their size (the host decoder
        then decides whether the chunk is corrupt or only beyond nvCOMP)."""
        if not len(srcs):
            return np.zeros(0, dtype=np.int64)
        try:
            got = self._nvcomp_decode(algorithm, dev_in, srcs.tolist(), lengths.tolist(), work,
                                      dsts.tolist(), sizes.tolist())  # fmt: skip
        except Exception as e:  # nvCOMP refused the batch as a whole
            log.debug("nvCOMP %s refused a batch of %d streams: %s", algorithm, len(srcs), e)
            return np.arange(len(srcs))
        return np.flatnonzero(np.asarray(got, dtype=np.int64) != sizes)

    def _host(self, reason: str, data: Any, spec: ChunkSpec, key: str, work: Any, at: int):
        """Decode one chunk with the host codec chain and upload it to ``work[at:]``
        (already in native byte order)."""
        HOST_FALLBACKS[reason] += 1
        log.debug("chunk %r decoded on the host: %s", key, reason)
        chunk = self.io.chain.decode([data], [spec], names=[key])[0]
        flat = np.ascontiguousarray(chunk).reshape(-1).view(np.uint8)
        self._copy_in(work[at : at + len(flat)], flat)

    def _move_streams(self, buf: Any, src: np.ndarray, at: np.ndarray, lengths: np.ndarray):
        """Copy, in one launch, the streams of ``buf`` that lie where the decoder cannot
        read them (``src``) to their aligned slots (``at``, see ``dp.aligned_slots``)."""
        from cuzarr.kernels.scatter import copy_segments

        moved = np.flatnonzero(at != src)
        if len(moved):
            self._run(copy_segments, buf, buf, src[moved], at[moved], lengths[moved],
                      max_length=int(lengths[moved].max()))  # fmt: skip

    def _byteswap(self, work: Any, dst: np.ndarray, sizes: np.ndarray, host: dict) -> None:
        """Big-endian chunks decoded on the device to native order, in one launch."""
        device = np.array([i for i in range(len(dst)) if i not in host], dtype=np.int64)
        if self.swap > 1 and len(device):
            from cuzarr.kernels.byteswap import byteswap

            counts = sizes[device] // self.swap
            itemsizes = np.full(len(device), self.swap, np.int64)
            self._run(byteswap, work, dst[device], counts, itemsizes, max_count=int(counts.max()))

    # -- decode -----------------------------------------------------------------------------
    def decode(self, datas: Sequence[Any], specs: Sequence[ChunkSpec], keys: Sequence[str]):
        """(work buffer, decoded offset of each chunk): chunk i's decoded, native-order
        bytes are ``work[offsets[i] : offsets[i] + specs[i].nbytes]``."""
        sizes = np.array([s.nbytes for s in specs], dtype=np.int64)
        lengths = np.array([memoryview(d).nbytes for d in datas], dtype=np.int64)
        # where each RAW stream starts: packed so that it is aligned
        lead = [LEAD[self.kind] if self.kind in LEAD else dp.deflate_lead(d) for d in datas]
        offsets, total = dp.pack(lengths, dp.ALIGN, lead)
        staging = self._pinned(total)
        dp.gather(staging, offsets, datas)
        payload = lengths - (4 if self.crc else 0)
        dst, decoded_total = dp.pack(sizes, OUT_ALIGN)
        # Blosc: the inner streams are found on the host first, to size the room after the
        # batch for those that must be moved to aligned places on the device.
        blosc = (
            self._plan_blosc(staging, offsets, payload, sizes, dst)
            if self.kind == "blosc"
            else None
        )
        dev_in = self._upload(staging, spare=blosc.spare if blosc else 0)
        if self.crc:
            self._check_crc_launch(dev_in, staging, offsets, payload)
        if blosc is not None:
            work, host = self._decode_blosc(blosc, dev_in, decoded_total)
        else:
            work = self._empty(decoded_total)
            host = self._decode_plain(dev_in, staging, offsets, payload, sizes, dst, work)
        for i, reason in host.items():
            self._host(reason, datas[i], specs[i], keys[i], work, int(dst[i]))
        self._byteswap(work, dst, sizes, host)
        return work, dst

    def _decode_plain(self, dev_in, staging, offsets, payload, sizes, dst, work) -> dict:
        if self.kind is None:  # the bytes codec only: copy the payloads
            from cuzarr.kernels.scatter import copy_segments

            host = {
                int(i): "size differs from the chunk's" for i in np.flatnonzero(payload != sizes)
            }
            ok = np.flatnonzero(payload == sizes)
            longest = int(sizes[ok].max()) if len(ok) else 0
            self._run(
                copy_segments, dev_in, work, offsets[ok], dst[ok], sizes[ok], max_length=longest
            )
            return host
        streams = dp.raw_streams(self.kind, staging, offsets, payload, sizes)
        host = {int(i): dp.HOST_REASONS[streams.host[i]] for i in streams.host_chunks()}
        ok = streams.device()
        misaligned = ok[streams.src[ok] % dp.ALIGN != 0]
        host.update({int(i): "stream start not aligned" for i in misaligned})
        ok = np.setdiff1d(ok, misaligned)
        failed = self._nvcomp(streams.algorithm, dev_in, streams.src[ok], streams.length[ok],
                              work, dst[ok], sizes[ok])  # fmt: skip
        host.update({int(ok[i]): NVCOMP_FAILED for i in failed})
        return host

    def _plan_blosc(self, staging, offsets, payload, sizes, dst) -> BloscStreams:
        """Host side of a Blosc batch: its inner streams, raw DEFLATE for zlib ones, and
        where nvCOMP reads each (in place, or moved to an aligned slot after the batch)."""
        plan = bp.plan_blosc_batch(staging, offsets, payload, sizes, dst)
        host = {int(i): plan.fallback_reason(i) for i in plan.host_chunks()}
        src, length = plan.split_src.copy(), plan.split_len.copy()
        deflate = np.flatnonzero(~plan.split_raw & (plan.split_codec == bp.ZLIB))
        if len(deflate):  # zlib inner streams -> raw DEFLATE
            raw = dp.deflate_streams(staging, src[deflate], length[deflate])
            src[deflate], length[deflate] = raw.src, raw.length
            for s in raw.host_chunks():
                host.setdefault(int(plan.split_chunk[deflate[s]]), dp.HOST_REASONS[raw.host[s]])
        live = ~np.isin(plan.split_chunk, list(host))
        # Inner streams sit at arbitrary offsets: those nvCOMP cannot read where they lie
        # get aligned slots after the batch, filled by one copy launch on the device.
        align = np.ones(len(src), dtype=np.int64)  # raw splits are copied, not decoded
        for codec, algorithm in NVCOMP.items():
            decoded = live & ~plan.split_raw & (plan.split_codec == codec)
            if decoded.any():
                align[decoded] = self._input_alignment(algorithm)
        at, spare = dp.aligned_slots(src, length, align, len(staging))
        return BloscStreams(plan, src, length, at, live, host, spare)

    def _decode_blosc(self, b: BloscStreams, dev_in: Any, decoded_total: int):
        from cuzarr.kernels.scatter import copy_segments

        plan, length, live, host = b.plan, b.length, b.live, dict(b.host)
        self._move_streams(dev_in, b.src, b.at, length)
        stage_base = -(-decoded_total // OUT_ALIGN) * OUT_ALIGN
        work = self._empty(stage_base + plan.stage_nbytes)
        split_dst = plan.split_dst + np.where(plan.split_to_stage, stage_base, 0)
        raw = np.flatnonzero(live & plan.split_raw)
        if len(raw):  # blocks Blosc stored as they were: copied where they belong
            self._run(copy_segments, dev_in, work, b.src[raw], split_dst[raw], length[raw],
                      max_length=int(length[raw].max()))  # fmt: skip
        for codec, algorithm in NVCOMP.items():
            s = np.flatnonzero(live & ~plan.split_raw & (plan.split_codec == codec))
            failed = self._nvcomp(algorithm, dev_in, b.at[s], length[s], work, split_dst[s],
                                  plan.split_size[s])  # fmt: skip
            for chunk in plan.split_chunk[s[failed]]:
                host.setdefault(int(chunk), NVCOMP_FAILED)
        self._unshuffle(plan, work, stage_base, ~np.isin(plan.block_chunk, list(host)))
        return work, host

    def _unshuffle(self, plan: bp.BloscPlan, work: Any, stage_base: int, live: np.ndarray) -> None:
        from cuzarr.kernels.bitshuffle import bit_unshuffle
        from cuzarr.kernels.shuffle import byte_unshuffle

        for kind, kernel in ((bp.BYTESHUFFLE, byte_unshuffle), (bp.BITSHUFFLE, bit_unshuffle)):
            b = np.flatnonzero(live & (plan.block_shuffle == kind))
            if len(b):
                src, size = stage_base + plan.block_stage[b], plan.block_size[b]
                dst, typesize = plan.block_dst[b], plan.block_typesize[b]
                self._run(kernel, work, work, src, dst, size, typesize, max_size=int(size.max()))

    def _check_crc_launch(self, dev_in, staging, offsets, payload) -> None:
        """Launch the crc32c kernel over the payloads; compared in :meth:`finish_batch`."""
        from cuzarr.kernels.crc32c import crc32c, tables

        if (payload < 0).any():
            raise CorruptChunkError("a chunk is shorter than its 4-byte crc32c checksum")
        stored = dp.read_le(staging, offsets + payload, np.full(len(payload), 4))
        computed = self._empty(4 * len(payload))[: 4 * len(payload)].view(np.uint32)
        self._run(crc32c, dev_in, offsets, payload, computed, *tables())
        self._pending_crc = (computed, stored.astype(np.uint32))

    # -- a batch of projections ---------------------------------------------------------------
    def fetch(self, batch: Sequence[ChunkProjection]) -> Any:
        """The host side of reading a batch, which may run on another thread while the
        device decodes the previous batch: the encoded bytes of each unit (None when
        absent) or, for direct reads, the batch's streams landed in device memory
        (:meth:`land_files`: file reads only, no work on the batch stream)."""
        coords = [p.chunk_coords for p in batch]
        if self.direct:
            from cuzarr.pipeline.file_ranges import local_file_ranges

            return self.land_files(local_file_ranges(self.io, coords), coords)
        return self.io.fetch(coords)

    def read_batch(self, batch: Sequence[ChunkProjection], out: Any, fetched=None) -> None:
        """Fetch (unless ``fetched`` is what :meth:`fetch` returned for this batch),
        decode and scatter one batch into ``out`` (a device array, the view the
        projections index)."""
        fetched = self.fetch(batch) if fetched is None else fetched
        coords = [p.chunk_coords for p in batch]
        keys = [self.io.key(c) for c in coords]
        specs = [self.io.spec(c) for c in coords]
        self._pending_crc = None
        work, offsets = self._empty(0), np.zeros(0, np.int64)
        if self.direct:
            present = fetched.present
            work, offsets = self.decode_landed(fetched, coords, specs, keys)
        else:
            datas = fetched
            present = [i for i, d in enumerate(datas) if d is not None]
            if present:
                work, offsets = self.decode([datas[i] for i in present],
                                            [specs[i] for i in present],
                                            [keys[i] for i in present])  # fmt: skip
        chunk_offsets = np.full(len(batch), -1, dtype=np.int64)
        chunk_offsets[present] = offsets
        scatter(self, batch, specs, chunk_offsets, work, out)
        self.finish_batch([keys[i] for i in present])

    def land_files(self, ranges, coords) -> Landed:
        """The RAW streams of a batch's units (``coords``; ``ranges``: each unit's file
        range, None when absent) read from local files into one new device buffer, all reads in
        flight at once, each run of nearby streams in one read. Nothing here runs on the
        batch stream, and the buffer comes from a pool of its own, so the next batch can
        land while this one's kernels still run."""
        present = [i for i, r in enumerate(ranges) if r is not None]
        stored = np.array([ranges[i][2] for i in present], dtype=np.int64)
        starts = np.array([ranges[i][1] for i in present], dtype=np.int64)
        skip = np.minimum(LEAD[self.kind], stored)  # the RAW stream starts after the framing
        lengths = stored - skip
        algorithm = RAW_ALGORITHM.get(self.kind)
        plan = dp.plan_file_reads(
            [ranges[i][0] for i in present], starts + skip, lengths,
            self._input_alignment(algorithm) if algorithm else 1,
            config["coalesce_max_gap"], config["coalesce_max_size"],
        )  # fmt: skip
        dev_in = self._empty_for_reads(plan.total)
        for (path, offset, nbytes, _), got, items in zip(
            plan.reads, self._read_files(dev_in, plan.reads), plan.members
        ):
            if got < nbytes:
                j = int(items[np.argmax(starts[items] + stored[items] > offset + got)])
                raise CorruptChunkError(
                    f"chunk {self.io.key(coords[present[j]])!r}: {stored[j]} bytes expected in {path} at offset "
                    f"{starts[j]}, but the file ends at {offset + got} (the file changed or a "
                    "shard index points past its end)"
                )
        short = np.flatnonzero(stored < LEAD[self.kind])
        return Landed(present, dev_in, plan, lengths, {int(j): dp.HOST_REASONS[1] for j in short})

    def decode_landed(self, landed: Landed, coords, specs, keys) -> tuple[Any, np.ndarray]:
        """The direct twin of :meth:`decode`: (work buffer, decoded offset of each present
        unit) from the streams :meth:`land_files` put in device memory. Nothing of them
        is looked at on the host, so a stream nvCOMP cannot decode to the chunk's size is
        fetched again and decoded on the host."""
        from cuzarr.kernels.scatter import copy_segments

        present, dev_in, plan, lengths = landed.present, landed.dev_in, landed.plan, landed.lengths
        self._keep.append(dev_in)  # in use by this batch's kernels until it synchronises
        host = dict(landed.host)
        sizes = np.array([specs[i].nbytes for i in present], dtype=np.int64)
        self._move_streams(dev_in, plan.landed, plan.src, lengths)
        src = plan.src
        dst, decoded_total = dp.pack(sizes, OUT_ALIGN)
        work = self._empty(decoded_total)
        if self.kind is None:
            host.update({int(j): "size differs from the chunk's"
                         for j in np.flatnonzero(lengths != sizes)})  # fmt: skip
            ok = np.flatnonzero(lengths == sizes)
            if len(ok):
                self._run(copy_segments, dev_in, work, src[ok], dst[ok], sizes[ok],
                          max_length=int(sizes[ok].max()))  # fmt: skip
        else:
            ok = np.array([j for j in range(len(present)) if j not in host], dtype=np.int64)
            failed = self._nvcomp(RAW_ALGORITHM[self.kind], dev_in, src[ok], lengths[ok], work,
                                  dst[ok], sizes[ok])  # fmt: skip
            host.update({int(ok[f]): NVCOMP_FAILED for f in failed})
        if host:
            again = sorted(host)
            datas = self.io.fetch([coords[present[j]] for j in again])
            for j, data in zip(again, datas):
                i = present[j]
                if data is None:
                    raise CorruptChunkError(f"chunk {keys[i]!r} disappeared while being read")
                self._host(host[j], data, specs[i], keys[i], work, int(dst[j]))
        self._byteswap(work, dst, sizes, host)
        return work, dst

    def finish_batch(self, keys: Sequence[str]) -> None:
        self._synchronize()
        self._keep.clear()
        if self._pending_crc is not None:
            computed, stored = self._pending_crc
            bad = np.flatnonzero(self._to_host(computed) != stored)
            if len(bad):
                raise ChecksumError(f"chunk {keys[int(bad[0])]!r}: crc32c checksum mismatch")


def _span(arr: Any) -> tuple[int, int]:
    """(byte offset of the lowest addressed element from element 0, bytes spanned)."""
    extent = [(n - 1) * s for n, s in zip(arr.shape, arr.strides)] if arr.size else []
    lo = sum(min(0, e) for e in extent)
    return lo, sum(max(0, e) for e in extent) - lo + arr.itemsize


def _alignment(address: int) -> int:
    return min(OUT_ALIGN, address & -address) if address else OUT_ALIGN


def scatter(reader: DeviceReader, batch, specs, chunk_offsets, work, out) -> None:
    """Every chunk of the batch into ``out`` in one ``copy_boxes`` launch (missing chunks:
    the fill value); integer-array selections through cupy, chunk by chunk."""
    from cuzarr.kernels.scatter import copy_boxes

    dtype = reader.dtype
    flat, origin, align = reader._flat_target(out)
    items = [(p.chunk_selection, p.out_selection, s.shape, int(o))
             for p, s, o in zip(batch, specs, chunk_offsets)]  # fmt: skip
    plan = dp.box_plan(items, dtype.itemsize, out.strides, origin, align)
    if len(plan.src_base):
        unit = np.dtype(f"u{plan.unit}")
        fill = np.full(1, reader.fill_value, dtype=dtype).view(unit)
        boxes = (plan.src_base, plan.src_strides, plan.dst_base, plan.dst_strides, plan.counts)
        reader._run(copy_boxes, work.view(unit), flat.view(unit), fill, *boxes, plan.per,
                    max_elements=plan.max_elements)  # fmt: skip
    with reader.stream:
        for i in plan.unsupported:
            p, spec, offset = batch[i], specs[i], int(chunk_offsets[i])
            if offset < 0:
                out[p.out_selection] = reader.fill_value
                continue
            chunk = work[offset : offset + spec.nbytes].view(dtype).reshape(spec.shape)
            out[p.out_selection] = chunk[p.chunk_selection]


def as_device_array(obj: Any) -> Any:
    """A cupy view of a device array: cupy, any ``__cuda_array_interface__`` or CUDA
    ``__dlpack__`` object (a torch CUDA tensor); IndexingError for anything else (a numpy
    array, say: host memory)."""
    if not is_device_array(obj):
        raise IndexingError(
            f"out= is a {type(obj).__name__} in host memory, but this array reads on the GPU: "
            "pass a device array (cupy, a torch CUDA tensor, any CUDA array interface or "
            "DLPack CUDA array), or open the array with device='cpu'"
        )
    cupy = _libs()[0]
    if isinstance(obj, cupy.ndarray):
        return obj
    if hasattr(obj, "__cuda_array_interface__"):
        return cupy.asarray(obj)
    return cupy.from_dlpack(obj)


def new_device_array(shape: tuple[int, ...], dtype: np.dtype) -> Any:
    return _libs()[0].empty(shape, dtype=dtype)


def upload(host: np.ndarray) -> Any:
    return _libs()[0].asarray(host)


# What Array reads on the device use; tests on the CPU put numpy stand-ins here.
BACKEND = {
    "reader": DeviceReader,
    "wrap": as_device_array,
    "new": new_device_array,
    "upload": upload,
}
CHAIN_ON_HOST = "codec chain without a device decoder"


def _reader(io: Any) -> DeviceReader:
    """This thread's reader for ``io``; UnsupportedError when the device cannot decode
    the array's codec chain."""
    readers = _local.__dict__.setdefault("readers", weakref.WeakKeyDictionary())
    reader = readers.get(io)
    if reader is None or type(reader) is not BACKEND["reader"]:
        reader = readers[io] = BACKEND["reader"](io)
    return reader


def read_projections_device(io: Any, projections: Sequence[ChunkProjection], out: Any) -> None:
    """The device twin of :func:`cuzarr.pipeline.read.read_projections`: fill ``out`` (a
    device array, the view the projections index) from storage."""
    reader = _reader(io)
    reader.after_callers_work()
    batches = list(io.batches(projections))
    if len(batches) == 1:
        reader.read_batch(batches[0], out)
        return
    # Batch k+1 is fetched (store reads; direct reads: into device memory) while batch k
    # is uploaded, decoded and scattered: I/O and device work overlap, one batch ahead.
    # Not named "cuzarr...": the pool's threads run nested maps inline, this one may use the
    # pool (the store reads of a big batch).
    with ThreadPoolExecutor(1, thread_name_prefix="device-prefetch") as ahead:
        pending = ahead.submit(reader.fetch, batches[0]) if batches else None
        for k, batch in enumerate(batches):
            fetched = pending.result()
            if k + 1 < len(batches):
                pending = ahead.submit(reader.fetch, batches[k + 1])
            reader.read_batch(batch, out, fetched)


def read_selection(io: Any, sel: Any, out: Any) -> Any:
    """``Array`` reads on the device: a new device array (cupy), or ``out`` (any device
    array) filled."""
    dtype = io.metadata.dtype
    if not device_holds(dtype):
        raise UnsupportedError(f"device arrays hold numbers and booleans, not {dtype}")
    if out is None:
        result = BACKEND["new"](sel.out_shape, dtype)
    else:
        result = BACKEND["wrap"](out)
        sel.check_out(result, dtype)
    try:
        _reader(io)
    except UnsupportedError as e:
        # bz2, lzma, filters, transpose, N5 blocks, nested shards ...: the chunks are
        # decoded on the host and the result is uploaded once
        HOST_FALLBACKS[CHAIN_ON_HOST] += len(sel.projections)
        log.debug("%s: read on the host, then uploaded", e)
        from cuzarr.pipeline.read import read_projections

        host = np.empty(sel.out_shape, dtype=dtype)
        read_projections(io, sel.projections, sel.out_view(host))
        result[...] = BACKEND["upload"](host)
        return result if out is None else out
    sel.read_into(result, lambda view: read_projections_device(io, sel.projections, view),
                  BACKEND["new"])  # fmt: skip
    return result if out is None else out
