/* vk_context.h - the Vulkan layer under the backend: loader, devices, memory, pipelines, dispatch.
 *
 * Nothing here knows about actors or queues. It is the part a compute kernel of any kind needs: the ring
 * actors of vulkan_backend.c use it, and the global and stencil kernels the DSL's GLSL emitter will
 * produce will use it the same way (SPIR-V words in, storage buffers bound in binding order, a dispatch
 * with a group count, a timestamp-measured duration out).
 *
 * Loader: libvulkan.so.1 is opened with dlopen on first use (RK_VK_LOADER names another file), so a
 * machine without it still runs everything else; every entry point is then fetched through
 * vkGetInstanceProcAddr/vkGetDeviceProcAddr into the context's table (RK__VK_*_FNS below).
 *
 * Devices are numbered in preference order: discrete GPUs first, then integrated, virtual, CPU (Mesa's
 * lavapipe) and other, in the driver's order within a kind. Device 0 is therefore the best one.
 *
 * Threads: a context may be used by several threads at once; the one thing Vulkan requires callers to
 * serialise, submission to the queue, is serialised here (rk__vk_submit). Pipelines and buffers are
 * created and destroyed by their owner only.
 */
#ifndef RK_VK_CONTEXT_H
#define RK_VK_CONTEXT_H

#define VK_NO_PROTOTYPES
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

/* Entry points fetched with vkGetInstanceProcAddr(NULL, ...). */
#define RK__VK_GLOBAL_FNS(X)                                                                              \
    X(vkCreateInstance)                                                                                   \
    X(vkEnumerateInstanceLayerProperties)                                                                 \
    X(vkEnumerateInstanceExtensionProperties)

/* Entry points of an instance. */
#define RK__VK_INSTANCE_FNS(X)                                                                            \
    X(vkDestroyInstance)                                                                                  \
    X(vkEnumeratePhysicalDevices)                                                                         \
    X(vkGetPhysicalDeviceProperties)                                                                      \
    X(vkGetPhysicalDeviceQueueFamilyProperties)                                                           \
    X(vkGetPhysicalDeviceMemoryProperties)                                                                \
    X(vkGetPhysicalDeviceFeatures)                                                                        \
    X(vkEnumerateDeviceExtensionProperties)                                                               \
    X(vkCreateDevice)                                                                                     \
    X(vkGetDeviceProcAddr)

/* Entry points of a device. */
#define RK__VK_DEVICE_FNS(X)                                                                              \
    X(vkDestroyDevice)                                                                                    \
    X(vkGetDeviceQueue)                                                                                   \
    X(vkCreateBuffer)                                                                                     \
    X(vkDestroyBuffer)                                                                                    \
    X(vkGetBufferMemoryRequirements)                                                                      \
    X(vkAllocateMemory)                                                                                   \
    X(vkFreeMemory)                                                                                       \
    X(vkBindBufferMemory)                                                                                 \
    X(vkMapMemory)                                                                                        \
    X(vkCreateShaderModule)                                                                               \
    X(vkDestroyShaderModule)                                                                              \
    X(vkCreateDescriptorSetLayout)                                                                        \
    X(vkDestroyDescriptorSetLayout)                                                                       \
    X(vkCreatePipelineLayout)                                                                             \
    X(vkDestroyPipelineLayout)                                                                            \
    X(vkCreateComputePipelines)                                                                           \
    X(vkDestroyPipeline)                                                                                  \
    X(vkCreatePipelineCache)                                                                              \
    X(vkDestroyPipelineCache)                                                                             \
    X(vkGetPipelineCacheData)                                                                             \
    X(vkCreateDescriptorPool)                                                                             \
    X(vkDestroyDescriptorPool)                                                                            \
    X(vkAllocateDescriptorSets)                                                                           \
    X(vkUpdateDescriptorSets)                                                                             \
    X(vkCreateCommandPool)                                                                                \
    X(vkDestroyCommandPool)                                                                               \
    X(vkAllocateCommandBuffers)                                                                           \
    X(vkBeginCommandBuffer)                                                                               \
    X(vkEndCommandBuffer)                                                                                 \
    X(vkCmdBindPipeline)                                                                                  \
    X(vkCmdBindDescriptorSets)                                                                            \
    X(vkCmdPushConstants)                                                                                 \
    X(vkCmdDispatch)                                                                                      \
    X(vkCmdDispatchIndirect)                                                                              \
    X(vkCmdCopyBuffer)                                                                                    \
    X(vkResetDescriptorPool)                                                                              \
    X(vkCmdPipelineBarrier)                                                                               \
    X(vkCmdFillBuffer)                                                                                    \
    X(vkCmdResetQueryPool)                                                                                \
    X(vkCmdWriteTimestamp)                                                                                \
    X(vkCreateQueryPool)                                                                                  \
    X(vkDestroyQueryPool)                                                                                 \
    X(vkGetQueryPoolResults)                                                                              \
    X(vkCreateFence)                                                                                      \
    X(vkDestroyFence)                                                                                     \
    X(vkResetFences)                                                                                      \
    X(vkWaitForFences)                                                                                    \
    X(vkQueueSubmit)

#define RK__VK_FN_FIELD(name) PFN_##name name;

/** An instance's entry points; vkGetPhysicalDeviceProperties2 is NULL on a Vulkan 1.0 instance. */
typedef struct rk__vk_ifns {
    RK__VK_INSTANCE_FNS(RK__VK_FN_FIELD)
    PFN_vkGetPhysicalDeviceProperties2 vkGetPhysicalDeviceProperties2;
    PFN_vkGetPhysicalDeviceFeatures2 vkGetPhysicalDeviceFeatures2; /* NULL on a Vulkan 1.0 instance */
} rk__vk_ifns;

/** Most devices the backend lists. */
#define RK__VK_MAX_DEVICES 16

/** One device as probed. */
typedef struct rk__vk_device_desc {
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    char driver[64];                 /* "llvmpipe Mesa 22.3.6 (LLVM 15.0.6)", or vendor and version */
    VkPhysicalDeviceType type;
    uint32_t vendor_id, device_id, driver_version, api_version;
    uint64_t memory_bytes;           /* the largest device-local heap */
    uint32_t enum_index;             /* index in vkEnumeratePhysicalDevices order */
} rk__vk_device_desc;

/** "discrete GPU", "integrated GPU", "virtual GPU", "CPU", "other". */
const char *rk__vk_type_name(VkPhysicalDeviceType t);

/**
 * Lists the Vulkan devices of this machine in preference order (probed once per process, then cached).
 * Returns the count (0 if there is none), or RK_ENODEV with a detail naming what is missing: "no Vulkan
 * loader (libvulkan.so.1 not found)", or the failing call. *why (may be NULL) receives a static string
 * with the same detail when the count is 0.
 */
int rk__vk_devices(rk__vk_device_desc *out, int max, const char **why);

/** A buffer and its memory; map is the host address of a host-visible buffer (RK__VK_MEM_HOST, or a device
 * buffer whose memory is also host-visible and coherent), NULL otherwise. */
typedef struct rk__vk_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;
} rk__vk_buffer;

/** Where a buffer lives. */
typedef enum rk__vk_mem {
    RK__VK_MEM_HOST,   /* host-visible and coherent, mapped: the host writes inputs, reads outputs */
    RK__VK_MEM_DEVICE, /* device-local where the device has such memory (mapped if also host-visible) */
} rk__vk_mem;

/** A compute pipeline: `bindings` storage buffers at set 0, bindings 0..n-1, and push constants. */
typedef struct rk__vk_pipeline {
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline pipe;
    uint32_t bindings;
    uint32_t push_size;
} rk__vk_pipeline;

/**
 * Optional device features a shader may need. A context enables each one the device has (they cost nothing
 * unused), and rk__vk_spirv_check refuses a module that needs one the device lacks with RK_ENOTSUP, rather
 * than handing the driver a module it may miscompile (the validation layer would flag it).
 */
enum {
    RK__VK_FEAT_FLOAT64 = 1u << 0,      /* shaderFloat64 (SPIR-V Float64) */
    RK__VK_FEAT_INT64 = 1u << 1,        /* shaderInt64 (Int64) */
    RK__VK_FEAT_INT16 = 1u << 2,        /* shaderInt16 (Int16) */
    RK__VK_FEAT_DEVICE_CLOCK = 1u << 3, /* VK_KHR_shader_clock's shaderDeviceClock (ShaderClockKHR) */
};

struct rk__vk_ctx;

/** What the host needs to know about a compute module before it builds a pipeline from it. */
typedef struct rk__vk_spirv_info {
    uint32_t local_size[3];  /* OpExecutionMode LocalSize of the entry point; 0s when it has none */
    uint32_t needs;          /* RK__VK_FEAT_* its capabilities require */
    uint32_t bound;          /* the header's id bound */
} rk__vk_spirv_info;

/**
 * Reads a SPIR-V module's header, capabilities and local size. Returns 0, or RK_EINVAL (with the reason)
 * when the words are not a well-formed module: wrong magic, a truncated instruction, no GLCompute entry
 * point "main".
 */
int rk__vk_spirv_inspect(const uint32_t *spirv, size_t words, rk__vk_spirv_info *out);

/** RK_ENOTSUP naming the first feature `info` needs and the context's device lacks (what: the module's
 * name in the message); 0 when it has them all. */
int rk__vk_spirv_check(const struct rk__vk_ctx *c, const rk__vk_spirv_info *info, const char *what);

/** Options of a context. */
typedef struct rk__vk_ctx_opts {
    int device;              /* index in preference order */
    int validation;          /* 1: enable VK_LAYER_KHRONOS_validation if installed (also RK_VK_VALIDATION=1) */
    const char *cache_dir;   /* NULL: $RK_VK_CACHE_DIR, else $XDG_CACHE_HOME/ringkernel, else ~/.cache/ringkernel */
} rk__vk_ctx_opts;

typedef struct rk__vk_ctx {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    uint32_t timestamp_bits;           /* valid bits of the queue's timestamps; 0: none */
    float timestamp_period;            /* nanoseconds per timestamp tick */
    VkPhysicalDeviceMemoryProperties mem;
    VkPhysicalDeviceProperties props;
    rk__vk_device_desc desc;
    VkDebugUtilsMessengerEXT messenger; /* VK_NULL_HANDLE without validation */
    PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;
    int validation;                    /* the validation layer is enabled */
    uint32_t features;                 /* RK__VK_FEAT_* the device was created with */
    VkPipelineCache cache;
    char cache_path[512];              /* "" if no cache directory could be found */
    size_t cache_loaded;               /* bytes of a valid cache file that seeded the cache; 0 if none */
    int cache_rejected;                /* a cache file existed but its header did not match this device */
    pthread_mutex_t submit_lock;       /* vkQueueSubmit needs the queue externally synchronised */
    rk__vk_ifns vi;                    /* the instance's entry points */
    RK__VK_DEVICE_FNS(RK__VK_FN_FIELD) /* the device's entry points, called as c->vkCreateBuffer(...) */
} rk__vk_ctx;

/**
 * Creates a context on device opts->device: instance (with the validation layer when asked and installed),
 * device, one compute queue, the pipeline cache (seeded from the cache file when its header matches).
 * Returns 0; RK_ENODEV (no loader, no such device, no compute queue); RK_ENOMEM; RK_EBACKEND.
 */
int rk__vk_ctx_create(rk__vk_ctx **out, const rk__vk_ctx_opts *opts);

/** Writes the pipeline cache back to its file (atomically: a temporary file, then rename) and frees all. */
void rk__vk_ctx_destroy(rk__vk_ctx *c);

/** Creates a buffer of size bytes usable as a storage buffer and a transfer source and destination (and
 * `extra_usage`). Returns 0 or RK_E*. */
int rk__vk_buffer_create(rk__vk_ctx *c, VkDeviceSize size, rk__vk_mem where, VkBufferUsageFlags extra_usage,
                         rk__vk_buffer *out);
void rk__vk_buffer_destroy(rk__vk_ctx *c, rk__vk_buffer *b);

/** Creates a compute pipeline from SPIR-V (entry point "main"). Returns 0, RK_EINVAL (not SPIR-V) or RK_E*. */
int rk__vk_pipeline_create(rk__vk_ctx *c, const uint32_t *spirv, size_t words, uint32_t bindings, uint32_t push_size,
                           rk__vk_pipeline *out);
void rk__vk_pipeline_destroy(rk__vk_ctx *c, rk__vk_pipeline *p);

/** Points binding i of set at bufs[i] (whole buffers), for i < n. */
void rk__vk_bind(rk__vk_ctx *c, VkDescriptorSet set, rk__vk_buffer *const *bufs, uint32_t n);

/** Submits one command buffer signalling fence, under the queue lock. Returns 0 or RK_E*. */
int rk__vk_submit(rk__vk_ctx *c, VkCommandBuffer cb, VkFence fence);

/**
 * Waits for fence up to timeout_ns and resets it. Returns 0; RK_ENOTRESPONDING on timeout; RK_EFAULT if
 * the device was lost; RK_EBACKEND.
 */
int rk__vk_fence_wait(rk__vk_ctx *c, VkFence fence, int64_t timeout_ns);

/**
 * One dispatch, start to finish: binds bufs (n of them, in binding order), pushes `push` (p->push_size
 * bytes), dispatches groups[0..2] and waits. *elapsed_ns (may be NULL) receives the device time between
 * two timestamps around the dispatch (0 when the queue has no timestamps). For one-off kernels (global and
 * stencil kernels, tests): it creates and frees its command buffer, descriptor set and fence each time.
 * Returns 0 or RK_E*.
 */
int rk__vk_run(rk__vk_ctx *c, const rk__vk_pipeline *p, rk__vk_buffer *const *bufs, uint32_t n, const void *push,
               const uint32_t groups[3], uint64_t *elapsed_ns);

/** Validation messages counted by the messenger of every context of this process (errors, warnings). */
void rk__vk_validation_counts(uint64_t *errors, uint64_t *warnings);

/** Maps a failed VkResult to an RK_E* code with the call named in the detail. */
int rk__vk_fail(VkResult r, const char *call);

/** The name of a VkResult ("VK_ERROR_DEVICE_LOST"). */
const char *rk__vk_result_name(VkResult r);

/* Calls a Vulkan function returning VkResult; on failure sets rc (rk__vk_fail) and jumps to label. */
#define RK__VK_CHECK(call, label)                                                                         \
    do {                                                                                                  \
        VkResult rk__r = (call);                                                                          \
        if (rk__r != VK_SUCCESS) {                                                                        \
            rc = rk__vk_fail(rk__r, #call);                                                               \
            goto label;                                                                                   \
        }                                                                                                 \
    } while (0)

#endif /* RK_VK_CONTEXT_H */
