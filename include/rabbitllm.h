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
                          every sweep (spread evenly over the layers); 0 = stream everything;
                          RL_MEM_BUDGET_AUTO = what the process may really use (MemAvailable and
                          its cgroup limit) less the KV cache, activations, slots and a margin */
    const char *kv_type; /* KV cache storage: "f32", "f16", "bf16", "q8_0"; NULL / "auto" = the most
                          exact whose memory plan fits: f32, else bf16, else q8_0 */
    const char *backend; /* compute backend: "cpu", "cuda", "vulkan"; NULL = $RL_BACKEND, else
                          "cpu". One not built in (or without a device) is an error at open. */
    size_t gpu_mem;      /* device-memory budget of a GPU backend (cuda, vulkan): the first layers
                          that fit beside the activations and KV cache stay on the device
                          (uploaded once at open), the rest stream through two device slots;
                          0 = stream every layer; RL_GPU_MEM_AUTO = the device's free memory
                          less a margin (5 % of the device, at least 512 MiB). Ignored by the
                          cpu backend. */
    size_t expert_cache; /* MoE models: bytes of routed experts kept in the compute backend's
                          memory (device memory for a GPU backend, RAM for the cpu), the most
                          used of each layer over recent sweeps; 0 = what the budgets leave
                          (a GPU: gpu_mem after the resident layers; the cpu: mem_budget after
                          every stage is resident); less than one expert (RL_EXPERT_CACHE_OFF) =
                          none. */
    int moe_cpu_rows;    /* GPU backends, MoE models: a routed expert not in the device's expert
                          cache runs on the CPU (its rows go down, the result up) when at most
                          this many rows of a sweep route to it, else it is uploaded and runs on
                          the device; 0 = 8; < 0 = never (every expert on the device). */
} rl_model_opts;
#define RL_MEM_BUDGET_AUTO ((size_t)-1)
#define RL_GPU_MEM_AUTO ((size_t)-1)
#define RL_EXPERT_CACHE_OFF ((size_t)1)

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
/* The memory plan rl_model_open would make for MODEL_DIR with opts, without opening the model
 * (only the description is read): a JSON object as `info --json` shows under "plan" ("fits",
 * "buffers": [{"name", "bytes"}], ...). Free with rl_release. NULL + error. */
RL_API char *rl_model_plan(const char *model_dir, const rl_model_opts *opts);

/* Runs tokens[0..n) at positions pos..pos+n-1 through the model, appending them to the KV
 * cache (prefill in sweeps of up to max_batch tokens). logits (may be NULL) receives, if
 * all_rows, n rows of vocab floats (one per token), else one row for the last token.
 * -1 + error: token id out of range, context exceeded, read error. */
RL_API int rl_model_eval(rl_model *m, const int32_t *tokens, int n, float *logits, int all_rows);

/* Drops the KV cache after position pos (0 = empty), e.g. to reuse a shared prompt prefix.
 * Hybrid models (Qwen3.5 linear-attention layers) cannot rewind their recurrent state: the next
 * rl_model_eval feeds tokens 0..pos from the model's token history again in front of its own
 * (exact; pos 0 is just a reset), or only the tokens after a state checkpoint at or before pos
 * (rl_model_seq_checkpoint; generation sets one at each prompt's end). */
RL_API int rl_model_rewind(rl_model *m, int pos);  /* 0, or -1 + error if pos is outside 0..current */
/* 1 if rewinding is free (a KV cache is truncated); 0 for models with recurrent layers, where a
 * rewind replays the kept prefix on the next eval. */
RL_API int rl_model_rewind_is_cheap(const rl_model *m);
/* Hybrid models: saves sequence seq's recurrent state at its current position, so that a later
 * rewind to this position or after it (until the next checkpoint or a rewind below it) restores
 * it and feeds only the tokens after it, in front of the next eval's own (a chat's next turn).
 * Speculative decoding keeps a checkpoint of its own per sequence, so drafting does not lose this
 * one; a rewind restores the latest at or before its position. While a rewind is pending the
 * checkpoint is taken inside the next sweep. A no-op for models whose rewinds are cheap. 0 / -1. */
RL_API int rl_model_seq_checkpoint(rl_model *m, int seq);

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
RL_API int rl_model_seq_rewind(rl_model *m, int seq, int pos);  /* as rl_model_rewind, for one sequence */
/* Length of the common prefix of sequence 0's cached tokens and tok[0..n) (prefix reuse: rewind
 * to it and feed only the rest). */
RL_API int rl_model_common_prefix(const rl_model *m, const int32_t *tok, int n);

/* Token trees (speculative decoding): rl_model_eval_tree runs n candidate tokens after sequence
 * 0's cache in one sweep, node i being a child of node parent[i] (-1: of the cache's last token;
 * parent[i] < i), at position pos + depth, each attending to the cache and its own ancestors
 * (within the window on sliding-window layers); logits (n rows, may be NULL) get each node's
 * next-token logits. Nothing is kept until rl_model_tree_commit(nodes, k) appends the path
 * nodes[0..k) (each the child of the one before, nodes[0] a root node) to the cache without
 * recomputing it; a later tree sweep drops trees not committed. At most 256 nodes (and --batch)
 * per sweep. rl_model_eval_tree_batch runs one tree per item (distinct sequences) in one sweep,
 * logits in item order (sum of n rows); rl_model_seq_tree_commit commits sequence seq's.
 * rl_model_tree_ok says whether the model and backend can branch (no recurrent layers, a
 * backend with tree attention; GLM-5's DSA indexer selects over the prefix and the node's
 * ancestors); where not, the same calls take chains only (parent[i]
 * = i - 1): the chain's rows run as plain rows (a hybrid model checkpoints its state before them
 * in the same sweep) and stay in the cache until the commit keeps nodes 0..k-1 (a rejected tail
 * of a hybrid model is fed again, from the checkpoint, in front of the next sweep); anything else
 * done with the model first drops a chain not committed, as for trees. */
#define RL_TREE_MAX 256
typedef struct {
    int seq;                  /* sequence index */
    const int32_t *tokens;    /* n nodes */
    const int32_t *parent;    /* n parents (-1 or an earlier node of this item) */
    int n;
} rl_tree_item;
RL_API int rl_model_tree_ok(const rl_model *m);
RL_API int rl_model_eval_tree(rl_model *m, const int32_t *tokens, const int32_t *parent, int n, float *logits);
RL_API int rl_model_tree_commit(rl_model *m, const int32_t *nodes, int k);
RL_API int rl_model_eval_tree_batch(rl_model *m, const rl_tree_item *items, int n_items, float *logits);
RL_API int rl_model_seq_tree_commit(rl_model *m, int seq, const int32_t *nodes, int k);

/* The token ids in sequence 0's cache (*ids valid until the next eval or rewind); returns how
 * many. */
RL_API int rl_model_tokens(const rl_model *m, const int32_t **ids);

/* Trace hook (debugging, comparing backends layer by layer): after each named intermediate of a
 * sweep (embed; per layer attn_norm, q, k, v, attn_out, mixer_out, ffn_norm, moe_scores, ffn_out,
 * layer_out, dn_conv, dn_core; final_norm with layer = n_layers) fn gets its values as host
 * floats, rows x cols (rows = tokens of the sweep), valid during the call. NULL turns it off.
 * Tracing downloads every intermediate: slow. Not thread-safe with a concurrent eval. 0 / -1. */
typedef void (*rl_trace_fn)(void *user, int layer, const char *name, const float *data, int rows, int cols);
RL_API int rl_model_set_trace(rl_model *m, rl_trace_fn fn, void *user);

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

/* ---- Text: tokenizer, chat template, generation sessions ----
 * Memory returned through char ** / int32_t ** out-parameters is malloc'd by the library and
 * freed with rl_release. MODEL arguments are a model directory or a Hugging Face hub id
 * "org/name[@revision]" already in the local cache (never downloaded here). */

/* Frees memory the library returned (texts, id arrays). NULL is fine. Any thread. */
RL_API void rl_release(void *p);

typedef struct rl_tokenizer rl_tokenizer;

/* The tokenizer of MODEL (tokenizer.json, else tokenizer.model; tokenizer_config.json). */
RL_API rl_tokenizer *rl_tokenizer_open(const char *model);
RL_API void rl_tokenizer_close(rl_tokenizer *t);
/* Vocabulary size including added tokens (max id + 1). */
RL_API int rl_tokenizer_vocab(const rl_tokenizer *t);
/* UTF-8 text[0..len) to ids (*ids for rl_release, *n their count). add_special: 1 adds the model's
 * special tokens (BOS, ...) as HF's add_special_tokens=True; special-token text in the input is
 * always parsed as those tokens. -1 + error on invalid UTF-8. */
RL_API int rl_tokenize(const rl_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids, int *n);
/* ids to UTF-8 text (NUL-terminated, *len bytes, for rl_release); skip_special drops special tokens.
 * -1 + error on an id outside the vocabulary. */
RL_API int rl_detokenize(const rl_tokenizer *t, const int32_t *ids, int n, int skip_special, char **text, size_t *len);
/* The text of one token decoded alone (special tokens included), for rl_release. -1 on a bad id. */
RL_API int rl_token_to_piece(const rl_tokenizer *t, int32_t id, char **piece, size_t *len);
/* The id of an exact token text (added or vocabulary token), -1 if none. */
RL_API int rl_token_id(const rl_tokenizer *t, const char *token_text);

typedef struct rl_chat_template rl_chat_template;

/* The chat template of MODEL (chat_template.jinja, chat_template.json or tokenizer_config.json).
 * NULL + error if it has none or it does not parse. */
RL_API rl_chat_template *rl_chat_template_open(const char *model);
RL_API void rl_chat_template_close(rl_chat_template *t);
/* Renders messages_json (a JSON array of {"role", "content", ...}) as transformers'
 * apply_chat_template does; extra_json (may be NULL) is an object of further template variables
 * ("tools", ...). *out for rl_release. -1 + error: bad JSON, or the template's own error message. */
RL_API int rl_chat_template_apply(const rl_chat_template *t, const char *messages_json, int add_generation_prompt,
                                  const char *extra_json, char **out);

/* Built-in chat templates (chatml, llama3, llama2, gemma, mistral, phi3, qwen, deepseek): the Jinja
 * source of name (NULL if there is none), the i-th name (NULL past the last). Any thread. */
RL_API const char *rl_chat_template_builtin(const char *name);
RL_API const char *rl_chat_template_builtin_name(int i);
/* A template from Jinja source; MODEL (may be NULL) supplies the special tokens (bos_token, ...)
 * of its tokenizer_config.json. NULL + error (a parse error names the line). */
RL_API rl_chat_template *rl_chat_template_from_source(const char *jinja, const char *model);

/* Token sampling for callers that run rl_model_eval_batch themselves: greedy, or temperature with
 * top-k / top-p / min-p and a repetition penalty over history, from the seeded generator of p
 * (same seed, same tokens). pick modifies logits in place. */
typedef struct rl_sampler rl_sampler;
RL_API rl_sampler *rl_sampler_new(int vocab, const rl_sampling *p);
RL_API void rl_sampler_free(rl_sampler *s);
RL_API int32_t rl_sampler_pick(rl_sampler *s, float *logits, const int32_t *history, int n_history);

/* Streaming detokenization: generated ids in, text pieces out (complete characters only, word
 * boundaries as a whole decode gives them; context: the last prompt ids). Pieces and text are
 * owned by s. 0 / -1 + error. With a tokenizer whose models write reasoning apart — harmony
 * (gpt-oss), or <think> / </think> tokens (Qwen3, DeepSeek-R1) — the pieces and text are the
 * answer only, rl_detok_stream_reasoning the reasoning (the analysis channel, inside <think>),
 * and harmony's tool calls (messages to a recipient) are kept apart. */
typedef struct rl_detok_stream rl_detok_stream;
RL_API rl_detok_stream *rl_detok_stream_new(const rl_tokenizer *t, const int32_t *context, int n_context);
RL_API void rl_detok_stream_free(rl_detok_stream *s);
RL_API int rl_detok_stream_push(rl_detok_stream *s, int32_t tok, const char **piece, size_t *len);
RL_API int rl_detok_stream_finish(rl_detok_stream *s, const char **piece, size_t *len);
RL_API const char *rl_detok_stream_text(const rl_detok_stream *s, size_t *len);
RL_API const char *rl_detok_stream_reasoning(const rl_detok_stream *s, size_t *len);
/* Harmony tool calls (messages to a recipient), in order: the recipient ("functions.NAME"; NULL
 * past the last) and its message text *args (the arguments, JSON as the model wrote them). */
RL_API int rl_detok_stream_n_calls(const rl_detok_stream *s);
RL_API const char *rl_detok_stream_call(const rl_detok_stream *s, int i, const char **args, size_t *args_len);

/* A session: a model with its tokenizer and chat template, generating text. It keeps the token
 * ids of its KV cache, so a prompt that extends the previous one (the next turn of a chat, the
 * same system prompt) evaluates only the new tokens. One thread at a time, except
 * rl_session_cancel. */
typedef struct rl_session rl_session;

typedef struct {
    rl_model_opts model;   /* as for rl_model_open */
    int raw;               /* 1: ignore the chat template (rl_session_chat then fails) */
    const char *draft_model; /* speculative decoding with this resident draft model (same
                              vocabulary: checked at open; model.n_seq sequences); NULL = none */
    int draft_tokens;      /* most token-tree nodes per sweep with a draft model (0 = 64) */
    const char *draft_backend; /* the draft model's compute backend; NULL = the target's */
    int draft_fixed;       /* 1: always trees of draft_tokens nodes (no cost model; tests, benchmarks) */
} rl_session_opts;

/* Opens MODEL (opts may be NULL: defaults). NULL + error naming the file and the problem. */
RL_API rl_session *rl_session_open(const char *model, const rl_session_opts *opts);
RL_API void rl_session_close(rl_session *s);
/* The session's model (for rl_model_eval etc.; the session's KV-cache tracking assumes it is
 * only moved through the session: call rl_session_reset after using it directly). */
RL_API rl_model *rl_session_model(rl_session *s);
RL_API const rl_tokenizer *rl_session_tokenizer(const rl_session *s);
/* The chat template, NULL if the model has none (or opts.raw). */
RL_API const rl_chat_template *rl_session_template(const rl_session *s);
/* The token ids that end a generation (eos, end-of-turn): *ids (owned by s) and their count. */
RL_API int rl_session_stop_ids(const rl_session *s, const int32_t **ids);

/* The session's draft model (rl_session_opts.draft_model, opened with model.n_seq sequences,
 * its vocabulary checked at open), NULL if none. Owned by s. */
RL_API rl_model *rl_session_draft_model(rl_session *s);

/* Speculative decoding for callers that batch sequences themselves (the server): a drafter grows
 * one token tree per sequence with a draft model (SpecExec-style, as `run --draft-model`; the
 * draft's greedy chain where either model cannot branch: rl_model_tree_ok), for the
 * caller to verify with rl_model_eval_tree_batch on the target, walk with its own sampler (a node's
 * child is taken while the sampled id equals it) and commit with rl_model_seq_tree_commit. The
 * draft's cache of each sequence follows the tokens given to rl_drafter_grow (prefix kept, the
 * rest fed). The tree size follows a cost model: rl_drafter_budget before a step,
 * rl_drafter_record after it. */
typedef struct rl_drafter rl_drafter;
typedef struct {
    int seq;                  /* sequence (of the target and the draft) */
    const int32_t *tokens;    /* the sequence's accepted tokens (the target's cache of it) */
    int n;
    int32_t root;             /* the pending token (sampled, not in the cache): the tree's root */
    int budget;               /* most nodes of its tree (1: the root alone, the draft not run) */
} rl_draft_req;
/* A drafter for target m with draft d (both kept by the caller; d opened with at least as many
 * sequences as the caller uses); draft_tokens: the largest tree (0 = 64); fixed: always that
 * size (no cost model). NULL + error when the vocabularies differ. */
RL_API rl_drafter *rl_drafter_new(rl_model *m, rl_model *d, int draft_tokens, int fixed);
RL_API void rl_drafter_free(rl_drafter *p);
/* Most nodes of all trees of one step together (a sweep of either model, at most RL_TREE_MAX). */
RL_API int rl_drafter_max_nodes(const rl_drafter *p);
/* Nodes per tree for the next step (the cost model's choice; 1: drafting does not pay now). */
RL_API int rl_drafter_budget(rl_drafter *p);
/* The step after rl_drafter_budget yielded tokens (accepted path nodes) in seconds. */
RL_API void rl_drafter_record(rl_drafter *p, int tokens, double seconds);
/* Grows the trees of reqs[0..n) (distinct sequences, budgets summing to at most max_nodes) into
 * trees[0..n) (tokens / parents owned by p, valid until its next grow). 0 / -1 + error (the
 * draft's caches of those sequences are then dropped). */
RL_API int rl_drafter_grow(rl_drafter *p, const rl_draft_req *reqs, int n, rl_tree_item *trees);

/* Why a generation ended. */
enum { RL_FINISH_LENGTH = 0, RL_FINISH_STOP = 1, RL_FINISH_CANCELLED = 2 };

typedef struct {
    int max_tokens;               /* most new tokens; 0 = up to the context */
    rl_sampling sampling;
    int ignore_eos;               /* keep going past eos / end-of-turn tokens */
    int draft;                    /* speculative tokens verified per sweep (prompt lookup); 0 = off */
    const char *const *stop;      /* stop strings: the text ends before the first one found */
    int n_stop;
    /* Called with each new piece of text: complete UTF-8 characters only, a possible stop string
     * held back until decided; the pieces concatenate to the whole answer. Nonzero = stop
     * (finish RL_FINISH_CANCELLED). May be NULL. */
    int (*on_text)(void *user, const char *piece, size_t len);
    void *user;
    const volatile int *cancel;   /* generation stops once *cancel is nonzero (e.g. set by a signal handler); may be NULL */
    /* Called with each new piece of the reasoning a model writes apart from its answer (gpt-oss's
     * analysis channel, Qwen3's <think>; not part of the text), with `user`. Nonzero = stop. May be NULL. */
    int (*on_reasoning)(void *user, const char *piece, size_t len);
} rl_gen_params;

/* max_tokens 0, greedy, no stop strings, no callback. Any thread. */
RL_API rl_gen_params rl_gen_params_default(void);

typedef struct {
    int finish;                   /* RL_FINISH_* */
    int ctx_full;                 /* 1 if it stopped because the context was full */
    int n_prompt;                 /* prompt tokens */
    int n_reused;                 /* of them already in the KV cache (not evaluated again) */
    int n_gen;                    /* tokens generated */
    double prefill_s, decode_s;   /* seconds evaluating the prompt / generating */
    int drafted, accepted;        /* speculative tokens proposed / accepted */
    int sweeps;                   /* decode sweeps of the model (nodes/sweep = 1 + drafted / sweeps) */
    double draft_s;               /* with a draft model: seconds in the draft model */
    double target_read_s;         /* with a draft model: seconds of target sweeps waiting for weights */
    double target_compute_s;      /* with a draft model: seconds of target sweeps computing */
} rl_gen_info;

/* Prompt ids (for rl_release): messages_json (a JSON array of messages, extra_json template
 * variables or NULL) rendered through the chat template with the generation prompt and encoded
 * without adding special tokens again; or, when messages_json is NULL, text encoded with the
 * special tokens. -1 + error: no template for messages, bad JSON, template error. */
RL_API int rl_session_prompt(rl_session *s, const char *messages_json, const char *extra_json, const char *text,
                             int32_t **ids, int *n);
/* Generates after prompt ids[0..n) (1 <= n < context), reusing the longest prefix already in
 * the KV cache. Stops on eos / end-of-turn tokens, max_tokens, the context, a stop string,
 * on_text, *cancel or rl_session_cancel. *text (may be NULL; for rl_release) gets the answer
 * without a stop string; info (may be NULL) the counts and timing. 0 / -1 + error. */
RL_API int rl_session_generate_ids(rl_session *s, const int32_t *ids, int n, const rl_gen_params *p, char **text,
                                   rl_gen_info *info);
/* Raw text in (special tokens added, no template), the answer out. p may be NULL (defaults). */
RL_API int rl_session_generate(rl_session *s, const char *prompt, const rl_gen_params *p, char **text, rl_gen_info *info);

typedef struct {
    const char *role;             /* "system", "user", "assistant", ... */
    const char *content;
} rl_chat_message;

/* A chat turn: messages[0..n) through the chat template (-1 + error if the model has none). */
RL_API int rl_session_chat(rl_session *s, const rl_chat_message *messages, int n, const rl_gen_params *p, char **text,
                           rl_gen_info *info);
/* The same with messages as JSON (tool calls, content parts) and extra template variables
 * (extra_json: an object, e.g. {"tools": [...]}, or NULL). */
RL_API int rl_session_chat_json(rl_session *s, const char *messages_json, const char *extra_json, const rl_gen_params *p,
                                char **text, rl_gen_info *info);
/* Stops the generation in progress after its current token (RL_FINISH_CANCELLED), or the next
 * one if none is running; cleared when that generation returns. Any thread, and
 * async-signal-safe. */
RL_API void rl_session_cancel(rl_session *s);
/* Empties the KV cache (the next prompt is evaluated from its start). 0 / -1. */
RL_API int rl_session_reset(rl_session *s);

#ifdef __cplusplus
}
#endif
#endif
