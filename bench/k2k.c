/* k2k.c - kernel-to-kernel (K2K) messaging and the topic broker on the CPU backend, beside the physical
 * floor (the raw ring loop and cache-line ping-pong of anchors/cpu/spsc_probe.c, re-measured in this run),
 * then the GPU section (k2k.h: bench/k2k_gpu.cu, or k2k_nogpu.c which says why it did not run).
 *
 * Sections (each line of output says exactly what it times):
 *   (e) raw probe: the anchor's ring loop and cache-line ping-pong, inlined (bench_common.c): the floor.
 *   (a) topic matching: 10,000 subscriptions (exact filters and '+'/'#' filters over five levels):
 *       rk_topic_lookup single-threaded, the same lookups through rk_publish's routing (topics nobody
 *       subscribes to, so nothing is delivered), and a naive matcher (rk_topic_match over every filter) on
 *       the same topics, whose answers must equal the trie's.
 *   (b) K2K throughput: N sender actors -> M receiver actors through rk_actor_send, 64 B payloads, round
 *       robin; pairs, fan-in and fan-out.
 *   (c) K2K ping-pong: round trips between two actors through rk_actor_send, timed inside the initiator.
 *   (d) host rk_publish -> subscriber actors: publications/s and deliveries/s, 1 and 4 subscribers.
 * Every message is checked (sender, sequence, content); a lost, duplicated, reordered or corrupt message,
 * or an unexpected error, makes the program exit 1. Goals are printed next to their figures, not asserted.
 *
 * Usage: k2k_bench [--quick] [--json FILE]
 *   --quick      small counts: a smoke test (a few seconds), not figures to quote
 *   --json FILE  also writes every figure as JSON
 *   RK_GIT_COMMIT (environment) overrides the commit printed in the header.
 * Exit status: 0; 1 on a failed check or error; 2 on bad arguments.
 */
#include "bench_common.h" /* first: it defines _GNU_SOURCE */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k2k.h"
#include "ringkernel/actor.h"
#include "ringkernel/k2k.h"
#include "ringkernel/message.h"
#include "ringkernel/runtime.h"
#include "ringkernel/topic.h"

#define DEADLINE RK_TIMEOUT_MS(60000) /* every wait of the host: a broken build fails instead of hanging */

#define T_START RK_TYPE_ID(kb_start)
#define T_CONT RK_TYPE_ID(kb_continue)
#define T_ITEM RK_TYPE_ID(kb_item)
#define T_DONE RK_TYPE_ID(kb_done)
#define T_CONFIG RK_TYPE_ID(kb_config)
#define T_PING RK_TYPE_ID(kb_ping)

static int g_failed;               /* a run saw a wrong message or an unexpected error */
static volatile uint64_t g_sink;   /* results of timed loops that nothing else reads */

static void fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    printf("    ERROR: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    g_failed = 1;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* ---- JSON report --------------------------------------------------------------------------------------- */

typedef struct record {
    char section[32], name[96], unit[16];
    double value;
    uint64_t n;
} record;

static record *g_records;
static size_t g_nrecords, g_caprecords;
static int g_json; /* --json given */

void k2k_bench_record(const char *section, const char *name, double value, const char *unit, uint64_t n)
{
    record *r;

    if (!g_json)
        return;
    if (g_nrecords == g_caprecords) {
        size_t cap = g_caprecords ? 2 * g_caprecords : 64;
        record *p = realloc(g_records, cap * sizeof *p);

        if (p == NULL)
            return; /* the text output still has the figure */
        g_records = p;
        g_caprecords = cap;
    }
    r = &g_records[g_nrecords++];
    snprintf(r->section, sizeof r->section, "%s", section);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->unit, sizeof r->unit, "%s", unit);
    r->value = value;
    r->n = n;
}

/* Names and units are our own literals: no character needs escaping but '"' and '\', handled anyway. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int json_write(const char *path, int quick, const char *commit, const char *cpu)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "k2k_bench: cannot write %s\n", path);
        return 1;
    }
    fprintf(f, "{\n  \"program\": \"k2k_bench\",\n  \"mode\": \"%s\",\n  \"commit\": ", quick ? "quick" : "full");
    json_string(f, commit);
    fprintf(f, ",\n  \"cpu\": ");
    json_string(f, cpu);
    fprintf(f, ",\n  \"cores\": %d,\n  \"validated\": %s,\n  \"figures\": [\n", bc_cores, g_failed ? "false" : "true");
    for (size_t i = 0; i < g_nrecords; i++) {
        fprintf(f, "    {\"section\": ");
        json_string(f, g_records[i].section);
        fprintf(f, ", \"name\": ");
        json_string(f, g_records[i].name);
        fprintf(f, ", \"value\": %.6g, \"unit\": ", g_records[i].value);
        json_string(f, g_records[i].unit);
        fprintf(f, ", \"n\": %llu}%s\n", (unsigned long long)g_records[i].n, i + 1 < g_nrecords ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : 1;
}

/* ---- Output ------------------------------------------------------------------------------------------- */

static void row_rate(const char *section, const char *label, double per_s, const char *unit, uint64_t n,
                     double secs, const char *note)
{
    if (per_s >= 1e5)
        printf("  %-62s %8.2f M %s  (%llu in %.3f s)%s%s\n", label, per_s / 1e6, unit, (unsigned long long)n, secs,
               note ? "  " : "", note ? note : "");
    else
        printf("  %-62s %10.0f %s  (%llu in %.3f s)%s%s\n", label, per_s, unit, (unsigned long long)n, secs,
               note ? "  " : "", note ? note : "");
    k2k_bench_record(section, label, per_s, unit, n);
}

static void row_lat(const char *section, const char *label, const bc_lat_sum *s, uint64_t n)
{
    char key[128];

    printf("  %-62s p50 %7.0f ns  p99 %8.0f ns  min %6.0f ns  mean %8.0f ns  (%llu round trips)\n", label, s->p50,
           s->p99, s->min, s->mean, (unsigned long long)n);
    snprintf(key, sizeof key, "%s p50", label);
    k2k_bench_record(section, key, s->p50, "ns", n);
    snprintf(key, sizeof key, "%s p99", label);
    k2k_bench_record(section, key, s->p99, "ns", n);
    snprintf(key, sizeof key, "%s min", label);
    k2k_bench_record(section, key, s->min, "ns", n);
    snprintf(key, sizeof key, "%s mean", label);
    k2k_bench_record(section, key, s->mean, "ns", n);
}

static void row_ratio(const char *label, double ratio, const char *detail)
{
    printf("  %-62s %8.3f   %s\n", label, ratio, detail);
    k2k_bench_record("ratios", label, ratio, "ratio", 0);
}

/* ---- Host helpers ------------------------------------------------------------------------------------- */

static rk_runtime *runtime_new(void)
{
    rk_runtime *rt = NULL;
    rk_runtime_opts o = { .backend = RK_BACKEND_CPU }; /* workers: one per online core */
    int rc = rk_runtime_create(&rt, &o);

    if (rc != 0) {
        fail("rk_runtime_create: %s (%s)", rk_err_name(rc), rk_last_error());
        return NULL;
    }
    return rt;
}

static rk_kernel *launch(rk_runtime *rt, const char *actor, uint32_t capacity, uint32_t slot)
{
    rk_launch_opts o = { .queue_capacity = capacity, .slot_size = slot };
    rk_kernel *k = NULL;
    int rc = rk_kernel_launch(rt, actor, &o, &k);

    if (rc != 0) {
        fail("rk_kernel_launch(%s): %s (%s)", actor, rk_err_name(rc), rk_last_error());
        return NULL;
    }
    return k;
}

static int host_send(rk_kernel *k, uint64_t type, const void *payload, uint32_t len)
{
    rk_msg m = { .env = { .type_id = type, .payload_len = len }, .payload = (void *)payload };
    int rc = rk_send(k, &m, DEADLINE);

    if (rc != 0)
        fail("rk_send: %s (%s)", rk_err_name(rc), rk_last_error());
    return rc;
}

/* Receives one message of exactly len bytes (a report of an actor to the host). */
static int host_recv(rk_kernel *k, void *out, uint32_t len)
{
    rk_msg r;
    int rc;

    memset(&r, 0, sizeof r);
    r.payload = out;
    r.payload_cap = len;
    rc = rk_recv(k, &r, DEADLINE);
    if (rc != 0) {
        fail("rk_recv: %s (%s)", rk_err_name(rc), rk_last_error());
        return rc;
    }
    if (r.env.payload_len != len || (r.env.flags & RK_ENV_ERROR)) {
        fail("unexpected reply: %u bytes, flags 0x%x", r.env.payload_len, (unsigned)r.env.flags);
        return RK_ECORRUPT;
    }
    return 0;
}

static int host_call(rk_kernel *k, uint64_t type, const void *payload, uint32_t len)
{
    rk_msg m = { .env = { .type_id = type, .payload_len = len }, .payload = (void *)payload }, r;
    int rc;

    memset(&r, 0, sizeof r);
    rc = rk_call(k, &m, &r, DEADLINE);
    if (rc != 0)
        fail("rk_call: %s (%s)", rk_err_name(rc), rk_last_error());
    return rc;
}

/* The kernel's statistics once stopped: no handler errors, nothing dropped. */
static void check_clean(rk_kernel *k)
{
    rk_kernel_stats st;
    int rc = rk_kernel_terminate(k, DEADLINE);

    if (rc != 0 && rc != RK_ECLOSED)
        fail("rk_kernel_terminate: %s (%s)", rk_err_name(rc), rk_last_error());
    if (rk_kernel_stats_get(k, &st) != 0 || st.errors != 0 || st.dropped != 0)
        fail("kernel %s: %llu handler errors (last %s), %llu dropped", st.name, (unsigned long long)st.errors,
             rk_err_name(st.last_error), (unsigned long long)st.dropped);
}

/* ---- (a) Topic matching ------------------------------------------------------------------------------- */

#define REGIONS 8
#define SITES 32
#define DEVICES 64
#define NFILTERS 10000
#define TOPIC_SET 4096 /* distinct topics the lookups cycle through */
static const char *const metrics[] = { "temp", "hum", "power", "status", "fan", "volt" };
#define METRICS 6

typedef struct filter_mix {
    const char *shape; /* what the printout calls it */
    int count;
} filter_mix;

/* The mix, by shape (r region, s site, d device, m metric; fleet/<r>/<s>/<d>/<m> is a topic). Exact
 * filters dominate; every wildcard shape is there, at several depths. */
static const filter_mix mix[] = {
    { "fleet/r/s/d/m (exact)", 7000 }, { "fleet/r/s/+/m", 1000 }, { "fleet/r/s/d/+", 500 },
    { "fleet/r/+/d/m", 300 },         { "fleet/+/+/d/m", 200 },  { "fleet/r/s/d/#", 600 },
    { "fleet/r/s/#", 384 },           { "fleet/r/#", 16 },
};

static uint64_t rng_next(uint64_t *s) { return mix64(*s += 0x9e3779b97f4a7c15ull); }

static void make_filter(int shape, uint64_t *rng, char *out, size_t cap)
{
    unsigned r = (unsigned)(rng_next(rng) % REGIONS), s = (unsigned)(rng_next(rng) % SITES);
    unsigned d = (unsigned)(rng_next(rng) % DEVICES);
    const char *m = metrics[rng_next(rng) % METRICS];

    switch (shape) {
    case 0: snprintf(out, cap, "fleet/r%u/s%u/d%u/%s", r, s, d, m); break;
    case 1: snprintf(out, cap, "fleet/r%u/s%u/+/%s", r, s, m); break;
    case 2: snprintf(out, cap, "fleet/r%u/s%u/d%u/+", r, s, d); break;
    case 3: snprintf(out, cap, "fleet/r%u/+/d%u/%s", r, d, m); break;
    case 4: snprintf(out, cap, "fleet/+/+/d%u/%s", d, m); break;
    case 5: snprintf(out, cap, "fleet/r%u/s%u/d%u/#", r, s, d); break;
    case 6: snprintf(out, cap, "fleet/r%u/s%u/#", r, s); break;
    default: snprintf(out, cap, "fleet/r%u/#", r); break;
    }
}

typedef struct topic_set {
    char (*filters)[48];       /* NFILTERS; subscriber i holds filters[i] */
    char (*topics)[48];        /* TOPIC_SET topics that exist in the fleet */
    char (*nomatch)[48];       /* TOPIC_SET topics of the same shape that no filter matches */
} topic_set;

static void topic_set_make(topic_set *ts)
{
    uint64_t rng = 0x70b1c5ull;
    int i = 0;

    ts->filters = calloc(NFILTERS, sizeof *ts->filters);
    ts->topics = calloc(TOPIC_SET, sizeof *ts->topics);
    ts->nomatch = calloc(TOPIC_SET, sizeof *ts->nomatch);
    if (!ts->filters || !ts->topics || !ts->nomatch) {
        fprintf(stderr, "k2k_bench: out of memory\n");
        exit(1);
    }
    for (size_t s = 0; s < sizeof mix / sizeof mix[0]; s++)
        for (int j = 0; j < mix[s].count; j++)
            make_filter((int)s, &rng, ts->filters[i++], sizeof ts->filters[0]);
    for (int j = 0; j < TOPIC_SET; j++) {
        snprintf(ts->topics[j], sizeof ts->topics[0], "fleet/r%u/s%u/d%u/%s", (unsigned)(rng_next(&rng) % REGIONS),
                 (unsigned)(rng_next(&rng) % SITES), (unsigned)(rng_next(&rng) % DEVICES),
                 metrics[rng_next(&rng) % METRICS]);
        /* Region r9 does not exist and no metric is "light": only the "+/+" filters' branch is walked. */
        snprintf(ts->nomatch[j], sizeof ts->nomatch[0], "fleet/r9/s%u/d%u/light", (unsigned)(rng_next(&rng) % SITES),
                 (unsigned)(rng_next(&rng) % DEVICES));
    }
}

static void topic_set_free(topic_set *ts)
{
    free(ts->filters);
    free(ts->topics);
    free(ts->nomatch);
}

/* The naive matcher: every filter through rk_topic_match; the matching subscriber ids, ascending (ids are
 * filter indexes, so they come out ascending and unique without a sort). */
static int naive_lookup(const topic_set *ts, const char *topic, uint64_t *out)
{
    int n = 0;

    for (int i = 0; i < NFILTERS; i++)
        if (rk_topic_match(ts->filters[i], topic) == 1)
            out[n++] = (uint64_t)i;
    return n;
}

typedef struct topic_figs {
    double trie_lps, naive_lps, publish_lps, nomatch_lps;
} topic_figs;

/* rk_publish of topics nobody subscribes to, on a runtime whose broker holds the same 10,000 filters
 * (subscribed by 16 idle kernels): validation, the shared lock and the trie walk, no delivery. */
static double publish_routing(const topic_set *ts, uint64_t n)
{
    rk_runtime *rt = runtime_new();
    rk_kernel *k[16];
    int dup = 0, rc;
    uint64_t payload = 0;
    double t0, dt;

    if (rt == NULL)
        return 0;
    for (int i = 0; i < 16; i++)
        if ((k[i] = launch(rt, "echo", 64, 128)) == NULL)
            return 0;
    for (int i = 0; i < NFILTERS; i++) {
        rc = rk_subscribe(rt, k[i % 16], ts->filters[i]);
        if (rc == RK_EEXIST)
            dup++; /* the same filter drawn twice for the same kernel */
        else if (rc != 0)
            fail("rk_subscribe(%s): %s (%s)", ts->filters[i], rk_err_name(rc), rk_last_error());
    }
    t0 = bc_now_s();
    for (uint64_t i = 0; i < n; i++) {
        rc = rk_publish(rt, ts->nomatch[i & (TOPIC_SET - 1)], T_ITEM, &payload, sizeof payload, 0);
        if (rc != 0) {
            fail("rk_publish(%s) = %d, expected 0 subscribers", ts->nomatch[i & (TOPIC_SET - 1)], rc);
            break;
        }
    }
    dt = bc_now_s() - t0;
    printf("  (runtime broker: %d subscriptions over 16 kernels; %d filters drawn twice for one kernel)\n",
           NFILTERS - dup, dup);
    if (rk_runtime_destroy(rt) != 0)
        fail("rk_runtime_destroy: %s", rk_last_error());
    return (double)n / dt;
}

static topic_figs section_topics(uint64_t n_lookups, int n_naive)
{
    topic_figs f = { 0, 0, 0, 0 };
    topic_set ts;
    rk_topic_tree *t = NULL;
    uint64_t out[256], want[NFILTERS], matched = 0;
    double t0, dt;
    char label[128];

    printf("\n(a) topic matching, %d subscriptions, one thread\n", NFILTERS);
    topic_set_make(&ts);
    printf("  filters (subscriber i holds filter i; r of %d regions, s of %d sites, d of %d devices, m of %d metrics):\n"
           "   ", REGIONS, SITES, DEVICES, METRICS);
    for (size_t s = 0; s < sizeof mix / sizeof mix[0]; s++)
        printf(" %s x%d%s", mix[s].shape, mix[s].count, s + 1 < sizeof mix / sizeof mix[0] ? "," : "\n");
    if (rk_topic_tree_create(&t) != 0) {
        fail("rk_topic_tree_create: %s", rk_last_error());
        return f;
    }
    for (int i = 0; i < NFILTERS; i++)
        if (rk_topic_subscribe(t, ts.filters[i], (uint64_t)i) != 0)
            fail("rk_topic_subscribe(%s): %s", ts.filters[i], rk_last_error());
    printf("  trie: %zu subscriptions, %zu nodes; lookups cycle through %d topics fleet/r/s/d/m\n",
           rk_topic_tree_count(t), rk_topic_tree_nodes(t), TOPIC_SET);

    /* Correctness first: the trie and the naive matcher agree on every topic the naive run times. */
    t0 = bc_now_s();
    for (int i = 0; i < n_naive; i++) {
        const char *topic = ts.topics[i & (TOPIC_SET - 1)];
        int nw = naive_lookup(&ts, topic, want);

        g_sink += (uint64_t)nw;
    }
    dt = bc_now_s() - t0;
    f.naive_lps = (double)n_naive / dt;
    for (int i = 0; i < n_naive; i++) {
        const char *topic = ts.topics[i & (TOPIC_SET - 1)];
        int nw = naive_lookup(&ts, topic, want), ng = rk_topic_lookup(t, topic, out, 256);

        if (ng != nw || (nw <= 256 && memcmp(out, want, (size_t)nw * sizeof *out) != 0))
            fail("topic %s: trie found %d subscribers, the naive matcher %d", topic, ng, nw);
    }

    t0 = bc_now_s();
    for (uint64_t i = 0; i < n_lookups; i++) {
        int n = rk_topic_lookup(t, ts.topics[i & (TOPIC_SET - 1)], out, 256);

        if (n < 0) {
            fail("rk_topic_lookup: %s", rk_last_error());
            break;
        }
        matched += (uint64_t)n;
    }
    dt = bc_now_s() - t0;
    f.trie_lps = (double)n_lookups / dt;
    snprintf(label, sizeof label, "rk_topic_lookup, ids copied out (%.2f subscribers per topic)",
             (double)matched / (double)n_lookups);
    row_rate("topics", label, f.trie_lps, "lookups/s", n_lookups, dt, NULL);

    t0 = bc_now_s();
    for (uint64_t i = 0; i < n_lookups; i++)
        matched += (uint64_t)rk_topic_lookup(t, ts.nomatch[i & (TOPIC_SET - 1)], out, 256);
    dt = bc_now_s() - t0;
    f.nomatch_lps = (double)n_lookups / dt;
    row_rate("topics", "rk_topic_lookup, topics no filter matches (fleet/r9/s/d/light)", f.nomatch_lps,
             "lookups/s", n_lookups, dt, NULL);
    row_rate("topics", "naive: rk_topic_match on all 10k filters, same topics", f.naive_lps, "lookups/s",
             (uint64_t)n_naive, (double)n_naive / f.naive_lps, "(answers checked equal to the trie's)");
    rk_topic_tree_destroy(t);

    f.publish_lps = publish_routing(&ts, n_lookups / 4);
    row_rate("topics", "rk_publish routing only (no-match topics: validate+lock+walk)", f.publish_lps,
             "publish/s", n_lookups / 4, (double)(n_lookups / 4) / f.publish_lps, NULL);
    printf("  trie / naive speedup: %.0fx; goal >= 10 M lookups/s: %.2f M (%s)\n", f.trie_lps / f.naive_lps,
           f.trie_lps / 1e6, f.trie_lps >= 10e6 ? "met" : "MISSED");
    k2k_bench_record("topics", "trie / naive speedup", f.trie_lps / f.naive_lps, "ratio", 0);
    topic_set_free(&ts);
    return f;
}

/* ---- (b) K2K throughput: burst senders and checking receivers ------------------------------------------ */

#define MAX_PEERS 8

/* A 64 B K2K payload: who sent it, its number, a check word, filler. */
typedef struct item {
    uint32_t sender;
    uint32_t pad;
    uint64_t seq;
    uint64_t check; /* mix64 of sender and seq */
    uint64_t fill[5];
} item;
_Static_assert(sizeof(item) == 64, "a 64-byte payload");

typedef struct burst_cmd {
    uint32_t sender, ndest;
    uint64_t count;
    rk_addr dest[MAX_PEERS];
} burst_cmd;

typedef struct burst_state {
    burst_cmd cmd;
    uint64_t next, eagain;
} burst_state;

typedef struct burst_done {
    uint64_t sent, eagain;
} burst_done;

/* T_START (host): send cmd.count items, item j to dest[(sender + j) % ndest]; T_CONT (itself): go on. At
 * most 1024 sends per message; on RK_EAGAIN it stops and sends itself a continuation, so the receivers get
 * the worker meanwhile (k2k.h: a handler never spins on a full inbox). */
static int kb_burst(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    burst_state *st = rk_actor_state(ctx);
    burst_done done;

    if (env->type_id == T_START) {
        memcpy(&st->cmd, payload, sizeof st->cmd);
        st->next = 0;
        st->eagain = 0;
    } else if (env->type_id != T_CONT) {
        return RK_EINVAL;
    }
    for (int i = 0; i < 1024 && st->next < st->cmd.count; i++) {
        item it = { .sender = st->cmd.sender, .seq = st->next, .check = mix64((uint64_t)st->cmd.sender << 40 ^ st->next) };
        int rc = rk_actor_send(ctx, st->cmd.dest[(st->cmd.sender + st->next) % st->cmd.ndest], T_ITEM, &it,
                               sizeof it);

        if (rc == RK_EAGAIN) {
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
RK_REGISTER_ACTOR(kb_burst, kb_burst, sizeof(burst_state))

typedef struct sink_state {
    uint64_t expected, got, bad;
    uint64_t next[MAX_PEERS]; /* per sender: the lowest sequence number it may send next */
} sink_state;

typedef struct sink_done {
    uint64_t got, bad;
} sink_done;

/* T_CONFIG (host request): the number of items to expect. T_ITEM: checks the item (sender known, check
 * word, sequence above the sender's previous: per-sender order, no duplicate); after the expected number,
 * reports to the host. A receiver gets every ndest-th item of a sender, so sequences rise with gaps. */
static int kb_sink(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    sink_state *st = rk_actor_state(ctx);
    item it;

    if (env->type_id == T_CONFIG) {
        memset(st, 0, sizeof *st);
        memcpy(&st->expected, payload, sizeof st->expected);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (env->type_id != T_ITEM || env->payload_len != sizeof it)
        return RK_EINVAL;
    memcpy(&it, payload, sizeof it);
    if (it.sender >= MAX_PEERS || it.seq < st->next[it.sender] ||
        it.check != mix64((uint64_t)it.sender << 40 ^ it.seq))
        st->bad++;
    else
        st->next[it.sender] = it.seq + 1;
    if (++st->got == st->expected) {
        sink_done d = { st->got, st->bad };

        return rk_actor_reply(ctx, NULL, T_DONE, &d, sizeof d);
    }
    return 0;
}
RK_REGISTER_ACTOR(kb_sink, kb_sink, sizeof(sink_state))

/* One run: `ns` senders, `nr` receivers, `per_sender` items each. Returns msg/s (0 on failure). */
static double k2k_run(const char *label, uint32_t ns, uint32_t nr, uint64_t per_sender)
{
    rk_runtime *rt = runtime_new();
    rk_kernel *s[MAX_PEERS], *r[MAX_PEERS];
    uint64_t expect[MAX_PEERS] = { 0 }, eagain = 0, total = (uint64_t)ns * per_sender;
    burst_cmd cmd;
    double t0, dt = 0, mps = 0;
    char note[96];
    int ok = rt != NULL;

    for (uint32_t i = 0; ok && i < nr; i++)
        ok = (r[i] = launch(rt, "kb_sink", 4096, 128)) != NULL;
    for (uint32_t i = 0; ok && i < ns; i++)
        ok = (s[i] = launch(rt, "kb_burst", 64, 256)) != NULL;
    /* Item j of sender i goes to receiver (i + j) % nr. */
    for (uint32_t i = 0; ok && i < ns; i++)
        for (uint32_t d = 0; d < nr; d++)
            expect[(i + d) % nr] += per_sender / nr + (d < per_sender % nr);
    for (uint32_t d = 0; ok && d < nr; d++)
        ok = host_call(r[d], T_CONFIG, &expect[d], sizeof expect[d]) == 0;
    memset(&cmd, 0, sizeof cmd);
    cmd.ndest = nr;
    cmd.count = per_sender;
    for (uint32_t d = 0; d < nr; d++)
        cmd.dest[d] = ok ? rk_kernel_addr(r[d]) : 0;
    t0 = bc_now_s();
    for (uint32_t i = 0; ok && i < ns; i++) {
        cmd.sender = i;
        ok = host_send(s[i], T_START, &cmd, sizeof cmd) == 0;
    }
    for (uint32_t d = 0; ok && d < nr; d++) {
        sink_done sd;

        ok = host_recv(r[d], &sd, sizeof sd) == 0;
        if (ok && (sd.got != expect[d] || sd.bad != 0))
            fail("%s: receiver %u got %llu of %llu items, %llu out of order or corrupt", label, d,
                 (unsigned long long)sd.got, (unsigned long long)expect[d], (unsigned long long)sd.bad);
    }
    dt = bc_now_s() - t0;
    for (uint32_t i = 0; ok && i < ns; i++) {
        burst_done bd;

        ok = host_recv(s[i], &bd, sizeof bd) == 0;
        if (ok && bd.sent != per_sender)
            fail("%s: sender %u sent %llu of %llu", label, i, (unsigned long long)bd.sent,
                 (unsigned long long)per_sender);
        eagain += ok ? bd.eagain : 0;
    }
    if (ok) {
        for (uint32_t i = 0; i < ns; i++)
            check_clean(s[i]);
        for (uint32_t d = 0; d < nr; d++)
            check_clean(r[d]);
        mps = (double)total / dt;
        snprintf(note, sizeof note, "%llu RK_EAGAIN", (unsigned long long)eagain);
        row_rate("k2k", label, mps, "msg/s", total, dt, note);
    } else {
        g_failed = 1;
    }
    if (rt != NULL && rk_runtime_destroy(rt) != 0)
        fail("rk_runtime_destroy: %s", rk_last_error());
    return mps;
}

typedef struct k2k_figs {
    double one_one, pairs4, fan_in4;
} k2k_figs;

static k2k_figs section_k2k(uint64_t n)
{
    k2k_figs f;

    printf("\n(b) K2K throughput: sender actors -> receiver actors, rk_actor_send of 64 B payloads (128 B slots,\n"
           "    4096-slot inboxes), item j of sender i to receiver (i + j) %% M; each receiver checks sender,\n"
           "    check word and per-sender order. Times: the host's first start command until every receiver\n"
           "    reported all its items. CPU runtime, %d worker threads (one per core, unpinned)\n", bc_cores);
    f.one_one = k2k_run("1 sender -> 1 receiver", 1, 1, n);
    (void)k2k_run("2 senders -> 2 receivers (pairs)", 2, 2, n / 2);
    f.pairs4 = k2k_run("4 senders -> 4 receivers (pairs)", 4, 4, n / 4);
    f.fan_in4 = k2k_run("fan-in: 4 senders -> 1 receiver", 4, 1, n / 4);
    (void)k2k_run("fan-in: 8 senders -> 1 receiver", 8, 1, n / 8);
    (void)k2k_run("fan-out: 1 sender -> 4 receivers (round robin)", 1, 4, n);
    return f;
}

/* ---- (c) K2K ping-pong --------------------------------------------------------------------------------- */

typedef struct pp_cmd {
    rk_addr peer;     /* the responder (initiator only) */
    uint64_t n;       /* round trips */
    uint64_t samples; /* uint64_t *: one tick count per round trip, or 0 for the untimed pass */
} pp_cmd;

typedef struct pp_state {
    pp_cmd cmd;
    uint64_t i, t0, start, crossed;
} pp_state;

typedef struct pp_done {
    uint64_t n, ticks; /* round trips and the ticks from the first ping to the last pong */
    uint64_t crossed;  /* round trips whose answer was sent from another CPU than the one that took it */
} pp_done;

/* The initiator takes T_START (host): sends ping 0 to the peer. A ping: answered to its source. A pong
 * (the reply to our ping, checked by number): one round trip; the next ping, or a report to the host. */
static int kb_pp(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    pp_state *st = rk_actor_state(ctx);
    item it;
    uint64_t now;

    if (env->type_id == T_START) {
        memcpy(&st->cmd, payload, sizeof st->cmd);
        st->i = 0;
        st->crossed = 0;
        memset(&it, 0, sizeof it);
        st->start = st->t0 = bc_ticks();
        return rk_actor_send(ctx, st->cmd.peer, T_PING, &it, sizeof it);
    }
    if (env->payload_len != sizeof it)
        return RK_EINVAL;
    memcpy(&it, payload, sizeof it);
    if (!(env->flags & RK_ENV_REPLY)) { /* a ping: the responder answers it, saying on which CPU */
        it.fill[0] = (uint64_t)sched_getcpu();
        return rk_actor_send_ex(ctx, env->source, T_PING, RK_ENV_REPLY, 0, &it, sizeof it);
    }
    now = bc_ticks();
    if (it.seq != st->i || env->source != st->cmd.peer)
        return RK_EINVAL;
    if (st->cmd.samples != 0)
        ((uint64_t *)(uintptr_t)st->cmd.samples)[st->i] = now - st->t0;
    st->crossed += it.fill[0] != (uint64_t)sched_getcpu();
    if (++st->i == st->cmd.n) {
        pp_done d = { st->i, now - st->start, st->crossed };

        return rk_actor_reply(ctx, NULL, T_DONE, &d, sizeof d);
    }
    it.seq = st->i;
    st->t0 = bc_ticks();
    return rk_actor_send(ctx, st->cmd.peer, T_PING, &it, sizeof it);
}
RK_REGISTER_ACTOR(kb_pp, kb_pp, sizeof(pp_state))

/* One pass of n round trips; with samples, one tick count per round trip. Returns the mean in ns and the
 * round trips that crossed CPUs in *crossed. */
static double pp_pass(rk_kernel *a, rk_kernel *b, uint64_t n, uint64_t *samples, uint64_t *crossed)
{
    pp_cmd c = { rk_kernel_addr(b), n, (uint64_t)(uintptr_t)samples };
    pp_done d;

    if (host_send(a, T_START, &c, sizeof c) != 0 || host_recv(a, &d, sizeof d) != 0)
        return 0;
    if (d.n != n) {
        fail("ping-pong: %llu of %llu round trips", (unsigned long long)d.n, (unsigned long long)n);
        return 0;
    }
    *crossed = d.crossed;
    return (double)d.ticks * bc_ns_per_tick / (double)n;
}

static bc_lat_sum section_pingpong(uint64_t n, bc_lat *l)
{
    bc_lat_sum s = { 0, 0, 0, 0 };
    rk_runtime *rt = runtime_new();
    rk_kernel *a, *b;
    uint64_t crossed = 0, crossed_timed = 0;

    printf("\n(c) K2K ping-pong: actor A rk_actor_send 64 B -> actor B, B rk_actor_send_ex(REPLY) 64 B -> A;\n"
           "    times (inside A): from before A's send until A's handler holds the answer; one in flight.\n"
           "    %d worker threads (unpinned): A and B may run on one worker or two\n", bc_cores);
    if (rt == NULL)
        return s;
    a = launch(rt, "kb_pp", 1024, 128);
    b = launch(rt, "kb_pp", 1024, 128);
    if (a != NULL && b != NULL) {
        (void)pp_pass(a, b, n / 10 + 1, NULL, &crossed); /* warm-up */
        l->mean_ns = pp_pass(a, b, n, NULL, &crossed);
        if (l->mean_ns > 0 && pp_pass(a, b, n, l->ticks, &crossed_timed) > 0) {
            l->n = n;
            s = bc_lat_summarise(l);
            row_lat("pingpong", "K2K round trip A -> B -> A (rk_actor_send)", &s, n);
            printf("  B answered on another CPU than A took the answer on in %.1f%% (untimed) / %.1f%% (timed) of\n"
                   "  round trips (sched_getcpu; the rest ran on one worker: no cache line crossed cores)\n",
                   100.0 * (double)crossed / (double)n, 100.0 * (double)crossed_timed / (double)n);
            k2k_bench_record("pingpong", "round trips across CPUs (timed pass)",
                             (double)crossed_timed / (double)n, "fraction", n);
        }
        check_clean(a);
        check_clean(b);
    }
    if (rk_runtime_destroy(rt) != 0)
        fail("rk_runtime_destroy: %s", rk_last_error());
    return s;
}

/* ---- (d) Host publish -> subscribers ------------------------------------------------------------------- */

typedef struct sub_state {
    uint64_t expected, got, bad, next;
} sub_state;

/* T_CONFIG (host request): publications to expect. A publication: its user payload is an item from the
 * host (sender 0), numbered from 0 without gaps: every subscriber sees every publication, in order. */
static int kb_sub(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    sub_state *st = rk_actor_state(ctx);
    const void *user;
    uint32_t len;
    item it;

    if (env->type_id == T_CONFIG) {
        memset(st, 0, sizeof *st);
        memcpy(&st->expected, payload, sizeof st->expected);
        return rk_actor_reply(ctx, env, T_CONFIG, NULL, 0);
    }
    if (rk_msg_topic(env, payload, NULL, NULL, &user, &len) != 0 || len != sizeof it)
        return RK_EINVAL;
    memcpy(&it, user, sizeof it);
    if (it.seq != st->next || it.check != mix64(it.seq) || env->source != RK_ADDR_HOST)
        st->bad++;
    st->next = it.seq + 1;
    if (++st->got == st->expected) {
        sink_done d = { st->got, st->bad };

        return rk_actor_reply(ctx, NULL, T_DONE, &d, sizeof d);
    }
    return 0;
}
RK_REGISTER_ACTOR(kb_sub, kb_sub, sizeof(sub_state))

/* n publications to topics "bench/<i % 16>/data"; subscriber i holds filters[i]. Returns publications/s. */
static double publish_run(const char *label, const char *const *filters, uint32_t nsubs, uint64_t n)
{
    rk_runtime *rt = runtime_new();
    rk_kernel *k[MAX_PEERS];
    double t0, dt, pps = 0;
    char topic[32], note[96];
    int ok = rt != NULL;

    for (uint32_t i = 0; ok && i < nsubs; i++) {
        ok = (k[i] = launch(rt, "kb_sub", 4096, 256)) != NULL && host_call(k[i], T_CONFIG, &n, sizeof n) == 0;
        if (ok && rk_subscribe(rt, k[i], filters[i]) != 0) {
            fail("rk_subscribe(%s): %s", filters[i], rk_last_error());
            ok = 0;
        }
    }
    t0 = bc_now_s();
    for (uint64_t i = 0; ok && i < n; i++) {
        item it = { .seq = i, .check = mix64(i) };
        int rc;

        snprintf(topic, sizeof topic, "bench/%u/data", (unsigned)(i & 15));
        rc = rk_publish(rt, topic, T_ITEM, &it, sizeof it, DEADLINE);
        if (rc != (int)nsubs) {
            fail("rk_publish(%s) = %d (%s), expected %u subscribers", topic, rc, rk_last_error(), nsubs);
            ok = 0;
        }
    }
    for (uint32_t i = 0; ok && i < nsubs; i++) {
        sink_done sd;

        ok = host_recv(k[i], &sd, sizeof sd) == 0;
        if (ok && (sd.got != n || sd.bad != 0))
            fail("%s: subscriber %u got %llu of %llu, %llu out of order or corrupt", label, i,
                 (unsigned long long)sd.got, (unsigned long long)n, (unsigned long long)sd.bad);
    }
    dt = bc_now_s() - t0;
    if (ok) {
        for (uint32_t i = 0; i < nsubs; i++)
            check_clean(k[i]);
        pps = (double)n / dt;
        snprintf(note, sizeof note, "= %.2f M deliveries/s", pps * nsubs / 1e6);
        row_rate("publish", label, pps, "pub/s", n, dt, note);
    } else {
        g_failed = 1;
    }
    if (rt != NULL && rk_runtime_destroy(rt) != 0)
        fail("rk_runtime_destroy: %s", rk_last_error());
    return pps;
}

static void section_publish(uint64_t n)
{
    static const char *const one[] = { "bench/+/data" };
    static const char *const four[] = { "bench/+/data", "bench/#", "#", "+/+/data" };

    printf("\n(d) host rk_publish -> subscriber actors: 64 B user payloads to topics bench/<0..15>/data (an 80 B\n"
           "    publication with the topic header), timeout 60 s (all or nothing: it waits for room); each\n"
           "    subscriber checks order and content. Times: the first rk_publish until every subscriber\n"
           "    reported all publications. 256 B slots, 4096-slot inboxes\n");
    (void)publish_run("rk_publish -> 1 subscriber (bench/+/data)", one, 1, n);
    (void)publish_run("rk_publish -> 4 subscribers (bench/+/data, bench/#, #, +/+/data)", four, 4, n / 2);
}

/* ---- Main ----------------------------------------------------------------------------------------------- */

static void header(int quick, char *commit, size_t ccap, char *cpu, size_t cpucap)
{
    char line[64], date[64];
    time_t t = time(NULL);
    int dirty;

    bc_cpu_model(cpu, cpucap);
    bc_commit(__FILE__, commit, ccap, &dirty);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&t));
    bc_loadavg(line, sizeof line);
    printf("# k2k_bench: RingKernel kernel-to-kernel messaging and topics (CPU backend), then GPU K2K\n");
    printf("# date:     %s\n# cpu:      %s, %d online cores%s\n", date, cpu, bc_cores,
           bc_cores == 2 ? " (two cores: the host and every worker share them)" : "");
    printf("# compiler: %s, %s\n", __VERSION__,
#ifdef __OPTIMIZE__
           "optimised"
#else
           "NOT optimised"
#endif
    );
    printf("# commit:   %s%s\n# mode:     %s\n", commit, dirty ? " + uncommitted changes in the working tree" : "",
           quick ? "--quick (smoke test: do not quote these figures)" : "full");
    printf("# clock:    tick = %.4f ns; one timestamp pair costs %.0f ns (included in p50/p99/min, not in mean)\n",
           bc_ns_per_tick, bc_tick_overhead_ns);
    printf("# load:     %s (1/5/15 min) at start\n", line);
}

int main(int argc, char **argv)
{
    int quick = 0, gpu_rc;
    const char *json = NULL;
    char commit[64], cpu[256], la[64];
    uint64_t raw_n, rtt_n, bad = 0;
    double raw_mps, t_start = bc_now_s();
    bc_lat l;
    bc_lat_sum raw_pp, k2k_pp;
    topic_figs tf;
    k2k_figs kf;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--quick] [--json FILE]\n", argv[0]);
            return 2;
        }
    }
    g_json = json != NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    bc_init(quick ? 0.02 : 0.1);
    raw_n = quick ? 2000000 : 100000000;
    rtt_n = quick ? 5000 : 200000;
    memset(&l, 0, sizeof l);
    l.ticks = calloc(rtt_n, sizeof *l.ticks);
    if (l.ticks == NULL)
        return 1;
    header(quick, commit, sizeof commit, cpu, sizeof cpu);

    printf("\n(e) raw probe, inlined from anchors/cpu/spsc_probe.c (the floor; anchor ~225 M msg/s, ~100 ns)\n");
    raw_mps = (double)raw_n / bc_raw_throughput(raw_n, &bad);
    if (bad)
        fail("raw probe: %llu bad sequences", (unsigned long long)bad);
    row_rate("raw", "raw ring, 64 B slots, batch <= 64, core 0 -> core 1", raw_mps, "msg/s", raw_n,
             (double)raw_n / raw_mps, NULL);
    bc_raw_pingpong(rtt_n, &l);
    raw_pp = bc_lat_summarise(&l);
    row_lat("raw", "raw cache-line ping-pong (two atomics)", &raw_pp, l.n);
    bc_unpin(); /* the runtime's workers inherit the creator's affinity: leave them free */

    tf = section_topics(quick ? 200000 : 10000000, quick ? 20 : 300);
    kf = section_k2k(quick ? 200000 : 8000000);
    memset(l.ticks, 0, rtt_n * sizeof *l.ticks);
    l.n = 0;
    k2k_pp = section_pingpong(rtt_n, &l);
    section_publish(quick ? 50000 : 2000000);

    printf("\nratios (throughput: K2K / raw ring, higher is better; latency: K2K / raw, lower is better)\n");
    row_ratio("K2K 1 -> 1 / raw ring", kf.one_one / raw_mps, "(the raw ring moves one 8 B word per 64 B slot,"
              " with no envelope and no scheduling)");
    row_ratio("K2K 4 -> 4 pairs / raw ring", kf.pairs4 / raw_mps, "");
    row_ratio("K2K fan-in 4 -> 1 / raw ring", kf.fan_in4 / raw_mps, "");
    if (k2k_pp.p50 > 0) {
        char d[96];

        snprintf(d, sizeof d, "(%.0f vs %.0f ns)", k2k_pp.p50, raw_pp.p50);
        row_ratio("K2K round trip p50 / raw ping-pong p50", k2k_pp.p50 / raw_pp.p50, d);
        snprintf(d, sizeof d, "(%.0f vs %.0f ns)", k2k_pp.mean, raw_pp.mean);
        row_ratio("K2K round trip mean / raw ping-pong mean", k2k_pp.mean / raw_pp.mean, d);
    }
    printf("\ngoals (printed, not asserted): topic lookups >= 10 M/s with 10k subscriptions: %s\n",
           tf.trie_lps >= 10e6 ? "met" : "MISSED");

    gpu_rc = k2k_bench_gpu(stdout, quick);
    if (gpu_rc == 77)
        printf("GPU K2K: skipped (no usable GPU)\n");
    else if (gpu_rc != 0)
        fail("GPU K2K section failed (%d)", gpu_rc);

    bc_loadavg(la, sizeof la);
    printf("\nload %s at end; %.1f s in all\n", la, bc_now_s() - t_start);
    if (json != NULL && json_write(json, quick, commit, cpu) != 0)
        g_failed = 1;
    printf("%s\n", g_failed ? "k2k_bench: ERRORS (see above)" : "k2k_bench: all runs validated");
    free(l.ticks);
    free(g_records);
    return g_failed ? 1 : 0;
}
