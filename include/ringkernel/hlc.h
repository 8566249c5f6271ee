/* hlc.h - hybrid logical clocks (Kulkarni et al., "Logical Physical Clocks", 2014).
 *
 * A timestamp is (physical ns, logical, node). Rules, with pt the local physical clock reading and l the
 * clock's last timestamp:
 *   send / local event:  l' = (max(l.physical, pt), l.physical >= pt ? l.logical + 1 : 0)
 *   receive remote m:    p' = max(l.physical, m.physical, pt);
 *                        logical' = p' == l.physical == m.physical ? max(l.logical, m.logical) + 1
 *                                 : p' == l.physical ? l.logical + 1
 *                                 : p' == m.physical ? m.logical + 1 : 0
 * so every new timestamp is greater than every timestamp the clock issued or received before.
 *
 * Bounded skew: a remote timestamp whose physical part is more than max_offset_ns ahead of the local
 * physical clock is rejected with RK_ECLOCK and leaves the clock unchanged (as CockroachDB does), so one
 * bad clock cannot drag every other clock into the future.
 *
 * Logical overflow policy: if the logical counter would pass UINT32_MAX, the clock carries into the
 * physical part (physical + 1 ns, logical 0). Timestamps stay strictly increasing; the clock runs at most
 * 1 ns per 2^32 events ahead of its physical source, which no real workload can reach.
 *
 * Concurrency: an rk_hlc_clock may be ticked and updated from any number of threads. The physical and
 * logical parts change together under one short critical section, so no two calls ever return equal
 * timestamps.
 */
#ifndef RINGKERNEL_HLC_H
#define RINGKERNEL_HLC_H

#include <stdint.h>
#ifndef __cplusplus
#include <stdatomic.h>
#endif

#include "ringkernel/abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Default bound on how far a remote timestamp may be ahead of the local clock: 500 ms. */
#define RK_HLC_DEFAULT_MAX_OFFSET_NS 500000000ull

/** Physical time source: returns nanoseconds since the Unix epoch. Tests inject their own. */
typedef uint64_t (*rk_hlc_physical_fn)(void *arg);

typedef struct rk_hlc_clock {
#ifdef __cplusplus
    unsigned char lock;           /* private (atomic_flag in C: one byte with gcc and clang) */
#else
    atomic_flag lock;             /* private: guards last (both parts change together) */
#endif
    rk_hlc_ts last;               /* private: the last timestamp issued or merged */
    uint64_t max_offset_ns;       /* read-only after init: 0 disables the skew check */
    rk_hlc_physical_fn physical;  /* read-only after init */
    void *physical_arg;           /* read-only after init */
} rk_hlc_clock;

/**
 * Initialises a clock for node `node_id` reading CLOCK_REALTIME. max_offset_ns = 0 disables the skew check.
 * Returns 0, or RK_EINVAL if c is NULL.
 */
int rk_hlc_init(rk_hlc_clock *c, uint32_t node_id, uint64_t max_offset_ns);

/**
 * Replaces the physical time source (for tests and simulations). Not thread-safe against concurrent ticks;
 * call it before sharing the clock. Returns 0, or RK_EINVAL if c or fn is NULL.
 */
int rk_hlc_set_physical(rk_hlc_clock *c, rk_hlc_physical_fn fn, void *arg);

/** Reads the default physical source: CLOCK_REALTIME in ns. Never fails. */
uint64_t rk_hlc_physical_now(void);

/**
 * Ticks the clock for a send or local event and stores the new timestamp in *out. Every call returns a
 * timestamp greater than any the clock issued or merged before. Returns 0; RK_EINVAL on NULL arguments;
 * RK_EOVERFLOW if no greater timestamp exists (physical UINT64_MAX and logical UINT32_MAX: only an injected
 * clock or a hostile remote stamp gets there), leaving the clock unchanged.
 */
int rk_hlc_now(rk_hlc_clock *c, rk_hlc_ts *out);

/**
 * Ticks the clock n times at once (n >= 1) for a batch of sends: the n timestamps are *first with logical
 * parts first->logical .. first->logical + n - 1, all greater than anything before, and the clock ends at
 * the last of them. One physical clock read and one critical section for the whole batch. Returns 0;
 * RK_EINVAL on NULL arguments or n = 0; RK_EOVERFLOW as rk_hlc_now.
 */
int rk_hlc_now_n(rk_hlc_clock *c, uint32_t n, rk_hlc_ts *first);

/**
 * A cheaper physical source for rk_hlc_set_physical: CLOCK_REALTIME_COARSE (a few ns to read; resolution
 * of the kernel tick, 1 to 4 ms). The HLC rules keep every guarantee with a coarse source: within a tick,
 * the logical counter orders events. The runtime's host clock uses it (runtime.h).
 */
uint64_t rk_hlc_physical_coarse(void *arg);

/**
 * Merges a received timestamp (receive event) and stores the new local timestamp, greater than both the
 * clock's previous one and *remote, in *out (out may be NULL). Returns 0; RK_EINVAL on NULL c or remote;
 * RK_ECLOCK if remote->physical exceeds the local physical time by more than max_offset_ns (the clock is
 * left unchanged); RK_EOVERFLOW as rk_hlc_now.
 */
int rk_hlc_update(rk_hlc_clock *c, const rk_hlc_ts *remote, rk_hlc_ts *out);

/** Returns the last timestamp without ticking. Returns 0, or RK_EINVAL on NULL arguments. */
int rk_hlc_peek(rk_hlc_clock *c, rk_hlc_ts *out);

/**
 * Total order of timestamps: negative if a < b, 0 if equal, positive if a > b, comparing physical, then
 * logical, then node. This is a comparison, not a status: it cannot fail (NULL is not allowed).
 */
static inline int rk_hlc_compare(const rk_hlc_ts *a, const rk_hlc_ts *b)
{
    if (a->physical != b->physical)
        return a->physical < b->physical ? -1 : 1;
    if (a->logical != b->logical)
        return a->logical < b->logical ? -1 : 1;
    if (a->node != b->node)
        return a->node < b->node ? -1 : 1;
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_HLC_H */
