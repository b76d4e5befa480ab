"""``cuzarr.convert``: copy an array or a whole hierarchy into a new store, in another
format (Zarr v3, v2 or N5) or layout (chunks, shards, codecs).

Anything cuzarr reads can be the source (v3, v2, N5). Data moves region by region: each
region is a block of whole destination chunks (whole shards, for a sharded destination,
so no shard is written twice), read from the source and written to the destination, and
no region holds more than ``config["batch_bytes"]`` decoded bytes unless a single chunk
(or shard) is larger. Memory stays bounded whatever the array's size.

Example::

    cuzarr.convert("scan.n5", "scan.zarr", chunks=(64, 64, 64), shards=(512, 512, 512))

or on the command line: ``cuzarr convert scan.n5 scan.zarr --chunks 64,64,64 --shards
512,512,512 --compressor zstd``.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from cuzarr.array import Array
from cuzarr.buffers import to_host
from cuzarr.config import config
from cuzarr.errors import ContainsNodeError, MetadataError
from cuzarr.group import Group
from cuzarr.nodes import describe_location, node_exists
from cuzarr.stores import LocalStore, MemoryStore, make_store
from cuzarr.stores.base import Store


def convert(
    src: Any,
    dst: Any,
    *,
    path: str | None = None,
    zarr_format: int | str = 3,
    chunks: Any = None,
    shards: Any = None,
    compressors: Any = "auto",
    filters: Any = "auto",
    overwrite: bool = False,
    progress: bool = False,
) -> Array | Group:
    """Copy the array or group at ``path`` in ``src`` (a store-like, an Array or a Group)
    to the root of ``dst``, as ``zarr_format`` 3, 2 or ``"n5"``; attributes come along.

    - ``chunks`` / ``shards``: the new layout (an int applies to every dimension). Both
      None: the source's own (its inner chunks and shards when it is sharded). Only
      ``chunks``: unsharded. Only ``shards``: the source's chunks inside them.
    - ``compressors`` / ``filters``: as in :func:`cuzarr.create_array` ("auto": the
      destination format's default, not the source's codecs).
    - ``overwrite``: replace the nodes ``dst`` holds where the copy's nodes go.
    - ``progress``: draw a progress bar per array on stderr.

    The metadata of every node is made and checked before anything is written, so a bad
    layout or codec leaves ``dst`` untouched; a copy that fails later removes what it
    wrote (only that). Returns the new array or group.
    """
    if isinstance(src, str | os.PathLike) and isinstance(dst, str | os.PathLike):
        if os.path.realpath(src) == os.path.realpath(dst):  # overwrite would delete the source
            raise ContainsNodeError(f"cannot convert {src!r} into itself")
    source = _source_node(src, path)
    layout = {"chunks": chunks, "shards": shards, "compressors": compressors, "filters": filters}
    plan = _plan(source, zarr_format, layout)
    _create_nodes(MemoryStore(), plan)  # every node's metadata made and checked, in scratch
    store = make_store(dst, mode="w" if overwrite else "a")
    _make_room(store, plan, overwrite)
    undo = _Undo(store)
    try:
        nodes = _create_nodes(store, plan)
        for (name, node, _), target in zip(plan, nodes):
            if isinstance(target, Array):
                copy_data(node, target, progress=progress, label=name or "/")
    except BaseException as e:
        undo.run(e)
        raise
    return nodes[0]


# A node to make: (path in the destination, the source node, create_group/create_array
# keyword arguments).
PlannedNode = tuple[str, Array | Group, dict[str, Any]]


def _plan(source: Array | Group, zarr_format: Any, layout: dict[str, Any]) -> list[PlannedNode]:
    """The destination's nodes, parents before children."""
    if isinstance(source, Array):
        return [("", source, _array_options(source, "", zarr_format, **layout))]
    plan: list[PlannedNode] = [("", source, _group_options(source, zarr_format))]
    for name, node in source.members(max_depth=None):  # parents come before children
        if isinstance(node, Group):
            plan.append((name, node, _group_options(node, zarr_format)))
        else:
            plan.append((name, node, _array_options(node, name, zarr_format, **layout)))
    return plan


def _group_options(group: Group, zarr_format: Any) -> dict[str, Any]:
    return {"attributes": group.attrs.asdict(), "zarr_format": zarr_format}


def _create_nodes(store: Store, plan: list[PlannedNode]) -> list[Array | Group]:
    from cuzarr.api import create_array, create_group

    return [
        create_array(store, name=name, **options)
        if isinstance(node, Array)
        else create_group(store, path=name, **options)
        for name, node, options in plan
    ]


def _make_room(store: Store, plan: list[PlannedNode], overwrite: bool) -> None:
    """Refuse (or, with ``overwrite``, delete) the nodes ``store`` holds where the plan
    puts nodes, before anything is written."""
    taken = [name for name, _, _ in plan if node_exists(store, name)]
    if not taken:
        return
    if not overwrite:
        raise ContainsNodeError(
            f"a node already exists in {describe_location(store, taken[0])} "
            "(pass overwrite=True to replace it)"
        )
    for name in [""] if taken[0] == "" else taken:  # the root's deletion takes all
        store.delete_prefix(f"{name}/" if name else "")


class _Undo:
    """Removes what a failed copy wrote into ``store``, and nothing that was there before."""

    def __init__(self, store: Store):
        self.store = store
        self.before = set(store.list_prefix(""))
        # A folder the copy creates goes too, once empty (a store leaves folders behind).
        local = isinstance(store, LocalStore) and not store.root.exists()
        self.new_folder = store.root if local else None

    def run(self, error: BaseException) -> None:
        try:
            written = [k for k in self.store.list_prefix("") if k not in self.before]
            self.store.delete_many(written)
            if self.new_folder is not None:
                _remove_empty_folders(self.new_folder)
        except Exception as e:  # the copy's own error is the one to raise
            error.add_note(f"removing what the failed conversion wrote to {self.store} failed: {e}")


def _remove_empty_folders(root: Any) -> None:
    for folder, _, _ in os.walk(root, topdown=False):
        try:
            os.rmdir(folder)  # only ever removes an empty folder
        except OSError:
            pass


def _source_node(src: Any, path: str | None) -> Array | Group:
    if isinstance(src, Array):
        if path:
            raise MetadataError(
                f"path={path!r} needs a group or a store as the source, not an array"
            )
        return src
    if isinstance(src, Group):
        return src[path] if path else src
    from cuzarr.api import open as open_node

    return open_node(src, mode="r", path=path)


def source_layout(array: Array) -> tuple[Any, Any]:
    """(chunks, shards) of an existing array; shards is None when it is not sharded."""
    from cuzarr.codecs.sharding import ShardingCodec

    codecs = array.metadata.codecs
    if len(codecs) == 1 and isinstance(codecs[0], ShardingCodec):
        return codecs[0].chunk_shape, array.chunks
    return array.chunks, None


def _per_dim(value: Any, ndim: int, what: str, where: str) -> Any:
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, int | np.integer):
        return (int(value),) * ndim
    value = tuple(value)
    if len(value) != ndim:
        raise MetadataError(
            f"{where}: {what} {value} has {len(value)} dimensions, the array has {ndim}"
        )
    return value


def _array_options(
    source: Array,
    name: str,
    zarr_format: Any,
    *,
    chunks: Any,
    shards: Any,
    compressors: Any,
    filters: Any,
) -> dict[str, Any]:
    """create_array's arguments for ``source``'s copy at ``name``."""
    where = f"converting {source.name!r} to {name or '/'}"
    chunks = _per_dim(chunks, source.ndim, "chunks", where)
    shards = _per_dim(shards, source.ndim, "shards", where)
    src_chunks, src_shards = source_layout(source)
    if chunks is None:
        # Keep the source's sharding where the destination format has shards (v3 only).
        keep = src_shards if zarr_format == 3 else None
        chunks, shards = (src_chunks, keep) if shards is None else (src_chunks, shards)
    return {
        "shape": source.shape,
        "dtype": source.dtype,
        "chunks": chunks,
        "shards": shards,
        "compressors": compressors,
        "filters": filters,
        "fill_value": source.fill_value,
        "zarr_format": zarr_format,
        "attributes": source.attrs.asdict(),
        "dimension_names": source.dimension_names if zarr_format in (3, "n5") else None,
    }


# -- the copy loop ----------------------------------------------------------------------------


def plan_regions(target: Array, budget: int | None = None) -> list[tuple[slice, ...]]:
    """Regions covering ``target``, each a block of whole chunks of its grid (whole
    shards when sharded), each at most ``budget`` bytes (default ``config["batch_bytes"]``)
    unless one chunk alone is larger. Regions grow along the last axes first, so a region
    is as contiguous in C order as the budget allows."""
    budget = config["batch_bytes"] if budget is None else budget
    dims = target.metadata.chunk_grid.dims(target.shape)
    bounds = [[d.start(i) for i in range(d.nchunks)] + [d.size] for d in dims]
    widest = [max((b[i + 1] - b[i] for i in range(len(b) - 1)), default=0) for b in bounds]
    group = [1] * len(dims)
    size = target.dtype.itemsize * math.prod(widest)
    for axis in reversed(range(len(dims))):
        n = len(bounds[axis]) - 1
        group[axis] = max(1, min(n, budget // max(size, 1)))
        size *= group[axis]
        if group[axis] < n:
            break  # grow no earlier axis: the region would not be contiguous
    starts = [range(0, len(b) - 1, g) for b, g in zip(bounds, group)]
    return [
        tuple(slice(b[i], b[min(i + g, len(b) - 1)]) for b, i, g in zip(bounds, index, group))
        for index in itertools.product(*starts)
    ]


def copy_data(source: Array, target: Array, *, progress: bool = False, label: str = "") -> None:
    """Copy every element of ``source`` into ``target`` (same shape), region by region.
    Regions that hold only the fill value are not written (the new array reads them as
    the fill value already)."""
    from cuzarr.pipeline.write import chunk_is_fill

    if source.shape != target.shape:
        raise MetadataError(f"cannot copy {source.shape} into {target.shape}")
    regions = plan_regions(target) if target.size else []
    skip_empty = not config["write_empty_chunks"]
    bar = ProgressBar(label, sum(_nbytes(r, target.dtype) for r in regions), enabled=progress)
    try:
        for region in regions:
            data = to_host(source[region])  # a source read on the device: encoded on the host
            if not (skip_empty and chunk_is_fill(np.asarray(data), target.fill_value)):
                target[region] = data
            bar.update(_nbytes(region, target.dtype))
    finally:
        bar.close()  # ends the bar's line, so an error message starts on a line of its own


def _nbytes(region: Sequence[slice], dtype: np.dtype) -> int:
    return dtype.itemsize * math.prod(s.stop - s.start for s in region)


class ProgressBar:
    """One line on stderr, redrawn in place (at most ten times a second)."""

    def __init__(
        self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None
    ):
        self.label, self.total, self.enabled = label, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = self.shown = 0
        self.start = self.last = time.perf_counter()
        if enabled:
            self._draw()

    def update(self, nbytes: int) -> None:
        self.done += nbytes
        now = time.perf_counter()
        if self.enabled and now - self.last >= 0.1:
            self.last = now
            self._draw()

    def close(self) -> None:
        if self.enabled:
            if self.shown != self.done:
                self._draw()
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(30 * fraction)
        self.shown = self.done
        rate = self.done / max(time.perf_counter() - self.start, 1e-9) / 2**20
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {100 * fraction:5.1f}% "
            f"{self.done / 2**20:.1f}/{self.total / 2**20:.1f} MiB {rate:.1f} MiB/s"
        )
        self.stream.flush()


# -- command-line helpers ----------------------------------------------------------------------


def parse_shape(text: str) -> tuple[int, ...]:
    """``"64,64"`` -> (64, 64) (the CLI's --chunks / --shards)."""
    try:
        return tuple(int(p) for p in text.split(","))
    except ValueError:
        raise MetadataError(
            f"expected comma-separated integers such as 64,64, not {text!r}"
        ) from None


def parse_compressor(text: str) -> Any:
    """The CLI's --compressor: ``auto``, ``none``, a codec name (``zstd``, ``gzip``,
    ``blosc``, ...) or a codec as JSON."""
    if text == "auto":
        return "auto"
    if text == "none":
        return None
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as e:
            raise MetadataError(f"--compressor: not valid JSON ({e})") from None
    return text


def parse_format(text: str) -> int | str:
    if text in ("2", "3"):
        return int(text)
    if text == "n5":
        return "n5"
    raise MetadataError(f"--zarr-format must be 2, 3 or n5, not {text!r}")
