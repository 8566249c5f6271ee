/* devices.c - backend probing and device enumeration (rk_backend_probe, rk_backend_devices) for
 * ringkernel.cuda and RingKernel.backends().
 */
#include "rkpy.h"

static int backend_arg(PyObject *arg, rk_backend_kind *kind)
{
    const char *s = rkpy_str_arg(arg, "a backend ('cpu', 'cuda', ...)");

    if (!s)
        return -1;
    if (rk_backend_parse(s, kind) < 0) {
        rkpy_raise(RK_EINVAL);
        return -1;
    }
    return 0;
}

static PyObject *devices_probe(PyObject *mod, PyObject *arg)
{
    rk_backend_kind kind;
    rk_backend_status st;
    int rc;

    (void)mod;
    if (backend_arg(arg, &kind) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS /* a driver's first initialisation can take a while */
    rc = rk_backend_probe(kind, &st);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return rkpy_raise(rc);
    return Py_BuildValue("{s:s,s:O,s:O,s:i,s:s}", "backend", rk_backend_name(st.kind), "available",
                         st.available ? Py_True : Py_False, "compiled", st.compiled ? Py_True : Py_False,
                         "device_count", st.device_count, "reason", st.reason);
}

static PyObject *devices_list(PyObject *mod, PyObject *arg)
{
    rk_backend_kind kind;
    rk_device_info info[64];
    PyObject *list;
    int n;

    (void)mod;
    if (backend_arg(arg, &kind) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    n = rk_backend_devices(kind, info, 64);
    Py_END_ALLOW_THREADS
    if (n < 0)
        return rkpy_raise(n);
    if (!(list = PyList_New(n)))
        return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *d = Py_BuildValue("{s:s,s:i,s:s,s:K,s:i,s:(ii),s:s}", "backend", rk_backend_name(info[i].backend),
                                    "index", info[i].index, "name", info[i].name, "memory_bytes",
                                    (unsigned long long)info[i].memory_bytes, "multiprocessors",
                                    info[i].compute_units, "compute_capability", info[i].cc_major,
                                    info[i].cc_minor, "driver", info[i].driver);
        if (!d) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, d);
    }
    return list;
}

PyMethodDef rkpy_devices_methods[] = {
    { "backend_probe", devices_probe, METH_O,
      "backend_probe(backend) -> dict\n\n{'backend', 'available', 'compiled', 'device_count', 'reason'}." },
    { "backend_devices", devices_list, METH_O,
      "backend_devices(backend) -> list[dict]\n\nDevices of a backend (empty if unavailable): name, "
      "memory_bytes, multiprocessors (SMs / compute units / cores), compute_capability, driver." },
    { NULL, NULL, 0, NULL },
};
