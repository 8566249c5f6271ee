/* kernel.c - the Kernel type (KernelHandle in Python): send, recv, call, terminate, stats on one rk_kernel.
 *
 * Every method takes the kernel's locks (rkpy.h), checks that the runtime is open, and then makes one
 * library call through rkpy_wait (sliced, GIL released) or rkpy_nogil. Payloads come from any object with
 * the buffer protocol and go into the ring with the one copy rk_send makes; replies are copied once, from
 * the ring slot (rk_recv_peek) straight into the bytes object the Message owns, or into the caller's buffer
 * (recv_into).
 */
#include "rkpy.h"

#include <string.h>

static PyObject *rkpy_kernel_class; /* the Python subclass launch_sync instantiates (KernelHandle) */

PyObject *rkpy_kernel_new(RuntimeObject *rt, rk_kernel *k, const char *name, uint32_t flags)
{
    PyTypeObject *tp = rkpy_kernel_class ? (PyTypeObject *)rkpy_kernel_class : &RkpyKernel_Type;
    KernelObject *self = (KernelObject *)tp->tp_alloc(tp, 0);

    if (!self)
        return NULL;
    pthread_mutex_init(&self->send_lock, NULL);
    pthread_rwlock_init(&self->recv_lock, NULL);
    self->stash = PyList_New(0);
    self->name = PyUnicode_FromString(name);
    if (!self->stash || !self->name) {
        Py_DECREF(self);
        return NULL;
    }
    Py_INCREF(rt);
    self->runtime = rt; /* L1 */
    self->k = k;
    self->flags = flags;
    self->payload_max = rk_kernel_payload_max(k);
    return (PyObject *)self;
}

static PyObject *kernel_new_direct(PyTypeObject *tp, PyObject *a, PyObject *kw)
{
    (void)tp, (void)a, (void)kw;
    PyErr_SetString(PyExc_TypeError, "kernels are created by RingKernel.launch_sync() / launch()");
    return NULL;
}

static int kernel_traverse(KernelObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->runtime);
    Py_VISIT(self->stash);
    Py_VISIT(self->dict);
    return 0;
}

static int kernel_clear(KernelObject *self)
{
    Py_CLEAR(self->stash);
    Py_CLEAR(self->dict);
    Py_CLEAR(self->runtime);
    return 0;
}

static void kernel_dealloc(KernelObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    if (self->weakreflist)
        PyObject_ClearWeakRefs((PyObject *)self);
    kernel_clear(self);
    Py_CLEAR(self->name);
    /* The rk_kernel itself belongs to the runtime (runtime.h: kernels live until destroy). */
    pthread_mutex_destroy(&self->send_lock);
    pthread_rwlock_destroy(&self->recv_lock);
    tp->tp_free((PyObject *)self); /* a Python subclass's type reference is dropped by subtype_dealloc */
}

/* Raises the error of a failed kernel call, with the detail the library cannot give for our own codes. */
static PyObject *kernel_fail(KernelObject *self, int rc, const char *what, int64_t timeout_ns)
{
    if (rc == RKPY_PYERR)
        return NULL;
    if (rc == RK_ECLOSED && (self->runtime->closing || !self->runtime->rt))
        return rkpy_raise_msg(rc, "%s: the runtime is closed", what);
    if (rc == RK_ETIMEDOUT)
        return rkpy_raise_msg(rc, "%s: kernel '%s' did not %s within %.3f s", what, PyUnicode_AsUTF8(self->name),
                              strcmp(what, "send") == 0 ? "take the message" : "reply",
                              (double)timeout_ns / 1e9);
    return rkpy_raise(rc);
}

/* ---- send ---------------------------------------------------------------------------------------------- */

typedef struct send_ctx {
    rk_kernel *k;
    rk_msg m;
} send_ctx;

static int op_send(void *c, int64_t t)
{
    send_ctx *s = c;
    return rk_send(s->k, &s->m, t);
}

/* send_sync and try_send. Returns 0 sent, 1 queue full (only when `once`), or -1 with an exception set. */
static int kernel_send_impl(KernelObject *self, const char *fn, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames, int once)
{
    static const char *const names[] = { "payload", "type_id", "timeout", "correlation_id", "request" };
    PyObject *a[5];
    Py_buffer view;
    send_ctx s;
    int64_t timeout = RK_TIMEOUT_INFINITE;
    int rc, mp = (self->flags & RK_LAUNCH_MULTI_PRODUCER) != 0, req = 0;

    if (rkpy_parse(fn, args, nargs, kwnames, names, 5, 1, a) < 0)
        return -1;
    memset(&s, 0, sizeof s);
    if (rkpy_type_id(a[1], &s.m.env.type_id) < 0 || (!once && rkpy_timeout(a[2], RK_TIMEOUT_INFINITE, &timeout) < 0) ||
        rkpy_u64(a[3], 0, &s.m.env.correlation_id) < 0)
        return -1;
    if (once && a[2]) {
        PyErr_Format(PyExc_TypeError, "%s() takes no timeout", fn);
        return -1;
    }
    if (a[4] && (req = PyObject_IsTrue(a[4])) < 0)
        return -1;
    if (PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0)
        return -1; /* TypeError: not a contiguous buffer */
    if ((size_t)view.len > self->payload_max) {
        rkpy_raise_msg(RK_EMSGSIZE, "%s: payload of %zd bytes exceeds kernel '%s''s maximum of %u (slot size - 64)",
                       fn, view.len, PyUnicode_AsUTF8(self->name), self->payload_max);
        PyBuffer_Release(&view);
        return -1;
    }
    s.k = self->k;
    s.m.env.payload_len = (uint32_t)view.len;
    s.m.env.flags = req ? RK_ENV_REQUEST : 0;
    s.m.payload = view.buf;
    if (!mp && !once)
        rkpy_mutex_lock(&self->send_lock);
    else if (!mp && pthread_mutex_trylock(&self->send_lock) != 0) {
        PyBuffer_Release(&view);
        return 1; /* another thread is sending (maybe waiting for room): try_send never waits */
    }
    if (self->runtime->closing || !self->runtime->rt)
        rc = RK_ECLOSED;
    else if (once)
        rc = op_send(&s, 0);
    else
        rc = rkpy_wait(self->runtime, op_send, &s, timeout);
    if (!mp)
        pthread_mutex_unlock(&self->send_lock);
    PyBuffer_Release(&view);
    if (rc == 0)
        return 0;
    if (once && rc == RK_EAGAIN)
        return 1;
    kernel_fail(self, rc, "send", timeout);
    return -1;
}

static PyObject *kernel_send_sync(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (kernel_send_impl(self, "send_sync", args, nargs, kwnames, 0) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *kernel_try_send(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int rc = kernel_send_impl(self, "try_send", args, nargs, kwnames, 1);
    if (rc < 0)
        return NULL;
    return Py_NewRef(rc == 1 ? Py_False : Py_True);
}

/* ---- recv ---------------------------------------------------------------------------------------------- */

typedef struct peek_ctx {
    rk_kernel *k;
    const rk_envelope *env;
    const void *payload;
} peek_ctx;

static int op_peek(void *c, int64_t t)
{
    peek_ctx *p = c;
    return rk_recv_peek(p->k, &p->env, &p->payload, t);
}

/* The oldest message handed back by an async receiver, or NULL (no exception) if there is none. */
static PyObject *kernel_unstash(KernelObject *self)
{
    PyObject *m;

    if (!self->stash || PyList_GET_SIZE(self->stash) == 0)
        return NULL;
    m = PyList_GET_ITEM(self->stash, 0);
    Py_INCREF(m);
    if (PyList_SetSlice(self->stash, 0, 1, NULL) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/*
 * Receives one message: waits (or tries once), then copies the payload out of the ring slot into a new
 * bytes object, or into `into` (a writable buffer) when given. Returns the Message, Py_None (once and
 * nothing there), or NULL with an exception set.
 */
static PyObject *kernel_recv_impl(KernelObject *self, int once, int64_t timeout, Py_buffer *into)
{
    peek_ctx p = { self->k, NULL, NULL };
    PyObject *data = NULL, *msg;
    rk_envelope env;
    int rc, truncated = 0;

    if (!once)
        rkpy_rwlock_wrlock(&self->recv_lock);
    else if (pthread_rwlock_trywrlock(&self->recv_lock) != 0)
        Py_RETURN_NONE; /* another thread is receiving: nothing for us now, and try_recv never waits */
    if (self->runtime->closing || !self->runtime->rt)
        rc = RK_ECLOSED;
    else if (once)
        rc = op_peek(&p, 0);
    else
        rc = rkpy_wait(self->runtime, op_peek, &p, timeout);
    if (rc < 0 || rc == RKPY_PYERR) {
        pthread_rwlock_unlock(&self->recv_lock);
        if (once && rc == RK_EAGAIN)
            Py_RETURN_NONE;
        return kernel_fail(self, rc, "recv", timeout);
    }
    env = *p.env;
    if (into) {
        uint32_t n = env.payload_len;
        if (n > (size_t)into->len) {
            n = (uint32_t)into->len;
            truncated = 1;
        }
        memcpy(into->buf, p.payload, n);
    } else {
        data = PyBytes_FromStringAndSize(p.payload, env.payload_len);
    }
    rk_recv_release(self->k);
    pthread_rwlock_unlock(&self->recv_lock);
    if (truncated)
        return rkpy_raise_msg(RK_EMSGSIZE, "recv_into: the reply has %u bytes, the buffer %zd (message consumed, "
                              "payload truncated)", env.payload_len, into->len);
    if (into) {
        PyObject *mv = PyMemoryView_FromObject(into->obj);
        if (!mv)
            return NULL;
        data = PySequence_GetSlice(mv, 0, env.payload_len);
        Py_DECREF(mv);
    }
    if (!data)
        return NULL;
    msg = rkpy_message_new(&env, data);
    Py_DECREF(data);
    return msg;
}

static PyObject *kernel_recv_sync(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = { "timeout" };
    PyObject *a[1], *m;
    int64_t timeout;

    if (rkpy_parse("recv_sync", args, nargs, kwnames, names, 1, 0, a) < 0 ||
        rkpy_timeout(a[0], RK_TIMEOUT_INFINITE, &timeout) < 0)
        return NULL;
    if ((m = kernel_unstash(self)) != NULL || PyErr_Occurred())
        return m;
    return kernel_recv_impl(self, 0, timeout, NULL);
}

static PyObject *kernel_try_recv(KernelObject *self, PyObject *unused)
{
    PyObject *m;

    (void)unused;
    if ((m = kernel_unstash(self)) != NULL || PyErr_Occurred())
        return m;
    return kernel_recv_impl(self, 1, 0, NULL);
}

static PyObject *kernel_recv_into(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = { "buffer", "timeout" };
    PyObject *a[2], *m;
    Py_buffer view;
    int64_t timeout;

    if (rkpy_parse("recv_into", args, nargs, kwnames, names, 2, 1, a) < 0 ||
        rkpy_timeout(a[1], RK_TIMEOUT_INFINITE, &timeout) < 0)
        return NULL;
    if (PyObject_GetBuffer(a[0], &view, PyBUF_WRITABLE) < 0) {
        if (PyErr_ExceptionMatches(PyExc_BufferError)) /* as file.readinto: a type problem */
            PyErr_Format(PyExc_TypeError, "recv_into() needs a writable contiguous buffer, not %.80s",
                         Py_TYPE(a[0])->tp_name);
        return NULL;
    }
    if ((m = kernel_unstash(self)) != NULL) {
        /* A stashed message already has its own copy; this copies it into the caller's buffer. */
        MessageObject *sm = (MessageObject *)m;
        Py_buffer src;
        if (PyObject_GetBuffer(sm->data, &src, PyBUF_SIMPLE) < 0) {
            Py_DECREF(m);
            m = NULL;
        } else {
            if (src.len > view.len) {
                rkpy_raise_msg(RK_EMSGSIZE, "recv_into: the reply has %zd bytes, the buffer %zd", src.len, view.len);
                Py_DECREF(m);
                m = NULL;
            } else {
                memcpy(view.buf, src.buf, (size_t)src.len);
            }
            PyBuffer_Release(&src);
        }
    } else if (!PyErr_Occurred()) {
        m = kernel_recv_impl(self, 0, timeout, &view);
    }
    PyBuffer_Release(&view);
    return m;
}

/* ---- call ---------------------------------------------------------------------------------------------- */

typedef struct call_ctx {
    rk_kernel *k;
    RuntimeObject *rt;
    rk_msg req, reply;
    int pyerr; /* the cancel question found a Python exception (a signal handler raised) */
} call_ctx;

/* rk_call_ex's cancel question, every RKPY_SLICE_NS of waiting (L3): close() has begun, or a Python signal
 * handler raised (Ctrl-C). Asked without the GIL and without library locks; it takes the GIL to look. */
static int call_cancel(void *arg)
{
    call_ctx *x = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    int stop = x->rt->closing;

    if (!stop && PyErr_CheckSignals() < 0)
        stop = x->pyerr = 1;
    PyGILState_Release(g);
    return stop;
}

static int op_call(void *c, int64_t t)
{
    call_ctx *x = c;
    const rk_call_opts o = { .cancel = call_cancel, .cancel_arg = x, .check_ns = RKPY_SLICE_NS };

    return rk_call_ex(x->k, &x->req, &x->reply, t, &o);
}

static PyObject *kernel_call_sync(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = { "payload", "type_id", "timeout" };
    PyObject *a[3], *data, *msg;
    Py_buffer view;
    call_ctx c;
    int64_t timeout;
    int rc, mp = (self->flags & RK_LAUNCH_MULTI_PRODUCER) != 0;

    if (rkpy_parse("call_sync", args, nargs, kwnames, names, 3, 1, a) < 0)
        return NULL;
    memset(&c, 0, sizeof c);
    if (rkpy_type_id(a[1], &c.req.env.type_id) < 0 || rkpy_timeout(a[2], RK_TIMEOUT_INFINITE, &timeout) < 0)
        return NULL;
    if (PyObject_GetBuffer(a[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    if ((size_t)view.len > self->payload_max) {
        PyBuffer_Release(&view);
        return rkpy_raise_msg(RK_EMSGSIZE, "call_sync: payload of %zd bytes exceeds kernel '%s''s maximum of %u",
                              view.len, PyUnicode_AsUTF8(self->name), self->payload_max);
    }
    /* The reply goes straight into the bytes object that will hold it, shrunk to its length after. */
    data = PyBytes_FromStringAndSize(NULL, self->payload_max);
    if (!data) {
        PyBuffer_Release(&view);
        return NULL;
    }
    c.k = self->k;
    c.rt = self->runtime;
    c.req.env.payload_len = (uint32_t)view.len;
    c.req.payload = view.buf;
    c.reply.payload = PyBytes_AS_STRING(data);
    c.reply.payload_cap = self->payload_max;
    if (!mp)
        rkpy_mutex_lock(&self->send_lock);
    rkpy_rwlock_rdlock(&self->recv_lock); /* shared among calls; excludes recv */
    rc = rkpy_nogil(self->runtime, op_call, &c, timeout);
    pthread_rwlock_unlock(&self->recv_lock);
    if (!mp)
        pthread_mutex_unlock(&self->send_lock);
    PyBuffer_Release(&view);
    if (rc == RK_EHANDLER) {
        int32_t code = 0;
        memcpy(&code, PyBytes_AS_STRING(data), c.reply.env.payload_len >= 4 ? 4 : 0);
        Py_DECREF(data);
        return rkpy_raise_msg(RK_EHANDLER, "call_sync: the handler of kernel '%s' failed with %s (%s)", PyUnicode_AsUTF8(self->name),
                              rk_err_name(code), rk_strerror(code));
    }
    if (rc < 0) {
        Py_DECREF(data);
        if (rc == RK_ECANCELED && c.pyerr)
            return NULL; /* the signal handler's exception (KeyboardInterrupt) */
        if (rc == RK_ECANCELED)
            return rkpy_raise_msg(RK_ECLOSED, "call_sync: the runtime was closed while the call waited");
        return kernel_fail(self, rc, "call", timeout);
    }
    if (_PyBytes_Resize(&data, c.reply.env.payload_len) < 0)
        return NULL;
    msg = rkpy_message_new(&c.reply.env, data);
    Py_DECREF(data);
    return msg;
}

/* ---- lifecycle and statistics -------------------------------------------------------------------------- */

typedef struct term_ctx {
    rk_kernel *k;
} term_ctx;

static int op_terminate(void *c, int64_t t)
{
    return rk_kernel_terminate(((term_ctx *)c)->k, t);
}

static PyObject *kernel_terminate_sync(KernelObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = { "timeout" };
    PyObject *a[1];
    term_ctx c = { self->k };
    int64_t timeout;
    int rc;

    if (rkpy_parse("terminate_sync", args, nargs, kwnames, names, 1, 0, a) < 0 ||
        rkpy_timeout(a[0], RK_TIMEOUT_MS(1000), &timeout) < 0)
        return NULL;
    rc = rkpy_nogil(self->runtime, op_terminate, &c, timeout);
    if (rc < 0)
        return kernel_fail(self, rc, "terminate", timeout);
    Py_RETURN_NONE;
}

static PyObject *kernel_pause(KernelObject *self, PyObject *unused)
{
    int rc;

    (void)unused;
    if (rkpy_runtime_check(self->runtime) < 0)
        return NULL;
    if ((rc = rk_kernel_pause(self->k)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *kernel_resume(KernelObject *self, PyObject *unused)
{
    int rc;

    (void)unused;
    if (rkpy_runtime_check(self->runtime) < 0)
        return NULL;
    if ((rc = rk_kernel_resume(self->k)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *rkpy_state_enum; /* KernelState (an IntEnum built in rkpy_kernel_init) */

static PyObject *kernel_state_obj(rk_kernel_state st)
{
    return PyObject_CallFunction(rkpy_state_enum, "i", (int)st);
}

static PyObject *kernel_stats(KernelObject *self, PyObject *unused)
{
    rk_kernel_stats s;
    PyObject *st;
    int rc;

    (void)unused;
    if (rkpy_runtime_check(self->runtime) < 0)
        return NULL;
    if ((rc = rk_kernel_stats_get(self->k, &s)) < 0)
        return rkpy_raise(rc);
    if (!(st = kernel_state_obj(s.state)))
        return NULL;
    return Py_BuildValue("{s:I,s:s,s:N,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:i,s:s,s:K,s:K,s:K}", "kernel_id", s.kernel_id,
                         "name", s.name, "state", st, "msgs_in", (unsigned long long)s.msgs_in, "msgs_out",
                         (unsigned long long)s.msgs_out, "sent", (unsigned long long)s.sent, "received",
                         (unsigned long long)s.received, "errors", (unsigned long long)s.errors, "dropped",
                         (unsigned long long)s.dropped, "heartbeat", (unsigned long long)s.heartbeat, "last_error",
                         (int)s.last_error, "last_error_name", rk_err_name(s.last_error), "uptime_ns",
                         (unsigned long long)s.uptime_ns, "k2k_in", (unsigned long long)s.k2k_in, "k2k_out",
                         (unsigned long long)s.k2k_out);
}

static PyObject *kernel_get_state(KernelObject *self, void *c)
{
    (void)c;
    if (rkpy_runtime_check(self->runtime) < 0)
        return NULL;
    return kernel_state_obj(rk_kernel_state_get(self->k));
}

static PyObject *kernel_get_address(KernelObject *self, void *c)
{
    (void)c;
    if (rkpy_runtime_check(self->runtime) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(rk_kernel_addr(self->k));
}

static PyObject *kernel_get_payload_max(KernelObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->payload_max);
}

static PyObject *kernel_get_name(KernelObject *self, void *c)
{
    (void)c;
    return Py_NewRef(self->name);
}

static PyObject *kernel_get_runtime(KernelObject *self, void *c)
{
    (void)c;
    return self->runtime ? Py_NewRef((PyObject *)self->runtime) : Py_NewRef(Py_None);
}

static PyObject *kernel_get_multi_producer(KernelObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong((self->flags & RK_LAUNCH_MULTI_PRODUCER) != 0);
}

static PyObject *kernel_stash_msg(KernelObject *self, PyObject *msg)
{
    if (!PyObject_TypeCheck(msg, &RkpyMessage_Type)) {
        PyErr_SetString(PyExc_TypeError, "_stash() takes a Message");
        return NULL;
    }
    if (PyList_Append(self->stash, msg) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *kernel_repr(KernelObject *self)
{
    return PyUnicode_FromFormat("<KernelHandle '%U' payload_max=%u%s>", self->name, self->payload_max,
                                self->runtime && self->runtime->rt ? "" : " (runtime closed)");
}

#define FASTKW METH_FASTCALL | METH_KEYWORDS
#define FN(f) (PyCFunction)(void (*)(void))(f)

static PyMethodDef kernel_methods[] = {
    { "send_sync", FN(kernel_send_sync), FASTKW,
      "send_sync(payload, type_id=None, timeout=None, correlation_id=0, request=False)\n\n"
      "Sends one message (H2K). payload: any contiguous buffer (bytes, bytearray, memoryview, numpy array); "
      "it is copied once, into the ring slot. Waits up to `timeout` seconds for room (None: forever). "
      "type_id: int, or a str hashed like RK_TYPE_ID (default 'bytes'). Raises MessageSizeError, "
      "KernelClosedError, TimedOutError, KernelFaultError." },
    { "try_send", FN(kernel_try_send), FASTKW,
      "try_send(payload, type_id=None, correlation_id=0, request=False) -> bool\n\n"
      "send_sync without waiting: False if the queue is full (nothing sent)." },
    { "recv_sync", FN(kernel_recv_sync), FASTKW,
      "recv_sync(timeout=None) -> Message\n\nReceives one reply (K2H), waiting up to `timeout` seconds. The "
      "payload is copied once, from the ring slot into the Message's own buffer." },
    { "try_recv", FN(kernel_try_recv), METH_NOARGS, "try_recv() -> Message | None\n\nrecv_sync without waiting." },
    { "recv_into", FN(kernel_recv_into), FASTKW,
      "recv_into(buffer, timeout=None) -> Message\n\nReceives one reply and copies its payload from the ring "
      "slot straight into `buffer` (any writable contiguous buffer); Message.payload is then a memoryview of "
      "the first payload_len bytes of that buffer. MessageSizeError if it does not fit (message consumed)." },
    { "call_sync", FN(kernel_call_sync), FASTKW,
      "call_sync(payload, type_id=None, timeout=None) -> Message\n\nRequest/reply (rk_call): sends a request with a "
      "fresh correlation id and returns its reply. HandlerError if the handler failed. Do not mix with "
      "recv on the same kernel (replies nobody waits for are dropped and counted in stats()['dropped'])." },
    { "terminate_sync", FN(kernel_terminate_sync), FASTKW,
      "terminate_sync(timeout=1.0)\n\nStops taking messages, drains the queue, stops. Replies stay receivable. "
      "KernelClosedError if already terminated." },
    { "pause", (PyCFunction)kernel_pause, METH_NOARGS, "pause()\n\nStop taking messages (state PAUSED)." },
    { "resume", (PyCFunction)kernel_resume, METH_NOARGS, "resume()\n\nTake messages again." },
    { "stats", (PyCFunction)kernel_stats, METH_NOARGS, "stats() -> dict\n\nCounters, state, last error, uptime." },
    { "_stash", (PyCFunction)kernel_stash_msg, METH_O, "Hands a received Message back: the next recv returns it." },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef kernel_getset[] = {
    { "state", (getter)kernel_get_state, NULL, "The lifecycle state (KernelState).", NULL },
    { "address", (getter)kernel_get_address, NULL, "The kernel's actor address (kernel id << 32).", NULL },
    { "payload_max", (getter)kernel_get_payload_max, NULL, "Largest payload a send accepts (slot size - 64).", NULL },
    { "name", (getter)kernel_get_name, NULL, "The actor name it was launched as.", NULL },
    { "runtime", (getter)kernel_get_runtime, NULL, "The native Runtime it runs on.", NULL },
    { "__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, "Instance attributes.", NULL },
    { "multi_producer", (getter)kernel_get_multi_producer, NULL, "True if any thread may send at once.", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject RkpyKernel_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringkernel._native.Kernel",
    .tp_basicsize = sizeof(KernelObject),
    .tp_dealloc = (destructor)kernel_dealloc,
    .tp_repr = (reprfunc)kernel_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A kernel launched on a runtime (rk_kernel).",
    .tp_traverse = (traverseproc)kernel_traverse,
    .tp_clear = (inquiry)kernel_clear,
    .tp_weaklistoffset = offsetof(KernelObject, weakreflist),
    .tp_dictoffset = offsetof(KernelObject, dict),
    .tp_methods = kernel_methods,
    .tp_getset = kernel_getset,
    .tp_new = kernel_new_direct,
};

static PyObject *set_kernel_class(PyObject *mod, PyObject *cls)
{
    (void)mod;
    if (!PyType_Check(cls) || !PyType_IsSubtype((PyTypeObject *)cls, &RkpyKernel_Type)) {
        PyErr_SetString(PyExc_TypeError, "_set_kernel_class() needs a subclass of Kernel");
        return NULL;
    }
    Py_XSETREF(rkpy_kernel_class, Py_NewRef(cls));
    Py_RETURN_NONE;
}

static PyMethodDef kernel_module_methods[] = {
    { "_set_kernel_class", set_kernel_class, METH_O, "Sets the class launch_sync() instantiates." },
    { NULL, NULL, 0, NULL },
};

int rkpy_kernel_init(PyObject *module)
{
    PyObject *enum_mod, *members;

    if (rkpy_add_type(module, &RkpyKernel_Type, "Kernel") < 0)
        return -1;
    if (PyModule_AddFunctions(module, kernel_module_methods) < 0)
        return -1;
    enum_mod = PyImport_ImportModule("enum");
    if (!enum_mod)
        return -1;
    members = Py_BuildValue("[(si)(si)(si)(si)(si)(si)]", "INITIALIZING", RK_STATE_INITIALIZING, "RUNNING",
                            RK_STATE_RUNNING, "PAUSED", RK_STATE_PAUSED, "DRAINING", RK_STATE_DRAINING, "STOPPED",
                            RK_STATE_STOPPED, "FAILED", RK_STATE_FAILED);
    rkpy_state_enum = members ? PyObject_CallMethod(enum_mod, "IntEnum", "sO", "KernelState", members) : NULL;
    Py_XDECREF(members);
    Py_DECREF(enum_mod);
    if (!rkpy_state_enum)
        return -1;
    members = PyUnicode_FromString("ringkernel");
    if (!members || PyObject_SetAttrString(rkpy_state_enum, "__module__", members) < 0) {
        Py_XDECREF(members);
        return -1;
    }
    Py_DECREF(members);
    Py_INCREF(rkpy_state_enum);
    return PyModule_AddObject(module, "KernelState", rkpy_state_enum);
}
