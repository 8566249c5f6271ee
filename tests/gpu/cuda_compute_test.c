/* cuda_compute_test.c - compute.h on the CUDA backend (src/backend/cuda/cuda_compute.c); exit 77 without a
 * usable GPU.
 *
 * NVRTC cache: first build compiles, second loads, a corrupted entry is reported and rebuilt;
 * RK_NVRTC=/nonexistent -> RK_ENODEV; an NVRTC compile error -> RK_EBACKEND with NVRTC's log in opts->log;
 * buffers come back from the runtime's pool; tiled and untiled stencils give the same bits as a host
 * reference. `cuda_compute_test fault` (its own CTest entry, because a device fault poisons the process's
 * CUDA context for good) checks that an out-of-bounds write is RK_EFAULT and sticky.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/compute_internal.h"
#include "ringkernel/builtin.h"
#include "ringkernel/compute.h"
#include "ringkernel/ringkernel.h"

#include "compute/compute_test_util.h"
#include "gpu/gpu_test_util.h"

/* The same 3D 7-point and 2D radius-2 stencils with and without shared-memory tiles (emit_cuda.c T1..T3). */
static const char stencil_src[] =
    "@kernel(stencil, radius = 1)\n"
    "void heat(global const f32 *u, global f32 *v, f32 alpha) {\n"
    "    f32 c = at(u, 0, 0, 0);\n"
    "    store(v, c + alpha * (at(u, -1, 0, 0) + at(u, 1, 0, 0) + at(u, 0, -1, 0) + at(u, 0, 1, 0)\n"
    "                          + at(u, 0, 0, -1) + at(u, 0, 0, 1) - 6.0f * c));\n"
    "}\n"
    "@kernel(stencil, radius = 1, tile = true)\n"
    "void heat_t(global const f32 *u, global f32 *v, f32 alpha) {\n"
    "    f32 c = at(u, 0, 0, 0);\n"
    "    store(v, c + alpha * (at(u, -1, 0, 0) + at(u, 1, 0, 0) + at(u, 0, -1, 0) + at(u, 0, 1, 0)\n"
    "                          + at(u, 0, 0, -1) + at(u, 0, 0, 1) - 6.0f * c));\n"
    "}\n"
    "@kernel(stencil, radius = 2, dims = 2, workgroup = 128)\n"
    "void cross2(global const f32 *a, global f32 *b) {\n"
    "    store(b, at(a, -2, 0) + 2.0f * at(a, 1, 0) + 3.0f * at(a, 0, -2) + 4.0f * at(a, 0, 2) - at(a, 0, 0));\n"
    "}\n"
    "@kernel(stencil, radius = 2, dims = 2, workgroup = 128, tile = true)\n"
    "void cross2_t(global const f32 *a, global f32 *b) {\n"
    "    store(b, at(a, -2, 0) + 2.0f * at(a, 1, 0) + 3.0f * at(a, 0, -2) + 4.0f * at(a, 0, 2) - at(a, 0, 0));\n"
    "}\n";

static char cache_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(cache_dir, sizeof cache_dir, "/tmp/rk_cuda_compute_test.XXXXXX");
    assert_non_null(mkdtemp(cache_dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_saxpy_and_cache(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    rk_program_info a, b;
    rk_program *p;

    (void)state;
    p = build(rt, saxpy_src, cache_dir, &a);
    assert_string_equal(a.target, "cuda");
    assert_true(strncmp(a.arch, "sm_", 3) == 0 || strncmp(a.arch, "compute_", 8) == 0);
    assert_int_equal(a.from_cache, 0);
    assert_int_equal(a.cache_rebuilt, 0);
    assert_int_equal(a.kernels, 1);
    assert_true(strncmp(a.cache_path, cache_dir, strlen(cache_dir)) == 0);
    assert_int_equal(access(a.cache_path, R_OK), 0);
    run_saxpy(rt, p, 1000003);
    rk_program_destroy(p);

    p = build(rt, saxpy_src, cache_dir, &b); /* the cubin from the cache, and it runs */
    assert_int_equal(b.from_cache, 1);
    assert_string_equal(b.cache_path, a.cache_path);
    print_message("compile %.1f ms, from the cache %.1f ms (%s)\n", a.build_ms, b.build_ms, a.arch);
    run_saxpy(rt, p, 4099);
    rk_program_destroy(p);

    p = build(rt, saxpy_src, "", &b); /* no cache: always compiled */
    assert_int_equal(b.from_cache, 0);
    assert_string_equal(b.cache_path, "");
    run_saxpy(rt, p, 77);
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_cache_corrupt_rebuilt(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    rk_program_info a, b;
    rk_program *p;
    FILE *f;
    long size;

    (void)state;
    p = build(rt, saxpy_src, cache_dir, &a);
    rk_program_destroy(p);
    assert_int_equal(access(a.cache_path, R_OK), 0);
    /* Flip one byte in the middle of the cubin: the checksum fails, the entry is rebuilt. */
    f = fopen(a.cache_path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 64);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    {
        int c = fgetc(f);
        assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);
    p = build(rt, saxpy_src, cache_dir, &b);
    assert_int_equal(b.from_cache, 0);
    assert_int_equal(b.cache_rebuilt, 1);
    run_saxpy(rt, p, 1024);
    rk_program_destroy(p);
    /* A truncated entry too. */
    assert_int_equal(truncate(a.cache_path, 10), 0);
    p = build(rt, saxpy_src, cache_dir, &b);
    assert_int_equal(b.from_cache, 0);
    assert_int_equal(b.cache_rebuilt, 1);
    rk_program_destroy(p);
    /* The rebuilt entry is good again. */
    p = build(rt, saxpy_src, cache_dir, &b);
    assert_int_equal(b.from_cache, 1);
    assert_int_equal(b.cache_rebuilt, 0);
    run_saxpy(rt, p, 1024);
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_nvrtc_missing(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    rk_program *p = NULL;
    rk_program_opts o = { .cache_dir = cache_dir };
    int rc;

    (void)state;
    assert_int_equal(setenv("RK_NVRTC", "/nonexistent/libnvrtc.so", 1), 0);
    rc = rk_program_create(rt, saxpy_src, strlen(saxpy_src), &o, &p);
    assert_int_equal(unsetenv("RK_NVRTC"), 0);
    assert_int_equal(rc, RK_ENODEV);
    assert_null(p);
    assert_non_null(strstr(rk_last_error(), "NVRTC"));
    assert_non_null(strstr(rk_last_error(), "/nonexistent/libnvrtc.so"));
    /* With NVRTC back, the same runtime builds. */
    assert_int_equal(rk_program_create(rt, saxpy_src, strlen(saxpy_src), &o, &p), 0);
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_compile_error_log(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    rk_program *p = NULL;
    char log[8192] = "";
    rk_program_opts o = { .name = "bad.rk", .cache_dir = "", .log = log, .log_cap = sizeof log };
    int rc;

    (void)state;
    /* The checker only passes code the emitter can write, so the error is provoked through the extra
     * NVRTC options: a macro that turns the kernel's name into a syntax error in the generated CUDA C. */
    assert_int_equal(setenv("RK_NVRTC_FLAGS", "-Dsaxpy=)", 1), 0);
    rc = rk_program_create(rt, saxpy_src, strlen(saxpy_src), &o, &p);
    assert_int_equal(unsetenv("RK_NVRTC_FLAGS"), 0);
    assert_int_equal(rc, RK_EBACKEND);
    assert_null(p);
    assert_non_null(strstr(rk_last_error(), "NVRTC"));
    assert_non_null(strstr(rk_last_error(), "bad.rk"));
    assert_non_null(strstr(log, "error"));
    print_message("NVRTC log (first 200 bytes): %.200s\n", log);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_buffer_pool_reuse(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    const size_t big = (size_t)256 << 20;
    size_t free0 = 0, free1 = 0, total = 0;
    rk_buffer *b;
    void *first;
    uint32_t probe[4] = { 1, 2, 3, 4 };

    (void)state;
    assert_int_equal(rk_buffer_create(rt, big, &b), 0);
    first = b->impl;
    rk_buffer_destroy(b);
    /* Freed on the stream and allocated again on it: the pool may hand the same memory back at once
     * (reported; the hard check is the memory figure below). */
    assert_int_equal(rk_buffer_create(rt, big, &b), 0);
    print_message("second 256 MiB buffer %s the first's memory\n", b->impl == first ? "reuses" : "does not reuse");
    /* ... zero-filled again. */
    assert_int_equal(rk_buffer_read(b, big - sizeof probe, probe, sizeof probe), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(probe[i], 0);
    rk_buffer_destroy(b);
    assert_int_equal(rk_compute_sync(rt), 0);
    assert_int_equal(cudaMemGetInfo(&free0, &total), cudaSuccess);
    /* 64 GiB allocated and freed in 256 MiB steps, synchronising now and then: without reuse the device
     * would lose up to 64 GiB (the pool keeps what it reserved: release threshold UINT64_MAX). */
    for (int i = 0; i < 256; i++) {
        assert_int_equal(rk_buffer_create(rt, big, &b), 0);
        rk_buffer_destroy(b);
        if (i % 32 == 31)
            assert_int_equal(rk_compute_sync(rt), 0);
    }
    assert_int_equal(cudaMemGetInfo(&free1, &total), cudaSuccess);
    print_message("device free memory %zu MiB before, %zu MiB after 256 x 256 MiB\n", free0 >> 20, free1 >> 20);
    assert_true(free1 + 2 * big >= free0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/*
 * A program built, loaded (cudaLibraryLoadData) and launched while a persistent actor is resident on the
 * same GPU: module loading that waited for running kernels would hang here (the trap of cuda_backend.c
 * C3), so a watchdog turns a hang into a failure. The actor still answers afterwards.
 */
static void test_compute_beside_actor(void **state)
{
    rk_runtime *rt = gpu_new_rt();
    rk_launch_opts lo = { .queue_capacity = 64 };
    rk_kernel *k;
    rk_program_info info;
    rk_program *p;
    rk_msg q, r;
    rk_counter_value val;
    int64_t v = 42;

    (void)state;
    /* compute-sanitizer runs one kernel at a time: a launch beside a resident actor would wait for it
     * forever under the tool (as the pipelines of k2k_cuda_test), so RK_GPU_SANITIZER=1 leaves this out. */
    if (getenv("RK_GPU_SANITIZER") != NULL && strcmp(getenv("RK_GPU_SANITIZER"), "1") == 0)
        skip();
    alarm(120); /* a hang here is the failure C3 in cuda_backend.c prevents */
    p = build(rt, saxpy_src, "", &info); /* loaded before any persistent kernel is resident */
    assert_int_equal(rk_kernel_launch(rt, "counter", &lo, &k), 0);
    memset(&q, 0, sizeof q);
    q.env.type_id = RK_COUNTER_ADD;
    q.env.payload_len = sizeof v;
    q.payload = &v;
    assert_int_equal(rk_send(k, &q, RK_TIMEOUT_MS(5000)), 0);
    run_saxpy(rt, p, 100000); /* launched beside the resident actor */
    /* Loading code now would wait for the actor forever: refused with the reason. */
    {
        rk_program *p2 = NULL;
        assert_int_equal(rk_program_create(rt, saxpy_src, strlen(saxpy_src), &(rk_program_opts){ .cache_dir = "" }, &p2),
                         RK_ESTATE);
        assert_null(p2);
        assert_non_null(strstr(rk_last_error(), "resident"));
    }
    rk_program_destroy(p); /* its unload is deferred until the actor stops */
    alarm(0);
    memset(&q, 0, sizeof q);
    memset(&r, 0, sizeof r);
    q.env.type_id = RK_COUNTER_GET;
    r.payload = &val;
    r.payload_cap = sizeof val;
    assert_int_equal(rk_call(k, &q, &r, RK_TIMEOUT_MS(5000)), 0);
    assert_int_equal(val.count, 1);
    assert_int_equal(val.sum, 42);
    assert_int_equal(rk_kernel_terminate(k, RK_TIMEOUT_MS(2000)), 0);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* Host reference of the stencils above. */
static float heat_ref(const float *u, int nx, int ny, int x, int y, int z, float alpha)
{
#define U(dx, dy, dz) u[((size_t)(z + (dz)) * ny + (y + (dy))) * nx + (x + (dx))]
    float c = U(0, 0, 0);
    return c + alpha * (U(-1, 0, 0) + U(1, 0, 0) + U(0, -1, 0) + U(0, 1, 0) + U(0, 0, -1) + U(0, 0, 1) - 6.0f * c);
#undef U
}

static void test_stencils_tiled_same_bits(void **state)
{
    /* Odd sizes so edge blocks are partial on every axis. */
    const int nx = 45, ny = 23, nz = 13, mx = 67, my = 41;
    const size_t n3 = (size_t)nx * ny * nz, n2 = (size_t)mx * my;
    rk_runtime *rt = gpu_new_rt();
    rk_program_info info;
    rk_program *p;
    rk_buffer *u, *v, *vt, *a, *b, *bt;
    float *hu = malloc(n3 * 4), *hv = malloc(n3 * 4), *hvt = malloc(n3 * 4);
    float *ha = malloc(n2 * 4), *hb = malloc(n2 * 4), *hbt = malloc(n2 * 4);
    uint64_t s = 0x9e3779b97f4a7c15ull;

    (void)state;
    for (size_t i = 0; i < n3; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        hu[i] = (float)(s >> 40) / (float)(1u << 24);
    }
    for (size_t i = 0; i < n2; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ha[i] = (float)(s >> 40) / (float)(1u << 24) - 0.5f;
    }
    p = build(rt, stencil_src, cache_dir, &info);
    assert_int_equal(info.kernels, 4);
    assert_int_equal(rk_buffer_create(rt, n3 * 4, &u), 0);
    assert_int_equal(rk_buffer_create(rt, n3 * 4, &v), 0);
    assert_int_equal(rk_buffer_create(rt, n3 * 4, &vt), 0);
    assert_int_equal(rk_buffer_create(rt, n2 * 4, &a), 0);
    assert_int_equal(rk_buffer_create(rt, n2 * 4, &b), 0);
    assert_int_equal(rk_buffer_create(rt, n2 * 4, &bt), 0);
    assert_int_equal(rk_buffer_write(u, 0, hu, n3 * 4), 0);
    assert_int_equal(rk_buffer_write(a, 0, ha, n2 * 4), 0);
    {
        rk_arg h[] = { RK_ARG_BUF(u), RK_ARG_BUF(v), RK_ARG_F32(0.1f) };
        rk_arg ht[] = { RK_ARG_BUF(u), RK_ARG_BUF(vt), RK_ARG_F32(0.1f) };
        rk_arg c[] = { RK_ARG_BUF(a), RK_ARG_BUF(b) };
        rk_arg ct[] = { RK_ARG_BUF(a), RK_ARG_BUF(bt) };
        const uint32_t g3[3] = { nx, ny, nz }, g2[3] = { mx, my, 1 };

        assert_int_equal(rk_program_launch(p, "heat", g3, h, 3), 0);
        assert_int_equal(rk_program_launch(p, "heat_t", g3, ht, 3), 0);
        assert_int_equal(rk_program_launch(p, "cross2", g2, c, 2), 0);
        assert_int_equal(rk_program_launch(p, "cross2_t", g2, ct, 2), 0);
    }
    assert_int_equal(rk_buffer_read(v, 0, hv, n3 * 4), 0);
    assert_int_equal(rk_buffer_read(vt, 0, hvt, n3 * 4), 0);
    assert_int_equal(rk_buffer_read(b, 0, hb, n2 * 4), 0);
    assert_int_equal(rk_buffer_read(bt, 0, hbt, n2 * 4), 0);
    /* Tiled and untiled: the same bits everywhere, boundary included (zero: never written). */
    assert_memory_equal(hv, hvt, n3 * 4);
    assert_memory_equal(hb, hbt, n2 * 4);
    for (int z = 0; z < nz; z++)
        for (int y = 0; y < ny; y++)
            for (int x = 0; x < nx; x++) {
                const size_t i = ((size_t)z * ny + y) * nx + x;
                const int in = x >= 1 && x < nx - 1 && y >= 1 && y < ny - 1 && z >= 1 && z < nz - 1;
                const float want = in ? heat_ref(hu, nx, ny, x, y, z, 0.1f) : 0.0f;
                if (fabsf(hv[i] - want) > 1e-5f)
                    fail_msg("heat at (%d,%d,%d) = %.9g, want %.9g", x, y, z, (double)hv[i], (double)want);
            }
    for (int y = 0; y < my; y++)
        for (int x = 0; x < mx; x++) {
            const int in = x >= 2 && x < mx - 2 && y >= 2 && y < my - 2;
#define A(dx, dy) ha[(size_t)(y + (dy)) * mx + (x + (dx))]
            const float want = in ? A(-2, 0) + 2.0f * A(1, 0) + 3.0f * A(0, -2) + 4.0f * A(0, 2) - A(0, 0) : 0.0f;
#undef A
            if (fabsf(hb[(size_t)y * mx + x] - want) > 1e-5f)
                fail_msg("cross2 at (%d,%d) = %.9g, want %.9g", x, y, (double)hb[(size_t)y * mx + x], (double)want);
        }
    rk_buffer_destroy(u);
    rk_buffer_destroy(v);
    rk_buffer_destroy(vt);
    rk_buffer_destroy(a);
    rk_buffer_destroy(b);
    rk_buffer_destroy(bt);
    rk_program_destroy(p);
    free(hu), free(hv), free(hvt), free(ha), free(hb), free(hbt);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* `fault`: an out-of-bounds write 4 TiB past a buffer faults; every later call is RK_EFAULT (C2). */
static void test_fault_sticky(void **state)
{
    static const char src[] =
        "@kernel(global)\n"
        "void oob(global f32 *p, u64 far) {\n"
        "    if (global_id() == 0u) {\n"
        "        p[far] = 1.0f;\n"
        "    }\n"
        "}\n";
    rk_runtime *rt = gpu_new_rt();
    rk_program_info info;
    rk_program *p = build(rt, src, "", &info), *q = NULL;
    rk_buffer *b, *c = NULL;
    float x = 0;
    rk_arg args[2];
    int rc;

    (void)state;
    assert_int_equal(rk_buffer_create(rt, 4096, &b), 0);
    args[0] = RK_ARG_BUF(b);
    args[1] = RK_ARG_U64((uint64_t)1 << 40);
    assert_int_equal(rk_program_launch(p, "oob", (uint32_t[3]){ 1, 1, 1 }, args, 2), 0); /* queued */
    rc = rk_compute_sync(rt);
    assert_int_equal(rc, RK_EFAULT);
    print_message("sync after the fault: %s\n", rk_last_error());
    /* Sticky: every later call of the runtime that reaches the device. */
    assert_int_equal(rk_compute_sync(rt), RK_EFAULT);
    assert_int_equal(rk_buffer_read(b, 0, &x, sizeof x), RK_EFAULT);
    assert_int_equal(rk_buffer_write(b, 0, &x, sizeof x), RK_EFAULT);
    args[1] = RK_ARG_U64(0);
    assert_int_equal(rk_program_launch(p, "oob", (uint32_t[3]){ 1, 1, 1 }, args, 2), RK_EFAULT);
    rc = rk_buffer_create(rt, 64, &c);
    assert_int_equal(rc, RK_EFAULT);
    rc = rk_program_create(rt, saxpy_src, strlen(saxpy_src), &(rk_program_opts){ .cache_dir = "" }, &q);
    assert_int_equal(rc, RK_EFAULT);
    /* Teardown after a fault neither hangs nor crashes. */
    rk_buffer_destroy(b);
    rk_program_destroy(p);
    (void)rk_runtime_destroy(rt);
}

int main(int argc, char **argv)
{
    rk_backend_status st;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saxpy_and_cache),
        cmocka_unit_test(test_cache_corrupt_rebuilt),
        cmocka_unit_test(test_nvrtc_missing),
        cmocka_unit_test(test_compile_error_log),
        cmocka_unit_test(test_buffer_pool_reuse),
        cmocka_unit_test(test_stencils_tiled_same_bits),
        cmocka_unit_test(test_compute_beside_actor),
    };
    const struct CMUnitTest fault_tests[] = {
        cmocka_unit_test(test_fault_sticky),
    };

    if (rk_backend_probe(RK_BACKEND_CUDA, &st) != 0 || !st.available) {
        printf("skipped: CUDA unavailable: %s\n", st.reason);
        return 77;
    }
    if (argc > 1 && strcmp(argv[1], "fault") == 0)
        return cmocka_run_group_tests(fault_tests, setup, teardown);
    return cmocka_run_group_tests(tests, setup, teardown);
}
