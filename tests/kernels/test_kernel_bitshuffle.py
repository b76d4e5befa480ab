"""Bit shuffle / unshuffle kernels against the numpy references, under the simulator,
and the whole Blosc device pipeline (plan -> inner streams -> unshuffle kernels) on real
numcodecs chunks."""

import numcodecs.blosc
import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.codecs import blosc_plan as ref  # noqa: E402
from cuzarr.kernels.bitshuffle import bit_shuffle, bit_unshuffle  # noqa: E402
from cuzarr.kernels.scatter import copy_segments  # noqa: E402
from cuzarr.kernels.shuffle import byte_unshuffle  # noqa: E402

# sizes x typesizes: n % 8 == 0 with and without leftover bytes, n % 8 != 0 (stored
# as is), shorter than 8 elements, empty, one-byte elements, wide elements
SIZES = [64, 67, 24, 40, 0, 5, 96, 130, 48]
TYPESIZES = [1, 4, 2, 4, 4, 8, 3, 16, 6]


def batch(seed=0):
    sizes = np.array(SIZES, dtype=np.int64)
    offsets = np.zeros(len(sizes), dtype=np.int64)
    offsets[1:] = np.cumsum(sizes)[:-1]
    data = np.random.default_rng(seed).integers(0, 256, int(sizes.sum()), dtype=np.uint8)
    return data, offsets, sizes, np.array(TYPESIZES, dtype=np.int64)


@pytest.mark.parametrize(
    "kernel,reference", [(bit_unshuffle, ref.bit_unshuffle), (bit_shuffle, ref.bit_shuffle)]
)
def test_matches_reference(kernel, reference):
    data, offsets, sizes, typesizes = batch()
    out = np.zeros_like(data)
    kernel(data, out, offsets, offsets, sizes, typesizes)
    for o, n, t in zip(offsets, sizes, typesizes):
        np.testing.assert_array_equal(
            out[o : o + n], reference(data[o : o + n], int(t)), err_msg=f"{n}/{t}"
        )


def test_round_trip():
    data, offsets, sizes, typesizes = batch(1)
    shuffled, back = np.zeros_like(data), np.zeros_like(data)
    bit_shuffle(data, shuffled, offsets, offsets, sizes, typesizes)
    bit_unshuffle(shuffled, back, offsets, offsets, sizes, typesizes)
    np.testing.assert_array_equal(back, data)


def test_layout_is_bit_rows():
    """Bit k of byte j of element i sits in row 8j+k at bit i (formats.md 5.3)."""
    elements = np.array([1, 0, 0, 0, 0, 0, 0, 0x80], dtype=np.uint8)  # 8 one-byte elements
    out = np.zeros(8, dtype=np.uint8)
    zero = np.zeros(1, dtype=np.int64)
    bit_shuffle(elements, out, zero, zero, np.array([8]), np.array([1]))
    assert out.tolist() == [1, 0, 0, 0, 0, 0, 0, 0x80]  # row 0: element 0; row 7: element 7
    elements = np.array([3] + [0] * 7, dtype=np.uint8)
    bit_shuffle(elements, out, zero, zero, np.array([8]), np.array([1]))
    assert out.tolist() == [1, 1, 0, 0, 0, 0, 0, 0]


@pytest.mark.parametrize("shuffle", [1, 2])
@pytest.mark.parametrize("cname", ["lz4", "zstd"])
def test_blosc_chunks_through_the_kernels(shuffle, cname):
    """numcodecs chunks -> plan -> CPU inner decode into the stage -> copy/unshuffle kernels
    = numcodecs' decode: leftover blocks, raw splits and memcpyed chunks included."""
    rng = np.random.default_rng(2)
    values = [
        (np.arange(300, dtype="<u4") // 5).astype("<u4"),  # blocks of 256 bytes, leftover 176
        rng.integers(0, 2**16, 77).astype("<u2"),  # noisy: raw splits / memcpyed
        (np.arange(60, dtype="<f8") / 7),  # 480 bytes, leftover block, n % 8 != 0
        np.arange(20, dtype="u1"),  # under 128 bytes: memcpyed
        np.concatenate([rng.integers(0, 2**32, 64), np.arange(200) // 5]).astype(
            "<u4"
        ),  # a raw block
    ]
    chunks = [numcodecs.blosc.compress(v, cname.encode(), 5, shuffle, 256) for v in values]
    buf, offsets, lengths = ref.concat_chunks(chunks)
    plan = ref.plan_blosc_batch(buf, offsets, lengths, stage_align=16)
    assert not plan.fallback.any()
    kind = ref.BYTESHUFFLE if shuffle == 1 else ref.BITSHUFFLE
    assert plan.memcpyed.any() and (plan.leftover > 0).any() and len(plan.shuffled_blocks(kind))
    assert (plan.split_raw & ~plan.memcpyed[plan.split_chunk]).any()  # a split stored raw
    work = np.zeros(plan.decoded_nbytes + plan.stage_nbytes, dtype=np.uint8)
    stage_base = plan.decoded_nbytes
    dst = plan.split_dst + np.where(plan.split_to_stage, stage_base, 0)
    raw = plan.raw_splits()
    copy_segments(buf, work, plan.split_src[raw], dst[raw], plan.split_len[raw])
    for s in plan.compressed_splits({"lz4": ref.LZ4, "zstd": ref.ZSTD}[cname]):
        stream = buf[plan.split_src[s] : plan.split_src[s] + plan.split_len[s]]
        size = int(plan.split_size[s])
        work[dst[s] : dst[s] + size] = np.frombuffer(
            ref.decompress_stream(int(plan.split_codec[s]), stream, size), np.uint8
        )
    for kind, kernel in ((ref.BYTESHUFFLE, byte_unshuffle), (ref.BITSHUFFLE, bit_unshuffle)):
        b = plan.shuffled_blocks(kind)
        if len(b):
            kernel(work, work, stage_base + plan.block_stage[b], plan.block_dst[b],
                   plan.block_size[b], plan.block_typesize[b])  # fmt: skip
    decoded = work[: plan.decoded_nbytes]
    for value, start, n in zip(values, plan.chunk_dst, plan.nbytes):
        assert decoded[start : start + n].tobytes() == value.tobytes()
