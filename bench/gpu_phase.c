/* gpu_phase.c - where a GPU round trip spends its time (a diagnostic, not a benchmark of record).
 *
 * Built against a library configured with -DRK_DEVICE_PROFILE=ON, the device loop adds up the SM-cycle
 * length of the phases of every step in the control block's reserved words: staging the batch out of
 * mapped memory, taking it and deriving the batch's HLC, handling it and filling reply gaps. This program runs
 * sequential echo round trips and prints the mean of each phase next to the mean round trip. The same for
 * a kernel launched with RK_LAUNCH_LOW_LATENCY, whose loop (device.cuh) records the poll that found each
 * message, the step's work, and the empty polls between messages (count and length).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/runtime_internal.h"
#include "ringkernel/ringkernel.h"

/* Runs n sequential echo round trips on k; returns the mean in microseconds (0 on failure). */
static double round_trips(rk_kernel *k, int n)
{
    uint64_t payload[8] = { 0 }, back[8];
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
        if (rk_send(k, &m, RK_TIMEOUT_MS(1000)) != 0 || rk_recv(k, &r, RK_TIMEOUT_MS(1000)) != 0 ||
            back[0] != (uint64_t)i) {
            fprintf(stderr, "gpu_phase: round trip %d failed: %s\n", i, rk_last_error());
            return 0;
        }
    }
    return (rk_monotonic_ns() - t0) / 1e3 / n;
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
            double rt_us = round_trips(k, n);
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
            }
        }
        rk_kernel_terminate(k, RK_TIMEOUT_MS(1000));
    }
    rk_runtime_destroy(rt);
    return 0;
}
