/* IBM Granite families, each proved against an existing llama.cpp golden by rewriting a fixture
 * into the Granite form of the same function:
 * - GraniteForCausalLM: the llama fixture with every multiplier away from 1 and the weights scaled
 *   by powers of two to undo it (exact in bf16): embeddings / 2 with embedding_multiplier 2,
 *   q_proj x 2 with attention_multiplier 1 / (2 sqrt(head_dim)), o_proj and down_proj x 2 with
 *   residual_multiplier 0.5, lm_head x 4 with logits_scaling 4;
 * - GraniteMoeForCausalLM: the mixtral fixture, experts fused into input_linear [E, 2I, H] (gate
 *   rows, then up) and output_linear [E, H, I], the router as router.layer, the same multipliers;
 * - GraniteMoeSharedForCausalLM and GraniteMoeHybridForCausalLM (attention layers): the llama
 *   fixture's MLP cut along its intermediate channels (an MLP is a sum over them): the first half
 *   is both of two experts (top-2 of 2: weights summing to 1), the second half the shared MLP;
 * - GraniteMoeHybridForCausalLM without experts: the shared MLP is the whole MLP.
 * Granite, GraniteMoe, GraniteMoeShared and an all-attention GraniteMoeHybrid with experts written
 * as F32 GGUF (`quantize --gguf`: llama.cpp's granite / granitemoe layout, Q/K rows permuted,
 * input_linear split into gate and up) match the same golden. A Mamba-2 layer (Granite 4.0-H; test_granite_hybrid.c) whose tensors are absent is an
 * error naming the missing tensor. */
#include "quant/gguf_export.h"
#include "repack.h"

typedef enum { K_DENSE, K_MOE, K_SHARED, K_HYBRID, K_HYBRID_DENSE, K_HYBRID_MAMBA } kind;

static const char *ARCH[] = {"GraniteForCausalLM", "GraniteMoeForCausalLM", "GraniteMoeSharedForCausalLM",
                             "GraniteMoeHybridForCausalLM", "GraniteMoeHybridForCausalLM", "GraniteMoeHybridForCausalLM"};
static const char *MTYPE[] = {"granite", "granitemoe", "granitemoeshared", "granitemoehybrid", "granitemoehybrid", "granitemoehybrid"};

/* bf16 (or f32) tensor data times s (a power of two: exact). */
static void scale_data(repack_t *x, float s) {
    size_t n = x->bytes / RL_DTYPES[x->dt].size;
    for (size_t i = 0; i < n; i++)
        if (x->dt == RL_DT_BF16) {
            uint16_t *p = (uint16_t *)x->data;
            p[i] = rl_f32_to_bf16(rl_bf16_to_f32(p[i]) * s);
        } else ((float *)x->data)[i] *= s;
}

static repack_t *add(repack_t *o, int *n, const char *name, rl_dtype dt, int ndim, int64_t a, int64_t b, int64_t c) {
    repack_t *x = &o[(*n)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->dt = dt; x->ndim = ndim; x->shape[0] = a; x->shape[1] = b; x->shape[2] = c;
    x->bytes = (size_t)a * b * (ndim > 2 ? c : 1) * RL_DTYPES[dt].size;
    x->data = calloc(1, x->bytes);
    return x;
}

/* Rows [r0, r0 + nr) of a [rows, cols] tensor, or columns [c0, c0 + nc) (nc > 0), appended at dst. */
static uint8_t *put_rows(uint8_t *dst, const uint8_t *src, int64_t cols, size_t es, int64_t r0, int64_t nr) {
    memcpy(dst, src + (size_t)r0 * cols * es, (size_t)nr * cols * es);
    return dst + (size_t)nr * cols * es;
}
static uint8_t *put_cols(uint8_t *dst, const uint8_t *src, int64_t rows, int64_t cols, size_t es, int64_t c0, int64_t nc) {
    for (int64_t r = 0; r < rows; r++, dst += (size_t)nc * es) memcpy(dst, src + ((size_t)r * cols + c0) * es, (size_t)nc * es);
    return dst;
}

/* The llama fixture's MLP of layer l as experts / shared MLP (K_SHARED, K_HYBRID) or the dense
 * shared MLP (K_HYBRID_DENSE); the output projections times ds. */
static int split_mlp(rl_checkpoint *ck, int l, kind k, float ds, repack_t *o, int *n) {
    char nm[3][128];
    const char *role[3] = {"gate_proj", "up_proj", "down_proj"};
    const rl_tensor_info *t[3];
    uint8_t *w[3];
    for (int i = 0; i < 3; i++) {
        snprintf(nm[i], sizeof nm[i], "model.layers.%d.mlp.%s.weight", l, role[i]);
        w[i] = repack_load(ck, nm[i], &t[i]);
    }
    int rc = !w[0] || !w[1] || !w[2];
    int64_t I = rc ? 0 : t[0]->shape[0], H = rc ? 0 : t[0]->shape[1], h = k == K_HYBRID_DENSE ? I : I / 2;
    rl_dtype dt = rc ? RL_DT_BF16 : t[0]->dtype;
    size_t es = RL_DTYPES[dt].size;
    char name[160];
    if (!rc) { /* the shared MLP: channels [I - h, I) */
        snprintf(name, sizeof name, "model.layers.%d.shared_mlp.input_linear.weight", l);
        repack_t *x = add(o, n, name, dt, 2, 2 * h, H, 0);
        put_rows(put_rows(x->data, w[0], H, es, I - h, h), w[1], H, es, I - h, h);
        snprintf(name, sizeof name, "model.layers.%d.shared_mlp.output_linear.weight", l);
        x = add(o, n, name, dt, 2, H, h, 0);
        put_cols(x->data, w[2], H, I, es, I - h, h);
        scale_data(x, ds);
    }
    if (!rc && k != K_HYBRID_DENSE) { /* two identical experts: channels [0, h); a router of two q_proj rows */
        snprintf(name, sizeof name, "model.layers.%d.block_sparse_moe.input_linear.weight", l);
        repack_t *x = add(o, n, name, dt, 3, 2, 2 * h, H);
        for (int e = 0; e < 2; e++) put_rows(put_rows(x->data + (size_t)e * 2 * h * H * es, w[0], H, es, 0, h), w[1], H, es, 0, h);
        snprintf(name, sizeof name, "model.layers.%d.block_sparse_moe.output_linear.weight", l);
        x = add(o, n, name, dt, 3, 2, H, h);
        for (int e = 0; e < 2; e++) put_cols(x->data + (size_t)e * H * h * es, w[2], H, I, es, 0, h);
        scale_data(x, ds);
        snprintf(name, sizeof name, "model.layers.%d.block_sparse_moe.router.layer.weight", l);
        x = add(o, n, name, dt, 2, 2, H, 0);
        memcpy(x->data, w[1], x->bytes);
    }
    for (int i = 0; i < 3; i++) free(w[i]);
    return rc ? -1 : 0;
}

/* The Granite form of fixture src (arg: the kind) into dir. */
static int repack(const char *src, const char *dir, const void *arg) {
    kind k = *(const kind *)arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    int L = cJSON_GetObjectItem(cfg, "num_hidden_layers")->valueint;
    int hd = cJSON_GetObjectItem(cfg, "head_dim") ? cJSON_GetObjectItem(cfg, "head_dim")->valueint
           : cJSON_GetObjectItem(cfg, "hidden_size")->valueint / cJSON_GetObjectItem(cfg, "num_attention_heads")->valueint;
    int I = cJSON_GetObjectItem(cfg, "intermediate_size")->valueint, mult = k == K_DENSE || k == K_MOE || k == K_HYBRID;
    cJSON_ReplaceItemInObject(cfg, "architectures", cJSON_CreateStringArray(&ARCH[k], 1));
    cJSON_ReplaceItemInObject(cfg, "model_type", cJSON_CreateString(MTYPE[k]));
    /* (transformers' default attention_multiplier is 1, not 1 / sqrt(head_dim): always given) */
    cJSON_AddNumberToObject(cfg, "attention_multiplier", 1.0 / ((mult ? 2.0 : 1.0) * sqrt((double)hd)));
    if (mult) {
        cJSON_AddNumberToObject(cfg, "embedding_multiplier", 2.0);
        cJSON_AddNumberToObject(cfg, "residual_multiplier", 0.5);
        cJSON_AddNumberToObject(cfg, "logits_scaling", 4.0);
    }
    if (k == K_SHARED || k >= K_HYBRID) {
        cJSON_AddNumberToObject(cfg, "num_local_experts", k == K_HYBRID_DENSE ? 0 : 2);
        cJSON_AddNumberToObject(cfg, "num_experts_per_tok", 2);
        cJSON_ReplaceItemInObject(cfg, "intermediate_size", cJSON_CreateNumber(I / 2));
        cJSON_AddNumberToObject(cfg, "shared_intermediate_size", k == K_HYBRID_DENSE ? I : I / 2);
    }
    if (k >= K_HYBRID) {
        cJSON *lt = cJSON_CreateArray();
        for (int l = 0; l < L; l++) cJSON_AddItemToArray(lt, cJSON_CreateString(k == K_HYBRID_MAMBA && l == 1 ? "mamba" : "attention"));
        cJSON_AddItemToObject(cfg, "layer_types", lt);
        cJSON_AddStringToObject(cfg, "position_embedding_type", "rope");
    }
    int n_in = rl_ckpt_n_tensors(ck), n = 0, rc = 0;
    repack_t *o = calloc((size_t)n_in + 8 * L + 8, sizeof *o);
    for (int i = 0; !rc && o && i < n_in; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        int l, e;
        char rest[128], w;
        if (sscanf(t->name, "model.layers.%d.%127s", &l, rest) != 2) snprintf(rest, sizeof rest, "%s", t->name);
        if (k != K_DENSE && k != K_MOE && !strncmp(rest, "mlp.", 4)) {
            if (!strcmp(rest, "mlp.down_proj.weight")) rc = split_mlp(ck, l, k, mult ? 2.0f : 1.0f, o, &n); /* once per layer */
            continue;
        }
        if (k == K_MOE && sscanf(rest, "block_sparse_moe.experts.%d.w%c", &e, &w) == 2) {
            if (e || w != '1') continue; /* every expert's w1 / w3 / w2 at once */
            int E = cJSON_GetObjectItem(cfg, "num_local_experts")->valueint;
            int64_t H = t->shape[1];
            size_t es = RL_DTYPES[t->dtype].size;
            char nm[160];
            snprintf(nm, sizeof nm, "model.layers.%d.block_sparse_moe.input_linear.weight", l);
            repack_t *gu = add(o, &n, nm, t->dtype, 3, E, 2 * I, H);
            snprintf(nm, sizeof nm, "model.layers.%d.block_sparse_moe.output_linear.weight", l);
            repack_t *dn = add(o, &n, nm, t->dtype, 3, E, H, I);
            for (int x = 0; x < E && !rc; x++)
                for (int p = 0; p < 3 && !rc; p++) {
                    const rl_tensor_info *u;
                    snprintf(nm, sizeof nm, "model.layers.%d.block_sparse_moe.experts.%d.w%d.weight", l, x, p == 0 ? 1 : p == 1 ? 3 : 2);
                    uint8_t *b = repack_load(ck, nm, &u);
                    if (!b || !gu->data || !dn->data) rc = 1;
                    else if (p < 2) memcpy(gu->data + ((size_t)x * 2 * I + (size_t)p * I) * H * es, b, (size_t)I * H * es);
                    else memcpy(dn->data + (size_t)x * H * I * es, b, (size_t)H * I * es);
                    free(b);
                }
            dn->data && mult ? scale_data(dn, 2.0f) : (void)0;
            continue;
        }
        repack_t *x = &o[n++];
        rc = repack_copy(ck, t, x);
        if (!strcmp(rest, "block_sparse_moe.gate.weight")) snprintf(x->name, sizeof x->name, "model.layers.%d.block_sparse_moe.router.layer.weight", l);
        if (rc || !mult) continue;
        if (!strcmp(t->name, "model.embed_tokens.weight")) scale_data(x, 0.5f);
        else if (!strcmp(t->name, "lm_head.weight")) scale_data(x, 4.0f);
        else if (!strcmp(rest, "self_attn.q_proj.weight") || !strcmp(rest, "self_attn.o_proj.weight") || !strcmp(rest, "mlp.down_proj.weight"))
            scale_data(x, 2.0f);
    }
    return repack_finish(dir, cfg, ck, o, n, rc);
}

static void check(const char *fixture, kind k) {
    char src[512];
    snprintf(src, sizeof src, "%s/fixtures/%s", t_shared(), fixture);
    char name[96];
    snprintf(name, sizeof name, "%s (%s%s)", MTYPE[k], fixture, k == K_HYBRID_DENSE ? ", no experts" : "");
    char dir[64] = "/tmp/rl_granite_XXXXXX", cmd[200], gguf[96];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(repack(src, dir, &k) == 0, "%s: rewriting %s: %s", name, src, rl_last_error());
    repack_check(dir, src, name);
    if (k == K_DENSE || k == K_MOE || k == K_SHARED || k == K_HYBRID) { /* an all-attention 4.0 with experts: llama.cpp's granitemoe */
        snprintf(gguf, sizeof gguf, "%s.gguf", dir);
        CHECK(rl_gguf_export(dir, gguf, RL_GX_F32, NULL, NULL, NULL) == 0, "%s: quantize --gguf: %s", name, rl_last_error());
        strcat(name, " as GGUF");
        repack_check(gguf, src, name);
        unlink(gguf);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_granite(void) { check("llama", K_DENSE); }
static void test_granitemoe(void) { check("mixtral", K_MOE); }
static void test_granitemoeshared(void) { check("llama", K_SHARED); }
static void test_granitemoehybrid(void) {
    check("llama", K_HYBRID);
    check("llama", K_HYBRID_DENSE);
}

/* A layer declared "mamba" without its Mamba-2 tensors: an error naming the first missing one. */
static void test_mamba_missing(void) {
    char src[512], dir[64] = "/tmp/rl_granite_XXXXXX", cmd[200];
    snprintf(src, sizeof src, "%s/fixtures/llama", t_shared());
    kind k = K_HYBRID_MAMBA;
    CHECK(mkdtemp(dir) != NULL && repack(src, dir, &k) == 0, "repack: %s", rl_last_error());
    rl_model *m = rl_model_open(dir, NULL);
    CHECK(m == NULL && strstr(rl_last_error(), "missing tensor model.layers.1.mamba.in_proj.weight"), "mamba layer: %s", rl_last_error());
    rl_model_close(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN_SHARED(test_granite);
    RUN_SHARED(test_granitemoe);
    RUN_SHARED(test_granitemoeshared);
    RUN_SHARED(test_granitemoehybrid);
    RUN_SHARED(test_mamba_missing);
    TEST_END();
}
