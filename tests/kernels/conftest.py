"""The kernel tests run under numba's CUDA simulator, on the CPU, in the normal suite.

``NUMBA_ENABLE_CUDASIM=1`` must be set before ``numba.cuda`` is first imported, so it is
set here, at collection, and ``numba.cuda`` is imported right away. The variable stays
set for this process (numba re-reads its environment when it compiles, and a flip back
would confuse the simulator); only numba reads it, and outside tests/kernels and
tests/gpu nothing in the suite imports numba. If ``numba.cuda`` was already imported for
a real device (tests/gpu/conftest.py does that when a GPU is present), the kernels run
on that device instead. Without numba, every test here is skipped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def _import_cuda() -> str | None:
    """Import numba.cuda (the simulator unless already imported); a skip reason or None."""
    if "numba.cuda" not in sys.modules:
        os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
        try:
            import numba
        except ImportError:
            return "numba is not installed (it is in the test extra)"
        numba.config.ENABLE_CUDASIM = 1  # in case numba itself was imported before
        import numba.cuda  # noqa: F401
    from numba import cuda

    if cuda.jit.__module__.startswith("numba.cuda.simulator") or cuda.is_available():
        return None
    return "numba.cuda was imported for a real device, and there is none"


SKIP_REASON = _import_cuda()


def pytest_collection_modifyitems(config, items):
    if SKIP_REASON is None:
        return
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
