/* hlc_test.c - hybrid logical clocks: the send/receive rules step by step with an injected physical clock,
 * skew rejection, logical overflow, happened-before over random causal histories, and concurrent ticking. */
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

#include "ringkernel/error.h"
#include "ringkernel/hlc.h"

/* ------------------------------------------------------------------------------------------------ */
/* Helpers.                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

/* An injected physical clock: whatever the test last wrote. */
typedef struct fake_time {
    uint64_t now;
} fake_time;

static uint64_t fake_read(void *arg) { return ((const fake_time *)arg)->now; }

static void fake_clock(rk_hlc_clock *c, fake_time *t, uint32_t node, uint64_t max_offset_ns)
{
    assert_int_equal(rk_hlc_init(c, node, max_offset_ns), 0);
    assert_int_equal(rk_hlc_set_physical(c, fake_read, t), 0);
}

static rk_hlc_ts ts_make(uint64_t physical, uint32_t logical, uint32_t node)
{
    return (rk_hlc_ts){ .physical = physical, .logical = logical, .node = node };
}

static int ts_equal(rk_hlc_ts a, rk_hlc_ts b) { return rk_hlc_compare(&a, &b) == 0; }

#define assert_ts(got, p, l, n)                                                                      \
    do {                                                                                             \
        rk_hlc_ts got_ = (got);                                                                      \
        if (!ts_equal(got_, ts_make((p), (l), (n))))                                                 \
            fail_msg("timestamp (%llu, %u, %u), expected (%llu, %u, %u)",                           \
                     (unsigned long long)got_.physical, got_.logical, got_.node,                     \
                     (unsigned long long)(p), (unsigned)(l), (unsigned)(n));                         \
    } while (0)

static rk_hlc_ts peek(rk_hlc_clock *c)
{
    rk_hlc_ts ts;

    assert_int_equal(rk_hlc_peek(c, &ts), 0);
    return ts;
}

static rk_hlc_ts tick(rk_hlc_clock *c)
{
    rk_hlc_ts ts;

    assert_int_equal(rk_hlc_now(c, &ts), 0);
    return ts;
}

static rk_hlc_ts merge(rk_hlc_clock *c, rk_hlc_ts remote)
{
    rk_hlc_ts ts;

    assert_int_equal(rk_hlc_update(c, &remote, &ts), 0);
    return ts;
}

static void assert_failed_with(int rc, int code, const char *function)
{
    assert_int_equal(rc, code);
    assert_int_equal(rk_last_error_code(), code);
    assert_non_null(strstr(rk_last_error(), function));
}

/* xorshift64*: a fixed seed gives the same history on every run and every platform. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t rng_below(uint64_t *s, uint64_t n) { return rng_next(s) % n; }

/* ------------------------------------------------------------------------------------------------ */
/* The rules, step by step.                                                                          */
/* ------------------------------------------------------------------------------------------------ */

enum { A, B };
enum { OP_NOW, OP_RECV };

typedef struct step {
    int clock;        /* A (node 1) or B (node 2) */
    uint64_t pt;      /* that clock's physical reading for this step */
    int op;           /* OP_NOW or OP_RECV */
    rk_hlc_ts remote; /* OP_RECV: the received timestamp */
    rk_hlc_ts expect; /* the timestamp the step must return */
    const char *what;
} step;

#define TS(p, l, n) { .physical = (p), .logical = (l), .node = (n) }
#define NONE TS(0, 0, 0)

static const step script[] = {
    { A, 1000, OP_NOW, NONE, TS(1000, 0, 1), "first tick takes the physical time" },
    { A, 1000, OP_NOW, NONE, TS(1000, 1, 1), "same nanosecond: logical + 1" },
    { A, 900, OP_NOW, NONE, TS(1000, 2, 1), "physical jumps backwards: stays, logical + 1" },
    { B, 800, OP_RECV, TS(1000, 2, 1), TS(1000, 3, 2), "remote ahead of local and pt: remote logical + 1" },
    { B, 800, OP_NOW, NONE, TS(1000, 4, 2), "send behind the merged time: logical + 1" },
    { A, 1000, OP_RECV, TS(1000, 4, 2), TS(1000, 5, 1), "equal physical, remote logical wins: max + 1" },
    { A, 1000, OP_NOW, NONE, TS(1000, 6, 1), "send" },
    { A, 1000, OP_NOW, NONE, TS(1000, 7, 1), "send" },
    { B, 950, OP_RECV, TS(1000, 1, 3), TS(1000, 5, 2), "equal physical, local logical wins: max + 1" },
    { B, 990, OP_RECV, TS(990, 9, 3), TS(1000, 6, 2), "local physical ahead: local logical + 1" },
    { B, 2000, OP_RECV, TS(1500, 3, 1), TS(2000, 0, 2), "pt ahead of both on receive: logical 0" },
    { A, 1200, OP_RECV, TS(2000, 0, 2), TS(2000, 1, 1), "remote ahead, logical 0 + 1" },
    { A, 2000, OP_NOW, NONE, TS(2000, 2, 1), "pt catches up exactly: still logical + 1" },
    { A, 2001, OP_NOW, NONE, TS(2001, 0, 1), "pt passes: logical resets to 0" },
    { A, 5000, OP_NOW, NONE, TS(5000, 0, 1), "physical jumps forwards" },
    { A, 10, OP_NOW, NONE, TS(5000, 1, 1), "physical jumps far backwards" },
    { B, 1, OP_RECV, TS(2000, 0, 1), TS(2000, 1, 2), "equal physical, equal logical: max + 1" },
    { B, 2000, OP_RECV, TS(1999, 50, 1), TS(2000, 2, 2), "pt equal to local physical: local logical + 1" },
    { B, 3000, OP_RECV, TS(3000, 7, 1), TS(3000, 8, 2), "pt equal to remote physical: remote logical + 1" },
    { B, 3000, OP_NOW, NONE, TS(3000, 9, 2), "send" },
    { A, 5000, OP_RECV, TS(3000, 9, 2), TS(5000, 2, 1), "remote behind: local logical + 1" },
};

static void test_scripted_history(void **state)
{
    rk_hlc_clock clocks[2];
    fake_time times[2] = { { 0 }, { 0 } };
    size_t i;

    (void)state;
    fake_clock(&clocks[A], &times[A], 1, 0);
    fake_clock(&clocks[B], &times[B], 2, 0);
    for (i = 0; i < sizeof script / sizeof script[0]; i++) {
        const step *s = &script[i];
        rk_hlc_clock *c = &clocks[s->clock];
        rk_hlc_ts before = peek(c), got;

        times[s->clock].now = s->pt;
        got = s->op == OP_NOW ? tick(c) : merge(c, s->remote);
        if (!ts_equal(got, s->expect))
            fail_msg("step %zu (%s): got (%llu, %u, %u), expected (%llu, %u, %u)", i, s->what,
                     (unsigned long long)got.physical, got.logical, got.node,
                     (unsigned long long)s->expect.physical, s->expect.logical, s->expect.node);
        /* H2: greater than the clock's previous state and than what it merged; peek shows the new state. */
        assert_true(rk_hlc_compare(&got, &before) > 0);
        if (s->op == OP_RECV)
            assert_true(rk_hlc_compare(&got, &s->remote) > 0);
        assert_true(ts_equal(peek(c), got));
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Bounded skew.                                                                                     */
/* ------------------------------------------------------------------------------------------------ */

static void test_max_offset_rejects_and_leaves_clock_unchanged(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 1000 };
    rk_hlc_ts remote = ts_make(1101, 0, 2), out = ts_make(7, 7, 7);

    (void)state;
    fake_clock(&c, &t, 1, 100);
    assert_ts(tick(&c), 1000, 0, 1);

    rk_clear_error();
    assert_failed_with(rk_hlc_update(&c, &remote, &out), RK_ECLOCK, "rk_hlc_update");
    assert_non_null(strstr(rk_last_error(), "1101"));
    assert_ts(out, 7, 7, 7);           /* a failed call writes nothing */
    assert_ts(peek(&c), 1000, 0, 1);   /* ... and leaves the clock as it was */
    assert_ts(tick(&c), 1000, 1, 1);   /* had it merged, this would be (1101, 1) */

    /* Exactly max_offset ahead is accepted. */
    assert_ts(merge(&c, ts_make(1100, 5, 2)), 1100, 6, 1);

    /* The bound is against the physical source, not the clock's last time: 50 ns ahead of the last
     * timestamp is still 150 ns ahead of the physical clock. */
    assert_failed_with(rk_hlc_update(&c, &(rk_hlc_ts){ 1150, 0, 2 }, NULL), RK_ECLOCK, "rk_hlc_update");
    assert_ts(peek(&c), 1100, 6, 1);
    t.now = 1050;
    assert_ts(merge(&c, ts_make(1150, 0, 2)), 1150, 1, 1);

    /* A remote far in the past is never rejected. */
    assert_ts(merge(&c, ts_make(1, 0, 2)), 1150, 2, 1);
}

static void test_max_offset_default_bound(void **state)
{
    rk_hlc_clock c;
    const uint64_t base = 1700000000000000000ull;
    fake_time t = { base };
    rk_hlc_ts too_far;

    (void)state;
    fake_clock(&c, &t, 1, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    too_far = ts_make(base + RK_HLC_DEFAULT_MAX_OFFSET_NS + 1, 0, 2);

    assert_int_equal(rk_hlc_update(&c, &too_far, NULL), RK_ECLOCK);
    assert_ts(peek(&c), 0, 0, 1);
    assert_ts(merge(&c, ts_make(base + RK_HLC_DEFAULT_MAX_OFFSET_NS, 0, 2)), base + RK_HLC_DEFAULT_MAX_OFFSET_NS,
              1, 1);
}

static void test_max_offset_zero_disables_check(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 1000 };

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_ts(merge(&c, ts_make(UINT64_MAX / 2, 3, 2)), UINT64_MAX / 2, 4, 1);
    assert_ts(tick(&c), UINT64_MAX / 2, 5, 1);
}

/* ------------------------------------------------------------------------------------------------ */
/* Logical overflow: carry into the physical part.                                                   */
/* ------------------------------------------------------------------------------------------------ */

static void test_logical_overflow_carries_on_send(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 1000 };

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_ts(merge(&c, ts_make(1000, UINT32_MAX - 2, 2)), 1000, UINT32_MAX - 1, 1);
    assert_ts(tick(&c), 1000, UINT32_MAX, 1);
    assert_ts(tick(&c), 1001, 0, 1); /* carry */
    assert_ts(tick(&c), 1001, 1, 1); /* the carried nanosecond continues counting */
    t.now = 1001;
    assert_ts(tick(&c), 1001, 2, 1); /* pt reaching the carried time does not reset the counter */
    t.now = 1002;
    assert_ts(tick(&c), 1002, 0, 1);
}

static void test_logical_overflow_carries_on_receive(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 500 };

    (void)state;
    fake_clock(&c, &t, 2, 0);
    /* Remote wins and is full. */
    assert_ts(merge(&c, ts_make(1000, UINT32_MAX, 3)), 1001, 0, 2);
    /* Equal physical, remote full. */
    assert_ts(merge(&c, ts_make(1001, UINT32_MAX, 3)), 1002, 0, 2);
    /* Local wins and is full. */
    assert_ts(merge(&c, ts_make(1002, UINT32_MAX - 1, 3)), 1002, UINT32_MAX, 2);
    assert_ts(merge(&c, ts_make(5, 0, 3)), 1003, 0, 2);
    /* Equal physical, local full. */
    assert_ts(merge(&c, ts_make(1003, UINT32_MAX - 1, 3)), 1003, UINT32_MAX, 2);
    assert_ts(merge(&c, ts_make(1003, 0, 3)), 1004, 0, 2);
}

static void test_timestamp_space_exhausted(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 1000 };
    rk_hlc_ts out = ts_make(7, 7, 7);

    (void)state;
    /* A fresh clock cannot merge the largest timestamp: nothing greater exists. */
    fake_clock(&c, &t, 3, 0);
    assert_failed_with(rk_hlc_update(&c, &(rk_hlc_ts){ UINT64_MAX, UINT32_MAX, 2 }, &out), RK_EOVERFLOW,
                       "rk_hlc_update");
    assert_ts(out, 7, 7, 7);
    assert_ts(peek(&c), 0, 0, 3);

    /* One below the largest is fine; after it, a tick has nowhere to go and changes nothing. */
    assert_ts(merge(&c, ts_make(UINT64_MAX, UINT32_MAX - 1, 2)), UINT64_MAX, UINT32_MAX, 3);
    assert_failed_with(rk_hlc_now(&c, &out), RK_EOVERFLOW, "rk_hlc_now");
    assert_ts(out, 7, 7, 7);
    assert_failed_with(rk_hlc_update(&c, &(rk_hlc_ts){ 5, 0, 2 }, &out), RK_EOVERFLOW, "rk_hlc_update");
    assert_ts(peek(&c), UINT64_MAX, UINT32_MAX, 3);
}

/* ------------------------------------------------------------------------------------------------ */
/* Monotonicity across physical jumps.                                                               */
/* ------------------------------------------------------------------------------------------------ */

static void test_monotonic_across_jumps(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 10000000000000ull };
    uint64_t rng = 0x9e3779b97f4a7c15ull, max_pt = 0;
    rk_hlc_ts prev = ts_make(0, 0, 0), ts;
    int i, jumps_back = 0, jumps_fwd = 0;

    (void)state;
    fake_clock(&c, &t, 4, 0);
    for (i = 0; i < 20000; i++) {
        uint64_t r = rng_below(&rng, 100);

        if (r < 3) { /* backwards by up to a second */
            t.now -= rng_below(&rng, 1000000000);
            jumps_back++;
        } else if (r < 6) { /* forwards by up to a second */
            t.now += rng_below(&rng, 1000000000);
            jumps_fwd++;
        } else if (r < 60) {
            t.now += rng_below(&rng, 3); /* the usual: stuck or creeping */
        }
        ts = tick(&c);
        assert_true(rk_hlc_compare(&ts, &prev) > 0);
        /* Without remotes or overflow the clock is exactly at the largest reading so far, and it starts a
         * fresh logical count whenever the reading passes it. */
        if (t.now > max_pt) {
            max_pt = t.now;
            assert_ts(ts, max_pt, 0, 4);
        } else {
            assert_ts(ts, max_pt, prev.logical + 1, 4);
        }
        prev = ts;
    }
    assert_true(jumps_back > 100 && jumps_fwd > 100);
}

/* ------------------------------------------------------------------------------------------------ */
/* Happened-before implies a smaller timestamp, over random causal histories.                        */
/*                                                                                                    */
/* Eight simulated nodes with drifting, jumping clocks send, receive and tick at random. Each event   */
/* carries a vector clock. The k-th event of node j is hist[j][k]; event f's vector clock entry vc[j] */
/* is the index of its latest causal predecessor on node j, so checking that one predecessor per      */
/* node is smaller, plus per-node monotonicity, checks every causally preceding event by transitivity.*/
/* A sample of event pairs is then checked directly against the stored vector clocks.                */
/* ------------------------------------------------------------------------------------------------ */

#define SIM_NODES 8
#define SIM_EVENTS 100000
#define SIM_POOL 512
#define SIM_PAIRS 400000

typedef struct sim_msg {
    rk_hlc_ts ts;
    uint32_t vc[SIM_NODES];
} sim_msg;

typedef struct sim_event {
    uint32_t node;
    uint32_t index; /* the event's own vector clock entry */
    uint32_t vc[SIM_NODES];
    rk_hlc_ts ts;
} sim_event;

typedef struct sim_node {
    rk_hlc_clock clock;
    fake_time time;
    int64_t skew;  /* this node's clock minus true time, ns */
    uint32_t vc[SIM_NODES];
    rk_hlc_ts *hist; /* hist[k]: timestamp of the node's k-th event, k >= 1 */
} sim_node;

static void test_happened_before_random_histories(void **state)
{
    static sim_node nodes[SIM_NODES];
    static sim_msg pool[SIM_POOL];
    sim_event *events = calloc(SIM_EVENTS, sizeof *events);
    uint64_t rng = 20240611, true_time = 1000000000000ull;
    size_t pooled = 0, e, hb_pairs = 0, concurrent_pairs = 0;
    size_t sends = 0, receives = 0;
    uint32_t i, j;

    (void)state;
    assert_non_null(events);
    memset(nodes, 0, sizeof nodes);
    for (i = 0; i < SIM_NODES; i++) {
        fake_clock(&nodes[i].clock, &nodes[i].time, i + 1, 0);
        nodes[i].skew = (int64_t)rng_below(&rng, 2000000) - 1000000;
        nodes[i].hist = calloc(SIM_EVENTS + 1, sizeof *nodes[i].hist);
        assert_non_null(nodes[i].hist);
    }

    for (e = 0; e < SIM_EVENTS; e++) {
        uint32_t n = (uint32_t)rng_below(&rng, SIM_NODES);
        sim_node *nd = &nodes[n];
        uint64_t r = rng_below(&rng, 100);
        rk_hlc_ts ts;

        /* Physical time: true time creeps; each clock drifts and now and then jumps by up to 1 ms. */
        true_time += rng_below(&rng, 300);
        nd->skew += (int64_t)rng_below(&rng, 21) - 10;
        if (rng_below(&rng, 500) == 0)
            nd->skew += (int64_t)rng_below(&rng, 2000001) - 1000000;
        nd->time.now = (uint64_t)((int64_t)true_time + nd->skew);

        if ((r < 45 && pooled < SIM_POOL) || (r < 90 && pooled == 0)) { /* send */
            nd->vc[n]++;
            ts = tick(&nd->clock);
            pool[pooled].ts = ts;
            memcpy(pool[pooled].vc, nd->vc, sizeof nd->vc);
            pooled++;
            sends++;
        } else if (r < 90 || pooled == SIM_POOL) { /* receive a random message in flight */
            size_t k = (size_t)rng_below(&rng, pooled);
            sim_msg m = pool[k];

            pool[k] = pool[--pooled];
            for (j = 0; j < SIM_NODES; j++)
                if (m.vc[j] > nd->vc[j])
                    nd->vc[j] = m.vc[j];
            nd->vc[n]++;
            ts = merge(&nd->clock, m.ts);
            assert_true(rk_hlc_compare(&m.ts, &ts) < 0); /* send < receive */
            receives++;
        } else { /* local event */
            nd->vc[n]++;
            ts = tick(&nd->clock);
        }
        assert_int_equal(ts.node, n + 1);
        nd->hist[nd->vc[n]] = ts;

        /* The latest causal predecessor on every node, the own node included, is smaller. */
        for (j = 0; j < SIM_NODES; j++) {
            uint32_t k = j == n ? nd->vc[j] - 1 : nd->vc[j];

            if (k > 0 && rk_hlc_compare(&nodes[j].hist[k], &ts) >= 0)
                fail_msg("event %zu on node %u: predecessor %u on node %u has a timestamp not smaller", e, n,
                         k, j);
        }
        events[e].node = n;
        events[e].index = nd->vc[n];
        memcpy(events[e].vc, nd->vc, sizeof nd->vc);
        events[e].ts = ts;
    }
    assert_true(sends > SIM_EVENTS / 3 && receives > SIM_EVENTS / 3);

    /* Direct check on a sample: a happened before b iff b's vector clock has seen a's own entry. */
    for (e = 0; e < SIM_PAIRS; e++) {
        const sim_event *a = &events[rng_below(&rng, SIM_EVENTS)];
        const sim_event *b = &events[rng_below(&rng, SIM_EVENTS)];

        if (a == b)
            continue;
        if (b->vc[a->node] >= a->index) {
            hb_pairs++;
            assert_true(rk_hlc_compare(&a->ts, &b->ts) < 0);
        } else if (a->vc[b->node] < b->index) {
            concurrent_pairs++;
        }
    }
    /* Both kinds must occur, or the sample proved nothing. */
    assert_true(hb_pairs > SIM_PAIRS / 10);
    assert_true(concurrent_pairs > 0);

    for (i = 0; i < SIM_NODES; i++)
        free(nodes[i].hist);
    free(events);
}

/* ------------------------------------------------------------------------------------------------ */
/* Concurrency: several threads tick one clock; no two timestamps may be equal.                      */
/* ------------------------------------------------------------------------------------------------ */

#define MT_THREADS 4
#define MT_TICKS 200000

typedef struct mt_arg {
    rk_hlc_clock *clock;
    rk_hlc_ts *out;       /* MT_TICKS timestamps */
    uint64_t remote_ahead; /* how far ahead of its last timestamp a merged remote is, ns */
    pthread_barrier_t *start;
    int errors;           /* cmocka asserts are not thread-safe: count, and let the main thread fail */
} mt_arg;

static void *mt_worker(void *p)
{
    mt_arg *a = p;
    rk_hlc_ts prev = ts_make(0, 0, 0);
    int k;

    pthread_barrier_wait(a->start);
    for (k = 0; k < MT_TICKS; k++) {
        int rc;

        /* Every eighth event is a receive, so updates race with ticks too. */
        if (k % 8 == 7) {
            rk_hlc_ts remote = ts_make(prev.physical + a->remote_ahead, prev.logical + 3, 99);

            rc = rk_hlc_update(a->clock, &remote, &a->out[k]);
            if (rc == 0 && rk_hlc_compare(&a->out[k], &remote) <= 0)
                a->errors++;
        } else {
            rc = rk_hlc_now(a->clock, &a->out[k]);
        }
        if (rc != 0 || rk_hlc_compare(&a->out[k], &prev) <= 0)
            a->errors++;
        prev = a->out[k];
    }
    return NULL;
}

static int ts_qsort_cmp(const void *a, const void *b) { return rk_hlc_compare(a, b); }

static void run_concurrent(rk_hlc_clock *c, uint64_t remote_ahead)
{
    pthread_t threads[MT_THREADS];
    mt_arg args[MT_THREADS];
    pthread_barrier_t start;
    rk_hlc_ts *all = malloc((size_t)MT_THREADS * MT_TICKS * sizeof *all);
    size_t i, n = (size_t)MT_THREADS * MT_TICKS;
    int t;

    assert_non_null(all);
    assert_int_equal(pthread_barrier_init(&start, NULL, MT_THREADS), 0);
    for (t = 0; t < MT_THREADS; t++) {
        args[t] = (mt_arg){ .clock = c, .out = all + (size_t)t * MT_TICKS, .remote_ahead = remote_ahead,
                            .start = &start };
        assert_int_equal(pthread_create(&threads[t], NULL, mt_worker, &args[t]), 0);
    }
    for (t = 0; t < MT_THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_int_equal(args[t].errors, 0); /* each thread saw strictly increasing results */
    }
    pthread_barrier_destroy(&start);

    qsort(all, n, sizeof *all, ts_qsort_cmp);
    for (i = 1; i < n; i++)
        if (rk_hlc_compare(&all[i - 1], &all[i]) >= 0)
            fail_msg("duplicate timestamp (%llu, %u, %u)", (unsigned long long)all[i].physical, all[i].logical,
                     all[i].node);
    /* The clock's state is the largest timestamp it issued. */
    assert_true(ts_equal(peek(c), all[n - 1]));
    free(all);
}

static void test_concurrent_ticks_real_clock(void **state)
{
    rk_hlc_clock c;

    (void)state;
    assert_int_equal(rk_hlc_init(&c, 5, RK_HLC_DEFAULT_MAX_OFFSET_NS), 0);
    run_concurrent(&c, 1000);
}

static void test_concurrent_ticks_stuck_clock(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 1000 };

    (void)state;
    /* A physical source that never moves puts every event in one nanosecond: only the logical part can
     * separate them, which is where updating the two parts separately would produce duplicates. */
    fake_clock(&c, &t, 6, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    run_concurrent(&c, 0);
}

/* ------------------------------------------------------------------------------------------------ */
/* The real physical source, peek, compare.                                                          */
/* ------------------------------------------------------------------------------------------------ */

static void test_real_clock(void **state)
{
    rk_hlc_clock c;
    struct timespec ts;
    uint64_t before, after, sys;
    rk_hlc_ts a, b;

    (void)state;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    sys = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    before = rk_hlc_physical_now();
    /* CLOCK_REALTIME in ns: within a second of the system's reading (catches a unit or clock mix-up). */
    assert_true(before + 1000000000ull > sys && before < sys + 1000000000ull);

    assert_int_equal(rk_hlc_init(&c, 42, RK_HLC_DEFAULT_MAX_OFFSET_NS), 0);
    assert_ts(peek(&c), 0, 0, 42);
    a = tick(&c);
    b = tick(&c);
    after = rk_hlc_physical_now();
    assert_int_equal(a.node, 42);
    assert_true(a.physical >= before && b.physical <= after);
    assert_true(rk_hlc_compare(&a, &b) < 0);
}

static void test_peek_does_not_tick(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 77 };

    (void)state;
    fake_clock(&c, &t, 9, 0);
    assert_ts(tick(&c), 77, 0, 9);
    assert_ts(peek(&c), 77, 0, 9);
    assert_ts(peek(&c), 77, 0, 9);
    assert_ts(tick(&c), 77, 1, 9);
}

static void test_compare_order(void **state)
{
    /* Strictly ascending: physical dominates logical and node; logical dominates node; node breaks ties. */
    static const rk_hlc_ts asc[] = {
        TS(0, 0, 0),          TS(0, 0, 1),          TS(0, 1, 0),
        TS(1, 0, 0),          TS(1, 0, UINT32_MAX), TS(1, 5, 2),
        TS(1, 5, 3),          TS(1, 6, 0),          TS(1, UINT32_MAX, UINT32_MAX),
        TS(2, 0, 0),          TS(UINT64_MAX - 1, UINT32_MAX, UINT32_MAX),
        TS(UINT64_MAX, 0, 0), TS(UINT64_MAX, UINT32_MAX, UINT32_MAX),
    };
    size_t n = sizeof asc / sizeof asc[0], i, j;

    (void)state;
    for (i = 0; i < n; i++) {
        for (j = 0; j < n; j++) {
            rk_hlc_ts copy = asc[j]; /* compare by value, not by address */
            int want = i < j ? -1 : i > j ? 1 : 0;

            if (rk_hlc_compare(&asc[i], &copy) != want)
                fail_msg("compare(asc[%zu], asc[%zu]) = %d, expected %d", i, j, rk_hlc_compare(&asc[i], &copy),
                         want);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* NULL arguments: RK_EINVAL with a detail naming the call, and no side effects.                    */
/* ------------------------------------------------------------------------------------------------ */

static void test_init_null_clock(void **state)
{
    (void)state;
    assert_failed_with(rk_hlc_init(NULL, 1, 0), RK_EINVAL, "rk_hlc_init");
}

static void test_set_physical_null_clock(void **state)
{
    fake_time t = { 1 };

    (void)state;
    assert_failed_with(rk_hlc_set_physical(NULL, fake_read, &t), RK_EINVAL, "rk_hlc_set_physical");
}

static void test_set_physical_null_fn(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 123 };

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_failed_with(rk_hlc_set_physical(&c, NULL, NULL), RK_EINVAL, "rk_hlc_set_physical");
    assert_ts(tick(&c), 123, 0, 1); /* the previous source is still in place */
}

static void test_now_null_clock(void **state)
{
    rk_hlc_ts out;

    (void)state;
    assert_failed_with(rk_hlc_now(NULL, &out), RK_EINVAL, "rk_hlc_now");
}

static void test_now_null_out(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 5 };

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_failed_with(rk_hlc_now(&c, NULL), RK_EINVAL, "rk_hlc_now");
    assert_ts(peek(&c), 0, 0, 1);
}

static void test_update_null_clock(void **state)
{
    rk_hlc_ts remote = ts_make(1, 0, 2), out;

    (void)state;
    assert_failed_with(rk_hlc_update(NULL, &remote, &out), RK_EINVAL, "rk_hlc_update");
}

static void test_update_null_remote(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 5 };
    rk_hlc_ts out = ts_make(7, 7, 7);

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_failed_with(rk_hlc_update(&c, NULL, &out), RK_EINVAL, "rk_hlc_update");
    assert_ts(out, 7, 7, 7);
    assert_ts(peek(&c), 0, 0, 1);
}

static void test_update_null_out_allowed(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 5 };
    rk_hlc_ts remote = ts_make(10, 3, 2);

    (void)state;
    fake_clock(&c, &t, 1, 0);
    assert_int_equal(rk_hlc_update(&c, &remote, NULL), 0);
    assert_ts(peek(&c), 10, 4, 1);
}

static void test_peek_null_clock(void **state)
{
    rk_hlc_ts out;

    (void)state;
    assert_failed_with(rk_hlc_peek(NULL, &out), RK_EINVAL, "rk_hlc_peek");
}

static void test_peek_null_out(void **state)
{
    rk_hlc_clock c;

    (void)state;
    assert_int_equal(rk_hlc_init(&c, 1, 0), 0);
    assert_failed_with(rk_hlc_peek(&c, NULL), RK_EINVAL, "rk_hlc_peek");
}

/* rk_hlc_now_n: n consecutive stamps above everything before, the clock ends at the last; a run that would
 * pass the logical counter carries first; bad arguments are RK_EINVAL. */
static void test_now_n_reserves_consecutive_stamps(void **state)
{
    rk_hlc_clock c;
    fake_time t = { 500 };
    rk_hlc_ts a, first, after;

    (void)state;
    fake_clock(&c, &t, 7, 0);
    assert_int_equal(rk_hlc_now(&c, &a), 0);                /* (500, 0) */
    assert_int_equal(rk_hlc_now_n(&c, 10, &first), 0);      /* same physical: logical 1 .. 10 */
    assert_int_equal(first.physical, 500);
    assert_int_equal(first.logical, 1);
    assert_int_equal(first.node, 7);
    assert_int_equal(rk_hlc_now(&c, &after), 0);            /* above the whole run */
    assert_int_equal(after.physical, 500);
    assert_int_equal(after.logical, 11);
    t.now = 900;                                             /* physical catch-up resets logical */
    assert_int_equal(rk_hlc_now_n(&c, 3, &first), 0);
    assert_int_equal(first.physical, 900);
    assert_int_equal(first.logical, 0);
    assert_int_equal(rk_hlc_now(&c, &after), 0);
    assert_int_equal(after.logical, 3);
    /* A run that does not fit the logical counter starts at physical + 1. */
    rk_hlc_ts far = { 900, UINT32_MAX - 5, 9 };
    assert_int_equal(rk_hlc_update(&c, &far, NULL), 0);     /* clock at (900, UINT32_MAX - 4) */
    assert_int_equal(rk_hlc_now_n(&c, 10, &first), 0);
    assert_int_equal(first.physical, 901);
    assert_int_equal(first.logical, 0);
    assert_int_equal(rk_hlc_now(&c, &after), 0);
    assert_int_equal(after.physical, 901);
    assert_int_equal(after.logical, 10);
    /* Errors leave the clock alone. */
    assert_int_equal(rk_hlc_now_n(&c, 0, &first), RK_EINVAL);
    assert_int_equal(rk_hlc_now_n(NULL, 1, &first), RK_EINVAL);
    assert_int_equal(rk_hlc_now_n(&c, 1, NULL), RK_EINVAL);
    assert_int_equal(rk_hlc_peek(&c, &a), 0);
    assert_int_equal(rk_hlc_compare(&a, &after), 0);
}

/* The coarse source reads the wall clock within a coarse tick (a few ms) and never runs backwards in a row
 * of reads. */
static void test_coarse_physical_source(void **state)
{
    uint64_t prev = 0;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        uint64_t fine = rk_hlc_physical_now(), coarse = rk_hlc_physical_coarse(NULL);
        assert_true(coarse >= prev);
        assert_true(coarse <= fine + 1000000ull);           /* not ahead of the fine clock (1 ms slack) */
        assert_true(fine - coarse < 50000000ull);            /* within 50 ms: a tick is 1-4 ms */
        prev = coarse;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scripted_history),
        cmocka_unit_test(test_now_n_reserves_consecutive_stamps),
        cmocka_unit_test(test_coarse_physical_source),
        cmocka_unit_test(test_max_offset_rejects_and_leaves_clock_unchanged),
        cmocka_unit_test(test_max_offset_default_bound),
        cmocka_unit_test(test_max_offset_zero_disables_check),
        cmocka_unit_test(test_logical_overflow_carries_on_send),
        cmocka_unit_test(test_logical_overflow_carries_on_receive),
        cmocka_unit_test(test_timestamp_space_exhausted),
        cmocka_unit_test(test_monotonic_across_jumps),
        cmocka_unit_test(test_happened_before_random_histories),
        cmocka_unit_test(test_concurrent_ticks_real_clock),
        cmocka_unit_test(test_concurrent_ticks_stuck_clock),
        cmocka_unit_test(test_real_clock),
        cmocka_unit_test(test_peek_does_not_tick),
        cmocka_unit_test(test_compare_order),
        cmocka_unit_test(test_init_null_clock),
        cmocka_unit_test(test_set_physical_null_clock),
        cmocka_unit_test(test_set_physical_null_fn),
        cmocka_unit_test(test_now_null_clock),
        cmocka_unit_test(test_now_null_out),
        cmocka_unit_test(test_update_null_clock),
        cmocka_unit_test(test_update_null_remote),
        cmocka_unit_test(test_update_null_out_allowed),
        cmocka_unit_test(test_peek_null_clock),
        cmocka_unit_test(test_peek_null_out),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
