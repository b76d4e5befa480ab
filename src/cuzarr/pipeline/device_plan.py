"""Host-side planning for the device read path: plain numpy, testable without a GPU.

Everything the device path decides before it launches anything lives here:

- **one buffer per batch**: :func:`pack` gives each encoded chunk (or inner stream) an
  offset in a single buffer so that its payload starts aligned (nvCOMP asks for "up to
  16 bytes" of alignment); :func:`gather` fills the host staging buffer, which is then
  copied to the device in one transfer; :func:`plan_file_reads` does the same for
  streams read from local files straight into device memory (nearby ranges merged into
  page-aligned runs, misaligned streams given aligned slots).
- **raw bitstreams**: nvCOMP decodes RAW streams, so the framing of the Zarr codecs is
  stripped here (:func:`raw_streams`): numcodecs' LZ4 loses its 4-byte size prefix, zlib
  its 2-byte header and Adler-32 trailer, gzip its member header and trailer (both become
  raw DEFLATE); zstd frames are checked to be one frame that states its content size.
  A stream that does not fit is marked for the host decoder, with a reason.
- **shard indexes**: :func:`parse_shard_indexes` is the reference of the
  ``cuzarr.kernels.shard_index`` kernel; :func:`check_shard_indexes` turns its statuses
  into the errors the CPU path raises.
- **scatter**: :func:`box_plan` turns chunk projections into the box descriptors of
  ``cuzarr.kernels.scatter.copy_boxes``.

Blosc chunks are planned by :mod:`cuzarr.codecs.blosc_plan`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cuzarr.codecs.blosc_plan import as_u8, exclusive_cumsum
from cuzarr.concurrency import parallel_map
from cuzarr.errors import CorruptChunkError
from cuzarr.pipeline.coalesce import coalesce

ALIGN = 16


# -- one buffer per batch ----------------------------------------------------------------


def pack(lengths: Any, align: int = ALIGN, lead: Any = 0) -> tuple[np.ndarray, int]:
    """(offsets, total size) placing item i (``lengths[i]`` bytes) in one buffer so that
    its byte ``lead[i]`` (where the payload starts) is a multiple of ``align``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    pad = (-np.asarray(lead, dtype=np.int64)) % align
    slots = -(-(pad + lengths) // align) * align
    return exclusive_cumsum(slots) + pad, int(slots.sum())


def gather(dst: np.ndarray, offsets: Any, sources: Sequence[Any]) -> None:
    """Copy each source buffer into ``dst`` (flat uint8) at its offset, on the thread pool
    when there is enough to copy: one thread copies a few GB/s, and big copies run
    without the GIL."""

    def copy(source: Any, offset: int) -> None:
        view = as_u8(source)
        dst[offset : offset + len(view)] = view

    parallel_map(copy, list(sources), [int(o) for o in offsets], work_bytes=len(dst))


def gather_ranges(
    dst: np.ndarray, dst_offsets: Any, src: Any, src_offsets: Any, lengths: Any
) -> None:
    """``dst[dst_offsets[i]:][:lengths[i]] = src[src_offsets[i]:][:lengths[i]]`` on the host
    (the GPU benchmark repacks streams at aligned offsets with it)."""
    src = as_u8(src)
    for d, s, n in zip(np.asarray(dst_offsets), np.asarray(src_offsets), np.asarray(lengths)):
        dst[d : d + n] = src[s : s + n]


# GPUDirect Storage reads whole pages: runs of file reads start on one, in file and buffer
FILE_PAGE = 4096


@dataclass(frozen=True)
class FileReads:
    """How the encoded streams of a batch get from local files into one device buffer."""

    reads: list[tuple[str, int, int, int]]  # (path, file offset, bytes, buffer offset)
    members: list[np.ndarray]  # the streams each read carries
    landed: np.ndarray  # int64: where each stream's first byte lands in the buffer
    src: np.ndarray  # int64: where each stream is decoded from (aligned)
    total: int  # buffer size

    def moves(self) -> np.ndarray:
        """Streams that land misaligned for the decoder, copied to ``src`` on the device."""
        return np.flatnonzero(self.landed != self.src)


def plan_file_reads(
    paths: Sequence[str], offsets: Any, lengths: Any, align: int, max_gap: int, max_size: int
) -> FileReads:
    """Streams (``lengths[i]`` bytes at ``offsets[i]`` of file ``paths[i]``) read with one
    request per run of nearby streams of a file (the inner chunks of a shard are usually
    contiguous): ranges closer than ``max_gap`` bytes merge while a run stays within
    ``max_size``, each run starting on a page. A stream that lands at an address the
    decoder cannot take (not a multiple of ``align``) gets an aligned slot after the
    landing area, to be copied there on the device."""
    offsets, lengths = np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)
    by_path: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        by_path.setdefault(path, []).append(i)
    reads, members, run_lengths = [], [], []
    for path, items in by_path.items():
        ranges = [(int(offsets[i]), int(offsets[i] + lengths[i])) for i in items]
        for run in coalesce(ranges, max_gap, max_size):
            start = run.start - run.start % FILE_PAGE
            reads.append((path, start, run.stop - start))
            members.append(np.array([items[m] for m in run.members], dtype=np.int64))
            run_lengths.append(run.stop - start)
    at, landing = pack(run_lengths, FILE_PAGE)
    landed = np.zeros(len(offsets), dtype=np.int64)
    for (_, start, _), where, items in zip(reads, at, members):
        landed[items] = where + offsets[items] - start
    src, extra = aligned_slots(landed, lengths, align, landing)
    reads = [(path, start, n, int(where)) for (path, start, n), where in zip(reads, at)]
    return FileReads(reads, members, landed, src, landing + extra)


def aligned_slots(starts: Any, lengths: Any, align: Any, end: int) -> tuple[np.ndarray, int]:
    """(where each stream is to be decoded from, bytes the buffer must grow by) for
    streams lying at ``starts`` of a buffer of ``end`` bytes: one whose start is not a
    multiple of its ``align`` (an int, or one per stream) gets a slot after ``end``, to be
    copied there on the device; the others (and empty ones) stay where they are."""
    starts, lengths = np.asarray(starts, np.int64), np.asarray(lengths, np.int64)
    align = np.asarray(align, np.int64)
    moved = np.flatnonzero((starts % align != 0) & (lengths > 0))
    slot_align = max(ALIGN, int(align.max(initial=1)))
    base = -(-end // slot_align) * slot_align
    slots, extra = pack(lengths[moved], slot_align)
    at = starts.copy()
    at[moved] = base + slots
    return at, base - end + extra


# -- raw bitstreams ----------------------------------------------------------------------

HOST_REASONS = (
    "",
    "too short for its framing",
    "neither a zlib stream nor a gzip member",
    "zlib stream with a preset dictionary",
    "gzip member with reserved header flags",
    "zstd frame without a content size",
    "not exactly one zstd frame (skippable frame, several frames or trailing bytes)",
    "zstd frame with a dictionary id or reserved bits",
    "decoded size differs from the expected chunk size",
)


@dataclass(frozen=True)
class RawStreams:
    """Where the RAW stream of each encoded chunk is, for one nvCOMP algorithm."""

    algorithm: str  # nvCOMP's name: "LZ4", "Zstd" or "Deflate"
    src: np.ndarray  # int64: first byte of the raw stream in the batch buffer
    length: np.ndarray  # int64: raw stream length
    size: np.ndarray  # int64: decoded size (-1: unknown, nvCOMP finds it)
    host: np.ndarray  # int8: 0 = device; else an index into HOST_REASONS

    def device(self) -> np.ndarray:
        """Chunks to decode on the device (non-empty and not sent to the host)."""
        return np.flatnonzero((self.host == 0) & (self.size != 0))

    def empty(self) -> np.ndarray:
        return np.flatnonzero((self.host == 0) & (self.size == 0))

    def host_chunks(self) -> np.ndarray:
        return np.flatnonzero(self.host)


def _read_u8(buf: np.ndarray, pos: np.ndarray, ok: np.ndarray) -> np.ndarray:
    return np.where(ok, buf[np.where(ok, pos, 0)], 0).astype(np.int64)


def read_le(buf: np.ndarray, pos: np.ndarray, nbytes: np.ndarray) -> np.ndarray:
    """Little-endian unsigned values of 0..8 bytes (each read must lie inside ``buf``)."""
    value = np.zeros(len(pos), dtype=np.uint64)
    for j in range(8):
        ok = j < nbytes
        byte = _read_u8(buf, pos + j, ok).astype(np.uint64)
        value |= byte << np.uint64(8 * j)
    return value.astype(np.int64)  # content sizes above 2**63 are not real


def _check_expected(size: np.ndarray, expected: Any, host: np.ndarray) -> None:
    if expected is not None:
        expected = np.asarray(expected, dtype=np.int64)
        host[(host == 0) & (size >= 0) & (size != expected)] = 8


def lz4_streams(buf: Any, offsets: Any, lengths: Any, expected: Any = None) -> RawStreams:
    """numcodecs ``lz4``: a uint32 LE decoded size, then one raw LZ4 block."""
    buf, src, length = as_u8(buf), np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)
    host = np.where(length < 4, 1, 0).astype(np.int8)
    size = np.where(host == 0, read_le(buf, src, np.where(host == 0, 4, 0)), -1)
    _check_expected(size, expected, host)
    return RawStreams("LZ4", src + 4, length - 4, size, host)


def _gzip_header_length(buf: np.ndarray, start: int, length: int) -> int | None:
    """Bytes before the DEFLATE data of a gzip member (RFC 1952), None if malformed."""
    flags = int(buf[start + 3])
    if flags & 0xE0:
        return None
    pos = 10
    if flags & 0x04:  # FEXTRA
        if pos + 2 > length:
            return None
        pos += 2 + int(buf[start + pos]) + 256 * int(buf[start + pos + 1])
    for bit in (0x08, 0x10):  # FNAME, FCOMMENT: zero-terminated
        if flags & bit:
            zeros = np.flatnonzero(buf[start + pos : start + length] == 0)
            if not len(zeros):
                return None
            pos += int(zeros[0]) + 1
    if flags & 0x02:  # FHCRC
        pos += 2
    return pos if pos + 8 <= length else None


def deflate_lead(chunk: Any) -> int:
    """Bytes before the DEFLATE data of one zlib stream (2) or gzip member (its header:
    10 bytes, more with a file name, comment or extra field), for packing chunks so that
    the data nvCOMP reads starts aligned; 2 for anything else (the planning then decides)."""
    view = as_u8(chunk)
    if len(view) >= 18 and view[0] == 0x1F and view[1] == 0x8B:
        return _gzip_header_length(view, 0, len(view)) or 10
    return 2


def deflate_streams(buf: Any, offsets: Any, lengths: Any, expected: Any = None) -> RawStreams:
    """zlib streams (numcodecs ``zlib``) and gzip members (``gzip``) -> raw DEFLATE.

    Both codecs' CPU decoders accept either container, so each chunk is recognised by its
    first bytes. The checksums in the stripped trailers are not verified on the device.
    A gzip member's ISIZE must equal the expected size: that also sends concatenated
    members (whose last ISIZE covers only the last one) to the host.
    """
    buf, src, length = as_u8(buf), np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)
    n = len(src)
    host = np.zeros(n, dtype=np.int8)
    start, stop, size = src.copy(), src + length, np.full(n, -1, dtype=np.int64)
    b0 = _read_u8(buf, src, length >= 2)
    b1 = _read_u8(buf, src + 1, length >= 2)
    gzip = (length >= 18) & (b0 == 0x1F) & (b1 == 0x8B) & (_read_u8(buf, src + 2, length >= 3) == 8)
    zlib = (length >= 6) & ((b0 & 0x0F) == 8) & ((b0 >> 4) <= 7) & ((b0 * 256 + b1) % 31 == 0)
    host[~gzip & ~zlib] = 2
    host[zlib & ~gzip & ((b1 & 0x20) != 0)] = 3  # FDICT: a preset dictionary
    plain = zlib & ~gzip & (host == 0)
    start[plain] += 2
    stop[plain] -= 4
    for i in np.flatnonzero(gzip):
        header = _gzip_header_length(buf, int(src[i]), int(length[i]))
        if header is None:
            host[i] = 4
            continue
        start[i] = src[i] + header
        stop[i] = src[i] + length[i] - 8
        size[i] = int(read_le(buf, stop[i : i + 1] + 4, np.array([4]))[0])
    if expected is not None:
        exp = np.asarray(expected, dtype=np.int64)
        host[gzip & (host == 0) & (size != exp % 2**32)] = 8
        size = np.where(host == 0, exp, size)
    return RawStreams("Deflate", start, stop - start, size, host)


def zstd_streams(buf: Any, offsets: Any, lengths: Any, expected: Any = None) -> RawStreams:
    """Zstandard: the chunk must be exactly one frame that states its content size
    (RFC 8878: magic, frame header, blocks, optional checksum); the frame goes to nvCOMP
    as it is. Frames without a content size (some streaming writers), skippable or
    concatenated frames and dictionaries go to the host."""
    buf, src, length = as_u8(buf), np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)
    host = np.where(length < 6, 1, 0).astype(np.int8)
    magic = read_le(buf, src, np.where(host == 0, 4, 0))
    host[(host == 0) & (magic != 0xFD2FB528)] = 6
    fhd = _read_u8(buf, src + 4, host == 0)
    single = (fhd >> 5) & 1
    host[(host == 0) & (((fhd & 0x08) != 0) | ((fhd & 3) != 0))] = 7  # reserved bit, dict id
    fcs_len = np.where(fhd >> 6 == 0, single, 1 << (fhd >> 6))
    host[(host == 0) & (fcs_len == 0)] = 5
    header = 5 + (1 - single)
    host[(host == 0) & (header + fcs_len > length)] = 1
    live = host == 0
    size = np.where(live, read_le(buf, src + header, np.where(live, fcs_len, 0)), -1)
    size = np.where(live & (fcs_len == 2), size + 256, size)
    end = _walk_zstd_blocks(buf, src, length, header + fcs_len, host)
    end = end + 4 * ((fhd >> 2) & 1)  # content checksum
    host[(host == 0) & (end != length)] = 6
    _check_expected(size, expected, host)
    return RawStreams("Zstd", src, length, np.where(host == 0, size, -1), host)


def _walk_zstd_blocks(buf, src, length, pos, host) -> np.ndarray:
    """Position after each frame's last block (3-byte block headers: last flag, type,
    size; an RLE block holds one byte), all chunks in step."""
    pos = pos.copy()
    active = np.flatnonzero(host == 0)
    while len(active):
        readable = pos[active] + 3 <= length[active]
        host[active[~readable]] = 6
        active = active[readable]
        at = src[active] + pos[active]
        header = read_le(buf, at, np.full(len(active), 3))
        kind = (header >> 1) & 3
        host[active[kind == 3]] = 6  # reserved block type: not a valid frame
        pos[active] += 3 + np.where(kind == 1, 1, header >> 3)
        active = active[((header & 1) == 0) & (kind != 3)]
    return pos


RAW_STREAMS = {"lz4": lz4_streams, "zstd": zstd_streams, "deflate": deflate_streams}


def raw_streams(
    kind: str, buf: Any, offsets: Any, lengths: Any, expected: Any = None
) -> RawStreams:
    """The RAW nvCOMP input of a batch of chunks of one codec kind (see ``RAW_STREAMS``)."""
    return RAW_STREAMS[kind](buf, offsets, lengths, expected)


# -- shard indexes ---------------------------------------------------------------------

SHARD_OK, SHARD_EMPTY, SHARD_HALF, SHARD_HUGE, SHARD_BEFORE, SHARD_PAST_END = range(6)


def parse_shard_indexes(
    tables: Any, n_inner: int, data_start: Any, data_end: Any, shard_base: Any = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(status, offsets, lengths) of every inner chunk of a batch of decoded index tables
    (uint64 or int64, any shape holding ``n_shards * n_inner`` (offset, length) pairs);
    the numpy twin of ``cuzarr.kernels.shard_index`` (statuses documented there)."""
    pairs = np.asarray(tables).reshape(-1, 2).view(np.int64)
    offset, length = pairs[:, 0], pairs[:, 1]
    shard = np.arange(len(pairs)) // max(n_inner, 1)
    n_shards = -(-len(pairs) // max(n_inner, 1))
    start, end, base = (np.broadcast_to(np.asarray(v, np.int64), (n_shards,))[shard]
                        for v in (data_start, data_end, shard_base))  # fmt: skip
    status = np.full(len(pairs), SHARD_OK, dtype=np.int8)
    conditions = [
        (offset == -1) & (length == -1),
        (offset == -1) | (length == -1),
        (offset < 0) | (length < 0),
        offset < start,
        (end >= 0) & ((offset > end) | (length > end - offset)),
    ]
    for code, mask in reversed(list(enumerate(conditions, start=1))):
        status[mask] = code  # the first matching condition wins
    good = status == SHARD_OK
    return status, np.where(good, base + offset, -1), np.where(good, length, 0)


def check_shard_indexes(
    status: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, n_inner: int, keys: Sequence[str]
) -> None:
    """Raise CorruptChunkError, naming the shard, for the first bad entry or overlapping
    ranges (the same failures :func:`cuzarr.codecs.sharding.check_index` reports)."""
    messages = {
        SHARD_HALF: "index entry {} is half empty",
        SHARD_HUGE: "index entry {} holds an offset or length of 2**63 or more",
        SHARD_BEFORE: "index entry {}: an inner chunk starts inside the index",
        SHARD_PAST_END: "index entry {}: an inner chunk ends past the end of the shard",
    }
    bad = np.flatnonzero(status > SHARD_EMPTY)
    if len(bad):
        e = int(bad[0])
        raise CorruptChunkError(
            f"shard {keys[e // n_inner]!r}: " + messages[int(status[e])].format(e % n_inner)
        )
    present = np.flatnonzero(status == SHARD_OK)
    shard = present // n_inner
    order = np.lexsort((offsets[present], shard))
    s, start, stop = shard[order], offsets[present][order], (offsets + lengths)[present][order]
    overlap = np.flatnonzero((s[1:] == s[:-1]) & (start[1:] < stop[:-1]))
    if len(overlap):
        raise CorruptChunkError(f"shard {keys[int(s[overlap[0]])]!r}: inner chunk ranges overlap")


# -- scatter --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoxPlan:
    """Descriptors for ``cuzarr.kernels.scatter.copy_boxes``, in units of ``unit`` bytes."""

    src_base: np.ndarray  # int64 (n,): -1 = fill
    src_strides: np.ndarray  # int64 (n, ndim)
    dst_base: np.ndarray  # int64 (n,)
    dst_strides: np.ndarray  # int64 (n, ndim)
    counts: np.ndarray  # int64 (n, ndim)
    unit: int  # bytes per unit: 1, 2, 4 or 8
    per: int  # units per element
    unsupported: tuple[int, ...]  # items with integer-array selections (not boxes)

    @property
    def max_elements(self) -> int:
        return int(self.counts.prod(axis=1).max()) if len(self.counts) else 0


def _slice_bounds(s: slice, size: int) -> tuple[int, int, int]:
    start, stop, step = s.indices(size)
    return start, len(range(start, stop, step)), step


def _box(chunk_sel, out_sel, chunk_shape, out_strides, itemsize):
    """(src start, src strides, dst start, dst strides, counts) in bytes, None if not a box."""
    if any(isinstance(s, np.ndarray) for s in (*chunk_sel, *out_sel)):
        return None
    cstrides = np.cumprod((1, *chunk_shape[::-1][:-1]))[::-1] * itemsize  # C order
    src, dst, src_st, dst_st, counts = 0, 0, [], [], []
    outs = iter(zip(out_sel, out_strides))
    for sel, size, cstride in zip(chunk_sel, chunk_shape, cstrides):
        if isinstance(sel, slice):
            start, count, step = _slice_bounds(sel, size)
            o, ostride = next(outs)
            if not isinstance(o, slice):
                return None
            o_start, o_count, o_step = _slice_bounds(o, o.stop if o.stop is not None else count)
            if o_count != count:
                return None
            src += start * int(cstride)
            dst += o_start * ostride
            src_st.append(step * int(cstride))
            dst_st.append(o_step * ostride)
            counts.append(count)
        else:  # an int drops the dimension
            src += int(sel) * int(cstride)
            src_st.append(0)
            dst_st.append(0)
            counts.append(1)
    return src, src_st, dst, dst_st, counts


def box_plan(
    items: Sequence[tuple[tuple, tuple, tuple[int, ...], int]],
    itemsize: int,
    out_strides: Sequence[int],
    out_offset: int = 0,
    dst_align: int = 256,
) -> BoxPlan:
    """Box descriptors for ``(chunk_selection, out_selection, chunk_shape, chunk_offset)``
    items (``chunk_offset`` in bytes into the decoded buffer, or -1 for a fill box).
    ``out_strides`` are the output's byte strides (negative for flipped axes),
    ``out_offset`` the byte position of its element 0 in the flat destination, whose
    start is aligned to ``dst_align`` bytes."""
    rows, unsupported = [], []
    for i, (chunk_sel, out_sel, shape, offset) in enumerate(items):
        box = None
        if isinstance(chunk_sel, tuple) and isinstance(out_sel, tuple):  # vindex: arrays
            box = _box(chunk_sel, out_sel, tuple(shape), list(out_strides), itemsize)
        if box is None:
            unsupported.append(i)
            continue
        src, src_st, dst, dst_st, counts = box
        rows.append((-1 if offset < 0 else offset + src, src_st, out_offset + dst, dst_st, counts))
    ndim = len(out_strides) if not rows else len(rows[0][1])
    src_base = np.array([r[0] for r in rows], dtype=np.int64)
    src_st = np.array([r[1] for r in rows], dtype=np.int64).reshape(len(rows), ndim)
    dst_base = np.array([r[2] for r in rows], dtype=np.int64)
    dst_st = np.array([r[3] for r in rows], dtype=np.int64).reshape(len(rows), ndim)
    counts = np.array([r[4] for r in rows], dtype=np.int64).reshape(len(rows), ndim)
    values = np.concatenate([src_base[src_base >= 0], src_st.ravel(), dst_base, dst_st.ravel()])
    unit = next(u for u in (8, 4, 2, 1)
                if itemsize % u == 0 and dst_align % u == 0 and not (values % u).any())  # fmt: skip
    return BoxPlan(
        np.where(src_base >= 0, src_base // unit, -1), src_st // unit, dst_base // unit,
        dst_st // unit, counts, unit, itemsize // unit, tuple(unsupported),
    )  # fmt: skip


def swap_unit(dtype: np.dtype) -> int | None:
    """Bytes per byte-swapped item of ``dtype`` (1: nothing to swap; complex types swap
    each component), None for structured types (not swapped on the device)."""
    dtype = np.dtype(dtype)
    if dtype.fields is not None or dtype.subdtype is not None:
        return None
    if dtype.kind in "bSV" or dtype.itemsize == 1:
        return 1
    if dtype.kind == "c":
        return dtype.itemsize // 2
    if dtype.kind == "U":
        return 4
    return dtype.itemsize
