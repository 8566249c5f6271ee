/* vulkan_compute_test.c - compute.h on the Vulkan backend (src/backend/vulkan/vulkan_compute.c); exit 77
 * without a Vulkan device. The conformance program (tests/compute) checks the kernels' results; this one
 * checks the backend's own parts:
 *
 *   - the SPIR-V cache: compiled, then loaded; a corrupt entry is reported and rebuilt; "" compiles always;
 *   - glslangValidator: RK_GLSLANG=/nonexistent is RK_ENODEV; a compiler that fails is RK_EBACKEND with
 *     its output in opts->log;
 *   - push constants at the emitter's offsets (bool, u64 after a bool, u32, f32, i32);
 *   - 300 ordered launches without a sync (the ring of command buffers wraps several times);
 *   - the same through staging buffers (RK_VK_STAGING=1, the path of a discrete GPU), with zeroed new
 *     buffers and reads and writes at offsets;
 *   - a grid past the device's maxComputeWorkGroupCount is RK_EOVERFLOW.
 * CTest runs it under the validation layer and fails it on any message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ringkernel/compute.h"
#include "ringkernel/ringkernel.h"

#include "compute/compute_test_util.h"

static const char mix_src[] =
    "@kernel(global, workgroup = 1)\n"
    "void args_probe(global u32 *o, global f32 *of, global u64 *o64, bool b, u64 big, u32 u, f32 f, i32 i) {\n"
    "    if (global_id() == 0u) {\n"
    "        o[0] = b ? 1u : 0u;\n"
    "        o[1] = u;\n"
    "        o[2] = (u32)i;\n"
    "        of[0] = f;\n"
    "        o64[0] = big;\n"
    "    }\n"
    "}\n";

static const char inc_src[] =
    "@kernel(global, workgroup = 64)\n"
    "void inc(global u32 *c, u32 n) {\n"
    "    u32 i = global_id();\n"
    "    if (i < n) {\n"
    "        c[i] = c[i] * 3u + 1u;\n"
    "    }\n"
    "}\n";

static char g_dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/rk_vk_compute_test.XXXXXX");
    return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static rk_runtime *new_rt(void)
{
    rk_runtime *rt = NULL;

    if (rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_VULKAN }) != 0)
        fail_msg("rk_runtime_create: %s", rk_last_error());
    return rt;
}

static void test_saxpy_and_cache(void **state)
{
    rk_runtime *rt = new_rt();
    rk_program_info a, b;
    rk_program *p;
    FILE *f;
    long size;

    (void)state;
    p = build(rt, saxpy_src, g_dir, &a);
    assert_string_equal(a.target, "glsl");
    assert_string_equal(a.arch, "spirv1.3");
    assert_int_equal(a.from_cache, 0);
    assert_int_equal(a.kernels, 1);
    assert_int_equal(access(a.cache_path, R_OK), 0);
    run_saxpy(rt, p, 100003);
    rk_program_destroy(p);

    p = build(rt, saxpy_src, g_dir, &b);
    assert_int_equal(b.from_cache, 1);
    assert_int_equal(b.cache_rebuilt, 0);
    assert_string_equal(b.cache_path, a.cache_path);
    print_message("compiled in %.1f ms, from the cache in %.1f ms\n", a.build_ms, b.build_ms);
    run_saxpy(rt, p, 4099);
    rk_program_destroy(p);

    /* One flipped byte in the middle of the entry: reported as rebuilt, and the program still runs. */
    f = fopen(a.cache_path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    assert_true(size > 64);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    fputc(0x5a ^ fgetc(f), f); /* the read moved the position: this corrupts the next byte */
    fclose(f);
    p = build(rt, saxpy_src, g_dir, &b);
    assert_int_equal(b.from_cache, 0);
    assert_int_equal(b.cache_rebuilt, 1);
    run_saxpy(rt, p, 777);
    rk_program_destroy(p);

    p = build(rt, saxpy_src, "", &b); /* no cache */
    assert_int_equal(b.from_cache, 0);
    assert_string_equal(b.cache_path, "");
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_glslang_missing_and_failing(void **state)
{
    rk_runtime *rt = new_rt();
    char script[300], log[4096] = "";
    rk_program_opts o = { .name = "t.rk", .cache_dir = "", .log = log, .log_cap = sizeof log };
    rk_program *p = NULL;
    FILE *f;

    (void)state;
    setenv("RK_GLSLANG", "/nonexistent/glslangValidator", 1);
    assert_int_equal(rk_program_create(rt, saxpy_src, strlen(saxpy_src), &o, &p), RK_ENODEV);
    assert_null(p);
    assert_non_null(strstr(rk_last_error(), "glslang"));

    /* A compiler that knows its version but rejects every shader, with a message of its own. */
    snprintf(script, sizeof script, "%s/fake-glslang.sh", g_dir);
    f = fopen(script, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\n"
          "if [ \"$1\" = --version ]; then echo 'Glslang Version: fake'; exit 0; fi\n"
          "echo 'ERROR: fake glslang refuses this shader'\n"
          "exit 2\n", f);
    fclose(f);
    assert_int_equal(chmod(script, 0700), 0);
    setenv("RK_GLSLANG", script, 1);
    assert_int_equal(rk_program_create(rt, saxpy_src, strlen(saxpy_src), &o, &p), RK_EBACKEND);
    assert_null(p);
    assert_non_null(strstr(log, "fake glslang refuses this shader"));
    assert_non_null(strstr(rk_last_error(), "glslangValidator failed"));
    unsetenv("RK_GLSLANG");
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_push_constant_layout(void **state)
{
    rk_runtime *rt = new_rt();
    rk_program *p;
    rk_buffer *o, *of, *o64;
    uint32_t w[3];
    float fv;
    uint64_t big;
    int rc;

    (void)state;
    {
        char log[4096] = "";
        rk_program_opts opts = { .name = "args_probe.rk", .cache_dir = g_dir, .log = log, .log_cap = sizeof log };

        rc = rk_program_create(rt, mix_src, strlen(mix_src), &opts, &p);
        if (rc == RK_ENOTSUP) { /* a device without shaderInt64 */
            print_message("skipped: %s\n", rk_last_error());
            assert_int_equal(rk_runtime_destroy(rt), 0);
            skip();
        }
        if (rc != 0)
            fail_msg("rk_program_create: %s\n%s", rk_last_error(), log);
    }
    assert_int_equal(rk_buffer_create(rt, sizeof w, &o), 0);
    assert_int_equal(rk_buffer_create(rt, sizeof fv, &of), 0);
    assert_int_equal(rk_buffer_create(rt, sizeof big, &o64), 0);
    {
        /* bool at 0, u64 at 8 (4 bytes of padding), u32 at 16, f32 at 20, i32 at 24. */
        rk_arg args[] = { RK_ARG_BUF(o), RK_ARG_BUF(of), RK_ARG_BUF(o64), RK_ARG_BOOL(1),
                          RK_ARG_U64(0x0123456789abcdefull), RK_ARG_U32(0xdeadbeefu), RK_ARG_F32(-2.5f),
                          RK_ARG_I32(-7) };
        assert_int_equal(rk_program_launch(p, "args_probe", (uint32_t[3]){ 1, 1, 1 }, args, 8), 0);
    }
    assert_int_equal(rk_buffer_read(o, 0, w, sizeof w), 0);
    assert_int_equal(rk_buffer_read(of, 0, &fv, sizeof fv), 0);
    assert_int_equal(rk_buffer_read(o64, 0, &big, sizeof big), 0);
    assert_int_equal(w[0], 1);
    assert_int_equal(w[1], 0xdeadbeefu);
    assert_int_equal(w[2], (uint32_t)-7);
    assert_true(fv == -2.5f);
    assert_true(big == 0x0123456789abcdefull);
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

/* 300 launches of c = 3c + 1 with no sync between them: each must see the one before (C2). */
static void run_ordered(rk_runtime *rt)
{
    enum { N = 1000, L = 300 };
    rk_program *p = build(rt, inc_src, g_dir, NULL);
    uint32_t *c = malloc(N * sizeof *c), want = 0;
    rk_buffer *b;

    assert_non_null(c);
    assert_int_equal(rk_buffer_create(rt, N * sizeof *c, &b), 0);
    assert_int_equal(rk_buffer_read(b, 0, c, N * sizeof *c), 0); /* zero-filled */
    for (uint32_t i = 0; i < N; i++)
        assert_int_equal(c[i], 0);
    for (int l = 0; l < L; l++) {
        rk_arg args[] = { RK_ARG_BUF(b), RK_ARG_U32(N) };
        assert_int_equal(rk_program_launch(p, "inc", (uint32_t[3]){ N, 1, 1 }, args, 2), 0);
        want = want * 3u + 1u;
    }
    assert_int_equal(rk_compute_sync(rt), 0);
    assert_int_equal(rk_buffer_read(b, 0, c, N * sizeof *c), 0);
    for (uint32_t i = 0; i < N; i++)
        if (c[i] != want)
            fail_msg("c[%u] = %u after %d launches, want %u", i, c[i], L, want);
    /* Reads and writes at offsets. */
    c[0] = 11;
    c[1] = 12;
    assert_int_equal(rk_buffer_write(b, 4 * 500, c, 8), 0);
    memset(c, 0, 16);
    assert_int_equal(rk_buffer_read(b, 4 * 499, c, 16), 0);
    assert_int_equal(c[0], want);
    assert_int_equal(c[1], 11);
    assert_int_equal(c[2], 12);
    assert_int_equal(c[3], want);
    rk_buffer_destroy(b);
    rk_program_destroy(p);
    free(c);
}

static void test_ordered_launches(void **state)
{
    rk_runtime *rt = new_rt();

    (void)state;
    run_ordered(rt);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

static void test_staging_buffers(void **state)
{
    rk_runtime *rt;

    (void)state;
    setenv("RK_VK_STAGING", "1", 1);
    rt = new_rt();
    run_ordered(rt);
    run_saxpy(rt, build(rt, saxpy_src, g_dir, NULL), 5000); /* left for rk_runtime_destroy to free */
    assert_int_equal(rk_runtime_destroy(rt), 0);
    unsetenv("RK_VK_STAGING");
}

static void test_grid_past_device_limit(void **state)
{
    rk_runtime *rt = new_rt();
    rk_program *p = build(rt, inc_src, g_dir, NULL);
    rk_buffer *b;
    rk_arg args[2];

    (void)state;
    assert_int_equal(rk_buffer_create(rt, 64, &b), 0);
    args[0] = RK_ARG_BUF(b);
    args[1] = RK_ARG_U32(16);
    /* 4,000,000 groups on y (the workgroup is 64x1x1): past every device's y limit (65535 on lavapipe and
     * NVIDIA; x goes to 2^31 - 1 on NVIDIA, so x would not do). */
    assert_int_equal(rk_program_launch(p, "inc", (uint32_t[3]){ 1, 4000000, 1 }, args, 2), RK_EOVERFLOW);
    assert_non_null(strstr(rk_last_error(), "workgroups on axis y"));
    assert_int_equal(rk_compute_sync(rt), 0); /* nothing was queued, nothing failed */
    rk_buffer_destroy(b);
    rk_program_destroy(p);
    assert_int_equal(rk_runtime_destroy(rt), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saxpy_and_cache),
        cmocka_unit_test(test_glslang_missing_and_failing),
        cmocka_unit_test(test_push_constant_layout),
        cmocka_unit_test(test_ordered_launches),
        cmocka_unit_test(test_staging_buffers),
        cmocka_unit_test(test_grid_past_device_limit),
    };
    rk_backend_status st;

    if (rk_backend_probe(RK_BACKEND_VULKAN, &st) != 0 || !st.available) {
        printf("vulkan_compute_test: Vulkan is not available: %s\n", st.reason);
        return 77;
    }
    printf("vulkan_compute_test: %s\n", st.reason);
    return cmocka_run_group_tests(tests, setup, teardown);
}
