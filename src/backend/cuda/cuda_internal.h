/* cuda_internal.h - shared by the CUDA backend's host code (C) and its built-in kernels (CUDA C++). */
#ifndef RK_CUDA_INTERNAL_H
#define RK_CUDA_INTERNAL_H

#include <stdint.h>
#include <time.h>
#include <cuda_runtime_api.h>

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

#ifndef __CUDACC__
struct rk_runtime;
struct rk__compute_ops;

/* Between cuda_backend.c and cuda_compute.c (host C only). */

/** The CUDA device of a runtime of this backend. */
int rk__cuda_rt_device(const struct rk_runtime *rt);

/** Makes the runtime's device current on the calling thread; returns the device to give back, or -1. */
int rk__cuda_device_enter(const struct rk_runtime *rt);

/** Gives the calling thread the device rk__cuda_device_enter returned (nothing for -1). */
void rk__cuda_device_leave(int prev);

/** compute.h on CUDA (cuda_compute.c), set as the backend's .compute. */
extern const struct rk__compute_ops rk__cuda_compute_ops;

/** Frees the runtime's compute state (stream, buffer pool); called by the backend's destroy. */
void rk__cuda_compute_destroy(struct rk_runtime *rt);

/**
 * Loads compiled code (cubin or PTX) into *lib (C3 in cuda_backend.c): the driver loads and unloads code
 * only when the GPU is idle, so while a persistent kernel of the process is resident this refuses with
 * RK_ESTATE instead of waiting forever. Returns 0 with the driver's result in *err, or RK_ESTATE.
 */
int rk__cuda_code_load(const void *code, cudaLibrary_t *lib, cudaError_t *err);

/** Unloads lib now, or when the last resident persistent kernel of the process stops (C3). */
void rk__cuda_code_unload(cudaLibrary_t lib);

struct rk__build_req;

/**
 * What program_build compiles, without a device (tests/gpu/cuda_nvrtc_test.c): emits req->ir as CUDA C and
 * builds it with NVRTC for compute capability major.minor. arch gets the architecture chosen ("sm_90", or
 * "compute_XY" with *ptx = 1 for a GPU newer than the NVRTC); *code (malloc'd) and *len the cubin or PTX.
 * Returns 0, RK_ENODEV (no NVRTC), RK_ENOTSUP, RK_EBACKEND (NVRTC's log in req->log), RK_ENOMEM.
 */
int rk__cuda_compile(const struct rk__build_req *req, int major, int minor, char *arch, size_t cap, int *ptx,
                     void **code, size_t *len);
#endif

#ifdef __cplusplus
}
#endif

#endif /* RK_CUDA_INTERNAL_H */
