"""Maps v3 codec names and v2 numcodecs ids to codec classes.

Codec modules register themselves with the :func:`register_codec` decorator; the
registry imports every built-in codec module on first lookup, so adding a codec means
adding one module and naming it in ``_BUILTIN_MODULES``.

:func:`as_codec` accepts anything a user may pass where a codec is expected: a codec
object, a v3 dict or name, a v2 dict, or a numcodecs codec instance.
"""

from __future__ import annotations

import importlib
from typing import Any

from cuzarr.codecs.base import Codec
from cuzarr.errors import MetadataError, UnknownCodecError

_BY_V3_NAME: dict[str, type[Codec]] = {}
_BY_V2_ID: dict[str, type[Codec]] = {}
_loaded = False

_BUILTIN_MODULES = [
    "cuzarr.codecs.bytes",
    "cuzarr.codecs.transpose",
    "cuzarr.codecs.gzip",
    "cuzarr.codecs.zlib",
    "cuzarr.codecs.zstd",
    "cuzarr.codecs.blosc",
    "cuzarr.codecs.lz4",
    "cuzarr.codecs.bz2",
    "cuzarr.codecs.lzma",
    "cuzarr.codecs.crc32c",
    "cuzarr.codecs.shuffle",
    "cuzarr.codecs.filters",
    "cuzarr.codecs.sharding",
    "cuzarr.codecs.n5",
    "cuzarr.codecs.categorize",
    "cuzarr.codecs.vlen",
]


def register_codec(name: str, *, v2_id: str | None = None, aliases: tuple[str, ...] = ()):
    """Class decorator: register ``cls`` under its v3 ``name`` (plus ``aliases``) and,
    when it has one, its v2 ``id``."""

    def decorate(cls: type[Codec]) -> type[Codec]:
        cls.name = name
        cls.v2_id = v2_id
        for n in (name, *aliases):
            _BY_V3_NAME[n] = cls
        if v2_id is not None:
            _BY_V2_ID.setdefault(v2_id, cls)
        return cls

    return decorate


def _load_builtins() -> None:
    global _loaded
    if not _loaded:
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True


def codec_class_v3(name: str) -> type[Codec]:
    _load_builtins()
    try:
        return _BY_V3_NAME[name]
    except KeyError:
        raise UnknownCodecError(f"unknown codec {name!r} (known: {sorted(_BY_V3_NAME)})") from None


def codec_class_v2(codec_id: str) -> type[Codec]:
    _load_builtins()
    try:
        return _BY_V2_ID[codec_id]
    except KeyError:
        raise UnknownCodecError(
            f"unknown v2 codec id {codec_id!r} (known: {sorted(_BY_V2_ID)})"
        ) from None


def codec_from_v3(obj: str | dict[str, Any]) -> Codec:
    """Parse one entry of a v3 ``codecs`` list (short-hand name or object form)."""
    if isinstance(obj, str):
        return codec_class_v3(obj).from_config({})
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise MetadataError(f"a codec must be a name or an object with a 'name', not {obj!r}")
    extra = set(obj) - {"name", "configuration", "must_understand"}
    if extra:
        raise MetadataError(f"codec {obj['name']!r} has unknown fields {sorted(extra)}")
    if not isinstance(obj.get("must_understand", True), bool):
        raise MetadataError(
            f"codec {obj['name']!r}: must_understand must be true or false, "
            f"not {obj['must_understand']!r}"
        )
    config = obj.get("configuration", {})
    if not isinstance(config, dict):
        raise MetadataError(f"codec {obj['name']!r}: configuration must be an object")
    return codec_class_v3(obj["name"]).from_config(dict(config))


def codec_from_v2(obj: dict[str, Any]) -> Codec:
    """Parse a v2 ``compressor`` or ``filters`` entry (``{"id": ...}``)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        raise MetadataError(f"a v2 codec must be an object with an 'id', not {obj!r}")
    return codec_class_v2(obj["id"]).from_v2(dict(obj))


def as_codec(obj: Any) -> Codec:
    """Any accepted spelling of a codec -> a codec object."""
    if isinstance(obj, Codec):
        return obj
    if isinstance(obj, str):
        return codec_from_v3(obj)
    if isinstance(obj, dict):
        return codec_from_v2(obj) if "id" in obj and "name" not in obj else codec_from_v3(obj)
    to_dict = getattr(obj, "to_dict", None)  # a zarr-python 3 codec object
    if callable(to_dict):
        return codec_from_v3(to_dict())
    get_config = getattr(obj, "get_config", None)  # a numcodecs codec instance
    if callable(get_config):
        return codec_from_v2(get_config())
    raise UnknownCodecError(f"cannot use {obj!r} as a codec")
