/* cuda.h - registering GPU actors with the CUDA backend (host side, plain C).
 *
 * A GPU actor is a persistent __global__ loop that wraps a __device__ handler; device.cuh's
 * RK_DEVICE_ACTOR macro writes the loop and fills an rk_cuda_actor_def for it. The launch and occupancy
 * calls are thunks compiled in the user's own translation unit, so they use the CUDA runtime that the
 * user's kernels were registered with, whether the library was linked statically or as a shared object.
 */
#ifndef RINGKERNEL_CUDA_H
#define RINGKERNEL_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Messages one step of the device loop takes at most: 4 per thread of the grid, at most 4096. More than
 * one per thread amortises each step's barriers and system fence over more messages.
 */
#define RK_CUDA_MAX_BATCH 4096u
#define RK_CUDA_MSGS_PER_THREAD 4u

/**
 * Low-latency kernels (RK_LAUNCH_LOW_LATENCY): messages one step takes at most, and the largest slot. The
 * device loop stages a step's requests and replies in 16 KiB of shared memory: 8 x 1024 bytes each.
 */
#define RK_CUDA_LL_MAX_BATCH 8u
#define RK_CUDA_LL_MAX_SLOT 1024u

/**
 * Scratch words of one persistent kernel in device memory, written by the coordinator thread (block 0,
 * thread 0) and read by every thread after a barrier. Not shared with the host.
 */
typedef struct rk_device_step {
    uint64_t h2k_tail;       /* position of the batch's first message */
    uint64_t k2h_base;       /* first K2H position reserved for the batch's replies */
    uint32_t n;              /* messages in the batch (0: idle step) */
    uint32_t stop;           /* 1: every block leaves the loop after this step */
    uint64_t hlc_physical;   /* the batch's HLC physical time */
    uint32_t hlc_logical;    /* the batch's base logical counter */
    uint32_t hlc_next;       /* atomic: logical ticks taken inside the batch */
    uint64_t remote_physical;/* atomic max (one per warp) over the batch's envelopes */
    uint32_t remote_logical; /* atomic max (one per warp) over the batch's envelopes */
    uint32_t reply_end;      /* atomic max (one per warp): 1 + index of the last message that replied */
    uint32_t errors;         /* atomic: handler errors in the batch */
    int32_t last_error;      /* a handler error code of the batch */
    uint32_t fault;          /* a fatal fault in the batch: the kernel fails */
    uint32_t pad;
    uint8_t *stage_base;     /* where this step's batch is staged: args.stage or args.stage_small */
    uint64_t poll_time;      /* %globaltimer when this step's H2K head was read */
    uint64_t clock_physical; /* last HLC physical issued by the kernel */
    uint32_t clock_logical;  /* last HLC logical issued by the kernel */
    uint32_t pad2;
} rk_device_step;

/** Arguments of a persistent kernel (passed by value at launch). All pointers are device pointers. */
typedef struct rk_device_args {
    rk_control_block *cb;    /* mapped pinned control block */
    rk_queue_header *h2k;    /* mapped pinned H2K queue (host produces) */
    rk_queue_header *k2h;    /* mapped pinned K2H queue (kernel produces) */
    uint8_t *h2k_slots;
    uint8_t *k2h_slots;
    uint64_t *h2k_seq;       /* per-slot sequence numbers when H2K is MPSC, else NULL */
    void *state;             /* handler state, device memory */
    rk_device_step *step;    /* device memory */
    uint8_t *stage;          /* device memory: max_batch slots, the batch copied out of the H2K ring */
    uint8_t *stage_small;    /* set by the device loop: shared-memory staging of a one-block kernel (host: NULL) */
    uint8_t *reply_stage;    /* set by the device loop: LL kernels' shared-memory reply stage (host: NULL) */
    uint8_t *replied;        /* device memory: one byte per batch index, 1 once the message replied */
    uint32_t max_batch;      /* messages per step: min(RK_CUDA_MSGS_PER_THREAD x threads, RK_CUDA_MAX_BATCH) */
    uint32_t ll;             /* 1: RK_LAUNCH_LOW_LATENCY, the queues are in the LL encoding (abi.h) */
    int64_t hlc_offset_ns;   /* host CLOCK_REALTIME minus %globaltimer, measured at runtime start */
    uint32_t state_size;
    uint32_t kernel_id;
    uint32_t h2k_mask, k2h_mask;
    uint32_t slot_shift;     /* log2(slot size), the same for both queues */
    uint32_t grid_sync;      /* 1: launched cooperatively; steps end with a grid-wide sync */
} rk_device_args;

typedef struct rk_cuda_actor_def {
    const char *name;      /* registry key (same namespace as CPU actors, separate table); <= 63 bytes */
    uint32_t state_size;   /* default bytes of handler state in device memory */
    uint32_t reserved;
    /* Launches the persistent loop on `stream` (a cudaStream_t) with grid x block threads, `shmem` bytes of
     * dynamic shared memory; cooperative != 0 uses cudaLaunchCooperativeKernel. Returns a cudaError_t. */
    int (*launch)(const struct rk_device_args *args, unsigned grid, unsigned block, size_t shmem,
                  int cooperative, void *stream);
    /* cudaOccupancyMaxActiveBlocksPerMultiprocessor for the loop. Returns a cudaError_t. */
    int (*occupancy)(int *blocks_per_sm, unsigned block, size_t shmem);
} rk_cuda_actor_def;

/**
 * Registers a GPU actor (process-wide; the definition is copied). Works in every build: without the CUDA
 * backend the registration is kept and simply never launched. Returns 0; RK_EINVAL on NULL fields or a
 * name over 63 bytes; RK_EEXIST if the name is taken; RK_ELIMIT when the table (256 actors) is full.
 */
int rk_cuda_actor_register(const rk_cuda_actor_def *def);

/** Looks up a GPU actor. Returns 0 with *out filled, RK_EINVAL, or RK_ENOENT. */
int rk_cuda_actor_lookup(const char *name, rk_cuda_actor_def *out);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_CUDA_H */
