/* ast.h - the syntax tree of the kernel language (docs/DSL.md §4); internal to src/codegen/.
 *
 * The parser (parser.h) builds one rk__node per construct in an arena: a list of large blocks freed at
 * once by rk__arena_free(), bounded by a byte limit so a hostile input fails with RK_ELIMIT instead of
 * exhausting memory. Names are not copied: an rk__str points into the source text, which must outlive the
 * tree. Every node records where it starts (rk__pos: offset, line, col), where its operator is (op_pos:
 * the '+' of a binary, the '=' of an assignment, the '[' of an index, the '(' of a call; equal to pos for
 * the others) and the offset one past its last byte (end), so later phases point diagnostics at the text.
 *
 * Lists (declarations, fields, params, attributes, statements, arguments) are singly linked through
 * rk__node.next, in source order, with their length kept beside the head.
 *
 * After syntax errors (rk__diags.errors > 0) the tree holds what parsed; a statement that did not parse
 * is an RK_AST_ERROR node, and a declaration that did not parse is left out. Later phases must not run on
 * such a tree.
 */
#ifndef RK_CODEGEN_AST_H
#define RK_CODEGEN_AST_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/diag.h"
#include "codegen/lexer.h"

/* ---- The arena. ---- */

typedef struct rk__arena_block rk__arena_block;

typedef struct rk__arena {
    rk__arena_block *head; /* newest block first */
    size_t total;          /* bytes of all blocks, headers included */
    size_t limit;          /* total never exceeds it */
} rk__arena;

/** Starts an empty arena that will hold at most `limit` bytes (blocks and their headers). */
void rk__arena_init(rk__arena *a, size_t limit);

/**
 * Returns n zeroed bytes aligned for any node, valid until rk__arena_free(), and 0 in *err; on failure
 * returns NULL with RK_ELIMIT (the limit would be exceeded) or RK_ENOMEM (malloc failed) in *err, and the
 * arena is unchanged.
 */
void *rk__arena_alloc(rk__arena *a, size_t n, int *err);

/** Frees every block; the arena is empty again (same limit). */
void rk__arena_free(rk__arena *a);

/* ---- Types as written. ---- */

/** A span of the source text (not NUL-terminated). */
typedef struct rk__str {
    const char *ptr;
    uint32_t len;
} rk__str;

typedef enum rk__base_type {
    RK_BT_NONE = 0,
    RK_BT_VOID, /* only as a function's return type */
    RK_BT_BOOL,
    RK_BT_I32,
    RK_BT_U32,
    RK_BT_I64,
    RK_BT_U64,
    RK_BT_F32,
    RK_BT_F64,
    RK_BT_VEC,   /* vecN<elem> */
    RK_BT_STRUCT /* a struct declared earlier, or a predeclared one (envelope, hlc_ts) */
} rk__base_type;

typedef enum rk__addr_space {
    RK_AS_PRIVATE = 0, /* none written */
    RK_AS_GLOBAL,
    RK_AS_SHARED,
    RK_AS_CONSTANT
} rk__addr_space;

typedef struct rk__node rk__node;

/** A type with the qualifiers around it: `global const f32 *` is {F32, space GLOBAL, is_const, is_ptr}. */
typedef struct rk__type {
    rk__pos pos;            /* first byte of the type name (after the qualifiers) */
    rk__base_type base;
    rk__base_type elem;     /* VEC: the scalar element */
    uint8_t vec_len;        /* VEC: 2, 3 or 4 */
    uint8_t is_const;       /* a parameter's `const` (the pointee is read-only) */
    uint8_t is_ptr;         /* followed by `*` */
    rk__addr_space space;   /* the address space written before it */
    rk__str name;           /* STRUCT: its name */
    const rk__node *decl;   /* STRUCT: its declaration; NULL for the predeclared ones */
} rk__type;

/* ---- Nodes. ---- */

typedef enum rk__node_kind {
    /* Declarations. */
    RK_AST_FILE,      /* u.file */
    RK_AST_STRUCT,    /* u.struct_decl; fields are RK_AST_FIELD */
    RK_AST_FIELD,     /* u.var: type, name, array_len */
    RK_AST_CONST,     /* u.var: type, name, init (a file-level compile-time constant) */
    RK_AST_FUNC,      /* u.func; attrs are RK_AST_ATTR, params RK_AST_PARAM */
    RK_AST_ATTR,      /* u.attr; args are RK_AST_ATTR_ARG */
    RK_AST_ATTR_ARG,  /* u.attr_arg */
    RK_AST_PARAM,     /* u.var: type, name */
    /* Statements. */
    RK_AST_BLOCK,     /* u.block */
    RK_AST_VAR,       /* u.var: storage, type, name, array_len, init */
    RK_AST_IF,        /* u.if_s */
    RK_AST_FOR,       /* u.for_s */
    RK_AST_WHILE,     /* u.while_s */
    RK_AST_BREAK,
    RK_AST_CONTINUE,
    RK_AST_RETURN,    /* u.ret */
    RK_AST_EMPTY,     /* ";" */
    RK_AST_ASSIGN,    /* u.assign: op is '=' or a compound assignment; rhs set */
    RK_AST_INCDEC,    /* u.assign: op is '++' or '--'; rhs NULL */
    RK_AST_CALL_STMT, /* u.expr_s: a call (or vector constructor) evaluated for its effect */
    RK_AST_ERROR,     /* a statement that did not parse (its diagnostic was reported) */
    /* Expressions. */
    RK_AST_INT,       /* u.int_lit */
    RK_AST_FLOAT,     /* u.float_lit */
    RK_AST_BOOL,      /* u.bool_lit */
    RK_AST_STRING,    /* u.string_lit: only as a call argument */
    RK_AST_IDENT,     /* u.ident */
    RK_AST_UNARY,     /* u.unary: op is '-' '+' '!' '~' '*' '&' */
    RK_AST_BINARY,    /* u.binary */
    RK_AST_COND,      /* u.cond: c ? a : b */
    RK_AST_CAST,      /* u.cast: (type) operand; type.is_ptr for (T *) */
    RK_AST_CALL,      /* u.call: callee(args) */
    RK_AST_CTOR,      /* u.call: vecN<T>(args); callee NULL, ctor the vector type */
    RK_AST_MEMBER,    /* u.member: op '.' or '->' */
    RK_AST_INDEX      /* u.index */
} rk__node_kind;

/** Storage of a local variable: `shared u32 part[256];`, `const u32 n = 4;`. */
typedef enum rk__storage {
    RK_ST_NONE = 0,
    RK_ST_SHARED,
    RK_ST_CONST
} rk__storage;

struct rk__node {
    rk__node_kind kind;
    rk__pos pos;      /* first byte of the construct */
    rk__pos op_pos;   /* its operator (see the top of this file); pos where there is none */
    uint32_t end;     /* offset one past its last byte */
    rk__node *next;   /* the next node of the list this node is in */
    union {
        struct { rk__node *decls; uint32_t count; } file;
        struct { rk__str name; rk__node *fields; uint32_t count; } struct_decl;
        struct {
            rk__storage storage;   /* VAR only */
            rk__type type;
            rk__str name;
            rk__node *array_len;   /* `[ expr ]` or NULL (FIELD, VAR) */
            rk__node *init;        /* `= expr` or NULL (CONST, VAR) */
        } var;
        struct {
            rk__node *attrs;
            uint32_t nattrs;
            rk__type ret;          /* base RK_BT_VOID for void */
            rk__str name;
            rk__node *params;
            uint32_t nparams;
            rk__node *body;        /* RK_AST_BLOCK */
        } func;
        struct { rk__str name; rk__node *args; uint32_t count; uint8_t has_parens; } attr;
        struct {
            rk__str name;          /* an identifier or a keyword: `global` in @kernel(global) */
            rk__tok_kind value_kind; /* RK_TOK_EOF: no `= value`; RK_TOK_INT: ival; else a name in value */
            uint64_t ival;
            rk__str value;
        } attr_arg;
        struct { rk__node *stmts; uint32_t count; } block;
        struct { rk__node *cond, *then_s, *else_s; } if_s;       /* else_s may be NULL */
        struct { rk__node *init, *cond, *step, *body; } for_s;   /* init, cond, step may be NULL */
        struct { rk__node *cond, *body; } while_s;
        struct { rk__node *value; } ret;                         /* NULL for `return;` */
        struct { rk__tok_kind op; rk__node *lhs, *rhs; } assign;
        struct { rk__node *expr; } expr_s;
        struct { uint64_t value; rk__lit_suffix suffix; uint8_t hex; } int_lit;
        struct { double value; rk__lit_suffix suffix; } float_lit;
        struct { uint8_t value; } bool_lit;
        struct { rk__str text; } string_lit;                     /* as written, quotes included */
        struct { rk__str name; } ident;
        struct { rk__tok_kind op; rk__node *operand; } unary;
        struct { rk__tok_kind op; rk__node *lhs, *rhs; } binary;
        struct { rk__node *c, *a, *b; } cond;
        struct { rk__type type; rk__node *operand; } cast;
        struct { rk__node *callee; rk__type ctor; rk__node *args; uint32_t count; } call;
        struct { rk__tok_kind op; rk__node *base; rk__str field; } member;
        struct { rk__node *base, *index; } index;
    } u;
};

#endif /* RK_CODEGEN_AST_H */
