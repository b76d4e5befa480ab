"""``cuzarr.migrate`` / ``cuzarr migrate v3``: v3 metadata beside v2 data, in place.

A v2 hierarchy mixing order C and F, filters, blosc, separators and groups is written by
zarr-python; after migration it must read the same as v3 in cuzarr, zarr-python 3 and
tensorstore (arrays whose codecs tensorstore knows), and still as v2 in zarr-python,
with no chunk rewritten. Arrays with no faithful v3 form are skipped and named.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from v2_helpers import assert_same, chunk_files, read_json, sample

import cuzarr
from cuzarr import cli
from cuzarr.errors import NodeNotFoundError, UnsupportedError

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")

# path -> (data, create_array kwargs, readable by tensorstore's zarr3 driver)
ARRAYS = {
    "c_blosc": (sample("<i4", (9, 7)), dict(compressors=numcodecs.Blosc("lz4", 5, 1)), True),
    "g/f_big": (
        sample(">f8", (9, 7)),
        dict(order="F", compressors=numcodecs.Blosc("zstd", 3, 2)),
        True,
    ),
    "g/auto_u1": (sample("|u1", (9, 7)), dict(compressors=numcodecs.Blosc("zstd", 1, -1)), True),
    "g/nested/slash": (
        sample("<u2", (9, 7)),
        dict(chunk_key_encoding={"name": "v2", "separator": "/"}, compressors=numcodecs.GZip(4)),
        True,
    ),
    "g/delta_f": (
        sample(">i4", (9, 7)),
        dict(order="F", filters=[numcodecs.Delta(">i4")], compressors=numcodecs.Zlib(1)),
        False,
    ),
    "fso": (
        sample("<f8", (9, 7)),
        dict(
            filters=[numcodecs.FixedScaleOffset(0, 100, dtype="<f8", astype="<i4")],
            compressors=numcodecs.Zstd(1),
        ),
        False,
    ),
    "packbits": (
        sample("|b1", (9, 7)),
        dict(filters=[numcodecs.PackBits()], compressors=None),
        False,
    ),
    "text": (sample("O", (9, 7)), dict(dtype=str, compressors=numcodecs.Blosc("lz4", 5, 1)), False),
    "when": (sample("<M8[ms]", (9, 7)), dict(order="F"), False),
    "zero_d": (np.array(3.5, dtype="<f4"), dict(chunks=()), True),
}


def write_v2(path):
    root = zarr.open_group(str(path), mode="w", zarr_format=2, attributes={"title": "t"})
    root.create_group("g", attributes={"level": 1}).create_group("nested")
    for name, (data, kw, _) in ARRAYS.items():
        kw = dict(kw)
        dtype = kw.pop("dtype", data.dtype)
        chunks = kw.pop("chunks", (4, 3))
        z = root.create_array(name, shape=data.shape, chunks=chunks, dtype=dtype, **kw)
        z[...] = data
        z.attrs["name"] = name
    return {name: zarr.open_array(str(path / name), mode="r")[...] for name in ARRAYS}


def test_migrated_hierarchy_reads_the_same_everywhere(tmp_path):
    expected = write_v2(tmp_path)
    chunks_before = chunk_files(tmp_path)
    report = cuzarr.migrate(str(tmp_path))
    assert report.ok, str(report)
    assert sorted(report.written) == sorted(["", "g", "g/nested", *ARRAYS])
    assert chunk_files(tmp_path) == chunks_before  # no chunk rewritten
    for name in ARRAYS:
        a = cuzarr.open_array(str(tmp_path / name), mode="r")
        assert a.zarr_format == 3, name
        assert_same(a[...], expected[name])
        assert a.attrs["name"] == name
        assert_same(
            zarr.open_array(str(tmp_path / name), mode="r", zarr_format=3)[...], expected[name]
        )
        assert_same(
            zarr.open_array(str(tmp_path / name), mode="r", zarr_format=2)[...], expected[name]
        )
    root = cuzarr.open_group(str(tmp_path), mode="r")
    assert root.zarr_format == 3 and root.attrs.asdict() == {"title": "t"}
    assert root["g"].attrs["level"] == 1
    assert sorted(root.array_keys()) == sorted(n for n in ARRAYS if "/" not in n)
    assert cuzarr.open_group(str(tmp_path), mode="r", zarr_format=2).zarr_format == 2


def test_tensorstore_reads_the_migrated_arrays(tmp_path):
    ts = pytest.importorskip("tensorstore")
    expected = write_v2(tmp_path)
    cuzarr.migrate(str(tmp_path))
    for name, (_, _, ts_reads) in ARRAYS.items():
        if not ts_reads:  # numcodecs.* codecs, strings, datetimes: not in tensorstore's zarr3
            continue
        t = ts.open(
            {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(tmp_path / name)}}
        ).result()
        assert_same(t.read().result(), expected[name])


def test_migrated_documents(tmp_path):
    write_v2(tmp_path)
    report = cuzarr.migrate(str(tmp_path))
    doc = read_json(tmp_path / "g" / "f_big" / "zarr.json")
    assert doc == report.documents["g/f_big"]
    assert doc["chunk_key_encoding"] == {"name": "v2", "configuration": {"separator": "."}}
    assert doc["codecs"] == [
        {"name": "transpose", "configuration": {"order": [1, 0]}},
        {"name": "bytes", "configuration": {"endian": "big"}},
        {"name": "blosc", "configuration": {"typesize": 8, "cname": "zstd", "clevel": 3,
                                            "shuffle": "bitshuffle", "blocksize": 0}},
    ]  # fmt: skip
    assert doc["attributes"] == {"name": "g/f_big"}
    auto = read_json(tmp_path / "g" / "auto_u1" / "zarr.json")["codecs"][-1]["configuration"]
    assert auto["shuffle"] == "bitshuffle" and auto["typesize"] == 1  # AUTOSHUFFLE resolved
    delta = read_json(tmp_path / "g" / "delta_f" / "zarr.json")["codecs"]
    assert [c["name"] for c in delta] == ["transpose", "numcodecs.delta", "bytes", "numcodecs.zlib"]
    assert read_json(tmp_path / "g" / "nested" / "slash" / "zarr.json")["chunk_key_encoding"][
        "configuration"
    ] == {"separator": "/"}
    assert read_json(tmp_path / "zarr.json") == {
        "zarr_format": 3,
        "node_type": "group",
        "attributes": {"title": "t"},
    }


def _v2_doc(path, **changes):
    doc = read_json(path / ".zarray")
    doc.update(changes)
    (path / ".zarray").write_text(json.dumps(doc))


def test_arrays_without_a_faithful_v3_form_are_skipped_and_named(tmp_path):
    root = zarr.open_group(str(tmp_path), mode="w", zarr_format=2)
    cat = numcodecs.Categorize(["a", "b"], dtype="<U1", astype="|u1")
    root.create_array("cat", shape=(4,), chunks=(2,), dtype="<U1", filters=[cat])[:] = [
        "a",
        "b",
        "a",
        "c",
    ]
    q = numcodecs.Quantize(2, dtype="<f8", astype="<f4")
    root.create_array("quant", shape=(4,), chunks=(2,), dtype="<f8", filters=[q])[:] = 1.234
    root.create_array("mixed", shape=(2,), chunks=(2,), dtype=[("a", "<i4"), ("b", ">i4")])
    root.create_array("pickled", shape=(2,), chunks=(2,), dtype="<i4")
    _v2_doc(tmp_path / "pickled", dtype="|O", filters=[{"id": "pickle", "protocol": 5}])
    root.create_array("fine", shape=(2,), chunks=(2,), dtype="<i4")[:] = 7
    nulled = root.create_array("nulled", shape=(4,), chunks=(2,), dtype="<i2")
    nulled[2:] = 5
    _v2_doc(tmp_path / "nulled", fill_value=None)
    report = cuzarr.migrate(str(tmp_path))
    skipped = dict(report.skipped)
    assert sorted(skipped) == ["cat", "mixed", "pickled", "quant"]
    assert "categorize" in skipped["cat"] and "quantize" in skipped["quant"]
    assert "byte orders" in skipped["mixed"] and "'pickle'" in skipped["pickled"]
    assert "cat" in str(report) and not report.ok
    for name in skipped:  # nothing written for them: they still open as v2 only
        assert not (tmp_path / name / "zarr.json").exists()
    assert cuzarr.open_array(str(tmp_path / "cat"), mode="r").zarr_format == 2
    with pytest.raises(UnsupportedError, match="object codec 'pickle'"):
        cuzarr.open_array(str(tmp_path / "pickled"), mode="r")
    assert_same(cuzarr.open_array(str(tmp_path / "fine"), zarr_format=3)[...], [7, 7])
    # null fill: the default (0), the value zarr-python 3 reads for missing chunks too
    assert read_json(tmp_path / "nulled" / "zarr.json")["fill_value"] == 0
    assert_same(zarr.open_array(str(tmp_path / "nulled"), zarr_format=3)[...], [0, 0, 5, 5])
    assert_same(zarr.open_array(str(tmp_path / "nulled"), zarr_format=2)[...], [0, 0, 5, 5])


def test_dry_run_writes_nothing_and_remove_v2_cleans_up(tmp_path):
    write_v2(tmp_path)
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    report = cuzarr.migrate(str(tmp_path), dry_run=True, remove_v2=True)
    assert report.dry_run and report.written and report.removed
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    cuzarr.migrate(str(tmp_path), remove_v2=True)
    assert not list(tmp_path.rglob(".zarray")) and not list(tmp_path.rglob(".zgroup"))
    assert_same(cuzarr.open_array(str(tmp_path / "c_blosc"), mode="r")[...], ARRAYS["c_blosc"][0])
    with pytest.raises(NodeNotFoundError):
        cuzarr.open_array(str(tmp_path / "c_blosc"), mode="r", zarr_format=2)


def test_existing_zarr_json_is_kept_unless_overwrite(tmp_path):
    write_v2(tmp_path)
    cuzarr.migrate(str(tmp_path))
    again = cuzarr.migrate(str(tmp_path))
    assert not again.written and again.already and not again.skipped
    assert cuzarr.migrate(str(tmp_path), overwrite=True).ok


def test_consolidated_v2_root_gets_v3_consolidated_metadata(tmp_path):
    write_v2(tmp_path)
    zarr.consolidate_metadata(str(tmp_path), zarr_format=2)
    cuzarr.migrate(str(tmp_path))
    root = cuzarr.open_group(str(tmp_path), mode="r")
    assert root.zarr_format == 3 and root.consolidated is not None
    assert sorted(k for k, _ in root.members(max_depth=None)) == sorted(["g", "g/nested", *ARRAYS])
    z = zarr.open_consolidated(str(tmp_path), zarr_format=3)
    assert_same(z["g/f_big"][...], ARRAYS["g/f_big"][0])


def test_implicit_v2_groups_get_group_metadata(tmp_path):
    a = cuzarr.create_array(
        str(tmp_path), name="x/y", data=np.arange(3), chunks=(2,), zarr_format=2
    )
    assert a.zarr_format == 2
    for folder in ("", "x"):  # real v2 stores may lack intermediate .zgroup files
        (tmp_path / folder / ".zgroup").unlink()
    report = cuzarr.migrate(str(tmp_path))
    assert sorted(report.written) == ["", "x", "x/y"]
    root = cuzarr.open_group(str(tmp_path), mode="r")
    assert_same(root["x/y"][...], np.arange(3))


def test_migrate_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(UnsupportedError, match="v2 -> v3"):
        cuzarr.migrate(str(tmp_path), zarr_format=2)
    cuzarr.create_group(str(tmp_path / "v3"))
    with pytest.raises(NodeNotFoundError, match="no Zarr v2 metadata"):
        cuzarr.migrate(str(tmp_path / "v3"))


def test_cli_migrate_dry_run_then_real(tmp_path, capsys):
    write_v2(tmp_path)
    assert cli.main(["migrate", "v3", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would write zarr.json for 13 node(s)" in out and "+ /g/f_big" in out
    assert not (tmp_path / "zarr.json").exists()
    assert cli.main(["migrate", "v3", str(tmp_path)]) == 0
    assert "wrote zarr.json for 13 node(s)" in capsys.readouterr().out
    assert cuzarr.open_group(str(tmp_path), mode="r").zarr_format == 3
    # a skipped array makes the exit status 1; a bad path is a clean error
    cat = numcodecs.Categorize(["a"], dtype="<U1", astype="|u1")
    zarr.create_array(
        str(tmp_path / "cat"), shape=(2,), chunks=(2,), dtype="<U1", zarr_format=2, filters=[cat]
    )
    assert cli.main(["migrate", "v3", str(tmp_path / "cat")]) == 1
    assert "categorize" in capsys.readouterr().out
    assert cli.main(["migrate", "v3", str(tmp_path / "missing")]) == 2
    assert "no Zarr v2 metadata" in capsys.readouterr().err
