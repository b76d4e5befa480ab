"""Several processes writing disjoint rows of one local folder array whose rows share a
chunk (or a shard): each partial write is a read-modify-write of the shared object, so
without a lock across processes one writer's rows can be lost to another's store.

Processes (multiprocessing, spawn) write in rounds: all write their rows, meet at a
barrier, each checks every row of the round, meet again. A row that does not hold its
writer's value of the round is lost.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import time
from typing import Any

import numpy as np

import cuzarr

from .report import Tally
from .runner import Outcome

ROWS = 2  # rows per process
WIDTH = 1024
WRITES = 20  # writes of its rows per process and round: the last one leaves its value
BARRIER_S = 60.0  # a barrier this long overdue means a writer is stuck or dead
FILL = -1


def layout(kind: str, processes: int) -> dict[str, Any]:
    shape = (ROWS * processes, WIDTH)
    if kind == "sharded":
        return dict(shape=shape, chunks=(1, 128), shards=shape)
    return dict(shape=shape, chunks=shape)


def create(path: str, kind: str, processes: int) -> None:
    cuzarr.create_array(
        path, dtype="int32", fill_value=FILL, overwrite=True, **layout(kind, processes)
    )


def value(round_: int, index: int) -> int:
    return round_ * 100 + index + 1


def rows_of(index: int) -> slice:
    return slice(index * ROWS, (index + 1) * ROWS)


def lost_rows(data: np.ndarray, round_: int, processes: int) -> int:
    return sum(int(np.any(data[rows_of(q)] != value(round_, q))) * ROWS for q in range(processes))


def row_writer(
    path: str, index: int, processes: int, rounds: int, barrier: Any, results: Any
) -> None:
    """Child: each round, write this process's rows, then check everyone's."""
    a = cuzarr.open_array(path, mode="r+")
    lost = []
    try:
        for r in range(rounds):
            for w in range(WRITES):
                a[rows_of(index)] = value(r, index) if w == WRITES - 1 else -w - 2
            barrier.wait(BARRIER_S)
            lost.append(lost_rows(np.asarray(a[...]), r, processes))
            barrier.wait(BARRIER_S)
    except Exception as e:
        results.put((index, lost, f"{type(e).__name__}: {e}"))
        barrier.abort()
        return
    results.put((index, lost, None))


def run_rounds(
    folder: str, kind: str, processes: int, rounds: int, tally: Tally | None = None
) -> Tally:
    tally = tally or Tally("writers")
    path = os.path.join(folder, f"{kind}-shared.zarr")
    create(path, kind, processes)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(target=row_writer, args=(path, i, processes, rounds, barrier, results))
        for i in range(processes)
    ]
    for p in procs:
        p.start()
    answers = _answers(results, procs)
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
            p.join()
    _record(tally, kind, processes, rounds, answers)
    return tally


def _answers(results: Any, procs: list) -> list[tuple | None]:
    """One answer per writer; None for each writer that died without answering."""
    answers: list[tuple | None] = []
    deadline = time.monotonic() + BARRIER_S * (2 + len(procs))
    while len(answers) < len(procs) and time.monotonic() < deadline:
        try:
            answers.append(results.get(timeout=0.5))
        except queue.Empty:
            if not any(p.is_alive() for p in procs) and results.empty():
                break
    return answers + [None] * (len(procs) - len(answers))


def _record(tally: Tally, kind: str, processes: int, rounds: int, answers: list) -> None:
    label = f"{kind}: {processes} processes x {rounds} rounds, {ROWS} rows each, one shared "
    label += "shard" if kind == "sharded" else "chunk"
    problems = []
    lost = 0
    for answer in answers:
        if answer is None:
            problems.append(("a writer process gave no answer", Outcome("hang")))
            continue
        index, per_round, error = answer
        lost += sum(per_round)
        if error:
            problems.append(("a writer process failed", Outcome("error", message=error)))
    if lost:
        msg = f"{lost} row checks found another round's value or the fill value"
        problems.append(("rows lost by concurrent writers", Outcome("ok", message=msg)))
    tally.count("lost", lost)
    tally.record(label, problems)


def dask_store(folder: str, kind: str, processes: int, tally: Tally | None = None) -> Tally:
    """``dask.array.store`` with the processes scheduler, blocks of rows into shared
    chunks; every element must arrive."""
    import dask.array as da

    tally = tally or Tally("writers")
    path = os.path.join(folder, f"{kind}-dask.zarr")
    create(path, kind, processes)
    expected = np.arange(ROWS * processes * WIDTH, dtype="int32").reshape(-1, WIDTH)
    source = da.from_array(expected, chunks=(ROWS, WIDTH))
    target = cuzarr.open_array(path, mode="r+")
    da.store(source, target, lock=False, scheduler="processes", num_workers=processes)
    got = np.asarray(cuzarr.open_array(path, mode="r")[...])
    missing = int(np.count_nonzero(got != expected))
    tally.count("lost", missing)
    problems = []
    if missing:
        msg = f"{missing} of {expected.size} elements missing after dask.array.store"
        problems.append(("elements lost by dask processes", Outcome("ok", message=msg)))
    tally.record(f"dask {kind}: {processes} processes", problems)
    return tally
