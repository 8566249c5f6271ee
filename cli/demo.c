/* demo.c - `ringkernel demo`: round-trip latency and pipelined throughput of the built-in "echo" actor.
 *
 * Two measurements on one kernel, both driven by this (the only host) thread:
 *   latency     N sequential round trips: rk_send one message, rk_recv its reply, nothing else in flight.
 *               Each sample is the CLOCK_MONOTONIC time of one send+recv pair; percentiles by sorting.
 *   throughput  N messages pipelined: up to `window` in flight, sent with rk_send_batch and received with
 *               rk_recv_batch; the rate is N over the time from the first send to the last reply.
 * Every reply is checked against the message it answers (correlation id, type id, length, payload bytes);
 * any mismatch, lost or duplicated reply fails the demo with exit status 1.
 *
 * Payload of message i: its index as 8 little-endian bytes (truncated if the payload is shorter), then a
 * fixed byte pattern, so building and checking a message costs one 8-byte store and one memcmp.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringkernel/ringkernel.h>

#include "cli.h"

#define DEMO_TIMEOUT RK_TIMEOUT_MS(5000) /* a reply later than this is an error, not a slow sample */
#define DEMO_MAX_MESSAGES 10000000u      /* 80 MB of latency samples */
#define DEMO_REGION_BUDGET (64u << 20)   /* bytes per queue: caps the slot count for big payloads */

enum { OPT_HELP = 1, OPT_BACKEND, OPT_MESSAGES, OPT_PAYLOAD, OPT_WARMUP, OPT_BATCH };

static const cli_opt demo_opts_table[] = {
    { "help", 'h', CLI_ARG_NONE, OPT_HELP },
    { "backend", 'b', CLI_ARG_REQUIRED, OPT_BACKEND },
    { "messages", 'n', CLI_ARG_REQUIRED, OPT_MESSAGES },
    { "payload", 'p', CLI_ARG_REQUIRED, OPT_PAYLOAD },
    { "warmup", 0, CLI_ARG_OPTIONAL, OPT_WARMUP },
    { "batch", 0, CLI_ARG_REQUIRED, OPT_BATCH },
    { NULL, 0, 0, 0 },
};

typedef struct demo_config {
    rk_backend_kind backend; /* as requested (AUTO allowed) */
    uint64_t messages;       /* per measurement */
    uint32_t payload;        /* bytes per message */
    uint64_t warmup;         /* unmeasured round trips before the latency run */
    uint32_t batch;          /* messages per rk_send_batch / rk_recv_batch */
    uint32_t capacity;       /* slots per queue */
    uint32_t slot_size;      /* bytes per slot */
    uint32_t window;         /* messages in flight in the throughput run */
} demo_config;

/* What one run of the demo shares between its steps. */
typedef struct demo {
    demo_config cfg;
    rk_kernel *k;
    uint64_t type_id;       /* of every message sent */
    uint8_t *pattern;       /* cfg.payload bytes: the expected payload, bar the index */
    uint64_t verified;      /* replies checked */
} demo;

static void demo_help(void)
{
    printf("usage: ringkernel demo [--backend auto|cpu|cuda|vulkan] [-n|--messages N] [--payload BYTES]\n"
           "                       [--warmup[=N]] [--batch N]\n"
           "\n"
           "Launches the built-in \"echo\" actor (it sends every message back) and measures, from one host\n"
           "thread:\n"
           "  latency     N sequential round trips (send one message, receive its reply, nothing else in\n"
           "              flight); min, p50, p90, p99, p99.9, max and mean of the per-round-trip times\n"
           "  throughput  N messages pipelined (up to a queue's worth in flight, sent and received in\n"
           "              batches); messages per second from the first send to the last reply\n"
           "Every reply's payload is checked against what was sent; any mismatch exits with status 1.\n"
           "\n"
           "options:\n"
           "  -b, --backend NAME   auto (default: CUDA, then Vulkan, then CPU), cpu, cuda or vulkan\n"
           "  -n, --messages N     messages per measurement (default 100000, at most %u)\n"
           "  -p, --payload BYTES  payload bytes per message (default 64, at most %u)\n"
           "  --warmup[=N]         N unmeasured round trips before the latency run (default 1000 with\n"
           "                       --warmup, none without)\n"
           "  --batch N            messages per batch in the throughput run (default 64)\n"
           "  -h, --help           show this help\n",
           DEMO_MAX_MESSAGES, RK_QUEUE_MAX_SLOT - RK_ENVELOPE_SIZE);
}

/* ---- Options -------------------------------------------------------------------------------------------- */

static uint32_t pow2_at_least(uint32_t v)
{
    uint32_t p = 1;
    while (p < v)
        p <<= 1;
    return p;
}

/* Parses argv into cfg. Returns -1 after printing a usage error, 1 if help was shown, 0 to run. */
static int demo_parse(int argc, char **argv, demo_config *cfg)
{
    *cfg = (demo_config){ .backend = RK_BACKEND_AUTO, .messages = 100000, .payload = 64, .batch = 64 };
    cli_parser p;
    const char *v;
    uint64_t n;
    int id;
    cli_parser_init(&p, "demo", argc, argv);
    while ((id = cli_next_opt(&p, demo_opts_table, &v)) != 0) {
        switch (id) {
        case OPT_HELP:
            demo_help();
            return 1;
        case OPT_BACKEND:
            if (rk_backend_parse(v, &cfg->backend) != 0 || cfg->backend == RK_BACKEND_METAL) {
                cli_usage_error("demo", "unknown backend '%s' (expected auto, cpu, cuda or vulkan)", v);
                return -1;
            }
            break;
        case OPT_MESSAGES:
            if (cli_parse_u64("demo", "--messages", v, 1, DEMO_MAX_MESSAGES, &cfg->messages) != 0)
                return -1;
            break;
        case OPT_PAYLOAD:
            if (cli_parse_u64("demo", "--payload", v, 0, RK_QUEUE_MAX_SLOT - RK_ENVELOPE_SIZE, &n) != 0)
                return -1;
            cfg->payload = (uint32_t)n;
            break;
        case OPT_WARMUP:
            cfg->warmup = 1000;
            if (v && cli_parse_u64("demo", "--warmup", v, 0, DEMO_MAX_MESSAGES, &cfg->warmup) != 0)
                return -1;
            break;
        case OPT_BATCH:
            if (cli_parse_u64("demo", "--batch", v, 1, 4096, &n) != 0)
                return -1;
            cfg->batch = (uint32_t)n;
            break;
        default:
            return -1; /* cli_next_opt printed the error */
        }
    }

    /* Queues: slots just big enough for the payload; 1024 of them unless that passes the memory budget.
     * The throughput run keeps at most one queue's worth in flight, so neither queue can overflow. */
    cfg->slot_size = pow2_at_least(RK_ENVELOPE_SIZE + cfg->payload);
    cfg->capacity = 1024;
    while (cfg->capacity > 16 && (uint64_t)cfg->capacity * cfg->slot_size > DEMO_REGION_BUDGET)
        cfg->capacity >>= 1;
    cfg->window = cfg->capacity;
    if (cfg->batch > cfg->window)
        cfg->batch = cfg->window;
    return 0;
}

/* ---- Messages ------------------------------------------------------------------------------------------- */

/* Writes message i's payload into buf (cfg.payload bytes). */
static void fill_payload(const demo *d, uint8_t *buf, uint64_t i)
{
    uint32_t len = d->cfg.payload;
    uint32_t head = len < 8 ? len : 8;
    for (uint32_t b = 0; b < head; b++)
        buf[b] = (uint8_t)(i >> (8 * b));
    if (len > 8)
        memcpy(buf + 8, d->pattern + 8, len - 8);
}

/* Checks a reply against message i. Returns 0, or prints what differs and returns CLI_EXIT_FAIL. */
static int check_reply(demo *d, const rk_msg *r, uint64_t i, const uint8_t *expect)
{
    const rk_envelope *e = &r->env;
    if (e->flags & RK_ENV_ERROR)
        return cli_fail("reply to message %llu is an error report (%u bytes)", (unsigned long long)i,
                        (unsigned)e->payload_len);
    if (e->correlation_id != i + 1)
        return cli_fail("reply %llu carries correlation id %llu, expected %llu", (unsigned long long)i,
                        (unsigned long long)e->correlation_id, (unsigned long long)(i + 1));
    if (e->type_id != d->type_id)
        return cli_fail("reply to message %llu has type id %016llx, expected %016llx", (unsigned long long)i,
                        (unsigned long long)e->type_id, (unsigned long long)d->type_id);
    if (e->payload_len != d->cfg.payload)
        return cli_fail("reply to message %llu has %u payload bytes, expected %u", (unsigned long long)i,
                        (unsigned)e->payload_len, (unsigned)d->cfg.payload);
    if (d->cfg.payload && memcmp(r->payload, expect, d->cfg.payload) != 0) {
        const uint8_t *got = r->payload;
        uint32_t b = 0;
        while (got[b] == expect[b])
            b++;
        return cli_fail("reply to message %llu: payload byte %u is 0x%02x, expected 0x%02x",
                        (unsigned long long)i, (unsigned)b, got[b], expect[b]);
    }
    d->verified++;
    return 0;
}

/* ---- Latency -------------------------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples, in microseconds. */
static double percentile_us(const uint64_t *sorted, uint64_t n, double pct)
{
    uint64_t rank = (uint64_t)((pct / 100.0) * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return (double)sorted[rank - 1] / 1000.0;
}

static int run_latency(demo *d)
{
    const demo_config *c = &d->cfg;
    uint64_t total = c->warmup + c->messages;
    uint64_t *lat = malloc(c->messages * sizeof *lat);
    uint8_t *out = malloc(c->payload + 1), *in = malloc(c->payload + 1);
    int ret = CLI_EXIT_FAIL;
    if (!lat || !out || !in) {
        cli_fail("out of memory for %llu latency samples", (unsigned long long)c->messages);
        goto done;
    }

    for (uint64_t i = 0; i < total; i++) {
        /* Warm-up round trips use the same ids as measured ones would: the checks do not care. */
        fill_payload(d, out, i);
        rk_msg m = { .payload = out };
        m.env.type_id = d->type_id;
        m.env.flags = RK_ENV_REQUEST;
        m.env.correlation_id = i + 1;
        m.env.payload_len = c->payload;
        rk_msg r = { .payload = in, .payload_cap = c->payload };

        int64_t t0 = rk_monotonic_ns();
        int rc = rk_send(d->k, &m, DEMO_TIMEOUT);
        if (rc != 0) {
            cli_fail_rk("rk_send", rc);
            goto done;
        }
        rc = rk_recv(d->k, &r, DEMO_TIMEOUT);
        int64_t t1 = rk_monotonic_ns();
        if (rc != 0) {
            cli_fail_rk("rk_recv", rc);
            goto done;
        }
        if (check_reply(d, &r, i, out) != 0)
            goto done;
        if (i >= c->warmup)
            lat[i - c->warmup] = (uint64_t)(t1 - t0);
    }

    uint64_t n = c->messages, sum = 0;
    for (uint64_t i = 0; i < n; i++)
        sum += lat[i];
    qsort(lat, n, sizeof *lat, cmp_u64);
    printf("Latency: %llu sequential round trips (%llu unmeasured warm-up ones before). One sample is\n"
           "the time from just before rk_send of a message to just after rk_recv returned its reply\n"
           "(CLOCK_MONOTONIC), with nothing else in flight.\n\n",
           (unsigned long long)n, (unsigned long long)c->warmup);
    printf("  %10s %10s %10s %10s %10s %10s %10s\n", "min", "p50", "p90", "p99", "p99.9", "max", "mean");
    printf("  %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f %10.3f   µs\n\n", (double)lat[0] / 1000.0,
           percentile_us(lat, n, 50), percentile_us(lat, n, 90), percentile_us(lat, n, 99),
           percentile_us(lat, n, 99.9), (double)lat[n - 1] / 1000.0, (double)sum / (double)n / 1000.0);
    ret = CLI_EXIT_OK;
done:
    free(lat);
    free(out);
    free(in);
    return ret;
}

/* ---- Throughput ----------------------------------------------------------------------------------------- */

static int run_throughput(demo *d)
{
    const demo_config *c = &d->cfg;
    uint32_t b = c->batch;
    size_t pl = c->payload ? c->payload : 1;
    rk_msg *out = calloc(b, sizeof *out), *in = calloc(b, sizeof *in);
    uint8_t *out_buf = malloc(pl * b), *in_buf = malloc(pl * b), *expect = malloc(pl);
    uint8_t *seen = calloc(c->messages, 1); /* one byte per message: catches duplicated replies */
    int ret = CLI_EXIT_FAIL;
    if (!out || !in || !out_buf || !in_buf || !expect || !seen) {
        cli_fail("out of memory for the throughput run");
        goto done;
    }
    for (uint32_t j = 0; j < b; j++) {
        out[j].payload = out_buf + j * pl;
        in[j].payload = in_buf + j * pl;
        in[j].payload_cap = c->payload;
    }

    uint64_t sent = 0, received = 0;
    int64_t t0 = rk_monotonic_ns(), last_progress = t0;
    while (received < c->messages) {
        /* Send while the window has room. */
        while (sent < c->messages && sent - received < c->window) {
            uint64_t room = c->window - (sent - received), left = c->messages - sent;
            uint32_t n = (uint32_t)(room < left ? (room < b ? room : b) : (left < b ? left : b));
            for (uint32_t j = 0; j < n; j++) {
                fill_payload(d, out[j].payload, sent + j);
                out[j].env = (rk_envelope){ .type_id = d->type_id, .flags = RK_ENV_REQUEST,
                                            .correlation_id = sent + j + 1, .payload_len = c->payload };
            }
            int rc = rk_send_batch(d->k, out, n, 0);
            if (rc == RK_EAGAIN)
                break; /* H2K full: take replies first */
            if (rc < 0) {
                cli_fail_rk("rk_send_batch", rc);
                goto done;
            }
            sent += (uint64_t)rc;
        }
        /* Receive what is there; wait a little only when nothing more can be sent. */
        int64_t wait = (sent == c->messages || sent - received >= c->window) ? RK_TIMEOUT_MS(10) : 0;
        int rc = rk_recv_batch(d->k, in, b, wait);
        if (rc == RK_EAGAIN || rc == RK_ETIMEDOUT) {
            if (rk_monotonic_ns() - last_progress > DEMO_TIMEOUT) {
                cli_fail("no reply for %lld ms with %llu messages in flight", (long long)(DEMO_TIMEOUT / 1000000),
                         (unsigned long long)(sent - received));
                goto done;
            }
            continue;
        }
        if (rc < 0) {
            cli_fail_rk("rk_recv_batch", rc);
            goto done;
        }
        last_progress = rk_monotonic_ns();
        for (int j = 0; j < rc; j++) {
            uint64_t id = in[j].env.correlation_id;
            if (id == 0 || id > sent || seen[id - 1]) {
                cli_fail("unexpected reply with correlation id %llu (%llu sent)%s", (unsigned long long)id,
                         (unsigned long long)sent, id && id <= sent ? ": a duplicate" : "");
                goto done;
            }
            seen[id - 1] = 1;
            fill_payload(d, expect, id - 1);
            if (check_reply(d, &in[j], id - 1, expect) != 0)
                goto done;
        }
        received += (uint64_t)rc;
    }
    int64_t t1 = rk_monotonic_ns();

    double secs = (double)(t1 - t0) / 1e9;
    printf("Throughput: %llu messages pipelined, up to %u in flight, sent in batches of up to %u\n"
           "(rk_send_batch) and received in batches (rk_recv_batch) by the same thread. Rate = messages /\n"
           "time from the first send to the last reply, which includes building and checking each message.\n\n",
           (unsigned long long)c->messages, c->messages < c->window ? (unsigned)c->messages : c->window, b);
    printf("  %.3f M msgs/s   (%.3f ms in total, %.3f µs per message)\n\n", (double)c->messages / secs / 1e6,
           secs * 1e3, secs * 1e6 / (double)c->messages);
    ret = CLI_EXIT_OK;
done:
    free(out);
    free(in);
    free(out_buf);
    free(in_buf);
    free(expect);
    free(seen);
    return ret;
}

/* ---- The command ---------------------------------------------------------------------------------------- */

/* Describes why the runtime runs on `chosen`: what was asked for, and for AUTO what it passed over. */
static void describe_choice(rk_backend_kind requested, rk_backend_kind chosen, char *buf, size_t cap)
{
    if (requested != RK_BACKEND_AUTO) {
        snprintf(buf, cap, "requested with --backend");
        return;
    }
    /* AUTO's preference (runtime.h): CUDA, then Vulkan, then CPU. */
    static const rk_backend_kind order[] = { RK_BACKEND_CUDA, RK_BACKEND_VULKAN, RK_BACKEND_CPU };
    size_t len = (size_t)snprintf(buf, cap, "AUTO chose %s", rk_backend_name(chosen));
    const char *sep = ": ";
    for (size_t i = 0; i < sizeof order / sizeof order[0] && order[i] != chosen && len < cap; i++) {
        rk_backend_status st;
        if (rk_backend_probe(order[i], &st) != 0)
            continue;
        /* For a backend left out of the build, `ringkernel info` has the details. */
        if (st.available) /* AUTO passes over an available backend only for a CPU device (Vulkan on lavapipe) */
            len += (size_t)snprintf(buf + len, cap - len, "%s%s available but not for AUTO, its device is a CPU (%s)",
                                    sep, rk_backend_name(order[i]), st.reason);
        else if (st.compiled)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s unavailable (%s)", sep, rk_backend_name(order[i]),
                                    st.reason);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%s%s not built", sep, rk_backend_name(order[i]));
        sep = "; ";
    }
    if (len < cap && sep[0] == ':') {
        rk_backend_status st;
        if (rk_backend_probe(chosen, &st) == 0 && st.reason[0])
            snprintf(buf + len, cap - len, " (%s)", st.reason);
    }
}

int cli_cmd_demo(int argc, char **argv)
{
    demo d = { 0 };
    int rc = demo_parse(argc, argv, &d.cfg);
    if (rc != 0)
        return rc > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    const demo_config *c = &d.cfg;

    d.type_id = RK_TYPE_ID(rk_demo_ping);
    d.pattern = malloc(c->payload + 1);
    if (!d.pattern)
        return cli_fail("out of memory");
    for (uint32_t b = 0; b < c->payload; b++)
        d.pattern[b] = (uint8_t)(b * 131u + 7u);

    int ret = CLI_EXIT_FAIL;
    rk_runtime *rt = NULL;
    /* One worker: the echo kernel runs on at most one worker at a time, and the host thread needs a core. */
    rk_runtime_opts ro = { .backend = c->backend, .workers = 1 };
    if ((rc = rk_runtime_create(&rt, &ro)) != 0) {
        rk_backend_status st;
        if (rc == RK_ENODEV && rk_backend_probe(c->backend, &st) == 0)
            cli_fail("backend %s is %s: %s", rk_backend_name(c->backend),
                     st.compiled ? "unavailable" : "not built", st.reason);
        else
            cli_fail_rk("rk_runtime_create", rc);
        goto out;
    }
    rk_backend_kind chosen = rk_runtime_backend(rt);

    rk_launch_opts lo = { .queue_capacity = c->capacity, .slot_size = c->slot_size };
    if ((rc = rk_kernel_launch(rt, "echo", &lo, &d.k)) != 0) {
        cli_fail_rk("launching the echo actor", rc);
        goto out;
    }

    char why[1024];
    describe_choice(c->backend, chosen, why, sizeof why);
    printf("RingKernel %s demo: the built-in \"echo\" actor sends every message back.\n\n", rk_version());
    printf("  backend   %s\n            %s\n", rk_backend_name(chosen), why);
    printf("  kernel    echo, 1 instance%s; H2K and K2H queues of %u slots x %u bytes\n",
           chosen == RK_BACKEND_CPU ? " on 1 worker thread" : "", c->capacity, c->slot_size);
    printf("  messages  %llu per measurement, %u-byte payloads\n\n", (unsigned long long)c->messages,
           c->payload);
    fflush(stdout);

    if ((ret = run_latency(&d)) != CLI_EXIT_OK)
        goto out;
    fflush(stdout);
    if ((ret = run_throughput(&d)) != CLI_EXIT_OK)
        goto out;

    ret = CLI_EXIT_FAIL;
    if ((rc = rk_kernel_terminate(d.k, RK_TIMEOUT_MS(5000))) != 0) {
        cli_fail_rk("rk_kernel_terminate", rc);
        goto out;
    }
    rk_kernel_stats ks; /* final: the kernel has stopped */
    if ((rc = rk_kernel_stats_get(d.k, &ks)) != 0) {
        cli_fail_rk("rk_kernel_stats_get", rc);
        goto out;
    }
    printf("Verified: %llu replies (warm-up included), each with the correlation id, type id, length and\n"
           "payload bytes of the message it answers; none lost, none duplicated.\n",
           (unsigned long long)d.verified);
    printf("Kernel statistics: %llu messages in, %llu out, %llu handler errors, %llu dropped.\n",
           (unsigned long long)ks.msgs_in, (unsigned long long)ks.msgs_out, (unsigned long long)ks.errors,
           (unsigned long long)ks.dropped);
    if (ks.errors || ks.dropped) {
        cli_fail("the kernel reported %llu errors and %llu dropped messages", (unsigned long long)ks.errors,
                 (unsigned long long)ks.dropped);
        goto out;
    }
    ret = CLI_EXIT_OK;
out:
    if (rt && (rc = rk_runtime_destroy(rt)) != 0 && ret == CLI_EXIT_OK)
        ret = cli_fail_rk("rk_runtime_destroy", rc);
    free(d.pattern);
    return ret;
}
