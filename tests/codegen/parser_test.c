/* parser_test.c - the kernel-language parser (src/codegen/parser.c) against docs/DSL.md §4, §5 and §7.
 *
 * The four example kernels of DSL.md §8 (embedded verbatim) parse without diagnostics into the expected
 * trees; every operator level and associativity of the precedence table, checked by printing expressions
 * back fully parenthesised; syntax errors with their exact diagnostics and recovery (one diagnostic per
 * bad statement); the nesting limit; the arena limit; and 5 000 random token sequences built from the
 * lexer's own token tables, which must parse to an end without a crash (ASan-clean in the sanitizer build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/parser.h"
#include "mix64.h"

typedef struct parsed {
    rk__ast ast;
    rk__diags d;
    int rc;
    char diag[8192];
} parsed;

/* Parses src named "k.rk"; the previous result is freed. */
static parsed *parse(const char *src)
{
    static parsed P;

    rk__ast_free(&P.ast);
    memset(&P, 0, sizeof P);
    rk__diag_init(&P.d, P.diag, sizeof P.diag);
    P.rc = rk__parse(&P.ast, "k.rk", src, strlen(src), &P.d, 0);
    assert_int_equal(P.rc, 0);
    assert_non_null(P.ast.file);
    return &P;
}

static parsed *parse_ok(const char *src)
{
    parsed *P = parse(src);

    assert_string_equal(P->diag, "");
    assert_int_equal(P->d.errors, 0);
    return P;
}

static int str_is(rk__str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

#define assert_str(s, want) assert_true(str_is((s), (want)))

/* ---- A small printer: expressions fully parenthesised. ---- */

typedef struct out {
    char buf[2048];
    size_t len;
} out;

static void put(out *o, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (o->len < sizeof o->buf)
        o->len += (size_t)vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    assert_true(o->len < sizeof o->buf);
}

static void put_type(out *o, const rk__type *t)
{
    static const char *const names[] = { "?", "void", "bool", "i32", "u32", "i64", "u64", "f32", "f64" };

    if (t->base == RK_BT_VEC)
        put(o, "vec%u<%s>", t->vec_len, names[t->elem]);
    else if (t->base == RK_BT_STRUCT)
        put(o, "%.*s", (int)t->name.len, t->name.ptr);
    else
        put(o, "%s", names[t->base]);
    if (t->is_ptr)
        put(o, "*");
}

static void put_expr(out *o, const rk__node *n);

static void put_args(out *o, const rk__node *a)
{
    put(o, "(");
    for (; a; a = a->next) {
        put_expr(o, a);
        if (a->next)
            put(o, ", ");
    }
    put(o, ")");
}

static void put_expr(out *o, const rk__node *n)
{
    static const char *const suf[] = { "", "u32", "i32", "u64", "i64", "f32", "f64" };

    switch (n->kind) {
    case RK_AST_INT: put(o, "%llu%s", (unsigned long long)n->u.int_lit.value, suf[n->u.int_lit.suffix]); break;
    case RK_AST_FLOAT: put(o, "%g%s", n->u.float_lit.value, suf[n->u.float_lit.suffix]); break;
    case RK_AST_BOOL: put(o, "%s", n->u.bool_lit.value ? "true" : "false"); break;
    case RK_AST_STRING: put(o, "%.*s", (int)n->u.string_lit.text.len, n->u.string_lit.text.ptr); break;
    case RK_AST_IDENT: put(o, "%.*s", (int)n->u.ident.name.len, n->u.ident.name.ptr); break;
    case RK_AST_UNARY:
        put(o, "(%s", rk__lex_tok_spelling(n->u.unary.op));
        put_expr(o, n->u.unary.operand);
        put(o, ")");
        break;
    case RK_AST_BINARY:
        put(o, "(");
        put_expr(o, n->u.binary.lhs);
        put(o, " %s ", rk__lex_tok_spelling(n->u.binary.op));
        put_expr(o, n->u.binary.rhs);
        put(o, ")");
        break;
    case RK_AST_COND:
        put(o, "(");
        put_expr(o, n->u.cond.c);
        put(o, " ? ");
        put_expr(o, n->u.cond.a);
        put(o, " : ");
        put_expr(o, n->u.cond.b);
        put(o, ")");
        break;
    case RK_AST_CAST:
        put(o, "((");
        put_type(o, &n->u.cast.type);
        put(o, ")");
        put_expr(o, n->u.cast.operand);
        put(o, ")");
        break;
    case RK_AST_CALL:
        put_expr(o, n->u.call.callee);
        put_args(o, n->u.call.args);
        break;
    case RK_AST_CTOR:
        put_type(o, &n->u.call.ctor);
        put_args(o, n->u.call.args);
        break;
    case RK_AST_MEMBER:
        put_expr(o, n->u.member.base);
        put(o, "%s%.*s", rk__lex_tok_spelling(n->u.member.op), (int)n->u.member.field.len, n->u.member.field.ptr);
        break;
    case RK_AST_INDEX:
        put_expr(o, n->u.index.base);
        put(o, "[");
        put_expr(o, n->u.index.index);
        put(o, "]");
        break;
    default: fail_msg("not an expression: kind %d", (int)n->kind);
    }
}

/* The first function of P. */
static const rk__node *first_func(const parsed *P)
{
    for (const rk__node *d = P->ast.file->u.file.decls; d; d = d->next)
        if (d->kind == RK_AST_FUNC)
            return d;
    fail_msg("no function");
    return NULL;
}

/* ---- The examples of DSL.md §8, verbatim. ---- */

#include "codegen/dsl_examples.h"

/* Walks every node under n, checking the links a later phase relies on; returns the node count. */
static size_t walk(const rk__node *n);

static size_t walk_list(const rk__node *n, uint32_t count)
{
    size_t total = 0;
    uint32_t seen = 0;

    for (; n; n = n->next, seen++)
        total += walk(n);
    assert_int_equal(seen, count);
    return total;
}

static size_t walk_opt(const rk__node *n) { return n ? walk(n) : 0; }

static size_t walk(const rk__node *n)
{
    size_t k = 1;

    assert_non_null(n);
    assert_true(n->end >= n->pos.offset);
    assert_true(n->pos.line >= 1 && n->pos.col >= 1);
    switch (n->kind) {
    case RK_AST_FILE: return k + walk_list(n->u.file.decls, n->u.file.count);
    case RK_AST_STRUCT: return k + walk_list(n->u.struct_decl.fields, n->u.struct_decl.count);
    case RK_AST_FIELD:
    case RK_AST_CONST:
    case RK_AST_PARAM:
    case RK_AST_VAR: return k + walk_opt(n->u.var.array_len) + walk_opt(n->u.var.init);
    case RK_AST_FUNC:
        return k + walk_list(n->u.func.attrs, n->u.func.nattrs) + walk_list(n->u.func.params, n->u.func.nparams) +
               walk(n->u.func.body);
    case RK_AST_ATTR: return k + walk_list(n->u.attr.args, n->u.attr.count);
    case RK_AST_BLOCK: return k + walk_list(n->u.block.stmts, n->u.block.count);
    case RK_AST_IF: return k + walk(n->u.if_s.cond) + walk(n->u.if_s.then_s) + walk_opt(n->u.if_s.else_s);
    case RK_AST_FOR:
        return k + walk_opt(n->u.for_s.init) + walk_opt(n->u.for_s.cond) + walk_opt(n->u.for_s.step) +
               walk(n->u.for_s.body);
    case RK_AST_WHILE: return k + walk(n->u.while_s.cond) + walk(n->u.while_s.body);
    case RK_AST_RETURN: return k + walk_opt(n->u.ret.value);
    case RK_AST_ASSIGN: return k + walk(n->u.assign.lhs) + walk(n->u.assign.rhs);
    case RK_AST_INCDEC: assert_null(n->u.assign.rhs); return k + walk(n->u.assign.lhs);
    case RK_AST_CALL_STMT: return k + walk(n->u.expr_s.expr);
    case RK_AST_UNARY: return k + walk(n->u.unary.operand);
    case RK_AST_BINARY: return k + walk(n->u.binary.lhs) + walk(n->u.binary.rhs);
    case RK_AST_COND: return k + walk(n->u.cond.c) + walk(n->u.cond.a) + walk(n->u.cond.b);
    case RK_AST_CAST: return k + walk(n->u.cast.operand);
    case RK_AST_CALL: return k + walk(n->u.call.callee) + walk_list(n->u.call.args, n->u.call.count);
    case RK_AST_CTOR: return k + walk_list(n->u.call.args, n->u.call.count);
    case RK_AST_MEMBER: return k + walk(n->u.member.base);
    case RK_AST_INDEX: return k + walk(n->u.index.base) + walk(n->u.index.index);
    default: return k; /* leaves */
    }
}

/* Renders an expression (print) or a type (type_str) into a static buffer. */
static const char *render(const rk__node *e, const rk__type *t)
{
    static out o;

    o.len = 0;
    o.buf[0] = '\0';
    if (e)
        put_expr(&o, e);
    else
        put_type(&o, t);
    return o.buf;
}

static const char *print(const rk__node *e) { return render(e, NULL); }
static const char *type_str(const rk__type *t) { return render(NULL, t); }

/* Checks a parameter: name, type as printed, address space, const. */
static const rk__node *check_param(const rk__node *q, const char *name, const char *type, rk__addr_space space,
                                   int is_const)
{
    assert_non_null(q);
    assert_int_equal(q->kind, RK_AST_PARAM);
    assert_str(q->u.var.name, name);
    assert_string_equal(type_str(&q->u.var.type), type);
    assert_int_equal(q->u.var.type.space, space);
    assert_int_equal(q->u.var.type.is_const, is_const);
    return q->next;
}

/* Checks the @kernel attribute: one attribute, `kind` first, then "name=value" pairs in `rest`. */
static void check_kernel(const rk__node *f, const char *kind, const char *rest)
{
    const rk__node *a = f->u.func.attrs, *arg;
    out o = { .len = 0 };

    assert_int_equal(f->u.func.nattrs, 1);
    assert_str(a->u.attr.name, "kernel");
    arg = a->u.attr.args;
    assert_str(arg->u.attr_arg.name, kind);
    assert_int_equal(arg->u.attr_arg.value_kind, RK_TOK_EOF);
    o.buf[0] = '\0';
    for (arg = arg->next; arg; arg = arg->next) {
        assert_int_equal(arg->u.attr_arg.value_kind, RK_TOK_INT);
        put(&o, "%s%.*s=%llu", o.len ? " " : "", (int)arg->u.attr_arg.name.len, arg->u.attr_arg.name.ptr,
            (unsigned long long)arg->u.attr_arg.ival);
    }
    assert_string_equal(o.buf, rest);
}

static void test_example_saxpy(void **state)
{
    parsed *P = parse_ok(saxpy_rk);
    const rk__node *f, *q, *s;

    (void)state;
    assert_int_equal(P->ast.file->u.file.count, 1);
    f = first_func(P);
    assert_str(f->u.func.name, "saxpy");
    assert_int_equal(f->pos.line, 2); /* the attribute starts the declaration */
    assert_int_equal(f->op_pos.line, 3);
    assert_int_equal(f->op_pos.col, 6);
    assert_int_equal(f->u.func.ret.base, RK_BT_VOID);
    check_kernel(f, "global", "");
    assert_int_equal(f->u.func.nparams, 4);
    q = check_param(f->u.func.params, "y", "f32*", RK_AS_GLOBAL, 0);
    q = check_param(q, "x", "f32*", RK_AS_GLOBAL, 1);
    q = check_param(q, "a", "f32", RK_AS_PRIVATE, 0);
    q = check_param(q, "n", "u32", RK_AS_PRIVATE, 0);
    assert_null(q);
    assert_int_equal(f->u.func.body->u.block.count, 2);
    s = f->u.func.body->u.block.stmts;
    assert_int_equal(s->kind, RK_AST_VAR);
    assert_str(s->u.var.name, "i");
    assert_string_equal(print(s->u.var.init), "global_id()");
    s = s->next;
    assert_int_equal(s->kind, RK_AST_IF);
    assert_string_equal(print(s->u.if_s.cond), "(i < n)");
    assert_null(s->u.if_s.else_s);
    s = s->u.if_s.then_s->u.block.stmts;
    assert_int_equal(s->kind, RK_AST_ASSIGN);
    assert_int_equal(s->u.assign.op, RK_TOK_ASSIGN);
    assert_string_equal(print(s->u.assign.lhs), "y[i]");
    assert_string_equal(print(s->u.assign.rhs), "((a * x[i]) + y[i])");
    assert_int_equal(s->pos.line, 6);
    assert_int_equal(s->pos.col, 9);
    assert_int_equal(s->op_pos.col, 14);
    assert_int_equal(P->ast.src.text[s->end - 1], ']');
    assert_true(walk(P->ast.file) > 20);
}

static void test_example_sum(void **state)
{
    parsed *P = parse_ok(sum_rk);
    const rk__node *f = first_func(P), *q, *s, *loop;

    (void)state;
    assert_str(f->u.func.name, "sum_u32");
    check_kernel(f, "global", "workgroup=256");
    assert_int_equal(f->u.func.nparams, 3);
    q = check_param(f->u.func.params, "x", "u32*", RK_AS_GLOBAL, 1);
    q = check_param(q, "total", "u32*", RK_AS_GLOBAL, 0);
    q = check_param(q, "n", "u32", RK_AS_PRIVATE, 0);
    assert_null(q);
    assert_int_equal(f->u.func.body->u.block.count, 7);
    s = f->u.func.body->u.block.stmts;
    assert_int_equal(s->kind, RK_AST_VAR);
    assert_int_equal(s->u.var.storage, RK_ST_SHARED);
    assert_int_equal(s->u.var.type.space, RK_AS_PRIVATE);
    assert_string_equal(print(s->u.var.array_len), "256");
    assert_null(s->u.var.init);
    s = s->next->next->next;
    assert_int_equal(s->kind, RK_AST_ASSIGN);
    assert_string_equal(print(s->u.assign.rhs), "((i < n) ? x[i] : 0)");
    s = s->next;
    assert_int_equal(s->kind, RK_AST_CALL_STMT);
    assert_string_equal(print(s->u.expr_s.expr), "barrier()");
    loop = s->next;
    assert_int_equal(loop->kind, RK_AST_FOR);
    assert_int_equal(loop->u.for_s.init->kind, RK_AST_VAR);
    assert_string_equal(print(loop->u.for_s.init->u.var.init), "128");
    assert_string_equal(print(loop->u.for_s.cond), "(s > 0)");
    assert_int_equal(loop->u.for_s.step->kind, RK_AST_ASSIGN);
    assert_int_equal(loop->u.for_s.step->u.assign.op, RK_TOK_SHR_ASSIGN);
    assert_int_equal(loop->u.for_s.body->u.block.count, 2);
    s = loop->u.for_s.body->u.block.stmts->u.if_s.then_s->u.block.stmts;
    assert_int_equal(s->u.assign.op, RK_TOK_PLUS_ASSIGN);
    assert_string_equal(print(s->u.assign.rhs), "part[(t + s)]");
    assert_int_equal(loop->next->kind, RK_AST_IF);
    walk(P->ast.file);
}

static void test_example_heat7(void **state)
{
    parsed *P = parse_ok(heat7_rk);
    const rk__node *f = first_func(P), *q, *s;

    (void)state;
    assert_str(f->u.func.name, "heat7");
    check_kernel(f, "stencil", "radius=1");
    q = check_param(f->u.func.params, "u", "f32*", RK_AS_GLOBAL, 1);
    q = check_param(q, "v", "f32*", RK_AS_GLOBAL, 0);
    q = check_param(q, "alpha", "f32", RK_AS_PRIVATE, 0);
    assert_null(q);
    assert_int_equal(f->u.func.body->u.block.count, 3);
    s = f->u.func.body->u.block.stmts->next;
    assert_str(s->u.var.name, "lap");
    assert_string_equal(print(s->u.var.init),
                        "((((((at(u, (-1), 0, 0) + at(u, 1, 0, 0)) + at(u, 0, (-1), 0)) + at(u, 0, 1, 0)) + "
                        "at(u, 0, 0, (-1))) + at(u, 0, 0, 1)) - (6f32 * c))");
    assert_int_equal(s->next->kind, RK_AST_CALL_STMT);
    assert_string_equal(print(s->next->u.expr_s.expr), "store(v, (c + (alpha * lap)))");
    walk(P->ast.file);
}

static void test_example_echo(void **state)
{
    parsed *P = parse_ok(echo_rk);
    const rk__node *ping = P->ast.file->u.file.decls, *stats = ping->next, *f = stats->next, *q, *s;

    (void)state;
    assert_int_equal(P->ast.file->u.file.count, 3);
    assert_int_equal(ping->kind, RK_AST_STRUCT);
    assert_str(ping->u.struct_decl.name, "Ping");
    assert_int_equal(ping->u.struct_decl.count, 3);
    assert_str(ping->u.struct_decl.fields->u.var.name, "value");
    assert_int_equal(ping->u.struct_decl.fields->u.var.type.base, RK_BT_U64);
    assert_str(stats->u.struct_decl.name, "Stats");
    assert_int_equal(stats->u.struct_decl.count, 2);
    assert_str(f->u.func.name, "echo");
    assert_int_equal(f->u.func.ret.base, RK_BT_I32);
    check_kernel(f, "ring", "");
    q = f->u.func.params;
    assert_null(q->u.var.type.decl); /* envelope is predeclared */
    q = check_param(q, "env", "envelope*", RK_AS_GLOBAL, 1);
    assert_ptr_equal(q->u.var.type.decl, ping);
    q = check_param(q, "in", "Ping*", RK_AS_GLOBAL, 1);
    assert_ptr_equal(q->u.var.type.decl, stats);
    q = check_param(q, "st", "Stats*", RK_AS_GLOBAL, 0);
    assert_null(q);
    assert_int_equal(f->u.func.body->u.block.count, 7);
    s = f->u.func.body->u.block.stmts;
    assert_int_equal(s->u.assign.op, RK_TOK_PLUS_ASSIGN);
    assert_string_equal(print(s->u.assign.lhs), "st->handled");
    s = s->next;
    assert_string_equal(print(s->u.assign.rhs), "hlc_now().physical");
    s = s->next;
    assert_string_equal(print(s->u.if_s.cond), "((env->flags & ENV_REQUEST) == 0)");
    assert_int_equal(s->u.if_s.then_s->u.block.stmts->kind, RK_AST_RETURN);
    s = s->next;
    assert_int_equal(s->kind, RK_AST_VAR);
    assert_ptr_equal(s->u.var.type.decl, ping);
    assert_string_equal(print(s->u.var.init), "(*in)");
    s = s->next;
    assert_string_equal(print(s->u.assign.rhs), "1u32");
    s = s->next;
    assert_string_equal(print(s->u.if_s.cond), "(out.hops > 65535u32)");
    assert_string_equal(print(s->u.if_s.then_s->u.block.stmts->u.expr_s.expr), "publish(\"alerts/ping\", (&out))");
    s = s->next;
    assert_int_equal(s->kind, RK_AST_RETURN);
    assert_string_equal(print(s->u.ret.value), "reply((&out))");
    walk(P->ast.file);
}

/* ---- The precedence table of DSL.md §4. ---- */

static void test_precedence(void **state)
{
    static const char *const cases[][2] = {
        { "a + b * c", "(a + (b * c))" },
        { "a * b + c", "((a * b) + c)" },
        { "a - b - c", "((a - b) - c)" },
        { "a / b / c", "((a / b) / c)" },
        { "a * b % c / d", "(((a * b) % c) / d)" },
        { "a + b - c + d", "(((a + b) - c) + d)" },
        { "a + b << c", "((a + b) << c)" },
        { "a << b + c", "(a << (b + c))" },
        { "a << b >> c", "((a << b) >> c)" },
        { "a < b << c", "(a < (b << c))" },
        { "a <= b + 1", "(a <= (b + 1))" },
        { "a > b == c >= d", "((a > b) == (c >= d))" },
        { "a < b == b < a", "((a < b) == (b < a))" },
        { "a == b != c", "((a == b) != c)" },
        { "a & b == c", "(a & (b == c))" },
        { "a & b & c", "((a & b) & c)" },
        { "a ^ b & c", "(a ^ (b & c))" },
        { "a | b ^ c", "(a | (b ^ c))" },
        { "a & b | c ^ d", "((a & b) | (c ^ d))" },
        { "a && b | c", "(a && (b | c))" },
        { "a >= b && c", "((a >= b) && c)" },
        { "a || b && c", "(a || (b && c))" },
        { "a && b || c && d", "((a && b) || (c && d))" },
        { "a || b || c", "((a || b) || c)" },
        { "a ? b : c ? d : e", "(a ? b : (c ? d : e))" },
        { "a ? b ? c : d : e", "(a ? (b ? c : d) : e)" },
        { "a || b ? c + d : e", "((a || b) ? (c + d) : e)" },
        { "-a * b", "((-a) * b)" },
        { "- -a", "(-(-a))" },
        { "+a - ~b", "((+a) - (~b))" },
        { "!a && ~b", "((!a) && (~b))" },
        { "*p + &q", "((*p) + (&q))" },
        { "-a[i]", "(-a[i])" },
        { "*s.p", "(*s.p)" },
        { "(f32)a * b", "(((f32)a) * b)" },
        { "(f32)-a", "((f32)(-a))" },
        { "(u32 *)p", "((u32*)p)" },
        { "(vec3<f32>)v + w", "(((vec3<f32>)v) + w)" },
        { "(a + b) * c", "((a + b) * c)" },
        { "(a)(b)", "a(b)" },
        { "a.b.c[1].d", "a.b.c[1].d" },
        { "p->q->r", "p->q->r" },
        { "f(a, b + c)(d)", "f(a, (b + c))(d)" },
        { "vec3<f32>(1.0, 2.0, 3.0).xy", "vec3<f32>(1, 2, 3).xy" },
        { "(vec2<u32>(1u, 2u)).x", "vec2<u32>(1u32, 2u32).x" },
        { "0x10u + 2i64 * 1.5f", "(16u32 + (2i64 * 1.5f32))" },
        { "true || false && !true", "(true || (false && (!true)))" },
    };
    char src[256];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed *P;
        const rk__node *s;

        snprintf(src, sizeof src, "void f() {\n    x = %s;\n}\n", cases[i][0]);
        P = parse_ok(src);
        s = first_func(P)->u.func.body->u.block.stmts;
        assert_int_equal(s->kind, RK_AST_ASSIGN);
        if (strcmp(print(s->u.assign.rhs), cases[i][1]) != 0)
            fail_msg("'%s' printed as '%s', want '%s'", cases[i][0], print(s->u.assign.rhs), cases[i][1]);
        /* The expression spans its text exactly. */
        assert_int_equal(s->u.assign.rhs->pos.offset, 19);
        assert_int_equal(s->u.assign.rhs->end, 19 + strlen(cases[i][0]));
    }
}

/* Statements beyond the examples: while, else, break, continue, ++/--, const, casts to a struct. */
static void test_statements(void **state)
{
    parsed *P = parse_ok("struct S { u32 a; f32 b[4]; };\n"
                         "const u32 N = 4;\n"
                         "u32 g(S s, u32 *out) {\n"
                         "    const u32 k = 2;\n"
                         "    global vec4<f32> *p;\n"
                         "    vec2<i32> v = vec2<i32>(1, 2);\n"
                         "    while (k < N) { if (k == 1) break; else continue; }\n"
                         "    for (;;) { }\n"
                         "    for (s.a = 0; ; s.a++) ;\n"
                         "    out[0]--;\n"
                         "    vec2<f32>(1.0, 2.0);\n"
                         "    return;\n"
                         "}\n");
    const rk__node *d = P->ast.file->u.file.decls, *f, *s;

    (void)state;
    assert_int_equal(d->u.struct_decl.count, 2);
    assert_string_equal(print(d->u.struct_decl.fields->next->u.var.array_len), "4");
    d = d->next;
    assert_int_equal(d->kind, RK_AST_CONST);
    assert_string_equal(print(d->u.var.init), "4");
    f = d->next;
    assert_int_equal(f->u.func.body->u.block.count, 9);
    check_param(f->u.func.params, "s", "S", RK_AS_PRIVATE, 0);
    s = f->u.func.body->u.block.stmts;
    assert_int_equal(s->u.var.storage, RK_ST_CONST);
    s = s->next;
    assert_int_equal(s->u.var.type.space, RK_AS_GLOBAL);
    assert_string_equal(type_str(&s->u.var.type), "vec4<f32>*");
    s = s->next;
    assert_string_equal(print(s->u.var.init), "vec2<i32>(1, 2)");
    s = s->next;
    assert_int_equal(s->kind, RK_AST_WHILE);
    s = s->u.while_s.body->u.block.stmts;
    assert_int_equal(s->u.if_s.then_s->kind, RK_AST_BREAK);
    assert_int_equal(s->u.if_s.else_s->kind, RK_AST_CONTINUE);
    s = f->u.func.body->u.block.stmts->next->next->next->next;
    assert_int_equal(s->kind, RK_AST_FOR);
    assert_null(s->u.for_s.init);
    assert_null(s->u.for_s.cond);
    assert_null(s->u.for_s.step);
    s = s->next;
    assert_int_equal(s->u.for_s.step->kind, RK_AST_INCDEC);
    assert_int_equal(s->u.for_s.body->kind, RK_AST_EMPTY);
    s = s->next;
    assert_int_equal(s->kind, RK_AST_INCDEC);
    assert_int_equal(s->u.assign.op, RK_TOK_DEC);
    s = s->next;
    assert_int_equal(s->kind, RK_AST_CALL_STMT);
    assert_int_equal(s->u.expr_s.expr->kind, RK_AST_CTOR);
    s = s->next;
    assert_int_equal(s->kind, RK_AST_RETURN);
    assert_null(s->u.ret.value);
    walk(P->ast.file);

    P = parse_ok("struct S { u32 a; };\nvoid f(u64 x) { S s = (S)x; }\n");
    s = first_func(P)->u.func.body->u.block.stmts;
    assert_string_equal(print(s->u.var.init), "((S)x)");
}

/* ---- Errors: exact diagnostics, one per bad statement. ---- */

static void expect_diag(const char *src, const char *want)
{
    parsed *P = parse(src);

    if (strcmp(P->diag, want) != 0)
        fail_msg("source:\n%s\ndiagnostics:\n%s\nwant:\n%s", src, P->diag, want);
    walk(P->ast.file);
}

static void test_errors(void **state)
{
    (void)state;
    expect_diag("void f() {\n    barrier()\n    barrier();\n}\n",
                "k.rk:2:14: error: expected ';' after expression\n    barrier()\n             ^\n");
    expect_diag("void f(u32 a) {\n    a = 1\n}\n",
                "k.rk:2:10: error: expected ';' after assignment\n    a = 1\n         ^\n");
    expect_diag("void f(u32 a) {\n    if (a < 1 {\n    }\n    g();\n}\n",
                "k.rk:2:14: error: expected ')' after condition\n    if (a < 1 {\n             ^\n");
    expect_diag("void f() {\n    g(1, 2;\n}\n",
                "k.rk:2:11: error: expected ')' after arguments\n    g(1, 2;\n          ^\n");
    expect_diag("@kernel(global, workgroup = 1.5)\nvoid f() {}\n",
                "k.rk:1:29: error: expected an integer or a name after '=' in attribute, found floating-point "
                "literal\n@kernel(global, workgroup = 1.5)\n                            ^\n");
    expect_diag("@(global)\nvoid f() {}\n",
                "k.rk:1:2: error: expected an attribute name after '@', found '('\n@(global)\n ^\n");
    expect_diag("@kernel(global workgroup)\nvoid f() {}\n",
                "k.rk:1:15: error: expected ',' or ')' in attribute arguments\n@kernel(global workgroup)\n"
                "              ^\n");
    expect_diag("void f(global Foo *p) {}\n",
                "k.rk:1:15: error: unknown type 'Foo'\nvoid f(global Foo *p) {}\n              ^\n");
    expect_diag("void f() {\n    Foo x = 1;\n}\n", "k.rk:2:5: error: unknown type 'Foo'\n    Foo x = 1;\n    ^\n");
    expect_diag("Foo f() {}\n", "k.rk:1:1: error: unknown type 'Foo'\nFoo f() {}\n^\n");
    expect_diag("void f(u32 a, u32 b) {\n    if (a = b) {\n    }\n}\n",
                "k.rk:2:11: error: '=' is a statement and cannot be used in an expression\n"
                "    if (a = b) {\n          ^\n");
    expect_diag("void f(u32 x, u32 y) {\n    x = y++;\n}\n",
                "k.rk:2:10: error: '++' is a statement and cannot be used in an expression\n    x = y++;\n"
                "         ^\n");
    expect_diag("void f(u32 x) {\n    g(x += 1);\n}\n",
                "k.rk:2:9: error: '+=' is a statement and cannot be used in an expression\n    g(x += 1);\n"
                "        ^\n");
    expect_diag("void f(u32 a) {\n    a + 1;\n}\n",
                "k.rk:2:5: error: expression statement must be a call or an assignment\n    a + 1;\n    ^\n");
    expect_diag("void f() {\n    x = \"s\";\n}\n",
                "k.rk:2:9: error: a string literal is allowed only as an argument of an intrinsic\n"
                "    x = \"s\";\n        ^\n");
    expect_diag("void f() {\n    x = (1 + );\n}\n",
                "k.rk:2:14: error: expected expression, found ')'\n    x = (1 + );\n             ^\n");
    expect_diag("void f() {\n    vec3<bool2> v;\n}\n",
                "k.rk:2:10: error: expected a scalar element type, found 'bool2'\n    vec3<bool2> v;\n"
                "         ^\n");
    expect_diag("42;\nvoid f() {}\n", "k.rk:1:1: error: expected a declaration, found integer literal\n42;\n^\n");
    expect_diag("void f() {\n    g();\n", "k.rk:3:1: error: expected '}' at end of block\n\n^\n");
    expect_diag("struct S { u32 a };\n", "k.rk:1:17: error: expected ';' after field\nstruct S { u32 a };\n"
                                         "                ^\n");
}

static void test_recovery(void **state)
{
    parsed *P;
    const rk__node *s;

    (void)state;
    /* Three bad statements, three diagnostics; the good ones around them are kept. */
    P = parse("void f() {\n    a = ;\n    g();\n    b = 1 +;\n    if (x) { c = ; } else { d(); }\n    h();\n}\n"
              "void k() { g(); }\n");
    assert_int_equal(P->d.errors, 3);
    assert_non_null(strstr(P->diag, "k.rk:2:9: error: expected expression, found ';'"));
    assert_non_null(strstr(P->diag, "k.rk:4:12: error: expected expression, found ';'"));
    assert_non_null(strstr(P->diag, "k.rk:5:18: error: expected expression, found ';'"));
    assert_int_equal(P->ast.file->u.file.count, 2);
    s = first_func(P)->u.func.body->u.block.stmts;
    assert_int_equal(s->kind, RK_AST_ERROR);
    assert_int_equal(s->next->kind, RK_AST_CALL_STMT);
    assert_int_equal(s->next->next->kind, RK_AST_ERROR);
    s = s->next->next->next;
    assert_int_equal(s->kind, RK_AST_IF); /* the error stayed inside the then-block */
    assert_int_equal(s->u.if_s.else_s->kind, RK_AST_BLOCK);
    assert_int_equal(s->next->kind, RK_AST_CALL_STMT);
    walk(P->ast.file);

    /* A bad declaration is skipped up to the next one. */
    P = parse("void f(u32 a,) { g(); }\n@kernel(global)\nvoid k() { g(); }\nstruct S { u32 x; };\n");
    assert_int_equal(P->d.errors, 1);
    assert_int_equal(P->ast.file->u.file.count, 2);

    /* A lexer error is the only diagnostic of its statement. */
    P = parse("void f() {\n    x = 1e;\n    y = 2;\n}\n");
    assert_int_equal(P->d.errors, 1);
    assert_non_null(strstr(P->diag, "k.rk:2:9: error:"));

    /* Stray closing tokens at file level. */
    P = parse("} ) ] ;\nvoid f() {}\n");
    assert_int_equal(P->d.errors, 1);
    assert_int_equal(P->ast.file->u.file.count, 1);
}

static void test_nesting_limit(void **state)
{
    static char src[8192];
    parsed *P;
    int n;

    (void)state;
    /* 200 levels of parentheses are fine. */
    n = snprintf(src, sizeof src, "void f() {\n    x = ");
    for (int i = 0; i < 200; i++)
        src[n++] = '(';
    src[n++] = 'a';
    for (int i = 0; i < 200; i++)
        src[n++] = ')';
    snprintf(src + n, sizeof src - (size_t)n, ";\n}\n");
    parse_ok(src);

    /* 300 are not: one error at the first '(' beyond the limit (the statement and its value take two). */
    n = snprintf(src, sizeof src, "void f() {\n    x = ");
    for (int i = 0; i < 300; i++)
        src[n++] = '(';
    src[n++] = 'a';
    for (int i = 0; i < 300; i++)
        src[n++] = ')';
    snprintf(src + n, sizeof src - (size_t)n, ";\n    g();\n}\n");
    P = parse(src);
    assert_int_equal(P->d.errors, 1);
    assert_true(strncmp(P->diag, "k.rk:2:264: error: nesting too deep (more than 256 levels)\n", 59) == 0);
    assert_int_equal(first_func(P)->u.func.body->u.block.count, 2);

    /* Prefix operators and blocks count too. */
    n = snprintf(src, sizeof src, "void f() {\n    x = ");
    for (int i = 0; i < 1000; i++) /* "- -": "--" would be one token */
        src[n++] = '-', src[n++] = ' ';
    snprintf(src + n, sizeof src - (size_t)n, "a;\n}\n");
    P = parse(src);
    assert_int_equal(P->d.errors, 1);
    assert_non_null(strstr(P->diag, "nesting too deep"));

    n = snprintf(src, sizeof src, "void f() ");
    for (int i = 0; i < 1000; i++)
        src[n++] = '{';
    for (int i = 0; i < 1000; i++)
        src[n++] = '}';
    snprintf(src + n, sizeof src - (size_t)n, "\nvoid g() {}\n");
    P = parse(src);
    assert_int_equal(P->d.errors, 1);
    assert_non_null(strstr(P->diag, "k.rk:1:267: error: nesting too deep (more than 256 levels)"));
    assert_int_equal(P->ast.file->u.file.count, 2);
    walk(P->ast.file);
}

/* ---- Limits and arguments. ---- */

static void test_memory_limit(void **state)
{
    rk__ast ast;
    rk__diags d;
    char diag[256];

    (void)state;
    rk__diag_init(&d, diag, sizeof diag);
    assert_int_equal(rk__parse(&ast, "k.rk", sum_rk, strlen(sum_rk), &d, 2048), RK_ELIMIT);
    assert_null(ast.file);
    assert_null(ast.arena.head);
    assert_int_equal(d.errors, 0);
    rk__ast_free(&ast);
    assert_int_equal(rk__parse(&ast, "k.rk", sum_rk, strlen(sum_rk), &d, 1 << 20), 0);
    assert_non_null(ast.file);
    assert_true(ast.arena.total <= 1 << 20);
    rk__ast_free(&ast);
    rk__ast_free(&ast);

    assert_int_equal(rk__parse(NULL, "k.rk", "", 0, &d, 0), RK_EINVAL);
    assert_int_equal(rk__parse(&ast, "k.rk", "", 0, NULL, 0), RK_EINVAL);
    assert_int_equal(rk__parse(&ast, "k.rk", NULL, 1, &d, 0), RK_EINVAL);
    assert_int_equal(rk__parse(&ast, "k.rk", NULL, 0, &d, 0), 0);
    assert_int_equal(ast.file->u.file.count, 0);
    rk__ast_free(&ast);
}

static void test_arena(void **state)
{
    rk__arena a;
    int err;
    char *p, *q;

    (void)state;
    rk__arena_init(&a, 200000);
    p = rk__arena_alloc(&a, 10, &err);
    assert_non_null(p);
    assert_int_equal(err, 0);
    q = rk__arena_alloc(&a, 100000, &err); /* larger than a block */
    assert_non_null(q);
    assert_int_equal(q[99999], 0);
    assert_null(rk__arena_alloc(&a, 100000, &err));
    assert_int_equal(err, RK_ELIMIT);
    assert_non_null(rk__arena_alloc(&a, 16, &err)); /* what is left still serves */
    rk__arena_free(&a);
    assert_int_equal(a.total, 0);
    rk__arena_free(&a);
}

/* ---- Robustness: random token sequences from the lexer's token table. ---- */

static void test_random_tokens(void **state)
{
    static const char *const idents[] = { "a", "f", "Ping", "envelope", "kernel", "x" };
    static const char *const others[] = { "1", "0x10u", "1.5f", "\"s\"", "1e", "$" }; /* INT FLOAT STRING ERROR */
    static char src[2048];
    uint64_t seed = 0x9a75e;
    size_t total_errors = 0;

    (void)state;
    for (int iter = 0; iter < 5000; iter++) {
        uint64_t r = mix64(++seed);
        size_t len = 0, ntok = (size_t)(r % 96);
        rk__ast ast;
        rk__diags d;
        char diag[512];

        /* Half the inputs start with a struct and a function head, so the statement parser sees them. */
        if (r & 0x100)
            len += (size_t)snprintf(src, sizeof src, "struct Ping { u32 a; };\nvoid f(u32 a) {\n");
        for (size_t i = 0; i < ntok; i++) {
            uint64_t t = mix64(++seed);
            unsigned k = RK_TOK_IDENT + (unsigned)(t % (RK_TOK__COUNT - RK_TOK_IDENT));
            const char *s = rk__lex_tok_spelling((rk__tok_kind)k);

            if (k == RK_TOK_IDENT)
                s = idents[(t >> 16) % 6];
            else if (!s)
                s = others[(t >> 16) % 6];
            len += (size_t)snprintf(src + len, sizeof src - len, "%s%s", s, (t >> 32) % 8 ? " " : "\n");
        }
        rk__diag_init(&d, diag, sizeof diag);
        assert_int_equal(rk__parse(&ast, "r.rk", src, len, &d, 0), 0);
        walk(ast.file);
        assert_true(d.len < sizeof diag);
        assert_int_equal(strlen(diag), d.len);
        total_errors += d.errors;
        rk__ast_free(&ast);
    }
    assert_true(total_errors > 4000); /* random tokens are almost never a program */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_saxpy),
        cmocka_unit_test(test_example_sum),
        cmocka_unit_test(test_example_heat7),
        cmocka_unit_test(test_example_echo),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_random_tokens),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    rk__ast_free(&parse_ok("")->ast);
    return rc;
}
