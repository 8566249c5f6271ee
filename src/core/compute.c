/* compute.c - compute.h: the backend-independent half of compute kernels (compute_internal.h).
 *
 * A program goes source -> parser -> checker (the language, then the backend's target) -> IR, exactly the
 * pipeline of `ringkernel codegen` (cli/codegen.c); the backend then emits and compiles the IR
 * (program_build). The core keeps the kernel table (names, parameter kinds), checks every launch (C1),
 * computes the launch geometry, keeps the sticky fault (C2), serialises calls per runtime (C3) and owns
 * the on-disk cache (C4).
 *
 * Invariants:
 *   P1  Every live program and buffer is on rt->compute_objs (under compute_lock), so rk_runtime_destroy
 *       can free what the user left; a node leaves the list before its backend object is freed.
 *   P2  rt->compute_fault, once set, is never cleared: every later call that reaches the device answers
 *       RK_EFAULT (C2).
 *   P3  A cache entry is trusted only when its magic, format, key, length and checksum all match; anything
 *       else is reported as -1 (rebuilt) and overwritten by the next store, which is atomic (rename).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codegen/checker.h"
#include "codegen/emit.h"
#include "codegen/parser.h"
#include "core/compute_internal.h"
#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/version.h"

/* ---- Live objects (P1) ------------------------------------------------------------------------------ */

/* A program or a buffer as the core allocates it: the public object first, so the backend's pointer and
 * the core's are the same, then the list links and what only the core reads. */
struct rk__compute_node {
    struct rk__compute_node *prev, *next;
    int is_program;
    char *rings;      /* programs: the ring kernels' names, each NUL-terminated, then an empty one */
    union {
        rk_program p;
        rk_buffer b;
    } u;
};

#define RK__NODE_OF(ptr, field) \
    ((struct rk__compute_node *)(void *)((char *)(ptr) - offsetof(struct rk__compute_node, u.field)))

static void rk__node_link(rk_runtime *rt, struct rk__compute_node *n)
{
    n->prev = NULL;
    n->next = rt->compute_objs;
    if (n->next != NULL)
        n->next->prev = n;
    rt->compute_objs = n;
}

static void rk__node_unlink(rk_runtime *rt, struct rk__compute_node *n)
{
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        rt->compute_objs = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* The compute ops of rt, or an error naming fn: RK_EINVAL for NULL, RK_ENOTSUP without compute. */
static int rk__compute_ops_of(rk_runtime *rt, const char *fn, const rk__compute_ops **out)
{
    if (rt == NULL)
        return rk__err(RK_EINVAL, "%s: runtime is NULL", fn);
    if (rt->ops->compute == NULL)
        return rk__err(RK_ENOTSUP, "%s: the %s backend has no compute kernels", fn, rt->ops->name);
    *out = rt->ops->compute;
    return 0;
}

/* Records a device fault (P2) and passes rc on. */
static int rk__fault_note(rk_runtime *rt, int rc)
{
    if (rc == RK_EFAULT)
        rt->compute_fault = 1;
    return rc;
}

static int rk__fault_check(rk_runtime *rt, const char *fn)
{
    if (rt->compute_fault)
        return rk__err(RK_EFAULT, "%s: an earlier compute launch failed on the device (the fault is sticky)", fn);
    return 0;
}

static void rk__program_release(rk_runtime *rt, struct rk__compute_node *n)
{
    rk_program *p = &n->u.p;

    if (p->impl != NULL || p->kernels != NULL)
        rt->ops->compute->program_free(rt, p);
    for (uint32_t i = 0; p->kernels != NULL && i < p->nkernels; i++)
        free(p->kernels[i].params);
    free(p->kernels);
    free(n->rings);
    free(n);
}

void rk__compute_destroy_all(rk_runtime *rt)
{
    struct rk__compute_node *n;

    pthread_mutex_lock(&rt->compute_lock);
    /* Programs first: a backend may keep a launch that uses a buffer until the program is freed. */
    for (int pass = 0; pass < 2; pass++) {
        for (n = rt->compute_objs; n != NULL;) {
            struct rk__compute_node *next = n->next;

            if (n->is_program == (pass == 0)) {
                rk__node_unlink(rt, n);
                if (n->is_program) {
                    rk__program_release(rt, n);
                } else {
                    rt->ops->compute->buffer_free(rt, &n->u.b);
                    free(n);
                }
            }
            n = next;
        }
    }
    pthread_mutex_unlock(&rt->compute_lock);
}

/* ---- Buffers ---------------------------------------------------------------------------------------- */

int rk_buffer_create(rk_runtime *rt, size_t bytes, rk_buffer **out)
{
    const rk__compute_ops *ops = NULL;
    struct rk__compute_node *n;
    int rc;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_buffer_create: out is NULL");
    *out = NULL;
    if ((rc = rk__compute_ops_of(rt, "rk_buffer_create", &ops)) != 0)
        return rc;
    if (bytes == 0)
        return rk__err(RK_EINVAL, "rk_buffer_create: size is 0");
    n = calloc(1, sizeof *n);
    if (n == NULL)
        return rk__err(RK_ENOMEM, "rk_buffer_create: cannot allocate the buffer object");
    n->u.b.rt = rt;
    n->u.b.size = bytes;
    pthread_mutex_lock(&rt->compute_lock);
    rc = ops->buffer_alloc(rt, &n->u.b);
    if (rc == 0)
        rk__node_link(rt, n);
    pthread_mutex_unlock(&rt->compute_lock);
    if (rc != 0) {
        free(n);
        return rc;
    }
    *out = &n->u.b;
    return 0;
}

void rk_buffer_destroy(rk_buffer *b)
{
    rk_runtime *rt;
    struct rk__compute_node *n;

    if (b == NULL)
        return;
    rt = b->rt;
    n = RK__NODE_OF(b, b);
    pthread_mutex_lock(&rt->compute_lock);
    rk__node_unlink(rt, n);
    rt->ops->compute->buffer_free(rt, b);
    pthread_mutex_unlock(&rt->compute_lock);
    free(n);
}

size_t rk_buffer_size(const rk_buffer *b) { return b != NULL ? b->size : 0; }

/* The checks rk_buffer_write and rk_buffer_read share. */
static int rk__buffer_range(const rk_buffer *b, size_t offset, const void *host, size_t bytes, const char *fn)
{
    if (b == NULL)
        return rk__err(RK_EINVAL, "%s: buffer is NULL", fn);
    if (host == NULL && bytes > 0)
        return rk__err(RK_EINVAL, "%s: host pointer is NULL", fn);
    if (offset > b->size || bytes > b->size - offset)
        return rk__err(RK_EINVAL, "%s: %zu bytes at offset %zu run past the end of a %zu-byte buffer", fn, bytes,
                       offset, b->size);
    return 0;
}

int rk_buffer_write(rk_buffer *b, size_t offset, const void *src, size_t bytes)
{
    int rc;

    if ((rc = rk__buffer_range(b, offset, src, bytes, "rk_buffer_write")) != 0)
        return rc;
    pthread_mutex_lock(&b->rt->compute_lock);
    rc = rk__fault_check(b->rt, "rk_buffer_write");
    if (rc == 0 && bytes > 0)
        rc = rk__fault_note(b->rt, b->rt->ops->compute->buffer_write(b->rt, b, offset, src, bytes));
    pthread_mutex_unlock(&b->rt->compute_lock);
    return rc;
}

int rk_buffer_read(const rk_buffer *b, size_t offset, void *dst, size_t bytes)
{
    int rc;

    if ((rc = rk__buffer_range(b, offset, dst, bytes, "rk_buffer_read")) != 0)
        return rc;
    pthread_mutex_lock(&b->rt->compute_lock);
    rc = rk__fault_check(b->rt, "rk_buffer_read");
    if (rc == 0 && bytes > 0)
        rc = rk__fault_note(b->rt, b->rt->ops->compute->buffer_read(b->rt, b, offset, dst, bytes));
    pthread_mutex_unlock(&b->rt->compute_lock);
    return rc;
}

int rk_compute_sync(rk_runtime *rt)
{
    const rk__compute_ops *ops = NULL;
    int rc;

    if ((rc = rk__compute_ops_of(rt, "rk_compute_sync", &ops)) != 0)
        return rc;
    pthread_mutex_lock(&rt->compute_lock);
    rc = rk__fault_check(rt, "rk_compute_sync");
    if (rc == 0)
        rc = rk__fault_note(rt, ops->sync(rt));
    pthread_mutex_unlock(&rt->compute_lock);
    return rc;
}

/* ---- Diagnostics ------------------------------------------------------------------------------------ */

static void rk__log_copy(char *log, size_t cap, const char *text)
{
    if (log != NULL && cap > 0)
        rk__strlcpy(log, text, cap);
}

void rk__compute_log(const rk__build_req *req, const char *text) { rk__log_copy(req->log, req->log_cap, text); }

/* Sets rk_last_error to the first diagnostic of d (its three lines) with code, and copies all of them to
 * the log. */
static int rk__diag_fail(int code, const rk__diags *d, char *log, size_t cap, const char *what)
{
    const char *first = d->buf != NULL ? d->buf : "";
    const char *end = first;

    /* A diagnostic is three lines: the message, the source line and the caret. */
    for (int lines = 0; lines < 3 && *end; lines++) {
        const char *nl = strchr(end, '\n');

        end = nl != NULL ? nl + 1 : end + strlen(end);
    }
    while (end > first && end[-1] == '\n')
        end--;
    rk__log_copy(log, cap, first);
    if (end == first)
        return rk__err(code, "%s: %u error(s) (the diagnostics did not fit in the buffer)", what, d->errors);
    return rk__err(code, "%.*s", (int)(end - first), first);
}

/* The diagnostics buffer: 64 KiB holds hundreds of diagnostics; more are counted, not shown (diag.h). */
#define RK__DIAG_CAP ((size_t)64 << 10)

int rk__compute_emit(const rk__build_req *req, int target, char **text, size_t *len)
{
    rk__source src = { req->name, req->source, (uint32_t)req->len };
    rk__diags d;
    char *buf = malloc(RK__DIAG_CAP);
    int rc;

    *text = NULL;
    if (buf == NULL)
        return rk__err(RK_ENOMEM, "rk_program_create: cannot allocate the diagnostics buffer");
    rk__diag_init(&d, buf, RK__DIAG_CAP);
    rc = rk__emit(req->ir, (rk__target)target, &src, &d, text, len);
    if (rc == RK_EINVAL || (rc != 0 && d.errors > 0))
        rc = rk__diag_fail(RK_ENOTSUP, &d, req->log, req->log_cap, req->name);
    else if (rc == RK_ENOMEM)
        rc = rk__err(RK_ENOMEM, "rk_program_create: out of memory emitting %s", rk__intr_target_name((rk__target)target));
    else if (rc != 0)
        rc = rk__err(rc, "rk_program_create: target %s has no emitter", rk__intr_target_name((rk__target)target));
    free(buf);
    return rc;
}

/* ---- The cache (C4, P3) ----------------------------------------------------------------------------- */

/* A 64-bit hash of n bytes continuing from h: every 8-byte word goes through a full avalanche (splitmix64's
 * finaliser) together with the running state and its position, so a changed byte anywhere changes the
 * whole result. Not cryptographic: it protects against accidents (edits, truncation, bit rot), not forgery. */
static uint64_t rk__hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t i = 0;

    h = rk__mix64(h ^ (uint64_t)n ^ 0x9e3779b97f4a7c15ull);
    for (; n >= 8; n -= 8, p += 8, i++) {
        uint64_t w;

        memcpy(&w, p, 8);
        h = rk__mix64(h ^ w) + (h << 29 | h >> 35) + i;
    }
    if (n > 0) {
        uint64_t w = 0;

        memcpy(&w, p, n);
        h = rk__mix64(h ^ w ^ ((uint64_t)n << 56)) + (h << 29 | h >> 35) + i;
    }
    return rk__mix64(h);
}

rk__cache_key rk__cache_key_make(const char *source, size_t len, const char *target, const char *arch,
                                 const char *compiler)
{
    /* Each part is hashed with its length first (rk__hash_bytes), so "ab"+"c" and "a"+"bc" differ. */
    const char *parts[] = { target, arch, compiler, RK_VERSION_STRING };
    rk__cache_key k = { { 0x243f6a8885a308d3ull, 0x13198a2e03707344ull } };

    for (int s = 0; s < 2; s++) {
        k.h[s] = rk__hash_bytes(k.h[s], source, len);
        for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
            k.h[s] = rk__hash_bytes(k.h[s], parts[i] ? parts[i] : "", parts[i] ? strlen(parts[i]) : 0);
    }
    return k;
}

/* The entry header, in host byte order (the cache is per machine). */
typedef struct rk__cache_hdr {
    char magic[8];      /* "RKCACHE" */
    uint32_t format;    /* RK__CACHE_FORMAT */
    uint32_t hdr_size;  /* sizeof(rk__cache_hdr) */
    uint64_t key[2];
    uint64_t len;       /* payload bytes after the header */
    uint64_t checksum;  /* rk__hash_bytes of the payload with RK__CACHE_SUM_SEED */
} rk__cache_hdr;

#define RK__CACHE_FORMAT 1u
#define RK__CACHE_SUM_SEED 0x452821e638d01377ull
static const char rk__cache_magic[8] = "RKCACHE";

static void rk__cache_path(const char *dir, rk__cache_key key, const char *ext, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%016llx%016llx.%s", dir, (unsigned long long)key.h[0], (unsigned long long)key.h[1],
             ext);
}

int rk__cache_load(const char *dir, rk__cache_key key, const char *ext, void **data, size_t *len, int *rebuilt,
                   char *path, size_t cap)
{
    char p[4096];
    rk__cache_hdr h;
    struct stat st;
    unsigned char *buf = NULL;
    int fd, result = -1;

    *data = NULL;
    *len = 0;
    rk__cache_path(dir, key, ext, p, sizeof p);
    if (path != NULL && cap > 0)
        rk__strlcpy(path, p, cap);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no entry (or unreadable: compiled again, and the store replaces it) */
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof h || read(fd, &h, sizeof h) != (ssize_t)sizeof h)
        goto out;
    if (memcmp(h.magic, rk__cache_magic, sizeof h.magic) != 0 || h.format != RK__CACHE_FORMAT ||
        h.hdr_size != sizeof h || h.key[0] != key.h[0] || h.key[1] != key.h[1] ||
        h.len != (uint64_t)st.st_size - sizeof h || h.len > SIZE_MAX)
        goto out;
    buf = malloc(h.len ? (size_t)h.len : 1);
    if (buf == NULL)
        goto out;
    for (size_t got = 0; got < h.len;) {
        ssize_t r = read(fd, buf + got, (size_t)h.len - got);

        if (r <= 0)
            goto out;
        got += (size_t)r;
    }
    if (rk__hash_bytes(RK__CACHE_SUM_SEED, buf, (size_t)h.len) != h.checksum)
        goto out;
    *data = buf;
    *len = (size_t)h.len;
    buf = NULL;
    result = 1;
out:
    close(fd);
    free(buf);
    if (result < 0 && rebuilt != NULL)
        *rebuilt = 1;
    return result;
}

static int rk__write_all(int fd, const void *data, size_t n)
{
    const char *p = data;

    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int rk__cache_store(const char *dir, rk__cache_key key, const char *ext, const void *data, size_t len)
{
    char path[4096], tmp[4096];
    rk__cache_hdr h;
    int fd;

    memset(&h, 0, sizeof h);
    memcpy(h.magic, rk__cache_magic, sizeof h.magic);
    h.format = RK__CACHE_FORMAT;
    h.hdr_size = sizeof h;
    h.key[0] = key.h[0];
    h.key[1] = key.h[1];
    h.len = len;
    h.checksum = rk__hash_bytes(RK__CACHE_SUM_SEED, data, len);
    rk__cache_path(dir, key, ext, path, sizeof path);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", dir) >= sizeof tmp)
        return rk__err(RK_EIO, "rk_program_create: cache directory path '%s' is too long", dir);
    fd = mkstemp(tmp);
    if (fd < 0)
        return rk__err(RK_EIO, "rk_program_create: cannot create a file in the cache '%s': %s", dir, strerror(errno));
    /* Written whole under a private name, then renamed: a reader sees the old entry or the new one. */
    if (rk__write_all(fd, &h, sizeof h) != 0 || rk__write_all(fd, data, len) != 0) {
        int e = errno;

        close(fd);
        unlink(tmp);
        return rk__err(RK_EIO, "rk_program_create: cannot write the cache entry '%s': %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;

        unlink(tmp);
        return rk__err(RK_EIO, "rk_program_create: cannot store the cache entry '%s': %s", path, strerror(e));
    }
    return 0;
}

/* mkdir -p. Returns 0 or errno. */
static int rk__mkdirs(const char *dir)
{
    char p[4096];
    size_t n = strlen(dir);

    if (n == 0 || n >= sizeof p)
        return ENAMETOOLONG;
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] == '/' || p[i] == '\0') {
            char c = p[i];

            p[i] = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return errno;
            p[i] = c;
        }
    }
    return 0;
}

/*
 * Resolves the cache directory (compute.h rk_program_opts.cache_dir) into buf and creates it. *dir is NULL
 * for "no cache". An explicit directory that cannot be created is an error (RK_EIO); a default one (from
 * the environment) that cannot be is treated as no cache, so a read-only home never stops compilation.
 */
static int rk__cache_dir(const rk_program_opts *opts, char *buf, size_t cap, const char **dir)
{
    const char *env;
    int e;

    *dir = NULL;
    if (opts != NULL && opts->cache_dir != NULL) {
        if (opts->cache_dir[0] == '\0')
            return 0;
        if ((size_t)snprintf(buf, cap, "%s", opts->cache_dir) >= cap)
            return rk__err(RK_EINVAL, "rk_program_create: cache_dir is too long");
        if ((e = rk__mkdirs(buf)) != 0)
            return rk__err(RK_EIO, "rk_program_create: cannot create the cache directory '%s': %s", buf, strerror(e));
        *dir = buf;
        return 0;
    }
    if ((env = getenv("RK_CACHE_DIR")) != NULL && env[0] != '\0')
        snprintf(buf, cap, "%s", env);
    else if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] != '\0')
        snprintf(buf, cap, "%s/ringkernel", env);
    else if ((env = getenv("HOME")) != NULL && env[0] != '\0')
        snprintf(buf, cap, "%s/.cache/ringkernel", env);
    else
        return 0;
    if (rk__mkdirs(buf) == 0)
        *dir = buf;
    return 0;
}

/* ---- Programs --------------------------------------------------------------------------------------- */

/* The C-layout size of t (what one element of a buffer of t occupies on every target's host side). */
static uint32_t rk__ty_size(const rk__ty *t)
{
    switch (t->kind) {
    case RK_TY_BOOL:
        return 1;
    case RK_TY_I32:
    case RK_TY_U32:
    case RK_TY_F32:
        return 4;
    case RK_TY_I64:
    case RK_TY_U64:
    case RK_TY_F64:
        return 8;
    case RK_TY_VEC:
    case RK_TY_ARRAY:
        return t->len * rk__ty_size(t->elem);
    case RK_TY_STRUCT:
        return t->st->size;
    default:
        return 0;
    }
}

static const char *rk__arg_kind_name(rk_arg_kind k)
{
    static const char *const names[] = { [RK_ARG_BUFFER] = "a buffer", [RK_ARG_BOOL] = "bool", [RK_ARG_I32] = "i32",
                                         [RK_ARG_U32] = "u32", [RK_ARG_I64] = "i64", [RK_ARG_U64] = "u64",
                                         [RK_ARG_F32] = "f32", [RK_ARG_F64] = "f64" };

    return (unsigned)k < sizeof names / sizeof names[0] && names[k] ? names[k] : "an unknown kind";
}

/* The rk_arg kind of a kernel parameter of type t; 0 when rk_arg cannot pass it. */
static rk_arg_kind rk__param_kind(const rk__ty *t)
{
    switch (t->kind) {
    case RK_TY_PTR:
        return t->space == RK_AS_GLOBAL || t->space == RK_AS_CONSTANT ? RK_ARG_BUFFER : 0;
    case RK_TY_BOOL:
        return RK_ARG_BOOL;
    case RK_TY_I32:
        return RK_ARG_I32;
    case RK_TY_U32:
        return RK_ARG_U32;
    case RK_TY_I64:
        return RK_ARG_I64;
    case RK_TY_U64:
        return RK_ARG_U64;
    case RK_TY_F32:
        return RK_ARG_F32;
    case RK_TY_F64:
        return RK_ARG_F64;
    default:
        return 0;
    }
}

/* Fills p's kernel table from the module: global and stencil kernels; ring kernels' names into *rings. */
static int rk__kernel_table(rk_program *p, const rk__ir_module *m, const char *name, char **rings, char *log,
                            size_t log_cap)
{
    uint32_t n = 0;
    size_t rlen = 1;
    char *r;

    for (const rk__ir_func *f = m->funcs; f; f = f->next) {
        n += f->kind == RK_KK_GLOBAL || f->kind == RK_KK_STENCIL;
        rlen += f->kind == RK_KK_RING ? f->name.len + 1 : 0;
    }
    p->kernels = calloc(n ? n : 1, sizeof *p->kernels);
    *rings = r = calloc(1, rlen);
    if (p->kernels == NULL || r == NULL)
        return rk__err(RK_ENOMEM, "rk_program_create: cannot allocate the kernel table");
    for (const rk__ir_func *f = m->funcs; f; f = f->next) {
        rk__compute_kernel *k;

        if (f->kind == RK_KK_RING) {
            memcpy(r, f->name.ptr, f->name.len);
            r += f->name.len + 1;
            continue;
        }
        if (f->kind != RK_KK_GLOBAL && f->kind != RK_KK_STENCIL)
            continue;
        k = &p->kernels[p->nkernels++];
        if (f->name.len >= sizeof k->name)
            return rk__err(RK_EINVAL, "%s:%u:%u: error: kernel name '%.*s' is longer than %zu bytes", name,
                           f->pos.line, f->pos.col, (int)f->name.len, f->name.ptr, sizeof k->name - 1);
        memcpy(k->name, f->name.ptr, f->name.len);
        k->stencil = f->kind == RK_KK_STENCIL;
        memcpy(k->workgroup, f->workgroup, sizeof k->workgroup);
        k->radius = f->radius;
        k->dims = f->dims;
        k->ir = f;
        k->nparams = f->nparams;
        k->params = calloc(f->nparams ? f->nparams : 1, sizeof *k->params);
        if (k->params == NULL)
            return rk__err(RK_ENOMEM, "rk_program_create: cannot allocate the kernel table");
        for (uint32_t i = 0; i < f->nparams; i++) {
            const rk__ir_var *v = f->params[i];
            rk__compute_param *q = &k->params[i];

            snprintf(q->name, sizeof q->name, "%.*s", (int)v->name.len, v->name.ptr);
            q->kind = rk__param_kind(v->type);
            if (q->kind == 0) {
                char ty[64];
                int rc;

                rk__ty_name(v->type, ty, sizeof ty);
                rc = rk__err(RK_ENOTSUP,
                             "%s:%u:%u: error: kernel '%s': parameter '%s' of type %s cannot be passed to a launch "
                             "(rk_arg takes global buffers and scalars)",
                             name, f->pos.line, f->pos.col, k->name, q->name, ty);
                rk__log_copy(log, log_cap, rk_last_error());
                return rc;
            }
            if (q->kind == RK_ARG_BUFFER) {
                q->elem_size = rk__ty_size(v->type->elem);
                q->writes = (v->access & (RK_ACC_WRITE | RK_ACC_ATOMIC)) != 0;
            }
        }
    }
    return 0;
}

static double rk__now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int rk_program_create(rk_runtime *rt, const char *source, size_t len, const rk_program_opts *opts,
                      rk_program **out)
{
    const rk__compute_ops *ops = NULL;
    const char *name = opts != NULL && opts->name != NULL ? opts->name : "<source>";
    char *log = opts != NULL ? opts->log : NULL, *diag = NULL;
    size_t log_cap = opts != NULL ? opts->log_cap : 0;
    struct rk__compute_node *n = NULL;
    rk__ast ast = { 0 };
    rk__ir_module mod = { 0 };
    rk__diags d;
    char dirbuf[4096];
    const char *dir;
    double t0 = rk__now_ms();
    int rc;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_program_create: out is NULL");
    *out = NULL;
    if ((rc = rk__compute_ops_of(rt, "rk_program_create", &ops)) != 0)
        return rc;
    if (source == NULL)
        return rk__err(RK_EINVAL, "rk_program_create: source is NULL");
    rk__log_copy(log, log_cap, "");
    if ((rc = rk__cache_dir(opts, dirbuf, sizeof dirbuf, &dir)) != 0)
        return rc;
    diag = malloc(RK__DIAG_CAP);
    n = calloc(1, sizeof *n);
    if (diag == NULL || n == NULL) {
        rc = rk__err(RK_ENOMEM, "rk_program_create: out of memory");
        goto fail;
    }
    n->is_program = 1;
    n->u.p.rt = rt;

    /* The pipeline of `ringkernel codegen`: parse, check the language, then check it for the target. */
    rk__diag_init(&d, diag, RK__DIAG_CAP);
    if ((rc = rk__parse(&ast, name, source, len, &d, 0)) != 0) {
        rc = rk__err(rc, "rk_program_create: %s: cannot parse (%s)", name, rk_err_name(rc));
        goto fail;
    }
    if (d.errors > 0) {
        rc = rk__diag_fail(RK_EINVAL, &d, log, log_cap, name);
        goto fail;
    }
    if ((rc = rk__check(&ast, 0, &d, &mod, 0)) != 0) {
        rc = rk__err(rc, "rk_program_create: %s: cannot check (%s)", name, rk_err_name(rc));
        goto fail;
    }
    if (d.errors > 0) {
        rc = rk__diag_fail(RK_EINVAL, &d, log, log_cap, name);
        goto fail;
    }
    rk__ir_free(&mod);
    if ((rc = rk__check(&ast, RK__TGT_BIT(ops->target), &d, &mod, 0)) != 0) {
        rc = rk__err(rc, "rk_program_create: %s: cannot check (%s)", name, rk_err_name(rc));
        goto fail;
    }
    if (d.errors > 0) {
        /* The language is fine (checked above): what is left is what this target cannot do. */
        rc = rk__diag_fail(RK_ENOTSUP, &d, log, log_cap, name);
        goto fail;
    }
    if ((rc = rk__kernel_table(&n->u.p, &mod, name, &n->rings, log, log_cap)) != 0)
        goto fail;
    /* Ring kernels are actors (rk_kernel_launch), not part of a compute program: the backend never sees
     * them, so their runtime headers (actor.h) are not needed to build the program. */
    for (rk__ir_func **pf = &mod.funcs; *pf != NULL;) {
        if ((*pf)->kind == RK_KK_RING)
            *pf = (*pf)->next;
        else
            pf = &(*pf)->next;
    }

    {
        rk__build_req req = { .ir = &mod, .name = name, .source = source, .len = len, .cache_dir = dir,
                              .log = log, .log_cap = log_cap };

        pthread_mutex_lock(&rt->compute_lock);
        rc = ops->program_build(rt, &n->u.p, &req);
        if (rc == 0)
            rk__node_link(rt, n);
        pthread_mutex_unlock(&rt->compute_lock);
        if (rc != 0)
            goto fail;
    }
    for (uint32_t i = 0; i < n->u.p.nkernels; i++)
        n->u.p.kernels[i].ir = NULL; /* the module is freed below */
    n->u.p.info.kernels = n->u.p.nkernels;
    n->u.p.info.build_ms = rk__now_ms() - t0;
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    free(diag);
    *out = &n->u.p;
    return 0;

fail:
    if (n != NULL) {
        for (uint32_t i = 0; n->u.p.kernels != NULL && i < n->u.p.nkernels; i++)
            free(n->u.p.kernels[i].params);
        free(n->u.p.kernels);
        free(n->rings);
        free(n);
    }
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    free(diag);
    return rc;
}

int rk_program_create_file(rk_runtime *rt, const char *path, const rk_program_opts *opts, rk_program **out)
{
    rk_program_opts o = opts != NULL ? *opts : (rk_program_opts){ 0 };
    FILE *f;
    char *text = NULL;
    size_t n = 0, cap = 0;
    int rc;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_program_create_file: out is NULL");
    *out = NULL;
    if (path == NULL)
        return rk__err(RK_EINVAL, "rk_program_create_file: path is NULL");
    f = fopen(path, "rb");
    if (f == NULL)
        return rk__err(RK_EIO, "rk_program_create_file: cannot open '%s': %s", path, strerror(errno));
    for (;;) {
        size_t r;

        if (n == cap) {
            char *t = realloc(text, cap = cap ? cap * 2 : 4096);

            if (t == NULL) {
                fclose(f);
                free(text);
                return rk__err(RK_ENOMEM, "rk_program_create_file: cannot read '%s': out of memory", path);
            }
            text = t;
        }
        r = fread(text + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        fclose(f);
        free(text);
        return rk__err(RK_EIO, "rk_program_create_file: cannot read '%s'", path);
    }
    fclose(f);
    if (o.name == NULL)
        o.name = path;
    rc = rk_program_create(rt, text, n, &o, out);
    free(text);
    return rc;
}

void rk_program_destroy(rk_program *p)
{
    rk_runtime *rt;
    struct rk__compute_node *n;

    if (p == NULL)
        return;
    rt = p->rt;
    n = RK__NODE_OF(p, p);
    pthread_mutex_lock(&rt->compute_lock);
    rk__node_unlink(rt, n);
    rk__program_release(rt, n);
    pthread_mutex_unlock(&rt->compute_lock);
}

int rk_program_info_get(const rk_program *p, rk_program_info *info)
{
    if (p == NULL || info == NULL)
        return rk__err(RK_EINVAL, "rk_program_info_get: NULL %s", p == NULL ? "program" : "info");
    *info = p->info;
    return 0;
}

/* ---- Launches --------------------------------------------------------------------------------------- */

/* Checks the arguments of a launch of k (C1). */
static int rk__check_args(rk_runtime *rt, const rk__compute_kernel *k, const uint32_t size[3], const rk_arg *args,
                          size_t nargs)
{
    if (nargs != k->nparams) {
        char list[512] = "";
        size_t at = 0;

        for (uint32_t i = 0; i < k->nparams && at < sizeof list; i++)
            at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", k->params[i].name);
        return rk__err(RK_EINVAL, "%s: %zu argument(s) given, the kernel takes %u (%s)", k->name, nargs, k->nparams,
                       list);
    }
    if (nargs > 0 && args == NULL)
        return rk__err(RK_EINVAL, "%s: args is NULL", k->name);
    for (uint32_t i = 0; i < k->nparams; i++) {
        const rk__compute_param *q = &k->params[i];

        if (args[i].kind != q->kind)
            return rk__err(RK_EINVAL, "%s: argument %u '%s' is %s, got %s", k->name, i + 1, q->name,
                           rk__arg_kind_name(q->kind), rk__arg_kind_name(args[i].kind));
        if (q->kind != RK_ARG_BUFFER)
            continue;
        if (args[i].v.buf == NULL)
            return rk__err(RK_EINVAL, "%s: argument %u '%s': the buffer is NULL", k->name, i + 1, q->name);
        if (args[i].v.buf->rt != rt)
            return rk__err(RK_EINVAL, "%s: argument %u '%s': the buffer belongs to another runtime", k->name, i + 1,
                           q->name);
        if (k->stencil) {
            size_t need;

            if (__builtin_mul_overflow((size_t)size[0] * size[1], size[2], &need) ||
                __builtin_mul_overflow(need, (size_t)q->elem_size, &need) || args[i].v.buf->size < need)
                return rk__err(RK_EINVAL,
                               "%s: argument %u '%s': the buffer holds %zu bytes, the %ux%ux%u grid needs %u per "
                               "point",
                               k->name, i + 1, q->name, args[i].v.buf->size, size[0], size[1], size[2], q->elem_size);
        }
    }
    return 0;
}

/* The launch geometry of k over size (compute.h rk_program_launch), checked against ops->max_groups. */
static int rk__launch_geometry(const rk__compute_ops *ops, const rk__compute_kernel *k, const uint32_t size[3],
                               rk__launch_geom *g)
{
    uint64_t items = 1;

    for (int a = 0; a < 3; a++) {
        uint32_t n = size[a], wg = k->workgroup[a] ? k->workgroup[a] : 1; /* the checker never leaves 0 */

        if (k->stencil) {
            uint32_t r = a < (int)k->dims ? k->radius : 0;

            if (a == 2 && k->dims == 2 && size[2] != 1)
                return rk__err(RK_EINVAL, "%s: a 2D stencil's grid has nz = 1, got %u", k->name, size[2]);
            if (n <= 2 * r)
                return rk__err(RK_EINVAL, "%s: the %ux%ux%u grid has no interior for radius %u", k->name, size[0],
                               size[1], size[2], k->radius);
            n -= 2 * r;
        }
        g->groups[a] = n / wg + (n % wg != 0);
        g->grid[a] = size[a];
        items *= (uint64_t)g->groups[a] * wg;
        if (ops->max_groups[a] != 0 && g->groups[a] > ops->max_groups[a])
            return rk__err(RK_EOVERFLOW, "%s: %u workgroups on axis %c, the device takes at most %u", k->name,
                           g->groups[a], "xyz"[a], ops->max_groups[a]);
    }
    /* global_id() is a u32 (DSL.md); a stencil's points are addressed per axis. */
    if (!k->stencil && items > UINT32_MAX)
        return rk__err(RK_EOVERFLOW, "%s: %llu work-items exceed the 2^32 that global_id() can index", k->name,
                       (unsigned long long)items);
    return 0;
}

int rk_program_launch(rk_program *p, const char *kernel, const uint32_t size[3], const rk_arg *args, size_t nargs)
{
    const rk__compute_kernel *k = NULL;
    const struct rk__compute_node *n;
    rk__launch_geom g;
    rk_runtime *rt;
    int rc;

    if (p == NULL || kernel == NULL || size == NULL)
        return rk__err(RK_EINVAL, "rk_program_launch: NULL %s", p == NULL ? "program" : kernel == NULL ? "kernel" : "size");
    rt = p->rt;
    n = RK__NODE_OF(p, p);
    for (uint32_t i = 0; i < p->nkernels && k == NULL; i++)
        if (strcmp(p->kernels[i].name, kernel) == 0)
            k = &p->kernels[i];
    if (k == NULL) {
        for (const char *r = n->rings; r != NULL && *r; r += strlen(r) + 1)
            if (strcmp(r, kernel) == 0)
                return rk__err(RK_EINVAL,
                               "rk_program_launch: '%s' is a ring kernel: launch it as an actor (rk_kernel_launch), "
                               "not as a compute kernel",
                               kernel);
        return rk__err(RK_EINVAL, "rk_program_launch: the program has no global or stencil kernel '%s'", kernel);
    }
    if (size[0] == 0 || size[1] == 0 || size[2] == 0)
        return rk__err(RK_EINVAL, "%s: size %ux%ux%u has a zero axis", k->name, size[0], size[1], size[2]);
    if ((rc = rk__check_args(rt, k, size, args, nargs)) != 0)
        return rc;
    if ((rc = rk__launch_geometry(rt->ops->compute, k, size, &g)) != 0)
        return rc;
    pthread_mutex_lock(&rt->compute_lock);
    rc = rk__fault_check(rt, "rk_program_launch");
    if (rc == 0)
        rc = rk__fault_note(rt, rt->ops->compute->launch(rt, p, k, &g, args));
    pthread_mutex_unlock(&rt->compute_lock);
    return rc;
}
