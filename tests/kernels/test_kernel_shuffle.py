"""Byte shuffle / unshuffle kernels against the numpy references, under the simulator."""

import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.codecs import blosc_plan as ref  # noqa: E402
from cuzarr.kernels.shuffle import byte_shuffle, byte_unshuffle  # noqa: E402


def segments(sizes, typesizes, gap=3, seed=0):
    """A buffer holding one segment per size, with gaps between them, and descriptors."""
    sizes = np.array(sizes, dtype=np.int64)
    offsets = np.zeros(len(sizes), dtype=np.int64)
    offsets[1:] = np.cumsum(sizes + gap)[:-1]
    data = np.random.default_rng(seed).integers(0, 256, int((sizes + gap).sum()), dtype=np.uint8)
    return data, offsets, sizes, np.array(typesizes, dtype=np.int64)


def expected(function, data, offsets, sizes, typesizes, dst_offsets, nbytes):
    out = np.full(nbytes, 0xEE, dtype=np.uint8)
    for o, d, n, t in zip(offsets, dst_offsets, sizes, typesizes):
        out[d : d + n] = function(data[o : o + n], int(t))
    return out


# sizes x typesizes: empty, shorter than one element, leftover bytes, exact multiples
CASES = [
    ([0, 1, 5, 16, 17, 100, 333, 64], [4, 2, 8, 4, 4, 3, 8, 1]),
    ([7, 9, 130, 256], [16, 5, 7, 2]),
]


@pytest.mark.parametrize("sizes,typesizes", CASES)
@pytest.mark.parametrize(
    "kernel,reference", [(byte_unshuffle, ref.byte_unshuffle), (byte_shuffle, ref.byte_shuffle)]
)
def test_matches_reference(kernel, reference, sizes, typesizes):
    data, offsets, sizes, typesizes = segments(sizes, typesizes)
    dst_offsets = offsets + 1  # written one byte further on
    out = np.full(len(data) + 1, 0xEE, dtype=np.uint8)
    kernel(data, out, offsets, dst_offsets, sizes, typesizes)
    want = expected(reference, data, offsets, sizes, typesizes, dst_offsets, len(out))
    np.testing.assert_array_equal(out, want)


def test_round_trip_and_gaps_untouched():
    data, offsets, sizes, typesizes = segments([40, 96, 23], [4, 8, 2], gap=5)
    shuffled = np.full_like(data, 0x55)
    byte_shuffle(data, shuffled, offsets, offsets, sizes, typesizes)
    back = np.full_like(data, 0x55)
    byte_unshuffle(shuffled, back, offsets, offsets, sizes, typesizes)
    for o, n in zip(offsets, sizes):
        np.testing.assert_array_equal(back[o : o + n], data[o : o + n])
    gaps = np.ones(len(data), dtype=bool)
    for o, n in zip(offsets, sizes):
        gaps[o : o + n] = False
    assert (back[gaps] == 0x55).all()


def test_layout_is_byte_planes():
    """Element i, byte j lands at j * n + i (formats.md 5.3); trailing bytes stay put."""
    block = np.arange(11, dtype=np.uint8)  # 2 elements of 4 bytes + 3 leftover bytes
    out = np.zeros_like(block)
    one = np.zeros(1, dtype=np.int64)
    byte_shuffle(block, out, one, one, np.array([11]), np.array([4]))
    assert out.tolist() == [0, 4, 1, 5, 2, 6, 3, 7, 8, 9, 10]


def test_more_tiles_than_threads():
    """A segment longer than one grid row of threads: the grid-stride loop covers it."""
    data, offsets, sizes, typesizes = segments([1000], [4])
    out = np.zeros_like(data)
    byte_unshuffle(data, out, offsets, offsets, sizes, typesizes, threads=4)
    np.testing.assert_array_equal(out[:1000], ref.byte_unshuffle(data[:1000], 4))


def test_empty_batch_and_device_descriptors_need_a_maximum():
    empty = np.zeros(0, dtype=np.int64)
    byte_unshuffle(np.zeros(1, np.uint8), np.zeros(1, np.uint8), empty, empty, empty, empty)
    with pytest.raises(TypeError, match="maximum"):
        byte_unshuffle(np.zeros(4, np.uint8), np.zeros(4, np.uint8), [0], [0], [4], [2])
