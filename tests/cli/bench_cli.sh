#!/bin/sh
# `bench MODEL --resident`: prints decode and each requested prefill figure with their units and
# the memory bandwidth it compares against; bad --pp lists are refused. Also `--compute`.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "${RL_SHARED:-../shared}" ] || { echo "skipped: needs ../shared"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
S="$SH/fixtures/stories260K"

"$BIN" bench "$S" --resident -n 3 --pp 16,40 >"$T/out" 2>"$T/err" || fail "bench --resident: $(cat "$T/err")"
grep -q '^model .*(resident)' "$T/out" || fail "no model line: $(cat "$T/out")"
grep -Eq '^decode +[0-9.]+ tokens/s +[0-9.]+ GB/s of weights \([0-9.]+ of the memory read bandwidth [0-9.]+ GB/s\)' "$T/out" ||
  fail "decode line: $(cat "$T/out")"
grep -Eq '^prefill +16 +[0-9.]+ tokens/s' "$T/out" && grep -Eq '^prefill +40 +[0-9.]+ tokens/s' "$T/out" ||
  fail "prefill lines: $(cat "$T/out")"
"$BIN" bench "$S" --resident --pp 12,x >/dev/null 2>"$T/err" && fail "--pp 12,x accepted"
grep -q "bad list" "$T/err" || fail "--pp error message: $(cat "$T/err")"
# --compute: f32 weights are unaffected by bf16 compute; bad values are refused
a=$("$BIN" run "$S" --ids 1,403,407,261,378 -n 8 --temp 0 2>/dev/null) || fail "run"
b=$("$BIN" run "$S" --ids 1,403,407,261,378 -n 8 --temp 0 --compute bf16 2>/dev/null) || fail "run --compute bf16"
[ "$a" = "$b" ] || fail "--compute bf16 changed an F32 model's output: $a vs $b"
"$BIN" run "$S" --ids 1 -n 1 --compute f16 >/dev/null 2>"$T/err" && fail "--compute f16 accepted"
grep -q "must be f32 or bf16" "$T/err" || fail "--compute error: $(cat "$T/err")"
echo ok
