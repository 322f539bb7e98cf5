#!/bin/sh
# `serve --draft-model`: speculative steps (a token tree per decoding slot, verified in one tree
# sweep) give the same text as plain serving on stories260K with its own 4-bit cache as draft:
# greedy completions and chats, 4 concurrent requests, seeded sampling, logit_bias, penalties,
# logprobs, stop strings and response_format json_object (still valid JSON), with --draft-fixed
# and with the cost model; /metrics counts draft steps, nodes and accepted tokens (> 0 with
# --draft-fixed); the start-up line names the draft; features.py's checks pass with a draft; a
# draft with another vocabulary is refused at start with a clear error.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs ../shared"; exit 77; }
S="$SH/fixtures/stories260K"
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
export XDG_CACHE_HOME="$T/cache"   # the draft's quantized cache goes here
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }
. tests/server/serve_start.inc
start() { serve_start "$S" --parallel 4 --ctx 256 "$@"; }   # start ARGS...: serve S, URL in $URL
stop() { serve_stop; }

# the same requests against a server; their texts go to a JSON file
cat >"$T/run.py" <<'PY'
import json, sys, threading, urllib.request
base, out = sys.argv[1], sys.argv[2]

def req(path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    r = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=120) as f:
        return f.read().decode("utf-8")

def cmpl(prompt, **kw):
    b = {"model": "tiny", "prompt": prompt, "max_tokens": 40, "temperature": 0}
    b.update(kw)
    c = json.loads(req("/v1/completions", b))["choices"][0]
    return [c["text"], c["finish_reason"], c.get("logprobs")]

def chat(content, **kw):
    b = {"model": "tiny", "messages": [{"role": "user", "content": content}], "max_tokens": 60, "temperature": 0}
    b.update(kw)
    c = json.loads(req("/v1/chat/completions", b))["choices"][0]
    return [c["message"]["content"], c["finish_reason"]]

PROMPTS = ["Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a bird"]
res = {}
res["greedy"] = [cmpl(p) for p in PROMPTS[:3]]
res["greedy_long"] = cmpl("Once upon a time", max_tokens=120)
res["chat"] = chat("Once upon a time")
got = [None] * 4                      # 4 at once: every slot decoding in the same steps
def one(i):
    got[i] = cmpl(PROMPTS[i], max_tokens=50)
th = [threading.Thread(target=one, args=(i,)) for i in range(4)]
for t in th: t.start()
for t in th: t.join()
res["concurrent"] = got
res["seeded"] = [cmpl(p, temperature=0.9, seed=7 + i, top_p=0.95) for i, p in enumerate(PROMPTS[:2])]
got = [None] * 4
def two(i):
    got[i] = cmpl(PROMPTS[i], max_tokens=50, temperature=0.8, seed=100 + i)
th = [threading.Thread(target=two, args=(i,)) for i in range(4)]
for t in th: t.start()
for t in th: t.join()
res["seeded_concurrent"] = got
dog = json.loads(req("/tokenize", {"content": " dog"}))["tokens"][-1]
res["bias"] = cmpl("Once upon a time", logit_bias={str(dog): 5})
res["penalties"] = cmpl("Once upon a time", frequency_penalty=1.0, presence_penalty=0.5, max_tokens=60)
res["logprobs"] = cmpl("The little dog", logprobs=2, max_tokens=12)
res["stop"] = cmpl("Once upon a time", stop=["."])
res["short"] = [cmpl("Once upon a time", max_tokens=k) for k in (1, 2, 3)]
CLOSERS = {}                           # closing quotes and brackets favoured: answers that end
for ch in ('"', "}", "]"):
    for c in ("", "x"):
        CLOSERS[str(json.loads(req("/tokenize", {"content": c + ch}))["tokens"][-1])] = 4.0
res["json"], ended = [], 0
for temp, seed in ((0, 0), (1.0, 3), (1.0, 5), (0.7, 11)):
    js = chat("Once upon a time", max_tokens=300, temperature=temp, seed=seed, response_format={"type": "json_object"},
              logit_bias=CLOSERS)
    if js[1] == "stop":               # valid JSON (a ramble up to max_tokens is "length")
        assert isinstance(json.loads(js[0]), dict), js
        ended += 1
    res["json"].append(js)
assert ended > 0, res["json"]
json.dump(res, open(out, "w"), indent=1)
PY

start
timeout 600 python3 "$T/run.py" "$URL" "$T/plain.json" || fail "requests without a draft"
stop

start --draft-model "$S" --draft-quant 4 --draft-tokens 16 --draft-fixed
grep -q "draft model .*-q4 (token trees of up to 16 nodes, fixed)" "$T/serr" || fail "start-up line: $(cat "$T/serr")"
timeout 600 python3 "$T/run.py" "$URL" "$T/draft.json" || fail "requests with a draft"
python3 - "$T/plain.json" "$T/draft.json" <<'PY' || fail "texts differ with the draft"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
bad = [k for k in a if a[k] != b[k]]
for k in bad:
    print("differs:", k, "\n plain:", a[k], "\n draft:", b[k])
sys.exit(1 if bad else 0)
PY
curl -sf "$URL/metrics" >"$T/metrics" || fail "/metrics"
nodes=$(sed -n 's/^rabbitllm_draft_nodes_total \([0-9]*\)$/\1/p' "$T/metrics")
acc=$(sed -n 's/^rabbitllm_draft_accepted_total \([0-9]*\)$/\1/p' "$T/metrics")
steps=$(sed -n 's/^rabbitllm_draft_steps_total \([0-9]*\)$/\1/p' "$T/metrics")
[ -n "$nodes" ] && [ "$nodes" -gt 0 ] && [ -n "$acc" ] && [ "$acc" -gt 0 ] && [ "$acc" -le "$nodes" ] && [ -n "$steps" ] && [ "$steps" -gt 0 ] ||
  fail "draft counters: nodes '$nodes' accepted '$acc' steps '$steps'"
grep -q "^# TYPE rabbitllm_draft_nodes_total counter" "$T/metrics" || fail "no TYPE line for the draft counters"
echo "draft: $steps steps, $nodes nodes, $acc accepted"
stop

# the cost model sizes the trees: still the same text
start --draft-model "$S" --draft-quant 4
grep -q "draft model .*sized by the cost model" "$T/serr" || fail "start-up line (cost model): $(cat "$T/serr")"
timeout 600 python3 "$T/run.py" "$URL" "$T/cost.json" || fail "requests with the cost model"
cmp -s "$T/plain.json" "$T/cost.json" || fail "texts differ with the cost model"
stop

# every feature check of features.sh (streaming, n choices, logprobs, constraints, tool calls...) with a draft
start --ctx 512 --draft-model "$S" --draft-quant 4 --draft-tokens 4 --draft-fixed   # small trees: quick under sanitizers
timeout 600 python3 tests/server/features.py "$URL" >"$T/feat" 2>&1 || { cat "$T/feat"; fail "feature checks with a draft"; }
stop

# a draft with another vocabulary is refused at start
"$BIN" serve "$S" --port 0 --ctx 256 --draft-model "$SH/fixtures/qwen3" >/dev/null 2>"$T/bad" && fail "a draft with another vocabulary was accepted"
grep -q "draft model.*vocabulary" "$T/bad" || fail "bad draft message: $(cat "$T/bad")"
# and without a draft model the draft flags are refused as for run
"$BIN" serve "$S" --port 0 --draft-quant 4 >/dev/null 2>"$T/bad" && fail "--draft-quant without --draft-model accepted"
grep -q "need --draft-model" "$T/bad" || fail "--draft-quant alone: $(cat "$T/bad")"
echo ok
