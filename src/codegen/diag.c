/* diag.c - compiler diagnostics collected into a caller's buffer (diag.h). */
#include "codegen/diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void rk__diag_init(rk__diags *d, char *buf, size_t cap)
{
    d->buf = cap ? buf : NULL;
    d->cap = buf ? cap : 0;
    d->len = 0;
    d->errors = 0;
    d->dropped = 0;
    if (d->cap)
        d->buf[0] = '\0';
}

static void count(uint32_t *n)
{
    if (*n != UINT32_MAX)
        (*n)++;
}

/* Appends n bytes at *at if they fit below `end`; 0 if they do not (then nothing is written). */
static int put(char **at, const char *end, const char *s, size_t n)
{
    if ((size_t)(end - *at) < n)
        return 0;
    memcpy(*at, s, n);
    *at += n;
    return 1;
}

void rk__diag_error(rk__diags *d, const rk__source *src, rk__pos at, const char *fmt, ...)
{
    const char *name = src->name ? src->name : "<input>";
    uint32_t col = at.col ? at.col : 1, start, end, i;
    char *w, *lim;
    int n;
    va_list ap;

    count(&d->errors);
    /* The line holding the position: columns count bytes, so it starts col - 1 bytes earlier. */
    start = at.offset >= col - 1 ? at.offset - (col - 1) : 0;
    for (end = start; end < src->len && src->text[end] != '\n' && src->text[end] != '\r'; end++)
        ;
    if (d->cap == 0)
        goto dropped;
    w = d->buf + d->len;
    lim = d->buf + d->cap - 1; /* keep room for the NUL */

    n = snprintf(w, (size_t)(lim - w) + 1, "%s:%u:%u: error: ", name, (unsigned)at.line, (unsigned)col);
    if (n < 0 || n > lim - w)
        goto dropped;
    w += n;
    va_start(ap, fmt);
    n = vsnprintf(w, (size_t)(lim - w) + 1, fmt, ap);
    va_end(ap);
    if (n < 0 || n > lim - w)
        goto dropped;
    w += n;
    if (!put(&w, lim, "\n", 1))
        goto dropped;
    /* The source line, control bytes other than tab shown as '?' so the output stays one line of text. */
    if ((size_t)(lim - w) < (size_t)(end - start) + 1)
        goto dropped;
    for (i = start; i < end; i++) {
        unsigned char c = (unsigned char)src->text[i];
        *w++ = (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c;
    }
    *w++ = '\n';
    /* The caret line: the source line's tabs kept, so the caret lines up wherever tab stops are. */
    if ((size_t)(lim - w) < (size_t)(col - 1) + 2)
        goto dropped;
    for (i = start; i < start + col - 1; i++)
        *w++ = i < end && src->text[i] == '\t' ? '\t' : ' ';
    *w++ = '^';
    *w++ = '\n';
    *w = '\0';
    d->len = (size_t)(w - d->buf);
    return;

dropped:
    count(&d->dropped);
    if (d->cap)
        d->buf[d->len] = '\0'; /* undo a partial write */
}
