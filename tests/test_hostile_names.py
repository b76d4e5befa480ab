"""Node names and consolidated members that would reach outside the store are refused
before any key derived from them reaches a store, on every kind of store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cuzarr
from cuzarr.errors import InvalidKeyError, MetadataError, ZarrError

BAD_NAMES = ["../evil", "a/../../evil", "..", ".", "a//b", "a/./b", "a\\b", "a\0b"]


def _locations(tmp_path: Path) -> dict[str, tuple[object, dict | None]]:
    return {
        "folder": (str(tmp_path / "store"), None),
        "fsspec-file": (f"file://{tmp_path}/store", {"auto_mkdir": True}),
        "fsspec-memory": (f"memory://hostile-{tmp_path.name}", None),
        "dict": ({}, None),
    }


def _outside(tmp_path: Path) -> list[str]:
    return sorted(
        str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
        if p.relative_to(tmp_path).parts[0] != "store"
    )  # fmt: skip


@pytest.fixture(params=["folder", "fsspec-file", "fsspec-memory", "dict"])
def location(request, tmp_path: Path):
    (tmp_path / "victim.txt").write_text("x")
    store, options = _locations(tmp_path)[request.param]
    yield store, options
    assert _outside(tmp_path) == ["victim.txt"]
    assert (tmp_path / "victim.txt").read_text() == "x"


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
def test_node_names_that_leave_the_store_are_refused(location, name: str) -> None:
    store, so = location
    with pytest.raises(InvalidKeyError):
        cuzarr.create_array(store, storage_options=so, name=name, shape=(2,), dtype="i4")
    root = cuzarr.open_group(store, storage_options=so, mode="a")
    for call in (
        lambda: root.create_group(name),
        lambda: root.create_array(name, shape=(2,), dtype="i4"),
        lambda: root[name],
        lambda: root.__delitem__(name),
        lambda: cuzarr.open_group(store, storage_options=so, path=name, mode="a"),
        lambda: cuzarr.open_array(store, storage_options=so, path=name, mode="r"),
    ):
        with pytest.raises(InvalidKeyError):
            call()


def test_non_str_paths_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        cuzarr.open({}, path=123)


def _write_doc(store, so, key: str, doc: dict) -> None:
    root = cuzarr.open_group(store, storage_options=so, mode="w")
    root.create_array("a", shape=(2,), dtype="i4")[...] = 1
    cuzarr.stores.make_store(store, mode="a", storage_options=so).set(
        key, json.dumps(doc).encode()
    )


@pytest.mark.parametrize("member", ["..", "../evil", "a/../..", "a//b"])
def test_a_consolidated_member_that_leaves_the_store_is_refused(location, member: str) -> None:
    store, so = location
    group = {"zarr_format": 3, "node_type": "group", "attributes": {}}
    doc = dict(group, consolidated_metadata={
        "kind": "inline", "must_understand": False, "metadata": {member: group}})  # fmt: skip
    _write_doc(store, so, "zarr.json", doc)
    with pytest.raises(MetadataError, match="not a valid node path"):
        cuzarr.open_group(store, storage_options=so, mode="a")


@pytest.mark.parametrize("member", ["..", "../evil", "a/../.."])
def test_a_v2_consolidated_member_that_leaves_the_store_is_refused(location, member) -> None:
    store, so = location
    root = cuzarr.open_group(store, storage_options=so, mode="w", zarr_format=2)
    root.create_array("a", shape=(2,), dtype="i4")[...] = 1
    cuzarr.consolidate_metadata(store, storage_options=so)
    s = cuzarr.stores.make_store(store, mode="a", storage_options=so)
    doc = json.loads(bytes(s.get(".zmetadata")))
    doc["metadata"][f"{member}/.zgroup"] = {"zarr_format": 2}
    s.set(".zmetadata", json.dumps(doc).encode())
    with pytest.raises(ZarrError):
        group = cuzarr.open_group(store, storage_options=so, mode="a", zarr_format=2)
        del group[member]


def test_the_crafted_document_no_longer_deletes_the_parent_folder(tmp_path: Path) -> None:
    root_dir = tmp_path / "store"
    root_dir.mkdir()
    (tmp_path / "victim.txt").write_text("x")
    url, so = f"file://{root_dir}", {"auto_mkdir": True}
    with pytest.raises(InvalidKeyError):
        cuzarr.create_array(url, storage_options=so, name="../evil", shape=(2,), dtype="i4")
    doc = {"zarr_format": 3, "node_type": "group", "attributes": {}, "consolidated_metadata": {
           "kind": "inline", "must_understand": False,
           "metadata": {"..": {"zarr_format": 3, "node_type": "group", "attributes": {}}}}}  # fmt: skip
    (root_dir / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(ZarrError):
        del cuzarr.open_group(url, storage_options=so, mode="a")[".."]
    assert (tmp_path / "victim.txt").read_text() == "x"
    assert not (tmp_path / "evil").exists()
