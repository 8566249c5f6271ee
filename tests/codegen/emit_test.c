/* emit_test.c - the emitters (src/codegen/emit*.c): golden outputs of the four examples of docs/DSL.md §8
 * (tests/codegen/golden/<name>.c, .cu, and for the three that GPU shading languages can express .comp,
 * .wgsl and .metal, plus a two-kernel module `mix`; RK_UPDATE_GOLDEN=1 rewrites them after an intended
 * change), the emitted C compiled with the system compiler under -Wall -Werror, saxpy, sum_u32 and heat7
 * run from a harness and compared with references computed here, the emitted CUDA compiled with nvcc when
 * it is installed, structural checks of the GLSL, WGSL and MSL outputs, and the constructs each emitter
 * rejects.
 *
 * `emit_test spirv` (the CTest entry emit_spirv) instead compiles every GLSL output with
 * glslangValidator -V --target-env vulkan1.1 and validates the SPIR-V with spirv-val; it exits 77
 * (skipped) when either tool is missing. No WGSL or Metal compiler is available, so those outputs are
 * checked against the golden files and for their structure only.
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

/* A module GPU shading languages can express and the C targets cannot (vector arithmetic): two kernels, a
 * helper with an out-parameter, a struct in a buffer, a constant, subgroup operations, a 2D stencil. */
static const char mix_rk[] =
    "// Two kernels of one module: particles moved by a helper, and a 2D blur.\n"
    "struct Particle {\n"
    "    vec4<f32> pos;\n"
    "    vec4<f32> vel;\n"
    "};\n"
    "\n"
    "const u32 STEPS = 4;\n"
    "\n"
    "// One explicit Euler step; adds the squared speed to *speed2.\n"
    "vec4<f32> step_pos(vec4<f32> p, vec4<f32> v, f32 dt, f32 *speed2) {\n"
    "    *speed2 += dot(v, v);\n"
    "    return p + v * dt;\n"
    "}\n"
    "\n"
    "@kernel(global, workgroup = 64)\n"
    "void integrate(global Particle *ps, global u32 *fast, f32 dt, u32 n) {\n"
    "    u32 i = global_id();\n"
    "    if (i >= n) {\n"
    "        return;\n"
    "    }\n"
    "    Particle p = ps[i];\n"
    "    f32 s2 = 0.0;\n"
    "    for (u32 k = 0; k < STEPS; k++) {\n"
    "        p.pos = step_pos(p.pos, p.vel, dt, &s2);\n"
    "    }\n"
    "    ps[i] = p;\n"
    "    u32 count = warp_sum(s2 > 1.0 ? 1u : 0u);\n"
    "    if (lane_id() == 0) {\n"
    "        atomic_add(fast, count);\n"
    "    }\n"
    "}\n"
    "\n"
    "@kernel(stencil, radius = 1, dims = 2, workgroup = 64)\n"
    "void blur2d(global const f32 *src, global f32 *dst) {\n"
    "    store(dst, (at(src, -1, 0) + at(src, 1, 0) + at(src, 0, -1) + at(src, 0, 1)) * 0.25);\n"
    "}\n";
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

/* Shared-memory tiles (emit_cuda.c T1..T3): heat7 tiled, and a 2D radius-2 stencil reading two read-only
 * buffers (one declared without const, never written: still tiled) and a written one through at() (not
 * tiled: it reads global memory). */
static const char tiled_rk[] =
    "@kernel(stencil, radius = 1, tile = true)\n"
    "void heat7t(global const f32 *u, global f32 *v, f32 alpha) {\n"
    "    f32 c = at(u, 0, 0, 0);\n"
    "    f32 lap = at(u, -1, 0, 0) + at(u, 1, 0, 0)\n"
    "            + at(u, 0, -1, 0) + at(u, 0, 1, 0)\n"
    "            + at(u, 0, 0, -1) + at(u, 0, 0, 1) - 6.0f * c;\n"
    "    store(v, c + alpha * lap);\n"
    "}\n"
    "@kernel(stencil, radius = 2, dims = 2, workgroup = 128, tile = true)\n"
    "void blur2(global const f64 *a, global f64 *b, global f64 *out) {\n"
    "    f64 s = at(a, -2, 0) + at(a, 2, 0) + at(a, 0, -2) + at(a, 0, 2);\n"
    "    if (s > 0.0) {\n"
    "        s = s + at(b, 1, -1) + at(out, 0, 1);\n"
    "    }\n"
    "    store(out, s);\n"
    "}\n";

static void test_golden_cuda(void **state)
{
    (void)state;
    golden("saxpy", saxpy_rk, RK_TGT_CUDA, "cu");
    golden("sum_u32", sum_rk, RK_TGT_CUDA, "cu");
    golden("heat7", heat7_rk, RK_TGT_CUDA, "cu");
    golden("echo", echo_rk, RK_TGT_CUDA, "cu");
    golden("tiled", tiled_rk, RK_TGT_CUDA, "cu");
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
    } ex[] = { { "saxpy", saxpy_rk }, { "sum_u32", sum_rk }, { "heat7", heat7_rk }, { "echo", echo_rk },
               { "tiled", tiled_rk } };
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
    /* tile = true: the tiles must fit the 48 KiB of static shared memory (the attribute's checks: checker_test). */
    rejects("@kernel(stencil, radius = 8, workgroup = 1024, tile = true)\nvoid s(global const f64 *u, global f64 *v) {\n"
            "    store(v, at(u, 8, 0, 0));\n}\n", RK_TGT_CUDA, "need 147456 bytes, more than the 49152");
    /* Other targets read global memory whatever `tile` says: the attribute is a CUDA hint. */
    text = emit_ok(tiled_rk, RK_TGT_C);
    assert_null(strstr(text, "rk_tile_"));
    free(text);
    text = emit_ok("@kernel(stencil, radius = 1, tile = false)\nvoid s(global const f32 *u, global f32 *v) {\n"
                   "    store(v, at(u, 1, 0, 0));\n}\n", RK_TGT_CUDA);
    assert_null(strstr(text, "rk_tile_"));
    assert_non_null(strstr(text, "u[rk_at(1, 0, 0)]"));
    free(text);
    /* Every target has an emitter; nothing past the table does. */
    for (int t = 0; t < RK_TGT_COUNT; t++)
        assert_int_equal(rk__emit_supported((rk__target)t), 1);
    assert_int_equal(rk__emit_supported(RK_TGT_COUNT), 0);
    (void)text;
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


/* ---- GLSL, WGSL, MSL. ---- */

static const struct {
    const char *name, *src;
} gpu_ex[] = { { "saxpy", saxpy_rk }, { "sum_u32", sum_rk }, { "heat7", heat7_rk }, { "mix", mix_rk } };

static void test_golden_gpu(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof gpu_ex / sizeof gpu_ex[0]; i++)
        for (int t = RK_TGT_GLSL; t <= RK_TGT_MSL; t++)
            golden(gpu_ex[i].name, gpu_ex[i].src, (rk__target)t, rk__emit_file_ext((rk__target)t));
}

/* Asserts that every string of the NULL-terminated list occurs in text. */
static void has_all(const char *text, ...)
{
    va_list ap;
    const char *want;

    va_start(ap, text);
    while ((want = va_arg(ap, const char *)) != NULL)
        if (strstr(text, want) == NULL)
            fail_msg("'%s' not in:\n%s", want, text);
    va_end(ap);
}

static void test_gpu_structure(void **state)
{
    char *g, *w, *m;

    (void)state;
    g = emit_ok(saxpy_rk, RK_TGT_GLSL);
    w = emit_ok(saxpy_rk, RK_TGT_WGSL);
    m = emit_ok(saxpy_rk, RK_TGT_MSL);
    assert_int_equal(strncmp(g, "#version 450\n", 13), 0);
    /* The binding layout of docs/DSL.md: buffers in parameter order, scalars in push constants / a uniform
     * / one argument each. */
    has_all(g, "layout(local_size_x = 256, local_size_y = 1, local_size_z = 1) in;",
            "layout(std430, set = 0, binding = 0) buffer saxpy_b0 { float y[]; };",
            "layout(std430, set = 0, binding = 1) readonly buffer saxpy_b1 { float x[]; };",
            "layout(push_constant, std430) uniform saxpy_pc {", "layout(offset = 0) float a;",
            "layout(offset = 4) uint n;", "void main()", "float a = rk_pc.a;", "y[i] = a * x[i] + y[i];", NULL);
    has_all(w, "@group(0) @binding(0) var<storage, read_write> y: array<f32>;",
            "@group(0) @binding(1) var<storage, read> x: array<f32>;",
            "@group(0) @binding(2) var<uniform> saxpy_p: saxpy_params;", "a: f32, // offset 0",
            "n: u32, // offset 4", "@compute @workgroup_size(256, 1, 1)",
            "@builtin(global_invocation_id) rk_gid: vec3<u32>", "var a: f32 = saxpy_p.a;", NULL);
    has_all(m, "#include <metal_stdlib>",
            "kernel void saxpy(device float *y [[buffer(0)]], device const float *x [[buffer(1)]], constant float "
            "&rk_arg_a [[buffer(2)]], constant uint &rk_arg_n [[buffer(3)]], uint3 rk_gid [[thread_position_in_grid]]",
            "float a = rk_arg_a;", NULL);
    free(g), free(w), free(m);

    g = emit_ok(sum_rk, RK_TGT_GLSL);
    w = emit_ok(sum_rk, RK_TGT_WGSL);
    m = emit_ok(sum_rk, RK_TGT_MSL);
    has_all(g, "shared uint part[256];", "barrier();", "atomicAdd(total[0], part[0]);",
            "uint t = gl_LocalInvocationIndex;", NULL);
    has_all(w, "var<storage, read_write> total: array<atomic<u32>>;", "var<workgroup> part: array<u32, 256>;",
            "workgroupBarrier();", "loop {", "if !(s > 0u) {", "continuing {", "s = s >> 1u;",
            "part[t] = select(0u, x[i], i < n);", "_ = atomicAdd(&total[0], part[0i]);", NULL);
    has_all(m, "device atomic_uint *total [[buffer(1)]]", "threadgroup uint part[256];",
            "threadgroup_barrier(mem_flags::mem_threadgroup);",
            "atomic_fetch_add_explicit(&total[0], part[0], memory_order_relaxed);", NULL);
    free(g), free(w), free(m);

    g = emit_ok(heat7_rk, RK_TGT_GLSL);
    w = emit_ok(heat7_rk, RK_TGT_WGSL);
    m = emit_ok(heat7_rk, RK_TGT_MSL);
    has_all(g, "local_size_x = 8, local_size_y = 8, local_size_z = 4", "layout(offset = 16) uvec3 rk_grid_size;",
            "float c = u[rk_at(0, 0, 0)];", "v[rk_c] = (c + alpha * lap);", NULL);
    has_all(w, "rk_grid_size: vec3<u32>, // offset 16", "var<private> rk_c: u32;",
            "fn rk_at(dx: i32, dy: i32, dz: i32) -> u32", NULL);
    has_all(m, "constant uint3 &rk_grid_size [[buffer(3)]]", "#define rk_at(dx, dy, dz)", NULL);
    free(g), free(w), free(m);

    /* Several kernels: one GLSL shader per RK_KERNEL_<name>; WGSL and MSL entry points side by side. */
    g = emit_ok(mix_rk, RK_TGT_GLSL);
    w = emit_ok(mix_rk, RK_TGT_WGSL);
    m = emit_ok(mix_rk, RK_TGT_MSL);
    has_all(g, "#extension GL_KHR_shader_subgroup_arithmetic : require",
            "#extension GL_KHR_shader_subgroup_basic : require", "#if defined(RK_KERNEL_integrate)",
            "#endif // RK_KERNEL_blur2d", "vec4 step_pos(vec4 p, vec4 v, float dt, inout float speed2)",
            "speed2 = speed2 + dot(v, v);", "p.pos = step_pos(p.pos, p.vel, dt, s2);",
            "layout(std430, set = 0, binding = 0) buffer integrate_b0 { Particle ps[]; };", NULL);
    has_all(w, "enable subgroups;", "fn step_pos(rk_arg_p: vec4<f32>, rk_arg_v: vec4<f32>, rk_arg_dt: f32, "
            "speed2: ptr<function, f32>) -> vec4<f32> {", "(*speed2) = (*speed2) + dot(v, v);",
            "step_pos(p.pos, p.vel, dt, &s2)", "@builtin(subgroup_invocation_id) rk_sg_id: u32", NULL);
    has_all(m, "static inline float4 step_pos(float4 p, float4 v, float dt, thread float *speed2)",
            "uint rk_simd_lane [[thread_index_in_simdgroup]]", "simd_sum(", "kernel void blur2d(", NULL);
    free(g), free(w), free(m);
}

/* The intrinsics every shader target has (the table's GLSL, WGSL and MSL spellings): emitted for the three,
 * compiled to SPIR-V in the spirv mode. */
static const char intr_rk[] =
    "@kernel(global, workgroup = 64)\n"
    "void intr(global u32 *p, global i32 *q, global u32 *out, f32 s, u32 n) {\n"
    "    u32 i = global_id();\n"
    "    u32 a = atomic_load(p);\n"
    "    atomic_store(p, a + 1u);\n"
    "    i32 c = atomic_min(q, -3) + atomic_max(q, 4) + atomic_sub(q, 1) + atomic_dec(q);\n"
    "    u32 d = atomic_xchg(p, n) + atomic_inc(p) + atomic_and(p, 7u) + atomic_or(p, 8u) + atomic_xor(p, 1u);\n"
    "    u32 e = shuffle(n, 3u) + shuffle_xor(n, 1u) + shuffle_up(n, 1u) + shuffle_down(n, 1u);\n"
    "    u32 g = ballot(i > 3u) + active_mask() + broadcast_first(n) + warp_min(n) + warp_max(n) + warp_prefix_sum(n);\n"
    "    bool h = vote_any(i > 2u) && vote_all(i < 100u);\n"
    "    shared_barrier();\n"
    "    barrier_global();\n"
    "    u32 bits = popcount(n) + clz(n) + ctz(n) + bitreverse(n) + rotl(n, 3u) + rotr(n, 5u) + umulhi(n, n);\n"
    "    f32 m = sqrt(s) + rsqrt(s) + abs(s) + floor(s) + ceil(s) + trunc(s) + rint(s) + fract(s) + min(s, 1.0) + max(s, 2.0);\n"
    "    f32 m2 = clamp(s, 0.0, 1.0) + saturate(s) + mix(s, 1.0, 0.5) + fma(s, s, s) + sin(s) + cos(s) + tan(s) + asin(s);\n"
    "    f32 m3 = acos(s) + atan(s) + atan2(s, 1.0) + sinh(s) + cosh(s) + tanh(s) + asinh(s) + acosh(s) + atanh(s);\n"
    "    f32 m4 = exp(s) + exp2(s) + log(s) + log2(s) + log10(s) + pow(s, 2.0) + ldexp(s, 3);\n"
    "    u32 cv = f32_as_u32(s) + (u32)f32_as_i32(s) + (u32)u32_as_f32(n) + (u32)i32_as_f32(3);\n"
    "    u32 pk = pack_half2x16(vec2<f32>(s, s)) + pack_unorm4x8(vec4<f32>(s)) + pack_snorm4x8(vec4<f32>(s));\n"
    "    vec2<f32> up = unpack_half2x16(n);\n"
    "    vec4<f32> up4 = unpack_unorm4x8(n) + unpack_snorm4x8(n);\n"
    "    vec3<f32> v3 = vec3<f32>(s, 1.0, 2.0);\n"
    "    f32 vv = dot(v3, v3) + length(v3) + distance(v3, v3) + normalize(v3).x + cross(v3, v3).y;\n"
    "    u32 lane = lane_id() + warp_size() + shared_capacity() + local_id() + group_id() + group_size() + num_groups();\n"
    "    vec3<u32> ids = global_id3() + local_id3() + group_id3() + group_size3() + num_groups3();\n"
    "    if (h) {\n"
    "        out[i] = a + (u32)c + d + e + g + bits + (u32)(m + m2 + m3 + m4 + vv + up.x + up4.y) + cv + pk + lane + ids.x;\n"
    "    }\n"
    "}\n";

/* Intrinsics GLSL has and WGSL or MSL lack (64-bit integers and atomics, fences, clocks, float atomics). */
static const char glsl_intr_rk[] =
    "@kernel(global, workgroup = 64)\n"
    "void extra(global u32 *p, global f32 *f, global u64 *w, f32 s) {\n"
    "    u64 big = w[0];\n"
    "    u32 b = atomic_cas(p, 1u, 2u) + popcount64(big) + clz64(big) + ctz64(big) + clock32() + (u32)clock();\n"
    "    u64 o = atomic_add(w, 1u64);\n"
    "    warp_sync();\n"
    "    fence_block();\n"
    "    fence_device();\n"
    "    fence_acquire();\n"
    "    fence_release();\n"
    "    shared_fence();\n"
    "    f32 af = atomic_add_f32(f, s);\n"
    "    p[1] = b + (u32)o + (u32)af;\n"
    "}\n";

static void test_gpu_intrinsics(void **state)
{
    char *t;

    (void)state;
    for (int tg = RK_TGT_GLSL; tg <= RK_TGT_MSL; tg++)
        free(emit_ok(intr_rk, (rk__target)tg));
    t = emit_ok(glsl_intr_rk, RK_TGT_GLSL);
    has_all(t, "#extension GL_EXT_shader_atomic_int64 : require", "#extension GL_ARB_shader_clock : require",
            "#extension GL_EXT_shader_atomic_float : require", "atomicCompSwap(p[0], 1u, 2u)", NULL);
    free(t);
    t = emit_ok(intr_rk, RK_TGT_WGSL);
    has_all(t, "fn rk_umulhi(a: u32, b: u32) -> u32", "var a: u32 = atomicLoad(&p[0]);", "atomicStore(&p[0], (a + 1u));",
            NULL);
    free(t);
}

/* GLSL snippets whose SPIR-V the spirv mode checks too. */
#define GLSL_INT64 K("u64 w = (u64)n * 5u64; i64 z = -9223372036854775808i64; p[0] = (u32)(w >> 3) + (u32)z;")
#define GLSL_F64 K("f64 d = (f64)s * 1.5f64; p[0] = (u32)d;")
#define GLSL_ZERO K("u32 a[4]; vec2<f32> z; a[1] = n; p[0] = a[1] + (u32)z.x;")

static void test_gpu_lowering_details(void **state)
{
    char *t;

    (void)state;
    t = emit_ok(GLSL_INT64, RK_TGT_GLSL);
    has_all(t, "#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require",
            "uint64_t w = uint64_t(n) * 5ul;", "int64_t z = (-9223372036854775807l - 1l);", NULL);
    free(t);
    t = emit_ok(GLSL_F64, RK_TGT_GLSL);
    has_all(t, "double d = double(s) * 1.5lf;", NULL);
    free(t);
    /* GLSL locals start undefined; the language's start at zero. */
    t = emit_ok(GLSL_ZERO, RK_TGT_GLSL);
    has_all(t, "uint a[4];", "for (uint rk_i = 0u; rk_i < 4u; rk_i++) {", "a[rk_i] = 0u;", "vec2 z = vec2(0.0f);",
            NULL);
    free(t);
    t = emit_ok(GLSL_ZERO, RK_TGT_WGSL);
    has_all(t, "var a: array<u32, 4>;", "var z: vec2<f32>;", NULL);
    free(t);
    t = emit_ok(GLSL_ZERO, RK_TGT_MSL);
    has_all(t, "uint a[4] = {};", NULL);
    free(t);
    /* WGSL: shifts by u32, no negation of unsigned values, vectors as written. */
    t = emit_ok(K("i32 q = (i32)n; q = q << 2; u32 m = -n; vec2<f32> w = v * s + v.yx; p[0] = (u32)q + m + (u32)w.x;"),
                RK_TGT_WGSL);
    has_all(t, "q = q << u32(2i);", "var m: u32 = (0u - n);", "var w: vec2<f32> = v * vec2<f32>(s) + v.yx;", NULL);
    free(t);
    /* A helper's value parameters may be assigned: WGSL copies them. */
    t = emit_ok("u32 twice(u32 x) {\n    x = x * 2u;\n    return x;\n}\n" K("p[0] = twice(n);"), RK_TGT_WGSL);
    has_all(t, "fn twice(rk_arg_x: u32) -> u32 {", "var x: u32 = rk_arg_x;", NULL);
    free(t);
}

/* Expects checking src for target t to fail with a diagnostic containing msg. */
static void check_rejects(const char *src, rk__target t, const char *msg)
{
    rk__ast ast = { 0 };
    rk__ir_module mod = { 0 };
    rk__diags d;

    rk__diag_init(&d, diag, sizeof diag);
    assert_int_equal(rk__parse(&ast, "k.rk", src, strlen(src), &d, 0), 0);
    assert_int_equal(rk__check(&ast, RK__TGT_BIT(t), &d, &mod, 0), 0);
    assert_true(d.errors > 0);
    if (strstr(diag, msg) == NULL)
        fail_msg("'%s' not in:\n%s", msg, diag);
    rk__ir_free(&mod);
    rk__ast_free(&ast);
}

static void test_gpu_rejections(void **state)
{
    (void)state;
    /* The target-capability check of the checker: no emitter ever sees these. */
    check_rejects(echo_rk, RK_TGT_GLSL, "ring kernel 'echo' is unsupported on glsl");
    check_rejects(echo_rk, RK_TGT_WGSL, "ring kernel 'echo' is unsupported on wgsl");
    check_rejects(echo_rk, RK_TGT_MSL, "ring kernel 'echo' is unsupported on msl");
    check_rejects(K("f64 d = (f64)s; p[0] = (u32)d;"), RK_TGT_WGSL, "type 'f64' is unsupported on wgsl");
    check_rejects("@kernel(global)\nvoid k(global u64 *p) {\n    atomic_add(p, 1u64);\n}\n", RK_TGT_WGSL,
                  "'atomic_add' is unsupported on wgsl: core WGSL has no 64-bit atomics");
    check_rejects("@kernel(global)\nvoid k(global u64 *p) {\n    atomic_add(p, 1u64);\n}\n", RK_TGT_MSL,
                  "'atomic_add' is unsupported on msl: Metal has no 64-bit atomic");
    check_rejects(K("f64 d = (f64)s; p[0] = (u32)d;"), RK_TGT_MSL, "type 'f64' is unsupported on msl");
    /* What the emitters cannot lower. */
    rejects(K("global u32 *q = p + 1u; q[0] = n;"), RK_TGT_GLSL, "pointer arithmetic");
    rejects(K("global u32 *q = p + 1u; q[0] = n;"), RK_TGT_WGSL, "'q': a pointer variable");
    rejects("struct V {\n    vec3<f32> a;\n    f32 b;\n    f32 pad[3];\n};\n@kernel(global)\nvoid k(global V *p) {\n"
            "    p[0].b = 1.0;\n}\n", RK_TGT_GLSL, "field 'b' is at offset 16 in C but 12 under std430");
    rejects("struct V {\n    vec3<f32> a;\n    f32 b;\n    f32 pad[3];\n};\n@kernel(global)\nvoid k(global V *p) {\n"
            "    p[0].b = 1.0;\n}\n", RK_TGT_WGSL, "field 'b' is at offset 16 in C but 12 under std430");
    rejects(K("for (u32 j = 0u; j < n; p[j * 2u] += 1u) {\n}"), RK_TGT_GLSL, "this target has no goto");
    rejects(K("for (u32 j = 0u; j < n; p[j * 2u] += 1u) {\n}"), RK_TGT_MSL, "this target has no goto");
    rejects("@kernel(global)\nvoid k(global u32 *p, vec4<f32> a, vec4<f32> b, vec4<f32> c, vec4<f32> d, vec4<f32> e,\n"
            "       vec4<f32> f, vec4<f32> g, vec4<f32> h, vec4<f32> i) {\n    p[0] = (u32)(a.x + i.x);\n}\n",
            RK_TGT_GLSL, "144 bytes of scalar parameters: push constants hold 128");
    rejects("u32 h(u32 x) {\n    return x + 1u;\n}\n" K("p[0] = n > 1u ? h(n) : 0u;"), RK_TGT_WGSL,
            "WGSL's select() evaluates both sides");
    rejects(K("atomic_add(p, 1u);\np[1] = n;"), RK_TGT_WGSL, "'p' is used atomically and also read or written");
    rejects(K("atomic_add(p, 1u);\np[1] = n;"), RK_TGT_MSL, "'p' is used atomically and also read or written");
    rejects("struct S {\n    u32 a;\n    u32 b;\n};\n@kernel(global)\nvoid k(global u32 *p, S s) {\n    p[0] = s.a;\n}\n",
            RK_TGT_WGSL, "WGSL's uniform layout differs from C");
    rejects("@kernel(global)\nvoid k(global u32 *p) {\n    p[0] = global_id();\n}\n"
            "@kernel(global)\nvoid k2(global u32 *p) {\n    p[1] = 1u;\n}\n",
            RK_TGT_WGSL, "'p' is a buffer or shared variable of kernels 'k' and 'k2'");
    rejects(K("p[0] = atomic_cas(p, 0u, n);"), RK_TGT_WGSL, "needs 'rk_atomic_cas'");
    rejects("void set(u32 *o, u32 v) {\n    o[0] = v;\n}\n" K("u32 x = 0u; set(&x, n); p[0] = x;"), RK_TGT_GLSL,
            "indexing an out-parameter");
}

/* Compiles the GLSL of src (one shader per kernel when define is set) and validates its SPIR-V. */
static void spirv(const char *name, const char *src, const char *define)
{
    char path[1024];
    char *text = emit_ok(src, RK_TGT_GLSL);

    snprintf(path, sizeof path, "%s/%s.comp", tmpdir, name);
    write_file(path, text);
    free(text);
    assert_int_equal(sh("glslangValidator -V --target-env vulkan1.1 %s%s %s -o %s/%s.spv 2>&1", define ? "-D" : "",
                        define ? define : "", path, tmpdir, name),
                     0);
    assert_int_equal(sh("spirv-val --target-env vulkan1.1 %s/%s.spv 2>&1", tmpdir, name), 0);
}

static void test_glsl_spirv(void **state)
{
    (void)state;
    spirv("saxpy", saxpy_rk, NULL);
    spirv("sum_u32", sum_rk, NULL);
    spirv("heat7", heat7_rk, NULL);
    spirv("mix_integrate", mix_rk, "RK_KERNEL_integrate");
    spirv("mix_blur2d", mix_rk, "RK_KERNEL_blur2d");
    spirv("int64", GLSL_INT64, NULL);
    spirv("f64", GLSL_F64, NULL);
    spirv("zero", GLSL_ZERO, NULL);
    spirv("intr", intr_rk, NULL);
    spirv("glsl_intr", glsl_intr_rk, NULL);
    /* A multi-kernel shader without a kernel chosen does not compile: it says so. */
    {
        char path[1024], cmd[3072];
        char *text = emit_ok(mix_rk, RK_TGT_GLSL), *log;

        snprintf(path, sizeof path, "%s/mix.comp", tmpdir);
        write_file(path, text);
        free(text);
        snprintf(cmd, sizeof cmd, "glslangValidator -V --target-env vulkan1.1 %s -o %s/mix.spv > %s/mix.log 2>&1",
                 path, tmpdir, tmpdir);
        assert_int_not_equal(system(cmd), 0);
        snprintf(path, sizeof path, "%s/mix.log", tmpdir);
        log = read_file(path);
        assert_non_null(log);
        assert_non_null(strstr(log, "define RK_KERNEL_<name>"));
        free(log);
    }
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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "spirv") == 0) {
        const struct CMUnitTest spirv_tests[] = { cmocka_unit_test(test_glsl_spirv) };

        if (system("command -v glslangValidator > /dev/null 2>&1 && command -v spirv-val > /dev/null 2>&1") != 0) {
            printf("glslangValidator or spirv-val not found (Debian: glslang-tools, spirv-tools): skipped\n");
            return 77;
        }
        return cmocka_run_group_tests(spirv_tests, setup, teardown);
    }
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
        cmocka_unit_test(test_golden_gpu),
        cmocka_unit_test(test_gpu_structure),
        cmocka_unit_test(test_gpu_lowering_details),
        cmocka_unit_test(test_gpu_rejections),
        cmocka_unit_test(test_gpu_intrinsics),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
