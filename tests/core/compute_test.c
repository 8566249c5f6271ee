/* compute_test.c - compute.h on the CPU backend: the core's checks (buffers, arguments, geometry, ring
 * kernels, diagnostics), the compiler paths (missing compiler, failing compiler), the on-disk cache (hit,
 * corrupt and truncated entries rebuilt, foreign entries, no cache), and runtime destroy with live
 * programs and buffers. What the kernels compute is tests/compute/compute_conformance.c's job.
 *
 * Every test uses its own cache directory under $TMPDIR (removed at the end), never the user's cache.
 * In the ASan and TSan trees the kernels that cc builds are instrumented too (cpu_compute.c adds the
 * library's sanitizer to the compiler flags), so the sanitizers see inside them, not only the library.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "codegen/dsl_examples.h"
#include "core/compute_internal.h"
#include "ringkernel/compute.h"
#include "ringkernel/ringkernel.h"

typedef struct fixture {
    rk_runtime *rt;
    char dir[256];   /* this test's cache directory */
    char log[8192];
    rk_program_opts opts;
} fixture;

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rm_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "%s/rk-compute-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    if (rk_runtime_create(&f->rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 2 }) != 0)
        return -1;
    f->opts = (rk_program_opts){ .name = "test.rk", .cache_dir = f->dir, .log = f->log, .log_cap = sizeof f->log };
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    if (f->rt != NULL)
        assert_int_equal(rk_runtime_destroy(f->rt), 0);
    rm_tree(f->dir);
    free(f);
    return 0;
}

static rk_program *make(fixture *f, const char *src)
{
    rk_program *p = NULL;
    int rc = rk_program_create(f->rt, src, strlen(src), &f->opts, &p);

    if (rc != 0)
        fail_msg("rk_program_create: %s: %s\n%s", rk_err_name(rc), rk_last_error(), f->log);
    return p;
}

/* ---- Buffers ---------------------------------------------------------------------------------------- */

static void test_buffer_errors(void **state)
{
    fixture *f = *state;
    rk_buffer *b = NULL;
    char host[64] = { 1 };

    assert_int_equal(rk_buffer_create(NULL, 16, &b), RK_EINVAL);
    assert_int_equal(rk_buffer_create(f->rt, 16, NULL), RK_EINVAL);
    assert_int_equal(rk_buffer_create(f->rt, 0, &b), RK_EINVAL);
    assert_null(b);
    assert_int_equal(rk_buffer_create(f->rt, 48, &b), 0);
    assert_int_equal(rk_buffer_size(b), 48);
    assert_int_equal(rk_buffer_size(NULL), 0);

    /* Zero-filled, and what is written is read back. */
    assert_int_equal(rk_buffer_read(b, 0, host, 48), 0);
    for (int i = 0; i < 48; i++)
        assert_int_equal(host[i], 0);
    memset(host, 0x5a, sizeof host);
    assert_int_equal(rk_buffer_write(b, 16, host, 32), 0);
    memset(host, 0, sizeof host);
    assert_int_equal(rk_buffer_read(b, 0, host, 48), 0);
    assert_int_equal(host[15], 0);
    assert_int_equal(host[16], 0x5a);
    assert_int_equal(host[47], 0x5a);

    /* Bounds: the last byte is fine, one more is not; offsets past the end and wrap-around are refused. */
    assert_int_equal(rk_buffer_write(b, 47, host, 1), 0);
    assert_int_equal(rk_buffer_write(b, 47, host, 2), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "past the end"));
    assert_int_equal(rk_buffer_read(b, 49, host, 0), RK_EINVAL);
    assert_int_equal(rk_buffer_read(b, 8, host, SIZE_MAX), RK_EINVAL);
    assert_int_equal(rk_buffer_read(b, 48, host, 0), 0);
    assert_int_equal(rk_buffer_write(NULL, 0, host, 1), RK_EINVAL);
    assert_int_equal(rk_buffer_read(NULL, 0, host, 1), RK_EINVAL);
    assert_int_equal(rk_buffer_write(b, 0, NULL, 1), RK_EINVAL);
    assert_int_equal(rk_buffer_read(b, 0, NULL, 1), RK_EINVAL);
    rk_buffer_destroy(b);
    rk_buffer_destroy(NULL);
    assert_int_equal(rk_compute_sync(f->rt), 0);
    assert_int_equal(rk_compute_sync(NULL), RK_EINVAL);
}

/* ---- Launch checks ---------------------------------------------------------------------------------- */

static void test_argument_errors(void **state)
{
    fixture *f = *state;
    rk_program *p = make(f, saxpy_rk);
    rk_buffer *x, *y, *other_buf;
    rk_runtime *other;
    const uint32_t size[3] = { 100, 1, 1 };

    assert_int_equal(rk_buffer_create(f->rt, 400, &x), 0);
    assert_int_equal(rk_buffer_create(f->rt, 400, &y), 0);
    rk_arg good[] = { RK_ARG_BUF(y), RK_ARG_BUF(x), RK_ARG_F32(2.0f), RK_ARG_U32(100) };
    rk_arg args[4];

    assert_int_equal(rk_program_launch(p, "saxpy", size, good, 4), 0);

    memcpy(args, good, sizeof args);
    args[2] = RK_ARG_U32(2);
    assert_int_equal(rk_program_launch(p, "saxpy", size, args, 4), RK_EINVAL);
    assert_string_equal(rk_last_error(), "saxpy: argument 3 'a' is f32, got u32");

    memcpy(args, good, sizeof args);
    args[1] = RK_ARG_F32(1.0f);
    assert_int_equal(rk_program_launch(p, "saxpy", size, args, 4), RK_EINVAL);
    assert_string_equal(rk_last_error(), "saxpy: argument 2 'x' is a buffer, got f32");

    memcpy(args, good, sizeof args);
    args[0] = RK_ARG_BUF(NULL);
    assert_int_equal(rk_program_launch(p, "saxpy", size, args, 4), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "argument 1 'y'"));

    assert_int_equal(rk_program_launch(p, "saxpy", size, good, 3), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "takes 4 (y, x, a, n)"));
    assert_int_equal(rk_program_launch(p, "saxpy", size, NULL, 4), RK_EINVAL);

    /* A buffer of another runtime. */
    assert_int_equal(rk_runtime_create(&other, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 1 }), 0);
    assert_int_equal(rk_buffer_create(other, 400, &other_buf), 0);
    memcpy(args, good, sizeof args);
    args[1] = RK_ARG_BUF(other_buf);
    assert_int_equal(rk_program_launch(p, "saxpy", size, args, 4), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "another runtime"));
    rk_buffer_destroy(other_buf);
    assert_int_equal(rk_runtime_destroy(other), 0);

    /* Names, sizes, NULLs. */
    assert_int_equal(rk_program_launch(p, "saxpi", size, good, 4), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "no global or stencil kernel 'saxpi'"));
    assert_int_equal(rk_program_launch(p, "saxpy", (uint32_t[3]){ 100, 0, 1 }, good, 4), RK_EINVAL);
    assert_int_equal(rk_program_launch(p, "saxpy", NULL, good, 4), RK_EINVAL);
    assert_int_equal(rk_program_launch(NULL, "saxpy", size, good, 4), RK_EINVAL);
    assert_int_equal(rk_program_launch(p, NULL, size, good, 4), RK_EINVAL);
    /* More work-items than global_id() can index. */
    assert_int_equal(rk_program_launch(p, "saxpy", (uint32_t[3]){ 65536, 65536, 2 }, good, 4), RK_EOVERFLOW);

    rk_buffer_destroy(x);
    rk_buffer_destroy(y);
    rk_program_destroy(p);
}

static const char two_kinds_rk[] =
    "struct Ping {\n"
    "    u64 value;\n"
    "};\n"
    "@kernel(ring)\n"
    "i32 pong(global const envelope *env, global const Ping *in, global Ping *st) {\n"
    "    st->value += in->value;\n"
    "    return 0;\n"
    "}\n"
    "@kernel(stencil, radius = 1, dims = 2)\n"
    "void blur(global const f32 *u, global f32 *v) {\n"
    "    store(v, at(u, -1, 0) + at(u, 1, 0));\n"
    "}\n";

static void test_ring_refused_and_stencil_sizes(void **state)
{
    fixture *f = *state;
    rk_program *p = make(f, two_kinds_rk);
    rk_program_info info;
    rk_buffer *u, *v, *small;
    float host[6 * 5];

    assert_int_equal(rk_program_info_get(p, &info), 0);
    assert_int_equal(info.kernels, 1); /* the ring kernel is not launchable */
    assert_int_equal(rk_program_launch(p, "pong", (uint32_t[3]){ 1, 1, 1 }, NULL, 0), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "ring kernel"));
    assert_non_null(strstr(rk_last_error(), "actor"));

    assert_int_equal(rk_buffer_create(f->rt, sizeof host, &u), 0);
    assert_int_equal(rk_buffer_create(f->rt, sizeof host, &v), 0);
    assert_int_equal(rk_buffer_create(f->rt, sizeof host - 4, &small), 0);
    for (int i = 0; i < 30; i++)
        host[i] = (float)i;
    assert_int_equal(rk_buffer_write(u, 0, host, sizeof host), 0);
    rk_arg args[] = { RK_ARG_BUF(u), RK_ARG_BUF(v) };
    rk_arg bad[] = { RK_ARG_BUF(u), RK_ARG_BUF(small) };

    /* A 6 x 5 grid: the buffer must hold 30 floats. */
    assert_int_equal(rk_program_launch(p, "blur", (uint32_t[3]){ 6, 5, 1 }, bad, 2), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "argument 2 'v'"));
    assert_int_equal(rk_program_launch(p, "blur", (uint32_t[3]){ 6, 5, 2 }, args, 2), RK_EINVAL); /* 2D: nz 1 */
    assert_int_equal(rk_program_launch(p, "blur", (uint32_t[3]){ 2, 5, 1 }, args, 2), RK_EINVAL); /* no interior */
    assert_non_null(strstr(rk_last_error(), "no interior"));
    assert_int_equal(rk_program_launch(p, "blur", (uint32_t[3]){ 6, 5, 1 }, args, 2), 0);
    assert_int_equal(rk_buffer_read(v, 0, host, sizeof host), 0);
    /* Interior points only: (x-1) + (x+1) of row y is 2 * (6y + x); the halo stays 0. */
    for (int y = 0; y < 5; y++) {
        for (int x = 0; x < 6; x++) {
            float want = y > 0 && y < 4 && x > 0 && x < 5 ? 2.0f * (float)(6 * y + x) : 0.0f;

            assert_true(host[6 * y + x] == want);
        }
    }
    rk_buffer_destroy(u);
    rk_buffer_destroy(v);
    rk_buffer_destroy(small);
    rk_program_destroy(p);
}

/* ---- Diagnostics and compilers ---------------------------------------------------------------------- */

/* Expects rk_program_create of src to fail with code, `diag` in rk_last_error() and in the log. */
static void create_fails(fixture *f, const char *src, int code, const char *diag)
{
    rk_program *p = NULL;

    assert_int_equal(rk_program_create(f->rt, src, strlen(src), &f->opts, &p), code);
    assert_null(p);
    assert_non_null(strstr(rk_last_error(), diag));
    assert_non_null(strstr(f->log, diag));
}

static void test_compile_error_has_caret(void **state)
{
    fixture *f = *state;
    rk_program *p = NULL;

    create_fails(f,
                 "@kernel(global)\n"
                 "void k(global u32 *x) {\n"
                 "    x[0] = undefined_name;\n"
                 "}\n",
                 RK_EINVAL, "test.rk:3:12: error: ");
    assert_non_null(strstr(f->log, "    x[0] = undefined_name;\n"));
    assert_non_null(strstr(f->log, "\n           ^"));
    /* A syntax error, and NULL arguments. */
    assert_int_equal(rk_program_create(f->rt, "@kernel(global) void (", 22, &f->opts, &p), RK_EINVAL);
    assert_non_null(strstr(f->log, "test.rk:1:"));
    assert_int_equal(rk_program_create(f->rt, NULL, 3, &f->opts, &p), RK_EINVAL);
    assert_int_equal(rk_program_create(NULL, saxpy_rk, strlen(saxpy_rk), &f->opts, &p), RK_EINVAL);
    assert_int_equal(rk_program_create(f->rt, saxpy_rk, strlen(saxpy_rk), &f->opts, NULL), RK_EINVAL);
    assert_int_equal(rk_program_create_file(f->rt, "/nonexistent/x.rk", NULL, &p), RK_EIO);
}

/* persistent_stencil has no emitter in this version: the target check refuses it, naming it. */
static void test_persistent_stencil_refused(void **state)
{
    create_fails(*state,
                 "@kernel(persistent_stencil, radius = 1)\n"
                 "void ps(global const f32 *u, global f32 *v) {\n"
                 "    store(v, at(u, 1, 0, 0));\n"
                 "}\n",
                 RK_ENOTSUP, "test.rk:2:6: error: c: persistent_stencil");
}

static void with_cc(const char *cc)
{
    if (cc != NULL)
        setenv("RK_CC", cc, 1);
    else
        unsetenv("RK_CC");
}

static void test_missing_compiler(void **state)
{
    fixture *f = *state;
    const char *saved = getenv("RK_CC");
    char *keep = saved ? strdup(saved) : NULL;
    rk_program *p = NULL;
    int rc;

    with_cc("/nonexistent/cc");
    rc = rk_program_create(f->rt, saxpy_rk, strlen(saxpy_rk), &f->opts, &p);
    with_cc(keep);
    free(keep);
    assert_int_equal(rc, RK_ENODEV);
    assert_null(p);
    assert_non_null(strstr(rk_last_error(), "/nonexistent/cc"));
    assert_non_null(strstr(rk_last_error(), "RK_CC"));
}

/* A compiler that answers --version but fails to compile, printing an error: RK_EBACKEND with its output. */
static void test_failing_compiler(void **state)
{
    fixture *f = *state;
    const char *saved = getenv("RK_CC");
    char *keep = saved ? strdup(saved) : NULL;
    char script[300];
    FILE *s;
    rk_program *p = NULL;
    int rc;

    snprintf(script, sizeof script, "%s/fake-cc", f->dir);
    s = fopen(script, "w");
    assert_non_null(s);
    fputs("#!/bin/sh\n"
          "if [ \"$1\" = --version ]; then echo 'fake-cc 1.0'; exit 0; fi\n"
          "echo 'program.c:1:1: error: the fake compiler refuses everything' >&2\n"
          "exit 3\n",
          s);
    fclose(s);
    assert_int_equal(chmod(script, 0755), 0);
    with_cc(script);
    rc = rk_program_create(f->rt, saxpy_rk, strlen(saxpy_rk), &f->opts, &p);
    with_cc(keep);
    free(keep);
    assert_int_equal(rc, RK_EBACKEND);
    assert_null(p);
    assert_non_null(strstr(f->log, "the fake compiler refuses everything"));
    assert_non_null(strstr(rk_last_error(), "exit 3"));
}

/* ---- The cache -------------------------------------------------------------------------------------- */

static void program_info(fixture *f, const char *src, rk_program_info *info)
{
    rk_program *p = make(f, src);

    assert_int_equal(rk_program_info_get(p, info), 0);
    rk_program_destroy(p);
}

static void test_cache_hit_and_rebuild(void **state)
{
    fixture *f = *state;
    rk_program_info a, b, c, d;
    struct stat st;
    FILE *e;

    program_info(f, saxpy_rk, &a);
    assert_string_equal(a.target, "c");
    assert_int_equal(a.from_cache, 0);
    assert_int_equal(a.cache_rebuilt, 0);
    assert_int_equal(a.kernels, 1);
    assert_non_null(strstr(a.cache_path, f->dir));
    assert_int_equal(stat(a.cache_path, &st), 0);

    program_info(f, saxpy_rk, &b);
    assert_int_equal(b.from_cache, 1);
    assert_string_equal(b.cache_path, a.cache_path);

    /* One flipped byte in the middle of the payload: the checksum catches it, the entry is rebuilt. */
    e = fopen(a.cache_path, "r+b");
    assert_non_null(e);
    assert_int_equal(fseek(e, st.st_size / 2, SEEK_SET), 0);
    int ch = fgetc(e);
    assert_int_equal(fseek(e, st.st_size / 2, SEEK_SET), 0);
    fputc(ch ^ 0x10, e);
    fclose(e);
    program_info(f, saxpy_rk, &c);
    assert_int_equal(c.from_cache, 0);
    assert_int_equal(c.cache_rebuilt, 1);
    program_info(f, saxpy_rk, &d);
    assert_int_equal(d.from_cache, 1);

    /* Truncated to half. */
    assert_int_equal(truncate(a.cache_path, st.st_size / 2), 0);
    program_info(f, saxpy_rk, &c);
    assert_int_equal(c.from_cache, 0);
    assert_int_equal(c.cache_rebuilt, 1);
    program_info(f, saxpy_rk, &d);
    assert_int_equal(d.from_cache, 1);

    /* Another source is another entry. */
    program_info(f, sum_rk, &c);
    assert_int_equal(c.from_cache, 0);
    assert_string_not_equal(c.cache_path, a.cache_path);
}

static void test_no_cache(void **state)
{
    fixture *f = *state;
    rk_program_info a, b;

    f->opts.cache_dir = "";
    program_info(f, saxpy_rk, &a);
    program_info(f, saxpy_rk, &b);
    assert_int_equal(a.from_cache, 0);
    assert_int_equal(b.from_cache, 0);
    assert_string_equal(a.cache_path, "");
    assert_string_equal(b.cache_path, "");
}

/* The environment picks the directory when opts.cache_dir is NULL, and it is created (mkdir -p). */
static void test_cache_dir_from_env(void **state)
{
    fixture *f = *state;
    const char *saved = getenv("RK_CACHE_DIR");
    char *keep = saved ? strdup(saved) : NULL, dir[300];
    rk_program_info a;

    snprintf(dir, sizeof dir, "%s/env/deeper", f->dir);
    setenv("RK_CACHE_DIR", dir, 1);
    f->opts.cache_dir = NULL;
    program_info(f, saxpy_rk, &a);
    if (keep)
        setenv("RK_CACHE_DIR", keep, 1);
    else
        unsetenv("RK_CACHE_DIR");
    free(keep);
    assert_int_equal(strncmp(a.cache_path, dir, strlen(dir)), 0);
}

static void test_cache_store_load(void **state)
{
    fixture *f = *state;
    rk__cache_key k1 = rk__cache_key_make("abc", 3, "c", "x86_64", "cc 1"), k2;
    void *data = NULL;
    size_t len = 0;
    int rebuilt = 0;
    char path[512], other[512];

    /* Every part of the key matters, and the parts do not run into each other. */
    k2 = rk__cache_key_make("abc", 3, "c", "x86_64", "cc 2");
    assert_true(k1.h[0] != k2.h[0] && k1.h[1] != k2.h[1]);
    k2 = rk__cache_key_make("ab", 2, "cc", "x86_64", "cc 1");
    assert_true(k1.h[0] != k2.h[0] && k1.h[1] != k2.h[1]);
    k2 = rk__cache_key_make("abc", 3, "c", "x86_64", "cc 1");
    assert_true(k1.h[0] == k2.h[0] && k1.h[1] == k2.h[1]);
    assert_true(k1.h[0] != k1.h[1]);

    assert_int_equal(rk__cache_load(f->dir, k1, "bin", &data, &len, &rebuilt, path, sizeof path), 0);
    assert_int_equal(rk__cache_store(f->dir, k1, "bin", "payload", 7), 0);
    assert_int_equal(rk__cache_load(f->dir, k1, "bin", &data, &len, &rebuilt, path, sizeof path), 1);
    assert_int_equal(len, 7);
    assert_memory_equal(data, "payload", 7);
    assert_int_equal(rebuilt, 0);
    free(data);
    /* An entry copied under another key's name is foreign: -1, never its bytes. */
    k2 = rk__cache_key_make("xyz", 3, "c", "x86_64", "cc 1");
    assert_int_equal(rk__cache_load(f->dir, k2, "bin", &data, &len, &rebuilt, other, sizeof other), 0);
    assert_int_equal(rename(path, other), 0);
    assert_int_equal(rk__cache_load(f->dir, k2, "bin", &data, &len, &rebuilt, other, sizeof other), -1);
    assert_null(data);
    assert_int_equal(rebuilt, 1);
    /* An empty payload is an entry too. */
    assert_int_equal(rk__cache_store(f->dir, k1, "bin", "", 0), 0);
    assert_int_equal(rk__cache_load(f->dir, k1, "bin", &data, &len, &rebuilt, path, sizeof path), 1);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(rk__cache_store("/nonexistent/dir", k1, "bin", "x", 1), RK_EIO);
}

/* ---- Lifetime --------------------------------------------------------------------------------------- */

static void test_destroy_with_live_objects(void **state)
{
    fixture *f = *state;
    rk_program *p1 = make(f, saxpy_rk), *p2 = make(f, sum_rk);
    rk_buffer *b[3];

    (void)p1;
    (void)p2;
    for (int i = 0; i < 3; i++)
        assert_int_equal(rk_buffer_create(f->rt, 1024, &b[i]), 0);
    rk_buffer_destroy(b[1]); /* one gone, the rest left to rk_runtime_destroy (LeakSanitizer checks) */
    rk_arg args[] = { RK_ARG_BUF(b[0]), RK_ARG_BUF(b[2]), RK_ARG_F32(1.0f), RK_ARG_U32(256) };
    assert_int_equal(rk_program_launch(p1, "saxpy", (uint32_t[3]){ 256, 1, 1 }, args, 4), 0);
    assert_int_equal(rk_runtime_destroy(f->rt), 0);
    f->rt = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_buffer_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argument_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_refused_and_stencil_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compile_error_has_caret, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persistent_stencil_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_compiler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_compiler, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_and_rebuild, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_dir_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_store_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_with_live_objects, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
