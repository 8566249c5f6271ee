/* ws_io.c - PNG (libpng), WAV and CSV writers of WaveSim. */
#include "ws_io.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

void ws_colormap(float v, uint8_t rgb[3])
{
    if (!(v == v)) {
        v = 0; /* NaN: a blown-up field shows white rather than garbage */
    }
    v = v < -1 ? -1 : v > 1 ? 1 : v;
    float a = fabsf(v);
    /* White at 0; towards +1 the green and blue fall (red), towards -1 red and green fall (blue). The
     * strong channel stays high but darkens a little at the end, so +-1 is a saturated, darker hue. */
    float weak = 1.0f - a, strong = 1.0f - 0.35f * a * a;
    float r = v >= 0 ? strong : weak, b = v >= 0 ? weak : strong, g = weak * (0.9f + 0.1f * weak);
    rgb[0] = (uint8_t)lrintf(r * 255);
    rgb[1] = (uint8_t)lrintf(g * 255);
    rgb[2] = (uint8_t)lrintf(b * 255);
}

int ws_png_write_rgb(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h)
{
    if (!path || !rgb || w == 0 || h == 0) {
        return rk__err(RK_EINVAL, "ws_png_write_rgb: NULL argument or empty image");
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        return rk__err(RK_EIO, "ws_png_write_rgb: cannot create '%s': %s", path, strerror(errno));
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = 0;
    if (!png || !info) {
        rc = rk__err(RK_ENOMEM, "ws_png_write_rgb: libpng could not allocate its state");
        goto out;
    }
    /* libpng reports errors by longjmp to here; nothing below holds resources that the ladder misses. */
    if (setjmp(png_jmpbuf(png))) {
        rc = rk__err(RK_EIO, "ws_png_write_rgb: libpng failed writing '%s'", path);
        goto out;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (uint32_t y = 0; y < h; y++) {
        png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
    }
    png_write_end(png, NULL);
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(f) != 0 && rc == 0) {
        rc = rk__err(RK_EIO, "ws_png_write_rgb: closing '%s': %s", path, strerror(errno));
    }
    return rc;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/*
 * The automatic colour scale: the 99.5th percentile of |v|. The maximum would be the source's own cell,
 * orders of magnitude above the field around it (a point source is singular), and wash the picture out.
 * O(n log n) per frame; fine next to writing the PNG.
 */
static int auto_scale(const float *field, size_t n, float *scale)
{
    float *a = malloc(n * sizeof *a);
    if (!a) {
        return rk__err(RK_ENOMEM, "ws_png_write_field: no memory for the colour scale of %zu values", n);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(field[i])) {
            a[m++] = fabsf(field[i]);
        }
    }
    qsort(a, m, sizeof *a, cmp_float);
    *scale = m ? a[(size_t)(0.995 * (double)(m - 1))] : 0;
    *scale = *scale > 0 ? *scale : 1;
    free(a);
    return 0;
}

int ws_png_write_field(const char *path, const float *field, const uint8_t *solid, uint32_t w, uint32_t h,
                       float scale, uint32_t zoom)
{
    if (!field || w == 0 || h == 0 || zoom == 0 || !(scale >= 0)) {
        return rk__err(RK_EINVAL, "ws_png_write_field: NULL field, empty image, zoom 0 or scale < 0");
    }
    if (scale == 0) {
        int rc = auto_scale(field, (size_t)w * h, &scale);
        if (rc != 0) {
            return rc;
        }
    }
    size_t W = (size_t)w * zoom, H = (size_t)h * zoom;
    uint8_t *img = malloc(W * H * 3);
    if (!img) {
        return rk__err(RK_ENOMEM, "ws_png_write_field: no memory for a %zux%zu image", W, H);
    }
    for (size_t Y = 0; Y < H; Y++) {
        size_t y = h - 1 - Y / zoom; /* +y up */
        for (size_t X = 0; X < W; X++) {
            size_t i = y * w + X / zoom;
            uint8_t *px = img + (Y * W + X) * 3;
            if (solid && solid[i]) {
                px[0] = px[1] = px[2] = 48;
            } else {
                ws_colormap(field[i] / scale, px);
            }
        }
    }
    int rc = ws_png_write_rgb(path, img, (uint32_t)W, (uint32_t)H);
    free(img);
    return rc;
}

int ws_field_slice_z(const float *field, uint32_t nx, uint32_t ny, uint32_t nz, uint32_t z, float *out)
{
    if (!field || !out || z >= nz) {
        return rk__err(RK_EINVAL, "ws_field_slice_z: NULL argument or z %u outside [0, %u)", z, nz);
    }
    memcpy(out, field + (size_t)z * nx * ny, (size_t)nx * ny * sizeof *out);
    return 0;
}

int ws_field_maxproj_z(const float *field, uint32_t nx, uint32_t ny, uint32_t nz, float *out)
{
    if (!field || !out || nz == 0) {
        return rk__err(RK_EINVAL, "ws_field_maxproj_z: NULL argument or nz 0");
    }
    size_t plane = (size_t)nx * ny;
    for (size_t i = 0; i < plane; i++) {
        float best = field[i];
        for (uint32_t z = 1; z < nz; z++) {
            float v = field[z * plane + i];
            best = fabsf(v) > fabsf(best) ? v : best;
        }
        out[i] = best;
    }
    return 0;
}

int ws_resample(const float *in, size_t n, double rate_in, double rate_out, float **out, size_t *nout)
{
    if (!in || !out || !nout || !(rate_in > 0) || !(rate_out > 0)) {
        return rk__err(RK_EINVAL, "ws_resample: NULL argument or a rate <= 0");
    }
    const double pi = 3.14159265358979323846;
    const int zeros = 32;
    size_t m = (size_t)floor((double)n * rate_out / rate_in);
    float *o = malloc((m ? m : 1) * sizeof *o);
    if (!o) {
        return rk__err(RK_ENOMEM, "ws_resample: no memory for %zu samples", m);
    }
    /* The cut-off in input samples: fc = 0.95 * min(rates) / 2, i.e. a sinc of period rate_in / (2 fc). */
    double fc = 0.95 * 0.5 * (rate_out < rate_in ? rate_out : rate_in) / rate_in; /* cycles per input sample */
    double half = zeros / (2 * fc);                                                /* half-width, samples */
    for (size_t k = 0; k < m; k++) {
        double t = (double)k * rate_in / rate_out; /* position in input samples */
        long lo = (long)ceil(t - half), hi = (long)floor(t + half);
        double acc = 0;
        for (long j = lo < 0 ? 0 : lo; j <= hi && j < (long)n; j++) {
            double x = j - t;
            double sinc = x == 0 ? 1 : sin(2 * pi * fc * x) / (pi * x);
            double u = x / half; /* in [-1, 1]: Blackman window */
            double win = 0.42 + 0.5 * cos(pi * u) + 0.08 * cos(2 * pi * u);
            acc += in[j] * (x == 0 ? 2 * fc : sinc) * win;
        }
        o[k] = (float)acc;
    }
    *out = o;
    *nout = m;
    return 0;
}

static void put_le(uint8_t *p, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

int ws_wav_write(const char *path, const float *left, const float *right, size_t n, double rate_in,
                 uint32_t rate_out, double gain)
{
    if (!path || !left || !right || rate_out == 0) {
        return rk__err(RK_EINVAL, "ws_wav_write: NULL argument or rate 0");
    }
    float *l = NULL, *r = NULL;
    int16_t *pcm = NULL;
    FILE *f = NULL;
    size_t m = 0, m2 = 0;
    int rc;
    if ((rc = ws_resample(left, n, rate_in, rate_out, &l, &m)) != 0 ||
        (rc = ws_resample(right, n, rate_in, rate_out, &r, &m2)) != 0) {
        goto out;
    }
    if ((uint64_t)m * 4 > UINT32_MAX - 36) {
        rc = rk__err(RK_EINVAL, "ws_wav_write: %zu frames do not fit a RIFF file", m);
        goto out;
    }
    if (gain == 0) {
        float peak = 0;
        for (size_t k = 0; k < m; k++) {
            peak = fabsf(l[k]) > peak ? fabsf(l[k]) : peak;
            peak = fabsf(r[k]) > peak ? fabsf(r[k]) : peak;
        }
        gain = peak > 0 ? 0.891 / peak : 1; /* -1 dBFS */
    }
    pcm = malloc((m ? m : 1) * 2 * sizeof *pcm);
    if (!pcm) {
        rc = rk__err(RK_ENOMEM, "ws_wav_write: no memory for %zu frames", m);
        goto out;
    }
    for (size_t k = 0; k < m; k++) {
        for (int c = 0; c < 2; c++) {
            double v = (c ? r[k] : l[k]) * gain * 32767.0;
            v = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
            pcm[2 * k + c] = (int16_t)lrint(v);
        }
    }
    /* The canonical header: RIFF size = 36 + data bytes; fmt chunk of 16 bytes, PCM (1), 2 channels. */
    uint8_t h[44];
    uint32_t data = (uint32_t)(m * 4);
    memcpy(h, "RIFF", 4), put_le(h + 4, 36 + data, 4), memcpy(h + 8, "WAVEfmt ", 8);
    put_le(h + 16, 16, 4), put_le(h + 20, 1, 2), put_le(h + 22, 2, 2), put_le(h + 24, rate_out, 4);
    put_le(h + 28, rate_out * 4, 4), put_le(h + 32, 4, 2), put_le(h + 34, 16, 2);
    memcpy(h + 36, "data", 4), put_le(h + 40, data, 4);
    uint8_t *le = (uint8_t *)pcm; /* samples to little-endian in place */
    for (size_t k = 0; k < m * 2; k++) {
        uint16_t u = (uint16_t)pcm[k];
        le[2 * k] = (uint8_t)u, le[2 * k + 1] = (uint8_t)(u >> 8);
    }
    if (!(f = fopen(path, "wb"))) {
        rc = rk__err(RK_EIO, "ws_wav_write: cannot create '%s': %s", path, strerror(errno));
        goto out;
    }
    if (fwrite(h, 1, sizeof h, f) != sizeof h || fwrite(pcm, 4, m, f) != m) {
        rc = rk__err(RK_EIO, "ws_wav_write: writing '%s': %s", path, strerror(errno));
        goto out;
    }
out:
    if (f && fclose(f) != 0 && rc == 0) {
        rc = rk__err(RK_EIO, "ws_wav_write: closing '%s': %s", path, strerror(errno));
    }
    free(pcm);
    free(r);
    free(l);
    return rc;
}

int ws_csv_write(const char *path, const char *const *names, const float *const *columns, size_t ncols,
                 size_t n, double dt)
{
    if (!path || (ncols && (!names || !columns))) {
        return rk__err(RK_EINVAL, "ws_csv_write: NULL argument");
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        return rk__err(RK_EIO, "ws_csv_write: cannot create '%s': %s", path, strerror(errno));
    }
    fprintf(f, "step,t_s");
    for (size_t c = 0; c < ncols; c++) {
        fprintf(f, ",%s", names[c]);
    }
    fputc('\n', f);
    for (size_t k = 0; k < n; k++) {
        fprintf(f, "%zu,%.9g", k + 1, (double)(k + 1) * dt);
        for (size_t c = 0; c < ncols; c++) {
            fprintf(f, ",%.9g", (double)columns[c][k]);
        }
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        return rk__err(RK_EIO, "ws_csv_write: writing '%s' failed", path);
    }
    return 0;
}
