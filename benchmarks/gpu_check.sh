#!/usr/bin/env bash
# One GPU check, under 5 minutes on an H200: step time and memory of DRSN-CW / DRSN-CS vs
# ResNet and a naive port (paper preset at batch 128, ResNet-18-width 1-D preset at batch 256,
# eager and compiled), soft-threshold bandwidth against a device copy, and the throughput of
# stacked paper-preset runs (each with its own batch of 128) with CUDA graphs and bf16, and the
# study runner's own loop: a cohort of 64 paper runs stacked vs one run at a time (eager,
# torch.compile, CUDA graphs via mode reduce-overhead; bf16 autocast).
# Usage (repository root, torch with CUDA installed):  bash benchmarks/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-benchmarks/out}}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name())"
# 1. step time and memory ratios (fp32, as in the issue's table)
timeout 200 python benchmarks/bench_step.py --device cuda --presets paper 18_1d --modes eager compile \
  --iters 30 --json "$out/steps.json" 2>&1 | grep -v -i warn | tee "$out/steps.txt"
# 2. stacked runs: samples/s with CUDA graphs, bf16
timeout 150 python benchmarks/bench_step.py --device cuda --skip-steps --modes reduce-overhead --amp \
  --stacks 1 16 64 128 --iters 20 --json "$out/stacked.json" 2>&1 | grep -v -i warn | tee "$out/stacked.txt"
# 3. the study runner: one cohort of 64 drsn_cw_paper runs (quick preset data at 2,048 points), stacked vs one at a time
timeout 240 python benchmarks/bench_study.py --device cuda --runs 64 --batch-size 128 --model drsn_cw_paper \
  --data-args '{"recordings_per_condition": 4, "windows_per_recording": 8, "window": 2048}' \
  --modes eager compile reduce-overhead --single-runs 4 --epochs 2 --json "$out/study.json" 2>&1 | grep -v -i warn | tee "$out/study.txt"
