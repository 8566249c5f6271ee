/* checker_test.c - the kernel-language checker (src/codegen/checker.c) against docs/DSL.md §3-§6 and §9.
 *
 * The four examples of DSL.md §8 check clean for every target that can run them (the ring handler only on
 * CUDA and C, with exact diagnostics elsewhere); 71 bad programs, each with its exact first diagnostic and
 * its error count; per-target capability errors from the intrinsic table's limits; several independent
 * errors reported in one run; and 3 000 random byte mutations of the examples that parse, which must
 * check without a crash (ASan-clean in the sanitizer build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/checker.h"
#include "dsl_examples.h"
#include "mix64.h"

typedef struct checked {
    rk__ast ast;
    rk__ir_module m;
    rk__diags d;
    int rc;
    char diag[16384];
} checked;

static checked last; /* the latest result of check(), freed by the next call and by teardown() */

/* Parses (which must succeed without errors) and checks src named "k.rk" for the targets; the previous
 * result is freed. */
static checked *check(const char *src, unsigned targets)
{
    rk__ir_free(&last.m);
    rk__ast_free(&last.ast);
    memset(&last, 0, sizeof last);
    rk__diag_init(&last.d, last.diag, sizeof last.diag);
    assert_int_equal(rk__parse(&last.ast, "k.rk", src, strlen(src), &last.d, 0), 0);
    if (last.d.errors)
        fail_msg("parse errors:\n%s", last.diag);
    last.rc = rk__check(&last.ast, targets, &last.d, &last.m, 0);
    assert_int_equal(last.rc, 0);
    return &last;
}

static void check_clean(const char *src, unsigned targets)
{
    checked *C = check(src, targets);

    if (C->d.errors)
        fail_msg("unexpected diagnostics:\n%s", C->diag);
    assert_non_null(C->m.funcs);
}

/* ---- The examples. ---- */

static void test_examples_clean(void **state)
{
    (void)state;
    check_clean(saxpy_rk, RK__TGT_ALL);
    check_clean(sum_rk, RK__TGT_ALL);
    check_clean(heat7_rk, RK__TGT_ALL);
    check_clean(echo_rk, RK__TGT_BIT(RK_TGT_CUDA) | RK__TGT_BIT(RK_TGT_C));
    check_clean(echo_rk, 0);
}

static void test_echo_on_shader_targets(void **state)
{
    checked *C = check(echo_rk, RK__TGT_ALL);

    (void)state;
    assert_int_equal(C->d.errors, 6);
    assert_non_null(strstr(C->diag, "k.rk:2:5: error: type 'u64' is unsupported on wgsl: core WGSL has no 64-bit integers\n"
                                    "    u64 value;\n    ^\n"));
    assert_non_null(strstr(C->diag, "k.rk:14:5: error: ring kernel 'echo' is unsupported on glsl: ring actors run only on "
                                    "the CUDA and CPU backends\n"));
    assert_non_null(strstr(C->diag, "ring kernel 'echo' is unsupported on wgsl"));
    assert_non_null(strstr(C->diag, "ring kernel 'echo' is unsupported on msl"));
    /* The body is not checked again for targets the kernel kind cannot run on: no cascade of intrinsics. */
    assert_null(strstr(C->diag, "'hlc_now' is unsupported"));
}

/* ---- Bad programs: exact first diagnostic and error count. ---- */

#define K(body) "@kernel(global)\nvoid k(global u32 *p, u32 n) {\n    " body "\n}\n"

static const struct bad {
    const char *src;
    unsigned errors;
    const char *first; /* the first line of the first diagnostic */
} bad[] = {
    { K("u32 x = 1.5;"), 1, "k.rk:3:13: error: type mismatch: expected 'u32', found 'f32'" },
    { K("f32 x = 1;  x = y;"), 1, "k.rk:3:21: error: unknown identifier 'y'" },
    { K("bool b = 1;"), 1, "k.rk:3:14: error: type mismatch: expected 'bool', found 'i32'" },
    { K("u32 x = -1;"), 1, "k.rk:3:13: error: integer literal does not fit in 'u32'" },
    { K("u32 x = n + 1.0;"), 1, "k.rk:3:15: error: operator '+' cannot be applied to 'u32' and 'f32'" },
    { K("i32 x = (i32)n + n;"), 1, "k.rk:3:20: error: operator '+' cannot be applied to 'i32' and 'u32'" },
    { K("if (n) { }"), 1, "k.rk:3:9: error: condition of 'if' must be 'bool', found 'u32'" },
    { K("while (1 < n) { n = 2u; } break;"), 1, "k.rk:3:31: error: 'break' outside a loop" },
    { K("continue;"), 1, "k.rk:3:5: error: 'continue' outside a loop" },
    { K("u32 x = n; u32 x = 2u;"), 1, "k.rk:3:20: error: 'x' is already declared in this scope" },
    { K("u32 min = 1u;"), 1, "k.rk:3:9: error: 'min' is predeclared and cannot be redeclared" },
    { K("u32 __x = 1u;"), 1, "k.rk:3:9: error: identifiers beginning with '__' are reserved" },
    { K("p[1.0] = 1u;"), 1, "k.rk:3:7: error: index must be an integer, found 'f32'" },
    { K("n[0] = 1u;"), 1, "k.rk:3:6: error: cannot index a value of type 'u32'" },
    { K("u32 x = p.x;"), 1, "k.rk:3:14: error: '.' on a pointer of type 'global u32*'; use '->'" },
    { K("vec2<f32> v = vec2<f32>(1.0, 2.0); f32 z = v.z;"), 1, "k.rk:3:49: error: invalid swizzle 'z' on 'vec2<f32>'" },
    { K("vec2<f32> v = vec2<f32>(1.0, 2.0); v.xx = vec2<f32>(0.0);"), 1, "k.rk:3:40: error: a swizzle with a repeated component is not assignable" },
    { K("vec3<f32> v = vec3<f32>(1.0, 2.0);"), 1, "k.rk:3:19: error: 'vec3<f32>' takes 1 or 3 arguments, found 2" },
    { K("u32 a[4]; a[4] = 1u;"), 1, "k.rk:3:17: error: index 4 is out of range for 'u32[4]'" },
    { K("u32 a[0];"), 1, "k.rk:3:11: error: array length 0 is out of range (1 to 16777216)" },
    { K("u32 a[n];"), 1, "k.rk:3:11: error: array length must be an integer constant expression" },
    { K("const u32 c = 1u; c = 2u;"), 1, "k.rk:3:23: error: cannot assign to a constant" },
    { K("const u32 c;"), 1, "k.rk:3:15: error: 'c' must be initialized" },
    { K("shared u32 s = 1u;"), 1, "k.rk:3:20: error: a 'shared' variable cannot have an initializer" },
    { K("u32 x = foo(1);"), 1, "k.rk:3:13: error: unknown function 'foo'" },
    { K("u32 x = sqrt(n);"), 1, "k.rk:3:18: error: argument 1 of 'sqrt' must be a float scalar or vector, found 'u32'" },
    { K("f32 x = sqrt(1.0, 2.0);"), 1, "k.rk:3:13: error: 'sqrt' takes 1 argument, found 2" },
    { K("atomic_add(n, 1u);"), 1, "k.rk:3:16: error: argument 1 of 'atomic_add' must be a pointer, found 'u32'" },
    { K("u32 x = reply(&n);"), 2, "k.rk:3:13: error: 'reply' is available only in ring kernels" },
    { K("u32 x = at(p, 0, 0);"), 1, "k.rk:3:13: error: 'at' is available only in stencil and persistent_stencil kernels" },
    { K("barrier = 1u;"), 1, "k.rk:3:5: error: intrinsic 'barrier' used as a value" },
    { K("u32 x = (u32)p;"), 1, "k.rk:3:13: error: cannot cast 'global u32*' to 'u32'" },
    { K("u32 x = *n;"), 1, "k.rk:3:13: error: cannot dereference a value of type 'u32'" },
    { K("u32 *q = &n;"), 2, "k.rk:3:5: error: a pointer to private memory cannot be stored in a variable" },
    { K("u32 x = true ? 1u : 1.0;"), 1, "k.rk:3:18: error: the branches of '?:' have different types 'u32' and 'f32'" },
    { K("u32 x = n && n;"), 1, "k.rk:3:15: error: operator '&&' cannot be applied to 'u32' and 'u32'" },
    { K("i32 x = 2147483648i32;"), 1, "k.rk:3:13: error: integer literal does not fit in 'i32'" },
    { K("global u32 *q = p; q = p;"), 1, "k.rk:3:24: error: cannot assign to a pointer" },
    { K("u32 x = n; x++; bool b = true; b++;"), 1, "k.rk:3:37: error: operator '++' cannot be applied to 'bool'" },
    { K("f32 f = 1.0; f %= 2.0;"), 1, "k.rk:3:20: error: operator '%' cannot be applied to 'f32' and 'f32'" },
    { K("u32 x = global_id;"), 1, "k.rk:3:13: error: intrinsic 'global_id' used as a value" },
    { K("publish(\"t\", n);"), 2, "k.rk:3:5: error: 'publish' is available only in ring kernels" },
    { "struct S { u32 a; u64 b; };\n", 1, "k.rk:1:19: error: struct 'S' has 4 bytes of implicit padding before field 'b'" },
    { "struct S { u64 a; u32 b; };\n", 1, "k.rk:1:1: error: struct 'S' has 4 bytes of implicit padding at its end" },
    { "struct S { bool b; u32 pad[3]; };\n", 2, "k.rk:1:12: error: field 'b' of struct 'S' is 'bool', which has no layout shared with C" },
    { "struct S { u32 a; u32 a; };\n", 1, "k.rk:1:23: error: duplicate field 'a' in struct 'S'" },
    { "@foo void f() { }\n", 1, "k.rk:1:1: error: unknown attribute '@foo'" },
    { "@kernel(blah) void k() { }\n", 1, "k.rk:1:9: error: unknown kernel kind 'blah' (global, stencil, ring or persistent_stencil)" },
    { "@kernel(stencil) void k(global f32 *u) { }\n", 1, "k.rk:1:23: error: stencil kernel 'k' needs 'radius = R' in '@kernel'" },
    { "@kernel(stencil, radius = 9) void k(global f32 *u) { }\n", 1, "k.rk:1:18: error: radius must be between 1 and 8" },
    { "@kernel(global, radius = 1) void k() { }\n", 1, "k.rk:1:34: error: 'radius' and 'dims' apply only to stencil kernels" },
    { "@kernel(stencil, radius = 1, tile = 1) void k(global f32 *u) { }\n", 1, "k.rk:1:30: error: '@kernel' argument 'tile' needs '= true' or '= false'" },
    { "@kernel(stencil, radius = 1, tile = yes) void k(global f32 *u) { }\n", 1, "k.rk:1:30: error: '@kernel' argument 'tile' needs '= true' or '= false'" },
    { "@kernel(global, tile = true) void k() { }\n", 1, "k.rk:1:35: error: 'tile' applies only to stencil kernels" },
    { "@kernel(global) i32 k() { return 0; }\n", 1, "k.rk:1:21: error: global kernel 'k' must return void" },
    { "@kernel(ring) i32 h(global u32 *a) { return 0; }\n", 1, "k.rk:1:19: error: ring handler 'h' must take (global const envelope *, global const T *, global S *)" },
    { "@kernel(global) void k(f32 *p) { }\n", 1, "k.rk:1:24: error: kernel parameter 'p' must point to global or constant memory" },
    { "i32 f(u32 x) { if (x > 0u) { return 1; } }\n", 1, "k.rk:1:5: error: function 'f' does not return a value on every path" },
    { "void f() { return 1; }\n", 1, "k.rk:1:12: error: 'return' with a value in void function 'f'" },
    { "i32 f() { return; }\n", 1, "k.rk:1:11: error: 'return' without a value in function 'f' returning 'i32'" },
    { "void f() { f(); }\n", 1, "k.rk:1:12: error: recursion is not allowed: 'f' calls itself" },
    { "@kernel(global) void k() { } void g() { k(); }\n", 1, "k.rk:1:41: error: cannot call kernel 'k'" },
    { "void f(u32 a) { } void g() { f(1u, 2u); }\n", 1, "k.rk:1:30: error: 'f' takes 1 argument, found 2" },
    { "void f(u32 a) { } void g() { f(1.0); }\n", 1, "k.rk:1:32: error: argument 1 of 'f' must be 'u32', found 'f32'" },
    { "void f() { shared u32 s[4]; }\n", 1, "k.rk:1:12: error: 'shared' variables may be declared only in kernels" },
    { "void f() { u32 x = global_id(); u32 y = grid_pos().x; }\n", 1, "k.rk:1:41: error: 'grid_pos' is available only in stencil and persistent_stencil kernels" },
    { "@kernel(stencil, radius = 1) void k(global const f32 *u, global f32 *v) { store(v, at(u, 2, 0, 0)); }\n", 1, "k.rk:1:90: error: offset 2 is outside the stencil radius 1" },
    { "@kernel(stencil, radius = 1, dims = 2) void k(global const f32 *u, global f32 *v) { store(v, at(u, 0, 0, 0)); }\n", 1, "k.rk:1:94: error: 'at' in a 2-dimensional stencil takes 2 offsets" },
    { "@kernel(stencil, radius = 1) void k(global const f32 *u, global f32 *v, i32 d) { store(v, at(u, d, 0, 0)); }\n", 1, "k.rk:1:97: error: offset of 'at' must be an integer constant expression" },
    { "@kernel(stencil, radius = 1) void k(global const f32 *u, global f32 *v) { store(u, 1.0); }\n", 1, "k.rk:1:81: error: argument 1 of 'store' must point to writable memory" },
    { "@kernel(persistent_stencil, radius = 1) void k(global f32 *u, global u32 *v) { }\n", 1, "k.rk:1:46: error: the first two pointer parameters of persistent_stencil kernel 'k' must have the same type" },
    { "@kernel(global) void k(constant u32 *c) { c[0] = 1u; }\n", 1, "k.rk:1:43: error: cannot write to 'constant' memory" },
    { "@kernel(global) void k(global const u32 *c) { atomic_add(c, 1u); }\n", 1, "k.rk:1:58: error: argument 1 of 'atomic_add' must point to writable memory" },
    { "const f32 F = 1.0; const u32 G = global_id();\n", 1, "k.rk:1:34: error: a constant cannot call a function" },
};

static void test_bad_programs(void **state)
{
    (void)state;
    assert_true(sizeof bad / sizeof bad[0] >= 40);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        checked *C = check(bad[i].src, RK__TGT_BIT(RK_TGT_CUDA));
        size_t n = strlen(bad[i].first);

        if (C->d.errors != bad[i].errors || strncmp(C->diag, bad[i].first, n) != 0 || C->diag[n] != '\n')
            fail_msg("case %zu:\n%s\nwant %u error(s), first:\n%s\ngot %u:\n%s", i, bad[i].src, bad[i].errors,
                     bad[i].first, (unsigned)C->d.errors, C->diag);
    }
}

/* The three lines of one diagnostic, caret included. */
static void test_diagnostic_format(void **state)
{
    checked *C = check(K("if (n) { }"), 0);

    (void)state;
    assert_string_equal(C->diag, "k.rk:3:9: error: condition of 'if' must be 'bool', found 'u32'\n"
                                 "    if (n) { }\n"
                                 "        ^\n");
}

/* Independent errors are all reported, and an error does not cascade into its users. */
static void test_many_errors(void **state)
{
    checked *C = check(K("u32 a = 1.5; f32 b = q + 1.0; u32 c = b; if (a) { break; }"), 0);

    (void)state;
    assert_int_equal(C->d.errors, 5);
    assert_non_null(strstr(C->diag, "k.rk:3:13: error: type mismatch: expected 'u32', found 'f32'"));
    assert_non_null(strstr(C->diag, "k.rk:3:26: error: unknown identifier 'q'"));
    assert_non_null(strstr(C->diag, "k.rk:3:43: error: type mismatch: expected 'u32', found 'f32'"));
    assert_non_null(strstr(C->diag, "error: condition of 'if' must be 'bool', found 'u32'"));
    assert_non_null(strstr(C->diag, "error: 'break' outside a loop"));
}

/* ---- Target capabilities. ---- */

static void expect_target_error(const char *src, unsigned targets, unsigned errors, const char *want)
{
    checked *C = check(src, targets);

    if (C->d.errors != errors || strstr(C->diag, want) == NULL)
        fail_msg("want %u error(s) with '%s', got %u:\n%s", errors, want, (unsigned)C->d.errors, C->diag);
}

static void test_targets(void **state)
{
    static const char f64_kernel[] = "@kernel(global)\nvoid k(global f64 *p) {\n    p[0] = sqrt(p[1]);\n}\n";
    static const char atomic64[] = "@kernel(global)\nvoid k(global u64 *p) {\n    atomic_add(p, 1);\n}\n";
    static const char sin64[] = "@kernel(global)\nvoid k(global f64 *p) {\n    p[0] = sin(p[0]);\n}\n";
    static const char pstencil[] =
        "@kernel(persistent_stencil, radius = 1)\nvoid k(global const f32 *u, global f32 *v) {\n"
        "    store(v, at(u, 1, 0, 0));\n}\n";

    (void)state;
    check_clean(f64_kernel, RK__TGT_BIT(RK_TGT_CUDA) | RK__TGT_BIT(RK_TGT_C) | RK__TGT_BIT(RK_TGT_GLSL));
    expect_target_error(f64_kernel, RK__TGT_BIT(RK_TGT_WGSL), 2,
                        "k.rk:2:15: error: type 'f64' is unsupported on wgsl: WGSL has no f64\n");
    expect_target_error(f64_kernel, RK__TGT_BIT(RK_TGT_MSL), 2,
                        "k.rk:3:12: error: 'sqrt' is unsupported on msl: Metal has no f64 (double)\n");
    check_clean(atomic64, RK__TGT_BIT(RK_TGT_CUDA) | RK__TGT_BIT(RK_TGT_C) | RK__TGT_BIT(RK_TGT_GLSL));
    expect_target_error(atomic64, RK__TGT_BIT(RK_TGT_WGSL), 2,
                        "k.rk:3:5: error: 'atomic_add' is unsupported on wgsl: core WGSL has no 64-bit atomics\n");
    expect_target_error(atomic64, RK__TGT_BIT(RK_TGT_MSL), 1,
                        "k.rk:3:5: error: 'atomic_add' is unsupported on msl: Metal has no 64-bit atomic");
    expect_target_error(sin64, RK__TGT_BIT(RK_TGT_GLSL), 1,
                        "k.rk:3:12: error: 'sin' is unsupported on glsl: the GLSL built-in takes only 32-bit floats\n");
    check_clean(pstencil, RK__TGT_BIT(RK_TGT_CUDA));
    expect_target_error(pstencil, RK__TGT_ALL, 3, "persistent_stencil kernel 'k' is unsupported on wgsl:");
}

/* ---- Robustness: random mutations of the examples. ---- */

static void test_mutations(void **state)
{
    static const char *const examples[] = { saxpy_rk, sum_rk, heat7_rk, echo_rk };
    static const char alphabet[] = "abxyz019_+-*/%&|^~!<>=()[]{};,.?:@\" \n";
    char src[2048];
    uint64_t seed = 42;
    unsigned checked_ok = 0;

    (void)state;
    for (unsigned it = 0; it < 3000; it++) {
        const char *ex = examples[it % 4];
        size_t len = strlen(ex);
        unsigned edits = 1 + (unsigned)((seed = mix64(seed + it)) % 4);

        memcpy(src, ex, len + 1);
        for (unsigned e = 0; e < edits; e++) {
            size_t at = (size_t)((seed = mix64(seed)) % len);
            unsigned op = (unsigned)(seed >> 32) % 3;
            char ch = alphabet[(seed >> 40) % (sizeof alphabet - 1)];

            if (op == 0) { /* replace */
                src[at] = ch;
            } else if (op == 1 && len > 1) { /* delete */
                memmove(src + at, src + at + 1, len - at);
                len--;
            } else if (len + 1 < sizeof src) { /* insert */
                memmove(src + at + 1, src + at, len - at + 1);
                src[at] = ch;
                len++;
            }
        }
        rk__ir_free(&last.m);
        rk__ast_free(&last.ast);
        memset(&last, 0, sizeof last);
        rk__diag_init(&last.d, last.diag, sizeof last.diag);
        assert_int_equal(rk__parse(&last.ast, "m.rk", src, len, &last.d, 0), 0);
        if (last.d.errors)
            continue;
        assert_int_equal(rk__check(&last.ast, RK__TGT_ALL, &last.d, &last.m, 0), 0);
        if (last.d.errors == 0) {
            char dump[8192];

            assert_true(rk__ir_dump(&last.m, dump, sizeof dump) > 0);
        }
        checked_ok++;
    }
    assert_true(checked_ok > 300); /* enough mutants parse to exercise the checker */
}

/* An IR that does not fit its memory limit fails cleanly, holding no memory. */
static void test_mem_limit(void **state)
{
    rk__ast ast;
    rk__diags d;
    rk__ir_module m;
    char diag[1024];

    (void)state;
    memset(&ast, 0, sizeof ast);
    rk__diag_init(&d, diag, sizeof diag);
    assert_int_equal(rk__parse(&ast, "k.rk", sum_rk, strlen(sum_rk), &d, 0), 0);
    assert_int_equal(rk__check(&ast, RK__TGT_ALL, &d, &m, 4096), RK_ELIMIT);
    assert_null(m.funcs);
    assert_int_equal(rk__check(NULL, 0, &d, &m, 0), RK_EINVAL);
    assert_int_equal(rk__check(&ast, 1u << RK_TGT_COUNT, &d, &m, 0), RK_EINVAL);
    rk__ast_free(&ast);
}

static int teardown(void **state)
{
    (void)state;
    rk__ir_free(&last.m);
    rk__ast_free(&last.ast);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_clean),
        cmocka_unit_test(test_echo_on_shader_targets),
        cmocka_unit_test(test_bad_programs),
        cmocka_unit_test(test_diagnostic_format),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_mem_limit),
    };

    return cmocka_run_group_tests(tests, NULL, teardown);
}
