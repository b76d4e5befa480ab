"""A store held in a Python dict: tests, scratch arrays, and staging before a copy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from cuzarr.stores.base import (
    ByteRange,
    RangeRequest,
    Store,
    check_key,
    check_prefix,
    slice_value,
)


def to_bytes(value: Any) -> bytes:
    """An immutable copy of any buffer-protocol value (``bytes`` pass through uncopied)."""
    if type(value) is bytes:
        return value
    return memoryview(value).tobytes()


class MemoryStore(Store):
    """Keys and values in a dict. ``data``, when given, is used (not copied) as the dict.

    Values are stored as ``bytes`` copies, so a caller reusing its buffer cannot change
    what was stored. ``get`` returns the stored ``bytes``, and a zero-copy
    ``memoryview`` of them for a byte range.
    """

    def __init__(self, data: dict[str, Any] | None = None, read_only: bool = False):
        self._data: dict[str, Any] = {} if data is None else data
        self.read_only = read_only
        # Single dict reads and writes are atomic under the GIL; the lock guards the
        # multi-step operations (listing while another thread inserts, delete_prefix).
        self._lock = self._lock_type()

    def __repr__(self) -> str:
        return f"MemoryStore(<{len(self._data)} keys> at {id(self):#x})"

    def object_name(self, key: str) -> str:
        return f"{id(self._data):#x}/{key}"

    def get(self, key: str, byte_range: ByteRange | None = None) -> Any | None:
        check_key(key, self)
        value = self._data.get(key)
        return None if value is None else slice_value(value, byte_range)

    def get_ranges(self, requests: Sequence[RangeRequest]) -> list[Any | None]:
        # Each lookup is a dict access: the pool's hand-off would cost more than it saves.
        return [self.get(key, byte_range) for key, byte_range in requests]

    def exists(self, key: str) -> bool:
        check_key(key, self)
        return key in self._data

    def set(self, key: str, value: Any) -> None:
        self.check_writable()
        check_key(key, self)
        value = to_bytes(value)
        with self._lock:
            self._data[key] = value

    def set_many(self, items: Sequence[tuple[str, Any]]) -> None:
        self.check_writable()
        for key, value in items:
            self.set(key, value)

    def delete(self, key: str) -> None:
        self.check_writable()
        check_key(key, self)
        with self._lock:
            self._data.pop(key, None)

    def delete_many(self, keys: Sequence[str]) -> None:
        self.check_writable()
        for key in keys:
            check_key(key, self)
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def list_prefix(self, prefix: str) -> Iterator[str]:
        check_prefix(prefix, self)
        with self._lock:
            keys = list(self._data)
        return (key for key in keys if key.startswith(prefix))
