/* bench_common.c - machine, clock, pinning, percentiles and the raw probe shared by the CPU benchmarks
 * (bench_common.h). */
#include "bench_common.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bc_cores = 1;
double bc_ns_per_tick = 1;
double bc_tick_overhead_ns;
static cpu_set_t all_cores; /* affinity at start, restored where threads must be free */

int bc_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

void bc_init(double secs)
{
    uint64_t d[1001], k0, k1;
    double t0, t1;

    bc_cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    pthread_getaffinity_np(pthread_self(), sizeof all_cores, &all_cores);
    t0 = bc_now_s();
    k0 = bc_ticks();
    do {
        t1 = bc_now_s();
    } while (t1 - t0 < secs);
    k1 = bc_ticks();
    bc_ns_per_tick = (t1 - t0) * 1e9 / (double)(k1 - k0);
    for (int i = 0; i < 1001; i++) {
        uint64_t a = bc_ticks();

        d[i] = bc_ticks() - a;
    }
    qsort(d, 1001, sizeof d[0], bc_cmp_u64);
    bc_tick_overhead_ns = (double)d[500] * bc_ns_per_tick;
}

void bc_pin(int core)
{
    cpu_set_t s;

    if (bc_cores < 2)
        return;
    CPU_ZERO(&s);
    CPU_SET(core, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

void bc_unpin(void) { pthread_setaffinity_np(pthread_self(), sizeof all_cores, &all_cores); }

/* Other work on the machine skews every figure, so the logs record how busy it was before and after. */
void bc_loadavg(char *out, size_t cap)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;

    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
    else
        snprintf(out, cap, "?");
    if (f)
        fclose(f);
}

void bc_cpu_model(char *out, size_t cap)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");

    snprintf(out, cap, "unknown");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');

        if (strncmp(line, "model name", 10) == 0 && c) {
            snprintf(out, cap, "%s", c + 2);
            out[strcspn(out, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

void bc_commit(const char *file, char *out, size_t cap, int *dirty)
{
    const char *env = getenv("RK_GIT_COMMIT");
    char dir[400], cmd[600], line[512];
    char *slash;
    FILE *f;

    *dirty = 0;
    snprintf(out, cap, "unknown");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    snprintf(dir, sizeof dir, "%s", file);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse --short HEAD 2>/dev/null", dir);
    if ((f = popen(cmd, "r")) != NULL) {
        if (fgets(out, (int)cap, f))
            out[strcspn(out, "\n")] = '\0';
        else
            snprintf(out, cap, "unknown");
        pclose(f);
    }
    snprintf(cmd, sizeof cmd, "git -C '%s' status --porcelain --untracked-files=no 2>/dev/null", dir);
    if ((f = popen(cmd, "r")) != NULL) {
        *dirty = fgets(line, sizeof line, f) != NULL;
        pclose(f);
    }
}

bc_lat_sum bc_lat_summarise(bc_lat *l)
{
    bc_lat_sum s = { 0, 0, 0, 0 };

    if (l->n == 0)
        return s;
    qsort(l->ticks, l->n, sizeof l->ticks[0], bc_cmp_u64);
    s.min = (double)l->ticks[0] * bc_ns_per_tick;
    s.p50 = (double)l->ticks[l->n / 2] * bc_ns_per_tick;
    s.p99 = (double)l->ticks[l->n * 99 / 100] * bc_ns_per_tick;
    s.mean = l->mean_ns;
    return s;
}

/* ---- The raw probe: the anchor's algorithm, inlined ---------------------------------------------------- */

#define RAW_CAP 4096
typedef struct raw_slot {
    uint64_t seq;
    uint64_t pad[7];
} raw_slot;
static _Alignas(128) _Atomic uint64_t raw_head;
static _Alignas(128) _Atomic uint64_t raw_tail;
static _Alignas(128) raw_slot raw_ring[RAW_CAP];
static uint64_t raw_n, raw_bad;
static _Atomic int raw_ready;

static void *raw_consumer(void *a)
{
    uint64_t t = 0, h = 0, bad = 0;

    (void)a;
    bc_pin(1);
    atomic_store(&raw_ready, 1);
    while (t < raw_n) {
        if (t == h) {
            while ((h = atomic_load_explicit(&raw_head, memory_order_acquire)) == t)
                ;
        }
        for (; t < h; t++)
            bad += raw_ring[t & (RAW_CAP - 1)].seq != t;
        atomic_store_explicit(&raw_tail, t, memory_order_release);
    }
    raw_bad = bad;
    return 0;
}

double bc_raw_throughput(uint64_t n, uint64_t *bad)
{
    pthread_t th;
    uint64_t h = 0, tc = 0;
    double a;

    raw_n = n;
    atomic_store(&raw_head, 0);
    atomic_store(&raw_tail, 0);
    atomic_store(&raw_ready, 0);
    bc_pin(0);
    pthread_create(&th, 0, raw_consumer, 0);
    while (!atomic_load(&raw_ready))
        ;
    a = bc_now_s();
    while (h < n) {
        uint64_t room, m;

        if (h - tc >= RAW_CAP) {
            while (h - (tc = atomic_load_explicit(&raw_tail, memory_order_acquire)) >= RAW_CAP)
                ;
        }
        room = RAW_CAP - (h - tc);
        m = room < 64 ? room : 64;
        if (m > n - h)
            m = n - h;
        for (uint64_t i = 0; i < m; i++)
            raw_ring[(h + i) & (RAW_CAP - 1)].seq = h + i;
        h += m;
        atomic_store_explicit(&raw_head, h, memory_order_release);
    }
    pthread_join(th, 0);
    *bad = raw_bad;
    return bc_now_s() - a;
}

static _Alignas(128) _Atomic uint64_t raw_ping;
static _Alignas(128) _Atomic uint64_t raw_pong;

static void *raw_ponger(void *a)
{
    uint64_t n = *(uint64_t *)a;

    bc_pin(1);
    for (uint64_t i = 1; i <= n; i++) {
        while (atomic_load_explicit(&raw_ping, memory_order_acquire) != i)
            ;
        atomic_store_explicit(&raw_pong, i, memory_order_release);
    }
    return 0;
}

/* The anchor's cache-line ping-pong; with ticks, one timestamp pair per round trip. */
static void raw_pingpong_pass(uint64_t n, uint64_t *ticks, double *mean_ns)
{
    pthread_t th;
    double a;

    atomic_store(&raw_ping, 0);
    atomic_store(&raw_pong, 0);
    bc_pin(0);
    pthread_create(&th, 0, raw_ponger, &n);
    a = bc_now_s();
    for (uint64_t i = 1; i <= n; i++) {
        uint64_t k = ticks ? bc_ticks() : 0;

        atomic_store_explicit(&raw_ping, i, memory_order_release);
        while (atomic_load_explicit(&raw_pong, memory_order_acquire) != i)
            ;
        if (ticks)
            ticks[i - 1] = bc_ticks() - k;
    }
    *mean_ns = (bc_now_s() - a) * 1e9 / (double)n;
    pthread_join(th, 0);
}

void bc_raw_pingpong(uint64_t n, bc_lat *l)
{
    double unused;

    raw_pingpong_pass(n, NULL, &l->mean_ns);
    raw_pingpong_pass(n, l->ticks, &unused);
    l->n = n;
}
