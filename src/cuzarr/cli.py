"""The ``cuzarr`` command line.

- ``cuzarr demo``: write a small sample hierarchy into a temporary folder, read it back
  with the best available backend, check the values and report the throughput.
- ``cuzarr info PATH``: show the hierarchy (or array) stored at PATH.
- ``cuzarr migrate v3 PATH [--dry-run] [--remove-v2] [--overwrite]``: add Zarr v3
  metadata beside the v2 metadata of every group and array at PATH (no chunk is
  rewritten); exits 1 when some array had to be skipped.
- ``cuzarr convert SRC DST [--zarr-format 3] [--chunks 64,64] [--shards 256,256]
  [--compressor zstd] [--overwrite]``: copy an array or hierarchy (v3, v2 or N5) into a
  new store as v3, v2 or N5, region by region, with a progress bar.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from cuzarr.buffers import to_host


def _sample(shape: tuple[int, ...]) -> np.ndarray:
    """Smooth structure plus noise: compresses like real images, not like zeros."""
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    base = (1000 + 400 * np.sin(x / 37.0) * np.cos(y / 53.0) + 3 * z).astype(np.uint16)
    return base + rng.integers(0, 64, size=shape, dtype=np.uint16)


def _demo_array(root, name: str, data: np.ndarray, **layout) -> bool:
    """Write ``data`` as ``name``, read it back (whole and a strided crop), report."""
    import cuzarr

    t0 = time.perf_counter()
    root.create_array(
        name, shape=data.shape, dtype=data.dtype, dimension_names=("z", "y", "x"), **layout
    )[...] = data
    t_write = time.perf_counter() - t0
    opened = cuzarr.open_group(root.store, mode="r")[name]
    t0 = time.perf_counter()
    back = to_host(opened[...])  # a cupy array when the GPU backend read it
    t_read = time.perf_counter() - t0
    crop = to_host(opened[10:50, 100:400:3, ::-7])
    ok = np.array_equal(back, data) and np.array_equal(crop, data[10:50, 100:400:3, ::-7])
    mib = data.nbytes / 2**20
    shards = f", shards {layout['shards']}" if "shards" in layout else ""
    print(
        f"{name}: {data.shape} {data.dtype}, chunks {layout['chunks']}{shards}, codecs "
        + ", ".join(c.name for c in opened.codecs)
    )
    print(
        f"  read back with the {opened.device.upper()} backend "
        f"({cuzarr.concurrency.thread_count()} threads): values {'match' if ok else 'DIFFER'}; "
        f"write {mib / t_write:.1f} MiB/s, read {mib / t_read:.1f} MiB/s ({mib:.0f} MiB)"
    )
    return ok


def demo(args: argparse.Namespace) -> int:
    import cuzarr

    data = _sample((64, 512, 512))
    with tempfile.TemporaryDirectory(prefix="cuzarr-demo-") as folder:
        print(f"writing a sample Zarr v3 hierarchy into {folder}")
        root = cuzarr.create_group(folder, attributes={"description": "cuzarr demo"})
        ok = _demo_array(root, "volume", data, chunks=(16, 128, 128))
        ok &= _demo_array(root, "volume_sharded", data, chunks=(8, 64, 64), shards=(32, 256, 256))
        print(root.tree())
    return 0 if ok else 1


def _check_location(location: str) -> None:
    """A local file that is not an archive cannot hold a store: say so, rather than that
    nothing was found there."""
    from cuzarr.errors import NotAZarrHierarchyError
    from cuzarr.stores import _ZIP_SUFFIXES

    if "://" in location or "::" in location or location.lower().endswith(_ZIP_SUFFIXES):
        return  # a URL or an archive: the store says what is wrong with it
    if os.path.isfile(location):
        raise NotAZarrHierarchyError(
            f"{location} is a file, not a Zarr or N5 store (a folder, a .zip archive or a URL)"
        )


def info(args: argparse.Namespace) -> int:
    import cuzarr

    _check_location(args.path)
    node = cuzarr.open(args.path, mode="r")
    if isinstance(node, cuzarr.Array):
        print(node.info)
    else:
        print(node.tree())
    return 0


def migrate(args: argparse.Namespace) -> int:
    import cuzarr

    _check_location(args.path)
    report = cuzarr.migrate(
        args.path,
        zarr_format=3,
        dry_run=args.dry_run,
        remove_v2=args.remove_v2,
        overwrite=args.overwrite,
    )
    print(report)
    return 0 if report.ok else 1


def convert(args: argparse.Namespace) -> int:
    import cuzarr
    from cuzarr.convert import parse_compressor, parse_format, parse_shape
    from cuzarr.errors import ContainsNodeError

    _check_location(args.src)
    try:
        node = cuzarr.convert(
            args.src,
            args.dst,
            path=args.path,
            zarr_format=parse_format(args.zarr_format),
            chunks=parse_shape(args.chunks) if args.chunks else None,
            shards=parse_shape(args.shards) if args.shards else None,
            compressors=parse_compressor(args.compressor),
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except ContainsNodeError as e:  # the Python flag the message names is --overwrite here
        raise ContainsNodeError(str(e).replace("overwrite=True", "--overwrite")) from None
    print(
        f"converted {args.src} -> {args.dst} ({'array' if isinstance(node, cuzarr.Array) else 'group'})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cuzarr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="write, read back and check a sample hierarchy").set_defaults(
        func=demo
    )
    p_info = sub.add_parser("info", help="show the hierarchy or array at PATH")
    p_info.add_argument("path")
    p_info.set_defaults(func=info)
    p_migrate = sub.add_parser("migrate", help="add v3 metadata beside v2 metadata, in place")
    p_migrate.add_argument("target", choices=["v3"], help="the format to add (v3)")
    p_migrate.add_argument("path")
    p_migrate.add_argument("--dry-run", action="store_true", help="report, write nothing")
    p_migrate.add_argument("--remove-v2", action="store_true", help="then delete the v2 metadata")
    p_migrate.add_argument("--overwrite", action="store_true", help="replace existing zarr.json")
    p_migrate.set_defaults(func=migrate)
    p_convert = sub.add_parser(
        "convert", help="copy an array or hierarchy into a new store and format"
    )
    p_convert.add_argument("src")
    p_convert.add_argument("dst")
    p_convert.add_argument("--path", help="the node inside SRC to copy (default: the root)")
    p_convert.add_argument("--zarr-format", default="3", help="3 (default), 2 or n5")
    p_convert.add_argument("--chunks", help="chunk shape, e.g. 64,64 (default: the source's)")
    p_convert.add_argument("--shards", help="shard shape, e.g. 256,256 (default: none)")
    p_convert.add_argument(
        "--compressor", default="auto", help="auto, none, a codec name or codec JSON"
    )
    p_convert.add_argument("--overwrite", action="store_true", help="replace what DST holds")
    p_convert.add_argument("--quiet", action="store_true", help="no progress bar")
    p_convert.set_defaults(func=convert)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Exception as e:  # a CLI prints errors, it does not dump tracebacks
        from cuzarr.errors import ZarrError

        if not isinstance(e, ZarrError):
            raise
        print(f"cuzarr: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
