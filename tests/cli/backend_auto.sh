#!/bin/sh
# `--backend auto` (src/backend/backend.c): a GPU backend that opens on a real device, else the
# cpu; a software driver (lavapipe, the Vulkan device of CI) is passed over. The run gives the
# cpu's greedy ids on stories260K.
set -e
B=${RL_BIN:-build/rabbitllm}
M=models/stories260K
line=$("$B" info "$M" --backend auto | grep "^memory plan")
case "$line" in
  *"backend cpu"*) ;;
  *llvmpipe*|*lavapipe*) echo "FAIL: auto picked a software driver: $line"; exit 1 ;;
  *"backend cuda"*|*"backend vulkan"*) ;;
  *) echo "FAIL: no backend named: $line"; exit 1 ;;
esac
a=$("$B" run "$M" --backend auto --ids 1,2,3 -n 8 --temp 0 2>/dev/null)
b=$("$B" run "$M" --backend cpu --ids 1,2,3 -n 8 --temp 0 2>/dev/null)
[ "$a" = "$b" ] || { echo "FAIL: auto gave '$a', cpu '$b'"; exit 1; }
echo ok
