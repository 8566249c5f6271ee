/* runtime.h - runtimes, kernels and host <-> kernel messaging.
 *
 * A runtime owns one backend (CPU, CUDA, Vulkan). A kernel is one long-lived actor launched by registered
 * name (actor.h) on that backend. The host talks to a kernel through two rings in shared memory: H2K
 * (host to kernel) and K2H (kernel to host), plus a control block (abi.h).
 *
 *     rk_runtime *rt;  rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_AUTO });
 *     rk_kernel *k;    rk_kernel_launch(rt, "echo", NULL, &k);
 *     rk_send(k, &msg, RK_TIMEOUT_US(100));
 *     rk_recv(k, &reply, RK_TIMEOUT_US(100));
 *     rk_kernel_terminate(k, RK_TIMEOUT_MS(100));
 *     rk_runtime_destroy(rt);
 *
 * Threads: rk_send and its variants may be called by one thread at a time per kernel (H2K is SPSC), unless
 * the kernel was launched with RK_LAUNCH_MULTI_PRODUCER (H2K is then MPSC and any thread may send).
 * rk_recv and its variants: one thread at a time per kernel. rk_call: any number of threads at once on a
 * RK_LAUNCH_MULTI_PRODUCER kernel (one at a time otherwise, as rk_send), but not while rk_recv or its
 * variants run on the same kernel (see rk_call). Different kernels are independent. Launch, terminate,
 * pause/resume and stats may be called from any thread at any time; rk_runtime_destroy only once every
 * other call on that runtime has returned (see there).
 */
#ifndef RINGKERNEL_RUNTIME_H
#define RINGKERNEL_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/error.h"
#include "ringkernel/queue.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_runtime rk_runtime;
typedef struct rk_kernel rk_kernel;

typedef enum rk_backend_kind {
    RK_BACKEND_AUTO = 0,   /* the best available: CUDA, then Vulkan, then CPU */
    RK_BACKEND_CPU = 1,    /* worker threads; always available */
    RK_BACKEND_CUDA = 2,   /* persistent CUDA kernels */
    RK_BACKEND_VULKAN = 3, /* host-driven Vulkan compute dispatch */
    RK_BACKEND_METAL = 4,  /* code generation only */
} rk_backend_kind;

#define RK_BACKEND_COUNT 5

/** Name of a backend kind ("auto", "cpu", "cuda", "vulkan", "metal"; "unknown" otherwise). Never NULL. */
const char *rk_backend_name(rk_backend_kind kind);

/** Parses a backend name (case-insensitive). Returns 0, or RK_EINVAL for an unknown name. */
int rk_backend_parse(const char *name, rk_backend_kind *out);

/** Availability of one backend, as probed on this machine. */
typedef struct rk_backend_status {
    rk_backend_kind kind;
    int available;       /* 1 if a runtime can be created on it */
    int compiled;        /* 1 if this build of the library contains it */
    int device_count;    /* devices found (CPU: 1) */
    char reason[256];    /* why it is unavailable, or a one-line summary when available */
} rk_backend_status;

/** One device of a backend. */
typedef struct rk_device_info {
    rk_backend_kind backend;
    int index;
    char name[128];
    uint64_t memory_bytes;  /* device memory (CPU: physical RAM) */
    int compute_units;      /* SMs (CUDA), compute units, or CPU cores */
    int cc_major, cc_minor; /* compute capability (CUDA), else 0 */
    char driver[64];        /* driver version string, if known */
} rk_device_info;

/** Probes a backend. Returns 0 with *st filled (also when unavailable: see st->available), RK_EINVAL. */
int rk_backend_probe(rk_backend_kind kind, rk_backend_status *st);

/**
 * Lists up to max devices of a backend. Returns the number written (0 if the backend is unavailable),
 * or RK_EINVAL.
 */
int rk_backend_devices(rk_backend_kind kind, rk_device_info *out, int max);

/* ---- Runtime ---------------------------------------------------------------------------------------- */

/** Statistics of one kernel (a snapshot of its control block and host-side counters). */
typedef struct rk_kernel_stats {
    uint32_t kernel_id;
    rk_kernel_state state;
    uint64_t msgs_in;       /* consumed by the kernel from H2K */
    uint64_t msgs_out;      /* published by the kernel to K2H */
    uint64_t sent;          /* published by the host to H2K */
    uint64_t received;      /* consumed by the host from K2H */
    uint64_t errors;        /* handler errors */
    uint64_t dropped;       /* explicitly dropped messages */
    uint64_t heartbeat;
    int32_t last_error;     /* RK_E* code of the last fault, 0 if none */
    uint64_t uptime_ns;     /* launch to stop (or to now while running) */
    char name[64];          /* actor name */
    uint64_t k2k_in;        /* consumed by the kernel from its K2K inbox (k2k.h; CPU and CUDA backends) */
    uint64_t k2k_out;       /* sent by the kernel's handlers to other kernels (rk_actor_send, K2K replies) */
} rk_kernel_stats;

/** Called for each kernel when it reaches STOPPED or FAILED, with its final statistics. */
typedef void (*rk_stop_fn)(const rk_kernel_stats *stats, void *arg);

typedef struct rk_runtime_opts {
    rk_backend_kind backend;  /* RK_BACKEND_AUTO picks the best available */
    uint32_t workers;         /* CPU backend worker threads; 0 = one per online core */
    uint32_t node_id;         /* HLC node id of the host; 0 = derived from the process id */
    int device;               /* GPU ordinal for CUDA/Vulkan; 0 by default */
    rk_stop_fn on_stop;       /* optional: final statistics of each kernel */
    void *on_stop_arg;
} rk_runtime_opts;

/**
 * Creates a runtime. opts may be NULL (AUTO, defaults). Returns 0; RK_EINVAL on NULL out or bad options;
 * RK_ENODEV if the requested backend is unavailable (rk_last_error() says why); RK_ENOMEM; RK_EBACKEND.
 */
int rk_runtime_create(rk_runtime **out, const rk_runtime_opts *opts);

/** The backend this runtime runs on (never AUTO). */
rk_backend_kind rk_runtime_backend(const rk_runtime *rt);

/**
 * Drains and stops every kernel (as rk_kernel_terminate with a 1 s deadline each), reports their final
 * statistics through on_stop, and frees everything. Returns 0; RK_EBADHANDLE if rt is not a live runtime
 * (NULL, or already destroyed); RK_ENOTRESPONDING if a kernel did not stop (its resources are freed
 * anyway where that is safe; a GPU kernel still running keeps its memory).
 *
 * Destroy must not run concurrently with other calls on the same runtime or its kernels (the caller
 * ends those first); a CPU handler that never returns keeps destroy waiting for it. Kernels stay in
 * memory until destroy, also after rk_kernel_terminate (their replies remain receivable): a runtime
 * that launches and terminates kernels without end grows; use one runtime per such batch of work.
 */
int rk_runtime_destroy(rk_runtime *rt);

/* ---- Kernels ---------------------------------------------------------------------------------------- */

enum rk_launch_flags {
    RK_LAUNCH_MULTI_PRODUCER = 1u << 0, /* H2K is MPSC: any host thread may send */
    RK_LAUNCH_GRID_SYNC = 1u << 1,      /* GPU: cooperative launch, grid-wide sync available */
    /*
     * GPU: the low-latency queue encoding (abi.h, "LL"): a message crosses the bus once, with no index to
     * read first, and one warp takes it, runs the handler and writes the reply at once: a CUDA round trip
     * about a third of the default one (2.4 against 6.3-8 us on the H200). Costs: wire slots twice the slot
     * size, one warp serves the kernel (block_size 0 or 32, grid_size 0 or 1; a second warp watches the
     * control block), one message per step (a burst is served at one bus read per message),
     * slot_size <= 1024, single producer. For interactive command/response traffic; bulk streams are
     * faster without it. Backends without such a path (CPU, Vulkan) accept the flag and run as usual: their
     * queues do not cross a bus. Not with RK_LAUNCH_MULTI_PRODUCER or RK_LAUNCH_GRID_SYNC.
     */
    RK_LAUNCH_LOW_LATENCY = 1u << 2,
};

typedef struct rk_launch_opts {
    uint32_t queue_capacity; /* slots per queue, power of two; 0 = 1024 */
    uint32_t slot_size;      /* bytes per slot (envelope + payload), power of two >= 64; 0 = 256 */
    uint32_t state_size;     /* bytes of handler state; 0 = the actor's registered default */
    uint32_t instances;      /* actor instances in the kernel; 0 = 1 */
    uint32_t flags;          /* rk_launch_flags */
    uint32_t block_size;     /* GPU threads per block; 0 = backend default */
    uint32_t grid_size;      /* GPU blocks; 0 = backend default */
} rk_launch_opts;

/**
 * Launches the actor registered as `name` (actor.h) as a new kernel. opts may be NULL (defaults). Returns 0;
 * RK_EINVAL (NULL arguments, capacity or slot size not a power of two, slot size < 64); RK_ENOENT if no
 * actor has that name (for this backend); RK_EBADHANDLE if rt is not live; RK_ELIMIT if the backend cannot
 * host it (co-residency); RK_ENOMEM; RK_EBACKEND.
 */
int rk_kernel_launch(rk_runtime *rt, const char *name, const rk_launch_opts *opts, rk_kernel **out);

/** The kernel's address (kernel id in the high half, instance 0). */
rk_addr rk_kernel_addr(const rk_kernel *k);

/** The kernel's current lifecycle state. */
rk_kernel_state rk_kernel_state_get(const rk_kernel *k);

/** Largest payload rk_send accepts for this kernel (slot size - 64). */
uint32_t rk_kernel_payload_max(const rk_kernel *k);

/**
 * Requests a graceful stop: no new sends are accepted (RK_ECLOSED), queued messages are processed, then the
 * kernel stops. Waits up to timeout_ns (RK_TIMEOUT_INFINITE: forever) for STOPPED. Replies already
 * produced stay receivable with rk_recv until the runtime is destroyed. Returns 0; RK_ECLOSED if the kernel
 * was already terminated; RK_ENOTRESPONDING if it did not stop in time (it is then marked FAILED);
 * RK_EFAULT if it had failed.
 */
int rk_kernel_terminate(rk_kernel *k, int64_t timeout_ns);

/**
 * Asks the kernel to take no more messages after the batch it is handling (its state becomes PAUSED when
 * it has stopped taking them; sends still queue, and block or fail with RK_EAGAIN/RK_ETIMEDOUT once H2K is
 * full). Replies already produced stay receivable. rk_kernel_terminate works on a paused kernel (it drains
 * the queue). Returns 0 (also if already paused); RK_EINVAL on NULL; RK_ECLOSED if terminating or stopped;
 * RK_EFAULT if the kernel failed.
 */
int rk_kernel_pause(rk_kernel *k);

/** Lets a paused kernel take messages again (state RUNNING). Returns as rk_kernel_pause. */
int rk_kernel_resume(rk_kernel *k);

/**
 * Snapshot of a kernel's statistics. Returns 0 or RK_EINVAL. Host-side counters (sent, received, dropped
 * by the host) are exact when the call returns; kernel-side ones (msgs_in, msgs_out, errors, heartbeat)
 * are published by the kernel after the replies of a batch, so a reply can arrive before the counters that
 * include it. They are final once the kernel reached STOPPED (after rk_kernel_terminate).
 */
int rk_kernel_stats_get(const rk_kernel *k, rk_kernel_stats *out);

/* ---- Messages --------------------------------------------------------------------------------------- */

/**
 * A message as the copy API sees it: an envelope and a payload buffer.
 * Send: fill env.type_id, env.flags, env.correlation_id (optional), env.dest (optional instance) and
 *       point payload at env.payload_len bytes; rk_send stamps magic, version, source, HLC and seq.
 * Recv: point payload at a buffer of payload_cap bytes; rk_recv fills env and copies the payload.
 */
typedef struct rk_msg {
    rk_envelope env;
    void *payload;         /* send: bytes to send; recv: destination buffer (may be NULL if cap is 0) */
    uint32_t payload_cap;  /* recv: capacity of payload */
} rk_msg;

/**
 * Sends one message to kernel k (H2K), waiting up to timeout_ns for room. Returns 0; RK_EINVAL on NULL;
 * RK_EMSGSIZE if payload_len > rk_kernel_payload_max(k); RK_ECLOSED if the kernel is terminating or
 * stopped; RK_EFAULT if it failed; RK_EAGAIN (timeout 0) or RK_ETIMEDOUT when the queue stayed full.
 * Nothing is ever dropped silently: a message is either queued or the call fails.
 */
int rk_send(rk_kernel *k, const rk_msg *m, int64_t timeout_ns);

/**
 * Receives one reply (K2H), waiting up to timeout_ns. Copies the envelope and min(payload_len, payload_cap)
 * bytes. Returns 0; RK_EMSGSIZE if the payload was larger than payload_cap (the message is consumed, env is
 * filled, the payload truncated); RK_EAGAIN/RK_ETIMEDOUT when nothing arrived; RK_EFAULT if the kernel
 * failed and nothing is left to receive; RK_ECLOSED if it stopped and nothing is left.
 */
int rk_recv(rk_kernel *k, rk_msg *m, int64_t timeout_ns);

/** Sends up to n messages with one publication. Returns the number sent (>= 1) or an error as rk_send. */
int rk_send_batch(rk_kernel *k, const rk_msg *msgs, uint32_t n, int64_t timeout_ns);

/** Receives up to n messages. Returns the number received (>= 1) or an error as rk_recv. */
int rk_recv_batch(rk_kernel *k, rk_msg *msgs, uint32_t n, int64_t timeout_ns);

/**
 * Zero-copy send: reserves one H2K slot for a payload of payload_len bytes and returns its envelope (with
 * magic, version, source, dest and payload_len filled) and payload pointer. Fill type_id, flags, the
 * payload, then rk_send_commit. Errors as rk_send. On a multi-producer kernel an open reservation holds
 * back the kernel's drain: commit (or let commit fail) before terminate, or terminate waits for it and
 * reports RK_ENOTRESPONDING at its deadline.
 */
int rk_send_reserve(rk_kernel *k, uint32_t payload_len, rk_envelope **env, void **payload,
                    int64_t timeout_ns);

/**
 * Publishes the reserved slot (stamps HLC and seq). Returns 0; RK_EINVAL if nothing is reserved, or the
 * envelope's dest instance or flags (RK_ENV_SYSTEM) are invalid; RK_EMSGSIZE if payload_len was raised past
 * the slot; RK_ECLOSED if the kernel started terminating since the reservation; RK_EFAULT if it failed.
 * On every failure the reservation is withdrawn (an MPSC slot is published as a runtime no-op that the
 * kernel skips), so the call never leaves a slot claimed.
 */
int rk_send_commit(rk_kernel *k);

/**
 * Zero-copy receive: returns the next K2H envelope and payload in place, valid until rk_recv_release.
 * Errors as rk_recv (no truncation).
 */
int rk_recv_peek(rk_kernel *k, const rk_envelope **env, const void **payload, int64_t timeout_ns);

/** Releases the peeked slot. Returns 0, or RK_EINVAL if nothing is peeked. */
int rk_recv_release(rk_kernel *k);

/** Most rk_call callers that may wait on one kernel at once, besides the one draining K2H (see rk_call). */
#define RK_CALL_MAX_PENDING 1024u

/**
 * Request/reply: sends m as a request with a fresh correlation id and waits for the reply carrying it,
 * up to timeout_ns overall (0: send, then one look); the reply is stored in *reply (payload copied as
 * rk_recv).
 *
 * Concurrency: on a kernel launched with RK_LAUNCH_MULTI_PRODUCER any number of threads may call rk_call
 * at once. The callers take turns draining K2H: one of them consumes it and hands each reply to its
 * waiting caller (a copy into that caller's *reply, then a wake-up); the others sleep. Waiting callers are
 * bounded by RK_CALL_MAX_PENDING per kernel: one more fails at once with RK_ELIMIT, nothing sent. The
 * bookkeeping is fixed-size (each waiting call lives on its caller's stack).
 *
 * Replies no call is waiting for are dropped when a call drains them and counted in stats.dropped: the
 * reply of a call that timed out (never delivered to another caller: correlation ids are unique), and the
 * replies of plain rk_send traffic to the same kernel. So do not run rk_recv or its variants on a kernel
 * while rk_call runs on it; they would consume each other's replies (and K2H has one consumer at a time).
 *
 * Returns 0; RK_EINVAL on NULL or an open rk_recv_peek; RK_ELIMIT (see above); RK_EHANDLER if the reply is
 * an error report (its RK_E* code is the payload); RK_EMSGSIZE if the reply's payload was truncated (as
 * rk_recv); RK_ETIMEDOUT when no reply came in time (RK_EAGAIN for a zero timeout); or an error as
 * rk_send/rk_recv (RK_ECLOSED, RK_EFAULT).
 */
int rk_call(rk_kernel *k, const rk_msg *m, rk_msg *reply, int64_t timeout_ns);

/** How a caller can stop an rk_call_ex that is waiting (a signal, a shutdown flag, a cancelled task). */
typedef struct rk_call_opts {
    /*
     * Asked while the call waits (for room in H2K or for its reply), at most every check_ns; a nonzero
     * return ends the call with RK_ECANCELED. Runs on the calling thread, never with a library lock held.
     * NULL: never asked (rk_call).
     */
    int (*cancel)(void *arg);
    void *cancel_arg;
    int64_t check_ns; /* 0: every 10 ms */
} rk_call_opts;

/**
 * rk_call that the caller can cancel (opts may be NULL: exactly rk_call). Returns as rk_call, or
 * RK_ECANCELED when opts->cancel asked to stop: nothing was sent if it stopped while H2K was full;
 * otherwise the request may still be handled, and its reply is dropped and counted in stats.dropped
 * like the reply of a call that timed out (never delivered to another caller).
 */
int rk_call_ex(rk_kernel *k, const rk_msg *m, rk_msg *reply, int64_t timeout_ns, const rk_call_opts *opts);

/** The host HLC of the runtime: every send stamps it, every receive merges the reply's stamp into it. */
int rk_runtime_hlc_now(rk_runtime *rt, rk_hlc_ts *out);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_RUNTIME_H */
