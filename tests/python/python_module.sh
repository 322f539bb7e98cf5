#!/bin/sh
# The Python module (python/rabbitllm, ctypes) over BUILD/librabbitllm.so with Debian's python3:
# tokenizer, generate/stream/chat, stop strings, cancellation, eval, errors raising.
# Sanitized builds: libasan preloaded into python3 (leak checks off for the interpreter).
set -u
. "$(dirname "$0")/env.inc"
exec $PY "$(dirname "$0")/check_module.py"
