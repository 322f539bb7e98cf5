/* Shared config parsing for MoE and MLA families: expert counts, routing rule, shared
 * experts, which layers are MoE, MLA dimensions, and the common tensor-name maps. Used by the
 * family normalizers in fam_moe.c / fam_deepseek.c (and by Qwen3.5-MoE's). */
#ifndef RL_MOE_CONFIG_H
#define RL_MOE_CONFIG_H
#include "model/desc.h"
#include <cjson/cJSON.h>

/* Reads the routing keys: expert count (num_local_experts / num_experts / n_routed_experts),
 * num_experts_per_tok, moe_intermediate_size, norm_topk_prob (default norm_def),
 * routed_scaling_factor, n_group / topk_group, scoring_func (default sig_def ? sigmoid :
 * softmax), topk_method (greedy, group_limited_greedy, noaux_tc; default noaux_tc when
 * sig_def), and the shared expert (shared_expert_intermediate_size, or n_shared_experts /
 * num_shared_experts x moe_intermediate_size). Does not mark layers. 0 / -1 + rl_err. */
int rl_moe_parse(rl_model_desc *d, const cJSON *cfg, const char *file, int norm_def, int sig_def);

/* Marks MoE layers: mlp_layer_types ("dense"/"sparse") or is_moe_layer (bools) when present,
 * else layers l >= first_k_dense (first_k_dense_replace, or first_last_k_dense_replace) with
 * l % moe_layer_freq == 0. 0 / -1 + rl_err. */
int rl_moe_mark_layers(rl_model_desc *d, const cJSON *cfg, const char *file);

/* Llama-style attention/MLP names plus "mlp.gate.weight" router and "mlp.experts.%d.*_proj"
 * experts (fused: "mlp.experts.gate_up_proj"/"down_proj"). */
void rl_moe_names_llama(rl_model_desc *d, int fused);

/* The Qwen MoE block (Qwen2-MoE, Qwen3-MoE, Qwen3.5-MoE): router "mlp.gate", experts
 * "mlp.experts.%d.{gate,up,down}_proj" (fused: "mlp.experts.gate_up_proj" [E, 2I, H] and
 * "mlp.experts.down_proj" [E, H, I]), shared expert "mlp.shared_expert.*" with its sigmoid
 * "mlp.shared_expert_gate"; softmax routing (norm_topk_prob default norm_def); MoE on layers not
 * in mlp_only_layers with (l + 1) % decoder_sparse_step == 0. Sets only the MoE names. */
int rl_moe_setup_qwen(rl_model_desc *d, const cJSON *cfg, const char *file, int fused, int norm_def);

/* Printable summary ("experts 8, top-2, softmax, ...") for `rabbitllm info`; "" if dense. */
void rl_moe_describe(const rl_model_desc *d, char *buf, size_t cap);

#endif
