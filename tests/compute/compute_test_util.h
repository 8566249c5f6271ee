/* compute_test_util.h - what the backend compute tests (tests/gpu/cuda_compute_test.c,
 * tests/vulkan/vulkan_compute_test.c) share: the SAXPY source, building a program with its log on
 * failure, and a checked SAXPY run. Include after <cmocka.h> and compute.h. */
#ifndef RK_COMPUTE_TEST_UTIL_H
#define RK_COMPUTE_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

static const char saxpy_src[] =
    "@kernel(global)\n"
    "void saxpy(global f32 *y, global const f32 *x, f32 a, u32 n) {\n"
    "    u32 i = global_id();\n"
    "    if (i < n) {\n"
    "        y[i] = a * x[i] + y[i];\n"
    "    }\n"
    "}\n";

/* Builds src as "t.rk" with cache directory dir ("" for none); fails the test with the full log. info may
 * be NULL. */
static rk_program *build(rk_runtime *rt, const char *src, const char *dir, rk_program_info *info)
{
    rk_program *p = NULL;
    char log[8192] = "";
    rk_program_opts o = { .name = "t.rk", .cache_dir = dir, .log = log, .log_cap = sizeof log };
    int rc = rk_program_create(rt, src, strlen(src), &o, &p);

    if (rc != 0)
        fail_msg("rk_program_create: %s: %s\n%s", rk_err_name(rc), rk_last_error(), log);
    if (info != NULL)
        assert_int_equal(rk_program_info_get(p, info), 0);
    return p;
}

/* y = 2x + y launched twice over n elements (x = i, y = 1), read back and checked exactly: y = 1 + 4i. */
static void run_saxpy(rk_runtime *rt, rk_program *p, uint32_t n)
{
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    rk_buffer *bx, *by;

    assert_non_null(x);
    assert_non_null(y);
    for (uint32_t i = 0; i < n; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    assert_int_equal(rk_buffer_create(rt, n * sizeof(float), &bx), 0);
    assert_int_equal(rk_buffer_create(rt, n * sizeof(float), &by), 0);
    assert_int_equal(rk_buffer_write(bx, 0, x, n * sizeof(float)), 0);
    assert_int_equal(rk_buffer_write(by, 0, y, n * sizeof(float)), 0);
    {
        rk_arg args[] = { RK_ARG_BUF(by), RK_ARG_BUF(bx), RK_ARG_F32(2.0f), RK_ARG_U32(n) };
        assert_int_equal(rk_program_launch(p, "saxpy", (uint32_t[3]){ n, 1, 1 }, args, 4), 0);
        assert_int_equal(rk_program_launch(p, "saxpy", (uint32_t[3]){ n, 1, 1 }, args, 4), 0);
    }
    assert_int_equal(rk_buffer_read(by, 0, y, n * sizeof(float)), 0);
    for (uint32_t i = 0; i < n; i++)
        if (y[i] != 1.0f + 4.0f * (float)i)
            fail_msg("y[%u] = %g, want %g", i, (double)y[i], (double)(1.0f + 4.0f * (float)i));
    rk_buffer_destroy(bx);
    rk_buffer_destroy(by);
    free(x);
    free(y);
}

#endif /* RK_COMPUTE_TEST_UTIL_H */
