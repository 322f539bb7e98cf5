/* The quantized layer cache: a compressed copy of a model directory in which the large matrices
 * of the layers (q/k/v/o, MLP, experts, MLA / linear-attention projections) are Q8_0 (8 bits)
 * or Q4_1 (4 bits) and the lm_head (also the embedding when tied) is Q8_0; every other tensor
 * (norms, biases, routers, small or odd-shaped tensors, an untied embedding) is copied as is.
 * Same tensor names and shard file names, so rl_model_open(cache_dir) runs it like any model.
 *
 * Freshness: every shard's "__metadata__" carries rabbitllm.quant.{version, bits, source,
 * source_files} (source_files = name:size:mtime of every source shard, the index, config.json
 * and generation_config.json); a cache whose metadata differs from the source now is stale.
 * Atomicity: the cache is written into "<dir>.tmp-<pid>" and renamed to <dir> only when
 * complete, so a crash never leaves a directory that looks like a cache. Memory: tensor by
 * tensor in chunks of rows (a few tens of MB whatever the model size). */
#ifndef RL_QCACHE_H
#define RL_QCACHE_H
#include <stddef.h>
#include <stdint.h>

#define RL_QCACHE_VERSION "1"

/* The default cache directory for model_dir at bits (8 or 4) into out (cap bytes):
 * $XDG_CACHE_HOME/rabbitllm/<hash of the real path>-q8 (or -q4; $HOME/.cache when XDG_CACHE_HOME
 * is unset) — never inside the model directory (which may be a read-only HF cache snapshot),
 * unless neither variable is set, then MODEL_DIR/.rabbitllm-q8 when it is writable.
 * Returns 0 or -1 with rl_err. */
int rl_qcache_default_dir(const char *model_dir, int bits, char *out, size_t cap);

/* 1 if cache_dir holds a complete cache of model_dir at bits matching the source files as they
 * are now, 0 if not (absent, stale, other bits or another source; the reason is left in rl_err),
 * -1 if the source itself cannot be read (rl_err). */
int rl_qcache_fresh(const char *model_dir, int bits, const char *cache_dir);

/* Totals of a write (optional output of rl_qcache_build). */
typedef struct {
    uint64_t src_bytes, out_bytes; /* tensor data read and written */
    int n_quantized, n_copied;     /* tensors */
} rl_qcache_stats;

/* Writes the cache of model_dir at bits into out_dir (replacing what is there) and installs it
 * atomically. Test hook: RL_QUANT_FAIL_AFTER=N in the environment makes the write fail after
 * N tensors (nothing is installed). Returns 0 or -1 with rl_err. */
/* Progress of rl_qcache_build (source bytes done of all), called after each tensor; NULL: none.
 * Process-wide (the CLI's progress line). */
typedef void (*rl_qcache_progress_fn)(void *ud, uint64_t done, uint64_t total);
void rl_qcache_set_progress(rl_qcache_progress_fn fn, void *ud);
int rl_qcache_build(const char *model_dir, int bits, const char *out_dir, rl_qcache_stats *st);

/* Resolves the cache of model_dir at bits: out_dir, or the default when NULL; builds it when
 * absent or stale (*built = 1, else 0; built may be NULL). The directory to open goes to out
 * (cap bytes). Returns 0 or -1 with rl_err. */
int rl_qcache_ensure(const char *model_dir, int bits, const char *out_dir, char *out, size_t cap,
                     int *built);

#endif
