"""Hostile node names on every store kind: nothing outside the store root is read,
written or deleted, and every error is a ZarrError."""

from __future__ import annotations

import json
import os

import pytest

import cuzarr

from . import name_cases
from .report import Tally, non_zarr_errors
from .runner import Runner, attempt


@pytest.fixture(scope="module")
def runner():
    with Runner(memory_mib=512, timeout_s=8) as r:
        yield r


def test_the_watch_sees_escapes(tmp_path):
    """A write beside the store root, a deleted victim and a new zip member that would
    extract outside are all reported."""
    for kind in ("path", "zip", "dict", "fsspec-memory"):
        env = name_cases.Env(kind, str(tmp_path / kind), "watch")
        before = env.snapshot()
        if kind == "dict":
            env.mapping["../evil/zarr.json"] = b"{}"
        elif kind == "fsspec-memory":
            env.fs.pipe(f"{env.root}/../evil", b"x")
        else:
            (tmp_path / kind / "box" / "evil").write_bytes(b"x")
            os.unlink(tmp_path / kind / name_cases.VICTIMS[0])
        try:
            assert env.compare(before, env.snapshot()), kind
        finally:
            env.clean()


@pytest.mark.parametrize("kind", name_cases.KINDS)
def test_hostile_names(runner, profile, tmp_path, kind):
    count = profile.name_cases // len(name_cases.KINDS)
    cases = name_cases.generate(profile.seed, count, kind)
    tally = name_cases.run(runner, str(tmp_path), cases)
    assert tally.cases > 0
    tally.assert_clean()


def consolidated_dotdot(folder: str) -> list:
    """Child side: the fsspec file:// escape, a member '..' in inline consolidated
    metadata, deleted through the group; returns (outcomes, what is left beside)."""
    store = os.path.join(folder, "store")
    os.makedirs(store)
    with open(os.path.join(folder, "victim.txt"), "w") as f:
        f.write("x")
    url, so = f"file://{store}", {"auto_mkdir": True}

    def create() -> None:
        a = cuzarr.create_array(url, storage_options=so, name="../evil", shape=(2,), dtype="i4")
        a[...] = 1

    def delete() -> None:
        doc = name_cases.inline_group_doc({"..": name_cases.GROUP_DOC})
        with open(os.path.join(store, "zarr.json"), "w") as f:
            json.dump(doc, f)
        del cuzarr.open_group(url, storage_options=so, mode="a")[".."]

    steps = [attempt("create_array name='../evil'", create), attempt("del group['..']", delete)]
    return [steps, sorted(os.listdir(folder))]


def test_consolidated_dotdot_escape_on_fsspec_file(runner, tmp_path):
    outcome = runner.run(consolidated_dotdot, str(tmp_path / "esc"))
    tally = Tally("names")
    if outcome.kind != "ok":
        tally.record("fsspec file:// '..' escape", non_zarr_errors([outcome]))
        tally.assert_clean()
    steps, left = outcome.value
    problems = non_zarr_errors(steps)
    if left != ["store", "victim.txt"]:
        step = steps[-1]
        step.message = f"the store's parent now holds {left}"
        problems.append(("escaped the store root", step))
    tally.record("fsspec file:// create '../evil', then del group['..'] (consolidated)", problems)
    tally.assert_clean()
