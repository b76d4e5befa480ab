"""The top-level functions: open, open_array, open_group, create_array, create_group.

They mirror zarr-python 3's signatures where the two overlap, so ``import cuzarr as
zarr`` works for common code. Each turns a store-like into a Store, then defers to
Array / Group.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from cuzarr.array import Array, as_shape, check_device, write_array_metadata
from cuzarr.attributes import check_attributes
from cuzarr.buffers import to_host
from cuzarr.codecs.base import ChunkSpec, Codec
from cuzarr.codecs.registry import as_codec
from cuzarr.config import config as _config
from cuzarr.errors import (
    ArrayNotFoundError,
    ContainsNodeError,
    GroupNotFoundError,
    MetadataError,
    NodeNotFoundError,
    UnsupportedError,
)
from cuzarr.grid import ChunkGrid, ChunkKeyEncoding, RegularChunkGrid, make_chunk_grid
from cuzarr.group import (
    Group,
    ensure_parent_groups,
    node_exists,
    open_group_at,
    open_node,
    write_group_metadata,
)
from cuzarr.indexing import is_integer
from cuzarr.metadata.convert import default_serializer, new_v2_metadata
from cuzarr.metadata.dtypes import as_dtype
from cuzarr.metadata.fill import fill_value_for
from cuzarr.metadata.n5 import new_n5_metadata
from cuzarr.metadata.v3 import ArrayMetadata, GroupMetadata
from cuzarr.nodes import node_path
from cuzarr.stores import make_store
from cuzarr.stores.base import Store

MODES = ("r", "r+", "a", "w", "w-")


def _store(store: Any, mode: str, storage_options: dict | None) -> Store:
    if not (isinstance(mode, str) and mode in MODES):
        raise MetadataError(f"mode must be one of {MODES}, not {reprlib.repr(mode)}")
    if storage_options is not None and not isinstance(storage_options, dict):
        raise MetadataError(f"storage_options must be a dict, not {reprlib.repr(storage_options)}")
    return make_store(store, mode=mode, storage_options=storage_options)


def _clean(path: str | None) -> str:
    return node_path(path)


# -- opening ------------------------------------------------------------------------------


def open(
    store: Any = None,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict | None = None,
    **kwargs: Any,
) -> Array | Group:
    """Open the array or group at ``path``; create a group there (or an array, when
    ``shape`` is given) if nothing exists and the mode allows it."""
    _check_format(zarr_format)
    if "shape" in kwargs:
        return open_array(
            store,
            mode=mode,
            path=path,
            storage_options=storage_options,
            zarr_format=zarr_format,
            **kwargs,
        )
    s = _store(store, mode, storage_options)
    path = _clean(path)
    if mode in ("w", "w-"):
        return open_group(s, mode=mode, path=path, zarr_format=zarr_format, **kwargs)
    try:
        # zarr_format=None: v3 wins where a store holds both (migrated in place)
        return open_node(s, path, read_only=mode == "r", zarr_format=zarr_format)
    except NodeNotFoundError:
        if mode in ("r", "r+"):
            raise
        return create_group(s, path=path, zarr_format=zarr_format, **kwargs)


def open_array(
    store: Any = None,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict | None = None,
    device: str | None = None,
    **kwargs: Any,
) -> Array:
    """Open an existing array; with ``shape`` and a mode that allows it, create one."""
    _check_format(zarr_format)
    s = _store(store, mode, storage_options)
    path = _clean(path)
    if mode in ("w", "w-") or (mode == "a" and "shape" in kwargs and not node_exists(s, path)):
        return create_array(
            s, name=path, overwrite=mode == "w", device=device, zarr_format=zarr_format, **kwargs
        )
    try:
        node = open_node(
            s,
            path,
            read_only=mode == "r",
            device=device,
            zarr_format=zarr_format,
            use_consolidated=False,
        )
    except NodeNotFoundError:
        raise ArrayNotFoundError(f"no array at {s}" + (f" path {path!r}" if path else "")) from None
    if not isinstance(node, Array):
        raise ArrayNotFoundError(f"{s} at path {path!r} is a group, not an array")
    return node


def open_group(
    store: Any = None,
    *,
    mode: str = "a",
    path: str | None = None,
    zarr_format: int | None = None,
    storage_options: dict | None = None,
    attributes: dict | None = None,
    use_consolidated: bool | None = None,
    **kwargs: Any,
) -> Group:
    """Open a group; with mode "a", "w" or "w-", create it when absent.

    ``use_consolidated`` (zarr-python's semantics): None uses the group's consolidated
    metadata when it has some, True requires it, False ignores it."""
    _check_format(zarr_format)
    s = _store(store, mode, storage_options)
    path = _clean(path)
    if mode in ("w", "w-"):
        return create_group(
            s, path=path, overwrite=mode == "w", attributes=attributes, zarr_format=zarr_format
        )
    try:
        return open_group_at(
            s,
            path,
            read_only=mode == "r",
            zarr_format=zarr_format,
            use_consolidated=use_consolidated,
        )
    except GroupNotFoundError:
        raise  # something else is there (an array): say so, do not create over it
    except NodeNotFoundError:
        if mode in ("r", "r+"):
            raise GroupNotFoundError(
                f"no group at {s}" + (f" path {path!r}" if path else "")
            ) from None
        return create_group(s, path=path, attributes=attributes, zarr_format=zarr_format)


# -- creating -----------------------------------------------------------------------------


def create_group(
    store: Any = None,
    *,
    path: str | None = None,
    overwrite: bool = False,
    attributes: dict | None = None,
    zarr_format: int | None = None,
    storage_options: dict | None = None,
) -> Group:
    zarr_format = _format(zarr_format)
    overwrite = _flag(overwrite, "overwrite")
    attributes = _attributes(attributes, "create_group")
    s = _store(store, "w" if overwrite else "a", storage_options)
    path = _clean(path)
    _make_room(s, path, overwrite)
    ensure_parent_groups(s, path, zarr_format)
    metadata = GroupMetadata(attributes=attributes, zarr_format=zarr_format)
    write_group_metadata(s, path, metadata)
    return Group(s, path, metadata)


def create_array(
    store: Any = None,
    *,
    name: str | None = None,
    shape: Any = None,
    dtype: Any = None,
    data: Any = None,
    chunks: Any = "auto",
    shards: Any = None,
    filters: Any = "auto",
    compressors: Any = "auto",
    serializer: Any = "auto",
    fill_value: Any = None,
    order: str | None = None,
    zarr_format: int | None = None,
    attributes: dict | None = None,
    chunk_key_encoding: Any = None,
    dimension_names: Sequence[str | None] | None = None,
    storage_options: dict | None = None,
    overwrite: bool = False,
    config: dict | None = None,
    write_data: bool = True,
    device: str | None = None,
) -> Array:
    """Create an array (zarr-python 3's signature). ``data=`` gives shape, dtype and the
    initial values in one go."""
    _check_format(zarr_format)
    attributes = _attributes(attributes, "create_array")
    if data is not None:
        data = _as_data(data)
        shape = data.shape if shape is None else shape
        dtype = data.dtype if dtype is None else dtype
    if shape is None or dtype is None:
        raise MetadataError("create_array needs shape and dtype (or data=)")
    shape = as_shape(shape, "shape")
    np_dtype = as_dtype(dtype)
    if not (order is None or (isinstance(order, str) and order in ("C", "F"))):
        raise MetadataError(f"order must be 'C', 'F' or None, not {reprlib.repr(order)}")
    if _format(zarr_format) == 2:
        if shards is not None or dimension_names is not None:
            raise UnsupportedError(
                "Zarr v2 has no shards and no dimension_names (use zarr_format=3)"
            )
        metadata = new_v2_metadata(
            shape=shape,
            dtype=np_dtype,
            user_dtype=dtype,
            chunk_shape=_chunk_shape(chunks, shape, np_dtype),
            fill_value=fill_value_for(fill_value, np_dtype),
            filters=filters,
            compressors=compressors,
            serializer=serializer,
            order=order,
            separator=_v2_separator(chunk_key_encoding),
            attributes=attributes,
        )
        return _finish_array(
            metadata, store, name, storage_options, overwrite, config, data, write_data, device
        )
    if _format(zarr_format) == "n5":  # N5: shape and chunks in the reversed (C-order) view
        if shards is not None:
            raise UnsupportedError("N5 has no shards (use zarr_format=3)")
        metadata = new_n5_metadata(
            shape,
            np_dtype,
            _chunk_shape(chunks, shape, np_dtype),
            compressors=compressors,
            filters=filters if isinstance(filters, str) else _as_list(filters),
            fill_value=fill_value,
            attributes=attributes,
            dimension_names=_dimension_names(dimension_names),
            root=not _clean(name),
        )
        return _finish_array(
            metadata, store, name, storage_options, overwrite, config, data, write_data, device
        )
    grid = make_chunk_grid(_chunk_shape(chunks, shape, np_dtype))
    fill = fill_value_for(fill_value, np_dtype)
    codecs = _codecs(filters, serializer, compressors, np_dtype, grid.chunk_shape, fill)
    if shards is not None:
        grid, codecs = _sharded(shards, grid, codecs, np_dtype, fill)
    metadata = ArrayMetadata(
        shape=shape,
        dtype=np_dtype,
        chunk_grid=grid,
        chunk_key_encoding=_key_encoding(chunk_key_encoding),
        fill_value=fill,
        codecs=codecs,
        attributes=attributes,
        dimension_names=_dimension_names(dimension_names),
    )
    return _finish_array(
        metadata, store, name, storage_options, overwrite, config, data, write_data, device
    )


def _finish_array(
    metadata: ArrayMetadata,
    store: Any,
    name: str | None,
    storage_options: dict | None,
    overwrite: bool,
    config: dict | None,
    data: Any,
    write_data: bool,
    device: str | None,
) -> Array:
    """Write a new array's metadata (and ``data``) into the store."""
    # Every argument is checked before the store is touched (overwrite deletes).
    overwrite = _flag(overwrite, "overwrite")
    write_data = _flag(write_data, "write_data")
    write_empty = _array_config(config).get("write_empty_chunks")
    check_device(device)
    s = _store(store, "w" if overwrite else "a", storage_options)
    path = _clean(name)
    _make_room(s, path, overwrite)
    ensure_parent_groups(s, path, metadata.zarr_format)
    write_array_metadata(s, path, metadata)
    array = Array(s, path, metadata, device=device, write_empty_chunks=write_empty)
    if data is not None and write_data:
        array[...] = data
    return array


def _sharded(
    shards: Any, inner: ChunkGrid, inner_codecs: tuple[Codec, ...], dtype: np.dtype, fill: Any
) -> tuple[ChunkGrid, tuple[Codec, ...]]:
    """``shards=(shape)`` or ``{"shape": ..., "index_location": "start"|"end"}`` ->
    (the outer grid, whose chunks are shards, and [sharding_indexed wrapping the codecs]).
    Shards may be rectilinear (lists of shard lengths); inner chunks are regular."""
    from cuzarr.codecs.sharding import ShardingCodec

    if not isinstance(inner, RegularChunkGrid):
        raise MetadataError("with shards=, chunks (the inner chunk shape) must be regular")
    location = "end"
    if isinstance(shards, dict):
        location = shards.get("index_location", "end")
        shards = shards.get("shape")
        if shards is None:
            raise MetadataError("shards={...} needs a 'shape'")
    outer = make_chunk_grid(_chunk_shape(shards, tuple(inner.chunk_shape), dtype, "shards"))
    for axis, (spec, c) in enumerate(
        zip(getattr(outer, "chunk_shapes", outer.chunk_shape), inner.chunk_shape)
    ):
        lengths = spec if isinstance(spec, tuple) else (spec,)
        if any(n % c for n in lengths):
            raise MetadataError(
                f"shards must be a multiple of chunks {inner.chunk_shape} in every dimension "
                f"(dimension {axis}: {spec})"
            )
    return outer, (ShardingCodec(inner.chunk_shape, inner_codecs, None, location),)


def _check_format(zarr_format: int | None) -> None:
    # 2.0 == 2 and True == 1: only the ints themselves (and "n5") name a format
    known = (
        zarr_format is None
        or (isinstance(zarr_format, str) and zarr_format == "n5")
        or (is_integer(zarr_format) and zarr_format in (2, 3))
    )
    if not known:
        raise UnsupportedError(
            f"zarr_format must be 2, 3, 'n5' or None, not {reprlib.repr(zarr_format)}"
        )


def _format(zarr_format: int | None) -> int:
    """The format a new node gets: the one asked for, else config's default_zarr_format."""
    _check_format(zarr_format)
    if zarr_format is None:
        return int(_config["default_zarr_format"])
    return zarr_format if zarr_format == "n5" else int(zarr_format)


def _flag(value: Any, name: str) -> bool:
    """A bool argument: anything else (a string is always true) is refused, since
    ``overwrite`` deletes what is there."""
    if not isinstance(value, (bool, np.bool_)):
        raise MetadataError(f"{name} must be True or False, not {reprlib.repr(value)}")
    return bool(value)


def _attributes(attributes: Any, where: str) -> dict[str, Any]:
    return {} if attributes is None else check_attributes(attributes, where)


def _dimension_names(names: Any) -> tuple[str | None, ...] | None:
    if names is None:
        return None
    if not isinstance(names, (list, tuple)) or not all(
        n is None or isinstance(n, str) for n in names
    ):
        raise MetadataError(
            f"dimension_names must be a list of str or None, not {reprlib.repr(names)}"
        )
    return tuple(names)


def _array_config(config: Any) -> dict[str, Any]:
    """``create_array(config=...)``: ``{"write_empty_chunks": bool}`` (or None)."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise MetadataError(f"config must be a dict, not {reprlib.repr(config)}")
    value = config.get("write_empty_chunks")
    if value is not None:
        _flag(value, "config['write_empty_chunks']")
    return config


def _as_data(data: Any) -> np.ndarray:
    """``data=`` as an array (its shape and dtype become the array's)."""
    try:
        return np.asarray(to_host(data))
    except (TypeError, ValueError, OverflowError) as e:
        raise MetadataError(f"data= is not an array: {e}") from None


def _v2_separator(spec: Any) -> str:
    """A v2 array's dimension_separator from ``chunk_key_encoding`` (default ".")."""
    if spec is None:
        return "."
    encoding = _key_encoding(spec)
    if encoding.name != "v2":
        raise UnsupportedError(
            f"Zarr v2 arrays use the 'v2' chunk key encoding, not {encoding.name!r}"
        )
    return encoding.separator


def _make_room(store: Store, path: str, overwrite: bool) -> None:
    if not node_exists(store, path):
        return
    if not overwrite:
        where = f"{store}" + (f" at path {path!r}" if path else "")
        raise ContainsNodeError(
            f"a node already exists in {where} (pass overwrite=True to replace it)"
        )
    store.delete_prefix(f"{path}/" if path else "")


def _chunk_shape(
    chunks: Any, shape: tuple[int, ...], dtype: np.dtype, what: str = "chunks"
) -> tuple[Any, ...]:
    """Chunk lengths per dimension: ints (a regular grid; None or -1: the whole
    dimension), or per-dimension lists of lengths (a rectilinear grid). Anything else
    (floats, bools, strings) is refused, not converted."""
    if chunks is None or (isinstance(chunks, str) and chunks == "auto"):
        return guess_chunks(shape, dtype.itemsize)
    if is_integer(chunks):
        chunks = (chunks,) * len(shape)
    elif isinstance(chunks, np.ndarray) and chunks.ndim == 1:
        chunks = tuple(chunks)
    if not isinstance(chunks, (tuple, list)) or len(chunks) != len(shape):
        raise MetadataError(
            f"{what} must be 'auto', an int or one entry per dimension of shape {shape}, "
            f"not {reprlib.repr(chunks)}"
        )
    out = tuple(_chunk_length(c, s, what) for c, s in zip(chunks, shape))
    if any(min(c, default=0) <= 0 if isinstance(c, tuple) else c <= 0 for c in out):
        raise MetadataError(f"{what} {reprlib.repr(chunks)} must be positive")
    return out


def _chunk_length(spec: Any, size: int, what: str) -> int | tuple[int, ...]:
    """One dimension of ``chunks``: an int, None or -1 (the whole dimension), or a list
    of chunk lengths."""
    if spec is None or (is_integer(spec) and spec == -1):
        return max(size, 1)
    if is_integer(spec):
        return int(spec)
    if isinstance(spec, (list, tuple)) and all(map(is_integer, spec)):
        return tuple(int(v) for v in spec)
    raise MetadataError(
        f"{what}: a dimension's chunk length must be an int, None, -1 or a list of ints, "
        f"not {type(spec).__name__} {reprlib.repr(spec)}"
    )


def guess_chunks(shape: tuple[int, ...], itemsize: int, target: int = 1 << 20) -> tuple[int, ...]:
    """About ``target`` bytes per chunk: halve the largest dimension until it fits."""
    chunks = [max(s, 1) for s in shape]
    while math.prod(chunks) * itemsize > target and max(chunks) > 1:
        i = chunks.index(max(chunks))
        chunks[i] = -(-chunks[i] // 2)
    return tuple(chunks)


def _key_encoding(spec: Any) -> ChunkKeyEncoding:
    if spec is None:
        return ChunkKeyEncoding("default", "/")
    if isinstance(spec, ChunkKeyEncoding):
        return spec
    if isinstance(spec, dict) and "name" in spec and "configuration" not in spec:
        default_sep = "/" if spec["name"] == "default" else "."
        return ChunkKeyEncoding(spec["name"], spec.get("separator", default_sep))
    return ChunkKeyEncoding.from_json(spec)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _codecs(
    filters: Any,
    serializer: Any,
    compressors: Any,
    dtype: np.dtype,
    chunk_shape: tuple[int, ...],
    fill_value: Any,
) -> tuple[Codec, ...]:
    filters = [] if isinstance(filters, str) and filters == "auto" else _as_list(filters)
    if isinstance(serializer, str) and serializer == "auto":
        serializer = default_serializer(dtype)
    if isinstance(compressors, str) and compressors == "auto":
        compressors = [{"name": "zstd", "configuration": {"level": 0, "checksum": False}}]
    filters = [as_codec(c) for c in filters]
    for f in filters:  # v2 lets bytes codecs be filters; v3 does not: say so plainly
        if f.kind != "array_to_array":
            raise UnsupportedError(
                f"codec {f.name!r} is {f.kind.replace('_to_', '->')}: Zarr v3 filters are "
                "array->array (pass it in compressors, or use zarr_format=2)"
            )
    codecs = [*filters, *(as_codec(c) for c in [serializer, *_as_list(compressors)])]
    return evolve_codecs(codecs, ChunkSpec(chunk_shape, dtype, fill_value))


def evolve_codecs(codecs: list[Codec], spec: ChunkSpec) -> tuple[Codec, ...]:
    """Complete each codec for the chunks it will see (array->array codecs change them)."""
    out = []
    for codec in codecs:
        codec = codec.evolve(spec)
        out.append(codec)
        if codec.kind == "array_to_array":
            spec = codec.resolve(spec)
    return tuple(out)
