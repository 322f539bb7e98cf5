/* Rotary position embedding: parsing its config (v4 rope_theta/rope_scaling and v5
 * rope_parameters) and computing inverse frequencies and cos/sin tables with every scaling rule. */
#ifndef RL_ROPE_H
#define RL_ROPE_H
#include "model/desc.h"
#include <cjson/cJSON.h>

/* Fills r from cfg: theta, scaling and its parameters. params, when not NULL, is an explicit
 * v5 rope_parameters object to read (e.g. one entry of a per-layer-type dict); otherwise the
 * config's own rope_parameters / rope_theta + rope_scaling are used. rot_dims must already be
 * set. An unknown scaling type is an error naming it. */
int rl_rope_parse(const cJSON *cfg, const cJSON *params, rl_rope *r, double max_pos, const char *file);

/* Inverse frequencies (rot_dims/2 values) for a sequence whose largest position + 1 is seq_len,
 * and the multiplier applied to cos/sin (yarn/longrope attention factor, 1 otherwise). */
void rl_rope_inv_freq(const rl_rope *r, int seq_len, float *inv_freq, float *mult);

/* cos/sin for T positions: cos[t*(rot/2) + i] = mult * cos(pos[t] * inv_freq[i]) (and sin). */
void rl_rope_table(const rl_rope *r, const int *pos, int T, int seq_len, float *cos_out, float *sin_out);

/* Rotates x in place: T tokens, n_heads heads of head_dim, first rot_dims of each head. */
void rl_rope_apply(const rl_rope *r, float *x, int T, int n_heads, int head_dim, const float *cos_t, const float *sin_t);

#endif
