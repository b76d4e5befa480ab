"""Writes from several threads to the same chunks or shards: none is lost (each batch
holds the locks of the objects it rewrites), and the lock table empties again."""

import threading

import pytest

import cuzarr
from cuzarr import locks


def _write_rows_from_threads(arrays, rows):
    """Row i written (several times) by thread i, through arrays[i % len(arrays)]."""
    barrier = threading.Barrier(rows)
    errors = []

    def write(i):
        a = arrays[i % len(arrays)]
        barrier.wait()
        try:
            for _ in range(5):
                a[i] = i + 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(rows)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.parametrize("layout", ["one chunk", "one shard"])
@pytest.mark.parametrize("where", ["folder", "folder, two arrays", "memory"])
def test_threads_writing_parts_of_one_chunk_lose_nothing(tmp_path, layout, where):
    rows = 16
    kwargs = dict(chunks=(rows, 32, 32))
    if layout == "one shard":
        kwargs = dict(chunks=(2, 16, 16), shards=(rows, 32, 32))
    store = cuzarr.stores.memory.MemoryStore() if where == "memory" else str(tmp_path / "a")
    a = cuzarr.create_array(store, shape=(rows, 32, 32), dtype="u2", fill_value=0, **kwargs)
    arrays = [a, cuzarr.open_array(str(tmp_path / "a"), mode="r+")] if "two" in where else [a]
    _write_rows_from_threads(arrays, rows)
    got = a[:]
    assert [int((got[i] == i + 1).all()) for i in range(rows)] == [1] * rows
    assert locks._locks == {}


def test_locks_are_taken_in_one_order_and_released_on_errors():
    done = []

    def hold(names):
        for _ in range(200):
            with locks.holding(names):
                pass
        done.append(names)

    # opposite orders of the same names: without one order, these could deadlock
    threads = [threading.Thread(target=hold, args=(n,)) for n in (["a", "b", "c"], ["c", "b", "a"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(done) == 2
    with pytest.raises(ValueError), locks.holding(["a", "a", "b"]):
        raise ValueError("failed while holding")
    assert locks._locks == {}
    with locks.holding(["a"]):  # free again
        assert list(locks._locks) == ["a"]
