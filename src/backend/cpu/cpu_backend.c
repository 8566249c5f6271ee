/* cpu_backend.c - the CPU backend: actors scheduled on a pool of worker threads, as CAF and Pony do.
 *
 * A kernel here is an actor: a handler, its state, and the kernel's H2K/K2H rings and control block
 * (the same memory layout the GPU backends use). A few worker threads (one per core by default) run all
 * actors of a runtime, so ten thousand idle actors cost memory, not threads, and no CPU at all.
 *
 * Scheduling of one actor:
 *
 *              notify: exchange(scheduled, 1) == 0, push            pop
 *     IDLE ---------------------------------------------> READY ---------> RUNNING
 *      ^                                                    ^                 |
 *      |  H2K empty: exchange(scheduled, 0), re-check       |  batch used up  |
 *      +---------------------------- rk__cpu_idle() --------+-----------------+
 *                                                           |                 | K2H full before a handler:
 *                   host consumed K2H: exchange(k2h_wait,0) |                 | rk__cpu_park()
 *                   == 1, push (rk__cpu_notify_k2h)         +---- PARKED <----+
 *
 *     RUNNING --H2K empty, no other actor ready--> lingers up to RK__CPU_SPIN_NS on its H2K (S7), then
 *                                                  goes on RUNNING or IDLE
 *     RUNNING --terminate seen, then H2K and K2K inbox empty--> STOPPED (rk__cpu_stop; scheduled stays 1)
 *
 * A K2K send (k2k.h) by any handler is a sender like the host: it publishes into the destination's inbox and
 * does what notify does (IDLE --> READY on the 0 -> 1 exchange).
 *
 * Invariants (cited below as S1..S11):
 *   S1  An actor's private part (its kernel-side queue handles, state, clock, counters) is touched only by
 *       its owner. The owner is whoever last changed `scheduled` from 0 to 1 (a sender in notify, or the
 *       worker re-claiming it in rk__cpu_idle), or whoever changed `k2h_wait` from 1 to 0 while it was
 *       parked; ownership passes to a worker through the pool's ready queue (under its mutex) and ends
 *       when the worker exchanges scheduled to 0 (X2) or k2h_wait to 1 (X4). So a mailbox is processed
 *       by at most one worker at a time, and handlers need no locks for their state.
 *   S2  scheduled == 1 while the actor is READY, RUNNING, PARKED or STOPPED; a sender pushes it only on
 *       the 0 -> 1 transition, so it is never twice in the ready queue.
 *   S3  No lost wake-up on H2K. The sender publishes (R1/R3 in queue.c), then X1: exchange(scheduled, 1);
 *       the worker going idle does X2: exchange(scheduled, 0), then re-checks H2K and terminate. Both are
 *       read-modify-writes of one word, so they are ordered: if X1 comes first, X2 reads its value and
 *       synchronizes with it (acq_rel), so the re-check sees the message; if X2 comes first, X1 reads 0
 *       and the sender pushes the actor. Either the sender schedules it or the worker re-claims it.
 *   S4  No lost wake-up on K2H, the same way: the worker that finds K2H full does X4: exchange(k2h_wait,
 *       1), then re-checks room; the host consumes K2H (R2 in queue.c), then X3: exchange(k2h_wait, 0).
 *   (Not a store, a fence and a load, as Dekker is usually written: ThreadSanitizer does not model
 *   atomic_thread_fence, and on x86 a locked exchange costs what mfence costs.)
 *   S5  Room for the first reply of every message: before a handler runs, one K2H slot is reserved ahead
 *       (out_open). A handler's first reply uses it, so a handler that replies once never sees RK_EAGAIN,
 *       and a message is never handled when its reply could not be published.
 *   S6  The control block's kernel-written fields are published with atomic stores at the end of each
 *       activation; the state goes to STOPPED last, with release, so a host that reads STOPPED (acquire)
 *       reads the final counters and every reply. State changes are compare-and-swap so they never
 *       overwrite a FAILED that the host wrote after a terminate timed out.
 *   S7  Spinning: at most one worker per pool spins at a time (it holds spin_token), either lingering on
 *       the actor it just drained (rk__cpu_linger: a ping-pong or a stream with short gaps stays on one
 *       warm worker and never touches the ready queue) or waiting for the ready queue. Every other idle
 *       worker sleeps, so a 2-core machine keeps a core for the host. A worker checks the ready queue
 *       under the lock before it sleeps, and enqueue signals a sleeper when there is more ready work than
 *       spinners, so a spinner that stops spinning never strands a ready actor.
 *   S8  K2K inbox. Every actor has an inbox: an MPSC queue on the heap (queue.h) with the capacity and slot
 *       size of its H2K. Any handler of the runtime produces into it (rk__k2k_send); only the owner (S1)
 *       consumes. The producers' side of the handle (hdr, seq, slots, mask) is read-only after launch, so
 *       producers share the one handle with the consumer. A send never waits: RK_EAGAIN when it is full.
 *   S9  No lost wake-up on the inbox: S3 with a handler as the sender. It publishes (R3 in queue.c), then
 *       X5: exchange(scheduled, 1), pushing on 0 -> 1; rk__cpu_idle's re-check after X2 and rk__cpu_linger
 *       look at the inbox as at H2K. A self-send reads 1 (the actor runs) and the running loop finds it.
 *   S10 Fairness between the sources: an activation alternates peeks of H2K and of the inbox, at most
 *       RK__CPU_SLICE messages each, within its budget of RK__CPU_BATCH; neither starves the other.
 *   S11 Drain and lifetime. The actor stops only when it saw terminate and then found H2K and the inbox
 *       empty in the same pass; K6 (runtime.c) makes every accepted K2K message visible before terminate.
 *       A sender touches the destination's actor (inbox, scheduled, pool) only inside its K6 window, after
 *       it saw `closing` == 0, and closes the window after X5; terminate waits for every window, and the
 *       actor is released only after terminate, so no sender touches a released actor.
 *   S12 Publications (k2k.h) are all or nothing. A publication opens the K6 window of every subscriber and
 *       reserves one inbox slot in each (in ascending address order) before it writes any; if an inbox is
 *       full it turns the slots it holds into RK_ENV_SYSTEM no-ops (a claimed MPSC slot cannot be given
 *       back: the consumer waits for it in order) and delivers nothing. It never waits while it holds a
 *       window or a slot, so terminate's wait for the windows (S11) stays short, and two publications that
 *       reserve in each other's subscribers cannot wait for each other: a host publication waits for room
 *       only between attempts, holding nothing. Each slot is committed and its actor woken (X5) before its
 *       window closes, as for a send.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backend/cpu/cpu_internal.h"
#include "core/internal.h"
#include "ringkernel/k2k.h"
#include "ringkernel/message.h"

/** Messages one activation handles before the actor goes to the back of the ready queue (fairness). */
#define RK__CPU_BATCH 64u
/** Messages one peek of H2K or of the K2K inbox takes within an activation (S10). */
#define RK__CPU_SLICE (RK__CPU_BATCH / 2u)
/** How long the one spinning worker (S7) spins before it sleeps: a ping-pong and short gaps stay hot. */
#define RK__CPU_SPIN_NS 20000
/** Upper bound of worker threads per runtime. */
#define RK__CPU_MAX_WORKERS 1024u
/** Upper bound of the state of one kernel (all instances). */
#define RK__CPU_MAX_STATE ((size_t)1 << 32)

typedef struct rk__cpu_pool rk__cpu_pool;
typedef struct rk__cpu_actor rk__cpu_actor;

/** What an activation ended with; tells the worker what to do with the actor. */
typedef enum rk__cpu_run_result {
    RK__RUN_IDLE,    /* gave up ownership (S3) or it passed to someone else */
    RK__RUN_REQUEUE, /* still owned, more to do: back of the ready queue */
    RK__RUN_PARKED,  /* waiting for K2H room (S4) */
    RK__RUN_STOPPED, /* stopped or failed: never runs again */
} rk__cpu_run_result;

struct rk_actor_ctx {
    rk__cpu_actor *a;
    void *state;       /* this instance's state, NULL if state_size is 0 */
    uint32_t instance; /* low half of the address the message was sent to */
    int reply_open;    /* rk_actor_reply_reserve() is waiting for its commit */
};

/** An error reply that could not be published yet (K2H was full after the handler's own replies). */
typedef struct rk__cpu_pending {
    int valid;
    int32_t code;
    uint64_t type_id, correlation_id;
    rk_addr source, dest;
} rk__cpu_pending;

struct rk__cpu_actor {
    /* Read-only after launch. */
    rk_kernel *k;
    rk__cpu_pool *pool;
    rk_control_block *cb;
    rk_actor_def def;
    uint8_t *state;           /* instances * state_stride bytes */
    uint32_t state_size, state_stride, instances, payload_max;
    int mpsc;                 /* H2K is MPSC */
    uint32_t in_slot;         /* H2K slot size (the inbox's too) */
    rk_queue *k2k;            /* K2K inbox (S8): senders use the producer side, the owner consumes */

    /* Owner only (S1). */
    rk_queue in;              /* H2K, consumer side */
    rk_queue out;             /* K2H, producer side */
    rk_hlc_clock hlc;         /* node id = kernel id */
    rk_hlc_ts last_ts;        /* the clock's last stamp, published as cb->last_hlc_* */
    uint64_t out_pos;         /* the slot reserved ahead (S5), when out_open */
    int out_open;
    int draining;             /* DRAINING was written */
    int batch_merged;         /* the current peek's newest HLC stamp was merged (rk__cpu_merge_batch) */
    int paused;               /* the actor acknowledged a pause request (state PAUSED) */
    rk_hlc_ts pool_next;      /* next reply stamp reserved for the current batch (rk_hlc_now_n) */
    uint32_t pool_left;       /* reply stamps left in the pool; 0: stamp replies one by one */
    uint64_t out_seq, msgs_in, msgs_out, errors, heartbeat; /* mirrored into the control block (S6) */
    uint64_t k2k_seq;         /* the kernel's last K2K sequence number */
    uint64_t k2k_in, k2k_out, dropped; /* mirrored into the control block (S6) */
    int32_t last_error;
    rk__cpu_pending pending;
    rk_actor_ctx ctx;

    /* Scheduling words (S2-S4), on their own line: senders exchange them while the owner works. */
    RK_ALIGNAS(RK_CACHE_LINE) _Atomic uint32_t scheduled;
    _Atomic uint32_t k2h_wait;

    /* Under pool->lock. */
    RK_ALIGNAS(RK_CACHE_LINE) rk__cpu_actor *ready_next;
    int queued;               /* in the ready queue */
    int running;              /* workers between pop and finish: briefly 2 when an actor handed over in
                                 rk__cpu_idle/park is popped before the old worker's finish (S1 holds:
                                 the old worker no longer touches its private part) */
    int dead;                 /* rk__cpu_release() started: never queue it again */
};

struct rk__cpu_pool {
    pthread_mutex_t lock;
    pthread_cond_t work_cv;   /* idle workers sleep here */
    pthread_cond_t done_cv;   /* rk__cpu_release() waits here for a worker to let go of a dead actor */
    rk__cpu_actor *ready_head, *ready_tail; /* under lock */
    _Atomic uint32_t nready;  /* length of the ready queue: written under lock, read by the spinner */
    uint32_t nsleeping;       /* under lock */
    _Atomic uint32_t spin_token; /* 1 while a worker spins or lingers (S7) */
    int stop;                 /* under lock */
    uint32_t nworkers;        /* threads started */
    pthread_t *threads;
};

/* ---- Control block ----------------------------------------------------------------------------------- */

static uint32_t rk__cpu_state(rk__cpu_actor *a)
{
    /* Acquire: pairs with the host's CAS to FAILED in runtime.c (nothing to read behind it, but cheap). */
    return atomic_load_explicit(rk__a32(&a->cb->state), memory_order_acquire);
}

/* S6: moves the state forward unless it is already terminal (FAILED written by the host stays). */
static void rk__cpu_set_state(rk__cpu_actor *a, uint32_t to)
{
    _Atomic uint32_t *st = rk__a32(&a->cb->state);
    uint32_t cur = atomic_load_explicit(st, memory_order_relaxed);

    while (cur != RK_STATE_FAILED && cur != RK_STATE_STOPPED) {
        /* Release: pairs with the acquire loads of state in runtime.c (rk_kernel_state_get, stats, recv):
         * the counters and replies published before are visible to whoever sees the new state. */
        if (atomic_compare_exchange_weak_explicit(st, &cur, to, memory_order_release, memory_order_relaxed))
            return;
    }
}

/* S6: the kernel-written counters. Relaxed: statistics; the final values are ordered by the release of
 * STOPPED in rk__cpu_set_state(). */
static void rk__cpu_publish(rk__cpu_actor *a)
{
    rk_control_block *cb = a->cb;

    atomic_store_explicit(rk__a64(&cb->heartbeat), a->heartbeat, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->msgs_in), a->msgs_in, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->msgs_out), a->msgs_out, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->errors), a->errors, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->dropped), a->dropped, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->k2k_in), a->k2k_in, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->k2k_out), a->k2k_out, memory_order_relaxed);
    atomic_store_explicit(rk__ai32(&cb->last_error), a->last_error, memory_order_relaxed);
    atomic_store_explicit(rk__a64(&cb->last_hlc_physical), a->last_ts.physical, memory_order_relaxed);
    atomic_store_explicit(rk__a32(&cb->last_hlc_logical), a->last_ts.logical, memory_order_relaxed);
}

/* ---- Ready queue and workers --------------------------------------------------------------------------- */

/* Under lock. wake = 0 when the calling worker dequeues next anyway (a requeue). */
static void rk__cpu_enqueue(rk__cpu_pool *p, rk__cpu_actor *a, int wake)
{
    uint32_t n;

    a->ready_next = NULL;
    if (p->ready_tail != NULL)
        p->ready_tail->ready_next = a;
    else
        p->ready_head = a;
    p->ready_tail = a;
    a->queued = 1;
    /* Relaxed: written under the lock; the spinner only uses it as a hint and then takes the lock. */
    n = atomic_load_explicit(&p->nready, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->nready, n, memory_order_relaxed);
    /* Wake a sleeper only for work the spinner (if any) will not take (S7). Relaxed: the spinner re-checks
     * the queue under this lock before it sleeps. */
    if (wake && p->nsleeping > 0 && n > atomic_load_explicit(&p->spin_token, memory_order_relaxed))
        pthread_cond_signal(&p->work_cv);
}

/* Under lock. */
static rk__cpu_actor *rk__cpu_dequeue(rk__cpu_pool *p)
{
    rk__cpu_actor *a = p->ready_head;
    uint32_t n;

    if (a == NULL)
        return NULL;
    p->ready_head = a->ready_next;
    if (p->ready_head == NULL)
        p->ready_tail = NULL;
    a->ready_next = NULL;
    a->queued = 0;
    a->running++;
    n = atomic_load_explicit(&p->nready, memory_order_relaxed) - 1; /* relaxed: as in enqueue */
    atomic_store_explicit(&p->nready, n, memory_order_relaxed);
    /* More ready actors and nobody spinning: wake a helper. Relaxed: as in enqueue. */
    if (n > 0 && p->nsleeping > 0 && atomic_load_explicit(&p->spin_token, memory_order_relaxed) == 0)
        pthread_cond_signal(&p->work_cv);
    return a;
}

/* Called by the party that just became the owner (S1) to hand the actor to a worker. */
static void rk__cpu_push(rk__cpu_actor *a)
{
    rk__cpu_pool *p = a->pool;

    pthread_mutex_lock(&p->lock);
    if (!a->dead)
        rk__cpu_enqueue(p, a, 1);
    pthread_mutex_unlock(&p->lock);
}

/* Under lock: the worker is done with an activation. After this, the worker never touches `a` again. */
static void rk__cpu_finish(rk__cpu_pool *p, rk__cpu_actor *a, rk__cpu_run_result res)
{
    a->running--;
    if (res == RK__RUN_REQUEUE && !a->dead)
        rk__cpu_enqueue(p, a, 0); /* this worker dequeues next; dequeue wakes a helper if more wait */
    if (a->dead && a->running == 0)
        pthread_cond_broadcast(&p->done_cv);
}

/* S7: takes the spin token if nobody holds it. Relaxed: the token orders nothing, it only limits how
 * many workers burn a core. */
static int rk__cpu_spin_begin(rk__cpu_pool *p)
{
    uint32_t free_token = 0;

    return atomic_compare_exchange_strong_explicit(&p->spin_token, &free_token, 1, memory_order_relaxed,
                                                   memory_order_relaxed);
}

static void rk__cpu_spin_end(rk__cpu_pool *p) { atomic_store_explicit(&p->spin_token, 0, memory_order_relaxed); }

/* Under lock (returns with it held): spin briefly if no other worker spins, then sleep until signalled. */
static void rk__cpu_wait_for_work(rk__cpu_pool *p)
{
    if (rk__cpu_spin_begin(p)) {
        int64_t deadline = rk_monotonic_ns() + RK__CPU_SPIN_NS;

        pthread_mutex_unlock(&p->lock);
        for (uint32_t i = 1;; i++) {
            /* Relaxed: a hint; the ready queue itself is read under the lock below. */
            if (atomic_load_explicit(&p->nready, memory_order_relaxed) > 0)
                break;
            rk__cpu_relax();
            if ((i & 63) == 0 && rk_monotonic_ns() >= deadline)
                break;
        }
        pthread_mutex_lock(&p->lock);
        rk__cpu_spin_end(p); /* under the lock: enqueue sees it together with nsleeping (S7) */
        if (p->ready_head != NULL || p->stop)
            return;
    }
    p->nsleeping++;
    pthread_cond_wait(&p->work_cv, &p->lock);
    p->nsleeping--;
}

static rk__cpu_run_result rk__cpu_run(rk__cpu_actor *a);

static void *rk__cpu_worker(void *arg)
{
    rk__cpu_pool *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        rk__cpu_actor *a = rk__cpu_dequeue(p);

        if (a == NULL) {
            rk__cpu_wait_for_work(p);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        rk__cpu_run_result res = rk__cpu_run(a);
        pthread_mutex_lock(&p->lock);
        rk__cpu_finish(p, a, res);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- Replies ------------------------------------------------------------------------------------------- */

/* S5: makes sure one K2H slot is reserved ahead. Returns 1 if it is, 0 if K2H is full. */
static int rk__cpu_out_prepare(rk__cpu_actor *a)
{
    if (a->out_open)
        return 1;
    if (rk_queue_reserve_spsc(&a->out, 1, &a->out_pos) != 1)
        return 0;
    a->out_open = 1;
    return 1;
}

/* A K2H slot for one reply: the one reserved ahead, else a fresh one. Returns 0 or RK_EAGAIN (no detail:
 * the worker's park path meets it on every full K2H; the handler-facing callers add one). */
static int rk__cpu_out_slot(rk__cpu_actor *a, uint64_t *pos)
{
    if (!rk__cpu_out_prepare(a))
        return RK_EAGAIN;
    a->out_open = 0; /* the reservation is now the reply's; rk__cpu_out_publish() commits it */
    *pos = a->out_pos;
    return 0;
}

/* Stamps an outgoing message (a reply or a K2K send) with the kernel's clock. */
static void rk__cpu_stamp(rk__cpu_actor *a, rk_hlc_ts *ts)
{
    if (a->pool_left > 0) { /* one stamp per message was reserved when the batch was merged */
        *ts = a->pool_next;
        a->pool_next.logical++;
        a->pool_left--;
    } else {
        (void)rk_hlc_now(&a->hlc, ts); /* cannot fail short of the year 2554 */
    }
    a->last_ts = *ts;
}

/* Writes every header field of an outgoing message (a reply or a K2K send) from instance `instance`,
 * stamped with the kernel's clock and numbered from *seq. */
static void rk__cpu_header(rk__cpu_actor *a, rk_envelope *e, uint32_t instance, uint8_t flags, uint64_t type_id,
                           uint64_t correlation_id, rk_addr dest, uint32_t len, uint64_t *seq)
{
    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->flags = flags;
    e->payload_len = len;
    e->type_id = type_id;
    e->correlation_id = correlation_id;
    e->source = RK_ADDR(a->k->id, instance);
    e->dest = dest;
    rk__cpu_stamp(a, &e->hlc);
    e->seq = ++*seq;
}

/* Fills the envelope of the reply at pos. */
static rk_envelope *rk__cpu_out_fill(rk__cpu_actor *a, uint32_t instance, uint64_t pos, uint8_t flags,
                                     uint64_t type_id, uint64_t correlation_id, rk_addr dest, uint32_t len)
{
    rk_envelope *e = rk_queue_slot(&a->out, pos);

    rk__cpu_header(a, e, instance, flags, type_id, correlation_id, dest, len, &a->out_seq);
    return e;
}

/* Publishes the reply slot taken by rk__cpu_out_slot(). */
static void rk__cpu_out_publish(rk__cpu_actor *a)
{
    (void)rk_queue_commit_spsc(&a->out, 1); /* R1 in queue.c: the host sees the whole slot */
    a->msgs_out++;
}

/* ---- K2K sends (S8, S9, S11; K6 in runtime.c) ------------------------------------------------------- */

static void rk__cpu_push(rk__cpu_actor *a);

/* Why a kernel inside its K6 window does not take messages: RK_EFAULT if it failed, else RK_ECLOSED. */
static int rk__k2k_closed(rk_kernel *dk, const char *fn)
{
    /* Acquire: as every read of the state (runtime.c); nothing is read behind it. */
    if (atomic_load_explicit(rk__a32(&dk->cb->state), memory_order_acquire) == RK_STATE_FAILED)
        return rk__err(RK_EFAULT, "%s: kernel %u ('%s') failed", fn, dk->id, dk->name);
    return rk__err(RK_ECLOSED, "%s: kernel %u ('%s') is terminating or stopped", fn, dk->id, dk->name);
}

/* Sends one message from instance `instance` of actor a to dest's inbox. Returns 0, or RK_EAGAIN (no
 * detail: backpressure), RK_EINVAL, RK_ENOENT, RK_EMSGSIZE, RK_ECLOSED, RK_EFAULT. */
static int rk__k2k_send(rk__cpu_actor *a, uint32_t instance, rk_addr dest, uint64_t type_id, uint8_t flags,
                        uint64_t correlation_id, const void *payload, uint32_t len, const char *fn)
{
    rk_kernel *dk;
    rk__cpu_actor *da;
    rk_envelope *e;
    void *slot;
    uint64_t pos;
    int rc;

    if (RK_ADDR_KERNEL(dest) == 0)
        return rk__err(RK_EINVAL, "%s: dest is the host (rk_actor_reply reaches it)", fn);
    dk = rk__kdir_lookup(a->k->rt, RK_ADDR_KERNEL(dest));
    if (dk == NULL || RK_ADDR_INSTANCE(dest) >= dk->opts.instances)
        return rk__err(RK_ENOENT, "%s: no actor at kernel %u instance %u", fn, RK_ADDR_KERNEL(dest),
                       RK_ADDR_INSTANCE(dest));
    if (len > rk_payload_max(dk->opts.slot_size))
        return rk__err(RK_EMSGSIZE, "%s: payload of %u bytes, kernel %u takes at most %u", fn, len, dk->id,
                       rk_payload_max(dk->opts.slot_size));
    /* K6 (runtime.c): seq_cst, pairs with the exchange of closing and the load of k2k_inflight in
     * rk_kernel_terminate(). */
    atomic_fetch_add_explicit(&dk->k2k_inflight, 1, memory_order_seq_cst);
    if (atomic_load_explicit(&dk->closing, memory_order_seq_cst) != 0) {
        rc = rk__k2k_closed(dk, fn);
        goto leave;
    }
    da = dk->backend_data; /* S11: set before the kernel was published, released only after terminate */
    if (rk_queue_reserve_mpsc(da->k2k, &slot, &pos) != 0) {
        rc = RK_EAGAIN; /* S8: full; the caller decides */
        goto leave;
    }
    e = slot;
    rk__cpu_header(a, e, instance, flags, type_id, correlation_id, dest, len, &a->k2k_seq);
    if (len > 0)
        memcpy(rk_envelope_payload(e), payload, len);
    (void)rk_queue_commit_mpsc(da->k2k, pos); /* R3 in queue.c */
    a->k2k_out++;
    /* X5 (S9), as X1 in rk__cpu_notify(): pairs with X2 in rk__cpu_idle(). Inside the window (S11). */
    if (atomic_exchange_explicit(&da->scheduled, 1, memory_order_acq_rel) == 0)
        rk__cpu_push(da);
    rc = 0;
leave:
    /* Release: pairs with terminate's seq_cst load of k2k_inflight; the publication and the wake-up happen
     * before its store of cb->terminate (K6). */
    atomic_fetch_sub_explicit(&dk->k2k_inflight, 1, memory_order_release);
    return rc;
}

int rk_actor_send_ex(rk_actor_ctx *ctx, rk_addr dest, uint64_t type_id, uint32_t flags, uint64_t correlation_id,
                     const void *payload, uint32_t len)
{
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "rk_actor_send: ctx is NULL");
    if (payload == NULL && len > 0)
        return rk__err(RK_EINVAL, "rk_actor_send: payload is NULL");
    if (flags & ~(uint32_t)(RK_ENV_REQUEST | RK_ENV_REPLY))
        return rk__err(RK_EINVAL, "rk_actor_send: flags 0x%x (only RK_ENV_REQUEST, RK_ENV_REPLY)", flags);
    return rk__k2k_send(ctx->a, ctx->instance, dest, type_id, (uint8_t)flags, correlation_id, payload, len,
                        "rk_actor_send");
}

int rk_actor_send(rk_actor_ctx *ctx, rk_addr dest, uint64_t type_id, const void *payload, uint32_t len)
{
    return rk_actor_send_ex(ctx, dest, type_id, 0, 0, payload, len);
}

/* ---- Publications (S12; k2k.h) ---------------------------------------------------------------------- */

/** One subscriber of a publication while it is being delivered. */
typedef struct rk__pub_dest {
    rk_kernel *dk;       /* the subscriber's kernel (P4 in k2k.c: launched, of this runtime) */
    rk_envelope *e;      /* the inbox slot reserved in this attempt, NULL if none */
    uint64_t pos;        /* its position */
} rk__pub_dest;

/** Who publishes: the fields every delivery of one publication shares. */
typedef struct rk__pub_src {
    rk_addr source;
    rk_hlc_ts hlc;
    uint64_t seq;
} rk__pub_src;

/* Finds every subscriber's kernel and checks that the message fits it. Returns 0 or RK_EMSGSIZE (nothing
 * touched: a publication that fits nobody's slot fails as a whole). */
static int rk__pub_dests(rk_runtime *rt, const rk__publication *p, rk__pub_dest *d, const char *fn)
{
    uint32_t need = RK_TOPIC_HDR_SIZE(p->topic_len) + p->len;

    if (need < p->len)
        return rk__err(RK_EMSGSIZE, "%s: a payload of %u bytes is too large", fn, p->len);
    for (uint32_t i = 0; i < p->nsubs; i++) {
        rk_kernel *dk = rk__kdir_lookup(rt, RK_ADDR_KERNEL(p->subs[i]));

        d[i] = (rk__pub_dest){ .dk = dk };
        if (dk != NULL && need > rk_payload_max(dk->opts.slot_size))
            return rk__err(RK_EMSGSIZE, "%s: the topic header and %u bytes of payload need %u bytes; kernel %u "
                           "takes at most %u", fn, p->len, need, dk->id, rk_payload_max(dk->opts.slot_size));
    }
    return 0;
}

/* Fills the reserved slot of d as the delivery of p, or as a no-op when deliver is 0; publishes it, wakes
 * the subscriber (X5, S9) and closes the window (S11, S12). */
static void rk__pub_commit(const rk__publication *p, const rk__pub_src *src, rk__pub_dest *d, rk_addr dest,
                           int deliver)
{
    rk__cpu_actor *da = d->dk->backend_data; /* inside the window (S11) */
    rk_envelope *e = d->e;
    uint32_t hdr = RK_TOPIC_HDR_SIZE(p->topic_len);

    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->flags = deliver ? RK_ENV_TOPIC : RK_ENV_SYSTEM;
    e->payload_len = deliver ? hdr + p->len : 0;
    e->type_id = deliver ? p->type_id : 0;
    e->correlation_id = 0;
    e->source = src->source;
    e->dest = dest;
    e->hlc = src->hlc;
    e->seq = src->seq;
    if (deliver) {
        rk__topic_hdr_write(rk_envelope_payload(e), p);
        if (p->len > 0)
            memcpy((uint8_t *)rk_envelope_payload(e) + hdr, p->payload, p->len);
    }
    (void)rk_queue_commit_mpsc(da->k2k, d->pos); /* R3 in queue.c */
    /* X5 (S9), as in rk__k2k_send(): pairs with X2 in rk__cpu_idle(). A no-op slot wakes it too, so that it
     * is consumed and its room given back soon. */
    if (atomic_exchange_explicit(&da->scheduled, 1, memory_order_acq_rel) == 0)
        rk__cpu_push(da);
    d->e = NULL;
    /* Release: pairs with terminate's seq_cst load of k2k_inflight (K6), as in rk__k2k_send(). */
    atomic_fetch_sub_explicit(&d->dk->k2k_inflight, 1, memory_order_release);
}

/* One attempt (S12): reserves a slot in every live subscriber's inbox, then fills and commits them all.
 * Returns 0 with info counting the outcome; RK_EAGAIN with *full set to the index of the first full inbox
 * (without RK_PUBLISH_DROP_IF_FULL), after withdrawing every slot it held: nothing was delivered. */
static int rk__pub_attempt(const rk__publication *p, const rk__pub_src *src, rk__pub_dest *d,
                           rk_publish_info *info, uint32_t *full)
{
    int drop = (p->flags & RK_PUBLISH_DROP_IF_FULL) != 0;
    uint32_t i, n = p->nsubs;

    info->delivered = info->dropped = info->closed = 0;
    for (i = 0; i < n; i++) {
        rk_kernel *dk = d[i].dk;
        void *slot;

        if (dk == NULL) { /* cannot happen (P4); skipped like a closed subscriber if it did */
            info->closed++;
            continue;
        }
        /* K6 (runtime.c): seq_cst, pairs with the exchange of closing and the load of k2k_inflight in
         * rk_kernel_terminate(). The window stays open until rk__pub_commit() (S12). */
        atomic_fetch_add_explicit(&dk->k2k_inflight, 1, memory_order_seq_cst);
        if (atomic_load_explicit(&dk->closing, memory_order_seq_cst) != 0) {
            atomic_fetch_sub_explicit(&dk->k2k_inflight, 1, memory_order_release);
            info->closed++;
            continue;
        }
        if (rk_queue_reserve_mpsc(((rk__cpu_actor *)dk->backend_data)->k2k, &slot, &d[i].pos) != 0) {
            atomic_fetch_sub_explicit(&dk->k2k_inflight, 1, memory_order_release);
            if (drop) {
                info->dropped++;
                continue;
            }
            *full = i;
            for (uint32_t j = 0; j < i; j++) /* withdraw: nothing is delivered */
                if (d[j].e != NULL)
                    rk__pub_commit(p, src, &d[j], p->subs[j], 0);
            return RK_EAGAIN;
        }
        d[i].e = slot;
    }
    for (i = 0; i < n; i++) {
        if (d[i].e != NULL) {
            rk__pub_commit(p, src, &d[i], p->subs[i], 1);
            info->delivered++;
        }
    }
    return 0;
}

/* Whether the inbox of d has room now, or its kernel is closing (the next attempt skips it). Looks at the
 * actor inside a window (S11). */
static int rk__pub_room(rk__pub_dest *d)
{
    rk_queue *q;
    int room;

    atomic_fetch_add_explicit(&d->dk->k2k_inflight, 1, memory_order_seq_cst); /* K6 */
    if (atomic_load_explicit(&d->dk->closing, memory_order_seq_cst) != 0) {
        room = 1;
    } else {
        q = ((rk__cpu_actor *)d->dk->backend_data)->k2k;
        room = rk_queue_size(q) < rk_queue_capacity(q); /* a hint: the next attempt decides */
    }
    atomic_fetch_sub_explicit(&d->dk->k2k_inflight, 1, memory_order_release);
    return room;
}

/* Delivers a publication from src: once, or (wait != 0) re-trying until the deadline of b whenever the inbox
 * that was full has room again. Returns the number delivered or an error (S12). */
static int rk__pub_deliver(rk_runtime *rt, const rk__publication *p, const rk__pub_src *src, rk_backoff *b,
                           rk_publish_info *info, const char *fn)
{
    rk__pub_dest stack[32], *d = stack;
    uint32_t full = 0;
    int rc;

    if (p->nsubs > 32 && (d = malloc((size_t)p->nsubs * sizeof *d)) == NULL)
        return rk__err(RK_ENOMEM, "%s: cannot allocate %u delivery records", fn, p->nsubs);
    if ((rc = rk__pub_dests(rt, p, d, fn)) != 0)
        goto out;
    while ((rc = rk__pub_attempt(p, src, d, info, &full)) == RK_EAGAIN && b != NULL) {
        /* One backoff round per failed attempt, even when the full inbox already shows room again (another
         * sender may win that slot every time): the deadline is checked on every round. */
        int waited = rk_backoff_wait(b);

        while (waited == 0 && !rk__pub_room(&d[full]))
            waited = rk_backoff_wait(b);
        if (waited != 0)
            break; /* the deadline passed: rc is RK_EAGAIN */
    }
    if (rc == 0)
        rc = (int)info->delivered;
    else if (b != NULL) /* RK_EAGAIN after the deadline */
        rc = rk__err(RK_ETIMEDOUT, "%s: the inbox of kernel %u (subscriber %u of %u) stayed full; nothing was "
                     "delivered", fn, d[full].dk->id, full + 1, p->nsubs);
out:
    if (d != stack)
        free(d);
    return rc;
}

/* rk_backend_ops.publish: a host publication, stamped with the host clock (k2k.h). */
static int rk__cpu_publish_host(rk_runtime *rt, const rk__publication *p, int64_t timeout_ns,
                                rk_publish_info *info)
{
    rk__pub_src src = { .source = RK_ADDR_HOST };
    rk_backoff b;
    int rc;

    /* Relaxed: the number only has to be unique and increase along each publishing thread. */
    src.seq = atomic_fetch_add_explicit(&rt->pub_seq, 1, memory_order_relaxed) + 1;
    (void)rk_hlc_now(&rt->hlc, &src.hlc); /* cannot fail short of the year 2554 */
    if ((p->flags & RK_PUBLISH_DROP_IF_FULL) || timeout_ns == 0) {
        rc = rk__pub_deliver(rt, p, &src, NULL, info, "rk_publish");
        return rc == RK_EAGAIN ? rk__err(RK_EAGAIN, "rk_publish: a subscriber's inbox is full; nothing was "
                                         "delivered") : rc;
    }
    rk_backoff_init(&b, timeout_ns);
    return rk__pub_deliver(rt, p, &src, &b, info, "rk_publish");
}

int rk_actor_publish_ex(rk_actor_ctx *ctx, const char *topic, uint64_t type_id, uint32_t flags,
                        const void *payload, uint32_t len, rk_publish_info *info)
{
    rk_addr buf[32];
    rk__publication p;
    rk_publish_info local;
    rk__pub_src src;
    rk__cpu_actor *a;
    int n;

    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof *info);
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "rk_actor_publish: ctx is NULL");
    a = ctx->a;
    n = rk__publication_route(a->k->rt, topic, type_id, flags, payload, len, buf, 32, &p, "rk_actor_publish");
    if (n <= 0)
        return n; /* an error, or nobody subscribes */
    info->matched = p.nsubs;
    src.source = RK_ADDR(a->k->id, ctx->instance);
    rk__cpu_stamp(a, &src.hlc); /* one event: every delivery carries this stamp and number */
    src.seq = ++a->k2k_seq;
    n = rk__pub_deliver(a->k->rt, &p, &src, NULL, info, "rk_actor_publish");
    rk__publication_done(&p, buf);
    a->k2k_out += info->delivered;
    a->dropped += info->dropped;
    return n;
}

int rk_actor_publish(rk_actor_ctx *ctx, const char *topic, uint64_t type_id, const void *payload, uint32_t len)
{
    return rk_actor_publish_ex(ctx, topic, type_id, 0, payload, len, NULL);
}

int rk_actor_subscribe(rk_actor_ctx *ctx, const char *filter)
{
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "rk_actor_subscribe: ctx is NULL");
    return rk__topic_subscribe(ctx->a->k->rt, ctx->a->k, RK_ADDR(ctx->a->k->id, ctx->instance), filter,
                               "rk_actor_subscribe");
}

int rk_actor_unsubscribe(rk_actor_ctx *ctx, const char *filter)
{
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "rk_actor_unsubscribe: ctx is NULL");
    return rk__topic_unsubscribe(ctx->a->k->rt, RK_ADDR(ctx->a->k->id, ctx->instance), filter,
                                 "rk_actor_unsubscribe");
}

int rk_actor_resolve(rk_actor_ctx *ctx, const char *endpoint, rk_addr *out)
{
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "rk_actor_resolve: ctx is NULL");
    return rk_endpoint_resolve(ctx->a->k->rt, endpoint, out);
}

/* The request came from another kernel (K2K): its reply goes back over K2K. */
static int rk__cpu_from_kernel(const rk_envelope *request)
{
    return request != NULL && RK_ADDR_KERNEL(request->source) != 0;
}

static void rk__cpu_reply_header(rk_actor_ctx *ctx, const rk_envelope *request, uint64_t pos, uint64_t type_id,
                                 uint32_t len, rk_envelope **env)
{
    *env = rk__cpu_out_fill(ctx->a, ctx->instance, pos, request ? RK_ENV_REPLY : 0, type_id,
                            request ? request->correlation_id : 0, request ? request->source : RK_ADDR_HOST,
                            len);
}

static int rk__cpu_reply_check(rk_actor_ctx *ctx, uint32_t len, const char *fn)
{
    if (ctx == NULL)
        return rk__err(RK_EINVAL, "%s: ctx is NULL", fn);
    if (ctx->reply_open)
        return rk__err(RK_EINVAL, "%s: a zero-copy reply is open (rk_actor_reply_commit first)", fn);
    if (len > ctx->a->payload_max)
        return rk__err(RK_EMSGSIZE, "%s: payload of %u bytes, at most %u fit a K2H slot", fn, len,
                       ctx->a->payload_max);
    return 0;
}

int rk_actor_reply(rk_actor_ctx *ctx, const rk_envelope *request, uint64_t type_id, const void *payload,
                   uint32_t len)
{
    rk_envelope *env;
    uint64_t pos;
    int rc;

    if (ctx != NULL && rk__cpu_from_kernel(request)) {
        if (payload == NULL && len > 0)
            return rk__err(RK_EINVAL, "rk_actor_reply: payload is NULL");
        return rk__k2k_send(ctx->a, ctx->instance, request->source, type_id, RK_ENV_REPLY,
                            request->correlation_id, payload, len, "rk_actor_reply");
    }
    if ((rc = rk__cpu_reply_check(ctx, len, "rk_actor_reply")) != 0)
        return rc;
    if (payload == NULL && len > 0)
        return rk__err(RK_EINVAL, "rk_actor_reply: payload is NULL");
    if ((rc = rk__cpu_out_slot(ctx->a, &pos)) != 0)
        return rk__err(rc, "rk_actor_reply: K2H of kernel %u is full (the host does not receive)", ctx->a->k->id);
    rk__cpu_reply_header(ctx, request, pos, type_id, len, &env);
    if (len > 0)
        memcpy(rk_envelope_payload(env), payload, len);
    rk__cpu_out_publish(ctx->a);
    return 0;
}

int rk_actor_reply_reserve(rk_actor_ctx *ctx, const rk_envelope *request, uint64_t type_id, uint32_t len,
                           rk_envelope **env, void **payload)
{
    uint64_t pos;
    int rc;

    if ((rc = rk__cpu_reply_check(ctx, len, "rk_actor_reply_reserve")) != 0)
        return rc;
    if (env == NULL || payload == NULL)
        return rk__err(RK_EINVAL, "rk_actor_reply_reserve: NULL %s", env == NULL ? "env" : "payload");
    if (rk__cpu_from_kernel(request))
        return rk__err(RK_ENOTSUP, "rk_actor_reply_reserve: zero-copy replies go to the host only; reply to "
                                   "kernel %u with rk_actor_reply", RK_ADDR_KERNEL(request->source));
    if ((rc = rk__cpu_out_slot(ctx->a, &pos)) != 0)
        return rk__err(rc, "rk_actor_reply_reserve: K2H of kernel %u is full (the host does not receive)",
                       ctx->a->k->id);
    rk__cpu_reply_header(ctx, request, pos, type_id, len, env);
    *payload = rk_envelope_payload(*env);
    ctx->reply_open = 1;
    return 0;
}

int rk_actor_reply_commit(rk_actor_ctx *ctx)
{
    if (ctx == NULL || !ctx->reply_open)
        return rk__err(RK_EINVAL, "rk_actor_reply_commit: %s", ctx == NULL ? "ctx is NULL" : "nothing reserved");
    ctx->reply_open = 0;
    rk__cpu_out_publish(ctx->a);
    return 0;
}

void *rk_actor_state(rk_actor_ctx *ctx) { return ctx != NULL ? ctx->state : NULL; }

uint32_t rk_actor_state_size(rk_actor_ctx *ctx) { return ctx != NULL ? ctx->a->state_size : 0; }

rk_addr rk_actor_self(rk_actor_ctx *ctx) { return ctx != NULL ? RK_ADDR(ctx->a->k->id, ctx->instance) : 0; }

uint32_t rk_actor_payload_max(rk_actor_ctx *ctx) { return ctx != NULL ? ctx->a->payload_max : 0; }

int rk_actor_hlc_now(rk_actor_ctx *ctx, rk_hlc_ts *out)
{
    if (ctx == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_actor_hlc_now: NULL %s", ctx == NULL ? "ctx" : "out");
    /* A local event is later than the reserved reply stamps, so replies after it must tick the clock. */
    ctx->a->pool_left = 0;
    return rk_hlc_now(&ctx->a->hlc, out);
}

/* ---- Handling messages --------------------------------------------------------------------------------- */

/* Publishes the pending error reply if there is room. Returns 1 when nothing is pending any more. */
static int rk__cpu_flush_pending(rk__cpu_actor *a)
{
    rk__cpu_pending *pe = &a->pending;
    rk_envelope *e;
    uint64_t pos;

    if (!pe->valid)
        return 1;
    if (rk__cpu_out_slot(a, &pos) != 0)
        return 0;
    e = rk__cpu_out_fill(a, RK_ADDR_INSTANCE(pe->source), pos, RK_ENV_REPLY | RK_ENV_ERROR, pe->type_id,
                         pe->correlation_id, pe->dest, sizeof(int32_t));
    memcpy(rk_envelope_payload(e), &pe->code, sizeof(int32_t));
    rk__cpu_out_publish(a);
    pe->valid = 0;
    return 1;
}

/* Counts a failed message and, for a request, queues its error reply (sent now if K2H has room). */
static void rk__cpu_fail_message(rk__cpu_actor *a, const rk_envelope *env, int code)
{
    a->errors++;
    a->last_error = code;
    if (!(env->flags & RK_ENV_REQUEST))
        return;
    if (rk__cpu_from_kernel(env)) {
        /* Over K2K, once: a requester whose inbox is full or that stopped does not get it (counted). */
        if (rk__k2k_send(a, RK_ADDR_INSTANCE(env->dest), env->source, env->type_id, RK_ENV_REPLY | RK_ENV_ERROR,
                         env->correlation_id, &code, sizeof code, "error reply") != 0)
            a->dropped++;
        return;
    }
    a->pending = (rk__cpu_pending){ .valid = 1, .code = code, .type_id = env->type_id,
                                    .correlation_id = env->correlation_id,
                                    .source = RK_ADDR(a->k->id, RK_ADDR_INSTANCE(env->dest)),
                                    .dest = env->source };
    (void)rk__cpu_flush_pending(a);
}

/* Handles one H2K message in place. The caller made sure a reply slot is reserved ahead (S5). */
static void rk__cpu_handle(rk__cpu_actor *a, const rk_envelope *env)
{
    rk_actor_ctx *ctx = &a->ctx;
    uint32_t instance = RK_ADDR_INSTANCE(env->dest);
    rk_hlc_ts merged;
    int rc;

    if ((rc = rk_envelope_check(env, a->in_slot)) != 0) {
        rk__cpu_fail_message(a, env, rc);
        return;
    }
    if (env->flags & RK_ENV_SYSTEM)
        return; /* a runtime control slot (e.g. a cancelled MPSC send): not for handlers */
    if (instance >= a->instances) {
        rk__cpu_fail_message(a, env, RK_ENOENT);
        return;
    }
    /* Receive event, unless rk__cpu_merge_batch() already merged a newer stamp. A stamp too far ahead
     * (RK_ECLOCK) is not merged, so one bad clock cannot drag this one forward; the message is still
     * delivered and the rejection counted as an error. */
    if (!a->batch_merged) {
        if (rk_hlc_update(&a->hlc, &env->hlc, &merged) == 0) {
            a->last_ts = merged;
        } else {
            a->errors++;
            a->last_error = RK_ECLOCK;
        }
    }
    ctx->state = a->state != NULL ? a->state + (size_t)instance * a->state_stride : NULL;
    ctx->instance = instance;
    rc = a->def.handler(ctx, env, rk_envelope_payload_const(env));
    if (ctx->reply_open) {
        /* The handler reserved a reply and returned without committing it: withdraw the slot rather than
         * publish bytes it may not have written, and count it as the handler's error. */
        (void)rk_queue_commit_spsc(&a->out, 0);
        ctx->reply_open = 0;
        if (rc >= 0)
            rc = RK_EINVAL;
    }
    if (rc < 0)
        rk__cpu_fail_message(a, env, rc);
}

/* S4: K2H is full. Returns PARKED (the host will push the actor once it receives) or REQUEUE (room
 * appeared meanwhile and this worker still owns the actor). */
static rk__cpu_run_result rk__cpu_park(rk__cpu_actor *a)
{
    uint64_t cap = rk_queue_capacity(&a->out);

    rk__cpu_publish(a);
    /* X4 (S4), pairs with X3 in rk__cpu_notify_k2h(). Release: the actor's private writes so far reach
     * the host that takes it over with X3 and hands it to the next worker. Acquire: if X3 came first,
     * the host's release of K2H slots is visible to the re-check below. */
    (void)atomic_exchange_explicit(&a->k2h_wait, 1, memory_order_acq_rel);
    if (rk_queue_size(&a->out) >= cap)
        return RK__RUN_PARKED; /* still full: the host's next receive wakes us */
    /* Acq_rel: whoever turns 1 into 0 owns the actor (S1): this worker, or the host in X3. */
    if (atomic_exchange_explicit(&a->k2h_wait, 0, memory_order_acq_rel) == 1)
        return RK__RUN_REQUEUE;
    return RK__RUN_PARKED; /* the host took it over and pushes it */
}

/* Read-only probe of H2K at consumer position tail: is a published message waiting? Reads no field of
 * the handle that the owner changes (S1), so it is safe after ownership was given up. For MPSC it reads
 * the slot's sequence number (queue.c: seq == pos + 1 once published), so a producer that has claimed a
 * slot but not yet published it (it will notify when it does) does not count. */
static int rk__cpu_in_ready(const rk_queue *q, uint64_t tail)
{
    /* Relaxed: ordered after X2 (S3), whose acquire makes a publication that preceded X1 visible; the
     * acquire that makes the slot's bytes visible is the owner's next peek (A2/A4 in queue.c). */
    if (q->seq != NULL)
        return atomic_load_explicit(&q->seq[tail & q->mask], memory_order_relaxed) == tail + 1;
    return atomic_load_explicit(rk__a64(&q->hdr->head), memory_order_relaxed) != tail;
}

/* S3: H2K is empty; give up ownership unless a message or a terminate request arrived meanwhile. */
static rk__cpu_run_result rk__cpu_idle(rk__cpu_actor *a)
{
    uint64_t tail = a->in.c_tail, ktail = a->k2k->c_tail; /* read while still the owner (S1) */
    int paused = a->paused;

    /* X2 (S3), pairs with X1 in rk__cpu_notify(). Release: the next owner (a sender's X1 reads our 0)
     * sees this activation's writes to the actor. Acquire: if X1 came first, its publication is visible
     * to the re-check. */
    (void)atomic_exchange_explicit(&a->scheduled, 0, memory_order_acq_rel);
    if (atomic_load_explicit(rk__a32(&a->cb->terminate), memory_order_relaxed) == 0) {
        int pause = atomic_load_explicit(rk__a32(&a->cb->pause), memory_order_relaxed) != 0;

        /* A change of the pause flag wakes it (a request that came while it ran or lingered, whose
         * notify read scheduled == 1); a paused actor wakes for nothing else, not for queued messages. */
        if (pause == paused && (paused || (!rk__cpu_in_ready(&a->in, tail) &&
                                           !rk__cpu_in_ready(a->k2k, ktail)))) /* S9 */
            return RK__RUN_IDLE;
    }
    if (atomic_exchange_explicit(&a->scheduled, 1, memory_order_acq_rel) != 0)
        return RK__RUN_IDLE; /* a sender re-scheduled it: the sender's push hands it to a worker */
    return RK__RUN_REQUEUE;
}

/* H2K is drained after terminate and the counters are published: the kernel leaves its loop (S6). */
/* 1 if an MPSC source (H2K of a multi-producer kernel, the K2K inbox) has a slot claimed and not yet
 * published: the owner consumed everything published up to c_tail, so a head (the producers' claim
 * counter) beyond it means a commit still to come. Relaxed: only positions are compared; the slot's bytes
 * are acquired by the peek that consumes it (A4 in queue.c). */
static int rk__cpu_claimed_unpublished(const rk__cpu_actor *a)
{
    if (a->mpsc && atomic_load_explicit(rk__a64(&a->in.hdr->head), memory_order_relaxed) != a->in.c_tail)
        return 1;
    return atomic_load_explicit(rk__a64(&a->k2k->hdr->head), memory_order_relaxed) != a->k2k->c_tail;
}

static rk__cpu_run_result rk__cpu_stop(rk__cpu_actor *a)
{
    if (a->out_open) {
        (void)rk_queue_commit_spsc(&a->out, 0); /* withdraw the slot reserved ahead */
        a->out_open = 0;
    }
    rk__topic_forget(a->k->rt, a->k->id); /* P3 in k2k.c: terminate was seen, so `closing` is set */
    rk__cpu_set_state(a, RK_STATE_STOPPED); /* last access to the region by this backend */
    return RK__RUN_STOPPED;
}

static int rk__cpu_peek(rk__cpu_actor *a, uint32_t n, uint64_t *pos)
{
    return a->mpsc ? rk_queue_peek_mpsc(&a->in, n, pos) : rk_queue_peek_spsc(&a->in, n, pos);
}

static void rk__cpu_release_in(rk__cpu_actor *a, uint32_t n)
{
    if (a->mpsc)
        (void)rk_queue_release_mpsc(&a->in, n);
    else
        (void)rk_queue_release_spsc(&a->in, n);
    a->msgs_in += n;
}

static void rk__cpu_release_k2k(rk__cpu_actor *a, uint32_t n)
{
    (void)rk_queue_release_mpsc(a->k2k, n); /* R4 in queue.c: the slots go back to the senders */
    a->k2k_in += n;
}

/* Merges the newest HLC stamp of n peeked messages once (the receive event of the whole batch), so every
 * reply stamped while handling them is later than all of them; one clock update instead of n. If that
 * stamp is rejected (RK_ECLOCK), rk__cpu_handle() merges message by message and counts the bad one. */
static void rk__cpu_merge_batch(rk__cpu_actor *a, const rk_queue *q, uint64_t pos, int n)
{
    const rk_envelope *newest = NULL;
    rk_hlc_ts merged;

    for (int i = 0; i < n; i++) {
        const rk_envelope *e = rk_queue_slot(q, pos + (uint64_t)i);

        if (e->magic == RK_ENVELOPE_MAGIC && (newest == NULL || rk_hlc_compare(&e->hlc, &newest->hlc) > 0))
            newest = e;
    }
    a->batch_merged = newest != NULL && rk_hlc_update(&a->hlc, &newest->hlc, &merged) == 0;
    a->pool_left = 0;
    if (a->batch_merged) {
        a->last_ts = merged;
        /* Reserve one reply stamp per message in one critical section: every one is later than the batch's
         * merged stamp, and any later tick of the clock is later than all of them. */
        if (rk_hlc_now_n(&a->hlc, (uint32_t)n, &a->pool_next) == 0)
            a->pool_left = (uint32_t)n;
    }
}

/* S7: H2K is empty. If no other actor is ready and no other worker spins, keep the actor for up to
 * RK__CPU_SPIN_NS in case its next message comes soon. Returns 1 if a message (or terminate) arrived. */
static int rk__cpu_linger(rk__cpu_actor *a)
{
    rk__cpu_pool *p = a->pool;
    int64_t deadline;
    int found = 0;

    /* Relaxed: a hint; a ready actor is picked up under the lock once we return. */
    if (atomic_load_explicit(&p->nready, memory_order_relaxed) != 0 || !rk__cpu_spin_begin(p))
        return 0;
    deadline = rk_monotonic_ns() + RK__CPU_SPIN_NS;
    for (uint32_t i = 1; atomic_load_explicit(&p->nready, memory_order_relaxed) == 0; i++) {
        /* Still the owner (S1): the re-check reads this handle's position directly. Relaxed: the peek that
         * follows acquires (A2/A4 in queue.c); terminate's acquire is the next activation's load. */
        if (rk__cpu_in_ready(&a->in, a->in.c_tail) || rk__cpu_in_ready(a->k2k, a->k2k->c_tail) ||
            atomic_load_explicit(rk__a32(&a->cb->terminate), memory_order_relaxed) != 0) {
            found = 1;
            break;
        }
        rk__cpu_relax();
        if ((i & 63) == 0 && rk_monotonic_ns() >= deadline)
            break;
    }
    rk__cpu_spin_end(p);
    return found;
}

/* Handles up to max messages of one source: H2K, or the K2K inbox (S10). Returns how many, or -1 when K2H
 * is full before a handler (the caller parks, S5; the messages not handled stay queued). */
static int rk__cpu_drain(rk__cpu_actor *a, int from_k2k, uint32_t max)
{
    rk_queue *q = from_k2k ? a->k2k : &a->in;
    uint64_t pos;
    int n = from_k2k ? rk_queue_peek_mpsc(q, max, &pos) : rk__cpu_peek(a, max, &pos);
    int i;

    if (n <= 0)
        return 0; /* RK_EAGAIN: empty */
    rk__cpu_merge_batch(a, q, pos, n);
    for (i = 0; i < n; i++) {
        if (!rk__cpu_flush_pending(a) || !rk__cpu_out_prepare(a))
            break; /* S5: handle nothing whose reply could not go out */
        rk__cpu_handle(a, rk_queue_slot(q, pos + (uint64_t)i));
    }
    if (from_k2k)
        rk__cpu_release_k2k(a, (uint32_t)i);
    else
        rk__cpu_release_in(a, (uint32_t)i);
    return i < n ? -1 : n;
}

/* One activation: handles up to RK__CPU_BATCH messages, then decides what happens to the actor. */
static rk__cpu_run_result rk__cpu_run(rk__cpu_actor *a)
{
    uint32_t budget = RK__CPU_BATCH;
    uint32_t term;

again:
    if (rk__cpu_state(a) == RK_STATE_FAILED)
        return RK__RUN_STOPPED; /* the host gave up on it (terminate timed out): never run it again */
    /* Acquire: pairs with the host's release store of terminate in rk_kernel_terminate(); every message
     * the host published before it, and every K2K message accepted before it (K6), is visible to the peeks
     * below, so "terminate seen, then H2K and the inbox empty" means drained (S11). */
    term = atomic_load_explicit(rk__a32(&a->cb->terminate), memory_order_acquire);
    if (term && !a->draining) {
        a->draining = 1;
        rk__cpu_set_state(a, RK_STATE_DRAINING);
    }
    /* Acquire: pairs with the release store in rk__kernel_set_pause() (runtime.c). Terminate overrides a
     * pause: a terminating kernel drains. */
    if (!term && atomic_load_explicit(rk__a32(&a->cb->pause), memory_order_acquire) != 0) {
        if (!a->paused) {
            a->paused = 1;
            rk__cpu_set_state(a, RK_STATE_PAUSED);
        }
        rk__cpu_publish(a);
        return rk__cpu_idle(a);
    }
    if (a->paused) {
        a->paused = 0;
        rk__cpu_set_state(a, term ? RK_STATE_DRAINING : RK_STATE_RUNNING);
    }
    a->heartbeat++;
    while (budget > 0) { /* S10: H2K and the inbox in turn, until both are empty or the budget is used */
        uint32_t handled = 0;

        for (int from_k2k = 0; from_k2k < 2 && budget > 0; from_k2k++) {
            int n = rk__cpu_drain(a, from_k2k, budget < RK__CPU_SLICE ? budget : RK__CPU_SLICE);

            if (n < 0)
                return rk__cpu_park(a);
            budget -= (uint32_t)n;
            handled += (uint32_t)n;
        }
        if (handled == 0)
            break; /* both empty in one pass: with terminate seen, drained (S11) */
    }
    if (!rk__cpu_flush_pending(a))
        return rk__cpu_park(a);
    rk__cpu_publish(a);
    if (budget == 0)
        return RK__RUN_REQUEUE;
    if (term) {
        /* S11: a producer may have claimed an MPSC slot it has not published yet (a zero-copy reservation
         * of the host, a publication's reserved inbox slots); its commit publishes the message or a no-op.
         * Until then the queue is not drained: come back later instead of stopping over it. */
        if (rk__cpu_claimed_unpublished(a))
            return RK__RUN_REQUEUE;
        return rk__cpu_stop(a);
    }
    if (rk__cpu_linger(a)) {
        /* Fair: if another actor became ready meanwhile (its sender saw a spinner and woke nobody), queue
         * behind it instead of running a whole new activation first. Relaxed: a hint, as in linger. */
        if (atomic_load_explicit(&a->pool->nready, memory_order_relaxed) != 0)
            return RK__RUN_REQUEUE;
        budget = RK__CPU_BATCH;
        goto again;
    }
    return rk__cpu_idle(a);
}

/* ---- Host-side hooks --------------------------------------------------------------------------------- */

static void rk__cpu_notify(rk_kernel *k)
{
    rk__cpu_actor *a = k->backend_data;

    /* X1 (S3), pairs with X2 in rk__cpu_idle(). Release: the host's publication (R1/R3 in queue.c, or its
     * store of terminate) reaches a worker whose X2 reads this value. Acquire: the previous activation's
     * writes reach the new owner. Only the 0 -> 1 winner pushes (S2); when it reads 1, the actor is
     * queued, running, parked or stopped and its owner sees the message. There is no cheaper load-first
     * test: a plain load could be satisfied before the publication is visible (store-load reordering). */
    if (atomic_exchange_explicit(&a->scheduled, 1, memory_order_acq_rel) == 0)
        rk__cpu_push(a);
}

static void rk__cpu_notify_k2h(rk_kernel *k)
{
    rk__cpu_actor *a = k->backend_data;

    /* X3 (S4), pairs with X4 in rk__cpu_park(). Release: the host's release of K2H slots (R2 in queue.c)
     * reaches a parking worker whose X4 reads this value. Acquire: the parked activation's writes reach
     * the next owner. The 1 -> 0 winner owns the actor (S1). */
    if (atomic_exchange_explicit(&a->k2h_wait, 0, memory_order_acq_rel) == 1)
        rk__cpu_push(a);
}

/* ---- Backend operations -------------------------------------------------------------------------------- */

/* The CPU's model name from /proc/cpuinfo ("model name" on x86, "Hardware" or "Processor" elsewhere). */
static void rk__cpu_model(char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];

    rk__strlcpy(out, "unknown CPU", cap);
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        char *colon = strchr(line, ':');

        if (colon == NULL || (strncmp(line, "model name", 10) != 0 && strncmp(line, "Hardware", 8) != 0 &&
                              strncmp(line, "Processor", 9) != 0))
            continue;
        colon++;
        while (*colon == ' ' || *colon == '\t')
            colon++;
        colon[strcspn(colon, "\n")] = '\0';
        if (*colon != '\0') {
            rk__strlcpy(out, colon, cap);
            break;
        }
    }
    fclose(f);
}

static int rk__cpu_probe(rk_backend_status *st)
{
    char model[128];

    rk__cpu_model(model, sizeof model);
    st->kind = RK_BACKEND_CPU;
    st->compiled = 1;
    st->available = 1;
    st->device_count = 1;
    snprintf(st->reason, sizeof st->reason, "%d cores, %s", rk__cpu_count(), model);
    return 0;
}

static int rk__cpu_devices(rk_device_info *out, int max)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    struct utsname u;

    if (max < 1)
        return 0;
    memset(out, 0, sizeof *out);
    out->backend = RK_BACKEND_CPU;
    out->index = 0;
    rk__cpu_model(out->name, sizeof out->name);
    out->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    out->compute_units = rk__cpu_count();
    if (uname(&u) == 0)
        snprintf(out->driver, sizeof out->driver, "%.20s %.40s", u.sysname, u.release);
    return 1;
}

static void rk__cpu_pool_stop(rk__cpu_pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->lock);
    for (uint32_t i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
}

static int rk__cpu_init(rk_runtime *rt)
{
    uint32_t n = rt->opts.workers ? rt->opts.workers : (uint32_t)rk__cpu_count();
    rk__cpu_pool *p;
    int rc, err;

    if (n > RK__CPU_MAX_WORKERS)
        return rk__err(RK_EINVAL, "rk_runtime_create: %u workers, at most %u", n, RK__CPU_MAX_WORKERS);
    rk__cpu_actors_register();
    p = calloc(1, sizeof *p);
    if (p == NULL) {
        rc = rk__err(RK_ENOMEM, "rk_runtime_create: cannot allocate the CPU worker pool");
        goto fail_pool;
    }
    p->threads = calloc(n, sizeof *p->threads);
    if (p->threads == NULL) {
        rc = rk__err(RK_ENOMEM, "rk_runtime_create: cannot allocate %u worker handles", n);
        goto fail_threads;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    for (p->nworkers = 0; p->nworkers < n; p->nworkers++) {
        if ((err = pthread_create(&p->threads[p->nworkers], NULL, rk__cpu_worker, p)) != 0) {
            rc = rk__err(err == EAGAIN ? RK_ELIMIT : RK_EBACKEND,
                         "rk_runtime_create: starting CPU worker %u of %u failed: %s", p->nworkers + 1, n,
                         strerror(err));
            goto fail_workers;
        }
    }
    rt->backend_data = p;
    return 0;

fail_workers:
    rk__cpu_pool_stop(p);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
fail_threads:
    free(p);
fail_pool:
    return rc;
}

static void rk__cpu_destroy(rk_runtime *rt)
{
    rk__cpu_pool *p = rt->backend_data;

    rk__cpu_compute_destroy(rt);
    if (p == NULL)
        return;
    rk__cpu_pool_stop(p);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->work_cv);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
    rt->backend_data = NULL;
}

/* Sizes the state of all instances; 0 or RK_EINVAL/RK_ELIMIT. */
static int rk__cpu_state_layout(rk__cpu_actor *a, const rk_kernel *k)
{
    uint32_t size = k->opts.state_size ? k->opts.state_size : a->def.state_size;

    if (size < a->def.state_size)
        return rk__err(RK_EINVAL, "rk_kernel_launch: state_size %u is smaller than actor '%s' needs (%u)", size,
                       k->name, a->def.state_size);
    a->state_size = size;
    a->state_stride = size ? (uint32_t)rk__align_up(size, 64) : 0; /* instances on their own lines */
    if (a->state_stride < size || (size_t)a->state_stride * k->opts.instances > RK__CPU_MAX_STATE)
        return rk__err(RK_ELIMIT, "rk_kernel_launch: %u instances of %u bytes of state exceed %zu bytes",
                       k->opts.instances, size, RK__CPU_MAX_STATE);
    return 0;
}

static int rk__cpu_init_states(rk__cpu_actor *a)
{
    int rc;

    if (a->def.init == NULL)
        return 0;
    for (uint32_t i = 0; i < a->instances; i++) {
        void *st = a->state != NULL ? a->state + (size_t)i * a->state_stride : NULL;

        if ((rc = a->def.init(st, a->state_size)) < 0)
            return rk__err(rc, "rk_kernel_launch: init of actor '%s' (instance %u) failed: %s", a->k->name, i,
                           rk_err_name(rc));
    }
    return 0;
}

static int rk__cpu_launch(rk_runtime *rt, rk_kernel *k)
{
    uint8_t *region = k->region;
    rk__cpu_actor *a;
    int rc;

    a = rk__aligned_zalloc(RK_CACHE_LINE, sizeof *a);
    if (a == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate the actor");
    if ((rc = rk__actor_resolve(k->name, &a->def)) != 0)
        goto fail_actor;
    a->def.name = k->name; /* the registry's copy goes away with rk_actor_unregister() */
    if ((rc = rk__cpu_state_layout(a, k)) != 0)
        goto fail_actor;
    a->k = k;
    a->pool = rt->backend_data;
    a->cb = k->cb;
    a->instances = k->opts.instances;
    a->mpsc = (k->opts.flags & RK_LAUNCH_MULTI_PRODUCER) != 0;
    a->ctx.a = a;
    if (a->state_stride != 0) {
        a->state = rk__aligned_zalloc(64, (size_t)a->state_stride * a->instances);
        if (a->state == NULL) {
            rc = rk__err(RK_ENOMEM, "rk_kernel_launch: cannot allocate %u x %u bytes of actor state",
                         a->instances, a->state_stride);
            goto fail_actor;
        }
    }
    /* The core formatted both queues; these are the kernel side's own handles (the host has its own). */
    if ((rc = rk_queue_attach(&a->in, region + k->cb->h2k_offset, k->cb->k2h_offset - k->cb->h2k_offset)) != 0 ||
        (rc = rk_queue_attach(&a->out, region + k->cb->k2h_offset, k->region_size - k->cb->k2h_offset)) != 0)
        goto fail_state;
    a->payload_max = rk_payload_max(a->out.slot_size);
    a->in_slot = a->in.slot_size;
    if ((rc = rk_queue_create(&a->k2k, k->opts.queue_capacity, k->opts.slot_size, RK_QUEUE_MPSC)) != 0)
        goto fail_state; /* S8 */
    (void)rk_hlc_init(&a->hlc, k->id, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    /* Every reply is stamped: the coarse clock costs a few ns instead of a full clock read (as the host's
     * clock, runtime.c); the logical counter orders events within a tick. */
    (void)rk_hlc_set_physical(&a->hlc, rk_hlc_physical_coarse, NULL);
    if ((rc = rk__cpu_init_states(a)) != 0)
        goto fail_inbox;
    k->backend_data = a;
    rk__cpu_set_state(a, RK_STATE_RUNNING);
    return 0;

fail_inbox:
    rk_queue_destroy(a->k2k);
fail_state:
    free(a->state);
fail_actor:
    free(a);
    return rc;
}

static int rk__cpu_wait_stopped(rk_kernel *k, int64_t timeout_ns)
{
    rk_backoff b;

    rk_backoff_init(&b, timeout_ns);
    for (;;) {
        /* Acquire: pairs with the release in rk__cpu_set_state() (S6). */
        uint32_t st = atomic_load_explicit(rk__a32(&k->cb->state), memory_order_acquire);

        if (st == RK_STATE_STOPPED || st == RK_STATE_FAILED)
            return 0;
        if (rk_backoff_wait(&b) != 0)
            return rk__err(RK_ENOTRESPONDING, "kernel %u ('%s') did not stop within %lld ns", k->id, k->name,
                           (long long)timeout_ns);
    }
}

static void rk__cpu_release(rk_kernel *k)
{
    rk__cpu_actor *a = k->backend_data;
    rk__cpu_pool *p;

    if (a == NULL)
        return;
    p = a->pool;
    pthread_mutex_lock(&p->lock);
    a->dead = 1;
    if (a->queued) { /* O(ready queue); only a kernel that was given up on can still be queued */
        rk__cpu_actor **pp = &p->ready_head, *prev = NULL;

        while (*pp != a) {
            prev = *pp;
            pp = &(*pp)->ready_next;
        }
        *pp = a->ready_next;
        if (p->ready_tail == a)
            p->ready_tail = prev;
        a->queued = 0;
        atomic_store_explicit(&p->nready, atomic_load_explicit(&p->nready, memory_order_relaxed) - 1,
                              memory_order_relaxed); /* relaxed: under the lock, as in enqueue */
    }
    while (a->running > 0) /* a handler may still run for a kernel whose terminate timed out */
        pthread_cond_wait(&p->done_cv, &p->lock);
    pthread_mutex_unlock(&p->lock);
    rk_queue_destroy(a->k2k); /* S11: no sender is inside its window any more */
    free(a->state);
    free(a);
    k->backend_data = NULL;
}

const rk_backend_ops rk__cpu_backend_ops = {
    .kind = RK_BACKEND_CPU,
    .name = "cpu",
    .probe = rk__cpu_probe,
    .devices = rk__cpu_devices,
    .init = rk__cpu_init,
    .destroy = rk__cpu_destroy,
    .region_alloc = rk__heap_region_alloc,
    .region_free = rk__heap_region_free,
    .launch = rk__cpu_launch,
    .notify = rk__cpu_notify,
    .notify_k2h = rk__cpu_notify_k2h,
    .wait_stopped = rk__cpu_wait_stopped,
    .poll = NULL,
    .release = rk__cpu_release,
    .publish = rk__cpu_publish_host,
    .compute = &rk__cpu_compute_ops,
};
