/* `bench --timeline FILE.svg`: one sweep drawn as an SVG picture, one row per stage (layer / head
 * chunk) on a time axis: the prefetch wait and the compute one after the other as the sweep ran
 * them, and the read of the stage ending when its wait ended (the reader runs ahead in the
 * background, so a read bar left of the previous compute means disk and compute overlapped).
 * Resident stages (read once at open) are marked. Written by hand: no plotting dependency. */
#ifndef RL_CLI_TIMELINE_H
#define RL_CLI_TIMELINE_H
#include "rabbitllm.h"

/* Writes the profile of the last sweep(s) of m (rl_profile_reset before it) to path. 0, or -1
 * after printing the problem. */
int rl_timeline_svg(const rl_model *m, const char *path);
#endif
