"""``attrs``: a dict-like view of a node's user attributes that writes through."""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any


class Attributes(MutableMapping[str, Any]):
    """Reading returns the node's attributes; every change rewrites its metadata document
    at once (one atomic store write)."""

    def __init__(self, get: Callable[[], dict[str, Any]], put: Callable[[dict[str, Any]], None]):
        self._get = get
        self._put = put

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._put({**self._get(), key: value})

    def __delitem__(self, key: str) -> None:
        attrs = dict(self._get())
        del attrs[key]
        self._put(attrs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # one write, not one per key
        self._put({**self._get(), **dict(other), **kwargs})

    def put(self, attributes: dict[str, Any]) -> None:
        """Replace all attributes."""
        self._put(dict(attributes))

    def asdict(self) -> dict[str, Any]:
        return dict(self._get())

    def __repr__(self) -> str:
        return repr(self._get())
