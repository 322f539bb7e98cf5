/* quantization_config parsing (see quant_config.h). Formats: "fp8" (block-scaled, DeepSeek-V3 /
 * Qwen3-FP8), "gptq" (v1 zeros; AutoGPTQ, GPTQModel and transformers' GPTQConfig blocks),
 * "awq" (GEMM), "bitsandbytes" 4-bit. */
#include "model/quant_config.h"
#include "util/err.h"
#include "util/fileio.h"
#include <stdio.h>
#include <string.h>

/* compressed-tensors (llm-compressor) FP8: "format" float-quantized / naive-quantized, every
 * config group's "weights" scheme float 8-bit symmetric, static, strategy channel / tensor / block
 * (block_structure [r, c]); all groups the same scheme. input_activations (static input_scale or
 * dynamic) are accepted and not applied: activations stay f32, as for the other HF formats. */
static int parse_ct(const cJSON *qc, rl_quant_desc *q, const char *file) {
    const char *fmt = NULL;
    if (rl_json_str(qc, "format", NULL, &fmt, file)) return -1;
    if (!fmt || (strcmp(fmt, "float-quantized") && strcmp(fmt, "naive-quantized")))
        return rl_err("%s: compressed-tensors format \"%s\" is not supported (only FP8: float-quantized, naive-quantized)", file, fmt ? fmt : "(none)");
    const cJSON *groups = rl_json_get(qc, "config_groups"), *g;
    if (!cJSON_IsObject(groups) || !groups->child) return rl_err("%s: compressed-tensors quantization_config needs \"config_groups\"", file);
    int n = 0;
    cJSON_ArrayForEach(g, groups) {
        const cJSON *w = rl_json_get(g, "weights");
        if (!cJSON_IsObject(w)) return rl_err("%s: config_groups.%s has no \"weights\" scheme", file, g->string);
        const char *type = NULL, *strat = NULL;
        long long bits;
        int sym, dyn;
        if (rl_json_str(w, "type", "int", &type, file) || rl_json_int(w, "num_bits", 0, &bits, file) ||
            rl_json_str(w, "strategy", "tensor", &strat, file) || rl_json_bool(w, "symmetric", 1, &sym, file) ||
            rl_json_bool(w, "dynamic", 0, &dyn, file)) return -1;
        if (strcmp(type, "float") || bits != 8)
            return rl_err("%s: config_groups.%s weights are %s %lld-bit: only float 8-bit (FP8 e4m3) compressed-tensors is supported", file, g->string, type, bits);
        if (!sym || dyn) return rl_err("%s: config_groups.%s: %s FP8 weights are not supported", file, g->string, !sym ? "asymmetric" : "dynamic");
        int blk[2] = {0, 0};
        if (!strcmp(strat, "channel")) blk[0] = 1;
        else if (!strcmp(strat, "block")) {
            const cJSON *bs = rl_json_get(w, "block_structure");
            for (int k = 0; k < 2; k++) {
                const cJSON *e = cJSON_GetArrayItem(bs, k);
                if (!cJSON_IsArray(bs) || cJSON_GetArraySize(bs) != 2 || !cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 65536 ||
                    e->valuedouble != (int)e->valuedouble)
                    return rl_err("%s: config_groups.%s: block strategy needs \"block_structure\" [rows, cols] of positive integers", file, g->string);
                blk[k] = (int)e->valuedouble;
            }
        } else if (strcmp(strat, "tensor"))
            return rl_err("%s: config_groups.%s: FP8 weight strategy \"%s\" is not supported (channel, tensor, block)", file, g->string, strat);
        if (n && (blk[0] != q->block[0] || blk[1] != q->block[1]))
            return rl_err("%s: config_groups use different FP8 weight strategies, which is not supported", file);
        q->block[0] = blk[0];
        q->block[1] = blk[1];
        snprintf(q->type, sizeof q->type, "%s", strat);
        n++;
    }
    q->method = RL_QM_FP8;
    q->bits = 8;
    q->fp8_ct = 1;
    return 0;
}

static int parse_block(const cJSON *qc, rl_quant_desc *q, const char *file) {
    const char *m = NULL;
    if (rl_json_str(qc, "quant_method", NULL, &m, file)) return -1;
    if (!m) return rl_err("%s: quantization_config has no \"quant_method\"", file);
    long long v;
    int b;
    if (!strcmp(m, "fp8")) {
        q->method = RL_QM_FP8;
        q->bits = 8;
        const char *fmt = NULL;
        if (rl_json_str(qc, "fmt", "e4m3", &fmt, file)) return -1;
        if (strcmp(fmt, "e4m3")) return rl_err("%s: quantization_config fmt \"%s\" is not supported (only e4m3)", file, fmt);
        snprintf(q->type, sizeof q->type, "%s", fmt);
        const char *sf = NULL;
        if (rl_json_str(qc, "scale_fmt", NULL, &sf, file)) return -1;
        if (sf && strcmp(sf, "float32") && strcmp(sf, "fp32"))
            return rl_err("%s: quantization_config scale_fmt \"%s\" is not supported", file, sf);
        const cJSON *bs = rl_json_get(qc, "weight_block_size");
        if (!bs || !cJSON_IsArray(bs) || cJSON_GetArraySize(bs) != 2)
            return rl_err("%s: FP8 quantization_config needs \"weight_block_size\" [rows, cols] (per-tensor FP8 is not supported)", file);
        for (int k = 0; k < 2; k++) {
            const cJSON *e = cJSON_GetArrayItem(bs, k);
            if (!cJSON_IsNumber(e) || e->valuedouble < 1 || e->valuedouble > 65536 || e->valuedouble != (int)e->valuedouble)
                return rl_err("%s: quantization_config weight_block_size must hold two positive integers", file);
            q->block[k] = (int)e->valuedouble;
        }
        return 0;
    }
    if (!strcmp(m, "gptq") || !strcmp(m, "awq")) {
        q->method = m[0] == 'g' ? RL_QM_GPTQ : RL_QM_AWQ;
        if (rl_json_int(qc, "bits", 4, &v, file)) return -1;
        if (q->method == RL_QM_GPTQ ? (v != 4 && v != 8) : v != 4)
            return rl_err("%s: quantization_config bits %lld is not supported for %s (%s)", file, v, m, q->method == RL_QM_GPTQ ? "4 or 8" : "4");
        q->bits = (int)v;
        if (rl_json_int(qc, "group_size", 128, &v, file)) return -1;
        if (v < 1 || v > (1 << 20)) return rl_err("%s: quantization_config group_size %lld is not supported (-1 / per-channel is not)", file, v);
        q->group = (int)v;
        if (q->method == RL_QM_GPTQ) {
            if (rl_json_bool(qc, "desc_act", 0, &q->desc_act, file) || rl_json_bool(qc, "sym", 1, &q->sym, file)) return -1;
            const char *cf = NULL;
            if (rl_json_str(qc, "checkpoint_format", "gptq", &cf, file)) return -1;
            if (strcmp(cf, "gptq")) return rl_err("%s: GPTQ checkpoint_format \"%s\" is not supported (only \"gptq\", v1)", file, cf);
            if (rl_json_bool(qc, "lm_head", 0, &b, file)) return -1;
            if (b) return rl_err("%s: a GPTQ-quantized lm_head (\"lm_head\": true) is not supported", file);
        } else {
            const char *ver = NULL;
            if (rl_json_str(qc, "version", "gemm", &ver, file)) return -1;
            if (strcmp(ver, "gemm") && strcmp(ver, "GEMM")) return rl_err("%s: AWQ version \"%s\" is not supported (only gemm)", file, ver);
            if (rl_json_bool(qc, "zero_point", 1, &b, file)) return -1;
            if (!b) return rl_err("%s: AWQ zero_point false is not supported", file);
        }
        return 0;
    }
    if (!strcmp(m, "bitsandbytes")) {
        int l4 = 0, l8 = 0;
        if (rl_json_bool(qc, "load_in_4bit", 0, &l4, file) || rl_json_bool(qc, "load_in_8bit", 0, &l8, file)) return -1;
        if (!l4) return rl_err("%s: bitsandbytes %s is not supported (only load_in_4bit)", file, l8 ? "8-bit (load_in_8bit)" : "without load_in_4bit");
        q->method = RL_QM_BNB4;
        q->bits = 4;
        const char *t = NULL;
        if (rl_json_str(qc, "bnb_4bit_quant_type", "fp4", &t, file)) return -1;
        if (strcmp(t, "nf4") && strcmp(t, "fp4")) return rl_err("%s: bnb_4bit_quant_type \"%s\" is not supported", file, t);
        snprintf(q->type, sizeof q->type, "%s", t);
        const char *st = NULL;
        if (rl_json_str(qc, "bnb_4bit_quant_storage", "uint8", &st, file)) return -1;
        if (strcmp(st, "uint8")) return rl_err("%s: bnb_4bit_quant_storage \"%s\" is not supported (only uint8)", file, st);
        return rl_json_bool(qc, "bnb_4bit_use_double_quant", 0, &q->double_quant, file);
    }
    if (!strcmp(m, "compressed-tensors")) return parse_ct(qc, q, file);
    if (!strcmp(m, "mxfp4")) { /* gpt-oss: the routed experts (<name>_blocks / _scales), the rest plain */
        q->method = RL_QM_MXFP4;
        q->bits = 4;
        q->group = 32;
        return 0;
    }
    return rl_err("%s: quantization_config quant_method \"%s\" is not supported (fp8, gptq, awq, bitsandbytes, compressed-tensors, mxfp4)", file, m);
}

int rl_quant_config_load(const char *model_dir, const cJSON *root, const char *file, rl_quant_desc *q) {
    memset(q, 0, sizeof *q);
    const cJSON *qc = rl_json_get(root, "quantization_config");
    if (qc) {
        if (!cJSON_IsObject(qc)) return rl_err("%s: \"quantization_config\" must be an object", file);
        return parse_block(qc, q, file);
    }
    char path[4096];
    if (!model_dir || rl_path_join(path, sizeof path, model_dir, "quantize_config.json") || !rl_file_exists(path)) return 0;
    cJSON *r = rl_json_load(path);
    if (!r) return -1;
    int rc = cJSON_IsObject(r) ? 0 : rl_err("%s: top level must be a JSON object", path);
    if (!rc) {
        if (!rl_json_get(r, "quant_method")) { /* older AutoGPTQ files have no quant_method: GPTQ */
            cJSON_AddStringToObject(r, "quant_method", "gptq");
        }
        rc = parse_block(r, q, path);
    }
    cJSON_Delete(r);
    return rc;
}
