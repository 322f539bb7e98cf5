/* The text front end shared by `run -p` and `chat`: tokenizer + chat template of a model,
 * prompt building (template or raw), stop tokens, and streamed generation to stdout. */
#ifndef RL_CLI_TEXTGEN_H
#define RL_CLI_TEXTGEN_H
#include "cli/opts.h"
#include "tokenizer/tokenizer.h"
#include "template/chat_template.h"
#include <signal.h>

typedef struct {
    rl_model *m;
    rl_tokenizer *tok;
    rl_chat_template *tmpl;   /* NULL: raw text */
    int32_t stop[16];         /* end-of-turn / eos token ids from the tokenizer */
    int n_stop;
    const rl_cli_opts *o;
} rl_textgen;

/* Opens model, tokenizer and template (a model without a template is noted on stderr). 0 / -1. */
int rl_textgen_open(rl_textgen *g, const rl_cli_opts *o);
void rl_textgen_close(rl_textgen *g);
/* Builds prompt ids: the template rendered over messages with a generation prompt (encoded
 * without adding special tokens again), or raw text encoded with the tokenizer's special
 * tokens. *ids malloc'd. 0 / -1 + rl_err. */
int rl_textgen_prompt(rl_textgen *g, const cJSON *messages, const char *raw_text, int32_t **ids, int *n);
/* Generates after new_ids (appended to the KV cache), streaming the text to stdout; stops on
 * eos / end-of-turn ids, -n, the context, or *interrupt. *answer (malloc'd) gets the text,
 * gen_ids/n_gen (optional, malloc'd) the generated ids. Prints a summary line to stderr. */
int rl_textgen_generate(rl_textgen *g, const int32_t *context, int n_context, const int32_t *new_ids, int n_new,
                        volatile sig_atomic_t *interrupt, char **answer, int32_t **gen_ids, int *n_gen);

#endif
