"""A store over any ``MutableMapping`` of str keys to bytes values.

This is how a user's dict, or a zarr-python-2-style store (``zarr.storage.DirectoryStore``,
``fsspec.FSMap``, an LMDB mapping, ...) is used as a cuzarr store.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from cuzarr.stores.base import (
    ByteRange,
    RangeRequest,
    Store,
    check_key,
    check_prefix,
    slice_value,
)
from cuzarr.stores.memory import to_bytes


class MappingStore(Store):
    """Wraps ``mapping``; values are converted to ``bytes`` on set.

    ``get`` returns what the mapping holds (usually ``bytes``), or a ``memoryview`` of it
    for a byte range. An arbitrary mapping may not be thread-safe, so every access holds
    one lock, and batches run inline rather than on the pool: use ``FsspecStore`` rather
    than an ``FSMap`` when remote reads should overlap.
    """

    _lock_type = threading.RLock

    def __init__(self, mapping: Mapping[str, Any], read_only: bool = False):
        if not isinstance(mapping, MutableMapping):
            read_only = True  # a read-only Mapping can still be read
        self.mapping = mapping
        self.read_only = read_only
        self._lock = self._lock_type()

    def __repr__(self) -> str:
        return f"MappingStore({type(self.mapping).__name__} at {id(self.mapping):#x})"

    def object_name(self, key: str) -> str:
        return f"{id(self.mapping):#x}/{key}"

    def _writable(self) -> MutableMapping[str, Any]:
        self.check_writable()
        return self.mapping  # type: ignore[return-value]  # read_only unless mutable

    def get(self, key: str, byte_range: ByteRange | None = None) -> Any | None:
        # The mapping may itself be a file system (fsspec's FSMap, a DirectoryStore).
        check_key(key, self)
        try:
            with self._lock:
                value = self.mapping[key]
        except KeyError:
            return None
        return None if value is None else slice_value(value, byte_range)

    def get_ranges(self, requests: Sequence[RangeRequest]) -> list[Any | None]:
        return [self.get(key, byte_range) for key, byte_range in requests]

    def exists(self, key: str) -> bool:
        check_key(key, self)
        with self._lock:
            return key in self.mapping

    def set(self, key: str, value: Any) -> None:
        mapping = self._writable()
        check_key(key, self)
        value = to_bytes(value)
        with self._lock:
            mapping[key] = value

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        for key, value in items:
            self.set(key, value)

    def delete(self, key: str) -> None:
        mapping = self._writable()
        check_key(key, self)
        with self._lock:
            # pop() on a MutableMapping swallows the KeyError of a missing key.
            mapping.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.delete(key)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix, self)
        with self._lock:
            keys = list(self.mapping)
        return (key for key in keys if isinstance(key, str) and key.startswith(prefix))
