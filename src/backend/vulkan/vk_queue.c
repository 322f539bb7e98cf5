/* Per-instance command recording and submission of the vulkan backend: a ring of command
 * buffers on the compute queue, each submission signalling the next value of a timeline
 * semaphore (fence() is that value, wait() waits for it); a full memory barrier after every
 * command orders each op after the previous one; the first failure is kept for status(). */
#include "backend/vulkan/vk_internal.h"
#include "util/err.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define WAIT_NS 120000000000ull /* 2 minutes: a hung device turns into an error */

void rl_vk_fail(vk_be *v, const char *fmt, ...) {
    if (v->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err, sizeof v->err, fmt, ap);
    va_end(ap);
    v->failed = 1;
}

int rl_vk_wait(vk_be *v, uint64_t val) {
    if (v->failed) return rl_err("%s", v->err);
    if (val == 0) return 0;
    VkSemaphoreWaitInfo wi = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1,
                              .pSemaphores = &v->tl, .pValues = &val};
    VkResult r = vkWaitSemaphores(v->d->dev, &wi, WAIT_NS);
    if (r != VK_SUCCESS) {
        rl_vk_fail(v, "vulkan: waiting for the device failed (VkResult %d%s)", r, r == VK_TIMEOUT ? ": timeout" : "");
        return rl_err("%s", v->err);
    }
    return 0;
}

int rl_vk_wait_transfers(vk_be *v) {
    if (!v->tsubmitted) return 0;
    VkSemaphoreWaitInfo wi = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1,
                              .pSemaphores = &v->ttl, .pValues = &v->tsubmitted};
    VkResult r = vkWaitSemaphores(v->d->dev, &wi, WAIT_NS);
    if (r != VK_SUCCESS) {
        rl_vk_fail(v, "vulkan: waiting for an upload failed (VkResult %d%s)", r, r == VK_TIMEOUT ? ": timeout" : "");
        return rl_err("%s", v->err);
    }
    return 0;
}

VkCommandBuffer rl_vk_cmd(vk_be *v) {
    if (v->failed) return VK_NULL_HANDLE;
    VkCommandBuffer cb = v->cb[v->cur];
    if (!v->recording) {
        if (rl_vk_wait(v, v->cb_val[v->cur])) return VK_NULL_HANDLE; /* its previous submission */
        vkResetCommandBuffer(cb, 0);
        VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                       .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
        if (vkBeginCommandBuffer(cb, &bi) != VK_SUCCESS) { rl_vk_fail(v, "vulkan: cannot begin a command buffer"); return VK_NULL_HANDLE; }
        v->recording = 1;
        v->n_cmds = 0;
    }
    return cb;
}

void rl_vk_barrier(vk_be *v, VkCommandBuffer cb) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                           VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
    VkPipelineStageFlags st = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cb, st, st, 0, 1, &mb, 0, NULL, 0, NULL);
    /* long recordings are submitted in pieces so the device starts early */
    if (++v->n_cmds >= 256) rl_vk_flush(v);
}

uint64_t rl_vk_flush(vk_be *v) {
    if (!v->recording || v->failed) return v->submitted;
    VkCommandBuffer cb = v->cb[v->cur];
    v->recording = 0;
    if (vkEndCommandBuffer(cb) != VK_SUCCESS) { rl_vk_fail(v, "vulkan: cannot end a command buffer"); return v->submitted; }
    uint64_t val = v->submitted + 1, jv = v->join_val;
    int join = jv > v->joined; /* uploads joined since the last submission: wait for them on the device */
    VkPipelineStageFlags wst = VK_PIPELINE_STAGE_ALL_COMMANDS_BIT;
    VkTimelineSemaphoreSubmitInfo ts = {.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                                        .waitSemaphoreValueCount = join ? 1 : 0, .pWaitSemaphoreValues = &jv,
                                        .signalSemaphoreValueCount = 1, .pSignalSemaphoreValues = &val};
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .pNext = &ts, .waitSemaphoreCount = join ? 1 : 0,
                       .pWaitSemaphores = &v->ttl, .pWaitDstStageMask = &wst, .commandBufferCount = 1,
                       .pCommandBuffers = &cb, .signalSemaphoreCount = 1, .pSignalSemaphores = &v->tl};
    pthread_mutex_lock(&v->d->qlock);
    VkResult r = vkQueueSubmit(v->d->queue, 1, &si, VK_NULL_HANDLE);
    pthread_mutex_unlock(&v->d->qlock);
    if (r != VK_SUCCESS) { rl_vk_fail(v, "vulkan: queue submission failed (VkResult %d)", r); return v->submitted; }
    v->submitted = val;
    if (join) v->joined = jv;
    v->cb_val[v->cur] = val;
    v->cur = (v->cur + 1) % VK_NCB;
    return val;
}

void rl_vk_dispatch(vk_be *v, vk_pipe_id id, const void *pc, uint32_t bytes, uint32_t x, uint32_t y, uint32_t z) {
    if (!x || !y || !z) return;
    if (bytes > VK_PUSH_BYTES) { rl_vk_fail(v, "vulkan: %u bytes of push constants (at most %d)", bytes, VK_PUSH_BYTES); return; }
    VkCommandBuffer cb = rl_vk_cmd(v);
    if (!cb) return;
    VkPipeline p = rl_vk_pipeline(v->d, id);
    if (!p) { rl_vk_fail(v, "vulkan: cannot create compute pipeline %d", (int)id); return; }
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    vkCmdPushConstants(cb, v->d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, bytes, pc);
    vkCmdDispatch(cb, x, y, z);
    rl_vk_barrier(v, cb);
}

void rl_vk_dispatch_n(vk_be *v, vk_pipe_id id, const void *pc, uint32_t bytes, uint64_t n, uint32_t z) {
    if (!n) return;
    uint64_t x = n < 65535 ? n : 65535, y = (n + x - 1) / x;
    if (y > 65535) { rl_vk_fail(v, "vulkan: dispatch of %llu workgroups is too large", (unsigned long long)n); return; }
    rl_vk_dispatch(v, id, pc, bytes, (uint32_t)x, (uint32_t)y, z);
}

vk_buf *rl_vk_find(vk_be *v, uint64_t addr, size_t n, VkDeviceSize *off) {
    for (int i = 0; i < v->n_arenas; i++) {
        vk_buf *b = &v->arenas[i];
        if (addr >= b->addr && addr - b->addr <= b->bytes && n <= b->bytes - (addr - b->addr)) {
            *off = addr - b->addr;
            return b;
        }
    }
    return NULL;
}

vk_buf *rl_vk_find_host(vk_be *v, const void *p, size_t n, VkDeviceSize *off) {
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < v->n_hosts; i++) {
        vk_buf *b = &v->hosts[i];
        uintptr_t m = (uintptr_t)b->map;
        if (a >= m && a - m <= b->bytes && n <= b->bytes - (a - m)) {
            *off = a - m;
            return b;
        }
    }
    return NULL;
}
