/* queue_stress.c - long concurrent validation of the queue (label `stress`; not run under sanitizers).
 *
 * Runs, each checked message by message:
 *   1. SPSC, 64 B slots, 100 M messages: reserve/commit and peek/release batches of up to 64, producer
 *      and consumer on separate handles attached to one region (the host/GPU arrangement).
 *   2. SPSC, 1 KiB slots, 10 M messages: the copy helpers (push/pop, push_batch/pop_batch) and the
 *      in-place API in turn, every byte of the slot written and checked.
 *   3. MPSC, 64 B slots, 4 producers x 10 M messages on one shared handle (the runtime's
 *      RK_LAUNCH_MULTI_PRODUCER arrangement): push_mpsc and reserve/commit in turn.
 *   4. MPSC, 512 B slots, 4 producers x 1 M messages, each producer on its own handle.
 *
 * Every message carries its producer id, the producer's sequence number and a 64-bit mix of both, and
 * fills the rest of its slot with words derived from that mix. The consumer checks that each producer's
 * sequence numbers arrive exactly once and in order (nothing lost, duplicated or reordered) and that every
 * word matches (nothing torn). Any violation makes the program exit 1; a run stuck for 30 s also fails.
 *
 * Usage: queue_stress [--scale F]   (F multiplies every message count; default 1)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mix64.h"
#include "ringkernel/queue.h"

#define STUCK_NS RK_TIMEOUT_MS(30000)
#define MAX_PRODUCERS 8
#define MAX_SLOT 1024

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static cpu_set_t all_cores; /* the process's affinity at start, restored after pinned runs */

static void unpin(void) { pthread_setaffinity_np(pthread_self(), sizeof all_cores, &all_cores); }

static void pin(int core)
{
    cpu_set_t s;

    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&s);
    CPU_SET(core, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

/*
 * A message of `words` 64-bit words: [0] producer id, [1] sequence, [2] mix of both, [k >= 3] the mix
 * plus k times an odd constant, so a slot mixing two messages' words fails the check.
 */
static void msg_fill(uint64_t *w, uint32_t words, uint32_t producer, uint64_t seq)
{
    uint64_t c = mix64(((uint64_t)producer << 48) ^ seq);

    w[0] = producer;
    w[1] = seq;
    w[2] = c;
    for (uint32_t k = 3; k < words; k++)
        w[k] = c + k * 0x9e3779b97f4a7c15ull;
}

/* Per-run validation state, owned by the consumer thread. */
typedef struct checker {
    uint32_t producers;
    uint32_t words;
    uint64_t next[MAX_PRODUCERS + 1]; /* next expected sequence, per producer id (1-based) */
    uint64_t seen;
    uint64_t lost, dup, torn, badid;
    int reported;
} checker;

static void violation(checker *ck, const char *what, uint64_t producer, uint64_t seq, uint64_t expect)
{
    if (ck->reported++ < 10)
        fprintf(stderr, "  VIOLATION: %s: producer %llu seq %llu (expected %llu)\n", what,
                (unsigned long long)producer, (unsigned long long)seq, (unsigned long long)expect);
}

static void check_msg(checker *ck, const uint64_t *w)
{
    uint64_t id = w[0], seq = w[1], c;

    ck->seen++;
    if (id < 1 || id > ck->producers) {
        ck->badid++;
        violation(ck, "bad producer id", id, seq, 0);
        return;
    }
    c = mix64((id << 48) ^ seq);
    for (uint32_t k = 2; k < ck->words; k++) {
        if (w[k] != (k == 2 ? c : c + k * 0x9e3779b97f4a7c15ull)) {
            ck->torn++;
            violation(ck, "torn payload", id, seq, ck->next[id]);
            return;
        }
    }
    if (seq == ck->next[id]) {
        ck->next[id]++;
    } else if (seq > ck->next[id]) {
        ck->lost += seq - ck->next[id];
        violation(ck, "lost messages before", id, seq, ck->next[id]);
        ck->next[id] = seq + 1;
    } else {
        ck->dup++;
        violation(ck, "duplicate or reordered", id, seq, ck->next[id]);
    }
}

/* Waits for up to 64 messages, checks them in place and releases them. Returns the count or an RK_E* code. */
static int consume_in_place(checker *ck, rk_queue *q, int mpsc)
{
    uint64_t pos;
    int n = mpsc ? rk_queue_peek_wait_mpsc(q, 64, &pos, STUCK_NS) : rk_queue_peek_wait_spsc(q, 64, &pos, STUCK_NS);
    int rc;

    if (n < 0)
        return n;
    for (int i = 0; i < n; i++)
        check_msg(ck, rk_queue_slot(q, pos + (uint64_t)i));
    rc = mpsc ? rk_queue_release_mpsc(q, (uint32_t)n) : rk_queue_release_spsc(q, (uint32_t)n);
    return rc != 0 ? rc : n;
}

/* Prints the run's result; returns 0 if clean and complete. */
static int report(const char *name, const checker *ck, uint64_t per_producer, int rc, double secs)
{
    int bad = rc != 0 || ck->lost || ck->dup || ck->torn || ck->badid;

    for (uint32_t p = 1; p <= ck->producers; p++)
        bad |= ck->next[p] != per_producer;
    printf("%-44s %11llu msgs %7.2f s %8.2f M msg/s  %s\n", name, (unsigned long long)ck->seen, secs,
           (double)ck->seen / secs / 1e6, bad ? "FAILED" : "ok");
    if (bad) {
        printf("  rc %s, lost %llu, duplicated/reordered %llu, torn %llu, bad id %llu\n", rk_err_name(rc),
               (unsigned long long)ck->lost, (unsigned long long)ck->dup, (unsigned long long)ck->torn,
               (unsigned long long)ck->badid);
        for (uint32_t p = 1; p <= ck->producers; p++)
            printf("  producer %u: %llu of %llu\n", p, (unsigned long long)ck->next[p],
                   (unsigned long long)per_producer);
    }
    fflush(stdout);
    return bad;
}

static void *region_new(uint32_t cap, uint32_t slot, uint32_t flags, size_t *len)
{
    void *mem = NULL;

    *len = rk_queue_region_size(cap, slot, flags);
    if (*len == 0 || posix_memalign(&mem, RK_CACHE_LINE, *len) != 0)
        return NULL;
    memset(mem, 0, *len);
    if (rk_queue_format(mem, *len, cap, slot, flags) != 0) {
        free(mem);
        return NULL;
    }
    return mem;
}

/* ---- SPSC ------------------------------------------------------------------------------------------- */

typedef struct spsc_job {
    rk_queue *q;        /* the producer's handle */
    uint64_t count;
    uint32_t words;     /* message size in words (= slot size / 8) */
    int copy_api;       /* 1: alternate push, push_batch and reserve/commit; 0: reserve/commit only */
    int rc;
} spsc_job;

static void *spsc_produce(void *arg)
{
    spsc_job *j = arg;
    static uint64_t batch[16 * MAX_SLOT / 8]; /* one producer thread at a time */
    uint64_t seq = 0;
    int n = 0;

    pin(0);
    while (seq < j->count) {
        uint64_t left = j->count - seq, pos;
        uint32_t want = left < 64 ? (uint32_t)left : 64;
        int mode = j->copy_api ? (int)((seq >> 12) % 3) : 0;

        if (mode == 0) {
            n = rk_queue_reserve_wait_spsc(j->q, want, &pos, STUCK_NS);
            if (n < 0)
                goto fail;
            for (int i = 0; i < n; i++)
                msg_fill(rk_queue_slot(j->q, pos + (uint64_t)i), j->words, 1, seq + (uint64_t)i);
            n = rk_queue_commit_spsc(j->q, (uint32_t)n) == 0 ? n : RK_EINVAL;
        } else if (mode == 1) {
            want = want > 16 ? 16 : want;
            for (uint32_t i = 0; i < want; i++)
                msg_fill(batch + (size_t)i * j->words, j->words, 1, seq + i);
            n = rk_queue_push_batch_spsc(j->q, batch, (size_t)j->words * 8, want, STUCK_NS);
        } else {
            msg_fill(batch, j->words, 1, seq);
            n = rk_queue_push_spsc(j->q, batch, (size_t)j->words * 8, STUCK_NS);
            n = n == 0 ? 1 : n;
        }
        if (n < 0)
            goto fail;
        seq += (uint64_t)n;
    }
    return NULL;
fail:
    j->rc = n;
    return NULL;
}

static int run_spsc(const char *name, uint32_t cap, uint32_t slot, uint64_t count, int copy_api)
{
    size_t len;
    void *mem = region_new(cap, slot, 0, &len);
    rk_queue prod, cons;
    spsc_job job = { &prod, count, slot / 8, copy_api, 0 };
    checker ck = { .producers = 1, .words = slot / 8 };
    static uint64_t out[16 * MAX_SLOT / 8];
    pthread_t th;
    int rc = 0;
    double t0;

    if (!mem || rk_queue_attach(&prod, mem, len) != 0 || rk_queue_attach(&cons, mem, len) != 0) {
        printf("%s: cannot set up the queue: %s\n", name, rk_last_error());
        return 1;
    }
    pin(1);
    t0 = now_s();
    if (pthread_create(&th, NULL, spsc_produce, &job) != 0)
        return 1;
    while (ck.seen < count) {
        int mode = copy_api ? (int)((ck.seen >> 12) % 3) : 0, n;

        if (mode == 0) {
            if ((n = consume_in_place(&ck, &cons, 0)) < 0) {
                rc = n;
                break;
            }
        } else if (mode == 1) {
            n = rk_queue_pop_batch_spsc(&cons, out, slot, 16, STUCK_NS);
            if (n < 0) {
                rc = n;
                break;
            }
            for (int i = 0; i < n; i++)
                check_msg(&ck, out + (size_t)i * (slot / 8));
        } else {
            if ((rc = rk_queue_pop_spsc(&cons, out, slot, STUCK_NS)) != 0)
                break;
            check_msg(&ck, out);
        }
    }
    pthread_join(th, NULL);
    if (rc == 0)
        rc = job.rc;
    if (rc == 0 && rk_queue_size(&cons) != 0)
        rc = RK_ECORRUPT;
    rc = report(name, &ck, count, rc, now_s() - t0);
    unpin();
    free(mem);
    return rc;
}

/* ---- MPSC ------------------------------------------------------------------------------------------- */

typedef struct mpsc_job {
    rk_queue *q;        /* shared handle, or this producer's own */
    uint32_t id;
    uint64_t count;
    uint32_t words;
    int rc;
} mpsc_job;

static void *mpsc_produce(void *arg)
{
    mpsc_job *j = arg;
    uint64_t buf[MAX_SLOT / 8];

    for (uint64_t seq = 0; seq < j->count; seq++) {
        int rc;

        if (seq & 1) {
            msg_fill(buf, j->words, j->id, seq);
            rc = rk_queue_push_mpsc(j->q, buf, (size_t)j->words * 8, STUCK_NS);
        } else {
            void *slot;
            uint64_t pos;

            rc = rk_queue_reserve_wait_mpsc(j->q, &slot, &pos, STUCK_NS);
            if (rc == 0) {
                msg_fill(slot, j->words, j->id, seq);
                rc = rk_queue_commit_mpsc(j->q, pos);
            }
        }
        if (rc != 0) {
            j->rc = rc;
            return NULL;
        }
    }
    return NULL;
}

static int run_mpsc(const char *name, uint32_t cap, uint32_t slot, uint32_t producers, uint64_t per,
                    int own_handles)
{
    size_t len;
    void *mem = region_new(cap, slot, RK_QUEUE_MPSC, &len);
    rk_queue cons, handles[MAX_PRODUCERS];
    mpsc_job jobs[MAX_PRODUCERS];
    pthread_t th[MAX_PRODUCERS];
    checker ck = { .producers = producers, .words = slot / 8 };
    const uint64_t total = per * producers;
    int rc = 0;
    double t0;

    if (!mem || rk_queue_attach(&cons, mem, len) != 0) {
        printf("%s: cannot set up the queue: %s\n", name, rk_last_error());
        return 1;
    }
    t0 = now_s();
    for (uint32_t i = 0; i < producers; i++) {
        rk_queue *q = &cons;

        if (own_handles) {
            if (rk_queue_attach(&handles[i], mem, len) != 0)
                return 1;
            q = &handles[i];
        }
        jobs[i] = (mpsc_job){ q, i + 1, per, slot / 8, 0 };
        if (pthread_create(&th[i], NULL, mpsc_produce, &jobs[i]) != 0)
            return 1;
    }
    while (ck.seen < total) {
        int n = consume_in_place(&ck, &cons, 1);

        if (n < 0) {
            rc = n;
            break;
        }
    }
    for (uint32_t i = 0; i < producers; i++) {
        pthread_join(th[i], NULL);
        if (rc == 0)
            rc = jobs[i].rc;
    }
    if (rc == 0 && rk_queue_size(&cons) != 0)
        rc = RK_ECORRUPT;
    rc = report(name, &ck, per, rc, now_s() - t0);
    free(mem);
    return rc;
}

static uint64_t scaled(uint64_t n, double scale)
{
    uint64_t v = (uint64_t)((double)n * scale);

    return v ? v : 1;
}

int main(int argc, char **argv)
{
    double scale = 1.0;
    int bad = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            scale = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--scale F]\n", argv[0]);
            return 2;
        }
    }
    if (scale <= 0)
        scale = 1.0;
    pthread_getaffinity_np(pthread_self(), sizeof all_cores, &all_cores);
    printf("queue_stress: %ld online cores; SPSC threads pinned to cores 0 and 1, MPSC threads unpinned\n",
           cores);
    bad |= run_spsc("SPSC 64 B, reserve/commit + peek/release", 4096, 64, scaled(100000000, scale), 0);
    bad |= run_spsc("SPSC 1 KiB, copy helpers + in place", 1024, 1024, scaled(10000000, scale), 1);
    bad |= run_mpsc("MPSC 64 B, 4 producers, shared handle", 4096, 64, 4, scaled(10000000, scale), 0);
    bad |= run_mpsc("MPSC 512 B, 4 producers, own handles", 1024, 512, 4, scaled(1000000, scale), 1);
    printf("queue_stress: %s\n", bad ? "FAILED" : "all runs clean");
    return bad ? 1 : 0;
}
