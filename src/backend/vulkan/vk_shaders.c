/* The compute shaders of the vulkan backend as SPIR-V words, compiled from shaders/NAME.comp by
 * glslc at build time (its -mfmt=c output, $(BUILD)/spv/NAME_SG.h), each in two variants:
 * SG=0 with shared-memory reductions, SG=1 with subgroup arithmetic. */
#include "backend/vulkan/vk_internal.h"
#include <stddef.h>

static const uint32_t matmul_0[] =
#include "matmul_0.h"
    ;
static const uint32_t matmul_1[] =
#include "matmul_1.h"
    ;
static const uint32_t convert_0[] =
#include "convert_0.h"
    ;
static const uint32_t convert_1[] =
#include "convert_1.h"
    ;
static const uint32_t norm_0[] =
#include "norm_0.h"
    ;
static const uint32_t norm_1[] =
#include "norm_1.h"
    ;
static const uint32_t rope_0[] =
#include "rope_0.h"
    ;
static const uint32_t rope_1[] =
#include "rope_1.h"
    ;
static const uint32_t attention_0[] =
#include "attention_0.h"
    ;
static const uint32_t attention_1[] =
#include "attention_1.h"
    ;
static const uint32_t dsa_0[] =
#include "dsa_0.h"
    ;
static const uint32_t dsa_1[] =
#include "dsa_1.h"
    ;
static const uint32_t ew_0[] =
#include "ew_0.h"
    ;
static const uint32_t ew_1[] =
#include "ew_1.h"
    ;
static const uint32_t copy_0[] =
#include "copy_0.h"
    ;
static const uint32_t copy_1[] =
#include "copy_1.h"
    ;
static const uint32_t rows_0[] =
#include "rows_0.h"
    ;
static const uint32_t rows_1[] =
#include "rows_1.h"
    ;
static const uint32_t moe_route_0[] =
#include "moe_route_0.h"
    ;
static const uint32_t moe_route_1[] =
#include "moe_route_1.h"
    ;
static const uint32_t gather_0[] =
#include "gather_0.h"
    ;
static const uint32_t gather_1[] =
#include "gather_1.h"
    ;
static const uint32_t dn_conv_0[] =
#include "dn_conv_0.h"
    ;
static const uint32_t dn_conv_1[] =
#include "dn_conv_1.h"
    ;
static const uint32_t norm64_0[] =
#include "norm64_0.h"
    ;
static const uint32_t norm64_1[] =
#include "norm64_1.h"
    ;
static const uint32_t dn_recur_0[] =
#include "dn_recur_0.h"
    ;
static const uint32_t dn_recur_1[] =
#include "dn_recur_1.h"
    ;

static const uint32_t kv_store_0[] =
#include "kv_store_0.h"
    ;
static const uint32_t kv_store_1[] =
#include "kv_store_1.h"
    ;
static const uint32_t matmul_t_0[] =
#include "matmul_t_0.h"
    ;
static const uint32_t matmul_t_1[] =
#include "matmul_t_1.h"
    ;
static const uint32_t quant_act_0[] =
#include "quant_act_0.h"
    ;
static const uint32_t quant_act_1[] =
#include "quant_act_1.h"
    ;
static const uint32_t matmul_hfq_0[] =
#include "matmul_hfq_0.h"
    ;
static const uint32_t matmul_hfq_1[] =
#include "matmul_hfq_1.h"
    ;
static const uint32_t ssm_scan_0[] =
#include "ssm_scan_0.h"
    ;
static const uint32_t ssm_scan_1[] =
#include "ssm_scan_1.h"
    ;

typedef struct { const uint32_t *code[2]; size_t bytes[2]; } spv;
#define E(n) {{n##_0, n##_1}, {sizeof n##_0, sizeof n##_1}}
static const spv SPVS[VKP_COUNT] = {
    E(matmul),
    E(convert),
    E(norm),
    E(rope),
    E(attention),
    E(dsa),
    E(ew),
    E(copy),
    E(rows),
    E(moe_route),
    E(gather),
    E(dn_conv),
    E(dn_recur),
    E(norm64),
    E(kv_store),
    E(matmul_t),
    E(quant_act),
    E(matmul_hfq),
    E(ssm_scan),
};

const uint32_t *rl_vk_spv(vk_pipe_id id, int sg, size_t *bytes) {
    *bytes = SPVS[id].bytes[sg != 0];
    return SPVS[id].code[sg != 0];
}
