#!/bin/sh
# OpenAI compatibility: ../shared/tools/openai-check (the official `openai` npm client plus raw
# SSE checks) against `rabbitllm serve` on stories260K (no template of its own: the ChatML
# fallback). All 18 checks must pass. Skipped (77) without node, without the openai package
# (OPENAI_NPM_DIR: a folder whose node_modules holds openai; .ci/run installs one) or without ../shared.
set -u
BIN=${RL_BIN:-build/rabbitllm}
CHECK=../shared/tools/openai-check/check.mjs
[ -f "$CHECK" ] || { echo "no $CHECK"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "no node"; exit 77; }
[ -n "${OPENAI_NPM_DIR:-}" ] && [ -d "$OPENAI_NPM_DIR/node_modules/openai" ] || { echo "no openai npm package (set OPENAI_NPM_DIR)"; exit 77; }
T=$(mktemp -d)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
"$BIN" serve models/stories260K --host 127.0.0.1 --port 0 --model-name stories260K -n 64 >"$T/out" 2>"$T/err" &
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
grep -q "warning: .*no chat template.*ChatML" "$T/err" || { echo "FAIL: no ChatML fallback warning"; exit 1; }
OPENAI_NPM_DIR=$OPENAI_NPM_DIR timeout 600 node "$CHECK" --base-url "$URL" --model stories260K >"$T/check" 2>&1
rc=$?
cat "$T/check"
[ $rc -eq 0 ] && grep -q '^18 passed, 0 failed' "$T/check" || { echo "FAIL: openai-check (rc $rc)"; tail -n 20 "$T/err"; exit 1; }
kill -TERM "$PID"; wait "$PID"; src=$?; PID=""
[ $src -eq 0 ] || { echo "FAIL: serve exited $src after SIGTERM"; exit 1; }
echo "openai-check: 18/18"
