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


def basics():
    check(rabbitllm.version().count(".") == 2, "version")
    m = rabbitllm.Model(MODEL, threads=1, ctx=256)
    check(m.vocab_size == 512 and m.context_length == 256 and not m.has_chat_template, "properties")
    ids = m.tokenize("Once upon a time")
    check(ids[0] == 1 and m.tokenize("Once upon a time", add_special_tokens=False) == ids[1:], "tokenize %s" % ids)
    check(m.detokenize(ids) == "Once upon a time", "detokenize")
    check("<s>" in m.detokenize(ids, skip_special_tokens=False), "special tokens kept")
    a = m.generate("Once upon a time", max_tokens=24)
    pieces = list(m.stream("Once upon a time", max_tokens=24))
    check(len(pieces) > 1 and "".join(pieces) == a, "stream pieces concatenate to generate")
    check(m.last_info["reused_tokens"] == len(ids) - 1, "prefix reused: %s" % m.last_info)
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
    # errors raise with the library's message
    for bad, frag in ((lambda: rabbitllm.Model("/nonexistent/model"), "/nonexistent/model"),
                      (lambda: m.chat([{"role": "user", "content": "hi"}]), "chat template"),
                      (lambda: m.detokenize([1, 99999]), "99999"),
                      (lambda: m.eval([100000]), "")):
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


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--golden":
        golden(sys.argv[2])
    else:
        basics()
    print("ok")
