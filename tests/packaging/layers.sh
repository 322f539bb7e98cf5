#!/bin/sh
# Layering: the library (src/ but cli/ and server/) includes neither the CLI nor the server, and
# the server includes nothing of the CLI (both use the public text API of include/rabbitllm.h).
set -u
fail() { echo "FAIL: $*"; exit 1; }
bad=$(grep -rlE '#include "(cli|server)/' src --include='*.[ch]' | grep -vE '^src/(cli|server)/')
[ -z "$bad" ] || fail "library files include cli/ or server/: $bad"
bad=$(grep -rlE '#include "cli/' src/server)
[ -z "$bad" ] || fail "server files include cli/: $bad"
echo ok
