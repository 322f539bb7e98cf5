#!/bin/sh
# `run --ids-file` / `run --prompts`: batched prompts give, in input order, exactly what each
# prompt gives alone (whatever --parallel groups them into).
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
S="models/stories260K"

printf '1,403,407\n\n1,403\n1,261,378,490\n' >"$T/ids.txt"
for par in 3 2 1; do
  "$BIN" run "$S" --ids-file "$T/ids.txt" -n 10 --temp 0 --parallel $par >"$T/batch" 2>"$T/err" || fail "ids-file: $(cat "$T/err")"
  : >"$T/single"
  for l in 1,403,407 1,403 1,261,378,490; do "$BIN" run "$S" --ids $l -n 10 --temp 0 2>/dev/null >>"$T/single" || fail "single run"; done
  cmp -s "$T/batch" "$T/single" || fail "--parallel $par: batch $(cat "$T/batch") vs single $(cat "$T/single")"
done

printf 'Once upon a time\nThe cat\nLily went\n' >"$T/p.txt"
"$BIN" run "$S" --prompts "$T/p.txt" -n 16 --temp 0 --raw --parallel 2 >"$T/out.jsonl" 2>"$T/err" || fail "prompts: $(cat "$T/err")"
i=0
while IFS= read -r p; do
  i=$((i + 1))
  want=$("$BIN" run "$S" -p "$p" -n 16 --temp 0 --raw 2>/dev/null)
  got=$(sed -n "${i}p" "$T/out.jsonl" | python3 -c 'import json,sys; j=json.loads(sys.stdin.read()); print(j["prompt"]); print(j["text"], end="")')
  [ "$got" = "$(printf '%s\n%s' "$p" "$want")" ] || fail "prompt $i: got '$got' want '$want'"
done <"$T/p.txt"

printf '1,x\n' >"$T/bad.txt"
"$BIN" run "$S" --ids-file "$T/bad.txt" >/dev/null 2>"$T/err" && fail "bad ids file accepted"
grep -q "line 1" "$T/err" || fail "bad ids message: $(cat "$T/err")"
echo ok
