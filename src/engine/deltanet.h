/* Hybrid linear attention (Qwen3.5): the Gated DeltaNet token mixer with its per-layer
 * recurrent and conv state, the gated full-attention helpers, and the state's life cycle
 * (open, reset, rewind by re-prefill). Called from engine.c and block.c through small hooks. */
#ifndef RL_ENGINE_DELTANET_H
#define RL_ENGINE_DELTANET_H
#include "engine/model.h"

/* At open, after the stages and m->max_T / m->ctx are set: fills m->kv_slot (every model) and,
 * for hybrid models, m->lin_slot, checks the linear layers' conv1d shapes and allocates the
 * recurrent/conv state, the DeltaNet scratch, the token history and (attn_out_gate) m->qgate.
 * *n_kv_layers gets the number of layers that need a KV cache. 0 / -1 + rl_err. */
int rl_hybrid_open(rl_model *m, int *n_kv_layers);
/* Frees what rl_hybrid_open allocated (safe on a partly opened model). */
void rl_hybrid_close(rl_model *m);

/* Called by rl_model_eval before running tokens[0..n) at m->seq_pos[0] (hybrid models only): runs a
 * pending rewind (zeroes the state and re-prefills the kept prefix hist[0..pos) without
 * logits), then records tokens in the history. 0 / -1 + rl_err (then the state is empty, pos 0). */
int rl_hybrid_prepare(rl_model *m, const int32_t *tokens, int n);
/* rl_model_rewind for hybrid models: the recurrent state cannot be rewound, so the rewind is
 * recorded and the next eval rebuilds the state from the token history (pos 0: just a reset). */
void rl_hybrid_rewind(rl_model *m, int pos);

/* Gated DeltaNet token mixer of linear layer l: reads the normed input m->xb (T rows), updates
 * the layer's conv and recurrent state, writes the mixer output (T, hidden) to m->o. 0 / -1. */
int rl_deltanet_forward(rl_model *m, int l, const uint8_t *buf, int T);

/* Gated attention (attn_out_gate): m->qgate holds q_proj's output, per head [query, gate];
 * splits the queries into m->q (T, qd) and compacts the gates to m->qgate (T, qd). */
void rl_qgate_split(rl_model *m, int T);
/* m->att (T, qd) *= sigmoid(gate), the gates left by rl_qgate_split. */
void rl_qgate_apply(rl_model *m, int T);

#endif
