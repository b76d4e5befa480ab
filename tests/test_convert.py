"""``cuzarr.convert`` and ``cuzarr convert``: format and layout changes, attributes
carried, region-by-region copying with bounded memory, progress, the CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import cuzarr
from cuzarr.array import Array
from cuzarr.cli import main
from cuzarr.codecs.sharding import ShardingCodec
from cuzarr.convert import ProgressBar, plan_regions
from cuzarr.errors import ContainsNodeError, MetadataError


def _n5_source(store: dict) -> np.ndarray:
    data = (np.arange(90 * 70 * 4) % 251).astype("u2").reshape(90, 70, 4)
    root = cuzarr.create_group(store, zarr_format="n5", attributes={"origin": "n5"})
    root.create_group("sub", attributes={"level": 1})
    a = root.create_array(
        "sub/vol",
        shape=data.shape,
        chunks=(32, 32, 4),
        dtype="u2",
        attributes={"resolution": [4, 4, 40]},
    )
    a[...] = data
    return data


def test_n5_hierarchy_to_sharded_v3():
    src: dict = {}
    data = _n5_source(src)
    dst: dict = {}
    root = cuzarr.convert(src, dst, chunks=(16, 16, 4), shards=(64, 64, 4))
    assert root.zarr_format == 3 and root.attrs.asdict() == {"origin": "n5"}
    sub = cuzarr.open_group(dst, path="sub", mode="r")
    assert sub.zarr_format == 3 and sub.attrs["level"] == 1
    vol = sub["vol"]
    assert isinstance(vol.codecs[0], ShardingCodec)
    assert vol.codecs[0].chunk_shape == (16, 16, 4) and vol.metadata.chunk_shape == (64, 64, 4)
    assert vol.attrs["resolution"] == [4, 4, 40]
    np.testing.assert_array_equal(vol[...], data)
    assert json.loads(bytes(dst["sub/vol/zarr.json"]))["node_type"] == "array"


def test_v3_rechunk_keeps_fill_attributes_and_names():
    src: dict = {}
    data = np.random.default_rng(0).random((50, 40)).astype("f4")
    data[:25] = np.nan
    a = cuzarr.create_array(
        src,
        shape=data.shape,
        chunks=(10, 40),
        dtype="f4",
        fill_value=np.nan,
        dimension_names=("y", "x"),
        attributes={"k": "v"},
    )
    a[...] = data
    b = cuzarr.convert(
        src, {}, chunks=(25, 8), compressors={"name": "gzip", "configuration": {"level": 2}}
    )
    assert isinstance(b, Array) and b.chunks == (25, 8) and np.isnan(b.fill_value)
    assert b.dimension_names == ("y", "x") and b.attrs["k"] == "v"
    assert [c.name for c in b.compressors] == ["gzip"]
    np.testing.assert_array_equal(b[...], data)
    # all-NaN regions were not written: they read as the fill value
    assert not any(k.startswith("c/0/") for k in b.store.list_prefix(""))


def test_layout_defaults_follow_the_source():
    src: dict = {}
    a = cuzarr.create_array(src, shape=(64, 64), chunks=(8, 8), shards=(32, 32), dtype="i2")
    a[...] = 1
    same = cuzarr.convert(src, {})
    assert same.codecs[0].chunk_shape == (8, 8) and same.metadata.chunk_shape == (32, 32)
    flat = cuzarr.convert(src, {}, chunks=(16, 16))
    assert not isinstance(flat.codecs[0], ShardingCodec) and flat.chunks == (16, 16)
    resharded = cuzarr.convert(src, {}, shards=(64, 64))
    assert resharded.codecs[0].chunk_shape == (8, 8) and resharded.metadata.chunk_shape == (64, 64)
    n5 = cuzarr.convert(src, {}, zarr_format="n5")  # N5 has no shards: inner chunks only
    assert n5.zarr_format == "n5" and n5.chunks == (8, 8)
    assert (n5[...] == 1).all()
    with pytest.raises(MetadataError, match="chunks"):
        cuzarr.convert(src, {}, chunks=(4, 4, 4))


def test_to_v2_and_from_a_sub_path():
    src: dict = {}
    data = _n5_source(src)
    v2 = cuzarr.convert(src, {}, path="sub/vol", zarr_format=2, chunks=50)
    assert v2.zarr_format == 2 and v2.chunks == (50, 50, 50)
    np.testing.assert_array_equal(v2[...], data)
    group = cuzarr.open_group(src, mode="r")
    np.testing.assert_array_equal(cuzarr.convert(group, {}, path="sub/vol")[...], data)
    np.testing.assert_array_equal(cuzarr.convert(group["sub/vol"], {})[...], data)


@pytest.mark.parametrize(
    ("budget", "largest", "count"),
    [(64 * 2**10, 64 * 2**10, 4), (20 * 2**10, 16 * 2**10, 16), (100, 16 * 2**10, 16)],
)
def test_bounded_memory_reads_aligned_regions(monkeypatch, budget, largest, count):
    src: dict = {}
    data = np.arange(256 * 256, dtype="u4").reshape(256, 256)  # 256 KiB
    cuzarr.create_array(src, shape=data.shape, chunks=(32, 32), dtype="u4")[...] = data
    reads: list[tuple[int, tuple]] = []
    original = Array.__getitem__

    def recording(self, selection):
        out = original(self, selection)
        if self.store is source_store:
            reads.append((np.asarray(out).nbytes, selection))
        return out

    source = cuzarr.open_array(src, mode="r")
    source_store = source.store
    monkeypatch.setattr(Array, "__getitem__", recording)
    with cuzarr.config.set(batch_bytes=budget):
        out = cuzarr.convert(source, {}, chunks=(16, 16), shards=(64, 64))
    monkeypatch.undo()
    # never more than the budget, except that one shard (64 x 64 x 4 bytes) is the minimum
    assert max(n for n, _ in reads) == largest and len(reads) == count
    for _, region in reads:  # whole shards: every region starts and ends on a shard edge
        assert all(s.start % 64 == 0 and (s.stop % 64 == 0 or s.stop == 256) for s in region)
    np.testing.assert_array_equal(out[...], data)


def test_plan_regions_grows_along_the_last_axes():
    a = cuzarr.create_array({}, shape=(100, 100, 100), chunks=(10, 10, 10), dtype="u1")
    regions = plan_regions(a, budget=20_000)  # 10 x 10 x 100 = 10 000 bytes: two rows of chunks
    assert regions[0] == (slice(0, 10), slice(0, 20), slice(0, 100))
    assert len(regions) == 50
    covered = np.zeros(a.shape, bool)
    for r in regions:
        assert not covered[r].any()
        covered[r] = True
    assert covered.all()
    assert plan_regions(a, budget=1)[0] == (slice(0, 10),) * 3  # one chunk at least


def test_progress_bar_on_stderr(capsys):
    src: dict = {}
    cuzarr.create_array(src, name="img", shape=(40, 40), chunks=(10, 10), dtype="u1")[...] = 3
    cuzarr.convert(src, {}, progress=True)
    err = capsys.readouterr().err
    assert "img [" in err and "100.0%" in err and err.endswith("\n")
    stream = io.StringIO()
    bar = ProgressBar("x", 4 * 2**20, stream=stream)
    bar.update(2**21)
    bar.close()
    assert "x [###############...............]  50.0% 2.0/4.0 MiB" in stream.getvalue()
    capsys.readouterr()
    cuzarr.convert(src, {})
    assert capsys.readouterr().err == ""


def test_overwrite(tmp_path):
    src: dict = {}
    cuzarr.create_array(src, shape=(4,), dtype="u1")[...] = 1
    dst: dict = {}
    cuzarr.convert(src, dst)
    with pytest.raises(ContainsNodeError):
        cuzarr.convert(src, dst)
    cuzarr.create_array(src, shape=(6,), dtype="u1", overwrite=True)[...] = 2
    assert list(cuzarr.convert(src, dst, overwrite=True)[...]) == [2] * 6
    cuzarr.create_array(str(tmp_path / "a"), shape=(2,), dtype="u1")
    with pytest.raises(ContainsNodeError, match="into itself"):
        cuzarr.convert(str(tmp_path / "a"), str(tmp_path / "." / "a"), overwrite=True)


def test_cli(tmp_path, capsys):
    src = tmp_path / "in.n5"
    data = _n5_source_folder(src)
    rc = main(
        [
            "convert",
            str(src),
            str(tmp_path / "out.zarr"),
            "--chunks",
            "16,16,4",
            "--shards",
            "32,64,4",
            "--compressor",
            "blosc",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0 and "converted" in captured.out and "100.0%" in captured.err
    vol = cuzarr.open_array(str(tmp_path / "out.zarr"), path="sub/vol", mode="r")
    assert vol.metadata.chunk_shape == (32, 64, 4)
    assert [c.name for c in vol.codecs[0].codecs if c.kind == "bytes_to_bytes"] == ["blosc"]
    np.testing.assert_array_equal(vol[...], data)
    rc = main(
        [
            "convert",
            str(src),
            str(tmp_path / "o2"),
            "--zarr-format",
            "n5",
            "--quiet",
            "--compressor",
            '{"type": "bzip2", "blockSize": 2}',
        ]
    )
    assert rc == 0 and capsys.readouterr().err == ""
    assert (
        cuzarr.open_array(str(tmp_path / "o2"), path="sub/vol").metadata.compression["type"]
        == "bzip2"
    )
    assert main(["convert", str(src), str(tmp_path / "o3"), "--chunks", "16,x"]) == 2
    assert "comma-separated integers" in capsys.readouterr().err
    assert main(["convert", str(src), str(tmp_path / "o4"), "--zarr-format", "4"]) == 2


def _n5_source_folder(path) -> np.ndarray:
    from cuzarr.stores import make_store

    return _n5_source(make_store(str(path), mode="w"))
