/* StarCoder2 (Starcoder2ForCausalLM, BigCode's StarCoder2 3B / 7B / 15B): LayerNorms with biases
 * (norm_epsilon), q / k / v / o projections with biases (use_bias), a plain MLP c_fc -> act
 * (gelu_pytorch_tanh) -> c_proj with biases, NeoX rotary embeddings over the whole head, GQA, and
 * sliding_window on every layer when set. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"

int rl_norm_starcoder2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->wname[W_ATTN_NORM_B] = "model.layers.%d.input_layernorm.bias";
    d->wname[W_MLP_NORM_B] = "model.layers.%d.post_attention_layernorm.bias";
    d->wname[W_UP] = "model.layers.%d.mlp.c_fc.weight";
    d->wname[W_UP_B] = "model.layers.%d.mlp.c_fc.bias";
    d->wname[W_DOWN] = "model.layers.%d.mlp.c_proj.weight";
    d->wname[W_DOWN_B] = "model.layers.%d.mlp.c_proj.bias";
    d->gname[G_FINAL_NORM_B] = "model.norm.bias";
    double eps;
    int ub;
    long long w;
    if (rl_json_num(cfg, "norm_epsilon", 1e-5, &eps, file) || rl_json_bool(cfg, "use_bias", 1, &ub, file) ||
        rl_json_int(cfg, "sliding_window", 0, &w, file)) return -1;
    if (!rl_json_get(cfg, "hidden_act")) d->act = RL_ACT_GELU_TANH; /* Starcoder2Config's default: gelu_pytorch_tanh */
    if (d->act == RL_ACT_SILU) return rl_err("%s: a plain (ungated) SiLU MLP is not supported", file);
    d->norm = RL_NORM_LAYER;
    d->norm_eps = (float)eps;
    d->mlp_gated = 0;
    d->qkv_bias = d->o_bias = d->mlp_bias = ub;
    if (!ub) d->wname[W_UP_B] = d->wname[W_DOWN_B] = NULL;
    for (int l = 0; l < d->n_layers && w > 0; l++) { d->layers[l].kind = RL_LAYER_SLIDING; d->layers[l].window = (int)w; }
    return 0;
}
