/* pubsub_test.c - topic publish/subscribe between actors on the CPU backend (k2k.h, Topics): wildcard
 * routing, exactly-once delivery with overlapping filters, unsubscribe, errors, the payload layout, chains
 * of actors through topics, HLC stamps, fan-out in per-publisher order, backpressure (all or nothing, and
 * RK_PUBLISH_DROP_IF_FULL), subscriptions of stopped kernels, and subscribe/publish from several threads.
 *
 * Every subscriber checks what it receives (the header layout, per-publisher order, HLC happened-before)
 * and fails the message with RK_EINVAL when a check fails; the tests assert that no kernel counted an
 * error. RK_PUBSUB_N sets the messages per publisher of the fan-out test (default 10000).
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
#define NPUB 4                       /* publisher numbers a recorder tracks */
#define TOPIC_CAP 64
#define MAX_HOPS 8

#define T_CONFIG RK_TYPE_ID(ps_config)
#define T_SUB RK_TYPE_ID(ps_subscribe)
#define T_UNSUB RK_TYPE_ID(ps_unsubscribe)
#define T_DATA RK_TYPE_ID(ps_data)
#define T_CONT RK_TYPE_ID(ps_continue)
#define T_DONE RK_TYPE_ID(ps_done)
#define T_ECHO RK_TYPE_ID(ps_echo)

static int hlc_after(const rk_hlc_ts *a, const rk_hlc_ts *b) { return rk_hlc_compare(a, b) > 0; }

/* What a test publisher sends: its number, the message's number, and a stamp of the publisher's clock taken
 * just before it published (every delivery must be stamped later). */
typedef struct item {
    uint32_t publisher;
    uint32_t pad;
    uint64_t n;
    rk_hlc_ts before;
} item;

/* ---- Recorder: a subscriber that checks every publication ------------------------------------------- */

typedef struct rec_cfg {
    uint32_t echo;     /* 1: report every publication to the host (T_ECHO) */
    uint32_t pad;
    uint64_t expected; /* after this many publications, report T_DONE (0: never) */
} rec_cfg;

typedef struct rec_echo {
    char topic[TOPIC_CAP];
    uint32_t topic_len, user_len;
    uint64_t n;
    uint32_t publisher, flags;
    rk_hlc_ts hlc;
    rk_addr source, dest;
    uint64_t seq;
} rec_echo;

typedef struct rec_done {
    uint64_t total, bad;
    uint64_t next[NPUB]; /* the next n expected from each publisher */
} rec_done;

typedef struct rec_state {
    rec_cfg cfg;
    rec_done d;
} rec_state;

/* Checks the header bytes against the documented layout: little-endian length, topic, NUL, zeros to 8. */
static int layout_ok(const rk_envelope *env, const void *payload, const char *topic, uint32_t n)
{
    const uint8_t *b = payload;
    uint32_t hdr = RK_TOPIC_HDR_SIZE(n);

    if (hdr % 8 != 0 || hdr < n + 3 || hdr > env->payload_len || b[0] != (uint8_t)n || b[1] != (uint8_t)(n >> 8))
        return 0;
    if (topic != (const char *)b + 2 || memchr(b + 2, '\0', n) != NULL)
        return 0;
    for (uint32_t i = 2 + n; i < hdr; i++)
        if (b[i] != 0)
            return 0;
    return 1;
}

/* T_CONFIG (host request): rec_cfg, resets the counts. T_SUB / T_UNSUB (host request): a filter for
 * rk_actor_subscribe / rk_actor_unsubscribe; replies the int32 result. A publication: checks it, counts it. */
static int rec(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    rec_state *st = rk_actor_state(ctx);
    const char *topic;
    const void *user;
    uint32_t n, ulen;
    item it;
    int32_t rc;

    if (env->type_id == T_CONFIG && !(env->flags & RK_ENV_TOPIC)) {
        memcpy(&st->cfg, payload, sizeof st->cfg);
        memset(&st->d, 0, sizeof st->d);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if ((env->type_id == T_SUB || env->type_id == T_UNSUB) && !(env->flags & RK_ENV_TOPIC)) {
        rc = env->type_id == T_SUB ? rk_actor_subscribe(ctx, payload) : rk_actor_unsubscribe(ctx, payload);
        return rk_actor_reply(ctx, env, env->type_id, &rc, sizeof rc);
    }
    if (rk_msg_topic(env, payload, &topic, &n, &user, &ulen) != 0 || !layout_ok(env, payload, topic, n) ||
        env->dest != rk_actor_self(ctx) || ulen != sizeof it) {
        st->d.bad++;
        return RK_EINVAL;
    }
    memcpy(&it, user, sizeof it);
    /* Happened-before: the delivery is stamped after the publisher's stamp taken before it published. */
    if (!hlc_after(&env->hlc, &it.before) || it.publisher >= NPUB || it.n < st->d.next[it.publisher]) {
        st->d.bad++;
        return RK_EINVAL;
    }
    st->d.next[it.publisher] = it.n + 1; /* per-publisher order: n only grows */
    st->d.total++;
    if (st->cfg.echo) {
        rec_echo e = { .topic_len = n, .user_len = ulen, .n = it.n, .publisher = it.publisher,
                       .flags = env->flags, .hlc = env->hlc, .source = env->source, .dest = env->dest,
                       .seq = env->seq };

        memcpy(e.topic, topic, n < TOPIC_CAP - 1 ? n : TOPIC_CAP - 1);
        if ((rc = rk_actor_reply(ctx, NULL, T_ECHO, &e, sizeof e)) != 0)
            return rc;
    }
    if (st->d.total == st->cfg.expected)
        return rk_actor_reply(ctx, NULL, T_DONE, &st->d, sizeof st->d);
    return 0;
}
RK_REGISTER_ACTOR(ps_rec, rec, sizeof(rec_state))

/* ---- Publisher: publishes from a handler ------------------------------------------------------------ */

typedef struct pub_cmd {
    char topic[TOPIC_CAP];
    uint64_t count;     /* messages to publish */
    uint32_t publisher; /* its number in the items */
    uint32_t flags;     /* rk_actor_publish_ex flags */
    uint32_t once;      /* 1: one attempt, report its result whatever it is (no retry) */
    uint32_t pad;
} pub_cmd;

typedef struct pub_done {
    uint64_t published, eagain;
    int32_t last_rc;
    uint32_t pad;
    rk_publish_info info; /* of the last attempt */
} pub_done;

typedef struct pub_state {
    pub_cmd cmd;
    uint64_t next;
    pub_done d;
} pub_state;

/* T_DATA (host): publish cmd.count items; T_CONT (itself): go on. At most 256 attempts per message; on
 * RK_EAGAIN (nobody got it) it sends itself a continuation and retries the same item later. */
static int pub(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    pub_state *st = rk_actor_state(ctx);
    int rc = 0;

    if (env->type_id == T_DATA) {
        memcpy(&st->cmd, payload, sizeof st->cmd);
        st->next = 0;
        memset(&st->d, 0, sizeof st->d);
    } else if (env->type_id != T_CONT || env->source != rk_actor_self(ctx)) {
        return RK_EINVAL;
    }
    for (int i = 0; i < 256 && st->next < st->cmd.count; i++) {
        item it = { .publisher = st->cmd.publisher, .n = st->next };

        if ((rc = rk_actor_hlc_now(ctx, &it.before)) != 0)
            return rc;
        rc = rk_actor_publish_ex(ctx, st->cmd.topic, T_DATA, st->cmd.flags, &it, sizeof it, &st->d.info);
        st->d.last_rc = rc;
        if (st->cmd.once) {
            st->next = st->cmd.count;
            break;
        }
        if (rc == RK_EAGAIN) {
            st->d.eagain++;
            break;
        }
        if (rc < 0)
            return rc;
        st->next++;
        st->d.published++;
    }
    if (st->next < st->cmd.count)
        return rk_actor_send(ctx, rk_actor_self(ctx), T_CONT, NULL, 0);
    return rk_actor_reply(ctx, NULL, T_DONE, &st->d, sizeof st->d);
}
RK_REGISTER_ACTOR(ps_pub, pub, sizeof(pub_state))

/* ---- Chain: actors that subscribe themselves and pass a trail on through topics --------------------- */

typedef struct chain_cfg {
    char sub[TOPIC_CAP];  /* the filter it subscribes to */
    char next[TOPIC_CAP]; /* the topic it publishes to; "" for the last: it hands the trail to the host */
} chain_cfg;

typedef struct trail {
    uint32_t hops;
    uint32_t pad;
    rk_hlc_ts stamp[MAX_HOPS + 1]; /* [0]: the host before publishing; then each actor's receipt */
} trail;

/* T_CONFIG (host request): chain_cfg; subscribes and replies the int32 result. A publication: checks and
 * extends the trail, publishes it to the next topic (exactly one subscriber expected). */
static int chain(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    chain_cfg *st = rk_actor_state(ctx);
    const void *user;
    uint32_t ulen;
    trail t;
    int32_t rc;

    if (!(env->flags & RK_ENV_TOPIC)) {
        if (env->type_id != T_CONFIG)
            return RK_EINVAL;
        memcpy(st, payload, sizeof *st);
        rc = rk_actor_subscribe(ctx, st->sub);
        return rk_actor_reply(ctx, env, T_CONFIG, &rc, sizeof rc);
    }
    if (rk_msg_topic(env, payload, NULL, NULL, &user, &ulen) != 0 || ulen != sizeof t)
        return RK_EINVAL;
    memcpy(&t, user, sizeof t);
    if (t.hops == 0 || t.hops > MAX_HOPS || !hlc_after(&env->hlc, &t.stamp[t.hops - 1]))
        return RK_EINVAL;
    t.stamp[t.hops++] = env->hlc;
    if (st->next[0] == '\0')
        return rk_actor_reply(ctx, NULL, T_DONE, &t, sizeof t);
    rc = rk_actor_publish(ctx, st->next, T_DATA, &t, sizeof t);
    return rc == 1 ? 0 : rc < 0 ? rc : RK_ENOENT;
}
RK_REGISTER_ACTOR(ps_chain, chain, sizeof(chain_cfg))

/* ---- Helpers ----------------------------------------------------------------------------------------- */

/* The shared helpers (t_runtime, t_launch, t_send, t_call, t_recv, t_final_stats). */
#include "actor_test_helpers.h"

/* Receives one message of exactly len bytes and type `type` into out; returns its envelope. */
static rk_envelope recv_from(rk_kernel *k, uint64_t type, void *out, uint32_t len)
{
    rk_envelope e = t_recv(k, out, len);

    assert_true(e.type_id == type);
    return e;
}

static void rec_config(rk_kernel *k, uint32_t echo, uint64_t expected)
{
    rec_cfg c = { .echo = echo, .expected = expected };

    (void)t_call(k, T_CONFIG, &c, sizeof c, NULL, 0);
}

/* Subscribes recorder k to filter from inside its handler (rk_actor_subscribe); returns the result. */
static int32_t actor_sub(rk_kernel *k, uint64_t type, const char *filter)
{
    int32_t rc = 0;

    assert_int_equal(t_call(k, type, filter, (uint32_t)strlen(filter) + 1, &rc, sizeof rc), sizeof rc);
    return rc;
}

static void subscribe(rk_runtime *rt, rk_kernel *k, const char *filter)
{
    if (rk_subscribe(rt, k, filter) != 0)
        fail_msg("rk_subscribe(%s): %s", filter, rk_last_error());
}

/* Publishes one item from the host, stamped `before` just ahead of the call; returns rk_publish_ex's result. */
static int host_publish(rk_runtime *rt, const char *topic, uint64_t n, uint32_t flags, int64_t timeout,
                        rk_publish_info *info)
{
    item it = { .publisher = 0, .n = n };

    assert_int_equal(rk_runtime_hlc_now(rt, &it.before), 0);
    return rk_publish_ex(rt, topic, T_DATA, flags, &it, sizeof it, timeout, info);
}

static pub_done actor_publish(rk_kernel *pk, const char *topic, uint32_t publisher, uint64_t count,
                              uint32_t flags, uint32_t once)
{
    pub_cmd c = { .count = count, .publisher = publisher, .flags = flags, .once = once };
    pub_done d;

    snprintf(c.topic, sizeof c.topic, "%s", topic);
    t_send(pk, T_DATA, &c, sizeof c);
    (void)recv_from(pk, T_DONE, &d, sizeof d);
    return d;
}

/* Final statistics of a stopped kernel that must have counted no handler error. */
static rk_kernel_stats final_stats_clean(rk_kernel *k)
{
    rk_kernel_stats st = t_final_stats(k);

    if (st.errors != 0)
        fail_msg("kernel %u ('%s') counted %llu errors, last %s", st.kernel_id, st.name,
                 (unsigned long long)st.errors, rk_err_name(st.last_error));
    return st;
}

static void wait_state(rk_kernel *k, rk_kernel_state want)
{
    for (int i = 0; i < 10000 && rk_kernel_state_get(k) != want; i++) {
        struct timespec ts = { 0, 1000000 };

        nanosleep(&ts, NULL);
    }
    assert_int_equal(rk_kernel_state_get(k), want);
}

/* ---- Tests ------------------------------------------------------------------------------------------- */

static void test_no_subscribers(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *pk = t_launch(rt, "ps_pub", 0, 0);
    rk_publish_info info = { .matched = 9 };
    pub_done d;
    (void)s;

    assert_int_equal(host_publish(rt, "nobody/listens", 0, 0, TIMEOUT, &info), 0);
    assert_int_equal(info.matched, 0);
    assert_int_equal(rk_publish(rt, "nobody", T_DATA, NULL, 0, 0), 0);
    d = actor_publish(pk, "nobody/here", 1, 3, 0, 0);
    assert_int_equal(d.last_rc, 0);
    assert_int_equal(d.published, 3);
    assert_int_equal(d.info.matched, 0);
    assert_int_equal(final_stats_clean(pk).k2k_out, 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_errors(void **s)
{
    static const char *bad_filters[] = { "", "a/#/b", "a+", "#/", "a/b#", "+a" };
    static const char *bad_topics[] = { "", "a/+", "a/#", "#", "+" };
    rk_runtime *rt = t_runtime(), *rt2 = t_runtime();
    rk_kernel *k = t_launch(rt, "ps_rec", 0, 0), *other = t_launch(rt2, "ps_rec", 0, 0);
    rk_kernel *big = t_launch(rt, "ps_rec", 0, 512);
    uint8_t payload[512] = { 0 };
    rk_publish_info info;
    rec_echo e;
    (void)s;

    assert_int_equal(rk_subscribe(NULL, k, "a"), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, NULL, "a"), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, k, NULL), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, other, "a"), RK_EINVAL);
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        assert_int_equal(rk_subscribe(rt, k, bad_filters[i]), RK_EINVAL);
        assert_non_null(strstr(rk_last_error(), "filter")); /* the topic module's detail */
        assert_int_equal(rk_unsubscribe(rt, k, bad_filters[i]), RK_EINVAL);
    }
    assert_int_equal(actor_sub(k, T_SUB, "x/#/y"), RK_EINVAL);
    assert_int_equal(rk_subscribe(rt, k, "e/#"), 0);
    assert_int_equal(rk_subscribe(rt, k, "e/#"), RK_EEXIST);
    assert_int_equal(actor_sub(k, T_SUB, "e/#"), RK_EEXIST); /* the same actor: instance 0 */
    assert_int_equal(rk_unsubscribe(rt, k, "e/+"), RK_ENOENT);
    assert_int_equal(actor_sub(k, T_UNSUB, "nothing"), RK_ENOENT);
    for (size_t i = 0; i < sizeof bad_topics / sizeof bad_topics[0]; i++) {
        assert_int_equal(rk_publish(rt, bad_topics[i], T_DATA, NULL, 0, 0), RK_EINVAL);
        assert_non_null(strstr(rk_last_error(), "topic"));
    }
    assert_int_equal(rk_publish(rt, NULL, T_DATA, NULL, 0, 0), RK_EINVAL);
    assert_int_equal(rk_publish(NULL, "e/x", T_DATA, NULL, 0, 0), RK_EINVAL);
    assert_int_equal(rk_publish(rt, "e/x", T_DATA, NULL, 4, 0), RK_EINVAL);
    assert_int_equal(rk_publish_ex(rt, "e/x", T_DATA, 0x80, NULL, 0, 0, NULL), RK_EINVAL);

    /* Sizes: "e/x" takes an 8-byte header; k's slot (256) carries 192 bytes, big's (512) 448. A message
     * too large for one subscriber reaches neither. */
    rec_config(k, 1, 0);
    rec_config(big, 1, 0);
    subscribe(rt, big, "e/x");
    assert_int_equal(RK_TOPIC_HDR_SIZE(3), 8);
    assert_int_equal(rk_publish_ex(rt, "e/x", T_DATA, 0, payload, 185, TIMEOUT, &info), RK_EMSGSIZE);
    assert_int_equal(info.matched, 2);
    assert_int_equal(info.delivered, 0);
    assert_int_equal(rk_publish_ex(rt, "e/x", T_DATA, RK_PUBLISH_DROP_IF_FULL, payload, 185, 0, NULL),
                     RK_EMSGSIZE);
    assert_int_equal(rk_unsubscribe(rt, k, "e/#"), 0);
    assert_int_equal(rk_publish(rt, "e/x", T_DATA, payload, 300, TIMEOUT), 1); /* big alone takes it */
    /* ...which its recorder rejects (not an item): an error it counts; then a good one is echoed. */
    assert_int_equal(host_publish(rt, "e/x", 0, 0, TIMEOUT, NULL), 1);
    (void)recv_from(big, T_ECHO, &e, sizeof e);
    assert_string_equal(e.topic, "e/x");

    assert_int_equal(rk_kernel_terminate(big, TIMEOUT), 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
    assert_int_equal(rk_runtime_destroy(rt2), 0);
}

static void test_msg_topic_layout(void **s)
{
    uint8_t buf[64];
    rk_envelope env;
    const char *topic;
    const void *user;
    uint32_t n, ulen;
    (void)s;

    memset(&env, 0, sizeof env);
    memset(buf, 0, sizeof buf);
    env.flags = RK_ENV_TOPIC;
    buf[0] = 5; /* "ab/cd", little-endian length */
    memcpy(buf + 2, "ab/cd", 5);
    memcpy(buf + RK_TOPIC_HDR_SIZE(5), "user", 4);
    assert_int_equal(RK_TOPIC_HDR_SIZE(5), 8);
    assert_int_equal(RK_TOPIC_HDR_SIZE(6), 16); /* 2 + 6 + NUL = 9 */
    env.payload_len = 12;
    assert_int_equal(rk_msg_topic(&env, buf, &topic, &n, &user, &ulen), 0);
    assert_string_equal(topic, "ab/cd");
    assert_int_equal(n, 5);
    assert_ptr_equal(user, buf + 8);
    assert_int_equal(ulen, 4);
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(rk_msg_topic(NULL, buf, NULL, NULL, NULL, NULL), RK_EINVAL);
    assert_int_equal(rk_msg_topic(&env, NULL, NULL, NULL, NULL, NULL), RK_EINVAL);
    env.payload_len = 7; /* the header does not fit */
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ECORRUPT);
    env.payload_len = 1;
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ECORRUPT);
    env.payload_len = 12;
    buf[7] = 'x'; /* the NUL is gone */
    buf[2 + 5] = 'x';
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ECORRUPT);
    buf[7] = 0;
    buf[0] = 0; /* an empty topic */
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ECORRUPT);
    buf[0] = 0x01;
    buf[1] = 0x01; /* 257 bytes: above RK_TOPIC_MAX_LEN */
    env.payload_len = 0xffff;
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ECORRUPT);
    env.flags = 0;
    assert_int_equal(rk_msg_topic(&env, buf, NULL, NULL, NULL, NULL), RK_ENOENT);
}

#define NREC 5

static void test_wildcard_routing(void **s)
{
    /* Per recorder, its filters ("|" separated); r4 has two overlapping ones. */
    static const char *filters[NREC][2] = {
        { "sensors/+/temp", NULL }, { "sensors/#", NULL }, { "a/#", NULL }, { "+/gpu0/#", NULL },
        { "$SYS/#", "#" },
    };
    static const char *topics[] = { "sensors/gpu0/temp", "sensors/gpu1/temp/x", "sensors", "a", "a/b/c",
                                    "b/gpu0", "b/gpu0/x/y", "$SYS/uptime", "sensors//temp", "a/" };
    enum { NT = sizeof topics / sizeof topics[0] };
    rk_runtime *rt = t_runtime();
    rk_kernel *r[NREC];
    uint64_t got[NREC] = { 0 };
    rk_hlc_ts before[NT];
    int expect[NT][NREC];
    (void)s;

    for (int i = 0; i < NREC; i++) {
        r[i] = t_launch(rt, "ps_rec", 0, 0);
        rec_config(r[i], 1, 0);
        for (int f = 0; f < 2 && filters[i][f] != NULL; f++)
            subscribe(rt, r[i], filters[i][f]);
    }
    for (int t = 0; t < NT; t++) {
        int want = 0;

        for (int i = 0; i < NREC; i++) {
            expect[t][i] = 0;
            for (int f = 0; f < 2 && filters[i][f] != NULL; f++)
                expect[t][i] |= rk_topic_match(filters[i][f], topics[t]) == 1;
            want += expect[t][i];
        }
        assert_int_equal(rk_runtime_hlc_now(rt, &before[t]), 0);
        assert_int_equal(host_publish(rt, topics[t], (uint64_t)t, 0, TIMEOUT, NULL), want);
    }
    /* "a/#" receives "a"; "#" does not receive "$SYS/uptime" but "$SYS/#" does, once. */
    assert_true(expect[3][2] && expect[4][4] && expect[7][4] && !expect[7][1]);
    for (int i = 0; i < NREC; i++) {
        for (int t = 0; t < NT; t++) {
            rec_echo e;
            rk_envelope env;

            if (!expect[t][i])
                continue;
            env = recv_from(r[i], T_ECHO, &e, sizeof e);
            (void)env;
            assert_string_equal(e.topic, topics[t]); /* in publication order, nothing in between */
            assert_int_equal(e.n, (uint64_t)t);
            assert_int_equal(e.flags, RK_ENV_TOPIC);
            assert_int_equal(e.source, RK_ADDR_HOST);
            assert_int_equal(e.dest, rk_kernel_addr(r[i]));
            assert_true(hlc_after(&e.hlc, &before[t]));
            got[i]++;
        }
    }
    for (int i = 0; i < NREC; i++)
        assert_int_equal(final_stats_clean(r[i]).k2k_in, got[i]); /* nothing else arrived */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_overlapping_filters_once(void **s)
{
    static const char *host_filters[] = { "x/#", "x/+", "x/y", "#", "+/y", "+/+" };
    rk_runtime *rt = t_runtime();
    rk_kernel *a = t_launch(rt, "ps_rec", 0, 0), *b = t_launch(rt, "ps_rec", 0, 0);
    rec_done da, db;
    (void)s;

    rec_config(a, 0, 100);
    rec_config(b, 0, 100);
    for (size_t i = 0; i < sizeof host_filters / sizeof host_filters[0]; i++)
        subscribe(rt, a, host_filters[i]);
    assert_int_equal(actor_sub(b, T_SUB, "x/y"), 0);
    assert_int_equal(actor_sub(b, T_SUB, "x/#"), 0);
    for (uint64_t n = 0; n < 100; n++)
        assert_int_equal(host_publish(rt, "x/y", n, 0, TIMEOUT, NULL), 2);
    (void)recv_from(a, T_DONE, &da, sizeof da);
    (void)recv_from(b, T_DONE, &db, sizeof db);
    assert_int_equal(da.total, 100);
    assert_int_equal(db.total, 100);
    assert_int_equal(da.next[0], 100);
    assert_int_equal(final_stats_clean(a).k2k_in, 100); /* exactly once each */
    assert_int_equal(final_stats_clean(b).k2k_in, 100);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_unsubscribe_stops_delivery(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *r = t_launch(rt, "ps_rec", 0, 0);
    (void)s;

    rec_config(r, 0, 0);
    subscribe(rt, r, "u/#");
    assert_int_equal(host_publish(rt, "u/1", 0, 0, TIMEOUT, NULL), 1);
    assert_int_equal(rk_unsubscribe(rt, r, "u/#"), 0);
    assert_int_equal(rk_unsubscribe(rt, r, "u/#"), RK_ENOENT);
    assert_int_equal(host_publish(rt, "u/1", 1, 0, TIMEOUT, NULL), 0);
    assert_int_equal(actor_sub(r, T_SUB, "v"), 0);
    assert_int_equal(host_publish(rt, "v", 2, 0, TIMEOUT, NULL), 1);
    assert_int_equal(actor_sub(r, T_UNSUB, "v"), 0);
    assert_int_equal(host_publish(rt, "v", 3, 0, TIMEOUT, NULL), 0);
    assert_int_equal(final_stats_clean(r).k2k_in, 2);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

#define CHAIN 4

static void test_chain_through_topics(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *c[CHAIN];
    (void)s;

    for (int i = 0; i < CHAIN; i++) {
        chain_cfg cfg;
        int32_t rc = -1;

        memset(&cfg, 0, sizeof cfg);
        snprintf(cfg.sub, sizeof cfg.sub, "chain/%d/#", i);
        if (i + 1 < CHAIN)
            snprintf(cfg.next, sizeof cfg.next, "chain/%d/from/%d", i + 1, i);
        c[i] = t_launch(rt, "ps_chain", 0, 0);
        assert_int_equal(t_call(c[i], T_CONFIG, &cfg, sizeof cfg, &rc, sizeof rc), sizeof rc);
        assert_int_equal(rc, 0); /* subscribed from inside its handler */
    }
    for (int m = 0; m < 200; m++) {
        trail t;

        memset(&t, 0, sizeof t);
        assert_int_equal(rk_runtime_hlc_now(rt, &t.stamp[0]), 0);
        t.hops = 1;
        assert_int_equal(rk_publish(rt, "chain/0", T_DATA, &t, sizeof t, TIMEOUT), 1);
        (void)recv_from(c[CHAIN - 1], T_DONE, &t, sizeof t);
        assert_int_equal(t.hops, CHAIN + 1);
        for (uint32_t h = 1; h < t.hops; h++)
            assert_true(hlc_after(&t.stamp[h], &t.stamp[h - 1])); /* happened-before along the chain */
    }
    for (int i = 0; i < CHAIN; i++)
        assert_int_equal(final_stats_clean(c[i]).k2k_in, 200);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

#define FAN 8

typedef struct host_pub_arg {
    rk_runtime *rt;
    uint64_t count;
    int failures;
} host_pub_arg;

static void *host_publisher(void *p)
{
    host_pub_arg *a = p;
    char topic[32];

    for (uint64_t n = 0; n < a->count; n++) {
        item it = { .publisher = 0, .n = n };

        snprintf(topic, sizeof topic, "fan/h/%u", (unsigned)(n % 4));
        if (rk_runtime_hlc_now(a->rt, &it.before) != 0 ||
            rk_publish(a->rt, topic, T_DATA, &it, sizeof it, TIMEOUT) != FAN)
            a->failures++;
    }
    return NULL;
}

static void test_fan_out_in_order(void **s)
{
    const char *env = getenv("RK_PUBSUB_N");
    uint64_t n = env != NULL ? strtoull(env, NULL, 10) : 10000;
    rk_runtime *rt = t_runtime();
    rk_kernel *r[FAN], *pk;
    host_pub_arg arg = { .count = n };
    pthread_t th;
    pub_done pd;
    struct timespec t0, t1;
    (void)s;

    arg.rt = rt;
    for (int i = 0; i < FAN; i++) {
        r[i] = t_launch(rt, "ps_rec", 0, 0);
        rec_config(r[i], 0, 2 * n);
        subscribe(rt, r[i], i % 2 ? "fan/#" : "fan/+/#");
    }
    pk = t_launch(rt, "ps_pub", 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(pthread_create(&th, NULL, host_publisher, &arg), 0);
    pd = actor_publish(pk, "fan/a", 1, n, 0, 0); /* concurrently: a handler publisher */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(arg.failures, 0);
    assert_int_equal(pd.published, n);
    for (int i = 0; i < FAN; i++) {
        rec_done d;

        (void)recv_from(r[i], T_DONE, &d, sizeof d);
        assert_int_equal(d.total, 2 * n);
        assert_int_equal(d.bad, 0);
        assert_int_equal(d.next[0], n); /* with total == 2n and n only growing: each exactly once, in order */
        assert_int_equal(d.next[1], n);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("fan-out: 2 publishers x %llu messages to %d subscribers in %.0f ms (handler publisher "
                  "retried %llu times after RK_EAGAIN)\n",
                  (unsigned long long)n, FAN, (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
                  (unsigned long long)pd.eagain);
    assert_true(final_stats_clean(pk).k2k_out >= (uint64_t)FAN * n); /* and its continuations */
    for (int i = 0; i < FAN; i++)
        (void)final_stats_clean(r[i]);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct resume_arg {
    rk_kernel *k;
} resume_arg;

static void *resume_later(void *p)
{
    struct timespec ts = { 0, 50 * 1000000 };

    nanosleep(&ts, NULL);
    (void)rk_kernel_resume(((resume_arg *)p)->k);
    return NULL;
}

static void test_backpressure(void **s)
{
    rk_runtime *rt = t_runtime();
    /* room: launched first, so it is first in delivery order and its reserved slot must be withdrawn when
     * full's inbox (4 slots, paused) has no room. */
    rk_kernel *room = t_launch(rt, "ps_rec", 0, 0), *full = t_launch(rt, "ps_rec", 4, 0);
    rk_kernel *pk = t_launch(rt, "ps_pub", 0, 0);
    rk_publish_info info;
    resume_arg ra = { .k = full };
    rec_done d;
    pub_done pd;
    rk_kernel_stats st;
    pthread_t th;
    (void)s;

    rec_config(room, 0, 7);
    rec_config(full, 0, 5);
    subscribe(rt, room, "bp/#");
    subscribe(rt, full, "bp/+");
    assert_int_equal(rk_kernel_pause(full), 0);
    wait_state(full, RK_STATE_PAUSED);
    for (uint64_t n = 0; n < 4; n++)
        assert_int_equal(host_publish(rt, "bp/x", n, 0, 0, NULL), 2);
    /* Default: all or nothing. */
    assert_int_equal(host_publish(rt, "bp/x", 4, 0, 0, &info), RK_EAGAIN);
    assert_int_equal(info.matched, 2);
    assert_int_equal(info.delivered, 0);
    assert_int_equal(host_publish(rt, "bp/x", 4, 0, RK_TIMEOUT_MS(20), &info), RK_ETIMEDOUT);
    assert_non_null(strstr(rk_last_error(), "nothing was delivered"));
    assert_int_equal(info.delivered, 0);
    pd = actor_publish(pk, "bp/x", 1, 1, 0, 1);
    assert_int_equal(pd.last_rc, RK_EAGAIN);
    assert_int_equal(pd.info.delivered, 0);
    /* Drops asked for: the one with room gets it, the miss is counted. */
    assert_int_equal(host_publish(rt, "bp/x", 4, RK_PUBLISH_DROP_IF_FULL, TIMEOUT, &info), 1);
    assert_int_equal(info.delivered, 1);
    assert_int_equal(info.dropped, 1);
    pd = actor_publish(pk, "bp/x", 1, 1, RK_PUBLISH_DROP_IF_FULL, 1);
    assert_int_equal(pd.last_rc, 1);
    assert_int_equal(pd.info.dropped, 1);
    /* A host publication waits for room: the full subscriber is resumed after 50 ms. */
    assert_int_equal(pthread_create(&th, NULL, resume_later, &ra), 0);
    assert_int_equal(host_publish(rt, "bp/x", 5, 0, TIMEOUT, &info), 2);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(info.delivered, 2);
    /* room got 4 + 2 with drops allowed + the last; full got 4 + the last. */
    (void)recv_from(room, T_DONE, &d, sizeof d);
    assert_int_equal(d.total, 7);
    assert_int_equal(d.next[0], 6);
    assert_int_equal(d.next[1], 1);
    (void)recv_from(full, T_DONE, &d, sizeof d);
    assert_int_equal(d.total, 5);
    assert_int_equal(d.next[0], 6);
    st = final_stats_clean(pk);
    assert_int_equal(st.dropped, 1);
    assert_int_equal(st.k2k_out, 1);
    st = final_stats_clean(room);
    assert_true(st.k2k_in > 7); /* the 7 deliveries and the withdrawn slots, which the handler never saw */
    assert_int_equal(final_stats_clean(full).k2k_in, 5);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_stopped_kernel_loses_subscriptions(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *r = t_launch(rt, "ps_rec", 0, 0), *live = t_launch(rt, "ps_rec", 0, 0);
    rk_publish_info info;
    (void)s;

    rec_config(r, 0, 0);
    rec_config(live, 0, 0);
    subscribe(rt, r, "t/#");
    assert_int_equal(actor_sub(r, T_SUB, "t/x"), 0);
    subscribe(rt, live, "t/x");
    assert_int_equal(host_publish(rt, "t/x", 0, 0, TIMEOUT, NULL), 2);
    assert_int_equal(rk_kernel_terminate(r, TIMEOUT), 0);
    assert_int_equal(host_publish(rt, "t/x", 1, 0, TIMEOUT, &info), 1);
    assert_int_equal(info.matched, 1); /* removed, not merely skipped */
    assert_int_equal(rk_unsubscribe(rt, r, "t/#"), RK_ENOENT);
    assert_int_equal(rk_subscribe(rt, r, "t/#"), RK_ECLOSED);
    assert_int_equal(final_stats_clean(r).k2k_in, 1);
    assert_int_equal(final_stats_clean(live).k2k_in, 2);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

typedef struct churn_arg {
    rk_runtime *rt;
    rk_kernel *k;
    const char *filter;
    int errors;
} churn_arg;

static void *churn(void *p)
{
    churn_arg *a = p;

    for (int i = 0; i < 2000; i++) {
        if (rk_subscribe(a->rt, a->k, a->filter) != 0 || rk_unsubscribe(a->rt, a->k, a->filter) != 0)
            a->errors++;
    }
    return NULL;
}

static void test_threads_subscribe_while_publishing(void **s)
{
    rk_runtime *rt = t_runtime();
    rk_kernel *k = t_launch(rt, "ps_rec", 0, 0);
    churn_arg ca[2] = { { rt, k, "c/#", 0 }, { rt, k, "c/+", 0 } };
    pthread_t th[2];
    uint64_t delivered = 0;
    (void)s;

    rec_config(k, 0, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, churn, &ca[i]), 0);
    for (uint64_t n = 0; n < 4000; n++) {
        int rc = host_publish(rt, "c/x", n, 0, TIMEOUT, NULL);

        assert_true(rc == 0 || rc == 1); /* one subscriber, however many of its filters match */
        delivered += (uint64_t)rc;
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(ca[i].errors, 0);
    }
    assert_int_equal(final_stats_clean(k).k2k_in, delivered); /* what the calls reported, exactly */
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_subscribers),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_msg_topic_layout),
        cmocka_unit_test(test_wildcard_routing),
        cmocka_unit_test(test_overlapping_filters_once),
        cmocka_unit_test(test_unsubscribe_stops_delivery),
        cmocka_unit_test(test_chain_through_topics),
        cmocka_unit_test(test_fan_out_in_order),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_stopped_kernel_loses_subscriptions),
        cmocka_unit_test(test_threads_subscribe_while_publishing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
