#!/bin/sh
# A fresh clone has no ../shared: every test that reads it must be skippable. Static check: a
# tests/**/test_*.c calling t_shared() runs those cases with RUN_SHARED (tests/test.h), and a
# tests/**/*.sh reading RL_SHARED exits 77 when the directory is absent.
set -u
bad=""
for f in $(grep -rl 't_shared()' tests --include='test_*.c'); do
  grep -q 'RUN_SHARED(' "$f" || bad="$bad $f"
done
for f in $(grep -rl 'RL_SHARED' tests --include='*.sh'); do
  case "$f" in tests/run.sh|tests/packaging/shared_skips.sh|tests/packaging/examples.sh) continue;; esac
  grep -q 'exit 77' "$f" || bad="$bad $f"
done
[ -z "$bad" ] || { echo "FAIL: tests reading ../shared without a skip when it is absent:$bad"; exit 1; }
echo ok
