#!/bin/sh
# Ctrl-C (SIGINT) during a chat answer stops that answer only: the loop goes on with the next
# line and exits cleanly. A synthetic model slow enough to interrupt, with stories260K's tokenizer.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cat >"$T/cfg.json" <<'JSON'
{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 1024, "intermediate_size": 4096,
 "num_hidden_layers": 8, "num_attention_heads": 16, "num_key_value_heads": 4, "vocab_size": 512,
 "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "torch_dtype": "bfloat16"}
JSON
"$BIN" synth "$T/cfg.json" "$T/m" --dtype bf16 2>/dev/null || fail "synth"
cp "models/stories260K/tokenizer.json" "models/stories260K/tokenizer_config.json" "$T/m/"
chmod u+w "$T/m"/*
mkfifo "$T/in"
"$BIN" chat "$T/m" -n 60 --temp 0 --ignore-eos --threads 1 <"$T/in" >"$T/out" 2>"$T/err" &
pid=$!
exec 3>"$T/in"
printf 'Once upon a time\n' >&3
# wait (bounded) until the answer is streaming, then interrupt it
i=0; while [ ! -s "$T/out" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -INT $pid
i=0; while ! grep -q interrupted "$T/err" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q interrupted "$T/err" || { kill $pid; fail "answer not interrupted: $(cat "$T/err")"; }
printf 'The end\n/exit\n' >&3
exec 3>&-
i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 $pid 2>/dev/null && { kill $pid; fail "chat did not exit"; }
wait $pid || fail "chat exit status $?: $(cat "$T/err")"
[ "$(grep -c 'generated' "$T/err")" -eq 2 ] || fail "expected a second answer: $(cat "$T/err")"
echo ok
