/* parser.h - the recursive-descent parser of the kernel language (docs/DSL.md §4); internal to src/codegen/.
 *
 * rk__parse() turns a source file into the tree of ast.h. Syntax errors are reported through diag.h in
 * the format of DSL.md §7, one per bad statement or declaration: after an error the parser skips to the
 * next ';' or '}' of the same nesting level (a declaration also stops before the next '@' or 'struct')
 * and goes on, so the user sees every independent error and the parser always terminates. Nesting of
 * statements and expressions together is limited to RK__PARSE_MAX_DEPTH levels (an error beyond it), so
 * the C stack use is bounded whatever the input.
 */
#ifndef RK_CODEGEN_PARSER_H
#define RK_CODEGEN_PARSER_H

#include <stddef.h>

#include "codegen/ast.h"
#include "codegen/diag.h"

/** The deepest nesting of blocks, statements, parentheses and unary operators accepted. */
#define RK__PARSE_MAX_DEPTH 256u

/** The arena limit used when rk__parse() is given 0. */
#define RK__PARSE_DEFAULT_MEM_LIMIT ((size_t)64 << 20)

/** A parsed file: the tree and the arena that holds it. */
typedef struct rk__ast {
    rk__arena arena;
    rk__source src; /* the text the tree points into */
    rk__node *file; /* RK_AST_FILE */
} rk__ast;

/**
 * Parses src[len] named `file` (NULL: "<input>") into *ast, reporting syntax errors (and the lexer's) to
 * `diags`; `file` and `src` must outlive the tree. The arena holds at most mem_limit bytes (0: the
 * default). Returns 0 when a tree was built (check diags->errors: with errors it is partial, ast.h);
 * RK_EINVAL if ast or diags is NULL or src is NULL with len > 0; RK_EOVERFLOW if len >= 4 GiB;
 * RK_ELIMIT if the tree would exceed mem_limit; RK_ENOMEM. On failure *ast holds no memory and ast->file
 * is NULL. Free a tree with rk__ast_free().
 */
int rk__parse(rk__ast *ast, const char *file, const char *src, size_t len, rk__diags *diags, size_t mem_limit);

/** Frees the tree (safe on a zeroed or already freed rk__ast). */
void rk__ast_free(rk__ast *ast);

#endif /* RK_CODEGEN_PARSER_H */
