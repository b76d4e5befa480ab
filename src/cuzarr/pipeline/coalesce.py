"""Byte-range merging: many small reads from one object become a few larger ones.

Ranges closer than ``max_gap`` bytes are merged while the merged read stays within
``max_size`` bytes; reading a small gap costs less than another request, especially on
object stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MergedRange:
    start: int
    stop: int
    members: tuple[int, ...]  # indices of the requested ranges it covers


def coalesce(ranges: Sequence[tuple[int, int]], max_gap: int, max_size: int) -> list[MergedRange]:
    """Merge ``(start, stop)`` ranges; each input index appears in exactly one output."""
    order = sorted(range(len(ranges)), key=lambda i: ranges[i])
    merged: list[MergedRange] = []
    start = stop = -1
    members: list[int] = []
    for i in order:
        s, e = ranges[i]
        if members and s - stop <= max_gap and max(stop, e) - start <= max_size:
            stop = max(stop, e)
            members.append(i)
            continue
        if members:
            merged.append(MergedRange(start, stop, tuple(members)))
        start, stop, members = s, e, [i]
    if members:
        merged.append(MergedRange(start, stop, tuple(members)))
    return merged
