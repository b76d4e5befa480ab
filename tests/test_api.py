"""The public API: creating, opening, modes, groups, attributes, errors."""

import json
import os

import numpy as np
import pytest

import cuzarr
from cuzarr.errors import (
    ArrayNotFoundError,
    ContainsNodeError,
    CorruptChunkError,
    DeviceUnavailableError,
    GroupNotFoundError,
    IndexingError,
    MetadataError,
    NodeNotFoundError,
    NotAZarrHierarchyError,
    ReadOnlyError,
    ZarrError,
)


def test_import_cuzarr_as_zarr_for_common_code(tmp_path):
    import cuzarr as zarr

    root = zarr.open_group(str(tmp_path / "data.zarr"), mode="w")
    z = root.create_array("temp", shape=(100, 50), chunks=(10, 10), dtype="f4", fill_value=np.nan)
    z[:10] = 1.0
    assert zarr.open(str(tmp_path / "data.zarr"), mode="r")["temp"][9, 3] == 1.0
    assert np.isnan(zarr.open_array(str(tmp_path / "data.zarr"), path="temp", mode="r")[50, 0])


def test_create_writes_zarr_python_style_metadata(tmp_path):
    a = cuzarr.create_array(
        str(tmp_path), name="a", shape=(8, 9), chunks=(4, 4), dtype="<u2",
        attributes={"k": [1, 2]}, dimension_names=("y", "x"),
    )
    doc = json.loads((tmp_path / "a" / "zarr.json").read_text())
    assert doc["codecs"] == [
        {"name": "bytes", "configuration": {"endian": "little"}},
        {"name": "zstd", "configuration": {"level": 0, "checksum": False}},
    ]
    assert doc["chunk_grid"]["configuration"]["chunk_shape"] == [4, 4]
    assert doc["attributes"] == {"k": [1, 2]} and doc["dimension_names"] == ["y", "x"]
    # the parent group was written too (v3 has no implicit groups)
    assert json.loads((tmp_path / "zarr.json").read_text())["node_type"] == "group"
    assert a.chunks == (4, 4) and a.ndim == 2 and a.size == 72 and a.nbytes == 144


def test_missing_chunks_read_as_fill_and_fill_chunks_are_not_written(tmp_path):
    a = cuzarr.create_array(str(tmp_path), shape=(10, 10), chunks=(5, 5), dtype="i2", fill_value=7)
    assert (a[...] == 7).all()
    a[:5, :5] = 7  # equal to the fill value: not stored
    a[5:, 5:] = 1
    assert sorted(os.listdir(tmp_path / "c")) == ["1"]
    assert a.nchunks_initialized == 1
    a[5:, 5:] = 7  # back to fill: the chunk is deleted
    assert a.nchunks_initialized == 0
    with cuzarr.config.set(write_empty_chunks=True):
        a[:5, :5] = 7
    assert a.nchunks_initialized == 1


def test_modes(tmp_path):
    path = str(tmp_path / "x")
    with pytest.raises(NodeNotFoundError):
        cuzarr.open(path, mode="r")
    with pytest.raises(GroupNotFoundError):
        cuzarr.open_group(path, mode="r+")
    g = cuzarr.open_group(path, mode="a")  # creates
    assert isinstance(g, cuzarr.Group)
    with pytest.raises(ContainsNodeError):
        cuzarr.create_group(path)
    a = cuzarr.open_array(path, mode="w", shape=(3,), dtype="i1")
    a[:] = [1, 2, 3]
    assert isinstance(cuzarr.open(path), cuzarr.Array)
    with pytest.raises(ContainsNodeError):
        cuzarr.open_array(path, mode="w-", shape=(3,), dtype="i1")
    r = cuzarr.open_array(path, mode="r")
    with pytest.raises(ReadOnlyError):
        r[0] = 5
    with pytest.raises(ReadOnlyError):
        r.attrs["x"] = 1
    np.testing.assert_array_equal(r[:], [1, 2, 3])
    with pytest.raises(ArrayNotFoundError):
        cuzarr.open_array(str(tmp_path / "nothing"), mode="r")
    with pytest.raises(MetadataError, match="mode"):
        cuzarr.open(path, mode="x")


def test_open_names_what_it_found_when_not_zarr(tmp_path):
    (tmp_path / "photo.tif").write_bytes(b"II*\x00")
    with pytest.raises(NotAZarrHierarchyError, match="photo.tif"):
        cuzarr.open(str(tmp_path), mode="r")
    (tmp_path / "v2").mkdir()
    (tmp_path / "v2" / ".zarray").write_text("{}")
    with pytest.raises(MetadataError, match=r"\.zarray: zarr_format must be 2"):
        cuzarr.open_array(str(tmp_path / "v2"), mode="r")  # v2 is read: this one is malformed
    (tmp_path / "n5").mkdir()
    (tmp_path / "n5" / "attributes.json").write_text('{"n5": "4.0.0"}')
    assert cuzarr.open(str(tmp_path / "n5"), mode="r").zarr_format == "n5"  # N5 is read


def test_groups_members_tree_and_attrs():
    store = {}
    root = cuzarr.create_group(store, attributes={"title": "t"})
    sub = root.create_group("a")
    sub.create_array("x", shape=(4,), dtype="f8")
    root.require_group("a").create_group("b")
    root.create_array("y", shape=(2, 3), dtype="u1")
    assert root.require_group("a").path == "a"
    assert sorted(root.keys()) == ["a", "y"]
    assert [n for n, _ in root.arrays()] == ["y"] and [n for n, _ in root.groups()] == ["a"]
    assert "a/x" in root and "a/zz" not in root
    assert root["a/x"].shape == (4,)
    assert sorted(n for n, _ in root.members(max_depth=None)) == ["a", "a/b", "a/x", "y"]
    tree = root.tree()
    assert "x (4,) float64" in tree and "└── y (2, 3) uint8" in tree
    root.attrs["more"] = {"n": 1}
    root.attrs.update(z=2)
    again = cuzarr.open_group(store, mode="r")
    assert again.attrs.asdict() == {"title": "t", "more": {"n": 1}, "z": 2}
    with pytest.raises(NodeNotFoundError, match="zz"):
        root["zz"]
    with pytest.raises(ContainsNodeError):
        root.require_group("y")
    del root["a"]
    assert "a" not in root and "a/x" not in root


def test_resize_and_append_delete_chunks_outside():
    store = {}
    a = cuzarr.create_array(store, shape=(10, 4), chunks=(3, 4), dtype="i4")
    a[...] = np.arange(40).reshape(10, 4)
    a.resize(5, 4)
    assert a.shape == (5, 4) and sorted(k for k in store if k.startswith("c/")) == ["c/0/0", "c/1/0"]
    a.resize((7, 4))  # regrown: what the shrink removed reads as fill, in kept chunks too
    np.testing.assert_array_equal(a[5:], np.zeros((2, 4)))
    new_shape = a.append(np.full((2, 4), 9), axis=0)
    assert new_shape == (9, 4)
    np.testing.assert_array_equal(a[7:], np.full((2, 4), 9))
    assert cuzarr.open_array(store).shape == (9, 4)
    with pytest.raises(IndexingError):
        a.append(np.zeros((2, 3)), axis=0)


def test_corrupt_chunk_names_the_key():
    store = {}
    a = cuzarr.create_array(store, shape=(8,), chunks=(4,), dtype="i4")
    a[...] = 1
    store["c/1"] = b"this is not zstd"
    with pytest.raises(CorruptChunkError, match="'c/1'"):
        a[...]
    np.testing.assert_array_equal(a[:4], [1, 1, 1, 1])


def test_bad_value_leaves_array_untouched():
    store = {}
    a = cuzarr.create_array(store, shape=(6,), chunks=(2,), dtype="i4")
    a[...] = np.arange(6)
    before = dict(store)
    with pytest.raises(IndexingError):
        a[:] = ["x", "y", "z", "a", "b", "c"]
    with pytest.raises(IndexingError):
        a[:4] = np.ones(5)
    assert store == before


def test_bad_creation_arguments():
    with pytest.raises(MetadataError, match="chunks"):
        cuzarr.create_array({}, shape=(4, 4), chunks=(2,), dtype="i4")
    with pytest.raises(MetadataError, match="shape and dtype"):
        cuzarr.create_array({}, shape=(4,))
    with pytest.raises(MetadataError, match="endian"):
        cuzarr.create_array({}, shape=(4,), dtype="i4", serializer={"name": "bytes"})
    with pytest.raises(ZarrError):
        cuzarr.create_array({}, shape=(4,), dtype="i4", compressors=[{"name": "nope"}])


def test_data_argument_auto_chunks_and_0d():
    a = cuzarr.create_array({}, data=np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(a[...], np.arange(12.0).reshape(3, 4))
    big = cuzarr.create_array({}, shape=(4096, 4096), dtype="f8")
    assert np.prod(big.chunks) * 8 <= 1 << 20
    s = cuzarr.create_array({}, shape=(), dtype="f4", fill_value=2.5)
    assert s[()] == 2.5
    s[()] = 4.0
    assert s[...] == 4.0


def test_device_selection_falls_back_to_cpu_and_gpu_is_explicit():
    a = cuzarr.create_array({}, shape=(3,), dtype="i1")
    assert a.device == "cpu"
    with pytest.raises(ZarrError, match="device"):
        cuzarr.config.set(device="tpu")
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(DeviceUnavailableError):
            cuzarr.open_array(a.store, device="gpu")


def test_config_context_restores():
    with cuzarr.config.set(threads=1, batch_chunks=2):
        assert cuzarr.config["threads"] == 1
        a = cuzarr.create_array({}, shape=(10,), chunks=(1,), dtype="i2")
        a[...] = np.arange(10)
        np.testing.assert_array_equal(a[...], np.arange(10))
    assert cuzarr.config["threads"] is None
    with cuzarr.config.set({"array.write_empty_chunks": True}):
        assert cuzarr.config["write_empty_chunks"] is True


def test_pool_works_after_fork():
    a = cuzarr.create_array({}, shape=(100,), chunks=(10,), dtype="i4")
    a[...] = np.arange(100)
    pid = os.fork()
    if pid == 0:  # child: the pool must be rebuilt, not inherited dead
        ok = np.array_equal(a[...], np.arange(100))
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0


def test_cli_demo_runs(capsys):
    from cuzarr.cli import main

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "values match" in out and "CPU backend" in out and "MiB/s" in out


def test_open_group_on_an_array_says_so(tmp_path):
    cuzarr.create_array(str(tmp_path), shape=(2,), dtype="u1")
    for mode in ("r", "a"):
        with pytest.raises(GroupNotFoundError, match="array"):
            cuzarr.open_group(str(tmp_path), mode=mode)
