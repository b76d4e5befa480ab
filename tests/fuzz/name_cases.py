"""Hostile node names and keys on every store kind: a local folder, a zip file, a dict,
a MemoryStore, fsspec ``memory://`` and ``file://`` (``auto_mkdir``). Names reach the
store through the creating and opening functions, group methods, consolidated metadata
(v3 inline and v2 ``.zmetadata``), keys already in the store and chunk key separators.

A case passes when nothing outside the store root is read, written or deleted (victim
files beside the store root, in its parent and above survive unchanged, nothing new
appears there, decoy nodes outside are never opened, and in-memory stores gain no key
that is not a plain relative path) and every error is a ZarrError.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import random
import shutil
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import cuzarr
from cuzarr.stores import MemoryStore, ZipStore

from .report import Tally, non_zarr_errors
from .runner import Outcome, Runner, attempt

KINDS = ("path", "zip", "dict", "memory-store", "fsspec-memory", "fsspec-file")
ABSOLUTE = "{absolute}"  # stands for an absolute path inside the watched folder
NAMES: tuple[Any, ...] = (
    "../evil",
    "a/../../x",
    "..",
    ".",
    "/abs",
    ABSOLUTE,
    "a\\b",
    "..\\..\\x",
    "a\0b",
    "a//b",
    "a/./b",
    "a/..",
    "../../../x",
    "../..",
    "",
    "/",
    "//",
    "a/",
    "~",
    "a" * 300,
    "/".join(["d"] * 2100),
    "%2e%2e/x",
    "a\nb",
    "memory://x",
    "file:///x",
    "x::y",
    " ",
    "\u2028",
    1,
    b"x",
    1.5,
    ["a"],
    ("..",),
)
# The names most likely to leave the store, run on every store kind and operation.
CORE_NAMES = ("../evil", "..", "a/../../x", ABSOLUTE, "../../../x", "a" * 300)
FORMATS = (3, 2, "n5")
VICTIMS = ("victim_top.txt", "box/victim_box.txt", "box/sub/victim_sub.txt")
STORE_AT = "box/sub/store"  # below the watched folder
DECOY = {"decoy": "outside the store"}


def is_plain_key(key: Any) -> bool:
    """A relative '/'-separated path of plain names: nothing that can leave a root."""
    if not isinstance(key, str) or not key or key[0] == "/" or "\\" in key or "\0" in key:
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


def _inside(path: str, root: str) -> bool:
    path = posixpath.normpath(path)
    return path == root or path.startswith(root + "/")


class Env:
    """One store of one kind, with victims and decoys around it, and what changed."""

    def __init__(self, kind: str, folder: str, uid: str):
        self.kind = kind
        self.folder = folder  # the watched folder (local kinds) or memory-fs root
        self.storage_options: dict | None = None
        self.problems: list[str] = []
        self.mapping: dict = {}
        if kind == "fsspec-memory":
            import fsspec

            self.fs = fsspec.filesystem("memory")
            self.folder = f"/fuzz-{uid}"
        self.root = f"{self.folder}/{STORE_AT}"
        self._layout()

    # -- set-up ------------------------------------------------------------------------
    def _layout(self) -> None:
        decoys = {
            "box/sub/zarr.json": _group_doc(),
            "box/sub/outside/zarr.json": _array_doc(),
            "box/sub/outside/c/0": b"\x07\x00\x00\x00" * 2,
            "box/zarr.json": _group_doc(),
            "box/.zgroup": b'{"zarr_format": 2}',
            "box/.zattrs": json.dumps(DECOY).encode(),
        }
        files = {v: f"victim {v}".encode() for v in VICTIMS} | decoys
        if self.kind == "fsspec-memory":
            for rel, data in files.items():
                self.fs.pipe(f"{self.folder}/{rel}", data)
            return
        if self.kind in ("dict", "memory-store"):
            return
        for rel, data in files.items():
            path = os.path.join(self.folder, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        if self.kind != "zip":
            os.makedirs(self.root, exist_ok=True)

    def store_like(self) -> Any:
        if self.kind == "path":
            return self.root
        if self.kind == "zip":
            return self.zip_store()
        if self.kind == "dict":
            return self.mapping
        if self.kind == "memory-store":
            return MemoryStore(self.mapping)
        if self.kind == "fsspec-memory":
            return f"memory://{self.root}"
        self.storage_options = {"auto_mkdir": True}
        return f"file://{self.root}"

    def zip_store(self) -> Any:
        return ZipStore(self.root + ".zip", mode="a")

    def put_raw(self, key: str, data: bytes) -> None:
        """Store ``key`` bypassing cuzarr, the way another program could have."""
        if self.kind in ("dict", "memory-store"):
            self.mapping[key] = data
        elif self.kind == "zip":
            with zipfile.ZipFile(self.root + ".zip", "a") as zf:
                zf.writestr(zipfile.ZipInfo(key), data)
        elif self.kind == "fsspec-memory":
            self.fs.pipe(f"{self.root}/{key}", data)
        else:
            path = os.path.join(self.root, key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def close(self, store: Any) -> None:
        if isinstance(store, ZipStore):
            store.close()

    def look(self, node: Any) -> None:
        """Note an opened node that is one of the decoys outside the store."""
        try:
            attrs = node.attrs.asdict()
        except Exception:
            return
        if attrs.get("decoy") == DECOY["decoy"]:
            self.problems.append(f"read outside the store: opened decoy {node!r}")

    # -- what changed ------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        if self.kind in ("dict", "memory-store"):
            return {k: bytes(v) for k, v in self.mapping.items() if not is_plain_key(k)}
        if self.kind == "fsspec-memory":
            files = {p: bytes(f.getvalue()) for p, f in self.fs.store.items()}
            return {p: v for p, v in files.items() if not _inside(p, self.root)}
        out: dict[str, Any] = {}
        for dirpath, dirnames, filenames in os.walk(self.folder):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if _inside(path, self.root) or path == self.root + ".zip":
                    continue
                out[path] = _read(path) if name in filenames else "dir"
        if self.kind == "zip" and os.path.exists(self.root + ".zip"):
            out.update(_odd_zip_members(self.root + ".zip"))
        return out

    def compare(self, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
        found = list(self.problems)
        for path, value in before.items():
            if path not in after:
                found.append(f"deleted outside the store: {path!r}")
            elif after[path] != value:
                found.append(f"changed outside the store: {path!r}")
        found += [f"created outside the store: {p!r}" for p in after if p not in before]
        return found

    def clean(self) -> None:
        if self.kind == "fsspec-memory":
            for path in [p for p in self.fs.store if p.startswith(self.folder)]:
                del self.fs.store[path]
            self.fs.pseudo_dirs[:] = [
                d for d in self.fs.pseudo_dirs if not d.startswith(self.folder)
            ]
        elif self.kind not in ("dict", "memory-store"):
            shutil.rmtree(self.folder, ignore_errors=True)


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _odd_zip_members(path: str) -> dict[str, Any]:
    """Archive members that would land outside the store when extracted."""
    try:
        with zipfile.ZipFile(path) as zf:
            return {f"zip member {n!r}": "member" for n in zf.namelist() if not is_plain_key(n)}
    except zipfile.BadZipFile:
        return {}


def _group_doc() -> bytes:
    return json.dumps({"zarr_format": 3, "node_type": "group", "attributes": DECOY}).encode()


def _array_meta(attributes: dict) -> dict:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [2],
        "data_type": "int32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": attributes,
    }


def _array_doc() -> bytes:
    return json.dumps(_array_meta(DECOY)).encode()


# -- operations: each takes (env, name, zarr_format) ---------------------------------------


def _opened(env: Env, store: Any, fn: Callable[[Any], Any]) -> Any:
    try:
        node = fn(store)
        env.look(node)
        return node
    finally:
        env.close(store)


def op_create_array(env: Env, name: Any, fmt: Any) -> None:
    def create(store: Any) -> Any:
        a = cuzarr.create_array(
            store,
            name=name,
            shape=(2,),
            chunks=(1,),
            dtype="i4",
            zarr_format=fmt,
            storage_options=env.storage_options,
        )
        a[...] = 1
        return a

    _opened(env, env.store_like(), create)


def op_create_group(env: Env, name: Any, fmt: Any) -> None:
    _opened(
        env,
        env.store_like(),
        lambda s: cuzarr.create_group(
            s, path=name, zarr_format=fmt, storage_options=env.storage_options
        ),
    )


def op_open(env: Env, name: Any, fmt: Any) -> None:
    _opened(
        env,
        env.store_like(),
        lambda s: cuzarr.open(
            s, mode="a", path=name, zarr_format=fmt, storage_options=env.storage_options
        ),
    )


def op_open_array(env: Env, name: Any, fmt: Any) -> None:
    def read(store: Any) -> Any:
        a = cuzarr.open_array(store, mode="r", path=name, storage_options=env.storage_options)
        env.look(a)
        a[...]
        return a

    _opened(env, env.store_like(), read)


def op_open_group(env: Env, name: Any, fmt: Any) -> None:
    _opened(
        env,
        env.store_like(),
        lambda s: cuzarr.open_group(
            s, mode="a", path=name, zarr_format=fmt, storage_options=env.storage_options
        ),
    )


def _root(env: Env, store: Any, fmt: Any) -> Any:
    root = cuzarr.open_group(store, mode="a", zarr_format=fmt, storage_options=env.storage_options)
    root.create_array("keep", shape=(2,), chunks=(1,), dtype="i4")[...] = 3
    return root


def _group_op(action: Callable[[Any, Any], Any]) -> Callable[[Env, Any, Any], None]:
    def op(env: Env, name: Any, fmt: Any) -> None:
        store = env.store_like()
        try:
            root = _root(env, store, fmt)
            result = action(root, name)
            if isinstance(result, (cuzarr.Array, cuzarr.Group)):
                env.look(result)
            for _, member in root.members(max_depth=None):
                env.look(member)
        finally:
            env.close(store)

    return op


def _write_member(root: Any, name: Any) -> Any:
    a = root.create_array(name, shape=(2,), chunks=(1,), dtype="i4")
    a[...] = 1
    return a


def _delete(root: Any, name: Any) -> None:
    del root[name]


GROUP_DOC = {"zarr_format": 3, "node_type": "group", "attributes": {}}


def inline_group_doc(members: dict[str, Any]) -> dict[str, Any]:
    """A v3 group document whose inline consolidated metadata lists ``members``."""
    return {
        **GROUP_DOC,
        "consolidated_metadata": {"kind": "inline", "must_understand": False, "metadata": members},
    }


def _crafted_root(env: Env, name: str, fmt: Any) -> None:
    """A root whose consolidated metadata lists ``name`` as an array (and, below a group
    of that name, another array), written bypassing cuzarr."""
    array = _array_meta({"member": name})
    if fmt == 3:
        doc = inline_group_doc({name: GROUP_DOC, f"{name}/inner": array, "plain": array})
        env.put_raw("zarr.json", json.dumps(doc).encode())
        return
    v2_array = {
        "zarr_format": 2,
        "shape": [2],
        "chunks": [2],
        "dtype": "<i4",
        "compressor": None,
        "fill_value": 0,
        "filters": None,
        "order": "C",
    }
    metadata = {
        ".zgroup": {"zarr_format": 2},
        f"{name}/.zgroup": {"zarr_format": 2},
        f"{name}/inner/.zarray": v2_array,
        f"{name}/.zattrs": {"member": name},
    }
    env.put_raw(".zgroup", b'{"zarr_format": 2}')
    env.put_raw(
        ".zmetadata", json.dumps({"zarr_consolidated_format": 1, "metadata": metadata}).encode()
    )


def _use_crafted_root(env: Env, name: Any, fmt: Any) -> None:
    """Open the crafted root, walk it, write and read every array member, then open and
    delete the hostile member."""
    store = env.store_like()
    try:
        root = cuzarr.open_group(
            store, mode="a", zarr_format=fmt, storage_options=env.storage_options
        )
        for _, member in list(root.members(max_depth=None)):
            env.look(member)
            if isinstance(member, cuzarr.Array):
                member[...] = 5
                member[...]
        _each_refusable(lambda: env.look(root[name]), lambda: name in root)
        _each_refusable(lambda: _delete(root, name))
    finally:
        env.close(store)


def _each_refusable(*steps: Callable[[], Any]) -> None:
    """Run every step; one that cuzarr refuses (a ZarrError) does not stop the next."""
    for step in steps:
        try:
            step()
        except cuzarr.ZarrError:
            pass


def prepare_consolidated(env: Env, name: Any, fmt: Any) -> None:
    if isinstance(name, str):
        _crafted_root(env, name, 2 if fmt == 2 else 3)


def op_consolidated(env: Env, name: Any, fmt: Any) -> None:
    if isinstance(name, str):
        _use_crafted_root(env, name, 2 if fmt == 2 else 3)


def _can_hold(env: Env, name: Any) -> bool:
    """Whether keys below ``name`` can exist in this kind of store: anything in memory
    and zip archives; on a file system only names made of real folder names."""
    if not isinstance(name, str):
        return False
    if env.kind not in ("path", "fsspec-file"):
        return True
    parts = name.split("/")
    fits = len(name) < 1024 and all(p not in ("", ".", "..") and len(p) < 256 for p in parts)
    return fits and "\0" not in name


def prepare_listed(env: Env, name: Any, fmt: Any) -> None:
    if _can_hold(env, name):
        env.put_raw("zarr.json", _group_doc_plain())
        env.put_raw(f"{name}/zarr.json", _group_doc_plain())
        env.put_raw(f"{name}/a/zarr.json", json.dumps(_array_meta({})).encode())


def op_listed(env: Env, name: Any, fmt: Any) -> None:
    """Keys named after ``name`` already in the store (another program put them there):
    list the hierarchy, delete what it lists, consolidate."""
    if not _can_hold(env, name):
        return
    store = env.store_like()
    try:
        root = cuzarr.open_group(store, mode="a", storage_options=env.storage_options)
        members = list(root.members(max_depth=None))
        for _, member in members:
            env.look(member)
            if isinstance(member, cuzarr.Array):
                member[...] = 2
        _each_refusable(*(functools.partial(_delete, root, n) for n, _ in reversed(members)))
        cuzarr.consolidate_metadata(store)
    finally:
        env.close(store)


def _group_doc_plain() -> bytes:
    return json.dumps({"zarr_format": 3, "node_type": "group", "attributes": {}}).encode()


def prepare_separator(env: Env, name: Any, fmt: Any) -> None:
    """``name`` as the chunk key separator of an array document."""
    if not isinstance(name, str):
        return
    if fmt == 2:
        doc = {
            "zarr_format": 2,
            "shape": [2, 2],
            "chunks": [1, 1],
            "dtype": "<i4",
            "compressor": None,
            "fill_value": 0,
            "filters": None,
            "order": "C",
            "dimension_separator": name,
        }
        env.put_raw("a/.zarray", json.dumps(doc).encode())
    else:
        meta = _array_meta({})
        meta.update(
            shape=[2, 2], chunk_grid={"name": "regular", "configuration": {"chunk_shape": [1, 1]}}
        )
        meta["chunk_key_encoding"]["configuration"]["separator"] = name
        env.put_raw("a/zarr.json", json.dumps(meta).encode())


def op_separator(env: Env, name: Any, fmt: Any) -> None:
    if not isinstance(name, str):
        return
    store = env.store_like()
    try:
        a = cuzarr.open_array(store, mode="r+", path="a", storage_options=env.storage_options)
        a[...] = 4
        a[...]
        a.resize((1, 1))
    finally:
        env.close(store)


OPERATIONS: dict[str, Callable[[Env, Any, Any], None]] = {
    "create_array": op_create_array,
    "create_group": op_create_group,
    "open(mode='a')": op_open,
    "open_array(mode='r')": op_open_array,
    "open_group(mode='a')": op_open_group,
    "group.create_array": _group_op(_write_member),
    "group.create_group": _group_op(lambda g, n: g.create_group(n)),
    "group.require_group": _group_op(lambda g, n: g.require_group(n)),
    "group[name]": _group_op(lambda g, n: g[n]),
    "name in group": _group_op(lambda g, n: n in g),
    "del group[name]": _group_op(_delete),
    "consolidated member": op_consolidated,
    "keys in the store": op_listed,
    "chunk key separator": op_separator,
}
# Raw keys an operation needs in the store before it starts (before the snapshot).
PREPARE: dict[str, Callable[[Env, Any, Any], None]] = {
    "consolidated member": prepare_consolidated,
    "keys in the store": prepare_listed,
    "chunk key separator": prepare_separator,
}
CORE_OPERATIONS = ("create_array", "del group[name]", "consolidated member", "keys in the store")


@dataclass(frozen=True)
class Case:
    index: int
    kind: str
    name: Any
    op: str
    fmt: Any

    def describe(self) -> str:
        name = "<the watched folder>/abs/x" if self.name == ABSOLUTE else f"{self.name!r:.80}"
        return f"#{self.index} {self.kind}: {self.op} name={name} zarr_format={self.fmt!r}"


def run_case(case: Case, base: str) -> dict[str, Any]:
    """Child side: lay out the store, victims and decoys, run the operation, compare."""
    folder = os.path.join(base, f"case{case.index}")
    env = Env(case.kind, folder, f"{os.getpid()}-{case.index}")
    name = (
        case.name.replace(ABSOLUTE, f"{env.folder}/abs/x")
        if isinstance(case.name, str)
        else case.name
    )
    try:
        if case.op in PREPARE:
            PREPARE[case.op](env, name, case.fmt)
        before = env.snapshot()
        step = attempt(case.op, OPERATIONS[case.op], env, name, case.fmt)
        return {"steps": [step], "escapes": env.compare(before, env.snapshot())}
    finally:
        env.clean()


# -- the parent side --------------------------------------------------------------------


def core_cases(kinds: tuple[str, ...] = KINDS) -> list[tuple[str, Any, str, Any]]:
    return [(k, n, op, 3) for k in kinds for n in CORE_NAMES for op in CORE_OPERATIONS]


def generate(seed: int, count: int, kind: str | None = None) -> Iterator[Case]:
    """The core matrix (store kinds x escaping names x dangerous operations) first, then
    random (kind, name, operation, format) draws; ``kind`` keeps to one store kind."""
    kinds = KINDS if kind is None else (kind,)
    core = core_cases(kinds)
    for i in range(count):
        if i < len(core):
            yield Case(i, *core[i])
            continue
        rng = random.Random(f"names:{seed}:{kind}:{i}")
        yield Case(
            i,
            rng.choice(kinds),
            rng.choice(NAMES),
            rng.choice(list(OPERATIONS)),
            rng.choice(FORMATS),
        )


def problems_of(case: Case, outcome: Outcome) -> tuple[list[tuple[str, Outcome]], int]:
    if outcome.kind != "ok":
        return non_zarr_errors([outcome]), 0
    found = non_zarr_errors(outcome.value["steps"])
    escapes = outcome.value["escapes"]
    step = outcome.value["steps"][0]
    # Escapes have no stack; the store kind and operation tell them apart.
    where = f"{case.kind} store, {case.op}"
    for what in escapes:
        escape = Outcome("ok", message=what, step=step.step, error=step.error, where=where)
        found.append(("escaped the store root", escape))
    return found, len(escapes)


def run(runner: Runner, base: str, cases: Iterator[Case], tally: Tally | None = None) -> Tally:
    tally = tally or Tally("names")
    for case in cases:
        if tally.too_many_hangs():
            break
        outcome = runner.run(run_case, case, base)
        problems, escapes = problems_of(case, outcome)
        tally.record(case.describe(), problems)
        tally.count("escapes", escapes)
    return tally
