/* vulkan_backend.c - the Vulkan backend: ring-kernel actors as host-driven compute dispatches.
 *
 * Vulkan has no portable way for a running shader to wait on host memory (no forward-progress guarantee
 * for a persistent loop, and the CUDA backend's mapped-memory polling has no Vulkan equivalent), so the
 * host drives the loop. Each kernel has one host thread, its dispatcher:
 *
 *     wait for work (notify) --> peek up to RK__VK_MAX_BATCH H2K messages, reserve as many K2H slots -->
 *     copy the messages into the input buffer (host-visible) --> submit the pre-recorded command buffer
 *     (one indirect dispatch sized by the batch) and wait on its fence --> read each message's result
 *     from the output buffer and publish the replies to K2H in request order --> release the H2K slots,
 *     publish the counters --> again, or sleep until notify
 *
 * The queues, the control block and everything runtime.c does are the same as on the other backends; the
 * shader never touches them (rk_vk_abi.h describes the two buffers it does touch).
 *
 * Invariants (cited below as V1..V8):
 *   V1  The dispatcher thread is the kernel side: it alone consumes H2K (SPSC or MPSC: a host thread is the
 *       consumer, so multi-producer kernels need nothing from the device), produces K2H, and writes the
 *       kernel-written control-block words; its private part (queue handles, clock, counters, buffers,
 *       command buffer) is touched by nobody else until release() has joined it.
 *   V2  One reply slot per message: a batch takes only as many H2K messages as K2H slots could be
 *       reserved, so every reply (or error reply) of the batch has its slot, and replies leave in request
 *       order. With K2H full the dispatcher takes nothing and sleeps until the host receives (notify_k2h).
 *   V3  No lost wake-up: `armed` is exchanged by both sides, as `scheduled` in the CPU backend (S3). A
 *       notifier publishes (the queue's release store, or a control flag), then X1: exchange(armed, 1);
 *       on reading 0 it rings the bell (kick under wlock, signal). The dispatcher going to sleep does X2:
 *       exchange(armed, 0), then re-checks for work; read-modify-writes of one word are totally ordered,
 *       so either X1 came first and X2's acquire makes the publication visible to the re-check, or X1
 *       reads 0 and the bell rings (kick is a flag under the mutex, so a ring before the wait counts).
 *       While the dispatcher runs, armed stays 1 and a send costs one exchange.
 *   V4  The host's GPU writes (input buffer, dispatch size) happen before vkQueueSubmit, which makes host
 *       writes to coherent memory visible to the device; the command buffer ends with a barrier from the
 *       compute stage to the host stage, and the host reads the output buffer only after the fence.
 *   V5  The counters and the state are stored with atomics at the end of each pass (heartbeat, msgs_in,
 *       msgs_out, errors, last_error, last HLC); the state moves forward by compare-and-swap so it never
 *       overwrites a FAILED the host wrote after a terminate timed out (K3 in runtime.c), and STOPPED is
 *       stored last, with release, so a host that reads it sees every reply and the final counters.
 *   V6  Drain: the dispatcher stops only after it saw terminate (acquire: every message published before
 *       it is visible) and then found H2K empty with no MPSC slot claimed and unpublished.
 *   V7  Bounded terminate: a pass is one dispatch of at most RK__VK_MAX_BATCH messages, waited for with a
 *       deadline (RK__VK_FENCE_TIMEOUT_NS); a dispatch that misses it, or a lost device, fails the kernel
 *       (FAILED, last_error) instead of hanging the dispatcher.
 *   V8  Release: `quit` (under wlock) and the bell end the dispatcher wherever it sleeps; release() joins
 *       it before freeing anything, so no Vulkan object is destroyed while its fence is pending.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/vulkan/rk_vk_abi.h"
#include "backend/vulkan/vk_context.h"
#include "backend/vulkan/vulkan_internal.h"
#include "core/compute_internal.h"
#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/builtin.h"
#include "ringkernel/message.h"

/** Messages one dispatch handles at most. */
#define RK__VK_MAX_BATCH 256u
/** How long one dispatch may take before the kernel is failed (V7). lavapipe on a loaded 2-core machine
 * compiles nothing here (pipelines are built at launch), so seconds are plenty. */
#define RK__VK_FENCE_TIMEOUT_NS ((int64_t)10 * 1000 * 1000 * 1000)
/** Actor pipelines a runtime keeps (built-in and user actors together); one more launch is RK_ELIMIT. */
#define RK__VK_MAX_PIPES 64

/** An actor's pipeline in a runtime, built on the actor's first launch there. */
typedef struct rk__vk_actor_pipe {
    char name[64];               /* "" = free */
    uint64_t gen;                /* 0: built-in; else the user registration's generation */
    int ordered;                 /* the module's local size is 1 (RK_ORDERED), else 64 */
    rk__vk_pipeline pipe;
} rk__vk_actor_pipe;

typedef struct rk__vk_rt {
    rk__vk_ctx *ctx;
    pthread_mutex_t lock;                        /* guards pipes */
    rk__vk_actor_pipe pipes[RK__VK_MAX_PIPES];
} rk__vk_rt;

/** What the host decided about message i of a batch before the dispatch. */
enum { RK__VK_GPU = 0, RK__VK_NOOP = 1 }; /* or a negative RK_E*: the message failed on the host */

typedef struct rk__vk_kernel {
    /* Read-only after launch. */
    rk_kernel *k;
    rk__vk_rt *vr;
    const rk__vk_actor_pipe *ap;                 /* the actor's pipeline (lives as long as the runtime) */
    const rk__vk_pipeline *pipe;
    int mpsc;
    uint32_t max_batch, slot_size, slot_words, out_words, instances;
    rk__vk_buffer inbuf, outbuf, state, indirect;
    VkDescriptorPool dpool;
    VkDescriptorSet set;
    VkCommandPool cpool;
    VkCommandBuffer cb[2];                       /* [0]: launch-time state fill, [1]: the batch dispatch */
    VkFence fence;
    pthread_t thread;
    int started;                                 /* thread was created */

    /* The dispatcher's own (V1). */
    rk_queue in, out;
    rk_hlc_clock hlc;
    rk_hlc_ts last_ts;
    uint64_t out_seq, msgs_in, msgs_out, errors, heartbeat;
    int32_t last_error;
    int term_seen, paused;
    int32_t verdict[RK__VK_MAX_BATCH];           /* RK__VK_GPU, RK__VK_NOOP or an RK_E* code */

    /* Wake-up (V3, V8). */
    RK_ALIGNAS(RK_CACHE_LINE) _Atomic uint32_t armed;
    pthread_mutex_t wlock;
    pthread_cond_t wcv;                          /* the dispatcher sleeps here */
    pthread_cond_t exit_cv;                      /* wait_stopped sleeps here */
    int kick, exited;                            /* under wlock */
    _Atomic int quit;                            /* written under wlock; read by the dispatcher */
} rk__vk_kernel;

/* ---- Control block (V5) ------------------------------------------------------------------------------- */

static uint32_t rk__vk_state(const rk_kernel *k)
{
    /* Acquire: pairs with the host's CAS to FAILED (runtime.c K3); nothing is read behind it. */
    return atomic_load_explicit(rk__a32(&k->cb->state), memory_order_acquire);
}

static void rk__vk_set_state(rk__vk_kernel *vk, uint32_t to)
{
    _Atomic uint32_t *st = rk__a32(&vk->k->cb->state);
    uint32_t cur = atomic_load_explicit(st, memory_order_relaxed);

    while (cur != RK_STATE_FAILED && cur != RK_STATE_STOPPED) {
        /* Release: pairs with the acquire loads of state in runtime.c: replies and counters published
         * before are visible to whoever reads the new state. */
        if (atomic_compare_exchange_weak_explicit(st, &cur, to, memory_order_release, memory_order_relaxed))
            return;
    }
}

static void rk__vk_publish(rk__vk_kernel *vk)
{
    rk_control_block *cb = vk->k->cb;

    /* Relaxed: statistics; the final values are ordered by the release of STOPPED (V5). */
    atomic_store_explicit(rk__a64(&cb->heartbeat), vk->heartbeat, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->msgs_in), vk->msgs_in, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->msgs_out), vk->msgs_out, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->errors), vk->errors, memory_order_relaxed);
    atomic_store_explicit(rk__ai32(&cb->last_error), vk->last_error, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->last_hlc_physical), vk->last_ts.physical, memory_order_relaxed);
    atomic_store_explicit(rk__a32(&cb->last_hlc_logical), vk->last_ts.logical, memory_order_relaxed);
}

/* Reads terminate and pause and acknowledges them through the state. */
static void rk__vk_control(rk__vk_kernel *vk)
{
    rk_control_block *cb = vk->k->cb;
    /* Acquire: pairs with the release stores in rk__terminate_request() and rk__kernel_set_pause()
     * (runtime.c): messages published before the flag are visible to the peeks that follow (V6). */
    int term = atomic_load_explicit(rk__a32(&cb->terminate), memory_order_acquire) != 0;
    int pause = !term && atomic_load_explicit(rk__a32(&cb->pause), memory_order_acquire) != 0;

    if (term && !vk->term_seen) {
        vk->term_seen = 1;
        rk__vk_set_state(vk, RK_STATE_DRAINING);
    }
    if (pause != vk->paused) {
        vk->paused = pause;
        rk__vk_set_state(vk, pause ? RK_STATE_PAUSED : term ? RK_STATE_DRAINING : RK_STATE_RUNNING);
    }
}

/* ---- Batches ------------------------------------------------------------------------------------------- */

static uint32_t *rk__vk_in_words(rk__vk_kernel *vk) { return vk->inbuf.map; }

/* The input-buffer copy of message i (rk_vk_abi.h). */
static uint8_t *rk__vk_in_slot(rk__vk_kernel *vk, uint32_t i)
{
    return (uint8_t *)(rk__vk_in_words(vk) + RK_VK_IN_HDR_WORDS + vk->max_batch) + (size_t)i * vk->slot_size;
}

static const uint32_t *rk__vk_out_rec(rk__vk_kernel *vk, uint32_t i)
{
    return (const uint32_t *)vk->outbuf.map + (size_t)i * vk->out_words;
}

/* Copies n peeked H2K messages into the input buffer, deciding on the host what the shader need not see.
 * Merges each handled message's stamp into the kernel clock (receive event). Returns how many the shader
 * handles. */
static uint32_t rk__vk_stage(rk__vk_kernel *vk, uint64_t pos, uint32_t n)
{
    uint32_t *w = rk__vk_in_words(vk), *op = w + RK_VK_IN_HDR_WORDS, gpu = 0;

    for (uint32_t i = 0; i < n; i++) {
        const rk_envelope *e = rk_queue_slot(&vk->in, pos + i);
        int rc = rk_envelope_check(e, vk->slot_size);

        vk->verdict[i] = rc != 0                                       ? rc
                         : (e->flags & RK_ENV_SYSTEM)                  ? RK__VK_NOOP /* a withdrawn MPSC slot */
                         : RK_ADDR_INSTANCE(e->dest) >= vk->instances ? RK_ENOENT
                                                                       : RK__VK_GPU;
        op[i] = vk->verdict[i] == RK__VK_GPU;
        if (!op[i])
            continue;
        memcpy(rk__vk_in_slot(vk, i), e, RK_ENVELOPE_SIZE + e->payload_len);
        /* A stamp too far ahead (RK_ECLOCK) is not merged, so one bad clock cannot drag this one forward;
         * the message is still handled and the rejection counted, as on the CPU. */
        if (rk_hlc_update(&vk->hlc, &e->hlc, &vk->last_ts) != 0) {
            vk->errors++;
            vk->last_error = RK_ECLOCK;
        }
        gpu++;
    }
    w[RK_VK_IN_N] = n;
    return gpu;
}

/* Runs the pre-recorded dispatch for a batch of n messages and waits for it (V4, V7). */
static int rk__vk_dispatch(rk__vk_kernel *vk, uint32_t n)
{
    uint32_t *groups = vk->indirect.map;
    int rc;

    groups[0] = vk->ap->ordered ? 1u : (n + 63u) / 64u; /* rk_actor.glsl: local_size_x 1 or 64 */
    groups[1] = 1;
    groups[2] = 1;
    if ((rc = rk__vk_submit(vk->vr->ctx, vk->cb[1], vk->fence)) != 0)
        return rc;
    return rk__vk_fence_wait(vk->vr->ctx, vk->fence, RK__VK_FENCE_TIMEOUT_NS);
}

/* Writes the reply to request e into K2H slot pos: type, flags, payload from src (len bytes). */
static void rk__vk_reply(rk__vk_kernel *vk, const rk_envelope *e, uint64_t pos, uint8_t flags, uint64_t type_id,
                         const void *src, uint32_t len)
{
    rk_envelope *r = rk_queue_slot(&vk->out, pos);

    r->magic = RK_ENVELOPE_MAGIC;
    r->version = RK_ABI_VERSION;
    r->flags = flags;
    r->payload_len = len;
    r->type_id = type_id;
    r->correlation_id = e->correlation_id;
    r->source = RK_ADDR(vk->k->id, RK_ADDR_INSTANCE(e->dest));
    r->dest = e->source;
    (void)rk_hlc_now(&vk->hlc, &r->hlc); /* after every merge of the batch: later than each request */
    vk->last_ts = r->hlc;
    r->seq = ++vk->out_seq;
    if (len > 0)
        memcpy(rk_envelope_payload(r), src, len);
}

/* Turns the results of a batch into replies, in request order, from K2H slot opos on (V2). Returns how many
 * slots were written. */
static uint32_t rk__vk_collect(rk__vk_kernel *vk, uint64_t ipos, uint64_t opos, uint32_t n)
{
    uint32_t j = 0, payload_max = rk_payload_max(vk->slot_size);

    for (uint32_t i = 0; i < n; i++) {
        const rk_envelope *e = rk_queue_slot(&vk->in, ipos + i);
        const uint32_t *rec = rk__vk_out_rec(vk, i);
        int32_t rc = vk->verdict[i];
        int replied = 0;

        if (rc == RK__VK_NOOP)
            continue;
        if (rc == RK__VK_GPU) {
            rc = (int32_t)rec[RK_VK_OUT_RC];
            replied = rec[RK_VK_OUT_REPLIED] == 1u;
            if (replied && rec[RK_VK_OUT_LEN] > payload_max) { /* a shader bug: never copy past the slot */
                replied = 0;
                rc = RK_EMSGSIZE;
            }
        }
        if (rc < 0) {
            vk->errors++;
            vk->last_error = rc;
        }
        if (replied) {
            uint64_t type = (uint64_t)rec[RK_VK_OUT_TYPE] | (uint64_t)rec[RK_VK_OUT_TYPE + 1] << 32;

            rk__vk_reply(vk, e, opos + j++, RK_ENV_REPLY, type, rec + RK_VK_OUT_HDR_WORDS, rec[RK_VK_OUT_LEN]);
        } else if (rc < 0 && (e->flags & RK_ENV_REQUEST)) {
            rk__vk_reply(vk, e, opos + j++, RK_ENV_REPLY | RK_ENV_ERROR, e->type_id, &rc, sizeof rc);
        }
    }
    return j;
}

static void rk__vk_release_in(rk__vk_kernel *vk, uint32_t n)
{
    if (vk->mpsc)
        (void)rk_queue_release_mpsc(&vk->in, n); /* R4 in queue.c: the slots go back to the senders */
    else
        (void)rk_queue_release_spsc(&vk->in, n); /* R2 in queue.c */
    vk->msgs_in += n;
}

/* One batch. Returns the number of H2K messages consumed (0: none, or K2H full), or an RK_E* fault. */
static int rk__vk_batch(rk__vk_kernel *vk)
{
    uint64_t ipos, opos;
    uint32_t j;
    int n, r, rc;

    n = vk->mpsc ? rk_queue_peek_mpsc(&vk->in, vk->max_batch, &ipos)
                 : rk_queue_peek_spsc(&vk->in, vk->max_batch, &ipos);
    if (n <= 0)
        return 0; /* RK_EAGAIN: empty */
    if ((r = rk_queue_reserve_spsc(&vk->out, (uint32_t)n, &opos)) <= 0) {
        rk__vk_release_in(vk, 0); /* closes the peek; V2: nothing is taken while K2H is full */
        return 0;
    }
    n = r < n ? r : n;
    if (rk__vk_stage(vk, ipos, (uint32_t)n) > 0 && (rc = rk__vk_dispatch(vk, (uint32_t)n)) != 0) {
        (void)rk_queue_commit_spsc(&vk->out, 0);
        rk__vk_release_in(vk, 0);
        return rc;
    }
    j = rk__vk_collect(vk, ipos, opos, (uint32_t)n);
    (void)rk_queue_commit_spsc(&vk->out, j); /* R1 in queue.c: the host sees whole replies */
    vk->msgs_out += j;
    rk__vk_release_in(vk, (uint32_t)n);
    return n;
}

/* ---- The dispatcher ------------------------------------------------------------------------------------ */

/* 1 if H2K has a published message at the consumer's position (for MPSC: its slot's sequence number says
 * so, queue.c; a claimed slot not yet published does not count, its commit notifies). */
static int rk__vk_in_ready(const rk__vk_kernel *vk)
{
    const rk_queue *q = &vk->in;

    /* Relaxed: ordered after X2 (V3); the peek that consumes the slot acquires it (A2/A4 in queue.c). */
    if (q->seq != NULL)
        return atomic_load_explicit(&q->seq[q->c_tail & q->mask], memory_order_relaxed) == q->c_tail + 1;
    return atomic_load_explicit(rk__a64(&q->hdr->head), memory_order_relaxed) != q->c_tail;
}

/* V6: H2K is empty and no producer holds a claimed MPSC slot (its commit publishes a message or a no-op). */
static int rk__vk_drained(const rk__vk_kernel *vk)
{
    if (rk__vk_in_ready(vk))
        return 0;
    return !vk->mpsc || atomic_load_explicit(rk__a64(&vk->in.hdr->head), memory_order_relaxed) == vk->in.c_tail;
}

/* Whether a pass would do something now: a control flag changed, or a message can be handled. */
static int rk__vk_has_work(const rk__vk_kernel *vk)
{
    const rk_control_block *cb = vk->k->cb;
    /* Relaxed: after X2's acquire (V3); rk__vk_control() re-reads them with acquire. */
    int term = atomic_load_explicit(rk__a32((uint32_t *)&cb->terminate), memory_order_relaxed) != 0;
    int pause = !term && atomic_load_explicit(rk__a32((uint32_t *)&cb->pause), memory_order_relaxed) != 0;

    if (term != vk->term_seen || pause != vk->paused)
        return 1;
    if (pause)
        return 0;
    return rk__vk_in_ready(vk) && rk_queue_size(&vk->out) < rk_queue_capacity(&vk->out);
}

/* Sleeps until a notifier rings (V3) or release asks the dispatcher to quit (V8). */
static void rk__vk_sleep(rk__vk_kernel *vk)
{
    /* X2 (V3), pairs with X1 in rk__vk_notify(). Acquire: a publication that preceded X1 is visible to the
     * re-check. Release: orders nothing the notifier reads; the exchange is what matters. */
    (void)atomic_exchange_explicit(&vk->armed, 0, memory_order_acq_rel);
    if (rk__vk_has_work(vk) || atomic_load_explicit(&vk->quit, memory_order_relaxed)) {
        /* Work after all. If a notifier meanwhile read 0 it rings anyway: one spurious pass later. */
        (void)atomic_exchange_explicit(&vk->armed, 1, memory_order_acq_rel);
        return;
    }
    pthread_mutex_lock(&vk->wlock);
    while (!vk->kick && !atomic_load_explicit(&vk->quit, memory_order_relaxed))
        pthread_cond_wait(&vk->wcv, &vk->wlock);
    vk->kick = 0;
    pthread_mutex_unlock(&vk->wlock);
}

static void *rk__vk_dispatcher(void *arg)
{
    rk__vk_kernel *vk = arg;
    int n;

    rk__vk_set_state(vk, RK_STATE_RUNNING);
    for (;;) {
        if (atomic_load_explicit(&vk->quit, memory_order_relaxed) || rk__vk_state(vk->k) == RK_STATE_FAILED)
            break; /* release (V8), or the host gave up on it (K3) */
        rk__vk_control(vk);
        vk->heartbeat++;
        n = vk->paused ? 0 : rk__vk_batch(vk);
        if (n < 0) { /* V7: a dispatch failed or timed out; the detail stays in this thread's last error */
            vk->last_error = n;
            rk__vk_publish(vk);
            rk__vk_set_state(vk, RK_STATE_FAILED);
            break;
        }
        rk__vk_publish(vk);
        if (n > 0)
            continue;
        if (vk->term_seen && rk__vk_drained(vk)) {
            rk__vk_set_state(vk, RK_STATE_STOPPED); /* V5: last */
            break;
        }
        rk__vk_sleep(vk);
    }
    pthread_mutex_lock(&vk->wlock);
    vk->exited = 1;
    pthread_cond_broadcast(&vk->exit_cv);
    pthread_mutex_unlock(&vk->wlock);
    return NULL;
}

/* Rings the bell: wakes the dispatcher if it sleeps or is about to (V3). */
static void rk__vk_ring(rk__vk_kernel *vk)
{
    pthread_mutex_lock(&vk->wlock);
    vk->kick = 1;
    pthread_cond_signal(&vk->wcv);
    pthread_mutex_unlock(&vk->wlock);
}

static void rk__vk_notify(rk_kernel *k)
{
    rk__vk_kernel *vk = k->backend_data;

    /* X1 (V3), pairs with X2 in rk__vk_sleep(). Release: the publication before it (R1/R3 in queue.c, a
     * control flag) reaches the dispatcher whose X2 reads this 1. */
    if (atomic_exchange_explicit(&vk->armed, 1, memory_order_acq_rel) == 0)
        rk__vk_ring(vk);
}

/* ---- Kernels ------------------------------------------------------------------------------------------- */

/* The actor a launch of `name` runs: the user's Vulkan registration if there is one (it shadows a
 * built-in of the same name), else a built-in. out->spirv is the caller's to free when *owned. */
static int rk__vk_actor_resolve(const char *name, rk__vulkan_actor *out, int *owned)
{
    const rk__vk_actor_def *b;
    int n, rc = rk__vulkan_actor_resolve(name, out);

    *owned = rc == 0;
    if (rc != RK_ENOENT)
        return rc;
    b = rk__vk_actors(&n);
    for (int i = 0; i < n; i++) {
        if (strcmp(b[i].name, name) == 0) {
            *out = (rk__vulkan_actor){ .spirv = (uint32_t *)b[i].spirv, .words = *b[i].words,
                                       .state_size = b[i].state_size, .gen = 0 };
            return 0;
        }
    }
    return rk__err(RK_ENOENT, "rk_kernel_launch: no Vulkan actor named '%s' (register one with "
                              "rk_vulkan_actor_register; the built-ins are echo and counter)", name);
}

/* The runtime's pipeline for actor (name, a), built on first use. A module is checked before the driver
 * sees it: a GLCompute "main", the prelude's local size (64, or 1 with RK_ORDERED), and the device
 * features its capabilities need. */
static int rk__vk_pipeline_get(rk__vk_rt *vr, const char *name, const rk__vulkan_actor *a,
                               const rk__vk_actor_pipe **out)
{
    rk__vk_actor_pipe *p = NULL, *free_p = NULL;
    rk__vk_spirv_info si;
    char what[128];
    int rc = 0;

    pthread_mutex_lock(&vr->lock);
    for (int i = 0; i < RK__VK_MAX_PIPES && p == NULL; i++) {
        if (vr->pipes[i].name[0] == '\0')
            free_p = free_p != NULL ? free_p : &vr->pipes[i];
        else if (vr->pipes[i].gen == a->gen && strcmp(vr->pipes[i].name, name) == 0)
            p = &vr->pipes[i];
    }
    if (p != NULL)
        goto out;
    snprintf(what, sizeof what, "rk_kernel_launch: Vulkan actor '%.63s'", name);
    if (free_p == NULL) {
        rc = rk__err(RK_ELIMIT, "%s: the runtime holds %d actor pipelines already", what, RK__VK_MAX_PIPES);
        goto out;
    }
    if ((rc = rk__vk_spirv_inspect(a->spirv, a->words, &si)) != 0) {
        rc = rk__err(rc, "%s: %s", what, rk_last_error());
        goto out;
    }
    if (!((si.local_size[0] == 64 || si.local_size[0] == 1) && si.local_size[1] == 1 && si.local_size[2] == 1)) {
        rc = rk__err(RK_EINVAL, "%s: local size %u x %u x %u; an actor is built on rk_actor.glsl, whose local "
                     "size is 64 x 1 x 1 (1 x 1 x 1 with RK_ORDERED)", what, si.local_size[0], si.local_size[1],
                     si.local_size[2]);
        goto out;
    }
    if ((rc = rk__vk_spirv_check(vr->ctx, &si, what)) != 0 ||
        (rc = rk__vk_pipeline_create(vr->ctx, a->spirv, a->words, 3, 0, &free_p->pipe)) != 0)
        goto out;
    p = free_p;
    rk__strlcpy(p->name, name, sizeof p->name);
    p->gen = a->gen;
    p->ordered = si.local_size[0] == 1;
out:
    pthread_mutex_unlock(&vr->lock);
    *out = p;
    return rc;
}

/* Frees whatever part of a kernel exists (launch's failure path and release). Vulkan's destroy calls
 * accept null handles. */
static void rk__vk_kernel_free(rk__vk_kernel *vk)
{
    rk__vk_ctx *c = vk->vr->ctx;

    c->vkDestroyFence(c->device, vk->fence, NULL);
    c->vkDestroyCommandPool(c->device, vk->cpool, NULL); /* frees the command buffers */
    c->vkDestroyDescriptorPool(c->device, vk->dpool, NULL);
    rk__vk_buffer_destroy(c, &vk->indirect);
    rk__vk_buffer_destroy(c, &vk->state);
    rk__vk_buffer_destroy(c, &vk->outbuf);
    rk__vk_buffer_destroy(c, &vk->inbuf);
    pthread_cond_destroy(&vk->exit_cv);
    pthread_cond_destroy(&vk->wcv);
    pthread_mutex_destroy(&vk->wlock);
    free(vk);
}

/* Buffers and the descriptor set: input, output, state (rk_vk_abi.h), and the indirect dispatch size. */
static int rk__vk_kernel_buffers(rk__vk_kernel *vk, uint32_t state_stride)
{
    rk__vk_ctx *c = vk->vr->ctx;
    rk__vk_buffer *bind[3] = { &vk->inbuf, &vk->outbuf, &vk->state };
    size_t in_size = (RK_VK_IN_HDR_WORDS + vk->max_batch) * 4u + (size_t)vk->max_batch * vk->slot_size;
    size_t state_size = (size_t)state_stride * vk->instances;
    VkDescriptorPoolSize ps = { .type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 3 };
    VkDescriptorPoolCreateInfo dpi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                       .poolSizeCount = 1, .pPoolSizes = &ps };
    VkDescriptorSetAllocateInfo dsi = { .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                        .descriptorSetCount = 1, .pSetLayouts = &vk->pipe->dsl };
    uint32_t *w;
    int rc;

    if ((rc = rk__vk_buffer_create(c, in_size, RK__VK_MEM_HOST, 0, &vk->inbuf)) != 0 ||
        (rc = rk__vk_buffer_create(c, (size_t)vk->max_batch * vk->out_words * 4u, RK__VK_MEM_HOST, 0, &vk->outbuf)) ||
        (rc = rk__vk_buffer_create(c, state_size > 16 ? state_size : 16, RK__VK_MEM_DEVICE, 0, &vk->state)) ||
        (rc = rk__vk_buffer_create(c, 3 * sizeof(uint32_t), RK__VK_MEM_HOST, VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT,
                                   &vk->indirect)))
        return rc;
    w = rk__vk_in_words(vk);
    memset(w, 0, RK_VK_IN_HDR_WORDS * 4u);
    w[RK_VK_IN_SLOT_WORDS] = vk->slot_words;
    w[RK_VK_IN_STATE_WORDS] = state_stride / 4u;
    w[RK_VK_IN_INSTANCES] = vk->instances;
    w[RK_VK_IN_MAX_BATCH] = vk->max_batch;
    w[RK_VK_IN_OUT_WORDS] = vk->out_words;
    RK__VK_CHECK(c->vkCreateDescriptorPool(c->device, &dpi, NULL, &vk->dpool), out);
    dsi.descriptorPool = vk->dpool;
    RK__VK_CHECK(c->vkAllocateDescriptorSets(c->device, &dsi, &vk->set), out);
    rk__vk_bind(c, vk->set, bind, 3);
out:
    return rc;
}

/* Records the two command buffers: the state fill (run once, now) and the batch dispatch (V4). */
static int rk__vk_kernel_commands(rk__vk_kernel *vk)
{
    rk__vk_ctx *c = vk->vr->ctx;
    VkCommandPoolCreateInfo cpi = { .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .queueFamilyIndex = c->queue_family };
    VkCommandBufferAllocateInfo cbi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 2 };
    VkCommandBufferBeginInfo bi = { .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO };
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
    VkMemoryBarrier to_host = { .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                                .dstAccessMask = VK_ACCESS_HOST_READ_BIT };
    int rc;

    RK__VK_CHECK(c->vkCreateCommandPool(c->device, &cpi, NULL, &vk->cpool), out);
    cbi.commandPool = vk->cpool;
    RK__VK_CHECK(c->vkAllocateCommandBuffers(c->device, &cbi, vk->cb), out);
    RK__VK_CHECK(c->vkCreateFence(c->device, &fi, NULL, &vk->fence), out);

    /* The state starts zeroed (as on the other backends); device-local memory needs a command for it. The
     * submission order puts it before every dispatch, and the fence below waits for it anyway. */
    RK__VK_CHECK(c->vkBeginCommandBuffer(vk->cb[0], &bi), out);
    c->vkCmdFillBuffer(vk->cb[0], vk->state.buf, 0, VK_WHOLE_SIZE, 0);
    RK__VK_CHECK(c->vkEndCommandBuffer(vk->cb[0]), out);
    if ((rc = rk__vk_submit(c, vk->cb[0], vk->fence)) != 0 ||
        (rc = rk__vk_fence_wait(c, vk->fence, RK__VK_FENCE_TIMEOUT_NS)) != 0)
        goto out;

    /* The batch: reused for every batch (never simultaneously: the dispatcher waits for its fence). */
    RK__VK_CHECK(c->vkBeginCommandBuffer(vk->cb[1], &bi), out);
    c->vkCmdBindPipeline(vk->cb[1], VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipe->pipe);
    c->vkCmdBindDescriptorSets(vk->cb[1], VK_PIPELINE_BIND_POINT_COMPUTE, vk->pipe->layout, 0, 1, &vk->set, 0, NULL);
    c->vkCmdDispatchIndirect(vk->cb[1], vk->indirect.buf, 0);
    c->vkCmdPipelineBarrier(vk->cb[1], VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                            &to_host, 0, NULL, 0, NULL);
    RK__VK_CHECK(c->vkEndCommandBuffer(vk->cb[1]), out);
    /* One empty batch (zero groups) now: a driver that rejects the command buffer fails the launch rather
     * than the first message, and the first real batch does not pay for the driver's first-use work. */
    rk__vk_in_words(vk)[RK_VK_IN_N] = 0;
    memset(vk->indirect.map, 0, 3 * sizeof(uint32_t));
    if ((rc = rk__vk_submit(c, vk->cb[1], vk->fence)) == 0)
        rc = rk__vk_fence_wait(c, vk->fence, RK__VK_FENCE_TIMEOUT_NS);
out:
    return rc;
}

static int rk__vk_launch(rk_runtime *rt, rk_kernel *k)
{
    rk__vk_rt *vr = rt->backend_data;
    rk__vulkan_actor a;
    const rk__vk_actor_pipe *ap;
    rk__vk_kernel *vk;
    pthread_condattr_t ca;
    uint32_t state_size, stride;
    int owned = 0, rc, err;

    if ((rc = rk__vk_actor_resolve(k->name, &a, &owned)) != 0)
        return rc;
    rc = rk__vk_pipeline_get(vr, k->name, &a, &ap);
    if (owned)
        free(a.spirv); /* the pipeline holds what it needs */
    if (rc != 0)
        return rc;
    state_size = k->opts.state_size ? k->opts.state_size : a.state_size;
    if (state_size < a.state_size)
        return rk__err(RK_EINVAL, "rk_kernel_launch: state_size %u is smaller than actor '%s' needs (%u)", state_size,
                       k->name, a.state_size);
    stride = (uint32_t)rk__align_up(state_size, 16);
    if (stride < state_size || (uint64_t)stride * k->opts.instances > ((uint64_t)1 << 31))
        return rk__err(RK_ELIMIT, "rk_kernel_launch: %u instances of %u bytes of state exceed 2 GiB",
                       k->opts.instances, state_size);
    vk = rk__aligned_zalloc(RK_CACHE_LINE, sizeof *vk);
    if (vk == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate the Vulkan kernel");
    vk->k = k;
    vk->vr = vr;
    vk->ap = ap;
    vk->pipe = &ap->pipe;
    pthread_mutex_init(&vk->wlock, NULL);
    pthread_cond_init(&vk->wcv, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* wait_stopped's deadline is monotonic */
    pthread_cond_init(&vk->exit_cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&vk->armed, 1); /* the dispatcher starts running (V3) */
    atomic_init(&vk->quit, 0);
    /* The core formatted both queues; these are the kernel side's own handles (the host has its own). */
    if ((rc = rk_queue_attach(&vk->in, (uint8_t *)k->region + k->cb->h2k_offset,
                              k->cb->k2h_offset - k->cb->h2k_offset)) != 0 ||
        (rc = rk_queue_attach(&vk->out, (uint8_t *)k->region + k->cb->k2h_offset,
                              k->region_size - k->cb->k2h_offset)) != 0)
        goto fail;
    vk->mpsc = (k->opts.flags & RK_LAUNCH_MULTI_PRODUCER) != 0;
    vk->instances = k->opts.instances;
    vk->slot_size = k->opts.slot_size;
    vk->slot_words = vk->slot_size / 4u;
    vk->out_words = RK_VK_OUT_HDR_WORDS + rk_payload_max(vk->slot_size) / 4u;
    vk->max_batch = k->opts.queue_capacity < RK__VK_MAX_BATCH ? k->opts.queue_capacity : RK__VK_MAX_BATCH;
    if ((rc = rk__vk_kernel_buffers(vk, stride)) != 0 || (rc = rk__vk_kernel_commands(vk)) != 0)
        goto fail;
    (void)rk_hlc_init(&vk->hlc, k->id, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    /* Every reply is stamped: the coarse clock, as the host's and the CPU actors' (runtime.c). */
    (void)rk_hlc_set_physical(&vk->hlc, rk_hlc_physical_coarse, NULL);
    k->backend_data = vk;
    if ((err = pthread_create(&vk->thread, NULL, rk__vk_dispatcher, vk)) != 0) {
        k->backend_data = NULL;
        rc = rk__err(err == EAGAIN ? RK_ELIMIT : RK_EBACKEND, "rk_kernel_launch: cannot start the dispatcher "
                     "thread: %s", strerror(err));
        goto fail;
    }
    vk->started = 1;
    return 0;

fail:
    rk__vk_kernel_free(vk);
    return rc;
}

static int rk__vk_wait_stopped(rk_kernel *k, int64_t timeout_ns)
{
    rk__vk_kernel *vk = k->backend_data;
    int64_t now = rk_monotonic_ns();
    /* A negative timeout is RK_TIMEOUT_INFINITE; one too large to add is as good as infinite. */
    int64_t deadline = timeout_ns < 0 || timeout_ns > INT64_MAX - now ? INT64_MAX : now + timeout_ns;
    struct timespec ts = { .tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000 };
    int rc = 0;

    pthread_mutex_lock(&vk->wlock);
    while (!vk->exited && rc != ETIMEDOUT)
        rc = deadline == INT64_MAX ? pthread_cond_wait(&vk->exit_cv, &vk->wlock)
                                   : pthread_cond_timedwait(&vk->exit_cv, &vk->wlock, &ts);
    rc = vk->exited;
    pthread_mutex_unlock(&vk->wlock);
    if (!rc)
        return rk__err(RK_ENOTRESPONDING, "kernel %u ('%s') did not stop within %lld ns (heartbeat %llu)", k->id,
                       k->name, (long long)timeout_ns,
                       (unsigned long long)atomic_load_explicit(rk__a64(&k->cb->heartbeat), memory_order_relaxed));
    return 0;
}

static void rk__vk_release(rk_kernel *k)
{
    rk__vk_kernel *vk = k->backend_data;

    if (vk == NULL)
        return;
    /* V8: a dispatcher that did not stop (terminate timed out while K2H stayed full) sleeps or finishes its
     * dispatch (V7); quit ends it either way. */
    pthread_mutex_lock(&vk->wlock);
    atomic_store_explicit(&vk->quit, 1, memory_order_relaxed); /* relaxed: the mutex orders it */
    vk->kick = 1;
    pthread_cond_signal(&vk->wcv);
    pthread_mutex_unlock(&vk->wlock);
    if (vk->started)
        pthread_join(vk->thread, NULL);
    rk__vk_kernel_free(vk);
    k->backend_data = NULL;
}

/* ---- Runtime ------------------------------------------------------------------------------------------- */

static int rk__vk_probe(rk_backend_status *st)
{
    rk__vk_device_desc d[RK__VK_MAX_DEVICES];
    const char *why = NULL;
    int n = rk__vk_devices(d, RK__VK_MAX_DEVICES, &why);

    st->available = n > 0;
    st->device_count = n > 0 ? n : 0;
    if (n <= 0)
        snprintf(st->reason, sizeof st->reason, "%s", why != NULL ? why : "no Vulkan device");
    else
        snprintf(st->reason, sizeof st->reason, "%d Vulkan device%s; device 0: %.120s (%s, %.60s)", n,
                 n == 1 ? "" : "s", d[0].name, rk__vk_type_name(d[0].type), d[0].driver);
    return 0;
}

static int rk__vk_devices_op(rk_device_info *out, int max)
{
    rk__vk_device_desc d[RK__VK_MAX_DEVICES];
    int n = rk__vk_devices(d, RK__VK_MAX_DEVICES, NULL);

    for (int i = 0; i < n && i < max; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].backend = RK_BACKEND_VULKAN;
        out[i].index = i;
        /* rk_device_info has no type field: the name carries it ("llvmpipe (...) [CPU]"). */
        snprintf(out[i].name, sizeof out[i].name, "%.100s [%s]", d[i].name, rk__vk_type_name(d[i].type));
        out[i].memory_bytes = d[i].memory_bytes;
        rk__strlcpy(out[i].driver, d[i].driver, sizeof out[i].driver);
    }
    return n < 0 ? 0 : n < max ? n : max;
}

/* AUTO picks Vulkan only for a GPU: a CPU implementation (lavapipe) runs the actors slower than the CPU
 * backend does, and hosts fewer of them. It is still there when asked for by name. */
static int rk__vk_auto_ok(void)
{
    rk__vk_device_desc d;

    return rk__vk_devices(&d, 1, NULL) == 1 && d.type != VK_PHYSICAL_DEVICE_TYPE_CPU;
}

static int rk__vk_init(rk_runtime *rt)
{
    rk__vk_ctx_opts o = { .device = rt->opts.device };
    rk__vk_rt *vr;
    int rc;

    if (rk_type_id("counter_add") != ((uint64_t)RK_VK_COUNTER_ADD_HI << 32 | RK_VK_COUNTER_ADD_LO) ||
        rk_type_id("counter_get") != ((uint64_t)RK_VK_COUNTER_GET_HI << 32 | RK_VK_COUNTER_GET_LO))
        return rk__err(RK_EABI, "Vulkan backend: built-in type ids disagree with rk_type_id()");
    vr = calloc(1, sizeof *vr);
    if (vr == NULL)
        return rk__err(RK_ENOMEM, "Vulkan backend: out of memory");
    if ((rc = rk__vk_ctx_create(&vr->ctx, &o)) != 0)
        goto fail_ctx;
    if (pthread_mutex_init(&vr->lock, NULL) != 0) {
        rc = rk__err(RK_ENOMEM, "Vulkan backend: cannot initialise a mutex");
        goto fail_lock;
    }
    rt->backend_data = vr;
    return 0;

fail_lock:
    rk__vk_ctx_destroy(vr->ctx);
fail_ctx:
    free(vr);
    return rc;
}

rk__vk_ctx *rk__vk_runtime_ctx(rk_runtime *rt) { return ((rk__vk_rt *)rt->backend_data)->ctx; }

static void rk__vk_destroy(rk_runtime *rt)
{
    rk__vk_rt *vr = rt->backend_data;

    if (vr == NULL)
        return;
    rk__vk_compute_destroy(rt); /* the core freed the programs and buffers already */
    for (int i = 0; i < RK__VK_MAX_PIPES; i++)
        rk__vk_pipeline_destroy(vr->ctx, &vr->pipes[i].pipe);
    rk__vk_ctx_destroy(vr->ctx); /* writes the pipeline cache file */
    pthread_mutex_destroy(&vr->lock);
    free(vr);
    rt->backend_data = NULL;
}

/* Kernel regions are ordinary host memory: the dispatcher copies each batch into the device's buffers. */
const rk_backend_ops rk__vulkan_backend_ops = {
    .kind = RK_BACKEND_VULKAN,
    .name = "vulkan",
    .probe = rk__vk_probe,
    .devices = rk__vk_devices_op,
    .auto_ok = rk__vk_auto_ok,
    .init = rk__vk_init,
    .destroy = rk__vk_destroy,
    .region_alloc = rk__heap_region_alloc,
    .region_free = rk__heap_region_free,
    .launch = rk__vk_launch,
    .notify = rk__vk_notify,
    .notify_k2h = rk__vk_notify,
    .wait_stopped = rk__vk_wait_stopped,
    .poll = NULL,
    .release = rk__vk_release,
    .publish = NULL,
    .compute = &rk__vk_compute_ops,
};
