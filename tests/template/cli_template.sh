#!/bin/sh
# `rabbitllm template MODEL_DIR --jsonl`: one output line per input line; a raising template gives
# {"rendered": null, "error": ...} and the loop goes on; a model without a template fails cleanly.
set -eu
BIN=${RL_BIN:-build/rabbitllm}
SHARED=${RL_SHARED:-../shared}
[ -d "$SHARED" ] || { echo "skipped: needs $SHARED"; exit 77; }
out=$(printf '%s\n' \
  '{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}],"add_generation_prompt":true,"extra":{}}' \
  '{"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":true,"extra":{}}' \
  | "$BIN" template "$SHARED/tokenizers/gemma3" --jsonl)
n=$(printf '%s\n' "$out" | wc -l)
[ "$n" -eq 2 ] || { echo "expected 2 lines, got $n: $out"; exit 1; }
printf '%s\n' "$out" | sed -n 1p | grep -q '"rendered":null,"error":"Conversation roles must alternate' || { echo "bad error line: $out"; exit 1; }
printf '%s\n' "$out" | sed -n 2p | grep -qF '{"rendered":"<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n"}' || { echo "bad render line: $out"; exit 1; }
# plain mode: one request on stdin, raw text out
txt=$(printf '%s' '{"messages":[{"role":"user","content":"x"}]}' | "$BIN" template "$SHARED/tokenizers/llama3_1")
[ "$txt" = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>

x<|eot_id|>" ] || { echo "bad plain render: $txt"; exit 1; }
# no template: non-zero exit with a message, no crash
if "$BIN" template "$SHARED/tokenizers/mistral_v01" --jsonl </dev/null 2>/dev/null; then echo "expected failure"; exit 1; fi
echo ok
