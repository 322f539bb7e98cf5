/* Which stages stay resident within a memory budget: spread evenly over the sweep, so that
 * computing a resident stage overlaps the read of the next streamed one. One rule for the
 * loader and the memory plan. */
#ifndef RL_RESIDENCY_H
#define RL_RESIDENCY_H
#include "io/stage.h"

/* Marks is_res[i] = 1 for the resident stages (is_res may be NULL); *bytes gets their total.
 * Returns how many. budget 0: none. */
int rl_stages_resident(const rl_stage *st, int n, size_t budget, unsigned char *is_res, size_t *bytes);

#endif
