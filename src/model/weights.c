/* Which tensors a layer of a described model has, and their expected shapes. */
#include "model/weights.h"
#include <stddef.h>

/* Expected shape of a layer role (rows, cols); cols 0 = 1-D tensor of `rows`. rows 0 = unchecked. */
void rl_role_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols) {
    int64_t H = d->hidden, q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim, I = d->intermediate;
    *rows = 0; *cols = 0;
    switch (r) {
    case W_ATTN_NORM: case W_ATTN_NORM_B: case W_MLP_NORM: case W_MLP_NORM_B:
    case W_POST_ATTN_NORM: case W_POST_MLP_NORM: case W_O_B: case W_DOWN_B: *rows = H; break;
    case W_Q: *rows = q; *cols = H; break;
    case W_K: case W_V: *rows = kv; *cols = H; break;
    case W_O: *rows = H; *cols = q; break;
    case W_Q_B: *rows = q; break;
    case W_K_B: case W_V_B: *rows = kv; break;
    case W_QKV: *rows = q + 2 * kv; *cols = H; break;
    case W_QKV_B: *rows = q + 2 * kv; break;
    case W_Q_NORM: case W_K_NORM: *rows = d->head_dim; break;
    case W_GATE: case W_UP: *rows = I; *cols = H; break;
    case W_UP_B: *rows = I; break;
    case W_DOWN: *rows = H; *cols = I; break;
    case W_GATE_UP: *rows = 2 * I; *cols = H; break;
    default: break;
    }
}

/* Which roles a layer needs, given the description. */
int rl_role_needed(const rl_model_desc *d, int r) {
    int fused_qkv = d->wname[W_QKV] != NULL, fused_gu = d->wname[W_GATE_UP] != NULL;
    switch (r) {
    case W_ATTN_NORM: case W_O: case W_MLP_NORM: case W_DOWN: return 1;
    case W_ATTN_NORM_B: case W_MLP_NORM_B: return d->norm == RL_NORM_LAYER;
    case W_Q: case W_K: case W_V: return !fused_qkv;
    case W_Q_B: case W_K_B: case W_V_B: return !fused_qkv && d->qkv_bias;
    case W_QKV: return fused_qkv;
    case W_QKV_B: return fused_qkv && d->qkv_bias;
    case W_O_B: return d->o_bias;
    case W_Q_NORM: case W_K_NORM: return d->qk_norm;
    case W_POST_ATTN_NORM: case W_POST_MLP_NORM: return d->post_norms;
    case W_GATE: return d->mlp_gated && !fused_gu;
    case W_UP: return !fused_gu;
    case W_GATE_UP: return fused_gu;
    case W_UP_B: case W_DOWN_B: return d->mlp_bias;
    default: return 0;
    }
}

