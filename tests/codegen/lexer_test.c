/* lexer_test.c - the kernel-language lexer (src/codegen/lexer.c) against docs/DSL.md §2 and §7.
 *
 * Token streams of the four example kernels of DSL.md §8 (embedded verbatim), every keyword and
 * punctuator from the lexer's own tables, numeric literal edge cases, comments, line/column tracking
 * (CR LF, lone CR, tabs: one column per byte), every error kind with its exact diagnostic text, and 20 000
 * random byte strings (NULs included) checked for termination, in-bounds spans and positions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "codegen/lexer.h"
#include "mix64.h"

#define MAX_TOKS 512

typedef struct lexed {
    rk__lexer lx;
    rk__diags d;
    rk__token tok[MAX_TOKS];
    size_t n;         /* tokens, EOF included */
    char diag[4096];
    char text[8192];  /* the rendered stream, see render() */
} lexed;

/* Appends a rendering of t: a keyword or punctuator as spelled, an identifier as its name, INT as
 * "<value>[:suffix]", FLOAT as "%g[:suffix]", STRING as spelled, ERROR as "ERR(<text>)", EOF as nothing. */
static void render(lexed *L, const rk__token *t)
{
    static const char *const suf[] = { "", ":u32", ":i32", ":u64", ":i64", ":f32", ":f64" };
    size_t len = strlen(L->text);
    char *w = L->text + len;
    size_t room = sizeof L->text - len;
    const char *sep = len ? " " : "";
    const char *src = L->lx.src.text + t->offset;

    switch (t->kind) {
    case RK_TOK_EOF: break;
    case RK_TOK_INT: snprintf(w, room, "%s%llu%s", sep, (unsigned long long)t->ival, suf[t->suffix]); break;
    case RK_TOK_FLOAT: snprintf(w, room, "%s%g%s", sep, t->fval, suf[t->suffix]); break;
    case RK_TOK_ERROR: snprintf(w, room, "%sERR(%.*s)", sep, (int)t->length, src); break;
    default: snprintf(w, room, "%s%.*s", sep, (int)t->length, src); break;
    }
}

/* Lexes src[len] named "t.rk" to EOF. */
static lexed *lex_n(const char *src, size_t len)
{
    static lexed L;
    rk__tok_kind k;

    memset(&L, 0, sizeof L);
    rk__diag_init(&L.d, L.diag, sizeof L.diag);
    assert_int_equal(rk__lex_init(&L.lx, "t.rk", src, len, &L.d), 0);
    do {
        assert_true(L.n < MAX_TOKS);
        k = rk__lex_next(&L.lx, &L.tok[L.n]);
        render(&L, &L.tok[L.n]);
        L.n++;
    } while (k != RK_TOK_EOF);
    return &L;
}

static lexed *lex(const char *src) { return lex_n(src, strlen(src)); }

static void expect_stream(const char *src, const char *want)
{
    lexed *L = lex(src);

    assert_string_equal(L->diag, "");
    assert_int_equal(L->d.errors, 0);
    assert_string_equal(L->text, want);
}

/* ---- The examples of DSL.md §8, verbatim. ---- */

#include "codegen/dsl_examples.h"

/* The token at (line, col) of L, or fail. */
static const rk__token *at(const lexed *L, uint32_t line, uint32_t col)
{
    for (size_t i = 0; i < L->n; i++)
        if (L->tok[i].line == line && L->tok[i].col == col)
            return &L->tok[i];
    fail_msg("no token at %u:%u", line, col);
    return NULL;
}

static void test_example_saxpy(void **state)
{
    lexed *L;

    (void)state;
    expect_stream(saxpy_rk, "@ kernel ( global ) void saxpy ( global f32 * y , global const f32 * x , f32 a , "
                            "u32 n ) { u32 i = global_id ( ) ; if ( i < n ) { y [ i ] = a * x [ i ] + y [ i ] "
                            "; } }");
    L = lex(saxpy_rk);
    assert_int_equal(L->n, 60);
    assert_int_equal(L->tok[0].kind, RK_TOK_AT);
    assert_int_equal(L->tok[0].line, 2);
    assert_int_equal(L->tok[0].col, 1);
    assert_int_equal(L->tok[3].kind, RK_TOK_KW_GLOBAL);
    assert_int_equal(at(L, 4, 5)->kind, RK_TOK_KW_U32);
    assert_int_equal(at(L, 4, 13)->kind, RK_TOK_IDENT);
    assert_int_equal(at(L, 6, 20)->kind, RK_TOK_IDENT); /* x in a * x[i] */
    assert_int_equal(L->tok[L->n - 1].kind, RK_TOK_EOF);
    assert_int_equal(L->tok[L->n - 1].line, 9);
    assert_int_equal(L->tok[L->n - 1].col, 1);
}

static void test_example_sum(void **state)
{
    lexed *L;

    (void)state;
    expect_stream(sum_rk,
                  "@ kernel ( global , workgroup = 256 ) void sum_u32 ( global const u32 * x , global u32 * total "
                  ", u32 n ) { shared u32 part [ 256 ] ; u32 t = local_id ( ) ; u32 i = global_id ( ) ; part [ t "
                  "] = i < n ? x [ i ] : 0 ; barrier ( ) ; for ( u32 s = 128 ; s > 0 ; s >>= 1 ) { if ( t < s ) { "
                  "part [ t ] += part [ t + s ] ; } barrier ( ) ; } if ( t == 0 ) { atomic_add ( total , part [ 0 "
                  "] ) ; } }");
    L = lex(sum_rk);
    assert_int_equal(L->tok[0].line, 3); /* the two-line block comment */
    assert_int_equal(at(L, 10, 32)->kind, RK_TOK_SHR_ASSIGN);
    assert_int_equal(at(L, 12, 21)->kind, RK_TOK_PLUS_ASSIGN);
    assert_int_equal(at(L, 8, 21)->kind, RK_TOK_QUESTION);
    assert_int_equal(at(L, 3, 29)->ival, 256);
    assert_int_equal(at(L, 3, 29)->suffix, RK_SUF_NONE);
}

static void test_example_heat7(void **state)
{
    lexed *L;

    (void)state;
    expect_stream(heat7_rk, "@ kernel ( stencil , radius = 1 ) void heat7 ( global const f32 * u , global f32 * "
                            "v , f32 alpha ) { f32 c = at ( u , 0 , 0 , 0 ) ; f32 lap = at ( u , - 1 , 0 , 0 ) "
                            "+ at ( u , 1 , 0 , 0 ) + at ( u , 0 , - 1 , 0 ) + at ( u , 0 , 1 , 0 ) + at ( u , "
                            "0 , 0 , - 1 ) + at ( u , 0 , 0 , 1 ) - 6:f32 * c ; store ( v , c + alpha * lap ) "
                            "; }");
    L = lex(heat7_rk);
    assert_int_equal(at(L, 7, 50)->kind, RK_TOK_FLOAT);
    assert_true(at(L, 7, 50)->fval == 6.0);
    assert_int_equal(at(L, 7, 50)->length, 4);
}

static void test_example_echo(void **state)
{
    lexed *L;
    char topic[32];

    (void)state;
    expect_stream(echo_rk,
                  "struct Ping { u64 value ; u32 hops ; u32 reserved ; } ; struct Stats { u64 handled ; u64 "
                  "last_physical ; } ; @ kernel ( ring ) i32 echo ( global const envelope * env , global const "
                  "Ping * in , global Stats * st ) { st -> handled += 1 ; st -> last_physical = hlc_now ( ) . "
                  "physical ; if ( ( env -> flags & ENV_REQUEST ) == 0 ) { return 0 ; } Ping out = * in ; out . "
                  "hops += 1:u32 ; if ( out . hops > 65535:u32 ) { publish ( \"alerts/ping\" , & out ) ; } return "
                  "reply ( & out ) ; }");
    L = lex(echo_rk);
    assert_int_equal(at(L, 22, 20)->hex, 1);
    assert_int_equal(at(L, 23, 17)->kind, RK_TOK_STRING);
    assert_int_equal(rk__lex_string_decode(&L->lx, at(L, 23, 17), topic, sizeof topic), 11);
    assert_string_equal(topic, "alerts/ping");
}

/* ---- Keywords and punctuators, from the lexer's own tables. ---- */

static void test_every_keyword(void **state)
{
    static const char *const spelled[] = {
#define SPELL(name, s) s,
        RK_LEX_KEYWORDS(SPELL)
#undef SPELL
    };
    int k = RK_TOK_KW_BOOL;
    char buf[64];

    (void)state;
    assert_int_equal(sizeof spelled / sizeof spelled[0], 25);
    for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++, k++) {
        lexed *L = lex(spelled[i]);
        assert_int_equal(L->n, 2);
        assert_int_equal(L->tok[0].kind, k);
        assert_string_equal(rk__lex_tok_spelling((rk__tok_kind)k), spelled[i]);
        snprintf(buf, sizeof buf, "'%s'", spelled[i]);
        assert_string_equal(rk__lex_tok_name((rk__tok_kind)k), buf);
        /* A keyword with more identifier characters is an identifier. */
        snprintf(buf, sizeof buf, "%s_1", spelled[i]);
        L = lex(buf);
        assert_int_equal(L->tok[0].kind, RK_TOK_IDENT);
        assert_int_equal(L->tok[0].length, strlen(buf));
    }
    expect_stream("kernel float int Vec3 IF __x _", "kernel float int Vec3 IF __x _");
    assert_int_equal(lex("kernel")->tok[0].kind, RK_TOK_IDENT);
}

static void test_every_punctuator(void **state)
{
    static const char *const spelled[] = {
#define SPELL(name, s) s,
        RK_LEX_PUNCTUATORS(SPELL)
#undef SPELL
    };
    char all[512] = "";
    int k = RK_TOK_LPAREN;
    lexed *L;

    (void)state;
    assert_int_equal(sizeof spelled / sizeof spelled[0], 46);
    for (size_t i = 0; i < sizeof spelled / sizeof spelled[0]; i++, k++) {
        L = lex(spelled[i]);
        assert_int_equal(L->n, 2);
        assert_int_equal(L->tok[0].kind, k);
        assert_int_equal(L->tok[0].length, strlen(spelled[i]));
        strcat(all, spelled[i]);
        strcat(all, " ");
    }
    L = lex(all);
    assert_int_equal(L->n, 47);
    for (size_t i = 0; i < 46; i++)
        if ((int)L->tok[i].kind != RK_TOK_LPAREN + (int)i)
            fail_msg("token %zu of '%s': %s", i, all, rk__lex_tok_name(L->tok[i].kind));
    /* Longest match. */
    expect_stream("a<<=b>>=c", "a <<= b >>= c");
    expect_stream(">>>=", ">> >=");
    expect_stream("+++", "++ +");
    expect_stream("x--y", "x -- y");
    expect_stream("p->q-->r", "p -> q -- > r");
    expect_stream("a&&&b||||c", "a && & b || || c");
    expect_stream("!==!", "!= = !");
    expect_stream("a.b.c", "a . b . c");
    assert_string_equal(rk__lex_tok_name(RK_TOK_IDENT), "identifier");
    assert_string_equal(rk__lex_tok_name(RK_TOK_SHL_ASSIGN), "'<<='");
    assert_string_equal(rk__lex_tok_name((rk__tok_kind)RK_TOK__COUNT), "unknown token");
    assert_null(rk__lex_tok_spelling(RK_TOK_INT));
}

/* ---- Numbers. ---- */

typedef struct num_case {
    const char *src;
    rk__tok_kind kind;
    rk__lit_suffix suffix;
    uint64_t ival;
    double fval;
} num_case;

static void test_numeric_literals(void **state)
{
    static const num_case cases[] = {
        { "0", RK_TOK_INT, RK_SUF_NONE, 0, 0 },
        { "42", RK_TOK_INT, RK_SUF_NONE, 42, 0 },
        { "0u", RK_TOK_INT, RK_SUF_U32, 0, 0 },
        { "0x1F", RK_TOK_INT, RK_SUF_NONE, 0x1f, 0 },
        { "0Xdead_beef", RK_TOK_ERROR, RK_SUF_NONE, 0, 0 }, /* no digit separators */
        { "0xffffffffffffffff", RK_TOK_INT, RK_SUF_NONE, UINT64_MAX, 0 },
        { "0x0000000000000000000001", RK_TOK_INT, RK_SUF_NONE, 1, 0 },
        { "0x1f32", RK_TOK_INT, RK_SUF_NONE, 0x1f32, 0 }, /* hex digits, not a suffix */
        { "0b1011", RK_TOK_INT, RK_SUF_NONE, 11, 0 },
        { "0B1u64", RK_TOK_INT, RK_SUF_U64, 1, 0 },
        { "4294967295u", RK_TOK_INT, RK_SUF_U32, UINT32_MAX, 0 },
        { "4294967295u32", RK_TOK_INT, RK_SUF_U32, UINT32_MAX, 0 },
        { "2147483648i32", RK_TOK_INT, RK_SUF_I32, 2147483648u, 0 },
        { "9223372036854775808i64", RK_TOK_INT, RK_SUF_I64, 9223372036854775808u, 0 },
        { "18446744073709551615", RK_TOK_INT, RK_SUF_NONE, UINT64_MAX, 0 },
        { "18446744073709551615u64", RK_TOK_INT, RK_SUF_U64, UINT64_MAX, 0 },
        { "0xFFFFu", RK_TOK_INT, RK_SUF_U32, 0xffff, 0 },
        { "1.5", RK_TOK_FLOAT, RK_SUF_NONE, 0, 1.5 },
        { "0.1", RK_TOK_FLOAT, RK_SUF_NONE, 0, (double)0.1f }, /* untyped: f32 by default */
        { "0.1f", RK_TOK_FLOAT, RK_SUF_F32, 0, (double)0.1f },
        { "0.1f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 0.1 },
        { "1e3", RK_TOK_FLOAT, RK_SUF_NONE, 0, 1000.0 },
        { "1E+2", RK_TOK_FLOAT, RK_SUF_NONE, 0, 100.0 },
        { "1.5e-3f", RK_TOK_FLOAT, RK_SUF_F32, 0, (double)1.5e-3f },
        { "2.5e-3f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 2.5e-3 },
        { "2f", RK_TOK_FLOAT, RK_SUF_F32, 0, 2.0 },
        { "3f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 3.0 },
        { "0.000", RK_TOK_FLOAT, RK_SUF_NONE, 0, 0.0 },
        { "0e0", RK_TOK_FLOAT, RK_SUF_NONE, 0, 0.0 },
        { "123456789.125f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 123456789.125 },
        { "16777217f", RK_TOK_FLOAT, RK_SUF_F32, 0, 16777216.0 }, /* rounded to f32 (ties to even) */
        { "3.4028234663852886e38", RK_TOK_FLOAT, RK_SUF_NONE, 0, 3.4028234663852886e38 },
        { "1.7976931348623157e308f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 1.7976931348623157e308 },
        { "1e-50", RK_TOK_FLOAT, RK_SUF_NONE, 0, 0.0 },                 /* underflows f32 to zero */
        { "4.9e-324f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 4.9e-324 },      /* smallest subnormal */
        { "1e99999999999f64", RK_TOK_ERROR, RK_SUF_NONE, 0, 0 },        /* overflow: saturated exponent */
        { "1e-99999999999f64", RK_TOK_FLOAT, RK_SUF_F64, 0, 0.0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const num_case *c = &cases[i];
        lexed *L = lex(c->src);
        if (L->n != 2 || L->tok[0].kind != c->kind)
            fail_msg("'%s': %zu tokens, first %s; diag: %s", c->src, L->n, rk__lex_tok_name(L->tok[0].kind),
                     L->diag);
        assert_int_equal(L->tok[0].length, strlen(c->src));
        if (c->kind == RK_TOK_ERROR)
            continue;
        assert_int_equal(L->tok[0].suffix, c->suffix);
        if (c->kind == RK_TOK_INT && L->tok[0].ival != c->ival)
            fail_msg("'%s': value %llu", c->src, (unsigned long long)L->tok[0].ival);
        if (c->kind == RK_TOK_FLOAT && L->tok[0].fval != c->fval)
            fail_msg("'%s': value %.17g, want %.17g", c->src, L->tok[0].fval, c->fval);
    }
    /* A point needs digits on both sides; member access after a number stays three tokens. */
    expect_stream("1.", "1 .");
    expect_stream(".5", ". 5");
    expect_stream("1.x", "1 . x");
    expect_stream("1.5.5", "1.5 . 5");
    expect_stream("v.xyz", "v . xyz");
    expect_stream("-1", "- 1");
    expect_stream("0x10+0b1", "16 + 1");
    expect_stream("1.0e+5-2", "100000 - 2");
    assert_int_equal(lex("0x1")->tok[0].hex, 1);
    assert_int_equal(lex("0b1")->tok[0].hex, 1);
    assert_int_equal(lex("1")->tok[0].hex, 0);
}

/* ---- Errors: each kind with its exact diagnostic. ---- */

typedef struct err_case {
    const char *src;
    const char *diag;   /* the whole diagnostics buffer */
    const char *stream; /* the rendered tokens: lexing goes on after the error */
} err_case;

static void test_error_diagnostics(void **state)
{
    static const err_case cases[] = {
        { "1e", "t.rk:1:1: error: exponent has no digits\n1e\n^\n", "ERR(1e)" },
        { "x = 1e+ y;", "t.rk:1:5: error: exponent has no digits\nx = 1e+ y;\n    ^\n", "x = ERR(1e+) y ;" },
        { "x = 2.5Ex;", "t.rk:1:5: error: exponent has no digits\nx = 2.5Ex;\n    ^\n", "x = ERR(2.5Ex) ;" },
        { "x = 0x;", "t.rk:1:5: error: hexadecimal literal has no digits\nx = 0x;\n    ^\n", "x = ERR(0x) ;" },
        { "0xg1", "t.rk:1:1: error: hexadecimal literal has no digits\n0xg1\n^\n", "ERR(0xg1)" },
        { "0b", "t.rk:1:1: error: binary literal has no digits\n0b\n^\n", "ERR(0b)" },
        { "0b102", "t.rk:1:1: error: invalid digit '2' in binary literal\n0b102\n^\n", "ERR(0b102)" },
        { "a[007]", "t.rk:1:3: error: leading zeros are not allowed (there are no octal literals)\na[007]\n  ^\n",
          "a [ ERR(007) ]" },
        { "00.5", "t.rk:1:1: error: leading zeros are not allowed (there are no octal literals)\n00.5\n^\n",
          "ERR(00.5)" },
        { "12abc", "t.rk:1:1: error: invalid suffix 'abc' on integer literal\n12abc\n^\n", "ERR(12abc)" },
        { "1.5u", "t.rk:1:1: error: invalid suffix 'u' on floating-point literal\n1.5u\n^\n", "ERR(1.5u)" },
        { "1e5i64", "t.rk:1:1: error: invalid suffix 'i64' on floating-point literal\n1e5i64\n^\n",
          "ERR(1e5i64)" },
        { "0b1f", "t.rk:1:1: error: invalid suffix 'f' on integer literal\n0b1f\n^\n", "ERR(0b1f)" },
        { "1U", "t.rk:1:1: error: invalid suffix 'U' on integer literal\n1U\n^\n", "ERR(1U)" },
        { "18446744073709551616",
          "t.rk:1:1: error: integer literal is too large (more than 64 bits)\n18446744073709551616\n^\n",
          "ERR(18446744073709551616)" },
        { "0x10000000000000000",
          "t.rk:1:1: error: integer literal is too large (more than 64 bits)\n0x10000000000000000\n^\n",
          "ERR(0x10000000000000000)" },
        { "4294967296u",
          "t.rk:1:1: error: integer literal '4294967296u' is out of range for u32\n4294967296u\n^\n",
          "ERR(4294967296u)" },
        { "2147483649i32",
          "t.rk:1:1: error: integer literal '2147483649i32' is out of range for i32\n2147483649i32\n^\n",
          "ERR(2147483649i32)" },
        { "9223372036854775809i64",
          "t.rk:1:1: error: integer literal '9223372036854775809i64' is out of range for i64\n"
          "9223372036854775809i64\n^\n",
          "ERR(9223372036854775809i64)" },
        { "1e39f", "t.rk:1:1: error: floating-point literal '1e39f' is out of range for f32\n1e39f\n^\n",
          "ERR(1e39f)" },
        { "1e39", "t.rk:1:1: error: floating-point literal '1e39' is out of range for f32\n1e39\n^\n",
          "ERR(1e39)" },
        { "1e309f64", "t.rk:1:1: error: floating-point literal '1e309f64' is out of range for f64\n1e309f64\n^\n",
          "ERR(1e309f64)" },
        { "a $ b", "t.rk:1:3: error: invalid character '$'\na $ b\n  ^\n", "a ERR($) b" },
        { "#include", "t.rk:1:1: error: invalid character '#'\n#include\n^\n", "ERR(#) include" },
        { "x`\\#y", "t.rk:1:2: error: invalid character '`'\nx`\\#y\n ^\n", "x ERR(`\\#) y" },
        { "a \x7f b", "t.rk:1:3: error: invalid byte 0x7F\na ? b\n  ^\n", "a ERR(\x7f) b" },
        { "f(\xc3\xa9)", "t.rk:1:3: error: invalid byte 0xC3\nf(\xc3\xa9)\n  ^\n", "f ( ERR(\xc3\xa9) )" },
        { "x /* never closed\n * at all", "t.rk:1:3: error: unterminated block comment\nx /* never closed\n  ^\n",
          "x ERR(/* never closed\n * at all)" },
        { "/*/", "t.rk:1:1: error: unterminated block comment\n/*/\n^\n", "ERR(/*/)" },
        { "p(\"abc", "t.rk:1:3: error: unterminated string literal\np(\"abc\n  ^\n", "p ( ERR(\"abc)" },
        { "\"ab\ncd\"",
          "t.rk:1:1: error: unterminated string literal\n\"ab\n^\nt.rk:2:3: error: unterminated string literal\n"
          "cd\"\n  ^\n",
          "ERR(\"ab) cd ERR(\")" },
        { "\"a\\qb\" x", "t.rk:1:3: error: invalid escape sequence '\\q' in string literal\n\"a\\qb\" x\n  ^\n",
          "ERR(\"a\\qb\") x" },
        { "\"\\x4\"", "t.rk:1:2: error: invalid escape sequence '\\x': it takes two hex digits\n\"\\x4\"\n ^\n",
          "ERR(\"\\x4\")" },
        { "\"a\tb\"", "t.rk:1:3: error: invalid byte 0x09 in string literal\n\"a\tb\"\n  ^\n", "ERR(\"a\tb\")" },
        { "\"a\\", "t.rk:1:1: error: unterminated string literal\n\"a\\\n^\n", "ERR(\"a\\)" },
        /* Tabs are one column and are kept in the caret line; lines end at LF, CR LF or a lone CR. */
        { "\tx = 1e;", "t.rk:1:6: error: exponent has no digits\n\tx = 1e;\n\t    ^\n", "x = ERR(1e) ;" },
        { "a\r\nb\r\n \t1e\r\n", "t.rk:3:3: error: exponent has no digits\n \t1e\n \t^\n", "a b ERR(1e)" },
        { "a\rb\r  $\rc", "t.rk:3:3: error: invalid character '$'\n  $\n  ^\n", "a b ERR($) c" },
        /* Two errors on one line: both reported, in order. */
        { "0x 1e", "t.rk:1:1: error: hexadecimal literal has no digits\n0x 1e\n^\nt.rk:1:4: error: exponent has no "
                   "digits\n0x 1e\n   ^\n",
          "ERR(0x) ERR(1e)" },
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lexed *L = lex(cases[i].src);
        if (strcmp(L->diag, cases[i].diag) != 0)
            fail_msg("case %zu: diagnostics\n%s\nwant\n%s", i, L->diag, cases[i].diag);
        if (strcmp(L->text, cases[i].stream) != 0)
            fail_msg("case %zu: stream '%s', want '%s'", i, L->text, cases[i].stream);
        assert_true(L->d.errors >= 1);
        assert_int_equal(L->d.dropped, 0);
    }
}

static void test_error_nul_byte(void **state)
{
    static const char src[] = "a\0\0b";
    lexed *L;

    (void)state;
    L = lex_n(src, sizeof src - 1);
    assert_string_equal(L->diag, "t.rk:1:2: error: invalid byte 0x00\na??b\n ^\n");
    assert_string_equal(L->text, "a ERR() b");
    assert_int_equal(L->tok[1].length, 2);
}

static void test_error_float_too_long(void **state)
{
    char src[700];
    lexed *L;

    (void)state;
    memset(src, '1', sizeof src - 1);
    src[1] = '.';
    src[sizeof src - 1] = '\0';
    L = lex(src);
    assert_int_equal(L->n, 2);
    assert_int_equal(L->tok[0].kind, RK_TOK_ERROR);
    assert_non_null(strstr(L->diag, "t.rk:1:1: error: floating-point literal is too long (more than 512 bytes)\n"));
    /* 512 bytes is fine, and every digit counts: 0.000…01f64 in 511 bytes. */
    memset(src, '0', 512);
    src[1] = '.';
    memcpy(src + 507, "1f64", 5); /* 511 bytes */
    L = lex(src);
    assert_int_equal(L->tok[0].kind, RK_TOK_FLOAT);
    assert_true(L->tok[0].fval == 0.0); /* 1e-509 underflows f64 */
    memcpy(src, "1.0", 3);
    L = lex(src);
    assert_int_equal(L->tok[0].kind, RK_TOK_FLOAT);
    assert_true(L->tok[0].fval == 1.0);
}

/* A buffer too small for a diagnostic keeps whole ones only and counts the rest. */
static void test_diag_buffer_full(void **state)
{
    char buf[60];
    rk__diags d;
    rk__lexer lx;
    rk__token t;
    const char *src = "$ $ $";

    (void)state;
    rk__diag_init(&d, buf, sizeof buf);
    assert_int_equal(rk__lex_init(&lx, "f.rk", src, strlen(src), &d), 0);
    while (rk__lex_next(&lx, &t) != RK_TOK_EOF)
        ;
    assert_string_equal(buf, "f.rk:1:1: error: invalid character '$'\n$ $ $\n^\n");
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.dropped, 2);
    rk__diag_init(&d, NULL, 0);
    assert_int_equal(rk__lex_init(&lx, NULL, src, strlen(src), &d), 0);
    while (rk__lex_next(&lx, &t) != RK_TOK_EOF)
        ;
    assert_int_equal(d.errors, 3);
    assert_int_equal(d.dropped, 3);
}

/* ---- Comments, strings, positions. ---- */

static void test_comments(void **state)
{
    lexed *L;

    (void)state;
    expect_stream("a // b c\nd", "a d");
    expect_stream("a /* b /* c */ d */", "a d * /"); /* not nested */
    expect_stream("a/**/b/***/c/*x*//d", "a b c / d");
    expect_stream("//only", "");
    expect_stream("a //x\r\nb", "a b");
    expect_stream("a //x\rb", "a b");
    expect_stream("x/ /y", "x / / y");
    L = lex("/* one\n two\r\n three */ x");
    assert_int_equal(L->tok[0].line, 3);
    assert_int_equal(L->tok[0].col, 11);
    L = lex("");
    assert_int_equal(L->n, 1);
    assert_int_equal(L->tok[0].kind, RK_TOK_EOF);
    assert_int_equal(L->tok[0].offset, 0);
}

static void test_strings(void **state)
{
    char out[16];
    lexed *L;

    (void)state;
    L = lex("\"a\\n\\x41\\0b\\\\\\\"\\t\\r\"");
    assert_int_equal(L->n, 2);
    assert_int_equal(L->tok[0].kind, RK_TOK_STRING);
    assert_int_equal(rk__lex_string_decode(&L->lx, &L->tok[0], out, sizeof out), 9);
    assert_memory_equal(out, "a\nA\0b\\\"\t\r", 10);
    assert_int_equal(rk__lex_string_decode(&L->lx, &L->tok[0], out, 3), 9); /* truncated, like snprintf */
    assert_string_equal(out, "a\n");
    L = lex("\"\" \"caf\xc3\xa9\"");
    assert_int_equal(rk__lex_string_decode(&L->lx, &L->tok[0], out, sizeof out), 0);
    assert_int_equal(rk__lex_string_decode(&L->lx, &L->tok[1], out, sizeof out), 5);
    assert_string_equal(out, "caf\xc3\xa9");
    assert_int_equal(rk__lex_string_decode(&L->lx, &L->tok[2], out, sizeof out), 0); /* EOF */
    assert_string_equal(out, "");
}

static void test_positions(void **state)
{
    lexed *L;

    (void)state;
    /* LF, CR LF and lone CR each end one line; a tab is one column. */
    L = lex("a\nb\r\nc\rd\n\r\te\r\n\r\n  f");
    assert_string_equal(L->text, "a b c d e f");
    static const uint32_t want[][3] = { { 0, 1, 1 }, { 2, 2, 1 }, { 5, 3, 1 }, { 7, 4, 1 },
                                        { 11, 6, 2 }, { 18, 8, 3 } };
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(L->tok[i].offset, want[i][0]);
        assert_int_equal(L->tok[i].line, want[i][1]);
        assert_int_equal(L->tok[i].col, want[i][2]);
    }
    assert_int_equal(L->tok[6].kind, RK_TOK_EOF);
    assert_int_equal(L->tok[6].line, 8);
    assert_int_equal(L->tok[6].col, 4);
}

static void test_init_errors(void **state)
{
    rk__lexer lx;
    rk__diags d;

    (void)state;
    rk__diag_init(&d, NULL, 0);
    assert_int_equal(rk__lex_init(NULL, "f", "", 0, &d), RK_EINVAL);
    assert_int_equal(rk__lex_init(&lx, "f", "", 0, NULL), RK_EINVAL);
    assert_int_equal(rk__lex_init(&lx, "f", NULL, 1, &d), RK_EINVAL);
    assert_int_equal(rk__lex_init(&lx, "f", NULL, 0, &d), 0);
    assert_int_equal(rk__lex_init(&lx, "f", "x", (size_t)UINT32_MAX, &d), RK_EOVERFLOW);
}

/* ---- Robustness: random inputs. ---- */

/* Bytes that make interesting tokens more likely than uniform random bytes would. */
static const char alphabet[] = "0123456789xXbBeEfui.+-*/\"\\\n\r\t ()<>=&|!_aAz$#@\x00\xff";

static void test_random_inputs(void **state)
{
    static char src[96];
    uint64_t seed = 0x5eed;
    rk__lexer lx;
    rk__diags d;
    rk__token t;
    char diag[2048];

    (void)state;
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = (size_t)(mix64(++seed) % sizeof src), i;
        uint32_t last_end = 0, steps = 0;

        for (i = 0; i < len; i++) {
            uint64_t r = mix64(++seed);
            src[i] = (r & 3) ? alphabet[(r >> 8) % (sizeof alphabet - 1)] : (char)(r >> 16);
        }
        rk__diag_init(&d, diag, sizeof diag);
        assert_int_equal(rk__lex_init(&lx, "r.rk", src, len, &d), 0);
        for (;;) {
            rk__tok_kind k = rk__lex_next(&lx, &t);
            uint32_t line = 1, col = 1;

            /* Every token lies in the input, after the previous one, and its line and column are what a
             * plain rescan from the start says (L4). Each call consumes a byte or ends: L2. */
            assert_true(t.offset >= last_end && t.offset + t.length <= len);
            for (uint32_t p = 0; p < t.offset; p++) {
                if (src[p] == '\n' || (src[p] == '\r' && (p + 1 >= len || src[p + 1] != '\n')))
                    line++, col = 1;
                else
                    col++;
            }
            assert_int_equal(t.line, line);
            assert_int_equal(t.col, col);
            if (k == RK_TOK_EOF) {
                assert_int_equal(t.offset, len);
                break;
            }
            assert_true(t.length > 0);
            assert_true(++steps <= len);
            last_end = t.offset + t.length;
        }
        assert_int_equal(rk__lex_next(&lx, &t), RK_TOK_EOF); /* EOF again */
        assert_true(d.len < sizeof diag);
        assert_int_equal(strlen(diag), d.len);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_saxpy),
        cmocka_unit_test(test_example_sum),
        cmocka_unit_test(test_example_heat7),
        cmocka_unit_test(test_example_echo),
        cmocka_unit_test(test_every_keyword),
        cmocka_unit_test(test_every_punctuator),
        cmocka_unit_test(test_numeric_literals),
        cmocka_unit_test(test_error_diagnostics),
        cmocka_unit_test(test_error_nul_byte),
        cmocka_unit_test(test_error_float_too_long),
        cmocka_unit_test(test_diag_buffer_full),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_random_inputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
