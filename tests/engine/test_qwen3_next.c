/* Qwen3-Next (Qwen3NextForCausalLM): the qwen3_5_moe fixture rewritten as the Qwen3-Next
 * checkpoint of the same weights — in_proj_qkv + in_proj_z fused into in_proj_qkvz and
 * in_proj_b + in_proj_a into in_proj_ba, per key-head group as HF's fix_query_key_value_ordering
 * reads them; the fused experts split into per-expert gate / up / down tensors (Qwen2-MoE
 * names); the config in Qwen3-Next's form (rope_theta and partial_rotary_factor at the top,
 * decoder_sparse_step, norm_topk_prob) — must reproduce the qwen3_5_moe golden (llama.cpp's
 * logits) within 1e-3 with the same greedy ids, on the cpu, cpu-staged and the GPU backends that
 * open here;
 * batched and chunked runs too (the split tables cover every row of a sweep). The same checkpoint
 * written as F32 GGUF (`quantize --gguf`: llama.cpp's qwen3next layout, in_proj_qkvz split into
 * attn_qkv and attn_gate, in_proj_ba kept as ssm_ba, ssm_a = -exp(A_log)) matches the golden too. */
#include "repack.h"
#include "quant/gguf_export.h"

#define SRC "fixtures/qwen3_5_moe"

/* Writes the Qwen3-Next form of the fixture into dir (config.json, model.safetensors). 0 / -1. */
static int repack(const char *src, const char *dir, const void *arg) {
    (void)arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    int L = cJSON_GetObjectItem(cfg, "num_hidden_layers")->valueint, E = cJSON_GetObjectItem(cfg, "num_experts")->valueint;
    int nk = cJSON_GetObjectItem(cfg, "linear_num_key_heads")->valueint, nv = cJSON_GetObjectItem(cfg, "linear_num_value_heads")->valueint;
    int dk = cJSON_GetObjectItem(cfg, "linear_key_head_dim")->valueint, dv = cJSON_GetObjectItem(cfg, "linear_value_head_dim")->valueint;
    int r = nv / nk, G = 2 * dk + 2 * r * dv;
    /* the config: Qwen3-Next's keys */
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Qwen3NextForCausalLM"}, 1));
    cJSON_ReplaceItemInObject(cfg, "model_type", cJSON_CreateString("qwen3_next"));
    cJSON_DeleteItemFromObject(cfg, "rope_parameters");
    cJSON_DeleteItemFromObject(cfg, "mamba_ssm_dtype");
    cJSON_DeleteItemFromObject(cfg, "attn_output_gate");
    cJSON_AddNumberToObject(cfg, "rope_theta", 10000000);
    cJSON_AddNumberToObject(cfg, "decoder_sparse_step", 1);
    cJSON_AddItemToObject(cfg, "mlp_only_layers", cJSON_CreateArray());
    cJSON_AddTrueToObject(cfg, "norm_topk_prob");
    cJSON_AddNumberToObject(cfg, "intermediate_size", 96); /* the dense MLP's (no dense layer here) */
    /* the tensors */
    int n_in = rl_ckpt_n_tensors(ck), n = 0, cap = n_in + L * E * 3 + 8, rc = 0;
    repack_t *o = calloc((size_t)cap, sizeof *o);
    for (int i = 0; !rc && o && i < n_in; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i), *u;
        const char *nm = t->name;
        int l;
        char rest[128];
        if (sscanf(nm, "model.layers.%d.%127s", &l, rest) != 2) rest[0] = 0;
        size_t es = RL_DTYPES[t->dtype].size;
        if (!strcmp(rest, "linear_attn.in_proj_qkv.weight")) { /* + in_proj_z -> in_proj_qkvz */
            char zn[128];
            snprintf(zn, sizeof zn, "model.layers.%d.linear_attn.in_proj_z.weight", l);
            uint8_t *a = repack_load(ck, nm, &t), *z = repack_load(ck, zn, &u);
            int64_t H = t->shape[1];
            size_t rb = (size_t)H * es;
            repack_t *x = &o[n++];
            snprintf(x->name, sizeof x->name, "model.layers.%d.linear_attn.in_proj_qkvz.weight", l);
            x->dt = t->dtype; x->ndim = 2; x->shape[0] = (int64_t)nk * G; x->shape[1] = H;
            x->bytes = (size_t)nk * G * rb;
            x->data = malloc(x->bytes);
            if (!a || !z || !x->data) rc = 1;
            for (int g = 0; !rc && g < nk; g++) {
                uint8_t *dst = x->data + (size_t)g * G * rb;
                memcpy(dst, a + (size_t)g * dk * rb, (size_t)dk * rb);                               /* q_g */
                memcpy(dst + (size_t)dk * rb, a + ((size_t)nk * dk + (size_t)g * dk) * rb, (size_t)dk * rb); /* k_g */
                memcpy(dst + (size_t)2 * dk * rb, a + ((size_t)2 * nk * dk + (size_t)g * r * dv) * rb, (size_t)r * dv * rb); /* v */
                memcpy(dst + ((size_t)2 * dk + (size_t)r * dv) * rb, z + (size_t)g * r * dv * rb, (size_t)r * dv * rb);       /* z */
            }
            free(a); free(z);
        } else if (!strcmp(rest, "linear_attn.in_proj_b.weight")) { /* + in_proj_a -> in_proj_ba */
            char an[128];
            snprintf(an, sizeof an, "model.layers.%d.linear_attn.in_proj_a.weight", l);
            uint8_t *b = repack_load(ck, nm, &t), *a = repack_load(ck, an, &u);
            size_t rb = (size_t)t->shape[1] * es;
            repack_t *x = &o[n++];
            snprintf(x->name, sizeof x->name, "model.layers.%d.linear_attn.in_proj_ba.weight", l);
            x->dt = t->dtype; x->ndim = 2; x->shape[0] = 2 * nv; x->shape[1] = t->shape[1];
            x->bytes = (size_t)2 * nv * rb;
            x->data = malloc(x->bytes);
            if (!a || !b || !x->data) rc = 1;
            for (int g = 0; !rc && g < nk; g++) {
                memcpy(x->data + (size_t)g * 2 * r * rb, b + (size_t)g * r * rb, (size_t)r * rb);
                memcpy(x->data + ((size_t)g * 2 * r + r) * rb, a + (size_t)g * r * rb, (size_t)r * rb);
            }
            free(a); free(b);
        } else if (!strcmp(rest, "mlp.experts.gate_up_proj") || !strcmp(rest, "mlp.experts.down_proj")) {
            int down = !strcmp(rest, "mlp.experts.down_proj");
            uint8_t *w = repack_load(ck, nm, &t);
            int64_t rows = t->shape[1], cols = t->shape[2];
            size_t mb = (size_t)rows * cols * es;
            for (int e = 0; !rc && w && e < E; e++)
                for (int k = 0; k < (down ? 1 : 2); k++) { /* gate_up: the gate rows, then the up rows */
                    repack_t *x = &o[n++];
                    snprintf(x->name, sizeof x->name, "model.layers.%d.mlp.experts.%d.%s_proj.weight", l, e,
                             down ? "down" : k ? "up" : "gate");
                    x->dt = t->dtype; x->ndim = 2; x->shape[0] = down ? rows : rows / 2; x->shape[1] = cols;
                    x->bytes = down ? mb : mb / 2;
                    x->data = malloc(x->bytes);
                    if (!x->data) { rc = 1; break; }
                    memcpy(x->data, w + (size_t)e * mb + (down ? 0 : (size_t)k * mb / 2), x->bytes);
                }
            if (!w) rc = 1;
            free(w);
        } else if (strcmp(rest, "linear_attn.in_proj_z.weight") && strcmp(rest, "linear_attn.in_proj_a.weight")) {
            if (repack_copy(ck, t, &o[n++])) rc = 1; /* as it is */
        }
    }
    return repack_finish(dir, cfg, ck, o, n, rc);
}

static void test_golden(void) {
    char src[512];
    snprintf(src, sizeof src, "%s/" SRC, t_shared());
    char dir[64] = "/tmp/rl_qwen3_next_XXXXXX", gguf[96], cmd[200];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(repack(src, dir, NULL) == 0, "rewriting %s: %s", src, rl_last_error());
    repack_check(dir, src, "qwen3_next");
    snprintf(gguf, sizeof gguf, "%s.gguf", dir);
    CHECK(rl_gguf_export(dir, gguf, RL_GX_F32, NULL, NULL, NULL) == 0, "quantize --gguf: %s", rl_last_error());
    repack_check(gguf, src, "qwen3_next as GGUF");
    unlink(gguf);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
