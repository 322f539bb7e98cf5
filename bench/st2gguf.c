/* Writes a GGUF file (v3) from a Llama / Qwen2 safetensors checkpoint so llama.cpp can run the
 * same weights (bench/vs-llama-cpp.sh; llama.cpp's own converter needs Python packages and a
 * tokenizer, which synthetic checkpoints lack). Matrices keep their dtype (BF16 / F16 / F32),
 * 1-D tensors are written as F32; q_proj / k_proj rows of Llama are permuted the way llama.cpp
 * expects for its rotary layout. The vocabulary is "none" with <arch>.vocab_size dummy tokens
 * (enough for llama-bench, which feeds random ids).
 * Build: make bench   Run: build/st2gguf MODEL_DIR OUT.gguf */
#include "backend/cpu/matmul.h"
#include "format/checkpoint.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GT_U32 = 4, GT_F32 = 6, GT_STR = 8, ALIGN = 32 };

static void w_u32(FILE *f, uint32_t v) { fwrite(&v, 4, 1, f); }
static void w_u64(FILE *f, uint64_t v) { fwrite(&v, 8, 1, f); }
static void w_str(FILE *f, const char *s) { w_u64(f, strlen(s)); fwrite(s, 1, strlen(s), f); }
static void kv_u32(FILE *f, const char *k, uint32_t v) { w_str(f, k); w_u32(f, GT_U32); w_u32(f, v); }
static void kv_f32(FILE *f, const char *k, float v) { w_str(f, k); w_u32(f, GT_F32); fwrite(&v, 4, 1, f); }
static void kv_str(FILE *f, const char *k, const char *v) { w_str(f, k); w_u32(f, GT_STR); w_str(f, v); }

/* HF tensor name -> GGUF name; 0 if the tensor is not needed. */
static int gguf_name(const char *hf, char *out, size_t n) {
    static const char *const MAP[][2] = {
        {"input_layernorm.weight", "attn_norm.weight"}, {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},   {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.weight", "attn_k.weight"},   {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.weight", "attn_v.weight"},   {"self_attn.v_proj.bias", "attn_v.bias"},
        {"self_attn.o_proj.weight", "attn_output.weight"}, {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},        {"mlp.down_proj.weight", "ffn_down.weight"},
    };
    int layer, used = 0;
    if (!strcmp(hf, "model.embed_tokens.weight")) return snprintf(out, n, "token_embd.weight") > 0;
    if (!strcmp(hf, "model.norm.weight")) return snprintf(out, n, "output_norm.weight") > 0;
    if (!strcmp(hf, "lm_head.weight")) return snprintf(out, n, "output.weight") > 0;
    if (sscanf(hf, "model.layers.%d.%n", &layer, &used) == 1 && used > 0)
        for (size_t i = 0; i < sizeof MAP / sizeof MAP[0]; i++)
            if (!strcmp(hf + used, MAP[i][0])) return snprintf(out, n, "blk.%d.%s", layer, MAP[i][1]) > 0;
    return 0;
}

static int ggml_type(rl_dtype t, int ndim) {
    if (ndim < 2 || t == RL_DT_F32) return 0;
    return t == RL_DT_F16 ? 1 : t == RL_DT_BF16 ? 30 : -1;
}

static int jint(const cJSON *c, const char *k, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    return cJSON_IsNumber(v) ? v->valueint : dflt;
}
static double jnum(const cJSON *c, const char *k, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, k);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: st2gguf MODEL_DIR OUT.gguf\n"); return 2; }
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", argv[1]);
    FILE *cf = fopen(path, "rb");
    if (!cf) { fprintf(stderr, "error: %s: cannot open\n", path); return 1; }
    static char js[1 << 20];
    size_t jn = fread(js, 1, sizeof js - 1, cf);
    fclose(cf);
    js[jn] = 0;
    cJSON *c = cJSON_Parse(js);
    const cJSON *mt = c ? cJSON_GetObjectItemCaseSensitive(c, "model_type") : NULL;
    if (!cJSON_IsString(mt) || (strcmp(mt->valuestring, "llama") && strcmp(mt->valuestring, "qwen2"))) {
        fprintf(stderr, "error: %s: model_type must be llama or qwen2\n", path);
        return 1;
    }
    const char *arch = mt->valuestring;
    int llama = !strcmp(arch, "llama");
    int H = jint(c, "hidden_size", 0), L = jint(c, "num_hidden_layers", 0), nh = jint(c, "num_attention_heads", 0);
    int nkv = jint(c, "num_key_value_heads", nh), V = jint(c, "vocab_size", 0), hd = nh ? H / nh : 0;
    rl_checkpoint *ck = rl_ckpt_open(argv[1]);
    if (!ck) { fprintf(stderr, "error: %s\n", rl_errmsg()); return 1; }
    int nt = rl_ckpt_n_tensors(ck), n_out = 0;
    char (*names)[128] = calloc((size_t)nt, sizeof *names);
    int *idx = calloc((size_t)nt, sizeof *idx);
    for (int i = 0; i < nt; i++)
        if (gguf_name(rl_ckpt_tensor(ck, i)->name, names[n_out], sizeof names[0])) {
            if (ggml_type(rl_ckpt_tensor(ck, i)->dtype, rl_ckpt_tensor(ck, i)->ndim) < 0) {
                fprintf(stderr, "error: %s: unsupported dtype\n", rl_ckpt_tensor(ck, i)->name);
                return 1;
            }
            idx[n_out++] = i;
        }
    FILE *f = fopen(argv[2], "wb");
    if (!f) { fprintf(stderr, "error: %s: cannot create\n", argv[2]); return 1; }
    fwrite("GGUF", 1, 4, f);
    w_u32(f, 3);
    w_u64(f, (uint64_t)n_out);
    w_u64(f, 12);
    char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    kv_str(f, "general.architecture", arch);
    kv_str(f, "general.name", "rabbitllm-synth");
    kv_u32(f, KEY("context_length"), (uint32_t)jint(c, "max_position_embeddings", 4096));
    kv_u32(f, KEY("embedding_length"), (uint32_t)H);
    kv_u32(f, KEY("block_count"), (uint32_t)L);
    kv_u32(f, KEY("feed_forward_length"), (uint32_t)jint(c, "intermediate_size", 0));
    kv_u32(f, KEY("attention.head_count"), (uint32_t)nh);
    kv_u32(f, KEY("attention.head_count_kv"), (uint32_t)nkv);
    kv_f32(f, KEY("rope.freq_base"), (float)jnum(c, "rope_theta", 10000));
    kv_f32(f, KEY("attention.layer_norm_rms_epsilon"), (float)jnum(c, "rms_norm_eps", 1e-6));
    kv_u32(f, KEY("vocab_size"), (uint32_t)V);
    kv_str(f, "tokenizer.ggml.model", "none");
    /* tensor infos: dims innermost first; data offsets aligned */
    uint64_t off = 0;
    for (int j = 0; j < n_out; j++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, idx[j]);
        int gt = ggml_type(t->dtype, t->ndim);
        uint64_t ne = 1;
        for (int d = 0; d < t->ndim; d++) ne *= (uint64_t)t->shape[d];
        w_str(f, names[j]);
        w_u32(f, (uint32_t)t->ndim);
        for (int d = t->ndim - 1; d >= 0; d--) w_u64(f, (uint64_t)t->shape[d]);
        w_u32(f, (uint32_t)gt);
        w_u64(f, off);
        off += (ne * (gt == 0 ? 4 : 2) + ALIGN - 1) / ALIGN * ALIGN;
    }
    long pos = ftell(f);
    for (; pos % ALIGN; pos++) fputc(0, f);
    int rc = 0;
    for (int j = 0; j < n_out && !rc; j++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, idx[j]);
        int gt = ggml_type(t->dtype, t->ndim);
        uint64_t ne = 1;
        for (int d = 0; d < t->ndim; d++) ne *= (uint64_t)t->shape[d];
        uint8_t *raw = malloc(t->nbytes), *data = raw;
        float *cv = NULL;
        if (!raw || rl_ckpt_read(ck, t, raw)) { fprintf(stderr, "error: %s\n", rl_errmsg()); rc = 1; free(raw); break; }
        if (gt == 0 && t->dtype != RL_DT_F32) {
            cv = malloc(ne * 4);
            rl_convert_to_f32(cv, raw, t->dtype, (int64_t)ne);
            data = (uint8_t *)cv;
        }
        size_t es = gt == 0 ? 4 : 2;
        int heads = strstr(names[j], "attn_q.") ? nh : strstr(names[j], "attn_k.") ? nkv : 0;
        if (llama && heads && hd % 2 == 0) {
            /* HF rows per head are [2][hd/2] (rotate_half); llama.cpp wants [hd/2][2] */
            size_t row = t->ndim > 1 ? (size_t)t->shape[1] * es : es;
            uint8_t *p = malloc(ne * es);
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < hd / 2; i++)
                    for (int s = 0; s < 2; s++)
                        memcpy(p + ((size_t)h * hd + 2 * i + s) * row, data + ((size_t)h * hd + s * (hd / 2) + i) * row, row);
            memcpy(data, p, ne * es);
            free(p);
        }
        fwrite(data, es, ne, f);
        for (uint64_t b = ne * es; b % ALIGN; b++) fputc(0, f);
        free(raw);
        free(cv);
    }
    if (fclose(f)) { fprintf(stderr, "error: %s: write failed\n", argv[2]); rc = 1; }
    fprintf(stderr, "wrote %s: %d tensors (%s)\n", argv[2], n_out, arch);
    free(names);
    free(idx);
    rl_ckpt_close(ck);
    cJSON_Delete(c);
    return rc;
}
