"""The store protocol: a flat key -> bytes map with byte-range reads and batched calls.

Keys are ``/``-separated strings without a leading ``/`` (``"a/b/zarr.json"``). A value
is any bytes-like object. Missing keys read as ``None`` (never an exception), which is
how the pipeline learns that a chunk is absent and reads as the fill value.

Batched calls (``get_ranges``, ``set_many``, ``delete_many``) are what the pipeline uses;
their defaults run the single-key calls on the shared thread pool, and a store with a
better batch primitive (fsspec's ``cat_ranges``, kvikio) overrides them.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cuzarr.concurrency import parallel_map
from cuzarr.errors import InvalidKeyError, ReadOnlyError


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``[start, stop)`` of a value, with Python slice semantics:

    - ``ByteRange(10, 20)``: bytes 10..19
    - ``ByteRange(10)``: from byte 10 to the end
    - ``ByteRange(-16)``: the last 16 bytes (a suffix)
    """

    start: int
    stop: int | None = None

    @classmethod
    def suffix(cls, length: int) -> ByteRange:
        return cls(-length, None)

    @property
    def is_suffix(self) -> bool:
        return self.start < 0

    @property
    def length(self) -> int | None:
        return None if self.stop is None else self.stop - self.start

    def slice(self, data: Any) -> Any:
        """Apply to an in-memory value (a view where the value allows one)."""
        return memoryview(data)[self.start : self.stop]

    def resolve(self, size: int) -> tuple[int, int]:
        """Absolute (start, stop) inside a value of ``size`` bytes, clipped to it."""
        start, stop, _ = slice(self.start, self.stop).indices(size)
        return start, max(start, stop)


RangeRequest = tuple[str, ByteRange | None]


class Store:
    """Base class; subclasses implement the single-key methods and may override batches."""

    read_only: bool = False
    # Whether get_ranges is cheap per request (local files, memory) or costly (network),
    # which decides how eagerly the pipeline coalesces ranges.
    supports_partial_reads: bool = True

    # -- reads ---------------------------------------------------------------------------
    def get(self, key: str, byte_range: ByteRange | None = None) -> Any | None:
        raise NotImplementedError

    def get_ranges(self, requests: Sequence[RangeRequest]) -> list[Any | None]:
        """One call for a whole batch of reads; results in request order."""
        return parallel_map(self.get, [k for k, _ in requests], [r for _, r in requests])

    def get_many(self, keys: Sequence[str]) -> list[Any | None]:
        return self.get_ranges([(k, None) for k in keys])

    def exists(self, key: str) -> bool:
        return self.get(key) is not None

    def version(self, key: str) -> Hashable | None:
        """A value that changes whenever the object under ``key`` is replaced or removed,
        for stores that can tell cheaply (local files: a stat); None when they cannot.
        Cached shard indexes are checked against it before use."""
        return None

    def object_name(self, key: str) -> str:
        """The name of the object under ``key`` in this process, the same for every store
        over the same storage (two stores on one folder, say): writes lock objects by it."""
        return f"{id(self):#x}/{key}"

    def lock_path(self, key: str) -> str | None:
        """A local file whose ``flock`` guards the object under ``key`` against writers
        in other processes on this machine (:mod:`cuzarr.locks`), or None for stores
        whose writers cannot be coordinated that way."""
        return None

    def remove_leftovers(self, prefix: str) -> None:
        """Remove what writers that died left directly under ``prefix`` (``""`` or
        ``"a/b/"``): temporary files, lock files. Stores whose writes leave nothing
        behind do nothing."""

    # -- writes --------------------------------------------------------------------------
    def set(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        self.check_writable()
        parallel_map(self.set, [k for k, _ in items], [v for _, v in items])

    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""
        raise NotImplementedError

    def delete_many(self, keys: Sequence[str]) -> None:
        self.check_writable()
        parallel_map(self.delete, list(keys))

    def delete_prefix(self, prefix: str) -> None:
        """Remove every key under ``prefix`` (``"a/b/"``); ``""`` empties the store."""
        self.check_writable()
        self.delete_many(list(self.list_prefix(prefix)))

    # -- listing -------------------------------------------------------------------------
    def list(self) -> Iterator[str]:
        return self.list_prefix("")

    def list_prefix(self, prefix: str) -> Iterator[str]:
        """Every key starting with ``prefix`` (full keys)."""
        raise NotImplementedError

    def list_dir(self, prefix: str) -> tuple[list[str], list[str]]:
        """The direct children of ``prefix`` (``""`` or ``"a/b/"``): (key names, sub-prefix
        names), both without the prefix and without a trailing ``/``, sorted."""
        keys: set[str] = set()
        dirs: set[str] = set()
        for key in self.list_prefix(prefix):
            rest = key[len(prefix) :]
            head, sep, _ = rest.partition("/")
            (dirs if sep else keys).add(head)
        return sorted(keys), sorted(dirs)

    # -- lifecycle -----------------------------------------------------------------------
    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError(f"{self} is read-only")

    def close(self) -> None:
        """Release resources (flush an archive). The default does nothing."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pickling (data-loader workers receive stores this way) ---------------------------
    # A store guarding its state with ``self._lock`` pickles without it and gets a fresh
    # lock of this type back.
    _lock_type: Any = threading.Lock

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_lock" not in state:
            self._lock = self._lock_type()

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


def check_key(key: str, store: object) -> None:
    """The one key check every store runs before a key reaches its storage: keys are
    relative, ``/``-separated paths of plain names, so none can name something outside
    the store (``..``), alias another key (``a/./b``, ``a//b``) or be cut short by a NUL
    byte in a C or file system call. Raises :class:`InvalidKeyError` naming the key."""
    if not isinstance(key, str):
        raise InvalidKeyError(f"store keys are str, got {type(key).__name__} {key!r} for {store}")
    if not key or key[0] == "/" or "\\" in key or "\0" in key:
        raise InvalidKeyError(
            f"invalid key {key!r} for {store}: keys are '/'-separated relative paths "
            "without backslashes or NUL bytes"
        )
    # "a/./b" or "a//b" would alias "a/b"; ".." would escape the root.
    if "." in key or "//" in key or key[-1] == "/":
        for part in key.split("/"):
            if part in ("", ".", ".."):
                raise InvalidKeyError(f"invalid key {key!r} for {store}: it escapes the store root")


def check_prefix(prefix: str, store: object) -> None:
    """The key check for a listing or deletion prefix: ``""`` (the whole store) or a
    key followed by ``/`` (a folder), or a key's beginning."""
    if prefix:
        check_key(prefix[:-1] if prefix.endswith("/") else prefix, store)


def slice_value(value: Any, byte_range: ByteRange | None) -> Any:
    """Apply an optional byte range to a whole in-memory value."""
    return value if byte_range is None else byte_range.slice(value)


StoreLike = Any  # a Store, a path, a pathlib.Path, an fsspec URL, or a MutableMapping
