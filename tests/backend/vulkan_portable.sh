#!/bin/sh
# The vulkan ops on the portable path (shared-memory reductions instead of subgroup arithmetic,
# forced with RL_VULKAN_NO_SUBGROUP=1): the same op-by-op checks as test_vulkan_ops. Skipped (77)
# where vulkan is not built in or no Vulkan device opens.
T="${RL_BUILD:-build}/tests/backend/test_vulkan_ops"
[ -x "$T" ] || { echo "no $T"; exit 1; }
log=$(mktemp)
out=$(RL_VULKAN_NO_SUBGROUP=1 "$T" 2>"$log"); rc=$?
cat "$log"; echo "$out"
if [ "$out" = "RESULT 0 0 1" ]; then rm -f "$log"; echo "skipped: no vulkan device"; exit 77; fi
grep -q "shared-memory reductions" "$log" || { rm -f "$log"; echo "the portable path was not picked"; exit 1; }
rm -f "$log"
[ "$rc" -eq 0 ] && echo "$out" | grep -q '^RESULT [1-9][0-9]* 0'
