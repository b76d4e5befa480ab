"""Byteswap kernel against numpy's byteswap, under the simulator."""

import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.kernels.byteswap import byteswap  # noqa: E402
from cuzarr.pipeline.device_plan import swap_unit  # noqa: E402


def test_segments_of_mixed_item_sizes():
    rng = np.random.default_rng(0)
    arrays = [
        rng.integers(0, 2**16, 7).astype(">u2"),
        rng.standard_normal(5).astype(">f8"),
        rng.integers(-(2**31), 2**31, 0).astype(">i4"),  # empty segment
        (rng.standard_normal(3) + 1j).astype(">c16"),  # complex: each 8-byte half
        rng.integers(0, 255, 9).astype("u1"),  # one-byte items: untouched
        rng.integers(0, 2**31, 33).astype(">i4"),
    ]
    units = [swap_unit(a.dtype) for a in arrays]
    assert units == [2, 8, 4, 8, 1, 4]
    buf = np.concatenate([a.view(np.uint8) for a in arrays] + [np.full(3, 7, np.uint8)])
    offsets = np.cumsum([0] + [a.nbytes for a in arrays[:-1]]).astype(np.int64)
    counts = np.array([a.nbytes // u for a, u in zip(arrays, units)], dtype=np.int64)
    byteswap(buf, offsets, counts, np.array(units, dtype=np.int64))
    for a, o in zip(arrays, offsets):
        native = a.astype(a.dtype.newbyteorder("="))
        np.testing.assert_array_equal(buf[o : o + a.nbytes].view(native.dtype), native)
    assert buf[-3:].tolist() == [7, 7, 7]


def test_twice_is_identity_and_many_items_per_thread():
    buf = np.arange(4000, dtype=np.uint8)
    args = (np.array([0, 2000]), np.array([250, 500]), np.array([8, 4]))
    byteswap(buf, *args, threads=4)
    assert buf[:8].tolist() == [7, 6, 5, 4, 3, 2, 1, 0]
    byteswap(buf, *args, threads=4)
    np.testing.assert_array_equal(buf, np.arange(4000, dtype=np.uint8))
