"""Host and device buffers: which backend serves an array, and moving values between them.

Importing cuzarr never imports cupy; the device is probed only when asked for.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

from cuzarr.config import config
from cuzarr.errors import DeviceUnavailableError

# CUDA does not survive fork(): a child forked after its parent set CUDA up cannot use
# the device (data-loader workers are often forked). There "auto" means the CPU.
_cuda_probed = False  # this process has asked CUDA for its devices
_forked_after_cuda = False
FORKED_AFTER_CUDA = (
    "this process was forked after CUDA was set up in its parent, and CUDA does not "
    "survive fork() (start worker processes with the 'spawn' or 'forkserver' method)"
)


def _after_fork_in_child() -> None:
    global _forked_after_cuda
    _forked_after_cuda = _forked_after_cuda or _cuda_probed


os.register_at_fork(after_in_child=_after_fork_in_child)


def gpu_unavailable_reason() -> str | None:
    """None when the device backend can run here, else what is missing."""
    return FORKED_AFTER_CUDA if _forked_after_cuda else _probe()


@functools.cache
def _probe() -> str | None:
    global _cuda_probed
    try:
        import cupy
    except ImportError:
        return "cupy is not installed (pip install 'cuzarr[gpu]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
        _cuda_probed = True
        if count < 1:
            return "cupy sees no CUDA device"
    except Exception as e:  # no driver, no device, a driver too old for the runtime ...
        return f"cupy cannot use a CUDA device ({type(e).__name__}: {e})"
    try:
        from nvidia import nvcomp  # noqa: F401
    except ImportError:
        return "nvCOMP's Python module is not installed (nvidia-nvcomp-cu12 or -cu13)"
    try:
        from numba import cuda
    except ImportError:
        return "numba-cuda is not installed"
    if not cuda.is_available():
        return "numba's CUDA target finds no usable device"
    return None


def gpu_available() -> bool:
    """True when cupy, nvCOMP and numba-cuda import and a CUDA device is usable."""
    return gpu_unavailable_reason() is None


def resolve_device(device: str | None, dtype: Any = None) -> str:
    """``"auto"``/``"cpu"``/``"gpu"`` (or None: the config's) -> ``"cpu"`` or ``"gpu"``,
    for an array of ``dtype``.

    "auto" is the GPU where its libraries and a device are present and the device check
    (:mod:`cuzarr.pipeline.device_check`: device reads of small arrays equal the CPU's)
    passed in this process, unless the array holds what device arrays cannot (strings,
    objects, structured records); else the CPU."""
    wanted = device or config["device"]
    if wanted not in ("auto", "cpu", "gpu"):
        raise DeviceUnavailableError(f"device must be 'auto', 'cpu' or 'gpu', not {wanted!r}")
    if wanted == "cpu":
        return "cpu"
    reason = gpu_unavailable_reason()
    if wanted == "gpu":
        if reason is not None:
            raise DeviceUnavailableError(f"device='gpu' was requested but {reason}")
        return "gpu"
    if reason is not None or (dtype is not None and not device_holds(dtype)):
        return "cpu"
    from cuzarr.pipeline.device_check import auto_check_failure

    return "gpu" if auto_check_failure() is None else "cpu"


def device_holds(dtype: Any) -> bool:
    """Whether device (cupy) arrays can hold elements of ``dtype``: numbers and booleans,
    not strings, Python objects or structured records."""
    dtype = np.dtype(dtype)
    return not (dtype.hasobject or dtype.kind in "SUV")


def is_device_array(value: Any) -> bool:
    """True for an array in CUDA device memory: cupy, ``__cuda_array_interface__``, or
    ``__dlpack__`` on a CUDA device (a torch CUDA tensor)."""
    if hasattr(value, "__cuda_array_interface__"):
        return True
    device = getattr(value, "__dlpack_device__", None)
    if device is None:
        return False
    try:
        return device()[0] in (2, 13)  # kDLCUDA, kDLCUDAManaged
    except Exception:
        return False


def to_host(value: Any) -> Any:
    """A host (numpy) copy of a device array; any other value unchanged. Writes take
    device arrays this way: chunks are encoded on the host."""
    if not is_device_array(value):
        return value
    import cupy

    if hasattr(value, "__cuda_array_interface__"):
        return cupy.asnumpy(cupy.asarray(value))
    return cupy.asnumpy(cupy.from_dlpack(value))
