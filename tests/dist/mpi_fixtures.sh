#!/bin/sh
# The MPI pipeline on every fixture with 2 and 3 ranks on this machine (tests/dist/
# test_dist_fixtures.c under mpirun), from the MPI=1 build in build-mpi (make check builds it
# where mpicc exists; RL_MPI_BUILD names another). Skipped (77) without that build, without
# mpirun or without ../shared; run in the release pass only (Open MPI is not ASan-clean).
B=${RL_MPI_BUILD:-build-mpi}
T="$B/tests/dist/test_dist_fixtures"
[ -n "$RL_SANITIZED" ] && { echo "MPI pipeline: release pass only"; exit 77; }
[ -x "$T" ] || { echo "no MPI build ($T; make MPI=1 BUILD=$B)"; exit 77; }
command -v mpirun >/dev/null 2>&1 || { echo "no mpirun (openmpi-bin)"; exit 77; }
[ -d "${RL_SHARED:-../shared}" ] || { echo "no ../shared"; exit 77; }
# as root Open MPI needs both; waiting ranks yield the CPU instead of spinning (shared cores)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
for np in 2 3; do
  out=$(timeout 900 mpirun --oversubscribe -np $np "$T" 2>&1); rc=$?
  echo "$out" | tail -n 60
  res=$(echo "$out" | grep '^RESULT ' | tail -n 1)
  [ "$rc" -eq 0 ] || { echo "FAIL: -np $np exited $rc"; exit 1; }
  case "$res" in "RESULT "*" 0 0") ;; *) echo "FAIL: -np $np: $res"; exit 1 ;; esac
  echo "ok: -np $np: $res"
done
# --profile through the pipeline: every rank's layers, in rank order, on rank 0's stderr
BIN="$B/rabbitllm"
if [ -x "$BIN" ]; then
  err=$(timeout 120 mpirun --oversubscribe -np 3 "$BIN" run "${RL_SHARED:-../shared}/fixtures/llama" --ids 1,2,3 -n 4 --profile 2>&1 >/dev/null)
  order=$(echo "$err" | grep -o 'pipeline rank [0-9] (layers [0-9]*\.\.[0-9]*)' | tr '\n' ';')
  [ "$order" = "pipeline rank 0 (layers 0..0);pipeline rank 1 (layers 1..1);pipeline rank 2 (layers 2..2);" ] ||
    { echo "$err" | tail -n 30; echo "FAIL: --profile through 3 ranks: $order"; exit 1; }
  echo "$err" | grep -q "^head 0" || { echo "FAIL: --profile: the last rank's head chunk missing"; exit 1; }
  echo "ok: --profile through 3 ranks"
  # --trace through the pipeline: the same file as one process writes
  T1=$(mktemp) T3=$(mktemp)
  "$BIN" run "${RL_SHARED:-../shared}/fixtures/llama" --ids 1,2,3 -n 3 --trace "$T1" >/dev/null 2>&1 &&
    timeout 120 mpirun --oversubscribe -np 3 "$BIN" run "${RL_SHARED:-../shared}/fixtures/llama" --ids 1,2,3 -n 3 --trace "$T3" >/dev/null 2>&1 ||
    { rm -f "$T1" "$T3"; echo "FAIL: --trace runs"; exit 1; }
  cmp -s "$T1" "$T3" || { diff "$T1" "$T3" | head -n 10; rm -f "$T1" "$T3"; echo "FAIL: --trace through 3 ranks differs from one process"; exit 1; }
  [ -s "$T1" ] || { rm -f "$T1" "$T3"; echo "FAIL: empty trace"; exit 1; }
  rm -f "$T1" "$T3"
  echo "ok: --trace through 3 ranks equals one process"
fi
