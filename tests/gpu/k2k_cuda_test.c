/* k2k_cuda_test.c - kernel-to-kernel messaging on the CUDA backend (exit 77 without a usable GPU).
 *
 * Pipelines of 3-8 GPU actors (chains, fan-out, fan-in, a token ring) through device-memory inboxes: every
 * message delivered exactly once, per-sender order kept and HLC happened-before checked on every delivery
 * (by the actors themselves, k2k_actors.cu; a failed check is counted and fails the test). Also: K2K
 * request/reply with a name resolved on the device, backpressure (RK_EAGAIN, nothing lost), sends to a
 * stopped kernel (RK_ECLOSED), statistics, causality back to the host, and a stress of the raw inbox
 * protocol with thousands of producer threads on every SM (no message lost, duplicated or read torn).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "k2k_shared.h"
#include "ringkernel/ringkernel.h"
#include "gpu/gpu_test_util.h"

int k2k_test_actors_linked(void);
int k2k_run_stress(uint32_t blocks, uint32_t threads, uint32_t per_producer, uint32_t capacity,
                   k2k_stress_result *out);
int k2k_stress_max_blocks(uint32_t threads);

#define TIMEOUT RK_TIMEOUT_MS(10000)

static uint64_t scale(uint64_t full) { return gpu_scale(full, 50); }
static rk_runtime *new_rt(void) { return gpu_new_rt(); }

static rk_kernel *launch(rk_runtime *rt, const char *actor, uint32_t capacity)
{
    rk_kernel *k = NULL;
    rk_launch_opts o = { .queue_capacity = capacity };
    int rc = rk_kernel_launch(rt, actor, &o, &k);
    if (rc != 0)
        fail_msg("launch %s: %s: %s", actor, rk_err_name(rc), rk_last_error());
    return k;
}

static void send(rk_kernel *k, uint64_t type, const void *p, uint32_t len)
{
    rk_msg m;
    memset(&m, 0, sizeof m);
    m.env.type_id = type;
    m.env.payload_len = len;
    m.payload = (void *)(uintptr_t)p; /* rk_send only reads it */
    int rc = rk_send(k, &m, TIMEOUT);
    if (rc != 0)
        fail_msg("rk_send: %s: %s", rk_err_name(rc), rk_last_error());
}

static void configure(rk_kernel *k, const rk_kernel *const *next, uint32_t n_next, uint32_t ring_hops)
{
    k2k_cfg c;
    memset(&c, 0, sizeof c);
    for (uint32_t i = 0; i < n_next; i++)
        c.next[i] = rk_kernel_addr(next[i]);
    c.n_next = n_next;
    c.ring_hops = ring_hops;
    send(k, K2K_T_CFG, &c, sizeof c);
}

static k2k_stats stats_of(rk_kernel *k)
{
    k2k_stats s;
    rk_msg m, r;
    memset(&m, 0, sizeof m);
    memset(&r, 0, sizeof r);
    m.env.type_id = K2K_T_GET;
    r.payload = &s;
    r.payload_cap = sizeof s;
    int rc = rk_call(k, &m, &r, TIMEOUT);
    if (rc != 0)
        fail_msg("get: %s: %s", rk_err_name(rc), rk_last_error());
    assert_int_equal(r.env.payload_len, sizeof s);
    return s;
}

/* Waits until k received `want` data messages (the pipeline runs asynchronously); returns its stats. */
static k2k_stats wait_received(rk_kernel *k, uint64_t want)
{
    k2k_stats s;
    for (int i = 0; i < 20000; i++) {
        s = stats_of(k);
        if (s.received >= want || s.bad != 0)
            return s;
    }
    fail_msg("kernel %llx received %llu of %llu messages", (unsigned long long)rk_kernel_addr(k), (unsigned long long)s.received,
             (unsigned long long)want);
    return s;
}

/* Injects n numbered messages into k, in rounds of `round` so no inbox on the way overflows. `sink` and
 * `per_round` say what to wait for after each round (per_round messages more at the sink). */
static void inject(rk_kernel *k, uint64_t n, uint64_t round, rk_kernel *sink, uint64_t per_msg_at_sink,
                   uint64_t *next_n)
{
    for (uint64_t done = 0; done < n;) {
        uint64_t r = n - done < round ? n - done : round;
        for (uint64_t i = 0; i < r; i++) {
            k2k_data d;
            memset(&d, 0, sizeof d);
            d.origin = 0;
            d.n = ++*next_n;
            d.first_n = d.n;
            send(k, K2K_T_DATA, &d, sizeof d);
        }
        done += r;
        if (sink != NULL)
            (void)wait_received(sink, done * per_msg_at_sink);
    }
}

static void expect_clean(const k2k_stats *s)
{
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->eagain, 0);
    assert_int_equal(s->closed, 0);
    assert_int_equal(s->send_errors, 0);
}

static void destroy(rk_runtime *rt, rk_kernel **k, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = rk_kernel_terminate(k[i], TIMEOUT);
        if (rc != 0)
            fail_msg("terminate: %s: %s", rk_err_name(rc), rk_last_error());
        rk_kernel_stats st;
        assert_int_equal(rk_kernel_stats_get(k[i], &st), 0);
        assert_int_equal(st.errors, 0);
    }
    rk_runtime_destroy(rt);
}

/* ---- Topologies ------------------------------------------------------------------------------------- */

static void chain(int len)
{
    rk_runtime *rt = new_rt();
    rk_kernel *k[8];
    const uint64_t n = scale(100000);
    uint64_t next_n = 0, sum = 0;

    for (int i = 0; i < len; i++)
        k[i] = launch(rt, "k2k_stage", 4096);
    for (int i = 0; i + 1 < len; i++)
        configure(k[i], (const rk_kernel *const *)&k[i + 1], 1, 0);
    inject(k[0], n, 2048, k[len - 1], 1, &next_n);
    for (uint64_t i = 1; i <= n; i++)
        sum += i;
    for (int i = 0; i < len; i++) {
        k2k_stats s = wait_received(k[i], n);
        expect_clean(&s);
        assert_int_equal(s.received, n); /* exactly once at every stage */
        assert_int_equal(s.sum, sum);
    }
    /* Statistics: every stage but the last sent n over K2K; every stage but the first took n from its inbox. */
    for (int i = 0; i < len; i++) {
        rk_kernel_stats st;
        assert_int_equal(rk_kernel_stats_get(k[i], &st), 0);
        (void)st; /* final values are checked after terminate, below */
    }
    for (int i = 0; i < len; i++)
        assert_int_equal(rk_kernel_terminate(k[i], TIMEOUT), 0);
    for (int i = 0; i < len; i++) {
        rk_kernel_stats st;
        assert_int_equal(rk_kernel_stats_get(k[i], &st), 0);
        assert_int_equal(st.k2k_in, i == 0 ? 0 : n);
        assert_int_equal(st.k2k_out, i == len - 1 ? 0 : n);
        assert_int_equal(st.errors, 0);
    }
    rk_runtime_destroy(rt);
}

static void test_chain_of_3(void **s) { (void)s; chain(3); }
static void test_chain_of_8(void **s) { (void)s; chain(8); }

static void test_fan_out_to_four(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[5];
    const uint64_t n = scale(50000);
    uint64_t next_n = 0;

    for (int i = 0; i < 5; i++)
        k[i] = launch(rt, "k2k_stage", 4096);
    configure(k[0], (const rk_kernel *const *)&k[1], 4, 0);
    inject(k[0], n, 2048, k[4], 1, &next_n);
    for (int i = 1; i < 5; i++) {
        k2k_stats s = wait_received(k[i], n);
        expect_clean(&s);
        assert_int_equal(s.received, n);
        assert_int_equal(s.sum, n * (n + 1) / 2);
    }
    destroy(rt, k, 5);
}

static void test_fan_in_four_senders(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[5];
    const uint64_t n = scale(50000);
    uint64_t next_n[4] = { 0 };

    k[4] = launch(rt, "k2k_stage", 8192); /* the sink: four senders share its inbox (MPSC) */
    for (int i = 0; i < 4; i++) {
        k[i] = launch(rt, "k2k_stage", 2048);
        configure(k[i], (const rk_kernel *const *)&k[4], 1, 0);
    }
    for (uint64_t done = 0; done < n; done += 1024) {
        uint64_t r = n - done < 1024 ? n - done : 1024;
        for (int i = 0; i < 4; i++) /* interleaved, so the four senders really run at once */
            inject(k[i], r, r, NULL, 0, &next_n[i]);
        (void)wait_received(k[4], 4 * (done + r));
    }
    k2k_stats s = wait_received(k[4], 4 * n);
    expect_clean(&s);
    assert_int_equal(s.received, 4 * n);
    assert_int_equal(s.sum, 4 * (n * (n + 1) / 2));
    destroy(rt, k, 5);
}

static void test_ring_of_four(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[4];
    const uint64_t tokens = 64, hops = scale(4000);
    uint64_t next_n = 0, finished = 0, received = 0;

    for (int i = 0; i < 4; i++)
        k[i] = launch(rt, "k2k_stage", 1024);
    for (int i = 0; i < 4; i++)
        configure(k[i], (const rk_kernel *const *)&k[(i + 1) % 4], 1, (uint32_t)hops);
    inject(k[0], tokens, tokens, NULL, 0, &next_n);
    for (int round = 0; round < 20000 && finished < tokens; round++) {
        finished = 0;
        for (int i = 0; i < 4; i++)
            finished += stats_of(k[i]).finished;
    }
    assert_int_equal(finished, tokens);
    for (int i = 0; i < 4; i++) {
        k2k_stats s = stats_of(k[i]);
        expect_clean(&s);
        received += s.received;
    }
    assert_int_equal(received, tokens * hops); /* every token made exactly `hops` deliveries */
    destroy(rt, k, 4);
}

/* ---- Request/reply, endpoints, backpressure, closed kernels ------------------------------------------ */

static void test_request_reply_by_endpoint(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[2];
    const uint64_t n = scale(2000);

    k[0] = launch(rt, "k2k_stage", 1024);
    k[1] = launch(rt, "k2k_tripler", 1024);
    assert_int_equal(rk_endpoint_register(rt, "tripler", k[1]), 0);
    for (uint64_t i = 1; i <= n; i++) {
        k2k_ask q;
        memset(&q, 0, sizeof q);
        strcpy(q.endpoint, "tripler");
        q.corr = i;
        q.value = i;
        send(k[0], K2K_T_ASK, &q, sizeof q);
        k2k_stats st = stats_of(k[0]);
        for (int w = 0; w < 20000 && st.replies < i && st.bad == 0 && st.send_errors == 0; w++)
            st = stats_of(k[0]); /* one request outstanding at a time: the actor checks each reply against it */
        if (st.replies < i) {
            rk_kernel_stats ks;
            rk_kernel_stats_get(k[1], &ks);
            fail_msg("ask %llu: replies %llu, bad %llu, send errors %llu; tripler: k2k in %llu out %llu errors %llu "
                     "last error %d",
                     (unsigned long long)i, (unsigned long long)st.replies, (unsigned long long)st.bad,
                     (unsigned long long)st.send_errors, (unsigned long long)ks.k2k_in, (unsigned long long)ks.k2k_out,
                     (unsigned long long)ks.errors, ks.last_error);
        }
    }
    k2k_stats s = stats_of(k[0]);
    expect_clean(&s);
    assert_int_equal(s.replies, n);
    /* An unknown name is not resolved on the device. */
    k2k_ask q;
    memset(&q, 0, sizeof q);
    strcpy(q.endpoint, "nobody");
    q.corr = n + 1;
    send(k[0], K2K_T_ASK, &q, sizeof q);
    s = stats_of(k[0]);
    assert_int_equal(s.bad, 1);
    /* Unregistered: gone from the device table too. */
    assert_int_equal(rk_endpoint_unregister(rt, "tripler"), 0);
    strcpy(q.endpoint, "tripler");
    q.corr = n + 2;
    send(k[0], K2K_T_ASK, &q, sizeof q);
    s = stats_of(k[0]);
    assert_int_equal(s.bad, 2);
    for (int i = 0; i < 2; i++)
        assert_int_equal(rk_kernel_terminate(k[i], TIMEOUT), 0);
    rk_runtime_destroy(rt);
}

static void test_backpressure_then_drain(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[2];
    uint64_t next_n = 0;

    k[0] = launch(rt, "k2k_stage", 256);
    k[1] = launch(rt, "k2k_stage", 16); /* a 16-slot inbox */
    configure(k[0], (const rk_kernel *const *)&k[1], 1, 0);
    assert_int_equal(rk_kernel_pause(k[1]), 0);
    inject(k[0], 64, 64, k[0], 1, &next_n);
    k2k_stats head = stats_of(k[0]);
    assert_int_equal(head.received, 64);
    assert_int_equal(head.bad, 0);
    assert_int_equal(head.sent_to[0], 16); /* the inbox took 16 ... */
    assert_int_equal(head.eagain, 48);     /* ... and refused the rest, each refusal reported */
    assert_int_equal(rk_kernel_resume(k[1]), 0);
    k2k_stats sink = wait_received(k[1], 16);
    assert_int_equal(sink.received, 16);
    assert_int_equal(sink.bad, 0);
    assert_int_equal(sink.sum, 16 * 17 / 2); /* the first 16, in order */
    for (int i = 0; i < 2; i++)
        assert_int_equal(rk_kernel_terminate(k[i], TIMEOUT), 0);
    rk_runtime_destroy(rt);
}

static void test_send_to_stopped_kernel(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[2];
    uint64_t next_n = 0;

    k[0] = launch(rt, "k2k_stage", 256);
    k[1] = launch(rt, "k2k_stage", 256);
    configure(k[0], (const rk_kernel *const *)&k[1], 1, 0);
    inject(k[0], 10, 10, k[1], 1, &next_n);
    assert_int_equal(rk_kernel_terminate(k[1], TIMEOUT), 0); /* drains, closes its inbox, stops */
    inject(k[0], 5, 5, k[0], 1, &next_n);
    k2k_stats s = wait_received(k[0], 15);
    assert_int_equal(s.closed, 5);
    assert_int_equal(s.sent_to[0], 10);
    assert_int_equal(rk_kernel_terminate(k[0], TIMEOUT), 0);
    rk_runtime_destroy(rt);
}

/* Host -> GPU -> GPU -> host: the host's clock after the reply is later than every stamp on the way. */
static void test_causality_back_to_host(void **state)
{
    (void)state;
    rk_runtime *rt = new_rt();
    rk_kernel *k[2];
    uint64_t next_n = 0;
    rk_hlc_ts before, after;

    k[0] = launch(rt, "k2k_stage", 256);
    k[1] = launch(rt, "k2k_stage", 256);
    configure(k[0], (const rk_kernel *const *)&k[1], 1, 0);
    assert_int_equal(rk_runtime_hlc_now(rt, &before), 0);
    inject(k[0], 100, 100, k[1], 1, &next_n);
    k2k_stats s = stats_of(k[1]); /* its clock saw every delivery; the reply carries it to the host */
    assert_int_equal(s.bad, 0);
    assert_true(rk_hlc_compare(&s.clock, &before) > 0);
    assert_int_equal(rk_runtime_hlc_now(rt, &after), 0);
    assert_true(rk_hlc_compare(&after, &s.clock) > 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(rk_kernel_terminate(k[i], TIMEOUT), 0);
    rk_runtime_destroy(rt);
}

/* ---- Raw inbox stress ---------------------------------------------------------------------------------- */

static void stress(uint32_t capacity, uint32_t per_producer)
{
    const uint32_t threads = 128;
    int maxb = k2k_stress_max_blocks(threads);
    uint32_t blocks = maxb > 33 ? 33 : (uint32_t)maxb; /* 32 producer blocks on 32 SMs, 4096 producers */
    k2k_stress_result r;

    assert_true(blocks >= 2);
    memset(&r, 0, sizeof r);
    int e = k2k_run_stress(blocks, threads, per_producer, capacity, &r);
    assert_int_equal(e, 0);
    const uint64_t total = (uint64_t)(blocks - 1) * threads * per_producer;
    printf("# stress: %u producer threads x %u messages through a %u-slot inbox: consumed %llu, lost %llu, "
           "torn %llu, out of order %llu\n",
           (blocks - 1) * threads, per_producer, capacity, (unsigned long long)r.consumed,
           (unsigned long long)r.lost, (unsigned long long)r.torn, (unsigned long long)r.order);
    assert_int_equal(r.claim_errors, 0);
    assert_int_equal(r.lost, 0);
    assert_int_equal(r.torn, 0);
    assert_int_equal(r.order, 0);
    assert_int_equal(r.short_producers, 0);
    assert_int_equal(r.consumed, total);
    assert_int_equal(r.tail, total); /* nothing claimed beyond what was consumed: no duplicates */
}

static void test_stress_many_blocks(void **s) { (void)s; stress(4096, (uint32_t)scale(2500)); }
static void test_stress_small_inbox(void **s) { (void)s; stress(64, (uint32_t)scale(250)); }

int main(void)
{
    rk_backend_status st;
    setvbuf(stdout, NULL, _IONBF, 0); /* a log cut by a timeout still shows where it stopped */
    if (getenv("K2K_TEST_FILTER") != NULL) /* e.g. K2K_TEST_FILTER='test_stress*' */
        cmocka_set_test_filter(getenv("K2K_TEST_FILTER"));
    k2k_test_actors_linked();
    if (rk_backend_probe(RK_BACKEND_CUDA, &st) != 0 || !st.available) {
        printf("SKIP: CUDA not available: %s\n", st.reason);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_of_3),
        cmocka_unit_test(test_chain_of_8),
        cmocka_unit_test(test_fan_out_to_four),
        cmocka_unit_test(test_fan_in_four_senders),
        cmocka_unit_test(test_ring_of_four),
        cmocka_unit_test(test_request_reply_by_endpoint),
        cmocka_unit_test(test_backpressure_then_drain),
        cmocka_unit_test(test_send_to_stopped_kernel),
        cmocka_unit_test(test_causality_back_to_host),
        cmocka_unit_test(test_stress_many_blocks),
        cmocka_unit_test(test_stress_small_inbox),
    };
    /* compute-sanitizer serialises kernels, and every pipeline test needs two or more resident kernels at
     * once (they would wait for each other forever under it): RK_GPU_SANITIZER=1 runs the one-kernel
     * tests, whose producers and consumer use the same inbox primitives (rk_k2k_ring_*, KQ1-KQ4) from
     * blocks of one grid. */
    const char *san = getenv("RK_GPU_SANITIZER");
    if (san != NULL && san[0] == '1') {
        const struct CMUnitTest one_kernel[] = {
            cmocka_unit_test(test_stress_many_blocks),
            cmocka_unit_test(test_stress_small_inbox),
        };
        return cmocka_run_group_tests(one_kernel, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
