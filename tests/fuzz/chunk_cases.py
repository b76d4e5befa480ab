"""Corrupted chunks of every codec set-up: real data is written, then a stored chunk (or
shard, or N5 block) is damaged (bit flips, truncation, extension, zeros, random bytes,
two chunks swapped, header and index fields set to hostile values) and the array is
read and partly rewritten. A step passes when it succeeds or raises a ZarrError; where a
crc32c checksum guards every stored byte, a read must never return wrong values."""

from __future__ import annotations

import functools
import json
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import crc32c
import numpy as np

import cuzarr

from .report import Tally, non_zarr_errors, steps_of
from .runner import Outcome, Runner, attempt
from .setups import ARRAY, CODEC_SETUPS, Setup, chunk_keys, store_of

HOSTILE_FIELDS = (0, 1, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 2**31 - 1, 2**31, 2**32 - 1, 2**63, 2**64 - 1)
FIELD_OFFSETS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 20, 24)
# Corruptions after which a checksum no longer vouches for the bytes: whole chunks moved
# to another position, and edits whose checksum was recomputed.
UNGUARDED = ("swap", "sealed-index", "sealed")


@dataclass(frozen=True)
class Case:
    index: int
    setup: Setup
    kind: str
    items: tuple
    what: str

    @property
    def guarded(self) -> bool:
        return self.setup.guarded and self.kind not in UNGUARDED

    def describe(self) -> str:
        return f"#{self.index} {self.setup.label}: {self.what}"


def _flip(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    buf = bytearray(data)
    bits = sorted(rng.sample(range(len(buf) * 8), min(len(buf) * 8, rng.choice((1, 2, 3)))))
    for bit in bits:
        buf[bit // 8] ^= 1 << (bit % 8)
    return bytes(buf), f"bits {bits} flipped"


def _field(data: bytes, rng: random.Random, from_end: bool = False) -> tuple[bytes, str]:
    width = rng.choice((1, 2, 4, 8))
    order = rng.choice(("<", ">"))
    value = rng.choice(HOSTILE_FIELDS) & ((1 << (8 * width)) - 1)
    offset = rng.choice(FIELD_OFFSETS)
    at = max(0, len(data) - offset - width) if from_end else offset
    packed = value.to_bytes(width, "little" if order == "<" else "big")
    new = (data[:at] + packed + data[at + width :])[: max(len(data), at + width)]
    side = "from the end" if from_end else ""
    return new, f"bytes {at}..{at + width} {side} set to {value:#x} ({order}{width}B)"


def _shard_index(store: dict, key: str) -> tuple[int, str] | None:
    """(index entry count, location) of a sharded set-up's shards; None otherwise."""
    doc = json.loads(store[f"{ARRAY}/zarr.json"])
    codec = doc["codecs"][0]
    if codec["name"] != "sharding_indexed":
        return None
    config = codec["configuration"]
    outer = doc["chunk_grid"]["configuration"]["chunk_shape"]
    n = int(np.prod([o // i for o, i in zip(outer, config["chunk_shape"])]))
    return n, config.get("index_location", "end")


def _sealed_index(data: bytes, n: int, location: str, rng: random.Random) -> tuple[bytes, str]:
    """An index entry set to a hostile offset/length, the index checksum recomputed."""
    size = 16 * n
    index_at = 0 if location == "start" else len(data) - size - 4
    if index_at < 0 or len(data) < size + 4:
        return data, "shard too short to edit"
    index = bytearray(data[index_at : index_at + size])
    entry = rng.randrange(n)
    offset = rng.choice((0, len(data), len(data) - 1, 2**63, 2**64 - 1, index_at))
    length = rng.choice((0, 1, len(data), 2**32, 2**63, 2**64 - 1))
    struct.pack_into("<QQ", index, 16 * entry, offset, length)
    sealed = bytes(index) + struct.pack("<I", crc32c.crc32c(bytes(index)))
    new = data[:index_at] + sealed + data[index_at + size + 4 :]
    return new, f"index entry {entry} set to offset {offset:#x} length {length:#x}, crc resealed"


def _sealed(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """The payload under a trailing crc32c damaged and the checksum recomputed."""
    body, what = _flip(data[:-4], rng) if rng.random() < 0.5 else _field(data[:-4], rng)
    return body + struct.pack("<I", crc32c.crc32c(body)), f"{what}, crc32c resealed"


def corrupt(setup: Setup, store: dict, rng: random.Random) -> tuple[str, str]:
    """Damage ``store`` in place; returns (kind, what was done)."""
    keys = chunk_keys(store)
    key = rng.choice(keys)
    data = store[key]
    kinds = ["flip", "flip", "truncate", "extend", "zeroed", "random", "header", "tail"]
    if len(keys) > 1:
        kinds.append("swap")
    shard = _shard_index(store, key) if setup.zarr_format == 3 else None
    if shard:
        kinds += ["sealed-index"] * 3
    if setup.guarded and setup.label.endswith("crc32c"):
        kinds += ["sealed"] * 2
    kind = rng.choice(kinds)
    if kind == "flip":
        store[key], what = _flip(data, rng)
    elif kind == "truncate":
        cut = rng.randrange(len(data))
        store[key], what = data[:cut], f"truncated to {cut} of {len(data)} bytes"
    elif kind == "extend":
        tail = rng.choice((bytes(rng.randrange(1, 64)), rng.randbytes(rng.randrange(1, 64))))
        store[key], what = data + tail, f"{len(tail)} bytes appended"
    elif kind == "zeroed":
        store[key], what = bytes(len(data)), "zeroed"
    elif kind == "random":
        size = rng.choice((len(data), rng.randrange(2 * len(data) + 2)))
        store[key], what = rng.randbytes(size), f"replaced by {size} random bytes"
    elif kind == "header":
        store[key], what = _field(data, rng)
    elif kind == "tail":
        store[key], what = _field(data, rng, from_end=True)
    elif kind == "swap":
        other = rng.choice([k for k in keys if k != key])
        store[key], store[other] = store[other], data
        what = f"swapped with {other}"
    elif kind == "sealed-index":
        store[key], what = _sealed_index(data, *shard, rng)
    else:
        store[key], what = _sealed(data, rng)
    return kind, f"{key}: {what}"


def generate(seed: int, count: int, fmt: Any = None) -> Iterator[Case]:
    """``count`` cases, cycling over the codec set-ups (of format ``fmt``, or all)."""
    chosen = [s for s in CODEC_SETUPS if fmt is None or s.zarr_format == fmt]
    for i in range(count):
        rng = random.Random(f"chunks:{seed}:{fmt}:{i}")
        setup = chosen[i % len(chosen)]
        store = store_of(setup)
        kind, what = corrupt(setup, store, rng)
        yield Case(i, setup, kind, tuple(sorted(store.items())), what)


# -- the child side ---------------------------------------------------------------------


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.dtype != want.dtype or got.shape != want.shape:
        return False
    if want.dtype.kind == "O":
        return got.tolist() == want.tolist()
    return got.tobytes() == want.tobytes()


def _read(store: dict, selection: tuple, want: np.ndarray) -> str:
    got = cuzarr.open_array(store, path=ARRAY, mode="r")[selection]
    if not want.shape and not np.shape(got):  # one element: a scalar of the array's kind
        got = np.asarray(got, dtype=want.dtype)
    got = np.asarray(got)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"wrong result: shape {got.shape} dtype {got.dtype}, want {want.shape} {want.dtype}"
    return "same" if _same(got, want) else "different"


def _rewrite(store: dict, selection: tuple, value: np.ndarray) -> None:
    cuzarr.open_array(store, path=ARRAY, mode="r+")[selection] = value


def selections(ndim: int) -> list[tuple]:
    return [(Ellipsis,), (slice(0, 2),) * ndim, (-1,) * ndim]


def read_back(items: tuple, expected: np.ndarray) -> list[Outcome]:
    """Full and partial reads (each compared with ``expected``), then a partial write
    into the damaged chunk (a read-modify-write of it)."""
    store = dict(items)
    steps = [
        attempt(f"read {sel!r}", _read, store, sel, np.asarray(expected[sel], expected.dtype))
        for sel in selections(expected.ndim)
    ]
    corner = (0,) * expected.ndim
    steps.append(attempt("write one element", _rewrite, dict(items), corner, expected[corner]))
    return steps


# -- the parent side --------------------------------------------------------------------


@functools.cache
def expected_values(setup: Setup) -> np.ndarray:
    return np.asarray(cuzarr.open_array(store_of(setup), path=ARRAY, mode="r")[...])


def problems_of(case: Case, steps: list[Outcome]) -> list[tuple[str, Outcome]]:
    found = non_zarr_errors(steps)
    for step in steps:
        value = step.value if step.kind == "ok" else None
        if isinstance(value, str) and value.startswith("wrong result"):
            step.message = value
            found.append(("read returned the wrong shape or dtype", step))
        elif value == "different" and case.guarded:
            step.message = "a read returned values other than those written"
            found.append(("wrong values passed the crc32c checksum", step))
    return found


def run(runner: Runner, cases: Iterator[Case], tally: Tally | None = None) -> Tally:
    tally = tally or Tally("chunks")
    for case in cases:
        if tally.too_many_hangs():
            break
        outcome = runner.run(read_back, case.items, expected_values(case.setup))
        problems = problems_of(case, steps_of(outcome))
        tally.record(case.describe(), problems)
        tally.count("wrong_values", sum(p.startswith("wrong values") for p, _ in problems))
    return tally
