/* The default of `serve --parallel`: as many slots (sequences with their own KV cache) as the
 * memory plan allows, at most a cap. A slot is allowed when the plan for that many sequences
 * still fits, keeps the KV element type the plan picks for one sequence, and, when one sequence
 * leaves every weight resident, still leaves them all resident (slots do not push a resident
 * model into streaming; a streamed model trades resident weights for slots). */
#ifndef RL_SERVER_SLOTS_H
#define RL_SERVER_SLOTS_H
#include "rabbitllm.h"
#include <stddef.h>

/* The slot count for MODEL_DIR opened with opts (n_seq ignored), 1..cap; why receives a short
 * reason for the start-up line. 0 when the model cannot be planned at all (opening it reports
 * why). */
int rl_serve_default_slots(const char *dir, const rl_model_opts *opts, int cap, char *why, size_t whysz);

#endif
