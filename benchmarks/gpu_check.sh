#!/usr/bin/env bash
# Issue 12's device check. Steps (each writes $OUT/<step>.json; a failing step does not stop the next ones):
#   install     the carried wheels (.whl/, benchmarks/gpu_wheels.txt) into a --target folder, then the project -e --no-deps
#   throughput  naive vs fast at paper shape, random weights (benchmarks.throughput, batch 8 and 32): ex/s, ratios,
#               CUDA peak memory, FLOP/s and fraction of bf16 peak, projected baseline epoch and 479-trial search
#   train_run   train.py at paper shape for 200 steps, bf16-mixed: steady-state step time through Lightning
#   cuda_oom    a 2-trial sweep: trial 0 (20 layers, batch 2048) must fail `cuda_oom: ...`, trial 1 must run on freed memory
#   ray_trials  skipped: Ray's wheel does not fit the 64 MiB working-tree limit
# then $OUT/summary.md (and $OUT/gpu_check.log, every command's output). Settings: benchmarks/conf/gpu_check.yaml.
#
#   benchmarks/download_gpu_wheels.sh && benchmarks/gpu_check.sh --prepare   # here: wheels, data copy, size check
#   bash benchmarks/gpu_check.sh                # on the device (device tool: carry [".whl", ".gpu_check"], timeout_s 540;
#                                               #   the profile's deadline_s stops starting commands after 450 s)
#   bash benchmarks/gpu_check.sh --only cuda_oom    # a rerun of some steps (install runs first anyway)
#   benchmarks/gpu_check.sh --dry-run [--out DIR]   # here, CPU, toy size (tests/test_gpu_check.py)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
exec "${PYTHON:-python3}" -m benchmarks.gpu_check "$@"
