#!/usr/bin/env python3
"""Benchmark (not a test) of `rabbitllm serve`: aggregate generated tokens/s of one server
(--parallel 16) with 1, 4 and 16 concurrent streaming clients (one request each, max_tokens M,
temperature 0), the client counts interleaved over ROUNDS so machine noise hits them alike;
TTFT p50/p99 at 16 clients. Loopback only.
usage: python3 scripts/bench_serve.py MODEL_DIR M ROUNDS [serve flags, e.g. --mem-budget 0]"""
import http.client, json, re, subprocess, sys, threading, time
model, M, rounds, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
p = subprocess.Popen(["build/rabbitllm", "serve", model, "--host", "127.0.0.1", "--port", "0", "--parallel", "16",
                      "--queue", "100", "--ctx", "256"] + extra, stderr=subprocess.PIPE, text=True)
port = None
for line in p.stderr:
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if m: port = int(m.group(1)); break
threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
def run(n):
    toks, ttft, lock = [0], [], threading.Lock()
    def client(ci):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
        t0 = time.time()
        body = {"prompt": "Client %d says hello and" % ci, "max_tokens": M, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}
        c.request("POST", "/v1/completions", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse(); first = None; buf = b""
        while True:
            ch = r.read1(65536)
            if not ch: break
            if first is None and b'"text":"' in ch.replace(b'"text":""', b""): first = time.time() - t0
            buf += ch
        for ev in buf.decode().split("\n\n"):
            if ev.startswith("data: {") and '"usage"' in ev:
                u = json.loads(ev[6:])["usage"]
                with lock: toks[0] += u["completion_tokens"]; ttft.append(first or 0)
        c.close()
    t0 = time.time()
    th = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in th: t.start()
    for t in th: t.join()
    return toks[0] / (time.time() - t0), sorted(ttft)
res = {1: [], 4: [], 16: []}; tt = []
for _ in range(rounds):
    for n in (1, 4, 16):
        r, t = run(n); res[n].append(r)
        if n == 16: tt += t
p.terminate(); p.wait()
one = sorted(res[1])[len(res[1]) // 2]
for n in (1, 4, 16):
    med = sorted(res[n])[len(res[n]) // 2]
    print("%2d clients: %.2f tok/s aggregate (runs %s) = %.2fx one client" % (n, med, ", ".join("%.2f" % x for x in res[n]), med / one))
tt.sort()
print("TTFT at 16 clients: p50 %.2f s, p99 %.2f s (%d requests)" % (tt[len(tt) // 2], tt[min(len(tt) - 1, int(len(tt) * 0.99))], len(tt)))
