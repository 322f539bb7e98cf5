/* Tool calls in model output, for `serve` requests with tools: Qwen / Hermes
 * (<tool_call>{"name", "arguments"}</tool_call>, several allowed), Mistral ([TOOL_CALLS] followed
 * by a JSON array of {"name", "arguments"}), Llama 3.1 (an answer that is one JSON object
 * {"name", "parameters"}, optionally after <|python_tag|>). */
#ifndef RL_SERVER_TOOLS_H
#define RL_SERVER_TOOLS_H
#include "rabbitllm.h"
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* The tool calls of a finished answer text[0..len): an OpenAI tool_calls array ({"id", "type":
 * "function", "function": {"name", "arguments": JSON text}}; ids from id_seed), and *content_len
 * the length of the text before them; NULL (and *content_len = len) when there are none. */
cJSON *rl_tools_parse(const char *text, size_t len, size_t *content_len, uint64_t id_seed);
/* While streaming: how much of text[0..len) can go out as content now, i.e. the text before any
 * tool-call marker or what could still become one. */
size_t rl_tools_safe_prefix(const char *text, size_t len);
/* The harmony tool calls (gpt-oss: messages "to=functions.NAME") a detokenizer kept apart from the
 * answer, as an OpenAI tool_calls array (name without "functions.", the message text as the
 * arguments); NULL when there are none. */
cJSON *rl_tools_from_stream(const rl_detok_stream *ds, uint64_t id_seed);

#endif
