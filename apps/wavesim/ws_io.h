/* ws_io.h - WaveSim's outputs: PNG frames (libpng), binaural WAV, probe CSV.
 *
 * Functions return 0 or a negative RK_E* code (RK_EIO for a file that cannot be written, with the path and
 * errno's text in rk_last_error(); RK_EINVAL for bad arguments; RK_ENOMEM).
 */
#ifndef WS_IO_H
#define WS_IO_H

#include <stddef.h>
#include <stdint.h>

/**
 * The diverging colour map: v in [-1, 1] (clamped) from blue (-1) through white (0) to red (+1), with a
 * perceptual ramp (the lightness falls linearly with |v|), so the sign and the size of a pressure read at
 * a glance.
 */
void ws_colormap(float v, uint8_t rgb[3]);

/** Writes an 8-bit RGB PNG of w x h pixels (rows top to bottom, 3 bytes per pixel). */
int ws_png_write_rgb(const char *path, const uint8_t *rgb, uint32_t w, uint32_t h);

/**
 * Writes a w x h field (x fastest) as a PNG with ws_colormap: a value of `scale` (> 0) is full colour;
 * scale 0 uses the 99.5th percentile of the magnitudes (a point source's own cell would otherwise set it). Cells with solid[i] != 0 (solid may be NULL) are drawn dark
 * grey. The row y = h - 1 is at the top, so +y points up as in a plot. `zoom` (>= 1) repeats every cell
 * zoom x zoom times.
 */
int ws_png_write_field(const char *path, const float *field, const uint8_t *solid, uint32_t w, uint32_t h,
                       float scale, uint32_t zoom);

/**
 * 3D fields to 2D images. ws_field_slice_z copies plane z of an nx x ny x nz field to out (nx * ny);
 * ws_field_maxproj_z writes, per (x, y), the value of largest magnitude along z (a volumetric
 * max-projection that keeps the sign). Both return 0 or RK_EINVAL (z out of range, NULL).
 */
int ws_field_slice_z(const float *field, uint32_t nx, uint32_t ny, uint32_t nz, uint32_t z, float *out);
int ws_field_maxproj_z(const float *field, uint32_t nx, uint32_t ny, uint32_t nz, float *out);

/**
 * Band-limited resampling of n samples at rate_in to rate_out (Hz) with a windowed-sinc (Blackman, 32
 * zero crossings each side) low-pass at min(rate_in, rate_out) / 2 * 0.95. Writes
 * floor(n * rate_out / rate_in) samples to *out (malloc'd; the caller frees) and their count to *nout.
 */
int ws_resample(const float *in, size_t n, double rate_in, double rate_out, float **out, size_t *nout);

/**
 * Writes a 16-bit PCM stereo WAV at rate_out Hz from two channels of n samples at rate_in Hz (resampled
 * with ws_resample). gain multiplies the samples before 16-bit conversion; gain 0 scales the louder
 * channel's peak to -1 dBFS (both channels by the same factor, so the interaural level difference stays).
 * A silent input writes silence. The header is the canonical 44-byte RIFF/WAVE with fmt and data chunks.
 */
int ws_wav_write(const char *path, const float *left, const float *right, size_t n, double rate_in,
                 uint32_t rate_out, double gain);

/**
 * Writes a CSV: a header "step,t_s,<names...>" and one row per sample k: k + 1, (k + 1) * dt, then
 * columns[c][k] for each column, with 9 significant digits.
 */
int ws_csv_write(const char *path, const char *const *names, const float *const *columns, size_t ncols,
                 size_t n, double dt);

#endif /* WS_IO_H */
