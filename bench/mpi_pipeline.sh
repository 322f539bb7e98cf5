#!/bin/sh
# Issue 19 item 4: the MPI pipeline (2 ranks on this machine, each keeping its half of the
# layers resident) against one process streaming every layer, on a synthetic Qwen2.5-3B:
# s/token of one sequence, aggregate tokens/s of 8 batched prompts, the per-hop transfer time.
# Both ranks share this machine: this shows the mechanism and its overheads, not a 2-host speed-up.
#   sh bench/mpi_pipeline.sh [MODEL_DIR] [THREADS_TOTAL]
# Needs build/rabbitllm and build-mpi/rabbitllm (make MPI=1 BUILD=build-mpi); MODEL_DIR from
#   build/rabbitllm synth ../shared/configs/qwen2.5-3b/config.json /work/synth/qwen3b --dtype bf16
set -e
M=${1:-/work/synth/qwen3b}
NT=${2:-$(nproc)}
HALF=$((NT / 2)); [ "$HALF" -ge 1 ] || HALF=1
N=${N:-16}
BUDGET=${BUDGET:-3.4G}   # per rank: its half of the 3B's 6.2 GB of bf16 weights, resident
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
IDS=$(seq -s, 101 164)                       # a 64-token prompt
P=$(mktemp); trap 'rm -f "$P"' EXIT
for i in 1 2 3 4 5 6 7 8; do seq -s, $((200 + i * 50)) $((231 + i * 50)); done >"$P"   # 8 prompts of 32 ids
MPI="mpirun --oversubscribe --bind-to none -np 2 -x RL_PP_STATS"
echo "== one process, streaming every layer (--mem-budget 0), $NT threads"
build/rabbitllm run "$M" --ids "$IDS" -n "$N" --ignore-eos --mem-budget 0 -t "$NT" 2>&1 >/dev/null | tail -n 1
build/rabbitllm run "$M" --ids-file "$P" --parallel 8 -n "$N" --ignore-eos --mem-budget 0 -t "$NT" 2>&1 >/dev/null | tail -n 1
echo "== 2 ranks, each its half resident (--mem-budget $BUDGET), $HALF threads each"
RL_PP_STATS=1 $MPI build-mpi/rabbitllm run "$M" --ids "$IDS" -n "$N" --ignore-eos --mem-budget "$BUDGET" -t "$HALF" 2>&1 >/dev/null | grep -v '^$'
RL_PP_STATS=1 $MPI build-mpi/rabbitllm run "$M" --ids-file "$P" --parallel 8 -n "$N" --ignore-eos --mem-budget "$BUDGET" -t "$HALF" 2>&1 >/dev/null | grep -v '^$'
echo "== reference: one process with everything resident (--mem-budget 8G), $NT threads"
build/rabbitllm run "$M" --ids "$IDS" -n "$N" --ignore-eos --mem-budget 8G -t "$NT" 2>&1 >/dev/null | tail -n 1
build/rabbitllm run "$M" --ids-file "$P" --parallel 8 -n "$N" --ignore-eos --mem-budget 8G -t "$NT" 2>&1 >/dev/null | tail -n 1
