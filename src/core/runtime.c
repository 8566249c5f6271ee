/* runtime.c - runtimes, kernels and host <-> kernel messaging (runtime.h): everything the host does.
 *
 * A backend (rk_backend_ops, chosen in backend.c) runs the kernels; this file owns the handles, the kernel
 * memory layout, H2K publication, K2H consumption, HLC stamping, terminate requests and statistics.
 *
 * Kernel lifecycle as the host sees it:
 *
 *     launch --> RUNNING --terminate: closing = 1 (K1), wait in-flight sends, cb->terminate = 1, notify-->
 *                DRAINING --kernel drained H2K--> STOPPED --on_stop (K2)--> released by rk_runtime_destroy
 *                                  \--terminate deadline passed: host CAS to FAILED (K3)
 *
 * Invariants (cited below as K1..K7):
 *   K1  Sends against terminate (a Dekker pair on two host words): a send raises `inflight` (a flag for
 *       SPSC kernels, whose sends come from one thread at a time; a count for MPSC), then
 *       loads `closing` (both seq_cst); terminate sets `closing`, then waits until `inflight` is 0 (both
 *       seq_cst) before it stores cb->terminate. Either the send sees `closing` and fails with RK_ECLOSED,
 *       or terminate waits for its publication; so every message a send reported as queued was published
 *       before the kernel could see terminate, and the kernel's drain processes it. A sender waiting for
 *       room re-checks `closing` every round, so terminate never waits long.
 *   K2  `closing` goes 0 -> 1 once (the second terminate gets RK_ECLOSED); `stop_reported` goes 0 -> 1
 *       once, so on_stop runs exactly once per kernel, from terminate or from destroy.
 *   K3  The host writes only these control-block words: everything before launch (INITIALIZING), then
 *       `terminate` (release), then FAILED by compare-and-swap when a terminate deadline passed. Counters
 *       and the state are read field by field with atomic loads; the block is never copied or written back.
 *   K4  Every H2K publication and every terminate request is followed by ops->notify; every K2H
 *       consumption by ops->notify_k2h (backends that do not poll rely on both; see cpu_backend.c S3/S4).
 *   K5  Every message the host receives has its HLC stamp merged into the runtime's clock before the call
 *       returns, so the host clock is never behind anything it has seen. A stamp beyond the clock's max
 *       offset (RK_ECLOCK) is not merged; the message is still delivered (its contents are not at fault),
 *       and the host clock stays where it was.
 *   K6  K2K sends against terminate, as K1 with `k2k_inflight` (a count: many kernels send into one inbox):
 *       a K2K sender (cpu_backend.c) raises the destination's `k2k_inflight`, then loads its `closing`
 *       (both seq_cst), and lowers the count (release) only after it published the message and woke the
 *       destination. Terminate waits for both `inflight` and `k2k_inflight` to be 0 before it stores
 *       cb->terminate, so every K2K message a send reported as queued is in the inbox before the kernel can
 *       see terminate, and the drain handles it. The destination kernel stays allocated until every handler
 *       stopped (rk_runtime_destroy releases all kernels before it frees any), so a sender that looked it up
 *       may touch its rk_kernel even while it stops.
 *   K7  Concurrent rk_call (request/reply). K2H has one consumer at a time: the caller holding the drain
 *       role (`call_draining` 0 -> 1 by compare-and-swap; giving it up is a seq_cst store, so each
 *       drainer's use of the K2H handle happens before the next one's). Every other caller is linked in the
 *       kernel's table (`call_table`, under `call_lock`, at most RK_CALL_MAX_PENDING entries, each on its
 *       caller's stack) before it sends, so whoever drains its reply finds it; the drainer copies the reply
 *       into the caller's rk_msg, unlinks the entry and signals the caller's condition variable, all under
 *       `call_lock` (the caller destroys the variable only after it took the lock back, so no signal can
 *       touch it afterwards). A drained message with no linked entry (a timed-out call's reply, plain
 *       rk_send traffic) is dropped and counted in host_dropped; a caller that gives up unlinks itself
 *       under the lock first, so its reply can only be dropped, never handed to anyone else. No lost
 *       drainer: a linked caller increments `call_pending` and later loads `call_draining`; a drainer that
 *       leaves stores `call_draining = 0` and then loads `call_pending` (all seq_cst, a Dekker pair). Either
 *       the caller sees the role free and takes it, or the drainer sees it pending and wakes a sleeping
 *       linked caller under the lock (one that is still sending checks the role itself when it starts to
 *       wait). A drainer never waits for H2K room without draining (a CPU kernel that waits for K2H room
 *       takes no more requests), so the caller that blocks in a send never holds the role.
 *
 *   L1  Low-latency kernels (RK_LAUNCH_LOW_LATENCY on a backend with ops->low_latency; abi.h describes the
 *       LL encoding): the queue handles keep their ring logic (reserve/commit, peek/release, the headers'
 *       head and tail) but point at host-private shadow slots; only the region's wire slots cross the bus.
 *   L2  H2K: rk__h2k_publish encodes the committed shadow slots onto the wire (relaxed 8-byte stores,
 *       flag = position + 1) before the header's head store; the kernel reads the wire only and hands
 *       slots back through the header's tail, whose acquire in rk_queue_reserve_spsc pairs with the
 *       kernel's fence (F2 in device.cuh) as for plain queues.
 *   L3  K2H: the host owns the K2H header's head. rk__ll_pull decodes the wire slots whose words all carry
 *       their flag, in order, into the shadow ring and advances head itself; the kernel never writes head
 *       and reads tail (written by rk_queue_release_spsc, release) before it reuses a slot.
 *   L4  The kernel's last store is the state (STOPPED/FAILED, release after a system fence), after every
 *       wire word it wrote: a pull after the state was seen (acquire) sees every reply.
 *
 *           rk_call --role free (CAS)--> send, draining while H2K is full --> DRAIN until own reply or
 *              |                                                                  deadline; give the role
 *              | role taken                                                       up, wake one sleeper
 *              v                                                                    ^
 *            link --> send --> SLEEP --woken, role free (CAS)--> unlink ------------+
 *                                |  \--deadline--> unlink, RK_ETIMEDOUT
 *                                +--delivered (the drainer unlinked it)--> return
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/message.h"

/** Defaults of rk_launch_opts. */
#define RK__DEFAULT_CAPACITY 1024u
#define RK__DEFAULT_SLOT 256u
/** How long rk_runtime_destroy waits for each kernel to stop. */
#define RK__DESTROY_DEADLINE_NS RK_TIMEOUT_MS(1000)

/* ---- Live runtimes ------------------------------------------------------------------------------------
 * A set of live runtime pointers, so that rk_runtime_destroy (and launch) on a destroyed or never-created
 * pointer answers RK_EBADHANDLE instead of touching freed memory. Only pointer values are compared; a
 * new runtime that happens to reuse a destroyed one's address is live again (the usual limit of such
 * checks). A linked list through the runtimes: O(live runtimes) per check, a handful in practice. */
static pthread_mutex_t rk__live_lock = PTHREAD_MUTEX_INITIALIZER;
static rk_runtime *rk__live; /* under rk__live_lock */

static int rk__live_contains(const rk_runtime *rt)
{
    int found = 0;

    pthread_mutex_lock(&rk__live_lock);
    for (rk_runtime *r = rk__live; r != NULL && !found; r = r->live_next)
        found = r == rt;
    pthread_mutex_unlock(&rk__live_lock);
    return found;
}

static void rk__live_add(rk_runtime *rt)
{
    pthread_mutex_lock(&rk__live_lock);
    rt->live_next = rk__live;
    rk__live = rt;
    pthread_mutex_unlock(&rk__live_lock);
}

/* Removes rt from the set; returns 1 if it was there. */
static int rk__live_remove(const rk_runtime *rt)
{
    int found = 0;

    pthread_mutex_lock(&rk__live_lock);
    for (rk_runtime **pp = &rk__live; *pp != NULL; pp = &(*pp)->live_next) {
        if (*pp == rt) {
            *pp = rt->live_next;
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&rk__live_lock);
    return found;
}

/* ---- Small helpers ---------------------------------------------------------------------------------- */

static uint32_t rk__state(const rk_kernel *k)
{
    /* Acquire: pairs with the kernel's release of each state change (cpu_backend.c S6): a host that sees
     * STOPPED sees the final counters and every reply. */
    return atomic_load_explicit(rk__a32(&k->cb->state), memory_order_acquire);
}

/* A wait that starts its backoff only when the first try failed (no clock read on the fast path). */
typedef struct rk__wait {
    rk_backoff b;
    int started;
} rk__wait;

/* One round of waiting. Returns 0 to try again, RK_EAGAIN for a zero timeout, RK_ETIMEDOUT at the end. */
static int rk__wait_round(rk__wait *w, int64_t timeout_ns, const char *fn, const char *what, uint32_t id)
{
    if (timeout_ns == 0)
        return RK_EAGAIN; /* polling hot path: no detail string (as queue.c) */
    if (!w->started) {
        rk_backoff_init(&w->b, timeout_ns);
        w->started = 1;
    }
    if (rk_backoff_wait(&w->b) != 0)
        return rk__err(RK_ETIMEDOUT, "%s: %s of kernel %u after %lld ns", fn, what, id, (long long)timeout_ns);
    return 0;
}

/* Nanoseconds left until deadline (-1 = none): RK_TIMEOUT_INFINITE, or >= 0. */
static int64_t rk__remaining(int64_t deadline)
{
    int64_t left;

    if (deadline < 0)
        return RK_TIMEOUT_INFINITE;
    left = deadline - rk_monotonic_ns();
    return left > 0 ? left : 0;
}

static int64_t rk__deadline(int64_t timeout_ns)
{
    int64_t now;

    if (timeout_ns < 0)
        return -1;
    now = rk_monotonic_ns();
    /* A timeout too large to add to the clock (e.g. INT64_MAX) has no deadline in practice (as queue.c). */
    return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

/* ---- Runtime ---------------------------------------------------------------------------------------- */

int rk_runtime_create(rk_runtime **out, const rk_runtime_opts *opts)
{
    rk_runtime_opts o = opts != NULL ? *opts : (rk_runtime_opts){ .backend = RK_BACKEND_AUTO };
    const rk_backend_ops *ops;
    rk_backend_status st;
    rk_runtime *rt;
    int rc;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_runtime_create: out is NULL");
    if ((unsigned)o.backend >= RK_BACKEND_COUNT)
        return rk__err(RK_EINVAL, "rk_runtime_create: unknown backend kind %d", (int)o.backend);
    if (o.device < 0)
        return rk__err(RK_EINVAL, "rk_runtime_create: device %d is negative", o.device);
    if (o.backend == RK_BACKEND_AUTO)
        o.backend = rk__backend_auto();
    (void)rk_backend_probe(o.backend, &st);
    ops = rk__backend_ops(o.backend);
    if (ops == NULL || !st.available)
        return rk__err(RK_ENODEV, "rk_runtime_create: backend %s is unavailable: %s", rk_backend_name(o.backend),
                       st.reason);
    if (o.node_id == 0)
        o.node_id = (uint32_t)getpid();

    rt = calloc(1, sizeof *rt);
    if (rt == NULL)
        return rk__err(RK_ENOMEM, "rk_runtime_create: cannot allocate the runtime");
    rt->ops = ops;
    rt->opts = o;
    rt->next_kernel_id = 1;
    (void)rk_hlc_init(&rt->hlc, o.node_id, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    /* The send path stamps every message: CLOCK_REALTIME_COARSE costs a few ns where CLOCK_REALTIME costs
     * 20-70 (more in VMs), and the HLC's logical counter orders events within a coarse tick. */
    (void)rk_hlc_set_physical(&rt->hlc, rk_hlc_physical_coarse, NULL);
    if (pthread_mutex_init(&rt->lock, NULL) != 0) {
        rc = rk__err(RK_ENOMEM, "rk_runtime_create: cannot initialise a mutex");
        goto fail_mutex;
    }
    if (pthread_mutex_init(&rt->compute_lock, NULL) != 0) {
        rc = rk__err(RK_ENOMEM, "rk_runtime_create: cannot initialise a mutex");
        goto fail_compute_lock;
    }
    if ((rc = rk__k2k_init(rt)) != 0)
        goto fail_k2k;
    if ((rc = ops->init(rt)) != 0)
        goto fail_init;
    rk__live_add(rt);
    *out = rt;
    return 0;

fail_init:
    rk__k2k_destroy(rt);
fail_k2k:
    pthread_mutex_destroy(&rt->compute_lock);
fail_compute_lock:
    pthread_mutex_destroy(&rt->lock);
fail_mutex:
    free(rt);
    return rc;
}

rk_backend_kind rk_runtime_backend(const rk_runtime *rt)
{
    return rt != NULL ? rt->ops->kind : RK_BACKEND_AUTO; /* AUTO only for a NULL runtime */
}

int rk_runtime_hlc_now(rk_runtime *rt, rk_hlc_ts *out)
{
    if (rt == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_runtime_hlc_now: NULL %s", rt == NULL ? "runtime" : "out");
    return rk_hlc_now(&rt->hlc, out);
}

/* ---- Launch ----------------------------------------------------------------------------------------- */

/* Applies the defaults of rk_launch_opts and checks the result. */
static int rk__launch_opts(const rk_launch_opts *opts, rk_launch_opts *o)
{
    const uint32_t known = RK_LAUNCH_MULTI_PRODUCER | RK_LAUNCH_GRID_SYNC | RK_LAUNCH_LOW_LATENCY;

    *o = opts != NULL ? *opts : (rk_launch_opts){ 0 };
    if (o->queue_capacity == 0)
        o->queue_capacity = RK__DEFAULT_CAPACITY;
    if (o->slot_size == 0)
        o->slot_size = RK__DEFAULT_SLOT;
    if (o->instances == 0)
        o->instances = 1;
    if (!rk__is_pow2(o->queue_capacity) || o->queue_capacity < 2 || o->queue_capacity > RK_QUEUE_MAX_CAPACITY)
        return rk__err(RK_EINVAL, "rk_kernel_launch: queue_capacity %u is not a power of two in [2, %u]",
                       o->queue_capacity, RK_QUEUE_MAX_CAPACITY);
    if (!rk__is_pow2(o->slot_size) || o->slot_size < RK_QUEUE_MIN_SLOT || o->slot_size > RK_QUEUE_MAX_SLOT)
        return rk__err(RK_EINVAL, "rk_kernel_launch: slot_size %u is not a power of two in [%u, %u]",
                       o->slot_size, RK_QUEUE_MIN_SLOT, RK_QUEUE_MAX_SLOT);
    if (o->flags & ~known)
        return rk__err(RK_EINVAL, "rk_kernel_launch: unknown launch flags 0x%x", o->flags & ~known);
    if ((o->flags & RK_LAUNCH_LOW_LATENCY) && (o->flags & (RK_LAUNCH_MULTI_PRODUCER | RK_LAUNCH_GRID_SYNC)))
        return rk__err(RK_EINVAL, "rk_kernel_launch: RK_LAUNCH_LOW_LATENCY runs on one warp with one producer: "
                                  "not with RK_LAUNCH_%s", (o->flags & RK_LAUNCH_MULTI_PRODUCER) ? "MULTI_PRODUCER"
                                                                                              : "GRID_SYNC");
    return 0;
}

/* The slot size of a kernel's queue regions: wire slots of the LL encoding are twice the slot (L1). */
static uint32_t rk__region_slot(const rk_kernel *k) { return k->ll ? 2u * k->opts.slot_size : k->opts.slot_size; }

/* Region layout: [ control block 128 ][ H2K ][ K2H ], each part 128-byte aligned. */
static size_t rk__layout(const rk_kernel *k, uint64_t *h2k_off, uint64_t *k2h_off)
{
    const rk_launch_opts *o = &k->opts;
    uint32_t h2k_flags = (o->flags & RK_LAUNCH_MULTI_PRODUCER) ? RK_QUEUE_MPSC : RK_QUEUE_SPSC;
    size_t h2k = rk_queue_region_size(o->queue_capacity, rk__region_slot(k), h2k_flags);
    size_t k2h = rk_queue_region_size(o->queue_capacity, rk__region_slot(k), RK_QUEUE_SPSC);

    *h2k_off = RK_CACHE_LINE;
    *k2h_off = *h2k_off + rk__align_up(h2k, RK_CACHE_LINE);
    return (size_t)*k2h_off + rk__align_up(k2h, RK_CACHE_LINE);
}

/* ---- Heap regions ------------------------------------------------------------------------------------
 * region_alloc/region_free of the backends whose kernels read their queues from ordinary host memory (CPU
 * workers, the Vulkan dispatcher thread). */

int rk__heap_region_alloc(rk_runtime *rt, size_t size, void **host_ptr)
{
    (void)rt;
    *host_ptr = rk__aligned_zalloc(RK_CACHE_LINE, size);
    if (*host_ptr == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate a kernel region of %zu bytes", size);
    return 0;
}

void rk__heap_region_free(rk_runtime *rt, void *host_ptr)
{
    (void)rt;
    free(host_ptr);
}

/* ---- Low-latency encoding (L1-L4) ---------------------------------------------------------------------- */

/* L1: points the attached queue handles at shadow rings and remembers the wire. */
static int rk__ll_attach(rk_kernel *k)
{
    const uint32_t slot = k->opts.slot_size;
    const size_t ring = (size_t)k->opts.queue_capacity * slot;

    k->ll_shadow = rk__aligned_zalloc(RK_CACHE_LINE, 2 * ring);
    if (k->ll_shadow == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate the low-latency shadow rings (%zu bytes)",
                       2 * ring);
    k->ll_h2k_wire = (_Atomic uint64_t *)(void *)k->h2k.slots;
    k->ll_k2h_wire = (_Atomic uint64_t *)(void *)k->k2h.slots;
    k->h2k.slots = k->ll_shadow;
    k->k2h.slots = k->ll_shadow + ring;
    k->h2k.slot_size = k->k2h.slot_size = slot;
    k->h2k.slot_shift = k->k2h.slot_shift = (uint32_t)__builtin_ctz(slot);
    return 0;
}

/* The wire words of ring position pos (slot_size / 4 words of 8 bytes: twice the slot). */
static _Atomic uint64_t *rk__ll_wire(const rk_kernel *k, _Atomic uint64_t *wire, const rk_queue *q, uint64_t pos)
{
    return wire + ((size_t)(pos & q->mask) * (k->opts.slot_size / 4u));
}

/* L2: encodes count committed H2K shadow slots from pos onto the wire. Relaxed: each word is validated by
 * its own flag, so the words need no order among themselves. */
static void rk__ll_encode(rk_kernel *k, uint64_t pos, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t *src = rk_queue_slot(&k->h2k, pos + i);
        const uint32_t nw = rk_ll_words(((const rk_envelope *)src)->payload_len, k->opts.slot_size);
        const uint64_t flag = (uint64_t)RK_LL_FLAG(pos + i) << 32;
        _Atomic uint64_t *dst = rk__ll_wire(k, k->ll_h2k_wire, &k->h2k, pos + i);

        for (uint32_t w = 0; w < nw; w++)
            atomic_store_explicit(&dst[w], flag | src[w], memory_order_relaxed);
    }
}

/* Waits (boundedly) for the wire words [from, to) of one K2H slot and copies their data into dst. Returns 0
 * if a word has not arrived after the spin budget (the slot is not taken; the next pull looks again). */
static int rk__ll_take_words(_Atomic uint64_t *src, uint32_t *dst, uint32_t from, uint32_t to, uint32_t flag)
{
    for (uint32_t w = from; w < to; w++) {
        uint64_t v = atomic_load_explicit(&src[w], memory_order_relaxed);

        for (uint32_t spin = 0; (uint32_t)(v >> 32) != flag; spin++) {
            if (spin == 1u << 16 || w == 0)
                return 0; /* word 0 missing: nothing arrived; a later word missing for long: not yet */
            rk__cpu_relax();
            v = atomic_load_explicit(&src[w], memory_order_relaxed);
        }
        dst[w] = (uint32_t)v;
    }
    return 1;
}

/* L3: decodes the K2H wire slots that arrived completely (in order, up to the ring's free shadow room) into
 * the shadow ring and publishes them through the header's head. Called by the K2H consumer only. */
static void rk__ll_pull(rk_kernel *k)
{
    rk_queue *q = &k->k2h;
    const uint32_t slot = k->opts.slot_size, words = slot / 4u;
    const uint32_t head_words = words < RK_LL_HEAD_WORDS ? words : RK_LL_HEAD_WORDS;
    /* Relaxed: the host itself is the only writer of head in this mode (L3). */
    const uint64_t head = atomic_load_explicit(&q->hdr->head, memory_order_relaxed);
    uint64_t h = head;

    while (h - q->c_tail <= q->mask) {
        _Atomic uint64_t *src = rk__ll_wire(k, k->ll_k2h_wire, q, h);
        uint32_t *dst = rk_queue_slot(q, h);
        uint32_t len, nw;

        if (!rk__ll_take_words(src, dst, 0, head_words, RK_LL_FLAG(h)))
            break;
        len = ((const rk_envelope *)dst)->payload_len;
        nw = rk_ll_words(len <= slot - RK_ENVELOPE_SIZE ? len : slot - RK_ENVELOPE_SIZE, slot);
        if (!rk__ll_take_words(src, dst, head_words, nw, RK_LL_FLAG(h)))
            break;
        h++;
    }
    if (h != head) /* release: pairs with the acquire of head in rk_queue_peek_spsc() (same thread) */
        atomic_store_explicit(&q->hdr->head, h, memory_order_release);
}

/* Formats the region of k (already allocated and zeroed) and attaches the host's queue handles. */
static int rk__kernel_format(rk_kernel *k)
{
    uint64_t h2k_off, k2h_off;
    uint8_t *base = k->region;
    rk_control_block *cb = k->region;
    uint32_t h2k_flags = (k->opts.flags & RK_LAUNCH_MULTI_PRODUCER) ? RK_QUEUE_MPSC : RK_QUEUE_SPSC;
    size_t h2k_len, k2h_len;
    int rc;

    (void)rk__layout(k, &h2k_off, &k2h_off);
    h2k_len = (size_t)(k2h_off - h2k_off);
    k2h_len = k->region_size - (size_t)k2h_off;
    if ((rc = rk_queue_format(base + h2k_off, h2k_len, k->opts.queue_capacity, rk__region_slot(k), h2k_flags)) ||
        (rc = rk_queue_format(base + k2h_off, k2h_len, k->opts.queue_capacity, rk__region_slot(k),
                              RK_QUEUE_SPSC)) ||
        (rc = rk_queue_attach(&k->h2k, base + h2k_off, h2k_len)) ||
        (rc = rk_queue_attach(&k->k2h, base + k2h_off, k2h_len)) ||
        (k->ll && (rc = rk__ll_attach(k)) != 0))
        return rc;
    /* K3: nobody else sees the block yet; the backend's launch publishes it (a thread start, a mutex, a
     * copy to the device). The words the kernel writes later are stored atomically all the same. */
    cb->magic = RK_CONTROL_MAGIC;
    cb->abi_version = RK_ABI_VERSION;
    cb->kernel_id = k->id;
    cb->instances = k->opts.instances;
    cb->h2k_offset = h2k_off;
    cb->k2h_offset = k2h_off;
    atomic_store_explicit(rk__a32(&cb->state), RK_STATE_INITIALIZING, memory_order_relaxed);
    atomic_store_explicit(rk__a32(&cb->terminate), 0, memory_order_relaxed);
    k->cb = cb;
    return 0;
}

int rk_kernel_launch(rk_runtime *rt, const char *name, const rk_launch_opts *opts, rk_kernel **out)
{
    uint64_t h2k_off, k2h_off;
    rk_launch_opts o;
    rk_kernel *k;
    size_t len;
    int rc;

    if (rt == NULL || name == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_kernel_launch: NULL %s", rt == NULL ? "runtime" : name == NULL ? "name" : "out");
    len = strnlen(name, sizeof k->name);
    if (len == 0 || len >= sizeof k->name)
        return rk__err(RK_EINVAL, "rk_kernel_launch: actor name must be 1 to %zu bytes", sizeof k->name - 1);
    if ((rc = rk__launch_opts(opts, &o)) != 0)
        return rc;
    if (!rk__live_contains(rt))
        return rk__err(RK_EBADHANDLE, "rk_kernel_launch: runtime %p is not live", (void *)rt);

    k = rk__aligned_zalloc(RK_CACHE_LINE, sizeof *k); /* rk_queue has 128-byte aligned lines */
    if (k == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate the kernel");
    if (pthread_mutex_init(&k->call_lock, NULL) != 0) {
        free(k);
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot initialise a mutex");
    }
    k->rt = rt;
    k->opts = o;
    rk__strlcpy(k->name, name, sizeof k->name);
    pthread_mutex_lock(&rt->lock);
    k->id = rt->next_kernel_id;
    rc = k->id != 0 ? rk__kdir_reserve(rt, k->id) : 0; /* room in the K2K directory, before any side effect */
    if (k->id != 0 && rc == 0)
        rt->next_kernel_id++; /* ids are never reused; 2^32 - 1 launches per runtime */
    pthread_mutex_unlock(&rt->lock);
    if (rc != 0)
        goto fail_id;
    if (k->id == 0) {
        rc = rk__err(RK_ELIMIT, "rk_kernel_launch: kernel ids of this runtime are exhausted");
        goto fail_id;
    }
    k->ll = (o.flags & RK_LAUNCH_LOW_LATENCY) && rt->ops->low_latency;
    k->region_size = rk__layout(k, &h2k_off, &k2h_off);
    if ((rc = rt->ops->region_alloc(rt, k->region_size, &k->region)) != 0)
        goto fail_id;
    if ((rc = rk__kernel_format(k)) != 0)
        goto fail_region;
    k->launch_ns = rk_monotonic_ns();
    if ((rc = rt->ops->launch(rt, k)) != 0)
        goto fail_region;

    pthread_mutex_lock(&rt->lock);
    k->next = rt->kernels;
    rt->kernels = k;
    rk__kdir_set(rt, k); /* K2K senders can reach it from now on */
    pthread_mutex_unlock(&rt->lock);
    *out = k;
    return 0;

fail_region:
    free(k->ll_shadow);
    rt->ops->region_free(rt, k->region);
fail_id:
    pthread_mutex_destroy(&k->call_lock);
    free(k);
    return rc;
}

rk_addr rk_kernel_addr(const rk_kernel *k) { return k != NULL ? RK_ADDR(k->id, 0) : RK_ADDR_HOST; }

rk_kernel_state rk_kernel_state_get(const rk_kernel *k)
{
    return k != NULL ? (rk_kernel_state)rk__state(k) : RK_STATE_FAILED;
}

uint32_t rk_kernel_payload_max(const rk_kernel *k) { return k != NULL ? rk_payload_max(k->opts.slot_size) : 0; }

/* ---- Statistics and stop reports ---------------------------------------------------------------------- */

int rk_kernel_stats_get(const rk_kernel *k, rk_kernel_stats *out)
{
    rk_control_block *cb;
    int64_t stop;

    if (k == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_kernel_stats_get: NULL %s", k == NULL ? "kernel" : "out");
    cb = k->cb;
    memset(out, 0, sizeof *out);
    out->kernel_id = k->id;
    out->state = (rk_kernel_state)rk__state(k); /* first: its acquire orders the loads below (K3) */
    /* Relaxed: statistics, each word read once (K3); final once the state is STOPPED. */
    out->msgs_in = atomic_load_explicit(rk__a64(&cb->msgs_in), memory_order_relaxed);
    out->msgs_out = atomic_load_explicit(rk__a64(&cb->msgs_out), memory_order_relaxed);
    out->errors = atomic_load_explicit(rk__a64(&cb->errors), memory_order_relaxed);
    out->dropped = atomic_load_explicit(rk__a64(&cb->dropped), memory_order_relaxed) +
                   atomic_load_explicit(&k->host_dropped, memory_order_relaxed);
    out->heartbeat = atomic_load_explicit(rk__a64(&cb->heartbeat), memory_order_relaxed);
    out->last_error = atomic_load_explicit(rk__ai32(&cb->last_error), memory_order_relaxed);
    out->sent = atomic_load_explicit(&k->sent, memory_order_relaxed);
    out->received = atomic_load_explicit(&k->received, memory_order_relaxed);
    out->k2k_in = atomic_load_explicit(rk__a64(&cb->k2k_in), memory_order_relaxed);
    out->k2k_out = atomic_load_explicit(rk__a64(&cb->k2k_out), memory_order_relaxed);
    stop = atomic_load_explicit(&k->stop_ns, memory_order_relaxed);
    out->uptime_ns = (uint64_t)((stop != 0 ? stop : rk_monotonic_ns()) - k->launch_ns);
    rk__strlcpy(out->name, k->name, sizeof out->name);
    return 0;
}

/* K2: notes when the host saw the kernel stop, and reports it through on_stop exactly once. */
static void rk__kernel_stopped(rk_kernel *k)
{
    int64_t zero = 0;
    rk_kernel_stats st;

    /* Relaxed: a timestamp; the first observer wins. */
    atomic_compare_exchange_strong_explicit(&k->stop_ns, &zero, rk_monotonic_ns(), memory_order_relaxed,
                                            memory_order_relaxed);
    /* Relaxed: the exchange itself makes the report happen once; it publishes nothing. */
    if (atomic_exchange_explicit(&k->stop_reported, 1, memory_order_relaxed) != 0 || k->rt->opts.on_stop == NULL)
        return;
    (void)rk_kernel_stats_get(k, &st);
    k->rt->opts.on_stop(&st, k->rt->opts.on_stop_arg);
}

/* K3: a kernel that missed its terminate deadline is marked FAILED, unless it stopped meanwhile. */
static void rk__kernel_mark_failed(rk_kernel *k)
{
    _Atomic uint32_t *st = rk__a32(&k->cb->state);
    uint32_t cur = atomic_load_explicit(st, memory_order_relaxed);

    while (cur != RK_STATE_STOPPED && cur != RK_STATE_FAILED) {
        /* Relaxed: the kernel orders nothing behind FAILED; it reads it to stop running (cpu_backend.c). */
        if (atomic_compare_exchange_weak_explicit(st, &cur, RK_STATE_FAILED, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
}

/* ---- Terminate -------------------------------------------------------------------------------------- */

/* The part of terminate after `closing` was set: waits for in-flight sends (K1), requests the stop. */
static void rk__terminate_request(rk_kernel *k)
{
    rk_backoff b;

    rk_backoff_init(&b, RK_TIMEOUT_INFINITE);
    /* K1: seq_cst, pairs with the increment in rk__send_enter(). Senders leave promptly once they see
     * closing (they re-check it every backoff round), so this wait is short and needs no deadline. K6: the
     * same for K2K senders (cpu_backend.c rk__k2k_send), which never wait inside their window. */
    while (atomic_load_explicit(&k->inflight, memory_order_seq_cst) != 0 ||
           atomic_load_explicit(&k->k2k_inflight, memory_order_seq_cst) != 0)
        (void)rk_backoff_wait(&b);
    /* Release: pairs with the kernel's acquire load of terminate (cpu_backend.c rk__cpu_run): every
     * message published before is visible to the kernel's drain. */
    atomic_store_explicit(rk__a32(&k->cb->terminate), 1, memory_order_release);
    if (k->rt->ops->notify != NULL)
        k->rt->ops->notify(k); /* K4 */
}

/* Turns the result of waiting for the stop into terminate's return value. */
static int rk__terminate_result(rk_kernel *k, int rc)
{
    if (rc == RK_ENOTRESPONDING)
        rk__kernel_mark_failed(k);
    atomic_store_explicit(&k->terminated, 1, memory_order_relaxed); /* relaxed: informational */
    rk__kernel_stopped(k);
    if (rc != 0)
        return rc;
    if (rk__state(k) == RK_STATE_FAILED)
        return rk__err(RK_EFAULT, "rk_kernel_terminate: kernel %u ('%s') had failed: %s", k->id, k->name,
                       rk_err_name(atomic_load_explicit(rk__ai32(&k->cb->last_error), memory_order_relaxed)));
    return 0;
}

/* Sets the control block's pause request (the kernel acknowledges through its state). */
static int rk__kernel_set_pause(rk_kernel *k, uint32_t pause, const char *fn)
{
    if (k == NULL)
        return rk__err(RK_EINVAL, "%s: kernel is NULL", fn);
    if (rk__state(k) == RK_STATE_FAILED)
        return rk__err(RK_EFAULT, "%s: kernel %u ('%s') failed", fn, k->id, k->name);
    if (atomic_load_explicit(&k->closing, memory_order_relaxed) != 0)
        return rk__err(RK_ECLOSED, "%s: kernel %u ('%s') is terminating or stopped", fn, k->id, k->name);
    RK__TRACE_PUSH(fn);
    /* Release: pairs with the kernel's acquire load of pause (cpu_backend.c, device.cuh rk__coordinate):
     * messages published before a resume are visible to the kernel that sees pause = 0. */
    atomic_store_explicit(rk__a32(&k->cb->pause), pause, memory_order_release);
    if (k->rt->ops->notify != NULL)
        k->rt->ops->notify(k); /* a CPU actor re-reads the flag in its next activation */
    RK__TRACE_POP();
    return 0;
}

int rk_kernel_pause(rk_kernel *k) { return rk__kernel_set_pause(k, 1, "rk_kernel_pause"); }

int rk_kernel_resume(rk_kernel *k) { return rk__kernel_set_pause(k, 0, "rk_kernel_resume"); }

int rk_kernel_terminate(rk_kernel *k, int64_t timeout_ns)
{
    int64_t deadline = rk__deadline(timeout_ns);

    if (k == NULL)
        return rk__err(RK_EINVAL, "rk_kernel_terminate: kernel is NULL");
    /* K1, K2: seq_cst, pairs with the load of closing in rk__send_enter(). */
    if (atomic_exchange_explicit(&k->closing, 1, memory_order_seq_cst) != 0)
        return rk__err(RK_ECLOSED, "rk_kernel_terminate: kernel %u ('%s') is already terminated", k->id, k->name);
    rk__terminate_request(k);
    return rk__terminate_result(k, k->rt->ops->wait_stopped(k, rk__remaining(deadline)));
}

/* ---- Sending ---------------------------------------------------------------------------------------- */

/* RK_EFAULT if the kernel failed, RK_ECLOSED if it is terminating or stopped, else 0 (sending makes
 * sense). Checked when H2K is full and after a send saw `closing`, not on every send: the state word
 * shares a line with counters the kernel writes. */
static int rk__send_blocked(rk_kernel *k, const char *fn)
{
    if (rk__state(k) == RK_STATE_FAILED)
        return rk__err(RK_EFAULT, "%s: kernel %u ('%s') failed", fn, k->id, k->name);
    /* Relaxed: a hint between rounds; K1 holds through rk__send_enter() either way. */
    if (atomic_load_explicit(&k->closing, memory_order_relaxed) != 0)
        return rk__err(RK_ECLOSED, "%s: kernel %u ('%s') is terminating or stopped", fn, k->id, k->name);
    return 0;
}

static void rk__send_leave(rk_kernel *k);

/* K1: enters the send window. Returns 0, RK_ECLOSED or RK_EFAULT (with the window closed again). */
static int rk__send_enter(rk_kernel *k, const char *fn)
{
    /* Seq_cst: pairs with the exchange of closing and the load of inflight in rk_kernel_terminate(). An
     * SPSC kernel has one sending thread at a time (runtime.h), so `inflight` is a flag it stores (a
     * cheaper leave: a plain release store instead of a locked subtraction); MPSC senders count. */
    if (k->h2k.seq == NULL)
        atomic_store_explicit(&k->inflight, 1, memory_order_seq_cst);
    else
        atomic_fetch_add_explicit(&k->inflight, 1, memory_order_seq_cst);
    if (RK__LIKELY(atomic_load_explicit(&k->closing, memory_order_seq_cst) == 0))
        return 0;
    rk__send_leave(k); /* nothing was published */
    return rk__send_blocked(k, fn);
}

static void rk__send_leave(rk_kernel *k)
{
    /* Release: pairs with terminate's seq_cst load of inflight; our publication happens before its store
     * of cb->terminate (K1). */
    if (k->h2k.seq == NULL)
        atomic_store_explicit(&k->inflight, 0, memory_order_release);
    else
        atomic_fetch_sub_explicit(&k->inflight, 1, memory_order_release);
}


/* Reserves up to n H2K slots (SPSC) or one (MPSC, n ignored), waiting up to timeout_ns for room. Returns
 * the count reserved, or an error. */
static int rk__h2k_reserve(rk_kernel *k, uint32_t n, uint64_t *pos, int64_t timeout_ns, const char *fn)
{
    rk__wait w = { .started = 0 };
    void *slot;
    int rc;

    for (;;) {
        if (k->h2k.seq != NULL)
            rc = rk_queue_reserve_mpsc(&k->h2k, &slot, pos) == 0 ? 1 : RK_EAGAIN;
        else
            rc = rk_queue_reserve_spsc(&k->h2k, n, pos);
        if (rc != RK_EAGAIN)
            return rc;
        if ((rc = rk__send_blocked(k, fn)) != 0 ||
            (rc = rk__wait_round(&w, timeout_ns, fn, "H2K stayed full", k->id)) != 0)
            return rc;
    }
}

/* Stamps the host's fields of an outgoing envelope (in place, in the slot); ts is the HLC stamp taken for
 * it as part of a batch (rk_hlc_now_n), or NULL to tick the clock for this message alone. */
static void rk__stamp(rk_kernel *k, rk_envelope *e, uint32_t instance, const rk_hlc_ts *ts)
{
    int mpsc = k->h2k.seq != NULL;

    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->source = RK_ADDR_HOST;
    e->dest = RK_ADDR(k->id, instance);
    if (ts != NULL)
        e->hlc = *ts;
    else
        (void)rk_hlc_now(&k->rt->hlc, &e->hlc); /* cannot fail short of the year 2554 */
    /* Relaxed: a per-sender number; SPSC has one sending thread (no read-modify-write needed), MPSC
     * senders need the atomic add. */
    if (mpsc) {
        e->seq = atomic_fetch_add_explicit(&k->next_seq, 1, memory_order_relaxed) + 1;
    } else {
        e->seq = atomic_load_explicit(&k->next_seq, memory_order_relaxed) + 1;
        atomic_store_explicit(&k->next_seq, e->seq, memory_order_relaxed);
    }
}

/* Publishes count reserved slots from pos (SPSC: one index store; MPSC: count must be 1), and K4. */
static void rk__h2k_publish(rk_kernel *k, uint64_t pos, uint32_t count)
{
    if (k->h2k.seq != NULL) {
        (void)rk_queue_commit_mpsc(&k->h2k, pos); /* R3 in queue.c */
        /* Relaxed: a statistic; several senders, so a read-modify-write. */
        atomic_fetch_add_explicit(&k->sent, count, memory_order_relaxed);
    } else {
        if (k->ll)
            rk__ll_encode(k, pos, count); /* L2 */
        (void)rk_queue_commit_spsc(&k->h2k, count); /* R1 in queue.c */
        /* Relaxed: a statistic with one writer (the SPSC sender), so a plain load and store: no locked
         * instruction on the send path. */
        atomic_store_explicit(&k->sent, atomic_load_explicit(&k->sent, memory_order_relaxed) + count,
                              memory_order_relaxed);
    }
}

/* Asks for the lines of the next H2K slot (and its LL wire) for writing, so that the next send's stores
 * find them owned: they were last written a lap ago and read by the consumer since, and the locked
 * instructions of the next send wait for every store before them to commit. */
static void rk__h2k_prefetch(const rk_kernel *k, uint64_t pos)
{
    const uint8_t *slot = rk_queue_slot(&k->h2k, pos);
    for (uint32_t off = 0; off < k->h2k.slot_size; off += 64) /* x86-64 and arm64 lines */
        __builtin_prefetch(slot + off, 1, 3);
    if (k->ll) {
        const uint8_t *wire = (const uint8_t *)rk__ll_wire(k, k->ll_h2k_wire, &k->h2k, pos);
        for (uint32_t off = 0; off < 2 * k->h2k.slot_size; off += 64)
            __builtin_prefetch(wire + off, 1, 3);
    }
}

static void rk__h2k_notify(rk_kernel *k)
{
    if (k->rt->ops->notify != NULL)
        k->rt->ops->notify(k); /* K4 */
}

/* Checks one outgoing message; returns 0, RK_EINVAL or RK_EMSGSIZE. */
static int rk__msg_check(const rk_kernel *k, const rk_msg *m, const char *fn)
{
    if (m == NULL)
        return rk__err(RK_EINVAL, "%s: message is NULL", fn);
    if (m->env.payload_len > rk_payload_max(k->opts.slot_size))
        return rk__err(RK_EMSGSIZE, "%s: payload of %u bytes, kernel %u takes at most %u", fn, m->env.payload_len,
                       k->id, rk_payload_max(k->opts.slot_size));
    if (m->payload == NULL && m->env.payload_len > 0)
        return rk__err(RK_EINVAL, "%s: payload is NULL but payload_len is %u", fn, m->env.payload_len);
    if (RK_ADDR_INSTANCE(m->env.dest) >= k->opts.instances)
        return rk__err(RK_EINVAL, "%s: instance %u of kernel %u does not exist (%u instances)", fn,
                       RK_ADDR_INSTANCE(m->env.dest), k->id, k->opts.instances);
    if (m->env.flags & RK_ENV_SYSTEM)
        return rk__err(RK_EINVAL, "%s: RK_ENV_SYSTEM is reserved for the runtime", fn);
    return 0;
}

/* Writes message m into the reserved slot at pos (ts as rk__stamp). */
static void rk__msg_write(rk_kernel *k, const rk_msg *m, uint64_t pos, const rk_hlc_ts *ts)
{
    rk_envelope *e = rk_queue_slot(&k->h2k, pos);

    e->flags = m->env.flags;
    e->payload_len = m->env.payload_len;
    e->type_id = m->env.type_id;
    e->correlation_id = m->env.correlation_id;
    rk__stamp(k, e, RK_ADDR_INSTANCE(m->env.dest), ts);
    if (m->env.payload_len > 0)
        memcpy(rk_envelope_payload(e), m->payload, m->env.payload_len);
}

int rk_send(rk_kernel *k, const rk_msg *m, int64_t timeout_ns)
{
    int rc = rk_send_batch(k, m, 1, timeout_ns);

    return rc < 0 ? rc : 0;
}

static int rk__send_batch(rk_kernel *k, const rk_msg *msgs, uint32_t n, int64_t timeout_ns)
{
    const char *fn = n == 1 ? "rk_send" : "rk_send_batch";
    uint64_t pos;
    int rc, got;

    if (k == NULL || msgs == NULL || n == 0)
        return rk__err(RK_EINVAL, "%s: %s", fn,
                       k == NULL ? "kernel is NULL" : msgs == NULL ? "msgs is NULL" : "n is 0");
    for (uint32_t i = 0; i < n; i++) /* all checked first: a failing batch sends nothing */
        if ((rc = rk__msg_check(k, &msgs[i], fn)) != 0)
            return rc;
    if ((rc = rk__send_enter(k, fn)) != 0)
        return rc;
    if ((got = rk__h2k_reserve(k, n, &pos, timeout_ns, fn)) < 0) {
        rk__send_leave(k);
        return got;
    }
    if (k->h2k.seq == NULL) {
        rk_hlc_ts ts;
        /* One clock read and one critical section for the batch: consecutive logical stamps. */
        (void)rk_hlc_now_n(&k->rt->hlc, (uint32_t)got, &ts); /* cannot fail short of the year 2554 */
        for (int i = 0; i < got; i++, ts.logical++)
            rk__msg_write(k, &msgs[i], pos + (uint64_t)i, &ts);
        rk__h2k_publish(k, pos, (uint32_t)got);
        rk__h2k_prefetch(k, pos + (uint64_t)got);
    } else {
        /* MPSC: one claim per slot; after the first, only what fits right now. */
        void *slot;

        rk__msg_write(k, &msgs[0], pos, NULL);
        rk__h2k_publish(k, pos, 1);
        for (got = 1; (uint32_t)got < n && rk_queue_reserve_mpsc(&k->h2k, &slot, &pos) == 0; got++) {
            rk__msg_write(k, &msgs[got], pos, NULL);
            rk__h2k_publish(k, pos, 1);
        }
    }
    rk__send_leave(k);
    rk__h2k_notify(k);
    return got;
}

/* The public entry: an NVTX range around the whole call (internal.h). */
int rk_send_batch(rk_kernel *k, const rk_msg *msgs, uint32_t n, int64_t timeout_ns)
{
    int rc;

    RK__TRACE_PUSH("rk_send");
    rc = rk__send_batch(k, msgs, n, timeout_ns);
    RK__TRACE_POP();
    return rc;
}

/* ---- Zero-copy sending -------------------------------------------------------------------------------
 * SPSC: the open reservation lives in the kernel (one sending thread). MPSC: in the sending thread, since
 * any thread may send; one open reservation per thread. */
typedef struct rk__reservation {
    rk_kernel *k;
    uint64_t pos;
    rk_envelope *env;
} rk__reservation;

static _Thread_local rk__reservation rk__tls_reservation;

int rk_send_reserve(rk_kernel *k, uint32_t payload_len, rk_envelope **env, void **payload, int64_t timeout_ns)
{
    rk_envelope *e;
    uint64_t pos;
    int rc;

    if (k == NULL || env == NULL || payload == NULL)
        return rk__err(RK_EINVAL, "rk_send_reserve: NULL argument");
    if (payload_len > rk_payload_max(k->opts.slot_size))
        return rk__err(RK_EMSGSIZE, "rk_send_reserve: payload of %u bytes, kernel %u takes at most %u", payload_len,
                       k->id, rk_payload_max(k->opts.slot_size));
    if ((k->h2k.seq != NULL ? rk__tls_reservation.k != NULL : k->reserved_env != NULL))
        return rk__err(RK_EINVAL, "rk_send_reserve: a reservation is already open (rk_send_commit first)");
    /* An early check only: rk_send_commit() decides (K1), so a reservation cannot hold terminate up. */
    if ((rc = rk__send_enter(k, "rk_send_reserve")) != 0)
        return rc;
    rk__send_leave(k);
    if ((rc = rk__h2k_reserve(k, 1, &pos, timeout_ns, "rk_send_reserve")) < 0)
        return rc;
    e = rk_queue_slot(&k->h2k, pos);
    memset(e, 0, sizeof *e);
    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->source = RK_ADDR_HOST;
    e->dest = RK_ADDR(k->id, 0);
    e->payload_len = payload_len;
    if (k->h2k.seq != NULL) {
        rk__tls_reservation = (rk__reservation){ .k = k, .pos = pos, .env = e };
    } else {
        k->reserved_env = e;
        k->reserved_pos = pos;
    }
    *env = e;
    *payload = rk_envelope_payload(e);
    return 0;
}

/* Withdraws an open reservation that must not be delivered. SPSC: un-reserve. MPSC: a claimed slot cannot
 * be given back (the consumer waits for it in order), so it is published as an RK_ENV_SYSTEM no-op that
 * kernels skip. */
static void rk__reservation_cancel(rk_kernel *k, rk_envelope *e, uint64_t pos)
{
    if (k->h2k.seq == NULL) {
        (void)rk_queue_commit_spsc(&k->h2k, 0);
        return;
    }
    e->flags = RK_ENV_SYSTEM;
    e->payload_len = 0;
    e->type_id = 0;
    (void)rk_queue_commit_mpsc(&k->h2k, pos); /* R3 in queue.c */
    rk__h2k_notify(k);
}

int rk_send_commit(rk_kernel *k)
{
    rk_envelope *e;
    uint64_t pos;
    int rc;

    if (k == NULL)
        return rk__err(RK_EINVAL, "rk_send_commit: kernel is NULL");
    if (k->h2k.seq != NULL) {
        if (rk__tls_reservation.k != k)
            return rk__err(RK_EINVAL, "rk_send_commit: this thread reserved nothing on kernel %u", k->id);
        e = rk__tls_reservation.env;
        pos = rk__tls_reservation.pos;
        rk__tls_reservation = (rk__reservation){ 0 };
    } else {
        if (k->reserved_env == NULL)
            return rk__err(RK_EINVAL, "rk_send_commit: nothing is reserved on kernel %u", k->id);
        e = k->reserved_env;
        pos = k->reserved_pos;
        k->reserved_env = NULL;
    }
    /* The caller wrote the envelope: check what the kernel will trust. A failure withdraws the slot. */
    if (e->payload_len > rk_payload_max(k->opts.slot_size))
        rc = rk__err(RK_EMSGSIZE, "rk_send_commit: payload_len %u exceeds %u", e->payload_len,
                     rk_payload_max(k->opts.slot_size));
    else if (RK_ADDR_INSTANCE(e->dest) >= k->opts.instances || (e->flags & RK_ENV_SYSTEM))
        rc = rk__err(RK_EINVAL, "rk_send_commit: bad %s", (e->flags & RK_ENV_SYSTEM) ? "flags (RK_ENV_SYSTEM)"
                                                                                     : "destination instance");
    else
        rc = rk__send_enter(k, "rk_send_commit");
    if (rc != 0) {
        rk__reservation_cancel(k, e, pos);
        return rc;
    }
    rk__stamp(k, e, RK_ADDR_INSTANCE(e->dest), NULL);
    rk__h2k_publish(k, pos, 1);
    rk__send_leave(k);
    rk__h2k_notify(k);
    return 0;
}

/* ---- Receiving -------------------------------------------------------------------------------------- */

/* Consumes runtime no-ops (RK_ENV_SYSTEM, e.g. the skip envelopes a GPU batch leaves for messages that
 * did not reply, device.cuh) at the front of a peek of count slots from pos, and trims the peek before the
 * next one, so callers only ever see user messages. Returns how many leading user messages there are (0:
 * the no-ops were released and the caller peeks again). */
static uint32_t rk__k2h_skip_system(rk_kernel *k, uint32_t count, uint64_t pos)
{
    uint32_t i = 0;

    while (i < count && (((const rk_envelope *)rk_queue_slot(&k->k2h, pos + i))->flags & RK_ENV_SYSTEM))
        i++;
    if (i > 0) {
        (void)rk_queue_release_spsc(&k->k2h, i); /* R2 in queue.c; no-ops are not counted as received */
        if (k->rt->ops->notify_k2h != NULL)
            k->rt->ops->notify_k2h(k);
        return 0;
    }
    while (i < count && !(((const rk_envelope *)rk_queue_slot(&k->k2h, pos + i))->flags & RK_ENV_SYSTEM))
        i++;
    return i; /* the peek stays open for i slots; releasing i of them leaves the rest queued */
}

/* Peeks up to n K2H slots, waiting up to timeout_ns. Returns the count, or RK_EAGAIN/RK_ETIMEDOUT when
 * nothing arrived, RK_ECLOSED/RK_EFAULT when the kernel stopped/failed and nothing is left. */
static int rk__k2h_peek(rk_kernel *k, uint32_t n, uint64_t *pos, int64_t timeout_ns, const char *fn)
{
    rk__wait w = { .started = 0 };
    uint32_t st;
    int rc;

    for (;;) {
        if (k->ll)
            rk__ll_pull(k); /* L3 */
        if ((rc = rk_queue_peek_spsc(&k->k2h, n, pos)) != RK_EAGAIN) {
            if (rc > 0 && (rc = rk__k2h_skip_system(k, (uint32_t)rc, *pos)) == 0)
                continue; /* only runtime no-ops were there: look again */
            return rc;
        }
        /* A device fault that never reached the control block (GPU trap). Asked every 256 rounds only, the
         * first time after 255 (~20 us): the CUDA check is a driver call that takes a microsecond, and a
         * reply arriving meanwhile would wait, so a reply that comes within a few microseconds never meets it. */
        if (w.started && (w.b.round & 255u) == 255u && k->rt->ops->poll != NULL && (rc = k->rt->ops->poll(k)) != 0)
            return rc;
        st = rk__state(k);
        if (st == RK_STATE_STOPPED || st == RK_STATE_FAILED) {
            /* The acquire in rk__state() makes every reply published before the stop visible (L4 for
             * the LL encoding); runtime no-ops among them are skipped as above, so a caller only ever sees
             * user messages. */
            if (k->ll)
                rk__ll_pull(k);
            while ((rc = rk_queue_peek_spsc(&k->k2h, n, pos)) > 0)
                if ((rc = rk__k2h_skip_system(k, (uint32_t)rc, *pos)) != 0)
                    return rc;
            if (rc != RK_EAGAIN)
                return rc;
            if (st == RK_STATE_FAILED)
                return rk__err(RK_EFAULT, "%s: kernel %u ('%s') failed and nothing is left", fn, k->id, k->name);
            return rk__err(RK_ECLOSED, "%s: kernel %u ('%s') stopped and nothing is left", fn, k->id, k->name);
        }
        if ((rc = rk__wait_round(&w, timeout_ns, fn, "no reply", k->id)) != 0)
            return rc;
    }
}

/* Releases count peeked K2H slots; K4. */
static void rk__k2h_release(rk_kernel *k, uint32_t count)
{
    uint64_t r = atomic_load_explicit(&k->received, memory_order_relaxed);

    (void)rk_queue_release_spsc(&k->k2h, count); /* R2 in queue.c */
    /* Relaxed: a statistic, written by the one receiving thread. */
    atomic_store_explicit(&k->received, r + count, memory_order_relaxed);
    if (count > 0 && k->rt->ops->notify_k2h != NULL)
        k->rt->ops->notify_k2h(k);
}

/* Checks a received envelope. */
static int rk__k2h_check(rk_kernel *k, const rk_envelope *e, const char *fn)
{
    int rc;

    if ((rc = rk_envelope_check(e, k->k2h.slot_size)) != 0)
        return rk__err(rc, "%s: kernel %u sent a bad message: %s", fn, k->id, rk_last_error());
    return 0;
}

/* K5: merges the newest stamp of the messages a call receives into the host clock; merging the newest
 * once leaves the clock after all of them. RK_ECLOCK leaves the clock as it was. */
static void rk__k2h_merge(rk_kernel *k, const rk_envelope *newest)
{
    if (newest != NULL)
        (void)rk_hlc_update(&k->rt->hlc, &newest->hlc, NULL);
}

/* Copies a received message out, without reporting anything (rk_call copies for another thread).
 * Returns 0, or RK_EMSGSIZE when the payload was truncated. */
static int rk__msg_copy(const rk_envelope *e, rk_msg *m)
{
    uint32_t n = e->payload_len < m->payload_cap ? e->payload_len : m->payload_cap;

    m->env = *e;
    if (n > 0)
        memcpy(m->payload, rk_envelope_payload_const(e), n);
    return e->payload_len > m->payload_cap ? RK_EMSGSIZE : 0;
}

/* Copies a received message out. Returns 0, or RK_EMSGSIZE when the payload was truncated. */
static int rk__msg_read(const rk_envelope *e, rk_msg *m, const char *fn)
{
    if (rk__msg_copy(e, m) != 0)
        return rk__err(RK_EMSGSIZE, "%s: payload of %u bytes truncated to %u", fn, e->payload_len, m->payload_cap);
    return 0;
}

static int rk__recv_check(const rk_kernel *k, const rk_msg *m, uint32_t n, const char *fn)
{
    if (k == NULL || m == NULL || n == 0)
        return rk__err(RK_EINVAL, "%s: %s", fn, k == NULL ? "kernel is NULL" : m == NULL ? "msgs is NULL" : "n is 0");
    for (uint32_t i = 0; i < n; i++)
        if (m[i].payload == NULL && m[i].payload_cap > 0)
            return rk__err(RK_EINVAL, "%s: payload is NULL but payload_cap is %u", fn, m[i].payload_cap);
    return 0;
}

int rk_recv(rk_kernel *k, rk_msg *m, int64_t timeout_ns)
{
    int rc = rk_recv_batch(k, m, 1, timeout_ns);

    return rc < 0 ? rc : 0;
}

static int rk__recv_batch(rk_kernel *k, rk_msg *msgs, uint32_t n, int64_t timeout_ns)
{
    const char *fn = n == 1 ? "rk_recv" : "rk_recv_batch";
    const rk_envelope *newest = NULL;
    uint64_t pos;
    int rc, got, i;

    if ((rc = rk__recv_check(k, msgs, n, fn)) != 0)
        return rc;
    if ((got = rk__k2h_peek(k, n, &pos, timeout_ns, fn)) < 0)
        return got;
    for (i = 0; i < got; i++) {
        const rk_envelope *e = rk_queue_slot(&k->k2h, pos + (uint64_t)i);

        /* A bad or truncated message ends a batch; the next call returns it first. */
        if (i > 0 && (rk_envelope_check(e, k->k2h.slot_size) != 0 || e->payload_len > msgs[i].payload_cap))
            break;
        if ((rc = rk__k2h_check(k, e, fn)) == 0) {
            rc = rk__msg_read(e, &msgs[i], fn);
            if (newest == NULL || rk_hlc_compare(&e->hlc, &newest->hlc) > 0)
                newest = e;
        }
        if (rc != 0) { /* only the first message gets here: consumed, as rk_recv does */
            rk__k2h_merge(k, newest);
            rk__k2h_release(k, 1);
            return rc;
        }
    }
    rk__k2h_merge(k, newest);
    rk__k2h_release(k, (uint32_t)i);
    return i;
}

/* The public entry: an NVTX range around the whole call (internal.h). */
int rk_recv_batch(rk_kernel *k, rk_msg *msgs, uint32_t n, int64_t timeout_ns)
{
    int rc;

    RK__TRACE_PUSH("rk_recv");
    rc = rk__recv_batch(k, msgs, n, timeout_ns);
    RK__TRACE_POP();
    return rc;
}

int rk_recv_peek(rk_kernel *k, const rk_envelope **env, const void **payload, int64_t timeout_ns)
{
    const rk_envelope *e;
    uint64_t pos;
    int rc;

    if (k == NULL || env == NULL || payload == NULL)
        return rk__err(RK_EINVAL, "rk_recv_peek: NULL argument");
    if (k->peeked)
        return rk__err(RK_EINVAL, "rk_recv_peek: a peeked message is not released yet");
    if ((rc = rk__k2h_peek(k, 1, &pos, timeout_ns, "rk_recv_peek")) < 0)
        return rc;
    e = rk_queue_slot(&k->k2h, pos);
    if ((rc = rk__k2h_check(k, e, "rk_recv_peek")) != 0) {
        rk__k2h_release(k, 1); /* consumed, as rk_recv does */
        return rc;
    }
    rk__k2h_merge(k, e);
    k->peeked = 1;
    *env = e;
    *payload = rk_envelope_payload_const(e);
    return 0;
}

int rk_recv_release(rk_kernel *k)
{
    if (k == NULL || !k->peeked)
        return rk__err(RK_EINVAL, "rk_recv_release: %s", k == NULL ? "kernel is NULL" : "nothing is peeked");
    k->peeked = 0;
    rk__k2h_release(k, 1);
    return 0;
}

/* ---- Request/reply ----------------------------------------------------------------------------------
 * K7 in the header. A call either takes the drain role at once (the single-caller fast path: one
 * compare-and-swap, no lock, no table entry) or links an entry into the kernel's table, sends, and then
 * sleeps until the drainer delivers its reply or gives the role up. */

/** Most K2H slots one drain pass looks at (the bit width of its validity mask). */
#define RK__CALL_BATCH 32u

struct rk__call {
    uint64_t corr;          /* the request's correlation id */
    rk_msg *reply;          /* where the drainer copies the reply */
    struct rk__call *next;  /* bucket chain, under call_lock */
    pthread_cond_t cond;    /* the caller sleeps here; initialised on first use (has_cond) */
    int has_cond;           /* under call_lock */
    int done;               /* the reply was copied into *reply; under call_lock, or the drainer's own */
    int rc;                 /* 0, RK_EMSGSIZE or RK_EHANDLER: the caller reports it in its own thread */
    int32_t code;           /* RK_E* code of an error reply */
};

/* Under call_lock: links c (RK_ELIMIT when the table is full; no side effect then). */
static int rk__call_link(rk_kernel *k, rk__call *c)
{
    rk__call **b = &k->call_table[c->corr & (RK__CALL_BUCKETS - 1)];

    if (atomic_load_explicit(&k->call_pending, memory_order_relaxed) >= RK_CALL_MAX_PENDING)
        return rk__err(RK_ELIMIT, "rk_call: %u calls already wait on kernel %u", RK_CALL_MAX_PENDING, k->id);
    c->next = *b;
    *b = c;
    /* Seq_cst: K7, a Dekker pair with the store of call_draining in rk__call_unlead(): this caller loads
     * call_draining after it, so either it sees the role free or the drainer sees it pending. */
    atomic_fetch_add_explicit(&k->call_pending, 1, memory_order_seq_cst);
    return 0;
}

/* Under call_lock: unlinks and returns the waiting call of correlation id corr, or NULL. O(pending / 16). */
static rk__call *rk__call_unlink(rk_kernel *k, uint64_t corr)
{
    for (rk__call **pp = &k->call_table[corr & (RK__CALL_BUCKETS - 1)]; *pp != NULL; pp = &(*pp)->next) {
        rk__call *c = *pp;

        if (c->corr == corr) {
            *pp = c->next;
            /* Relaxed: the increment in rk__call_link() carries the ordering K7 needs. */
            atomic_fetch_sub_explicit(&k->call_pending, 1, memory_order_relaxed);
            return c;
        }
    }
    return NULL;
}

/* Takes the drain role if it is free. Returns 1 if this caller is now K2H's consumer. */
static int rk__call_lead_try(rk_kernel *k)
{
    int free_role = 0;

    /* Seq_cst: K7, the load pairs with the store in rk__call_unlead() (Dekker, with the increment in
     * rk__call_link() before it); the exchange's acquire makes the previous drainer's use of the K2H
     * consumer handle happen before ours. */
    return atomic_load_explicit(&k->call_draining, memory_order_seq_cst) == 0 &&
           atomic_compare_exchange_strong_explicit(&k->call_draining, &free_role, 1, memory_order_seq_cst,
                                                   memory_order_relaxed);
}

/* Under call_lock: wakes one sleeping caller so it takes the free drain role (K7). A caller still in its
 * send has no condition variable yet; it checks the role itself when it starts to wait. O(buckets). */
static void rk__call_promote(rk_kernel *k)
{
    for (uint32_t i = 0; i < RK__CALL_BUCKETS; i++)
        for (rk__call *c = k->call_table[i]; c != NULL; c = c->next)
            if (c->has_cond) {
                pthread_cond_signal(&c->cond);
                return;
            }
}

/* Gives the drain role up; wakes a waiting caller to take it over if there is one (K7). */
static void rk__call_unlead(rk_kernel *k)
{
    /* Seq_cst: K7, pairs with the increment of call_pending in rk__call_link(); release also hands our use
     * of the K2H consumer handle to the next drainer's compare-and-swap. */
    atomic_store_explicit(&k->call_draining, 0, memory_order_seq_cst);
    if (atomic_load_explicit(&k->call_pending, memory_order_seq_cst) != 0) {
        pthread_mutex_lock(&k->call_lock);
        rk__call_promote(k);
        pthread_mutex_unlock(&k->call_lock);
    }
}

/* Copies reply e into c's buffer and marks c done; wakes its caller (under call_lock: the caller destroys
 * the condition variable only after it took the lock back, so the signal has returned by then). */
static void rk__call_deliver(rk__call *c, const rk_envelope *e)
{
    c->rc = rk__msg_copy(e, c->reply);
    if ((e->flags & RK_ENV_ERROR) && e->payload_len >= sizeof c->code) {
        memcpy(&c->code, rk_envelope_payload_const(e), sizeof c->code);
        c->rc = RK_EHANDLER;
    }
    c->done = 1;
    if (c->has_cond)
        pthread_cond_signal(&c->cond);
}

/* The drainer's pass: peeks what K2H holds (waiting up to timeout_ns), hands each reply to its call (self,
 * the drainer's own, is not in the table) and drops what no call waits for, counted in host_dropped
 * (K7). Returns 0, or an error of rk__k2h_peek (RK_EAGAIN/RK_ETIMEDOUT when nothing came). */
static int rk__call_drain(rk_kernel *k, rk__call *self, int64_t timeout_ns)
{
    const rk_envelope *newest = NULL;
    uint32_t valid = 0;
    uint64_t pos, dropped = 0;
    int locked = 0, n;

    if ((n = rk__k2h_peek(k, RK__CALL_BATCH, &pos, timeout_ns, "rk_call")) < 0)
        return n;
    for (int i = 0; i < n; i++) {
        const rk_envelope *e = rk_queue_slot(&k->k2h, pos + (uint64_t)i);

        if (rk_envelope_check(e, k->k2h.slot_size) != 0)
            continue;
        valid |= 1u << i;
        if (newest == NULL || rk_hlc_compare(&e->hlc, &newest->hlc) > 0)
            newest = e;
    }
    rk__k2h_merge(k, newest); /* K5: before any caller sees its reply */
    for (int i = 0; i < n; i++) {
        const rk_envelope *e = rk_queue_slot(&k->k2h, pos + (uint64_t)i);
        rk__call *c = NULL;

        if ((valid & (1u << i)) && (e->flags & RK_ENV_REPLY) && e->correlation_id != 0) {
            if (e->correlation_id == self->corr) {
                c = self;
            } else {
                if (!locked) {
                    pthread_mutex_lock(&k->call_lock);
                    locked = 1;
                }
                c = rk__call_unlink(k, e->correlation_id);
            }
        }
        if (c != NULL)
            rk__call_deliver(c, e);
        else
            dropped++;
    }
    if (locked)
        pthread_mutex_unlock(&k->call_lock);
    if (dropped > 0) /* Relaxed: a statistic. */
        atomic_fetch_add_explicit(&k->host_dropped, dropped, memory_order_relaxed);
    rk__k2h_release(k, (uint32_t)n);
    return 0;
}

/* With the drain role: drains until c's reply came, the deadline passed (a passed deadline still gets one
 * look) or the kernel stopped; then gives the role up. Returns 0 or the error. */
static int rk__call_lead(rk_kernel *k, rk__call *c, int64_t deadline, int try_once)
{
    int rc;

    do {
        rc = rk__call_drain(k, c, try_once ? 0 : rk__remaining(deadline));
        /* Others' replies keep a drainer busy: its own deadline still ends the call. */
        if (rc == 0 && !c->done && deadline >= 0 && rk_monotonic_ns() >= deadline)
            rc = RK_EAGAIN;
    } while (rc == 0 && !c->done);
    rk__call_unlead(k);
    if (rc == RK_EAGAIN && !try_once)
        return rk__err(RK_ETIMEDOUT, "rk_call: no reply from kernel %u", k->id);
    return rc;
}

/* Under call_lock: sleeps until c is signalled or the deadline (-1: none) passes. Returns 0 or RK_ENOMEM. */
static int rk__call_sleep(rk_kernel *k, rk__call *c, int64_t deadline)
{
    pthread_condattr_t attr;
    struct timespec ts;

    if (!c->has_cond) {
        /* CLOCK_MONOTONIC, the clock of every deadline in the library. A few stores on Linux. */
        if (pthread_condattr_init(&attr) != 0)
            return rk__err(RK_ENOMEM, "rk_call: cannot initialise a condition variable");
        (void)pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        c->has_cond = pthread_cond_init(&c->cond, &attr) == 0;
        pthread_condattr_destroy(&attr);
        if (!c->has_cond)
            return rk__err(RK_ENOMEM, "rk_call: cannot initialise a condition variable");
    }
    if (deadline < 0) {
        pthread_cond_wait(&c->cond, &k->call_lock);
    } else {
        ts.tv_sec = (time_t)(deadline / 1000000000);
        ts.tv_nsec = (long)(deadline % 1000000000);
        (void)pthread_cond_timedwait(&c->cond, &k->call_lock, &ts); /* the caller re-checks everything */
    }
    return 0;
}

/* A linked call after its send: waits for the drainer to deliver its reply, or takes the drain role when
 * it is free (K7). On any failure c is unlinked, so a late reply is dropped. Returns 0 or the error. */
static int rk__call_wait(rk_kernel *k, rk__call *c, int64_t deadline, int try_once)
{
    int rc = 0;

    pthread_mutex_lock(&k->call_lock);
    while (!c->done && rc == 0) {
        if (rk__call_lead_try(k)) {
            (void)rk__call_unlink(k, c->corr); /* the drainer finds its own reply without the table */
            pthread_mutex_unlock(&k->call_lock);
            return rk__call_lead(k, c, deadline, try_once);
        }
        if (try_once)
            rc = RK_EAGAIN; /* polling: no detail string (as rk__wait_round) */
        else if (deadline >= 0 && rk_monotonic_ns() >= deadline)
            rc = rk__err(RK_ETIMEDOUT, "rk_call: no reply from kernel %u", k->id);
        else
            rc = rk__call_sleep(k, c, deadline);
    }
    if (rc != 0)
        (void)rk__call_unlink(k, c->corr);
    pthread_mutex_unlock(&k->call_lock);
    return rc;
}

/* With the drain role: sends req, draining K2H while H2K is full (a kernel waiting for K2H room takes no
 * more requests, so a drainer that only waited could wait on itself). Returns 0 or an error as rk_send. */
static int rk__call_send_leading(rk_kernel *k, rk__call *self, const rk_msg *req, int64_t timeout_ns)
{
    rk__wait w = { .started = 0 };
    int rc;

    while ((rc = rk_send(k, req, 0)) == RK_EAGAIN) {
        (void)rk__call_drain(k, self, 0); /* failures show in the next send */
        if ((rc = rk__wait_round(&w, timeout_ns, "rk_call", "H2K stayed full", k->id)) != 0)
            return rc;
    }
    return rc;
}

/* The caller's result, reported in its own thread (the drainer may have been another). */
static int rk__call_result(rk_kernel *k, const rk__call *c)
{
    if (c->rc == RK_EHANDLER)
        return rk__err(RK_EHANDLER, "rk_call: the handler of kernel %u ('%s') failed with %s", k->id, k->name,
                       rk_err_name(c->code));
    if (c->rc == RK_EMSGSIZE)
        return rk__err(RK_EMSGSIZE, "rk_call: payload of %u bytes truncated to %u", c->reply->env.payload_len,
                       c->reply->payload_cap);
    return 0;
}

int rk_call(rk_kernel *k, const rk_msg *m, rk_msg *reply, int64_t timeout_ns)
{
    int64_t deadline = rk__deadline(timeout_ns);
    rk__call c = { .reply = reply };
    rk_msg req;
    int rc;

    if (k == NULL || m == NULL || reply == NULL)
        return rk__err(RK_EINVAL, "rk_call: NULL argument");
    if (reply->payload == NULL && reply->payload_cap > 0)
        return rk__err(RK_EINVAL, "rk_call: reply payload is NULL but payload_cap is %u", reply->payload_cap);
    if (k->peeked)
        return rk__err(RK_EINVAL, "rk_call: a peeked message is not released yet");
    req = *m;
    req.env.flags |= RK_ENV_REQUEST;
    req.env.correlation_id = c.corr = rk_correlation_next();
    if (rk__call_lead_try(k)) { /* fast path: nobody else drains, so no table entry is needed */
        if ((rc = rk__call_send_leading(k, &c, &req, timeout_ns)) != 0) {
            rk__call_unlead(k);
            return rc;
        }
        rc = rk__call_lead(k, &c, deadline, timeout_ns == 0);
    } else {
        /* Linked before the send, so the drainer that sees the reply finds the call. */
        pthread_mutex_lock(&k->call_lock);
        rc = rk__call_link(k, &c);
        pthread_mutex_unlock(&k->call_lock);
        if (rc != 0)
            return rc;
        /* While H2K is full, the drainer may leave and nobody else drain: replies nobody waits for can
         * then fill K2H, and a kernel waiting for K2H room takes no requests. So a linked caller sends
         * without waiting, and between tries takes the drain role if it is free (K7). */
        rk__wait w = { .started = 0 };
        while ((rc = rk_send(k, &req, 0)) == RK_EAGAIN) {
            if (rk__call_lead_try(k)) {
                pthread_mutex_lock(&k->call_lock);
                (void)rk__call_unlink(k, c.corr); /* not sent yet: no reply can be on its way */
                pthread_mutex_unlock(&k->call_lock);
                if ((rc = rk__call_send_leading(k, &c, &req, rk__remaining(deadline))) != 0) {
                    rk__call_unlead(k);
                    return rc;
                }
                rc = rk__call_lead(k, &c, deadline, timeout_ns == 0);
                return rc != 0 ? rc : rk__call_result(k, &c);
            }
            if ((rc = rk__wait_round(&w, timeout_ns, "rk_call", "H2K stayed full", k->id)) != 0)
                break;
        }
        if (rc != 0) {
            pthread_mutex_lock(&k->call_lock);
            (void)rk__call_unlink(k, c.corr);
            pthread_mutex_unlock(&k->call_lock);
            return rc;
        }
        rc = rk__call_wait(k, &c, deadline, timeout_ns == 0);
        if (c.has_cond)
            pthread_cond_destroy(&c.cond);
    }
    return rc != 0 ? rc : rk__call_result(k, &c);
}

/* ---- Destroy ---------------------------------------------------------------------------------------- */

/* Waits for a kernel rk_runtime_destroy asked to stop. A kernel can only be stuck on a full K2H (it
 * waits for room for a reply before it handles a message): those replies nobody can receive any more
 * are discarded, counted as dropped (not as received), so that it can finish its drain. */
static int rk__destroy_wait(rk_kernel *k)
{
    int64_t deadline = rk_monotonic_ns() + RK__DESTROY_DEADLINE_NS;
    const rk_backend_ops *ops = k->rt->ops;
    uint32_t cap = rk_queue_capacity(&k->k2h);
    uint64_t pos;
    int rc, n;

    if (k->peeked) {
        k->peeked = 0;
        rk__k2h_release(k, 1);
    }
    while ((rc = ops->wait_stopped(k, RK_TIMEOUT_MS(1))) != 0) {
        if (k->ll)
            rk__ll_pull(k); /* L3: what arrived on the wire counts towards the full ring */
        if (rk_queue_size(&k->k2h) >= cap && (n = rk_queue_peek_spsc(&k->k2h, cap, &pos)) > 0) {
            (void)rk_queue_release_spsc(&k->k2h, (uint32_t)n); /* R2 in queue.c */
            /* Relaxed: a statistic. */
            atomic_fetch_add_explicit(&k->host_dropped, (uint64_t)n, memory_order_relaxed);
            if (ops->notify_k2h != NULL)
                ops->notify_k2h(k); /* K4 */
        }
        if (rk_monotonic_ns() >= deadline)
            return rk__err(RK_ENOTRESPONDING, "rk_runtime_destroy: kernel %u ('%s') did not stop within 1 s",
                           k->id, k->name);
    }
    return 0;
}

int rk_runtime_destroy(rk_runtime *rt)
{
    rk_kernel *list, *k, *next;
    int result = 0, rc;

    if (rt == NULL || !rk__live_remove(rt))
        return rk__err(RK_EBADHANDLE, "rk_runtime_destroy: %p is not a live runtime", (void *)rt);
    pthread_mutex_lock(&rt->lock);
    list = rt->kernels;
    rt->kernels = NULL;
    pthread_mutex_unlock(&rt->lock);

    /* Every kernel is asked to stop first, so they drain in parallel; then each gets its deadline. */
    for (k = list; k != NULL; k = k->next)
        if (atomic_exchange_explicit(&k->closing, 1, memory_order_seq_cst) == 0) /* K1, K2 */
            rk__terminate_request(k);
    for (k = list; k != NULL; k = k->next) {
        if ((rc = rk__destroy_wait(k)) != 0) {
            rk__kernel_mark_failed(k);
            result = rc;
        }
        rk__kernel_stopped(k);
    }
    /* Every kernel is released (its handlers finished) before any is freed: a handler of one may still
     * look up another to send to it (K6). */
    for (k = list; k != NULL; k = k->next)
        rt->ops->release(k);
    for (k = list; k != NULL; k = next) {
        next = k->next;
        rt->ops->region_free(rt, k->region);
        free(k->ll_shadow);
        pthread_mutex_destroy(&k->call_lock);
        free(k);
    }
    /* Compute objects the user left are freed while the backend's compute state still exists. */
    rk__compute_destroy_all(rt);
    rt->ops->destroy(rt);
    rk__k2k_destroy(rt);
    pthread_mutex_destroy(&rt->compute_lock);
    pthread_mutex_destroy(&rt->lock);
    free(rt);
    return result;
}
