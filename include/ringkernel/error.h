/* error.h - error codes of RingKernel.
 *
 * Every public function returns 0 (or a count, where documented) on success and a negative RK_E* code on
 * failure. A failing call has no side effects. The library never aborts and never prints; the calling
 * thread's last error carries a detail string (rk_last_error()). One X-macro list makes the enum,
 * rk_strerror() and rk_err_name(), so they cannot drift apart.
 */
#ifndef RINGKERNEL_ERROR_H
#define RINGKERNEL_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* XX(NAME, value, description) */
#define RK_ERRNO_MAP(XX)                                                                 \
    XX(EINVAL, -1, "invalid argument")                                                   \
    XX(ENOMEM, -2, "out of memory")                                                      \
    XX(EAGAIN, -3, "resource temporarily unavailable (queue full or empty)")             \
    XX(ETIMEDOUT, -4, "timed out")                                                       \
    XX(ENOENT, -5, "no such actor, kernel or entry")                                     \
    XX(EEXIST, -6, "already exists")                                                     \
    XX(EMSGSIZE, -7, "message larger than a queue slot")                                 \
    XX(ECLOSED, -8, "kernel terminated or terminating")                                  \
    XX(ESTATE, -9, "operation not valid in the current state")                           \
    XX(ENODEV, -10, "backend or device not available")                                   \
    XX(ENOTSUP, -11, "operation not supported by this backend")                          \
    XX(EBACKEND, -12, "backend driver call failed")                                      \
    XX(EFAULT, -13, "kernel fault: the kernel failed")                                   \
    XX(ECLOCK, -14, "remote clock too far ahead (HLC max offset exceeded)")              \
    XX(EABI, -15, "ABI version or layout mismatch")                                      \
    XX(ECORRUPT, -16, "corrupt data (bad magic, header or checksum)")                    \
    XX(EOVERFLOW, -17, "value out of range")                                             \
    XX(ELIMIT, -18, "resource limit reached (occupancy, co-residency, quota)")           \
    XX(EBADHANDLE, -19, "handle is not live (already destroyed or never created)")       \
    XX(EHANDLER, -20, "actor handler returned an error")                                 \
    XX(ENOTRESPONDING, -21, "kernel did not answer within the deadline")                 \
    XX(EIO, -22, "input/output error")                                                   \
    XX(ECANCELED, -23, "canceled by the caller")

typedef enum rk_error {
    RK_OK = 0,
#define RK__ERR_ENUM(name, value, desc) RK_##name = (value),
    RK_ERRNO_MAP(RK__ERR_ENUM)
#undef RK__ERR_ENUM
    RK__ERR_MIN = -24
} rk_error;

/** Description of an error code ("success" for 0, "unknown error" for anything unlisted). Never NULL. */
const char *rk_strerror(int err);

/** Name of an error code ("RK_EINVAL"; "RK_OK" for 0; "RK_EUNKNOWN" for unlisted). Never NULL. */
const char *rk_err_name(int err);

/**
 * Detail of the last error raised on the calling thread, e.g. "rk_queue_create: capacity 100 is not a power
 * of two". Empty string if none. The pointer stays valid until the thread's next failing call. Never NULL.
 */
const char *rk_last_error(void);

/** Code of the last error raised on the calling thread (0 if none). */
int rk_last_error_code(void);

/** Clears the calling thread's last error. */
void rk_clear_error(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_ERROR_H */
