#!/bin/sh
# Progress lines: `quantize` on a terminal (script(1) gives it one) draws "quantizing: X / Y MB"
# and erases it (ESC [K) before its summary; with stderr not a terminal nothing of that kind.
set -e
B=${RL_BIN:-build/rabbitllm}
command -v script >/dev/null || { echo "no script(1)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$B" quantize models/stories260K --bits 8 --out "$T/q1" 2>"$T/plain" >/dev/null
grep -q "quantizing:" "$T/plain" && { echo "FAIL: progress without a TTY"; exit 1; }
script -qec "$B quantize models/stories260K --bits 8 --out $T/q2" "$T/typescript" >/dev/null 2>&1
grep -q "quantizing: [0-9.]* / [0-9.]* MB" "$T/typescript" || { echo "FAIL: no progress line on a TTY"; cat -v "$T/typescript"; exit 1; }
grep -q "$(printf '\033\\[K')quantized " "$T/typescript" || { echo "FAIL: progress line not erased before the summary"; cat -v "$T/typescript"; exit 1; }
echo ok
