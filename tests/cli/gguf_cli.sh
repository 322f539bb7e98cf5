#!/bin/sh
# GGUF files as models: `run FILE.gguf -p` streams the golden text of stories260K from the
# vocabulary inside the file (f32 and q8_0 give the reference text, q4_0 the divergence the
# fixture README names); a directory holding the .gguf works too; a split copy (-0000N-of-00002)
# gives the same text; tokenizer.chat_template added to a copy is used by `chat`.
set -u
BIN=${RL_BIN:-build/rabbitllm}
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
G="$SH/gguf"
want_text() { python3 - "$SH/fixtures/stories260K/text_golden.json" "$1" <<'PY'
import json, sys
g = json.load(open(sys.argv[1], encoding="utf-8"))
want = g["expected_text"][len(g["prompt_text"]):]
got = open(sys.argv[2], encoding="utf-8").read()
if got != want:
    print("want %r\ngot  %r" % (want, got)); sys.exit(1)
PY
}

for f in stories260K_f32 stories260K_q8_0; do
    "$BIN" run "$G/$f/model.gguf" -p "Once upon a time" -n 64 --temp 0 >"$T/out" 2>"$T/err" || fail "$f: $(cat "$T/err")"
    want_text "$T/out" || fail "$f: text differs"
done
"$BIN" run "$G/stories260K_q4_0" -p "Once upon a time" -n 64 --temp 0 >"$T/out" 2>"$T/err" || fail "q4_0 dir: $(cat "$T/err")"
grep -q "play outside in the sun. One day, she went to the park with her mommy and daddy" "$T/out" || fail "q4_0 text: $(cat "$T/out")"

# rewrite helper: split a GGUF in two parts, or add a string KV
cat >"$T/gg.py" <<'PY'
import struct, sys
SZ = {0:1,1:1,2:2,3:2,4:4,5:4,6:4,7:1,10:8,11:8,12:8}
def rd_str(b, o):
    n = struct.unpack_from("<Q", b, o)[0]; return b[o+8:o+8+n], o + 8 + n
def skip_val(b, o, t):
    if t == 8: return rd_str(b, o)[1]
    if t == 9:
        at, n = struct.unpack_from("<IQ", b, o); o += 12
        for _ in range(n): o = skip_val(b, o, at)
        return o
    return o + SZ[t]
def parse(b):
    nt, nk = struct.unpack_from("<QQ", b, 8); o = 24; kvs = []
    for _ in range(nk):
        s = o; _, o = rd_str(b, o); t = struct.unpack_from("<I", b, o)[0]; o = skip_val(b, o + 4, t); kvs.append(b[s:o])
    tis = []
    for _ in range(nt):
        name, o2 = rd_str(b, o); nd = struct.unpack_from("<I", b, o2)[0]; o2 += 4
        ne = struct.unpack_from("<%dQ" % nd, b, o2); o2 += 8 * nd
        ty, off = struct.unpack_from("<IQ", b, o2); o2 += 12
        tis.append((name, ne, ty, off)); o = o2
    data = (o + 31) // 32 * 32
    return kvs, tis, data
def kv_str(k, v):
    k = k.encode(); v = v.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", 8) + struct.pack("<Q", len(v)) + v
def kv_u16(k, v):
    k = k.encode(); return struct.pack("<Q", len(k)) + k + struct.pack("<IH", 2, v)
def write(path, kvs, tis, blobs):
    h = b"GGUF" + struct.pack("<IQQ", 3, len(tis), len(kvs)) + b"".join(kvs)
    off = 0; infos = b""; data = b""
    for (name, ne, ty, _), blob in zip(tis, blobs):
        infos += struct.pack("<Q", len(name)) + name + struct.pack("<I", len(ne)) + struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", ty, off)
        pad = (len(blob) + 31) // 32 * 32 - len(blob); data += blob + b"\0" * pad; off += len(blob) + pad
    h += infos; h += b"\0" * ((len(h) + 31) // 32 * 32 - len(h))
    open(path, "wb").write(h + data)
b = open(sys.argv[2], "rb").read(); kvs, tis, data = parse(b)
ends = sorted([t[3] for t in tis]) + [len(b) - data]
blobs = [b[data + t[3]: data + min(e for e in ends if e > t[3])] for t in tis]
if sys.argv[1] == "split":
    k = len(tis) // 2; base = sys.argv[3]
    write(base + "-00001-of-00002.gguf", kvs + [kv_u16("split.no", 0), kv_u16("split.count", 2)], tis[:k], blobs[:k])
    write(base + "-00002-of-00002.gguf", [kv_u16("split.no", 1), kv_u16("split.count", 2)], tis[k:], blobs[k:])
else:
    write(sys.argv[3], kvs + [kv_str(sys.argv[4], sys.argv[5])], tis, blobs)
PY
mkdir "$T/split"
python3 "$T/gg.py" split "$G/stories260K_q8_0/model.gguf" "$T/split/st" || fail "split helper"
"$BIN" run "$T/split" -p "Once upon a time" -n 64 --temp 0 >"$T/out" 2>"$T/err" || fail "split: $(cat "$T/err")"
want_text "$T/out" || fail "split: text differs"
rm "$T/split/st-00002-of-00002.gguf"
"$BIN" run "$T/split/st-00001-of-00002.gguf" --ids 1,2 -n 1 >"$T/out" 2>"$T/err" && fail "missing split part accepted"
grep -q "split part" "$T/err" || fail "missing part error: $(cat "$T/err")"

python3 "$T/gg.py" addkv "$G/stories260K_f32/model.gguf" "$T/chat.gguf" tokenizer.chat_template \
  "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}
{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}" || fail "addkv helper"
echo '{"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": true}' |
    "$BIN" template "$T/chat.gguf" >"$T/out" 2>"$T/err" || fail "template: $(cat "$T/err")"
grep -q "user: hi" "$T/out" && grep -q "assistant:" "$T/out" || fail "template render: $(cat "$T/out")"
printf 'Once upon a time\n' | "$BIN" chat "$T/chat.gguf" -n 8 --temp 0 >"$T/out" 2>"$T/err" || fail "chat: $(cat "$T/err")"
grep -q "no chat template" "$T/err" && fail "template from tokenizer.chat_template not used"
[ -s "$T/out" ] || fail "chat printed nothing"
echo ok
