/* gpu_phase.c - where a GPU round trip spends its time (a diagnostic, not a benchmark of record).
 *
 * Built against a library configured with -DRK_DEVICE_PROFILE=ON, the device loop adds up the SM-cycle
 * length of the phases of every step in the control block's reserved words: staging the batch out of
 * mapped memory, taking it and deriving the batch's HLC, handling it and filling reply gaps. This program runs
 * sequential echo round trips and prints the mean of each phase next to the mean round trip. The same for
 * a kernel launched with RK_LAUNCH_LOW_LATENCY, whose loop (device.cuh) records the poll that found each
 * message, the step's work, and the empty polls between messages (count and length). Last, for the LL
 * kernel, what the host side costs: the same round trips with a bare host loop that writes the request's
 * wire words and spins on the reply's (as bench/ll_lab.cu does), against a fresh kernel of the same build.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#ifdef RK_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#endif

#include "core/runtime_internal.h"
#include "ringkernel/cuda.h"
#include "ringkernel/ringkernel.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The median of n samples in nanoseconds, in microseconds (sorts them). */
static double p50_us(int64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_i64);
    return v[n / 2] / 1e3;
}

/* Bare host side of n LL echo round trips on a fresh LL kernel k (nothing sent through the library before):
 * writes each request's wire words and spins on every word of the reply. Returns the p50 in microseconds
 * (0 on failure); the kernel is left with the library's positions out of date: terminate it, use no more. */
static double bare_ll_round_trips(rk_kernel *k, int n)
{
    const uint32_t slot = k->opts.slot_size, words = slot / 4u, mask = k->h2k.mask;
    uint32_t msg[RK_CUDA_LL_MAX_SLOT / 4];
    int64_t *v = malloc(sizeof *v * (size_t)n);
    rk_envelope *e = (rk_envelope *)(void *)msg;

    if (v == NULL || words > RK_CUDA_LL_MAX_SLOT / 4)
        return 0;
    memset(msg, 0, sizeof msg);
    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->payload_len = 64;
    e->type_id = 1;
    e->source = RK_ADDR_HOST;
    e->dest = RK_ADDR(k->id, 0);
    const uint32_t nw = rk_ll_words(e->payload_len, slot);
    for (int i = 0; i < n; i++) {
        const uint64_t pos = (uint64_t)i, flag = (uint64_t)RK_LL_FLAG(pos) << 32;
        _Atomic uint64_t *req = k->ll_h2k_wire + (size_t)(pos & mask) * words;
        _Atomic uint64_t *rep = k->ll_k2h_wire + (size_t)(pos & k->k2h.mask) * words;
        e->seq = pos + 1;
        msg[RK_ENVELOPE_SIZE / 4] = (uint32_t)i;
        int64_t t0 = rk_monotonic_ns();
        for (uint32_t w = 0; w < nw; w++)
            atomic_store_explicit(&req[w], flag | msg[w], memory_order_relaxed);
        for (uint32_t w = nw; w-- > 0;) {
            int64_t spins = 0;
            while ((atomic_load_explicit(&rep[w], memory_order_relaxed) >> 32) != flag >> 32)
                if (++spins > 100000000) {
                    fprintf(stderr, "gpu_phase: bare round trip %d: no reply\n", i);
                    free(v);
                    return 0;
                }
        }
        v[i] = rk_monotonic_ns() - t0;
        if ((uint32_t)atomic_load_explicit(&rep[RK_ENVELOPE_SIZE / 4], memory_order_relaxed) != (uint32_t)i) {
            fprintf(stderr, "gpu_phase: bare round trip %d: wrong echo\n", i);
            free(v);
            return 0;
        }
        /* K2H credit for the kernel (R2 of queue.c: our reads of the slot are done). */
        atomic_store_explicit(&k->k2h.hdr->tail, pos + 1, memory_order_release);
    }
    double r = p50_us(v, n);
    free(v);
    return r;
}

/* Runs n sequential echo round trips on k; returns the mean in microseconds (0 on failure), the p50 in
 * *p50. */
static double round_trips(rk_kernel *k, int n, double *p50)
{
    uint64_t payload[8] = { 0 }, back[8];
    int64_t *v = malloc(sizeof *v * (size_t)n);
    if (v == NULL)
        return 0;
    int64_t t0 = rk_monotonic_ns();

    for (int i = 0; i < n; i++) {
        rk_msg m, r;
        memset(&m, 0, sizeof m);
        memset(&r, 0, sizeof r);
        payload[0] = (uint64_t)i;
        m.env.type_id = 1;
        m.env.payload_len = sizeof payload;
        m.payload = payload;
        r.payload = back;
        r.payload_cap = sizeof back;
        int64_t t1 = rk_monotonic_ns();
        if (rk_send(k, &m, RK_TIMEOUT_MS(1000)) != 0 || rk_recv(k, &r, RK_TIMEOUT_MS(1000)) != 0 ||
            back[0] != (uint64_t)i) {
            fprintf(stderr, "gpu_phase: round trip %d failed: %s\n", i, rk_last_error());
            free(v);
            return 0;
        }
        v[i] = rk_monotonic_ns() - t1;
    }
    double mean = (rk_monotonic_ns() - t0) / 1e3 / n;
    *p50 = p50_us(v, n);
    free(v);
    return mean;
}

/* The profile words of the control block, read while the kernel runs (relaxed: diagnostic figures). */
static void profile_words(const rk_kernel *k, uint64_t w[5])
{
    /* Profile builds reuse the K2K counters and the reserved word for their sums (device.cuh). */
    w[0] = __atomic_load_n(&k->cb->k2k_in, __ATOMIC_RELAXED);
    w[1] = __atomic_load_n(&k->cb->k2k_out, __ATOMIC_RELAXED);
    w[2] = __atomic_load_n(&k->cb->reserved[0], __ATOMIC_RELAXED);
    w[3] = __atomic_load_n(&k->cb->reserved0, __ATOMIC_RELAXED);
    w[4] = __atomic_load_n(&k->cb->dropped, __ATOMIC_RELAXED);
}

/* Host pieces of rk_send, each back to back (ns per operation, runs of 1000 timed as a whole, p50 of runs). */
#define HOST_RUN 1000
#define HOST_RUNS 1000
#define HOST_PIECE(label, body)                                                                          \
    do {                                                                                                 \
        int64_t v_[HOST_RUNS];                                                                           \
        for (int r_ = 0; r_ < HOST_RUNS; r_++) {                                                         \
            int64_t t_ = rk_monotonic_ns();                                                              \
            for (int i_ = 0; i_ < HOST_RUN; i_++) {                                                      \
                body;                                                                                    \
            }                                                                                            \
            v_[r_] = rk_monotonic_ns() - t_;                                                             \
        }                                                                                                \
        printf("host, back to back: %-52s %6.1f ns\n", label, p50_us(v_, HOST_RUNS) * 1e3 / HOST_RUN); \
    } while (0)

static void host_pieces(rk_runtime *rt)
{
    static _Atomic uint32_t flag, other;
    rk_hlc_ts ts;
    uint64_t sink = 0;
#ifdef RK_HAVE_NVTX
    HOST_PIECE("NVTX range push + pop (no tool attached)", (nvtxRangePushA("x"), nvtxRangePop()));
#endif
    HOST_PIECE("seq_cst store + seq_cst load + release store", (atomic_store(&flag, 1),
               sink += atomic_load(&other), atomic_store_explicit(&flag, 0, memory_order_release)));
    HOST_PIECE("rk_runtime_hlc_now (coarse clock + lock)", (void)rk_runtime_hlc_now(rt, &ts));
    HOST_PIECE("clock_gettime(CLOCK_REALTIME_COARSE)", sink += rk_hlc_physical_coarse(NULL));
    HOST_PIECE("clock_gettime(CLOCK_MONOTONIC)", sink += (uint64_t)rk_monotonic_ns());
    if (sink == 42)
        printf("(sink)\n");
}

int main(int argc, char **argv)
{
    rk_runtime *rt;
    rk_runtime_opts o = { .backend = RK_BACKEND_CUDA };
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    int clock_khz = 0;

    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0) != cudaSuccess || clock_khz <= 0)
        clock_khz = 1980000; /* H200 boost clock, if the attribute is unavailable */
    const double cyc_us = 1.0 / (clock_khz * 1e-3); /* microseconds per SM cycle */
    if (rk_runtime_create(&rt, &o) != 0) {
        printf("gpu_phase: skipped: %s\n", rk_last_error());
        return 77;
    }
    host_pieces(rt);
    for (int ll = 0; ll < 2; ll++) {
        rk_launch_opts lo = { .flags = ll ? RK_LAUNCH_LOW_LATENCY : 0 };
        rk_kernel *k;
        if (rk_kernel_launch(rt, "echo", &lo, &k) != 0) {
            fprintf(stderr, "gpu_phase: launch: %s\n", rk_last_error());
            return 1;
        }
        for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up */
            uint64_t w0[5], w1[5];
            uint64_t steps0 = __atomic_load_n(&k->cb->msgs_in, __ATOMIC_RELAXED);
            profile_words(k, w0);
            double rt_p50 = 0, rt_us = round_trips(k, n, &rt_p50);
            if (rt_us == 0)
                return 1;
            profile_words(k, w1);
            if (pass == 0)
                continue;
            if (!ll) {
                double steps = (double)(__atomic_load_n(&k->cb->msgs_in, __ATOMIC_RELAXED) - steps0);
                double st = (w1[0] - w0[0]) / steps * cyc_us, tk = (w1[1] - w0[1]) / steps * cyc_us,
                       hd = (w1[2] - w0[2]) / steps * cyc_us;
                printf("default queues: mean round trip %.3f us over %d; per step (SM clock %.0f MHz): stage %.3f "
                       "us, take + batch HLC %.3f us, handle + gaps %.3f us; rest (poll, fence + publish, bus, "
                       "host) %.3f us\n",
                       rt_us, n, clock_khz / 1e3, st, tk, hd, rt_us - st - tk - hd);
            } else {
                /* Two 32-bit sums per word (device.cuh): poll | take, handle | wire, empty cycles | count. */
#define LO(i) ((double)(uint32_t)((uint32_t)w1[i] - (uint32_t)w0[i]))
#define HI(i) ((double)(uint32_t)((uint32_t)(w1[i] >> 32) - (uint32_t)(w0[i] >> 32)))
                double steps = (double)(w1[4] - w0[4]), empty = HI(2);
                double poll = LO(0) / steps * cyc_us, take = HI(0) / steps * cyc_us;
                double handle = LO(1) / steps * cyc_us, wire = HI(1) / steps * cyc_us;
                double epoll = empty > 0 ? LO(2) / empty * cyc_us : 0;
#undef LO
#undef HI
                printf("RK_LAUNCH_LOW_LATENCY: mean round trip %.3f us over %d; per step: the poll that found "
                       "it %.3f us, take + HLC %.3f us, handle + gaps %.3f us, wire stores %.3f us; %.2f empty "
                       "polls per round trip of %.3f us each; rest (bus to the host, host) %.3f us\n",
                       rt_us, n, poll, take, handle, wire, empty / steps, epoll,
                       rt_us - poll - take - handle - wire - empty / steps * epoll);
                printf("RK_LAUNCH_LOW_LATENCY: p50 round trip through rk_send + rk_recv %.3f us\n", rt_p50);
            }
        }
        rk_kernel_terminate(k, RK_TIMEOUT_MS(1000));
        if (ll) { /* the host side's share: a bare host loop against a fresh kernel */
            if (rk_kernel_launch(rt, "echo", &lo, &k) != 0) {
                fprintf(stderr, "gpu_phase: launch: %s\n", rk_last_error());
                return 1;
            }
            double bare = bare_ll_round_trips(k, n);
            (void)rk_kernel_terminate(k, RK_TIMEOUT_MS(1000)); /* positions out of date: may report so */
            if (bare == 0)
                return 1;
            printf("RK_LAUNCH_LOW_LATENCY: p50 round trip with a bare host loop (wire words written and "
                   "spun on directly) %.3f us\n", bare);
        }
    }
    rk_runtime_destroy(rt);
    return 0;
}
