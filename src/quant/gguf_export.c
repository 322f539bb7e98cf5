/* HF checkpoint -> GGUF file (see gguf_export.h): the tensor plan (names, types, sources, row
 * permutation), the metadata, then the data tensor by tensor in chunks of rows. */
#include "quant/gguf_export.h"
#include "backend/cpu/matmul.h"
#include "format/checkpoint.h"
#include "format/gguf.h"
#include "format/gguf_write.h"
#include "model/config.h"
#include "model/gguf_config.h"
#include "model/weights.h"
#include "io/stage.h"
#include "quant/ggml_quant.h"
#include "quant/gguf_vocab.h"
#include "util/err.h"
#include "util/fileio.h"
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_FLOATS ((size_t)4 << 20) /* f32 items converted per chunk (16 MB) */
#define MAX_EXPERTS 1024

/* HF architecture -> GGUF architecture; permute: Q/K rows to llama.cpp's interleaved rope pairs. */
static const struct { const char *hf, *arch; int permute; } ARCHS[] = {
    {"LlamaForCausalLM", "llama", 1}, {"MistralForCausalLM", "llama", 1}, {"MixtralForCausalLM", "llama", 1},
    {"Qwen2ForCausalLM", "qwen2", 0}, {"Qwen3ForCausalLM", "qwen3", 0}, {"Qwen2MoeForCausalLM", "qwen2moe", 0},
    {"Qwen3MoeForCausalLM", "qwen3moe", 0}, {"GemmaForCausalLM", "gemma", 0}, {"Gemma2ForCausalLM", "gemma2", 0},
    {"Phi3ForCausalLM", "phi3", 0}, {"Gemma3ForCausalLM", "gemma3", 0}, {"Gemma3ForConditionalGeneration", "gemma3", 0},
    {"Glm4ForCausalLM", "glm4", 0}, {"GptOssForCausalLM", "gpt-oss", 0}, {"Olmo2ForCausalLM", "olmo2", 0},
    {"Olmo3ForCausalLM", "olmo2", 0}, {"GraniteForCausalLM", "granite", 1}, {"GraniteMoeForCausalLM", "granitemoe", 1},
    {"GraniteMoeSharedForCausalLM", "granitemoe", 1}, {"CohereForCausalLM", "command-r", 0}, {"Cohere2ForCausalLM", "cohere2", 0},
    {"Exaone4ForCausalLM", "exaone4", 0}, {"DeepseekV2ForCausalLM", "deepseek2", 0}, {"DeepseekV3ForCausalLM", "deepseek2", 0},
    {"Glm4MoeForCausalLM", "glm4moe", 0}, {"Qwen3_5ForCausalLM", "qwen35", 0}, {"Qwen3_5MoeForCausalLM", "qwen35moe", 0},
    {"Qwen3NextForCausalLM", "qwen3next", 0}, {"PhiForCausalLM", "phi2", 0}, {"InternLM2ForCausalLM", "internlm2", 1},
    {"QWenLMHeadModel", "qwen", 0}, {"ChatGLMModel", "chatglm", 0}, {"ChatGLMForConditionalGeneration", "chatglm", 0},
    {"BaichuanForCausalLM", "baichuan", 1}, {"SmolLM3ForCausalLM", "smollm3", 1},
    {"GraniteMoeHybridForCausalLM", "granitehybrid", 1}, /* all-attention with experts: granitemoe (rl_gguf_export) */
    {"NemotronHForCausalLM", "nemotron_h", 1},          /* with experts: nemotron_h_moe (rl_gguf_export) */
    {"Mamba2ForCausalLM", "mamba2", 0},
    {"Llama4ForCausalLM", "llama4", 0}, {"Llama4ForConditionalGeneration", "llama4", 0}, /* interleaved pairs already */
    {"MambaForCausalLM", "mamba", 0}, {"FalconMambaForCausalLM", "mamba", 0}, {"JambaForCausalLM", "jamba", 0},
    {"FalconH1ForCausalLM", "falcon-h1", 0}, {"ExaoneMoeForCausalLM", "exaone-moe", 0}, {"SeedOssForCausalLM", "seed_oss", 0},
    {"ArceeForCausalLM", "arcee", 1}, {"Lfm2ForCausalLM", "lfm2", 0}, {"Lfm2MoeForCausalLM", "lfm2moe", 0},
    {"MiniMaxM2ForCausalLM", "minimax-m2", 0}, {"OlmoeForCausalLM", "olmoe", 0}, {"OlmoForCausalLM", "olmo", 1}, {"Starcoder2ForCausalLM", "starcoder2", 0},
    {"Dots1ForCausalLM", "dots1", 0}, {"ExaoneForCausalLM", "exaone", 0},
    {"GPTNeoXForCausalLM", "gptneox", 0},                                              /* query_key_value regrouped [q; k; v] */
    {"Ernie4_5ForCausalLM", "ernie4_5", 0}, {"Ernie4_5_MoeForCausalLM", "ernie4_5-moe", 0}, /* interleaved pairs already */
    {"Qwen2VLForConditionalGeneration", "qwen2vl", 0}, {"Qwen2_5_VLForConditionalGeneration", "qwen2vl", 0}, /* text models */
    {"Qwen3VLForConditionalGeneration", "qwen3vl", 0}, {"Qwen3VLMoeForConditionalGeneration", "qwen3vlmoe", 0},
};

/* Layer roles written in the file's matrix type (the rest: F32). */
static const int MATRIX_ROLES[] = {W_Q, W_K, W_V, W_O, W_QKV, W_GATE, W_UP, W_DOWN, W_GATE_UP, W_SHX_GATE, W_SHX_UP, W_SHX_DOWN,
                                   W_MLA_Q_A, W_MLA_Q_B, W_MLA_KV_A, W_LIN_QKV, W_LIN_Z, W_LIN_B, W_LIN_A, W_LIN_OUT, W_MOE_LAT_IN,
                                   W_MOE_LAT_OUT};
/* Mamba-1's in_proj, x_proj and dt_proj as llama.cpp names them (the other W_LIN_* roles: rl_gguf_role_name). */
static const char *mamba1_name(int r) {
    return r == W_LIN_QKV ? "blk.%d.ssm_in.weight" : r == W_LIN_B ? "blk.%d.ssm_x.weight" : r == W_LIN_A ? "blk.%d.ssm_dt.weight" : NULL;
}
/* ERNIE 4.5 MoE's expert layers as llama.cpp's keys say them: the first expert layer (leading dense
 * layers) and the distance to the next (the interleave step; one expert layer: lead + 1, so that
 * (lead + 1) % step == 0). */
static void ernie_moe_layout(const rl_model_desc *d, int *lead, int *step) {
    *lead = 0;
    *step = 0;
    while (*lead < d->n_layers && !d->layer_moe[*lead]) (*lead)++;
    for (int l = *lead + 1; l < d->n_layers && !*step; l++) if (d->layer_moe[l]) *step = l - *lead;
    if (!*step) *step = *lead + 1;
}

/* LFM2's short conv as llama.cpp names it. */
static const char *shortconv_name(int r) {
    return r == W_LIN_QKV ? "blk.%d.shortconv.in_proj.weight" : r == W_LIN_CONV ? "blk.%d.shortconv.conv.weight"
         : r == W_LIN_OUT ? "blk.%d.shortconv.out_proj.weight" : NULL;
}
static const int NORM_ROLES[] = {W_ATTN_NORM, W_Q_NORM, W_K_NORM, W_POST_ATTN_NORM, W_MLP_NORM, W_POST_MLP_NORM};
static const char *const EXPS[3] = {"blk.%d.ffn_gate_exps.weight", "blk.%d.ffn_up_exps.weight", "blk.%d.ffn_down_exps.weight"};

typedef struct {
    char name[96];
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    int n_src;
    const rl_tensor_info **src; /* sources stacked along the outermost dim (experts), or one */
    int perm_heads;             /* > 0: rows (1-D: items) permuted per head, this many heads */
    int plus_one;               /* Gemma norm: 1 + w */
    float *gen;                 /* generated F32 data (rope_freqs), owned */
    int kind;                   /* T_PLAIN, T_SLICE, MLA's T_KB, gpt-oss's T_MXFP4 (src[0] blocks, src[1] scales) / T_BIAS_SEL,
                                   or T_TRANS: per expert, output row i = column s_off + i of the source's [in, out] matrix */
    int sel;                    /* rows (T_MXFP4) / items (T_BIAS_SEL) of the source taken: 0 all, 1 even, 2 odd */
    int64_t s_rows, s_off;      /* T_SLICE: per expert (or the one matrix) of s_rows source rows, rows s_off.. */
    /* Qwen3.5's value heads reordered as llama.cpp's converter does (grouped -> tiled): from row (or,
     * vt_cols, column) vt_r0 on, blocks of vt_hd; block p = j * vt_nk + g holds source block g * vt_r + j */
    int64_t vt_r0, vt_hd, vt_nk, vt_r;
    int vt_cols;
    int neg_exp;                /* Qwen3.5's A_log written as A = -exp(A_log) (ssm_a) */
    int64_t qz_nk, qz_dk, qz_dv, qz_r; /* T_QKVZ: Qwen3-Next's in_proj_qkvz split (sel 0: q, k, v rows; 1: z rows) */
    int norm_rows;              /* Baichuan 2's NormHead: rows written L2-normalised (llama.cpp never normalises) */
    float mul;                  /* 0, or every value times this (Falcon-H1's muP multipliers folded in) */
    float rmul[5];              /* rmul[0] != 0: row r (of a 2-D tensor) times rmul[k], k the first with r < redge[k]
                                   (redge[4] = all rows): Falcon-H1's in_proj slices z, x, B, C, dt */
    int64_t redge[5];
} otensor;
enum { T_PLAIN, T_SLICE, T_KB, T_QKVZ, T_IL2QKV, T_PACKQKV, T_MXFP4, T_BIAS_SEL, T_TRANS };

typedef struct {
    otensor *t;
    int n, cap;
    const rl_model_desc *d;     /* the model: its tensors found under its name_alt prefixes too (multimodal wrappers) */
} plan;

/* HF tensor `name` of the model (under a multimodal wrapper's prefix too), or NULL. */
static const rl_tensor_info *find(const plan *p, const rl_checkpoint *ck, const char *name) { return rl_find_tensor(p->d, ck, name); }

static void plan_free(plan *p) {
    for (int i = 0; i < p->n; i++) { free(p->t[i].src); free(p->t[i].gen); }
    free(p->t);
}

static otensor *plan_add(plan *p, const char *path) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        otensor *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t) { rl_err("%s: out of memory", path); return NULL; }
        p->t = t;
        p->cap = cap;
    }
    otensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    return t;
}

/* A new output tensor of a special kind: n_src sources (set by the caller), the given type and
 * shape (n_dims, ne0..ne2). NULL + rl_err on out of memory. */
static otensor *plan_kind(plan *p, const char *path, int n_src, int kind, int sel, uint32_t type, int n_dims, int64_t ne0,
                          int64_t ne1, int64_t ne2) {
    otensor *t = plan_add(p, path);
    if (!t || !(t->src = calloc((size_t)n_src, sizeof *t->src))) { rl_err("%s: out of memory", path); return NULL; }
    t->n_src = n_src;
    t->kind = kind;
    t->sel = sel;
    t->type = type;
    t->n_dims = n_dims;
    t->ne[0] = ne0; t->ne[1] = ne1; t->ne[2] = ne2; t->ne[3] = 1;
    return t;
}

int rl_gguf_xtype_parse(const char *s, rl_gguf_xtype *out) {
    static const struct { const char *n; rl_gguf_xtype t; } T[] = {
        {"f32", RL_GX_F32}, {"f16", RL_GX_F16}, {"bf16", RL_GX_BF16}, {"q8_0", RL_GX_Q8_0}, {"q4_0", RL_GX_Q4_0}, {"q4_1", RL_GX_Q4_1}};
    for (size_t i = 0; i < sizeof T / sizeof *T; i++)
        if (!strcasecmp(s, T[i].n)) { *out = T[i].t; return 0; }
    return rl_err("GGUF type '%s' is not one of f32, f16, bf16, q8_0, q4_0, q4_1", s);
}

static int in_list(int r, const int *l, size_t n) {
    for (size_t i = 0; i < n; i++) if (l[i] == r) return 1;
    return 0;
}

/* Type of a matrix of row length cols: the file's type; Q8_0 for the output matrix of 4-bit
 * files; F16 when rows do not fill whole blocks (llama-quantize's fallback). */
static uint32_t matrix_type(rl_gguf_xtype x, int64_t cols, int is_output) {
    uint32_t t = (uint32_t)x;
    if (is_output && (x == RL_GX_Q4_0 || x == RL_GX_Q4_1)) t = RL_GGML_Q8_0;
    if (t != RL_GGML_F32 && t != RL_GGML_F16 && t != RL_GGML_BF16 && cols % 32) t = RL_GGML_F16;
    return t;
}

/* Adds tensor `gname` from HF tensor `hf` (checked dtype); type by role. */
static int add_src(plan *p, const rl_checkpoint *ck, const char *path, const char *gname, const char *hf, int matrix,
                   int is_output, rl_gguf_xtype x, int perm_heads, int plus_one) {
    const rl_tensor_info *s = find(p, ck, hf);
    if (!s) return rl_err("%s: tensor '%s' is missing", path, hf);
    if (s->dtype != RL_DT_F32 && s->dtype != RL_DT_F16 && s->dtype != RL_DT_BF16)
        return rl_err("%s: tensor '%s' is %s: only F32 / F16 / BF16 checkpoints can be written as GGUF", path, hf, RL_DTYPES[s->dtype].st_name);
    int squeeze = s->ndim == 3 && s->shape[1] == 1; /* a depthwise conv1d [C, 1, K], written [C, K] as llama.cpp does */
    if ((s->ndim < 1 || s->ndim > 2) && !squeeze) return rl_err("%s: tensor '%s' has %d dims (1 or 2 expected)", path, hf, s->ndim);
    otensor *t = plan_add(p, path);
    if (!t || !(t->src = malloc(sizeof *t->src))) return rl_err("%s: out of memory", path);
    snprintf(t->name, sizeof t->name, "%s", gname);
    t->n_src = 1;
    t->src[0] = s;
    t->n_dims = squeeze ? 2 : s->ndim;
    for (int d = 0; d < 4; d++) t->ne[d] = d < s->ndim ? s->shape[s->ndim - 1 - d] : 1;
    if (squeeze) { t->ne[1] = s->shape[0]; t->ne[2] = 1; }
    t->type = matrix && t->n_dims == 2 ? matrix_type(x, t->ne[0], is_output) : RL_GGML_F32;
    if (perm_heads > 0) {
        int64_t rows = s->ndim == 2 ? s->shape[0] : s->shape[0];
        if (rows % perm_heads || (rows / perm_heads) % 2)
            return rl_err("%s: tensor '%s': %lld rows do not split into %d heads of even size", path, hf, (long long)rows, perm_heads);
        t->perm_heads = perm_heads;
    }
    t->plus_one = plus_one;
    return 0;
}

/* Stacks the experts of role e (0 gate, 1 up, 2 down) of layer l into one 3-D tensor. */
static int add_experts(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, int e, rl_gguf_xtype x) {
    otensor *t = plan_add(p, path);
    if (!t || !(t->src = calloc((size_t)d->n_experts, sizeof *t->src))) return rl_err("%s: out of memory", path);
    snprintf(t->name, sizeof t->name, EXPS[e], l);
    for (int k = 0; k < d->n_experts; k++) {
        char hf[160];
        snprintf(hf, sizeof hf, d->ename[e], l, k);
        const rl_tensor_info *s = find(p, ck, hf);
        if (!s) return rl_err("%s: tensor '%s' is missing", path, hf);
        if ((s->dtype != RL_DT_F32 && s->dtype != RL_DT_F16 && s->dtype != RL_DT_BF16) || s->ndim != 2)
            return rl_err("%s: tensor '%s' must be a F32 / F16 / BF16 matrix", path, hf);
        if (k && (s->shape[0] != t->src[0]->shape[0] || s->shape[1] != t->src[0]->shape[1]))
            return rl_err("%s: tensor '%s': shape differs from expert 0's", path, hf);
        t->src[k] = s;
    }
    t->n_src = d->n_experts;
    t->n_dims = 3;
    t->ne[0] = t->src[0]->shape[1];
    t->ne[1] = t->src[0]->shape[0];
    t->ne[2] = d->n_experts;
    t->ne[3] = 1;
    t->type = matrix_type(x, t->ne[0], 0);
    return 0;
}

/* gpt-oss's MXFP4 experts as llama.cpp's converter repacks them (one 3-D MXFP4 tensor per role:
 * gate = gate_up's even rows, up = its odd rows, down whole), or their biases ([E, rows], F32,
 * the same rows). */
static int add_gpt_oss_experts(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l) {
    static const char *const OUT[3] = {"blk.%d.ffn_gate_exps.%s", "blk.%d.ffn_up_exps.%s", "blk.%d.ffn_down_exps.%s"};
    int64_t E = d->n_experts, H = d->hidden, I = d->moe_inter;
    for (int r = 0; r < 3; r++) {
        int k = r == 2 ? 2 : 0, sel = r == 2 ? 0 : r + 1;
        int64_t rows = r == 2 ? H : I, srows = r == 2 ? H : 2 * I, cols = r == 2 ? I : H;
        char base[160], bn[180], sn[180];
        snprintf(base, sizeof base, d->ename[k], l);
        snprintf(bn, sizeof bn, "%s_blocks", base);
        snprintf(sn, sizeof sn, "%s_scales", base);
        const rl_tensor_info *tb = find(p, ck, bn), *ts = find(p, ck, sn);
        if (!tb || !ts) return rl_err("%s: tensor '%s' is missing", path, tb ? sn : bn);
        if (tb->dtype != RL_DT_U8 || tb->ndim != 4 || tb->shape[0] != E || tb->shape[1] != srows || tb->shape[2] != cols / 32 ||
            tb->shape[3] != 16 || ts->dtype != RL_DT_U8 || ts->ndim != 3 || ts->shape[0] != E || ts->shape[1] != srows ||
            ts->shape[2] != cols / 32)
            return rl_err("%s: tensors '%s' / '%s': not MXFP4 blocks [%lld, %lld, %lld, 16] and scales", path, bn, sn, (long long)E,
                          (long long)srows, (long long)(cols / 32));
        otensor *t = plan_kind(p, path, 2, T_MXFP4, sel, RL_GGML_MXFP4, 3, cols, rows, E);
        if (!t) return -1;
        snprintf(t->name, sizeof t->name, OUT[r], l, "weight");
        t->src[0] = tb;
        t->src[1] = ts;
        if (!d->ename_b[k]) continue;
        char hb[160];
        snprintf(hb, sizeof hb, d->ename_b[k], l);
        const rl_tensor_info *s = find(p, ck, hb);
        if (!s) return rl_err("%s: tensor '%s' is missing", path, hb);
        if ((s->dtype != RL_DT_F32 && s->dtype != RL_DT_F16 && s->dtype != RL_DT_BF16) || s->ndim != 2 || s->shape[0] != E || s->shape[1] != srows)
            return rl_err("%s: tensor '%s': expected F32 / F16 / BF16 [%lld, %lld]", path, hb, (long long)E, (long long)srows);
        if (!(t = plan_kind(p, path, 1, T_BIAS_SEL, sel, RL_GGML_F32, 2, rows, E, 1))) return -1;
        snprintf(t->name, sizeof t->name, OUT[r], l, "bias");
        t->src[0] = s;
    }
    return 0;
}

/* Rows [off, off + rows) of each of the n_exp matrices of s_rows rows in HF tensor hf ([n_exp,
 * s_rows, cols], or [n_exp * s_rows, cols]) as GGUF tensor gname: Granite's fused input_linear
 * (gate rows, then up rows) and MLA's kv_b (per head: k rows, then v rows) split as llama.cpp's
 * converter splits them. */
static int add_slice(plan *p, const rl_checkpoint *ck, const char *path, const char *gname, const char *hf, int64_t n_exp,
                     int64_t s_rows, int64_t off, int64_t rows, rl_gguf_xtype x) {
    const rl_tensor_info *s = find(p, ck, hf);
    if (!s) return rl_err("%s: tensor '%s' is missing", path, hf);
    int nd = n_exp > 1 ? 3 : 2;
    int ok3 = s->ndim == 3 && s->shape[0] == n_exp && s->shape[1] == s_rows, ok2 = s->ndim == 2 && s->shape[0] == n_exp * s_rows;
    if ((s->dtype != RL_DT_F32 && s->dtype != RL_DT_F16 && s->dtype != RL_DT_BF16) || !(ok2 || ok3))
        return rl_err("%s: tensor '%s': expected an F32 / F16 / BF16 [%lld x %lld, cols] tensor", path, hf, (long long)n_exp, (long long)s_rows);
    otensor *t = plan_add(p, path);
    if (!t || !(t->src = malloc(sizeof *t->src))) return rl_err("%s: out of memory", path);
    snprintf(t->name, sizeof t->name, "%s", gname);
    t->src[0] = s;
    t->n_src = 1;
    t->kind = T_SLICE;
    t->s_rows = s_rows;
    t->s_off = off;
    t->n_dims = nd;
    t->ne[0] = s->shape[s->ndim - 1];
    t->ne[1] = rows;
    t->ne[2] = nd == 3 ? n_exp : 1;
    t->ne[3] = 1;
    t->type = matrix_type(x, t->ne[0], 0);
    return 0;
}

/* MLA (deepseek2) as llama.cpp's converter writes it: kv_b_proj [heads * (nope + v), kv_lora] split
 * per head into attn_k_b = W_UK_h transposed (ne [nope, kv_lora, heads]) and attn_v_b = W_UV_h
 * (ne [kv_lora, v, heads]). */
static int add_mla_kv_b(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160], gn[96];
    int64_t nh = d->n_heads, nope = d->qk_nope_dim, v = d->v_head_dim, r = d->kv_lora_rank;
    snprintf(hf, sizeof hf, d->wname[W_MLA_KV_B], l);
    snprintf(gn, sizeof gn, "blk.%d.attn_v_b.weight", l);
    if (add_slice(p, ck, path, gn, hf, nh, nope + v, nope, v, x)) return -1;
    const rl_tensor_info *s = p->t[p->n - 1].src[0];
    if (s->ndim != 2 || s->shape[1] != r) return rl_err("%s: tensor '%s': expected [%lld, %lld]", path, hf, (long long)(nh * (nope + v)), (long long)r);
    otensor *t = plan_kind(p, path, 1, T_KB, 0, matrix_type(x, nope, 0), 3, nope, r, nh);
    if (!t) return -1;
    snprintf(t->name, sizeof t->name, "blk.%d.attn_k_b.weight", l);
    t->src[0] = s;
    t->s_rows = nope + v;
    return 0;
}

/* Fused experts (gate_up [E, 2I, H], gate rows first; down [E, H, I]) as llama.cpp's three stacks. */
static int add_fused_experts(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160], gn[96];
    int64_t I = d->moe_inter;
    snprintf(hf, sizeof hf, d->ename[0], l);
    snprintf(gn, sizeof gn, "blk.%d.ffn_gate_exps.weight", l);
    if (add_slice(p, ck, path, gn, hf, d->n_experts, 2 * I, 0, I, x)) return -1;
    snprintf(gn, sizeof gn, "blk.%d.ffn_up_exps.weight", l);
    if (add_slice(p, ck, path, gn, hf, d->n_experts, 2 * I, I, I, x)) return -1;
    snprintf(hf, sizeof hf, d->ename[2], l);
    snprintf(gn, sizeof gn, "blk.%d.ffn_down_exps.weight", l);
    return add_slice(p, ck, path, gn, hf, d->n_experts, d->hidden, 0, d->hidden, x);
}

/* Fused experts stored [E, in, out] (Llama 4: gate_up [E, H, 2I], gate columns first; down [E, I, H])
 * as llama.cpp's converter writes them: transposed and split into the three stacks [E, out, in]. */
static int add_transposed_experts(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    int64_t E = d->n_experts, H = d->hidden, I = d->moe_inter;
    for (int r = 0; r < 3; r++) {
        char hf[160];
        int k = r == 2 ? 2 : 0;
        int64_t in = r == 2 ? I : H, w = r == 2 ? H : 2 * I, out = r == 2 ? H : I;
        snprintf(hf, sizeof hf, d->ename[k], l);
        const rl_tensor_info *s = find(p, ck, hf);
        if (!s && d->ename_split[0] && r == 0) { /* stored per expert (ename_split): stacked as they are, [out, in] each */
            rl_model_desc *d2 = malloc(sizeof *d2);
            if (!d2) return rl_err("%s: out of memory", path);
            *d2 = *d;
            for (int k = 0; k < 3; k++) d2->ename[k] = d->ename_split[k];
            d2->moe_fused = d2->moe_transposed = 0;
            int rc = 0;
            for (int k = 0; k < 3 && !rc; k++) rc = add_experts(p, ck, d2, path, l, k, x);
            free(d2);
            return rc;
        }
        if (!s) return rl_err("%s: tensor '%s' is missing", path, hf);
        if ((s->dtype != RL_DT_F32 && s->dtype != RL_DT_F16 && s->dtype != RL_DT_BF16) || s->ndim != 3 || s->shape[0] != E ||
            s->shape[1] != in || s->shape[2] != w)
            return rl_err("%s: tensor '%s': expected an F32 / F16 / BF16 [%lld, %lld, %lld] tensor", path, hf, (long long)E, (long long)in,
                          (long long)w);
        otensor *t = plan_kind(p, path, 1, T_TRANS, 0, matrix_type(x, in, 0), 3, in, out, E);
        if (!t) return -1;
        snprintf(t->name, sizeof t->name, EXPS[r], l);
        t->src[0] = s;
        t->s_off = r == 1 ? I : 0;
    }
    return 0;
}

/* Qwen3.5's linear-attention tensors as llama.cpp's converter writes them: value heads from the
 * grouped order (head g * r + j) to the tiled one (j * k_heads + g) where k_heads < v_heads, in
 * the v rows of in_proj_qkv and of the conv, the rows of in_proj_z / b / a, A_log and dt_bias, and
 * the columns of out_proj; A_log as ssm_a = -exp(A_log). */
static int qwen35_linear(otensor *t, const rl_model_desc *d, int r, int tiled) {
    int64_t nk = d->lin_k_heads, nv = d->lin_v_heads, qk = 2 * nk * d->lin_k_dim, dv = d->lin_v_dim;
    if (r == W_LIN_A_LOG) t->neg_exp = 1;
    if (nk == nv || !tiled) return 0;
    int64_t r0 = -1, hd = 0;
    switch (r) {
    case W_LIN_QKV: case W_LIN_CONV: r0 = qk; hd = dv; break;
    case W_LIN_Z: case W_LIN_OUT: r0 = 0; hd = dv; break;
    case W_LIN_B: case W_LIN_A: case W_LIN_A_LOG: case W_LIN_DT_BIAS: r0 = 0; hd = 1; break;
    default: return 0;
    }
    t->vt_r0 = r0;
    t->vt_hd = hd;
    t->vt_nk = nk;
    t->vt_r = nv / nk;
    t->vt_cols = r == W_LIN_OUT;
    return 0;
}

/* n output tensors split from the rows of one HF tensor hf (src_rows rows, `what` in errors):
 * names[i] (%d: layer l) of rows[i] rows, of kind `kind` with selector i, whose row maps src_row
 * computes from the kind's fields (the caller sets them). The first of the n, or NULL + rl_err. */
static otensor *add_split(plan *p, const rl_checkpoint *ck, const char *path, const char *hf, int l, int n, const char *const *names,
                          int kind, const int64_t *rows, int64_t src_rows, const char *what, rl_gguf_xtype x) {
    for (int sel = 0; sel < n; sel++) {
        char gn[96];
        snprintf(gn, sizeof gn, names[sel], l);
        if (add_src(p, ck, path, gn, hf, 1, 0, x, 0, 0)) return NULL;
        otensor *t = &p->t[p->n - 1];
        if (t->src[0]->ndim != 2 || t->src[0]->shape[0] != src_rows) {
            rl_err("%s: tensor '%s': expected %lld rows (%s)", path, hf, (long long)src_rows, what);
            return NULL;
        }
        t->kind = kind;
        t->sel = sel;
        t->ne[1] = rows[sel];
    }
    return &p->t[p->n - n];
}

/* Qwen3-Next's in_proj_qkvz as llama.cpp's converter splits it: attn_qkv = q of every key head,
 * k of every key head, v of every value head (grouped order kept), attn_gate = the z rows. */
static int add_qkvz(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    static const char *const OUT[2] = {"blk.%d.attn_qkv.weight", "blk.%d.attn_gate.weight"};
    char hf[160];
    int64_t nk = d->lin_k_heads, nv = d->lin_v_heads, dk = d->lin_k_dim, dv = d->lin_v_dim;
    int64_t rows[2] = {2 * nk * dk + nv * dv, nv * dv};
    snprintf(hf, sizeof hf, d->wname[W_LIN_QKV], l);
    otensor *t = add_split(p, ck, path, hf, l, 2, OUT, T_QKVZ, rows, 2 * nk * dk + 2 * nv * dv, "in_proj_qkvz", x);
    for (int i = 0; t && i < 2; i++) { t[i].qz_nk = nk; t[i].qz_dk = dk; t[i].qz_dv = dv; t[i].qz_r = nv / nk; }
    return t ? 0 : -1;
}

static const char *const QKV_OUT[3] = {"blk.%d.attn_q.weight", "blk.%d.attn_k.weight", "blk.%d.attn_v.weight"};

/* InternLM2's grouped wqkv as llama.cpp's converter splits it: attn_q / attn_k / attn_v, the q and k
 * rows permuted to interleaved rope pairs as for llama. */
static int add_internlm2_qkv(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160];
    int64_t hd = d->head_dim, nh = d->n_heads, nkv = d->n_kv_heads, rows[3] = {nh * hd, nkv * hd, nkv * hd};
    snprintf(hf, sizeof hf, d->wname[W_QKV], l);
    if (nh % nkv || hd % 2) return rl_err("%s: tensor '%s': expected %lld rows (wqkv)", path, hf, (long long)((nh + 2 * nkv) * hd));
    otensor *t = add_split(p, ck, path, hf, l, 3, QKV_OUT, T_IL2QKV, rows, (nh + 2 * nkv) * hd, "wqkv", x);
    for (int i = 0; t && i < 3; i++) { t[i].qz_dk = hd; t[i].qz_r = nh / nkv; }
    return t ? 0 : -1;
}

/* Baichuan's W_pack as llama.cpp's converter splits it: attn_q / attn_k / attn_v, q and k permuted. */
static int add_baichuan_qkv(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160];
    int64_t hd = d->head_dim, nh = d->n_heads, rows[3] = {nh * hd, nh * hd, nh * hd};
    snprintf(hf, sizeof hf, d->wname[W_QKV], l);
    if (d->n_kv_heads != nh || hd % 2)
        return rl_err("%s: tensor '%s': expected %lld rows (W_pack, one kv head per head)", path, hf, (long long)(3 * nh * hd));
    otensor *t = add_split(p, ck, path, hf, l, 3, QKV_OUT, T_PACKQKV, rows, 3 * nh * hd, "W_pack, one kv head per head", x);
    for (int i = 0; t && i < 3; i++) t[i].qz_dk = hd;
    return t ? 0 : -1;
}

/* Granite MoE: experts (and the shared MLP) from their fused input_linear, gate rows first. */
static int add_granite_moe(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160], gn[96];
    int64_t Is = d->moe_shared_inter;
    if (add_fused_experts(p, ck, d, path, l, x)) return -1;
    if (Is <= 0) return 0;
    snprintf(hf, sizeof hf, d->wname[W_SHX_GATE], l);
    snprintf(gn, sizeof gn, "blk.%d.ffn_gate_shexp.weight", l);
    if (add_slice(p, ck, path, gn, hf, 1, 2 * Is, 0, Is, x)) return -1;
    snprintf(gn, sizeof gn, "blk.%d.ffn_up_shexp.weight", l);
    return add_slice(p, ck, path, gn, hf, 1, 2 * Is, Is, Is, x);
}

/* A dense Granite 4.0-H MLP: the shared MLP's fused input_linear split into ffn_gate / ffn_up. */
static int add_gate_up(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, int l, rl_gguf_xtype x) {
    char hf[160], gn[96];
    int64_t I = d->intermediate;
    snprintf(hf, sizeof hf, d->wname[W_GATE_UP], l);
    snprintf(gn, sizeof gn, "blk.%d.ffn_gate.weight", l);
    if (add_slice(p, ck, path, gn, hf, 1, 2 * I, 0, I, x)) return -1;
    snprintf(gn, sizeof gn, "blk.%d.ffn_up.weight", l);
    return add_slice(p, ck, path, gn, hf, 1, 2 * I, I, I, x);
}

/* Mamba-2 tensors as llama.cpp's converter writes them (granitehybrid): A_log as ssm_a =
 * -exp(A_log) and D as ssm_d, both {1, heads}; the gated norm's weight {I / groups, groups}. */
static void mamba2_tensor(otensor *t, const rl_model_desc *d, int r) {
    if (r == W_LIN_A_LOG) t->neg_exp = 1;
    if (r == W_LIN_A_LOG || r == W_LIN_D) { t->n_dims = 2; t->ne[0] = 1; t->ne[1] = d->lin_v_heads; }
    if (r == W_LIN_NORM) { t->n_dims = 2; t->ne[1] = d->lin_k_heads; t->ne[0] = (int64_t)d->lin_v_heads * d->lin_v_dim / d->lin_k_heads; }
}

/* Falcon-H1's muP multipliers folded into the weights of role r as llama.cpp's converter does:
 * q / v times attention_in, k times key x attention_in, o times attention_out, out_proj times
 * ssm_out, in_proj's z / x / B / C / dt rows times ssm_in x ssm_multipliers, gate and down times
 * mlp_multipliers (the model has no biases: check_desc). */
static void falcon_h1_fold(otensor *t, const rl_model_desc *d, int r) {
    const rl_mup *u = &d->mup;
    int64_t I = (int64_t)d->lin_v_heads * d->lin_v_dim, GN = (int64_t)d->lin_k_heads * d->lin_k_dim;
    switch (r) {
    case W_Q: case W_V: t->mul = u->attn_in; break;
    case W_K: t->mul = u->attn_in * u->key; break;
    case W_O: t->mul = u->attn_out; break;
    case W_LIN_OUT: t->mul = u->ssm_out; break;
    case W_GATE: t->mul = u->mlp_gate; break;
    case W_DOWN: t->mul = u->mlp_down; break;
    case W_LIN_QKV: {
        int64_t e[5] = {I, 2 * I, 2 * I + GN, 2 * I + 2 * GN, 2 * I + 2 * GN + d->lin_v_heads};
        for (int k = 0; k < 5; k++) { t->rmul[k] = u->ssm_in * u->ssm[k]; t->redge[k] = e[k]; }
        break;
    }
    default: break;
    }
}

/* Llama 3 rope scaling as llama.cpp's converter writes it: per-pair divisors, in f32. */
static int add_rope_freqs(plan *p, const rl_rope *r, int head_dim, const char *path) {
    int half = head_dim / 2;
    otensor *t = plan_add(p, path);
    if (!t || !(t->gen = malloc((size_t)half * sizeof *t->gen))) return rl_err("%s: out of memory", path);
    snprintf(t->name, sizeof t->name, "rope_freqs.weight");
    t->type = RL_GGML_F32;
    t->n_dims = 1;
    t->ne[0] = half;
    t->ne[1] = t->ne[2] = t->ne[3] = 1;
    float factor = (float)r->factor, lo = (float)r->low_freq_factor, hi = (float)r->high_freq_factor;
    float old = (float)r->orig_max_pos, lo_wl = old / lo, hi_wl = old / hi;
    for (int i = 0; i < half; i++) {
        float freq = 1.0f / powf((float)r->theta, (float)(2 * i) / (float)head_dim);
        float wl = (float)(2.0 * M_PI) / freq;
        if (wl < hi_wl) t->gen[i] = 1.0f;
        else if (wl > lo_wl) t->gen[i] = factor;
        else {
            float smooth = (old / wl - lo) / (hi - lo);
            t->gen[i] = 1.0f / ((1.0f - smooth) / factor + smooth);
        }
    }
    return 0;
}

static int build_plan(plan *p, const rl_checkpoint *ck, const rl_model_desc *d, const char *path, rl_gguf_xtype x, int permute,
                      const char *arch) {
    char gname[96], hf[160];
    int gh = !strcmp(arch, "granitehybrid"), granite_moe = !strcmp(arch, "granitemoe") || (gh && d->n_experts);
    int nem = !strncmp(arch, "nemotron_h", 10) || !strcmp(arch, "mamba2"); /* (the Mamba-2 tensors as Nemotron-H's) */
    int gpt_oss = !strcmp(arch, "gpt-oss"), mla = !strcmp(arch, "deepseek2");
    int qwen35 = !strncmp(arch, "qwen35", 6), next = !strcmp(arch, "qwen3next"), il2 = !strcmp(arch, "internlm2");
    int l4 = !strcmp(arch, "llama4"), m1 = d->lin_kind == RL_LIN_MAMBA1, fh1 = !strcmp(arch, "falcon-h1");
    int sconv = d->lin_kind == RL_LIN_SHORTCONV;
    int tx = l4 || !strcmp(arch, "qwen3vlmoe"); /* experts fused [E, in, out]: transposed and split */
    if (d->gname[G_EMBED] && add_src(p, ck, path, "token_embd.weight", d->gname[G_EMBED], 1, d->tied, x, 0, 0)) return -1;
    if (fh1) p->t[p->n - 1].mul = d->emb_scale; /* the muP multipliers into the weights, as llama.cpp's converter */
    if (d->ropes[0].scaling == RL_RS_LLAMA3 && add_rope_freqs(p, &d->ropes[0], d->head_dim, path)) return -1;
    for (int l = 0; l < d->n_layers; l++) {
        for (int r = 0; r < W_COUNT; r++) {
            if (!d->wname[r] || !*d->wname[r] || !rl_role_needed_layer(d, l, r)) continue;
            if (granite_moe && (r == W_SHX_GATE || r == W_SHX_UP)) continue; /* split from the fused tensor below */
            if (mla && r == W_MLA_KV_B) { if (add_mla_kv_b(p, ck, d, path, l, x)) return -1; continue; }
            if (next && r == W_LIN_QKV) { if (add_qkvz(p, ck, d, path, l, x)) return -1; continue; }
            if (il2 && r == W_QKV) { if (add_internlm2_qkv(p, ck, d, path, l, x)) return -1; continue; }
            if (!strcmp(arch, "baichuan") && r == W_QKV) { if (add_baichuan_qkv(p, ck, d, path, l, x)) return -1; continue; }
            if (gh && r == W_GATE_UP) { if (add_gate_up(p, ck, d, path, l, x)) return -1; continue; }
            const char *gn = m1 && mamba1_name(r) ? mamba1_name(r) : sconv && shortconv_name(r) ? shortconv_name(r)
                             : fh1 && r == W_LIN_QKV ? "blk.%d.ssm_in.weight" : fh1 && r == W_MLP_NORM ? "blk.%d.ffn_norm"
                             : (gpt_oss || qwen35 || next || !strcmp(arch, "glm4moe") || !strcmp(arch, "seed_oss")) && r == W_MLP_NORM
                                 ? "blk.%d.post_attention_norm.weight"
                             : next && r == W_LIN_B ? "blk.%d.ssm_ba.weight" /* in_proj_ba as it is */
                             : (gh || nem) && r == W_LIN_QKV ? "blk.%d.ssm_in.weight" /* Mamba-2 in_proj as it is: z, xBC, dt */
                             : nem && r == W_MLP_NORM ? "blk.%d.attn_norm.weight" /* the one norm of each layer */
                                                    : rl_gguf_role_name(r);
            if (!gn) return rl_err("%s: %s models cannot be written as GGUF yet (a weight with no GGUF name)", path, d->arch);
            snprintf(hf, sizeof hf, d->wname[r], l);
            if (!find(p, ck, hf) && (d->w_optional >> r & 1)) continue;
            snprintf(gname, sizeof gname, gn, l);
            int heads = !permute ? 0 : r == W_Q || r == W_Q_B ? d->n_heads : r == W_K || r == W_K_B ? d->n_kv_heads : 0;
            int plus = d->norm_one_plus && in_list(r, NORM_ROLES, sizeof NORM_ROLES / sizeof *NORM_ROLES);
            if (add_src(p, ck, path, gname, hf, in_list(r, MATRIX_ROLES, sizeof MATRIX_ROLES / sizeof *MATRIX_ROLES), 0, x, heads, plus)) return -1;
            if ((qwen35 || next) && qwen35_linear(&p->t[p->n - 1], d, r, qwen35)) return -1;
            if (gh || nem || fh1) mamba2_tensor(&p->t[p->n - 1], d, r);
            if (m1 && r == W_LIN_A_LOG) p->t[p->n - 1].neg_exp = 1; /* ssm_a = -exp(A_log) [I, N] */
            if (fh1) falcon_h1_fold(&p->t[p->n - 1], d, r);
            if (!strcmp(arch, "gptneox") && (r == W_QKV || r == W_QKV_B)) { /* per head [q | k | v] -> [all q; all k; all v] */
                otensor *t = &p->t[p->n - 1];
                t->vt_r0 = 0; t->vt_hd = d->head_dim; t->vt_nk = d->n_heads; t->vt_r = 3;
            }
        }
        if (gpt_oss && add_gpt_oss_experts(p, ck, d, path, l)) return -1;
        else if (granite_moe && add_granite_moe(p, ck, d, path, l, x)) return -1;
        else if (qwen35 && d->moe_fused && d->n_experts && d->layer_moe[l] && add_fused_experts(p, ck, d, path, l, x)) return -1;
        else if (tx && d->n_experts && d->layer_moe[l] && add_transposed_experts(p, ck, d, path, l, x)) return -1;
        else if (!gpt_oss && !granite_moe && !(qwen35 && d->moe_fused) && !tx && d->n_experts && d->layer_moe[l])
            for (int e = 0; e < 3; e++) if (d->ename[e] && add_experts(p, ck, d, path, l, e, x)) return -1; /* (ungated: no gate) */
    }
    const char *fn = sconv ? "token_embd_norm.weight" : "output_norm.weight"; /* (llama.cpp's name for LFM2's final norm) */
    if (d->gname[G_FINAL_NORM] && add_src(p, ck, path, fn, d->gname[G_FINAL_NORM], 0, 0, x, 0, d->norm_one_plus)) return -1;
    if (d->gname[G_FINAL_NORM_B] && add_src(p, ck, path, "output_norm.bias", d->gname[G_FINAL_NORM_B], 0, 0, x, 0, 0)) return -1;
    if (!d->tied && d->gname[G_LM_HEAD] && add_src(p, ck, path, "output.weight", d->gname[G_LM_HEAD], 1, 1, x, 0, 0)) return -1;
    if (!d->tied && d->gname[G_LM_HEAD] && d->head_norm_rows) p->t[p->n - 1].norm_rows = 1;
    if (!d->tied && d->gname[G_LM_HEAD] && fh1) p->t[p->n - 1].mul = 1.0f / d->logit_div;
    if (d->gname[G_LM_HEAD_B] && *d->gname[G_LM_HEAD_B] && add_src(p, ck, path, "output.bias", d->gname[G_LM_HEAD_B], 0, 0, x, 0, 0)) return -1;
    return 0;
}

/* The first layer whose sliding / full kind is not llama.cpp's set_swa_pattern(n) (layer l slides
 * when l % n < n - 1), or -1. */
static int off_swa_pattern(const rl_model_desc *d, int n) {
    for (int l = 0; l < d->n_layers; l++)
        if ((d->layers[l].kind == RL_LAYER_SLIDING) != (l % n < n - 1)) return l;
    return -1;
}

/* Gemma 2 / 3 as llama.cpp rebuilds them: the query scale from the layer count (27B: hidden /
 * heads, else head_dim); Gemma 3's local layers every layer but each 6th, on their own
 * unscaled rope, written as rope.freq_base_swa. */
static int check_gemma(const rl_model_desc *d, const char *arch, const char *path) {
    int big = (!strcmp(arch, "gemma2") && d->n_layers == 46) || (!strcmp(arch, "gemma3") && d->n_layers == 62);
    int qpas = big ? d->hidden / d->n_heads : d->head_dim;
    if (fabsf(d->attn_scale * sqrtf((float)qpas) - 1.0f) > 1e-6f)
        return rl_err("%s: query_pre_attn_scalar %g: llama.cpp's %s scales queries by 1/sqrt(%d) for this shape", path,
                      1.0 / ((double)d->attn_scale * d->attn_scale), arch, qpas);
    if (strcmp(arch, "gemma3")) return 0;
    int any = 0, off;
    for (int l = 0; l < d->n_layers; l++) any |= d->layers[l].kind == RL_LAYER_SLIDING;
    if (any && (off = off_swa_pattern(d, 6)) >= 0)
        return rl_err("%s: layer %d is %s: llama.cpp's gemma3 makes every 6th layer global, the others sliding", path, off,
                      d->layers[off].kind == RL_LAYER_SLIDING ? "sliding" : "global");
    for (int l = 0; l < d->n_layers; l++)
        if (d->layers[l].rope != (d->layers[l].kind == RL_LAYER_SLIDING)) return rl_err("%s: layer %d: rope settings do not follow its layer kind", path, l);
    if (d->n_ropes != 2 || d->ropes[1].scaling != RL_RS_NONE)
        return rl_err("%s: Gemma 3's local layers must use an unscaled rope", path);
    return 0;
}

/* Llama 4 as llama.cpp's llama4 rebuilds it from the file (the converter writes no chunk size, NoPE
 * layers, q / k norm or temperature): chunks of 8192 on 3 layers of every 4, every 4th layer NoPE
 * with the temperature 0.1 / 8192, the q / k norm on the rotary layers unless there are 128
 * experts, MoE layers every interleave_moe_layer_step-th. */
static int check_llama4(const rl_model_desc *d, const char *path) {
    int step = 0;
    while (step < d->n_layers && !d->layer_moe[step]) step++;
    step++;
    for (int l = 0; l < d->n_layers; l++) {
        const rl_layer_desc *ld = &d->layers[l];
        int rope = d->ropes[ld->rope].pairing != RL_ROPE_NONE;
        if (rope != ((l + 1) % 4 != 0))
            return rl_err("%s: layer %d: llama.cpp's llama4 runs every 4th layer without rotary embeddings, the others with", path, l);
        if ((ld->chunked && d->attn_chunk > 0) != rope)
            return rl_err("%s: layer %d: llama.cpp's llama4 runs chunked attention on its rotary layers only", path, l);
        if (ld->qk_l2 != (rope && d->n_experts != 128))
            return rl_err("%s: use_qk_norm %s with %d experts: llama.cpp's llama4 normalises q / k unless the model has 128 experts", path,
                          ld->qk_l2 || !rope ? "true" : "false", d->n_experts);
        if (ld->temp_tuned != !rope || (!rope && (d->attn_temp_scale != 0.1f || d->attn_temp_floor != 8192)))
            return rl_err("%s: attention temperature: llama.cpp's llama4 always tunes its NoPE layers with attn_scale 0.1, floor_scale 8192", path);
        if (d->layer_moe[l] != ((l + 1) % step == 0))
            return rl_err("%s: layer %d: llama.cpp's llama4 puts experts on every interleave_moe_layer_step-th layer only", path, l);
    }
    if (d->attn_chunk != 8192) return rl_err("%s: attention_chunk_size %d: llama.cpp's llama4 always uses 8192", path, d->attn_chunk);
    if (d->moe_shared_inter != d->moe_inter) return rl_err("%s: llama.cpp's llama4 sizes the shared expert as the routed ones", path);
    return 0;
}

/* The family's description, checked against what GGUF (and llama.cpp's architecture) can say. */
static int check_desc(const rl_model_desc *d, const char *arch, const char *path) {
    if (!strcmp(arch, "gpt-oss")) { /* the MXFP4 release, as llama.cpp's converter takes it */
        if (d->quant.method != RL_QM_MXFP4)
            return rl_err("%s: gpt-oss with plain (dequantised) experts cannot be written as GGUF yet: use the MXFP4 checkpoint", path);
        int off = off_swa_pattern(d, 2);
        if (off >= 0) return rl_err("%s: layer %d: llama.cpp's gpt-oss makes the even layers sliding and the odd ones full", path, off);
        if (d->act != RL_ACT_SWIGLU_OAI || !d->moe_interleaved || !d->moe_router_b) return rl_err("%s: not gpt-oss's MoE", path);
    } else {
        if (d->quant.method != RL_QM_NONE) return rl_err("%s: already a quantized checkpoint: only F32 / F16 / BF16 checkpoints can be written as GGUF", path);
        if (d->moe_fused && strcmp(arch, "granitemoe") && strcmp(arch, "qwen35moe") && strcmp(arch, "granitehybrid") && strcmp(arch, "llama4") &&
            strcmp(arch, "qwen3vlmoe"))
            return rl_err("%s: %s models cannot be written as GGUF yet", path, d->arch);
    }
    /* llama.cpp's olmo2 (OLMo 3), cohere2 and exaone4 slide 3 layers of every 4 (exaone4: the 64-layer model only) */
    int sliding = 0;
    for (int l = 0; l < d->n_layers; l++) sliding |= d->layers[l].kind == RL_LAYER_SLIDING;
    if (sliding && (!strcmp(arch, "olmo2") || !strcmp(arch, "cohere2") || !strcmp(arch, "exaone4"))) {
        if (!strcmp(arch, "exaone4") && d->n_layers != 64)
            return rl_err("%s: %d layers with sliding ones: llama.cpp's exaone4 slides only the 64-layer model's layers", path, d->n_layers);
        int off = off_swa_pattern(d, 4);
        if (off >= 0) return rl_err("%s: layer %d: llama.cpp's %s makes every 4th layer full and the others sliding", path, off, arch);
    }
    if (!strcmp(arch, "llama4") && check_llama4(d, path)) return -1;
    if (!strncmp(arch, "qwen2vl", 7) || !strncmp(arch, "qwen3vl", 7)) {
        const rl_rope *r = &d->ropes[0];
        if (r->mrope_sec[0] + r->mrope_sec[1] + r->mrope_sec[2] + r->mrope_sec[3] != r->rot_dims / 2)
            return rl_err("%s: mrope_section must cover the %d rotary pairs: llama.cpp's %s reads its sections", path, r->rot_dims / 2, arch);
        if (!strcmp(arch, "qwen3vlmoe") && !d->moe_norm_topk)
            return rl_err("%s: norm_topk_prob false: llama.cpp's qwen3vlmoe always renormalises the top-k weights", path);
    }
    if (!strcmp(arch, "falcon-h1") && d->tied && d->emb_scale * d->logit_div != 1.0f) /* (folded into the one shared matrix) */
        return rl_err("%s: tied embeddings with embedding_multiplier %g and lm_head_multiplier %g: llama.cpp's falcon-h1 folds both into the "
                      "one shared matrix, its logits would be scaled by the first", path, (double)d->emb_scale, 1.0 / d->logit_div);
    if ((!strcmp(arch, "mamba") || !strcmp(arch, "jamba")) && (int64_t)d->lin_v_heads != 2 * (int64_t)d->hidden)
        return rl_err("%s: a Mamba expansion other than 2 (%d channels for hidden %d): llama.cpp's %s supports only 2", path, d->lin_v_heads,
                      d->hidden, arch);
    if (!strcmp(arch, "exaone-moe")) { /* llama.cpp: sliding layers l % 4 < 3 with rope, the 4th global without */
        int off = off_swa_pattern(d, 4);
        if (!sliding || off >= 0)
            return rl_err("%s: layer %d: llama.cpp's exaone-moe makes every 4th layer global and the others sliding", path, sliding ? off : 0);
        for (int l = 0; l < d->n_layers; l++)
            if ((d->ropes[d->layers[l].rope].pairing == RL_ROPE_NONE) != (d->layers[l].kind != RL_LAYER_SLIDING))
                return rl_err("%s: layer %d: llama.cpp's exaone-moe runs rope on the sliding layers only", path, l);
    }
    if (!strcmp(arch, "smollm3"))
        for (int l = 0; l < d->n_layers; l++)
            if ((d->layers[l].rope == 1) != ((l + 1) % 4 == 0))
                return rl_err("%s: layer %d: llama.cpp's smollm3 runs every 4th layer without rotary embeddings, the others with", path, l);
    if (!strcmp(arch, "seed_oss") && d->o_bias) return rl_err("%s: attention_out_bias: llama.cpp's seed_oss has no o_proj bias", path);
    if (!strcmp(arch, "dots1") && (d->qkv_bias || d->o_bias || sliding || !d->moe_shared_inter || !d->moe_sigmoid || !d->moe_bias))
        return rl_err("%s: llama.cpp's dots1 has no attention biases, no sliding window, and sigmoid experts with the correction bias beside "
                      "shared experts", path);
    if (!strcmp(arch, "gptneox") && (!d->qkv_bias || !d->o_bias || !d->qkv_grouped || d->n_kv_heads != d->n_heads ||
                                     (d->act != RL_ACT_GELU_ERF && d->act != RL_ACT_GELU_TANH)))
        return rl_err("%s: llama.cpp's gptneox needs the attention biases, one fused query_key_value per head and a GELU MLP (it "
                      "computes GELU's tanh form)", path);
    if (!strcmp(arch, "starcoder2") && (!d->qkv_bias || !d->o_bias || !d->mlp_bias || d->act != RL_ACT_GELU_TANH))
        return rl_err("%s: llama.cpp's starcoder2 needs every bias (use_bias) and the tanh GELU", path);
    if (!strcmp(arch, "olmoe") && (d->tied || d->n_kv_heads != d->n_heads || d->moe_norm_topk || d->qkv_bias || d->o_bias))
        return rl_err("%s: llama.cpp's olmoe needs an untied output, as many kv heads as heads (its k norm spans hidden), no attention "
                      "biases and the top-k weights not renormalised", path);
    if (!strcmp(arch, "minimax-m2") && (d->tied || !d->moe_bias || !d->qk_norm_full))
        return rl_err("%s: llama.cpp's minimax-m2 needs an untied output, the routing bias and the q / k norms", path);
    if (!strcmp(arch, "ernie4_5-moe")) { /* llama.cpp: experts on l >= leading_dense_block_count with (l + 1) % step == 0, to the end */
        int lead, step;
        ernie_moe_layout(d, &lead, &step);
        for (int l = 0; l < d->n_layers; l++)
            if (d->layer_moe[l] != (l >= lead && (l + 1) % step == 0))
                return rl_err("%s: layer %d: llama.cpp's ernie4_5-moe puts experts on every %d-th layer from layer %d to the last", path, l, step, lead);
        if (d->moe_sigmoid || !d->moe_bias || !d->moe_norm_topk || d->moe_scale != 1.0f)
            return rl_err("%s: llama.cpp's ernie4_5-moe routes by softmax with the correction bias, renormalised, unscaled", path);
    }
    if (!strcmp(arch, "lfm2moe") && (!d->moe_sigmoid || !d->moe_bias || !d->moe_norm_topk || d->moe_scale != 1.0f || d->moe_n_group > 1))
        return rl_err("%s: llama.cpp's lfm2moe routes with sigmoid scores and the expert bias, renormalises the top-k weights and does not "
                      "scale them (use_expert_bias %d, norm_topk_prob %d, routed_scaling_factor %g)", path, d->moe_bias, d->moe_norm_topk,
                      (double)d->moe_scale);
    if (!strcmp(arch, "arcee") && (d->act != RL_ACT_RELU2 || d->mlp_bias))
        return rl_err("%s: llama.cpp's arcee runs an ungated squared-ReLU MLP without biases only", path);
    if ((!strcmp(arch, "command-r") || !strcmp(arch, "cohere2")) && (d->qkv_bias || d->o_bias))
        return rl_err("%s: attention biases: llama.cpp's %s has none", path, arch);
    int gh = !strcmp(arch, "granitehybrid");
    if (gh) { /* llama.cpp's granite-hybrid graph: no dt clamp, the norm per B / C group, expansion 2 */
        if (d->lin_kind != RL_LIN_MAMBA2) return rl_err("%s: Granite 4.0 without Mamba-2 layers or experts cannot be written as GGUF yet", path);
        if (d->lin_dt_min != 0.0f || !isinf(d->lin_dt_max)) return rl_err("%s: time_step_limit: llama.cpp's granitehybrid does not clamp dt", path);
        if (d->lin_k_heads != d->lin_norm_groups)
            return rl_err("%s: %d B / C groups: llama.cpp's granitehybrid normalises the Mamba-2 output per group, this model over all channels",
                          path, d->lin_k_heads);
        if ((int64_t)d->lin_v_heads * d->lin_v_dim != 2 * (int64_t)d->hidden)
            return rl_err("%s: mamba_expand other than 2: llama.cpp's granitehybrid supports only 2", path);
        if (!d->n_experts && d->moe_shared_inter) return rl_err("%s: not a Granite 4.0-H MLP", path);
    } else if (!strcmp(arch, "mamba2")) { /* llama.cpp's mamba2 graph: no dt clamp, the norm per group */
        if (d->lin_dt_min != 0.0f || !isinf(d->lin_dt_max)) return rl_err("%s: time_step_limit: llama.cpp's mamba2 does not clamp dt", path);
        if (d->lin_k_heads != d->lin_norm_groups)
            return rl_err("%s: %d B / C groups: llama.cpp's mamba2 normalises the output per group, transformers' Mamba2 over all channels",
                          path, d->lin_k_heads);
    } else if (!strncmp(arch, "nemotron_h", 10)) { /* llama.cpp's nemotron_h graph: no dt clamp, plain top-k routing */
        if (d->lin_kind == RL_LIN_MAMBA2 && (d->lin_dt_min != 0.0f || !isinf(d->lin_dt_max)))
            return rl_err("%s: time_step_limit: llama.cpp's %s does not clamp dt", path, arch);
        if (d->n_experts && (d->moe_n_group > 1 || !d->moe_sigmoid || !d->moe_bias))
            return rl_err("%s: expert routing other than sigmoid top-k with a correction bias in one group: not llama.cpp's %s", path, arch);
        for (int l = 0; d->n_experts && l < d->n_layers; l++)
            if (d->layers[l].no_mixer && !d->layer_moe[l])
                return rl_err("%s: layer %d: a dense MLP beside expert layers: llama.cpp's %s makes every feed-forward layer an expert layer",
                              path, l, arch);
    } else if (!strncmp(arch, "granite", 7) && d->ropes[0].pairing == RL_ROPE_NONE)
        return rl_err("%s: Granite without rotary embeddings cannot be written as GGUF yet", path);
    int dn = !strncmp(arch, "qwen35", 6) || !strcmp(arch, "qwen3next");
    if ((d->mla && strcmp(arch, "deepseek2")) || (d->lin_k_heads && !dn && !gh && strncmp(arch, "nemotron_h", 10) && strcmp(arch, "mamba2") && strcmp(arch, "mamba") &&
                                             strcmp(arch, "jamba") && strcmp(arch, "falcon-h1")) || d->idx_heads || (d->lin_fused && strcmp(arch, "qwen3next")))
        return rl_err("%s: %s models cannot be written as GGUF yet", path, d->arch);
    if (dn) { /* llama.cpp's qwen35: gated full attention every N-th layer, top-k renormalised */
        int every = 0;
        while (every < d->n_layers && d->layers[every].kind == RL_LAYER_LINEAR) every++;
        every++;
        for (int l = 0; l < d->n_layers; l++)
            if ((d->layers[l].kind == RL_LAYER_LINEAR) != ((l + 1) % every != 0))
                return rl_err("%s: layer %d: llama.cpp's %s makes every %d-th layer full attention and the others linear", path, l, arch, every);
        if (!d->attn_out_gate) return rl_err("%s: attention without the output gate: llama.cpp's %s always gates it", path, arch);
        if (d->n_experts && !d->moe_norm_topk) return rl_err("%s: norm_topk_prob false: llama.cpp's %s always renormalises", path, arch);
    }
    if (!strcmp(arch, "deepseek2") && (!d->mla || d->mla_kv_b_split)) return rl_err("%s: not a DeepSeek MLA checkpoint", path);
    if (d->n_experts > MAX_EXPERTS) return rl_err("%s: %d experts (at most %d)", path, d->n_experts, MAX_EXPERTS);
    for (int i = 0; i < d->n_ropes; i++) {
        rl_rope_scaling s = d->ropes[i].scaling;
        if (s == RL_RS_LONGROPE)
            return rl_err("%s: longrope: llama.cpp picks the long or the short factors by the context size, transformers by the "
                          "sequence length, so the GGUF would compute differently up to the original context", path);
        if (s != RL_RS_NONE && s != RL_RS_LINEAR && s != RL_RS_YARN && s != RL_RS_LLAMA3 && !(s == RL_RS_DYNAMIC && !strcmp(arch, "internlm2")))
            return rl_err("%s: this rope scaling (dynamic) has no GGUF form that our reader maps", path);
    }
    if (!strncmp(arch, "gemma", 5) && check_gemma(d, arch, path)) return -1;
    int olmo3 = !strcmp(arch, "olmo2") && d->n_ropes > 1 && d->ropes[1].theta == d->ropes[0].theta && d->ropes[1].scaling == RL_RS_NONE;
    if (strcmp(arch, "gemma3") && !olmo3 && d->n_ropes > 1 && (d->ropes[1].theta != d->ropes[0].theta || d->ropes[1].scaling != d->ropes[0].scaling))
        return rl_err("%s: per-layer rope settings (local / global) cannot be written as GGUF", path);
    return 0;
}

#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)

/* DeepSeek-style routing keys (deepseek2, glm4moe) as llama.cpp's converter writes them. */
static int write_moe_routing(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    int dense = 0;
    while (dense < d->n_layers && !d->layer_moe[dense]) dense++;
    if (rl_gguf_w_u32(w, KEY("leading_dense_block_count"), (uint32_t)dense) ||
        rl_gguf_w_u32(w, KEY("expert_shared_count"), (uint32_t)(d->moe_inter > 0 ? d->moe_shared_inter / d->moe_inter : 0)) ||
        rl_gguf_w_f32(w, KEY("expert_weights_scale"), d->moe_scale) ||
        (d->moe_norm_topk && rl_gguf_w_bool(w, KEY("expert_weights_norm"), 1)) ||
        rl_gguf_w_u32(w, KEY("expert_gating_func"), d->moe_sigmoid ? 2 : 1) ||
        rl_gguf_w_u32(w, KEY("expert_group_count"), (uint32_t)(d->moe_n_group > 0 ? d->moe_n_group : 1)) ||
        rl_gguf_w_u32(w, KEY("expert_group_used_count"), (uint32_t)(d->moe_topk_group > 0 ? d->moe_topk_group : 1)))
        return -1;
    for (int l = dense; l < d->n_layers; l++)
        if (!d->layer_moe[l]) return rl_err("layer %d is dense after MoE layers: llama.cpp's %s has leading dense layers only", l, arch);
    return 0;
}

/* DeepSeek's MLA keys (the absorbed form: key length kv_lora + rope, value length kv_lora, one kv
 * head; the per-head dims as *_mla) and routing. */
static int write_deepseek2(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    const rl_rope *r = &d->ropes[0];
    if (rl_gguf_w_u32(w, KEY("attention.key_length_mla"), (uint32_t)(d->qk_nope_dim + d->qk_rope_dim)) ||
        rl_gguf_w_u32(w, KEY("attention.value_length_mla"), (uint32_t)d->v_head_dim) ||
        rl_gguf_w_u32(w, KEY("attention.kv_lora_rank"), (uint32_t)d->kv_lora_rank) ||
        (d->q_lora_rank > 0 && rl_gguf_w_u32(w, KEY("attention.q_lora_rank"), (uint32_t)d->q_lora_rank)) ||
        write_moe_routing(w, d, arch)) return -1;
    if (r->scaling == RL_RS_YARN && r->mscale_all_dim != 0 &&
        rl_gguf_w_f32(w, KEY("rope.scaling.yarn_log_multiplier"), (float)(0.1 * r->mscale_all_dim))) return -1;
    return 0;
}

/* The Mamba-2 mixer's ssm.* keys (time_step_rank = heads, as llama.cpp's converter writes it). */
static int write_ssm(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    return rl_gguf_w_u32(w, KEY("ssm.conv_kernel"), (uint32_t)d->lin_conv_k) || rl_gguf_w_u32(w, KEY("ssm.state_size"), (uint32_t)d->lin_k_dim) ||
                   rl_gguf_w_u32(w, KEY("ssm.group_count"), (uint32_t)d->lin_k_heads) ||
                   rl_gguf_w_u32(w, KEY("ssm.time_step_rank"), (uint32_t)d->lin_v_heads) ||
                   rl_gguf_w_u32(w, KEY("ssm.inner_size"), (uint32_t)(d->lin_v_heads * d->lin_v_dim))
               ? -1 : 0;
}

/* Granite 4.0-H: per-layer kv heads (0: a Mamba-2 layer), the ssm.* dims, rotary embeddings on
 * or off (rope.scaling.finetuned, llama.cpp's switch for this architecture). */
static int write_granitehybrid(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    int32_t *kv = malloc((size_t)d->n_layers * sizeof *kv);
    if (!kv) return rl_err("out of memory");
    for (int l = 0; l < d->n_layers; l++) kv[l] = d->layers[l].kind == RL_LAYER_LINEAR ? 0 : d->n_kv_heads;
    int rc = rl_gguf_w_arr_i32(w, KEY("attention.head_count_kv"), (uint64_t)d->n_layers, kv) || write_ssm(w, d, arch) ||
             rl_gguf_w_bool(w, KEY("rope.scaling.finetuned"), d->ropes[0].pairing != RL_ROPE_NONE);
    free(kv);
    return rc ? -1 : 0;
}

/* Nemotron-H: per-layer kv heads (attention layers) and feed-forward lengths (MLP / expert
 * layers), both 0 on a Mamba-2 layer; the ssm.* dims; the experts' routing keys. */
static int write_nemotron_h(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    int32_t *kv = malloc(2 * (size_t)d->n_layers * sizeof *kv), *ff = kv + d->n_layers;
    if (!kv) return rl_err("out of memory");
    for (int l = 0; l < d->n_layers; l++) {
        const rl_layer_desc *ld = &d->layers[l];
        kv[l] = ld->kind != RL_LAYER_LINEAR && !ld->no_mixer ? d->n_kv_heads : 0;
        ff[l] = ld->no_mlp ? 0 : d->n_experts && d->layer_moe[l] ? d->moe_inter : d->intermediate;
    }
    int rc = rl_gguf_w_arr_i32(w, KEY("attention.head_count_kv"), (uint64_t)d->n_layers, kv) ||
             rl_gguf_w_arr_i32(w, KEY("feed_forward_length"), (uint64_t)d->n_layers, ff) ||
             (d->lin_kind == RL_LIN_MAMBA2 && write_ssm(w, d, arch)) ||
             rl_gguf_w_bool(w, KEY("rope.scaling.finetuned"), 0) ||
             (d->moe_latent > 0 && rl_gguf_w_u32(w, KEY("moe_latent_size"), (uint32_t)d->moe_latent)) ||
             (d->n_experts && (rl_gguf_w_u32(w, KEY("expert_shared_count"), d->moe_shared_inter > 0) ||
                               rl_gguf_w_bool(w, KEY("expert_weights_norm"), d->moe_norm_topk) ||
                               rl_gguf_w_f32(w, KEY("expert_weights_scale"), d->moe_scale) ||
                               rl_gguf_w_u32(w, KEY("expert_group_count"), (uint32_t)d->moe_n_group) ||
                               rl_gguf_w_u32(w, KEY("expert_gating_func"), 2))); /* sigmoid, as the graph has it */
    free(kv);
    return rc ? -1 : 0;
}

/* Mamba-1 (mamba, jamba): the ssm.* dims (time_step_rank: the dt rank), FalconMamba's dt / B / C
 * norm switch; jamba: per-layer kv heads (0: a Mamba layer). */
static int write_mamba1(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    int rc = rl_gguf_w_u32(w, KEY("ssm.conv_kernel"), (uint32_t)d->lin_conv_k) || rl_gguf_w_u32(w, KEY("ssm.state_size"), (uint32_t)d->lin_k_dim) ||
             rl_gguf_w_u32(w, KEY("ssm.time_step_rank"), (uint32_t)d->lin_dt_rank) ||
             rl_gguf_w_u32(w, KEY("ssm.inner_size"), (uint32_t)d->lin_v_heads);
    if (!rc && !strcmp(arch, "mamba")) rc = rl_gguf_w_bool(w, KEY("ssm.dt_b_c_rms"), d->lin_dtbc_norm == 2);
    if (!rc && !strcmp(arch, "jamba")) {
        int32_t *kv = malloc((size_t)d->n_layers * sizeof *kv);
        if (!kv) return rl_err("out of memory");
        for (int l = 0; l < d->n_layers; l++) kv[l] = d->layers[l].kind == RL_LAYER_LINEAR ? 0 : d->n_kv_heads;
        rc = rl_gguf_w_arr_i32(w, KEY("attention.head_count_kv"), (uint64_t)d->n_layers, kv);
        free(kv);
    }
    return rc ? -1 : 0;
}

/* LFM2: per-layer kv heads (0: a short-conv layer), the conv's taps; lfm2moe: the leading dense
 * layers and sigmoid gating (check_desc refused what llama.cpp's graph does not compute). */
static int write_lfm2(rl_gguf_writer *w, const rl_model_desc *d, const char *arch) {
    char k[160];
    int32_t *kv = malloc((size_t)d->n_layers * sizeof *kv);
    if (!kv) return rl_err("out of memory");
    int dense = 0;
    while (dense < d->n_layers && !d->layer_moe[dense]) dense++;
    for (int l = 0; l < d->n_layers; l++) kv[l] = d->layers[l].kind == RL_LAYER_LINEAR ? 0 : d->n_kv_heads;
    int rc = rl_gguf_w_arr_i32(w, KEY("attention.head_count_kv"), (uint64_t)d->n_layers, kv) ||
             rl_gguf_w_u32(w, KEY("shortconv.l_cache"), (uint32_t)d->lin_conv_k) ||
             (d->n_experts && (rl_gguf_w_u32(w, KEY("leading_dense_block_count"), (uint32_t)dense) ||
                               rl_gguf_w_u32(w, KEY("expert_gating_func"), 2)));
    for (int l = dense; !rc && d->n_experts && l < d->n_layers; l++)
        if (!d->layer_moe[l]) rc = rl_err("layer %d is dense after MoE layers: llama.cpp's %s has leading dense layers only", l, arch);
    free(kv);
    return rc ? -1 : 0;
}

static int write_meta(rl_gguf_writer *w, const rl_model_desc *d, const char *arch, const char *name, rl_gguf_xtype x) {
    char k[160];
    const rl_rope *r = &d->ropes[0];
    int mla = !strcmp(arch, "deepseek2"), mamba1 = !strcmp(arch, "mamba");
    uint32_t kvh = mla ? 1 : (uint32_t)d->n_kv_heads, kl = mla ? (uint32_t)(d->kv_lora_rank + d->qk_rope_dim) : (uint32_t)d->head_dim;
    uint32_t vl = mla ? (uint32_t)d->kv_lora_rank : (uint32_t)d->head_dim, rot = mla ? (uint32_t)d->qk_rope_dim : (uint32_t)r->rot_dims;
    int window = 0;
    for (int l = 0; l < d->n_layers; l++) if (d->layers[l].window > window) window = d->layers[l].window;
    if (rl_gguf_w_str(w, "general.architecture", arch) || rl_gguf_w_str(w, "general.name", name) ||
        rl_gguf_w_u32(w, "general.file_type", x == RL_GX_Q8_0 ? 7 : x == RL_GX_BF16 ? 32 : (uint32_t)x) ||
        rl_gguf_w_u32(w, "general.quantization_version", 2) ||
        rl_gguf_w_u32(w, KEY("context_length"), (uint32_t)d->max_pos) ||
        rl_gguf_w_u32(w, KEY("embedding_length"), (uint32_t)d->hidden) ||
        rl_gguf_w_u32(w, KEY("block_count"), (uint32_t)d->n_layers) ||
        (strncmp(arch, "nemotron_h", 10) && /* (mamba: 0 and no heads, as llama.cpp's converter writes them) */
         rl_gguf_w_u32(w, KEY("feed_forward_length"), mamba1 ? 0 : (uint32_t)d->intermediate * (strcmp(arch, "qwen") ? 1 : 2))) || /* Qwen v1: 2x */
        rl_gguf_w_u32(w, KEY("attention.head_count"), mamba1 ? 0 : (uint32_t)d->n_heads) ||
        (strcmp(arch, "granitehybrid") && strncmp(arch, "nemotron_h", 10) && strcmp(arch, "jamba") && strncmp(arch, "lfm2", 4) && !mamba1 &&
         rl_gguf_w_u32(w, KEY("attention.head_count_kv"), kvh)) ||
        rl_gguf_w_u32(w, KEY("attention.key_length"), kl) ||
        rl_gguf_w_u32(w, KEY("attention.value_length"), vl) ||
        rl_gguf_w_f32(w, d->norm == RL_NORM_LAYER ? KEY("attention.layer_norm_epsilon") : KEY("attention.layer_norm_rms_epsilon"), d->norm_eps) ||
        rl_gguf_w_f32(w, KEY("rope.freq_base"), (float)r->theta) ||
        rl_gguf_w_u32(w, KEY("rope.dimension_count"), rot) ||
        rl_gguf_w_u32(w, KEY("vocab_size"), (uint32_t)d->vocab)) return -1;
    if (r->scaling == RL_RS_LINEAR || r->scaling == RL_RS_YARN) {
        if (rl_gguf_w_str(w, KEY("rope.scaling.type"), r->scaling == RL_RS_LINEAR ? "linear" : "yarn") ||
            rl_gguf_w_f32(w, KEY("rope.scaling.factor"), (float)r->factor)) return -1;
        if (r->scaling == RL_RS_YARN &&
            (rl_gguf_w_u32(w, KEY("rope.scaling.original_context_length"), (uint32_t)r->orig_max_pos) ||
             rl_gguf_w_f32(w, KEY("rope.scaling.yarn_beta_fast"), (float)r->beta_fast) ||
             rl_gguf_w_f32(w, KEY("rope.scaling.yarn_beta_slow"), (float)r->beta_slow))) return -1;
    }
    if (d->n_experts &&
        (rl_gguf_w_u32(w, KEY("expert_count"), (uint32_t)d->n_experts) ||
         rl_gguf_w_u32(w, KEY("expert_used_count"), (uint32_t)d->n_experts_used))) return -1;
    if (d->n_experts && strcmp(arch, "llama") && strcmp(arch, "gpt-oss") &&
        (rl_gguf_w_u32(w, KEY("expert_feed_forward_length"), (uint32_t)d->moe_inter) ||
         (d->moe_shared_inter && !mla && strcmp(arch, "glm4moe") && strcmp(arch, "dots1") && strcmp(arch, "llama4") &&
          rl_gguf_w_u32(w, KEY("expert_shared_feed_forward_length"), (uint32_t)d->moe_shared_inter))))
        return -1;
    if (mla && write_deepseek2(w, d, arch)) return -1;
    if ((!strcmp(arch, "glm4moe") || !strcmp(arch, "dots1")) && write_moe_routing(w, d, arch)) return -1;
    if (!strcmp(arch, "exaone-moe") && (write_moe_routing(w, d, arch) || rl_gguf_w_u32(w, KEY("nextn_predict_layers"), 0))) return -1;
    if (!strncmp(arch, "qwen35", 6) || !strcmp(arch, "qwen3next")) {
        int every = 1;
        while (every <= d->n_layers && d->layers[every - 1].kind == RL_LAYER_LINEAR) every++;
        int32_t a = (int32_t)rot / 2, sec[4] = {(a + 2) / 3, (a + 1) / 3, a / 3, 0}; /* text positions: any split of n_rot / 2 */
        if (rl_gguf_w_u32(w, KEY("ssm.conv_kernel"), (uint32_t)d->lin_conv_k) || rl_gguf_w_u32(w, KEY("ssm.state_size"), (uint32_t)d->lin_k_dim) ||
            rl_gguf_w_u32(w, KEY("ssm.group_count"), (uint32_t)d->lin_k_heads) ||
            rl_gguf_w_u32(w, KEY("ssm.time_step_rank"), (uint32_t)d->lin_v_heads) ||
            rl_gguf_w_u32(w, KEY("ssm.inner_size"), (uint32_t)(d->lin_v_heads * d->lin_v_dim)) ||
            rl_gguf_w_u32(w, KEY("full_attention_interval"), (uint32_t)every) ||
            rl_gguf_w_arr_i32(w, KEY("rope.dimension_sections"), 4, sec)) return -1;
    }
    if (!strcmp(arch, "granitehybrid") && write_granitehybrid(w, d, arch)) return -1;
    if (!strncmp(arch, "nemotron_h", 10) && write_nemotron_h(w, d, arch)) return -1;
    if ((!strcmp(arch, "mamba2") || !strcmp(arch, "falcon-h1")) && write_ssm(w, d, arch)) return -1;
    if ((!strcmp(arch, "mamba") || !strcmp(arch, "jamba")) && write_mamba1(w, d, arch)) return -1;
    if (!strncmp(arch, "lfm2", 4) && write_lfm2(w, d, arch)) return -1;
    if (!strcmp(arch, "minimax-m2") && rl_gguf_w_u32(w, KEY("expert_gating_func"), 2)) return -1; /* sigmoid */
    if (!strcmp(arch, "gptneox") && rl_gguf_w_bool(w, KEY("use_parallel_residual"), d->parallel_block == 2)) return -1;
    if (d->clip_qkv > 0 && rl_gguf_w_f32(w, KEY("attention.clamp_kqv"), d->clip_qkv)) return -1;
    if (!strcmp(arch, "ernie4_5-moe")) {
        int lead, step;
        ernie_moe_layout(d, &lead, &step);
        if (rl_gguf_w_u32(w, KEY("leading_dense_block_count"), (uint32_t)lead) || rl_gguf_w_u32(w, KEY("interleave_moe_layer_step"), (uint32_t)step) ||
            rl_gguf_w_u32(w, KEY("expert_shared_count"), (uint32_t)(d->moe_shared_inter / d->moe_inter))) return -1;
    }
    if (!strcmp(arch, "qwen3moe") && rl_gguf_w_bool(w, KEY("expert_weights_norm"), d->moe_norm_topk)) return -1;
    if (!strncmp(arch, "qwen2vl", 7) || !strncmp(arch, "qwen3vl", 7)) { /* the M-RoPE sections, 4 entries as llama.cpp reads them */
        int32_t sec[4] = {r->mrope_sec[0], r->mrope_sec[1], r->mrope_sec[2], r->mrope_sec[3]};
        if (rl_gguf_w_arr_i32(w, KEY("rope.dimension_sections"), 4, sec)) return -1;
    }
    if (!strcmp(arch, "llama4")) { /* MoE on every step-th layer (check_llama4) */
        int step = 0;
        while (step < d->n_layers && !d->layer_moe[step]) step++;
        if (rl_gguf_w_u32(w, KEY("interleave_moe_layer_step"), (uint32_t)step + 1)) return -1;
    }
    if (d->attn_softcap > 0 && rl_gguf_w_f32(w, KEY("attn_logit_softcapping"), d->attn_softcap)) return -1;
    if (d->final_softcap > 0 && rl_gguf_w_f32(w, KEY("final_logit_softcapping"), d->final_softcap)) return -1;
    if (window > 0 && strcmp(arch, "llama") && strcmp(arch, "qwen2") && rl_gguf_w_u32(w, KEY("attention.sliding_window"), (uint32_t)window)) return -1;
    if (!strcmp(arch, "gemma3") && rl_gguf_w_f32(w, KEY("rope.freq_base_swa"), (float)d->ropes[1].theta)) return -1;
    if (!strcmp(arch, "gpt-oss") && rl_gguf_w_u32(w, KEY("expert_feed_forward_length"), (uint32_t)d->moe_inter)) return -1;
    if (!strncmp(arch, "granite", 7) &&
        (rl_gguf_w_f32(w, KEY("attention.scale"), d->attn_scale) || rl_gguf_w_f32(w, KEY("embedding_scale"), d->emb_scale) ||
         rl_gguf_w_f32(w, KEY("residual_scale"), d->resid_mult) || rl_gguf_w_f32(w, KEY("logit_scale"), d->logit_div)))
        return -1;
    if ((!strcmp(arch, "command-r") || !strcmp(arch, "cohere2")) && rl_gguf_w_f32(w, KEY("logit_scale"), 1.0f / d->logit_div)) return -1;
    return 0;
}

/* Source index of item / row x under the value-head reordering of t (identity when none). */
static int64_t vt_map(const otensor *t, int64_t x) {
    if (t->vt_hd <= 0 || x < t->vt_r0) return x;
    int64_t y = x - t->vt_r0, p = y / t->vt_hd, j = p / t->vt_nk, g = p % t->vt_nk;
    return t->vt_r0 + (g * t->vt_r + j) * t->vt_hd + y % t->vt_hd;
}

/* Source row `row` of output tensor t (permutation and expert stacking applied). */
static void src_row(const otensor *t, int64_t row, int *si, int64_t *srow) {
    if (t->kind == T_SLICE) { *si = 0; *srow = row / t->ne[1] * t->s_rows + t->s_off + row % t->ne[1]; return; }
    if (!t->vt_cols && t->vt_hd > 0) { *si = 0; *srow = vt_map(t, row); return; }
    if (t->kind == T_IL2QKV) { /* InternLM2's wqkv: per kv group [q x qpk, k, v] heads of hd rows; q / k rows llama-permuted */
        int64_t hd = t->qz_dk, qpk = t->qz_r, G = (qpk + 2) * hd, h = row / hd, o = row % hd;
        int64_t op = t->sel == 2 ? o : (o % 2) * (hd / 2) + o / 2;
        *si = 0;
        *srow = t->sel == 0 ? h / qpk * G + h % qpk * hd + op : h * G + (qpk + t->sel - 1) * hd + op;
        return;
    }
    if (t->kind == T_PACKQKV) { /* Baichuan's W_pack: [all q, all k, all v] heads of hd rows; q / k rows llama-permuted */
        int64_t hd = t->qz_dk, h = row / hd, o = row % hd;
        *si = 0;
        *srow = t->sel * t->ne[1] + h * hd + (t->sel == 2 ? o : (o % 2) * (hd / 2) + o / 2);
        return;
    }
    if (t->kind == T_QKVZ) { /* per key-head group g of G rows: q_g, k_g, its value heads' v rows, then their z rows */
        int64_t nk = t->qz_nk, dk = t->qz_dk, dv = t->qz_dv, r = t->qz_r, G = 2 * dk + 2 * r * dv, e = row, x, vh;
        *si = 0;
        if (t->sel) { vh = e / dv; *srow = vh / r * G + 2 * dk + r * dv + vh % r * dv + e % dv; return; }
        if (e < 2 * nk * dk) { x = e % (nk * dk); *srow = x / dk * G + (e >= nk * dk ? dk : 0) + x % dk; return; }
        x = e - 2 * nk * dk;
        vh = x / dv;
        *srow = vh / r * G + 2 * dk + vh % r * dv + x % dv;
        return;
    }
    int64_t per = t->src[0]->ndim >= 2 ? t->src[0]->shape[0] : 1; /* rows of each source (a squeezed conv [C, 1, K]: C) */
    *si = (int)(row / per);
    int64_t r = row % per;
    if (t->perm_heads > 0 && t->src[0]->ndim == 2) {
        int64_t hd = per / t->perm_heads, h = r / hd, o = r % hd;
        r = h * hd + (o % 2) * (hd / 2) + o / 2;
    }
    *srow = r;
}

/* Source row of output row r (of rows per expert) for a selection: all, even, odd. */
static int64_t sel_row(int sel, int64_t r) { return sel ? 2 * r + (sel - 1) : r; }

/* gpt-oss experts: each output row of 32-blocks is the e8m0 scale byte then the block's 16 code
 * bytes, item j in the low nibble of byte j and item j + 16 in the high one (the HF blocks hold
 * items 2j and 2j + 1 in byte j). */
static int write_mxfp4(rl_gguf_writer *w, const rl_checkpoint *ck, const otensor *t, uint8_t *raw, uint8_t *q, uint64_t *src_bytes) {
    const rl_tensor_info *tb = t->src[0], *ts = t->src[1];
    int64_t cols = t->ne[0], rows = t->ne[1], E = t->ne[2], G = cols / 32, srows = tb->shape[1];
    for (int64_t e = 0; e < E; e++)
        for (int64_t r = 0; r < rows; r++) {
            int64_t sr = e * srows + sel_row(t->sel, r);
            uint8_t *cb = raw, *sc = raw + (size_t)G * 16;
            if (rl_pread_full(rl_ckpt_fd(ck, tb->file), cb, (size_t)G * 16, tb->offset + (uint64_t)sr * (uint64_t)G * 16, rl_ckpt_path(ck, tb->file)) ||
                rl_pread_full(rl_ckpt_fd(ck, ts->file), sc, (size_t)G, ts->offset + (uint64_t)sr * (uint64_t)G, rl_ckpt_path(ck, ts->file)))
                return -1;
            for (int64_t g = 0; g < G; g++) {
                uint8_t *o = q + g * 17;
                const uint8_t *in = cb + g * 16;
                o[0] = sc[g];
                for (int j = 0; j < 16; j++) {
                    int lo = (in[j / 2] >> (4 * (j & 1))) & 15, hi = (in[(j + 16) / 2] >> (4 * (j & 1))) & 15;
                    o[1 + j] = (uint8_t)(lo | hi << 4);
                }
            }
            *src_bytes += (uint64_t)G * 17;
            if (rl_gguf_w_data(w, q, (size_t)G * 17)) return -1;
        }
    return 0;
}

/* gpt-oss expert biases: row e of the source [E, srows], the selected items, as F32. */
static int write_bias_sel(rl_gguf_writer *w, const rl_checkpoint *ck, const otensor *t, float *f, uint8_t *raw, uint64_t *src_bytes) {
    const rl_tensor_info *s = t->src[0];
    int64_t n = t->ne[0], E = t->ne[1], sn = s->shape[1];
    size_t es = RL_DTYPES[s->dtype].size;
    for (int64_t e = 0; e < E; e++) {
        if (rl_pread_full(rl_ckpt_fd(ck, s->file), raw, (size_t)sn * es, s->offset + (uint64_t)e * sn * es, rl_ckpt_path(ck, s->file))) return -1;
        rl_convert_to_f32(f + n, raw, s->dtype, sn);
        for (int64_t i = 0; i < n; i++) f[i] = f[n + sel_row(t->sel, i)];
        *src_bytes += (uint64_t)sn * es;
        if (rl_gguf_w_data(w, f, (size_t)n * 4)) return -1;
    }
    return 0;
}

/* MLA's attn_k_b: per head h and latent channel c, the row of W_UK_h's column c (nope items). */
static int write_kb(rl_gguf_writer *w, const rl_checkpoint *ck, const otensor *t, uint8_t *q, uint64_t *src_bytes) {
    const rl_tensor_info *s = t->src[0];
    int64_t nope = t->ne[0], r = t->ne[1], nh = t->ne[2], n = s->shape[0] * s->shape[1];
    size_t rb = rl_ggml_row_bytes(t->type, nope);
    float *all = malloc((size_t)n * sizeof *all), *row = malloc((size_t)nope * sizeof *row);
    uint8_t *raw = malloc(s->nbytes ? s->nbytes : 1);
    int rc = -1;
    if (!all || !row || !raw) { rl_err("%s: out of memory", t->name); goto out; }
    if (rl_ckpt_read(ck, s, raw)) goto out;
    rl_convert_to_f32(all, raw, s->dtype, n);
    *src_bytes += s->nbytes;
    for (int64_t h = 0; h < nh; h++)
        for (int64_t c = 0; c < r; c++) {
            for (int64_t i = 0; i < nope; i++) row[i] = all[(size_t)(h * t->s_rows + i) * (size_t)r + (size_t)c];
            if (rl_ggml_quantize_row(t->type, row, q, nope)) { rl_err_prefix("%s: ", t->name); goto out; }
            if (rl_gguf_w_data(w, q, rb)) goto out;
        }
    rc = 0;
out:
    free(all);
    free(row);
    free(raw);
    return rc;
}

/* T_TRANS: per expert e, output rows i0.. (as many as a chunk holds) = columns s_off + i0.. of the
 * source matrix e [in, w]: the in source rows' pieces read, transposed, quantized. */
static int write_trans(rl_gguf_writer *w, const rl_checkpoint *ck, const otensor *t, float *f, uint8_t *raw, uint8_t *q,
                       uint64_t *src_bytes) {
    const rl_tensor_info *s = t->src[0];
    int64_t in = t->ne[0], out = t->ne[1], E = t->ne[2], wd = s->shape[2];
    size_t es = RL_DTYPES[s->dtype].size, rb = rl_ggml_row_bytes(t->type, in);
    int64_t nb = (int64_t)(CHUNK_FLOATS / 2 / (size_t)in); /* f holds the pieces (in x nb) and the rows (nb x in) */
    if (nb < 1) return rl_err("%s: rows of %lld values are too long", t->name, (long long)in);
    if (nb > out) nb = out;
    int fd = rl_ckpt_fd(ck, s->file);
    for (int64_t e = 0; e < E; e++)
        for (int64_t i0 = 0; i0 < out; i0 += nb) {
            int64_t n = out - i0 < nb ? out - i0 : nb;
            float *pc = f, *rows = f + (size_t)in * nb;
            for (int64_t h = 0; h < in; h++) {
                uint64_t at = s->offset + ((uint64_t)(e * in + h) * (uint64_t)wd + (uint64_t)(t->s_off + i0)) * es;
                if (rl_pread_full(fd, raw, (size_t)n * es, at, rl_ckpt_path(ck, s->file))) return -1;
                rl_convert_to_f32(pc + (size_t)h * n, raw, s->dtype, n);
            }
            for (int64_t i = 0; i < n; i++)
                for (int64_t h = 0; h < in; h++) rows[(size_t)i * in + h] = pc[(size_t)h * n + i];
            for (int64_t i = 0; i < n; i++)
                if (rl_ggml_quantize_row(t->type, rows + (size_t)i * in, q + (size_t)i * rb, in)) return rl_err_prefix("%s: ", t->name);
            *src_bytes += (uint64_t)n * in * es;
            if (rl_gguf_w_data(w, q, (size_t)n * rb)) return -1;
        }
    return 0;
}

/* Writes tensor t's data: source rows converted to f32, adjusted, quantized, in chunks. */
static int write_tensor(rl_gguf_writer *w, const rl_checkpoint *ck, const otensor *t, float *f, uint8_t *raw, uint8_t *q,
                        uint64_t *src_bytes) {
    int64_t cols = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
    if (t->gen) return rl_gguf_w_data(w, t->gen, (size_t)cols * 4);
    if (t->kind == T_MXFP4) return write_mxfp4(w, ck, t, raw, q, src_bytes);
    if (t->kind == T_KB) return write_kb(w, ck, t, q, src_bytes);
    if (t->kind == T_BIAS_SEL) return write_bias_sel(w, ck, t, f, raw, src_bytes);
    if (t->kind == T_TRANS) return write_trans(w, ck, t, f, raw, q, src_bytes);
    size_t rb = rl_ggml_row_bytes(t->type, cols);
    int64_t chunk = (int64_t)(CHUNK_FLOATS / (size_t)cols);
    if (chunk < 1) chunk = 1;
    if (t->src[0]->ndim == 1) { /* a vector: one row (or, Mamba-2's ssm_a / ssm_d {1, n}, rows of one), items permuted per head */
        const rl_tensor_info *s = t->src[0];
        cols *= rows;
        rb = rl_ggml_row_bytes(t->type, cols);
        float *g = f + cols;
        if ((size_t)cols * 2 > CHUNK_FLOATS) return rl_err("%s: vector too long", s->name);
        if (rl_ckpt_read(ck, s, raw)) return -1;
        rl_convert_to_f32(f, raw, s->dtype, cols);
        *src_bytes += s->nbytes;
        if (t->perm_heads > 0) {
            int64_t hd = cols / t->perm_heads;
            for (int64_t o = 0; o < cols; o++) g[o] = f[(o / hd) * hd + (o % hd % 2) * (hd / 2) + o % hd / 2];
            memcpy(f, g, (size_t)cols * 4);
        }
        if (t->vt_hd > 0) {
            for (int64_t o = 0; o < cols; o++) g[o] = f[vt_map(t, o)];
            memcpy(f, g, (size_t)cols * 4);
        }
        if (t->neg_exp) for (int64_t i = 0; i < cols; i++) f[i] = -expf(f[i]);
        if (t->plus_one) for (int64_t i = 0; i < cols; i++) f[i] += 1.0f;
        if (rl_ggml_quantize_row(t->type, f, q, cols)) return rl_err_prefix("%s: ", t->name);
        return rl_gguf_w_data(w, q, rb);
    }
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int64_t nr = rows - r0 < chunk ? rows - r0 : chunk;
        for (int64_t i = 0; i < nr; i++) {
            int si;
            int64_t sr;
            src_row(t, r0 + i, &si, &sr);
            const rl_tensor_info *s = t->src[si];
            size_t es = RL_DTYPES[s->dtype].block_bytes, srb = (size_t)cols * es;
            if (rl_pread_full(rl_ckpt_fd(ck, s->file), raw, srb, s->offset + (uint64_t)sr * srb, rl_ckpt_path(ck, s->file))) return -1;
            rl_convert_to_f32(f + i * cols, raw, s->dtype, cols);
            *src_bytes += srb;
        }
        if (t->plus_one) for (int64_t i = 0; i < nr * cols; i++) f[i] += 1.0f;
        if (t->neg_exp) for (int64_t i = 0; i < nr * cols; i++) f[i] = -expf(f[i]); /* Mamba-1's A_log [I, N] */
        if (t->mul) for (int64_t i = 0; i < nr * cols; i++) f[i] *= t->mul;
        for (int64_t i = 0; t->rmul[0] && i < nr; i++) {
            int k = 0;
            while (k < 4 && r0 + i >= t->redge[k]) k++;
            for (int64_t c = 0; c < cols; c++) f[i * cols + c] *= t->rmul[k];
        }
        for (int64_t i = 0; t->norm_rows && i < nr; i++) { /* F.normalize: w / max(|w|, 1e-12) */
            double ss = 0;
            for (int64_t c = 0; c < cols; c++) ss += (double)f[i * cols + c] * f[i * cols + c];
            double n = sqrt(ss) > 1e-12 ? sqrt(ss) : 1e-12;
            for (int64_t c = 0; c < cols; c++) f[i * cols + c] = (float)(f[i * cols + c] / n);
        }
        if (t->vt_cols) /* columns reordered row by row, through the scratch after the chunk */
            for (int64_t i = 0; i < nr; i++) {
                float *r = f + i * cols, *g = f + (size_t)CHUNK_FLOATS;
                for (int64_t o = 0; o < cols; o++) g[o] = r[vt_map(t, o)];
                memcpy(r, g, (size_t)cols * 4);
            }
        for (int64_t i = 0; i < nr; i++)
            if (rl_ggml_quantize_row(t->type, f + i * cols, q + (size_t)i * rb, cols)) return rl_err_prefix("%s: ", t->name);
        if (rl_gguf_w_data(w, q, (size_t)nr * rb)) return -1;
    }
    return 0;
}

int rl_gguf_export(const char *model_dir, const char *out_path, rl_gguf_xtype x, rl_gguf_export_stats *st,
                   void (*fn)(void *ud, uint64_t done, uint64_t total), void *ud) {
    rl_gguf_export_stats S;
    memset(&S, 0, sizeof S);
    rl_model_desc *d = calloc(1, sizeof *d);
    plan p = {0};
    p.d = d;
    rl_checkpoint *ck = NULL;
    rl_gguf_writer *w = NULL;
    float *f = NULL;
    uint8_t *raw = NULL, *q = NULL;
    int rc = -1;
    if (!d) return rl_err("out of memory");
    if (rl_config_load(model_dir, d)) goto out;
    size_t a = 0;
    while (a < sizeof ARCHS / sizeof *ARCHS && strcmp(ARCHS[a].hf, d->arch)) a++;
    if (a == sizeof ARCHS / sizeof *ARCHS) {
        rl_err("%s: %s cannot be written as GGUF (supported: Llama, Mistral, Mixtral, Qwen2, Qwen3, Qwen2-MoE, Qwen3-MoE, Gemma, Gemma 2, Gemma 3, "
               "Phi-3, GLM-4, gpt-oss, OLMo 2 / 3, Granite, GraniteMoe(Shared), Granite 4.0-H, Nemotron-H, Mamba-2, Command R, Command R7B, EXAONE 4, DeepSeek V2 / V3, GLM-4.5 / 4.6, Qwen3.5, Qwen3-Next, Phi-2, InternLM2, Qwen v1, ChatGLM, Baichuan, SmolLM3, Llama 4, Mamba, FalconMamba, Jamba, Falcon-H1, Qwen2-VL / Qwen2.5-VL / Qwen3-VL(-MoE) text models, EXAONE-MoE, Seed-OSS, Arcee, LFM2 (+MoE), ERNIE 4.5 (+MoE), MiniMax-M2, OLMo, OLMoE, StarCoder2, dots.llm1, EXAONE 3.x, GPT-NeoX)", model_dir, d->arch);
        goto out;
    }
    int n_lin = 0;
    for (int l = 0; l < d->n_layers; l++) n_lin += d->layers[l].kind == RL_LAYER_LINEAR;
    const char *arch = !strcmp(ARCHS[a].arch, "granitehybrid") && !n_lin && d->n_experts ? "granitemoe" /* as llama.cpp's converter */
                     : !strcmp(ARCHS[a].arch, "nemotron_h") && d->n_experts ? "nemotron_h_moe" : ARCHS[a].arch;
    if (check_desc(d, arch, model_dir)) goto out;
    if ((!strcmp(arch, "qwen3moe") && !d->moe_norm_topk) || (!strcmp(arch, "qwen2moe") && d->moe_norm_topk)) {
        rl_err("%s: norm_topk_prob %s: llama.cpp's %s always %s the top-k weights", model_dir, d->moe_norm_topk ? "true" : "false",
               arch, d->moe_norm_topk ? "keeps" : "renormalises");
        goto out;
    }
    if (!(ck = rl_ckpt_open(model_dir))) goto out;
    if (rl_ckpt_gguf(ck, 0)) { rl_err("%s: already a GGUF model", model_dir); goto out; }
    if (build_plan(&p, ck, d, model_dir, x, ARCHS[a].permute, arch)) goto out;
    if (!(w = rl_gguf_writer_new(out_path))) goto out;
    const char *base = strrchr(model_dir, '/');
    char name[128];
    snprintf(name, sizeof name, "%s", base && base[1] ? base + 1 : model_dir);
    const char *vk = "none";
    if (write_meta(w, d, arch, name, x) || rl_gguf_export_vocab(w, model_dir, d, &vk)) goto out;
    snprintf(S.arch, sizeof S.arch, "%s", arch);
    snprintf(S.vocab, sizeof S.vocab, "%s", vk);
    uint64_t total = 0;
    size_t max_row = 0;
    for (int i = 0; i < p.n; i++) {
        if (rl_gguf_w_tensor(w, p.t[i].name, p.t[i].type, p.t[i].n_dims, p.t[i].ne)) goto out;
        const otensor *t = &p.t[i];
        if (t->kind == T_MXFP4) total += (uint64_t)(t->ne[1] * t->ne[2] * (t->ne[0] / 32)) * 17; /* what write_mxfp4 counts */
        else if (t->kind == T_BIAS_SEL) total += (uint64_t)(t->ne[1] * t->src[0]->shape[1]) * RL_DTYPES[t->src[0]->dtype].size;
        else if (t->kind == T_SLICE || t->kind == T_TRANS) total += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2]) * RL_DTYPES[t->src[0]->dtype].size;
        else for (int k = 0; k < t->n_src; k++) total += t->src[k]->nbytes;
        size_t rb = (size_t)p.t[i].ne[0] * 4;
        if (rb > max_row) max_row = rb;
    }
    size_t fl = CHUNK_FLOATS + (max_row / 4) * 2;
    if (!(f = malloc(fl * 4)) || !(raw = malloc(max_row > CHUNK_FLOATS * 4 ? max_row : CHUNK_FLOATS * 4)) || !(q = malloc(fl * 4))) {
        rl_err("%s: out of memory", out_path);
        goto out;
    }
    if (rl_gguf_w_begin(w)) goto out;
    const char *fail_env = getenv("RL_QUANT_FAIL_AFTER");
    long fail_after = fail_env && *fail_env ? strtol(fail_env, NULL, 10) : -1;
    for (int i = 0; i < p.n; i++) {
        if (fail_after >= 0 && i >= fail_after) {
            rl_err_c(RL_EC_IO, "%s: simulated failure after %ld tensors (RL_QUANT_FAIL_AFTER)", out_path, fail_after);
            goto out;
        }
        if (write_tensor(w, ck, &p.t[i], f, raw, q, &S.src_bytes)) goto out;
        S.out_bytes += rl_gguf_w_tensor_bytes(w, i);
        S.n_tensors++;
        if (p.t[i].type != RL_GGML_F32 && p.t[i].type != RL_GGML_F16 && p.t[i].type != RL_GGML_BF16) S.n_quantized++;
        if (fn) fn(ud, S.src_bytes, total);
    }
    rc = rl_gguf_w_close(w);
    w = NULL;
out:
    rl_gguf_w_abort(w);
    free(f);
    free(raw);
    free(q);
    plan_free(&p);
    rl_ckpt_close(ck);
    free(d);
    if (!rc && st) *st = S;
    return rc;
}
