/* Printing values the way Python does: str(), repr(), float repr, and json.dumps. */
#ifndef RL_JJ_PRINT_H
#define RL_JJ_PRINT_H
#include "template/jj_value.h"
#include "template/jj_str.h"

void jj_write_float(jj_sb *b, double f);       /* Python repr(float): shortest round-trip */
void jj_write_str(jj_sb *b, const jv *v);      /* str(v); undefined prints nothing */
void jj_write_repr(jj_sb *b, const jv *v);     /* repr(v) */
/* str(v) as a new arena string (returns v itself for strings). */
jv *jj_to_str(jj_arena *a, jv *v);

typedef struct { int ensure_ascii; int indent; /* <0: none */ const char *item_sep, *key_sep; int sort_keys; } jj_json_opts;
/* json.dumps(v). Returns NULL on success or the offending value (not JSON serializable). */
const jv *jj_write_json(jj_sb *b, const jv *v, const jj_json_opts *o);

#endif
