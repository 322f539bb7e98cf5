#!/bin/sh
# `rabbitllm download` and hub ids against a fake hub (tests/hub/fake_hub.py) on 127.0.0.1 only:
# stories260K downloaded into a temp HF_HOME in the huggingface_hub layout (blobs/<etag>,
# snapshots/<commit> symlinks, refs/main), then `run org/stories` gives the directory's ids;
# HF_HUB_OFFLINE=1 resolves from the cache without a request; a second download fetches nothing;
# a revision pin (refs/v1, @v1, @<commit>); a transfer cut mid-file resumes with Range (within a
# run, and in a later run after it gave up, leaving only an .incomplete file); a corrupt LFS file
# fails its sha256; 401 (gated, bad token, token file), 404 repo / revision, network failure.
set -u
BIN=${RL_BIN:-build/rabbitllm}
HERE=$(dirname "$0")
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -n "${HUB_DEBUG:-}" ] && cat "$T/log"; [ -f "$T/err" ] && tail -n 5 "$T/err"; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy HF_TOKEN HF_TOKEN_PATH HF_HUB_CACHE \
      HUGGINGFACE_HUB_CACHE XDG_CACHE_HOME HF_HUB_OFFLINE
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

# the fake repos
R="$T/root"; S="models/stories260K"
mkdir -p "$R/org/stories/main/onnx" "$R/org/gated/main"
for f in config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json tokenizer_config.json; do
  cp "$S/$f" "$R/org/stories/main/"
done
echo "not a model" >"$R/org/stories/main/pytorch_model.bin"
echo "# readme" >"$R/org/stories/main/README.md"
echo "onnx" >"$R/org/stories/main/onnx/model.onnx"
cp -r "$R/org/stories/main" "$R/org/stories/v1"
python3 - "$R/org/stories/v1/tokenizer_config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p)); c["model_max_length"] = 512; json.dump(c, open(p, "w"))
PY
chmod -R u+w "$R"
cp "$S/config.json" "$R/org/gated/main/"
printf 'hf_good' >"$R/org/gated/TOKEN"
C_MAIN=$(python3 -c 'import hashlib; print(hashlib.sha1(b"org/stories@main").hexdigest())')
C_V1=$(python3 -c 'import hashlib; print(hashlib.sha1(b"org/stories@v1").hexdigest())')
SHA_ST=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$S/model.safetensors")
SIZE_ST=$(stat -c %s "$S/model.safetensors")

python3 "$HERE/fake_hub.py" "$R" "$T/port" "$T/log" 2>"$T/server.err" &
PID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do  # at most 10 s to listen
  kill -0 "$PID" 2>/dev/null || { cat "$T/server.err"; fail "fake hub exited"; }
  sleep 0.1; i=$((i + 1))
done
[ -s "$T/port" ] || fail "fake hub did not start"
export HF_ENDPOINT="http://127.0.0.1:$(cat "$T/port")"
export HF_HOME="$T/hf"
REPO="$HF_HOME/hub/models--org--stories"
nreq() { wc -l <"$T/log" 2>/dev/null || echo 0; }

want=$("$BIN" run "$S" --ids 1,403 -n 4 --temp 0 2>"$T/err") || fail "run on the directory"

# not downloaded yet: a clear error
"$BIN" run org/stories --ids 1,403 -n 4 2>"$T/err" >/dev/null && fail "missing model accepted"
grep -q "rabbitllm download org/stories" "$T/err" && grep -q "models--org--stories" "$T/err" || fail "missing-model message: $(cat "$T/err")"

# download (a token is set: it goes to the hub, not to the CDN)
snap=$(HF_TOKEN=hf_anything timeout 120 "$BIN" download org/stories 2>"$T/err") || fail "download: $(cat "$T/err")"
[ "$snap" = "$REPO/snapshots/$C_MAIN" ] || fail "snapshot path $snap"
[ "$(cat "$REPO/refs/main")" = "$C_MAIN" ] || fail "refs/main"
[ "$(readlink "$snap/model.safetensors")" = "../../blobs/$SHA_ST" ] || fail "safetensors link $(readlink "$snap/model.safetensors")"
cmp -s "$snap/model.safetensors" "$S/model.safetensors" || fail "safetensors content"
GIT_CFG=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$S/config.json")
[ "$(readlink "$snap/config.json")" = "../../blobs/$GIT_CFG" ] || fail "config link $(readlink "$snap/config.json")"
for f in config.json generation_config.json special_tokens_map.json tokenizer.json tokenizer_config.json; do
  cmp -s "$snap/$f" "$S/$f" || fail "$f differs"
done
[ ! -e "$snap/pytorch_model.bin" ] && [ ! -e "$snap/README.md" ] && [ ! -e "$snap/onnx" ] || fail "unwanted files downloaded"
ls "$REPO/blobs" | grep -q incomplete && fail "incomplete file left"
grep "^GET /cdn/" "$T/log" | grep -q "auth=no" || fail "no CDN request logged"
grep "^GET /cdn/" "$T/log" | grep -q "auth=yes" && fail "token sent to the CDN"
grep "^HEAD /org/stories/resolve/" "$T/log" | grep -q "auth=yes" || fail "token not sent to the hub"

# hub ids resolve from the cache: same ids as the directory; info / tokenize too
got=$("$BIN" run org/stories --ids 1,403 -n 4 --temp 0 2>"$T/err") || fail "run org/stories: $(cat "$T/err")"
[ "$got" = "$want" ] || fail "ids differ: $got vs $want"
"$BIN" info org/stories >"$T/info" 2>"$T/err" || fail "info org/stories"
grep -q "KV cache" "$T/info" || fail "info output"
[ "$("$BIN" tokenize org/stories "Once upon a time")" = "$("$BIN" tokenize "$S" "Once upon a time")" ] || fail "tokenize org/stories"

# offline: no request at all
n0=$(nreq)
got=$(HF_HUB_OFFLINE=1 "$BIN" run org/stories --ids 1,403 -n 4 --temp 0 2>"$T/err") || fail "offline run: $(cat "$T/err")"
[ "$got" = "$want" ] || fail "offline ids differ"
s2=$(HF_HUB_OFFLINE=1 "$BIN" download org/stories 2>"$T/err") || fail "offline download of a cached model: $(cat "$T/err")"
[ "$s2" = "$snap" ] || fail "offline download path $s2"
HF_HUB_OFFLINE=1 "$BIN" download org/other 2>"$T/err" >/dev/null && fail "offline download of an uncached model"
grep -q "HF_HUB_OFFLINE" "$T/err" || fail "offline message: $(cat "$T/err")"
[ "$(nreq)" -eq "$n0" ] || fail "offline mode made requests"

# a second download fetches nothing
n0=$(nreq)
timeout 60 "$BIN" download org/stories >/dev/null 2>"$T/err" || fail "second download: $(cat "$T/err")"
tail -n +$((n0 + 1)) "$T/log" | grep -q "^GET /cdn\|^GET /org" && fail "second download fetched files again"
grep -q "already in the cache" "$T/err" || fail "cached files not reported"

# a revision pin: refs/v1, its own snapshot, blobs shared; @v1 and @<commit> resolve
s1=$(timeout 60 "$BIN" download org/stories --revision v1 2>"$T/err") || fail "download v1: $(cat "$T/err")"
[ "$s1" = "$REPO/snapshots/$C_V1" ] && [ "$(cat "$REPO/refs/v1")" = "$C_V1" ] || fail "v1 snapshot $s1"
[ "$(cat "$REPO/refs/main")" = "$C_MAIN" ] || fail "refs/main changed"
grep -q 512 "$s1/tokenizer_config.json" || fail "v1 tokenizer_config"
[ "$(readlink "$s1/model.safetensors")" = "../../blobs/$SHA_ST" ] || fail "v1 blob not shared"
[ "$("$BIN" run org/stories@v1 --ids 1,403 -n 4 --temp 0 2>/dev/null)" = "$want" ] || fail "run @v1"
[ "$("$BIN" run "org/stories@$C_V1" --ids 1,403 -n 4 --temp 0 2>/dev/null)" = "$want" ] || fail "run @commit"
"$BIN" run org/stories@v7 --ids 1 2>"$T/err" >/dev/null && fail "@v7 accepted"
grep -q -- "--revision v7" "$T/err" || fail "@v7 message: $(cat "$T/err")"

# --include adds files
timeout 60 "$BIN" download org/stories --include "*.bin" "onnx/*" >/dev/null 2>"$T/err" || fail "--include: $(cat "$T/err")"
[ -f "$snap/pytorch_model.bin" ] && [ -f "$snap/onnx/model.onnx" ] || fail "--include files missing"
[ "$(readlink "$snap/onnx/model.onnx" | cut -c1-15)" = "../../../blobs/" ] || fail "nested link $(readlink "$snap/onnx/model.onnx")"

# a transfer cut mid-file: resumed with Range within the run; when it gives up, only an
# .incomplete file remains and the next run resumes from it
export HF_HOME="$T/hf2"
REPO="$HF_HOME/hub/models--org--stories"
echo 200000 >"$R/FLAKY"
n0=$(nreq)
timeout 120 "$BIN" download org/stories >/dev/null 2>"$T/err" && fail "download through a flaky link succeeded"
grep -q "interrupted" "$T/err" && grep -q "again to resume" "$T/err" || fail "interrupted message: $(cat "$T/err")"
tail -n +$((n0 + 1)) "$T/log" | grep -q "^GET /cdn/$SHA_ST.*range=bytes=200000-" || fail "no resumed request within the run"
[ -f "$REPO/blobs/$SHA_ST.incomplete" ] || fail "no .incomplete file"
part=$(stat -c %s "$REPO/blobs/$SHA_ST.incomplete")
[ "$part" -gt 0 ] && [ "$part" -lt "$SIZE_ST" ] || fail "partial size $part"
[ ! -e "$REPO/blobs/$SHA_ST" ] && [ ! -e "$REPO/snapshots/$C_MAIN/model.safetensors" ] && [ ! -e "$REPO/refs/main" ] || fail "an incomplete download looks complete"
"$BIN" run org/stories --ids 1 2>/dev/null >/dev/null && fail "incomplete model resolved"
rm -f "$R/FLAKY"
n0=$(nreq)
timeout 120 "$BIN" download org/stories >/dev/null 2>"$T/err" || fail "resumed download: $(cat "$T/err")"
tail -n +$((n0 + 1)) "$T/log" | grep -q "^GET /cdn/$SHA_ST.*range=bytes=$part-" || fail "the next run did not resume at $part"
cmp -s "$REPO/snapshots/$C_MAIN/model.safetensors" "$S/model.safetensors" || fail "resumed file differs"
[ ! -e "$REPO/blobs/$SHA_ST.incomplete" ] || fail ".incomplete left after resume"
[ "$("$BIN" run org/stories --ids 1,403 -n 4 --temp 0 2>/dev/null)" = "$want" ] || fail "run after resume"

# a corrupt LFS file fails its sha256 and leaves nothing that looks complete
export HF_HOME="$T/hf3"
REPO="$HF_HOME/hub/models--org--stories"
touch "$R/CORRUPT"
timeout 60 "$BIN" download org/stories >/dev/null 2>"$T/err" && fail "corrupt file accepted"
rm -f "$R/CORRUPT"
grep -q "sha256 mismatch" "$T/err" || fail "checksum message: $(cat "$T/err")"
[ ! -e "$REPO/blobs/$SHA_ST" ] && [ ! -e "$REPO/blobs/$SHA_ST.incomplete" ] && [ ! -e "$REPO/refs/main" ] || fail "corrupt blob kept"

# gated: 401 without a token, with a wrong one; a token file works
timeout 60 "$BIN" download org/gated >/dev/null 2>"$T/err" && fail "gated without token"
grep -q "401" "$T/err" && grep -q "HF_TOKEN" "$T/err" || fail "401 message: $(cat "$T/err")"
HF_TOKEN=hf_bad timeout 60 "$BIN" download org/gated >/dev/null 2>"$T/err" && fail "gated with a bad token"
grep -q "401" "$T/err" && grep -q "refused" "$T/err" || fail "bad-token message: $(cat "$T/err")"
printf 'hf_good\n' >"$HF_HOME/token"
timeout 60 "$BIN" download org/gated >/dev/null 2>"$T/err" || fail "gated with the token file: $(cat "$T/err")"
[ -f "$HF_HOME/hub/models--org--gated/snapshots/$(python3 -c 'import hashlib; print(hashlib.sha1(b"org/gated@main").hexdigest())')/config.json" ] || fail "gated snapshot"

# 404: repo, revision; network failure
timeout 60 "$BIN" download org/missing >/dev/null 2>"$T/err" && fail "missing repo"
grep -q "404" "$T/err" && grep -q "org/missing not found" "$T/err" || fail "404 repo message: $(cat "$T/err")"
timeout 60 "$BIN" download org/stories --revision nope >/dev/null 2>"$T/err" && fail "missing revision"
grep -q "revision 'nope' not found" "$T/err" || fail "404 revision message: $(cat "$T/err")"
HF_ENDPOINT=http://127.0.0.1:1 timeout 60 "$BIN" download org/stories >/dev/null 2>"$T/err" && fail "unreachable hub"
grep -q "cannot fetch" "$T/err" || fail "network message: $(cat "$T/err")"
"$BIN" download not-an-id >/dev/null 2>&1 && fail "bad id accepted"
echo "hub: ok"
