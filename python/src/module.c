/* module.c - `ringkernel._native`: module initialisation, constants and small helpers. */
#include "rkpy.h"

static PyObject *mod_correlation_next(PyObject *m, PyObject *unused)
{
    (void)m, (void)unused;
    return PyLong_FromUnsignedLongLong(rk_correlation_next());
}

static PyObject *mod_type_id(PyObject *m, PyObject *arg)
{
    const char *s = rkpy_str_arg(arg, "a type name");

    (void)m;
    if (!s)
        return NULL;
    return PyLong_FromUnsignedLongLong(rk_type_id(s));
}

static PyObject *mod_strerror(PyObject *m, PyObject *arg)
{
    long c = PyLong_AsLong(arg);

    (void)m;
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return Py_BuildValue("(ss)", rk_err_name((int)c), rk_strerror((int)c));
}

static PyObject *mod_version(PyObject *m, PyObject *unused)
{
    (void)m, (void)unused;
    return PyUnicode_FromString(rk_version());
}

static PyMethodDef module_methods[] = {
    { "correlation_next", mod_correlation_next, METH_NOARGS, "A fresh process-wide correlation id (never 0)." },
    { "type_id", mod_type_id, METH_O, "type_id(name) -> int\n\nThe stable 64-bit id of a type name (RK_TYPE_ID)." },
    { "strerror", mod_strerror, METH_O, "strerror(code) -> (name, description)" },
    { "library_version", mod_version, METH_NOARGS, "The version of the linked libringkernel." },
    { NULL, NULL, 0, NULL },
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ringkernel._native",
    .m_doc = "The C extension behind the ringkernel package (CPython C API over libringkernel).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__native(void)
{
    PyObject *m = PyModule_Create(&native_module);

    if (!m)
        return NULL;
    if (rkpy_errors_init(m) < 0 || rkpy_message_init(m) < 0 || rkpy_hlc_init(m) < 0 || rkpy_runtime_init(m) < 0 ||
        rkpy_kernel_init(m) < 0 || PyModule_AddFunctions(m, rkpy_k2k_methods) < 0 ||
        PyModule_AddFunctions(m, rkpy_devices_methods) < 0 || PyModule_AddFunctions(m, rkpy_cbench_methods) < 0)
        goto fail;
    if (PyModule_AddIntConstant(m, "FLAG_REQUEST", RK_ENV_REQUEST) < 0 ||
        PyModule_AddIntConstant(m, "FLAG_REPLY", RK_ENV_REPLY) < 0 ||
        PyModule_AddIntConstant(m, "FLAG_ERROR", RK_ENV_ERROR) < 0 ||
        PyModule_AddIntConstant(m, "FLAG_TOPIC", RK_ENV_TOPIC) < 0 ||
        PyModule_AddIntConstant(m, "ENVELOPE_SIZE", RK_ENVELOPE_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "TOPIC_MAX_LEN", RK_TOPIC_MAX_LEN) < 0 ||
        PyModule_AddIntConstant(m, "ENDPOINT_NAME_MAX", RK_ENDPOINT_NAME_MAX) < 0 ||
        PyModule_AddIntConstant(m, "CALL_MAX_PENDING", RK_CALL_MAX_PENDING) < 0 ||
        PyModule_AddObject(m, "DEFAULT_TYPE_ID", PyLong_FromUnsignedLongLong(rk_type_id(RKPY_DEFAULT_TYPE))) < 0 ||
        PyModule_AddObject(m, "COUNTER_ADD", PyLong_FromUnsignedLongLong(RK_COUNTER_ADD)) < 0 ||
        PyModule_AddObject(m, "COUNTER_GET", PyLong_FromUnsignedLongLong(RK_COUNTER_GET)) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
