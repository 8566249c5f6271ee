/* cuda_compute.c - compute.h on the CUDA backend (host side): .rk kernels through NVRTC onto the GPU.
 *
 * A program is the module's CUDA C (emit_cuda.c: kernels are extern "C" __global__, so their names are
 * the .rk names and need no mangling lookup) compiled by NVRTC into a cubin for the runtime's GPU, cached
 * through rk__cache_load/store (C4), and loaded with the runtime API's library calls:
 *
 *     cudaLibraryLoadData -> cudaLibraryGetKernel (one cudaKernel_t per kernel) -> cudaLaunchKernel
 *
 * Why the library calls and not cuModuleLoadData/cuLaunchKernel or cudaGetDriverEntryPoint: the library
 * is linked against the static CUDA runtime only, never against libcuda (so it loads on machines without
 * a driver, cuda_backend.c), and since CUDA 12.0 the runtime loads cubins itself and cudaLaunchKernel
 * takes a cudaKernel_t in place of a __global__ function's address. That keeps one error type
 * (cudaError_t, one check macro), one notion of the current device, and no hand-declared driver
 * prototypes fetched through entry points whose ABI we would have to pin ourselves. A library is
 * context-independent: it is loaded into the primary context of every device, so a program works on
 * whichever device its runtime uses.
 *
 * NVRTC is opened with dlopen at run time ($RK_NVRTC, else libnvrtc.so.13, libnvrtc.so.12, libnvrtc.so
 * through the dynamic linker's search, then in the build's CUDA toolkit and /usr/local/cuda, for machines
 * whose toolkit is not on the linker's path):
 * the library keeps no link-time dependency on it, and a machine without it gets RK_ENODEV from
 * rk_program_create instead of a library that fails to load. The emitted code includes <math.h> and
 * <stdint.h>, which NVRTC does not have (it has no system include path); they are given to it as two
 * small in-memory headers (NAN, INFINITY, the fixed-width integers) instead of pointing it at the host's
 * /usr/include, whose glibc headers NVRTC cannot parse reliably.
 *
 * $RK_NVRTC_FLAGS adds NVRTC options (whitespace-separated, at most 16: -lineinfo, --use_fast_math,
 * -DNAME=...) after ours; they are part of the cache key.
 *
 * Per runtime (rt->compute_data, created at the first compute call and freed with the runtime):
 *   G1  One non-blocking stream carries every compute operation of the runtime in call order: zero-fills,
 *       copies, launches, frees. That gives compute.h's ordering (C2) without events, and never serialises
 *       with the legacy default stream or with the persistent actors' own streams.
 *   G2  Buffers come from the runtime's own stream-ordered pool (cudaMemPoolCreate, release threshold
 *       UINT64_MAX): cudaFreeAsync on the stream returns the memory to the pool after the launches queued
 *       before it, and the next cudaMallocAsync of a similar size on the same stream reuses it without a
 *       device synchronisation. The pool is the runtime's, so its threshold does not change the device's
 *       default pool that the actors use; it is destroyed (memory back to the device) with the runtime.
 *   G3  Faults are sticky (C2): an error that poisons the CUDA context (illegal address, trap, launch
 *       failure, ...) is RK_EFAULT and sets cc->fault; every later call of the runtime answers RK_EFAULT
 *       without touching the device. The context is the process's primary context, shared with every
 *       runtime on the device: after such a fault CUDA itself fails every later call in the process.
 *       Errors that do not poison the context (a bad launch configuration, out of memory) are
 *       RK_EBACKEND / RK_ENOMEM and not sticky.
 */
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <nvrtc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"
#include "codegen/intrinsics.h"
#include "codegen/ir.h"
#include "core/compute_internal.h"
#include "core/internal.h"
#include "core/runtime_internal.h"

/* The grid limits of every CUDA device since compute capability 3.0 (cudaDeviceProp.maxGridSize); the
 * device's own values are checked again at launch (cc->max_grid). */
#define RK__CUDA_GRID_X 2147483647u
#define RK__CUDA_GRID_YZ 65535u

typedef struct rk__cuda_compute {
    cudaStream_t stream;    /* G1 */
    cudaMemPool_t pool;     /* G2 */
    int device;
    int fault;              /* G3: sticky */
    char fault_msg[160];
    int cc_major, cc_minor;
    int max_grid[3];
    int max_threads_block;
} rk__cuda_compute;

/* ---- Errors (G3) ------------------------------------------------------------------------------------- */

/* 1 if e leaves the CUDA context unusable (the errors documented as "sticky"). */
static int rk__cuda_sticky(cudaError_t e)
{
    switch (e) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorUnknown:
        return 1;
    default:
        return 0;
    }
}

/* Maps a failed CUDA call to RK_EFAULT (sticky, G3), RK_ENOMEM or RK_EBACKEND, naming the call. */
static int rk__cuda_cc_fail(rk__cuda_compute *cc, cudaError_t e, const char *call)
{
    if (rk__cuda_sticky(e)) {
        if (cc != NULL && !cc->fault) {
            cc->fault = 1;
            snprintf(cc->fault_msg, sizeof cc->fault_msg, "%s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
        }
        return rk__err(RK_EFAULT, "CUDA compute: a kernel faulted on the GPU: %s: %s (%s)", call,
                       cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (e == cudaErrorMemoryAllocation)
        return rk__err(RK_ENOMEM, "CUDA compute: %s: %s", call, cudaGetErrorString(e));
    return rk__err(RK_EBACKEND, "CUDA compute: %s: %s (%s)", call, cudaGetErrorString(e), cudaGetErrorName(e));
}

/* The compute variant of cuda_backend.c's RK__CUDA_CHECK: classifies through rk__cuda_cc_fail. */
#define RK__CUDA_CC_CHECK(cc, call, fail_label)                                                        \
    do {                                                                                              \
        cudaError_t rk__e = (call);                                                                   \
        if (rk__e != cudaSuccess) {                                                                   \
            rc = rk__cuda_cc_fail((cc), rk__e, #call);                                                \
            goto fail_label;                                                                          \
        }                                                                                             \
    } while (0)

static int rk__cuda_cc_faulted(const rk__cuda_compute *cc)
{
    return rk__err(RK_EFAULT, "CUDA compute: an earlier launch failed on the GPU (%s); the runtime's compute "
                              "queue is unusable", cc->fault_msg);
}

/* ---- Per-runtime state (G1, G2) ---------------------------------------------------------------------- */

/* Returns the runtime's compute state, creating it at the first call. Runs on the runtime's device. */
static int rk__cuda_cc_get(rk_runtime *rt, rk__cuda_compute **out)
{
    rk__cuda_compute *cc = rt->compute_data;
    struct cudaDeviceProp p;
    struct cudaMemPoolProps props;
    uint64_t threshold = UINT64_MAX;
    int rc = 0;

    if (cc != NULL) {
        *out = cc;
        return cc->fault ? rk__cuda_cc_faulted(cc) : 0;
    }
    cc = calloc(1, sizeof *cc);
    if (cc == NULL)
        return rk__err(RK_ENOMEM, "CUDA compute: out of memory");
    cc->device = rk__cuda_rt_device(rt);
    RK__CUDA_CC_CHECK(NULL, cudaGetDeviceProperties(&p, cc->device), fail);
    cc->cc_major = p.major;
    cc->cc_minor = p.minor;
    memcpy(cc->max_grid, p.maxGridSize, sizeof cc->max_grid);
    cc->max_threads_block = p.maxThreadsPerBlock;
    RK__CUDA_CC_CHECK(NULL, cudaStreamCreateWithFlags(&cc->stream, cudaStreamNonBlocking), fail);
    memset(&props, 0, sizeof props);
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = cc->device;
    RK__CUDA_CC_CHECK(NULL, cudaMemPoolCreate(&cc->pool, &props), fail_stream);
    /* Keep freed memory in the pool between synchronisations (the default threshold, 0, hands it back to
     * the device at every stream synchronisation, and the next allocation maps it again). */
    RK__CUDA_CC_CHECK(NULL, cudaMemPoolSetAttribute(cc->pool, cudaMemPoolAttrReleaseThreshold, &threshold),
                      fail_pool);
    rt->compute_data = cc;
    *out = cc;
    return 0;

fail_pool:
    cudaMemPoolDestroy(cc->pool);
fail_stream:
    cudaStreamDestroy(cc->stream);
fail:
    free(cc);
    return rc;
}

void rk__cuda_compute_destroy(rk_runtime *rt)
{
    rk__cuda_compute *cc = rt->compute_data;

    if (cc == NULL)
        return;
    if (!cc->fault) {
        /* Buffers the application never destroyed go back with the pool: it is freed once they are. */
        (void)cudaStreamSynchronize(cc->stream);
        (void)cudaMemPoolDestroy(cc->pool);
        (void)cudaStreamDestroy(cc->stream);
    }
    /* After a fault (G3) every CUDA call fails anyway; the context's teardown reclaims the memory. */
    cudaGetLastError();
    free(cc);
    rt->compute_data = NULL;
}

/* ---- Buffers (G2) ------------------------------------------------------------------------------------ */

static int rk__cuda_buffer_alloc_on(rk_runtime *rt, rk_buffer *b)
{
    rk__cuda_compute *cc;
    void *p = NULL;
    int rc;

    if ((rc = rk__cuda_cc_get(rt, &cc)) != 0)
        return rc;
    RK__CUDA_CC_CHECK(cc, cudaMallocFromPoolAsync(&p, b->size, cc->pool, cc->stream), fail);
    /* Zero-filled on the same stream (G1): every later use of the buffer is ordered after the fill. */
    RK__CUDA_CC_CHECK(cc, cudaMemsetAsync(p, 0, b->size, cc->stream), fail_free);
    b->impl = p;
    return 0;

fail_free:
    cudaFreeAsync(p, cc->stream);
fail:
    if (rc == RK_ENOMEM)
        rc = rk__err(RK_ENOMEM, "rk_buffer_create: %zu bytes of GPU memory are not available", b->size);
    return rc;
}

static void rk__cuda_buffer_free_on(rk_runtime *rt, rk_buffer *b)
{
    rk__cuda_compute *cc = rt->compute_data;

    if (cc == NULL || b->impl == NULL)
        return;
    if (!cc->fault && cudaFreeAsync(b->impl, cc->stream) != cudaSuccess) /* after earlier launches (G1) */
        cudaGetLastError();
    b->impl = NULL;
}

static int rk__cuda_buffer_copy_on(rk_runtime *rt, void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
    rk__cuda_compute *cc;
    int rc;

    if ((rc = rk__cuda_cc_get(rt, &cc)) != 0)
        return rc;
    if (n > 0)
        RK__CUDA_CC_CHECK(cc, cudaMemcpyAsync(dst, src, n, kind, cc->stream), fail);
    /* Waits for the launches before it too (C2); also reports a fault of one of them (G3). */
    RK__CUDA_CC_CHECK(cc, cudaStreamSynchronize(cc->stream), fail);
    return 0;
fail:
    return rc;
}

static int rk__cuda_buffer_write_on(rk_runtime *rt, rk_buffer *b, size_t off, const void *src, size_t n)
{
    return rk__cuda_buffer_copy_on(rt, (char *)b->impl + off, src, n, cudaMemcpyHostToDevice);
}

static int rk__cuda_buffer_read_on(rk_runtime *rt, const rk_buffer *b, size_t off, void *dst, size_t n)
{
    return rk__cuda_buffer_copy_on(rt, dst, (const char *)b->impl + off, n, cudaMemcpyDeviceToHost);
}

/* ---- NVRTC, opened at run time ----------------------------------------------------------------------- */

typedef struct rk__nvrtc {
    void *handle;
    char path[256];
    int major, minor;
    nvrtcResult (*version)(int *, int *);
    nvrtcResult (*get_num_archs)(int *);
    nvrtcResult (*get_archs)(int *);
    nvrtcResult (*create)(nvrtcProgram *, const char *, const char *, int, const char *const *,
                          const char *const *);
    nvrtcResult (*destroy)(nvrtcProgram *);
    nvrtcResult (*compile)(nvrtcProgram, int, const char *const *);
    nvrtcResult (*log_size)(nvrtcProgram, size_t *);
    nvrtcResult (*log)(nvrtcProgram, char *);
    nvrtcResult (*cubin_size)(nvrtcProgram, size_t *);
    nvrtcResult (*cubin)(nvrtcProgram, char *);
    nvrtcResult (*ptx_size)(nvrtcProgram, size_t *);
    nvrtcResult (*ptx)(nvrtcProgram, char *);
    const char *(*error_string)(nvrtcResult);
} rk__nvrtc;

/* The NVRTC last opened, by path; libraries once opened stay open (unloading NVRTC is not worth its risk,
 * and a second open of the same path only bumps a reference count). */
static pthread_mutex_t rk__nvrtc_lock = PTHREAD_MUTEX_INITIALIZER;
static rk__nvrtc rk__nvrtc_cur;

static int rk__nvrtc_bind(rk__nvrtc *n, void *h, const char *path)
{
#define RK__NVRTC_SYM(field, sym)                                                                          \
    do {                                                                                                  \
        *(void **)&n->field = dlsym(h, #sym);                                                             \
        if (n->field == NULL)                                                                             \
            return rk__err(RK_ENODEV, "NVRTC at '%s' lacks %s (too old? CUDA 11.1 or later is needed)",     \
                           path, #sym);                                                                   \
    } while (0)
    memset(n, 0, sizeof *n);
    RK__NVRTC_SYM(version, nvrtcVersion);
    RK__NVRTC_SYM(get_num_archs, nvrtcGetNumSupportedArchs);
    RK__NVRTC_SYM(get_archs, nvrtcGetSupportedArchs);
    RK__NVRTC_SYM(create, nvrtcCreateProgram);
    RK__NVRTC_SYM(destroy, nvrtcDestroyProgram);
    RK__NVRTC_SYM(compile, nvrtcCompileProgram);
    RK__NVRTC_SYM(log_size, nvrtcGetProgramLogSize);
    RK__NVRTC_SYM(log, nvrtcGetProgramLog);
    RK__NVRTC_SYM(cubin_size, nvrtcGetCUBINSize);
    RK__NVRTC_SYM(cubin, nvrtcGetCUBIN);
    RK__NVRTC_SYM(ptx_size, nvrtcGetPTXSize);
    RK__NVRTC_SYM(ptx, nvrtcGetPTX);
    RK__NVRTC_SYM(error_string, nvrtcGetErrorString);
#undef RK__NVRTC_SYM
    if (n->version(&n->major, &n->minor) != NVRTC_SUCCESS)
        return rk__err(RK_ENODEV, "NVRTC at '%s': nvrtcVersion failed", path);
    n->handle = h;
    rk__strlcpy(n->path, path, sizeof n->path);
    return 0;
}

/* Opens NVRTC ($RK_NVRTC, else the sonames in order) into *out. RK_ENODEV with the places tried. */
static int rk__nvrtc_open(rk__nvrtc *out)
{
#ifndef RK_CUDA_TOOLKIT_LIBDIR
#define RK_CUDA_TOOLKIT_LIBDIR "/usr/local/cuda/lib64"
#endif
    static const char *const names[] = { "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
                                         RK_CUDA_TOOLKIT_LIBDIR "/libnvrtc.so.13", RK_CUDA_TOOLKIT_LIBDIR "/libnvrtc.so",
                                         "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so" };
    const char *env = getenv("RK_NVRTC");
    char tried[1536] = "";
    int rc = RK_ENODEV;

    pthread_mutex_lock(&rk__nvrtc_lock);
    for (size_t i = 0; i < (env && *env ? 1 : sizeof names / sizeof names[0]); i++) {
        const char *path = env && *env ? env : names[i];
        void *h;

        if (rk__nvrtc_cur.handle != NULL && strcmp(rk__nvrtc_cur.path, path) == 0) {
            *out = rk__nvrtc_cur;
            rc = 0;
            break;
        }
        h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL) {
            const char *why = dlerror();
            size_t l = strlen(tried);
            snprintf(tried + l, sizeof tried - l, "%s%s", l ? "; " : "", why ? why : path);
            continue;
        }
        if ((rc = rk__nvrtc_bind(out, h, path)) != 0)
            break;
        rk__nvrtc_cur = *out;
        break;
    }
    pthread_mutex_unlock(&rk__nvrtc_lock);
    if (rc != 0 && tried[0] != '\0')
        rc = rk__err(RK_ENODEV, "CUDA compute: NVRTC (the CUDA runtime compiler) not found: %s. Install the CUDA "
                                "toolkit's NVRTC (libnvrtc) or point $RK_NVRTC at libnvrtc.so",
                     tried);
    return rc;
}

/* ---- Programs ---------------------------------------------------------------------------------------- */

/* The headers the emitted code includes, which NVRTC lacks (see the top). */
static const char rk__nvrtc_math_h[] =
    "#pragma once\n"
    "#define NAN __int_as_float(0x7fffffff)\n"
    "#define INFINITY __int_as_float(0x7f800000)\n";
static const char rk__nvrtc_stdint_h[] =
    "#pragma once\n"
    "typedef signed char int8_t;\ntypedef unsigned char uint8_t;\n"
    "typedef short int16_t;\ntypedef unsigned short uint16_t;\n"
    "typedef int int32_t;\ntypedef unsigned int uint32_t;\n"
    "typedef long long int64_t;\ntypedef unsigned long long uint64_t;\n";

/*
 * Chooses what NVRTC builds for a device of compute capability major.minor: a cubin for the device's own
 * sm_XY when NVRTC knows it; else a cubin for the newest sm_XZ (Z < Y) of the same major, which runs on
 * the device (binary compatibility within a major version); else PTX for the newest architecture NVRTC
 * knows, which the driver compiles at load time (a device newer than the NVRTC). arch gets "sm_XY" or
 * "compute_XY"; *ptx is 1 for PTX.
 */
static int rk__cuda_pick_arch(const rk__nvrtc *n, int major, int minor, char *arch, size_t cap, int *ptx)
{
    int num = 0, *archs, want = major * 10 + minor, best_same = -1, newest = -1;

    if (n->get_num_archs(&num) != NVRTC_SUCCESS || num <= 0)
        return rk__err(RK_EBACKEND, "CUDA compute: NVRTC lists no GPU architectures");
    archs = calloc((size_t)num, sizeof *archs);
    if (archs == NULL)
        return rk__err(RK_ENOMEM, "CUDA compute: out of memory");
    if (n->get_archs(archs) != NVRTC_SUCCESS) {
        free(archs);
        return rk__err(RK_EBACKEND, "CUDA compute: nvrtcGetSupportedArchs failed");
    }
    for (int i = 0; i < num; i++) {
        if (archs[i] / 10 == major && archs[i] <= want && archs[i] > best_same)
            best_same = archs[i];
        if (archs[i] > newest)
            newest = archs[i];
    }
    free(archs);
    if (best_same >= 0) {
        snprintf(arch, cap, "sm_%d", best_same);
        *ptx = 0;
    } else if (newest >= 0 && newest < want) {
        snprintf(arch, cap, "compute_%d", newest);
        *ptx = 1;
    } else {
        return rk__err(RK_ENOTSUP, "CUDA compute: NVRTC %d.%d cannot build for this GPU (sm_%d): its oldest "
                                   "architectures are newer",
                       n->major, n->minor, want);
    }
    return 0;
}

/* Compiles text with NVRTC into *code and *len (cubin, or NUL-terminated PTX). Errors: RK_EBACKEND with the
 * log in req->log and the first lines of it in rk_last_error(). */
static int rk__cuda_nvrtc_build(const rk__nvrtc *n, const rk__build_req *req, const char *text, const char *arch,
                                int ptx, void **code, size_t *len)
{
    static const char *const hdr_text[] = { rk__nvrtc_math_h, rk__nvrtc_stdint_h };
    static const char *const hdr_name[] = { "math.h", "stdint.h" };
    char opt_arch[64], extra[512], cu_name[300];
    const char *opts[2 + 16] = { opt_arch, "-std=c++17" };
    int nopts = 2;
    nvrtcProgram prog = NULL;
    nvrtcResult r;
    size_t log_len = 0, sz = 0;
    char *log = NULL, *out = NULL;
    int rc = 0;

    snprintf(opt_arch, sizeof opt_arch, "--gpu-architecture=%s", arch);
    /* NVRTC's messages name the generated file: "<name>.cu(LINE)", lines of `ringkernel codegen`'s output. */
    snprintf(cu_name, sizeof cu_name, "%s.cu", req->name ? req->name : "<source>");
    rk__strlcpy(extra, getenv("RK_NVRTC_FLAGS") ? getenv("RK_NVRTC_FLAGS") : "", sizeof extra);
    for (char *save = NULL, *tok = strtok_r(extra, " \t\n", &save); tok != NULL; tok = strtok_r(NULL, " \t\n", &save)) {
        if (nopts == (int)(sizeof opts / sizeof opts[0]))
            return rk__err(RK_EINVAL, "CUDA compute: $RK_NVRTC_FLAGS has more than 16 options");
        opts[nopts++] = tok;
    }
    r = n->create(&prog, text, cu_name, 2, hdr_text, hdr_name);
    if (r != NVRTC_SUCCESS)
        return rk__err(r == NVRTC_ERROR_OUT_OF_MEMORY ? RK_ENOMEM : RK_EBACKEND, "nvrtcCreateProgram: %s",
                       n->error_string(r));
    r = n->compile(prog, nopts, opts);
    if (n->log_size(prog, &log_len) == NVRTC_SUCCESS && log_len > 1 && (log = malloc(log_len)) != NULL &&
        n->log(prog, log) != NVRTC_SUCCESS)
        log[0] = '\0';
    if (r != NVRTC_SUCCESS) {
        /* The generated code came out of the checker, so this is our bug or an NVRTC limit: give the whole
         * log, and the generated source's line numbers it refers to are those of `ringkernel codegen`. */
        char first[256] = "";
        if (log != NULL) {
            const char *nl = strchr(log, '\n');
            size_t l = nl ? (size_t)(nl - log) : strlen(log);
            snprintf(first, sizeof first, "%.*s", (int)(l < 200 ? l : 200), log);
            rk__compute_log(req, log);
        }
        rc = rk__err(RK_EBACKEND, "CUDA compute: NVRTC %d.%d failed on the generated CUDA C of '%s' for %s: %s%s%s",
                     n->major, n->minor, req->name ? req->name : "<source>", arch, n->error_string(r),
                     first[0] ? ": " : "", first);
        goto out;
    }
    if ((ptx ? n->ptx_size(prog, &sz) : n->cubin_size(prog, &sz)) != NVRTC_SUCCESS || sz == 0) {
        rc = rk__err(RK_EBACKEND, "CUDA compute: NVRTC produced no %s", ptx ? "PTX" : "cubin");
        goto out;
    }
    out = malloc(sz);
    if (out == NULL) {
        rc = rk__err(RK_ENOMEM, "CUDA compute: out of memory");
        goto out;
    }
    if ((ptx ? n->ptx(prog, out) : n->cubin(prog, out)) != NVRTC_SUCCESS) {
        free(out);
        out = NULL;
        rc = rk__err(RK_EBACKEND, "CUDA compute: NVRTC could not return the %s", ptx ? "PTX" : "cubin");
        goto out;
    }
    *code = out;
    *len = sz;
out:
    free(log);
    n->destroy(&prog);
    return rc;
}

int rk__cuda_compile(const rk__build_req *req, int major, int minor, char *arch, size_t cap, int *ptx, void **code,
                     size_t *len)
{
    rk__nvrtc nv;
    char *text = NULL;
    size_t text_len = 0;
    int rc;

    *code = NULL;
    *len = 0;
    if ((rc = rk__nvrtc_open(&nv)) != 0 || (rc = rk__cuda_pick_arch(&nv, major, minor, arch, cap, ptx)) != 0 ||
        (rc = rk__compute_emit(req, RK_TGT_CUDA, &text, &text_len)) != 0)
        return rc;
    rc = rk__cuda_nvrtc_build(&nv, req, text, arch, *ptx, code, len);
    free(text);
    return rc;
}

/* Loads code into a library and finds each kernel of p in it. */
static int rk__cuda_load(rk__cuda_compute *cc, rk_program *p, const void *code)
{
    cudaLibrary_t lib = NULL;
    cudaError_t err = cudaSuccess;
    int rc = 0;

    /* C3 (cuda_backend.c): refused, not hung, while a persistent kernel is resident. */
    if ((rc = rk__cuda_code_load(code, &lib, &err)) != 0)
        return rc;
    RK__CUDA_CC_CHECK(cc, err, fail);
    for (uint32_t i = 0; i < p->nkernels; i++) {
        cudaKernel_t k = NULL;
        cudaError_t e = cudaLibraryGetKernel(&k, lib, p->kernels[i].name);
        if (e != cudaSuccess) {
            rc = rk__err(RK_EBACKEND, "CUDA compute: kernel '%s' is not in the compiled program: %s",
                         p->kernels[i].name, cudaGetErrorString(e));
            goto fail_lib;
        }
        p->kernels[i].impl = (void *)k;
    }
    p->impl = (void *)lib;
    return 0;

fail_lib:
    rk__cuda_code_unload(lib);
    for (uint32_t i = 0; i < p->nkernels; i++)
        p->kernels[i].impl = NULL;
fail:
    return rc;
}

static int rk__cuda_program_build_on(rk_runtime *rt, rk_program *p, const rk__build_req *req)
{
    rk__cuda_compute *cc;
    rk__nvrtc nv;
    char arch[32], compiler[640], *text = NULL;
    size_t text_len = 0, code_len = 0;
    void *code = NULL;
    int rc, ptx = 0, hit = 0, rebuilt = 0;
    rk__cache_key key;

    if ((rc = rk__cuda_cc_get(rt, &cc)) != 0)
        return rc;
    for (const rk__ir_func *f = req->ir->funcs; f != NULL; f = f->next)
        if (f->kind == RK_KK_RING)
            return rk__err(RK_ENOTSUP, "%s: ring kernel '%.*s': ring handlers run as CUDA actors "
                                       "(RK_DEVICE_ACTOR, built with nvcc), not in a compute program",
                           req->name ? req->name : "<source>", (int)f->name.len, f->name.ptr);
    if ((rc = rk__nvrtc_open(&nv)) != 0)
        return rc;
    if ((rc = rk__cuda_pick_arch(&nv, cc->cc_major, cc->cc_minor, arch, sizeof arch, &ptx)) != 0)
        return rc;
    rk__strlcpy(p->info.target, "cuda", sizeof p->info.target);
    rk__strlcpy(p->info.arch, arch, sizeof p->info.arch);
    /* The key hashes the CUDA C NVRTC would see (emitted first, a millisecond), not the .rk text, so a
     * development build whose emitter changed (tiles, say) never loads a stale cubin; with it everything
     * else that changes the bytes we load: the architecture, the compiler, its options and in-memory
     * headers (the "abi" tag, bumped when they change); rk__cache_key_make adds the library's version. */
    if ((rc = rk__compute_emit(req, RK_TGT_CUDA, &text, &text_len)) != 0)
        return rc;
    snprintf(compiler, sizeof compiler, "nvrtc-%d.%d;abi-1;%.511s", nv.major, nv.minor,
             getenv("RK_NVRTC_FLAGS") ? getenv("RK_NVRTC_FLAGS") : "");
    key = rk__cache_key_make(text, text_len, "cuda", arch, compiler);
    p->info.cache_path[0] = '\0';
    if (req->cache_dir != NULL) {
        hit = rk__cache_load(req->cache_dir, key, ptx ? "ptx" : "cubin", &code, &code_len, &rebuilt,
                             p->info.cache_path, sizeof p->info.cache_path);
        /* A PTX entry must end in its NUL (cudaLibraryLoadData reads PTX as a C string). */
        if (hit == 1 && ptx && (code_len == 0 || ((const char *)code)[code_len - 1] != '\0')) {
            free(code);
            code = NULL;
            hit = -1;
            rebuilt = 1;
        }
        if (hit < 0)
            rebuilt = 1;
    }
    if (hit == 1) {
        rc = rk__cuda_load(cc, p, code);
        if (rc == 0) {
            p->info.from_cache = 1;
            p->info.cache_rebuilt = 0;
            goto out;
        }
        /* A checksummed entry the driver refuses (another driver's JIT, say): rebuild it. */
        if (rc == RK_EFAULT)
            goto out;
        free(code);
        code = NULL;
        rebuilt = 1;
    }
    if ((rc = rk__cuda_nvrtc_build(&nv, req, text, arch, ptx, &code, &code_len)) != 0)
        goto out;
    if ((rc = rk__cuda_load(cc, p, code)) != 0)
        goto out;
    /* Stored only once it loaded: the cache never holds code the driver refused. A cache that cannot be
     * written costs the next run a compile, nothing else. */
    if (req->cache_dir != NULL && rk__cache_store(req->cache_dir, key, ptx ? "ptx" : "cubin", code, code_len) != 0)
        p->info.cache_path[0] = '\0';
    p->info.from_cache = 0;
    p->info.cache_rebuilt = rebuilt;
out:
    free(text);
    free(code);
    return rc;
}

static void rk__cuda_program_free_on(rk_runtime *rt, rk_program *p)
{
    rk__cuda_compute *cc = rt->compute_data;

    if (p->impl == NULL)
        return;
    /* Launches of this program may still be queued: unload only after them (the library's code must stay
     * while a kernel of it runs). After a fault (G3) the context is gone and nothing runs any more. */
    if (cc != NULL && !cc->fault) {
        cudaError_t e = cudaStreamSynchronize(cc->stream);
        if (e != cudaSuccess) /* a fault of an earlier launch: sticky for the calls after this one */
            (void)rk__cuda_cc_fail(cc, e, "cudaStreamSynchronize");
    }
    rk__cuda_code_unload((cudaLibrary_t)p->impl); /* C3: deferred while persistent kernels are resident */
    p->impl = NULL;
    for (uint32_t i = 0; i < p->nkernels; i++)
        p->kernels[i].impl = NULL;
}

/* ---- Launches ---------------------------------------------------------------------------------------- */

static int rk__cuda_launch_on(rk_runtime *rt, rk_program *p, const rk__compute_kernel *k, const rk__launch_geom *g,
                              const rk_arg *args)
{
    rk__cuda_compute *cc;
    union {
        void *ptr;
        unsigned char b; /* `bool` in the generated code is one byte */
        int32_t i32;
        uint32_t u32;
        int64_t i64;
        uint64_t u64;
        float f32;
        double f64;
        uint3 grid;
    } *vals = NULL, small[16];
    void *ptrs_small[17], **ptrs = ptrs_small;
    const uint32_t n = k->nparams + (k->stencil ? 1u : 0u);
    dim3 grid, block;
    int rc;

    (void)p;
    if ((rc = rk__cuda_cc_get(rt, &cc)) != 0)
        return rc;
    for (int a = 0; a < 3; a++)
        if (g->groups[a] > (uint32_t)cc->max_grid[a])
            return rk__err(RK_EOVERFLOW, "rk_program_launch: kernel '%s': %u workgroups on axis %c exceed the GPU's "
                                         "limit of %d", k->name, g->groups[a], "xyz"[a], cc->max_grid[a]);
    vals = small;
    if (n > 16) {
        vals = calloc(n, sizeof *vals);
        ptrs = calloc(n, sizeof *ptrs);
        if (vals == NULL || ptrs == NULL) {
            free(vals);
            free(ptrs);
            return rk__err(RK_ENOMEM, "CUDA compute: out of memory");
        }
    }
    /* cudaLaunchKernel takes one pointer per parameter to a value of the parameter's type (C1: the kinds
     * are checked, so each kind is exactly the emitted parameter's C type). */
    for (uint32_t i = 0; i < k->nparams; i++) {
        switch (args[i].kind) {
        case RK_ARG_BUFFER: vals[i].ptr = args[i].v.buf->impl; break;
        case RK_ARG_BOOL: vals[i].b = args[i].v.b ? 1 : 0; break;
        case RK_ARG_I32: vals[i].i32 = args[i].v.i32; break;
        case RK_ARG_U32: vals[i].u32 = args[i].v.u32; break;
        case RK_ARG_I64: vals[i].i64 = args[i].v.i64; break;
        case RK_ARG_U64: vals[i].u64 = args[i].v.u64; break;
        case RK_ARG_F32: vals[i].f32 = args[i].v.f32; break;
        case RK_ARG_F64: vals[i].f64 = args[i].v.f64; break;
        }
        ptrs[i] = &vals[i];
    }
    if (k->stencil) { /* emit_cuda.c: the stencil's trailing `uint3 rk_grid_size` */
        vals[k->nparams].grid.x = g->grid[0];
        vals[k->nparams].grid.y = g->grid[1];
        vals[k->nparams].grid.z = g->grid[2];
        ptrs[k->nparams] = &vals[k->nparams];
    }
    grid.x = g->groups[0], grid.y = g->groups[1], grid.z = g->groups[2];
    block.x = k->workgroup[0], block.y = k->workgroup[1], block.z = k->workgroup[2];
    RK__CUDA_CC_CHECK(cc, cudaLaunchKernel((const void *)k->impl, grid, block, ptrs, 0, cc->stream), out);
out:
    if (vals != small)
        free(vals);
    if (ptrs != ptrs_small)
        free(ptrs);
    return rc;
}

static int rk__cuda_sync_on(rk_runtime *rt)
{
    rk__cuda_compute *cc;
    int rc;

    if ((rc = rk__cuda_cc_get(rt, &cc)) != 0)
        return rc;
    RK__CUDA_CC_CHECK(cc, cudaStreamSynchronize(cc->stream), fail);
fail:
    return rc;
}

/* ---- Entry points: on the runtime's device, the caller's device given back --------------------------- */

static int rk__cuda_buffer_alloc(rk_runtime *rt, rk_buffer *b)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_buffer_alloc_on(rt, b);
    rk__cuda_device_leave(dev);
    return rc;
}

static void rk__cuda_buffer_free(rk_runtime *rt, rk_buffer *b)
{
    int dev = rk__cuda_device_enter(rt);
    rk__cuda_buffer_free_on(rt, b);
    rk__cuda_device_leave(dev);
}

static int rk__cuda_buffer_write(rk_runtime *rt, rk_buffer *b, size_t off, const void *src, size_t n)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_buffer_write_on(rt, b, off, src, n);
    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_buffer_read(rk_runtime *rt, const rk_buffer *b, size_t off, void *dst, size_t n)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_buffer_read_on(rt, b, off, dst, n);
    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_program_build(rk_runtime *rt, rk_program *p, const rk__build_req *req)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_program_build_on(rt, p, req);
    rk__cuda_device_leave(dev);
    return rc;
}

static void rk__cuda_program_free(rk_runtime *rt, rk_program *p)
{
    int dev = rk__cuda_device_enter(rt);
    rk__cuda_program_free_on(rt, p);
    rk__cuda_device_leave(dev);
}

static int rk__cuda_compute_launch(rk_runtime *rt, rk_program *p, const rk__compute_kernel *k,
                                   const rk__launch_geom *g, const rk_arg *args)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_launch_on(rt, p, k, g, args);
    rk__cuda_device_leave(dev);
    return rc;
}

static int rk__cuda_compute_sync(rk_runtime *rt)
{
    int dev = rk__cuda_device_enter(rt), rc = rk__cuda_sync_on(rt);
    rk__cuda_device_leave(dev);
    return rc;
}

const rk__compute_ops rk__cuda_compute_ops = {
    .buffer_alloc = rk__cuda_buffer_alloc,
    .buffer_free = rk__cuda_buffer_free,
    .buffer_write = rk__cuda_buffer_write,
    .buffer_read = rk__cuda_buffer_read,
    .program_build = rk__cuda_program_build,
    .program_free = rk__cuda_program_free,
    .launch = rk__cuda_compute_launch,
    .sync = rk__cuda_compute_sync,
    .max_groups = { RK__CUDA_GRID_X, RK__CUDA_GRID_YZ, RK__CUDA_GRID_YZ },
    .target = RK_TGT_CUDA,
};
