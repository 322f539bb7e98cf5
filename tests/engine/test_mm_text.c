/* The text stacks of multimodal checkpoints: a fixture wrapped as the multimodal form of its
 * family — its config as text_config beside a vision_config, its tensors under the language
 * model's prefix, plus vision tensors of NaNs that must never be read — reproduces the fixture's
 * golden on the cpu, cpu-staged and the GPU backends that open here:
 * Mistral 3 (Mistral Small 3.x) under the original names (language_model.model.*,
 * language_model.lm_head) and transformers v5's (model.language_model.*, lm_head); Qwen3.5 and
 * Qwen3.5-MoE (…ForConditionalGeneration: model.language_model.*, experts found there too);
 * GPTQ, AWQ and bitsandbytes checkpoints wrapped the same way (quantization_config at the top);
 * Llava (a Llama text model), Qwen2.5-VL (its original flat config with "mrope" rope scaling and
 * model.layers.* names, and transformers v5's form) and Qwen3-VL (interleaved rotary sections). */
#include "repack.h"

typedef struct {
    const char *fixture;     /* under ../shared */
    const char *arch, *model_type;
    const char *layers;      /* what "model." becomes */
    const char *head;        /* what "lm_head." becomes */
    const char *vision[2];   /* tensors of the vision side */
    int flat;                /* 1: the config stays flat (Qwen2-VL's original form), no text_config */
    const char *mrope;       /* "mrope": rope_scaling {type mrope, sections}; "interleaved": Qwen3-VL's */
} mm_case;

/* Multimodal rotary sections over the rotary pairs of the text config (any split: text positions
 * give every section the same position). */
static void add_mrope(cJSON *text, const char *kind) {
    int hd = cJSON_GetObjectItem(text, "head_dim") ? cJSON_GetObjectItem(text, "head_dim")->valueint
                                                   : cJSON_GetObjectItem(text, "hidden_size")->valueint / cJSON_GetObjectItem(text, "num_attention_heads")->valueint;
    int p = hd / 2, sec[3] = {p - 2 * (p / 3), p / 3, p / 3};
    cJSON *r = cJSON_CreateObject();
    if (!strcmp(kind, "mrope")) cJSON_AddStringToObject(r, "type", "mrope");
    else { cJSON_AddStringToObject(r, "rope_type", "default"); cJSON_AddTrueToObject(r, "mrope_interleaved"); }
    cJSON_AddItemToObject(r, "mrope_section", cJSON_CreateIntArray(sec, 3));
    cJSON_DeleteItemFromObject(text, "rope_scaling");
    cJSON_AddItemToObject(text, "rope_scaling", r);
}

static int repack(const char *src, const char *dir, const void *arg) {
    const mm_case *c = arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *text = rl_json_load(path), *cfg = cJSON_CreateObject();
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!text || !cfg || !ck) { cJSON_Delete(text); cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    cJSON_DeleteItemFromObject(text, "architectures");
    if (c->mrope) add_mrope(text, c->mrope);
    cJSON *qc = cJSON_DetachItemFromObject(text, "quantization_config"); /* HF keeps it at the top */
    if (qc) cJSON_AddItemToObject(cfg, "quantization_config", qc);
    if (c->flat) { /* the text keys at the top, the wrapper's model_type */
        cJSON_Delete(cfg);
        cfg = text;
        cJSON_DeleteItemFromObject(cfg, "model_type");
    }
    cJSON_AddItemToObject(cfg, "architectures", cJSON_CreateStringArray(&c->arch, 1));
    cJSON_AddStringToObject(cfg, "model_type", c->model_type);
    if (!c->flat) cJSON_AddItemToObject(cfg, "text_config", text);
    cJSON *vis = cJSON_AddObjectToObject(cfg, "vision_config");
    cJSON_AddNumberToObject(vis, "hidden_size", 8);
    int n = rl_ckpt_n_tensors(ck), rc = 0;
    repack_t *o = calloc((size_t)n + 2, sizeof *o);
    for (int i = 0; o && i < n && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        rc = repack_copy(ck, t, &o[i]);
        if (!strncmp(t->name, "model.", 6)) snprintf(o[i].name, sizeof o[i].name, "%s%s", c->layers, t->name + 6);
        else if (!strncmp(t->name, "lm_head.", 8)) snprintf(o[i].name, sizeof o[i].name, "%s%s", c->head, t->name + 8);
    }
    for (int k = 0; o && k < 2 && !rc; k++) { /* the vision side, never read (NaN: any use would show) */
        repack_t *x = &o[n + k];
        snprintf(x->name, sizeof x->name, "%s", c->vision[k]);
        x->dt = RL_DT_F32; x->ndim = 2; x->shape[0] = 8; x->shape[1] = 8; x->bytes = 64 * sizeof(float);
        x->data = malloc(x->bytes);
        for (int j = 0; x->data && j < 64; j++) ((float *)x->data)[j] = NAN;
    }
    return repack_finish(dir, cfg, ck, o, n + 2, rc);
}

static void test_golden(void) {
    static const mm_case C[] = {
#define MISTRAL3_OLD "Mistral3ForConditionalGeneration", "mistral3", "language_model.model.", "language_model.lm_head.", \
        {"vision_tower.transformer.layers.0.attention.q_proj.weight", "multi_modal_projector.linear_1.weight"}, 0, NULL
#define MISTRAL3_V5 "Mistral3ForConditionalGeneration", "mistral3", "model.language_model.", "lm_head.", \
        {"model.vision_tower.transformer.layers.0.attention.q_proj.weight", "model.multi_modal_projector.linear_1.weight"}, 0, NULL
#define QWEN_VL "model.language_model.", "lm_head.", {"model.visual.blocks.0.attn.qkv.weight", "model.visual.merger.linear_fc1.weight"}
        {"fixtures/mistral", MISTRAL3_OLD},
        {"fixtures/mistral", MISTRAL3_V5},
        {"fixtures/qwen3_5", "Qwen3_5ForConditionalGeneration", "qwen3_5", QWEN_VL, 0, NULL},
        {"fixtures/qwen3_5_moe", "Qwen3_5MoeForConditionalGeneration", "qwen3_5_moe", QWEN_VL, 0, NULL},
        /* pre-quantized (Llama stacks, which Mistral 3's text model reads): the quantized forms'
         * extra tensors found under the same prefix */
        {"fixtures-quant/llama_gptq_4bit_actorder", MISTRAL3_OLD},
        {"fixtures-quant/llama_awq_4bit", MISTRAL3_V5},
        {"fixtures-quant/llama_bnb_nf4", MISTRAL3_OLD},
        /* Llava (a Llama text model), Qwen2.5-VL in its original flat form (model.layers.*,
         * visual.*, "mrope" rope scaling) and transformers v5's, Qwen3-VL (interleaved sections) */
        {"fixtures/llama", "LlavaForConditionalGeneration", "llava", "language_model.model.", "language_model.lm_head.",
         {"vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", "multi_modal_projector.linear_1.weight"}, 0, NULL},
        {"fixtures/qwen2", "Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl", "model.", "lm_head.",
         {"visual.blocks.0.attn.qkv.weight", "visual.merger.mlp.0.weight"}, 1, "mrope"},
        {"fixtures/qwen2", "Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl", QWEN_VL, 0, "mrope"},
        {"fixtures/qwen3", "Qwen3VLForConditionalGeneration", "qwen3_vl", QWEN_VL, 0, "interleaved"},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char src[512], name[160];
        snprintf(src, sizeof src, "%s/%s", t_shared(), C[i].fixture);
        snprintf(name, sizeof name, "%s (%s*)", C[i].arch, C[i].layers);
        repack_and_check(src, name, repack, &C[i]);
    }
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
