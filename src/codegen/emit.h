/* emit.h - the code generators of the kernel language (docs/DSL.md "Code generation"); internal to
 * src/codegen/.
 *
 * An emitter lowers a checked module (ir.h) to the source text of one target. The walk over statements
 * and expressions and the dispatch over kernel kinds are shared (emit.c); a target is one rk__emit_lang
 * (its spellings, flags, hooks, entry-point writers and prelude) and a module writer: emit_c.c,
 * emit_cuda.c, emit_glsl.c, emit_wgsl.c, emit_msl.c. Intrinsics are never spelled here: every call is the target's template
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

/** 1 if target t has an emitter in this version (cuda, c, glsl, wgsl, msl). */
int rk__emit_supported(rk__target t);

/** The file extension of target t's output, without the dot: "cu", "c", "comp", "wgsl", "metal". */
const char *rk__emit_file_ext(rk__target t);

/**
 * Lowers module m (checked without errors for target t) to the text of target t. `src` is the source the
 * module came from (for diagnostics). On success returns 0 and sets *text (malloc'd, NUL-terminated; free
 * it) and *len. Returns RK_ENOTSUP when t has no emitter (nothing reported); RK_EINVAL when a construct
 * cannot be lowered to t by this version (each one reported to `diags`, *text NULL); RK_ENOMEM.
 */
int rk__emit(const rk__ir_module *m, rk__target t, const rk__source *src, rk__diags *diags, char **text,
             size_t *len);

/* ---- Between emit.c and the targets (emit_c.c, emit_cuda.c, emit_glsl.c, emit_wgsl.c, emit_msl.c). ---- */

/** A prelude piece: the definition of the rk_* name `name`, written when the generated code uses it. */
typedef struct rk__emit_piece {
    const char *name;
    const char *code;
} rk__emit_piece;

typedef struct rk__emitter rk__emitter;

/* How a target spells what the shared walk writes (RK_EL_* flags). */
enum {
    RK_EL_NATIVE_VEC = 1u << 0, /* operators, intrinsics and swizzles apply to vectors as written */
    RK_EL_CALL_CAST = 1u << 1,  /* a conversion is T(x), not (T)x */
    RK_EL_BUFFERS = 1u << 2,    /* global/constant/shared pointers are arrays (GLSL, WGSL): *p is p[0], no
                                   pointer arithmetic, no pointer variables; private ones are out-parameters */
    RK_EL_WGSL = 1u << 3,       /* select(), `loop { ... continuing { ... } }`, `_ = call` */
    RK_EL_NO_GOTO = 1u << 4,    /* no goto: a continuing list with control flow cannot be lowered */
    RK_EL_ATOMIC_TYPES = 1u << 5 /* atomics need atomic-typed memory (WGSL, MSL): a buffer used atomically
                                    may not be read or written otherwise */
};

/**
 * One target's spelling of the shared walk (the per-target hooks). Tables are indexed by rk__ty_kind;
 * a NULL hook means the C form.
 */
typedef struct rk__emit_lang {
    unsigned flags;
    const char *scalar[RK_TY_F64 + 1];   /* type names; NULL: the target has no such type */
    const char *int_sfx[4];              /* literal suffixes of i32, u32, i64, u64 */
    const char *int_min[2];              /* INT32_MIN and INT64_MIN, which are not literals */
    const char *float_sfx[2];            /* f32, f64 */
    const char *nonfinite[2][2];         /* [f64?][inf?]: a NaN and +infinity */
    const char *space_kw[4];             /* pointer declarators per address space (MSL "device ") */
    const char *shared_kw;               /* a shared variable declared in the body; NULL: hoisted by the target */
    const char *zero_agg;                /* the initializer of an aggregate local without one ("{ 0 }") */
    const char *ctor[3];                 /* a vector constructor: ctor[0] vecname ctor[1] args ctor[2] */
    const char *const *reserved;         /* the target's own reserved words (NULL-terminated), renamed with '_' */
    const char *const *entry_names;      /* rk_* names only a kernel's entry point declares (helpers may not use
                                            them); NULL-terminated */
    void (*vec_name)(rk__out *o, rk__ty_kind elem, unsigned n);
    const rk__emit_piece *pieces;        /* the prelude table */
    size_t npieces;
    const char *const *provided;         /* rk_* names the entry points declare (NULL-terminated) */
    const char *shared_prefix;           /* how a shared variable is reached ("rk_sh->" in C, "" elsewhere) */
    /* Optional overrides: a declaration (parameters, fields, locals) and a variable statement. */
    void (*decl)(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at);
    void (*var_stmt)(rk__emitter *e, const rk__ir_stmt *s);
    /* A stencil's at(p, dx, dy, dz) (RK_IR_NEIGHBOR) written another way than the `at` row's spelling
     * (CUDA's shared-memory tiles): returns 1 when it wrote x, 0 to use the spelling. */
    int (*neighbor)(rk__emitter *e, rk__out *o, const rk__ir_expr *x);
    /* The entry points, per kernel kind; [RK_KK_NONE] writes a helper. NULL: that kind is not lowered. */
    void (*func[RK_KK_PSTENCIL + 1])(rk__emitter *e, const rk__ir_func *f);
} rk__emit_lang;

struct rk__emitter {
    rk__target tgt;
    const rk__emit_lang *L;
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
    rk__str reqs[16];             /* requirements the output has used (GLSL extensions, WGSL `enable`s), in
                                     the order of first use; they point into the intrinsic table or literals */
    unsigned nreqs;
    int in_atomic;                /* writing the memory argument of an atomic */
    const void *target_data;      /* the target's state while it writes one function (CUDA: its tiles) */
};

/** Reports an error at `at` and counts it. */
void rk__emit_error(rk__emitter *e, rk__pos at, const char *fmt, ...) RK__PRINTF(3, 4);

/** Writes the target's name of type t (a declarator without a name: "const float *", "Ping"). */
void rk__emit_type(rk__emitter *e, rk__out *o, const rk__ty *t, rk__pos at);

/** Writes the declaration of variable v ("uint32_t part[256]"). */
void rk__emit_decl(rk__emitter *e, rk__out *o, const rk__ir_var *v, rk__pos at);

/** Notes that the output needs the len bytes at req (an extension, an `enable`, a language version), which
 *  must outlive the emitter; each is kept once (at most 16). */
void rk__emit_require(rk__emitter *e, const char *req, size_t len);

/** Writes an identifier, renamed when it is a reserved word of C or of the target. */
void rk__emit_ident(rk__emitter *e, rk__out *o, rk__str s);

/** Writes an expression (x) at the lowest precedence. */
void rk__emit_expr(rk__emitter *e, rk__out *o, const rk__ir_expr *x);

/**
 * Writes every function of the module through e->L->func[kind]: the one dispatch over helpers and kernel
 * kinds that all targets share. A kind the target has no hook for is reported at the function.
 */
void rk__emit_funcs(rk__emitter *e);

/** Writes the name of variable v as the generated code spells it. */
void rk__emit_var_name(rk__emitter *e, rk__out *o, const rk__ir_var *v);

/**
 * Writes the user structs: with a static_assert_kw, C typedefs with their size asserted (C, CUDA, MSL);
 * with NULL, struct declarations of GLSL or WGSL (e->L) with offsets in comments.
 */
void rk__emit_structs(rk__emitter *e, const char *static_assert_kw);

/** Writes the file-level constants. */
void rk__emit_consts(rk__emitter *e, const char *qual);

/** Writes the statements of a block at e->indent + 1, wrapped in braces at e->indent. */
void rk__emit_block(rk__emitter *e, const rk__ir_block *b);

/** Writes the statements of a block at e->indent, without braces. */
void rk__emit_stmts(rk__emitter *e, const rk__ir_block *b);

/** Writes one line at the current indentation (the text has no newline). */
void rk__emit_line(rk__emitter *e, const char *fmt, ...) RK__PRINTF(2, 3);

/** Reports helper f when it uses an intrinsic whose spelling needs the kernel's context (e->L->entry_names). */
void rk__emit_helper_check(rk__emitter *e, const rk__ir_func *f);

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

/* ---- The shader targets' entry points (emit_glsl.c, emit_wgsl.c, emit_msl.c). ---- */

/** Starts a module for language L: the emitter's tables from L, statements into body. */
void rk__emit_begin(rk__emitter *e, const rk__emit_lang *L, rk__out *body);

/** Appends to o the text of each {name, text} pair of opt (ended by {NULL}) whose name f uses. */
void rk__emit_builtin_args(const rk__emitter *e, const rk__ir_func *f, const char *const (*opt)[2], rk__out *o);

/** Writes the target's prelude for `body`, then body itself, into out, and frees body. */
void rk__emit_finish(rk__emitter *e, rk__out *body, rk__out *out);

/** Writes the comment over kernel f's entry point; c starts it ("// ", or a C comment's opener). */
void rk__emit_kernel_comment(rk__emitter *e, const rk__ir_func *f, const char *c);

/**
 * Writes a stencil's early return for the points outside the interior (rk_grid_pos, rk_grid_size declared
 * before it); with set_index, then sets the module-scope rk_c, rk_sy and rk_sz (GLSL, WGSL).
 */
void rk__emit_stencil_guard(rk__emitter *e, const rk__ir_func *f, int set_index);

/** Writes `kw<decl> = <from><name>;` for each value (non-pointer) parameter of f. */
void rk__emit_param_copies(rk__emitter *e, const rk__ir_func *f, const char *kw, const char *from);

/**
 * The push-constant (GLSL) / uniform (WGSL) layout of kernel f's value parameters: off[i] (i < nparams) is
 * parameter i's std430 offset, UINT32_MAX for a pointer (a buffer binding); off[nparams] is a stencil's
 * rk_grid_size (uvec3), UINT32_MAX for a global kernel. off holds nparams + 1 entries. Returns the block's
 * size in bytes. The one place the layout is computed: rk__emit_params_block writes it into the shader and
 * the Vulkan backend fills its push constants from it (vulkan_compute.c).
 */
uint32_t rk__emit_push_layout(const rk__ir_func *f, uint32_t *off);

/**
 * Appends to `members` the block of f's value parameters at std430 offsets (a stencil's rk_grid_size
 * last), one line each: GLSL `layout(offset = N) T name;`, WGSL `name: T, // offset N`; and to `doc`
 * "name at N, ...". Returns the block's size in bytes. Structs whose layout differs are reported.
 */
uint32_t rk__emit_params_block(rk__emitter *e, const rk__ir_func *f, rk__out *members, rk__out *doc);

/** Reports t (a struct, an array of them, or one inside) when its std430 layout differs from its C layout. */
void rk__emit_check_std430(rk__emitter *e, const rk__ty *t, rk__pos at);

/**
 * The layout a struct, or a block of values, has under the rules of GLSL std430 and WGSL storage buffers
 * (vec3 aligned to 16 but 12 bytes long, so a scalar may follow in its last 4 bytes). Returns the offset
 * of the first field of st whose offset differs from its C layout, or -1 when the layouts agree.
 */
long rk__emit_std430_mismatch(const rk__ir_struct *st, uint32_t *c_off, uint32_t *std_off);

/** The std430 alignment and size of type t (scalars, vectors, arrays, structs). */
void rk__emit_std430(const rk__ty *t, uint32_t *align, uint32_t *size);

/* The targets: write the whole file for e->m into out (e->o may be redirected while they work). */
void rk__emit_c_module(rk__emitter *e, rk__out *out);
void rk__emit_cuda_module(rk__emitter *e, rk__out *out);
void rk__emit_glsl_module(rk__emitter *e, rk__out *out);
void rk__emit_wgsl_module(rk__emitter *e, rk__out *out);
void rk__emit_msl_module(rk__emitter *e, rk__out *out);

#endif /* RK_CODEGEN_EMIT_H */
