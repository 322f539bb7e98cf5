#!/bin/sh
# Decode speed under a memory cgroup cap (default flags, --mem-budget auto) against the cold-disk
# floor measured in the same run: (1 - f) x checkpoint bytes / cold sequential read speed, where
# f is the fraction resident (cold read: the faster of cat and dd iflag=direct, before and after
# the run); also against the loader's own read rate during the run (--profile's total GB/s),
# which is the tighter floor when O_DIRECT with large requests beats dd. Needs root and a
# writable v1 or v2 memory cgroup.
# usage: bench/cgroup_cap.sh MODEL_DIR CAP_BYTES [N_TOKENS]   (RL_BIN=build/rabbitllm)
set -u
BIN=${RL_BIN:-build/rabbitllm}
M=$1; CAP=$2; N=${3:-4}
V1=$(awk '$9 == "cgroup" && $NF ~ /(^|,)memory(,|$)/ { print $5; exit }' /proc/self/mountinfo)
V2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
if [ -n "$V1" ] && mkdir "$V1/rl-bench-$$" 2>/dev/null; then CG="$V1/rl-bench-$$"; echo "$CAP" >"$CG/memory.limit_in_bytes"; PEAK=$CG/memory.max_usage_in_bytes
elif [ -n "$V2" ] && mkdir "$V2/rl-bench-$$" 2>/dev/null; then CG="$V2/rl-bench-$$"; echo "$CAP" >"$CG/memory.max"; PEAK=$CG/memory.peak
else echo "no writable memory cgroup"; exit 1; fi
trap 'rmdir "$CG" 2>/dev/null' EXIT
drop() { python3 -c 'import os,sys
for f in sys.argv[1:]:
    fd=os.open(f,os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)' "$M"/*.safetensors; }
bytes=$(cat "$M"/*.safetensors | wc -c)
# cold sequential read of the whole checkpoint (the disk floor), before and after the run
# (the faster of a plain sequential read and 64 MiB O_DIRECT reads)
rd() { drop; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$s $e" | awk -v b="$bytes" '{ print b / ($2 - $1) }'; }
disk() { a=$(rd cat "$M"/*.safetensors); b=$(rd sh -c 'for f in "$@"; do dd if="$f" of=/dev/null bs=64M iflag=direct; done' sh "$M"/*.safetensors); drop
  echo "$a $b" | awk '{ print ($1 > $2 ? $1 : $2) }'; }
d1=$(disk)
drop
out=$(sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' sh "$CG" "$BIN" run "$M" --ids 1,2,3,4 -n "$N" --temp 0 --ignore-eos --ctx 512 --profile 2>&1 >/dev/null)
rc=$?
d2=$(disk)
[ $rc -eq 0 ] || { echo "run failed (rc $rc): $(echo "$out" | tail -n 3)"; exit 1; }
gen=$(echo "$out" | sed -n 's/.* generated in \([0-9.]*\) s ([0-9.]* tok\/s, \([0-9]*\) sweeps.*/\2 \1/p' | head -n 1)
res=$(echo "$out" | sed -n 's/^\* resident: .*, \([0-9.]*\) MB kept.*/\1/p')
[ -n "$res" ] || res=0
peak=$(cat "$PEAK")
lrate=$(echo "$out" | awk '$1 == "total" { print $NF * 1e9; exit }')   # the loader's own read rate in this run
echo "$gen $res $d1 $d2 $bytes $peak $CAP $lrate" | awk '{
  n = $1; s = $2; res = $3 * 1e6; disk = ($4 + $5) / 2; f = res / $6;
  spt = s / n; floor = (1 - f) * $6 / disk;
  printf "cap %.2f GiB: %.3f s/token (%d decode sweeps), resident f = %.2f (%.0f MB), cold disk %.2f GB/s (%.2f, %.2f), floor (1-f) x %.2f GB / disk = %.3f s, ratio %.2f, peak %.2f GiB\n",
         $8 / 1073741824, spt, n, f, res / 1e6, disk / 1e9, $4 / 1e9, $5 / 1e9, $6 / 1e9, floor, spt / floor, $7 / 1073741824;
  if ($9 > 0) printf "  vs the loader'"'"'s own read rate in this run (%.2f GB/s, O_DIRECT): floor %.3f s, ratio %.2f\n", $9 / 1e9, (1 - f) * $6 / $9, spt / ((1 - f) * $6 / $9) }'
echo "$out" | grep "memory budget"
