"""Consolidated metadata: v2 ``.zmetadata`` and v3 inline ``consolidated_metadata``.

A group opened from consolidated metadata lists and opens every member of a nested
hierarchy from ONE stored object (checked with a store that counts its reads). A stale
snapshot wins until re-consolidated, as in zarr-python; a group's own writes drop its
snapshot (it then reads the store) and leave the stored snapshot stale.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from v2_helpers import CountingStore, assert_same

import cuzarr
from cuzarr.errors import MetadataError, NodeNotFoundError

FORMATS = [2, 3]


def build(store, zarr_format):
    """root{a, g{b, h{c}}, k} with attributes, F order and a filter here and there."""
    root = cuzarr.create_group(store, zarr_format=zarr_format, attributes={"title": "root"})
    root.create_array("a", data=np.arange(10, dtype="i4"), chunks=(4,))
    g = root.create_group("g", attributes={"level": 1})
    g.create_array(
        "b",
        data=np.eye(3),
        chunks=(2, 2),
        order="F" if zarr_format == 2 else None,
        filters=[{"id": "delta", "dtype": "<f8"}] if zarr_format == 2 else "auto",
    )
    h = g.create_group("h")
    h.create_array("c", data=np.array(["x", "yz"], dtype=object), dtype=str, chunks=(1,))
    root.create_group("k")
    return root


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_opening_and_listing_a_nested_hierarchy_reads_one_object(zarr_format):
    store = CountingStore()
    build(store, zarr_format)
    cuzarr.consolidate_metadata(store)
    store.reset()
    root = cuzarr.open_group(store, mode="r", zarr_format=zarr_format)
    members = dict(root.members(max_depth=None))
    assert sorted(members) == ["a", "g", "g/b", "g/h", "g/h/c", "k"]
    assert root["g/h"].attrs.asdict() == {}
    assert root["g"].attrs.asdict() == {"level": 1}
    assert root.attrs.asdict() == {"title": "root"}
    root.tree()
    for name in members:
        assert name in root
        root[name]
    assert store.lists == 0
    assert store.gets == [".zmetadata" if zarr_format == 2 else "zarr.json"]


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_format_detection_costs_at_most_one_miss(zarr_format):
    store = CountingStore()
    build(store, zarr_format)
    cuzarr.consolidate_metadata(store)
    store.reset()
    root = cuzarr.open(store, mode="r")  # zarr_format=None: zarr.json is looked for first
    assert sorted(k for k, _ in root.members(max_depth=None)) == [
        "a",
        "g",
        "g/b",
        "g/h",
        "g/h/c",
        "k",
    ]
    assert len(store.hits) == 1 and store.lists == 0
    assert len(store.gets) == (1 if zarr_format == 3 else 2)


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_values_read_through_consolidated_metadata(zarr_format):
    store = {}
    build(store, zarr_format)
    cuzarr.consolidate_metadata(store)
    root = cuzarr.open_consolidated(store)
    assert root.consolidated is not None
    assert_same(root["a"][...], np.arange(10))
    assert_same(root["g/b"][...], np.eye(3))
    assert_same(root["g"]["h"]["c"][...], np.array(["x", "yz"], dtype=object))
    assert root["g/b"].zarr_format == zarr_format


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_use_consolidated_none_true_false(zarr_format):
    store = {}
    build(store, zarr_format)
    with pytest.raises(MetadataError, match="no consolidated metadata"):
        cuzarr.open_group(store, mode="r", use_consolidated=True)
    assert cuzarr.open_group(store, mode="r").consolidated is None  # None: none there, fine
    cuzarr.consolidate_metadata(store)
    assert cuzarr.open_group(store, mode="r").consolidated is not None
    assert cuzarr.open_group(store, mode="r", use_consolidated=True).consolidated is not None
    assert cuzarr.open_group(store, mode="r", use_consolidated=False).consolidated is None


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_stale_consolidated_metadata_wins_until_reconsolidated(zarr_format):
    store = {}
    build(store, zarr_format)
    cuzarr.consolidate_metadata(store)
    # the store changes behind the snapshot's back: a new array, a deleted group, new attrs
    plain = cuzarr.open_group(store, mode="r+", use_consolidated=False)
    plain.create_array("new", shape=(2,), dtype="u1")
    del plain["k"]
    plain["g"].attrs["level"] = 2
    stale = cuzarr.open_group(store, mode="r")
    assert sorted(stale) == ["a", "g", "k"]  # what the snapshot says
    assert "new" not in stale
    with pytest.raises(NodeNotFoundError, match="consolidated"):
        stale["new"]
    assert stale["g"].attrs["level"] == 1
    fresh = cuzarr.open_group(store, mode="r", use_consolidated=False)
    assert sorted(fresh) == ["a", "g", "new"]
    cuzarr.consolidate_metadata(store)
    again = cuzarr.open_group(store, mode="r")
    assert again.consolidated is not None
    assert sorted(again) == ["a", "g", "new"] and again["g"].attrs["level"] == 2


@pytest.mark.parametrize("zarr_format", FORMATS)
def test_a_groups_own_writes_drop_its_snapshot_not_the_stored_one(zarr_format):
    store = {}
    build(store, zarr_format)
    cuzarr.consolidate_metadata(store)
    root = cuzarr.open_group(store, mode="r+")
    assert root.consolidated is not None
    root.create_array("z", shape=(3,), dtype="f4")
    assert root.consolidated is None  # it reads the store now, and sees its own write
    assert "z" in root and sorted(root) == ["a", "g", "k", "z"]
    assert "z" not in cuzarr.open_group(store, mode="r")  # the stored snapshot is stale


def test_zarr_python_reads_cuzarr_consolidated_and_back(tmp_path):
    zarr = pytest.importorskip("zarr")
    for fmt in FORMATS:
        path = str(tmp_path / f"cz{fmt}")
        build(path, fmt)
        cuzarr.consolidate_metadata(path)
        z = zarr.open_consolidated(path, zarr_format=fmt)
        assert sorted(k for k, _ in z.members(max_depth=None)) == [
            "a",
            "g",
            "g/b",
            "g/h",
            "g/h/c",
            "k",
        ]
        assert_same(z["g/b"][...], np.eye(3))
        # zarr-python consolidates its own hierarchy; cuzarr opens it from the snapshot
        zpath = str(tmp_path / f"zp{fmt}")
        r = zarr.open_group(zpath, mode="w", zarr_format=fmt, attributes={"t": 1})
        r.create_group("g").create_array("x", shape=(2,), chunks=(1,), dtype="i2")[:] = [5, 6]
        zarr.consolidate_metadata(zpath)
        c = cuzarr.open_group(zpath, mode="r")
        assert c.consolidated is not None and c.attrs.asdict() == {"t": 1}
        assert sorted(k for k, _ in c.members(max_depth=None)) == ["g", "g/x"]
        assert_same(c["g/x"][...], [5, 6])


def test_v2_zmetadata_document_shape():
    store = {}
    build(store, 2)
    cuzarr.consolidate_metadata(store)
    doc = json.loads(bytes(store[".zmetadata"]))
    assert doc["zarr_consolidated_format"] == 1
    keys = set(doc["metadata"])
    assert {
        ".zgroup",
        ".zattrs",
        "a/.zarray",
        "g/.zgroup",
        "g/.zattrs",
        "g/b/.zarray",
        "g/h/c/.zarray",
    } <= keys
    assert not any(k.endswith((".0", "/0")) for k in keys)  # no chunks


def test_v3_inline_document_shape():
    store = {}
    build(store, 3)
    cuzarr.consolidate_metadata(store)
    cm = json.loads(bytes(store["zarr.json"]))["consolidated_metadata"]
    assert cm["kind"] == "inline" and cm["must_understand"] is False
    assert list(cm["metadata"]) == ["a", "g", "k", "g/b", "g/h", "g/h/c"]  # depth, then name
    assert cm["metadata"]["g/h"]["consolidated_metadata"]["metadata"] == {}
    # the per-node documents on disk are untouched
    assert "consolidated_metadata" not in json.loads(bytes(store["g/zarr.json"]))


def test_bad_consolidated_documents_are_named():
    store = {}
    build(store, 2)
    store[".zmetadata"] = b'{"zarr_consolidated_format": 2, "metadata": {}}'
    with pytest.raises(MetadataError, match=r"\.zmetadata.*zarr_consolidated_format must be 1"):
        cuzarr.open_group(store, mode="r")


def test_attributes_written_through_a_consolidated_child_keep_it_listable():
    store = {}
    build(store, 3)
    cuzarr.consolidate_metadata(store)
    root = cuzarr.open_group(store, mode="r+")
    root["g"].attrs["level"] = 5
    doc = json.loads(bytes(store["g/zarr.json"]))
    assert doc["attributes"] == {"level": 5} and "consolidated_metadata" not in doc
    assert sorted(cuzarr.open_group(store, path="g", mode="r")) == ["b", "h"]
