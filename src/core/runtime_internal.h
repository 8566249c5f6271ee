/* runtime_internal.h - the runtime's objects and the backend interface (rk_backend_ops).
 *
 * The core (runtime.c) owns everything the host does: handles, kernel memory layout, H2K publication,
 * K2H consumption, HLC stamping, terminate requests and statistics. A backend owns what runs the kernel:
 * CPU worker threads, a persistent CUDA launch, a Vulkan dispatch loop. The core calls a backend only
 * through rk_backend_ops, chosen in exactly one place (backend.c); backends never include each other.
 *
 * Kernel memory (one region per kernel, allocated by the backend so it can be mapped pinned memory):
 *
 *   [ rk_control_block 128 B ][ H2K queue region ][ K2H queue region ]
 *
 * offsets recorded in the control block (h2k_offset, k2h_offset), 128-byte aligned.
 */
#ifndef RK_RUNTIME_INTERNAL_H
#define RK_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "ringkernel/actor.h"
#include "ringkernel/hlc.h"
#include "ringkernel/queue.h"
#include "ringkernel/runtime.h"

typedef struct rk_backend_ops {
    rk_backend_kind kind;
    const char *name;

    /** Fills *st (compiled, available, device_count, reason). Never fails for a compiled backend. */
    int (*probe)(rk_backend_status *st);
    /** Lists devices; returns the count written. */
    int (*devices)(rk_device_info *out, int max);

    /** Sets up rt->backend_data. Returns 0 or RK_E*. */
    int (*init)(rk_runtime *rt);
    /** Frees rt->backend_data. Called after every kernel was released. */
    void (*destroy)(rk_runtime *rt);

    /**
     * Allocates a region of `size` bytes that both the host and the kernel can reach (CPU: heap; CUDA:
     * mapped pinned host memory), zeroed and 128-byte aligned. Returns 0 or RK_ENOMEM/RK_EBACKEND.
     */
    int (*region_alloc)(rk_runtime *rt, size_t size, void **host_ptr);
    void (*region_free)(rk_runtime *rt, void *host_ptr);

    /**
     * Starts kernel k, whose region is formatted (control block INITIALIZING, queues empty) and whose
     * name, opts and id are set. Returns 0 once the kernel will make progress, or RK_E* (no side effects:
     * the core frees the region). RK_ENOENT if the backend has no handler of that name.
     */
    int (*launch)(rk_runtime *rt, rk_kernel *k);

    /**
     * Called after the host published H2K messages or set a control flag (terminate, pause). Lets a
     * backend whose kernels do not poll (CPU workers) schedule the kernel. May be NULL. Must be cheap: it
     * is on the send path.
     */
    void (*notify)(rk_kernel *k);

    /**
     * Waits up to timeout_ns for the kernel to reach STOPPED or FAILED after the core set
     * cb->terminate. Returns 0, RK_ENOTRESPONDING on timeout.
     */
    int (*wait_stopped)(rk_kernel *k, int64_t timeout_ns);

    /**
     * Checks the kernel's health without blocking (CUDA: asynchronous launch errors). Returns 0 or the
     * fault as RK_E*. May be NULL.
     */
    int (*poll)(rk_kernel *k);

    /** Frees per-kernel backend resources (k->backend_data). The kernel is stopped or never started. */
    void (*release)(rk_kernel *k);
} rk_backend_ops;

/** The backend table for a kind, or NULL if it is not compiled in (backend.c: the only place). */
const rk_backend_ops *rk__backend_ops(rk_backend_kind kind);

struct rk_kernel {
    rk_runtime *rt;
    uint32_t id;                    /* kernel id: high half of the kernel's rk_addr */
    char name[64];                  /* actor name */
    rk_launch_opts opts;            /* launch options with defaults applied */
    void *region;                   /* control block + queues (backend region_alloc) */
    size_t region_size;
    rk_control_block *cb;           /* == region */
    rk_queue h2k;                   /* host produces, kernel consumes */
    rk_queue k2h;                   /* kernel produces, host consumes */
    void *backend_data;             /* the backend's per-kernel state */

    /* Host side. */
    _Atomic int closing;            /* 1 once terminate was requested: sends fail with RK_ECLOSED */
    _Atomic int terminated;         /* 1 once rk_kernel_terminate completed (second call: RK_ECLOSED) */
    _Atomic uint64_t sent;          /* H2K publications (relaxed; read by stats) */
    _Atomic uint64_t received;      /* K2H consumptions */
    _Atomic uint64_t host_dropped;  /* replies dropped by rk_call (wrong correlation id) */
    uint64_t next_seq;              /* sender's sequence number (send thread only; MPSC: atomic add) */
    rk_envelope *reserved_env;      /* open zero-copy send reservation */
    uint64_t reserved_pos;
    int peeked;                     /* open zero-copy receive */
    int64_t launch_ns, stop_ns;     /* rk_monotonic_ns at launch and at stop */
    _Atomic int stop_reported;      /* on_stop was called */
    struct rk_kernel *next;         /* runtime's list, under rt->lock */
};

struct rk_runtime {
    const rk_backend_ops *ops;
    void *backend_data;
    rk_runtime_opts opts;           /* with defaults applied */
    rk_hlc_clock hlc;               /* the host clock */
    pthread_mutex_t lock;           /* guards kernels and next_kernel_id */
    rk_kernel *kernels;
    uint32_t next_kernel_id;        /* starts at 1: kernel id 0 is the host */
};

/** Number of online CPU cores (at least 1). */
int rk__cpu_count(void);

#endif /* RK_RUNTIME_INTERNAL_H */
