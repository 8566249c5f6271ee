/* emit.h - the code generators of the kernel language (docs/DSL.md "Code generation"); internal to
 * src/codegen/.
 *
 * An emitter lowers a checked module (ir.h) to the source text of one target. The walk over statements
 * and expressions is shared (emit.c); a target supplies its type names, its kernel entry points and its
 * prelude (emit_c.c, emit_cuda.c). Intrinsics are never spelled here: every call is the target's template
 * from intrinsics.def expanded with rk__intr_expand(), and each rk_* name an expansion uses must be one
 * the target's prelude defines (only the pieces used are written) or one the entry point declares;
 * anything else is a diagnostic at the call, not broken output.
 *
 * Output is deterministic: the same module always gives the same bytes.
 */
#ifndef RK_CODEGEN_EMIT_H
#define RK_CODEGEN_EMIT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "codegen/diag.h"
#include "codegen/ir.h"

/** A growing text buffer. After an allocation failure `oom` is set and further writes are dropped. */
typedef struct rk__out {
    char *buf;
    size_t len;
    size_t cap;
    int oom;
} rk__out;

void rk__out_put(rk__out *o, const char *s, size_t n);
void rk__out_puts(rk__out *o, const char *s);
void rk__out_printf(rk__out *o, const char *fmt, ...) RK__PRINTF(2, 3);
void rk__out_free(rk__out *o);

/** 1 if target t has an emitter in this version (cuda, c). */
int rk__emit_supported(rk__target t);

/**
 * Lowers module m (checked without errors for target t) to the text of target t. `src` is the source the
 * module came from (for diagnostics). On success returns 0 and sets *text (malloc'd, NUL-terminated; free
 * it) and *len. Returns RK_ENOTSUP when t has no emitter (nothing reported); RK_EINVAL when a construct
 * cannot be lowered to t by this version (each one reported to `diags`, *text NULL); RK_ENOMEM.
 */
int rk__emit(const rk__ir_module *m, rk__target t, const rk__source *src, rk__diags *diags, char **text,
             size_t *len);

/* ---- Between emit.c and the targets (emit_c.c, emit_cuda.c). ---- */

/** A prelude piece: the definition of the rk_* name `name`, written when the generated code uses it. */
typedef struct rk__emit_piece {
    const char *name;
    const char *code;
} rk__emit_piece;

typedef struct rk__emitter {
    rk__target tgt;
    const rk__ir_module *m;
    const rk__source *src;
    rk__diags *d;
    uint32_t errors;              /* diagnostics this emitter reported */
    rk__out *o;                   /* where statements go */
    int indent;
    const rk__ir_func *fn;        /* the function being written */
    const char *shared_prefix;    /* how a shared variable is reached ("rk_sh->" in C, "" in CUDA) */
    const rk__emit_piece *pieces; /* the target's prelude table */
    size_t npieces;
    const char *const *provided;  /* rk_* names the entry points declare (NULL-terminated) */
    unsigned loop_labels[64];     /* continue labels of the enclosing loops (0: plain `continue`) */
    unsigned nloops;
    unsigned next_label;
} rk__emitter;

/** Reports an error at `at` and counts it. */
void rk__emit_error(rk__emitter *e, rk__pos at, const char *fmt, ...) RK__PRINTF(3, 4);

/** Writes the target's name of type t (a declarator without a name: "const float *", "Ping"). */
void rk__emit_type(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at);

/** Writes the declaration of variable v ("uint32_t part[256]"). */
void rk__emit_decl(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at);

/** Writes the name of variable v as the generated code spells it. */
void rk__emit_var_name(rk__emitter *e, rk__out *o, const rk__ir_var *v);

/** Writes the user structs as typedefs with their layout asserted. */
void rk__emit_structs(rk__emitter *e, const char *static_assert_kw);

/** Writes the file-level constants. */
void rk__emit_consts(rk__emitter *e, const char *qual);

/** Writes the statements of a block at e->indent + 1, wrapped in braces at e->indent. */
void rk__emit_block(rk__emitter *e, const rk__ir_block *b);

/** Writes the statements of a block at e->indent, without braces. */
void rk__emit_stmts(rk__emitter *e, const rk__ir_block *b);

/** Writes one line at the current indentation (the text has no newline). */
void rk__emit_line(rk__emitter *e, const char *fmt, ...) RK__PRINTF(2, 3);

/** Writes helper function f as `qual ret name(params) { body }`. */
void rk__emit_helper(rk__emitter *e, const rk__ir_func *f, const char *qual);

/**
 * Writes ring handler f as `ret name(ctx_type *rk_ctx, const rk_envelope *rk_env, const void *rk_payload)`:
 * the envelope, message and state parameters bound from the runtime's arguments (state_fn(rk_ctx) gives
 * the state), a short message or state refused with RK_EINVAL, then the body. `what` ends the comment.
 */
void rk__emit_ring(rk__emitter *e, const rk__ir_func *f, const char *ret, const char *ctx_type,
                   const char *state_fn, const char *state_size_fn, const char *what);

/** 1 if function f (or a helper it calls) uses an intrinsic whose target spelling contains `needle`. */
int rk__emit_uses(const rk__emitter *e, const rk__ir_func *f, const char *needle);

/**
 * Appends to `out` the prelude pieces whose names occur in `body` (and those the chosen pieces use
 * themselves), in table order.
 */
void rk__emit_prelude(const rk__emitter *e, const char *body, rk__out *out);

/* The targets: write the whole file for e->m into out (e->o may be redirected while they work). */
void rk__emit_c_module(rk__emitter *e, rk__out *out);
void rk__emit_cuda_module(rk__emitter *e, rk__out *out);

#endif /* RK_CODEGEN_EMIT_H */
