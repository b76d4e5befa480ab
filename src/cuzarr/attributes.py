"""``attrs``: a dict-like view of a node's user attributes that writes through.

Attributes are checked before they are stored: a JSON object with str keys whose values
are JSON (no NaN, no numpy scalars, no bytes) and nest at most :data:`MAX_DEPTH` deep, so
that every Zarr reader, this one included, can load the document again.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from cuzarr.errors import MetadataError

# Far deeper than any real attribute document, and shallow enough for JSON parsers that
# recurse (Python's own stops near 1000 levels, less the caller's stack).
MAX_DEPTH = 128

_SCALARS = (str, int, bool, type(None))


def check_attributes(attributes: Any, where: str) -> dict[str, Any]:
    """``attributes`` as a new dict, once checked as described in the module docstring;
    a :class:`MetadataError` naming ``where`` and the offending entry otherwise."""
    if not isinstance(attributes, Mapping):
        raise MetadataError(
            f"{where}: attributes must be a dict, not {type(attributes).__name__} "
            f"{reprlib.repr(attributes)}"
        )
    out = dict(attributes)
    # Iterative, not recursive: a document nested past the interpreter's stack is refused
    # with a message rather than a RecursionError.
    stack: list[tuple[Any, tuple[Any, ...]]] = [(out, ())]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise MetadataError(
                f"{where}: attributes nest deeper than {MAX_DEPTH} levels (at {_name(path)})"
            )
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise MetadataError(
                        f"{where}: attribute keys must be str, not {type(key).__name__} "
                        f"{reprlib.repr(key)} (in {_name(path)})"
                    )
                stack.append((item, (*path, key)))
        elif isinstance(value, (list, tuple)):
            stack.extend((item, (*path, i)) for i, item in enumerate(value))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise MetadataError(f"{where}: {_name(path)} is {value}, which JSON cannot hold")
        elif not isinstance(value, _SCALARS):
            raise MetadataError(
                f"{where}: {_name(path)} is {type(value).__name__} {reprlib.repr(value)}, not "
                "a JSON value (dict, list, str, int, float, bool or None; numpy values: "
                ".item() or .tolist())"
            )
    return out


def _name(path: tuple[Any, ...]) -> str:
    shown = "".join(f"[{reprlib.repr(p)}]" for p in path[:8])
    return f"attributes{shown}{'...' if len(path) > 8 else ''}"


class Attributes(MutableMapping[str, Any]):
    """Reading returns the node's attributes; every change rewrites its metadata document
    at once (one atomic store write). ``where`` names the node in error messages."""

    def __init__(
        self,
        get: Callable[[], dict[str, Any]],
        put: Callable[[dict[str, Any]], None],
        where: str = "attributes",
    ):
        self._get = get
        self._put = put
        self._where = where

    def _store(self, attributes: Any) -> None:
        self._put(check_attributes(attributes, self._where))

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise MetadataError(
                f"{self._where}: attribute names are str, not {type(key).__name__} "
                f"{reprlib.repr(key)}"
            )
        return key

    def __getitem__(self, key: str) -> Any:
        if not isinstance(key, str):
            raise KeyError(key)  # as for a missing name: the mapping protocol's error
        return self._get()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._store({**self._get(), self._key(key): value})

    def __delitem__(self, key: str) -> None:
        attrs = dict(self._get())
        if not isinstance(key, str) or key not in attrs:
            raise KeyError(key)
        del attrs[key]
        self._put(attrs)

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())

    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # one write, not one per key
        if not isinstance(other, Mapping):
            try:
                other = dict(other)
            except (TypeError, ValueError):
                raise MetadataError(
                    f"{self._where}: update() takes a dict or (key, value) pairs, not "
                    f"{type(other).__name__} {reprlib.repr(other)}"
                ) from None
        merged = dict(self._get())
        merged.update(other)
        merged.update(kwargs)
        self._store(merged)

    def put(self, attributes: dict[str, Any]) -> None:
        """Replace all attributes."""
        self._store(attributes)

    def asdict(self) -> dict[str, Any]:
        return dict(self._get())

    def __repr__(self) -> str:
        return repr(self._get())
