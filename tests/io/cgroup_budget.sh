#!/bin/sh
# --mem-budget auto under a real memory cgroup: a synthetic model larger than the cap runs with
# default flags inside a cgroup this test creates (v1 or v2, whichever is writable here), gives
# the same ids as an uncapped run, sees the cgroup limit, keeps part of the model resident, and
# its peak memory (the cgroup's own peak, page cache included) stays under the cap.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
CG=""
cleanup() {
  [ -n "$CG" ] && [ -d "$CG" ] && rmdir "$CG" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 0; }
[ -n "${RL_SANITIZED:-}" ] && skip "sanitizer shadow memory does not fit a small cap"

CAP=$((208 * 1024 * 1024))
# a cgroup of our own: v1 memory hierarchy, else a v2 hierarchy with the memory controller
V1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
V2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$V1" ] && mkdir "$V1/rl-test-$$" 2>/dev/null; then
  CG="$V1/rl-test-$$"
  echo "$CAP" >"$CG/memory.limit_in_bytes" || fail "cannot set memory.limit_in_bytes"
  PEAK="$CG/memory.max_usage_in_bytes"; VER=1
elif [ -n "$V2" ] && grep -qw memory "$V2/cgroup.subtree_control" 2>/dev/null && mkdir "$V2/rl-test-$$" 2>/dev/null; then
  CG="$V2/rl-test-$$"
  echo "$CAP" >"$CG/memory.max" || fail "cannot set memory.max"
  PEAK="$CG/memory.peak"; VER=2
else
  skip "no writable memory cgroup (v1 or v2) here"
fi

# 24 layers of ~12.6 MB (f32): ~340 MB of weights, well above the 208 MiB cap
cat >"$T/cfg.json" <<'EOF'
{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":512,"intermediate_size":1536,
 "num_hidden_layers":24,"num_attention_heads":8,"num_key_value_heads":4,"vocab_size":8192,
 "max_position_embeddings":2048,"rms_norm_eps":1e-5,"rope_theta":10000.0,"tie_word_embeddings":false,
 "torch_dtype":"float32"}
EOF
"$BIN" synth "$T/cfg.json" "$T/m" --dtype f32 >/dev/null 2>"$T/err" || fail "synth: $(cat "$T/err")"
size=$(du -sb "$T/m" | cut -f1)
[ "$size" -gt "$CAP" ] || fail "model $size bytes is not larger than the cap $CAP"

ARGS="--ids 1,2,3,4,5 -n 6 --temp 0 --ignore-eos --ctx 256"
want=$("$BIN" run "$T/m" $ARGS --mem-budget 0 2>"$T/err") || fail "uncapped run: $(cat "$T/err")"
# the capped run: default flags (--mem-budget auto), moved into the cgroup before exec
got=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BIN" run "$T/m" $ARGS --profile 2>"$T/prof") \
  || fail "capped run failed (rc $?): $(tail -n 5 "$T/prof")"
[ "$got" = "$want" ] || fail "ids under the cap $got, uncapped $want"
grep -q "from cgroup v$VER" "$T/prof" || fail "the budget did not come from the cgroup: $(grep 'memory budget' "$T/prof")"
grep -q "rl-test-$$" "$T/prof" || fail "the budget did not name our cgroup: $(grep 'memory budget' "$T/prof")"
grep -Eq '^\* resident: [1-9][0-9]* of' "$T/prof" || fail "nothing resident under the cap: $(grep 'memory budget' "$T/prof")"
peak=$(cat "$PEAK" 2>/dev/null || echo 0)
[ "$peak" -gt 0 ] || fail "no peak usage in $PEAK"
[ "$peak" -lt "$CAP" ] || fail "peak $peak reached the cap $CAP"
if [ "$VER" = 1 ]; then
  grep -q "^oom_kill 0" "$CG/memory.oom_control" 2>/dev/null || ! grep -q "^oom_kill" "$CG/memory.oom_control" || fail "OOM kill in the cgroup"
fi
echo "ok: cgroup v$VER cap $CAP, model $size bytes, peak $peak; $(grep '^\* resident' "$T/prof")"
