/* cuda_actors.cu - the built-in GPU actors (echo, counter) and the clock calibration kernel. */
#include <stdint.h>

#include "ringkernel/device.cuh"
#include "backend/cuda/cuda_internal.h"

/* echo: replies with the request's type and payload. Stateless, so a batch is handled in parallel. */
__device__ static int rk__dev_echo(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    return rk_reply(ctx, env->type_id, payload, env->payload_len);
}

/* counter: the same protocol as the CPU built-in (builtin.h, rk_counter_value). Ordered: a "get" sees every earlier "add". */
typedef struct rk__dev_counter_state {
    uint64_t count;
    int64_t sum;
} rk__dev_counter_state;

__device__ static int rk__dev_counter(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    rk__dev_counter_state *st = (rk__dev_counter_state *)rk_state(ctx);

    if (env->type_id == RK__CUDA_TYPE_COUNTER_ADD) {
        int64_t v;
        if (env->payload_len != sizeof v)
            return RK_EINVAL;
        memcpy(&v, payload, sizeof v);
        st->count++;
        st->sum = (int64_t)((uint64_t)st->sum + (uint64_t)v); /* wraps like two's complement */
        if (env->flags & RK_ENV_REQUEST) { /* as on the CPU: only requests are answered */
            rk__dev_counter_state copy = *st;
            return rk_reply(ctx, env->type_id, &copy, sizeof copy);
        }
        return 0;
    }
    if (env->type_id == RK__CUDA_TYPE_COUNTER_GET) {
        rk__dev_counter_state copy = *st;
        return rk_reply(ctx, env->type_id, &copy, sizeof copy);
    }
    return RK_EINVAL; /* unknown message type: counted, and an error reply to requests */
}

RK_DEVICE_ACTOR_NOREG(echo, rk__dev_echo, 0, 0)
RK_DEVICE_ACTOR_NOREG(counter, rk__dev_counter, sizeof(rk__dev_counter_state), 1)

extern "C" int rk__cuda_register_builtins(void)
{
    rk_cuda_actor_def d;
    int rc = 0;

    /* Registered once per process; a user actor of the same name registered first wins. */
    if (rk_cuda_actor_lookup("echo", &d) != 0)
        rc = rk__actor_register_echo();
    if (rc == 0 && rk_cuda_actor_lookup("counter", &d) != 0)
        rc = rk__actor_register_counter();
    return rc == RK_EEXIST ? 0 : rc;
}

/* Calibration: waits for the host's go, then reports %globaltimer. */
__global__ static void rk__calibrate_kernel(volatile uint32_t *go, volatile uint64_t *t)
{
    while (*go == 0)
        ;
    *t = rk_globaltimer();
    __threadfence_system();
}

extern "C" int rk__cuda_calibrate(int64_t *offset_ns, int64_t *uncertainty_ns)
{
    uint32_t *go = NULL;
    uint64_t *t = NULL;
    int64_t best = INT64_MAX, best_off = 0;
    cudaStream_t s;
    cudaError_t e;

    if ((e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)) != cudaSuccess)
        return (int)e;
    if ((e = cudaHostAlloc((void **)&go, 64, cudaHostAllocMapped)) != cudaSuccess)
        goto out_stream;
    if ((e = cudaHostAlloc((void **)&t, 64, cudaHostAllocMapped)) != cudaSuccess)
        goto out_go;
    for (int round = 0; round < 5; round++) {
        uint32_t *go_d;
        uint64_t *t_d;
        cudaHostGetDevicePointer((void **)&go_d, go, 0);
        cudaHostGetDevicePointer((void **)&t_d, t, 0);
        *(volatile uint32_t *)go = 0;
        *(volatile uint64_t *)t = 0;
        rk__calibrate_kernel<<<1, 1, 0, s>>>(go_d, t_d);
        if ((e = cudaGetLastError()) != cudaSuccess)
            break;
        /* Let the kernel start polling before the timed exchange. */
        for (int64_t w = rk__realtime_ns() + 200000; rk__realtime_ns() < w;)
            ;
        int64_t t0 = rk__realtime_ns();
        __atomic_store_n(go, 1u, __ATOMIC_RELEASE);
        while (__atomic_load_n((volatile uint64_t *)t, __ATOMIC_ACQUIRE) == 0) {
            if (rk__realtime_ns() - t0 > 2000000000) {
                /* The kernel never ran (the GPU is full of other work): give up. go stays 1, so it exits
                 * whenever it starts; its two words stay allocated, since freeing pinned memory waits for
                 * every kernel and this one may still be queued. */
                cudaStreamDestroy(s);
                return (int)cudaErrorLaunchTimeout;
            }
        }
        int64_t t1 = rk__realtime_ns();
        uint64_t g = *(volatile uint64_t *)t;
        if ((e = cudaStreamSynchronize(s)) != cudaSuccess)
            break;
        if (t1 - t0 < best) {
            best = t1 - t0;
            best_off = (t0 + (t1 - t0) / 2) - (int64_t)g;
        }
    }
    *offset_ns = best_off;
    *uncertainty_ns = best / 2;
    cudaFreeHost(t);
out_go:
    cudaFreeHost(go);
out_stream:
    cudaStreamDestroy(s);
    return (int)e;
}
