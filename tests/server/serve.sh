#!/bin/sh
# `rabbitllm serve`: the OpenAI-compatible server on stories260K (a chat template added) answers
# /health and /v1/models; chat and text completions at temperature 0 equal `rabbitllm run`;
# streamed chunks concatenate to the same text and end with [DONE]; max_tokens gives
# finish_reason "length" and usage; stop strings cut the text; concurrent requests are served
# one after another; bad requests get OpenAI-shaped JSON errors (400/404/405/413); SIGTERM stops it.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }

cp -r "models/stories260K" "$T/m"; chmod -R u+w "$T/m"
python3 - "$T/m/tokenizer_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["chat_template"] = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
json.dump(c, open(p, "w"))
PY

# what the CLI prints for the same prompts
"$BIN" run "$T/m" -p "Once upon a time" -n 20 --temp 0 --ctx 128 >"$T/chat.want" 2>"$T/err" || fail "run -p: $(cat "$T/err")"
"$BIN" run "$T/m" -p "Once upon a time" --raw -n 24 --temp 0 --ctx 128 >"$T/cmpl.want" 2>"$T/err" || fail "run --raw: $(cat "$T/err")"

# bad flags are refused before anything starts
"$BIN" serve "$T/m" --port 99999 >/dev/null 2>&1 && fail "--port 99999 accepted"

"$BIN" serve "$T/m" --host 127.0.0.1 --port 0 --model-name tiny --ctx 128 -n 48 >"$T/sout" 2>"$T/serr" &
PID=$!
URL=""
i=0
while [ $i -lt 600 ]; do              # at most 60 s to load and listen
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/serr" 2>/dev/null | head -n 1)
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || fail "server exited early"
  sleep 0.1; i=$((i + 1))
done
[ -n "$URL" ] || fail "server did not start"

timeout 300 python3 - "$URL" "$T/chat.want" "$T/cmpl.want" <<'PY' || fail "HTTP checks"
import http.client, json, sys, threading, time, urllib.error, urllib.parse, urllib.request
base, chat_want, cmpl_want = sys.argv[1], open(sys.argv[2], encoding="utf-8").read(), open(sys.argv[3], encoding="utf-8").read()
host = urllib.parse.urlparse(base)

def req(path, body=None, method=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    r = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=60) as f:
            return f.status, f.headers, f.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode("utf-8")

def check(cond, what):
    if not cond:
        print("FAIL:", what); sys.exit(1)

# /health answers within a bounded wait
for _ in range(100):
    try:
        if req("/health")[0] == 200: break
    except OSError:
        time.sleep(0.1)
else:
    check(False, "/health never answered")

st, _, b = req("/v1/models")
m = json.loads(b)
check(st == 200 and m["object"] == "list" and [d["id"] for d in m["data"]] == ["tiny"], "/v1/models: %s" % b)
check(req("/v1/models/tiny")[0] == 200, "/v1/models/tiny")

msgs = [{"role": "user", "content": "Once upon a time"}]
# non-stream chat at temperature 0 == run -p (twice: the second reuses the KV cache prefix)
for _ in range(2):
    st, h, b = req("/v1/chat/completions", {"model": "tiny", "messages": msgs, "max_tokens": 20, "temperature": 0})
    check(st == 200 and h["Content-Type"].startswith("application/json"), "chat status %d %s" % (st, b))
    r = json.loads(b)
    c = r["choices"][0]
    check(r["object"] == "chat.completion" and c["message"]["role"] == "assistant", "chat shape: %s" % b)
    check(c["message"]["content"] == chat_want, "chat text %r != run -p %r" % (c["message"]["content"], chat_want))
    u = r["usage"]
    check(c["finish_reason"] in ("stop", "length") and u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], "chat usage: %s" % b)
# content given as text parts renders the same
st, _, b = req("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "text", "text": "Once upon "}, {"type": "text", "text": "a time"}]}], "max_tokens": 20, "temperature": 0})
check(st == 200 and json.loads(b)["choices"][0]["message"]["content"] == chat_want, "content parts: %s" % b)

def stream(path, body):
    body = dict(body, stream=True)
    r = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(r, timeout=60) as f:
        check(f.headers["Content-Type"].startswith("text/event-stream"), "stream content type")
        events = [l[6:] for l in f.read().decode("utf-8").split("\n") if l.startswith("data: ")]
    check(events and events[-1] == "[DONE]", "stream does not end with [DONE]: %r" % events[-3:])
    return [json.loads(e) for e in events[:-1]]

# streamed chat: the deltas concatenate to the same text, then a finish_reason, then usage
ch = stream("/v1/chat/completions", {"messages": msgs, "max_tokens": 20, "temperature": 0, "stream_options": {"include_usage": True}})
check(all(c["object"] == "chat.completion.chunk" for c in ch), "chunk objects")
text = "".join(c["choices"][0]["delta"].get("content", "") for c in ch if c["choices"])
check(text == chat_want, "stream text %r != %r" % (text, chat_want))
check(ch[0]["choices"][0]["delta"].get("role") == "assistant", "first chunk has no role")
check([c["choices"][0]["finish_reason"] for c in ch if c["choices"]][-1] in ("stop", "length"), "no finish_reason chunk")
check("usage" in ch[-1] and ch[-1]["choices"] == [], "no usage chunk")

# /v1/completions == run -p --raw; streamed the same
st, _, b = req("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})
r = json.loads(b)
check(st == 200 and r["object"] == "text_completion" and r["choices"][0]["text"] == cmpl_want, "completion %r != %r" % (b, cmpl_want))
ch = stream("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})
check("".join(c["choices"][0]["text"] for c in ch) == cmpl_want, "streamed completion")

# max_tokens -> "length" and usage counts (5 prompt tokens: BOS + 4)
st, _, b = req("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 3, "temperature": 0})
r = json.loads(b)
check(st == 200 and r["choices"][0]["finish_reason"] == "length", "max_tokens finish: %s" % b)
check(r["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}, "usage: %s" % b)
st, _, b = req("/v1/chat/completions", {"messages": msgs, "max_completion_tokens": 2, "temperature": 0})
check(st == 200 and json.loads(b)["usage"]["completion_tokens"] == 2 and json.loads(b)["choices"][0]["finish_reason"] == "length", "max_completion_tokens: %s" % b)

# a stop string cuts the text (non-stream and stream), finish_reason "stop"
words = cmpl_want.split()
word = next(w for w in words[2:] if cmpl_want.index(w) > 3)
cut = cmpl_want[:cmpl_want.index(word)]
for s in (word, ["never-in-the-text", word]):
    st, _, b = req("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stop": s})
    r = json.loads(b)
    check(st == 200 and r["choices"][0]["text"] == cut and r["choices"][0]["finish_reason"] == "stop", "stop %r: %s (want %r)" % (s, b, cut))
ch = stream("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0, "stop": word})
check("".join(c["choices"][0]["text"] for c in ch) == cut, "streamed stop")

# sampling parameters are accepted; the same seed gives the same text
p = {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0.9, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "seed": 7}
a, b2 = json.loads(req("/v1/completions", p)[2]), json.loads(req("/v1/completions", p)[2])
check(a["choices"][0]["text"] == b2["choices"][0]["text"], "seeded sampling differs")

# concurrent requests wait for each other and all get their answer
res = []
def one(k):
    try:
        if k % 2:
            res.append("".join(c["choices"][0]["text"] for c in stream("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})))
        else:
            res.append(json.loads(req("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 24, "temperature": 0})[2])["choices"][0]["text"])
    except Exception as e:
        res.append(repr(e))
ts = [threading.Thread(target=one, args=(k,)) for k in range(4)]
for t in ts: t.start()
for t in ts: t.join(120)
check(res == [cmpl_want] * 4, "concurrent: %r" % res)

def err(st, b, code, what):
    check(st == code, "%s: status %d, want %d: %s" % (what, st, code, b))
    e = json.loads(b)["error"]
    check(isinstance(e["message"], str) and e["message"] and "type" in e, "%s: error shape %s" % (what, b))

st, _, b = req("/v1/chat/completions", raw=b'{"messages": [')
err(st, b, 400, "malformed JSON")
st, _, b = req("/v1/chat/completions", raw=b'\xff\x00garbage')
err(st, b, 400, "binary garbage")
st, _, b = req("/v1/chat/completions", {"model": "tiny"})
err(st, b, 400, "missing messages")
check(json.loads(b)["error"]["param"] == "messages", "missing messages param")
for bad in ({"messages": "hi"}, {"messages": []}, {"messages": [1]}, {"messages": msgs, "max_tokens": -1},
            {"messages": msgs, "temperature": "hot"}, {"messages": msgs, "stop": 3}, {"messages": msgs, "n": 2},
            {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, [1, 2]):
    st, _, b = req("/v1/chat/completions", bad)
    err(st, b, 400, "bad request %r" % (bad,))
st, _, b = req("/v1/completions", {"prompt": "Once upon a time " * 60})
err(st, b, 400, "prompt longer than the context")
check(json.loads(b)["error"]["code"] == "context_length_exceeded", "context error code")
st, _, b = req("/v1/nope")
err(st, b, 404, "unknown path")
st, _, b = req("/v1/chat/completions", method="GET")
err(st, b, 405, "GET on a POST endpoint")
st, _, b = req("/v1/models", {"x": 1})
err(st, b, 405, "POST on a GET endpoint")
# a body over the cap: 413 from the announced length, without sending it
c = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
c.putrequest("POST", "/v1/chat/completions"); c.putheader("Content-Type", "application/json")
c.putheader("Content-Length", str(9 << 20)); c.endheaders()
r = c.getresponse(); b = r.read().decode()
err(r.status, b, 413, "body too large")
c.close()
# and one sent chunked, without a length
c = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
def chunks():
    piece = b"[" + b"1," * (1 << 19)
    for _ in range(17): yield piece
    yield b"1]"
try:
    c.request("POST", "/v1/completions", body=chunks(), headers={"Content-Type": "application/json"}, encode_chunked=True)
    r = c.getresponse(); b = r.read().decode()
    err(r.status, b, 413, "chunked body too large")
except (BrokenPipeError, ConnectionResetError):
    pass   # the server may close the connection early; it must still be serving
c.close()
check(req("/health")[0] == 200, "still serving after the errors")
print("http ok")
PY

grep -Eq '\(([1-9][0-9]*) reused\)' "$T/serr" || fail "no KV-cache prefix reuse between requests"
kill -TERM "$PID"
i=0
while kill -0 "$PID" 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done   # at most 20 s
kill -0 "$PID" 2>/dev/null && fail "server still running 20 s after SIGTERM"
wait "$PID"; rc=$?
PID=""
[ "$rc" -eq 0 ] || fail "server exit status $rc"
grep -q "shutting down" "$T/serr" || fail "no shutdown message"
echo ok
