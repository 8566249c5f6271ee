/* args.c - argument parsing for the METH_FASTCALL | METH_KEYWORDS methods of the extension.
 *
 * PyArg_ParseTupleAndKeywords builds a tuple and a dict per call (about 100 ns); the hot methods (send,
 * recv, call) parse their few arguments here instead, straight from the vectorcall array.
 */
#include "rkpy.h"

#include <time.h>

int rkpy_parse(const char *fn, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
               const char *const *names, int n, int required, PyObject **out)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;

    if (nargs > n) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %d arguments (%zd given)", fn, n, nargs);
        return -1;
    }
    for (int i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    for (Py_ssize_t j = 0; j < nkw; j++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, j);
        int i;
        for (i = 0; i < n; i++)
            if (PyUnicode_CompareWithASCIIString(key, names[i]) == 0)
                break;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", fn, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", fn, names[i]);
            return -1;
        }
        out[i] = args[nargs + j];
    }
    for (int i = 0; i < required; i++)
        if (!out[i]) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", fn, names[i]);
            return -1;
        }
    return 0;
}

int rkpy_timeout(PyObject *obj, int64_t dflt, int64_t *out)
{
    double s;

    if (!obj) {
        *out = dflt;
        return 0;
    }
    if (obj == Py_None) {
        *out = RK_TIMEOUT_INFINITE;
        return 0;
    }
    if (!PyFloat_Check(obj) && !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "timeout must be seconds (int or float) or None, not %.80s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    s = PyFloat_AsDouble(obj);
    if (s == -1.0 && PyErr_Occurred())
        return -1;
    if (!(s >= 0.0) || s > 9.2e9) { /* also rejects NaN */
        PyErr_SetString(PyExc_ValueError, "timeout must be >= 0 seconds (None waits forever)");
        return -1;
    }
    *out = (int64_t)(s * 1e9);
    return 0;
}

int rkpy_u64(PyObject *obj, uint64_t dflt, uint64_t *out)
{
    unsigned long long v;

    if (!obj || obj == Py_None) {
        *out = dflt;
        return 0;
    }
    if (!PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "expected an int, not %.80s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    v = PyLong_AsUnsignedLongLong(obj);
    if (v == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

int rkpy_type_id(PyObject *obj, uint64_t *out)
{
    static uint64_t dflt;

    if (!dflt)
        dflt = rk_type_id(RKPY_DEFAULT_TYPE);
    if (obj && PyUnicode_Check(obj)) {
        const char *s = PyUnicode_AsUTF8(obj);
        if (!s)
            return -1;
        *out = rk_type_id(s);
        return 0;
    }
    if (obj && obj != Py_None && !PyLong_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "type_id must be an int, a str (a type name) or None, not %.80s",
                     Py_TYPE(obj)->tp_name);
        return -1;
    }
    return rkpy_u64(obj, dflt, out);
}

int64_t rkpy_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

const char *rkpy_str_arg(PyObject *arg, const char *what)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s must be a str, not %.80s", what, Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8(arg);
}

int rkpy_add_type(PyObject *module, PyTypeObject *type, const char *name)
{
    if (PyType_Ready(type) < 0)
        return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}
