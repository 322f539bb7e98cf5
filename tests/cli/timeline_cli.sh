#!/bin/sh
# `bench MODEL --timeline FILE.svg`: a well-formed SVG with one group of bars per stage (wait and
# compute rects; read rects for streamed stages), and the flag in `bench --help`.
set -e
B=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
"$B" bench models/stories260K -n 1 --timeline "$T/t.svg" >"$T/out" 2>"$T/err" || { cat "$T/err"; exit 1; }
grep -q "timeline of one sweep written to" "$T/out"
python3 - "$T/t.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
groups = [g for g in root.iter(ns + "g") if g.get("class") == "stage"]
# stories260K: 5 layers + at least one lm_head chunk
assert len(groups) >= 6, len(groups)
for i, g in enumerate(groups):
    assert int(g.get("data-stage")) == i
    kinds = [r.get("class") for r in g.iter(ns + "rect")]
    assert kinds.count("wait") == 1 and kinds.count("compute") == 1, kinds
    assert kinds.count("read") <= 1, kinds
    for r in g.iter(ns + "rect"):
        assert float(r.get("width")) >= 0 and float(r.get("x")) >= 0
PY
"$B" bench --help | grep -q -- "--timeline FILE.svg"
echo ok
