"""Host and device buffers: which backend serves an array, and the array module for it.

Importing cuzarr never imports cupy; the device is probed only when asked for.
"""

from __future__ import annotations

import functools

from cuzarr.config import config
from cuzarr.errors import DeviceUnavailableError


@functools.cache
def gpu_available() -> bool:
    """True when cupy imports and sees at least one CUDA device and the device backend
    is installed."""
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False
        import cuzarr.pipeline.device  # noqa: F401  (the device backend)
    except Exception:
        return False
    return True


def resolve_device(device: str | None) -> str:
    """``"auto"``/``"cpu"``/``"gpu"`` (or None: the config's) -> ``"cpu"`` or ``"gpu"``."""
    wanted = device or config["device"]
    if wanted not in ("auto", "cpu", "gpu"):
        raise DeviceUnavailableError(f"device must be 'auto', 'cpu' or 'gpu', not {wanted!r}")
    if wanted == "cpu":
        return "cpu"
    if gpu_available():
        return "gpu"
    if wanted == "gpu":
        raise DeviceUnavailableError(
            "device='gpu' was requested but no usable GPU backend was found (cupy with a CUDA "
            "device and cuzarr's device pipeline are needed; install cuzarr[gpu])"
        )
    return "cpu"
