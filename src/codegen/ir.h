/* ir.h - the typed intermediate representation of the kernel language (docs/DSL.md §9); internal to
 * src/codegen/.
 *
 * The checker (checker.h) is the only producer: it resolves and types a parsed file and builds one
 * rk__ir_module. Every emitter lowers from this module and from nothing else, so there is exactly one
 * path source -> AST -> checker -> IR -> target.
 *
 * Shape:
 *   - Types (rk__ty) are small structs in the module's arena, compared structurally (rk__ty_equal).
 *   - Functions hold structured statements (rk__ir_stmt): var, assign, call-for-effect, if, loop with a
 *     continuing list, break, continue, return, block. There is no CFG: GLSL, WGSL and MSL need
 *     structured control flow, and a `for` maps to WGSL's `loop { ... continuing { step } }`.
 *   - Expressions (rk__ir_expr) all carry their resolved type. The IR has no implicit conversions: an
 *     untyped literal is a constant of its final type, and every other conversion is an RK_IR_CAST.
 *   - Assignments are plain stores. A compound assignment `a[f(i)] += v` is lowered to
 *     `var t = f(i); a[t] = a[t] + v`: index expressions of the target that are not a variable or a
 *     constant are bound to temporaries first, so the target's address is computed once and the same
 *     (side-effect-free) lvalue node is both loaded and stored. `x++` is `x = x + 1`.
 *   - Intrinsic calls name their intrinsics.def row by index; `at(p, dx, dy, dz)` of a stencil is an
 *     RK_IR_NEIGHBOR node holding the buffer parameter and the constant offsets.
 *   - Kernels carry their metadata: kind, workgroup size, radius, dims, per-parameter access, shared
 *     variables, and for ring handlers the message and state structs.
 *
 * rk__ir_dump() prints a module as deterministic text (the golden files under tests/codegen/golden/ and
 * `ringkernel codegen --emit-ir`).
 */
#ifndef RK_CODEGEN_IR_H
#define RK_CODEGEN_IR_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/ast.h"
#include "codegen/intrinsics.h"

/* ---- Types. ---- */

typedef enum rk__ty_kind {
    RK_TY_ERROR = 0, /* the type of an expression that did not check (never in a module without errors) */
    RK_TY_VOID,
    RK_TY_BOOL,
    RK_TY_I32,
    RK_TY_U32,
    RK_TY_I64,
    RK_TY_U64,
    RK_TY_F32,
    RK_TY_F64,
    RK_TY_VEC,    /* elem (a scalar), len 2..4 */
    RK_TY_ARRAY,  /* elem, len > 0 */
    RK_TY_STRUCT, /* st */
    RK_TY_PTR,    /* elem (the pointee), space, is_const */
    RK_TY_STR     /* a string literal (an intrinsic's topic name) */
} rk__ty_kind;

typedef struct rk__ir_struct rk__ir_struct;
typedef struct rk__ty rk__ty;

struct rk__ty {
    rk__ty_kind kind;
    const rk__ty *elem;
    uint32_t len;
    rk__addr_space space;
    uint8_t is_const;
    const rk__ir_struct *st;
};

typedef struct rk__ir_field {
    rk__str name;
    const rk__ty *type;
    uint32_t offset; /* bytes from the start of the struct, C layout */
} rk__ir_field;

struct rk__ir_struct {
    rk__str name;
    rk__ir_field *fields;
    uint32_t nfields;
    uint32_t size;
    uint32_t align;
    uint8_t predeclared; /* envelope, hlc_ts: the ABI's structs, not emitted */
    rk__ir_struct *next;
};

static inline int rk__ty_is_int(const rk__ty *t) { return t->kind >= RK_TY_I32 && t->kind <= RK_TY_U64; }
static inline int rk__ty_is_float(const rk__ty *t) { return t->kind == RK_TY_F32 || t->kind == RK_TY_F64; }
static inline int rk__ty_is_num(const rk__ty *t) { return t->kind >= RK_TY_I32 && t->kind <= RK_TY_F64; }
static inline int rk__ty_is_scalar(const rk__ty *t) { return t->kind >= RK_TY_BOOL && t->kind <= RK_TY_F64; }
static inline int rk__ty_is_signed(const rk__ty *t) { return t->kind == RK_TY_I32 || t->kind == RK_TY_I64; }

/** 1 if a and b are the same type (pointers: same pointee, space and constness). */
int rk__ty_equal(const rk__ty *a, const rk__ty *b);

/** Bits of an integer or float scalar (32 or 64); 8 for bool; 0 otherwise. */
unsigned rk__ty_bits(const rk__ty *t);

/** Writes the type as the language spells it ("vec3<f32>", "global const f32*", "u32[4]") into buf. */
void rk__ty_name(const rk__ty *t, char *buf, size_t cap);

/** Maps a scalar kind to the rk__base_type of ast.h and intrinsics.h (RK_BT_NONE for the others). */
rk__base_type rk__ty_base(rk__ty_kind k);

/* ---- Variables. ---- */

typedef enum rk__var_kind {
    RK_VAR_PARAM = 0,
    RK_VAR_LOCAL,
    RK_VAR_SHARED, /* a kernel's `shared` local: one per workgroup */
    RK_VAR_CONST,  /* a file-level `const`: value in the init expression, a constant */
    RK_VAR_TEMP    /* a temporary made by the lowering (compound assignment) */
} rk__var_kind;

/* How a kernel's pointer parameter is used (bit set), so emitters declare bindings read-only when they can. */
enum { RK_ACC_READ = 1u << 0, RK_ACC_WRITE = 1u << 1, RK_ACC_ATOMIC = 1u << 2 };

typedef struct rk__ir_expr rk__ir_expr;
typedef struct rk__ir_stmt rk__ir_stmt;

typedef struct rk__ir_var {
    rk__var_kind kind;
    rk__str name;          /* as written; temporaries are named "tmp" */
    uint32_t id;           /* unique within its function (file-level constants: within the module) */
    const rk__ty *type;
    uint8_t is_const;      /* a `const` local or a file-level constant: never assigned */
    uint8_t access;        /* RK_ACC_* for pointer parameters */
    const rk__ir_expr *init; /* RK_VAR_CONST: the value */
} rk__ir_var;

/* ---- Expressions. ---- */

typedef enum rk__ir_op {
    RK_OP_NONE = 0,
    /* unary */
    RK_OP_NEG, RK_OP_NOT, RK_OP_BITNOT,
    /* binary */
    RK_OP_ADD, RK_OP_SUB, RK_OP_MUL, RK_OP_DIV, RK_OP_REM,
    RK_OP_SHL, RK_OP_SHR, RK_OP_AND, RK_OP_OR, RK_OP_XOR,
    RK_OP_LT, RK_OP_LE, RK_OP_GT, RK_OP_GE, RK_OP_EQ, RK_OP_NE,
    RK_OP_LAND, RK_OP_LOR,
    RK_OP_PTR_ADD, RK_OP_PTR_SUB /* pointer +/- integer */
} rk__ir_op;

typedef enum rk__ir_expr_kind {
    RK_IR_CONST_INT,   /* u.i: the value's bits (two's complement for signed types) */
    RK_IR_CONST_FLOAT, /* u.f */
    RK_IR_CONST_BOOL,  /* u.i: 0 or 1 */
    RK_IR_STRING,      /* u.str: the literal as written, quotes included */
    RK_IR_VAR,         /* u.var: a parameter, local, shared variable, constant or temporary */
    RK_IR_UNARY,       /* u.op: op, a */
    RK_IR_BINARY,      /* u.op: op, a, b (componentwise on vectors; a scalar beside a vector is a CTOR splat) */
    RK_IR_SELECT,      /* u.sel: c ? a : b, only the chosen side evaluated */
    RK_IR_CAST,        /* u.op.a converted to the node's type (every conversion is one of these) */
    RK_IR_CALL,        /* u.call: a helper function */
    RK_IR_INTRIN,      /* u.intr: a row of intrinsics.def */
    RK_IR_CTOR,        /* u.call.args: a vector from its components, or one scalar splat (nargs 1) */
    RK_IR_FIELD,       /* u.field: base.field (base a struct value or lvalue) */
    RK_IR_SWIZZLE,     /* u.swz: base.xyzw */
    RK_IR_INDEX,       /* u.op: a[b], a an array lvalue or a pointer */
    RK_IR_DEREF,       /* u.op.a: *p, p a pointer; `p->f` is FIELD of DEREF */
    RK_IR_ADDR,        /* u.op.a: &lvalue, only as a call argument */
    RK_IR_NEIGHBOR     /* u.nb: a stencil's at(p, dx, dy, dz) */
} rk__ir_expr_kind;

struct rk__ir_expr {
    rk__ir_expr_kind kind;
    const rk__ty *type;
    rk__pos pos; /* the source it came from, for the emitters' diagnostics */
    union {
        uint64_t i;
        double f;
        rk__str str;
        const rk__ir_var *var;
        struct { rk__ir_op op; rk__ir_expr *a, *b; } op;
        struct { rk__ir_expr *c, *a, *b; } sel;
        struct { const struct rk__ir_func *fn; rk__ir_expr **args; uint32_t nargs; } call;
        struct {
            uint32_t row;              /* rk__intr_at(row) */
            const rk__ty *tvar;        /* the type bound to T or S; NULL when the row has none */
            rk__ir_expr **args;
            uint32_t nargs;
        } intr;
        struct { rk__ir_expr *base; uint32_t index; } field; /* index into base's struct fields */
        struct { rk__ir_expr *base; uint8_t comp[4]; uint8_t n; } swz; /* comp: 0..3 for x y z w */
        struct { const rk__ir_var *buf; int32_t off[3]; } nb;       /* off[2] is 0 in 2D */
    } u;
};

/* ---- Statements. ---- */

typedef enum rk__ir_stmt_kind {
    RK_IR_S_VAR,      /* u.var: declares var, with init or NULL */
    RK_IR_S_ASSIGN,   /* u.assign: lhs (an lvalue) = rhs */
    RK_IR_S_EXPR,     /* u.expr: a call evaluated for its effect */
    RK_IR_S_IF,       /* u.if_s: else_s may be NULL */
    RK_IR_S_LOOP,     /* u.loop: while (cond) { body; continuing } with cond NULL = forever */
    RK_IR_S_BREAK,
    RK_IR_S_CONTINUE, /* jumps to the continuing list */
    RK_IR_S_RETURN,   /* u.expr: the value or NULL */
    RK_IR_S_BLOCK     /* u.block: a nested scope */
} rk__ir_stmt_kind;

typedef struct rk__ir_block {
    rk__ir_stmt *head;
    rk__ir_stmt *tail;
    uint32_t count;
} rk__ir_block;

struct rk__ir_stmt {
    rk__ir_stmt_kind kind;
    rk__pos pos;
    rk__ir_stmt *next;
    union {
        struct { rk__ir_var *var; rk__ir_expr *init; } var;
        struct { rk__ir_expr *lhs, *rhs; } assign;
        rk__ir_expr *expr;
        struct { rk__ir_expr *cond; rk__ir_block then_s, else_s; uint8_t has_else; } if_s;
        struct { rk__ir_expr *cond; rk__ir_block body, continuing; } loop;
        rk__ir_block block;
    } u;
};

/* ---- Functions and kernels. ---- */

typedef enum rk__kernel_kind {
    RK_KK_NONE = 0, /* a helper function */
    RK_KK_GLOBAL,
    RK_KK_STENCIL,
    RK_KK_RING,
    RK_KK_PSTENCIL
} rk__kernel_kind;

typedef struct rk__ir_func {
    rk__str name;
    rk__pos pos;
    const rk__ty *ret;
    rk__ir_var **params;
    uint32_t nparams;
    rk__ir_block body;
    uint32_t nvars;            /* ids 0..nvars-1 are used */
    /* Kernels only (kind != RK_KK_NONE). */
    rk__kernel_kind kind;
    uint32_t workgroup[3];
    uint32_t radius;           /* stencils */
    uint32_t dims;             /* stencils: 2 or 3 */
    uint8_t tile;              /* stencils: `tile = true`, stage read-only neighbours in shared memory (CUDA) */
    rk__ir_var **shared;       /* the shared variables, in declaration order */
    uint32_t nshared;
    const rk__ir_struct *msg;  /* ring: the message struct T */
    const rk__ir_struct *state; /* ring: the state struct S */
    struct rk__ir_func *next;
} rk__ir_func;

typedef struct rk__ir_module {
    rk__arena arena;
    rk__ir_struct *structs; /* user structs in declaration order (the predeclared ones are not listed) */
    rk__ir_var **consts;    /* file-level constants in declaration order */
    uint32_t nconsts;
    rk__ir_func *funcs;     /* helpers and kernels in declaration order */
} rk__ir_module;

/** Frees the module's memory (safe on a zeroed or already freed module). */
void rk__ir_free(rk__ir_module *m);

/** The name of a kernel kind as written in @kernel ("global", ...); "function" for RK_KK_NONE. */
const char *rk__kernel_kind_name(rk__kernel_kind k);

/**
 * Writes the module as text into buf[cap] (NUL-terminated when cap > 0, truncated like snprintf) and
 * returns the length of the whole dump, so a return >= cap means buf was too small. The text depends only
 * on the module: the same source always dumps the same bytes.
 */
size_t rk__ir_dump(const rk__ir_module *m, char *buf, size_t cap);

#endif /* RK_CODEGEN_IR_H */
