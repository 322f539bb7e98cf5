/* `rabbitllm info MODEL_DIR [--ctx N] [--backend B] [--parallel N] [--batch N] [--mem-budget SIZE|auto] [--gpu-mem SIZE|auto] [--kv-type T]`: the normalized model description and the memory plan. */
#include "cli/help.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/exitcode.h"
#include "engine/model.h"
#include "format/checkpoint.h"
#include "model/weights.h"
#include "hub/hub.h"
#include "io/stage.h"
#include "model/config.h"
#include "model/moe_config.h"
#include "util/err.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *scaling_name(rl_rope_scaling s) {
    static const char *n[] = {"none", "linear", "dynamic", "llama3", "yarn", "longrope", "per-pair factors (GGUF rope_freqs)"};
    return n[s];
}

static void mb(char *out, size_t cap, double b) {
    if (b >= 1e9) snprintf(out, cap, "%.2f GB", b / 1e9);
    else snprintf(out, cap, "%.2f MB", b / 1e6);
}

/* The block's shape: sequential or parallel, fused tensors and how they split, context limit. */
static void print_block_features(const rl_model_desc *d) {
    if (d->norm_no_weight) printf("norm weights    none (weight and bias fixed at 1 and 0)\n");
    printf("block           %s", d->parallel_block == 2 ? "parallel (attention and MLP each on its own norm of the layer input)"
                                 : d->parallel_block ? "parallel (attention and MLP on one normed input)" : "sequential");
    if (d->post_norms) printf(", post-attention and post-MLP norms%s", d->no_pre_norms ? " only (none before the sublayers)" : "");
    if (d->qk_norm) printf(", q/k RMSNorm %s", d->qk_norm_full ? "over the whole projection" : "per head");
    if (d->wname[W_QKV]) printf(", fused qkv%s", d->qkv_grouped ? " (grouped per kv head)" : "");
    if (d->wname[W_GATE_UP]) printf(", fused gate_up");
    printf("\n");
    if (d->ctx_exact_max > 0) printf("context limit   %d tokens (beyond it %s)\n", d->ctx_exact_max, d->ctx_exact_why);
    const rl_mup *u = &d->mup;
    if (u->attn_in || u->ssm_in) /* Falcon-H1 */
        printf("muP             attention in %g, keys %g, out %g; mamba in %g (z %g, x %g, B %g, C %g, dt %g), out %g; mlp gate %g, down %g\n",
               (double)u->attn_in, (double)u->key, (double)u->attn_out, (double)u->ssm_in, (double)u->ssm[0], (double)u->ssm[1],
               (double)u->ssm[2], (double)u->ssm[3], (double)u->ssm[4], (double)u->ssm_out, (double)u->mlp_gate, (double)u->mlp_down);
}

/* info --json: description, files and memory plan as one JSON object on stdout. */
static int info_json(const char *dir, const rl_model_desc *d, const rl_checkpoint *ck, rl_model_opts *mo, int ctx) {
    cJSON *o = cJSON_CreateObject(), *desc = cJSON_AddObjectToObject(o, "description"), *files = cJSON_AddArrayToObject(o, "files");
    if (!o || !desc || !files) { cJSON_Delete(o); fprintf(stderr, "error: out of memory\n"); return RL_EXIT_NOMEM; }
    cJSON_AddStringToObject(o, "rabbitllm_version", rl_version());
    cJSON_AddStringToObject(o, "model", dir);
    cJSON_AddStringToObject(desc, "family", d->family);
    cJSON_AddStringToObject(desc, "architecture", d->arch);
    cJSON_AddStringToObject(desc, "model_type", d->model_type);
#define NUM(k, v) cJSON_AddNumberToObject(desc, k, (double)(v))
    NUM("layers", d->n_layers); NUM("hidden", d->hidden); NUM("heads", d->n_heads); NUM("kv_heads", d->n_kv_heads);
    NUM("head_dim", d->head_dim); NUM("intermediate", d->intermediate); NUM("vocab", d->vocab);
    NUM("max_positions", d->max_pos); NUM("norm_eps", d->norm_eps); NUM("experts", d->n_experts);
    NUM("experts_used", d->n_experts_used);
#undef NUM
    cJSON_AddStringToObject(desc, "norm", d->norm == RL_NORM_RMS ? "RMSNorm" : "LayerNorm");
    cJSON_AddBoolToObject(desc, "tied_embedding", d->tied);
    cJSON *ropes = cJSON_AddArrayToObject(desc, "rope");
    for (int r = 0; ropes && r < d->n_ropes; r++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "theta", d->ropes[r].theta);
        cJSON_AddNumberToObject(x, "rotary_dims", d->ropes[r].rot_dims);
        cJSON_AddStringToObject(x, "scaling", scaling_name(d->ropes[r].scaling));
        cJSON_AddNumberToObject(x, "factor", d->ropes[r].factor);
        cJSON_AddItemToArray(ropes, x);
    }
    /* per layer: its token mixer and its feed-forward sublayer ("none" in a one-sublayer layer) */
    cJSON *mix = cJSON_AddArrayToObject(desc, "mixers"), *ffn = cJSON_AddArrayToObject(desc, "ffns");
    const char *lin = d->lin_kind == RL_LIN_MAMBA2 ? "mamba2" : d->lin_kind == RL_LIN_MAMBA1 ? "mamba"
                    : d->lin_kind == RL_LIN_SHORTCONV ? "short_conv" : "gated_deltanet";
    for (int l = 0; mix && ffn && l < d->n_layers; l++) {
        const rl_layer_desc *ld = &d->layers[l];
        cJSON_AddItemToArray(mix, cJSON_CreateString(ld->no_mixer ? "none" : ld->kind == RL_LAYER_LINEAR ? lin : ld->ssm_too ? "attention+mamba2"
                                                      : d->mla ? "mla"
                                                      : ld->kind == RL_LAYER_SLIDING ? "sliding_attention"
                                                      : ld->chunked && d->attn_chunk > 0 ? "chunked_attention" : "attention"));
        cJSON_AddItemToArray(ffn, cJSON_CreateString(ld->no_mlp ? "none" : d->n_experts > 0 && d->layer_moe[l] ? "experts" : "mlp"));
    }
    if (d->lin_v_heads > 0) { /* the linear layers' dims: Mamba-2 heads x head_dim, state, B / C groups (Mamba-1: channels x 1) */
        int mamba = d->lin_kind != RL_LIN_GDN;
        cJSON *la = cJSON_AddObjectToObject(desc, "linear_attention");
        cJSON_AddStringToObject(la, "kind", lin);
        cJSON_AddNumberToObject(la, mamba ? "heads" : "value_heads", d->lin_v_heads);
        cJSON_AddNumberToObject(la, mamba ? "head_dim" : "value_dim", d->lin_v_dim);
        cJSON_AddNumberToObject(la, mamba ? "groups" : "key_heads", d->lin_k_heads);
        cJSON_AddNumberToObject(la, mamba ? "state" : "key_dim", d->lin_k_dim);
        cJSON_AddNumberToObject(la, "conv_kernel", d->lin_conv_k);
        if (d->lin_kind == RL_LIN_MAMBA2) cJSON_AddNumberToObject(la, "norm_groups", d->lin_norm_groups);
        if (d->lin_kind == RL_LIN_MAMBA1) cJSON_AddNumberToObject(la, "dt_rank", d->lin_dt_rank);
    }
    cJSON *eos = cJSON_AddArrayToObject(desc, "eos_ids");
    for (int i = 0; eos && i < d->n_eos; i++) cJSON_AddItemToArray(eos, cJSON_CreateNumber(d->eos_ids[i]));
    for (int i = 0; i < rl_ckpt_n_files(ck); i++) {
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "path", rl_ckpt_path(ck, i));
        cJSON_AddNumberToObject(f, "bytes", (double)rl_ckpt_file_size(ck, i));
        cJSON_AddItemToArray(files, f);
    }
    mo->ctx = ctx;
    cJSON_AddNumberToObject(o, "ctx", ctx);
    cJSON *plan = rl_model_plan_json(dir, mo);
    if (!plan) { cJSON_Delete(o); return rl_cli_fail(NULL); }
    cJSON_AddItemToObject(o, "memory_plan", plan);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) { fprintf(stderr, "error: out of memory\n"); return RL_EXIT_NOMEM; }
    printf("%s\n", txt);
    free(txt);
    return 0;
}

/* A whole number in [lo, hi] for flag; -1 after saying what was expected. */
static int int_arg(const char *flag, const char *v, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "error: %s needs a whole number in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

/* The KV caches and the linear-attention state of the memory plan as the model would open with mo
 * (its --kv-type, sliding / chunked rings, --parallel sequences, MLA's latent cache): the plan's own
 * buffers. -1 when no plan can be made (the summary then estimates). */
static int plan_state(const char *dir, const rl_model_opts *mo, double *kv, double *lin) {
    cJSON *p = rl_model_plan_json(dir, mo), *b;
    if (!p) return -1;
    *kv = *lin = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(p, "buffers")) {
        const cJSON *n = cJSON_GetObjectItem(b, "name"), *by = cJSON_GetObjectItem(b, "bytes");
        if (!cJSON_IsString(n) || !cJSON_IsNumber(by)) continue;
        if (!strncmp(n->valuestring, "kv cache ", 9)) *kv += by->valuedouble;
        else if (!strcmp(n->valuestring, "deltanet recurrent state") || !strcmp(n->valuestring, "deltanet conv state")) *lin += by->valuedouble;
    }
    cJSON_Delete(p);
    return 0;
}

int cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    int ctx = 0, json = 0, rc;
    rl_model_opts mo = {.mem_budget = RL_MEM_BUDGET_AUTO};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ctx") && i + 1 < argc) { if (int_arg("--ctx", argv[++i], 1, 1 << 30, &ctx)) return RL_EXIT_USAGE; }
        else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) mo.backend = argv[++i];
        else if (!strcmp(argv[i], "--kv-type") && i + 1 < argc) mo.kv_type = argv[++i];
        else if (!strcmp(argv[i], "--parallel") && i + 1 < argc) { if (int_arg("--parallel", argv[++i], 1, 4096, &mo.n_seq)) return RL_EXIT_USAGE; }
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) { if (int_arg("--batch", argv[++i], 1, 65536, &mo.max_batch)) return RL_EXIT_USAGE; }
        else if ((rc = rl_cli_moe_flag(argv[i], i + 1 < argc ? argv[i + 1] : NULL, &mo)) != 0) {
            if (rc < 0) return RL_EXIT_USAGE;
            i++;
        }
        else if (!strcmp(argv[i], "--gpu-mem") && i + 1 < argc) {
            uint64_t b;
            if (!strcmp(argv[++i], "auto")) mo.gpu_mem = RL_GPU_MEM_AUTO;
            else if (rl_cli_parse_size(argv[i], &b)) { fprintf(stderr, "error: --gpu-mem needs a size or auto, got '%s'\n", argv[i]); return RL_EXIT_USAGE; }
            else mo.gpu_mem = (size_t)b;
        }
        else if (!strcmp(argv[i], "--mem-budget") && i + 1 < argc) {
            uint64_t b;
            const char *v = argv[++i];
            if (!strcmp(v, "auto")) mo.mem_budget = RL_MEM_BUDGET_AUTO;
            else if (rl_cli_parse_size(v, &b)) { fprintf(stderr, "error: --mem-budget needs a size or auto, got '%s'\n", v); return RL_EXIT_USAGE; }
            else mo.mem_budget = (size_t)b;
        }
        else if (argv[i][0] == '-') { rl_cli_unknown_flag(argv[i]); return RL_EXIT_USAGE; }
        else dir = argv[i];
    }
    if (!dir) { fprintf(stderr, "usage: rabbitllm info MODEL_DIR [--ctx N] [--backend B] [--parallel N] [--batch N] [--mem-budget SIZE|auto] [--gpu-mem SIZE|auto] [--kv-type T]\n"); return RL_EXIT_USAGE; }
    if (!(dir = rl_hub_model_dir(dir))) return rl_cli_fail(NULL); /* or org/name[@rev] */
    rl_model_desc *d = malloc(sizeof *d);
    rl_checkpoint *ck = NULL;
    rl_stage *st = NULL;
    int n = 0;
    if (!d || rl_config_load(dir, d) || !(ck = rl_ckpt_open(dir)) || rl_stages_build(d, ck, 0, &st, &n)) {
        int code = d ? rl_cli_fail(NULL) : RL_EXIT_NOMEM;
        if (!d) fprintf(stderr, "error: out of memory\n");
        rl_ckpt_close(ck); free(d);
        return code;
    }
    if (ctx <= 0) ctx = d->max_pos < 4096 ? d->max_pos : 4096;
    if (json) {
        int rc = info_json(dir, d, ck, &mo, ctx);
        free(st); rl_ckpt_close(ck); free(d);
        return rc;
    }
    printf("rabbitllm       %s\n", rl_version());
    printf("family          %s (%s, model_type %s)\n", d->family, d->arch, d->model_type);
    printf("layers          %d\nhidden          %d\nheads           %d (kv %d, head_dim %d)%s\n", d->n_layers, d->hidden,
           d->n_heads, d->n_kv_heads, d->head_dim, d->n_kv_heads < d->n_heads ? " GQA" : "");
    printf("intermediate    %d\nvocab           %d\nmax positions   %d\n", d->intermediate, d->vocab, d->max_pos);
    printf("norm            %s eps %g%s%s%s\n", d->norm == RL_NORM_RMS ? "RMSNorm" : "LayerNorm", d->norm_eps,
           d->norm_one_plus ? " (1+w)" : "", d->qk_norm ? ", q/k norm" : "", d->post_norms ? ", post norms" : "");
    for (int r = 0; r < d->n_ropes; r++) {
        const rl_rope *ro = &d->ropes[r];
        printf("%-16stheta %g, %d rotary dims, %s pairs, scaling %s", d->n_ropes > 1 ? (r ? "rope[1]" : "rope[0]") : "rope",
               ro->theta, ro->rot_dims, ro->pairing == RL_ROPE_NEOX ? "rotate-half" : ro->pairing == RL_ROPE_GPTJ ? "interleaved" : "no",
               scaling_name(ro->scaling));
        if (ro->scaling != RL_RS_NONE) printf(" (factor %g", ro->factor);
        if (ro->scaling != RL_RS_NONE && ro->orig_max_pos > 0) printf(", original max positions %g", ro->orig_max_pos);
        if (ro->scaling != RL_RS_NONE) printf(")");
        if (ro->rot_dims < d->head_dim) printf(", partial rotary %d/%d", ro->rot_dims, d->head_dim);
        if (d->n_ropes > 1) { /* which layers use it */
            printf(", layers ");
            for (int l = 0, first = 1; l < d->n_layers; l++)
                if (d->layers[l].rope == r) { printf("%s%d", first ? "" : ",", l); first = 0; }
        }
        printf("\n");
    }
    int n_att = 0, n_ffn = 0; /* layers with attention / with an MLP (none in a Mamba-2 model) */
    for (int l = 0; l < d->n_layers; l++) {
        n_att += d->layers[l].kind != RL_LAYER_LINEAR && !d->layers[l].no_mixer;
        n_ffn += !d->layers[l].no_mlp;
    }
    if (n_att) {
        printf("attention       scale %g%s%s", d->attn_scale, d->qkv_bias ? ", qkv bias" : "", d->o_bias ? ", o bias" : "");
        if (d->attn_softcap > 0) printf(", softcap %g", d->attn_softcap);
        if (d->attn_sinks) printf(", attention sinks");
        printf("\n");
    } else
        printf("attention       none (no attention layers: heads and rope above are unused)\n");
    int nsl = 0;
    for (int l = 0; l < d->n_layers; l++) nsl += d->layers[l].kind == RL_LAYER_SLIDING;
    if (nsl) {
        printf("sliding window  ");
        int first = 1;
        for (int l = 0; l < d->n_layers; l++)
            if (d->layers[l].kind == RL_LAYER_SLIDING) { printf("%s%d", first ? "" : ",", l); first = 0; }
        printf(" (window %d)\n", d->layers[0].kind == RL_LAYER_SLIDING ? d->layers[0].window : d->layers[d->n_layers - 1].window);
    }
    int nch = 0, nl2 = 0, ntemp = 0; /* Llama 4 */
    for (int l = 0; l < d->n_layers; l++) {
        nch += d->layers[l].chunked && d->attn_chunk > 0;
        nl2 += d->layers[l].qk_l2;
        ntemp += d->layers[l].temp_tuned && d->attn_temp_scale > 0;
    }
    if (nch) printf("chunked         %d of %d layers attend within chunks of %d positions\n", nch, d->n_layers, d->attn_chunk);
    if (nl2) printf("q/k L2 norm     %d of %d layers (per head, no weight)\n", nl2, d->n_layers);
    if (ntemp)
        printf("temperature     %d of %d layers: queries x (1 + %g ln(1 + floor((pos + 1) / %d)))\n", ntemp, d->n_layers,
               (double)d->attn_temp_scale, d->attn_temp_floor);
    int nlin = 0; /* hybrid models: Gated DeltaNet / Mamba layers (deltanet.c) keep a fixed state (Falcon-H1's beside
                     a KV cache); Nemotron-H's MLP-only layers neither */
    int n_one = 0; /* layers of one sublayer */
    for (int l = 0; l < d->n_layers; l++) {
        nlin += d->layers[l].kind == RL_LAYER_LINEAR || d->layers[l].ssm_too;
        n_one += d->layers[l].no_mixer || d->layers[l].no_mlp;
    }
    if (n_one) { /* Nemotron-H: M Mamba-2, * attention, - MLP (hybrid_override_pattern's letters) */
        printf("sublayers       one per layer: ");
        for (int l = 0; l < d->n_layers; l++)
            putchar(d->layers[l].no_mixer ? (d->n_experts > 0 && d->layer_moe[l] ? 'E' : '-') : !d->layers[l].no_mlp ? '+'
                    : d->layers[l].kind == RL_LAYER_LINEAR ? 'M' : '*');
        printf(" (M Mamba, * attention, - MLP, E experts)\n");
    }
    if (nlin) {
        int mamba = d->lin_kind == RL_LIN_MAMBA2;
        printf("linear attn     %s on layers ", mamba ? "Mamba-2" : d->lin_kind == RL_LIN_MAMBA1 ? "Mamba"
                                               : d->lin_kind == RL_LIN_SHORTCONV ? "gated short conv" : "Gated DeltaNet");
        for (int l = 0, first = 1; l < d->n_layers; l++)
            if (d->layers[l].kind == RL_LAYER_LINEAR || d->layers[l].ssm_too) { printf("%s%d", first ? "" : ",", l); first = 0; }
        if (d->layers[0].ssm_too) printf(" (beside attention)");
        if (d->lin_kind == RL_LIN_SHORTCONV)
            printf(" (%d channels, conv %d%s: C * conv(B * x))\n", d->lin_v_heads, d->lin_conv_k, d->lin_conv_bias ? " with bias" : "");
        else if (d->lin_kind == RL_LIN_MAMBA1)
            printf(" (%d channels, state %d, dt rank %d, conv %d%s%s)\n", d->lin_v_heads, d->lin_k_dim, d->lin_dt_rank, d->lin_conv_k,
                   d->lin_conv_bias ? " with bias" : "", d->lin_dtbc_norm == 1 ? ", dt / B / C RMSNorms" : d->lin_dtbc_norm == 2 ? ", dt / B / C RMS-normalised" : "");
        else if (mamba)
            printf(" (%d heads x %d, state %d in %d group%s, conv %d%s%s)\n", d->lin_v_heads, d->lin_v_dim, d->lin_k_dim,
                   d->lin_k_heads, d->lin_k_heads == 1 ? "" : "s", d->lin_conv_k, d->lin_conv_bias ? " with bias" : "",
                   d->lin_norm_groups > 1 ? ", output norm per group" : "");
        else
            printf(" (%d key heads x %d, %d value heads x %d, conv %d%s)%s\n", d->lin_k_heads, d->lin_k_dim, d->lin_v_heads,
                   d->lin_v_dim, d->lin_conv_k, d->lin_fused ? ", fused qkvz / ba projections" : "",
                   d->attn_out_gate ? "; full attention output gated" : "");
    }
    if (!n_ffn) printf("mlp             none\n");
    else printf("mlp             %s %s%s\n", d->mlp_gated ? "gated" : "plain",
           d->act == RL_ACT_SILU ? "SiLU" : d->act == RL_ACT_GELU_TANH ? "GELU(tanh)" : d->act == RL_ACT_GELU_ERF ? "GELU" : d->act == RL_ACT_RELU2 ? "squared ReLU" : "clamped SwiGLU (gpt-oss)", d->mlp_bias ? ", bias" : "");
    print_block_features(d);
    char moe_line[512]; /* MoE routing and MLA dimensions (moe_config.c) */
    rl_moe_describe(d, moe_line, sizeof moe_line);
    if (moe_line[0]) printf("%-16s%s\n", d->n_experts > 0 ? (d->mla ? "mla / moe" : "moe") : "mla", moe_line);
    printf("embedding       %s", d->tied ? "tied to lm_head" : "separate lm_head");
    if (d->emb_scale != 1) printf(", scaled by %g", d->emb_scale);
    if (d->head_bias) printf(", lm_head bias");
    if (d->head_norm_rows) printf(", NormHead (lm_head rows L2-normalised)");
    if (d->final_softcap > 0) printf(", final softcap %g", d->final_softcap);
    if (d->logit_div && d->logit_div != 1) printf(", logits / %g", d->logit_div);
    if (d->resid_mult && d->resid_mult != 1) printf("\nresidual        each sublayer's output x %g before its add", d->resid_mult);
    printf("\neos ids         ");
    for (int i = 0; i < d->n_eos; i++) printf("%s%d", i ? "," : "", d->eos_ids[i]);
    printf("%s\n", d->n_eos ? "" : "(none)");

    uint64_t total = 0, largest = 0, layers = 0;
    for (int i = 0; i < rl_ckpt_n_files(ck); i++) total += rl_ckpt_file_size(ck, i);
    for (int i = 0; i < n; i++) {
        if (st[i].bytes > largest) largest = st[i].bytes;
        if (st[i].kind == RL_STAGE_LAYER) layers += st[i].bytes;
    }
    int n_kvl = 0; /* layers with a KV cache */
    for (int l = 0; l < d->n_layers; l++) n_kvl += d->layers[l].kind != RL_LAYER_LINEAR && !d->layers[l].no_mixer;
    double kv = 2.0 * n_kvl * (double)ctx * d->n_kv_heads * d->head_dim * 4; /* (an estimate, when the plan cannot be made) */
    double lin_state = nlin * 4.0 * ((double)d->lin_v_heads * d->lin_k_dim * d->lin_v_dim +
                                     (d->lin_conv_k - 1.0) * (double)rl_lin_conv_dim(d));
    mo.ctx = ctx;
    double pkv = 0, plin = 0;
    if (!plan_state(dir, &mo, &pkv, &plin)) { kv = pkv; lin_state = plin; } /* as opened: --kv-type, rings, --parallel, MLA */
    kv += lin_state;
    char a[32], b[32], c[32], e[32], f[32];
    mb(a, sizeof a, (double)total); mb(b, sizeof b, (double)layers / d->n_layers); mb(c, sizeof c, (double)largest);
    mb(e, sizeof e, kv); mb(f, sizeof f, 2.0 * (double)largest + kv);
    printf("\nmemory plan\n  checkpoint      %s in %d file(s)\n  bytes per layer %s (largest stage %s; lm_head streamed in %d chunks)\n",
           a, rl_ckpt_n_files(ck), b, c, n - d->n_layers);
    printf("  resident        final norm (%d floats); embedding rows gathered per token\n", d->hidden);
    if (d->n_experts > 0)
        printf("  experts         not in the stages: per sweep only the routed experts (top-%d of %d per token) are read, unless cached (routed experts below)\n",
               d->n_experts_used, d->n_experts);
    if (nlin) {
        char ls[32];
        mb(ls, sizeof ls, lin_state);
        printf("  linear state    %s (recurrent + conv state of %d layers, fixed size; counted with the KV cache below)\n", ls, nlin);
    }
    printf("  KV cache        %s for a context of %d tokens (%s)\n  streaming peak  ~%s + activations (2 stage slots + KV cache)\n", e, ctx,
           mo.kv_type ? mo.kv_type : "f32", f);
    free(st); rl_ckpt_close(ck); free(d);
    printf("\n");
    if (rl_model_print_plan(dir, &mo, stdout)) return rl_cli_fail(NULL);
    return 0;
}
