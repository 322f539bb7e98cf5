#!/bin/sh
# CLI contract of tokenize / detokenize: every encode/decode golden of the tokenizer.json
# tokenizers through --jsonl (via the shared check_text.py hook), plain mode, error exits.
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for n in qwen3 llama3_1 mistral_v01 gemma3 deepseek_v3; do
  ln -s "$(cd "$SH/tokenizers/$n" && pwd)" "$tmp/$n" || fail "missing $SH/tokenizers/$n"
done
python3 "$SH/hooks/check_text.py" "$BIN" encode "$tmp" "$tmp" || fail "encode goldens"
python3 "$SH/hooks/check_text.py" "$BIN" decode "$tmp" "$tmp" || fail "decode goldens"

# plain mode agrees with --jsonl mode
Q="$SH/tokenizers/llama3_1"
plain=$("$BIN" tokenize "$Q" "Hello world, 123!") || fail "plain tokenize"
js=$(printf '{"text": "Hello world, 123!", "add_special_tokens": true}\n' | "$BIN" tokenize "$Q" --jsonl) || fail "jsonl tokenize"
[ "{\"ids\": [$(echo "$plain" | sed 's/,/, /g')]}" = "$js" ] || fail "plain [$plain] vs jsonl [$js]"
plain_ns=$("$BIN" tokenize "$Q" "Hello world, 123!" --no-special) || fail "plain --no-special"
[ "$plain_ns" != "$plain" ] || fail "--no-special changed nothing"
back=$("$BIN" detokenize "$Q" "$plain_ns") || fail "plain detokenize"
[ "$back" = "Hello world, 123!" ] || fail "round trip gave [$back]"

# errors: message on stderr, non-zero exit
"$BIN" tokenize "$tmp/none" "x" 2>/dev/null && fail "missing model dir accepted"
printf '{"ids": [1, 999999999]}\n' | "$BIN" detokenize "$Q" --jsonl >/dev/null 2>"$tmp/err" && fail "out-of-range id accepted"
grep -q "999999999" "$tmp/err" || fail "no error message for a bad id"
printf '{"text": "a\\udc00"}\n' | "$BIN" tokenize "$Q" --jsonl >/dev/null 2>&1 && fail "bad text accepted"
echo ok
