/* cpu_compute.c - the CPU backend's compute kernels (compute_internal.h's rk__compute_ops).
 *
 * A program is the module emitted as portable C (emit_c.c), compiled by the system C compiler ($RK_CC,
 * else cc) into a shared object, stored in the cache (the payload is the .so's bytes) and loaded with
 * dlopen. Each global or stencil kernel K is reached through K__rk_entry(const rk_grid *, void *const *),
 * the emitter's one-signature entry.
 *
 * Launches run synchronously: rk_program_launch returns when the kernel has run, so launch order and the
 * visibility of one launch's writes to the next hold trivially (C2), and sync has nothing to wait for. A
 * launch splits its range (global kernels: linear workgroups; stencils: z-planes, 2D ones rows) into
 * chunks that a small pool of threads and the calling thread take from one atomic counter; the pool is
 * started at the first launch, sized by rk_runtime_opts.workers (else the online cores), and stopped by
 * the backend's destroy.
 *
 * Buffers are host memory aligned to 64 bytes (posix_memalign), zeroed.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "backend/cpu/cpu_internal.h"
#include "codegen/intrinsics.h"
#include "core/compute_internal.h"
#include "core/internal.h"
#include "core/proc.h"


/* The emitted prelude's rk_grid (emit_c.c), field for field. */
typedef struct rk_grid {
    uint32_t groups[3];
    uint32_t first, last;
    uint32_t size[3];
} rk_grid;

typedef int (*rk__cpu_entry)(const rk_grid *g, void *const *args);

/*
 * The flags every program is compiled with (part of the cache key). A sanitizer build of the library builds
 * its kernels with the same sanitizer, whose runtime is already in the process: a kernel's out-of-bounds
 * access (ASan) or data race (TSan) is then reported like the library's own, instead of being invisible
 * in uninstrumented code loaded into an instrumented process.
 */
static const char *const rk__cc_flags[] = {
    "-std=c11", "-O2", "-fPIC", "-shared", "-pthread", "-w",
#if defined(__SANITIZE_ADDRESS__)
    "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
#elif defined(__SANITIZE_THREAD__)
    "-fsanitize=thread", "-fno-omit-frame-pointer",
#endif
    NULL
};

/* ---- The launch pool -------------------------------------------------------------------------------- */

/* One launch as the pool runs it. */
typedef struct rk__cpu_job {
    rk__cpu_entry entry;
    rk_grid grid;                 /* first/last are set per chunk */
    void *const *args;
    uint32_t total, chunk;        /* units (groups, planes or rows) and how many one take gets */
    _Atomic uint32_t next;        /* the next unit to take */
    _Atomic int failed;           /* an entry returned nonzero */
} rk__cpu_job;

typedef struct rk__cpu_compute {
    pthread_mutex_t lock;
    pthread_cond_t work_cv, done_cv;
    pthread_t *threads;
    uint32_t nthreads;            /* pool threads; the launching thread is one more worker */
    uint64_t generation;          /* bumped per job, under lock */
    uint32_t busy;                /* pool threads still inside the current job, under lock */
    int stop;
    rk__cpu_job *job;             /* under lock */
} rk__cpu_compute;

static void rk__cpu_job_run(rk__cpu_job *j)
{
    for (;;) {
        uint32_t first = atomic_fetch_add_explicit(&j->next, j->chunk, memory_order_relaxed);
        rk_grid g = j->grid;

        if (first >= j->total)
            return;
        g.first = first;
        g.last = j->total - first < j->chunk ? j->total : first + j->chunk;
        if (j->entry(&g, j->args) != 0)
            atomic_store_explicit(&j->failed, 1, memory_order_relaxed);
    }
}

static void *rk__cpu_compute_worker(void *arg)
{
    rk__cpu_compute *c = arg;
    uint64_t seen = 0;

    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (!c->stop && c->generation == seen)
            pthread_cond_wait(&c->work_cv, &c->lock);
        if (c->stop)
            break;
        seen = c->generation;
        {
            rk__cpu_job *j = c->job;

            pthread_mutex_unlock(&c->lock);
            rk__cpu_job_run(j);
            pthread_mutex_lock(&c->lock);
        }
        if (--c->busy == 0)
            pthread_cond_signal(&c->done_cv);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void rk__cpu_compute_stop(rk__cpu_compute *c)
{
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_broadcast(&c->work_cv);
    pthread_mutex_unlock(&c->lock);
    for (uint32_t i = 0; i < c->nthreads; i++)
        pthread_join(c->threads[i], NULL);
    pthread_cond_destroy(&c->done_cv);
    pthread_cond_destroy(&c->work_cv);
    pthread_mutex_destroy(&c->lock);
    free(c->threads);
    free(c);
}

void rk__cpu_compute_destroy(rk_runtime *rt)
{
    if (rt->compute_data != NULL)
        rk__cpu_compute_stop(rt->compute_data);
    rt->compute_data = NULL;
}

/* The pool of rt, started at the first launch (under compute_lock, C3). */
static int rk__cpu_compute_get(rk_runtime *rt, rk__cpu_compute **out)
{
    uint32_t n = rt->opts.workers ? rt->opts.workers : (uint32_t)rk__cpu_count();
    rk__cpu_compute *c = rt->compute_data;
    int err;

    if (c != NULL) {
        *out = c;
        return 0;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->threads = calloc(n, sizeof *c->threads)) == NULL) {
        free(c);
        return rk__err(RK_ENOMEM, "rk_program_launch: cannot allocate the CPU compute pool");
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->work_cv, NULL);
    pthread_cond_init(&c->done_cv, NULL);
    for (c->nthreads = 0; c->nthreads + 1 < n; c->nthreads++) {
        if ((err = pthread_create(&c->threads[c->nthreads], NULL, rk__cpu_compute_worker, c)) != 0) {
            rk__cpu_compute_stop(c);
            return rk__err(RK_EBACKEND, "rk_program_launch: starting a compute thread failed: %s", strerror(err));
        }
    }
    rt->compute_data = c;
    *out = c;
    return 0;
}

/* ---- Buffers ---------------------------------------------------------------------------------------- */

static int rk__cpu_buffer_alloc(rk_runtime *rt, rk_buffer *b)
{
    void *p;

    (void)rt;
    /* Exactly b->size bytes, so that under ASan a kernel reading one element past the end is reported. */
    if (posix_memalign(&p, 64, b->size) != 0)
        p = NULL;
    else
        memset(p, 0, b->size);
    if (p == NULL)
        return rk__err(RK_ENOMEM, "rk_buffer_create: cannot allocate %zu bytes", b->size);
    b->impl = p;
    return 0;
}

static void rk__cpu_buffer_free(rk_runtime *rt, rk_buffer *b)
{
    (void)rt;
    free(b->impl);
    b->impl = NULL;
}

static int rk__cpu_buffer_write(rk_runtime *rt, rk_buffer *b, size_t off, const void *src, size_t n)
{
    (void)rt;
    memcpy((char *)b->impl + off, src, n);
    return 0;
}

static int rk__cpu_buffer_read(rk_runtime *rt, const rk_buffer *b, size_t off, void *dst, size_t n)
{
    (void)rt;
    memcpy(dst, (const char *)b->impl + off, n);
    return 0;
}

/* ---- The C compiler --------------------------------------------------------------------------------- */

static const char *rk__cc(void) { return rk__tool("RK_CC", "cc"); }

/* The compiler's identity for the cache key: its name, the first line of `cc --version` and the flags.
 * RK_ENODEV when it cannot be run. */
static int rk__cc_identity(const char *cc, const char *scratch, char *out, size_t cap)
{
    int rc = rk__tool_identity(cc, "C compiler for the CPU backend", "install one or set RK_CC", scratch, out, cap);

    for (int i = 0; rc == 0 && rk__cc_flags[i] != NULL; i++) {
        size_t at = strlen(out);

        snprintf(out + at, cap - at, " %s", rk__cc_flags[i]);
    }
    return rc;
}

/* Compiles the C text into a shared object; its bytes in *so (malloc'd). RK_EBACKEND with the log. */
static int rk__cc_build(const rk__build_req *req, const char *cc, const char *scratch, const char *text, size_t len,
                        void **so, size_t *so_len)
{
    char src[4200], lib[4200], log[4200];
    char *argv[32];
    int argc = 0, st, rc = 0;

    snprintf(src, sizeof src, "%s/program.c", scratch);
    snprintf(lib, sizeof lib, "%s/program.so", scratch);
    snprintf(log, sizeof log, "%s/cc.log", scratch);
    if (rk__file_put(src, text, len) != 0)
        return rk__err(RK_EIO, "rk_program_create: cannot write '%s': %s", src, strerror(errno));
    argv[argc++] = (char *)cc;
    for (int i = 0; rk__cc_flags[i] != NULL; i++)
        argv[argc++] = (char *)rk__cc_flags[i];
    argv[argc++] = "-o";
    argv[argc++] = lib;
    argv[argc++] = src;
    argv[argc++] = "-lm";
    argv[argc] = NULL;
    st = rk__proc_run(argv, log);
    if (st < 0) {
        rc = rk__err(RK_ENODEV, "rk_program_create: cannot run the C compiler '%s': %s", cc, strerror(errno));
    } else if (st != 0) {
        size_t n = 0;
        char *out = rk__file_slurp(log, &n);

        rk__compute_log(req, out != NULL ? out : "(no compiler output)");
        rc = rk__err(RK_EBACKEND, "rk_program_create: %s: the C compiler '%s' failed (exit %d): %.120s", req->name, cc,
                     st, out != NULL ? out : "");
        free(out);
    } else if ((*so = rk__file_slurp(lib, so_len)) == NULL) {
        rc = rk__err(RK_EIO, "rk_program_create: cannot read the compiled '%s'", lib);
    }
    unlink(src);
    unlink(lib);
    unlink(log);
    return rc;
}

/* Loads the shared object's bytes: written to a private file, dlopen'd, unlinked (the mapping stays). */
static int rk__so_load(const char *scratch, const void *so, size_t len, void **handle)
{
    char path[4200];
    int fd;

    snprintf(path, sizeof path, "%s/load-XXXXXX.so", scratch);
    fd = mkstemps(path, 3);
    if (fd < 0)
        return rk__err(RK_EIO, "rk_program_create: cannot create '%s': %s", path, strerror(errno));
    close(fd);
    if (rk__file_put(path, so, len) != 0) {
        unlink(path);
        return rk__err(RK_EIO, "rk_program_create: cannot write '%s': %s", path, strerror(errno));
    }
    *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    unlink(path);
    if (*handle == NULL)
        return rk__err(RK_EBACKEND, "rk_program_create: dlopen of the compiled program failed: %s", dlerror());
    return 0;
}

/* ---- Programs --------------------------------------------------------------------------------------- */

static int rk__cpu_program_build(rk_runtime *rt, rk_program *p, const rk__build_req *req)
{
    const char *cc = rk__cc();
    char scratch[4096], ident[1024];
    char *text = NULL;
    void *so = NULL, *handle = NULL;
    size_t len = 0, so_len = 0;
    struct utsname u;
    rk__cache_key key;
    int rc, hit = 0, rebuilt = 0;

    (void)rt;
    if (uname(&u) != 0)
        snprintf(u.machine, sizeof u.machine, "unknown");
    rk__strlcpy(p->info.target, "c", sizeof p->info.target);
    rk__strlcpy(p->info.arch, u.machine, sizeof p->info.arch);
    if ((rc = rk__scratch_dir("rk-cc", scratch, sizeof scratch)) != 0)
        return rc;
    /* The compiler must exist even when the cache holds the program: its version is part of the key. */
    if ((rc = rk__cc_identity(cc, scratch, ident, sizeof ident)) != 0)
        goto out;
    /* The key hashes the emitted C rather than the .rk text: it is the compiler's real input, so a
     * change of the emitter (same library version, a development build) cannot load a stale object.
     * Emitting costs well under a millisecond; the compiler is what the cache saves. */
    if ((rc = rk__compute_emit(req, RK_TGT_C, &text, &len)) != 0)
        goto out;
    key = rk__cache_key_make(text, len, "c", u.machine, ident);
    if (req->cache_dir != NULL) {
        hit = rk__cache_load(req->cache_dir, key, "so", &so, &so_len, &rebuilt, p->info.cache_path,
                             sizeof p->info.cache_path);
        if (hit == 1 && rk__so_load(scratch, so, so_len, &handle) != 0) {
            /* Checksummed but unloadable (another libc, a truncated write before checksumming): rebuild. */
            free(so);
            so = NULL;
            hit = -1;
            rebuilt = 1;
        }
    }
    if (hit != 1) {
        if ((rc = rk__cc_build(req, cc, scratch, text, len, &so, &so_len)) != 0)
            goto out;
        if ((rc = rk__so_load(scratch, so, so_len, &handle)) != 0)
            goto out;
        if (req->cache_dir != NULL && (rc = rk__cache_store(req->cache_dir, key, "so", so, so_len)) != 0)
            goto out;
    }
    for (uint32_t i = 0; i < p->nkernels; i++) {
        char sym[96];

        snprintf(sym, sizeof sym, "%s__rk_entry", p->kernels[i].name);
        *(void **)&p->kernels[i].impl = dlsym(handle, sym);
        if (p->kernels[i].impl == NULL) {
            rc = rk__err(RK_EBACKEND, "rk_program_create: the compiled program has no '%s'", sym);
            goto out;
        }
    }
    p->impl = handle;
    handle = NULL;
    p->info.from_cache = hit == 1;
    p->info.cache_rebuilt = rebuilt;
    if (req->cache_dir == NULL)
        p->info.cache_path[0] = '\0';
    rc = 0;
out:
    if (handle != NULL)
        dlclose(handle);
    free(text);
    free(so);
    rmdir(scratch);
    return rc;
}

static void rk__cpu_program_free(rk_runtime *rt, rk_program *p)
{
    (void)rt;
    if (p->impl != NULL)
        dlclose(p->impl);
    p->impl = NULL;
}

/* ---- Launches --------------------------------------------------------------------------------------- */

/* The values the emitted entry reads that rk_arg does not hold as such (emit_c.c: a buffer parameter is its
 * pointer, bool is bool); every other kind is read from the rk_arg's own union member. */
typedef union rk__cpu_val {
    void *ptr;
    bool b;
} rk__cpu_val;

static int rk__cpu_launch(rk_runtime *rt, rk_program *p, const rk__compute_kernel *k, const rk__launch_geom *g,
                          const rk_arg *args)
{
    rk__cpu_val small[16], *vals = small;
    void *ptrs_small[16], **ptrs = ptrs_small;
    rk__cpu_compute *c = NULL;
    rk__cpu_job job;
    int rc = 0;

    (void)p;
    if (k->nparams > 16) {
        vals = calloc(k->nparams, sizeof *vals);
        ptrs = calloc(k->nparams, sizeof *ptrs);
        if (vals == NULL || ptrs == NULL) {
            rc = rk__err(RK_ENOMEM, "rk_program_launch: cannot allocate %u arguments", k->nparams);
            goto out;
        }
    }
    for (uint32_t i = 0; i < k->nparams; i++) {
        if (args[i].kind == RK_ARG_BUFFER) {
            vals[i].ptr = args[i].v.buf->impl;
            ptrs[i] = &vals[i].ptr;
        } else if (args[i].kind == RK_ARG_BOOL) {
            vals[i].b = args[i].v.b != 0;
            ptrs[i] = &vals[i].b;
        } else {
            ptrs[i] = (void *)&args[i].v; /* every member starts at the union's address; read only */
        }
    }
    if ((rc = rk__cpu_compute_get(rt, &c)) != 0)
        goto out;
    memset(&job, 0, sizeof job);
    job.entry = (rk__cpu_entry)k->impl;
    job.args = ptrs;
    memcpy(job.grid.groups, g->groups, sizeof job.grid.groups);
    memcpy(job.grid.size, g->grid, sizeof job.grid.size);
    /* Stencils are split by z-planes, 2D ones by rows (emit_c.c); global kernels by linear workgroups. */
    job.total = !k->stencil ? g->groups[0] * g->groups[1] * g->groups[2] : k->dims == 2 ? g->grid[1] : g->grid[2];
    /* About four chunks per worker: enough to even out uneven chunks, few enough to keep takes cheap. */
    job.chunk = job.total / ((c->nthreads + 1) * 4);
    if (job.chunk == 0)
        job.chunk = 1;
    atomic_init(&job.next, 0);
    atomic_init(&job.failed, 0);
    if (c->nthreads > 0 && job.total > job.chunk) {
        pthread_mutex_lock(&c->lock);
        c->job = &job;
        c->busy = c->nthreads;
        c->generation++;
        pthread_cond_broadcast(&c->work_cv);
        pthread_mutex_unlock(&c->lock);
        rk__cpu_job_run(&job);
        pthread_mutex_lock(&c->lock);
        while (c->busy > 0)
            pthread_cond_wait(&c->done_cv, &c->lock);
        c->job = NULL;
        pthread_mutex_unlock(&c->lock);
    } else {
        rk__cpu_job_run(&job);
    }
    if (atomic_load_explicit(&job.failed, memory_order_relaxed))
        rc = rk__err(RK_EFAULT, "rk_program_launch: %s: the kernel could not get its threads or memory", k->name);
out:
    if (vals != small)
        free(vals);
    if (ptrs != ptrs_small)
        free(ptrs);
    return rc;
}

static int rk__cpu_sync(rk_runtime *rt)
{
    (void)rt;
    return 0; /* launches run to completion before rk_program_launch returns */
}

const rk__compute_ops rk__cpu_compute_ops = {
    .buffer_alloc = rk__cpu_buffer_alloc,
    .buffer_free = rk__cpu_buffer_free,
    .buffer_write = rk__cpu_buffer_write,
    .buffer_read = rk__cpu_buffer_read,
    .program_build = rk__cpu_program_build,
    .program_free = rk__cpu_program_free,
    .launch = rk__cpu_launch,
    .sync = rk__cpu_sync,
    .max_groups = { 0, 0, 0 },
    .target = RK_TGT_C,
};
