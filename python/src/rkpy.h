/* rkpy.h - the CPython extension `ringkernel._native`: declarations shared by its source files.
 *
 * The extension is a thin layer over the public C API (include/ringkernel/): every object owns exactly one
 * library handle, every call maps a negative RK_E* code to the RingKernelError subclass of that code
 * (errors.c), and every call that may wait releases the GIL (rkpy_wait in runtime.c).
 *
 * Lifetime rules (L1..L3, cited in runtime.c):
 *   L1  A Kernel holds a strong reference to its Runtime, so the rk_runtime outlives every rk_kernel handle
 *       Python can still reach; after Runtime.close() the handles stay valid Python objects whose calls
 *       raise KernelClosedError.
 *   L2  Every library call made without the GIL on a runtime is counted in Runtime.inflight (incremented
 *       and decremented while the GIL is held or by the waiting thread itself). close() sets `closing`
 *       under the GIL first, so no new call starts, then waits, without the GIL, for inflight to drop to 0
 *       before rk_runtime_destroy: destroy never runs concurrently with another call (runtime.h).
 *   L3  Waits are cut into slices of at most RKPY_SLICE_NS; between slices the thread checks `closing`
 *       (so close() never waits long for a blocked recv) and, holding the GIL, Python signals (Ctrl-C).
 */
#ifndef RKPY_H
#define RKPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <ringkernel/builtin.h>
#include <ringkernel/ringkernel.h>

/** Longest wait inside the library without looking at `closing` and at signals (L3): 20 ms. */
#define RKPY_SLICE_NS 20000000LL

/** rkpy_wait's result when a Python exception is already set (a signal handler raised). */
#define RKPY_PYERR (-1000) /* below every RK_E* code; counts are >= 0 */

/** Default type id of a message sent without one: rk_type_id("bytes"). */
#define RKPY_DEFAULT_TYPE "bytes"

typedef struct RuntimeObject {
    PyObject_HEAD
    rk_runtime *rt;          /* NULL once closed */
    int closing;             /* set under the GIL by close() (L2) */
    atomic_int inflight;     /* library calls running without the GIL (L2) */
    rk_kernel **kernels;     /* every kernel launched, for terminate at close */
    size_t nkernels, capkernels;
    PyObject *weakreflist;
} RuntimeObject;

typedef struct KernelObject {
    PyObject_HEAD
    RuntimeObject *runtime;  /* strong reference (L1) */
    rk_kernel *k;
    PyObject *name;          /* str */
    uint32_t flags;          /* rk_launch_flags it was launched with */
    uint32_t payload_max;
    /*
     * The library allows one sender (unless multi-producer) and one receiver at a time per kernel; Python
     * threads may call in any combination, so the extension serialises them: send_lock for send (and call
     * on a single-producer kernel), recv_lock for recv (exclusive) and call (shared: rk_call coordinates
     * its concurrent callers itself, but must not run next to rk_recv).
     */
    pthread_mutex_t send_lock;
    pthread_rwlock_t recv_lock;
    PyObject *stash;         /* list of Messages handed back by async receivers (oldest first) */
    PyObject *dict;          /* instance __dict__ (Python subclasses keep async helpers there) */
    PyObject *weakreflist;
} KernelObject;

typedef struct MessageObject {
    PyObject_HEAD
    rk_envelope env;
    PyObject *data;          /* bytes holding the payload, or the memoryview of a recv_into buffer */
    PyObject *view;          /* cached read-only memoryview over data (created on first access) */
} MessageObject;

typedef struct HlcTimestampObject {
    PyObject_HEAD
    rk_hlc_ts ts;
} HlcTimestampObject;

extern PyTypeObject RkpyRuntime_Type;
extern PyTypeObject RkpyKernel_Type;
extern PyTypeObject RkpyMessage_Type;
extern PyTypeObject RkpyHlcTimestamp_Type;
extern PyTypeObject RkpyHlcClock_Type;

/* errors.c */
int rkpy_errors_init(PyObject *module);
/** Raises the RingKernelError subclass of rc (< 0) with rk_last_error() as the detail. Returns NULL. */
PyObject *rkpy_raise(int rc);
/** Raises the subclass of rc with a detail of our own. Returns NULL. */
PyObject *rkpy_raise_msg(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** The exception class of an error code (borrowed). */
PyObject *rkpy_error_class(int rc);

/* args.c */
/**
 * Parses vectorcall-style arguments into out[0..n) by position or keyword (names[i]); absent ones stay
 * NULL. required: how many leading ones must be present. Returns 0, or -1 with TypeError set.
 */
int rkpy_parse(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, int n, int required, PyObject **out);
/** Seconds (int/float) or None (infinite: RK_TIMEOUT_INFINITE) to ns. Returns 0 or -1 (TypeError/ValueError). */
int rkpy_timeout(PyObject *obj, int64_t dflt, int64_t *out);
/** A type id: int (u64), str (rk_type_id of the name) or None (the default). Returns 0 or -1. */
int rkpy_type_id(PyObject *obj, uint64_t *out);
/** Unsigned 64-bit from an int, with TypeError/OverflowError. NULL gives dflt. Returns 0 or -1. */
int rkpy_u64(PyObject *obj, uint64_t dflt, uint64_t *out);
/** The UTF-8 of a str argument, or NULL with TypeError ("<what> must be a str"). */
const char *rkpy_str_arg(PyObject *arg, const char *what);
/** Readies a static type and adds it to the module under name. Returns 0 or -1. */
int rkpy_add_type(PyObject *module, PyTypeObject *type, const char *name);
/** Monotonic clock in ns. */
int64_t rkpy_now_ns(void);

/* runtime.c */
int rkpy_runtime_init(PyObject *module);
/** Raises KernelClosedError if the runtime is closed or closing. Returns 0 or -1. */
int rkpy_runtime_check(RuntimeObject *rt);

/* kernel.c */
int rkpy_kernel_init(PyObject *module);
PyObject *rkpy_kernel_new(RuntimeObject *rt, rk_kernel *k, const char *name, uint32_t flags);

/* message.c */
int rkpy_message_init(PyObject *module);
/** A Message owning `data` (a new reference is taken). */
PyObject *rkpy_message_new(const rk_envelope *env, PyObject *data);

/* hlc.c */
int rkpy_hlc_init(PyObject *module);
PyObject *rkpy_hlc_ts_new(const rk_hlc_ts *ts);

/* k2k.c, devices.c, cbench.c: module-level functions */
extern PyMethodDef rkpy_k2k_methods[];
extern PyMethodDef rkpy_devices_methods[];
extern PyMethodDef rkpy_cbench_methods[];
/** Runtime methods for endpoints and topics (k2k.c). */
extern PyMethodDef rkpy_runtime_k2k_methods[];

/* Locks of a kernel: try without giving up the GIL, else wait for the lock with the GIL released. */
void rkpy_mutex_lock(pthread_mutex_t *m);
void rkpy_rwlock_wrlock(pthread_rwlock_t *l);
void rkpy_rwlock_rdlock(pthread_rwlock_t *l);

/**
 * An operation that may wait: called with a timeout in ns (0: one try), returns an RK_E* code or a count.
 * rkpy_wait first tries it with the GIL held and timeout 0; if that answers RK_EAGAIN it repeats it in
 * slices without the GIL (L2, L3) until success, another error, the deadline (RK_ETIMEDOUT), close()
 * (RK_ECLOSED) or a signal (RKPY_PYERR, exception set).
 */
typedef int (*rkpy_op)(void *ctx, int64_t timeout_ns);
int rkpy_wait(RuntimeObject *rt, rkpy_op op, void *ctx, int64_t timeout_ns);

/** Runs op once without the GIL (counted in inflight, L2), for calls that cannot be sliced. */
int rkpy_nogil(RuntimeObject *rt, rkpy_op op, void *ctx, int64_t timeout_ns);

#endif /* RKPY_H */
