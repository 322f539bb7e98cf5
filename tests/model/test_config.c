/* config.json normalisation: head_dim rule, v4 and v5 rope forms, eos ids as int or list from
 * config.json and generation_config.json, and clear errors for what we do not support. */
#include "test.h"
#include "model/config.h"
#include "util/err.h"
#include "util/fileio.h"
#include <unistd.h>

static char g_dir[64];

static int load(const char *cfg, const char *gen, rl_model_desc *d) {
    char p[128];
    snprintf(p, sizeof p, "%s/config.json", g_dir);
    rl_write_file_atomic(p, cfg, strlen(cfg));
    snprintf(p, sizeof p, "%s/generation_config.json", g_dir);
    if (gen) rl_write_file_atomic(p, gen, strlen(gen));
    else unlink(p);
    return rl_config_load(g_dir, d);
}

#define BASE "\"architectures\":[\"LlamaForCausalLM\"],\"model_type\":\"llama\",\"hidden_size\":64," \
             "\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100"

static rl_model_desc D;

static void test_head_dim(void) {
    CHECK(load("{" BASE "}", NULL, &D) == 0, "%s", rl_errmsg());
    CHECK(D.head_dim == 16 && D.n_kv_heads == 4, "hidden/heads: %d kv %d", D.head_dim, D.n_kv_heads);
    CHECK(load("{" BASE ",\"head_dim\":32,\"num_key_value_heads\":2}", NULL, &D) == 0, "%s", rl_errmsg());
    CHECK(D.head_dim == 32 && D.n_kv_heads == 2, "explicit head_dim wins: %d", D.head_dim);
    CHECK(D.ropes[0].rot_dims == 32, "rot dims %d", D.ropes[0].rot_dims);
    CHECK(load("{" BASE ",\"head_dim\":null}", NULL, &D) == 0 && D.head_dim == 16, "null head_dim");
    CHECK(load("{" BASE ",\"num_key_value_heads\":3}", NULL, &D) == -1, "kv heads must divide heads");
}

static void test_rope_forms(void) {
    CHECK(load("{" BASE ",\"rope_theta\":500000.0,\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,"
               "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}", NULL, &D) == 0, "%s", rl_errmsg());
    rl_rope v4 = D.ropes[0];
    CHECK(v4.theta == 500000.0 && v4.scaling == RL_RS_LLAMA3 && v4.factor == 8.0, "v4 llama3");
    CHECK(load("{" BASE ",\"rope_parameters\":{\"rope_type\":\"llama3\",\"rope_theta\":500000.0,\"factor\":8.0,"
               "\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192},\"dtype\":\"bfloat16\"}", NULL, &D) == 0, "%s", rl_errmsg());
    CHECK(D.ropes[0].theta == v4.theta && D.ropes[0].scaling == v4.scaling && D.ropes[0].orig_max_pos == v4.orig_max_pos, "v5 equals v4");
    CHECK(!strcmp(D.dtype, "bfloat16"), "v5 dtype: %s", D.dtype);
    CHECK(load("{" BASE ",\"rope_parameters\":{\"rope_type\":\"default\",\"rope_theta\":1e6}}", NULL, &D) == 0 &&
          D.ropes[0].theta == 1e6 && D.ropes[0].scaling == RL_RS_NONE, "v5 default");
    CHECK(load("{" BASE ",\"rope_scaling\":{\"type\":\"linear\",\"factor\":4}}", NULL, &D) == 0 && D.ropes[0].scaling == RL_RS_LINEAR, "old 'type' key");
    CHECK(load("{" BASE ",\"rope_scaling\":{\"rope_type\":\"fancy\",\"factor\":4}}", NULL, &D) == -1, "unknown rope type");
    CHECK(strstr(rl_errmsg(), "fancy") && strstr(rl_errmsg(), "config.json"), "names it: %s", rl_errmsg());
}

static void test_eos(void) {
    CHECK(load("{" BASE ",\"eos_token_id\":2}", "{\"eos_token_id\":[2,7,9]}", &D) == 0, "%s", rl_errmsg());
    CHECK(D.n_eos == 3 && D.eos_ids[0] == 2 && D.eos_ids[1] == 7 && D.eos_ids[2] == 9, "union of eos ids (%d)", D.n_eos);
    CHECK(load("{" BASE ",\"eos_token_id\":[5,6]}", NULL, &D) == 0 && D.n_eos == 2, "list in config");
    CHECK(load("{" BASE ",\"eos_token_id\":\"x\"}", NULL, &D) == -1, "bad eos type");
    CHECK(load("{" BASE "}", "{\"eos_token_id\":[1,", &D) == -1 && strstr(rl_errmsg(), "generation_config.json"), "bad generation_config: %s", rl_errmsg());
}

static void test_errors(void) {
    CHECK(load("{\"architectures\":[\"FooForCausalLM\"],\"model_type\":\"foo\"}", NULL, &D) == -1, "unknown arch");
    CHECK(strstr(rl_errmsg(), "FooForCausalLM") && strstr(rl_errmsg(), "LlamaForCausalLM"), "lists supported: %s", rl_errmsg());
    CHECK(strstr(rl_errmsg(), "DeepseekV32ForCausalLM") != NULL, "lists every family, not the first kilobyte: %s", rl_errmsg());
    CHECK(load("{\"architectures\":[\"LlamaForCausalLM\"],\"hidden_size\":64}", NULL, &D) == -1 && strstr(rl_errmsg(), "missing"), "missing key: %s", rl_errmsg());
    CHECK(load("{" BASE ",\"hidden_act\":\"relu6\"}", NULL, &D) == -1 && strstr(rl_errmsg(), "relu6"), "unknown act");
    CHECK(load("{" BASE ",\"rms_norm_eps\":\"x\"}", NULL, &D) == -1 && strstr(rl_errmsg(), "rms_norm_eps"), "wrong type: %s", rl_errmsg());
    CHECK(load("[1,2]", NULL, &D) == -1, "not an object");
    CHECK(load("{" BASE, NULL, &D) == -1 && strstr(rl_errmsg(), "invalid JSON"), "truncated: %s", rl_errmsg());
}

#define DIMS "\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":2,\"num_attention_heads\":4,\"vocab_size\":100"

/* The defaults and original keys of the families added late: what their configuration classes
 * (or original configs) say when a key is absent, and which of two forms of a key wins. */
static void test_family_keys(void) {
    /* MiniMax-M2: rotary_dim (the original key) when no partial_rotary_factor; that one wins; sigmoid + bias by default */
    CHECK(load("{\"architectures\":[\"MiniMaxM2ForCausalLM\"]," DIMS ",\"head_dim\":16,\"num_local_experts\":4,\"num_experts_per_tok\":2,"
               "\"rotary_dim\":8}", NULL, &D) == 0 && D.ropes[0].rot_dims == 8 && D.moe_sigmoid && D.moe_bias && D.qk_norm_full && D.moe_norm_topk,
          "minimax rotary_dim: %d %s", D.ropes[0].rot_dims, rl_errmsg());
    CHECK(load("{\"architectures\":[\"MiniMaxM2ForCausalLM\"]," DIMS ",\"head_dim\":16,\"num_local_experts\":4,\"num_experts_per_tok\":2,"
               "\"rotary_dim\":8,\"partial_rotary_factor\":0.25,\"use_routing_bias\":false}", NULL, &D) == 0 && D.ropes[0].rot_dims == 4 &&
          !D.moe_bias, "minimax partial_rotary_factor wins: %d", D.ropes[0].rot_dims);
    /* GPT-NeoX: rotary_pct 0.25 and rotary_emb_base by default, rope_theta wins; gelu; parallel */
    CHECK(load("{\"architectures\":[\"GPTNeoXForCausalLM\"]," DIMS "}", NULL, &D) == 0 && D.ropes[0].rot_dims == 4 &&
          D.ropes[0].theta == 10000 && D.act == RL_ACT_GELU_ERF && D.parallel_block == 2 && D.qkv_bias && !D.tied,
          "neox defaults: rot %d theta %g act %d", D.ropes[0].rot_dims, D.ropes[0].theta, (int)D.act);
    CHECK(load("{\"architectures\":[\"GPTNeoXForCausalLM\"]," DIMS ",\"rotary_emb_base\":7,\"rope_theta\":9,\"use_parallel_residual\":false}",
               NULL, &D) == 0 && D.ropes[0].theta == 9 && D.parallel_block == 0, "neox rope_theta wins: %g", D.ropes[0].theta);
    CHECK(load("{\"architectures\":[\"GPTNeoXForCausalLM\"]," DIMS ",\"rotary_emb_base\":7}", NULL, &D) == 0 && D.ropes[0].theta == 7,
          "neox rotary_emb_base: %g", D.ropes[0].theta);
    /* StarCoder2: gelu (tanh) and biases by default; use_bias false drops them */
    CHECK(load("{\"architectures\":[\"Starcoder2ForCausalLM\"]," DIMS "}", NULL, &D) == 0 && D.act == RL_ACT_GELU_TANH && D.qkv_bias &&
          D.mlp_bias && D.tied && D.norm == RL_NORM_LAYER, "starcoder2 defaults");
    CHECK(load("{\"architectures\":[\"Starcoder2ForCausalLM\"]," DIMS ",\"use_bias\":false}", NULL, &D) == 0 && !D.qkv_bias && !D.o_bias &&
          !D.mlp_bias, "starcoder2 use_bias false");
    /* OLMoE: softmax, not renormalised, full-projection q/k norms; Hunyuan: norms after the rope, no alpha: theta as given */
    CHECK(load("{\"architectures\":[\"OlmoeForCausalLM\"]," DIMS ",\"num_experts\":4,\"num_experts_per_tok\":2}", NULL, &D) == 0 &&
          !D.moe_sigmoid && !D.moe_norm_topk && D.qk_norm_full, "olmoe defaults");
    CHECK(load("{\"architectures\":[\"HunYuanDenseV1ForCausalLM\"]," DIMS ",\"rope_theta\":500.0}", NULL, &D) == 0 && D.qk_norm &&
          D.qk_norm_after_rope && D.ropes[0].theta == 500, "hunyuan without alpha: theta %g", D.ropes[0].theta);
    /* EXAONE 3: num_layers; ERNIE: interleaved pairs */
    CHECK(load("{\"architectures\":[\"ExaoneForCausalLM\"],\"hidden_size\":64,\"intermediate_size\":128,\"num_layers\":3,"
               "\"num_attention_heads\":4,\"vocab_size\":100}", NULL, &D) == 0 && D.n_layers == 3 && D.tied, "exaone num_layers: %s", rl_errmsg());
    CHECK(load("{\"architectures\":[\"Ernie4_5ForCausalLM\"]," DIMS "}", NULL, &D) == 0 && D.ropes[0].pairing == RL_ROPE_GPTJ && D.tied,
          "ernie interleaved pairs");
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rl_cfg_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(test_head_dim);
    RUN(test_rope_forms);
    RUN(test_eos);
    RUN(test_errors);
    RUN(test_family_keys);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) return 1;
    TEST_END();
}
