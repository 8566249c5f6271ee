/* compute_conformance.c - the compute kernels of tests/compute/kernels/ (*.rk) run through compute.h on one
 * backend and compared with plain C references computed here.
 *
 *   compute_conformance BACKEND [KERNEL_DIR]     BACKEND: cpu, cuda, vulkan (rk_backend_parse)
 *
 * Exit status: 0 every kernel matched; 1 a mismatch or an error (printed); 77 (CTest: skipped) when the
 * backend is not available on this machine. Integer kernels (reduction, prefix sum, histogram) must match
 * exactly. Float kernels (SAXPY, the 2D and 3D stencils) must be within MAX_ULP units in the last place of
 * the reference in every element: the reference is evaluated in float in the kernel's order, and the only
 * freedom a target has is contracting a * b + c into one fused multiply-add (CUDA does, C11 does not) or
 * reassociating within an expression, each of which moves a result of these inputs (all positive, no
 * cancellation) by at most a couple of ulp. The largest distance seen is printed for every float kernel.
 *
 * The program cache goes where rk_program_opts.cache_dir = NULL puts it ($RK_CACHE_DIR: CTest sets it to
 * the build tree). Sizes keep the CPU run under a few seconds, sanitizers included.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mix64.h"
#include "ringkernel/compute.h"
#include "ringkernel/ringkernel.h"

#ifndef RK_KERNEL_DIR
#define RK_KERNEL_DIR "tests/compute/kernels"
#endif

/* The largest accepted distance of a float result from its reference, in ulp. */
#define MAX_ULP 4

static const char *g_dir = RK_KERNEL_DIR;
static rk_runtime *g_rt;
static int g_failed;

#define CHECK(call)                                                                                      \
    do {                                                                                                 \
        int rc_ = (call);                                                                                \
        if (rc_ != 0) {                                                                                  \
            fprintf(stderr, "%s:%d: %s failed: %s (%s)\n", __FILE__, __LINE__, #call, rk_err_name(rc_), \
                    rk_last_error());                                                                    \
            exit(1);                                                                                     \
        }                                                                                                \
    } while (0)

/* A deterministic pseudo-random sequence (splitmix64), so every run and backend sees the same inputs. */
static uint64_t g_seed = 0x2545f4914f6cdd1dull;

static uint32_t next_u32(void) { return (uint32_t)(mix64(g_seed += 0x9e3779b97f4a7c15ull) >> 32); }

/* A float in [lo, hi). */
static float next_f32(float lo, float hi) { return lo + (hi - lo) * (float)(next_u32() >> 8) / 16777216.0f; }

/* The distance between two finite floats of the same sign in units in the last place. */
static uint32_t ulp_diff(float a, float b)
{
    int32_t ia, ib;

    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if ((ia < 0) != (ib < 0))
        return a == b ? 0 : UINT32_MAX;
    return ia > ib ? (uint32_t)(ia - ib) : (uint32_t)(ib - ia);
}

static rk_program *load(const char *file)
{
    char path[1024], log[8192] = "";
    rk_program_opts o = { .log = log, .log_cap = sizeof log };
    rk_program *p;
    rk_program_info info;
    int rc;

    snprintf(path, sizeof path, "%s/%s", g_dir, file);
    rc = rk_program_create_file(g_rt, path, &o, &p);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n%s\n", path, rk_err_name(rc), rk_last_error(), log);
        exit(1);
    }
    CHECK(rk_program_info_get(p, &info));
    printf("  %-14s %s/%s, %u kernel(s), %s in %.1f ms\n", file, info.target, info.arch, info.kernels,
           info.from_cache ? "from the cache" : "compiled", info.build_ms);
    return p;
}

static rk_buffer *buffer(size_t bytes, const void *init)
{
    rk_buffer *b;

    CHECK(rk_buffer_create(g_rt, bytes, &b));
    if (init != NULL)
        CHECK(rk_buffer_write(b, 0, init, bytes));
    return b;
}

static void report(const char *name, int ok, const char *detail)
{
    printf("%-20s %s  %s\n", name, ok ? "ok  " : "FAIL", detail);
    g_failed |= !ok;
}

/* Compares n floats within MAX_ULP; prints the worst. */
static void compare_f32(const char *name, const float *got, const float *want, size_t n)
{
    uint32_t worst = 0;
    size_t at = 0;
    char detail[256];

    for (size_t i = 0; i < n; i++) {
        uint32_t d = ulp_diff(got[i], want[i]);

        if (d > worst) {
            worst = d;
            at = i;
        }
    }
    snprintf(detail, sizeof detail, "%zu floats, max %u ulp (bound %u)%s", n, worst, (unsigned)MAX_ULP,
             worst ? "" : ", bit-exact");
    if (worst > MAX_ULP) {
        size_t m = strlen(detail);

        snprintf(detail + m, sizeof detail - m, "; at [%zu] got %.9g want %.9g", at, (double)got[at],
                 (double)want[at]);
    }
    report(name, worst <= MAX_ULP, detail);
}

static void compare_u32(const char *name, const uint32_t *got, const uint32_t *want, size_t n)
{
    char detail[256];
    size_t bad = 0, first = 0;

    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i] && bad++ == 0)
            first = i;
    }
    if (bad == 0)
        snprintf(detail, sizeof detail, "%zu u32 values, exact", n);
    else
        snprintf(detail, sizeof detail, "%zu of %zu differ; first [%zu] got %u want %u", bad, n, first, got[first],
                 want[first]);
    report(name, bad == 0, detail);
}

static void test_saxpy(void)
{
    enum { N = 100003 }; /* not a multiple of the workgroup: the kernel's bounds check runs */
    rk_program *p = load("saxpy.rk");
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *want = malloc(N * sizeof *want);
    const float a = 1.75f;

    for (size_t i = 0; i < N; i++) {
        x[i] = next_f32(0.0f, 100.0f);
        y[i] = next_f32(0.0f, 100.0f);
        want[i] = a * x[i] + y[i];
    }
    rk_buffer *bx = buffer(N * sizeof *x, x), *by = buffer(N * sizeof *y, y);
    rk_arg args[] = { RK_ARG_BUF(by), RK_ARG_BUF(bx), RK_ARG_F32(a), RK_ARG_U32(N) };

    CHECK(rk_program_launch(p, "saxpy", (uint32_t[3]){ N, 1, 1 }, args, 4));
    CHECK(rk_buffer_read(by, 0, y, N * sizeof *y));
    compare_f32("saxpy", y, want, N);
    rk_buffer_destroy(bx);
    rk_buffer_destroy(by);
    rk_program_destroy(p);
    free(x);
    free(y);
    free(want);
}

static void test_reduce(void)
{
    enum { N = 5000 };
    rk_program *p = load("reduce.rk");
    uint32_t *x = malloc(N * sizeof *x), want = 0, got = 0;

    for (size_t i = 0; i < N; i++) {
        x[i] = next_u32(); /* sums wrap modulo 2^32 on every target */
        want += x[i];
    }
    rk_buffer *bx = buffer(N * sizeof *x, x), *bt = buffer(sizeof got, NULL);
    rk_arg args[] = { RK_ARG_BUF(bx), RK_ARG_BUF(bt), RK_ARG_U32(N) };

    CHECK(rk_program_launch(p, "reduce_sum", (uint32_t[3]){ N, 1, 1 }, args, 3));
    CHECK(rk_buffer_read(bt, 0, &got, sizeof got));
    compare_u32("reduce_sum", &got, &want, 1);
    rk_buffer_destroy(bx);
    rk_buffer_destroy(bt);
    rk_program_destroy(p);
    free(x);
}

static void test_stencil2d(void)
{
    enum { NX = 203, NY = 97 };
    const size_t n = (size_t)NX * NY;
    rk_program *p = load("stencil2d.rk");
    float *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v), *want = calloc(n, sizeof *want);
    const float w = 0.2f;

    for (size_t i = 0; i < n; i++)
        u[i] = next_f32(1.0f, 2.0f);
    for (size_t y = 1; y < NY - 1; y++) {
        for (size_t x = 1; x < NX - 1; x++) {
            size_t c = y * NX + x;
            float s = u[c] + u[c - 1] + u[c + 1] + u[c - NX] + u[c + NX];

            want[c] = s * w;
        }
    }
    rk_buffer *bu = buffer(n * sizeof *u, u), *bv = buffer(n * sizeof *v, NULL);
    rk_arg args[] = { RK_ARG_BUF(bu), RK_ARG_BUF(bv), RK_ARG_F32(w) };

    CHECK(rk_program_launch(p, "smooth5", (uint32_t[3]){ NX, NY, 1 }, args, 3));
    CHECK(rk_buffer_read(bv, 0, v, n * sizeof *v));
    compare_f32("stencil2d smooth5", v, want, n); /* the halo stays 0: the kernel writes the interior only */
    rk_buffer_destroy(bu);
    rk_buffer_destroy(bv);
    rk_program_destroy(p);
    free(u);
    free(v);
    free(want);
}

static void test_stencil3d(void)
{
    enum { NX = 37, NY = 29, NZ = 23, STEPS = 4 };
    const size_t n = (size_t)NX * NY * NZ, sy = NX, sz = (size_t)NX * NY;
    rk_program *p = load("stencil3d.rk");
    float *u = malloc(n * sizeof *u), *got = malloc(n * sizeof *got), *a = malloc(n * sizeof *a),
          *b = malloc(n * sizeof *b);
    const float alpha = 0.1f;

    for (size_t i = 0; i < n; i++)
        u[i] = next_f32(1.0f, 2.0f);
    memcpy(a, u, n * sizeof *a);
    memcpy(b, u, n * sizeof *b);
    rk_buffer *bu = buffer(n * sizeof *u, u), *bv = buffer(n * sizeof *u, u);

    /* Several steps back and forth: each launch must see the previous one's writes (compute.h ordering). */
    for (int s = 0; s < STEPS; s++) {
        float *src = s % 2 ? b : a, *dst = s % 2 ? a : b;
        rk_arg args[] = { RK_ARG_BUF(s % 2 ? bv : bu), RK_ARG_BUF(s % 2 ? bu : bv), RK_ARG_F32(alpha) };

        for (size_t z = 1; z < NZ - 1; z++) {
            for (size_t y = 1; y < NY - 1; y++) {
                for (size_t x = 1; x < NX - 1; x++) {
                    size_t c = z * sz + y * sy + x;
                    float lap = src[c - 1] + src[c + 1] + src[c - sy] + src[c + sy] + src[c - sz] + src[c + sz] -
                                6.0f * src[c];

                    dst[c] = src[c] + alpha * lap;
                }
            }
        }
        CHECK(rk_program_launch(p, "heat7", (uint32_t[3]){ NX, NY, NZ }, args, 3));
    }
    CHECK(rk_buffer_read(STEPS % 2 ? bv : bu, 0, got, n * sizeof *got));
    compare_f32("stencil3d heat7 x4", got, STEPS % 2 ? b : a, n);
    rk_buffer_destroy(bu);
    rk_buffer_destroy(bv);
    rk_program_destroy(p);
    free(u);
    free(got);
    free(a);
    free(b);
}

static void test_scan(void)
{
    enum { N = 4000, WG = 64 };
    const uint32_t groups = (N + WG - 1) / WG; /* 63: the block sums fit one workgroup */
    rk_program *p = load("scan.rk");
    uint32_t *x = malloc(N * sizeof *x), *got = malloc(N * sizeof *got), *want = malloc(N * sizeof *want), acc = 0;

    for (size_t i = 0; i < N; i++) {
        x[i] = next_u32() % 1000;
        want[i] = acc += x[i];
    }
    rk_buffer *bd = buffer(N * sizeof *x, x), *bs = buffer(WG * sizeof(uint32_t), NULL),
              *bt = buffer(sizeof(uint32_t), NULL);
    rk_arg pass1[] = { RK_ARG_BUF(bd), RK_ARG_BUF(bs), RK_ARG_U32(N) };
    rk_arg pass2[] = { RK_ARG_BUF(bs), RK_ARG_BUF(bt), RK_ARG_U32(groups) };
    rk_arg pass3[] = { RK_ARG_BUF(bd), RK_ARG_BUF(bs), RK_ARG_U32(N) };

    CHECK(rk_program_launch(p, "scan_blocks", (uint32_t[3]){ N, 1, 1 }, pass1, 3));
    CHECK(rk_program_launch(p, "scan_blocks", (uint32_t[3]){ groups, 1, 1 }, pass2, 3));
    CHECK(rk_program_launch(p, "scan_add", (uint32_t[3]){ N, 1, 1 }, pass3, 3));
    CHECK(rk_buffer_read(bd, 0, got, N * sizeof *got));
    compare_u32("scan (3 launches)", got, want, N);
    rk_buffer_destroy(bd);
    rk_buffer_destroy(bs);
    rk_buffer_destroy(bt);
    rk_program_destroy(p);
    free(x);
    free(got);
    free(want);
}

static void test_histogram(void)
{
    enum { N = 200000, BINS = 64 };
    rk_program *p = load("histogram.rk");
    uint32_t *x = malloc(N * sizeof *x), got[BINS], want[BINS] = { 0 };

    for (size_t i = 0; i < N; i++) {
        /* Skewed: half the values land in bin 7, so many work-items contend for one counter. */
        x[i] = i % 2 ? next_u32() : 7u + 64u * (next_u32() % 1000);
        want[x[i] % BINS]++;
    }
    rk_buffer *bx = buffer(N * sizeof *x, x), *bb = buffer(sizeof got, NULL);
    rk_arg args[] = { RK_ARG_BUF(bx), RK_ARG_BUF(bb), RK_ARG_U32(N) };

    CHECK(rk_program_launch(p, "histogram", (uint32_t[3]){ N, 1, 1 }, args, 3));
    CHECK(rk_compute_sync(g_rt));
    CHECK(rk_buffer_read(bb, 0, got, sizeof got));
    compare_u32("histogram (atomics)", got, want, BINS);
    rk_buffer_destroy(bx);
    rk_buffer_destroy(bb);
    rk_program_destroy(p);
    free(x);
}

int main(int argc, char **argv)
{
    rk_backend_kind kind;
    rk_backend_status st;

    if (argc < 2 || rk_backend_parse(argv[1], &kind) != 0) {
        fprintf(stderr, "usage: compute_conformance cpu|cuda|vulkan [KERNEL_DIR]\n");
        return 2;
    }
    if (argc > 2)
        g_dir = argv[2];
    if (rk_backend_probe(kind, &st) != 0 || !st.available) {
        printf("compute_conformance: backend %s unavailable (%s): skipped\n", argv[1], st.reason);
        return 77;
    }
    CHECK(rk_runtime_create(&g_rt, &(rk_runtime_opts){ .backend = kind }));
    printf("compute_conformance on %s (%s); float bound %d ulp\n", rk_backend_name(kind), st.reason, MAX_ULP);
    test_saxpy();
    test_reduce();
    test_stencil2d();
    test_stencil3d();
    test_scan();
    test_histogram();
    CHECK(rk_runtime_destroy(g_rt));
    printf("compute_conformance: %s\n", g_failed ? "FAILED" : "all kernels match");
    return g_failed ? 1 : 0;
}
