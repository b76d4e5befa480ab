"""A store over any fsspec file system: ``s3://``, ``gs://``, ``https://``, ``memory://``,
chained URLs (``zip::s3://b/x.zip``), ...

fsspec is optional (``pip install 'cuzarr[remote]'``) and imported only when a store is
made, so ``import cuzarr`` never pays for it.

Batches go to fsspec's own batch calls: ``cat_ranges`` for reads and ``pipe`` for writes,
which an async file system (S3, GCS, HTTP) runs concurrently on its event loop. A
synchronous file system whose batch calls are plain loops gets cuzarr's thread pool
instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cuzarr.concurrency import parallel_map
from cuzarr.errors import StoreError, UnsupportedError, ZarrError
from cuzarr.stores.base import ByteRange, RangeRequest, Store
from cuzarr.stores.memory import to_bytes

# Errors a file system raises for "no such object". KeyError: some mapping-backed ones.
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError, KeyError)
# Protocols where a request is as cheap as a local read (see Store.supports_partial_reads).
_CHEAP_PROTOCOLS = {"file", "local", "memory"}


def _import_fsspec() -> Any:
    try:
        import fsspec
    except ImportError as e:
        raise UnsupportedError(
            "fsspec is needed for URLs and file system objects; "
            "install it with: pip install 'cuzarr[remote]'"
        ) from e
    return fsspec


class FsspecStore(Store):
    """Keys under ``path`` on an fsspec file system.

    ``url_or_fs`` is a URL (``"s3://bucket/data.zarr"``, opened with
    ``storage_options``) or a file system object, with ``path`` the root inside it.
    ``get`` returns ``bytes``.
    """

    def __init__(
        self,
        url_or_fs: Any,
        path: str | None = None,
        storage_options: dict[str, Any] | None = None,
        read_only: bool = False,
    ):
        fsspec = _import_fsspec()
        if isinstance(url_or_fs, str):
            try:
                fs, root = fsspec.core.url_to_fs(url_or_fs, **(storage_options or {}))
            except (ImportError, ValueError) as e:  # e.g. s3fs missing, unknown protocol
                raise StoreError(f"cannot open {url_or_fs!r}: {e}") from e
            if path:
                root = f"{root.rstrip('/')}/{path.strip('/')}"
        elif isinstance(url_or_fs, fsspec.AbstractFileSystem):
            if storage_options:
                raise StoreError("storage_options apply to URLs, not to a file system object")
            fs, root = url_or_fs, fs_path(url_or_fs, path or "")
        else:
            raise StoreError(f"expected a URL or an fsspec file system, got {url_or_fs!r}")
        self.fs = fs
        self.root = root.rstrip("/")
        self.read_only = read_only
        protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
        self.supports_partial_reads = bool(protocols & _CHEAP_PROTOCOLS)
        # A file system with a real batch implementation: async ones, and sync ones that
        # override cat_ranges. Others get the thread pool.
        self._batched = bool(fs.async_impl) or (
            type(fs).cat_ranges is not fsspec.AbstractFileSystem.cat_ranges
        )

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"FsspecStore({str(self)!r}{mode})"

    def __str__(self) -> str:
        return self.fs.unstrip_protocol(self.root)

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}" if self.root else key

    def object_name(self, key: str) -> str:
        return self.fs.unstrip_protocol(self._path(key))

    # -- reads ---------------------------------------------------------------------------
    def get(self, key: str, byte_range: ByteRange | None = None) -> bytes | None:
        return self.get_ranges([(key, byte_range)])[0]

    def get_ranges(self, requests: Sequence[RangeRequest]) -> list[bytes | None]:
        paths = [self._path(key) for key, _ in requests]
        bounds = [_fsspec_bounds(r) for _, r in requests]
        results: list[Any] = [None] * len(requests)
        direct = [i for i, b in enumerate(bounds) if b is not None]
        if direct:
            fetched = self._cat_ranges(
                [paths[i] for i in direct],
                [bounds[i][0] for i in direct],  # type: ignore[index]
                [bounds[i][1] for i in direct],  # type: ignore[index]
            )
            for i, value in zip(direct, fetched):
                results[i] = value
        for i, (key, byte_range) in enumerate(requests):
            value = results[i]
            refused = isinstance(value, Exception) and not isinstance(value, _MISSING)
            if bounds[i] is None or (refused and byte_range is not None):
                # Ranges fsspec cannot express, and ranges the server refused (HTTP 416
                # for a start past the end): resolve against the size and retry.
                value = self._get_by_size(paths[i], byte_range)
            results[i] = self._checked(key, value)
        return results

    def _cat_ranges(self, paths: list[str], starts: list[Any], ends: list[Any]) -> list[Any]:
        if self._batched:
            return self.fs.cat_ranges(paths, starts, ends, on_error="return")
        return parallel_map(self._cat_one, paths, starts, ends)

    def _cat_one(self, path: str, start: int | None, end: int | None) -> Any:
        try:
            return self.fs.cat_file(path, start=start, end=end)
        except Exception as e:  # returned, like cat_ranges(on_error="return") does
            return e

    def _get_by_size(self, path: str, byte_range: ByteRange | None) -> Any:
        try:
            size = self.fs.size(path)
            if size is None:
                raise StoreError(f"{self} cannot tell the size of {path!r}")
            start, stop = byte_range.resolve(size) if byte_range else (0, size)
            return b"" if start == stop else self.fs.cat_file(path, start=start, end=stop)
        except Exception as e:
            return e

    def _checked(self, key: str, value: Any) -> bytes | None:
        if not isinstance(value, BaseException):
            return value
        if isinstance(value, _MISSING):
            return None
        if isinstance(value, ZarrError):
            raise value
        raise StoreError(f"cannot read {key!r} from {self}: {value}") from value

    def exists(self, key: str) -> bool:
        try:
            return bool(self.fs.isfile(self._path(key)))
        except _MISSING:
            return False

    # -- writes --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        self.check_writable()
        path = self._path(key)
        data = to_bytes(value)
        try:
            try:
                self.fs.pipe_file(path, data)
            except FileNotFoundError:
                # File systems with folders (local, sftp) need the parent made first.
                self.fs.makedirs(path.rpartition("/")[0], exist_ok=True)
                self.fs.pipe_file(path, data)
        except OSError as e:
            raise StoreError(f"cannot write {key!r} to {self}: {e}") from e

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        self.check_writable()
        if not self._batched or len(items) < 2:
            return super().set_many(items)
        batch = {self._path(key): to_bytes(value) for key, value in items}
        try:
            self.fs.pipe(batch)
        except FileNotFoundError:
            super().set_many(items)  # parents missing: set() creates them
        except OSError as e:
            raise StoreError(f"cannot write {len(items)} keys to {self}: {e}") from e

    def delete(self, key: str) -> None:
        self.check_writable()
        try:
            self.fs.rm_file(self._path(key))
        except _MISSING:
            pass
        except OSError as e:
            raise StoreError(f"cannot delete {key!r} from {self}: {e}") from e

    def delete_prefix(self, prefix: str) -> None:
        self.check_writable()
        if (prefix and not prefix.endswith("/")) or not (self.root or prefix):
            # Not a whole folder (or the file system's root): delete key by key.
            return super().delete_prefix(prefix)
        try:
            self.fs.rm(self._path(prefix).rstrip("/"), recursive=True)
        except _MISSING:
            pass
        except OSError as e:
            raise StoreError(f"cannot delete {prefix!r} from {self}: {e}") from e

    # -- listing -------------------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        # find() from the deepest folder the prefix names, then filter the rest.
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root
        try:
            paths = self.fs.find(base)
        except _MISSING:
            return iter(())
        skip = len(self.root) + 1 if self.root else 0
        keys = (p[skip:] for p in paths)
        return (key for key in keys if key.startswith(prefix))


def fs_path(fs: Any, path: str) -> str:
    """``path`` in the form ``fs`` lists it (protocol stripped, as ``find`` returns)."""
    return fs._strip_protocol(path) if path else ""


def _fsspec_bounds(byte_range: ByteRange | None) -> tuple[int | None, int | None] | None:
    """(start, end) for ``cat_file``, or None where fsspec's reading would differ from a
    Python slice (a negative stop, a stop before the start)."""
    if byte_range is None:
        return None, None
    start, stop = byte_range.start, byte_range.stop
    if stop is None:
        return start, None  # fsspec reads a negative start as a suffix, like a slice
    if 0 <= start <= stop:
        return start, stop
    return None
