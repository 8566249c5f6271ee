/* gpu_test_util.h - what the CUDA test programs share (include after <cmocka.h> and ringkernel.h). */
#ifndef RK_TEST_GPU_UTIL_H
#define RK_TEST_GPU_UTIL_H

#include <stdint.h>
#include <stdlib.h>

/* RK_GPU_QUICK=1 divides the message counts by `quick_div` (compute-sanitizer runs are 50-100x slower). */
static inline uint64_t gpu_scale(uint64_t full, uint64_t quick_div)
{
    const char *q = getenv("RK_GPU_QUICK");
    return q != NULL && q[0] == '1' ? (full / quick_div > 0 ? full / quick_div : 1) : full;
}

/* A CUDA runtime, or the test fails with the reason. */
static inline rk_runtime *gpu_new_rt(void)
{
    rk_runtime *rt = NULL;
    rk_runtime_opts o = { .backend = RK_BACKEND_CUDA };
    int rc = rk_runtime_create(&rt, &o);
    if (rc != 0)
        fail_msg("rk_runtime_create(CUDA): %s: %s", rk_err_name(rc), rk_last_error());
    return rt;
}

#endif
