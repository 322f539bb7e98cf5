#!/bin/sh
# Text front end: `run -p` streams exactly the golden text of stories260K; `chat` with piped
# input keeps the conversation, reuses the KV cache prefix, handles /reset, and bad ids are errors.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
S="$SH/fixtures/stories260K"

# run -p: stdout is exactly expected_text minus the prompt text
"$BIN" run "$S" -p "Once upon a time" -n 64 --temp 0 >"$T/out" 2>"$T/err" || fail "run -p: $(cat "$T/err")"
python3 - "$S/text_golden.json" "$T/out" <<'PY' || fail "run -p text differs"
import json, sys
g = json.load(open(sys.argv[1], encoding="utf-8"))
want = g["expected_text"][len(g["prompt_text"]):]
got = open(sys.argv[2], encoding="utf-8").read()
if got != want:
    print("want %r\ngot  %r" % (want, got)); sys.exit(1)
PY
grep -q "no chat template" "$T/err" || fail "no note about the missing template"
grep -q "generated" "$T/err" || fail "no summary line"

# chat with a template added to a copy of the model
cp -r "$S" "$T/m"; chmod -R u+w "$T/m"
python3 - "$T/m/tokenizer_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["chat_template"] = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
json.dump(c, open(p, "w"))
PY
printf 'Once upon a time\nThe cat sat\n/reset\nOnce upon a time\n/exit\nnever read\n' | "$BIN" chat "$T/m" -n 12 --temp 0 >"$T/chat" 2>"$T/cerr" || fail "chat: $(cat "$T/cerr")"
[ "$(grep -c 'generated' "$T/cerr")" -eq 3 ] || fail "expected 3 answers: $(cat "$T/cerr")"
grep -q "conversation reset" "$T/cerr" || fail "no reset"
# turn 2 sends only the new tokens: fewer than turn 1's prompt + answer + new text
p1=$(grep -o '^\[[0-9]* prompt' "$T/cerr" | sed -n 1p | tr -dc 0-9)
p2=$(grep -o '^\[[0-9]* prompt' "$T/cerr" | sed -n 2p | tr -dc 0-9)
p3=$(grep -o '^\[[0-9]* prompt' "$T/cerr" | sed -n 3p | tr -dc 0-9)
# stdout is A1 \n A2 \n A3 \n with A1 == A3 (same conversation after /reset); answers may hold newlines
python3 - "$T/chat" >"$T/a1" <<'PY' || fail "answers after /reset differ: $(cat "$T/chat")"
import sys
s = open(sys.argv[1], encoding="utf-8").read()
for k in range(1, len(s)):
    a = s[:k]
    if s.endswith("\n" + a + "\n") and s.startswith(a + "\n") and len(s) > 2 * k + 2:
        sys.stdout.write(a); sys.exit(0)
sys.exit(1)
PY
a1=$(cat "$T/a1")
# the whole second-turn prompt, rendered and tokenized independently
python3 - "$a1" >"$T/conv.jsonl" <<'PY'
import json, sys
msgs = [{"role": "user", "content": "Once upon a time"}, {"role": "assistant", "content": sys.argv[1]},
        {"role": "user", "content": "The cat sat"}]
print(json.dumps({"messages": msgs, "add_generation_prompt": True, "extra": {}}))
PY
"$BIN" template "$T/m" --jsonl <"$T/conv.jsonl" >"$T/rendered.jsonl" || fail "template"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).readline())["rendered"]; print(json.dumps({"text": r, "add_special_tokens": False}))' "$T/rendered.jsonl" >"$T/tok.jsonl"
full=$("$BIN" tokenize "$T/m" --jsonl <"$T/tok.jsonl" | python3 -c 'import json,sys; print(len(json.loads(sys.stdin.readline())["ids"]))')
[ "$p2" -lt "$full" ] && [ "$p2" -le $((full - p1)) ] && [ "$p3" -eq "$p1" ] || fail "prefix reuse: turn prompts $p1 $p2 $p3 of $full"

# an id beyond the model's vocabulary is a clear error, not a crash
"$BIN" run "$S" --ids 1,600 -n 2 >/dev/null 2>"$T/err" && fail "bad id accepted"
grep -q "vocabulary" "$T/err" || fail "bad id message: $(cat "$T/err")"
echo ok
