#!/bin/sh
# Exit statuses (src/cli/exitcode.h, README "Exit status", man page EXIT STATUS): each one
# provoked through the CLI, and the message names the cause. 0 ok, 1 usage, 2 bad input, 3 I/O,
# 4 out of memory / memory plan, 5 network / hub, 6 backend not available.
set -u
B=${RL_BIN:-build/rabbitllm}
M=models/stories260K
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# want CODE PATTERN CMD...: runs CMD, checks its exit status and that stderr matches PATTERN
want() {
  code=$1 pat=$2; shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null; rc=$?
  [ "$rc" -eq "$code" ] || fail "exit $rc (want $code): $* : $(head -c 400 "$T/err")"
  grep -q -- "$pat" "$T/err" || fail "stderr of '$*' lacks '$pat': $(head -c 400 "$T/err")"
}
export HF_HOME="$T/hf" HF_HUB_OFFLINE=1
unset HF_HUB_CACHE XDG_CACHE_HOME 2>/dev/null || true

# 0
"$B" run "$M" --ids 1,2,3 -n 2 >/dev/null 2>&1 || fail "a good run exited $?"
# 1: usage
want 1 "usage: rabbitllm" "$B"
want 1 "unknown command 'rnu'; did you mean 'run'" "$B" rnu
want 1 "did you mean 'quantize'" "$B" quant
want 1 "did you mean 'tokenize'" "$B" tokenise
want 1 "did you mean '--temp'" "$B" run "$M" --tmep 1
want 1 "needs a number" "$B" run "$M" --top-p 7
want 1 "--ctx needs a whole number" "$B" info "$M" --ctx abc
want 1 "--expert-cache needs a size" "$B" run "$M" --expert-cache lots
want 1 "--moe-cpu-rows needs a count" "$B" info "$M" --moe-cpu-rows 0
want 1 "missing MODEL_DIR" "$B" chat
want 1 "did you mean '--bits'" "$B" quantize "$M" --bit 4
want 1 "did you mean '--jsonl'" "$B" tokenize "$M" --jsonll
want 1 "did you mean '--jsonl'" "$B" template "$M" --json
want 1 "did you mean '--revision'" "$B" download org/name --revison x
want 1 "not a hub repo id" "$B" download not-a-repo-id
want 1 "bad --shard-size" "$B" synth "$M/config.json" "$T/s" --shard-size lots
want 1 "--repeat needs a number" "$B" bench-tokenizer "$M" "$M/config.json" --repeat 0
# 2: bad input (files that exist but are malformed or unsupported)
mkdir "$T/bad"; cp "$M"/tokenizer*.json "$T/bad/"; printf '{"model_type": ' >"$T/bad/config.json"
want 2 "config.json" "$B" run "$T/bad" --ids 1,2 -n 1
printf 'not json' >"$T/bad/tokenizer.json"
want 2 "tokenizer.json" "$B" tokenize "$T/bad" hello
want 1 "option .--backend. needs a value" "$B" run "$M" --backend
want 2 "unknown backend 'nosuch'" "$B" run "$M" --ids 1 -n 1 --backend nosuch
# 3: I/O (missing directories and files, unwritable places)
want 3 "/nonexistent/model: no such directory" "$B" run /nonexistent/model -p hi
want 3 "/nonexistent/model: no such directory" "$B" info /nonexistent/model
want 3 "/nonexistent/file" "$B" bench-tokenizer "$M" /nonexistent/file
want 3 "/nonexistent/prompts" "$B" run "$M" --prompts /nonexistent/prompts
want 3 "/nonexistent/conf.json" "$B" synth /nonexistent/conf.json "$T/s2"
: >"$T/file"
want 3 "$T/file" "$B" synth "$M/config.json" "$T/file/sub"
mkdir "$T/empty"
want 3 "config.json" "$B" info "$T/empty"
# 4: the memory plan does not fit
want 4 "does not fit.*--ctx" "$B" run "$M" --ids 1,2,3 -n 2 --ctx 1000000000
want 4 "does not fit" "$B" info "$M" --ctx 1000000000
# 5: network / hub: a hub id not in the offline cache; a hub that does not answer
want 5 "not in the Hugging Face cache" "$B" run org/name -p hi
want 5 "not in the Hugging Face cache" "$B" tokenize org/name hi
want 5 "cannot resolve host" "$B" serve "$M" --host 256.0.0.1 --port 8080
# a port another process listens on: refused before the model is loaded
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$T/port" &
LP=$!
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
want 5 "cannot listen on 127.0.0.1:$(cat "$T/port"): Address already in use" "$B" serve "$M" --port "$(cat "$T/port")"
kill "$LP"; wait "$LP" 2>/dev/null
want 5 "cannot fetch" env -u HF_HUB_OFFLINE HF_ENDPOINT=http://127.0.0.1:9 "$B" download org/name --quiet
# 6: a backend not built into this binary
if ! "$B" info "$M" --backend cuda >/dev/null 2>&1; then
  want 6 "backend cuda is not built in" "$B" run "$M" --ids 1 -n 1 --backend cuda
fi
# a device backend that is built in but cannot open its device (an out-of-range device index);
# not under the sanitizers: the Vulkan driver's own allocations show up as leaks there
if [ -z "${RL_SANITIZED:-}" ] && "$B" run "$M" --ids 1 -n 1 --backend nosuch 2>&1 | grep -q "this build has:.*vulkan"; then
  want 6 "RL_VULKAN_DEVICE=99" env RL_VULKAN_DEVICE=99 "$B" run "$M" --ids 1 -n 1 --backend vulkan
fi
echo ok
