/* Layer weights on the device for backends with their own memory (host_shared 0), generic over
 * them: device-resident layers (--gpu-mem, rl_model_opts.gpu_mem) — within a device-memory
 * budget the first stages in sweep order are uploaded once at open and kept on the device, the
 * rest stream through the two device layer slots; and the upload / compute overlap of streamed
 * layers (where the backend has upload_async, the next layer's image is read and uploaded
 * while this layer computes; RL_NO_UPLOAD_AHEAD=1 turns that off for comparisons). */
#ifndef RL_ENGINE_DEVRES_H
#define RL_ENGINE_DEVRES_H
#include "engine/model.h"

#define RL_DEVRES_ENTRY "layers resident on device (own arenas)"
/* Adds "layer slots on device (2)" and then, the plan's last device entry but the MoE expert
 * cache's (engine/moe.h, also outside the arena), RL_DEVRES_ENTRY (sized in
 * the plan's device total but not placed in the arena: each resident stage gets an arena of its
 * own at open, rl_devres_outside bytes in all): everything resident when the plan's device bytes so far plus every stage fit
 * m->gpu_mem, else the longest prefix of stages that leaves room for two slots of the largest
 * streamed stage; gpu_mem 0: none resident. -1 + rl_err (plan_fits cleared) when the budget
 * cannot even hold the activations, KV cache and two slots. */
int rl_devres_plan(rl_model *m, rl_plan *p);
/* Bytes of the plan's device total that are not in the arena (the resident stages). */
size_t rl_devres_outside(const rl_model *m);
/* After the arena is placed and the loader started: gives every resident stage its arena,
 * uploads it (read through the loader once) and tells the loader to skip it from then on. */
int rl_devres_open(rl_model *m);
/* Frees the resident stages' arenas (before the backend closes). */
void rl_devres_free(rl_model *m);
/* A streamed stage uploaded ahead (stage -1: none). */
typedef struct { int stage; uint64_t ticket; } rl_prefetch;
/* Stage s's weights on the device: its resident copy (*held 0), the copy pf uploaded ahead
 * (joined now; *held 1), or the loader's host image uploaded into a slot (*held 1). *held 1:
 * rl_loader_release(m->ld, s) once the ops that read it have passed a fence. pf may be NULL.
 * For host_shared backends, the loader's image itself. NULL + rl_err. */
const uint8_t *rl_devres_weights(rl_model *m, int s, rl_prefetch *pf, int *held);
/* After stage s-1's ops were issued: reads stage s (a streamed layer) and starts its upload into
 * its slot, where the backend has upload_async (else nothing). The slot must be free: the last
 * layer that used it passed a fence the host waited for. */
int rl_devres_prefetch(rl_model *m, int s, rl_prefetch *pf);
/* Drops an upload made ahead (an error path): joined, waited for, its host slot released. */
void rl_devres_cancel(rl_model *m, rl_prefetch *pf);
/* Stage s's resident device copy, or NULL where it streams. */
const uint8_t *rl_devres_stage(const rl_model *m, int s);
/* Resident stages and their bytes. */
int rl_devres_count(const rl_model *m, size_t *bytes);

#endif
