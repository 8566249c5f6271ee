/* parser.c - recursive descent over docs/DSL.md §4; parser.h is the contract, ast.h the tree.
 *
 * Invariants:
 *   P1. A parse function returns a node, or NULL after reporting exactly one diagnostic (or after the
 *       lexer reported one for an ERROR token, or after an allocation failed: then p->status is set and
 *       every later token reads as EOF, so the parse unwinds at once).
 *   P2. While p->panic is set no diagnostic is reported; it is set by the first error and cleared by the
 *       resynchronisation that follows (sync_stmt, sync_decl), so one bad statement gives one diagnostic.
 *   P3. Every loop over tokens consumes a token per iteration or ends at EOF, '}' or a token that a caller
 *       handles; the statement and declaration loops force progress (one token) when a failed parse and
 *       its resynchronisation consumed nothing. So parsing terminates on every input.
 *   P4. p->depth counts the open statements, conditional expressions and prefix operators; beyond
 *       RK__PARSE_MAX_DEPTH the parse reports an error instead of recursing, bounding the C stack.
 */
#include "codegen/parser.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ---- The arena. ---- */

struct rk__arena_block {
    rk__arena_block *next;
    size_t cap;  /* bytes of data[] */
    size_t used;
    max_align_t data[]; /* aligned for any node */
};

#define RK__ARENA_BLOCK ((size_t)64 << 10)
#define RK__ARENA_ALIGN (sizeof(max_align_t))

void rk__arena_init(rk__arena *a, size_t limit)
{
    a->head = NULL;
    a->total = 0;
    a->limit = limit;
}

void *rk__arena_alloc(rk__arena *a, size_t n, int *err)
{
    rk__arena_block *b = a->head;
    size_t room, cap;
    void *p;

    n = (n + RK__ARENA_ALIGN - 1) & ~(RK__ARENA_ALIGN - 1);
    if (!b || b->cap - b->used < n) {
        /* A new block: the usual size, smaller near the limit, larger for a large request. */
        room = a->limit > a->total ? a->limit - a->total : 0;
        if (room < sizeof *b || room - sizeof *b < n) {
            *err = RK_ELIMIT;
            return NULL;
        }
        cap = RK__ARENA_BLOCK < room - sizeof *b ? RK__ARENA_BLOCK : room - sizeof *b;
        if (cap < n)
            cap = n;
        b = malloc(sizeof *b + cap);
        if (!b) {
            *err = RK_ENOMEM;
            return NULL;
        }
        b->next = a->head;
        b->cap = cap;
        b->used = 0;
        a->head = b;
        a->total += sizeof *b + cap;
    }
    p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    *err = 0;
    return p;
}

void rk__arena_free(rk__arena *a)
{
    while (a->head) {
        rk__arena_block *b = a->head;

        a->head = b->next;
        free(b);
    }
    a->total = 0;
}

/* ---- Parser state and tokens. ---- */

#define RK__LOOKAHEAD 8u /* a power of two; the parser peeks at most 6 tokens ahead */

/* A type name the parser knows: a struct declared earlier, or a predeclared one. */
typedef struct type_name {
    rk__str name;
    const rk__node *decl;
    struct type_name *next;
} type_name;

typedef struct parser {
    rk__lexer lx;
    rk__diags *d;
    rk__arena *arena;
    rk__token ring[RK__LOOKAHEAD];
    unsigned head, count;  /* ring[head] is the current token; count tokens are buffered */
    rk__token prev;        /* the last consumed token */
    rk__token eof;         /* what every token reads as after an allocation failure (P1) */
    uint64_t consumed;     /* tokens consumed so far (progress checks, P3) */
    unsigned depth;        /* P4 */
    int panic;             /* P2 */
    int status;            /* 0, RK_ENOMEM or RK_ELIMIT */
    type_name *types;
} parser;

static const rk__token *peek(parser *p, unsigned k)
{
    if (p->status)
        return &p->eof;
    while (p->count <= k) {
        rk__lex_next(&p->lx, &p->ring[(p->head + p->count) & (RK__LOOKAHEAD - 1)]);
        p->count++;
    }
    return &p->ring[(p->head + k) & (RK__LOOKAHEAD - 1)];
}

static const rk__token *cur(parser *p) { return peek(p, 0); }
static rk__tok_kind kind_at(parser *p, unsigned k) { return peek(p, k)->kind; }
static int at(parser *p, rk__tok_kind k) { return cur(p)->kind == k; }

static void advance(parser *p)
{
    if (cur(p)->kind == RK_TOK_EOF)
        return;
    p->prev = *cur(p);
    p->head = (p->head + 1) & (RK__LOOKAHEAD - 1);
    p->count--;
    p->consumed++;
}

static int accept(parser *p, rk__tok_kind k)
{
    if (!at(p, k))
        return 0;
    advance(p);
    return 1;
}

static rk__pos pos_of(const rk__token *t) { return (rk__pos){ t->offset, t->line, t->col }; }

/* The position just after the last consumed token: where a missing ';' or ')' belongs. Tokens never
 * span lines, so the column is the token's plus its length. */
static rk__pos after_prev(parser *p)
{
    if (p->consumed == 0)
        return pos_of(cur(p));
    return (rk__pos){ p->prev.offset + p->prev.length, p->prev.line, p->prev.col + p->prev.length };
}

static rk__str str_of(parser *p, const rk__token *t)
{
    return (rk__str){ p->lx.src.text + t->offset, t->length };
}

/* Reports at `at` unless in panic (P2), then enters panic. An ERROR token at the current position was
 * already reported by the lexer: that diagnostic stands for this one. */
static void error_at(parser *p, rk__pos where, const char *fmt, ...) RK__PRINTF(3, 4);

static void error_at(parser *p, rk__pos where, const char *fmt, ...)
{
    char msg[200];
    va_list ap;

    if (p->panic || p->status)
        return;
    p->panic = 1;
    if (cur(p)->kind == RK_TOK_ERROR)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rk__diag_error(p->d, &p->lx.src, where, "%s", msg);
}

/* The current token's name for "found …" messages: its text for identifiers, else its kind's name. */
static void found(parser *p, char *buf, size_t cap)
{
    const rk__token *t = cur(p);

    if (t->kind == RK_TOK_IDENT)
        snprintf(buf, cap, "'%.*s'", t->length > 40 ? 40 : (int)t->length, p->lx.src.text + t->offset);
    else
        snprintf(buf, cap, "%s", rk__lex_tok_name(t->kind));
}

static int is_assign_op(rk__tok_kind k)
{
    switch (k) {
    case RK_TOK_ASSIGN: case RK_TOK_PLUS_ASSIGN: case RK_TOK_MINUS_ASSIGN: case RK_TOK_STAR_ASSIGN:
    case RK_TOK_SLASH_ASSIGN: case RK_TOK_PERCENT_ASSIGN: case RK_TOK_AMP_ASSIGN: case RK_TOK_PIPE_ASSIGN:
    case RK_TOK_CARET_ASSIGN: case RK_TOK_SHL_ASSIGN: case RK_TOK_SHR_ASSIGN:
        return 1;
    default:
        return 0;
    }
}

/* An expected token is missing. An assignment or ++/-- where an expression goes on gets its own message
 * (DSL.md §4: they are statements); anything else is reported just after the previous token. */
static void expected(parser *p, const char *what, const char *ctx)
{
    rk__tok_kind k = cur(p)->kind;

    if (is_assign_op(k) || k == RK_TOK_INC || k == RK_TOK_DEC)
        error_at(p, pos_of(cur(p)), "'%s' is a statement and cannot be used in an expression",
                 rk__lex_tok_spelling(k));
    else
        error_at(p, after_prev(p), "expected %s %s", what, ctx);
}

static int expect(parser *p, rk__tok_kind k, const char *ctx)
{
    char what[16];

    if (accept(p, k))
        return 1;
    snprintf(what, sizeof what, "'%s'", rk__lex_tok_spelling(k));
    expected(p, what, ctx);
    return 0;
}

static rk__node *new_node(parser *p, rk__node_kind kind, rk__pos where)
{
    rk__node *n;
    int err;

    if (p->status)
        return NULL;
    n = rk__arena_alloc(p->arena, sizeof *n, &err);
    if (!n) {
        p->status = err;
        p->eof = *cur(p);
        p->eof.kind = RK_TOK_EOF;
        return NULL;
    }
    n->kind = kind;
    n->pos = where;
    n->op_pos = where;
    n->end = where.offset;
    return n;
}

/* Ends n at the last consumed token. */
static rk__node *fin(parser *p, rk__node *n)
{
    if (n)
        n->end = p->prev.offset + p->prev.length;
    return n;
}

/* Appends n to a list kept as head + tail pointer + count. */
typedef struct list {
    rk__node *head, **tail;
    uint32_t count;
} list;

static void list_init(list *l)
{
    l->head = NULL;
    l->tail = &l->head;
    l->count = 0;
}

static void list_add(list *l, rk__node *n)
{
    if (!n)
        return;
    *l->tail = n;
    l->tail = &n->next;
    l->count++;
}

/* P4: enters one nesting level, or reports that there are too many. */
static int enter(parser *p)
{
    if (p->depth >= RK__PARSE_MAX_DEPTH) {
        error_at(p, pos_of(cur(p)), "nesting too deep (more than %u levels)", RK__PARSE_MAX_DEPTH);
        return 0;
    }
    p->depth++;
    return 1;
}

/* ---- Types. ---- */

static const type_name *lookup_type(parser *p, const rk__token *t)
{
    for (const type_name *n = p->types; n; n = n->next) /* O(structs); files declare a handful */
        if (n->name.len == t->length && memcmp(n->name.ptr, p->lx.src.text + t->offset, t->length) == 0)
            return n;
    return NULL;
}

static int add_type(parser *p, rk__str name, const rk__node *decl)
{
    int err;
    type_name *n = rk__arena_alloc(p->arena, sizeof *n, &err);

    if (!n) {
        p->status = err;
        p->eof = *cur(p);
        p->eof.kind = RK_TOK_EOF;
        return 0;
    }
    n->name = name;
    n->decl = decl;
    n->next = p->types;
    p->types = n;
    return 1;
}

static rk__base_type scalar_of(rk__tok_kind k)
{
    switch (k) {
    case RK_TOK_KW_BOOL: return RK_BT_BOOL;
    case RK_TOK_KW_I32: return RK_BT_I32;
    case RK_TOK_KW_U32: return RK_BT_U32;
    case RK_TOK_KW_I64: return RK_BT_I64;
    case RK_TOK_KW_U64: return RK_BT_U64;
    case RK_TOK_KW_F32: return RK_BT_F32;
    case RK_TOK_KW_F64: return RK_BT_F64;
    default: return RK_BT_NONE;
    }
}

static int is_vec(rk__tok_kind k)
{
    return k == RK_TOK_KW_VEC2 || k == RK_TOK_KW_VEC3 || k == RK_TOK_KW_VEC4;
}

/* Does the token at k start a type (scalar, vector, known struct name)? */
static int starts_type(parser *p, unsigned k)
{
    const rk__token *t = peek(p, k);

    return scalar_of(t->kind) != RK_BT_NONE || is_vec(t->kind) || (t->kind == RK_TOK_IDENT && lookup_type(p, t));
}

/* Is `vecN < x >` at k followed by '(' (a constructor, not a declaration or cast)? */
static int vec_ctor_at(parser *p, unsigned k)
{
    return is_vec(kind_at(p, k)) && kind_at(p, k + 1) == RK_TOK_LT && kind_at(p, k + 3) == RK_TOK_GT &&
           kind_at(p, k + 4) == RK_TOK_LPAREN;
}

static rk__addr_space space_of(rk__tok_kind k)
{
    return k == RK_TOK_KW_GLOBAL ? RK_AS_GLOBAL
         : k == RK_TOK_KW_SHARED ? RK_AS_SHARED
         : k == RK_TOK_KW_CONSTANT ? RK_AS_CONSTANT : RK_AS_PRIVATE;
}

/* type = scalar | vector | ident; `void` too when allow_void. Fills the base fields of *ty. */
static int parse_type(parser *p, rk__type *ty, int allow_void)
{
    const rk__token *t = cur(p);
    char f[64];

    ty->pos = pos_of(t);
    if (scalar_of(t->kind) != RK_BT_NONE) {
        ty->base = scalar_of(t->kind);
        advance(p);
        return 1;
    }
    if (t->kind == RK_TOK_KW_VOID && allow_void) {
        ty->base = RK_BT_VOID;
        advance(p);
        return 1;
    }
    if (is_vec(t->kind)) {
        ty->base = RK_BT_VEC;
        ty->vec_len = (uint8_t)(t->kind - RK_TOK_KW_VEC2 + 2);
        advance(p);
        if (!expect(p, RK_TOK_LT, "after vector type"))
            return 0;
        ty->elem = scalar_of(cur(p)->kind);
        if (ty->elem == RK_BT_NONE) {
            found(p, f, sizeof f);
            error_at(p, pos_of(cur(p)), "expected a scalar element type, found %s", f);
            return 0;
        }
        advance(p);
        return expect(p, RK_TOK_GT, "after vector element type");
    }
    if (t->kind == RK_TOK_IDENT) {
        const type_name *n = lookup_type(p, t);

        if (!n) {
            error_at(p, pos_of(t), "unknown type '%.*s'", t->length > 40 ? 40 : (int)t->length,
                     p->lx.src.text + t->offset);
            return 0;
        }
        ty->base = RK_BT_STRUCT;
        ty->name = n->name;
        ty->decl = n->decl;
        advance(p);
        return 1;
    }
    found(p, f, sizeof f);
    error_at(p, pos_of(t), "expected a type, found %s", f);
    return 0;
}

/* ---- Expressions. ---- */

static rk__node *parse_expr(parser *p);
static rk__node *parse_unary(parser *p);

/* Binary precedence (DSL.md §4, levels 3-12 as 10-1); 0 for a token that is not a binary operator. */
static int binary_prec(rk__tok_kind k)
{
    switch (k) {
    case RK_TOK_OROR: return 1;
    case RK_TOK_ANDAND: return 2;
    case RK_TOK_PIPE: return 3;
    case RK_TOK_CARET: return 4;
    case RK_TOK_AMP: return 5;
    case RK_TOK_EQ: case RK_TOK_NE: return 6;
    case RK_TOK_LT: case RK_TOK_LE: case RK_TOK_GT: case RK_TOK_GE: return 7;
    case RK_TOK_SHL: case RK_TOK_SHR: return 8;
    case RK_TOK_PLUS: case RK_TOK_MINUS: return 9;
    case RK_TOK_STAR: case RK_TOK_SLASH: case RK_TOK_PERCENT: return 10;
    default: return 0;
    }
}

/* args = arg { "," arg } up to ')', the '(' consumed; arg = expr | string_lit. */
static int parse_args(parser *p, rk__node *call)
{
    list l;

    list_init(&l);
    if (!at(p, RK_TOK_RPAREN)) {
        do {
            rk__node *a;

            if (at(p, RK_TOK_STRING) && (kind_at(p, 1) == RK_TOK_COMMA || kind_at(p, 1) == RK_TOK_RPAREN)) {
                a = new_node(p, RK_AST_STRING, pos_of(cur(p)));
                if (!a)
                    return 0;
                a->u.string_lit.text = str_of(p, cur(p));
                advance(p);
                fin(p, a);
            } else if (!(a = parse_expr(p))) {
                return 0;
            }
            list_add(&l, a);
        } while (accept(p, RK_TOK_COMMA));
    }
    call->u.call.args = l.head;
    call->u.call.count = l.count;
    return expect(p, RK_TOK_RPAREN, "after arguments");
}

static rk__node *parse_primary(parser *p)
{
    const rk__token *t = cur(p);
    rk__pos where = pos_of(t);
    rk__node *n;
    char f[64];

    switch (t->kind) {
    case RK_TOK_IDENT:
        if (!(n = new_node(p, RK_AST_IDENT, where)))
            return NULL;
        n->u.ident.name = str_of(p, t);
        advance(p);
        return fin(p, n);
    case RK_TOK_INT:
        if (!(n = new_node(p, RK_AST_INT, where)))
            return NULL;
        n->u.int_lit.value = t->ival;
        n->u.int_lit.suffix = t->suffix;
        n->u.int_lit.hex = t->hex;
        advance(p);
        return fin(p, n);
    case RK_TOK_FLOAT:
        if (!(n = new_node(p, RK_AST_FLOAT, where)))
            return NULL;
        n->u.float_lit.value = t->fval;
        n->u.float_lit.suffix = t->suffix;
        advance(p);
        return fin(p, n);
    case RK_TOK_KW_TRUE:
    case RK_TOK_KW_FALSE:
        if (!(n = new_node(p, RK_AST_BOOL, where)))
            return NULL;
        n->u.bool_lit.value = t->kind == RK_TOK_KW_TRUE;
        advance(p);
        return fin(p, n);
    case RK_TOK_LPAREN:
        advance(p);
        if (!(n = parse_expr(p)))
            return NULL;
        if (!expect(p, RK_TOK_RPAREN, "after expression"))
            return NULL;
        n->pos = where; /* the node spans its parentheses */
        return fin(p, n);
    case RK_TOK_KW_VEC2:
    case RK_TOK_KW_VEC3:
    case RK_TOK_KW_VEC4:
        if (!(n = new_node(p, RK_AST_CTOR, where)) || !parse_type(p, &n->u.call.ctor, 0))
            return NULL;
        n->op_pos = pos_of(cur(p));
        if (!expect(p, RK_TOK_LPAREN, "after vector type in a constructor") || !parse_args(p, n))
            return NULL;
        return fin(p, n);
    case RK_TOK_STRING:
        error_at(p, where, "a string literal is allowed only as an argument of an intrinsic");
        return NULL;
    default:
        found(p, f, sizeof f);
        error_at(p, where, "expected expression, found %s", f);
        return NULL;
    }
}

/* postfix = primary { "[" expr "]" | "." ident | "->" ident | "(" [ args ] ")" } */
static rk__node *parse_postfix(parser *p)
{
    rk__node *e = parse_primary(p), *n;

    while (e) {
        rk__pos op = pos_of(cur(p));
        rk__tok_kind k = cur(p)->kind;

        if (k == RK_TOK_LBRACKET) {
            advance(p);
            if (!(n = new_node(p, RK_AST_INDEX, e->pos)))
                return NULL;
            n->op_pos = op;
            n->u.index.base = e;
            if (!(n->u.index.index = parse_expr(p)) || !expect(p, RK_TOK_RBRACKET, "after index"))
                return NULL;
        } else if (k == RK_TOK_DOT || k == RK_TOK_ARROW) {
            advance(p);
            if (!at(p, RK_TOK_IDENT)) {
                char f[64];

                found(p, f, sizeof f);
                error_at(p, pos_of(cur(p)), "expected a member name after '%s', found %s",
                         rk__lex_tok_spelling(k), f);
                return NULL;
            }
            if (!(n = new_node(p, RK_AST_MEMBER, e->pos)))
                return NULL;
            n->op_pos = op;
            n->u.member.op = k;
            n->u.member.base = e;
            n->u.member.field = str_of(p, cur(p));
            advance(p);
        } else if (k == RK_TOK_LPAREN) {
            advance(p);
            if (!(n = new_node(p, RK_AST_CALL, e->pos)))
                return NULL;
            n->op_pos = op;
            n->u.call.callee = e;
            if (!parse_args(p, n))
                return NULL;
        } else {
            break;
        }
        e = fin(p, n);
    }
    return e;
}

/* Does '(' at the current token open a cast? A type name follows, and not a vector constructor. */
static int cast_ahead(parser *p)
{
    return at(p, RK_TOK_LPAREN) && starts_type(p, 1) && !vec_ctor_at(p, 1);
}

/* unary = postfix | ( "-" | "+" | "!" | "~" | "*" | "&" ) unary | "(" type [ "*" ] ")" unary */
static rk__node *parse_unary(parser *p)
{
    rk__tok_kind k = cur(p)->kind;
    rk__pos where = pos_of(cur(p));
    rk__node *n;

    if (k == RK_TOK_MINUS || k == RK_TOK_PLUS || k == RK_TOK_BANG || k == RK_TOK_TILDE || k == RK_TOK_STAR ||
        k == RK_TOK_AMP) {
        if (!enter(p))
            return NULL;
        advance(p);
        n = new_node(p, RK_AST_UNARY, where);
        if (n) {
            n->u.unary.op = k;
            n->u.unary.operand = parse_unary(p);
        }
        p->depth--;
        return n && n->u.unary.operand ? fin(p, n) : NULL;
    }
    if (cast_ahead(p)) {
        if (!enter(p))
            return NULL;
        advance(p);
        n = new_node(p, RK_AST_CAST, where);
        if (n && parse_type(p, &n->u.cast.type, 0)) {
            n->u.cast.type.is_ptr = (uint8_t)accept(p, RK_TOK_STAR);
            if (expect(p, RK_TOK_RPAREN, "after cast type"))
                n->u.cast.operand = parse_unary(p);
        }
        p->depth--;
        return n && n->u.cast.operand ? fin(p, n) : NULL;
    }
    return parse_postfix(p);
}

/* binary = unary { binop unary }, by precedence climbing: all levels left-associative. */
static rk__node *parse_binary(parser *p, int min_prec)
{
    rk__node *lhs = parse_unary(p);

    while (lhs) {
        rk__tok_kind k = cur(p)->kind;
        int prec = binary_prec(k);
        rk__node *n;

        if (prec == 0 || prec < min_prec)
            break;
        if (!(n = new_node(p, RK_AST_BINARY, lhs->pos)))
            return NULL;
        n->op_pos = pos_of(cur(p));
        n->u.binary.op = k;
        n->u.binary.lhs = lhs;
        advance(p);
        if (!(n->u.binary.rhs = parse_binary(p, prec + 1)))
            return NULL;
        lhs = fin(p, n);
    }
    return lhs;
}

/* expr = cond; cond = binary [ "?" expr ":" cond ] (right-associative). */
static rk__node *parse_expr(parser *p)
{
    rk__node *c, *n = NULL;

    if (!enter(p))
        return NULL;
    c = parse_binary(p, 1);
    if (c && at(p, RK_TOK_QUESTION)) {
        n = new_node(p, RK_AST_COND, c->pos);
        if (n) {
            n->op_pos = pos_of(cur(p));
            n->u.cond.c = c;
            advance(p);
            if ((n->u.cond.a = parse_expr(p)) && expect(p, RK_TOK_COLON, "in conditional expression"))
                n->u.cond.b = parse_expr(p);
            n = n->u.cond.b ? fin(p, n) : NULL;
        }
        c = n;
    }
    p->depth--;
    return c;
}

/* ---- Statements. ---- */

static rk__node *parse_statement(parser *p);
static rk__node *parse_block(parser *p);

/* Does a var_decl start at the current token? */
static int decl_ahead(parser *p)
{
    rk__tok_kind k = cur(p)->kind;

    if (k == RK_TOK_KW_SHARED || k == RK_TOK_KW_CONST || k == RK_TOK_KW_GLOBAL || k == RK_TOK_KW_CONSTANT)
        return 1;
    if (is_vec(k))
        return !vec_ctor_at(p, 0);
    return starts_type(p, 0);
}

/* var_decl = [ "shared" | "const" ] [ addr_space ] type [ "*" ] ident [ "[" expr "]" ] [ "=" expr ] */
static rk__node *parse_var_decl(parser *p)
{
    rk__node *n = new_node(p, RK_AST_VAR, pos_of(cur(p)));
    char f[64];

    if (!n)
        return NULL;
    if (accept(p, RK_TOK_KW_SHARED))
        n->u.var.storage = RK_ST_SHARED;
    else if (accept(p, RK_TOK_KW_CONST))
        n->u.var.storage = RK_ST_CONST;
    n->u.var.type.space = space_of(cur(p)->kind);
    if (n->u.var.type.space != RK_AS_PRIVATE)
        advance(p);
    if (!parse_type(p, &n->u.var.type, 0))
        return NULL;
    n->u.var.type.is_ptr = (uint8_t)accept(p, RK_TOK_STAR);
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected a variable name, found %s", f);
        return NULL;
    }
    n->u.var.name = str_of(p, cur(p));
    n->op_pos = pos_of(cur(p));
    advance(p);
    if (accept(p, RK_TOK_LBRACKET)) {
        if (!(n->u.var.array_len = parse_expr(p)) || !expect(p, RK_TOK_RBRACKET, "after array length"))
            return NULL;
    }
    if (accept(p, RK_TOK_ASSIGN) && !(n->u.var.init = parse_expr(p)))
        return NULL;
    return fin(p, n);
}

/* simple = expr [ assign_op expr ] | expr ( "++" | "--" ); without an assignment it must be a call. */
static rk__node *parse_simple(parser *p)
{
    rk__node *e = parse_expr(p), *n;
    rk__tok_kind k;

    if (!e)
        return NULL;
    k = cur(p)->kind;
    if (is_assign_op(k) || k == RK_TOK_INC || k == RK_TOK_DEC) {
        if (!(n = new_node(p, is_assign_op(k) ? RK_AST_ASSIGN : RK_AST_INCDEC, e->pos)))
            return NULL;
        n->op_pos = pos_of(cur(p));
        n->u.assign.op = k;
        n->u.assign.lhs = e;
        advance(p);
        if (is_assign_op(k) && !(n->u.assign.rhs = parse_expr(p)))
            return NULL;
        return fin(p, n);
    }
    if (e->kind != RK_AST_CALL && e->kind != RK_AST_CTOR) {
        if (at(p, RK_TOK_SEMI) || at(p, RK_TOK_RPAREN))
            error_at(p, e->pos, "expression statement must be a call or an assignment");
        else
            expected(p, "';'", "after expression");
        return NULL;
    }
    if (!(n = new_node(p, RK_AST_CALL_STMT, e->pos)))
        return NULL;
    n->u.expr_s.expr = e;
    return fin(p, n);
}

/* A statement that needs only `"(" expr ")"`: the condition of if and while. */
static rk__node *parse_cond(parser *p, const char *what)
{
    rk__node *c;
    char ctx[32];

    snprintf(ctx, sizeof ctx, "after '%s'", what);
    if (!expect(p, RK_TOK_LPAREN, ctx) || !(c = parse_expr(p)) || !expect(p, RK_TOK_RPAREN, "after condition"))
        return NULL;
    return c;
}

static rk__node *parse_for(parser *p, rk__node *n)
{
    if (!expect(p, RK_TOK_LPAREN, "after 'for'"))
        return NULL;
    if (!at(p, RK_TOK_SEMI)) {
        n->u.for_s.init = decl_ahead(p) ? parse_var_decl(p) : parse_simple(p);
        if (!n->u.for_s.init)
            return NULL;
    }
    if (!expect(p, RK_TOK_SEMI, "after loop initializer"))
        return NULL;
    if (!at(p, RK_TOK_SEMI) && !(n->u.for_s.cond = parse_expr(p)))
        return NULL;
    if (!expect(p, RK_TOK_SEMI, "after loop condition"))
        return NULL;
    if (!at(p, RK_TOK_RPAREN) && !(n->u.for_s.step = parse_simple(p)))
        return NULL;
    if (!expect(p, RK_TOK_RPAREN, "after loop increment"))
        return NULL;
    n->u.for_s.body = parse_statement(p);
    return n->u.for_s.body ? n : NULL;
}

/* One statement without recovery: NULL after an error (P1). */
static rk__node *statement(parser *p)
{
    const rk__token *t = cur(p);
    rk__tok_kind k = t->kind;
    rk__node *n;

    switch (k) {
    case RK_TOK_LBRACE:
        return parse_block(p);
    case RK_TOK_SEMI:
        n = new_node(p, RK_AST_EMPTY, pos_of(t));
        advance(p);
        return fin(p, n);
    case RK_TOK_KW_IF:
        if (!(n = new_node(p, RK_AST_IF, pos_of(t))))
            return NULL;
        advance(p);
        if (!(n->u.if_s.cond = parse_cond(p, "if")) || !(n->u.if_s.then_s = parse_statement(p)))
            return NULL;
        if (accept(p, RK_TOK_KW_ELSE) && !(n->u.if_s.else_s = parse_statement(p)))
            return NULL;
        return fin(p, n);
    case RK_TOK_KW_WHILE:
        if (!(n = new_node(p, RK_AST_WHILE, pos_of(t))))
            return NULL;
        advance(p);
        if (!(n->u.while_s.cond = parse_cond(p, "while")) || !(n->u.while_s.body = parse_statement(p)))
            return NULL;
        return fin(p, n);
    case RK_TOK_KW_FOR:
        if (!(n = new_node(p, RK_AST_FOR, pos_of(t))))
            return NULL;
        advance(p);
        return fin(p, parse_for(p, n));
    case RK_TOK_KW_BREAK:
    case RK_TOK_KW_CONTINUE:
        if (!(n = new_node(p, k == RK_TOK_KW_BREAK ? RK_AST_BREAK : RK_AST_CONTINUE, pos_of(t))))
            return NULL;
        advance(p);
        return expect(p, RK_TOK_SEMI, k == RK_TOK_KW_BREAK ? "after 'break'" : "after 'continue'") ? fin(p, n)
                                                                                                   : NULL;
    case RK_TOK_KW_RETURN:
        if (!(n = new_node(p, RK_AST_RETURN, pos_of(t))))
            return NULL;
        advance(p);
        if (!at(p, RK_TOK_SEMI) && !(n->u.ret.value = parse_expr(p)))
            return NULL;
        return expect(p, RK_TOK_SEMI, "after return value") ? fin(p, n) : NULL;
    default:
        break;
    }
    if (k == RK_TOK_IDENT && kind_at(p, 1) == RK_TOK_IDENT && !lookup_type(p, t)) {
        /* `Foo x`: a declaration with a type nobody declared (an expression cannot look like this). */
        error_at(p, pos_of(t), "unknown type '%.*s'", t->length > 40 ? 40 : (int)t->length,
                 p->lx.src.text + t->offset);
        return NULL;
    }
    if (decl_ahead(p)) {
        n = parse_var_decl(p);
        return n && expect(p, RK_TOK_SEMI, "after declaration") ? n : NULL;
    }
    n = parse_simple(p);
    return n && expect(p, RK_TOK_SEMI, n->kind == RK_AST_CALL_STMT ? "after expression" : "after assignment")
               ? n
               : NULL;
}

/* Skips the rest of a bad statement (P2): to just past a ';' or a balanced '{…}' group at its level, or
 * to (not past) a '}' that closes an enclosing block. */
static void sync_stmt(parser *p)
{
    unsigned depth = 0;

    for (;;) {
        rk__tok_kind k = cur(p)->kind;

        if (k == RK_TOK_EOF)
            break;
        if (k == RK_TOK_RBRACE) {
            if (depth == 0)
                break;
            advance(p);
            if (--depth == 0)
                break;
            continue;
        }
        if (k == RK_TOK_LBRACE)
            depth++;
        advance(p);
        if (k == RK_TOK_SEMI && depth == 0)
            break;
    }
    p->panic = 0;
}

/* statement with recovery: after an error, an RK_AST_ERROR node covering the skipped text. */
static rk__node *parse_statement(parser *p)
{
    rk__pos where = pos_of(cur(p));
    rk__node *n = NULL;

    if (enter(p)) {
        n = statement(p);
        p->depth--;
    }
    if (n || p->status)
        return n;
    sync_stmt(p);
    return fin(p, new_node(p, RK_AST_ERROR, where));
}

/* block = "{" { statement } "}" */
static rk__node *parse_block(parser *p)
{
    rk__node *n = new_node(p, RK_AST_BLOCK, pos_of(cur(p)));
    list l;

    if (!n || !expect(p, RK_TOK_LBRACE, "to open a block"))
        return NULL;
    list_init(&l);
    while (!at(p, RK_TOK_RBRACE) && !at(p, RK_TOK_EOF)) {
        uint64_t before = p->consumed;

        list_add(&l, parse_statement(p));
        if (p->consumed == before && !at(p, RK_TOK_RBRACE)) /* P3 */
            advance(p);
    }
    n->u.block.stmts = l.head;
    n->u.block.count = l.count;
    if (!at(p, RK_TOK_RBRACE)) {
        error_at(p, pos_of(cur(p)), "expected '}' at end of block");
        return NULL;
    }
    advance(p);
    return fin(p, n);
}

/* ---- Declarations. ---- */

/* name = ident | keyword */
static int is_name(rk__tok_kind k)
{
    return k == RK_TOK_IDENT || (k >= RK_TOK_KW_BOOL && k <= RK_TOK_KW_FALSE);
}

/* attribute = "@" ident [ "(" attr_arg { "," attr_arg } ")" ]; attr_arg = name [ "=" ( int_lit | name ) ] */
static rk__node *parse_attribute(parser *p)
{
    rk__node *n = new_node(p, RK_AST_ATTR, pos_of(cur(p)));
    list l;
    char f[64];

    if (!n)
        return NULL;
    advance(p); /* '@' */
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected an attribute name after '@', found %s", f);
        return NULL;
    }
    n->u.attr.name = str_of(p, cur(p));
    advance(p);
    list_init(&l);
    if (accept(p, RK_TOK_LPAREN)) {
        n->u.attr.has_parens = 1;
        do {
            rk__node *a;

            if (!is_name(cur(p)->kind)) {
                found(p, f, sizeof f);
                error_at(p, pos_of(cur(p)), "expected an attribute argument, found %s", f);
                return NULL;
            }
            if (!(a = new_node(p, RK_AST_ATTR_ARG, pos_of(cur(p)))))
                return NULL;
            a->u.attr_arg.name = str_of(p, cur(p));
            advance(p);
            if (accept(p, RK_TOK_ASSIGN)) {
                a->op_pos = pos_of(&p->prev);
                if (at(p, RK_TOK_INT)) {
                    a->u.attr_arg.value_kind = RK_TOK_INT;
                    a->u.attr_arg.ival = cur(p)->ival;
                } else if (is_name(cur(p)->kind)) {
                    a->u.attr_arg.value_kind = RK_TOK_IDENT;
                } else {
                    found(p, f, sizeof f);
                    error_at(p, pos_of(cur(p)), "expected an integer or a name after '=' in attribute, found %s", f);
                    return NULL;
                }
                a->u.attr_arg.value = str_of(p, cur(p));
                advance(p);
            }
            list_add(&l, fin(p, a));
        } while (accept(p, RK_TOK_COMMA));
        if (!at(p, RK_TOK_RPAREN)) {
            expected(p, "',' or ')'", "in attribute arguments");
            return NULL;
        }
        advance(p);
    }
    n->u.attr.args = l.head;
    n->u.attr.count = l.count;
    return fin(p, n);
}

/* param = [ addr_space ] [ "const" ] type [ "*" ] ident */
static rk__node *parse_param(parser *p)
{
    rk__node *n = new_node(p, RK_AST_PARAM, pos_of(cur(p)));
    char f[64];

    if (!n)
        return NULL;
    n->u.var.type.space = space_of(cur(p)->kind);
    if (n->u.var.type.space != RK_AS_PRIVATE)
        advance(p);
    n->u.var.type.is_const = (uint8_t)accept(p, RK_TOK_KW_CONST);
    if (!parse_type(p, &n->u.var.type, 0))
        return NULL;
    n->u.var.type.is_ptr = (uint8_t)accept(p, RK_TOK_STAR);
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected a parameter name, found %s", f);
        return NULL;
    }
    n->u.var.name = str_of(p, cur(p));
    n->op_pos = pos_of(cur(p));
    advance(p);
    return fin(p, n);
}

/* function = { attribute } ( type | "void" ) ident "(" [ param { "," param } ] ")" block */
static rk__node *parse_function(parser *p)
{
    rk__node *n = new_node(p, RK_AST_FUNC, pos_of(cur(p)));
    list attrs, params;
    char f[64];

    if (!n)
        return NULL;
    list_init(&attrs);
    while (at(p, RK_TOK_AT)) {
        rk__node *a = parse_attribute(p);

        if (!a)
            return NULL;
        list_add(&attrs, a);
    }
    n->u.func.attrs = attrs.head;
    n->u.func.nattrs = attrs.count;
    if (!parse_type(p, &n->u.func.ret, 1))
        return NULL;
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected a function name, found %s", f);
        return NULL;
    }
    n->u.func.name = str_of(p, cur(p));
    n->op_pos = pos_of(cur(p));
    advance(p);
    if (!expect(p, RK_TOK_LPAREN, "after function name"))
        return NULL;
    list_init(&params);
    if (!at(p, RK_TOK_RPAREN)) {
        do {
            rk__node *q = parse_param(p);

            if (!q)
                return NULL;
            list_add(&params, q);
        } while (accept(p, RK_TOK_COMMA));
    }
    n->u.func.params = params.head;
    n->u.func.nparams = params.count;
    if (!at(p, RK_TOK_RPAREN)) {
        expected(p, "',' or ')'", "after parameter");
        return NULL;
    }
    advance(p);
    if (!(n->u.func.body = parse_block(p)))
        return NULL;
    return fin(p, n);
}

/* struct_decl = "struct" ident "{" { type ident [ "[" expr "]" ] ";" } "}" ";" */
static rk__node *parse_struct(parser *p)
{
    rk__node *n = new_node(p, RK_AST_STRUCT, pos_of(cur(p)));
    list l;
    char f[64];

    if (!n)
        return NULL;
    advance(p); /* 'struct' */
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected a struct name, found %s", f);
        return NULL;
    }
    n->u.struct_decl.name = str_of(p, cur(p));
    n->op_pos = pos_of(cur(p));
    advance(p);
    if (!expect(p, RK_TOK_LBRACE, "after struct name"))
        return NULL;
    list_init(&l);
    while (!at(p, RK_TOK_RBRACE) && !at(p, RK_TOK_EOF)) {
        rk__node *fl = new_node(p, RK_AST_FIELD, pos_of(cur(p)));

        if (!fl || !parse_type(p, &fl->u.var.type, 0))
            return NULL;
        if (!at(p, RK_TOK_IDENT)) {
            found(p, f, sizeof f);
            error_at(p, pos_of(cur(p)), "expected a field name, found %s", f);
            return NULL;
        }
        fl->u.var.name = str_of(p, cur(p));
        fl->op_pos = pos_of(cur(p));
        advance(p);
        if (accept(p, RK_TOK_LBRACKET) &&
            (!(fl->u.var.array_len = parse_expr(p)) || !expect(p, RK_TOK_RBRACKET, "after array length")))
            return NULL;
        if (!expect(p, RK_TOK_SEMI, "after field"))
            return NULL;
        list_add(&l, fin(p, fl));
    }
    n->u.struct_decl.fields = l.head;
    n->u.struct_decl.count = l.count;
    if (!expect(p, RK_TOK_RBRACE, "at end of struct") || !expect(p, RK_TOK_SEMI, "after struct"))
        return NULL;
    /* Known from here on: a type name is a struct declared earlier (DSL.md §4). */
    return add_type(p, n->u.struct_decl.name, n) ? fin(p, n) : NULL;
}

/* const_decl = "const" type ident "=" expr ";" */
static rk__node *parse_const(parser *p)
{
    rk__node *n = new_node(p, RK_AST_CONST, pos_of(cur(p)));
    char f[64];

    if (!n)
        return NULL;
    advance(p); /* 'const' */
    if (!parse_type(p, &n->u.var.type, 0))
        return NULL;
    if (!at(p, RK_TOK_IDENT)) {
        found(p, f, sizeof f);
        error_at(p, pos_of(cur(p)), "expected a constant name, found %s", f);
        return NULL;
    }
    n->u.var.name = str_of(p, cur(p));
    n->op_pos = pos_of(cur(p));
    advance(p);
    if (!expect(p, RK_TOK_ASSIGN, "after constant name") || !(n->u.var.init = parse_expr(p)) ||
        !expect(p, RK_TOK_SEMI, "after constant"))
        return NULL;
    return fin(p, n);
}

/* Skips the rest of a bad declaration (P2): past a ';' or a balanced '{…}' group (and a ';' after it) at
 * file level, or to (not past) an '@' or 'struct' there, which start the next declaration. A stray '}' at
 * file level is skipped like any other token. */
static void sync_decl(parser *p)
{
    unsigned depth = 0;

    for (;;) {
        rk__tok_kind k = cur(p)->kind;

        if (k == RK_TOK_EOF || (depth == 0 && (k == RK_TOK_AT || k == RK_TOK_KW_STRUCT)))
            break;
        advance(p);
        if (k == RK_TOK_SEMI && depth == 0)
            break;
        if (k == RK_TOK_LBRACE) {
            depth++;
        } else if (k == RK_TOK_RBRACE && depth > 0 && --depth == 0) {
            accept(p, RK_TOK_SEMI); /* the ';' that ends a struct */
            break;
        }
    }
    p->panic = 0;
}

static rk__node *declaration(parser *p)
{
    rk__tok_kind k = cur(p)->kind;
    char f[64];

    if (k == RK_TOK_KW_STRUCT)
        return parse_struct(p);
    if (k == RK_TOK_KW_CONST)
        return parse_const(p);
    if (k == RK_TOK_AT || k == RK_TOK_KW_VOID || k == RK_TOK_IDENT || starts_type(p, 0))
        return parse_function(p);
    found(p, f, sizeof f);
    error_at(p, pos_of(cur(p)), "expected a declaration, found %s", f);
    return NULL;
}

/* file = { struct_decl | const_decl | function } */
static rk__node *parse_file(parser *p)
{
    rk__node *n = new_node(p, RK_AST_FILE, pos_of(cur(p)));
    list l;

    if (!n)
        return NULL;
    list_init(&l);
    while (!at(p, RK_TOK_EOF)) {
        uint64_t before = p->consumed;
        rk__node *d = declaration(p);

        if (d) {
            list_add(&l, d);
            continue;
        }
        if (p->status)
            return NULL;
        sync_decl(p);
        if (p->consumed == before) /* P3 */
            advance(p);
    }
    n->u.file.decls = l.head;
    n->u.file.count = l.count;
    n->end = p->lx.src.len;
    return n;
}

/* The struct types every program can name without declaring them (DSL.md §5). */
static const char *const predeclared_types[] = { "envelope", "hlc_ts" };

int rk__parse(rk__ast *ast, const char *file, const char *src, size_t len, rk__diags *diags, size_t mem_limit)
{
    parser p;
    int rc;

    if (!ast || !diags)
        return rk__err(RK_EINVAL, "rk__parse: %s is NULL", !ast ? "ast" : "diags");
    memset(ast, 0, sizeof *ast);
    memset(&p, 0, sizeof p);
    rc = rk__lex_init(&p.lx, file, src, len, diags);
    if (rc < 0)
        return rc;
    rk__arena_init(&ast->arena, mem_limit ? mem_limit : RK__PARSE_DEFAULT_MEM_LIMIT);
    p.d = diags;
    p.arena = &ast->arena;
    for (size_t i = 0; i < sizeof predeclared_types / sizeof predeclared_types[0]; i++)
        add_type(&p, (rk__str){ predeclared_types[i], (uint32_t)strlen(predeclared_types[i]) }, NULL);
    ast->file = parse_file(&p);
    if (p.status) {
        rk__ast_free(ast);
        return rk__err(p.status, "rk__parse: the syntax tree of '%s' exceeds %zu bytes or memory ran out",
                       p.lx.src.name, ast->arena.limit);
    }
    ast->src = p.lx.src;
    return 0;
}

void rk__ast_free(rk__ast *ast)
{
    if (!ast)
        return;
    rk__arena_free(&ast->arena);
    ast->file = NULL;
}
