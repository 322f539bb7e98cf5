#!/bin/sh
# Device check of the cuda backend (make CUDA=1), one call on a GPU machine. Skips (exit 77,
# "skipped") unless nvcc and a working NVIDIA GPU are present, so tests/run.sh can run it
# anywhere. Builds with CUDA=1 into build-gpu, then: (1) the conformance suite — every op of the
# interface on cuda against the CPU and the scalar references (cuda must not be skipped); (2) the
# fixture test — every folder of ../shared/fixtures within 1e-3 of its golden on cpu, cpu-staged
# and cuda, the GGUF files (../shared/gguf) and the pre-quantized checkpoints (fixtures-quant,
# synthetic FP8 / GPTQ) on cuda; (3) figures: H2D bandwidth from pinned memory, then a synthetic Qwen2.5-1.5B (bf16):
# streamed decode s/token (--mem-budget 0) on cpu and cuda with bytes per token, layers kept on
# the device (--gpu-mem), resident decode and prefill-512 on cuda (bench --resident); then the
# MoE placement (test_moe's hybrid cases on cuda; decode of a 12-layer Qwen3-30B-A3B shape with
# --gpu-mem 2G: expert cache + misses on the CPU, every expert uploaded, CPU only).
# Env: RL_GPU_BUILD (default build-gpu), RL_SHARED.
cd "$(dirname "$0")/../.." || exit 1
NVCC=$(command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
if [ -z "$NVCC" ]; then echo "skipped: no nvcc"; exit 77; fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then echo "skipped: no NVIDIA GPU"; exit 77; fi
B=${RL_GPU_BUILD:-build-gpu}
SH=${RL_SHARED:-../shared}
fail=0
nvidia-smi -L; "$NVCC" --version | tail -n 1
export PATH="$(dirname "$NVCC"):$PATH"
J=$(nproc 2>/dev/null || echo 4)
echo "== build: make CUDA=1 BUILD=$B"
if ! make -j"$J" CUDA=1 BUILD="$B" "$B/rabbitllm" "$B/tests/backend/test_conformance" "$B/tests/engine/test_fixtures" "$B/tests/engine/test_moe" "$B/tests/backend/test_compute_bf16" \
     "$B/tests/engine/test_gguf_fixtures" "$B/tests/engine/test_quant_fixtures" "$B/tests/engine/test_quant_synth" \
     "$B/tests/engine/test_gpt_oss" "$B/tests/engine/test_post_norm" "$B/tests/engine/test_granite" "$B/tests/engine/test_mm_text" "$B/tests/engine/test_cohere" \
     >/tmp/rl_gpu_build.log 2>&1; then
  echo "build failed:"; grep -E "error" /tmp/rl_gpu_build.log | head -n 20; exit 1
fi
BIN="$B/rabbitllm"

echo "== conformance (every op on cuda)"
"$B/tests/backend/test_conformance" >/tmp/rl_conf.log 2>&1 || fail=1
grep -E "FAIL|cuda|RESULT" /tmp/rl_conf.log | head -n 60
grep -q "skipped: cuda" /tmp/rl_conf.log && { echo "FAIL: cuda skipped"; fail=1; }

echo "== --compute bf16 (tensor cores) against bf16-rounded activations"
"$B/tests/backend/test_compute_bf16" >/tmp/rl_bf16.log 2>&1 || fail=1
grep -E "cuda|FAIL|RESULT" /tmp/rl_bf16.log
grep -q "  cuda: T" /tmp/rl_bf16.log || { echo "FAIL: cuda not checked"; fail=1; }

echo "== fixtures (cpu, cpu-staged, cuda)"
if [ -d "$SH/fixtures" ]; then
  RL_SHARED="$SH" timeout 300 "$B/tests/engine/test_fixtures" >/tmp/rl_fix.log 2>&1 || fail=1
  grep -E "\[cuda|FAIL|skipped|RESULT" /tmp/rl_fix.log | head -n 80
else echo "fixtures skipped: $SH/fixtures missing"; fi

echo "== GGUF files (every type, ggml numerics) and HF pre-quantized checkpoints on cuda"
if [ -d "$SH/gguf" ]; then
  RL_SHARED="$SH" timeout 300 "$B/tests/engine/test_gguf_fixtures" >/tmp/rl_gguf.log 2>&1 || fail=1
  grep -E "\[cuda|FAIL|RESULT" /tmp/rl_gguf.log | head -n 70
  grep -q "\[cuda" /tmp/rl_gguf.log || { echo "FAIL: cuda not run on the GGUF fixtures"; fail=1; }
fi
if [ -d "$SH/fixtures-quant" ]; then
  RL_SHARED="$SH" timeout 120 "$B/tests/engine/test_quant_fixtures" >/tmp/rl_qfix.log 2>&1 || fail=1
  grep -E "\[cuda|FAIL|RESULT" /tmp/rl_qfix.log | head -n 20
  RL_SHARED="$SH" timeout 120 "$B/tests/engine/test_quant_synth" >/tmp/rl_qsyn.log 2>&1 || fail=1
  grep -E "\[cuda|FAIL|RESULT" /tmp/rl_qsyn.log | head -n 20
fi

echo "== MoE placement (cache, CPU misses, uploads on cuda)"
if [ -d "$SH/fixtures" ]; then
  RL_SHARED="$SH" timeout 120 "$B/tests/engine/test_moe" >/tmp/rl_moe.log 2>&1 || fail=1
  grep -E "cuda|FAIL|RESULT" /tmp/rl_moe.log | head -n 40
fi

echo "== families with their own kernels' paths on cuda (gpt-oss: sinks, MXFP4, clamped SwiGLU, transposed experts; post-norm; Granite; mm_text; Cohere)"
for t in test_gpt_oss test_post_norm test_granite test_mm_text test_cohere; do
  RL_SHARED="$SH" timeout 120 "$B/tests/engine/$t" >/tmp/rl_$t.log 2>&1 || fail=1
  grep -E "\[cuda|FAIL|RESULT" /tmp/rl_$t.log | head -n 30
  grep -q "\[cuda" /tmp/rl_$t.log || { echo "FAIL: cuda not run by $t"; fail=1; }
done

echo "== figures"
"$NVCC" -O2 bench/cuda_h2d.cu -o "$B/cuda_h2d" && "$B/cuda_h2d"
CFG="$SH/configs/qwen2.5-1.5b/config.json"
if [ -f "$CFG" ]; then
  M=/tmp/rl_q15
  [ -f "$M/config.json" ] || "$BIN" synth "$CFG" "$M" --dtype bf16 >/dev/null 2>/tmp/rl_synth.err || { cat /tmp/rl_synth.err; fail=1; }
  IDS=$(awk 'BEGIN {for (i = 0; i < 16; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 151936}')
  for be in cpu cuda; do
    echo "-- $be streamed (--mem-budget 0), 16 prompt ids, 16 new:"
    timeout 120 "$BIN" run "$M" --backend $be --ids "$IDS" -n 16 --temp 0 --ignore-eos --mem-budget 0 --profile 2>&1 >/dev/null |
      grep -E "tok/s|s/token|backend|read|error" | head -n 8
  done
  echo "-- cuda, every layer kept on the device (--gpu-mem 12G), 16 new:"
  timeout 120 "$BIN" run "$M" --backend cuda --gpu-mem 12G --ids "$IDS" -n 16 --temp 0 --ignore-eos --profile 2>&1 >/dev/null |
    grep -E "tok/s|s/token|backend|gpu|error" | head -n 8
  echo "-- cuda resident (bench --resident --pp 128,512):"
  timeout 180 "$BIN" bench "$M" --backend cuda --resident --pp 128,512 2>&1 | tail -n 12
  echo "-- cuda resident, --compute bf16 (tensor cores), prefill 512:"
  timeout 120 "$BIN" bench "$M" --backend cuda --resident --pp 512 --compute bf16 -n 1 2>&1 | grep -E "prefill|error" | head -n 4
else echo "figures skipped: $CFG missing"; fi
CFG="$SH/configs/qwen3-30b-a3b/config.json"
if [ -f "$CFG" ]; then
  M=/tmp/rl_q30_12
  if [ ! -f "$M/config.json" ]; then
    mkdir -p /tmp/rl_q30cfg
    sed 's/"num_hidden_layers": *[0-9]*/"num_hidden_layers": 12/' "$CFG" >/tmp/rl_q30cfg/config.json
    "$BIN" synth /tmp/rl_q30cfg/config.json "$M" --dtype bf16 >/dev/null 2>/tmp/rl_synth.err || { cat /tmp/rl_synth.err; fail=1; }
  fi
  IDS=$(awk 'BEGIN {for (i = 0; i < 16; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 151936}')
  echo "-- Qwen3-30B-A3B shape, 12 layers (15 GB bf16), 32 new tokens; --gpu-mem 2G is 8G's share of the 48-layer model:"
  for v in "--backend cuda --gpu-mem 2G" "--backend cuda --gpu-mem 2G --expert-cache off --moe-cpu-rows off" \
           "--backend cuda --gpu-mem 2G --moe-cpu-rows off" "--backend cpu"; do
    echo "   $v:"
    timeout 150 "$BIN" run "$M" $v --ids "$IDS" -n 32 --temp 0 --ignore-eos --profile 2>&1 >/dev/null |
      grep -E "tok/s|routed experts|error" | head -n 4
  done
fi
[ "$fail" -eq 0 ] && echo "device check: ok" || echo "device check: FAILED"
exit "$fail"
