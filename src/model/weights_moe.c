/* Which MoE / MLA tensors a layer has and their shapes (see weights_moe.h). */
#include "model/weights_moe.h"
#include <stdio.h>

int rl_moe_role_needed(const rl_model_desc *d, int l, int r) {
    int moe = d->n_experts > 0 && d->layer_moe[l];
    switch (r) {
    case W_MOE_ROUTER: return moe;
    case W_MOE_LAT_IN: case W_MOE_LAT_OUT: return moe && d->moe_latent > 0;
    case W_MOE_ROUTER_BIAS: return moe && d->moe_bias;
    case W_MOE_ROUTER_B: return moe && d->moe_router_b;
    case W_SHX_GATE: return moe && d->moe_shared_inter > 0 && !d->moe_ungated;
    case W_SHX_DOWN: return moe && d->moe_shared_inter > 0;
    case W_SHX_UP: return moe && d->moe_shared_inter > 0 && (!d->moe_shared_fused || d->moe_ungated);
    case W_SHX_GATE_W: return moe && d->moe_shared_inter > 0 && d->moe_shared_gate;
    case W_GATE: case W_UP: case W_DOWN: case W_GATE_UP: case W_UP_B: case W_DOWN_B:
        return moe ? 0 : -1;
    case W_MLA_Q_A: case W_MLA_Q_A_NORM: case W_MLA_Q_B: return d->mla && d->q_lora_rank > 0;
    case W_MLA_KV_A: case W_MLA_KV_A_NORM: return d->mla;
    case W_MLA_KV_B: return d->mla && !d->mla_kv_b_split;
    case W_MLA_K_B: case W_MLA_V_B: return d->mla && d->mla_kv_b_split;
    case W_IDX_Q_B: case W_IDX_K: case W_IDX_K_NORM: case W_IDX_K_NORM_B: case W_IDX_W:
        return d->mla && d->idx_heads > 0;
    case W_Q: return d->mla ? d->q_lora_rank == 0 : -1;
    case W_K: case W_V: case W_K_B: case W_V_B: case W_Q_B: case W_QKV: case W_QKV_B:
    case W_Q_NORM: case W_K_NORM: return d->mla ? 0 : -1;
    default: return -1;
    }
}

void rl_moe_role_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols) {
    int64_t H = d->hidden, E = d->n_experts, Is = d->moe_shared_inter, nh = d->n_heads;
    int64_t qk = (int64_t)d->qk_nope_dim + d->qk_rope_dim;
    switch (r) {
    case W_MOE_ROUTER: *rows = E; *cols = H; break;
    case W_MOE_LAT_IN: *rows = d->moe_latent; *cols = H; break;
    case W_MOE_LAT_OUT: *rows = H; *cols = d->moe_latent; break;
    case W_MOE_ROUTER_BIAS: case W_MOE_ROUTER_B: *rows = E; *cols = 0; break;
    case W_SHX_GATE: *rows = d->moe_shared_fused ? 2 * Is : Is; *cols = H; break;
    case W_SHX_UP: *rows = Is; *cols = H; break;
    case W_SHX_DOWN: *rows = H; *cols = Is; break;
    case W_SHX_GATE_W: *rows = 1; *cols = H; break;
    case W_O: if (d->mla) { *rows = H; *cols = nh * d->v_head_dim; } break;
    case W_MLA_Q_A: *rows = d->q_lora_rank; *cols = H; break;
    case W_MLA_Q_A_NORM: *rows = d->q_lora_rank; *cols = 0; break;
    case W_MLA_Q_B: *rows = nh * qk; *cols = d->q_lora_rank; break;
    case W_MLA_KV_A: *rows = (int64_t)d->kv_lora_rank + d->qk_rope_dim; *cols = H; break;
    case W_MLA_KV_A_NORM: *rows = d->kv_lora_rank; *cols = 0; break;
    case W_MLA_KV_B: *rows = nh * ((int64_t)d->qk_nope_dim + d->v_head_dim); *cols = d->kv_lora_rank; break;
    case W_MLA_K_B: *rows = nh * (int64_t)d->kv_lora_rank; *cols = d->qk_nope_dim; break;
    case W_MLA_V_B: *rows = nh * (int64_t)d->v_head_dim; *cols = d->kv_lora_rank; break;
    case W_IDX_Q_B: *rows = (int64_t)d->idx_heads * d->idx_head_dim; *cols = d->q_lora_rank; break;
    case W_IDX_K: *rows = d->idx_head_dim; *cols = H; break;
    case W_IDX_K_NORM: case W_IDX_K_NORM_B: *rows = d->idx_head_dim; *cols = 0; break;
    case W_IDX_W: *rows = d->idx_heads; *cols = H; break;
    default: break;
    }
}

int rl_moe_expert_name(const rl_model_desc *d, int l, int e, int k, char *name, size_t cap,
                       int64_t *rows, int64_t *cols) {
    int64_t H = d->moe_latent > 0 ? d->moe_latent : d->hidden, I = d->moe_inter; /* (latent MoE: the experts' width) */
    *rows = k == 2 ? H : (d->moe_fused && k == 0 ? 2 * I : I);
    *cols = k == 2 ? I : H;
    const char *f = d->ename[k];
    if (!f) { name[0] = 0; return 0; }
    int w = d->moe_fused ? snprintf(name, cap, f, l) : snprintf(name, cap, f, l, e);
    return w < 0 || (size_t)w >= cap ? -1 : 0;
}
