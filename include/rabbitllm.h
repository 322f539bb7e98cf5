/* rabbitllm public C API: open a HuggingFace checkpoint directory and run it layer by layer
 * (weights streamed from the safetensors files, two layers resident), with a KV cache.
 *
 * Ownership: every object returned by *_open / *_new is freed by its *_close / *_free.
 * Errors: functions return NULL or -1 and leave a message (naming the file and the problem)
 * readable with rl_last_error() on the same thread. */
#ifndef RABBITLLM_H
#define RABBITLLM_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rl_model rl_model;

typedef struct {
    int n_threads;   /* compute threads; 0 = all online CPUs */
    int ctx;         /* context length in tokens; 0 = min(max_position_embeddings, 4096) */
    int max_batch;   /* most tokens per sweep (prefill chunk); 0 = 256 */
    int n_seq;         /* sequences that can run together (batching); 0 = 1. Each has its own KV
                          cache of ctx tokens. */
    size_t mem_budget; /* bytes of weights to keep resident in RAM instead of re-reading them
                          every sweep (spread evenly over the layers); 0 = stream everything;
                          RL_MEM_BUDGET_AUTO = what the process may really use (MemAvailable and
                          its cgroup limit) less the KV cache, activations, slots and a margin */
    const char *backend; /* compute backend: "cpu", "cuda", "vulkan"; NULL = $RL_BACKEND, else
                          "cpu". One not built in (or without a device) is an error at open. */
} rl_model_opts;
#define RL_MEM_BUDGET_AUTO ((size_t)-1)

/* The last error message of this thread ("" if none). */
const char *rl_last_error(void);

/* Opens MODEL_DIR (config.json, safetensors single or sharded). opts may be NULL. */
rl_model *rl_model_open(const char *model_dir, const rl_model_opts *opts);
void rl_model_close(rl_model *m);

int rl_model_vocab(const rl_model *m);     /* logits per row */
int rl_model_ctx(const rl_model *m);       /* context length */
int rl_model_pos(const rl_model *m);       /* tokens in the KV cache */
/* 1 if id is one of the model's eos ids (config.json / generation_config.json). */
int rl_model_is_eos(const rl_model *m, int32_t id);

/* Runs tokens[0..n) at positions pos..pos+n-1 through the model, appending them to the KV
 * cache (prefill in sweeps of up to max_batch tokens). logits (may be NULL) receives, if
 * all_rows, n rows of vocab floats (one per token), else one row for the last token.
 * -1 + error: token id out of range, context exceeded, read error. */
int rl_model_eval(rl_model *m, const int32_t *tokens, int n, float *logits, int all_rows);

/* Drops the KV cache after position pos (0 = empty), e.g. to reuse a shared prompt prefix.
 * Hybrid models (Qwen3.5 linear-attention layers) cannot rewind their recurrent state: the next
 * rl_model_eval re-prefills tokens 0..pos from the model's token history first (exact, one extra
 * prefill of the kept prefix; pos 0 is just a reset). */
int rl_model_rewind(rl_model *m, int pos);  /* 0, or -1 + error if pos is outside 0..pos */
/* 1 if rewinding is free (a KV cache is truncated); 0 for models with recurrent layers, where a
 * rewind replays the kept prefix on the next eval. */
int rl_model_rewind_is_cheap(const rl_model *m);

/* Batching: several sequences (0 .. n_seq-1, opts.n_seq at open) share each sweep, so one read
 * of the weights serves them all. Each item's tokens are appended to its own sequence's cache
 * (the single-sequence calls above act on sequence 0). logits (may be NULL) receives one row
 * per item: the logits after its last token. Items must name distinct sequences. */
typedef struct {
    int seq;                  /* sequence index */
    const int32_t *tokens;    /* tokens to append */
    int n;                    /* how many (>= 1) */
} rl_batch_item;
int rl_model_eval_batch(rl_model *m, const rl_batch_item *items, int n_items, float *logits);
int rl_model_n_seq(const rl_model *m);
int rl_model_seq_pos(const rl_model *m, int seq);        /* tokens in sequence seq's cache */
int rl_model_seq_rewind(rl_model *m, int seq, int pos);  /* as rl_model_rewind, for one sequence */
/* Length of the common prefix of sequence 0's cached tokens and tok[0..n) (prefix reuse: rewind
 * to it and feed only the rest). */
int rl_model_common_prefix(const rl_model *m, const int32_t *tok, int n);

/* Trace hook (debugging, comparing backends layer by layer): after each named intermediate of a
 * sweep (embed; per layer attn_norm, q, k, v, attn_out, mixer_out, ffn_norm, moe_scores, ffn_out,
 * layer_out, dn_conv, dn_core; final_norm with layer = n_layers) fn gets its values as host
 * floats, rows x cols (rows = tokens of the sweep), valid during the call. NULL turns it off.
 * Tracing downloads every intermediate: slow. 0 / -1. */
typedef void (*rl_trace_fn)(void *user, int layer, const char *name, const float *data, int rows, int cols);
int rl_model_set_trace(rl_model *m, rl_trace_fn fn, void *user);

/* Sampling parameters; temperature 0 = greedy. */
typedef struct {
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    float min_p;              /* 0 = off */
    float repetition_penalty; /* 1 = off */
    uint64_t seed;
} rl_sampling;

/* Default sampling (greedy). */
rl_sampling rl_sampling_default(void);

#ifdef __cplusplus
}
#endif
#endif
