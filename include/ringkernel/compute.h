/* compute.h - compute kernels from the kernel language (.rk, docs/DSL.md) launched through a runtime.
 *
 * Actors (actor.h) are long-lived and talk through queues. Compute kernels are the other half: a global or
 * stencil kernel written once in .rk, compiled at run time for the runtime's backend, and launched over
 * buffers that the runtime allocates on its device:
 *
 *     rk_program *p;  rk_program_create(rt, src, strlen(src), NULL, &p);   // CPU: C, CUDA: NVRTC, Vulkan: SPIR-V
 *     rk_buffer *x, *y;
 *     rk_buffer_create(rt, n * 4, &x);  rk_buffer_create(rt, n * 4, &y);
 *     rk_buffer_write(x, 0, host_x, n * 4);
 *     rk_arg args[] = { RK_ARG_BUF(y), RK_ARG_BUF(x), RK_ARG_F32(2.0f), RK_ARG_U32(n) };
 *     rk_program_launch(p, "saxpy", (uint32_t[3]){ n, 1, 1 }, args, 4);
 *     rk_buffer_read(y, 0, host_y, n * 4);                                   // waits for the launch
 *
 * Compilation. rk_program_create parses and checks the source (diagnostics as `file:line:col: error: ...`
 * with the source line and a caret, in rk_last_error() and in opts->log), lowers it through the one IR,
 * emits the backend's language and compiles it: CPU: portable C built by the system C compiler ($RK_CC,
 * else cc) into a shared object loaded with dlopen; CUDA: CUDA C built by NVRTC into a cubin for the
 * current GPU; Vulkan: GLSL built into SPIR-V. The result is cached on disk (see rk_program_opts.cache_dir),
 * keyed by the source's hash, the target, the device architecture, the compiler's version and the library's
 * version; an entry that fails its checksum is reported through rk_program_info and rebuilt.
 *
 * Ordering. Launches on one runtime run in the order they were made, each seeing the writes of the ones
 * before. rk_program_launch may return before the kernel ran (CUDA, Vulkan); rk_buffer_read,
 * rk_buffer_write and rk_compute_sync wait for every launch made before them on that runtime.
 *
 * Threads: one thread at a time per runtime for the calls of this header (they share the runtime's compute
 * queue); actors of the same runtime run beside them independently.
 */
#ifndef RINGKERNEL_COMPUTE_H
#define RINGKERNEL_COMPUTE_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/error.h"
#include "ringkernel/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_buffer rk_buffer;
typedef struct rk_program rk_program;

/* ---- Buffers ---------------------------------------------------------------------------------------- */

/**
 * Allocates bytes (> 0) of the runtime's device memory, zero-filled: CPU host memory aligned to 64 bytes,
 * CUDA device memory from the runtime's stream-ordered pool, Vulkan device-local memory where the device
 * has it. Returns 0; RK_EINVAL; RK_ENOMEM; RK_ENOTSUP on a backend without compute (Metal); RK_EBACKEND.
 */
int rk_buffer_create(rk_runtime *rt, size_t bytes, rk_buffer **out);

/** Frees a buffer after the launches that use it have finished. NULL is ignored. */
void rk_buffer_destroy(rk_buffer *b);

/** The buffer's size in bytes (0 for NULL). */
size_t rk_buffer_size(const rk_buffer *b);

/**
 * Copies bytes from host memory into the buffer at offset, after every launch made before on the runtime
 * has finished. Returns 0; RK_EINVAL (NULL, or offset + bytes past the end); RK_EBACKEND; RK_EFAULT if an
 * earlier launch failed on the device.
 */
int rk_buffer_write(rk_buffer *b, size_t offset, const void *src, size_t bytes);

/** Copies bytes from the buffer at offset into host memory, as rk_buffer_write the other way. */
int rk_buffer_read(const rk_buffer *b, size_t offset, void *dst, size_t bytes);

/* ---- Programs --------------------------------------------------------------------------------------- */

typedef struct rk_program_opts {
    const char *name;      /* the file name diagnostics give; NULL: "<source>" */
    /*
     * Directory of the compiled-program cache. NULL: $RK_CACHE_DIR, else $XDG_CACHE_HOME/ringkernel, else
     * $HOME/.cache/ringkernel (created if missing). "": no cache (always compile).
     */
    const char *cache_dir;
    char *log;             /* optional: the full diagnostics (or the target compiler's log) on failure */
    size_t log_cap;        /* bytes at log, including the terminating NUL */
} rk_program_opts;

/**
 * Compiles .rk source (len bytes; need not be NUL-terminated) for the runtime's backend. opts may be NULL.
 * Returns 0; RK_EINVAL (NULL arguments, or the source does not compile: rk_last_error() holds the first
 * diagnostic, opts->log all of them); RK_ENOTSUP if a kernel uses something the backend's target cannot do
 * (the diagnostic names it) or the backend has no compute; RK_ENODEV if the target compiler is missing (no C
 * compiler on the CPU backend, no NVRTC); RK_EBACKEND if the target compiler or driver failed (its log in
 * opts->log); RK_ENOMEM.
 */
int rk_program_create(rk_runtime *rt, const char *source, size_t len, const rk_program_opts *opts,
                      rk_program **out);

/** As rk_program_create with the contents of the file at path (opts->name defaults to path). RK_EIO. */
int rk_program_create_file(rk_runtime *rt, const char *path, const rk_program_opts *opts, rk_program **out);

/** Frees a program after the launches that use it have finished. NULL is ignored. */
void rk_program_destroy(rk_program *p);

/** What rk_program_create did. */
typedef struct rk_program_info {
    char target[16];       /* "c", "cuda", "glsl" */
    char arch[32];         /* "sm_90", "x86_64", "spirv1.3" */
    int from_cache;        /* 1: loaded from the cache, 0: compiled */
    int cache_rebuilt;     /* 1: a cache entry was found corrupt or stale and was rebuilt */
    double build_ms;       /* wall time of rk_program_create */
    char cache_path[512];  /* the cache entry ("" with no cache) */
    uint32_t kernels;      /* launchable kernels (global and stencil) */
} rk_program_info;

/** Fills *info. Returns 0 or RK_EINVAL. */
int rk_program_info_get(const rk_program *p, rk_program_info *info);

/* ---- Launches --------------------------------------------------------------------------------------- */

typedef enum rk_arg_kind {
    RK_ARG_BUFFER = 1, /* a `global` pointer parameter */
    RK_ARG_BOOL,
    RK_ARG_I32,
    RK_ARG_U32,
    RK_ARG_I64,
    RK_ARG_U64,
    RK_ARG_F32,
    RK_ARG_F64,
} rk_arg_kind;

/** One argument of a launch: its kind must be exactly the parameter's type (no conversions). */
typedef struct rk_arg {
    rk_arg_kind kind;
    union {
        rk_buffer *buf;
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
        int b;
    } v;
} rk_arg;

#define RK_ARG_BUF(x) ((rk_arg){ .kind = RK_ARG_BUFFER, .v.buf = (x) })
#define RK_ARG_BOOL(x) ((rk_arg){ .kind = RK_ARG_BOOL, .v.b = (x) ? 1 : 0 })
#define RK_ARG_I32(x) ((rk_arg){ .kind = RK_ARG_I32, .v.i32 = (x) })
#define RK_ARG_U32(x) ((rk_arg){ .kind = RK_ARG_U32, .v.u32 = (x) })
#define RK_ARG_I64(x) ((rk_arg){ .kind = RK_ARG_I64, .v.i64 = (x) })
#define RK_ARG_U64(x) ((rk_arg){ .kind = RK_ARG_U64, .v.u64 = (x) })
#define RK_ARG_F32(x) ((rk_arg){ .kind = RK_ARG_F32, .v.f32 = (x) })
#define RK_ARG_F64(x) ((rk_arg){ .kind = RK_ARG_F64, .v.f64 = (x) })

/**
 * Launches kernel `kernel` of the program (a global or stencil kernel) with nargs arguments, one per
 * parameter in order.
 *
 * size: global kernels: work-items per axis (each >= 1), rounded up to whole workgroups (the kernel checks
 * its own bounds, as SAXPY's `if (i < n)`); global_id() is the linear index x + X * (y + Y * z) with X, Y the
 * rounded sizes. Stencil kernels: the grid's full size nx, ny, nz including the halo (nz = 1 for a 2D
 * stencil); the kernel runs on the interior points (radius..n-1-radius per axis) and every buffer
 * parameter must hold nx * ny * nz elements (checked).
 *
 * Returns 0 once the launch is queued; RK_EINVAL (no such kernel, a ring kernel, wrong argument count or
 * kind: rk_last_error() names the parameter; a buffer of another runtime or too small; a size of 0);
 * RK_EOVERFLOW if the size exceeds the backend's grid limits; RK_EFAULT if an earlier launch failed on the
 * device; RK_EBACKEND.
 */
int rk_program_launch(rk_program *p, const char *kernel, const uint32_t size[3], const rk_arg *args,
                      size_t nargs);

/** Waits for every launch made so far on the runtime. Returns 0; RK_EFAULT if one failed; RK_EBACKEND. */
int rk_compute_sync(rk_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_COMPUTE_H */
