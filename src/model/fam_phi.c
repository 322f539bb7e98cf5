/* Phi family normalizers: Phi-2 / Phi-1.5 (PhiForCausalLM: LayerNorm with bias, parallel
 * attention + MLP on one normed input, partial rotary read by config.c, dense / fc1 / fc2 and
 * lm_head biases, GELU (gelu_new) plain MLP, final_layernorm with bias) and Phi-3 (Phi3ForCausalLM:
 * fused qkv_proj and gate_up_proj, longrope read by the generic rope code, sliding_window on every
 * layer). */
#include "model/fam_dense.h"
#include "util/err.h"
#include "util/json.h"

int rl_norm_phi(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "model.layers.%d.input_layernorm.weight";
    d->wname[W_ATTN_NORM_B] = "model.layers.%d.input_layernorm.bias";
    d->wname[W_Q] = "model.layers.%d.self_attn.q_proj.weight";
    d->wname[W_K] = "model.layers.%d.self_attn.k_proj.weight";
    d->wname[W_V] = "model.layers.%d.self_attn.v_proj.weight";
    d->wname[W_Q_B] = "model.layers.%d.self_attn.q_proj.bias";
    d->wname[W_K_B] = "model.layers.%d.self_attn.k_proj.bias";
    d->wname[W_V_B] = "model.layers.%d.self_attn.v_proj.bias";
    d->wname[W_O] = "model.layers.%d.self_attn.dense.weight";
    d->wname[W_O_B] = "model.layers.%d.self_attn.dense.bias";
    d->wname[W_UP] = "model.layers.%d.mlp.fc1.weight";
    d->wname[W_UP_B] = "model.layers.%d.mlp.fc1.bias";
    d->wname[W_DOWN] = "model.layers.%d.mlp.fc2.weight";
    d->wname[W_DOWN_B] = "model.layers.%d.mlp.fc2.bias";
    d->gname[G_EMBED] = "model.embed_tokens.weight";
    d->gname[G_FINAL_NORM] = "model.final_layernorm.weight";
    d->gname[G_FINAL_NORM_B] = "model.final_layernorm.bias";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    d->gname[G_LM_HEAD_B] = "lm_head.bias";
    int qkln;
    double eps;
    if (rl_json_bool(cfg, "qk_layernorm", 0, &qkln, file) || rl_json_num(cfg, "layer_norm_eps", 1e-5, &eps, file)) return -1;
    if (qkln) return rl_err("%s: \"qk_layernorm\": true is not supported for Phi", file);
    d->norm = RL_NORM_LAYER;
    d->norm_eps = (float)eps;
    d->parallel_block = 1;
    d->mlp_gated = 0;
    d->qkv_bias = d->o_bias = d->mlp_bias = 1;
    d->head_bias = 1;
    if (d->act == RL_ACT_SILU) return rl_err("%s: Phi with a SiLU MLP is not supported (plain MLPs use GELU)", file);
    return 0;
}

int rl_norm_phi3(rl_model_desc *d, const cJSON *cfg, const char *file) {
    d->wname[W_ATTN_NORM] = "model.layers.%d.input_layernorm.weight";
    d->wname[W_QKV] = "model.layers.%d.self_attn.qkv_proj.weight";
    d->wname[W_O] = "model.layers.%d.self_attn.o_proj.weight";
    d->wname[W_MLP_NORM] = "model.layers.%d.post_attention_layernorm.weight";
    d->wname[W_GATE_UP] = "model.layers.%d.mlp.gate_up_proj.weight";
    d->wname[W_DOWN] = "model.layers.%d.mlp.down_proj.weight";
    d->gname[G_EMBED] = "model.embed_tokens.weight";
    d->gname[G_FINAL_NORM] = "model.norm.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
    long long w;
    if (rl_json_int(cfg, "sliding_window", 0, &w, file)) return -1;
    for (int l = 0; l < d->n_layers && w > 0; l++) d->layers[l] = (rl_layer_desc){.kind = RL_LAYER_SLIDING, .window = (int)w};
    return 0;
}
