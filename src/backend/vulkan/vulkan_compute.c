/* vulkan_compute.c - the Vulkan backend's compute kernels (compute_internal.h's rk__compute_ops).
 *
 * A program is the module emitted as GLSL (emit_glsl.c), compiled by glslangValidator ($RK_GLSLANG, else
 * the one on PATH; run with posix_spawn) into one SPIR-V module per kernel, cached through rk__cache_load/
 * store (the key names glslang's version), and turned into one compute pipeline per kernel through
 * vk_context (whose on-disk pipeline cache keeps the driver's compiled code too). The binding layout is
 * the emitter's: buffer parameters are storage buffers of set 0 at bindings 0..n-1 in parameter order, value
 * parameters sit in the push constants at the offsets rk__emit_push_layout gives (the same function writes
 * them into the shader), and a stencil's rk_grid_size follows them.
 *
 * Launches are recorded into command buffers and submitted in order, without waiting (a launch returns as
 * soon as it is recorded); reads, writes, sync and every free drain the queue first. Buffers are device
 * memory (device-local where the device has it); the host copies to and from them directly where that
 * memory is also host-visible (lavapipe, resizable BAR), else through a staging buffer and a transfer.
 *
 * Invariants (cited as VC1..VC5):
 *   VC1  Batches form a ring of RK__VKC_BATCHES command buffers used in order: at most one is open
 *        (recording) at a time, it is always b[cur], and the ones submitted before it are pending in ring
 *        order. A batch is reused only after its fence was waited for, so a descriptor pool or command
 *        buffer is never reset while the device may still read it.
 *   VC2  Ordering (compute_internal.h C2): every batch begins with, and every launch or copy is followed by,
 *        a global memory barrier from compute and transfer writes to compute and transfer reads and
 *        writes. A barrier's first scope is everything earlier in submission order, so launch n + 1 sees
 *        launch n's writes whether they share a batch or not; the queue is the runtime's one compute queue.
 *   VC3  Host access: a batch ends with a barrier to the host stage and the host touches a mapped buffer
 *        only after the fences of every submitted batch were waited for (rk__vkc_drain); host writes before
 *        a submission are visible to it (vkQueueSubmit's implicit host-write ordering).
 *   VC4  A failed wait or submission (device lost, a fence that never signals) is a device fault: the call
 *        returns RK_EFAULT, which the core makes sticky (C2), and the batch is left as it is (never reset
 *        while the device may still own it).
 *   VC5  The core serialises compute calls per runtime (C3), so nothing here takes a lock; the queue itself
 *        is shared with the actor dispatchers through vk_context's submission lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/vulkan/vk_context.h"
#include "backend/vulkan/vulkan_internal.h"
#include "codegen/emit.h"
#include "codegen/intrinsics.h"
#include "codegen/ir.h"
#include "core/compute_internal.h"
#include "core/internal.h"
#include "core/proc.h"
#include "core/runtime_internal.h"

/** Command buffers in the ring (VC1) and launches one of them holds before it is submitted. */
#define RK__VKC_BATCHES 4u
#define RK__VKC_BATCH_LAUNCHES 64u
/** Buffer bindings of one launch at most (emit_glsl.c refuses more). */
#define RK__VKC_MAX_BUFFERS 16u
/** How long a drain waits for a batch before it calls the device lost (VC4). A kernel that runs longer is
 * not supported on Vulkan; NVIDIA's driver resets a GPU that hangs for much less. */
#define RK__VKC_TIMEOUT_NS ((int64_t)120 * 1000 * 1000 * 1000)
/** glslangValidator's target: Vulkan 1.1 is SPIR-V 1.3 (subgroup operations need it). */
#define RK__VKC_TARGET_ENV "vulkan1.1"
#define RK__VKC_ARCH "spirv1.3"
/** Header of a cached program: magic, kernel count, then each kernel's word count, then the modules. */
#define RK__VKC_CACHE_MAGIC 0x50535652u /* "RVSP" */

typedef struct rk__vkc_batch {
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool pool;       /* RK__VKC_BATCH_LAUNCHES sets of RK__VKC_MAX_BUFFERS buffers */
    uint32_t launches;           /* commands recorded into the open batch */
    int open;                    /* recording */
    int pending;                 /* submitted, fence not yet waited for */
} rk__vkc_batch;

/** The runtime's compute state (rt->compute_data), created by the first compute call. */
typedef struct rk__vkc {
    rk__vk_ctx *ctx;
    VkCommandPool cpool;
    rk__vkc_batch b[RK__VKC_BATCHES];
    uint32_t cur;                /* the open batch, or the next to open (VC1) */
    int staging;                 /* RK_VK_STAGING=1: copy through staging buffers even where the device
                                    memory is host-visible, so lavapipe tests the path discrete GPUs take */
} rk__vkc;

/** One kernel's pipeline and how its arguments reach it. */
typedef struct rk__vkc_kernel {
    rk__vk_pipeline pipe;
    uint32_t nbuf;               /* buffer parameters: bindings 0..nbuf-1 */
    uint32_t push_size;          /* bytes pushed (the layout's size rounded up to 4) */
    uint32_t *off;               /* rk__emit_push_layout: nparams + 1 offsets */
} rk__vkc_kernel;

typedef struct rk__vkc_program {
    uint32_t n;
    rk__vkc_kernel k[];
} rk__vkc_program;

/* ---- The queue ------------------------------------------------------------------------------------- */

static void rk__vkc_barrier(rk__vk_ctx *c, VkCommandBuffer cb, int to_host)
{
    VkMemoryBarrier mb = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                           .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT };
    VkPipelineStageFlags src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

    if (to_host) {
        mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT | VK_ACCESS_HOST_WRITE_BIT;
        c->vkCmdPipelineBarrier(cb, src, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    } else {
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                           VK_ACCESS_TRANSFER_WRITE_BIT;
        c->vkCmdPipelineBarrier(cb, src, src, 0, 1, &mb, 0, NULL, 0, NULL);
    }
}

static void rk__vkc_free(rk__vkc *v)
{
    rk__vk_ctx *c = v->ctx;

    for (uint32_t i = 0; i < RK__VKC_BATCHES; i++) {
        c->vkDestroyFence(c->device, v->b[i].fence, NULL);
        c->vkDestroyDescriptorPool(c->device, v->b[i].pool, NULL);
    }
    c->vkDestroyCommandPool(c->device, v->cpool, NULL); /* frees the command buffers */
    free(v);
}

/* The runtime's compute state, created on first use. */
static int rk__vkc_get(rk_runtime *rt, rk__vkc **out)
{
    VkCommandPoolCreateInfo cpi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT };
    VkCommandBufferAllocateInfo cbi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1 };
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkDescriptorPoolSize ps = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                .descriptorCount = RK__VKC_BATCH_LAUNCHES * RK__VKC_MAX_BUFFERS };
    VkDescriptorPoolCreateInfo dpi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                       .maxSets = RK__VKC_BATCH_LAUNCHES, .poolSizeCount = 1, .pPoolSizes = &ps };
    rk__vk_ctx *c;
    rk__vkc *v;
    int rc;

    if ((v = rt->compute_data) != NULL) {
        *out = v;
        return 0;
    }
    if ((v = calloc(1, sizeof *v)) == NULL)
        return rk__err(RK_ENOMEM, "Vulkan compute: out of memory");
    v->ctx = c = rk__vk_runtime_ctx(rt);
    v->staging = getenv("RK_VK_STAGING") != NULL && strcmp(getenv("RK_VK_STAGING"), "1") == 0;
    cpi.queueFamilyIndex = c->queue_family;
    RK__VK_CHECK(c->vkCreateCommandPool(c->device, &cpi, NULL, &v->cpool), fail);
    cbi.commandPool = v->cpool;
    for (uint32_t i = 0; i < RK__VKC_BATCHES; i++) {
        RK__VK_CHECK(c->vkAllocateCommandBuffers(c->device, &cbi, &v->b[i].cb), fail);
        RK__VK_CHECK(c->vkCreateFence(c->device, &fi, NULL, &v->b[i].fence), fail);
        RK__VK_CHECK(c->vkCreateDescriptorPool(c->device, &dpi, NULL, &v->b[i].pool), fail);
    }
    rt->compute_data = v;
    *out = v;
    return 0;
fail:
    rk__vkc_free(v);
    return rc;
}

/* Waits for batch i and makes it reusable (VC1, VC4). */
static int rk__vkc_wait(rk__vkc *v, uint32_t i)
{
    rk__vkc_batch *b = &v->b[i];
    int rc;

    if (!b->pending)
        return 0;
    if ((rc = rk__vk_fence_wait(v->ctx, b->fence, RK__VKC_TIMEOUT_NS)) != 0)
        return rk__err(RK_EFAULT, "Vulkan compute: a launch failed on the device: %s", rk_last_error());
    b->pending = 0;
    return 0;
}

/* Submits the open batch, ending it with the barrier to the host (VC3). */
static int rk__vkc_submit(rk__vkc *v)
{
    rk__vkc_batch *b = &v->b[v->cur];
    rk__vk_ctx *c = v->ctx;
    int rc;

    if (!b->open)
        return 0;
    rk__vkc_barrier(c, b->cb, 1);
    b->open = 0;
    RK__VK_CHECK(c->vkEndCommandBuffer(b->cb), out);
    if ((rc = rk__vk_submit(c, b->cb, b->fence)) != 0)
        return rc; /* a lost device is RK_EFAULT already (rk__vk_fail) */
    b->pending = 1;
    v->cur = (v->cur + 1) % RK__VKC_BATCHES;
out:
    return rc;
}

/* Submits what is recorded and waits for every batch, oldest first (VC3). */
static int rk__vkc_drain(rk__vkc *v)
{
    int rc = rk__vkc_submit(v);

    for (uint32_t k = 0; k < RK__VKC_BATCHES && rc == 0; k++)
        rc = rk__vkc_wait(v, (v->cur + k) % RK__VKC_BATCHES);
    return rc;
}

/* The open batch's command buffer, opening it (and first waiting for its previous use) if needed. */
static int rk__vkc_record(rk__vkc *v, VkCommandBuffer *cb)
{
    rk__vkc_batch *b = &v->b[v->cur];
    rk__vk_ctx *c = v->ctx;
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                    .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT };
    int rc = 0;

    if (!b->open) {
        if ((rc = rk__vkc_wait(v, v->cur)) != 0)
            return rc;
        RK__VK_CHECK(c->vkResetDescriptorPool(c->device, b->pool, 0), out);
        RK__VK_CHECK(c->vkBeginCommandBuffer(b->cb, &bi), out);
        rk__vkc_barrier(c, b->cb, 0); /* VC2 */
        b->open = 1;
        b->launches = 0;
    }
    *cb = b->cb;
out:
    return rc;
}

/* Counts a recorded command and submits the batch when it is full. */
static int rk__vkc_recorded(rk__vkc *v)
{
    rk__vkc_barrier(v->ctx, v->b[v->cur].cb, 0); /* VC2 */
    if (++v->b[v->cur].launches >= RK__VKC_BATCH_LAUNCHES)
        return rk__vkc_submit(v);
    return 0;
}

/* Frees the runtime's compute state (the backend's destroy): after the core freed every program and buffer,
 * which drained the queue, so nothing is pending. */
void rk__vk_compute_destroy(rk_runtime *rt)
{
    rk__vkc *v = rt->compute_data;

    if (v == NULL)
        return;
    (void)rk__vkc_drain(v);
    rk__vkc_free(v);
    rt->compute_data = NULL;
}

/* ---- Buffers -------------------------------------------------------------------------------------- */

static int rk__vkc_buffer_alloc(rk_runtime *rt, rk_buffer *b)
{
    rk__vk_buffer *vb;
    rk__vkc *v;
    VkCommandBuffer cb;
    int rc;

    if ((rc = rk__vkc_get(rt, &v)) != 0)
        return rc;
    if ((vb = calloc(1, sizeof *vb)) == NULL)
        return rk__err(RK_ENOMEM, "rk_buffer_create: out of memory");
    /* Storage buffers are bound whole and indexed by 4-byte words at least: round up to 4. */
    if ((rc = rk__vk_buffer_create(v->ctx, (b->size + 3) & ~(size_t)3, RK__VK_MEM_DEVICE, 0, vb)) != 0) {
        free(vb);
        return rc == RK_ENOMEM ? rc : rk__err(rc, "rk_buffer_create: %s", rk_last_error());
    }
    if (v->staging)
        vb->map = NULL; /* the mapping stays until the memory is freed; it is simply not used */
    if (vb->map != NULL) {
        memset(vb->map, 0, vb->size); /* new memory: no launch can be using it */
    } else if ((rc = rk__vkc_record(v, &cb)) == 0) {
        v->ctx->vkCmdFillBuffer(cb, vb->buf, 0, VK_WHOLE_SIZE, 0); /* before every later launch (VC2) */
        rc = rk__vkc_recorded(v);
    }
    if (rc != 0) {
        rk__vk_buffer_destroy(v->ctx, vb);
        free(vb);
        return rc;
    }
    b->impl = vb;
    return 0;
}

static void rk__vkc_buffer_free(rk_runtime *rt, rk_buffer *b)
{
    rk__vkc *v = rt->compute_data;

    if (b->impl == NULL)
        return;
    /* After every launch that may use it. A device fault leaves its batches pending (VC4): the buffer is
     * then leaked rather than freed under the device's feet. */
    if (v != NULL && rk__vkc_drain(v) != 0)
        return;
    rk__vk_buffer_destroy(rk__vk_runtime_ctx(rt), b->impl);
    free(b->impl);
    b->impl = NULL;
}

/* Copies n bytes between device buffer vb at off and a new host staging buffer (for device memory the host
 * cannot map), after every earlier launch: src non-NULL copies src in, else the bytes go out to dst. */
static int rk__vkc_staged(rk__vkc *v, rk__vk_buffer *vb, size_t off, const void *src, void *dst, size_t n)
{
    rk__vk_buffer st;
    VkBufferCopy region = { .size = n };
    VkCommandBuffer cb;
    int rc;

    if ((rc = rk__vk_buffer_create(v->ctx, n, RK__VK_MEM_HOST, 0, &st)) != 0)
        return rc;
    if (src != NULL) {
        memcpy(st.map, src, n);
        region.dstOffset = off;
    } else {
        region.srcOffset = off;
    }
    if ((rc = rk__vkc_record(v, &cb)) == 0) {
        if (src != NULL)
            v->ctx->vkCmdCopyBuffer(cb, st.buf, vb->buf, 1, &region);
        else
            v->ctx->vkCmdCopyBuffer(cb, vb->buf, st.buf, 1, &region);
        rk__vkc_barrier(v->ctx, cb, 0);
        rc = rk__vkc_drain(v);
    }
    if (rc == 0 && dst != NULL)
        memcpy(dst, st.map, n);
    if (rc == 0)
        rk__vk_buffer_destroy(v->ctx, &st); /* VC4: kept when the device may still own it */
    return rc;
}

/* A host copy into (src) or out of (dst) buffer vb, after every earlier launch (C2): direct where the
 * memory is mapped (VC3: nothing is pending then), else through a staging buffer. */
static int rk__vkc_buffer_io(rk_runtime *rt, rk__vk_buffer *vb, size_t off, const void *src, void *dst, size_t n)
{
    rk__vkc *v;
    int rc;

    if ((rc = rk__vkc_get(rt, &v)) != 0 || (rc = rk__vkc_drain(v)) != 0 || n == 0)
        return rc;
    if (vb->map == NULL)
        return rk__vkc_staged(v, vb, off, src, dst, n);
    if (src != NULL)
        memcpy((char *)vb->map + off, src, n);
    else if (dst != NULL) /* always, for a read; said so GCC 13 sees it on the inlined write path too */
        memcpy(dst, (const char *)vb->map + off, n);
    return 0;
}

static int rk__vkc_buffer_write(rk_runtime *rt, rk_buffer *b, size_t off, const void *src, size_t n)
{
    return rk__vkc_buffer_io(rt, b->impl, off, src, NULL, n);
}

static int rk__vkc_buffer_read(rk_runtime *rt, const rk_buffer *b, size_t off, void *dst, size_t n)
{
    return rk__vkc_buffer_io(rt, b->impl, off, NULL, dst, n);
}

/* ---- glslangValidator ------------------------------------------------------------------------------ */

static const char *rk__glslang(void) { return rk__tool("RK_GLSLANG", "glslangValidator"); }

/* glslang's identity for the cache key: its name, the first line of `--version` and the target. RK_ENODEV
 * when it cannot be run. */
static int rk__glslang_identity(const char *g, const char *scratch, char *out, size_t cap)
{
    int rc = rk__tool_identity(g, "GLSL compiler for the Vulkan backend (glslangValidator)",
                               "install glslang-tools or set RK_GLSLANG", scratch, out, cap);
    size_t at = strlen(out);

    if (rc == 0)
        snprintf(out + at, cap - at, "-V --target-env " RK__VKC_TARGET_ENV);
    return rc;
}

/* Compiles kernel `name` of the GLSL text (at src_path) into SPIR-V: *words (malloc'd), *nwords. Several
 * kernels in one module are chosen with -DRK_KERNEL_<name> (emit_glsl.c). RK_EBACKEND with glslang's output
 * in the log. */
static int rk__glslang_build(const rk__build_req *req, const char *g, const char *scratch, const char *src_path,
                             const char *name, int many, uint32_t **words, size_t *nwords)
{
    char spv[4200], log[4200], def[96];
    char *argv[] = { (char *)g, "-V", "--target-env", RK__VKC_TARGET_ENV, def, "-o", spv, (char *)src_path, NULL };
    char *out;
    size_t len = 0;
    int st, rc = 0;

    snprintf(spv, sizeof spv, "%s/%s.spv", scratch, name);
    snprintf(log, sizeof log, "%s/glslang.log", scratch);
    snprintf(def, sizeof def, "-DRK_KERNEL_%s", name);
    if (!many)
        memmove(&argv[4], &argv[5], 4 * sizeof argv[0]); /* no -D */
    st = rk__proc_run(argv, log);
    if (st < 0)
        return rk__err(RK_ENODEV, "rk_program_create: cannot run the GLSL compiler '%s': %s", g, strerror(errno));
    if (st != 0) {
        out = rk__file_slurp(log, &len);
        rk__compute_log(req, out != NULL ? out : "(no compiler output)");
        rc = rk__err(RK_EBACKEND, "rk_program_create: %s: glslangValidator failed on kernel '%s' (exit %d): %.160s",
                     req->name, name, st, out != NULL ? out : "");
        free(out);
    } else if ((out = rk__file_slurp(spv, &len)) == NULL || len % 4 != 0 || len < 20) {
        free(out);
        rc = rk__err(RK_EBACKEND, "rk_program_create: glslangValidator wrote no valid SPIR-V for '%s'", name);
    } else {
        *words = (uint32_t *)(void *)out; /* malloc'd: aligned for any type */
        *nwords = len / 4;
    }
    unlink(spv);
    unlink(log);
    return rc;
}

/* ---- Programs ------------------------------------------------------------------------------------- */

/* The cached form of a program: [magic][n][words of kernel 0..n-1][module 0]...[module n-1], all u32.
 * Returns a malloc'd blob. */
static uint32_t *rk__vkc_pack(uint32_t n, uint32_t *const *mods, const size_t *words, size_t *bytes)
{
    size_t total = 2 + n;
    uint32_t *blob, *w;

    for (uint32_t i = 0; i < n; i++)
        total += words[i];
    if ((blob = malloc(total * 4)) == NULL)
        return NULL;
    blob[0] = RK__VKC_CACHE_MAGIC;
    blob[1] = n;
    w = blob + 2 + n;
    for (uint32_t i = 0; i < n; i++) {
        blob[2 + i] = (uint32_t)words[i];
        memcpy(w, mods[i], words[i] * 4);
        w += words[i];
    }
    *bytes = total * 4;
    return blob;
}

/* Splits a cached blob into n modules pointing into it; 0, or -1 when it does not hold n well-formed ones
 * (the checksum passed, so that is a stale format or a foreign program: rebuild). */
static int rk__vkc_unpack(const void *data, size_t bytes, uint32_t n, const uint32_t **mods, size_t *words)
{
    const uint32_t *w = data;
    size_t at = 2 + (size_t)n, nw = bytes / 4;

    if (bytes % 4 != 0 || nw < at || w[0] != RK__VKC_CACHE_MAGIC || w[1] != n)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        if (w[2 + i] < 5 || w[2 + i] > nw - at)
            return -1;
        mods[i] = w + at;
        words[i] = w[2 + i];
        at += w[2 + i];
    }
    return at == nw ? 0 : -1;
}

static void rk__vkc_program_free(rk_runtime *rt, rk_program *p)
{
    rk__vkc_program *vp = p->impl;
    rk__vkc *v = rt->compute_data;

    if (vp == NULL)
        return;
    /* After every launch that may use it (VC4: kept on a device fault). */
    if (v != NULL && rk__vkc_drain(v) != 0)
        return;
    for (uint32_t i = 0; i < vp->n; i++) {
        rk__vk_pipeline_destroy(rk__vk_runtime_ctx(rt), &vp->k[i].pipe);
        free(vp->k[i].off);
    }
    free(vp);
    p->impl = NULL;
}

/* Kernel i's pipeline from its SPIR-V: the module must have the kernel's local size and only capabilities
 * the device has; the layout comes from the IR (rk__emit_push_layout). */
static int rk__vkc_kernel_make(rk__vk_ctx *c, rk__compute_kernel *k, rk__vkc_kernel *vk, const uint32_t *spv,
                               size_t words)
{
    const VkPhysicalDeviceLimits *lim = &c->props.limits;
    rk__vk_spirv_info si;
    char what[128];
    uint32_t size;
    int rc;

    snprintf(what, sizeof what, "rk_program_create: kernel '%.63s'", k->name);
    if ((rc = rk__vk_spirv_inspect(spv, words, &si)) != 0)
        return rk__err(RK_EBACKEND, "%s: glslangValidator's output: %s", what, rk_last_error());
    if (memcmp(si.local_size, k->workgroup, sizeof si.local_size) != 0)
        return rk__err(RK_EBACKEND, "%s: the SPIR-V's local size %ux%ux%u is not the kernel's %ux%ux%u", what,
                       si.local_size[0], si.local_size[1], si.local_size[2], k->workgroup[0], k->workgroup[1],
                       k->workgroup[2]);
    for (int a = 0; a < 3; a++)
        if (k->workgroup[a] > lim->maxComputeWorkGroupSize[a])
            return rk__err(RK_ENOTSUP, "%s: workgroup %ux%ux%u exceeds device '%s''s maximum on axis %c (%u)", what,
                           k->workgroup[0], k->workgroup[1], k->workgroup[2], c->desc.name, "xyz"[a],
                           lim->maxComputeWorkGroupSize[a]);
    if ((uint64_t)k->workgroup[0] * k->workgroup[1] * k->workgroup[2] > lim->maxComputeWorkGroupInvocations)
        return rk__err(RK_ENOTSUP, "%s: a workgroup of %llu invocations exceeds device '%s''s %u", what,
                       (unsigned long long)k->workgroup[0] * k->workgroup[1] * k->workgroup[2], c->desc.name,
                       lim->maxComputeWorkGroupInvocations);
    if ((rc = rk__vk_spirv_check(c, &si, what)) != 0)
        return rc;
    if ((vk->off = malloc((k->nparams + 1) * sizeof *vk->off)) == NULL)
        return rk__err(RK_ENOMEM, "rk_program_create: out of memory");
    size = rk__emit_push_layout(k->ir, vk->off);
    vk->push_size = (size + 3) & ~3u;
    for (uint32_t i = 0; i < k->nparams; i++)
        vk->nbuf += k->params[i].kind == RK_ARG_BUFFER;
    if (vk->nbuf > RK__VKC_MAX_BUFFERS || vk->push_size > lim->maxPushConstantsSize)
        return rk__err(RK_ENOTSUP, "%s: %u buffers (at most %u) and %u bytes of push constants (device '%s' takes "
                       "%u)", what, vk->nbuf, RK__VKC_MAX_BUFFERS, vk->push_size, c->desc.name,
                       lim->maxPushConstantsSize);
    if ((rc = rk__vk_pipeline_create(c, spv, words, vk->nbuf, vk->push_size, &vk->pipe)) != 0)
        return rc == RK_ENOMEM ? rc : rk__err(rc, "%s: %s", what, rk_last_error());
    return 0;
}

static int rk__vkc_program_build(rk_runtime *rt, rk_program *p, const rk__build_req *req)
{
    rk__vk_ctx *c = rk__vk_runtime_ctx(rt);
    const char *g = rk__glslang();
    char scratch[4096], ident[1024], src_path[4200];
    uint32_t **mods = NULL;
    const uint32_t **use = NULL;
    size_t *words = NULL, text_len = 0, blob_len = 0;
    char *text = NULL;
    void *blob = NULL;
    rk__vkc_program *vp = NULL;
    rk__cache_key key;
    int rc, hit = 0, rebuilt = 0;

    rk__strlcpy(p->info.target, "glsl", sizeof p->info.target);
    rk__strlcpy(p->info.arch, RK__VKC_ARCH, sizeof p->info.arch);
    if (c->desc.api_version < VK_API_VERSION_1_1)
        return rk__err(RK_ENOTSUP, "rk_program_create: device '%s' is Vulkan 1.0; compute kernels are SPIR-V 1.3 "
                       "and need Vulkan 1.1", c->desc.name);
    if ((rc = rk__scratch_dir("rk-glsl", scratch, sizeof scratch)) != 0)
        return rc;
    mods = calloc(p->nkernels + 1, sizeof *mods);
    use = calloc(p->nkernels + 1, sizeof *use);
    words = calloc(p->nkernels + 1, sizeof *words);
    vp = calloc(1, sizeof *vp + (p->nkernels + 1) * sizeof vp->k[0]);
    if (mods == NULL || use == NULL || words == NULL || vp == NULL) {
        rc = rk__err(RK_ENOMEM, "rk_program_create: out of memory");
        goto out;
    }
    /* glslang must exist even when the cache holds the program: its version is part of the key. */
    if ((rc = rk__glslang_identity(g, scratch, ident, sizeof ident)) != 0)
        goto out;
    key = rk__cache_key_make(req->source, req->len, "glsl", RK__VKC_ARCH, ident);
    if (req->cache_dir != NULL) {
        hit = rk__cache_load(req->cache_dir, key, "spv", &blob, &blob_len, &rebuilt, p->info.cache_path,
                             sizeof p->info.cache_path);
        if (hit == 1 && rk__vkc_unpack(blob, blob_len, p->nkernels, use, words) != 0) {
            hit = -1;
            rebuilt = 1;
        }
    }
    if (hit != 1) {
        free(blob);
        blob = NULL;
        if ((rc = rk__compute_emit(req, RK_TGT_GLSL, &text, &text_len)) != 0)
            goto out;
        snprintf(src_path, sizeof src_path, "%s/program.comp", scratch);
        if (rk__file_put(src_path, text, text_len) != 0) {
            rc = rk__err(RK_EIO, "rk_program_create: cannot write '%s': %s", src_path, strerror(errno));
            goto out;
        }
        for (uint32_t i = 0; i < p->nkernels && rc == 0; i++) {
            rc = rk__glslang_build(req, g, scratch, src_path, p->kernels[i].name, p->nkernels > 1, &mods[i],
                                   &words[i]);
            use[i] = mods[i];
        }
        unlink(src_path);
        if (rc != 0)
            goto out;
        if ((blob = rk__vkc_pack(p->nkernels, mods, words, &blob_len)) == NULL) {
            rc = rk__err(RK_ENOMEM, "rk_program_create: out of memory");
            goto out;
        }
        if (req->cache_dir != NULL && (rc = rk__cache_store(req->cache_dir, key, "spv", blob, blob_len)) != 0)
            goto out;
    }
    for (uint32_t i = 0; i < p->nkernels; i++) {
        if ((rc = rk__vkc_kernel_make(c, &p->kernels[i], &vp->k[i], use[i], words[i])) != 0)
            goto out;
        vp->n = i + 1;
        p->kernels[i].impl = &vp->k[i];
    }
    p->impl = vp;
    vp = NULL;
    p->info.from_cache = hit == 1;
    p->info.cache_rebuilt = rebuilt;
    if (req->cache_dir == NULL)
        p->info.cache_path[0] = '\0';
    rc = 0;
out:
    if (vp != NULL) {
        for (uint32_t i = 0; i <= vp->n && i < p->nkernels; i++) {
            rk__vk_pipeline_destroy(c, &vp->k[i].pipe);
            free(vp->k[i].off);
            p->kernels[i].impl = NULL;
        }
        free(vp);
    }
    for (uint32_t i = 0; mods != NULL && i < p->nkernels; i++)
        free(mods[i]);
    free(mods);
    free(use);
    free(words);
    free(blob);
    free(text);
    rmdir(scratch);
    return rc;
}

/* ---- Launches ------------------------------------------------------------------------------------- */

/* Writes args into the push-constant bytes at the emitter's offsets (bool as a 4-byte 0 or 1) and collects
 * the buffers in binding order. */
static void rk__vkc_args(const rk__compute_kernel *k, const rk__vkc_kernel *vk, const rk__launch_geom *g,
                         const rk_arg *args, uint8_t *pc, rk__vk_buffer **bufs)
{
    uint32_t nb = 0;

    for (uint32_t i = 0; i < k->nparams; i++) {
        uint8_t *at = pc + vk->off[i];
        uint32_t b;

        switch (args[i].kind) {
        case RK_ARG_BUFFER: bufs[nb++] = args[i].v.buf->impl; break;
        case RK_ARG_BOOL: b = args[i].v.b != 0; memcpy(at, &b, 4); break;
        case RK_ARG_I32: memcpy(at, &args[i].v.i32, 4); break;
        case RK_ARG_U32: memcpy(at, &args[i].v.u32, 4); break;
        case RK_ARG_I64: memcpy(at, &args[i].v.i64, 8); break;
        case RK_ARG_U64: memcpy(at, &args[i].v.u64, 8); break;
        case RK_ARG_F32: memcpy(at, &args[i].v.f32, 4); break;
        case RK_ARG_F64: memcpy(at, &args[i].v.f64, 8); break;
        }
    }
    if (k->stencil)
        memcpy(pc + vk->off[k->nparams], g->grid, 3 * sizeof(uint32_t)); /* rk_grid_size */
}

static int rk__vkc_launch(rk_runtime *rt, rk_program *p, const rk__compute_kernel *k, const rk__launch_geom *g,
                          const rk_arg *args)
{
    const rk__vkc_kernel *vk = k->impl;
    rk__vk_buffer *bufs[RK__VKC_MAX_BUFFERS];
    uint8_t pc[256] = { 0 };
    VkDescriptorSetAllocateInfo dsi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                        .descriptorSetCount = 1, .pSetLayouts = &vk->pipe.dsl };
    VkDescriptorSet set;
    VkCommandBuffer cb;
    rk__vk_ctx *c;
    rk__vkc *v;
    int rc;

    (void)p;
    if ((rc = rk__vkc_get(rt, &v)) != 0)
        return rc;
    c = v->ctx;
    /* The device's own limits (the ops table's max_groups are 0: they differ between devices). */
    for (int a = 0; a < 3; a++)
        if (g->groups[a] > c->props.limits.maxComputeWorkGroupCount[a])
            return rk__err(RK_EOVERFLOW, "%s: %u workgroups on axis %c, device '%s' takes at most %u", k->name,
                           g->groups[a], "xyz"[a], c->desc.name, c->props.limits.maxComputeWorkGroupCount[a]);
    rk__vkc_args(k, vk, g, args, pc, bufs);
    if ((rc = rk__vkc_record(v, &cb)) != 0)
        return rc;
    c->vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipe.pipe);
    if (vk->nbuf > 0) {
        dsi.descriptorPool = v->b[v->cur].pool;
        RK__VK_CHECK(c->vkAllocateDescriptorSets(c->device, &dsi, &set), out); /* one per launch: never short */
        rk__vk_bind(c, set, bufs, vk->nbuf);
        c->vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipe.layout, 0, 1, &set, 0, NULL);
    }
    if (vk->push_size > 0)
        c->vkCmdPushConstants(cb, vk->pipe.layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, vk->push_size, pc);
    c->vkCmdDispatch(cb, g->groups[0], g->groups[1], g->groups[2]);
    rc = rk__vkc_recorded(v);
out:
    return rc;
}

static int rk__vkc_sync(rk_runtime *rt)
{
    rk__vkc *v;
    int rc;

    if ((rc = rk__vkc_get(rt, &v)) != 0)
        return rc;
    return rk__vkc_drain(v);
}

const rk__compute_ops rk__vk_compute_ops = {
    .buffer_alloc = rk__vkc_buffer_alloc,
    .buffer_free = rk__vkc_buffer_free,
    .buffer_write = rk__vkc_buffer_write,
    .buffer_read = rk__vkc_buffer_read,
    .program_build = rk__vkc_program_build,
    .program_free = rk__vkc_program_free,
    .launch = rk__vkc_launch,
    .sync = rk__vkc_sync,
    .max_groups = { 0, 0, 0 }, /* per device: checked in rk__vkc_launch against maxComputeWorkGroupCount */
    .target = RK_TGT_GLSL,
};
