/* Hybrid linear attention: the Gated DeltaNet (Qwen3.5, Qwen3-Next) and Mamba-2 (Granite 4.0-H)
 * token mixers with their per-layer recurrent and conv state, and the gated full attention of
 * the Qwen models. The state's replay after a rewind is the engine's (engine.c); this module
 * owns the state only. */
#ifndef RL_ENGINE_DELTANET_H
#define RL_ENGINE_DELTANET_H
#include "engine/model.h"

/* At plan time (every model): fills m->kv_slot / m->lin_slot and, for hybrid models, checks
 * the linear layers' conv1d shapes and adds the state and scratch to the plan. 0 / -1 + rl_err. */
int rl_dn_plan(rl_model *m);
/* After the arena is placed: nothing to do but validate (state starts zeroed). 0 / -1. */
int rl_dn_open(rl_model *m);
/* Frees the host side (safe on a partly opened model). */
void rl_dn_close(rl_model *m);
/* Zeroes every sequence's recurrent and conv state; _seq: one sequence's. */
void rl_dn_reset(rl_model *m);
void rl_dn_reset_seq(rl_model *m, int seq);
/* Saves sequence seq's states into its checkpoint / puts the checkpoint back. */
void rl_dn_checkpoint(rl_model *m, int seq, int slot);
void rl_dn_restore(rl_model *m, int seq, int slot);

/* Gated DeltaNet or Mamba-2 token mixer of linear layer l: reads the normed input m->xb (the sweep's T rows;
 * each segment's rows through its sequence's state), updates the states, writes the mixer
 * output (T, hidden) to m->o. 0 / -1. */
int rl_deltanet_forward(rl_model *m, int l, const uint8_t *w, int T);

/* Gated attention (attn_out_gate): m->qgate holds q_proj's output, per head [query, gate];
 * splits it into m->q and m->gate (T, qd); rl_qgate_apply: m->att *= sigmoid(m->gate). */
void rl_qgate_split(rl_model *m, int T);
void rl_qgate_apply(rl_model *m, int T);

#endif
