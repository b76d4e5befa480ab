#!/usr/bin/env bash
# Validate the device backend on a GPU machine in one go: the GPU test suite, then the
# GPU read benchmark on smaller datasets. Logs and the benchmark table go to LOGDIR.
#
#   bash benchmarks/gpu_check.sh LOGDIR [SIZE_GIB] [CROPS]
#
# Needs cupy, numba-cuda and nvCOMP's Python module (kvikio and zarr-python for all rows)
# and cuzarr installed or on PYTHONPATH. The full benchmark uses 4 GiB datasets:
#   python benchmarks/gpu_read.py --out benchmarks/results/gpu-read-DATE-DEVICE.md
set -u
out=${1:?usage: gpu_check.sh LOGDIR [SIZE_GIB] [CROPS]}
size=${2:-1}
crops=${3:-128}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
status=0
python3 -m pytest -q -p no:cacheprovider -rs "$here/../tests/gpu" >"$out/pytest-gpu.log" 2>&1 || status=1
tail -n 25 "$out/pytest-gpu.log"
python3 "$here/gpu_read.py" --size-gib "$size" --crops "$crops" --repeats 3 \
  --data "${TMPDIR:-/tmp}/cuzarr-gpu-data" --out "$out/gpu-read.md" 2>"$out/gpu-read.log" || status=1
tail -n 40 "$out/gpu-read.log"
cat "$out/gpu-read.md" 2>/dev/null
exit $status
