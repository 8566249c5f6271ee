/* frontend_fuzz.c - libFuzzer target for the kernel language's compiler (issue [4]): any bytes go through
 * lexer -> parser -> checker (the language, then each target) -> IR dump -> every emitter, as
 * `ringkernel check --targets all` and `ringkernel codegen` would. The compiler must never crash, leak, read
 * out of bounds or hit undefined behaviour on any input (built with ASan + UBSan, every report fatal).
 *
 *   scripts/fuzz.sh 60            # build build-fuzz/ with clang, run 60 s over the seed corpus (*.rk)
 *
 * Memory limits are passed to the parser and the checker (the library's own limits, smaller here) so that a
 * huge input is rejected with RK_ELIMIT rather than exhausting libFuzzer's RSS limit.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codegen/checker.h"
#include "codegen/diag.h"
#include "codegen/emit.h"
#include "codegen/ir.h"
#include "codegen/parser.h"

#define FUZZ_MEM_LIMIT (64u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Emits the module for target t (checked for it first, as the CLI does). */
static void emit_for(const rk__ast *ast, rk__target t)
{
    static char buf[1 << 14];
    rk__ir_module mod = { 0 };
    rk__diags d;
    char *text = NULL;
    size_t len = 0;

    rk__diag_init(&d, buf, sizeof buf);
    if (rk__check(ast, RK__TGT_BIT(t), &d, &mod, FUZZ_MEM_LIMIT) == 0 && d.errors == 0 &&
        rk__emit(&mod, t, &ast->src, &d, &text, &len) == 0) {
        if (text == NULL || text[len] != '\0')
            abort(); /* rk__emit promises NUL-terminated text of len bytes */
        free(text);
    }
    rk__ir_free(&mod);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[1 << 14];
    rk__ast ast = { 0 };
    rk__ir_module mod = { 0 };
    rk__diags d;

    rk__diag_init(&d, buf, sizeof buf);
    if (rk__parse(&ast, "fuzz.rk", (const char *)data, size, &d, FUZZ_MEM_LIMIT) != 0 || d.errors > 0) {
        rk__ast_free(&ast);
        return 0;
    }
    rk__diag_init(&d, buf, sizeof buf);
    if (rk__check(&ast, 0, &d, &mod, FUZZ_MEM_LIMIT) == 0 && d.errors == 0) {
        size_t n = rk__ir_dump(&mod, NULL, 0);
        char *dump = malloc(n + 1);

        if (dump != NULL) {
            rk__ir_dump(&mod, dump, n + 1);
            free(dump);
        }
        for (int t = 0; t < RK_TGT_COUNT; t++)
            if (rk__emit_supported((rk__target)t))
                emit_for(&ast, (rk__target)t);
    }
    rk__ir_free(&mod);
    rk__ast_free(&ast);
    return 0;
}
