/* The text stacks of multimodal checkpoints: a fixture wrapped as the multimodal form of its
 * family — its config as text_config beside a vision_config, its tensors under the language
 * model's prefix, plus vision tensors of NaNs that must never be read — reproduces the fixture's
 * golden on the cpu, cpu-staged and the GPU backends that open here:
 * Mistral 3 (Mistral Small 3.x) under the original names (language_model.model.*,
 * language_model.lm_head) and transformers v5's (model.language_model.*, lm_head); Qwen3.5 and
 * Qwen3.5-MoE (…ForConditionalGeneration: model.language_model.*, experts found there too);
 * GPTQ, AWQ and bitsandbytes checkpoints wrapped the same way (quantization_config at the top);
 * Llava (a Llama text model), Qwen2.5-VL (its original flat config with "mrope" rope scaling and
 * model.layers.* names, and transformers v5's form), Qwen3-VL (interleaved rotary sections) and
 * Qwen3-VL-MoE (the experts fused in the grouped-GEMM layout its checkpoints store: gate_up_proj
 * [E, hidden, 2I], down_proj [E, I, hidden]); the Qwen-VL ones also written as llama.cpp's
 * qwen2vl / qwen3vl / qwen3vlmoe GGUF (the M-RoPE sections, the experts transposed and split) and
 * read back against the same golden; GLM-4.1V and GLM-4.5V (GLM-4's / GLM-4.5's text model with
 * M-RoPE sections over the partial rotary dims, model.language_model.*), InternVL (a Qwen3 text
 * model; and its remote-code form InternVLChatModel: llm_config, language_model.model.*), SmolVLM
 * and Idefics3 (a Llama one under model.text_model.*). */
#include "repack.h"

typedef struct {
    const char *fixture;     /* under ../shared */
    const char *arch, *model_type;
    const char *layers;      /* what "model." becomes */
    const char *head;        /* what "lm_head." becomes */
    const char *vision[2];   /* tensors of the vision side */
    int flat;                /* 1: the config stays flat (Qwen2-VL's original form), no text_config */
    const char *mrope;       /* "mrope": rope_scaling {type mrope, sections}; "interleaved": Qwen3-VL's */
    const char *text_type;   /* text_config's model_type (NULL: the fixture's) */
    int moe_t;               /* per-expert tensors fused into the grouped-GEMM layout: gate_up_proj
                                [E, hidden, 2I] (gate columns, then up), down_proj [E, I, hidden] */
} mm_case;

/* Expert tensors of layer l fused transposed (moe_t) into o[*n], o[*n + 1]. */
static int fuse_transposed(rl_checkpoint *ck, int l, repack_t *o, int *n) {
    const rl_tensor_info *t;
    char name[160];
    snprintf(name, sizeof name, "model.layers.%d.mlp.experts.0.gate_proj.weight", l);
    if (!(t = rl_ckpt_find(ck, name))) return -1;
    int I = (int)t->shape[0], H = (int)t->shape[1], E = 0;
    for (;; E++) {
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.gate_proj.weight", l, E);
        if (!rl_ckpt_find(ck, name)) break;
    }
    size_t es = RL_DTYPES[t->dtype].size;
    repack_t *gu = &o[(*n)++], *dn = &o[(*n)++];
    snprintf(gu->name, sizeof gu->name, "model.layers.%d.mlp.experts.gate_up_proj", l);
    snprintf(dn->name, sizeof dn->name, "model.layers.%d.mlp.experts.down_proj", l);
    gu->dt = dn->dt = t->dtype; gu->ndim = dn->ndim = 3;
    gu->shape[0] = dn->shape[0] = E; gu->shape[1] = H; gu->shape[2] = 2 * I; dn->shape[1] = I; dn->shape[2] = H;
    gu->bytes = dn->bytes = 0;
    gu->bytes = (size_t)E * H * 2 * I * es; dn->bytes = (size_t)E * I * H * es;
    gu->data = malloc(gu->bytes); dn->data = malloc(dn->bytes);
    int rc = !gu->data || !dn->data;
    for (int e = 0; e < E && !rc; e++)
        for (int p = 0; p < 3 && !rc; p++) {
            static const char *R[3] = {"gate_proj", "up_proj", "down_proj"};
            snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d.%s.weight", l, e, R[p]);
            uint8_t *w = repack_load(ck, name, &t); /* [I, H] or [H, I] (down) */
            if (!w) { rc = 1; break; }
            int rows = p < 2 ? I : H, cols = p < 2 ? H : I;
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) { /* element (r, c) to (c, r) of the expert's [in, out] */
                    uint8_t *dst = p < 2 ? gu->data + (((size_t)e * H + c) * 2 * I + (size_t)p * I + r) * es
                                         : dn->data + (((size_t)e * I + c) * H + r) * es;
                    memcpy(dst, w + ((size_t)r * cols + c) * es, es);
                }
            free(w);
        }
    return rc ? -1 : 0;
}

/* Multimodal rotary sections over the rotary pairs of the text config (any split: text positions
 * give every section the same position); "glm": GLM-4.1V / 4.5V's form, over the partial rotary
 * dims with rope type "default". */
static void add_mrope(cJSON *text, const char *kind) {
    int hd = cJSON_GetObjectItem(text, "head_dim") ? cJSON_GetObjectItem(text, "head_dim")->valueint
                                                   : cJSON_GetObjectItem(text, "hidden_size")->valueint / cJSON_GetObjectItem(text, "num_attention_heads")->valueint;
    const cJSON *prf = cJSON_GetObjectItem(text, "partial_rotary_factor");
    int p = (!strcmp(kind, "glm") && prf ? (int)(hd * prf->valuedouble) : hd) / 2, sec[3] = {p - 2 * (p / 3), p / 3, p / 3};
    cJSON *r = cJSON_CreateObject();
    if (!strcmp(kind, "mrope")) cJSON_AddStringToObject(r, "type", "mrope");
    else if (!strcmp(kind, "glm")) cJSON_AddStringToObject(r, "type", "default");
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
    if (c->text_type) cJSON_ReplaceItemInObject(text, "model_type", cJSON_CreateString(c->text_type));
    cJSON *qc = cJSON_DetachItemFromObject(text, "quantization_config"); /* HF keeps it at the top */
    if (qc) cJSON_AddItemToObject(cfg, "quantization_config", qc);
    if (c->flat) { /* the text keys at the top, the wrapper's model_type */
        cJSON_Delete(cfg);
        cfg = text;
        cJSON_DeleteItemFromObject(cfg, "model_type");
    }
    cJSON_AddItemToObject(cfg, "architectures", cJSON_CreateStringArray(&c->arch, 1));
    cJSON_AddStringToObject(cfg, "model_type", c->model_type);
    if (!c->flat) cJSON_AddItemToObject(cfg, strcmp(c->model_type, "internvl_chat") ? "text_config" : "llm_config", text); /* (InternVL's remote code) */
    cJSON *vis = cJSON_AddObjectToObject(cfg, "vision_config");
    cJSON_AddNumberToObject(vis, "hidden_size", 8);
    int n_in = rl_ckpt_n_tensors(ck), n = 0, rc = 0;
    repack_t *o = calloc((size_t)n_in + 2, sizeof *o);
    for (int i = 0; o && i < n_in && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        int l, e;
        char rest[96];
        if (c->moe_t && sscanf(t->name, "model.layers.%d.mlp.experts.%d.%95s", &l, &e, rest) == 3) {
            if (e == 0 && !strcmp(rest, "gate_proj.weight")) rc = fuse_transposed(ck, l, o, &n);
            if (rc) break;
            if (e == 0 && !strcmp(rest, "gate_proj.weight")) /* (under the prefix too) */
                for (int k = n - 2; k < n; k++) {
                    char nm[128];
                    snprintf(nm, sizeof nm, "%s%s", c->layers, o[k].name + 6);
                    snprintf(o[k].name, sizeof o[k].name, "%s", nm);
                }
            continue;
        }
        rc = repack_copy(ck, t, &o[n]);
        if (!strncmp(t->name, "model.", 6)) snprintf(o[n].name, sizeof o[n].name, "%s%s", c->layers, t->name + 6);
        else if (!strncmp(t->name, "lm_head.", 8)) snprintf(o[n].name, sizeof o[n].name, "%s%s", c->head, t->name + 8);
        n++;
    }
    for (int k = 0; o && k < 2 && !rc; k++) rc = repack_nan(&o[n + k], c->vision[k]); /* the vision side, never read */
    return repack_finish(dir, cfg, ck, o, n + 2, rc);
}

static void test_golden(void) {
    static const mm_case C[] = {
#define MISTRAL3_OLD "Mistral3ForConditionalGeneration", "mistral3", "language_model.model.", "language_model.lm_head.", \
        {"vision_tower.transformer.layers.0.attention.q_proj.weight", "multi_modal_projector.linear_1.weight"}, 0, NULL, NULL, 0
#define MISTRAL3_V5 "Mistral3ForConditionalGeneration", "mistral3", "model.language_model.", "lm_head.", \
        {"model.vision_tower.transformer.layers.0.attention.q_proj.weight", "model.multi_modal_projector.linear_1.weight"}, 0, NULL, NULL, 0
#define QWEN_VL "model.language_model.", "lm_head.", {"model.visual.blocks.0.attn.qkv.weight", "model.visual.merger.linear_fc1.weight"}
        {"fixtures/mistral", MISTRAL3_OLD},
        {"fixtures/mistral", MISTRAL3_V5},
        {"fixtures/qwen3_5", "Qwen3_5ForConditionalGeneration", "qwen3_5", QWEN_VL, 0, NULL, NULL, 0},
        {"fixtures/qwen3_5_moe", "Qwen3_5MoeForConditionalGeneration", "qwen3_5_moe", QWEN_VL, 0, NULL, NULL, 0},
        /* pre-quantized (Llama stacks, which Mistral 3's text model reads): the quantized forms'
         * extra tensors found under the same prefix */
        {"fixtures-quant/llama_gptq_4bit_actorder", MISTRAL3_OLD},
        {"fixtures-quant/llama_awq_4bit", MISTRAL3_V5},
        {"fixtures-quant/llama_bnb_nf4", MISTRAL3_OLD},
        /* Llava (a Llama text model), Qwen2.5-VL in its original flat form (model.layers.*,
         * visual.*, "mrope" rope scaling) and transformers v5's, Qwen3-VL (interleaved sections) */
        {"fixtures/llama", "LlavaForConditionalGeneration", "llava", "language_model.model.", "language_model.lm_head.",
         {"vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight", "multi_modal_projector.linear_1.weight"}, 0, NULL, NULL, 0},
        {"fixtures/qwen2", "Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl", "model.", "lm_head.",
         {"visual.blocks.0.attn.qkv.weight", "visual.merger.mlp.0.weight"}, 1, "mrope", NULL, 0},
        {"fixtures/qwen2", "Qwen2_5_VLForConditionalGeneration", "qwen2_5_vl", QWEN_VL, 0, "mrope", NULL, 0},
        {"fixtures/qwen3", "Qwen3VLForConditionalGeneration", "qwen3_vl", QWEN_VL, 0, "interleaved", NULL, 0},
        /* Qwen3-VL-MoE: experts fused in the grouped-GEMM layout the checkpoints store */
        {"fixtures/qwen3_moe", "Qwen3VLMoeForConditionalGeneration", "qwen3_vl_moe", QWEN_VL, 0, "interleaved", "qwen3_vl_moe_text", 1},
        /* GLM-4.1V / GLM-4.5V: GLM-4's and GLM-4.5's text models with M-RoPE sections over the partial rotary dims */
        {"fixtures/glm4", "Glm4vForConditionalGeneration", "glm4v", "model.language_model.", "lm_head.",
         {"model.visual.blocks.0.attn.qkv.weight", "model.visual.merger.proj.weight"}, 0, "glm", "glm4v_text", 0},
        {"fixtures/glm4_moe", "Glm4vMoeForConditionalGeneration", "glm4v_moe", "model.language_model.", "lm_head.",
         {"model.visual.blocks.0.attn.qkv.weight", "model.visual.merger.proj.weight"}, 0, "glm", "glm4v_moe_text", 0},
        /* InternVL (a Qwen2 / Qwen3 text model), SmolVLM / Idefics3 (Llama's, under model.text_model.) */
        {"fixtures/qwen3", "InternVLForConditionalGeneration", "internvl", "model.language_model.", "lm_head.",
         {"model.vision_tower.encoder.layer.0.attention.q_proj.weight", "model.multi_modal_projector.linear_1.weight"}, 0, NULL, NULL, 0},
        /* LLaVA-NeXT (a Llama / Mistral text model) and LLaVA-OneVision (Qwen2's), transformers v5's names and the older */
        {"fixtures/mistral", "LlavaNextForConditionalGeneration", "llava_next", "model.language_model.", "lm_head.",
         {"model.vision_tower.vision_model.embeddings.patch_embedding.weight", "model.image_newline"}, 0, NULL, NULL, 0},
        {"fixtures/qwen2", "LlavaOnevisionForConditionalGeneration", "llava_onevision", "language_model.model.", "language_model.lm_head.",
         {"vision_tower.vision_model.embeddings.patch_embedding.weight", "image_newline"}, 0, NULL, NULL, 0},
        {"fixtures/qwen2", "InternVLChatModel", "internvl_chat", "language_model.model.", "language_model.lm_head.",
         {"vision_model.encoder.layers.0.attn.qkv.weight", "mlp1.1.weight"}, 0, NULL, NULL, 0},
        {"fixtures/llama", "SmolVLMForConditionalGeneration", "smolvlm", "model.text_model.", "lm_head.",
         {"model.vision_model.encoder.layers.0.self_attn.q_proj.weight", "model.connector.modality_projection.proj.weight"}, 0, NULL, NULL, 0},
        {"fixtures/llama", "Idefics3ForConditionalGeneration", "idefics3", "model.text_model.", "lm_head.",
         {"model.vision_model.encoder.layers.0.self_attn.q_proj.weight", "model.connector.modality_projection.proj.weight"}, 0, NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char src[512], name[160];
        snprintf(src, sizeof src, "%s/%s", t_shared(), C[i].fixture);
        snprintf(name, sizeof name, "%s (%s*)", C[i].arch, C[i].layers);
        /* Qwen2.5-VL / Qwen3-VL(-MoE): also as llama.cpp's qwen2vl / qwen3vl / qwen3vlmoe GGUF */
        repack_and_check_gguf(src, name, repack, &C[i], C[i].mrope != NULL && strcmp(C[i].mrope, "glm"));
    }
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
