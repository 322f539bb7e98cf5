#!/bin/sh
# Progress lines: `quantize`, `synth` and a model load (the resident read at open) on a terminal
# (script(1) gives them one) draw "LABEL: X / Y MB" and erase it (ESC [K) before what follows;
# with stderr not a terminal nothing of that kind.
set -e
B=${RL_BIN:-build/rabbitllm}
command -v script >/dev/null || { echo "no script(1)"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$B" quantize models/stories260K --bits 8 --out "$T/q1" 2>"$T/plain" >/dev/null
grep -q "quantizing:" "$T/plain" && { echo "FAIL: progress without a TTY"; exit 1; }
script -qec "$B quantize models/stories260K --bits 8 --out $T/q2" "$T/typescript" >/dev/null 2>&1
grep -q "quantizing: [0-9.]* / [0-9.]* MB" "$T/typescript" || { echo "FAIL: no progress line on a TTY"; cat -v "$T/typescript"; exit 1; }
grep -q "$(printf '\033\\[K')quantized " "$T/typescript" || { echo "FAIL: progress line not erased before the summary"; cat -v "$T/typescript"; exit 1; }
cat >"$T/config.json" <<'CFG'
{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":256,"intermediate_size":688,
 "num_hidden_layers":6,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":2048,
 "max_position_embeddings":512,"rms_norm_eps":1e-05,"tie_word_embeddings":false,"torch_dtype":"bfloat16"}
CFG
"$B" synth "$T/config.json" "$T/s1" 2>"$T/plain" >/dev/null
grep -q "writing:" "$T/plain" && { echo "FAIL: synth progress without a TTY"; exit 1; }
script -qec "$B synth $T/config.json $T/s2" "$T/typescript" >/dev/null 2>&1
grep -q "writing: [0-9.]* / [0-9.]* MB" "$T/typescript" || { echo "FAIL: synth: no progress line on a TTY"; cat -v "$T/typescript"; exit 1; }
grep -q "$(printf '\033\\[K')wrote " "$T/typescript" || { echo "FAIL: synth: progress line not erased"; cat -v "$T/typescript"; exit 1; }
cmp -s "$T/s1/model.safetensors" "$T/s2/model.safetensors" || { echo "FAIL: synth output differs on a TTY"; exit 1; }
# a larger synth: every line drawn after the first (>= 0.2 s in) has a rate, and an ETA until done
sed 's/"hidden_size":256,"intermediate_size":688/"hidden_size":512,"intermediate_size":1408/; s/"num_hidden_layers":6/"num_hidden_layers":8/; s/"vocab_size":2048/"vocab_size":8192/' \
  "$T/config.json" >"$T/big.json"
script -qec "$B synth $T/big.json $T/s3" "$T/typescript" >/dev/null 2>&1
tr '\r' '\n' <"$T/typescript" | grep "writing: " >"$T/lines" || true
n=$(wc -l <"$T/lines")
[ "$n" -ge 1 ] || { echo "FAIL: big synth drew no line"; exit 1; }
if [ "$n" -ge 2 ]; then
  tail -n +2 "$T/lines" | grep -v "MB/s" && { echo "FAIL: a later progress line without a rate"; exit 1; }
  tail -n +2 "$T/lines" | grep -v "(100%)" | grep -v "ETA [0-9]*:[0-5][0-9]" && { echo "FAIL: a progress line without an ETA"; exit 1; }
fi
rm -rf "$T/s3"
# a model load: the resident read at open (everything fits the automatic budget here)
"$B" run "$T/s1" --ids 1,2,3 -n 2 --mem-budget 1G 2>"$T/plain" >/dev/null
grep -q "loading:" "$T/plain" && { echo "FAIL: load progress without a TTY"; exit 1; }
script -qec "$B run $T/s1 --ids 1,2,3 -n 2 --mem-budget 1G" "$T/typescript" >/dev/null 2>&1
grep -q "loading: [0-9.]* / [0-9.]* MB" "$T/typescript" || { echo "FAIL: load: no progress line on a TTY"; cat -v "$T/typescript"; exit 1; }
grep -q "loading: .*$(printf '\033\\[K')" "$T/typescript" || { echo "FAIL: load: progress line not erased"; cat -v "$T/typescript"; exit 1; }
# streaming everything (--mem-budget 0): nothing is read at open, no line
script -qec "$B run $T/s1 --ids 1,2,3 -n 2 --mem-budget 0" "$T/typescript" >/dev/null 2>&1
grep -q "loading:" "$T/typescript" && { echo "FAIL: load line with nothing resident"; cat -v "$T/typescript"; exit 1; }
echo ok
