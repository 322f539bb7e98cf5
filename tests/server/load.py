"""tests/server/load.sh: 64 clients x 3 requests (argv: base URL, server pid)."""
import http.client, json, os, sys, threading, time, urllib.parse

BASE, PID = sys.argv[1], sys.argv[2]
U = urllib.parse.urlparse(BASE)
CLIENTS = 64


def rss_kb():
    for line in open("/proc/%s/status" % PID):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


res = {"ok": 0, "cancelled": 0, "503": 0, "bad": []}
lock = threading.Lock()


def note(k, detail=None):
    with lock:
        if k == "bad":
            res["bad"].append(detail)
        else:
            res[k] += 1


def one(ci, kind):
    body = {"model": "tiny", "messages": [{"role": "user", "content": "Story %d" % ci}], "max_tokens": 48,
            "temperature": 0.8, "seed": ci, "stream": kind != "plain"}
    c = http.client.HTTPConnection(U.hostname, U.port, timeout=120)
    try:
        c.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        if r.status == 503:
            r.read()
            if r.getheader("Retry-After"):
                note("503")
            else:
                note("bad", "503 without Retry-After")
            return
        if r.status != 200:
            note("bad", "HTTP %d %s" % (r.status, r.read()[:200]))
            return
        if kind == "plain":
            j = json.loads(r.read())
            ok = j["choices"][0]["finish_reason"] in ("stop", "length") and j["usage"]["completion_tokens"] >= 1
            note("ok" if ok else "bad", j)
            return
        data = b""
        while True:
            chunk = r.read1(4096) if hasattr(r, "read1") else r.read(4096)
            if not chunk:
                break
            data += chunk
            if kind == "hangup" and data.count(b'"content":"') >= 3:
                c.close()
                note("cancelled")
                return
        events = [e for e in data.decode().split("\n\n") if e.startswith("data: ")]
        ok = events and events[-1] == "data: [DONE]" and any('"finish_reason":"' in e for e in events)
        note("ok" if ok else "bad", data[-200:])
    except Exception as e:                       # noqa: BLE001 - reported as a failure
        note("bad", repr(e))
    finally:
        c.close()


def client(ci):
    kinds = ["stream", "plain", "hangup" if ci % 4 == 0 else "stream"]
    for k in kinds:
        one(ci, k)


health_lat, stop = [], False


def health():
    while not stop:
        t0 = time.time()
        c = http.client.HTTPConnection(U.hostname, U.port, timeout=5)
        try:
            c.request("GET", "/health")
            r = c.getresponse()
            r.read()
            health_lat.append((r.status, time.time() - t0))
        except Exception as e:               # noqa: BLE001
            health_lat.append((repr(e), time.time() - t0))
        finally:
            c.close()
        time.sleep(0.05)


rss0 = rss_kb()
t0 = time.time()
hth = threading.Thread(target=health)
hth.start()
th = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in th: t.start()
for t in th: t.join()
stop = True
hth.join()
dt = time.time() - t0
rss1 = rss_kb()
print("load: %d ok, %d cancelled (hung up), %d x 503, %d bad in %.1f s; RSS %d -> %d kB; /health %d answers, max %.3f s"
      % (res["ok"], res["cancelled"], res["503"], len(res["bad"]), dt, rss0, rss1, len(health_lat), max(l for _, l in health_lat)))
check(not res["bad"], "bad answers: %s" % res["bad"][:5])
check(res["ok"] + res["cancelled"] + res["503"] == CLIENTS * 3, "every request accounted for")
check(res["ok"] >= CLIENTS, "at least a third served: %d" % res["ok"])
check(all(s == 200 for s, _ in health_lat) and max(l for _, l in health_lat) < 1.0, "/health during the load: %s" % health_lat[-5:])
if os.environ.get("RL_SANITIZED") != "1":   # ASan's quarantine keeps freed memory resident: RSS says nothing there
    check(rss1 < rss0 + 64 * 1024, "RSS bounded: %d -> %d kB" % (rss0, rss1))
# the server is idle and consistent afterwards
for _ in range(100):
    c = http.client.HTTPConnection(U.hostname, U.port, timeout=5)
    c.request("GET", "/health")
    h = json.loads(c.getresponse().read())
    c.close()
    if h["slots_processing"] == 0 and h["queue"] == 0:
        break
    time.sleep(0.05)
check(h["slots_processing"] == 0 and h["queue"] == 0, "idle after the load: %s" % h)
