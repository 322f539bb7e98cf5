/* The public tokenizer and chat-template calls of include/rabbitllm.h (thin wrappers over
 * tokenizer/ and template/, model references resolved through the hub cache). */
#include "rabbitllm.h"
#include "hub/hub.h"
#include "template/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

void rl_release(void *p) { free(p); }

rl_tokenizer *rl_tokenizer_open(const char *model) {
    if (!model) { rl_err("rl_tokenizer_open: no model given"); return NULL; }
    char *dir = rl_hub_resolve(model);
    if (!dir) return NULL;
    rl_tokenizer *t = rl_tok_load(dir);
    free(dir);
    return t;
}

void rl_tokenizer_close(rl_tokenizer *t) { rl_tok_free(t); }
int rl_tokenizer_vocab(const rl_tokenizer *t) { return (int)rl_tok_vocab_size(t); }
int rl_token_id(const rl_tokenizer *t, const char *token_text) { return token_text ? rl_tok_token_id(t, token_text) : -1; }

int rl_tokenize(const rl_tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids, int *n) {
    size_t nn = 0;
    *ids = NULL; *n = 0;
    if (!text && len) return rl_err("rl_tokenize: no text");
    if (rl_tok_encode(t, text ? text : "", len, add_special, ids, &nn)) return -1;
    if (nn > (size_t)INT32_MAX) { free(*ids); *ids = NULL; return rl_err("rl_tokenize: too many tokens"); }
    *n = (int)nn;
    return 0;
}

int rl_detokenize(const rl_tokenizer *t, const int32_t *ids, int n, int skip_special, char **text, size_t *len) {
    size_t l = 0;
    *text = NULL;
    if (n < 0 || (n > 0 && !ids)) return rl_err("rl_detokenize: bad id list");
    int rc = rl_tok_decode(t, ids, (size_t)n, skip_special, text, &l);
    if (len) *len = rc ? 0 : l;
    return rc;
}

int rl_token_to_piece(const rl_tokenizer *t, int32_t id, char **piece, size_t *len) {
    return rl_detokenize(t, &id, 1, 0, piece, len);
}

rl_chat_template *rl_chat_template_open(const char *model) {
    if (!model) { rl_err("rl_chat_template_open: no model given"); return NULL; }
    char *dir = rl_hub_resolve(model);
    if (!dir) return NULL;
    int found = 0;
    rl_chat_template *t = rl_chat_template_load(dir, &found);
    if (!t && !found) rl_err("%s: the model has no chat template", dir);
    free(dir);
    return t;
}

void rl_chat_template_close(rl_chat_template *t) { rl_chat_template_free(t); }

int rl_chat_template_apply(const rl_chat_template *t, const char *messages_json, int add_generation_prompt,
                           const char *extra_json, char **out) {
    *out = NULL;
    cJSON *msgs = messages_json ? cJSON_Parse(messages_json) : NULL, *extra = NULL;
    int rc = -1;
    if (!cJSON_IsArray(msgs)) rl_err("messages: must be a JSON array");
    else if (extra_json && !cJSON_IsObject(extra = cJSON_Parse(extra_json))) rl_err("extra: must be a JSON object");
    else rc = rl_chat_template_render(t, msgs, add_generation_prompt, extra, out);
    cJSON_Delete(msgs);
    cJSON_Delete(extra);
    return rc;
}
