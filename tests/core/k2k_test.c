/* k2k_test.c - kernel-to-kernel messaging on the CPU backend (k2k.h): endpoints, direct sends, pipelines,
 * fan-out, fan-in, a token ring, backpressure, K2K request/reply, errors, and terminate's drain.
 *
 * Topologies of 3 to 8 actors: chains of 3 and 8, fan-out 1 -> 4, fan-in 4 -> 1, a diamond (fan-out 1 -> 4
 * then fan-in 4 -> 1), rings of 3, 4 and 8 (one token, or many at once).
 * Every actor checks what it receives (per-sender order, HLC happened-before) and fails the message with
 * RK_EINVAL when a check fails; the tests assert that no kernel counted an error. Set RK_K2K_PINGPONG=n to
 * time n K2K round trips between two actors (default 20000: a smoke figure, also under the sanitizers).
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

#include "ringkernel/actor.h"
#include "ringkernel/hlc.h"
#include "ringkernel/k2k.h"
#include "ringkernel/message.h"
#include "ringkernel/runtime.h"

#define WORKERS 2u
#define TIMEOUT RK_TIMEOUT_MS(10000) /* generous: sanitizers on a busy 2-core machine */
#define MAX_HOPS 8

#define T_CONFIG RK_TYPE_ID(k2k_config)
#define T_DATA RK_TYPE_ID(k2k_data)
#define T_CONT RK_TYPE_ID(k2k_continue)
#define T_DONE RK_TYPE_ID(k2k_done)
#define T_ASK RK_TYPE_ID(k2k_ask)

static int hlc_after(const rk_hlc_ts *a, const rk_hlc_ts *b) { return rk_hlc_compare(a, b) > 0; }

/* ---- Forward: a pipeline stage ---------------------------------------------------------------------- */

/* What travels down a pipeline: the message's number and the HLC stamp of every envelope on its way. */
typedef struct trail {
    uint64_t seq;
    uint32_t hops;
    uint32_t pad;
    rk_hlc_ts stamp[MAX_HOPS + 1];
} trail;

typedef struct fwd_state {
    rk_addr next;    /* 0: the last stage, which sends the trail to the host */
    uint64_t expect; /* next seq (per-sender order, exactly once) */
} fwd_state;

/* T_CONFIG (from the host, a request): payload = the next stage's endpoint name ("" for the last stage).
 * T_DATA: checks and extends the trail, then forwards it. */
static int fwd(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    fwd_state *st = rk_actor_state(ctx);
    trail t;
    int rc;

    if (env->type_id == T_CONFIG) {
        const char *name = payload;

        st->next = 0;
        if (env->payload_len > 0 && name[0] != '\0' && (rc = rk_actor_resolve(ctx, name, &st->next)) != 0)
            return rc;
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->payload_len != sizeof t)
        return RK_EINVAL;
    memcpy(&t, payload, sizeof t);
    if (t.seq != st->expect++ || t.hops > MAX_HOPS)
        return RK_EINVAL;
    /* Happened-before: the sender stamped this message after it received the previous hop's. */
    if (t.hops > 0 && !hlc_after(&env->hlc, &t.stamp[t.hops - 1]))
        return RK_EINVAL;
    t.stamp[t.hops++] = env->hlc;
    if (st->next == 0)
        return rk_actor_reply(ctx, NULL, T_DATA, &t, sizeof t);
    return rk_actor_send(ctx, st->next, T_DATA, &t, sizeof t); /* RK_EAGAIN would be an error: see window */
}
RK_REGISTER_ACTOR(k2k_fwd, fwd, sizeof(fwd_state))

/* ---- Burst sender and sink (fan-in, backpressure, drain) -------------------------------------------- */

typedef struct burst_cmd {
    rk_addr dest;
    uint64_t count;
    uint32_t sender;
    uint32_t pad;
} burst_cmd;

typedef struct burst_state {
    burst_cmd cmd;
    uint64_t next;   /* next sequence number to send */
    uint64_t eagain; /* RK_EAGAIN seen */
} burst_state;

typedef struct item {
    uint32_t sender;
    uint32_t pad;
    uint64_t seq;
} item;

typedef struct burst_done {
    uint64_t sent, eagain;
} burst_done;

/* T_DATA (host): start sending cmd.count items to cmd.dest; T_CONT (itself): go on. At most 256 sends per
 * message, and on RK_EAGAIN it stops: a continuation sent to itself lets the sink run meanwhile. */
static int burst(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    burst_state *st = rk_actor_state(ctx);
    burst_done done;
    int rc = 0;

    if (env->type_id == T_DATA) {
        memcpy(&st->cmd, payload, sizeof st->cmd);
        st->next = 0;
        st->eagain = 0;
    } else if (env->type_id != T_CONT || env->source != rk_actor_self(ctx)) {
        return RK_EINVAL;
    }
    for (int i = 0; i < 256 && st->next < st->cmd.count; i++) {
        item it = { .sender = st->cmd.sender, .seq = st->next };

        if ((rc = rk_actor_send(ctx, st->cmd.dest, T_DATA, &it, sizeof it)) == RK_EAGAIN) {
            st->eagain++;
            break;
        }
        if (rc != 0)
            return rc;
        st->next++;
    }
    if (st->next < st->cmd.count)
        return rk_actor_send(ctx, rk_actor_self(ctx), T_CONT, NULL, 0);
    done = (burst_done){ .sent = st->next, .eagain = st->eagain };
    return rk_actor_reply(ctx, NULL, T_DONE, &done, sizeof done);
}
RK_REGISTER_ACTOR(k2k_burst, burst, sizeof(burst_state))

#define SINK_SENDERS 8

typedef struct sink_state {
    uint64_t expected;              /* total to receive before reporting */
    uint64_t next[SINK_SENDERS];    /* next seq per sender */
    rk_hlc_ts last[SINK_SENDERS];   /* stamp of the sender's previous item */
    uint64_t total;
} sink_state;

/* T_CONFIG (host request): payload = expected total. T_DATA: an item; checks per-sender order and that its
 * stamp is later than the sender's previous one; after the expected total, reports next[] to the host. */
static int sink(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    sink_state *st = rk_actor_state(ctx);
    item it;

    if (env->type_id == T_CONFIG) {
        memcpy(&st->expected, payload, sizeof st->expected);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->payload_len != sizeof it || RK_ADDR_KERNEL(env->source) == 0)
        return RK_EINVAL;
    memcpy(&it, payload, sizeof it);
    if (it.sender >= SINK_SENDERS || it.seq != st->next[it.sender]++)
        return RK_EINVAL;
    if (it.seq > 0 && !hlc_after(&env->hlc, &st->last[it.sender]))
        return RK_EINVAL;
    st->last[it.sender] = env->hlc;
    if (++st->total == st->expected)
        return rk_actor_reply(ctx, NULL, T_DONE, st->next, sizeof st->next);
    return 0;
}
RK_REGISTER_ACTOR(k2k_sink, sink, sizeof(sink_state))

/* ---- Ring and ping-pong ------------------------------------------------------------------------------ */

typedef struct token {
    uint64_t count, limit;
    rk_hlc_ts prev; /* the stamp the sender received the token with */
} token;

/* T_CONFIG (host request): payload = next actor's address. T_DATA: a token; increments it and passes it on
 * until it reaches its limit, then hands it to the host. */
static int ring(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    rk_addr *next = rk_actor_state(ctx);
    token t;

    if (env->type_id == T_CONFIG) {
        memcpy(next, payload, sizeof *next);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    memcpy(&t, payload, sizeof t);
    if (t.count > 0 && !hlc_after(&env->hlc, &t.prev))
        return RK_EINVAL;
    t.prev = env->hlc;
    if (++t.count >= t.limit)
        return rk_actor_reply(ctx, NULL, T_DONE, &t, sizeof t);
    return rk_actor_send(ctx, *next, T_DATA, &t, sizeof t);
}
RK_REGISTER_ACTOR(k2k_ring, ring, sizeof(rk_addr))

/* A token of a ring with many tokens at once: each link (actor -> next) numbers what it carries. */
typedef struct mtoken {
    uint64_t id, hops, limit;
    uint64_t link_seq; /* the sender's count of tokens it passed on before this one */
    rk_hlc_ts prev;    /* the stamp the sender received the token with */
} mtoken;

typedef struct mring_state {
    rk_addr next;
    uint64_t in_seq, out_seq; /* link numbers: next expected from the predecessor, next to give the successor */
} mring_state;

/* T_CONFIG (host request): payload = next actor's address. T_DATA: a token, from the host (injected) or from
 * the predecessor, whose link number must be the next one (exactly once, in order) and whose stamp must be
 * later than the one the predecessor received it with; passed on until it made `limit` hops, then handed
 * to the host. */
static int mring(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    mring_state *st = rk_actor_state(ctx);
    mtoken t;

    if (env->type_id == T_CONFIG) {
        memcpy(&st->next, payload, sizeof st->next);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->payload_len != sizeof t)
        return RK_EINVAL;
    memcpy(&t, payload, sizeof t);
    if (env->source != RK_ADDR_HOST && (t.link_seq != st->in_seq++ || !hlc_after(&env->hlc, &t.prev)))
        return RK_EINVAL;
    t.prev = env->hlc;
    if (++t.hops == t.limit)
        return rk_actor_reply(ctx, NULL, T_DONE, &t, sizeof t);
    t.link_seq = st->out_seq++;
    return rk_actor_send(ctx, st->next, T_DATA, &t, sizeof t);
}
RK_REGISTER_ACTOR(k2k_mring, mring, sizeof(mring_state))

/* ---- Join: fan-in of trails from several stages ------------------------------------------------------ */

#define JOIN_SOURCES 8

typedef struct join_state {
    uint64_t expected, total;
    uint32_t nsrc;
    uint32_t src[JOIN_SOURCES];  /* kernel ids of the senders, in the order they first sent */
    uint64_t next[JOIN_SOURCES]; /* next seq per sender */
} join_state;

/* T_CONFIG (host request): payload = expected total. T_DATA: a trail from one of several senders: per
 * sender, seqs 0, 1, 2... each once and in order; the trail's stamps increase hop by hop and this envelope
 * is later than the last of them. After the expected total, reports next[] to the host. */
static int join(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    join_state *st = rk_actor_state(ctx);
    uint32_t from = RK_ADDR_KERNEL(env->source), i;
    trail t;

    if (env->type_id == T_CONFIG) {
        memset(st, 0, sizeof *st);
        memcpy(&st->expected, payload, sizeof st->expected);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->payload_len != sizeof t)
        return RK_EINVAL;
    memcpy(&t, payload, sizeof t);
    if (t.hops == 0 || t.hops > MAX_HOPS || !hlc_after(&env->hlc, &t.stamp[t.hops - 1]))
        return RK_EINVAL;
    for (uint32_t h = 1; h < t.hops; h++)
        if (!hlc_after(&t.stamp[h], &t.stamp[h - 1]))
            return RK_EINVAL;
    for (i = 0; i < st->nsrc && st->src[i] != from; i++)
        ;
    if (i == st->nsrc) {
        if (st->nsrc == JOIN_SOURCES || from == 0)
            return RK_EINVAL;
        st->src[st->nsrc++] = from;
    }
    if (t.seq != st->next[i]++)
        return RK_EINVAL;
    if (++st->total == st->expected)
        return rk_actor_reply(ctx, NULL, T_DONE, st->next, sizeof st->next);
    return 0;
}
RK_REGISTER_ACTOR(k2k_join, join, sizeof(join_state))

/* ---- Fan-out ----------------------------------------------------------------------------------------- */

typedef struct fanout_state {
    rk_addr to[4];
} fanout_state;

/* T_CONFIG (host request): payload = 4 addresses. T_DATA: a trail, sent on to all 4. */
static int fanout(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    fanout_state *st = rk_actor_state(ctx);
    trail t;
    int rc;

    if (env->type_id == T_CONFIG) {
        memcpy(st->to, payload, sizeof st->to);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    memcpy(&t, payload, sizeof t);
    t.stamp[t.hops++] = env->hlc;
    for (int i = 0; i < 4; i++)
        if ((rc = rk_actor_send(ctx, st->to[i], T_DATA, &t, sizeof t)) != 0)
            return rc;
    return 0;
}
RK_REGISTER_ACTOR(k2k_fanout, fanout, sizeof(fanout_state))

/* ---- Probe and asker ------------------------------------------------------------------------------- */

typedef struct probe_cmd {
    rk_addr dest;
    uint32_t len;
    uint32_t flags;
} probe_cmd;

/* T_DATA (host request): one rk_actor_send_ex as the command says; replies with its result (int32). */
static int prober(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    static const uint8_t buf[4096];
    probe_cmd c;
    int32_t rc;

    memcpy(&c, payload, sizeof c);
    rc = rk_actor_send_ex(ctx, c.dest, T_DATA, c.flags, 0, buf, c.len);
    return rk_actor_reply(ctx, env, T_DATA, &rc, sizeof rc);
}
RK_REGISTER_ACTOR(k2k_prober, prober, 0)

typedef struct ask_result {
    uint64_t correlation_id;
    rk_addr source;
    uint32_t flags;
    int32_t code;     /* error reply: its RK_E* code */
    rk_hlc_ts reply;
    uint64_t payload; /* echoed */
} ask_result;

typedef struct ask_cmd {
    rk_addr dest;
    uint64_t type;
    uint64_t value;
} ask_cmd;

/* T_ASK (host): sends a K2K request (correlation 42) to dest. A K2K reply: reports what came back to the
 * host (unsolicited K2H). */
static int asker(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    ask_result r;

    if (env->type_id == T_ASK) {
        ask_cmd c;

        memcpy(&c, payload, sizeof c);
        return rk_actor_send_ex(ctx, c.dest, c.type, RK_ENV_REQUEST, 42, &c.value, sizeof c.value);
    }
    memset(&r, 0, sizeof r);
    r.correlation_id = env->correlation_id;
    r.source = env->source;
    r.flags = env->flags;
    r.reply = env->hlc;
    if (env->flags & RK_ENV_ERROR)
        memcpy(&r.code, payload, sizeof r.code);
    else
        memcpy(&r.payload, payload, sizeof r.payload);
    return rk_actor_reply(ctx, NULL, T_DONE, &r, sizeof r);
}
RK_REGISTER_ACTOR(k2k_asker, asker, 0)

/* ---- Helpers ----------------------------------------------------------------------------------------- */

/* The shared helpers (t_runtime, t_launch, t_send, t_call, t_recv, t_final_stats). */
#include "actor_test_helpers.h"

static rk_kernel *launch(rk_runtime *rt, const char *name, uint32_t capacity)
{
    return t_launch(rt, name, capacity, 0);
}

static void assert_no_errors(rk_kernel *k)
{
    rk_kernel_stats st = t_final_stats(k);

    if (st.errors != 0)
        fail_msg("kernel %u ('%s') counted %llu errors, last %s", st.kernel_id, st.name,
                 (unsigned long long)st.errors, rk_err_name(st.last_error));
}

static uint64_t k2k_in(rk_kernel *k) { return t_final_stats(k).k2k_in; }

static uint64_t k2k_out(rk_kernel *k) { return t_final_stats(k).k2k_out; }

/* ---- Endpoints --------------------------------------------------------------------------------------- */

static void test_endpoint_errors(void **s)
{
    rk_runtime *rt = t_runtime(), *other = t_runtime();
    rk_kernel *k = launch(rt, "echo", 0), *k2 = launch(rt, "echo", 0), *ko = launch(other, "echo", 0);
    char long_name[RK_ENDPOINT_NAME_MAX + 2];
    rk_addr a = 0;

    (void)s;
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_int_equal(rk_endpoint_register(NULL, "a", k), RK_EINVAL);
    assert_int_equal(rk_endpoint_register(rt, NULL, k), RK_EINVAL);
    assert_int_equal(rk_endpoint_register(rt, "a", NULL), RK_EINVAL);
    assert_int_equal(rk_endpoint_register(rt, "", k), RK_EINVAL);
    assert_int_equal(rk_endpoint_register(rt, long_name, k), RK_EINVAL);   /* 64 bytes */
    assert_int_equal(rk_endpoint_register(rt, "a", ko), RK_EINVAL);        /* another runtime's kernel */
    long_name[RK_ENDPOINT_NAME_MAX] = '\0';                                /* 63 bytes: fine */
    assert_int_equal(rk_endpoint_register(rt, long_name, k), 0);
    assert_int_equal(rk_endpoint_register(rt, "a", k), 0);
    assert_int_equal(rk_endpoint_register(rt, "a", k2), RK_EEXIST);
    assert_int_equal(rk_endpoint_register(rt, "b", k), 0);                 /* a kernel may have two names */
    assert_int_equal(rk_endpoint_resolve(rt, "a", &a), 0);
    assert_int_equal(a, rk_kernel_addr(k));
    assert_int_equal(rk_endpoint_resolve(rt, long_name, &a), 0);
    assert_int_equal(rk_endpoint_resolve(rt, "nope", &a), RK_ENOENT);
    assert_int_equal(rk_endpoint_resolve(other, "a", &a), RK_ENOENT);      /* per runtime */
    assert_int_equal(rk_endpoint_resolve(rt, "a", NULL), RK_EINVAL);
    assert_int_equal(rk_endpoint_resolve(NULL, "a", &a), RK_EINVAL);
    assert_int_equal(rk_endpoint_unregister(rt, "a"), 0);
    assert_int_equal(rk_endpoint_unregister(rt, "a"), RK_ENOENT);
    assert_int_equal(rk_endpoint_unregister(rt, ""), RK_EINVAL);
    assert_int_equal(rk_endpoint_unregister(NULL, "b"), RK_EINVAL);
    assert_int_equal(rk_endpoint_resolve(rt, "a", &a), RK_ENOENT);
    assert_int_equal(rk_endpoint_register(rt, "a", k2), 0);                /* free again */
    assert_int_equal(rk_endpoint_resolve(rt, "a", &a), 0);
    assert_int_equal(a, rk_kernel_addr(k2));
    /* A terminated kernel's endpoint still resolves. */
    assert_int_equal(rk_kernel_terminate(k2, TIMEOUT), 0);
    assert_int_equal(rk_endpoint_resolve(rt, "a", &a), 0);
    assert_int_equal(a, rk_kernel_addr(k2));
    assert_int_equal(rk_runtime_destroy(other), 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct ep_thread_arg {
    rk_runtime *rt;
    rk_kernel *k;
    int index;
    int failures;
} ep_thread_arg;

static void *ep_thread(void *p)
{
    ep_thread_arg *t = p;
    char name[32];
    rk_addr a;

    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "t%d-%d", t->index, i);
        t->failures += rk_endpoint_register(t->rt, name, t->k) != 0;
        t->failures += rk_endpoint_resolve(t->rt, name, &a) != 0 || a != rk_kernel_addr(t->k);
        if (i % 2 == 0)
            t->failures += rk_endpoint_unregister(t->rt, name) != 0;
    }
    return NULL;
}

static void test_endpoints_thread_safe(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *k = launch(rt, "echo", 0);
    ep_thread_arg args[4];
    pthread_t th[4];
    rk_addr a;

    (void)s;
    for (int i = 0; i < 4; i++) {
        args[i] = (ep_thread_arg){ .rt = rt, .k = k, .index = i };
        assert_int_equal(pthread_create(&th[i], NULL, ep_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(rk_endpoint_resolve(rt, "t3-199", &a), 0);
    assert_int_equal(rk_endpoint_resolve(rt, "t3-198", &a), RK_ENOENT);
    assert_int_equal(rk_runtime_destroy(rt), 0); /* frees the 400 endpoints left */
}

/* ---- Pipelines --------------------------------------------------------------------------------------- */

/* n stages "stage0".."stage<n-1>"; the host sends `count` trails into stage 0, at most `window` in flight
 * (so no inbox ever fills), and receives them from the last stage. */
static void run_chain(int n, uint64_t count, uint64_t window)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *k[MAX_HOPS];
    uint64_t sent = 0, got = 0;
    char name[RK_ENDPOINT_NAME_MAX + 1];

    for (int i = 0; i < n; i++) {
        k[i] = launch(rt, "k2k_fwd", 0);
        snprintf(name, sizeof name, "stage%d", i);
        assert_int_equal(rk_endpoint_register(rt, name, k[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        memset(name, 0, sizeof name);
        if (i + 1 < n)
            snprintf(name, sizeof name, "stage%d", i + 1);
        (void)t_call(k[i], T_CONFIG, name, sizeof name, NULL, 0);
    }
    while (got < count) {
        while (sent < count && sent - got < window) {
            trail t;

            memset(&t, 0, sizeof t);
            t.seq = sent++;
            t_send(k[0], T_DATA, &t, sizeof t);
        }
        trail t;
        rk_envelope e = t_recv(k[n - 1], &t, sizeof t);

        assert_int_equal(t.seq, got); /* order kept, none lost, none twice */
        assert_int_equal(t.hops, (uint32_t)n);
        for (uint32_t h = 1; h < t.hops; h++)
            assert_true(hlc_after(&t.stamp[h], &t.stamp[h - 1]));
        assert_true(hlc_after(&e.hlc, &t.stamp[t.hops - 1])); /* the last stage's reply is later still */
        assert_int_equal(RK_ADDR_KERNEL(e.source), RK_ADDR_KERNEL(rk_kernel_addr(k[n - 1])));
        got++;
    }
    for (int i = 0; i < n; i++) {
        assert_no_errors(k[i]);
        assert_int_equal(k2k_in(k[i]), i == 0 ? 0 : count);
        assert_int_equal(k2k_out(k[i]), i == n - 1 ? 0 : count);
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_chain_of_3(void **s)
{
    (void)s;
    run_chain(3, 3000, 256);
}

static void test_chain_of_8(void **s)
{
    (void)s;
    run_chain(8, 2000, 256);
}

/* ---- Fan-out ----------------------------------------------------------------------------------------- */

static void test_fan_out_to_four(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *src = launch(rt, "k2k_fanout", 0), *dst[4];
    rk_addr to[4];
    char none[RK_ENDPOINT_NAME_MAX + 1] = { 0 };
    const uint64_t count = 500;

    (void)s;
    for (int i = 0; i < 4; i++) {
        dst[i] = launch(rt, "k2k_fwd", 0);
        to[i] = rk_kernel_addr(dst[i]);
        (void)t_call(dst[i], T_CONFIG, none, sizeof none, NULL, 0); /* last stage: to the host */
    }
    (void)t_call(src, T_CONFIG, to, sizeof to, NULL, 0);
    for (uint64_t n = 0; n < count; n++) {
        trail t;

        memset(&t, 0, sizeof t);
        t.seq = n;
        t_send(src, T_DATA, &t, sizeof t);
        for (int i = 0; i < 4; i++) {
            trail r;
            rk_envelope e = t_recv(dst[i], &r, sizeof r);

            assert_int_equal(r.seq, n);
            assert_int_equal(r.hops, 2);
            assert_true(hlc_after(&r.stamp[1], &r.stamp[0]));
            assert_true(hlc_after(&e.hlc, &r.stamp[1]));
        }
    }
    assert_no_errors(src);
    assert_int_equal(k2k_out(src), 4 * count);
    for (int i = 0; i < 4; i++) {
        assert_no_errors(dst[i]);
        assert_int_equal(k2k_in(dst[i]), count);
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Fan-in and backpressure ------------------------------------------------------------------------- */

/* `senders` burst actors each send `count` items to one sink with `sink_capacity` inbox slots; the sink
 * checks per-sender order and reports when it has all. Returns the RK_EAGAIN count the senders saw. */
static uint64_t run_fan_in(uint32_t senders, uint64_t count, uint32_t sink_capacity)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *sk = launch(rt, "k2k_sink", sink_capacity), *b[SINK_SENDERS];
    uint64_t total = senders * count, next[SINK_SENDERS], eagain = 0;

    (void)t_call(sk, T_CONFIG, &total, sizeof total, NULL, 0);
    for (uint32_t i = 0; i < senders; i++)
        b[i] = launch(rt, "k2k_burst", 0);
    for (uint32_t i = 0; i < senders; i++) {
        burst_cmd c = { .dest = rk_kernel_addr(sk), .count = count, .sender = i };

        t_send(b[i], T_DATA, &c, sizeof c);
    }
    for (uint32_t i = 0; i < senders; i++) {
        burst_done d;

        (void)t_recv(b[i], &d, sizeof d);
        assert_int_equal(d.sent, count);
        eagain += d.eagain;
    }
    (void)t_recv(sk, next, sizeof next);
    for (uint32_t i = 0; i < senders; i++)
        assert_int_equal(next[i], count); /* every item, in order (the sink checked each) */
    assert_no_errors(sk);
    assert_int_equal(k2k_in(sk), total);
    for (uint32_t i = 0; i < senders; i++) {
        assert_no_errors(b[i]);
        assert_int_equal(k2k_out(b[i]) - k2k_in(b[i]), count); /* minus its own continuations */
    }
    assert_int_equal(rk_runtime_destroy(rt), 0);
    return eagain;
}

static void test_fan_in_four_senders(void **s)
{
    (void)s;
    (void)run_fan_in(4, 10000, 1024);
}

static void test_backpressure_tiny_inbox(void **s)
{
    uint64_t eagain;

    (void)s;
    eagain = run_fan_in(2, 2000, 2);
    printf("backpressure: %llu RK_EAGAIN answers, nothing lost\n", (unsigned long long)eagain);
    assert_true(eagain > 0);
}

/* ---- Ring -------------------------------------------------------------------------------------------- */

static void test_ring_of_four(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *k[4];
    token t = { .count = 0, .limit = 10000 };
    uint64_t in = 0;

    (void)s;
    for (int i = 0; i < 4; i++)
        k[i] = launch(rt, "k2k_ring", 0);
    for (int i = 0; i < 4; i++) {
        rk_addr next = rk_kernel_addr(k[(i + 1) % 4]);

        (void)t_call(k[i], T_CONFIG, &next, sizeof next, NULL, 0);
    }
    t_send(k[0], T_DATA, &t, sizeof t);
    (void)t_recv(k[(t.limit - 1) % 4], &t, sizeof t); /* the actor that counts to the limit */
    assert_int_equal(t.count, 10000);
    for (int i = 0; i < 4; i++) {
        assert_no_errors(k[i]);
        in += k2k_in(k[i]);
    }
    assert_int_equal(in, 9999); /* the first pass came from the host */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* n actors in a ring, `tokens` tokens injected at once into actor 0, each making `limit` hops: every link
 * carries each token exactly once and in order (the actors check), and every token comes back once. */
static void run_multi_ring(int n, uint64_t tokens, uint64_t limit)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *k[MAX_HOPS];
    uint8_t seen[64] = { 0 };
    uint64_t in = 0;

    assert_true(n <= MAX_HOPS && tokens <= 64);
    for (int i = 0; i < n; i++)
        k[i] = launch(rt, "k2k_mring", 0);
    for (int i = 0; i < n; i++) {
        rk_addr next = rk_kernel_addr(k[(i + 1) % n]);

        (void)t_call(k[i], T_CONFIG, &next, sizeof next, NULL, 0);
    }
    for (uint64_t i = 0; i < tokens; i++) {
        mtoken t = { .id = i, .hops = 0, .limit = limit };

        t_send(k[0], T_DATA, &t, sizeof t);
    }
    for (uint64_t i = 0; i < tokens; i++) {
        mtoken t;

        (void)t_recv(k[(limit - 1) % (uint64_t)n], &t, sizeof t); /* the actor that makes the last hop */
        assert_true(t.id < tokens);
        assert_int_equal(seen[t.id]++, 0);
        assert_int_equal(t.hops, limit);
    }
    for (int i = 0; i < n; i++) {
        assert_no_errors(k[i]);
        in += k2k_in(k[i]);
    }
    assert_int_equal(in, tokens * (limit - 1)); /* the first hop of each came from the host */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_ring_of_three_many_tokens(void **s)
{
    (void)s;
    run_multi_ring(3, 16, 1000);
}

static void test_ring_of_eight_many_tokens(void **s)
{
    (void)s;
    run_multi_ring(8, 32, 800);
}

/* ---- Diamond: fan-out 1 -> 4, then fan-in 4 -> 1 ------------------------------------------------------ */

static void test_diamond(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *src = launch(rt, "k2k_fanout", 0), *mid[4], *jn = launch(rt, "k2k_join", 16384);
    char next[RK_ENDPOINT_NAME_MAX + 1] = "join";
    uint64_t next_seq[JOIN_SOURCES];
    const uint64_t count = 2000, total = 4 * count; /* the join's inbox holds all of them: no RK_EAGAIN */
    rk_addr to[4];

    (void)s;
    assert_int_equal(rk_endpoint_register(rt, "join", jn), 0);
    (void)t_call(jn, T_CONFIG, &total, sizeof total, NULL, 0);
    for (int i = 0; i < 4; i++) {
        mid[i] = launch(rt, "k2k_fwd", 4096);
        to[i] = rk_kernel_addr(mid[i]);
        (void)t_call(mid[i], T_CONFIG, next, sizeof next, NULL, 0);
    }
    (void)t_call(src, T_CONFIG, to, sizeof to, NULL, 0);
    for (uint64_t n = 0; n < count; n++) {
        trail t;

        memset(&t, 0, sizeof t);
        t.seq = n;
        t_send(src, T_DATA, &t, sizeof t);
    }
    (void)t_recv(jn, next_seq, sizeof next_seq);
    for (int i = 0; i < JOIN_SOURCES; i++)
        assert_int_equal(next_seq[i], i < 4 ? count : 0); /* four senders, each item once, in order */
    assert_no_errors(src);
    assert_int_equal(k2k_out(src), total);
    for (int i = 0; i < 4; i++) {
        assert_no_errors(mid[i]);
        assert_int_equal(k2k_in(mid[i]), count);
        assert_int_equal(k2k_out(mid[i]), count);
    }
    assert_no_errors(jn);
    assert_int_equal(k2k_in(jn), total);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- K2K request/reply ------------------------------------------------------------------------------- */

static void test_k2k_reply_goes_back_to_the_kernel(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *ask = launch(rt, "k2k_asker", 0), *echo = launch(rt, "echo", 0), *sk = launch(rt, "k2k_sink", 0);
    ask_cmd c = { .dest = rk_kernel_addr(echo), .type = T_DATA, .value = 1234 };
    ask_result r;
    rk_kernel_stats st;

    (void)s;
    t_send(ask, T_ASK, &c, sizeof c);
    (void)t_recv(ask, &r, sizeof r);
    assert_int_equal(r.correlation_id, 42);
    assert_int_equal(r.source, rk_kernel_addr(echo));
    assert_int_equal(r.flags, RK_ENV_REPLY);
    assert_int_equal(r.payload, 1234);

    /* The built-in echo answered with rk_actor_reply, which went over K2K: nothing reached the host. */
    st = t_final_stats(echo);
    assert_int_equal(st.msgs_out, 0);
    assert_int_equal(st.k2k_in, 1);
    assert_int_equal(st.k2k_out, 1);

    /* A failing handler's error reply goes back over K2K too (the sink fails a payload of 8 bytes). */
    c.dest = rk_kernel_addr(sk);
    t_send(ask, T_ASK, &c, sizeof c);
    (void)t_recv(ask, &r, sizeof r);
    assert_int_equal(r.correlation_id, 42);
    assert_int_equal(r.source, rk_kernel_addr(sk));
    assert_int_equal(r.flags, RK_ENV_REPLY | RK_ENV_ERROR);
    assert_int_equal(r.code, RK_EINVAL);
    st = t_final_stats(sk);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.msgs_out, 0);
    assert_int_equal(st.k2k_out, 1);
    assert_no_errors(ask);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Errors ------------------------------------------------------------------------------------------ */

static int32_t probe(rk_kernel *p, rk_addr dest, uint32_t len, uint32_t flags)
{
    probe_cmd c = { .dest = dest, .len = len, .flags = flags };
    int32_t rc;

    assert_int_equal(t_call(p, T_DATA, &c, sizeof c, &rc, sizeof rc), sizeof rc);
    return rc;
}

static void test_send_errors(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *p = launch(rt, "k2k_prober", 0), *t = launch(rt, "k2k_sink", 0);
    rk_addr ta = rk_kernel_addr(t);

    (void)s;
    assert_int_equal(probe(p, ta, 8, 0), 0);
    assert_int_equal(probe(p, RK_ADDR(9999, 0), 8, 0), RK_ENOENT);        /* unknown kernel */
    assert_int_equal(probe(p, RK_ADDR(RK_ADDR_KERNEL(ta), 1), 8, 0), RK_ENOENT); /* no such instance */
    assert_int_equal(probe(p, RK_ADDR_HOST, 8, 0), RK_EINVAL);
    assert_int_equal(probe(p, ta, rk_kernel_payload_max(t) + 1, 0), RK_EMSGSIZE);
    assert_int_equal(probe(p, ta, 8, RK_ENV_SYSTEM), RK_EINVAL);
    assert_int_equal(rk_kernel_terminate(t, TIMEOUT), 0);
    assert_int_equal(probe(p, ta, 8, 0), RK_ECLOSED);                     /* terminated */
    assert_int_equal(k2k_in(t), 1);
    assert_int_equal(k2k_out(p), 1);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Terminate drains the inbox ---------------------------------------------------------------------- */

static void test_terminate_drains_accepted_k2k(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *sk = launch(rt, "k2k_sink", 0), *b = launch(rt, "k2k_burst", 0);
    uint64_t total = 500, next[SINK_SENDERS];
    burst_cmd c = { .dest = rk_kernel_addr(sk), .count = total, .sender = 0 };
    burst_done d;
    int64_t deadline = rk_monotonic_ns() + TIMEOUT;
    struct timespec tick = { 0, 100000 };

    (void)s;
    (void)t_call(sk, T_CONFIG, &total, sizeof total, NULL, 0);
    assert_int_equal(rk_kernel_pause(sk), 0); /* the sink takes nothing: the items stay in its inbox */
    while (rk_kernel_state_get(sk) != RK_STATE_PAUSED && rk_monotonic_ns() < deadline)
        nanosleep(&tick, NULL);
    assert_int_equal(rk_kernel_state_get(sk), RK_STATE_PAUSED);
    t_send(b, T_DATA, &c, sizeof c);
    (void)t_recv(b, &d, sizeof d); /* all 500 accepted (the inbox holds 1024) */
    assert_int_equal(d.sent, total);
    assert_int_equal(d.eagain, 0);
    assert_int_equal(rk_kernel_terminate(sk, TIMEOUT), 0); /* drains the inbox, then stops */
    assert_int_equal(rk_kernel_state_get(sk), RK_STATE_STOPPED);
    assert_int_equal(k2k_in(sk), total);
    (void)t_recv(sk, next, sizeof next); /* its report, produced while draining */
    assert_int_equal(next[0], total);
    assert_no_errors(sk);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* ---- Ping-pong --------------------------------------------------------------------------------------- */

static void test_ping_pong_rate(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *a = launch(rt, "k2k_ring", 0), *b = launch(rt, "k2k_ring", 0);
    rk_addr aa = rk_kernel_addr(a), ba = rk_kernel_addr(b);
    const char *env = getenv("RK_K2K_PINGPONG");
    uint64_t n = env != NULL ? strtoull(env, NULL, 10) : 20000;
    token t = { .count = 0, .limit = 2 * n };
    int64_t t0, t1;

    (void)s;
    (void)t_call(a, T_CONFIG, &ba, sizeof ba, NULL, 0);
    (void)t_call(b, T_CONFIG, &aa, sizeof aa, NULL, 0);
    t0 = rk_monotonic_ns();
    t_send(a, T_DATA, &t, sizeof t);
    (void)t_recv(b, &t, sizeof t); /* count 2n is reached on b */
    t1 = rk_monotonic_ns();
    assert_int_equal(t.count, 2 * n);
    printf("k2k ping-pong: %llu round trips in %.1f ms: %.0f ns per round trip, %.2f M msg/s (%u workers)\n",
           (unsigned long long)n, (double)(t1 - t0) / 1e6, (double)(t1 - t0) / (double)n,
           2.0 * (double)n / ((double)(t1 - t0) / 1e3), WORKERS);
    assert_no_errors(a);
    assert_no_errors(b);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_errors),
        cmocka_unit_test(test_endpoints_thread_safe),
        cmocka_unit_test(test_chain_of_3),
        cmocka_unit_test(test_chain_of_8),
        cmocka_unit_test(test_fan_out_to_four),
        cmocka_unit_test(test_fan_in_four_senders),
        cmocka_unit_test(test_backpressure_tiny_inbox),
        cmocka_unit_test(test_ring_of_four),
        cmocka_unit_test(test_ring_of_three_many_tokens),
        cmocka_unit_test(test_ring_of_eight_many_tokens),
        cmocka_unit_test(test_diamond),
        cmocka_unit_test(test_k2k_reply_goes_back_to_the_kernel),
        cmocka_unit_test(test_send_errors),
        cmocka_unit_test(test_terminate_drains_accepted_k2k),
        cmocka_unit_test(test_ping_pong_rate),
    };

    if (getenv("RK_TEST_FILTER") != NULL)
        cmocka_set_test_filter(getenv("RK_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
