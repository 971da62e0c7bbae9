#!/usr/bin/env bash
# The bench's quick rows on a lent GPU: `groklab bench --quick --device cuda`, its JSON and markdown written
# to $OUT/device (the device machine's folder that comes back) or, without $OUT, benchmarks/results/device.
#
#   benchmarks/device.sh                 # on the GPU machine, from the repository root or anywhere
#
# Needs a Python whose JAX sees a CUDA GPU (jax[cuda12]); PY picks it (default .venv/bin/python). The
# PyTorch reference loop and numpy's matmul ceiling stay on the CPU, so their ratios there compare a GPU
# step with a CPU loop; the rows of interest are groklab's steps/s, the ensemble ratios and time to 99%.
# Exit 3 without a visible GPU (nothing is measured), otherwise the bench's own exit status.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
DEST="${OUT:-benchmarks/results}/device"
LIMIT="${BENCH_TIMEOUT:-540}"            # seconds: leave time in a 10-minute device call to fetch the files
mkdir -p "$DEST"

if ! "$PY" -c "import jax, sys; sys.exit(0 if jax.devices('gpu') else 1)" >"$DEST/jax-devices.txt" 2>&1; then
    echo "device.sh: JAX in $PY sees no CUDA GPU (see $DEST/jax-devices.txt); install jax[cuda12] there" >&2
    exit 3
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
    >"$DEST/nvidia-smi.csv" 2>&1 || true
uptime >"$DEST/uptime-before.txt"
set +e
timeout "$LIMIT" "$PY" benchmarks/bench.py --quick --device cuda --json --out "$DEST" \
    >"$DEST/bench-stdout.json" 2>"$DEST/bench-stderr.txt"
rc=$?
set -e
uptime >"$DEST/uptime-after.txt"
echo "device.sh: bench exit $rc; results in $DEST" >&2
exit "$rc"
