/* kernel_to_kernel.c - kernels talking to each other without the host (k2k.h), on the CPU backend.
 *
 *   1. Endpoints: three kernels are named "parse", "enrich" and "store"; each stage resolves the next by
 *      name (rk_actor_resolve) and the host resolves the first (rk_endpoint_resolve).
 *   2. A 3-stage pipeline through rk_actor_send: the host sends raw readings to "parse", which forwards
 *      them to "enrich" (converts to degrees), which forwards them to "store", which answers the host.
 *      Every stage writes down the HLC stamp of the message it received, so the host can check that each
 *      cause is stamped before its effect: host send < parse's send < enrich's send < store's reply.
 *   3. Topics: "store" publishes every reading on "plant/<line>/temp" (rk_actor_publish); a "monitor"
 *      subscribes to "plant/+/temp" and an "auditor" to "#". The host publishes too: "plant/3/pressure"
 *      reaches only the auditor, and "$SYS/health" nobody ('#' does not match topics starting with '$').
 *   4. Request/reply with a deadline: rk_call answers with the store's count; while the store is paused the
 *      same call gives up at its deadline (RK_ETIMEDOUT), and its late reply is dropped and counted, never
 *      handed to the next call.
 * Checks every result; exits non-zero on any mismatch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

#define CHECK(call)                                                                          \
    do {                                                                                     \
        int rc_ = (call);                                                                    \
        if (rc_ < 0) {                                                                       \
            fprintf(stderr, "%s failed: %s (%s)\n", #call, rk_err_name(rc_), rk_last_error()); \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

#define T_CONFIG RK_TYPE_ID(k2k_example_config)
#define T_READING RK_TYPE_ID(k2k_example_reading)
#define T_GET RK_TYPE_ID(k2k_example_get)
#define READINGS 5

/* What travels down the pipeline: a reading and the stamp each stage received it with. */
typedef struct reading {
    uint32_t line;
    uint32_t stages;     /* stages passed so far */
    double value;        /* raw tenths of a degree, then degrees after "enrich" */
    rk_hlc_ts seen[3];   /* seen[i]: the stamp of the envelope stage i received (its sender's send) */
} reading;

typedef struct stage_state {
    rk_addr next; /* 0: the last stage */
    uint64_t count;
} stage_state;

/* T_CONFIG (rk_call from the host): the next stage's endpoint name, "" for the last. T_READING: one
 * reading; T_GET (rk_call): how many readings this stage has handled. */
static int stage(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    stage_state *st = rk_actor_state(ctx);
    reading r;
    char topic[32];
    int n;

    if (env->type_id == T_CONFIG) {
        const char *next = payload;

        st->next = 0;
        if (env->payload_len > 0 && next[0] != '\0' && (n = rk_actor_resolve(ctx, next, &st->next)) != 0)
            return n;
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->type_id == T_GET)
        return rk_actor_reply(ctx, env, T_GET, &st->count, sizeof st->count);
    if (env->type_id != T_READING || env->payload_len != sizeof r)
        return RK_EINVAL;
    memcpy(&r, payload, sizeof r);
    r.seen[r.stages++] = env->hlc; /* the receiver merged this stamp: what we send now is later */
    st->count++;
    if (r.stages == 2)
        r.value /= 10.0; /* "enrich": tenths of a degree to degrees */
    if (st->next != 0)
        return rk_actor_send(ctx, st->next, T_READING, &r, sizeof r); /* RK_EAGAIN: the inbox is full */
    /* The last stage publishes the reading, then answers the host (a message to the host, not a reply). */
    snprintf(topic, sizeof topic, "plant/%u/temp", r.line);
    n = rk_actor_publish(ctx, topic, T_READING, &r.value, sizeof r.value);
    if (n < 0)
        return n;
    return rk_actor_reply(ctx, NULL, T_READING, &r, sizeof r);
}
RK_REGISTER_ACTOR(k2k_example_stage, stage, sizeof(stage_state))

/* A subscriber: counts publications; T_GET (rk_call) asks for the count. */
static int tally(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    uint64_t *count = rk_actor_state(ctx);

    if (rk_msg_topic(env, payload, NULL, NULL, NULL, NULL) == 0) {
        ++*count;
        return 0;
    }
    return rk_actor_reply(ctx, env, T_GET, count, sizeof *count);
}
RK_REGISTER_ACTOR(k2k_example_tally, tally, sizeof(uint64_t))

static void print_stamp(const char *what, const rk_hlc_ts *t)
{
    printf("    %-26s %" PRIu64 ".%09" PRIu64 " +%u (node %u)\n", what, t->physical / 1000000000u,
           t->physical % 1000000000u, t->logical, t->node);
}

/* rk_call T_GET on k with a deadline; the answer into *out. Returns rk_call's result. */
static int get_count(rk_kernel *k, uint64_t *out, int64_t deadline_ns)
{
    rk_msg get = { .env = { .type_id = T_GET } };
    rk_msg reply = { .payload = out, .payload_cap = sizeof *out };

    return rk_call(k, &get, &reply, deadline_ns);
}

/* Publications arrive in a subscriber's K2K inbox and requests in its H2K ring, taken in turns, so a
 * request may overtake publications sent before it: ask until the count is reached (or 1000 times). */
static int wait_count(rk_kernel *k, uint64_t want, uint64_t *got)
{
    for (int tries = 0; tries < 1000; tries++) {
        int rc = get_count(k, got, RK_TIMEOUT_MS(1000));

        if (rc != 0 || *got >= want)
            return rc;
    }
    return 0;
}

int main(void)
{
    static const char *const names[3] = { "parse", "enrich", "store" };
    rk_runtime *rt;
    rk_kernel *st[3], *monitor, *auditor;
    rk_addr first;
    uint64_t n_monitor = 0, n_auditor = 0, n_store = 0;
    rk_kernel_stats stats;
    int ok = 1, late, pressure, sys;

    CHECK(rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU }));

    /* 1. Endpoints, and the pipeline's wiring: each stage resolves the next by name. */
    for (int i = 0; i < 3; i++) {
        CHECK(rk_kernel_launch(rt, "k2k_example_stage", NULL, &st[i]));
        CHECK(rk_endpoint_register(rt, names[i], st[i]));
    }
    for (int i = 0; i < 3; i++) {
        char next[RK_ENDPOINT_NAME_MAX + 1] = "";
        rk_msg cfg = { .env = { .type_id = T_CONFIG, .payload_len = sizeof next }, .payload = next };
        rk_msg ack = { 0 };

        if (i < 2)
            snprintf(next, sizeof next, "%s", names[i + 1]);
        CHECK(rk_call(st[i], &cfg, &ack, RK_TIMEOUT_MS(1000)));
    }
    CHECK(rk_endpoint_resolve(rt, "parse", &first));
    printf("endpoint \"parse\" is kernel %u (expected %u)\n", RK_ADDR_KERNEL(first),
           RK_ADDR_KERNEL(rk_kernel_addr(st[0])));
    ok &= first == rk_kernel_addr(st[0]);

    /* 3. Subscribers, before anything is published. */
    CHECK(rk_kernel_launch(rt, "k2k_example_tally", NULL, &monitor));
    CHECK(rk_kernel_launch(rt, "k2k_example_tally", NULL, &auditor));
    CHECK(rk_subscribe(rt, monitor, "plant/+/temp"));
    CHECK(rk_subscribe(rt, auditor, "#"));

    /* 2. The pipeline: host -> parse -> enrich -> store -> host. */
    for (uint32_t i = 0; i < READINGS; i++) {
        reading r = { .line = i, .value = 200.0 + 5.0 * i };
        rk_msg m = { .env = { .type_id = T_READING, .payload_len = sizeof r }, .payload = &r };

        CHECK(rk_send(st[0], &m, RK_TIMEOUT_MS(1000)));
    }
    for (uint32_t i = 0; i < READINGS; i++) {
        reading r;
        rk_msg m = { .payload = &r, .payload_cap = sizeof r };

        CHECK(rk_recv(st[2], &m, RK_TIMEOUT_MS(1000)));
        /* Cause before effect along the chain (each stage is one kernel, so order is kept too). */
        int causal = r.stages == 3 && rk_hlc_compare(&r.seen[1], &r.seen[0]) > 0 &&
                     rk_hlc_compare(&r.seen[2], &r.seen[1]) > 0 && rk_hlc_compare(&m.env.hlc, &r.seen[2]) > 0;
        ok &= causal && r.line == i && r.value == 20.0 + 0.5 * i;
        printf("reading %u: line %u, %.1f C after %u stages, stamps %s\n", i, r.line, r.value, r.stages,
               causal ? "increase along the chain" : "OUT OF ORDER");
        if (i == 0) {
            print_stamp("host sent, parse took", &r.seen[0]);
            print_stamp("parse sent, enrich took", &r.seen[1]);
            print_stamp("enrich sent, store took", &r.seen[2]);
            print_stamp("store answered the host", &m.env.hlc);
        }
    }

    /* 3. The host publishes as well: a subscriber gets each publication once, whichever filters match. */
    double bar = 1.2;
    pressure = rk_publish(rt, "plant/3/pressure", T_READING, &bar, sizeof bar, RK_TIMEOUT_MS(1000));
    CHECK(pressure);
    sys = rk_publish(rt, "$SYS/health", T_READING, &bar, sizeof bar, RK_TIMEOUT_MS(1000));
    CHECK(sys);
    CHECK(wait_count(monitor, READINGS, &n_monitor));
    CHECK(wait_count(auditor, READINGS + 1, &n_auditor));
    printf("plant/3/pressure reached %d subscriber(s), $SYS/health %d; monitor (plant/+/temp) counted %" PRIu64
           ", auditor (#) %" PRIu64 "\n", pressure, sys, n_monitor, n_auditor);
    ok &= pressure == 1 && sys == 0 && n_monitor == READINGS && n_auditor == READINGS + 1;

    /* 4. rk_call with a deadline. A paused kernel takes no messages, so the call gives up at its deadline;
     * after resume the stale reply is dropped (stats.dropped) and the next call gets its own. */
    CHECK(get_count(st[2], &n_store, RK_TIMEOUT_MS(1000)));
    ok &= n_store == READINGS;
    CHECK(rk_kernel_pause(st[2]));
    late = get_count(st[2], &n_store, RK_TIMEOUT_MS(20));
    CHECK(rk_kernel_resume(st[2]));
    n_store = 0;
    CHECK(get_count(st[2], &n_store, RK_TIMEOUT_MS(1000)));
    CHECK(rk_kernel_stats_get(st[2], &stats));
    printf("rk_call while paused: %s; after resume: count %" PRIu64 ", %" PRIu64 " late reply dropped\n",
           rk_err_name(late), n_store, stats.dropped);
    ok &= late == RK_ETIMEDOUT && n_store == READINGS && stats.dropped == 1;

    CHECK(rk_runtime_destroy(rt));
    puts(ok ? "ok" : "MISMATCH");
    return ok ? 0 : 1;
}
