"""Whether ``device="auto"`` may read on the GPU here: small arrays, one per codec family
the device path decodes, are written and read on the CPU, read again on the device, and
"auto" takes the GPU only when every device read equals the CPU's and no chunk had to
fall back to the host decoder (nvCOMP refusing everything would be correct, but slow).

The device path's parts are tested on the CPU (kernels under numba's simulator, the
orchestration with CPU stand-ins) and on a GPU by ``tests/gpu``; but the driver, the
nvCOMP build and kvikio's mode are this machine's own. An error or a difference here
keeps "auto" on the CPU and says why in a warning. ``device="gpu"`` is not checked: who
asks for the GPU gets it. The check runs once per process, on the first array opened
with "auto" where the GPU libraries are present, and takes about as long as the first
GPU read would (the kernels are compiled then).
"""

from __future__ import annotations

import functools
import logging
import tempfile
import threading

import numpy as np

log = logging.getLogger(__name__)

_ZSTD = {"name": "zstd", "configuration": {"level": 1}}
# Every route through the device path: each compressor nvCOMP decodes (and Blosc around
# them, both shuffles), crc32c and byte swapping, no compressor, inner chunks of shards.
CASES = {
    "zstd": dict(compressors=[_ZSTD]),
    "lz4": dict(compressors=[{"name": "numcodecs.lz4"}]),
    "gzip": dict(compressors=[{"name": "gzip", "configuration": {"level": 1}}]),
    "zlib": dict(compressors=[{"name": "numcodecs.zlib", "configuration": {"level": 1}}]),
    "blosc-lz4-shuffle": dict(
        compressors=[{"name": "blosc", "configuration": {"cname": "lz4", "shuffle": "shuffle"}}]
    ),
    "blosc-zstd-bitshuffle": dict(
        compressors=[{"name": "blosc", "configuration": {"cname": "zstd", "shuffle": "bitshuffle"}}]
    ),
    "big-endian+crc32c": dict(
        serializer={"name": "bytes", "configuration": {"endian": "big"}},
        compressors=[_ZSTD, {"name": "crc32c"}],
    ),
    "uncompressed": dict(compressors=None),
    "sharded-zstd": dict(shards=(64, 96), compressors=[_ZSTD]),
}
SHAPE, CHUNKS = (100, 150), (32, 48)  # edge chunks on both axes
DTYPES = ("<u2", "<f4")
SELECTIONS = [(slice(None), slice(None)), (slice(5, 90, 3), slice(140, 2, -7))]
_lock = threading.Lock()


def _data(dtype: str) -> np.ndarray:
    values = np.arange(np.prod(SHAPE), dtype=np.int64).reshape(SHAPE)
    return ((values * 2654435761) % 65521).astype(dtype)


def compare_device_reads() -> str | None:
    """None when every device read equals the CPU read and no chunk had to be decoded on
    the host, else the first difference or error, named."""
    import cuzarr
    from cuzarr.buffers import to_host
    from cuzarr.pipeline.device import HOST_FALLBACKS
    from cuzarr.stores.memory import MemoryStore

    with tempfile.TemporaryDirectory(prefix="cuzarr-device-check-") as tmp:
        for name, codecs in CASES.items():
            for dtype in DTYPES:
                data = _data(dtype)
                # a memory store (chunks staged through host memory) and a folder (read
                # straight into device memory where the codecs allow)
                for store in (MemoryStore(), f"{tmp}/{name}-{dtype[1:]}"):
                    where = "memory" if isinstance(store, MemoryStore) else "local files"
                    before = HOST_FALLBACKS.copy()
                    try:
                        a = cuzarr.create_array(store, shape=SHAPE, chunks=CHUNKS, dtype=dtype,
                                                data=data, device="cpu", **codecs)  # fmt: skip
                        g = cuzarr.open_array(a.store, device="gpu")
                        for selection in SELECTIONS:
                            got = np.asarray(to_host(g[selection]))
                            if not np.array_equal(got, data[selection]):
                                return f"{name} {dtype} ({where}): the device read differs"
                    except Exception as e:
                        return f"{name} {dtype} ({where}): {type(e).__name__}: {e}"
                    # correct, but not by the device: nvCOMP cannot decode here
                    if fallbacks := HOST_FALLBACKS - before:
                        return f"{name} {dtype} ({where}): decoded on the host ({dict(fallbacks)})"
    return None


@functools.cache
def _checked() -> str | None:
    failure = compare_device_reads()
    if failure is None:
        log.info("device='auto' reads on the GPU: the device check passed")
    else:
        log.warning(
            "device='auto' stays on the CPU: the device check failed (%s); "
            "device='gpu' still reads on the GPU",
            failure,
        )
    return failure


def auto_check_failure() -> str | None:
    """The device check's verdict for this process (run on first call): None when
    "auto" may use the GPU, else why not."""
    with _lock:
        return _checked()
