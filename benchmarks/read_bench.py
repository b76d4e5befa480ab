"""CPU read benchmark: cuzarr against zarr-python 3 and tensorstore.

Builds (once) a 3-D uint16 Zarr v3 + zstd dataset in two chunk layouts with zarr-python,
then times, for each layout and each library, a full read of the array into memory and a
list of random unaligned chunk-sized crops. See benchmarks/README.md.

    python benchmarks/read_bench.py [--size-mib 128] [--repeats 5] [--crops 200]
                                    [--data DIR] [--out FILE] [--note TEXT]
                                    [--busy 0.10] [--retries 3] [--max-wait 120]
                                    [--layouts 32KiB,sharded] [--libraries cuzarr,tensorstore]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE / "data"
MiB = 2**20
# Cores this process may run on (cuzarr gets one thread per core), and on the machine.
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
MACHINE_CORES = os.cpu_count() or 1

# Bump when the generator or the stored layout changes: an old data folder is rebuilt.
DATASET_VERSION = 1
SEED = 20261123
DTYPE = np.dtype("uint16")
PLANE = (1024, 1024)  # y, x of every dataset; z grows with --size-mib
ZSTD = {"name": "zstd", "configuration": {"level": 3, "checksum": False}}


@dataclass(frozen=True)
class Layout:
    name: str
    label: str
    chunks: tuple[int, int, int]  # for a sharded layout, the inner chunks
    shards: tuple[int, int, int] | None = None

    @property
    def grid_chunks(self) -> tuple[int, int, int]:
        """The chunk shape in zarr.json's chunk_grid (the shard shape when sharded)."""
        return self.shards or self.chunks

    @property
    def chunk_bytes(self) -> int:
        return int(np.prod(self.chunks)) * DTYPE.itemsize


LAYOUTS = (
    Layout("chunks-2MiB.zarr", "2 MiB chunks", (16, 256, 256)),  # 16*256*256*2 B = 2 MiB
    Layout("chunks-32KiB.zarr", "32 KiB chunks", (8, 32, 64)),  # 8*32*64*2 B = 32 KiB
    # Sharded: crops are inner-chunk sized, so they measure partial shard reads.
    Layout("sharded-32KiB-4MiB.zarr", "sharded: 32 KiB in 4 MiB", (8, 32, 64), (16, 256, 512)),
    Layout("sharded-256KiB-4MiB.zarr", "sharded: 256 KiB in 4 MiB", (8, 128, 128), (16, 256, 512)),
)


# -- the dataset -------------------------------------------------------------------------
def dataset_shape(size_mib: int) -> tuple[int, int, int]:
    """(z, 1024, 1024) with z a multiple of 16 (every layout tiles it exactly) and at least
    32 (so an unaligned crop fits along z in both layouts). One z plane is 2 MiB."""
    plane_mib = PLANE[0] * PLANE[1] * DTYPE.itemsize / MiB
    z = max(32, -(-int(np.ceil(size_mib / plane_mib)) // 16) * 16)
    return (z, *PLANE)


def generate(shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """A fluorescence-microscopy-like volume: a background of ~100 counts with a slow
    illumination gradient, sparse smooth objects (anisotropic 3-D Gaussians, 50-2000 counts
    above background), and read + shot noise. zstd level 3 compresses it about 2.1x."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    zs, ys, xs = (np.arange(n, dtype=np.float32) for n in shape)
    f = np.empty(shape, np.float32)
    f[...] = 100.0 + 12.0 * (ys[None, :, None] / ny) + 8.0 * np.cos(xs / nx * np.pi)[None, None, :]
    # ~3.6 objects per Mi voxels: about 40% of the voxels end up 50+ counts above background.
    for _ in range(max(1, round(3.6 * f.size / MiB))):
        center = [rng.uniform(0, n) for n in shape]
        sigma = [rng.uniform(2, 8), rng.uniform(4, 40), rng.uniform(4, 40)]
        amplitude = rng.uniform(50, 2000)
        box = [
            slice(max(0, int(c - 3 * s)), min(n, int(c + 3 * s) + 1))
            for c, s, n in zip(center, sigma, shape)
        ]
        gz, gy, gx = (
            np.exp(-0.5 * ((axis[b] - c) / s) ** 2)
            for axis, b, c, s in zip((zs, ys, xs), box, center, sigma)
        )
        f[tuple(box)] += (amplitude * gz[:, None, None]) * gy[None, :, None] * gx[None, None, :]
    for z0 in range(0, nz, 16):  # noise in slabs: bounded temporary memory
        slab = f[z0 : z0 + 16]
        noise = rng.standard_normal(slab.shape, dtype=np.float32)
        slab += noise * np.sqrt(4.0 + 0.05 * np.maximum(slab - 100.0, 0.0))
    np.rint(f, out=f)
    np.clip(f, 0, np.iinfo(DTYPE).max, out=f)
    return f.astype(DTYPE)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(16 * MiB):
            h.update(block)
    return h.hexdigest()


def chunk_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "c").rglob("*") if p.is_file())


def expected_manifest(shape: tuple[int, int, int]) -> dict[str, Any]:
    return {
        "dataset_version": DATASET_VERSION,
        "seed": SEED,
        "shape": list(shape),
        "dtype": DTYPE.str,
        "codec": ZSTD,
        "layouts": {
            lay.name: {
                "chunks": list(lay.chunks),
                "shards": list(lay.shards) if lay.shards else None,
            }
            for lay in LAYOUTS
        },
    }


def layout_metadata_ok(root: Path, lay: Layout) -> bool:
    """Whether ``root/zarr.json`` describes this layout with the expected codec."""
    try:
        meta = json.loads((root / "zarr.json").read_text())
        chunks = meta["chunk_grid"]["configuration"]["chunk_shape"]
        codecs = [(c["name"], c.get("configuration", {})) for c in meta["codecs"]]
        if codecs and codecs[0][0] == "sharding_indexed":  # look inside the shard
            codecs = [(c["name"], c.get("configuration", {})) for c in codecs[0][1]["codecs"]]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    zstd = [cfg for name, cfg in codecs if name == "zstd"]
    return (
        meta.get("zarr_format") == 3
        and chunks == list(lay.grid_chunks)
        and len(zstd) == 1
        and all(zstd[0].get(k) == v for k, v in ZSTD["configuration"].items())
    )


def load_valid(data: Path, shape: tuple[int, int, int]) -> dict[str, Any] | None:
    """The manifest of a complete dataset of this shape in ``data``, else None."""
    try:
        manifest = json.loads((data / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    want = expected_manifest(shape)
    if any(manifest.get(k) != v for k, v in want.items() if k != "layouts"):
        return None
    for lay in LAYOUTS:
        got = manifest.get("layouts", {}).get(lay.name, {})
        if got.get("chunks") != list(lay.chunks) or not layout_metadata_ok(data / lay.name, lay):
            return None
        files = chunk_files(data / lay.name)
        if len(files) != got.get("nchunks") or sum(p.stat().st_size for p in files) != got.get(
            "stored_bytes"
        ):
            return None
    src = data / "source.npy"
    if not src.is_file() or sha256_of(src) != manifest.get("source_sha256"):
        return None
    return manifest


def build(data: Path, shape: tuple[int, int, int]) -> dict[str, Any]:
    """Generate the source volume and write it with zarr-python in every layout."""
    import zarr
    from zarr.codecs import ZstdCodec

    data.mkdir(parents=True, exist_ok=True)
    # Remove only what this script writes; the folder may hold other things.
    (data / "manifest.json").unlink(missing_ok=True)
    for lay in LAYOUTS:
        shutil.rmtree(data / lay.name, ignore_errors=True)
    t0 = time.perf_counter()
    src = generate(shape, SEED)
    np.save(data / "source.npy", src)
    print(
        f"  generated {src.nbytes / MiB:.0f} MiB source volume in {time.perf_counter() - t0:.1f} s"
    )
    manifest = expected_manifest(shape)
    manifest["source_sha256"] = sha256_of(data / "source.npy")
    for lay in LAYOUTS:
        t0 = time.perf_counter()
        arr = zarr.create_array(
            store=str(data / lay.name),
            shape=shape,
            dtype=DTYPE,
            chunks=lay.chunks,
            shards=lay.shards,
            filters=None,
            compressors=[ZstdCodec(**ZSTD["configuration"])],
            fill_value=0,
            zarr_format=3,
            config={"write_empty_chunks": True},
        )
        arr[...] = src
        files = chunk_files(data / lay.name)
        stored = sum(p.stat().st_size for p in files)
        manifest["layouts"][lay.name].update(nchunks=len(files), stored_bytes=stored)
        print(
            f"  wrote {lay.label} with zarr-python: {len(files)} chunks, {stored / MiB:.1f} MiB "
            f"on disk (zstd ratio {src.nbytes / stored:.2f}x) in {time.perf_counter() - t0:.1f} s"
        )
    (data / "manifest.json").write_text(json.dumps(manifest, indent=1))  # last: marks it complete
    return manifest


def warm_page_cache(root: Path) -> int:
    """Read every file under ``root`` once so every library sees the same warm cache."""
    total = 0
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with open(p, "rb", buffering=0) as fh:
                while block := fh.read(8 * MiB):
                    total += len(block)
    return total


# -- the readers -------------------------------------------------------------------------
Crop = tuple[slice, slice, slice]


@dataclass
class Reader:
    """One library: open an array, read it whole, read a crop."""

    name: str
    open: Callable[[Path], Any]
    full: Callable[[Any], np.ndarray]
    crop: Callable[[Any, Crop], np.ndarray]
    settings: str = ""


def make_readers() -> dict[str, Reader]:
    import tensorstore as ts
    import zarr

    import cuzarr

    cuzarr.config.set(threads=CORES, device="cpu")
    # No chunk cache: every read goes to the store (and the page cache), like the others.
    ts_context = ts.Context({"cache_pool": {"total_bytes_limit": 0}})

    def ts_open(path: Path) -> Any:
        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": str(path)},
            "recheck_cached_data": True,
        }
        return ts.open(spec, read=True, context=ts_context).result()

    return {
        "cuzarr": Reader(
            "cuzarr",
            lambda p: cuzarr.open_array(str(p), mode="r"),
            lambda a: a[...],
            lambda a, c: a[c],
            f"threads={cuzarr.config['threads']}, device=cpu",
        ),
        "zarr-python": Reader(
            "zarr-python",
            lambda p: zarr.open_array(str(p), mode="r"),
            lambda a: a[...],
            lambda a, c: a[c],
            f"async.concurrency={zarr.config.get('async.concurrency')}, "
            f"threading.max_workers={zarr.config.get('threading.max_workers')}",
        ),
        "tensorstore": Reader(
            "tensorstore",
            ts_open,
            lambda a: a.read().result(),
            lambda a, c: a[c].read().result(),
            "zarr3 driver, file kvstore, cache_pool total_bytes_limit=0, "
            "recheck_cached_data=true, default concurrency",
        ),
    }


def random_crops(shape: tuple[int, ...], size: tuple[int, ...], n: int, seed: int) -> list[Crop]:
    """``n`` crops of ``size`` whose origins are unaligned on every axis (never a multiple
    of the chunk size), so each crop straddles 2 chunks per axis: 8 chunks in 3-D."""
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(n):
        origin = []
        for extent, c in zip(shape, size):
            while (o := int(rng.integers(0, extent - c + 1))) % c == 0:
                pass
            origin.append(o)
        crops.append(tuple(slice(o, o + c) for o, c in zip(origin, size)))
    return crops


# -- timing ------------------------------------------------------------------------------
@dataclass
class Result:
    layout: Layout
    workload: str
    library: str
    nbytes: int  # uncompressed bytes returned per run
    times: list[float] = field(default_factory=list)
    others: list[float] = field(default_factory=list)  # CPU share of other processes per run
    discarded: int = 0  # blocks re-done because other processes were busy
    disturbed: int = 0  # blocks kept although other processes were busy (retries spent)

    @property
    def median(self) -> float:
        return statistics.median(self.times)


def verify(reader: Reader, handle: Any, src: np.ndarray, crops: list[Crop] | None) -> None:
    """Untimed: the library returns exactly the source values (also warms the library up)."""
    if crops is None:
        got = reader.full(handle)
        if got.shape != src.shape or got.dtype != src.dtype or not np.array_equal(got, src):
            raise SystemExit(f"{reader.name}: full read differs from the source array")
        return
    for c in crops:
        got = reader.crop(handle, c)
        if got.dtype != src.dtype or not np.array_equal(got, src[c]):
            raise SystemExit(f"{reader.name}: crop {c} differs from the source array")


def machine_cpu_seconds() -> float | None:
    """CPU seconds all processes have used (busy time from /proc/stat), or None."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    # cpu user nice system idle iowait irq softirq steal ...: busy = all but idle/iowait
    ticks = [int(x) for x in fields[1:9]]
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def time_once(reader: Reader, handle: Any, crops: list[Crop] | None) -> tuple[float, float]:
    """(wall seconds, share of the machine's CPU that *other* processes used meanwhile)."""
    gc.collect()
    busy0, own0 = machine_cpu_seconds(), time.process_time()
    t0 = time.perf_counter()
    if crops is None:
        out = reader.full(handle)
    else:
        crop = reader.crop
        for c in crops:
            out = crop(handle, c)
    elapsed = time.perf_counter() - t0
    own, busy1 = time.process_time() - own0, machine_cpu_seconds()
    del out
    if busy0 is None or busy1 is None:
        return elapsed, 0.0
    others = max(0.0, (busy1 - busy0) - own)
    return elapsed, min(1.0, others / (elapsed * MACHINE_CORES))


@dataclass
class Quiet:
    """How the benchmark copes with other processes on a shared machine."""

    busy: float  # the share of the machine's CPU others may use during a kept run
    retries: int  # re-runs allowed per timed block
    max_wait: float  # seconds to wait for the machine to go quiet before a run
    waited: float = 0.0  # seconds spent waiting, in all


def others_share(interval: float) -> float:
    """The share of the machine's CPU other processes use over ``interval`` seconds."""
    busy0, own0, t0 = machine_cpu_seconds(), time.process_time(), time.perf_counter()
    time.sleep(interval)
    busy1, own1, t1 = machine_cpu_seconds(), time.process_time(), time.perf_counter()
    if busy0 is None or busy1 is None:
        return 0.0
    return max(0.0, (busy1 - busy0) - (own1 - own0)) / ((t1 - t0) * MACHINE_CORES)


def wait_until_quiet(quiet: Quiet) -> None:
    t0 = time.perf_counter()
    while others_share(0.3) > quiet.busy and time.perf_counter() - t0 < quiet.max_wait:
        if time.perf_counter() - t0 < 0.5:
            print("w", end="", flush=True)  # waiting for other processes
    quiet.waited += time.perf_counter() - t0


BLOCK_SECONDS = 0.5  # a crop run is timed in blocks of about this long


def timed_run(
    reader: Reader, handle: Any, blocks: list[list[Crop] | None], quiet: Quiet, res: Result
) -> None:
    """One timed run: the sum of its blocks' times (the full read is one block). Each block
    starts once other processes leave the machine (mostly) alone, and is re-done (up to
    ``quiet.retries`` times) when they took more than ``quiet.busy`` of its CPU meanwhile,
    which would make it slow for no fault of the library. Short blocks let a run on a
    shared machine dodge other processes' bursts."""
    total = others_cpu = 0.0
    for block in blocks:
        for attempt in range(quiet.retries + 1):
            wait_until_quiet(quiet)
            elapsed, others = time_once(reader, handle, block)
            if others <= quiet.busy:
                break
            if attempt == quiet.retries:
                res.disturbed += 1
                break
            res.discarded += 1
        total += elapsed
        others_cpu += others * elapsed
    res.times.append(total)
    res.others.append(others_cpu / total)


def run_benchmark(
    data: Path,
    src: np.ndarray,
    readers: dict[str, Reader],
    layouts: list[Layout],
    repeats: int,
    n_crops: int,
    quiet: Quiet,
) -> list[Result]:
    results = []
    for lay in layouts:
        li = LAYOUTS.index(lay)  # the crop seed stays the same whatever subset runs
        handles = {name: r.open(data / lay.name) for name, r in readers.items()}
        workloads: list[tuple[str, list[Crop] | None, int]] = [
            ("full read", None, src.nbytes),
            (
                f"{n_crops} random crops",
                random_crops(src.shape, lay.chunks, n_crops, SEED + li),
                n_crops * lay.chunk_bytes,
            ),
        ]
        for workload, crops, nbytes in workloads:
            print(f"  {lay.label}, {workload}: verifying", end="", flush=True)
            slowest = 0.0
            for name, r in readers.items():
                t0 = time.perf_counter()
                verify(r, handles[name], src, crops)
                slowest = max(slowest, time.perf_counter() - t0)
            blocks: list[list[Crop] | None] = [None]
            if crops is not None:
                n = min(len(crops), max(1, round(slowest / BLOCK_SECONDS)))
                blocks = [crops[len(crops) * i // n : len(crops) * (i + 1) // n] for i in range(n)]
            print(f", timing ({len(blocks)} block{'s' * (len(blocks) > 1)} per run)", end="")
            res = {name: Result(lay, workload, name, nbytes) for name in readers}
            names = list(readers)
            for rep in range(repeats):
                # Rotate the order each repeat so no library always runs first or last.
                for name in names[rep % len(names) :] + names[: rep % len(names)]:
                    timed_run(readers[name], handles[name], blocks, quiet, res[name])
                print(".", end="", flush=True)
            print()
            results.extend(res.values())
    return results


# -- reporting ---------------------------------------------------------------------------
def pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def cuzarr_revision() -> str:
    import cuzarr

    root = Path(cuzarr.__file__).resolve().parents[2]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        untracked = subprocess.run(
            ["git", "-C", str(root), "ls-files", "--others", "--exclude-standard", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown revision"
    extra = []
    if dirty:
        extra.append("modified files")
    if untracked:
        extra.append(f"{len(untracked.splitlines())} uncommitted new files")
    return f"git {rev}" + (f" + {', '.join(extra)}" if extra else "")


def read_proc(path: str, key: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def filesystem_of(path: Path) -> str:
    """'fstype on device' of the mount holding ``path`` (Linux), else 'unknown'."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    best = None
    p = str(path.resolve())
    for dev, mnt, fstype, *_ in mounts:
        if (p == mnt or p.startswith(mnt.rstrip("/") + "/")) and (
            best is None or len(mnt) > len(best[1])
        ):
            best = (dev, mnt, fstype)
    return f"{best[2]} ({best[0]} at {best[1]})" if best else "unknown"


def machine_facts(readers: dict[str, Reader], data: Path) -> list[tuple[str, str]]:
    import numcodecs

    import cuzarr

    mem = read_proc("/proc/meminfo", "MemTotal")
    facts = [
        ("CPU", read_proc("/proc/cpuinfo", "model name") or platform.processor() or "unknown"),
        ("cores", f"{MACHINE_CORES} logical, {CORES} usable by this process"),
        ("memory", f"{int(mem.split()[0]) / 2**20:.1f} GiB" if mem else "unknown"),
        ("OS", platform.platform()),
        ("Python", platform.python_version()),
        ("data folder", f"{data} on {filesystem_of(data)}"),
        ("cuzarr", f"{cuzarr.__version__} ({cuzarr_revision()})"),
        ("zarr-python", pkg_version("zarr")),
        ("tensorstore", pkg_version("tensorstore")),
        ("numpy", np.__version__),
        ("numcodecs", numcodecs.__version__),
    ]
    facts += [(f"{name} settings", r.settings) for name, r in readers.items()]
    return facts


RATIO_NOTE = (
    "ratio = cuzarr median time / peer median time: < 1 means cuzarr is faster, "
    "> 1 means the peer is faster"
)


def table_rows(results: list[Result]) -> list[list[str]]:
    rows = []
    by_key = {(r.layout.name, r.workload, r.library): r for r in results}
    for r in results:
        ours = by_key.get((r.layout.name, r.workload, "cuzarr"))
        if r.library == "cuzarr" or ours is None:
            ratio = "—"
        else:
            q = ours.median / r.median
            ratio = f"{q:.2f} ({'cuzarr faster' if q < 1 else 'peer faster'})"
        rows.append(
            [
                r.layout.label,
                r.workload,
                r.library,
                f"{r.median:.4f}",
                f"{r.nbytes / MiB / r.median:,.0f}",
                ratio,
                f"{min(r.times):.4f}–{max(r.times):.4f}",
                f"{100 * statistics.median(r.others):.0f}%"
                + (f", {r.discarded} re-run" if r.discarded else "")
                + (f", {r.disturbed} disturbed" if r.disturbed else ""),
            ]
        )
    return rows


HEADERS = [
    "layout",
    "workload",
    "library",
    "median s",
    "MiB/s",
    "cuzarr/peer",
    "min–max s",
    "others' CPU",
]
RIGHT = {3, 4, 6}  # right-aligned columns


def text_table(rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in RIGHT else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )

    lines = [fmt(HEADERS), fmt(["-" * w for w in widths])]
    prev = None
    for r in rows:
        if prev is not None and r[:2] != prev:
            lines.append("")
        lines.append(fmt(r))
        prev = r[:2]
    return "\n".join(lines)


def markdown(
    rows: list[list[str]],
    facts: list[tuple[str, str]],
    notes: list[str],
    dataset: list[str],
    command: str,
) -> str:
    out = [
        f"# cuzarr CPU read benchmark — {dt.date.today().isoformat()}",
        "",
        f"Command: `{command}`",
        "",
        f"**{RATIO_NOTE}.** MiB/s counts uncompressed bytes returned to the caller.",
        "",
        "## Results",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---:" if i in RIGHT else "---" for i in range(len(HEADERS))) + "|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    out += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    out += ["", "## Dataset", ""] + [f"- {d}" for d in dataset]
    out += ["", "## Machine", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in facts]
    return "\n".join(out) + "\n"


# -- main --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--size-mib", type=int, default=128, help="uncompressed dataset size (default 128)"
    )
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (default 5)")
    ap.add_argument(
        "--crops", type=int, default=200, help="random crops per crop run (default 200)"
    )
    ap.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"data folder (default {DEFAULT_DATA})"
    )
    ap.add_argument("--out", type=Path, help="also write the results as Markdown to this file")
    ap.add_argument("--note", action="append", default=[], help="extra line for the Markdown notes")
    ap.add_argument(
        "--busy",
        type=float,
        default=0.10,
        help="re-run a timed block when other processes used more than this share of the\n"
        "machine's CPU meanwhile (default 0.10)",
    )
    ap.add_argument(
        "--retries", type=int, default=3, help="re-runs allowed per timed block (default 3)"
    )
    ap.add_argument(
        "--max-wait",
        type=float,
        default=120.0,
        help="seconds to wait, before each timed block, for other processes to use less than\n"
        "--busy of the CPU (default 120)",
    )
    ap.add_argument(
        "--layouts",
        help="comma-separated words; time only the layouts whose name contains one of them\n"
        "(e.g. 32KiB,sharded; default: all). The dataset is still built in every layout",
    )
    ap.add_argument(
        "--libraries",
        help="comma-separated library names to time (default: cuzarr,zarr-python,tensorstore)",
    )
    args = ap.parse_args(argv)
    if args.repeats < 1 or args.crops < 1 or args.size_mib < 1 or args.retries < 0:
        ap.error("--size-mib, --repeats and --crops must be positive, --retries not negative")

    shape = dataset_shape(args.size_mib)
    data = args.data.resolve()
    print(f"dataset: {shape} {DTYPE}, {np.prod(shape) * DTYPE.itemsize / MiB:.0f} MiB, in {data}")
    manifest = load_valid(data, shape)
    if manifest is None:
        print("  no valid dataset there: building it (once)")
        manifest = build(data, shape)
    else:
        print("  reusing the existing dataset (manifest, chunk files and source checksum match)")
    src = np.load(data / "source.npy")
    assert src.shape == shape and src.dtype == DTYPE

    layouts = list(LAYOUTS)
    if args.layouts:
        words = [w.strip() for w in args.layouts.split(",") if w.strip()]
        layouts = [lay for lay in LAYOUTS if any(w in lay.name for w in words)]
        if not layouts:
            ap.error(f"--layouts {args.layouts!r} matches none of {[x.name for x in LAYOUTS]}")
    readers = make_readers()
    if args.libraries:
        names = [n.strip() for n in args.libraries.split(",") if n.strip()]
        unknown = [n for n in names if n not in readers]
        if unknown:
            ap.error(f"unknown --libraries {unknown}; choose from {list(readers)}")
        readers = {n: readers[n] for n in names}
    facts = machine_facts(readers, data)
    print("\nmachine:")
    for k, v in facts:
        print(f"  {k:<22} {v}")

    warmed = sum(warm_page_cache(data / lay.name) for lay in layouts)
    cache_note = (
        f"Page cache: warm. Before timing, every file of the timed layouts ({warmed / MiB:.1f} MiB "
        "on a local disk) was read once, so all libraries read from a warm page cache; "
        "the timings measure decoding and copying, not the disk."
    )
    print(f"\n{cache_note}")
    print(
        "Each library is checked once (untimed) to return exactly the source values; that "
        "pass is also its warm-up.\nProgress: . = one repeat of all libraries, w = waiting for "
        "other processes to leave the CPU alone.\n"
    )

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    quiet = Quiet(args.busy, args.retries, args.max_wait)
    results = run_benchmark(data, src, readers, layouts, args.repeats, args.crops, quiet)
    rows = table_rows(results)
    discarded = sum(r.discarded for r in results)
    disturbed = sum(r.disturbed for r in results)
    busy_note = (
        "others' CPU: the median share of the machine's CPU that other processes used during "
        "a row's timed runs (from /proc/stat), then how many blocks were re-run and how many "
        "kept disturbed. A full read is one block; a crop run is split into blocks of about "
        f"{BLOCK_SECONDS} s, and its time is their sum. Each block waited (up to "
        f"{args.max_wait:.0f} s) for other processes to use less than {100 * args.busy:.0f}% "
        f"of the CPU, and was re-run (up to {args.retries} times) if they used more meanwhile. "
        f"In all {discarded} blocks were re-run and {quiet.waited:.0f} s spent waiting; "
        + (
            f"{disturbed} blocks were kept although disturbed: read those rows with care."
            if disturbed
            else "every kept block was undisturbed."
        )
        + (
            f" Load average before timing: {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}."
            if load
            else ""
        )
    )
    print(f"\n{RATIO_NOTE}.")
    print(f"median of {args.repeats} runs; MiB/s = uncompressed bytes returned / median time")
    print(busy_note + "\n")
    print(text_table(rows))

    if args.out:
        notes = [
            f"Median of {args.repeats} timed runs per row; the libraries run in a rotating "
            "order within each repeat. min–max shows the spread.",
            cache_note,
            busy_note,
            "Every library was verified once (untimed) to return values identical to the "
            "source array, for the full read and for every crop.",
            f"This machine has {CORES} usable cores (cuzarr threads = {CORES}; zarr-python "
            "and tensorstore at their defaults, which cannot use more cores than there are), "
            "so the multi-threaded readers have little room to scale here.",
            f"Crops: {args.crops} chunk-sized boxes per run, with origins unaligned on every "
            "axis (each touches 2x2x2 = 8 chunks), read one after another, the same seeded "
            "list for every library. Opening the arrays is not timed.",
            *args.note,
        ]
        dataset = [
            f"shape {shape}, {DTYPE} ({np.prod(shape) * DTYPE.itemsize / MiB:.0f} MiB), "
            "fluorescence-like: background ~100 counts, sparse smooth 3-D Gaussian objects, "
            f"read + shot noise (seed {SEED})",
            f"codecs: bytes (little endian) + zstd level 3, no checksum; written by zarr-python "
            f"{pkg_version('zarr')}",
        ]
        for lay in layouts:
            m = manifest["layouts"][lay.name]
            dataset.append(
                f"{lay.label}: chunks {lay.chunks}, {m['nchunks']} chunks, "
                f"{m['stored_bytes'] / MiB:.1f} MiB on disk "
                f"(compression {src.nbytes / m['stored_bytes']:.2f}x)"
            )
        command = shlex.join(
            ["python", "benchmarks/read_bench.py", *(argv if argv is not None else sys.argv[1:])]
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(rows, facts, notes, dataset, command))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
