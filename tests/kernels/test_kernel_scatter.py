"""copy_boxes / copy_segments kernels: chunks into strided outputs, against numpy slicing."""

import numpy as np
import pytest

pytest.importorskip("numba")

from cuzarr.grid import RegularChunkGrid  # noqa: E402
from cuzarr.indexing import orthogonal_selection  # noqa: E402
from cuzarr.kernels.scatter import copy_boxes, copy_segments  # noqa: E402
from cuzarr.pipeline.device_plan import box_plan  # noqa: E402


def read_with_kernel(data, chunks, selection, missing=(), fill=0, out_order="C"):
    """Chunk ``data``, then read ``selection`` with box_plan + copy_boxes; numpy's answer too."""
    sel = orthogonal_selection(selection, data.shape, RegularChunkGrid(chunks).dims(data.shape))
    out = np.full(sel.out_shape, 99, dtype=data.dtype, order=out_order)
    view = sel.out_view(out)
    decoded, items = [], []
    pos = 0
    for p in sel.projections:
        region = tuple(slice(c * n, (c + 1) * n) for c, n in zip(p.chunk_coords, chunks))
        chunk = np.full(chunks, fill, dtype=data.dtype)  # edge chunks are full size, padded
        part = data[region]
        chunk[tuple(slice(0, s) for s in part.shape)] = part
        if p.chunk_coords in missing:
            items.append((p.chunk_selection, p.out_selection, chunks, -1))
            continue
        decoded.append(chunk.reshape(-1).view(np.uint8))
        items.append((p.chunk_selection, p.out_selection, chunks, pos))
        pos += chunk.nbytes
    work = np.concatenate(decoded) if decoded else np.zeros(8, np.uint8)
    # the flat destination: the whole of ``out``; element 0 of ``view`` is somewhere in it
    origin = view.__array_interface__["data"][0] - out.__array_interface__["data"][0]
    plan = box_plan(items, data.itemsize, view.strides, origin, dst_align=8)
    assert not plan.unsupported
    unit = np.dtype(f"u{plan.unit}")
    flat = out.reshape(-1, order="A").view(np.uint8)
    fill_units = np.full(1, fill, dtype=data.dtype).view(unit)
    copy_boxes(work.view(unit), flat.view(unit), fill_units, plan.src_base, plan.src_strides,
               plan.dst_base, plan.dst_strides, plan.counts, plan.per)  # fmt: skip
    want = data.copy()
    for coords in missing:
        want[tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, chunks))] = fill
    return out, want[selection], plan


DATA = np.arange(7 * 10, dtype="<i4").reshape(7, 10)


@pytest.mark.parametrize(
    "selection",
    [
        (slice(None), slice(None)),  # edge chunks
        (slice(1, 6), slice(2, 9, 3)),  # steps
        (3, slice(None, None, 2)),  # an int drops a dimension
        (slice(None, None, -1), slice(8, 1, -2)),  # negative steps: flipped output
        (slice(2, 3), 4),
    ],
)
def test_selections(selection):
    out, want, _ = read_with_kernel(DATA, (3, 4), selection)
    np.testing.assert_array_equal(out, want)


def test_missing_chunks_are_filled_and_units_widen():
    data = np.arange(6 * 6, dtype="<f8").reshape(6, 6)
    out, want, plan = read_with_kernel(
        data, (4, 4), (slice(None), slice(None)), missing={(1, 0)}, fill=-1.5
    )
    np.testing.assert_array_equal(out, want)
    assert plan.unit == 8 and plan.per == 1 and (plan.src_base == -1).sum() == 1


def test_odd_item_size_and_fortran_output():
    data = np.arange(5 * 4 * 3, dtype="u1").reshape(5, 4, 3).view("V3")  # 5x4 items of 3 bytes
    data = data.reshape(5, 4)
    out, want, plan = read_with_kernel(data, (2, 3), (slice(None), slice(None)), out_order="F")
    assert out.tobytes(order="A") != b"" and plan.unit == 1 and plan.per == 3
    assert (out == want).all()


def test_copy_segments():
    src = np.arange(50, dtype=np.uint8)
    dst = np.zeros(60, dtype=np.uint8)
    copy_segments(src, dst, np.array([0, 10, 45]), np.array([50, 0, 20]), np.array([5, 20, 5]))
    want = np.zeros(60, dtype=np.uint8)
    want[50:55], want[0:20], want[20:25] = src[0:5], src[10:30], src[45:50]
    np.testing.assert_array_equal(dst, want)
