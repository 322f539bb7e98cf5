/* DeepSeek multi-head latent attention (MLA), with or without q LoRA, and GLM-5's DSA
 * lightning indexer (each query attends only to the index_topk keys the indexer scores
 * highest). The KV cache holds the expanded keys (heads x (qk_nope + qk_rope)) and values
 * (heads x v_head); the indexer keeps its own key cache. */
#ifndef RL_ENGINE_MLA_H
#define RL_ENGINE_MLA_H
#include "engine/model.h"

/* At plan time: adds the MLA scratch for max_T tokens and the indexer cache (n_layers, ctx,
 * index_head_dim) to the plan. Nothing for models without MLA. 0 / -1 + rl_err. */
int rl_mla_plan(rl_model *m);
int rl_mla_open(rl_model *m);
void rl_mla_close(rl_model *m);

/* MLA of layer l on the normed input m->xb (the sweep's T rows: each segment's rows appended to
 * its sequence's cache at its position, a token tree's nodes where m->tree_parent is set) and
 * writes the o_proj output (T, hidden) to m->o. 0 / -1 + rl_err. */
int rl_mla_forward(rl_model *m, int l, const uint8_t *buf, int T);

/* A committed token-tree path of sequence seq (rl_model_seq_tree_commit): the indexer keys of
 * node nodes[i] (row P + nodes[i]) move to row P + i in every layer's cache. Nothing without
 * the DSA indexer. */
void rl_mla_tree_commit(rl_model *m, int seq, int P, const int32_t *nodes, int k);

#endif
