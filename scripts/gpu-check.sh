#!/usr/bin/env bash
# One prepared run on a lent GPU machine (PyTorch + timm + nvidia-cublas wheels, no network, maybe no node).
# Needs the carry built here by scripts/pack-gpu-carry.sh (.gpu-carry/carry.tar.xz). Writes everything under
# $OUT (default ./gpu-out): gpu-check.log, env.json, cuda-checks.{json,md}, bench.{json,md} and the raw
# *.jsonl. A global time guard (GPU_CHECK_BUDGET_S, default 450 s) skips what no longer fits, so partial
# results are always written.
#   run tool:  command "bash scripts/gpu-check.sh", carry [".gpu-carry"], timeout_s 540
# GPU_CHECK_QUICK=1 (budget 280 s, ~250 s of work): the checks (60 s; fused attention under v1 and v2, parity
# fixtures also with the pruned last block), then vit_base / vit_small / deit_tiny in bfloat16 and float16 at
# batch 1 and 256 for vitnode and timm eager, one profiled vitnode run (vit_base bf16 b256 -> profile.{json,md})
# and the same with VITNODE_CUDA_ATTN=v2 (-> profile-v2.*) plus a bench row "vitnode (attn v2, pruned)" (v2 and
# VITNODE_PRUNE_LAST_BLOCK=1: the candidate CUDA default), the hybrid
# vit_base_r50_s16_224 bf16 at batch 256 and 1 (own prepare, vitnode, timm eager), a row with the opt-in
# actLayer 'gelu_tanh' when time allows, torch.compile vit_base bf16 b256 last.
#   run tool:  command "GPU_CHECK_QUICK=1 bash scripts/gpu-check.sh", carry [".gpu-carry"], timeout_s 330
# CHECKS_ONLY=<regex> narrows the checks to the matching per-op cases (no parity / digits; bench/gpu/run-checks.mjs
# names the regex for the ops of timm's ViT families).
# Full mode has the hybrids (vit_base_r50_s16_224, vit_small_r26_s32_224; 16-bit only) in its model lists.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/gpu-out}"
mkdir -p "$OUTDIR"
exec > >(tee -a "$OUTDIR/gpu-check.log") 2>&1
START=$(date +%s)
QUICK="${GPU_CHECK_QUICK:-}"
[ "$QUICK" = 0 ] && QUICK=""
if [ -n "$QUICK" ]; then
  BUDGET="${GPU_CHECK_BUDGET_S:-280}"
  CHECKS_S=60
  Q_MODELS="vit_base_patch16_224 vit_small_patch16_224 deit_tiny_patch16_224"
  Q_DTYPES="bfloat16 float16"
  Q_BATCHES="256 1"
else
  BUDGET="${GPU_CHECK_BUDGET_S:-450}"
  CHECKS_S=80
fi
END=$((START + BUDGET))
left() { echo $((END - $(date +%s))); }
stage() { echo; echo "== [$(($(date +%s) - START)) s] $*"; }

stage "unpack carry"
if [ -f .gpu-carry/carry.tar.xz ]; then
  tar -xJf .gpu-carry/carry.tar.xz -C "$ROOT" || echo "unpack failed"
else
  echo "no .gpu-carry/carry.tar.xz: run scripts/pack-gpu-carry.sh on the build machine and carry .gpu-carry"
fi
NODE="$ROOT/node/bin/node"
[ -x "$NODE" ] || NODE="$(command -v node || true)"
PY=""
for p in python3 python; do
  if command -v "$p" >/dev/null && "$p" -c "import torch, timm" 2>/dev/null; then PY="$p"; break; fi
done
echo "node: ${NODE:-none} $("${NODE:-false}" --version 2>/dev/null)   python: ${PY:-none (no torch+timm)}"

stage "environment"
nvidia-smi || true
CUBLAS_DIR=""
if [ -n "$PY" ]; then
  CUBLAS_DIR="$("$PY" - <<'PY'
import glob, os
try:
    import nvidia
    for base in list(nvidia.__path__):
        for sub in ('cu13/lib', 'cublas/lib', 'cu12/lib'):
            d = os.path.join(base, sub)
            if glob.glob(os.path.join(d, 'libcublasLt.so.*')):
                print(d)
                raise SystemExit
except ImportError:
    pass
PY
)"
fi
echo "cuBLAS dir: ${CUBLAS_DIR:-not found via python (vitnode searches the default paths)}"
[ -n "$CUBLAS_DIR" ] && export VITNODE_CUBLAS_DIR="$CUBLAS_DIR"
# Only node gets the carried libraries (libstdc++ etc. must not shadow python's).
NODE_LD="$ROOT/build/Release${CUBLAS_DIR:+:$CUBLAS_DIR}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
runnode() { LD_LIBRARY_PATH="$NODE_LD" "$NODE" "$@"; }
GPU="$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
DRIVER="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)"
TIMM="$([ -n "$PY" ] && "$PY" -c 'import timm; print(timm.__version__)' 2>/dev/null)"
TORCHV="$([ -n "$PY" ] && "$PY" -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null)"
COMMIT="$(cat .gpu-carry/COMMIT 2>/dev/null || git rev-parse HEAD 2>/dev/null || echo unknown)"
printf '{"gpu": "%s", "driver": "%s", "timm": "%s", "torch": "%s", "commit": "%s", "cublas_dir": "%s"}\n' \
  "$GPU" "$DRIVER" "$TIMM" "$TORCHV" "$COMMIT" "$CUBLAS_DIR" > "$OUTDIR/env.json"
cat "$OUTDIR/env.json"

stage "vitnode doctor (backends)"
if [ -n "$NODE" ]; then
  runnode -e "import('$ROOT/dist/index.js').then(m => console.log(JSON.stringify(m.backends(), null, 2))).catch(e => { console.error(e); process.exit(1); })" \
    | tee "$OUTDIR/backends.json"
fi

stage "CUDA checks (per-op vs CPU, parity fixtures, digits) — budget $CHECKS_S s"
if [ -n "$NODE" ]; then
  CHECKS_DEADLINE_MS=$(( ($(date +%s) + CHECKS_S) * 1000 )) timeout $(( CHECKS_S + 20 < $(left) ? CHECKS_S + 20 : $(left) )) \
    env LD_LIBRARY_PATH="$NODE_LD" "$NODE" bench/gpu/run-checks.mjs "$OUTDIR" | tail -n 60
  echo "checks exit: ${PIPESTATUS[0]}"
  [ -f "$OUTDIR/cuda-checks.md" ] && grep -E "passed|FAIL|\*\*NO\*\*" "$OUTDIR/cuda-checks.md" | head -40
fi

if [ -z "$PY" ]; then
  echo "no python with torch + timm: skipping the benchmark"
  exit 0
fi
W="${TMPDIR:-/tmp}/vitnode-bench-weights"  # 1.7 GB: outside $OUT
TR="$OUTDIR/torch-results.jsonl"
VR="$OUTDIR/vitnode-results.jsonl"
rm -f "$TR" "$VR"

stage "prepare: timm random-init weights + reference logits"
if [ -n "$QUICK" ]; then
  # shellcheck disable=SC2086
  timeout $(( 60 < $(left) ? 60 : $(left) )) "$PY" bench/gpu/torch_bench.py prepare --weights "$W" --out "$TR" --models $Q_MODELS
else
  timeout $(( 90 < $(left) ? 90 : $(left) )) "$PY" bench/gpu/torch_bench.py prepare --weights "$W" --out "$TR"
fi
timeout 30 "$PY" bench/gpu/torch_bench.py peak --weights "$W" --out "$TR"

if [ -n "$QUICK" ]; then
  commas() { echo "$*" | tr ' ' ','; }
  stage "quick: vitnode bench (bf16/fp16, b1/b256, 3 models)"
  if [ -n "$NODE" ]; then
    DL=$(( ($(date +%s) + 45) * 1000 ))
    timeout $(( 60 < $(left) ? 60 : $(left) )) env LD_LIBRARY_PATH="$NODE_LD" "$NODE" bench/gpu/vitnode-bench.mjs \
      --weights "$W" --out "$VR" --deadline "$DL" --budget 0.3 --models "$(commas $Q_MODELS)" \
      --dtypes "$(commas $Q_DTYPES)" --batches "$(commas $Q_BATCHES)" | cut -c1-300
  fi
  stage "quick: profiled vitnode run (vit_base bf16 b256) -> profile.{json,md}"
  if [ -n "$NODE" ]; then
    timeout $(( 40 < $(left) ? 40 : $(left) )) env LD_LIBRARY_PATH="$NODE_LD" "$NODE" bench/gpu/vitnode-bench.mjs \
      --profile vit_base_patch16_224 bfloat16 256 --weights "$W" --out-dir "$OUTDIR" --iters 8 | head -60
  fi
  # The v2 fused attention kernel (default stays v1 until this run verifies it): per-op profile and img/s.
  stage "quick: profiled vitnode run with VITNODE_CUDA_ATTN=v2 -> profile-v2.{json,md}"
  if [ -n "$NODE" ]; then
    timeout $(( 30 < $(left) ? 30 : $(left) )) env LD_LIBRARY_PATH="$NODE_LD" VITNODE_CUDA_ATTN=v2 "$NODE" \
      bench/gpu/vitnode-bench.mjs --profile vit_base_patch16_224 bfloat16 256 --weights "$W" --out-dir "$OUTDIR" \
      --iters 8 --tag v2 | head -40
  fi
  # The candidate default: v2 plus the pruned last block (the checks above verify both on CUDA).
  stage "quick: vitnode bench, v2 + pruned last block (vit_base bf16 b256, row 'vitnode (attn v2, pruned)')"
  if [ -n "$NODE" ]; then
    DL=$(( ($(date +%s) + 18) * 1000 ))
    timeout $(( 25 < $(left) ? 25 : $(left) )) env LD_LIBRARY_PATH="$NODE_LD" VITNODE_CUDA_ATTN=v2 \
      VITNODE_PRUNE_LAST_BLOCK=1 "$NODE" bench/gpu/vitnode-bench.mjs --weights "$W" --out "$VR" --deadline "$DL" \
      --budget 0.3 --models vit_base_patch16_224 --dtypes bfloat16 --batches 256 \
      --engine "vitnode (attn v2, pruned)" | cut -c1-300
  fi
  stage "quick: timm eager (same configs)"
  DL=$(( $(date +%s) + 35 ))
  # shellcheck disable=SC2086
  timeout $(( 50 < $(left) ? 50 : $(left) )) "$PY" bench/gpu/torch_bench.py eager --weights "$W" --out "$TR" --deadline "$DL" \
    --budget 0.3 --models $Q_MODELS --dtypes $Q_DTYPES --batches $Q_BATCHES | cut -c1-300
  stage "quick: hybrid vit_base_r50_s16_224 bf16 b256/b1 (prepare, vitnode, timm eager; ~25 s)"
  HY=vit_base_r50_s16_224
  timeout $(( 25 < $(left) ? 25 : $(left) )) "$PY" bench/gpu/torch_bench.py prepare --weights "$W" --out "$TR" --models $HY \
    | cut -c1-300
  if [ -n "$NODE" ]; then
    DL=$(( ($(date +%s) + 25) * 1000 ))
    timeout $(( 35 < $(left) ? 35 : $(left) )) env LD_LIBRARY_PATH="$NODE_LD" "$NODE" bench/gpu/vitnode-bench.mjs \
      --weights "$W" --out "$VR" --deadline "$DL" --budget 0.3 --models $HY --dtypes bfloat16 --batches 256,1 | cut -c1-300
  fi
  DL=$(( $(date +%s) + 15 ))
  timeout $(( 25 < $(left) ? 25 : $(left) )) "$PY" bench/gpu/torch_bench.py eager --weights "$W" --out "$TR" --deadline "$DL" \
    --budget 0.3 --models $HY --dtypes bfloat16 --batches 256 1 | cut -c1-300
  # Opt-in act_layer 'gelu_tanh' (cuBLASLt's GELU epilogue; not timm's exact GELU): only when torch.compile keeps
  # >= 80 s after it.
  stage "quick: vitnode bench, actLayer gelu_tanh (vit_base bf16 b256, row 'vitnode (gelu_tanh)')"
  if [ -n "$NODE" ] && [ "$(left)" -gt 105 ]; then
    DL=$(( ($(date +%s) + 18) * 1000 ))
    timeout 25 env LD_LIBRARY_PATH="$NODE_LD" VITNODE_BENCH_ACT_LAYER=gelu_tanh "$NODE" bench/gpu/vitnode-bench.mjs \
      --weights "$W" --out "$VR" --deadline "$DL" --budget 0.3 --models vit_base_patch16_224 --dtypes bfloat16 \
      --batches 256 --engine "vitnode (gelu_tanh)" | cut -c1-300
  else
    echo "skipped: $(left) s left"
  fi
  stage "quick: torch.compile vit_base bf16 b256"
  if [ "$(left)" -gt 30 ]; then
    timeout $(( $(left) - 10 )) "$PY" bench/gpu/torch_bench.py compile --weights "$W" --out "$TR" \
      --deadline $(( $(date +%s) + $(left) - 25 )) --budget 0.3 --configs vit_base_patch16_224:bfloat16:256 | cut -c1-300
  else
    echo "skipped: $(left) s left"
  fi
  stage "report"
  "$PY" bench/gpu/report.py --out "$OUTDIR" | head -80
  rm -rf "$W"
  stage "done"
  exit 0
fi

stage "vitnode bench — budget $(( $(left) * 40 / 100 )) s"
if [ -n "$NODE" ]; then
  DL=$(( ($(date +%s) + $(left) * 40 / 100) * 1000 ))
  timeout $(( $(left) * 40 / 100 + 20 )) env LD_LIBRARY_PATH="$NODE_LD" "$NODE" bench/gpu/vitnode-bench.mjs \
    --weights "$W" --out "$VR" --deadline "$DL" --budget 0.4 | cut -c1-300
fi

stage "timm eager bench — budget $(( $(left) * 60 / 100 )) s"
DL=$(( $(date +%s) + $(left) * 60 / 100 ))
timeout $(( $(left) * 60 / 100 + 20 )) "$PY" bench/gpu/torch_bench.py eager --weights "$W" --out "$TR" --deadline "$DL" --budget 0.4 | cut -c1-300

stage "torch.compile (vit_base bf16 b256, then b1) — budget $(( $(left) - 15 )) s"
if [ "$(left)" -gt 40 ]; then
  DL=$(( $(date +%s) + $(left) - 60 ))
  timeout $(( $(left) - 10 )) "$PY" bench/gpu/torch_bench.py compile --weights "$W" --out "$TR" --deadline "$DL" --budget 0.4 \
    --configs vit_base_patch16_224:bfloat16:256,vit_base_patch16_224:bfloat16:1 | cut -c1-300
fi

stage "report"
"$PY" bench/gpu/report.py --out "$OUTDIR" | head -80
rm -rf "$W"  # weights are regenerated from the seed; keep $OUT small
stage "done"
