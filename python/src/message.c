/* message.c - the Message type: one received envelope and its payload.
 *
 * The payload is exposed as a read-only memoryview over the buffer the Message owns (the bytes the reply
 * was copied into from the ring slot, or the caller's buffer for recv_into): reading it, slicing it or
 * handing it to numpy.frombuffer copies nothing more.
 */
#include "rkpy.h"

#include <stddef.h>
#include <stdio.h>

#include <structmember.h>

PyObject *rkpy_message_new(const rk_envelope *env, PyObject *data)
{
    MessageObject *m = PyObject_New(MessageObject, &RkpyMessage_Type);

    if (!m)
        return NULL;
    m->env = *env;
    m->data = Py_NewRef(data);
    m->view = NULL;
    return (PyObject *)m;
}

static void message_dealloc(MessageObject *m)
{
    Py_XDECREF(m->view);
    Py_XDECREF(m->data);
    PyObject_Free(m);
}

static PyObject *message_get_payload(MessageObject *m, void *c)
{
    (void)c;
    if (!m->view) {
        /* A memoryview over bytes is read-only; over a recv_into buffer it is that buffer's slice. */
        m->view = PyMemoryView_FromObject(m->data);
        if (!m->view)
            return NULL;
    }
    return Py_NewRef(m->view);
}

static PyObject *message_get_hlc(MessageObject *m, void *c)
{
    (void)c;
    return rkpy_hlc_ts_new(&m->env.hlc);
}

static PyObject *message_get_is_reply(MessageObject *m, void *c)
{
    (void)c;
    return PyBool_FromLong((m->env.flags & RK_ENV_REPLY) != 0);
}

static PyObject *message_get_is_error(MessageObject *m, void *c)
{
    (void)c;
    return PyBool_FromLong((m->env.flags & RK_ENV_ERROR) != 0);
}

static PyObject *message_bytes(MessageObject *m, PyObject *unused)
{
    (void)unused;
    if (PyBytes_CheckExact(m->data))
        return Py_NewRef(m->data);
    return PyBytes_FromObject(m->data);
}

static Py_ssize_t message_len(MessageObject *m)
{
    return (Py_ssize_t)m->env.payload_len;
}

static PyObject *message_repr(MessageObject *m)
{
    char buf[160]; /* PyUnicode_FromFormat has no %llx */

    snprintf(buf, sizeof buf, "<Message type_id=0x%016llx corr=%llu flags=0x%x len=%u>",
             (unsigned long long)m->env.type_id, (unsigned long long)m->env.correlation_id, m->env.flags,
             m->env.payload_len);
    return PyUnicode_FromString(buf);
}

static PyMemberDef message_members[] = {
    { "type_id", T_ULONGLONG, offsetof(MessageObject, env.type_id), READONLY, "The message type id." },
    { "correlation_id", T_ULONGLONG, offsetof(MessageObject, env.correlation_id), READONLY,
      "Request/reply matching id (0: none)." },
    { "flags", T_UBYTE, offsetof(MessageObject, env.flags), READONLY, "Envelope flags (FLAG_REQUEST, ...)." },
    { "payload_len", T_UINT, offsetof(MessageObject, env.payload_len), READONLY, "Bytes of payload." },
    { "source", T_ULONGLONG, offsetof(MessageObject, env.source), READONLY, "The sender's address." },
    { "dest", T_ULONGLONG, offsetof(MessageObject, env.dest), READONLY, "The destination address." },
    { "seq", T_ULONGLONG, offsetof(MessageObject, env.seq), READONLY, "The sender's sequence number." },
    { NULL, 0, 0, 0, NULL },
};

static PyGetSetDef message_getset[] = {
    { "payload", (getter)message_get_payload, NULL, "The payload as a memoryview (no copy).", NULL },
    { "hlc", (getter)message_get_hlc, NULL, "The sender's HLC stamp (HlcTimestamp).", NULL },
    { "is_reply", (getter)message_get_is_reply, NULL, "True if this is a reply to a request.", NULL },
    { "is_error", (getter)message_get_is_error, NULL, "True if the payload is an error report.", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static PyMethodDef message_methods[] = {
    { "__bytes__", (PyCFunction)message_bytes, METH_NOARGS, "The payload as bytes (no copy if it is bytes)." },
    { NULL, NULL, 0, NULL },
};

static PySequenceMethods message_as_sequence = {
    .sq_length = (lenfunc)message_len,
};

PyTypeObject RkpyMessage_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ringkernel.Message",
    .tp_basicsize = sizeof(MessageObject),
    .tp_dealloc = (destructor)message_dealloc,
    .tp_repr = (reprfunc)message_repr,
    .tp_as_sequence = &message_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A received message: envelope fields and the payload (memoryview).",
    .tp_members = message_members,
    .tp_getset = message_getset,
    .tp_methods = message_methods,
};

int rkpy_message_init(PyObject *module)
{
    return rkpy_add_type(module, &RkpyMessage_Type, "Message");
}
