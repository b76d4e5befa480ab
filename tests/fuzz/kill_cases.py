"""Writers killed with SIGKILL: a child process changes an array in a local folder in a
loop (partial and full writes, shrinking and growing resizes, appends, attribute
updates), journaling each operation (fsync'd) before it starts and after it ends; the
parent kills it at a random moment, then checks the store against the journal:

- every document parses and every chunk decodes (nothing torn);
- every element holds what the completed operations left there, or what the operation
  in flight would put there (or, for an in-flight shrink, the fill value);
- no value removed by a shrink comes back when the array grows again;
- after the store is reopened for writing and written whole once, no temporary file of a
  dead writer is left (a writer removes those in each folder it writes into).

Writers are forked from a process that has imported cuzarr already (:mod:`.zygote`), so
a kill costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import cuzarr

from .report import Tally
from .runner import Outcome, classify
from .zygote import Zygote

FILL = -1
TMP_SUFFIX = ".cuzarr-tmp"
KINDS = {
    "plain": dict(shape=(24, 20), chunks=(8, 8)),
    "sharded": dict(shape=(24, 20), chunks=(4, 4), shards=(8, 8)),
    "v2": dict(shape=(24, 20), chunks=(8, 8), zarr_format=2),
}
MAX_EXTENT = 40
START_WAIT_S = 30.0  # how long a writer may take to begin its first operation
MAX_DELAY_S = 0.12  # the kill comes this long (at most) after the writer's first begin


def create(path: str, kind: str) -> None:
    cuzarr.create_array(path, dtype="int32", fill_value=FILL, overwrite=True, **KINDS[kind])


# -- the writer (child) -----------------------------------------------------------------


def _region(rng: random.Random, shape: tuple[int, ...]) -> list[list[int]]:
    out = []
    for n in shape:
        start = rng.randrange(n)
        out.append([start, rng.randrange(start + 1, n + 1)])
    return out


def next_operation(rng: random.Random, shape: tuple[int, ...], seq: int) -> dict[str, Any]:
    kind = rng.choice(
        ("write", "write", "write", "fill", "fill", "resize", "resize", "append", "attrs")
    )
    op: dict[str, Any] = {"seq": seq, "op": kind}
    if kind == "write":
        op["region"] = _region(rng, shape)
    elif kind == "resize":
        op["shape"] = [rng.randrange(1, MAX_EXTENT + 1) for _ in shape]
    elif kind == "append":
        axis = rng.randrange(len(shape))
        if shape[axis] >= MAX_EXTENT:
            return {"seq": seq, "op": "fill"}
        op.update(axis=axis, count=rng.randrange(1, min(8, MAX_EXTENT - shape[axis]) + 1))
    return op


def apply(a: cuzarr.Array, op: dict[str, Any]) -> None:
    kind, seq = op["op"], op["seq"]
    if kind == "write":
        a[tuple(slice(lo, hi) for lo, hi in op["region"])] = seq
    elif kind == "fill":
        a[...] = seq
    elif kind == "resize":
        a.resize(tuple(op["shape"]))
    elif kind == "append":
        shape = list(a.shape)
        shape[op["axis"]] = op["count"]
        a.append(np.full(shape, seq, dtype="int32"), axis=op["axis"])
    else:
        a.attrs["seq"] = seq


def _journal(fd: int, record: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(record) + "\n").encode())
    os.fsync(fd)


def writer(path: str, journal: str, seed: int, first_seq: int) -> None:
    """Child: operations until killed. Each is journaled before it starts and after it
    ends; one that fails is journaled with its error and ends the child."""
    rng = random.Random(seed)
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    a = cuzarr.open_array(path, mode="r+")
    seq = first_seq
    while True:
        op = next_operation(rng, a.shape, seq)
        _journal(fd, dict(op, phase="begin"))
        try:
            apply(a, op)
        except Exception as e:
            _journal(fd, {"seq": seq, "phase": "error", "outcome": _outcome_json(classify(e))})
            os._exit(3)
        _journal(fd, {"seq": seq, "phase": "end"})
        seq += 1


def _outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "kind": o.kind,
        "error": o.error,
        "message": o.message,
        "where": o.where,
        "raised_at": o.raised_at,
    }


# -- the model (parent) -----------------------------------------------------------------


@dataclass
class Model:
    """What the store holds, as far as completed operations tell."""

    values: np.ndarray
    attrs_seq: int | None = None
    # Values each element lost to a shrink: seeing one again is a resurrection.
    deleted: dict[tuple[int, ...], set[int]] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def reshaped(self, shape: tuple[int, ...]) -> np.ndarray:
        """The values under a new shape: cropped, and grown with the fill value."""
        out = np.full(shape, FILL, dtype=np.int64)
        keep = tuple(slice(0, min(a, b)) for a, b in zip(self.shape, shape))
        out[keep] = self.values[keep]
        return out

    def forget_outside(self, shape: tuple[int, ...]) -> None:
        """Remember what lies outside ``shape`` as deleted."""
        for coords in zip(*np.nonzero(self.values != FILL)):
            if any(c >= n for c, n in zip(coords, shape)):
                key = tuple(int(c) for c in coords)
                self.deleted.setdefault(key, set()).add(int(self.values[key]))

    def apply(self, op: dict[str, Any]) -> None:
        kind, seq = op["op"], op["seq"]
        if kind == "write":
            self.values[tuple(slice(lo, hi) for lo, hi in op["region"])] = seq
        elif kind == "fill":
            self.values[...] = seq
        elif kind == "resize":
            self.forget_outside(tuple(op["shape"]))
            self.values = self.reshaped(tuple(op["shape"]))
        elif kind == "append":
            shape = list(self.shape)
            shape[op["axis"]] += op["count"]
            grown = self.reshaped(tuple(shape))
            region = [slice(None)] * len(shape)
            region[op["axis"]] = slice(self.shape[op["axis"]], None)
            grown[tuple(region)] = seq
            self.values = grown
        else:
            self.attrs_seq = seq

    def target_shape(self, op: dict[str, Any]) -> tuple[int, ...]:
        if op["op"] == "resize":
            return tuple(op["shape"])
        if op["op"] == "append":
            shape = list(self.shape)
            shape[op["axis"]] += op["count"]
            return tuple(shape)
        return self.shape


def read_journal(path: str) -> tuple[list[dict], dict | None, dict | None]:
    """(completed operations, the one in flight, an error record) from a journal whose
    last line may be torn."""
    begun: dict[int, dict] = {}
    done: list[dict] = []
    error = None
    for line in Path(path).read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the line being written when the writer died
        if record["phase"] == "begin":
            begun[record["seq"]] = record
        elif record["phase"] == "end":
            done.append(begun.pop(record["seq"]))
        else:
            error = record
            begun.pop(record["seq"], None)
    in_flight = next(iter(begun.values()), None)
    return done, in_flight, error


def allowed(model: Model, op: dict | None, shape: tuple[int, ...]) -> list[np.ndarray]:
    """What each element of an array of ``shape`` may read as: it matches one of them."""
    base = model.reshaped(shape)
    if op is None:
        return [base]
    alt = base.copy()
    if op["op"] == "write":
        alt[tuple(slice(lo, hi) for lo, hi in op["region"])] = op["seq"]
    elif op["op"] == "fill":
        alt[...] = op["seq"]
    elif op["op"] == "append":
        region = [slice(None)] * len(shape)
        region[op["axis"]] = slice(min(model.shape[op["axis"]], shape[op["axis"]]), None)
        alt[tuple(region)] = op["seq"]
    elif op["op"] == "resize":
        outside = np.ones(shape, dtype=bool)
        outside[tuple(slice(0, min(a, b)) for a, b in zip(shape, op["shape"]))] = False
        alt[outside] = FILL  # cleared by a trim that did not get to store the shape
    return [base, alt]


def mismatches(model: Model, actual: np.ndarray, options: list[np.ndarray]) -> dict[str, int]:
    bad = np.ones(actual.shape, dtype=bool)
    for option in options:
        bad &= actual != option
    counts = {"lost": 0, "resurrected": 0, "wrong": 0}
    for coords in zip(*np.nonzero(bad)):
        key = tuple(int(c) for c in coords)
        value = int(actual[key])
        if value in model.deleted.get(key, ()):
            counts["resurrected"] += 1
        elif value == FILL:
            counts["lost"] += 1
        else:
            counts["wrong"] += 1
    return counts


def temp_files(path: str) -> list[str]:
    return [str(p) for p in Path(path).rglob(f"*{TMP_SUFFIX}")]


# -- one kill ---------------------------------------------------------------------------


@dataclass
class Store:
    """One array kind's store, its model, and the next operation number."""

    kind: str
    path: str
    model: Model
    seq: int = 1


def new_store(kind: str, folder: str) -> Store:
    path = os.path.join(folder, f"{kind}.zarr")
    create(path, kind)
    shape = KINDS[kind]["shape"]
    return Store(kind, path, Model(np.full(shape, FILL, dtype=np.int64)))


def kill_once(zygote: Zygote, store: Store, journal: str, rng: random.Random) -> int:
    """Start a writer, wait for its first operation, kill it a random moment later;
    returns its exit code (-SIGKILL unless it ended by itself)."""
    if os.path.exists(journal):
        os.unlink(journal)
    pid = zygote.spawn(writer, store.path, journal, rng.randrange(2**32), store.seq)
    deadline = time.monotonic() + START_WAIT_S
    while zygote.poll(pid) is None and time.monotonic() < deadline:
        if os.path.exists(journal) and os.path.getsize(journal) > 0:
            time.sleep(rng.choice((0.0, rng.uniform(0, MAX_DELAY_S))))
            break
        time.sleep(0.001)
    os.kill(pid, signal.SIGKILL)  # a zombie until waited for, if it ended already
    status = zygote.wait(pid)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def check(store: Store, journal: str, exitcode: int | None, tally: Tally, label: str) -> None:
    """Compare the store with the journal, then bring the model up to date."""
    done, in_flight, error = read_journal(journal) if os.path.exists(journal) else ([], None, None)
    problems: list[tuple[str, Outcome]] = []
    if error is not None:
        o = Outcome(**error["outcome"], step="writer operation")
        problems.append(("a valid operation failed in the writer", o))
    elif exitcode != -signal.SIGKILL:
        msg = f"the writer ended by itself with exit code {exitcode}"
        problems.append(("writer died before the kill", Outcome("crash", message=msg)))
    for op in done:
        store.model.apply(op)
    store.seq = (
        max(
            [store.seq - 1]
            + [op["seq"] for op in done]
            + ([in_flight["seq"]] if in_flight else [])
            + ([error["seq"]] if error else [])
        )
        + 1
    )
    left = temp_files(store.path)
    tally.count("temp_left", len(left))
    try:
        a = cuzarr.open_array(store.path, mode="r")
        actual = np.asarray(a[...]).astype(np.int64)
        attrs_seq = a.attrs.asdict().get("seq")
    except Exception as e:
        problems.append(("store unreadable after a kill (torn document or chunk)", classify(e)))
        tally.count("torn")
        tally.record(f"{label}: in flight {in_flight}", problems)
        return
    problems += _compare(store.model, actual, attrs_seq, in_flight, tally)
    _adopt(store.model, actual, attrs_seq)
    problems += _reopen_and_write(store, tally)
    tally.record(f"{label}: in flight {in_flight}; completed {len(done)}", problems)


def _compare(
    model: Model, actual: np.ndarray, attrs_seq: Any, in_flight: dict | None, tally: Tally
) -> list[tuple[str, Outcome]]:
    problems = []
    shapes = {model.shape} | ({model.target_shape(in_flight)} if in_flight else set())
    if actual.shape not in shapes:
        msg = f"shape {actual.shape}, expected one of {sorted(shapes)}"
        problems.append(("wrong shape after a kill", Outcome("ok", message=msg)))
    counts = mismatches(model, actual, allowed(model, in_flight, actual.shape))
    for what, n in counts.items():
        if n:
            if what != "wrong":
                tally.count(what, n)
            msg = f"{n} elements {what} (in flight: {in_flight})"
            problems.append((f"values {what} after a kill", Outcome("ok", message=msg)))
    attrs_ok = {model.attrs_seq} | (
        {in_flight["seq"]} if in_flight and in_flight["op"] == "attrs" else set()
    )
    if attrs_seq not in attrs_ok:
        msg = f"attrs seq {attrs_seq}, expected one of {attrs_ok}"
        problems.append(("wrong attributes after a kill", Outcome("ok", message=msg)))
    return problems


def _adopt(model: Model, actual: np.ndarray, attrs_seq: Any) -> None:
    """The store as read becomes the model (the in-flight operation is settled now)."""
    model.forget_outside(actual.shape)
    model.values = model.reshaped(actual.shape)
    model.values[...] = actual
    model.attrs_seq = attrs_seq


def _reopen_and_write(store: Store, tally: Tally) -> list[tuple[str, Outcome]]:
    """Reopen for writing and write the whole array (every chunk folder) with one element
    changed: stale temp files must be gone then."""
    seq = store.seq
    store.seq += 1
    try:
        a = cuzarr.open_array(store.path, mode="r+")
        corner = (0,) * a.ndim
        values = a[...]
        values[corner] = seq
        a[...] = values
        store.model.values[corner] = seq
    except Exception as e:
        return [("reopening for writing failed", classify(e))]
    left = temp_files(store.path)
    if left:
        msg = f"{len(left)} left, e.g. {os.path.relpath(left[0], store.path)}"
        return [("temp files of dead writers left after reopening", Outcome("ok", message=msg))]
    return []


def run(
    folder: str,
    kills: int,
    seed: int,
    kinds: tuple[str, ...] = tuple(KINDS),
    tally: Tally | None = None,
) -> Tally:
    """``kills`` writers killed, spread over ``kinds`` of arrays (one store per kind)."""
    tally = tally or Tally("kills")
    rng = random.Random(f"kills:{seed}:{kinds}")
    stores = [new_store(kind, folder) for kind in kinds]
    journal = os.path.join(folder, "journal")
    with Zygote() as zygote:
        for i in range(kills):
            store = stores[i % len(stores)]
            exitcode = kill_once(zygote, store, journal, rng)
            check(store, journal, exitcode, tally, f"kill #{i} ({store.kind} array)")
    return tally
