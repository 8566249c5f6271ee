/* compute_internal.h - compute.h's objects and the backend's compute interface (rk__compute_ops).
 *
 * The core (compute.c) owns what is the same on every backend: front end (parse, check, IR), the kernel
 * signatures and argument checks, the on-disk cache, launch geometry and the error paths. A backend owns
 * the target: which emitter, how the emitted text becomes code (C compiler + dlopen, NVRTC + the CUDA
 * driver, glslang + Vulkan pipelines), its buffers and its queue. It is reached through
 * rk_backend_ops.compute (NULL: the backend has no compute; compute.h's calls answer RK_ENOTSUP).
 *
 * Contract:
 *   C1  The core checks every argument before calling a backend: a launch reaches ops->launch only with
 *       nargs == kernel->nparams, each args[i].kind == kernel->params[i].kind, buffers of the same runtime,
 *       stencil buffers large enough, sizes >= 1. Backends do not re-check.
 *   C2  Launches are ordered per runtime (compute.h "Ordering"). buffer_read/buffer_write/sync wait for
 *       every earlier launch; a device fault is sticky: every later call returns RK_EFAULT.
 *   C3  The core serialises the calls of compute.h per runtime (rk__compute.lock), so backends need no lock
 *       of their own for their compute queue.
 *   C4  Cache entries are written and read only through rk__cache_load/rk__cache_store (header, key,
 *       checksum); a backend never trusts cache bytes that did not come through them.
 */
#ifndef RK_COMPUTE_INTERNAL_H
#define RK_COMPUTE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ringkernel/compute.h"

struct rk__ir_module;
struct rk__ir_func;

/** One parameter of a launchable kernel. */
typedef struct rk__compute_param {
    char name[64];
    rk_arg_kind kind;
    uint32_t elem_size;  /* RK_ARG_BUFFER: bytes per element (for the stencil size check); else 0 */
    uint8_t writes;      /* RK_ARG_BUFFER: the kernel may write it (RK_ACC_WRITE or RK_ACC_ATOMIC) */
} rk__compute_param;

/** A launchable kernel (global or stencil) of a program. */
typedef struct rk__compute_kernel {
    char name[64];
    int stencil;                 /* 0: global, 1: stencil */
    uint32_t workgroup[3];       /* the kernel's workgroup (attributes, or the target default) */
    uint32_t radius, dims;       /* stencil only */
    rk__compute_param *params;
    uint32_t nparams;
    const struct rk__ir_func *ir; /* valid during program_build only */
    void *impl;                  /* the backend's handle: function pointer, CUfunction, pipeline */
} rk__compute_kernel;

struct rk_program {
    rk_runtime *rt;
    rk__compute_kernel *kernels;
    uint32_t nkernels;
    rk_program_info info;
    void *impl;                  /* the backend's program: dlopen handle, CUmodule, shader modules */
};

struct rk_buffer {
    rk_runtime *rt;
    size_t size;
    void *impl;                  /* the backend's buffer: host pointer, CUdeviceptr, rk__vk_buffer */
};

/** Launch geometry, computed by the core (compute.h): groups per axis and, for stencils, the full grid. */
typedef struct rk__launch_geom {
    uint32_t groups[3];          /* workgroups per axis */
    uint32_t grid[3];            /* stencil: nx, ny, nz as given (the kernel's rk_grid_size); global: size */
} rk__launch_geom;

/** What a backend is given to build a program. */
typedef struct rk__build_req {
    const struct rk__ir_module *ir;
    const char *name;            /* the source's name for diagnostics */
    const char *source;          /* the .rk text and its length (part of the cache key) */
    size_t len;
    const char *cache_dir;       /* resolved; NULL: no cache */
    char *log;                   /* opts->log (may be NULL) */
    size_t log_cap;
} rk__build_req;

typedef struct rk__compute_ops {
    /** Allocates b->size zeroed bytes, sets b->impl. RK_ENOMEM, RK_EBACKEND. */
    int (*buffer_alloc)(rk_runtime *rt, rk_buffer *b);
    /** Frees b->impl after earlier launches finished. */
    void (*buffer_free)(rk_runtime *rt, rk_buffer *b);
    int (*buffer_write)(rk_runtime *rt, rk_buffer *b, size_t off, const void *src, size_t n);
    int (*buffer_read)(rk_runtime *rt, const rk_buffer *b, size_t off, void *dst, size_t n);
    /**
     * Emits the module for the backend's target, compiles it (through the cache: rk__cache_load/store)
     * and sets p->impl, each p->kernels[i].impl, and p->info.target/arch/from_cache/cache_rebuilt/
     * cache_path. Diagnostics and compiler logs go to req->log and rk__err. Returns 0 or RK_E*.
     */
    int (*program_build)(rk_runtime *rt, rk_program *p, const rk__build_req *req);
    /** Frees p->impl after earlier launches finished. */
    void (*program_free)(rk_runtime *rt, rk_program *p);
    /** Queues kernel k over g with the checked args (C1). */
    int (*launch)(rk_runtime *rt, rk_program *p, const rk__compute_kernel *k, const rk__launch_geom *g,
                  const rk_arg *args);
    /** Waits for every launch so far (C2). */
    int (*sync)(rk_runtime *rt);
    /** Limits: most workgroups per axis (0: no limit). */
    uint32_t max_groups[3];
    /*
     * The rk__target (codegen/intrinsics.h: RK_TGT_C, RK_TGT_CUDA, RK_TGT_GLSL) whose capabilities the core
     * checks the source against before program_build, so a construct the target cannot do is the checker's
     * diagnostic (RK_ENOTSUP) rather than an emitter failure. Added with the implementation: the contract
     * of e0ac89f gave the core no way to know the target before the backend ran.
     */
    int target;
} rk__compute_ops;

/* ---- Helpers for program_build (compute.c) ---------------------------------------------------------- */

/**
 * Emits req->ir for target (an rk__target) into *text (malloc'd) and *len. The emitter's diagnostics go to
 * req->log and the first one to rk__err. Returns 0; RK_ENOTSUP when a construct cannot be lowered to the
 * target; RK_ENOMEM.
 */
int rk__compute_emit(const rk__build_req *req, int target, char **text, size_t *len);

/** Copies text into req->log (truncated, NUL-terminated; nothing when req->log is NULL). */
void rk__compute_log(const rk__build_req *req, const char *text);

/* ---- The cache (compute.c) -------------------------------------------------------------------------- */

/** A cache key: the hash of every part that changes the compiled result (C4). */
typedef struct rk__cache_key {
    uint64_t h[2];
} rk__cache_key;

/** Builds a key from the source and the strings naming target, architecture and compiler version. */
rk__cache_key rk__cache_key_make(const char *source, size_t len, const char *target, const char *arch,
                                 const char *compiler);

/**
 * Looks up key in dir. Returns 1 with *data (malloc'd) and *len when a valid entry exists; 0 when none;
 * -1 when an entry exists but is corrupt or was written for another key (the caller rebuilds; *rebuilt
 * is set). path receives the entry's path (cap bytes).
 */
int rk__cache_load(const char *dir, rk__cache_key key, const char *ext, void **data, size_t *len,
                   int *rebuilt, char *path, size_t cap);

/** Stores data under key in dir, atomically (write to a temporary file, then rename). Returns 0 or RK_EIO. */
int rk__cache_store(const char *dir, rk__cache_key key, const char *ext, const void *data, size_t len);

#endif /* RK_COMPUTE_INTERNAL_H */
