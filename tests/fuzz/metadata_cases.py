"""Malformed metadata of every format: documents cuzarr writes (v3 ``zarr.json`` of arrays
and groups with inline consolidated metadata, v2 ``.zarray``/``.zgroup``/``.zattrs``/
``.zmetadata``, N5 ``attributes.json``), mutated, then opened and read through the
public API. A step passes when it succeeds or raises a ZarrError."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cuzarr

from . import mutations
from .report import Tally, non_zarr_errors, steps_of
from .runner import Outcome, Runner, attempt
from .setups import ARRAY, CODEC_SETUPS, DOCUMENT_SETUPS, is_metadata_key, store_of

MAX_MEMBERS = 40  # members touched per group: a mutated listing may name many
FULL_READ_ELEMENTS = 4096  # arrays up to this size are also read whole


@dataclass(frozen=True)
class Base:
    """A valid store and the documents in it worth mutating."""

    label: str
    items: tuple[tuple[str, bytes], ...]
    path: str  # the node the steps open
    kind: str  # "array" or "group"
    fmt: Any
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Case:
    index: int
    base: Base
    key: str
    raw: bytes
    what: str

    def describe(self) -> str:
        return f"#{self.index} {self.base.label}: {self.key}: {self.what}"


def _hierarchy(fmt: Any) -> dict[str, bytes]:
    store: dict = {}
    root = cuzarr.create_group(store, zarr_format=fmt, attributes={"title": "fuzz"})
    sub = root.create_group("g", attributes={"level": 1})
    kwargs = {} if fmt == "n5" else {"fill_value": 7}
    sub.create_array("a", shape=(6, 4), chunks=(2, 2), dtype="int16", **kwargs)[...] = 3
    if fmt == 3:
        root.create_array("s", shape=(8,), chunks=(2,), shards=(4,), dtype="uint8")[...] = 1
    else:
        root.create_array("b", shape=(5,), chunks=(2,), dtype="float32")[...] = 1.5
    if fmt != "n5":
        cuzarr.consolidate_metadata(store)
    return {k: bytes(v) for k, v in store.items()}


@functools.cache
def bases() -> tuple[Base, ...]:
    out = []
    for setup in CODEC_SETUPS + DOCUMENT_SETUPS:
        store = store_of(setup)
        targets = tuple(sorted(k for k in store if is_metadata_key(k)))
        # The array's own documents first: most mutations should land there.
        ours = tuple(k for k in targets if k.startswith(ARRAY + "/"))
        out.append(
            Base(
                setup.label,
                tuple(sorted(store.items())),
                ARRAY,
                "array",
                setup.zarr_format,
                ours * 3 + targets,
            )
        )
    for fmt, label in (
        (3, "v3 consolidated hierarchy"),
        (2, "v2 consolidated hierarchy"),
        ("n5", "n5 hierarchy"),
    ):
        store = _hierarchy(fmt)
        targets = tuple(sorted(k for k in store if is_metadata_key(k)))
        root_docs = tuple(k for k in targets if "/" not in k)
        out.append(
            Base(label, tuple(sorted(store.items())), "", "group", fmt, root_docs * 3 + targets)
        )
    return tuple(out)


def generate(seed: int, count: int, fmt: Any = None) -> Iterator[Case]:
    """``count`` cases, cycling over the bases (of format ``fmt``, or all); case ``i``
    depends on (seed, fmt, i) only."""
    chosen = [b for b in bases() if fmt is None or b.fmt == fmt]
    for i in range(count):
        rng = random.Random(f"metadata:{seed}:{fmt}:{i}")
        base = chosen[i % len(chosen)]
        key = rng.choice(base.targets)
        raw, what = mutations.mutate(dict(base.items)[key], rng)
        yield Case(i, base, key, raw, what)


# -- the child side ---------------------------------------------------------------------


def read_corners(a: cuzarr.Array) -> None:
    """Bounded reads, whatever shape the metadata claims: the first few elements and the
    last one (an edge chunk), and the whole array when it is small."""
    shape = a.shape
    a[tuple(slice(0, 3) for _ in shape)]
    if all(n > 0 for n in shape):
        a[tuple(n - 1 for n in shape)]
    if a.size <= FULL_READ_ELEMENTS:
        a[...]


def touch(node: Any) -> None:
    """What a user does with a node just opened: print it, look at it, read from it."""
    repr(node)
    node.attrs.asdict()
    if isinstance(node, cuzarr.Array):
        str(node.info)
        repr((node.shape, node.dtype, node.chunks, node.fill_value, node.nchunks))
        read_corners(node)
        return
    for _, member in itertools.islice(node.members(max_depth=None), MAX_MEMBERS):
        repr(member)
        if isinstance(member, cuzarr.Array):
            read_corners(member)
    node.tree()


def _open(store: dict, path: str, fmt: Any) -> None:
    touch(cuzarr.open(store, mode="r", path=path, zarr_format=fmt))


def _open_kind(store: dict, path: str, kind: str) -> None:
    opener = cuzarr.open_array if kind == "array" else cuzarr.open_group
    touch(opener(store, mode="r", path=path))


def _root(store: dict, use_consolidated: bool | None) -> None:
    touch(cuzarr.open_group(store, mode="r", use_consolidated=use_consolidated))


def _write(store: dict, path: str) -> None:
    node = cuzarr.open(store, mode="r+", path=path)
    node.attrs["fuzz"] = [1, "x"]
    if isinstance(node, cuzarr.Array):
        if node.size and node.ndim:
            corner = (0,) * node.ndim
            node[corner] = node[corner]
        node.resize(node.shape)
    else:
        node.create_group("fuzz-new")


def exercise(items: tuple, path: str, kind: str, fmt: Any) -> list[Outcome]:
    """Every step on a fresh copy of the store; the outcome of each."""
    store = dict(items)
    return [
        attempt("open", _open, dict(store), path, None),
        attempt(f"open zarr_format={fmt!r}", _open, dict(store), path, fmt),
        attempt(f"open_{kind}", _open_kind, dict(store), path, kind),
        attempt("open_group root, members", _root, dict(store), None),
        attempt("open_group root use_consolidated=False", _root, dict(store), False),
        attempt("write (attrs, element, resize)", _write, dict(store), path),
    ]


# -- the parent side --------------------------------------------------------------------


def mutated_items(case: Case) -> tuple:
    return tuple((k, case.raw if k == case.key else v) for k, v in case.base.items)


def run(runner: Runner, cases: Iterator[Case], tally: Tally | None = None) -> Tally:
    tally = tally or Tally("metadata")
    for case in cases:
        if tally.too_many_hangs():
            break
        b = case.base
        outcome = runner.run(exercise, mutated_items(case), b.path, b.kind, b.fmt)
        tally.record(case.describe(), non_zarr_errors(steps_of(outcome)))
    return tally
