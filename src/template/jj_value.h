/* Runtime values of the Jinja engine (Python-like: undefined, None, bool, int, float, str, list, tuple,
 * dict, namespace, loop, callables). All values live in the render arena; strings are UTF-8 + NUL. */
#ifndef RL_JJ_VALUE_H
#define RL_JJ_VALUE_H
#include <stddef.h>
#include "template/jj_arena.h"

typedef enum { JV_UNDEF, JV_NONE, JV_BOOL, JV_INT, JV_FLOAT, JV_STR, JV_LIST, JV_TUPLE, JV_DICT, JV_NS,
               JV_LOOP, JV_FUNC } jv_kind;

typedef struct jv jv;
typedef struct jj_state jj_state;
typedef struct jnode jnode;

/* Call arguments: positional then keyword. */
typedef struct { int n; jv **v; int nk; const char **kn; jv **kv; } jj_args;
/* A native function or bound method. self may be NULL. Errors via jj_fail (longjmp). */
typedef jv *(*jj_native)(jj_state *S, jv *self, const jj_args *a, const jnode *at);

typedef struct jj_loop {
    jv **items; size_t n, i; int depth;
    const jnode *node; void *frame;      /* for recursive loops: the for node and its outer frame */
} jj_loop;

struct jv {
    jv_kind k;
    union {
        int b;
        long long i;
        double f;
        struct { const char *s; size_t n; } s;          /* JV_STR; JV_UNDEF keeps its hint here */
        struct { jv **v; size_t n, cap; } l;             /* JV_LIST, JV_TUPLE */
        struct { jv **k; jv **v; size_t n, cap; } d;     /* JV_DICT, JV_NS (insertion ordered) */
        jj_loop *loop;                                   /* JV_LOOP */
        struct { jj_native fn; jv *self; const jnode *macro; const char *name; void *closure; jv *caller; } fn;
    } u;
};

extern jv jv_none_v, jv_true_v, jv_false_v, jv_undef_v;
#define JV_NONE_P (&jv_none_v)
#define JV_TRUE_P (&jv_true_v)
#define JV_FALSE_P (&jv_false_v)

jv *jv_undef(jj_arena *a, const char *hint);            /* hint: error text if used, e.g. "'x' is undefined" */
jv *jv_bool(int b);
jv *jv_int(jj_arena *a, long long i);
jv *jv_float(jj_arena *a, double f);
jv *jv_str(jj_arena *a, const char *s, size_t n);       /* copies */
jv *jv_cstr(jj_arena *a, const char *s);
jv *jv_str_own(jj_arena *a, const char *s, size_t n);   /* takes s (already in the arena) */
jv *jv_list(jj_arena *a, size_t cap);
jv *jv_tuple(jj_arena *a, size_t cap);
jv *jv_dict(jj_arena *a, jv_kind k);                    /* JV_DICT or JV_NS */
jv *jv_native(jj_arena *a, jj_native fn, jv *self, const char *name);

void jv_push(jj_arena *a, jv *list, jv *item);
jv *jv_dict_get(const jv *d, const jv *key);            /* NULL if absent */
jv *jv_dict_gets(const jv *d, const char *key);
void jv_dict_set(jj_arena *a, jv *d, jv *key, jv *val);
void jv_dict_sets(jj_arena *a, jv *d, const char *key, jv *val);

int jv_truthy(const jv *v);
int jv_eq(const jv *a, const jv *b);
/* Python name of the value's type ("str", "int", "dict", ...). */
const char *jv_type_name(const jv *v);
int jv_is_num(const jv *v);                             /* bool, int, float */
double jv_num(const jv *v);

/* Converts a cJSON tree (void * to keep cJSON out of this header). Integral numbers become int. */
jv *jv_from_json(jj_arena *a, const void *cjson);

#endif
