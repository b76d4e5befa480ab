"""ZipStore: interop with zipfile and zarr-python, offsets, duplicates, no deletion."""

from __future__ import annotations

import pickle
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cuzarr.errors import InvalidKeyError, StoreError, UnsupportedError, ZarrError
from cuzarr.stores import ByteRange, LocalStore, ZipStore


def test_written_archive_is_read_by_zipfile(tmp_path: Path) -> None:
    with ZipStore(tmp_path / "s.zip", mode="w") as store:
        store.set("zarr.json", b"{}")
        store.set("a/c/0/0", bytes(range(256)))
    with zipfile.ZipFile(tmp_path / "s.zip") as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["zarr.json", "a/c/0/0"]
        assert zf.read("a/c/0/0") == bytes(range(256))
        info = zf.getinfo("zarr.json")
        assert info.compress_type == zipfile.ZIP_STORED
        assert info.external_attr >> 16 == 0o644


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_zipped_folder_store_is_readable(tmp_path: Path, compression: int) -> None:
    folder = LocalStore(tmp_path / "folder")
    content = {"zarr.json": b"{}", "g/zarr.json": b"[]", "g/a/c/1/2": bytes(range(200))}
    folder.set_many(list(content.items()))
    with zipfile.ZipFile(tmp_path / "z.zip", "w", compression=compression) as zf:
        for key in folder.list():
            zf.write(tmp_path / "folder" / key, key)
        zf.mkdir("empty-folder") if hasattr(zf, "mkdir") else zf.writestr("empty-folder/", b"")
    with ZipStore(tmp_path / "z.zip") as store:
        assert sorted(store.list()) == sorted(content)
        assert store.list_dir("g/") == (["zarr.json"], ["a"])
        with pytest.raises(InvalidKeyError):  # a folder entry is no key
            store.get("empty-folder/")
        for key, value in content.items():
            assert store.get(key) == value
        assert bytes(store.get("g/a/c/1/2", ByteRange(10, 20))) == bytes(range(10, 20))
        assert bytes(store.get("g/a/c/1/2", ByteRange.suffix(5))) == bytes(range(195, 200))


def test_stored_range_reads_skip_a_local_extra_field(tmp_path: Path) -> None:
    # force_zip64 puts a ZIP64 extra field in the local header only: the data offset
    # must come from the local header, not from the central directory.
    value = bytes(range(100))
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as zf:
        zf.writestr("first", b"abc")
        with zf.open("k", "w", force_zip64=True) as f:
            f.write(value)
    with ZipStore(tmp_path / "z.zip") as store:
        info = store._zf.getinfo("k")
        assert len(info.extra) == 0
        assert store.get("k") == value
        assert store.get("k", ByteRange(40, 50)) == value[40:50]
        assert store.get("first", ByteRange(-1)) == b"c"


def test_zarr_python_archive_reads(tmp_path: Path) -> None:
    import zarr

    data = np.arange(100, dtype="int32").reshape(10, 10)
    zstore = zarr.storage.ZipStore(tmp_path / "zp.zip", mode="w")
    arr = zarr.create_array(zstore, name="g/arr", shape=(10, 10), chunks=(5, 5), dtype="int32",
                            compressors=None)  # fmt: skip
    arr[:] = data
    zstore.close()
    with ZipStore(tmp_path / "zp.zip") as store, zipfile.ZipFile(tmp_path / "zp.zip") as zf:
        keys = sorted(store.list())
        assert "zarr.json" in keys and "g/arr/zarr.json" in keys
        assert "g/arr/c/1/1" in keys
        for key in keys:
            assert store.get(key) == zf.read(key)
        assert store.list_dir("g/arr/c/") == ([], ["0", "1"])
        chunk = np.frombuffer(store.get("g/arr/c/1/0"), dtype="<i4").reshape(5, 5)
        np.testing.assert_array_equal(chunk, data[5:, :5])


def test_zarr_python_reads_our_archive(tmp_path: Path) -> None:
    import zarr

    data = np.arange(24, dtype="float64").reshape(4, 6)
    zarr.create_array(tmp_path / "src", shape=(4, 6), chunks=(2, 3), dtype="float64")[:] = data
    source = LocalStore(tmp_path / "src")
    with ZipStore(tmp_path / "copy.zip", mode="w") as store:
        store.set_many([(key, source.get(key)) for key in source.list()])
    zstore = zarr.storage.ZipStore(tmp_path / "copy.zip", mode="r")
    np.testing.assert_array_equal(zarr.open_array(zstore, mode="r")[:], data)
    zstore.close()


def test_rewriting_a_key_appends_a_duplicate_silently(tmp_path: Path) -> None:
    with ZipStore(tmp_path / "z.zip", mode="w") as store:
        store.set("k", b"one")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            store.set("k", b"two")
        assert store.get("k") == b"two"
        assert list(store.list()) == ["k"]
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert zf.namelist() == ["k", "k"]
    with ZipStore(tmp_path / "z.zip") as store:
        assert store.get("k") == b"two"


def test_no_deletion(tmp_path: Path) -> None:
    with ZipStore(tmp_path / "z.zip", mode="w") as store:
        store.set("a/k", b"v")
        store.delete("a/missing")
        store.delete_many(["x", "y"])
        store.delete_prefix("b/")
        with pytest.raises(UnsupportedError, match="cannot be deleted") as info:
            store.delete("a/k")
        assert isinstance(info.value, ZarrError)
        with pytest.raises(UnsupportedError):
            store.delete_prefix("")
        assert store.get("a/k") == b"v"


def test_compressed_members(tmp_path: Path) -> None:
    value = bytes(1000) + bytes(range(100))
    with ZipStore(tmp_path / "z.zip", mode="w", compression=zipfile.ZIP_DEFLATED) as store:
        store.set("k", value)
        assert store.get("k", ByteRange(-100)) == value[-100:]  # readable while writing
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert zf.getinfo("k").compress_type == zipfile.ZIP_DEFLATED
    with ZipStore(tmp_path / "z.zip") as store:
        assert bytes(store.get("k", ByteRange(995, 1005))) == value[995:1005]
        assert store.get("k") == value


def test_append_mode_adds_to_an_archive(tmp_path: Path) -> None:
    with ZipStore(tmp_path / "z.zip", mode="w") as store:
        store.set("a", b"1")
    with ZipStore(tmp_path / "z.zip", mode="a") as store:
        assert store.get("a") == b"1"
        store.set("b", b"2")
    with ZipStore(tmp_path / "z.zip") as store:
        assert sorted(store.list()) == ["a", "b"]
    with ZipStore(tmp_path / "new.zip", mode="a") as store:  # "a" creates
        store.set("c", b"3")
    with pytest.raises(StoreError):
        ZipStore(tmp_path / "new.zip", mode="x")


def test_concurrent_writes_and_reads(tmp_path: Path) -> None:
    store = ZipStore(tmp_path / "z.zip", mode="w")

    def writer(t: int) -> None:
        for i in range(50):
            store.set(f"t{t}/{i}", bytes([t, i]) * 50)
            assert store.get(f"t{t}/{i}") == bytes([t, i]) * 50

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    with ZipStore(tmp_path / "z.zip") as ro:
        keys = [f"t{t}/{i}" for t in range(4) for i in range(50)]
        assert sorted(ro.list()) == sorted(keys)
        assert ro.get_many(keys) == [bytes([int(k[1]), int(k.split("/")[1])]) * 50 for k in keys]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="missing.zip"):
        ZipStore(tmp_path / "missing.zip")
    (tmp_path / "not.zip").write_bytes(b"plain text, no archive")
    with pytest.raises(StoreError, match="not a readable zip"):
        ZipStore(tmp_path / "not.zip")
    with pytest.raises(StoreError, match="mode"):
        ZipStore(tmp_path / "z.zip", mode="r+")
    store = ZipStore(tmp_path / "z.zip", mode="w")
    with pytest.raises(StoreError, match="key"):
        store.set("../escape", b"x")
    store.close()
    store.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        store.get("k")


def test_pickle_read_only(tmp_path: Path) -> None:
    with ZipStore(tmp_path / "z.zip", mode="w") as store:
        store.set("k", b"v")
        with pytest.raises(UnsupportedError):
            pickle.dumps(store)
    with ZipStore(tmp_path / "z.zip") as store:
        again = pickle.loads(pickle.dumps(store))
        assert again.get("k") == b"v" and again.read_only
        again.close()
    assert repr(store) == f"ZipStore({str(tmp_path / 'z.zip')!r}, mode='r')"


def test_forgotten_close_still_finishes_the_archive(tmp_path: Path) -> None:
    store = ZipStore(tmp_path / "z.zip", mode="w")
    store.set("k", b"v")
    del store
    with zipfile.ZipFile(tmp_path / "z.zip") as zf:
        assert zf.read("k") == b"v"
