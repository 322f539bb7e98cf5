#!/bin/sh
# Runs every libFuzzer target of BUILD/fuzz for SECONDS each (or only the targets named after it):
# corpus BUILD/fuzz-corpus/NAME (kept between runs), seeded from tests/fuzz/corpus/NAME,
# tests/fuzz/regress/NAME and files of ../shared; a crash / leak / timeout / OOM is written as
# BUILD/fuzz-crash/NAME/... (add it to tests/fuzz/regress/NAME/ once fixed). Prints per target the
# executions, coverage and features libFuzzer reports.
BUILD=${1:-build-fuzz}; SECS=${2:-60}; shift 2 2>/dev/null
SH=${RL_SHARED:-../shared}
names=${*:-$(ls "$BUILD/fuzz")}
status=0
for n in $names; do
  c="$BUILD/fuzz-corpus/$n"; mkdir -p "$c" "$BUILD/fuzz-crash/$n"
  seeds=""
  for d in tests/fuzz/corpus/$n tests/fuzz/regress/$n; do [ -d "$d" ] && seeds="$seeds $d"; done
  if [ -d "$SH" ] && [ -z "$(ls -A "$c")" ]; then      # first run: seed from ../shared
    case $n in
      st_header) for f in "$SH"/fixtures/*/model*.safetensors; do
          python3 -c 'import sys,struct;d=open(sys.argv[1],"rb").read();n=struct.unpack("<Q",d[:8])[0];sys.stdout.buffer.write(d[:8+n]+b"\x01")' "$f" >"$c/$(echo "$f" | md5sum | cut -c1-16)"; done ;;
      st_index) for f in "$SH"/fixtures/*/model.safetensors.index.json; do cp "$f" "$c/$(echo "$f" | md5sum | cut -c1-16)"; done ;;
      config) i=0; for f in "$SH"/fixtures/*/config.json "$SH"/configs/*/config.json; do
          i=$((i + 1)); { printf "\\$(printf %o $((i % 256)))"; cat "$f"; } >"$c/seed$i"; done ;;
      tok_json) ;;   # tokenizer.json files of ../shared are MBs: small seeds in tests/fuzz/corpus
      tok_encode) head -c 4000 "$SH/tokenizers/_bench/english_1mb.txt" | split -b 200 - "$c/en" ;;
      spm) cp "$SH/tokenizers/llama2_spm/tokenizer.model" "$c/llama2" 2>/dev/null ;;
      jinja) for f in "$SH"/tokenizers/*/tokenizer_config.json; do
          python3 -c 'import sys,json;t=json.load(open(sys.argv[1])).get("chat_template");t=t if isinstance(t,str) else "";sys.stdout.buffer.write(t.encode()+b"\0"+json.dumps({"messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"bos_token":"<s>","eos_token":"</s>"}).encode())' "$f" >"$c/$(echo "$f" | md5sum | cut -c1-16)"; done ;;
      gguf) for f in "$SH"/gguf/*/model.gguf; do { head -c 32767 "$f"; printf '\001'; } >"$c/$(echo "$f" | md5sum | cut -c1-16)"; done ;;
    esac
  fi
  log="$BUILD/fuzz-$n.log"
  ASAN_OPTIONS=detect_leaks=1 "$BUILD/fuzz/$n" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 ${FUZZ_MAX_LEN:+-max_len=$FUZZ_MAX_LEN} \
      -artifact_prefix="$BUILD/fuzz-crash/$n/" -print_final_stats=1 "$c" $seeds >"$log" 2>&1
  rc=$?
  execs=$(grep 'stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1 ft \2/p')
  echo "$n: ${execs:-?} executions, $cov, rc $rc"
  [ "$rc" -eq 0 ] || { status=1; grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5; }
done
exit $status
