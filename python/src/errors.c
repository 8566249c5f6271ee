/* errors.c - the RingKernelError hierarchy: one subclass per RK_E* code, built from error.h's X-macro list
 * so that a code added to the library without a Python name still gets a class (named after the code).
 *
 * Each exception carries .code (the negative RK_E* value), .name ("RK_EMSGSIZE") and .detail (the
 * library's rk_last_error() string, or the extension's own detail). Some classes also derive from the
 * built-in exception a Python user would catch for that situation (ValueError for RK_EINVAL and
 * RK_EMSGSIZE, TimeoutError for RK_ETIMEDOUT, ...). Such an exception is created with one argument, the
 * message, so OSError-derived ones do not take the code for an errno.
 */
#include "rkpy.h"

#include <stdarg.h>
#include <stdio.h>

typedef struct rkpy_errdef {
    int code;
    const char *name;   /* class name in the ringkernel package */
    PyObject **builtin; /* an extra base class, or NULL */
} rkpy_errdef;

static PyObject *rkpy_error_base;

static PyObject *rkpy_classes[-RK__ERR_MIN]; /* index -code; [0] unused */

static const rkpy_errdef rkpy_errdefs[] = {
    { RK_EINVAL, "InvalidArgumentError", &PyExc_ValueError },
    { RK_ENOMEM, "OutOfMemoryError", &PyExc_MemoryError },
    { RK_EAGAIN, "WouldBlockError", NULL },
    { RK_ETIMEDOUT, "TimedOutError", &PyExc_TimeoutError },
    { RK_ENOENT, "NotFoundError", &PyExc_LookupError },
    { RK_EEXIST, "AlreadyExistsError", NULL },
    { RK_EMSGSIZE, "MessageSizeError", &PyExc_ValueError },
    { RK_ECLOSED, "KernelClosedError", NULL },
    { RK_ESTATE, "InvalidStateError", NULL },
    { RK_ENODEV, "NoDeviceError", NULL },
    { RK_ENOTSUP, "NotSupportedError", NULL },
    { RK_EBACKEND, "BackendError", NULL },
    { RK_EFAULT, "KernelFaultError", NULL },
    { RK_ECLOCK, "ClockSkewError", NULL },
    { RK_EABI, "AbiMismatchError", NULL },
    { RK_ECORRUPT, "CorruptDataError", NULL },
    { RK_EOVERFLOW, "ValueOverflowError", &PyExc_OverflowError },
    { RK_ELIMIT, "LimitError", NULL },
    { RK_EBADHANDLE, "BadHandleError", NULL },
    { RK_EHANDLER, "HandlerError", NULL },
    { RK_ENOTRESPONDING, "NotRespondingError", NULL },
    { RK_EIO, "RingKernelIOError", &PyExc_OSError },
    { RK_ECANCELED, "OperationCanceledError", NULL },
};

static const rkpy_errdef *rkpy_errdef_find(int code)
{
    for (size_t i = 0; i < sizeof rkpy_errdefs / sizeof rkpy_errdefs[0]; i++)
        if (rkpy_errdefs[i].code == code)
            return &rkpy_errdefs[i];
    return NULL;
}

static int rkpy_add_class(PyObject *module, int code)
{
    const rkpy_errdef *d = rkpy_errdef_find(code);
    char qual[96], fallback[64];
    const char *name = d ? d->name : fallback;
    PyObject *bases, *cls, *doc, *v;

    /* A code without an entry above: "RK_EFOO" -> "EFOOError". */
    snprintf(fallback, sizeof fallback, "%sError", rk_err_name(code) + 3);
    snprintf(qual, sizeof qual, "ringkernel.%s", name);
    if (d && d->builtin)
        bases = PyTuple_Pack(2, rkpy_error_base, *d->builtin);
    else
        bases = PyTuple_Pack(1, rkpy_error_base);
    if (!bases)
        return -1;
    cls = PyErr_NewException(qual, bases, NULL);
    Py_DECREF(bases);
    if (!cls)
        return -1;
    doc = PyUnicode_FromFormat("%s (%d): %s.", rk_err_name(code), code, rk_strerror(code));
    v = PyLong_FromLong(code);
    if (!doc || !v || PyObject_SetAttrString(cls, "__doc__", doc) < 0 || PyObject_SetAttrString(cls, "code", v) < 0) {
        Py_XDECREF(doc);
        Py_XDECREF(v);
        Py_DECREF(cls);
        return -1;
    }
    Py_DECREF(doc);
    Py_DECREF(v);
    rkpy_classes[-code] = cls; /* the module keeps its own reference below; this one is ours forever */
    Py_INCREF(cls);
    return PyModule_AddObject(module, name, cls) < 0 ? (Py_DECREF(cls), -1) : 0;
}

int rkpy_errors_init(PyObject *module)
{
    rkpy_error_base = PyErr_NewExceptionWithDoc(
        "ringkernel.RingKernelError",
        "Base of every error the RingKernel library reports. Attributes: code (the negative RK_E* value), "
        "name ('RK_EMSGSIZE'), detail (the library's description of this failure).",
        NULL, NULL);
    if (!rkpy_error_base)
        return -1;
    Py_INCREF(rkpy_error_base);
    if (PyModule_AddObject(module, "RingKernelError", rkpy_error_base) < 0)
        return -1;
#define RKPY__ADD(name, value, desc)         \
    if (rkpy_add_class(module, value) < 0) \
        return -1;
    RK_ERRNO_MAP(RKPY__ADD)
#undef RKPY__ADD
    return 0;
}

PyObject *rkpy_error_class(int rc)
{
    if (rc < 0 && rc > RK__ERR_MIN && rkpy_classes[-rc])
        return rkpy_classes[-rc];
    return rkpy_error_base;
}

static PyObject *rkpy_raise_detail(int rc, const char *detail)
{
    PyObject *cls = rkpy_error_class(rc), *exc, *v;

    exc = PyObject_CallFunction(cls, "s", *detail ? detail : rk_strerror(rc));
    if (!exc)
        return NULL;
    if ((v = PyLong_FromLong(rc)) == NULL || PyObject_SetAttrString(exc, "code", v) < 0)
        goto fail;
    Py_DECREF(v);
    if ((v = PyUnicode_FromString(rk_err_name(rc))) == NULL || PyObject_SetAttrString(exc, "name", v) < 0)
        goto fail;
    Py_DECREF(v);
    if ((v = PyUnicode_FromString(detail)) == NULL || PyObject_SetAttrString(exc, "detail", v) < 0)
        goto fail;
    Py_DECREF(v);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
fail:
    Py_XDECREF(v);
    Py_DECREF(exc);
    return NULL;
}

PyObject *rkpy_raise(int rc)
{
    /* The library's detail belongs to this call only if it names this code (a stale one would mislead). */
    const char *d = rk_last_error_code() == rc ? rk_last_error() : "";
    char buf[512];

    snprintf(buf, sizeof buf, "%s: %s%s%s", rk_err_name(rc), rk_strerror(rc), *d ? ": " : "", d);
    return rkpy_raise_detail(rc, buf);
}

PyObject *rkpy_raise_msg(int rc, const char *fmt, ...)
{
    char detail[384], buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof buf, "%s: %s", rk_err_name(rc), detail);
    return rkpy_raise_detail(rc, buf);
}
