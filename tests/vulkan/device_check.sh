#!/bin/sh
# Device check of the vulkan backend on a real GPU (issue 15 item 4), one call on a lent machine;
# cuda side by side where nvcc builds it (make CUDA=1). Skips (exit 77) unless a GPU is visible
# (nvidia-smi -L; RL_VULKAN_CHECK=1 forces the check on other vendors), so tests/run.sh can run
# it anywhere. Steps, each printed with its figures:
#  0. the Vulkan loader (libvulkan.so.1: unpacked from .gl/*.deb when absent, as root) and the
#     NVIDIA ICD (VK_DRIVER_FILES when unset); vulkaninfo --summary where installed; the device
#     and driver the backend picked (a CPU driver such as llvmpipe is a failure here)
#  1. correctness on the GPU: test_vulkan_ops, test_conformance, and with ../shared the fixture
#     goldens (test_fixtures, test_gguf_fixtures, test_gpu_mem)
#  2. limits: H2D from host_alloc memory and D2D copy bandwidth, 1 GiB (test_vulkan_bandwidth)
#  3. synthetic Llama-3.1-8B bf16 (../shared/configs/llama-3.1-8b): (a) streaming decode with
#     --gpu-mem 4G (`bench`: s/token; compare bytes streamed per token / H2D GB/s), (b) every
#     layer resident (--gpu-mem 70G: s/token; compare model bytes per token / D2D read GB/s)
#  4. synthetic Qwen2.5-1.5B bf16: (c) a 512-token prefill with every layer resident (tok/s)
#  5. (d) batched decode, 16 sequences while streaming (scripts/bench_serve.py, when python3 is
#     there): aggregate tok/s at 16 clients vs 1
# Env: RL_BUILD (a vulkan build; default build; built here with make when missing),
# RL_GPU_BUILD (the CUDA=1 build dir, default build-gpu), RL_SHARED (default ../shared),
# RL_DC_SKIP_8B=1 (leave out step 3, e.g. on a short lease), RL_DC_ALLOW_CPU=1 (a dry run of
# steps 0-2 on a CPU driver such as lavapipe, to check the script). Needs ~20 GB of disk in /tmp.
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${RL_VULKAN_CHECK:-}" ] && ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
  echo "skipped: no GPU (RL_VULKAN_CHECK=1 forces the check)"; exit 77
fi
B=${RL_BUILD:-build}
SH=${RL_SHARED:-../shared}
fail=0
J=$(nproc 2>/dev/null || echo 4)

echo "== 0. loader, driver, device"
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  if [ -d .gl ] && [ "$(id -u)" = 0 ]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
fi
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || { echo "FAIL: no Vulkan loader (libvulkan.so.1); put libvulkan1's .deb in .gl/"; exit 1; }
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$ICD" ] && export VK_DRIVER_FILES="$ICD"
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-}"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader
command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>&1 | grep -E "apiVersion|deviceName|driverName|driverInfo|deviceType" | head -n 12
if [ ! -x "$B/rabbitllm" ] || [ ! -x "$B/tests/backend/test_vulkan_bandwidth" ]; then
  echo "building: make -j$J VULKAN=1 BUILD=$B all"
  make -j"$J" VULKAN=1 BUILD="$B" all >/tmp/rl_vk_build.log 2>&1 || { echo "FAIL: build"; grep -E "error|Error" /tmp/rl_vk_build.log | head -n 20; exit 1; }
fi
BIN="$B/rabbitllm"
desc=$("$B/tests/backend/test_vulkan_bandwidth" 2>&1 >/dev/null | head -n 1)
echo "backend: $desc"
case "$desc" in
  skip*) echo "FAIL: vulkan did not open"; exit 1 ;;
  *llvmpipe*|*lavapipe*) [ -n "${RL_DC_ALLOW_CPU:-}" ] || { echo "FAIL: vulkan did not open a GPU (set RL_VULKAN_DEVICE=N; vulkaninfo lists them)"; exit 1; } ;;
esac

echo "== 1. correctness on the GPU"
for t in backend/test_vulkan_ops backend/test_conformance engine/test_gpu_mem engine/test_fixtures engine/test_gguf_fixtures; do
  [ -x "$B/tests/$t" ] || { echo "$t: not built"; fail=1; continue; }
  if RL_SHARED="$SH" timeout 600 "$B/tests/$t" >/tmp/rl_vk_t.out 2>/tmp/rl_vk_t.log; then r=ok; else r=FAILED; fail=1; fi
  echo "$t: $r $(tail -n 1 /tmp/rl_vk_t.out)"
  [ "$r" = ok ] || grep -E "FAIL|not ok" /tmp/rl_vk_t.log | head -n 10
  grep -E "vulkan.*(max|worst)" /tmp/rl_vk_t.log | sort -t' ' -k1,1 -u | head -n 3
done

echo "== 2. limits"
RL_VK_BANDWIDTH_MB=1024 "$B/tests/backend/test_vulkan_bandwidth" 2>/dev/null | grep bandwidth
if [ -n "${RL_DC_ALLOW_CPU:-}" ]; then echo "dry run on a CPU driver: steps 3-5 left out"; [ "$fail" -eq 0 ] && echo "device check: ok"; exit "$fail"; fi

# backends to measure: vulkan, and cuda where a CUDA=1 build is there or can be made
GB=${RL_GPU_BUILD:-build-gpu}
BES="vulkan"
NVCC=$(command -v nvcc 2>/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; })
if [ -n "$NVCC" ]; then
  [ -x "$GB/rabbitllm" ] || PATH="$(dirname "$NVCC"):$PATH" make -j"$J" CUDA=1 BUILD="$GB" all >/tmp/rl_cuda_build.log 2>&1
  [ -x "$GB/rabbitllm" ] && BES="vulkan cuda" || echo "(cuda: the CUDA=1 build failed, see /tmp/rl_cuda_build.log)"
fi
bin_of() { if [ "$1" = cuda ]; then echo "$GB/rabbitllm"; else echo "$BIN"; fi; }

synth() { # CONFIG DIR
  [ -f "$2/config.json" ] || "$BIN" synth "$1" "$2" --dtype bf16 >/dev/null 2>/tmp/rl_synth.err || { cat /tmp/rl_synth.err; fail=1; return 1; }
  echo "$2: $(du -sh "$2" | cut -f1)"
}

if [ -z "${RL_DC_SKIP_8B:-}" ] && [ -f "$SH/configs/llama-3.1-8b/config.json" ]; then
  echo "== 3. synthetic Llama-3.1-8B bf16"
  M8=/tmp/rl_l8b
  if synth "$SH/configs/llama-3.1-8b/config.json" $M8; then
    for be in $BES; do
      X=$(bin_of $be)
      echo "-- $be (a) streaming, --gpu-mem 4G:"
      timeout 900 "$X" bench $M8 -n 2 --backend $be --gpu-mem 4G 2>&1 | grep -E "^model|^\(a\)|^\(b\)|error"
      "$X" info $M8 --backend $be --gpu-mem 4G 2>&1 | grep -E "resident on device|layer slots on device"
      echo "-- $be (b) resident, --gpu-mem 70G:"
      timeout 900 "$X" bench $M8 -n 2 --backend $be --gpu-mem 70G 2>&1 | grep -E "^model|^\(a\)|^\(b\)|^\(c\)|error"
    done
  fi
else
  echo "== 3. skipped (RL_DC_SKIP_8B or no $SH/configs/llama-3.1-8b)"
fi

if [ -f "$SH/configs/qwen2.5-1.5b/config.json" ]; then
  echo "== 4. synthetic Qwen2.5-1.5B bf16: (c) 512-token prefill, resident"
  M15=/tmp/rl_q15
  if synth "$SH/configs/qwen2.5-1.5b/config.json" $M15; then
    IDS=$(awk 'BEGIN {for (i = 0; i < 512; i++) printf "%s%d", (i ? "," : ""), (i * 7919 + 13) % 151936}')
    for be in $BES; do
      X=$(bin_of $be)
      for r in 1 2; do
        "$X" run $M15 --ids "$IDS" -n 1 --temp 0 --batch 512 --ctx 1024 --backend $be --gpu-mem 20G --profile 2>&1 >/dev/null |
          grep -E "prompt tokens|error" | sed "s/^/$be run $r: /"
      done
    done
  fi
fi

echo "== 5. (d) batched decode while streaming (16 sequences)"
if command -v python3 >/dev/null 2>&1 && [ -f scripts/bench_serve.py ] && [ -n "${M15:-}" ] && [ -f "$M15/config.json" ]; then
  [ "$B" = build ] || echo "(scripts/bench_serve.py runs build/rabbitllm)"
  timeout 600 python3 scripts/bench_serve.py $M15 32 1 --backend vulkan --gpu-mem 1G 2>&1 | tail -n 6
else
  echo "skipped: needs python3, scripts/bench_serve.py and step 4's model"
fi
[ "$fail" -eq 0 ] && echo "device check: ok" || echo "device check: FAILED"
exit "$fail"
