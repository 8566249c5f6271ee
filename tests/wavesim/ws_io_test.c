/* ws_io_test.c - WaveSim's writers: PNG read back with libpng, the WAV header field by field and its
 * samples (resampling keeps a tone's frequency and the level difference between the ears), CSV rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <math.h>
#include <png.h>

#include "ringkernel/error.h"
#include "ws_io.h"

#define PI 3.14159265358979323846

static char dir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/ws_io_test.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    const char *names[] = { "f.png", "rgb.png", "a.wav", "p.csv" };
    char path[512];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    return rmdir(dir);
}

static void path_of(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", dir, name); }

/* Reads a PNG with libpng as 8-bit RGB; returns the pixels (malloc'd), *w and *h. */
static uint8_t *png_read_rgb(const char *path, uint32_t *w, uint32_t *h)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) {
        fail_msg("libpng could not read %s", path);
    }
    png_init_io(png, f);
    png_read_info(png, info);
    *w = png_get_image_width(png, info);
    *h = png_get_image_height(png, info);
    assert_int_equal(png_get_bit_depth(png, info), 8);
    assert_int_equal(png_get_color_type(png, info), PNG_COLOR_TYPE_RGB);
    uint8_t *px = malloc((size_t)*w * *h * 3);
    assert_non_null(px);
    for (uint32_t y = 0; y < *h; y++) {
        png_read_row(png, px + (size_t)y * *w * 3, NULL);
    }
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return px;
}

static void test_colormap(void **state)
{
    (void)state;
    uint8_t c[3];
    ws_colormap(0, c);
    assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255); /* zero is white */
    ws_colormap(1, c);
    assert_true(c[0] > 150 && c[1] == 0 && c[2] == 0); /* +1 red */
    ws_colormap(-1, c);
    assert_true(c[2] > 150 && c[0] == 0 && c[1] == 0); /* -1 blue */
    ws_colormap(5, c); /* clamped */
    uint8_t d[3];
    ws_colormap(1, d);
    assert_memory_equal(c, d, 3);
    ws_colormap(NAN, c);
    assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255);
    /* Monotonic: the weak channels fall as |v| grows. */
    for (int i = 1; i <= 10; i++) {
        ws_colormap(0.1f * i, c), ws_colormap(0.1f * (i - 1), d);
        assert_true(c[1] <= d[1] && c[2] <= d[2]);
    }
}

static void test_png_field_round_trip(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof path, "f.png");
    /* A 5 x 3 field: +1 at (0, 0), -1 at (4, 2), a rigid cell at (2, 1), zero elsewhere; zoom 2. */
    float f[15] = { 0 };
    uint8_t solid[15] = { 0 };
    f[0] = 2.0f, f[14] = -2.0f, solid[7] = 1;
    assert_int_equal(ws_png_write_field(path, f, solid, 5, 3, 2.0f, 2), 0);
    uint32_t w, h;
    uint8_t *px = png_read_rgb(path, &w, &h);
    assert_int_equal(w, 10);
    assert_int_equal(h, 6);
    uint8_t red[3], blue[3], white[3];
    ws_colormap(1, red), ws_colormap(-1, blue), ws_colormap(0, white);
    /* +y is up: field row 0 is the bottom rows of the image. */
    assert_memory_equal(px + ((size_t)5 * w + 0) * 3, red, 3);
    assert_memory_equal(px + ((size_t)4 * w + 1) * 3, red, 3);
    assert_memory_equal(px + ((size_t)0 * w + 9) * 3, blue, 3);
    static const uint8_t grey[3] = { 48, 48, 48 };
    assert_memory_equal(px + ((size_t)2 * w + 4) * 3, grey, 3);
    assert_memory_equal(px + ((size_t)2 * w + 0) * 3, white, 3);
    free(px);
    /* Auto scale (0): the largest magnitude is full colour. */
    assert_int_equal(ws_png_write_field(path, f, NULL, 5, 3, 0, 1), 0);
    px = png_read_rgb(path, &w, &h);
    assert_int_equal(w, 5);
    assert_memory_equal(px + ((size_t)2 * w + 0) * 3, red, 3);
    free(px);
    /* Errors: no file where the directory does not exist, with the path in the message. */
    assert_int_equal(ws_png_write_field("/nonexistent/dir/x.png", f, NULL, 5, 3, 1, 1), RK_EIO);
    assert_non_null(strstr(rk_last_error(), "/nonexistent/dir/x.png"));
    assert_int_equal(ws_png_write_field(path, f, NULL, 0, 3, 1, 1), RK_EINVAL);
}

static void test_slice_and_maxproj(void **state)
{
    (void)state;
    float v[2 * 2 * 3] = { 0 }, out[4];
    v[0 * 4 + 1] = 0.5f, v[1 * 4 + 1] = -0.9f, v[2 * 4 + 1] = 0.2f, v[2 * 4 + 3] = 0.7f;
    assert_int_equal(ws_field_maxproj_z(v, 2, 2, 3, out), 0);
    assert_true(out[0] == 0 && out[1] == -0.9f && out[2] == 0 && out[3] == 0.7f);
    assert_int_equal(ws_field_slice_z(v, 2, 2, 3, 2, out), 0);
    assert_true(out[1] == 0.2f && out[3] == 0.7f);
    assert_int_equal(ws_field_slice_z(v, 2, 2, 3, 3, out), RK_EINVAL);
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void test_wav(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof path, "a.wav");
    /* 0.25 s of a 440 Hz tone at 33 kHz (a simulation's rate), the right ear at half the level. */
    const double rate = 33000;
    const size_t n = 8250;
    float *l = malloc(n * sizeof *l), *r = malloc(n * sizeof *r);
    assert_non_null(l);
    assert_non_null(r);
    for (size_t k = 0; k < n; k++) {
        l[k] = (float)(0.01 * sin(2 * PI * 440 * k / rate));
        r[k] = 0.5f * l[k];
    }
    assert_int_equal(ws_wav_write(path, l, r, n, rate, 48000, 0), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t buf[44 + 12000 * 4 + 16];
    size_t got = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t frames = (size_t)floor(n * 48000.0 / rate); /* 12000 */
    assert_int_equal(got, 44 + frames * 4);
    assert_memory_equal(buf, "RIFF", 4);
    assert_int_equal(le32(buf + 4), 36 + frames * 4);
    assert_memory_equal(buf + 8, "WAVEfmt ", 8);
    assert_int_equal(le32(buf + 16), 16);          /* fmt chunk size */
    assert_int_equal(le16(buf + 20), 1);           /* PCM */
    assert_int_equal(le16(buf + 22), 2);           /* stereo */
    assert_int_equal(le32(buf + 24), 48000);       /* sample rate */
    assert_int_equal(le32(buf + 28), 48000 * 4);   /* byte rate */
    assert_int_equal(le16(buf + 32), 4);           /* block align */
    assert_int_equal(le16(buf + 34), 16);          /* bits per sample */
    assert_memory_equal(buf + 36, "data", 4);
    assert_int_equal(le32(buf + 40), frames * 4);
    /* The samples: peak at -1 dBFS (auto gain), the right channel half the left, and 440 Hz: count the
     * rising zero crossings of the left channel away from the edges (the resampler's ramps). */
    int peak_l = 0, peak_r = 0, crossings = 0;
    size_t first = 0, last = 0;
    int16_t prev = 0;
    for (size_t k = 0; k < frames; k++) {
        int16_t sl = (int16_t)le16(buf + 44 + 4 * k), sr = (int16_t)le16(buf + 44 + 4 * k + 2);
        peak_l = abs(sl) > peak_l ? abs(sl) : peak_l;
        peak_r = abs(sr) > peak_r ? abs(sr) : peak_r;
        if (k > 1000 && k < frames - 1000 && prev < 0 && sl >= 0) {
            first = first ? first : k;
            last = k;
            crossings++;
        }
        prev = sl;
    }
    assert_true(abs(peak_l - 29204) < 200); /* 0.891 * 32767 */
    assert_true(fabs((double)peak_r / peak_l - 0.5) < 0.01);
    double freq = (crossings - 1) * 48000.0 / (double)(last - first);
    printf("  resampled tone: %.2f Hz (440), right/left %.4f\n", freq, (double)peak_r / peak_l);
    assert_true(fabs(freq - 440) < 1);
    free(l);
    free(r);
    /* Silence stays silence (no division by a zero peak). */
    float z[100] = { 0 };
    assert_int_equal(ws_wav_write(path, z, z, 100, 48000, 48000, 0), 0);
}

static void test_resample_lowpass(void **state)
{
    (void)state;
    /* 96 kHz to 48 kHz: 1 kHz passes (amplitude within 1 %), 30 kHz (above the new Nyquist) is removed. */
    const size_t n = 9600;
    float *lo = malloc(n * sizeof *lo), *hi = malloc(n * sizeof *hi), *o = NULL;
    assert_non_null(lo);
    assert_non_null(hi);
    for (size_t k = 0; k < n; k++) {
        lo[k] = (float)sin(2 * PI * 1000 * k / 96000.0);
        hi[k] = (float)sin(2 * PI * 30000 * k / 96000.0);
    }
    size_t m;
    double peak = 0;
    assert_int_equal(ws_resample(lo, n, 96000, 48000, &o, &m), 0);
    assert_int_equal(m, 4800);
    for (size_t k = 500; k < m - 500; k++) {
        peak = fabs(o[k]) > peak ? fabs(o[k]) : peak;
    }
    free(o);
    assert_true(fabs(peak - 1) < 0.01);
    assert_int_equal(ws_resample(hi, n, 96000, 48000, &o, &m), 0);
    peak = 0;
    for (size_t k = 500; k < m - 500; k++) {
        peak = fabs(o[k]) > peak ? fabs(o[k]) : peak;
    }
    free(o);
    printf("  30 kHz through a 96->48 kHz resampler: %.2e\n", peak);
    assert_true(peak < 1e-3);
    free(lo);
    free(hi);
}

static void test_csv(void **state)
{
    (void)state;
    char path[512];
    path_of(path, sizeof path, "p.csv");
    float a[3] = { 1.5f, -2.25f, 0 }, b[3] = { 1e-7f, 3, 4 };
    const char *names[] = { "left", "right" };
    const float *cols[] = { a, b };
    assert_int_equal(ws_csv_write(path, names, cols, 2, 3, 0.5), 0);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[256];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "step,t_s,left,right\n");
    for (int k = 0; k < 3; k++) {
        unsigned step;
        double t, x, y;
        assert_non_null(fgets(line, sizeof line, f));
        assert_int_equal(sscanf(line, "%u,%lf,%lf,%lf", &step, &t, &x, &y), 4);
        assert_int_equal(step, k + 1);
        assert_true(t == 0.5 * (k + 1));
        assert_true((float)x == a[k] && (float)y == b[k]);
    }
    assert_null(fgets(line, sizeof line, f)); /* exactly three rows */
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_colormap),
        cmocka_unit_test(test_png_field_round_trip),
        cmocka_unit_test(test_slice_and_maxproj),
        cmocka_unit_test(test_wav),
        cmocka_unit_test(test_resample_lowpass),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
