"""Locks on stored objects, so that writes from several threads of one process to the same
chunk or shard do not lose each other's changes.

A write that modifies part of a chunk (or of a shard) reads the stored object, merges the
new values in and stores the result: two threads doing that at once would each store
their own merge, and one of the two changes would be lost. Each write batch therefore
holds the lock of every object it replaces, from its read to its store. Objects are
named by :meth:`cuzarr.stores.base.Store.object_name`, so two stores (or two opened
arrays) over the same storage share the locks. Locks are taken in name order, so two
batches never wait for each other in a cycle, and forgotten when no thread holds or
waits for them, so the table stays as small as the writes in flight.

Processes do not share these locks: writers in several processes (Dask workers, say)
must write disjoint chunks, or disjoint shards when the array is sharded.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_table_lock = threading.Lock()
_locks: dict[str, list] = {}  # name -> [lock, threads holding or waiting for it]


@contextmanager
def holding(names: Iterable[str]) -> Iterator[None]:
    """Hold the lock of every named object for the duration of the block."""
    ordered = sorted(set(names))
    with _table_lock:
        entries = [_locks.setdefault(name, [threading.Lock(), 0]) for name in ordered]
        for entry in entries:
            entry[1] += 1
    acquired = 0
    try:
        for lock, _ in entries:
            lock.acquire()
            acquired += 1
        yield
    finally:
        for lock, _ in entries[:acquired]:
            lock.release()
        with _table_lock:
            for name, entry in zip(ordered, entries):
                entry[1] -= 1
                if entry[1] == 0:
                    del _locks[name]
