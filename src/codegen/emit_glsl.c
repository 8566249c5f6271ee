/* emit_glsl.c - the GLSL target: Vulkan compute shaders, `#version 450`, compiled to SPIR-V by
 * glslangValidator -V --target-env vulkan1.1 (docs/DSL.md "Code generation").
 *
 * The layout the runtime binds (the Vulkan backend's rk__vk_pipeline_create() contract):
 *   - A kernel's pointer parameters, in parameter order, are storage buffers of descriptor set 0 at
 *     bindings 0, 1, 2, ...: `layout(std430, set = 0, binding = k) buffer K_bk { T name[]; };`, readonly
 *     when the kernel never writes them, by a store or an atomic (and for `const` and `constant`
 *     pointers). At most 16.
 *   - Its scalar, vector and struct parameters, in parameter order, are one push-constant block at offset 0
 *     with std430 offsets written out (`layout(offset = N)`); a stencil appends `uvec3 rk_grid_size`. At
 *     most 128 bytes, the size every Vulkan device accepts. bool is 4 bytes (0 or 1) there.
 *   - The local size is the kernel's workgroup (x, y, z); one invocation per item (global kernels) or per
 *     interior point (stencils: dispatch ceil((n - 2 * radius) / local size) groups per axis).
 *   - A struct in a buffer or a push constant must have the same layout under std430 as in C (vec3 is the
 *     difference: std430 packs a scalar after it); a struct that differs is an error, never a silent
 *     mismatch.
 * A module with one kernel is one shader (`void main()`). With several, each kernel's declarations and
 * main() sit in `#if defined(RK_KERNEL_<name>)`: compile once per kernel with -DRK_KERNEL_<name>.
 *
 * Pointers become what GLSL has: a buffer is an array (`*p` is `p[0]`, `p->f` is `p[0].f`), a private
 * pointer parameter of a helper (an out-parameter) is `inout`, and pointer arithmetic or pointer variables
 * are errors. Shared variables are hoisted to `shared` declarations; the intrinsic table's "[requirement]"s
 * and the 64-bit integer types become `#extension ... : require` lines. f64 is core GLSL 4.50 (the device
 * needs shaderFloat64). Ring and persistent_stencil kernels are rejected by the checker for GLSL.
 */
#include <string.h>

#include "codegen/emit.h"

static const rk__emit_piece glsl_pieces[] = {
    { "rk_c",
      "/* A stencil point's linear index and the grid's strides, set by main() before the body runs. */\n"
      "uint rk_c, rk_sy, rk_sz;\n" },
    { "rk_at",
      "/* The index of a stencil's neighbour; unsigned arithmetic wraps, so negative offsets come out right. */\n"
      "uint rk_at(int dx, int dy, int dz)\n"
      "{\n"
      "    return rk_c + uint(dz) * rk_sz + uint(dy) * rk_sy + uint(dx);\n"
      "}\n" },
    { "rk_umulhi",
      "uint rk_umulhi(uint a, uint b)\n"
      "{\n"
      "    uint hi, lo;\n"
      "    umulExtended(a, b, hi, lo);\n"
      "    return hi;\n"
      "}\n" },
};

static const char *const glsl_provided[] = { "rk_grid_pos", "rk_grid_size", NULL };

/* GLSL's words that a kernel-language identifier may be (types and keywords of the language are not). */
static const char *const glsl_reserved[] = {
    "in", "out", "inout", "uniform", "buffer", "layout", "shared", "attribute", "varying", "precision", "lowp",
    "mediump", "highp", "flat", "smooth", "noperspective", "centroid", "sample", "patch", "coherent", "volatile",
    "restrict", "readonly", "writeonly", "subroutine", "invariant", "precise", "discard", "do", "switch", "case",
    "default", "int", "uint", "float", "double", "vec2", "vec3", "vec4", "ivec2", "ivec3", "ivec4", "uvec2",
    "uvec3", "uvec4", "dvec2", "dvec3", "dvec4", "bvec2", "bvec3", "bvec4", "mat2", "mat3", "mat4", "input",
    "output", "common", "partition", "active", "filter", "sizeof", "cast", "namespace", "using", "texture",
    "sampler", "image", "atomic_uint", "rk_pc", NULL
};

static void vec_name(rk__out *o, rk__ty_kind k, unsigned n)
{
    static const char *const g[] = { [RK_TY_I32] = "i", [RK_TY_U32] = "u", [RK_TY_I64] = "i64", [RK_TY_U64] = "u64",
                                     [RK_TY_F32] = "", [RK_TY_F64] = "d" };

    rk__out_printf(o, "%svec%u", g[k], n);
}

/* Writes the zero of t as a GLSL expression. Returns 0, or -1 (reported) for a type without one. */
static int zero(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at)
{
    static const char *const z[] = { [RK_TY_BOOL] = "false", [RK_TY_I32] = "0",   [RK_TY_U32] = "0u",
                                     [RK_TY_I64] = "0l",     [RK_TY_U64] = "0ul", [RK_TY_F32] = "0.0f",
                                     [RK_TY_F64] = "0.0lf" };

    switch (t->kind) {
    case RK_TY_VEC:
        rk__emit_type(e, o, t, at);
        rk__out_printf(o, "(%s)", z[t->elem->kind]);
        return 0;
    case RK_TY_STRUCT:
        rk__emit_type(e, o, t, at);
        rk__out_puts(o, "(");
        for (uint32_t i = 0; i < t->st->nfields; i++) {
            rk__out_puts(o, i ? ", " : "");
            if (zero(e, o, t->st->fields[i].type, at) != 0) {
                return -1;
            }
        }
        rk__out_puts(o, ")");
        return 0;
    case RK_TY_ARRAY:
        if (t->len > 64) {
            rk__emit_error(e, at, "a zeroed array of %u elements inside an aggregate: initialize it explicitly",
                           t->len);
            return -1;
        }
        rk__emit_type(e, o, t, at);
        rk__out_printf(o, "[%u](", t->len);
        for (uint32_t i = 0; i < t->len; i++) {
            rk__out_puts(o, i ? ", " : "");
            if (zero(e, o, t->elem, at) != 0) {
                return -1;
            }
        }
        rk__out_puts(o, ")");
        return 0;
    default:
        if (t->kind > RK_TY_F64 || z[t->kind] == NULL) {
            rk__emit_error(e, at, "a type without a zero");
            return -1;
        }
        rk__out_puts(o, z[t->kind]);
        return 0;
    }
}

/* Declarations: `T name[N]`; a helper's private pointer parameter is `inout T name` (`in` when const). */
static void decl(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at)
{
    const rk__ty *t = v->type;

    if (t->kind == RK_TY_PTR) {
        if (v->kind != RK_VAR_PARAM || t->space != RK_AS_PRIVATE) {
            rk__emit_error(e, at, "'%.*s': a pointer %s; GLSL reaches buffers only by name, in the kernel",
                           (int)v->name.len, v->name.ptr,
                           v->kind == RK_VAR_PARAM ? "parameter of a helper" : "variable");
            return;
        }
        rk__out_puts(o, t->is_const ? "in " : "inout ");
        t = t->elem;
    } else if (v->kind == RK_VAR_CONST) {
        rk__out_puts(o, "const ");
    }
    rk__emit_type(e, o, t, at);
    rk__out_puts(o, " ");
    rk__emit_var_name(e, o, v);
    for (; t->kind == RK_TY_ARRAY; t = t->elem) {
        rk__out_printf(o, "[%u]", t->len);
    }
}

/* A local: its initializer, or its zero (GLSL locals start undefined; the language's start at zero). An
 * array without one is zeroed by a loop, which costs what the C target's `= { 0 }` costs. */
static void var_stmt(rk__emitter *e, const rk__ir_stmt *s)
{
    const rk__ir_var *v = s->u.var.var;
    rk__out d = { 0 }, i = { 0 };

    decl(e, &d, v, s->pos);
    if (s->u.var.init) {
        rk__emit_expr(e, &i, s->u.var.init);
        rk__emit_line(e, "%s = %s;", d.buf ? d.buf : "", i.buf ? i.buf : "");
    } else if (v->type->kind == RK_TY_ARRAY) {
        rk__out n = { 0 };

        rk__emit_var_name(e, &n, v);
        zero(e, &i, v->type->elem, s->pos);
        rk__emit_line(e, "%s;", d.buf ? d.buf : "");
        rk__emit_line(e, "for (uint rk_i = 0u; rk_i < %uu; rk_i++) {", v->type->len);
        rk__emit_line(e, "    %s[rk_i] = %s;", n.buf ? n.buf : "", i.buf ? i.buf : "");
        rk__emit_line(e, "}");
        rk__out_free(&n);
    } else {
        zero(e, &i, v->type, s->pos);
        rk__emit_line(e, "%s = %s;", d.buf ? d.buf : "", i.buf ? i.buf : "");
    }
    rk__out_free(&d);
    rk__out_free(&i);
}

static int kernel_count(const rk__ir_module *m)
{
    int n = 0;

    for (const rk__ir_func *f = m->funcs; f; f = f->next) {
        n += f->kind != RK_KK_NONE;
    }
    return n;
}

/* The declarations of kernel f: the attribute comment, local size, buffers, push constants, shared
 * variables, and the opening of main() with the value parameters copied to locals. */
static void entry_open(rk__emitter *e, const rk__ir_func *f)
{
    rk__out n = { 0 }, pc = { 0 }, doc = { 0 };
    uint32_t binding = 0, size;

    rk__out_put(&n, f->name.ptr, f->name.len);
    if (kernel_count(e->m) > 1) {
        rk__emit_line(e, "#if defined(RK_KERNEL_%s)", n.buf);
    }
    rk__emit_kernel_comment(e, f, "// ");
    rk__emit_line(e, "layout(local_size_x = %u, local_size_y = %u, local_size_z = %u) in;", f->workgroup[0],
                  f->workgroup[1], f->workgroup[2]);
    for (uint32_t i = 0; i < f->nparams; i++) {
        const rk__ir_var *p = f->params[i];
        rk__out t = { 0 }, v = { 0 };

        if (p->type->kind != RK_TY_PTR) {
            continue;
        }
        rk__emit_check_std430(e, p->type->elem, f->pos);
        rk__emit_type(e, &t, p->type->elem, f->pos);
        rk__emit_var_name(e, &v, p);
        rk__emit_line(e, "layout(std430, set = 0, binding = %u) %sbuffer %s_b%u { %s %s[]; };", binding,
                      /* An atomic writes too: a readonly buffer cannot be an atomic's operand. */
                      (p->access & (RK_ACC_WRITE | RK_ACC_ATOMIC)) && !p->type->is_const &&
                              p->type->space != RK_AS_CONSTANT
                          ? "" : "readonly ",
                      n.buf, binding, t.buf ? t.buf : "", v.buf ? v.buf : "");
        binding++;
        rk__out_free(&t);
        rk__out_free(&v);
    }
    if (binding > 16) {
        rk__emit_error(e, f->pos, "%u buffer parameters: the Vulkan backend binds at most 16", binding);
    }
    /* The push constants: std430 offsets, written out so the block documents the host's layout. */
    size = rk__emit_params_block(e, f, &pc, &doc);
    if (size > 128) {
        rk__emit_error(e, f->pos, "%u bytes of scalar parameters: push constants hold 128 on every Vulkan device; "
                       "pass the rest in a buffer", size);
    }
    if (pc.len > 0) {
        rk__emit_line(e, "// Push constants (offset 0, %u bytes): %s.", size, doc.buf);
        rk__emit_line(e, "layout(push_constant, std430) uniform %s_pc {", n.buf);
        rk__out_put(e->o, pc.buf, pc.len);
        rk__emit_line(e, "} rk_pc;");
    }
    for (uint32_t i = 0; i < f->nshared; i++) {
        rk__out d = { 0 };

        decl(e, &d, f->shared[i], f->pos);
        rk__emit_line(e, "shared %s;", d.buf ? d.buf : "");
        rk__out_free(&d);
    }
    rk__emit_line(e, "%s", "");
    rk__emit_line(e, "void main()");
    rk__emit_line(e, "{");
    e->indent++;
    if (f->kind == RK_KK_STENCIL) {
        unsigned r = f->radius;

        rk__emit_line(e, "const uvec3 rk_grid_size = rk_pc.rk_grid_size;");
        rk__emit_line(e, "const uvec3 rk_grid_pos = gl_GlobalInvocationID + uvec3(%uu, %uu, %uu);", r, r,
                      f->dims == 3 ? r : 0);
        rk__emit_line(e, "%s", "");
        rk__emit_stencil_guard(e, f, 1);
    }
    rk__emit_param_copies(e, f, "", "rk_pc.");
    rk__out_free(&n);
    rk__out_free(&pc);
    rk__out_free(&doc);
}

static void entry_close(rk__emitter *e, const rk__ir_func *f)
{
    e->indent--;
    rk__emit_line(e, "}");
    if (kernel_count(e->m) > 1) {
        rk__emit_line(e, "#endif // RK_KERNEL_%.*s", (int)f->name.len, f->name.ptr);
    }
    rk__emit_line(e, "%s", "");
}

/* A global kernel or a stencil: the entry's declarations, main(), the body. */
static void kernel(rk__emitter *e, const rk__ir_func *f)
{
    entry_open(e, f);
    rk__emit_block(e, &f->body);
    entry_close(e, f);
}

static void helper(rk__emitter *e, const rk__ir_func *f) { rk__emit_helper(e, f, ""); }

static const char *const glsl_entry_names[] = { NULL };

static const rk__emit_lang glsl_lang = {
    .flags = RK_EL_NATIVE_VEC | RK_EL_CALL_CAST | RK_EL_BUFFERS | RK_EL_NO_GOTO,
    .scalar = { [RK_TY_VOID] = "void", [RK_TY_BOOL] = "bool", [RK_TY_I32] = "int", [RK_TY_U32] = "uint",
                [RK_TY_I64] = "int64_t", [RK_TY_U64] = "uint64_t", [RK_TY_F32] = "float", [RK_TY_F64] = "double" },
    .int_sfx = { "", "u", "l", "ul" },
    .int_min = { "(-2147483647 - 1)", "(-9223372036854775807l - 1l)" },
    .float_sfx = { "f", "lf" },
    .nonfinite = { { "uintBitsToFloat(0x7fc00000u)", "uintBitsToFloat(0x7f800000u)" },
                   { "packDouble2x32(uvec2(0u, 0x7ff80000u))", "packDouble2x32(uvec2(0u, 0x7ff00000u))" } },
    .ctor = { "", "(", ")" },
    .reserved = glsl_reserved,
    .entry_names = glsl_entry_names,
    .vec_name = vec_name,
    .pieces = glsl_pieces,
    .npieces = sizeof glsl_pieces / sizeof glsl_pieces[0],
    .provided = glsl_provided,
    .shared_prefix = "",
    .decl = decl,
    .var_stmt = var_stmt,
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = kernel, [RK_KK_STENCIL] = kernel },
};

void rk__emit_glsl_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 };
    int nk = kernel_count(e->m);

    rk__emit_begin(e, &glsl_lang, &body);
    rk__emit_structs(e, NULL);
    rk__emit_consts(e, "");
    rk__emit_funcs(e);
    rk__out_puts(out, "#version 450\n");
    rk__out_puts(out, "// Generated by ringkernel codegen (GLSL compute for Vulkan) from a .rk file: do not edit.\n");
    rk__out_printf(out, "// Compile: glslangValidator -V --target-env vulkan1.1%s FILE.comp\n",
                   nk > 1 ? " -DRK_KERNEL_<name>" : "");
    for (unsigned i = 0; i < e->nreqs; i++) {
        rk__out_printf(out, "#extension %.*s : require\n", (int)e->reqs[i].len, e->reqs[i].ptr);
    }
    if (nk > 1) {
        rk__out_puts(out, "#if");
        for (const rk__ir_func *f = e->m->funcs, *first = NULL; f; f = f->next) {
            if (f->kind != RK_KK_NONE) {
                rk__out_printf(out, "%s!defined(RK_KERNEL_%.*s)", first ? " && " : " ", (int)f->name.len,
                               f->name.ptr);
                first = f;
            }
        }
        rk__out_puts(out, "\n#error \"define RK_KERNEL_<name> to choose the kernel this shader is\"\n#endif\n");
    }
    rk__out_puts(out, "\n");
    rk__emit_finish(e, &body, out);
}
