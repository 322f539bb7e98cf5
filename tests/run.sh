#!/bin/sh
# Runs every test binary under BUILD/tests and every tests/**/*.sh script; closes with
# "N passed, N failed" (", N skipped" appended when some were skipped). Test binaries print
# "RESULT passed failed [skipped]"; a script exiting 77 is skipped (it needs ../shared, which a
# fresh clone lacks, or a GPU). A skip is only ever for a missing directory or device: where
# ../shared is present, a missing file in it is a failure.
# Independent tests run RL_TEST_JOBS at a time (default: the number of CPUs); the ones that
# measure memory or time or run make (SERIAL below) run alone afterwards. RL_TEST_JOBS=1: one at a time.
BUILD=${1:-build}
SERIAL='test_streaming_memory test_long_context test_memlimit cgroup_budget.sh budget_cli.sh bench_cli.sh crash_safe.sh install.sh examples.sh device_check.sh load.sh'

# One test: "t BIN" or "s SCRIPT"; writes "pass fail skip" to RES/<n>, messages to RES/<n>.out.
if [ "$2" = "--one" ]; then
  kind=$3; t=$4; out=$5
  if [ "$kind" = t ]; then
    o=$(timeout 900 "$t" 2>"$t.log"); rc=$?
    res=$(printf '%s\n' "$o" | grep '^RESULT ' | tail -n 1)
    if [ -n "$res" ]; then
      p=$(echo "$res" | cut -d' ' -f2); f=$(echo "$res" | cut -d' ' -f3); s=$(echo "$res" | cut -d' ' -f4)
    else p=0; f=1; s=0; fi
    [ -n "$s" ] || s=0
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    { if [ "$f" -ne 0 ]; then echo "FAILED: $t (log: $t.log)"; grep -E 'FAIL|not ok|ERROR|Sanitizer|runtime error' "$t.log" | head -n 20; fi; } >"$out.out"
    echo "$t: $p passed, $f failed, $s skipped" >"$out.err"
  else
    log="$BUILD/$(basename "$t").log"
    RL_BIN="$BUILD/rabbitllm" RL_BUILD="$BUILD" timeout 900 sh "$t" >"$log" 2>&1; rc=$?
    if [ "$rc" -eq 0 ]; then p=1; f=0; s=0; echo "$t: ok" >"$out.err"; : >"$out.out"
    elif [ "$rc" -eq 77 ]; then p=0; f=0; s=1; echo "$t: skipped ($(tail -n 1 "$log"))" >"$out.err"; : >"$out.out"
    else p=0; f=1; s=0; echo "$t: failed" >"$out.err"; { echo "FAILED: $t"; tail -n 20 "$log"; } >"$out.out"; fi
  fi
  echo "$p $f $s" >"$out"
  exit 0
fi

JOBS=${RL_TEST_JOBS:-$(nproc 2>/dev/null || echo 1)}
RES=$(mktemp -d)
trap 'rm -rf "$RES"' EXIT
par="$RES/par"; ser="$RES/ser"; : >"$par"; : >"$ser"
i=0
add() {   # kind path
  i=$((i + 1))
  case " $SERIAL " in *" $(basename "$2") "*) echo "$1 $2 $RES/$i" >>"$ser" ;; *) echo "$1 $2 $RES/$i" >>"$par" ;; esac
}
for t in $(find "$BUILD/tests" -type f -perm -u+x | sort); do add t "$t"; done
for s in $(find tests -name '*.sh' ! -name run.sh | sort); do add s "$s"; done
# the slowest first would be better; sorted order keeps the log stable
xargs -P "$JOBS" -L 1 sh "$0" "$BUILD" --one <"$par"
xargs -P 1 -L 1 sh "$0" "$BUILD" --one <"$ser"
pass=0; fail=0; skip=0
for r in $(cut -d' ' -f3 "$par" "$ser"); do
  read -r p f s <"$r" || { p=0; f=1; s=0; }
  pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
  cat "$r.out" 2>/dev/null
  cat "$r.err" >&2 2>/dev/null
done
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
