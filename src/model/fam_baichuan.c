/* Baichuan family normalizer: Baichuan 2 7B (BaichuanForCausalLM) and Baichuan 7B
 * (BaiChuanForCausalLM): Llama names with the packed W_pack (q, k, v rows), RoPE. Baichuan 2's
 * lm_head is a NormHead (each row L2-normalised before use; the engine does it per head chunk).
 * The 13B models use ALiBi instead of RoPE (their configs have no max_position_embeddings):
 * a clear error. */
#include "model/fam_dense.h"
#include "model/family.h"
#include "util/err.h"
#include "util/json.h"
#include <string.h>

int rl_norm_baichuan(rl_model_desc *d, const cJSON *cfg, const char *file) {
    if (!rl_json_get(cfg, "max_position_embeddings"))
        return rl_err("%s: this Baichuan model uses ALiBi position biases (13B; no max_position_embeddings), which are not supported", file);
    rl_family_llama_names(d);
    d->wname[W_QKV] = "model.layers.%d.self_attn.W_pack.weight";
    d->head_norm_rows = strcmp(d->arch, "BaiChuanForCausalLM") != 0; /* Baichuan 2: NormHead */
    return 0;
}
