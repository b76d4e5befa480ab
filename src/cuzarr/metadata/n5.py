"""N5 ``attributes.json``: parse, convert to the internal metadata, write.

Spec: https://github.com/saalfeldlab/n5 (file-system specification 4.0.0). Example dataset::

    {"dimensions": [512, 512, 3], "blockSize": [100, 100, 1], "dataType": "uint8",
     "compression": {"type": "gzip", "level": -1, "useZlib": false}, "myattr": 1}

Every folder is a group; the root's ``attributes.json`` states the version under ``"n5"``.
A dataset is a group whose attributes hold ``dimensions``, ``blockSize``, ``dataType`` and
``compression``; user attributes share the file.

cuzarr shows an N5 dataset with its axes reversed (the C-order view zarr-python 2 and z5py
give): ``shape = dimensions[::-1]``, ``chunks = blockSize[::-1]``, and the block at N5 grid
position (x, y, z) is the key ``x/y/z`` (:class:`N5ChunkKeyEncoding`). The internal codecs
are those of the registered ``n5_default`` codec for a view in N5 order, behind a transpose
that reverses the axes: ``[transpose, n5_default[transpose, bytes big, compressor]]`` (the
two transposes cancel; the block header sees N5's order). There is no fill value: missing
blocks read as 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cuzarr.codecs.base import Codec
from cuzarr.codecs.blosc import SHUFFLE_TO_V2, BloscCodec
from cuzarr.codecs.bytes import BytesCodec
from cuzarr.codecs.bz2 import BZ2Codec
from cuzarr.codecs.gzip import GzipCodec
from cuzarr.codecs.lz4 import LZ4Codec
from cuzarr.codecs.lzma import LZMACodec
from cuzarr.codecs.n5 import N5DefaultCodec, N5LZ4Codec
from cuzarr.codecs.registry import as_codec
from cuzarr.codecs.transpose import TransposeCodec
from cuzarr.codecs.zlib import ZlibCodec
from cuzarr.codecs.zstd import ZstdCodec
from cuzarr.errors import ContainsNodeError, MetadataError, UnsupportedError
from cuzarr.grid import RegularChunkGrid, integer
from cuzarr.metadata import shown
from cuzarr.metadata.fill import fill_value_for
from cuzarr.metadata.v3 import (
    ArrayMetadata,
    GroupMetadata,
    check_dimension_names,
    load_json_object,
    with_where,
)

N5_KEY = "attributes.json"
N5_VERSION = "4.0.0"
# Keys N5 itself owns; everything else in attributes.json is a user attribute.
RESERVED = ("n5", "dimensions", "blockSize", "dataType", "compression", "compressionType")
DATA_TYPES = {
    name: np.dtype(name)
    for name in "uint8 uint16 uint32 uint64 int8 int16 int32 int64 float32 float64".split()
}
DEFAULT_COMPRESSION = {"type": "gzip", "level": -1, "useZlib": False}


@dataclass(frozen=True)
class N5ChunkKeyEncoding:
    """Block keys: N5 grid positions in N5 order, i.e. the view's chunk coords reversed."""

    name = "n5"
    separator = "/"

    def to_json(self) -> dict[str, Any]:
        return {"name": "n5"}

    def encode(self, coords: Any) -> str:
        return "/".join(str(c) for c in reversed(tuple(coords)))

    def decode(self, key: str) -> tuple[int, ...] | None:
        parts = key.split("/")
        if not all(p.isdigit() for p in parts):  # attributes.json, a stray file, ...
            return None
        return tuple(int(p) for p in reversed(parts))


@dataclass(frozen=True)
class N5ArrayMetadata(ArrayMetadata):
    """The internal metadata of an N5 dataset, plus what only attributes.json states."""

    zarr_format: str = "n5"  # type: ignore[assignment]
    # The ``compression`` object as read (unknown parameters, such as zstd's advanced
    # ones, survive a rewrite of attributes.json).
    compression: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_COMPRESSION))
    n5_version: str | None = None  # set when the dataset is the container's root

    def to_json(self) -> dict[str, Any]:
        """The attributes.json document."""
        doc: dict[str, Any] = {} if self.n5_version is None else {"n5": self.n5_version}
        doc["dimensions"] = list(reversed(self.shape))
        doc["blockSize"] = list(reversed(self.chunk_shape))
        doc["dataType"] = self.dtype.name
        doc["compression"] = dict(self.compression)
        return {**doc, **user_attributes(self.attributes, "dataset")}


def user_attributes(attributes: dict[str, Any], what: str) -> dict[str, Any]:
    clash = sorted(set(attributes) & set(RESERVED))
    if clash:
        raise MetadataError(f"N5 {what} attributes may not use the reserved keys {clash}")
    return dict(attributes)


# -- compression <-> codecs -----------------------------------------------------------------


def compression_codec(obj: Any, dtype: np.dtype, where: str) -> Codec | None:
    """An N5 ``compression`` object -> the bytes->bytes codec (None for ``raw``)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise MetadataError(
            f"{where}: 'compression' must be an object with a 'type', not {shown(obj)}"
        )

    def param(name: str, default: Any) -> Any:
        value = obj.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise MetadataError(f"compression.{name} must be an integer, not {shown(value)}")
        return value

    def flag(name: str) -> bool:
        value = obj.get(name, False)
        if not isinstance(value, bool):
            raise MetadataError(f"compression.{name} must be true or false, not {shown(value)}")
        return value

    def text(name: str, default: str) -> str:
        value = obj.get(name, default)
        if not isinstance(value, str):
            raise MetadataError(f"compression.{name} must be a string, not {shown(value)}")
        return value

    kind = obj["type"]
    try:
        if kind == "raw":
            return None
        if kind == "gzip":
            cls = ZlibCodec if flag("useZlib") else GzipCodec
            return cls(level=param("level", -1))
        if kind == "bzip2":
            return BZ2Codec(level=param("blockSize", 9))
        if kind == "xz":
            return LZMACodec(format=1, check=-1, preset=param("preset", 6))
        if kind == "lz4":
            return N5LZ4Codec(block_size=param("blockSize", 65536))
        if kind == "blosc":
            # typesize: the element size, as TensorStore writes (readers take it from the
            # Blosc header either way; n5-blosc writes 1, which disables shuffling).
            return BloscCodec(
                cname=text("cname", "blosclz"),
                clevel=param("clevel", 6),
                shuffle=param("shuffle", 0),
                typesize=dtype.itemsize,
                blocksize=param("blocksize", 0),
            )
        if kind == "zstd":
            return ZstdCodec(level=param("level", 3), checksum=flag("useChecksums"))
    except MetadataError as e:
        raise MetadataError(f"{where}: compression {shown(obj)}: {e}") from None
    raise UnsupportedError(
        f"{where}: N5 compression type {shown(kind)} is not supported "
        "(known: raw, gzip, bzip2, xz, lz4, blosc, zstd)"
    )


def compression_json(codec: Codec | None) -> dict[str, Any]:
    """A codec -> the N5 ``compression`` object that writes the same payload."""
    if codec is None:
        return {"type": "raw"}
    if isinstance(codec, GzipCodec | ZlibCodec):
        return {"type": "gzip", "level": codec.level, "useZlib": isinstance(codec, ZlibCodec)}
    if isinstance(codec, BZ2Codec):
        return {"type": "bzip2", "blockSize": codec.level}
    if isinstance(codec, LZMACodec) and codec.format == 1 and codec.filters is None:
        return {"type": "xz", "preset": 6 if codec.preset is None else codec.preset}
    if isinstance(codec, N5LZ4Codec):
        return {"type": "lz4", "blockSize": codec.block_size}
    if isinstance(codec, LZ4Codec):  # N5 has its own LZ4 framing; the intent carries over
        return {"type": "lz4", "blockSize": 65536}
    if isinstance(codec, BloscCodec):
        shuffle = "shuffle" if codec.shuffle == "auto" else codec.shuffle
        return {
            "type": "blosc",
            "cname": codec.cname,
            "clevel": codec.clevel,
            "shuffle": SHUFFLE_TO_V2[shuffle],
            "blocksize": codec.blocksize,
            "nthreads": 1,
        }
    if isinstance(codec, ZstdCodec):
        return {
            "type": "zstd",
            "level": codec.level,
            **({"useChecksums": True} if codec.checksum else {}),
        }
    raise UnsupportedError(
        f"N5 cannot store {codec.name!r} compression (it has raw, gzip, bzip2, xz, lz4, blosc, zstd)"
    )


# -- attributes.json <-> internal metadata -------------------------------------------------


load_attributes = load_json_object  # attributes.json is a JSON object


def dump_attributes(doc: dict[str, Any], where: str) -> bytes:
    try:
        return json.dumps(doc, indent=4, allow_nan=False).encode()
    except (TypeError, ValueError) as e:
        raise MetadataError(f"{where}: attributes cannot be written as JSON ({e})") from None


def is_dataset(doc: dict[str, Any]) -> bool:
    return all(k in doc for k in ("dimensions", "blockSize", "dataType"))


def _ints(doc: dict[str, Any], name: str, where: str, low: int) -> list[int]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise MetadataError(f"{where}: {name!r} must be a list of integers, not {shown(value)}")
    try:
        return [integer(v, f"{name}[{i}]", low) for i, v in enumerate(value)]
    except MetadataError as e:
        raise MetadataError(f"{where}: {e}") from None


def _axes(attributes: dict[str, Any], ndim: int, where: str) -> tuple[str | None, ...] | None:
    """TensorStore's dimension labels (``axes``, in N5 order) -> dimension_names."""
    axes = attributes.get("axes")
    if axes is None:
        return None
    if not isinstance(axes, list) or len(axes) != ndim or not all(isinstance(a, str) for a in axes):
        raise MetadataError(
            f"{where}: 'axes' must be a list of {ndim} strings (one label per dimension), "
            f"not {shown(axes)}"
        )
    return tuple(a or None for a in reversed(axes))


def parse_n5_dataset(doc: dict[str, Any], where: str = N5_KEY) -> N5ArrayMetadata:
    dims = _ints(doc, "dimensions", where, 0)
    block = _ints(doc, "blockSize", where, 1)
    if len(dims) != len(block):
        raise MetadataError(f"{where}: blockSize {block} and dimensions {dims} differ in rank")
    name = doc["dataType"]
    if not isinstance(name, str):
        raise MetadataError(f"{where}: 'dataType' must be a string, not {shown(name)}")
    if name not in DATA_TYPES:
        raise UnsupportedError(
            f"{where}: N5 dataType {shown(name)} is not supported (known: {', '.join(DATA_TYPES)})"
        )
    compression = doc.get("compression")
    if compression is None:  # version 0 files name the type only; the spec needs one
        compression = {"type": doc.get("compressionType", "raw")}
    attributes = {k: v for k, v in doc.items() if k not in RESERVED}
    version = doc.get("n5")
    if version is not None and not isinstance(version, str):
        raise MetadataError(f"{where}: 'n5' (the version) must be a string, not {shown(version)}")
    shape, chunks = tuple(reversed(dims)), tuple(reversed(block))
    return build_n5_metadata(
        shape, chunks, DATA_TYPES[name], compression, attributes, version, where
    )


def build_n5_metadata(
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    dtype: np.dtype,
    compression: dict[str, Any],
    attributes: dict[str, Any],
    version: str | None = None,
    where: str = N5_KEY,
) -> N5ArrayMetadata:
    """Internal metadata for an N5 dataset seen in the reversed (C-order) view."""
    if not shape:
        raise UnsupportedError(f"{where}: N5 datasets need at least one dimension")
    compressor = compression_codec(compression, dtype, where)
    reverse = TransposeCodec(tuple(range(len(shape) - 1, -1, -1)))
    serializer = BytesCodec("big" if dtype.itemsize > 1 else None)
    inner = (reverse, serializer) + ((compressor,) if compressor is not None else ())
    try:
        return N5ArrayMetadata(
            shape=tuple(shape),
            dtype=dtype,
            chunk_grid=RegularChunkGrid(tuple(chunks)),
            chunk_key_encoding=N5ChunkKeyEncoding(),  # type: ignore[arg-type]
            fill_value=dtype.type(0),
            codecs=(reverse, N5DefaultCodec(inner)),
            attributes=dict(attributes),
            dimension_names=_axes(attributes, len(shape), where),
            compression=dict(compression),
            n5_version=version,
        )
    except (MetadataError, UnsupportedError) as e:
        raise with_where(e, where) from None


def new_n5_metadata(
    shape: tuple[int, ...],
    dtype: np.dtype,
    chunks: tuple[int, ...],
    *,
    compressors: Any = "auto",
    filters: Any = "auto",
    fill_value: Any = None,
    attributes: dict[str, Any] | None = None,
    dimension_names: Any = None,
    root: bool = False,
) -> N5ArrayMetadata:
    """What ``create_array(zarr_format="n5", ...)`` asks for, checked against what N5 can
    state. ``compressors`` may be an N5 ``compression`` object (``{"type": ...}``);
    ``root``: the dataset is the container's root (its attributes state the version)."""
    if np.dtype(dtype).name not in DATA_TYPES or np.dtype(dtype).byteorder == ">":
        raise UnsupportedError(f"N5 cannot store {dtype} (it has {', '.join(DATA_TYPES)})")
    no_filters = filters is None or (isinstance(filters, list | tuple) and not filters)
    if not (no_filters or (isinstance(filters, str) and filters == "auto")):
        raise UnsupportedError(f"N5 has no filters; cannot store {filters!r}")
    if fill_value is not None and fill_value_for(fill_value, np.dtype(dtype)) != 0:
        raise MetadataError(
            f"N5 has no fill value (missing blocks read as 0); cannot use {shown(fill_value)}"
        )
    if any(isinstance(c, list | tuple) for c in chunks):
        raise UnsupportedError(f"N5 blocks are regular; cannot use chunks {shown(chunks)}")
    attrs = dict(attributes or {})
    user_attributes(attrs, "dataset")
    names = check_dimension_names(dimension_names, len(shape))
    if names is not None:
        attrs["axes"] = ["" if n is None else n for n in reversed(names)]
    compression = _compression_arg(compressors)
    version = N5_VERSION if root else None
    where = "create_array(zarr_format='n5')"
    dtype = np.dtype(dtype.name)
    return build_n5_metadata(shape, chunks, dtype, compression, attrs, version, where)


def _compression_arg(compressors: Any) -> dict[str, Any]:
    if isinstance(compressors, str) and compressors == "auto":
        return dict(DEFAULT_COMPRESSION)
    if isinstance(compressors, dict) and "type" in compressors:
        return dict(compressors)
    if compressors is None:
        return {"type": "raw"}
    items = list(compressors) if isinstance(compressors, list | tuple) else [compressors]
    if len(items) > 1:
        raise UnsupportedError(f"N5 takes one compressor, not {len(items)}")
    if items and isinstance(items[0], dict) and "type" in items[0]:
        return dict(items[0])
    return compression_json(as_codec(items[0]) if items else None)


# -- the store side: find, read and write N5 nodes -------------------------------------------


def _prefix(path: str) -> str:
    return f"{path}/" if path else ""


def n5_group_metadata(attributes: dict[str, Any] | None = None) -> GroupMetadata:
    return GroupMetadata(dict(attributes or {}), zarr_format="n5")  # type: ignore[arg-type]


def n5_node_metadata(raw: Any, where: str) -> ArrayMetadata | GroupMetadata:
    """attributes.json -> a dataset's or a group's metadata."""
    doc = load_attributes(raw, where)
    if is_dataset(doc):
        return parse_n5_dataset(doc, where)
    return n5_group_metadata({k: v for k, v in doc.items() if k != "n5"})


def read_n5_node(store: Any, path: str) -> ArrayMetadata | GroupMetadata | None:
    """The metadata of the N5 node at ``path``, None when there is none. A folder without
    attributes.json inside an N5 container is a group (N5 Java makes groups as bare
    folders)."""
    raw = store.get(_prefix(path) + N5_KEY)
    if raw is not None:
        return n5_node_metadata(raw, f"{store}/{_prefix(path)}{N5_KEY}")
    if path and _in_n5_container(store, path):
        return n5_group_metadata()
    return None


def read_n5_children(store: Any, path: str) -> list[tuple[str, ArrayMetadata | GroupMetadata]]:
    """(name, metadata) of an N5 group's children, sorted: every sub-folder is one (a
    folder without attributes.json is a group), with one batched read."""
    _, dirs = store.list_dir(_prefix(path))
    keys = [f"{_prefix(path)}{d}/{N5_KEY}" for d in dirs]
    return [
        (d, n5_group_metadata() if raw is None else n5_node_metadata(raw, f"{store}/{key}"))
        for d, key, raw in zip(dirs, keys, store.get_many(keys))
    ]


def _in_n5_container(store: Any, path: str) -> bool:
    if next(iter(store.list_prefix(_prefix(path))), None) is None:
        return False
    parts = path.split("/")
    for i in range(len(parts) - 1, -1, -1):  # nearest ancestor first
        raw = store.get(_prefix("/".join(parts[:i])) + N5_KEY)
        if raw is None:
            continue
        try:
            doc = load_attributes(raw, N5_KEY)
        except MetadataError:
            return False
        if is_dataset(doc):
            return False  # a folder of blocks inside a dataset
        if "n5" in doc:
            return True
    return False


def write_n5_array_metadata(store: Any, path: str, metadata: N5ArrayMetadata) -> None:
    key = _prefix(path) + N5_KEY
    store.set(key, dump_attributes(metadata.to_json(), f"{store}/{key}"))


def write_n5_group_metadata(store: Any, path: str, metadata: GroupMetadata) -> None:
    """attributes.json of a group; the root keeps (or gets) the ``"n5"`` version key."""
    key = _prefix(path) + N5_KEY
    doc = user_attributes(metadata.attributes, "group")
    if not path:
        raw = store.get(key)
        old = load_attributes(raw, f"{store}/{key}") if raw is not None else {}
        doc = {"n5": old.get("n5", N5_VERSION), **doc}
    store.set(key, dump_attributes(doc, f"{store}/{key}"))


def ensure_n5_container(store: Any, path: str) -> None:
    """Before creating an N5 node at ``path``: the store's root states the N5 version, and
    no ancestor is a dataset."""
    parts = path.split("/") if path else []
    for i in range(1, len(parts)):
        raw = store.get(_prefix("/".join(parts[:i])) + N5_KEY)
        if raw is not None and is_dataset(load_attributes(raw, N5_KEY)):
            raise ContainsNodeError(
                f"cannot create {path!r} in {store}: {'/'.join(parts[:i])!r} is an N5 dataset"
            )
    if not path:
        return  # the root node itself writes the version key
    raw = store.get(N5_KEY)
    doc = load_attributes(raw, f"{store}/{N5_KEY}") if raw is not None else {}
    if is_dataset(doc):
        raise ContainsNodeError(f"cannot create {path!r} in {store}: the root is an N5 dataset")
    if "n5" not in doc:
        store.set(N5_KEY, dump_attributes({"n5": N5_VERSION, **doc}, f"{store}/{N5_KEY}"))
