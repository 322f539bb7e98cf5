#!/bin/sh
# GGUF files as a model source, side by side with llama.cpp on the same files: resident decode
# and prefill tokens/s (rabbitllm `bench FILE --resident` vs `llama-bench`), runs interleaved,
# medians of REPS; and rabbitllm's streaming decode s/token against the cold disk read of the same bytes
# (`bench FILE`, line (a): its ratio is s/token over the disk floor). Usage:
#   LLAMA_CPP_DIR=/path/to/llama.cpp/build sh bench/gguf-vs-llama-cpp.sh [CONFIG_DIR]
# CONFIG_DIR: an HF config folder (default ../shared/configs/qwen2.5-1.5b); synthetic bf16 weights
# are made with `rabbitllm synth`, converted with build/st2gguf (`make bench`) and quantized by
# llama.cpp's llama-quantize to TYPES (default "Q8_0 Q4_0 Q4_K_M"). Env: REPS (5), THREADS (2),
# NGEN (32), PREFILL (prompt lengths of the prefill columns, default "128"; e.g. "128 2048"),
# WORK (/tmp/rl-vs-llama), RL_BIN, ST2GGUF, LL_ARGS.
set -eu
: "${LLAMA_CPP_DIR:?set LLAMA_CPP_DIR to a llama.cpp build directory}"
REPS=${REPS:-5}; THREADS=${THREADS:-2}; NGEN=${NGEN:-32}; WORK=${WORK:-/tmp/rl-vs-llama}
TYPES=${TYPES:-"Q8_0 Q4_0 Q4_K_M"}
PREFILL=${PREFILL:-128}; PPL=$(echo $PREFILL | tr ' ' ',')
RL_BIN=${RL_BIN:-build/rabbitllm}; ST2GGUF=${ST2GGUF:-build/st2gguf}
LB=$LLAMA_CPP_DIR/bin/llama-bench; LQ=$LLAMA_CPP_DIR/bin/llama-quantize
for f in "$LB" "$LQ" "$RL_BIN" "$ST2GGUF"; do [ -x "$f" ] || { echo "missing $f" >&2; exit 1; }; done
cfg=${1:-../shared/configs/qwen2.5-1.5b}
name=$(basename "$cfg"); dir=$WORK/$name
mkdir -p "$WORK"
[ -f "$dir/model.safetensors" ] || [ -f "$dir/model.safetensors.index.json" ] || "$RL_BIN" synth "$cfg/config.json" "$dir" --dtype bf16 >&2
[ -f "$WORK/$name-bf16.gguf" ] || "$ST2GGUF" "$dir" "$WORK/$name-bf16.gguf"
for t in $TYPES; do
  f=$WORK/$name-$(echo "$t" | tr A-Z a-z).gguf
  [ -f "$f" ] || "$LQ" "$WORK/$name-bf16.gguf" "$f" "$t" "$THREADS" >/dev/null 2>&1
done
med() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "nan"}'; }
# "decode prefill..." tokens/s, the prefill figures in PREFILL's order ("nan" where one is missing)
rl() { "$RL_BIN" bench "$1" --resident -n "$NGEN" --pp "$PPL" --threads "$THREADS" 2>/dev/null |
       awk -v L="$PREFILL" 'BEGIN {n=split(L, P, " "); d="nan"} /^decode/ {d=$2} /^prefill/ {v[$2]=$3}
            END {printf "%s", d; for (i=1;i<=n;i++) printf " %s", (P[i] in v ? v[P[i]] : "nan"); print ""}'; }
llcsv() { awk -F, 'NR==1 {for (i=1;i<=NF;i++) {gsub(/"/,"",$i); if ($i=="avg_ts") c=i; if ($i=="n_prompt") np=i}}
                   NR>1 {gsub(/"/,"",$c); gsub(/"/,"",$np); v[$np]=$c} END {for (k in v) print k, v[k]}'; }
ll() { d=$("$LB" -m "$1" -t "$THREADS" -p 0 -n "$NGEN" -r 1 -o csv ${LL_ARGS:-} 2>/dev/null | llcsv | awk '$1==0 {print $2}')
       p=$("$LB" -m "$1" -t "$THREADS" -p "$PPL" -n 0 -r 1 -o csv ${LL_ARGS:-} 2>/dev/null | llcsv)
       printf "%s" "${d:-nan}"; for n in $PREFILL; do printf " %s" "$(echo "$p" | awk -v n="$n" '$1==n {print $2}' | grep . || echo nan)"; done; echo; }
# streaming: "(a) cold decode X s/token disk limit ... Y s ratio R"
st() { "$RL_BIN" bench "$1" -n 3 --threads "$THREADS" 2>/dev/null | awk '/^\(a\)/ {for (i=1;i<=NF;i++) if ($i=="ratio") print $4, $(i+1)}'; }
out=$WORK/$name-gguf.runs; : > "$out"
for r in $(seq "$REPS"); do
  for t in $TYPES; do
    f=$WORK/$name-$(echo "$t" | tr A-Z a-z).gguf
    echo "rl $t $(rl "$f")" >> "$out"; echo "ll $t $(ll "$f")" >> "$out"
  done
done
for t in $TYPES; do
  f=$WORK/$name-$(echo "$t" | tr A-Z a-z).gguf
  echo "st $t $(st "$f")" >> "$out"
done
get() { awk -v e="$1" -v k="$2" '$1" "$2==e && $(k+2)!="nan" {print $(k+2)}' "$out" | med; }
echo; echo "$name GGUF, $THREADS threads, resident decode medians of $REPS interleaved runs (tokens/s); streaming: one bench run"
echo "| file | rabbitllm tok/s | llama.cpp tok/s | ratio | streamed s/token | vs disk floor |"; echo "|---|---|---|---|---|---|"
for t in $TYPES; do
  a=$(get "rl $t" 1); b=$(get "ll $t" 1); s=$(get "st $t" 1); q=$(get "st $t" 2)
  printf '| %s | %.2f | %.2f | %.2fx | %s | %sx |\n' "$t" "$a" "$b" "$(echo "$a $b" | awk '{print $1/$2}')" "$s" "$q"
done
echo; echo "resident prefill, medians of $REPS interleaved runs (tokens/s)"
echo "| file | prompt | rabbitllm tok/s | llama.cpp tok/s | ratio |"; echo "|---|---|---|---|---|"
for t in $TYPES; do
  k=2
  for n in $PREFILL; do
    a=$(get "rl $t" $k); b=$(get "ll $t" $k)
    printf '| %s | %s | %.2f | %.2f | %.2fx |\n' "$t" "$n" "$a" "$b" "$(echo "$a $b" | awk '{print ($2 > 0 ? $1/$2 : "nan")}')"
    k=$((k + 1))
  done
done
