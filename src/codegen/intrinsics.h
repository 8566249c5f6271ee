/* intrinsics.h - the table of kernel-language intrinsics (docs/DSL.md §6); internal to src/codegen/.
 *
 * The rows live in intrinsics.def (one X-macro table: name, category, kernel kinds, flags, signature and
 * a spelling per target); this header is the way the checker and the emitters read them.
 *
 * Signature notation
 * ------------------
 *     sig    := ret "(" [params] ")" [" " var ":" class]
 *     params := param {"," param} ["[" "," param {"," param} "]"]   bracketed trailing params are optional
 *     param  := [space " "] type ["*"]                              space: global shared constant private
 *     ret    := type | "void" | "E"
 *     type   := bool i32 u32 i64 u64 f32 f64 | "vec" N "<" scalar ">" | "T" | "S" | "hlc_ts" | "str"
 *
 * "T" and "S" are the row's one type variable, bound by the trailing "var:class"; "E" (return only) is
 * the element type of T (T itself when T is a scalar); "str" is a string literal (a topic name). A pointer
 * without a space ("T*") may point to global or shared memory (the spaces atomics work on); "private S*"
 * is `&local`. The classes:
 *     float  f32 f64                 vfloat  float and vec2..4 of it     fvec  vec2..4 of float
 *     fvec3  vec3 of float           int32   i32 u32                     int64 i64 u64
 *     atom   i32 u32 u64             num     i32 u32 i64 u64 f32 f64     vnum  num and vec2..4 of it
 *     num32  i32 u32 f32             struct  any struct (S only)
 * Examples: "f32(f32,f32)", "T(T,T) T:vfloat", "T(T*,T) T:atom", "T(global T*,i32,i32[,i32]) T:num",
 * "i32(u64,private S*) S:struct", "E(T,T) T:fvec".
 *
 * Spelling templates
 * ------------------
 * "$0".."$9" is argument k, "$$" a literal '$'. A template made only of name characters (letters, digits,
 * '_', ':', '<', '>') is a plain name: with arguments it expands to the call "name(a0, a1, ...)", without
 * it is used as is ("gl_SubgroupSize", "threadIdx"). A template may start with "[requirement]" (a GLSL
 * extension, "subgroups" for WGSL, "MSL 3.0"), which rk__intr_support() returns apart from the spelling.
 * An argument slot that occurs twice ("($0 - floor($0))") needs an argument without side effects; the
 * emitter passes a temporary. A spelling "!reason" in the table means "unsupported on this target".
 * The conventions the templates assume (pointer arguments as lvalues, rk_ prelude names, the portable C
 * subgroup of one lane) are listed at the top of intrinsics.def. The rk_* names in the spellings
 * (rk_gid, rk_at, rk_atomic_cas, rk_u64_as_f64, ...) are functions each target's emitter writes into
 * the prelude of the code it generates; the emitters do not exist yet, so this table is checked for
 * consistency (intrinsics_test) but no spelling has been compiled by a target compiler so far.
 *
 * Lookup is a hash table (FNV-1a, open addressing, 512 slots) built once on first use (pthread_once);
 * thread-safe and O(1) per name.
 */
#ifndef RK_CODEGEN_INTRINSICS_H
#define RK_CODEGEN_INTRINSICS_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/ast.h"

/* The categories of issue [4] item 3, in table order: X(enum suffix, name in messages). */
#define RK__INTR_CATEGORIES(X)        \
    X(INDEX, "indexing")              \
    X(SYNC, "synchronization")        \
    X(ATOMIC, "atomics")              \
    X(FENCE, "memory fences")         \
    X(MATH, "math")                   \
    X(TRIG, "trigonometry")           \
    X(EXPLOG, "exponent/log")         \
    X(BITS, "bit operations")         \
    X(CONV, "conversions")            \
    X(WARP, "warp/subgroup")          \
    X(SHARED, "shared memory")        \
    X(TIME, "timing/clock")           \
    X(HLC, "HLC")                     \
    X(MSG, "messaging")

typedef enum rk__intr_cat {
#define RK__INTR_CAT_ENUM(e, s) RK_IC_##e,
    RK__INTR_CATEGORIES(RK__INTR_CAT_ENUM)
#undef RK__INTR_CAT_ENUM
    RK_IC_COUNT
} rk__intr_cat;

/* The code generation targets, in the column order of intrinsics.def. */
typedef enum rk__target {
    RK_TGT_CUDA = 0,
    RK_TGT_C,
    RK_TGT_GLSL,
    RK_TGT_WGSL,
    RK_TGT_MSL,
    RK_TGT_COUNT
} rk__target;

/* The kernel kinds a row may be called in (a bit set). */
enum {
    RK_IK_GLOBAL = 1u << 0,
    RK_IK_STENCIL = 1u << 1,
    RK_IK_RING = 1u << 2,
    RK_IK_PSTENCIL = 1u << 3,
    RK_IK_ANY = RK_IK_GLOBAL | RK_IK_STENCIL | RK_IK_RING | RK_IK_PSTENCIL
};

/* Row flags. */
enum {
    RK_IF_ATOMIC = 1u << 0,     /* an atomic: 64-bit instances follow the targets' atomic rules */
    RK_IF_NO_F64_GLSL = 1u << 1 /* the GLSL built-in has no double overload */
};

/** One row of intrinsics.def. spell[t] is a template, or "!reason" when unsupported on target t. */
typedef struct rk__intrinsic {
    const char *name;
    rk__intr_cat cat;
    uint8_t kinds; /* RK_IK_* */
    uint8_t flags; /* RK_IF_* */
    const char *sig;
    const char *spell[RK_TGT_COUNT];
} rk__intrinsic;

/* ---- Signatures. ---- */

typedef enum rk__intr_class {
    RK_TC_NONE = 0,
    RK_TC_FLOAT,
    RK_TC_VFLOAT,
    RK_TC_FVEC,
    RK_TC_FVEC3,
    RK_TC_INT32,
    RK_TC_INT64,
    RK_TC_ATOM,
    RK_TC_NUM,
    RK_TC_VNUM,
    RK_TC_NUM32,
    RK_TC_STRUCT
} rk__intr_class;

typedef enum rk__intr_pkind {
    RK_IP_TYPE = 0, /* a concrete type: base (and elem, vec_len for RK_BT_VEC); RK_BT_VOID for void */
    RK_IP_TVAR,     /* the row's type variable (T or S) */
    RK_IP_ELEM,     /* E: the element type of the type variable */
    RK_IP_HLC,      /* hlc_ts */
    RK_IP_STR       /* a string literal */
} rk__intr_pkind;

#define RK_INTR_MAX_PARAMS 4

/** A parameter or return type of a signature. */
typedef struct rk__intr_ptype {
    rk__intr_pkind kind;
    rk__base_type base;   /* RK_IP_TYPE */
    rk__base_type elem;   /* RK_IP_TYPE with base RK_BT_VEC */
    uint8_t vec_len;      /* RK_IP_TYPE with base RK_BT_VEC: 2, 3 or 4 */
    uint8_t is_ptr;       /* followed by '*' */
    uint8_t space_any;    /* a pointer without a space: global or shared */
    rk__addr_space space; /* a pointer's space when space_any is 0 */
} rk__intr_ptype;

typedef struct rk__intr_sig {
    rk__intr_ptype ret;
    rk__intr_ptype params[RK_INTR_MAX_PARAMS];
    uint8_t min_params; /* the required ones */
    uint8_t max_params; /* with the optional ones */
    rk__intr_class tclass; /* the class of the type variable; RK_TC_NONE when the row has none */
} rk__intr_sig;

/* ---- The table. ---- */

/** Returns the number of rows. */
size_t rk__intr_count(void);

/** Returns row i (0 <= i < rk__intr_count()), or NULL past the end. */
const rk__intrinsic *rk__intr_at(size_t i);

/** Returns the row named by the len bytes at name (not NUL-terminated), or NULL if there is none. */
const rk__intrinsic *rk__intr_lookup(const char *name, size_t len);

/** Returns "indexing", "atomics", ...; "?" for a value out of range. */
const char *rk__intr_cat_name(rk__intr_cat c);

/** Returns "cuda", "c", "glsl", "wgsl" or "msl"; "?" for a value out of range. */
const char *rk__intr_target_name(rk__target t);

/**
 * Parses a signature (notation above) into *out. Returns 0, or RK_EINVAL with a detail naming the
 * offending character (rk_last_error()); *out is then unspecified.
 */
int rk__intr_parse_sig(const char *sig, rk__intr_sig *out);

/**
 * Returns 1 if the type (base; elem and vec_len when base is RK_BT_VEC; RK_BT_STRUCT for a struct)
 * belongs to class c, else 0.
 */
int rk__intr_class_accepts(rk__intr_class c, rk__base_type base, rk__base_type elem, unsigned vec_len);

/* ---- Targets. ---- */

/** What a target needs for one use of an intrinsic. */
typedef struct rk__intr_spelling {
    const char *tmpl;      /* the template, "[requirement]" removed; NUL-terminated, points into the table */
    rk__str require;       /* the row's "[requirement]" without brackets; len 0 when none */
    const char *type_need; /* an extension the instantiated type needs (GLSL 64-bit integers); or NULL */
} rk__intr_spelling;

/**
 * Says whether `in` can be used on target t when its type variable is instantiated with the scalar
 * `scalar` (the element type for a vector; RK_BT_NONE for rows without a variable or with S). The
 * concrete types of the signature are checked too (u64, f64). Returns 0 and fills *out; or RK_ENOTSUP
 * with the detail "'<name>' is unsupported on <target>: <reason>" (rk_last_error()) when the row or the
 * type is not available there (core WGSL: no f64, no 64-bit integers or atomics; Metal: no f64, no
 * 64-bit atomic read-modify-write; GLSL: no double overloads of the transcendental functions);
 * RK_EINVAL for a bad target or signature. *out is unchanged on failure.
 */
int rk__intr_support(const rk__intrinsic *in, rk__target t, rk__base_type scalar, rk__intr_spelling *out);

/**
 * Returns why target t cannot use the scalar type b at all ("WGSL has no f64", "core WGSL has no 64-bit
 * integers"), or NULL when it can. rk__intr_support() applies it to every type of a row, and the checker
 * to every type written in a program.
 */
const char *rk__target_type_limit(rk__target t, rk__base_type b);

/**
 * Expands a template (as in rk__intr_spelling.tmpl) with nargs argument strings into buf (cap bytes),
 * always NUL-terminated when cap > 0, truncated like snprintf. Returns the length of the full expansion
 * (not counting the NUL), so a return >= cap means buf was too small; or RK_EINVAL (detail set) when
 * the template names an argument >= nargs, ends in a lone '$', or is NULL.
 */
int rk__intr_expand(const char *tmpl, const char *const *args, unsigned nargs, char *buf, size_t cap);

#endif
