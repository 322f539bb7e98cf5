#!/bin/sh
# `serve` limits on stories260K, each step slowed to 20 ms (RABBITLLM_TEST_STEP_DELAY_MS) so
# requests overlap: one slot and a queue of one (a third request gets 503 + Retry-After), SSE
# keep-alive comments while a stream waits in the queue, a stream or a non-streamed request whose
# client hangs up frees its slot at the next step (running and queued), --api-key (401 without,
# /health open), --cors with OPTIONS preflight, the idle timeout and the connection cap.
set -u
BIN=${RL_BIN:-build/rabbitllm}
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/serr" ] && tail -n 20 "$T/serr"; exit 1; }
RABBITLLM_TEST_STEP_DELAY_MS=20 RABBITLLM_API_KEY=sekrit "$BIN" serve models/stories260K --host 127.0.0.1 --port 0 \
  --model-name tiny --parallel 1 --queue 1 --sse-keepalive 1 --timeout 2 --max-connections 12 \
  --cors http://127.0.0.1:9 --ctx 512 --ignore-eos >"$T/sout" 2>"$T/serr" &
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
timeout 300 python3 tests/server/queue.py "$URL" || fail "queue checks"
kill -TERM "$PID"; wait "$PID" || fail "serve exit status after SIGTERM"
PID=""
echo ok
