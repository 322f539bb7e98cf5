#!/bin/sh
# examples/: the C example built against an installed tree (make install into a temporary
# DESTDIR, compiled with `pkg-config --cflags --libs rabbitllm` from there) and the Python
# example over the installed librabbitllm.so both stream stories260K's greedy text: the text
# golden of ../shared when it is present, the same text from both in any case.
set -u
B=${RL_BUILD:-build}
SH=${RL_SHARED:-../shared}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
unset MAKEFLAGS MFLAGS MAKELEVEL
D="$T/dest"; P=/usr/local
make -s install BUILD="$B" PREFIX=$P DESTDIR="$D" >"$T/log" 2>&1 || fail "make install: $(tail -n 5 "$T/log")"
export PKG_CONFIG_PATH="$D$P/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$D"
SAN=""; [ -n "${RL_SANITIZED:-}" ] && SAN="-fsanitize=address,undefined"
cc -std=c11 -Wall -Wextra -Werror $SAN -o "$T/generate" examples/generate.c $(pkg-config --cflags --libs rabbitllm) \
   -Wl,-rpath,"$D$P/lib" 2>"$T/err" || fail "compile: $(cat "$T/err")"
ldd "$T/generate" | grep -q "$D$P/lib/librabbitllm.so.0" || fail "not linked to the installed library: $(ldd "$T/generate")"
"$T/generate" models/stories260K "Once upon a time" 64 >"$T/c.out" 2>"$T/err" || fail "C example: $(cat "$T/err")"
grep -q "5 prompt tokens, 64 generated" "$T/err" || fail "C example summary: $(cat "$T/err")"
"$T/generate" /nonexistent "x" >/dev/null 2>"$T/err" && fail "C example accepted a bad model"
grep -q "error: .*nonexistent" "$T/err" || fail "C example error: $(cat "$T/err")"

. tests/python/env.inc
export RABBITLLM_LIB="$D$P/lib/librabbitllm.so"
PYTHONPATH=python $PY examples/generate.py models/stories260K "Once upon a time" >"$T/py.out" 2>"$T/err" || fail "Python example: $(cat "$T/err")"
cmp -s "$T/c.out" "$T/py.out" || fail "C and Python examples differ: $(cat "$T/c.out") | $(cat "$T/py.out")"
[ -s "$T/c.out" ] || fail "empty output"
if [ -d "$SH" ]; then
  python3 - "$SH/fixtures/stories260K/text_golden.json" "$T/c.out" <<'PY' || fail "example text differs from the golden"
import json, sys
g = json.load(open(sys.argv[1], encoding="utf-8"))
out = open(sys.argv[2], encoding="utf-8").read()
sys.exit(0 if g["prompt_text"] + out == g["expected_text"] else 1)
PY
fi
echo ok
