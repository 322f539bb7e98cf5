/* OpenAI's harmony response format (gpt-oss): the model writes messages
 * <|start|>{role}[ to={recipient}]<|channel|>{channel}<|message|>{text}<|end|> and ends its turn
 * with <|return|> (or <|call|> after a tool call). This router sorts generated tokens by what
 * they are: the text of "final" messages (and of "commentary" messages to nobody: preambles) is
 * the answer; "analysis" messages are reasoning; messages to a recipient ("to=functions.NAME" in
 * the header or after the channel) are tool calls; the control tokens, roles and channel names
 * are none of these. */
#ifndef RL_HARMONY_H
#define RL_HARMONY_H
#include "tokenizer/tokenizer.h"
#include <stdint.h>

typedef enum { RL_HM_SKIP = 0, RL_HM_CONTENT, RL_HM_REASONING, RL_HM_CALL } rl_hm_route;
typedef struct rl_harmony rl_harmony;

/* A router for t, or NULL (and no error) when t lacks harmony's control tokens. */
rl_harmony *rl_harmony_new(const rl_tokenizer *t);
void rl_harmony_free(rl_harmony *h);
/* Where token tok goes, given the tokens routed before it (the prompt's too). */
rl_hm_route rl_harmony_route(rl_harmony *h, int32_t tok);
/* The current message's recipient ("functions.get_weather"; "" if none) and its sequence number
 * (it grows with each <|message|>: tokens of one call share it). */
const char *rl_harmony_recipient(const rl_harmony *h);
int rl_harmony_message_seq(const rl_harmony *h);

#endif
