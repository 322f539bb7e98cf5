"""HTTP checks of tests/server/queue.sh (argv[1]: the base URL; one slot, queue 1, 20 ms steps)."""
import json, socket, sys, threading, time, urllib.error, urllib.parse, urllib.request

BASE = sys.argv[1]
U = urllib.parse.urlparse(BASE)
KEY = {"Authorization": "Bearer sekrit"}


def req(path, body=None, method=None, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers if headers is not None else KEY)
    r = urllib.request.Request(BASE + path, data=json.dumps(body).encode() if body is not None else None, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=60) as f:
            return f.status, f.headers, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def metric(name):
    for line in req("/metrics")[2].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    check(False, "no metric " + name)


def raw(body, key=True):
    """A socket with a POST /v1/chat/completions sent."""
    s = socket.create_connection((U.hostname, U.port), timeout=30)
    b = json.dumps(body).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
              (b"Authorization: Bearer sekrit\r\n" if key else b"") + b"Content-Length: %d\r\n\r\n" % len(b) + b)
    return s


def body(stream, n=100):
    return {"model": "tiny", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": n, "stream": stream}


def wait_idle(limit):
    t0 = time.time()
    while time.time() - t0 < limit:
        h = json.loads(req("/health", headers={})[2])
        if h["slots_processing"] == 0 and h["queue"] == 0:
            return time.time() - t0
        time.sleep(0.02)
    return None


# ---- API key, CORS ----
st, _, b = req("/health", headers={})
check(st == 200, "/health without a key")
st, _, b = req("/v1/models", headers={})
check(st == 401 and json.loads(b)["error"]["type"] == "authentication_error", "no key: %d %s" % (st, b))
check(req("/v1/models", headers={"Authorization": "Bearer sekriT"})[0] == 401, "wrong key")
check(req("/v1/models", headers={"Authorization": "Bearer sekrit2"})[0] == 401, "longer key")
st, h, _ = req("/v1/models")
check(st == 200 and h["Access-Control-Allow-Origin"] == "http://127.0.0.1:9", "key + CORS header")
st, h, _ = req("/v1/chat/completions", method="OPTIONS", headers={"Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "POST"})
check(st == 204 and "POST" in h["Access-Control-Allow-Methods"] and "Authorization" in h["Access-Control-Allow-Headers"], "preflight %d" % st)
print("auth + cors ok")

# ---- queue: A runs, B waits (keep-alive comments), C gets 503 ----
a = raw(body(True))
time.sleep(0.3)
b = raw(body(True, 20))
time.sleep(0.2)
st, h, txt = req("/v1/chat/completions", body(False, 5))
check(st == 503 and h["Retry-After"] and json.loads(txt)["error"]["code"] == "server_busy", "third request: %d %s" % (st, txt))
check(metric("rabbitllm_requests_rejected_total") >= 1, "rejected metric")
b.settimeout(5)
got = b""
t0 = time.time()
while b": keep-alive" not in got and time.time() - t0 < 5:
    got += b.recv(4096)
check(b": keep-alive" in got and b'"content":"' not in got.split(b": keep-alive")[0].split(b"\r\n\r\n", 1)[-1].replace(b'"content":""', b""),
      "a queued stream gets keep-alive comments before any content: %r" % got[:300])
print("queue + keep-alive ok")

# ---- disconnect of the running stream frees the slot for B at the next step ----
a.settimeout(5)
seen = b""
while seen.count(b'"content":"') < 4:
    seen += a.recv(4096)
t_close = time.time()
a.close()
got = b""
while b'"content":"' not in got.replace(b'"content":""', b""):
    got += b.recv(4096)
check(time.time() - t_close < 1.0, "B started %.2f s after A hung up (A had ~90 tokens = 1.8 s left)" % (time.time() - t_close))
while b"[DONE]" not in got:
    got += b.recv(4096)
b.close()
check(wait_idle(3) is not None, "idle after B")
check(metric("rabbitllm_requests_cancelled_total") >= 1, "cancelled metric")
print("stream disconnect ok")

# ---- non-streamed: running and queued clients that hang up ----
c0 = metric("rabbitllm_requests_cancelled_total")
d = raw(body(False))
time.sleep(0.3)
e = raw(body(False))
time.sleep(0.3)
e.close()                      # queued, gone
d.close()                      # running, gone
t = wait_idle(2.0)
check(t is not None, "both slots and queue free soon after the clients left")
check(metric("rabbitllm_requests_cancelled_total") >= c0 + 2, "two more cancelled")
st, _, txt = req("/v1/chat/completions", body(False, 3))
check(st == 200 and json.loads(txt)["usage"]["completion_tokens"] == 3, "a request after the cancellations")
print("non-stream disconnect ok")

# ---- slowloris: more half-sent requests than the cap (12); the idle timeout (2 s) closes them ----
idle = [socket.create_connection((U.hostname, U.port), timeout=10) for _ in range(16)]
for s in idle:
    s.sendall(b"GET /health HTTP/1.1\r\n")          # headers never finished
time.sleep(0.3)
t0 = time.time()
x = socket.create_connection((U.hostname, U.port), timeout=6)
x.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
ans = x.recv(100)
x.close()
check(ans.startswith(b"HTTP/1.1 200") and time.time() - t0 < 5, "/health answers despite 16 half-open connections: %r" % ans)
time.sleep(max(0, 3.5 - (time.time() - t0)))
closed = 0
for s in idle:
    s.settimeout(2)
    try:
        closed += s.recv(100) == b""
    except (ConnectionResetError, BrokenPipeError):
        closed += 1
    except socket.timeout:
        pass
    s.close()
check(closed >= 12, "idle connections closed by the timeout: %d of 16" % closed)
print("slowloris ok")
