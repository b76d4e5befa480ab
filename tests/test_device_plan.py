"""Host-side planning of the device read path (pipeline/device_plan.py), on the CPU."""

import gzip
import io
import struct
import zlib

import numcodecs
import numcodecs.lz4
import numcodecs.zstd
import numpy as np
import pytest

from cuzarr.codecs.blosc_plan import concat_chunks
from cuzarr.codecs.sharding import EMPTY, ShardingCodec
from cuzarr.errors import CorruptChunkError
from cuzarr.grid import RegularChunkGrid
from cuzarr.indexing import orthogonal_selection, vectorized_selection
from cuzarr.pipeline import device_plan as dp

DATA = [np.arange(n, dtype="<u4").tobytes() for n in (1, 100, 3000, 7)]


def streams_of(batch: dp.RawStreams, buf):
    return [bytes(buf[s : s + n]) for s, n in zip(batch.src, batch.length)]


# -- one buffer ---------------------------------------------------------------------------


def test_pack_aligns_payloads():
    lengths = np.array([10, 1, 0, 33, 16])
    lead = np.array([4, 2, 0, 10, 4])
    offsets, total = dp.pack(lengths, 16, lead)
    assert ((offsets + lead) % 16 == 0).all()
    ends = offsets + lengths
    assert (offsets[1:] >= ends[:-1]).all() and total >= ends[-1] and total % 16 == 0
    assert dp.pack([], 16)[1] == 0


def test_gather():
    chunks = [b"abc", bytearray(b"defgh"), np.frombuffer(b"ij", np.uint8)]
    offsets, total = dp.pack([3, 5, 2], 8)
    dst = np.zeros(total, np.uint8)
    dp.gather(dst, offsets, chunks)
    assert [bytes(dst[o : o + 3]) for o in offsets] == [b"abc", b"def", b"ij\0"]
    repacked = np.zeros(16, np.uint8)
    dp.gather_ranges(repacked, [8, 0], dst, [offsets[1] + 1, 0], [4, 3])
    assert bytes(repacked[:3]) == b"abc" and bytes(repacked[8:12]) == b"efgh"


def _land(plan, files):
    """The device buffer after the plan's reads and moves, done with numpy."""
    buf = np.full(plan.total, 0xEE, np.uint8)
    for path, offset, nbytes, at in plan.reads:
        data = files[path][offset : offset + nbytes]
        buf[at : at + len(data)] = np.frombuffer(data, np.uint8)
    return buf


@pytest.mark.parametrize("align", [1, 8, 16])
def test_file_reads_merge_nearby_streams_and_align_them(align):
    rng = np.random.default_rng(align)
    files = {f"f{k}": rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes() for k in range(3)}
    # contiguous odd-sized streams in f0 (a shard), two far apart in f1, one whole f2
    lengths0 = rng.integers(1, 3000, 20)
    offsets0 = 7 + np.concatenate([[0], np.cumsum(lengths0)[:-1]])
    paths = ["f0"] * 20 + ["f1", "f1", "f2"]
    offsets = np.concatenate([offsets0, [100, 150_000, 0]])
    lengths = np.concatenate([lengths0, [50, 60, 200_000]])
    order = rng.permutation(len(paths))  # the batch's order is not the files' order
    paths, offsets, lengths = [paths[i] for i in order], offsets[order], lengths[order]
    plan = dp.plan_file_reads(paths, offsets, lengths, align, max_gap=1000, max_size=2**20)
    assert sorted((p, o) for p, o, _, _ in plan.reads) == [
        ("f0", 0),
        ("f1", 0),
        ("f1", 147456),
        ("f2", 0),
    ]
    assert all(o % dp.FILE_PAGE == 0 and at % dp.FILE_PAGE == 0 for _, o, _, at in plan.reads)
    assert sorted(np.concatenate(plan.members).tolist()) == list(range(len(paths)))
    buf = _land(plan, files)
    moves = plan.moves()
    for i in moves:  # what the copy kernel does on the device
        buf[plan.src[i] : plan.src[i] + lengths[i]] = buf[plan.landed[i] :][: lengths[i]]
    for i, (path, offset, n) in enumerate(zip(paths, offsets, lengths)):
        assert plan.src[i] % align == 0
        assert buf[plan.src[i] : plan.src[i] + n].tobytes() == files[path][offset : offset + n]
    assert (len(moves) == 0) == (align == 1)
    slots = sorted((plan.src[i], plan.src[i] + lengths[i]) for i in moves)
    landing = max(at + n for _, _, n, at in plan.reads)
    assert all(a >= landing for a, _ in slots) and plan.total >= (slots[-1][1] if slots else 0)
    assert all(b <= c for (_, b), (c, _) in zip(slots, slots[1:]))


def test_file_reads_respect_gap_and_size_limits():
    offsets, lengths = np.array([0, 100, 5000, 5100]), np.array([100, 100, 100, 100])
    plan = dp.plan_file_reads(["f"] * 4, offsets, lengths, 1, max_gap=0, max_size=2**20)
    assert [(o, n) for _, o, n, _ in plan.reads] == [(0, 200), (4096, 1104)]
    plan = dp.plan_file_reads(["f"] * 4, offsets, lengths, 1, max_gap=10_000, max_size=150)
    assert len(plan.reads) == 4
    empty = dp.plan_file_reads([], [], [], 8, 0, 1)
    assert empty.reads == [] and empty.total == 0


# -- raw bitstreams ------------------------------------------------------------------------


def test_lz4_prefix_is_stripped():
    chunks = [numcodecs.lz4.compress(d) for d in DATA]
    buf, offsets, lengths = concat_chunks(chunks)
    s = dp.lz4_streams(buf, offsets, lengths, expected=[len(d) for d in DATA])
    assert s.algorithm == "LZ4" and not s.host.any() and s.size.tolist() == [len(d) for d in DATA]
    for raw, data in zip(streams_of(s, buf), DATA):  # a raw LZ4 block: re-prefixed it decodes
        assert numcodecs.lz4.decompress(len(data).to_bytes(4, "little") + raw) == data
    bad = dp.lz4_streams(buf, offsets, lengths, expected=[4, 400, 0, 28])
    assert bad.host.tolist() == [0, 0, 8, 0]
    short = dp.lz4_streams(b"\x01\x00", [0], [2])
    assert short.host.tolist() == [1] and short.device().size == 0


def test_lz4_empty_chunk_is_not_decoded():
    empty = numcodecs.lz4.compress(b"")
    s = dp.lz4_streams(empty, [0], [len(empty)])
    assert s.size.tolist() == [0] and s.empty().tolist() == [0] and not len(s.device())


def gzip_member(data, **header):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", **header) as f:
        f.write(data)
    return out.getvalue()


def gzip_with_flags(data, extra=b"", name=b"", comment=b"", hcrc=False):
    """A gzip member with the optional header fields (RFC 1952), built by hand."""
    flags = (4 if extra else 0) | (8 if name else 0) | (16 if comment else 0) | (2 if hcrc else 0)
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\x00\xff"
    if extra:
        header += struct.pack("<H", len(extra)) + extra
    header += name + b"\0" if name else b""
    header += comment + b"\0" if comment else b""
    header += b"\xaa\xbb" if hcrc else b""
    body = zlib.compressobj(6, zlib.DEFLATED, -15)
    deflate = body.compress(data) + body.flush()
    return header + deflate + struct.pack("<II", zlib.crc32(data), len(data))


def test_zlib_and_gzip_become_raw_deflate():
    data = DATA[2]
    chunks = [
        zlib.compress(data, 1),
        numcodecs.GZip(5).encode(data),
        gzip_member(data, filename="x.bin"),  # FNAME
        gzip_with_flags(data, extra=b"ab", name=b"n", comment=b"c", hcrc=True),
        gzip_with_flags(data, extra=b"\x00" * 300),
    ]
    buf, offsets, lengths = concat_chunks(chunks)
    s = dp.deflate_streams(buf, offsets, lengths, expected=[len(data)] * len(chunks))
    assert s.algorithm == "Deflate" and not s.host.any() and (s.size == len(data)).all()
    for raw in streams_of(s, buf):
        assert zlib.decompress(raw, -15) == data
    # packing leads: where each chunk's DEFLATE data starts
    assert [dp.deflate_lead(c) for c in chunks] == list(s.src - offsets)


@pytest.mark.parametrize(
    "chunk,reason",
    [
        (zlib.compress(b"abc")[:1], 2),  # too short to be anything
        (b"\x00" * 40, 2),  # neither zlib nor gzip (raw deflate under the gzip name: host)
        (b"\x78\xbb" + b"\0" * 10, 3),  # zlib with FDICT (0x78bb % 31 == 0, bit 0x20 set)
        (b"\x1f\x8b\x08\xe0" + b"\0" * 20, 4),  # reserved gzip flags
        (gzip_with_flags(b"x" * 50, name=b"unterminated")[:21], 4),  # header runs off the end
        (gzip_member(b"a" * 10) + gzip_member(b"b" * 20), 8),  # two members: ISIZE is 20
    ],
)
def test_deflate_streams_sent_to_the_host(chunk, reason):
    s = dp.deflate_streams(chunk, [0], [len(chunk)], expected=[30])
    assert s.host.tolist() == [reason], dp.HOST_REASONS[s.host[0]]


def zstd_frame(content, *, fcs=True, checksum=False, rle=False):
    """A zstd frame built by hand (RFC 8878): raw or RLE blocks."""
    fhd = (0x20 if fcs else 0) | (4 if checksum else 0)  # single segment with a 1-byte FCS
    header = b"\x28\xb5\x2f\xfd" + bytes([fhd]) + (bytes([len(content)]) if fcs else b"\x00")
    if rle:
        block = ((len(content) << 3) | (1 << 1) | 1).to_bytes(3, "little") + content[:1]
    else:
        block = ((len(content) << 3) | 1).to_bytes(3, "little") + content
    return header + block + (b"\0\0\0\0" if checksum else b"")


def test_zstd_frames():
    data = DATA[1]
    chunks = [
        numcodecs.zstd.compress(data, 3),
        numcodecs.Zstd(level=1, checksum=True).encode(data),
        zstd_frame(b"abc"),
        zstd_frame(b"zzzz", rle=True),
        numcodecs.zstd.compress(np.zeros(100_000, "u1").tobytes(), 1),  # several blocks
        numcodecs.zstd.compress(b"", 3),  # empty: content size 0
    ]
    buf, offsets, lengths = concat_chunks(chunks)
    s = dp.zstd_streams(buf, offsets, lengths)
    assert s.algorithm == "Zstd" and not s.host.any()
    assert s.size.tolist() == [len(data), len(data), 3, 4, 100_000, 0]
    assert streams_of(s, buf) == chunks  # frames are passed on whole
    assert s.empty().tolist() == [5] and s.device().tolist() == [0, 1, 2, 3, 4]
    assert (
        numcodecs.zstd.decompress(zstd_frame(b"zzzz", rle=True)) == b"zzzz"
    )  # the hand-made ones are valid


@pytest.mark.parametrize(
    "chunk,reason",
    [
        (zstd_frame(b"abc", fcs=False), 5),  # no content size (a streaming writer's)
        (zstd_frame(b"abc") + zstd_frame(b"de"), 6),  # two frames
        (zstd_frame(b"abc") + b"\0", 6),  # trailing byte
        (b"\x50\x2a\x4d\x18" + b"\x04\0\0\0abcd" + zstd_frame(b"x"), 6),  # skippable frame first
        (zstd_frame(b"abcdef")[:-2], 6),  # truncated block
        (b"\x28\xb5\x2f\xfd\x21\x03\x00" + b"\x00" * 4, 7),  # a dictionary id
        (b"\x28\xb5\x2f", 1),  # too short
    ],
)
def test_zstd_streams_sent_to_the_host(chunk, reason):
    s = dp.zstd_streams(chunk, [0], [len(chunk)])
    assert s.host.tolist() == [reason], dp.HOST_REASONS[s.host[0]]


def test_zstd_expected_size_and_dispatch():
    frame = numcodecs.zstd.compress(DATA[1], 3)
    s = dp.raw_streams("zstd", frame, [0], [len(frame)], expected=[len(DATA[1]) + 1])
    assert s.host.tolist() == [8]


# -- shard indexes --------------------------------------------------------------------------


def shard_with(parts, location):
    codec = ShardingCodec((2,), index_location=location)
    shard = codec.assemble(parts, (2 * len(parts),))
    n = codec.index_nbytes((2 * len(parts),))
    index = shard[:n] if location == "start" else shard[-n:]
    return shard, np.frombuffer(index[:-4], "<u8"), n


@pytest.mark.parametrize("location", ["start", "end"])
def test_parse_real_shard_indexes(location):
    parts_a = [b"aa", None, b"cccc", b"d"]
    parts_b = [None, None, b"x" * 9, None]
    shard_a, table_a, n = shard_with(parts_a, location)
    shard_b, table_b, _ = shard_with(parts_b, location)
    start = n if location == "start" else 0
    status, offsets, lengths = dp.parse_shard_indexes(
        np.concatenate([table_a, table_b]),
        4,
        [start, start],
        [len(shard_a), len(shard_b)],
        [0, len(shard_a)],
    )
    batch = shard_a + shard_b
    for i, part in enumerate(parts_a + parts_b):
        if part is None:
            assert status[i] == dp.SHARD_EMPTY and lengths[i] == 0
        else:
            assert status[i] == dp.SHARD_OK and batch[offsets[i] : offsets[i] + lengths[i]] == part
    dp.check_shard_indexes(status, offsets, lengths, 4, ["a", "b"])


def test_shard_index_errors_name_the_shard():
    e = int(EMPTY)
    cases = [
        ([(0, 4), (e, 3)], "half empty"),
        ([(0, 4), (2**63, 3)], "2\\*\\*63"),
        ([(0, 4), (2, 3)], "overlap"),
        ([(10, 4), (0, 3)], "starts inside the index"),
        ([(90, 40), (0, 3)], "past the end"),
    ]
    for table, message in cases:
        status, offsets, lengths = dp.parse_shard_indexes(
            np.array(table, np.uint64), 2, [5 if "index" in message else 0], [100]
        )
        with pytest.raises(CorruptChunkError, match=f"shard 's/0'.*{message}"):
            dp.check_shard_indexes(status, offsets, lengths, 2, ["s/0"])


# -- scatter plans ----------------------------------------------------------------------------


def emulate_copy_boxes(plan: dp.BoxPlan, work, flat, fill):
    """What cuzarr.kernels.scatter.copy_boxes does, in numpy (units of plan.unit bytes)."""
    unit = np.dtype(f"u{plan.unit}")
    src, dst, fill = work.view(unit), flat.view(unit), fill.view(unit)
    for b in range(len(plan.src_base)):
        idx = np.indices(plan.counts[b]).reshape(len(plan.counts[b]), -1)
        s = plan.src_base[b] + (idx * plan.src_strides[b][:, None]).sum(axis=0)
        d = plan.dst_base[b] + (idx * plan.dst_strides[b][:, None]).sum(axis=0)
        for u in range(plan.per):
            dst[d + u] = fill[u] if plan.src_base[b] < 0 else src[s + u]


@pytest.mark.parametrize(
    "selection",
    [
        (slice(None), slice(None), slice(None)),
        (slice(1, 7, 2), 3, slice(None, None, -3)),
        (slice(None, None, -1), slice(2, 4), 0),
        (2, 3, 4),
    ],
)
@pytest.mark.parametrize("dtype", ["<u2", "<f8", "V3"])
def test_box_plan_reproduces_numpy_indexing(selection, dtype):
    shape, chunks = (7, 5, 9), (3, 2, 4)
    data = np.arange(np.prod(shape) * np.dtype(dtype).itemsize, dtype="u1")
    data = data.view(dtype).reshape(shape)
    sel = orthogonal_selection(selection, shape, RegularChunkGrid(chunks).dims(shape))
    out = np.zeros(sel.out_shape, dtype=dtype)
    view = sel.out_view(out)
    items, parts, pos = [], [], 0
    for i, p in enumerate(sel.projections):
        region = tuple(slice(c * n, (c + 1) * n) for c, n in zip(p.chunk_coords, chunks))
        chunk = np.zeros(chunks, dtype=dtype)
        part = data[region]
        chunk[tuple(slice(0, s) for s in part.shape)] = part
        if i == 1:  # one missing chunk: filled
            items.append((p.chunk_selection, p.out_selection, chunks, -1))
            data[region] = np.zeros(part.shape, dtype=dtype)  # what the read must give
            continue
        items.append((p.chunk_selection, p.out_selection, chunks, pos))
        parts.append(chunk.reshape(-1).view("u1"))
        pos += chunk.nbytes
    origin = view.__array_interface__["data"][0] - out.__array_interface__["data"][0]
    plan = dp.box_plan(items, data.itemsize, view.strides, origin, dst_align=16)
    assert not plan.unsupported and plan.unit * plan.per == data.itemsize
    work = np.concatenate(parts) if parts else np.zeros(8, "u1")
    emulate_copy_boxes(plan, work, out.reshape(-1).view("u1"), np.zeros(1, dtype=dtype).view("u1"))
    assert out.tobytes() == data[selection].tobytes()


def test_box_plan_leaves_array_selections_to_the_caller():
    shape, chunks = (6, 6), (3, 3)
    sel = orthogonal_selection(
        (np.array([0, 4]), slice(None)), shape, RegularChunkGrid(chunks).dims(shape)
    )
    items = [(p.chunk_selection, p.out_selection, chunks, 0) for p in sel.projections]
    plan = dp.box_plan(items, 4, (24, 4))
    assert plan.unsupported == tuple(range(len(items))) and len(plan.src_base) == 0
    points = (np.array([1, 2]), np.array([0, 5]))
    vectorized = vectorized_selection(points, shape, RegularChunkGrid(chunks).dims(shape))
    vsel = [(p.chunk_selection, p.out_selection, chunks, 0) for p in vectorized.projections]
    assert dp.box_plan(vsel, 4, (4,)).unsupported == tuple(range(len(vsel)))


def test_swap_unit():
    assert [
        dp.swap_unit(t) for t in ("u1", ">i2", "<f4", ">c16", "S5", "V7", "?", "<U3", "<M8[s]")
    ] == [1, 2, 4, 8, 1, 1, 1, 4, 8]
    assert dp.swap_unit(np.dtype([("a", "<i4"), ("b", ">f8")])) is None
