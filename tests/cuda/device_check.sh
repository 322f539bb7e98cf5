#!/bin/sh
# Device check of the optional CUDA matmul offload (make CUDA=1). Skips (exit 77, "skipped") unless
# nvcc and a working NVIDIA GPU are present, so tests/run.sh can run it anywhere. On a GPU
# machine: builds with CUDA=1 into build-gpu, runs the GPU-vs-CPU matmul test for every weight
# type (tests/backend/test_cuda_matmul.c), runs the qwen2 fixture with and without RL_BACKEND=cuda
# (every matmul offloaded) and compares the logits (max |d| / max |logit| <= 1e-3), then times a
# 128-token prefill of a synthetic Qwen2.5-0.5B (bf16) with `rabbitllm bench` on CPU and GPU.
# Env: RL_GPU_BUILD (build dir, default build-gpu), RL_GPU_PREBUILT (a CUDA=1 build dir used if the
# build fails here, default build-gpu-prebuilt), RL_SHARED (default ../shared).
cd "$(dirname "$0")/../.." || exit 1
NVCC=$(command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then echo "skipped: no nvcc"; exit 77; fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then echo "skipped: no NVIDIA GPU"; exit 77; fi
B=${RL_GPU_BUILD:-build-gpu}
SH=${RL_SHARED:-../shared}
fail=0
nvidia-smi -L; nvidia-smi --query-gpu=driver_version,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader 2>/dev/null
"$NVCC" --version | tail -n 1
echo "== build: make CUDA=1 BUILD=$B (nvcc $NVCC)"
export PATH="$(dirname "$NVCC"):$PATH"
J=$(nproc 2>/dev/null || echo 4)
PRE=${RL_GPU_PREBUILT:-build-gpu-prebuilt}
if ! make -j"$J" CUDA=1 BUILD="$B" >"/tmp/rl_gpu_build.log" 2>&1; then
  echo "build failed:"; grep -E "error|Error" /tmp/rl_gpu_build.log | head -n 20
  # a CUDA=1 build made elsewhere, if one was copied here (RL_GPU_PREBUILT)
  if [ -x "$PRE/rabbitllm" ] && [ -x "$PRE/tests/backend/test_cuda_matmul" ]; then echo "using the prebuilt $PRE"; B=$PRE
    [ -d "$PRE/lib" ] && export LD_LIBRARY_PATH="$PRE/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; else exit 1; fi
fi
BIN="$B/rabbitllm"

echo "== GPU vs CPU matmul (all weight types, odd sizes)"
if RL_CUDA=1 "$B/tests/backend/test_cuda_matmul" 2>/tmp/rl_gpu_test.log; then :; else fail=1; tail -n 20 /tmp/rl_gpu_test.log; fi
grep -q "skipped" /tmp/rl_gpu_test.log 2>/dev/null && { echo "GPU not usable by the CUDA runtime:"; cat /tmp/rl_gpu_test.log; fail=1; }
head -n 3 /tmp/rl_gpu_test.log

# max |a - b| / max |b| over two raw f32 files
relerr() {
  od -An -v -f "$1" | tr -s ' ' '\n' | grep -v '^$' >/tmp/rl_a.txt
  od -An -v -f "$2" | tr -s ' ' '\n' | grep -v '^$' >/tmp/rl_b.txt
  paste /tmp/rl_a.txt /tmp/rl_b.txt | awk '{d=$1-$2; if (d<0) d=-d; if (d>md) md=d; a=$2; if (a<0) a=-a; if (a>mx) mx=a; n++}
    END {if (n==0) print "nan"; else printf "%.3g %d\n", (mx>0 ? md/mx : md), n}'
}

echo "== fixture logits, CPU vs GPU (every matmul offloaded)"
FX="$SH/fixtures/qwen2"
if [ -f "$FX/config.json" ]; then
  IDS=509,214,34,301,378,133,394,39,174,166,126,329,32,223,90,464
  "$BIN" run "$FX" --ids $IDS -n 4 --temp 0 --ignore-eos --dump-logits /tmp/rl_cpu.f32 >/tmp/rl_cpu.ids 2>/tmp/rl_cpu.err || { fail=1; cat /tmp/rl_cpu.err; }
  RL_BACKEND=cuda RL_CUDA_MIN_T=1 RL_CUDA_MIN_ELEMS=1 "$BIN" run "$FX" --ids $IDS -n 4 --temp 0 --ignore-eos --profile \
    --dump-logits /tmp/rl_gpu.f32 >/tmp/rl_gpu.ids 2>/tmp/rl_gpu.err || { fail=1; cat /tmp/rl_gpu.err; }
  grep -E "matmul path" /tmp/rl_gpu.err
  r=$(relerr /tmp/rl_gpu.f32 /tmp/rl_cpu.f32)
  echo "logits rel err (max|gpu-cpu|/max|cpu|, n values): $r; ids cpu $(cat /tmp/rl_cpu.ids) gpu $(cat /tmp/rl_gpu.ids)"
  awk -v r="${r%% *}" 'BEGIN {exit !(r + 0 <= 1e-3 && r != "nan")}' || { echo "FAIL: logits differ"; fail=1; }
  grep -q "offloaded" /tmp/rl_gpu.err || { echo "FAIL: nothing offloaded"; fail=1; }
else
  echo "fixture part skipped: $FX missing"
fi

echo "== 128-token prefill, synthetic Qwen2.5-0.5B bf16"
CFG="$SH/configs/qwen2.5-0.5b/config.json"
if [ -f "$CFG" ]; then
  M=/tmp/rl_q05
  [ -f "$M/config.json" ] || "$BIN" synth "$CFG" "$M" --dtype bf16 >/dev/null 2>/tmp/rl_synth.err || { cat /tmp/rl_synth.err; fail=1; }
  echo "-- cpu:"; "$BIN" bench "$M" -n 2 2>&1 | grep -E "model|prefill|decode|error"
  echo "-- gpu (RL_BACKEND=cuda):"; RL_BACKEND=cuda "$BIN" bench "$M" -n 2 2>&1 | grep -E "model|prefill|decode|backend:|matmul path|error"
  echo "-- gpu run --profile (128 ids, 1 new):"
  IDS=$(awk 'BEGIN {for (i = 0; i < 128; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 151936}')
  "$BIN" run "$M" --ids "$IDS" -n 1 --temp 0 2>&1 >/dev/null | grep -E "prompt tokens" | sed 's/^/cpu: /'
  RL_BACKEND=cuda "$BIN" run "$M" --ids "$IDS" -n 1 --temp 0 --profile 2>&1 >/dev/null | grep -E "prompt tokens|^total|backend:|matmul path" | sed 's/^/gpu: /'
else
  echo "prefill part skipped: $CFG missing"
fi
[ "$fail" -eq 0 ] && echo "device check: ok" || echo "device check: FAILED"
exit "$fail"
