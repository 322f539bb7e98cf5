#!/bin/sh
# Speculative decoding flags on the command line (stories260K as target and draft):
# --draft-quant 8|4 (the draft from its quantized cache) and --draft-backend leave greedy ids
# unchanged; the summary line carries `nodes/sweep X.XX accepted/sweep Y.YY` and the time split
# (run --ids, run -p); --profile adds the draft's memory plan and the split; prompt lookup
# (--draft K) merged into the tree cuts the sweeps on a repeating prompt with unchanged ids;
# `bench --draft-model` reports both runs and identical greedy ids; bad combinations are refused;
# a vulkan target (no tree attention: chains) with a cpu draft, where vulkan runs here; batches,
# also of models without token trees (chains) and of GLM-5's DSA.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "${RL_SHARED:-../shared}" ] || { echo "skipped: needs ../shared"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export XDG_CACHE_HOME="$T/cache"   # the draft's quantized cache goes here
fail() { echo "FAIL: $*"; exit 1; }
S="$SH/fixtures/stories260K"
IDS=1,403,407
SUM='nodes/sweep [0-9]+\.[0-9]{2} accepted/sweep [0-9]+\.[0-9]{2}, draft [0-9.]+ s, target read [0-9.]+ s, target compute [0-9.]+ s'

plain=$("$BIN" run "$S" --ids $IDS -n 40 --ignore-eos 2>"$T/err") || fail "plain run: $(cat "$T/err")"
for q in 8 4; do
  for b in 8 64; do
    out=$("$BIN" run "$S" --ids $IDS -n 40 --ignore-eos --draft-model "$S" --draft-quant $q --draft-tokens $b --draft-fixed 2>"$T/err") ||
      fail "--draft-quant $q: $(cat "$T/err")"
    [ "$out" = "$plain" ] || fail "--draft-quant $q --draft-tokens $b changed the greedy ids: $out vs $plain"
    grep -Eq "$SUM" "$T/err" || fail "summary line: $(cat "$T/err")"
  done
done
ls "$T/cache/rabbitllm" | grep -q -- '-q4$' || fail "no 4-bit draft cache under XDG_CACHE_HOME"
# the cost model (no --draft-fixed): still the same ids
out=$("$BIN" run "$S" --ids $IDS -n 40 --ignore-eos --draft-model "$S" --draft-quant 4 2>"$T/err") || fail "cost model: $(cat "$T/err")"
[ "$out" = "$plain" ] || fail "cost model changed the greedy ids"
# text prompts (-p, the session path) honour --draft-fixed too: trees of --draft-tokens nodes, same text
ptext=$("$BIN" run "$S" -p "Once upon a time" -n 40 --ignore-eos 2>"$T/err") || fail "plain -p: $(cat "$T/err")"
out=$("$BIN" run "$S" -p "Once upon a time" -n 40 --ignore-eos --draft-model "$S" --draft-tokens 8 --draft-fixed 2>"$T/err") ||
  fail "-p --draft-fixed: $(cat "$T/err")"
[ "$out" = "$ptext" ] || fail "-p with a draft changed the text"
nps=$(grep -Eo 'nodes/sweep [0-9.]+' "$T/err" | awk '{print $2}')
awk -v n="$nps" 'BEGIN { exit !(n >= 4) }' || fail "-p --draft-fixed --draft-tokens 8: nodes/sweep $nps (the fixed trees were not used)"
# --draft-backend
out=$("$BIN" run "$S" --ids $IDS -n 40 --ignore-eos --draft-model "$S" --draft-backend cpu --draft-fixed 2>"$T/err") ||
  fail "--draft-backend cpu: $(cat "$T/err")"
[ "$out" = "$plain" ] || fail "--draft-backend cpu changed the greedy ids"
"$BIN" run "$S" --ids $IDS -n 4 --backend nosuch >/dev/null 2>&1; want=$?   # as the target's own --backend
"$BIN" run "$S" --ids $IDS -n 4 --draft-model "$S" --draft-backend nosuch >/dev/null 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && [ $rc -eq $want ] || fail "--draft-backend nosuch: exit $rc (want $want, as --backend nosuch)"
grep -q "draft model: .*nosuch" "$T/err" || fail "--draft-backend nosuch: message: $(cat "$T/err")"
"$BIN" run "$S" --ids $IDS -n 4 --draft-quant 4 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "need --draft-model" "$T/err" || fail "--draft-quant without --draft-model: exit $rc $(cat "$T/err")"
"$BIN" run "$S" --ids $IDS -n 4 --draft-model "$S" --draft-quant 5 >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 1 ] && grep -q "must be 8 or 4" "$T/err" || fail "--draft-quant 5: exit $rc $(cat "$T/err")"
# --profile: the draft's memory plan and the time split
"$BIN" run "$S" --ids $IDS -n 20 --ignore-eos --draft-model "$S" --draft-quant 4 --draft-fixed --profile >/dev/null 2>"$T/err" ||
  fail "--profile: $(cat "$T/err")"
grep -q "^draft model: [0-9]* of [0-9]* stages resident" "$T/err" || fail "--profile: no draft memory line: $(cat "$T/err")"
grep -Eq "^speculative decoding: [0-9]+ sweeps, nodes/sweep [0-9.]+ accepted/sweep [0-9.]+; time draft .* target read .* target compute" "$T/err" ||
  fail "--profile: no split line: $(cat "$T/err")"
# prompt lookup merged into the tree: a prompt that repeats its own continuation
G=261,378,432,383,286,261,376,298,315,421,395,317,426,338,401,396,267,337,410,408,419,292,411,322,265,282,295,433,426,385
P=$IDS,$G,403,407
plain=$("$BIN" run "$S" --ids $P -n 30 --ignore-eos 2>/dev/null) || fail "plain run (lookup prompt)"
out=$("$BIN" run "$S" --ids $P -n 30 --ignore-eos --draft 8 --draft-model "$S" --draft-tokens 1 --draft-fixed 2>"$T/err") ||
  fail "--draft 8 with a draft model: $(cat "$T/err")"
[ "$out" = "$plain" ] || fail "prompt lookup in the tree changed the greedy ids"
sw=$(sed -n 's/.*(\([0-9.]*\) tok\/s, \([0-9]*\) sweeps.*/\2/p' "$T/err")
[ -n "$sw" ] && [ "$sw" -lt 20 ] || fail "prompt lookup in the tree: $sw sweeps for 30 tokens: $(cat "$T/err")"
out=$("$BIN" run "$S" --ids $P -n 30 --ignore-eos --draft 8 --draft-model "$S" --draft-quant 4 --draft-tokens 16 --draft-fixed 2>"$T/err") ||
  fail "--draft 8 with a 16-node tree: $(cat "$T/err")"
[ "$out" = "$plain" ] || fail "prompt lookup merged into a draft tree changed the greedy ids"
# run -p (the session API): the same summary fields
"$BIN" run "$S" -p "Once upon a time" --raw -n 20 --ignore-eos --draft-model "$S" --draft-quant 4 >/dev/null 2>"$T/err" ||
  fail "run -p with a draft: $(cat "$T/err")"
grep -Eq "$SUM" "$T/err" || fail "run -p summary: $(cat "$T/err")"
# chains: a target on a backend without tree attention (vulkan, where this build and machine have it)
if "$BIN" run "$S" --ids 1 -n 1 --backend vulkan >/dev/null 2>&1; then
  plain=$("$BIN" run "$S" --ids $IDS -n 30 --ignore-eos --backend vulkan 2>/dev/null) || fail "vulkan plain run"
  out=$("$BIN" run "$S" --ids $IDS -n 30 --ignore-eos --backend vulkan --draft-model "$S" --draft-backend cpu --draft-tokens 8 --draft-fixed 2>"$T/err") ||
    fail "vulkan target, cpu draft: $(cat "$T/err")"
  [ "$out" = "$plain" ] || fail "vulkan target with a cpu draft changed the greedy ids"
  grep -Eq "$SUM" "$T/err" || fail "vulkan summary: $(cat "$T/err")"
fi
# batches (--ids-file, --parallel): one tree per sequence in each sweep, the same ids
printf '1,403,407\n1,40,47,61\n1,300,301\n1,261,378,432\n1,5\n' >"$T/ids"
plain=$("$BIN" run "$S" --ids-file "$T/ids" -n 30 --ignore-eos --parallel 3 2>/dev/null) || fail "plain batch"
out=$("$BIN" run "$S" --ids-file "$T/ids" -n 30 --ignore-eos --parallel 3 --draft-model "$S" --draft-quant 4 --draft-tokens 16 --draft-fixed 2>"$T/err") ||
  fail "batch with a draft: $(cat "$T/err")"
[ "$out" = "$plain" ] || fail "batch with a draft changed the greedy ids"
grep -Eq "decode sweeps, $SUM" "$T/err" || fail "batch summary: $(cat "$T/err")"
# models without token trees (Qwen3.5's recurrent layers: the draft's chains) and GLM-5's DSA
# (trees), committed in part (a 4-bit draft) or whole (the model as its own draft): the same ids
printf '1,40,47,61,9\n1,30,31\n1,61,7,12,99,3\n' >"$T/ids2"
for fx in qwen3_5 glm_moe_dsa; do
  F="$SH/fixtures/$fx"
  plain=$("$BIN" run "$F" --ids-file "$T/ids2" -n 12 --ignore-eos --parallel 3 2>/dev/null) || fail "$fx: plain batch"
  for dq in "" "--draft-quant 4"; do
    # shellcheck disable=SC2086
    out=$("$BIN" run "$F" --ids-file "$T/ids2" -n 12 --ignore-eos --parallel 3 --draft-model "$F" $dq --draft-tokens 12 --draft-fixed 2>"$T/err") ||
      fail "$fx: batch with a draft $dq: $(cat "$T/err")"
    [ "$out" = "$plain" ] || fail "$fx: batch with a draft $dq changed the greedy ids: $out vs $plain"
    grep -Eq "decode sweeps, $SUM" "$T/err" || fail "$fx batch summary: $(cat "$T/err")"
  done
done
# bench --draft-model
"$BIN" bench "$S" --draft-model "$S" --draft-quant 4 -n 24 --draft-fixed --draft-tokens 8 >"$T/out" 2>"$T/err" ||
  fail "bench --draft-model: $(cat "$T/err")"
grep -Eq '^no draft +[0-9.]+ s/token +[0-9.]+ tok/s +[0-9]+ sweeps' "$T/out" || fail "bench: no-draft line: $(cat "$T/out")"
grep -Eq "^with draft +[0-9.]+ s/token +[0-9.]+ tok/s +[0-9]+ sweeps, $SUM" "$T/out" || fail "bench: draft line: $(cat "$T/out")"
grep -q '^greedy ids identical: yes' "$T/out" || fail "bench: ids: $(cat "$T/out")"
echo ok
