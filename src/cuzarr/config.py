"""Runtime settings: backend, threads, batch and coalescing sizes.

``cuzarr.config.set(...)`` changes settings for the process; used as a context manager it
restores the previous values on exit::

    with cuzarr.config.set(threads=1, device="cpu"):
        ...

Keys may be given as keyword arguments or as a dict; zarr-python's dotted spellings that
mean the same thing are accepted (``"array.write_empty_chunks"``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from cuzarr.errors import ZarrError

DEFAULTS: dict[str, Any] = {
    # "auto" (GPU when usable, else CPU), "cpu", or "gpu".
    "device": "auto",
    # Host threads for codecs and store calls; None = the core count.
    "threads": None,
    # A read or write is processed in batches of at most this many chunks ...
    "batch_chunks": 1024,
    # ... and at most this many decoded bytes, which bounds peak memory.
    "batch_bytes": 512 * 2**20,
    # Whether chunks that hold only the fill value are written (zarr-python's default: no).
    "write_empty_chunks": False,
    # Byte-range coalescing for partial reads: merge ranges closer than gap, up to size.
    "coalesce_max_gap": 64 * 2**10,
    "coalesce_max_size": 16 * 2**20,
    # Default zarr_format for newly created arrays and groups.
    "default_zarr_format": 3,
    # The largest decoded chunk (or shard) an array may declare: metadata implying more
    # is refused before anything is allocated, and no decoder produces more.
    "max_chunk_bytes": 2**31,
    # Requests a network store keeps in flight at once, and how often a transient
    # failure (connection reset, timeout, HTTP 5xx) is retried, with backoff.
    "store_max_requests": 16,
    "store_retries": 4,
}

ALIASES = {
    "array.write_empty_chunks": "write_empty_chunks",
    "default_zarr_format": "default_zarr_format",
    "threading.max_workers": "threads",
}


class ConfigError(ZarrError, KeyError):
    """An unknown configuration key or a bad value."""


class _Restore:
    """Returned by :meth:`Config.set`; restores the old values when used with ``with``."""

    def __init__(self, config: Config, old: dict[str, Any]):
        self._config = config
        self._old = old

    def __enter__(self) -> Config:
        return self._config

    def __exit__(self, *exc: object) -> None:
        self._config._values.update(self._old)


class Config:
    def __init__(self) -> None:
        self._values = copy.deepcopy(DEFAULTS)

    @staticmethod
    def _key(key: str) -> str:
        key = ALIASES.get(key, key)
        if key not in DEFAULTS:
            raise ConfigError(f"unknown cuzarr config key {key!r}; known: {sorted(DEFAULTS)}")
        return key

    def get(self, key: str, default: Any = None) -> Any:
        value = self._values.get(self._key(key))
        return default if value is None else value

    def __getitem__(self, key: str) -> Any:
        return self._values[self._key(key)]

    def set(self, values: Mapping[str, Any] | None = None, **kwargs: Any) -> _Restore:
        updates = {**(values or {}), **kwargs}
        checked = {self._key(k): v for k, v in updates.items()}
        if "device" in checked and checked["device"] not in ("auto", "cpu", "gpu"):
            raise ConfigError(f"device must be 'auto', 'cpu' or 'gpu', not {checked['device']!r}")
        old = {k: self._values[k] for k in checked}
        self._values.update(checked)
        return _Restore(self, old)

    def reset(self) -> None:
        self._values = copy.deepcopy(DEFAULTS)

    def enable_gpu(self) -> _Restore:
        """Use the GPU backend (same name as zarr-python's ``config.enable_gpu``)."""
        return self.set(device="gpu")

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"cuzarr.config({self._values})"


config = Config()
