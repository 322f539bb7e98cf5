/* Mistral 3 (Mistral3ForConditionalGeneration: Mistral Small 3.1 / 3.2): the mistral fixture
 * wrapped as the multimodal checkpoint — its config as text_config beside a vision_config, its
 * tensors under language_model.model.* with language_model.lm_head (the original upload) or
 * under model.language_model.* with lm_head (transformers v5), plus vision tower and projector
 * tensors that must never be read — reproduces the mistral golden on the cpu, cpu-staged and the
 * GPU backends that open here. */
#include "repack.h"

#define SRC "fixtures/mistral"

/* v5: 1 for the transformers v5 names. */
static int repack(const char *src, const char *dir, int v5) {
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *text = rl_json_load(path), *cfg = cJSON_CreateObject();
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!text || !cfg || !ck) { cJSON_Delete(text); cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    cJSON_DeleteItemFromObject(text, "architectures");
    cJSON_AddItemToObject(cfg, "architectures", cJSON_CreateStringArray((const char *[]){"Mistral3ForConditionalGeneration"}, 1));
    cJSON_AddStringToObject(cfg, "model_type", "mistral3");
    cJSON_AddItemToObject(cfg, "text_config", text);
    cJSON *vis = cJSON_AddObjectToObject(cfg, "vision_config");
    cJSON_AddStringToObject(vis, "model_type", "pixtral");
    cJSON_AddNumberToObject(vis, "hidden_size", 8);
    int n = rl_ckpt_n_tensors(ck), rc = 0;
    repack_t *o = calloc((size_t)n + 2, sizeof *o);
    for (int i = 0; o && i < n && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        rc = repack_copy(ck, t, &o[i]);
        if (!strncmp(t->name, "model.", 6))
            snprintf(o[i].name, sizeof o[i].name, "%s%s", v5 ? "model.language_model." : "language_model.model.", t->name + 6);
        else if (!v5)
            snprintf(o[i].name, sizeof o[i].name, "language_model.%s", t->name);
    }
    static const char *const VIS[2] = {"vision_tower.transformer.layers.0.attention.q_proj.weight", "multi_modal_projector.linear_1.weight"};
    for (int k = 0; o && k < 2 && !rc; k++) { /* the vision side, never read (NaN: any use would show) */
        repack_t *x = &o[n + k];
        snprintf(x->name, sizeof x->name, "%s", VIS[k]);
        x->dt = RL_DT_F32; x->ndim = 2; x->shape[0] = 8; x->shape[1] = 8; x->bytes = 64 * sizeof(float);
        x->data = malloc(x->bytes);
        for (int j = 0; x->data && j < 64; j++) ((float *)x->data)[j] = NAN;
    }
    if (!o) rc = 1;
    else if (rc) for (int i = 0; i < n + 2; i++) free(o[i].data);
    else rc = repack_write(dir, cfg, o, n + 2);
    free(o);
    cJSON_Delete(cfg);
    rl_ckpt_close(ck);
    return rc ? -1 : 0;
}

static void test_golden(void) {
    char src[512];
    snprintf(src, sizeof src, "%s/" SRC, t_shared());
    for (int v5 = 0; v5 <= 1; v5++) {
        char dir[64] = "/tmp/rl_mistral3_XXXXXX", cmd[200];
        CHECK(mkdtemp(dir) != NULL, "mkdtemp");
        CHECK(repack(src, dir, v5) == 0, "repack: %s", rl_last_error());
        repack_check(dir, src, v5 ? "mistral3 (v5 names)" : "mistral3");
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0, "cleanup");
    }
}

int main(void) {
    RUN_SHARED(test_golden);
    TEST_END();
}
