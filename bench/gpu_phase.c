/* gpu_phase.c - where a GPU round trip spends its time (a diagnostic, not a benchmark of record).
 *
 * Built against a library configured with -DRK_DEVICE_PROFILE=ON, the device loop adds up %globaltimer
 * phases of every step in the control block's reserved words: staging the batch out of mapped memory,
 * taking and handling it, and finishing (one system fence and the publications). This program runs
 * sequential echo round trips and prints the mean of each phase next to the mean round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        if (pass == 1)
            printf("mean round trip %.3f us over %d; per step: stage %.3f us, take+handle %.3f us, "
                   "finish (fence + publish) %.3f us; rest (poll, bus, host) %.3f us\n",
                   rt_us, n, (k->cb->reserved[0] - r0[0]) / steps / 1e3, (k->cb->reserved[1] - r0[1]) / steps / 1e3,
                   (k->cb->reserved[2] - r0[2]) / steps / 1e3,
                   rt_us - (k->cb->reserved[0] - r0[0] + k->cb->reserved[1] - r0[1] + k->cb->reserved[2] - r0[2]) / steps / 1e3);
    }
    rk_kernel_terminate(k, RK_TIMEOUT_MS(1000));
    rk_runtime_destroy(rt);
    return 0;
}
