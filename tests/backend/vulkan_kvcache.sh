#!/bin/sh
# The KV cache module through the engine on vulkan (tests/engine/test_kvcache with
# RL_BACKEND=vulkan): ring caches, compact f16 / bf16 / q8_0 caches and the MLA latent cache on
# the vulkan kv_store / attention_kv / matmul_t shaders. Skipped (77) where vulkan is not built
# in, no Vulkan device opens, ../shared is absent, or under the sanitizers (lavapipe is slow there).
T="${RL_BUILD:-build}/tests/engine/test_kvcache"
[ -x "$T" ] || { echo "no $T"; exit 1; }
[ -n "${RL_SANITIZED:-}" ] && { echo "skipped: sanitized build (release only)"; exit 77; }
out=$(RL_BACKEND=vulkan "$T" 2>&1); rc=$?
echo "$out"
echo "$out" | grep -q '^RESULT 0 0 [1-9]' && { echo "skipped: ../shared absent"; exit 77; }
# no vulkan here: the first open fails naming why (not built in / no driver / no usable device)
if [ "$rc" -ne 0 ] && echo "$out" | grep -q 'open .*\(vulkan is not built in\|vulkan: cannot create an instance\|vulkan: no Vulkan device\|vulkan: none of\)'; then
  echo "skipped: no vulkan device"; exit 77
fi
[ "$rc" -eq 0 ] && echo "$out" | grep -q '^RESULT [1-9][0-9]* 0'
