"""crc32c kernel against the crc32c package (the zarr crc32c codec's checksum)."""

import crc32c as crc32c_package
import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.kernels.crc32c import POLY, byte_table, crc32c, power_table  # noqa: E402

LENGTHS = [0, 1, 3, 4, 5, 15, 16, 17, 63, 100, 257, 1000]


def run(lengths, threads, gap=2):
    lengths = np.array(lengths, dtype=np.int64)
    offsets = np.cumsum(np.r_[0, lengths[:-1] + gap]).astype(np.int64)
    buf = np.random.default_rng(len(lengths)).integers(
        0, 256, int(offsets[-1] + lengths[-1]), dtype=np.uint8
    )
    out = np.zeros(len(lengths), dtype=np.uint32)
    crc32c(buf, offsets, lengths, out, threads=threads)
    want = [crc32c_package.crc32c(buf[o : o + n].tobytes()) for o, n in zip(offsets, lengths)]
    return out.tolist(), want


@pytest.mark.parametrize("threads", [1, 4, 16, 7])
def test_matches_crc32c_package(threads):
    got, want = run(LENGTHS, threads)
    assert got == want


def test_known_value():
    buf = np.frombuffer(b"123456789", dtype=np.uint8).copy()
    out = np.zeros(1, dtype=np.uint32)
    crc32c(buf, np.array([0]), np.array([9]), out)
    assert out[0] == 0xE3069283  # the CRC-32C check value


def test_tables():
    table = byte_table()
    assert table[0] == 0 and table[128] == POLY and table[1] == 0xF26B8303
    assert power_table()[0] != 0 and power_table().dtype == np.uint32
