/* The tokenize / detokenize JSON-lines protocol: a small reader for one request object
 * ({"text": str, "add_special_tokens": bool} or {"ids": [...], "skip_special_tokens": bool})
 * that keeps embedded NULs (cJSON cannot), and a JSON string writer. */
#ifndef RL_TOK_JSONL_H
#define RL_TOK_JSONL_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *text; size_t text_len; int has_text;
    int32_t *ids; size_t n_ids; int has_ids;
    int add_special;   /* -1 if absent */
    int skip_special;  /* -1 if absent */
} rl_jsonl_req;

/* Parses one JSON object line. 0, or -1 + rl_err. Free with rl_jsonl_req_free. */
int rl_jsonl_parse(const char *s, size_t n, rl_jsonl_req *r);
void rl_jsonl_req_free(rl_jsonl_req *r);
/* Appends s as a quoted JSON string to a malloc'd buffer (*buf, *len, *cap); raw UTF-8 kept. */
int rl_jsonl_put_string(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
#endif
