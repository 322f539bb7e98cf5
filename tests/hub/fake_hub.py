#!/usr/bin/env python3
"""A fake Hugging Face hub on 127.0.0.1 for tests/hub/hub.sh (never any other address).

usage: fake_hub.py ROOT PORTFILE LOGFILE
ROOT/<org>/<name>/<revision>/...  the files of each revision (a branch or tag); its commit is
                                  sha1("<org>/<name>@<revision>")
ROOT/<org>/<name>/TOKEN           makes the repo gated: requests need "Authorization: Bearer <TOKEN>"
ROOT/FLAKY                        (read per request) GET bodies stop after that many bytes and the
                                  connection is closed
ROOT/CORRUPT                      (read per request) the CDN serves LFS files with one byte changed
ROOT/SLOW                         (read per request) GET bodies go out in 16 KiB pieces, each after that
                                  many milliseconds (a transfer slow enough to be killed mid-file)

Routes, as the hub answers them:
  GET  /api/models/<org>/<name>/revision/<rev>   {"id", "sha", "siblings": [{"rfilename"}]}
  HEAD|GET /<org>/<name>/resolve/<rev>/<path>    *.safetensors (LFS): 302 to /cdn/<sha256> with
       X-Linked-Etag (sha256), X-Linked-Size, X-Repo-Commit; others: 200 with ETag (git blob sha1),
       X-Repo-Commit, Content-Length, Range
  HEAD|GET /cdn/<sha256>                         the LFS content, Range (206 / 416); reached as
       http://localhost:<port>/cdn/..., a host name other than the hub's, like the real CDN
Errors: 401 (X-Error-Code GatedRepo), 404 (RepoNotFound / RevisionNotFound / EntryNotFound).
Each request is logged as "METHOD PATH range=R auth=yes|no". Exits by itself after 600 s.
"""
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT, PORTFILE, LOGFILE = sys.argv[1], sys.argv[2], sys.argv[3]
LOCK = threading.Lock()


def commit_of(repo, rev):
    return hashlib.sha1(f"{repo}@{rev}".encode()).hexdigest()


def revisions(repo):
    d = os.path.join(ROOT, repo)
    if not os.path.isdir(d):
        return None
    return {r: commit_of(repo, r) for r in os.listdir(d) if os.path.isdir(os.path.join(d, r))}


def files_of(repo, rev):
    base = os.path.join(ROOT, repo, rev)
    out = []
    for dp, _, fs in os.walk(base):
        for f in fs:
            out.append(os.path.relpath(os.path.join(dp, f), base))
    return sorted(out)


def blob_index():
    """sha256 -> path of every LFS file under ROOT."""
    idx = {}
    for dp, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".safetensors"):
                p = os.path.join(dp, f)
                idx[hashlib.sha256(open(p, "rb").read()).hexdigest()] = p
    return idx


def flag(name):
    p = os.path.join(ROOT, name)
    if not os.path.exists(p):
        return None
    return open(p).read().strip() or "1"


class Hub(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *a):
        pass

    def log(self):
        with LOCK, open(LOGFILE, "a") as f:
            f.write(f"{self.command} {self.path} range={self.headers.get('Range', '-')} "
                    f"auth={'yes' if self.headers.get('Authorization') else 'no'}\n")

    def send(self, code, headers=None, body=b""):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def error(self, code, ecode, msg):
        self.send(code, {"X-Error-Code": ecode, "X-Error-Message": msg, "Content-Type": "application/json"},
                  json.dumps({"error": msg}).encode())

    def authorized(self, repo):
        tp = os.path.join(ROOT, repo, "TOKEN")
        if not os.path.exists(tp):
            return True
        if self.headers.get("Authorization") == "Bearer " + open(tp).read().strip():
            return True
        self.error(401, "GatedRepo", "Access to this gated repo is restricted: authentication required")
        return False

    def body(self, data, headers):
        """Sends data with Range support and the FLAKY cut."""
        n = len(data)
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a = rng[6:].split("-")[0]
            start = int(a) if a else 0
            if start >= n:
                return self.send(416, {"Content-Range": f"bytes */{n}"})
            code = 206
            headers["Content-Range"] = f"bytes {start}-{n - 1}/{n}"
        headers["Content-Length"] = str(n - start)
        headers["Accept-Ranges"] = "bytes"
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        chunk = data[start:]
        cut = flag("FLAKY")
        if cut is not None and int(cut) < len(chunk):
            self.wfile.write(chunk[:int(cut)])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        slow = flag("SLOW")
        if slow is not None:
            for i in range(0, len(chunk), 16384):
                time.sleep(int(slow) / 1000.0)    # before each piece: a small file is slowed too
                self.wfile.write(chunk[i:i + 16384])
                self.wfile.flush()
            return
        self.wfile.write(chunk)

    def route(self):
        self.log()
        path = urllib.parse.urlparse(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            repo, rev = parts[2] + "/" + parts[3], "/".join(parts[5:])
            revs = revisions(repo)
            if revs is None:
                return self.error(404, "RepoNotFound", f"Repository {repo} not found")
            if not self.authorized(repo):
                return
            name = next((r for r, c in revs.items() if rev in (r, c)), None)
            if name is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            out = {"id": repo, "sha": revs[name], "siblings": [{"rfilename": f} for f in files_of(repo, name)]}
            return self.send(200, {"Content-Type": "application/json"}, json.dumps(out).encode())
        if parts[:1] == ["cdn"] and len(parts) == 2:
            p = blob_index().get(parts[1])
            if not p:
                return self.error(404, "EntryNotFound", "no such blob")
            data = open(p, "rb").read()
            if flag("CORRUPT"):
                data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
            return self.body(data, {"Content-Type": "application/octet-stream"})
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, rev, fname = parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:])
            revs = revisions(repo)
            if revs is None:
                return self.error(404, "RepoNotFound", f"Repository {repo} not found")
            if not self.authorized(repo):
                return
            name = next((r for r, c in revs.items() if rev in (r, c)), None)
            if name is None:
                return self.error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
            fp = os.path.join(ROOT, repo, name, fname)
            if fname == "TOKEN" or not os.path.isfile(fp):
                return self.error(404, "EntryNotFound", f"{fname} does not exist at {rev}")
            data = open(fp, "rb").read()
            hdr = {"X-Repo-Commit": revs[name]}
            gitsha = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            if fname.endswith(".safetensors"):
                sha = hashlib.sha256(data).hexdigest()
                port = self.server.server_address[1]    # the "CDN" is another host name: no token there
                hdr.update({"ETag": f'"{gitsha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data)),
                            "Location": f"http://localhost:{port}/cdn/{sha}?signed=1"})
                return self.send(302, hdr)
            hdr["ETag"] = f'"{gitsha}"'
            return self.body(data, hdr)
        return self.error(404, "RepoNotFound", "no route")

    do_GET = route
    do_HEAD = route


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    srv.daemon_threads = True
    threading.Timer(600, lambda: os._exit(0)).start()
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
