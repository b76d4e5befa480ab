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

Stores that can name a lock file for an object (local folders, see
:meth:`cuzarr.stores.base.Store.lock_path`) are also locked across processes on the same
machine: each process takes its thread lock first, then the file lock, both in name
order. On Linux the file lock is a byte of one hidden ``.cuzarr-lock`` file per folder,
locked with an open file description lock; elsewhere it is an ``flock`` on a lock file
of the object's own. Either file is removed when its last holder lets go (a process that
waited on a removed one sees so and starts again), so stores keep only their keys. Other stores
(memory, zip, fsspec) are not locked across processes: writers in several processes
must write disjoint chunks there, or disjoint shards when the array is sharded.
"""

from __future__ import annotations

import hashlib
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
    with holding(store.object_name(k) for k in keys):
        paths = {store.lock_path(k) for k in keys} - {None} if fcntl is not None else ()
        if _OFD_LOCKS:
            held_ranges = _take_ranges(sorted(paths))
            try:
                yield
            finally:
                _release_ranges(held_ranges)
        else:
            held = _take_all(sorted(paths))
            try:
                yield
            finally:
                _release_all(held)


@contextmanager
def file_lock(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on the file at ``path``, removed again before it is
    released. Folders made for it are removed too when nothing else was put in them (a
    write that ends up storing nothing, a chunk of fill values, leaves no trace)."""
    held = _take_all([path])
    try:
        yield
    finally:
        _release_all(held)



# -- Linux: one lock file per folder, a byte of it per object --------------------------------
# Creating and removing a file per object costs two of the slowest file system calls per
# chunk written. Open file description locks (F_OFD_SETLKW: byte-range locks that belong
# to an open file, not to a process, so threads and forks do not mix them up) let one
# hidden file per folder, ``.cuzarr-lock``, hold every object's lock: the byte at an
# offset drawn from the object's name. Closing the file releases its locks. A batch
# writing many chunks of one folder creates and removes one file, not one per chunk.
_OFD_LOCKS = (
    fcntl is not None
    and hasattr(fcntl, "F_OFD_SETLKW")
    and sys.platform.startswith("linux")
    and struct.calcsize("P") == 8  # struct flock as laid out on 64-bit Linux
)
FOLDER_LOCK = ".cuzarr-lock"
_BYTE_SPAN = 1 << 60  # offsets drawn from the names, far apart


def _byte_of(name: str) -> int:
    digest = hashlib.blake2b(name.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % _BYTE_SPAN


def _range_lock(fd: int, kind: int, start: int, length: int, wait: bool) -> None:
    # struct flock on 64-bit Linux: short l_type, short l_whence, off_t l_start, off_t
    # l_len, pid_t l_pid (0 for these locks), padded to 32 bytes.
    request = struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0)
    fcntl.fcntl(fd, fcntl.F_OFD_SETLKW if wait else fcntl.F_OFD_SETLK, request)


# A lock file held: (its path, descriptor, folders made for it, deepest first).
_Held = tuple[str, int, list[str]]


def _take_ranges(paths: list[str]) -> list[_Held]:
    """Lock the objects whose per-object lock paths these are, as bytes of their folders'
    lock files, in name order; a StoreError (after letting go of what was taken) when
    that fails."""
    by_folder: dict[str, list[int]] = {}
    for path in paths:
        folder, name = os.path.split(path)
        by_folder.setdefault(folder, []).append(_byte_of(name))
    return _take_each(
        sorted(by_folder),
        lambda folder: _take_bytes(os.path.join(folder, FOLDER_LOCK), sorted(by_folder[folder])),
        _release_ranges,
    )


def _take_bytes(path: str, offsets: list[int]) -> _Held:
    def lock(fd: int) -> None:
        for offset in offsets:
            _range_lock(fd, fcntl.F_WRLCK, offset, 1, wait=True)

    return _open_locked(path, lock)


def _release_ranges(held: list[_Held]) -> None:
    for path, fd, made in reversed(held):
        _remove_if_unused(path, fd, made)
        os.close(fd)  # lets go of every byte locked through it


def _remove_if_unused(path: str, fd: int, made: list[str]) -> None:
    """Remove the lock file when no other process holds a byte of it, so that stores keep
    only their own keys (other libraries list every file), and the folders made for it
    when nothing else came into them (a write that stored nothing leaves no trace). The
    file is removed under a lock of all of it: a process waiting for a byte then finds
    it removed, and starts again with the file there now."""
    try:
        _range_lock(fd, fcntl.F_WRLCK, 0, 0, wait=False)
    except OSError:
        return  # another process holds an object's lock here
    _unlink_quietly(path)
    for folder in made:  # deepest first; one that holds anything stays
        try:
            os.rmdir(folder)
        except OSError:
            break


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# -- elsewhere: a lock file per object, created for the lock and removed with it ----------

_LOCK_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def _take_all(paths: list[str]) -> list[_Held]:
    """Lock each file in turn (callers give them in name order); on a failure, let go
    of those taken and raise a StoreError."""
    return _take_each(paths, _take, _release_all)


def _take_each(
    places: list[str],
    take: Callable[[str], _Held],
    release: Callable[[list[_Held]], None],
) -> list[_Held]:
    """``take`` each place in the order given; on a failure, ``release`` what was taken
    and raise a StoreError naming the place."""
    held: list[_Held] = []
    try:
        for place in places:
            held.append(take(place))
    except BaseException as e:
        release(held)
        if isinstance(e, OSError) and not isinstance(e, StoreError):
            raise StoreError(f"cannot lock {place} for writing: {e}") from e
        raise
    return held


def _take(path: str) -> _Held:
    return _open_locked(path, lambda fd: fcntl.flock(fd, fcntl.LOCK_EX))


def _open_locked(path: str, lock: Callable[[int], None]) -> _Held:
    """Open the file now at ``path`` (made, with its folders, if missing) and ``lock`` it:
    (path, descriptor, folders made for it, deepest first)."""
    made: list[str] = []
    folder_races = 0
    while True:
        try:
            fd = os.open(path, _LOCK_FLAGS, 0o666)
        except FileNotFoundError:
            # Another process may remove an (empty) folder it made as we make ours.
            folder_races += 1
            if folder_races > 8:
                raise
            missing = _missing_folders(os.path.dirname(path))
            make_folders(os.path.dirname(path))
            made = made or missing
            continue
        try:
            lock(fd)
        except BaseException:
            os.close(fd)
            raise
        if os.fstat(fd).st_nlink:
            return path, fd, made
        # Its holder removed it while we waited (each time, another writer went ahead):
        # take the file there now.
        os.close(fd)


def _release_all(held: list[_Held]) -> None:
    for path, fd, made in reversed(held):
        try:
            os.unlink(path)  # while still held: a waiter then sees a removed file
        except OSError:
            pass
        os.close(fd)
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


def make_folders(folder: str) -> None:
    """``os.makedirs(folder, exist_ok=True)`` without recursion (which a path some
    thousand folders deep would exhaust): missing folders made from the top down."""
    missing = _missing_folders(folder)
    for path in reversed(missing):
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
