#!/bin/sh
# Crash safety: `synth` and `quantize` killed with SIGKILL at several points leave nothing a
# reader takes for complete: every *.safetensors present is whole (size = header + data), a
# killed quantize leaves no cache that looks fresh, and the next run resumes or rebuilds to the
# same bytes as an uninterrupted run.
set -e
B=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/config.json" <<'CFG'
{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":256,"intermediate_size":688,
 "num_hidden_layers":6,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":2048,
 "max_position_embeddings":512,"rms_norm_eps":1e-05,"tie_word_embeddings":false,"torch_dtype":"bfloat16"}
CFG
# every .safetensors file present is complete: 8 + header + the largest data end offset
whole() {
  for f in "$1"/*.safetensors; do
    [ -e "$f" ] || continue
    python3 - "$f" <<'PY' || { echo "FAIL: partial file $f"; exit 1; }
import sys, json, struct, os
p = sys.argv[1]; d = open(p, "rb").read(8); n = struct.unpack("<Q", d)[0]
h = json.loads(open(p, "rb").read(8 + n)[8:]); h.pop("__metadata__", None)
end = max([v["data_offsets"][1] for v in h.values()] + [0])
sys.exit(0 if os.path.getsize(p) == 8 + n + end else 1)
PY
  done
}
"$B" synth "$T/config.json" "$T/ref" --shard-size 1M --seed 3 2>/dev/null
"$B" quantize "$T/ref" --bits 4 --out "$T/qref" >/dev/null 2>&1
for d in 0.02 0.05 0.1 0.2 0.4; do
  rm -rf "$T/m"
  "$B" synth "$T/config.json" "$T/m" --shard-size 1M --seed 3 >/dev/null 2>&1 & pid=$!
  sleep $d; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  [ -d "$T/m" ] && whole "$T/m"
  "$B" synth "$T/config.json" "$T/m" --shard-size 1M --seed 3 >/dev/null 2>&1
  for f in "$T/ref"/*.safetensors; do cmp -s "$f" "$T/m/$(basename "$f")" || { echo "FAIL: synth after kill at ${d}s differs: $f"; exit 1; }; done
  # quantize killed at the same points: no partial cache installed; the next run rebuilds it
  rm -rf "$T/q"
  "$B" quantize "$T/ref" --bits 4 --out "$T/q" >/dev/null 2>&1 & pid=$!
  sleep $d; kill -9 $pid 2>/dev/null || true; wait $pid 2>/dev/null || true
  if [ -d "$T/q" ]; then whole "$T/q"; fi
  "$B" quantize "$T/ref" --bits 4 --out "$T/q" >/dev/null 2>&1
  for f in "$T/qref"/*.safetensors; do
    n=$(basename "$f")
    # the cache names its source: identical once written for the same source
    cmp -s "$f" "$T/q/$n" || { echo "FAIL: quantize after kill at ${d}s differs: $n"; exit 1; }
  done
  for f in "$T"/q.tmp-* ; do [ -e "$f" ] && [ "$(ls "$T" | grep -c 'q.tmp-')" -gt 1 ] && { echo "FAIL: temp dirs pile up"; exit 1; }; done
done
echo ok
