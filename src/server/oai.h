/* OpenAI API shapes for `rabbitllm serve`: parsing and validating the bodies of
 * /v1/chat/completions and /v1/completions, and building the JSON of responses, stream chunks
 * (chat.completion.chunk / text_completion), errors and the model list. No HTTP here. */
#ifndef RL_SERVER_OAI_H
#define RL_SERVER_OAI_H
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <stddef.h>

#define RL_OAI_MAX_STOP 16
#define RL_OAI_MAX_N 16
#define RL_OAI_MAX_BIAS 1024

typedef enum { RL_OAI_CHAT, RL_OAI_COMPLETION } rl_oai_kind;

typedef struct {
    rl_oai_kind kind;
    cJSON *root;              /* the parsed body */
    cJSON *messages;          /* chat: a copy with text content parts joined into strings */
    cJSON *extra;             /* chat: template variables (tools, tool_choice, chat_template_kwargs), or NULL */
    const char *prompt;       /* completion: the raw text (inside root) */
    int max_tokens;           /* -1: not given */
    rl_sampling sampling;     /* the server's defaults overridden by the request */
    int has_seed;
    const char *stop[RL_OAI_MAX_STOP];   /* inside root */
    int n_stop;
    int stream, include_usage;
    int n;                    /* choices (1..RL_OAI_MAX_N) */
    float presence, frequency;             /* penalties in [-2, 2] */
    int32_t bias_id[RL_OAI_MAX_BIAS];      /* logit_bias */
    float bias[RL_OAI_MAX_BIAS];
    int n_bias;
    int logprobs, top_logprobs;            /* chat: logprobs bool + top_logprobs; completion: logprobs N */
    int format;                            /* RL_OAI_FMT_* (response_format) */
    const cJSON *schema;                   /* json_schema: the schema (inside root) */
    int has_tools;                         /* tools given (and tool_choice not "none") */
    int tool_force;                        /* tool_choice "required" or naming a function: the answer is one call */
    const char *tool_name;                 /* the function tool_choice names (inside root), else NULL */
} rl_oai_request;

enum { RL_OAI_FMT_TEXT = 0, RL_OAI_FMT_JSON_OBJECT, RL_OAI_FMT_JSON_SCHEMA };

typedef struct {              /* one finished choice */
    const char *text;         /* the content (NULL: null, with tool calls) */
    const char *finish;
    cJSON *logprobs;          /* chat: array of content entries; completion: the logprobs object; NULL: null */
    cJSON *tool_calls;        /* chat: OpenAI tool_calls array, or NULL */
    const char *reasoning;    /* chat: "reasoning_content" beside the content (harmony's analysis channel, <think>), or NULL */
} rl_oai_choice;

/* Parses body[0..len) as a request of kind, starting from the sampling defaults def. Returns 0,
 * or -1 with a message in err and *param naming the offending field (NULL for the body). */
int rl_oai_parse(rl_oai_kind kind, const char *body, size_t len, const rl_sampling *def, rl_oai_request *r,
                 char *err, size_t errsz, const char **param);
void rl_oai_request_free(rl_oai_request *r);

/* The JSON texts below are malloc'd (NULL only when out of memory). */
/* {"error": {"message", "type", "param", "code"}} */
char *rl_oai_error_json(const char *message, const char *type, const char *param, const char *code);
/* {"object": "list", "data": [model]}, or the model object alone if single */
char *rl_oai_models_json(const char *model, long created, int single);
/* chat.completion / text_completion with choices c[0..n) (their cJSON members are taken) and usage. */
char *rl_oai_response_json(rl_oai_kind kind, const char *id, const char *model, long created, rl_oai_choice *c, int n,
                           int n_prompt, int n_gen);
/* One stream chunk for choice index: role (chat's first chunk) and/or text[0..len) (may be NULL),
 * logprobs / tool_calls (may be NULL; taken), finish (NULL: null); usage nonzero: instead the
 * usage chunk with empty choices (stream_options.include_usage). */
char *rl_oai_chunk_json(rl_oai_kind kind, const char *id, const char *model, long created, int index, const char *role,
                        const char *text, size_t len, cJSON *logprobs, cJSON *tool_calls, const char *finish,
                        int n_prompt, int n_gen, int usage);
/* A chat stream chunk for choice index whose delta is {"reasoning_content": text[0..len)}. */
char *rl_oai_reasoning_chunk_json(const char *id, const char *model, long created, int index, const char *text, size_t len);
/* The model object of /v1/models with extra fields (context length, family). */
char *rl_oai_models_json_ex(const char *model, long created, int single, int ctx, const char *family);

#endif
