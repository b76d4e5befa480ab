"""tests/gpu: the read suite on a real device (cupy, nvCOMP, numba-cuda).

Every test here is skipped, with the reason, when cupy, a CUDA device, nVIDIA's nvCOMP
Python module or numba's CUDA target is missing. When they are present, ``numba.cuda`` is
imported here, for the device, before tests/kernels/conftest.py could switch numba to its
simulator (pytest collects tests/gpu first); the kernel tests then run on the device too.
Run on its own with ``python -m pytest tests/gpu``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _skip_reason() -> str | None:
    try:
        import cupy
    except ImportError:
        return "cupy is not installed (pip install 'cuzarr[gpu]')"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "no CUDA device"
    except Exception as e:  # no driver, no device, ...
        return f"no usable CUDA device ({type(e).__name__}: {e})"
    try:
        from nvidia import nvcomp  # noqa: F401
    except ImportError:
        return "nvCOMP's Python module is not installed (nvidia-nvcomp-cu12/cu13)"
    try:
        from numba import cuda
    except ImportError:
        return "numba-cuda is not installed"
    if cuda.jit.__module__.startswith("numba.cuda.simulator"):
        return "numba's CUDA simulator is active in this process; run tests/gpu on its own"
    return None


SKIP_REASON = _skip_reason()


@pytest.fixture(autouse=True)
def cpu_by_default():
    """Arrays are made and read back on the CPU (the reference) unless a test opens them
    with device="gpu" or "auto": on a GPU machine, "auto" would be the GPU."""
    import cuzarr

    with cuzarr.config.set(device="cpu"):
        yield


def pytest_collection_modifyitems(config, items):
    if SKIP_REASON is None:
        return
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
