#!/bin/sh
# The chat page at / in headless Chromium (tests/server/page.mjs): loads with no console errors,
# streams stories260K text equal to the API's, sends the system prompt and settings, Stop ends a
# stream, code blocks render. Skipped (77) without chromium, node or puppeteer-core
# (PUPPETEER_NPM_DIR: a folder whose node_modules holds puppeteer-core; .ci/run installs one).
set -u
BIN=${RL_BIN:-build/rabbitllm}
CHROME=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROME" ] || { echo "no chromium"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "no node"; exit 77; }
[ -n "${PUPPETEER_NPM_DIR:-}" ] && [ -d "$PUPPETEER_NPM_DIR/node_modules/puppeteer-core" ] || { echo "no puppeteer-core (set PUPPETEER_NPM_DIR)"; exit 77; }
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
RABBITLLM_TEST_STEP_DELAY_MS=5 "$BIN" serve models/stories260K --host 127.0.0.1 --port 0 --model-name tiny --ctx 512 >"$T/out" 2>"$T/err" &
PID=$!
URL=""
i=0
while [ $i -lt 600 ]; do
  URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$T/err" 2>/dev/null | head -n 1)
  [ -n "$URL" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$T/err"; echo "FAIL: server exited"; exit 1; }
  sleep 0.1; i=$((i + 1))
done
[ -n "$URL" ] || { echo "FAIL: server did not start"; exit 1; }
HOME=$T timeout 300 node tests/server/page.mjs "$URL" "$CHROME" || { tail -n 20 "$T/err"; exit 1; }
