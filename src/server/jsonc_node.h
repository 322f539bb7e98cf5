/* The schema tree of the JSON output constraint (jsonc.h): js_compile turns a JSON schema into
 * nodes the automaton in jsonc.c walks. Internal to src/server/jsonc*.c. */
#ifndef RL_SERVER_JSONC_NODE_H
#define RL_SERVER_JSONC_NODE_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define JS_MAX_PROPS 64      /* properties of one object (a bit mask of candidates) */
#define JS_MAX_LITS 64       /* literals of one T_LITS node (bigger enums: an T_ALT of several) */

enum { T_ANY, T_OBJ, T_ARR, T_STR, T_NUM, T_INT, T_LITS, T_ALT };

typedef struct js_node js_node;
struct js_node {
    int type;
    int n;                /* T_OBJ: properties (0: members of any name); T_LITS: literals; T_ALT: alternatives */
    char **keys;          /* T_OBJ: the names as JSON strings ("\"name\""); T_LITS: the JSON texts */
    js_node **sub;        /* T_OBJ: the property schemas; T_ALT: the alternatives */
    uint64_t required;    /* T_OBJ: bit i set = property i must appear */
    js_node *extra;       /* T_OBJ without properties: the schema of member values (NULL: any) */
    int no_extra;         /* T_OBJ without properties: no members at all (additionalProperties false) */
    js_node *items;       /* T_ARR: the item schema (NULL: any) */
    int min, max;         /* T_OBJ members, T_ARR items, T_STR code points; max -1: no limit */
    int has_lo, has_hi, lo_ex, hi_ex;   /* T_NUM / T_INT range (T_INT: made inclusive, lo_ex = hi_ex = 0) */
    double lo, hi;
    js_node *next_free;   /* every node of a pool, for freeing */
};

typedef struct { js_node *all; } js_pool;

/* The root node for schema (NULL: any JSON object), nodes taken from pool. NULL with a message in
 * err (a bad or unsupported schema, out of memory). */
js_node *js_compile(js_pool *pool, const cJSON *schema, char *err, size_t errsz);
void js_pool_free(js_pool *pool);

#endif
