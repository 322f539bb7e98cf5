#!/bin/sh
# Runs every test binary under BUILD/tests and every tests/**/*.sh script; prints "N passed, N failed".
BUILD=${1:-build}
pass=0; fail=0; failed_names=""
for t in $(find "$BUILD/tests" -type f -perm -u+x | sort); do
  out=$(timeout 900 "$t" 2>"$t.log"); rc=$?
  res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
  if [ -n "$res" ]; then
    p=$(echo "$res" | cut -d' ' -f2); f=$(echo "$res" | cut -d' ' -f3)
  else p=0; f=1; fi
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  pass=$((pass + p)); fail=$((fail + f))
  if [ "$f" -ne 0 ]; then failed_names="$failed_names $t"; echo "FAILED: $t (log: $t.log)"; grep -E 'FAIL|not ok|ERROR|Sanitizer|runtime error' "$t.log" | head -n 20; fi
  echo "$t: $p passed, $f failed" >&2
done
for s in $(find tests -name '*.sh' ! -name run.sh | sort); do
  if RL_BIN="$BUILD/rabbitllm" timeout 900 sh "$s" >"$BUILD/$(basename "$s").log" 2>&1; then pass=$((pass + 1)); echo "$s: ok" >&2
  else fail=$((fail + 1)); echo "FAILED: $s"; tail -n 20 "$BUILD/$(basename "$s").log"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
