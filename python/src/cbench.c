/* cbench.c - the C reference loops of ringkernel.benchmark: the same echo traffic as the Python loops, made
 * with rk_send/rk_recv exactly as a C program would (no Python in the loop, GIL released), so one run can
 * report what the Python layer adds per call.
 *
 * Both loops stamp a running counter into the first 8 bytes of each payload and check it in every reply, so
 * a lost, duplicated or reordered message fails the run (RK_ECORRUPT) instead of flattering the figure.
 */
#include "rkpy.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bench_ctx {
    rk_kernel *k;
    uint64_t n;
    uint32_t size, window;
    uint64_t *samples; /* n round-trip times (roundtrip mode), or NULL */
    int64_t total_ns;
    uint64_t checked;
} bench_ctx;

static int bench_one_send(bench_ctx *b, uint8_t *buf, uint64_t i)
{
    rk_msg m;

    memset(&m, 0, sizeof m);
    memcpy(buf, &i, b->size < 8 ? b->size : 8);
    m.env.type_id = rk_type_id(RKPY_DEFAULT_TYPE);
    m.env.payload_len = b->size;
    m.payload = buf;
    return rk_send(b->k, &m, RK_TIMEOUT_MS(5000));
}

static int bench_one_recv(bench_ctx *b, uint8_t *buf, uint64_t expect)
{
    rk_msg r;
    uint64_t got = 0;
    int rc;

    memset(&r, 0, sizeof r);
    r.payload = buf;
    r.payload_cap = b->size;
    if ((rc = rk_recv(b->k, &r, RK_TIMEOUT_MS(5000))) < 0)
        return rc;
    memcpy(&got, buf, b->size < 8 ? b->size : 8);
    if (r.env.payload_len != b->size || (b->size >= 8 && got != expect))
        return RK_ECORRUPT;
    b->checked++;
    return 0;
}

/* Runs without the GIL. */
static int bench_run(void *c, int64_t unused)
{
    bench_ctx *b = c;
    uint8_t *out = calloc(1, b->size + 8), *in = calloc(1, b->size + 8);
    struct timespec t0, t1, s0, s1;
    int rc = 0;

    (void)unused;
    if (!out || !in) {
        free(out);
        free(in);
        return RK_ENOMEM;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (b->window <= 1) {
        for (uint64_t i = 0; i < b->n && rc == 0; i++) {
            if (b->samples)
                clock_gettime(CLOCK_MONOTONIC, &s0);
            rc = bench_one_send(b, out, i);
            if (rc == 0)
                rc = bench_one_recv(b, in, i);
            if (b->samples) {
                clock_gettime(CLOCK_MONOTONIC, &s1);
                b->samples[i] = (uint64_t)((s1.tv_sec - s0.tv_sec) * 1000000000LL + (s1.tv_nsec - s0.tv_nsec));
            }
        }
    } else {
        uint64_t sent = 0, recvd = 0;
        while (recvd < b->n && rc == 0) {
            while (rc == 0 && sent < b->n && sent - recvd < b->window)
                rc = bench_one_send(b, out, sent++);
            while (rc == 0 && recvd < sent)
                rc = bench_one_recv(b, in, recvd++);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    b->total_ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    free(out);
    free(in);
    return rc;
}

static PyObject *cbench_echo(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *names[] = { "kernel", "n", "payload_size", "window", "samples", NULL };
    PyObject *ko, *samples = NULL;
    KernelObject *k;
    unsigned long long n;
    unsigned int size, window = 1;
    int want_samples = 0, rc;
    bench_ctx b;

    (void)mod;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OKI|Ip:c_echo", names, &ko, &n, &size, &window, &want_samples))
        return NULL;
    if (!PyObject_TypeCheck(ko, &RkpyKernel_Type)) {
        PyErr_SetString(PyExc_TypeError, "c_echo() needs a KernelHandle");
        return NULL;
    }
    k = (KernelObject *)ko;
    if (size > k->payload_max)
        return rkpy_raise_msg(RK_EMSGSIZE, "c_echo: payload_size %u > payload_max %u", size, k->payload_max);
    memset(&b, 0, sizeof b);
    b.k = k->k;
    b.n = n;
    b.size = size;
    b.window = window;
    if (want_samples && window <= 1) {
        samples = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * sizeof(uint64_t)));
        if (!samples)
            return NULL;
        b.samples = (uint64_t *)PyBytes_AS_STRING(samples);
    }
    rkpy_mutex_lock(&k->send_lock);
    rkpy_rwlock_wrlock(&k->recv_lock);
    rc = rkpy_nogil(k->runtime, bench_run, &b, 0);
    pthread_rwlock_unlock(&k->recv_lock);
    pthread_mutex_unlock(&k->send_lock);
    if (rc < 0) {
        Py_XDECREF(samples);
        if (rc == RK_ECORRUPT)
            return rkpy_raise_msg(rc, "c_echo: reply %llu did not carry the payload sent", (unsigned long long)b.checked);
        return rkpy_raise(rc);
    }
    return Py_BuildValue("{s:L,s:K,s:N}", "total_ns", (long long)b.total_ns, "checked",
                         (unsigned long long)b.checked, "samples", samples ? samples : Py_NewRef(Py_None));
}

PyMethodDef rkpy_cbench_methods[] = {
    { "c_echo", (PyCFunction)(void (*)(void))cbench_echo, METH_VARARGS | METH_KEYWORDS,
      "c_echo(kernel, n, payload_size, window=1, samples=False) -> dict\n\nThe C reference loop: n echo round "
      "trips (window 1) or n pipelined messages (window > 1) with rk_send/rk_recv, GIL released. Returns "
      "{'total_ns', 'checked', 'samples' (bytes of n uint64 ns, or None)}." },
    { NULL, NULL, 0, NULL },
};
