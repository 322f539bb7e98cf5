/* Forced tool calls for `serve` (tool_choice "required" or naming a function): which call
 * convention the chat template uses, found by rendering probes through it, and the output
 * constraint that makes the answer exactly one call in that convention (the function's name, and
 * arguments that fit its parameters schema). */
#ifndef RL_SERVER_TOOLFORCE_H
#define RL_SERVER_TOOLFORCE_H
#include "server/jsonc.h"
#include <cjson/cJSON.h>

typedef enum {
    RL_TOOLS_JSON = 0,    /* a bare JSON object {"name", "parameters"} (Llama 3.1, and templates without markers) */
    RL_TOOLS_HERMES,      /* <tool_call>\n{"name", "arguments"}\n</tool_call> (Qwen, Hermes) */
    RL_TOOLS_MISTRAL      /* [TOOL_CALLS] [{"name", "arguments"}] */
} rl_tools_style;

/* The convention from the text of probes rendered through a template (its tool instructions and
 * an assistant message with a tool call). */
rl_tools_style rl_tools_style_of(const char *rendered);
const char *rl_tools_style_name(rl_tools_style st);

/* The constraint for one call of the function named name (NULL: any of tools) in convention st.
 * NULL with a message in err: no such function, a bad parameters schema, out of memory. */
rl_jsonc *rl_toolforce_new(const cJSON *tools, const char *name, rl_tools_style st, const rl_vocab_text *vt, char *err,
                           size_t errsz);

#endif
