/* lexer.c - the lexer of the kernel language: docs/DSL.md §2 is the specification, lexer.h the contract.
 *
 * Invariants:
 *   L1. pos never exceeds src.len, and every read is guarded by it: the input is len bytes, not a C string.
 *   L2. Every call consumes at least one byte or returns EOF, so lexing terminates.
 *   L3. Each malformed construct becomes exactly one ERROR token and one diagnostic, located at the
 *       construct's first byte (an escape or byte inside a string: at that escape or byte).
 *   L4. line/col follow pos: LF, CR LF and a lone CR each end a line; a column is a byte (tab = 1).
 * Character classes are ASCII tests, never <ctype.h>: the language does not change with the C locale.
 */
#include "codegen/lexer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* The most bytes a float literal may have (DSL.md §2): its digits are copied into a stack buffer. */
#define RK__FLOAT_MAX_LEN 512u

static const char *const tok_spelling[RK_TOK__COUNT] = {
#define RK__SPELL(name, spelling) [RK_TOK_KW_##name] = spelling,
    RK_LEX_KEYWORDS(RK__SPELL)
#undef RK__SPELL
#define RK__SPELL(name, spelling) [RK_TOK_##name] = spelling,
    RK_LEX_PUNCTUATORS(RK__SPELL)
#undef RK__SPELL
};

static const char *const tok_name[RK_TOK__COUNT] = {
    [RK_TOK_EOF] = "end of file",
    [RK_TOK_ERROR] = "invalid token",
    [RK_TOK_IDENT] = "identifier",
    [RK_TOK_INT] = "integer literal",
    [RK_TOK_FLOAT] = "floating-point literal",
    [RK_TOK_STRING] = "string literal",
#define RK__NAME(name, spelling) [RK_TOK_KW_##name] = "'" spelling "'",
    RK_LEX_KEYWORDS(RK__NAME)
#undef RK__NAME
#define RK__NAME(name, spelling) [RK_TOK_##name] = "'" spelling "'",
    RK_LEX_PUNCTUATORS(RK__NAME)
#undef RK__NAME
};

const char *rk__lex_tok_name(rk__tok_kind kind)
{
    return (unsigned)kind < RK_TOK__COUNT ? tok_name[kind] : "unknown token";
}

const char *rk__lex_tok_spelling(rk__tok_kind kind)
{
    return (unsigned)kind < RK_TOK__COUNT ? tok_spelling[kind] : NULL;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_alnum(int c) { return is_alpha(c) || is_digit(c); }
static int is_hex(int c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); }
static int hex_val(int c) { return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10; }
static int is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* A byte that may start a punctuator: the first bytes of the punctuator table. */
static int is_punct_start(int c)
{
    return c != '\0' && strchr("()[]{},;:?.-@+*/%&|^~!<>=", c) != NULL;
}

int rk__lex_init(rk__lexer *lx, const char *file, const char *src, size_t len, rk__diags *diags)
{
    if (!lx || !diags || (!src && len))
        return rk__err(RK_EINVAL, "rk__lex_init: %s is NULL", !lx ? "lexer" : !diags ? "diags" : "src");
    if (len >= UINT32_MAX)
        return rk__err(RK_EOVERFLOW, "rk__lex_init: source of %zu bytes exceeds 4 GiB", len);
    lx->src.name = file ? file : "<input>";
    lx->src.text = src ? src : "";
    lx->src.len = (uint32_t)len;
    lx->diags = diags;
    lx->pos = 0;
    lx->line = 1;
    lx->col = 1;
    return 0;
}

static int peek(const rk__lexer *lx, uint32_t ahead)
{
    return ahead < lx->src.len - lx->pos ? (unsigned char)lx->src.text[lx->pos + ahead] : -1;
}

/* Consumes one byte, keeping line and column (L4). */
static void adv(rk__lexer *lx)
{
    char c = lx->src.text[lx->pos++];

    if (c == '\n' || (c == '\r' && (lx->pos >= lx->src.len || lx->src.text[lx->pos] != '\n'))) {
        lx->line++;
        lx->col = 1;
    } else {
        lx->col++;
    }
}

static void adv_to(rk__lexer *lx, uint32_t end)
{
    while (lx->pos < end)
        adv(lx);
}

static rk__pos pos_of(const rk__token *t)
{
    return (rk__pos){ t->offset, t->line, t->col };
}

/* Ends token t at `end` (consuming up to it) as an ERROR token, reporting fmt at `at`. */
static rk__tok_kind error_at(rk__lexer *lx, rk__token *t, uint32_t end, rk__pos at, const char *fmt, ...)
    RK__PRINTF(5, 6);

static rk__tok_kind error_at(rk__lexer *lx, rk__token *t, uint32_t end, rk__pos at, const char *fmt, ...)
{
    char msg[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rk__diag_error(lx->diags, &lx->src, at, "%s", msg);
    adv_to(lx, end);
    t->kind = RK_TOK_ERROR;
    t->length = end - t->offset;
    return t->kind;
}

static rk__tok_kind finish(rk__lexer *lx, rk__token *t, rk__tok_kind kind, uint32_t end)
{
    adv_to(lx, end);
    t->kind = kind;
    t->length = end - t->offset;
    return kind;
}

/* Skips whitespace and comments. Returns 0, or -1 after making *t the ERROR token of an unterminated
 * block comment (which runs to the end of the input). */
static int skip_blank(rk__lexer *lx, rk__token *t)
{
    const char *s = lx->src.text;
    uint32_t n = lx->src.len;

    while (lx->pos < n) {
        if (is_space((unsigned char)s[lx->pos])) {
            adv(lx);
        } else if (peek(lx, 0) == '/' && peek(lx, 1) == '/') {
            while (lx->pos < n && s[lx->pos] != '\n' && s[lx->pos] != '\r')
                adv(lx);
        } else if (peek(lx, 0) == '/' && peek(lx, 1) == '*') {
            /* Not nested (DSL.md §2): the first "*" "/" ends the comment. */
            uint32_t p = lx->pos + 2;
            while (p + 1 < n && !(s[p] == '*' && s[p + 1] == '/'))
                p++;
            if (p + 1 >= n) {
                *t = (rk__token){ .offset = lx->pos, .line = lx->line, .col = lx->col };
                error_at(lx, t, n, pos_of(t), "unterminated block comment");
                return -1;
            }
            adv_to(lx, p + 2);
        } else {
            break;
        }
    }
    return 0;
}

static rk__tok_kind lex_ident(rk__lexer *lx, rk__token *t)
{
    const char *s = lx->src.text;
    uint32_t p = lx->pos, len;
    int k;

    while (p < lx->src.len && is_alnum((unsigned char)s[p]))
        p++;
    len = p - lx->pos;
    for (k = RK_TOK_KW_BOOL; k <= RK_TOK_KW_FALSE; k++) {
        if (strlen(tok_spelling[k]) == len && memcmp(tok_spelling[k], s + lx->pos, len) == 0)
            return finish(lx, t, (rk__tok_kind)k, p);
    }
    return finish(lx, t, RK_TOK_IDENT, p);
}

static const struct {
    const char *text;
    rk__lit_suffix suffix;
} suffixes[] = {
    { "u", RK_SUF_U32 }, { "u32", RK_SUF_U32 }, { "i32", RK_SUF_I32 }, { "u64", RK_SUF_U64 },
    { "i64", RK_SUF_I64 }, { "f", RK_SUF_F32 }, { "f32", RK_SUF_F32 }, { "f64", RK_SUF_F64 },
};

/* The suffix spelled s[len]: 0 and *out set, or -1 if it is none of DSL.md's. */
static int match_suffix(const char *s, uint32_t len, rk__lit_suffix *out)
{
    size_t i;

    *out = RK_SUF_NONE;
    if (len == 0)
        return 0;
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        if (strlen(suffixes[i].text) == len && memcmp(suffixes[i].text, s, len) == 0) {
            *out = suffixes[i].suffix;
            return 0;
        }
    }
    return -1;
}

/* The value of the decimal float whose integer digits are s[ib, ie), fraction digits s[fb, fe) and
 * exponent (sign included) s[eb, ee), rounded to f32 or f64. The digits are rewritten as "DIGITSe<exp>"
 * with no decimal point, so strtod/strtof cannot depend on the locale's decimal separator. */
static double float_value(const char *s, uint32_t ib, uint32_t ie, uint32_t fb, uint32_t fe, uint32_t eb,
                          uint32_t ee, int f32)
{
    char buf[RK__FLOAT_MAX_LEN + 32];
    size_t k = 0;
    long exp = 0;
    uint32_t p;
    int neg = 0, seen = 0;

    for (p = ib; p < fe; p = p + 1 == ie ? fb : p + 1) {
        if (s[p] != '0' || seen) {
            seen = 1;
            buf[k++] = s[p];
        }
    }
    if (k == 0)
        return 0.0;
    p = eb;
    if (p < ee && (s[p] == '+' || s[p] == '-'))
        neg = s[p++] == '-';
    for (; p < ee; p++) {
        if (exp < 1000000)
            exp = exp * 10 + (s[p] - '0');
    }
    exp = (neg ? -exp : exp) - (long)(fe - fb);
    snprintf(buf + k, sizeof buf - k, "e%ld", exp);
    return f32 ? (double)strtof(buf, NULL) : strtod(buf, NULL);
}

static rk__tok_kind lex_number(rk__lexer *lx, rk__token *t)
{
    const char *s = lx->src.text;
    const uint32_t n = lx->src.len, b = lx->pos;
    uint32_t p = b, db, ie, fb, fe, eb = 0, ee = 0, sb;
    int base = 10, is_float = 0;
    rk__lit_suffix suf;
    uint64_t v = 0;
    const char *what;

    if (s[p] == '0' && p + 1 < n && ((s[p + 1] | 0x20) == 'x' || (s[p + 1] | 0x20) == 'b')) {
        base = (s[p + 1] | 0x20) == 'x' ? 16 : 2;
        p += 2;
    }
    db = p;
    while (p < n && (base == 16 ? is_hex((unsigned char)s[p]) : base == 2 ? (s[p] == '0' || s[p] == '1')
                                                                          : is_digit((unsigned char)s[p])))
        p++;
    ie = fb = fe = p;
    if (base == 10 && p + 1 < n && s[p] == '.' && is_digit((unsigned char)s[p + 1])) {
        is_float = 1;
        fb = ++p;
        while (p < n && is_digit((unsigned char)s[p]))
            p++;
        fe = p;
    }
    if (base == 10 && p < n && (s[p] | 0x20) == 'e') {
        uint32_t q = p + 1;
        if (q < n && (s[q] == '+' || s[q] == '-'))
            q++;
        if (q >= n || !is_digit((unsigned char)s[q])) {
            while (q < n && is_alnum((unsigned char)s[q]))
                q++;
            return error_at(lx, t, q, pos_of(t), "exponent has no digits");
        }
        is_float = 1;
        eb = p + 1;
        for (p = q; p < n && is_digit((unsigned char)s[p]);)
            p++;
        ee = p;
    }
    sb = p;
    while (p < n && is_alnum((unsigned char)s[p]))
        p++;
    what = is_float ? "floating-point" : "integer";

    if (base != 10 && ie == db)
        return error_at(lx, t, p, pos_of(t), "%s literal has no digits", base == 16 ? "hexadecimal" : "binary");
    if (base == 2 && sb < p && is_digit((unsigned char)s[sb]))
        return error_at(lx, t, p, pos_of(t), "invalid digit '%c' in binary literal", s[sb]);
    if (base == 10 && s[b] == '0' && ie - b > 1)
        return error_at(lx, t, p, pos_of(t), "leading zeros are not allowed (there are no octal literals)");
    if (match_suffix(s + sb, p - sb, &suf) != 0 ||
        (is_float && (suf == RK_SUF_U32 || suf == RK_SUF_I32 || suf == RK_SUF_U64 || suf == RK_SUF_I64)) ||
        (base != 10 && (suf == RK_SUF_F32 || suf == RK_SUF_F64)))
        return error_at(lx, t, p, pos_of(t), "invalid suffix '%.*s' on %s literal", (int)(p - sb > 32 ? 32 : p - sb),
                        s + sb, what);
    t->suffix = suf;
    if (suf == RK_SUF_F32 || suf == RK_SUF_F64)
        is_float = 1; /* "2f" is 2.0f32 */

    if (is_float) {
        if (p - b > RK__FLOAT_MAX_LEN)
            return error_at(lx, t, p, pos_of(t), "floating-point literal is too long (more than %u bytes)",
                            RK__FLOAT_MAX_LEN);
        t->fval = float_value(s, b, ie, fb, fe, eb, ee, suf != RK_SUF_F64);
        if (isinf(t->fval))
            return error_at(lx, t, p, pos_of(t), "floating-point literal '%.*s' is out of range for %s",
                            (int)(p - b > 64 ? 64 : p - b), s + b, suf == RK_SUF_F64 ? "f64" : "f32");
        return finish(lx, t, RK_TOK_FLOAT, p);
    }

    for (uint32_t q = db; q < ie; q++) {
        uint64_t d = (uint64_t)hex_val((unsigned char)s[q]);
        if (v > (UINT64_MAX - d) / (uint64_t)base)
            return error_at(lx, t, p, pos_of(t), "integer literal is too large (more than 64 bits)");
        v = v * (uint64_t)base + d;
    }
    if ((suf == RK_SUF_U32 && v > UINT32_MAX) || (suf == RK_SUF_I32 && v > (uint64_t)1 << 31) ||
        (suf == RK_SUF_I64 && v > (uint64_t)1 << 63))
        return error_at(lx, t, p, pos_of(t), "integer literal '%.*s' is out of range for %s",
                        (int)(p - b > 64 ? 64 : p - b), s + b,
                        suf == RK_SUF_U32 ? "u32" : suf == RK_SUF_I32 ? "i32" : "i64");
    t->ival = v;
    t->hex = base != 10;
    return finish(lx, t, RK_TOK_INT, p);
}

static rk__tok_kind lex_string(rk__lexer *lx, rk__token *t)
{
    const char *s = lx->src.text;
    const uint32_t n = lx->src.len;
    uint32_t p = lx->pos + 1, bad = 0;
    char msg[96] = "";

    for (;;) {
        unsigned char c;
        if (p >= n || s[p] == '\n' || s[p] == '\r')
            return error_at(lx, t, p, pos_of(t), "unterminated string literal");
        c = (unsigned char)s[p];
        if (c == '"')
            break;
        if (c == '\\' && p + 1 < n && strchr("\\\"ntr0", s[p + 1]) && s[p + 1] != '\0') {
            p += 2;
        } else if (c == '\\' && p + 3 < n && s[p + 1] == 'x' && is_hex((unsigned char)s[p + 2]) &&
                   is_hex((unsigned char)s[p + 3])) {
            p += 4;
        } else if (c == '\\' && p + 1 < n && s[p + 1] != '\n' && s[p + 1] != '\r') {
            unsigned char e = (unsigned char)s[p + 1];
            if (!bad) {
                bad = p;
                if (e == 'x')
                    snprintf(msg, sizeof msg, "invalid escape sequence '\\x': it takes two hex digits");
                else if (e > 0x20 && e < 0x7f)
                    snprintf(msg, sizeof msg, "invalid escape sequence '\\%c' in string literal", e);
                else
                    snprintf(msg, sizeof msg, "invalid escape sequence: byte 0x%02X after '\\'", e);
            }
            p += 2;
        } else if (c == '\\') {
            p++; /* a backslash at the end of the line or input: unterminated, reported above */
        } else if (c < 0x20 || c == 0x7f) {
            if (!bad) {
                bad = p;
                snprintf(msg, sizeof msg, "invalid byte 0x%02X in string literal", c);
            }
            p++;
        } else {
            p++;
        }
    }
    p++; /* the closing quote */
    if (bad)
        /* Strings do not span lines, so the bad byte is on the token's line. */
        return error_at(lx, t, p, (rk__pos){ bad, t->line, t->col + (bad - t->offset) }, "%s", msg);
    return finish(lx, t, RK_TOK_STRING, p);
}

static rk__tok_kind lex_punct(rk__lexer *lx, rk__token *t)
{
    uint32_t best = 0, left = lx->src.len - lx->pos;
    int k, kind = RK_TOK_ERROR;

    for (k = RK_TOK_LPAREN; k <= RK_TOK_DEC; k++) {
        uint32_t len = (uint32_t)strlen(tok_spelling[k]);
        if (len > best && len <= left && memcmp(tok_spelling[k], lx->src.text + lx->pos, len) == 0) {
            best = len;
            kind = k;
        }
    }
    return finish(lx, t, (rk__tok_kind)kind, lx->pos + best);
}

static int starts_token(int c)
{
    return is_alnum(c) || c == '"' || is_space(c) || is_punct_start(c);
}

rk__tok_kind rk__lex_next(rk__lexer *lx, rk__token *t)
{
    int c;

    if (skip_blank(lx, t) != 0)
        return t->kind;
    *t = (rk__token){ .offset = lx->pos, .line = lx->line, .col = lx->col };
    c = peek(lx, 0);
    if (c < 0)
        return t->kind = RK_TOK_EOF;
    if (is_alpha(c))
        return lex_ident(lx, t);
    if (is_digit(c))
        return lex_number(lx, t);
    if (c == '"')
        return lex_string(lx, t);
    if (is_punct_start(c))
        return lex_punct(lx, t);

    /* A run of bytes that start no token is one error (a UTF-8 sequence, a stray binary blob). */
    {
        uint32_t p = lx->pos + 1;
        while (p < lx->src.len && !starts_token((unsigned char)lx->src.text[p]))
            p++;
        if (c > 0x20 && c < 0x7f)
            return error_at(lx, t, p, pos_of(t), "invalid character '%c'", c);
        return error_at(lx, t, p, pos_of(t), "invalid byte 0x%02X", (unsigned)c);
    }
}

size_t rk__lex_string_decode(const rk__lexer *lx, const rk__token *tok, char *out, size_t cap)
{
    const char *s;
    uint32_t p, end;
    size_t k = 0;

    if (tok->kind != RK_TOK_STRING || tok->length < 2) {
        if (cap)
            out[0] = '\0';
        return 0;
    }
    s = lx->src.text;
    end = tok->offset + tok->length - 1; /* the closing quote */
    for (p = tok->offset + 1; p < end; k++) {
        char c = s[p++];
        if (c == '\\') {
            char e = s[p++];
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case '0': c = '\0'; break;
            case 'x':
                c = (char)(hex_val((unsigned char)s[p]) * 16 + hex_val((unsigned char)s[p + 1]));
                p += 2;
                break;
            default: c = e; break; /* '\\' and '"' */
            }
        }
        if (k + 1 < cap)
            out[k] = c;
    }
    if (cap)
        out[k < cap ? k : cap - 1] = '\0';
    return k;
}
