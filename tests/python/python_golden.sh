#!/bin/sh
# The Python module's greedy text of stories260K equals the text golden of ../shared (skipped,
# exit 77, only when ../shared is absent).
set -u
SH=${RL_SHARED:-../shared}
[ -d "$SH" ] || { echo "skipped: needs $SH"; exit 77; }
. "$(dirname "$0")/env.inc"
exec $PY "$(dirname "$0")/check_module.py" --golden "$SH/fixtures/stories260K/text_golden.json"
