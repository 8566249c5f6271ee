/* emit_test.c - the C and CUDA emitters (src/codegen/emit*.c): golden outputs of the four examples of
 * docs/DSL.md §8 (tests/codegen/golden/<name>.c and .cu; RK_UPDATE_GOLDEN=1 rewrites them after an
 * intended change), the emitted C compiled with the system compiler under -Wall -Werror, saxpy,
 * sum_u32 and heat7 run from a harness and compared with references computed here, the emitted CUDA compiled with
 * nvcc when it is installed, and the constructs each emitter rejects.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "codegen/checker.h"
#include "codegen/emit.h"
#include "dsl_examples.h"

static char tmpdir[] = "/tmp/rk_emit_XXXXXX";
static char diag[8192];

/* Parses, checks and emits src for target t. Returns rk__emit's code; *text is set on success. */
static int emit_src(const char *src, rk__target t, char **text)
{
    rk__ast ast = { 0 };
    rk__ir_module mod = { 0 };
    rk__diags d;
    size_t len = 0;
    int rc;

    *text = NULL;
    rk__diag_init(&d, diag, sizeof diag);
    assert_int_equal(rk__parse(&ast, "k.rk", src, strlen(src), &d, 0), 0);
    assert_int_equal(rk__check(&ast, RK__TGT_BIT(t), &d, &mod, 0), 0);
    if (d.errors)
        fail_msg("checker diagnostics:\n%s", diag);
    rc = rk__emit(&mod, t, &ast.src, &d, text, &len);
    if (rc == 0) {
        assert_int_equal(len, strlen(*text));
        assert_int_equal(d.errors, 0);
    } else {
        assert_null(*text);
    }
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    return rc;
}

static char *emit_ok(const char *src, rk__target t)
{
    char *text;
    int rc = emit_src(src, t, &text);

    if (rc != 0)
        fail_msg("emit failed (%d):\n%s", rc, diag);
    return text;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void golden(const char *name, const char *src, rk__target t, const char *ext)
{
    char path[1024];
    char *got = emit_ok(src, t), *again = emit_ok(src, t), *want;

    /* Deterministic: the same source gives the same bytes. */
    assert_string_equal(got, again);
    snprintf(path, sizeof path, "%s/%s.%s", RK_GOLDEN_DIR, name, ext);
    if (getenv("RK_UPDATE_GOLDEN"))
        write_file(path, got);
    want = read_file(path);
    if (want == NULL)
        fail_msg("missing golden file %s", path);
    assert_string_equal(got, want);
    free(want);
    free(again);
    free(got);
}

static void test_golden_c(void **state)
{
    (void)state;
    golden("saxpy", saxpy_rk, RK_TGT_C, "c");
    golden("sum_u32", sum_rk, RK_TGT_C, "c");
    golden("heat7", heat7_rk, RK_TGT_C, "c");
    golden("echo", echo_rk, RK_TGT_C, "c");
}

static void test_golden_cuda(void **state)
{
    (void)state;
    golden("saxpy", saxpy_rk, RK_TGT_CUDA, "cu");
    golden("sum_u32", sum_rk, RK_TGT_CUDA, "cu");
    golden("heat7", heat7_rk, RK_TGT_CUDA, "cu");
    golden("echo", echo_rk, RK_TGT_CUDA, "cu");
}

/* Runs a shell command; returns its exit status. */
static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        print_message("command failed (%d): %s\n", rc, cmd);
    return rc;
}

/* Writes the emitted C of src to <tmpdir>/<name>.c and compiles it with -Wall -Werror. */
static void compile_c(const char *name, const char *src)
{
    char path[1024];
    char *text = emit_ok(src, RK_TGT_C);

    snprintf(path, sizeof path, "%s/%s.c", tmpdir, name);
    write_file(path, text);
    free(text);
    assert_int_equal(sh("cc -std=c11 -Wall -Wextra -Werror -I%s -c %s/%s.c -o %s/%s.o 2>&1", RK_INCLUDE_DIR, tmpdir,
                        name, tmpdir, name),
                     0);
}

static void test_c_compiles(void **state)
{
    (void)state;
    compile_c("saxpy", saxpy_rk);
    compile_c("sum_u32", sum_rk);
    compile_c("heat7", heat7_rk);
    compile_c("echo", echo_rk);
}

/* Builds <tmpdir>/<name>_run from a harness that includes the emitted <name>.c, runs it, returns its stdout. */
static char *run_harness(const char *name, const char *harness)
{
    char path[1024];

    snprintf(path, sizeof path, "%s/%s_main.c", tmpdir, name);
    write_file(path, harness);
    assert_int_equal(sh("cc -std=c11 -Wall -Werror -pthread -I%s %s/%s_main.c -o %s/%s_run -lm 2>&1", tmpdir,
                        tmpdir, name, tmpdir, name),
                     0);
    assert_int_equal(sh("%s/%s_run > %s/%s.out", tmpdir, name, tmpdir, name), 0);
    snprintf(path, sizeof path, "%s/%s.out", tmpdir, name);
    return read_file(path);
}

#define SAXPY_N 1000u

static void test_c_saxpy_runs(void **state)
{
    char *out, *p;
    float x[SAXPY_N], y[SAXPY_N];

    (void)state;
    compile_c("saxpy", saxpy_rk);
    /* 4 groups of 256 cover 1000 items; the last group's tail is masked by the kernel's `i < n`. The
     * groups run as two ranges, so the range split is exercised too. */
    out = run_harness("saxpy",
                      "#include \"saxpy.c\"\n"
                      "#include <stdio.h>\n"
                      "int main(void)\n"
                      "{\n"
                      "    static float x[1000], y[1000];\n"
                      "    for (unsigned i = 0; i < 1000; i++) {\n"
                      "        x[i] = (float)i * 0.5f - 100.0f;\n"
                      "        y[i] = (float)(i % 7) * 3.0f;\n"
                      "    }\n"
                      "    rk_grid a = { { 4, 1, 1 }, 0, 2 }, b = { { 4, 1, 1 }, 2, 4 };\n"
                      "    if (saxpy(&a, y, x, 2.5f, 1000) != 0 || saxpy(&b, y, x, 2.5f, 1000) != 0)\n"
                      "        return 1;\n"
                      "    for (unsigned i = 0; i < 1000; i++)\n"
                      "        printf(\"%.9g\\n\", y[i]);\n"
                      "    return 0;\n"
                      "}\n");
    assert_non_null(out);
    p = out;
    for (unsigned i = 0; i < SAXPY_N; i++) {
        double got;
        int used = 0;

        x[i] = (float)i * 0.5f - 100.0f;
        y[i] = (float)(i % 7) * 3.0f;
        y[i] = 2.5f * x[i] + y[i];
        assert_int_equal(sscanf(p, "%lf%n", &got, &used), 1);
        p += used;
        if (fabs(got - y[i]) > 1e-6 * (fabs(y[i]) + 1))
            fail_msg("saxpy y[%u] = %.9g, want %.9g", i, got, (double)y[i]);
    }
    free(out);
}

static void test_c_sum_runs(void **state)
{
    char *out;
    unsigned long long want = 0, got = 0, got2 = 0;

    (void)state;
    compile_c("sum_u32", sum_rk);
    for (unsigned i = 0; i < 1000; i++)
        want += (i * 2654435761u) >> 12;
    want &= 0xffffffffu;
    /* 4 groups of 256 threads each meet at the kernel's barriers; a second launch over ranges [0,1) and
     * [1,4) adds the same total again. */
    out = run_harness("sum_u32",
                      "#include \"sum_u32.c\"\n"
                      "#include <stdio.h>\n"
                      "int main(void)\n"
                      "{\n"
                      "    static uint32_t x[1000];\n"
                      "    uint32_t total = 0;\n"
                      "    for (unsigned i = 0; i < 1000; i++)\n"
                      "        x[i] = (i * 2654435761u) >> 12;\n"
                      "    rk_grid g = { { 4, 1, 1 }, 0, 4 }, a = { { 4, 1, 1 }, 0, 1 }, b = { { 4, 1, 1 }, 1, 4 };\n"
                      "    if (sum_u32(&g, x, &total, 1000) != 0)\n"
                      "        return 1;\n"
                      "    printf(\"%u\\n\", total);\n"
                      "    total = 0;\n"
                      "    if (sum_u32(&a, x, &total, 1000) != 0 || sum_u32(&b, x, &total, 1000) != 0)\n"
                      "        return 1;\n"
                      "    printf(\"%u\\n\", total);\n"
                      "    return 0;\n"
                      "}\n");
    assert_non_null(out);
    assert_int_equal(sscanf(out, "%llu %llu", &got, &got2), 2);
    assert_int_equal(got, want);
    assert_int_equal(got2, want);
    free(out);
}

static void test_c_heat7_runs(void **state)
{
    enum { NX = 9, NY = 7, NZ = 6 };
    static float u[NZ][NY][NX], v[NZ][NY][NX];
    char *out, *p;

    (void)state;
    compile_c("heat7", heat7_rk);
    /* Two plane ranges cover the grid; boundary points keep the -1 the harness wrote. */
    out = run_harness("heat7",
                      "#include \"heat7.c\"\n"
                      "#include <stdio.h>\n"
                      "int main(void)\n"
                      "{\n"
                      "    static float u[6][7][9], v[6][7][9];\n"
                      "    for (unsigned z = 0; z < 6; z++)\n"
                      "        for (unsigned y = 0; y < 7; y++)\n"
                      "            for (unsigned x = 0; x < 9; x++) {\n"
                      "                u[z][y][x] = (float)((x * 7 + y * 3 + z * 5) % 11) * 0.25f;\n"
                      "                v[z][y][x] = -1.0f;\n"
                      "            }\n"
                      "    heat7(&u[0][0][0], &v[0][0][0], 0.1f, 9, 7, 6, 0, 3);\n"
                      "    heat7(&u[0][0][0], &v[0][0][0], 0.1f, 9, 7, 6, 3, 6);\n"
                      "    for (unsigned z = 0; z < 6; z++)\n"
                      "        for (unsigned y = 0; y < 7; y++)\n"
                      "            for (unsigned x = 0; x < 9; x++)\n"
                      "                printf(\"%.9g\\n\", v[z][y][x]);\n"
                      "    return 0;\n"
                      "}\n");
    assert_non_null(out);
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++)
                u[z][y][x] = (float)((x * 7 + y * 3 + z * 5) % 11) * 0.25f;
    p = out;
    for (int z = 0; z < NZ; z++)
        for (int y = 0; y < NY; y++)
            for (int x = 0; x < NX; x++) {
                double got;
                int used = 0;

                if (x == 0 || y == 0 || z == 0 || x == NX - 1 || y == NY - 1 || z == NZ - 1) {
                    v[z][y][x] = -1.0f;
                } else {
                    float c = u[z][y][x];
                    float lap = u[z][y][x - 1] + u[z][y][x + 1] + u[z][y - 1][x] + u[z][y + 1][x] + u[z - 1][y][x] +
                                u[z + 1][y][x] - 6.0f * c;

                    v[z][y][x] = c + 0.1f * lap;
                }
                assert_int_equal(sscanf(p, "%lf%n", &got, &used), 1);
                p += used;
                if (fabs(got - v[z][y][x]) > 1e-5)
                    fail_msg("heat7 v[%d][%d][%d] = %.9g, want %.9g", z, y, x, got, (double)v[z][y][x]);
            }
    free(out);
}

static const char *nvcc_path(void)
{
    if (access("/usr/local/cuda/bin/nvcc", X_OK) == 0)
        return "/usr/local/cuda/bin/nvcc";
    if (system("command -v nvcc > /dev/null 2>&1") == 0)
        return "nvcc";
    return NULL;
}

static void test_cuda_compiles(void **state)
{
    static const struct {
        const char *name, *src;
    } ex[] = { { "saxpy", saxpy_rk }, { "sum_u32", sum_rk }, { "heat7", heat7_rk }, { "echo", echo_rk } };
    const char *nvcc = nvcc_path();

    (void)state;
    if (nvcc == NULL) {
        print_message("nvcc not found (neither /usr/local/cuda/bin/nvcc nor on PATH): CUDA compile skipped\n");
        skip();
    }
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        char path[1024];
        char *text = emit_ok(ex[i].src, RK_TGT_CUDA);

        snprintf(path, sizeof path, "%s/%s.cu", tmpdir, ex[i].name);
        write_file(path, text);
        free(text);
        assert_int_equal(sh("%s -arch=sm_90 -Werror all-warnings -I%s -c %s -o %s/%s_cu.o 2>&1", nvcc, RK_INCLUDE_DIR,
                            path, tmpdir, ex[i].name),
                         0);
    }
}

/* Expects emitting src for t to fail with a diagnostic containing `msg`. */
static void rejects(const char *src, rk__target t, const char *msg)
{
    char *text;

    assert_int_equal(emit_src(src, t, &text), RK_EINVAL);
    if (strstr(diag, msg) == NULL)
        fail_msg("'%s' not in:\n%s", msg, diag);
    if (strstr(diag, "k.rk:") != diag)
        fail_msg("diagnostic not in file:line:col form:\n%s", diag);
}

#define K(body) "@kernel(global)\nvoid k(global u32 *p, u32 n, vec2<f32> v, f32 s) {\n" body "\n}\n"

static void test_rejections(void **state)
{
    char *text;

    (void)state;
    for (int t = RK_TGT_CUDA; t <= RK_TGT_C; t++) {
        rejects(K("vec2<f32> w = v * s;"), (rk__target)t, "vector arithmetic");
        rejects(K("vec2<f32> w = sqrt(v);"), (rk__target)t, "'sqrt' on vectors");
        rejects(K("p[0] = pack_half2x16(v);"), (rk__target)t, "needs 'rk_pack_half2x16'");
        rejects(K("f32 f = fract(s + 1.0);"), (rk__target)t, "argument 1 of 'fract' is used 2 times");
    }
    /* A target without an emitter says so; nothing is reported. */
    assert_int_equal(emit_src(saxpy_rk, RK_TGT_GLSL, &text), RK_ENOTSUP);
    assert_int_equal(emit_src(saxpy_rk, RK_TGT_MSL, &text), RK_ENOTSUP);
    assert_int_equal(diag[0], '\0');
}

static void test_lowering_details(void **state)
{
    char *c, *cu;

    (void)state;
    /* Keywords of C are renamed, literals keep their type, and a simple argument may be repeated. */
    c = emit_ok(K("u32 int = n; f32 f = fract(s); i64 q = -5; p[int] = int + 1u; if (f > 0.5) { p[0] = 7; }"),
                RK_TGT_C);
    assert_non_null(strstr(c, "uint32_t int_ = n;"));
    assert_non_null(strstr(c, "float f = (s - floor(s));"));
    assert_non_null(strstr(c, "int64_t q = -5ll;"));
    assert_non_null(strstr(c, "p[int_] = int_ + 1u;"));
    assert_non_null(strstr(c, "if (f > 0.5f) {"));
    /* Only the prelude pieces used are written. */
    assert_null(strstr(c, "rk_atomic_min"));
    assert_null(strstr(c, "pthread"));
    cu = emit_ok(K("u32 m = atomic_min(p, n); p[1] = m;"), RK_TGT_CUDA);
    assert_non_null(strstr(cu, "unsigned m = atomicMin(&p[0], n);"));
    assert_null(strstr(cu, "rk_warp_sum"));
    free(cu);
    cu = emit_ok(K("p[0] = warp_sum(n);"), RK_TGT_CUDA);
    assert_non_null(strstr(cu, "rk_warp_sum(unsigned v)"));
    assert_non_null(strstr(cu, "p[0] = rk_warp_sum(n);"));
    free(cu);
    free(c);
    /* A string argument is not taken for a prelude name. */
    {
        char src[sizeof echo_rk];
        char *topic;

        memcpy(src, echo_rk, sizeof src);
        topic = strstr(src, "alerts/ping");
        assert_non_null(topic);
        memcpy(topic, "rk_nope/pi", 10);
        c = emit_ok(src, RK_TGT_C);
        assert_non_null(strstr(c, "rk_publish(rk_ctx, \"rk_nope/pig\", &out);"));
        free(c);
    }
    c = emit_ok(K("p[0] = atomic_min(p, n);"), RK_TGT_C);
    assert_non_null(strstr(c, "#define rk_atomic_min(p, v)"));
    assert_non_null(strstr(c, "p[0] = rk_atomic_min(&p[0], n);"));
    free(c);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_c),
        cmocka_unit_test(test_golden_cuda),
        cmocka_unit_test(test_c_compiles),
        cmocka_unit_test(test_c_saxpy_runs),
        cmocka_unit_test(test_c_sum_runs),
        cmocka_unit_test(test_c_heat7_runs),
        cmocka_unit_test(test_cuda_compiles),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_lowering_details),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
