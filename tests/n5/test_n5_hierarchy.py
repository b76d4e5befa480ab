"""N5 containers through the public API: detection on open, groups (bare folders
included), datasets, attributes, resize, edge blocks, and the conformance data."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import cuzarr
from cuzarr.errors import ContainsNodeError, MetadataError, UnsupportedError

N5_CASES = [f"{w}.n5/{c}" for w in ("zarr", "z5py") for c in ("raw", "gzip")]


def _doc(store: dict, key: str) -> dict:
    return json.loads(bytes(store[key]))


def test_create_and_reopen_a_container():
    store: dict = {}
    root = cuzarr.create_group(store, zarr_format="n5", attributes={"title": "scan"})
    assert _doc(store, "attributes.json") == {"n5": "4.0.0", "title": "scan"}
    volume = root.create_group("volumes").create_array(
        "raw", shape=(10, 20), chunks=(4, 8), dtype="uint16", attributes={"res": [1, 2]}
    )
    assert volume.zarr_format == "n5"
    data = np.arange(200, dtype="u2").reshape(10, 20)
    volume[...] = data
    doc = _doc(store, "volumes/raw/attributes.json")
    assert doc["dimensions"] == [20, 10] and doc["blockSize"] == [8, 4] and doc["res"] == [1, 2]
    assert "volumes/raw/2/1" in store  # N5 order: x block 2, y block 1
    again = cuzarr.open(store, mode="r")
    assert isinstance(again, cuzarr.Group) and again.zarr_format == "n5"
    assert again.attrs["title"] == "scan"
    assert sorted(name for name, _ in again.members(max_depth=None)) == ["volumes", "volumes/raw"]
    arr = again["volumes/raw"]
    np.testing.assert_array_equal(arr[...], data)
    np.testing.assert_array_equal(arr[3:9:2, ::-3], data[3:9:2, ::-3])
    assert cuzarr.open_array(store, path="volumes/raw", zarr_format="n5").shape == (10, 20)
    assert "volumes" in again and "nothing" not in again


def test_java_style_bare_folders_are_groups():
    store: dict = {"attributes.json": b'{"n5": "2.3.0"}'}
    raw = cuzarr.create_array(
        store, name="a/b/ds", shape=(3,), chunks=(2,), dtype="int8", zarr_format="n5"
    )
    raw[...] = [1, -2, 3]
    assert "a/attributes.json" not in store and "a/b/attributes.json" not in store
    root = cuzarr.open_group(store, mode="r")
    assert root.tree().splitlines() == ["/", "└── a", "    └── b", "        └── ds (3,) int8"]
    assert isinstance(root["a"], cuzarr.Group) and "a" in root and "b" in root["a"]
    assert "c" not in root
    np.testing.assert_array_equal(root["a/b"]["ds"][...], [1, -2, 3])
    with pytest.raises(cuzarr.errors.NodeNotFoundError):
        cuzarr.open(store, path="a/b/ds/0", mode="r")  # a folder of blocks, not a group


def test_attribute_updates_and_resize_rewrite_attributes_json():
    store: dict = {}
    a = cuzarr.create_array(
        store, name="ds", shape=(6, 5), chunks=(2, 2), dtype="f4", zarr_format="n5"
    )
    a[...] = 1.5
    a.attrs["unit"] = "um"
    assert _doc(store, "ds/attributes.json")["unit"] == "um"
    a.resize(3, 5)
    doc = _doc(store, "ds/attributes.json")
    assert doc["dimensions"] == [5, 3] and doc["unit"] == "um"
    assert "ds/0/2" not in store and "ds/0/1" in store  # rows 4..5 are gone
    with pytest.raises(MetadataError, match="reserved"):
        a.attrs["compression"] = "none"
    g = cuzarr.open_group(store, mode="r+")
    g.attrs["n"] = 1
    assert _doc(store, "attributes.json") == {"n5": "4.0.0", "n": 1}


def test_a_dataset_at_the_root_states_the_version():
    store: dict = {}
    cuzarr.create_array(store, shape=(4,), chunks=(4,), dtype="u8", zarr_format="n5")[...] = 7
    doc = _doc(store, "attributes.json")
    assert doc["n5"] == "4.0.0" and doc["dataType"] == "uint64"
    arr = cuzarr.open(store, mode="r")
    assert isinstance(arr, cuzarr.Array) and list(arr[...]) == [7, 7, 7, 7]


def test_edge_blocks_are_written_truncated_and_read_either_way():
    store: dict = {}
    a = cuzarr.create_array(
        store,
        name="d",
        shape=(5, 7),
        chunks=(4, 3),
        dtype=">i4",
        zarr_format="n5",
        compressors=None,
    )
    data = np.arange(35, dtype="i4").reshape(5, 7)
    a[...] = data
    edge = bytes(store["d/2/1"])  # x block 2 (column 6), y block 1 (row 4)
    assert struct.unpack(">HHII", edge[:12]) == (0, 2, 1, 1) and len(edge) == 16
    # a padded edge block (zarr-python 2, TensorStore) reads the same
    padded = np.zeros((4, 3), dtype="i4")
    padded[:1, :1] = data[4:, 6:]
    store["d/2/1"] = struct.pack(">HHII", 0, 2, 3, 4) + padded.T.astype(">i4").tobytes()
    np.testing.assert_array_equal(cuzarr.open_array(store, path="d")[...], data)
    a[4, 6] = -1  # a partial write of a padded edge block rewrites it truncated
    assert len(bytes(store["d/2/1"])) == 16
    assert cuzarr.open_array(store, path="d")[4, 6] == -1


def test_creation_errors():
    store: dict = {}
    with pytest.raises(UnsupportedError, match="shards"):
        cuzarr.create_array(
            store, shape=(4,), chunks=(2,), shards=(4,), dtype="u1", zarr_format="n5"
        )
    with pytest.raises(MetadataError, match="fill value"):
        cuzarr.create_array(store, shape=(4,), dtype="u1", fill_value=9, zarr_format="n5")
    cuzarr.create_array(store, name="ds", shape=(4,), dtype="u1", zarr_format="n5")
    with pytest.raises(ContainsNodeError, match="N5 dataset"):
        cuzarr.create_array(store, name="ds/inner", shape=(4,), dtype="u1", zarr_format="n5")
    with pytest.raises(ContainsNodeError):
        cuzarr.create_array(store, name="ds", shape=(4,), dtype="u1", zarr_format="n5")
    cuzarr.create_array(store, name="ds", shape=(2,), dtype="u1", zarr_format="n5", overwrite=True)
    assert cuzarr.open_array(store, path="ds").shape == (2,)


def test_a_corrupt_block_is_named():
    store: dict = {}
    a = cuzarr.create_array(store, name="d", shape=(4,), chunks=(2,), dtype="u2", zarr_format="n5")
    a[...] = 3
    store["d/1"] = b"\x00\x00\x00\x01\x00\x00\x00\x02garbage"
    with pytest.raises(cuzarr.errors.CorruptChunkError, match="d/1"):
        a[...]


def test_lz4_datasets_round_trip():
    store: dict = {}
    data = (np.arange(3000, dtype="f8") // 5).reshape(50, 60)
    a = cuzarr.create_array(
        store,
        name="d",
        shape=data.shape,
        chunks=(32, 32),
        dtype="f8",
        zarr_format="n5",
        compressors={"type": "lz4", "blockSize": 4096},
    )
    a[...] = data
    assert bytes(store["d/0/0"])[12:20] == b"LZ4Block"
    np.testing.assert_array_equal(cuzarr.open_array(store, path="d")[...], data)


@pytest.mark.parametrize("path", N5_CASES)
def test_conformance_arrays_equal_the_reference_image(path, conformance, reference_image):
    a = cuzarr.open_array(str(conformance / path), mode="r")
    assert a.zarr_format == "n5" and a.shape == (512, 512, 3) and a.chunks == (100, 100, 1)
    np.testing.assert_array_equal(a[...], reference_image)
    np.testing.assert_array_equal(a[450:, 17:400:9, 2], reference_image[450:, 17:400:9, 2])


@pytest.mark.parametrize("writer", ["zarr", "z5py"])
def test_conformance_containers_list_their_datasets(writer, conformance):
    root = cuzarr.open_group(str(conformance / f"{writer}.n5"), mode="r")
    assert sorted(root.array_keys()) == ["gzip", "raw"]
