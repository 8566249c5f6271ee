/* error.c - error codes, their names and descriptions, and the per-thread last error. */
#include <stdarg.h>
#include <stdio.h>

#include "core/internal.h"
#include "ringkernel/error.h"

/* The detail of the calling thread's last failing call. 256 bytes: one line naming the call and values. */
static _Thread_local char rk__last_detail[256];
static _Thread_local int rk__last_code;

const char *rk_strerror(int err)
{
    switch (err) {
    case RK_OK:
        return "success";
#define RK__ERR_DESC(name, value, desc) \
    case RK_##name:                     \
        return desc;
        RK_ERRNO_MAP(RK__ERR_DESC)
#undef RK__ERR_DESC
    default:
        return "unknown error";
    }
}

const char *rk_err_name(int err)
{
    switch (err) {
    case RK_OK:
        return "RK_OK";
#define RK__ERR_NAME(name, value, desc) \
    case RK_##name:                     \
        return "RK_" #name;
        RK_ERRNO_MAP(RK__ERR_NAME)
#undef RK__ERR_NAME
    default:
        return "RK_EUNKNOWN";
    }
}

int rk__err(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rk__last_detail, sizeof rk__last_detail, fmt, ap);
    va_end(ap);
    rk__last_code = code;
    return code;
}

const char *rk_last_error(void) { return rk__last_detail; }

int rk_last_error_code(void) { return rk__last_code; }

void rk_clear_error(void)
{
    rk__last_detail[0] = '\0';
    rk__last_code = 0;
}
