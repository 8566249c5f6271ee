/* util.c - small helpers shared by the library: aligned allocation, strings, CPU count, version. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/version.h"

void *rk__aligned_zalloc(size_t align, size_t size)
{
    void *p = NULL;

    if (size == 0)
        size = align;
    if (posix_memalign(&p, align, rk__align_up(size, align)) != 0)
        return NULL;
    memset(p, 0, size);
    return p;
}

void rk__strlcpy(char *dst, const char *src, size_t cap)
{
    size_t n;

    if (cap == 0)
        return;
    n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

int rk__cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? (int)n : 1;
}

const char *rk_version(void) { return RK_VERSION_STRING; }
