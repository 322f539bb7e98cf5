/* InternLM2 family normalizer (InternLM2ForCausalLM): tok_embeddings / attention / feed_forward /
 * output names, the packed wqkv in grouped layout (per kv head: its query heads, then k, then v;
 * split by the block with strided copies, engine/block.c), w1 = gate, w3 = up, w2 = down; the optional "bias" flag covers wqkv and
 * wo. rope_scaling (dynamic / linear) is read by the generic rope code. */
#include "model/fam_dense.h"
#include "util/err.h"
#include "util/json.h"

int rl_norm_internlm2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "model.layers.%d.attention_norm.weight";
    d->wname[W_QKV] = "model.layers.%d.attention.wqkv.weight";
    d->wname[W_QKV_B] = "model.layers.%d.attention.wqkv.bias";
    d->wname[W_O] = "model.layers.%d.attention.wo.weight";
    d->wname[W_O_B] = "model.layers.%d.attention.wo.bias";
    d->wname[W_MLP_NORM] = "model.layers.%d.ffn_norm.weight";
    d->wname[W_GATE] = "model.layers.%d.feed_forward.w1.weight";
    d->wname[W_UP] = "model.layers.%d.feed_forward.w3.weight";
    d->wname[W_DOWN] = "model.layers.%d.feed_forward.w2.weight";
    d->gname[G_EMBED] = "model.tok_embeddings.weight";
    d->gname[G_FINAL_NORM] = "model.norm.weight";
    d->gname[G_LM_HEAD] = "output.weight";
    d->qkv_grouped = 1;
    int b;
    if (rl_json_bool(cfg, "bias", 0, &b, file)) return -1;
    d->qkv_bias = d->o_bias = b;
    return 0;
}
