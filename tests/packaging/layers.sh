#!/bin/sh
# Layering: the library (src/ but cli/ and server/) includes neither the CLI nor the server; the
# server includes nothing of the CLI and no library internals (only include/rabbitllm.h, the
# public text API), nor do the CLI's chat and serve commands and their glue (clitext).
set -u
fail() { echo "FAIL: $*"; exit 1; }
bad=$(grep -rlE '#include "(cli|server)/' src --include='*.[ch]' | grep -vE '^src/(cli|server)/')
[ -z "$bad" ] || fail "library files include cli/ or server/: $bad"
bad=$(grep -rlE '#include "cli/' src/server)
[ -z "$bad" ] || fail "server files include cli/: $bad"
bad=$(grep -hE '#include "' src/server/*.[ch] src/cli/cmd_chat.c src/cli/cmd_serve.c src/cli/clitext.[ch] |
      grep -vE '#include "(server/[a-z_]+\.h|cli/[a-z_]+\.h|rabbitllm\.h)"')
[ -z "$bad" ] || fail "internal headers in the server / chat / serve: $bad"
echo ok
