"""GPU read benchmark: cuzarr's device path against its CPU path, zarr-python's GPU mode,
and two ceilings (host->device copy; nvCOMP's raw batched decode).

NOT RUN YET: written without a GPU. ``--help`` works anywhere; a run needs cupy, a CUDA
device, nvCOMP's Python module (nvidia-nvcomp-cu12/13) and numba-cuda, plus zarr-python
for its row.

Datasets (``--size-gib``, default 4 GiB each; uint16 volumes of shape (z, 1024, 1024) that
look like fluorescence microscopy, written once with cuzarr's CPU path):

====================  =========================================================
v3-shard-zstd-256K    v3, sharding (16x1024x1024 shards), zstd level 3 inner chunks of 256 KiB
v3-shard-zstd-1M      v3, sharding (16x1024x1024 shards), zstd level 3 inner chunks of 1 MiB
v2-blosc-lz4-1M       v2, blosc lz4 + byte shuffle, 1 MiB chunks
v3-lz4-1M             v3, numcodecs.lz4, 1 MiB chunks
====================  =========================================================

Measurements per dataset: the full array into device memory, and ``--crops`` random
unaligned chunk-sized crops (one after another; inner-chunk-sized for sharded datasets)
into device memory. Rows:

- cuzarr GPU: ``cuzarr.pipeline.device`` (nvCOMP + kernels), result a cupy array;
- cuzarr CPU: the host path, then one ``cupy.asarray`` (H2D) of the result;
- zarr-python GPU: ``zarr.config.enable_gpu()`` reads (whatever it decodes on the device);
- H2D copy ceiling (full read only): the dataset's compressed bytes copied from pinned host
  memory to the device in one transfer;
- nvCOMP ceiling (full read only): the dataset's RAW streams already on the device, decoded
  by nvCOMP batch calls alone (no I/O, no planning, no kernels).

Throughput is decoded GiB delivered per second (median of ``--repeats``); ratios are
against the cuzarr GPU row. Page cache: every dataset is read once before timing.

    python benchmarks/gpu_read.py [--size-gib 4] [--crops 512] [--repeats 3]
                                  [--layouts NAME ...] [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
GiB, MiB = 2**30, 2**20
PLANE = (1024, 1024)
DTYPE = np.dtype("<u2")
SLAB = 16  # z planes per shard / generation step (32 MiB)


@dataclass(frozen=True)
class Layout:
    name: str
    zarr_format: int
    chunks: tuple[int, int, int]
    shards: tuple[int, int, int] | None
    compressors: Any  # cuzarr/zarr-python codec spec (list of v3 dicts, or a numcodecs codec)
    nvcomp: str  # what the nvCOMP ceiling decodes: "zstd", "lz4" or "blosc"


def layouts() -> list[Layout]:
    zstd = [{"name": "zstd", "configuration": {"level": 3, "checksum": False}}]
    blosc = {"id": "blosc", "cname": "lz4", "clevel": 5, "shuffle": 1, "blocksize": 0}
    return [
        Layout("v3-shard-zstd-256K", 3, (2, 256, 256), (SLAB, *PLANE), zstd, "zstd"),
        Layout("v3-shard-zstd-1M", 3, (8, 256, 256), (SLAB, *PLANE), zstd, "zstd"),
        Layout("v2-blosc-lz4-1M", 2, (8, 256, 256), None, blosc, "blosc"),
        Layout("v3-lz4-1M", 3, (8, 256, 256), None, [{"name": "numcodecs.lz4"}], "lz4"),
    ]


# -- data -----------------------------------------------------------------------------------
def slab(z0: int, rng: np.random.Generator) -> np.ndarray:
    """SLAB planes: background ~100 counts with a gradient, smooth blobs that fade in and
    out along z, shot noise (zstd level 3 compresses it about 2x)."""
    y = np.arange(PLANE[0])[:, None]
    x = np.arange(PLANE[1])[None, :]
    background = 100 + 20 * np.sin(x / 300.0) + 10 * np.cos(y / 200.0)
    blobs = np.zeros(PLANE)
    for cy, cx, r, a in rng.uniform((0, 0, 8, 50), (*PLANE, 40, 2000), (12, 4)):
        blobs += a * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    fade = 1 + np.cos((z0 + np.arange(SLAB)) / 5.0)[:, None, None]
    mean = (background + blobs * fade).astype(np.float32)
    noise = rng.standard_normal(mean.shape, dtype=np.float32) * np.sqrt(mean)  # ~ Poisson
    return np.clip(mean + noise, 0, 65535).astype(DTYPE)


def build(layout: Layout, root: Path, shape: tuple[int, int, int]) -> Path:
    """Write the dataset once (a ``.complete`` marker guards against half-written ones)."""
    import cuzarr

    path = root / f"{layout.name}-{shape[0]}.zarr"
    if (path / ".complete").exists():
        return path
    kwargs: dict[str, Any] = {"compressors": layout.compressors}
    if layout.zarr_format == 2:
        import numcodecs

        kwargs = {"compressors": numcodecs.get_codec(layout.compressors)}
    a = cuzarr.create_array(str(path), shape=shape, chunks=layout.chunks, shards=layout.shards,
                            dtype=DTYPE, zarr_format=layout.zarr_format, overwrite=True,
                            device="cpu", **kwargs)  # fmt: skip
    rng = np.random.default_rng(20261123)
    # Generating noise costs more than compressing it: a few slabs, each written several
    # times shifted in y and x (chunks are compressed one by one, so repeats far apart
    # compress no better than fresh data).
    pool = [slab(z0, rng) for z0 in range(0, min(shape[0], 4 * SLAB), SLAB)]
    t0 = time.perf_counter()
    for k, z0 in enumerate(range(0, shape[0], SLAB)):
        shift = tuple(int(v) for v in rng.integers(0, PLANE))
        a[z0 : z0 + SLAB] = np.roll(pool[k % len(pool)], shift, axis=(1, 2))
    (path / ".complete").write_text("ok\n")
    print(f"  wrote {path.name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return path


def random_crops(shape, size, n, seed=7) -> list[tuple[slice, ...]]:
    rng = np.random.default_rng(seed)
    starts = [rng.integers(0, s - c + 1, n) for s, c in zip(shape, size)]
    return [tuple(slice(int(s[i]), int(s[i]) + c) for s, c in zip(starts, size)) for i in range(n)]


# -- the rows ---------------------------------------------------------------------------------
def cuzarr_gpu(path: Path) -> Callable[[tuple], Any]:
    import cuzarr

    a = cuzarr.open_array(str(path), device="gpu")

    def read(selection: tuple) -> Any:
        return a[selection]  # a cupy array

    return read


def cuzarr_cpu(path: Path) -> Callable[[tuple], Any]:
    import cupy

    a = cuzarr_open(path)

    def read(selection: tuple) -> Any:
        return cupy.asarray(a[selection])

    return read


def zarr_python_gpu(path: Path) -> Callable[[tuple], Any]:
    import zarr

    with zarr.config.enable_gpu():
        z = zarr.open_array(str(path), mode="r")

    def read(selection: tuple) -> Any:
        with zarr.config.enable_gpu():
            return z[selection]

    return read


def h2d_ceiling(path: Path) -> Callable[[tuple], Any]:
    """The dataset's compressed bytes (every stored chunk or shard), in pinned host memory,
    copied to the device in one transfer: the bound of any read that decodes on the device."""
    import cupy

    from cuzarr.codecs import blosc_plan as bp

    a = cuzarr_open(path)
    datas = [d for d in a._io.fetch([p.chunk_coords for p in indexing_all(a)]) if d is not None]
    buf, _, _ = bp.concat_chunks(datas)
    pinned = cupy.cuda.alloc_pinned_memory(max(len(buf), 1))
    host = np.frombuffer(pinned, np.uint8, len(buf))
    host[...] = buf
    dev = cupy.empty(len(buf), dtype=np.uint8)

    def copy(selection: tuple) -> Any:
        dev.set(host)
        return dev

    return copy


def ceiling_streams(path: Path, layout: Layout) -> tuple[np.ndarray, ...]:
    """(buffer, src, length, decoded size) of every RAW stream of the dataset, and the
    nvCOMP algorithm: what the nvCOMP ceiling decodes (host-side, runs without a GPU)."""
    from cuzarr.codecs import blosc_plan as bp
    from cuzarr.pipeline import device_plan as dp

    a = cuzarr_open(path)
    datas = [d for d in a._io.fetch([p.chunk_coords for p in indexing_all(a)]) if d is not None]
    buf, offsets, lengths = bp.concat_chunks(datas)
    if layout.nvcomp == "blosc":  # the inner LZ4 streams; raw splits are copies, left out
        plan = bp.plan_blosc_batch(buf, offsets, lengths)
        keep = ~plan.split_raw
        return buf, plan.split_src[keep], plan.split_len[keep], plan.split_size[keep], "LZ4"
    streams = dp.raw_streams(layout.nvcomp, buf, offsets, lengths)
    ok = streams.device()
    return buf, streams.src[ok], streams.length[ok], streams.size[ok], streams.algorithm


def nvcomp_ceiling(
    path: Path, layout: Layout, batch_bytes: int = 512 * MiB
) -> Callable[[tuple], Any]:
    """RAW streams of the whole dataset on the device; decoding = nvCOMP batch calls only."""
    import cupy
    from nvidia import nvcomp

    from cuzarr.pipeline import device_plan as dp

    buf, src, length, size, algorithm = ceiling_streams(path, layout)
    packed, total = dp.pack(length, dp.ALIGN)
    staging = np.zeros(total, np.uint8)
    dp.gather_ranges(staging, packed, buf, src, length)
    dev_in = cupy.asarray(staging)
    codec = nvcomp.Codec(algorithm=algorithm, bitstream_kind=nvcomp.BitstreamKind.RAW)
    per_batch = max(1, batch_bytes // int(size.max()))
    slot = -(-int(size.max()) // dp.ALIGN) * dp.ALIGN
    out = cupy.empty(slot * per_batch, dtype=np.uint8)  # reused by every batch
    batches = []
    for i in range(0, len(size), per_batch):
        part = slice(i, i + per_batch)
        sizes = size[part].tolist()
        ins = nvcomp.as_arrays(dev_in, packed[part].tolist(), length[part].tolist())
        outs = nvcomp.as_arrays(out, [j * slot for j in range(len(sizes))], sizes)
        batches.append((ins, outs))

    def decode(selection: tuple) -> Any:
        for ins, outs in batches:
            codec.decode(ins, out=outs)
        return out

    return decode


def indexing_all(a: Any) -> list:
    from cuzarr import indexing

    return indexing.orthogonal_selection(Ellipsis, a.shape, a._io.dims).projections


def cuzarr_open(path: Path) -> Any:
    import cuzarr

    return cuzarr.open_array(str(path), device="cpu")


# -- timing -------------------------------------------------------------------------------------
CEILINGS = ("H2D copy ceiling", "nvCOMP ceiling")


def make_rows(path: Path, layout: Layout) -> dict[str, Callable[[], Callable]]:
    """Row name -> a function that sets the row's reader up (and may fail: missing peer)."""
    return {
        "cuzarr GPU": lambda: cuzarr_gpu(path),
        "cuzarr CPU (+H2D)": lambda: cuzarr_cpu(path),
        "zarr-python GPU": lambda: zarr_python_gpu(path),
        "H2D copy ceiling": lambda: h2d_ceiling(path),
        "nvCOMP ceiling": lambda: nvcomp_ceiling(path, layout),
    }


def timed(read: Callable[[tuple], Any], selections: list[tuple], repeats: int) -> float:
    import cupy

    times = []
    for _ in range(repeats):
        cupy.cuda.Device().synchronize()
        t0 = time.perf_counter()
        for selection in selections:
            read(selection)
        cupy.cuda.Device().synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run(args: argparse.Namespace) -> list[tuple[str, str, str, float | None, float]]:
    z = max(
        SLAB, int(round(args.size_gib * GiB / (math.prod(PLANE) * DTYPE.itemsize) / SLAB)) * SLAB
    )
    shape = (z, *PLANE)
    full_bytes = math.prod(shape) * DTYPE.itemsize
    results = []
    for layout in layouts():
        if args.layouts and layout.name not in args.layouts:
            continue
        path = build(layout, Path(args.data), shape)
        crop_size = layout.chunks  # unaligned: each crop straddles up to 8 chunks
        crops = random_crops(shape, crop_size, args.crops)
        crop_bytes = len(crops) * math.prod(crop_size) * DTYPE.itemsize
        rows = make_rows(path, layout)
        for row, make in rows.items():
            if row in args.skip:
                continue
            try:
                read = make()
                read((slice(None),) * 3)  # warm up: page cache, pools, codec handles
            except Exception as e:  # a missing peer is a row without numbers, not a crash
                print(
                    f"  {layout.name} / {row}: skipped ({type(e).__name__}: {e})", file=sys.stderr
                )
                continue
            seconds = timed(read, [(slice(None),) * 3], args.repeats)
            results.append((layout.name, "full read", row, seconds, full_bytes))
            if row not in CEILINGS:  # the targets compare full reads with them
                seconds = timed(read, crops, args.repeats)
                results.append((layout.name, f"{len(crops)} crops", row, seconds, crop_bytes))
            print(f"  {layout.name} / {row}: done", file=sys.stderr)
    return results


def table(results: list[tuple]) -> str:
    lines = [
        "| dataset | read | row | seconds | GiB/s | vs cuzarr GPU |",
        "|---|---|---|---:|---:|---:|",
    ]
    gpu = {(d, r): s for d, r, row, s, _ in results if row == "cuzarr GPU"}
    for dataset, read, row, seconds, nbytes in results:
        base = gpu.get((dataset, read))
        ratio = f"{base / seconds:.2f}x" if base else "-"
        lines.append(
            f"| {dataset} | {read} | {row} | {seconds:.3f} | {nbytes / GiB / seconds:.2f} | {ratio} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Rows: " + ", ".join(["cuzarr GPU", "cuzarr CPU (+H2D)", "zarr-python GPU",
                                                             "H2D copy ceiling", "nvCOMP ceiling"]))  # fmt: skip
    p.add_argument(
        "--size-gib", type=float, default=4.0, help="uncompressed size of each dataset (default 4)"
    )
    p.add_argument("--crops", type=int, default=512, help="random crops per crop run (default 512)")
    p.add_argument(
        "--repeats", type=int, default=3, help="timed runs per measurement; the median is shown"
    )
    names = ", ".join(layout.name for layout in layouts())
    p.add_argument("--layouts", nargs="*", default=[], help=f"only these datasets ({names})")
    p.add_argument("--skip", nargs="*", default=[], help="rows to leave out (by name)")
    p.add_argument("--data", default=str(HERE / "data" / "gpu"), help="where the datasets live")
    p.add_argument("--out", help="also write the table (Markdown) to this file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device")
    except Exception as e:
        print(
            f"gpu_read.py needs cupy and a CUDA device ({type(e).__name__}: {e})", file=sys.stderr
        )
        return 2
    Path(args.data).mkdir(parents=True, exist_ok=True)
    text = table(run(args))
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
