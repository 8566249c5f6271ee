/* device.cuh - the device side of RingKernel: write a GPU actor as a __device__ handler.
 *
 *     #include <ringkernel/device.cuh>
 *     __device__ int add_one(rk_ctx *ctx, const rk_envelope *env, const void *payload) {
 *         uint64_t v = *(const uint64_t *)payload + 1;
 *         return rk_reply(ctx, env->type_id, &v, sizeof v);
 *     }
 *     RK_DEVICE_ACTOR(add_one, add_one, 0)
 *
 * RK_DEVICE_ACTOR wraps the handler in the persistent loop (rk__device_loop below) and registers it with
 * the CUDA backend under the given name at program start. The host then launches it with
 * rk_kernel_launch(rt, "add_one", ...) on a CUDA runtime.
 *
 * The loop (one step per batch; the coordinator is thread 0 of block 0):
 *   1. coordinator: read terminate/pause (acquire), read H2K head (acquire), pick n messages such that K2H
 *      has room for n replies; decide stop = terminate && H2K empty. Publish the decision in `step`.
 *   2. barrier (block, or grid when launched cooperatively): every thread sees the same decision, so every
 *      block leaves at the same step and no block is left waiting in a barrier.
 *   3. every thread copies a share of the batch's H2K slots into a device-memory stage with 16-byte loads
 *      (the batch crosses the bus in one round trip, not one per field a handler reads); barrier.
 *   4. thread i of the grid takes message i: validates it, merges its HLC stamp (atomic max), barrier,
 *      coordinator derives the batch's HLC, barrier, thread i runs the handler on the staged copy. Its
 *      reply, if any, is written in place into K2H slot k2h_base + i of the mapped ring (one reply per
 *      message, so replies keep the order of their requests).
 *   5. each warp folds its last replying index into reply_end (one atomic per warp); barrier; the owner of
 *      every message before reply_end that did not reply writes an RK_ENV_SYSTEM skip envelope in its slot
 *      (the host consumes those silently); barrier; the coordinator fences once (system scope), publishes
 *      K2H head = k2h_base + reply_end, releases the H2K slots (tail) and updates the counters.
 * Idle steps back off with __nanosleep (growing to 4 us), so an idle actor does not hammer PCIe.
 *
 * Rules for handlers: one reply per message (rk_reply or rk_reply_reserve); no block- or grid-wide
 * barriers and no warp-collective operations (rk_warp_*): not every thread of a warp or block has a
 * message, and an ordered actor's batch runs on one thread; return 0, or a negative RK_E* code (counted,
 * and sent back as an error reply to requests), or RK_EFAULT to fail the kernel (messages of the batch not
 * yet handled are then dropped without replies; the host sees RK_EFAULT). The warp, barrier and shared
 * memory helpers below are for device code outside handlers.
 */
#ifndef RINGKERNEL_DEVICE_CUH
#define RINGKERNEL_DEVICE_CUH

#include <cooperative_groups.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/cuda.h"
#include "ringkernel/error.h"

/* ---- Memory-ordering primitives (system scope: the host reads and writes these words) ------------- */

__device__ __forceinline__ uint64_t rk_ld_acquire_sys_u64(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ uint32_t rk_ld_acquire_sys_u32(const uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.acquire.sys.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void rk_st_release_sys_u64(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void rk_st_release_sys_u32(uint32_t *p, uint32_t v)
{
    asm volatile("st.release.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

__device__ __forceinline__ void rk_st_relaxed_sys_u64(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.sys.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void rk_st_relaxed_sys_u32(uint32_t *p, uint32_t v)
{
    asm volatile("st.relaxed.sys.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}

/** %globaltimer: nanoseconds, device clock (coarse on some GPUs; HLC logical counters absorb that). */
__device__ __forceinline__ uint64_t rk_globaltimer(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* ---- Indices, barriers, shared memory ------------------------------------------------------------ */

__device__ __forceinline__ unsigned rk_thread_idx(void) { return threadIdx.x; }
__device__ __forceinline__ unsigned rk_block_idx(void) { return blockIdx.x; }
__device__ __forceinline__ unsigned rk_block_dim(void) { return blockDim.x; }
__device__ __forceinline__ unsigned rk_grid_dim(void) { return gridDim.x; }
__device__ __forceinline__ unsigned rk_global_idx(void) { return blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ unsigned rk_global_size(void) { return gridDim.x * blockDim.x; }
__device__ __forceinline__ unsigned rk_lane_idx(void) { return threadIdx.x & 31u; }
__device__ __forceinline__ unsigned rk_warp_idx(void) { return threadIdx.x >> 5; }

__device__ __forceinline__ void rk_block_sync(void) { __syncthreads(); }

/** Dynamic shared memory of the block (the launch's shmem bytes; the actor loop launches with none). */
__device__ __forceinline__ void *rk_shared_mem(void)
{
    extern __shared__ __align__(16) unsigned char rk__dyn_smem[];
    return rk__dyn_smem;
}

/* ---- Warp operations ------------------------------------------------------------------------------ */

#define RK_FULL_MASK 0xffffffffu

__device__ __forceinline__ uint32_t rk_warp_ballot(int pred) { return __ballot_sync(RK_FULL_MASK, pred); }
__device__ __forceinline__ int rk_warp_any(int pred) { return __any_sync(RK_FULL_MASK, pred); }
__device__ __forceinline__ int rk_warp_all(int pred) { return __all_sync(RK_FULL_MASK, pred); }
__device__ __forceinline__ float rk_warp_shfl_f32(float v, int lane) { return __shfl_sync(RK_FULL_MASK, v, lane); }
__device__ __forceinline__ uint32_t rk_warp_shfl_u32(uint32_t v, int lane)
{
    return __shfl_sync(RK_FULL_MASK, v, lane);
}
__device__ __forceinline__ float rk_warp_shfl_down_f32(float v, unsigned d)
{
    return __shfl_down_sync(RK_FULL_MASK, v, d);
}
__device__ __forceinline__ float rk_warp_reduce_add_f32(float v)
{
    for (unsigned d = 16; d > 0; d >>= 1)
        v += __shfl_xor_sync(RK_FULL_MASK, v, d);
    return v;
}
__device__ __forceinline__ uint32_t rk_warp_reduce_add_u32(uint32_t v)
{
    for (unsigned d = 16; d > 0; d >>= 1)
        v += __shfl_xor_sync(RK_FULL_MASK, v, d);
    return v;
}
__device__ __forceinline__ uint32_t rk_warp_reduce_max_u32(uint32_t v)
{
    for (unsigned d = 16; d > 0; d >>= 1) {
        uint32_t o = __shfl_xor_sync(RK_FULL_MASK, v, d);
        v = o > v ? o : v;
    }
    return v;
}

/* ---- Atomics and fences ---------------------------------------------------------------------------- */

__device__ __forceinline__ uint32_t rk_atomic_add_u32(uint32_t *p, uint32_t v) { return atomicAdd(p, v); }
__device__ __forceinline__ unsigned long long rk_atomic_add_u64(unsigned long long *p, unsigned long long v)
{
    return atomicAdd(p, v);
}
__device__ __forceinline__ float rk_atomic_add_f32(float *p, float v) { return atomicAdd(p, v); }
__device__ __forceinline__ uint32_t rk_atomic_max_u32(uint32_t *p, uint32_t v) { return atomicMax(p, v); }
__device__ __forceinline__ uint32_t rk_atomic_cas_u32(uint32_t *p, uint32_t cmp, uint32_t v)
{
    return atomicCAS(p, cmp, v);
}
__device__ __forceinline__ void rk_fence_block(void) { __threadfence_block(); }
__device__ __forceinline__ void rk_fence_device(void) { __threadfence(); }
__device__ __forceinline__ void rk_fence_system(void) { __threadfence_system(); }

/* ---- Type ids (identical to message.h's rk_type_id) ---------------------------------------------- */

__host__ __device__ __forceinline__ uint64_t rk_type_id_dev(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    while (*name) {
        h ^= (uint8_t)*name++;
        h *= 0x100000001b3ull;
    }
    return h;
}

/** Type id of the skip envelopes that fill reply slots of messages that did not reply. */
#define RK_SYSTYPE_SKIP 0x736b6970ull /* "skip" */

/* ---- Device-scope memory-ordering primitives (K2K inboxes live in device memory) ------------------- */

__device__ __forceinline__ uint64_t rk_ld_relaxed_gpu_u64(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ uint32_t rk_ld_relaxed_gpu_u32(const uint32_t *p)
{
    uint32_t v;
    asm volatile("ld.relaxed.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ uint64_t rk_ld_acquire_gpu_u64(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void rk_st_release_gpu_u64(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.gpu.global.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

/* ---- K2K inbox primitives (cuda.h: the ring protocol). Usable from any device code. ------------------ */

/** The ring's immutable fields, read past any L1 copy (a pool may hand out an address an SM saw before). */
typedef struct rk_k2k_view {
    rk_k2k_ring *ring;
    uint64_t *seq;
    uint8_t *slots;
    uint32_t mask, slot_shift, payload_max, kernel_id;
} rk_k2k_view;

__device__ __forceinline__ rk_k2k_view rk_k2k_ring_view(rk_k2k_ring *r)
{
    rk_k2k_view v;
    v.ring = r;
    v.seq = (uint64_t *)rk_ld_relaxed_gpu_u64((const uint64_t *)(const void *)&r->seq);
    v.slots = (uint8_t *)rk_ld_relaxed_gpu_u64((const uint64_t *)(const void *)&r->slots);
    v.mask = rk_ld_relaxed_gpu_u32(&r->mask);
    v.slot_shift = rk_ld_relaxed_gpu_u32(&r->slot_shift);
    v.payload_max = rk_ld_relaxed_gpu_u32(&r->payload_max);
    v.kernel_id = rk_ld_relaxed_gpu_u32(&r->kernel_id);
    return v;
}

/** The slot of position pos. */
__device__ __forceinline__ rk_envelope *rk_k2k_ring_slot(const rk_k2k_view *v, uint64_t pos)
{
    return (rk_envelope *)(v->slots + ((size_t)(pos & v->mask) << v->slot_shift));
}

/**
 * Producer: claims the next position of the ring, only if its slot is free. Returns 0 with *pos set (write
 * the slot, then rk_k2k_ring_publish); RK_EAGAIN if the ring is full (nothing claimed); RK_ECLOSED if its
 * consumer closed it.
 */
__device__ __forceinline__ int rk_k2k_ring_claim(const rk_k2k_view *v, uint64_t *pos)
{
    uint64_t t = rk_ld_relaxed_gpu_u64(&v->ring->tail);
    for (;;) {
        if (t & RK_K2K_CLOSED)
            return RK_ECLOSED;
        /* KQ1: acquire, pairs with KQ4 (the consumer's release of the previous lap): our writes to the
         * slot come after its reads. */
        uint64_t s = rk_ld_acquire_gpu_u64(&v->seq[t & v->mask]);
        if (s == t) {
            uint64_t prev = atomicCAS((unsigned long long *)&v->ring->tail, t, t + 1);
            if (prev == t) {
                *pos = t;
                return 0;
            }
            t = prev; /* another producer took t, or the ring closed */
        } else if ((int64_t)(s - t) < 0) {
            return RK_EAGAIN; /* the slot still holds position t - capacity */
        } else {
            t = rk_ld_relaxed_gpu_u64(&v->ring->tail); /* t is stale: it was claimed and published */
        }
    }
}

/** Producer: the slot of pos is written. KQ2: release, pairs with KQ3 (the consumer's acquire). */
__device__ __forceinline__ void rk_k2k_ring_publish(const rk_k2k_view *v, uint64_t pos)
{
    rk_st_release_gpu_u64(&v->seq[pos & v->mask], pos + 1);
}

/** Consumer: 1 if the message at pos is there (KQ3: acquire, pairs with KQ2). */
__device__ __forceinline__ int rk_k2k_ring_ready(const rk_k2k_view *v, uint64_t pos)
{
    return rk_ld_acquire_gpu_u64(&v->seq[pos & v->mask]) == pos + 1;
}

/** Consumer: done reading pos; the slot is free for pos + capacity. KQ4: release, pairs with KQ1. */
__device__ __forceinline__ void rk_k2k_ring_release(const rk_k2k_view *v, uint64_t pos)
{
    rk_st_release_gpu_u64(&v->seq[pos & v->mask], pos + v->mask + 1);
}

/** Consumer: closes the ring. Returns the end: every position below it was claimed and will be published;
 * no position at or above it ever will be. */
__device__ __forceinline__ uint64_t rk_k2k_ring_close(rk_k2k_ring *r)
{
    return atomicOr((unsigned long long *)&r->tail, (unsigned long long)RK_K2K_CLOSED) & ~RK_K2K_CLOSED;
}

/* ---- Handler context -------------------------------------------------------------------------------- */

/** A K2K message being written: rk_k2k_send_reserve fills it, rk_k2k_send_commit publishes it. */
typedef struct rk_k2k_ticket {
    rk_k2k_view v;
    uint64_t pos;
    void *payload;            /* where to write up to len payload bytes */
} rk_k2k_ticket;

typedef struct rk_ctx {
    const rk_device_args *args;
    const rk_envelope *req;   /* the message being handled (its staged copy) */
    uint32_t index;           /* its index in the batch */
    uint32_t replied;         /* 1 once the handler replied */
    uint32_t reply_open;      /* 1 while a K2K reply reserved by rk_reply_reserve awaits its commit */
    uint32_t from_k2k;        /* the message came from another kernel: a reply goes back over K2K */
    /* Filled by the loop before the handler runs, so that a reply needs no pointer chasing (each a
     * dependent load on the round trip): where a reply to a host message goes (its K2H slot, or a
     * low-latency kernel's reply stage), its sequence number and its HLC stamp. */
    rk_envelope *reply_env;
    uint64_t reply_seq;
    uint64_t reply_physical;
    uint32_t reply_logical;
    uint32_t pad;
    rk_k2k_ticket reply;      /* a K2K reply (a request that came from another kernel is answered over K2K) */
} rk_ctx;

typedef int (*rk_device_handler)(rk_ctx *ctx, const rk_envelope *env, const void *payload);

/** The actor's state in device memory (state_size bytes, zeroed at launch, persistent). */
__device__ __forceinline__ void *rk_state(rk_ctx *ctx) { return ctx->args->state; }
__device__ __forceinline__ uint32_t rk_state_size(rk_ctx *ctx) { return ctx->args->state_size; }
__device__ __forceinline__ rk_addr rk_self(rk_ctx *ctx) { return RK_ADDR(ctx->args->kernel_id, 0); }
__device__ __forceinline__ uint32_t rk_payload_max_dev(rk_ctx *ctx)
{
    return (1u << ctx->args->slot_shift) - RK_ENVELOPE_SIZE;
}

/**
 * A fresh HLC timestamp inside the current batch: the batch's physical time with a logical counter above
 * every stamp the kernel received or issued before, and above the batch's reply stamps. Any thread may call
 * it; ticks of different threads are unique but unordered among themselves (they are concurrent events).
 */
__device__ __forceinline__ rk_hlc_ts rk_hlc_now(rk_ctx *ctx)
{
    rk_device_step *s = ctx->args->step;
    rk_hlc_ts t;
    t.physical = s->hlc_physical;
    /* Above the batch's reply stamps (hlc_logical + 1 + index, see rk_reply_reserve). */
    t.logical = s->hlc_logical + 1 + s->n + atomicAdd(&s->hlc_next, 1u);
    t.node = ctx->args->kernel_id;
    return t;
}

/* Where the reply to message i of the batch is written: its K2H slot, in place in the mapped ring, or in
 * a low-latency kernel its shared-memory reply stage, which the loop then encodes onto the wire. */
__device__ __forceinline__ rk_envelope *rk__reply_env(const rk_device_args *a, uint32_t i)
{
    if (a->reply_stage != NULL)
        return (rk_envelope *)(a->reply_stage + ((size_t)i << a->slot_shift));
    uint64_t pos = a->step->k2h_base + i;
    return (rk_envelope *)(a->k2h_slots + ((size_t)(pos & a->k2h_mask) << a->slot_shift));
}

/* ---- K2K sends from a handler (k2k.h semantics on the GPU) -------------------------------------------- */

/**
 * Reserves a K2K message to actor `dest` (a kernel of the same runtime, instance 0) in its inbox and fills
 * the envelope: source = this actor, dest, type_id, flags (0, RK_ENV_REQUEST or RK_ENV_REPLY), the
 * correlation id, a fresh HLC stamp (rk_hlc_now) and this kernel's next K2K sequence number. On success
 * write up to len bytes at t->payload, then call rk_k2k_send_commit(ctx, t) before the handler returns: the
 * receiver waits for a reserved slot, so a reservation must never be abandoned.
 * Returns 0; RK_EAGAIN if the inbox is full (nothing reserved: the normal backpressure signal; the handler
 * decides — fail the message, or keep the work in its state and retry on a later message; never spin, the
 * destination may be waiting for this kernel); RK_ECLOSED if the destination is stopping or stopped;
 * RK_ENOENT if no kernel of this runtime has that address; RK_ENOTSUP if it takes no K2K messages (a
 * low-latency launch); RK_EMSGSIZE if len exceeds its payload maximum; RK_EINVAL on other flags.
 */
__device__ __forceinline__ int rk_k2k_send_reserve(rk_ctx *ctx, rk_addr dest, uint64_t type_id, uint32_t flags,
                                                   uint64_t correlation_id, uint32_t len, rk_k2k_ticket *t)
{
    const rk_device_args *a = ctx->args;
    const uint32_t id = RK_ADDR_KERNEL(dest);
    if ((flags & ~(uint32_t)(RK_ENV_REQUEST | RK_ENV_REPLY)) != 0)
        return RK_EINVAL;
    if (a->k2k_dir == NULL || id == 0 || RK_ADDR_INSTANCE(dest) != 0)
        return RK_ENOENT;
    rk_k2k_dir_entry *d = &a->k2k_dir[id & (RK_CUDA_K2K_DIR - 1u)];
    if (rk_ld_relaxed_gpu_u32(&d->kernel_id) != id)
        return RK_ENOENT;
    rk_k2k_ring *r = (rk_k2k_ring *)rk_ld_relaxed_gpu_u64((const uint64_t *)(const void *)&d->ring);
    if (r == NULL)
        return RK_ENOTSUP;
    t->v = rk_k2k_ring_view(r);
    if (len > t->v.payload_max)
        return RK_EMSGSIZE;
    int rc = rk_k2k_ring_claim(&t->v, &t->pos);
    if (rc != 0)
        return rc;
    rk_envelope *e = rk_k2k_ring_slot(&t->v, t->pos);
    union {
        rk_envelope env;
        uint4 w[4];
    } u;
    u.env.magic = RK_ENVELOPE_MAGIC;
    u.env.version = RK_ABI_VERSION;
    u.env.flags = (uint8_t)flags;
    u.env.payload_len = len;
    u.env.type_id = type_id;
    u.env.correlation_id = correlation_id;
    u.env.source = RK_ADDR(a->kernel_id, 0);
    u.env.dest = dest;
    u.env.hlc = rk_hlc_now(ctx);
    u.env.seq = atomicAdd(&a->step->k2k_out, 1ull) + 1; /* this kernel's K2K sends, counted once each */
    for (int w = 0; w < 4; w++)
        ((uint4 *)e)[w] = u.w[w];
    t->payload = (uint8_t *)e + RK_ENVELOPE_SIZE;
    return 0;
}

/** Publishes a message reserved with rk_k2k_send_reserve. */
__device__ __forceinline__ void rk_k2k_send_commit(rk_ctx *ctx, rk_k2k_ticket *t)
{
    (void)ctx;
    rk_k2k_ring_publish(&t->v, t->pos);
}

/* Copies len bytes, 16 at a time when both sides are 16-byte aligned (slot payloads always are), four
 * loads in flight before their stores (the areas do not overlap): a 64-byte payload is one round of loads,
 * not four dependent load-store pairs. */
__device__ __forceinline__ void rk__copy(uint8_t *__restrict__ dst, const uint8_t *__restrict__ src, uint32_t len)
{
    uint32_t i = 0;
    if ((((uintptr_t)src | (uintptr_t)dst) & 15u) == 0) {
        for (; i + 64 <= len; i += 64) {
            uint4 v[4];
#pragma unroll
            for (int k = 0; k < 4; k++)
                v[k] = *(const uint4 *)(src + i + 16 * k);
#pragma unroll
            for (int k = 0; k < 4; k++)
                *(uint4 *)(dst + i + 16 * k) = v[k];
        }
        for (; i + 16 <= len; i += 16)
            *(uint4 *)(dst + i) = *(const uint4 *)(src + i);
    }
    for (; i < len; i++)
        dst[i] = src[i];
}

/** rk_k2k_send_reserve + copy + commit. Returns as rk_k2k_send_reserve. */
__device__ __forceinline__ int rk_k2k_send_ex(rk_ctx *ctx, rk_addr dest, uint64_t type_id, uint32_t flags,
                                              uint64_t correlation_id, const void *payload, uint32_t len)
{
    rk_k2k_ticket t;
    int rc = rk_k2k_send_reserve(ctx, dest, type_id, flags, correlation_id, len, &t);
    if (rc != 0)
        return rc;
    rk__copy((uint8_t *)t.payload, (const uint8_t *)payload, len);
    rk_k2k_send_commit(ctx, &t);
    return 0;
}

/** Sends len payload bytes to actor `dest` (no flags, correlation id 0). Returns as rk_k2k_send_reserve. */
__device__ __forceinline__ int rk_k2k_send(rk_ctx *ctx, rk_addr dest, uint64_t type_id, const void *payload,
                                           uint32_t len)
{
    return rk_k2k_send_ex(ctx, dest, type_id, 0, 0, payload, len);
}

/**
 * Looks a named endpoint up (rk_endpoint_register on the host; the device sees the runtime's endpoints
 * through a mirror the host updates as they change). A linear scan of RK_CUDA_K2K_ENDPOINTS entries:
 * resolve once and keep the address in the actor's state. Returns 0 with *out set, or RK_ENOENT.
 */
__device__ __forceinline__ int rk_k2k_resolve(rk_ctx *ctx, const char *name, rk_addr *out)
{
    const rk_k2k_endpoint *eps = ctx->args->k2k_endpoints;
    if (eps == NULL || name == NULL)
        return RK_ENOENT;
    for (uint32_t i = 0; i < RK_CUDA_K2K_ENDPOINTS; i++) {
        uint64_t addr = rk_ld_relaxed_gpu_u64(&eps[i].addr);
        if (addr == 0)
            continue;
        /* The name, 8 bytes at a time past L1 (the host rewrites entries as endpoints change). */
        const uint64_t *w = (const uint64_t *)(const void *)eps[i].name;
        uint32_t k = 0;
        int equal = 1, done = 0;
        for (uint32_t j = 0; j < 8 && equal && !done; j++) {
            uint64_t v = rk_ld_relaxed_gpu_u64(w + j);
            for (uint32_t b = 0; b < 8; b++, k++) {
                char c = (char)(v >> (8 * b));
                if (c != name[k]) {
                    equal = 0;
                    break;
                }
                if (c == 0) {
                    done = 1;
                    break;
                }
            }
        }
        if (equal && done) {
            *out = addr;
            return 0;
        }
    }
    return RK_ENOENT;
}

/* Opens the reply to the current message with envelope flags `flags`: in place in its K2H slot (a message
 * from the host), or over K2K to the kernel that sent it (ctx->reply, committed by rk_reply or by the loop
 * after the handler returns). Returns the payload area, or NULL with *err set. */
__device__ __forceinline__ void *rk__reply_open(rk_ctx *ctx, uint64_t type_id, uint32_t flags, uint32_t len, int *err)
{
    const rk_device_args *a = ctx->args;
    if (ctx->replied) {
        *err = RK_EEXIST;
        return NULL;
    }
    if (len > rk_payload_max_dev(ctx)) {
        *err = RK_EMSGSIZE;
        return NULL;
    }
    if (ctx->from_k2k) { /* a K2K message: answer the sending kernel */
        int rc = rk_k2k_send_reserve(ctx, ctx->req->source, type_id, RK_ENV_REPLY, ctx->req->correlation_id, len,
                                     &ctx->reply);
        if (rc != 0) {
            *err = rc;
            return NULL;
        }
        if (flags != RK_ENV_REPLY)
            ((rk_envelope *)((uint8_t *)ctx->reply.payload - RK_ENVELOPE_SIZE))->flags = (uint8_t)flags;
        ctx->replied = 1;
        ctx->reply_open = 1;
        return ctx->reply.payload;
    }
    rk_envelope *e = ctx->reply_env;
    /* Built in registers, then written as four 16-byte stores: four bus writes instead of fourteen, and
     * fewer writes for the batch's fence to wait for. */
    union {
        rk_envelope env;
        uint4 v[4];
    } u;
    u.env.magic = RK_ENVELOPE_MAGIC;
    u.env.version = RK_ABI_VERSION;
    u.env.flags = (uint8_t)flags;
    u.env.payload_len = len;
    u.env.type_id = type_id;
    u.env.correlation_id = ctx->req->correlation_id;
    u.env.source = RK_ADDR(a->kernel_id, 0);
    u.env.dest = ctx->req->source;
    u.env.hlc.physical = ctx->reply_physical;
    u.env.hlc.logical = ctx->reply_logical;
    u.env.hlc.node = a->kernel_id;
    u.env.seq = ctx->reply_seq;
    for (int w = 0; w < 4; w++)
        ((uint4 *)e)[w] = u.v[w];
    ctx->replied = 1;
    return (uint8_t *)e + RK_ENVELOPE_SIZE;
}

/* Publishes a K2K reply opened by rk__reply_open, if one is open. */
__device__ __forceinline__ void rk__reply_close(rk_ctx *ctx)
{
    if (ctx->reply_open) {
        rk_k2k_send_commit(ctx, &ctx->reply);
        ctx->reply_open = 0;
    }
}

/**
 * Reserves this message's reply and fills its envelope (correlation id, source, dest, HLC, flags); returns
 * a pointer to its payload area: write up to len bytes there. A message from the host is answered in place
 * in its K2H slot (mapped host memory); one from another kernel over K2K to that kernel's inbox, published
 * when the handler returns. Returns NULL if the handler already replied, len exceeds the payload maximum,
 * or (K2K) the sender's inbox is full or closed.
 */
__device__ __forceinline__ void *rk_reply_reserve(rk_ctx *ctx, uint64_t type_id, uint32_t len)
{
    int err;
    return rk__reply_open(ctx, type_id, RK_ENV_REPLY, len, &err);
}

/**
 * Replies to the current message with a copy of len payload bytes. Returns 0; RK_EEXIST (already replied),
 * RK_EMSGSIZE; for a message from another kernel also what rk_k2k_send_reserve returns (RK_EAGAIN: the
 * sender's inbox is full, RK_ECLOSED).
 */
__device__ __forceinline__ int rk_reply(rk_ctx *ctx, uint64_t type_id, const void *payload, uint32_t len)
{
    int err = 0;
    uint8_t *dst = (uint8_t *)rk__reply_open(ctx, type_id, RK_ENV_REPLY, len, &err);
    if (dst == NULL)
        return err;
    rk__copy(dst, (const uint8_t *)payload, len);
    rk__reply_close(ctx);
    return 0;
}

/* ---- The persistent loop ---------------------------------------------------------------------------- */

#define RK__STAGE_DEPTH 4

/* Inbox sequence words the coordinator reads per poll, all in flight at once (one 64-byte line). */
#define RK__K2K_POLL 8u

/* Bytes of shared memory a one-block kernel stages small batches in (128 slots of 128 bytes). */
#define RK__SMEM_STAGE 16384u

/* Largest batch a one-block kernel keeps its replied bits for in shared memory (cuda.h RK_CUDA_MAX_BATCH). */
#define RK__MAX_BATCH RK_CUDA_MAX_BATCH

__device__ __forceinline__ void rk__step_barrier(const rk_device_args *a)
{
    if (a->grid_sync)
        cooperative_groups::this_grid().sync();
    else
        __syncthreads();
}

/* The staged copy of message i of the batch (device memory). */
__device__ __forceinline__ rk_envelope *rk__staged(const rk_device_args *a, uint32_t i)
{
    return (rk_envelope *)(a->step->stage_base + ((size_t)i << a->slot_shift));
}

/* The coordinator's private state (registers of thread 0 of block 0). */
typedef struct rk__coord {
    uint64_t h2k_tail, k2h_head, k2h_tail_cache;
    uint64_t msgs_in, msgs_out, errors;
    uint32_t polls;      /* control flags are re-read every 32 polls: one bus read per poll, not three */
    uint32_t term, pause;
    uint32_t paused;     /* PAUSED was published to the control block */
    uint32_t draining;   /* DRAINING was published to the control block */
    uint64_t k2k_head;   /* next inbox position to take */
    uint64_t k2k_end;    /* once closed: the inbox's end (rk_k2k_ring_close) */
    uint64_t k2k_in;     /* K2K messages taken */
    uint32_t k2k_closed; /* the inbox is closed (terminate seen and H2K drained) */
    uint32_t k2k_dirty;  /* K2K-only steps ran since the counters were last published */
} rk__coord;

/* Coordinator: reads the control flags (every 32 polls, every poll while paused) and acknowledges
 * terminate and pause through the state. Afterwards c->term and c->paused say what to do. */
__device__ __forceinline__ void rk__control(const rk_device_args *a, rk__coord *c)
{
    if ((c->polls++ & 31u) == 0 || c->pause) {
        /* A-CB: pairs with the host's release stores of terminate/pause (runtime.c). */
        c->term = rk_ld_acquire_sys_u32(&a->cb->terminate);
        c->pause = rk_ld_acquire_sys_u32(&a->cb->pause);
    }
    if (c->term && !c->draining) { /* terminate seen: drain what is queued, then stop */
        c->draining = 1;
        rk_st_relaxed_sys_u32(&a->cb->state, RK_STATE_DRAINING);
    }
    if ((c->pause && !c->term) != c->paused) { /* acknowledge a pause or a resume through the state */
        c->paused = c->pause && !c->term;
        rk_st_relaxed_sys_u32(&a->cb->state, c->paused ? RK_STATE_PAUSED : c->term ? RK_STATE_DRAINING : RK_STATE_RUNNING);
    }
}

/* Coordinator: decides the next step. Returns 1 if there is nothing to do. */
__device__ __forceinline__ int rk__coordinate(const rk_device_args *a, rk__coord *c)
{
    rk_device_step *s = a->step;
    uint64_t avail = 0;
    uint64_t kseq[RK__K2K_POLL];

    rk__control(a, c);
    const int take_k2k = a->inbox != NULL && (!c->pause || c->term);
    if (take_k2k) {
        /* The inbox's next sequence words, read relaxed and before the H2K poll below so the two reads
         * overlap (device memory answers while the bus read is in flight); the fence after the poll
         * makes them acquires (KQ3). */
        for (uint32_t j = 0; j < RK__K2K_POLL; j++)
            kseq[j] = rk_ld_relaxed_gpu_u64(&a->k2k_seq[(c->k2k_head + j) & a->k2k_mask]);
    }
    if (!c->pause || c->term) {
        /* A2 (device): pairs with R1 in rk_queue_commit_spsc(): slots before head are fully written. */
        uint64_t head = rk_ld_acquire_sys_u64(&a->h2k->head);
        /* The batch's physical time, read while the bus read above is in flight (it does not depend on
         * it), so the timer's latency stays off the path from "message seen" to "reply published". */
        s->poll_time = rk_globaltimer();
        avail = head - c->h2k_tail;
    }
    uint64_t room = (uint64_t)a->k2h_mask + 1 - (c->k2h_head - c->k2h_tail_cache);
    uint64_t n = avail < a->max_batch ? avail : a->max_batch;
    if (n > room) {
        /* A1 (device): pairs with R2 in rk_queue_release_spsc(): the host is done with those slots. */
        c->k2h_tail_cache = rk_ld_acquire_sys_u64(&a->k2h->tail);
        room = (uint64_t)a->k2h_mask + 1 - (c->k2h_head - c->k2h_tail_cache);
        if (n > room)
            n = room;
    }
    /* K2K messages fill the batch after the H2K ones: the ready prefix of the inbox (no K2H room needed:
     * their replies go back over K2K). */
    uint64_t nk = 0;
    if (take_k2k) {
        const uint64_t cap_k = a->max_batch - n;
        while (nk < cap_k && nk < RK__K2K_POLL && kseq[nk] == c->k2k_head + nk + 1)
            nk++;
        if (nk == RK__K2K_POLL) /* a burst: take the rest of the ready prefix */
            while (nk < cap_k && rk_ld_relaxed_gpu_u64(&a->k2k_seq[(c->k2k_head + nk) & a->k2k_mask]) ==
                                     c->k2k_head + nk + 1)
                nk++;
        if (nk)
            asm volatile("fence.acq_rel.gpu;" ::: "memory"); /* KQ3: the sequence loads above acquire */
        if (c->term && avail == 0 && !c->k2k_closed) {
            /* Terminate seen and H2K drained: close the inbox, then drain it to its end. */
            c->k2k_end = rk_k2k_ring_close(a->inbox);
            c->k2k_closed = 1;
        }
    }
    s->n_h2k = (uint32_t)n;
    s->k2k_head = c->k2k_head;
    n += nk;
    s->n = (uint32_t)n;
    /* A batch that fits the block's shared staging area (one-block kernels) is staged there: the owners
     * and handlers then read it in tens of cycles instead of a device-memory round trip each. */
    s->stage_base = a->stage_small != NULL && (n << a->slot_shift) <= RK__SMEM_STAGE ? a->stage_small : a->stage;
    s->h2k_tail = c->h2k_tail;
    s->k2h_base = c->k2h_head;
    s->stop = s->fault ? 2u
              : (c->term && avail == 0 && (a->inbox == NULL || (c->k2k_closed && n == 0 && c->k2k_head == c->k2k_end)))
                  ? 1u
                  : 0u;
    if (s->fault)
        rk_st_relaxed_sys_u32((uint32_t *)&a->cb->last_error, (uint32_t)(-(int32_t)s->fault));
    s->remote_physical = 0;
    s->remote_logical = 0;
    s->reply_end = 0;
    s->hlc_next = 0;
    s->errors = 0;
    s->last_error = 0;
    return n == 0;
}

/* Where batch message i comes from: its H2K slot (mapped host memory) or its K2K inbox slot (device memory). */
__device__ __forceinline__ const uint8_t *rk__src_slot(const rk_device_args *a, uint32_t i)
{
    const rk_device_step *s = a->step;
    if (i < s->n_h2k)
        return a->h2k_slots + ((size_t)((s->h2k_tail + i) & a->h2k_mask) << a->slot_shift);
    return a->k2k_slots + ((size_t)((s->k2k_head + i - s->n_h2k) & a->k2k_mask) << a->slot_shift);
}

/*
 * Every thread: copies the batch's slots from the H2K ring (mapped host memory) into the stage (device
 * memory) with 16-byte loads spread over the whole grid, so the batch crosses the bus in one round trip
 * instead of one per field a handler touches. The first pass copies min(slot, 256) bytes of each slot: the
 * envelope and small payloads; a longer payload's tail is copied by its owner in rk__take.
 */
__device__ __forceinline__ void rk__stage(const rk_device_args *a, uint32_t n)
{
    const uint32_t slot = 1u << a->slot_shift;
    const uint32_t first = slot < 256u ? slot : 256u;
    const uint32_t per = first / 16, total = n * per;
    const uint32_t step = gridDim.x * blockDim.x;
    /* RK__STAGE_DEPTH loads in flight per thread before the first store: one bus round trip per that many
     * chunks, not one per chunk (the compiler cannot hoist loads over stores it cannot prove do not alias).
     * Four keeps the loop under the 64 registers a 1024-thread block allows. */
    for (uint32_t c0 = blockIdx.x * blockDim.x + threadIdx.x; c0 < total; c0 += RK__STAGE_DEPTH * step) {
        uint4 v[RK__STAGE_DEPTH];
#pragma unroll
        for (int k = 0; k < RK__STAGE_DEPTH; k++) {
            uint32_t c = c0 + (uint32_t)k * step;
            if (c < total) {
                uint32_t i = c / per, off = (c - i * per) * 16;
                v[k] = *(const uint4 *)(rk__src_slot(a, i) + off);
            }
        }
#pragma unroll
        for (int k = 0; k < RK__STAGE_DEPTH; k++) {
            uint32_t c = c0 + (uint32_t)k * step;
            if (c < total) {
                uint32_t i = c / per, off = (c - i * per) * 16;
                *(uint4 *)(a->step->stage_base + ((size_t)i << a->slot_shift) + off) = v[k];
            }
        }
    }
}

/* Coordinator: the batch's HLC from the merged remote maximum and the device clock (HLC receive rule). */
__device__ __forceinline__ void rk__batch_hlc(const rk_device_args *a)
{
    rk_device_step *s = a->step;
    uint64_t pt = s->poll_time + (uint64_t)a->hlc_offset_ns; /* read by rk__coordinate this step */
    uint64_t lp = s->clock_physical, rp = s->remote_physical;
    uint64_t p = lp > rp ? lp : rp;
    uint32_t logical;
    if (pt > p) {
        p = pt;
        logical = 0;
    } else {
        /* p is the local or remote physical time: logical above both (a safe over-approximation). */
        uint32_t ll = s->clock_logical, rl = s->remote_logical;
        logical = (ll > rl ? ll : rl) + 1;
    }
    s->hlc_physical = p;
    s->hlc_logical = logical;
}

/* Owner of staged message i: validates it, copies the rest of a long payload, clears its replied byte and
 * folds its stamp into the owner's running maximum (merged per warp by rk__merge_stamps). A corrupt
 * envelope raises a fault. */
__device__ __forceinline__ void rk__take(const rk_device_args *a, uint32_t i, uint64_t *max_phys, uint32_t *max_log)
{
    rk_device_step *s = a->step;
    const uint32_t slot = 1u << a->slot_shift;
    rk_envelope *e = rk__staged(a, i);
    a->replied[i] = 0;
    if (e->magic != RK_ENVELOPE_MAGIC || e->version != RK_ABI_VERSION || e->payload_len > slot - RK_ENVELOPE_SIZE) {
        atomicExch(&s->fault, (uint32_t)(-RK_ECORRUPT));
        return;
    }
    if (RK_ENVELOPE_SIZE + e->payload_len > 256u) {
        rk__copy((uint8_t *)e + 256, rk__src_slot(a, i) + 256, RK_ENVELOPE_SIZE + e->payload_len - 256u);
    }
    if (e->hlc.physical > *max_phys)
        *max_phys = e->hlc.physical;
    if (e->hlc.logical > *max_log)
        *max_log = e->hlc.logical;
}

/* Every thread: merges per-thread maxima into the step with one atomic per warp instead of one per
 * message (a thousand threads hitting one shared word serialise). The warp maxima use the redux unit
 * (sm_80+: one instruction per 32-bit maximum) rather than a five-step shuffle chain per value. */
__device__ __forceinline__ void rk__warp_max_into(unsigned long long *dst64, uint32_t *dst32, uint64_t v64, uint32_t v32)
{
    const uint32_t hi = (uint32_t)(v64 >> 32);
    const uint32_t mhi = __reduce_max_sync(RK_FULL_MASK, hi);
    const uint32_t mlo = __reduce_max_sync(RK_FULL_MASK, hi == mhi ? (uint32_t)v64 : 0u);
    const uint32_t m32 = __reduce_max_sync(RK_FULL_MASK, v32);
    const uint64_t m64 = ((uint64_t)mhi << 32) | mlo;

    if ((threadIdx.x & 31u) == 0) {
        if (dst64 != NULL && m64 != 0)
            atomicMax(dst64, (unsigned long long)m64);
        if (m32 != 0)
            atomicMax(dst32, m32);
    }
}

/* Owner of message i, after the handlers and the barrier that published reply_end: a message before the
 * last replying one that did not reply gets a skip envelope, so the host's K2H stream has no hole. */
__device__ __forceinline__ void rk__fill_gap(const rk_device_args *a, uint32_t i)
{
    const rk_device_step *s = a->step;
    if (i >= s->reply_end || a->replied[i])
        return;
    rk_envelope *e = rk__reply_env(a, i);
    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->flags = RK_ENV_SYSTEM;
    e->payload_len = 0;
    e->type_id = RK_SYSTYPE_SKIP;
    e->correlation_id = 0;
    e->seq = s->k2h_base + i + 1;
}

/* Coordinator: the K2K counters and the HLC words for the host (relaxed: statistics and advisory words;
 * whoever needs them final reads them after the release of the final state). Profile builds keep their
 * phase sums in the K2K counters' words instead. */
__device__ __forceinline__ void rk__publish_k2k(const rk_device_args *a, rk__coord *c)
{
#ifndef RK_DEVICE_PROFILE
    if (a->inbox != NULL) {
        rk_st_relaxed_sys_u64(&a->cb->k2k_in, c->k2k_in);
        /* A generic volatile load: the step words are in shared memory in a one-block kernel. */
        rk_st_relaxed_sys_u64(&a->cb->k2k_out, *(volatile unsigned long long *)&a->step->k2k_out);
    }
#endif
    rk_st_relaxed_sys_u64(&a->cb->last_hlc_physical, a->step->clock_physical);
    rk_st_relaxed_sys_u32(&a->cb->last_hlc_logical, a->step->clock_logical);
    c->k2k_dirty = 0;
}

/* Coordinator, after the handlers: publish replies, release requests, update counters. A step that took
 * only K2K messages and wrote no K2H reply touches no host memory (its counters are published when the
 * kernel next goes idle, rk__device_loop): K2K traffic between kernels never waits for the bus. */
__device__ __forceinline__ void rk__finish(const rk_device_args *a, rk__coord *c)
{
    rk_device_step *s = a->step;
    uint32_t n = s->n_h2k, end = s->reply_end; /* gaps below end were filled by their owners (rk__fill_gap) */
    s->clock_physical = s->hlc_physical;
    s->clock_logical = s->hlc_logical + s->n + s->hlc_next; /* the largest logical issued in the batch */
    c->k2k_head += s->n - n;
    c->k2k_in += s->n - n;
    c->errors += s->errors;
    if (n == 0 && end == 0 && s->errors == 0) {
        c->k2k_dirty = 1;
        return;
    }
    c->k2h_head += end;
    c->h2k_tail += n;
    c->msgs_in += n;
    c->msgs_out += end;
    /* F1: one system-scope fence, then relaxed stores: together a release of every store below (PTX
     * fence + relaxed store pattern). The barrier before this step made every thread's reply bytes and
     * H2K reads happen-before this thread's fence (cumulativity). Pairs with A2 in rk_queue_peek_spsc()
     * (K2H head: replies are visible before the new head) and with A1 in rk_queue_reserve_spsc() (H2K
     * tail: our reads of the slots are done before the host reuses them). One fence instead of one per
     * store: each costs a bus round trip. */
    asm volatile("fence.acq_rel.sys;" ::: "memory");
    if (end)
        rk_st_relaxed_sys_u64(&a->k2h->head, c->k2h_head);
    rk_st_relaxed_sys_u64(&a->h2k->tail, c->h2k_tail);
    rk_st_relaxed_sys_u64(&a->cb->msgs_in, c->msgs_in);
    rk_st_relaxed_sys_u64(&a->cb->msgs_out, c->msgs_out);
    if (s->errors) {
        rk_st_relaxed_sys_u64(&a->cb->errors, c->errors);
        rk_st_relaxed_sys_u32((uint32_t *)&a->cb->last_error, (uint32_t)s->last_error);
    }
    rk__publish_k2k(a, c);
}

/* The handler context of message i of the batch in the main loop. Reply stamps follow K2H order: the
 * batch's base plus the message's index. */
__device__ __forceinline__ void rk__ctx_init(rk_ctx *ctx, const rk_device_args *a, uint32_t i, const rk_envelope *e)
{
    const rk_device_step *s = a->step;
    ctx->args = a;
    ctx->req = e;
    ctx->index = i;
    ctx->replied = 0;
    ctx->reply_open = 0;
    ctx->from_k2k = i >= s->n_h2k;
    ctx->reply_env = rk__reply_env(a, i);
    ctx->reply_seq = s->k2h_base + i + 1;
    ctx->reply_physical = s->hlc_physical;
    ctx->reply_logical = s->hlc_logical + 1 + i;
}

/* Runs the handler on the message of ctx (filled by the loop); accounts a handler error and answers a
 * request that failed without a reply with an error reply. Returns 1 if the message was answered. */
__device__ __forceinline__ uint32_t rk__handle(const rk_device_args *a, rk_device_handler fn, rk_ctx *ctx)
{
    const rk_envelope *e = ctx->req;
    int rc = fn(ctx, e, (const uint8_t *)e + RK_ENVELOPE_SIZE);
    rk__reply_close(ctx); /* a K2K reply the handler reserved and filled */
    if (rc < 0) {
        atomicAdd(&a->step->errors, 1u);
        a->step->last_error = rc;
        if (rc == RK_EFAULT)
            atomicExch(&a->step->fault, (uint32_t)(-rc));
        if ((e->flags & RK_ENV_REQUEST) && !ctx->replied) {
            int err;
            int32_t *code = (int32_t *)rk__reply_open(ctx, e->type_id, RK_ENV_REPLY | RK_ENV_ERROR, sizeof *code, &err);
            if (code != NULL) /* a K2K requester whose inbox is full gets no error reply (counted above) */
                *code = rc;
            rk__reply_close(ctx);
        }
    }
    return ctx->replied;
}

/* ---- The low-latency loop (RK_LAUNCH_LOW_LATENCY; the LL encoding of abi.h) -------------------------
 *
 * Two warps. Warp 0 serves, its lane 0 coordinates; warp 1 (its lane 0) watches the control block. Every
 * choice below was measured against the bare LL echo of bench/ll_lab.cu on the H200:
 *   - The serving warp issues ONE bus read per poll: a second read in the same warp (the control words),
 *     even one whose value is used late, added more than a bus round trip to the round trip; the same read
 *     in another warp cost nothing. So warp 1 reads terminate and pause (~every microsecond) and hands them
 *     over through shared memory, and beats the heartbeat while warp 0 makes progress.
 *   - One slot per poll: a poll of k slots is k load instructions, and those did not overlap either.
 *   - A system fence after the reply's wire stores: the host accepts each word by its flag, so the fence
 *     is not needed for ordering, but without it the stores reached the host about 0.7 us later.
 * A step of warp 0:
 *   1. every lane reads wire word `lane` of the next H2K slot with one relaxed 64-bit load (the poll and
 *      the data in one bus read); the slot is there when every head word carries its flag (a warp vote).
 *      The low halves land in the shared request stage; the rest of a long payload is read (and waited
 *      for) word by word.
 *   2. lane 0 takes it (checks, HLC receive rule) and runs the handler, whose reply goes to the shared reply
 *      stage (rk__reply_env).
 *   3. the warp writes the reply's wire words (flag = its K2H position + 1), then the fence; the
 *      bookkeeping comes after, off the round trip.
 * The H2K tail (slots the host may reuse), the counters and the HLC words are published behind one system
 * fence every capacity/4 messages, after 16 idle polls, and at the end. The host owns K2H head in this mode
 * (runtime.c L3); the kernel reads K2H tail for room as usual.
 */

__device__ __forceinline__ uint64_t rk__ld_relaxed_sys_u64(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.sys.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

/* The wire words of slot pos of a ring with 2^slot_shift-byte slots (wire slots are twice that). */
__device__ __forceinline__ uint64_t *rk__ll_wire(uint8_t *slots, uint32_t mask, uint32_t slot_shift, uint64_t pos)
{
    return (uint64_t *)(slots + ((size_t)(pos & mask) << (slot_shift + 1)));
}

/* Lane's share of the words [from, nw) of the H2K wire slot at pos, waited for and stored in dst. */
__device__ __forceinline__ void rk__ll_read_rest(const uint64_t *wire, uint32_t from, uint32_t nw, uint32_t flag,
                                                 uint32_t *dst)
{
    for (uint32_t w = from + (threadIdx.x & 31u); w < nw; w += 32) {
        uint64_t v;
        do
            v = rk__ld_relaxed_sys_u64(wire + w);
        while ((uint32_t)(v >> 32) != flag);
        dst[w] = (uint32_t)v;
    }
}

/* Coordinator (lane 0): publishes the H2K tail, counters and HLC words behind one system fence. F2: the
 * fence orders the warp's reads of the H2K slots (complete: their values were used) and every lane's
 * earlier stores (the __syncwarp before makes them this lane's, cumulativity) before the stores below;
 * pairs with A1 in rk_queue_reserve_spsc() (H2K tail) and with the host's acquire of the state (L4). */
__device__ __forceinline__ void rk__ll_publish(const rk_device_args *a, const rk__coord *c, uint32_t errors_dirty)
{
    asm volatile("fence.acq_rel.sys;" ::: "memory");
    rk_st_relaxed_sys_u64(&a->h2k->tail, c->h2k_tail);
    rk_st_relaxed_sys_u64(&a->cb->msgs_in, c->msgs_in);
    rk_st_relaxed_sys_u64(&a->cb->msgs_out, c->msgs_out);
    if (errors_dirty) {
        rk_st_relaxed_sys_u64(&a->cb->errors, c->errors);
        rk_st_relaxed_sys_u32((uint32_t *)&a->cb->last_error, (uint32_t)a->step->last_error);
    }
    rk_st_relaxed_sys_u64(&a->cb->last_hlc_physical, a->step->clock_physical);
    rk_st_relaxed_sys_u32(&a->cb->last_hlc_logical, a->step->clock_logical);
}

/* What the two warps of a low-latency kernel share (shared memory). */
typedef struct rk__ll_shared {
    uint64_t ctl;      /* terminate (low half) and pause (high half), as the control warp last read them */
    uint64_t progress; /* warp 0's polls: the control warp beats the heartbeat only while this moves */
    uint64_t done;     /* warp 0 left its loop: the control warp leaves too */
} rk__ll_shared;

/* The two warps talk through shared-memory atomics (relaxed) with block-scope fences around them: the
 * fence-then-atomic and atomic-then-fence pairs make a release and an acquire at block scope, and
 * compute-sanitizer's racecheck sees atomics where it reports plain accesses between warps as races. */
__device__ __forceinline__ uint64_t rk__ll_get(uint64_t *p)
{
    const uint64_t v = atomicAdd((unsigned long long *)p, 0ull);
    __threadfence_block(); /* acquire */
    return v;
}

__device__ __forceinline__ void rk__ll_put(uint64_t *p, uint64_t v)
{
    __threadfence_block(); /* release */
    atomicExch((unsigned long long *)p, (unsigned long long)v);
}

/*
 * The control warp (lane 0 of warp 1): reads terminate and pause (adjacent words, one 8-byte load) about
 * every microsecond and hands them to warp 0. A-CB (LL): the acquire load pairs with the host's release of
 * terminate (runtime.c K1); the release store into shared memory pairs with warp 0's acquire of it, so a
 * poll warp 0 issues after seeing terminate sees every message sent before terminate (causality order is
 * transitive across the two scopes).
 */
__device__ __forceinline__ void rk__ll_control(const rk_device_args *a, rk__ll_shared *sh)
{
    uint64_t beat = 0, seen = 0;
    long long last = clock64();
    for (;;) {
        const uint64_t w = rk_ld_acquire_sys_u64((const uint64_t *)(const void *)&a->cb->terminate);
        rk__ll_put(&sh->ctl, w);
        if (rk__ll_get(&sh->done)) {
            rk_st_relaxed_sys_u64(&a->cb->heartbeat, ++beat); /* a last beat as the kernel leaves */
            return;
        }
        const long long now = clock64();
        if (now - last > 200000) { /* ~100 us: one bus write, and only while warp 0 moves */
            const uint64_t p = rk__ll_get(&sh->progress);
            if (p != seen)
                rk_st_relaxed_sys_u64(&a->cb->heartbeat, ++beat);
            seen = p;
            last = now;
        }
        __nanosleep(1000);
    }
}

/* s, req and rep are the kernel's __shared__ arrays themselves (rk__device_main_ll), not pointers loaded from
 * the arguments, so that the compiler knows their address space: shared-memory instructions instead of
 * generic ones, and values it can keep in registers. */
__device__ __forceinline__ void rk__device_loop_ll(const rk_device_args *a, rk_device_handler fn, rk__ll_shared *sh,
                                                   rk_device_step *s, uint8_t *req, uint8_t *rep)
{
    const uint32_t lane = threadIdx.x & 31u;
    const uint32_t slot = 1u << a->slot_shift, words = slot / 4u;
    const uint32_t head_words = words < RK_LL_HEAD_WORDS ? words : RK_LL_HEAD_WORDS;
    const uint32_t k2h_cap = a->k2h_mask + 1u, h2k_cap = a->h2k_mask + 1u;
    const int64_t hlc_offset = a->hlc_offset_ns;
    uint64_t clock_physical = 0, poll_time = 0; /* lane 0: the kernel's HLC, the step's device time */
    uint32_t clock_logical = 0;
    rk__coord c = {};
    uint64_t published = 0;
    uint32_t idle = 0, dirty = 0, errors_dirty = 0, stop = 0, paused = 0, draining = 0;
#ifdef RK_DEVICE_PROFILE
    /* 32-bit sums (a diagnostic run's deltas stay far below 2^32 cycles), packed two per word. */
    uint32_t prof_poll = 0, prof_take = 0, prof_handle = 0, prof_wire = 0, prof_empty_cycles = 0, prof_empty = 0;
    uint64_t prof_ta = 0, prof_tb = 0, prof_steps = 0;
#endif

    /* Every lane keeps the same copy of the positions; lane 0 reads them and the warp shares its values. */
    if (lane == 0) {
        c.h2k_tail = rk_ld_acquire_sys_u64(&a->h2k->tail);
        c.k2h_head = rk_ld_acquire_sys_u64(&a->k2h->head); /* the host owns head from here on (L3) */
        c.k2h_tail_cache = rk_ld_acquire_sys_u64(&a->k2h->tail);
    }
    c.h2k_tail = __shfl_sync(RK_FULL_MASK, c.h2k_tail, 0);
    c.k2h_head = __shfl_sync(RK_FULL_MASK, c.k2h_head, 0);
    c.k2h_tail_cache = __shfl_sync(RK_FULL_MASK, c.k2h_tail_cache, 0);
    published = c.h2k_tail;
    if (lane == 0) {
        s->fault = 0;
        s->clock_physical = 0;
        s->clock_logical = 0;
        s->reply_end = 0;
        s->n = 1; /* one message per step */
        s->n_h2k = 1; /* a low-latency kernel has no inbox: every message comes from H2K */
        s->k2k_out = 0; /* shared memory: not zeroed by the host */
        s->errors = 0;
        s->last_error = 0;
        rk_st_release_sys_u32(&a->cb->state, RK_STATE_RUNNING);
    }
    __syncwarp();
    /* Constants in registers: the asm loads and stores below clobber memory, so fields read through `a`
     * would be read again from shared memory on every poll. */
    uint8_t *const h2k_slots = a->h2k_slots, *const k2h_slots = a->k2h_slots;
    const uint32_t h2k_mask = a->h2k_mask, k2h_mask = a->k2h_mask, slot_shift = a->slot_shift;
    uint32_t term = 0; /* terminate, as seen before the current poll was issued */
    for (;;) {
#ifdef RK_DEVICE_PROFILE
        const uint64_t prof_t0 = (uint64_t)clock64();
#endif
        /* 1. Poll one slot (not while paused), issued first: the control work below runs while the bus
         * read is in flight. Without K2H room for a reply the poll still looks (terminate must know whether
         * H2K is empty) but takes nothing. */
        uint32_t found = 0, room = 1;
        uint64_t v = 0;
        if (!paused) {
            if (lane < head_words)
                v = rk__ld_relaxed_sys_u64(rk__ll_wire(h2k_slots, h2k_mask, slot_shift, c.h2k_tail) + lane);
            if (lane == 0) /* the step's physical time */
                poll_time = rk_globaltimer();
        }
        const uint32_t term_before = term; /* read before this poll was issued (acquire, below) */
        /* Control, as the control warp last saw it. Acquire (see rk__ll_control): every later poll sees what
         * the host sent before terminate. */
        uint64_t ctl = lane == 0 ? rk__ll_get(&sh->ctl) : 0;
        ctl = __shfl_sync(RK_FULL_MASK, ctl, 0);
        __syncwarp(); /* lane 0's acquire orders every lane's later polls (memory ordering of the warp barrier) */
        term = (uint32_t)ctl != 0;
        const uint32_t pause = (uint32_t)(ctl >> 32) != 0 && !term;
        if (lane == 0) {
            atomicAdd((unsigned long long *)&sh->progress, 1ull);
            if (term && !draining)
                rk_st_relaxed_sys_u32(&a->cb->state, RK_STATE_DRAINING);
            if (pause != paused)
                rk_st_relaxed_sys_u32(&a->cb->state, pause ? RK_STATE_PAUSED : term ? RK_STATE_DRAINING
                                                                                   : RK_STATE_RUNNING);
        }
        draining |= term;
        const uint32_t polled = !paused;
        paused = pause;
        if (polled) {
            if (c.k2h_head - c.k2h_tail_cache >= k2h_cap) {
                /* A1 (device): pairs with R2 in rk_queue_release_spsc(): the host is done with those slots. */
                uint64_t tl = lane == 0 ? rk_ld_acquire_sys_u64(&a->k2h->tail) : 0;
                c.k2h_tail_cache = __shfl_sync(RK_FULL_MASK, tl, 0);
                room = c.k2h_head - c.k2h_tail_cache < k2h_cap;
            }
            found = __all_sync(RK_FULL_MASK, lane >= head_words || (uint32_t)(v >> 32) == RK_LL_FLAG(c.h2k_tail));
            if (found && room && lane < head_words)
                ((uint32_t *)req)[lane] = (uint32_t)v;
        }
        if (!found || !room) {
            idle = idle < 1024 ? idle + 1 : idle;
#ifdef RK_DEVICE_PROFILE
            if (lane == 0) { /* empty polls: count and cycles */
                prof_empty_cycles += (uint32_t)((uint64_t)clock64() - prof_t0);
                prof_empty++;
            }
#endif
            if (dirty && (idle >= 16 || term)) { /* quiet (or stopping): publish, off any request's path */
                __syncwarp();
                if (lane == 0)
                    rk__ll_publish(a, &c, errors_dirty);
                published = c.h2k_tail;
                dirty = errors_dirty = 0;
            }
            if (term_before && polled && !found) { /* terminate seen before this poll, H2K empty: every earlier
                                                     * send was seen (K1) */
                stop = 1;
                break;
            }
            if (lane == 0 && idle > 64)
                __nanosleep(idle < 128 ? 64 : idle < 512 ? 512 : 4000);
            __syncwarp();
            continue;
        }
        idle = 0;
#ifdef RK_DEVICE_PROFILE
        const uint64_t prof_t1 = (uint64_t)clock64();
#endif
        __syncwarp();
        const rk_envelope *e = (const rk_envelope *)req;
        { /* the rest of a long payload (rare: a 64 B payload fits the head words) */
            const uint32_t len = e->payload_len <= slot - RK_ENVELOPE_SIZE ? e->payload_len : slot - RK_ENVELOPE_SIZE;
            const uint32_t nw = rk_ll_words(len, slot);
            if (nw > head_words) {
                rk__ll_read_rest(rk__ll_wire(h2k_slots, h2k_mask, slot_shift, c.h2k_tail), head_words, nw,
                                 RK_LL_FLAG(c.h2k_tail), (uint32_t *)req);
                __syncwarp();
            }
        }

        /* 2. Lane 0: take (checks, HLC receive rule in registers) and handle. Lane 0 alone touches the step
         * words; the warp learns the outcome through shuffles. */
        uint32_t replied = 0, errs = 0, fault = 0;
        if (lane == 0) {
            if (e->magic != RK_ENVELOPE_MAGIC || e->version != RK_ABI_VERSION || e->payload_len > slot - RK_ENVELOPE_SIZE)
                s->fault = (uint32_t)(-RK_ECORRUPT);
            const uint64_t pt = poll_time + (uint64_t)hlc_offset, rp = e->hlc.physical;
            const uint32_t rl = e->hlc.logical;
            uint64_t p = clock_physical > rp ? clock_physical : rp;
            uint32_t logical;
            if (pt > p) {
                p = pt;
                logical = 0;
            } else { /* above both the local and the remote logical (a safe over-approximation) */
                logical = (clock_logical > rl ? clock_logical : rl) + 1;
            }
            /* For rk_hlc_now in the handler. */
            s->hlc_physical = p;
            s->hlc_logical = logical;
            s->hlc_next = 0;
            s->h2k_tail = c.h2k_tail;
            s->k2h_base = c.k2h_head;
#ifdef RK_DEVICE_PROFILE
            prof_ta = (uint64_t)clock64();
#endif
            if (!s->fault) {
                rk_ctx ctx;
                ctx.args = a;
                ctx.req = e;
                ctx.index = 0;
                ctx.replied = 0;
                ctx.reply_open = 0;
                ctx.from_k2k = 0;
                ctx.reply_env = (rk_envelope *)rep;
                ctx.reply_seq = c.k2h_head + 1;
                ctx.reply_physical = p;
                ctx.reply_logical = logical + 1;
                replied = rk__handle(a, fn, &ctx);
            }
            clock_physical = p;
            clock_logical = logical + 1 + s->hlc_next; /* the largest logical issued in the step */
            if ((errs = s->errors) != 0)
                s->errors = 0;
            fault = s->fault;
#ifdef RK_DEVICE_PROFILE
            prof_tb = (uint64_t)clock64();
#endif
        }
        replied = __shfl_sync(RK_FULL_MASK, replied, 0);
        errs = __shfl_sync(RK_FULL_MASK, errs, 0);
        fault = __shfl_sync(RK_FULL_MASK, fault, 0);

        /* 3. The reply onto the wire; the fence (for latency: see the header) comes after the bookkeeping,
         * which so runs while the stores are on their way instead of between the fence and the next poll. */
        if (replied) {
            __syncwarp(); /* lane 0's reply bytes are visible to the warp */
            const uint32_t *src = (const uint32_t *)rep;
            const uint64_t flag = (uint64_t)RK_LL_FLAG(c.k2h_head) << 32;
            uint64_t *wire = rk__ll_wire(k2h_slots, k2h_mask, slot_shift, c.k2h_head);
            /* The head words at once (a reply always has them), the rest once its length is known. */
            const uint32_t w0 = lane < head_words ? src[lane] : 0u;
            const uint32_t nw = rk_ll_words(((const rk_envelope *)src)->payload_len, slot);
            if (lane < head_words)
                rk_st_relaxed_sys_u64(wire + lane, flag | w0);
            for (uint32_t w = head_words + lane; w < nw; w += 32)
                rk_st_relaxed_sys_u64(wire + w, flag | src[w]);
        }
#ifdef RK_DEVICE_PROFILE
        if (lane == 0) { /* poll that found the message; the step's work up to its wire stores */
            const uint64_t t2 = (uint64_t)clock64();
            prof_poll += (uint32_t)(prof_t1 - prof_t0);
            prof_take += (uint32_t)(prof_ta - prof_t1);
            prof_handle += (uint32_t)(prof_tb - prof_ta);
            prof_wire += (uint32_t)(t2 - prof_tb);
            rk_st_relaxed_sys_u64(&a->cb->k2k_in, prof_poll | (uint64_t)prof_take << 32);
            rk_st_relaxed_sys_u64(&a->cb->k2k_out, prof_handle | (uint64_t)prof_wire << 32);
            rk_st_relaxed_sys_u64(&a->cb->reserved[0], prof_empty_cycles | (uint64_t)prof_empty << 32);
            rk_st_relaxed_sys_u64(&a->cb->dropped, ++prof_steps); /* profile builds only: steps */
        }
#endif
        /* Bookkeeping, off the round trip. */
        c.k2h_head += replied;
        c.h2k_tail += 1;
        c.msgs_in += 1;
        c.msgs_out += replied;
        c.errors += errs;
        errors_dirty |= errs != 0;
        dirty = 1;
        if (lane == 0) { /* for rk__ll_publish */
            s->clock_physical = clock_physical;
            s->clock_logical = clock_logical;
        }
        if (replied)
            asm volatile("fence.acq_rel.sys;" ::: "memory");
        if (fault) {
            stop = 2;
            break;
        }
        if (c.h2k_tail - published >= h2k_cap / 4) { /* keep the host's H2K credit flowing in a burst */
            __syncwarp();
            if (lane == 0)
                rk__ll_publish(a, &c, errors_dirty);
            published = c.h2k_tail;
            dirty = errors_dirty = 0;
        }
        __syncwarp();
    }
    __syncwarp();
    if (lane == 0) {
        if (stop == 2)
            rk_st_relaxed_sys_u32((uint32_t *)&a->cb->last_error, (uint32_t)(-(int32_t)s->fault));
        rk__ll_publish(a, &c, 1);
        /* L4: release after every wire word and counter above (fence in rk__ll_publish, then release). */
        rk_st_release_sys_u32(&a->cb->state, stop == 2 ? RK_STATE_FAILED : RK_STATE_STOPPED);
        rk__ll_put(&sh->done, 1);
    }
}

/* The low-latency kernel's body: two warps (the host launched 64 threads, cuda_backend.c); arguments, step
 * words, replied bits and both stages in shared memory, requests in the first half of the stage, replies
 * in the second (the host checked the sizes). A kernel of its own so that its bounds leave the loop every
 * register it wants: under the main kernel's 1024-thread bounds it spilled to local memory. An ordered
 * actor needs nothing extra here: one message per step, handled by lane 0. */
__device__ __forceinline__ void rk__device_main_ll(const rk_device_args *ga, rk_device_handler fn)
{
    __shared__ rk_device_args sm_args;
    __shared__ rk_device_step sm_step;
    __shared__ uint8_t sm_replied[RK__MAX_BATCH];
    __shared__ __align__(16) uint8_t sm_stage[RK__SMEM_STAGE];
    __shared__ rk__ll_shared sm_ll;
    if (threadIdx.x == 0) {
        sm_args = *ga;
        sm_args.step = &sm_step;
        sm_args.replied = sm_replied;
        sm_args.stage_small = sm_stage;
        sm_args.reply_stage = sm_stage + RK__SMEM_STAGE / 2;
        sm_ll.ctl = 0;
        sm_ll.progress = 0;
        sm_ll.done = 0;
    }
    __syncthreads();
    if (threadIdx.x < 32)
        rk__device_loop_ll(&sm_args, fn, &sm_ll, &sm_step, sm_stage, sm_stage + RK__SMEM_STAGE / 2);
    else if (threadIdx.x == 32)
        rk__ll_control(&sm_args, &sm_ll);
}

/**
 * The persistent loop around handler `fn`. Every thread of every block runs it; see the header comment for
 * the protocol. Exits when the coordinator decided stop (terminate requested and H2K drained) or on a fault.
 */
__device__ __forceinline__ void rk__device_loop(const rk_device_args *ga, rk_device_handler fn, int ordered)
{
    /* The arguments, and for a one-block kernel the step words and the replied bits, live in shared
     * memory: the coordinator and the handlers touch them several times per step, each a dependent access,
     * and shared memory answers in tens of cycles where device memory takes hundreds. A grid-synchronised
     * kernel keeps them in device memory, which every block can see. */
    __shared__ rk_device_args sm_args;
    __shared__ rk_device_step sm_step;
    __shared__ uint8_t sm_replied[RK__MAX_BATCH];
    __shared__ __align__(16) uint8_t sm_stage[RK__SMEM_STAGE];
    if (threadIdx.x == 0) {
        sm_args = *ga;
        sm_args.stage_small = NULL;
        sm_args.reply_stage = NULL;
        if (!ga->grid_sync && ga->max_batch <= RK__MAX_BATCH) {
            sm_args.step = &sm_step;
            sm_args.replied = sm_replied;
            sm_args.stage_small = sm_stage;
        }
    }
    __syncthreads();
    const rk_device_args *a = &sm_args;
    const int coord = blockIdx.x == 0 && threadIdx.x == 0;
    rk__coord c = {};
    uint64_t beat = 0, last_beat_t = 0;
    uint32_t idle = 0;
#ifdef RK_DEVICE_PROFILE
    uint64_t t0 = 0, t1 = 0, t2 = 0, t3 = 0, p0 = 0, p1 = 0, p2 = 0;
#endif

    if (coord) {
        c.h2k_tail = rk_ld_acquire_sys_u64(&a->h2k->tail);
        c.k2h_head = rk_ld_acquire_sys_u64(&a->k2h->head);
        c.k2h_tail_cache = rk_ld_acquire_sys_u64(&a->k2h->tail);
        a->step->fault = 0;
        a->step->clock_physical = 0;
        a->step->clock_logical = 0;
        a->step->k2k_out = 0; /* shared memory in a one-block kernel: not zeroed by the host */
        rk_st_release_sys_u32(&a->cb->state, RK_STATE_RUNNING);
    }
    for (;;) {
        if (coord) {
            int is_idle = rk__coordinate(a, &c);
            uint64_t now = (uint64_t)clock64(); /* the SM's cycle counter: cheaper than %globaltimer */
            if (now - last_beat_t > 200000) { /* heartbeat every ~100 us: one bus write, not one per poll */
                rk_st_relaxed_sys_u64(&a->cb->heartbeat, ++beat);
                last_beat_t = now;
            }
            if (is_idle && !a->step->stop) {
                if (c.k2k_dirty) /* K2K-only steps ran: their counters reach the host now, off their path */
                    rk__publish_k2k(a, &c);
                idle = idle < 1024 ? idle + 1 : idle;
                if (idle > 64) /* ~50 us of polling first: a busy actor never sleeps */
                    __nanosleep(idle < 128 ? 64 : idle < 512 ? 512 : 4000);
                if ((idle & 7u) == 0) /* an idle kernel sees terminate within 8 polls */
                    c.polls = 0;
            } else {
                idle = 0;
            }
        }
        rk__step_barrier(a); /* B1: the decision is visible to all */
        const uint32_t stop = a->step->stop, n = a->step->n;
        if (stop)
            break;
        if (n == 0) {
            rk__step_barrier(a); /* B1': every read of this step precedes the next step's writes */
            continue;
        }
#ifdef RK_DEVICE_PROFILE
        if (coord)
            t0 = (uint64_t)clock64();
#endif
        rk__stage(a, n);
        rk__step_barrier(a); /* B2: the batch is staged in device memory */
#ifdef RK_DEVICE_PROFILE
        if (coord)
            t1 = (uint64_t)clock64();
#endif
        /* Thread t owns messages t, t + T, t + 2T ... of the batch (T threads in the grid); an ordered
         * actor's batch is owned by thread 0 alone, in queue order (sequential actor semantics). */
        const uint32_t tid = blockIdx.x * blockDim.x + threadIdx.x;
        const uint32_t stride = ordered ? 1 : gridDim.x * blockDim.x;
        const uint32_t first = !ordered ? tid : tid == 0 ? 0 : n;
        uint64_t max_phys = 0;
        uint32_t max_log = 0, end = 0;
        for (uint32_t i = first; i < n; i += stride)
            rk__take(a, i, &max_phys, &max_log);
        rk__warp_max_into((unsigned long long *)&a->step->remote_physical, &a->step->remote_logical, max_phys,
                          max_log);
        rk__step_barrier(a); /* B3: stamps merged, every slot of the batch copied into the stage */
        /* KQ4: the inbox slots of the batch are free again (their copies are staged); each owner releases its
         * own, after B3 ordered every thread's reads of them before this store. */
        for (uint32_t i = first; i < n; i += stride)
            if (i >= a->step->n_h2k) {
                const uint64_t pos = a->step->k2k_head + (i - a->step->n_h2k);
                rk_st_release_gpu_u64(&a->k2k_seq[pos & a->k2k_mask], pos + a->k2k_mask + 1);
            }
        if (coord)
            rk__batch_hlc(a);
        rk__step_barrier(a); /* B4: the batch's HLC is visible */
#ifdef RK_DEVICE_PROFILE
        if (coord)
            t3 = (uint64_t)clock64();
#endif
        for (uint32_t i = first; i < n && !a->step->fault; i += stride) {
            rk_ctx ctx;
            rk__ctx_init(&ctx, a, i, rk__staged(a, i));
            /* The message's own byte (no atomics: one owner per message): rk__fill_gap reads it. */
            if ((a->replied[i] = (uint8_t)rk__handle(a, fn, &ctx)) != 0)
                end = i + 1;
        }
        rk__warp_max_into(NULL, &a->step->reply_end, 0, end);
        rk__step_barrier(a); /* B5: every reply written, every request read, reply_end known */
        for (uint32_t i = first; i < n; i += stride)
            rk__fill_gap(a, i);
        rk__step_barrier(a); /* B6: the K2H run [k2h_base, k2h_base + reply_end) is complete */
#ifdef RK_DEVICE_PROFILE
        if (coord)
            t2 = (uint64_t)clock64();
#endif
        if (coord)
            rk__finish(a, &c); /* a fault makes the next step's decision stop = 2 (rk__coordinate) */
#ifdef RK_DEVICE_PROFILE
        if (coord) {
            /* Phase sums in SM cycles, in the control block's reserved words: stage (B2 included), take +
             * batch HLC (to B4), handle + gaps (to B6). Stores only: no extra bus round trip. */
            p0 += t1 - t0;
            p1 += t3 - t1;
            p2 += t2 - t3;
            rk_st_relaxed_sys_u64(&a->cb->k2k_in, p0); /* profile builds: these words hold phase sums */
            rk_st_relaxed_sys_u64(&a->cb->k2k_out, p1);
            rk_st_relaxed_sys_u64(&a->cb->reserved[0], p2);
        }
#endif
    }
    if (coord) {
        rk__publish_k2k(a, &c);
        rk_st_relaxed_sys_u64(&a->cb->heartbeat, ++beat);
        /* Release: counters and replies above are visible before the host sees the final state. */
        rk_st_release_sys_u32(&a->cb->state, a->step->stop == 2 ? RK_STATE_FAILED : RK_STATE_STOPPED);
    }
}

/* The kernel, launch/occupancy thunks and registration of one GPU actor (see RK_DEVICE_ACTOR). */
#define RK__DEVICE_ACTOR(name, fn, state_size, ordered)                                                  \
    __global__ void __launch_bounds__(1024, 1) rk__actor_kernel_##name(rk_device_args args)              \
    {                                                                                                    \
        rk__device_loop(&args, fn, ordered); /* bounds: any block size up to 1024 must fit the SM */      \
    }                                                                                                    \
    __global__ void __launch_bounds__(64, 1) rk__actor_kernel_ll_##name(rk_device_args args)             \
    {                                                                                                    \
        rk__device_main_ll(&args, fn); /* RK_LAUNCH_LOW_LATENCY: a serving and a control warp */        \
    }                                                                                                    \
    static int rk__actor_launch_##name(const rk_device_args *a, unsigned grid, unsigned block,            \
                                       size_t shmem, int coop, void *stream)                            \
    {                                                                                                    \
        void *params[] = { (void *)a };                                                                  \
        const void *k = a->ll ? (const void *)rk__actor_kernel_ll_##name : (const void *)rk__actor_kernel_##name; \
        if (coop)                                                                                        \
            return (int)cudaLaunchCooperativeKernel(k, dim3(grid), dim3(block), params, shmem,           \
                                                    (cudaStream_t)stream);                              \
        return (int)cudaLaunchKernel(k, dim3(grid), dim3(block), params, shmem, (cudaStream_t)stream);   \
    }                                                                                                    \
    static int rk__actor_occupancy_##name(int *blocks, unsigned block, size_t shmem, int ll)             \
    {                                                                                                    \
        return (int)(ll ? cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, rk__actor_kernel_ll_##name, \
                                                                        (int)block, shmem)              \
                        : cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks, rk__actor_kernel_##name,  \
                                                                        (int)block, shmem));            \
    }                                                                                                    \
    extern "C" int rk__actor_register_##name(void)                                                       \
    {                                                                                                    \
        rk_cuda_actor_def d = { #name, (state_size), 0, rk__actor_launch_##name,                         \
                                rk__actor_occupancy_##name };                                           \
        return rk_cuda_actor_register(&d);                                                               \
    }

/**
 * Defines GPU actor `name` around __device__ handler `fn` with `state_size` bytes of state. The messages
 * of a batch are handled in parallel, one per thread: for stateless handlers or state updated with
 * atomics. Registers it at program start (a static initialiser in this translation unit); in code linked
 * from a static library, call rk__actor_register_<name>() explicitly instead, since the linker drops
 * object files nobody references.
 */
#define RK_DEVICE_ACTOR(name, fn, state_size)                                                            \
    RK__DEVICE_ACTOR(name, fn, state_size, 0)                                                            \
    static int rk__actor_registered_##name = rk__actor_register_##name();

/**
 * Like RK_DEVICE_ACTOR, but one thread handles each batch in queue order: sequential actor semantics for
 * handlers whose state is read and written non-commutatively (a counter that answers "get").
 */
#define RK_DEVICE_ACTOR_ORDERED(name, fn, state_size)                                                    \
    RK__DEVICE_ACTOR(name, fn, state_size, 1)                                                            \
    static int rk__actor_registered_##name = rk__actor_register_##name();

/** The same as the two macros above without the static registration (for libraries). */
#define RK_DEVICE_ACTOR_NOREG(name, fn, state_size, ordered) RK__DEVICE_ACTOR(name, fn, state_size, ordered)

#endif /* RINGKERNEL_DEVICE_CUH */
