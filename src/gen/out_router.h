/* Sorting a model's generated tokens into answer, reasoning and tool calls, for tokenizers whose
 * models write them apart:
 * - OpenAI's harmony format (gpt-oss): messages <|start|>{role}[ to={recipient}]<|channel|>
 *   {channel}<|message|>{text}<|end|>, the turn ending with <|return|> (or <|call|> after a tool
 *   call). The text of "final" messages (and of "commentary" messages to nobody: preambles) is
 *   the answer; "analysis" messages are reasoning; messages to a recipient ("to=functions.NAME"
 *   in the header or after the channel) are tool calls; control tokens, roles and channel names
 *   are none of these.
 * - <think> ... </think> as single tokens (Qwen3, DeepSeek-R1, QwQ): what is between them is
 *   reasoning, the rest the answer (its whitespace right after </think> dropped); the tags are
 *   neither. A prompt that ends inside <think> (DeepSeek-R1's template) starts in the reasoning.
 * The router reads the prompt's tokens first, so it knows where generation begins. */
#ifndef RL_OUT_ROUTER_H
#define RL_OUT_ROUTER_H
#include "tokenizer/tokenizer.h"
#include <stdint.h>

typedef enum { RL_HM_SKIP = 0, RL_HM_CONTENT, RL_HM_REASONING, RL_HM_CALL } rl_hm_route;
typedef struct rl_out_router rl_out_router;

/* A router for t, or NULL (and no error) when t has neither harmony's control tokens nor
 * <think> / </think> tokens. */
rl_out_router *rl_out_router_new(const rl_tokenizer *t);
void rl_out_router_free(rl_out_router *h);
/* Where token tok goes, given the tokens routed before it (the prompt's too). */
rl_hm_route rl_out_router_route(rl_out_router *h, int32_t tok);
/* Harmony: the current message's recipient ("functions.get_weather"; "" if none) and its
 * sequence number (it grows with each <|message|>: tokens of one call share it). */
const char *rl_out_router_recipient(const rl_out_router *h);
int rl_out_router_message_seq(const rl_out_router *h);

#endif
