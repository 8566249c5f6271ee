/* actor_test_helpers.h - helpers shared by the CPU actor tests (k2k_test.c, pubsub_test.c).
 *
 * Include after cmocka.h, with WORKERS (CPU worker threads) and TIMEOUT (ns) defined. Every helper fails the
 * running test with the library's detail string when a call does not succeed.
 */
#ifndef RK_ACTOR_TEST_HELPERS_H
#define RK_ACTOR_TEST_HELPERS_H

#include <string.h>

#include "ringkernel/runtime.h"

static rk_runtime *t_runtime(void)
{
    rk_runtime *rt = NULL;
    rk_runtime_opts o = { .backend = RK_BACKEND_CPU, .workers = WORKERS };

    if (rk_runtime_create(&rt, &o) != 0)
        fail_msg("rk_runtime_create: %s", rk_last_error());
    return rt;
}

/* Launches actor `name` with the given queue capacity and slot size (0: defaults). */
static rk_kernel *t_launch(rk_runtime *rt, const char *name, uint32_t capacity, uint32_t slot)
{
    rk_launch_opts o = { .queue_capacity = capacity, .slot_size = slot };
    rk_kernel *k = NULL;

    if (rk_kernel_launch(rt, name, &o, &k) != 0)
        fail_msg("rk_kernel_launch(%s): %s", name, rk_last_error());
    return k;
}

static void t_send(rk_kernel *k, uint64_t type, const void *payload, uint32_t len)
{
    rk_msg m = { .env = { .type_id = type, .payload_len = len }, .payload = (void *)payload };

    if (rk_send(k, &m, TIMEOUT) != 0)
        fail_msg("rk_send: %s", rk_last_error());
}

/* rk_call with a reply of up to cap bytes into out; returns the reply's payload length. */
static uint32_t t_call(rk_kernel *k, uint64_t type, const void *payload, uint32_t len, void *out, uint32_t cap)
{
    rk_msg m = { .env = { .type_id = type, .payload_len = len }, .payload = (void *)payload }, reply;

    memset(&reply, 0, sizeof reply);
    reply.payload = out;
    reply.payload_cap = cap;
    if (rk_call(k, &m, &reply, TIMEOUT) != 0)
        fail_msg("rk_call: %s", rk_last_error());
    return reply.env.payload_len;
}

/* Receives one message of exactly len bytes into out; returns its envelope. */
static rk_envelope t_recv(rk_kernel *k, void *out, uint32_t len)
{
    rk_msg r;

    memset(&r, 0, sizeof r);
    r.payload = out;
    r.payload_cap = len;
    if (rk_recv(k, &r, TIMEOUT) != 0)
        fail_msg("rk_recv: %s", rk_last_error());
    assert_int_equal(r.env.payload_len, len);
    return r.env;
}

/* The kernel's final statistics: a kernel publishes its counters at the end of an activation, after the
 * replies the host may already have received, so tests read them once it stopped. */
static rk_kernel_stats t_final_stats(rk_kernel *k)
{
    rk_kernel_stats st;
    int rc = rk_kernel_terminate(k, TIMEOUT);

    if (rc != 0 && rc != RK_ECLOSED)
        fail_msg("rk_kernel_terminate: %s", rk_last_error());
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.state, RK_STATE_STOPPED);
    return st;
}

#endif /* RK_ACTOR_TEST_HELPERS_H */
