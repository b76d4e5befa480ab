"""Launch geometry shared by the kernels (no numba import here).

Every kernel works on a *batch* of segments (blocks, chunks, boxes) described by arrays,
and is launched once per batch on a 2-D grid: ``blockIdx.x`` picks the segment,
``blockIdx.y`` and the threads of the CUDA block stride over the segment's items. Big
segments therefore get many CUDA blocks, small ones a single one, with no per-segment
launch and no search for "which segment is this item in".
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_GRID_Y = 65535
DEVICE_THREADS = 256
DEVICE_ITEMS_PER_THREAD = 4
# The simulator runs one Python thread per CUDA thread: few threads, few blocks.
SIMULATED_THREADS = 16
SIMULATED_MAX_GRID_Y = 2


def simulated() -> bool:
    """True when numba.cuda is the CPU simulator (NUMBA_ENABLE_CUDASIM=1 when numba.cuda
    was first imported; numba's config value may be reloaded since, the module is not)."""
    from numba import cuda

    return cuda.jit.__module__.startswith("numba.cuda.simulator")


def default_threads() -> int:
    return SIMULATED_THREADS if simulated() else DEVICE_THREADS


def host_max(values: Any, given: int | None, what: str) -> int:
    """The largest of ``values`` (a host array), or ``given`` when the values live on the
    device (the caller knows them from the host-side plan)."""
    if given is not None:
        return int(given)
    if isinstance(values, np.ndarray):
        return int(values.max()) if values.size else 0
    raise TypeError(f"{what}: pass the maximum explicitly when the descriptors are on the device")


def grid_2d(n_segments: int, max_items: int, threads: int | None) -> tuple[tuple[int, int], int]:
    """((segments, tiles), threads) for a batch whose largest segment has ``max_items``."""
    threads = threads or default_threads()
    if simulated():
        per_tile, cap = threads, SIMULATED_MAX_GRID_Y
    else:
        per_tile, cap = threads * DEVICE_ITEMS_PER_THREAD, MAX_GRID_Y
    tiles = max(1, min(cap, -(-max_items // per_tile)))
    return (n_segments, tiles), threads


def grid_1d(n_items: int, threads: int | None) -> tuple[int, int]:
    """(blocks, threads) for one thread per item."""
    threads = threads or default_threads()
    return max(1, -(-n_items // threads)), threads


def launch_segments(
    kernel: Any, args: tuple, max_size: int | None, stream: Any, threads: int | None, what: str
) -> None:
    """Launch a per-segment kernel once for a batch: one grid row per segment, with
    ``args[4]`` the segment sizes (the descriptor layout every segment kernel shares)."""
    sizes = args[4]
    if len(sizes) == 0:
        return
    grid, block = grid_2d(len(sizes), host_max(sizes, max_size, what), threads)
    kernel[grid, block, stream](*args)
