"""The host read path's scheduling: pieces fetched and decoded on the pool for cheap
stores, batched fetches for costly ones, small requests on the calling thread. Results
must not depend on which route a read takes."""

import numpy as np
import pytest

import cuzarr
from cuzarr import concurrency
from cuzarr.errors import CorruptChunkError
from cuzarr.stores.memory import MemoryStore

ZSTD = [{"name": "zstd", "configuration": {"level": 1}}]
DATA = (np.arange(64 * 96 * 128, dtype=np.uint32) * 2654435761 % 1000).astype("<u2")
DATA = DATA.reshape(64, 96, 128)  # 1.5 MiB


class CostlyRequests(MemoryStore):
    """A memory store that says its requests are costly, as network stores do."""

    supports_partial_reads = False


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("kind", ["local", "costly", "sharded"])
def test_every_route_gives_the_same_result(tmp_path, kind, threads):
    store = CostlyRequests() if kind == "costly" else str(tmp_path / "a.zarr")
    shards = dict(shards=(32, 48, 64)) if kind == "sharded" else {}
    a = cuzarr.create_array(store, shape=DATA.shape, chunks=(8, 24, 32), dtype=DATA.dtype,
                            fill_value=3, compressors=ZSTD, **shards)  # fmt: skip
    a[:, :90] = DATA[:, :90]  # some chunks stay missing: the fill value
    want = DATA.copy()
    want[:, 90:] = 3
    with cuzarr.config.set(threads=threads, batch_chunks=50):  # several batches
        np.testing.assert_array_equal(a[:], want)
        np.testing.assert_array_equal(a[3:61:2, ::-1, 5:100], want[3:61:2, ::-1, 5:100])
        out = np.empty_like(want)
        a.get_basic_selection(..., out=out)
        np.testing.assert_array_equal(out, want)


def test_big_zstd_chunks_decode_straight_into_out(tmp_path):
    """Chunks of 1 MiB and more: numcodecs decodes into the output slab itself."""
    data = np.arange(4 * 512 * 512, dtype="<u4").reshape(4, 512, 512)
    a = cuzarr.create_array(str(tmp_path / "b.zarr"), shape=data.shape, chunks=(1, 512, 512),
                            dtype=data.dtype, data=data, compressors=ZSTD)  # fmt: skip
    out = np.zeros_like(data)
    a.get_basic_selection(..., out=out)
    np.testing.assert_array_equal(out, data)
    np.testing.assert_array_equal(a[1:3, 7:300, ::3], data[1:3, 7:300, ::3])


@pytest.mark.parametrize("kind", ["local", "costly"])
def test_a_corrupt_chunk_in_a_many_piece_read_is_named(tmp_path, kind):
    store = CostlyRequests() if kind == "costly" else str(tmp_path / "c.zarr")
    a = cuzarr.create_array(store, shape=DATA.shape, chunks=(8, 24, 32), dtype=DATA.dtype,
                            data=DATA, compressors=ZSTD)  # fmt: skip
    a.store.set("c/5/2/1", b"\x28\xb5\x2f\xfd not zstd at all")
    with cuzarr.config.set(threads=2), pytest.raises(CorruptChunkError, match="c/5/2/1"):
        a[:]


def test_a_small_read_stays_on_the_calling_thread(tmp_path, monkeypatch):
    a = cuzarr.create_array(str(tmp_path / "d.zarr"), shape=DATA.shape, chunks=(8, 24, 32),
                            shards=(32, 48, 64), dtype=DATA.dtype, data=DATA,
                            compressors=ZSTD)  # fmt: skip

    def no_pool():
        raise AssertionError("a small read used the thread pool")

    monkeypatch.setattr(concurrency, "executor", no_pool)
    with cuzarr.config.set(threads=2):
        np.testing.assert_array_equal(a[9:20, 30:50, 1:60], DATA[9:20, 30:50, 1:60])
