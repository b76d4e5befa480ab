"""Shared N5 test helpers: the conformance data folder and its reference picture."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

# ../shared/conformance/zarr_implementations, resolved from the repository root
CONFORMANCE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "zarr_implementations"
)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter_row(kind: int, row: bytearray, above: bytearray, bpp: int) -> None:
    """Undo one scanline's PNG filter in place (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth)."""
    if kind == 0:
        return
    if kind == 2:
        row[:] = (
            ((np.frombuffer(row, np.uint8) + np.frombuffer(above, np.uint8)) & 0xFF)
            .astype(np.uint8)
            .tobytes()
        )
        return
    for i in range(len(row)):
        left = row[i - bpp] if i >= bpp else 0
        if kind == 1:
            pred = left
        elif kind == 3:
            pred = (left + above[i]) >> 1
        elif kind == 4:
            pred = _paeth(left, above[i], above[i - bpp] if i >= bpp else 0)
        else:
            raise ValueError(f"unknown PNG filter {kind}")
        row[i] = (row[i] + pred) & 0xFF


def decode_png(data: bytes) -> np.ndarray:
    """8-bit, non-interlaced PNG (grey, grey+alpha, RGB, RGBA) -> (height, width, channels)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    chunks: dict[bytes, list[bytes]] = {}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks.setdefault(kind, []).append(data[pos + 8 : pos + 8 + length])
        pos += length + 12
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    if depth != 8 or interlace:
        raise ValueError("only 8-bit non-interlaced PNGs are decoded here")
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    stride = width * channels
    raw = zlib.decompress(b"".join(chunks[b"IDAT"]))
    above = bytearray(stride)
    rows = []
    for y in range(height):
        start = y * (stride + 1)
        row = bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter_row(raw[start], row, above, channels)
        rows.append(bytes(row))
        above = row
    return np.frombuffer(b"".join(rows), np.uint8).reshape(height, width, channels)


@pytest.fixture(scope="session")
def reference_image() -> np.ndarray:
    path = CONFORMANCE / "reference_image.png"
    if not path.is_file():
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    return decode_png(path.read_bytes())


@pytest.fixture(scope="session")
def conformance() -> Path:
    """The conformance folder (skips the test when it is absent)."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance data not found at {CONFORMANCE}")
    return CONFORMANCE
