"""The simulator does no type inference, so every kernel is also compiled for the real CUDA
target (compute capability 9.0) down to LLVM IR, in a child process without the
simulator. No GPU, driver or NVVM is needed for that; PTX generation is not covered."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("numba")

SCRIPT = r"""
import sys, types as pytypes
try:
    from numba import types
    from numba.cuda.compiler import compile_cuda
    import numba.cuda.dispatcher as dispatcher
    from cuzarr.kernels import bitshuffle, byteswap, crc32c, scatter, shard_index, shuffle
except Exception as e:
    print("SKIP cannot set up the CUDA target:", repr(e)); sys.exit(0)

# Device functions are compiled for the current device's compute capability: pretend one.
dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(9, 0))
u8, u32, i8, i64 = (types.Array(t, 1, "C") for t in (types.uint8, types.uint32, types.int8, types.int64))
i64x2 = types.Array(types.int64, 2, "C")
blocks = (i64, i64x2, i64, i64x2, i64x2, types.int64)
cases = [
    (shuffle._byte_unshuffle, (u8, u8, i64, i64, i64, i64)),
    (shuffle._byte_shuffle, (u8, u8, i64, i64, i64, i64)),
    (bitshuffle._bit_unshuffle, (u8, u8, i64, i64, i64, i64)),
    (bitshuffle._bit_shuffle, (u8, u8, i64, i64, i64, i64)),
    (byteswap._byteswap, (u8, i64, i64, i64)),
    (crc32c._crc32c, (u8, i64, i64, u32, u32, u32)),
    (shard_index._parse, (i64, types.int64, i64, i64, i64, i8, i64, i64)),
    (scatter._copy_boxes, (u8, u8, u8) + blocks),
    (scatter._copy_boxes, (u32, u32, u32) + blocks),
    (scatter._copy_segments, (u8, u8, i64, i64, i64)),
]
for kernel, signature in cases:
    try:
        compile_cuda(kernel.py_func, types.void, signature, cc=(9, 0))
    except Exception as e:
        if type(e).__name__ in ("CudaSupportError", "NvvmSupportError", "NvvmError"):
            print("SKIP needs a driver or NVVM here:", repr(e)); sys.exit(0)
        print("FAIL", kernel.py_func.__name__, type(e).__name__, e); sys.exit(1)
print("OK")
"""


def test_kernels_type_and_lower_for_the_cuda_target():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    output = (result.stdout + result.stderr).strip()
    if output.startswith("SKIP"):
        pytest.skip(output)
    assert result.returncode == 0 and output.endswith("OK"), output
