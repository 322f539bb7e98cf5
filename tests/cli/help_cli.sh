#!/bin/sh
# `rabbitllm CMD --help` for every command (exit 0, a usage line, flags with defaults) and the
# nearest-flag suggestion of an unknown flag.
set -e
B=${RL_BIN:-build/rabbitllm}
for c in run chat serve bench info tokenize detokenize template synth quantize bench-tokenizer download; do
  out=$("$B" "$c" --help) || { echo "FAIL: $c --help exited $?"; exit 1; }
  echo "$out" | grep -q "^usage: rabbitllm $c " || { echo "FAIL: $c --help: no usage line"; exit 1; }
  echo "$out" | grep -q -- "-h, --help" || { echo "FAIL: $c --help: no flag list"; exit 1; }
done
# every flag the sources parse is in some command's --help
all=$(for c in run chat serve bench info tokenize detokenize template synth quantize bench-tokenizer download; do "$B" "$c" --help; done)
for f in $(grep -ohE 'strcmp\((a|argv\[i\]), "--[a-z0-9-]+"' src/cli/*.c | grep -oE -- '--[a-z0-9-]+' | sort -u); do
  case "$f" in --help|--version) continue ;; esac
  echo "$all" | grep -qE -- "(^| )$f( |,|$)" || { echo "FAIL: $f is parsed but in no --help"; exit 1; }
done
# each command's own source: every flag it parses is in that command's --help (cmd_tokenize.c
# holds three commands: in one of theirs); every flag line gives its default
for p in info:cmd_info.c synth:cmd_synth.c quantize:cmd_quant.c download:cmd_download.c template:cmd_template.c \
         serve:cmd_serve.c bench:cmd_bench.c run:opts.c "tokenize detokenize bench-tokenizer:cmd_tokenize.c"; do
  h=$(for c in ${p%%:*}; do "$B" "$c" --help; done)
  for f in $(grep -ohE '"--[a-z0-9-]+"' "src/cli/${p#*:}" | tr -d '"' | sort -u); do
    case "$f" in --help|--version) continue ;; esac
    echo "$h" | grep -qE -- "(^| )$f( |,|$)" || { echo "FAIL: ${p#*:} parses $f, not in: rabbitllm ${p%%:*} --help"; exit 1; }
  done
done
for c in run chat serve bench info tokenize detokenize template synth quantize bench-tokenizer download; do
  "$B" "$c" --help | grep -E '^  -' | grep -v -- '-h, --help' | grep -v "(default: [^)]" && { echo "FAIL: $c --help: a flag without a default"; exit 1; }
done
# per command: a flag of no effect there is not listed; the default is the command's own
"$B" serve --help | grep -qE -- "^  (-p, --prompt|--ids|--raw|--dump-logits) " && { echo "FAIL: serve --help lists a refused flag"; exit 1; }
"$B" serve --help | grep -q -- "--parallel N .*(default: what the memory plan allows, at most 16)" || { echo "FAIL: serve --parallel default"; exit 1; }
"$B" chat --help | grep -q -- "-n, --n-predict N .*(default: 512)" || { echo "FAIL: chat -n default"; exit 1; }
"$B" bench --help | grep -q -- "-n, --n-predict N .*(default: 8)" || { echo "FAIL: bench -n default"; exit 1; }
"$B" run --help | grep -q -- "--temp, --temperature T .*(default: 0" || { echo "FAIL: run --help lacks --temp default"; exit 1; }
"$B" quantize --help | grep -q -- "--bits 8|4 .*(default: 8)" || { echo "FAIL: quantize --help lacks --bits default"; exit 1; }
set +e
err=$("$B" run somewhere --tmep 1 2>&1); rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: unknown flag exit $rc (want 1, usage)"; exit 1; }
echo "$err" | grep -q "did you mean '--temp'" || { echo "FAIL: no suggestion: $err"; exit 1; }
err=$("$B" quantize x --bit 4 2>&1)
echo "$err" | grep -q "did you mean '--bits'" || { echo "FAIL: no suggestion: $err"; exit 1; }
err=$("$B" run x --zzzzzzzzzz 2>&1)
echo "$err" | grep -q "did you mean" && { echo "FAIL: far flag got a suggestion: $err"; exit 1; }
# a missing model directory says so; an offline hub miss says where it looked and that nothing is fetched
err=$("$B" run /nonexistent/model-dir -p hi 2>&1); rc=$?
[ "$rc" -eq 3 ] || { echo "FAIL: missing directory exit $rc (want 3, I/O)"; exit 1; }
echo "$err" | grep -q "/nonexistent/model-dir: no such directory or file" || { echo "FAIL: missing directory: $err"; exit 1; }
T=$(mktemp -d)
err=$(HF_HUB_OFFLINE=1 HF_HOME="$T" "$B" run org/name -p hi 2>&1)
rm -rf "$T"
echo "$err" | grep -q "not in the Hugging Face cache (looked for $T/hub/models--org--name/refs/main)" || { echo "FAIL: offline: $err"; exit 1; }
echo "$err" | grep -q "HF_HUB_OFFLINE is set, so nothing is fetched" || { echo "FAIL: offline fix: $err"; exit 1; }
echo ok
