#!/bin/sh
# `rabbitllm info MODEL --json`: valid JSON with the description, the files and the memory plan
# (buffers whose bytes add up to the totals).
set -e
B=${RL_BIN:-build/rabbitllm}
"$B" info models/stories260K --json --ctx 256 | python3 -c '
import json, sys
j = json.load(sys.stdin)
d = j["description"]
assert d["family"] and d["layers"] == 5 and d["hidden"] == 64 and d["vocab"] == 512, d
assert j["files"] and j["files"][0]["bytes"] > 0, j["files"]
p = j["memory_plan"]
assert p["buffers"] and isinstance(p["fits"], bool) and p["budget"], p
for w in ("device", "host"):
    assert sum(b["bytes"] for b in p["buffers"] if b["where"] == w) <= p[w + "_bytes"], (w, p)
assert j["ctx"] == 256 and j["rabbitllm_version"]
'
"$B" info models/stories260K | grep -Eq "^rabbitllm +[0-9]+\.[0-9]+" || { echo "FAIL: no version line in info"; exit 1; }
echo ok
