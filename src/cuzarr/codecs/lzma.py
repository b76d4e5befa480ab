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
from functools import partial
from typing import Any

from cuzarr.codecs.base import BytesBytesCodec, ChunkSpec, as_bytes_view
from cuzarr.codecs.fields import integer, is_int, one_of
from cuzarr.codecs.registry import register_codec
from cuzarr.codecs.streams import decode_streams
from cuzarr.errors import CodecError, CorruptChunkError, MetadataError

_FORMATS = (lzma.FORMAT_AUTO, lzma.FORMAT_XZ, lzma.FORMAT_ALONE, lzma.FORMAT_RAW)
_CHECKS = (-1, lzma.CHECK_NONE, lzma.CHECK_CRC32, lzma.CHECK_CRC64, lzma.CHECK_SHA256)
# A stream states its dictionary size, which the decoder allocates up front. Allowed: what
# the largest preset needs (64 MiB) or twice the chunk, whichever is more, plus the
# decoder's own state; a stream asking for more is refused.
_PRESET_9_DICT = 1 << 26
_DECODER_STATE = 1 << 24
_DICT_FILTERS = (lzma.FILTER_LZMA1, lzma.FILTER_LZMA2)
_LZMA_OPTIONS = frozenset(
    ["preset", "dict_size", "lc", "lp", "pb", "mode", "nice_len", "mf", "depth"]
)
_BCJ_FILTERS = ("X86", "POWERPC", "IA64", "ARM", "ARMTHUMB", "SPARC", "ARM64", "RISCV")
# The options each filter takes (Python's lzma module), all unsigned 32-bit integers.
_FILTER_OPTIONS = {
    lzma.FILTER_LZMA1: _LZMA_OPTIONS,
    lzma.FILTER_LZMA2: _LZMA_OPTIONS,
    lzma.FILTER_DELTA: frozenset(["dist"]),
    **{
        getattr(lzma, f"FILTER_{name}"): frozenset(["start_offset"])
        for name in _BCJ_FILTERS
        if hasattr(lzma, f"FILTER_{name}")
    },
}


def _memlimit(limit: int) -> int:
    return max(2 * limit, _PRESET_9_DICT) + _DECODER_STATE


def _check_filters(filters: Any) -> list[dict[str, Any]]:
    """``filters`` as a filter chain liblzma takes, else a MetadataError naming the field."""
    if not isinstance(filters, list | tuple) or not filters:
        raise MetadataError(
            f"lzma codec: filters must be null or a non-empty list of filters, not {filters!r}"
        )
    for i, f in enumerate(filters):
        known = isinstance(f, dict) and is_int(f.get("id"))
        options = _FILTER_OPTIONS.get(f["id"]) if known else None
        if options is None:
            raise MetadataError(
                f"lzma codec: filters[{i}] must be an object whose 'id' is one of "
                f"{sorted(_FILTER_OPTIONS)}, not {f!r}"
            )
        if set(f) - {"id"} - options:
            raise MetadataError(
                f"lzma codec: filters[{i}] has unknown options {sorted(set(f) - {'id'} - options)}"
            )
        for key in options & set(f):
            low, high = (4096, 3 << 29) if key == "dict_size" else (0, 2**32 - 1)  # 4 KiB..1.5 GiB
            integer("lzma", f"filters[{i}].{key}", f[key], low, high)
    chain = [dict(f) for f in filters]
    try:  # liblzma's own checks, with a small dictionary (an encoder's memory grows with it)
        lzma.LZMACompressor(lzma.FORMAT_RAW, filters=_raw_filters(chain, 4096))
    except (ValueError, TypeError, OverflowError, lzma.LZMAError) as e:
        raise MetadataError(f"lzma codec: filters {chain!r} are not a valid chain ({e})") from e
    return chain


def _raw_filters(filters: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """A raw stream's filters with the dictionary no bigger than the chunk (at least
    LZMA's 4 KiB): matches reach back only into the output, so decoding needs no more,
    and the configuration cannot make the decoder allocate more than the chunk."""
    return [
        {**f, "dict_size": max(4096, min(limit, f.get("dict_size", limit)))}
        if f["id"] in _DICT_FILTERS
        else f
        for f in filters
    ]


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
        one_of("lzma", "format", self.format, _FORMATS)
        one_of("lzma", "check", self.check, _CHECKS)
        if self.preset is not None and (
            isinstance(self.preset, bool)
            or not isinstance(self.preset, int)
            or not 0 <= self.preset & ~lzma.PRESET_EXTREME <= 9
        ):
            raise MetadataError(f"lzma codec: preset must be null or 0..9, not {self.preset!r}")
        if self.filters is not None:
            object.__setattr__(self, "filters", _check_filters(self.filters))
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

    def max_encoded_size(self, decoded_nbytes: int) -> int:
        # LZMA1 grows incompressible data by about 1.5%; LZMA2 stores such chunks as they are.
        return decoded_nbytes + decoded_nbytes // 16 + 4096

    def encode_chunk(self, data: Any, spec: ChunkSpec) -> bytes:
        src = as_bytes_view(data)
        try:
            return lzma.compress(src, self.format, self.check, self.preset, self.filters)
        except (ValueError, lzma.LZMAError) as e:  # format 0, filters unfit for the format, ...
            raise CodecError(f"lzma codec: cannot compress with {self.config()} ({e})") from e

    def decode_chunk(self, data: Any, spec: ChunkSpec, out: Any = None) -> bytes:
        limit = spec.max_nbytes
        if self.format == lzma.FORMAT_RAW:  # the only format whose stream needs the filters
            filters = _raw_filters(self.filters or [], limit)
            new_stream = partial(lzma.LZMADecompressor, self.format, filters=filters)
        else:
            new_stream = partial(lzma.LZMADecompressor, self.format, _memlimit(limit))
        try:
            # Concatenated streams, and bytes after them ignored, as lzma.decompress does.
            return decode_streams(
                "lzma", as_bytes_view(data), new_stream, limit, bool, (lzma.LZMAError,)
            )[0]
        except (lzma.LZMAError, EOFError, ValueError) as e:
            if "memory usage limit" in str(e).lower():  # the stream's dictionary
                raise CorruptChunkError(
                    f"lzma codec: the stream needs more than {_memlimit(limit)} bytes of "
                    f"decoder memory, too much for a chunk of at most the {limit} bytes it may hold"
                ) from e
            raise CorruptChunkError(f"lzma codec: cannot decompress the chunk ({e})") from e
