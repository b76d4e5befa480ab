"""Where each unit's encoded bytes lie on the local file system: what a reader that
fills device memory straight from files (kvikio) needs instead of the bytes themselves.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from cuzarr.pipeline.chunk_io import ChunkIO
from cuzarr.stores.local import LocalStore

FileRange = tuple[str, int, int]  # (path, offset, length)


def local_file_ranges(io: ChunkIO, coords: Sequence[tuple[int, ...]]) -> list[FileRange | None]:
    """(file path, byte offset, length) of each unit, None for a missing unit. The store
    must be a :class:`LocalStore`. Inner chunks of shards are located through the shard
    view's cached indexes (one batched index read for the shards not cached yet)."""
    from cuzarr.pipeline.shard_io import ShardIO

    store = io.store
    if not isinstance(store, LocalStore):
        raise TypeError(f"file ranges need a LocalStore, not {store!r}")
    if isinstance(io, ShardIO):
        places = [io.locate(c) for c in coords]
        shard_keys = [io.shard_key(shard) for shard, _ in places]
        indexes = io._indexes(list(dict.fromkeys(shard_keys)))
        ranges: list[FileRange | None] = []
        for key, (_, flat) in zip(shard_keys, places):
            index = indexes[key]
            r = None if index is None else index.range(flat)
            ranges.append(None if r is None else (store._path(key), r[0], r[1] - r[0]))
        return ranges
    return [_whole_file(store._path(io.key(c))) for c in coords]


def _whole_file(path: str) -> FileRange | None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (path, 0, st.st_size) if stat.S_ISREG(st.st_mode) else None
