"""Locks on stored objects, so that writes from several threads (and, on local folders,
several processes) to the same chunk or shard do not lose each other's changes.

A write that modifies part of a chunk (or of a shard) reads the stored object, merges the
new values in and stores the result: two threads doing that at once would each store
their own merge, and one of the two changes would be lost. Each write batch therefore
holds the lock of every object it replaces, from its read to its store. Objects are
named by :meth:`cuzarr.stores.base.Store.object_name`, so two stores (or two opened
arrays) over the same storage share the locks. Locks are taken in name order, so two
batches never wait for each other in a cycle, and forgotten when no thread holds or
waits for them, so the table stays as small as the writes in flight.

Stores that can name a lock file for an object (local folders: a hidden file beside it,
see :meth:`cuzarr.stores.base.Store.lock_path`) are also locked across processes on the
same machine, with ``flock``: each process takes its thread lock first, then the file
lock, both in name order. Other stores (memory, zip, fsspec) are not: writers in several
processes must write disjoint chunks there, or disjoint shards when the array is sharded.

A lock file exists only while it is held: its holder removes it before letting go, so
stores do not fill up with them. A process that takes the lock of a file that was
removed meanwhile (it waited on the old file) sees that the path now names another file,
or none, and starts again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from cuzarr.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: thread locks only
    fcntl = None  # type: ignore[assignment]

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


@contextmanager
def holding_objects(store: Any, keys: Iterable[str]) -> Iterator[None]:
    """Hold the locks of the objects under ``keys`` of ``store``: this process's thread
    locks and, where the store names lock files, the file locks that other processes
    on this machine take for the same objects."""
    keys = list(keys)
    with holding(store.object_name(k) for k in keys), ExitStack() as files:
        lock_paths = {store.lock_path(k) for k in keys} - {None}
        if fcntl is not None:
            for path in sorted(lock_paths):
                try:
                    files.enter_context(file_lock(path))
                except OSError as e:
                    raise StoreError(f"cannot lock {path} for writing: {e}") from e
        yield


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on the file at ``path``, removed again before it is
    released. Folders made for it are removed too when nothing else was put in them (a
    write that ends up storing nothing, a chunk of fill values, leaves no trace)."""
    made = _missing_folders(os.path.dirname(path))
    fd = _lock_fd(path, blocking=True)
    try:
        yield
    finally:
        _release(path, fd)
        for folder in made:  # deepest first; one that holds anything stays
            try:
                os.rmdir(folder)
            except OSError:
                break


def _missing_folders(folder: str) -> list[str]:
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return missing


def _lock_fd(path: str, blocking: bool) -> int | None:
    """A descriptor holding the lock of the file now at ``path``; None when ``blocking``
    is false and another process holds it."""
    while True:
        fd = _open_creating(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False  # its holder removed it while we waited
        if same:
            return fd
        os.close(fd)


def _open_creating(path: str) -> int:
    # Retried: another process may remove an empty folder between making it and open.
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    for _ in range(8):
        try:
            return os.open(path, flags, 0o666)
        except FileNotFoundError:
            make_folders(os.path.dirname(path))
    return os.open(path, flags, 0o666)


def make_folders(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)`` without recursion (which a path some
    thousand folders deep would exhaust): missing folders made from the top down."""
    missing = _missing_folders(folder)
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            pass


def _release(path: str, fd: int) -> None:
    try:
        os.unlink(path)  # while still held: a waiter then sees another file, or none
    except OSError:
        pass
    os.close(fd)


def remove_if_unheld(path: str) -> None:
    """Remove a lock file left by a process that died holding it (the kernel released
    its lock), unless another process holds it now."""
    if fcntl is None:
        return
    try:
        fd = _lock_fd(path, blocking=False)
    except OSError:
        return
    if fd is not None:
        _release(path, fd)
