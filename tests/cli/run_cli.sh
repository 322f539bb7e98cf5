#!/bin/sh
# CLI contract of `run`, `info`, `synth`: ids on stdout, --dump-logits row layout, clear errors;
# synth of every fixture's config runs.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# ids on one stdout line; dump rows = P + N - 1
out=$("$BIN" run "$SH/fixtures/llama" --ids 1,2,3 -n 5 --temp 0 --ignore-eos --dump-logits "$T/l.f32" 2>"$T/err") || fail "run: $(cat "$T/err")"
echo "$out" | grep -Eq '^[0-9]+(,[0-9]+){4}$' || fail "stdout not 5 ids: $out"
sz=$(stat -c %s "$T/l.f32"); [ "$sz" -eq $((7 * 512 * 4)) ] || fail "dump size $sz"
[ ! -e "$T/l.f32.tmp" ] || fail "temp dump left behind"

# same seed, same output; sampling runs
a=$("$BIN" run "$SH/fixtures/llama" --ids 1,2,3 -n 8 --temp 0.9 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 42 --ignore-eos 2>/dev/null)
b=$("$BIN" run "$SH/fixtures/llama" --ids 1,2,3 -n 8 --temp 0.9 --top-k 40 --top-p 0.9 --min-p 0.05 --repeat-penalty 1.1 --seed 42 --ignore-eos 2>/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "seeded sampling not reproducible: $a vs $b"

# a prompt longer than the context is an error
"$BIN" run "$SH/fixtures/llama" --ids 1,2,3,4,5 --ctx 4 -n 2 2>"$T/err" >/dev/null && fail "context overflow accepted"
grep -q context "$T/err" || fail "context message: $(cat "$T/err")"

# unknown architecture is a clear error listing the supported ones
mkdir "$T/bad"; cp "$SH/fixtures/llama/model.safetensors" "$T/bad/"
sed 's/LlamaForCausalLM/NopeForCausalLM/; s/"llama"/"nope"/' "$SH/fixtures/llama/config.json" >"$T/bad/config.json"
"$BIN" info "$T/bad" 2>"$T/err" >/dev/null && fail "unknown arch accepted"
grep -q "NopeForCausalLM" "$T/err" && grep -q "LlamaForCausalLM" "$T/err" || fail "arch message: $(cat "$T/err")"

# malformed config.json names the file
echo '{"architectures": [' >"$T/bad/config.json"
"$BIN" run "$T/bad" --ids 1 2>"$T/err" >/dev/null && fail "bad json accepted"
grep -q "config.json" "$T/err" || fail "json message: $(cat "$T/err")"

# a missing tensor is named
cp "$SH/fixtures/qwen3_sharded/"* "$T/bad/" 2>/dev/null; cp "$SH/fixtures/qwen3_sharded/config.json" "$T/bad/config.json"
rm -f "$T/bad/model.safetensors"
python3 - "$T/bad/model.safetensors.index.json" <<'PY' 2>/dev/null || true
import json,sys
p=sys.argv[1]; j=json.load(open(p)); k=[n for n in j["weight_map"] if "layers.1.mlp.up_proj" in n][0]; del j["weight_map"][k]; json.dump(j,open(p,"w"))
PY
if command -v python3 >/dev/null; then
  "$BIN" run "$T/bad" --ids 1 2>"$T/err" >/dev/null && fail "missing tensor accepted"
  grep -q "layers.1.mlp.up_proj" "$T/err" || fail "missing tensor message: $(cat "$T/err")"
fi

# info prints the plan
"$BIN" info "$SH/fixtures/qwen3" >"$T/info" || fail "info"
grep -q "KV cache" "$T/info" && grep -q "head_dim 32" "$T/info" || fail "info output"

# synth writes a loadable checkpoint of every family's config (3-D conv1d and fused expert
# tensors, LayerNorm and lm_head biases included), found by listing the fixtures
for cfg in "$SH"/fixtures/*/config.json; do
  fx=$(basename "$(dirname "$cfg")")
  rm -rf "$T/synf"
  "$BIN" synth "$cfg" "$T/synf" --seed 5 >/dev/null 2>"$T/err" || fail "synth $fx: $(cat "$T/err")"
  "$BIN" run "$T/synf" --ids 1,2 -n 2 --ignore-eos >/dev/null 2>"$T/err" || fail "synth $fx: the checkpoint does not run: $(cat "$T/err")"
done
rm -rf "$T/synf"
# synth writes a loadable sharded checkpoint
"$BIN" synth "$SH/fixtures/qwen2/config.json" "$T/syn" --dtype bf16 --shard-size 100K --seed 3 2>/dev/null || fail "synth"
[ -f "$T/syn/model.safetensors.index.json" ] || fail "synth did not shard"
"$BIN" run "$T/syn" --ids 1,2 -n 2 --ignore-eos >/dev/null 2>"$T/err" || fail "synth model runs: $(cat "$T/err")"
# bench runs and reports its three measurements with ratios
"$BIN" bench "$SH/fixtures/qwen2" -n 2 >"$T/bench" 2>"$T/err" || fail "bench: $(cat "$T/err")"
grep -q "^(a) cold decode .*ratio" "$T/bench" && grep -q "^(b) warm decode .*ratio" "$T/bench" && grep -q "^(c) prefill" "$T/bench" || fail "bench output: $(cat "$T/bench")"
echo ok
