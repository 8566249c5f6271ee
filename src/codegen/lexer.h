/* lexer.h - the lexer of the kernel language (docs/DSL.md §2); internal to src/codegen/.
 *
 * The lexer turns (src, len) into tokens on demand, one rk__lex_next() call per token. It never fails and
 * never reads outside the input: every byte sequence, embedded NULs included, lexes to a finite stream of
 * tokens ending in RK_TOK_EOF (returned again on every later call). Malformed input becomes an RK_TOK_ERROR
 * token covering the bad text plus one diagnostic (diag.h), and lexing resumes after it, so the parser sees
 * every later token and the user every error.
 *
 * Token kinds come from two X-macro tables, keywords and punctuators, which also drive the keyword lookup,
 * the longest-match punctuator scan and rk__lex_tok_name(): adding a token is one line.
 */
#ifndef RK_CODEGEN_LEXER_H
#define RK_CODEGEN_LEXER_H

#include <stddef.h>
#include <stdint.h>

#include "codegen/diag.h"

/* XX(NAME, spelling) */
#define RK_LEX_KEYWORDS(XX)                                                                              \
    XX(BOOL, "bool") XX(I32, "i32") XX(U32, "u32") XX(I64, "i64") XX(U64, "u64") XX(F32, "f32")           \
    XX(F64, "f64") XX(VOID, "void") XX(VEC2, "vec2") XX(VEC3, "vec3") XX(VEC4, "vec4")                   \
    XX(STRUCT, "struct") XX(CONST, "const") XX(GLOBAL, "global") XX(SHARED, "shared")                    \
    XX(CONSTANT, "constant") XX(IF, "if") XX(ELSE, "else") XX(FOR, "for") XX(WHILE, "while")             \
    XX(BREAK, "break") XX(CONTINUE, "continue") XX(RETURN, "return") XX(TRUE, "true") XX(FALSE, "false")

/* XX(NAME, spelling); the scan takes the longest spelling that matches. */
#define RK_LEX_PUNCTUATORS(XX)                                                                           \
    XX(LPAREN, "(") XX(RPAREN, ")") XX(LBRACKET, "[") XX(RBRACKET, "]") XX(LBRACE, "{") XX(RBRACE, "}")   \
    XX(COMMA, ",") XX(SEMI, ";") XX(COLON, ":") XX(QUESTION, "?") XX(DOT, ".") XX(ARROW, "->")          \
    XX(AT, "@") XX(PLUS, "+") XX(MINUS, "-") XX(STAR, "*") XX(SLASH, "/") XX(PERCENT, "%")               \
    XX(AMP, "&") XX(PIPE, "|") XX(CARET, "^") XX(TILDE, "~") XX(BANG, "!") XX(SHL, "<<") XX(SHR, ">>")   \
    XX(LT, "<") XX(GT, ">") XX(LE, "<=") XX(GE, ">=") XX(EQ, "==") XX(NE, "!=") XX(ANDAND, "&&")         \
    XX(OROR, "||") XX(ASSIGN, "=") XX(PLUS_ASSIGN, "+=") XX(MINUS_ASSIGN, "-=") XX(STAR_ASSIGN, "*=")    \
    XX(SLASH_ASSIGN, "/=") XX(PERCENT_ASSIGN, "%=") XX(AMP_ASSIGN, "&=") XX(PIPE_ASSIGN, "|=")           \
    XX(CARET_ASSIGN, "^=") XX(SHL_ASSIGN, "<<=") XX(SHR_ASSIGN, ">>=") XX(INC, "++") XX(DEC, "--")

typedef enum rk__tok_kind {
    RK_TOK_EOF = 0,
    RK_TOK_ERROR,  /* malformed input; a diagnostic was reported */
    RK_TOK_IDENT,
    RK_TOK_INT,    /* value in .ival, suffix in .suffix */
    RK_TOK_FLOAT,  /* value in .fval (exact in f32 for f32 literals), suffix in .suffix */
    RK_TOK_STRING, /* the span includes the quotes; escapes are valid, rk__lex_string_decode() decodes */
#define RK__TOK_ENUM(name, spelling) RK_TOK_KW_##name,
    RK_LEX_KEYWORDS(RK__TOK_ENUM)
#undef RK__TOK_ENUM
#define RK__TOK_ENUM(name, spelling) RK_TOK_##name,
    RK_LEX_PUNCTUATORS(RK__TOK_ENUM)
#undef RK__TOK_ENUM
    RK_TOK__COUNT
} rk__tok_kind;

/** The suffix of a numeric literal as written (docs/DSL.md §2); NONE means untyped. */
typedef enum rk__lit_suffix {
    RK_SUF_NONE = 0,
    RK_SUF_U32, /* "u" or "u32" */
    RK_SUF_I32,
    RK_SUF_U64,
    RK_SUF_I64,
    RK_SUF_F32, /* "f" or "f32" */
    RK_SUF_F64
} rk__lit_suffix;

typedef struct rk__token {
    rk__tok_kind kind;
    uint32_t offset;       /* first byte in the source */
    uint32_t length;       /* bytes; 0 only for EOF */
    uint32_t line;         /* 1-based line of the first byte */
    uint32_t col;          /* 1-based byte column of the first byte */
    rk__lit_suffix suffix; /* INT and FLOAT tokens */
    uint8_t hex;           /* INT: 1 if written in hexadecimal or binary (it changes the default type) */
    uint64_t ival;         /* INT: the value (fits the suffix's range, see DSL.md) */
    double fval;           /* FLOAT: the value, rounded to the suffix's type */
} rk__token;

typedef struct rk__lexer {
    rk__source src;
    rk__diags *diags; /* where errors go; never NULL after init */
    uint32_t pos;     /* next byte */
    uint32_t line;    /* line of pos */
    uint32_t col;     /* column of pos */
} rk__lexer;

/**
 * Starts lexing src[len] named `file` (NULL: "<input>"), reporting errors to `diags`. `file` and `src`
 * must outlive the lexer. Returns 0; RK_EINVAL if lx or diags is NULL or src is NULL with len > 0;
 * RK_EOVERFLOW if len >= 4 GiB (offsets are 32-bit).
 */
int rk__lex_init(rk__lexer *lx, const char *file, const char *src, size_t len, rk__diags *diags);

/** Lexes the next token into *tok and returns its kind. After the end, returns RK_TOK_EOF forever. */
rk__tok_kind rk__lex_next(rk__lexer *lx, rk__token *tok);

/** "identifier", "integer literal", "'+='", "'while'", …: the name of a kind for messages. Never NULL. */
const char *rk__lex_tok_name(rk__tok_kind kind);

/** The spelling of a keyword or punctuator kind ("while", "+="); NULL for the other kinds. */
const char *rk__lex_tok_spelling(rk__tok_kind kind);

/**
 * Decodes the STRING token `tok` of `lx` into out[cap] (NUL-terminated when cap > 0, truncated to fit)
 * and returns the decoded length, which may exceed cap - 1, like snprintf. Decoded strings may contain
 * NUL bytes (from "\0"). Returns 0 for a token that is not a STRING.
 */
size_t rk__lex_string_decode(const rk__lexer *lx, const rk__token *tok, char *out, size_t cap);

#endif /* RK_CODEGEN_LEXER_H */
