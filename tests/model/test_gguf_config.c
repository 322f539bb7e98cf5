/* Model description from GGUF metadata (gguf_config.c) for the fixture families: dimensions,
 * GGUF tensor names, llama.cpp's conventions (interleaved rope for llama-arch files, rope_freqs
 * factors, Gemma norms stored as 1 + w, tied output when output.weight is absent, softcaps,
 * sliding windows, experts), and clear errors for unsupported architectures. */
#include "test.h"
#include "model/config.h"
#include "util/err.h"
#include <stdio.h>

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

static void test_unsupported(void) {
    rl_model_desc d;
    char p[512];
    snprintf(p, sizeof p, "%s/gguf/deepseek_v2_f32/model.gguf", t_shared());
    CHECK(rl_config_load(p, &d) != 0 && strstr(rl_errmsg(), "deepseek2") && strstr(rl_errmsg(), p), "deepseek2: %s", rl_errmsg());
}

int main(void) {
    RUN_SHARED(test_llama);
    RUN_SHARED(test_families);
    RUN_SHARED(test_unsupported);
    TEST_END();
}
