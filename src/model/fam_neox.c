/* GPT-NeoX (GPTNeoXForCausalLM: EleutherAI's Pythia suite 14M-12B, GPT-NeoX-20B, and the models
 * trained on its code: RedPajama-INCITE, StableLM-alpha, Dolly v2): LayerNorms with biases, one
 * fused query_key_value per head ([q | k | v] of head_dim rows each, with a bias), rotary
 * embeddings on the first rotary_pct of each head (NeoX pairs, base rotary_emb_base), a plain MLP
 * dense_h_to_4h -> act -> dense_4h_to_h with biases, and with use_parallel_residual (the default)
 * x + attn(ln1(x)) + mlp(ln2(x)) (rl_model_desc.parallel_block 2); an untied embed_out. */
#include "model/fam_neox.h"
#include "model/family.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_gpt_neox(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "gpt_neox.layers.%d.input_layernorm.weight";
    d->wname[W_ATTN_NORM_B] = "gpt_neox.layers.%d.input_layernorm.bias";
    d->wname[W_MLP_NORM] = "gpt_neox.layers.%d.post_attention_layernorm.weight";
    d->wname[W_MLP_NORM_B] = "gpt_neox.layers.%d.post_attention_layernorm.bias";
    d->wname[W_QKV] = "gpt_neox.layers.%d.attention.query_key_value.weight";
    d->wname[W_QKV_B] = "gpt_neox.layers.%d.attention.query_key_value.bias";
    d->wname[W_O] = "gpt_neox.layers.%d.attention.dense.weight";
    d->wname[W_O_B] = "gpt_neox.layers.%d.attention.dense.bias";
    d->wname[W_UP] = "gpt_neox.layers.%d.mlp.dense_h_to_4h.weight";
    d->wname[W_UP_B] = "gpt_neox.layers.%d.mlp.dense_h_to_4h.bias";
    d->wname[W_DOWN] = "gpt_neox.layers.%d.mlp.dense_4h_to_h.weight";
    d->wname[W_DOWN_B] = "gpt_neox.layers.%d.mlp.dense_4h_to_h.bias";
    d->gname[G_EMBED] = "gpt_neox.embed_in.weight";
    d->gname[G_FINAL_NORM] = "gpt_neox.final_layer_norm.weight";
    d->gname[G_FINAL_NORM_B] = "gpt_neox.final_layer_norm.bias";
    d->gname[G_LM_HEAD] = "embed_out.weight";
    double eps, pct;
    int par, ab;
    if (rl_json_num(cfg, "layer_norm_eps", 1e-5, &eps, file) || rl_json_bool(cfg, "use_parallel_residual", 1, &par, file) ||
        rl_json_bool(cfg, "attention_bias", 1, &ab, file) || rl_json_num(cfg, "rotary_pct", 0.25, &pct, file)) return -1;
    if (d->n_kv_heads != d->n_heads) return rl_err("%s: GPT-NeoX has as many key / value heads as heads", file);
    if (!rl_json_get(cfg, "hidden_act")) d->act = RL_ACT_GELU_ERF; /* GPTNeoXConfig's default: gelu */
    if (d->act == RL_ACT_SILU) return rl_err("%s: a plain (ungated) SiLU MLP is not supported", file);
    d->norm = RL_NORM_LAYER;
    d->norm_eps = (float)eps;
    d->parallel_block = par ? 2 : 0;
    d->mlp_gated = 0;
    d->mlp_bias = 1;
    d->qkv_bias = d->o_bias = ab;
    d->qkv_grouped = 1; /* per head [q | k | v] */
    const cJSON *rp = rl_json_get(cfg, "rope_parameters");
    if (!rl_json_get(cfg, "partial_rotary_factor") && !(rp && rl_json_get(rp, "partial_rotary_factor"))) { /* the original keys */
        if (!(pct > 0 && pct <= 1)) return rl_err("%s: rotary_pct %g is not in (0, 1]", file, pct);
        d->ropes[0].rot_dims = (int)(d->head_dim * pct);
        d->ropes[0].rot_dims -= d->ropes[0].rot_dims % 2;
        if (d->ropes[0].rot_dims < 2) return rl_err("%s: rotary_pct %g leaves no rotary pair of head_dim %d", file, pct, d->head_dim);
        if (rl_rope_parse(cfg, NULL, &d->ropes[0], d->max_pos, file)) return -1; /* (its scaling over these dims) */
    }
    if (!rl_json_get(cfg, "rope_theta") && !(rp && rl_json_get(rp, "rope_theta"))) { /* the original key */
        double base;
        if (rl_json_num(cfg, "rotary_emb_base", 10000, &base, file)) return -1;
        if (!(base > 0)) return rl_err("%s: rotary_emb_base %g must be positive", file, base);
        d->ropes[0].theta = base;
    }
    return 0;
}
