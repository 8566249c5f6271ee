/* cuda_internal.h - shared by the CUDA backend's host code (C) and its built-in kernels (CUDA C++). */
#ifndef RK_CUDA_INTERNAL_H
#define RK_CUDA_INTERNAL_H

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* FNV-1a of "counter_add" / "counter_get" (RK_TYPE_ID); checked against message.h by cuda_backend.c. */
#define RK__CUDA_TYPE_COUNTER_ADD 0x3608059d8a0828afull
#define RK__CUDA_TYPE_COUNTER_GET 0x23f3a19d7f941190ull

/** Registers echo and counter (idempotent). Returns 0 or an RK_E* code. */
int rk__cuda_register_builtins(void);

/**
 * Measures CLOCK_REALTIME - %globaltimer (best of 5 exchanges with a polling kernel). Returns a
 * cudaError_t (0 on success).
 */
int rk__cuda_calibrate(int64_t *offset_ns, int64_t *uncertainty_ns);

static inline int64_t rk__realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef __cplusplus
}
#endif

#endif /* RK_CUDA_INTERNAL_H */
