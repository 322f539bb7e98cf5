/* GGUF metadata -> rl_model_desc (see gguf_config.h): builds the config.json object llama.cpp's
 * converter read the metadata from, runs the shared config reader on it, then switches tensor
 * names and conventions to GGUF's. */
#include "model/gguf_config.h"
#include "model/config.h"
#include "format/gguf.h"
#include "util/err.h"
#include "util/fileio.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* general.architecture -> HF architecture name (MoE variants chosen by expert_count). */
static const struct { const char *gguf, *hf, *hf_moe; int rope_interleaved; } ARCHS[] = {
    {"llama", "LlamaForCausalLM", "MixtralForCausalLM", 1},
    {"mistral", "MistralForCausalLM", NULL, 1},
    {"qwen2", "Qwen2ForCausalLM", NULL, 0},
    {"qwen3", "Qwen3ForCausalLM", NULL, 0},
    {"qwen2moe", "Qwen2MoeForCausalLM", NULL, 0},
    {"qwen3moe", "Qwen3MoeForCausalLM", NULL, 0},
    {"gemma", "GemmaForCausalLM", NULL, 0},
    {"gemma2", "Gemma2ForCausalLM", NULL, 0},
    {"gemma3", "Gemma3ForCausalLM", NULL, 0},
    {"glm4", "Glm4ForCausalLM", NULL, 1}, /* HF's interleaved rotary pairs, stored as they are */
    {"gpt-oss", "GptOssForCausalLM", NULL, 0},
    {"olmo2", "Olmo2ForCausalLM", NULL, 0},          /* with a sliding window: OLMo 3 */
    {"granite", "GraniteForCausalLM", NULL, 1},      /* Q/K rows permuted as for llama */
    {"granitemoe", "GraniteMoeForCausalLM", NULL, 1}, /* with a shared expert: GraniteMoeShared */
    {"granitehybrid", "GraniteMoeHybridForCausalLM", NULL, 1}, /* Granite 4.0-H: Mamba-2 layers where head_count_kv is 0 */
    {"nemotron_h", "NemotronHForCausalLM", NULL, 1},     /* Mamba-2 / attention (NoPE) / MLP layers by the per-layer keys */
    {"nemotron_h_moe", "NemotronHForCausalLM", NULL, 1}, /* + expert layers (Nemotron 3) */
    {"mamba2", "Mamba2ForCausalLM", NULL, 0},           /* Mamba-2 layers only; the norm per group as llama.cpp's */
    {"command-r", "CohereForCausalLM", NULL, 1},
    {"cohere2", "Cohere2ForCausalLM", NULL, 1},
    {"gptneox", "GPTNeoXForCausalLM", NULL, 0},        /* attn_qkv as [q; k; v], GELU (tanh), use_parallel_residual */
    {"exaone", "ExaoneForCausalLM", NULL, 0},          /* EXAONE 3.x: llama names in GGUF, NeoX pairs, llama3 rope_freqs */
    {"exaone4", "Exaone4ForCausalLM", NULL, 0},
    {"glm4moe", "Glm4MoeForCausalLM", NULL, 0},
    {"qwen35", "Qwen3_5ForCausalLM", NULL, 0},       /* Gated DeltaNet hybrids (Qwen3.5) */
    {"qwen35moe", "Qwen3_5MoeForCausalLM", NULL, 0},
    {"qwen3next", "Qwen3NextForCausalLM", NULL, 0},
    {"phi2", "PhiForCausalLM", NULL, 0},
    {"internlm2", "InternLM2ForCausalLM", NULL, 1},  /* wqkv split into q / k / v, Q/K rows permuted */
    {"qwen", "QWenLMHeadModel", NULL, 0},
    {"chatglm", "ChatGLMModel", NULL, 1},             /* THUDM's ChatGLM 2 / 3, GLM-4-9B original form */
    {"baichuan", "BaichuanForCausalLM", NULL, 1},     /* W_pack split into q / k / v, Q/K rows permuted */
    {"smollm3", "SmolLM3ForCausalLM", NULL, 1},      /* every 4th layer NoPE (llama.cpp's fixed step) */
    {"phi3", "Phi3ForCausalLM", NULL, 0},
    {"deepseek2", "DeepseekV2ForCausalLM", NULL, 1},
    {"llama4", "Llama4ForCausalLM", NULL, 1},          /* chunked / NoPE layers and temperatures as llama.cpp fixes them */
    {"mamba", "MambaForCausalLM", NULL, 0},            /* Mamba-1 layers only; with ssm.dt_b_c_rms: FalconMamba */
    {"jamba", "JambaForCausalLM", NULL, 0},            /* Mamba-1 layers where the per-layer head_count_kv is 0 */
    {"falcon-h1", "FalconH1ForCausalLM", NULL, 0},     /* attention + Mamba-2 in every layer, the muP multipliers in the weights */
    {"qwen2vl", "Qwen2ForCausalLM", NULL, 0},           /* Qwen2-VL / 2.5-VL's text model: M-RoPE, plain for text */
    {"qwen3vl", "Qwen3ForCausalLM", NULL, 0},           /* Qwen3-VL's: interleaved M-RoPE (imrope_text) */
    {"qwen3vlmoe", "Qwen3MoeForCausalLM", NULL, 0},
    {"exaone-moe", "ExaoneMoeForCausalLM", NULL, 0},   /* K-EXAONE: every 4th layer global NoPE, MTP layers in block_count */
    {"seed_oss", "SeedOssForCausalLM", NULL, 0},       /* q/k/v biases where the file has them, no o bias */
    {"arcee", "ArceeForCausalLM", NULL, 1},            /* Llama (Q/K permuted) with an ungated squared-ReLU MLP */
    {"ernie4_5", "Ernie4_5ForCausalLM", NULL, 1},      /* ERNIE 4.5: interleaved pairs as HF has them (no permutation) */
    {"ernie4_5-moe", "Ernie4_5_MoeForCausalLM", NULL, 1}, /* + softmax experts with exp_probs_b, shared experts */
    {"olmo", "OlmoForCausalLM", NULL, 1},              /* OLMo 1: Q/K permuted as llama's, no norm weights, clamp_kqv */
    {"olmoe", "OlmoeForCausalLM", NULL, 0},            /* softmax experts, not renormalised; q / k norms over the projections */
    {"starcoder2", "Starcoder2ForCausalLM", NULL, 0},  /* LayerNorms, biases, GELU (tanh) MLP; no sliding window in llama.cpp's */
    {"dots1", "Dots1ForCausalLM", NULL, 0},            /* DeepSeek-style routing keys, per-head q / k norms, no window */
    {"minimax-m2", "MiniMaxM2ForCausalLM", NULL, 0},   /* sigmoid experts with exp_probs_b, full q / k norms, NeoX over n_rot */
    {"lfm2", "Lfm2ForCausalLM", NULL, 0},              /* short-conv layers where the per-layer head_count_kv is 0 */
    {"lfm2moe", "Lfm2MoeForCausalLM", NULL, 0},        /* + sigmoid-routed experts after the leading dense layers */
};

/* Weight role -> GGUF tensor name (format with %d = layer). */
static const char *const ROLE_NAMES[W_COUNT] = {
    [W_ATTN_NORM] = "blk.%d.attn_norm.weight", [W_ATTN_NORM_B] = "blk.%d.attn_norm.bias",
    [W_Q] = "blk.%d.attn_q.weight", [W_Q_B] = "blk.%d.attn_q.bias",
    [W_K] = "blk.%d.attn_k.weight", [W_K_B] = "blk.%d.attn_k.bias",
    [W_V] = "blk.%d.attn_v.weight", [W_V_B] = "blk.%d.attn_v.bias",
    [W_O] = "blk.%d.attn_output.weight", [W_O_B] = "blk.%d.attn_output.bias",
    [W_QKV] = "blk.%d.attn_qkv.weight", [W_QKV_B] = "blk.%d.attn_qkv.bias",
    [W_Q_NORM] = "blk.%d.attn_q_norm.weight", [W_K_NORM] = "blk.%d.attn_k_norm.weight",
    [W_POST_ATTN_NORM] = "blk.%d.post_attention_norm.weight",
    [W_MLP_NORM] = "blk.%d.ffn_norm.weight", [W_MLP_NORM_B] = "blk.%d.ffn_norm.bias",
    [W_GATE] = "blk.%d.ffn_gate.weight", [W_UP] = "blk.%d.ffn_up.weight", [W_DOWN] = "blk.%d.ffn_down.weight",
    [W_UP_B] = "blk.%d.ffn_up.bias", [W_DOWN_B] = "blk.%d.ffn_down.bias",
    [W_GATE_UP] = "blk.%d.ffn_up.weight", /* Phi-3: gate rows then up rows in ffn_up */
    [W_POST_MLP_NORM] = "blk.%d.post_ffw_norm.weight",
    [W_MOE_ROUTER] = "blk.%d.ffn_gate_inp.weight", [W_MOE_ROUTER_BIAS] = "blk.%d.exp_probs_b.bias",
    [W_MOE_ROUTER_B] = "blk.%d.ffn_gate_inp.bias", [W_SINKS] = "blk.%d.attn_sinks.weight",
    [W_LIN_QKV] = "blk.%d.attn_qkv.weight", [W_LIN_Z] = "blk.%d.attn_gate.weight", [W_LIN_B] = "blk.%d.ssm_beta.weight",
    [W_LIN_A] = "blk.%d.ssm_alpha.weight", [W_LIN_CONV] = "blk.%d.ssm_conv1d.weight", [W_LIN_A_LOG] = "blk.%d.ssm_a",
    [W_LIN_DT_BIAS] = "blk.%d.ssm_dt.bias", [W_LIN_NORM] = "blk.%d.ssm_norm.weight", [W_LIN_OUT] = "blk.%d.ssm_out.weight",
    [W_LIN_CONV_B] = "blk.%d.ssm_conv1d.bias", [W_LIN_D] = "blk.%d.ssm_d",
    [W_MOE_LAT_IN] = "blk.%d.ffn_latent_down.weight", [W_MOE_LAT_OUT] = "blk.%d.ffn_latent_up.weight",
    [W_LIN_DT_NORM] = "blk.%d.ssm_dt_norm.weight", [W_LIN_B_NORM] = "blk.%d.ssm_b_norm.weight", [W_LIN_C_NORM] = "blk.%d.ssm_c_norm.weight",
    [W_SHX_GATE] = "blk.%d.ffn_gate_shexp.weight", [W_SHX_UP] = "blk.%d.ffn_up_shexp.weight",
    [W_SHX_DOWN] = "blk.%d.ffn_down_shexp.weight", [W_SHX_GATE_W] = "blk.%d.ffn_gate_inp_shexp.weight",
    [W_MLA_Q_A] = "blk.%d.attn_q_a.weight", [W_MLA_Q_A_NORM] = "blk.%d.attn_q_a_norm.weight",
    [W_MLA_Q_B] = "blk.%d.attn_q_b.weight", [W_MLA_KV_A] = "blk.%d.attn_kv_a_mqa.weight",
    [W_MLA_KV_A_NORM] = "blk.%d.attn_kv_a_norm.weight", [W_MLA_KV_B] = "blk.%d.attn_kv_b.weight",
    [W_MLA_K_B] = "blk.%d.attn_k_b.weight", [W_MLA_V_B] = "blk.%d.attn_v_b.weight",
};
static const char *const GLOBAL_NAMES[G_COUNT] = {
    [G_EMBED] = "token_embd.weight", [G_FINAL_NORM] = "output_norm.weight", [G_FINAL_NORM_B] = "output_norm.bias",
    [G_LM_HEAD] = "output.weight", [G_LM_HEAD_B] = "output.bias",
};
static const char *const EXPERT_NAMES[3] = {
    "blk.%d.ffn_gate_exps.%d.weight", "blk.%d.ffn_up_exps.%d.weight", "blk.%d.ffn_down_exps.%d.weight"};
/* Expert biases [E][rows] (gpt-oss). */
static const char *const EXPERT_BIAS_NAMES[3] = {"blk.%d.ffn_gate_exps.bias", "blk.%d.ffn_up_exps.bias", "blk.%d.ffn_down_exps.bias"};

static const rl_gguf_tensor *find_tensor(const rl_gguf *g, const char *name) {
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

/* Copies integer key "<arch>.<suffix>" into JSON key `jk` if present. */
static int put_int(cJSON *o, const rl_gguf *g, const char *arch, const char *suffix, const char *jk) {
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (kv && kv->type == RL_GGUF_ARRAY)
        return rl_err("%s: metadata '%s' varies per layer, which is not supported", g->path, key);
    int r = rl_gguf_int(g, key, &v);
    if (r < 0) return -1;
    if (r && !cJSON_AddNumberToObject(o, jk, (double)v)) return rl_err("out of memory");
    return 0;
}

static int put_num(cJSON *o, const rl_gguf *g, const char *arch, const char *suffix, const char *jk) {
    char key[160];
    double v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int r = rl_gguf_num(g, key, &v);
    if (r < 0) return -1;
    if (r && !cJSON_AddNumberToObject(o, jk, v)) return rl_err("out of memory");
    return 0;
}

static int64_t get_int(const rl_gguf *g, const char *arch, const char *suffix, int64_t def) {
    char key[160];
    int64_t v;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return rl_gguf_int(g, key, &v) == 1 ? v : def;
}

/* DeepSeek-style routing (deepseek2, glm4moe): experts, shared experts, leading dense layers,
 * scale, renormalisation, gating (llama.cpp: 1 softmax, 2 sigmoid; def when absent), groups, and
 * noaux_tc where the file has exp_probs_b. */
static int moe_routing_config(cJSON *c, const rl_gguf *g, const char *arch, int64_t def_gating) {
    if (put_int(c, g, arch, "expert_count", "n_routed_experts") || put_int(c, g, arch, "expert_shared_count", "n_shared_experts") ||
        put_int(c, g, arch, "leading_dense_block_count", "first_k_dense_replace") ||
        put_num(c, g, arch, "expert_weights_scale", "routed_scaling_factor") ||
        put_int(c, g, arch, "expert_group_count", "n_group") || put_int(c, g, arch, "expert_group_used_count", "topk_group"))
        return -1;
    char key[160];
    snprintf(key, sizeof key, "%s.expert_weights_norm", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (kv && kv->type == RL_GGUF_BOOL) cJSON_AddBoolToObject(c, "norm_topk_prob", kv->v.u != 0);
    int64_t gating = get_int(g, arch, "expert_gating_func", def_gating); /* llama.cpp: 1 softmax, 2 sigmoid */
    if (gating != 1 && gating != 2) return rl_err("%s: %s.expert_gating_func %lld is not supported (1 softmax, 2 sigmoid)", g->path,
                                                  arch, (long long)gating);
    cJSON_AddStringToObject(c, "scoring_func", gating == 2 ? "sigmoid" : "softmax");
    int noaux = 0;
    static const char bias[] = ".exp_probs_b.bias";
    for (int64_t i = 0; i < g->n_tensors && !noaux; i++) {
        size_t n = strlen(g->tensors[i].name), m = sizeof bias - 1;
        noaux = n >= m && !strcmp(g->tensors[i].name + n - m, bias);
    }
    cJSON_AddStringToObject(c, "topk_method", noaux ? "noaux_tc" : get_int(g, arch, "expert_group_count", 1) > 1 ? "group_limited_greedy" : "greedy");
    return 0;
}

/* DeepSeek-V2/V3 (deepseek2): MLA dims, MoE routing and YaRN mscale keys of config.json. The
 * absorbed-MLA form (attn_k_b / attn_v_b) stores key_length = kv_lora + rope and the per-head
 * dims in key_length_mla / value_length_mla; the older form (attn_kv_b) the per-head dims. */
static int deepseek2_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t rope = get_int(g, arch, "rope.dimension_count", 0);
    int64_t kl = get_int(g, arch, "attention.key_length_mla", get_int(g, arch, "attention.key_length", 0));
    int64_t vl = get_int(g, arch, "attention.value_length_mla", get_int(g, arch, "attention.value_length", 0));
    if (rope <= 0 || kl <= rope || vl <= 0)
        return rl_err("%s: deepseek2: rope.dimension_count %lld, key length %lld, value length %lld are inconsistent", g->path,
                      (long long)rope, (long long)kl, (long long)vl);
    cJSON_AddNumberToObject(c, "qk_rope_head_dim", (double)rope);
    cJSON_AddNumberToObject(c, "qk_nope_head_dim", (double)(kl - rope));
    cJSON_AddNumberToObject(c, "v_head_dim", (double)vl);
    if (put_int(c, g, arch, "attention.kv_lora_rank", "kv_lora_rank") || put_int(c, g, arch, "attention.q_lora_rank", "q_lora_rank") ||
        moe_routing_config(c, g, arch, 1)) return -1;
    double lm; /* yarn_log_multiplier = 0.1 * mscale_all_dim */
    char key[160];
    cJSON *rs = cJSON_GetObjectItem(c, "rope_scaling");
    snprintf(key, sizeof key, "%s.rope.scaling.yarn_log_multiplier", arch);
    if (rs && rl_gguf_num(g, key, &lm) == 1) {
        cJSON_AddNumberToObject(rs, "mscale", lm / 0.1);
        cJSON_AddNumberToObject(rs, "mscale_all_dim", lm / 0.1);
    }
    return 0;
}

/* layer_types as llama.cpp's set_swa_pattern lays them out: layer l slides when l % pattern <
 * pattern - 1 (0: every layer; no sliding_window: none), the pattern from
 * <arch>.attention.sliding_window_pattern where a file has it as a number, else the
 * architecture's own. */
static int swa_layer_types(cJSON *c, const rl_gguf *g, const char *arch, int64_t pat) {
    char key[160];
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    int64_t w = get_int(g, arch, "attention.sliding_window", 0), layers = get_int(g, arch, "block_count", 0);
    const uint8_t *flags = NULL; /* the converter's per-layer list (OLMo 3, EXAONE 4): the model's own layer_types */
    if (kv && kv->type == RL_GGUF_ARRAY) {
        if (kv->arr_type != RL_GGUF_BOOL || (int64_t)kv->arr_n != layers)
            return rl_err("%s: metadata '%s' must be a number or a list of %lld booleans", g->path, key, (long long)layers);
        flags = kv->arr;
    } else if (kv && rl_gguf_int(g, key, &pat) < 0) return -1;
    if (pat < 0) return rl_err("%s: metadata '%s' = %lld is negative", g->path, key, (long long)pat);
    cJSON *lt = cJSON_AddArrayToObject(c, "layer_types");
    if (!lt) return rl_err("out of memory");
    for (int64_t l = 0; l < layers && l < 100000; l++) {
        int sliding = w > 0 && (flags ? flags[l] != 0 : pat == 0 || l % pat < pat - 1);
        cJSON *v = cJSON_CreateString(sliding ? "sliding_attention" : "full_attention");
        if (!v) return rl_err("out of memory");
        cJSON_AddItemToArray(lt, v);
    }
    return 0;
}

/* Gemma 3: every 6th layer global, local layers on rope.freq_base_swa (default 10000), unscaled. */
static int gemma3_config(cJSON *c, const rl_gguf *g, const char *arch) {
    char key[160];
    double base = 10000.0;
    snprintf(key, sizeof key, "%s.rope.freq_base_swa", arch);
    if (rl_gguf_num(g, key, &base) < 0 || swa_layer_types(c, g, arch, 6)) return -1;
    if (!cJSON_AddNumberToObject(c, "rope_local_base_freq", base)) return rl_err("out of memory");
    return 0;
}

/* gpt-oss: even layers sliding (pattern 2), the experts' size in expert_feed_forward_length. */
static int gpt_oss_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t ff = get_int(g, arch, "expert_feed_forward_length", 0);
    cJSON_DeleteItemFromObject(c, "intermediate_size");
    if (ff > 0 && !cJSON_AddNumberToObject(c, "intermediate_size", (double)ff)) return rl_err("out of memory");
    cJSON_AddBoolToObject(c, "attention_bias", find_tensor(g, "blk.0.attn_q.bias") != NULL);
    return swa_layer_types(c, g, arch, 2);
}

/* Element i of an integer array (any integer element type); 0 / -1 + rl_err. */
static int arr_int(const rl_gguf *g, const rl_gguf_kv *kv, const char *key, uint64_t i, int64_t *v) {
    const uint8_t *p = kv->arr;
    switch (kv->arr_type) {
    case RL_GGUF_U8: *v = p[i]; return 0;
    case RL_GGUF_I8: *v = (int8_t)p[i]; return 0;
    case RL_GGUF_U16: { uint16_t x; memcpy(&x, p + 2 * i, 2); *v = x; return 0; }
    case RL_GGUF_I16: { int16_t x; memcpy(&x, p + 2 * i, 2); *v = x; return 0; }
    case RL_GGUF_U32: { uint32_t x; memcpy(&x, p + 4 * i, 4); *v = x; return 0; }
    case RL_GGUF_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); *v = x; return 0; }
    case RL_GGUF_I64: case RL_GGUF_U64: { int64_t x; memcpy(&x, p + 8 * i, 8); *v = x; return 0; }
    default: return rl_err("%s: metadata '%s' must be a list of integers", g->path, key);
    }
}

/* Granite 4.0-H (granitehybrid): a layer is Mamba-2 where attention.head_count_kv (one entry per
 * layer) is 0; the Mamba dims from the ssm.* keys (time_step_rank = heads, inner_size = heads x
 * head_dim = 2 x hidden), A stored as ssm_a = -exp(A_log); one B / C group only (llama.cpp
 * normalises per group, which HF's models with one group do not tell apart); rotary embeddings
 * unless rope.scaling.finetuned is false; a dense model's MLP is the shared one. */
static int granitehybrid_config(cJSON *c, const rl_gguf *g, const char *arch) {
    char key[160];
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    int64_t layers = get_int(g, arch, "block_count", 0), hidden = get_int(g, arch, "embedding_length", 0), nkv = 0, n_mamba = 0;
    if (!kv || kv->type != RL_GGUF_ARRAY || (int64_t)kv->arr_n != layers)
        return rl_err("%s: granitehybrid needs '%s' as a list of %lld per-layer values (0: a Mamba-2 layer)", g->path, key, (long long)layers);
    cJSON *lt = cJSON_AddArrayToObject(c, "layer_types");
    if (!lt) return rl_err("out of memory");
    for (int64_t l = 0; l < layers; l++) {
        int64_t v;
        if (arr_int(g, kv, key, (uint64_t)l, &v)) return -1;
        if (v < 0 || (v && nkv && v != nkv)) return rl_err("%s: '%s'[%lld] = %lld: attention layers must share one kv head count", g->path, key, (long long)l, (long long)v);
        if (v) nkv = v; else n_mamba++;
        cJSON_AddItemToArray(lt, cJSON_CreateString(v ? "attention" : "mamba"));
    }
    if (nkv) cJSON_AddNumberToObject(c, "num_key_value_heads", (double)nkv);
    int64_t heads = get_int(g, arch, "ssm.time_step_rank", 0), inner = get_int(g, arch, "ssm.inner_size", 0);
    int64_t groups = get_int(g, arch, "ssm.group_count", 1);
    if (n_mamba) {
        if (heads <= 0 || inner % heads || hidden <= 0 || inner % hidden)
            return rl_err("%s: %s.ssm.inner_size %lld must be a multiple of ssm.time_step_rank %lld and of embedding_length %lld", g->path, arch,
                          (long long)inner, (long long)heads, (long long)hidden);
        if (groups != 1) return rl_err("%s: %s.ssm.group_count %lld: llama.cpp normalises the Mamba-2 output per group; only 1 group is supported",
                                       g->path, arch, (long long)groups);
        cJSON_AddNumberToObject(c, "mamba_n_heads", (double)heads);
        cJSON_AddNumberToObject(c, "mamba_d_head", (double)(inner / heads));
        cJSON_AddNumberToObject(c, "mamba_expand", (double)(inner / hidden));
        if (put_int(c, g, arch, "ssm.group_count", "mamba_n_groups") || put_int(c, g, arch, "ssm.state_size", "mamba_d_state") ||
            put_int(c, g, arch, "ssm.conv_kernel", "mamba_d_conv")) return -1;
        int64_t l0 = 0;
        while (l0 < layers) { int64_t v; arr_int(g, kv, key, (uint64_t)l0, &v); if (!v) break; l0++; }
        snprintf(key, sizeof key, "blk.%lld.ssm_conv1d.bias", (long long)l0);
        cJSON_AddBoolToObject(c, "mamba_conv_bias", find_tensor(g, key) != NULL);
    }
    snprintf(key, sizeof key, "%s.rope.scaling.finetuned", arch); /* llama.cpp's switch for rotary embeddings (default on) */
    const rl_gguf_kv *rf = rl_gguf_get(g, key);
    if (!rf || rf->type != RL_GGUF_BOOL || rf->v.u) cJSON_AddStringToObject(c, "position_embedding_type", "rope");
    if (get_int(g, arch, "expert_count", 0) == 0) { /* dense: the shared MLP is the whole MLP, feed_forward_length wide */
        cJSON_DeleteItemFromObject(c, "num_local_experts");
        cJSON_AddNumberToObject(c, "num_local_experts", 0);
        cJSON_DeleteItemFromObject(c, "shared_intermediate_size");
        if (put_int(c, g, arch, "feed_forward_length", "shared_intermediate_size")) return -1;
    }
    return 0;
}

/* Nemotron-H (nemotron_h, nemotron_h_moe): each layer's one sublayer from the per-layer lists
 * head_count_kv and feed_forward_length, as llama.cpp's loader reads them — both 0: Mamba-2;
 * feed_forward_length 0: attention; else the MLP (or, with experts, the expert layer, whose
 * width is the list's entry) — and the ssm.* dims (time_step_rank = heads). */
static int nemotron_h_config(cJSON *c, const rl_gguf *g, const char *arch) {
    char kk[160], fk[160];
    snprintf(kk, sizeof kk, "%s.attention.head_count_kv", arch);
    snprintf(fk, sizeof fk, "%s.feed_forward_length", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, kk), *ff = rl_gguf_get(g, fk);
    int64_t layers = get_int(g, arch, "block_count", 0), nkv = 0, nff = 0, n_mamba = 0, experts = get_int(g, arch, "expert_count", 0);
    if (!kv || kv->type != RL_GGUF_ARRAY || (int64_t)kv->arr_n != layers || !ff || ff->type != RL_GGUF_ARRAY || (int64_t)ff->arr_n != layers)
        return rl_err("%s: %s needs '%s' and '%s' as lists of %lld per-layer values", g->path, arch, kk, fk, (long long)layers);
    cJSON *lt = cJSON_AddArrayToObject(c, "layers_block_type");
    if (!lt) return rl_err("out of memory");
    for (int64_t l = 0; l < layers; l++) {
        int64_t a, f;
        if (arr_int(g, kv, kk, (uint64_t)l, &a) || arr_int(g, ff, fk, (uint64_t)l, &f)) return -1;
        if (a < 0 || f < 0 || (a && nkv && a != nkv) || (f && nff && f != nff) || (a && f))
            return rl_err("%s: layer %lld: kv heads %lld and feed-forward length %lld do not name one Nemotron-H sublayer", g->path, (long long)l,
                          (long long)a, (long long)f);
        if (a) nkv = a;
        if (f) nff = f;
        n_mamba += !a && !f;
        cJSON_AddItemToArray(lt, cJSON_CreateString(!a && !f ? "mamba" : !f ? "attention" : experts > 0 ? "moe" : "mlp"));
    }
    if (nkv) cJSON_AddNumberToObject(c, "num_key_value_heads", (double)nkv);
    cJSON_DeleteItemFromObject(c, "num_hidden_layers");
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)layers);
    cJSON_DeleteItemFromObject(c, "intermediate_size");
    cJSON_AddNumberToObject(c, "intermediate_size", (double)(nff ? nff : 1));
    double eps = 1e-5;
    snprintf(kk, sizeof kk, "%s.attention.layer_norm_rms_epsilon", arch);
    if (rl_gguf_num(g, kk, &eps) < 0) return -1;
    cJSON_AddNumberToObject(c, "layer_norm_epsilon", eps);
    if (n_mamba) {
        int64_t heads = get_int(g, arch, "ssm.time_step_rank", 0), inner = get_int(g, arch, "ssm.inner_size", 0);
        if (heads <= 0 || inner % heads)
            return rl_err("%s: %s.ssm.inner_size %lld is not a multiple of ssm.time_step_rank %lld", g->path, arch, (long long)inner, (long long)heads);
        cJSON_AddNumberToObject(c, "mamba_num_heads", (double)heads);
        cJSON_AddNumberToObject(c, "mamba_head_dim", (double)(inner / heads));
        if (put_int(c, g, arch, "ssm.group_count", "n_groups") || put_int(c, g, arch, "ssm.state_size", "ssm_state_size") ||
            put_int(c, g, arch, "ssm.conv_kernel", "conv_kernel")) return -1;
        int64_t l0 = 0, a = 1, f = 1;
        for (; l0 < layers; l0++) { arr_int(g, kv, kk, (uint64_t)l0, &a); arr_int(g, ff, fk, (uint64_t)l0, &f); if (!a && !f) break; }
        snprintf(kk, sizeof kk, "blk.%lld.ssm_conv1d.bias", (long long)l0);
        cJSON_AddBoolToObject(c, "use_conv_bias", find_tensor(g, kk) != NULL);
    }
    if (experts > 0) { /* sigmoid scores, exp_probs_b choosing (noaux_tc), llama.cpp's expert_weights_norm / _scale */
        cJSON_DeleteItemFromObject(c, "shared_expert_intermediate_size");
        if (put_int(c, g, arch, "expert_shared_feed_forward_length", "moe_shared_expert_intermediate_size") ||
            put_int(c, g, arch, "expert_feed_forward_length", "moe_intermediate_size") || moe_routing_config(c, g, arch, 2) ||
            put_int(c, g, arch, "moe_latent_size", "moe_latent_size")) return -1; /* (Nemotron 3 Super: ffn_latent_down / _up) */
        if (!cJSON_GetObjectItem(c, "moe_intermediate_size")) cJSON_AddNumberToObject(c, "moe_intermediate_size", (double)(nff ? nff : 1));
    }
    return 0;
}

/* Mamba-2 language models (mamba2): the mixer's dims from the ssm.* keys. */
static int mamba2_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t heads = get_int(g, arch, "ssm.time_step_rank", 0), inner = get_int(g, arch, "ssm.inner_size", 0);
    int64_t hidden = get_int(g, arch, "embedding_length", 0);
    if (heads <= 0 || inner % heads || hidden <= 0)
        return rl_err("%s: %s.ssm.inner_size %lld is not a multiple of ssm.time_step_rank %lld", g->path, arch, (long long)inner, (long long)heads);
    cJSON_AddNumberToObject(c, "num_heads", (double)heads);
    cJSON_AddNumberToObject(c, "head_dim", (double)(inner / heads));
    cJSON_AddNumberToObject(c, "expand", (double)inner / (double)hidden);
    cJSON_AddBoolToObject(c, "use_conv_bias", find_tensor(g, "blk.0.ssm_conv1d.bias") != NULL);
    char key[160];
    double eps = 1e-5;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (rl_gguf_num(g, key, &eps) < 0 || put_int(c, g, arch, "ssm.group_count", "n_groups") || put_int(c, g, arch, "ssm.state_size", "state_size") ||
        put_int(c, g, arch, "ssm.conv_kernel", "conv_kernel")) return -1;
    cJSON_AddNumberToObject(c, "layer_norm_epsilon", eps);
    return 0;
}

/* Llama 4 as llama.cpp's llama4 rebuilds it: experts of expert_feed_forward_length, dense layers of
 * feed_forward_length, MoE where (l + 1) % interleave_moe_layer_step == 0; unless
 * attention.sliding_window is 0 (then no chunks, no temperature, and llama.cpp's NoPE step of
 * block_count: the last layer NoPE), chunks of 8192 on the layers l % pattern < pattern - 1
 * (attention.sliding_window_pattern, default 4), every 4th layer NoPE with the temperature 0.1 /
 * 8192; the q / k norm on rotary layers unless the model has 128 experts (Maverick). */
static int llama4_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t layers = get_int(g, arch, "block_count", 0), E = get_int(g, arch, "expert_count", 0);
    int64_t step = get_int(g, arch, "interleave_moe_layer_step", 0), ff = get_int(g, arch, "feed_forward_length", 0);
    int64_t ffe = get_int(g, arch, "expert_feed_forward_length", 0), pat = 4;
    if (E <= 0 || step <= 0 || ffe <= 0)
        return rl_err("%s: llama4 needs %s.expert_count, .interleave_moe_layer_step and .expert_feed_forward_length", g->path, arch);
    char key[160];
    snprintf(key, sizeof key, "%s.attention.sliding_window", arch);
    int chunks = !rl_gguf_get(g, key) || get_int(g, arch, "attention.sliding_window", 0) != 0;
    snprintf(key, sizeof key, "%s.attention.sliding_window_pattern", arch);
    if (rl_gguf_get(g, key) && rl_gguf_int(g, key, &pat) != 1) return rl_err("%s: metadata '%s' must be a number", g->path, key);
    if (pat <= 0) return rl_err("%s: metadata '%s' = %lld must be positive", g->path, key, (long long)pat);
    cJSON_DeleteItemFromObject(c, "intermediate_size");
    cJSON_DeleteItemFromObject(c, "sliding_window");
    cJSON_AddNumberToObject(c, "intermediate_size", (double)ffe);
    cJSON_AddNumberToObject(c, "intermediate_size_mlp", (double)(ff > 0 ? ff : ffe));
    cJSON_AddNumberToObject(c, "interleave_moe_layer_step", (double)step);
    cJSON_AddNumberToObject(c, "no_rope_layer_interval", (double)(chunks ? 4 : layers));
    cJSON_AddBoolToObject(c, "use_qk_norm", E != 128);
    cJSON_AddBoolToObject(c, "attn_temperature_tuning", chunks);
    cJSON_AddNumberToObject(c, "floor_scale", 8192);
    cJSON_AddNumberToObject(c, "attn_scale", 0.1);
    if (!chunks) { cJSON_AddNullToObject(c, "attention_chunk_size"); return 0; }
    cJSON_AddNumberToObject(c, "attention_chunk_size", 8192);
    cJSON *lt = cJSON_AddArrayToObject(c, "layer_types");
    for (int64_t l = 0; lt && l < layers && l < 100000; l++)
        cJSON_AddItemToArray(lt, cJSON_CreateString(l % pat < pat - 1 ? "chunked_attention" : "full_attention"));
    return lt ? 0 : rl_err("out of memory");
}

/* Mamba-1 (mamba, jamba) as llama.cpp's converter writes it: ssm.inner_size (= expand x hidden),
 * ssm.state_size, ssm.conv_kernel, ssm.time_step_rank (dt rank), the conv bias where the tensor is;
 * mamba: every layer a mixer, ssm.dt_b_c_rms (FalconMamba) normalising dt / B / C with the model's
 * RMS eps as llama.cpp does; jamba: a layer is Mamba where the per-layer attention.head_count_kv is
 * 0, MoE where it has ffn_gate_inp. */
static int mamba1_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int jamba = !strcmp(arch, "jamba");
    int64_t layers = get_int(g, arch, "block_count", 0), hidden = get_int(g, arch, "embedding_length", 0);
    int64_t inner = get_int(g, arch, "ssm.inner_size", 0);
    if (hidden <= 0 || inner <= 0 || inner % hidden) return rl_err("%s: %s.ssm.inner_size %lld is not a multiple of embedding_length %lld", g->path,
                                                                    arch, (long long)inner, (long long)hidden);
    char key[160];
    double eps = 1e-5;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (rl_gguf_num(g, key, &eps) < 0) return -1;
    int64_t l0 = 0; /* a Mamba layer: its conv bias */
    const rl_gguf_kv *kv = NULL;
    if (jamba) {
        snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
        kv = rl_gguf_get(g, key);
        if (!kv || kv->type != RL_GGUF_ARRAY || (int64_t)kv->arr_n != layers)
            return rl_err("%s: jamba needs '%s' as a list of %lld per-layer values (0: a Mamba layer)", g->path, key, (long long)layers);
        cJSON *lt = cJSON_AddArrayToObject(c, "layers_block_type"), *ne = cJSON_AddArrayToObject(c, "layers_num_experts");
        int64_t nkv = 0, E = get_int(g, arch, "expert_count", 0), l_mamba = -1;
        for (int64_t l = 0; lt && ne && l < layers; l++) {
            int64_t a;
            char tn[96];
            if (arr_int(g, kv, key, (uint64_t)l, &a)) return -1;
            if (a < 0 || (a && nkv && a != nkv)) return rl_err("%s: layer %lld: %lld kv heads (the others have %lld)", g->path, (long long)l, (long long)a, (long long)nkv);
            if (a) nkv = a;
            else if (l_mamba < 0) l_mamba = l;
            snprintf(tn, sizeof tn, "blk.%lld.ffn_gate_inp.weight", (long long)l);
            cJSON_AddItemToArray(lt, cJSON_CreateString(a ? "attention" : "mamba"));
            cJSON_AddItemToArray(ne, cJSON_CreateNumber(E > 1 && find_tensor(g, tn) ? (double)E : 1));
        }
        if (nkv) cJSON_AddNumberToObject(c, "num_key_value_heads", (double)nkv);
        cJSON_AddNumberToObject(c, "num_experts", (double)(E > 1 ? E : 1));
        cJSON_AddNumberToObject(c, "mamba_expand", (double)(inner / hidden));
        if (put_int(c, g, arch, "ssm.state_size", "mamba_d_state") || put_int(c, g, arch, "ssm.conv_kernel", "mamba_d_conv") ||
            put_int(c, g, arch, "ssm.time_step_rank", "mamba_dt_rank")) return -1;
        l0 = l_mamba < 0 ? 0 : l_mamba;
    } else {
        cJSON_DeleteItemFromObject(c, "num_attention_heads"); /* the converter's 0: no attention */
        cJSON_DeleteItemFromObject(c, "num_key_value_heads");
        cJSON_DeleteItemFromObject(c, "intermediate_size");
        cJSON_AddNumberToObject(c, "expand", (double)(inner / hidden));
        cJSON_AddNumberToObject(c, "layer_norm_epsilon", eps);
        cJSON_AddNumberToObject(c, "mixer_rms_eps", eps); /* llama.cpp normalises dt / B / C with it (transformers: mixer_rms_eps) */
        cJSON_AddBoolToObject(c, "use_bias", 0);
        if (put_int(c, g, arch, "ssm.state_size", "state_size") || put_int(c, g, arch, "ssm.conv_kernel", "conv_kernel") ||
            put_int(c, g, arch, "ssm.time_step_rank", "time_step_rank")) return -1;
    }
    snprintf(key, sizeof key, "blk.%lld.ssm_conv1d.bias", (long long)l0);
    cJSON_AddBoolToObject(c, jamba ? "mamba_conv_bias" : "use_conv_bias", find_tensor(g, key) != NULL);
    return 0;
}

/* ERNIE 4.5 MoE as llama.cpp reads it: experts on the layers l >= leading_dense_block_count with
 * (l + 1) % interleave_moe_layer_step == 0, softmax gating with exp_probs_b, renormalised; shared
 * experts only where expert_shared_feed_forward_length is above 0 (as llama.cpp's graph), their count
 * from the width of ffn_up_shexp in moe experts' widths. */
static int ernie_moe_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t E = get_int(g, arch, "expert_count", 0), k = get_int(g, arch, "expert_used_count", 0), mi = get_int(g, arch, "expert_feed_forward_length", 0);
    int64_t lead = get_int(g, arch, "leading_dense_block_count", 0), step = get_int(g, arch, "interleave_moe_layer_step", 0);
    int64_t shw = get_int(g, arch, "expert_shared_feed_forward_length", 0), layers = get_int(g, arch, "block_count", 0), sh = 0;
    if (step <= 0) return rl_err("%s: %s needs %s.interleave_moe_layer_step above 0", g->path, arch, arch);
    if (mi <= 0) return rl_err("%s: %s needs %s.expert_feed_forward_length", g->path, arch, arch);
    int64_t l0 = lead;
    while (l0 < layers && (l0 + 1) % step) l0++; /* the first expert layer */
    if (shw > 0 && l0 < layers) {
        char tn[96];
        snprintf(tn, sizeof tn, "blk.%lld.ffn_up_shexp.weight", (long long)l0);
        const rl_gguf_tensor *t = find_tensor(g, tn);
        if (!t || t->n_dims != 2 || t->ne[1] % mi)
            return rl_err("%s: %s: the shared experts' %s must be [hidden, a multiple of %lld]", g->path, arch, tn, (long long)mi);
        sh = t->ne[1] / mi;
    }
    cJSON_DeleteItemFromObject(c, "shared_expert_intermediate_size"); /* (not Qwen2-MoE's gated shared expert) */
    cJSON_AddNumberToObject(c, "moe_num_experts", (double)E);
    cJSON_AddNumberToObject(c, "moe_k", (double)k);
    cJSON_AddNumberToObject(c, "moe_num_shared_experts", (double)sh);
    cJSON_AddNumberToObject(c, "moe_layer_start_index", (double)lead);
    cJSON_AddNumberToObject(c, "moe_layer_end_index", -1);
    cJSON_AddNumberToObject(c, "moe_layer_interval", (double)step);
    return 0;
}

/* LFM2 / LFM2-MoE as llama.cpp's converter writes them: a layer is a short conv where the per-layer
 * attention.head_count_kv is 0 (the attention layers sliding when attention.sliding_window is
 * set), shortconv.l_cache, the MLP width already adjusted; lfm2moe: leading_dense_block_count
 * (default 0), sigmoid gating (expert_gating_func 2) with exp_probs_b, the top-k weights always
 * renormalised and not scaled (llama.cpp reads no scale for it). The final norm, token_embd_norm,
 * is named below. */
static int lfm2_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int moe = !strcmp(arch, "lfm2moe");
    int64_t layers = get_int(g, arch, "block_count", 0), swa = get_int(g, arch, "attention.sliding_window", 0), nkv = 0;
    char key[160];
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    if (!kv || kv->type != RL_GGUF_ARRAY || (int64_t)kv->arr_n != layers)
        return rl_err("%s: %s needs '%s' as a list of %lld per-layer values (0: a short-conv layer)", g->path, arch, key, (long long)layers);
    cJSON *lt = cJSON_AddArrayToObject(c, "layer_types");
    for (int64_t l = 0; lt && l < layers; l++) {
        int64_t a;
        if (arr_int(g, kv, key, (uint64_t)l, &a)) return -1;
        if (a < 0 || (a && nkv && a != nkv)) return rl_err("%s: layer %lld: %lld kv heads (the others have %lld)", g->path, (long long)l, (long long)a, (long long)nkv);
        if (a) nkv = a;
        cJSON_AddItemToArray(lt, cJSON_CreateString(!a ? "conv" : swa > 0 ? "sliding_attention" : "full_attention"));
    }
    if (nkv) cJSON_AddNumberToObject(c, "num_key_value_heads", (double)nkv);
    double eps = 1e-5;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (rl_gguf_num(g, key, &eps) < 0) return -1;
    cJSON_AddNumberToObject(c, "norm_eps", eps);
    cJSON_AddBoolToObject(c, "block_auto_adjust_ff_dim", 0); /* feed_forward_length is the width itself */
    if (put_int(c, g, arch, "shortconv.l_cache", "conv_L_cache")) return -1;
    if (moe) {
        int64_t gate = get_int(g, arch, "expert_gating_func", 0);
        if (gate != 2) return rl_err("%s: %s.expert_gating_func %lld: llama.cpp's lfm2moe routes with sigmoid (2)", g->path, arch, (long long)gate);
        cJSON_AddNumberToObject(c, "num_dense_layers", (double)get_int(g, arch, "leading_dense_block_count", 0));
        cJSON_AddBoolToObject(c, "use_expert_bias", 1); /* (exp_probs_b: a tensor llama.cpp requires) */
        cJSON_AddBoolToObject(c, "norm_topk_prob", 1);
        cJSON_AddNumberToObject(c, "routed_scaling_factor", 1);
    }
    return 0;
}

/* Falcon-H1 as llama.cpp's converter writes it: the Mamba-2 dims from ssm.* (time_step_rank: heads,
 * inner_size: mamba_d_ssm), the gated norm where ssm_norm is (per group, gate first), the conv
 * bias where its tensor is; every muP multiplier already folded into the weights (none here). */
static int falcon_h1_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t heads = get_int(g, arch, "ssm.time_step_rank", 0), inner = get_int(g, arch, "ssm.inner_size", 0);
    if (heads <= 0 || inner % heads) return rl_err("%s: %s.ssm.inner_size %lld is not a multiple of ssm.time_step_rank %lld", g->path, arch,
                                                   (long long)inner, (long long)heads);
    cJSON_AddNumberToObject(c, "mamba_d_ssm", (double)inner);
    cJSON_AddNumberToObject(c, "mamba_n_heads", (double)heads);
    cJSON_AddNumberToObject(c, "mamba_d_head", (double)(inner / heads));
    cJSON_AddBoolToObject(c, "mamba_rms_norm", find_tensor(g, "blk.0.ssm_norm.weight") != NULL);
    cJSON_AddBoolToObject(c, "mamba_norm_before_gate", 0);
    cJSON_AddBoolToObject(c, "mamba_conv_bias", find_tensor(g, "blk.0.ssm_conv1d.bias") != NULL);
    return put_int(c, g, arch, "ssm.group_count", "mamba_n_groups") || put_int(c, g, arch, "ssm.state_size", "mamba_d_state") ||
           put_int(c, g, arch, "ssm.conv_kernel", "mamba_d_conv") ? -1 : 0;
}

/* EXAONE-MoE (exaone-moe) as llama.cpp rebuilds it: block_count less the MTP layers
 * (nextn_predict_layers, not run), 3 sliding layers of every 4 (llama.cpp's fixed period: the
 * file's per-layer list is not read) of window attention.sliding_window, the global ones NoPE
 * (the family's rule), DeepSeek-V3 style routing from the expert_* keys. */
static int exaone_moe_config(cJSON *c, const rl_gguf *g, const char *arch) {
    int64_t n = get_int(g, arch, "block_count", 0) - get_int(g, arch, "nextn_predict_layers", 0);
    if (n <= 0) return rl_err("%s: %s.block_count is not above nextn_predict_layers", g->path, arch);
    if (get_int(g, arch, "attention.sliding_window", 0) <= 0)
        return rl_err("%s: exaone-moe needs %s.attention.sliding_window (llama.cpp's global layers are NoPE only beside sliding ones)", g->path, arch);
    cJSON_DeleteItemFromObject(c, "num_hidden_layers");
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)n);
    cJSON *lt = cJSON_AddArrayToObject(c, "layer_types");
    for (int64_t l = 0; lt && l < n && l < 100000; l++)
        cJSON_AddItemToArray(lt, cJSON_CreateString(l % 4 < 3 ? "sliding_attention" : "full_attention"));
    if (!lt) return rl_err("out of memory");
    cJSON_DeleteItemFromObject(c, "shared_expert_intermediate_size"); /* Qwen2-MoE's key (a gated shared expert): counts here */
    return moe_routing_config(c, g, arch, 2);
}

/* OLMo 2 / 3, Granite, Command R / R7B, EXAONE 4: their keys of config.json. */
static int other_config(cJSON *c, const rl_gguf *g, const char *arch) {
    if (!strcmp(arch, "olmo2")) {
        cJSON_AddBoolToObject(c, "attention_bias", find_tensor(g, "blk.0.attn_q.bias") != NULL);
        if (get_int(g, arch, "attention.sliding_window", 0) > 0 && swa_layer_types(c, g, arch, 4)) return -1;
    } else if (!strncmp(arch, "granite", 7)) {
        cJSON_AddBoolToObject(c, "attention_bias", find_tensor(g, "blk.0.attn_q.bias") != NULL);
        cJSON_AddBoolToObject(c, "mlp_bias", find_tensor(g, "blk.0.ffn_down.bias") != NULL);
        if (put_num(c, g, arch, "attention.scale", "attention_multiplier") || put_num(c, g, arch, "embedding_scale", "embedding_multiplier") ||
            put_num(c, g, arch, "residual_scale", "residual_multiplier") || put_num(c, g, arch, "logit_scale", "logits_scaling") ||
            put_int(c, g, arch, "expert_shared_feed_forward_length", "shared_intermediate_size")) return -1;
        cJSON_DeleteItemFromObject(c, "shared_expert_intermediate_size"); /* Qwen2-MoE's key: a gated shared expert */
        const cJSON *am = cJSON_GetObjectItem(c, "attention_multiplier");
        if (!am || am->valuedouble == 0) { /* llama.cpp: no attention.scale (or 0) is 1/sqrt(head_dim), not transformers' 1 */
            int64_t heads = get_int(g, arch, "attention.head_count", 0), hidden = get_int(g, arch, "embedding_length", 0);
            int64_t hd = get_int(g, arch, "attention.key_length", heads > 0 ? hidden / heads : 0);
            cJSON_DeleteItemFromObject(c, "attention_multiplier");
            if (hd > 0) cJSON_AddNumberToObject(c, "attention_multiplier", 1.0 / sqrt((double)hd));
        }
        if (!strcmp(arch, "granitehybrid") && granitehybrid_config(c, g, arch)) return -1;
    } else if (!strncmp(arch, "nemotron_h", 10)) {
        if (nemotron_h_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "mamba2")) {
        if (mamba2_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "llama4")) {
        if (llama4_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "mamba") || !strcmp(arch, "jamba")) {
        if (mamba1_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "falcon-h1")) {
        if (falcon_h1_config(c, g, arch)) return -1;
    } else if (!strncmp(arch, "lfm2", 4)) {
        if (lfm2_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "ernie4_5-moe")) {
        if (ernie_moe_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "dots1")) {
        cJSON_AddBoolToObject(c, "attention_bias", 0); /* (llama.cpp's dots1: no q / k / v biases) */
        cJSON_AddNullToObject(c, "sliding_window");
        cJSON_DeleteItemFromObject(c, "shared_expert_intermediate_size"); /* (DeepSeek's ungated shared experts, by count) */
        if (moe_routing_config(c, g, arch, 2)) return -1;
    } else if (!strcmp(arch, "minimax-m2")) { /* llama.cpp: gating from expert_gating_func (sigmoid: 2), exp_probs_b required, renormalised */
        int64_t gate = get_int(g, arch, "expert_gating_func", 2);
        if (gate != 2) return rl_err("%s: %s.expert_gating_func %lld: MiniMax-M2 routes with sigmoid (2)", g->path, arch, (long long)gate);
        cJSON_AddStringToObject(c, "scoring_func", "sigmoid");
    } else if (!strcmp(arch, "exaone-moe")) {
        if (exaone_moe_config(c, g, arch)) return -1;
    } else if (!strcmp(arch, "command-r") || !strcmp(arch, "cohere2")) {
        if (put_num(c, g, arch, "logit_scale", "logit_scale")) return -1;
        if (!strcmp(arch, "cohere2") && swa_layer_types(c, g, arch, 4)) return -1;
    } else if (!strcmp(arch, "glm4moe")) {
        /* block_count counts the NextN (MTP) layers after the decoder's; they are not run */
        int64_t n = get_int(g, arch, "block_count", 0) - get_int(g, arch, "nextn_predict_layers", 0);
        cJSON_DeleteItemFromObject(c, "num_hidden_layers");
        cJSON_AddNumberToObject(c, "num_hidden_layers", (double)n);
        cJSON_AddBoolToObject(c, "attention_bias", find_tensor(g, "blk.0.attn_q.bias") != NULL);
        cJSON_AddBoolToObject(c, "use_qk_norm", find_tensor(g, "blk.0.attn_q_norm.weight") != NULL);
        if (moe_routing_config(c, g, arch, 2)) return -1;
    } else if (!strncmp(arch, "qwen35", 6) || !strcmp(arch, "qwen3next")) {
        /* Gated DeltaNet dims from the ssm.* keys; block_count counts the MTP layers after the decoder's */
        int64_t nv = get_int(g, arch, "ssm.time_step_rank", 0), inner = get_int(g, arch, "ssm.inner_size", 0);
        int64_t n = get_int(g, arch, "block_count", 0) - get_int(g, arch, "nextn_predict_layers", 0);
        if (nv <= 0 || inner % nv) return rl_err("%s: %s.ssm.inner_size %lld is not a multiple of ssm.time_step_rank %lld", g->path, arch,
                                                 (long long)inner, (long long)nv);
        cJSON_DeleteItemFromObject(c, "num_hidden_layers");
        cJSON_AddNumberToObject(c, "num_hidden_layers", (double)n);
        cJSON_AddNumberToObject(c, "linear_value_head_dim", (double)(inner / nv));
        cJSON_AddBoolToObject(c, "norm_topk_prob", 1); /* llama.cpp renormalises the top-k weights */
        if (put_int(c, g, arch, "ssm.conv_kernel", "linear_conv_kernel_dim") || put_int(c, g, arch, "ssm.state_size", "linear_key_head_dim") ||
            put_int(c, g, arch, "ssm.group_count", "linear_num_key_heads") || put_int(c, g, arch, "ssm.time_step_rank", "linear_num_value_heads") ||
            put_int(c, g, arch, "full_attention_interval", "full_attention_interval") || put_int(c, g, arch, "expert_count", "num_experts"))
            return -1;
    } else if (!strcmp(arch, "qwen")) { /* Qwen v1's own config keys */
        int64_t heads = get_int(g, arch, "attention.head_count", 0), hidden = get_int(g, arch, "embedding_length", 0);
        int64_t hd = get_int(g, arch, "attention.key_length", heads > 0 ? hidden / heads : 0), rot = get_int(g, arch, "rope.dimension_count", hd);
        if (put_num(c, g, arch, "attention.layer_norm_rms_epsilon", "layer_norm_epsilon") || put_num(c, g, arch, "rope.freq_base", "rotary_emb_base") ||
            put_int(c, g, arch, "context_length", "seq_length")) return -1;
        if (hd > 0) { cJSON_AddNumberToObject(c, "kv_channels", (double)hd); cJSON_AddNumberToObject(c, "rotary_pct", (double)rot / (double)hd); }
    } else if (!strcmp(arch, "chatglm")) { /* ChatGLM's own config keys; rotary over half of each head */
        int64_t heads = get_int(g, arch, "attention.head_count", 0), kv = get_int(g, arch, "attention.head_count_kv", heads);
        int64_t hidden = get_int(g, arch, "embedding_length", 0), hd = get_int(g, arch, "attention.key_length", heads > 0 ? hidden / heads : 0);
        if (get_int(g, arch, "rope.dimension_count", hd / 2) != hd / 2)
            return rl_err("%s: chatglm rope.dimension_count %lld: only half of the head (%lld) is supported", g->path,
                          (long long)get_int(g, arch, "rope.dimension_count", 0), (long long)(hd / 2));
        double base = 10000.0;
        char key[160];
        snprintf(key, sizeof key, "%s.rope.freq_base", arch);
        if (rl_gguf_num(g, key, &base) < 0 || put_int(c, g, arch, "block_count", "num_layers") ||
            put_int(c, g, arch, "feed_forward_length", "ffn_hidden_size") || put_num(c, g, arch, "attention.layer_norm_rms_epsilon", "layernorm_epsilon") ||
            put_int(c, g, arch, "context_length", "seq_length")) return -1;
        cJSON_AddNumberToObject(c, "rope_ratio", base / 10000.0);
        cJSON_AddNumberToObject(c, "kv_channels", (double)hd);
        cJSON_AddBoolToObject(c, "multi_query_attention", kv < heads);
        cJSON_AddNumberToObject(c, "multi_query_group_num", (double)kv);
        cJSON_AddBoolToObject(c, "add_qkv_bias", find_tensor(g, "blk.0.attn_qkv.bias") != NULL);
        const cJSON *v = cJSON_GetObjectItem(c, "vocab_size");
        if (v) cJSON_AddNumberToObject(c, "padded_vocab_size", v->valuedouble);
    } else if (!strcmp(arch, "baichuan")) {
        /* llama.cpp runs 40-layer files (13B) with ALiBi, which is not supported here */
        if (get_int(g, arch, "block_count", 0) == 40) return rl_err("%s: a 40-layer Baichuan (13B) uses ALiBi position biases, not supported", g->path);
    } else if (!strcmp(arch, "phi2")) {
        cJSON_AddStringToObject(c, "hidden_act", "gelu_new"); /* llama.cpp's phi2: GELU (tanh) */
    } else if (!strcmp(arch, "internlm2")) {
        cJSON_AddBoolToObject(c, "bias", find_tensor(g, "blk.0.attn_output.bias") != NULL);
    } else if (!strcmp(arch, "exaone4")) {
        /* llama.cpp slides only the 64-layer model's layers (window 4096 unless given), 3 of every 4 */
        cJSON_DeleteItemFromObject(c, "sliding_window");
        if (get_int(g, arch, "block_count", 0) == 64) {
            int64_t w = get_int(g, arch, "attention.sliding_window", 4096);
            cJSON_AddNumberToObject(c, "sliding_window", (double)w);
            char key[160];
            snprintf(key, sizeof key, "%s.attention.sliding_window", arch);
            if (!rl_gguf_get(g, key)) { cJSON_AddNumberToObject(c, "sliding_window_pattern", 4); return 0; }
            if (swa_layer_types(c, g, arch, 4)) return -1;
        }
    }
    return 0;
}

/* The end-of-generation tokens llama.cpp recognises by their text in the vocabulary (a turn's end
 * in the chat templates: <|im_end|>, <|eot_id|>, <end_of_turn>, harmony's <|return|> / <|call|>,
 * ...), CONTROL or USER_DEFINED ones only; added to the ids the metadata names. */
static void add_eog_tokens(const rl_gguf *g, cJSON *eos) {
    static const char *const EOG[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
                                      "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>"};
    const rl_gguf_kv *toks = rl_gguf_get(g, "tokenizer.ggml.tokens"), *ty = rl_gguf_get(g, "tokenizer.ggml.token_type");
    if (!toks || toks->type != RL_GGUF_ARRAY || toks->arr_type != RL_GGUF_STRING) return;
    if (ty && (ty->type != RL_GGUF_ARRAY || ty->arr_type != RL_GGUF_I32 || ty->arr_n != toks->arr_n)) ty = NULL;
    for (uint64_t i = 0; i < toks->arr_n && i < INT32_MAX; i++) {
        const rl_gguf_str *t = &((const rl_gguf_str *)toks->arr)[i];
        if (t->len < 5 || (t->s[0] != '<' && t->s[0] != '_')) continue;
        int32_t type = 3;
        if (ty) memcpy(&type, (const char *)ty->arr + 4 * i, 4);
        if (type != 3 && type != 4) continue; /* CONTROL, USER_DEFINED */
        size_t k = 0;
        while (k < sizeof EOG / sizeof *EOG && (strlen(EOG[k]) != t->len || memcmp(EOG[k], t->s, t->len))) k++;
        if (k == sizeof EOG / sizeof *EOG) continue;
        const cJSON *e;
        int dup = 0;
        cJSON_ArrayForEach(e, eos) dup |= e->valuedouble == (double)i;
        if (!dup) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)i));
    }
}

/* The config.json equivalent of the metadata. */
static cJSON *build_config(const rl_gguf *g, const char *arch, const char *hf) {
    cJSON *c = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(c, "architectures");
    if (!c || !a) { cJSON_Delete(c); rl_err("out of memory"); return NULL; }
    cJSON_AddItemToArray(a, cJSON_CreateString(hf));
    if (put_int(c, g, arch, "embedding_length", "hidden_size") || put_int(c, g, arch, "block_count", "num_hidden_layers") ||
        put_int(c, g, arch, "attention.head_count", "num_attention_heads") ||
        (strcmp(arch, "granitehybrid") && strncmp(arch, "nemotron_h", 10) && strcmp(arch, "jamba") && strncmp(arch, "lfm2", 4) &&
         put_int(c, g, arch, "attention.head_count_kv", "num_key_value_heads")) ||
        (strncmp(arch, "nemotron_h", 10) && put_int(c, g, arch, "feed_forward_length", "intermediate_size")) ||
        put_int(c, g, arch, "attention.key_length", "head_dim") ||
        put_int(c, g, arch, "context_length", "max_position_embeddings") ||
        put_num(c, g, arch, "attention.layer_norm_rms_epsilon", "rms_norm_eps") ||
        put_num(c, g, arch, "attention.layer_norm_epsilon", "layer_norm_eps") ||
        put_num(c, g, arch, "rope.freq_base", "rope_theta") ||
        put_int(c, g, arch, "expert_count", "num_local_experts") ||
        put_int(c, g, arch, "expert_used_count", "num_experts_per_tok") ||
        put_int(c, g, arch, "expert_feed_forward_length", "moe_intermediate_size") ||
        put_int(c, g, arch, "expert_shared_feed_forward_length", "shared_expert_intermediate_size") ||
        put_num(c, g, arch, "attn_logit_softcapping", "attn_logit_softcapping") ||
        put_num(c, g, arch, "final_logit_softcapping", "final_logit_softcapping") ||
        put_int(c, g, arch, "attention.sliding_window", "sliding_window")) { cJSON_Delete(c); return NULL; }
    /* vocab: <arch>.vocab_size, else the embedding rows */
    int64_t vocab = get_int(g, arch, "vocab_size", 0);
    const rl_gguf_tensor *emb = find_tensor(g, "token_embd.weight");
    if (!vocab && emb && emb->n_dims == 2) vocab = emb->ne[1];
    if (vocab) cJSON_AddNumberToObject(c, "vocab_size", (double)vocab);
    int64_t heads = get_int(g, arch, "attention.head_count", 0), hidden = get_int(g, arch, "embedding_length", 0);
    int64_t hd = get_int(g, arch, "attention.key_length", heads > 0 ? hidden / heads : 0);
    int64_t rot = get_int(g, arch, "rope.dimension_count", hd);
    if (hd > 0 && rot > 0 && rot != hd) cJSON_AddNumberToObject(c, "partial_rotary_factor", (double)rot / (double)hd);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", find_tensor(g, "output.weight") == NULL);
    int64_t v;
    if (rl_gguf_int(g, "tokenizer.ggml.bos_token_id", &v) == 1) cJSON_AddNumberToObject(c, "bos_token_id", (double)v);
    cJSON *eos = cJSON_AddArrayToObject(c, "eos_token_id");
    if (rl_gguf_int(g, "tokenizer.ggml.eos_token_id", &v) == 1) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)v));
    if (rl_gguf_int(g, "tokenizer.ggml.eot_token_id", &v) == 1) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)v));
    if (rl_gguf_int(g, "tokenizer.ggml.eom_token_id", &v) == 1) cJSON_AddItemToArray(eos, cJSON_CreateNumber((double)v));
    add_eog_tokens(g, eos);
    /* rope scaling */
    char key[160];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *st = rl_gguf_strv(g, key);
    if (st && strcmp(st, "none")) {
        cJSON *rs = cJSON_AddObjectToObject(c, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", st);
        if (put_num(rs, g, arch, "rope.scaling.factor", "factor") ||
            put_int(rs, g, arch, "rope.scaling.original_context_length", "original_max_position_embeddings") ||
            put_num(rs, g, arch, "rope.scaling.yarn_beta_fast", "beta_fast") ||
            put_num(rs, g, arch, "rope.scaling.yarn_beta_slow", "beta_slow")) { cJSON_Delete(c); return NULL; }
    }
    if (!strcmp(arch, "deepseek2") && deepseek2_config(c, g, arch)) { cJSON_Delete(c); return NULL; }
    if (!strcmp(arch, "qwen3vlmoe")) cJSON_AddBoolToObject(c, "norm_topk_prob", 1); /* llama.cpp: always renormalised */
    if (!strcmp(arch, "qwen3moe")) { /* llama.cpp's qwen3moe renormalises the top-k weights */
        int64_t nw = get_int(g, arch, "expert_weights_norm", 1);
        cJSON_AddBoolToObject(c, "norm_topk_prob", nw != 0);
    }
    if (!strcmp(arch, "gemma3") && gemma3_config(c, g, arch)) { cJSON_Delete(c); return NULL; }
    if (!strcmp(arch, "gpt-oss") && gpt_oss_config(c, g, arch)) { cJSON_Delete(c); return NULL; }
    if (other_config(c, g, arch)) { cJSON_Delete(c); return NULL; }
    if (!strcmp(arch, "glm4") || !strcmp(arch, "seed_oss")) cJSON_AddBoolToObject(c, "attention_bias", find_tensor(g, "blk.0.attn_q.bias") != NULL);
    if (!strcmp(arch, "arcee")) cJSON_AddStringToObject(c, "hidden_act", "relu2"); /* llama.cpp's arcee: relu then sqr */
    if (!strcmp(arch, "olmo") && put_num(c, g, arch, "attention.clamp_kqv", "clip_qkv")) { cJSON_Delete(c); return NULL; }
    if (!strcmp(arch, "gptneox")) { /* llama.cpp's gptneox: GELU (tanh), attention biases, [q; k; v] (qkv_grouped off below) */
        char key[96];
        snprintf(key, sizeof key, "%s.use_parallel_residual", arch);
        const rl_gguf_kv *kv = rl_gguf_get(g, key);
        cJSON_AddBoolToObject(c, "use_parallel_residual", kv && kv->type == RL_GGUF_BOOL && kv->v.u);
        cJSON_AddStringToObject(c, "hidden_act", "gelu_pytorch_tanh");
        cJSON_AddBoolToObject(c, "attention_bias", 1);
        if (!cJSON_GetObjectItem(c, "partial_rotary_factor") && hd > 0) /* the whole head (GPT-NeoX's own default is a quarter) */
            cJSON_AddNumberToObject(c, "partial_rotary_factor", 1.0);
    }
    if (!strcmp(arch, "starcoder2")) { /* llama.cpp's starcoder2: GELU (tanh), every bias, no sliding window */
        const cJSON *e = cJSON_GetObjectItem(c, "layer_norm_eps");
        if (e) cJSON_AddNumberToObject(c, "norm_epsilon", e->valuedouble);
        cJSON_AddStringToObject(c, "hidden_act", "gelu_pytorch_tanh");
        cJSON_AddBoolToObject(c, "use_bias", 1);
        cJSON_DeleteItemFromObject(c, "sliding_window");
    }
    if (!strncmp(arch, "gemma", 5)) {
        /* llama.cpp scales queries by 1/sqrt(head_dim), except the 27B models (Gemma 2: 46 layers,
         * Gemma 3: 62): hidden/heads in integers */
        int64_t layers = get_int(g, arch, "block_count", 0);
        if (((!strcmp(arch, "gemma2") && layers == 46) || (!strcmp(arch, "gemma3") && layers == 62)) && heads > 0)
            cJSON_AddNumberToObject(c, "query_pre_attn_scalar", (double)(hidden / heads));
        else if (hd > 0) cJSON_AddNumberToObject(c, "query_pre_attn_scalar", (double)hd);
    }
    return c;
}

/* Reads the rope_freqs tensor (F32 [rot/2]) as per-pair divisors of the inverse frequencies. */
static int read_rope_freqs(const rl_gguf *g, const rl_gguf_tensor *t, rl_rope *r) {
    int half = r->rot_dims / 2;
    if (t->type != RL_GGML_F32 || t->n_dims != 1 || t->ne[0] != half || half > RL_MAX_ROPE_FACTORS / 2)
        return rl_err("%s: tensor rope_freqs.weight must be F32 [%d] (rotary dims / 2)", g->path, half);
    float f[RL_MAX_ROPE_FACTORS / 2];
    int fd = open(g->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rl_err("%s: cannot open", g->path);
    int rc = rl_pread_full(fd, f, (size_t)half * sizeof(float), t->offset, g->path);
    close(fd);
    if (rc) return -1;
    for (int i = 0; i < half; i++) {
        if (!(f[i] > 0)) return rl_err("%s: rope_freqs.weight[%d] = %g is not positive", g->path, i, (double)f[i]);
        r->short_factor[i] = f[i];
    }
    r->n_short = half;
    r->scaling = RL_RS_FACTORS;
    return 0;
}

/* Qwen3-VL (qwen3vl, qwen3vlmoe) as llama.cpp's interleaved M-RoPE turns text positions (t, h, w, e)
 * = (p, p, p, 0): pair j reads h where j % 3 == 1 and j < 3 sections[1], w where j % 3 == 2 and j <
 * 3 sections[2], t where j % 3 == 0 and j < 3 sections[0], else e — position 0, no rotation (the
 * last pairs of Qwen3-VL's 24 / 20 / 20: transformers rotates them by t). Such pairs get an
 * infinite divisor (RL_RS_FACTORS). */
static int imrope_text(const rl_gguf *g, const char *arch, rl_rope *r) {
    char key[160];
    snprintf(key, sizeof key, "%s.rope.dimension_sections", arch);
    const rl_gguf_kv *kv = rl_gguf_get(g, key);
    int64_t s[4] = {0, 0, 0, 0};
    if (!kv) return 0;
    if (kv->type != RL_GGUF_ARRAY || kv->arr_n != 4) return rl_err("%s: metadata '%s' must be a list of 4 sizes", g->path, key);
    for (int i = 0; i < 4; i++) if (arr_int(g, kv, key, (uint64_t)i, &s[i])) return -1;
    int half = r->rot_dims / 2, any = 0, sum = (int)(s[0] + s[1] + s[2] + s[3]);
    if (half > RL_MAX_ROPE_FACTORS / 2 || sum <= 0) return rl_err("%s: metadata '%s' does not fit %d rotary pairs", g->path, key, half);
    for (int j = 0; j < half; j++) {
        int sec = j % sum, e = !((sec % 3 == 1 && sec < 3 * s[1]) || (sec % 3 == 2 && sec < 3 * s[2]) || (sec % 3 == 0 && sec < 3 * s[0]));
        r->short_factor[j] = e ? INFINITY : 1.0;
        any |= e;
    }
    if (any) { r->n_short = half; r->scaling = RL_RS_FACTORS; }
    return 0;
}

/* Phi-3's longrope in llama.cpp's form: rope_factors_long / rope_factors_short (F32 [rot/2]), the
 * original context (rope.scaling.original_context_length) that decides between them and the
 * attention factor (rope.scaling.attn_factor, default 1) on cos / sin; the choice is made at open
 * from the context per sequence (rl_rope.ggml_long), as llama.cpp makes it. */
static int read_longrope(const rl_gguf *g, const char *arch, const rl_gguf_tensor *tl, const rl_gguf_tensor *ts, rl_rope *r) {
    int half = r->rot_dims / 2;
    const rl_gguf_tensor *t[2] = {tl, ts};
    double *dst[2] = {r->long_factor, r->short_factor};
    for (int k = 0; k < 2; k++) {
        if (!t[k] || t[k]->type != RL_GGML_F32 || t[k]->n_dims != 1 || t[k]->ne[0] != half || half > RL_MAX_ROPE_FACTORS / 2)
            return rl_err("%s: rope_factors_long / rope_factors_short must both be F32 [%d] (rotary dims / 2)", g->path, half);
        float f[RL_MAX_ROPE_FACTORS / 2];
        int fd = open(g->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return rl_err("%s: cannot open", g->path);
        int rc = rl_pread_full(fd, f, (size_t)half * sizeof(float), t[k]->offset, g->path);
        close(fd);
        if (rc) return -1;
        for (int i = 0; i < half; i++) {
            if (!(f[i] > 0)) return rl_err("%s: %s[%d] = %g is not positive", g->path, t[k]->name, i, (double)f[i]);
            dst[k][i] = f[i];
        }
    }
    char key[160];
    double af = 1.0;
    int64_t orig = get_int(g, arch, "rope.scaling.original_context_length", 0);
    snprintf(key, sizeof key, "%s.rope.scaling.attn_factor", arch);
    if (rl_gguf_num(g, key, &af) < 0) return -1;
    if (orig <= 0) return rl_err("%s: rope_factors_long needs %s.rope.scaling.original_context_length", g->path, arch);
    r->n_long = r->n_short = half;
    r->scaling = RL_RS_LONGROPE;
    r->orig_max_pos = (double)orig;
    r->attn_factor = af > 0 ? af : 1.0;
    return 0;
}

/* deepseek2 after the shared reader: llama.cpp's split kv_b (absorbed MLA) and its YaRN numerics:
 * rope cos / sin times attn_factor = 1 / (1 + 0.1 ln factor) (which ggml's own YaRN factor
 * cancels), softmax scale mscale^2 / sqrt(qk head dim), mscale = 1 + yarn_log_multiplier ln factor. */
static int deepseek2_finish(const rl_gguf *g, const char *arch, rl_model_desc *d) {
    char name[96];
    snprintf(name, sizeof name, "blk.%d.attn_k_b.weight", 0);
    if (find_tensor(g, name)) {
        d->mla_kv_b_split = 1;
        d->wname[W_MLA_K_B] = ROLE_NAMES[W_MLA_K_B];
        d->wname[W_MLA_V_B] = ROLE_NAMES[W_MLA_V_B];
    }
    float freq_scale = 1.0f, log_mul = 0.0f;
    rl_rope *r = &d->ropes[0];
    if (r->scaling == RL_RS_YARN && r->factor > 0) {
        double v;
        char key[160];
        snprintf(key, sizeof key, "%s.rope.scaling.yarn_log_multiplier", arch);
        if (rl_gguf_num(g, key, &v) == 1) log_mul = (float)v;
        freq_scale = 1.0f / (float)r->factor;
        r->attn_factor = 1.0f / (1.0f + 0.1f * logf(1.0f / freq_scale));
    }
    float mscale = 1.0f * (1.0f + log_mul * logf(1.0f / freq_scale));
    d->attn_scale = 1.0f * mscale * mscale / sqrtf((float)(d->qk_nope_dim + d->qk_rope_dim));
    return 0;
}

int rl_gguf_config(const char *path, rl_model_desc *d) {
    rl_gguf *g = rl_gguf_open(path, -1);
    if (!g) return -1;
    int rc = -1;
    cJSON *cfg = NULL;
    const char *arch = rl_gguf_strv(g, "general.architecture");
    size_t k = 0;
    if (!arch) { rl_err("%s: no general.architecture", path); goto out; }
    while (k < sizeof ARCHS / sizeof *ARCHS && strcmp(ARCHS[k].gguf, arch)) k++;
    if (k == sizeof ARCHS / sizeof *ARCHS) {
        char list[256] = "";
        for (size_t i = 0; i < sizeof ARCHS / sizeof *ARCHS; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", ARCHS[i].gguf);
        rl_err("%s: GGUF architecture \"%s\" is not supported (supported: %s)", path, arch, list);
        goto out;
    }
    const char *hf = ARCHS[k].hf_moe && get_int(g, arch, "expert_count", 0) > 0 ? ARCHS[k].hf_moe : ARCHS[k].hf;
    if (!strcmp(arch, "olmo2") && get_int(g, arch, "attention.sliding_window", 0) > 0) hf = "Olmo3ForCausalLM";
    if (!strcmp(arch, "granitemoe") && get_int(g, arch, "expert_shared_feed_forward_length", 0) > 0) hf = "GraniteMoeSharedForCausalLM";
    if (!strcmp(arch, "mamba")) { /* FalconMamba: dt / B / C RMS-normalised */
        char k2[96];
        snprintf(k2, sizeof k2, "%s.ssm.dt_b_c_rms", arch);
        const rl_gguf_kv *kv = rl_gguf_get(g, k2);
        if (kv && kv->type == RL_GGUF_BOOL && kv->v.u) hf = "FalconMambaForCausalLM";
    }
    if (!(cfg = build_config(g, arch, hf))) goto out;
    if (rl_config_from_json(d, cfg, path)) goto out;
    snprintf(d->dtype, sizeof d->dtype, "gguf");

    /* tensor names: every role the family uses gets its GGUF name */
    for (int r = 0; r < W_COUNT; r++) {
        if (!d->wname[r]) continue;
        if (!ROLE_NAMES[r]) { rl_err("%s: %s models in GGUF form are not supported yet", path, arch); goto out; }
        d->wname[r] = ROLE_NAMES[r];
    }
    for (int r = 0; r < G_COUNT; r++) if (d->gname[r]) d->gname[r] = GLOBAL_NAMES[r];
    if (d->n_experts) for (int e = 0; e < 3; e++) if (d->ename[e] || !d->moe_ungated) d->ename[e] = EXPERT_NAMES[e];
    memset(d->name_alt, 0, sizeof d->name_alt);
    if (!strcmp(arch, "granitemoe") || !strcmp(arch, "granitehybrid")) { /* experts and the shared MLP as separate gate / up / down */
        d->moe_fused = 0;
        if (d->moe_shared_fused) { d->moe_shared_fused = 0; d->wname[W_SHX_UP] = ROLE_NAMES[W_SHX_UP]; }
        if (d->wname[W_GATE_UP]) { d->wname[W_GATE_UP] = NULL; d->wname[W_GATE] = ROLE_NAMES[W_GATE]; d->wname[W_UP] = ROLE_NAMES[W_UP]; }
    }
    if (!strcmp(arch, "falcon-h1")) d->wname[W_MLP_NORM] = "blk.%d.ffn_norm"; /* (llama.cpp's name has no .weight) */
    if ((!strcmp(arch, "granitehybrid") || !strncmp(arch, "nemotron_h", 10) || !strcmp(arch, "mamba2") || !strcmp(arch, "falcon-h1")) &&
        d->lin_kind == RL_LIN_MAMBA2) {
        d->wname[W_LIN_QKV] = "blk.%d.ssm_in.weight"; /* in_proj as it is; ssm_a = -exp(A_log) */
        d->lin_a_direct = 1;
    }
    if (!strcmp(arch, "mamba2")) d->lin_norm_groups = d->lin_k_heads; /* llama.cpp normalises per group (HF's Mamba2: over all) */
    if (d->lin_kind == RL_LIN_MAMBA1) { /* in_proj, x_proj, dt_proj; ssm_a = -exp(A_log) */
        d->wname[W_LIN_QKV] = "blk.%d.ssm_in.weight";
        d->wname[W_LIN_B] = "blk.%d.ssm_x.weight";
        d->wname[W_LIN_A] = "blk.%d.ssm_dt.weight";
        d->lin_a_direct = 1;
    }
    if (!strncmp(arch, "nemotron_h", 10)) d->wname[W_MLP_NORM] = ROLE_NAMES[W_ATTN_NORM]; /* the one norm of each layer */
    if (!strcmp(arch, "gptneox")) d->qkv_grouped = 0; /* the converter regrouped query_key_value as [q; k; v] */
    if (d->lin_kind == RL_LIN_SHORTCONV) { /* LFM2 */
        d->wname[W_LIN_QKV] = "blk.%d.shortconv.in_proj.weight";
        d->wname[W_LIN_CONV] = "blk.%d.shortconv.conv.weight";
        d->wname[W_LIN_OUT] = "blk.%d.shortconv.out_proj.weight";
        d->gname[G_FINAL_NORM] = "token_embd_norm.weight"; /* llama.cpp's name for LFM2's final norm */
    }
    int dn = !strncmp(arch, "qwen35", 6) || !strcmp(arch, "qwen3next");
    if (!strcmp(arch, "glm4moe") || dn || !strcmp(arch, "seed_oss")) d->wname[W_MLP_NORM] = "blk.%d.post_attention_norm.weight";
    if (!strcmp(arch, "baichuan")) { /* W_pack split; lm_head as the file has it (llama.cpp does not normalise) */
        d->wname[W_QKV] = NULL;
        d->wname[W_Q] = ROLE_NAMES[W_Q];
        d->wname[W_K] = ROLE_NAMES[W_K];
        d->wname[W_V] = ROLE_NAMES[W_V];
        d->head_norm_rows = 0;
    }
    if (!strcmp(arch, "internlm2")) { /* wqkv split into attn_q / attn_k / attn_v by the converter */
        d->qkv_grouped = 0;
        d->wname[W_QKV] = d->wname[W_QKV_B] = NULL;
        d->wname[W_Q] = ROLE_NAMES[W_Q];
        d->wname[W_K] = ROLE_NAMES[W_K];
        d->wname[W_V] = ROLE_NAMES[W_V];
        if (d->qkv_bias) { d->wname[W_Q_B] = ROLE_NAMES[W_Q_B]; d->wname[W_K_B] = ROLE_NAMES[W_K_B]; d->wname[W_V_B] = ROLE_NAMES[W_V_B]; }
    }
    if (!strcmp(arch, "qwen3next")) { /* q / k / v and z split by the converter; b and a still fused per group */
        d->lin_fused = 2;
        d->wname[W_LIN_QKV] = ROLE_NAMES[W_LIN_QKV];
        d->wname[W_LIN_Z] = ROLE_NAMES[W_LIN_Z];
        d->wname[W_LIN_B] = "blk.%d.ssm_ba.weight";
        d->wname[W_LIN_A] = NULL;
        d->lin_a_direct = 1;
        d->moe_fused = 0;
    }
    if (!strncmp(arch, "qwen35", 6)) { /* ssm_a = -exp(A_log); value heads tiled (head h reads key head h % k_heads) */
        d->lin_a_direct = 1;
        d->lin_v_tiled = d->lin_v_heads != d->lin_k_heads;
        d->moe_fused = 0;
    }
    if (!strcmp(arch, "llama4")) d->moe_fused = d->moe_transposed = 0; /* experts as three stacks [E, out, in] */
    if (!strcmp(arch, "gpt-oss")) { /* experts as three stacks with bias stacks; the pre-MLP norm is post_attention_norm */
        d->moe_fused = d->moe_interleaved = d->moe_transposed = 0;
        for (int e = 0; e < 3; e++) d->ename_b[e] = EXPERT_BIAS_NAMES[e];
        d->wname[W_MLP_NORM] = "blk.%d.post_attention_norm.weight";
    }

    /* conventions of llama.cpp's converter */
    if (ARCHS[k].rope_interleaved)
        for (int i = 0; i < d->n_ropes; i++)
            if (d->ropes[i].pairing != RL_ROPE_NONE) d->ropes[i].pairing = RL_ROPE_GPTJ; /* NoPE layers stay without */
    if (d->norm_one_plus) d->norm_one_plus = 0; /* Gemma: the file stores 1 + w */
    const rl_gguf_tensor *rf = find_tensor(g, "rope_freqs.weight");
    if (rf && read_rope_freqs(g, rf, &d->ropes[0])) goto out;
    const rl_gguf_tensor *rl = find_tensor(g, "rope_factors_long.weight"), *rs = find_tensor(g, "rope_factors_short.weight");
    if ((rl || rs) && read_longrope(g, arch, rl, rs, &d->ropes[0])) goto out;
    if (!strncmp(arch, "qwen3vl", 7) && imrope_text(g, arch, &d->ropes[0])) goto out;
    for (int i = 0; i < d->n_ropes; i++) d->ropes[i].ggml_angles = 1;
    d->numerics = 1; /* RL_NUMERICS_GGML */
    if (!strcmp(arch, "deepseek2") && deepseek2_finish(g, arch, d)) goto out;
    rc = 0;
out:
    cJSON_Delete(cfg);
    rl_gguf_free(g);
    return rc;
}

const char *rl_gguf_role_name(int role) { return role >= 0 && role < W_COUNT ? ROLE_NAMES[role] : NULL; }
const char *rl_gguf_global_name(int role) { return role >= 0 && role < G_COUNT ? GLOBAL_NAMES[role] : NULL; }
