/* A model's chat template: loaded from its directory (chat_template.jinja, chat_template.json or
 * tokenizer_config.json) together with its special tokens, and rendered the way transformers'
 * apply_chat_template does. */
#ifndef RL_CHAT_TEMPLATE_H
#define RL_CHAT_TEMPLATE_H
#include <cjson/cJSON.h>

typedef struct rl_chat_template rl_chat_template;

/* Loads the template of model_dir. *found (optional) is set to 1 if the model has a chat template, 0 if
 * it has none. Returns NULL with rl_err on a broken or unparsable file, and NULL with *found == 0 (and
 * rl_err "no chat template") when the model simply has none. */
rl_chat_template *rl_chat_template_load(const char *model_dir, int *found);
/* Builds a template from source; tokenizer_config (optional) supplies the special tokens. */
rl_chat_template *rl_chat_template_from_string(const char *source, const cJSON *tokenizer_config);
/* Renders messages (a JSON array). extra: object of additional variables (extra.tools becomes `tools`),
 * or NULL. *out is malloc'd. Returns 0, or -1 with rl_err holding the template's error message
 * (raise_exception's text verbatim). */
int rl_chat_template_render(const rl_chat_template *t, const cJSON *messages, int add_generation_prompt,
                            const cJSON *extra, char **out);
void rl_chat_template_free(rl_chat_template *t);

#endif
