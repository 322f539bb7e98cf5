/* Writes a GGUF file (v3) from a safetensors checkpoint so llama.cpp can run the same weights
 * (bench/vs-llama-cpp.sh). Now a thin wrapper over the product's writer
 * (`rabbitllm quantize MODEL_DIR --gguf OUT.gguf --type bf16`, src/quant/gguf_export.c):
 * matrices BF16 (default) or the type given, norms F32, llama.cpp's names and Q/K permutation;
 * synthetic checkpoints without a tokenizer get vocab "none" (enough for llama-bench).
 * Build: make bench   Run: build/st2gguf MODEL_DIR OUT.gguf [f32|f16|bf16|q8_0|q4_0|q4_1] */
#include "quant/gguf_export.h"
#include "util/err.h"
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) { fprintf(stderr, "usage: st2gguf MODEL_DIR OUT.gguf [TYPE]\n"); return 2; }
    rl_gguf_xtype t = RL_GX_BF16;
    if (argc == 4 && rl_gguf_xtype_parse(argv[3], &t)) { fprintf(stderr, "error: %s\n", rl_errmsg()); return 2; }
    rl_gguf_export_stats st;
    if (rl_gguf_export(argv[1], argv[2], t, &st, NULL, NULL)) { fprintf(stderr, "error: %s\n", rl_errmsg()); return 1; }
    fprintf(stderr, "wrote %s: %d tensors (%s)\n", argv[2], st.n_tensors, st.arch);
    return 0;
}
