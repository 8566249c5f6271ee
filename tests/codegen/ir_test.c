/* ir_test.c - the typed IR (src/codegen/ir.c) built by the checker: golden dumps of the four examples of
 * docs/DSL.md §8 (tests/codegen/golden/<name>.ir; run with RK_UPDATE_GOLDEN=1 to rewrite them after an
 * intended change), and focused lowering cases: conversions become casts and splats, a compound
 * assignment computes its target's index once, `x++` is a store of x + 1, loops keep their structure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/checker.h"
#include "dsl_examples.h"

static rk__ast ast;
static rk__ir_module mod;
static char text[16384];

/* Checks src (which must be clean for the targets) and returns its dump. */
static const char *dump(const char *src, unsigned targets)
{
    rk__diags d;
    char diag[4096];
    size_t n;

    rk__ir_free(&mod);
    rk__ast_free(&ast);
    rk__diag_init(&d, diag, sizeof diag);
    assert_int_equal(rk__parse(&ast, "k.rk", src, strlen(src), &d, 0), 0);
    assert_int_equal(rk__check(&ast, targets, &d, &mod, 0), 0);
    if (d.errors)
        fail_msg("diagnostics:\n%s", diag);
    n = rk__ir_dump(&mod, text, sizeof text);
    assert_true(n < sizeof text);
    assert_int_equal(n, strlen(text));
    /* The dump is a pure function of the module. */
    {
        static char again[sizeof text];

        assert_int_equal(rk__ir_dump(&mod, again, sizeof again), n);
        assert_string_equal(again, text);
    }
    return text;
}

static void golden(const char *name, const char *src, unsigned targets)
{
    char path[1024], want[sizeof text];
    const char *got = dump(src, targets);
    FILE *f;
    size_t n;

    snprintf(path, sizeof path, "%s/%s.ir", RK_GOLDEN_DIR, name);
    if (getenv("RK_UPDATE_GOLDEN")) {
        f = fopen(path, "wb");
        assert_non_null(f);
        fputs(got, f);
        fclose(f);
    }
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("missing golden file %s", path);
    n = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    want[n] = '\0';
    assert_string_equal(got, want);
}

static void test_golden_examples(void **state)
{
    (void)state;
    golden("saxpy", saxpy_rk, RK__TGT_ALL);
    golden("sum_u32", sum_rk, RK__TGT_ALL);
    golden("heat7", heat7_rk, RK__TGT_ALL);
    golden("echo", echo_rk, RK__TGT_BIT(RK_TGT_CUDA) | RK__TGT_BIT(RK_TGT_C));
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("'%s' not in:\n%s", needle, hay);
}

static unsigned count_of(const char *hay, const char *needle)
{
    unsigned n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

#define K(body) "@kernel(global)\nvoid k(global u32 *p, u32 n, vec2<f32> v, f32 s) {\n" body "\n}\n"

static void test_conversions_are_explicit(void **state)
{
    const char *t;

    (void)state;
    /* A shift count of another width is cast to the shifted type. */
    t = dump(K("u64 x = 1; x = x << n;"), 0);
    expect_in(t, "var x%4: u64 = 1:u64\n");
    expect_in(t, "set x%4 = (shl:u64 x%4 (cast:u64 n%1))\n");
    /* A scalar beside a vector is splatted by an explicit constructor, on either side. */
    t = dump(K("vec2<f32> w = v * s; w = 2.0 * w;"), 0);
    expect_in(t, "(mul:vec2<f32> v%2 (vec:vec2<f32> s%3))");
    expect_in(t, "(mul:vec2<f32> (vec:vec2<f32> 2:f32) w%4)");
    /* Untyped literals take the context's type; a cast of one is folded into the constant. */
    t = dump(K("u64 big = 1 << 40; f64 h = (f64)3; i32 m = -2147483648; u32 q = (u32)-1;"), 0);
    expect_in(t, "(shl:u64 1:u64 40:u64)");
    expect_in(t, "var h%5: f64 = 3:f64\n");
    expect_in(t, "var m%6: i32 = -2147483648:i32\n");
    expect_in(t, "var q%7: u32 = (cast:u32 -1:i32)\n");
    /* A written cast stays a cast. */
    t = dump(K("f32 f = (f32)n;"), 0);
    expect_in(t, "var f%4: f32 = (cast:f32 n%1)\n");
}

static void test_compound_assignment_once(void **state)
{
    const char *t;

    (void)state;
    t = dump("u32 pick(u32 i) {\n    return i * 2u;\n}\n"
             K("p[pick(n)] += 1u;\n    p[n] *= 3u;\n    n++;\n    s -= 1.0;"), 0);
    /* The index is a call: computed once into a temporary, then loaded and stored through it. */
    assert_int_equal(count_of(t, "(call pick:u32 n%1)"), 1);
    expect_in(t, "let tmp%4: u32 = (call pick:u32 n%1)\n");
    expect_in(t, "set (index:u32 p%0 tmp%4) = (add:u32 (index:u32 p%0 tmp%4) 1:u32)\n");
    /* A variable index needs no temporary. */
    expect_in(t, "set (index:u32 p%0 n%1) = (mul:u32 (index:u32 p%0 n%1) 3:u32)\n");
    expect_in(t, "set n%1 = (add:u32 n%1 1:u32)\n");
    expect_in(t, "set s%3 = (sub:f32 s%3 1:f32)\n");
    assert_int_equal(count_of(t, "tmp%"), 3); /* one declaration, two uses */
}

static void test_structured_loops(void **state)
{
    const char *t;

    (void)state;
    t = dump(K("for (u32 i = 0u; i < n; i++) {\n        if (i == 3u) { continue; }\n        if (i == 7u) { break; }\n"
               "        p[i] = i;\n    }\n    while (n > 0u) { n = n - 1u; }"), 0);
    expect_in(t, "  {\n    var i%4: u32 = 0:u32\n    loop while (lt:bool i%4 n%1) {\n");
    expect_in(t, "      if (eq:bool i%4 3:u32) {\n        continue\n      }\n");
    expect_in(t, "    } continuing {\n      set i%4 = (add:u32 i%4 1:u32)\n    }\n");
    expect_in(t, "  loop while (gt:bool n%1 0:u32) {\n    set n%1 = (sub:u32 n%1 1:u32)\n  }\n");
}

static void test_kernel_metadata(void **state)
{
    const char *t;

    (void)state;
    t = dump("@kernel(stencil, radius = 2, dims = 2, workgroup = 64)\n"
             "void blur(global const f32 *u, global f32 *v) {\n"
             "    store(v, at(u, -2, 1) + at(u, 2, 0));\n}\n", RK__TGT_ALL);
    expect_in(t, "kind stencil workgroup 8x8x1 radius 2 dims 2\n");
    expect_in(t, "(at:f32 u%0 -2 1 0)");
    expect_in(t, "param u%0: global const f32* access r\n");
    expect_in(t, "param v%1: global f32* access w\n");
    assert_non_null(mod.funcs);
    assert_int_equal(mod.funcs->kind, RK_KK_STENCIL);
    assert_int_equal(mod.funcs->radius, 2);
    t = dump("const u32 N = 64u;\n@kernel(global, workgroup = 64)\nvoid k(global u32 *out) {\n"
             "    shared u32 tile[N];\n    tile[local_id()] = 1u;\n    barrier();\n    out[0] = tile[0];\n}\n", 0);
    expect_in(t, "const N%0: u32 = 64:u32\n");
    expect_in(t, "  shared tile%1: u32[64]\n");
    assert_int_equal(mod.funcs->nshared, 1);
    assert_int_equal(mod.funcs->workgroup[0], 64);
}

/* Intrinsic nodes name their table row and the bound type variable. */
static void test_intrinsic_rows(void **state)
{
    const rk__ir_stmt *s;
    const rk__intrinsic *in;

    (void)state;
    dump(sum_rk, 0);
    s = mod.funcs->body.tail->u.if_s.then_s.head;
    assert_int_equal(s->kind, RK_IR_S_EXPR);
    assert_int_equal(s->u.expr->kind, RK_IR_INTRIN);
    in = rk__intr_at(s->u.expr->u.intr.row);
    assert_non_null(in);
    assert_string_equal(in->name, "atomic_add");
    assert_int_equal(s->u.expr->u.intr.tvar->kind, RK_TY_U32);
}

static void test_dump_truncates(void **state)
{
    char small[16];
    size_t n;

    (void)state;
    dump(saxpy_rk, 0);
    n = rk__ir_dump(&mod, small, sizeof small);
    assert_int_equal(n, strlen(text));
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, text, sizeof small - 1);
    assert_int_equal(rk__ir_dump(&mod, NULL, 0), n);
}

static int teardown(void **state)
{
    (void)state;
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_examples),
        cmocka_unit_test(test_conversions_are_explicit),
        cmocka_unit_test(test_compound_assignment_once),
        cmocka_unit_test(test_structured_loops),
        cmocka_unit_test(test_kernel_metadata),
        cmocka_unit_test(test_intrinsic_rows),
        cmocka_unit_test(test_dump_truncates),
    };

    return cmocka_run_group_tests(tests, NULL, teardown);
}
