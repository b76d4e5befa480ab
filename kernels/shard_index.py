"""Parse and check a batch of shard index tables in one launch.

Input: the decoded index tables of many shards, laid end to end as one int64 array (the
uint64 table viewed as int64, so the empty marker 2**64 - 1 reads -1 and any value of
2**63 or more reads negative), ``n_inner`` (offset, length) pairs per shard. For every
entry the kernel writes a status and, for present inner chunks, where its bytes are in
the batch (``shard_base[s] + offset``) and how many there are:

==========  ==============================================================
status      meaning
==========  ==============================================================
0 OK        a range inside ``[data_start[s], data_end[s])``
1 EMPTY     offset and length both 2**64 - 1: the inner chunk is absent
2 HALF      only one of the two is the empty marker (corrupt)
3 HUGE      offset or length >= 2**63 (corrupt: no shard is that big)
4 BEFORE    starts before ``data_start`` (inside an index at the start)
5 PAST_END  ends after ``data_end`` (``data_end < 0``: unknown, unchecked)
==========  ==============================================================

Overlapping ranges are not detected here (that needs a sort); the host check does it.
Numpy reference: :func:`cuzarr.pipeline.device_plan.parse_shard_indexes`.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from ._launch import grid_1d

OK, EMPTY, HALF, HUGE, BEFORE, PAST_END = range(6)


@cuda.jit
def _parse(tables, n_inner, data_start, data_end, shard_base, status, offsets, lengths):
    e = cuda.grid(1)
    if e >= status.shape[0]:
        return
    s = e // n_inner
    offset = tables[2 * e]
    length = tables[2 * e + 1]
    code = OK
    if offset == -1 and length == -1:
        code = EMPTY
    elif offset == -1 or length == -1:
        code = HALF
    elif offset < 0 or length < 0:
        code = HUGE
    elif offset < data_start[s]:
        code = BEFORE
    elif data_end[s] >= 0 and (offset > data_end[s] or length > data_end[s] - offset):
        code = PAST_END
    status[e] = code
    if code == OK:
        offsets[e] = shard_base[s] + offset
        lengths[e] = length
    else:
        offsets[e] = -1
        lengths[e] = 0


def parse_shard_indexes(
    tables: Any,
    n_inner: int,
    data_start: Any,
    data_end: Any,
    shard_base: Any,
    status: Any,
    offsets: Any,
    lengths: Any,
    *,
    stream: Any = 0,
    threads: int | None = None,
) -> None:
    """Fill ``status`` (int8), ``offsets`` and ``lengths`` (int64), one entry per inner
    chunk of every shard, from ``tables`` (int64, two values per entry). Per-shard
    arrays (int64): ``data_start`` (the index size when it is at the start, else 0),
    ``data_end`` (the shard size, or -1 when unknown), ``shard_base`` (added to offsets)."""
    n = len(status)
    if n == 0:
        return
    blocks, block = grid_1d(n, threads)
    _parse[blocks, block, stream](
        tables, n_inner, data_start, data_end, shard_base, status, offsets, lengths
    )
