/* Model description from GGUF metadata (gguf_config.c) for the fixture families: dimensions,
 * GGUF tensor names, llama.cpp's conventions (interleaved rope for llama-arch files, rope_freqs
 * factors, Gemma norms stored as 1 + w, tied output when output.weight is absent, softcaps,
 * sliding windows, experts; deepseek2's MLA with split kv_b and YaRN), and clear errors for
 * unsupported architectures. A metadata-only granitehybrid file (written here) checks the keys
 * llama.cpp leaves out: no attention.scale is 1/sqrt(head_dim), rotary on unless
 * rope.scaling.finetuned is false, Mamba-2 layers where head_count_kv is 0; a qwen3vl one the
 * pairs llama.cpp's interleaved M-RoPE leaves unrotated for text. */
#include "test.h"
#include "../format/fmt_util.h"
#include "model/config.h"
#include "model/rope.h"
#include "format/gguf_write.h"
#include "util/err.h"
#include "util/fileio.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *name, rl_model_desc *d) {
    char p[512];
    snprintf(p, sizeof p, "%s/gguf/%s/model.gguf", t_shared(), name);
    int rc = rl_config_load(p, d);
    CHECK(rc == 0, "%s: %s", name, rl_errmsg());
    return rc;
}

static void test_llama(void) {
    rl_model_desc d;
    if (load("llama_q8_0", &d)) return;
    CHECK(!strcmp(d.family, "llama") && d.n_layers == 3 && d.hidden == 128 && d.n_heads == 4 && d.n_kv_heads == 2 &&
          d.head_dim == 32 && d.intermediate == 256 && d.vocab == 512, "llama dims");
    CHECK(d.ropes[0].pairing == RL_ROPE_GPTJ && d.ropes[0].scaling == RL_RS_FACTORS && d.ropes[0].n_short == 16 &&
          d.ropes[0].ggml_angles && d.ropes[0].theta == 500000.0, "llama rope");
    CHECK(!d.tied && !strcmp(d.wname[W_Q], "blk.%d.attn_q.weight") && !strcmp(d.gname[G_LM_HEAD], "output.weight"), "llama names");
    if (load("stories260K_f32", &d)) return;
    CHECK(d.head_dim == 8 && d.ropes[0].rot_dims == 8 && d.bos_id == 1 && d.n_eos == 1 && d.eos_ids[0] == 2, "stories");
}

static void test_families(void) {
    rl_model_desc d;
    if (!load("qwen2_f32", &d))
        CHECK(!strcmp(d.family, "qwen2") && d.qkv_bias && d.ropes[0].pairing == RL_ROPE_NEOX && d.tied, "qwen2");
    if (!load("qwen3_wide_q6_k", &d))
        CHECK(!strcmp(d.family, "qwen3") && d.qk_norm && d.head_dim == 128 && !strcmp(d.wname[W_Q_NORM], "blk.%d.attn_q_norm.weight"), "qwen3");
    if (!load("gemma2_f32", &d))
        CHECK(!strcmp(d.family, "gemma2") && !d.norm_one_plus && d.post_norms && d.attn_softcap == 50.0f &&
              d.final_softcap == 30.0f && d.layers[0].kind == RL_LAYER_SLIDING && d.layers[0].window == 8 &&
              d.layers[1].kind == RL_LAYER_FULL, "gemma2");
    if (!load("phi3_q4_0", &d))
        CHECK(!strcmp(d.family, "phi3") && !strcmp(d.wname[W_QKV], "blk.%d.attn_qkv.weight") &&
              !strcmp(d.wname[W_GATE_UP], "blk.%d.ffn_up.weight"), "phi3");
    if (!load("mixtral_q8_0", &d))
        CHECK(!strcmp(d.family, "mixtral") && d.n_experts == 4 && d.n_experts_used == 2 &&
              !strcmp(d.ename[0], "blk.%d.ffn_gate_exps.%d.weight") && d.ropes[0].pairing == RL_ROPE_GPTJ, "mixtral");
}

/* deepseek2: MLA dims from the *_mla keys, llama.cpp's split kv_b, MoE routing, YaRN. */
static void test_deepseek2(void) {
    rl_model_desc d;
    if (!load("deepseek_v2_q8_0", &d)) {
        CHECK(!strcmp(d.family, "deepseek_v2") && d.mla && d.kv_lora_rank == 32 && d.q_lora_rank == 0 && d.qk_nope_dim == 16 &&
              d.qk_rope_dim == 8 && d.v_head_dim == 16 && d.head_dim == 24 && d.n_kv_heads == 4, "deepseek2 MLA dims");
        CHECK(d.mla_kv_b_split && !strcmp(d.wname[W_MLA_K_B], "blk.%d.attn_k_b.weight") &&
              !strcmp(d.wname[W_MLA_V_B], "blk.%d.attn_v_b.weight") && !strcmp(d.wname[W_MLA_KV_A], "blk.%d.attn_kv_a_mqa.weight") &&
              !strcmp(d.wname[W_Q], "blk.%d.attn_q.weight"), "deepseek2 names");
        CHECK(d.n_experts == 8 && d.n_experts_used == 2 && d.moe_inter == 32 && d.moe_shared_inter == 64 && !d.layer_moe[0] &&
              d.layer_moe[1] && d.layer_moe[2] && !d.moe_sigmoid && !d.moe_norm_topk, "deepseek2 MoE");
        CHECK(d.ropes[0].scaling == RL_RS_YARN && d.ropes[0].factor == 40 && d.ropes[0].orig_max_pos == 4096 &&
              d.ropes[0].pairing == RL_ROPE_GPTJ && d.ropes[0].rot_dims == 8 && d.ropes[0].ggml_angles, "deepseek2 rope");
        /* 1 / sqrt(24) times (1 + 0.0707 ln 40)^2 */
        CHECK(fabsf(d.attn_scale - 0.3244810f) < 1e-6f, "deepseek2 attention scale %.7f", (double)d.attn_scale);
    }
}

/* An architecture nobody maps is an error naming it and the file. */
static void test_unsupported(void) {
    char src[512], dir[32], p[4096];
    snprintf(src, sizeof src, "%s/gguf/llama_q8_0/model.gguf", t_shared());
    size_t len = 0;
    unsigned char *buf = (unsigned char *)rl_read_file(src, &len);
    CHECK(buf != NULL, "read %s", src);
    if (!buf) return;
    static const char key[] = "general.architecture";
    unsigned char *k = memmem(buf, len, key, sizeof key - 1);
    CHECK(k && (size_t)(k - buf) + sizeof key + 16 < len, "no general.architecture in %s", src);
    if (k) memcpy(k + sizeof key - 1 + 4 + 8, "lla_a", 5); /* value after type u32 and length u64: "llama" */
    CHECK(t_mkdtemp(dir) != NULL && t_write(p, dir, "m.gguf", buf, len) == 0, "write");
    rl_model_desc d;
    CHECK(rl_config_load(p, &d) != 0 && strstr(rl_errmsg(), "\"lla_a\"") && strstr(rl_errmsg(), p), "unsupported: %s", rl_errmsg());
    t_rmrf(dir);
    free(buf);
}

/* Ends a metadata-only file whose keys and tensor infos w holds (rc: their writes' result): the data
 * of a token_embd of n_zero zeros, then the n_extra tensors' bytes. 0 / -1 (w freed either way). */
static int finish_gguf(rl_gguf_writer *w, int rc, size_t n_zero, const void *const *extra, const size_t *extra_bytes, int n_extra) {
    float *z = calloc(n_zero, sizeof *z);
    rc = rc || !z || rl_gguf_w_begin(w) || rl_gguf_w_data(w, z, n_zero * sizeof *z);
    for (int i = 0; !rc && i < n_extra; i++) rc = rl_gguf_w_data(w, extra[i], extra_bytes[i]);
    free(z);
    if (rc) { rl_gguf_w_abort(w); return -1; } /* (abort / close free w) */
    return rl_gguf_w_close(w);
}

/* granitehybrid metadata as a Bamba GGUF carries it (no Granite multipliers, rope on, half rotary). */
static void test_granitehybrid_defaults(void) {
    char dir[32], p[4096];
    CHECK(t_mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    rl_gguf_writer *w = rl_gguf_writer_new(p);
    int32_t kv[4] = {0, 2, 0, 0};
    int64_t ne[2] = {64, 256};
    int rc = !w || rl_gguf_w_str(w, "general.architecture", "granitehybrid") || rl_gguf_w_u32(w, "granitehybrid.block_count", 4) ||
             rl_gguf_w_u32(w, "granitehybrid.embedding_length", 64) || rl_gguf_w_u32(w, "granitehybrid.feed_forward_length", 80) ||
             rl_gguf_w_u32(w, "granitehybrid.attention.head_count", 4) || rl_gguf_w_arr_i32(w, "granitehybrid.attention.head_count_kv", 4, kv) ||
             rl_gguf_w_u32(w, "granitehybrid.rope.dimension_count", 8) || rl_gguf_w_u32(w, "granitehybrid.ssm.conv_kernel", 4) ||
             rl_gguf_w_u32(w, "granitehybrid.ssm.state_size", 16) || rl_gguf_w_u32(w, "granitehybrid.ssm.group_count", 1) ||
             rl_gguf_w_u32(w, "granitehybrid.ssm.time_step_rank", 8) || rl_gguf_w_u32(w, "granitehybrid.ssm.inner_size", 128) ||
             rl_gguf_w_u32(w, "granitehybrid.expert_count", 0) || rl_gguf_w_tensor(w, "token_embd.weight", 0, 2, ne);
    rc = w ? finish_gguf(w, rc, 64 * 256, NULL, NULL, 0) : -1;
    CHECK(rc == 0, "write %s: %s", p, rl_errmsg());
    rl_model_desc d;
    if (!rc && rl_config_load(p, &d) == 0) {
        CHECK(!strcmp(d.family, "granitemoehybrid") && fabsf(d.attn_scale - 0.25f) < 1e-7f, "attention scale %g, not 1/sqrt(16)",
              (double)d.attn_scale);
        CHECK(d.ropes[0].pairing == RL_ROPE_GPTJ && d.ropes[0].rot_dims == 8, "rope on half of each head: pairing %d, %d dims",
              (int)d.ropes[0].pairing, d.ropes[0].rot_dims);
        CHECK(d.layers[0].kind == RL_LAYER_LINEAR && d.layers[1].kind == RL_LAYER_FULL && d.n_kv_heads == 2 && d.lin_v_heads == 8 &&
              d.lin_v_dim == 16 && d.lin_a_direct && !d.lin_conv_bias && d.intermediate == 80 && !d.n_experts, "layers / Mamba dims");
    } else
        CHECK(0, "config: %s", rl_errmsg());
    t_rmrf(dir);
}

/* gptneox metadata as llama.cpp's converter writes Pythia: GELU's tanh form (what llama.cpp's graph
 * computes, not transformers' erf — a difference the logits tolerance of test_neox cannot see),
 * attn_qkv as [q; k; v] (not grouped per head), the two-norm parallel block, a quarter rotary. */
static void test_gptneox(void) {
    for (int rot = 4; rot <= 16; rot += 12) { /* a quarter of the head, and all of it (not GPT-NeoX's own default quarter) */
        char dir[32], p[4096];
        CHECK(t_mkdtemp(dir) != NULL, "mkdtemp");
        snprintf(p, sizeof p, "%s/m.gguf", dir);
        rl_gguf_writer *w = rl_gguf_writer_new(p);
        int64_t ne[2] = {64, 256};
        int rc = !w || rl_gguf_w_str(w, "general.architecture", "gptneox") || rl_gguf_w_u32(w, "gptneox.block_count", 2) ||
                 rl_gguf_w_u32(w, "gptneox.embedding_length", 64) || rl_gguf_w_u32(w, "gptneox.feed_forward_length", 256) ||
                 rl_gguf_w_u32(w, "gptneox.attention.head_count", 4) || rl_gguf_w_u32(w, "gptneox.rope.dimension_count", (uint32_t)rot) ||
                 rl_gguf_w_f32(w, "gptneox.attention.layer_norm_epsilon", 1e-5f) || rl_gguf_w_bool(w, "gptneox.use_parallel_residual", 1) ||
                 rl_gguf_w_tensor(w, "token_embd.weight", 0, 2, ne);
        rc = w ? finish_gguf(w, rc, 64 * 256, NULL, NULL, 0) : -1;
        CHECK(rc == 0, "write %s: %s", p, rl_errmsg());
        rl_model_desc d;
        if (!rc && rl_config_load(p, &d) == 0)
            CHECK(!strcmp(d.family, "gpt_neox") && d.act == RL_ACT_GELU_TANH && !d.qkv_grouped && d.parallel_block == 2 && d.qkv_bias &&
                  d.norm == RL_NORM_LAYER && d.ropes[0].rot_dims == rot && d.ropes[0].pairing == RL_ROPE_NEOX,
                  "gptneox: act %d, grouped %d, parallel %d, rot %d (want %d)", (int)d.act, d.qkv_grouped, d.parallel_block, d.ropes[0].rot_dims, rot);
        else
            CHECK(0, "config: %s", rl_errmsg());
        t_rmrf(dir);
    }
}

/* exaone (EXAONE 3.x) metadata: its RMS epsilon comes through (the family reads layer_norm_epsilon). */
static void test_exaone_eps(void) {
    char dir[32], p[4096];
    CHECK(t_mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    rl_gguf_writer *w = rl_gguf_writer_new(p);
    int64_t ne[2] = {64, 256};
    int rc = !w || rl_gguf_w_str(w, "general.architecture", "exaone") || rl_gguf_w_u32(w, "exaone.block_count", 2) ||
             rl_gguf_w_u32(w, "exaone.embedding_length", 64) || rl_gguf_w_u32(w, "exaone.feed_forward_length", 96) ||
             rl_gguf_w_u32(w, "exaone.attention.head_count", 4) || rl_gguf_w_f32(w, "exaone.attention.layer_norm_rms_epsilon", 3e-6f) ||
             rl_gguf_w_tensor(w, "token_embd.weight", 0, 2, ne);
    rc = w ? finish_gguf(w, rc, 64 * 256, NULL, NULL, 0) : -1;
    CHECK(rc == 0, "write %s: %s", p, rl_errmsg());
    rl_model_desc d;
    if (!rc && rl_config_load(p, &d) == 0)
        CHECK(!strcmp(d.family, "exaone") && fabsf(d.norm_eps - 3e-6f) < 1e-12f, "exaone eps %g", (double)d.norm_eps);
    else
        CHECK(0, "config: %s", rl_errmsg());
    t_rmrf(dir);
}

/* qwen3vl metadata as llama.cpp's converter writes Qwen3-VL-8B's text model (head_dim 128, sections
 * 24 / 20 / 20 / 0): text positions (p, p, p, 0) through its interleaved M-RoPE leave pairs 61 and 62
 * unrotated (their sector reads the 4th position), every other pair plain NeoX. */
static void test_qwen3vl_imrope(void) {
    char dir[32], p[4096];
    CHECK(t_mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    rl_gguf_writer *w = rl_gguf_writer_new(p);
    int32_t sec[4] = {24, 20, 20, 0};
    int64_t ne[2] = {512, 256};
    int rc = !w || rl_gguf_w_str(w, "general.architecture", "qwen3vl") || rl_gguf_w_u32(w, "qwen3vl.block_count", 2) ||
             rl_gguf_w_u32(w, "qwen3vl.embedding_length", 512) || rl_gguf_w_u32(w, "qwen3vl.feed_forward_length", 1024) ||
             rl_gguf_w_u32(w, "qwen3vl.attention.head_count", 4) || rl_gguf_w_u32(w, "qwen3vl.attention.head_count_kv", 2) ||
             rl_gguf_w_u32(w, "qwen3vl.attention.key_length", 128) || rl_gguf_w_f32(w, "qwen3vl.rope.freq_base", 5e6f) ||
             rl_gguf_w_arr_i32(w, "qwen3vl.rope.dimension_sections", 4, sec) || rl_gguf_w_tensor(w, "token_embd.weight", 0, 2, ne);
    rc = w ? finish_gguf(w, rc, 512 * 256, NULL, NULL, 0) : -1;
    CHECK(rc == 0, "write %s: %s", p, rl_errmsg());
    rl_model_desc d;
    if (!rc && rl_config_load(p, &d) == 0) {
        const rl_rope *r = &d.ropes[0];
        int off = 0;
        for (int j = 0; j < 64; j++) off += (r->short_factor[j] == INFINITY) != (j == 61 || j == 62);
        CHECK(!strcmp(d.family, "qwen3") && d.qk_norm && r->pairing == RL_ROPE_NEOX && r->rot_dims == 128 && r->scaling == RL_RS_FACTORS &&
              r->n_short == 64 && !off, "qwen3vl: pairs 61, 62 unrotated only (%d off)", off);
    } else
        CHECK(0, "config: %s", rl_errmsg());
    t_rmrf(dir);
}

/* phi3 with longrope as llama.cpp's converter writes Phi-3.5 / Phi-4-mini: rope_factors_long /
 * _short, rope.scaling.original_context_length and .attn_factor. The rope table uses the long
 * factors when the context per sequence exceeds the original (ggml_long, set at open), the short
 * ones otherwise, cos / sin times the attention factor: checked against the angles computed here. */
static void test_phi3_longrope(void) {
    char dir[32], p[4096];
    CHECK(t_mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    rl_gguf_writer *w = rl_gguf_writer_new(p);
    int64_t ne[2] = {64, 256}, nf[1] = {8};
    float lf[8], sf[8];
    for (int i = 0; i < 8; i++) { lf[i] = 1.0f + 3.0f * (float)i; sf[i] = 1.0f + 0.125f * (float)i; }
    int rc = !w || rl_gguf_w_str(w, "general.architecture", "phi3") || rl_gguf_w_u32(w, "phi3.block_count", 2) ||
             rl_gguf_w_u32(w, "phi3.embedding_length", 64) || rl_gguf_w_u32(w, "phi3.feed_forward_length", 128) ||
             rl_gguf_w_u32(w, "phi3.attention.head_count", 4) || rl_gguf_w_u32(w, "phi3.attention.head_count_kv", 4) ||
             rl_gguf_w_u32(w, "phi3.context_length", 512) || rl_gguf_w_u32(w, "phi3.rope.scaling.original_context_length", 16) ||
             rl_gguf_w_f32(w, "phi3.rope.scaling.attn_factor", 1.25f) || rl_gguf_w_f32(w, "phi3.rope.freq_base", 10000.0f) ||
             rl_gguf_w_tensor(w, "token_embd.weight", 0, 2, ne) || rl_gguf_w_tensor(w, "rope_factors_long.weight", 0, 1, nf) ||
             rl_gguf_w_tensor(w, "rope_factors_short.weight", 0, 1, nf);
    const void *extra[2] = {lf, sf};
    const size_t eb[2] = {sizeof lf, sizeof sf};
    rc = w ? finish_gguf(w, rc, 64 * 256, extra, eb, 2) : -1;
    CHECK(rc == 0, "write %s: %s", p, rl_errmsg());
    rl_model_desc d;
    if (!rc && rl_config_load(p, &d) == 0) {
        rl_rope r = d.ropes[0];
        CHECK(r.scaling == RL_RS_LONGROPE && r.ggml_angles && r.n_long == 8 && r.long_factor[3] == 10.0 && r.short_factor[2] == 1.25 &&
              r.orig_max_pos == 16 && fabs(r.attn_factor - 1.25) < 1e-6, "phi3 longrope: scaling %d, factors %g / %g, orig %g, attn %g",
              (int)r.scaling, r.long_factor[3], r.short_factor[2], r.orig_max_pos, r.attn_factor);
        int pos[2] = {3, 40};
        for (int lng = 0; lng < 2; lng++) {
            float c[16], s[16];
            r.ggml_long = lng;
            rl_rope_table(&r, pos, 2, 41, c, s);
            double worst = 0;
            for (int t = 0; t < 2; t++)
                for (int i = 0; i < 8; i++) {
                    double a = pos[t] * pow(10000.0, -2.0 * i / 16) / (lng ? lf[i] : sf[i]);
                    worst = fmax(worst, fabs(c[t * 8 + i] - 1.25 * cos(a)) + fabs(s[t * 8 + i] - 1.25 * sin(a)));
                }
            CHECK(worst < 1e-5, "phi3 longrope table (%s factors): %g off", lng ? "long" : "short", worst);
        }
    } else
        CHECK(0, "config: %s", rl_errmsg());
    t_rmrf(dir);
}

int main(void) {
    RUN(test_granitehybrid_defaults);
    RUN(test_phi3_longrope);
    RUN(test_qwen3vl_imrope);
    RUN(test_gptneox);
    RUN(test_exaone_eps);
    RUN_SHARED(test_llama);
    RUN_SHARED(test_families);
    RUN_SHARED(test_deepseek2);
    RUN_SHARED(test_unsupported);
    TEST_END();
}
