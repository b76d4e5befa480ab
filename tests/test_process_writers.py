"""Writers in several processes on one local folder: partial writes of the same chunk or
shard take turns through file locks, so none is lost; temporary and lock files that
killed writers leave behind are removed by the next writer into their folder."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

import cuzarr
from cuzarr import locks
from cuzarr.stores.local import _HOST_TAG, LOCK_SUFFIX, TMP_SUFFIX, LocalStore

WRITERS = 4
ROUNDS = 12


def _write_rows(path: str, writer: int, range_locks: bool) -> None:
    locks._OFD_LOCKS = range_locks  # which of the two lock mechanisms this run uses
    a = cuzarr.open_array(path, mode="r+")
    for r in range(ROUNDS):
        # each writer owns one row, and every row lies in the same chunk or shard
        a[writer, :] = writer * 1000 + r + 1


def _run_writers(path: str, range_locks: bool) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_write_rows, args=(path, w, range_locks)) for w in range(WRITERS)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0


MECHANISMS = [
    pytest.param(True, id="byte-range-locks", marks=pytest.mark.skipif(
        not locks._OFD_LOCKS, reason="open file description locks are Linux-only")),
    pytest.param(False, id="lock-files"),
]  # fmt: skip


@pytest.mark.parametrize("range_locks", MECHANISMS)
@pytest.mark.parametrize("sharded", [False, True], ids=["chunks", "shards"])
def test_processes_writing_parts_of_one_object_lose_nothing(
    tmp_path: Path, sharded: bool, range_locks: bool
):
    path = str(tmp_path / "a.zarr")
    layout = {"chunks": (1, 8), "shards": (WRITERS, 8)} if sharded else {"chunks": (WRITERS, 8)}
    cuzarr.create_array(path, shape=(WRITERS, 8), dtype="i4", fill_value=0, **layout)
    _run_writers(path, range_locks)
    got = cuzarr.open_array(path, mode="r")[...]
    expected = (np.arange(WRITERS) * 1000 + ROUNDS)[:, None].repeat(8, axis=1)
    np.testing.assert_array_equal(got, expected)
    leftovers = [p.name for p in tmp_path.rglob("*") if p.name.endswith((TMP_SUFFIX, LOCK_SUFFIX))]
    assert leftovers == []  # lock files go with their last holder


def _dead_pid() -> int:
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=os._exit, args=(0,))
    p.start()
    p.join()
    return p.pid


def test_a_writer_removes_what_dead_writers_left_in_its_folder(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "c").mkdir()
    dead, alive = _dead_pid(), os.getpid()
    leftovers = {
        "dead": tmp_path / "c" / f".0.{_HOST_TAG}-{dead}.0a0b0c0d{TMP_SUFFIX}",
        "alive": tmp_path / "c" / f".1.{_HOST_TAG}-{alive}.0a0b0c0d{TMP_SUFFIX}",
        "other host": tmp_path / "c" / f".2.00000000-{dead}.0a0b0c0d{TMP_SUFFIX}",
        "unknown form": tmp_path / "c" / f".3.0a0b0c0d0e0f{TMP_SUFFIX}",
        "elsewhere": tmp_path / f".5.{_HOST_TAG}-{dead}.0a0b0c0d{TMP_SUFFIX}",
    }
    for p in leftovers.values():
        p.write_bytes(b"partial")
    store.set("c/9", b"new")
    kept = {what for what, p in leftovers.items() if p.exists()}
    assert kept == {"alive", "other host", "unknown form", "elsewhere"}
    assert sorted(store.list()) == ["c/9"]
    store.set("9", b"new")  # the first write into the root folder clears it too
    assert not leftovers["elsewhere"].exists()


def test_a_lock_file_a_dead_writer_left_goes_with_the_next_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(locks, "_OFD_LOCKS", False)  # lock files of their own
    a = cuzarr.create_array(str(tmp_path), shape=(4,), chunks=(2,), dtype="i4")
    left = Path(LocalStore(tmp_path).lock_path("c/0"))
    left.parent.mkdir(parents=True)
    left.write_bytes(b"")  # its holder died: the kernel released its flock
    a[0] = 1
    assert not left.exists()
    assert a[0] == 1


def test_a_held_lock_file_is_not_removed(tmp_path: Path) -> None:
    from cuzarr.locks import file_lock

    store = LocalStore(tmp_path)
    lock = store.lock_path("c/0")
    with file_lock(lock):
        store.set("c/1", b"x")  # sweeps the folder
        assert os.path.exists(lock)
    assert not os.path.exists(lock)  # removed by its holder on release


@pytest.mark.parametrize("mode", ["r", "r+"])
def test_opening_for_writing_removes_what_dead_writers_left_beside_the_metadata(
    tmp_path: Path, mode: str
) -> None:
    cuzarr.create_array(str(tmp_path / "a"), shape=(4,), dtype="i4")
    leftover = tmp_path / "a" / f".zarr.json.{_HOST_TAG}-{_dead_pid()}.0a0b0c0d{TMP_SUFFIX}"
    leftover.write_bytes(b'{"zarr_format": 3, "node_')
    cuzarr.open_array(str(tmp_path / "a"), mode=mode)
    assert leftover.exists() == (mode == "r")


def test_names_too_long_for_temporary_files_are_written_and_locked(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    name = "n" * 250  # a valid file name, but not with a temporary file's additions
    store.set(f"c/{name}", b"value")
    assert bytes(store.get(f"c/{name}")) == b"value"
    assert len(os.path.basename(store.lock_path(f"c/{name}"))) < 255
    from cuzarr.errors import StoreError

    with pytest.raises(StoreError):
        store.set("c/" + "n" * 300, b"too long for any file system")
