/* Mamba-2 selective state update of the CPU backend (Granite 4.0-H's Mamba layers), in f32. */
#ifndef RL_CPU_SSM_H
#define RL_CPU_SSM_H
#include "backend/backend.h"
#include "backend/cpu/threadpool.h"

void rl_ssm_scan(rl_pool *p, const rl_ssm_dims *sd, float *state, const float *xbc, const float *dt_raw, const float *a_log,
                 const float *dt_bias, const float *d_skip, float *y, int T);

#endif
