/* cuda_test.c - GPU-only tests of the CUDA backend (exit 77 without a usable GPU).
 *
 * The runtime suite that every backend passes is tests/core/runtime_test.c (run with --backend cuda);
 * this file holds what only a GPU has: co-residency limits, several resident kernels, terminate under
 * load, faults raised on the device, grid-synchronised multi-block kernels, state across 1M messages, and
 * the low-latency queue encoding (RK_LAUNCH_LOW_LATENCY: every payload length, limits, faults).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "ringkernel/builtin.h"
#include "ringkernel/ringkernel.h"
#include "gpu/gpu_test_util.h"

int rk_test_actors_linked(void);

static uint64_t scale(uint64_t full) { return gpu_scale(full, 100); }
static rk_runtime *new_rt(void) { return gpu_new_rt(); }

static void send_u64(rk_kernel *k, uint64_t type, uint64_t v, uint8_t flags)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.env.type_id = type;
    m.env.flags = flags;
    m.env.payload_len = sizeof v;
    m.payload = &v;
    int rc = rk_send(k, &m, RK_TIMEOUT_MS(5000));
    if (rc != 0)
        fail_msg("rk_send: %s: %s", rk_err_name(rc), rk_last_error());
}

static uint64_t recv_u64(rk_kernel *k, rk_envelope *env)
{
    uint64_t v = 0;
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.payload = &v;
    m.payload_cap = sizeof v;
    int rc = rk_recv(k, &m, RK_TIMEOUT_MS(5000));
    if (rc != 0)
        fail_msg("rk_recv: %s: %s", rk_err_name(rc), rk_last_error());
    if (env)
        *env = m.env;
    return v;
}

/* Counter state lives in device memory and persists across 1M messages (ordered actor), with plain and
 * low-latency queues. */
static void counter_million(uint32_t flags)
{
    rk_runtime *rt = new_rt();
    rk_kernel *k;
    rk_launch_opts o = { .queue_capacity = 8192, .flags = flags };
    const uint64_t n = scale(1000000);
    assert_int_equal(rk_kernel_launch(rt, "counter", &o, &k), 0);
    for (uint64_t i = 1; i <= n; i++) {
        int64_t v = (int64_t)i;
        rk_msg m;
        memset(&m, 0, sizeof m);
        m.env.type_id = RK_TYPE_ID(counter_add);
        m.env.payload_len = sizeof v;
        m.payload = &v;
        assert_int_equal(rk_send(k, &m, RK_TIMEOUT_MS(5000)), 0);
    }
    rk_msg q, r;
    rk_counter_value val;
    memset(&q, 0, sizeof q);
    memset(&r, 0, sizeof r);
    q.env.type_id = RK_TYPE_ID(counter_get);
    r.payload = &val;
    r.payload_cap = sizeof val;
    assert_int_equal(rk_call(k, &q, &r, RK_TIMEOUT_MS(20000)), 0);
    assert_int_equal(val.count, n);
    assert_int_equal(val.sum, (int64_t)(n * (n + 1) / 2));
    /* Counters are published after the replies of a step (relaxed stores behind the same fence): read
     * them once the kernel stopped. */
    rk_kernel_stats st;
    assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.msgs_in, n + 1);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_counter_million(void **state)
{
    (void)state;
    counter_million(0);
}

static void test_counter_million_ll(void **state)
{
    (void)state;
    counter_million(RK_LAUNCH_LOW_LATENCY);
}

/* Low-latency queues (abi.h LL encoding): every payload length from 0 to the slot's maximum crosses both
 * ways intact and in order, with up to 16 messages in flight (so steps take several), reply stamps
 * increasing; payloads over 64 bytes exercise the wire words past the head on both sides. */
static void test_low_latency_every_length(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k;
    rk_launch_opts o = { .queue_capacity = 64, .slot_size = 1024, .flags = RK_LAUNCH_LOW_LATENCY };
    const uint32_t max = 1024 - RK_ENVELOPE_SIZE, window = 16;
    uint8_t out[1024], in[1024];
    rk_hlc_ts last = { 0, 0, 0 };
    uint32_t sent = 0, got = 0;

    assert_int_equal(rk_kernel_launch(rt, "echo", &o, &k), 0);
    assert_int_equal(rk_kernel_payload_max(k), max);
    for (uint32_t round = 0; round < (uint32_t)scale(20) + 1; round++) {
        for (sent = got = 0; got <= max;) {
            while (sent <= max && sent - got < window) {
                rk_msg m;
                for (uint32_t b = 0; b < sent; b++)
                    out[b] = (uint8_t)(b * 7u + sent + round);
                memset(&m, 0, sizeof m);
                m.env.type_id = 1000 + sent;
                m.env.payload_len = sent;
                m.payload = out;
                assert_int_equal(rk_send(k, &m, RK_TIMEOUT_MS(5000)), 0);
                sent++;
            }
            rk_msg r;
            memset(&r, 0, sizeof r);
            r.payload = in;
            r.payload_cap = sizeof in;
            assert_int_equal(rk_recv(k, &r, RK_TIMEOUT_MS(5000)), 0);
            assert_int_equal(r.env.type_id, 1000 + got);
            assert_int_equal(r.env.payload_len, got);
            for (uint32_t b = 0; b < got; b++)
                if (in[b] != (uint8_t)(b * 7u + got + round))
                    fail_msg("length %u, byte %u: got 0x%02x", got, b, in[b]);
            assert_true(rk_hlc_compare(&r.env.hlc, &last) > 0);
            last = r.env.hlc;
            got++;
        }
    }
    rk_kernel_stats st;
    assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.msgs_in, st.msgs_out);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* What the CUDA low-latency path cannot take is refused at launch, with the limit named. */
static void test_low_latency_limits(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k = NULL;
    const rk_launch_opts bad[] = {
        { .block_size = 64, .flags = RK_LAUNCH_LOW_LATENCY },
        { .grid_size = 2, .flags = RK_LAUNCH_LOW_LATENCY },
        { .slot_size = 2048, .flags = RK_LAUNCH_LOW_LATENCY },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rk_kernel_launch(rt, "echo", &bad[i], &k), RK_EINVAL);
        assert_non_null(strstr(rk_last_error(), "RK_LAUNCH_LOW_LATENCY serves on one warp"));
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* The largest grid of `block` threads the echo loop may launch alone (binary search over real launches). */
static uint32_t largest_grid(rk_runtime *rt, uint32_t block, uint32_t hi)
{
    uint32_t lo = 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        rk_launch_opts o = { .block_size = block, .grid_size = mid };
        rk_kernel *k;
        int rc = rk_kernel_launch(rt, "echo", &o, &k);
        if (rc == 0) {
            assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
            lo = mid;
        } else {
            assert_int_equal(rc, RK_ELIMIT);
            hi = mid - 1;
        }
    }
    return lo;
}

/* A grid that cannot be co-resident is refused before launch, with the limit in the message; resident
 * kernels count against later launches. */
static void test_oversubscribed_launch(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k = NULL, *k2 = NULL;
    rk_device_info dev;
    assert_int_equal(rk_backend_devices(RK_BACKEND_CUDA, &dev, 1), 1);
    rk_launch_opts huge = { .block_size = 1024, .grid_size = (uint32_t)dev.compute_units * 64 };
    assert_int_equal(rk_kernel_launch(rt, "echo", &huge, &k), RK_ELIMIT);
    assert_non_null(strstr(rk_last_error(), "co-residency"));
    /* The cap is the device's: at least one block per SM, at most 2048 threads per SM. */
    uint32_t cap = largest_grid(rt, 1024, (uint32_t)dev.compute_units * 2);
    print_message("co-resident 1024-thread echo blocks: %u on %d SMs\n", cap, dev.compute_units);
    assert_true(cap >= (uint32_t)dev.compute_units);
    /* Two kernels of 60% of the device each: the second is refused, then fits once the first stopped. */
    rk_launch_opts big = { .block_size = 1024, .grid_size = cap * 6 / 10 };
    assert_int_equal(rk_kernel_launch(rt, "echo", &big, &k), 0);
    assert_int_equal(rk_kernel_launch(rt, "echo", &big, &k2), RK_ELIMIT);
    assert_non_null(strstr(rk_last_error(), "held by resident"));
    /* The first kernel still works. */
    send_u64(k, 7, 42, 0);
    assert_int_equal(recv_u64(k, NULL), 42);
    assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
    assert_int_equal(rk_kernel_launch(rt, "echo", &big, &k2), 0);
    send_u64(k2, 7, 43, 0);
    assert_int_equal(recv_u64(k2, NULL), 43);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Four resident kernels at once, each on its own stream and queues, traffic interleaved. */
static void test_four_kernels(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(rk_kernel_launch(rt, "echo", NULL, &k[i]), 0);
    const uint64_t rounds = scale(20000);
    for (uint64_t r = 0; r < rounds; r++) {
        for (int i = 0; i < 4; i++)
            send_u64(k[i], 1, r * 4 + (uint64_t)i, 0);
        for (int i = 0; i < 4; i++)
            assert_int_equal(recv_u64(k[i], NULL), r * 4 + (uint64_t)i);
    }
    for (int i = 0; i < 4; i++) {
        rk_kernel_stats st;
        assert_int_equal(rk_kernel_terminate(k[i], RK_TIMEOUT_MS(2000)), 0); /* counters are final then */
        assert_int_equal(rk_kernel_stats_get(k[i], &st), 0);
        assert_int_equal(st.msgs_in, rounds);
        assert_int_equal(st.msgs_out, rounds);
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Terminate while a producer thread keeps sending: terminate returns in bounded time, later sends get
 * RK_ECLOSED, and every accepted message is answered. */
typedef struct load_arg {
    rk_kernel *k;
    uint64_t accepted;
    int last_rc;
} load_arg;

static void *load_thread(void *p)
{
    load_arg *a = p;
    for (uint64_t i = 0;; i++) {
        uint64_t v = i;
        rk_msg m;
        memset(&m, 0, sizeof m);
        m.env.type_id = 9;
        m.env.payload_len = sizeof v;
        m.payload = &v;
        int rc = rk_send(a->k, &m, RK_TIMEOUT_MS(1000));
        if (rc != 0) {
            a->last_rc = rc;
            return NULL;
        }
        a->accepted++;
    }
}

/* Receives until the kernel stopped and nothing is left, checking the echo order. */
typedef struct recv_arg {
    rk_kernel *k;
    uint64_t got;
    int last_rc;
    int bad;
} recv_arg;

static void *recv_thread(void *p)
{
    recv_arg *r = p;
    for (;;) {
        rk_msg m;
        uint64_t v;
        memset(&m, 0, sizeof m);
        m.payload = &v;
        m.payload_cap = sizeof v;
        int rc = rk_recv(r->k, &m, RK_TIMEOUT_MS(100));
        if (rc == RK_ETIMEDOUT)
            continue;
        if (rc != 0) {
            r->last_rc = rc;
            return NULL;
        }
        if (v != r->got)
            r->bad++;
        r->got++;
    }
}

/* Terminate while one thread sends as fast as it can and another receives: terminate returns in bounded
 * time, the sender gets RK_ECLOSED, and every message accepted before it was answered, in order. */
static void test_terminate_under_load(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k;
    rk_launch_opts o = { .queue_capacity = 1u << 16 };
    assert_int_equal(rk_kernel_launch(rt, "echo", &o, &k), 0);
    load_arg a = { k, 0, 0 };
    recv_arg r = { k, 0, 0, 0 };
    pthread_t th, rx;
    pthread_create(&th, NULL, load_thread, &a);
    pthread_create(&rx, NULL, recv_thread, &r);
    nanosleep(&(struct timespec){ 0, (long)scale(300) * 1000000 }, NULL);
    int64_t t0 = rk_monotonic_ns();
    int rc = rk_kernel_terminate(k, RK_TIMEOUT_MS(5000));
    int64_t took = rk_monotonic_ns() - t0;
    pthread_join(th, NULL);
    pthread_join(rx, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(a.last_rc, RK_ECLOSED);
    assert_int_equal(r.last_rc, RK_ECLOSED);
    assert_int_equal(r.bad, 0);
    uint64_t got = r.got;
    assert_int_equal(got, a.accepted);
    print_message("terminate under load: %llu messages answered, terminate took %.2f ms\n",
                  (unsigned long long)got, took / 1e6);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* A handler error is counted and answered; a device fault (RK_EFAULT) fails the kernel, and the host's
 * next call reports it. */
static void device_fault(uint32_t flags)
{
    rk_runtime *rt = new_rt();
    rk_kernel *k;
    rk_envelope env;
    rk_launch_opts o = { .flags = flags };
    assert_int_equal(rk_test_actors_linked(), 1);
    assert_int_equal(rk_kernel_launch(rt, "faulty", &o, &k), 0);
    send_u64(k, 5, 11, 0);
    assert_int_equal(recv_u64(k, NULL), 11);
    send_u64(k, RK_TYPE_ID(oops), 1, RK_ENV_REQUEST);
    (void)recv_u64(k, &env);
    assert_true(env.flags & RK_ENV_ERROR);
    send_u64(k, RK_TYPE_ID(boom), 1, 0);
    /* The kernel fails asynchronously: within a second, every call reports RK_EFAULT. */
    int rc = 0;
    for (int i = 0; i < 1000 && rc == 0; i++) {
        uint64_t v = 0;
        rk_msg m;
        memset(&m, 0, sizeof m);
        m.env.type_id = 5;
        m.env.payload_len = sizeof v;
        m.payload = &v;
        rc = rk_send(k, &m, RK_TIMEOUT_MS(10));
        if (rc == 0) {
            rk_msg r;
            memset(&r, 0, sizeof r);
            r.payload = &v;
            r.payload_cap = sizeof v;
            rc = rk_recv(k, &r, RK_TIMEOUT_MS(10));
            if (rc == RK_ETIMEDOUT)
                rc = 0;
        }
    }
    assert_int_equal(rc, RK_EFAULT);
    assert_int_equal(rk_kernel_state_get(k), RK_STATE_FAILED);
    rk_kernel_stats st;
    assert_int_equal(rk_kernel_stats_get(k, &st), 0);
    assert_int_equal(st.last_error, RK_EFAULT);
    assert_true(st.errors >= 2);
    rk_runtime_destroy(rt);
}

static void test_device_fault(void **state)
{
    (void)state;
    device_fault(0);
}

static void test_device_fault_ll(void **state)
{
    (void)state;
    device_fault(RK_LAUNCH_LOW_LATENCY);
}

/* A multi-block cooperative kernel: messages spread over the grid, replies in request order, HLC stamps
 * strictly increasing, and every block leaves together on terminate. */
static void test_grid_kernel(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k;
    rk_launch_opts o = { .block_size = 128, .grid_size = 8, .queue_capacity = 4096 };
    assert_int_equal(rk_kernel_launch(rt, "stamp", &o, &k), 0);
    struct {
        rk_hlc_ts ts;
        uint32_t block, thread;
    } rep;
    rk_hlc_ts last = { 0, 0, 0 };
    uint32_t max_block = 0;
    for (int round = 0; round < (int)scale(200); round++) {
        rk_msg ms[1024];
        memset(ms, 0, sizeof ms);
        for (int i = 0; i < 1024; i++)
            ms[i].env.type_id = 3;
        int sent = 0;
        while (sent < 1024) {
            int rc = rk_send_batch(k, ms + sent, (uint32_t)(1024 - sent), RK_TIMEOUT_MS(2000));
            assert_true(rc > 0);
            sent += rc;
        }
        for (int i = 0; i < 1024; i++) {
            rk_msg r;
            memset(&r, 0, sizeof r);
            r.payload = &rep;
            r.payload_cap = sizeof rep;
            assert_int_equal(rk_recv(k, &r, RK_TIMEOUT_MS(2000)), 0);
            /* Reply stamps increase in K2H order; the handler's own tick is above its batch's replies. */
            assert_true(rk_hlc_compare(&r.env.hlc, &last) > 0);
            assert_true(rk_hlc_compare(&rep.ts, &r.env.hlc) > 0);
            last = r.env.hlc;
            if (rep.block > max_block)
                max_block = rep.block;
        }
    }
    assert_true(max_block > 0); /* messages did reach blocks other than 0 */
    assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
    assert_int_equal(rk_kernel_state_get(k), RK_STATE_STOPPED);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

int main(void)
{
    rk_backend_status st;
    if (rk_backend_probe(RK_BACKEND_CUDA, &st) != 0 || !st.available) {
        printf("cuda_test: skipped: %s\n", st.reason);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_kernels),
        cmocka_unit_test(test_grid_kernel),
        cmocka_unit_test(test_oversubscribed_launch),
        cmocka_unit_test(test_device_fault),
        cmocka_unit_test(test_terminate_under_load),
        cmocka_unit_test(test_counter_million),
        cmocka_unit_test(test_counter_million_ll),
        cmocka_unit_test(test_device_fault_ll),
        cmocka_unit_test(test_low_latency_every_length),
        cmocka_unit_test(test_low_latency_limits),
    };
    /* compute-sanitizer serialises kernels, so tests that need two resident kernels at once would wait
     * forever under it: RK_GPU_SANITIZER=1 runs the one-kernel tests only. */
    const char *san = getenv("RK_GPU_SANITIZER");
    if (san != NULL && san[0] == '1') {
        const struct CMUnitTest one_kernel[] = {
            cmocka_unit_test(test_grid_kernel),
            cmocka_unit_test(test_device_fault),
            cmocka_unit_test(test_terminate_under_load),
            cmocka_unit_test(test_counter_million),
            cmocka_unit_test(test_counter_million_ll),
            cmocka_unit_test(test_device_fault_ll),
            cmocka_unit_test(test_low_latency_every_length),
        };
        return cmocka_run_group_tests(one_kernel, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
