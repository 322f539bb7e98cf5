#!/bin/sh
# CLI contract of `quantize` and `--quant 8|4`: the cache is built once (message on stderr),
# reused while fresh, rebuilt when the source changes; runs from it with the copied tokenizer.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cp -r "models/stories260K" "$T/m"
chmod -R u+w "$T/m"
export XDG_CACHE_HOME="$T/cache"
# quantize prints the cache dir; the default is $XDG_CACHE_HOME/rabbitllm/<hash>-q8
d=$("$BIN" quantize "$T/m" --bits 8 2>"$T/err") || fail "quantize: $(cat "$T/err")"
case "$d" in "$T/cache/rabbitllm/"*-q8) ;; *) fail "cache dir $d" ;; esac
ls -a "$T/m" | grep -q rabbitllm && fail "cache written into the model dir"
[ -f "$d/model.safetensors" ] && [ -f "$d/config.json" ] && [ -f "$d/tokenizer.json" ] || fail "cache files: $(ls -a "$d")"
grep -q "quantized" "$T/err" || fail "summary: $(cat "$T/err")"
"$BIN" quantize "$T/m" --bits 8 2>"$T/err" >/dev/null && grep -q "up to date" "$T/err" || fail "second quantize: $(cat "$T/err")"
ls -a "$T/cache/rabbitllm" | grep -q 'tmp-' && fail "temp dir left: $(ls -a "$T/cache/rabbitllm")"

# run --quant 8 from the fresh cache: no rebuild message, ids out; greedy text close to bf16
plain=$("$BIN" run "$T/m" --ids 1,403,407,261,378,490,138 -n 12 --temp 0 --ignore-eos 2>/dev/null)
q8=$("$BIN" run "$T/m" --ids 1,403,407,261,378,490,138 -n 12 --temp 0 --ignore-eos --quant 8 2>"$T/err") || fail "run --quant 8: $(cat "$T/err")"
grep -q "quantizing" "$T/err" && fail "fresh cache rebuilt: $(cat "$T/err")"
echo "$q8" | grep -Eq '^[0-9]+(,[0-9]+){11}$' || fail "stdout not 12 ids: $q8"
same=0; i=1
while [ $i -le 12 ]; do
  [ "$(echo "$plain" | cut -d, -f$i)" = "$(echo "$q8" | cut -d, -f$i)" ] && same=$((same + 1)); i=$((i + 1))
done
[ "$same" -ge 6 ] || fail "8-bit greedy ids diverge early: $plain vs $q8"

# --quant 4 builds its cache on first use (stderr says so), then text generation works from it
txt=$("$BIN" run "$T/m" -p "Once upon a time" --raw -n 16 --temp 0 --quant 4 2>"$T/err") || fail "run --quant 4: $(cat "$T/err")"
grep -q "quantizing" "$T/err" || fail "no build message: $(cat "$T/err")"
ls "$T/cache/rabbitllm" | grep -q -- '-q4$' || fail "no q4 cache"
[ -n "$txt" ] || fail "no text"

# touching the source makes the cache stale: rebuilt on the next --quant run
touch -d '2001-01-01' "$T/m/model.safetensors"
"$BIN" run "$T/m" --ids 1,2,3 -n 2 --temp 0 --quant 8 2>"$T/err" >/dev/null || fail "stale run: $(cat "$T/err")"
grep -q "quantizing" "$T/err" && grep -q "stale" "$T/err" || fail "stale cache not rebuilt: $(cat "$T/err")"

# --out, bad bits, bad flag value
d=$("$BIN" quantize "$T/m" --bits 4 --out "$T/elsewhere" 2>"$T/err") && [ "$d" = "$T/elsewhere" ] && [ -f "$T/elsewhere/model.safetensors" ] || fail "--out: $(cat "$T/err")"
"$BIN" quantize "$T/m" --bits 5 2>"$T/err" >/dev/null && fail "--bits 5 accepted"
"$BIN" run "$T/m" --ids 1 --quant 6 2>"$T/err" >/dev/null && fail "--quant 6 accepted"
grep -q "8 or 4" "$T/err" || fail "--quant message: $(cat "$T/err")"
# a quantized cache that fails mid-way installs nothing
rm -rf "$T/cache/rabbitllm"/*-q8
RL_QUANT_FAIL_AFTER=2 "$BIN" quantize "$T/m" --bits 8 2>"$T/err" >/dev/null && fail "simulated failure succeeded"
ls -a "$T/cache/rabbitllm" | grep -q 'q8' && fail "half-written cache installed or left: $(ls -a "$T/cache/rabbitllm")"
echo ok
