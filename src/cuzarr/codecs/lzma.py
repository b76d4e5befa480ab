"""``numcodecs.lzma`` — bytes -> bytes: an xz / legacy lzma / raw LZMA stream (Python's
``lzma.compress``).

Format: numcodecs ``LZMA``, https://numcodecs.readthedocs.io
Names: v3 ``numcodecs.lzma``, v2 id ``lzma``.
Config: ``{"name": "numcodecs.lzma", "configuration": {"format": 1, "check": -1,
"preset": null, "filters": null}}``. ``format``: 0 auto (decode only), 1 xz, 2 alone,
3 raw (needs ``filters``); ``check``: -1 format default, 0 none, 1 crc32, 4 crc64,
10 sha256; ``preset`` 0..9 (optionally | ``lzma.PRESET_EXTREME``), null = 6;
``filters``: a list of ``{"id": <lzma filter id>, ...options}``.
"""

from __future__ import annotations

import lzma
from dataclasses import dataclass, field
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.registry import register_codec
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError

_FORMATS = (lzma.FORMAT_AUTO, lzma.FORMAT_XZ, lzma.FORMAT_ALONE, lzma.FORMAT_RAW)
_CHECKS = (-1, lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256)


@register_codec("numcodecs.lzma", v2_id="lzma")
@dataclass(frozen=True)
class LZMACodec(BytesBytesCodec):
    format: int = lzma.FORMAT_XZ
    check: int = -1
    preset: int | None = None
    # A list of dicts: left out of the hash (dicts are unhashable), still compared.
    filters: list[dict[str, Any]] | None = field(default=None, hash=False)

    releases_gil = True  # Python's lzma drops the GIL while (de)compressing

    def __post_init__(self) -> None:
        if self.format not in _FORMATS:
            raise MetadataError(
                f"lzma codec: format must be one of {list(_FORMATS)}, not {self.format!r}"
            )
        if self.check not in _CHECKS:
            raise MetadataError(
                f"lzma codec: check must be one of {list(_CHECKS)}, not {self.check!r}"
            )
        if self.preset is not None and (
            isinstance(self.preset, bool)
            or not isinstance(self.preset, int)
            or not 0 <= self.preset & ~lzma.PRESET_EXTREME <= 9
        ):
            raise MetadataError(f"lzma codec: preset must be null or 0..9, not {self.preset!r}")
        if self.filters is not None:
            if not isinstance(self.filters, list | tuple) or not all(
                isinstance(f, dict) and "id" in f for f in self.filters
            ):
                raise MetadataError(
                    "lzma codec: filters must be null or a list of objects with an 'id', "
                    f"not {self.filters!r}"
                )
            object.__setattr__(self, "filters", [dict(f) for f in self.filters])
        if self.format == lzma.FORMAT_RAW and self.filters is None:
            raise MetadataError("lzma codec: format 3 (raw) needs 'filters'")

    def config(self) -> dict[str, Any]:
        filters = None if self.filters is None else [dict(f) for f in self.filters]
        return {
            "format": self.format,
            "check": self.check,
            "preset": self.preset,
            "filters": filters,
        }

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        src = as_bytes_view(data)
        try:
            return lzma.compress(src, self.format, self.check, self.preset, self.filters)
        except (ValueError, lzma.LZMAError) as e:  # format 0, filters unfit for the format, ...
            raise CodecError(f"lzma codec: cannot compress with {self.config()} ({e})") from e

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        # The container formats carry their filter chain; only raw streams need it given.
        filters = self.filters if self.format == lzma.FORMAT_RAW else None
        try:
            return lzma.decompress(as_bytes_view(data), self.format, filters=filters)
        except (lzma.LZMAError, EOFError, ValueError) as e:
            raise CorruptChunkError(f"lzma codec: cannot decompress the chunk ({e})") from e
