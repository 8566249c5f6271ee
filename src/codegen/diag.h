/* diag.h - compiler diagnostics for the kernel language (docs/DSL.md §7); internal to src/codegen/.
 *
 * A diagnostic is three lines appended to a caller-provided text buffer:
 *
 *   file:line:col: error: message
 *   <the source line, control bytes other than tab shown as '?'>
 *   <spaces, or the source line's tabs, up to the column>^
 *
 * Nothing is printed and nothing is allocated: the front end stays usable in a library and a fuzzer. A
 * diagnostic that does not fit whole in the buffer is dropped (counted, never cut in half), so the buffer
 * always holds complete diagnostics, NUL-terminated.
 */
#ifndef RK_CODEGEN_DIAG_H
#define RK_CODEGEN_DIAG_H

#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"

/** Where diagnostics go. Fields are read by the caller; only rk__diag_* functions write them. */
typedef struct rk__diags {
    char *buf;        /* caller's buffer, NUL-terminated whenever cap > 0 (may be NULL with cap 0) */
    size_t cap;       /* its size in bytes, NUL included */
    size_t len;       /* bytes used, NUL excluded */
    uint32_t errors;  /* errors reported, including the dropped ones (saturates at UINT32_MAX) */
    uint32_t dropped; /* diagnostics that did not fit in buf (saturates at UINT32_MAX) */
} rk__diags;

/** A source file as the front end sees it: a name for diagnostics and `len` bytes (NULs are bytes). */
typedef struct rk__source {
    const char *name; /* file name in diagnostics; "<input>" when NULL */
    const char *text; /* the bytes, not NUL-terminated */
    uint32_t len;
} rk__source;

/** A position: byte offset, 1-based line, 1-based byte column (docs/DSL.md §2). */
typedef struct rk__pos {
    uint32_t offset;
    uint32_t line;
    uint32_t col;
} rk__pos;

/** Starts an empty diagnostics buffer over buf[cap] (cap may be 0, then only the counters are kept). */
void rk__diag_init(rk__diags *d, char *buf, size_t cap);

/**
 * Appends an error at `at` (which must lie in `src`, or at its end) with a printf-style message. The
 * source line is the one containing at.offset: it starts at offset - (col - 1), since columns count bytes.
 */
void rk__diag_error(rk__diags *d, const rk__source *src, rk__pos at, const char *fmt, ...) RK__PRINTF(4, 5);

#endif /* RK_CODEGEN_DIAG_H */
