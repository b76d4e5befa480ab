"""Sharding: round trips, interop with zarr-python and tensorstore, I/O counts, corrupt
indexes, and sharded indexing against numpy."""

import json

import numpy as np
import pytest
import tensorstore as ts
import zarr
from hypothesis import given
from hypothesis import strategies as st

import cuzarr
from cuzarr.errors import ChecksumError, CorruptChunkError, MetadataError
from cuzarr.pipeline.coalesce import coalesce
from cuzarr.stores.local import LocalStore
from cuzarr.stores.memory import MemoryStore


class CountingStore(MemoryStore):
    """Counts the byte-range requests that reach the store (a batch of n is n requests),
    and records the keys written and deleted."""

    def __init__(self):
        super().__init__()
        self.requests = []
        self.writes = []
        self.deletes = []

    def get(self, key, byte_range=None):
        self.requests.append((key, byte_range))
        return super().get(key, byte_range)

    def get_ranges(self, requests):
        self.requests.extend(requests)
        return [super(CountingStore, self).get(k, r) for k, r in requests]

    def set(self, key, value):
        self.writes.append(key)
        super().set(key, value)

    def delete_many(self, keys):
        self.deletes.extend(keys)
        super().delete_many(keys)

    def reset(self):
        self.requests.clear()
        self.writes.clear()
        self.deletes.clear()


def ramp(shape, dtype="u2"):
    return (np.arange(int(np.prod(shape))) % 50000).astype(dtype).reshape(shape)


def test_round_trip_with_partial_edge_shards_and_fill():
    a = cuzarr.create_array(
        {}, shape=(23, 17), chunks=(4, 3), shards=(8, 6), dtype="i4", fill_value=-1
    )
    ref = np.full(a.shape, -1, dtype="i4")
    np.testing.assert_array_equal(a[...], ref)
    ref[2:21, 1:16] = ramp((19, 15), "i4")
    a[2:21, 1:16] = ref[2:21, 1:16]
    np.testing.assert_array_equal(a[...], ref)
    np.testing.assert_array_equal(a[::-3, 5::2], ref[::-3, 5::2])
    np.testing.assert_array_equal(a.vindex[[0, 22, 7], [16, 0, 9]], ref[[0, 22, 7], [16, 0, 9]])


@pytest.mark.parametrize("location", ["start", "end"])
def test_layout_matches_the_spec(location):
    store = {}
    a = cuzarr.create_array(
        store,
        shape=(8, 8),
        chunks=(2, 4),
        shards={"shape": (4, 8), "index_location": location},
        dtype="<u2",
        compressors=None,
    )
    a[...] = ramp((8, 8))
    meta = json.loads(store["zarr.json"])
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [4, 8]
    assert meta["codecs"][0]["configuration"]["index_location"] == location
    shard = store["c/0/0"]
    assert len(shard) == 4 * 16 + 68  # 4 inner chunks of 16 bytes + index + crc32c
    index = np.frombuffer(
        shard[:64] if location == "start" else shard[-68:-4], dtype="<u8"
    ).reshape(4, 2)
    assert sorted(index[:, 1]) == [16] * 4
    assert index[:, 0].min() == (68 if location == "start" else 0)


def test_empty_inner_chunks_are_not_stored_and_empty_shards_are_deleted():
    store = {}
    a = cuzarr.create_array(
        store, shape=(8, 8), chunks=(2, 2), shards=(4, 4), dtype="u1", compressors=None
    )
    a[0:2, 0:2] = 5
    shard = store["c/0/0"]
    index = np.frombuffer(shard[-68:-4], dtype="<u8").reshape(2, 2, 2)
    assert (index[0, 0] == [0, 4]).all()
    assert (index.reshape(-1, 2)[1:] == 2**64 - 1).all()
    assert "c/1/1" not in store
    a[0:2, 0:2] = 0
    assert "c/0/0" not in store


def test_io_counts():
    store = CountingStore()
    data = ramp((128, 64))
    a = cuzarr.create_array(store, shape=data.shape, chunks=(4, 4), shards=(64, 64), dtype="u2")
    a[...] = data

    def cold():
        array = cuzarr.open_array(store, mode="r")  # a new Array: a cold index cache
        store.reset()  # count chunk data requests only
        return array

    a = cold()
    np.testing.assert_array_equal(a[0:4, 0:4], data[0:4, 0:4])
    assert len(store.requests) == 2  # the index, then the inner chunk
    store.reset()
    np.testing.assert_array_equal(a[4:8, 8:12], data[4:8, 8:12])
    assert len(store.requests) == 1  # the index is cached
    a = cold()
    np.testing.assert_array_equal(a[0:32, 0:32], data[0:32, 0:32])  # 64 inner chunks
    assert len(store.requests) <= 3
    a = cold()
    np.testing.assert_array_equal(a[64:128, :], data[64:128])  # all of one shard
    assert len(store.requests) == 1
    with cuzarr.config.set(coalesce_max_gap=0):
        a = cold()
        a[0:8, 0:8]  # 2x2 inner chunks, rows not adjacent: 1 index + 2 ranges
        assert len(store.requests) == 3


def test_a_partial_shard_write_reads_the_shard_once():
    store = CountingStore()
    data = ramp((128, 64))
    a = cuzarr.create_array(store, shape=data.shape, chunks=(4, 4), shards=(64, 64), dtype="u2")
    a[...] = data
    for sel in [np.s_[0:4, 0:4], np.s_[5:7, 9:10]]:  # one inner chunk, whole, then in part
        for array in [a, cuzarr.open_array(store)]:  # a warm and a cold index cache
            store.reset()
            array[sel] = data[sel] = 7
            assert store.requests == [("c/0/0", None)]  # one whole read, no index read
            assert store.writes == ["c/0/0"]
            np.testing.assert_array_equal(array[...], data)  # the cached index follows
    store.reset()
    a[64:128, :] = data[64:128] = 3  # a whole shard: nothing to read
    assert store.requests == [] and store.writes == ["c/1/0"]
    np.testing.assert_array_equal(cuzarr.open_array(store)[...], data)


def test_a_write_across_shards_reads_each_shard_once():
    store = CountingStore()
    data = np.zeros((128, 128), dtype="u2")
    a = cuzarr.create_array(store, shape=data.shape, chunks=(4, 4), shards=(64, 64), dtype="u2")
    a[0:64, 0:64] = data[0:64, 0:64] = ramp((64, 64))
    a[64:128, 64:128] = data[64:128, 64:128] = ramp((64, 64))
    a = cuzarr.open_array(store)
    store.reset()
    a[62:66, 30:98] = data[62:66, 30:98] = 9  # four shards, two of them not stored yet
    assert sorted(store.requests) == [(k, None) for k in ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]]
    assert sorted(store.writes) == ["c/0/0", "c/0/1", "c/1/0", "c/1/1"]
    np.testing.assert_array_equal(a[...], data)
    store.reset()
    a[62:64, 60:98] = data[62:64, 60:98] = 0  # the fill value: all of c/0/1's data
    assert store.deletes == ["c/0/1"] and sorted(store.writes) == ["c/0/0"]
    assert not store.exists("c/0/1")
    np.testing.assert_array_equal(cuzarr.open_array(store)[...], data)


def test_a_partial_write_to_a_corrupt_shard_changes_nothing():
    store = {}
    a = cuzarr.create_array(
        store, shape=(8,), chunks=(2,), shards=(8,), dtype="u1", compressors=None
    )
    a[...] = np.arange(8)
    store["c/0"] = bad = store["c/0"][:-1] + bytes([store["c/0"][-1] ^ 1])  # a bad checksum
    for sel in [np.s_[0:2], np.s_[3]]:
        with pytest.raises(ChecksumError, match="c/0"):
            cuzarr.open_array(store)[sel] = 1
        assert store["c/0"] == bad
    store["c/0"] = bad[:10]  # shorter than its index
    with pytest.raises(CorruptChunkError, match="c/0"):
        cuzarr.open_array(store)[3] = 1
    assert store["c/0"] == bad[:10]


def test_corrupt_indexes_name_the_shard():
    store = {}
    a = cuzarr.create_array(
        store, shape=(8,), chunks=(2,), shards=(8,), dtype="u1", compressors=None
    )
    a[...] = np.arange(8)
    good = store["c/0"]
    body, index, crc = good[:-68], good[-68:-4], good[-4:]
    assert len(index) == 64
    store["c/0"] = body + index + bytes([crc[0] ^ 1]) + crc[1:]
    with pytest.raises(ChecksumError, match="c/0"):
        cuzarr.open_array(store)[...]

    def with_index(table):
        import crc32c

        raw = np.asarray(table, dtype="<u8").tobytes()
        return body + raw + crc32c.crc32c(raw).to_bytes(4, "little")

    table = np.frombuffer(index, dtype="<u8").reshape(4, 2).copy()
    past_end = table.copy()
    past_end[3] = [1000, 2]
    store["c/0"] = with_index(past_end)
    with pytest.raises(CorruptChunkError, match="c/0"):
        cuzarr.open_array(store)[...]
    with pytest.raises(CorruptChunkError, match="c/0"):
        cuzarr.open_array(store)[6]  # a partial read finds it too
    overlap = table.copy()
    overlap[1] = [table[0][0] + 1, 2]
    store["c/0"] = with_index(overlap)
    with pytest.raises(CorruptChunkError, match="overlap"):
        cuzarr.open_array(store)[...]
    half = table.copy()
    half[2] = [2**64 - 1, 2]
    store["c/0"] = with_index(half)
    with pytest.raises(CorruptChunkError, match="half empty"):
        cuzarr.open_array(store)[...]


def test_bad_shard_shapes():
    with pytest.raises(MetadataError, match="multiple"):
        cuzarr.create_array({}, shape=(10,), chunks=(3,), shards=(8,), dtype="u1")


@pytest.mark.parametrize("location", ["start", "end"])
@pytest.mark.parametrize("compressor", [None, "zstd", "gzip", "blosc"])
def test_zarr_python_reads_and_writes(tmp_path, location, compressor):
    codecs = {
        "zstd": zarr.codecs.ZstdCodec(),
        "gzip": zarr.codecs.GzipCodec(),
        "blosc": zarr.codecs.BloscCodec(),
        None: None,
    }[compressor]
    data = ramp((37, 29))
    ours = cuzarr.create_array(
        str(tmp_path / "c"),
        shape=data.shape,
        chunks=(4, 5),
        dtype="u2",
        shards={"shape": (8, 10), "index_location": location},
        compressors=[codecs.to_dict()] if codecs else None,
    )
    ours[...] = data
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "c"), mode="r")[...], data)
    theirs = zarr.create_array(
        str(tmp_path / "z"),
        shape=data.shape,
        chunks=(4, 5),
        shards=(8, 10),
        dtype="u2",
        compressors=codecs,
        fill_value=0,
    )
    if location == "start":
        theirs = zarr.create_array(
            str(tmp_path / "z"),
            shape=data.shape,
            dtype="u2",
            fill_value=0,
            overwrite=True,
            chunks=(8, 10),
            serializer=zarr.codecs.ShardingCodec(
                chunk_shape=(4, 5),
                index_location="start",
                codecs=[zarr.codecs.BytesCodec()] + ([codecs] if codecs else []),
            ),
            compressors=None,
        )
    theirs[...] = data
    back = cuzarr.open_array(str(tmp_path / "z"))
    np.testing.assert_array_equal(back[...], data)
    np.testing.assert_array_equal(back[3:30:4, 28:1:-3], data[3:30:4, 28:1:-3])
    back[10:20, 3:9] = 1  # a partial rewrite that zarr-python must read
    data[10:20, 3:9] = 1
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "z"), mode="r")[...], data)


def test_nested_sharding_interop(tmp_path):
    data = ramp((16, 16))
    inner = {
        "name": "sharding_indexed",
        "configuration": {
            "chunk_shape": [2, 2],
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "index_codecs": [
                {"name": "bytes", "configuration": {"endian": "little"}},
                {"name": "crc32c"},
            ],
            "index_location": "end",
        },
    }
    a = cuzarr.create_array(
        str(tmp_path / "n"),
        shape=(16, 16),
        dtype="u2",
        chunks=(4, 4),
        shards=(8, 8),
        serializer=inner,
        compressors=None,
    )
    a[...] = data
    np.testing.assert_array_equal(a[...], data)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "n"), mode="r")[...], data)
    np.testing.assert_array_equal(cuzarr.open_array(str(tmp_path / "n"))[5:11, 3], data[5:11, 3])


@pytest.mark.parametrize("location", ["start", "end"])
def test_tensorstore_reads_and_writes(tmp_path, location):
    data = ramp((30, 20))
    ours = cuzarr.create_array(
        str(tmp_path / "c"),
        shape=data.shape,
        chunks=(5, 4),
        dtype="u2",
        shards={"shape": (10, 8), "index_location": location},
    )
    ours[...] = data
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "c")}}
    np.testing.assert_array_equal(ts.open(spec).result().read().result(), data)
    t = ts.open(
        {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(tmp_path / "t")},
            "metadata": {
                "shape": list(data.shape),
                "data_type": "uint16",
                "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10, 8]}},
                "codecs": [
                    {
                        "name": "sharding_indexed",
                        "configuration": {
                            "chunk_shape": [5, 4],
                            "index_location": location,
                            "codecs": [
                                {"name": "bytes", "configuration": {"endian": "little"}},
                                {"name": "zstd"},
                            ],
                            "index_codecs": [
                                {"name": "bytes", "configuration": {"endian": "little"}},
                                {"name": "crc32c"},
                            ],
                        },
                    }
                ],
            },
        },
        create=True,
    ).result()
    t.write(data).result()
    back = cuzarr.open_array(str(tmp_path / "t"))
    np.testing.assert_array_equal(back[...], data)
    back[0:7, 0:3] = 9
    data[0:7, 0:3] = 9
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / "t")}}
    np.testing.assert_array_equal(ts.open(spec).result().read().result(), data)


def test_compressor_after_sharding_reads_whole_shards():
    store = CountingStore()
    a = cuzarr.create_array(
        store,
        shape=(16,),
        chunks=(8,),
        dtype="u1",
        serializer={
            "name": "sharding_indexed",
            "configuration": {"chunk_shape": [2], "codecs": ["bytes"]},
        },
        compressors=[{"name": "gzip", "configuration": {"level": 1}}],
    )
    a[...] = np.arange(16)
    store.reset()
    np.testing.assert_array_equal(a[3:5], np.arange(3, 5))
    assert [r for _, r in store.requests] == [None]  # one whole-object read


@st.composite
def sharded_layouts(draw):
    ndim = draw(st.integers(1, 3))
    inner = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    per = tuple(draw(st.integers(1, 3)) for _ in range(ndim))
    shape = tuple(draw(st.integers(0, 12)) for _ in range(ndim))
    return shape, inner, tuple(i * p for i, p in zip(inner, per))


@given(sharded_layouts(), st.data())
def test_sharded_indexing_matches_numpy(layout, data):
    shape, inner, shards = layout
    a = cuzarr.create_array(
        MemoryStore(),
        shape=shape,
        chunks=inner,
        shards=shards,
        dtype="i2",
        fill_value=-1,
        compressors=None,
    )
    ref = np.full(shape, -1, dtype="i2")
    for _ in range(3):
        sel = tuple(
            slice(
                data.draw(st.integers(0, max(s, 1))),
                data.draw(st.integers(0, max(s, 1))),
                data.draw(st.sampled_from([1, 2, -1, -3])),
            )
            for s in shape
        )
        value = np.asarray(data.draw(st.integers(-100, 100)), dtype="i2")
        a[sel] = value
        ref[sel] = value
        np.testing.assert_array_equal(a[...], ref)
        np.testing.assert_array_equal(a[sel], ref[sel])
    if all(shape):
        points = tuple(
            np.array(data.draw(st.lists(st.integers(0, s - 1), min_size=3, max_size=3)))
            for s in shape
        )
        np.testing.assert_array_equal(a.vindex[points], ref[points])


def test_coalesce():
    merged = coalesce([(100, 110), (0, 10), (15, 20), (1000, 1010)], max_gap=10, max_size=50)
    assert [(m.start, m.stop, m.members) for m in merged] == [
        (0, 20, (1, 2)),
        (100, 110, (0,)),
        (1000, 1010, (3,)),
    ]
    assert len(coalesce([(i * 10, i * 10 + 10) for i in range(10)], 0, 30)) == 4


def test_a_fresh_process_opens_a_sharded_array(tmp_path):
    """The registry must know sharding_indexed without anything having imported it."""
    import subprocess
    import sys

    zarr.create_array(str(tmp_path), shape=(4,), chunks=(2,), shards=(4,), dtype="u1")[...] = 3
    code = (
        "import cuzarr, sys; sys.exit(0 if (cuzarr.open_array(sys.argv[1])[...] == 3).all() else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path)]).returncode == 0


def test_a_shard_rewritten_by_another_writer_is_seen_at_once(tmp_path):
    """Local files: a cached index is checked against the file (a stat) before use."""
    path = str(tmp_path / "a.zarr")
    kwargs = dict(shape=(64,), chunks=(8,), shards=(64,), dtype="u2")
    cuzarr.create_array(path, data=np.zeros(64, "u2"), **kwargs)
    reader = cuzarr.open_array(path, mode="r")
    np.testing.assert_array_equal(reader[8:16], 0)  # caches the shard's index
    # another writer (its own Array): different data, so different inner-chunk offsets
    writer = cuzarr.open_array(path)
    new = np.arange(64, dtype="u2") * 977
    writer[:] = new
    np.testing.assert_array_equal(reader[8:16], new[8:16])
    np.testing.assert_array_equal(reader[:], new)
    writer.store.delete("c/0")
    np.testing.assert_array_equal(reader[8:16], 0)  # gone: the fill value


def test_an_unchanged_local_shard_keeps_its_cached_index(tmp_path):
    class CountingLocal(LocalStore):
        ranges = 0

        def get(self, key, byte_range=None):
            CountingLocal.ranges += byte_range is not None
            return super().get(key, byte_range)

    store = CountingLocal(str(tmp_path / "b.zarr"))
    a = cuzarr.create_array(store, shape=(64,), chunks=(8,), shards=(64,), dtype="u2",
                            data=np.arange(64))  # fmt: skip
    a = cuzarr.open_array(store, mode="r")
    np.testing.assert_array_equal(a[8:16], np.arange(8, 16))
    first = CountingLocal.ranges
    assert first == 2  # the index, then the inner chunk
    np.testing.assert_array_equal(a[16:24], np.arange(16, 24))
    assert CountingLocal.ranges == first + 1  # the inner chunk only


@pytest.mark.parametrize("where", ["folder", "memory"])
def test_sharded_arrays_pickle_for_worker_processes(tmp_path, where):
    """Data-loader workers and Dask processes receive arrays pickled: a sharded array
    travels without its index cache or lock and reads and writes the same data."""
    import pickle

    store = MemoryStore() if where == "memory" else str(tmp_path / "p.zarr")
    data = np.arange(64 * 48, dtype="<u2").reshape(64, 48)
    a = cuzarr.create_array(store, shape=data.shape, chunks=(8, 8), shards=(32, 24),
                            dtype=data.dtype, data=data)  # fmt: skip
    np.testing.assert_array_equal(a[3:40, 5:30], data[3:40, 5:30])  # indexes cached
    b = pickle.loads(pickle.dumps(a))
    assert b._io._index == {} and b._io._lock is not a._io._lock
    np.testing.assert_array_equal(b[...], data)
    b[1:3, 1:3] = 0
    if where == "folder":  # the same files
        np.testing.assert_array_equal(a[1:3, 1:3], 0)


@pytest.mark.parametrize("where", ["memory", "folder"])
def test_two_handles_on_one_array_never_read_through_a_stale_index(tmp_path, where):
    """One handle caches a shard's index; the other rewrites the shard so that its inner
    chunks move; the first must read the new data, also on stores that cannot tell a
    shard's version (memory, fsspec, zip)."""
    store = MemoryStore() if where == "memory" else str(tmp_path / "s.zarr")
    a = cuzarr.create_array(store, shape=(64,), chunks=(8,), shards=(64,), dtype="u1",
                            fill_value=0, compressors=None)  # fmt: skip
    a[:] = np.arange(64)
    b = cuzarr.open_array(a.store, mode="r+")
    np.testing.assert_array_equal(a[8:16], np.arange(8, 16))  # a caches the index
    b[0:8] = 0  # inner chunk 0 becomes empty: every other inner chunk moves
    b[20:30] = 200
    want = np.arange(64)
    want[0:8], want[20:30] = 0, 200
    np.testing.assert_array_equal(a[8:40], want[8:40])
    np.testing.assert_array_equal(a[:], want)
