#!/bin/sh
# The Python module (python/rabbitllm, ctypes) over BUILD/librabbitllm.so with Debian's python3:
# tokenizer, generate/stream/chat, stop strings, cancellation, eval, errors raising; the ctypes
# mirrors of the public structs have the C compiler's sizes and field offsets.
# Sanitized builds: libasan preloaded into python3 (leak checks off for the interpreter).
set -u
. "$(dirname "$0")/env.inc"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# sizes and offsets as C sees them, one line per struct: name size field=offset ...
cat >"$T/layout.c" <<'C'
#include "rabbitllm.h"
#include <stddef.h>
#include <stdio.h>
#define F(T, f) printf(" %s=%zu", #f, offsetof(T, f))
int main(void) {
    printf("rl_model_opts %zu", sizeof(rl_model_opts)); F(rl_model_opts, n_threads); F(rl_model_opts, ctx);
    F(rl_model_opts, max_batch); F(rl_model_opts, n_seq); F(rl_model_opts, mem_budget); F(rl_model_opts, kv_type);
    F(rl_model_opts, backend); F(rl_model_opts, gpu_mem); F(rl_model_opts, expert_cache); F(rl_model_opts, moe_cpu_rows);
    printf("\nrl_session_opts %zu", sizeof(rl_session_opts)); F(rl_session_opts, model); F(rl_session_opts, raw); F(rl_session_opts, draft_model); F(rl_session_opts, draft_tokens); F(rl_session_opts, draft_backend); F(rl_session_opts, draft_fixed);
    printf("\nrl_sampling %zu", sizeof(rl_sampling)); F(rl_sampling, temperature); F(rl_sampling, top_k);
    F(rl_sampling, top_p); F(rl_sampling, min_p); F(rl_sampling, repetition_penalty); F(rl_sampling, seed);
    printf("\nrl_gen_params %zu", sizeof(rl_gen_params)); F(rl_gen_params, max_tokens); F(rl_gen_params, sampling);
    F(rl_gen_params, ignore_eos); F(rl_gen_params, draft); F(rl_gen_params, stop); F(rl_gen_params, n_stop);
    F(rl_gen_params, on_text); F(rl_gen_params, user); F(rl_gen_params, cancel); F(rl_gen_params, on_reasoning);
    printf("\nrl_gen_info %zu", sizeof(rl_gen_info)); F(rl_gen_info, finish); F(rl_gen_info, ctx_full);
    F(rl_gen_info, n_prompt); F(rl_gen_info, n_reused); F(rl_gen_info, n_gen); F(rl_gen_info, prefill_s);
    F(rl_gen_info, decode_s); F(rl_gen_info, drafted); F(rl_gen_info, accepted);
    F(rl_gen_info, sweeps); F(rl_gen_info, draft_s); F(rl_gen_info, target_read_s); F(rl_gen_info, target_compute_s);
    printf("\n");
    return 0;
}
C
cc -std=c11 -Iinclude -o "$T/layout" "$T/layout.c" && "$T/layout" >"$T/layout.txt" || { echo "FAIL: layout program"; exit 1; }
RL_C_LAYOUT="$T/layout.txt" $PY "$(dirname "$0")/check_module.py" || exit 1
