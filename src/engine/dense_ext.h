/* Small pieces of dense-family math the one block and the head call through hooks: InternLM2's
 * grouped qkv split and Baichuan 2's NormHead (see dense_ext.c). */
#ifndef RL_DENSE_EXT_H
#define RL_DENSE_EXT_H
#include "format/dtype.h"

/* Splits T rows of a grouped fused qkv projection (per kv head g: `group` query heads, then one
 * key head, then one value head, each hd wide) into q [T][nkv*group*hd], k and v [T][nkv*hd]. */
void rl_qkv_grouped_split(const float *qkv, int T, int nkv, int group, int hd, float *q, float *k, float *v);

/* NormHead: out[t][r] /= max(||w[r]||, 1e-12) for the `rows` weight rows of `cols` columns (dtype
 * dt) of one head chunk, T output rows. tmp: cols floats of scratch. */
void rl_head_normalize(float *out, int T, int rows, const void *w, rl_dtype dt, int cols, float *tmp);

#endif
