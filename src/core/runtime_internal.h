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
 * offsets recorded in the control block (h2k_offset, k2h_offset), 128-byte aligned. A CPU kernel's K2K
 * inbox is the backend's own heap queue (cpu_backend.c), outside the region: only kernels write it.
 */
#ifndef RK_RUNTIME_INTERNAL_H
#define RK_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "ringkernel/actor.h"
#include "ringkernel/hlc.h"
#include "ringkernel/k2k.h"
#include "ringkernel/queue.h"
#include "ringkernel/runtime.h"
#include "ringkernel/topic.h"

/** One publication on its way to its subscribers: k2k.c validates and routes it, the backend delivers it. */
typedef struct rk__publication {
    const char *topic;        /* a valid topic name (rk_topic_validate_name) */
    uint32_t topic_len;       /* strlen(topic) */
    uint32_t flags;           /* RK_PUBLISH_* (k2k.h) */
    uint64_t type_id;
    const void *payload;      /* the user payload, len bytes */
    uint32_t len;
    uint32_t nsubs;           /* how many matched (0: nobody subscribes to the topic) */
    const rk_addr *subs;      /* the matched subscribers, ascending and unique */
} rk__publication;

typedef struct rk_backend_ops {
    rk_backend_kind kind;
    const char *name;
    /** 1 if the backend's kernels read and write their queues in the LL encoding (abi.h) when launched
     * with RK_LAUNCH_LOW_LATENCY; 0: the flag is accepted and changes nothing. */
    int low_latency;
    /**
     * 1 if the backend's kernels consume H2K single-producer only (CUDA): RK_LAUNCH_MULTI_PRODUCER is then
     * served by an SPSC H2K behind a host-side lock (runtime.c K8); 0: an MPSC H2K (per-slot sequences).
     */
    int mp_host_lock;

    /** Fills *st (compiled, available, device_count, reason). Never fails for a compiled backend. */
    int (*probe)(rk_backend_status *st);
    /** Lists devices; returns the count written. */
    int (*devices)(rk_device_info *out, int max);
    /**
     * Whether RK_BACKEND_AUTO may pick this backend when it is available (Vulkan: not when its best device
     * is a CPU implementation such as lavapipe, which the CPU backend outruns). May be NULL: always.
     */
    int (*auto_ok)(void);

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
     * Called after the host consumed K2H messages (rk_recv and its variants). Lets a backend whose kernel
     * waits for K2H room (CPU workers park such an actor instead of blocking) resume it. May be NULL. Must
     * be cheap: it is on the receive path.
     */
    void (*notify_k2h)(rk_kernel *k);

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

    /**
     * Mirrors an endpoint change for kernels that resolve names on the device (CUDA): addr is the
     * endpoint's kernel address, or 0 when `name` was unregistered. Called under the runtime's endpoint
     * lock, after the host table changed; a registration whose mirror fails is undone and fails with the
     * returned code (RK_ELIMIT when the device table is full). May be NULL.
     */
    int (*endpoint)(rk_runtime *rt, const char *name, rk_addr addr);

    /**
     * Delivers a host publication (rk_publish_ex) to its subscribers' K2K inboxes, waiting up to
     * timeout_ns for room as k2k.h says, and fills *info. Returns as rk_publish_ex. NULL on a backend
     * whose kernels have no inbox (rk_subscribe then answers RK_ENOTSUP, so nothing is ever routed there).
     */
    int (*publish)(rk_runtime *rt, const rk__publication *p, int64_t timeout_ns, rk_publish_info *info);

    /** Compute kernels from .rk (compute.h, compute_internal.h). NULL: none (RK_ENOTSUP). */
    const struct rk__compute_ops *compute;
} rk_backend_ops;

/** region_alloc/region_free for backends whose kernels use ordinary host memory (runtime.c): a zeroed,
 * 128-byte aligned heap block; RK_ENOMEM when it cannot be had. */
int rk__heap_region_alloc(rk_runtime *rt, size_t size, void **host_ptr);
void rk__heap_region_free(rk_runtime *rt, void *host_ptr);

/** The backend table for a kind, or NULL if it is not compiled in (backend.c: the only place). */
const rk_backend_ops *rk__backend_ops(rk_backend_kind kind);

/**
 * The kind RK_BACKEND_AUTO resolves to on this machine: the first available of CUDA, Vulkan, CPU
 * (backend.c). Never AUTO; CPU when nothing else is available.
 */
rk_backend_kind rk__backend_auto(void);

/**
 * Resolves a CPU actor for launch (registry.c). Returns 0 with *out filled (out->name points into the
 * registry: copy it before rk_actor_unregister can run); RK_ENOENT if no actor has that name; RK_EEXIST if
 * two different definitions claimed the name (a duplicate RK_REGISTER_ACTOR, recorded at registration).
 */
int rk__actor_resolve(const char *name, rk_actor_def *out);

/**
 * Registers a built-in actor (echo, counter). A user registration of the same name wins, whichever comes
 * first: the built-in is then skipped, or replaced. Returns 0 or RK_EINVAL/RK_ELIMIT as rk_actor_register.
 */
int rk__actor_register_builtin(const rk_actor_def *def);

/** A user Vulkan actor as a launch sees it (vulkan_registry.c). */
typedef struct rk__vulkan_actor {
    uint32_t *spirv;          /* the caller's copy: free() it */
    size_t words;
    uint32_t state_size;
    uint64_t gen;             /* the registration's generation (>= 1), unique in the process */
} rk__vulkan_actor;

/**
 * Copies the user's Vulkan actor `name` into *out. Returns 0; RK_ENOENT (quietly: no detail is set) when no
 * Vulkan actor has that name; RK_ENOMEM.
 */
int rk__vulkan_actor_resolve(const char *name, rk__vulkan_actor *out);

/** One waiting rk_call, on its caller's stack (runtime.c). */
typedef struct rk__call rk__call;
/** Buckets of a kernel's pending-call table (a power of two; correlation ids are sequential, so the low
 * bits spread them evenly). */
#define RK__CALL_BUCKETS 16u

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
    /* LL encoding (RK_LAUNCH_LOW_LATENCY on a backend with ops->low_latency, runtime.c L1-L4): the queue
     * handles above then point at host-private shadow slots, and the region's slots are the wire. */
    int ll;
    uint8_t *ll_shadow;             /* both shadow rings (H2K, then K2H), capacity x slot_size each */
    _Atomic uint64_t *ll_h2k_wire;  /* H2K wire slots in the region (2 x slot_size each) */
    _Atomic uint64_t *ll_k2h_wire;  /* K2H wire slots in the region */

    /* Host side. */
    _Atomic int closing;            /* 1 once terminate was requested: sends fail with RK_ECLOSED */
    _Atomic int terminated;         /* 1 once rk_kernel_terminate completed (second call: RK_ECLOSED) */
    _Atomic uint64_t sent;          /* H2K publications (relaxed; read by stats) */
    _Atomic uint64_t received;      /* K2H consumptions */
    _Atomic uint64_t host_dropped;  /* K2H messages rk_call drained with no pending call for them */
    _Atomic uint32_t inflight;      /* sends between their closing check and their publication (K1) */
    _Atomic uint32_t k2k_inflight;  /* K2K sends into this kernel's inbox inside their window (K6) */
    _Atomic uint64_t next_seq;      /* sender's sequence number (SPSC: load+store; MPSC: fetch_add) */
    rk_envelope *reserved_env;      /* open zero-copy send reservation (SPSC; MPSC keeps it per thread) */
    uint64_t reserved_pos;
    int peeked;                     /* open zero-copy receive */
    int64_t launch_ns;              /* rk_monotonic_ns at launch; written before the kernel is shared */
    _Atomic int64_t stop_ns;        /* rk_monotonic_ns when the host saw it stop; 0 while running */
    _Atomic int stop_reported;      /* on_stop was called */
    struct rk_kernel *next;         /* runtime's list, under rt->lock */

    /* Request/reply (runtime.c K7): the callers of rk_call take turns consuming K2H for each other. */
    _Atomic int call_draining;      /* 1 while one caller holds the drain role (the K2H consumer) */
    _Atomic uint32_t call_pending;  /* calls linked in call_table; changed under call_lock */
    pthread_mutex_t call_lock;      /* guards call_table and the entries linked in it */
    /* RK_LAUNCH_MULTI_PRODUCER on a backend with mp_host_lock (runtime.c K8): senders take turns on SPSC. */
    int mp_host;                    /* 1 in that mode (set at launch, then read-only) */
    pthread_mutex_t mp_lock;        /* held by the sending thread from before rk__send_enter to after leave */
    pthread_t mp_owner;             /* the thread holding mp_lock across an open zero-copy reservation */
    rk__call *call_table[RK__CALL_BUCKETS]; /* waiting calls by correlation id; entries live on their
                                               callers' stacks, so the table never allocates */
};

/** Kernel directory: kernel id -> kernel, read without a lock by K2K senders (k2k.c). */
typedef struct rk__kdir rk__kdir;
/** One named endpoint (k2k.c). */
typedef struct rk__endpoint rk__endpoint;

/** Buckets of the endpoint table (a power of two). */
#define RK__ENDPOINT_BUCKETS 64u
/** One subscription, filed by kernel id so a kernel's subscriptions can be found without the trie (k2k.c). */
typedef struct rk__sub rk__sub;
/** Buckets of the subscription records (a power of two). */
#define RK__SUB_BUCKETS 64u

struct rk_runtime {
    const rk_backend_ops *ops;
    void *backend_data;
    rk_runtime_opts opts;           /* with defaults applied */
    rk_hlc_clock hlc;               /* the host clock */
    pthread_mutex_t lock;           /* guards kernels and next_kernel_id */
    rk_kernel *kernels;
    uint32_t next_kernel_id;        /* starts at 1: kernel id 0 is the host */
    struct rk_runtime *live_next;   /* the live-runtime set (runtime.c), under its global lock */
    _Atomic(rk__kdir *) kdir;       /* written under lock (release), read by K2K senders (acquire) */
    pthread_mutex_t ep_lock;        /* guards ep */
    rk__endpoint *ep[RK__ENDPOINT_BUCKETS];
    pthread_rwlock_t topic_lock;    /* guards topics and subs: shared to route, exclusive to change */
    rk_topic_tree *topics;          /* filter -> subscriber addresses (topic.h) */
    rk__sub *subs[RK__SUB_BUCKETS]; /* the same subscriptions by kernel id (k2k.c) */
    _Atomic uint64_t pub_seq;       /* the last sequence number of a host publication */
    pthread_mutex_t compute_lock;   /* serialises compute.h's calls (compute_internal.h C3) */
    int compute_fault;              /* sticky RK_EFAULT of a failed compute launch (C2), under compute_lock */
    void *compute_data;             /* the backend's compute state (its queue), under compute_lock */
    struct rk__compute_node *compute_objs; /* live programs and buffers (compute.c), under compute_lock:
                                              rk_runtime_destroy frees the ones the user left */
};

/** Frees the programs and buffers still alive on rt (compute.c); called by rk_runtime_destroy before the
 * backend's destroy, which frees rt->compute_data. */
void rk__compute_destroy_all(rk_runtime *rt);

/* ---- K2K routing (k2k.c) ---------------------------------------------------------------------------- */

/** Sets up the kernel directory and the endpoint table. Returns 0 or RK_ENOMEM. */
int rk__k2k_init(rk_runtime *rt);

/** Frees them. Called once no handler can run any more. */
void rk__k2k_destroy(rk_runtime *rt);

/** Under rt->lock: makes room for kernel id `id` in the directory. Returns 0 or RK_ENOMEM (no side effect). */
int rk__kdir_reserve(rk_runtime *rt, uint32_t id);

/** Under rt->lock, after a successful launch (room reserved): publishes k to K2K senders. Never fails. */
void rk__kdir_set(rk_runtime *rt, rk_kernel *k);

/**
 * The launched kernel with id `id`, or NULL. Lock-free; any thread. The kernel stays allocated until
 * rk_runtime_destroy frees it after every handler stopped.
 */
rk_kernel *rk__kdir_lookup(rk_runtime *rt, uint32_t id);

/* ---- Topics (k2k.c) --------------------------------------------------------------------------------- */

/**
 * Subscribes actor `who` of kernel k (of runtime rt) to `filter`. Returns 0; RK_EINVAL (a bad filter: the
 * topic module's detail; a kernel of another runtime); RK_ENOTSUP on a backend without inboxes; RK_ECLOSED
 * if k is terminating or stopped; RK_EEXIST; RK_ELIMIT; RK_ENOMEM. fn names the public caller.
 */
int rk__topic_subscribe(rk_runtime *rt, rk_kernel *k, rk_addr who, const char *filter, const char *fn);

/** Removes one subscription of `who`. Returns 0, RK_EINVAL (a bad filter) or RK_ENOENT. */
int rk__topic_unsubscribe(rk_runtime *rt, rk_addr who, const char *filter, const char *fn);

/** Removes every subscription of kernel `kernel_id` (it stopped). Never fails. */
void rk__topic_forget(rk_runtime *rt, uint32_t kernel_id);

/**
 * Checks a publication and finds its subscribers (under the shared lock): fills *p, with p->subs pointing
 * into buf (cap entries) or into an array it allocated; release it with rk__publication_done. Returns the
 * number of subscribers (p->nsubs, possibly 0); RK_EINVAL (NULL arguments, a bad topic with the topic
 * module's detail, unknown flags); RK_ENOMEM. Nothing to release on an error.
 */
int rk__publication_route(rk_runtime *rt, const char *topic, uint64_t type_id, uint32_t flags,
                          const void *payload, uint32_t len, rk_addr *buf, uint32_t cap, rk__publication *p,
                          const char *fn);

/** Frees what rk__publication_route allocated (nothing when p->subs is buf). */
void rk__publication_done(rk__publication *p, const rk_addr *buf);

/** Writes the topic header of p (RK_TOPIC_HDR_SIZE(p->topic_len) bytes: length, topic, NUL, zeros) to dst. */
void rk__topic_hdr_write(void *dst, const rk__publication *p);

/*
 * Shared control-block words. abi.h declares them as plain integers (nvcc compiles it too); the host reaches
 * them only through these casts and atomic_*_explicit, field by field (never a copy of the block). Sound on
 * every platform we build for: _Atomic uint32_t/int32_t/uint64_t have the size and alignment of the plain
 * types and are lock-free (asserted below), so an access through the cast is one ordinary atomic
 * instruction on the same word that the other side (a device, a worker thread) reads or writes.
 */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2 && ATOMIC_LLONG_LOCK_FREE == 2, "shared words must be lock-free");
_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t) && sizeof(_Atomic uint64_t) == sizeof(uint64_t),
               "atomic and plain words share a layout");
static inline _Atomic uint32_t *rk__a32(uint32_t *p) { return (_Atomic uint32_t *)p; }
static inline _Atomic int32_t *rk__ai32(int32_t *p) { return (_Atomic int32_t *)p; }
static inline _Atomic uint64_t *rk__a64(uint64_t *p) { return (_Atomic uint64_t *)p; }

/** Number of online CPU cores (at least 1). */
int rk__cpu_count(void);

#endif /* RK_RUNTIME_INTERNAL_H */
