/* ws_term.h - the interactive terminal of the WaveSim apps: raw keys and a colour view of a field.
 *
 * ws_term_enter puts the terminal (stdin/stdout) in raw mode: no echo, no line buffering, keys read without
 * waiting; the cursor is hidden and the alternate screen used. The terminal is restored by ws_term_leave, at
 * exit (atexit), and on SIGINT, SIGTERM, SIGHUP and SIGQUIT (the handler restores it and re-raises the
 * signal with its default action, so the exit status still says which signal ended the process).
 */
#ifndef WS_TERM_H
#define WS_TERM_H

#include <stddef.h>
#include <stdint.h>

enum {
    WS_KEY_NONE = -1,
    WS_KEY_UP = 0x101,
    WS_KEY_DOWN,
    WS_KEY_LEFT,
    WS_KEY_RIGHT,
};

/** Enters raw mode. Returns 0; RK_ENODEV when stdin or stdout is not a terminal; RK_EIO. */
int ws_term_enter(void);

/** Restores the terminal as ws_term_enter found it (idempotent). */
void ws_term_leave(void);

/** The next key without waiting: a byte, WS_KEY_UP..WS_KEY_RIGHT for the arrows, or WS_KEY_NONE. */
int ws_term_key(void);

/** The terminal's size in characters (80 x 24 when unknown). */
void ws_term_size(int *cols, int *rows);

/**
 * Draws an nx x ny field (x fastest, +y up) scaled into cols x (2 * rows) pixels with ws_colormap (24-bit
 * colour, two pixels per character with the upper half block), rigid cells (solid != NULL) dark, a marker
 * at cell (mark_x, mark_y) (negative: none), and `status` on the last line. One write per frame.
 */
void ws_term_draw(const float *field, const uint8_t *solid, uint32_t nx, uint32_t ny, float scale, int mark_x,
                  int mark_y, int cols, int rows, const char *status);

#endif /* WS_TERM_H */
