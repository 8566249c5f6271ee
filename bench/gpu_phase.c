/* gpu_phase.c - where a GPU round trip spends its time (a diagnostic, not a benchmark of record).
 *
 * Built against a library configured with -DRK_DEVICE_PROFILE=ON, the device loop adds up the SM-cycle
 * length of the phases of every step in the control block's reserved words: staging the batch out of
 * mapped memory, taking it and deriving the batch's HLC, handling it and filling reply gaps. This program runs
 * sequential echo round trips and prints the mean of each phase next to the mean round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "core/runtime_internal.h"
#include "ringkernel/ringkernel.h"

int main(int argc, char **argv)
{
    rk_runtime *rt;
    rk_kernel *k;
    rk_runtime_opts o = { .backend = RK_BACKEND_CUDA };
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    uint64_t payload[8] = { 0 }, back[8];
    int64_t t0;

    int clock_khz = 0;

    if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0) != cudaSuccess || clock_khz <= 0)
        clock_khz = 1980000; /* H200 boost clock, if the attribute is unavailable */
    if (rk_runtime_create(&rt, &o) != 0) {
        printf("gpu_phase: skipped: %s\n", rk_last_error());
        return 77;
    }
    if (rk_kernel_launch(rt, "echo", NULL, &k) != 0) {
        fprintf(stderr, "gpu_phase: launch: %s\n", rk_last_error());
        return 1;
    }
    for (int pass = 0; pass < 2; pass++) { /* pass 0 warms up */
        t0 = rk_monotonic_ns();
        uint64_t steps0 = k->cb->msgs_in;
        uint64_t r0[3] = { k->cb->reserved[0], k->cb->reserved[1], k->cb->reserved[2] };
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
                return 1;
            }
        }
        double rt_us = (rk_monotonic_ns() - t0) / 1e3 / n;
        double steps = (double)(k->cb->msgs_in - steps0);
        double cyc_us = 1.0 / (clock_khz * 1e-3); /* microseconds per SM cycle */
        double st = (k->cb->reserved[0] - r0[0]) / steps * cyc_us, tk = (k->cb->reserved[1] - r0[1]) / steps * cyc_us,
               hd = (k->cb->reserved[2] - r0[2]) / steps * cyc_us;
        if (pass == 1)
            printf("mean round trip %.3f us over %d; per step (SM clock %.0f MHz): stage %.3f us, take + batch "
                   "HLC %.3f us, handle + gaps %.3f us; rest (poll, fence + publish, bus, host) %.3f us\n",
                   rt_us, n, clock_khz / 1e3, st, tk, hd, rt_us - st - tk - hd);
    }
    rk_kernel_terminate(k, RK_TIMEOUT_MS(1000));
    rk_runtime_destroy(rt);
    return 0;
}
