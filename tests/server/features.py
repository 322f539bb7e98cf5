"""HTTP checks of tests/server/features.sh (argv[1]: the server's base URL)."""
import json, sys, threading, urllib.error, urllib.request

BASE = sys.argv[1]


def req(path, body=None, method=None, headers=None, raw=False):
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    r = urllib.request.Request(BASE + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=120) as f:
            b = f.read().decode("utf-8")
            return f.status, f.headers, b if raw else json.loads(b)
    except urllib.error.HTTPError as e:
        b = e.read().decode("utf-8")
        return e.code, e.headers, b if raw else json.loads(b)


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def chat(content, **kw):
    body = {"model": "tiny", "messages": [{"role": "user", "content": content}], "temperature": 0}
    body.update(kw)
    st, _, r = req("/v1/chat/completions", body)
    check(st == 200, "chat %r: %d %s" % (kw, st, r))
    return r


def stream(path, body):
    """The parsed chunks of a streamed request."""
    r = urllib.request.Request(BASE + path, data=json.dumps(dict(body, stream=True)).encode(),
                               headers={"Content-Type": "application/json"})
    out = []
    with urllib.request.urlopen(r, timeout=120) as f:
        for ev in f.read().decode("utf-8").split("\n\n"):
            if ev.startswith("data: ") and ev != "data: [DONE]":
                out.append(json.loads(ev[6:]))
    return out


# ---- batch invariance: each prompt alone == all four at once (greedy) ----
prompts = ["Once upon a time", "The little dog", "Lily and Tom went", "One day, a big"]
alone = [req("/v1/completions", {"prompt": p, "max_tokens": 40, "temperature": 0})[2]["choices"][0]["text"] for p in prompts]
for rnd in range(2):
    together = [None] * 4

    def one(i):
        together[i] = req("/v1/completions", {"prompt": prompts[i], "max_tokens": 40, "temperature": 0})[2]["choices"][0]["text"]
    th = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in th: t.start()
    for t in th: t.join()
    check(together == alone, "batched != alone:\n%r\n%r" % (together, alone))
print("batch invariance ok")

# ---- n ----
r = chat("Tell me a story", n=3, temperature=1.0, seed=7, max_tokens=12)
check([c["index"] for c in r["choices"]] == [0, 1, 2], "n=3 indices %s" % r["choices"])
check(r["usage"]["completion_tokens"] <= 36 and r["usage"]["completion_tokens"] >= 3, "n=3 usage %s" % r["usage"])
r2 = chat("Tell me a story", n=3, temperature=1.0, seed=7, max_tokens=12)
check([c["message"]["content"] for c in r["choices"]] == [c["message"]["content"] for c in r2["choices"]], "n=3 with a seed repeats")
check(len(set(c["message"]["content"] for c in r["choices"])) > 1, "n=3 at temperature 1 gives different choices")
chunks = stream("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], "n": 2, "max_tokens": 6})
check(sorted(set(c["choices"][0]["index"] for c in chunks if c["choices"])) == [0, 1], "streamed n=2 indices")
check(sum(1 for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]) == 2, "streamed n=2: one finish per choice")
print("n ok")

# ---- logprobs ----
r = chat("Once upon a time", logprobs=True, top_logprobs=3, max_tokens=10)
c = r["choices"][0]
lp = c["logprobs"]["content"]
check(len(lp) == r["usage"]["completion_tokens"], "one logprob entry per token: %d vs %s" % (len(lp), r["usage"]))
for e in lp:
    check(e["logprob"] <= 1e-6 and len(e["top_logprobs"]) == 3, "entry %s" % e)
    tops = [t["logprob"] for t in e["top_logprobs"]]
    check(tops == sorted(tops, reverse=True), "top_logprobs sorted")
    check(e["top_logprobs"][0]["token"] == e["token"] and abs(tops[0] - e["logprob"]) < 1e-5, "greedy picks the top token")
    check(bytes(e["bytes"]).decode("utf-8", "replace") == e["token"], "bytes = token")
check(c["logprobs"] is not None and chat("Once upon a time", max_tokens=3)["choices"][0]["logprobs"] is None, "logprobs null unless asked")
st, _, r = req("/v1/completions", {"prompt": "Once upon a time", "max_tokens": 6, "temperature": 0, "logprobs": 2})
l = r["choices"][0]["logprobs"]
check(st == 200 and len(l["tokens"]) == len(l["token_logprobs"]) == len(l["top_logprobs"]) == r["usage"]["completion_tokens"], "completion logprobs %s" % l)
check(all(len(t) <= 2 for t in l["top_logprobs"]), "completion top_logprobs size")
sl = [c["choices"][0]["logprobs"]["content"] for c in stream("/v1/chat/completions",
      {"model": "tiny", "messages": [{"role": "user", "content": "Once upon a time"}], "temperature": 0, "max_tokens": 10, "logprobs": True})
      if c["choices"] and c["choices"][0].get("logprobs")]
check([e["token"] for x in sl for e in x] == [e["token"] for e in lp], "streamed logprobs = non-streamed")
check(req("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 3})[0] == 400, "top_logprobs without logprobs")
print("logprobs ok")

# ---- logit_bias (on completions: the generated ids are tokenize(prompt + text) past the prompt's) ----
P = "Once upon a time"
def gen_ids(text):
    a = req("/tokenize", {"content": P})[2]["tokens"]
    b = req("/tokenize", {"content": P + text})[2]["tokens"]
    check(b[:len(a)] == a, "prompt ids are a prefix")
    return b[len(a):]
def cmpl(**kw):
    body = {"prompt": P, "max_tokens": 8, "temperature": 0}
    body.update(kw)
    st, _, r = req("/v1/completions", body)
    check(st == 200, "completion %s: %s" % (kw, r))
    return r["choices"][0]["text"]
base = cmpl()
first = gen_ids(base)[0]
banned = cmpl(logit_bias={str(first): -100})
check(gen_ids(banned)[0] != first, "logit_bias -100 bans the greedy first token: %r vs %r" % (banned, base))
dog = req("/tokenize", {"content": "dog"})[2]["tokens"][-1]
forced = cmpl(max_tokens=5, logit_bias={str(dog): 100})
check(gen_ids(forced) == [dog] * 5, "logit_bias +100 forces a token: %r" % forced)
check(req("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"abc": 1}})[0] == 400, "bad logit_bias")
print("logit_bias ok")

# ---- penalties ----
def max_repeat(text):
    ids = req("/tokenize", {"content": text})[2]["tokens"]
    return max(ids.count(i) for i in set(ids)) if ids else 0
plain = chat("Once upon a time", max_tokens=60)["choices"][0]["message"]["content"]
freq = chat("Once upon a time", max_tokens=60, frequency_penalty=2.0)["choices"][0]["message"]["content"]
pres = chat("Once upon a time", max_tokens=60, presence_penalty=2.0)["choices"][0]["message"]["content"]
check(freq != plain and pres != plain, "penalties change the text")
check(max_repeat(freq) <= max_repeat(plain) and max_repeat(pres) <= max_repeat(plain), "penalties do not add repetition")
check(req("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "presence_penalty": 3})[0] == 400, "penalty range")
print("penalties ok")

# ---- response_format ----
CLOSERS = {}
for ch in ('"', "}", "]"):
    for ctx in ("", "x"):
        CLOSERS[str(req("/tokenize", {"content": ctx + ch})[2]["tokens"][-1])] = 4.0


def constrained(rf, ok, what):
    """Every answer that ends ("stop") parses and fits; a tiny model may ramble inside a string
    until max_tokens ("length") (a logit_bias towards closing quotes and brackets makes that
    rarer), but at least one of the tries must end."""
    ended = 0
    for temp, seed in ((0, 0), (1.0, 3), (1.0, 5), (0.7, 11)):
        r = chat("Once upon a time", max_tokens=400, temperature=temp, seed=seed, response_format=rf, logit_bias=CLOSERS)
        txt, fin = r["choices"][0]["message"]["content"], r["choices"][0]["finish_reason"]
        if fin != "stop":
            check(fin == "length", "%s: finish %s" % (what, fin))
            continue
        try:
            v = json.loads(txt)
        except ValueError:
            check(False, "%s at %s: not JSON: %r" % (what, temp, txt))
        try:
            good, why = ok(v), ""
        except Exception as e:         # a jsonschema.ValidationError, or a predicate's KeyError
            good, why = False, str(e)
        check(good, "%s: %r %s" % (what, txt, why))
        ended += 1
    check(ended > 0, "%s: no answer ended" % what)
constrained({"type": "json_object"}, lambda v: isinstance(v, dict), "json_object")
try:                                   # python3-jsonschema (scripts/deps.sh) validates every answer
    import jsonschema
except ImportError:
    jsonschema = None
    print("note: no python3-jsonschema: answers checked by the hand-written predicates only")
TREE = {"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer", "minimum": 0, "maximum": 99},
                                                            "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}},
                           "required": ["v", "kids"], "additionalProperties": False}}, "$ref": "#/$defs/node"}
schemas = [
    ({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]},
     lambda v: set(v) == {"name", "age"} and isinstance(v["name"], str) and isinstance(v["age"], int) and not isinstance(v["age"], bool)),
    ({"type": "object", "properties": {"color": {"enum": ["red", "green", "blue"]}, "ok": {"type": "boolean"}, "none": {"type": "null"}},
      "required": ["color", "ok", "none"]},
     lambda v: v["color"] in ("red", "green", "blue") and isinstance(v["ok"], bool) and v["none"] is None and len(v) == 3),
    ({"type": "object", "properties": {"score": {"type": "number"}, "tags": {"type": "array", "items": {"type": "string"}},
                                       "pos": {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}},
      "required": ["score", "tags", "pos"]},
     lambda v: isinstance(v["score"], (int, float)) and all(isinstance(t, str) for t in v["tags"]) and set(v["pos"]) == {"x", "y"}),
    ({"type": "object", "properties": {"items": {"type": "array", "items": {"enum": [1, 2, 3]}}, "const": {"const": "yes"}}, "required": ["items", "const"]},
     lambda v: all(i in (1, 2, 3) for i in v["items"]) and v["const"] == "yes"),
    # optional properties, additionalProperties, lengths, counts, ranges, any-type enum / const
    ({"type": "object", "properties": {"id": {"type": "integer", "minimum": 1, "maximum": 500}, "nick": {"type": "string", "minLength": 2, "maxLength": 6},
                                       "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                       "mode": {"enum": [1, "two", None, [3], {"four": 4}]}, "fixed": {"const": {"k": [True, None]}}},
      "required": ["id", "nick", "mode"], "additionalProperties": False},
     lambda v: 1 <= v["id"] <= 500 and 2 <= len(v["nick"]) <= 6 and set(v) <= {"id", "nick", "ratio", "mode", "fixed"}),
    ({"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 1, "maxProperties": 3},
     lambda v: 1 <= len(v) <= 3 and all(isinstance(x, int) for x in v.values())),
    ({"type": "array", "items": {"type": "string", "maxLength": 4}, "minItems": 2, "maxItems": 3},
     lambda v: 2 <= len(v) <= 3 and all(isinstance(x, str) and len(x) <= 4 for x in v)),
    # alternatives: anyOf / oneOf with a discriminating const, type arrays, nullable
    ({"type": "object", "properties": {"shape": {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0}}, "required": ["kind", "r"]},
        {"type": "object", "properties": {"kind": {"const": "rect"}, "w": {"type": "integer"}, "h": {"type": "integer"}}, "required": ["kind", "w", "h"]}]},
        "note": {"type": ["string", "null"]}, "n": {"anyOf": [{"type": "integer", "minimum": 10}, {"type": "boolean"}]}},
      "required": ["shape", "note", "n"]},
     lambda v: v["shape"]["kind"] in ("circle", "rect") and (v["note"] is None or isinstance(v["note"], str))),
    # $ref / $defs, recursive
    (TREE, lambda v: isinstance(v["v"], int) and isinstance(v["kids"], list)),
]
for sch, ok in schemas:
    def fits(v, sch=sch, ok=ok):
        if jsonschema: jsonschema.validate(v, sch)
        return ok(v)
    constrained({"type": "json_schema", "json_schema": {"name": "x", "schema": sch}}, fits, "json_schema %s" % json.dumps(sch))
for bad in ({"type": "wat"}, {"type": "string", "pattern": "^a"}, {"$ref": "#/$defs/nowhere"}):
    st, _, r = req("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}],
                                            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": bad}}})
    check(st == 400 and r["error"]["param"] == "response_format", "bad schema %s: %s" % (bad, r))
print("response_format ok")

# ---- tools: a schema forcing a Llama 3.1 style call ----
tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
call_schema = {"type": "object", "properties": {"name": {"enum": ["get_weather"]},
                                                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
               "required": ["name", "parameters"]}
body = {"model": "tiny", "messages": [{"role": "user", "content": "Weather in Paris?"}], "temperature": 0, "max_tokens": 400,
        "logit_bias": CLOSERS,
        "tools": tools, "response_format": {"type": "json_schema", "json_schema": {"name": "call", "schema": call_schema}}}
st, _, r = req("/v1/chat/completions", body)
c = r["choices"][0]
check(st == 200 and c["finish_reason"] == "tool_calls" and c["message"]["content"] is None, "tool call response %s" % r)
tc = c["message"]["tool_calls"]
check(len(tc) == 1 and tc[0]["type"] == "function" and tc[0]["function"]["name"] == "get_weather" and tc[0]["id"], "tool_calls %s" % tc)
check(set(json.loads(tc[0]["function"]["arguments"])) == {"city"}, "arguments %s" % tc)
chunks = stream("/v1/chat/completions", body)
deltas = [ch["choices"][0]["delta"] for ch in chunks if ch["choices"]]
check(not any(d.get("content") for d in deltas), "no content deltas for a tool call: %s" % deltas)
stc = [t for d in deltas for t in d.get("tool_calls", [])]
check(len(stc) == 1 and stc[0]["index"] == 0 and stc[0]["function"]["name"] == "get_weather" and stc[0]["function"]["arguments"] == tc[0]["function"]["arguments"],
      "streamed tool_calls %s" % stc)
check([ch["choices"][0]["finish_reason"] for ch in chunks if ch["choices"] and ch["choices"][0]["finish_reason"]] == ["tool_calls"], "streamed finish")
r = chat("Once upon a time", max_tokens=10, tools=tools)
check(r["choices"][0]["finish_reason"] in ("stop", "length") and r["choices"][0]["message"]["content"], "tools given, plain answer")

# ---- tool_choice forcing a call: named, or "required" (any of the tools) ----
TOOLS2 = tools + [{"type": "function", "function": {"name": "add", "parameters": {
    "type": "object", "properties": {"a": {"type": "integer", "minimum": 0, "maximum": 9}, "b": {"type": "integer", "minimum": 0, "maximum": 9},
                                     "unit": {"$ref": "#/$defs/unit"}},
    "required": ["a", "b"], "$defs": {"unit": {"enum": ["m", "s"]}}}}}]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS2}


def forced(tc, names, **kw):
    ended = 0
    for temp, seed in ((0, 0), (1.0, 3), (1.0, 5)):
        r = chat("Once upon a time", max_tokens=300, temperature=temp, seed=seed, tools=TOOLS2, tool_choice=tc, logit_bias=CLOSERS, **kw)
        c = r["choices"][0]
        if c["finish_reason"] == "length": continue
        check(c["finish_reason"] == "tool_calls" and c["message"]["content"] is None, "forced %s: %s" % (tc, r))
        call = c["message"]["tool_calls"]
        check(len(call) == 1 and call[0]["function"]["name"] in names, "forced %s: calls %s" % (tc, call))
        args = json.loads(call[0]["function"]["arguments"])
        if jsonschema: jsonschema.validate(args, PARAMS[call[0]["function"]["name"]])
        ended += 1
    check(ended > 0, "forced %s: no answer ended" % tc)
    return r
forced({"type": "function", "function": {"name": "add"}}, {"add"})
forced({"type": "function", "function": {"name": "get_weather"}}, {"get_weather"})
forced("required", {"add", "get_weather"})
body = {"messages": [{"role": "user", "content": "x"}], "tools": TOOLS2, "max_tokens": 100, "logit_bias": CLOSERS,
        "tool_choice": {"type": "function", "function": {"name": "add"}}}
chunks = stream("/v1/chat/completions", body)
stc = [t for ch in chunks if ch["choices"] for t in ch["choices"][0]["delta"].get("tool_calls", [])]
fins = [ch["choices"][0]["finish_reason"] for ch in chunks if ch["choices"] and ch["choices"][0]["finish_reason"]]
check(fins == ["length"] or (len(stc) == 1 and stc[0]["function"]["name"] == "add" and fins == ["tool_calls"]), "streamed forced call %s" % chunks[-3:])
for bad in ({"type": "function", "function": {"name": "nope"}}, "sometimes", {"type": "function"}):
    st, _, r = req("/v1/chat/completions", dict(body, tool_choice=bad))
    check(st == 400 and r["error"]["param"] == "tool_choice", "bad tool_choice %s: %s" % (bad, r))
st, _, r = req("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})
check(st == 400 and r["error"]["param"] == "tool_choice", "required without tools: %s" % r)
print("tools ok")

# ---- tokenize / detokenize, models, metrics, page ----
st, _, t = req("/tokenize", {"content": "Once upon a time"})
st2, _, d = req("/detokenize", {"tokens": t["tokens"]})
check(st == 200 and st2 == 200 and d["content"].strip() == "Once upon a time", "detokenize %s" % d)
check(req("/detokenize", {"tokens": [10 ** 9]})[0] == 400, "detokenize of a bad id")
st, _, m = req("/v1/models")
check(m["data"][0]["context_length"] == 512 and m["data"][0]["family"] == "llama", "models %s" % m)
st, h, txt = req("/metrics", raw=True)
check(st == 200 and h["Content-Type"].startswith("text/plain"), "metrics content type")
vals = {}
for line in txt.splitlines():
    if line and not line.startswith("#"):
        k, v = line.rsplit(" ", 1)
        vals[k] = float(v)
check(vals["rabbitllm_read_bytes_total"] > 0 and "rabbitllm_disk_read_bytes_total" in vals, "io metrics")
check(vals["rabbitllm_slots"] == 4 and vals["rabbitllm_generated_tokens_total"] > 100 and vals['rabbitllm_requests_total{endpoint="chat"}'] > 10,
      "metrics %s" % vals)
st, h, page = req("/", raw=True)
check(st == 200 and h["Content-Type"].startswith("text/html") and "/v1/chat/completions" in page and "<script>" in page, "page")
st, _, hl = req("/health")
check(st == 200 and hl["status"] == "ok" and hl["slots_idle"] == 4, "health %s" % hl)
print("endpoints ok")
