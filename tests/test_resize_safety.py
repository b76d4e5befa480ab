"""Resize and append never resurrect removed values nor lose kept ones.

What a shrink removes reads as the fill value when the array grows again: chunks and
shards wholly outside are deleted, edge chunks (and the inner chunks of edge shards) are
rewritten with the fill value past the new shape, and all of that happens before the new
shape is stored. A writer killed at any point leaves every element reading its last
written value or the fill value. A failed append leaves the array as it was.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
import zarr

import cuzarr
from cuzarr.errors import IndexingError, MetadataError, StoreError

LAYOUTS = {
    "chunks": {"chunks": (4, 3)},
    "shards": {"chunks": (2, 3), "shards": (4, 6)},
    "v2": {"chunks": (4, 3), "zarr_format": 2},
    "n5": {"chunks": (4, 3), "zarr_format": "n5"},
}


def make(store, layout: str, shape=(10, 9)) -> cuzarr.Array:
    fill = 0 if layout == "n5" else -1  # N5 has no fill value of its own: 0
    return cuzarr.create_array(store, shape=shape, dtype="i4", fill_value=fill, **LAYOUTS[layout])


def resized(model: np.ndarray, shape, fill) -> np.ndarray:
    """What an array holding ``model`` holds after ``resize(shape)``."""
    out = np.full(shape, fill, dtype=model.dtype)
    keep = tuple(slice(0, min(a, b)) for a, b in zip(model.shape, shape))
    out[keep] = model[keep]
    return out


def assert_nothing_stored_past_the_shape(path) -> None:
    """What a grow would bring into view (what is stored past the shape) is the fill
    value: the array seen as if its shape were (20, 20), without storing that shape."""
    a = cuzarr.open_array(str(path), mode="r")
    wide = cuzarr.Array(a.store, "", a.metadata.with_shape((20, 20)), read_only=True)
    past = wide[...]
    past[tuple(slice(0, n) for n in a.shape)] = a.fill_value
    assert (past == a.fill_value).all(), f"stored past the shape {a.shape}:\n{past}"


def stored_files(path: Path) -> dict[str, int]:
    """Visible files under ``path`` -> inode (a rewrite through a local store makes a
    new file, so an unchanged inode means the file was not rewritten)."""
    return {
        str(p.relative_to(path)): p.stat().st_ino
        for p in path.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


# -- what a shrink removes stays removed -------------------------------------------------


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "shapes",
    [
        [(6, 9), (10, 9)],  # one axis, through an edge chunk
        [(10, 5), (10, 9)],
        [(6, 5), (10, 9)],  # both axes at once
        [(5, 4), (12, 12)],  # and grown past the old shape
        [(8, 6), (10, 9)],  # chunk (and shard) aligned
        [(0, 9), (10, 9)],  # to nothing
        [(7, 9), (7, 2), (10, 9)],  # shrinks in turn
        [(3, 9), (4, 9), (2, 9), (10, 9)],  # grow a little between shrinks
    ],
    ids=str,
)
def test_shrink_then_grow_reads_fill(tmp_path, layout, shapes):
    a = make(str(tmp_path), layout)
    model = np.arange(1, 91, dtype="i4").reshape(10, 9)
    a[...] = model
    for shape in shapes:
        a.resize(shape)
        model = resized(model, shape, a.fill_value)
        np.testing.assert_array_equal(a[...], model)
    again = cuzarr.open_array(str(tmp_path), mode="r")
    np.testing.assert_array_equal(again[...], model)


@pytest.mark.parametrize(
    "kwargs, value, fill",
    [
        ({"chunks": [[2, 3, 5], 2], "dtype": "i4"}, 7, -1),  # rectilinear
        ({"chunks": (4, 2), "dtype": str}, "abc", ""),  # variable-length strings
        ({"chunks": (4, 2), "dtype": "f8"}, 1.5, np.nan),
    ],
    ids=["rectilinear", "vlen-str", "nan-fill"],
)
def test_shrink_then_grow_reads_fill_for_other_grids_and_types(kwargs, value, fill):
    a = cuzarr.create_array({}, shape=(10, 4), fill_value=fill, **kwargs)
    a[...] = value
    a.resize(4, 3)
    a.resize(10, 4)
    want = np.full((10, 4), fill, dtype=a.dtype)
    want[:4, :3] = value
    np.testing.assert_array_equal(a[...], want)


def test_sharded_resize_deletes_the_shards_outside():
    store = {}
    a = cuzarr.create_array(store, shape=(64,), chunks=(8,), shards=(32,), dtype="i4", fill_value=0)
    a[...] = 5
    a.resize(16)
    assert sorted(k for k in store if k.startswith("c/")) == ["c/0"]
    a.resize(64)
    np.testing.assert_array_equal(a[...], [5] * 16 + [0] * 48)


@pytest.mark.parametrize("location", [{}, "memory://resize-two-handles"], ids=["dict", "fsspec"])
def test_another_handle_does_not_read_a_deleted_shard_through_its_cached_index(location):
    # Stores without versions (memory, fsspec) revalidate cached shard indexes against
    # this process's shard writes: deleting shards in a resize is one of them.
    kwargs = dict(shape=(64,), chunks=(8,), shards=(32,), dtype="i4", fill_value=0)
    writer = cuzarr.create_array(location, overwrite=True, **kwargs)
    writer[...] = 5
    reader = cuzarr.open_array(location, mode="r")
    np.testing.assert_array_equal(reader[32:40], 5)  # caches the index of shard 1
    writer.resize(32)  # at a shard boundary: shard 1 is deleted, shard 0 left as it is
    np.testing.assert_array_equal(reader[32:40], 0)  # the reader still has shape 64


def test_edge_shard_loses_the_inner_chunks_outside():
    store = {}
    a = cuzarr.create_array(store, shape=(32,), chunks=(4,), shards=(16,), dtype="i4", fill_value=0)
    a[...] = 7
    before = len(store["c/0"])
    a.resize(6)  # inner chunk 1 straddles; 2 and 3 are outside
    assert len(store["c/0"]) < before and "c/1" not in store
    a.resize(32)
    np.testing.assert_array_equal(a[...], [7] * 6 + [0] * 26)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_edge_chunk_left_with_only_fill_is_deleted(tmp_path, layout):
    a = make(str(tmp_path), layout, shape=(8, 3))
    a[0] = 1
    a[5:7] = 9  # in the second chunk (or shard) of rows, past row 4
    assert a.nchunks_initialized == 2
    a.resize(5, 3)  # that chunk straddles the new edge, and holds only fill inside it
    assert a.nchunks_initialized == 1
    a.resize(8, 3)
    model = np.full((8, 3), a.fill_value)
    model[0] = 1
    np.testing.assert_array_equal(a[...], model)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_growing_a_clean_array_rewrites_nothing(tmp_path, layout):
    a = make(str(tmp_path), layout)
    a[...] = 3
    data_files = {k: v for k, v in stored_files(tmp_path).items() if not _is_metadata(k)}
    a.resize(13, 11)
    a.resize(13, 12)
    after = {k: v for k, v in stored_files(tmp_path).items() if not _is_metadata(k)}
    assert after == data_files


def _is_metadata(name: str) -> bool:
    return name.rsplit("/", 1)[-1] in ("zarr.json", ".zarray", ".zattrs", "attributes.json")


def test_growing_clears_what_zarr_python_left_past_the_shape(tmp_path):
    """zarr-python's resize keeps edge chunks whole; the values it left past the shape
    are not shown when cuzarr grows the array again."""
    z = zarr.create_array(str(tmp_path), shape=(10,), chunks=(4,), dtype="i4", fill_value=-1)
    z[...] = np.arange(10)
    z.resize((6,))
    a = cuzarr.open_array(str(tmp_path), mode="r+")
    a.resize(10)
    np.testing.assert_array_equal(a[...], [0, 1, 2, 3, 4, 5, -1, -1, -1, -1])
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path), mode="r")[...], a[...])


def test_growing_deletes_chunks_left_outside_the_shape(tmp_path):
    """A chunk beyond the shape (left by a writer that stored a shrunk shape before
    deleting) is deleted before the array grows over it."""
    a = make(str(tmp_path), "chunks", shape=(8, 3))
    a[...] = 4
    leftover = (tmp_path / "c" / "1" / "0").read_bytes()
    a.resize(4, 3)
    (tmp_path / "c" / "1").mkdir(exist_ok=True)
    (tmp_path / "c" / "1" / "0").write_bytes(leftover)
    a.resize(8, 3)
    np.testing.assert_array_equal(a[4:], np.full((4, 3), -1))
    assert not (tmp_path / "c" / "1" / "0").exists()


# -- refused arguments change nothing ----------------------------------------------------


@pytest.mark.parametrize(
    "args, error",
    [
        ((1.5, 4), MetadataError),
        ((True, 4), MetadataError),
        ((np.float64(2), 4), MetadataError),
        ((-1, 4), MetadataError),
        (("a", 8), MetadataError),
        (("10",), MetadataError),
        (((2,),), MetadataError),
        (((2, 4, 1),), MetadataError),
        ((None,), MetadataError),
        ((2**70, 4), MetadataError),
    ],
    ids=repr,
)
def test_resize_refuses_what_is_not_a_shape(args, error):
    store = {}
    a = cuzarr.create_array(store, shape=(10, 4), chunks=(3, 4), dtype="i4")
    a[...] = 1
    before = dict(store)
    with pytest.raises(error, match="resize"):
        a.resize(*args)
    assert a.shape == (10, 4) and store == before


def test_resize_takes_numpy_integers():
    a = cuzarr.create_array({}, shape=(10, 4), chunks=(3, 4), dtype="i4")
    a.resize(np.int64(5), np.uint8(4))
    assert a.shape == (5, 4)
    a.resize(np.array([6, 4]))
    assert a.shape == (6, 4)


# -- append ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, kwargs",
    [
        (np.array([["x", "y", "z", "w"]]), {}),  # strings into int32
        ([[None] * 4], {}),
        (np.zeros((2, 3)), {}),  # off-axis shape
        (np.zeros(4), {}),  # rank
        (np.zeros((2, 4)), {"axis": 2}),
        (np.zeros((2, 4)), {"axis": 1.0}),
        (np.zeros((2, 4)), {"axis": True}),
        ([[2**70] * 4], {}),
    ],
    ids=repr,
)
def test_failed_append_leaves_the_array_as_it_was(tmp_path, data, kwargs):
    a = cuzarr.create_array(str(tmp_path), shape=(5, 4), chunks=(2, 4), dtype="i4")
    a[...] = np.arange(20).reshape(5, 4)
    files = stored_files(tmp_path)
    with pytest.raises(IndexingError):
        a.append(data, **kwargs)
    assert a.shape == (5, 4) and cuzarr.open_array(str(tmp_path)).shape == (5, 4)
    assert stored_files(tmp_path) == files


def test_append_whose_write_fails_takes_the_rows_back(tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(4, 2), chunks=(2, 2), dtype="i4")
    a[...] = 1
    (tmp_path / "c" / "3" / "0").mkdir(parents=True)  # a folder where chunk (3, 0) goes
    with pytest.raises(StoreError):
        a.append(np.full((4, 2), 2))
    assert a.shape == (4, 2) and cuzarr.open_array(str(tmp_path)).shape == (4, 2)
    (tmp_path / "c" / "3" / "0").rmdir()
    a.resize(8, 2)
    np.testing.assert_array_equal(a[...], [[1, 1]] * 4 + [[0, 0]] * 4)


def test_append_to_a_0d_array_is_refused():
    a = cuzarr.create_array({}, shape=(), dtype="i4")
    with pytest.raises(IndexingError, match="0-d"):
        a.append(np.zeros(()))


# -- killed writers ----------------------------------------------------------------------

OPS_PER_CHILD = 6
RUNS_PER_LAYOUT = 12  # a third killed by the parent after a random delay, the rest by
# the child itself just before one of its store writes or deletes (a random one)


def _random_op(rng: random.Random, shape, value: int) -> dict:
    kind = rng.choice(["resize", "resize", "write", "write", "append"])
    if kind == "append" and max(shape) < 14:
        axis = rng.randrange(2)
        return {"kind": "append", "axis": axis, "rows": rng.randint(1, 4), "value": value}
    if kind == "write" and all(shape):
        box = []
        for n in shape:
            lo = rng.randrange(n)
            box.append([lo, rng.randint(lo + 1, n)])
        return {"kind": "write", "box": box, "value": value}
    return {"kind": "resize", "shape": [rng.randint(0, 13), rng.randint(0, 13)]}


def _box(op) -> tuple[slice, ...]:
    return tuple(slice(lo, hi) for lo, hi in op["box"])


def _apply(a: cuzarr.Array, op: dict) -> None:
    if op["kind"] == "resize":
        a.resize(tuple(op["shape"]))
    elif op["kind"] == "write":
        a[_box(op)] = op["value"]
    else:
        shape = list(a.shape)
        shape[op["axis"]] = op["rows"]
        a.append(np.full(shape, op["value"], dtype="i4"), axis=op["axis"])


def _applied(model: np.ndarray, op: dict, fill) -> np.ndarray:
    """The model after ``op`` completed."""
    if op["kind"] == "resize":
        return resized(model, op["shape"], fill)
    if op["kind"] == "write":
        out = model.copy()
        out[_box(op)] = op["value"]
        return out
    shape = list(model.shape)
    shape[op["axis"]] += op["rows"]
    out = resized(model, shape, fill)
    region = [slice(None)] * 2
    region[op["axis"]] = slice(model.shape[op["axis"]], None)
    out[tuple(region)] = op["value"]
    return out


def _check_interrupted(before: np.ndarray, op: dict, found: np.ndarray, fill) -> None:
    """``found`` is a state that ``op``, killed part way from ``before``, may leave."""
    after = _applied(before, op, fill)
    keep = tuple(slice(0, min(a, b)) for a, b in zip(before.shape, after.shape))
    if op["kind"] == "write":
        assert found.shape == before.shape
        assert ((found == before) | (found == after)).all()
    elif found.shape == before.shape:  # the new shape was not stored
        np.testing.assert_array_equal(found[keep], before[keep])
        # a shrink cut short may have cleared what it was removing, nothing else
        assert ((found == before) | (found == fill)).all()
    else:
        assert found.shape == after.shape, f"shape {found.shape} after {op}"
        np.testing.assert_array_equal(found[keep], before[keep])
        if op["kind"] == "resize":
            np.testing.assert_array_equal(found, after)
        else:  # the appended rows: written or not yet
            assert ((found == after) | (found == fill)).all()


def _child(path: str, seed: int, kill_at: int | None, out: int) -> None:
    a = cuzarr.open_array(path, mode="r+")
    store = a.store
    writes = 0

    def counted(method):
        def call(*args, **kwargs):
            nonlocal writes
            writes += 1
            if writes == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return method(*args, **kwargs)

        return call

    for name in ("set", "set_many", "delete", "delete_many"):
        setattr(store, name, counted(getattr(store, name)))
    rng = random.Random(seed)
    for i in range(OPS_PER_CHILD):
        op = _random_op(rng, a.shape, value=seed * 100 + i + 1)
        os.write(out, (json.dumps(op) + "\n").encode())
        _apply(a, op)
        os.write(out, b"done\n")


def _run_child(path: str, seed: int, kill_at: int | None, delay: float | None) -> list[str]:
    """The lines the child reported, once it has ended (exited, or killed)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read_end)
            _child(path, seed, kill_at, write_end)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
    data = b""
    deadline = time.monotonic() + 30
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError("the child did not finish in 30 s")
            chunk = pipe.read(65536)
            if not chunk:
                break
            data += chunk
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        assert os.WEXITSTATUS(status) == 0, "the child failed (its traceback is above)"
    else:
        assert os.WTERMSIG(status) == signal.SIGKILL
    return data.decode().splitlines()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
@pytest.mark.parametrize("layout", LAYOUTS)
def test_killed_resizes_never_bring_removed_values_back(tmp_path, layout):
    rng = random.Random(f"kill-{layout}")
    path = str(tmp_path / "a")
    a = make(path, layout)
    fill = a.fill_value
    model = np.arange(1, 91, dtype="i4").reshape(10, 9)
    a[...] = model
    interrupted = 0
    for run in range(1, RUNS_PER_LAYOUT + 1):
        by_parent = run % 3 == 0
        kill_at = None if by_parent else rng.randint(1, 30)
        delay = rng.uniform(0, 0.02) if by_parent else None
        lines = _run_child(path, run, kill_at, delay)
        ops = [json.loads(line) for line in lines if line != "done"]
        done = lines.count("done")
        for op in ops[:done]:
            model = _applied(model, op, fill)
        found = cuzarr.open_array(path, mode="r")[...]
        assert_nothing_stored_past_the_shape(path)
        if len(ops) > done:
            interrupted += 1
            _check_interrupted(model, ops[done], found, fill)
            model = found  # the next child goes on from what is there
        else:
            np.testing.assert_array_equal(found, model)
    assert interrupted >= RUNS_PER_LAYOUT // 3  # the kills did land inside operations
