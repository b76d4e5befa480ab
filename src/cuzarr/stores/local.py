"""A store over a folder of files: one file per key, ``/`` in a key is a subfolder.

Writes are atomic: the value goes to a temporary file in the target's own folder, which
is then renamed over the target with ``os.replace``. A reader (or a crash) therefore sees
either the old value or the new one, never a torn chunk or metadata document. Temporary
files end in ``.cuzarr-tmp``, are never listed, and carry the name of the host and
process writing them: a writable store, the first time it writes into a folder, removes
the ones there whose process on this host has died (a killed writer leaves its temporary
files behind). Lock files (``.cuzarr-lock`` and ``.NAME.cuzarr-lock``, see
:mod:`cuzarr.locks`) are never listed either.

Reads are the hot path of every chunk read, so ``get`` is a handful of system calls
(``open``, ``pread``, ``close``, and ``fstat`` for big values) without Python file
objects.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import socket
import stat
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cuzarr.errors import StoreError
from cuzarr.locks import make_folders
from cuzarr.stores.base import ByteRange, Store, check_key, check_prefix

TMP_SUFFIX = ".cuzarr-tmp"
LOCK_SUFFIX = ".cuzarr-lock"
# The longest object name kept whole in its temporary file's name (which adds up to 40).
_MAX_NAME = 200
_HIDDEN = (TMP_SUFFIX, LOCK_SUFFIX)  # never listed as keys
# Temporary files name their writer "<host tag>-<pid>"; the tag tells this host's files
# (whose process can be asked about) from those of other hosts sharing the folder.
_HOST_TAG = f"{zlib.crc32(socket.gethostname().encode()):08x}"

# One pread call returns at most ~2 GiB on Linux; bigger values are read in pieces.
_MAX_PREAD = 1 << 30
# Values up to this size are read without a stat first. It stays below malloc's mmap
# threshold (128 KiB), so reading a small value into a buffer this big costs no more
# than into one of its own size; a bigger value costs one wasted read of this size.
_GUESS = 64 << 10
O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_O_TMP = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


def buffer_of(value: Any) -> memoryview:
    """A flat byte view of any buffer-protocol value (copying only non-contiguous ones)."""
    view = value if isinstance(value, memoryview) else memoryview(value)
    if view.nbytes == 0:  # cast() refuses zeros in the shape
        return memoryview(b"")
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


class LocalStore(Store):
    """A folder on a local (or mounted) file system.

    ``get`` returns ``bytes`` (a ``bytearray`` for values over 1 GiB). The folder is
    created on the first write, not on open, so opening a missing path creates nothing.
    """

    def __init__(
        self, root: str | os.PathLike[str], read_only: bool = False, *, fsync: bool = False
    ):
        self.root = Path(os.path.abspath(os.fspath(root)))
        self._root = str(self.root)
        self.read_only = read_only
        # fsync before the rename makes a write durable across power loss, at a cost of
        # milliseconds per file; atomicity against process crashes does not need it.
        self.fsync = fsync
        self._swept: set[str] = set()  # folders cleared of dead writers' leftovers

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"LocalStore({self._root!r}{mode})"

    def __str__(self) -> str:
        return self._root

    def _path(self, key: str) -> str:
        check_key(key, self)
        return f"{self._root}/{key}"

    # -- reads ---------------------------------------------------------------------------
    def get(self, key: str, byte_range: ByteRange | None = None) -> bytes | bytearray | None:
        path = self._path(key)
        try:
            fd = os.open(path, O_READ)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            raise StoreError(f"cannot read {key!r} from {self}: {e}") from e
        try:
            # Small values (chunks of a few KiB to tens of KiB, shard index and chunk
            # ranges) are read without asking the size first: one system call less per
            # chunk, each of which releases and retakes the GIL. A regular file reads
            # short only at its end, so a read that returns less than asked for (but
            # not nothing, which a device could do) holds the whole value.
            if byte_range is None:
                data = os.pread(fd, _GUESS, 0)
                if 0 < len(data) < _GUESS:
                    return data
            elif byte_range.start >= 0 and byte_range.stop is not None:
                size = byte_range.stop - byte_range.start
                if 0 < size <= _GUESS:
                    data = os.pread(fd, size, byte_range.start)
                    if len(data) == size:
                        return data
            # Big, empty or clipped values, suffixes and non-files: ask the size.
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a folder opens fine on POSIX
                return None
            start, stop = (0, st.st_size) if byte_range is None else byte_range.resolve(st.st_size)
            return read_at(fd, stop - start, start)
        except IsADirectoryError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read {key!r} from {self}: {e}") from e
        finally:
            os.close(fd)

    def version(self, key: str) -> tuple[int, ...]:
        # Writes replace files by renaming a new one over them: a new inode and ctime.
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return (0,)
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def object_name(self, key: str) -> str:
        return self._path(key)

    def remove_leftovers(self, prefix: str) -> None:
        check_prefix(prefix, self)
        if not self.read_only:
            folder = f"{self._root}/{prefix[:-1]}" if prefix else self._root
            if folder not in self._swept:
                self._sweep(folder)

    def _sweep(self, folder: str) -> None:
        self._swept.add(folder)  # first: a failure here must not repeat on every write
        remove_dead_writers_files(folder)

    def lock_path(self, key: str) -> str:
        folder, name = self._path(key).rsplit("/", 1)
        return f"{folder}/.{_short(name)}{LOCK_SUFFIX}"

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    # -- writes --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        self.check_writable()
        path = self._path(key)
        data = buffer_of(value)  # fails (TypeError) before any file is touched
        folder, name = path.rsplit("/", 1)
        if folder not in self._swept:
            self._sweep(folder)
        tmp = f"{folder}/.{_short(name)}.{_HOST_TAG}-{os.getpid()}.{os.urandom(4).hex()}{TMP_SUFFIX}"
        try:
            fd = self._create(tmp, folder)
        except OSError as e:
            raise StoreError(f"cannot write {key!r} to {self}: {e}") from e
        try:
            try:
                _write_all(fd, data)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException as e:
            # Whatever went wrong (disk full, Ctrl-C), the old value stays untouched.
            _unlink_quietly(tmp)
            if isinstance(e, OSError):
                raise StoreError(f"cannot write {key!r} to {self}: {e}") from e
            raise

    @staticmethod
    def _create(tmp: str, folder: str) -> int:
        # Try first and create parents only when missing: the common case (the folder
        # exists) costs one system call. Retried because a concurrent delete_prefix, or
        # a lock's holder removing the empty folder it made (cuzarr.locks), may remove
        # the folder between makedirs and open.
        attempts = 0
        while True:
            try:
                return os.open(tmp, _O_TMP, 0o666)
            except FileNotFoundError:
                attempts += 1
                if attempts == 8:
                    raise
            make_folders(folder)

    def delete(self, key: str) -> None:
        # Empty folders are left behind on purpose: pruning them would race with a
        # concurrent set() into the same folder. Listing ignores them.
        self.check_writable()
        path = self._path(key)
        folder = path.rsplit("/", 1)[0]
        if folder not in self._swept:
            self._sweep(folder)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            pass
        except OSError as e:
            raise StoreError(f"cannot delete {key!r} from {self}: {e}") from e

    def delete_prefix(self, prefix: str) -> None:
        self.check_writable()
        if prefix and not prefix.endswith("/"):
            # "a/b" also matches "a/bc": no single folder holds exactly those keys.
            return super().delete_prefix(prefix)
        check_prefix(prefix, self)
        try:
            if prefix:
                shutil.rmtree(f"{self._root}/{prefix[:-1]}")
            else:
                self._clear_root()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as e:
            raise StoreError(f"cannot delete {prefix!r} from {self}: {e}") from e

    def _clear_root(self) -> None:
        # Empty the folder but keep it: it may be a mount point or hold permissions.
        with os.scandir(self._root) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)

    # -- listing -------------------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        # Start at the deepest folder the prefix names, and at that level descend only
        # into entries that can match the prefix's last, partial segment.
        check_prefix(prefix, self)
        folder, _, partial = prefix.rpartition("/")
        base = f"{self._root}/{folder}" if folder else self._root
        key_base = f"{folder}/" if folder else ""
        for entry in _scandir(base):
            if not entry.name.startswith(partial) or entry.name.endswith(_HIDDEN):
                continue
            if _is_dir(entry):
                yield from _walk(entry.path, f"{key_base}{entry.name}/")
            else:
                yield key_base + entry.name

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        if prefix and not prefix.endswith("/"):
            return super().list_dir(prefix)
        check_prefix(prefix, self)
        keys: list[str] = []
        dirs: list[str] = []
        for entry in _scandir(f"{self._root}/{prefix[:-1]}" if prefix else self._root):
            if entry.name.endswith(_HIDDEN):
                continue
            if not _is_dir(entry):
                keys.append(entry.name)
            elif _holds_a_key(entry.path):  # folders emptied by delete() are no children
                dirs.append(entry.name)
        return sorted(keys), sorted(dirs)


def _short(name: str) -> str:
    """``name`` in the names of its temporary and lock files: as it is, or, when those
    would pass the file system's 255-byte limit on a name, a digest of it."""
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) <= _MAX_NAME:
        return name
    return f"{name[:32]}~{hashlib.sha256(encoded).hexdigest()[:32]}"


def remove_dead_writers_files(folder: str) -> None:
    """Remove the temporary files in ``folder`` whose writer was a process of this host
    that no longer runs. Files of live processes, of other hosts, and of unknown form are
    left alone. (A lock file a dead writer left is removed by the next writer that takes
    it; telling it from one held now would cost an open and a lock attempt each.)"""
    for entry in _scandir(folder):
        if entry.name.endswith(TMP_SUFFIX) and _writer_is_dead(entry.name[: -len(TMP_SUFFIX)]):
            _unlink_quietly(entry.path)


def _writer_is_dead(stem: str) -> bool:
    """``stem``: ``.<name>.<host tag>-<pid>.<random>``."""
    writer = stem.rsplit(".", 2)[-2] if stem.count(".") >= 3 else ""
    host, _, pid = writer.partition("-")
    if host != _HOST_TAG or not pid.isdigit() or int(pid) <= 1:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def read_at(fd: int, size: int, offset: int) -> bytes | bytearray:
    if size <= _MAX_PREAD:
        data = os.pread(fd, size, offset)
        if len(data) == size:
            return data
    # Huge values (or a short read): fill a buffer piece by piece.
    buf = bytearray(size)
    view = memoryview(buf)
    done = 0
    while done < size:
        n = os.preadv(fd, [view[done : done + _MAX_PREAD]], offset + done)
        if n == 0:  # the file shrank under us (not through this store)
            del view
            del buf[done:]
            break
        done += n
    return buf


def _write_all(fd: int, data: memoryview) -> None:
    done = 0
    while done < len(data):
        done += os.write(fd, data[done : done + _MAX_PREAD])


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:  # no such folder can exist
            return []
        raise StoreError(f"cannot list {path}: {e}") from e


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a dangling symlink
        return False


def _walk(path: str, key_prefix: str) -> Iterator[str]:
    stack = [(path, key_prefix)]
    while stack:
        folder, prefix = stack.pop()
        for entry in _scandir(folder):
            if entry.name.endswith(_HIDDEN):
                continue
            if _is_dir(entry):
                stack.append((entry.path, f"{prefix}{entry.name}/"))
            else:
                yield prefix + entry.name


def _holds_a_key(path: str) -> bool:
    return next(_walk(path, ""), None) is not None
