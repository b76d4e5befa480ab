"""``convert``, ``migrate`` and ``info`` when things go wrong: a failed conversion leaves
the destination as it was, so running it again works; messages say what works where
they are read (the CLI's flags on the command line); a re-run migration has nothing to do."""

from __future__ import annotations

import json
from pathlib import Path

import numcodecs
import numpy as np
import pytest
import zarr

import cuzarr
from cuzarr.cli import main
from cuzarr.errors import ContainsNodeError, CorruptChunkError, MetadataError, UnknownCodecError


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _source(root: Path) -> np.ndarray:
    """A group with a 2-D and a 1-D array (the 1-D one last, so a 2-D layout fails late)."""
    data = np.arange(32 * 32, dtype="u2").reshape(32, 32)
    group = cuzarr.create_group(str(root), attributes={"k": 1})
    group.create_array("img", shape=data.shape, chunks=(8, 8), dtype=data.dtype)[...] = data
    group.create_array("z_line", shape=(10,), chunks=(5,), dtype="i4")[...] = 7
    return data


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"chunks": (0, 0)}, MetadataError),
        ({"compressors": "no-such-codec"}, UnknownCodecError),
        ({"chunks": (8, 8), "shards": (12, 12)}, MetadataError),  # not a multiple of chunks
        ({"shards": (16, 16)}, MetadataError),  # 2-D shards, and z_line is 1-D
    ],
    ids=["bad-chunks", "unknown-codec", "bad-shards", "1d-meets-2d-shards"],
)
def test_a_refused_layout_writes_nothing(tmp_path: Path, options: dict, error: type) -> None:
    data = _source(tmp_path / "src")
    dst = tmp_path / "dst"
    with pytest.raises(error):
        cuzarr.convert(str(tmp_path / "src"), str(dst), **options)
    assert not dst.exists()
    # the retry, with a layout that works, needs no overwrite
    out = cuzarr.convert(str(tmp_path / "src"), str(dst), chunks=4)
    np.testing.assert_array_equal(out["img"][...], data)


def test_a_copy_failing_part_way_removes_what_it_wrote_and_only_that(tmp_path: Path) -> None:
    data = _source(tmp_path / "src")
    (tmp_path / "src" / "z_line" / "c" / "1").write_bytes(b"not zstd")  # corrupt, copied last
    dst = tmp_path / "dst"
    (dst / "notes").mkdir(parents=True)
    (dst / "notes" / "readme.txt").write_text("mine")  # not a node: the copy may go here
    with pytest.raises(CorruptChunkError):
        cuzarr.convert(str(tmp_path / "src"), str(dst))
    assert _files(dst) == ["notes/readme.txt"]
    (tmp_path / "src" / "z_line" / "c" / "1").unlink()
    out = cuzarr.convert(str(tmp_path / "src"), str(dst))
    np.testing.assert_array_equal(out["img"][...], data)
    assert (dst / "notes" / "readme.txt").read_text() == "mine"


def test_a_new_destination_folder_goes_when_the_copy_fails(tmp_path: Path) -> None:
    _source(tmp_path / "src")
    (tmp_path / "src" / "img" / "c" / "3" / "3").write_bytes(b"garbage")
    with pytest.raises(CorruptChunkError):
        cuzarr.convert(str(tmp_path / "src"), str(tmp_path / "new" / "dst"))
    assert not (tmp_path / "new" / "dst").exists()


def test_existing_nodes_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    _source(tmp_path / "src")
    dst = tmp_path / "dst"
    cuzarr.create_array(str(dst / "z_line"), shape=(3,), dtype="u1")[...] = 9  # no root node
    before = _files(dst)
    with pytest.raises(ContainsNodeError, match=r"z_line.*overwrite=True"):
        cuzarr.convert(str(tmp_path / "src"), str(dst))
    assert _files(dst) == before
    out = cuzarr.convert(str(tmp_path / "src"), str(dst), overwrite=True)
    np.testing.assert_array_equal(out["z_line"][...], [7] * 10)


def test_cli_convert_names_its_own_flag(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _source(tmp_path / "src")
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    assert main(["convert", src, dst, "--shards", "16,16", "--quiet"]) == 2
    assert "dimensions" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()
    assert main(["convert", src, dst, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["convert", src, dst, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "overwrite=True" not in err
    assert main(["convert", src, dst, "--quiet", "--overwrite"]) == 0


def test_cli_error_after_a_progress_bar_starts_its_own_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _source(tmp_path / "src")
    (tmp_path / "src" / "z_line" / "c" / "1").write_bytes(b"not zstd")
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "dst")]) == 2
    err = capsys.readouterr().err
    assert "z_line [" in err and "\ncuzarr: error:" in err
    assert not (tmp_path / "dst").exists()


def test_cli_on_a_plain_file_says_what_it_is(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for argv in (["info", str(text)], ["migrate", "v3", str(text)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is a file, not a Zarr or N5 store" in err and "nothing found" not in err
    assert main(["convert", str(text), str(tmp_path / "out")]) == 2
    assert "is a file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- migrate, again ---------------------------------------------------------------------------


def test_migrating_twice_has_nothing_to_do(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = zarr.open_group(str(tmp_path), mode="w", zarr_format=2)
    root.create_array("a", shape=(4,), chunks=(2,), dtype="i4")[...] = 3
    assert main(["migrate", "v3", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["migrate", "v3", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 node(s) already have v3 metadata: nothing to do" in out
    assert "no faithful" not in out and "skipped" not in out
    report = cuzarr.migrate(str(tmp_path), remove_v2=True)  # the v2 side can go now
    assert sorted(report.already) == ["", "a"] and not report.written
    assert not list(tmp_path.rglob(".zarray"))
    np.testing.assert_array_equal(cuzarr.open_array(str(tmp_path / "a"), mode="r")[...], 3)


def test_a_zarr_json_that_disagrees_is_reported(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path), shape=(4,), chunks=(2,), dtype="i4", zarr_format=2)
    cuzarr.migrate(str(tmp_path))
    cuzarr.open_array(str(tmp_path), mode="r+", zarr_format=3).resize((6,))  # v3 view only
    report = cuzarr.migrate(str(tmp_path), remove_v2=True)
    assert not report.ok and "differs from what its v2 metadata gives" in dict(report.skipped)[""]
    assert (tmp_path / ".zarray").exists()  # kept: the two views disagree


def test_an_unmigratable_array_with_v3_metadata_is_not_reported_as_skipped(
    tmp_path: Path,
) -> None:
    cat = numcodecs.Categorize(["a", "b"], dtype="<U1", astype="|u1")
    zarr.create_array(
        str(tmp_path), shape=(2,), chunks=(2,), dtype="<U1", zarr_format=2, filters=[cat]
    )
    assert not cuzarr.migrate(str(tmp_path)).ok  # no faithful v3 form
    group = {"zarr_format": 3, "node_type": "group", "attributes": {}}
    (tmp_path / "zarr.json").write_text(json.dumps(group))  # v3 metadata, by hand
    report = cuzarr.migrate(str(tmp_path))
    assert report.ok and report.already == [""]
