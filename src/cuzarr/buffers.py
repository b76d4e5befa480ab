"""Host and device buffers: which backend serves an array, and the array module for it.

Importing cuzarr never imports cupy; the device is probed only when asked for.
"""

from __future__ import annotations

import functools

from cuzarr.config import config
from cuzarr.errors import DeviceUnavailableError

# The device read path (pipeline/device.py) is built and tested under the CUDA simulator
# but has not yet run on a GPU; until it has, reads never take it.
DEVICE_BACKEND_ENABLED = False


@functools.cache
def gpu_available() -> bool:
    """True when the device backend is enabled, cupy imports and sees a CUDA device."""
    if not DEVICE_BACKEND_ENABLED:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


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
            "device='gpu' was requested but no usable GPU backend was found: it needs cupy, a "
            "CUDA device (install cuzarr[gpu]) and a cuzarr build whose device read path is "
            "enabled (not yet: it has only run under the CUDA simulator)"
        )
    return "cpu"
