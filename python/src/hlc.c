/* hlc.c - HlcTimestamp (an immutable rk_hlc_ts, totally ordered) and HlcClock (an rk_hlc_clock). */
#include "rkpy.h"

#include <string.h>

#include <structmember.h>

PyObject *rkpy_hlc_ts_new(const rk_hlc_ts *ts)
{
    HlcTimestampObject *o = PyObject_New(HlcTimestampObject, &RkpyHlcTimestamp_Type);

    if (o)
        o->ts = *ts;
    return (PyObject *)o;
}

static PyObject *ts_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    static char *names[] = { "physical", "logical", "node", NULL };
    unsigned long long physical = 0;
    unsigned int logical = 0, node = 0;
    HlcTimestampObject *o;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|KII:HlcTimestamp", names, &physical, &logical, &node))
        return NULL;
    o = (HlcTimestampObject *)tp->tp_alloc(tp, 0);
    if (o) {
        o->ts.physical = physical;
        o->ts.logical = logical;
        o->ts.node = node;
    }
    return (PyObject *)o;
}

static PyObject *ts_richcompare(PyObject *a, PyObject *b, int op)
{
    int c;

    if (!PyObject_TypeCheck(a, &RkpyHlcTimestamp_Type) || !PyObject_TypeCheck(b, &RkpyHlcTimestamp_Type))
        Py_RETURN_NOTIMPLEMENTED;
    c = rk_hlc_compare(&((HlcTimestampObject *)a)->ts, &((HlcTimestampObject *)b)->ts);
    Py_RETURN_RICHCOMPARE(c, 0, op);
}

static Py_hash_t ts_hash(HlcTimestampObject *o)
{
    PyObject *t = Py_BuildValue("(KII)", (unsigned long long)o->ts.physical, o->ts.logical, o->ts.node);
    Py_hash_t h;

    if (!t)
        return -1;
    h = PyObject_Hash(t);
    Py_DECREF(t);
    return h;
}

static PyObject *ts_repr(HlcTimestampObject *o)
{
    return PyUnicode_FromFormat("HlcTimestamp(physical=%llu, logical=%u, node=%u)",
                                (unsigned long long)o->ts.physical, o->ts.logical, o->ts.node);
}

/* The 16-byte ABI layout (abi.h: little-endian physical, logical, node), as it travels in envelopes. */
static PyObject *ts_to_bytes(HlcTimestampObject *o, PyObject *unused)
{
    (void)unused;
    return PyBytes_FromStringAndSize((const char *)&o->ts, sizeof o->ts);
}

static PyObject *ts_from_bytes(PyObject *cls, PyObject *arg)
{
    Py_buffer v;
    rk_hlc_ts ts;

    (void)cls;
    if (PyObject_GetBuffer(arg, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    if (v.len != (Py_ssize_t)sizeof ts) {
        PyBuffer_Release(&v);
        PyErr_Format(PyExc_ValueError, "an HLC timestamp is %zu bytes, got %zd", sizeof ts, v.len);
        return NULL;
    }
    memcpy(&ts, v.buf, sizeof ts);
    PyBuffer_Release(&v);
    return rkpy_hlc_ts_new(&ts);
}

static PyMemberDef ts_members[] = {
    { "physical", T_ULONGLONG, offsetof(HlcTimestampObject, ts.physical), READONLY, "Wall-clock ns since the epoch." },
    { "logical", T_UINT, offsetof(HlcTimestampObject, ts.logical), READONLY, "Logical counter." },
    { "node", T_UINT, offsetof(HlcTimestampObject, ts.node), READONLY, "Id of the clock that stamped it." },
    { NULL, 0, 0, 0, NULL },
};

static PyMethodDef ts_methods[] = {
    { "to_bytes", (PyCFunction)ts_to_bytes, METH_NOARGS, "The 16-byte little-endian ABI encoding." },
    { "from_bytes", (PyCFunction)ts_from_bytes, METH_O | METH_CLASS, "Decodes the 16-byte ABI encoding." },
    { NULL, NULL, 0, NULL },
};

PyTypeObject RkpyHlcTimestamp_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringkernel.hlc.HlcTimestamp",
    .tp_basicsize = sizeof(HlcTimestampObject),
    .tp_repr = (reprfunc)ts_repr,
    .tp_hash = (hashfunc)ts_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "HlcTimestamp(physical=0, logical=0, node=0)\n\nA hybrid logical clock timestamp, totally ordered "
              "by (physical, logical, node); hashable and immutable.",
    .tp_richcompare = ts_richcompare,
    .tp_members = ts_members,
    .tp_methods = ts_methods,
    .tp_new = ts_new,
};

/* ---- HlcClock ------------------------------------------------------------------------------------------ */

typedef struct HlcClockObject {
    PyObject_HEAD
    rk_hlc_clock clock;
} HlcClockObject;

static PyObject *clock_new(PyTypeObject *tp, PyObject *args, PyObject *kw)
{
    HlcClockObject *self = (HlcClockObject *)tp->tp_alloc(tp, 0);

    (void)args, (void)kw;
    if (self) /* a usable clock even if __init__ is never called (a subclass that forgets it) */
        rk_hlc_init(&self->clock, 0, RK_HLC_DEFAULT_MAX_OFFSET_NS);
    return (PyObject *)self;
}

static int clock_init(HlcClockObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "node_id", "max_offset_ns", NULL };
    unsigned int node = 0;
    unsigned long long max_offset = RK_HLC_DEFAULT_MAX_OFFSET_NS;
    int rc;

    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IK:HlcClock", names, &node, &max_offset))
        return -1;
    if ((rc = rk_hlc_init(&self->clock, node, max_offset)) < 0) {
        rkpy_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *clock_now(HlcClockObject *self, PyObject *unused)
{
    rk_hlc_ts ts;
    int rc;

    (void)unused;
    if ((rc = rk_hlc_now(&self->clock, &ts)) < 0)
        return rkpy_raise(rc);
    return rkpy_hlc_ts_new(&ts);
}

static PyObject *clock_update(HlcClockObject *self, PyObject *remote)
{
    rk_hlc_ts ts;
    int rc;

    if (!PyObject_TypeCheck(remote, &RkpyHlcTimestamp_Type)) {
        PyErr_Format(PyExc_TypeError, "update() takes an HlcTimestamp, not %.80s", Py_TYPE(remote)->tp_name);
        return NULL;
    }
    if ((rc = rk_hlc_update(&self->clock, &((HlcTimestampObject *)remote)->ts, &ts)) < 0)
        return rkpy_raise(rc);
    return rkpy_hlc_ts_new(&ts);
}

static PyObject *clock_peek(HlcClockObject *self, PyObject *unused)
{
    rk_hlc_ts ts;
    int rc;

    (void)unused;
    if ((rc = rk_hlc_peek(&self->clock, &ts)) < 0)
        return rkpy_raise(rc);
    return rkpy_hlc_ts_new(&ts);
}

static PyObject *clock_get_node(HlcClockObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(self->clock.last.node);
}

static PyObject *clock_get_max_offset(HlcClockObject *self, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLongLong(self->clock.max_offset_ns);
}

static PyMethodDef clock_methods[] = {
    { "now", (PyCFunction)clock_now, METH_NOARGS,
      "now() -> HlcTimestamp\n\nTicks the clock (send or local event): greater than anything before." },
    { "update", (PyCFunction)clock_update, METH_O,
      "update(remote) -> HlcTimestamp\n\nMerges a received timestamp; the result is greater than both. "
      "ClockSkewError if remote is more than max_offset_ns ahead (the clock is unchanged)." },
    { "peek", (PyCFunction)clock_peek, METH_NOARGS, "peek() -> HlcTimestamp\n\nThe last timestamp, no tick." },
    { NULL, NULL, 0, NULL },
};

static PyGetSetDef clock_getset[] = {
    { "node_id", (getter)clock_get_node, NULL, "This clock's node id.", NULL },
    { "max_offset_ns", (getter)clock_get_max_offset, NULL, "Largest accepted forward skew (0: unchecked).", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

PyTypeObject RkpyHlcClock_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringkernel.hlc.HlcClock",
    .tp_basicsize = sizeof(HlcClockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "HlcClock(node_id=0, max_offset_ns=500_000_000)\n\nA hybrid logical clock (rk_hlc_clock) reading "
              "CLOCK_REALTIME. Thread-safe.",
    .tp_methods = clock_methods,
    .tp_getset = clock_getset,
    .tp_init = (initproc)clock_init,
    .tp_new = clock_new,
};

int rkpy_hlc_init(PyObject *module)
{
    if (rkpy_add_type(module, &RkpyHlcTimestamp_Type, "HlcTimestamp") < 0)
        return -1;
    return rkpy_add_type(module, &RkpyHlcClock_Type, "HlcClock");
}
