#!/bin/sh
# The memory budget at the CLI: `info` prints the decision (limit, where from, resident bytes)
# and whether the plan fits; a plan that cannot fit is a clear error naming --ctx, from `info`
# and from `run` before any layer is read; --profile prints the decision.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
M="$SH/fixtures/llama"

"$BIN" info "$M" >"$T/out" 2>"$T/err" || fail "info: $(cat "$T/err")"
grep -Eq "memory budget +auto: may use .* \(from (MemAvailable|cgroup v[12])" "$T/out" || fail "no budget line: $(cat "$T/out")"
grep -q "resident .* of .* weights (all)" "$T/out" || fail "a fixture should be all resident: $(grep budget "$T/out")"
grep -Eq "plan fits +yes" "$T/out" || fail "plan should fit: $(cat "$T/out")"

"$BIN" info "$M" --ctx 100000000 >"$T/out" 2>"$T/err" && fail "info accepted a plan that cannot fit"
grep -Eq "plan fits +no" "$T/out" || fail "info did not say the plan does not fit: $(cat "$T/out")"
grep -q "does not fit.*--ctx" "$T/err" || fail "info error: $(cat "$T/err")"

"$BIN" run "$M" --ids 1,2,3 -n 2 --ctx 100000000 >/dev/null 2>"$T/err" && fail "run accepted a plan that cannot fit"
grep -q "does not fit.*--ctx" "$T/err" || fail "run error: $(cat "$T/err")"

"$BIN" run "$M" --ids 1,2,3 -n 2 --temp 0 --profile >/dev/null 2>"$T/err" || fail "run --profile: $(cat "$T/err")"
grep -q "^memory budget: auto: may use" "$T/err" || fail "--profile has no budget line: $(cat "$T/err")"
"$BIN" run "$M" --ids 1,2,3 -n 2 --temp 0 --profile --mem-budget 0 >/dev/null 2>"$T/err" || fail "run --mem-budget 0: $(cat "$T/err")"
grep -q "^memory budget: explicit: .*resident 0.0 MB" "$T/err" || fail "--mem-budget 0 line: $(grep budget "$T/err")"

# --gpu-mem on a backend with its own memory (cpu-staged stands in for a GPU): auto = free
# memory less a margin, shown by info and --profile; a bad value is a usage error
"$BIN" info "$M" --backend cpu-staged --gpu-mem auto >"$T/out" 2>"$T/err" || fail "info --gpu-mem auto: $(cat "$T/err")"
grep -Eq "device budget +--gpu-mem auto: [0-9]+ MiB free of [0-9]+ MiB less a margin of [0-9]+ MiB = [0-9]+ MiB; ([0-9]+) of \1 stages on the device" "$T/out" \
    || fail "info --gpu-mem auto: $(grep -i budget "$T/out")"
"$BIN" run "$M" --ids 1,2,3 -n 2 --temp 0 --backend cpu-staged --gpu-mem auto --profile >"$T/a" 2>"$T/err" || fail "run --gpu-mem auto: $(cat "$T/err")"
grep -q "^device budget: --gpu-mem auto:" "$T/err" || fail "--profile has no device budget line: $(grep budget "$T/err")"
"$BIN" run "$M" --ids 1,2,3 -n 2 --temp 0 --backend cpu-staged >"$T/b" 2>/dev/null || fail "run cpu-staged"
cmp -s "$T/a" "$T/b" || fail "--gpu-mem auto changed the output"
"$BIN" info "$M" --backend cpu-staged --gpu-mem lots >/dev/null 2>"$T/err"; [ $? -eq 1 ] || fail "--gpu-mem lots is not a usage error"
grep -q "size or auto" "$T/err" || fail "--gpu-mem message: $(cat "$T/err")"
echo ok
