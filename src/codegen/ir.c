/* ir.c - the typed IR's types and its text dump (ir.h). The checker (checker.c) builds modules. */
#include "codegen/ir.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- Types. ---- */

int rk__ty_equal(const rk__ty *a, const rk__ty *b)
{
    if (a == b)
        return 1;
    if (a == NULL || b == NULL || a->kind != b->kind)
        return 0;
    switch (a->kind) {
    case RK_TY_VEC:
    case RK_TY_ARRAY:
        return a->len == b->len && rk__ty_equal(a->elem, b->elem);
    case RK_TY_STRUCT:
        return a->st == b->st;
    case RK_TY_PTR:
        return a->space == b->space && a->is_const == b->is_const && rk__ty_equal(a->elem, b->elem);
    default:
        return 1;
    }
}

unsigned rk__ty_bits(const rk__ty *t)
{
    switch (t->kind) {
    case RK_TY_BOOL:
        return 8;
    case RK_TY_I32:
    case RK_TY_U32:
    case RK_TY_F32:
        return 32;
    case RK_TY_I64:
    case RK_TY_U64:
    case RK_TY_F64:
        return 64;
    default:
        return 0;
    }
}

rk__base_type rk__ty_base(rk__ty_kind k)
{
    switch (k) {
    case RK_TY_BOOL: return RK_BT_BOOL;
    case RK_TY_I32: return RK_BT_I32;
    case RK_TY_U32: return RK_BT_U32;
    case RK_TY_I64: return RK_BT_I64;
    case RK_TY_U64: return RK_BT_U64;
    case RK_TY_F32: return RK_BT_F32;
    case RK_TY_F64: return RK_BT_F64;
    default: return RK_BT_NONE;
    }
}

static const char *const space_names[] = { "", "global ", "shared ", "constant " };

void rk__ty_name(const rk__ty *t, char *buf, size_t cap)
{
    static const char *const names[] = { "<error>", "void", "bool", "i32", "u32", "i64", "u64", "f32", "f64" };
    char inner[160];

    if (cap == 0)
        return;
    if (t == NULL) {
        snprintf(buf, cap, "<error>");
        return;
    }
    switch (t->kind) {
    case RK_TY_VEC:
        rk__ty_name(t->elem, inner, sizeof inner);
        snprintf(buf, cap, "vec%u<%s>", (unsigned)t->len, inner);
        break;
    case RK_TY_ARRAY:
        rk__ty_name(t->elem, inner, sizeof inner);
        snprintf(buf, cap, "%s[%u]", inner, (unsigned)t->len);
        break;
    case RK_TY_STRUCT:
        snprintf(buf, cap, "%.*s", (int)t->st->name.len, t->st->name.ptr);
        break;
    case RK_TY_PTR:
        rk__ty_name(t->elem, inner, sizeof inner);
        snprintf(buf, cap, "%s%s%s*", space_names[t->space & 3], t->is_const ? "const " : "", inner);
        break;
    case RK_TY_STR:
        snprintf(buf, cap, "str");
        break;
    default:
        snprintf(buf, cap, "%s", (unsigned)t->kind < sizeof names / sizeof names[0] ? names[t->kind] : "?");
        break;
    }
}

const char *rk__kernel_kind_name(rk__kernel_kind k)
{
    static const char *const names[] = { "function", "global", "stencil", "ring", "persistent_stencil" };

    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

void rk__ir_free(rk__ir_module *m)
{
    if (m == NULL)
        return;
    rk__arena_free(&m->arena);
    m->structs = NULL;
    m->consts = NULL;
    m->nconsts = 0;
    m->funcs = NULL;
}

/* ---- The dump. ---- */

typedef struct dump {
    char *buf;
    size_t cap;
    size_t len; /* of the whole text so far, which may exceed cap */
} dump;

static void out(dump *d, const char *fmt, ...) RK__PRINTF(2, 3);

static void out(dump *d, const char *fmt, ...)
{
    size_t room = d->len < d->cap ? d->cap - d->len : 0;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(room ? d->buf + d->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        d->len += (size_t)n;
}

static void out_type(dump *d, const rk__ty *t)
{
    char name[256];

    rk__ty_name(t, name, sizeof name);
    out(d, "%s", name);
}

static void out_var(dump *d, const rk__ir_var *v)
{
    out(d, "%.*s%%%u", (int)v->name.len, v->name.ptr, (unsigned)v->id);
}

static const char *op_name(rk__ir_op op)
{
    static const char *const names[] = {
        "?", "neg", "not", "bitnot", "add", "sub", "mul", "div", "rem", "shl", "shr", "and", "or", "xor",
        "lt", "le", "gt", "ge", "eq", "ne", "land", "lor", "ptradd", "ptrsub",
    };

    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

static void out_expr(dump *d, const rk__ir_expr *e);

/* "(name:type" then the arguments, each after a space; the caller closes the node with ")". */
static void open_node(dump *d, const char *name, const rk__ir_expr *e, rk__ir_expr *const *args, uint32_t n)
{
    out(d, "(%s:", name);
    out_type(d, e->type);
    for (uint32_t i = 0; i < n; i++) {
        out(d, " ");
        out_expr(d, args[i]);
    }
}

static void out_node(dump *d, const char *name, const rk__ir_expr *e, rk__ir_expr *const *args, uint32_t n)
{
    open_node(d, name, e, args, n);
    out(d, ")");
}

static void out_const(dump *d, const rk__ir_expr *e)
{
    if (e->kind == RK_IR_CONST_BOOL) {
        out(d, "%s", e->u.i ? "true" : "false");
        return;
    }
    if (e->kind == RK_IR_CONST_FLOAT)
        out(d, e->type->kind == RK_TY_F32 ? "%.9g:" : "%.17g:", e->u.f);
    else if (rk__ty_is_signed(e->type))
        out(d, "%" PRId64 ":", rk__ty_bits(e->type) == 32 ? (int64_t)(int32_t)(uint32_t)e->u.i : (int64_t)e->u.i);
    else
        out(d, "%" PRIu64 ":", e->u.i);
    out_type(d, e->type);
}

static void out_expr(dump *d, const rk__ir_expr *e)
{
    static const char comps[] = "xyzw";
    const rk__intrinsic *in;

    switch (e->kind) {
    case RK_IR_CONST_INT:
    case RK_IR_CONST_FLOAT:
    case RK_IR_CONST_BOOL:
        out_const(d, e);
        break;
    case RK_IR_STRING:
        out(d, "%.*s", (int)e->u.str.len, e->u.str.ptr);
        break;
    case RK_IR_VAR:
        out_var(d, e->u.var);
        break;
    case RK_IR_UNARY:
        out_node(d, op_name(e->u.op.op), e, &e->u.op.a, 1);
        break;
    case RK_IR_BINARY: {
        rk__ir_expr *ab[2] = { e->u.op.a, e->u.op.b };

        out_node(d, op_name(e->u.op.op), e, ab, 2);
        break;
    }
    case RK_IR_SELECT: {
        rk__ir_expr *cab[3] = { e->u.sel.c, e->u.sel.a, e->u.sel.b };

        out_node(d, "select", e, cab, 3);
        break;
    }
    case RK_IR_CAST:
        out_node(d, "cast", e, &e->u.op.a, 1);
        break;
    case RK_IR_CALL: {
        char name[128];

        snprintf(name, sizeof name, "call %.*s", (int)e->u.call.fn->name.len, e->u.call.fn->name.ptr);
        out_node(d, name, e, e->u.call.args, e->u.call.nargs);
        break;
    }
    case RK_IR_INTRIN: {
        char name[128];

        in = rk__intr_at(e->u.intr.row);
        snprintf(name, sizeof name, "intrin %s", in ? in->name : "?");
        out_node(d, name, e, e->u.intr.args, e->u.intr.nargs);
        break;
    }
    case RK_IR_CTOR:
        out_node(d, "vec", e, e->u.call.args, e->u.call.nargs);
        break;
    case RK_IR_FIELD: {
        const rk__ir_field *f = &e->u.field.base->type->st->fields[e->u.field.index];

        open_node(d, "field", e, &e->u.field.base, 1);
        out(d, " %.*s)", (int)f->name.len, f->name.ptr);
        break;
    }
    case RK_IR_SWIZZLE:
        open_node(d, "swizzle", e, &e->u.swz.base, 1);
        out(d, " ");
        for (unsigned i = 0; i < e->u.swz.n; i++)
            out(d, "%c", comps[e->u.swz.comp[i] & 3]);
        out(d, ")");
        break;
    case RK_IR_INDEX: {
        rk__ir_expr *ab[2] = { e->u.op.a, e->u.op.b };

        out_node(d, "index", e, ab, 2);
        break;
    }
    case RK_IR_DEREF:
        out_node(d, "deref", e, &e->u.op.a, 1);
        break;
    case RK_IR_ADDR:
        out_node(d, "addr", e, &e->u.op.a, 1);
        break;
    case RK_IR_NEIGHBOR:
        open_node(d, "at", e, NULL, 0);
        out(d, " ");
        out_var(d, e->u.nb.buf);
        out(d, " %d %d %d)", (int)e->u.nb.off[0], (int)e->u.nb.off[1], (int)e->u.nb.off[2]);
        break;
    }
}

static void out_block(dump *d, const rk__ir_block *b, unsigned depth);

static void indent(dump *d, unsigned depth) { out(d, "%*s", (int)(depth * 2), ""); }

/* "<head><cond> {" and the first block of an if or a loop. */
static void out_opening(dump *d, const char *head, const rk__ir_expr *cond, const rk__ir_block *b, unsigned depth)
{
    out(d, "%s", head);
    if (cond)
        out_expr(d, cond);
    out(d, " {\n");
    out_block(d, b, depth + 1);
}

/* "} <label> {" and the second block: else, continuing. */
static void out_part(dump *d, const char *label, const rk__ir_block *b, unsigned depth)
{
    indent(d, depth);
    out(d, "} %s {\n", label);
    out_block(d, b, depth + 1);
}

static void out_stmt(dump *d, const rk__ir_stmt *s, unsigned depth)
{
    indent(d, depth);
    switch (s->kind) {
    case RK_IR_S_VAR:
        out(d, "%s ", s->u.var.var->kind == RK_VAR_SHARED ? "shared" : s->u.var.var->is_const ? "let" : "var");
        out_var(d, s->u.var.var);
        out(d, ": ");
        out_type(d, s->u.var.var->type);
        if (s->u.var.init) {
            out(d, " = ");
            out_expr(d, s->u.var.init);
        }
        out(d, "\n");
        break;
    case RK_IR_S_ASSIGN:
        out(d, "set ");
        out_expr(d, s->u.assign.lhs);
        out(d, " = ");
        out_expr(d, s->u.assign.rhs);
        out(d, "\n");
        break;
    case RK_IR_S_EXPR:
        out(d, "do ");
        out_expr(d, s->u.expr);
        out(d, "\n");
        break;
    case RK_IR_S_IF:
        out_opening(d, "if ", s->u.if_s.cond, &s->u.if_s.then_s, depth);
        if (s->u.if_s.has_else)
            out_part(d, "else", &s->u.if_s.else_s, depth);
        indent(d, depth);
        out(d, "}\n");
        break;
    case RK_IR_S_LOOP:
        out_opening(d, s->u.loop.cond ? "loop while " : "loop", s->u.loop.cond, &s->u.loop.body, depth);
        if (s->u.loop.continuing.count)
            out_part(d, "continuing", &s->u.loop.continuing, depth);
        indent(d, depth);
        out(d, "}\n");
        break;
    case RK_IR_S_BREAK:
        out(d, "break\n");
        break;
    case RK_IR_S_CONTINUE:
        out(d, "continue\n");
        break;
    case RK_IR_S_RETURN:
        out(d, "return");
        if (s->u.expr) {
            out(d, " ");
            out_expr(d, s->u.expr);
        }
        out(d, "\n");
        break;
    case RK_IR_S_BLOCK:
        out(d, "{\n");
        out_block(d, &s->u.block, depth + 1);
        indent(d, depth);
        out(d, "}\n");
        break;
    }
}

static void out_block(dump *d, const rk__ir_block *b, unsigned depth)
{
    for (const rk__ir_stmt *s = b->head; s; s = s->next)
        out_stmt(d, s, depth);
}

static void out_struct(dump *d, const rk__ir_struct *st)
{
    out(d, "struct %.*s size %u align %u\n", (int)st->name.len, st->name.ptr, (unsigned)st->size,
        (unsigned)st->align);
    for (uint32_t i = 0; i < st->nfields; i++) {
        out(d, "  field %.*s: ", (int)st->fields[i].name.len, st->fields[i].name.ptr);
        out_type(d, st->fields[i].type);
        out(d, " @%u\n", (unsigned)st->fields[i].offset);
    }
}

static void out_access(dump *d, uint8_t acc)
{
    out(d, " access %s%s%s", acc & RK_ACC_READ ? "r" : "", acc & RK_ACC_WRITE ? "w" : "",
        acc & RK_ACC_ATOMIC ? "a" : acc ? "" : "none");
}

static void out_func(dump *d, const rk__ir_func *f)
{
    out(d, "%s %.*s: ", f->kind == RK_KK_NONE ? "function" : "kernel", (int)f->name.len, f->name.ptr);
    out_type(d, f->ret);
    out(d, "\n");
    if (f->kind != RK_KK_NONE) {
        out(d, "  kind %s workgroup %ux%ux%u", rk__kernel_kind_name(f->kind), (unsigned)f->workgroup[0],
            (unsigned)f->workgroup[1], (unsigned)f->workgroup[2]);
        if (f->kind == RK_KK_STENCIL || f->kind == RK_KK_PSTENCIL)
            out(d, " radius %u dims %u%s", (unsigned)f->radius, (unsigned)f->dims, f->tile ? " tile" : "");
        if (f->kind == RK_KK_RING && f->msg && f->state)
            out(d, " msg %.*s state %.*s", (int)f->msg->name.len, f->msg->name.ptr, (int)f->state->name.len,
                f->state->name.ptr);
        out(d, "\n");
    }
    for (uint32_t i = 0; i < f->nparams; i++) {
        out(d, "  param ");
        out_var(d, f->params[i]);
        out(d, ": ");
        out_type(d, f->params[i]->type);
        if (f->kind != RK_KK_NONE && f->params[i]->type->kind == RK_TY_PTR)
            out_access(d, f->params[i]->access);
        out(d, "\n");
    }
    for (uint32_t i = 0; i < f->nshared; i++) {
        out(d, "  shared ");
        out_var(d, f->shared[i]);
        out(d, ": ");
        out_type(d, f->shared[i]->type);
        out(d, "\n");
    }
    out(d, "{\n");
    out_block(d, &f->body, 1);
    out(d, "}\n");
}

size_t rk__ir_dump(const rk__ir_module *m, char *buf, size_t cap)
{
    dump d = { buf, buf ? cap : 0, 0 };

    if (d.cap)
        buf[0] = '\0';
    if (m == NULL)
        return 0;
    for (const rk__ir_struct *st = m->structs; st; st = st->next)
        out_struct(&d, st);
    for (uint32_t i = 0; i < m->nconsts; i++) {
        out(&d, "const ");
        out_var(&d, m->consts[i]);
        out(&d, ": ");
        out_type(&d, m->consts[i]->type);
        out(&d, " = ");
        out_expr(&d, m->consts[i]->init);
        out(&d, "\n");
    }
    for (const rk__ir_func *f = m->funcs; f; f = f->next)
        out_func(&d, f);
    return d.len;
}
