"""The child side of :class:`.runner.Runner`: ``python -m <package>.worker MEMORY_MIB``.

It warms up (imports, the thread pool), caps its address space at its warmed-up size
plus ``MEMORY_MIB``, then answers each (module, function, args) frame on stdin with an
:class:`.runner.Outcome` frame on the original stdout. What cases print goes to stderr.
"""

from __future__ import annotations

import faulthandler
import importlib
import os
import resource
import sys

import numpy as np

import cuzarr

from .runner import Outcome, classify, read_frame, write_frame

MIB = 1 << 20
READY = "ready"
# Metadata may declare chunks of up to this many bytes; a smaller cap than the default
# keeps every legitimate allocation of a case well inside the address-space limit, so
# hitting the limit means a bug rather than a big but honest chunk.
MAX_CHUNK_BYTES = 64 * MIB


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> int:
    """Reset the resident high-water mark (Linux: clear_refs 5); returns resident bytes."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _status_kib("VmRSS") * 1024


def peak_bytes() -> int:
    return _status_kib("VmHWM") * 1024


def warm_up() -> None:
    """Load what cases use, so that the address-space limit counts the cases only."""
    import fsspec  # noqa: F401
    import numcodecs  # noqa: F401
    import zstandard  # noqa: F401

    try:
        cuzarr.config.set(max_chunk_bytes=MAX_CHUNK_BYTES)
    except cuzarr.ZarrError:  # a cuzarr without the setting: cases may allocate more
        pass
    store: dict = {}
    a = cuzarr.create_array(
        store, name="s", shape=(64, 64), chunks=(8, 8), dtype="f8", shards=(32, 32)
    )
    a[...] = np.arange(64 * 64).reshape(64, 64)
    a[:40, :40]
    cuzarr.create_array(store, name="g", shape=(8,), chunks=(4,), dtype="i4", zarr_format=2)[
        ...
    ] = 1
    list(cuzarr.open_group(store, mode="r").members(max_depth=None))


def cap_address_space(extra_mib: int) -> None:
    size = _status_kib("VmSize") * 1024
    limit = size + extra_mib * MIB
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_case(module: str, name: str, args: tuple) -> Outcome:
    fn = getattr(importlib.import_module(module), name)
    try:
        value = fn(*args)
    except Exception as e:
        return classify(e)
    return Outcome("ok", value=value)


def main() -> None:
    answers = os.dup(1)
    os.dup2(2, 1)
    faulthandler.enable()  # a crash leaves its stacks on stderr, which the parent reads
    warm_up()
    cap_address_space(int(sys.argv[1]))
    write_frame(answers, READY)
    requests = sys.stdin.fileno()
    while True:
        request = read_frame(requests)
        if request is None:
            return
        module, name, args, timeout_s = request
        # Shortly before the parent gives up on the case, the stacks show where it hangs.
        faulthandler.dump_traceback_later(timeout_s * 0.9)
        base = reset_peak()
        outcome = run_case(module, name, args)
        faulthandler.cancel_dump_traceback_later()
        outcome.peak_mib = max(0, peak_bytes() - base) / MIB
        try:
            write_frame(answers, outcome)
        except Exception as e:  # an unpicklable return value
            write_frame(answers, Outcome("error", error=type(e).__name__, message=str(e)))


if __name__ == "__main__":
    main()
