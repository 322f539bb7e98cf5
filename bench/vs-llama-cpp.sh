#!/bin/sh
# Side-by-side CPU speed of rabbitllm and llama.cpp on the same synthetic weights, all resident,
# runs interleaved, medians of REPS. Usage:
#   LLAMA_CPP_DIR=/path/to/llama.cpp/build sh bench/vs-llama-cpp.sh [CONFIG_DIR...]
# LLAMA_CPP_DIR: a llama.cpp CMake build directory (bin/llama-bench, bin/llama-quantize), built
# from its public source outside this repository. CONFIG_DIRs: HF config folders (default: the
# Qwen2.5-0.5B and 1.5B configs in ../shared/configs). Env: REPS (5), THREADS (2), NGEN (32 decode
# tokens), PP_LONG (2048: the long prefill; 0 leaves it out), WORK (/tmp/rl-vs-llama: checkpoints
# and GGUFs), RL_BIN (build/rabbitllm), ST2GGUF (build/st2gguf; `make bench`), LL_ARGS (extra
# llama-bench flags, e.g. "--poll 0" on a busy machine).
# Prints one ratio table per model: rabbitllm / llama.cpp tokens/s
# (> 1: rabbitllm faster).
set -eu
: "${LLAMA_CPP_DIR:?set LLAMA_CPP_DIR to a llama.cpp build directory}"
REPS=${REPS:-5}; THREADS=${THREADS:-2}; NGEN=${NGEN:-32}; WORK=${WORK:-/tmp/rl-vs-llama}; PP_LONG=${PP_LONG:-2048}
PPS=128; [ "$PP_LONG" -gt 0 ] && PPS=128,$PP_LONG
RL_BIN=${RL_BIN:-build/rabbitllm}; ST2GGUF=${ST2GGUF:-build/st2gguf}
LB=$LLAMA_CPP_DIR/bin/llama-bench; LQ=$LLAMA_CPP_DIR/bin/llama-quantize
for f in "$LB" "$LQ" "$RL_BIN" "$ST2GGUF"; do [ -x "$f" ] || { echo "missing $f" >&2; exit 1; }; done
[ $# -gt 0 ] || set -- ../shared/configs/qwen2.5-0.5b ../shared/configs/qwen2.5-1.5b
mkdir -p "$WORK"

med() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "nan"}'; }
# rabbitllm: decode, prefill-128 and prefill-PP_LONG tokens/s from `bench --resident` (extra flags:
# --quant N, --compute bf16); "nan" for a figure it did not print
rl() { "$RL_BIN" bench "$1" --resident -n "$NGEN" --pp "$PPS" --threads "$THREADS" $2 2>/dev/null |
       awk -v L="$PP_LONG" 'BEGIN {d="nan"; p="nan"; q="nan"} /^decode/ {d=$2} /^prefill/ {if ($2==128) p=$3; else if ($2==L) q=$3} END {print d, p, q}'; }
# llama.cpp: tg NGEN, pp 128 and pp PP_LONG tokens/s from llama-bench (csv: the avg_ts column)
ll() { "$LB" -m "$1" -t "$THREADS" -p "$PPS" -n "$NGEN" -r 1 -o csv ${LL_ARGS:-} 2>/dev/null |
       awk -F, -v L="$PP_LONG" 'BEGIN {d="nan"; p="nan"; q="nan"} NR==1 {for (i=1;i<=NF;i++) {gsub(/"/,"",$i); if ($i=="avg_ts") c=i; if ($i=="n_prompt") np=i}}
            NR>1 {gsub(/"/,"",$c); gsub(/"/,"",$np); if ($np==128) p=$c; else if ($np==L && L>0) q=$c; else if ($np==0) d=$c} END {print d, p, q}'; }

for cfg in "$@"; do
  name=$(basename "$cfg"); dir=$WORK/$name
  [ -f "$dir/model.safetensors" ] || [ -f "$dir/model.safetensors.index.json" ] || "$RL_BIN" synth "$cfg/config.json" "$dir" --dtype bf16 >&2
  [ -f "$WORK/$name-bf16.gguf" ] || "$ST2GGUF" "$dir" "$WORK/$name-bf16.gguf"
  for t in f16 q8_0 q4_0; do
    [ -f "$WORK/$name-$t.gguf" ] || "$LQ" "$WORK/$name-bf16.gguf" "$WORK/$name-$t.gguf" "$(echo $t | tr a-z A-Z)" "$THREADS" >/dev/null 2>&1
  done
  "$RL_BIN" quantize "$dir" --bits 8 >/dev/null 2>&1; "$RL_BIN" quantize "$dir" --bits 4 >/dev/null 2>&1
  out=$WORK/$name.runs; : > "$out"
  for r in $(seq "$REPS"); do
    echo "rl bf16 $(rl "$dir" "")" >> "$out"; echo "ll bf16 $(ll "$WORK/$name-bf16.gguf")" >> "$out"
    echo "ll f16 $(ll "$WORK/$name-f16.gguf")" >> "$out"
    echo "rl bf16c $(rl "$dir" "--compute bf16")" >> "$out"
    echo "rl q8 $(rl "$dir" "--quant 8")" >> "$out"; echo "ll q8_0 $(ll "$WORK/$name-q8_0.gguf")" >> "$out"
    echo "rl q8c $(rl "$dir" "--quant 8 --compute bf16")" >> "$out"
    echo "rl q4 $(rl "$dir" "--quant 4")" >> "$out"; echo "ll q4_0 $(ll "$WORK/$name-q4_0.gguf")" >> "$out"
  done
  get() { awk -v e="$1" -v k="$2" '$1" "$2==e && $(k+2)!="nan" {print $(k+2)}' "$out" | med; }
  row() { a=$(get "$2" "$4"); b=$(get "$3" "$4"); printf '| %-50s | %9.2f | %9.2f | %5.2fx |\n' "$1" "$a" "$b" "$(echo "$a $b" | awk '{print ($2 > 0 ? $1/$2 : "nan")}')"; }
  echo; echo "$name, $THREADS threads, medians of $REPS interleaved runs (tokens/s)"
  echo "| | rabbitllm | llama.cpp | ratio |"; echo "|---|---|---|---|"
  row "decode bf16 vs llama.cpp bf16" "rl bf16" "ll bf16" 1
  row "decode bf16 vs llama.cpp f16" "rl bf16" "ll f16" 1
  row "prefill 128, bf16 vs llama.cpp bf16" "rl bf16" "ll bf16" 2
  row "prefill 128, --compute bf16 vs llama.cpp bf16" "rl bf16c" "ll bf16" 2
  row "decode --quant 8 (Q8_0) vs llama.cpp q8_0" "rl q8" "ll q8_0" 1
  row "decode --quant 4 (Q4_1) vs llama.cpp q4_0" "rl q4" "ll q4_0" 1
  row "prefill 128, Q4_1 vs q4_0" "rl q4" "ll q4_0" 2
  row "prefill 128, Q8_0 vs q8_0" "rl q8" "ll q8_0" 2
  row "prefill 128, Q8_0 --compute bf16 (int8) vs q8_0" "rl q8c" "ll q8_0" 2
  if [ "$PP_LONG" -gt 0 ]; then
    row "prefill $PP_LONG, bf16 vs llama.cpp bf16" "rl bf16" "ll bf16" 3
    row "prefill $PP_LONG, --compute bf16 vs llama.cpp bf16" "rl bf16c" "ll bf16" 3
    row "prefill $PP_LONG, Q8_0 vs q8_0" "rl q8" "ll q8_0" 3
    row "prefill $PP_LONG, Q8_0 --compute bf16 vs q8_0" "rl q8c" "ll q8_0" 3
    row "prefill $PP_LONG, Q4_1 vs q4_0" "rl q4" "ll q4_0" 3
  fi
done
