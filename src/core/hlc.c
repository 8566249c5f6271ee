/* hlc.c - hybrid logical clocks: Kulkarni's send/receive rules behind one tiny spinlock.
 *
 * Invariants (cited below by number):
 *   H1. c->last is read and written only while c->lock is held, and its physical and logical parts change
 *       together in one assignment, so no two callers can compute their next timestamp from the same state
 *       (the "parts updated separately" trap of DESIGN.md section 4).
 *   H2. Every timestamp the clock hands out is strictly greater, in rk_hlc_compare order, than c->last
 *       before the call and than the remote timestamp being merged. The node part is the clock's own id,
 *       so equal (physical, logical) pairs from different clocks still order totally.
 *   H3. A failing call leaves c->last as it was: the skew check needs no state and runs before the lock,
 *       and the overflow check runs before the assignment.
 *
 * The physical source is read before taking the lock: it is the slowest part of a tick (a vDSO call, or a
 * test's injected function) and the rules tolerate a reading that is stale by the time the lock is held —
 * a reading behind c->last.physical only means the logical part advances instead.
 */
#include <sched.h>
#include <stdbool.h>
#include <time.h>

#include "core/internal.h"
#include "ringkernel/hlc.h"

/* Pauses before a spinning waiter yields its CPU. Critical sections are a few loads and stores, so a
 * waiter that spins this long is almost certainly behind a holder that was preempted (more threads than
 * cores); yielding lets the holder finish instead of burning the rest of the time slice. */
#define RK__HLC_SPINS_BEFORE_YIELD 64

static uint64_t rk__hlc_realtime(void *arg)
{
    (void)arg;
    return rk_hlc_physical_now();
}

uint64_t rk_hlc_physical_now(void)
{
    struct timespec ts;

    /* CLOCK_REALTIME cannot fail with a valid clock id and pointer; 0 keeps the contract "never fails"
     * even so, and the HLC rules then simply advance the logical part. */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void rk__hlc_lock(rk_hlc_clock *c)
{
    unsigned spins = 0;

    /* L1: acquire; pairs with the release in rk__hlc_unlock(), so this holder sees the previous holder's
     * store to c->last (H1). */
    while (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire)) {
        if (++spins < RK__HLC_SPINS_BEFORE_YIELD) {
            rk__cpu_relax();
        } else {
            spins = 0;
            sched_yield();
        }
    }
}

static void rk__hlc_unlock(rk_hlc_clock *c)
{
    /* L2: release; publishes the store to c->last to the next holder (pairs with L1). */
    atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

/* The timestamp (physical, logical + 1), carrying into the physical part when the logical counter is full
 * (the overflow policy of hlc.h). Returns false only when physical is UINT64_MAX as well: no greater
 * timestamp exists. The year-2554 limit of a real clock makes that reachable only through an injected
 * clock or a hostile remote timestamp with the skew check off. */
static bool rk__hlc_next(uint64_t physical, uint32_t logical, rk_hlc_ts *next)
{
    if (logical < UINT32_MAX) {
        next->physical = physical;
        next->logical = logical + 1;
        return true;
    }
    if (physical == UINT64_MAX)
        return false;
    next->physical = physical + 1;
    next->logical = 0;
    return true;
}

int rk_hlc_init(rk_hlc_clock *c, uint32_t node_id, uint64_t max_offset_ns)
{
    if (c == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_init: clock is NULL");
    atomic_flag_clear_explicit(&c->lock, memory_order_relaxed);
    c->last = (rk_hlc_ts){ .physical = 0, .logical = 0, .node = node_id };
    c->max_offset_ns = max_offset_ns;
    c->physical = rk__hlc_realtime;
    c->physical_arg = NULL;
    return 0;
}

int rk_hlc_set_physical(rk_hlc_clock *c, rk_hlc_physical_fn fn, void *arg)
{
    if (c == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_set_physical: clock is NULL");
    if (fn == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_set_physical: physical time function is NULL");
    c->physical = fn;
    c->physical_arg = arg;
    return 0;
}


/* Ticks the clock n times (send rule): *first is the first of n consecutive timestamps, the clock ends at the
 * last. One physical read, one critical section. fn names the public caller in error details. */
static int rk__hlc_tick(rk_hlc_clock *c, uint32_t n, rk_hlc_ts *first, const char *fn)
{
    rk_hlc_ts next;
    uint64_t pt;

    if (c == NULL)
        return rk__err(RK_EINVAL, "%s: clock is NULL", fn);
    if (first == NULL)
        return rk__err(RK_EINVAL, "%s: out is NULL", fn);
    if (n == 0)
        return rk__err(RK_EINVAL, "%s: n is 0", fn);
    pt = c->physical(c->physical_arg);
    rk__hlc_lock(c);
    next.node = c->last.node;
    if (pt > c->last.physical) {
        next.physical = pt;
        next.logical = 0;
    } else if (!rk__hlc_next(c->last.physical, c->last.logical, &next)) {
        goto overflow;
    }
    if (UINT32_MAX - next.logical < n - 1) { /* the run would pass the counter: carry first (overflow rule) */
        if (next.physical == UINT64_MAX)
            goto overflow;
        next.physical++;
        next.logical = 0;
    }
    *first = next;
    next.logical += n - 1;
    c->last = next; /* H1: the last of the n timestamps */
    rk__hlc_unlock(c);
    return 0;

overflow:
    rk__hlc_unlock(c);
    return rk__err(RK_EOVERFLOW, "%s: clock at the largest timestamp (%llu, %u)", fn,
                   (unsigned long long)UINT64_MAX, (unsigned)UINT32_MAX);
}

int rk_hlc_now(rk_hlc_clock *c, rk_hlc_ts *out) { return rk__hlc_tick(c, 1, out, "rk_hlc_now"); }

int rk_hlc_now_n(rk_hlc_clock *c, uint32_t n, rk_hlc_ts *first) { return rk__hlc_tick(c, n, first, "rk_hlc_now_n"); }

uint64_t rk_hlc_physical_coarse(void *arg)
{
    struct timespec ts;

    (void)arg;
    if (clock_gettime(CLOCK_REALTIME_COARSE, &ts) != 0)
        return rk_hlc_physical_now();
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int rk_hlc_update(rk_hlc_clock *c, const rk_hlc_ts *remote, rk_hlc_ts *out)
{
    rk_hlc_ts next, m;
    uint64_t pt, p;
    bool ok = true;

    if (c == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_update: clock is NULL");
    if (remote == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_update: remote timestamp is NULL");

    m = *remote; /* copied first: remote may point into a slot another thread could overwrite */
    pt = c->physical(c->physical_arg);
    /* H3: checked before the lock. The bound is against the physical source, not c->last, as CockroachDB
     * does: a clock already dragged forward by one remote must not widen the window for the next one. */
    if (c->max_offset_ns != 0 && m.physical > pt && m.physical - pt > c->max_offset_ns)
        return rk__err(RK_ECLOCK,
                       "rk_hlc_update: remote time %llu ns (node %u) is %llu ns ahead of local time %llu ns; "
                       "max offset %llu ns",
                       (unsigned long long)m.physical, (unsigned)m.node,
                       (unsigned long long)(m.physical - pt), (unsigned long long)pt,
                       (unsigned long long)c->max_offset_ns);

    rk__hlc_lock(c);
    p = pt;
    if (c->last.physical > p)
        p = c->last.physical;
    if (m.physical > p)
        p = m.physical;
    next.node = c->last.node;
    /* The four cases of hlc.h's receive rule, in its order. */
    if (p == c->last.physical && p == m.physical)
        ok = rk__hlc_next(p, c->last.logical > m.logical ? c->last.logical : m.logical, &next);
    else if (p == c->last.physical)
        ok = rk__hlc_next(p, c->last.logical, &next);
    else if (p == m.physical)
        ok = rk__hlc_next(p, m.logical, &next);
    else
        next = (rk_hlc_ts){ .physical = p, .logical = 0, .node = c->last.node };
    if (!ok) {
        rk__hlc_unlock(c);
        return rk__err(RK_EOVERFLOW, "rk_hlc_update: no timestamp after (%llu, %u) exists",
                       (unsigned long long)p, (unsigned)UINT32_MAX);
    }
    c->last = next; /* H1, H2 */
    rk__hlc_unlock(c);
    if (out != NULL)
        *out = next;
    return 0;
}

int rk_hlc_peek(rk_hlc_clock *c, rk_hlc_ts *out)
{
    rk_hlc_ts last;

    if (c == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_peek: clock is NULL");
    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_hlc_peek: out is NULL");
    rk__hlc_lock(c); /* H1: a copy without the lock could pair one call's physical with another's logical */
    last = c->last;
    rk__hlc_unlock(c);
    *out = last;
    return 0;
}
