"""The shard view: the units of a sharded array are its *inner* chunks.

Reading a few inner chunks costs one range read of the shard index (cached per shard,
then free) plus range reads of just those chunks, coalesced into few requests; a read
that wants every inner chunk of a shard reads the shard once. Writes are grouped by
shard: a shard whose inner chunks are all being written whole is assembled from the new
ones alone, without a read; any other shard is read once, whole, for both the old
contents of the inner chunks written in part and the untouched inner chunks, which are
kept. Either way the shard is rewritten in one (atomic) store write, and a shard left
with no data is deleted.

The index cache belongs to the Array object. A cached index is used only while the store
says its shard is unchanged (``Store.version``: local files are checked with a stat, so
shards another process rewrote are seen at once). Stores that cannot tell cheaply
(memory, fsspec, zip) rely on the array's write epoch instead: every shard write in this
process, through any handle on the array, starts a new epoch, and indexes cached under an
older one are read again. Writes by other processes to such stores are seen only after
the array is reopened.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator, Sequence
from operator import floordiv, mod, mul
from typing import Any

from cuzarr.codecs.base import ChunkSpec
from cuzarr.codecs.sharding import ShardIndex, ShardingCodec
from cuzarr.config import config
from cuzarr.errors import CorruptChunkError
from cuzarr.grid import RegularChunkGrid
from cuzarr.indexing import ChunkProjection
from cuzarr.metadata.v3 import ArrayMetadata
from cuzarr.pipeline.chain import CodecChain
from cuzarr.pipeline.chunk_io import ChunkIO
from cuzarr.pipeline.coalesce import coalesce
from cuzarr.stores.base import ByteRange, Store

INDEX_CACHE_SHARDS = 4096
# Array (named by its metadata document's object name) -> the number of its latest shard
# write in this process, for stores without versions. Bounded by the arrays written.
_write_epochs: dict[str, int] = {}
_epochs = itertools.count(1)


class ShardIO(ChunkIO):
    def __init__(self, store: Store, prefix: str, metadata: ArrayMetadata):
        super().__init__(store, prefix, metadata)
        self.codec: ShardingCodec = metadata.codecs[0]
        self.shard_shape = metadata.chunk_shape
        self.per_shard = self.codec.chunks_per_shard(self.shard_shape)
        self.n_inner = math.prod(self.per_shard)
        # C-order strides of the inner chunks in a shard (locate runs once per chunk).
        self._strides = tuple(
            math.prod(self.per_shard[i + 1 :]) for i in range(len(self.per_shard))
        )
        self.chain = CodecChain(self.codec.codecs)
        self._inner_spec = self.codec.inner_spec(metadata.chunk_spec())
        self.dims = RegularChunkGrid(self.codec.chunk_shape).dims(metadata.shape)
        self._index: OrderedDict[str, ShardIndex] = OrderedDict()
        self._lock = threading.Lock()
        self._array_name = store.object_name(prefix + "zarr.json")

    # Arrays travel to data-loader workers and Dask processes pickled: the copy starts
    # with an empty index cache and a lock of its own.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"], state["_index"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._index = OrderedDict()
        self._lock = threading.Lock()

    # -- the unit grid --------------------------------------------------------------------
    @property
    def unit_shape(self) -> tuple[int, ...]:
        return self.codec.chunk_shape

    def spec(self, coords: Sequence[int]) -> ChunkSpec:
        return self._inner_spec

    def locate(self, coords: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """(shard coords, flat C-order position of the inner chunk in its shard)."""
        local = map(mod, coords, self.per_shard)
        return tuple(map(floordiv, coords, self.per_shard)), sum(map(mul, local, self._strides))

    def shard_key(self, shard: Sequence[int]) -> str:
        return self.prefix + self._encode_key(shard)

    def key(self, coords: Sequence[int]) -> str:
        shard, _ = self.locate(coords)
        local = tuple(c % n for c, n in zip(coords, self.per_shard))
        return f"{self.shard_key(shard)}[inner chunk {','.join(map(str, local))}]"

    def batches(
        self, projections: Sequence[ChunkProjection]
    ) -> Iterator[Sequence[ChunkProjection]]:
        """Whole shards per batch, so a shard is fetched and written once per request."""
        by_shard: dict[tuple[int, ...], list[ChunkProjection]] = defaultdict(list)
        for p in projections:
            by_shard[self.locate(p.chunk_coords)[0]].append(p)
        batch: list[ChunkProjection] = []
        limit = self.batch_size()
        for group in by_shard.values():
            if batch and len(batch) + len(group) > limit:
                yield batch
                batch = []
            batch.extend(group)
        if batch:
            yield batch

    # -- the index cache ------------------------------------------------------------------
    def _cached(self, key: str) -> ShardIndex | None:
        with self._lock:
            entry = self._index.get(key)
        if entry is None:
            return None
        index, version = entry
        if version != self._version(key):  # the shard was rewritten or removed
            self._remember(key, None)
            return None
        with self._lock:
            if key in self._index:
                self._index.move_to_end(key)
        return index

    def _version(self, key: str) -> Any:
        """What a cached index of shard ``key`` is checked against: the store's version
        of the shard, or, where the store has none, the array's write epoch."""
        version = self.store.version(key)
        return ("epoch", _write_epochs.get(self._array_name, 0)) if version is None else version

    def _remember(self, key: str, index: ShardIndex | None, version: Any = None) -> None:
        """Cache ``index`` with the shard's version taken *before* it was read (a
        rewrite racing with the read then shows as a changed version)."""
        with self._lock:
            if index is None:
                self._index.pop(key, None)
                return
            self._index[key] = (index, version)
            while len(self._index) > INDEX_CACHE_SHARDS:
                self._index.popitem(last=False)

    def _parse_whole(
        self, key: str, data: Any, version: Any = None
    ) -> tuple[memoryview, ShardIndex]:
        view = memoryview(data).cast("B")
        start, stop = self.codec.index_range(self.shard_shape)
        if len(view) < self.codec.index_nbytes(self.shard_shape):
            raise CorruptChunkError(f"shard {key!r}: {len(view)} bytes is shorter than its index")
        index = self.codec.decode_index(view[start:stop], self.shard_shape, len(view), key)
        self._remember(key, index, version)
        return view, index

    def _indexes(self, keys: list[str]) -> dict[str, ShardIndex | None]:
        """Index of each shard (None when the shard does not exist), one batched read
        for those not cached."""
        found: dict[str, ShardIndex | None] = {k: self._cached(k) for k in keys}
        wanted = [k for k, v in found.items() if v is None]
        if wanted:
            versions = [self._version(k) for k in wanted]
            start, stop = self.codec.index_range(self.shard_shape)
            datas = self.store.get_ranges([(k, ByteRange(start, stop)) for k in wanted])
            for key, version, data in zip(wanted, versions, datas):
                if data is not None:
                    index = self.codec.decode_index(data, self.shard_shape, None, key)
                    self._remember(key, index, version)
                    found[key] = index
        return found

    # -- reads ----------------------------------------------------------------------------
    def fetch(self, coords: Sequence[tuple[int, ...]]) -> list[Any | None]:
        out: list[Any | None] = [None] * len(coords)
        by_shard: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
        for slot, c in enumerate(coords):
            shard, flat = self.locate(c)
            by_shard[shard].append((slot, flat))
        # key -> (slot, flat); each shard's key built once, not once per inner chunk.
        wanted = {self.shard_key(shard): items for shard, items in by_shard.items()}
        whole = [k for k, items in wanted.items() if len({f for _, f in items}) == self.n_inner]
        versions = [self._version(k) for k in whole]
        for key, version, data in zip(whole, versions, self.store.get_many(whole)):
            if data is not None:
                view, index = self._parse_whole(key, data, version)
                for slot, flat in wanted[key]:
                    r = index.range(flat)
                    out[slot] = None if r is None else view[r[0] : r[1]]
        whole_keys = set(whole)
        partial = [k for k in wanted if k not in whole_keys]
        if partial:
            self._fetch_ranges(partial, wanted, self._indexes(partial), out)
        return out

    def _fetch_ranges(self, keys, wanted, indexes, out) -> None:
        requests: list[tuple[str, ByteRange]] = []
        plans = []  # (key, merged range, [(slot, start, stop)])
        for key in keys:
            index = indexes[key]
            if index is None:
                continue
            slots = [(slot, index.range(flat)) for slot, flat in wanted[key]]
            slots = [(slot, r) for slot, r in slots if r is not None]
            merged = coalesce(
                [r for _, r in slots], config["coalesce_max_gap"], config["coalesce_max_size"]
            )
            for m in merged:
                requests.append((key, ByteRange(m.start, m.stop)))
                plans.append((key, m, [slots[i] for i in m.members]))
        for (key, m, members), data in zip(plans, self.store.get_ranges(requests)):
            view = memoryview(data).cast("B") if data is not None else memoryview(b"")
            if len(view) < m.stop - m.start:
                raise CorruptChunkError(
                    f"shard {key!r}: its index points to bytes {m.start}..{m.stop}, but the shard "
                    f"{'is gone' if data is None else f'ends {m.stop - m.start - len(view)} bytes short'}"
                )
            for slot, (start, stop) in members:
                out[slot] = view[start - m.start : stop - m.start]

    # -- writes ---------------------------------------------------------------------------
    def read_for_write(
        self, coords: Sequence[tuple[int, ...]], complete: Sequence[bool]
    ) -> tuple[list[Any | None], Callable[[Sequence[Any | None]], None]]:
        """Read each shard that the write does not entirely replace once, whole: the old
        bytes of the inner chunks written in part and the untouched ones that the rewrite
        keeps both come from that one read. Returns the old encoded bytes of each unit
        (None where it is written whole or absent) and the function that stores the new
        units, keeping the untouched inner chunks of the shards read here."""
        groups = self._group(coords)
        rewritten = [
            shard
            for shard, slots in groups.items()
            if len(slots) < self.n_inner or not all(complete[slot] for slot in slots.values())
        ]
        kept = self._read_shards(rewritten)
        old: list[Any | None] = [None] * len(coords)
        for shard, slots in groups.items():
            parts = kept.get(shard)
            if parts is not None:
                for flat, slot in slots.items():
                    if not complete[slot]:
                        old[slot] = parts[flat]
        return old, lambda datas: self._store(groups, datas, kept)

    def stored_keys(self, coords: Sequence[tuple[int, ...]]) -> list[str]:
        return [self.shard_key(shard) for shard in self._group(coords)]

    def store_units(self, coords: Sequence[tuple[int, ...]], datas: Sequence[Any | None]) -> None:
        # Units given whole: only shards they do not fill are read, for the kept chunks.
        self.read_for_write(coords, [True] * len(coords))[1](datas)

    def _group(self, coords: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], dict[int, int]]:
        """shard -> {flat position of the inner chunk in the shard: slot in ``coords``}."""
        groups: dict[tuple[int, ...], dict[int, int]] = defaultdict(dict)
        for slot, c in enumerate(coords):
            shard, flat = self.locate(c)
            groups[shard][flat] = slot
        return groups

    def _read_shards(self, shards: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], list[Any]]:
        """The encoded inner chunks (C order; None = empty) of each stored shard, one
        whole read per shard. A corrupt shard raises here, before anything is written."""
        keys = [self.shard_key(shard) for shard in shards]
        out: dict[tuple[int, ...], list[Any]] = {}
        for shard, key, data in zip(shards, keys, self.store.get_many(keys)):
            if data is not None:
                view, index = self._parse_whole(key, data)
                ranges = (index.range(i) for i in range(self.n_inner))
                out[shard] = [None if r is None else view[r[0] : r[1]] for r in ranges]
        return out

    def _store(
        self,
        groups: dict[tuple[int, ...], dict[int, int]],
        datas: Sequence[Any | None],
        kept: dict[tuple[int, ...], list[Any]],
    ) -> None:
        """Rewrite each shard whole (one atomic set): its new inner chunks over the kept
        ones; a shard left with no data is deleted."""
        writes, deletes = [], []
        for shard, slots in groups.items():
            key = self.shard_key(shard)
            parts = list(kept.get(shard, [None] * self.n_inner))
            for flat, slot in slots.items():
                parts[flat] = datas[slot]
            shard_bytes = self.codec.assemble(parts, self.shard_shape)
            if shard_bytes is None:
                deletes.append(key)
            else:
                writes.append((key, shard_bytes))
        self._replace(writes, deletes)

    def delete_objects(self, objects: Sequence[tuple[int, ...]]) -> None:
        self._replace([], [self.shard_key(o) for o in objects])

    def _replace(self, writes: list[tuple[str, Any]], deletes: list[str]) -> None:
        """Store and delete whole shards, and forget what was known of them."""
        try:
            if writes:
                self.store.set_many(writes)
            if deletes:
                self.store.delete_many(deletes)
        finally:
            # The indexes change with the shards. Forget them only now, so that a read
            # racing with the store call cannot leave an old index cached, and also when
            # the call fails, as it may have replaced some of the shards.
            for key, _ in writes:
                self._remember(key, None)
            for key in deletes:
                self._remember(key, None)
            # After the store call: a read that took the old epoch meanwhile and cached
            # an index read before the write sees a newer epoch at its next use.
            _write_epochs[self._array_name] = next(_epochs)
