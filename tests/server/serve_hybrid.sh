#!/bin/sh
# `serve` on Qwen3.5 (recurrent layers: no token trees) and GLM-5 (the DSA indexer): the
# fixtures, given a byte-level tokenizer here. A second turn that extends the first (its prompt,
# its answer, more) reuses the slot's cache (a hybrid model restores the state it checkpointed
# at the first prompt's end) and answers as a fresh server does. With --draft-model each decoding
# slot verifies the draft's greedy chain (Qwen3.5) or tree (GLM-5); greedy and seeded completions, 3 at once, are the same
# text as plain serving, with the model as its own draft (every node accepted) and with its 4-bit
# cache (tails rejected); /metrics counts accepted draft tokens.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs ../shared"; exit 77; }
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export XDG_CACHE_HOME="$T/cache"   # the draft's quantized cache goes here
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }

# a byte-level BPE tokenizer of the fixtures' 256 ids (GPT-2's byte to character map, no merges)
tokenizer() {
  python3 - "$1" <<'PY'
import json, sys
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
vocab = {chr(c): b for b, c in zip(bs, cs)}
bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
tok = {"version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": bl, "post_processor": None,
       "decoder": bl, "model": {"type": "BPE", "vocab": vocab, "merges": [], "byte_fallback": False}}
json.dump(tok, open(sys.argv[1] + "/tokenizer.json", "w"))
json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, open(sys.argv[1] + "/tokenizer_config.json", "w"))
PY
}

. tests/server/serve_start.inc
start() { d=$1; shift; serve_start "$d" --parallel 3 --ctx 128 "$@"; }   # start DIR ARGS...: serve DIR, URL in $URL
stop() { serve_stop; }

cat >"$T/run.py" <<'PY'
import json, sys, threading, urllib.request
base, out = sys.argv[1], sys.argv[2]

def cmpl(prompt, **kw):
    b = {"model": "tiny", "prompt": prompt, "max_tokens": 24, "temperature": 0}
    b.update(kw)
    r = urllib.request.Request(base + "/v1/completions", data=json.dumps(b).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=120) as f:
        c = json.loads(f.read().decode("utf-8"))["choices"][0]
    return [c["text"], c["finish_reason"]]

PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben"]
res = {"greedy": [cmpl(p) for p in PROMPTS]}
for name, kw in (("concurrent", {}), ("seeded", {"temperature": 0.9, "top_p": 0.95})):
    got = [None] * 3                  # 3 at once: every slot decoding in the same steps
    def one(i):
        got[i] = cmpl(PROMPTS[i], max_tokens=30, seed=5 + i, **kw)
    th = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in th: t.start()
    for t in th: t.join()
    res[name] = got
json.dump(res, open(out, "w"), indent=1)
PY

cat >"$T/turns.py" <<'PY'
import json, sys, urllib.request
base, out, which = sys.argv[1], sys.argv[2], sys.argv[3]

def cmpl(prompt):
    b = {"model": "tiny", "prompt": prompt, "max_tokens": 12, "temperature": 0, "ignore_eos": True}
    r = urllib.request.Request(base + "/v1/completions", data=json.dumps(b).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=120) as f:
        return json.loads(f.read().decode("utf-8"))["choices"][0]["text"]

FIRST = "A long first turn of a conversation, " * 2
if which == "both":                   # the second turn extends the first prompt and its answer
    a = cmpl(FIRST)
    json.dump([a, cmpl(FIRST + a + " and then?")], open(out, "w"))
else:                                 # a fresh server: the same second prompt alone
    a = json.load(open(which))[0]
    json.dump([a, cmpl(FIRST + a + " and then?")], open(out, "w"))
PY

for fx in qwen3_5 glm_moe_dsa; do
  M="$T/$fx"
  mkdir -p "$M"
  for f in "$SH/fixtures/$fx"/*.json "$SH/fixtures/$fx"/*.safetensors; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$M/"; done
  tokenizer "$M"
  start "$M" --parallel 1
  timeout 600 python3 "$T/turns.py" "$URL" "$T/turns.json" both || fail "$fx: two turns"
  grep -Eq 'prompt tokens \(([1-9][0-9]*) reused\)' "$T/serr" || fail "$fx: the second turn reused no cached tokens"
  stop
  start "$M" --parallel 1
  timeout 600 python3 "$T/run.py" "$URL" "$T/junk.json" >/dev/null || fail "$fx: other requests"
  timeout 600 python3 "$T/turns.py" "$URL" "$T/fresh.json" "$T/turns.json" || fail "$fx: the second turn alone"
  stop
  cmp -s "$T/turns.json" "$T/fresh.json" || { cat "$T/turns.json" "$T/fresh.json"; fail "$fx: the second turn differs after reuse"; }
  start "$M"
  timeout 600 python3 "$T/run.py" "$URL" "$T/plain.json" || fail "$fx: requests without a draft"
  stop
  for dq in "" "--draft-quant 4"; do
    # shellcheck disable=SC2086
    start "$M" --draft-model "$M" $dq --draft-tokens 8 --draft-fixed
    timeout 600 python3 "$T/run.py" "$URL" "$T/draft.json" || fail "$fx: requests with a draft $dq"
    cmp -s "$T/plain.json" "$T/draft.json" || { diff "$T/plain.json" "$T/draft.json" | head; fail "$fx: texts differ with the draft $dq"; }
    acc=$(curl -sf "$URL/metrics" | sed -n 's/^rabbitllm_draft_accepted_total \([0-9]*\)$/\1/p')
    [ -n "$acc" ] && [ "$acc" -gt 0 ] || fail "$fx: no accepted draft tokens ($acc) with $dq"
    echo "$fx $dq: $acc draft tokens accepted"
    stop
  done
done
echo ok
