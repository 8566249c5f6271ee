/* runtime.c - the Runtime type (one rk_runtime), the GIL-free waiting loop and the kernel locks.
 * Lifetime rules L1..L3 are in rkpy.h.
 */
#include "rkpy.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

/* ---- Waiting without the GIL ------------------------------------------------------------------------- */

int rkpy_wait(RuntimeObject *rt, rkpy_op op, void *ctx, int64_t timeout_ns)
{
    int64_t deadline = 0;
    int rc = op(ctx, 0); /* one try with the GIL held: never waits */

    if (rc != RK_EAGAIN && rc != RK_ETIMEDOUT)
        return rc;
    if (timeout_ns == 0)
        return RK_EAGAIN;
    if (timeout_ns != RK_TIMEOUT_INFINITE)
        deadline = rkpy_now_ns() + timeout_ns;
    for (;;) {
        int64_t slice = RKPY_SLICE_NS;
        if (rt->closing || !rt->rt)
            return RK_ECLOSED; /* L3: close() is waiting for us */
        if (deadline) {
            int64_t left = deadline - rkpy_now_ns();
            if (left <= 0)
                return RK_ETIMEDOUT;
            if (left < slice)
                slice = left;
        }
        atomic_fetch_add_explicit(&rt->inflight, 1, memory_order_acq_rel); /* L2 */
        Py_BEGIN_ALLOW_THREADS
        rc = op(ctx, slice);
        Py_END_ALLOW_THREADS
        atomic_fetch_sub_explicit(&rt->inflight, 1, memory_order_acq_rel); /* L2: pairs with close() */
        if (rc != RK_EAGAIN && rc != RK_ETIMEDOUT)
            return rc;
        if (PyErr_CheckSignals() < 0)
            return RKPY_PYERR;
    }
}

int rkpy_nogil(RuntimeObject *rt, rkpy_op op, void *ctx, int64_t timeout_ns)
{
    int rc;

    if (rt->closing || !rt->rt)
        return RK_ECLOSED;
    atomic_fetch_add_explicit(&rt->inflight, 1, memory_order_acq_rel); /* L2 */
    Py_BEGIN_ALLOW_THREADS
    rc = op(ctx, timeout_ns);
    Py_END_ALLOW_THREADS
    atomic_fetch_sub_explicit(&rt->inflight, 1, memory_order_acq_rel);
    return rc;
}

/* The holder of a kernel lock may be waiting without the GIL; a thread that blocked on the lock while
 * holding the GIL would stop every other Python thread meanwhile, so it gives the GIL up first. */
#define RKPY_LOCK(tryfn, lockfn, l)         \
    do {                                    \
        if (tryfn(l) != 0) {                \
            Py_BEGIN_ALLOW_THREADS lockfn(l); \
            Py_END_ALLOW_THREADS            \
        }                                   \
    } while (0)

void rkpy_mutex_lock(pthread_mutex_t *m) { RKPY_LOCK(pthread_mutex_trylock, pthread_mutex_lock, m); }
void rkpy_rwlock_wrlock(pthread_rwlock_t *l) { RKPY_LOCK(pthread_rwlock_trywrlock, pthread_rwlock_wrlock, l); }
void rkpy_rwlock_rdlock(pthread_rwlock_t *l) { RKPY_LOCK(pthread_rwlock_tryrdlock, pthread_rwlock_rdlock, l); }

int rkpy_runtime_check(RuntimeObject *rt)
{
    if (!rt->rt || rt->closing) {
        rkpy_raise_msg(RK_ECLOSED, "the runtime is closed");
        return -1;
    }
    return 0;
}

/* ---- Runtime ----------------------------------------------------------------------------------------- */

static int runtime_init(RuntimeObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "backend", "workers", "node_id", "device", NULL };
    const char *backend = "auto";
    unsigned int workers = 0, node_id = 0;
    int device = 0, rc;
    rk_runtime_opts o;
    rk_runtime *rt = NULL;

    if (self->rt) {
        PyErr_SetString(PyExc_RuntimeError, "Runtime is already initialised");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s$IIi:Runtime", names, &backend, &workers, &node_id, &device))
        return -1;
    memset(&o, 0, sizeof o);
    if (rk_backend_parse(backend, &o.backend) < 0) {
        rkpy_raise(RK_EINVAL);
        return -1;
    }
    o.workers = workers;
    o.node_id = node_id;
    o.device = device;
    Py_BEGIN_ALLOW_THREADS /* a GPU backend's start takes a while */
    rc = rk_runtime_create(&rt, &o);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        rkpy_raise(rc);
        return -1;
    }
    self->rt = rt;
    self->closing = 0;
    return 0;
}

/* L2: stops new calls, terminates every kernel (which ends waits that cannot be sliced, such as rk_call),
 * waits for the calls in flight, then destroys. Returns the code of rk_runtime_destroy, or 0. */
static int runtime_close_impl(RuntimeObject *self)
{
    rk_runtime *rt = self->rt;
    int rc = 0, leaked = 0;

    if (!rt || self->closing)
        return 0;
    self->closing = 1;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < self->nkernels; i++)
        rk_kernel_terminate(self->kernels[i], RK_TIMEOUT_MS(1000)); /* RK_ECLOSED if already: fine */
    /* Sliced waits see `closing` within RKPY_SLICE_NS; calls on terminated kernels return. 10 s bounds a
     * handler that never returns: the runtime is then leaked, never destroyed under a running call. */
    int64_t deadline = rkpy_now_ns() + 10000000000LL;
    while (atomic_load_explicit(&self->inflight, memory_order_acquire) != 0) {
        if (rkpy_now_ns() > deadline) {
            leaked = 1;
            break;
        }
        sched_yield();
    }
    if (!leaked)
        rc = rk_runtime_destroy(rt);
    Py_END_ALLOW_THREADS
    self->rt = NULL;
    free(self->kernels);
    self->kernels = NULL;
    self->nkernels = self->capkernels = 0;
    return leaked ? RK_ENOTRESPONDING : rc;
}

static PyObject *runtime_close(RuntimeObject *self, PyObject *unused)
{
    int rc;

    (void)unused;
    rc = runtime_close_impl(self);
    if (rc < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

static void runtime_dealloc(RuntimeObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    runtime_close_impl(self); /* errors at collection have nobody to go to */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int runtime_traverse(RuntimeObject *self, visitproc visit, void *arg)
{
    (void)self, (void)visit, (void)arg;
    return 0;
}

static int runtime_add_kernel(RuntimeObject *self, rk_kernel *k)
{
    if (self->nkernels == self->capkernels) {
        size_t cap = self->capkernels ? 2 * self->capkernels : 8;
        rk_kernel **n = realloc(self->kernels, cap * sizeof *n);
        if (!n)
            return -1;
        self->kernels = n;
        self->capkernels = cap;
    }
    self->kernels[self->nkernels++] = k;
    return 0;
}

/* Reads attribute `name` of the options object as a uint32 (None or missing: 0). */
static int opt_u32(PyObject *opts, const char *name, uint32_t *out)
{
    PyObject *v;
    unsigned long x;

    *out = 0;
    if (!opts || opts == Py_None)
        return 0;
    v = PyObject_GetAttrString(opts, name);
    if (!v) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    if (v == Py_None) {
        Py_DECREF(v);
        return 0;
    }
    if (PyBool_Check(v) || !PyLong_Check(v)) {
        PyErr_Format(PyExc_TypeError, "LaunchOptions.%s must be an int, not %.80s", name, Py_TYPE(v)->tp_name);
        Py_DECREF(v);
        return -1;
    }
    x = PyLong_AsUnsignedLong(v);
    Py_DECREF(v);
    if (x == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (x > UINT32_MAX) {
        PyErr_Format(PyExc_OverflowError, "LaunchOptions.%s is out of range", name);
        return -1;
    }
    *out = (uint32_t)x;
    return 0;
}

static int opt_flag(PyObject *opts, const char *name, uint32_t bit, uint32_t *flags)
{
    PyObject *v;
    int t;

    if (!opts || opts == Py_None)
        return 0;
    v = PyObject_GetAttrString(opts, name);
    if (!v) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
        return 0;
    }
    t = PyObject_IsTrue(v);
    Py_DECREF(v);
    if (t < 0)
        return -1;
    if (t)
        *flags |= bit;
    return 0;
}

static PyObject *runtime_launch_sync(RuntimeObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "name", "options", NULL };
    const char *name;
    PyObject *opts = NULL, *ko;
    rk_launch_opts o;
    rk_kernel *k = NULL;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|O:launch_sync", names, &name, &opts))
        return NULL;
    memset(&o, 0, sizeof o);
    if (opt_u32(opts, "queue_capacity", &o.queue_capacity) < 0 || opt_u32(opts, "slot_size", &o.slot_size) < 0 ||
        opt_u32(opts, "state_size", &o.state_size) < 0 || opt_u32(opts, "instances", &o.instances) < 0 ||
        opt_u32(opts, "block_size", &o.block_size) < 0 || opt_u32(opts, "grid_size", &o.grid_size) < 0 ||
        opt_flag(opts, "multi_producer", RK_LAUNCH_MULTI_PRODUCER, &o.flags) < 0 ||
        opt_flag(opts, "low_latency", RK_LAUNCH_LOW_LATENCY, &o.flags) < 0 ||
        opt_flag(opts, "grid_sync", RK_LAUNCH_GRID_SYNC, &o.flags) < 0)
        return NULL;
    if (rkpy_runtime_check(self) < 0)
        return NULL;
    if (runtime_add_kernel(self, NULL) < 0) /* room first, so a launched kernel is always recorded */
        return PyErr_NoMemory();
    self->nkernels--;
    atomic_fetch_add_explicit(&self->inflight, 1, memory_order_acq_rel); /* L2 */
    Py_BEGIN_ALLOW_THREADS
    rc = rk_kernel_launch(self->rt, name, &o, &k);
    Py_END_ALLOW_THREADS
    atomic_fetch_sub_explicit(&self->inflight, 1, memory_order_acq_rel);
    if (rc < 0)
        return rkpy_raise(rc);
    self->kernels[self->nkernels++] = k;
    ko = rkpy_kernel_new(self, k, name, o.flags);
    return ko;
}

static PyObject *runtime_hlc_now(RuntimeObject *self, PyObject *unused)
{
    rk_hlc_ts ts;
    int rc;

    (void)unused;
    if (rkpy_runtime_check(self) < 0)
        return NULL;
    rc = rk_runtime_hlc_now(self->rt, &ts);
    if (rc < 0)
        return rkpy_raise(rc);
    return rkpy_hlc_ts_new(&ts);
}

static PyObject *runtime_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    Py_INCREF(self);
    return self;
}

static PyObject *runtime_exit(RuntimeObject *self, PyObject *args)
{
    (void)args;
    return runtime_close(self, NULL);
}

static PyObject *runtime_get_backend(RuntimeObject *self, void *c)
{
    (void)c;
    if (rkpy_runtime_check(self) < 0)
        return NULL;
    return PyUnicode_FromString(rk_backend_name(rk_runtime_backend(self->rt)));
}

static PyObject *runtime_get_closed(RuntimeObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(!self->rt || self->closing);
}

PyObject *rkpy_runtime_subscribe(RuntimeObject *self, PyObject *args);
PyObject *rkpy_runtime_unsubscribe(RuntimeObject *self, PyObject *args);
PyObject *rkpy_runtime_publish(RuntimeObject *self, PyObject *args, PyObject *kw);
PyObject *rkpy_runtime_endpoint_register(RuntimeObject *self, PyObject *args);
PyObject *rkpy_runtime_endpoint_resolve(RuntimeObject *self, PyObject *args);
PyObject *rkpy_runtime_endpoint_unregister(RuntimeObject *self, PyObject *args);

static PyMethodDef runtime_methods[] = {
    { "launch_sync", (PyCFunction)(void (*)(void))runtime_launch_sync, METH_VARARGS | METH_KEYWORDS,
      "launch_sync(name, options=None) -> KernelHandle\n\nLaunches the actor registered as `name` (e.g. "
      "'echo', 'counter') as a new kernel. options: LaunchOptions (or any object with its attributes)." },
    { "close", (PyCFunction)runtime_close, METH_NOARGS,
      "close()\n\nTerminates every kernel, waits for calls in flight, destroys the runtime. Idempotent." },
    { "hlc_now", (PyCFunction)runtime_hlc_now, METH_NOARGS,
      "hlc_now() -> HlcTimestamp\n\nTicks the runtime's host clock (the one every send stamps)." },
    { "subscribe", (PyCFunction)rkpy_runtime_subscribe, METH_VARARGS,
      "subscribe(kernel, filter)\n\nSubscribes a kernel to an MQTT-style topic filter ('+', '#')." },
    { "unsubscribe", (PyCFunction)rkpy_runtime_unsubscribe, METH_VARARGS,
      "unsubscribe(kernel, filter)\n\nRemoves a subscription made with the same filter string." },
    { "publish", (PyCFunction)(void (*)(void))rkpy_runtime_publish, METH_VARARGS | METH_KEYWORDS,
      "publish(topic, payload, type_id=None, timeout=1.0, drop_if_full=False) -> dict\n\n"
      "Publishes to every subscribed kernel; returns {'matched', 'delivered', 'dropped', 'closed'}." },
    { "endpoint_register", (PyCFunction)rkpy_runtime_endpoint_register, METH_VARARGS,
      "endpoint_register(name, kernel)\n\nNames a kernel so that handlers can resolve it." },
    { "endpoint_resolve", (PyCFunction)rkpy_runtime_endpoint_resolve, METH_VARARGS,
      "endpoint_resolve(name) -> int\n\nThe address of the kernel named `name`." },
    { "endpoint_unregister", (PyCFunction)rkpy_runtime_endpoint_unregister, METH_VARARGS,
      "endpoint_unregister(name)\n\nRemoves an endpoint name." },
    { "__enter__", runtime_enter, METH_NOARGS, NULL },
    { "__exit__", (PyCFunction)runtime_exit, METH_VARARGS, NULL },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef runtime_getset[] = {
    { "backend", (getter)runtime_get_backend, NULL, "The backend this runtime runs on ('cpu', 'cuda', ...).", NULL },
    { "closed", (getter)runtime_get_closed, NULL, "True once close() ran.", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject RkpyRuntime_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringkernel._native.Runtime",
    .tp_basicsize = sizeof(RuntimeObject),
    .tp_dealloc = (destructor)runtime_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Runtime(backend='auto', *, workers=0, node_id=0, device=0)\n\n"
              "One RingKernel runtime on one backend (rk_runtime). Closed by close(), by `with`, when "
              "collected, or at interpreter exit.",
    .tp_traverse = (traverseproc)runtime_traverse,
    .tp_weaklistoffset = offsetof(RuntimeObject, weakreflist),
    .tp_methods = runtime_methods,
    .tp_getset = runtime_getset,
    .tp_init = (initproc)runtime_init,
    .tp_new = PyType_GenericNew,
};

int rkpy_runtime_init(PyObject *module)
{
    return rkpy_add_type(module, &RkpyRuntime_Type, "Runtime");
}
