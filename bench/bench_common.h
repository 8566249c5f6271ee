/* bench_common.h - what the CPU benchmarks share (queue_bench.c, k2k.c): the machine and its clock, thread
 * pinning, latency percentiles, and the raw probe of anchors/cpu/spsc_probe.c (the physical floor every
 * CPU figure is compared with), so that every program measures the floor the same way in its own run.
 */
#ifndef RK_BENCH_COMMON_H
#define RK_BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_setaffinity_np; include this header first */
#endif
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

extern int bc_cores;                /* online cores (bc_init) */
extern double bc_ns_per_tick;       /* calibrated tick length of bc_ticks() */
extern double bc_tick_overhead_ns;  /* median cost of one back-to-back bc_ticks() pair */

/* Reads the core count and the starting affinity, and calibrates bc_ticks() for `secs` seconds. */
void bc_init(double secs);

static inline double bc_now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A cheap timestamp for per-sample latencies: the TSC on x86 (rdtscp waits for earlier instructions),
 * else CLOCK_MONOTONIC in ns. Calibrated against CLOCK_MONOTONIC by bc_init(). */
static inline uint64_t bc_ticks(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned aux;

    return __rdtscp(&aux);
#else
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
#endif
}

static inline void bc_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#endif
}

/* Pins the calling thread to `core` when the machine has two cores or more (else a no-op). */
void bc_pin(int core);
/* Restores the affinity the process started with (threads created afterwards inherit it). */
void bc_unpin(void);

/* The first three fields of /proc/loadavg into out ("?" where unreadable). */
void bc_loadavg(char *out, size_t cap);
/* The CPU model name into out ("unknown" where unreadable). */
void bc_cpu_model(char *out, size_t cap);
/* The commit of the source tree (RK_GIT_COMMIT if set, else git rev-parse of the directory of `file`);
 * *dirty = 1 when that tree has uncommitted changes to tracked files. */
void bc_commit(const char *file, char *out, size_t cap, int *dirty);

int bc_cmp_u64(const void *a, const void *b);

/*
 * Latency samples. Every latency figure comes from two passes of the same loop: an untimed one (mean = its
 * wall time / round trips, the anchor's method) and one that takes a timestamp pair per round trip (p50,
 * p99, min). The timestamps cost bc_tick_overhead_ns per sample, included in p50/p99/min.
 */
typedef struct bc_lat {
    uint64_t *ticks; /* timed pass: one round trip per sample; NULL during the untimed pass */
    uint64_t n;      /* round trips of the timed pass */
    double mean_ns;  /* untimed pass: wall time / round trips */
} bc_lat;

typedef struct bc_lat_sum {
    double min, p50, p99, mean; /* ns; mean = wall time / round trips */
} bc_lat_sum;

/* Sorts l->ticks and summarises them with l->mean_ns. All zero when l->n is 0. */
bc_lat_sum bc_lat_summarise(bc_lat *l);

/*
 * The raw probe of anchors/cpu/spsc_probe.c: 4096 slots of 64 B, each slot's first word carries the
 * sequence, 64-bit head/tail on separate 128-byte lines, batches of up to 64 published with one store, the
 * consumer checks every sequence. Producer on core 0, consumer on core 1. Returns the wall time of n
 * messages; *bad = the sequences the consumer found wrong (0 unless the machine is broken).
 */
double bc_raw_throughput(uint64_t n, uint64_t *bad);

/* The anchor's cache-line ping-pong (two atomics, pinger on core 0, ponger on core 1): n round trips,
 * untimed and timed (l->ticks must hold n samples). */
void bc_raw_pingpong(uint64_t n, bc_lat *l);

#endif /* RK_BENCH_COMMON_H */
