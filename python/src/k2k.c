/* k2k.c - endpoints and topics (k2k.h, topic.h) for the Python K2KBroker: Runtime methods and module
 * functions. Everything here maps one library call; k2k.py builds the broker on top.
 */
#include "rkpy.h"

#include <string.h>

static int k2k_kernel_arg(RuntimeObject *self, PyObject *ko, KernelObject **out)
{
    if (!PyObject_TypeCheck(ko, &RkpyKernel_Type)) {
        PyErr_Format(PyExc_TypeError, "expected a KernelHandle, not %.80s", Py_TYPE(ko)->tp_name);
        return -1;
    }
    *out = (KernelObject *)ko;
    if ((*out)->runtime != self) {
        rkpy_raise_msg(RK_EINVAL, "the kernel belongs to another runtime");
        return -1;
    }
    return rkpy_runtime_check(self);
}

PyObject *rkpy_runtime_subscribe(RuntimeObject *self, PyObject *args)
{
    PyObject *ko;
    KernelObject *k;
    const char *filter;
    int rc;

    if (!PyArg_ParseTuple(args, "Os:subscribe", &ko, &filter) || k2k_kernel_arg(self, ko, &k) < 0)
        return NULL;
    if ((rc = rk_subscribe(self->rt, k->k, filter)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

PyObject *rkpy_runtime_unsubscribe(RuntimeObject *self, PyObject *args)
{
    PyObject *ko;
    KernelObject *k;
    const char *filter;
    int rc;

    if (!PyArg_ParseTuple(args, "Os:unsubscribe", &ko, &filter) || k2k_kernel_arg(self, ko, &k) < 0)
        return NULL;
    if ((rc = rk_unsubscribe(self->rt, k->k, filter)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

typedef struct pub_ctx {
    rk_runtime *rt;
    const char *topic;
    uint64_t type_id;
    uint32_t flags;
    Py_buffer *view;
    rk_publish_info info;
} pub_ctx;

static int op_publish(void *c, int64_t t)
{
    pub_ctx *p = c;
    return rk_publish_ex(p->rt, p->topic, p->type_id, p->flags, p->view->buf, (uint32_t)p->view->len, t, &p->info);
}

PyObject *rkpy_runtime_publish(RuntimeObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = { "topic", "payload", "type_id", "timeout", "drop_if_full", NULL };
    PyObject *type_obj = NULL, *timeout_obj = NULL;
    Py_buffer view;
    pub_ctx p;
    int64_t timeout;
    int drop = 0, rc;

    memset(&p, 0, sizeof p);
    if (!PyArg_ParseTupleAndKeywords(args, kw, "sy*|OOp:publish", names, &p.topic, &view, &type_obj, &timeout_obj,
                                     &drop))
        return NULL;
    if (rkpy_type_id(type_obj, &p.type_id) < 0 || rkpy_timeout(timeout_obj, RK_TIMEOUT_MS(1000), &timeout) < 0 ||
        rkpy_runtime_check(self) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    if ((size_t)view.len > UINT32_MAX) {
        PyBuffer_Release(&view);
        return rkpy_raise_msg(RK_EMSGSIZE, "publish: payload of %zd bytes", view.len);
    }
    p.rt = self->rt;
    p.flags = drop ? RK_PUBLISH_DROP_IF_FULL : 0;
    p.view = &view;
    /* All or nothing: a slice that timed out delivered nothing, so the next slice may simply try again. */
    rc = drop ? op_publish(&p, 0) : rkpy_wait(self, op_publish, &p, timeout);
    PyBuffer_Release(&view);
    if (rc == RKPY_PYERR)
        return NULL;
    if (rc < 0)
        return rkpy_raise(rc);
    return Py_BuildValue("{s:I,s:I,s:I,s:I}", "matched", p.info.matched, "delivered", p.info.delivered, "dropped",
                         p.info.dropped, "closed", p.info.closed);
}

PyObject *rkpy_runtime_endpoint_register(RuntimeObject *self, PyObject *args)
{
    PyObject *ko;
    KernelObject *k;
    const char *name;
    int rc;

    if (!PyArg_ParseTuple(args, "sO:endpoint_register", &name, &ko) || k2k_kernel_arg(self, ko, &k) < 0)
        return NULL;
    if ((rc = rk_endpoint_register(self->rt, name, k->k)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

PyObject *rkpy_runtime_endpoint_resolve(RuntimeObject *self, PyObject *args)
{
    const char *name;
    rk_addr a;
    int rc;

    if (!PyArg_ParseTuple(args, "s:endpoint_resolve", &name) || rkpy_runtime_check(self) < 0)
        return NULL;
    if ((rc = rk_endpoint_resolve(self->rt, name, &a)) < 0)
        return rkpy_raise(rc);
    return PyLong_FromUnsignedLongLong(a);
}

PyObject *rkpy_runtime_endpoint_unregister(RuntimeObject *self, PyObject *args)
{
    const char *name;
    int rc;

    if (!PyArg_ParseTuple(args, "s:endpoint_unregister", &name) || rkpy_runtime_check(self) < 0)
        return NULL;
    if ((rc = rk_endpoint_unregister(self->rt, name)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

/* ---- module functions ---------------------------------------------------------------------------------- */

static PyObject *k2k_topic_match(PyObject *mod, PyObject *args)
{
    const char *filter, *topic;
    int rc;

    (void)mod;
    if (!PyArg_ParseTuple(args, "ss:topic_match", &filter, &topic))
        return NULL;
    if ((rc = rk_topic_match(filter, topic)) < 0)
        return rkpy_raise(rc);
    return PyBool_FromLong(rc);
}

static PyObject *k2k_validate(PyObject *arg, const char *what, int (*check)(const char *))
{
    const char *s = rkpy_str_arg(arg, what);
    int rc;

    if (!s)
        return NULL;
    if ((rc = check(s)) < 0)
        return rkpy_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *k2k_validate_filter(PyObject *mod, PyObject *arg)
{
    (void)mod;
    return k2k_validate(arg, "a topic filter", rk_topic_validate_filter);
}

static PyObject *k2k_validate_topic(PyObject *mod, PyObject *arg)
{
    (void)mod;
    return k2k_validate(arg, "a topic name", rk_topic_validate_name);
}

/* A publication's payload as a kernel received it (and echo sends it back): the topic header, then the
 * publisher's bytes. Parsed by the library's own rk_msg_topic on an envelope marked as a publication. */
static PyObject *k2k_split_publication(PyObject *mod, PyObject *arg)
{
    Py_buffer v;
    rk_envelope env;
    const char *topic;
    const void *user;
    uint32_t tlen, ulen;
    PyObject *t, *mv, *slice, *r;
    int rc;

    (void)mod;
    if (PyObject_GetBuffer(arg, &v, PyBUF_SIMPLE) < 0)
        return NULL;
    memset(&env, 0, sizeof env);
    env.flags = RK_ENV_TOPIC;
    env.payload_len = (uint32_t)v.len;
    rc = rk_msg_topic(&env, v.buf, &topic, &tlen, &user, &ulen);
    if (rc < 0) {
        PyBuffer_Release(&v);
        return rkpy_raise(rc);
    }
    t = PyUnicode_DecodeUTF8(topic, tlen, "surrogateescape");
    Py_ssize_t off = (const char *)user - (const char *)v.buf;
    PyBuffer_Release(&v);
    if (!t)
        return NULL;
    mv = PyMemoryView_FromObject(arg);
    slice = mv ? PySequence_GetSlice(mv, off, off + ulen) : NULL;
    Py_XDECREF(mv);
    if (!slice) {
        Py_DECREF(t);
        return NULL;
    }
    r = PyTuple_Pack(2, t, slice);
    Py_DECREF(t);
    Py_DECREF(slice);
    return r;
}

static PyObject *k2k_topic_header_size(PyObject *mod, PyObject *arg)
{
    Py_ssize_t n = PyLong_AsSsize_t(arg);

    (void)mod;
    if (n == -1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromUnsignedLong(RK_TOPIC_HDR_SIZE(n));
}

PyMethodDef rkpy_k2k_methods[] = {
    { "topic_match", k2k_topic_match, METH_VARARGS,
      "topic_match(filter, topic) -> bool\n\nMQTT matching ('+' one level, '#' the rest). InvalidArgumentError "
      "for an invalid filter or topic." },
    { "validate_filter", k2k_validate_filter, METH_O, "Raises InvalidArgumentError for an invalid topic filter." },
    { "validate_topic", k2k_validate_topic, METH_O, "Raises InvalidArgumentError for an invalid topic name." },
    { "split_publication", k2k_split_publication, METH_O,
      "split_publication(payload) -> (topic, memoryview)\n\nThe topic and the publisher's payload of a "
      "publication as a subscriber receives it (k2k.h layout). CorruptDataError if malformed." },
    { "topic_header_size", k2k_topic_header_size, METH_O, "Bytes of the topic header for a topic of n bytes." },
    { NULL, NULL, 0, NULL },
};
