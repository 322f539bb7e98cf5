#!/bin/sh
# Decode under memory cgroup caps, side by side: llama.cpp (llama-bench, mmap, default flags) and
# rabbitllm (default flags: --mem-budget auto), each in a fresh v1 memory cgroup per cap, page
# cache dropped before each run. Needs root, a writable v1 memory cgroup, a llama.cpp build outside
# the repo and a GGUF of the same weights (e.g. `make bench && build/st2gguf MODEL_DIR MODEL.gguf`).
# usage: LLAMA_CPP_DIR=/path/llama.cpp/build sh bench/cap-vs-llama-cpp.sh MODEL_DIR MODEL.gguf [CAP_BYTES...]
set -u
M=$1; G=$2; shift 2
CAPS=${*:-2147483648 4294967296}
BIN=${RL_BIN:-build/rabbitllm}
LB=$LLAMA_CPP_DIR/bin/llama-bench
V1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
[ -n "$V1" ] || { echo "no v1 memory cgroup"; exit 1; }
for cap in $CAPS; do
  CG="$V1/rl-cap-$$-$cap"; mkdir "$CG" || exit 1; echo "$cap" > "$CG/memory.limit_in_bytes"
  sync; echo 3 > /proc/sys/vm/drop_caches
  echo "== cap $cap: llama.cpp (llama-bench -p 0 -n 4 -t 2 -r 1)"
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" env LD_LIBRARY_PATH="$LLAMA_CPP_DIR/bin" "$LB" -m "$G" -p 0 -n 4 -t 2 -r 1 2>&1 | grep -E "tg|error" | tail -n 2
  sync; echo 3 > /proc/sys/vm/drop_caches
  echo "== cap $cap: rabbitllm (run -n 5, default flags)"
  sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BIN" run "$M" --ids 1,2,3,4 -n 5 --temp 0 --ignore-eos --ctx 512 2>&1 >/dev/null | tail -n 1
  rmdir "$CG"
done
