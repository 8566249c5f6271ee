/* intrinsics.c - the intrinsic table (intrinsics.def) and the queries on it: lookup, signatures,
 * per-target support and template expansion. See intrinsics.h for the notations. */
#include "codegen/intrinsics.h"

#include <pthread.h>
#include <string.h>

#include "core/internal.h"

/* ---- The table, generated from intrinsics.def. ---- */

#define K_ANY RK_IK_ANY
#define K_STENCIL (RK_IK_STENCIL | RK_IK_PSTENCIL)
#define K_PSTENCIL RK_IK_PSTENCIL
#define K_RING RK_IK_RING
#define F_ATOMIC RK_IF_ATOMIC
#define F_NO_F64_GLSL RK_IF_NO_F64_GLSL
#define RK_INTRIN(name, cat, kinds, flags, sig, cuda, c, glsl, wgsl, msl) \
    { #name, RK_IC_##cat, (uint8_t)(kinds), (uint8_t)(flags), sig, { cuda, c, glsl, wgsl, msl } },

static const rk__intrinsic rk__intr_table[] = {
#include "codegen/intrinsics.def"
};

#undef RK_INTRIN
#undef K_ANY
#undef K_STENCIL
#undef K_PSTENCIL
#undef K_RING
#undef F_ATOMIC
#undef F_NO_F64_GLSL

#define RK__INTR_N (sizeof rk__intr_table / sizeof rk__intr_table[0])
#define RK__INTR_SLOTS 512u /* a power of two, at least twice the rows, so probes stay short */

_Static_assert(RK__INTR_N * 2 <= RK__INTR_SLOTS, "grow RK__INTR_SLOTS with the table");

size_t rk__intr_count(void) { return RK__INTR_N; }

const rk__intrinsic *rk__intr_at(size_t i) { return i < RK__INTR_N ? &rk__intr_table[i] : NULL; }

const char *rk__intr_cat_name(rk__intr_cat c)
{
    static const char *const names[] = {
#define RK__INTR_CAT_NAME(e, s) s,
        RK__INTR_CATEGORIES(RK__INTR_CAT_NAME)
#undef RK__INTR_CAT_NAME
    };
    return (unsigned)c < RK_IC_COUNT ? names[c] : "?";
}

const char *rk__intr_target_name(rk__target t)
{
    static const char *const names[RK_TGT_COUNT] = { "cuda", "c", "glsl", "wgsl", "msl" };
    return (unsigned)t < RK_TGT_COUNT ? names[t] : "?";
}

/* ---- Lookup: FNV-1a into open-addressed slots holding row index + 1 (0 = empty). ---- */

static uint16_t rk__intr_slots[RK__INTR_SLOTS];
static pthread_once_t rk__intr_once = PTHREAD_ONCE_INIT;

static uint32_t rk__intr_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    }
    return h;
}

/* Runs once (pthread_once), so lookups from several threads see a complete table. A duplicate name
 * would shadow its twin; intrinsics_test.c checks there is none. */
static void rk__intr_build(void)
{
    for (size_t i = 0; i < RK__INTR_N; i++) {
        const char *n = rk__intr_table[i].name;
        uint32_t s = rk__intr_hash(n, strlen(n)) & (RK__INTR_SLOTS - 1);

        while (rk__intr_slots[s] != 0) {
            s = (s + 1) & (RK__INTR_SLOTS - 1);
        }
        rk__intr_slots[s] = (uint16_t)(i + 1);
    }
}

const rk__intrinsic *rk__intr_lookup(const char *name, size_t len)
{
    uint32_t s;

    if (name == NULL) {
        return NULL;
    }
    pthread_once(&rk__intr_once, rk__intr_build);
    s = rk__intr_hash(name, len) & (RK__INTR_SLOTS - 1);
    while (rk__intr_slots[s] != 0) {
        const rk__intrinsic *in = &rk__intr_table[rk__intr_slots[s] - 1];

        if (strncmp(in->name, name, len) == 0 && in->name[len] == '\0') {
            return in;
        }
        s = (s + 1) & (RK__INTR_SLOTS - 1);
    }
    return NULL;
}

/* ---- Signatures. ---- */

typedef struct rk__sig_cursor {
    const char *sig;
    const char *p;
    char var; /* the type variable letter used so far ('T', 'S'), or 0 */
} rk__sig_cursor;

static int rk__sig_fail(const rk__sig_cursor *c, const char *what)
{
    return rk__err(RK_EINVAL, "intrinsic signature \"%s\": %s at offset %d", c->sig, what,
                   (int)(c->p - c->sig));
}

/* Consumes word w if it is next and not followed by another name character. */
static int rk__sig_word(rk__sig_cursor *c, const char *w)
{
    size_t n = strlen(w);
    char after;

    if (strncmp(c->p, w, n) != 0) {
        return 0;
    }
    after = c->p[n];
    if ((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') || (after >= '0' && after <= '9') ||
        after == '_') {
        return 0;
    }
    c->p += n;
    return 1;
}

static int rk__sig_scalar(rk__sig_cursor *c, rk__base_type *out)
{
    static const struct { const char *w; rk__base_type b; } scalars[] = {
        { "bool", RK_BT_BOOL }, { "i32", RK_BT_I32 }, { "u32", RK_BT_U32 }, { "i64", RK_BT_I64 },
        { "u64", RK_BT_U64 },   { "f32", RK_BT_F32 }, { "f64", RK_BT_F64 },
    };

    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        if (rk__sig_word(c, scalars[i].w)) {
            *out = scalars[i].b;
            return 1;
        }
    }
    return 0;
}

/* type: a scalar, vecN<scalar>, T, S, E (return only), hlc_ts, str, void (return only). */
static int rk__sig_type(rk__sig_cursor *c, rk__intr_ptype *t, int is_ret)
{
    memset(t, 0, sizeof *t);
    if (rk__sig_scalar(c, &t->base)) {
        return 0;
    }
    if (c->p[0] == 'v' && c->p[1] == 'e' && c->p[2] == 'c' && c->p[3] >= '2' && c->p[3] <= '4' &&
        c->p[4] == '<') {
        t->base = RK_BT_VEC;
        t->vec_len = (uint8_t)(c->p[3] - '0');
        c->p += 5;
        if (!rk__sig_scalar(c, &t->elem) || t->elem == RK_BT_BOOL || *c->p != '>') {
            return rk__sig_fail(c, "bad vector element");
        }
        c->p++;
        return 0;
    }
    if (rk__sig_word(c, "T") || rk__sig_word(c, "S")) {
        char v = c->p[-1];

        if (c->var != 0 && c->var != v) {
            return rk__sig_fail(c, "two type variables");
        }
        c->var = v;
        t->kind = RK_IP_TVAR;
        return 0;
    }
    if (is_ret && rk__sig_word(c, "E")) {
        t->kind = RK_IP_ELEM;
        return 0;
    }
    if (is_ret && rk__sig_word(c, "void")) {
        t->base = RK_BT_VOID;
        return 0;
    }
    if (rk__sig_word(c, "hlc_ts")) {
        t->kind = RK_IP_HLC;
        return 0;
    }
    if (!is_ret && rk__sig_word(c, "str")) {
        t->kind = RK_IP_STR;
        return 0;
    }
    return rk__sig_fail(c, "unknown type");
}

/* param: [space " "] type ["*"]; a space requires the '*'. */
static int rk__sig_param(rk__sig_cursor *c, rk__intr_ptype *t)
{
    static const struct { const char *w; rk__addr_space s; } spaces[] = {
        { "global", RK_AS_GLOBAL }, { "shared", RK_AS_SHARED },
        { "constant", RK_AS_CONSTANT }, { "private", RK_AS_PRIVATE },
    };
    int has_space = 0;
    rk__addr_space space = RK_AS_PRIVATE;
    int rc;

    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0] && !has_space; i++) {
        if (rk__sig_word(c, spaces[i].w)) {
            if (*c->p++ != ' ') {
                return rk__sig_fail(c, "expected ' ' after the address space");
            }
            has_space = 1;
            space = spaces[i].s;
        }
    }
    rc = rk__sig_type(c, t, 0);
    if (rc < 0) {
        return rc;
    }
    if (*c->p == '*') {
        c->p++;
        t->is_ptr = 1;
        t->space = space;
        t->space_any = (uint8_t)!has_space;
    } else if (has_space) {
        return rk__sig_fail(c, "an address space without '*'");
    } else if (t->kind == RK_IP_TVAR && c->var == 'S') {
        return rk__sig_fail(c, "S is passed by pointer only");
    }
    return 0;
}

static int rk__sig_class(rk__sig_cursor *c, rk__intr_class *out)
{
    static const struct { const char *w; rk__intr_class k; } classes[] = {
        { "float", RK_TC_FLOAT }, { "vfloat", RK_TC_VFLOAT }, { "fvec", RK_TC_FVEC },
        { "fvec3", RK_TC_FVEC3 }, { "int32", RK_TC_INT32 },   { "int64", RK_TC_INT64 },
        { "atom", RK_TC_ATOM },   { "num", RK_TC_NUM },       { "vnum", RK_TC_VNUM },
        { "num32", RK_TC_NUM32 }, { "struct", RK_TC_STRUCT },
    };

    for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
        if (rk__sig_word(c, classes[i].w)) {
            *out = classes[i].k;
            return 0;
        }
    }
    return rk__sig_fail(c, "unknown class");
}

int rk__intr_parse_sig(const char *sig, rk__intr_sig *out)
{
    rk__sig_cursor c = { sig, sig, 0 };
    int optional = 0;
    int rc;

    if (sig == NULL || out == NULL) {
        return rk__err(RK_EINVAL, "rk__intr_parse_sig: NULL argument");
    }
    memset(out, 0, sizeof *out);
    rc = rk__sig_type(&c, &out->ret, 1);
    if (rc < 0) {
        return rc;
    }
    if (*c.p++ != '(') {
        return rk__sig_fail(&c, "expected '('");
    }
    while (*c.p != ')') {
        if (out->max_params > 0 || optional) {
            if (!optional && c.p[0] == '[' && c.p[1] == ',') {
                optional = 1;
                c.p++;
            }
            if (*c.p++ != ',') {
                return rk__sig_fail(&c, "expected ',' or ')'");
            }
        }
        if (out->max_params == RK_INTR_MAX_PARAMS) {
            return rk__sig_fail(&c, "too many parameters");
        }
        rc = rk__sig_param(&c, &out->params[out->max_params]);
        if (rc < 0) {
            return rc;
        }
        out->max_params++;
        if (!optional) {
            out->min_params = out->max_params;
        }
        if (optional && *c.p == ']') {
            c.p++;
            if (*c.p != ')') {
                return rk__sig_fail(&c, "optional parameters must come last");
            }
        } else if (optional && *c.p == ')') {
            return rk__sig_fail(&c, "expected ']'");
        }
    }
    c.p++;
    if (*c.p == ' ') {
        char v;

        c.p++;
        v = *c.p++;
        if ((v != 'T' && v != 'S') || *c.p++ != ':') {
            return rk__sig_fail(&c, "expected 'T:' or 'S:'");
        }
        rc = rk__sig_class(&c, &out->tclass);
        if (rc < 0) {
            return rc;
        }
        if (v != c.var || (v == 'S') != (out->tclass == RK_TC_STRUCT)) {
            return rk__sig_fail(&c, "the class does not match the type variable");
        }
    } else if (c.var != 0 || out->ret.kind == RK_IP_ELEM) {
        return rk__sig_fail(&c, "a type variable without a class");
    }
    if (out->ret.kind == RK_IP_ELEM && c.var != 'T') {
        return rk__sig_fail(&c, "E without T");
    }
    if (*c.p != '\0') {
        return rk__sig_fail(&c, "trailing characters");
    }
    return 0;
}

static int rk__is_float(rk__base_type b) { return b == RK_BT_F32 || b == RK_BT_F64; }

static int rk__is_num(rk__base_type b) { return b >= RK_BT_I32 && b <= RK_BT_F64; }

int rk__intr_class_accepts(rk__intr_class c, rk__base_type base, rk__base_type elem, unsigned vec_len)
{
    int vec = base == RK_BT_VEC && vec_len >= 2 && vec_len <= 4;

    switch (c) {
    case RK_TC_FLOAT:
        return rk__is_float(base);
    case RK_TC_VFLOAT:
        return rk__is_float(base) || (vec && rk__is_float(elem));
    case RK_TC_FVEC:
        return vec && rk__is_float(elem);
    case RK_TC_FVEC3:
        return vec && vec_len == 3 && rk__is_float(elem);
    case RK_TC_INT32:
        return base == RK_BT_I32 || base == RK_BT_U32;
    case RK_TC_INT64:
        return base == RK_BT_I64 || base == RK_BT_U64;
    case RK_TC_ATOM:
        return base == RK_BT_I32 || base == RK_BT_U32 || base == RK_BT_U64;
    case RK_TC_NUM:
        return rk__is_num(base);
    case RK_TC_VNUM:
        return rk__is_num(base) || (vec && rk__is_num(elem));
    case RK_TC_NUM32:
        return base == RK_BT_I32 || base == RK_BT_U32 || base == RK_BT_F32;
    case RK_TC_STRUCT:
        return base == RK_BT_STRUCT;
    case RK_TC_NONE:
    default:
        return 0;
    }
}

/* ---- Targets. ---- */

const char *rk__target_type_limit(rk__target t, rk__base_type b)
{
    if (b == RK_BT_F64) {
        if (t == RK_TGT_WGSL) {
            return "WGSL has no f64";
        }
        if (t == RK_TGT_MSL) {
            return "Metal has no f64 (double)";
        }
    } else if ((b == RK_BT_I64 || b == RK_BT_U64) && t == RK_TGT_WGSL) {
        return "core WGSL has no 64-bit integers";
    }
    return NULL;
}

/* The limit of target t on scalar b in row in: NULL when fine (*need may then name an extension), else
 * the reason for the diagnostic. */
static const char *rk__type_rule(const rk__intrinsic *in, rk__target t, rk__base_type b, const char **need)
{
    int atomic = (in->flags & RK_IF_ATOMIC) != 0;
    int int64 = b == RK_BT_I64 || b == RK_BT_U64;

    if (int64 && atomic && t == RK_TGT_WGSL) {
        return "core WGSL has no 64-bit atomics";
    }
    if (int64 && atomic && t == RK_TGT_MSL) {
        return "Metal has no 64-bit atomic read-modify-write (atomic_ulong has only min/max, Apple8+)";
    }
    if (rk__target_type_limit(t, b) != NULL) {
        return rk__target_type_limit(t, b);
    }
    if (b == RK_BT_F64 && t == RK_TGT_GLSL && (in->flags & RK_IF_NO_F64_GLSL)) {
        return "the GLSL built-in takes only 32-bit floats";
    }
    if (int64 && t == RK_TGT_GLSL) {
        *need = atomic ? "GL_EXT_shader_atomic_int64" : "GL_ARB_gpu_shader_int64";
    }
    return NULL;
}

static rk__base_type rk__ptype_scalar(const rk__intr_ptype *p)
{
    if (p->kind != RK_IP_TYPE) {
        return RK_BT_NONE;
    }
    return p->base == RK_BT_VEC ? p->elem : p->base;
}

int rk__intr_support(const rk__intrinsic *in, rk__target t, rk__base_type scalar, rk__intr_spelling *out)
{
    rk__base_type used[RK_INTR_MAX_PARAMS + 2];
    size_t nused = 0;
    const char *need = NULL;
    const char *s;
    rk__intr_sig sig;
    rk__str req = { NULL, 0 };
    int rc;

    if (in == NULL || out == NULL || (unsigned)t >= RK_TGT_COUNT) {
        return rk__err(RK_EINVAL, "rk__intr_support: bad argument");
    }
    s = in->spell[t];
    if (s[0] == '!') {
        return rk__err(RK_ENOTSUP, "'%s' is unsupported on %s: %s", in->name, rk__intr_target_name(t), s + 1);
    }
    rc = rk__intr_parse_sig(in->sig, &sig);
    if (rc < 0) {
        return rc;
    }
    used[nused++] = rk__ptype_scalar(&sig.ret);
    for (unsigned i = 0; i < sig.max_params; i++) {
        used[nused++] = rk__ptype_scalar(&sig.params[i]);
    }
    if (sig.tclass != RK_TC_NONE && sig.tclass != RK_TC_STRUCT) {
        used[nused++] = scalar;
    }
    for (size_t i = 0; i < nused; i++) {
        const char *why = rk__type_rule(in, t, used[i], &need);

        if (why != NULL) {
            return rk__err(RK_ENOTSUP, "'%s' is unsupported on %s: %s", in->name, rk__intr_target_name(t), why);
        }
    }
    if (s[0] == '[') {
        const char *end = strchr(s, ']');

        if (end == NULL) {
            return rk__err(RK_EINVAL, "intrinsic '%s': unterminated requirement in \"%s\"", in->name, s);
        }
        req.ptr = s + 1;
        req.len = (uint32_t)(end - s - 1);
        s = end + 1;
    }
    out->tmpl = s;
    out->require = req;
    out->type_need = need;
    return 0;
}

/* ---- Template expansion. ---- */

typedef struct rk__sink {
    char *buf;
    size_t cap;
    size_t len; /* of the full expansion so far */
} rk__sink;

static void rk__sink_put(rk__sink *k, const char *s, size_t n)
{
    if (k->len + 1 < k->cap) {
        size_t room = k->cap - 1 - k->len;

        memcpy(k->buf + k->len, s, n < room ? n : room);
    }
    k->len += n;
}

static int rk__is_plain(const char *t)
{
    if (*t == '\0') {
        return 0;
    }
    for (; *t; t++) {
        char ch = *t;

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == ':' || ch == '<' || ch == '>')) {
            return 0;
        }
    }
    return 1;
}

int rk__intr_expand(const char *tmpl, const char *const *args, unsigned nargs, char *buf, size_t cap)
{
    rk__sink k = { buf, cap, 0 };

    if (tmpl == NULL || (nargs > 0 && args == NULL) || (cap > 0 && buf == NULL)) {
        return rk__err(RK_EINVAL, "rk__intr_expand: NULL argument");
    }
    if (rk__is_plain(tmpl) && nargs > 0) {
        rk__sink_put(&k, tmpl, strlen(tmpl));
        rk__sink_put(&k, "(", 1);
        for (unsigned i = 0; i < nargs; i++) {
            if (i > 0) {
                rk__sink_put(&k, ", ", 2);
            }
            rk__sink_put(&k, args[i], strlen(args[i]));
        }
        rk__sink_put(&k, ")", 1);
    } else {
        for (const char *p = tmpl; *p; p++) {
            if (*p != '$') {
                rk__sink_put(&k, p, 1);
            } else if (p[1] == '$') {
                rk__sink_put(&k, "$", 1);
                p++;
            } else if (p[1] >= '0' && p[1] <= '9') {
                unsigned i = (unsigned)(p[1] - '0');

                if (i >= nargs) {
                    return rk__err(RK_EINVAL, "template \"%s\" uses $%u but has %u arguments", tmpl, i, nargs);
                }
                rk__sink_put(&k, args[i], strlen(args[i]));
                p++;
            } else {
                return rk__err(RK_EINVAL, "template \"%s\" has a '$' without a digit", tmpl);
            }
        }
    }
    if (cap > 0) {
        buf[k.len < cap ? k.len : cap - 1] = '\0';
    }
    if (k.len > (size_t)INT32_MAX) {
        return rk__err(RK_ELIMIT, "rk__intr_expand: expansion too long");
    }
    return (int)k.len;
}
