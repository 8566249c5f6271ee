/* emit.c - the part of code generation every target shares: a text buffer, types and declarations,
 * the one walk over statements and expressions, the one dispatch over helpers and kernel kinds
 * (rk__emit_funcs), intrinsic expansion from intrinsics.def and prelude selection. A target differs only
 * through its rk__emit_lang: spelling tables, flags and hooks (emit_c.c, emit_cuda.c, emit_glsl.c,
 * emit_wgsl.c, emit_msl.c), and writes its entry points and prelude around the walk.
 *
 * Expressions are printed with C precedence, so only the parentheses C needs appear, plus the ones GCC's
 * -Wparentheses asks for (operands of shifts, bitwise and logical operators that are themselves binary).
 * Those extra parentheses are also exactly what WGSL requires (its shift and bitwise operands are unary
 * expressions, and comparisons do not chain), so one precedence table serves every target.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/emit.h"
#include "core/internal.h"

/* ---- Text buffer. ---- */

void rk__out_put(rk__out *o, const char *s, size_t n)
{
    if (o->oom) {
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        char *b;

        while (cap < o->len + n + 1) {
            cap *= 2;
        }
        b = realloc(o->buf, cap);
        if (b == NULL) {
            o->oom = 1;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

void rk__out_puts(rk__out *o, const char *s) { rk__out_put(o, s, strlen(s)); }

static void out_vprintf(rk__out *o, const char *fmt, va_list ap)
{
    char small[512];
    va_list again;
    int n;

    va_copy(again, ap);
    n = vsnprintf(small, sizeof small, fmt, ap);
    if (n >= 0 && (size_t)n < sizeof small) {
        rk__out_put(o, small, (size_t)n);
    } else if (n >= 0) {
        char *big = malloc((size_t)n + 1);

        if (big == NULL) {
            o->oom = 1;
        } else {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            rk__out_put(o, big, (size_t)n);
            free(big);
        }
    }
    va_end(again);
}

void rk__out_printf(rk__out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(o, fmt, ap);
    va_end(ap);
}

void rk__out_free(rk__out *o)
{
    free(o->buf);
    memset(o, 0, sizeof *o);
}

/* ---- Diagnostics and names. ---- */

void rk__emit_error(rk__emitter *e, rk__pos at, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rk__diag_error(e->d, e->src, at, "%s: %s", rk__intr_target_name(e->tgt), msg);
    e->errors++;
}

/* C and C++ keywords a kernel-language identifier may collide with; such names get a trailing '_'. */
static const char *const reserved[] = {
    "auto", "break", "case", "catch", "char", "class", "default", "delete", "do", "double", "enum",
    "extern", "float", "friend", "goto", "inline", "int", "long", "namespace", "new", "operator",
    "private", "protected", "public", "register", "restrict", "short", "signed", "sizeof", "static",
    "switch", "template", "this", "throw", "try", "typedef", "typename", "union", "unsigned", "using",
    "virtual", "volatile", "wchar_t", "NULL", "bool", "true", "false", "main",
};

static int is_word(const char *w, rk__str s) { return strlen(w) == s.len && memcmp(w, s.ptr, s.len) == 0; }

void rk__emit_ident(rk__emitter *e, rk__out *o, rk__str s)
{
    rk__out_put(o, s.ptr, s.len);
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (is_word(reserved[i], s)) {
            rk__out_puts(o, "_");
            return;
        }
    }
    for (const char *const *r = e->L->reserved; r && *r; r++) {
        if (is_word(*r, s)) {
            rk__out_puts(o, "_");
            return;
        }
    }
}

#define put_ident(o, s) rk__emit_ident(e, (o), (s))

#define RK__GLSL_INT64 "GL_EXT_shader_explicit_arithmetic_types_int64"

void rk__emit_require(rk__emitter *e, const char *req, size_t len)
{
    for (unsigned i = 0; i < e->nreqs; i++) {
        if (e->reqs[i].len == len && memcmp(e->reqs[i].ptr, req, len) == 0) {
            return;
        }
    }
    if (e->nreqs < sizeof e->reqs / sizeof e->reqs[0]) {
        e->reqs[e->nreqs].ptr = req;
        e->reqs[e->nreqs].len = (uint32_t)len;
        e->nreqs++;
    }
}

void rk__emit_var_name(rk__emitter *e, rk__out *o, const rk__ir_var *v)
{
    if (v->kind == RK_VAR_TEMP) {
        rk__out_printf(o, "tmp_%u", v->id);
        return;
    }
    if (v->kind == RK_VAR_SHARED) {
        rk__out_puts(o, e->shared_prefix);
    }
    put_ident(o, v->name);
}

/* ---- Types. ---- */

static void scalar_type(rk__emitter *e, rk__out *o, rk__ty_kind k, rk__pos at)
{
    const char *n = k <= RK_TY_F64 ? e->L->scalar[k] : NULL;

    if (n == NULL) {
        rk__emit_error(e, at, "a type without a spelling");
        return;
    }
    if ((k == RK_TY_I64 || k == RK_TY_U64) && e->tgt == RK_TGT_GLSL) {
        rk__emit_require(e, RK__GLSL_INT64, sizeof RK__GLSL_INT64 - 1);
    }
    rk__out_puts(o, n);
}

/* The target's vector type: CUDA's uint3/float4, GLSL's uvec3, WGSL's vec3<u32>, the C prelude's rk_u32x3 ... */
static void vec_name(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at)
{
    rk__ty_kind k = t->elem->kind;

    if (k < RK_TY_I32 || k > RK_TY_F64) {
        rk__emit_error(e, at, "vectors of bool have no type in this emitter");
        return;
    }
    if (e->L->scalar[k] == NULL) {
        rk__emit_error(e, at, "a type without a spelling");
        return;
    }
    if ((k == RK_TY_I64 || k == RK_TY_U64) && e->tgt == RK_TGT_GLSL) {
        rk__emit_require(e, RK__GLSL_INT64, sizeof RK__GLSL_INT64 - 1);
    }
    e->L->vec_name(o, k, t->len);
}

void rk__emit_type(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at)
{
    switch (t->kind) {
    case RK_TY_VEC:
        vec_name(e, o, t, at);
        return;
    case RK_TY_STRUCT:
        if (t->st->predeclared) {
            if (e->tgt != RK_TGT_C && e->tgt != RK_TGT_CUDA) {
                rk__emit_error(e, at, "'%.*s' exists only in ring handlers, which this target does not run",
                               (int)t->st->name.len, t->st->name.ptr);
                return;
            }
            rk__out_puts(o, "rk_");
        }
        put_ident(o, t->st->name);
        return;
    case RK_TY_PTR:
        if (e->L->flags & RK_EL_BUFFERS) {
            rk__emit_error(e, at, "a pointer here: this target has buffers, not pointers");
            return;
        }
        rk__out_puts(o, e->L->space_kw[t->space & 3] ? e->L->space_kw[t->space & 3] : "");
        if (t->is_const) {
            rk__out_puts(o, "const ");
        }
        rk__emit_type(e, o, t->elem, at);
        rk__out_puts(o, " *");
        return;
    case RK_TY_ARRAY:
        rk__emit_type(e, o, t->elem, at);
        return;
    case RK_TY_STR:
        rk__out_puts(o, "const char *");
        return;
    default:
        scalar_type(e, o, t->kind, at);
        return;
    }
}

void rk__emit_decl(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at)
{
    const rk__ty *t = v->type;

    if (e->L->decl != NULL) {
        e->L->decl(e, o, v, at);
        return;
    }
    if (v->is_const && t->kind != RK_TY_PTR && v->kind != RK_VAR_PARAM) {
        rk__out_puts(o, "const ");
    }
    rk__emit_type(e, o, t, at);
    if (t->kind != RK_TY_PTR) {
        rk__out_puts(o, " ");
    }
    rk__emit_var_name(e, o, v);
    for (; t->kind == RK_TY_ARRAY; t = t->elem) {
        rk__out_printf(o, "[%u]", t->len);
    }
}

/* ---- Expressions. ---- */

enum { P_COMMA = 1, P_COND = 3, P_LOR, P_LAND, P_BOR, P_BXOR, P_BAND, P_EQ, P_REL, P_SHIFT, P_ADD, P_MUL,
       P_UNARY, P_POSTFIX, P_ATOM };

static void expr(rk__emitter *e, rk__out *o, const rk__ir_expr *x, int ctx);

static const struct {
    const char *tok;
    int prec;
} ops[] = {
    [RK_OP_NEG] = { "-", P_UNARY },    [RK_OP_NOT] = { "!", P_UNARY },     [RK_OP_BITNOT] = { "~", P_UNARY },
    [RK_OP_ADD] = { "+", P_ADD },      [RK_OP_SUB] = { "-", P_ADD },       [RK_OP_MUL] = { "*", P_MUL },
    [RK_OP_DIV] = { "/", P_MUL },      [RK_OP_REM] = { "%", P_MUL },       [RK_OP_SHL] = { "<<", P_SHIFT },
    [RK_OP_SHR] = { ">>", P_SHIFT },   [RK_OP_AND] = { "&", P_BAND },      [RK_OP_OR] = { "|", P_BOR },
    [RK_OP_XOR] = { "^", P_BXOR },     [RK_OP_LT] = { "<", P_REL },        [RK_OP_LE] = { "<=", P_REL },
    [RK_OP_GT] = { ">", P_REL },       [RK_OP_GE] = { ">=", P_REL },       [RK_OP_EQ] = { "==", P_EQ },
    [RK_OP_NE] = { "!=", P_EQ },       [RK_OP_LAND] = { "&&", P_LAND },    [RK_OP_LOR] = { "||", P_LOR },
    [RK_OP_PTR_ADD] = { "+", P_ADD },  [RK_OP_PTR_SUB] = { "-", P_ADD },
};

/* The precedence the expression prints at. */
static int prec_of(const rk__ir_expr *x)
{
    switch (x->kind) {
    case RK_IR_BINARY:
        return ops[x->u.op.op].prec;
    case RK_IR_UNARY:
    case RK_IR_CAST:
    case RK_IR_DEREF:
    case RK_IR_ADDR:
        return P_UNARY;
    case RK_IR_SELECT:
        return P_COND;
    case RK_IR_CONST_INT:
        return rk__ty_is_signed(x->type) && (int64_t)x->u.i < 0 ? P_UNARY : P_ATOM;
    case RK_IR_CONST_FLOAT:
        return x->u.f < 0 ? P_UNARY : P_ATOM;
    default:
        return P_POSTFIX;
    }
}

static void const_int(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    const rk__emit_lang *L = e->L;
    uint64_t v = x->u.i;

    switch (x->type->kind) {
    case RK_TY_I32:
        if ((int32_t)v == INT32_MIN) {
            rk__out_puts(o, L->int_min[0]);
        } else {
            rk__out_printf(o, "%d%s", (int)(int32_t)v, L->int_sfx[0]);
        }
        break;
    case RK_TY_U32:
        rk__out_printf(o, "%u%s", (unsigned)(uint32_t)v, L->int_sfx[1]);
        break;
    case RK_TY_I64:
        if ((int64_t)v == INT64_MIN) {
            rk__out_puts(o, L->int_min[1]);
        } else {
            rk__out_printf(o, "%lld%s", (long long)(int64_t)v, L->int_sfx[2]);
        }
        break;
    default:
        rk__out_printf(o, "%llu%s", (unsigned long long)v, L->int_sfx[3]);
        break;
    }
    if ((x->type->kind == RK_TY_I64 || x->type->kind == RK_TY_U64) && e->tgt == RK_TGT_GLSL) {
        rk__emit_require(e, RK__GLSL_INT64, sizeof RK__GLSL_INT64 - 1);
    }
}

static void const_float(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    int f64 = x->type->kind == RK_TY_F64;
    double v = x->u.f;
    char buf[64];

    if (isnan(v) || isinf(v)) {
        rk__out_printf(o, isinf(v) && v < 0 ? "(-%s)" : "%s", e->L->nonfinite[f64][isinf(v) ? 1 : 0]);
        return;
    }
    snprintf(buf, sizeof buf, f64 ? "%.17g" : "%.9g", v);
    rk__out_puts(o, buf);
    if (strpbrk(buf, ".e") == NULL) {
        rk__out_puts(o, ".0");
    }
    rk__out_puts(o, e->L->float_sfx[f64]);
}

/* 1 if x may be written twice in the output: it has no side effects and costs nothing to repeat. */
static int is_simple(const rk__ir_expr *x)
{
    switch (x->kind) {
    case RK_IR_CONST_INT:
    case RK_IR_CONST_FLOAT:
    case RK_IR_CONST_BOOL:
    case RK_IR_VAR:
    case RK_IR_STRING:
        return 1;
    case RK_IR_FIELD:
        return is_simple(x->u.field.base);
    case RK_IR_DEREF:
    case RK_IR_ADDR:
        return is_simple(x->u.op.a);
    default:
        return 0;
    }
}

static int is_ident_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Checks that every rk_* identifier in text is one the target defines; reports the first that is not. */
static int check_names(rk__emitter *e, const char *text, const char *intr, rk__pos at)
{
    for (const char *p = text; (p = strstr(p, "rk_")) != NULL;) {
        size_t n = 0;
        int known = 0;

        if (p > text && is_ident_char(p[-1])) {
            p += 3;
            continue;
        }
        while (p[n] == '_' || (p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z') ||
               (p[n] >= '0' && p[n] <= '9')) {
            n++;
        }
        for (size_t i = 0; i < e->npieces && !known; i++) {
            known = strlen(e->pieces[i].name) == n && memcmp(e->pieces[i].name, p, n) == 0;
        }
        for (const char *const *q = e->provided; q && *q && !known; q++) {
            known = strlen(*q) == n && memcmp(*q, p, n) == 0;
        }
        if (!known) {
            rk__emit_error(e, at, "'%s' needs '%.*s', which this version of the emitter does not provide", intr,
                           (int)n, p);
            return -1;
        }
        p += n;
    }
    return 0;
}

static void intrinsic(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    const rk__intrinsic *in = rk__intr_at(x->u.intr.row);
    const rk__ty *tv = x->u.intr.tvar;
    rk__intr_spelling sp;
    rk__intr_sig sig;
    rk__out args[RK_INTR_MAX_PARAMS];
    const char *argv[RK_INTR_MAX_PARAMS];
    unsigned nargs = x->u.intr.nargs;
    rk__base_type scalar = RK_BT_NONE;
    int n;

    memset(args, 0, sizeof args);
    if (tv != NULL && tv->kind == RK_TY_VEC && !(e->L->flags & RK_EL_NATIVE_VEC)) {
        rk__emit_error(e, x->pos, "'%s' on vectors: this version lowers intrinsics on scalars only", in->name);
        return;
    }
    if (tv != NULL && tv->kind != RK_TY_STRUCT) {
        scalar = rk__ty_base(tv->kind == RK_TY_VEC ? tv->elem->kind : tv->kind);
    }
    if (rk__intr_support(in, e->tgt, scalar, &sp) != 0 || rk__intr_parse_sig(in->sig, &sig) != 0) {
        rk__emit_error(e, x->pos, "%s", rk_last_error());
        return;
    }
    /* "[requirement]" of the spelling and the extension its type needs go to the file's header. */
    if (sp.require.len > 0) {
        rk__emit_require(e, sp.require.ptr, sp.require.len);
    }
    if (sp.type_need != NULL) {
        rk__emit_require(e, sp.type_need, strlen(sp.type_need));
    }
    for (unsigned i = 0; i < nargs && i < RK_INTR_MAX_PARAMS; i++) {
        const rk__ir_expr *a = x->u.intr.args[i];
        unsigned uses = 0;
        char slot[3] = { '$', (char)('0' + i), 0 };

        for (const char *p = sp.tmpl; (p = strstr(p, slot)) != NULL; p += 2) {
            if (p == sp.tmpl || p[-1] != '$') {
                uses++;
            }
        }
        if (uses > 1 && !is_simple(a)) {
            rk__emit_error(e, a->pos,
                           "argument %u of '%s' is used %u times by the %s spelling; bind it to a variable first",
                           i + 1, in->name, uses, rk__intr_target_name(e->tgt));
        }
        /* A pointer parameter is passed as the lvalue it designates, a `global T*` (a stencil's buffer) as
         * the buffer itself (intrinsics.def conventions). */
        e->in_atomic = (in->flags & RK_IF_ATOMIC) && sig.params[i].is_ptr;
        if (e->in_atomic && (e->L->flags & RK_EL_ATOMIC_TYPES) && a->kind == RK_IR_ADDR) {
            rk__emit_error(e, a->pos, "atomics on shared memory or locals: not lowered for this target in this "
                                      "version (only on a buffer parameter)");
        }
        if (sig.params[i].is_ptr && !sig.params[i].space_any && sig.params[i].space == RK_AS_GLOBAL) {
            expr(e, &args[i], a, P_POSTFIX);
        } else if (sig.params[i].is_ptr) {
            if (a->kind == RK_IR_ADDR) {
                expr(e, &args[i], a->u.op.a, P_POSTFIX);
            } else {
                expr(e, &args[i], a, P_POSTFIX);
                rk__out_puts(&args[i], "[0]");
            }
        } else {
            expr(e, &args[i], a, uses > 0 || nargs == 0 ? P_POSTFIX : P_COMMA + 1);
        }
        e->in_atomic = 0;
        argv[i] = args[i].buf ? args[i].buf : "";
    }
    n = rk__intr_expand(sp.tmpl, argv, nargs, NULL, 0);
    if (n >= 0) {
        char *buf = malloc((size_t)n + 1);

        if (buf == NULL) {
            o->oom = 1;
        } else {
            rk__intr_expand(sp.tmpl, argv, nargs, buf, (size_t)n + 1);
            /* The template's own names: the arguments were checked as they were written, and a string
             * literal argument may contain anything. */
            if (check_names(e, sp.tmpl, in->name, x->pos) == 0) {
                rk__out_puts(o, buf);
            }
            free(buf);
        }
    } else {
        rk__emit_error(e, x->pos, "%s", rk_last_error());
    }
    for (unsigned i = 0; i < nargs && i < RK_INTR_MAX_PARAMS; i++) {
        rk__out_free(&args[i]);
    }
}

static void ctor(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    unsigned n = x->type->len;
    int splat = x->u.call.nargs == 1 && (e->L->flags & RK_EL_NATIVE_VEC);

    if (x->u.call.nargs == 1 && !splat && !is_simple(x->u.call.args[0])) {
        rk__emit_error(e, x->pos, "a vector splat of an expression with effects; bind it to a variable first");
        return;
    }
    rk__out_puts(o, e->L->ctor[0]);
    vec_name(e, o, x->type, x->pos);
    rk__out_puts(o, e->L->ctor[1]);
    for (unsigned i = 0; i < (splat ? 1 : n); i++) {
        if (i > 0) {
            rk__out_puts(o, ", ");
        }
        expr(e, o, x->u.call.args[x->u.call.nargs == 1 ? 0 : i], P_COMMA + 1);
    }
    rk__out_puts(o, e->L->ctor[2]);
}

/* 1 if x has no side effects, so a target may evaluate it when C would not (WGSL's select()). */
static int is_pure(const rk__ir_expr *x)
{
    switch (x->kind) {
    case RK_IR_CALL:
        return 0;
    case RK_IR_INTRIN: {
        const rk__intrinsic *in = rk__intr_at(x->u.intr.row);

        if (in == NULL || (in->flags & RK_IF_ATOMIC) || in->cat == RK_IC_SYNC || in->cat == RK_IC_FENCE ||
            in->cat == RK_IC_MSG || in->cat == RK_IC_HLC) {
            return 0;
        }
        for (uint32_t i = 0; i < x->u.intr.nargs; i++) {
            if (!is_pure(x->u.intr.args[i])) {
                return 0;
            }
        }
        return 1;
    }
    case RK_IR_UNARY:
    case RK_IR_CAST:
    case RK_IR_DEREF:
    case RK_IR_ADDR:
        return is_pure(x->u.op.a);
    case RK_IR_BINARY:
    case RK_IR_INDEX:
        return is_pure(x->u.op.a) && is_pure(x->u.op.b);
    case RK_IR_SELECT:
        return is_pure(x->u.sel.c) && is_pure(x->u.sel.a) && is_pure(x->u.sel.b);
    case RK_IR_CTOR:
        for (uint32_t i = 0; i < x->u.call.nargs; i++) {
            if (!is_pure(x->u.call.args[i])) {
                return 0;
            }
        }
        return 1;
    case RK_IR_FIELD:
        return is_pure(x->u.field.base);
    case RK_IR_SWIZZLE:
        return is_pure(x->u.swz.base);
    default:
        return 1;
    }
}

static int is_grouping(rk__ir_op op)
{
    return op == RK_OP_SHL || op == RK_OP_SHR || op == RK_OP_AND || op == RK_OP_OR || op == RK_OP_XOR ||
           op == RK_OP_LAND || op == RK_OP_LOR;
}

static void binary(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    rk__ir_op op = x->u.op.op;
    int p = ops[op].prec;
    int lc = p, rc = p + 1;

    if ((x->type->kind == RK_TY_VEC || x->u.op.a->type->kind == RK_TY_VEC) && !(e->L->flags & RK_EL_NATIVE_VEC)) {
        rk__emit_error(e, x->pos, "vector arithmetic: this version lowers operators on scalars only");
        return;
    }
    if ((op == RK_OP_PTR_ADD || op == RK_OP_PTR_SUB) && (e->L->flags & RK_EL_BUFFERS)) {
        rk__emit_error(e, x->pos, "pointer arithmetic: this target has buffers, not pointers; index the buffer");
        return;
    }
    /* Operands of shifts and bitwise or logical operators that are binary themselves get parentheses,
     * as -Wparentheses asks; so do comparisons inside comparisons. */
    if (is_grouping(op) || p == P_EQ || p == P_REL) {
        if (x->u.op.a->kind == RK_IR_BINARY && (is_grouping(op) || ops[x->u.op.a->u.op.op].prec <= P_EQ + 1)) {
            lc = P_UNARY;
        }
        if (x->u.op.b->kind == RK_IR_BINARY && (is_grouping(op) || ops[x->u.op.b->u.op.op].prec <= P_EQ + 1)) {
            rc = P_UNARY;
        }
    }
    expr(e, o, x->u.op.a, lc);
    rk__out_printf(o, " %s ", ops[op].tok);
    /* WGSL shifts by a u32 whatever the left operand's type. */
    if ((op == RK_OP_SHL || op == RK_OP_SHR) && (e->L->flags & RK_EL_WGSL) && x->u.op.b->type->kind != RK_TY_U32) {
        rk__out_puts(o, "u32(");
        expr(e, o, x->u.op.b, P_COMMA + 1);
        rk__out_puts(o, ")");
        return;
    }
    expr(e, o, x->u.op.b, rc);
}

/* *p: a buffer's first element where pointers are buffers (GLSL, WGSL), the out-parameter itself (GLSL's
 * inout) or *p (WGSL's ptr<function>) for a private pointer; *p elsewhere. */
static void deref(rk__emitter *e, rk__out *o, const rk__ir_expr *p, int for_field)
{
    if (!(e->L->flags & RK_EL_BUFFERS)) {
        if (for_field) {
            expr(e, o, p, P_POSTFIX);
            rk__out_puts(o, "->");
        } else {
            rk__out_puts(o, "*");
            expr(e, o, p, P_UNARY);
        }
        return;
    }
    if (p->type->kind == RK_TY_PTR && p->type->space == RK_AS_PRIVATE) {
        if (e->L->flags & RK_EL_WGSL) {
            rk__out_puts(o, "(*");
            expr(e, o, p, P_UNARY);
            rk__out_puts(o, ")");
        } else {
            expr(e, o, p, P_POSTFIX);
        }
    } else {
        expr(e, o, p, P_POSTFIX);
        rk__out_puts(o, "[0]");
    }
    if (for_field) {
        rk__out_puts(o, ".");
    }
}

static void expr_body(rk__emitter *e, rk__out *o, const rk__ir_expr *x)
{
    switch (x->kind) {
    case RK_IR_CONST_INT:
        const_int(e, o, x);
        return;
    case RK_IR_CONST_FLOAT:
        const_float(e, o, x);
        return;
    case RK_IR_CONST_BOOL:
        rk__out_puts(o, x->u.i ? "true" : "false");
        return;
    case RK_IR_STRING:
        rk__out_put(o, x->u.str.ptr, x->u.str.len);
        return;
    case RK_IR_VAR:
        if ((e->L->flags & RK_EL_ATOMIC_TYPES) && !e->in_atomic && x->u.var->kind == RK_VAR_PARAM &&
            (x->u.var->access & RK_ACC_ATOMIC)) {
            rk__emit_error(e, x->pos, "'%.*s' is used atomically and also read or written directly; atomics here "
                           "need the whole buffer atomic", (int)x->u.var->name.len, x->u.var->name.ptr);
            return;
        }
        rk__emit_var_name(e, o, x->u.var);
        return;
    case RK_IR_UNARY:
        if (x->type->kind == RK_TY_VEC && !(e->L->flags & RK_EL_NATIVE_VEC)) {
            rk__emit_error(e, x->pos, "vector arithmetic: this version lowers operators on scalars only");
            return;
        }
        /* WGSL has no negation of unsigned integers; 0 - x wraps the same way. */
        if (x->u.op.op == RK_OP_NEG && (e->L->flags & RK_EL_WGSL) && !rk__ty_is_signed(x->type) &&
            rk__ty_is_int(x->type)) {
            rk__out_puts(o, "(0u - ");
            expr(e, o, x->u.op.a, P_MUL);
            rk__out_puts(o, ")");
            return;
        }
        rk__out_puts(o, ops[x->u.op.op].tok);
        expr(e, o, x->u.op.a, P_POSTFIX);
        return;
    case RK_IR_BINARY:
        binary(e, o, x);
        return;
    case RK_IR_SELECT:
        if (e->L->flags & RK_EL_WGSL) {
            /* select(f, t, c) evaluates both sides: fine for loads (WGSL's are bounds-checked), not for calls. */
            if (!is_pure(x->u.sel.a) || !is_pure(x->u.sel.b)) {
                rk__emit_error(e, x->pos, "'?:' with a call on a side: WGSL's select() evaluates both sides; use "
                                          "an if statement");
                return;
            }
            rk__out_puts(o, "select(");
            expr(e, o, x->u.sel.b, P_COMMA + 1);
            rk__out_puts(o, ", ");
            expr(e, o, x->u.sel.a, P_COMMA + 1);
            rk__out_puts(o, ", ");
            expr(e, o, x->u.sel.c, P_COMMA + 1);
            rk__out_puts(o, ")");
            return;
        }
        expr(e, o, x->u.sel.c, P_COND + 1);
        rk__out_puts(o, " ? ");
        expr(e, o, x->u.sel.a, P_COND + 1);
        rk__out_puts(o, " : ");
        expr(e, o, x->u.sel.b, P_COND);
        return;
    case RK_IR_CAST:
        if (x->type->kind == RK_TY_VEC && !(e->L->flags & RK_EL_NATIVE_VEC)) {
            rk__emit_error(e, x->pos, "vector conversion: this version converts scalars only");
            return;
        }
        if (e->L->flags & RK_EL_CALL_CAST) {
            rk__emit_type(e, o, x->type, x->pos);
            rk__out_puts(o, "(");
            expr(e, o, x->u.op.a, P_COMMA + 1);
            rk__out_puts(o, ")");
            return;
        }
        rk__out_puts(o, "(");
        rk__emit_type(e, o, x->type, x->pos);
        rk__out_puts(o, ")");
        expr(e, o, x->u.op.a, P_UNARY);
        return;
    case RK_IR_CALL:
        put_ident(o, x->u.call.fn->name);
        rk__out_puts(o, "(");
        for (uint32_t i = 0; i < x->u.call.nargs; i++) {
            if (i > 0) {
                rk__out_puts(o, ", ");
            }
            expr(e, o, x->u.call.args[i], P_COMMA + 1);
        }
        rk__out_puts(o, ")");
        return;
    case RK_IR_INTRIN:
        intrinsic(e, o, x);
        return;
    case RK_IR_CTOR:
        ctor(e, o, x);
        return;
    case RK_IR_FIELD: {
        const rk__ir_expr *b = x->u.field.base;
        const rk__ir_struct *st = b->type->st;

        if (b->kind == RK_IR_DEREF) {
            deref(e, o, b->u.op.a, 1);
        } else {
            expr(e, o, b, P_POSTFIX);
            rk__out_puts(o, ".");
        }
        put_ident(o, st->fields[x->u.field.index].name);
        return;
    }
    case RK_IR_SWIZZLE:
        if (x->u.swz.n != 1 && (e->L->flags & RK_EL_NATIVE_VEC)) {
            expr(e, o, x->u.swz.base, P_POSTFIX);
            rk__out_puts(o, ".");
            for (unsigned i = 0; i < x->u.swz.n; i++) {
                rk__out_printf(o, "%c", "xyzw"[x->u.swz.comp[i] & 3]);
            }
            return;
        }
        if (x->u.swz.n != 1) {
            const rk__ir_expr *b = x->u.swz.base;

            if (!is_simple(b)) {
                rk__emit_error(e, x->pos, "a swizzle of an expression with effects; bind it to a variable first");
                return;
            }
            rk__out_puts(o, e->L->ctor[0]);
            vec_name(e, o, x->type, x->pos);
            rk__out_puts(o, e->L->ctor[1]);
            for (unsigned i = 0; i < x->u.swz.n; i++) {
                rk__out_puts(o, i ? ", " : "");
                expr(e, o, b, P_POSTFIX);
                rk__out_printf(o, ".%c", "xyzw"[x->u.swz.comp[i] & 3]);
            }
            rk__out_puts(o, e->L->ctor[2]);
            return;
        }
        expr(e, o, x->u.swz.base, P_POSTFIX);
        rk__out_printf(o, ".%c", "xyzw"[x->u.swz.comp[0] & 3]);
        return;
    case RK_IR_INDEX:
        if ((e->L->flags & RK_EL_BUFFERS) && x->u.op.a->type->kind == RK_TY_PTR &&
            x->u.op.a->type->space == RK_AS_PRIVATE) {
            rk__emit_error(e, x->pos, "indexing an out-parameter: this target passes it as one value; use *p");
            return;
        }
        expr(e, o, x->u.op.a, P_POSTFIX);
        rk__out_puts(o, "[");
        expr(e, o, x->u.op.b, 0);
        rk__out_puts(o, "]");
        return;
    case RK_IR_DEREF:
        deref(e, o, x->u.op.a, 0);
        return;
    case RK_IR_ADDR:
        /* &local passed to a helper's out-parameter: GLSL's inout takes the variable itself. */
        if ((e->L->flags & RK_EL_BUFFERS) && !(e->L->flags & RK_EL_WGSL)) {
            expr(e, o, x->u.op.a, P_POSTFIX);
            return;
        }
        rk__out_puts(o, "&");
        expr(e, o, x->u.op.a, P_UNARY);
        return;
    case RK_IR_NEIGHBOR: {
        /* at(p, dx, dy, dz): the `at` row's spelling with the buffer and the offsets as arguments, unless
         * the target writes it itself. */
        const rk__intrinsic *at = rk__intr_lookup("at", 2);
        rk__intr_spelling sp;
        char a[4][80];
        const char *argv[4] = { a[0], a[1], a[2], a[3] };
        rk__out name = { 0 };
        char buf[256];

        if (e->L->neighbor != NULL && e->L->neighbor(e, o, x)) {
            return;
        }
        if (at == NULL || rk__intr_support(at, e->tgt, rk__ty_base(x->type->kind), &sp) != 0) {
            rk__emit_error(e, x->pos, "'at' has no spelling");
            return;
        }
        rk__emit_var_name(e, &name, x->u.nb.buf);
        snprintf(a[0], sizeof a[0], "%s", name.buf ? name.buf : "");
        rk__out_free(&name);
        for (int i = 0; i < 3; i++) {
            snprintf(a[i + 1], sizeof a[i + 1], "%d", (int)x->u.nb.off[i]);
        }
        if (rk__intr_expand(sp.tmpl, argv, 4, buf, sizeof buf) >= (int)sizeof buf) {
            rk__emit_error(e, x->pos, "'at' spelling too long");
            return;
        }
        if (check_names(e, buf, "at", x->pos) == 0) {
            rk__out_puts(o, buf);
        }
        return;
    }
    }
}

static void expr(rk__emitter *e, rk__out *o, const rk__ir_expr *x, int ctx)
{
    int paren = prec_of(x) < ctx;

    if (paren) {
        rk__out_puts(o, "(");
    }
    expr_body(e, o, x);
    if (paren) {
        rk__out_puts(o, ")");
    }
}

/* ---- Statements. ---- */

void rk__emit_line(rk__emitter *e, const char *fmt, ...)
{
    rk__out line = { 0 };
    va_list ap;

    va_start(ap, fmt);
    out_vprintf(&line, fmt, ap);
    va_end(ap);
    /* Empty lines carry no indentation. */
    for (int i = 0; i < e->indent && line.len > 0; i++) {
        rk__out_puts(e->o, "    ");
    }
    if (line.buf) {
        rk__out_put(e->o, line.buf, line.len);
    }
    if (line.oom) {
        e->o->oom = 1;
    }
    rk__out_free(&line);
    rk__out_puts(e->o, "\n");
}

/* Writes an expression into a fresh string (freed by the caller with rk__out_free). */
static const char *str_of(rk__emitter *e, rk__out *tmp, const rk__ir_expr *x)
{
    memset(tmp, 0, sizeof *tmp);
    expr(e, tmp, x, 0);
    return tmp->buf ? tmp->buf : "";
}

/* 1 if every statement of the continuing list is an assignment or a call, so it fits in a for header. */
static int simple_continuing(const rk__ir_block *b)
{
    for (const rk__ir_stmt *s = b->head; s; s = s->next) {
        if (s->kind != RK_IR_S_ASSIGN && s->kind != RK_IR_S_EXPR) {
            return 0;
        }
    }
    return 1;
}

static void simple_stmt(rk__emitter *e, rk__out *o, const rk__ir_stmt *s)
{
    if (s->kind == RK_IR_S_ASSIGN) {
        expr(e, o, s->u.assign.lhs, P_UNARY);
        rk__out_puts(o, " = ");
        expr(e, o, s->u.assign.rhs, P_COND);
    } else {
        expr(e, o, s->u.expr, 0);
    }
}

static void stmts(rk__emitter *e, const rk__ir_block *b);

/* Leaves the loop when cond (if any) is false: the loop condition of a loop written without one. */
static void break_unless(rk__emitter *e, const rk__ir_expr *cond)
{
    rk__out c = { 0 };

    if (cond == NULL) {
        return;
    }
    rk__emit_line(e, (e->L->flags & RK_EL_WGSL) ? "if !(%s) {" : "if (!(%s)) {", str_of(e, &c, cond));
    rk__out_free(&c);
    rk__emit_line(e, "    break;");
    rk__emit_line(e, "}");
}

static void loop(rk__emitter *e, const rk__ir_stmt *s)
{
    rk__out h = { 0 };
    unsigned label = 0;

    if (e->nloops == sizeof e->loop_labels / sizeof e->loop_labels[0]) {
        rk__emit_error(e, s->pos, "loops nested too deeply");
        return;
    }
    if (e->L->flags & RK_EL_WGSL) {
        /* WGSL's loop has the IR's shape: the condition breaks, `continue` goes to the continuing block. */
        rk__emit_line(e, "loop {");
        e->loop_labels[e->nloops++] = 0;
        e->indent++;
        break_unless(e, s->u.loop.cond);
        stmts(e, &s->u.loop.body);
        if (s->u.loop.continuing.head != NULL) {
            rk__emit_line(e, "continuing {");
            e->indent++;
            stmts(e, &s->u.loop.continuing);
            e->indent--;
            rk__emit_line(e, "}");
        }
        e->indent--;
        e->nloops--;
        rk__emit_line(e, "}");
        return;
    }
    if (s->u.loop.continuing.head == NULL || simple_continuing(&s->u.loop.continuing)) {
        rk__out_puts(&h, "for (; ");
        if (s->u.loop.cond) {
            expr(e, &h, s->u.loop.cond, 0);
        }
        rk__out_puts(&h, ";");
        for (const rk__ir_stmt *c = s->u.loop.continuing.head; c; c = c->next) {
            rk__out_puts(&h, c == s->u.loop.continuing.head ? " " : ", ");
            simple_stmt(e, &h, c);
        }
        rk__out_puts(&h, ") {");
    } else if (e->L->flags & RK_EL_NO_GOTO) {
        rk__emit_error(e, s->pos, "a loop step with control flow or a temporary: this target has no goto; "
                                  "write the step in the loop body");
        return;
    } else {
        /* A continuing list with control flow: `continue` jumps to its label. */
        label = ++e->next_label;
        rk__out_puts(&h, "for (;;) {");
    }
    rk__emit_line(e, "%s", h.buf ? h.buf : "");
    rk__out_free(&h);
    e->loop_labels[e->nloops++] = label;
    e->indent++;
    if (label != 0) {
        break_unless(e, s->u.loop.cond);
        rk__emit_line(e, "{");
        e->indent++;
        stmts(e, &s->u.loop.body);
        e->indent--;
        rk__emit_line(e, "}");
        e->indent--;
        rk__emit_line(e, "rk_continue_%u:", label);
        e->indent++;
        stmts(e, &s->u.loop.continuing);
    } else {
        stmts(e, &s->u.loop.body);
    }
    e->indent--;
    e->nloops--;
    rk__emit_line(e, "}");
}

static void stmt(rk__emitter *e, const rk__ir_stmt *s)
{
    rk__out t = { 0 };

    switch (s->kind) {
    case RK_IR_S_VAR: {
        const rk__ir_var *v = s->u.var.var;

        if (v->kind == RK_VAR_SHARED) {
            /* C: a member of the workgroup's shared struct; GLSL, WGSL: declared at file scope by the entry
             * point; CUDA, MSL: a __shared__ / threadgroup array in the kernel. */
            if (e->L->shared_kw != NULL) {
                rk__out_puts(&t, e->L->shared_kw);
                rk__emit_decl(e, &t, v, s->pos);
                rk__emit_line(e, "%s;", t.buf ? t.buf : "");
            }
            break;
        }
        if (e->L->var_stmt != NULL) {
            e->L->var_stmt(e, s);
            break;
        }
        rk__emit_decl(e, &t, v, s->pos);
        if (s->u.var.init) {
            rk__out i = { 0 };

            rk__emit_line(e, "%s = %s;", t.buf ? t.buf : "", str_of(e, &i, s->u.var.init));
            rk__out_free(&i);
        } else if (v->type->kind == RK_TY_ARRAY || v->type->kind == RK_TY_STRUCT || v->type->kind == RK_TY_VEC) {
            rk__emit_line(e, "%s = %s;", t.buf ? t.buf : "", e->L->zero_agg);
        } else {
            rk__emit_line(e, "%s = 0;", t.buf ? t.buf : "");
        }
        break;
    }
    case RK_IR_S_ASSIGN:
    case RK_IR_S_EXPR:
        /* WGSL discards a call's value only through the phony assignment. */
        if (s->kind == RK_IR_S_EXPR && (e->L->flags & RK_EL_WGSL) && s->u.expr->type->kind != RK_TY_VOID) {
            rk__out_puts(&t, "_ = ");
        }
        simple_stmt(e, &t, s);
        rk__emit_line(e, "%s;", t.buf ? t.buf : "");
        break;
    case RK_IR_S_IF:
        rk__emit_line(e, "if (%s) {", str_of(e, &t, s->u.if_s.cond));
        e->indent++;
        stmts(e, &s->u.if_s.then_s);
        e->indent--;
        if (s->u.if_s.has_else) {
            rk__emit_line(e, "} else {");
            e->indent++;
            stmts(e, &s->u.if_s.else_s);
            e->indent--;
        }
        rk__emit_line(e, "}");
        break;
    case RK_IR_S_LOOP:
        loop(e, s);
        break;
    case RK_IR_S_BREAK:
        rk__emit_line(e, "break;");
        break;
    case RK_IR_S_CONTINUE:
        if (e->nloops > 0 && e->loop_labels[e->nloops - 1] != 0) {
            rk__emit_line(e, "goto rk_continue_%u;", e->loop_labels[e->nloops - 1]);
        } else {
            rk__emit_line(e, "continue;");
        }
        break;
    case RK_IR_S_RETURN:
        if (s->u.expr) {
            rk__emit_line(e, "return %s;", str_of(e, &t, s->u.expr));
        } else {
            rk__emit_line(e, "return;");
        }
        break;
    case RK_IR_S_BLOCK:
        rk__emit_block(e, &s->u.block);
        break;
    }
    rk__out_free(&t);
}

void rk__emit_stmts(rk__emitter *e, const rk__ir_block *b) { stmts(e, b); }

static void stmts(rk__emitter *e, const rk__ir_block *b)
{
    for (const rk__ir_stmt *s = b->head; s; s = s->next) {
        stmt(e, s);
    }
}

void rk__emit_block(rk__emitter *e, const rk__ir_block *b)
{
    rk__emit_line(e, "{");
    e->indent++;
    stmts(e, b);
    e->indent--;
    rk__emit_line(e, "}");
}

/* ---- Module pieces. ---- */

void rk__emit_structs(rk__emitter *e, const char *static_assert_kw)
{
    /* C and C++ (CUDA, MSL): typedefs whose size is asserted; GLSL and WGSL: struct declarations. */
    int c = static_assert_kw != NULL;
    int wgsl = (e->L->flags & RK_EL_WGSL) != 0;

    for (const rk__ir_struct *st = e->m->structs; st; st = st->next) {
        rk__out n = { 0 };

        put_ident(&n, st->name);
        rk__emit_line(e, "%sstruct %s {", c ? "typedef " : "", n.buf);
        e->indent++;
        for (uint32_t i = 0; i < st->nfields; i++) {
            rk__out f = { 0 };
            rk__ir_var v = { 0 };

            v.kind = RK_VAR_LOCAL;
            v.name = st->fields[i].name;
            v.type = st->fields[i].type;
            rk__emit_decl(e, &f, &v, (rk__pos){ 0, 1, 1 });
            if (c) {
                rk__emit_line(e, "%s; /* offset %u */", f.buf ? f.buf : "", st->fields[i].offset);
            } else {
                rk__emit_line(e, "%s%s // offset %u", f.buf ? f.buf : "", wgsl ? "," : ";", st->fields[i].offset);
            }
            rk__out_free(&f);
        }
        e->indent--;
        if (c) {
            rk__emit_line(e, "} %s;", n.buf);
            rk__emit_line(e, "%s(sizeof(%s) == %u, \"%s is %u bytes, as in the .rk layout\");", static_assert_kw,
                          n.buf, st->size, n.buf, st->size);
        } else {
            rk__emit_line(e, "}%s // %u bytes", wgsl ? "" : ";", st->size);
        }
        rk__emit_line(e, "%s", "");
        rk__out_free(&n);
    }
}

void rk__emit_consts(rk__emitter *e, const char *qual)
{
    for (uint32_t i = 0; i < e->m->nconsts; i++) {
        const rk__ir_var *v = e->m->consts[i];
        rk__out d = { 0 }, x = { 0 };

        rk__emit_decl(e, &d, v, v->init ? v->init->pos : (rk__pos){ 0, 1, 1 });
        rk__emit_line(e, "%s%s = %s;", qual, d.buf ? d.buf : "", v->init ? str_of(e, &x, v->init) : "0");
        rk__out_free(&d);
        rk__out_free(&x);
    }
    if (e->m->nconsts > 0) {
        rk__emit_line(e, "%s", "");
    }
}

void rk__emit_helper_check(rk__emitter *e, const rk__ir_func *f)
{
    /* Helpers get no context parameter, so the spellings that read one (rk_ctx, an entry point's builtins)
     * cannot be used there. */
    for (const char *const *n = e->L->entry_names; n && *n; n++) {
        if (rk__emit_uses(e, f, *n)) {
            rk__emit_error(e, f->pos, "helper '%.*s' uses an intrinsic that needs the kernel's context; call it "
                           "from the kernel in this version", (int)f->name.len, f->name.ptr);
            return;
        }
    }
}

void rk__emit_helper(rk__emitter *e, const rk__ir_func *f, const char *qual)
{
    rk__out h = { 0 };

    rk__out_puts(&h, qual);
    rk__emit_type(e, &h, f->ret, f->pos);
    rk__out_puts(&h, " ");
    put_ident(&h, f->name);
    rk__out_puts(&h, "(");
    if (f->nparams == 0) {
        rk__out_puts(&h, "void");
    }
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out_puts(&h, i ? ", " : "");
        rk__emit_decl(e, &h, f->params[i], f->pos);
    }
    rk__out_puts(&h, ")");
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_helper_check(e, f);
    rk__emit_block(e, &f->body);
    rk__emit_line(e, "%s", "");
}

void rk__emit_ring(rk__emitter *e, const rk__ir_func *f, const char *ret, const char *ctx_type,
                   const char *state_fn, const char *state_size_fn, const char *what)
{
    rk__out h = { 0 }, d = { 0 }, t = { 0 };

    rk__emit_line(e, "/* @kernel(ring), line %u: %s. */", f->pos.line, what);
    rk__out_puts(&h, ret);
    put_ident(&h, f->name);
    rk__out_printf(&h, "(%s *rk_ctx, const rk_envelope *rk_env, const void *rk_payload)", ctx_type);
    rk__emit_line(e, "%s", h.buf);
    rk__out_free(&h);
    rk__emit_line(e, "{");
    e->indent++;
    /* Parameters 0, 1, 2: the envelope, the message, the state (checker rules, docs/DSL.md §9). */
    rk__emit_decl(e, &d, f->params[0], f->pos);
    rk__emit_line(e, "%s = rk_env;", d.buf);
    rk__out_free(&d);
    for (int i = 1; i <= 2; i++) {
        rk__emit_decl(e, &d, f->params[i], f->pos);
        rk__emit_type(e, &t, f->params[i]->type, f->pos);
        rk__emit_line(e, "%s = (%s)%s%s;", d.buf, t.buf, i == 1 ? "rk_payload" : state_fn, i == 1 ? "" : "(rk_ctx)");
        rk__out_free(&d);
        rk__out_free(&t);
    }
    rk__emit_line(e, "%s", "");
    /* A message shorter than its struct, or a state smaller than the handler's, is refused. */
    rk__emit_type(e, &t, f->params[1]->type->elem, f->pos);
    rk__emit_var_name(e, &d, f->params[2]);
    rk__emit_line(e, "if (rk_env->payload_len < sizeof(%s) || %s(rk_ctx) < sizeof *%s) {", t.buf, state_size_fn,
                  d.buf);
    rk__out_free(&t);
    rk__out_free(&d);
    rk__emit_line(e, "    return RK_EINVAL;");
    rk__emit_line(e, "}");
    rk__emit_stmts(e, &f->body);
    e->indent--;
    rk__emit_line(e, "}");
    rk__emit_line(e, "%s", "");
}

/* ---- Analysis. ---- */

static int expr_uses(const rk__emitter *e, const rk__ir_expr *x, const char *needle, unsigned depth);
static int block_uses(const rk__emitter *e, const rk__ir_block *b, const char *needle, unsigned depth);

static int func_uses(const rk__emitter *e, const rk__ir_func *f, const char *needle, unsigned depth)
{
    return depth < 64 && block_uses(e, &f->body, needle, depth + 1);
}

static int expr_uses(const rk__emitter *e, const rk__ir_expr *x, const char *needle, unsigned depth)
{
    if (x == NULL) {
        return 0;
    }
    switch (x->kind) {
    case RK_IR_UNARY:
    case RK_IR_CAST:
    case RK_IR_DEREF:
    case RK_IR_ADDR:
    case RK_IR_BINARY:
    case RK_IR_INDEX:
        return expr_uses(e, x->u.op.a, needle, depth) ||
               ((x->kind == RK_IR_BINARY || x->kind == RK_IR_INDEX) && expr_uses(e, x->u.op.b, needle, depth));
    case RK_IR_SELECT:
        return expr_uses(e, x->u.sel.c, needle, depth) || expr_uses(e, x->u.sel.a, needle, depth) ||
               expr_uses(e, x->u.sel.b, needle, depth);
    case RK_IR_CALL:
    case RK_IR_CTOR:
        for (uint32_t i = 0; i < x->u.call.nargs; i++) {
            if (expr_uses(e, x->u.call.args[i], needle, depth)) {
                return 1;
            }
        }
        return x->kind == RK_IR_CALL && func_uses(e, x->u.call.fn, needle, depth);
    case RK_IR_INTRIN: {
        const rk__intrinsic *in = rk__intr_at(x->u.intr.row);

        if (in != NULL && strstr(in->spell[e->tgt], needle) != NULL) {
            return 1;
        }
        for (uint32_t i = 0; i < x->u.intr.nargs; i++) {
            if (expr_uses(e, x->u.intr.args[i], needle, depth)) {
                return 1;
            }
        }
        return 0;
    }
    case RK_IR_FIELD:
        return expr_uses(e, x->u.field.base, needle, depth);
    case RK_IR_SWIZZLE:
        return expr_uses(e, x->u.swz.base, needle, depth);
    default:
        return 0;
    }
}

static int block_uses(const rk__emitter *e, const rk__ir_block *b, const char *needle, unsigned depth)
{
    for (const rk__ir_stmt *s = b->head; s; s = s->next) {
        int u = 0;

        switch (s->kind) {
        case RK_IR_S_VAR:
            u = expr_uses(e, s->u.var.init, needle, depth);
            break;
        case RK_IR_S_ASSIGN:
            u = expr_uses(e, s->u.assign.lhs, needle, depth) || expr_uses(e, s->u.assign.rhs, needle, depth);
            break;
        case RK_IR_S_EXPR:
        case RK_IR_S_RETURN:
            u = expr_uses(e, s->u.expr, needle, depth);
            break;
        case RK_IR_S_IF:
            u = expr_uses(e, s->u.if_s.cond, needle, depth) || block_uses(e, &s->u.if_s.then_s, needle, depth) ||
                block_uses(e, &s->u.if_s.else_s, needle, depth);
            break;
        case RK_IR_S_LOOP:
            u = expr_uses(e, s->u.loop.cond, needle, depth) || block_uses(e, &s->u.loop.body, needle, depth) ||
                block_uses(e, &s->u.loop.continuing, needle, depth);
            break;
        case RK_IR_S_BLOCK:
            u = block_uses(e, &s->u.block, needle, depth);
            break;
        default:
            break;
        }
        if (u) {
            return 1;
        }
    }
    return 0;
}

int rk__emit_uses(const rk__emitter *e, const rk__ir_func *f, const char *needle)
{
    return func_uses(e, f, needle, 0);
}

/* 1 if `name` occurs in text as a whole identifier. */
static int has_ident(const char *text, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = text; (p = strstr(p, name)) != NULL; p += n) {
        char b = p > text ? p[-1] : ' ', a = p[n];
        int ib = b == '_' || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9');
        int ia = a == '_' || (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9');

        if (!ib && !ia) {
            return 1;
        }
    }
    return 0;
}

void rk__emit_prelude(const rk__emitter *e, const char *body, rk__out *out)
{
    unsigned char used[96] = { 0 };
    int changed = 1;

    /* A piece may use pieces before it in the table; iterate until the set is closed. */
    for (size_t i = 0; i < e->npieces && i < sizeof used; i++) {
        used[i] = (unsigned char)has_ident(body, e->pieces[i].name);
    }
    while (changed) {
        changed = 0;
        for (size_t i = 0; i < e->npieces && i < sizeof used; i++) {
            for (size_t j = 0; j < e->npieces && j < sizeof used && !used[i]; j++) {
                if (used[j] && j != i && has_ident(e->pieces[j].code, e->pieces[i].name)) {
                    used[i] = 1;
                    changed = 1;
                }
            }
        }
    }
    for (size_t i = 0; i < e->npieces && i < sizeof used; i++) {
        if (used[i]) {
            rk__out_puts(out, e->pieces[i].code);
            rk__out_puts(out, "\n");
        }
    }
}

void rk__emit_expr(rk__emitter *e, rk__out *o, const rk__ir_expr *x) { expr(e, o, x, 0); }

void rk__emit_funcs(rk__emitter *e)
{
    for (const rk__ir_func *f = e->m->funcs; f; f = f->next) {
        e->fn = f;
        if (e->L->func[f->kind] == NULL) {
            rk__emit_error(e, f->pos, "%s kernels: no emitter in this version", rk__kernel_kind_name(f->kind));
            continue;
        }
        e->L->func[f->kind](e, f);
    }
    e->fn = NULL;
}

/* ---- The shader targets' entry points (GLSL, WGSL, MSL). ---- */

void rk__emit_finish(rk__emitter *e, rk__out *body, rk__out *out)
{
    rk__emit_prelude(e, body->buf ? body->buf : "", out);
    if (body->buf) {
        rk__out_put(out, body->buf, body->len);
    }
    if (body->oom) {
        out->oom = 1;
    }
    rk__out_free(body);
}

void rk__emit_begin(rk__emitter *e, const rk__emit_lang *L, rk__out *body)
{
    e->L = L;
    e->pieces = L->pieces;
    e->npieces = L->npieces;
    e->provided = L->provided;
    e->shared_prefix = L->shared_prefix;
    e->o = body;
}

void rk__emit_builtin_args(const rk__emitter *e, const rk__ir_func *f, const char *const (*opt)[2], rk__out *o)
{
    for (; (*opt)[0] != NULL; opt++) {
        if (rk__emit_uses(e, f, (*opt)[0])) {
            rk__out_puts(o, (*opt)[1]);
        }
    }
}

void rk__emit_kernel_comment(rk__emitter *e, const rk__ir_func *f, const char *c)
{
    if (f->kind == RK_KK_STENCIL) {
        rk__emit_line(e, "%s@kernel(stencil, radius = %u, dims = %u, workgroup = %ux%ux%u), line %u: one invocation",
                      c, f->radius, f->dims, f->workgroup[0], f->workgroup[1], f->workgroup[2], f->pos.line);
        rk__emit_line(e, "%sper interior point of an rk_grid_size grid (z = 1 in 2D): (n - 2 * radius) per axis.",
                      c[0] == '/' && c[1] == '*' ? " * " : c);
    } else {
        rk__emit_line(e, "%s@kernel(global, workgroup = %ux%ux%u), line %u.", c, f->workgroup[0], f->workgroup[1],
                      f->workgroup[2], f->pos.line);
    }
}

void rk__emit_stencil_guard(rk__emitter *e, const rk__ir_func *f, int set_index)
{
    unsigned r = f->radius, rz = f->dims == 3 ? r : 0;

    rk__emit_line(e, "if (rk_grid_size.x < %uu || rk_grid_size.y < %uu || rk_grid_size.z < %uu ||", 2 * r, 2 * r,
                  2 * rz + 1);
    rk__emit_line(e, "    rk_grid_pos.x >= rk_grid_size.x - %uu || rk_grid_pos.y >= rk_grid_size.y - %uu ||", r, r);
    rk__emit_line(e, "    rk_grid_pos.z >= rk_grid_size.z - %uu) {", rz);
    rk__emit_line(e, "    return;");
    rk__emit_line(e, "}");
    if (set_index) {
        rk__emit_line(e, "rk_sy = rk_grid_size.x;");
        rk__emit_line(e, "rk_sz = rk_grid_size.x * rk_grid_size.y;");
        rk__emit_line(e, "rk_c = rk_grid_pos.z * rk_sz + rk_grid_pos.y * rk_sy + rk_grid_pos.x;");
    }
}

void rk__emit_param_copies(rk__emitter *e, const rk__ir_func *f, const char *kw, const char *from)
{
    for (uint32_t i = 0; i < f->nparams; i++) {
        rk__out d = { 0 }, v = { 0 };

        if (f->params[i]->type->kind == RK_TY_PTR) {
            continue;
        }
        rk__emit_decl(e, &d, f->params[i], f->pos);
        rk__emit_var_name(e, &v, f->params[i]);
        rk__emit_line(e, "%s%s = %s%s;", kw, d.buf ? d.buf : "", from, v.buf ? v.buf : "");
        rk__out_free(&d);
        rk__out_free(&v);
    }
}

/* The type of a stencil's rk_grid_size (uvec3), for the layout below. */
static const rk__ty rk__u32_ty = { .kind = RK_TY_U32 };
static const rk__ty rk__uvec3_ty = { .kind = RK_TY_VEC, .elem = &rk__u32_ty, .len = 3 };

uint32_t rk__emit_push_layout(const rk__ir_func *f, uint32_t *off)
{
    uint32_t at = 0;

    for (uint32_t i = 0; i <= f->nparams; i++) {
        const rk__ty *t = i < f->nparams ? f->params[i]->type : f->kind == RK_KK_STENCIL ? &rk__uvec3_ty : NULL;
        uint32_t a, size;

        off[i] = UINT32_MAX;
        if (t == NULL || t->kind == RK_TY_PTR)
            continue;
        rk__emit_std430(t, &a, &size);
        at = (at + a - 1) / a * a;
        off[i] = at;
        at += size;
    }
    return at;
}

uint32_t rk__emit_params_block(rk__emitter *e, const rk__ir_func *f, rk__out *members, rk__out *doc)
{
    int glsl = !(e->L->flags & RK_EL_WGSL);
    uint32_t small[17], *off = f->nparams < 17 ? small : malloc((f->nparams + 1) * sizeof *off), size;
    rk__ir_var gs = { 0 };

    if (off == NULL) {
        rk__emit_error(e, f->pos, "out of memory");
        return 0;
    }
    size = rk__emit_push_layout(f, off);
    /* A stencil's grid size follows the parameters. */
    gs.kind = RK_VAR_LOCAL;
    gs.name = (rk__str){ "rk_grid_size", 12 };
    gs.type = &rk__uvec3_ty;
    for (uint32_t i = 0; i <= f->nparams; i++) {
        const rk__ir_var *p = i < f->nparams ? f->params[i] : &gs;
        rk__out d = { 0 };

        if (off[i] == UINT32_MAX)
            continue;
        rk__emit_check_std430(e, p->type, f->pos);
        rk__emit_decl(e, &d, p, f->pos);
        if (glsl) {
            rk__out_printf(members, "    layout(offset = %u) %s;\n", off[i], d.buf ? d.buf : "");
        } else {
            rk__out_printf(members, "    %s, // offset %u\n", d.buf ? d.buf : "", off[i]);
        }
        rk__out_printf(doc, "%s%.*s at %u", doc->len ? ", " : "", (int)p->name.len, p->name.ptr, off[i]);
        rk__out_free(&d);
    }
    if (off != small)
        free(off);
    return size;
}

void rk__emit_check_std430(rk__emitter *e, const rk__ty *t, rk__pos at)
{
    uint32_t c_off = 0, s_off = 0;
    long bad;

    while (t->kind == RK_TY_ARRAY) {
        t = t->elem;
    }
    if (t->kind != RK_TY_STRUCT) {
        return;
    }
    bad = rk__emit_std430_mismatch(t->st, &c_off, &s_off);
    if (bad >= 0 && (uint32_t)bad < t->st->nfields) {
        rk__emit_error(e, at, "struct '%.*s': field '%.*s' is at offset %u in C but %u under std430 (a vec3 followed "
                       "by a scalar?); add explicit padding", (int)t->st->name.len, t->st->name.ptr,
                       (int)t->st->fields[bad].name.len, t->st->fields[bad].name.ptr, c_off, s_off);
        return;
    }
    if (bad >= 0) {
        rk__emit_error(e, at, "struct '%.*s' is %u bytes in C but %u under std430; add explicit padding",
                       (int)t->st->name.len, t->st->name.ptr, c_off, s_off);
        return;
    }
    for (uint32_t i = 0; i < t->st->nfields; i++) {
        rk__emit_check_std430(e, t->st->fields[i].type, at);
    }
}

/* ---- std430 (GLSL buffers and push constants, WGSL storage buffers). ---- */

void rk__emit_std430(const rk__ty *t, uint32_t *align, uint32_t *size)
{
    uint32_t a = 4, n = 4;

    switch (t->kind) {
    case RK_TY_VEC: {
        uint32_t ea, es;

        rk__emit_std430(t->elem, &ea, &es);
        a = (t->len == 2 ? 2 : 4) * es;
        n = t->len * es;
        break;
    }
    case RK_TY_ARRAY: {
        uint32_t ea, es;

        rk__emit_std430(t->elem, &ea, &es);
        a = ea;
        n = t->len * ((es + ea - 1) / ea * ea);
        break;
    }
    case RK_TY_STRUCT: {
        uint32_t off = 0;

        a = 1;
        for (uint32_t i = 0; i < t->st->nfields; i++) {
            uint32_t fa, fs;

            rk__emit_std430(t->st->fields[i].type, &fa, &fs);
            off = (off + fa - 1) / fa * fa + fs;
            a = fa > a ? fa : a;
        }
        n = (off + a - 1) / a * a;
        break;
    }
    default:
        a = n = rk__ty_bits(t) / 8 < 4 ? 4 : rk__ty_bits(t) / 8;
        break;
    }
    *align = a;
    *size = n;
}

long rk__emit_std430_mismatch(const rk__ir_struct *st, uint32_t *c_off, uint32_t *std_off)
{
    uint32_t off = 0, a = 1;

    for (uint32_t i = 0; i < st->nfields; i++) {
        uint32_t fa, fs;

        rk__emit_std430(st->fields[i].type, &fa, &fs);
        off = (off + fa - 1) / fa * fa;
        if (off != st->fields[i].offset) {
            *c_off = st->fields[i].offset;
            *std_off = off;
            return (long)i;
        }
        off += fs;
        a = fa > a ? fa : a;
    }
    off = (off + a - 1) / a * a;
    if (off != st->size) {
        *c_off = st->size;
        *std_off = off;
        return (long)st->nfields;
    }
    return -1;
}

/* ---- Entry. ---- */

int rk__emit_supported(rk__target t) { return t >= RK_TGT_CUDA && t < RK_TGT_COUNT; }

const char *rk__emit_file_ext(rk__target t)
{
    static const char *const ext[RK_TGT_COUNT] = { "cu", "c", "comp", "wgsl", "metal" };

    return (unsigned)t < RK_TGT_COUNT ? ext[t] : "txt";
}

/* The targets, chosen in this one place. */
static void (*const module[RK_TGT_COUNT])(rk__emitter *e, rk__out *out) = {
    [RK_TGT_CUDA] = rk__emit_cuda_module, [RK_TGT_C] = rk__emit_c_module, [RK_TGT_GLSL] = rk__emit_glsl_module,
    [RK_TGT_WGSL] = rk__emit_wgsl_module, [RK_TGT_MSL] = rk__emit_msl_module,
};

int rk__emit(const rk__ir_module *m, rk__target t, const rk__source *src, rk__diags *diags, char **text,
             size_t *len)
{
    rk__emitter e;
    rk__out out = { 0 };

    if (m == NULL || src == NULL || diags == NULL || text == NULL || len == NULL) {
        return rk__err(RK_EINVAL, "rk__emit: NULL argument");
    }
    *text = NULL;
    *len = 0;
    if (!rk__emit_supported(t)) {
        return rk__err(RK_ENOTSUP, "target '%s': no emitter in this version", rk__intr_target_name(t));
    }
    memset(&e, 0, sizeof e);
    e.tgt = t;
    e.m = m;
    e.src = src;
    e.d = diags;
    module[t](&e, &out);
    if (out.oom) {
        rk__out_free(&out);
        return rk__err(RK_ENOMEM, "rk__emit: out of memory");
    }
    if (e.errors > 0) {
        rk__out_free(&out);
        return rk__err(RK_EINVAL, "%u construct(s) cannot be lowered to %s", e.errors, rk__intr_target_name(t));
    }
    *text = out.buf;
    *len = out.len;
    return 0;
}
