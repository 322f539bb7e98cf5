/* Internals of the vulkan backend (src/backend/vulkan/): the process-wide device (one VkDevice,
 * its queue and the compute pipelines, created on first open and kept until exit), and each
 * backend instance's state (command buffers, timeline semaphore, arenas, host staging).
 *
 * Device pointers are real VkDeviceAddress values of the arena buffers (bufferDeviceAddress):
 * shaders take them in push constants; copies look the (VkBuffer, offset) up in the arena list. */
#ifndef RL_VK_INTERNAL_H
#define RL_VK_INTERNAL_H
#include "backend/backend.h"
#include <pthread.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

/* Compute pipelines, one per shader (src/backend/vulkan/shaders/NAME.comp). */
typedef enum {
    VKP_MATMUL, VKP_CONVERT, VKP_NORM, VKP_ROPE, VKP_ATTENTION, VKP_DSA, VKP_EW, VKP_COPY, VKP_ROWS,
    VKP_MOE_ROUTE, VKP_GATHER, VKP_DN_CONV, VKP_DN_RECUR, VKP_NORM64, VKP_KV_STORE, VKP_MATMUL_T, VKP_QUANT_ACT, VKP_MATMUL_HFQ, VKP_SSM_SCAN, VKP_COUNT
} vk_pipe_id;

#define VK_WG 64          /* local_size_x of every shader (shaders/common.glsl) */
#define VK_PUSH_BYTES 128 /* push-constant block limit every device offers */

typedef struct {
    VkInstance inst;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    pthread_mutex_t qlock;      /* vkQueueSubmit is externally synchronised */
    VkQueue tqueue;             /* uploads made ahead (upload_async): a transfer queue, else = queue */
    uint32_t tqfam;
    pthread_mutex_t tqlock;     /* its lock when it is another queue */
    pthread_mutex_t plock;      /* lazy pipeline creation */
    VkPhysicalDeviceMemoryProperties mem;
    int mem_budget_ext;         /* 1: VK_EXT_memory_budget (heap budget and usage) */
    const char *coopmat;        /* the cooperative-matrix extension the device offers (reported, not
                                   used yet: the shaders are the portable ones), or NULL */
    VkPhysicalDeviceProperties props;
    int subgroup;               /* 1: shaders with subgroup reductions */
    int f64;                    /* 1: shaderFloat64 (RMS norm summed in double, as the cpu) */
    uint32_t sg_size;
    VkPipelineLayout layout;
    VkPipeline pipe[VKP_COUNT];
    char desc[384];
} vk_dev;

typedef struct { VkBuffer buf; VkDeviceMemory mem; VkDeviceAddress addr; size_t bytes; void *map; } vk_buf;

#define VK_NCB 4                /* command buffers in flight */
#define VK_STAGE_BYTES ((size_t)16 << 20) /* upload / download staging rings */

typedef struct {
    vk_dev *d;
    VkCommandPool pool;
    VkCommandBuffer cb[VK_NCB];
    uint64_t cb_val[VK_NCB];    /* timeline value the buffer's last submission signals */
    int cur, recording, n_cmds;
    VkSemaphore tl;             /* timeline semaphore */
    uint64_t submitted;         /* last value submitted */
    vk_buf *arenas; int n_arenas, cap_arenas;   /* device-local (arena_new) */
    vk_buf *hosts; int n_hosts, cap_hosts;      /* host-visible (host_alloc) */
    vk_buf up, down, zeros;     /* staging rings and a small zero buffer */
    VkCommandPool tpool;        /* upload_async: command buffers of the transfer queue */
    VkCommandBuffer tcb[VK_NCB];
    uint64_t tcb_val[VK_NCB];
    int tcur;
    VkSemaphore ttl;            /* timeline of the transfer submissions */
    uint64_t tsubmitted;        /* last value submitted on it */
    uint64_t join_val, joined;  /* the next compute submission waits for ttl >= join_val */
    size_t up_used;
    float *scratch; int max_ctx, max_T;
    uint32_t *qact; size_t qact_words; /* GGUF matmuls' quantised activation rows (in the scratch) */
    int failed;                 /* an earlier op failed: message in err */
    char err[512];
} vk_be;

vk_dev *rl_vk_device(void);     /* NULL + rl_err where no device */
VkPipeline rl_vk_pipeline(vk_dev *d, vk_pipe_id id);
int rl_vk_buf_new(vk_dev *d, vk_buf *b, size_t bytes, int host);
void rl_vk_buf_free(vk_dev *d, vk_buf *b);
/* mem_info op: free and total bytes of the heap device buffers come from. */
int rl_vk_mem_info(rl_backend *be, size_t *free_b, size_t *total_b);

/* Records an error (first one kept) for status(). */
void rl_vk_fail(vk_be *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The command buffer being recorded (begun on demand); NULL after a failure. */
VkCommandBuffer rl_vk_cmd(vk_be *v);
/* A full memory barrier after the last command (every command is ordered after the previous). */
void rl_vk_barrier(vk_be *v, VkCommandBuffer cb);
/* Submits what was recorded; returns the timeline value it signals (or the last one). */
uint64_t rl_vk_flush(vk_be *v);
int rl_vk_wait(vk_be *v, uint64_t val);
/* Waits until every transfer submission (upload_async) has finished. */
int rl_vk_wait_transfers(vk_be *v);
/* Device address -> (buffer, offset) of the arena holding [addr, addr + n); NULL if none. */
vk_buf *rl_vk_find(vk_be *v, uint64_t addr, size_t n, VkDeviceSize *off);
/* Host pointer -> host_alloc buffer holding [p, p + n); NULL if none. */
vk_buf *rl_vk_find_host(vk_be *v, const void *p, size_t n, VkDeviceSize *off);
/* Records a dispatch of pipeline id with push constants pc (bytes) and groups (x, y, z). */
void rl_vk_dispatch(vk_be *v, vk_pipe_id id, const void *pc, uint32_t bytes, uint32_t x, uint32_t y, uint32_t z);
/* Dispatch of n workgroups laid out over x (<= 65535) and y (shaders' wg_id()). */
void rl_vk_dispatch_n(vk_be *v, vk_pipe_id id, const void *pc, uint32_t bytes, uint64_t n, uint32_t z);

#endif
