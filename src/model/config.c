/* config.json -> rl_model_desc: the keys every family shares (dimensions, norms, rope, eos),
 * then the family's own normalizer (families.c). */
#include "model/config.h"
#include "model/gguf_config.h"
#include "format/gguf_find.h"
#include "model/family.h"
#include "model/fam_dense.h"
#include "model/rope.h"
#include "util/err.h"
#include "util/fileio.h"
#include "util/json.h"
#include "model/quant_config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

static void add_eos(rl_model_desc *d, long long id) {
    if (id < 0) return;
    for (int i = 0; i < d->n_eos; i++) if (d->eos_ids[i] == id) return;
    if (d->n_eos < RL_MAX_EOS) d->eos_ids[d->n_eos++] = (int)id;
}

/* eos_token_id may be an int or a list of ints. */
static int read_eos(rl_model_desc *d, const cJSON *obj, const char *file) {
    const cJSON *e = rl_json_get(obj, "eos_token_id");
    if (!e) return 0;
    /* range-checked before the conversion (a huge double does not fit a long long) */
#define EOS_OK(x) ((x) >= -1 && (x) <= 2147483647.0 && (x) == (double)(long long)(x))
    if (cJSON_IsNumber(e)) {
        if (!EOS_OK(e->valuedouble)) return rl_err("%s: \"eos_token_id\" = %g is not a token id", file, e->valuedouble);
        add_eos(d, (long long)e->valuedouble);
        return 0;
    }
    if (!cJSON_IsArray(e)) return rl_err("%s: \"eos_token_id\" must be an integer or a list", file);
    const cJSON *v;
    cJSON_ArrayForEach(v, e) {
        if (!cJSON_IsNumber(v)) return rl_err("%s: \"eos_token_id\" list holds a non-number", file);
        if (!EOS_OK(v->valuedouble)) return rl_err("%s: \"eos_token_id\" list holds %g, not a token id", file, v->valuedouble);
        add_eos(d, (long long)v->valuedouble);
    }
#undef EOS_OK
    return 0;
}

static int req_int(const cJSON *c, const char *key, int *out, const char *file) {
    long long v;
    if (!rl_json_get(c, key)) return rl_err("%s: missing \"%s\"", file, key);
    if (rl_json_int(c, key, 0, &v, file)) return -1;
    if (v <= 0 || v > (1ll << 31) - 1) return rl_err("%s: \"%s\" = %lld is out of range", file, key, v);
    *out = (int)v;
    return 0;
}

/* The family's name for a generic key when the config lacks the generic one (ChatGLM's
 * num_layers for num_hidden_layers, ...; the table is rl_family_key_alias in fam_glm.c). */
static const char *key_of(const rl_family *fam, const cJSON *c, const char *key) {
    const char *alt = rl_json_get(c, key) ? NULL : rl_family_key_alias(fam->name, key);
    return alt && rl_json_get(c, alt) ? alt : key;
}

int rl_config_from_json(rl_model_desc *d, const cJSON *root, const char *file) {
    const char *tk = rl_json_get(root, "text_config") ? "text_config" : "llm_config"; /* (InternVL's remote-code form: llm_config) */
    const cJSON *cfg = rl_json_get(root, tk);
    if (cfg && !cJSON_IsObject(cfg)) return rl_err("%s: \"%s\" must be an object", file, tk);
    if (!cfg) cfg = root;

    const char *arch = NULL, *mt = NULL;
    const cJSON *archs = rl_json_get(root, "architectures");
    if (archs) {
        if (!cJSON_IsArray(archs) || !cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
            return rl_err("%s: \"architectures\" must be a list of strings", file);
        arch = cJSON_GetArrayItem(archs, 0)->valuestring;
    }
    if (rl_json_str(root, "model_type", NULL, &mt, file)) return -1;
    const rl_family *fam = rl_family_find(arch, mt);
    if (!fam) {
        char list[4096];
        rl_family_list(list, sizeof list);
        return rl_err("%s: unsupported architecture \"%s\" (model_type \"%s\"); supported: %s",
                      file, arch ? arch : "?", mt ? mt : "?", list);
    }
    snprintf(d->family, sizeof d->family, "%s", fam->name);
    snprintf(d->arch, sizeof d->arch, "%s", arch ? arch : "");
    snprintf(d->model_type, sizeof d->model_type, "%s", mt ? mt : "");

    const char *hk = key_of(fam, cfg, "num_attention_heads");
    int no_heads = rl_family_no_attention(fam) && !rl_json_get(cfg, hk); /* (placeholders: no attention layer reads them) */
    if (no_heads) d->n_heads = 1;
    if (req_int(cfg, "hidden_size", &d->hidden, file) || req_int(cfg, key_of(fam, cfg, "num_hidden_layers"), &d->n_layers, file) ||
        (!no_heads && req_int(cfg, hk, &d->n_heads, file)) || req_int(cfg, key_of(fam, cfg, "intermediate_size"), &d->intermediate, file) ||
        req_int(cfg, key_of(fam, cfg, "vocab_size"), &d->vocab, file)) return -1;
    if (d->n_layers > RL_MAX_LAYERS) return rl_err("%s: %d layers exceed the supported %d", file, d->n_layers, RL_MAX_LAYERS);
    long long v;
    if (rl_json_int(cfg, "num_key_value_heads", d->n_heads, &v, file)) return -1;
    if (v <= 0 || v > d->n_heads || d->n_heads % v) return rl_err("%s: num_key_value_heads %lld must divide num_attention_heads %d", file, v, d->n_heads);
    d->n_kv_heads = (int)v;
    /* explicit head_dim wins; else hidden / heads — never the head count */
    if (rl_json_int(cfg, "head_dim", no_heads ? 2 : 0, &v, file)) return -1;
    if (v == 0) {
        if (d->hidden % d->n_heads) return rl_err("%s: hidden_size %d is not divisible by num_attention_heads %d and no head_dim is given", file, d->hidden, d->n_heads);
        v = d->hidden / d->n_heads;
    }
    if (v <= 0 || v > 4096 || v % 2) return rl_err("%s: head_dim %lld is invalid", file, v);
    d->head_dim = (int)v;
    if (rl_json_int(cfg, "max_position_embeddings", 4096, &v, file)) return -1;
    d->max_pos = v > 0 && v < (1ll << 30) ? (int)v : 4096;

    double eps;
    if (rl_json_num(cfg, "rms_norm_eps", 1e-6, &eps, file)) return -1;
    d->norm = RL_NORM_RMS;
    d->norm_eps = (float)eps;

    const char *act;
    if (rl_json_str(cfg, "hidden_act", "silu", &act, file)) return -1;
    if (!strcmp(act, "silu") || !strcmp(act, "swish")) d->act = RL_ACT_SILU;
    else if (!strcmp(act, "gelu_pytorch_tanh") || !strcmp(act, "gelu_new") || !strcmp(act, "gelu_fast")) d->act = RL_ACT_GELU_TANH;
    else if (!strcmp(act, "gelu")) d->act = RL_ACT_GELU_ERF;
    else if (!strcmp(act, "relu2")) d->act = RL_ACT_RELU2; /* squared ReLU (Arcee) */
    else return rl_err("%s: unsupported hidden_act \"%s\" (supported: silu, gelu, gelu_pytorch_tanh, gelu_new, relu2)", file, act);
    d->mlp_gated = 1;

    int tied;
    if (rl_json_bool(root, "tie_word_embeddings", fam->default_tied, &tied, file)) return -1;
    if (cfg != root && !rl_json_get(root, "tie_word_embeddings") &&
        rl_json_bool(cfg, "tie_word_embeddings", fam->default_tied, &tied, file)) return -1;
    d->tied = tied;

    /* rope: one config for every layer unless the family adds a second */
    double prf;
    if (rl_json_num(cfg, "partial_rotary_factor", 1.0, &prf, file)) return -1;
    const cJSON *rp = rl_json_get(cfg, "rope_parameters");
    if (rp && rl_json_num(rp, "partial_rotary_factor", prf, &prf, file)) return -1;
    if (!(prf > 0 && prf <= 1)) return rl_err("%s: partial_rotary_factor %g is not in (0, 1]", file, prf);
    d->n_ropes = 1;
    d->ropes[0].rot_dims = (int)(d->head_dim * prf);
    d->ropes[0].rot_dims -= d->ropes[0].rot_dims % 2;
    d->ropes[0].pairing = RL_ROPE_NEOX;
    if (rl_rope_parse(cfg, NULL, &d->ropes[0], d->max_pos, file)) return -1;

    d->attn_scale = 1.0f / sqrtf((float)d->head_dim);
    d->emb_scale = 1.0f;
    d->bos_id = -1;
    if (rl_json_int(cfg, "bos_token_id", -1, &v, file)) { /* some configs use lists: ignore */ }
    else d->bos_id = (int)v;
    if (read_eos(d, cfg, file)) return -1;
    if (cfg != root && read_eos(d, root, file)) return -1;
    const char *dt;
    if (rl_json_str(root, "dtype", NULL, &dt, file)) return -1;
    if (!dt && rl_json_str(root, "torch_dtype", "", &dt, file)) return -1;
    snprintf(d->dtype, sizeof d->dtype, "%s", dt);
    for (int l = 0; l < d->n_layers; l++) d->layers[l] = (rl_layer_desc){.kind = RL_LAYER_FULL};

    return fam->normalize(d, cfg, file);
}

int rl_config_load(const char *model_dir, rl_model_desc *d) {
    char path[4096];
    memset(d, 0, sizeof *d);
    if (rl_path_join(path, sizeof path, model_dir, "config.json")) return -1;
    if (!rl_file_exists(path)) { /* a .gguf file, or a directory holding a GGUF model */
        char gp[4096];
        int g = rl_gguf_find(model_dir, gp, sizeof gp);
        if (g) return g < 0 ? -1 : rl_gguf_config(gp, d);
    }
    cJSON *root = rl_json_load(path);
    if (!root) return -1;
    int rc = cJSON_IsObject(root) ? rl_config_from_json(d, root, path) : rl_err("%s: top level must be a JSON object", path);
    if (!rc) rc = rl_quant_config_load(model_dir, root, path, &d->quant);
    cJSON_Delete(root);
    if (rc) return -1;

    if (rl_path_join(path, sizeof path, model_dir, "generation_config.json")) return -1;
    if (rl_file_exists(path)) {
        cJSON *g = rl_json_load(path);
        if (!g) return -1;
        rc = read_eos(d, g, path);
        cJSON_Delete(g);
        if (rc) return -1;
    }
    return 0;
}
