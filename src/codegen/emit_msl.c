/* emit_msl.c - the Metal Shading Language target (docs/DSL.md "Code generation").
 *
 * A global kernel or a stencil becomes `kernel void name(...)`. The argument table the host fills
 * (setBuffer / setBytes), in parameter order, one index per parameter:
 *   - a pointer parameter is `device T *name [[buffer(k)]]` (`device const T *` when never written,
 *     `constant const T *` for the constant space); a buffer used by an atomic is `device atomic_uint *`
 *     (atomic_int) and may then be used only by atomics;
 *   - a scalar, vector or struct parameter is `constant T &name [[buffer(k)]]` (setBytes), copied to a
 *     local so the body may assign it;
 *   - a stencil appends `constant uint3 &rk_grid_size [[buffer(n)]]`.
 * Threadgroup size: the kernel's workgroup (one thread per item, or per interior point of a stencil).
 * The position builtins ([[thread_position_in_grid]], [[thread_position_in_threadgroup]], ...) are entry
 * parameters named as intrinsics.def spells them (rk_gid, rk_lid, rk_tgid, ...). Shared variables are
 * `threadgroup` arrays in the kernel. Metal has no f64 and no 64-bit atomic read-modify-write; the checker
 * rejects them. Ring and persistent_stencil kernels are rejected by the checker for MSL.
 *
 * No Metal compiler is available to the tests: the output is checked against golden files and for its
 * structure only (docs/DSL.md says so).
 */
#include <string.h>

#include "codegen/emit.h"

static const rk__emit_piece msl_pieces[] = {
    { "rk_at",
      "/* The index of a stencil's neighbour: rk_c is the point's linear index, rk_sy and rk_sz the strides. */\n"
      "#define rk_at(dx, dy, dz) (rk_c + (long)(dz) * rk_sz + (long)(dy) * rk_sy + (dx))\n" },
};

static const char *const msl_provided[] = { "rk_gid", "rk_lid", "rk_lidx", "rk_tgid", "rk_ntg", "rk_tg_size",
                                            "rk_simd_lane", "rk_simd_width", "rk_grid_pos", "rk_grid_size", "rk_c",
                                            NULL };

static const char *const msl_entry_names[] = { "rk_gid", "rk_lid", "rk_tgid", "rk_ntg", "rk_tg_size", "rk_simd_lane",
                                               "rk_simd_width", NULL };

/* Metal's words that a kernel-language identifier may be (C and C++ ones are renamed by emit.c). */
static const char *const msl_reserved[] = {
    "kernel", "vertex", "fragment", "device", "threadgroup", "thread", "constant", "ray_data", "object_data",
    "half", "uint", "uchar", "ushort", "ulong", "metal", "as_type", "vec", "atomic_uint", "atomic_int",
    "access", "texture", "sampler", "simd", "constexpr", "static_assert", "decltype", "noexcept", "nullptr",
    "alignas", "alignof", "thread_local", "char16_t", "char32_t", "mutable", "explicit", "export", "const_cast",
    "dynamic_cast", "reinterpret_cast", "static_cast", "typeid", "and", "or", "not", "xor", "bitand", "bitor",
    "compl", "and_eq", "or_eq", "xor_eq", "not_eq", NULL
};

static void vec_name(rk__out *o, rk__ty_kind k, unsigned n)
{
    static const char *const m[] = { [RK_TY_I32] = "int", [RK_TY_U32] = "uint", [RK_TY_I64] = "long",
                                     [RK_TY_U64] = "ulong", [RK_TY_F32] = "float", [RK_TY_F64] = "double" };

    rk__out_printf(o, "%s%u", m[k], n);
}

static void helper(rk__emitter *e, const rk__ir_func *f) { rk__emit_helper(e, f, "static inline "); }

/* The entry point's builtins that only kernels using SIMD-group operations declare. */
static const char *const msl_simd_args[][2] = {
    { "rk_simd_lane", ", uint rk_simd_lane [[thread_index_in_simdgroup]]" },
    { "rk_simd_width", ", uint rk_simd_width [[threads_per_simdgroup]]" },
    { NULL, NULL },
};

/* A global kernel or a stencil: `kernel void name(arguments, builtins) { ... }`. */
static void kernel(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 }, doc = { 0 };
    uint32_t k = 0;

    rk__emit_kernel_comment(e, f, "/* ");
    rk__out_puts(&h, "kernel void ");
    rk__emit_ident(e, &h, f->name);
    rk__out_puts(&h, "(");
    for (uint32_t i = 0; i < f->nparams; i++, k++) {
        const rk__ir_var *p = f->params[i];
        rk__out v = { 0 };

        rk__emit_var_name(e, &v, p);
        rk__out_printf(&doc, "%s%u %s", i ? ", " : "", k, v.buf);
        if (p->type->kind == RK_TY_PTR && (p->access & RK_ACC_ATOMIC)) {
            rk__out_printf(&h, "device %s *%s", p->type->elem->kind == RK_TY_I32 ? "atomic_int" : "atomic_uint",
                           v.buf);
        } else if (p->type->kind == RK_TY_PTR) {
            rk__ir_var c = *p;
            rk__ty t = *p->type;

            /* Memory the kernel never writes is declared const, as the other targets declare it read-only. */
            t.is_const = t.is_const || !(p->access & RK_ACC_WRITE);
            c.type = &t;
            rk__emit_decl(e, &h, &c, f->pos);
        } else {
            rk__out_puts(&h, "constant ");
            rk__emit_type(e, &h, p->type, f->pos);
            rk__out_printf(&h, " &rk_arg_%s", v.buf);
        }
        rk__out_printf(&h, " [[buffer(%u)]], ", k);
        rk__out_free(&v);
    }
    if (f->kind == RK_KK_STENCIL) {
        rk__out_printf(&h, "constant uint3 &rk_grid_size [[buffer(%u)]], ", k);
        rk__out_printf(&doc, "%s%u rk_grid_size", k ? ", " : "", k);
        k++;
    }
    rk__emit_line(e, " * Argument table (one [[buffer(k)]] per parameter; scalars by setBytes): %s. */",
                  doc.len ? doc.buf : "none");
    rk__out_puts(&h, "uint3 rk_gid [[thread_position_in_grid]],");
    rk__emit_line(e, "%s", h.buf);
    rk__emit_line(e, "    uint3 rk_lid [[thread_position_in_threadgroup]], "
                     "uint rk_lidx [[thread_index_in_threadgroup]],");
    rk__emit_line(e, "    uint3 rk_tgid [[threadgroup_position_in_grid]], uint3 rk_ntg [[threadgroups_per_grid]],");
    rk__out_free(&h);
    rk__out_puts(&h, "    uint3 rk_tg_size [[threads_per_threadgroup]]");
    rk__emit_builtin_args(e, f, msl_simd_args, &h);
    rk__out_puts(&h, ")");
    rk__emit_line(e, "%s", h.buf);
    rk__emit_line(e, "{");
    e->indent++;
    if (f->kind == RK_KK_STENCIL) {
        unsigned r = f->radius;

        rk__emit_line(e, "const uint3 rk_grid_pos = rk_gid + uint3(%uu, %uu, %uu);", r, r, f->dims == 3 ? r : 0);
        rk__emit_line(e, "const long rk_sy = rk_grid_size.x, rk_sz = (long)rk_grid_size.x * rk_grid_size.y;");
        rk__emit_line(e, "const long rk_c = rk_grid_pos.z * rk_sz + rk_grid_pos.y * rk_sy + rk_grid_pos.x;");
        rk__emit_line(e, "%s", "");
        rk__emit_stencil_guard(e, f, 0);
    }
    rk__emit_param_copies(e, f, "", "rk_arg_");
    rk__emit_block(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
    rk__out_free(&h);
    rk__out_free(&doc);
}

static const rk__emit_lang msl_lang = {
    .flags = RK_EL_NATIVE_VEC | RK_EL_NO_GOTO | RK_EL_ATOMIC_TYPES,
    .scalar = { [RK_TY_VOID] = "void", [RK_TY_BOOL] = "bool", [RK_TY_I32] = "int", [RK_TY_U32] = "uint",
                [RK_TY_I64] = "long", [RK_TY_U64] = "ulong", [RK_TY_F32] = "float" },
    .int_sfx = { "", "u", "l", "ul" },
    .int_min = { "(-2147483647 - 1)", "(-9223372036854775807l - 1l)" },
    .float_sfx = { "f", "" },
    .nonfinite = { { "as_type<float>(0x7fc00000u)", "as_type<float>(0x7f800000u)" }, { "", "" } },
    .space_kw = { [RK_AS_PRIVATE] = "thread ", [RK_AS_GLOBAL] = "device ", [RK_AS_SHARED] = "threadgroup ",
                  [RK_AS_CONSTANT] = "constant " },
    .shared_kw = "threadgroup ",
    .zero_agg = "{}",
    .ctor = { "", "(", ")" },
    .reserved = msl_reserved,
    .entry_names = msl_entry_names,
    .vec_name = vec_name,
    .pieces = msl_pieces,
    .npieces = sizeof msl_pieces / sizeof msl_pieces[0],
    .provided = msl_provided,
    .shared_prefix = "",
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = kernel, [RK_KK_STENCIL] = kernel },
};

void rk__emit_msl_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 };

    rk__emit_begin(e, &msl_lang, &body);
    rk__emit_structs(e, "static_assert");
    rk__emit_consts(e, "constant ");
    rk__emit_funcs(e);
    rk__out_puts(out, "/* Generated by ringkernel codegen (Metal Shading Language) from a .rk file: do not edit. */\n");
    for (unsigned i = 0; i < e->nreqs; i++) {
        rk__out_printf(out, "/* Requires %.*s. */\n", (int)e->reqs[i].len, e->reqs[i].ptr);
    }
    rk__out_puts(out, "#include <metal_stdlib>\nusing namespace metal;\n\n");
    rk__emit_finish(e, &body, out);
}
