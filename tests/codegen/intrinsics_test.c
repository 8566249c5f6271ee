/* intrinsics_test.c - the intrinsic table (src/codegen/intrinsics.def, intrinsics.c).
 *
 * Table sanity (size, unique names, categories, every signature parses, every template expands with its
 * arity, every requirement is well formed), the target truths the checker relies on (no 64-bit atomics
 * or f64 in core WGSL, no f64 in Metal, no double trigonometry in GLSL, extensions named), exact
 * spellings, the signature notation and its errors, and template expansion including short buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/intrinsics.h"
#include "ringkernel/error.h"

static const rk__intrinsic *row(const char *name)
{
    const rk__intrinsic *in = rk__intr_lookup(name, strlen(name));

    assert_non_null(in);
    assert_string_equal(in->name, name);
    return in;
}

/* ---- Table sanity. ---- */

static void test_table_size_and_names(void **state)
{
    size_t n = rk__intr_count();
    size_t per_cat[RK_IC_COUNT] = { 0 };

    (void)state;
    assert_true(n >= 120);
    assert_null(rk__intr_at(n));
    for (size_t i = 0; i < n; i++) {
        const rk__intrinsic *in = rk__intr_at(i);

        assert_non_null(in);
        assert_true((unsigned)in->cat < RK_IC_COUNT);
        assert_true(in->kinds != 0 && (in->kinds & ~RK_IK_ANY) == 0);
        per_cat[in->cat]++;
        assert_ptr_equal(rk__intr_lookup(in->name, strlen(in->name)), in);
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(in->name, rk__intr_at(j)->name);
        }
    }
    for (int c = 0; c < RK_IC_COUNT; c++) {
        printf("  %-16s %zu\n", rk__intr_cat_name((rk__intr_cat)c), per_cat[c]);
        assert_true(per_cat[c] >= 3);
    }
    printf("  %-16s %zu\n", "total", n);
    assert_null(rk__intr_lookup("no_such_intrinsic", 17));
    assert_null(rk__intr_lookup("sqr", 3));
    assert_ptr_equal(rk__intr_lookup("sqrtXYZ", 4), row("sqrt"));
    assert_null(rk__intr_lookup(NULL, 0));
    assert_string_equal(rk__intr_cat_name(RK_IC_COUNT), "?");
    assert_string_equal(rk__intr_target_name(RK_TGT_WGSL), "wgsl");
}

static void test_table_signatures_and_templates(void **state)
{
    static const char *const args[RK_INTR_MAX_PARAMS] = { "a", "b", "c", "d" };
    char buf[512];

    (void)state;
    for (size_t i = 0; i < rk__intr_count(); i++) {
        const rk__intrinsic *in = rk__intr_at(i);
        rk__intr_sig sig;

        if (rk__intr_parse_sig(in->sig, &sig) != 0) {
            fail_msg("%s: %s", in->name, rk_last_error());
        }
        assert_true(sig.min_params <= sig.max_params);
        for (int t = 0; t < RK_TGT_COUNT; t++) {
            const char *s = in->spell[t];
            const char *tmpl = s;
            int n;

            assert_non_null(s);
            if (s[0] == '!') {
                assert_true(strlen(s) > 8); /* a reason a user can act on */
                continue;
            }
            if (s[0] == '[') {
                const char *end = strchr(s, ']');

                assert_non_null(end);
                assert_true(end > s + 1);
                tmpl = end + 1;
            }
            assert_true(tmpl[0] != '\0');
            /* Every argument slot ($N) is a required argument: the template expands with min_params. The
             * exception is at(), which the IR lowers as RK_IR_NEIGHBOR with all three offsets (dz 0 in 2D). */
            n = rk__intr_expand(tmpl, args, strcmp(in->name, "at") == 0 ? sig.max_params : sig.min_params, buf,
                                sizeof buf);
            if (n < 0) {
                fail_msg("%s on %s: %s", in->name, rk__intr_target_name((rk__target)t), rk_last_error());
            }
            assert_true((size_t)n < sizeof buf);
            assert_int_equal(rk__intr_expand(tmpl, args, sig.max_params, buf, sizeof buf) >= 0, 1);
        }
    }
}

/* ---- Target truths. ---- */

static void expect_unsupported(const char *name, rk__target t, rk__base_type b, const char *reason)
{
    rk__intr_spelling sp = { "untouched", { NULL, 0 }, NULL };
    char head[128];

    assert_int_equal(rk__intr_support(row(name), t, b, &sp), RK_ENOTSUP);
    assert_string_equal(sp.tmpl, "untouched");
    snprintf(head, sizeof head, "'%s' is unsupported on %s: ", name, rk__intr_target_name(t));
    assert_non_null(strstr(rk_last_error(), head));
    if (strstr(rk_last_error(), reason) == NULL) {
        fail_msg("detail \"%s\" lacks \"%s\"", rk_last_error(), reason);
    }
}

static void expect_spelling(const char *name, rk__target t, rk__base_type b, const char *tmpl, const char *req)
{
    rk__intr_spelling sp;

    if (rk__intr_support(row(name), t, b, &sp) != 0) {
        fail_msg("%s: %s", name, rk_last_error());
    }
    assert_string_equal(sp.tmpl, tmpl);
    if (req == NULL) {
        assert_int_equal(sp.require.len, 0);
    } else {
        assert_int_equal(sp.require.len, strlen(req));
        assert_memory_equal(sp.require.ptr, req, strlen(req));
    }
}

static void test_target_limits(void **state)
{
    /* Unsupported uses and the reason their diagnostic must give. */
    static const struct { const char *name; rk__target t; rk__base_type b; const char *reason; } no[] = {
        { "atomic_add", RK_TGT_WGSL, RK_BT_U64, "core WGSL has no 64-bit atomics" },
        { "atomic_cas", RK_TGT_WGSL, RK_BT_U64, "core WGSL has no 64-bit atomics" },
        { "atomic_max", RK_TGT_MSL, RK_BT_U64, "Metal has no 64-bit atomic" },
        { "atomic_add_f32", RK_TGT_WGSL, RK_BT_NONE, "no floating-point atomics" },
        { "sqrt", RK_TGT_WGSL, RK_BT_F64, "WGSL has no f64" },
        { "sqrt", RK_TGT_MSL, RK_BT_F64, "Metal has no f64" },
        { "exp", RK_TGT_MSL, RK_BT_F64, "Metal has no f64" },
        { "sin", RK_TGT_GLSL, RK_BT_F64, "only 32-bit floats" },
        { "f64_as_u64", RK_TGT_WGSL, RK_BT_NONE, "core WGSL has no 64-bit integers" },
        { "u64_as_f64", RK_TGT_MSL, RK_BT_NONE, "Metal has no f64" },
        { "popcount64", RK_TGT_WGSL, RK_BT_U64, "core WGSL has no 64-bit integers" },
        { "reply", RK_TGT_WGSL, RK_BT_NONE, "ring actors run only on the CUDA and CPU backends" },
        { "grid_sync", RK_TGT_MSL, RK_BT_NONE, "no grid-wide barrier" },
        { "fence_device", RK_TGT_WGSL, RK_BT_NONE, "WGSL has no memory fence" },
        { "clock", RK_TGT_WGSL, RK_BT_NONE, "WGSL has no shader clock" },
        { "copysign", RK_TGT_GLSL, RK_BT_F32, "GLSL has no copysign" },
    };
    /* Supported uses: the exact template and the requirement (NULL: none). */
    static const struct { const char *name; rk__target t; rk__base_type b; const char *tmpl, *req; } yes[] = {
        { "atomic_add", RK_TGT_WGSL, RK_BT_U32, "atomicAdd(&$0, $1)", NULL },
        { "atomic_add", RK_TGT_CUDA, RK_BT_U64, "atomicAdd(&$0, $1)", NULL },
        { "atomic_add", RK_TGT_C, RK_BT_U64, "__atomic_fetch_add(&$0, $1, __ATOMIC_RELAXED)", NULL },
        { "atomic_add_f32", RK_TGT_GLSL, RK_BT_NONE, "atomicAdd($0, $1)", "GL_EXT_shader_atomic_float" },
        { "sqrt", RK_TGT_GLSL, RK_BT_F64, "sqrt", NULL },
        { "sin", RK_TGT_WGSL, RK_BT_F32, "sin", NULL },
        { "barrier", RK_TGT_CUDA, RK_BT_NONE, "__syncthreads()", NULL },
        { "barrier", RK_TGT_GLSL, RK_BT_NONE, "barrier()", NULL },
        { "barrier", RK_TGT_WGSL, RK_BT_NONE, "workgroupBarrier()", NULL },
        { "barrier", RK_TGT_MSL, RK_BT_NONE, "threadgroup_barrier(mem_flags::mem_threadgroup)", NULL },
        { "atomic_add", RK_TGT_MSL, RK_BT_I32, "atomic_fetch_add_explicit(&$0, $1, memory_order_relaxed)", NULL },
        { "rsqrt", RK_TGT_GLSL, RK_BT_F32, "inversesqrt", NULL },
        { "rsqrt", RK_TGT_WGSL, RK_BT_F32, "inverseSqrt", NULL },
        { "f32_as_u32", RK_TGT_CUDA, RK_BT_NONE, "__float_as_uint", NULL },
        { "f32_as_u32", RK_TGT_WGSL, RK_BT_NONE, "bitcast<u32>", NULL },
        { "f32_as_u32", RK_TGT_MSL, RK_BT_NONE, "as_type<uint>", NULL },
        { "local_id3", RK_TGT_GLSL, RK_BT_NONE, "gl_LocalInvocationID", NULL },
        { "shuffle_xor", RK_TGT_CUDA, RK_BT_F32, "__shfl_xor_sync(0xffffffffu, $0, $1)", NULL },
        { "shuffle", RK_TGT_GLSL, RK_BT_U32, "subgroupShuffle($0, $1)", "GL_KHR_shader_subgroup_shuffle" },
        { "warp_sum", RK_TGT_WGSL, RK_BT_F32, "subgroupAdd($0)", "subgroups" },
        { "hlc_now", RK_TGT_CUDA, RK_BT_NONE, "rk_hlc_now(rk_ctx)", NULL },
        /* Portable C: a subgroup of one lane. */
        { "warp_size", RK_TGT_C, RK_BT_NONE, "1u", NULL },
        { "lane_id", RK_TGT_C, RK_BT_NONE, "0u", NULL },
        { "warp_sum", RK_TGT_C, RK_BT_I32, "$0", NULL },
    };
    rk__intr_spelling sp;

    (void)state;
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        expect_unsupported(no[i].name, no[i].t, no[i].b, no[i].reason);
    }
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        expect_spelling(yes[i].name, yes[i].t, yes[i].b, yes[i].tmpl, yes[i].req);
    }

    /* GLSL reaches 64-bit integers and 64-bit atomics through extensions, named apart from the row's. */
    assert_int_equal(rk__intr_support(row("atomic_add"), RK_TGT_GLSL, RK_BT_U64, &sp), 0);
    assert_string_equal(sp.tmpl, "atomicAdd($0, $1)");
    assert_string_equal(sp.type_need, "GL_EXT_shader_atomic_int64");
    assert_int_equal(rk__intr_support(row("atomic_add"), RK_TGT_GLSL, RK_BT_U32, &sp), 0);
    assert_null(sp.type_need);
    assert_int_equal(rk__intr_support(row("clock"), RK_TGT_GLSL, RK_BT_NONE, &sp), 0);
    assert_string_equal(sp.type_need, "GL_ARB_gpu_shader_int64");

    /* Kernel kinds, and a bad target. */
    assert_int_equal(row("reply")->kinds, RK_IK_RING);
    assert_int_equal(row("at")->kinds, RK_IK_STENCIL | RK_IK_PSTENCIL);
    assert_int_equal(row("sqrt")->kinds, RK_IK_ANY);
    assert_int_equal(rk__intr_support(row("sqrt"), RK_TGT_COUNT, RK_BT_F32, &sp), RK_EINVAL);
}

/* ---- Signatures. ---- */

static void test_signatures(void **state)
{
    static const char *const bad[] = {
        "f32(f32",          "q32()",           "T(T)",          "f32(f32) T:float", "T(T) S:struct",
        "f32(global f32)",  "f32(f32[,f32],f32)", "E(f32)",     "vec5<f32>()",      "vec2<bool>()",
        "f32(f32) T:nope",  "T(T,S) T:num",    "f32(void)",     "f32(f32)x",        "i32(S) S:struct",
        "f32(f32,f32,f32,f32,f32)", "f32(f32[,f32)",
    };
    rk__intr_sig s;

    (void)state;
    assert_int_equal(rk__intr_parse_sig("T(global T*,i32,i32[,i32]) T:num", &s), 0);
    assert_int_equal(s.min_params, 3);
    assert_int_equal(s.max_params, 4);
    assert_int_equal(s.tclass, RK_TC_NUM);
    assert_int_equal(s.ret.kind, RK_IP_TVAR);
    assert_int_equal(s.params[0].kind, RK_IP_TVAR);
    assert_true(s.params[0].is_ptr);
    assert_false(s.params[0].space_any);
    assert_int_equal(s.params[0].space, RK_AS_GLOBAL);
    assert_int_equal(s.params[3].base, RK_BT_I32);

    assert_int_equal(rk__intr_parse_sig("T(T*,T) T:atom", &s), 0);
    assert_true(s.params[0].is_ptr && s.params[0].space_any);

    assert_int_equal(rk__intr_parse_sig("E(T,T) T:fvec", &s), 0);
    assert_int_equal(s.ret.kind, RK_IP_ELEM);

    assert_int_equal(rk__intr_parse_sig("vec2<f32>(u32)", &s), 0);
    assert_int_equal(s.ret.base, RK_BT_VEC);
    assert_int_equal(s.ret.elem, RK_BT_F32);
    assert_int_equal(s.ret.vec_len, 2);
    assert_int_equal(s.params[0].base, RK_BT_U32);
    assert_int_equal(s.tclass, RK_TC_NONE);

    assert_int_equal(rk__intr_parse_sig("i32(str,private S*) S:struct", &s), 0);
    assert_int_equal(s.params[0].kind, RK_IP_STR);
    assert_int_equal(s.params[1].space, RK_AS_PRIVATE);
    assert_false(s.params[1].space_any);

    assert_int_equal(rk__intr_parse_sig("void()", &s), 0);
    assert_int_equal(s.ret.base, RK_BT_VOID);
    assert_int_equal(s.max_params, 0);
    assert_int_equal(rk__intr_parse_sig("hlc_ts(hlc_ts)", &s), 0);
    assert_int_equal(s.ret.kind, RK_IP_HLC);

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (rk__intr_parse_sig(bad[i], &s) != RK_EINVAL) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        assert_non_null(strstr(rk_last_error(), bad[i]));
    }

    assert_true(rk__intr_class_accepts(RK_TC_VFLOAT, RK_BT_VEC, RK_BT_F32, 3));
    assert_true(rk__intr_class_accepts(RK_TC_VFLOAT, RK_BT_F64, RK_BT_NONE, 0));
    assert_false(rk__intr_class_accepts(RK_TC_VFLOAT, RK_BT_I32, RK_BT_NONE, 0));
    assert_false(rk__intr_class_accepts(RK_TC_FVEC3, RK_BT_VEC, RK_BT_F32, 4));
    assert_true(rk__intr_class_accepts(RK_TC_ATOM, RK_BT_U64, RK_BT_NONE, 0));
    assert_false(rk__intr_class_accepts(RK_TC_ATOM, RK_BT_I64, RK_BT_NONE, 0));
    assert_false(rk__intr_class_accepts(RK_TC_NUM32, RK_BT_F64, RK_BT_NONE, 0));
    assert_true(rk__intr_class_accepts(RK_TC_STRUCT, RK_BT_STRUCT, RK_BT_NONE, 0));
    assert_false(rk__intr_class_accepts(RK_TC_VNUM, RK_BT_VEC, RK_BT_BOOL, 2));
}

/* ---- Template expansion. ---- */

static void expect_expand(const char *tmpl, const char *const *args, unsigned nargs, const char *want)
{
    char buf[64];

    assert_int_equal(rk__intr_expand(tmpl, args, nargs, buf, sizeof buf), (int)strlen(want));
    assert_string_equal(buf, want);
}

static void test_expand(void **state)
{
    const char *a2[] = { "total[0]", "part[0]" };
    const char *ab[] = { "a", "b" };
    char buf[64];
    char small[5];

    (void)state;
    expect_expand("atomicAdd(&$0, $1)", a2, 2, "atomicAdd(&total[0], part[0])");
    expect_expand("atomicAdd($0, $1)", a2, 2, "atomicAdd(total[0], part[0])");
    expect_expand("min", ab, 2, "min(a, b)");
    expect_expand("bitcast<u32>", ab, 1, "bitcast<u32>(a)");
    expect_expand("threadIdx", NULL, 0, "threadIdx");
    expect_expand("($0 - floor($0))", ab, 1, "(a - floor(a))");
    expect_expand("$$x$1", ab, 2, "$xb");

    /* Too small: truncated, NUL-terminated, the full length returned; cap 0 only measures. */
    memset(small, 'Z', sizeof small);
    assert_int_equal(rk__intr_expand("atomicAdd(&$0, $1)", a2, 2, small, sizeof small), 29);
    assert_string_equal(small, "atom");
    assert_int_equal(rk__intr_expand("atomicAdd(&$0, $1)", a2, 2, NULL, 0), 29);
    assert_int_equal(rk__intr_expand("min", ab, 2, small, sizeof small), 9);
    assert_string_equal(small, "min(");
    {
        char exact[30];

        assert_int_equal(rk__intr_expand("atomicAdd(&$0, $1)", a2, 2, exact, sizeof exact), 29);
        assert_string_equal(exact, "atomicAdd(&total[0], part[0])");
        /* One byte short: the last character gives way to the NUL. */
        assert_int_equal(rk__intr_expand("atomicAdd(&$0, $1)", a2, 2, exact, sizeof exact - 1), 29);
        assert_string_equal(exact, "atomicAdd(&total[0], part[0]");
    }

    /* Errors. */
    assert_int_equal(rk__intr_expand("f($2)", ab, 2, buf, sizeof buf), RK_EINVAL);
    assert_non_null(strstr(rk_last_error(), "$2"));
    assert_int_equal(rk__intr_expand("f($0)", NULL, 0, buf, sizeof buf), RK_EINVAL);
    assert_int_equal(rk__intr_expand("f(a)$", ab, 2, buf, sizeof buf), RK_EINVAL);
    assert_int_equal(rk__intr_expand("f($x)", ab, 2, buf, sizeof buf), RK_EINVAL);
    assert_int_equal(rk__intr_expand(NULL, ab, 2, buf, sizeof buf), RK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_size_and_names),
        cmocka_unit_test(test_table_signatures_and_templates),
        cmocka_unit_test(test_target_limits),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_expand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
