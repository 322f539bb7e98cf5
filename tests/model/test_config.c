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

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/rl_cfg_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(test_head_dim);
    RUN(test_rope_forms);
    RUN(test_eos);
    RUN(test_errors);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd)) return 1;
    TEST_END();
}
