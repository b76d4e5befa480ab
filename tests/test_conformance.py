"""Arrays written by other implementations (zarr-developers/zarr_implementations data:
zarr-python 2 and z5py), from ``../shared/conformance`` next to the repository; skipped
when that folder is absent.

Every Zarr v2 array there must equal ``reference_image.png`` (read with the small PNG
decoder below: zlib + numpy, nothing to install). z5py's "gzip" chunks are zlib streams,
which the forgiving gzip decoder reads. The N5 arrays are checked in tests/n5/.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import cuzarr

ROOT = (
    Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "zarr_implementations"
)
ZARR_CASES = [f"{w}.zr/{c}" for w in ("zarr", "z5py") for c in ("raw", "zlib", "gzip", "blosc")]
needs_data = pytest.mark.skipif(not ROOT.is_dir(), reason=f"conformance data not found at {ROOT}")


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    """Undo PNG's per-scanline filters (None, Sub, Up, Average, Paeth)."""
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    pos = 0
    for y in range(height):
        kind, line = raw[pos], np.frombuffer(raw, np.uint8, stride, pos + 1).astype(np.int32)
        pos += stride + 1
        cur = line.copy()
        if kind == 2:
            cur = (line + prev) & 0xFF
        elif kind in (1, 3, 4):  # these depend on the byte bpp to the left: go in order
            for x in range(stride):
                a = cur[x - bpp] if x >= bpp else 0
                b, c = prev[x], prev[x - bpp] if x >= bpp else 0
                if kind == 1:
                    pred = a
                elif kind == 3:
                    pred = (a + b) // 2
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                cur[x] = (line[x] + pred) & 0xFF
        elif kind != 0:
            raise ValueError(f"PNG filter type {kind}")
        out[y] = cur
        prev = cur
    return out


def read_png(path: Path) -> np.ndarray:
    """An 8-bit, non-interlaced greyscale/RGB/RGBA PNG -> (height, width, channels) uint8."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0, "only 8-bit, non-interlaced PNGs"
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color]
    pixels = _unfilter(zlib.decompress(b"".join(idat)), height, width * channels, channels)
    return pixels.reshape(height, width, channels)


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return read_png(ROOT / "reference_image.png")


@needs_data
@pytest.mark.parametrize("path", ZARR_CASES)
def test_zarr_v2_arrays_equal_the_reference_image(path, reference):
    a = cuzarr.open_array(str(ROOT / path), mode="r")
    assert a.zarr_format == 2
    assert a.shape == reference.shape == (512, 512, 3)
    np.testing.assert_array_equal(a[...], reference)
    np.testing.assert_array_equal(a[100:300:7, ::-3, 1], reference[100:300:7, ::-3, 1])


@needs_data
@pytest.mark.parametrize("writer", ["zarr", "z5py"])
def test_zarr_v2_hierarchy_lists_its_arrays(writer):
    root = cuzarr.open_group(str(ROOT / f"{writer}.zr"), mode="r")
    assert root.zarr_format == 2
    assert sorted(root.array_keys()) == ["blosc", "gzip", "raw", "zlib"]


@needs_data
def test_migrated_copy_reads_the_same_as_v3(tmp_path, reference):
    shutil.copytree(ROOT / "z5py.zr", tmp_path / "z5py.zr")
    report = cuzarr.migrate(str(tmp_path / "z5py.zr"))
    assert report.ok and len(report.written) == 5
    for codec in ("raw", "zlib", "gzip", "blosc"):
        a = cuzarr.open_array(str(tmp_path / "z5py.zr" / codec), mode="r")
        assert a.zarr_format == 3
        np.testing.assert_array_equal(a[...], reference)
