/* emit_wgsl.c - the WGSL target: WebGPU compute shaders (docs/DSL.md "Code generation").
 *
 * The layout the host binds, per kernel (an entry point `@compute fn <name>`; a module may hold several):
 *   - Its pointer parameters, in parameter order, are storage buffers of group 0 at bindings 0, 1, 2, ...
 *     (`var<storage, read>` when the kernel never writes them, else `read_write`), as `array<T>`; a buffer
 *     used by an atomic is `array<atomic<T>>` and may then be used only by atomics.
 *   - Its scalar and vector parameters, in parameter order, are one uniform buffer at the next binding:
 *     `struct <name>_params` with the offsets written in a comment (WGSL uniform rules: 4-byte scalars,
 *     vec2 aligned to 8, vec3/vec4 to 16); a stencil appends `rk_grid_size: vec3<u32>`. Struct and bool
 *     parameters are errors (their uniform layout is not C's).
 *   - `@workgroup_size` is the kernel's workgroup; one invocation per item, or per interior point of a
 *     stencil (dispatch ceil((n - 2 * radius) / size) workgroups per axis).
 * Buffers, the uniform and shared variables are module-scope names in WGSL, so two kernels of one module
 * declaring the same one is an error. Core WGSL has no f64, no 64-bit integers and no 64-bit atomics: the
 * checker rejects them for this target. Pointers: a buffer is an array (`*p` is `p[0]`), a helper's private
 * pointer parameter is `ptr<function, T>`; pointer arithmetic and pointer variables are errors. `?:`
 * becomes select(), which evaluates both sides, so a side with a call is an error. Loops are
 * `loop { if !(cond) { break; } ... continuing { step } }`, the IR's own shape.
 *
 * No WGSL compiler is available to the tests: the output is checked against golden files and for its
 * structure only (docs/DSL.md says so).
 */
#include <string.h>

#include "codegen/emit.h"

static const rk__emit_piece wgsl_pieces[] = {
    { "rk_c",
      "// A stencil point's linear index and the grid's strides, set by the entry point before the body runs.\n"
      "var<private> rk_c: u32;\n"
      "var<private> rk_sy: u32;\n"
      "var<private> rk_sz: u32;\n" },
    { "rk_at",
      "// The index of a stencil's neighbour; u32 arithmetic wraps, so negative offsets come out right.\n"
      "fn rk_at(dx: i32, dy: i32, dz: i32) -> u32 {\n"
      "    return rk_c + u32(dz) * rk_sz + u32(dy) * rk_sy + u32(dx);\n"
      "}\n" },
    { "rk_umulhi",
      "// The high word of a * b from 16-bit halves (WGSL has no 64-bit integers).\n"
      "fn rk_umulhi(a: u32, b: u32) -> u32 {\n"
      "    let al = a & 0xffffu;\n"
      "    let ah = a >> 16u;\n"
      "    let bl = b & 0xffffu;\n"
      "    let bh = b >> 16u;\n"
      "    let mid = ((al * bl) >> 16u) + ((ah * bl) & 0xffffu) + ((al * bh) & 0xffffu);\n"
      "    return ah * bh + ((ah * bl) >> 16u) + ((al * bh) >> 16u) + (mid >> 16u);\n"
      "}\n" },
};

static const char *const wgsl_provided[] = { "rk_gid", "rk_lid", "rk_lidx", "rk_wgid", "rk_nwg", "rk_wg_size",
                                             "rk_sg_id", "rk_sg_size", "rk_grid_pos", "rk_grid_size", NULL };

static const char *const wgsl_entry_names[] = { "rk_gid", "rk_lid", "rk_wgid", "rk_nwg", "rk_wg_size", "rk_sg_id",
                                                "rk_sg_size", NULL };

/* WGSL's keywords and reserved words that a kernel-language identifier may be. */
static const char *const wgsl_reserved[] = {
    "alias", "array", "atomic", "bitcast", "const_assert", "continuing", "default", "diagnostic", "discard",
    "enable", "f16", "fallthrough", "fn", "function", "let", "loop", "mat2x2", "mat3x3", "mat4x4", "override",
    "private", "ptr", "read", "read_write", "requires", "sampler", "select", "storage", "switch", "case", "type",
    "uniform", "var", "workgroup", "write", "loop", "mod", "module", "self", "super", "as", "async", "await",
    "become", "cast", "do", "dyn", "enum", "export", "final", "impl", "in", "let", "macro", "match", "move", "mut",
    "of", "package", "pub", "ref", "static", "trait", "where", "with", "yield", "i8", "u8", "i16", "u16", "vec",
    "mat", "texture", "NULL", "null", "nil", "self", "Self", NULL
};

static void vec_name(rk__out *o, rk__ty_kind k, unsigned n)
{
    static const char *const w[] = { [RK_TY_I32] = "i32", [RK_TY_U32] = "u32", [RK_TY_I64] = "i64",
                                     [RK_TY_U64] = "u64", [RK_TY_F32] = "f32", [RK_TY_F64] = "f64" };

    rk__out_printf(o, "vec%u<%s>", n, w[k]);
}

/* A type, arrays included (array<T, N>); `atomic` wraps the element of an atomic buffer. */
static void type(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at)
{
    if (t->kind == RK_TY_ARRAY) {
        rk__out_puts(o, "array<");
        type(e, o, t->elem, at);
        rk__out_printf(o, ", %u>", t->len);
        return;
    }
    rk__emit_type(e, o, t, at);
}

/* `name: T`; a helper's private pointer parameter is `name: ptr<function, T>`. */
static void decl(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at)
{
    const rk__ty *t = v->type;

    rk__emit_var_name(e, o, v);
    rk__out_puts(o, ": ");
    if (t->kind == RK_TY_PTR) {
        if (v->kind != RK_VAR_PARAM || t->space != RK_AS_PRIVATE) {
            rk__emit_error(e, at, "'%.*s': a pointer %s; WGSL reaches buffers only by name, in the kernel",
                           (int)v->name.len, v->name.ptr,
                           v->kind == RK_VAR_PARAM ? "parameter of a helper" : "variable");
            return;
        }
        rk__out_puts(o, "ptr<function, ");
        type(e, o, t->elem, at);
        rk__out_puts(o, ">");
        return;
    }
    type(e, o, t, at);
}

/* `let` for const locals, `var` otherwise; WGSL zero-initializes a var without an initializer. */
static void var_stmt(rk__emitter *e, const rk__ir_stmt *s)
{
    const rk__ir_var *v = s->u.var.var;
    rk__out d = { 0 }, i = { 0 };

    decl(e, &d, v, s->pos);
    if (s->u.var.init) {
        rk__emit_expr(e, &i, s->u.var.init);
        rk__emit_line(e, "%s %s = %s;", v->is_const ? "let" : "var", d.buf ? d.buf : "", i.buf ? i.buf : "");
    } else {
        rk__emit_line(e, "var %s;", d.buf ? d.buf : "");
    }
    rk__out_free(&d);
    rk__out_free(&i);
}

static void helper(rk__emitter *e, const rk__ir_func *f)
{
    rk__out h = { 0 };

    rk__out_puts(&h, "fn ");
    rk__emit_ident(e, &h, f->name);
    rk__out_puts(&h, "(");
    /* WGSL parameters are immutable and the language's are not: a value parameter arrives as rk_arg_<name>
     * and is copied to a var of its own name. */
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out_puts(&h, i ? ", " : "");
        if (f->params[i]->type->kind != RK_TY_PTR) {
            rk__out_puts(&h, "rk_arg_");
        }
        decl(e, &h, f->params[i], f->pos);
    }
    rk__out_puts(&h, ")");
    if (f->ret->kind != RK_TY_VOID) {
        rk__out_puts(&h, " -> ");
        type(e, &h, f->ret, f->pos);
    }
    rk__out_puts(&h, " {");
    rk__emit_line(e, "%s", h.buf ? h.buf : "");
    rk__out_free(&h);
    rk__emit_helper_check(e, f);
    e->indent++;
    rk__emit_param_copies(e, f, "var ", "rk_arg_");
    rk__emit_block(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
}

/* Reports a module-scope name of kernel f that an earlier kernel declared too. */
static void check_clash(rk__emitter *e, const rk__ir_func *f, rk__str name)
{
    for (const rk__ir_func *g = e->m->funcs; g && g != f; g = g->next) {
        for (uint32_t i = 0; g->kind != RK_KK_NONE && i < g->nparams + g->nshared; i++) {
            const rk__ir_var *v = i < g->nparams ? g->params[i] : g->shared[i - g->nparams];

            if ((i >= g->nparams || v->type->kind == RK_TY_PTR) && v->name.len == name.len &&
                memcmp(v->name.ptr, name.ptr, name.len) == 0) {
                rk__emit_error(e, f->pos, "'%.*s' is a buffer or shared variable of kernels '%.*s' and '%.*s': WGSL "
                               "declares them at module scope; rename one", (int)name.len, name.ptr,
                               (int)g->name.len, g->name.ptr, (int)f->name.len, f->name.ptr);
                return;
            }
        }
    }
}

/* The entry point's builtins that only kernels using subgroups declare (they need `enable subgroups`). */
static const char *const wgsl_subgroup_args[][2] = {
    { "rk_sg_id", ", @builtin(subgroup_invocation_id) rk_sg_id: u32" },
    { "rk_sg_size", ", @builtin(subgroup_size) rk_sg_size: u32" },
    { NULL, NULL },
};

/* A global kernel or a stencil: its bindings, then `@compute fn name(builtins) { ... }`. */
static void kernel(rk__emitter *e, const rk__ir_func *f)
{
    rk__out n = { 0 }, st = { 0 }, doc = { 0 }, h = { 0 };
    uint32_t binding = 0, size;

    rk__out_put(&n, f->name.ptr, f->name.len);
    rk__emit_kernel_comment(e, f, "// ");
    for (uint32_t i = 0; i < f->nparams; i++) {
        const rk__ir_var *p = f->params[i];
        int atomic = (p->access & RK_ACC_ATOMIC) != 0;
        rk__out t = { 0 }, v = { 0 };

        if (p->type->kind == RK_TY_STRUCT || p->type->kind == RK_TY_BOOL) {
            rk__emit_error(e, f->pos, "'%.*s': a %s parameter; WGSL's uniform layout differs from C: pass it in a "
                           "buffer", (int)p->name.len, p->name.ptr, p->type->kind == RK_TY_BOOL ? "bool" : "struct");
        }
        if (p->type->kind != RK_TY_PTR) {
            continue;
        }
        check_clash(e, f, p->name);
        rk__emit_check_std430(e, p->type->elem, f->pos);
        type(e, &t, p->type->elem, f->pos);
        rk__emit_var_name(e, &v, p);
        rk__emit_line(e, "@group(0) @binding(%u) var<storage, %s> %s: array<%s%s%s>;", binding,
                      (p->access & RK_ACC_WRITE) && !p->type->is_const && p->type->space != RK_AS_CONSTANT
                          ? "read_write" : "read",
                      v.buf ? v.buf : "", atomic ? "atomic<" : "", t.buf ? t.buf : "", atomic ? ">" : "");
        binding++;
        rk__out_free(&t);
        rk__out_free(&v);
    }
    /* The uniform: WGSL's uniform rules give scalars and vectors the alignment std430 gives them. */
    size = rk__emit_params_block(e, f, &st, &doc);
    if (st.len > 0) {
        rk__emit_line(e, "// Uniform at binding %u (%u bytes): %s.", binding, size, doc.buf);
        rk__emit_line(e, "struct %s_params {", n.buf);
        rk__out_put(e->o, st.buf, st.len);
        rk__emit_line(e, "}");
        rk__emit_line(e, "@group(0) @binding(%u) var<uniform> %s_p: %s_params;", binding, n.buf, n.buf);
    }
    for (uint32_t i = 0; i < f->nshared; i++) {
        rk__out d = { 0 };

        check_clash(e, f, f->shared[i]->name);
        decl(e, &d, f->shared[i], f->pos);
        rk__emit_line(e, "var<workgroup> %s;", d.buf ? d.buf : "");
        rk__out_free(&d);
    }
    rk__emit_line(e, "%s", "");
    rk__emit_line(e, "@compute @workgroup_size(%u, %u, %u)", f->workgroup[0], f->workgroup[1], f->workgroup[2]);
    rk__out_printf(&h, "fn %s(@builtin(global_invocation_id) rk_gid: vec3<u32>, "
                       "@builtin(local_invocation_id) rk_lid: vec3<u32>,", n.buf);
    rk__emit_line(e, "%s", h.buf);
    rk__emit_line(e, "    @builtin(local_invocation_index) rk_lidx: u32, @builtin(workgroup_id) rk_wgid: vec3<u32>,");
    rk__out_free(&h);
    rk__out_puts(&h, "    @builtin(num_workgroups) rk_nwg: vec3<u32>");
    rk__emit_builtin_args(e, f, wgsl_subgroup_args, &h);
    rk__out_puts(&h, ") {");
    rk__emit_line(e, "%s", h.buf);
    e->indent++;
    rk__emit_line(e, "let rk_wg_size = vec3<u32>(%uu, %uu, %uu);", f->workgroup[0], f->workgroup[1], f->workgroup[2]);
    if (f->kind == RK_KK_STENCIL) {
        unsigned r = f->radius;

        rk__emit_line(e, "let rk_grid_size = %s_p.rk_grid_size;", n.buf);
        rk__emit_line(e, "let rk_grid_pos = rk_gid + vec3<u32>(%uu, %uu, %uu);", r, r, f->dims == 3 ? r : 0);
        rk__emit_stencil_guard(e, f, 1);
    }
    rk__out_free(&h);
    rk__out_printf(&h, "%s_p.", n.buf);
    rk__emit_param_copies(e, f, "var ", h.buf);
    rk__emit_block(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
    rk__out_free(&n);
    rk__out_free(&st);
    rk__out_free(&doc);
    rk__out_free(&h);
}

static const rk__emit_lang wgsl_lang = {
    .flags = RK_EL_NATIVE_VEC | RK_EL_CALL_CAST | RK_EL_BUFFERS | RK_EL_WGSL | RK_EL_ATOMIC_TYPES,
    .scalar = { [RK_TY_BOOL] = "bool", [RK_TY_I32] = "i32", [RK_TY_U32] = "u32", [RK_TY_F32] = "f32" },
    .int_sfx = { "i", "u", "", "" },
    .int_min = { "(-2147483647i - 1i)", "" },
    .float_sfx = { "f", "" },
    .nonfinite = { { "bitcast<f32>(0x7fc00000u)", "bitcast<f32>(0x7f800000u)" }, { "", "" } },
    .ctor = { "", "(", ")" },
    .reserved = wgsl_reserved,
    .entry_names = wgsl_entry_names,
    .vec_name = vec_name,
    .pieces = wgsl_pieces,
    .npieces = sizeof wgsl_pieces / sizeof wgsl_pieces[0],
    .provided = wgsl_provided,
    .shared_prefix = "",
    .decl = decl,
    .var_stmt = var_stmt,
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = kernel, [RK_KK_STENCIL] = kernel },
};

void rk__emit_wgsl_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 }, c = { 0 };

    rk__emit_begin(e, &wgsl_lang, &body);
    rk__emit_structs(e, NULL);
    for (uint32_t i = 0; i < e->m->nconsts; i++) {
        const rk__ir_var *v = e->m->consts[i];
        rk__out d = { 0 };

        decl(e, &d, v, v->init ? v->init->pos : (rk__pos){ 0, 1, 1 });
        if (v->init) {
            rk__emit_expr(e, &c, v->init);
        }
        rk__emit_line(e, "const %s = %s;", d.buf ? d.buf : "", c.buf ? c.buf : "0");
        rk__out_free(&d);
        rk__out_free(&c);
    }
    if (e->m->nconsts > 0) {
        rk__emit_line(e, "%s", "");
    }
    rk__emit_funcs(e);
    rk__out_puts(out, "// Generated by ringkernel codegen (WGSL compute) from a .rk file: do not edit.\n");
    for (unsigned i = 0; i < e->nreqs; i++) {
        rk__out_printf(out, "enable %.*s;\n", (int)e->reqs[i].len, e->reqs[i].ptr);
    }
    rk__out_puts(out, "\n");
    rk__emit_finish(e, &body, out);
}
