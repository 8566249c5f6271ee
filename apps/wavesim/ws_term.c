/* ws_term.c - raw terminal, keys and drawing for the interactive mode of the WaveSim apps. */
#include "ws_term.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "core/internal.h"
#include "ws_io.h"

static struct termios saved;
static volatile sig_atomic_t raw_on;

/* Leaves the alternate screen, shows the cursor, resets colours. */
static const char restore_seq[] = "\x1b[0m\x1b[?25h\x1b[?1049l";

/* Async-signal-safe: tcsetattr and write only. */
static void restore_now(void)
{
    if (raw_on) {
        raw_on = 0;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        ssize_t w = write(STDOUT_FILENO, restore_seq, sizeof restore_seq - 1);
        (void)w;
    }
}

static void on_signal(int sig)
{
    restore_now();
    signal(sig, SIG_DFL);
    raise(sig);
}

void ws_term_leave(void)
{
    restore_now();
}

int ws_term_enter(void)
{
    static int atexit_done;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        return rk__err(RK_ENODEV, "wavesim: --interactive needs a terminal on stdin and stdout");
    }
    if (tcgetattr(STDIN_FILENO, &saved) != 0) {
        return rk__err(RK_EIO, "wavesim: tcgetattr: %s", strerror(errno));
    }
    struct termios raw = saved;
    /* No canonical mode and no echo; ISIG stays on so Ctrl-C is SIGINT, which restores the terminal. */
    raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
    raw.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    if (!atexit_done) {
        atexit(ws_term_leave);
        atexit_done = 1;
    }
    int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
    raw_on = 1; /* before tcsetattr: a signal in between still restores (saved is complete) */
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) {
        raw_on = 0;
        return rk__err(RK_EIO, "wavesim: tcsetattr: %s", strerror(errno));
    }
    static const char enter_seq[] = "\x1b[?1049h\x1b[?25l\x1b[2J";
    ssize_t w = write(STDOUT_FILENO, enter_seq, sizeof enter_seq - 1);
    (void)w;
    return 0;
}

int ws_term_key(void)
{
    unsigned char c;
    if (read(STDIN_FILENO, &c, 1) != 1) {
        return WS_KEY_NONE;
    }
    if (c != 0x1b) {
        return c;
    }
    /* An escape sequence: the arrows are ESC [ A..D (or ESC O A..D). A lone ESC is ignored. */
    unsigned char seq[2];
    if (read(STDIN_FILENO, &seq[0], 1) != 1 || (seq[0] != '[' && seq[0] != 'O') ||
        read(STDIN_FILENO, &seq[1], 1) != 1) {
        return WS_KEY_NONE;
    }
    switch (seq[1]) {
    case 'A': return WS_KEY_UP;
    case 'B': return WS_KEY_DOWN;
    case 'C': return WS_KEY_RIGHT;
    case 'D': return WS_KEY_LEFT;
    default: return WS_KEY_NONE;
    }
}

void ws_term_size(int *cols, int *rows)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 && ws.ws_row > 1) {
        *cols = ws.ws_col, *rows = ws.ws_row;
    } else {
        *cols = 80, *rows = 24;
    }
}

/* The colour of pixel (px, py) of a w x h view of the field, +y up. */
static void pixel(const float *field, const uint8_t *solid, uint32_t nx, uint32_t ny, float scale, int w, int h,
                  int px, int py, int mark_x, int mark_y, uint8_t rgb[3])
{
    uint32_t x = (uint32_t)((uint64_t)px * nx / (uint64_t)w);
    uint32_t y = ny - 1 - (uint32_t)((uint64_t)py * ny / (uint64_t)h);
    size_t i = (size_t)y * nx + x;
    uint32_t mx0 = mark_x >= 0 ? (uint32_t)mark_x * (uint32_t)w / nx : 0;
    uint32_t my0 = mark_y >= 0 ? (uint32_t)(ny - 1 - (uint32_t)mark_y) * (uint32_t)h / ny : 0;
    if (mark_x >= 0 && (uint32_t)px == mx0 && (uint32_t)py == my0) {
        rgb[0] = 255, rgb[1] = 220, rgb[2] = 0; /* the source */
    } else if (solid && solid[i]) {
        rgb[0] = rgb[1] = rgb[2] = 48;
    } else {
        ws_colormap(field[i] / scale, rgb);
    }
}

void ws_term_draw(const float *field, const uint8_t *solid, uint32_t nx, uint32_t ny, float scale, int mark_x,
                  int mark_y, int cols, int rows, const char *status)
{
    int w = cols, h = 2 * (rows - 1);
    /* Keep the aspect ratio: a character is about twice as tall as wide, so one cell ~ one pixel. */
    if ((double)w / h > (double)nx / ny) {
        w = (int)((double)h * nx / ny);
    } else {
        h = (int)((double)w * ny / nx) & ~1;
    }
    w = w < 1 ? 1 : w, h = h < 2 ? 2 : h;
    /* Per character at most 41 bytes (two 24-bit colours and the 3-byte block); per line 16 more. */
    size_t cap = (size_t)(h / 2) * ((size_t)w * 48 + 32) + 512;
    char *buf = malloc(cap);
    if (!buf) {
        return;
    }
    size_t n = (size_t)snprintf(buf, cap, "\x1b[H");
    for (int py = 0; py < h; py += 2) {
        for (int px = 0; px < w; px++) {
            uint8_t top[3], bot[3];
            pixel(field, solid, nx, ny, scale, w, h, px, py, mark_x, mark_y, top);
            pixel(field, solid, nx, ny, scale, w, h, px, py + 1, mark_x, mark_y, bot);
            n += (size_t)snprintf(buf + n, cap - n, "\x1b[38;2;%u;%u;%um\x1b[48;2;%u;%u;%um\xe2\x96\x80", top[0],
                                  top[1], top[2], bot[0], bot[1], bot[2]);
        }
        n += (size_t)snprintf(buf + n, cap - n, "\x1b[0m\x1b[K\r\n");
    }
    n += (size_t)snprintf(buf + n, cap - n, "\x1b[0m\x1b[J\x1b[%d;1H%.*s\x1b[K", rows, cols, status ? status : "");
    ssize_t wr = write(STDOUT_FILENO, buf, n < cap ? n : cap - 1);
    (void)wr;
    free(buf);
}
