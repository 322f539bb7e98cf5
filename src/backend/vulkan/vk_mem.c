/* Memory of the vulkan backend: arenas (device-local buffers; their device addresses are the
 * device pointers the engine sees), host staging (host-visible, coherent, mapped buffers from
 * host_alloc that copies read directly), upload through a 16 MiB staging ring for other host
 * memory, and synchronous download. */
#include "backend/vulkan/vk_internal.h"
#include "util/err.h"
#include <stdlib.h>
#include <string.h>

static int push_buf(vk_buf **arr, int *n, int *cap, const vk_buf *b) {
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        vk_buf *na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na) return rl_err("out of memory");
        *arr = na;
        *cap = nc;
    }
    (*arr)[(*n)++] = *b;
    return 0;
}

/* Everything submitted so far has finished (recording flushed first). */
static int drain(vk_be *v) {
    int rc = rl_vk_wait(v, rl_vk_flush(v));
    if (!rc) rc = rl_vk_wait_transfers(v);
    if (!rc) v->up_used = 0;
    return rc;
}

void *rl_vk_arena_new(rl_backend *be, size_t bytes) {
    vk_be *v = be->impl;
    vk_buf b;
    if (rl_vk_buf_new(v->d, &b, bytes + 64, 0)) return NULL;
    if (push_buf(&v->arenas, &v->n_arenas, &v->cap_arenas, &b)) { rl_vk_buf_free(v->d, &b); return NULL; }
    return (void *)(uintptr_t)((b.addr + 63) & ~(VkDeviceAddress)63);
}

void rl_vk_arena_free(rl_backend *be, void *a, size_t bytes) {
    (void)bytes;
    vk_be *v = be->impl;
    VkDeviceSize off;
    vk_buf *b = a ? rl_vk_find(v, (uint64_t)(uintptr_t)a, 0, &off) : NULL;
    if (!b) return;
    drain(v);
    rl_vk_buf_free(v->d, b);
    *b = v->arenas[--v->n_arenas];
}

/* The budget less the usage of that heap where the driver has VK_EXT_memory_budget (it counts
 * every process); else the heap's size less this backend's own arenas. */
int rl_vk_mem_info(rl_backend *be, size_t *free_b, size_t *total_b) {
    vk_be *v = be->impl;
    vk_dev *d = v->d;
    int heap = -1;
    for (uint32_t i = 0; i < d->mem.memoryTypeCount && heap < 0; i++)
        if (d->mem.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) heap = (int)d->mem.memoryTypes[i].heapIndex;
    if (heap < 0) return rl_err("vulkan: the device has no device-local memory heap");
    *total_b = (size_t)d->mem.memoryHeaps[heap].size;
    if (d->mem_budget_ext) {
        VkPhysicalDeviceMemoryBudgetPropertiesEXT b = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
        VkPhysicalDeviceMemoryProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2, .pNext = &b};
        vkGetPhysicalDeviceMemoryProperties2(d->phys, &p2);
        *free_b = b.heapBudget[heap] > b.heapUsage[heap] ? (size_t)(b.heapBudget[heap] - b.heapUsage[heap]) : 0;
        return 0;
    }
    size_t used = 0;
    for (int i = 0; i < v->n_arenas; i++) used += v->arenas[i].bytes;
    *free_b = *total_b > used ? *total_b - used : 0;
    return 0;
}

void *rl_vk_host_alloc(rl_backend *be, size_t n) {
    vk_be *v = be->impl;
    vk_buf b;
    if (rl_vk_buf_new(v->d, &b, n ? n : 64, 1)) return NULL;
    if (push_buf(&v->hosts, &v->n_hosts, &v->cap_hosts, &b)) { rl_vk_buf_free(v->d, &b); return NULL; }
    return b.map;
}

void rl_vk_host_free(rl_backend *be, void *p) {
    vk_be *v = be->impl;
    for (int i = 0; p && i < v->n_hosts; i++)
        if (v->hosts[i].map == p) {
            drain(v); /* a copy may still read it */
            rl_vk_buf_free(v->d, &v->hosts[i]);
            v->hosts[i] = v->hosts[--v->n_hosts];
            return;
        }
}

void rl_vk_host_invalidate(rl_backend *be, const void *p) { (void)be; (void)p; }

static void copy_cmd(vk_be *v, VkBuffer s, VkDeviceSize so, VkBuffer d, VkDeviceSize doff, VkDeviceSize n) {
    VkCommandBuffer cb = rl_vk_cmd(v);
    if (!cb) return;
    VkBufferCopy r = {so, doff, n};
    vkCmdCopyBuffer(cb, s, d, 1, &r);
    rl_vk_barrier(v, cb);
}

int rl_vk_upload(rl_backend *be, void *dst, const void *src, size_t n) {
    vk_be *v = be->impl;
    if (v->failed) return rl_err("%s", v->err);
    if (!n) return 0;
    VkDeviceSize doff, hoff;
    vk_buf *db = rl_vk_find(v, (uint64_t)(uintptr_t)dst, n, &doff);
    if (!db) return rl_err("vulkan: upload of %zu bytes to an address outside the backend's arenas", n);
    vk_buf *hb = rl_vk_find_host(v, src, n, &hoff);
    if (hb) copy_cmd(v, hb->buf, hoff, db->buf, doff, n); /* read by the device later (see fence) */
    else
        for (size_t done = 0; done < n && !v->failed;) {
            size_t c = n - done < VK_STAGE_BYTES ? n - done : VK_STAGE_BYTES;
            if (v->up_used + c > VK_STAGE_BYTES && drain(v)) break;
            memcpy((char *)v->up.map + v->up_used, (const char *)src + done, c);
            copy_cmd(v, v->up.buf, v->up_used, db->buf, doff + done, c);
            v->up_used += (c + 63) & ~(size_t)63;
            done += c;
        }
    return v->failed ? rl_err("%s", v->err) : 0;
}

int rl_vk_download(rl_backend *be, void *dst, const void *src, size_t n) {
    vk_be *v = be->impl;
    if (v->failed) return rl_err("%s", v->err);
    if (!n) return 0;
    VkDeviceSize soff, hoff;
    vk_buf *sb = rl_vk_find(v, (uint64_t)(uintptr_t)src, n, &soff);
    if (!sb) return rl_err("vulkan: download of %zu bytes from an address outside the backend's arenas", n);
    vk_buf *hb = rl_vk_find_host(v, dst, n, &hoff);
    if (hb) {
        copy_cmd(v, sb->buf, soff, hb->buf, hoff, n);
        return drain(v);
    }
    for (size_t done = 0; done < n;) {
        size_t c = n - done < VK_STAGE_BYTES ? n - done : VK_STAGE_BYTES;
        copy_cmd(v, sb->buf, soff + done, v->down.buf, 0, c);
        if (drain(v)) return -1;
        memcpy((char *)dst + done, v->down.map, c);
        done += c;
    }
    return 0;
}

/* upload_async: one vkCmdCopyBuffer from host_alloc memory on the transfer queue (another queue
 * family's where the device has one), signalling the next value of the transfer timeline; the
 * compute submission after upload_join waits for it on the device. From other host memory: an
 * ordered upload (ticket 0). */
int rl_vk_upload_async(rl_backend *be, void *dst, const void *src, size_t n, uint64_t *ticket) {
    vk_be *v = be->impl;
    *ticket = 0;
    if (v->failed) return rl_err("%s", v->err);
    if (!n) return 0;
    VkDeviceSize doff, hoff;
    vk_buf *db = rl_vk_find(v, (uint64_t)(uintptr_t)dst, n, &doff);
    if (!db) return rl_err("vulkan: upload of %zu bytes to an address outside the backend's arenas", n);
    vk_buf *hb = rl_vk_find_host(v, src, n, &hoff);
    if (!hb || !v->tpool) return rl_vk_upload(be, dst, src, n);
    int i = v->tcur;
    VkCommandBuffer cb = v->tcb[i];
    if (v->tcb_val[i]) { /* the buffer's previous copy */
        VkSemaphoreWaitInfo wi = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO, .semaphoreCount = 1,
                                  .pSemaphores = &v->ttl, .pValues = &v->tcb_val[i]};
        if (vkWaitSemaphores(v->d->dev, &wi, 120000000000ull) != VK_SUCCESS) {
            rl_vk_fail(v, "vulkan: waiting for an earlier upload failed");
            return rl_err("%s", v->err);
        }
    }
    vkResetCommandBuffer(cb, 0);
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkBufferCopy r = {hoff, doff, n};
    if (vkBeginCommandBuffer(cb, &bi) != VK_SUCCESS) { rl_vk_fail(v, "vulkan: cannot begin a transfer command buffer"); return rl_err("%s", v->err); }
    vkCmdCopyBuffer(cb, hb->buf, db->buf, 1, &r);
    if (vkEndCommandBuffer(cb) != VK_SUCCESS) { rl_vk_fail(v, "vulkan: cannot end a transfer command buffer"); return rl_err("%s", v->err); }
    uint64_t val = v->tsubmitted + 1;
    VkTimelineSemaphoreSubmitInfo ts = {.sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
                                        .signalSemaphoreValueCount = 1, .pSignalSemaphoreValues = &val};
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .pNext = &ts, .commandBufferCount = 1,
                       .pCommandBuffers = &cb, .signalSemaphoreCount = 1, .pSignalSemaphores = &v->ttl};
    pthread_mutex_t *lk = v->d->tqueue == v->d->queue ? &v->d->qlock : &v->d->tqlock;
    pthread_mutex_lock(lk);
    VkResult rr = vkQueueSubmit(v->d->tqueue, 1, &si, VK_NULL_HANDLE);
    pthread_mutex_unlock(lk);
    if (rr != VK_SUCCESS) { rl_vk_fail(v, "vulkan: transfer submission failed (VkResult %d)", rr); return rl_err("%s", v->err); }
    v->tsubmitted = val;
    v->tcb_val[i] = val;
    v->tcur = (i + 1) % VK_NCB;
    *ticket = val;
    return 0;
}

int rl_vk_upload_join(rl_backend *be, uint64_t ticket) {
    vk_be *v = be->impl;
    if (v->failed) return rl_err("%s", v->err);
    if (ticket > v->tsubmitted) return rl_err("vulkan: upload_join of an unknown ticket %llu", (unsigned long long)ticket);
    if (ticket > v->join_val) v->join_val = ticket;
    return 0;
}
