#!/usr/bin/env bash
# Issue #16's GPU numbers in one run (docs/benchmarks.md, sections "... (GPU)" and "GPU busy share"):
#   1. wfm vs the official I-JEPA / MAE steps at the paper size, batch 256, bf16, eager and compiled
#   2. GPU busy share, kernels per step and host time per step from a profiler trace (JEPA eager and compiled, MAE)
#   3. the paper recipes end to end (`wfm fit`, loader workers, Lightning, bf16): steady-state samples/s from
#      the progress lines' "now" rate, on a reduced built-in corpus (--n per dataset) for a fixed number of steps
#
#   tools/gpu_benchmarks.sh ~/src/ijepa ~/src/mae [OUTDIR]
# OUTDIR (default runs/gpu_bench) receives stages.log (every stage's full output), trace_jepa.json.gz (the eager
# JEPA profile, for chrome://tracing or Perfetto) and a copy of docs/benchmarks.md.
#
# Each stage has its own time limit and a failing stage does not stop the others; docs/benchmarks.md is copied
# into OUTDIR after every stage. Set WFM_STEPS / WFM_FIT_STEPS / WFM_FIT_N to change the sizes, WFM_STAGES to run
# some stages only (e.g. WFM_STAGES="reference busy_mae").
set -u
ijepa=${1:?give a local checkout of facebookresearch/ijepa}
mae=${2:?give a local checkout of facebookresearch/mae}
out=${3:-runs/gpu_bench}
steps=${WFM_STEPS:-20}
fit_steps=${WFM_FIT_STEPS:-120}
fit_n=${WFM_FIT_N:-1024}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

stages=${WFM_STAGES:-reference busy_jepa busy_mae busy_jepa_compiled fit_jepa fit_mae fit_jepa_compiled}
stage() {  # stage NAME LIMIT_S CMD...: run, append its output to OUTDIR/stages.log, print its tail
  local name=$1 limit=$2
  shift 2
  [[ " $stages " == *" $name "* ]] || return 0
  echo "== $name ($(date +%T)): $*"
  local t0=$SECONDS log="$out/.stage.log"
  timeout "$limit" "$@" >"$log" 2>&1
  local rc=$?
  echo "-- $name: exit $rc after $((SECONDS - t0)) s"
  grep -v -e '^USDT' -e 'Warning' "$log" | tail -n "${TAIL:-14}"
  { echo "== $name: $* (exit $rc after $((SECONDS - t0)) s)"; cat "$log"; } >>"$out/stages.log"
  rm -f "$log"
  cp docs/benchmarks.md "$out/benchmarks.md"
}

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv
python -c "import torch, lightning; print('torch', torch.__version__, 'lightning', lightning.__version__, \
torch.cuda.get_device_name())"

TAIL=12 stage reference 300 python tools/bench_reference.py --ijepa "$ijepa" --mae "$mae" --device cuda --bf16 \
  --batch 256 --steps "$steps"
TAIL=16 stage busy_jepa 75 python tools/profile_step.py --device cuda --batch 256 --bf16 --steps "$steps" \
  --trace "$out/trace_jepa.json"
TAIL=16 stage busy_mae 60 python tools/profile_step.py --method mae --device cuda --batch 256 --bf16 --steps "$steps"
TAIL=16 stage busy_jepa_compiled 150 python tools/profile_step.py --device cuda --batch 256 --bf16 \
  --steps "$steps" --compile
gzip -f "$out/trace_jepa.json" 2>/dev/null

fit=(--data.init_args.n "$fit_n" --trainer.max_steps "$fit_steps" --trainer.log_every_n_steps 20
     --trainer.limit_val_batches 0 --trainer.logger false
     --trainer.default_root_dir "${TMPDIR:-/tmp}/wfm_gpu_bench_runs")
export WFM_CACHE=${WFM_CACHE:-/tmp/wfm_gpu_bench_cache}
TAIL=8 stage fit_jepa 150 python -m wfm fit --config configs/jepa_region.yaml "${fit[@]}"
TAIL=8 stage fit_mae 100 python -m wfm fit --config configs/mae.yaml "${fit[@]}"
TAIL=8 stage fit_jepa_compiled 200 python -m wfm fit --config configs/jepa_region.yaml "${fit[@]}" \
  --model.init_args.compile true
