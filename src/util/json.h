/* Typed accessors over cJSON objects for config files: each returns a default when the key is
 * absent or null, and reports a wrong type through rl_err naming the file and the key. */
#ifndef RL_JSON_H
#define RL_JSON_H
#include <cjson/cJSON.h>

/* Parses a JSON file; NULL + rl_err ("<path>: invalid JSON near ...") on failure. Caller cJSON_Delete()s. */
cJSON *rl_json_load(const char *path);
/* The member `key` of obj if present and not null, else NULL. */
const cJSON *rl_json_get(const cJSON *obj, const char *key);
/* Number member into *out (def if absent). -1 + rl_err if present with another type. */
int rl_json_num(const cJSON *obj, const char *key, double def, double *out, const char *file);
/* Integer member (must be integral). */
int rl_json_int(const cJSON *obj, const char *key, long long def, long long *out, const char *file);
/* Boolean member. */
int rl_json_bool(const cJSON *obj, const char *key, int def, int *out, const char *file);
/* String member (owned by obj), def if absent. */
int rl_json_str(const cJSON *obj, const char *key, const char *def, const char **out, const char *file);

#endif
