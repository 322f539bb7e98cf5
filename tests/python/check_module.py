"""Checks of the Python module (python/rabbitllm) on the bundled models/stories260K, run by
tests/python/*.sh with RABBITLLM_LIB set. With --golden FILE: greedy text equals the text golden
(../shared/fixtures/stories260K/text_golden.json)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import rabbitllm  # noqa: E402

MODEL = "models/stories260K"


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def golden(path):
    import json
    g = json.load(open(path, encoding="utf-8"))
    with rabbitllm.Model(MODEL) as m:
        check(m.tokenize(g["prompt_text"]) == g["prompt_ids"], "prompt ids %s" % m.tokenize(g["prompt_text"]))
        text = m.generate(g["prompt_text"], max_tokens=g["max_new_tokens"], temperature=0)
        check(g["prompt_text"] + text == g["expected_text"], "greedy text differs: %r" % text)
        streamed = "".join(m.stream(g["prompt_text"], max_tokens=g["max_new_tokens"]))
        check(g["prompt_text"] + streamed == g["expected_text"], "streamed text differs: %r" % streamed)
        check(m.last_info["generated_tokens"] == g["max_new_tokens"] and m.last_info["finish"] == "length", str(m.last_info))
        check(m.last_info["reasoning"] == "", "no reasoning apart from the answer: %r" % m.last_info["reasoning"])


def layout(path):
    """The ctypes mirrors match the C structs field by field."""
    mine = rabbitllm._struct_layout()
    seen = set()
    for line in open(path):
        name, size, *fields = line.split()
        seen.add(name)
        py_size, py_fields = mine[name]
        check(int(size) == py_size, "%s: sizeof %s in C, %d in Python" % (name, size, py_size))
        c_fields = dict(f.split("=") for f in fields)
        check(set(c_fields) == set(py_fields), "%s fields: C %s, Python %s" % (name, sorted(c_fields), sorted(py_fields)))
        for f, off in c_fields.items():
            check(int(off) == py_fields[f], "%s.%s at %s in C, %d in Python" % (name, f, off, py_fields[f]))
    check(seen == set(mine), "structs checked: %s" % sorted(seen))


def basics():
    if os.environ.get("RL_C_LAYOUT"):
        layout(os.environ["RL_C_LAYOUT"])
    check(rabbitllm.version().count(".") == 2, "version")
    m = rabbitllm.Model(MODEL, threads=1, ctx=256, mem_budget=0, backend="cpu")
    check(m.vocab_size == 512 and m.context_length == 256 and not m.has_chat_template, "properties")
    ids = m.tokenize("Once upon a time")
    check(ids[0] == 1 and m.tokenize("Once upon a time", add_special_tokens=False) == ids[1:], "tokenize %s" % ids)
    check(m.detokenize(ids) == "Once upon a time", "detokenize")
    check("<s>" in m.detokenize(ids, skip_special_tokens=False), "special tokens kept")
    a = m.generate("Once upon a time", max_tokens=24)
    pieces = list(m.stream("Once upon a time", max_tokens=24))
    check(len(pieces) > 1 and "".join(pieces) == a, "stream pieces concatenate to generate")
    check(m.last_info["reused_tokens"] == len(ids) - 1, "prefix reused: %s" % m.last_info)
    m2 = rabbitllm.Model(MODEL, threads=1, ctx=256, mem_budget=0, backend="cpu", expert_cache="off", moe_cpu_rows=-1)
    check(m2.generate("Once upon a time", max_tokens=24) == a, "MoE placement options (no MoE layers: same text)")
    m2.close()
    s1 = m.generate("Once upon a time", max_tokens=24, temperature=0.9, top_k=40, top_p=0.9, seed=5)
    s2 = m.generate("Once upon a time", max_tokens=24, temperature=0.9, top_k=40, top_p=0.9, seed=5)
    check(s1 == s2, "same seed, same text")
    word = a[12:17]
    cut = m.generate("Once upon a time", max_tokens=24, stop=[word])
    check(cut == a[:a.index(word)] and m.last_info["finish"] == "stop", "stop string: %r" % cut)
    g = m.stream("Once upon a time", max_tokens=200)
    next(g)
    g.close()
    check(m.last_info["finish"] == "cancelled", "leaving a stream cancels it: %s" % m.last_info)
    # eval: the logits' argmax is the greedy token
    logits = m.eval(ids)
    check(len(logits) == 512, "eval row")
    best = max(range(512), key=lambda i: float(logits[i]))
    check(m.tokenize("Once upon a time" + a, add_special_tokens=True)[len(ids)] == best, "eval argmax = greedy token")
    rows = m.eval(ids, all_rows=True)
    check(len(rows) == len(ids) and len(rows[0]) == 512, "eval all rows")
    check(m.generate("Once upon a time", max_tokens=24) == a, "generate after eval")
    # speculative decoding with a draft model (the model itself): the same text, fewer sweeps
    with rabbitllm.Model(MODEL, threads=1, ctx=256, mem_budget=0, backend="cpu", draft_model=MODEL, draft_tokens=16,
                         draft_backend="cpu") as d:
        check(d.generate("Once upon a time", max_tokens=24) == a, "draft model: same greedy text")
        i = d.last_info
        check(i["sweeps"] > 0 and i["accepted"] >= 0 and i["target_compute_s"] > 0, "draft model info: %s" % i)
    # errors raise with the library's message
    for bad, frag in ((lambda: rabbitllm.Model("/nonexistent/model"), "/nonexistent/model"),
                      (lambda: m.chat([{"role": "user", "content": "hi"}]), "chat template"),
                      (lambda: m.detokenize([1, 99999]), "99999"),
                      (lambda: m.eval([100000]), ""),
                      (lambda: rabbitllm.Model(MODEL, backend="no-such-backend"), "no-such-backend")):
        try:
            bad()
        except rabbitllm.Error as e:
            check(frag in str(e) and str(e), "error message %r lacks %r" % (str(e), frag))
        else:
            check(False, "no exception for a bad call (%s)" % frag)
    m.close()
    try:
        m.generate("x")
    except rabbitllm.Error:
        pass
    else:
        check(False, "closed model usable")


def chat():
    """A copy of stories260K with a small chat template: chat, streamed chat, tools passed through."""
    import shutil
    import tempfile
    d = tempfile.mkdtemp()
    try:
        for f in os.listdir(MODEL):
            if f.endswith(".json") or f.endswith(".safetensors"):
                shutil.copy(os.path.join(MODEL, f), d)
        with open(os.path.join(d, "chat_template.jinja"), "w") as f:
            f.write("{% if tools %}tools: {{ tools | length }}\n{% endif %}{% for m in messages %}{{ m.role }}: "
                    "{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}")
        with rabbitllm.Model(d) as m:
            check(m.has_chat_template, "template found")
            msgs = [{"role": "user", "content": "Once upon a time"}]
            check(m.apply_chat_template(msgs) == "user: Once upon a time\nassistant:", "rendered")
            check(m.apply_chat_template(msgs, tools=[{"a": 1}]).startswith("tools: 1\n"), "tools passed to the template")
            a = m.chat(msgs, max_tokens=16)
            n = len(m.tokenize("user: Once upon a time\nassistant:", add_special_tokens=False))
            check(m.last_info["prompt_tokens"] == n, "chat prompt = template rendered: %s vs %d" % (m.last_info, n))
            check("".join(m.chat(msgs, max_tokens=16, stream=True)) == a, "streamed chat equals chat")
            m.chat(msgs, max_tokens=4, tools=[{"a": 1}])
            check(m.last_info["prompt_tokens"] > n, "tools reach the prompt")
    finally:
        shutil.rmtree(d)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--golden":
        golden(sys.argv[2])
    else:
        basics()
        chat()
    print("ok")
