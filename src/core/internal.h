/* internal.h - helpers shared by the library's sources; not installed. */
#ifndef RK_INTERNAL_H
#define RK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/error.h"

#if defined(__GNUC__)
#define RK__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define RK__LIKELY(x) __builtin_expect(!!(x), 1)
#define RK__UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RK__PRINTF(a, b)
#define RK__LIKELY(x) (x)
#define RK__UNLIKELY(x) (x)
#endif

/**
 * Records `code` with a printf-style detail as the calling thread's last error and returns `code`, so a
 * failure path reads `return rk__err(RK_EINVAL, "rk_queue_create: capacity %u is not a power of two", c);`.
 */
int rk__err(int code, const char *fmt, ...) RK__PRINTF(2, 3);

/** 1 if x is a power of two (x > 0). */
static inline int rk__is_pow2(uint64_t x) { return x && !(x & (x - 1)); }

/** log2 of a power of two. */
static inline uint32_t rk__log2(uint64_t x) { return (uint32_t)__builtin_ctzll(x); }

/** Rounds n up to a multiple of a (a power of two). */
static inline size_t rk__align_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

/** Zeroed memory aligned to `align` (a power of two >= sizeof(void *)); NULL on failure. Free with free(). */
void *rk__aligned_zalloc(size_t align, size_t size);

/** CPU relaxation hint for spin loops (pause on x86, yield on Arm). */
static inline void rk__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* NVTX ranges around host operations (launch, send, recv, terminate) when the build has NVTX3 (a
 * header-only library in the CUDA toolkit: without an attached profiler a range costs a pointer check). */
#ifdef RK_HAVE_NVTX
#include <nvtx3/nvToolsExt.h>
#define RK__TRACE_PUSH(name) nvtxRangePushA(name)
#define RK__TRACE_POP() nvtxRangePop()
#else
#define RK__TRACE_PUSH(name) ((void)0)
#define RK__TRACE_POP() ((void)0)
#endif

/** splitmix64's finaliser: a bijective 64-bit mix in which every input bit changes every output bit with
 * probability about 1/2 (the compute cache's hash, compute.c; the tests' checksums, tests/mix64.h). */
static inline uint64_t rk__mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/** Copies a C string into a fixed buffer, always NUL-terminated, truncating. */
void rk__strlcpy(char *dst, const char *src, size_t cap);

#endif /* RK_INTERNAL_H */
