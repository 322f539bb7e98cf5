/* Built-in chat templates by name (chatml, llama3, llama2, gemma, mistral, phi3, qwen, deepseek):
 * `serve --chat-template NAME`, and ChatML for models that publish none. */
#ifndef RL_TEMPLATE_BUILTIN_H
#define RL_TEMPLATE_BUILTIN_H

/* The Jinja source of built-in template name, NULL if there is none of that name. */
const char *rl_chat_builtin_template(const char *name);
/* The i-th built-in name (0, 1, ...), NULL past the last. */
const char *rl_chat_builtin_name(int i);

#endif
