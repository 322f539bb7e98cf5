#!/bin/sh
# `rabbitllm info` on a MoE model prints where its routed experts live (engine/moe_place.c):
# an expert cache sized by the budgets, or by --expert-cache; none with --mem-budget 0.
set -e
B=${RL_BIN:-build/rabbitllm}
T=$(mktemp); trap 'rm -f "$T" "$T.err"' EXIT
S=${RL_SHARED:-../shared}
[ -d "$S/fixtures/qwen3_moe" ] || { echo "skipped: no $S/fixtures/qwen3_moe"; exit 77; }
"$B" info "$S/fixtures/qwen3_moe" --json | python3 -c '
import json, sys
p = json.load(sys.stdin)["memory_plan"]
assert p["experts"].startswith("8 of 8 experts per layer cached in RAM"), p["experts"]
assert any(b["name"].startswith("expert cache") and b["bytes"] > 0 for b in p["buffers"]), p["buffers"]
'
"$B" info "$S/fixtures/qwen3_moe" --expert-cache off | grep -q "routed experts  0 of 8 experts per layer" || { echo "FAIL: --expert-cache off"; exit 1; }
"$B" info "$S/fixtures/qwen3_moe" --mem-budget 0 | grep -q "routed experts  0 of 8" || { echo "FAIL: --mem-budget 0 still caches experts"; exit 1; }
"$B" info "$S/fixtures/qwen3_moe" --mem-budget 0 --expert-cache 100K | grep -q "routed experts  4 of 8 experts per layer cached in RAM (0.1 MiB, --expert-cache)" \
  || { echo "FAIL: --expert-cache 100K: $("$B" info "$S/fixtures/qwen3_moe" --mem-budget 0 --expert-cache 100K | grep 'routed experts')"; exit 1; }
# an explicit cache that does not fit the device budget: exit 4 (memory plan), sizes named
if [ "${RL_SANITIZED:-}" = "" ] && "$B" info models/stories260K --backend vulkan >/dev/null 2>&1; then
  rc=0; "$B" run "$S/fixtures/qwen3_moe" --ids 1,2 -n 1 --backend vulkan --gpu-mem 4000000 --expert-cache 100K >/dev/null 2>"$T.err" || rc=$?
  [ $rc -eq 4 ] && grep -q "expert-cache: 4 experts per layer (0.09 MiB) do not fit" "$T.err" || { echo "FAIL: rc $rc: $(cat "$T.err")"; exit 1; }
fi
echo ok
