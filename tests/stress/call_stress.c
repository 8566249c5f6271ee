/* call_stress.c - long concurrent validation of rk_call (label `stress`; not run under sanitizers).
 *
 * Runs on the CPU backend, against the built-in echo actor launched with RK_LAUNCH_MULTI_PRODUCER:
 *   1. one caller, 200 k calls: the single-caller path, and its rate;
 *   2. 8 callers x 100 k calls each on one kernel: the shared pending-call table (runtime.c K7);
 *   3. 8 callers x 100 k calls each, every 16th with a zero timeout (it gives up at once, so its reply is
 *      dropped when it arrives): late replies must never reach another caller;
 *   4. 8 callers x 20 k calls each on "stress_slow_echo" (below), every 64th asking the actor to take 300 us
 *      and waiting only 50 us: real deadlines expire (RK_ETIMEDOUT) while the other callers go on, and
 *      each late reply arrives after its caller left.
 *
 * Every request carries its caller id, the caller's sequence number, a 64-bit mix of both and the delay it
 * asks for; each caller checks that its reply carries exactly its own four words. Every run checks that
 * stats.dropped equals the number of calls that gave up (the late replies were counted and dropped, none
 * handed to a caller), and runs 3 and 4 that some did. Any violation makes the program exit 1; a call that
 * waits 30 s fails.
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
#include "ringkernel/actor.h"
#include "ringkernel/runtime.h"

#define STUCK_NS RK_TIMEOUT_MS(30000)
#define MAX_CALLERS 64

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Echoes a request of four words; the fourth asks it to take that many nanoseconds first (busy, so the
 * reply is late by at least that much). */
static int slow_echo(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    uint64_t w[4];

    if (env->payload_len != sizeof w)
        return RK_EINVAL;
    memcpy(w, payload, sizeof w);
    if (w[3] != 0) {
        int64_t until = rk_monotonic_ns() + (int64_t)w[3];

        while (rk_monotonic_ns() < until)
            ;
    }
    return rk_actor_reply(ctx, env, env->type_id, w, sizeof w);
}
RK_REGISTER_ACTOR(stress_slow_echo, slow_echo, 0)

#define SLOW_NS 300000 /* what a slow request asks the actor to take */
#define SLOW_DEADLINE_NS 50000 /* what its caller waits */

typedef struct caller {
    rk_kernel *k;
    uint64_t id;
    uint64_t calls;
    uint32_t give_up_every; /* every n-th call gives up early (0: never) */
    int slow;               /* 0: a give-up call has a zero timeout; 1: it asks for SLOW_NS and waits less */
    uint64_t gave_up;       /* calls that returned RK_EAGAIN or RK_ETIMEDOUT (their replies are dropped later) */
    int failed;
} caller;

static void *caller_main(void *p)
{
    caller *c = p;

    for (uint64_t i = 1; i <= c->calls && !c->failed; i++) {
        int give_up = c->give_up_every != 0 && i % c->give_up_every == 0, rc;
        uint64_t req[4] = { c->id, i, mix64(c->id << 40 ^ i), give_up && c->slow ? SLOW_NS : 0 }, out[4] = { 0 };
        rk_msg m, r;
        int64_t timeout = !give_up ? STUCK_NS : c->slow ? SLOW_DEADLINE_NS : 0;

        memset(&m, 0, sizeof m);
        memset(&r, 0, sizeof r);
        m.env.type_id = 42;
        m.env.payload_len = sizeof req;
        m.payload = req;
        r.payload = out;
        r.payload_cap = sizeof out;
        rc = rk_call(c->k, &m, &r, timeout);
        if (give_up && rc == (c->slow ? RK_ETIMEDOUT : RK_EAGAIN)) {
            c->gave_up++;
            continue;
        }
        if (rc != 0) {
            fprintf(stderr, "caller %llu call %llu%s: %s (%s)\n", (unsigned long long)c->id, (unsigned long long)i,
                    give_up ? " (meant to give up)" : "", rk_err_name(rc), rk_last_error());
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

/* One run: n callers, `calls` each, on a fresh kernel of `actor`. Returns 0 or 1. */
static int run(const char *what, const char *actor, int n, uint64_t calls, uint32_t give_up_every, int slow)
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
        rk_kernel_launch(rt, actor, &(rk_launch_opts){ .flags = RK_LAUNCH_MULTI_PRODUCER }, &k) != 0) {
        fprintf(stderr, "%s: setup: %s\n", what, rk_last_error());
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        c[i] = (caller){ .k = k, .id = (uint64_t)i + 1, .calls = calls, .give_up_every = give_up_every,
                         .slow = slow };
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
    if (give_up_every != 0 && calls >= give_up_every && gave_up == 0) {
        fprintf(stderr, "%s: no call gave up: the timeouts were not exercised\n", what);
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
    /* Call counts end in 1 so that no caller's last call gives up: its reply drains every late one. */
    failed |= run("1. one caller", "echo", 1, (uint64_t)(200000 * scale) + 1, 0, 0);
    failed |= run("2. concurrent callers", "echo", callers, (uint64_t)(100000 * scale) + 1, 0, 0);
    failed |= run("3. concurrent, some give up", "echo", callers, (uint64_t)(100000 * scale) + 1, 16, 0);
    failed |= run("4. concurrent, deadlines expire", "stress_slow_echo", callers, (uint64_t)(20000 * scale) + 1, 64,
                  1);
    return failed;
}
