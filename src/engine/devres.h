/* Device-resident layers (--gpu-mem, rl_model_opts.gpu_mem) for backends with their own memory
 * (host_shared 0): within a device-memory budget, the first stages in sweep order are uploaded
 * once at open and kept on the device; the rest stream through the two device layer slots as
 * before. Generic over device backends: only the memory plan and the engine's stage lookup. */
#ifndef RL_ENGINE_DEVRES_H
#define RL_ENGINE_DEVRES_H
#include "engine/model.h"

/* Adds "layers resident on device" and "layer slots on device (2)" to the plan (the last device
 * entries): everything resident when the plan's device bytes so far plus every stage fit
 * m->gpu_mem, else the longest prefix of stages that leaves room for two slots of the largest
 * streamed stage; gpu_mem 0: none resident. -1 + rl_err (plan_fits cleared) when the budget
 * cannot even hold the activations, KV cache and two slots. */
int rl_devres_plan(rl_model *m, rl_plan *p);
/* After the arena is placed and the loader started: uploads every resident stage (read through
 * the loader once) and tells the loader to skip them from then on. */
int rl_devres_open(rl_model *m);
/* Stage s's resident device copy, or NULL where it streams. */
const uint8_t *rl_devres_stage(const rl_model *m, int s);
/* Resident stages and their bytes. */
int rl_devres_count(const rl_model *m, size_t *bytes);

#endif
