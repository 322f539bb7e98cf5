#!/bin/sh
# CLI contract of `quantize MODEL --gguf OUT.gguf`: stories260K written as Q8_0 / Q4_0 / F32 GGUF
# runs with no other file and gives the text of the safetensors model; the chat template and special ids travel in the file; an interrupted write
# leaves neither OUT.gguf nor its temp file (exit 3, I/O); usage errors exit 1, unsupported models exit 2.
# (The checks that need ../shared: gguf_export_shared.sh.)
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cp -r models/stories260K "$T/m"
chmod -R u+w "$T/m"
python3 - "$T/m/tokenizer_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["chat_template"] = "{% for m in messages %}<<{{ m['content'] }}>>{% endfor %}"
json.dump(c, open(p, "w"))
PY
want=$("$BIN" run "$T/m" -p "Once upon a time" --raw -n 64 --temp 0 2>/dev/null) || fail "source run"
for ty in q8_0 f32; do
    out=$("$BIN" quantize "$T/m" --gguf "$T/s-$ty.gguf" --type $ty 2>"$T/err") || fail "$ty: $(cat "$T/err")"
    [ "$out" = "$T/s-$ty.gguf" ] || fail "stdout: $out"
    grep -q "wrote .*(llama, vocab llama)" "$T/err" || fail "summary: $(cat "$T/err")"
    got=$("$BIN" run "$T/s-$ty.gguf" -p "Once upon a time" --raw -n 64 --temp 0 2>"$T/err") || fail "run $ty: $(cat "$T/err")"
    [ "$got" = "$want" ] || fail "$ty text: $got"
done
grep -q "<<{{ m\['content'\] }}>>" "$T/s-q8_0.gguf" || fail "chat template not in the file"
"$BIN" template "$T/s-q8_0.gguf" --jsonl <<'J' >"$T/tpl" 2>"$T/err" || fail "template: $(cat "$T/err")"
{"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": false}
J
grep -q '<<hi>>' "$T/tpl" || fail "template from the GGUF: $(cat "$T/tpl")"
# --bits 4: Q4_0 (the tied embedding, llama.cpp's output matrix, at Q8_0); runs
"$BIN" quantize "$T/m" --gguf "$T/s4.gguf" --bits 4 >/dev/null 2>"$T/err" || fail "bits 4: $(cat "$T/err")"
"$BIN" run "$T/s4.gguf" -p "Once upon a time" --raw -n 8 --temp 0 >/dev/null 2>"$T/err" || fail "run q4: $(cat "$T/err")"
[ "$(wc -c <"$T/s4.gguf")" -lt "$(wc -c <"$T/s-q8_0.gguf")" ] || fail "q4 file not smaller"

# interrupted: nothing installed, no temp left
RL_QUANT_FAIL_AFTER=5 "$BIN" quantize "$T/m" --gguf "$T/x.gguf" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "simulated failure exit $rc"
[ -e "$T/x.gguf" ] || [ -e "$T/x.gguf.tmp" ] && fail "partial file left: $(ls "$T")"
grep -q "simulated failure" "$T/err" || fail "message: $(cat "$T/err")"

# usage errors (1) and refusals (2)
"$BIN" quantize "$T/m" --gguf "$T/y.gguf" --type q9 >/dev/null 2>&1; [ $? -eq 1 ] || fail "bad --type not a usage error"
"$BIN" quantize "$T/m" --type q8_0 >/dev/null 2>&1; [ $? -eq 1 ] || fail "--type without --gguf not a usage error"
"$BIN" quantize "$T/s-q8_0.gguf" --gguf "$T/y.gguf" >/dev/null 2>"$T/err"; [ $? -eq 2 ] || fail "GGUF source accepted"
[ -e "$T/y.gguf" ] && fail "file written for a refused source"
exit 0
