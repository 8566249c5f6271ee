/* call_stress.c - long concurrent validation of rk_call (label `stress`; not run under sanitizers).
 *
 * Runs on the CPU backend, against the built-in echo actor launched with RK_LAUNCH_MULTI_PRODUCER:
 *   1. one caller, 200 k calls: the single-caller path, and its rate;
 *   2. 8 callers x 100 k calls each on one kernel: the shared pending-call table (runtime.c K7);
 *   3. 8 callers x 20 k calls each, every 16th with a zero timeout (it gives up at once, so its reply is
 *      dropped when it arrives): late replies must never reach another caller.
 *
 * Every request carries its caller id, the caller's sequence number and a 64-bit mix of both; each caller
 * checks that its reply carries exactly its own three words. Run 3 also checks that stats.dropped equals
 * the number of calls that gave up. Any violation makes the program exit 1; a call that waits 30 s fails.
 *
 * Usage: call_stress [--scale F] [--callers N]   (F multiplies every call count; N replaces 8)
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mix64.h"
#include "ringkernel/runtime.h"

#define STUCK_NS RK_TIMEOUT_MS(30000)
#define MAX_CALLERS 64

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct caller {
    rk_kernel *k;
    uint64_t id;
    uint64_t calls;
    uint32_t give_up_every; /* every n-th call uses a zero timeout (0: never) */
    uint64_t gave_up;       /* calls that returned RK_EAGAIN (their replies are dropped later) */
    int failed;
} caller;

static void *caller_main(void *p)
{
    caller *c = p;

    for (uint64_t i = 1; i <= c->calls && !c->failed; i++) {
        uint64_t req[3] = { c->id, i, mix64(c->id << 40 ^ i) }, out[3] = { 0 };
        rk_msg m, r;
        int give_up = c->give_up_every != 0 && i % c->give_up_every == 0, rc;

        memset(&m, 0, sizeof m);
        memset(&r, 0, sizeof r);
        m.env.type_id = 42;
        m.env.payload_len = sizeof req;
        m.payload = req;
        r.payload = out;
        r.payload_cap = sizeof out;
        rc = rk_call(c->k, &m, &r, give_up ? 0 : STUCK_NS);
        if (give_up && rc == RK_EAGAIN) {
            c->gave_up++;
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "caller %llu call %llu: %s\n", (unsigned long long)c->id, (unsigned long long)i,
                    rk_last_error());
            c->failed = 1;
        } else if (memcmp(out, req, sizeof req) != 0 || r.env.payload_len != sizeof req ||
                   !(r.env.flags & RK_ENV_REPLY)) {
            fprintf(stderr, "caller %llu call %llu: got (%llu, %llu, %016llx), flags 0x%x\n",
                    (unsigned long long)c->id, (unsigned long long)i, (unsigned long long)out[0],
                    (unsigned long long)out[1], (unsigned long long)out[2], (unsigned)r.env.flags);
            c->failed = 1;
        }
    }
    return NULL;
}

/* One run: n callers, `calls` each, on a fresh echo kernel. Returns 0 or 1. */
static int run(const char *what, int n, uint64_t calls, uint32_t give_up_every)
{
    rk_runtime *rt = NULL;
    rk_kernel *k = NULL;
    caller c[MAX_CALLERS];
    pthread_t t[MAX_CALLERS];
    rk_kernel_stats st;
    uint64_t gave_up = 0;
    int failed = 0;
    double t0, dt;

    if (rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU }) != 0 ||
        rk_kernel_launch(rt, "echo", &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER }, &k) != 0) {
        fprintf(stderr, "%s: setup: %s\n", what, rk_last_error());
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        c[i] = (caller){ .k = k, .id = (uint64_t)i + 1, .calls = calls, .give_up_every = give_up_every };
        if (pthread_create(&t[i], NULL, caller_main, &c[i]) != 0) {
            fprintf(stderr, "%s: pthread_create failed\n", what);
            return 1;
        }
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
        failed |= c[i].failed;
        gave_up += c[i].gave_up;
    }
    dt = now_s() - t0;
    (void)rk_kernel_stats_get(k, &st);
    /* Every reply of a call that gave up was drained (and dropped) by a later call of the same caller: K2H
     * is FIFO and the kernel answers in order. */
    if (st.dropped != gave_up) {
        fprintf(stderr, "%s: stats.dropped %llu, but %llu calls gave up\n", what, (unsigned long long)st.dropped,
                (unsigned long long)gave_up);
        failed = 1;
    }
    printf("%-34s %2d callers x %7llu calls: %6.2f s, %9.0f calls/s, %llu gave up and dropped %s\n", what, n,
           (unsigned long long)calls, dt, (double)n * (double)calls / dt, (unsigned long long)gave_up,
           failed ? "FAILED" : "ok");
    fflush(stdout);
    if (rk_runtime_destroy(rt) != 0)
        failed = 1;
    return failed;
}

int main(int argc, char **argv)
{
    double scale = 1.0;
    int callers = 8, failed = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = atof(argv[++i]);
        } else if (strcmp(argv[i], "--callers") == 0 && i + 1 < argc) {
            callers = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: call_stress [--scale F] [--callers N]\n");
            return 2;
        }
    }
    if (scale <= 0 || callers < 1 || callers > MAX_CALLERS) {
        fprintf(stderr, "call_stress: scale must be > 0 and callers in [1, %d]\n", MAX_CALLERS);
        return 2;
    }
    failed |= run("1. one caller", 1, (uint64_t)(200000 * scale) + 1, 0);
    failed |= run("2. concurrent callers", callers, (uint64_t)(100000 * scale) + 1, 0);
    failed |= run("3. concurrent, some give up", callers, (uint64_t)(20000 * scale) + 1, 16);
    return failed;
}
