#!/usr/bin/env bash
# Validate the device backend on a GPU machine in one go: what the GPU stack looks like,
# the GPU test suite, then the GPU read benchmark on smaller datasets. Logs and the
# benchmark table go to LOGDIR.
#
#   bash benchmarks/gpu_check.sh LOGDIR [SIZE_GIB] [CROPS]
#
# Needs cupy, numba-cuda and nvCOMP's Python module (kvikio and zarr-python for all rows)
# and cuzarr with its dependencies (numpy, numcodecs, crc32c, zstandard) installed or on
# PYTHONPATH. The full benchmark uses 4 GiB datasets:
#   python benchmarks/gpu_read.py --out benchmarks/results/gpu-read-DATE-DEVICE.md
set -u
out=${1:?usage: gpu_check.sh LOGDIR [SIZE_GIB] [CROPS]}
size=${2:-1}
crops=${3:-128}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
# Stop early, saying why, when cuzarr cannot import or sees no usable device. Each step
# has a time limit (4 and 5 minutes), which keeps the whole script under 10 minutes.
python3 - <<'PY' 2>&1 | tee "$out/preflight.log"
import sys
import cuzarr
from cuzarr import buffers
reason = buffers.gpu_unavailable_reason()
print("cuzarr", cuzarr.__version__, "| device path:", reason or "usable")
sys.exit(1 if reason else 0)
PY
[ "${PIPESTATUS[0]}" = 0 ] || exit 1
status=0
timeout 240 python3 -m pytest -q -p no:cacheprovider -rs "$here/../tests/gpu" \
  >"$out/pytest-gpu.log" 2>&1 || status=1
tail -n 25 "$out/pytest-gpu.log"
timeout 300 python3 "$here/gpu_read.py" --size-gib "$size" --crops "$crops" --repeats 3 \
  --data "${TMPDIR:-/tmp}/cuzarr-gpu-data" --out "$out/gpu-read.md" 2>"$out/gpu-read.log" || status=1
tail -n 40 "$out/gpu-read.log"
cat "$out/gpu-read.md" 2>/dev/null
exit $status
