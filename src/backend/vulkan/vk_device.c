/* The vulkan backend's process-wide device: instance, the chosen physical device
 * (RL_VULKAN_DEVICE=N, else the first discrete GPU, else the first device), one compute queue,
 * the compute pipelines (SPIR-V embedded at build time, created on first use; the variant with
 * subgroup reductions where the device has subgroup arithmetic in compute shaders), and buffers
 * with device addresses. Created on the first open (pipelines are compiled once per process);
 * the device is destroyed at exit, the instance kept (destroying it unloads the driver, and
 * lavapipe leaves an allocation that LeakSanitizer then reports from an unloaded module). */
#include "backend/vulkan/vk_internal.h"
#include "util/err.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const uint32_t *rl_vk_spv(vk_pipe_id id, int sg, size_t *bytes); /* vk_shaders.c */

static vk_dev *g_dev;
static int g_tried;
static char g_err[512];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static void dev_destroy(void) {
    vk_dev *d = g_dev;
    if (!d) return;
    vkDeviceWaitIdle(d->dev);
    for (int i = 0; i < VKP_COUNT; i++) if (d->pipe[i]) vkDestroyPipeline(d->dev, d->pipe[i], NULL);
    if (d->layout) vkDestroyPipelineLayout(d->dev, d->layout, NULL);
    vkDestroyDevice(d->dev, NULL);
    d->dev = VK_NULL_HANDLE;
    memset(d->pipe, 0, sizeof d->pipe);
}

/* 1 if the device has what the backend needs (Vulkan 1.2, device addresses, timeline semaphores,
 * a compute queue); *qfam the queue family. */
static int usable(VkPhysicalDevice p, uint32_t *qfam) {
    VkPhysicalDeviceProperties pr;
    vkGetPhysicalDeviceProperties(p, &pr);
    if (pr.apiVersion < VK_API_VERSION_1_2) return 0;
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    vkGetPhysicalDeviceFeatures2(p, &f);
    if (!f12.bufferDeviceAddress || !f12.timelineSemaphore) return 0;
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(p, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32) n = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(p, &n, q);
    for (uint32_t i = 0; i < n; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) { *qfam = i; return 1; }
    return 0;
}

static int dev_create(vk_dev *d) {
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "rabbitllm",
                             .pEngineName = "rabbitllm", .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkResult r = vkCreateInstance(&ici, NULL, &d->inst);
    if (r != VK_SUCCESS) return rl_err("vulkan: cannot create an instance (VkResult %d; no Vulkan driver installed?)", r);
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(d->inst, &n, NULL);
    if (n == 0) return rl_err("vulkan: no Vulkan device (install mesa-vulkan-drivers for the CPU driver lavapipe)");
    VkPhysicalDevice pd[16];
    if (n > 16) n = 16;
    vkEnumeratePhysicalDevices(d->inst, &n, pd);
    const char *env = getenv("RL_VULKAN_DEVICE");
    int pick = -1;
    if (env && *env) {
        char *end;
        long k = strtol(env, &end, 10);
        if (*end || k < 0 || k >= (long)n) return rl_err("vulkan: RL_VULKAN_DEVICE=%s: there are %u devices (0..%u)", env, n, n - 1);
        if (!usable(pd[k], &d->qfam)) return rl_err("vulkan: device %ld lacks Vulkan 1.2 with bufferDeviceAddress and timelineSemaphore", k);
        pick = (int)k;
    } else {
        for (int pass = 0; pass < 2 && pick < 0; pass++)
            for (uint32_t i = 0; i < n && pick < 0; i++) {
                VkPhysicalDeviceProperties pr;
                vkGetPhysicalDeviceProperties(pd[i], &pr);
                if ((pass == 1 || pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) && usable(pd[i], &d->qfam)) pick = (int)i;
            }
        if (pick < 0) return rl_err("vulkan: none of the %u devices has Vulkan 1.2 with bufferDeviceAddress and timelineSemaphore", n);
    }
    d->phys = pd[pick];
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &drv};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    vkGetPhysicalDeviceProperties2(d->phys, &p2);
    d->props = p2.properties;
    vkGetPhysicalDeviceMemoryProperties(d->phys, &d->mem);
    uint32_t n_ext = 0; /* VK_EXT_memory_budget: free device memory for --gpu-mem auto (vk_mem.c) */
    if (vkEnumerateDeviceExtensionProperties(d->phys, NULL, &n_ext, NULL) == VK_SUCCESS && n_ext) {
        VkExtensionProperties *ext = calloc(n_ext, sizeof *ext);
        if (ext && vkEnumerateDeviceExtensionProperties(d->phys, NULL, &n_ext, ext) == VK_SUCCESS)
            for (uint32_t i = 0; i < n_ext; i++) {
                d->mem_budget_ext |= !strcmp(ext[i].extensionName, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
                if (!strcmp(ext[i].extensionName, "VK_KHR_cooperative_matrix")) d->coopmat = "VK_KHR_cooperative_matrix";
                else if (!d->coopmat && !strcmp(ext[i].extensionName, "VK_NV_cooperative_matrix")) d->coopmat = "VK_NV_cooperative_matrix";
            }
        free(ext);
    }
    uint32_t need = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
    const char *no_sg = getenv("RL_VULKAN_NO_SUBGROUP");
    d->subgroup = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) && (sg.supportedOperations & need) == need &&
                  sg.subgroupSize >= 1 && sg.subgroupSize <= VK_WG && !(no_sg && *no_sg && strcmp(no_sg, "0"));
    d->sg_size = sg.subgroupSize;
    snprintf(d->desc, sizeof d->desc, "vulkan (device %d: %.80s; driver %.40s %.60s; %s)", pick, d->props.deviceName,
             drv.driverName, drv.driverInfo, d->subgroup ? "subgroup reductions" : "shared-memory reductions");
    if (d->subgroup) {
        size_t l = strlen(d->desc);
        snprintf(d->desc + l - 1, sizeof d->desc - l + 1, ", subgroup size %u)", d->sg_size);
    }
    size_t dl = strlen(d->desc); /* what a cooperative-matrix GEMM could use, for the device findings */
    snprintf(d->desc + dl - 1, sizeof d->desc - dl + 1, "; cooperative matrices: %s)",
             d->coopmat ? d->coopmat : "none");

    /* uploads made ahead (upload_async): a transfer-only queue family (a copy engine) where there
     * is one, else a second queue of the compute family, else the compute queue itself;
     * RL_VULKAN_NO_TRANSFER=1 forces the last */
    uint32_t nf = 0;
    VkQueueFamilyProperties qf[32];
    vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nf, NULL);
    if (nf > 32) nf = 32;
    vkGetPhysicalDeviceQueueFamilyProperties(d->phys, &nf, qf);
    const char *no_tq = getenv("RL_VULKAN_NO_TRANSFER");
    int tq_mode = 0; /* 0: the compute queue, 1: a second compute-family queue, 2: another family */
    d->tqfam = d->qfam;
    if (!(no_tq && *no_tq && strcmp(no_tq, "0"))) {
        for (uint32_t i = 0; i < nf && !tq_mode; i++)
            if (i != d->qfam && (qf[i].queueFlags & VK_QUEUE_TRANSFER_BIT) &&
                !(qf[i].queueFlags & (VK_QUEUE_COMPUTE_BIT | VK_QUEUE_GRAPHICS_BIT)) && qf[i].queueCount > 0) {
                d->tqfam = i;
                tq_mode = 2;
            }
        if (!tq_mode && d->qfam < nf && qf[d->qfam].queueCount >= 2) tq_mode = 1;
    }
    float prio[2] = {1.0f, 1.0f};
    VkDeviceQueueCreateInfo qcis[2] = {
        {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = d->qfam,
         .queueCount = tq_mode == 1 ? 2 : 1, .pQueuePriorities = prio},
        {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = d->tqfam, .queueCount = 1,
         .pQueuePriorities = prio}};
    {
        size_t l = strlen(d->desc);
        snprintf(d->desc + l - 1, sizeof d->desc - l + 1, "; uploads ahead on %s)",
                 tq_mode == 2 ? "a transfer queue" : tq_mode == 1 ? "a second compute queue" : "the compute queue");
    }
    VkPhysicalDeviceFeatures have;
    vkGetPhysicalDeviceFeatures(d->phys, &have);
    d->f64 = have.shaderFloat64 == VK_TRUE;
    VkPhysicalDeviceFeatures want = {.shaderFloat64 = have.shaderFloat64};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .bufferDeviceAddress = VK_TRUE, .timelineSemaphore = VK_TRUE};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &f12,
                              .queueCreateInfoCount = tq_mode == 2 ? 2 : 1, .pQueueCreateInfos = qcis, .pEnabledFeatures = &want};
    if ((r = vkCreateDevice(d->phys, &dci, NULL, &d->dev)) != VK_SUCCESS)
        return rl_err("vulkan: cannot create the device on %s (VkResult %d)", d->props.deviceName, r);
    vkGetDeviceQueue(d->dev, d->qfam, 0, &d->queue);
    if (tq_mode == 2) vkGetDeviceQueue(d->dev, d->tqfam, 0, &d->tqueue);
    else if (tq_mode == 1) vkGetDeviceQueue(d->dev, d->qfam, 1, &d->tqueue);
    else d->tqueue = d->queue;
    if (d->f64) {
        size_t l = strlen(d->desc);
        snprintf(d->desc + l - 1, sizeof d->desc - l + 1, ", f64 norm sums)");
    }
    VkPushConstantRange pcr = {VK_SHADER_STAGE_COMPUTE_BIT, 0, VK_PUSH_BYTES};
    VkPipelineLayoutCreateInfo lci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    if ((r = vkCreatePipelineLayout(d->dev, &lci, NULL, &d->layout)) != VK_SUCCESS)
        return rl_err("vulkan: cannot create the pipeline layout (VkResult %d)", r);
    return 0;
}

vk_dev *rl_vk_device(void) {
    pthread_mutex_lock(&g_lock);
    if (!g_dev && !g_tried) {
        g_tried = 1;
        vk_dev *d = calloc(1, sizeof *d);
        if (!d) rl_err("out of memory");
        else {
            pthread_mutex_init(&d->qlock, NULL);
            pthread_mutex_init(&d->tqlock, NULL);
            pthread_mutex_init(&d->plock, NULL);
            g_dev = d;
            if (dev_create(d)) {
                snprintf(g_err, sizeof g_err, "%s", rl_errmsg());
                if (d->dev) vkDestroyDevice(d->dev, NULL);
                if (d->inst) vkDestroyInstance(d->inst, NULL);
                d->dev = NULL;
                g_dev = NULL;
                pthread_mutex_destroy(&d->qlock);
                pthread_mutex_destroy(&d->tqlock);
                pthread_mutex_destroy(&d->plock);
                free(d);
            } else atexit(dev_destroy);
        }
    }
    vk_dev *d = g_dev;
    if (!d) rl_err("%s", g_err[0] ? g_err : "vulkan: no device");
    pthread_mutex_unlock(&g_lock);
    return d;
}

VkPipeline rl_vk_pipeline(vk_dev *d, vk_pipe_id id) {
    pthread_mutex_lock(&d->plock);
    if (!d->pipe[id]) {
        size_t bytes;
        const uint32_t *code = rl_vk_spv(id, d->subgroup, &bytes);
        VkShaderModuleCreateInfo mci = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = bytes, .pCode = code};
        VkShaderModule mod;
        if (vkCreateShaderModule(d->dev, &mci, NULL, &mod) == VK_SUCCESS) {
            VkComputePipelineCreateInfo pci = {
                .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
                .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                          .module = mod, .pName = "main"},
                .layout = d->layout};
            if (vkCreateComputePipelines(d->dev, VK_NULL_HANDLE, 1, &pci, NULL, &d->pipe[id]) != VK_SUCCESS)
                d->pipe[id] = VK_NULL_HANDLE;
            vkDestroyShaderModule(d->dev, mod, NULL);
        }
    }
    VkPipeline p = d->pipe[id];
    pthread_mutex_unlock(&d->plock);
    return p;
}

static int mem_type(vk_dev *d, uint32_t bits, VkMemoryPropertyFlags need, VkMemoryPropertyFlags want) {
    int best = -1;
    for (uint32_t i = 0; i < d->mem.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = d->mem.memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & need) != need) continue;
        if ((f & want) == want) return (int)i;
        if (best < 0) best = (int)i;
    }
    return best;
}

int rl_vk_buf_new(vk_dev *d, vk_buf *b, size_t bytes, int host) {
    memset(b, 0, sizeof *b);
    if (!bytes) bytes = 64;
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    uint32_t fams[2] = {d->qfam, d->tqfam};
    if (d->tqfam != d->qfam) { /* used by the compute and the transfer queue families */
        bci.sharingMode = VK_SHARING_MODE_CONCURRENT;
        bci.queueFamilyIndexCount = 2;
        bci.pQueueFamilyIndices = fams;
    }
    VkResult r = vkCreateBuffer(d->dev, &bci, NULL, &b->buf);
    if (r != VK_SUCCESS) return rl_err("vulkan: cannot create a buffer of %zu bytes (VkResult %d)", bytes, r);
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d->dev, b->buf, &req);
    int t = host ? mem_type(d, req.memoryTypeBits, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                            VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                 : mem_type(d, req.memoryTypeBits, 0, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (t < 0) { vkDestroyBuffer(d->dev, b->buf, NULL); b->buf = VK_NULL_HANDLE; return rl_err("vulkan: no suitable memory type"); }
    VkMemoryAllocateFlagsInfo fi = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                    .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &fi, .allocationSize = req.size,
                               .memoryTypeIndex = (uint32_t)t};
    if ((r = vkAllocateMemory(d->dev, &ai, NULL, &b->mem)) != VK_SUCCESS) {
        vkDestroyBuffer(d->dev, b->buf, NULL);
        b->buf = VK_NULL_HANDLE;
        return rl_err("vulkan: cannot allocate %zu bytes of %s memory (VkResult %d)", bytes, host ? "host-visible" : "device", r);
    }
    vkBindBufferMemory(d->dev, b->buf, b->mem, 0);
    if (host && vkMapMemory(d->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map) != VK_SUCCESS) {
        rl_vk_buf_free(d, b);
        return rl_err("vulkan: cannot map %zu bytes of host-visible memory", bytes);
    }
    VkBufferDeviceAddressInfo bai = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = b->buf};
    b->addr = vkGetBufferDeviceAddress(d->dev, &bai);
    b->bytes = bytes;
    return 0;
}

void rl_vk_buf_free(vk_dev *d, vk_buf *b) {
    if (b->map) vkUnmapMemory(d->dev, b->mem);
    if (b->buf) vkDestroyBuffer(d->dev, b->buf, NULL);
    if (b->mem) vkFreeMemory(d->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

const char *rl_vk_describe(void) { return g_dev ? g_dev->desc : "vulkan"; }
