"""A store in a single zip archive, with zarr-python's conventions: member names are the
keys, members are STORED (uncompressed) by default, ZIP64 is allowed.

Reading a STORED member needs no zip machinery: its bytes lie contiguous in the archive,
so a read (or a byte range of a shard) is one ``pread`` at an offset taken from the
member's local header. Compressed members are inflated whole, then sliced.

Zip archives are append-only:

- writing a key that exists appends a second member of that name. Reads see the last
  one (as Python's zipfile and zarr-python do), but the archive keeps both, and other
  zip tools may pick the first. Write each key once where that matters.
- members cannot be deleted. ``delete`` of a missing key is a no-op (so writing skips
  fill-value chunks as usual); deleting a member that exists raises
  :class:`~cuzarr.errors.UnsupportedError`.

``close()`` writes the central directory; until then an archive being written is not
readable by other programs. Use the store as a context manager.
"""

from __future__ import annotations

import os
import struct
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from cuzarr.errors import StoreError, UnsupportedError
from cuzarr.stores.base import ByteRange, Store, check_key, check_prefix, slice_value
from cuzarr.stores.local import O_READ, buffer_of, read_at

_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, (fields we skip), name and extra lengths
_LOCAL_SIGNATURE = b"PK\x03\x04"
_MODES = ("r", "w", "a", "x")


class ZipStore(Store):
    """A zip archive at ``path``, opened with ``mode`` "r" (read), "w" (create or
    truncate), "a" (append, creating if absent) or "x" (create, failing if it exists).

    ``get`` returns ``bytes``. Thread-safe: writes (and, while the archive is writable,
    reads) hold one lock around the shared file; reads of a read-only archive run in
    parallel.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mode: str = "r",
        *,
        compression: int = zipfile.ZIP_STORED,
        allowZip64: bool = True,
    ):
        if mode not in _MODES:
            raise StoreError(f"ZipStore mode must be one of {_MODES}, got {mode!r}")
        self.path = Path(os.path.abspath(os.fspath(path)))
        self.mode = mode
        self.read_only = mode == "r"
        self.compression = compression
        self.allowZip64 = allowZip64
        self._open()

    def _open(self) -> None:
        self._lock = threading.RLock()
        self._closed = True
        try:
            self._zf = zipfile.ZipFile(
                self.path, self.mode, compression=self.compression, allowZip64=self.allowZip64
            )
        except zipfile.BadZipFile as e:
            raise StoreError(f"{self.path} is not a readable zip archive: {e}") from e
        except OSError as e:
            raise StoreError(f"cannot open zip archive {self.path}: {e}") from e
        try:
            # A descriptor of our own for pread: it shares no file position with zipfile.
            self._fd = os.open(self.path, O_READ)
        except OSError as e:
            self._zf.close()
            raise StoreError(f"cannot open zip archive {self.path}: {e}") from e
        self._pid = os.getpid()
        self._data_offsets: dict[zipfile.ZipInfo, int] = {}  # keyed by member, not name
        self._closed = False

    def __repr__(self) -> str:
        return f"ZipStore({str(self.path)!r}, mode={self.mode!r})"

    def __str__(self) -> str:
        return str(self.path)

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes reopen the archive; a half-written one cannot be shared.
        if not self.read_only:
            raise UnsupportedError(f"{self} is open for writing and cannot be pickled")
        return {"path": self.path, "mode": self.mode, "compression": self.compression,
                "allowZip64": self.allowZip64}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.read_only = True
        self._open()

    def _zipfile(self) -> zipfile.ZipFile:
        if self._closed:
            raise StoreError(f"{self} is closed")
        if self._pid != os.getpid():
            # A forked child shares the parent's file positions (and maybe a held lock):
            # reopen. Writing from two processes would corrupt the archive.
            if not self.read_only:
                raise StoreError(f"{self} is open for writing in another process")
            os.close(self._fd)
            self._open()
        return self._zf

    # -- reads ---------------------------------------------------------------------------
    def get(self, key: str, byte_range: ByteRange | None = None) -> Any | None:
        if self.read_only:
            return self._get(key, byte_range)
        # zipfile lists a new member before this store has flushed its bytes to disk.
        with self._lock:
            return self._get(key, byte_range)

    def _get(self, key: str, byte_range: ByteRange | None) -> Any | None:
        check_key(key, self)
        zf = self._zipfile()
        info = zf.NameToInfo.get(key)
        if info is None or info.is_dir():
            return None
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:  # 0x1: encrypted
            with self._lock:
                try:
                    data = zf.read(info)
                except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError) as e:
                    raise StoreError(f"cannot read {key!r} from {self}: {e}") from e
            return slice_value(data, byte_range)
        size = info.file_size
        start, stop = (0, size) if byte_range is None else byte_range.resolve(size)
        if start == stop:
            return b""
        try:
            data = read_at(self._fd, stop - start, self._data_offset(info) + start)
        except OSError as e:
            raise StoreError(f"cannot read {key!r} from {self}: {e}") from e
        if len(data) != stop - start:
            raise StoreError(f"{self} is truncated: member {key!r} ends past the file's end")
        return data

    def _data_offset(self, info: zipfile.ZipInfo) -> int:
        offset = self._data_offsets.get(info)
        if offset is None:
            # The local header's extra field may differ from the central directory's, so
            # its length is read from the local header itself.
            header = os.pread(self._fd, _LOCAL_HEADER.size, info.header_offset)
            if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
                raise StoreError(f"{self}: bad local header for member {info.filename!r}")
            _, name_len, extra_len = _LOCAL_HEADER.unpack(header)
            offset = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
            self._data_offsets[info] = offset
        return offset

    def exists(self, key: str) -> bool:
        check_key(key, self)
        info = self._zipfile().NameToInfo.get(key)
        return info is not None and not info.is_dir()

    # -- writes --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        self.set_many([(key, value)])

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        # Members are written one after another into one file: the pool would only queue.
        self.check_writable()
        with self._lock:
            zf = self._zipfile()
            try:
                for key, value in items:
                    self._append(zf, key, value)
            finally:
                zf.fp.flush()  # type: ignore[union-attr]  # make the bytes visible to pread

    def _append(self, zf: zipfile.ZipFile, key: str, value: Any) -> None:
        check_key(key, self)
        data = buffer_of(value)
        info = zipfile.ZipInfo(key, date_time=time.localtime()[:6])
        info.compress_type = self.compression
        info.external_attr = 0o644 << 16  # -rw-r--r--, as zarr-python writes
        try:
            if key in zf.NameToInfo:  # a documented duplicate; zipfile would warn
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
                    zf.writestr(info, data)
            else:
                zf.writestr(info, data)
        except (OSError, ValueError, zipfile.LargeZipFile) as e:
            raise StoreError(f"cannot write {key!r} to {self}: {e}") from e

    def delete(self, key: str) -> None:
        self.check_writable()
        if self.exists(key):  # checks the key
            raise UnsupportedError(
                f"cannot delete {key!r}: members of a zip archive ({self}) cannot be deleted"
            )

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    # -- listing -------------------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix, self)
        with self._lock:
            names = list(self._zipfile().NameToInfo)  # one entry per name, duplicates merged
        return (n for n in names if n.startswith(prefix) and not n.endswith("/"))

    # -- lifecycle -----------------------------------------------------------------------
    def close(self) -> None:
        """Write the central directory (when writable) and close the archive."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._zf.close()
            except OSError as e:
                raise StoreError(f"cannot finish zip archive {self}: {e}") from e
            finally:
                os.close(self._fd)

    def __del__(self) -> None:
        # A forgotten close() would leave a written archive without its directory.
        try:
            if not getattr(self, "_closed", True) and self._pid == os.getpid():
                self.close()
        except Exception:
            pass
