"""Host-side Blosc planning (codecs/blosc_plan.py): descriptors + numpy reference decoder,
byte-exact against numcodecs (c-blosc) on every combination that matters."""

import itertools
import struct

import numcodecs.blosc
import numpy as np
import pytest

from cuzarr.codecs import blosc_plan as bp

AVAILABLE = set(numcodecs.blosc.list_compressors())
CNAMES = [c for c in ("lz4", "lz4hc", "zlib", "zstd", "blosclz") if c in AVAILABLE]
DTYPES = ["u1", "<u2", "<i4", "<f8"]


def values(n, dtype, seed):
    """Compressible with noisy stretches, so some splits are stored raw."""
    rng = np.random.default_rng(seed)
    v = np.arange(n) // 3 + rng.integers(0, 4, n)
    v[n // 3 : n // 2] = rng.integers(0, 2**15, n // 2 - n // 3)
    return v.astype(dtype)


def batch_of(cname):
    arrays, chunks = [], []
    for shuffle, blocksize, dtype, n in itertools.product(
        (0, 1, 2), (0, 256, 3000, 20000), DTYPES, (5, 1001, 6007)
    ):
        a = values(n, dtype, seed=n + blocksize)
        arrays.append(a)
        chunks.append(numcodecs.blosc.compress(a, cname.encode(), 5, shuffle, blocksize))
    return arrays, chunks


@pytest.mark.parametrize("cname", CNAMES)
def test_reference_decoder_is_byte_exact(cname):
    arrays, chunks = batch_of(cname)
    buf, offsets, lengths = bp.concat_chunks(chunks)
    plan = bp.plan_blosc_batch(buf, offsets, lengths)
    decoded = bp.decode_plan(plan, buf)
    for i, a in enumerate(arrays):
        start = plan.chunk_dst[i]
        assert decoded[start : start + a.nbytes].tobytes() == a.tobytes(), i
    # the batch covers what it should
    assert plan.memcpyed.any()
    if cname == "blosclz":
        assert set(plan.fallback[~plan.memcpyed]) == {1}  # every compressed chunk -> host
        return
    assert not plan.fallback.any() and (plan.leftover > 0).any()
    assert (plan.split_raw & ~plan.memcpyed[plan.split_chunk]).any()  # splits stored raw
    assert {bp.NOSHUFFLE, bp.BYTESHUFFLE, bp.BITSHUFFLE} <= set(plan.block_shuffle.tolist())
    assert (
        plan.split_codec[~plan.split_raw] == plan.codec[plan.split_chunk[~plan.split_raw]]
    ).all()


def test_descriptors_of_a_known_chunk():
    """20000 int32 values, lz4 + shuffle; c-blosc picks the block size (a requested 4096
    becomes 65536), so it is read from the header and everything else checked against it."""
    a = np.arange(20000, dtype="<i4")
    chunk = numcodecs.blosc.compress(a, b"lz4", 5, 1, 4096)
    flags, typesize, nbytes, blocksize, cbytes = struct.unpack_from("<xxBBIII", chunk)
    plan = bp.plan_blosc_batch(chunk, [0], [len(chunk)])
    nblocks = -(-nbytes // blocksize)
    assert (plan.typesize[0], plan.nbytes[0], plan.blocksize[0]) == (4, 80000, blocksize)
    assert plan.nblocks[0] == nblocks and plan.leftover[0] == nbytes % blocksize
    assert plan.flags[0] == flags and plan.codec[0] == bp.LZ4 and not plan.memcpyed[0]
    full = [b for b in range(len(plan.block_size)) if plan.block_size[b] == blocksize]
    # full blocks are split in 4 byte planes; the leftover block is one stream
    assert len(plan.split_src) == 4 * len(full) + (1 if nbytes % blocksize else 0)
    assert set(plan.split_size.tolist()) <= {blocksize // 4, nbytes % blocksize}
    assert (plan.block_shuffle == bp.BYTESHUFFLE).all() and plan.stage_nbytes >= nbytes
    assert plan.split_to_stage.all() and (plan.block_stage % 16 == 0).all()
    np.testing.assert_array_equal(bp.decode_plan(plan, chunk), a.view(np.uint8))


def test_zstd_is_never_split_and_typesize_over_16_neither():
    a = np.arange(4000, dtype="<f8")
    zstd = bp.plan_blosc_batch(c := numcodecs.blosc.compress(a, b"zstd", 5, 1, 0), [0], [len(c)])
    assert zstd.flags[0] & 0x10 and len(zstd.split_src) == zstd.nblocks[0]
    wide = np.frombuffer(a.tobytes(), dtype="V32")
    c = numcodecs.blosc.compress(wide, b"lz4", 5, 1, 0)
    plan = bp.plan_blosc_batch(c, [0], [len(c)])
    assert plan.typesize[0] == 32 and len(plan.split_src) == plan.nblocks[0]
    assert bp.decode_plan(plan, c).tobytes() == a.tobytes()


def test_empty_and_memcpyed_chunks():
    empty = numcodecs.blosc.compress(np.zeros(0, "u1"), b"lz4", 5, 1, 0)
    small = numcodecs.blosc.compress(np.arange(40, dtype="u1"), b"lz4", 5, 1, 0)  # < 128 bytes
    level0 = numcodecs.blosc.compress(np.arange(1000, dtype="<u2"), b"zstd", 0, 1, 0)
    buf, offsets, lengths = bp.concat_chunks([empty, small, level0])
    plan = bp.plan_blosc_batch(buf, offsets, lengths)
    assert plan.nbytes.tolist() == [0, 40, 2000]
    assert plan.memcpyed.tolist() == [True, True, True] and not plan.fallback.any()
    assert plan.split_raw.all() and plan.split_len.tolist() == [40, 2000]  # one copy each
    assert len(plan.block_chunk) == 0  # shuffle flags of memcpyed chunks are ignored
    decoded = bp.decode_plan(plan, buf)
    assert (
        decoded.tobytes()
        == np.arange(40, dtype="u1").tobytes() + np.arange(1000, dtype="<u2").tobytes()
    )


def test_chunk_destinations_and_expected_sizes():
    chunks = [
        numcodecs.blosc.compress(np.arange(n, dtype="<u4"), b"lz4", 5, 1, 0) for n in (300, 50)
    ]
    buf, offsets, lengths = bp.concat_chunks(chunks)
    plan = bp.plan_blosc_batch(
        buf, offsets, lengths, expected_nbytes=[1200, 999], chunk_dst=[512, 0]
    )
    assert plan.fallback.tolist() == [0, 6]  # the second chunk is not 999 bytes: host
    assert plan.decoded_nbytes == 1712 and plan.nbytes.tolist() == [1200, 999]
    assert (plan.split_dst[~plan.split_to_stage] >= 512).all()
    assert plan.fallback_reason(1) == "decoded size differs from the expected chunk size"


def corrupt(chunk, at, value, fmt="<I"):
    chunk = bytearray(chunk)
    struct.pack_into(fmt, chunk, at, value)
    return bytes(chunk)


GOOD = numcodecs.blosc.compress(np.arange(5000, dtype="<i4") // 7, b"lz4", 5, 1, 4096)


@pytest.mark.parametrize(
    "chunk,reason",
    [
        (GOOD[:10], 3),  # shorter than the header
        (corrupt(GOOD, 0, 3, "<B"), 4),  # version 3
        (corrupt(GOOD, 2, GOOD[2] | 0x08, "<B"), 4),  # reserved flag bit
        (corrupt(GOOD, 3, 0, "<B"), 4),  # typesize 0
        (corrupt(GOOD, 8, 0), 4),  # blocksize 0
        (corrupt(GOOD, 12, len(GOOD) + 1), 5),  # cbytes past the chunk
        (corrupt(GOOD, 8, 16), 7),  # tiny blocks: more bstarts than bytes
        (corrupt(GOOD, 16, 5), 7),  # first bstart inside the table
        (corrupt(GOOD, 16, len(GOOD) + 9), 7),  # bstart past the end
        (GOOD[:-1] + b"", 5),  # truncated by one byte: cbytes > length
        (corrupt(GOOD, struct.unpack_from("<i", GOOD, 16)[0], 2**30), 8),  # split past the end
        (corrupt(GOOD, struct.unpack_from("<i", GOOD, 16)[0], 2**31 + 5), 8),  # negative csize
        (corrupt(GOOD, 2, (GOOD[2] & 0x1F) | (5 << 5), "<B"), 2),  # inner codec 5
    ],
)
def test_corrupt_chunks_go_to_the_host(chunk, reason):
    other = numcodecs.blosc.compress(np.arange(700, dtype="<u2"), b"zstd", 5, 2, 0)
    buf, offsets, lengths = bp.concat_chunks([other, chunk, other])
    plan = bp.plan_blosc_batch(buf, offsets, lengths)
    assert plan.fallback.tolist() == [0, reason, 0], plan.fallback_reason(1)
    assert 1 not in plan.split_chunk and 1 not in plan.block_chunk
    decoded = bp.decode_plan(plan, buf, host_decode=lambda i: b"\xab" * int(plan.nbytes[i]))
    want = np.arange(700, dtype="<u2").tobytes()
    assert decoded[plan.chunk_dst[0] : plan.chunk_dst[0] + 1400].tobytes() == want
    assert decoded[plan.chunk_dst[2] : plan.chunk_dst[2] + 1400].tobytes() == want


def test_corrupt_inner_stream_raises_in_the_reference_decoder():
    first_split = struct.unpack_from("<i", GOOD, 16)[0] + 4
    bad = bytearray(GOOD)
    bad[first_split : first_split + 8] = b"\xff" * 8
    plan = bp.plan_blosc_batch(bytes(bad), [0], [len(bad)])
    with pytest.raises(Exception):  # noqa: B017 (numcodecs' LZ4 error or ours)
        bp.decode_plan(plan, bytes(bad))


@pytest.mark.parametrize("typesize", [1, 2, 3, 4, 8, 16])
@pytest.mark.parametrize("size", [0, 7, 64, 67, 200])
def test_shuffle_references(typesize, size):
    block = np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8)
    assert (
        bp.byte_unshuffle(bp.byte_shuffle(block, typesize), typesize).tobytes() == block.tobytes()
    )
    assert bp.bit_unshuffle(bp.bit_shuffle(block, typesize), typesize).tobytes() == block.tobytes()
    n = size // typesize
    if n:  # byte shuffle = numcodecs' whole-buffer shuffle filter on the element part
        from numcodecs import Shuffle

        body = block[: n * typesize]
        assert (
            bp.byte_shuffle(block, typesize)[: n * typesize].tobytes()
            == Shuffle(typesize).encode(body).tobytes()
        )
    if n % 8:  # c-blosc stores such blocks unshuffled
        assert bp.bit_shuffle(block, typesize).tobytes() == block.tobytes()
    assert (
        bp.byte_shuffle(block, typesize)[n * typesize :].tobytes()
        == block[n * typesize :].tobytes()
    )
