/* Python str operations on UTF-8 values, shared by filters and methods. */
#ifndef RL_JJ_PYSTR_H
#define RL_JJ_PYSTR_H
#include "template/jj_eval.h"

/* mode: 1 = left, 2 = right, 3 = both. chars NULL = Python whitespace. */
jv *jj_py_strip(jj_state *S, jv *s, jv *chars, int mode);
jv *jj_py_case(jj_state *S, jv *s, int upper);
jv *jj_py_title(jj_state *S, jv *s);          /* str.title() */
jv *jj_py_capitalize(jj_state *S, jv *s);
jv *jj_py_replace(jj_state *S, jv *s, jv *old, jv *rep, long long count);
jv *jj_py_split(jj_state *S, jv *s, jv *sep, long long maxsplit, const jnode *at);
jv *jj_py_rsplit(jj_state *S, jv *s, jv *sep, long long maxsplit, const jnode *at);
jv *jj_py_splitlines(jj_state *S, jv *s, int keepends);
/* Byte offset of sub in s at or after byte offset from (or -1); code point index conversion by caller. */
long long jj_py_find(const jv *s, const jv *sub, size_t from);
long long jj_py_count(const jv *s, const jv *sub);
/* Python printf-style formatting: fmt % args. */
jv *jj_py_percent(jj_state *S, jv *fmt, jv *args, const jnode *at);
/* str.format with positional/keyword fields (conversion specs beyond !r/!s are ignored). */
jv *jj_py_format(jj_state *S, jv *fmt, const jj_args *a, const jnode *at);
/* str(v) */
jv *jj_str_of(jj_state *S, jv *v);

#endif
