#!/bin/sh
# A download killed with SIGKILL at several points (before the weights arrive, twice mid-file,
# after the weights are complete but before the rest) against the fake hub (tests/hub/fake_hub.py,
# 127.0.0.1 only, its bodies slowed down by ROOT/SLOW): after each kill nothing partial looks
# complete (no blob under its final name unless whole, every snapshot link whole, no refs/main,
# `run org/stories` refuses; pinned to the commit it fails cleanly or, with all it needs whole,
# gives the right ids), the next run resumes the
# partial file with Range from its size, and the last one ends with the exact files and the same
# output as the model directory.
set -u
BIN=${RL_BIN:-build/rabbitllm}
HERE=$(dirname "$0")
command -v python3 >/dev/null || { echo "skipped: no python3"; exit 77; }
T=$(mktemp -d)
PID="" DL=""
cleanup() { [ -n "$DL" ] && kill -9 "$DL" 2>/dev/null; [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/err" ] && tail -n 5 "$T/err"; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy HF_TOKEN HF_TOKEN_PATH HF_HUB_CACHE \
      HUGGINGFACE_HUB_CACHE XDG_CACHE_HOME HF_HUB_OFFLINE
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost

R="$T/root"; S="models/stories260K"
mkdir -p "$R/org/stories/main"
for f in config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json tokenizer_config.json; do
  cp "$S/$f" "$R/org/stories/main/"
done
chmod -R u+w "$R"
C_MAIN=$(python3 -c 'import hashlib; print(hashlib.sha1(b"org/stories@main").hexdigest())')
SHA_ST=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$S/model.safetensors")
SIZE_ST=$(stat -c %s "$S/model.safetensors")

python3 "$HERE/fake_hub.py" "$R" "$T/port" "$T/log" 2>"$T/server.err" &
PID=$!
i=0
while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do
  kill -0 "$PID" 2>/dev/null || { cat "$T/server.err"; fail "fake hub exited"; }
  sleep 0.1; i=$((i + 1))
done
[ -s "$T/port" ] || fail "fake hub did not start"
export HF_ENDPOINT="http://127.0.0.1:$(cat "$T/port")" HF_HOME="$T/hf"
REPO="$HF_HOME/hub/models--org--stories"
INC="$REPO/blobs/$SHA_ST.incomplete"
want=$("$BIN" run "$S" --ids 1,403 -n 4 --temp 0 2>/dev/null) || fail "run on the directory"
nreq() { wc -l <"$T/log" 2>/dev/null || echo 0; }
size() { stat -c %s "$1" 2>/dev/null || echo -1; }

# What a killed download may leave: blobs under their final names only when whole (the weights
# compared with the source; the small files with their git blob sha1, which names them), every
# snapshot link to a whole blob, no refs/main; the id does not resolve; pinned, it fails cleanly
# (a status 2-5 with a message) or gives the model directory's ids.
check_left() {
  for b in "$REPO"/blobs/*; do
    [ -e "$b" ] || continue
    case "$b" in *.incomplete) continue ;; esac
    n=$(basename "$b")
    if [ "$n" = "$SHA_ST" ]; then cmp -s "$b" "$S/model.safetensors" || fail "$1: partial weights under the final name"
    else
      g=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha1(b"blob %d\0" % len(d) + d).hexdigest())' "$b")
      [ "$g" = "$n" ] || fail "$1: blob $n is not whole"
    fi
  done
  for l in "$REPO/snapshots/$C_MAIN"/*; do
    [ -e "$l" ] || [ -L "$l" ] || continue
    cmp -s "$l" "$S/$(basename "$l")" || fail "$1: snapshot file $(basename "$l") is not whole"
  done
  [ ! -e "$REPO/refs/main" ] || fail "$1: refs/main written by a killed download"
  "$BIN" run org/stories --ids 1 -n 1 >/dev/null 2>&1 && fail "$1: the id resolved after a killed download"
  if [ -d "$REPO/snapshots/$C_MAIN" ]; then
    got=$("$BIN" run "org/stories@$C_MAIN" --ids 1,403 -n 4 --temp 0 2>"$T/err"); rc=$?
    if [ "$rc" -eq 0 ]; then [ "$got" = "$want" ] || fail "$1: a partial snapshot gave other ids: $got"
    else [ "$rc" -ge 2 ] && [ "$rc" -le 5 ] || fail "$1: pinned run of a partial snapshot exited $rc: $(cat "$T/err")"; fi
  fi
}

# kill_when LABEL CONDITION [MS]: a download slowed to 16 KiB per MS (40) milliseconds, SIGKILLed
# once CONDITION (a shell test) holds
kill_when() {
  echo "${3:-40}" >"$R/SLOW"
  "$BIN" download org/stories --quiet >/dev/null 2>"$T/err" &
  DL=$!
  i=0
  until eval "$2"; do
    kill -0 "$DL" 2>/dev/null || fail "$1: the download ended before the kill point: $(cat "$T/err")"
    [ $i -lt 1500 ] || fail "$1: kill point not reached in 30 s"
    sleep 0.02; i=$((i + 1))
  done
  kill -9 "$DL"; wait "$DL" 2>/dev/null; DL=""
  rm -f "$R/SLOW"
  check_left "$1"
}

resumed_from() {   # the requests since line $1 fetched the weights from byte $2 on
  if [ "$2" -gt 0 ]; then
    tail -n +$(($1 + 1)) "$T/log" | grep -q "^GET /cdn/$SHA_ST.*range=bytes=$2-" || fail "no resume at byte $2: $(tail -n +$(($1 + 1)) "$T/log" | grep cdn)"
  fi
}

kill_when "before the weights" '[ -e "$INC" ] || [ -e "$REPO/blobs/$SHA_ST" ]'
part=$(size "$INC")
[ ! -e "$REPO/blobs/$SHA_ST" ] || fail "weights complete at the first kill point (the transfer is not slowed)"
n0=$(nreq)
kill_when "mid-file (1)" '[ "$(size "$INC")" -ge 300000 ]'
resumed_from "$n0" "$part"
part=$(size "$INC")
[ "$part" -gt 0 ] && [ "$part" -lt "$SIZE_ST" ] || fail "mid-file (1): partial size $part"
n0=$(nreq)
kill_when "mid-file (2)" '[ "$(size "$INC")" -ge 800000 ]'
resumed_from "$n0" "$part"
part=$(size "$INC")
[ "$part" -gt 0 ] && [ "$part" -lt "$SIZE_ST" ] || fail "mid-file (2): partial size $part"
n0=$(nreq)
kill_when "after the weights" '[ -e "$REPO/blobs/$SHA_ST" ] && [ -L "$REPO/snapshots/$C_MAIN/model.safetensors" ]' 150
resumed_from "$n0" "$part"
[ ! -e "$INC" ] || fail "after the weights: .incomplete left beside the complete blob"

# the last run completes without fetching the weights again
n0=$(nreq)
snap=$(timeout 120 "$BIN" download org/stories --quiet 2>"$T/err") || fail "final download: $(cat "$T/err")"
[ "$snap" = "$REPO/snapshots/$C_MAIN" ] || fail "snapshot path $snap"
tail -n +$((n0 + 1)) "$T/log" | grep -q "^GET /cdn/" && fail "the complete weights were fetched again"
for f in config.json generation_config.json model.safetensors special_tokens_map.json tokenizer.json tokenizer_config.json; do
  cmp -s "$snap/$f" "$S/$f" || fail "$f differs after the killed runs"
done
ls "$REPO/blobs" | grep -q incomplete && fail "an .incomplete file is left"
[ "$(cat "$REPO/refs/main")" = "$C_MAIN" ] || fail "refs/main"
[ "$("$BIN" run org/stories --ids 1,403 -n 4 --temp 0 2>/dev/null)" = "$want" ] || fail "run after the killed downloads"
echo ok
