/* gpu_latency.cu - RingKernel on a GPU, measured side by side with the paths it replaces and with the raw
 * hardware, in one process and one run.
 *
 *   1. round trip host -> GPU actor -> host through rk_send + rk_recv and through rk_call (built-in echo)
 *   2. the same command the traditional way (memcpy H2D + launch + memcpy D2H + sync), as a CUDA graph,
 *      and as the raw mapped-memory echo of anchors/probe.cu; ratios against ours
 *   3. host-side cost of one rk_send (no round trip), next to the raw one-store figure
 *   4. throughput: H2K into a sink actor, echo pipelined, K2H from a device producer through an rk_queue,
 *      each next to the probe's raw loops re-measured here
 *   5. the seed's comparison table (inject, query, single step, mixed), both sides measured here
 *
 * Every figure is printed with a one-line definition of what it times. Latencies are wall-clock
 * (CLOCK_MONOTONIC) per operation; percentiles come from the sorted samples (docs/BENCHMARKS.md).
 *
 *   gpu_latency [--quick] [--json FILE]
 *
 * Exit status: 0 done (goals met or not: they are reported, not enforced); 1 an error or a failed
 * validation (a lost, corrupt or reordered message); 2 bad arguments; 77 no usable CUDA device.
 *
 * Nothing here waits without a deadline: host loops give up after PHASE_NS and stop every kernel they
 * started (persistent raw kernels poll an abort word; runtime kernels are terminated by
 * rk_runtime_destroy). Only one persistent kernel runs at a time, so no figure is disturbed by another
 * kernel polling the bus, and nothing is freed while a persistent kernel runs (cudaFree and cudaFreeHost
 * may synchronise the device).
 */
#include <cuda_runtime.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/device.cuh"
#include "ringkernel/message.h"
#include "ringkernel/queue.h"
#include "ringkernel/runtime.h"

#ifndef RK_BENCH_SOURCE_DIR
#define RK_BENCH_SOURCE_DIR "."
#endif

#define PAYLOAD 64u                               /* payload bytes of every benchmark message */
#define TAG 0x5a5a5a5a5a5a5a5aull                 /* payload word 1 = word 0 ^ TAG: a cheap content check */
#define OP_TIMEOUT RK_TIMEOUT_MS(2000)            /* deadline of one rk_send / rk_recv / rk_call */
#define INJ_RUN 1000                              /* calls per timed run of section 3 (back to back) */
#define PHASE_NS (60ll * 1000000000)              /* deadline of one measured phase */
#define STOP_TIMEOUT RK_TIMEOUT_MS(5000)          /* deadline of rk_kernel_terminate */
#define SINK_CAPACITY 65536u                      /* queue slots of the sink and pipelined-echo kernels */
#define BENCH_SLOT 128u                           /* slot of those kernels: 64 B envelope + 64 B payload */
#define RAW_CAP 8192u                             /* the probe's raw ring: 8192 slots of 64 bytes */
#define RAW_SLOT 64u
#define K2H_CAP 8192u                             /* our K2H ring: as many slots as the raw one */
#define ANCHOR_H2K_1024 153.4                     /* anchors/h200-2026-11-26.txt, M msg/s */
#define ANCHOR_H2K_256 111.1
#define ANCHOR_K2H_1024 268.3
#define ANCHOR_K2H_256 209.4

/* ---- Configuration ---------------------------------------------------------------------------------- */

typedef struct config {
    int quick;
    const char *json;
    size_t rt_warm, rt_n;         /* section 1 round trips */
    size_t trad_warm, trad_n;     /* traditional and graph commands (sections 2 and 5) */
    size_t raw_warm, raw_n;       /* raw echo round trips */
    size_t inj_warm, inj_n;       /* section 3 sends */
    uint64_t tput_n;              /* messages per throughput run */
    size_t query_n;               /* section 5 queries */
    size_t mixed_n;               /* section 5 mixed iterations */
} config;

static void usage(FILE *f)
{
    fprintf(f, "usage: gpu_latency [--quick] [--json FILE]\n"
               "  --quick      small counts (a smoke test, under 20 s)\n"
               "  --json FILE  also write every figure to FILE as JSON\n"
               "Exit: 0 done, 1 error or failed validation, 2 bad arguments, 77 no CUDA device.\n");
}

static void parse_args(int argc, char **argv, config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            c->quick = 1;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            c->json = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "gpu_latency: unknown or incomplete argument '%s'\n", argv[i]);
            usage(stderr);
            exit(2);
        }
    }
    if (c->quick) {
        c->rt_warm = 2000, c->rt_n = 20000;
        c->trad_warm = 500, c->trad_n = 5000;
        c->raw_warm = 1000, c->raw_n = 20000;
        c->inj_warm = 10000, c->inj_n = 100000;
        c->tput_n = 500000;
        c->query_n = 5000;
        c->mixed_n = 1000;
    } else {
        c->rt_warm = 10000, c->rt_n = 200000;
        c->trad_warm = 2000, c->trad_n = 100000;
        c->raw_warm = 2000, c->raw_n = 200000;
        c->inj_warm = 10000, c->inj_n = 1000000;
        c->tput_n = 5000000;
        c->query_n = 100000;
        c->mixed_n = 20000;
    }
}

/* ---- Errors, deadlines, clocks ------------------------------------------------------------------------ */

static rk_runtime *g_rt;                 /* the one CUDA runtime; destroyed on exit, also on errors */
static volatile uint32_t *g_abort_h;     /* mapped word every raw kernel polls: 1 = leave now */
static uint32_t *g_abort_d;
static cudaStream_t g_stream;            /* non-blocking; every CUDA call of this file that takes a stream */
static int g_failed;                     /* validations that failed (reported at the end, exit 1) */

static void cleanup_for_exit(void)
{
    static int once;

    if (once++)
        return;
    if (g_abort_h != NULL)
        *g_abort_h = 1;
    if (g_rt != NULL) {
        rk_runtime_destroy(g_rt); /* terminates every runtime kernel, 1 s deadline each */
        g_rt = NULL;
    }
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fprintf(stderr, "gpu_latency: error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    cleanup_for_exit();
    exit(1);
}

#define CK(call) ck_cuda((call), #call, __FILE__, __LINE__)
static void ck_cuda(cudaError_t e, const char *call, const char *file, int line)
{
    if (e != cudaSuccess)
        fatal("%s:%d: %s: %s (%s)", file, line, call, cudaGetErrorString(e), cudaGetErrorName(e));
}

/* Checks an RK call; returns its (non-negative) result. */
#define RKC(call) ck_rk((call), #call, __FILE__, __LINE__)
static int ck_rk(int rc, const char *call, const char *file, int line)
{
    if (rc < 0)
        fatal("%s:%d: %s: %s (%s): %s", file, line, call, rk_err_name(rc), rk_strerror(rc), rk_last_error());
    return rc;
}

static inline int64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* A phase deadline for spin loops: dl_poll reads the clock once per 1024 calls. */
typedef struct deadline {
    int64_t end;
    uint32_t spins;
    const char *what;
} deadline;

static void dl_start(deadline *d, const char *what)
{
    d->end = now_ns() + PHASE_NS;
    d->spins = 0;
    d->what = what;
}

static inline void dl_poll(deadline *d)
{
    if ((++d->spins & 1023u) == 0 && now_ns() > d->end)
        fatal("%s: no completion within %lld s", d->what, (long long)(PHASE_NS / 1000000000));
}

/* Waits for every operation on stream s (a finishing kernel) with a deadline instead of blocking. */
static void stream_wait(cudaStream_t s, const char *what)
{
    const int64_t end = now_ns() + PHASE_NS;

    for (;;) {
        cudaError_t e = cudaStreamQuery(s);
        if (e == cudaSuccess)
            return;
        if (e != cudaErrorNotReady)
            fatal("%s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
        if (now_ns() > end)
            fatal("%s: the kernel did not finish within %lld s", what, (long long)(PHASE_NS / 1000000000));
        sched_yield();
    }
}

/* ---- Samples and percentiles ---------------------------------------------------------------------------- */

typedef struct samples {
    double *v;    /* nanoseconds */
    size_t n, cap;
} samples;

typedef struct lat {
    double p50, p99, min, max; /* microseconds */
    size_t n;
} lat;

static void samples_init(samples *s, size_t cap)
{
    s->v = (double *)malloc(cap * sizeof *s->v);
    if (s->v == NULL)
        fatal("out of memory (%zu samples)", cap);
    s->n = 0;
    s->cap = cap;
}

static inline void samples_add(samples *s, int64_t ns)
{
    if (s->n < s->cap)
        s->v[s->n++] = (double)ns;
}

static void samples_free(samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-quantile of n sorted samples: the sample at index round(p * (n - 1)). */
static double quantile_sorted(const double *v, size_t n, double p)
{
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

/* Sorts the samples (in place) and summarises them in microseconds. */
static lat summarize(samples *s)
{
    lat l;

    memset(&l, 0, sizeof l);
    if (s->n == 0)
        return l;
    qsort(s->v, s->n, sizeof *s->v, cmp_double);
    l.p50 = quantile_sorted(s->v, s->n, 0.50) / 1e3;
    l.p99 = quantile_sorted(s->v, s->n, 0.99) / 1e3;
    l.min = s->v[0] / 1e3;
    l.max = s->v[s->n - 1] / 1e3;
    l.n = s->n;
    return l;
}

/* ---- Figures (for --json) and goals ---------------------------------------------------------------------- */

typedef struct figure {
    char key[96];
    char unit[16];
    double value;
} figure;

#define MAX_FIGURES 512
static figure g_figs[MAX_FIGURES];
static int g_nfigs;

typedef struct goal {
    char text[200];
    int met;
} goal;

#define MAX_GOALS 32
static goal g_goals[MAX_GOALS];
static int g_ngoals;

static void fig(const char *key, double value, const char *unit)
{
    if (g_nfigs == MAX_FIGURES)
        return;
    snprintf(g_figs[g_nfigs].key, sizeof g_figs[g_nfigs].key, "%s", key);
    snprintf(g_figs[g_nfigs].unit, sizeof g_figs[g_nfigs].unit, "%s", unit);
    g_figs[g_nfigs].value = value;
    g_nfigs++;
}

static void fig_lat(const char *key, const lat *l)
{
    char k[96];

    snprintf(k, sizeof k, "%s.p50", key), fig(k, l->p50, "us");
    snprintf(k, sizeof k, "%s.p99", key), fig(k, l->p99, "us");
    snprintf(k, sizeof k, "%s.min", key), fig(k, l->min, "us");
    snprintf(k, sizeof k, "%s.n", key), fig(k, (double)l->n, "count");
}

static void section(const char *title)
{
    printf("\n== %s ==\n", title);
}

static void print_lat(const char *label, const lat *l, const char *times)
{
    printf("  %-34s p50 %9.3f us   p99 %9.3f us   min %9.3f us   n=%zu\n", label, l->p50, l->p99, l->min, l->n);
    printf("  %-34s   times: %s\n", "", times);
}

/* Prints "label: 1.23x" and records it; with a goal (op '<' or '>'), also whether it is met. */
static void ratio(const char *key, const char *label, double num, double den, char op, double target)
{
    double r = den > 0 ? num / den : 0;

    fig(key, r, "x");
    if (op == 0) {
        printf("  %-58s %7.2fx\n", label, r);
        return;
    }
    int met = op == '<' ? r <= target : r >= target;
    printf("  %-58s %7.2fx   goal %s %.2fx: %s\n", label, r, op == '<' ? "<=" : ">=", target,
           met ? "met" : "MISSED");
    if (g_ngoals < MAX_GOALS) {
        snprintf(g_goals[g_ngoals].text, sizeof g_goals[g_ngoals].text, "%-58s %7.2fx (goal %s %.2fx)", label, r,
                 op == '<' ? "<=" : ">=", target);
        g_goals[g_ngoals++].met = met;
    }
}

static void validation(const char *what, int ok, const char *detail)
{
    printf("  check: %-44s %s%s%s\n", what, ok ? "ok" : "FAILED", detail[0] ? ": " : "", detail);
    if (!ok)
        g_failed++;
}

/* ---- Messages --------------------------------------------------------------------------------------------- */

/* Fills a 64-byte payload for message number v: word 0 = v, word 1 = v ^ TAG, the rest v. */
static inline void fill_payload(uint64_t *p, uint64_t v)
{
    p[0] = v;
    p[1] = v ^ TAG;
    for (int i = 2; i < 8; i++)
        p[i] = v;
}

static void msg_init(rk_msg *m, uint64_t type_id, void *payload, uint32_t len)
{
    memset(m, 0, sizeof *m);
    m->env.type_id = type_id;
    m->env.payload_len = len;
    m->payload = payload;
}

static void reply_init(rk_msg *m, void *buf, uint32_t cap)
{
    memset(m, 0, sizeof *m);
    m->payload = buf;
    m->payload_cap = cap;
}

/* Checks an echo reply to message v; any mismatch is fatal (the runtime lost or mixed up a message). */
static void check_echo(const rk_msg *r, uint64_t type_id, uint64_t v, const char *path)
{
    const uint64_t *p = (const uint64_t *)r->payload;

    if ((r->env.flags & RK_ENV_ERROR) || r->env.type_id != type_id || r->env.payload_len != PAYLOAD ||
        p[0] != v || p[1] != (v ^ TAG))
        fatal("%s: reply to message %llu is wrong (flags 0x%x, type %llx, %u bytes, word0 %llu)", path,
              (unsigned long long)v, r->env.flags, (unsigned long long)r->env.type_id, r->env.payload_len,
              (unsigned long long)p[0]);
}

/* Terminates a runtime kernel; a kernel that does not stop cleanly is an error. */
static void kernel_stop(rk_kernel *k, const char *what)
{
    int rc = rk_kernel_terminate(k, STOP_TIMEOUT);

    if (rc != 0)
        fatal("terminate %s: %s (%s): %s", what, rk_err_name(rc), rk_strerror(rc), rk_last_error());
}

static rk_kernel_stats kernel_stats(rk_kernel *k)
{
    rk_kernel_stats st;

    RKC(rk_kernel_stats_get(k, &st));
    return st;
}

/* Spins until the kernel consumed `target` H2K messages in all; fatal if it fails or the phase expires. */
static void wait_msgs_in(rk_kernel *k, uint64_t target, const char *what)
{
    deadline d;

    dl_start(&d, what);
    for (;;) {
        rk_kernel_stats st = kernel_stats(k);
        if (st.msgs_in >= target)
            return;
        if (st.state == RK_STATE_FAILED || st.state == RK_STATE_STOPPED)
            fatal("%s: kernel '%s' is %s after %llu of %llu messages (last error %d)", what, st.name,
                  st.state == RK_STATE_FAILED ? "FAILED" : "STOPPED", (unsigned long long)st.msgs_in,
                  (unsigned long long)target, st.last_error);
        if (now_ns() > d.end)
            fatal("%s: the kernel consumed %llu of %llu messages within %lld s", what,
                  (unsigned long long)st.msgs_in, (unsigned long long)target,
                  (long long)(PHASE_NS / 1000000000));
    }
}

static rk_kernel *launch(const char *actor, uint32_t capacity, uint32_t slot, uint32_t block)
{
    rk_launch_opts o;
    rk_kernel *k = NULL;

    memset(&o, 0, sizeof o);
    o.queue_capacity = capacity;
    o.slot_size = slot;
    o.block_size = block;
    RKC(rk_kernel_launch(g_rt, actor, &o, &k));
    return k;
}

/* ---- Device code -------------------------------------------------------------------------------------------- */

/* sink: a user GPU actor that consumes without replying. It reads payload words 0 and 1 (one 16-byte load
 * over the bus, as the raw consumer reads one word) and counts messages whose content is wrong; an
 * envelope-only message (64 B slots) carries its check in the correlation id: type_id = it ^ TAG. */
__device__ unsigned long long g_sink_bad;

__device__ static int bench_sink(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    (void)ctx;
    if (env->payload_len == 0) {
        if (env->type_id != (env->correlation_id ^ TAG))
            atomicAdd(&g_sink_bad, 1ull);
        return 0;
    }
    if (env->payload_len < 16) {
        atomicAdd(&g_sink_bad, 1ull);
        return 0;
    }
    ulonglong2 w = *(const ulonglong2 *)payload; /* payloads start 64 bytes into a 128-byte slot: aligned */
    if (w.y != (w.x ^ TAG))
        atomicAdd(&g_sink_bad, 1ull);
    return 0;
}

RK_DEVICE_ACTOR(sink, bench_sink, 0)

/* Traditional command: reads a 64-byte command, writes a 64-byte result (each word + 1). */
__global__ void cmd_kernel(const uint64_t *cmd, uint64_t *res)
{
    unsigned t = threadIdx.x;
    if (t < 8)
        res[t] = cmd[t] + 1;
}

/* Traditional counter: the same state and reply layout as the built-in counter actor. */
typedef struct bench_counter {
    uint64_t count;
    int64_t sum;
} bench_counter;

__global__ void trad_add_kernel(const int64_t *value, bench_counter *st)
{
    st->count++;
    st->sum += *value;
}

__global__ void trad_get_kernel(const bench_counter *st, bench_counter *out)
{
    *out = *st;
}

/* Raw echo: anchors/probe.cu's echo_kernel. One addition: every 4096 idle polls it reads the abort word. */
__global__ void raw_echo_kernel(volatile int64_t *h2d, volatile int64_t *d2h, volatile const uint32_t *abort_flag)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    int64_t last = 0;
    uint32_t idle = 0;
    for (;;) {
        int64_t v = *h2d;
        if (v == last) {
            if ((++idle & 4095u) == 0 && *abort_flag)
                break;
            continue;
        }
        if (v < 0)
            break;
        *d2h = v;
        __threadfence_system();
        last = v;
    }
}

/* The probe's single-producer single-consumer ring in mapped host memory (copied from anchors/probe.cu). */
typedef struct raw_ring {
    volatile uint64_t head;
    char pad0[56];
    volatile uint64_t tail;
    char pad1[56];
    volatile int stop;
    char pad2[60];
} raw_ring;

/* The probe's H2K consumer block: reads up to blockDim.x messages per round, sums their first word. Added:
 * the abort word is read every 4096 empty polls. */
__global__ void raw_h2k_consumer(raw_ring *r, const uint64_t *slots, unsigned long long *sum_out,
                                 volatile const uint32_t *abort_flag)
{
    __shared__ uint64_t head_s;
    uint64_t tail = 0;
    unsigned long long acc = 0;
    for (;;) {
        if (threadIdx.x == 0) {
            uint64_t h;
            uint32_t spins = 0;
            do {
                h = r->head;
                if ((r->stop || ((++spins & 4095u) == 0 && *abort_flag)) && h == tail) {
                    h = ~0ull;
                    break;
                }
            } while (h == tail);
            head_s = h;
        }
        __syncthreads();
        uint64_t h = head_s;
        if (h == ~0ull)
            break;
        uint64_t n = h - tail;
        for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
            uint64_t idx = (tail + i) & (RAW_CAP - 1);
            acc += ((volatile const uint64_t *)slots)[idx * (RAW_SLOT / 8)];
        }
        __syncthreads();
        tail = h;
        if (threadIdx.x == 0) {
            __threadfence_system();
            r->tail = tail;
        }
    }
    atomicAdd(sum_out, acc);
}

/* The probe's K2H producer block: writes `total` messages (one 8-byte word per 64-byte slot). Added: the
 * abort word is read every 4096 polls of a full ring. */
__global__ void raw_k2h_producer(raw_ring *r, uint64_t *slots, uint64_t total, volatile const uint32_t *abort_flag)
{
    __shared__ uint64_t room_s;
    uint64_t head = 0;
    while (head < total) {
        if (threadIdx.x == 0) {
            uint64_t room = 0;
            uint32_t spins = 0;
            for (;;) {
                uint64_t t = r->tail;
                if (head - t < RAW_CAP) {
                    room = RAW_CAP - (head - t);
                    break;
                }
                if ((++spins & 4095u) == 0 && *abort_flag)
                    break; /* room 0: every thread leaves */
            }
            room_s = room;
        }
        __syncthreads();
        uint64_t n = room_s;
        if (n == 0)
            break;
        if (n > blockDim.x * 4)
            n = blockDim.x * 4;
        if (n > total - head)
            n = total - head;
        for (uint64_t i = threadIdx.x; i < n; i += blockDim.x) {
            uint64_t idx = (head + i) & (RAW_CAP - 1);
            ((volatile uint64_t *)slots)[idx * (RAW_SLOT / 8)] = head + i + 1;
        }
        __threadfence_system();
        __syncthreads();
        head += n;
        if (threadIdx.x == 0)
            r->head = head;
    }
}

/* 16-byte part `part` of the message at queue position pos (seq = pos + 1): a complete envelope (abi.h
 * layout, little-endian) and, in 128-byte slots, a 64-byte payload (word 0 = seq, word 1 = seq ^ TAG). */
__device__ __forceinline__ uint4 k2h_part(uint64_t pos, uint32_t part, uint32_t payload_len, uint64_t type_id,
                                          uint64_t stamp)
{
    const uint64_t seq = pos + 1;
    uint64_t lo, hi;

    switch (part) {
    case 0: /* magic, version, flags = 0, payload_len | type_id */
        lo = (uint64_t)RK_ENVELOPE_MAGIC | ((uint64_t)RK_ABI_VERSION << 16) | ((uint64_t)payload_len << 32);
        hi = type_id;
        break;
    case 1: /* correlation_id = 0 | source: kernel 1, instance 0 */
        lo = 0;
        hi = RK_ADDR(1, 0);
        break;
    case 2: /* dest = host | hlc.physical (device clock at the step) */
        lo = RK_ADDR_HOST;
        hi = stamp;
        break;
    case 3: /* hlc.logical, hlc.node | seq */
        lo = (uint64_t)(uint32_t)pos | ((uint64_t)1 << 32);
        hi = seq;
        break;
    case 4:
        lo = seq;
        hi = seq ^ TAG;
        break;
    default:
        lo = seq;
        hi = seq;
        break;
    }
    return make_uint4((uint32_t)lo, (uint32_t)(lo >> 32), (uint32_t)hi, (uint32_t)(hi >> 32));
}

/**
 * K2H as a pure device producer: one block publishes `total` messages into an rk_queue region in mapped
 * pinned memory with device.cuh's protocol. Per step thread 0 makes sure of room (reading tail with
 * ld.acquire.sys only when its cached copy shows too little), every thread writes 16-byte parts of the
 * step's slots (consecutive threads write consecutive bytes, so a warp stores 512 contiguous bytes), a
 * barrier, then thread 0 publishes head with fence.acq_rel.sys + a relaxed system-scope store. Up to
 * 4 x blockDim.x messages per step, as the probe's producer. Leaves early if the abort word is set while
 * it waits for room.
 */
__global__ void rk_k2h_producer(rk_queue_header *q, uint8_t *slots, uint32_t mask, uint32_t slot_shift,
                                uint64_t total, uint64_t type_id, volatile const uint32_t *abort_flag)
{
    __shared__ uint64_t room_s, stamp_s;
    const uint32_t parts_shift = slot_shift - 4; /* 16-byte parts per slot: 4 (64 B) or 8 (128 B) */
    const uint32_t payload_len = (1u << slot_shift) - RK_ENVELOPE_SIZE;
    const uint64_t cap = (uint64_t)mask + 1;
    const uint64_t step_max = (uint64_t)blockDim.x * 4;
    uint64_t head = 0, tail_cache = 0;

    while (head < total) {
        if (threadIdx.x == 0) {
            uint64_t want = total - head < step_max ? total - head : step_max;
            uint64_t room = cap - (head - tail_cache);
            if (room < want) {
                uint32_t spins = 0;
                for (;;) {
                    /* A1 (device): pairs with R2 in rk_queue_release_spsc(): the host is done with the slots
                     * before tail, so they may be overwritten. */
                    tail_cache = rk_ld_acquire_sys_u64(&q->tail);
                    room = cap - (head - tail_cache);
                    if (room > 0)
                        break;
                    if ((++spins & 4095u) == 0 && *abort_flag)
                        break; /* room 0: every thread leaves */
                }
            }
            room_s = room < want ? room : want;
            stamp_s = rk_globaltimer();
        }
        __syncthreads();
        const uint64_t n = room_s, stamp = stamp_s;
        if (n == 0)
            break;
        const uint32_t parts = (uint32_t)n << parts_shift;
        for (uint32_t c = threadIdx.x; c < parts; c += blockDim.x) {
            uint64_t pos = head + (c >> parts_shift);
            uint32_t part = c & ((1u << parts_shift) - 1);
            *(uint4 *)(slots + ((size_t)(pos & mask) << slot_shift) + ((size_t)part << 4)) =
                k2h_part(pos, part, payload_len, type_id, stamp);
        }
        __syncthreads(); /* every slot of the step is written (and room_s/stamp_s read) */
        head += n;
        if (threadIdx.x == 0) {
            /* F1 as in rk__finish(): one system-scope fence, then a relaxed store, together a release of
             * head; the barrier above made every thread's slot writes precede the fence (cumulativity).
             * Pairs with A2 in rk_queue_peek_spsc(): the slots are visible before the new head. */
            asm volatile("fence.acq_rel.sys;" ::: "memory");
            rk_st_relaxed_sys_u64(&q->head, head);
        }
    }
}

/* ---- Buffers (allocated before any persistent kernel runs, freed after the last one stopped) ------------ */

typedef struct buffers {
    /* raw echo */
    int64_t *h2d, *d2h, *h2d_d, *d2h_d;
    /* raw ring */
    raw_ring *ring, *ring_d;
    uint64_t *rslots, *rslots_d;
    unsigned long long *rsum_d, *rsum_h;
    /* our K2H region */
    void *k2h, *k2h_d;
    size_t k2h_len;
    /* traditional commands */
    uint64_t *cmd_h, *res_h, *cmd_d, *res_d;
    int64_t *val_h, *val_d;          /* the 10 values of one mixed-workload iteration */
    bench_counter *ctr_d, *ctr_out_d, *ctr_h;
    unsigned long long *bad_h;
} buffers;

static void *host_mapped(size_t len, void **dev)
{
    void *p = NULL;

    CK(cudaHostAlloc(&p, len, cudaHostAllocMapped));
    memset(p, 0, len);
    CK(cudaHostGetDevicePointer(dev, p, 0));
    return p;
}

static void *host_pinned(size_t len)
{
    void *p = NULL;

    CK(cudaHostAlloc(&p, len, cudaHostAllocDefault));
    memset(p, 0, len);
    return p;
}

static void *device_zeroed(size_t len)
{
    void *p = NULL;

    CK(cudaMalloc(&p, len));
    CK(cudaMemsetAsync(p, 0, len, g_stream));
    return p;
}

static void buffers_alloc(buffers *b)
{
    memset(b, 0, sizeof *b);
    b->h2d = (int64_t *)host_mapped(4096, (void **)&b->h2d_d);
    b->d2h = (int64_t *)host_mapped(4096, (void **)&b->d2h_d);
    b->ring = (raw_ring *)host_mapped(sizeof(raw_ring), (void **)&b->ring_d);
    b->rslots = (uint64_t *)host_mapped((size_t)RAW_CAP * RAW_SLOT, (void **)&b->rslots_d);
    b->rsum_d = (unsigned long long *)device_zeroed(8);
    b->rsum_h = (unsigned long long *)host_pinned(64);
    b->k2h_len = rk_queue_region_size(K2H_CAP, 128, RK_QUEUE_SPSC);
    if (b->k2h_len == 0)
        fatal("rk_queue_region_size(%u, 128): %s", K2H_CAP, rk_last_error());
    b->k2h = host_mapped(b->k2h_len, &b->k2h_d);
    b->cmd_h = (uint64_t *)host_pinned(4096);
    b->res_h = (uint64_t *)host_pinned(4096);
    b->cmd_d = (uint64_t *)device_zeroed(4096);
    b->res_d = (uint64_t *)device_zeroed(4096);
    b->val_h = (int64_t *)host_pinned(4096);
    b->val_d = (int64_t *)device_zeroed(4096);
    b->ctr_d = (bench_counter *)device_zeroed(sizeof(bench_counter));
    b->ctr_out_d = (bench_counter *)device_zeroed(sizeof(bench_counter));
    b->ctr_h = (bench_counter *)host_pinned(4096);
    b->bad_h = (unsigned long long *)host_pinned(64);
    CK(cudaStreamSynchronize(g_stream));
}

static void buffers_free(buffers *b)
{
    void *host[] = { b->h2d, b->d2h, b->ring, b->rslots, b->rsum_h, b->k2h, b->cmd_h, b->res_h, b->val_h, b->ctr_h,
                     b->bad_h };
    void *dev[] = { b->rsum_d, b->cmd_d, b->res_d, b->val_d, b->ctr_d, b->ctr_out_d };

    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
        CK(cudaFreeHost(host[i]));
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        CK(cudaFree(dev[i]));
}

/* Reads the sink's count of corrupt messages (device memory; async on our stream). */
static unsigned long long sink_bad(buffers *b)
{
    CK(cudaMemcpyFromSymbolAsync(b->bad_h, g_sink_bad, sizeof(unsigned long long), 0, cudaMemcpyDeviceToHost,
                                 g_stream));
    CK(cudaStreamSynchronize(g_stream));
    return *b->bad_h;
}

/* ---- Figures carried between sections -------------------------------------------------------------------- */

typedef struct results {
    lat rt, call;            /* section 1, default queues */
    lat rt_ll, call_ll;      /* section 1, RK_LAUNCH_LOW_LATENCY */
    lat trad, graph, raw;    /* section 2 */
    lat raw_store;           /* the probe's one-store inject figure, re-measured in section 2 */
    lat send;                /* section 3 */
} results;

/* ---- Section 1: round trip through the runtime ------------------------------------------------------------ */

/* One mode of section 1: send+recv and rk_call round trips on an echo kernel launched with `flags`. */
static void rt_mode(const config *c, uint32_t flags, const char *mode, lat *rt, lat *call)
{
    const uint64_t type = RK_TYPE_ID(bench_echo);
    uint64_t pay[8], back[8];
    rk_launch_opts o;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    rk_msg m, rep;
    samples s;
    rk_kernel *k;
    char key[64], what[160];

    RKC(rk_kernel_launch(g_rt, "echo", &o, &k));
    printf("  %s: built-in echo (payload max %u B); %zu warm-up, %zu timed, one message in flight\n", mode,
           rk_kernel_payload_max(k), c->rt_warm, c->rt_n);
    msg_init(&m, type, pay, PAYLOAD);
    reply_init(&rep, back, sizeof back);

    samples_init(&s, c->rt_n);
    for (size_t i = 0; i < c->rt_warm + c->rt_n; i++) {
        const uint64_t v = i + 1;
        fill_payload(pay, v);
        int64_t t0 = now_ns();
        int rc = rk_send(k, &m, OP_TIMEOUT);
        if (rc == 0)
            rc = rk_recv(k, &rep, OP_TIMEOUT);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("%s: echo round trip %zu: %s: %s", mode, i, rk_err_name(rc), rk_last_error());
        check_echo(&rep, type, v, "rk_send+rk_recv");
        if (i >= c->rt_warm)
            samples_add(&s, t1 - t0);
    }
    *rt = summarize(&s);

    m.env.flags = RK_ENV_REQUEST;
    s.n = 0;
    for (size_t i = 0; i < c->rt_warm + c->rt_n; i++) {
        const uint64_t v = (uint64_t)(c->rt_warm + c->rt_n) + i + 1;
        fill_payload(pay, v);
        int64_t t0 = now_ns();
        int rc = rk_call(k, &m, &rep, OP_TIMEOUT);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("%s: rk_call %zu: %s: %s", mode, i, rk_err_name(rc), rk_last_error());
        check_echo(&rep, type, v, "rk_call");
        if (i >= c->rt_warm)
            samples_add(&s, t1 - t0);
    }
    *call = summarize(&s);
    samples_free(&s);

    rk_kernel_stats st = kernel_stats(k);
    kernel_stop(k, "echo");

    snprintf(what, sizeof what, "rk_send + rk_recv%s", flags ? " (LL)" : "");
    print_lat(what, rt, "rk_send of a 64 B request until rk_recv returned its 64 B echo (wall clock, 1 in flight)");
    snprintf(what, sizeof what, "rk_call%s", flags ? " (LL)" : "");
    print_lat(what, call, "one rk_call: request with a fresh correlation id until its reply is copied out");
    snprintf(key, sizeof key, "roundtrip%s.send_recv", flags ? "_ll" : "");
    fig_lat(key, rt);
    snprintf(key, sizeof key, "roundtrip%s.call", flags ? "_ll" : "");
    fig_lat(key, call);
    snprintf(what, sizeof what, "%llu in, %llu out, %llu errors, %llu dropped", (unsigned long long)st.msgs_in,
             (unsigned long long)st.msgs_out, (unsigned long long)st.errors, (unsigned long long)st.dropped);
    validation(flags ? "LL: every request echoed, in order" : "every request echoed, in order",
               st.errors == 0 && st.msgs_in == st.msgs_out, what);
}

static void sec1_roundtrip(const config *c, results *r)
{
    section("1. Round trip host -> GPU actor -> host (built-in \"echo\", 64 B payload)");
    rt_mode(c, 0, "default queues", &r->rt, &r->call);
    rt_mode(c, RK_LAUNCH_LOW_LATENCY, "RK_LAUNCH_LOW_LATENCY (LL encoding, one warp)", &r->rt_ll, &r->call_ll);
}

/* ---- Section 2: traditional, graph, raw ---------------------------------------------------------------------- */

static void sec2_baselines(const config *c, results *r, buffers *b)
{
    samples s, inj;
    cudaGraph_t g;
    cudaGraphExec_t ge;
    deadline d;

    section("2. The same command without RingKernel");
    printf("  %zu warm-up, %zu timed each; no persistent kernel is resident during (a) and (b)\n", c->trad_warm,
           c->trad_n);

    /* (a) traditional */
    samples_init(&s, c->trad_n > c->raw_n ? c->trad_n : c->raw_n);
    for (size_t i = 0; i < c->trad_warm + c->trad_n; i++) {
        const uint64_t v = i + 1;
        int64_t t0 = now_ns();
        fill_payload(b->cmd_h, v);
        CK(cudaMemcpyAsync(b->cmd_d, b->cmd_h, PAYLOAD, cudaMemcpyHostToDevice, g_stream));
        cmd_kernel<<<1, 32, 0, g_stream>>>(b->cmd_d, b->res_d);
        CK(cudaGetLastError());
        CK(cudaMemcpyAsync(b->res_h, b->res_d, PAYLOAD, cudaMemcpyDeviceToHost, g_stream));
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        if (b->res_h[0] != v + 1 || b->res_h[1] != (v ^ TAG) + 1)
            fatal("traditional command %zu: wrong result %llu", i, (unsigned long long)b->res_h[0]);
        if (i >= c->trad_warm)
            samples_add(&s, t1 - t0);
    }
    r->trad = summarize(&s);

    /* (b) the same three operations captured once as a graph, replayed per command */
    CK(cudaStreamBeginCapture(g_stream, cudaStreamCaptureModeThreadLocal));
    CK(cudaMemcpyAsync(b->cmd_d, b->cmd_h, PAYLOAD, cudaMemcpyHostToDevice, g_stream));
    cmd_kernel<<<1, 32, 0, g_stream>>>(b->cmd_d, b->res_d);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(b->res_h, b->res_d, PAYLOAD, cudaMemcpyDeviceToHost, g_stream));
    CK(cudaStreamEndCapture(g_stream, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphUpload(ge, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    s.n = 0;
    for (size_t i = 0; i < c->trad_warm + c->trad_n; i++) {
        const uint64_t v = (uint64_t)(c->trad_warm + c->trad_n) + i + 1;
        int64_t t0 = now_ns();
        fill_payload(b->cmd_h, v);
        CK(cudaGraphLaunch(ge, g_stream));
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        if (b->res_h[0] != v + 1 || b->res_h[1] != (v ^ TAG) + 1)
            fatal("graph command %zu: wrong result %llu", i, (unsigned long long)b->res_h[0]);
        if (i >= c->trad_warm)
            samples_add(&s, t1 - t0);
    }
    r->graph = summarize(&s);
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));

    /* (c) raw mapped-memory echo, exactly the probe's loop (plus a deadline) */
    samples_init(&inj, c->raw_n);
    s.n = 0;
    *(volatile int64_t *)b->h2d = 0;
    *(volatile int64_t *)b->d2h = 0;
    raw_echo_kernel<<<1, 32, 0, g_stream>>>(b->h2d_d, b->d2h_d, g_abort_d);
    CK(cudaGetLastError());
    dl_start(&d, "raw echo");
    for (int64_t i = 1; i <= (int64_t)(c->raw_warm + c->raw_n); i++) {
        int64_t t = now_ns();
        *(volatile int64_t *)b->h2d = i;
        int64_t ti = now_ns();
        while (*(volatile int64_t *)b->d2h != i)
            dl_poll(&d);
        int64_t te = now_ns();
        if (i > (int64_t)c->raw_warm) {
            samples_add(&s, te - t);
            samples_add(&inj, ti - t);
        }
    }
    *(volatile int64_t *)b->h2d = -1;
    stream_wait(g_stream, "raw echo kernel");
    r->raw = summarize(&s);
    r->raw_store = summarize(&inj);
    samples_free(&s);
    samples_free(&inj);

    print_lat("(a) traditional", &r->trad,
              "write cmd to pinned buffer, memcpyAsync H2D 64 B, launch cmd kernel, memcpyAsync D2H 64 B, "
              "cudaStreamSynchronize");
    print_lat("(b) CUDA graph", &r->graph,
              "write cmd, cudaGraphLaunch of those three operations captured once, cudaStreamSynchronize");
    print_lat("(c) raw mapped echo", &r->raw,
              "probe's echo_kernel: host stores a sequence word in mapped memory, spins until it comes back");
    fig_lat("baseline.traditional", &r->trad);
    fig_lat("baseline.graph", &r->graph);
    fig_lat("baseline.raw_echo", &r->raw);
    fig_lat("baseline.raw_store", &r->raw_store);

    printf("  ratios of p50 (ours = rk_send + rk_recv of section 1; the goals apply to the latency mode, LL):\n");
    ratio("ratio.ours_ll_over_raw.p50", "ours LL / raw echo", r->rt_ll.p50, r->raw.p50, '<', 1.25);
    ratio("ratio.call_ll_over_raw.p50", "rk_call LL / raw echo", r->call_ll.p50, r->raw.p50, 0, 0);
    ratio("ratio.traditional_over_ours_ll.p50", "traditional / ours LL", r->trad.p50, r->rt_ll.p50, '>', 4.0);
    ratio("ratio.graph_over_ours_ll.p50", "graph / ours LL", r->graph.p50, r->rt_ll.p50, 0, 0);
    ratio("ratio.ours_over_raw.p50", "ours default queues / raw echo", r->rt.p50, r->raw.p50, 0, 0);
    ratio("ratio.traditional_over_ours.p50", "traditional / ours default queues", r->trad.p50, r->rt.p50, 0, 0);
    printf("  ratios of p99:\n");
    ratio("ratio.ours_ll_over_raw.p99", "ours LL / raw echo (p99)", r->rt_ll.p99, r->raw.p99, 0, 0);
    ratio("ratio.traditional_over_ours_ll.p99", "traditional / ours LL (p99)", r->trad.p99, r->rt_ll.p99, 0, 0);
    ratio("ratio.ours_over_raw.p99", "ours default queues / raw echo (p99)", r->rt.p99, r->raw.p99, 0, 0);
}

/* ---- Section 3: host cost of one rk_send ------------------------------------------------------------------- */

static void sec3_inject(const config *c, results *r, buffers *b)
{
    const uint64_t type = RK_TYPE_ID(bench_sink);
    uint64_t pay[8];
    rk_msg m;
    samples s;
    lat floor_lat;

    section("3. Host-side cost of one rk_send, 64 B payload (NO round trip)");
    rk_kernel *k = launch("sink", SINK_CAPACITY, BENCH_SLOT, 1024);
    printf("  kernel: user actor \"sink\" (consumes, never replies), capacity %u x %u B slots, block 1024; %zu "
           "warm-up, %zu timed\n",
           SINK_CAPACITY, BENCH_SLOT, c->inj_warm, c->inj_n);
    msg_init(&m, type, pay, PAYLOAD);

    samples_init(&s, c->inj_n);
    for (size_t i = 0; i < c->inj_n; i++) { /* what two back-to-back clock reads cost */
        int64_t t0 = now_ns();
        int64_t t1 = now_ns();
        samples_add(&s, t1 - t0);
    }
    floor_lat = summarize(&s);
    s.n = 0;
    for (size_t i = 0; i < c->inj_warm + c->inj_n; i++) {
        fill_payload(pay, i + 1);
        int64_t t0 = now_ns();
        int rc = rk_send(k, &m, OP_TIMEOUT);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("rk_send %zu: %s: %s", i, rk_err_name(rc), rk_last_error());
        if (i >= c->inj_warm)
            samples_add(&s, t1 - t0);
    }
    r->send = summarize(&s);
    /* The same calls back to back, runs of INJ_RUN timed as a whole: the cost per call without the two
     * clock reads (which cost about as much as the call) around each one. */
    s.n = 0;
    const size_t runs = c->inj_n / INJ_RUN;
    for (size_t j = 0; j < runs; j++) {
        int64_t t0 = now_ns();
        for (size_t i = 0; i < INJ_RUN; i++) {
            fill_payload(pay, c->inj_warm + c->inj_n + j * INJ_RUN + i + 1);
            int rc = rk_send(k, &m, OP_TIMEOUT);
            if (rc != 0)
                fatal("rk_send (back to back) %zu: %s: %s", i, rk_err_name(rc), rk_last_error());
        }
        samples_add(&s, now_ns() - t0);
    }
    lat send_run = summarize(&s);
    const double send_each = send_run.p50 / INJ_RUN;
    s.n = 0;
    for (size_t j = 0; j < runs; j++) { /* the probe's store, back to back as well */
        int64_t t0 = now_ns();
        for (size_t i = 0; i < INJ_RUN; i++)
            ((volatile int64_t *)b->h2d)[8] = (int64_t)(j * INJ_RUN + i + 1); /* mapped; no kernel reads it */
        samples_add(&s, now_ns() - t0);
    }
    const double store_each = summarize(&s).p50 / INJ_RUN;
    s.n = 0;
    for (size_t i = 0; i < c->inj_n; i++) { /* one HLC stamp, which rk_send takes for every message */
        rk_hlc_ts ts;
        int64_t t0 = now_ns();
        int rc = rk_runtime_hlc_now(g_rt, &ts);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("rk_runtime_hlc_now: %s: %s", rk_err_name(rc), rk_last_error());
        samples_add(&s, t1 - t0);
    }
    lat hlc_lat = summarize(&s);
    samples_free(&s);
    wait_msgs_in(k, c->inj_warm + c->inj_n + runs * INJ_RUN, "sink draining the sends");
    unsigned long long bad = sink_bad(b);
    rk_kernel_stats st = kernel_stats(k);
    kernel_stop(k, "sink");

    print_lat("rk_send (host cost only)", &r->send,
              "one rk_send call, two clock reads around it; the GPU consumes asynchronously (no reply)");
    print_lat("raw store (probe's 'inject')", &r->raw_store,
              "one 8-byte store to mapped memory, two clock reads around it (section 2c's loop, as the probe)");
    print_lat("timer floor", &floor_lat, "two back-to-back clock reads (included in both figures above)");
    print_lat("of which: one HLC stamp", &hlc_lat,
              "one rk_runtime_hlc_now (rk_send stamps every message with the runtime's HLC); for context");
    printf("  %-34s %9.3f us per call (p50 of %zu runs of %d calls, each run timed as a whole)\n",
           "rk_send, back to back", send_each, runs, INJ_RUN);
    printf("  %-34s %9.3f us per store (the same, for the probe's store)\n", "raw store, back to back", store_each);
    printf("%39stimes: the host cost of a call without the clock reads around it, which cost about as\n"
           "%39smuch as the call; the GPU consumes concurrently\n", "", "");
    fig_lat("inject.rk_send", &r->send);
    fig_lat("inject.hlc_now", &hlc_lat);
    fig_lat("inject.timer_floor", &floor_lat);
    fig("inject.rk_send_back_to_back", send_each, "us");
    fig("inject.raw_store_back_to_back", store_each, "us");
    /* The goal is on the call's own cost: back to back, without the timer (both figures are printed). */
    printf("  goal: rk_send host cost <= 0.050 us: %.3f us back to back (%.3f us with the timer around each "
           "call), %s\n", send_each, r->send.p50, send_each <= 0.05 ? "met" : "MISSED");
    if (g_ngoals < MAX_GOALS) {
        snprintf(g_goals[g_ngoals].text, sizeof g_goals[g_ngoals].text, "%-58s %7.3f us (goal <= 0.050 us)",
                 "rk_send host cost, back to back (no timer per call)", send_each);
        g_goals[g_ngoals++].met = send_each <= 0.05;
    }
    ratio("ratio.send_over_raw_store.p50", "rk_send / raw store (p50)", r->send.p50, r->raw_store.p50, 0, 0);
    char d[96];
    snprintf(d, sizeof d, "%llu consumed, %llu corrupt, %llu handler errors", (unsigned long long)st.msgs_in, bad,
             (unsigned long long)st.errors);
    validation("every message consumed intact",
               st.msgs_in == c->inj_warm + c->inj_n + runs * INJ_RUN && bad == 0 && st.errors == 0, d);
}

/* ---- Section 4: throughput ------------------------------------------------------------------------------ */

/* One H2K run: its rate, the host's rate while sending, and how many messages were still queued when the
 * last send returned (near the queue capacity: the GPU side limits; near 0: the host side does). */
typedef struct h2k_result {
    double rate, send_rate;
    uint64_t backlog;
} h2k_result;

/* One H2K run into sink kernel k: n messages, sent one by one (batch 0) or with rk_send_batch, until the
 * kernel's msgs_in counts them all. */
/* Message j carries value v: in its payload (fill_payload), or with payload 0 in its envelope (bench_sink). */
static inline void fill_msg(rk_msg *m, uint64_t *pay, uint64_t v)
{
    if (m->env.payload_len == 0) {
        m->env.correlation_id = v;
        m->env.type_id = v ^ TAG;
    } else {
        fill_payload(pay, v);
    }
}

/* Sends n messages of len payload bytes (PAYLOAD or 0) to the sink k, one rk_send each (batch 0) or in
 * rk_send_batch calls of batch; times until the kernel counted them all. */
static h2k_result h2k_run(rk_kernel *k, uint64_t n, uint32_t batch, uint32_t len, const char *what)
{
    h2k_result res;
    static uint64_t pays[256][8];
    static rk_msg msgs[256];
    const uint64_t type = RK_TYPE_ID(bench_sink);
    const uint64_t base = kernel_stats(k).msgs_in;

    for (int i = 0; i < 256; i++)
        msg_init(&msgs[i], type, len ? pays[i] : NULL, len);
    int64_t t0 = now_ns();
    if (batch == 0) {
        for (uint64_t i = 0; i < n; i++) {
            fill_msg(&msgs[0], pays[0], i + 1);
            int rc = rk_send(k, &msgs[0], OP_TIMEOUT);
            if (rc != 0)
                fatal("%s: rk_send %llu: %s: %s", what, (unsigned long long)i, rk_err_name(rc), rk_last_error());
        }
    } else {
        for (uint64_t sent = 0; sent < n;) {
            uint32_t todo = n - sent < batch ? (uint32_t)(n - sent) : batch;
            for (uint32_t j = 0; j < todo; j++)
                fill_msg(&msgs[j], pays[j], sent + j + 1);
            for (uint32_t done = 0; done < todo;) {
                int rc = rk_send_batch(k, msgs + done, todo - done, OP_TIMEOUT);
                if (rc <= 0)
                    fatal("%s: rk_send_batch at %llu: %s: %s", what, (unsigned long long)(sent + done),
                          rk_err_name(rc), rk_last_error());
                done += (uint32_t)rc;
            }
            sent += todo;
        }
    }
    int64_t ts = now_ns();
    res.backlog = base + n - kernel_stats(k).msgs_in;
    wait_msgs_in(k, base + n, what);
    int64_t t1 = now_ns();
    res.rate = (double)n / ((double)(t1 - t0) / 1e9);
    res.send_rate = (double)n / ((double)(ts - t0) / 1e9);
    return res;
}

/* The probe's raw H2K loop (host produces one 8-byte word per 64-byte slot). Returns messages per second. */
static double raw_h2k(buffers *b, uint64_t n, unsigned block)
{
    raw_ring *r = b->ring;
    unsigned long long expect = 0;
    uint64_t head = 0;
    deadline d;

    r->head = 0, r->tail = 0, r->stop = 0;
    CK(cudaMemsetAsync(b->rsum_d, 0, 8, g_stream));
    raw_h2k_consumer<<<1, block, 0, g_stream>>>(b->ring_d, b->rslots_d, b->rsum_d, g_abort_d);
    CK(cudaGetLastError());
    dl_start(&d, "raw H2K");
    int64_t a = now_ns();
    while (head < n) {
        uint64_t t = r->tail;
        uint64_t room = RAW_CAP - (head - t);
        if (!room) {
            dl_poll(&d);
            continue;
        }
        uint64_t m = room < n - head ? room : n - head;
        for (uint64_t i = 0; i < m; i++) {
            uint64_t idx = (head + i) & (RAW_CAP - 1);
            b->rslots[idx * (RAW_SLOT / 8)] = head + i + 1;
            expect += head + i + 1;
        }
        __sync_synchronize();
        head += m;
        r->head = head;
    }
    while (r->tail != n)
        dl_poll(&d);
    int64_t e = now_ns();
    r->stop = 1;
    stream_wait(g_stream, "raw H2K consumer");
    CK(cudaMemcpyAsync(b->rsum_h, b->rsum_d, 8, cudaMemcpyDeviceToHost, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    char msg[64];
    snprintf(msg, sizeof msg, "block %u", block);
    validation("raw H2K checksum", *b->rsum_h == expect, msg);
    return (double)n / ((double)(e - a) / 1e9);
}

/* The probe's raw K2H loop (device produces one 8-byte word per 64-byte slot). Returns messages per second. */
static double raw_k2h(buffers *b, uint64_t n, unsigned block)
{
    raw_ring *r = b->ring;
    uint64_t tail = 0;
    int ok = 1;
    deadline d;

    r->head = 0, r->tail = 0, r->stop = 0;
    dl_start(&d, "raw K2H");
    int64_t a = now_ns();
    raw_k2h_producer<<<1, block, 0, g_stream>>>(b->ring_d, b->rslots_d, n, g_abort_d);
    CK(cudaGetLastError());
    while (tail < n) {
        uint64_t h = r->head;
        if (h == tail) {
            dl_poll(&d);
            continue;
        }
        __sync_synchronize();
        for (uint64_t i = tail; i < h; i++)
            if (b->rslots[(i & (RAW_CAP - 1)) * (RAW_SLOT / 8)] != i + 1)
                ok = 0;
        tail = h;
        r->tail = tail;
    }
    int64_t e = now_ns();
    stream_wait(g_stream, "raw K2H producer");
    char msg[64];
    snprintf(msg, sizeof msg, "block %u", block);
    validation("raw K2H order", ok, msg);
    return (double)n / ((double)(e - a) / 1e9);
}

/* K2H through an rk_queue: rk_k2h_producer publishes n messages of slot bytes; the host consumes them with
 * rk_queue_peek_spsc/rk_queue_release_spsc and checks magic and seq of each (and payload word 0 in 128-byte
 * slots). Returns messages per second. */
static double rk_k2h(buffers *b, uint64_t n, unsigned block, uint32_t slot)
{
    const uint64_t type = RK_TYPE_ID(bench_k2h);
    const uint32_t shift = slot == 64 ? 6 : 7;
    rk_queue q;
    uint64_t expected = 1, bad = 0;
    deadline d;

    RKC(rk_queue_format(b->k2h, b->k2h_len, K2H_CAP, slot, RK_QUEUE_SPSC));
    RKC(rk_queue_attach(&q, b->k2h, b->k2h_len));
    /* Slot 0 lies at the same offset from the region's start on both sides of the mapping. */
    uint8_t *slots_d = (uint8_t *)b->k2h_d + ((uint8_t *)rk_queue_slot(&q, 0) - (uint8_t *)b->k2h);
    dl_start(&d, "rk_queue K2H");
    int64_t a = now_ns();
    rk_k2h_producer<<<1, block, 0, g_stream>>>((rk_queue_header *)b->k2h_d, slots_d, K2H_CAP - 1, shift, n, type,
                                               g_abort_d);
    CK(cudaGetLastError());
    while (expected <= n) {
        uint64_t pos;
        int got = rk_queue_peek_spsc(&q, K2H_CAP, &pos);
        if (got == RK_EAGAIN) {
            dl_poll(&d);
            continue;
        }
        RKC(got);
        for (int i = 0; i < got; i++, expected++) {
            const rk_envelope *e = (const rk_envelope *)rk_queue_slot(&q, pos + (uint64_t)i);
            if (e->seq != expected || e->magic != RK_ENVELOPE_MAGIC)
                bad++;
            else if (slot == 128 && ((const uint64_t *)rk_envelope_payload_const(e))[0] != expected)
                bad++;
        }
        RKC(rk_queue_release_spsc(&q, (uint32_t)got));
    }
    int64_t e = now_ns();
    stream_wait(g_stream, "rk_queue K2H producer");
    char msg[96];
    snprintf(msg, sizeof msg, "%u B slots, block %u: %llu bad of %llu", slot, block, (unsigned long long)bad,
             (unsigned long long)n);
    validation("rk_queue K2H magic + seq of every message", bad == 0, msg);
    return (double)n / ((double)(e - a) / 1e9);
}

/* Echo pipelined: batches of 256 sent and received, up to `window` messages in flight. The window is at
 * most half the queue capacity, so neither H2K nor K2H can fill: sends never wait, the kernel never waits
 * for reply room. */
static double echo_pipelined(uint64_t n, uint32_t window)
{
    static uint64_t out_pay[256][8], in_pay[256][8];
    static rk_msg out[256], in[256];
    const uint64_t type = RK_TYPE_ID(bench_echo);
    uint64_t sent = 0, recvd = 0;
    deadline d;

    rk_kernel *k = launch("echo", SINK_CAPACITY, BENCH_SLOT, 1024);
    for (int i = 0; i < 256; i++) {
        msg_init(&out[i], type, out_pay[i], PAYLOAD);
        reply_init(&in[i], in_pay[i], PAYLOAD);
    }
    dl_start(&d, "echo pipelined");
    int64_t t0 = now_ns();
    while (recvd < n) {
        int progress = 0;
        if (sent < n && sent - recvd < window) {
            uint64_t todo = n - sent;
            if (todo > 256)
                todo = 256;
            if (todo > window - (sent - recvd))
                todo = window - (sent - recvd);
            for (uint64_t j = 0; j < todo; j++)
                fill_payload(out_pay[j], sent + j + 1);
            int rc = rk_send_batch(k, out, (uint32_t)todo, 0);
            if (rc > 0)
                sent += (uint64_t)rc, progress = 1;
            else if (rc != RK_EAGAIN)
                fatal("echo pipelined: rk_send_batch: %s: %s", rk_err_name(rc), rk_last_error());
        }
        /* Window full or everything sent: block for replies. Otherwise only look (a zero timeout). */
        const int64_t wait = (sent == n || sent - recvd >= window) ? OP_TIMEOUT : 0;
        int rc = rk_recv_batch(k, in, 256, wait);
        if (rc > 0) {
            for (int j = 0; j < rc; j++)
                check_echo(&in[j], type, recvd + (uint64_t)j + 1, "echo pipelined");
            recvd += (uint64_t)rc, progress = 1;
        } else if (rc != RK_EAGAIN) {
            fatal("echo pipelined: rk_recv_batch: %s: %s", rk_err_name(rc), rk_last_error());
        }
        if (!progress)
            dl_poll(&d);
    }
    int64_t t1 = now_ns();
    kernel_stop(k, "echo (pipelined)");
    return (double)n / ((double)(t1 - t0) / 1e9);
}

static void print_rate(const char *key, const char *label, double rate, unsigned slot_bytes)
{
    printf("  %-46s %8.1f M msg/s  %6.2f GB/s of slots\n", label, rate / 1e6, rate * slot_bytes / 1e9);
    fig(key, rate, "msg/s");
}

static void sec4_throughput(const config *c, buffers *b)
{
    const uint64_t n = c->tput_n;
    char key[96], label[96];

    section("4. Throughput, 64 B messages");
    printf("  %llu messages per run. Ours: 64 B messages are envelope-only messages in 64 B slots (the envelope\n"
           "  carries type, correlation id, HLC stamp, addresses, sequence); also 64 B envelope + 64 B payload in\n"
           "  128 B slots; capacity %u. Raw (the probe's loops, re-measured now): 64 B slots, capacity %u, one\n"
           "  8-byte word written and read per slot.\n",
           (unsigned long long)n, SINK_CAPACITY, RAW_CAP);

    printf("\n  H2K (host -> GPU): host sends to the sink actor; timed from the first send until the kernel's\n"
           "  msgs_in (rk_kernel_stats_get) counts all n. 'queued at the last send' near the capacity means\n"
           "  the GPU side limits the rate; near 0, the host side (rk_send) does.\n");
    const unsigned blocks[2] = { 256, 1024 };
    for (int bi = 0; bi < 2; bi++) {
        const unsigned blk = blocks[bi];
        double best = 0, best128 = 0;
        for (int sz = 0; sz < 2; sz++) {
            const uint32_t slot = sz == 0 ? 64u : BENCH_SLOT, len = sz == 0 ? 0u : PAYLOAD;
            rk_kernel *k = launch("sink", SINK_CAPACITY, slot, blk);
            const uint32_t batches[3] = { 0, 64, 256 };
            for (int j = 0; j < 3; j++) {
                h2k_result hr = h2k_run(k, n, batches[j], len, "H2K into sink");
                snprintf(label, sizeof label, "block %4u, %3u B slots, %s x%u", blk, slot,
                         batches[j] ? "rk_send_batch" : "rk_send", batches[j] ? batches[j] : 1u);
                snprintf(key, sizeof key, "h2k.block%u.slot%u.batch%u", blk, slot, batches[j]);
                print_rate(key, label, hr.rate, slot);
                printf("  %-46s   (host send phase %.1f M msg/s; %llu queued at the last send)\n", "",
                       hr.send_rate / 1e6, (unsigned long long)hr.backlog);
                snprintf(key, sizeof key, "h2k.block%u.slot%u.batch%u.backlog", blk, slot, batches[j]);
                fig(key, (double)hr.backlog, "count");
                double *bp = sz == 0 ? &best : &best128;
                if (hr.rate > *bp)
                    *bp = hr.rate;
            }
            unsigned long long bad = sink_bad(b);
            rk_kernel_stats st = kernel_stats(k);
            kernel_stop(k, "sink");
            char d[96];
            snprintf(d, sizeof d, "block %u, %u B slots: %llu consumed, %llu corrupt", blk, slot,
                     (unsigned long long)st.msgs_in, bad);
            validation("H2K: every message consumed intact", st.msgs_in == 3 * n && bad == 0 && st.errors == 0, d);
        }

        double raw = raw_h2k(b, n, blk);
        snprintf(label, sizeof label, "block %4u, raw probe loop", blk);
        snprintf(key, sizeof key, "h2k.block%u.raw", blk);
        print_rate(key, label, raw, RAW_SLOT);
        snprintf(label, sizeof label, "H2K block %u: best of ours (64 B slots) / raw (this run)", blk);
        snprintf(key, sizeof key, "ratio.h2k.block%u.ours_over_raw", blk);
        ratio(key, label, best, raw, '>', 0.9);
        snprintf(label, sizeof label, "H2K block %u: best of ours (128 B slots) / raw (this run)", blk);
        snprintf(key, sizeof key, "ratio.h2k.block%u.ours128_over_raw", blk);
        ratio(key, label, best128, raw, 0, 0);
        snprintf(label, sizeof label, "H2K block %u: raw now / anchor %.1f M", blk,
                 blk == 1024 ? ANCHOR_H2K_1024 : ANCHOR_H2K_256);
        snprintf(key, sizeof key, "ratio.h2k.block%u.raw_over_anchor", blk);
        ratio(key, label, raw / 1e6, blk == 1024 ? ANCHOR_H2K_1024 : ANCHOR_H2K_256, 0, 0);
    }

    printf("\n  Echo pipelined (H2K + K2H): built-in echo, block 1024; batches of 256 sent (rk_send_batch) and\n"
           "  received (rk_recv_batch), at most 32768 in flight; timed from the first send to the last reply\n");
    double pipe = echo_pipelined(n, 32768);
    print_rate("echo_pipelined", "echo pipelined, replies per second", pipe, BENCH_SLOT);

    printf("\n  K2H (GPU -> host): one device block publishes into an rk_queue (capacity %u) in mapped pinned\n"
           "  memory, device.cuh's protocol; the host consumes with rk_queue_peek_spsc/release_spsc and checks\n"
           "  every sequence number. (The CUDA actor loop sends at most one reply per request, so K2H alone\n"
           "  is measured with this producer.) Timed from the launch until the host consumed all n\n",
           K2H_CAP);
    for (int bi = 0; bi < 2; bi++) {
        const unsigned blk = blocks[bi];
        double ours64 = rk_k2h(b, n, blk, 64);
        snprintf(label, sizeof label, "block %4u, rk_queue, 64 B envelope-only msgs", blk);
        snprintf(key, sizeof key, "k2h.block%u.rk64", blk);
        print_rate(key, label, ours64, 64);
        double ours128 = rk_k2h(b, n, blk, 128);
        snprintf(label, sizeof label, "block %4u, rk_queue, 64 B payload (128 B slots)", blk);
        snprintf(key, sizeof key, "k2h.block%u.rk128", blk);
        print_rate(key, label, ours128, 128);
        double raw = raw_k2h(b, n, blk);
        snprintf(label, sizeof label, "block %4u, raw probe loop", blk);
        snprintf(key, sizeof key, "k2h.block%u.raw", blk);
        print_rate(key, label, raw, RAW_SLOT);
        snprintf(label, sizeof label, "K2H block %u: ours (64 B slots) / raw (this run)", blk);
        snprintf(key, sizeof key, "ratio.k2h.block%u.ours64_over_raw", blk);
        ratio(key, label, ours64, raw, '>', 0.9);
        snprintf(label, sizeof label, "K2H block %u: ours (128 B slots) / raw (this run)", blk);
        snprintf(key, sizeof key, "ratio.k2h.block%u.ours128_over_raw", blk);
        ratio(key, label, ours128, raw, 0, 0);
        snprintf(label, sizeof label, "K2H block %u: raw now / anchor %.1f M", blk,
                 blk == 1024 ? ANCHOR_K2H_1024 : ANCHOR_K2H_256);
        snprintf(key, sizeof key, "ratio.k2h.block%u.raw_over_anchor", blk);
        ratio(key, label, raw / 1e6, blk == 1024 ? ANCHOR_K2H_1024 : ANCHOR_K2H_256, 0, 0);
    }
}

/* ---- Section 5: the seed's comparison table ---------------------------------------------------------------- */

/* One row: ours with default queues, ours with RK_LAUNCH_LOW_LATENCY (< 0: not measured), traditional; the
 * ratio is taken against the faster of ours. */
static void table_row(const char *key, const char *op, double ours, double ours_ll, double trad)
{
    const double best = ours_ll > 0 && ours_ll < ours ? ours_ll : ours;
    char k[96], ll[32];

    if (ours_ll > 0)
        snprintf(ll, sizeof ll, "%9.3f us", ours_ll);
    else
        snprintf(ll, sizeof ll, "%12s", "-");
    printf("  %-14s %9.3f us %s %11.3f us %9.1fx\n", op, ours, ll, trad, best > 0 ? trad / best : 0);
    snprintf(k, sizeof k, "table.%s.ours_p50", key), fig(k, ours, "us");
    if (ours_ll > 0)
        snprintf(k, sizeof k, "table.%s.ours_ll_p50", key), fig(k, ours_ll, "us");
    snprintf(k, sizeof k, "table.%s.traditional_p50", key), fig(k, trad, "us");
    snprintf(k, sizeof k, "table.%s.ratio", key), fig(k, best > 0 ? trad / best : 0, "x");
}

/* Section 5's "ours" side on the built-in counter launched with `flags`: query (rk_call counter_get) and
 * mixed (10 rk_send counter_add + rk_call counter_get), every get checked against the adds. */
static void counter_ours(const config *c, uint32_t flags, lat *o_query, lat *o_mixed, rk_kernel_stats *st)
{
    const size_t warm = c->trad_warm, nq = c->query_n, nm = c->mixed_n;
    const uint64_t add = RK_TYPE_ID(counter_add), get = RK_TYPE_ID(counter_get);
    const int prefill = 1000;
    rk_launch_opts o;
    memset(&o, 0, sizeof o);
    o.flags = flags;
    rk_kernel *k;
    RKC(rk_kernel_launch(g_rt, "counter", &o, &k));
    int64_t v;
    bench_counter back;
    rk_msg m_add, m_get, rep;
    msg_init(&m_add, add, &v, sizeof v);
    msg_init(&m_get, get, NULL, 0);
    m_get.env.flags = RK_ENV_REQUEST;
    reply_init(&rep, &back, sizeof back);
    uint64_t count = 0;
    int64_t sum = 0;
    samples s;
    samples_init(&s, nq > nm ? nq : nm);
    for (int i = 1; i <= prefill; i++) {
        v = i;
        RKC(rk_send(k, &m_add, OP_TIMEOUT));
        count++, sum += i;
    }
    s.n = 0;
    for (size_t i = 0; i < warm + nq; i++) {
        memset(&back, 0, sizeof back);
        int64_t t0 = now_ns();
        int rc = rk_call(k, &m_get, &rep, OP_TIMEOUT);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("counter_get %zu: %s: %s", i, rk_err_name(rc), rk_last_error());
        if ((rep.env.flags & RK_ENV_ERROR) || rep.env.payload_len != sizeof back || back.count != count ||
            back.sum != sum)
            fatal("counter_get %zu: count %llu sum %lld (%u bytes, flags 0x%x), expected %llu %lld", i,
                  (unsigned long long)back.count, (long long)back.sum, rep.env.payload_len, rep.env.flags,
                  (unsigned long long)count, (long long)sum);
        if (i >= warm)
            samples_add(&s, t1 - t0);
    }
    *o_query = summarize(&s);

    s.n = 0;
    for (size_t i = 0; i < warm / 10 + nm; i++) {
        int64_t t0 = now_ns();
        for (int j = 0; j < 10; j++) {
            v = (int64_t)(i * 10 + (size_t)j + 1);
            int rc = rk_send(k, &m_add, OP_TIMEOUT);
            if (rc != 0)
                fatal("mixed %zu: counter_add: %s: %s", i, rk_err_name(rc), rk_last_error());
        }
        int rc = rk_call(k, &m_get, &rep, OP_TIMEOUT);
        int64_t t1 = now_ns();
        if (rc != 0)
            fatal("mixed %zu: counter_get: %s: %s", i, rk_err_name(rc), rk_last_error());
        for (int j = 0; j < 10; j++)
            count++, sum += (int64_t)(i * 10 + (size_t)j + 1);
        if (back.count != count || back.sum != sum)
            fatal("mixed %zu: count %llu sum %lld, expected %llu %lld (an add was lost or ran after the get)", i,
                  (unsigned long long)back.count, (long long)back.sum, (unsigned long long)count, (long long)sum);
        if (i >= warm / 10)
            samples_add(&s, t1 - t0);
    }
    *o_mixed = summarize(&s);
    samples_free(&s);
    *st = kernel_stats(k);
    kernel_stop(k, "counter");
}

static void sec5_table(const config *c, const results *r, buffers *b)
{
    const size_t warm = c->trad_warm, nq = c->query_n, nm = c->mixed_n;
    const uint64_t add = RK_TYPE_ID(counter_add), get = RK_TYPE_ID(counter_get);
    const int prefill = 1000;
    samples s;
    lat t_inject, t_query, t_step, t_mixed, o_query, o_mixed;
    size_t cap = c->trad_n;

    if (nq > cap)
        cap = nq;
    if (nm > cap)
        cap = nm;
    section("5. The seed's comparison table, reproduced (p50; both sides measured in this run)");
    samples_init(&s, cap);

    /* Traditional side first, while no persistent kernel is resident. */
    for (size_t i = 0; i < warm + c->trad_n; i++) { /* inject: memcpy H2D 64 B + sync */
        fill_payload(b->cmd_h, i + 1);
        int64_t t0 = now_ns();
        CK(cudaMemcpyAsync(b->cmd_d, b->cmd_h, PAYLOAD, cudaMemcpyHostToDevice, g_stream));
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        if (i >= warm)
            samples_add(&s, t1 - t0);
    }
    t_inject = summarize(&s);

    s.n = 0;
    for (size_t i = 0; i < warm + c->trad_n; i++) { /* single step: launch the command kernel + sync */
        int64_t t0 = now_ns();
        cmd_kernel<<<1, 32, 0, g_stream>>>(b->cmd_d, b->res_d);
        CK(cudaGetLastError());
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        if (i >= warm)
            samples_add(&s, t1 - t0);
    }
    t_step = summarize(&s);

    /* query: state {count, sum} in device memory; launch a kernel that copies it out, D2H, sync */
    b->ctr_h->count = (uint64_t)prefill;
    b->ctr_h->sum = (int64_t)prefill * (prefill + 1) / 2;
    CK(cudaMemcpyAsync(b->ctr_d, b->ctr_h, sizeof(bench_counter), cudaMemcpyHostToDevice, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    s.n = 0;
    for (size_t i = 0; i < warm + nq; i++) {
        b->ctr_h->count = 0;
        int64_t t0 = now_ns();
        trad_get_kernel<<<1, 1, 0, g_stream>>>(b->ctr_d, b->ctr_out_d);
        CK(cudaGetLastError());
        CK(cudaMemcpyAsync(b->ctr_h, b->ctr_out_d, sizeof(bench_counter), cudaMemcpyDeviceToHost, g_stream));
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        if (b->ctr_h->count != (uint64_t)prefill)
            fatal("traditional query %zu: count %llu, expected %d", i, (unsigned long long)b->ctr_h->count, prefill);
        if (i >= warm)
            samples_add(&s, t1 - t0);
    }
    t_query = summarize(&s);

    /* mixed: per iteration 10 x (H2D of the 8-byte value + add kernel), then get kernel + D2H + sync */
    uint64_t count = (uint64_t)prefill;
    int64_t sum = (int64_t)prefill * (prefill + 1) / 2;
    s.n = 0;
    for (size_t i = 0; i < warm / 10 + nm; i++) {
        int64_t t0 = now_ns();
        for (int j = 0; j < 10; j++) {
            b->val_h[j] = (int64_t)(i * 10 + (size_t)j + 1);
            CK(cudaMemcpyAsync(b->val_d + j, b->val_h + j, sizeof(int64_t), cudaMemcpyHostToDevice, g_stream));
            trad_add_kernel<<<1, 1, 0, g_stream>>>(b->val_d + j, b->ctr_d);
            CK(cudaGetLastError());
        }
        trad_get_kernel<<<1, 1, 0, g_stream>>>(b->ctr_d, b->ctr_out_d);
        CK(cudaGetLastError());
        CK(cudaMemcpyAsync(b->ctr_h, b->ctr_out_d, sizeof(bench_counter), cudaMemcpyDeviceToHost, g_stream));
        CK(cudaStreamSynchronize(g_stream));
        int64_t t1 = now_ns();
        for (int j = 0; j < 10; j++)
            count++, sum += (int64_t)(i * 10 + (size_t)j + 1);
        if (b->ctr_h->count != count || b->ctr_h->sum != sum)
            fatal("traditional mixed %zu: count %llu sum %lld, expected %llu %lld", i,
                  (unsigned long long)b->ctr_h->count, (long long)b->ctr_h->sum, (unsigned long long)count,
                  (long long)sum);
        if (i >= warm / 10)
            samples_add(&s, t1 - t0);
    }
    t_mixed = summarize(&s);

    /* Ours: the built-in counter actor, default queues and RK_LAUNCH_LOW_LATENCY. */
    rk_kernel_stats st, st_ll;
    lat o_query_ll, o_mixed_ll;
    counter_ours(c, 0, &o_query, &o_mixed, &st);
    counter_ours(c, RK_LAUNCH_LOW_LATENCY, &o_query_ll, &o_mixed_ll, &st_ll);

    printf("  %-14s %12s %12s %14s %10s\n", "operation", "ours", "ours LL", "traditional", "trad/best");
    table_row("inject", "inject", r->send.p50, -1, t_inject.p50);
    table_row("query", "query", o_query.p50, o_query_ll.p50, t_query.p50);
    table_row("single_step", "single step", r->rt.p50, r->rt_ll.p50, t_step.p50);
    table_row("mixed", "mixed (10+1)", o_mixed.p50, o_mixed_ll.p50, t_mixed.p50);
    printf("  ours: default queues; ours LL: the same kernels launched with RK_LAUNCH_LOW_LATENCY (one warp,\n"
           "  LL queue encoding; section 1). trad/best: traditional over the faster of the two.\n");
    printf("  inject:       host cost of making a 64 B command visible to the GPU. Ours: one rk_send (section 3;\n"
           "                it returns once the message is in mapped memory, the GPU sees it on its next poll).\n"
           "                Traditional: cudaMemcpyAsync H2D of 64 B + cudaStreamSynchronize (without the sync\n"
           "                the host knows neither when the copy ran nor when it may reuse the buffer).\n"
           "  query:        read actor state on the GPU and return it to the host. Ours: rk_call counter_get on\n"
           "                the built-in counter (ordered) actor. Traditional: launch a kernel copying the\n"
           "                state {count, sum} + cudaMemcpyAsync D2H 16 B + cudaStreamSynchronize.\n"
           "  single step:  one 64 B command processed on the GPU and acknowledged to the host. Ours: the echo\n"
           "                round trip of section 1 (rk_send + rk_recv). Traditional: launch the command\n"
           "                kernel (command already in device memory) + cudaStreamSynchronize.\n"
           "  mixed (10+1): one iteration = 10 injects of an int64 add + 1 query, with the query checking that\n"
           "                all adds were applied. Ours: 10 rk_send counter_add + rk_call counter_get.\n"
           "                Traditional: 10 x (cudaMemcpyAsync H2D 8 B + add kernel), no sync between them\n"
           "                (stream order suffices), then get kernel + D2H 16 B + cudaStreamSynchronize.\n");
    fig_lat("table.detail.traditional_inject", &t_inject);
    fig_lat("table.detail.traditional_query", &t_query);
    fig_lat("table.detail.traditional_single_step", &t_step);
    fig_lat("table.detail.traditional_mixed", &t_mixed);
    fig_lat("table.detail.ours_query", &o_query);
    fig_lat("table.detail.ours_mixed", &o_mixed);
    fig_lat("table.detail.ours_ll_query", &o_query_ll);
    fig_lat("table.detail.ours_ll_mixed", &o_mixed_ll);
    printf("  p99 for the record: query ours %.3f / LL %.3f / traditional %.3f us; mixed ours %.3f / LL %.3f / "
           "traditional %.3f us\n",
           o_query.p99, o_query_ll.p99, t_query.p99, o_mixed.p99, o_mixed_ll.p99, t_mixed.p99);
    char d[96];
    snprintf(d, sizeof d, "%llu in, %llu replies, %llu errors", (unsigned long long)st.msgs_in,
             (unsigned long long)st.msgs_out, (unsigned long long)st.errors);
    validation("counter: every add applied before each get", st.errors == 0, d);
    snprintf(d, sizeof d, "%llu in, %llu replies, %llu errors", (unsigned long long)st_ll.msgs_in,
             (unsigned long long)st_ll.msgs_out, (unsigned long long)st_ll.errors);
    validation("counter LL: every add applied before each get", st_ll.errors == 0, d);
}

/* ---- Header, JSON, main ----------------------------------------------------------------------------------- */

typedef struct meta {
    char gpu[256];
    int sms, cc_major, cc_minor;
    char driver[32], runtime[32], commit[96], date[32], cpu[128];
} meta;

static void version_string(int v, char *out, size_t cap)
{
    snprintf(out, cap, "%d.%d", v / 1000, (v % 1000) / 10);
}

static void read_commit(char *out, size_t cap)
{
    const char *env = getenv("RK_GIT_COMMIT");
    FILE *p;

    snprintf(out, cap, "unknown");
    if (env != NULL && env[0] != '\0') {
        snprintf(out, cap, "%s", env);
        return;
    }
    p = popen("git -C '" RK_BENCH_SOURCE_DIR "' describe --always --dirty --abbrev=12 2>/dev/null", "r");
    if (p == NULL)
        return;
    if (fgets(out, (int)cap, p) != NULL)
        out[strcspn(out, "\r\n")] = '\0';
    else
        snprintf(out, cap, "unknown");
    pclose(p);
}

static void read_cpu(char *out, size_t cap)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(out, cap, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            if (v != NULL) {
                v++;
                while (*v == ' ' || *v == '\t')
                    v++;
                snprintf(out, cap, "%s", v);
                out[strcspn(out, "\r\n")] = '\0';
            }
            break;
        }
    }
    fclose(f);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", (unsigned char)*s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static void write_json(const char *path, const meta *mt, int quick)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "gpu_latency: cannot write %s\n", path);
        g_failed++;
        return;
    }
    fprintf(f, "{\n  \"meta\": {\"gpu\": ");
    json_string(f, mt->gpu);
    fprintf(f, ", \"sms\": %d, \"cc\": \"%d.%d\", \"driver_api\": ", mt->sms, mt->cc_major, mt->cc_minor);
    json_string(f, mt->driver);
    fprintf(f, ", \"cuda_runtime\": ");
    json_string(f, mt->runtime);
    fprintf(f, ", \"commit\": ");
    json_string(f, mt->commit);
    fprintf(f, ", \"date\": ");
    json_string(f, mt->date);
    fprintf(f, ", \"cpu\": ");
    json_string(f, mt->cpu);
    fprintf(f, ", \"mode\": \"%s\", \"failed_checks\": %d},\n  \"figures\": {\n", quick ? "quick" : "full", g_failed);
    for (int i = 0; i < g_nfigs; i++) {
        fprintf(f, "    ");
        json_string(f, g_figs[i].key);
        fprintf(f, ": {\"value\": %.6g, \"unit\": \"%s\"}%s\n", g_figs[i].value, g_figs[i].unit,
                i + 1 < g_nfigs ? "," : "");
    }
    fprintf(f, "  }\n}\n");
    if (fclose(f) != 0) {
        fprintf(stderr, "gpu_latency: error writing %s\n", path);
        g_failed++;
    } else {
        printf("figures written to %s\n", path);
    }
}

static void header(meta *mt, const config *c)
{
    struct cudaDeviceProp p;
    int drv = 0, rtv = 0;
    time_t t = time(NULL);
    struct tm tm;

    CK(cudaGetDeviceProperties(&p, 0));
    if (!p.canMapHostMemory || !p.unifiedAddressing)
        fatal("device 0 (%s) cannot map host memory", p.name);
    CK(cudaDriverGetVersion(&drv));
    CK(cudaRuntimeGetVersion(&rtv));
    snprintf(mt->gpu, sizeof mt->gpu, "%s", p.name);
    mt->sms = p.multiProcessorCount;
    mt->cc_major = p.major;
    mt->cc_minor = p.minor;
    version_string(drv, mt->driver, sizeof mt->driver);
    version_string(rtv, mt->runtime, sizeof mt->runtime);
    read_commit(mt->commit, sizeof mt->commit);
    read_cpu(mt->cpu, sizeof mt->cpu);
    gmtime_r(&t, &tm);
    strftime(mt->date, sizeof mt->date, "%Y-%m-%dT%H:%M:%SZ", &tm);

    printf("# gpu_latency: RingKernel GPU latency and throughput, side by side with the baselines\n");
    printf("# gpu: %s, %d SMs, compute capability %d.%d\n", mt->gpu, mt->sms, mt->cc_major, mt->cc_minor);
    printf("# driver: CUDA driver API %s; CUDA runtime %s\n", mt->driver, mt->runtime);
    printf("# host cpu: %s\n", mt->cpu);
    printf("# commit: %s\n", mt->commit);
    printf("# date: %s\n", mt->date);
    printf("# mode: %s (%s)\n", c->quick ? "quick" : "full", c->quick ? "small counts: a smoke test, not figures" : "default counts");
    printf("# latencies: wall clock (CLOCK_MONOTONIC) per operation; p50/p99 = sorted sample at round(p*(n-1))\n");
}

int main(int argc, char **argv)
{
    config c;
    rk_backend_status st;
    rk_runtime_opts o;
    meta mt;
    buffers b;
    results r;

    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_args(argc, argv, &c);
    RKC(rk_backend_probe(RK_BACKEND_CUDA, &st));
    if (!st.available) {
        printf("gpu_latency: skipped: the CUDA backend is unavailable: %s\n", st.reason);
        return 77;
    }
    if (rk__actor_registered_sink != 0)
        fatal("registering the GPU actor 'sink' failed: %s (%s)", rk_err_name(rk__actor_registered_sink),
              rk_last_error());
    /* Mapped pinned memory needs the flag before the context exists; an existing context implies it. */
    cudaError_t fe = cudaSetDeviceFlags(cudaDeviceMapHost);
    if (fe != cudaSuccess && fe != cudaErrorSetOnActiveProcess)
        CK(fe);
    (void)cudaGetLastError();
    header(&mt, &c);
    CK(cudaSetDevice(0));

    memset(&o, 0, sizeof o);
    o.backend = RK_BACKEND_CUDA;
    o.device = 0;
    RKC(rk_runtime_create(&g_rt, &o));
    CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    g_abort_h = (volatile uint32_t *)host_mapped(4096, (void **)&g_abort_d);
    buffers_alloc(&b);
    memset(&r, 0, sizeof r);

    int64_t t0 = now_ns();
    sec1_roundtrip(&c, &r);
    sec2_baselines(&c, &r, &b);
    sec3_inject(&c, &r, &b);
    sec4_throughput(&c, &b);
    sec5_table(&c, &r, &b);

    section("Goals");
    int met = 0;
    for (int i = 0; i < g_ngoals; i++) {
        printf("  %-6s %s\n", g_goals[i].met ? "met" : "MISSED", g_goals[i].text);
        met += g_goals[i].met;
    }
    printf("  %d of %d goals met; %d validation check%s failed; total %.1f s\n", met, g_ngoals, g_failed,
           g_failed == 1 ? "" : "s", (double)(now_ns() - t0) / 1e9);

    /* Every runtime kernel was terminated by its section; destroy the runtime, then free our buffers. */
    int rc = rk_runtime_destroy(g_rt);
    g_rt = NULL;
    if (rc != 0)
        fatal("rk_runtime_destroy: %s (%s): %s", rk_err_name(rc), rk_strerror(rc), rk_last_error());
    buffers_free(&b);
    CK(cudaFreeHost((void *)g_abort_h));
    g_abort_h = NULL;
    CK(cudaStreamDestroy(g_stream));
    if (c.json != NULL)
        write_json(c.json, &mt, c.quick);
    return g_failed ? 1 : 0;
}
