/* HuggingFace tokenizer.json tokenizer: loading and the encode / decode pipelines
 * (added tokens -> normalizer -> pre-tokenizer -> model -> post-processor; decoder). */
#ifndef RL_TOK_HF_H
#define RL_TOK_HF_H
#include "tokenizer/tok_internal.h"

typedef struct rl_hf rl_hf;
/* Parses tokenizer.json text; errors name `path`. */
rl_hf *rl_hf_load(const char *path);
/* Same from an already parsed tokenizer.json object (not kept); errors name `path`. */
rl_hf *rl_hf_from_json(const cJSON *j, const char *path);
void rl_hf_free(rl_hf *h);
int rl_hf_encode(const rl_hf *h, const char *text, size_t len, int add_special, rl_ivec *out);
/* Decodes ids (error for an unknown id); appends the text to out. */
int rl_hf_decode(const rl_hf *h, const int32_t *ids, size_t n, int skip_special, rl_buf *out);
size_t rl_hf_vocab_size(const rl_hf *h);
int32_t rl_hf_token_id(const rl_hf *h, const char *s, size_t n);
int rl_hf_is_special(const rl_hf *h, int32_t id);
int rl_hf_model_type(const rl_hf *h);
/* Replaces the post-processor (takes ownership). */
void rl_hf_set_post(rl_hf *h, rl_tkpost *p);
#endif
