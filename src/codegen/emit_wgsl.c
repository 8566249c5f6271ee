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
      "fn rk_umulhi(a: u32, b: u32) -> u32 {\n"
      "    let al = a & 0xffffu;\n"
      "    let ah = a >> 16u;\n"
      "    let bl = b & 0xffffu;\n"
      "    let bh = b >> 16u;\n"
      "    let mid = (al * bl >> 16u) + (ah * bl & 0xffffu) + (al * bh & 0xffffu);\n"
      "    return ah * bh + (ah * bl >> 16u) + (al * bh >> 16u) + (mid >> 16u);\n"
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
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out d = { 0 }, v = { 0 };

        if (f->params[i]->type->kind == RK_TY_PTR) {
            continue;
        }
        decl(e, &d, f->params[i], f->pos);
        rk__emit_var_name(e, &v, f->params[i]);
        rk__emit_line(e, "var %s = rk_arg_%s;", d.buf, v.buf);
        rk__out_free(&d);
        rk__out_free(&v);
    }
    rk__emit_block(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
}

/* Reports a struct (or one inside it) whose WGSL storage layout differs from its C layout. */
static void check_layout(rk__emitter *e, const rk__ty *t, rk__pos at)
{
    uint32_t c_off = 0, w_off = 0;

    while (t->kind == RK_TY_ARRAY) {
        t = t->elem;
    }
    if (t->kind != RK_TY_STRUCT) {
        return;
    }
    if (rk__emit_std430_mismatch(t->st, &c_off, &w_off) >= 0) {
        rk__emit_error(e, at, "struct '%.*s' has another layout in WGSL (%u bytes where C has %u); add explicit "
                       "padding", (int)t->st->name.len, t->st->name.ptr, w_off, c_off);
        return;
    }
    for (uint32_t i = 0; i < t->st->nfields; i++) {
        check_layout(e, t->st->fields[i].type, at);
    }
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

static void entry(rk__emitter *e, const rk__ir_func *f, int stencil)
{
    rk__out n = { 0 }, st = { 0 }, doc = { 0 }, h = { 0 };
    uint32_t binding = 0, off = 0;

    rk__out_put(&n, f->name.ptr, f->name.len);
    if (stencil) {
        rk__emit_line(e, "// @kernel(stencil, radius = %u, dims = %u), line %u: one invocation per interior point",
                      f->radius, f->dims, f->pos.line);
        rk__emit_line(e, "// of an rk_grid_size grid (z = 1 in 2D); dispatch ceil((n - 2 * radius) / size) workgroups "
                         "per axis.");
    } else {
        rk__emit_line(e, "// @kernel(global, workgroup = %ux%ux%u), line %u.", f->workgroup[0], f->workgroup[1],
                      f->workgroup[2], f->pos.line);
    }
    for (uint32_t i = 0; i < f->nparams; i++) {
        const rk__ir_var *p = f->params[i];
        int atomic = (p->access & RK_ACC_ATOMIC) != 0;
        rk__out t = { 0 }, v = { 0 };

        if (p->type->kind != RK_TY_PTR) {
            continue;
        }
        check_clash(e, f, p->name);
        check_layout(e, p->type->elem, f->pos);
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
    for (uint32_t i = 0; i <= f->nparams; i++) {
        const rk__ir_var *p = i < f->nparams ? f->params[i] : NULL;
        rk__ir_var gs = { 0 };
        rk__ty u3 = { 0 }, u = { 0 };
        uint32_t a, size;
        rk__out d = { 0 };

        if (p == NULL) {
            if (!stencil) {
                break;
            }
            u.kind = RK_TY_U32;
            u3.kind = RK_TY_VEC;
            u3.elem = &u;
            u3.len = 3;
            gs.kind = RK_VAR_LOCAL;
            gs.name = (rk__str){ "rk_grid_size", 12 };
            gs.type = &u3;
            p = &gs;
        } else if (p->type->kind == RK_TY_PTR) {
            continue;
        } else if (p->type->kind == RK_TY_STRUCT || p->type->kind == RK_TY_BOOL) {
            rk__emit_error(e, f->pos, "'%.*s': a %s parameter; WGSL's uniform layout differs from C: pass it in a "
                           "buffer", (int)p->name.len, p->name.ptr, p->type->kind == RK_TY_BOOL ? "bool" : "struct");
            continue;
        }
        rk__emit_std430(p->type, &a, &size);
        off = (off + a - 1) / a * a;
        decl(e, &d, p, f->pos);
        rk__out_printf(&st, "    %s, // offset %u\n", d.buf ? d.buf : "", off);
        rk__out_printf(&doc, "%s%.*s at %u", doc.len ? ", " : "", (int)p->name.len, p->name.ptr, off);
        off += size;
        rk__out_free(&d);
    }
    if (st.len > 0) {
        rk__emit_line(e, "// Uniform at binding %u (%u bytes): %s.", binding, off, doc.buf);
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
    if (rk__emit_uses(e, f, "rk_sg_id")) {
        rk__out_puts(&h, ", @builtin(subgroup_invocation_id) rk_sg_id: u32");
    }
    if (rk__emit_uses(e, f, "rk_sg_size")) {
        rk__out_puts(&h, ", @builtin(subgroup_size) rk_sg_size: u32");
    }
    rk__out_puts(&h, ") {");
    rk__emit_line(e, "%s", h.buf);
    e->indent++;
    rk__emit_line(e, "let rk_wg_size = vec3<u32>(%uu, %uu, %uu);", f->workgroup[0], f->workgroup[1], f->workgroup[2]);
    if (stencil) {
        unsigned r = f->radius, rz = f->dims == 3 ? r : 0;

        rk__emit_line(e, "let rk_grid_size = %s_p.rk_grid_size;", n.buf);
        rk__emit_line(e, "let rk_grid_pos = rk_gid + vec3<u32>(%uu, %uu, %uu);", r, r, rz);
        rk__emit_line(e, "if (rk_grid_size.x < %uu || rk_grid_size.y < %uu || rk_grid_size.z < %uu ||", 2 * r, 2 * r,
                      2 * rz + 1);
        rk__emit_line(e, "    rk_grid_pos.x >= rk_grid_size.x - %uu || rk_grid_pos.y >= rk_grid_size.y - %uu ||", r, r);
        rk__emit_line(e, "    rk_grid_pos.z >= rk_grid_size.z - %uu) {", rz);
        rk__emit_line(e, "    return;");
        rk__emit_line(e, "}");
        rk__emit_line(e, "rk_sy = rk_grid_size.x;");
        rk__emit_line(e, "rk_sz = rk_grid_size.x * rk_grid_size.y;");
        rk__emit_line(e, "rk_c = rk_grid_pos.z * rk_sz + rk_grid_pos.y * rk_sy + rk_grid_pos.x;");
    }
    for (uint32_t i = 0; i < f->nparams; i++) {
        const rk__ir_var *p = f->params[i];
        rk__out d = { 0 }, v = { 0 };

        if (p->type->kind == RK_TY_PTR || p->type->kind == RK_TY_STRUCT || p->type->kind == RK_TY_BOOL) {
            continue;
        }
        decl(e, &d, p, f->pos);
        rk__emit_var_name(e, &v, p);
        rk__emit_line(e, "var %s = %s_p.%s;", d.buf, n.buf, v.buf);
        rk__out_free(&d);
        rk__out_free(&v);
    }
    rk__emit_block(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
    rk__out_free(&n);
    rk__out_free(&st);
    rk__out_free(&doc);
    rk__out_free(&h);
}

static void global_kernel(rk__emitter *e, const rk__ir_func *f) { entry(e, f, 0); }

static void stencil(rk__emitter *e, const rk__ir_func *f) { entry(e, f, 1); }

static void structs(rk__emitter *e)
{
    for (const rk__ir_struct *st = e->m->structs; st; st = st->next) {
        rk__out n = { 0 };

        rk__emit_ident(e, &n, st->name);
        rk__emit_line(e, "struct %s {", n.buf);
        e->indent++;
        for (uint32_t i = 0; i < st->nfields; i++) {
            rk__out d = { 0 };
            rk__ir_var v = { 0 };

            v.kind = RK_VAR_LOCAL;
            v.name = st->fields[i].name;
            v.type = st->fields[i].type;
            decl(e, &d, &v, (rk__pos){ 0, 1, 1 });
            rk__emit_line(e, "%s, // offset %u", d.buf ? d.buf : "", st->fields[i].offset);
            rk__out_free(&d);
        }
        e->indent--;
        rk__emit_line(e, "} // %u bytes", st->size);
        rk__emit_line(e, "%s", "");
        rk__out_free(&n);
    }
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
    .decl = decl,
    .var_stmt = var_stmt,
    .func = { [RK_KK_NONE] = helper, [RK_KK_GLOBAL] = global_kernel, [RK_KK_STENCIL] = stencil },
};

void rk__emit_wgsl_module(rk__emitter *e, rk__out *out)
{
    rk__out body = { 0 }, c = { 0 };

    e->L = &wgsl_lang;
    e->pieces = wgsl_pieces;
    e->npieces = sizeof wgsl_pieces / sizeof wgsl_pieces[0];
    e->provided = wgsl_provided;
    e->shared_prefix = "";
    e->o = &body;
    structs(e);
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
    rk__emit_prelude(e, body.buf ? body.buf : "", out);
    if (body.buf) {
        rk__out_put(out, body.buf, body.len);
    }
    if (body.oom) {
        out->oom = 1;
    }
    rk__out_free(&body);
}
