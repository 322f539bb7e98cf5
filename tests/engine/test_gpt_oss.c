/* gpt-oss (GptOssForCausalLM). No llama.cpp golden exists for it in ../shared, so a synthetic
 * checkpoint in OpenAI's release form (MXFP4 experts with biases, attention sinks of N(0, 1),
 * sliding and full layers with a window of 4 under an 11-token prompt, YaRN with
 * "truncate": false) is checked against a reference written here from transformers'
 * modeling_gpt_oss.py and the OCP MX definition, in double precision, with none of the engine's
 * code: every prefill and decode row within 1e-3 and the same greedy ids, on cpu, cpu-staged and
 * the GPU backends that open, batched too; the same model rewritten as the dequantised BF16
 * re-uploads store it (experts [E, in, out], exact in bf16, no quantization_config) gives the same;
 * and the same model written as GGUF by `quantize --gguf` (F32 matrices, the MXFP4 experts
 * repacked into ggml's MXFP4 blocks as llama.cpp's converter does, expert biases split) against
 * the reference in llama.cpp's numerics: YaRN's correction range rounded (ggml_rope_yarn_corr_dims)
 * and the MXFP4 experts' input rows quantised to Q8_0 blocks (ggml-cpu's vec_dot_type for MXFP4).
 * Also: experts plain where quantization_config says MXFP4, a missing scales tensor, another
 * swiglu_limit and an unknown layer type are errors naming the problem. */
#include "repack.h"
#include "refcheck.h"
#include "model/synth.h"
#include "quant/gguf_export.h"

enum { L = 3, H = 128, NH = 4, NKV = 2, HD = 32, I = 96, V = 300, E = 4, K = 2, WIN = 4, P = 11, G = 6 };
static const char *CFG =
    "{\"architectures\":[\"GptOssForCausalLM\"],\"model_type\":\"gpt_oss\",\"hidden_size\":128,\"intermediate_size\":96,"
    "\"num_hidden_layers\":3,\"num_attention_heads\":4,\"num_key_value_heads\":2,\"head_dim\":32,\"vocab_size\":300,"
    "\"max_position_embeddings\":131072,\"rms_norm_eps\":1e-5,\"rope_theta\":150000,\"sliding_window\":4,"
    "\"layer_types\":[\"sliding_attention\",\"full_attention\",\"sliding_attention\"],"
    "\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":32.0,\"beta_fast\":32.0,\"beta_slow\":1.0,\"truncate\":false,"
    "\"original_max_position_embeddings\":4096},\"num_local_experts\":4,\"num_experts_per_tok\":2,\"attention_bias\":true,"
    "\"swiglu_limit\":%s,\"tie_word_embeddings\":false,\"quantization_config\":{\"quant_method\":\"mxfp4\"},"
    "\"bos_token_id\":0,\"eos_token_id\":1,\"hidden_act\":\"silu\"}";

/* Expert e's weight [rows, cols] of MXFP4 tensor `fmt` of layer l, decoded from the OCP MX
 * definition: e2m1 (-1)^s 2^(e-1) (1 + m/2), subnormal m/2; element 2j in the low nibble; e8m0 2^(x-127). */
static double *mxfp4(const char *fmt, int l, int e, int rows, int cols) {
    char bn[160], sn[160];
    snprintf(bn, sizeof bn, fmt, l);
    snprintf(sn, sizeof sn, "%s", bn);
    strcat(bn, "_blocks");
    strcat(sn, "_scales");
    const rl_tensor_info *tb = rl_ckpt_find(REF_CK, bn), *ts = rl_ckpt_find(REF_CK, sn);
    double *w = calloc((size_t)rows * cols, sizeof *w);
    CHECK(tb && ts, "MXFP4 tensors %s", bn);
    if (!tb || !ts) return w;
    uint8_t *b = malloc(tb->nbytes), *s = malloc(ts->nbytes);
    CHECK(!rl_ckpt_read(REF_CK, tb, b) && !rl_ckpt_read(REF_CK, ts, s), "read %s", bn);
    const uint8_t *be = b + (size_t)e * rows * cols / 2, *se = s + (size_t)e * rows * cols / 32;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            int byte = be[(size_t)r * cols / 2 + c / 2], nib = c % 2 ? byte >> 4 : byte & 15;
            int sg = nib >> 3, ex = (nib >> 1) & 3, mt = nib & 1;
            double v = ex ? ldexp(1.0 + mt / 2.0, ex - 1) : mt / 2.0;
            w[(size_t)r * cols + c] = (sg ? -v : v) * ldexp(1.0, (int)se[(size_t)r * cols / 32 + c / 32] - 127);
        }
    free(b); free(s);
    return w;
}

static void rmsnorm(double *o, const double *x, const double *w, int n) { ref_rmsnorm(o, x, w, n, 1e-5); }
/* The reference in llama.cpp's numerics (arg of reference()): see the top. */
typedef struct { int ggml; } ref_mode;

/* An activation row as ggml-cpu's x86 quantize_row_q8_0 leaves it, dequantised: per block of 32
 * d = amax / 127 (stored as f16), q = round-half-even(x * 127 / amax). */
static void q8_0_round(double *v, int n) {
    for (int b = 0; b < n; b += 32) {
        float xf[32], amax = 0;
        for (int i = 0; i < 32; i++) { xf[i] = (float)v[b + i]; amax = fmaxf(amax, fabsf(xf[i])); }
        float d = amax / 127.f, id = amax != 0 ? 127.f / amax : 0, dh = rl_f16_to_f32(rl_f32_to_f16(d));
        for (int i = 0; i < 32; i++) v[b + i] = (double)dh * nearbyintf(xf[i] * id);
    }
}

/* transformers' YaRN inv_freq (truncate false: the correction range unrounded; ggml: rounded out)
 * and attention factor */
static void yarn(double *inv, double *att, int ggml) {
    const double base = 150000, f = 32, om = 4096, dim = HD;
    double lo = dim * log(om / (32 * 2 * M_PI)) / (2 * log(base)), hi = dim * log(om / (1 * 2 * M_PI)) / (2 * log(base));
    lo = fmax(lo, 0);
    hi = fmin(hi, dim - 1);
    if (ggml) { lo = fmax(floor(lo), 0); hi = fmin(ceil(hi), dim - 1); }
    if (lo == hi) hi += 0.001;
    for (int i = 0; i < HD / 2; i++) {
        double pf = pow(base, 2.0 * i / dim), ramp = fmin(fmax((i - lo) / (hi - lo), 0), 1), ext = 1 - ramp;
        inv[i] = 1 / (f * pf) * (1 - ext) + 1 / pf * ext;
    }
    *att = 0.1 * log(f) + 1;
}

/* The whole model over ids[0..n): logits of every position into lg (n, V). */
static void reference(const void *arg, const int32_t *ids, int n, double *lg) {
    int ggml = arg && ((const ref_mode *)arg)->ggml;
    double inv[HD / 2], att;
    yarn(inv, &att, ggml);
    double *emb = ref_tensor("model.embed_tokens.weight", 0, (size_t)V * H), *x = calloc((size_t)n * H, sizeof *x);
    for (int t = 0; t < n; t++) memcpy(x + (size_t)t * H, emb + (size_t)ids[t] * H, H * sizeof *x);
    double *xn = malloc(sizeof *xn * H), *q = malloc(sizeof *q * (size_t)n * NH * HD), *k = malloc(sizeof *k * (size_t)n * NKV * HD);
    double *v = malloc(sizeof *v * (size_t)n * NKV * HD), *o = malloc(sizeof *o * NH * HD), *y = malloc(sizeof *y * H);
    for (int l = 0; l < L; l++) {
        double *an = ref_tensor("model.layers.%d.input_layernorm.weight", l, H), *mn = ref_tensor("model.layers.%d.post_attention_layernorm.weight", l, H);
        double *wq = ref_tensor("model.layers.%d.self_attn.q_proj.weight", l, (size_t)NH * HD * H), *bq = ref_tensor("model.layers.%d.self_attn.q_proj.bias", l, NH * HD);
        double *wk = ref_tensor("model.layers.%d.self_attn.k_proj.weight", l, (size_t)NKV * HD * H), *bk = ref_tensor("model.layers.%d.self_attn.k_proj.bias", l, NKV * HD);
        double *wv = ref_tensor("model.layers.%d.self_attn.v_proj.weight", l, (size_t)NKV * HD * H), *bv = ref_tensor("model.layers.%d.self_attn.v_proj.bias", l, NKV * HD);
        double *wo = ref_tensor("model.layers.%d.self_attn.o_proj.weight", l, (size_t)H * NH * HD), *bo = ref_tensor("model.layers.%d.self_attn.o_proj.bias", l, H);
        double *sk = ref_tensor("model.layers.%d.self_attn.sinks", l, NH);
        double *wr = ref_tensor("model.layers.%d.mlp.router.weight", l, (size_t)E * H), *br = ref_tensor("model.layers.%d.mlp.router.bias", l, E);
        double *bgu = ref_tensor("model.layers.%d.mlp.experts.gate_up_proj_bias", l, (size_t)E * 2 * I), *bd = ref_tensor("model.layers.%d.mlp.experts.down_proj_bias", l, (size_t)E * H);
        double *wgu[E], *wd[E];
        for (int e = 0; e < E; e++) {
            wgu[e] = mxfp4("model.layers.%d.mlp.experts.gate_up_proj", l, e, 2 * I, H);
            wd[e] = mxfp4("model.layers.%d.mlp.experts.down_proj", l, e, H, I);
        }
        int win = l % 2 == 0 ? WIN : 0; /* layer_types: sliding, full, sliding */
        for (int t = 0; t < n; t++) {
            rmsnorm(xn, x + (size_t)t * H, an, H);
            ref_linear(q + (size_t)t * NH * HD, wq, bq, xn, NH * HD, H);
            ref_linear(k + (size_t)t * NKV * HD, wk, bk, xn, NKV * HD, H);
            ref_linear(v + (size_t)t * NKV * HD, wv, bv, xn, NKV * HD, H);
            for (int hh = 0; hh < NH + NKV; hh++) { /* rotate_half pairs (i, i + 16), cos / sin times the attention factor */
                double *r = hh < NH ? q + ((size_t)t * NH + hh) * HD : k + ((size_t)t * NKV + hh - NH) * HD;
                for (int i = 0; i < HD / 2; i++) {
                    double c = cos(t * inv[i]) * att, sn = sin(t * inv[i]) * att, a = r[i], b = r[i + HD / 2];
                    r[i] = a * c - b * sn;
                    r[i + HD / 2] = b * c + a * sn;
                }
            }
        }
        for (int t = 0; t < n; t++) {
            ref_attend(o, q, k, v, t, NH, NKV, HD, win, sk); /* causal, window, the sink as one more logit */
            ref_linear(y, wo, bo, o, H, NH * HD);
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += y[i];
        }
        for (int t = 0; t < n; t++) { /* the MoE: top-k of the biased router logits, softmax over them */
            double lgt[E], w[K], acc[H];
            int sel[K];
            rmsnorm(xn, x + (size_t)t * H, mn, H);
            ref_linear(lgt, wr, br, xn, E, H);
            for (int j = 0; j < K; j++) {
                int b = -1;
                for (int e = 0; e < E; e++) {
                    int used = 0;
                    for (int u = 0; u < j; u++) used |= sel[u] == e;
                    if (!used && (b < 0 || lgt[e] > lgt[b])) b = e;
                }
                sel[j] = b;
            }
            double mx = fmax(lgt[sel[0]], lgt[sel[1]]), z = 0;
            for (int j = 0; j < K; j++) z += (w[j] = exp(lgt[sel[j]] - mx));
            memset(acc, 0, sizeof acc);
            for (int j = 0; j < K; j++) {
                int e = sel[j];
                double gu[2 * I], hcur[I], dn[H], xq[H];
                memcpy(xq, xn, sizeof xq);
                if (ggml) q8_0_round(xq, H);
                ref_linear(gu, wgu[e], bgu + (size_t)e * 2 * I, xq, 2 * I, H);
                for (int i = 0; i < I; i++) { /* gate = gate_up[::2], up = gate_up[1::2] */
                    double gt = fmin(gu[2 * i], 7.0), up = fmax(fmin(gu[2 * i + 1], 7.0), -7.0);
                    hcur[i] = (up + 1) * gt / (1 + exp(-1.702 * gt));
                }
                if (ggml) q8_0_round(hcur, I);
                ref_linear(dn, wd[e], bd + (size_t)e * H, hcur, H, I);
                for (int i = 0; i < H; i++) acc[i] += w[j] / z * dn[i];
            }
            for (int i = 0; i < H; i++) x[(size_t)t * H + i] += acc[i];
        }
        free(an); free(mn); free(wq); free(bq); free(wk); free(bk); free(wv); free(bv); free(wo); free(bo); free(sk);
        free(wr); free(br); free(bgu); free(bd);
        for (int e = 0; e < E; e++) { free(wgu[e]); free(wd[e]); }
    }
    double *fn = ref_tensor("model.norm.weight", 0, H), *head = ref_tensor("lm_head.weight", 0, (size_t)V * H);
    for (int t = 0; t < n; t++) {
        rmsnorm(xn, x + (size_t)t * H, fn, H);
        ref_linear(lg + (size_t)t * V, head, NULL, xn, V, H);
    }
    free(fn); free(head); free(emb); free(x); free(xn); free(q); free(k); free(v); free(o); free(y);
}

/* Writes the config (swiglu_limit `limit`) and a synthetic checkpoint into dir. */
static int make_model(const char *dir, const char *limit) {
    char path[256], cfg[2048];
    snprintf(path, sizeof path, "%s/in.json", dir);
    snprintf(cfg, sizeof cfg, CFG, limit);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(cfg, f);
    fclose(f);
    rl_synth_opts o = {.dtype = RL_DT_BF16, .seed = 7};
    char out[256];
    snprintf(out, sizeof out, "%s/m", dir);
    return rl_synth_write(path, out, &o);
}

/* The checkpoint in src rewritten into dir as a dequantised BF16 re-upload: every expert tensor
 * decoded and stored transposed [E, in, out] (e2m1 times a power of two is exact in bf16). */
static int dequant_rewrite(const char *src, const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/config.json", src);
    cJSON *cfg = rl_json_load(path);
    rl_checkpoint *ck = rl_ckpt_open(src), *keep = REF_CK;
    if (!cfg || !ck) { cJSON_Delete(cfg); rl_ckpt_close(ck); return -1; }
    cJSON_DeleteItemFromObject(cfg, "quantization_config");
    int n = rl_ckpt_n_tensors(ck), k = 0, rc = 0;
    repack_t *o = calloc((size_t)n, sizeof *o);
    REF_CK = ck;
    for (int i = 0; o && i < n && !rc; i++) {
        const rl_tensor_info *t = rl_ckpt_tensor(ck, i);
        size_t len = strlen(t->name);
        int l;
        if (len > 7 && !strcmp(t->name + len - 7, "_scales")) continue;
        if (len > 7 && !strcmp(t->name + len - 7, "_blocks") && sscanf(t->name, "model.layers.%d.", &l) == 1) {
            int gu = strstr(t->name, "gate_up") != NULL, rows = gu ? 2 * I : H, cols = gu ? H : I;
            repack_t *x = &o[k++];
            snprintf(x->name, sizeof x->name, "%.*s", (int)(len - 7), t->name);
            x->dt = RL_DT_BF16; x->ndim = 3; x->shape[0] = E; x->shape[1] = cols; x->shape[2] = rows;
            x->bytes = (size_t)E * rows * cols * 2;
            uint16_t *d = malloc(x->bytes);
            x->data = (uint8_t *)d;
            char fmt[160];
            snprintf(fmt, sizeof fmt, "model.layers.%%d.mlp.experts.%s", gu ? "gate_up_proj" : "down_proj");
            for (int e = 0; d && e < E; e++) {
                double *w = mxfp4(fmt, l, e, rows, cols);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++) d[((size_t)e * cols + c) * rows + r] = rl_f32_to_bf16((float)w[(size_t)r * cols + c]);
                free(w);
            }
            continue;
        }
        rc = repack_copy(ck, t, &o[k++]);
    }
    REF_CK = keep;
    return repack_finish(dir, cfg, ck, o, k, rc);
}

static void test_reference(void) {
    char dir[64] = "/tmp/rl_gpt_oss_XXXXXX", m_dir[128], cmd[200];
    CHECK(mkdtemp(dir) != NULL && make_model(dir, "7.0") == 0, "synth: %s", rl_last_error());
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    CHECK((REF_CK = rl_ckpt_open(m_dir)) != NULL, "open checkpoint: %s", rl_last_error());
    int32_t ids[P + G] = {5, 17, 200, 3, 99, 42, 7, 250, 128, 64, 11};
    char bf_dir[160];
    snprintf(bf_dir, sizeof bf_dir, "%s/bf16", dir);
    CHECK(mkdir(bf_dir, 0755) == 0 && dequant_rewrite(m_dir, bf_dir) == 0, "dequantised rewrite: %s", rl_last_error());
    float *gl = REF_CK ? ref_logits(reference, NULL, ids, P, G, V) : NULL;
    if (gl) {
        ref_compare(m_dir, "gpt_oss", ids, P, G, gl, V, 5);
        ref_compare(bf_dir, "gpt_oss bf16 re-upload", ids, P, G, gl, V, 0);
    }
    /* GGUF: written from the MXFP4 checkpoint, checked against the reference in ggml's numerics */
    char gguf[160];
    snprintf(gguf, sizeof gguf, "%s/m.gguf", dir);
    CHECK(rl_gguf_export(m_dir, gguf, RL_GX_F32, NULL, NULL, NULL) == 0, "quantize --gguf: %s", rl_last_error());
    ref_mode gm = {1};
    int32_t gids[P + G];
    memcpy(gids, ids, sizeof gids);
    float *gg = REF_CK ? ref_logits(reference, &gm, gids, P, G, V) : NULL;
    if (gg) ref_compare(gguf, "gpt_oss GGUF", gids, P, G, gg, V, 5);
    free(gg);
    CHECK(rl_gguf_export(bf_dir, gguf, RL_GX_F32, NULL, NULL, NULL) != 0 && strstr(rl_last_error(), "MXFP4 checkpoint"),
          "plain experts refused: %s", rl_last_error());
    /* two sequences in one batch: the prompt and its first 6 tokens */
    rl_model_opts o2 = {.n_seq = 2};
    rl_model *m = rl_model_open(m_dir, &o2);
    CHECK(m != NULL, "open n_seq 2: %s", rl_last_error());
    if (m) {
        float *out = malloc(sizeof *out * 2 * V);
        rl_batch_item it[2] = {{0, ids, P}, {1, ids, 6}};
        CHECK(rl_model_eval_batch(m, it, 2, out) == 0, "batch: %s", rl_last_error());
        double w = 0;
        for (int i = 0; gl && i < V; i++) w = fmax(w, fmax(fabs(out[i] - gl[(size_t)(P - 1) * V + i]), fabs(out[V + i] - gl[(size_t)5 * V + i])));
        CHECK(w <= 1e-3, "batched: max abs diff %g", w);
        free(out);
        rl_model_close(m);
    }
    rl_ckpt_close(REF_CK);
    free(gl);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

/* Bad checkpoints and configs: errors naming the problem. */
static void expect_error(const char *m_dir, const char *edit, const char *want) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "cp '%s/config.json' '%s/config.bak' && sed -i '%s' '%s/config.json'", m_dir, m_dir, edit, m_dir);
    CHECK(system(cmd) == 0, "edit config");
    rl_model *m = rl_model_open(m_dir, NULL);
    CHECK(!m && strstr(rl_last_error(), want), "%s: %s", edit, m ? "opened" : rl_last_error());
    rl_model_close(m);
    snprintf(cmd, sizeof cmd, "mv '%s/config.bak' '%s/config.json'", m_dir, m_dir);
    CHECK(system(cmd) == 0, "restore config");
}

static void test_errors(void) {
    char dir[64] = "/tmp/rl_gpt_oss_XXXXXX", m_dir[128], cmd[400];
    CHECK(mkdtemp(dir) != NULL && make_model(dir, "7.0") == 0, "synth: %s", rl_last_error());
    snprintf(m_dir, sizeof m_dir, "%s/m", dir);
    expect_error(m_dir, "s/\"swiglu_limit\":7.0/\"swiglu_limit\":6.0/", "swiglu_limit");
    /* without the quantization_config the experts' _blocks / _scales are not what the model says */
    expect_error(m_dir, "s/,\"quantization_config\":{\"quant_method\":\"mxfp4\"}//", "missing tensor model.layers.0.mlp.experts.gate_up_proj");
    expect_error(m_dir, "s/\"sliding_attention\",\"full_attention\"/\"sliding_attention\",\"chunked_attention\"/", "layer_types");
    /* the scales tensor of layer 0's down_proj renamed away */
    snprintf(cmd, sizeof cmd, "sed -i 's/layers.0.mlp.experts.down_proj_scales/layers.0.mlp.experts.down_proj_scalez/' '%s/model.safetensors'", m_dir);
    CHECK(system(cmd) == 0, "rename tensor");
    rl_model *m = rl_model_open(m_dir, NULL);
    CHECK(!m && strstr(rl_last_error(), "missing tensor model.layers.0.mlp.experts.down_proj_scales"), "no scales: %s", m ? "opened" : rl_last_error());
    rl_model_close(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(void) {
    RUN(test_reference);
    RUN(test_errors);
    TEST_END();
}
