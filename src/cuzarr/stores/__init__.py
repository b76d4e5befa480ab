"""Stores: where keys and bytes live. ``make_store`` turns what a user passes (a path, a
URL, a dict, a store) into a :class:`Store`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from cuzarr.errors import NotAZarrHierarchyError, StoreError
from cuzarr.stores.base import ByteRange, RangeRequest, Store, StoreLike
from cuzarr.stores.fsspec import FsspecStore
from cuzarr.stores.local import LocalStore
from cuzarr.stores.mapping import MappingStore
from cuzarr.stores.memory import MemoryStore
from cuzarr.stores.zip import ZipStore

__all__ = [
    "ByteRange",
    "FsspecStore",
    "LocalStore",
    "MappingStore",
    "MemoryStore",
    "RangeRequest",
    "Store",
    "StoreLike",
    "ZipStore",
    "make_store",
]

# zarr-python's access modes. The store only needs to know whether it may write; whether
# a node must or must not exist is checked by the caller.
MODES = ("r", "r+", "a", "w", "w-")
# How a zip archive is opened per mode. "w-" appends: the caller fails if the node
# exists, and truncating an archive that holds other nodes would lose them.
_ZIP_MODES = {"r": "r", "r+": "a", "a": "a", "w": "w", "w-": "a"}
_ZIP_SUFFIXES = (".zip", ".ozx")  # .ozx: OME-Zarr's zipped single-image convention


def make_store(
    store_like: StoreLike,
    *,
    mode: str = "a",
    storage_options: dict[str, Any] | None = None,
    path: str = "",
) -> Store:
    """The store for ``store_like``:

    - a :class:`Store`: returned as it is
    - ``None``: a new :class:`MemoryStore`
    - a ``str`` or ``os.PathLike`` folder: :class:`LocalStore`; ending in ``.zip`` (or
      ``.ozx``): :class:`ZipStore`
    - a URL: ``file://`` as a local path; any other (``s3://``, ``memory://``,
      ``zip::...``): :class:`FsspecStore`, opened with ``storage_options``
    - a ``Mapping`` (a dict, a zarr-python-2 store): :class:`MappingStore`

    ``mode`` is zarr-python's ("r", "r+", "a", "w", "w-"): "r" opens read-only.
    ``path``, for a location, is a folder inside it that becomes the store's root.
    """
    if mode not in MODES:
        raise StoreError(f"mode must be one of {MODES}, got {mode!r}")
    read_only = mode == "r"
    if storage_options is not None and not isinstance(storage_options, dict):
        raise StoreError(f"storage_options must be a dict, not {type(storage_options).__name__}")
    if isinstance(store_like, os.PathLike):
        store_like = os.fspath(store_like)
    if isinstance(store_like, str):
        return _store_for_location(store_like, mode, storage_options, path)
    if storage_options:
        raise StoreError("storage_options apply only when the store is given as a URL")
    if path:
        raise StoreError(
            f"path={path!r} applies only when the store is given as a path or URL, "
            f"not as {type(store_like).__name__}"
        )
    if isinstance(store_like, Store):
        return store_like
    if store_like is None:
        return MemoryStore(read_only=read_only)
    if isinstance(store_like, Mapping):
        return MappingStore(store_like, read_only=read_only)
    if _is_fsspec_filesystem(store_like):
        return FsspecStore(store_like, read_only=read_only)
    raise StoreError(
        f"cannot make a store from {type(store_like).__name__}: expected a Store, a path, "
        "a URL, a MutableMapping or None"
    )


def _store_for_location(
    location: str, mode: str, storage_options: dict[str, Any] | None, path: str
) -> Store:
    read_only = mode == "r"
    if "://" in location or "::" in location:
        local = _local_path_of_url(location)
        if local is None or storage_options:
            return FsspecStore(
                location, path=path or None, storage_options=storage_options, read_only=read_only
            )
        location = local
    elif storage_options:
        raise StoreError(f"storage_options apply only to URLs, not to the path {location!r}")
    if location.lower().endswith(_ZIP_SUFFIXES):
        if path:
            raise StoreError(f"path={path!r} cannot select a folder inside {location}")
        return ZipStore(location, mode=_ZIP_MODES[mode])
    if path:
        location = os.path.join(location, path.strip("/"))
    if os.path.isfile(location):
        raise NotAZarrHierarchyError(
            f"{location} is a file, not a Zarr or N5 store (a folder, or an archive whose "
            f"name ends in {' or '.join(_ZIP_SUFFIXES)})"
        )
    return LocalStore(location, read_only=read_only)


def _local_path_of_url(url: str) -> str | None:
    """The local path of a plain ``file://`` URL; None for anything fsspec must open."""
    if "::" in url:  # a chained URL such as zip::file:///x.zip
        return None
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        return None
    return url2pathname(parts.path)


def _is_fsspec_filesystem(obj: Any) -> bool:
    # Checked without importing fsspec: only an object from an imported fsspec can be one.
    fsspec = sys.modules.get("fsspec")
    return fsspec is not None and isinstance(obj, fsspec.AbstractFileSystem)
