/* checker.h - the type checker of the kernel language (docs/DSL.md §3, §5, §6, §9); internal to
 * src/codegen/.
 *
 * rk__check() resolves the names of a parsed file, types every expression, checks the rules of DSL.md
 * (conversions, lvalues, address spaces, control flow, kernel kinds, intrinsic signatures, struct layout)
 * and the capabilities of the requested targets, and builds the typed IR of ir.h in the same walk, so no
 * emitter ever sees an unchecked construct. Every error is a diagnostic (diag.h) at the offending text;
 * the checker goes on after an error (an expression that did not check has type RK_TY_ERROR, which
 * silences the errors it would cause further up), so one run reports every independent error.
 *
 * Memory: the IR lives in the module's own arena (bounded by mem_limit). An arena failure unwinds the
 * walk with longjmp to rk__check(), which frees the module and returns the error; nothing is allocated
 * outside the arena, so nothing leaks.
 */
#ifndef RK_CODEGEN_CHECKER_H
#define RK_CODEGEN_CHECKER_H

#include <stddef.h>

#include "codegen/diag.h"
#include "codegen/intrinsics.h"
#include "codegen/ir.h"
#include "codegen/parser.h"

/** The bit of target t in a target set; RK__TGT_ALL is every target. */
#define RK__TGT_BIT(t) (1u << (t))
#define RK__TGT_ALL ((1u << RK_TGT_COUNT) - 1u)

/** The arena limit used when rk__check() is given 0. */
#define RK__CHECK_DEFAULT_MEM_LIMIT ((size_t)64 << 20)

/**
 * Checks the tree `ast` (which must have parsed without errors) for the targets in the set `targets`
 * (RK__TGT_BIT bits; 0 checks the language only) and builds its IR in *out. Errors go to `diags`.
 * Returns 0 when the walk completed: the module is complete and valid when diags->errors did not grow,
 * and must not be lowered otherwise (it then holds RK_TY_ERROR nodes). Returns RK_EINVAL for a NULL
 * argument, an ast without a file, or a target bit beyond RK_TGT_COUNT; RK_ELIMIT if the IR would
 * exceed mem_limit (0: the default); RK_ENOMEM. On failure *out holds no memory. Free with rk__ir_free().
 */
int rk__check(const rk__ast *ast, unsigned targets, rk__diags *diags, rk__ir_module *out, size_t mem_limit);

#endif /* RK_CODEGEN_CHECKER_H */
