#!/bin/sh
# Runs every test binary under BUILD/tests and every tests/**/*.sh script; closes with
# "N passed, N failed" (", N skipped" appended when some were skipped). Test binaries print
# "RESULT passed failed [skipped]"; a script exiting 77 is skipped (it needs ../shared, which a
# fresh clone lacks, or a GPU). A skip is only ever for a missing directory or device: where
# ../shared is present, a missing file in it is a failure.
BUILD=${1:-build}
pass=0; fail=0; skip=0
for t in $(find "$BUILD/tests" -type f -perm -u+x | sort); do
  out=$(timeout 900 "$t" 2>"$t.log"); rc=$?
  res=$(printf '%s\n' "$out" | grep '^RESULT ' | tail -n 1)
  if [ -n "$res" ]; then
    p=$(echo "$res" | cut -d' ' -f2); f=$(echo "$res" | cut -d' ' -f3); s=$(echo "$res" | cut -d' ' -f4)
  else p=0; f=1; s=0; fi
  [ -n "$s" ] || s=0
  [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  if [ "$f" -ne 0 ]; then echo "FAILED: $t (log: $t.log)"; grep -E 'FAIL|not ok|ERROR|Sanitizer|runtime error' "$t.log" | head -n 20; fi
  echo "$t: $p passed, $f failed, $s skipped" >&2
done
for s in $(find tests -name '*.sh' ! -name run.sh | sort); do
  log="$BUILD/$(basename "$s").log"
  RL_BIN="$BUILD/rabbitllm" RL_BUILD="$BUILD" timeout 900 sh "$s" >"$log" 2>&1; rc=$?
  if [ "$rc" -eq 0 ]; then pass=$((pass + 1)); echo "$s: ok" >&2
  elif [ "$rc" -eq 77 ]; then skip=$((skip + 1)); echo "$s: skipped ($(tail -n 1 "$log"))" >&2
  else fail=$((fail + 1)); echo "FAILED: $s"; tail -n 20 "$log"; fi
done
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
