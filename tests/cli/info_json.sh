#!/bin/sh
# `rabbitllm info MODEL --json`: valid JSON with the description, the files and the memory plan
# (buffers whose bytes add up to the totals); each layer's token mixer and feed-forward sublayer
# (a synthetic Nemotron-H: Mamba-2, MLP, attention, experts) and the linear layers' dims.
set -e
B=${RL_BIN:-build/rabbitllm}
"$B" info models/stories260K --json --ctx 256 | python3 -c '
import json, sys
j = json.load(sys.stdin)
d = j["description"]
assert d["family"] and d["layers"] == 5 and d["hidden"] == 64 and d["vocab"] == 512, d
assert j["files"] and j["files"][0]["bytes"] > 0, j["files"]
p = j["memory_plan"]
assert p["buffers"] and isinstance(p["fits"], bool) and p["budget"], p
for w in ("device", "host"):
    assert sum(b["bytes"] for b in p["buffers"] if b["where"] == w) <= p[w + "_bytes"], (w, p)
assert j["ctx"] == 256 and j["rabbitllm_version"]
'
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat > "$T/in.json" <<'EOF'
{"architectures":["NemotronHForCausalLM"],"model_type":"nemotron_h","hidden_size":64,"intermediate_size":96,"num_attention_heads":4,
 "num_key_value_heads":2,"head_dim":24,"vocab_size":256,"layer_norm_epsilon":1e-5,"tie_word_embeddings":false,"eos_token_id":1,
 "num_hidden_layers":4,"mamba_num_heads":8,"mamba_head_dim":16,"ssm_state_size":16,"n_groups":2,"conv_kernel":4,
 "hybrid_override_pattern":"M-*E","n_routed_experts":4,"num_experts_per_tok":2,"moe_intermediate_size":32,
 "moe_shared_expert_intermediate_size":48}
EOF
"$B" synth "$T/in.json" "$T/m" > /dev/null 2>&1
"$B" info "$T/m" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)["description"]
assert d["mixers"] == ["mamba2", "none", "attention", "none"], d["mixers"]
assert d["ffns"] == ["none", "mlp", "none", "experts"], d["ffns"]
la = d["linear_attention"]
assert la["kind"] == "mamba2" and la["heads"] == 8 and la["head_dim"] == 16 and la["state"] == 16 and la["groups"] == 2 and la["norm_groups"] == 2, la
'
"$B" info models/stories260K | grep -Eq "^rabbitllm +[0-9]+\.[0-9]+" || { echo "FAIL: no version line in info"; exit 1; }
# the summary's KV cache is the plan's: its element type and size follow --kv-type (and --parallel)
kv() { "$B" info models/stories260K --ctx 256 "$@" | sed -n 's/^  KV cache *\([0-9.]*\) \([KMG]*B\).*(\(.*\))$/\1 \2 \3/p'; }
F=$(kv); Q=$(kv --kv-type q8_0); P2=$(kv --parallel 2)
echo "$F" | grep -q " f32$" && echo "$Q" | grep -q " q8_0$" || { echo "FAIL: KV summary type: '$F' / '$Q'"; exit 1; }
python3 -c 'import sys; f, q, p = (float(a.split()[0]) for a in sys.argv[1:]); assert q < f / 3 and abs(p - 2 * f) < 0.02 * f, (f, q, p)' "$F" "$Q" "$P2" \
    || { echo "FAIL: KV summary sizes: f32 '$F', q8_0 '$Q', 2 sequences '$P2'"; exit 1; }
echo ok
