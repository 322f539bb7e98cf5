/* Llama 4's text model (Llama4ForCausalLM, and Llama4ForConditionalGeneration's language model
 * under language_model.model.* / language_model.lm_head). No llama.cpp golden exists for it in
 * ../shared, so synthetic checkpoints are checked against a reference written here from
 * transformers' modeling_llama4.py in double precision, sharing no code with the engine
 * (refcheck.h): per layer input_layernorm; q / k / v; on the rotary layers the interleaved
 * (complex) rotation with llama3-scaled frequencies, then q and k RMS-normalised per head without
 * a weight (use_qk_norm), then attention within chunks of attention_chunk_size positions; on the
 * NoPE layers (no_rope_layers, every 4th by default) the queries times 1 + attn_scale *
 * log1p(floor((pos + 1) / floor_scale)) and attention over every earlier position; o_proj;
 * post_attention_layernorm; on the MoE layers the router's top-k logits through a sigmoid, each
 * weight multiplying its expert's input (gate_up_proj [E, hidden, 2I]: gate columns then up;
 * down_proj [E, I, hidden]) plus the shared expert; on the others the dense MLP of
 * intermediate_size_mlp; the final norm and lm_head. Small chunks (4) and floor_scale (3) make
 * the prompt and its continuation cross several chunks and temperatures. Every prefill and decode
 * row within 1e-3 and the same greedy ids on every backend, the prompt in one sweep and in sweeps
 * of 4; with every routed expert on the CPU beside a GPU backend, or uploaded; the wrapped
 * multimodal form (vision tensors of NaNs never read) and the experts stored per expert (the FP8
 * releases' layout) against the same rows. Written as F32 GGUF
 * (`quantize --gguf`: llama.cpp's llama4, the experts transposed and split as its converter does,
 * from the wrapped checkpoint too) and read back against the same rows where llama.cpp's fixed
 * chunk of 8192, NoPE step 4 and temperature 0.1 / 8192 say the same; refused, naming llama.cpp,
 * where they do not. */
#include "refcheck.h"
#include "repack.h"
#include "model/config.h"

enum { H = 64, NH = 4, NKV = 2, HD = 16, V = 256, L = 4, P = 9, G = 6, E = 4, I = 32, IM = 96 };

typedef struct {
    const char *name;
    int topk;
    int rope[L];     /* 1: rotary layer (no_rope_layers) */
    int moe[L];      /* 1: MoE layer */
    int qk_norm, temp;
    int chunk, floor_scale;
    const char *extra;
    int wrap;        /* 1: as Llama4ForConditionalGeneration; 2: the experts stored per expert (the FP8 releases' layout) */
    int gguf;        /* 1: also written as F32 GGUF and read back; -1: that export refused, naming llama.cpp */
} l4_case;

/* Chunks of 4 and floor_scale 3 let the 15 positions cross chunks and temperatures; llama.cpp's
 * llama4 fixes them at 8192 (its GGUF cases) */
static const l4_case CASES[] = {
    {"llama4 (Scout-like: experts everywhere, top-1, qk norm)", 1, {1, 1, 1, 0}, {1, 1, 1, 1}, 1, 1, 4, 3,
     ",\"no_rope_layers\":[],\"interleave_moe_layer_step\":1", 0, -1},
    {"llama4 (Maverick-like: dense and MoE layers, top-2, no qk norm)", 2, {1, 0, 1, 0}, {0, 1, 0, 1}, 0, 1, 4, 3,
     ",\"no_rope_layers\":[1,0,1,0],\"interleave_moe_layer_step\":2,\"use_qk_norm\":false", 0, -1},
    {"llama4 (moe_layers, no temperature tuning)", 1, {0, 1, 1, 1}, {1, 0, 0, 1}, 1, 0, 4, 3,
     ",\"no_rope_layers\":[0,1,1,1],\"moe_layers\":[0,3],\"attn_temperature_tuning\":false", 0, -1},
    {"llama4 (Llama4ForConditionalGeneration)", 1, {1, 1, 1, 0}, {1, 1, 1, 1}, 1, 1, 4, 3, ",\"no_rope_layers\":[]", 1, 0},
    {"llama4 (llama.cpp's constants, dense and MoE layers)", 2, {1, 1, 1, 0}, {0, 1, 0, 1}, 1, 1, 8192, 8192,
     ",\"interleave_moe_layer_step\":2", 0, 1},
    {"llama4 (Llama4ForConditionalGeneration, llama.cpp's constants)", 1, {1, 1, 1, 0}, {1, 1, 1, 1}, 1, 1, 8192, 8192, "", 1, 1},
    {"llama4 (experts stored per expert)", 2, {1, 0, 1, 0}, {0, 1, 0, 1}, 0, 1, 4, 3,
     ",\"no_rope_layers\":[1,0,1,0],\"interleave_moe_layer_step\":2,\"use_qk_norm\":false", 2, 0},
    {"llama4 (experts stored per expert, llama.cpp's constants)", 1, {1, 1, 1, 0}, {1, 1, 1, 1}, 1, 1, 8192, 8192, "", 2, 1},
};

static void rmsnorm(double *o, const double *x, const double *w, int n) { ref_rmsnorm(o, x, w, n, 1e-5); }

/* transformers' llama3 rope frequencies (factor 16, low = high = 1, original 8192: Scout's). */
static void inv_freq(double *f) {
    const double theta = 500000, factor = 16, orig = 8192;
    for (int i = 0; i < HD / 2; i++) {
        double inv = pow(theta, -2.0 * i / HD), wl = 2 * M_PI / inv;
        f[i] = wl > orig ? inv / factor : inv; /* low_freq_wavelen = high_freq_wavelen: no band between */
    }
}

/* Attention of layer l over the n normed rows hn into out. */
static void attention(const l4_case *c, int l, const double *hn, int n, double *out) {
    int qd = NH * HD, kd = NKV * HD;
    double *wq = ref_tensor("model.layers.%d.self_attn.q_proj.weight", l, (size_t)qd * H);
    double *wk = ref_tensor("model.layers.%d.self_attn.k_proj.weight", l, (size_t)kd * H);
    double *wv = ref_tensor("model.layers.%d.self_attn.v_proj.weight", l, (size_t)kd * H);
    double *wo = ref_tensor("model.layers.%d.self_attn.o_proj.weight", l, (size_t)H * qd);
    double *q = malloc(sizeof *q * (size_t)n * qd), *k = malloc(sizeof *k * (size_t)n * kd), *v = malloc(sizeof *v * (size_t)n * kd);
    double f[HD / 2], a[NH * HD];
    inv_freq(f);
    for (int t = 0; t < n; t++) {
        ref_linear(q + (size_t)t * qd, wq, NULL, hn + (size_t)t * H, qd, H);
        ref_linear(k + (size_t)t * kd, wk, NULL, hn + (size_t)t * H, kd, H);
        ref_linear(v + (size_t)t * kd, wv, NULL, hn + (size_t)t * H, kd, H);
        for (int r = 0; r < NH + NKV; r++) {
            double *z = r < NH ? q + (size_t)t * qd + r * HD : k + (size_t)t * kd + (r - NH) * HD;
            if (!c->rope[l]) continue;
            for (int i = 0; i < HD / 2; i++) { /* (z[2i] + i z[2i+1]) * e^(i t f) */
                double cs = cos(t * f[i]), sn = sin(t * f[i]), x0 = z[2 * i], x1 = z[2 * i + 1];
                z[2 * i] = x0 * cs - x1 * sn;
                z[2 * i + 1] = x0 * sn + x1 * cs;
            }
            if (c->qk_norm) rmsnorm(z, z, NULL, HD);
        }
        if (!c->rope[l] && c->temp)
            for (int i = 0; i < qd; i++) q[(size_t)t * qd + i] *= log1p(floor((t + 1.0) / c->floor_scale)) * 0.1 + 1.0;
    }
    for (int t = 0; t < n; t++) {
        ref_attend_from(a, q, k, v, t, c->rope[l] ? t - t % c->chunk : 0, NH, NKV, HD, NULL); /* rotary layers: chunked */
        ref_linear(out + (size_t)t * H, wo, NULL, a, H, qd);
    }
    free(wq); free(wk); free(wv); free(wo); free(q); free(k); free(v);
}

/* y += down(silu(gate x) * up x), gate / up rows [inter, H] (or, t: columns of [H, 2 inter]). */
static void glu(double *y, const double *wg, const double *wu, const double *wd, const double *x, int inter, int t) {
    double g[IM], u[IM], o[H];
    for (int i = 0; i < inter; i++) {
        double a = 0, b = 0;
        for (int h = 0; h < H; h++) {
            a += x[h] * (t ? wg[(size_t)h * 2 * inter + i] : wg[(size_t)i * H + h]);
            b += x[h] * (t ? wg[(size_t)h * 2 * inter + inter + i] : wu[(size_t)i * H + h]);
        }
        g[i] = a / (1 + exp(-a));
        u[i] = b;
    }
    for (int i = 0; i < inter; i++) g[i] *= u[i];
    for (int h = 0; h < H; h++) {
        double a = 0;
        for (int i = 0; i < inter; i++) a += g[i] * (t ? wd[(size_t)i * H + h] : wd[(size_t)h * inter + i]);
        o[h] = a;
    }
    for (int h = 0; h < H; h++) y[h] += o[h];
}

/* The feed-forward of layer l (Llama4TextMoe or Llama4TextMLP) into out. */
static void feed_forward(const l4_case *c, int l, const double *hn, int n, double *out) {
    memset(out, 0, sizeof *out * (size_t)n * H);
    if (!c->moe[l]) {
        double *wg = ref_tensor("model.layers.%d.feed_forward.gate_proj.weight", l, (size_t)IM * H);
        double *wu = ref_tensor("model.layers.%d.feed_forward.up_proj.weight", l, (size_t)IM * H);
        double *wd = ref_tensor("model.layers.%d.feed_forward.down_proj.weight", l, (size_t)H * IM);
        for (int t = 0; t < n; t++) glu(out + (size_t)t * H, wg, wu, wd, hn + (size_t)t * H, IM, 0);
        free(wg); free(wu); free(wd);
        return;
    }
    double *rw = ref_tensor("model.layers.%d.feed_forward.router.weight", l, (size_t)E * H);
    double *gu = ref_tensor("model.layers.%d.feed_forward.experts.gate_up_proj", l, (size_t)E * H * 2 * I);
    double *dn = ref_tensor("model.layers.%d.feed_forward.experts.down_proj", l, (size_t)E * I * H);
    double *sg = ref_tensor("model.layers.%d.feed_forward.shared_expert.gate_proj.weight", l, (size_t)I * H);
    double *su = ref_tensor("model.layers.%d.feed_forward.shared_expert.up_proj.weight", l, (size_t)I * H);
    double *sd = ref_tensor("model.layers.%d.feed_forward.shared_expert.down_proj.weight", l, (size_t)H * I);
    for (int t = 0; t < n; t++) {
        const double *x = hn + (size_t)t * H;
        double *y = out + (size_t)t * H, lg[E], xs[H];
        ref_linear(lg, rw, NULL, x, E, H);
        int used[E] = {0};
        for (int j = 0; j < c->topk; j++) { /* torch.topk of the logits, then sigmoid */
            int b = -1;
            for (int e = 0; e < E; e++) if (!used[e] && (b < 0 || lg[e] > lg[b])) b = e;
            used[b] = 1;
            double w = 1 / (1 + exp(-lg[b]));
            for (int h = 0; h < H; h++) xs[h] = x[h] * w; /* the weight on the expert's input */
            glu(y, gu + (size_t)b * H * 2 * I, NULL, dn + (size_t)b * I * H, xs, I, 1);
        }
        glu(y, sg, su, sd, x, I, 0);
    }
    free(rw); free(gu); free(dn); free(sg); free(su); free(sd);
}

static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    const l4_case *c = arg;
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *hn = malloc(sizeof *hn * (size_t)n * H), *o = malloc(sizeof *o * (size_t)n * H);
    for (int l = 0; l < L; l++) {
        double *n1 = ref_tensor("model.layers.%d.input_layernorm.weight", l, H);
        double *n2 = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n1, H);
        attention(c, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        for (int t = 0; t < n; t++) rmsnorm(hn + (size_t)t * H, x + (size_t)t * H, n2, H);
        feed_forward(c, l, hn, n, o);
        for (size_t i = 0; i < (size_t)n * H; i++) x[i] += o[i];
        free(n1); free(n2);
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(hn, x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, hn, V, H);
    }
    free(fn); free(head); free(emb); free(x); free(hn); free(o);
}

static void config(char *cfg, size_t cap, const l4_case *c) {
    snprintf(cfg, cap,
             "{\"architectures\":[\"Llama4ForCausalLM\"],\"model_type\":\"llama4_text\",\"hidden_size\":64,\"intermediate_size\":32,"
             "\"intermediate_size_mlp\":96,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":16,\"vocab_size\":256,"
             "\"num_hidden_layers\":4,\"max_position_embeddings\":65536,\"rms_norm_eps\":1e-5,\"tie_word_embeddings\":false,"
             "\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\",\"rope_theta\":500000.0,"
             "\"rope_scaling\":{\"factor\":16.0,\"high_freq_factor\":1.0,\"low_freq_factor\":1.0,"
             "\"original_max_position_embeddings\":8192,\"rope_type\":\"llama3\"},\"num_local_experts\":4,\"num_experts_per_tok\":%d,"
             "\"attention_chunk_size\":%d,\"floor_scale\":%d,\"attn_scale\":0.1,\"attention_bias\":false,\"no_rope_layer_interval\":4%s}",
             c->topk, c->chunk, c->floor_scale, c->extra);
}

/* The synthetic checkpoint of ../ as Llama4ForConditionalGeneration: the text config under
 * text_config, its tensors under language_model.model.* / language_model.lm_head.*, and vision
 * tensors of NaNs. */
static int wrap(const char *src, const char *dir, const void *arg) {
    (void)arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *text = rl_json_load(path), *cfg = cJSON_CreateObject();
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!text || !cfg || !ck) { cJSON_Delete(text); cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    cJSON_DeleteItemFromObject(text, "architectures");
    const char *arch = "Llama4ForConditionalGeneration";
    cJSON_AddItemToObject(cfg, "architectures", cJSON_CreateStringArray(&arch, 1));
    cJSON_AddStringToObject(cfg, "model_type", "llama4");
    cJSON_AddItemToObject(cfg, "text_config", text);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(cfg, "vision_config"), "hidden_size", 8);
    int n_in = rl_ckpt_n_tensors(ck), rc = 0;
    repack_t *o = calloc((size_t)n_in + 1, sizeof *o);
    for (int i = 0; o && i < n_in && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        rc = repack_copy(ck, t, &o[i]);
        snprintf(o[i].name, sizeof o[i].name, "language_model.%s", t->name);
    }
    if (o && !rc) rc = repack_nan(&o[n_in], "vision_model.patch_embedding.linear.weight");
    return repack_finish(dir, cfg, ck, o, n_in + 1, rc);
}

/* On the GPU backends that open, with no expert cache: every routed expert on the CPU (its input
 * rows and their weights come down), or every one uploaded for the sweep. */
static void check_placements(const char *dir, const l4_case *c, const int32_t *ids, const float *gl) {
    const char *be[4];
    int nb = gpu_backends(be, 0);
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < 2; k++) {
            rl_model_opts o = {.backend = be[b], .max_batch = 4, .expert_cache = RL_EXPERT_CACHE_OFF, .moe_cpu_rows = k ? -1 : 64};
            rl_model *m = rl_model_open(dir, &o);
            CHECK(m != NULL, "%s: open on %s: %s", c->name, be[b], rl_last_error());
            if (!m) continue;
            char what[160];
            snprintf(what, sizeof what, "%s [%s, experts %s]", c->name, be[b], k ? "uploaded" : "on the CPU");
            fprintf(stderr, "  %s: max abs diff %.2g vs the reference\n", what, golden_compare(m, what, ids, P, ids + P, G, gl, P + G, V));
            rl_model_close(m);
        }
}

/* The synthetic checkpoint with its fused experts split per expert, as the pre-quantized releases
 * store them: experts.e.gate_proj / up_proj [I, hidden] (gate_up_proj's columns, transposed) and
 * down_proj [hidden, I]. */
static int split(const char *src, const char *dir, const void *arg) {
    (void)arg;
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src);
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    int n_in = rl_ckpt_n_tensors(ck), n = 0, rc = 0;
    repack_t *o = calloc((size_t)n_in + 3 * E * L, sizeof *o);
    for (int i = 0; o && i < n_in && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        int l, down = 0;
        char rest[64];
        if (sscanf(t->name, "model.layers.%d.feed_forward.experts.%63s", &l, rest) != 2) { rc = repack_copy(ck, t, &o[n++]); continue; }
        down = !strcmp(rest, "down_proj");
        const rl_tensor_info *x;
        uint8_t *w = repack_load(ck, t->name, &x);
        if (!w) { rc = -1; break; }
        size_t es = RL_DTYPES[t->dtype].size;
        int64_t in = t->shape[1], W = t->shape[2]; /* [E, in, W] */
        for (int e = 0; e < E; e++)
            for (int part = 0; part < (down ? 1 : 2); part++) {
                static const char *const NM[3] = {"gate_proj", "up_proj", "down_proj"};
                repack_t *y = &o[n++];
                int64_t rows = down ? W : W / 2, off = down ? 0 : part * rows; /* output rows: columns off.. of the source */
                snprintf(y->name, sizeof y->name, "model.layers.%d.feed_forward.experts.%d.%s.weight", l, e, NM[down ? 2 : part]);
                y->dt = t->dtype; y->ndim = 2; y->shape[0] = rows; y->shape[1] = in; y->bytes = (size_t)rows * in * es;
                y->data = malloc(y->bytes);
                if (!y->data) { rc = -1; break; }
                for (int64_t r = 0; r < rows; r++)
                    for (int64_t c = 0; c < in; c++)
                        memcpy(y->data + ((size_t)r * in + c) * es, w + (((size_t)e * in + c) * W + off + r) * es, es);
            }
        free(w);
    }
    return repack_finish(dir, cfg, ck, o, n, rc);
}

static void check_case(const l4_case *c) {
    char cfg[2048];
    config(cfg, sizeof cfg, c);
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128};
    char dir[64] = "/tmp/rl_llama4_XXXXXX", path[160], src[160], dst[160], cmd[200];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(path, sizeof path, "%s/in.json", dir);
    snprintf(src, sizeof src, "%s/m", dir);
    snprintf(dst, sizeof dst, "%s/wrapped", dir);
    CHECK(rl_write_file_atomic(path, cfg, strlen(cfg)) == 0, "write %s", path);
    rl_synth_opts so = {.dtype = RL_DT_BF16, .seed = 43};
    CHECK(rl_synth_write(path, src, &so) == 0, "%s: synth: %s", c->name, rl_last_error());
    if (c->wrap) CHECK(mkdir(dst, 0755) == 0 && (c->wrap == 2 ? split : wrap)(src, dst, c) == 0, "%s: rewrite", c->name);
    CHECK((REF_CK = rl_ckpt_open(src)) != NULL, "open %s", src);
    float *gl = REF_CK ? ref_logits(reference, c, ids, P, G, V) : NULL;
    if (gl) ref_compare(c->wrap ? dst : src, c->name, ids, P, G, gl, V, 4);
    if (gl && !c->wrap && c->chunk < 8192) check_placements(src, c, ids, gl);
    if (gl) ref_gguf_check(c->wrap ? dst : src, c->name, ids, P, G, gl, V, 4, c->gguf);
    rl_ckpt_close(REF_CK);
    REF_CK = NULL;
    free(gl);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_scout_like(void) { check_case(&CASES[0]); }
static void test_maverick_like(void) { check_case(&CASES[1]); }
static void test_moe_layers(void) { check_case(&CASES[2]); }
static void test_wrapped(void) { check_case(&CASES[3]); }
static void test_split_experts(void) {
    check_case(&CASES[6]);
    check_case(&CASES[7]); /* and written as GGUF from the per-expert tensors */
}
static void test_gguf(void) {
    check_case(&CASES[4]);
    check_case(&CASES[5]);
}

/* The description: which layers are chunked / NoPE / MoE, and what a bad list says. */
static void test_config(void) {
    static const struct { const char *extra, *want; } BAD[] = {
        {",\"no_rope_layers\":[1,0]", "\"no_rope_layers\" must be a list of 4 entries"},
        {",\"moe_layers\":[0,7]", "not a layer index below 4"},
        {",\"layer_types\":[\"chunked_attention\",\"sliding_attention\",\"full_attention\",\"full_attention\"]",
         "\"layer_types\"[1] must be"},
        {",\"interleave_moe_layer_step\":0", "interleave_moe_layer_step 0 must be positive"},
    };
    char cfg[2048];
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        l4_case c = CASES[0];
        c.extra = BAD[i].extra;
        config(cfg, sizeof cfg, &c);
        ref_config_refused(cfg, BAD[i].want, BAD[i].extra);
    }
    { /* defaults: every 4th layer NoPE, the others chunked; experts in every layer */
        l4_case c = CASES[0];
        c.extra = "";
        config(cfg, sizeof cfg, &c);
        rl_model_desc *d;
        int rc = ref_config_load(cfg, &d);
        {
            CHECK(rc == 0, "defaults: %s", rc ? rl_last_error() : "");
            for (int l = 0; !rc && l < L; l++) {
                int rope = (l + 1) % 4 != 0;
                CHECK(d->layers[l].chunked == rope && d->layers[l].qk_l2 == rope && d->layers[l].temp_tuned == !rope &&
                      d->layer_moe[l] && d->ropes[d->layers[l].rope].pairing == (rope ? RL_ROPE_GPTJ : RL_ROPE_NONE),
                      "layer %d: chunked %d qk_l2 %d temp %d moe %d", l, d->layers[l].chunked, d->layers[l].qk_l2,
                      d->layers[l].temp_tuned, d->layer_moe[l]);
            }
            CHECK(!rc && d->attn_chunk == 4 && d->moe_input_scaled && d->moe_inter == 32 && d->intermediate == 32,
                  "chunk %d, input scaled %d, expert inter %d, dense inter %d", d->attn_chunk, d->moe_input_scaled, d->moe_inter, d->intermediate);
        }
        free(d);
    }
}

int main(void) {
    RUN(test_config);
    RUN(test_scout_like);
    RUN(test_maverick_like);
    RUN(test_moe_layers);
    RUN(test_wrapped);
    RUN(test_split_experts);
    RUN(test_gguf);
    TEST_END();
}
