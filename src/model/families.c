/* The family table: Llama, Mistral, Qwen2/2.5, Qwen3 — each a normalizer and a name map. */
#include "model/family.h"
#include "model/fam_dense.h"
#include "model/fam_qwen35.h"
#include "model/fam_moe.h"
#include "model/fam_granite.h"
#include "model/fam_gpt_oss.h"
#include "model/fam_nemotron_h.h"
#include "model/fam_mamba.h"
#include "model/fam_falcon_h1.h"
#include "model/fam_lfm2.h"
#include "model/fam_ernie.h"
#include "model/fam_neox.h"
#include "util/err.h"
#include "util/json.h"
#include <stdio.h>
#include <string.h>


int rl_family_sliding_layers(rl_model_desc *d, const cJSON *cfg, const char *file, long long window, long long every) {
    const cJSON *lt = rl_json_get(cfg, "layer_types");
    if (lt && (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != d->n_layers))
        return rl_err("%s: \"layer_types\" must be a list of %d entries", file, d->n_layers);
    for (int l = 0; l < d->n_layers; l++) {
        const cJSON *v = lt ? cJSON_GetArrayItem(lt, l) : NULL;
        int sliding;
        if (!lt) sliding = every > 0 && (l + 1) % every != 0;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "sliding_attention")) sliding = 1;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "full_attention")) sliding = 0;
        else return rl_err("%s: \"layer_types\"[%d] must be \"sliding_attention\" or \"full_attention\"", file, l);
        if (sliding && window <= 0)
            return rl_err("%s: layer %d is a sliding_attention layer but sliding_window is %lld", file, l, window);
        d->layers[l].kind = sliding ? RL_LAYER_SLIDING : RL_LAYER_FULL;
        d->layers[l].window = sliding ? (int)window : 0;
    }
    return 0;
}

/* HF Llama-style names shared by most families. */
void rl_family_llama_names(rl_model_desc *d) {
    d->wname[W_ATTN_NORM] = "model.layers.%d.input_layernorm.weight";
    d->wname[W_Q] = "model.layers.%d.self_attn.q_proj.weight";
    d->wname[W_K] = "model.layers.%d.self_attn.k_proj.weight";
    d->wname[W_V] = "model.layers.%d.self_attn.v_proj.weight";
    d->wname[W_O] = "model.layers.%d.self_attn.o_proj.weight";
    d->wname[W_Q_B] = "model.layers.%d.self_attn.q_proj.bias";
    d->wname[W_K_B] = "model.layers.%d.self_attn.k_proj.bias";
    d->wname[W_V_B] = "model.layers.%d.self_attn.v_proj.bias";
    d->wname[W_O_B] = "model.layers.%d.self_attn.o_proj.bias";
    d->wname[W_Q_NORM] = "model.layers.%d.self_attn.q_norm.weight";
    d->wname[W_K_NORM] = "model.layers.%d.self_attn.k_norm.weight";
    d->wname[W_MLP_NORM] = "model.layers.%d.post_attention_layernorm.weight";
    d->wname[W_GATE] = "model.layers.%d.mlp.gate_proj.weight";
    d->wname[W_UP] = "model.layers.%d.mlp.up_proj.weight";
    d->wname[W_DOWN] = "model.layers.%d.mlp.down_proj.weight";
    d->wname[W_UP_B] = "model.layers.%d.mlp.up_proj.bias";
    d->wname[W_DOWN_B] = "model.layers.%d.mlp.down_proj.bias";
    d->gname[G_EMBED] = "model.embed_tokens.weight";
    d->gname[G_FINAL_NORM] = "model.norm.weight";
    d->gname[G_LM_HEAD] = "lm_head.weight";
}

void rl_family_ff_names(rl_model_desc *d) {
    d->wname[W_MLP_NORM] = "model.layers.%d.pre_ff_layernorm.weight";
    d->wname[W_GATE] = "model.layers.%d.feed_forward.gate_proj.weight";
    d->wname[W_UP] = "model.layers.%d.feed_forward.up_proj.weight";
    d->wname[W_DOWN] = "model.layers.%d.feed_forward.down_proj.weight";
    d->wname[W_UP_B] = d->wname[W_DOWN_B] = "";
}

/* Llama / Mistral: attention_bias and mlp_bias flags; Mistral's sliding_window on every layer. */
static int norm_llama(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    int ab, mb;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file) || rl_json_bool(cfg, "mlp_bias", 0, &mb, file)) return -1;
    d->qkv_bias = d->o_bias = ab;
    d->mlp_bias = mb;
    return 0;
}

/* Arcee (ArceeForCausalLM, AFM-4.5B): Llama whose MLP is ungated, down(act(up x)) with hidden_act
 * (relu2: squared ReLU). */
static int norm_arcee(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (norm_llama(d, cfg, file)) return -1;
    d->mlp_gated = 0;
    d->wname[W_GATE] = "";
    return 0;
}

/* Seed-OSS (ByteDance): Llama with q/k/v biases (attention_bias) and the output projection's
 * own flag (attention_out_bias). */
static int norm_seed_oss(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (norm_llama(d, cfg, file)) return -1;
    int ob;
    if (rl_json_bool(cfg, "attention_out_bias", 0, &ob, file)) return -1;
    d->o_bias = ob;
    return 0;
}

static int norm_mistral(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (norm_llama(d, cfg, file)) return -1;
    long long w;
    if (rl_json_int(cfg, "sliding_window", 0, &w, file)) return -1;
    for (int l = 0; l < d->n_layers; l++)
        if (w > 0) { d->layers[l].kind = RL_LAYER_SLIDING; d->layers[l].window = (int)w; }
    return 0;
}

int rl_family_nope_layers(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const cJSON *nr = rl_json_get(cfg, "no_rope_layers");
    long long every;
    if (rl_json_int(cfg, "no_rope_layer_interval", 4, &every, file)) return -1;
    if (nr && cJSON_IsArray(nr) && cJSON_GetArraySize(nr) == 0) nr = NULL; /* [] : the default (Llama 4) */
    if (nr && (!cJSON_IsArray(nr) || cJSON_GetArraySize(nr) != d->n_layers))
        return rl_err("%s: \"no_rope_layers\" must be a list of %d entries", file, d->n_layers);
    if (!nr && every <= 0) return rl_err("%s: no_rope_layer_interval %lld must be positive", file, every);
    d->n_ropes = 2; /* rope 1: no rotary embedding */
    d->ropes[1] = d->ropes[0];
    d->ropes[1].pairing = RL_ROPE_NONE;
    for (int l = 0; l < d->n_layers; l++) {
        const cJSON *v = nr ? cJSON_GetArrayItem(nr, l) : NULL;
        if (nr && !cJSON_IsNumber(v) && !cJSON_IsBool(v)) return rl_err("%s: \"no_rope_layers\"[%d] must be 0 or 1", file, l);
        int use = nr ? (cJSON_IsBool(v) ? cJSON_IsTrue(v) : v->valuedouble != 0) : (l + 1) % every != 0;
        d->layers[l].rope = use ? 0 : 1;
    }
    return 0;
}

/* SmolLM3: Llama with NoPE layers (rl_family_nope_layers); its sliding-window option is refused. */
static int norm_smollm3(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (norm_llama(d, cfg, file)) return -1;
    int sw;
    if (rl_json_bool(cfg, "use_sliding_window", 0, &sw, file)) return -1;
    if (sw) return rl_err("%s: SmolLM3 with \"use_sliding_window\": true is not supported", file);
    return rl_family_nope_layers(d, cfg, file);
}

/* The text stack of a multimodal checkpoint (a ...ForConditionalGeneration wrapper; the vision
 * tower and projector are never read): the decoder of text_config (config.c reads it; or of the
 * config itself) normalized by its own family — found by its model_type, else the wrapper's
 * usual one — under the language model's name prefix: model.language_model.* (transformers v5)
 * or, for Llava-style uploads (llava 1), language_model.model.* with language_model.lm_head; Idefics3 /
 * SmolVLM (llava 2): model.text_model.*. */
typedef struct { const char *arch, *text; int llava; } mm_wrap;
static const mm_wrap MM_WRAPS[] = {
    {"Mistral3ForConditionalGeneration", "mistral", 1}, /* Mistral Small 3.1 / 3.2 */
    {"LlavaForConditionalGeneration", "llama", 1},      /* Llava, Pixtral (text_config: llama / mistral / qwen2) */
    {"LlavaNextForConditionalGeneration", "llama", 1},  /* LLaVA-NeXT (1.6): Mistral / Vicuna / Llama 3 text */
    {"LlavaOnevisionForConditionalGeneration", "qwen2", 1}, /* LLaVA-OneVision: Qwen2 text */
    {"Qwen2VLForConditionalGeneration", "qwen2", 0},
    {"Qwen2_5_VLForConditionalGeneration", "qwen2", 0},
    {"Qwen3VLForConditionalGeneration", "qwen3", 0},
    {"Qwen3VLMoeForConditionalGeneration", "qwen3_vl_moe", 0},
    {"Llama4ForConditionalGeneration", "llama4_text", 1}, /* Llama 4 Scout / Maverick */
    {"Glm4vForConditionalGeneration", "glm4", 0},         /* GLM-4.1V: GLM-4's text model (M-RoPE: text positions plain) */
    {"Glm4vMoeForConditionalGeneration", "glm4_moe", 0},  /* GLM-4.5V: GLM-4.5's */
    {"InternVLForConditionalGeneration", "qwen2", 0},      /* InternVL 3 / 3.5 (transformers' form): Qwen2 / Qwen3 / Llama text */
    {"InternVLChatModel", "qwen2", 1},                     /* their remote-code form: llm_config, language_model.model.* */
    {"Idefics3ForConditionalGeneration", "llama", 2},      /* Idefics3: model.text_model.* */
    {"SmolVLMForConditionalGeneration", "llama", 2},       /* SmolVLM / SmolVLM2 */
};

static int norm_mm_text(rl_model_desc *d, const cJSON *cfg, const char *file) {
    const mm_wrap *w = NULL;
    for (size_t i = 0; i < sizeof MM_WRAPS / sizeof MM_WRAPS[0]; i++)
        if (!strcmp(d->arch, MM_WRAPS[i].arch)) w = &MM_WRAPS[i];
    if (!w) return rl_err("%s: no text model known for \"%s\"", file, d->arch);
    const char *mt;
    if (rl_json_str(cfg, "model_type", w->text, &mt, file)) return -1;
    const rl_family *f = rl_family_find(NULL, mt);
    if (!f || f->normalize == norm_mm_text) f = rl_family_find(NULL, w->text);
    if (!f || f->normalize == norm_mm_text) return rl_err("%s: the text model \"%s\" of %s is not supported", file, mt, d->arch);
    if (f->normalize(d, cfg, file)) return -1;
    snprintf(d->family, sizeof d->family, "%s", f->name); /* (info: the family that runs it) */
    d->name_alt[0] = "model."; d->name_alt[1] = w->llava == 2 ? "model.text_model." : "model.language_model.";
    if (w->llava == 1) {
        d->name_alt[2] = "model."; d->name_alt[3] = "language_model.model.";
        d->name_alt[4] = "lm_head."; d->name_alt[5] = "language_model.lm_head.";
    }
    return 0;
}

/* Qwen2/2.5: q/k/v biases; the sliding window applies only with use_sliding_window, from
 * layer max_window_layers on (as transformers' Qwen2 does). */
static int norm_qwen2(rl_model_desc *d, const cJSON *cfg, const char *file) {
    rl_family_llama_names(d);
    d->qkv_bias = 1;
    int use_sw;
    long long w, mwl;
    if (rl_json_bool(cfg, "use_sliding_window", 0, &use_sw, file) ||
        rl_json_int(cfg, "sliding_window", 0, &w, file) ||
        rl_json_int(cfg, "max_window_layers", d->n_layers, &mwl, file)) return -1;
    if (use_sw && w > 0)
        for (int l = (int)mwl; l < d->n_layers; l++) { d->layers[l].kind = RL_LAYER_SLIDING; d->layers[l].window = (int)w; }
    return 0;
}

/* Qwen3: per-head q/k RMSNorm, optional attention_bias, same sliding rule as Qwen2. */
static int norm_qwen3(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (norm_qwen2(d, cfg, file)) return -1;
    int ab;
    if (rl_json_bool(cfg, "attention_bias", 0, &ab, file)) return -1;
    d->qkv_bias = d->o_bias = ab;
    d->qk_norm = 1;
    return 0;
}

static const rl_family FAMILIES[] = {
    {"llama", {"LlamaForCausalLM", NULL}, 0, norm_llama},
    {"mistral", {"MistralForCausalLM", NULL}, 0, norm_mistral},
    {"seed_oss", {"SeedOssForCausalLM", NULL}, 0, norm_seed_oss},
    {"arcee", {"ArceeForCausalLM", NULL}, 0, norm_arcee}, /* ungated squared-ReLU MLP */
    {"smollm3", {"SmolLM3ForCausalLM", NULL}, 0, norm_smollm3},
    {"qwen2", {"Qwen2ForCausalLM", NULL}, 0, norm_qwen2},
    {"qwen3", {"Qwen3ForCausalLM", NULL}, 0, norm_qwen3},
    {"gemma", {"GemmaForCausalLM", NULL}, 1, rl_norm_gemma}, /* fam_gemma.c */
    {"gemma2", {"Gemma2ForCausalLM", NULL}, 1, rl_norm_gemma2}, /* fam_gemma.c */
    {"gemma3", {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration", NULL}, 1, rl_norm_gemma3}, /* fam_gemma.c */
    {"phi", {"PhiForCausalLM", NULL}, 0, rl_norm_phi}, /* fam_phi.c */
    {"hunyuan_v1_dense", {"HunYuanDenseV1ForCausalLM", NULL}, 1, rl_norm_hunyuan_dense}, /* fam_hunyuan.c: q/k norms after rope */
    {"starcoder2", {"Starcoder2ForCausalLM", NULL}, 1, rl_norm_starcoder2}, /* fam_starcoder2.c: LayerNorm, biases, GELU MLP */
    {"gpt_neox", {"GPTNeoXForCausalLM", NULL}, 0, rl_norm_gpt_neox}, /* fam_neox.c: Pythia; two-norm parallel block */
    {"phi3", {"Phi3ForCausalLM", NULL}, 0, rl_norm_phi3}, /* fam_phi.c */
    {"glm", {"GlmForCausalLM", NULL}, 0, rl_norm_glm}, /* fam_glm.c */
    {"glm4", {"Glm4ForCausalLM", NULL}, 0, rl_norm_glm4}, /* fam_glm.c */
    {"chatglm", {"ChatGLMModel", "ChatGLMForConditionalGeneration", NULL}, 0, rl_norm_chatglm}, /* fam_glm.c */
    {"internlm2", {"InternLM2ForCausalLM", NULL}, 0, rl_norm_internlm2}, /* fam_internlm.c */
    {"baichuan", {"BaichuanForCausalLM", "BaiChuanForCausalLM", NULL}, 0, rl_norm_baichuan}, /* fam_baichuan.c */
    {"qwen", {"QWenLMHeadModel", NULL}, 0, rl_norm_qwen1}, /* fam_qwen1.c */
    {"olmo", {"OlmoForCausalLM", NULL}, 0, rl_norm_olmo}, /* fam_olmo.c: weightless LayerNorms */
    {"olmo2", {"Olmo2ForCausalLM", NULL}, 0, rl_norm_olmo2}, /* fam_olmo.c: norms after the sublayers */
    {"olmo3", {"Olmo3ForCausalLM", NULL}, 0, rl_norm_olmo3}, /* fam_olmo.c: + sliding layers */
    {"olmoe", {"OlmoeForCausalLM", NULL}, 0, rl_norm_olmoe}, /* fam_olmo.c: pre-norms, full q/k norms, experts */
    {"exaone", {"ExaoneForCausalLM", NULL}, 1, rl_norm_exaone}, /* fam_exaone.c: EXAONE 3.0 / 3.5 */
    {"exaone4", {"Exaone4ForCausalLM", NULL}, 0, rl_norm_exaone4}, /* fam_exaone.c */
    {"cohere", {"CohereForCausalLM", NULL}, 1, rl_norm_cohere}, /* fam_cohere.c: parallel block, interleaved rope */
    {"cohere2", {"Cohere2ForCausalLM", NULL}, 1, rl_norm_cohere2}, /* fam_cohere.c: + sliding / NoPE layers */
    {"qwen3_5", {"Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration", NULL}, 0, rl_norm_qwen35}, /* fam_qwen35.c */
    {"qwen3_5_moe", {"Qwen3_5MoeForCausalLM", "Qwen3_5MoeForConditionalGeneration", NULL}, 0, rl_norm_qwen35_moe}, /* fam_moe.c: qwen3_5 + MoE */
    {"qwen3_next", {"Qwen3NextForCausalLM", NULL}, 0, rl_norm_qwen3_next}, /* fam_moe.c: fused qkvz / ba */
    {"mm_text", {"Mistral3ForConditionalGeneration", "LlavaForConditionalGeneration", "LlavaNextForConditionalGeneration",
                 "LlavaOnevisionForConditionalGeneration", "Qwen2VLForConditionalGeneration",
                 "Qwen2_5_VLForConditionalGeneration", "Qwen3VLForConditionalGeneration", "Qwen3VLMoeForConditionalGeneration",
                 "Llama4ForConditionalGeneration", "Glm4vForConditionalGeneration", "Glm4vMoeForConditionalGeneration",
                 "InternVLForConditionalGeneration", "InternVLChatModel", "Idefics3ForConditionalGeneration",
                 "SmolVLMForConditionalGeneration", NULL}, 0,
     norm_mm_text}, /* their text stacks */
    {"mixtral", {"MixtralForCausalLM", NULL}, 0, rl_norm_mixtral}, /* fam_moe.c */
    {"minimax_m2", {"MiniMaxM2ForCausalLM", NULL}, 0, rl_norm_minimax_m2}, /* fam_moe.c */
    {"dots1", {"Dots1ForCausalLM", NULL}, 0, rl_norm_dots1}, /* fam_moe.c: Qwen3 attention, DeepSeek-V3 experts */
    {"llama4_text", {"Llama4ForCausalLM", NULL}, 0, rl_norm_llama4}, /* fam_llama4.c: chunked / NoPE layers, experts on the input */
    {"gpt_oss", {"GptOssForCausalLM", NULL}, 0, rl_norm_gpt_oss}, /* fam_gpt_oss.c: sinks, MXFP4 experts */
    {"granite", {"GraniteForCausalLM", NULL}, 0, rl_norm_granite}, /* fam_granite.c: Llama + multipliers */
    {"granitemoe", {"GraniteMoeForCausalLM", NULL}, 0, rl_norm_granitemoe}, /* fam_granite.c */
    {"granitemoeshared", {"GraniteMoeSharedForCausalLM", NULL}, 0, rl_norm_granitemoeshared}, /* fam_granite.c */
    {"granitemoehybrid", {"GraniteMoeHybridForCausalLM", NULL}, 0, rl_norm_granitemoehybrid}, /* fam_granite.c: attention / Mamba-2 layers */
    {"bamba", {"BambaForCausalLM", NULL}, 0, rl_norm_bamba}, /* fam_granite.c: Mamba-2 + attention, gated MLP */
    {"nemotron_h", {"NemotronHForCausalLM", NULL}, 0, rl_norm_nemotron_h}, /* fam_nemotron_h.c: one sublayer per layer */
    {"mamba2", {"Mamba2ForCausalLM", NULL}, 0, rl_norm_mamba2}, /* fam_nemotron_h.c: Mamba-2 layers only */
    {"mamba", {"MambaForCausalLM", NULL}, 1, rl_norm_mamba},   /* fam_mamba.c: Mamba-1 layers only */
    {"falcon_mamba", {"FalconMambaForCausalLM", NULL}, 1, rl_norm_mamba}, /* fam_mamba.c: + weightless dt / B / C norms */
    {"jamba", {"JambaForCausalLM", NULL}, 0, rl_norm_jamba},   /* fam_mamba.c: Mamba-1 / attention layers, experts */
    {"falcon_h1", {"FalconH1ForCausalLM", NULL}, 0, rl_norm_falcon_h1}, /* fam_falcon_h1.c: attention + Mamba-2 in each layer */
    {"ernie4_5", {"Ernie4_5ForCausalLM", NULL}, 1, rl_norm_ernie4_5}, /* fam_ernie.c: interleaved rope */
    {"ernie4_5_moe", {"Ernie4_5_MoeForCausalLM", NULL}, 1, rl_norm_ernie4_5_moe}, /* fam_ernie.c: + softmax experts, shared */
    {"lfm2", {"Lfm2ForCausalLM", NULL}, 1, rl_norm_lfm2}, /* fam_lfm2.c: attention / gated short-conv layers */
    {"lfm2_moe", {"Lfm2MoeForCausalLM", NULL}, 1, rl_norm_lfm2_moe}, /* fam_lfm2.c: + sigmoid-routed experts */
    {"qwen2_moe", {"Qwen2MoeForCausalLM", NULL}, 0, rl_norm_qwen2_moe}, /* fam_moe.c */
    {"qwen3_moe", {"Qwen3MoeForCausalLM", NULL}, 0, rl_norm_qwen3_moe}, /* fam_moe.c */
    {"qwen3_vl_moe", {NULL}, 0, rl_norm_qwen3_vl_moe}, /* fam_moe.c: the text model of Qwen3-VL-MoE (mm_text) */
    {"glm4_moe", {"Glm4MoeForCausalLM", NULL}, 0, rl_norm_glm4_moe}, /* fam_moe.c */
    {"exaone_moe", {"ExaoneMoeForCausalLM", NULL}, 0, rl_norm_exaone_moe}, /* fam_moe.c */
    {"deepseek_v2", {"DeepseekV2ForCausalLM", NULL}, 0, rl_norm_deepseek}, /* fam_deepseek.c */
    {"deepseek_v3", {"DeepseekV3ForCausalLM", NULL}, 0, rl_norm_deepseek}, /* fam_deepseek.c */
    {"glm_moe_dsa", {"GlmMoeDsaForCausalLM", NULL}, 0, rl_norm_glm_moe_dsa}, /* fam_deepseek.c */
    {"deepseek_v32", {"DeepseekV32ForCausalLM", NULL}, 0, rl_norm_deepseek_v32}, /* fam_deepseek.c: V3 + DSA */
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

int rl_family_no_attention(const rl_family *f) { return f->normalize == rl_norm_mamba; }

const rl_family *rl_family_find(const char *arch, const char *model_type) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        for (int j = 0; arch && FAMILIES[i].archs[j]; j++)
            if (!strcmp(arch, FAMILIES[i].archs[j])) return &FAMILIES[i];
    if (!arch && model_type)
        for (size_t i = 0; i < N_FAMILIES; i++)
            if (!strcmp(model_type, FAMILIES[i].name)) return &FAMILIES[i];
    return NULL;
}

void rl_family_list(char *buf, size_t cap) {
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < N_FAMILIES; i++)
        for (int j = 0; FAMILIES[i].archs[j]; j++) {
            int w = snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", FAMILIES[i].archs[j]);
            if (w < 0 || (size_t)w >= cap - n) return;
            n += (size_t)w;
        }
}
