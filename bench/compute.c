/* compute.c - the compute benchmark (compute.h): the same .rk kernels (bench/kernels/bench.rk) on every
 * backend named on the command line, each against the copy bandwidth of its own device measured in the
 * same run.
 *
 *   compute_bench [--json FILE] [--big] [--reps N] [--kernels DIR] [BACKEND...]   (default: cpu cuda vulkan)
 *
 * Figures, per backend (a backend that is not available, or has no compute, is reported as skipped):
 *   copy      the device's own copy (CUDA: cudaMemcpyAsync device to device; CPU: memcpy on one thread;
 *             Vulkan: none) and the .rk `copy` kernel, over the SAXPY size: GB/s counting the bytes read
 *             and written (2 x size). The roofline of the figures below is the better of the two.
 *   saxpy     2^26 and 2^28 floats: G elements/s, 12 bytes per element (two reads, one write), and the
 *             fraction of the copy bandwidth that is.
 *   heat7     3D 7-point stencil at 64^3, 256^3, 512^3: G interior cells/s, 8 bytes per cell as the ideal
 *             traffic (one read of u, one write of v), and its fraction of the roofline; `heat7_tiled`
 *             (shared-memory tiles) beside it where the backend has tiles (CUDA).
 *   launch    the `nop` kernel over one work-item: (a) queued: 1000 launches back to back, then one sync,
 *             per launch; (b) round trip: one launch then its sync, median of single round trips.
 *
 * Timing: every figure is warmed up first (one launch and a sync, excluded: it also loads the program).
 * A repetition queues K launches back to back and then waits once (rk_compute_sync, or the stream's
 * synchronize for the native copy), with K chosen so one repetition takes about 50 ms (at most 1000);
 * the figure is the median over the repetitions of (repetition time / K). Host wall clock
 * (CLOCK_MONOTONIC), so the launch path is included, as an application would see it.
 *
 * Sizes: on the CPU backend and on a software Vulkan device (llvmpipe) 2^28-float SAXPY and the 512^3
 * stencil are skipped unless --big (1-2 GiB each, minutes on a small machine). Results are checked: the
 * copy and SAXPY outputs at sampled points, and heat7 against heat7_tiled bit for bit at 64^3.
 * Exit status: 0, or 1 when a figure failed (a skipped backend is not a failure).
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringkernel/compute.h"
#include "ringkernel/ringkernel.h"

#ifdef RK_BENCH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef RK_BENCH_KERNEL_DIR
#define RK_BENCH_KERNEL_DIR "bench/kernels"
#endif

#define MAX_RECORDS 256
#define MAX_BACKENDS 4

typedef struct record {
    char backend[16];
    char figure[48]; /* "saxpy_2^26", ... */
    double value;
    char unit[16];
    double fraction; /* of the copy roofline; < 0: none */
} record;

static record g_rec[MAX_RECORDS];
static int g_nrec;
static int g_failed;
static int g_reps = 0; /* 0: the default per backend */
static int g_big;

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void add(const char *backend, const char *figure, double value, const char *unit, double fraction)
{
    if (g_nrec == MAX_RECORDS)
        return;
    snprintf(g_rec[g_nrec].backend, sizeof g_rec[g_nrec].backend, "%s", backend);
    snprintf(g_rec[g_nrec].figure, sizeof g_rec[g_nrec].figure, "%s", figure);
    snprintf(g_rec[g_nrec].unit, sizeof g_rec[g_nrec].unit, "%s", unit);
    g_rec[g_nrec].value = value;
    g_rec[g_nrec].fraction = fraction;
    g_nrec++;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "  FAILED: %s: %s: %s\n", what, rk_err_name(rc), rk_last_error());
    g_failed = 1;
    return rc;
}

/* ---- Timing ------------------------------------------------------------------------------------------ */

/* Something to time: `launch` queues one operation, `sync` waits for all queued. */
typedef struct op {
    int (*launch)(void *ctx);
    int (*sync)(void *ctx);
    void *ctx;
} op;

/*
 * Seconds per operation: warm-up (one launch and a sync, excluded), then reps repetitions of K launches
 * queued back to back and one sync, K sized to ~50 ms per repetition (1..kmax); the median of time / K.
 * Returns < 0 on an error (reported).
 */
static double time_op(const op *o, int reps, int kmax, const char *what)
{
    double t, per[64];
    int k, rc;

    if ((rc = o->launch(o->ctx)) != 0 || (rc = o->sync(o->ctx)) != 0)
        return fail(what, rc), -1.0;
    t = now_s();
    if ((rc = o->launch(o->ctx)) != 0 || (rc = o->sync(o->ctx)) != 0)
        return fail(what, rc), -1.0;
    t = now_s() - t;
    k = t > 0 ? (int)(0.05 / t) : kmax;
    k = k < 1 ? 1 : k > kmax ? kmax : k;
    if (reps > 64)
        reps = 64;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        for (int i = 0; i < k; i++)
            if ((rc = o->launch(o->ctx)) != 0)
                return fail(what, rc), -1.0;
        if ((rc = o->sync(o->ctx)) != 0)
            return fail(what, rc), -1.0;
        per[r] = (now_s() - t0) / k;
    }
    return median(per, reps);
}

/* ---- The .rk kernels --------------------------------------------------------------------------------- */

typedef struct kctx {
    rk_runtime *rt;
    rk_program *p;
    const char *kernel;
    uint32_t size[3];
    rk_arg args[4];
    size_t nargs;
    long launches; /* queued so far (SAXPY's output is checked against it) */
} kctx;

static int k_launch(void *c)
{
    kctx *k = c;
    k->launches++;
    return rk_program_launch(k->p, k->kernel, k->size, k->args, k->nargs);
}

static int k_sync(void *c) { return rk_compute_sync(((kctx *)c)->rt); }

/* ---- Native copies ----------------------------------------------------------------------------------- */

typedef struct cctx {
    void *dst, *src;
    size_t bytes;
#ifdef RK_BENCH_CUDA
    cudaStream_t stream;
#endif
} cctx;

static int memcpy_launch(void *c)
{
    cctx *x = c;
    memcpy(x->dst, x->src, x->bytes);
    return 0;
}

static int nothing(void *c)
{
    (void)c;
    return 0;
}

#ifdef RK_BENCH_CUDA
static int cuda_copy_launch(void *c)
{
    cctx *x = c;
    return cudaMemcpyAsync(x->dst, x->src, x->bytes, cudaMemcpyDeviceToDevice, x->stream) == cudaSuccess
               ? 0 : RK_EBACKEND;
}

static int cuda_copy_sync(void *c)
{
    return cudaStreamSynchronize(((cctx *)c)->stream) == cudaSuccess ? 0 : RK_EBACKEND;
}
#endif

/* The device's own copy bandwidth (GB/s counting reads and writes), or 0 when it has none. */
static double native_copy(const char *bname, size_t bytes, int reps)
{
    cctx x = { 0 };
    double t = -1;

    x.bytes = bytes;
    if (strcmp(bname, "cpu") == 0) {
        op o = { memcpy_launch, nothing, &x };
        x.dst = malloc(bytes);
        x.src = malloc(bytes);
        if (x.dst == NULL || x.src == NULL) {
            fprintf(stderr, "  FAILED: memcpy baseline: out of memory\n");
            g_failed = 1;
        } else {
            memset(x.src, 1, bytes);
            memset(x.dst, 0, bytes);
            t = time_op(&o, reps, 1000, "memcpy");
        }
        free(x.dst);
        free(x.src);
        if (t > 0)
            printf("  copy   native memcpy (one thread)       %9.1f GB/s   %zu MiB, read + write\n", 2.0 * bytes / t * 1e-9, bytes >> 20);
    }
#ifdef RK_BENCH_CUDA
    if (strcmp(bname, "cuda") == 0) {
        op o = { cuda_copy_launch, cuda_copy_sync, &x };
        if (cudaStreamCreateWithFlags(&x.stream, cudaStreamNonBlocking) != cudaSuccess ||
            cudaMalloc(&x.dst, bytes) != cudaSuccess || cudaMalloc(&x.src, bytes) != cudaSuccess ||
            cudaMemset(x.src, 1, bytes) != cudaSuccess) {
            fprintf(stderr, "  FAILED: cudaMemcpy baseline: %s\n", cudaGetErrorString(cudaGetLastError()));
            g_failed = 1;
        } else {
            t = time_op(&o, reps, 1000, "cudaMemcpyAsync device to device");
        }
        cudaFree(x.dst);
        cudaFree(x.src);
        if (x.stream)
            cudaStreamDestroy(x.stream);
        if (t > 0)
            printf("  copy   native cudaMemcpyAsync D2D       %9.1f GB/s   %zu MiB, read + write\n", 2.0 * bytes / t * 1e-9, bytes >> 20);
    }
#endif
    if (t <= 0)
        return 0;
    add(bname, "copy_native", 2.0 * bytes / t * 1e-9, "GB/s", -1);
    return 2.0 * bytes / t * 1e-9;
}

/* ---- One backend ------------------------------------------------------------------------------------- */

static uint64_t g_seed = 0x9e3779b97f4a7c15ull;

static float next_f32(void)
{
    g_seed = g_seed * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(g_seed >> 40) / 16777216.0f;
}

/* Fills a buffer from the host, in 16 MiB pieces: 0 the pattern i % 1024, 1 random in [0, 1), 2 zeros. */
static int fill(rk_buffer *b, size_t n, int mode)
{
    const size_t chunk = (size_t)4 << 20;
    float *h = malloc(chunk * sizeof *h);
    int rc = 0;

    if (h == NULL)
        return RK_ENOMEM;
    for (size_t off = 0; off < n && rc == 0; off += chunk) {
        size_t m = n - off < chunk ? n - off : chunk;
        for (size_t i = 0; i < m; i++)
            h[i] = mode == 1 ? next_f32() : mode == 2 ? 0.0f : (float)((off + i) & 1023);
        rc = rk_buffer_write(b, off * sizeof *h, h, m * sizeof *h);
    }
    free(h);
    return rc;
}

static void run_backend(const char *bname, const char *kdir, int *ran)
{
    rk_backend_kind kind;
    rk_backend_status st;
    rk_runtime_opts ro = { 0 };
    rk_runtime *rt = NULL;
    rk_program *p = NULL;
    rk_program_info info;
    rk_device_info dev;
    char path[1024], log[8192] = "";
    rk_program_opts po = { .log = log, .log_cap = sizeof log };
    int small, reps, rc;
    double copy_bw = 0, native_bw = 0;

    *ran = 0;
    printf("\n== %s\n", bname);
    if (rk_backend_parse(bname, &kind) != 0) {
        printf("  skipped: unknown backend '%s'\n", bname);
        return;
    }
    if (rk_backend_probe(kind, &st) != 0 || !st.available) {
        printf("  skipped: %s\n", st.reason);
        return;
    }
    memset(&dev, 0, sizeof dev);
    (void)rk_backend_devices(kind, &dev, 1);
    /* Small sizes on the CPU and on a software GPU (Mesa's llvmpipe behind lavapipe). */
    small = kind == RK_BACKEND_CPU || strstr(dev.name, "llvmpipe") != NULL;
    reps = g_reps > 0 ? g_reps : small ? 3 : 7;
    ro.backend = kind;
    if ((rc = rk_runtime_create(&rt, &ro)) != 0) {
        printf("  skipped: rk_runtime_create: %s: %s\n", rk_err_name(rc), rk_last_error());
        return;
    }
    snprintf(path, sizeof path, "%s/bench.rk", kdir);
    rc = rk_program_create_file(rt, path, &po, &p);
    if (rc == RK_ENOTSUP || rc == RK_ENODEV) {
        printf("  skipped: %s: %s\n", rk_err_name(rc), rk_last_error());
        rk_runtime_destroy(rt);
        return;
    }
    if (rc != 0) {
        fail("rk_program_create_file", rc);
        fprintf(stderr, "%s\n", log);
        rk_runtime_destroy(rt);
        return;
    }
    *ran = 1;
    rk_program_info_get(p, &info);
    printf("  device: %s (%d compute units); program: %s/%s, %s in %.1f ms; %d repetitions, median\n",
           dev.name, dev.compute_units, info.target, info.arch, info.from_cache ? "from the cache" : "compiled",
           info.build_ms, reps);

    /* ---- SAXPY, with the copy bandwidth over the same size first ---- */
    {
        static const int logs[] = { 26, 28 };
        for (size_t s = 0; s < sizeof logs / sizeof logs[0]; s++) {
            const uint32_t n = 1u << logs[s];
            rk_buffer *x = NULL, *y = NULL;
            kctx k = { .rt = rt, .p = p, .size = { n, 1, 1 } };
            op o = { k_launch, k_sync, &k };
            char fig[48];
            double t;

            if (small && logs[s] > 26 && !g_big) {
                printf("  saxpy  2^%d: skipped on this backend (--big runs it)\n", logs[s]);
                continue;
            }
            if ((rc = rk_buffer_create(rt, (size_t)n * 4, &x)) != 0 || (rc = rk_buffer_create(rt, (size_t)n * 4, &y)) != 0) {
                fail("rk_buffer_create", rc);
                rk_buffer_destroy(x);
                continue;
            }
            if ((rc = fill(x, n, 0)) != 0) { /* y: zeros from rk_buffer_create */
                fail("rk_buffer_write", rc);
                goto saxpy_done;
            }
            if (s == 0) {
                native_bw = native_copy(bname, (size_t)n * 4, reps);
                k.kernel = "copy";
                k.args[0] = RK_ARG_BUF(y), k.args[1] = RK_ARG_BUF(x), k.args[2] = RK_ARG_U32(n), k.nargs = 3;
                t = time_op(&o, reps, 1000, "copy kernel");
                if (t > 0) {
                    float probe[2];
                    copy_bw = 2.0 * n * 4 / t * 1e-9;
                    printf("  copy   .rk copy kernel                  %9.1f GB/s   %u floats, read + write\n", copy_bw, n);
                    add(bname, "copy_kernel", copy_bw, "GB/s", native_bw > 0 ? copy_bw / native_bw : -1);
                    if ((rc = rk_buffer_read(y, (size_t)(n - 2) * 4, probe, sizeof probe)) != 0 ||
                        probe[0] != (float)((n - 2) & 1023) || probe[1] != (float)((n - 1) & 1023)) {
                        fprintf(stderr, "  FAILED: copy kernel output wrong\n");
                        g_failed = 1;
                    }
                }
                if (native_bw > copy_bw)
                    copy_bw = native_bw;
                printf("  roofline (better copy): %.1f GB/s\n", copy_bw);
                if ((rc = fill(y, n, 2)) != 0) {
                    fail("rk_buffer_write", rc);
                    goto saxpy_done;
                }
            }
            k.kernel = "saxpy";
            k.args[0] = RK_ARG_BUF(y), k.args[1] = RK_ARG_BUF(x), k.args[2] = RK_ARG_F32(1.0f), k.args[3] = RK_ARG_U32(n);
            k.nargs = 4;
            k.launches = 0;
            /* a = 1, y = 0 at first: after L launches y = L * x exactly (integers below 2^24 in float) */
            t = time_op(&o, reps, 1000, "saxpy");
            if (t > 0) {
                const double ge = n / t * 1e-9, gbs = 12.0 * n / t * 1e-9;
                float probe = -1;
                printf("  saxpy  2^%d floats                      %9.2f G elem/s  %7.1f GB/s (12 B/elem)  %5.1f%% of copy\n",
                       logs[s], ge, gbs, copy_bw > 0 ? 100.0 * gbs / copy_bw : 0.0);
                snprintf(fig, sizeof fig, "saxpy_2^%d", logs[s]);
                add(bname, fig, ge, "Gelem/s", copy_bw > 0 ? gbs / copy_bw : -1);
                if ((rc = rk_buffer_read(y, (size_t)(n / 3) * 4, &probe, sizeof probe)) != 0 ||
                    probe != (float)(k.launches * (long)((n / 3) & 1023))) {
                    fprintf(stderr, "  FAILED: saxpy output wrong (%g after %ld launches)\n", (double)probe, k.launches);
                    g_failed = 1;
                }
            }
        saxpy_done:
            rk_buffer_destroy(x);
            rk_buffer_destroy(y);
        }
    }

    /* ---- 3D 7-point stencil ---- */
    {
        static const uint32_t sizes[] = { 64, 256, 512 };
        const int tiles = kind == RK_BACKEND_CUDA; /* the only target that implements `tile` */
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const uint32_t nn = sizes[s];
            const size_t cells = (size_t)nn * nn * nn, interior = (size_t)(nn - 2) * (nn - 2) * (nn - 2);
            rk_buffer *u = NULL, *v = NULL, *vt = NULL;
            kctx k = { .rt = rt, .p = p, .size = { nn, nn, nn }, .nargs = 3 };
            op o = { k_launch, k_sync, &k };
            double t, tt = -1;
            char fig[48];

            if (small && nn > 256 && !g_big) {
                printf("  heat7  %u^3: skipped on this backend (--big runs it)\n", nn);
                continue;
            }
            if ((rc = rk_buffer_create(rt, cells * 4, &u)) != 0 || (rc = rk_buffer_create(rt, cells * 4, &v)) != 0 ||
                (rc = rk_buffer_create(rt, cells * 4, &vt)) != 0) {
                fail("rk_buffer_create", rc);
                goto stencil_done;
            }
            if ((rc = fill(u, cells, 1)) != 0) {
                fail("rk_buffer_write", rc);
                goto stencil_done;
            }
            k.kernel = "heat7";
            k.args[0] = RK_ARG_BUF(u), k.args[1] = RK_ARG_BUF(v), k.args[2] = RK_ARG_F32(0.1f);
            t = time_op(&o, reps, 1000, "heat7");
            if (tiles) {
                k.kernel = "heat7_tiled";
                k.args[1] = RK_ARG_BUF(vt);
                tt = time_op(&o, reps, 1000, "heat7_tiled");
            }
            if (t > 0) {
                const double gc = interior / t * 1e-9, gbs = 8.0 * interior / t * 1e-9;
                printf("  heat7  %3u^3 global memory              %9.2f G cells/s %7.1f GB/s (8 B/cell)   %5.1f%% of roofline\n",
                       nn, gc, gbs, copy_bw > 0 ? 100.0 * gbs / copy_bw : 0.0);
                snprintf(fig, sizeof fig, "heat7_%u^3", nn);
                add(bname, fig, gc, "Gcells/s", copy_bw > 0 ? gbs / copy_bw : -1);
            }
            if (tt > 0) {
                const double gc = interior / tt * 1e-9, gbs = 8.0 * interior / tt * 1e-9;
                printf("  heat7  %3u^3 shared-memory tiles        %9.2f G cells/s %7.1f GB/s (8 B/cell)   %5.1f%% of roofline; tiled/untiled %.2fx\n",
                       nn, gc, gbs, copy_bw > 0 ? 100.0 * gbs / copy_bw : 0.0, t > 0 ? t / tt : 0.0);
                snprintf(fig, sizeof fig, "heat7_tiled_%u^3", nn);
                add(bname, fig, gc, "Gcells/s", copy_bw > 0 ? gbs / copy_bw : -1);
            } else if (!tiles && s == 0) {
                printf("  heat7  tiles: n/a (the %s target ignores `tile`)\n", info.target);
            }
            if (tiles && nn == 64 && t > 0 && tt > 0) { /* the two forms agree bit for bit */
                float *a = malloc(cells * 4), *b = malloc(cells * 4);
                if (a == NULL || b == NULL || rk_buffer_read(v, 0, a, cells * 4) != 0 ||
                    rk_buffer_read(vt, 0, b, cells * 4) != 0 || memcmp(a, b, cells * 4) != 0) {
                    fprintf(stderr, "  FAILED: heat7 and heat7_tiled differ at 64^3\n");
                    g_failed = 1;
                } else {
                    printf("  heat7  64^3: tiled and untiled outputs identical\n");
                }
                free(a);
                free(b);
            }
        stencil_done:
            rk_buffer_destroy(u);
            rk_buffer_destroy(v);
            rk_buffer_destroy(vt);
        }
    }

    /* ---- Launch overhead ---- */
    {
        rk_buffer *b = NULL;
        kctx k = { .rt = rt, .p = p, .kernel = "nop", .size = { 1, 1, 1 }, .nargs = 2 };
        op o = { k_launch, k_sync, &k };
        double rt_s[1000], q;
        int n = small ? 200 : 1000;

        if ((rc = rk_buffer_create(rt, 256, &b)) != 0) {
            fail("rk_buffer_create", rc);
        } else {
            k.args[0] = RK_ARG_BUF(b), k.args[1] = RK_ARG_U32(0);
            q = time_op(&o, reps, 1000, "nop queued");
            for (int i = 0; i < n && q > 0; i++) {
                double t0 = now_s();
                if ((rc = k_launch(&k)) != 0 || (rc = k_sync(&k)) != 0) {
                    fail("nop round trip", rc);
                    q = -1;
                    break;
                }
                rt_s[i] = now_s() - t0;
            }
            if (q > 0) {
                double m = median(rt_s, n);
                printf("  launch queued back to back, per launch  %9.2f us\n", q * 1e6);
                printf("  launch + sync round trip (median of %d) %8.2f us\n", n, m * 1e6);
                add(bname, "launch_queued", q * 1e6, "us", -1);
                add(bname, "launch_roundtrip", m * 1e6, "us", -1);
            }
            rk_buffer_destroy(b);
        }
    }
    rk_program_destroy(p);
    rk_runtime_destroy(rt);
}

/* Ratios of every figure two backends both have, against the first backend that ran. */
static void ratios(void)
{
    const char *base = g_nrec > 0 ? g_rec[0].backend : NULL;
    int header = 0;

    for (int i = 0; base != NULL && i < g_nrec; i++) {
        if (strcmp(g_rec[i].backend, base) == 0)
            continue;
        for (int j = 0; j < g_nrec; j++) {
            if (strcmp(g_rec[j].backend, base) != 0 || strcmp(g_rec[j].figure, g_rec[i].figure) != 0 ||
                g_rec[j].value <= 0)
                continue;
            if (!header++)
                printf("\n== ratios (%s against %s; for launch times, >1 means slower)\n", "backend", base);
            printf("  %-22s %s/%s = %8.2fx   (%.4g vs %.4g %s)\n", g_rec[i].figure, g_rec[i].backend, base,
                   g_rec[i].value / g_rec[j].value, g_rec[i].value, g_rec[j].value, g_rec[i].unit);
        }
    }
}

static int write_json(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        fprintf(stderr, "compute_bench: cannot write %s\n", path);
        return 1;
    }
    fprintf(f, "{\n  \"benchmark\": \"compute\",\n  \"records\": [\n");
    for (int i = 0; i < g_nrec; i++) {
        fprintf(f, "    { \"backend\": \"%s\", \"figure\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"", g_rec[i].backend,
                g_rec[i].figure, g_rec[i].value, g_rec[i].unit);
        if (g_rec[i].fraction >= 0)
            fprintf(f, ", \"fraction_of_copy\": %.4f", g_rec[i].fraction);
        fprintf(f, " }%s\n", i + 1 < g_nrec ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *json = NULL, *kdir = RK_BENCH_KERNEL_DIR;
    const char *names[MAX_BACKENDS];
    int nnames = 0, any = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            json = argv[++i];
        } else if (strcmp(argv[i], "--big") == 0) {
            g_big = 1;
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
            if (g_reps < 1 || g_reps > 64) {
                fprintf(stderr, "compute_bench: --reps takes 1..64\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--kernels") == 0 && i + 1 < argc) {
            kdir = argv[++i];
        } else if (argv[i][0] == '-' || nnames == MAX_BACKENDS) {
            fprintf(stderr, "usage: compute_bench [--json FILE] [--big] [--reps N] [--kernels DIR] [cpu|cuda|vulkan...]\n");
            return 2;
        } else {
            names[nnames++] = argv[i];
        }
    }
    if (nnames == 0) {
        names[0] = "cpu", names[1] = "cuda", names[2] = "vulkan";
        nnames = 3;
    }
    printf("compute benchmark: the kernels of %s/bench.rk; per figure: warm-up excluded, K launches queued back "
           "to back then one sync, median of repetitions of (time / K)\n", kdir);
    for (int i = 0; i < nnames; i++) {
        int ran;
        run_backend(names[i], kdir, &ran);
        any |= ran;
    }
    ratios();
    if (json != NULL && write_json(json) != 0)
        return 1;
    if (!any)
        printf("\nno backend ran\n");
    return g_failed ? 1 : 0;
}
