"""A store over any fsspec file system: ``s3://``, ``gs://``, ``https://``, ``memory://``,
chained URLs (``zip::s3://b/x.zip``), ...

fsspec is optional (``pip install 'cuzarr[remote]'``) and imported only when a store is
made, so ``import cuzarr`` never pays for it.

Over a network a batch of reads, writes or deletes runs concurrently: an async file
system (S3, GCS, HTTP) runs the requests on its event loop, a synchronous one through its
own batch calls (``cat_ranges``, ``pipe``) where it has them, else on cuzarr's thread
pool. Either way at most ``config["store_max_requests"]`` requests of a store are in
flight at once: servers drop connections they have no room for, and TCP retries each
one a second or more later.

A request that fails transiently (a dropped or refused connection, a timeout, HTTP 429
or a 5xx other than 501 and 505) is retried after an exponentially growing, randomised pause, at most
``config["store_retries"]`` times. Every other failure, and one that outlasts its
retries, raises :class:`StoreError` naming the key and the store; a missing object
reads as None.

A server that ignores byte-range requests answers them with the whole object; the range
is then cut out of it, so reads stay right (each moves the whole object, though).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from cuzarr.concurrency import parallel_map
from cuzarr.config import config
from cuzarr.errors import StoreError, UnsupportedError, ZarrError
from cuzarr.stores.base import ByteRange, RangeRequest, Store, check_key, check_prefix
from cuzarr.stores.memory import to_bytes

# Errors a file system raises for "no such object". KeyError: some mapping-backed ones.
_MISSING = (FileNotFoundError, IsADirectoryError, NotADirectoryError, KeyError)
# Protocols where a request is as cheap as a local read (see Store.supports_partial_reads).
_CHEAP_PROTOCOLS = {"file", "local", "memory"}
# One file system call: (positional arguments, keyword arguments).
Call = tuple[tuple[Any, ...], dict[str, Any]]


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
        # A synchronous file system's own batch calls, where it has them (others get the
        # thread pool); an async one runs every request on its event loop.
        self._sync_batches = {} if fs.async_impl else _sync_batch_calls(fs)
        self._slots: tuple[int, asyncio.Semaphore] | None = None

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"FsspecStore({str(self)!r}{mode})"

    def __str__(self) -> str:
        return self.fs.unstrip_protocol(self.root)

    def _path(self, key: str) -> str:
        check_key(key, self)  # before the key is joined to the root and reaches fs
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
        fetched = self._cat([paths[i] for i in direct], [bounds[i] for i in direct])
        for i, value in zip(direct, fetched):
            results[i] = value
        # Ranges fsspec cannot express, and ranges the server refused (HTTP 416 for a start
        # past the end): resolve against the size and read again.
        again = [
            i
            for i, (_, byte_range) in enumerate(requests)
            if bounds[i] is None or (byte_range is not None and _refused(results[i]))
        ]
        resolved = self._get_by_size([paths[i] for i in again], [requests[i][1] for i in again])
        for i, value in zip(again, resolved):
            results[i] = value
        return [self._checked("read", key, v) for (key, _), v in zip(requests, results)]

    def _cat(self, paths: list[str], bounds: list[Any]) -> list[Any]:
        calls = [((p,), {"start": start, "end": end}) for p, (start, end) in zip(paths, bounds)]
        fetched = self._each("cat_file", calls)
        return [_cut_from_whole(v, start, end) for v, (start, end) in zip(fetched, bounds)]

    def _get_by_size(self, paths: list[str], ranges: list[ByteRange | None]) -> list[Any]:
        results = self._each("size", [((p,), {}) for p in paths])
        reads = []
        for i, size in enumerate(results):
            if size is None:
                results[i] = StoreError(f"{self} cannot tell the size of {paths[i]!r}")
            elif not isinstance(size, BaseException):
                start, stop = ranges[i].resolve(size) if ranges[i] else (0, size)
                results[i] = b""
                if start != stop:
                    reads.append((i, (start, stop)))
        fetched = self._cat([paths[i] for i, _ in reads], [b for _, b in reads])
        for (i, _), value in zip(reads, fetched):
            results[i] = value
        return results

    def _checked(self, verb: str, key: str, value: Any) -> Any:
        """``value``; None for a missing object; a StoreError for any other failure."""
        if not isinstance(value, BaseException):
            return value
        if isinstance(value, _MISSING):
            return None
        raise self._failure(verb, key, value)

    def _failure(self, verb: str, key: str, error: BaseException) -> ZarrError:
        if isinstance(error, ZarrError):
            return error
        where = "to" if verb == "write" else "from"
        retries = config.get("store_retries")
        tries = f" (failed {retries + 1} times)" if retries and is_transient(error) else ""
        message = f"cannot {verb} {key!r} {where} {self}: {type(error).__name__}: {error}{tries}"
        failure = StoreError(message)
        failure.__cause__ = error
        return failure

    def exists(self, key: str) -> bool:
        found = self._each("isfile", [((self._path(key),), {})])[0]
        return bool(self._checked("read", key, found))

    # -- writes --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        self.set_many([(key, value)])

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        self.check_writable()
        paths = [self._path(key) for key, _ in items]  # every key checked before any write
        calls = [((path, to_bytes(value)), {}) for path, (_, value) in zip(paths, items)]
        results = self._each("pipe_file", calls)
        orphans = [i for i, r in enumerate(results) if isinstance(r, FileNotFoundError)]
        if orphans:
            # File systems with folders (local, sftp) need the parents made first; a
            # failure to make one shows as the write's own failure below.
            parents = sorted({paths[i].rpartition("/")[0] for i in orphans})
            self._each("makedirs", [((p,), {"exist_ok": True}) for p in parents])
            for i, r in zip(orphans, self._each("pipe_file", [calls[i] for i in orphans])):
                results[i] = r
        for (key, _), r in zip(items, results):
            if isinstance(r, BaseException):
                raise self._failure("write", key, r)

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: Sequence[str]) -> None:
        self.check_writable()
        paths = [self._path(key) for key in keys]  # every key checked before any deletion
        for key, r in zip(keys, self._each("rm_file", [((p,), {}) for p in paths])):
            self._checked("delete", key, r)

    def delete_prefix(self, prefix: str) -> None:
        self.check_writable()
        check_prefix(prefix, self)
        if (prefix and not prefix.endswith("/")) or not (self.root or prefix):
            # Not a whole folder (or the file system's root): delete key by key.
            return super().delete_prefix(prefix)
        path = self._path(prefix[:-1]) if prefix else self.root
        options: dict[str, Any] = {"recursive": True}
        if self.fs.async_impl:  # the async rm deletes the folder's files in batches
            options["batch_size"] = _max_requests()
        self._checked("delete", prefix, self._each("rm", [((path,), options)])[0])

    # -- listing -------------------------------------------------------------------------
    def list_prefix(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix, self)
        # find() from the deepest folder the prefix names, then filter the rest.
        folder = prefix.rpartition("/")[0]
        base = self._path(folder) if folder else self.root
        paths = self._checked("list", prefix, self._each("find", [((base,), {})])[0])
        skip = len(self.root) + 1 if self.root else 0
        keys = (p[skip:] for p in paths or ())
        return (key for key in keys if key.startswith(prefix))

    # -- requests ------------------------------------------------------------------------
    def _each(self, method: str, calls: Sequence[Call]) -> list[Any]:
        """``fs.<method>(*args, **kwargs)`` for each call: its result or the exception it
        raised, in call order. At most ``store_max_requests`` calls are in flight at once;
        one that fails transiently (a dropped connection, a timeout, HTTP 5xx) is tried
        again after a growing random pause, at most ``store_retries`` times."""
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in range(config.get("store_retries") + 1):
            if attempt:
                time.sleep(backoff_delay(attempt - 1))
            for i, r in zip(todo, self._run(method, [calls[i] for i in todo])):
                results[i] = r
            todo = [i for i in todo if is_transient(results[i])]
            if not todo:
                break
        return results

    def _run(self, method: str, calls: list[Call]) -> list[Any]:
        if not calls:
            return []
        limit = _max_requests()
        if self.fs.async_impl:
            fn = getattr(self.fs, f"_{method}")
            return _import_fsspec().asyn.sync(self.fs.loop, self._gather, fn, calls, limit)
        batch = self._sync_batches.get(method)
        call = getattr(self.fs, method)
        results: list[Any] = []
        for part in (calls[i : i + limit] for i in range(0, len(calls), limit)):
            if batch is not None:
                results += batch(self.fs, part)
            else:
                results += parallel_map(lambda c: _attempt(call, c), part)
        return results

    async def _gather(self, fn: Any, calls: list[Call], limit: int) -> list[Any]:
        slots = self._slots_for(limit)

        async def one(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            async with slots:
                try:
                    return await fn(*args, **kwargs)
                except Exception as e:  # returned, like cat_ranges(on_error="return") does
                    return e

        return await asyncio.gather(*(one(args, kwargs) for args, kwargs in calls))

    def _slots_for(self, limit: int) -> asyncio.Semaphore:
        """The store's request slots, shared by every batch in flight (threads reading
        through one store at once share the cap). Runs on the event loop only."""
        if self._slots is None or self._slots[0] != limit:
            self._slots = (limit, asyncio.Semaphore(limit))
        return self._slots[1]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_slots"] = None  # bound to this process's event loop
        return state


def _max_requests() -> int:
    return max(1, int(config.get("store_max_requests")))


def _attempt(fn: Any, call: Call) -> Any:
    try:
        return fn(*call[0], **call[1])
    except Exception as e:
        return e


def _sync_cat_ranges(fs: Any, calls: list[Call]) -> list[Any]:
    paths = [args[0] for args, _ in calls]
    starts = [kwargs["start"] for _, kwargs in calls]
    ends = [kwargs["end"] for _, kwargs in calls]
    try:
        return list(fs.cat_ranges(paths, starts, ends, on_error="return"))
    except Exception as e:
        return [e] * len(calls)


def _sync_pipe(fs: Any, calls: list[Call]) -> list[Any]:
    try:
        fs.pipe({args[0]: args[1] for args, _ in calls})
    except Exception as e:  # fsspec's pipe says nothing about which write failed
        return [e] * len(calls)
    return [None] * len(calls)


def _sync_batch_calls(fs: Any) -> dict[str, Any]:
    """The batch calls a synchronous file system implements itself (not as plain loops)."""
    base = _import_fsspec().AbstractFileSystem
    calls = {}
    if type(fs).cat_ranges is not base.cat_ranges:
        calls["cat_file"] = _sync_cat_ranges
    if type(fs).pipe is not base.pipe:
        calls["pipe_file"] = _sync_pipe
    return calls


# -- transient failures ---------------------------------------------------------------------

# Seconds before the first retry; each retry waits twice as long (times a random factor
# in [0.5, 1), so clients that failed together do not retry together), at most the cap.
# With the default four retries a request gives up after at most 3 s of waiting.
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 2.0


def backoff_delay(retry: int) -> float:
    """The pause before retry number ``retry`` (0 for the first)."""
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2**retry) * random.uniform(0.5, 1.0)


def is_transient(error: Any) -> bool:
    """Whether a failure may go away by itself: a dropped or refused connection, a
    timeout, a truncated response, HTTP 429 or a 5xx other than 501 and 505 (which say
    the server cannot do it at all). Follows the chain of causes, where file systems
    wrap the client library's error in their own."""
    if not isinstance(error, Exception) or isinstance(error, _MISSING + (ZarrError,)):
        return False
    aiohttp = sys.modules.get("aiohttp")  # only loaded when a file system uses it
    client_errors = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) if aiohttp else ()
    seen: BaseException | None = error
    for _ in range(8):  # a cause chain is short; never follow a loop forever
        if seen is None:
            return False
        status = _http_status(seen)
        if status is not None:
            return status == 429 or (500 <= status < 600 and status not in (501, 505))
        if isinstance(seen, (ConnectionError, TimeoutError, *client_errors)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _http_status(error: BaseException) -> int | None:
    """The HTTP status an error carries (aiohttp: ``status``; Google's and urllib's:
    ``code``; botocore's: inside ``response``), if any."""
    for name in ("status", "code"):
        value = getattr(error, name, None)
        if isinstance(value, int) and 100 <= value < 600:
            return value
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        value = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(value, int):
            return value
    return None


def _refused(value: Any) -> bool:
    """A failed read the server answered for good (not missing, not transient)."""
    return (
        isinstance(value, Exception)
        and not isinstance(value, _MISSING + (ZarrError,))
        and not is_transient(value)
    )


def _cut_from_whole(data: Any, start: int | None, end: int | None) -> Any:
    """The bytes a range read asked for. A server that ignores the Range header answers
    with the whole object, longer than the range: the range is then cut out of it (the
    read is correct but moves the whole object). An open range from a positive start
    (``ByteRange(10)``) cannot be checked this way; cuzarr's own reads never use one."""
    if isinstance(data, BaseException) or start is None:
        return data
    if end is None:
        if start >= 0:
            return data
        wanted = -start
    else:
        wanted = end - start
    return data[start:end] if len(data) > wanted else data


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
