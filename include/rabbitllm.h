/* rabbitllm public C API: open a HuggingFace checkpoint directory and run it layer by layer
 * (weights streamed from the safetensors files, two layers resident), with a KV cache.
 *
 * Ownership: every object returned by *_open / *_new is freed by its *_close / *_free.
 * Errors: functions return NULL or -1 and leave a message (naming the file and the problem)
 * readable with rl_last_error() on the same thread.
 * Threads: the library keeps no global mutable state. An object (rl_model, and the text objects
 * below) may be used by one thread at a time: calls on the same object must not overlap, so
 * serialize them (e.g. a mutex, or one owning thread); distinct objects may be used from
 * distinct threads at the same time. Exceptions are marked "any thread" (rl_version,
 * rl_last_error, rl_sampling_default, rl_session_cancel).
 * Linking: pkg-config --cflags --libs rabbitllm (add --static for librabbitllm.a). */
#ifndef RABBITLLM_H
#define RABBITLLM_H
#include <stddef.h>
#include <stdint.h>

#define RL_VERSION_MAJOR 0
#define RL_VERSION_MINOR 1
#define RL_VERSION_PATCH 0
#define RL_VERSION_STRING "0.1.0"

/* Marks the exported symbols; everything else in the library is built hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define RL_API __attribute__((visibility("default")))
#else
#define RL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, "MAJOR.MINOR.PATCH" (RL_VERSION_STRING of the build). Any thread. */
RL_API const char *rl_version(void);

typedef struct rl_model rl_model;

typedef struct {
    int n_threads;   /* compute threads; 0 = all online CPUs */
    int ctx;         /* context length in tokens; 0 = min(max_position_embeddings, 4096) */
    int max_batch;   /* most tokens per sweep (prefill chunk); 0 = 256 */
    int n_seq;         /* sequences that can run together (batching); 0 = 1. Each has its own KV
                          cache of ctx tokens. */
    size_t mem_budget; /* bytes of weights to keep resident in RAM instead of re-reading them
                          every sweep (spread evenly over the layers); 0 = stream everything */
} rl_model_opts;

/* The last error message of this thread ("" if none). Any thread (each has its own). */
RL_API const char *rl_last_error(void);

/* Opens MODEL_DIR (config.json, safetensors single or sharded). opts may be NULL. */
RL_API rl_model *rl_model_open(const char *model_dir, const rl_model_opts *opts);
RL_API void rl_model_close(rl_model *m);

RL_API int rl_model_vocab(const rl_model *m);     /* logits per row */
RL_API int rl_model_ctx(const rl_model *m);       /* context length */
RL_API int rl_model_pos(const rl_model *m);       /* tokens in the KV cache */
/* 1 if id is one of the model's eos ids (config.json / generation_config.json). */
RL_API int rl_model_is_eos(const rl_model *m, int32_t id);

/* Runs tokens[0..n) at positions pos..pos+n-1 through the model, appending them to the KV
 * cache (prefill in sweeps of up to max_batch tokens). logits (may be NULL) receives, if
 * all_rows, n rows of vocab floats (one per token), else one row for the last token.
 * -1 + error: token id out of range, context exceeded, read error. */
RL_API int rl_model_eval(rl_model *m, const int32_t *tokens, int n, float *logits, int all_rows);

/* Drops the KV cache after position pos (0 = empty), e.g. to reuse a shared prompt prefix.
 * Hybrid models (Qwen3.5 linear-attention layers) cannot rewind their recurrent state: the next
 * rl_model_eval re-prefills tokens 0..pos from the model's token history first (exact, one extra
 * prefill of the kept prefix; pos 0 is just a reset). */
RL_API void rl_model_rewind(rl_model *m, int pos);
/* 1 if rewinding is free (a KV cache is truncated); 0 for models with recurrent layers, where a
 * rewind replays the kept prefix on the next eval. */
RL_API int rl_model_rewind_is_cheap(const rl_model *m);

/* Batching: several sequences (0 .. n_seq-1, opts.n_seq at open) share each sweep, so one read
 * of the weights serves them all. Each item's tokens are appended to its own sequence's cache
 * (the single-sequence calls above act on sequence 0). logits (may be NULL) receives one row
 * per item: the logits after its last token. Items must name distinct sequences. */
typedef struct {
    int seq;                  /* sequence index */
    const int32_t *tokens;    /* tokens to append */
    int n;                    /* how many (>= 1) */
} rl_batch_item;
RL_API int rl_model_eval_batch(rl_model *m, const rl_batch_item *items, int n_items, float *logits);
RL_API int rl_model_n_seq(const rl_model *m);
RL_API int rl_model_seq_pos(const rl_model *m, int seq);        /* tokens in sequence seq's cache */
RL_API void rl_model_seq_rewind(rl_model *m, int seq, int pos); /* as rl_model_rewind, for one sequence */

/* Sampling parameters; temperature 0 = greedy. */
typedef struct {
    float temperature;        /* 0 = greedy */
    int top_k;                /* 0 = off */
    float top_p;              /* 1 = off */
    float min_p;              /* 0 = off */
    float repetition_penalty; /* 1 = off */
    uint64_t seed;
} rl_sampling;

/* Default sampling (greedy). Any thread. */
RL_API rl_sampling rl_sampling_default(void);

#ifdef __cplusplus
}
#endif
#endif
