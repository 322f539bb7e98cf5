#!/bin/sh
# Load on loopback: 64 concurrent clients (3 requests each: streaming, non-streaming, and every
# 4th client hanging up mid-stream) against stories260K with 4 slots and a queue of 24. Every
# request completes or is cancelled as intended; no 5xx but 503s (the queue), which carry
# Retry-After; /health answers throughout (< 1 s); RSS stays bounded; bounded in time.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }
"$BIN" serve models/stories260K --host 127.0.0.1 --port 0 --model-name tiny --parallel 4 --queue 24 --ctx 512 \
  --max-connections 256 >"$T/sout" 2>"$T/serr" &
PID=$!
URL=""
i=0
while [ $i -lt 600 ]; do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/serr" 2>/dev/null | head -n 1)
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || fail "server exited early"
  sleep 0.1; i=$((i + 1))
done
[ -n "$URL" ] || fail "server did not start"
timeout 300 python3 tests/server/load.py "$URL" "$PID" || fail "load checks"
kill -TERM "$PID"; wait "$PID" || fail "serve exit status after SIGTERM"
PID=""
echo ok
