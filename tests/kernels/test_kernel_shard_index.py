"""Shard-index parsing kernel against device_plan.parse_shard_indexes (its numpy twin)."""

import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.codecs.sharding import EMPTY, ShardingCodec  # noqa: E402
from cuzarr.kernels import shard_index  # noqa: E402
from cuzarr.pipeline.device_plan import parse_shard_indexes  # noqa: E402

BIG = 2**63 + 5


def run_kernel(tables, n_inner, start, end, base):
    n = len(tables) // 2
    status = np.full(n, 99, dtype=np.int8)
    offsets, lengths = np.zeros(n, np.int64), np.zeros(n, np.int64)
    shard_index.parse_shard_indexes(
        tables.view(np.int64), n_inner, start, end, base, status, offsets, lengths
    )
    return status, offsets, lengths


def test_every_status_matches_the_reference():
    e = int(EMPTY)
    shard0 = [(100, 20), (e, e), (e, 4), (4, e), (BIG, 3), (5, BIG), (10, 8), (150, 60)]
    shard1 = [(0, 10), (90, 10), (95, 10), (100, 1), (e, e), (0, 0), (50, 0), (99, 2)]
    tables = np.array(shard0 + shard1, dtype=np.uint64).reshape(-1)
    start = np.array([16, 0], dtype=np.int64)  # shard 0 has its index at the start
    end = np.array([200, 100], dtype=np.int64)
    base = np.array([0, 1000], dtype=np.int64)
    got = run_kernel(tables, 8, start, end, base)
    want = parse_shard_indexes(tables, 8, start, end, base)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    ok, empty, half, huge, before, past = range(6)
    assert got[0].tolist() == [ok, empty, half, half, huge, huge, before, past,
                               ok, ok, past, past, empty, ok, ok, past]  # fmt: skip
    assert got[1][8:10].tolist() == [1000, 1090]  # offsets are placed in the batch


def test_unknown_shard_size_is_not_checked():
    tables = np.array([0, 10**12], dtype=np.uint64)
    status, _, lengths = run_kernel(
        tables, 1, np.zeros(1, np.int64), np.full(1, -1, np.int64), np.zeros(1, np.int64)
    )
    assert status.tolist() == [0] and lengths.tolist() == [10**12]


def test_a_real_shard_index():
    codec = ShardingCodec((2, 2), index_location="start")
    shape = (4, 4)
    parts = [b"abcd", None, b"efghij", b"k"]
    shard = codec.assemble(parts, shape)
    n_index = codec.index_nbytes(shape)
    table = np.frombuffer(shard[: n_index - 4], dtype="<u8").copy()
    status, offsets, lengths = run_kernel(
        table, 4, np.array([n_index]), np.array([len(shard)]), np.array([0])
    )
    assert status.tolist() == [0, 1, 0, 0]
    for i, part in enumerate(parts):
        if part is not None:
            assert shard[offsets[i] : offsets[i] + lengths[i]] == part
