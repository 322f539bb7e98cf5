#!/bin/sh
# `serve` features on stories260K (ChatML fallback, 4 slots): batch-invariant greedy text (alone
# == four at once); n choices; logprobs / top_logprobs (chat and completions); logit_bias;
# frequency / presence penalties; response_format json_object and json_schema (several schemas:
# the output parses and fits); tools + a schema forcing a Llama-3.1-style call -> tool_calls in
# the response and in streamed deltas; tool_choice naming a function or "required" (a forced call,
# the json convention under ChatML, <tool_call> under the qwen template); /tokenize + /detokenize;
# /v1/models context length and family; --parallel by default from the memory plan; /metrics in Prometheus text format; the chat page at /.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }
. tests/server/serve_start.inc
start() { serve_start models/stories260K "$@"; }   # start ARGS...: serve stories260K, URL in $URL
start --parallel 4 --ctx 512
grep -q "tool calls: json" "$T/serr" || fail "ChatML fallback: not the json tool-call convention: $(cat "$T/serr")"
timeout 600 python3 tests/server/features.py "$URL" || fail "feature checks"
kill -TERM "$PID"; wait "$PID" || fail "serve exit status after SIGTERM"
PID=""

# --chat-template: an unknown name is refused at start naming the built-ins; a Jinja file is used
"$BIN" serve models/stories260K --port 0 --chat-template nope >/dev/null 2>"$T/bad" && fail "--chat-template nope accepted"
grep -q "not a built-in name (.*llama3.*)" "$T/bad" || fail "bad template message: $(cat "$T/bad")"
printf '%s' "{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{% endfor %}" >"$T/t.jinja"
start --chat-template "$T/t.jinja"
python3 - "$URL" <<'PY' || fail "--chat-template FILE"
import json, sys, urllib.request
def post(path, body):
    r = urllib.request.Request(sys.argv[1] + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(r, timeout=60))
r = post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 4})
want = len(post("/tokenize", {"content": "[user]Once upon a time"})["tokens"])
assert r["usage"]["prompt_tokens"] == want, (r["usage"], want)
PY
grep -q "warning: .*ChatML" "$T/serr" && fail "a template given, yet the ChatML warning"
kill -TERM "$PID"; wait "$PID" || fail "serve exit status after SIGTERM (template file)"
PID=""

# a template whose tools use <tool_call> (qwen): a forced call comes out in that convention
start --chat-template qwen --ctx 1024
grep -q "tool calls: hermes" "$T/serr" || fail "qwen template: not the hermes convention: $(cat "$T/serr")"
# no --parallel: the slots come from the memory plan (16 here, the cap), also in /metrics
grep -q "(16 slots from the memory plan" "$T/serr" || fail "default --parallel: $(cat "$T/serr")"
python3 -c "import sys, urllib.request; m = urllib.request.urlopen(sys.argv[1] + '/metrics').read().decode(); assert '\nrabbitllm_slots 16\n' in m, m" "$URL" ||
  fail "rabbitllm_slots in /metrics"
python3 - "$URL" <<'PY' || fail "forced call with the qwen template"
import json, sys, urllib.request
tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}}]
body = {"messages": [{"role": "user", "content": "hi"}], "tools": tools, "tool_choice": {"type": "function", "function": {"name": "f"}},
        "max_tokens": 200, "logprobs": True}
r = urllib.request.Request(sys.argv[1] + "/v1/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
c = json.load(urllib.request.urlopen(r, timeout=120))["choices"][0]
text = "".join(t["token"] for t in c["logprobs"]["content"])
assert text.startswith("<tool_call>\n") and text[12:].lstrip().startswith("{") and text.endswith("}\n</tool_call>"), text
assert c["finish_reason"] == "tool_calls" and c["message"]["tool_calls"][0]["function"]["name"] == "f", c
assert set(json.loads(c["message"]["tool_calls"][0]["function"]["arguments"])) == {"x"}, c
PY
kill -TERM "$PID"; wait "$PID" || fail "serve exit status after SIGTERM (qwen template)"
PID=""
echo ok
