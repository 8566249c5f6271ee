/* cuda_backend.c - the CUDA backend: persistent GPU actors (host side).
 *
 * Each kernel is one persistent launch on its own non-blocking stream (never the legacy default stream,
 * which would serialise with a resident kernel). Its control block and H2K/K2H queues live in mapped
 * pinned host memory (region_alloc), so rk_send/rk_recv in runtime.c are the same code as on the CPU: the
 * device loop (device.cuh) polls and publishes with system-scope acquire/release. Handler state and the
 * loop's step words live in device memory from the stream-ordered pool (cudaMallocAsync).
 *
 * Co-residency (invariant C1): a persistent kernel's blocks must all be resident for as long as it runs,
 * or messages to a kernel whose blocks never got an SM are never handled and a grid barrier deadlocks.
 * Before a launch we compute the fraction of the device the grid needs, grid / (occupancy * SMs), and
 * refuse (RK_ELIMIT, naming the numbers) when the sum over resident kernels would pass 1. This is
 * conservative when kernels of different shapes share SMs, and it never launches something that can hang.
 *
 * Library starts without a GPU: cudart is linked statically and loads the driver at the first call;
 * without a driver or device, probe() reports why and the backend is unavailable.
 */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/cuda.h"
#include "ringkernel/message.h"

/* Maps a failing CUDA call to RK_EBACKEND with the call and CUDA's message as detail. */
#define RK__CUDA_CHECK(call, fail_label)                                                              \
    do {                                                                                              \
        cudaError_t rk__e = (call);                                                                   \
        if (rk__e != cudaSuccess) {                                                                   \
            rc = rk__err(RK_EBACKEND, "%s: %s (%s)", #call, cudaGetErrorString(rk__e),                \
                         cudaGetErrorName(rk__e));                                                    \
            goto fail_label;                                                                          \
        }                                                                                             \
    } while (0)

/*
 * Mapped regions (invariant C2): cudaFreeHost synchronises the whole device, so freeing a region while any
 * persistent kernel is resident would wait for a kernel that never ends. Regions are therefore kept in a
 * per-runtime list: a freed region is only marked idle, reused by a later launch of the same or a
 * slightly smaller size, and really freed when no persistent kernel is resident (or at destroy).
 */
typedef struct rk__cuda_region {
    void *ptr;
    size_t size;
    int in_use;
    int leaked;              /* its kernel never stopped: the region is never reused or freed (C2) */
    struct rk__cuda_region *next;
} rk__cuda_region;

/*
 * Process-wide state, shared by every runtime: residency is a property of the device, not of one runtime
 * (two runtimes on one GPU share its SMs, C1), and cudaFreeHost waits for every resident kernel of the
 * process, whichever runtime launched it (C2). One mutex guards all of it; launches and frees are rare.
 *
 * Code loading (invariant C3, measured on the H200 with driver 580): cudaLibraryLoadData and
 * cudaLibraryUnload of compute programs (compute.h) wait until no kernel runs, with or without
 * CUDA_MODULE_LOADING=EAGER; launching a program loaded before does not. So a load while a persistent
 * kernel of the process is resident is refused (RK_ESTATE, rk__cuda_code_load, under the same mutex so no
 * persistent launch starts during a load), and an unload then is deferred to the moment the last resident
 * kernel stops (rk__cuda_regions_trim) or the process ends.
 */
#define RK__CUDA_MAX_DEVICES 64
static pthread_mutex_t rk__cuda_lock = PTHREAD_MUTEX_INITIALIZER;
static double rk__cuda_used[RK__CUDA_MAX_DEVICES]; /* fraction of each device held by persistent kernels */
static int rk__cuda_resident;                       /* persistent kernels of the process not known to have exited */
static rk__cuda_region *rk__cuda_regions;           /* every mapped region of the process (C2); any runtime
                                                       may reuse an idle one: they are portable */
static pthread_once_t rk__cuda_calibrated = PTHREAD_ONCE_INIT;
static int rk__cuda_calib_err;
static int64_t rk__cuda_calib_offset, rk__cuda_calib_uncertainty;

/* One K2K inbox (cuda.h): the ring header, its sequence words and its slots in one device allocation. */
typedef struct rk__cuda_inbox {
    void *mem;
    struct rk__cuda_inbox *next;
} rk__cuda_inbox;

/*
 * K2K (cuda.h; invariants cited as D1..D3):
 *   D1  A kernel's directory entry is written, and the copy finished, before the kernel is launched: it can
 *       send to itself at once, and any address a sender can have learnt (from the host, after
 *       rk_kernel_launch returned) finds its entry. The device reads entries past L1 (relaxed, gpu scope).
 *   D2  An inbox lives until the runtime is destroyed, also after its kernel stopped: a sender that found
 *       the entry may still touch the ring, and then finds it closed (RK_ECLOSED). Rings are never reused.
 *   D3  Entry i serves the kernels whose id is i modulo RK_CUDA_K2K_DIR; while one of them is launched and
 *       not released, a launch of another is refused (RK_ELIMIT) instead of taking its entry over.
 */
typedef struct rk__cuda_rt {
    int device;
    int sm_count;
    int coop_supported;
    int64_t hlc_offset_ns;
    int64_t hlc_uncertainty_ns;
    cudaStream_t stream;           /* K2K set-up copies (directory, endpoints, inboxes) */
    rk_k2k_dir_entry *dir;         /* device memory, RK_CUDA_K2K_DIR entries */
    rk_k2k_endpoint *eps;          /* device memory, RK_CUDA_K2K_ENDPOINTS entries */
    pthread_mutex_t k2k_lock;      /* guards dir_owner and inboxes */
    uint32_t dir_owner[RK_CUDA_K2K_DIR]; /* kernel id holding each entry (D3), 0: free */
    rk__cuda_inbox *inboxes;       /* every inbox of the runtime (D2) */
    uint64_t ep_addr[RK_CUDA_K2K_ENDPOINTS]; /* host copy of the endpoint mirror, under rt->ep_lock */
    char ep_name[RK_CUDA_K2K_ENDPOINTS][64];
} rk__cuda_rt;

static void rk__cuda_regions_trim(void);

/* Measured once per process, before any persistent kernel of ours can be resident (C2: the calibration
 * frees pinned memory). */
static void rk__cuda_calibrate_once(void)
{
    rk__cuda_calib_err = rk__cuda_calibrate(&rk__cuda_calib_offset, &rk__cuda_calib_uncertainty);
}

typedef struct rk__cuda_kernel {
    cudaStream_t stream;
    uint32_t dir_index;     /* its directory entry (D3); RK_CUDA_K2K_DIR while it holds none */
    void *state;            /* device memory */
    rk_device_step *step;   /* device memory */
    uint8_t *stage;         /* device memory: one batch of slots */
    uint8_t *replied;       /* device memory: one byte per batch index */
    double share;           /* this kernel's fraction of the device (C1) */
    int resident;           /* 1 while launched and not known to have exited */
    rk_cuda_actor_def def;
} rk__cuda_kernel;

_Static_assert(sizeof(rk_device_step) % 8 == 0, "step words are 8-byte aligned");

static void rk__cuda_k2k_detach(rk__cuda_rt *c, rk__cuda_kernel *ck);

/* ---- Probe and devices -------------------------------------------------------------------------------- */

/* 1 if the NVIDIA driver library can be loaded (it is loaded by cudart anyway when present). */
static int rk__cuda_driver_present(void)
{
    void *h = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);

    if (h == NULL)
        return 0;
    dlclose(h);
    return 1;
}

/*
 * Module loading (invariant C3): CUDA loads a kernel's module lazily by default (CUDA_MODULE_LOADING=LAZY
 * since 12.2), at its first launch or occupancy query. Loading synchronises with the kernels already
 * running in the context, so the first launch of an actor while another persistent kernel is resident
 * waits forever for a kernel that never ends. Before the process's first CUDA call we ask for eager
 * loading (every module at context creation), unless the application chose a mode itself; an application
 * that initialised CUDA with lazy loading before us must launch each actor once before others are resident.
 */
static pthread_once_t rk__cuda_env_once = PTHREAD_ONCE_INIT;

static void rk__cuda_env(void)
{
    (void)setenv("CUDA_MODULE_LOADING", "EAGER", 0); /* 0: the application's choice wins */
}

static void rk__cuda_env_init(void)
{
    pthread_once(&rk__cuda_env_once, rk__cuda_env);
}

static int rk__cuda_probe(rk_backend_status *st)
{
    int n = 0;
    cudaError_t e;

    rk__cuda_env_init();
    e = cudaGetDeviceCount(&n);

    st->compiled = 1;
    if (e == cudaErrorInsufficientDriver && !rk__cuda_driver_present()) {
        /* cudart says "insufficient driver" when there is none at all: say what is really missing. */
        st->available = 0;
        st->device_count = 0;
        snprintf(st->reason, sizeof st->reason,
                 "no NVIDIA driver on this machine (libcuda.so.1 not found; CUDA runtime %d.%d is built in)",
                 CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10);
        cudaGetLastError();
        return 0;
    }
    if (e != cudaSuccess || n == 0) {
        st->available = 0;
        st->device_count = 0;
        snprintf(st->reason, sizeof st->reason, "no usable CUDA device: %s (%s)",
                 e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices",
                 e != cudaSuccess ? cudaGetErrorName(e) : "none");
        cudaGetLastError(); /* clear the sticky-free error so later probes start clean */
        return 0;
    }
    st->available = 1;
    st->device_count = n;
    snprintf(st->reason, sizeof st->reason, "%d CUDA device%s", n, n == 1 ? "" : "s");
    return 0;
}

static int rk__cuda_devices(rk_device_info *out, int max)
{
    int n = 0, drv = 0;

    rk__cuda_env_init();
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    cudaDriverGetVersion(&drv);
    for (int i = 0; i < n && i < max; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess)
            return i;
        memset(&out[i], 0, sizeof out[i]);
        out[i].backend = RK_BACKEND_CUDA;
        out[i].index = i;
        rk__strlcpy(out[i].name, p.name, sizeof out[i].name);
        out[i].memory_bytes = p.totalGlobalMem;
        out[i].compute_units = p.multiProcessorCount;
        out[i].cc_major = p.major;
        out[i].cc_minor = p.minor;
        snprintf(out[i].driver, sizeof out[i].driver, "CUDA driver API %d.%d", drv / 1000, (drv % 1000) / 10);
    }
    return n < max ? n : max;
}

/* ---- K2K: directory, endpoints, inboxes (D1..D3) ------------------------------------------------------ */

static int rk__cuda_k2k_init(rk__cuda_rt *c)
{
    int rc = 0;

    if (pthread_mutex_init(&c->k2k_lock, NULL) != 0)
        return rk__err(RK_ENOMEM, "CUDA backend: cannot create a mutex");
    RK__CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking), fail_lock);
    RK__CUDA_CHECK(cudaMallocAsync((void **)&c->dir, RK_CUDA_K2K_DIR * sizeof *c->dir, c->stream), fail_stream);
    RK__CUDA_CHECK(cudaMallocAsync((void **)&c->eps, RK_CUDA_K2K_ENDPOINTS * sizeof *c->eps, c->stream), fail_dir);
    RK__CUDA_CHECK(cudaMemsetAsync(c->dir, 0, RK_CUDA_K2K_DIR * sizeof *c->dir, c->stream), fail_eps);
    RK__CUDA_CHECK(cudaMemsetAsync(c->eps, 0, RK_CUDA_K2K_ENDPOINTS * sizeof *c->eps, c->stream), fail_eps);
    RK__CUDA_CHECK(cudaStreamSynchronize(c->stream), fail_eps);
    return 0;

fail_eps:
    cudaFreeAsync(c->eps, c->stream);
fail_dir:
    cudaFreeAsync(c->dir, c->stream);
    cudaStreamSynchronize(c->stream);
fail_stream:
    cudaStreamDestroy(c->stream);
fail_lock:
    pthread_mutex_destroy(&c->k2k_lock);
    return rc;
}

/* Every kernel of the runtime was released: nothing can touch the rings any more (D2). */
static void rk__cuda_k2k_destroy(rk__cuda_rt *c)
{
    while (c->inboxes != NULL) {
        rk__cuda_inbox *in = c->inboxes;
        c->inboxes = in->next;
        cudaFreeAsync(in->mem, c->stream);
        free(in);
    }
    cudaFreeAsync(c->eps, c->stream);
    cudaFreeAsync(c->dir, c->stream);
    cudaStreamSynchronize(c->stream);
    cudaStreamDestroy(c->stream);
    pthread_mutex_destroy(&c->k2k_lock);
}

/* Copies n bytes to device memory on the runtime's stream and waits for them (set-up only). */
static int rk__cuda_put(rk__cuda_rt *c, void *dst, const void *src, size_t n, const char *what)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, c->stream);

    if (e == cudaSuccess)
        e = cudaStreamSynchronize(c->stream);
    if (e != cudaSuccess)
        return rk__err(RK_EBACKEND, "CUDA backend: writing the %s: %s", what, cudaGetErrorString(e));
    return 0;
}

/*
 * Gives kernel k its directory entry (D3) and, unless it runs low-latency, an inbox with as many slots of
 * the same size as its H2K queue (D1, D2). Fills the K2K fields of *a. Returns 0, RK_ELIMIT, RK_ENOMEM or
 * RK_EBACKEND.
 */
static int rk__cuda_k2k_attach(rk__cuda_rt *c, rk_kernel *k, rk__cuda_kernel *ck, rk_device_args *a)
{
    const uint32_t idx = k->id & (RK_CUDA_K2K_DIR - 1u);
    const uint64_t cap = (uint64_t)k->h2k.mask + 1;
    rk_k2k_dir_entry entry = { NULL, k->id, 0 };
    rk__cuda_inbox *in = NULL;
    int rc = 0;

    pthread_mutex_lock(&c->k2k_lock);
    if (c->dir_owner[idx] != 0) {
        rc = rk__err(RK_ELIMIT, "kernel '%s': K2K directory entry %u is held by kernel %u, still launched "
                                "(at most %u kernels of one runtime alive at once when their ids are %u apart)",
                     k->name, idx, c->dir_owner[idx], RK_CUDA_K2K_DIR, RK_CUDA_K2K_DIR);
    } else {
        c->dir_owner[idx] = k->id;
        ck->dir_index = idx;
    }
    pthread_mutex_unlock(&c->k2k_lock);
    if (rc != 0)
        return rc;
    a->k2k_dir = c->dir;
    a->k2k_endpoints = c->eps;
    if (!k->ll) {
        const size_t seq_off = sizeof(rk_k2k_ring), slots_off = seq_off + cap * sizeof(uint64_t);
        rk_k2k_ring *hdr = calloc(1, slots_off); /* the header and the initial sequence words */
        uint8_t *mem = NULL;
        cudaError_t e;

        in = calloc(1, sizeof *in);
        if (hdr == NULL || in == NULL) {
            free(hdr);
            rc = rk__err(RK_ENOMEM, "CUDA backend: out of memory");
            goto fail;
        }
        e = cudaMallocAsync((void **)&mem, slots_off + (cap << k->h2k.slot_shift), c->stream);
        if (e != cudaSuccess) {
            free(hdr);
            rc = rk__err(RK_ENOMEM, "kernel '%s': K2K inbox of %llu slots: %s", k->name, (unsigned long long)cap,
                         cudaGetErrorString(e));
            goto fail;
        }
        in->mem = mem;
        hdr->seq = (uint64_t *)(mem + seq_off);
        hdr->slots = mem + slots_off;
        hdr->mask = (uint32_t)(cap - 1);
        hdr->slot_shift = k->h2k.slot_shift;
        hdr->payload_max = (1u << k->h2k.slot_shift) - RK_ENVELOPE_SIZE;
        hdr->kernel_id = k->id;
        for (uint64_t p = 0; p < cap; p++) /* position p is free: the empty ring */
            ((uint64_t *)((uint8_t *)hdr + seq_off))[p] = p;
        rc = rk__cuda_put(c, mem, hdr, slots_off, "K2K inbox");
        free(hdr);
        if (rc != 0) {
            cudaFreeAsync(mem, c->stream);
            cudaStreamSynchronize(c->stream);
            goto fail;
        }
        pthread_mutex_lock(&c->k2k_lock);
        in->next = c->inboxes;
        c->inboxes = in;
        pthread_mutex_unlock(&c->k2k_lock);
        entry.ring = (rk_k2k_ring *)mem;
        a->inbox = entry.ring;
        a->k2k_seq = (uint64_t *)(mem + seq_off);
        a->k2k_slots = mem + slots_off;
        a->k2k_mask = (uint32_t)(cap - 1);
        in = NULL;
    }
    if ((rc = rk__cuda_put(c, &c->dir[idx], &entry, sizeof entry, "K2K directory")) == 0)
        return 0; /* D1 */
fail:
    free(in);
    rk__cuda_k2k_detach(c, ck);
    return rc;
}

/* The kernel no longer holds its directory entry (D3). The device entry stays: senders find the closed
 * ring behind it (D2) until a later kernel takes the entry over. */
static void rk__cuda_k2k_detach(rk__cuda_rt *c, rk__cuda_kernel *ck)
{
    if (ck->dir_index >= RK_CUDA_K2K_DIR)
        return;
    pthread_mutex_lock(&c->k2k_lock);
    c->dir_owner[ck->dir_index] = 0;
    pthread_mutex_unlock(&c->k2k_lock);
    ck->dir_index = RK_CUDA_K2K_DIR;
}

/* rk_backend_ops.endpoint: mirrors the host's endpoint table for rk_k2k_resolve. Under rt->ep_lock. */
static int rk__cuda_endpoint_on(rk_runtime *rt, const char *name, rk_addr addr)
{
    rk__cuda_rt *c = rt->backend_data;
    uint32_t i, free_i = RK_CUDA_K2K_ENDPOINTS;
    int rc;

    for (i = 0; i < RK_CUDA_K2K_ENDPOINTS; i++) {
        if (c->ep_addr[i] != 0 && strcmp(c->ep_name[i], name) == 0)
            break;
        if (c->ep_addr[i] == 0 && free_i == RK_CUDA_K2K_ENDPOINTS)
            free_i = i;
    }
    if (addr == 0) { /* removal: the entry goes free first, so no kernel resolves it afterwards */
        uint64_t zero = 0;
        if (i == RK_CUDA_K2K_ENDPOINTS)
            return 0;
        c->ep_addr[i] = 0;
        return rk__cuda_put(c, &c->eps[i].addr, &zero, sizeof zero, "endpoint table");
    }
    if (free_i == RK_CUDA_K2K_ENDPOINTS)
        return rk__err(RK_ELIMIT, "rk_endpoint_register: the CUDA backend's device endpoint table is full (%u names)",
                       RK_CUDA_K2K_ENDPOINTS);
    /* The name first, then the address that makes the entry visible to rk_k2k_resolve. */
    memset(c->ep_name[free_i], 0, sizeof c->ep_name[free_i]);
    rk__strlcpy(c->ep_name[free_i], name, sizeof c->ep_name[free_i]);
    if ((rc = rk__cuda_put(c, c->eps[free_i].name, c->ep_name[free_i], sizeof c->ep_name[free_i], "endpoint table")) != 0 ||
        (rc = rk__cuda_put(c, &c->eps[free_i].addr, &addr, sizeof addr, "endpoint table")) != 0)
        return rc;
    c->ep_addr[free_i] = addr;
    return 0;
}

/* ---- Runtime ---------------------------------------------------------------------------------------- */

static int rk__cuda_init(rk_runtime *rt)
{
    rk__cuda_rt *c;
    struct cudaDeviceProp p;
    int rc, cerr, prev = -1;

    rk__cuda_env_init(); /* C3 */

    /* Checked once here rather than on every launch: the type ids the built-in counter compares against. */
    if (rk_type_id("counter_add") != RK__CUDA_TYPE_COUNTER_ADD || rk_type_id("counter_get") != RK__CUDA_TYPE_COUNTER_GET)
        return rk__err(RK_EABI, "CUDA backend: built-in type ids disagree with rk_type_id()");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return rk__err(RK_ENOMEM, "CUDA backend: out of memory");
    c->device = rt->opts.device;
    if (cudaGetDevice(&prev) != cudaSuccess)
        prev = -1;
    RK__CUDA_CHECK(cudaSetDevice(c->device), fail);
    /* Mapped pinned memory needs the flag before the context exists; if a context already exists (the
     * application used CUDA first) the flag is implied on every 64-bit platform with unified addressing. */
    if (cudaSetDeviceFlags(cudaDeviceMapHost) != cudaSuccess)
        cudaGetLastError();
    RK__CUDA_CHECK(cudaGetDeviceProperties(&p, c->device), fail);
    if (!p.canMapHostMemory || !p.unifiedAddressing) {
        rc = rk__err(RK_ENOTSUP, "CUDA device %d (%s) cannot map host memory", c->device, p.name);
        goto fail;
    }
    if (c->device < 0 || c->device >= RK__CUDA_MAX_DEVICES) {
        rc = rk__err(RK_EINVAL, "CUDA backend: device %d out of range", c->device);
        goto fail;
    }
    c->sm_count = p.multiProcessorCount;
    c->coop_supported = p.cooperativeLaunch;
    if ((rc = rk__cuda_register_builtins()) != 0)
        goto fail;
    pthread_once(&rk__cuda_calibrated, rk__cuda_calibrate_once);
    cerr = rk__cuda_calib_err;
    if (cerr != 0) {
        rc = rk__err(RK_EBACKEND, "CUDA backend: clock calibration failed: %s",
                     cudaGetErrorString((cudaError_t)cerr));
        goto fail;
    }
    c->hlc_offset_ns = rk__cuda_calib_offset;
    c->hlc_uncertainty_ns = rk__cuda_calib_uncertainty;
    if ((rc = rk__cuda_k2k_init(c)) != 0)
        goto fail;
    rt->backend_data = c;
    rk__cuda_device_leave(prev != c->device ? prev : -1); /* the caller's thread keeps its device */
    return 0;

fail:
    rk__cuda_device_leave(prev >= 0 && prev != c->device ? prev : -1);
    free(c);
    return rc;
}

static void rk__cuda_destroy(rk_runtime *rt)
{
    rk__cuda_rt *c = rt->backend_data;

    if (c == NULL)
        return;
    if (rt->compute_data != NULL) {
        int dev = rk__cuda_device_enter(rt);
        rk__cuda_compute_destroy(rt);
        rk__cuda_device_leave(dev);
    }
    rk__cuda_k2k_destroy(c);
    pthread_mutex_lock(&rk__cuda_lock);
    rk__cuda_regions_trim(); /* idle regions wait for the last resident kernel of the process (C2) */
    pthread_mutex_unlock(&rk__cuda_lock);
    free(c);
    rt->backend_data = NULL;
}

/* Compute libraries whose unload waits for the last resident kernel (C3), under rk__cuda_lock. */
typedef struct rk__cuda_unload {
    cudaLibrary_t lib;
    struct rk__cuda_unload *next;
} rk__cuda_unload;
static rk__cuda_unload *rk__cuda_unloads;

/* Frees idle regions and unloads deferred libraries; only when no persistent kernel is resident (C2, C3).
 * Caller holds rk__cuda_lock. */
static void rk__cuda_regions_trim(void)
{
    rk__cuda_region **pp = &rk__cuda_regions;

    if (rk__cuda_resident > 0)
        return;
    while (rk__cuda_unloads != NULL) {
        rk__cuda_unload *u = rk__cuda_unloads;
        rk__cuda_unloads = u->next;
        if (cudaLibraryUnload(u->lib) != cudaSuccess)
            (void)cudaGetLastError();
        free(u);
    }
    while (*pp != NULL) {
        rk__cuda_region *r = *pp;
        if (r->in_use) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        cudaFreeHost(r->ptr);
        free(r);
    }
}

int rk__cuda_code_load(const void *code, cudaLibrary_t *lib, cudaError_t *err)
{
    int rc = 0;

    pthread_mutex_lock(&rk__cuda_lock); /* no persistent launch starts meanwhile */
    if (rk__cuda_resident > 0)
        rc = rk__err(RK_ESTATE, "CUDA compute: %d persistent kernel(s) of this process are resident, and the "
                     "driver loads code only when the GPU is idle (it would wait for them forever): create "
                     "programs before launching actors, or terminate the actors first", rk__cuda_resident);
    else
        *err = cudaLibraryLoadData(lib, code, NULL, NULL, 0, NULL, NULL, 0);
    pthread_mutex_unlock(&rk__cuda_lock);
    return rc;
}

void rk__cuda_code_unload(cudaLibrary_t lib)
{
    rk__cuda_unload *u;

    pthread_mutex_lock(&rk__cuda_lock);
    if (rk__cuda_resident > 0 && (u = malloc(sizeof *u)) != NULL) {
        u->lib = lib;
        u->next = rk__cuda_unloads;
        rk__cuda_unloads = u;
        lib = NULL;
    }
    pthread_mutex_unlock(&rk__cuda_lock);
    /* With kernels resident and no memory for the list entry, the library stays loaded: better a leak than
     * a wait for kernels that never end. */
    if (lib != NULL && rk__cuda_resident == 0 && cudaLibraryUnload(lib) != cudaSuccess)
        (void)cudaGetLastError();
}

static int rk__cuda_region_alloc_on(rk_runtime *rt, size_t size, void **host_ptr)
{
    (void)rt;
    rk__cuda_region *r, *best = NULL;
    void *p = NULL;
    cudaError_t e;

    pthread_mutex_lock(&rk__cuda_lock);
    for (r = rk__cuda_regions; r != NULL; r = r->next) /* reuse an idle region that fits without much waste */
        if (!r->in_use && r->size >= size && r->size <= 2 * size && (best == NULL || r->size < best->size))
            best = r;
    if (best != NULL) {
        best->in_use = 1;
        pthread_mutex_unlock(&rk__cuda_lock);
        memset(best->ptr, 0, size);
        *host_ptr = best->ptr;
        return 0;
    }
    pthread_mutex_unlock(&rk__cuda_lock);
    r = calloc(1, sizeof *r);
    if (r == NULL)
        return rk__err(RK_ENOMEM, "CUDA backend: out of memory");
    /* Portable: usable from every context; mapped: the device reads and writes it over the bus. Pinned
     * allocations are page-aligned, which covers the 128-byte alignment the queues need. */
    e = cudaHostAlloc(&p, size, cudaHostAllocMapped | cudaHostAllocPortable);
    if (e != cudaSuccess) {
        free(r);
        return rk__err(RK_ENOMEM, "cudaHostAlloc of %zu bytes: %s", size, cudaGetErrorString(e));
    }
    memset(p, 0, size);
    r->ptr = p;
    r->size = size;
    r->in_use = 1;
    pthread_mutex_lock(&rk__cuda_lock);
    r->next = rk__cuda_regions;
    rk__cuda_regions = r;
    pthread_mutex_unlock(&rk__cuda_lock);
    *host_ptr = p;
    return 0;
}

static void rk__cuda_region_free_on(rk_runtime *rt, void *host_ptr)
{
    (void)rt;

    if (host_ptr == NULL)
        return;
    pthread_mutex_lock(&rk__cuda_lock);
    for (rk__cuda_region *r = rk__cuda_regions; r != NULL; r = r->next)
        if (r->ptr == host_ptr && !r->leaked)
            r->in_use = 0;
    rk__cuda_regions_trim();
    pthread_mutex_unlock(&rk__cuda_lock);
}

/* ---- Kernels ------------------------------------------------------------------------------------------ */

/* Reserves the kernel's share of the device (C1). */
static int rk__cuda_reserve(rk__cuda_rt *c, rk_kernel *k, rk__cuda_kernel *ck, unsigned grid, unsigned block)
{
    int per_sm = 0, e, rc = 0;
    double cap;

    e = ck->def.occupancy(&per_sm, block, 0, k->ll);
    if (e != 0)
        return rk__err(RK_EBACKEND, "kernel '%s': occupancy query failed: %s", k->name,
                       cudaGetErrorString((cudaError_t)e));
    if (per_sm == 0)
        return rk__err(RK_ELIMIT, "kernel '%s': a block of %u threads cannot run on this GPU "
                                  "(registers or shared memory per block exceed the SM's)", k->name, block);
    cap = (double)per_sm * c->sm_count;
    ck->share = grid / cap;
    pthread_mutex_lock(&rk__cuda_lock);
    if (rk__cuda_used[c->device] + ck->share > 1.0 + 1e-9) {
        rc = rk__err(RK_ELIMIT,
                     "kernel '%s': co-residency limit: %u blocks of %u threads need %.1f%% of the GPU "
                     "(%d blocks/SM x %d SMs = %.0f co-resident blocks), %.1f%% is held by resident "
                     "persistent kernels",
                     k->name, grid, block, 100.0 * ck->share, per_sm, c->sm_count, cap, 100.0 * rk__cuda_used[c->device]);
    } else {
        rk__cuda_used[c->device] += ck->share;
        rk__cuda_resident++;
    }
    pthread_mutex_unlock(&rk__cuda_lock);
    return rc;
}

static void rk__cuda_unreserve(rk__cuda_rt *c, rk__cuda_kernel *ck)
{
    pthread_mutex_lock(&rk__cuda_lock);
    rk__cuda_used[c->device] -= ck->share;
    if (rk__cuda_used[c->device] < 1e-9)
        rk__cuda_used[c->device] = 0;
    rk__cuda_resident--;
    rk__cuda_regions_trim(); /* the last resident kernel stopped: idle regions can go (C2) */
    pthread_mutex_unlock(&rk__cuda_lock);
    ck->share = 0;
}

static int rk__cuda_launch_on(rk_runtime *rt, rk_kernel *k)
{
    rk__cuda_rt *c = rt->backend_data;
    rk__cuda_kernel *ck;
    rk_device_args a;
    unsigned block = k->opts.block_size ? k->opts.block_size : k->ll ? 32 : 256;
    unsigned grid = k->opts.grid_size ? k->opts.grid_size : 1;
    int coop = grid > 1 || (k->opts.flags & RK_LAUNCH_GRID_SYNC);
    uint32_t state_size, max_batch;
    int rc = 0, e;

    RK__TRACE_PUSH("rk_kernel_launch");
    ck = calloc(1, sizeof *ck);
    if (ck == NULL) {
        rc = rk__err(RK_ENOMEM, "CUDA backend: out of memory");
        goto fail_alloc;
    }
    ck->dir_index = RK_CUDA_K2K_DIR;
    if ((rc = rk_cuda_actor_lookup(k->name, &ck->def)) != 0)
        goto fail_lookup;
    if (block == 0 || block > 1024 || block % 32 != 0) {
        rc = rk__err(RK_EINVAL, "kernel '%s': block size %u must be a multiple of 32 in [32, 1024]", k->name,
                     block);
        goto fail_lookup;
    }
    if (coop && !c->coop_supported) {
        rc = rk__err(RK_ENOTSUP, "kernel '%s': this GPU does not support cooperative launch", k->name);
        goto fail_lookup;
    }
    if (k->ll && (block != 32 || grid != 1 || k->opts.slot_size > RK_CUDA_LL_MAX_SLOT)) {
        rc = rk__err(RK_EINVAL, "kernel '%s': RK_LAUNCH_LOW_LATENCY serves on one warp: block_size 0 or 32 and "
                                "grid_size 0 or 1, slot_size <= %u (got %u x %u, slot %u)",
                     k->name, RK_CUDA_LL_MAX_SLOT, grid, block, k->opts.slot_size);
        goto fail_lookup;
    }
    /* A low-latency kernel runs a serving warp and a control warp (device.cuh, rk__device_main_ll). */
    const unsigned launch_block = k->ll ? 64 : block;
    if ((rc = rk__cuda_reserve(c, k, ck, grid, launch_block)) != 0)
        goto fail_lookup;
    state_size = k->opts.state_size ? k->opts.state_size : ck->def.state_size;
    RK__CUDA_CHECK(cudaStreamCreateWithFlags(&ck->stream, cudaStreamNonBlocking), fail_reserve);
    RK__CUDA_CHECK(cudaMallocAsync((void **)&ck->step, sizeof(rk_device_step), ck->stream), fail_stream);
    RK__CUDA_CHECK(cudaMemsetAsync(ck->step, 0, sizeof(rk_device_step), ck->stream), fail_step);
    max_batch = grid * block * RK_CUDA_MSGS_PER_THREAD;
    if (max_batch > RK_CUDA_MAX_BATCH)
        max_batch = RK_CUDA_MAX_BATCH;
    if (k->ll) /* the shared stage holds RK_CUDA_LL_MAX_BATCH slots of RK_CUDA_LL_MAX_SLOT bytes */
        max_batch = RK_CUDA_LL_MAX_BATCH;
    RK__CUDA_CHECK(cudaMallocAsync((void **)&ck->stage, (size_t)max_batch << k->h2k.slot_shift, ck->stream),
                   fail_step);
    RK__CUDA_CHECK(cudaMallocAsync((void **)&ck->replied, (size_t)max_batch, ck->stream),
                   fail_stage);
    if (state_size) {
        RK__CUDA_CHECK(cudaMallocAsync(&ck->state, state_size, ck->stream), fail_replied);
        RK__CUDA_CHECK(cudaMemsetAsync(ck->state, 0, state_size, ck->stream), fail_state);
    }

    memset(&a, 0, sizeof a);
    RK__CUDA_CHECK(cudaHostGetDevicePointer((void **)&a.cb, k->cb, 0), fail_state);
    RK__CUDA_CHECK(cudaHostGetDevicePointer((void **)&a.h2k, k->h2k.hdr, 0), fail_state);
    RK__CUDA_CHECK(cudaHostGetDevicePointer((void **)&a.k2h, k->k2h.hdr, 0), fail_state);
    a.h2k_slots = (uint8_t *)a.h2k + k->h2k.hdr->slots_offset;
    a.k2h_slots = (uint8_t *)a.k2h + k->k2h.hdr->slots_offset;
    a.h2k_seq = NULL;
    a.state = ck->state;
    a.step = ck->step;
    a.stage = ck->stage;
    a.replied = ck->replied;
    a.max_batch = max_batch;
    a.hlc_offset_ns = c->hlc_offset_ns;
    a.state_size = state_size;
    a.kernel_id = k->id;
    a.h2k_mask = k->h2k.mask;
    a.k2h_mask = k->k2h.mask;
    a.slot_shift = k->h2k.slot_shift;
    a.grid_sync = (uint32_t)coop;
    a.ll = (uint32_t)k->ll;
    if ((rc = rk__cuda_k2k_attach(c, k, ck, &a)) != 0)
        goto fail_state;
    k->backend_data = ck;

    e = ck->def.launch(&a, grid, launch_block, 0, coop, ck->stream);
    if (e != 0) {
        rc = rk__err(e == cudaErrorCooperativeLaunchTooLarge ? RK_ELIMIT : RK_EBACKEND,
                     "kernel '%s': launch of %u x %u failed: %s", k->name, grid, block,
                     cudaGetErrorString((cudaError_t)e));
        k->backend_data = NULL;
        rk__cuda_k2k_detach(c, ck);
        goto fail_state;
    }
    ck->resident = 1;
    RK__TRACE_POP();
    return 0;

fail_state:
    if (ck->state)
        cudaFreeAsync(ck->state, ck->stream);
fail_replied:
    cudaFreeAsync(ck->replied, ck->stream);
fail_stage:
    cudaFreeAsync(ck->stage, ck->stream);
fail_step:
    cudaFreeAsync(ck->step, ck->stream);
    cudaStreamSynchronize(ck->stream);
fail_stream:
    cudaStreamDestroy(ck->stream);
fail_reserve:
    rk__cuda_unreserve(c, ck);
fail_lookup:
    free(ck);
fail_alloc:
    RK__TRACE_POP();
    return rc;
}

/* Reads the kernel's lifecycle state (acquire: pairs with the device's release store of state). */
static uint32_t rk__cuda_state(const rk_kernel *k)
{
    return atomic_load_explicit((_Atomic uint32_t *)&k->cb->state, memory_order_acquire);
}

static int rk__cuda_poll_on(rk_kernel *k)
{
    rk__cuda_kernel *ck = k->backend_data;
    cudaError_t e;

    if (ck == NULL || !ck->resident)
        return 0;
    e = cudaStreamQuery(ck->stream);
    if (e == cudaErrorNotReady || e == cudaSuccess)
        return 0;
    /* A device fault (illegal address, trap) is sticky for the whole context: report it as a kernel fault. */
    atomic_store_explicit((_Atomic uint32_t *)&k->cb->state, RK_STATE_FAILED, memory_order_release);
    return rk__err(RK_EFAULT, "kernel '%s' faulted on the GPU: %s", k->name, cudaGetErrorString(e));
}

static int rk__cuda_wait_stopped_on(rk_kernel *k, int64_t timeout_ns)
{
    rk__cuda_kernel *ck = k->backend_data;
    rk_backoff b;
    int rc = 0;

    RK__TRACE_PUSH("rk_kernel_terminate");
    rk_backoff_init(&b, timeout_ns);
    for (;;) {
        uint32_t s = rk__cuda_state(k);
        if (s == RK_STATE_STOPPED)
            break;
        /* FAILED is stored by the device as it leaves its loop, or by the host when an earlier terminate
         * missed its deadline (K3 in runtime.c) while the kernel still runs: only an idle stream says the
         * kernel returned, and synchronising with a running persistent kernel would never return. */
        if (s == RK_STATE_FAILED && (ck == NULL || !ck->resident || cudaStreamQuery(ck->stream) != cudaErrorNotReady))
            break;
        if ((rc = rk__cuda_poll_on(k)) != 0)
            goto out;
        if (rk_backoff_wait(&b) != 0) {
            rc = rk__err(RK_ENOTRESPONDING, "kernel '%s' did not stop within %lld ns (heartbeat %llu)",
                         k->name, (long long)timeout_ns,
                         (unsigned long long)atomic_load_explicit((_Atomic uint64_t *)&k->cb->heartbeat,
                                                                  memory_order_relaxed));
            goto out;
        }
    }
    /* The loop stored its final state as its last action: the kernel is returning. */
    if (ck != NULL && ck->resident) {
        cudaError_t e = cudaStreamSynchronize(ck->stream);
        ck->resident = 0;
        rk__cuda_unreserve(k->rt->backend_data, ck);
        if (e != cudaSuccess)
            rc = rk__err(RK_EFAULT, "kernel '%s': %s", k->name, cudaGetErrorString(e));
    }
out:
    RK__TRACE_POP();
    return rc;
}

static void rk__cuda_release_on(rk_kernel *k)
{
    rk__cuda_kernel *ck = k->backend_data;

    if (ck == NULL)
        return;
    if (ck->resident && cudaStreamQuery(ck->stream) == cudaErrorNotReady) {
        /* Still running (it did not answer terminate): freeing its memory under it would corrupt it, and
         * synchronising would hang. Leak deliberately, region included: a later launch must never be
         * handed memory this kernel still polls (C2). The runtime reported RK_ENOTRESPONDING. */
        pthread_mutex_lock(&rk__cuda_lock);
        for (rk__cuda_region *r = rk__cuda_regions; r != NULL; r = r->next)
            if (r->ptr == k->region)
                r->leaked = 1;
        pthread_mutex_unlock(&rk__cuda_lock);
        return;
    }
    if (ck->resident)
        rk__cuda_unreserve(k->rt->backend_data, ck);
    rk__cuda_k2k_detach(k->rt->backend_data, ck);
    if (ck->state)
        cudaFreeAsync(ck->state, ck->stream);
    cudaFreeAsync(ck->replied, ck->stream);
    cudaFreeAsync(ck->stage, ck->stream);
    cudaFreeAsync(ck->step, ck->stream);
    cudaStreamSynchronize(ck->stream);
    cudaStreamDestroy(ck->stream);
    free(ck);
    k->backend_data = NULL;
}

/* ---- Entry points ------------------------------------------------------------------------------------ */

/* The CUDA runtime's current device is a property of the calling host thread: every entry point runs on
 * the runtime's device and gives the calling thread its own device back. Returns the device to restore,
 * or -1 if none. */
int rk__cuda_device_enter(const rk_runtime *rt)
{
    const rk__cuda_rt *c = rt->backend_data;
    int prev = -1;

    if (c != NULL && cudaGetDevice(&prev) == cudaSuccess && prev != c->device &&
        cudaSetDevice(c->device) == cudaSuccess)
        return prev;
    return -1;
}

void rk__cuda_device_leave(int prev)
{
    if (prev >= 0)
        (void)cudaSetDevice(prev);
}

static int rk__cuda_region_alloc(rk_runtime *rt, size_t size, void **host_ptr)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_region_alloc_on(rt, size, host_ptr);

    rk__cuda_device_leave(dev);
    return rc;
}

static void rk__cuda_region_free(rk_runtime *rt, void *host_ptr)
{
    int dev = rk__cuda_device_enter(rt);

    rk__cuda_region_free_on(rt, host_ptr);
    rk__cuda_device_leave(dev);
}

static int rk__cuda_launch(rk_runtime *rt, rk_kernel *k)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_launch_on(rt, k);

    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_poll(rk_kernel *k)
{
    int dev = rk__cuda_device_enter(k->rt), rc = rk__cuda_poll_on(k);

    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_wait_stopped(rk_kernel *k, int64_t timeout_ns)
{
    int dev = rk__cuda_device_enter(k->rt), rc = rk__cuda_wait_stopped_on(k, timeout_ns);

    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_endpoint(rk_runtime *rt, const char *name, rk_addr addr)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_endpoint_on(rt, name, addr);

    rk__cuda_device_leave(dev);
    return rc;
}

static void rk__cuda_release(rk_kernel *k)
{
    int dev = rk__cuda_device_enter(k->rt);

    rk__cuda_release_on(k);
    rk__cuda_device_leave(dev);
}

const rk_backend_ops rk__cuda_backend_ops = {
    .kind = RK_BACKEND_CUDA,
    .name = "cuda",
    .low_latency = 1,
    .mp_host_lock = 1, /* the device loop consumes H2K single-producer: runtime.c K8 */
    .probe = rk__cuda_probe,
    .devices = rk__cuda_devices,
    .init = rk__cuda_init,
    .destroy = rk__cuda_destroy,
    .region_alloc = rk__cuda_region_alloc,
    .region_free = rk__cuda_region_free,
    .launch = rk__cuda_launch,
    .notify = NULL,
    .wait_stopped = rk__cuda_wait_stopped,
    .poll = rk__cuda_poll,
    .release = rk__cuda_release,
    .endpoint = rk__cuda_endpoint,
    .compute = &rk__cuda_compute_ops,
};

int rk__cuda_rt_device(const rk_runtime *rt)
{
    const rk__cuda_rt *c = rt->backend_data;

    return c != NULL ? c->device : 0;
}
