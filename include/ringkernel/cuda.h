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
 * Low-latency kernels (RK_LAUNCH_LOW_LATENCY): the shared-memory stage's size in slots, and the largest
 * slot. The device loop takes one message per step (device.cuh) and stages its request and reply in 16 KiB
 * of shared memory, sized for 8 x 1024 bytes each.
 */
#define RK_CUDA_LL_MAX_BATCH 8u
#define RK_CUDA_LL_MAX_SLOT 1024u

/* ---- K2K on the GPU (device.cuh has the device side; k2k.h the host side) ------------------------------
 *
 * Every kernel of a CUDA runtime launched without RK_LAUNCH_LOW_LATENCY has a K2K inbox in device memory:
 * a many-producer, one-consumer ring with a sequence number per slot (the bounded queue of D. Vyukov). Any
 * thread of any kernel of the runtime may produce; the inbox's own kernel consumes. For position p:
 *   seq[p & mask] == p            the slot is free for p: a producer may claim p (CAS tail p -> p + 1)
 *   seq[p & mask] == p + 1        the message at p is written: the consumer may read it
 *   seq[p & mask] == p + capacity the consumer is done with it: free for the next lap
 * A producer claims a position only when its slot is free (room first, then the claim), writes the slot,
 * then stores seq with release semantics (device scope); the consumer loads seq with acquire semantics,
 * reads the slot, and only then releases it. Closing sets RK_K2K_CLOSED in tail with one atomic OR, so a
 * claim either happened before the close (and is drained) or fails with RK_ECLOSED: nothing is lost.
 * Senders find an inbox through the runtime's directory, indexed by kernel id modulo RK_CUDA_K2K_DIR; the
 * entry names its kernel, so an address of another kernel with the same index is told apart.
 */

/** Bit of rk_k2k_ring.tail that closes the inbox (its kernel is stopping). */
#define RK_K2K_CLOSED (1ull << 63)
/** Entries of a runtime's K2K directory (a power of two). */
#define RK_CUDA_K2K_DIR 1024u
/** Named endpoints that kernels can resolve on the device (rk_k2k_resolve). */
#define RK_CUDA_K2K_ENDPOINTS 256u

/** One inbox (device memory; 256 bytes: the producers' word has its own cache lines). */
typedef struct rk_k2k_ring {
    uint64_t tail;            /* next position to claim; RK_K2K_CLOSED once the consumer closed it */
    uint8_t pad0[120];
    uint64_t *seq;            /* capacity words, see above */
    uint8_t *slots;           /* capacity slots of 2^slot_shift bytes: envelope + payload */
    uint32_t mask;            /* capacity - 1 */
    uint32_t slot_shift;
    uint32_t payload_max;     /* slot size - RK_ENVELOPE_SIZE */
    uint32_t kernel_id;       /* the consumer */
    uint8_t pad1[96];
} rk_k2k_ring;

/** One directory entry (device memory). Written by the host before the kernel it names can be addressed. */
typedef struct rk_k2k_dir_entry {
    rk_k2k_ring *ring;        /* NULL: the kernel takes no K2K messages (low-latency launch) */
    uint32_t kernel_id;       /* whose entry this is; 0: empty */
    uint32_t pad;
} rk_k2k_dir_entry;

/** One named endpoint as kernels see it (device memory; a mirror of the host's table, k2k.c). */
typedef struct rk_k2k_endpoint {
    char name[64];            /* NUL-terminated, at most RK_ENDPOINT_NAME_MAX (63) bytes */
    uint64_t addr;            /* the kernel's address; 0: free entry */
    uint64_t pad;
} rk_k2k_endpoint;

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
    uint32_t n_h2k;          /* messages [0, n_h2k) of the batch came from H2K, the rest from the K2K inbox */
    uint64_t k2k_head;       /* inbox position of batch message n_h2k */
    unsigned long long k2k_out; /* atomic: K2K messages the kernel's handlers sent (rk_k2k_send, K2K replies) */
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
    rk_k2k_ring *inbox;      /* this kernel's K2K inbox, NULL if it has none (low-latency launch) */
    uint64_t *k2k_seq;       /* the inbox's sequence words and slots (copies of its fields, so the loop */
    uint8_t *k2k_slots;      /*   never reads them from device memory) */
    uint32_t k2k_mask;       /* the inbox's capacity - 1 */
    uint32_t pad_k2k;
    rk_k2k_dir_entry *k2k_dir;      /* the runtime's directory, RK_CUDA_K2K_DIR entries */
    rk_k2k_endpoint *k2k_endpoints; /* the runtime's endpoints, RK_CUDA_K2K_ENDPOINTS entries */
} rk_device_args;

typedef struct rk_cuda_actor_def {
    const char *name;      /* registry key (same namespace as CPU actors, separate table); <= 63 bytes */
    uint32_t state_size;   /* default bytes of handler state in device memory */
    uint32_t reserved;
    /* Launches the persistent loop on `stream` (a cudaStream_t) with grid x block threads, `shmem` bytes of
     * dynamic shared memory; cooperative != 0 uses cudaLaunchCooperativeKernel. Returns a cudaError_t. */
    int (*launch)(const struct rk_device_args *args, unsigned grid, unsigned block, size_t shmem,
                  int cooperative, void *stream);
    /* cudaOccupancyMaxActiveBlocksPerMultiprocessor for the loop (ll != 0: the low-latency loop's kernel).
     * Returns a cudaError_t. */
    int (*occupancy)(int *blocks_per_sm, unsigned block, size_t shmem, int ll);
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
