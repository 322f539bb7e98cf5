/* Which tensors a layer of a described model has, and their expected shapes. */
#include "model/weights.h"
#include "model/weights_moe.h"
#include <stddef.h>

int rl_lin_conv_dim(const rl_model_desc *d) {
    int x = d->lin_v_heads * d->lin_v_dim;
    return d->lin_kind == RL_LIN_MAMBA1 || d->lin_kind == RL_LIN_SHORTCONV ? x : 2 * d->lin_k_heads * d->lin_k_dim + x;
}

/* Mamba-1's roles (lin_kind RL_LIN_MAMBA1; desc.h). 1 if handled. */
static int mamba1_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols) {
    int64_t I = d->lin_v_heads, N = d->lin_k_dim, R = d->lin_dt_rank;
    switch (r) {
    case W_LIN_QKV: *rows = 2 * I; *cols = d->hidden; return 1;
    case W_LIN_B: *rows = R + 2 * N; *cols = I; return 1;
    case W_LIN_A: *rows = I; *cols = R; return 1;
    case W_LIN_A_LOG: *rows = I; *cols = N; return 1;
    case W_LIN_DT_NORM: *rows = R; return 1;
    case W_LIN_B_NORM: case W_LIN_C_NORM: *rows = N; return 1;
    default: return 0;
    }
}

/* Expected shape of a layer role (rows, cols); cols 0 = 1-D tensor of `rows`. rows 0 = unchecked. */
void rl_role_shape(const rl_model_desc *d, int r, int64_t *rows, int64_t *cols) {
    int64_t H = d->hidden, q = (int64_t)d->n_heads * d->head_dim, kv = (int64_t)d->n_kv_heads * d->head_dim, I = d->intermediate;
    *rows = 0; *cols = 0;
    if (d->lin_kind == RL_LIN_MAMBA1 && mamba1_shape(d, r, rows, cols)) return;
    if (d->lin_kind == RL_LIN_SHORTCONV && r == W_LIN_QKV) { *rows = 3 * (int64_t)d->lin_v_heads; *cols = H; return; } /* [B | C | x] */
    switch (r) {
    case W_ATTN_NORM: case W_ATTN_NORM_B: case W_MLP_NORM: case W_MLP_NORM_B:
    case W_POST_ATTN_NORM: case W_POST_MLP_NORM: case W_O_B: case W_DOWN_B: *rows = H; break;
    case W_Q: *rows = d->attn_out_gate ? 2 * q : q; *cols = H; break; /* gated: [query, gate] per head */
    case W_K: case W_V: *rows = kv; *cols = H; break;
    case W_O: *rows = H; *cols = q; break;
    case W_Q_B: *rows = q; break;
    case W_K_B: case W_V_B: *rows = kv; break;
    case W_QKV: *rows = q + 2 * kv; *cols = H; break;
    case W_QKV_B: *rows = q + 2 * kv; break;
    case W_Q_NORM: *rows = d->qk_norm_full ? q : d->head_dim; break;
    case W_K_NORM: *rows = d->qk_norm_full ? kv : d->head_dim; break;
    case W_SINKS: *rows = d->n_heads; break;
    case W_GATE: case W_UP: *rows = I; *cols = H; break;
    case W_UP_B: *rows = I; break;
    case W_DOWN: *rows = H; *cols = I; break;
    case W_GATE_UP: *rows = 2 * I; *cols = H; break;
    /* Gated DeltaNet (conv1d.weight is 3-D [conv_dim, 1, k]: checked by rl_deltanet_check) */
    case W_LIN_QKV: /* (lin_fused: with the z rows; Mamba-2: z, x|B|C, dt) */
        *rows = 2 * (int64_t)d->lin_k_heads * d->lin_k_dim + (int64_t)d->lin_v_heads * d->lin_v_dim * (d->lin_fused == 1 ? 2 : 1);
        if (d->lin_kind == RL_LIN_MAMBA2) *rows += (int64_t)d->lin_v_heads * d->lin_v_dim + d->lin_v_heads;
        *cols = H;
        break;
    case W_LIN_CONV_B: *rows = rl_lin_conv_dim(d); break;
    case W_LIN_D: *rows = d->lin_v_heads; break;
    case W_LIN_Z: *rows = (int64_t)d->lin_v_heads * d->lin_v_dim; *cols = H; break;
    case W_LIN_B: *rows = d->lin_v_heads * (d->lin_fused ? 2 : 1); *cols = H; break; /* (lin_fused: with the a rows) */
    case W_LIN_A: *rows = d->lin_v_heads; *cols = H; break;
    case W_LIN_A_LOG: case W_LIN_DT_BIAS: *rows = d->lin_v_heads; break;
    case W_LIN_NORM: *rows = d->lin_kind == RL_LIN_MAMBA2 ? (int64_t)d->lin_v_heads * d->lin_v_dim : d->lin_v_dim; break;
    case W_LIN_OUT: *rows = H; *cols = (int64_t)d->lin_v_heads * d->lin_v_dim; break;
    default: break;
    }
    rl_moe_role_shape(d, r, rows, cols); /* MoE / MLA roles (and MLA's o_proj width) */
}

/* Which roles a layer needs, given the description. */
int rl_role_needed(const rl_model_desc *d, int r) {
    int fused_qkv = d->wname[W_QKV] != NULL, fused_gu = d->wname[W_GATE_UP] != NULL;
    switch (r) {
    case W_O: case W_DOWN: return 1;
    case W_ATTN_NORM: return !d->no_pre_norms && !d->norm_no_weight;
    case W_MLP_NORM: return d->parallel_block != 1 && !d->no_pre_norms && !d->norm_no_weight; /* parallel block 1: one norm feeds both */
    case W_ATTN_NORM_B: return d->norm == RL_NORM_LAYER && d->wname[W_ATTN_NORM_B]; /* (a family naming none: bias-free LayerNorms) */
    case W_MLP_NORM_B: return d->norm == RL_NORM_LAYER && d->parallel_block != 1 && d->wname[W_MLP_NORM_B];
    case W_Q: case W_K: case W_V: return !fused_qkv;
    case W_Q_B: case W_K_B: case W_V_B: return !fused_qkv && d->qkv_bias;
    case W_QKV: return fused_qkv;
    case W_QKV_B: return fused_qkv && d->qkv_bias;
    case W_O_B: return d->o_bias;
    case W_Q_NORM: case W_K_NORM: return d->qk_norm;
    case W_SINKS: return d->attn_sinks;
    case W_POST_ATTN_NORM: case W_POST_MLP_NORM: return d->post_norms;
    case W_GATE: return d->mlp_gated && !fused_gu;
    case W_UP: return !fused_gu;
    case W_GATE_UP: return fused_gu;
    case W_UP_B: case W_DOWN_B: return d->mlp_bias;
    default: return 0;
    }
}

/* The MLP sublayer's roles (norm, dense MLP, experts' router and shared expert); the rest belong
 * to the token mixer. */
static int mlp_role(int r) {
    switch (r) {
    case W_MLP_NORM: case W_MLP_NORM_B: case W_GATE: case W_UP: case W_DOWN: case W_UP_B: case W_DOWN_B: case W_GATE_UP:
    case W_POST_MLP_NORM: case W_MOE_ROUTER: case W_MOE_ROUTER_BIAS: case W_MOE_ROUTER_B: case W_SHX_GATE: case W_SHX_UP:
    case W_SHX_DOWN: case W_SHX_GATE_W: case W_MOE_LAT_IN: case W_MOE_LAT_OUT: return 1;
    default: return 0;
    }
}

/* Per-layer view: linear-attention (Gated DeltaNet, Mamba-2) layers have the W_LIN_* roles
 * instead of the attention projections; every other layer has no W_LIN_* role. A layer of one
 * sublayer (no_mixer / no_mlp, Nemotron-H) has none of the other's roles. */
int rl_role_needed_layer(const rl_model_desc *d, int l, int r) {
    if (mlp_role(r) ? d->layers[l].no_mlp : d->layers[l].no_mixer) return 0; /* a Nemotron-H layer has one of the two */
    int lin = d->layers[l].kind == RL_LAYER_LINEAR, ssm = lin || d->layers[l].ssm_too; /* (Falcon-H1: both mixers) */
    int mamba = ssm && d->lin_kind == RL_LIN_MAMBA2, mamba1 = ssm && d->lin_kind == RL_LIN_MAMBA1;
    if (ssm && d->lin_kind == RL_LIN_SHORTCONV &&
        ((r >= W_LIN_QKV && r <= W_LIN_OUT) || r == W_LIN_CONV_B || r == W_LIN_D || (r >= W_LIN_DT_NORM && r <= W_LIN_C_NORM)))
        return r == W_LIN_QKV || r == W_LIN_CONV || r == W_LIN_OUT || (r == W_LIN_CONV_B && d->lin_conv_bias); /* in_proj, conv, out_proj */
    if (mamba && r == W_LIN_NORM) return d->lin_norm_groups > 0;
    if (r == W_LIN_DT_NORM || r == W_LIN_B_NORM || r == W_LIN_C_NORM) return mamba1 && d->lin_dtbc_norm == 1;
    if (mamba1) /* in_proj (x, z), x_proj (W_LIN_B), dt_proj (W_LIN_A), no gated norm */
        switch (r) {
        case W_LIN_CONV_B: return d->lin_conv_bias;
        case W_LIN_Z: case W_LIN_NORM: return 0;
        case W_LIN_QKV: case W_LIN_CONV: case W_LIN_B: case W_LIN_A: case W_LIN_A_LOG: case W_LIN_DT_BIAS: case W_LIN_OUT:
        case W_LIN_D: return 1;
        default: break;
        }
    if (r == W_LIN_CONV_B) return mamba && d->lin_conv_bias;
    if (r == W_LIN_D) return mamba;
    if (mamba && (r == W_LIN_Z || r == W_LIN_B || r == W_LIN_A)) return 0; /* in in_proj (W_LIN_QKV) */
    if (r == W_LIN_Z) return ssm && d->lin_fused != 1; /* in W_LIN_QKV when fused */
    if (r == W_LIN_A) return ssm && !d->lin_fused;      /* in W_LIN_B when fused */
    if (r >= W_LIN_QKV && r <= W_LIN_OUT) return ssm;
    if (lin)
        switch (r) {
        case W_Q: case W_Q_B: case W_K: case W_K_B: case W_V: case W_V_B: case W_O: case W_O_B:
        case W_QKV: case W_QKV_B: case W_Q_NORM: case W_K_NORM: case W_SINKS: return 0;
        default: break;
        }
    int moe = rl_moe_role_needed(d, l, r); /* MoE vs dense MLP layers, MLA attention: -1 = no opinion */
    if (moe >= 0) return moe;
    return rl_role_needed(d, r);
}
