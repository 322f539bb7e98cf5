#!/usr/bin/env python3
"""Benchmark (not a test) of `rabbitllm serve`, optionally side by side with llama.cpp's
llama-server on the same weights: aggregate generated tokens/s with 1, 4 and 16 concurrent
streaming clients (one request each: a short prompt, M tokens at temperature 0, end-of-sequence
ignored), after one unmeasured warm-up request, TTFT p50/p99 at the largest client count. Each measurement starts its server afresh
with N slots (rabbitllm --parallel N, llama-server -np N -c N*CTX) and the same threads; servers
and client counts are interleaved over ROUNDS so machine noise hits them alike; medians are
printed. Loopback only.

usage: python3 scripts/bench_serve.py MODEL_DIR M ROUNDS [options] [-- extra serve flags]
  --llama-server BIN   also run BIN (a llama-server build) on MODEL_DIR's weights as GGUF: made
                       once with build/st2gguf (`make bench`) plus the tokenizer's vocabulary
  --tokenizer DIR      tokenizer.json (+ tokenizer_config.json) for a checkpoint without one,
                       e.g. ../shared/tokenizers/qwen3 for the synthetic Qwen2.5 checkpoints
  --threads T          compute threads of both servers (default 2)
  --clients LIST       client counts (default 1,4,16)
  --llama-type T       GGUF type for llama-server: bf16 (st2gguf's, default), f16, q8_0, q4_0 (made
                       with the llama-quantize beside BIN; compare with `-- --quant 8` etc.)
  --ctx N              context per sequence (default 256)
  --work DIR           model copy with the tokenizer and the GGUF (default /tmp/rl-bench-serve)
Examples:
  resident 0.5B vs llama-server (item 8a):
    python3 scripts/bench_serve.py /work/synth/lead-q05 64 3 --tokenizer ../shared/tokenizers/qwen3 \\
        --llama-server /work/peer/llama.cpp/build/bin/llama-server
  streamed 3B (item 8b):  python3 scripts/bench_serve.py DIR 32 1 --tokenizer ... -- --mem-budget 0
"""
import http.client, json, os, re, shutil, socket, struct, subprocess, sys, threading, time

args = sys.argv[1:]
extra = []
if "--" in args:
    extra = args[args.index("--") + 1:]
    args = args[:args.index("--")]
if len(args) < 3:
    sys.exit(__doc__)
model, M, rounds = args[0], int(args[1]), int(args[2])
opt = {"--llama-server": None, "--llama-type": "bf16", "--tokenizer": None, "--threads": "2", "--clients": "1,4,16", "--ctx": "256",
       "--work": "/tmp/rl-bench-serve"}
i = 3
while i < len(args):
    if args[i] not in opt or i + 1 >= len(args):
        sys.exit("unknown option or missing value: %s\n%s" % (args[i], __doc__))
    opt[args[i]] = args[i + 1]
    i += 2
clients = [int(x) for x in opt["--clients"].split(",")]
threads, ctx, work = opt["--threads"], int(opt["--ctx"]), opt["--work"]
RL_BIN = os.environ.get("RL_BIN", "build/rabbitllm")
ST2GGUF = os.environ.get("ST2GGUF", "build/st2gguf")
os.makedirs(work, exist_ok=True)

# ---- the model: a copy with a tokenizer (links to the weights) ----
rl_dir = model
if opt["--tokenizer"]:
    rl_dir = os.path.join(work, "model")
    os.makedirs(rl_dir, exist_ok=True)
    for f in os.listdir(model):
        dst = os.path.join(rl_dir, f)
        if not os.path.exists(dst): os.symlink(os.path.abspath(os.path.join(model, f)), dst)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        src = os.path.join(opt["--tokenizer"], f)
        if os.path.exists(src): shutil.copyfile(src, os.path.join(rl_dir, f))


# ---- the GGUF for llama-server: st2gguf's file (vocabulary "none") plus the BPE vocabulary ----
def gguf_with_vocab(src, dst, tok_dir, n_vocab):
    """Copies GGUF src to dst with tokenizer.ggml.* from tok_dir/tokenizer.json (a byte-level BPE
    such as Qwen's: tokens padded to n_vocab with [PADi], token types, merges)."""
    tj = json.load(open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8"))
    vocab = {i: t for t, i in tj["model"]["vocab"].items()}
    ttype = {}
    for a in tj.get("added_tokens", []):
        vocab[a["id"]] = a["content"]
        ttype[a["id"]] = 3 if a.get("special") else 4
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    eos = next((a["id"] for a in tj.get("added_tokens", []) if a["content"] in ("<|endoftext|>", "</s>", "<|end_of_text|>")), 0)
    fi = open(src, "rb")
    rd = lambda n: fi.read(n)
    u32 = lambda: struct.unpack("<I", rd(4))[0]
    u64 = lambda: struct.unpack("<Q", rd(8))[0]
    s = lambda: rd(u64())
    assert rd(4) == b"GGUF" and u32() == 3
    n_t, n_kv = u64(), u64()
    kvs = []
    for _ in range(n_kv):                # st2gguf writes u32, f32 and string values only
        k = s(); t = u32()
        if t in (4, 6): v = rd(4)
        elif t == 8: b = s(); v = struct.pack("<Q", len(b)) + b
        else: sys.exit("%s: unexpected GGUF value type %d (not a build/st2gguf file?)" % (src, t))
        if not k.startswith(b"tokenizer."): kvs.append((k, t, v))
    infos = bytearray()
    for _ in range(n_t):
        name = s(); nd = u32(); dims = rd(8 * nd); rest = rd(12)
        infos += struct.pack("<Q", len(name)) + name + struct.pack("<I", nd) + dims + rest
    pos = fi.tell()
    fi.seek((pos + 31) // 32 * 32)       # the data section (alignment 32)
    enc = lambda b: struct.pack("<Q", len(b)) + b
    kv = lambda k, t, v: enc(k.encode()) + struct.pack("<I", t) + v
    arr_s = lambda items: struct.pack("<IQ", 8, len(items)) + b"".join(enc(x.encode("utf-8")) for x in items)
    toks = [vocab.get(i, "[PAD%d]" % i) for i in range(n_vocab)]
    types = [ttype.get(i, 1 if i in vocab else 5) for i in range(n_vocab)]
    new = [kv("tokenizer.ggml.model", 8, enc(b"gpt2")), kv("tokenizer.ggml.pre", 8, enc(b"qwen2")),
           kv("tokenizer.ggml.tokens", 9, arr_s(toks)),
           kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, n_vocab) + struct.pack("<%di" % n_vocab, *types)),
           kv("tokenizer.ggml.merges", 9, arr_s(merges)),
           kv("tokenizer.ggml.eos_token_id", 4, struct.pack("<I", eos)),
           kv("tokenizer.ggml.add_bos_token", 7, b"\0")]
    with open(dst + ".tmp", "wb") as fo:
        fo.write(b"GGUF" + struct.pack("<IQQ", 3, n_t, len(kvs) + len(new)))
        for k, t, v in kvs: fo.write(enc(k) + struct.pack("<I", t) + v)
        for x in new: fo.write(x)
        fo.write(infos)
        fo.write(b"\0" * ((-fo.tell()) % 32))
        shutil.copyfileobj(fi, fo, 1 << 24)
    os.replace(dst + ".tmp", dst)


gguf = None
if opt["--llama-server"]:
    if not opt["--tokenizer"] and not os.path.exists(os.path.join(model, "tokenizer.json")):
        sys.exit("--llama-server needs a tokenizer (--tokenizer DIR)")
    gguf = os.path.join(work, "model-vocab.gguf")
    if not os.path.exists(gguf):
        raw = os.path.join(work, "model.gguf")
        subprocess.run([ST2GGUF, model, raw], check=True)
        n_vocab = json.load(open(os.path.join(model, "config.json")))["vocab_size"]
        gguf_with_vocab(raw, gguf, opt["--tokenizer"] or model, n_vocab)
        os.remove(raw)
    if opt["--llama-type"] != "bf16":
        q = os.path.join(work, "model-vocab-%s.gguf" % opt["--llama-type"])
        if not os.path.exists(q):
            lq = os.path.join(os.path.dirname(opt["--llama-server"]), "llama-quantize")
            subprocess.run([lq, gguf, q, opt["--llama-type"].upper(), threads], check=True, stdout=subprocess.DEVNULL)
        gguf = q


# ---- servers ----
def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def start(kind, n):
    """(process, port) of a server with n slots, ready."""
    if kind == "rabbitllm":
        p = subprocess.Popen([RL_BIN, "serve", rl_dir, "--host", "127.0.0.1", "--port", "0", "--parallel", str(n),
                              "--queue", "100", "--ctx", str(ctx), "--threads", threads, "--ignore-eos"] + extra,
                             stderr=subprocess.PIPE, text=True)
        port = None
        for line in p.stderr:
            m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if m: port = int(m.group(1)); break
        if port is None: sys.exit("rabbitllm serve did not start")
        threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
        return p, port
    port = free_port()
    p = subprocess.Popen([opt["--llama-server"], "-m", gguf, "--host", "127.0.0.1", "--port", str(port), "-np", str(n),
                          "-c", str(ctx * n), "-t", threads, "-tb", threads, "--no-webui"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(1200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/health")
            if c.getresponse().status == 200: return p, port
        except OSError:
            pass
        if p.poll() is not None: sys.exit("llama-server exited at start")
        time.sleep(0.1)
    sys.exit("llama-server did not start")


def run(kind, port, n, m=None):
    """Aggregate tokens/s of n concurrent streaming clients (m tokens each, default M) and their TTFTs."""
    m = m or M
    toks, ttft, prompt_toks, lock = [0], [], [], threading.Lock()

    def client(ci):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        t0 = time.time()
        text = "Client %d says hello and" % ci
        if kind == "rabbitllm":
            path, body = "/v1/completions", {"prompt": text, "max_tokens": m, "temperature": 0, "stream": True,
                                             "stream_options": {"include_usage": True}}
        else:
            path, body = "/completion", {"prompt": text, "n_predict": m, "temperature": 0, "stream": True, "ignore_eos": True,
                                         "cache_prompt": False}
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        first, buf = None, b""
        while True:
            ch = r.read1(65536)
            if not ch: break
            buf += ch
            if first is None and re.search(rb'"(text|content)":"[^"]', buf): first = time.time() - t0
        gen = pt = 0
        for ev in buf.decode("utf-8", "replace").split("\n\n"):
            if not ev.startswith("data: {"): continue
            d = json.loads(ev[6:])
            if kind == "rabbitllm" and d.get("usage"): gen, pt = d["usage"]["completion_tokens"], d["usage"]["prompt_tokens"]
            if kind != "rabbitllm" and d.get("stop"): gen, pt = d.get("tokens_predicted", 0), d.get("tokens_evaluated", 0)
        with lock:
            toks[0] += gen; ttft.append(first or 0); prompt_toks.append(pt)
        c.close()
    t0 = time.time()
    th = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in th: t.start()
    for t in th: t.join()
    return toks[0] / (time.time() - t0), toks[0], ttft, prompt_toks


kinds = ["rabbitllm"] + (["llama-server"] if gguf else [])
res = {(k, n): [] for k in kinds for n in clients}
tt = {k: [] for k in kinds}
for rnd in range(rounds):
    for n in clients:
        for k in (kinds if rnd % 2 == 0 else kinds[::-1]):
            p, port = start(k, n)
            try:
                run(k, port, 1, 4)       # warm-up (first-request costs: page faults, lazy setup), not measured
                rate, ntok, t, pts = run(k, port, n)
            finally:
                p.terminate(); p.wait()
            if ntok != n * M: print("note: %s at %d clients generated %d tokens, not %d" % (k, n, ntok, n * M))
            res[(k, n)].append(rate)
            if n == clients[-1]: tt[k] += t
            print("round %d, %2d clients, %-12s %8.2f tok/s (prompt tokens %s)" % (rnd + 1, n, k, rate, sorted(set(pts))), flush=True)
med = lambda xs: sorted(xs)[len(xs) // 2]
print("\n%s, %s threads, %d tokens per request, medians of %d interleaved rounds (tokens/s, all clients together)" % (model, threads, M, rounds))
print("| clients | " + " | ".join(kinds) + (" | ratio |" if len(kinds) > 1 else " | x one client |"))
print("|---|" + "---|" * (len(kinds) + 1))
for n in clients:
    a = [med(res[(k, n)]) for k in kinds]
    last = a[0] / a[1] if len(kinds) > 1 else a[0] / med(res[("rabbitllm", clients[0])])
    print("| %d | " % n + " | ".join("%.2f" % x for x in a) + " | %.2fx |" % last)
for k in kinds:
    t = sorted(tt[k])
    print("TTFT at %d clients, %s: p50 %.2f s, p99 %.2f s (%d requests)" % (clients[-1], k, t[len(t) // 2], t[min(len(t) - 1, int(len(t) * 0.99))], len(t)))
