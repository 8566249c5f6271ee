/* checker.c - names, types and rules of the kernel language, building the typed IR (checker.h, ir.h).
 *
 * One walk over the tree in source order: declarations are visible from the point after them (DSL.md §4:
 * no prototypes, no recursion). Expressions are typed bidirectionally: check_expr() receives the type the
 * context wants (or NULL), which only untyped literals use; everything else must match exactly, and the
 * few conversions the language makes itself (a scalar beside a vector, a shift count of another width)
 * become explicit IR nodes (a splat constructor, a cast).
 */
#include "codegen/checker.h"

#include <math.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "codegen/intrinsics.h"

/* ---- State. ---- */

typedef enum sym_kind { SYM_VAR, SYM_FUNC, SYM_STRUCT } sym_kind;

typedef struct sym {
    rk__str name;
    sym_kind kind;
    rk__ir_var *var;
    rk__ir_func *fn;
    const rk__node *decl; /* SYM_STRUCT: its declaration; SYM_FUNC: the function node */
    rk__ir_struct *st;
    uint8_t in_progress;  /* SYM_FUNC: its body is being checked (a call is recursion) */
    struct sym *next;
} sym;

typedef struct scope {
    sym *syms;
    struct scope *up;
} scope;

typedef struct ck {
    rk__diags *d;
    const rk__source *src;
    rk__ir_module *m;
    unsigned targets;
    jmp_buf fail;
    int fail_rc;
    scope file;          /* structs, constants, functions */
    scope *sc;           /* innermost scope */
    rk__ir_func *fn;     /* the function being checked */
    unsigned fn_targets; /* targets checked inside it (those where its kernel kind exists) */
    unsigned loops;      /* loops around the statement being checked */
    rk__ty *scalars;     /* RK_TY_ERROR..RK_TY_F64; these and the next live in the arena, as the IR uses them */
    rk__ty *str_ty;
    rk__ir_struct *envelope, *hlc;
    rk__ty *hlc_ty;
    rk__ir_struct *structs_tail;
    rk__ir_func *funcs_tail;
    uint32_t nconst_ids;
} ck;

static void *alloc(ck *c, size_t n)
{
    int err = 0;
    void *p = rk__arena_alloc(&c->m->arena, n, &err);

    if (p == NULL) {
        c->fail_rc = err ? err : RK_ENOMEM;
        longjmp(c->fail, 1);
    }
    return p;
}

#define NEW(c, T) ((T *)alloc((c), sizeof(T)))

static void error(ck *c, rk__pos at, const char *fmt, ...) RK__PRINTF(3, 4);

static void error(ck *c, rk__pos at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rk__diag_error(c->d, c->src, at, "%s", msg);
}

static int str_eq(rk__str a, const char *b) { return a.len == strlen(b) && memcmp(a.ptr, b, a.len) == 0; }

static int str_same(rk__str a, rk__str b) { return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0; }

/* Names in messages are cut at 64 bytes so a hostile identifier cannot fill the diagnostics buffer. */
#define NAME(s) (int)((s).len > 64 ? 64 : (s).len), (s).ptr

/* A type name for a message; each call site passes its own buffer. */
static const char *tn(const rk__ty *t, char *buf)
{
    rk__ty_name(t, buf, 96);
    return buf;
}

/* ---- Types. ---- */

static const rk__ty *scalar(ck *c, rk__ty_kind k) { return &c->scalars[k]; }

static const rk__ty *err_ty(ck *c) { return &c->scalars[RK_TY_ERROR]; }

/* vecN<elem> (kind RK_TY_VEC) or elem[len] (RK_TY_ARRAY). */
static const rk__ty *mk_seq(ck *c, rk__ty_kind kind, const rk__ty *elem, uint32_t len)
{
    rk__ty *t = NEW(c, rk__ty);

    t->kind = kind;
    t->elem = elem;
    t->len = len;
    return t;
}

static const rk__ty *mk_vec(ck *c, const rk__ty *elem, uint32_t len) { return mk_seq(c, RK_TY_VEC, elem, len); }

static const rk__ty *mk_ptr(ck *c, const rk__ty *elem, rk__addr_space space, int is_const)
{
    rk__ty *t = NEW(c, rk__ty);

    t->kind = RK_TY_PTR;
    t->elem = elem;
    t->space = space;
    t->is_const = (uint8_t)!!is_const;
    return t;
}

static const rk__ty *mk_array(ck *c, const rk__ty *elem, uint32_t len) { return mk_seq(c, RK_TY_ARRAY, elem, len); }

static const rk__ty *ty_of_base(ck *c, rk__base_type b)
{
    static const rk__ty_kind map[] = { RK_TY_ERROR, RK_TY_VOID, RK_TY_BOOL, RK_TY_I32, RK_TY_U32,
                                       RK_TY_I64,   RK_TY_U64,  RK_TY_F32,  RK_TY_F64 };

    return (unsigned)b < sizeof map / sizeof map[0] ? scalar(c, map[b]) : err_ty(c);
}

/* The scalar under a vector (the type itself for a scalar). */
static const rk__ty *elem_of(const rk__ty *t) { return t->kind == RK_TY_VEC ? t->elem : t; }

static int is_err(const rk__ty *t) { return t->kind == RK_TY_ERROR; }

/* May a value of type src initialize or be assigned to dst? Equal types, or a pointer gaining const. */
static int assignable_to(const rk__ty *dst, const rk__ty *src)
{
    if (rk__ty_equal(dst, src))
        return 1;
    return dst->kind == RK_TY_PTR && src->kind == RK_TY_PTR && dst->space == src->space &&
           (dst->is_const || !src->is_const) && rk__ty_equal(dst->elem, src->elem);
}

/* Does the type contain bool (which has no C layout shared with the host)? */
static int has_bool(const rk__ty *t)
{
    while (t->kind == RK_TY_VEC || t->kind == RK_TY_ARRAY)
        t = t->elem;
    return t->kind == RK_TY_BOOL;
}

/* Reports, per target of the set, a 64-bit or f64 type written at `at` that the target lacks. */
static void check_written_type(ck *c, const rk__ty *t, rk__pos at, unsigned targets)
{
    char b[96];

    while (t->kind == RK_TY_VEC || t->kind == RK_TY_ARRAY || t->kind == RK_TY_PTR)
        t = t->elem;
    for (unsigned g = 0; g < RK_TGT_COUNT; g++) {
        const char *why = (targets & RK__TGT_BIT(g)) ? rk__target_type_limit((rk__target)g, rk__ty_base(t->kind)) : NULL;

        if (why)
            error(c, at, "type '%s' is unsupported on %s: %s", tn(t, b), rk__intr_target_name((rk__target)g), why);
    }
}

/* ---- Scopes. ---- */

static sym *lookup_in(const scope *s, rk__str name)
{
    for (sym *y = s->syms; y; y = y->next)
        if (str_same(y->name, name))
            return y;
    return NULL;
}

static sym *lookup(ck *c, rk__str name)
{
    for (scope *s = c->sc; s; s = s->up) {
        sym *y = lookup_in(s, name);

        if (y)
            return y;
    }
    return NULL;
}

static const char *const predeclared_names[] = { "envelope", "hlc_ts", "ENV_REQUEST", "ENV_REPLY" };

/* Checks a name about to be declared at `at` in the innermost scope; 1 if it may be declared. */
static int declarable(ck *c, rk__str name, rk__pos at)
{
    if (name.len >= 2 && name.ptr[0] == '_' && name.ptr[1] == '_') {
        error(c, at, "identifiers beginning with '__' are reserved");
        return 0;
    }
    for (size_t i = 0; i < sizeof predeclared_names / sizeof predeclared_names[0]; i++) {
        if (str_eq(name, predeclared_names[i])) {
            error(c, at, "'%.*s' is predeclared and cannot be redeclared", NAME(name));
            return 0;
        }
    }
    if (rk__intr_lookup(name.ptr, name.len)) {
        error(c, at, "'%.*s' is predeclared and cannot be redeclared", NAME(name));
        return 0;
    }
    if (lookup_in(c->sc, name)) {
        error(c, at, "'%.*s' is already declared in this scope", NAME(name));
        return 0;
    }
    return 1;
}

static sym *declare(ck *c, rk__str name, sym_kind kind)
{
    sym *y = NEW(c, sym);

    y->name = name;
    y->kind = kind;
    y->next = c->sc->syms;
    c->sc->syms = y;
    return y;
}

static rk__ir_var *new_var(ck *c, rk__var_kind kind, rk__str name, const rk__ty *type)
{
    rk__ir_var *v = NEW(c, rk__ir_var);

    v->kind = kind;
    v->name = name;
    v->type = type;
    v->id = kind == RK_VAR_CONST ? c->nconst_ids++ : c->fn->nvars++;
    return v;
}

/* ---- Structs. ---- */

static void scalar_layout(const rk__ty *t, uint32_t *size, uint32_t *align)
{
    switch (t->kind) {
    case RK_TY_BOOL:
        *size = *align = 1;
        break;
    case RK_TY_VEC: {
        uint32_t es = rk__ty_bits(t->elem) / 8;

        *size = (t->len == 3 ? 4 : t->len) * es;
        *align = (t->len == 2 ? 2 : 4) * es;
        break;
    }
    case RK_TY_ARRAY: {
        uint32_t es, ea;

        scalar_layout(t->elem, &es, &ea);
        *size = es * t->len;
        *align = ea;
        break;
    }
    case RK_TY_STRUCT:
        *size = t->st->size;
        *align = t->st->align;
        break;
    default:
        *size = *align = rk__ty_bits(t) / 8 ? rk__ty_bits(t) / 8 : 1;
        break;
    }
}

/* The ABI structs of abi.h as the language sees them: narrow envelope fields widened to u32. */
static rk__ir_struct *predeclare(ck *c, const char *name, const char *const *fields, const rk__ty_kind *kinds,
                                 const uint32_t *offsets, uint32_t n, uint32_t size, const rk__ty *const *override)
{
    rk__ir_struct *st = NEW(c, rk__ir_struct);

    st->name = (rk__str){ name, (uint32_t)strlen(name) };
    st->fields = alloc(c, n * sizeof *st->fields);
    st->nfields = n;
    st->size = size;
    st->align = 8;
    st->predeclared = 1;
    for (uint32_t i = 0; i < n; i++) {
        st->fields[i].name = (rk__str){ fields[i], (uint32_t)strlen(fields[i]) };
        st->fields[i].type = override && override[i] ? override[i] : scalar(c, kinds[i]);
        st->fields[i].offset = offsets[i];
    }
    return st;
}

static void predeclare_abi(ck *c)
{
    static const char *const hf[] = { "physical", "logical", "node" };
    static const rk__ty_kind hk[] = { RK_TY_U64, RK_TY_U32, RK_TY_U32 };
    static const uint32_t ho[] = { 0, 8, 12 };
    static const char *const ef[] = { "magic", "version", "flags", "payload_len", "type_id",
                                      "correlation_id", "source", "dest", "hlc", "seq" };
    static const rk__ty_kind ek[] = { RK_TY_U32, RK_TY_U32, RK_TY_U32, RK_TY_U32, RK_TY_U64,
                                      RK_TY_U64, RK_TY_U64, RK_TY_U64, RK_TY_ERROR, RK_TY_U64 };
    static const uint32_t eo[] = { 0, 2, 3, 4, 8, 16, 24, 32, 40, 56 };
    const rk__ty *over[10] = { 0 };

    c->hlc = predeclare(c, "hlc_ts", hf, hk, ho, 3, 16, NULL);
    c->hlc_ty = NEW(c, rk__ty);
    c->hlc_ty->kind = RK_TY_STRUCT;
    c->hlc_ty->st = c->hlc;
    over[8] = c->hlc_ty;
    c->envelope = predeclare(c, "envelope", ef, ek, eo, 10, 64, over);
}

static rk__ir_struct *struct_of_decl(ck *c, const rk__type *t)
{
    if (t->decl == NULL)
        return str_eq(t->name, "envelope") ? c->envelope : str_eq(t->name, "hlc_ts") ? c->hlc : NULL;
    for (sym *y = c->file.syms; y; y = y->next)
        if (y->kind == SYM_STRUCT && y->decl == t->decl)
            return y->st;
    return NULL;
}

/* The type written as t (qualifiers included; `space` and `is_const` apply to a pointer's pointee). */
static const rk__ty *ty_from_ast(ck *c, const rk__type *t)
{
    const rk__ty *base;

    if (t->base == RK_BT_VEC) {
        base = mk_vec(c, ty_of_base(c, t->elem), t->vec_len);
    } else if (t->base == RK_BT_STRUCT) {
        rk__ir_struct *st = struct_of_decl(c, t);
        rk__ty *s;

        if (st == NULL)
            return err_ty(c);
        s = NEW(c, rk__ty);
        s->kind = RK_TY_STRUCT;
        s->st = st;
        base = s;
    } else {
        base = ty_of_base(c, t->base);
    }
    return t->is_ptr ? mk_ptr(c, base, t->space, t->is_const) : base;
}

/* ---- Expression nodes. ---- */

static rk__ir_expr *mk_expr(ck *c, rk__ir_expr_kind kind, const rk__ty *type, rk__pos pos)
{
    rk__ir_expr *e = NEW(c, rk__ir_expr);

    e->kind = kind;
    e->type = type;
    e->pos = pos;
    return e;
}

static rk__ir_expr *mk_err(ck *c, rk__pos pos) { return mk_expr(c, RK_IR_CONST_INT, err_ty(c), pos); }

static rk__ir_expr *mk_int(ck *c, const rk__ty *t, uint64_t v, rk__pos pos)
{
    rk__ir_expr *e = mk_expr(c, RK_IR_CONST_INT, t, pos);

    e->u.i = rk__ty_bits(t) == 32 ? (v & 0xFFFFFFFFu) : v;
    return e;
}

static rk__ir_expr *mk_var_ref(ck *c, const rk__ir_var *v, rk__pos pos)
{
    rk__ir_expr *e = mk_expr(c, RK_IR_VAR, v->type, pos);

    e->u.var = v;
    return e;
}

static rk__ir_expr *mk_op(ck *c, rk__ir_expr_kind kind, rk__ir_op op, const rk__ty *t, rk__ir_expr *a,
                          rk__ir_expr *b, rk__pos pos)
{
    rk__ir_expr *e = mk_expr(c, kind, t, pos);

    e->u.op.op = op;
    e->u.op.a = a;
    e->u.op.b = b;
    return e;
}

static rk__ir_expr *mk_cast(ck *c, rk__ir_expr *a, const rk__ty *t)
{
    return rk__ty_equal(a->type, t) ? a : mk_op(c, RK_IR_CAST, RK_OP_NONE, t, a, NULL, a->pos);
}

/* A scalar broadcast to the vector type t (an explicit splat constructor). */
static rk__ir_expr *mk_splat(ck *c, rk__ir_expr *s, const rk__ty *t)
{
    rk__ir_expr *e = mk_expr(c, RK_IR_CTOR, t, s->pos);

    e->u.call.args = alloc(c, sizeof *e->u.call.args);
    e->u.call.args[0] = s;
    e->u.call.nargs = 1;
    return e;
}

/* ---- Literals (DSL.md §2: untyped literals take the type the context wants). ---- */

static int is_untyped(const rk__node *n)
{
    while (n && n->kind == RK_AST_UNARY && (n->u.unary.op == RK_TOK_MINUS || n->u.unary.op == RK_TOK_PLUS))
        n = n->u.unary.operand;
    if (n && n->kind == RK_AST_INT)
        return n->u.int_lit.suffix == RK_SUF_NONE;
    return n && n->kind == RK_AST_FLOAT && n->u.float_lit.suffix == RK_SUF_NONE;
}

/* Does the integer v (negated when neg) fit the integer or float type t exactly? */
static int int_fits(uint64_t v, int neg, const rk__ty *t)
{
    unsigned bits = rk__ty_bits(t);

    if (rk__ty_is_float(t)) {
        double d = (double)v;
        double r = t->kind == RK_TY_F32 ? (double)(float)d : d;

        return r < 18446744073709551616.0 && (uint64_t)r == v && (t->kind == RK_TY_F64 || (float)d == (float)r);
    }
    if (!rk__ty_is_int(t))
        return 0;
    if (rk__ty_is_signed(t))
        return v <= (neg ? (1ull << (bits - 1)) : (1ull << (bits - 1)) - 1);
    return !neg || v == 0 ? (bits == 64 || v <= 0xFFFFFFFFull) : 0;
}

static const rk__ty *suffix_type(ck *c, rk__lit_suffix s)
{
    static const rk__ty_kind map[] = { RK_TY_ERROR, RK_TY_U32, RK_TY_I32, RK_TY_U64, RK_TY_I64, RK_TY_F32, RK_TY_F64 };

    return scalar(c, (unsigned)s < sizeof map / sizeof map[0] ? map[s] : RK_TY_ERROR);
}

/* An integer literal n, negated when neg, for the wanted type `want` (NULL: none). With `soft` (the operand
 * of a cast) a literal that does not fit `want` takes its default type instead of being an error. */
static rk__ir_expr *int_literal(ck *c, const rk__node *n, int neg, const rk__ty *want, int soft, rk__pos pos)
{
    uint64_t v = n->u.int_lit.value;
    const rk__ty *t = NULL;
    char b[96];

    if (n->u.int_lit.suffix != RK_SUF_NONE) {
        t = suffix_type(c, n->u.int_lit.suffix);
        if (rk__ty_is_signed(t) && !int_fits(v, neg, t)) {
            error(c, pos, "integer literal does not fit in '%s'", tn(t, b));
            return mk_err(c, pos);
        }
        if (c->fn)
            check_written_type(c, t, n->pos, c->fn_targets);
        return mk_int(c, t, neg ? (uint64_t)0 - v : v, pos);
    }
    if (want && (rk__ty_is_num(elem_of(want)))) {
        if (int_fits(v, neg, elem_of(want)))
            t = elem_of(want);
        else if (!soft) {
            error(c, pos, "integer literal does not fit in '%s'", tn(elem_of(want), b));
            return mk_err(c, pos);
        }
    }
    if (t == NULL) {
        static const rk__ty_kind dec[] = { RK_TY_I32, RK_TY_I64, RK_TY_U64 };
        static const rk__ty_kind hex[] = { RK_TY_I32, RK_TY_U32, RK_TY_I64, RK_TY_U64 };
        const rk__ty_kind *order = n->u.int_lit.hex ? hex : dec;
        size_t count = n->u.int_lit.hex ? 4 : 3;

        for (size_t i = 0; i < count && t == NULL; i++)
            if (int_fits(v, neg, scalar(c, order[i])))
                t = scalar(c, order[i]);
        if (t == NULL) {
            error(c, pos, "integer literal does not fit in any integer type");
            return mk_err(c, pos);
        }
    }
    if (rk__ty_is_float(t)) {
        rk__ir_expr *e = mk_expr(c, RK_IR_CONST_FLOAT, t, pos);

        e->u.f = neg ? -(double)v : (double)v;
        return e;
    }
    return mk_int(c, t, neg ? (uint64_t)0 - v : v, pos);
}

static rk__ir_expr *float_literal(ck *c, const rk__node *n, int neg, const rk__ty *want, rk__pos pos)
{
    const rk__ty *t = scalar(c, RK_TY_F32);
    double v = n->u.float_lit.value;
    rk__ir_expr *e;
    char b[96];

    if (n->u.float_lit.suffix != RK_SUF_NONE) {
        t = suffix_type(c, n->u.float_lit.suffix);
        if (c->fn)
            check_written_type(c, t, n->pos, c->fn_targets);
    } else if (want && rk__ty_is_float(elem_of(want))) {
        t = elem_of(want);
    }
    if (t->kind == RK_TY_F32) {
        float f = (float)v;

        if (isinf(f) && !isinf(v)) {
            error(c, pos, "floating-point literal does not fit in '%s'", tn(t, b));
            return mk_err(c, pos);
        }
        v = (double)f;
    }
    e = mk_expr(c, RK_IR_CONST_FLOAT, t, pos);
    e->u.f = neg ? -v : v;
    return e;
}

/* A literal under any number of unary '+' and '-' (folded into the constant). */
static rk__ir_expr *literal(ck *c, const rk__node *n, const rk__ty *want, int soft)
{
    rk__pos pos = n->pos;
    int neg = 0;

    while (n->kind == RK_AST_UNARY) {
        neg ^= n->u.unary.op == RK_TOK_MINUS;
        n = n->u.unary.operand;
    }
    if (n->kind == RK_AST_INT)
        return int_literal(c, n, neg, want, soft, pos);
    return float_literal(c, n, neg, want, pos);
}

/* ---- Constant evaluation over the IR (array lengths, stencil offsets, file constants). ---- */

/* Evaluates an integer constant expression into *out (sign-extended for signed types); 1 if constant. */
static int const_int(const rk__ir_expr *e, int64_t *out)
{
    int64_t a, b;

    if (!rk__ty_is_int(e->type) || is_err(e->type))
        return 0;
    switch (e->kind) {
    case RK_IR_CONST_INT:
        *out = rk__ty_bits(e->type) == 32 ? (rk__ty_is_signed(e->type) ? (int64_t)(int32_t)(uint32_t)e->u.i
                                                                       : (int64_t)(uint32_t)e->u.i)
                                          : (int64_t)e->u.i;
        return 1;
    case RK_IR_VAR:
        return e->u.var->kind == RK_VAR_CONST && e->u.var->init && const_int(e->u.var->init, out);
    case RK_IR_CAST:
        if (!const_int(e->u.op.a, &a))
            return 0;
        *out = rk__ty_bits(e->type) == 32 ? (rk__ty_is_signed(e->type) ? (int32_t)a : (int64_t)(uint32_t)a) : a;
        return 1;
    case RK_IR_UNARY:
        if (!const_int(e->u.op.a, &a))
            return 0;
        *out = e->u.op.op == RK_OP_NEG ? (int64_t)(0 - (uint64_t)a) : ~a;
        return e->u.op.op == RK_OP_NEG || e->u.op.op == RK_OP_BITNOT;
    case RK_IR_BINARY:
        if (!const_int(e->u.op.a, &a) || !const_int(e->u.op.b, &b))
            return 0;
        switch (e->u.op.op) {
        case RK_OP_ADD: *out = (int64_t)((uint64_t)a + (uint64_t)b); break;
        case RK_OP_SUB: *out = (int64_t)((uint64_t)a - (uint64_t)b); break;
        case RK_OP_MUL: *out = (int64_t)((uint64_t)a * (uint64_t)b); break;
        case RK_OP_DIV:
        case RK_OP_REM:
            if (b == 0 || (a == INT64_MIN && b == -1))
                return 0;
            *out = e->u.op.op == RK_OP_DIV ? a / b : a % b;
            break;
        case RK_OP_SHL:
        case RK_OP_SHR:
            if (b < 0 || b >= (int64_t)rk__ty_bits(e->type))
                return 0;
            *out = e->u.op.op == RK_OP_SHL ? (int64_t)((uint64_t)a << b) : a >> b;
            break;
        case RK_OP_AND: *out = a & b; break;
        case RK_OP_OR: *out = a | b; break;
        case RK_OP_XOR: *out = a ^ b; break;
        default: return 0;
        }
        /* Wrap to the type, as the target would. */
        if (rk__ty_bits(e->type) == 32)
            *out = rk__ty_is_signed(e->type) ? (int32_t)(uint32_t)*out : (int64_t)(uint32_t)*out;
        return 1;
    default:
        return 0;
    }
}

/* ---- Lvalues. ---- */

typedef struct lv {
    int ok;             /* it designates memory */
    int read_only;      /* const local, file constant, pointer variable, pointer to const */
    rk__addr_space space;
    const char *why;    /* when !ok or read_only: the message */
} lv;

static lv lvalue_of(const rk__ir_expr *e)
{
    lv r = { 0, 0, RK_AS_PRIVATE, "expression is not assignable" };

    switch (e->kind) {
    case RK_IR_VAR:
        r.ok = 1;
        r.space = e->u.var->kind == RK_VAR_SHARED ? RK_AS_SHARED : RK_AS_PRIVATE;
        if (e->u.var->kind == RK_VAR_CONST || e->u.var->is_const) {
            r.read_only = 1;
            r.why = "cannot assign to a constant";
        } else if (e->type->kind == RK_TY_PTR) {
            r.read_only = 1;
            r.why = "cannot assign to a pointer";
        }
        return r;
    case RK_IR_FIELD:
        return lvalue_of(e->u.field.base);
    case RK_IR_SWIZZLE:
        r = lvalue_of(e->u.swz.base);
        for (unsigned i = 0; r.ok && i < e->u.swz.n; i++)
            for (unsigned j = i + 1; j < e->u.swz.n; j++)
                if (e->u.swz.comp[i] == e->u.swz.comp[j]) {
                    r.read_only = 1;
                    r.why = "a swizzle with a repeated component is not assignable";
                }
        return r;
    case RK_IR_INDEX:
    case RK_IR_DEREF: {
        const rk__ty *p = e->u.op.a->type;

        if (p->kind != RK_TY_PTR) /* an array element */
            return lvalue_of(e->u.op.a);
        r.ok = 1;
        r.space = p->space;
        if (p->space == RK_AS_CONSTANT) {
            r.read_only = 1;
            r.why = "cannot write to 'constant' memory";
        } else if (p->is_const) {
            r.read_only = 1;
            r.why = "cannot write through a pointer to const";
        }
        return r;
    }
    default:
        return r;
    }
}

/* ---- Expressions. ---- */

static rk__ir_expr *check_expr(ck *c, const rk__node *n, const rk__ty *want);

/* An expression used for its value: not a call of a void function. */
static rk__ir_expr *check_value(ck *c, const rk__node *n, const rk__ty *want)
{
    rk__ir_expr *e = check_expr(c, n, want);

    if (e->type->kind == RK_TY_VOID) {
        error(c, n->pos, "a call of a void function has no value");
        return mk_err(c, n->pos);
    }
    return e;
}

/* Reports unless e converts to `want` (assignable_to); ctx prefixes the message ("argument 2 of 'f'"). */
static int expect_type(ck *c, const rk__ir_expr *e, const rk__ty *want, const char *ctx)
{
    char b1[96], b2[96];

    if (is_err(e->type) || is_err(want) || assignable_to(want, e->type))
        return 1;
    if (ctx)
        error(c, e->pos, "%s must be '%s', found '%s'", ctx, tn(want, b1), tn(e->type, b2));
    else
        error(c, e->pos, "type mismatch: expected '%s', found '%s'", tn(want, b1), tn(e->type, b2));
    return 0;
}

/* The condition of if/while/for/?: . */
static rk__ir_expr *check_cond(ck *c, const rk__node *n, const char *what)
{
    rk__ir_expr *e = check_value(c, n, scalar(c, RK_TY_BOOL));
    char b[96];

    if (!is_err(e->type) && e->type->kind != RK_TY_BOOL)
        error(c, n->pos, "condition of '%s' must be 'bool', found '%s'", what, tn(e->type, b));
    return e;
}

static rk__ir_op binop_of(rk__tok_kind k)
{
    switch (k) {
    case RK_TOK_PLUS: case RK_TOK_PLUS_ASSIGN: case RK_TOK_INC: return RK_OP_ADD;
    case RK_TOK_MINUS: case RK_TOK_MINUS_ASSIGN: case RK_TOK_DEC: return RK_OP_SUB;
    case RK_TOK_STAR: case RK_TOK_STAR_ASSIGN: return RK_OP_MUL;
    case RK_TOK_SLASH: case RK_TOK_SLASH_ASSIGN: return RK_OP_DIV;
    case RK_TOK_PERCENT: case RK_TOK_PERCENT_ASSIGN: return RK_OP_REM;
    case RK_TOK_SHL: case RK_TOK_SHL_ASSIGN: return RK_OP_SHL;
    case RK_TOK_SHR: case RK_TOK_SHR_ASSIGN: return RK_OP_SHR;
    case RK_TOK_AMP: case RK_TOK_AMP_ASSIGN: return RK_OP_AND;
    case RK_TOK_PIPE: case RK_TOK_PIPE_ASSIGN: return RK_OP_OR;
    case RK_TOK_CARET: case RK_TOK_CARET_ASSIGN: return RK_OP_XOR;
    case RK_TOK_LT: return RK_OP_LT;
    case RK_TOK_LE: return RK_OP_LE;
    case RK_TOK_GT: return RK_OP_GT;
    case RK_TOK_GE: return RK_OP_GE;
    case RK_TOK_EQ: return RK_OP_EQ;
    case RK_TOK_NE: return RK_OP_NE;
    case RK_TOK_ANDAND: return RK_OP_LAND;
    case RK_TOK_OROR: return RK_OP_LOR;
    default: return RK_OP_NONE;
    }
}

static int is_cmp(rk__ir_op op) { return op >= RK_OP_LT && op <= RK_OP_NE; }

/* Does the scalar e suit operator op (DSL.md §4)? */
static int op_accepts(rk__ir_op op, const rk__ty *e)
{
    switch (op) {
    case RK_OP_REM:
        return rk__ty_is_int(e);
    case RK_OP_AND: case RK_OP_OR: case RK_OP_XOR:
        return rk__ty_is_int(e) || e->kind == RK_TY_BOOL;
    case RK_OP_EQ: case RK_OP_NE:
        return rk__ty_is_num(e) || e->kind == RK_TY_BOOL;
    case RK_OP_LAND: case RK_OP_LOR:
        return e->kind == RK_TY_BOOL;
    default:
        return rk__ty_is_num(e);
    }
}

static int is_value_ty(const rk__ty *t) { return rk__ty_is_scalar(t) || t->kind == RK_TY_VEC; }

/* Builds `a op b` with the operand rules of DSL.md §3-§4; the implicit parts become IR nodes: a scalar
 * beside a vector is splatted, a shift count of another integer type is cast to the shifted type. */
static rk__ir_expr *binary(ck *c, rk__ir_op op, rk__ir_expr *a, rk__ir_expr *b, rk__pos at, const char *sp)
{
    const rk__ty *ta = a->type, *tb = b->type, *vt, *res;
    char b1[96], b2[96];

    if (is_err(ta) || is_err(tb))
        return mk_err(c, at);
    if (ta->kind == RK_TY_PTR && (op == RK_OP_ADD || op == RK_OP_SUB) && rk__ty_is_int(tb))
        return mk_op(c, RK_IR_BINARY, op == RK_OP_ADD ? RK_OP_PTR_ADD : RK_OP_PTR_SUB, ta, a, b, at);
    if (!is_value_ty(ta) || !is_value_ty(tb))
        goto bad;
    if (op == RK_OP_SHL || op == RK_OP_SHR) {
        if (!rk__ty_is_int(elem_of(ta)) || !rk__ty_is_int(elem_of(tb)) ||
            (tb->kind == RK_TY_VEC && !rk__ty_equal(ta, tb)))
            goto bad;
        if (tb->kind != RK_TY_VEC)
            b = mk_cast(c, b, elem_of(ta));
        if (ta->kind == RK_TY_VEC && tb->kind != RK_TY_VEC)
            b = mk_splat(c, b, ta);
        return mk_op(c, RK_IR_BINARY, op, ta, a, b, at);
    }
    if (!rk__ty_equal(elem_of(ta), elem_of(tb)) || !op_accepts(op, elem_of(ta)) ||
        (ta->kind == RK_TY_VEC && tb->kind == RK_TY_VEC && ta->len != tb->len) ||
        ((op == RK_OP_LAND || op == RK_OP_LOR) && (ta->kind == RK_TY_VEC || tb->kind == RK_TY_VEC)))
        goto bad;
    vt = ta->kind == RK_TY_VEC ? ta : tb->kind == RK_TY_VEC ? tb : NULL;
    if (vt && ta->kind != RK_TY_VEC)
        a = mk_splat(c, a, vt);
    if (vt && tb->kind != RK_TY_VEC)
        b = mk_splat(c, b, vt);
    res = !is_cmp(op) ? (vt ? vt : ta) : vt ? mk_vec(c, scalar(c, RK_TY_BOOL), vt->len) : scalar(c, RK_TY_BOOL);
    return mk_op(c, RK_IR_BINARY, op, res, a, b, at);
bad:
    error(c, at, "operator '%s' cannot be applied to '%s' and '%s'", sp, tn(ta, b1), tn(tb, b2));
    return mk_err(c, at);
}

static rk__ir_expr *check_binary(ck *c, const rk__node *n, const rk__ty *want)
{
    rk__ir_op op = binop_of(n->u.binary.op);
    const char *sp = rk__lex_tok_spelling(n->u.binary.op);
    rk__ir_expr *a, *b;

    if (op == RK_OP_LAND || op == RK_OP_LOR) {
        a = check_value(c, n->u.binary.lhs, scalar(c, RK_TY_BOOL));
        b = check_value(c, n->u.binary.rhs, scalar(c, RK_TY_BOOL));
    } else {
        const rk__ty *w = is_cmp(op) ? NULL : want;
        int shift = op == RK_OP_SHL || op == RK_OP_SHR;

        if (!shift && is_untyped(n->u.binary.lhs) && !is_untyped(n->u.binary.rhs)) {
            b = check_value(c, n->u.binary.rhs, w);
            a = check_value(c, n->u.binary.lhs, b->type);
        } else {
            a = check_value(c, n->u.binary.lhs, w);
            b = check_value(c, n->u.binary.rhs, a->type);
        }
    }
    return binary(c, op, a, b, n->op_pos, sp ? sp : "?");
}

static rk__ir_expr *check_unary(ck *c, const rk__node *n, const rk__ty *want)
{
    rk__tok_kind op = n->u.unary.op;
    rk__ir_expr *a;
    char b[96];

    if (op == RK_TOK_AMP) {
        error(c, n->op_pos, "'&' is allowed only on a call argument");
        return mk_err(c, n->pos);
    }
    if ((op == RK_TOK_MINUS || op == RK_TOK_PLUS) && is_untyped(n))
        return literal(c, n, want, 0);
    if (op == RK_TOK_MINUS && n->u.unary.operand->kind == RK_AST_INT) /* -2147483648i32 */
        return literal(c, n, want, 0);
    a = check_value(c, n->u.unary.operand, op == RK_TOK_BANG ? scalar(c, RK_TY_BOOL) : op == RK_TOK_STAR ? NULL : want);
    if (is_err(a->type))
        return a;
    switch (op) {
    case RK_TOK_STAR:
        if (a->type->kind == RK_TY_PTR)
            return mk_op(c, RK_IR_DEREF, RK_OP_NONE, a->type->elem, a, NULL, n->pos);
        error(c, n->op_pos, "cannot dereference a value of type '%s'", tn(a->type, b));
        return mk_err(c, n->pos);
    case RK_TOK_MINUS:
    case RK_TOK_PLUS:
        if (is_value_ty(a->type) && rk__ty_is_num(elem_of(a->type)))
            return op == RK_TOK_PLUS ? a : mk_op(c, RK_IR_UNARY, RK_OP_NEG, a->type, a, NULL, n->pos);
        break;
    case RK_TOK_BANG:
        if (a->type->kind == RK_TY_BOOL)
            return mk_op(c, RK_IR_UNARY, RK_OP_NOT, a->type, a, NULL, n->pos);
        break;
    case RK_TOK_TILDE:
        if (is_value_ty(a->type) && rk__ty_is_int(elem_of(a->type)))
            return mk_op(c, RK_IR_UNARY, RK_OP_BITNOT, a->type, a, NULL, n->pos);
        break;
    default:
        break;
    }
    error(c, n->op_pos, "operator '%s' cannot be applied to '%s'", rk__lex_tok_spelling(op), tn(a->type, b));
    return mk_err(c, n->pos);
}

static rk__ir_expr *check_ident(ck *c, const rk__node *n)
{
    rk__str name = n->u.ident.name;
    sym *y = lookup(c, name);

    if (y && y->kind == SYM_VAR)
        return mk_var_ref(c, y->var, n->pos);
    if (y && y->kind == SYM_FUNC)
        error(c, n->pos, "function '%.*s' used as a value", NAME(name));
    else if (str_eq(name, "ENV_REQUEST") || str_eq(name, "ENV_REPLY"))
        return mk_int(c, scalar(c, RK_TY_U32), str_eq(name, "ENV_REQUEST") ? 1u : 2u, n->pos);
    else if (rk__intr_lookup(name.ptr, name.len))
        error(c, n->pos, "intrinsic '%.*s' used as a value", NAME(name));
    else
        error(c, n->pos, "unknown identifier '%.*s'", NAME(name));
    return mk_err(c, n->pos);
}

static rk__ir_expr *check_cond_expr(ck *c, const rk__node *n, const rk__ty *want)
{
    rk__ir_expr *e, *cc, *a, *b;
    char b1[96], b2[96];

    cc = check_cond(c, n->u.cond.c, "?:");
    if (is_untyped(n->u.cond.a) && !is_untyped(n->u.cond.b)) {
        b = check_value(c, n->u.cond.b, want);
        a = check_value(c, n->u.cond.a, b->type);
    } else {
        a = check_value(c, n->u.cond.a, want);
        b = check_value(c, n->u.cond.b, a->type);
    }
    if (is_err(cc->type) || is_err(a->type) || is_err(b->type))
        return mk_err(c, n->pos);
    if (!rk__ty_equal(a->type, b->type)) {
        error(c, n->op_pos, "the branches of '?:' have different types '%s' and '%s'", tn(a->type, b1), tn(b->type, b2));
        return mk_err(c, n->pos);
    }
    e = mk_expr(c, RK_IR_SELECT, a->type, n->pos);
    e->u.sel.c = cc;
    e->u.sel.a = a;
    e->u.sel.b = b;
    return e;
}

static rk__ir_expr *check_cast(ck *c, const rk__node *n)
{
    const rk__ty *t = ty_from_ast(c, &n->u.cast.type);
    const rk__node *o = n->u.cast.operand;
    rk__ir_expr *a;
    char b1[96], b2[96];

    if (n->u.cast.type.is_ptr) {
        error(c, n->pos, "pointer casts are not allowed");
        check_value(c, o, NULL);
        return mk_err(c, n->pos);
    }
    check_written_type(c, t, n->u.cast.type.pos, c->fn_targets);
    a = is_untyped(o) ? literal(c, o, t, 1) : check_value(c, o, NULL);
    if (is_err(a->type) || is_err(t))
        return mk_err(c, n->pos);
    if ((rk__ty_is_scalar(t) && rk__ty_is_scalar(a->type)) ||
        (t->kind == RK_TY_VEC && a->type->kind == RK_TY_VEC && t->len == a->type->len)) {
        rk__ir_expr *e = mk_cast(c, a, t);

        if (e != a)
            e->pos = n->pos;
        return e;
    }
    error(c, n->pos, "cannot cast '%s' to '%s'", tn(a->type, b1), tn(t, b2));
    return mk_err(c, n->pos);
}

static rk__ir_expr *check_member(ck *c, const rk__node *n)
{
    rk__ir_expr *base = check_value(c, n->u.member.base, NULL), *e;
    rk__str f = n->u.member.field;
    const rk__ty *t = base->type;
    char b[96];

    if (is_err(t))
        return base;
    if (n->u.member.op == RK_TOK_ARROW) {
        if (t->kind != RK_TY_PTR || t->elem->kind != RK_TY_STRUCT) {
            error(c, n->op_pos, "'->' needs a pointer to a struct, found '%s'", tn(t, b));
            return mk_err(c, n->pos);
        }
        base = mk_op(c, RK_IR_DEREF, RK_OP_NONE, t->elem, base, NULL, base->pos);
        t = t->elem;
    } else if (t->kind == RK_TY_PTR) {
        error(c, n->op_pos, "'.' on a pointer of type '%s'; use '->'", tn(t, b));
        return mk_err(c, n->pos);
    }
    if (t->kind == RK_TY_STRUCT) {
        for (uint32_t i = 0; i < t->st->nfields; i++) {
            if (str_same(t->st->fields[i].name, f)) {
                e = mk_expr(c, RK_IR_FIELD, t->st->fields[i].type, n->pos);
                e->u.field.base = base;
                e->u.field.index = i;
                return e;
            }
        }
        error(c, n->op_pos, "struct '%.*s' has no field '%.*s'", NAME(t->st->name), NAME(f));
        return mk_err(c, n->pos);
    }
    if (t->kind == RK_TY_VEC) {
        int ok = f.len >= 1 && f.len <= 4;

        e = mk_expr(c, RK_IR_SWIZZLE, NULL, n->pos);
        for (uint32_t i = 0; ok && i < f.len; i++) {
            const char *p = memchr("xyzw", f.ptr[i], 4);

            ok = p != NULL && (uint32_t)(p - "xyzw") < t->len;
            if (ok)
                e->u.swz.comp[i] = (uint8_t)(p - "xyzw");
        }
        if (!ok) {
            error(c, n->op_pos, "invalid swizzle '%.*s' on '%s'", NAME(f), tn(t, b));
            return mk_err(c, n->pos);
        }
        e->u.swz.base = base;
        e->u.swz.n = (uint8_t)f.len;
        e->type = f.len == 1 ? t->elem : mk_vec(c, t->elem, f.len);
        return e;
    }
    error(c, n->op_pos, "type '%s' has no field '%.*s'", tn(t, b), NAME(f));
    return mk_err(c, n->pos);
}

static rk__ir_expr *check_index(ck *c, const rk__node *n)
{
    rk__ir_expr *a = check_value(c, n->u.index.base, NULL);
    rk__ir_expr *i = check_value(c, n->u.index.index, NULL);
    int64_t v;
    char b[96];

    if (is_err(a->type) || is_err(i->type))
        return mk_err(c, n->pos);
    if (!rk__ty_is_int(i->type)) {
        error(c, n->u.index.index->pos, "index must be an integer, found '%s'", tn(i->type, b));
        return mk_err(c, n->pos);
    }
    if (a->type->kind == RK_TY_ARRAY && const_int(i, &v) && (v < 0 || v >= (int64_t)a->type->len)) {
        error(c, n->u.index.index->pos, "index %lld is out of range for '%s'", (long long)v, tn(a->type, b));
        return mk_err(c, n->pos);
    }
    if (a->type->kind != RK_TY_ARRAY && a->type->kind != RK_TY_PTR) {
        error(c, n->op_pos, "cannot index a value of type '%s'", tn(a->type, b));
        return mk_err(c, n->pos);
    }
    return mk_op(c, RK_IR_INDEX, RK_OP_NONE, a->type->elem, a, i, n->pos);
}

static rk__ir_expr *check_ctor(ck *c, const rk__node *n)
{
    const rk__ty *t = ty_from_ast(c, &n->u.call.ctor);
    rk__ir_expr *e = mk_expr(c, RK_IR_CTOR, t, n->pos);
    uint32_t i = 0;
    int bad = 0;
    char b[96];

    check_written_type(c, t, n->u.call.ctor.pos, c->fn_targets);
    e->u.call.args = alloc(c, (n->u.call.count ? n->u.call.count : 1) * sizeof *e->u.call.args);
    for (const rk__node *a = n->u.call.args; a; a = a->next, i++) {
        e->u.call.args[i] = check_value(c, a, t->elem);
        bad |= !expect_type(c, e->u.call.args[i], t->elem, NULL) || is_err(e->u.call.args[i]->type);
    }
    e->u.call.nargs = i;
    if (i != 1 && i != t->len) {
        error(c, n->pos, "'%s' takes 1 or %u arguments, found %u", tn(t, b), (unsigned)t->len, (unsigned)i);
        return mk_err(c, n->pos);
    }
    return bad ? mk_err(c, n->pos) : e;
}

/* ---- Calls. ---- */

/* A call argument: an expression, a string literal, or `&lvalue` (the only place '&' may appear). */
static rk__ir_expr *check_arg(ck *c, const rk__node *n, const rk__ty *want)
{
    if (n->kind == RK_AST_STRING) {
        rk__ir_expr *e = mk_expr(c, RK_IR_STRING, c->str_ty, n->pos);

        e->u.str = n->u.string_lit.text;
        return e;
    }
    if (n->kind == RK_AST_UNARY && n->u.unary.op == RK_TOK_AMP) {
        rk__ir_expr *a = check_value(c, n->u.unary.operand, NULL);
        lv l;

        if (is_err(a->type))
            return a;
        l = lvalue_of(a);
        if (!l.ok || a->kind == RK_IR_SWIZZLE) {
            error(c, n->op_pos, "cannot take the address of this expression");
            return mk_err(c, n->pos);
        }
        return mk_op(c, RK_IR_ADDR, RK_OP_NONE, mk_ptr(c, a->type, l.space, l.read_only), a, NULL, n->pos);
    }
    return check_value(c, n, want);
}

static const char *kinds_text(uint8_t kinds)
{
    if (kinds == RK_IK_RING)
        return "ring kernels";
    if (kinds == RK_IK_PSTENCIL)
        return "persistent_stencil kernels";
    if (kinds == (RK_IK_STENCIL | RK_IK_PSTENCIL))
        return "stencil and persistent_stencil kernels";
    return "some kernel kinds";
}

static uint8_t kind_bit(rk__kernel_kind k)
{
    static const uint8_t bits[] = { 0, RK_IK_GLOBAL, RK_IK_STENCIL, RK_IK_RING, RK_IK_PSTENCIL };

    return (unsigned)k < sizeof bits / sizeof bits[0] ? bits[k] : 0;
}

static const char *class_text(rk__intr_class k)
{
    static const char *const t[] = {
        "?", "f32 or f64", "a float scalar or vector", "a float vector", "a vec3 of float", "i32 or u32",
        "i64 or u64", "i32, u32 or u64", "a numeric scalar", "a numeric scalar or vector", "i32, u32 or f32",
        "a struct",
    };

    return (unsigned)k < sizeof t / sizeof t[0] ? t[k] : "?";
}

/* The type a signature position stands for, given the bound variable tvar (may be NULL). */
static const rk__ty *ptype_ty(ck *c, const rk__intr_ptype *p, const rk__ty *tvar)
{
    switch (p->kind) {
    case RK_IP_TVAR:
        return tvar ? tvar : err_ty(c);
    case RK_IP_ELEM:
        return tvar ? elem_of(tvar) : err_ty(c);
    case RK_IP_HLC:
        return c->hlc_ty;
    case RK_IP_STR:
        return c->str_ty;
    default:
        return p->base == RK_BT_VEC ? mk_vec(c, ty_of_base(c, p->elem), p->vec_len) : ty_of_base(c, p->base);
    }
}

/* Is `arg` an argument that fits the pointer position p (its pointee checked apart)? Reports if not. */
static int check_ptr_arg(ck *c, const rk__intrinsic *in, const rk__intr_ptype *p, const rk__ir_expr *arg,
                         unsigned k, int writes)
{
    static const char *const spaces[] = { "private", "global", "shared", "constant" };
    const rk__ty *t = arg->type;
    char b[96];

    if (t->kind != RK_TY_PTR) {
        error(c, arg->pos, "argument %u of '%s' must be a pointer, found '%s'", k, in->name, tn(t, b));
        return 0;
    }
    if (p->space_any ? (t->space != RK_AS_GLOBAL && t->space != RK_AS_SHARED) : t->space != p->space) {
        if (p->space_any)
            error(c, arg->pos, "argument %u of '%s' must point to global or shared memory", k, in->name);
        else if (p->space == RK_AS_PRIVATE)
            error(c, arg->pos, "argument %u of '%s' must be '&' of a local variable", k, in->name);
        else
            error(c, arg->pos, "argument %u of '%s' must point to %s memory", k, in->name, spaces[p->space & 3]);
        return 0;
    }
    if (writes && (t->is_const || t->space == RK_AS_CONSTANT)) {
        error(c, arg->pos, "argument %u of '%s' must point to writable memory", k, in->name);
        return 0;
    }
    return 1;
}

/* The kernel pointer parameter an expression names, or NULL. */
static const rk__ir_var *param_ptr(const rk__ir_expr *e)
{
    if (e->kind == RK_IR_VAR && e->u.var->kind == RK_VAR_PARAM && e->type->kind == RK_TY_PTR &&
        e->type->space == RK_AS_GLOBAL)
        return e->u.var;
    return NULL;
}

/* at(p, dx, dy[, dz]) of a stencil: an RK_IR_NEIGHBOR with the constant offsets. */
static rk__ir_expr *neighbor(ck *c, const rk__node *n, rk__ir_expr **args, uint32_t nargs)
{
    rk__ir_expr *e;
    int bad = 0;

    if (c->fn->kind != RK_KK_STENCIL && c->fn->kind != RK_KK_PSTENCIL)
        return mk_err(c, n->pos); /* reported by the kind check */
    if (nargs != c->fn->dims + 1) {
        error(c, n->pos, "'at' in a %u-dimensional stencil takes %u offsets", (unsigned)c->fn->dims,
              (unsigned)c->fn->dims);
        return mk_err(c, n->pos);
    }
    e = mk_expr(c, RK_IR_NEIGHBOR, args[0]->type->elem, n->pos);
    e->u.nb.buf = param_ptr(args[0]);
    for (uint32_t i = 1; i < nargs; i++) {
        int64_t v;

        if (!const_int(args[i], &v)) {
            error(c, args[i]->pos, "offset of 'at' must be an integer constant expression");
            bad = 1;
        } else if (v < -(int64_t)c->fn->radius || v > (int64_t)c->fn->radius) {
            error(c, args[i]->pos, "offset %lld is outside the stencil radius %u", (long long)v, (unsigned)c->fn->radius);
            bad = 1;
        } else {
            e->u.nb.off[i - 1] = (int32_t)v;
        }
    }
    return bad ? mk_err(c, n->pos) : e;
}

static rk__ir_expr *check_intrinsic(ck *c, const rk__node *n, const rk__intrinsic *in)
{
    const rk__node *a;
    rk__intr_sig sig;
    rk__ir_expr **args, *e;
    const rk__ty *tvar = NULL;
    uint32_t nargs = n->u.call.count, i, bound_at = 0;
    int bad = 0, writes;
    char b[96], b2[96];

    if (rk__intr_parse_sig(in->sig, &sig) < 0) {
        error(c, n->pos, "intrinsic '%s' has a bad signature", in->name);
        return mk_err(c, n->pos);
    }
    writes = ((in->flags & RK_IF_ATOMIC) && strcmp(in->name, "atomic_load") != 0) || strcmp(in->name, "store") == 0;
    if (c->fn->kind == RK_KK_NONE ? in->kinds != RK_IK_ANY : !(in->kinds & kind_bit(c->fn->kind))) {
        error(c, n->pos, "'%s' is available only in %s", in->name, kinds_text(in->kinds));
        bad = 1;
    }
    if (nargs < sig.min_params || nargs > sig.max_params) {
        if (sig.min_params == sig.max_params)
            error(c, n->pos, "'%s' takes %u argument%s, found %u", in->name, (unsigned)sig.min_params,
                  sig.min_params == 1 ? "" : "s", (unsigned)nargs);
        else
            error(c, n->pos, "'%s' takes %u to %u arguments, found %u", in->name, (unsigned)sig.min_params,
                  (unsigned)sig.max_params, (unsigned)nargs);
        for (a = n->u.call.args; a; a = a->next)
            check_arg(c, a, NULL);
        return mk_err(c, n->pos);
    }
    args = alloc(c, (nargs ? nargs : 1) * sizeof *args);
    /* Typed arguments first, so they bind the type variable; then untyped literals, which take its type. */
    for (int pass = 0; pass < 2; pass++) {
        for (a = n->u.call.args, i = 0; a; a = a->next, i++) {
            const rk__intr_ptype *p = &sig.params[i];
            const rk__ty *got;

            if ((pass == 0) == is_untyped(a))
                continue;
            args[i] = check_arg(c, a, p->is_ptr || (p->kind == RK_IP_TVAR && !tvar) ? NULL : ptype_ty(c, p, tvar));
            got = args[i]->type;
            if (p->kind == RK_IP_TVAR && !tvar && !is_err(got)) {
                if (!p->is_ptr || got->kind == RK_TY_PTR) {
                    tvar = p->is_ptr ? got->elem : got;
                    bound_at = i;
                }
            }
        }
    }
    if (sig.tclass != RK_TC_NONE && tvar &&
        (!rk__intr_class_accepts(sig.tclass,
                                 tvar->kind == RK_TY_STRUCT ? RK_BT_STRUCT
                                 : tvar->kind == RK_TY_VEC  ? RK_BT_VEC
                                                            : rk__ty_base(tvar->kind),
                                 rk__ty_base(elem_of(tvar)->kind), tvar->kind == RK_TY_VEC ? tvar->len : 0) ||
         (tvar->kind == RK_TY_STRUCT && tvar->st->predeclared))) {
        error(c, args[bound_at]->pos, "argument %u of '%s' must be %s%s, found '%s'", (unsigned)bound_at + 1,
              in->name, sig.params[bound_at].is_ptr ? "a pointer to " : "", class_text(sig.tclass), tn(tvar, b));
        return mk_err(c, n->pos);
    }
    for (i = 0; i < nargs; i++) {
        const rk__intr_ptype *p = &sig.params[i];
        char ctx[96];

        if (is_err(args[i]->type)) {
            bad = 1;
            continue;
        }
        snprintf(ctx, sizeof ctx, "argument %u of '%s'", (unsigned)i + 1, in->name);
        if (p->kind == RK_IP_STR && args[i]->kind != RK_IR_STRING) {
            error(c, args[i]->pos, "%s must be a string literal", ctx);
            bad = 1;
        } else if (p->is_ptr) {
            if (!check_ptr_arg(c, in, p, args[i], i + 1, writes)) {
                bad = 1;
            } else if (!rk__ty_equal(args[i]->type->elem, ptype_ty(c, p, tvar))) {
                error(c, args[i]->pos, "%s must be a pointer to '%s', found '%s'", ctx,
                      tn(ptype_ty(c, p, tvar), b), tn(args[i]->type, b2));
                bad = 1;
            }
        } else if (p->kind != RK_IP_STR) {
            bad |= !expect_type(c, args[i], ptype_ty(c, p, tvar), ctx);
        }
    }
    if (bad)
        return mk_err(c, n->pos);
    if ((strcmp(in->name, "at") == 0 || strcmp(in->name, "store") == 0) && !param_ptr(args[0])) {
        error(c, args[0]->pos, "the first argument of '%s' must be a global pointer parameter of the kernel", in->name);
        return mk_err(c, n->pos);
    }
    for (unsigned g = 0; g < RK_TGT_COUNT; g++) {
        rk__intr_spelling sp;

        if ((c->fn_targets & RK__TGT_BIT(g)) &&
            rk__intr_support(in, (rk__target)g, tvar ? rk__ty_base(elem_of(tvar)->kind) : RK_BT_NONE, &sp) < 0)
            error(c, n->pos, "%s", rk_last_error());
    }
    if (strcmp(in->name, "at") == 0)
        return neighbor(c, n, args, nargs);
    e = mk_expr(c, RK_IR_INTRIN, sig.ret.kind == RK_IP_TYPE && sig.ret.base == RK_BT_VOID ? scalar(c, RK_TY_VOID)
                                                                                           : ptype_ty(c, &sig.ret, tvar),
                n->pos);
    e->u.intr.row = (uint32_t)(in - rk__intr_at(0));
    e->u.intr.tvar = tvar;
    e->u.intr.args = args;
    e->u.intr.nargs = nargs;
    return e;
}

static rk__ir_expr *check_call(ck *c, const rk__node *n)
{
    const rk__node *callee = n->u.call.callee, *a;
    const rk__intrinsic *in;
    rk__ir_expr *e;
    rk__ir_func *fn;
    uint32_t i;
    sym *y;
    int bad = 0;

    if (callee == NULL || callee->kind != RK_AST_IDENT || c->fn == NULL) {
        error(c, n->pos, c->fn ? "only a named function can be called" : "a constant cannot call a function");
        return mk_err(c, n->pos);
    }
    y = lookup(c, callee->u.ident.name);
    if (y == NULL && (in = rk__intr_lookup(callee->u.ident.name.ptr, callee->u.ident.name.len)) != NULL)
        return check_intrinsic(c, n, in);
    if (y == NULL || y->kind != SYM_FUNC) {
        if (y)
            error(c, n->pos, "'%.*s' is not a function", NAME(callee->u.ident.name));
        else
            error(c, n->pos, "unknown function '%.*s'", NAME(callee->u.ident.name));
        for (a = n->u.call.args; a; a = a->next)
            check_arg(c, a, NULL);
        return mk_err(c, n->pos);
    }
    fn = y->fn;
    if (y->in_progress || fn->kind != RK_KK_NONE) {
        if (y->in_progress)
            error(c, n->pos, "recursion is not allowed: '%.*s' calls itself", NAME(fn->name));
        else
            error(c, n->pos, "cannot call kernel '%.*s'", NAME(fn->name));
        return mk_err(c, n->pos);
    }
    if (n->u.call.count != fn->nparams) {
        error(c, n->pos, "'%.*s' takes %u argument%s, found %u", NAME(fn->name), (unsigned)fn->nparams,
              fn->nparams == 1 ? "" : "s", (unsigned)n->u.call.count);
        return mk_err(c, n->pos);
    }
    e = mk_expr(c, RK_IR_CALL, fn->ret, n->pos);
    e->u.call.fn = fn;
    e->u.call.nargs = fn->nparams;
    e->u.call.args = alloc(c, (fn->nparams ? fn->nparams : 1) * sizeof *e->u.call.args);
    for (a = n->u.call.args, i = 0; a; a = a->next, i++) {
        char ctx[96];

        snprintf(ctx, sizeof ctx, "argument %u of '%.*s'", (unsigned)i + 1, NAME(fn->name));
        e->u.call.args[i] = check_arg(c, a, fn->params[i]->type);
        bad |= is_err(e->u.call.args[i]->type) || !expect_type(c, e->u.call.args[i], fn->params[i]->type, ctx);
    }
    return bad ? mk_err(c, n->pos) : e;
}

static rk__ir_expr *check_expr(ck *c, const rk__node *n, const rk__ty *want)
{
    if (n == NULL)
        return mk_err(c, (rk__pos){ 0, 1, 1 });
    switch (n->kind) {
    case RK_AST_INT:
    case RK_AST_FLOAT:
        return literal(c, n, want, 0);
    case RK_AST_BOOL: {
        rk__ir_expr *e = mk_expr(c, RK_IR_CONST_BOOL, scalar(c, RK_TY_BOOL), n->pos);

        e->u.i = n->u.bool_lit.value;
        return e;
    }
    case RK_AST_STRING:
        error(c, n->pos, "a string literal is allowed only as an argument of an intrinsic");
        return mk_err(c, n->pos);
    case RK_AST_IDENT:
        return check_ident(c, n);
    case RK_AST_UNARY:
        return check_unary(c, n, want);
    case RK_AST_BINARY:
        return check_binary(c, n, want);
    case RK_AST_COND:
        return check_cond_expr(c, n, want);
    case RK_AST_CAST:
        return check_cast(c, n);
    case RK_AST_CALL:
        return check_call(c, n);
    case RK_AST_CTOR:
        return check_ctor(c, n);
    case RK_AST_MEMBER:
        return check_member(c, n);
    case RK_AST_INDEX:
        return check_index(c, n);
    default:
        error(c, n->pos, "expected an expression");
        return mk_err(c, n->pos);
    }
}

/* ---- Statements. ---- */

static void add_stmt(rk__ir_block *b, rk__ir_stmt *s)
{
    if (b->tail)
        b->tail->next = s;
    else
        b->head = s;
    b->tail = s;
    b->count++;
}

static rk__ir_stmt *mk_stmt(ck *c, rk__ir_block *b, rk__ir_stmt_kind kind, rk__pos pos)
{
    rk__ir_stmt *s = NEW(c, rk__ir_stmt);

    s->kind = kind;
    s->pos = pos;
    add_stmt(b, s);
    return s;
}

/* Binds e to a new temporary declared in b; returns a reference to it. */
static rk__ir_expr *to_temp(ck *c, rk__ir_block *b, rk__ir_expr *e)
{
    rk__ir_var *v = new_var(c, RK_VAR_TEMP, (rk__str){ "tmp", 3 }, e->type);
    rk__ir_stmt *s = mk_stmt(c, b, RK_IR_S_VAR, e->pos);

    v->is_const = 1;
    s->u.var.var = v;
    s->u.var.init = e;
    return mk_var_ref(c, v, e->pos);
}

static int trivial(const rk__ir_expr *e)
{
    return e->kind == RK_IR_VAR || e->kind == RK_IR_CONST_INT || e->kind == RK_IR_CONST_FLOAT ||
           e->kind == RK_IR_CONST_BOOL;
}

static rk__ir_expr *pure_lvalue(ck *c, rk__ir_block *b, rk__ir_expr *e);

/* A pointer expression made free of side effects and repeated work: its integer offsets and any pointer
 * that is not a variable are bound to temporaries. */
static rk__ir_expr *pure_ptr(ck *c, rk__ir_block *b, rk__ir_expr *p)
{
    if (p->kind == RK_IR_VAR)
        return p;
    if (p->kind == RK_IR_BINARY && (p->u.op.op == RK_OP_PTR_ADD || p->u.op.op == RK_OP_PTR_SUB)) {
        p->u.op.a = pure_ptr(c, b, p->u.op.a);
        if (!trivial(p->u.op.b))
            p->u.op.b = to_temp(c, b, p->u.op.b);
        return p;
    }
    return to_temp(c, b, p);
}

/* The lvalue e with every index and pointer computed once, before the statement that uses it twice. */
static rk__ir_expr *pure_lvalue(ck *c, rk__ir_block *b, rk__ir_expr *e)
{
    switch (e->kind) {
    case RK_IR_FIELD:
        e->u.field.base = pure_lvalue(c, b, e->u.field.base);
        break;
    case RK_IR_SWIZZLE:
        e->u.swz.base = pure_lvalue(c, b, e->u.swz.base);
        break;
    case RK_IR_INDEX:
        e->u.op.a = e->u.op.a->type->kind == RK_TY_PTR ? pure_ptr(c, b, e->u.op.a) : pure_lvalue(c, b, e->u.op.a);
        if (!trivial(e->u.op.b))
            e->u.op.b = to_temp(c, b, e->u.op.b);
        break;
    case RK_IR_DEREF:
        e->u.op.a = pure_ptr(c, b, e->u.op.a);
        break;
    default:
        break;
    }
    return e;
}

/* The left side of an assignment: an lvalue that may be written. NULL after an error. */
static rk__ir_expr *check_target(ck *c, const rk__node *n)
{
    rk__ir_expr *e = check_value(c, n, NULL);
    lv l;

    if (is_err(e->type))
        return NULL;
    l = lvalue_of(e);
    if (!l.ok || l.read_only) {
        error(c, n->pos, "%s", l.why);
        return NULL;
    }
    if (e->type->kind == RK_TY_ARRAY) {
        error(c, n->pos, "an array cannot be assigned");
        return NULL;
    }
    return e;
}

static void check_assign(ck *c, const rk__node *n, rk__ir_block *b)
{
    rk__ir_expr *lhs = check_target(c, n->u.assign.lhs), *rhs;
    rk__ir_op op = n->u.assign.op == RK_TOK_ASSIGN ? RK_OP_NONE : binop_of(n->u.assign.op);
    rk__ir_stmt *s;
    char sp[4] = { 0 };

    if (op == RK_OP_NONE) {
        rhs = check_value(c, n->u.assign.rhs, lhs ? lhs->type : NULL);
        if (lhs == NULL || is_err(rhs->type) || !expect_type(c, rhs, lhs->type, NULL))
            return;
    } else {
        const char *full = rk__lex_tok_spelling(n->u.assign.op);

        if (lhs == NULL) {
            if (n->u.assign.rhs)
                check_value(c, n->u.assign.rhs, NULL);
            return;
        }
        lhs = pure_lvalue(c, b, lhs);
        if (n->kind == RK_AST_INCDEC) {
            if (!rk__ty_is_num(lhs->type)) {
                error(c, n->op_pos, "operator '%s' cannot be applied to '%s'", full, tn(lhs->type, (char[96]){ 0 }));
                return;
            }
            rhs = rk__ty_is_float(lhs->type) ? mk_expr(c, RK_IR_CONST_FLOAT, lhs->type, n->op_pos)
                                             : mk_int(c, lhs->type, 1, n->op_pos);
            if (rhs->kind == RK_IR_CONST_FLOAT)
                rhs->u.f = 1.0;
            sp[0] = full[0];
        } else {
            rhs = check_value(c, n->u.assign.rhs, lhs->type);
            memcpy(sp, full, strlen(full) - 1); /* "<<=" -> "<<" */
        }
        rhs = binary(c, op, lhs, rhs, n->op_pos, sp);
        if (is_err(rhs->type) || !expect_type(c, rhs, lhs->type, NULL))
            return;
    }
    s = mk_stmt(c, b, RK_IR_S_ASSIGN, n->pos);
    s->u.assign.lhs = lhs;
    s->u.assign.rhs = rhs;
}

static uint32_t array_len(ck *c, const rk__node *n)
{
    rk__ir_expr *e = check_value(c, n, NULL);
    int64_t v;

    if (is_err(e->type))
        return 0;
    if (!const_int(e, &v)) {
        error(c, n->pos, "array length must be an integer constant expression");
        return 0;
    }
    if (v <= 0 || v > (1 << 24)) {
        error(c, n->pos, "array length %lld is out of range (1 to 16777216)", (long long)v);
        return 0;
    }
    return (uint32_t)v;
}

static void check_var(ck *c, const rk__node *n, rk__ir_block *b)
{
    const rk__type *at = &n->u.var.type;
    const rk__ty *t = ty_from_ast(c, at);
    rk__ir_expr *init = NULL;
    rk__ir_var *v;
    rk__ir_stmt *s;
    int shared = n->u.var.storage == RK_ST_SHARED;

    check_written_type(c, t, at->pos, c->fn_targets);
    if (n->u.var.array_len) {
        uint32_t len = array_len(c, n->u.var.array_len);

        t = len ? mk_array(c, t, len) : err_ty(c);
    }
    if (at->is_ptr && at->space == RK_AS_PRIVATE)
        error(c, n->pos, "a pointer to private memory cannot be stored in a variable");
    if (shared && c->fn->kind == RK_KK_NONE)
        error(c, n->pos, "'shared' variables may be declared only in kernels");
    if (shared && at->is_ptr)
        error(c, n->pos, "a 'shared' variable cannot be a pointer");
    if (n->u.var.init) {
        if (shared)
            error(c, n->u.var.init->pos, "a 'shared' variable cannot have an initializer");
        else if (t->kind == RK_TY_ARRAY)
            error(c, n->u.var.init->pos, "an array cannot have an initializer");
        init = check_value(c, n->u.var.init, t);
        if (!is_err(t) && !is_err(init->type) && !shared && t->kind != RK_TY_ARRAY)
            expect_type(c, init, t, NULL);
    } else if (n->u.var.storage == RK_ST_CONST || at->is_ptr) {
        error(c, n->op_pos, "'%.*s' must be initialized", NAME(n->u.var.name));
    }
    if (!declarable(c, n->u.var.name, n->op_pos))
        return;
    v = new_var(c, shared ? RK_VAR_SHARED : RK_VAR_LOCAL, n->u.var.name, t);
    v->is_const = (uint8_t)(n->u.var.storage == RK_ST_CONST);
    declare(c, n->u.var.name, SYM_VAR)->var = v;
    if (shared) {
        rk__ir_var **grown = alloc(c, (c->fn->nshared + 1) * sizeof *grown);

        if (c->fn->nshared)
            memcpy(grown, c->fn->shared, c->fn->nshared * sizeof *grown);
        grown[c->fn->nshared++] = v;
        c->fn->shared = grown;
    }
    s = mk_stmt(c, b, RK_IR_S_VAR, n->pos);
    s->u.var.var = v;
    s->u.var.init = shared ? NULL : init;
}

static void check_stmt(ck *c, const rk__node *n, rk__ir_block *b);

/* Statements of a new scope: the list of a block node, or one statement. */
static void check_scoped(ck *c, const rk__node *n, rk__ir_block *b)
{
    scope s = { NULL, c->sc };

    c->sc = &s;
    if (n && n->kind == RK_AST_BLOCK) {
        for (const rk__node *t = n->u.block.stmts; t; t = t->next)
            check_stmt(c, t, b);
    } else if (n) {
        check_stmt(c, n, b);
    }
    c->sc = s.up;
}

static void check_return(ck *c, const rk__node *n, rk__ir_block *b)
{
    const rk__ty *ret = c->fn->ret;
    rk__ir_expr *v = NULL;
    char t[96];

    if (n->u.ret.value) {
        v = check_value(c, n->u.ret.value, ret->kind == RK_TY_VOID ? NULL : ret);
        if (ret->kind == RK_TY_VOID)
            error(c, n->pos, "'return' with a value in void function '%.*s'", NAME(c->fn->name));
        else
            expect_type(c, v, ret, NULL);
    } else if (ret->kind != RK_TY_VOID && !is_err(ret)) {
        error(c, n->pos, "'return' without a value in function '%.*s' returning '%s'", NAME(c->fn->name), tn(ret, t));
    }
    mk_stmt(c, b, RK_IR_S_RETURN, n->pos)->u.expr = v;
}

static void check_loop(ck *c, const rk__node *n, rk__ir_block *b)
{
    rk__ir_stmt *s;
    rk__ir_block *outer = b;
    scope sc = { NULL, c->sc };

    if (n->kind == RK_AST_FOR && n->u.for_s.init) {
        c->sc = &sc;
        s = mk_stmt(c, b, RK_IR_S_BLOCK, n->pos);
        b = &s->u.block;
        check_stmt(c, n->u.for_s.init, b);
    }
    s = mk_stmt(c, b, RK_IR_S_LOOP, n->pos);
    if (n->kind == RK_AST_WHILE)
        s->u.loop.cond = check_cond(c, n->u.while_s.cond, "while");
    else if (n->u.for_s.cond)
        s->u.loop.cond = check_cond(c, n->u.for_s.cond, "for");
    c->loops++;
    check_scoped(c, n->kind == RK_AST_WHILE ? n->u.while_s.body : n->u.for_s.body, &s->u.loop.body);
    c->loops--;
    if (n->kind == RK_AST_FOR && n->u.for_s.step)
        check_stmt(c, n->u.for_s.step, &s->u.loop.continuing);
    if (b != outer)
        c->sc = sc.up;
}

static void check_stmt(ck *c, const rk__node *n, rk__ir_block *b)
{
    rk__ir_stmt *s;

    switch (n->kind) {
    case RK_AST_BLOCK:
        s = mk_stmt(c, b, RK_IR_S_BLOCK, n->pos);
        check_scoped(c, n, &s->u.block);
        break;
    case RK_AST_VAR:
        check_var(c, n, b);
        break;
    case RK_AST_ASSIGN:
    case RK_AST_INCDEC:
        check_assign(c, n, b);
        break;
    case RK_AST_CALL_STMT: {
        rk__ir_expr *e = check_expr(c, n->u.expr_s.expr, NULL);

        mk_stmt(c, b, RK_IR_S_EXPR, n->pos)->u.expr = e;
        break;
    }
    case RK_AST_IF:
        s = mk_stmt(c, b, RK_IR_S_IF, n->pos);
        s->u.if_s.cond = check_cond(c, n->u.if_s.cond, "if");
        check_scoped(c, n->u.if_s.then_s, &s->u.if_s.then_s);
        if (n->u.if_s.else_s) {
            s->u.if_s.has_else = 1;
            check_scoped(c, n->u.if_s.else_s, &s->u.if_s.else_s);
        }
        break;
    case RK_AST_WHILE:
    case RK_AST_FOR:
        check_loop(c, n, b);
        break;
    case RK_AST_BREAK:
    case RK_AST_CONTINUE:
        if (c->loops == 0)
            error(c, n->pos, "'%s' outside a loop", n->kind == RK_AST_BREAK ? "break" : "continue");
        else
            mk_stmt(c, b, n->kind == RK_AST_BREAK ? RK_IR_S_BREAK : RK_IR_S_CONTINUE, n->pos);
        break;
    case RK_AST_RETURN:
        check_return(c, n, b);
        break;
    default: /* RK_AST_EMPTY; RK_AST_ERROR only after syntax errors */
        break;
    }
}

/* Does some statement of the block n satisfy pred? */
static int any_stmt(const rk__node *n, int (*pred)(const rk__node *))
{
    for (const rk__node *t = n->u.block.stmts; t; t = t->next)
        if (pred(t))
            return 1;
    return 0;
}

/* Does the statement leave the loop around it through 'break' (not counting inner loops)? */
static int breaks(const rk__node *n)
{
    if (n == NULL)
        return 0;
    if (n->kind == RK_AST_BLOCK)
        return any_stmt(n, breaks);
    if (n->kind == RK_AST_IF)
        return breaks(n->u.if_s.then_s) || breaks(n->u.if_s.else_s);
    return n->kind == RK_AST_BREAK;
}

/* Does every path through n end in 'return' (DSL.md §5)? Loops count only when they cannot end. */
static int always_returns(const rk__node *n)
{
    if (n == NULL)
        return 0;
    switch (n->kind) {
    case RK_AST_RETURN:
        return 1;
    case RK_AST_BLOCK:
        return any_stmt(n, always_returns);
    case RK_AST_IF:
        return always_returns(n->u.if_s.then_s) && always_returns(n->u.if_s.else_s);
    case RK_AST_WHILE:
        return n->u.while_s.cond->kind == RK_AST_BOOL && n->u.while_s.cond->u.bool_lit.value &&
               !breaks(n->u.while_s.body);
    case RK_AST_FOR:
        return n->u.for_s.cond == NULL && !breaks(n->u.for_s.body);
    default:
        return 0;
    }
}

/* ---- Parameter access (which kernel buffers are read, written, used atomically). ---- */

static rk__ir_var *root_var(const rk__ir_expr *e)
{
    while (e->kind == RK_IR_BINARY && (e->u.op.op == RK_OP_PTR_ADD || e->u.op.op == RK_OP_PTR_SUB))
        e = e->u.op.a;
    return e->kind == RK_IR_VAR && e->type->kind == RK_TY_PTR ? (rk__ir_var *)e->u.var : NULL;
}

static void mark(const rk__ir_expr *p, uint8_t acc)
{
    rk__ir_var *v = root_var(p);

    if (v)
        v->access |= acc;
}

/* Marks the accesses of e; `store` when e is the target of an assignment (its memory is written). */
static void access_expr(const rk__ir_expr *e, int store)
{
    switch (e->kind) {
    case RK_IR_VAR:
        /* A pointer copied into a variable or passed on: assume it is read and, unless const, written. */
        if (e->type->kind == RK_TY_PTR && !store)
            mark(e, (uint8_t)(RK_ACC_READ | (e->type->is_const ? 0 : RK_ACC_WRITE)));
        break;
    case RK_IR_UNARY:
    case RK_IR_CAST:
    case RK_IR_ADDR:
        access_expr(e->u.op.a, e->kind == RK_IR_ADDR ? 1 : 0);
        break;
    case RK_IR_BINARY:
        access_expr(e->u.op.a, store);
        access_expr(e->u.op.b, 0);
        break;
    case RK_IR_SELECT:
        access_expr(e->u.sel.c, 0);
        access_expr(e->u.sel.a, 0);
        access_expr(e->u.sel.b, 0);
        break;
    case RK_IR_CALL:
    case RK_IR_CTOR:
        for (uint32_t i = 0; i < e->u.call.nargs; i++)
            access_expr(e->u.call.args[i], 0);
        break;
    case RK_IR_INTRIN: {
        const rk__intrinsic *in = rk__intr_at(e->u.intr.row);

        for (uint32_t i = 0; i < e->u.intr.nargs; i++) {
            const rk__ir_expr *a = e->u.intr.args[i];

            if (i == 0 && in && (in->flags & RK_IF_ATOMIC) && a->type->kind == RK_TY_PTR) {
                /* The operand is a pointer variable or the address of an element (`&bins[k]`): the buffer
                 * at its root is read, written and used atomically, and its index expressions are read. */
                const rk__ir_expr *r = a;

                access_expr(a, 0);
                while (r->kind == RK_IR_ADDR || r->kind == RK_IR_INDEX || r->kind == RK_IR_FIELD ||
                       r->kind == RK_IR_DEREF || r->kind == RK_IR_SWIZZLE)
                    r = r->kind == RK_IR_FIELD ? r->u.field.base : r->kind == RK_IR_SWIZZLE ? r->u.swz.base : r->u.op.a;
                mark(r, RK_ACC_READ | RK_ACC_WRITE | RK_ACC_ATOMIC);
            }
            else if (i == 0 && in && strcmp(in->name, "store") == 0)
                mark(a, RK_ACC_WRITE);
            else
                access_expr(a, 0);
        }
        break;
    }
    case RK_IR_FIELD:
        access_expr(e->u.field.base, store);
        break;
    case RK_IR_SWIZZLE:
        access_expr(e->u.swz.base, store);
        break;
    case RK_IR_INDEX:
    case RK_IR_DEREF:
        if (e->u.op.a->type->kind == RK_TY_PTR) {
            const rk__ir_expr *p = e->u.op.a;

            mark(p, store ? RK_ACC_WRITE : RK_ACC_READ);
            while (p->kind == RK_IR_BINARY) {
                access_expr(p->u.op.b, 0);
                p = p->u.op.a;
            }
        } else {
            access_expr(e->u.op.a, store);
        }
        if (e->kind == RK_IR_INDEX)
            access_expr(e->u.op.b, 0);
        break;
    case RK_IR_NEIGHBOR:
        if (e->u.nb.buf)
            ((rk__ir_var *)e->u.nb.buf)->access |= RK_ACC_READ;
        break;
    default:
        break;
    }
}

static void access_block(const rk__ir_block *b)
{
    for (const rk__ir_stmt *s = b->head; s; s = s->next) {
        switch (s->kind) {
        case RK_IR_S_VAR:
            if (s->u.var.init)
                access_expr(s->u.var.init, 0);
            break;
        case RK_IR_S_ASSIGN:
            access_expr(s->u.assign.lhs, 1);
            access_expr(s->u.assign.rhs, 0);
            break;
        case RK_IR_S_EXPR:
        case RK_IR_S_RETURN:
            if (s->u.expr)
                access_expr(s->u.expr, 0);
            break;
        case RK_IR_S_IF:
            access_expr(s->u.if_s.cond, 0);
            access_block(&s->u.if_s.then_s);
            access_block(&s->u.if_s.else_s);
            break;
        case RK_IR_S_LOOP:
            if (s->u.loop.cond)
                access_expr(s->u.loop.cond, 0);
            access_block(&s->u.loop.body);
            access_block(&s->u.loop.continuing);
            break;
        case RK_IR_S_BLOCK:
            access_block(&s->u.block);
            break;
        default:
            break;
        }
    }
}

/* ---- Kernels. ---- */

/* Reads @kernel(kind, workgroup = N, radius = R, dims = D, tile = true|false) into f; reports bad
 * attributes. */
static void check_attrs(ck *c, const rk__node *fn, rk__ir_func *f)
{
    static const char *const kinds[] = { "global", "stencil", "ring", "persistent_stencil" };
    int seen = 0, has_wg = 0, has_radius = 0, has_dims = 0, has_tile = 0;
    uint64_t wg = 256;

    for (const rk__node *a = fn->u.func.attrs; a; a = a->next) {
        if (!str_eq(a->u.attr.name, "kernel")) {
            error(c, a->pos, "unknown attribute '@%.*s'", NAME(a->u.attr.name));
            continue;
        }
        if (seen++) {
            error(c, a->pos, "'@kernel' is given twice");
            continue;
        }
        for (const rk__node *g = a->u.attr.args; g; g = g->next) {
            rk__str nm = g->u.attr_arg.name;
            int has_value = g->u.attr_arg.value_kind != RK_TOK_EOF;
            uint64_t v = g->u.attr_arg.ival;

            if (g == a->u.attr.args) {
                for (unsigned k = 0; k < 4; k++)
                    if (str_eq(nm, kinds[k]) && !has_value)
                        f->kind = (rk__kernel_kind)(k + 1);
                if (f->kind == RK_KK_NONE)
                    error(c, g->pos, "unknown kernel kind '%.*s' (global, stencil, ring or persistent_stencil)", NAME(nm));
                continue;
            }
            if (str_eq(nm, "tile")) {
                rk__str tv = g->u.attr_arg.value;
                if (has_tile++)
                    error(c, g->pos, "'tile' is given twice");
                else if (!has_value || g->u.attr_arg.value_kind != RK_TOK_IDENT ||
                         (!str_eq(tv, "true") && !str_eq(tv, "false")))
                    error(c, g->pos, "'@kernel' argument 'tile' needs '= true' or '= false'");
                else
                    f->tile = str_eq(tv, "true");
            } else if (!has_value || g->u.attr_arg.value_kind != RK_TOK_INT) {
                error(c, g->pos, "'@kernel' argument '%.*s' needs '= <integer>'", NAME(nm));
            } else if (str_eq(nm, "workgroup")) {
                if (has_wg++)
                    error(c, g->pos, "'workgroup' is given twice");
                else if (v < 1 || v > 1024)
                    error(c, g->pos, "workgroup must be between 1 and 1024");
                wg = v;
            } else if (str_eq(nm, "radius")) {
                if (has_radius++)
                    error(c, g->pos, "'radius' is given twice");
                else if (v < 1 || v > 8)
                    error(c, g->pos, "radius must be between 1 and 8");
                f->radius = v <= 8 ? (uint32_t)v : 8;
            } else if (str_eq(nm, "dims")) {
                if (has_dims++)
                    error(c, g->pos, "'dims' is given twice");
                else if (v != 2 && v != 3)
                    error(c, g->pos, "dims must be 2 or 3");
                f->dims = v == 2 ? 2 : 3;
            } else {
                error(c, g->pos, "unknown '@kernel' argument '%.*s'", NAME(nm));
            }
        }
        if (a->u.attr.count == 0)
            error(c, a->pos, "'@kernel' needs a kind: global, stencil, ring or persistent_stencil");
    }
    if (f->kind == RK_KK_NONE)
        return;
    if (f->kind == RK_KK_STENCIL || f->kind == RK_KK_PSTENCIL) {
        unsigned k = 0;

        if (!has_radius)
            error(c, fn->op_pos, "stencil kernel '%.*s' needs 'radius = R' in '@kernel'", NAME(f->name));
        if (!has_dims)
            f->dims = 3;
        if (has_wg && (wg & (wg - 1)) != 0)
            error(c, fn->op_pos, "the workgroup of a stencil must be a power of two");
        if (!has_wg)
            wg = f->dims == 3 ? 256 : 256;
        while ((1ull << (k + 1)) <= wg)
            k++;
        /* A square (2D) or cubic (3D) tile: 256 threads are 16x16 or 8x8x4. */
        f->workgroup[0] = 1u << (f->dims == 3 ? (k + 2) / 3 : (k + 1) / 2);
        f->workgroup[1] = 1u << (f->dims == 3 ? (k + 1) / 3 : k / 2);
        f->workgroup[2] = 1u << (f->dims == 3 ? k / 3 : 0);
    } else {
        if (has_radius || has_dims)
            error(c, fn->op_pos, "'radius' and 'dims' apply only to stencil kernels");
        if (has_tile)
            error(c, fn->op_pos, "'tile' applies only to stencil kernels");
        f->workgroup[0] = wg >= 1 && wg <= 1024 ? (uint32_t)wg : 256;
        f->workgroup[1] = f->workgroup[2] = 1;
    }
}

/* The reason target g lacks a kernel kind (a ring or a grid-synchronised kernel), from the intrinsics that
 * kind depends on; NULL when g has it. */
static const char *kind_limit(rk__kernel_kind k, unsigned g)
{
    const char *row = k == RK_KK_RING ? "self_addr" : k == RK_KK_PSTENCIL ? "grid_sync" : NULL;
    const rk__intrinsic *in = row ? rk__intr_lookup(row, strlen(row)) : NULL;

    return in && in->spell[g][0] == '!' ? in->spell[g] + 1 : NULL;
}

static int is_user_struct_ptr(const rk__ty *t, rk__addr_space space, int is_const)
{
    return t->kind == RK_TY_PTR && t->space == space && t->is_const == is_const && t->elem->kind == RK_TY_STRUCT &&
           !t->elem->st->predeclared;
}

/* The kind-specific rules of DSL.md §5 on a kernel's signature. */
static void check_kernel_sig(ck *c, const rk__node *fn, rk__ir_func *f)
{
    char t[96];
    const rk__node *p = fn->u.func.params;

    for (uint32_t i = 0; i < f->nparams; i++, p = p->next) {
        const rk__ty *ty = f->params[i]->type;

        if (ty->kind == RK_TY_PTR && ty->space != RK_AS_GLOBAL && ty->space != RK_AS_CONSTANT)
            error(c, p->pos, "kernel parameter '%.*s' must point to global or constant memory", NAME(f->params[i]->name));
        else if (ty->kind == RK_TY_PTR && has_bool(ty->elem))
            error(c, p->pos, "kernel parameter '%.*s': 'bool' cannot be in memory shared with the host",
                  NAME(f->params[i]->name));
    }
    if (f->kind == RK_KK_RING) {
        const rk__ty *const *pt = NULL;

        if (f->ret->kind != RK_TY_I32)
            error(c, fn->op_pos, "ring handler '%.*s' must return 'i32', not '%s'", NAME(f->name), tn(f->ret, t));
        if (f->nparams != 3) {
            error(c, fn->op_pos, "ring handler '%.*s' must take (global const envelope *, global const T *, global S *)",
                  NAME(f->name));
            return;
        }
        (void)pt;
        p = fn->u.func.params;
        if (!(f->params[0]->type->kind == RK_TY_PTR && f->params[0]->type->space == RK_AS_GLOBAL &&
              f->params[0]->type->is_const && f->params[0]->type->elem->kind == RK_TY_STRUCT &&
              f->params[0]->type->elem->st == c->envelope))
            error(c, p->pos, "the first parameter of ring handler '%.*s' must be 'global const envelope *'", NAME(f->name));
        if (!is_user_struct_ptr(f->params[1]->type, RK_AS_GLOBAL, 1))
            error(c, p->next->pos, "the second parameter of ring handler '%.*s' must be 'global const T *' for a message struct T",
                  NAME(f->name));
        else
            f->msg = f->params[1]->type->elem->st;
        if (!is_user_struct_ptr(f->params[2]->type, RK_AS_GLOBAL, 0))
            error(c, p->next->next->pos, "the third parameter of ring handler '%.*s' must be 'global S *' for a state struct S",
                  NAME(f->name));
        else
            f->state = f->params[2]->type->elem->st;
        return;
    }
    if (f->ret->kind != RK_TY_VOID)
        error(c, fn->op_pos, "%s kernel '%.*s' must return void", rk__kernel_kind_name(f->kind), NAME(f->name));
    if (f->kind == RK_KK_PSTENCIL) {
        const rk__ty *first = NULL;
        unsigned seen = 0;

        for (uint32_t i = 0; i < f->nparams && seen < 2; i++) {
            const rk__ty *ty = f->params[i]->type;

            if (ty->kind != RK_TY_PTR)
                continue;
            if (seen++ == 0)
                first = ty;
            else if (ty->space != first->space || !rk__ty_equal(ty->elem, first->elem))
                error(c, fn->op_pos, "the first two pointer parameters of persistent_stencil kernel '%.*s' must have the same type",
                      NAME(f->name));
        }
        if (seen < 2)
            error(c, fn->op_pos, "persistent_stencil kernel '%.*s' needs two pointer parameters to swap", NAME(f->name));
    }
}

static void check_function(ck *c, const rk__node *fn)
{
    rk__ir_func *f = NEW(c, rk__ir_func);
    const rk__node *p;
    sym *self = NULL;
    scope params = { NULL, &c->file };
    uint32_t i = 0;

    f->name = fn->u.func.name;
    f->pos = fn->op_pos;
    c->fn = f;
    c->fn_targets = c->targets;
    check_attrs(c, fn, f);
    for (unsigned g = 0; g < RK_TGT_COUNT; g++) {
        const char *why = (c->targets & RK__TGT_BIT(g)) ? kind_limit(f->kind, g) : NULL;

        if (why) {
            error(c, fn->op_pos, "%s kernel '%.*s' is unsupported on %s: %s", rk__kernel_kind_name(f->kind),
                  NAME(f->name), rk__intr_target_name((rk__target)g), why);
            c->fn_targets &= ~RK__TGT_BIT(g); /* its body is not checked again for a target it cannot run on */
        }
    }
    f->ret = ty_from_ast(c, &fn->u.func.ret);
    check_written_type(c, f->ret, fn->u.func.ret.pos, c->fn_targets);
    f->params = alloc(c, (fn->u.func.nparams ? fn->u.func.nparams : 1) * sizeof *f->params);
    c->sc = &params;
    for (p = fn->u.func.params; p; p = p->next) {
        const rk__ty *t = ty_from_ast(c, &p->u.var.type);

        check_written_type(c, t, p->u.var.type.pos, c->fn_targets);
        f->params[i] = new_var(c, RK_VAR_PARAM, p->u.var.name, t);
        if (p->u.var.type.is_const && !p->u.var.type.is_ptr)
            error(c, p->pos, "'const' applies only to a pointer's pointee");
        if (declarable(c, p->u.var.name, p->op_pos))
            declare(c, p->u.var.name, SYM_VAR)->var = f->params[i];
        i++;
    }
    f->nparams = i;
    if (f->kind != RK_KK_NONE)
        check_kernel_sig(c, fn, f);
    c->sc = &c->file;
    if (declarable(c, f->name, fn->op_pos)) {
        self = declare(c, f->name, SYM_FUNC);
        self->fn = f;
        self->decl = fn;
        self->in_progress = 1;
    }
    c->sc = &params;
    check_scoped(c, fn->u.func.body, &f->body);
    c->sc = &c->file;
    if (self)
        self->in_progress = 0;
    if (f->ret->kind != RK_TY_VOID && !is_err(f->ret) && !always_returns(fn->u.func.body))
        error(c, fn->op_pos, "function '%.*s' does not return a value on every path", NAME(f->name));
    if (f->kind != RK_KK_NONE)
        access_block(&f->body);
    if (c->funcs_tail)
        c->funcs_tail->next = f;
    else
        c->m->funcs = f;
    c->funcs_tail = f;
    c->fn = NULL;
}

/* ---- File-level declarations. ---- */

static void check_struct(ck *c, const rk__node *n)
{
    rk__ir_struct *st = NEW(c, rk__ir_struct);
    uint32_t off = 0, align = 1, i = 0;
    sym *y;

    st->name = n->u.struct_decl.name;
    st->fields = alloc(c, (n->u.struct_decl.count ? n->u.struct_decl.count : 1) * sizeof *st->fields);
    for (const rk__node *f = n->u.struct_decl.fields; f; f = f->next) {
        const rk__ty *t = ty_from_ast(c, &f->u.var.type);
        uint32_t size, al;

        check_written_type(c, t, f->u.var.type.pos, c->targets);
        if (f->u.var.array_len) {
            uint32_t len;

            c->fn_targets = c->targets;
            len = array_len(c, f->u.var.array_len);
            t = len ? mk_array(c, t, len) : err_ty(c);
        }
        for (uint32_t j = 0; j < i; j++)
            if (str_same(st->fields[j].name, f->u.var.name))
                error(c, f->op_pos, "duplicate field '%.*s' in struct '%.*s'", NAME(f->u.var.name), NAME(st->name));
        if (has_bool(t))
            error(c, f->u.var.type.pos, "field '%.*s' of struct '%.*s' is 'bool', which has no layout shared with C",
                  NAME(f->u.var.name), NAME(st->name));
        if (is_err(t))
            continue;
        scalar_layout(t, &size, &al);
        if (off % al)
            error(c, f->u.var.type.pos, "struct '%.*s' has %u bytes of implicit padding before field '%.*s'",
                  NAME(st->name), (unsigned)(al - off % al), NAME(f->u.var.name));
        off = (off + al - 1) / al * al;
        st->fields[i].name = f->u.var.name;
        st->fields[i].type = t;
        st->fields[i].offset = off;
        off += size;
        align = al > align ? al : align;
        i++;
    }
    st->nfields = i;
    st->align = align;
    st->size = (off + align - 1) / align * align;
    if (st->size != off)
        error(c, n->pos, "struct '%.*s' has %u bytes of implicit padding at its end", NAME(st->name),
              (unsigned)(st->size - off));
    if (declarable(c, st->name, n->pos)) {
        y = declare(c, st->name, SYM_STRUCT);
        y->decl = n;
        y->st = st;
    } else {
        /* Still reachable from the types that name it (the parser resolved them). */
        y = declare(c, (rk__str){ "", 0 }, SYM_STRUCT);
        y->decl = n;
        y->st = st;
    }
    if (c->structs_tail)
        c->structs_tail->next = st;
    else
        c->m->structs = st;
    c->structs_tail = st;
}

static void check_const(ck *c, const rk__node *n)
{
    const rk__ty *t = ty_from_ast(c, &n->u.var.type);
    rk__ir_expr *e;
    rk__ir_var *v;
    int64_t iv;
    int ok;

    c->fn_targets = c->targets;
    check_written_type(c, t, n->u.var.type.pos, c->targets);
    if (!rk__ty_is_scalar(t)) {
        error(c, n->u.var.type.pos, "a file-level constant must have a scalar type");
        return;
    }
    e = check_value(c, n->u.var.init, t);
    if (is_err(e->type) || !expect_type(c, e, t, NULL))
        return;
    ok = rk__ty_is_int(t) ? const_int(e, &iv) : e->kind == RK_IR_CONST_FLOAT || e->kind == RK_IR_CONST_BOOL;
    if (!ok) {
        error(c, n->u.var.init->pos, "the value of constant '%.*s' must be a constant expression", NAME(n->u.var.name));
        return;
    }
    if (rk__ty_is_int(t))
        e = mk_int(c, t, (uint64_t)iv, e->pos);
    if (!declarable(c, n->u.var.name, n->op_pos))
        return;
    v = new_var(c, RK_VAR_CONST, n->u.var.name, t);
    v->is_const = 1;
    v->init = e;
    declare(c, n->u.var.name, SYM_VAR)->var = v;
    {
        rk__ir_var **grown = alloc(c, (c->m->nconsts + 1) * sizeof *grown);

        if (c->m->nconsts)
            memcpy(grown, c->m->consts, c->m->nconsts * sizeof *grown);
        grown[c->m->nconsts++] = v;
        c->m->consts = grown;
    }
}

int rk__check(const rk__ast *ast, unsigned targets, rk__diags *diags, rk__ir_module *out, size_t mem_limit)
{
    ck *c;
    int rc;

    if (out)
        memset(out, 0, sizeof *out);
    if (ast == NULL || ast->file == NULL || diags == NULL || out == NULL || (targets & ~RK__TGT_ALL))
        return rk__err(RK_EINVAL, "rk__check: bad argument");
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return rk__err(RK_ENOMEM, "rk__check: out of memory");
    rk__arena_init(&out->arena, mem_limit ? mem_limit : RK__CHECK_DEFAULT_MEM_LIMIT);
    c->d = diags;
    c->src = &ast->src;
    c->m = out;
    c->targets = targets;
    c->sc = &c->file;
    if (setjmp(c->fail) != 0) {
        rc = c->fail_rc;
        rk__ir_free(out);
        free(c);
        return rk__err(rc, "rk__check: the IR exceeds its memory limit or memory ran out");
    }
    c->scalars = alloc(c, (RK_TY_F64 + 1) * sizeof *c->scalars);
    for (int k = 0; k <= RK_TY_F64; k++)
        c->scalars[k].kind = (rk__ty_kind)k;
    c->str_ty = NEW(c, rk__ty);
    c->str_ty->kind = RK_TY_STR;
    predeclare_abi(c);
    for (const rk__node *d = ast->file->u.file.decls; d; d = d->next) {
        if (d->kind == RK_AST_STRUCT)
            check_struct(c, d);
        else if (d->kind == RK_AST_CONST)
            check_const(c, d);
        else if (d->kind == RK_AST_FUNC)
            check_function(c, d);
    }
    free(c);
    return 0;
}
