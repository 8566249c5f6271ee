/* wavesim_test.c - WaveSim's physics against analytic solutions, on the CPU backend (apps/wavesim).
 *
 * All runs are in grid units (dx = 1 m, c = 1 m/s, rho = 1) on small grids, so each test takes well under
 * a second of stepping:
 *   - CFL: a dt above dx / (c sqrt(dims)) and a speed map above c_max are refused with a message.
 *   - 3D point source: the Ricker peak arrives at r / c (within 2 % + one step) and its amplitude is the
 *     free-space Green's function amp dx / (4 pi C^2 r) (within 6 %), hence 1/r between two distances.
 *   - Closed 2D box (rigid walls): the spectrum of a probe peaks at f_mn = c/2 sqrt((m/Lx)^2 + (n/Ly)^2)
 *     (within 0.2 %) and, closer still, at the discrete dispersion relation of the scheme (within 0.02 %).
 *   - Absorbing boundaries (sponge; first-order Mur) vs rigid walls: the reflected energy at a probe (its
 *     signal minus the free-space signal of a grid too large to echo in time) falls by more than 25 dB.
 *   - Speed and density maps: a plane wave at an impedance step Z1 -> Z2 is reflected with
 *     R = (Z2 - Z1) / (Z2 + Z1) and transmitted with T = 2 Z2 / (Z2 + Z1) (within 3 %).
 *   - Obstacles: a rigid wall between source and probe cuts the arrival by more than 10x.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "ringkernel/compute.h"
#include "ringkernel/error.h"
#include "ringkernel/runtime.h"
#include "wavesim.h"

#define PI 3.14159265358979323846

static rk_runtime *rt;

static int setup(void **state)
{
    (void)state;
    int rc = rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU, .workers = 2 });
    if (rc != 0) {
        fprintf(stderr, "no CPU runtime: %s\n", rk_last_error());
    }
    return rc;
}

static int teardown(void **state)
{
    (void)state;
    rk_runtime_destroy(rt);
    return 0;
}

/* A simulation in grid units; dies with the library's message when it cannot be made. */
static ws_sim *sim_new(uint32_t dims, uint32_t nx, uint32_t ny, uint32_t nz, double dt, ws_boundary b)
{
    ws_config cfg = { .dims = dims, .nx = nx, .ny = ny, .nz = nz, .dx = 1, .c0 = 1, .rho0 = 1, .dt = dt,
                      .boundary = b };
    ws_sim *s = NULL;
    int rc = ws_sim_create(rt, &cfg, &s);
    if (rc != 0) {
        fail_msg("ws_sim_create: %s", rk_last_error());
    }
    return s;
}

static const float *probe(ws_sim *s, uint32_t id, size_t *n)
{
    const float *p = NULL;
    assert_int_equal(ws_sim_probe_samples(s, id, &p, n), 0);
    return p;
}

/* The time of the largest sample of p[lo, hi), refined by a parabola through it and its neighbours;
 * sample k is at (k + 1) dt. *peak gets the parabola's height. */
static double peak_time(const float *p, size_t lo, size_t hi, double dt, double *peak)
{
    size_t k = lo;
    for (size_t i = lo; i < hi; i++) {
        k = p[i] > p[k] ? i : k;
    }
    assert_true(k > lo && k + 1 < hi); /* an interior maximum, not an edge of the window */
    double a = p[k - 1], b = p[k], c = p[k + 1], d = 0.5 * (a - c) / (a - 2 * b + c);
    *peak = b - 0.25 * (a - c) * d;
    return ((double)k + 1 + d) * dt;
}

/* ---- CFL -------------------------------------------------------------------------------------------- */

static void test_cfl_refused(void **state)
{
    (void)state;
    for (uint32_t dims = 2; dims <= 3; dims++) {
        double limit = ws_cfl_limit(dims, 1, 1);
        assert_true(fabs(limit - 1 / sqrt((double)dims)) < 1e-12);
        ws_config cfg = { .dims = dims, .nx = 8, .ny = 8, .nz = 8, .dx = 1, .c0 = 1, .dt = limit * 1.001 };
        ws_sim *s = NULL;
        assert_int_equal(ws_sim_create(rt, &cfg, &s), RK_EINVAL);
        assert_null(s);
        assert_non_null(strstr(rk_last_error(), "CFL"));
        assert_non_null(strstr(rk_last_error(), "largest stable dt"));
        /* At the limit it is accepted, and dt = 0 picks courant (0.9) times the limit. */
        cfg.dt = limit;
        assert_int_equal(ws_sim_create(rt, &cfg, &s), 0);
        ws_sim_destroy(s);
        cfg.dt = 0;
        assert_int_equal(ws_sim_create(rt, &cfg, &s), 0);
        assert_true(fabs(ws_sim_dt(s) - 0.9 * limit) < 1e-12);
        /* A speed map faster than c_max would break the condition of the chosen dt: refused. */
        float *c = malloc(ws_sim_cells(s) * sizeof *c);
        assert_non_null(c);
        for (size_t i = 0; i < ws_sim_cells(s); i++) {
            c[i] = 1.0f;
        }
        assert_int_equal(ws_sim_set_speed(s, c), 0);
        c[ws_sim_cells(s) / 2] = 1.2f;
        assert_int_equal(ws_sim_set_speed(s, c), RK_EINVAL);
        assert_non_null(strstr(rk_last_error(), "CFL"));
        free(c);
        ws_sim_destroy(s);
    }
    /* A larger c_max lowers the automatic dt accordingly. */
    ws_config cfg = { .dims = 2, .nx = 8, .ny = 8, .dx = 1, .c0 = 1, .c_max = 2 };
    ws_sim *s = NULL;
    assert_int_equal(ws_sim_create(rt, &cfg, &s), 0);
    assert_true(fabs(ws_sim_dt(s) - 0.9 / (2 * sqrt(2.0))) < 1e-12);
    ws_sim_destroy(s);
}

/* ---- 3D point source -------------------------------------------------------------------------------- */

static void test_point_source_3d(void **state)
{
    (void)state;
    const uint32_t n = 72, c0 = 36;
    const double dt = 0.5, f0 = 0.07, C = 0.5;
    ws_sim *s = sim_new(3, n, n, n, dt, WS_ABSORB);
    ws_source src = { .wave = WS_RICKER, .freq = f0, .amp = 1, .x = c0, .y = c0, .z = c0 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), 0);
    const uint32_t r[] = { 8, 12, 16 };
    uint32_t id[4];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ws_sim_add_probe(s, c0 + r[i], c0, c0, &id[i]), 0);
    }
    assert_int_equal(ws_sim_add_probe(s, c0, c0 - 12, c0, &id[3]), 0); /* the same distance along -y */
    /* To t = 58: the direct wavelet has passed r = 16 (centre 1.5 / f0 + 16 = 37.4, half-width ~ 17)
     * before the first wall echo (path 35 + 19) can start. */
    assert_int_equal(ws_sim_step(s, 116), 0);
    double t_centre = 1.5 / f0, amp[3];
    for (int i = 0; i < 3; i++) {
        size_t m;
        const float *p = probe(s, id[i], &m);
        assert_int_equal(m, 116);
        double t = peak_time(p, 0, m, dt, &amp[i]) - t_centre;
        double expect_amp = 1.0 / (4 * PI * C * C * r[i]);
        printf("  r = %2u: arrival %.3f (r/c %u, %+.2f %%), peak %.5f (Green's function %.5f, %+.2f %%)\n", r[i],
               t, r[i], 100 * (t - r[i]) / r[i], amp[i], expect_amp, 100 * (amp[i] - expect_amp) / expect_amp);
        assert_true(fabs(t - r[i]) < 0.02 * r[i] + dt);
        assert_true(fabs(amp[i] - expect_amp) < 0.06 * expect_amp);
    }
    /* 1/r: the amplitude ratio between 8 and 16 is 2. */
    printf("  A(8)/A(16) = %.4f (1/r: 2)\n", amp[0] / amp[2]);
    assert_true(fabs(amp[0] / amp[2] - 2.0) < 0.04 * 2.0);
    /* Isotropy: the same distance along another axis sees the same wavelet. */
    size_t m;
    const float *py = probe(s, id[3], &m); /* m is set here, before peak_time reads it */
    double a_y, t_y = peak_time(py, 0, m, dt, &a_y) - t_centre;
    printf("  r = 12 along -y: arrival %.3f, peak %+.3f %% of the +x one\n", t_y, 100 * (a_y - amp[1]) / amp[1]);
    assert_true(fabs(t_y - 12) < 0.02 * 12 + dt);
    assert_true(fabs(a_y - amp[1]) < 0.01 * amp[1]);
    ws_sim_destroy(s);
}

/* ---- Closed 2D box ---------------------------------------------------------------------------------- */

/* |DFT| of p (Hann-windowed, mean removed) at frequency f, samples dt apart. */
static double spectrum_at(const float *p, size_t n, double dt, double mean, double f)
{
    double re = 0, im = 0, w = 2 * PI * f * dt;
    double cr = 1, ci = 0, sr = cos(w), si = -sin(w);
    for (size_t k = 0; k < n; k++) {
        double h = 0.5 - 0.5 * cos(2 * PI * (double)k / (double)(n - 1));
        double v = (p[k] - mean) * h;
        re += v * cr, im += v * ci;
        double t = cr * sr - ci * si;
        ci = cr * si + ci * sr, cr = t;
    }
    return sqrt(re * re + im * im);
}

static void test_box_modes_2d(void **state)
{
    (void)state;
    /* 42 x 32 cells: walls at 0 and 41 (31); the rigid faces are half a cell inside the wall cells, so the
     * fluid spans Lx = 40, Ly = 30. */
    const double dt = 0.5, Lx = 40, Ly = 30, C = 0.5;
    const uint32_t steps = 16000;
    ws_sim *s = sim_new(2, 42, 32, 1, dt, WS_REFLECT);
    ws_source src = { .wave = WS_RICKER, .freq = 0.02, .amp = 1, .x = 9, .y = 7 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), 0);
    uint32_t id;
    assert_int_equal(ws_sim_add_probe(s, 30, 23, 0, &id), 0);
    assert_int_equal(ws_sim_step(s, steps), 0);
    size_t n;
    const float *p = probe(s, id, &n);
    assert_int_equal(n, steps);
    double mean = 0;
    for (size_t k = 0; k < n; k++) {
        mean += p[k];
    }
    mean /= (double)n;
    /* The background: the median of the spectrum over the band. */
    enum { NB = 200 };
    double band[NB];
    for (int i = 0; i < NB; i++) {
        band[i] = spectrum_at(p, n, dt, mean, 0.005 + 0.035 * i / NB);
    }
    for (int i = 1; i < NB; i++) { /* insertion sort: 200 values */
        for (int j = i; j > 0 && band[j] < band[j - 1]; j--) {
            double t = band[j];
            band[j] = band[j - 1], band[j - 1] = t;
        }
    }
    double median = band[NB / 2];
    const int modes[][2] = { { 1, 0 }, { 0, 1 }, { 1, 1 }, { 2, 0 }, { 2, 1 } };
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        double fx = modes[m][0] / Lx, fy = modes[m][1] / Ly;
        double f_exact = 0.5 * sqrt(fx * fx + fy * fy);
        /* The scheme's own dispersion: sin^2(pi f dt) = C^2 (sin^2(pi m / 2 Lx) + sin^2(pi n / 2 Ly)). */
        double sx = sin(PI * modes[m][0] / (2 * Lx)), sy = sin(PI * modes[m][1] / (2 * Ly));
        double f_disc = asin(C * sqrt(sx * sx + sy * sy)) / (PI * dt);
        /* The largest spectral value within +-4 % on a grid of 1/20 of the resolution, then a parabola. */
        double lo = f_exact * 0.96, hi = f_exact * 1.04, step = 1.0 / (20.0 * n * dt), best_f = lo, best = 0;
        int at_edge = 1;
        for (double f = lo; f <= hi; f += step) {
            double v = spectrum_at(p, n, dt, mean, f);
            if (v > best) {
                best = v, best_f = f, at_edge = f < lo + step / 2 || f > hi - 1.5 * step;
            }
        }
        double a = spectrum_at(p, n, dt, mean, best_f - step), c = spectrum_at(p, n, dt, mean, best_f + step);
        double f_peak = best_f + step * 0.5 * (a - c) / (a - 2 * best + c);
        printf("  mode (%d,%d): peak %.6f, f_mn %.6f (%+.3f %%), discrete %.6f (%+.3f %%), %.0fx the median\n",
               modes[m][0], modes[m][1], f_peak, f_exact, 100 * (f_peak - f_exact) / f_exact, f_disc,
               100 * (f_peak - f_disc) / f_disc, best / median);
        assert_false(at_edge);
        assert_true(best > 20 * median);
        assert_true(fabs(f_peak - f_exact) < 0.002 * f_exact);
        assert_true(fabs(f_peak - f_disc) < 0.0002 * f_disc);
    }
    ws_sim_destroy(s);
}

/* ---- Absorbing boundary ----------------------------------------------------------------------------- */

/*
 * The probe signal 10 cells from a Ricker source (peak frequency 0.1) at the centre of an n x n grid, 700 steps. A 2D wavelet
 * has a tail (the 2D Green's function), so the reflections are measured against free space: the same run
 * on a grid so large that no echo reaches the probe within the run.
 */
static float *ricker_probe(uint32_t n, ws_boundary b)
{
    const double dt = 0.5, f0 = 0.1;
    ws_sim *s = sim_new(2, n, n, 1, dt, b);
    ws_source src = { .wave = WS_RICKER, .freq = f0, .amp = 1, .x = n / 2, .y = n / 2 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), 0);
    uint32_t id;
    assert_int_equal(ws_sim_add_probe(s, n / 2 + 10, n / 2, 0, &id), 0);
    assert_int_equal(ws_sim_step(s, 700), 0);
    size_t m;
    const float *p = probe(s, id, &m);
    float *copy = malloc(m * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, p, m * sizeof *copy);
    ws_sim_destroy(s);
    return copy;
}

static void test_absorbing_boundary(void **state)
{
    (void)state;
    /* Free space: 440 cells, the nearest echo path is 219 + 209 > 350 = the run's end (700 steps of 0.5). */
    float *free_ = ricker_probe(440, WS_REFLECT), *rigid = ricker_probe(160, WS_REFLECT),
          *sponge = ricker_probe(160, WS_ABSORB), *mur = ricker_probe(160, WS_MUR);
    /* The first echo in the 160-cell box (from x = 159: path 79 + 69) is centred at 1.5 / f0 + 148 = 163.
     * f0 = 0.1 (10 cells per wavelength): a sponge absorbs wavelengths shorter than its width; longer
     * ones see a step and reflect (docs/WAVESIM.md). */
    double e_free = 0, e_rigid = 0, e_sponge = 0, e_mur = 0, e_direct_diff = 0;
    for (size_t k = 0; k < 700; k++) {
        double r = rigid[k] - free_[k], a = sponge[k] - free_[k], m = mur[k] - free_[k];
        e_free += (double)free_[k] * free_[k];
        e_rigid += r * r, e_sponge += a * a, e_mur += m * m;
        if (k < 2 * 120) { /* before any echo: all four agree */
            e_direct_diff += r * r + a * a + m * m;
        }
    }
    double db = 10 * log10(e_sponge / e_rigid), db_mur = 10 * log10(e_mur / e_rigid);
    printf("  reflected energy at the probe: rigid walls %.4g, sponge %.4g (%.1f dB), Mur %.4g (%.1f dB); "
           "direct wavelet %.4g\n", e_rigid, e_sponge, db, e_mur, db_mur, e_free);
    assert_true(e_direct_diff < 1e-6 * e_free);
    assert_true(e_rigid > 0.2 * e_free); /* the rigid box really does echo */
    assert_true(db < -25);
    assert_true(db_mur < -25);
    free(mur);
    free(sponge);
    free(rigid);
    free(free_);
}

/* ---- Speed and density maps ------------------------------------------------------------------------ */

/* max |p[k]| for k in [lo, hi) (sample k at (k + 1) dt). */
static double window_peak(const float *p, size_t lo, size_t hi)
{
    double m = 0;
    for (size_t k = lo; k < hi; k++) {
        m = fabs(p[k]) > m ? fabs(p[k]) : m;
    }
    return m;
}

static void test_impedance_interface(void **state)
{
    (void)state;
    /* A plane wave in a rigid duct (6 cells high: the rigid walls keep a line source's wave plane) meets,
     * at x = 200, a medium of density 2 and speed 1.5: Z1 = 1, Z2 = 3, so the pressure is reflected with
     * R = (Z2 - Z1) / (Z2 + Z1) = 0.5 and transmitted with T = 2 Z2 / (Z2 + Z1) = 1.5. */
    const uint32_t nx = 400, ny = 6;
    const double dt = 0.4;
    ws_config cfg = { .dims = 2, .nx = nx, .ny = ny, .dx = 1, .c0 = 1, .rho0 = 1, .c_max = 1.5, .dt = dt,
                      .boundary = WS_REFLECT };
    ws_sim *s = NULL;
    assert_int_equal(ws_sim_create(rt, &cfg, &s), 0);
    float *c = malloc(nx * ny * sizeof *c), *rho = malloc(nx * ny * sizeof *rho);
    assert_non_null(c);
    assert_non_null(rho);
    for (uint32_t i = 0; i < nx * ny; i++) {
        int right = i % nx >= 200;
        c[i] = right ? 1.5f : 1.0f, rho[i] = right ? 2.0f : 1.0f;
    }
    assert_int_equal(ws_sim_set_speed(s, c), 0);
    assert_int_equal(ws_sim_set_density(s, rho), 0);
    rho[7] = 0;
    assert_int_equal(ws_sim_set_density(s, rho), RK_EINVAL);
    free(c);
    free(rho);
    ws_source src = { .wave = WS_RICKER, .freq = 0.03, .amp = 1, .x = 100, .y = 1, .len = 4, .axis = 1 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), 0);
    uint32_t before, after;
    assert_int_equal(ws_sim_add_probe(s, 150, 3, 0, &before), 0);
    assert_int_equal(ws_sim_add_probe(s, 260, 3, 0, &after), 0);
    const uint32_t steps = (uint32_t)(260 / dt);
    assert_int_equal(ws_sim_step(s, steps), 0);
    size_t n;
    float *inc = malloc(steps * sizeof *inc);
    assert_non_null(inc);
    memcpy(inc, probe(s, before, &n), steps * sizeof *inc);
    const float *tr = probe(s, after, &n);
    /* Centre t0 = 1.5 / f0 = 50. At x = 150: incident at 50 + 50, reflected at 50 + 150 (the wave from
     * the left wall, 100 + 150 away, comes after the run). At x = 260: transmitted at 50 + 100 + 60 / 1.5.
     * The interface sits between two cells and the face takes the mean density: its error is first order
     * in k dx (R 0.520 at f0 = 0.04, 0.509 at 0.03), hence the low frequency (25-50 cells per wavelength). */
    double a_inc = window_peak(inc, 0, (size_t)(125 / dt)), a_ref = window_peak(inc, (size_t)(140 / dt), n);
    double a_tr = window_peak(tr, 0, n);
    printf("  interface Z 1 -> 3: R %.4f (0.5), T %.4f (1.5)\n", a_ref / a_inc, a_tr / a_inc);
    assert_true(fabs(a_ref / a_inc - 0.5) < 0.03 * 0.5);
    assert_true(fabs(a_tr / a_inc - 1.5) < 0.03 * 1.5);
    free(inc);
    ws_sim_destroy(s);
}

/* ---- Sources ---------------------------------------------------------------------------------------- */

static void test_sine_source_and_impulses(void **state)
{
    (void)state;
    /* A sine source of frequency 0.05 for 300 time units: the probe oscillates at 0.05 (rising zero
     * crossings over the steady part) and is quiet once the tone has stopped: what is left 150 after the
     * end is the 2D wake and the echo of a sponge only 0.6 wavelengths wide (a tone still playing would
     * keep the steady amplitude). */
    const double dt = 0.5, f = 0.05;
    ws_sim *s = sim_new(2, 96, 96, 1, dt, WS_ABSORB);
    ws_source src = { .wave = WS_SINE, .freq = f, .amp = 1, .duration = 300, .x = 40, .y = 48 };
    uint32_t sid, id;
    assert_int_equal(ws_sim_add_source(s, &src, &sid), 0);
    assert_int_equal(ws_sim_add_probe(s, 50, 48, 0, &id), 0);
    assert_int_equal(ws_sim_step(s, 1000), 0);
    size_t n;
    const float *p = probe(s, id, &n);
    size_t first = 0, last = 0;
    int crossings = 0;
    for (size_t k = (size_t)(100 / dt); k < (size_t)(300 / dt); k++) {
        if (p[k - 1] < 0 && p[k] >= 0) {
            first = first ? first : k;
            last = k, crossings++;
        }
    }
    double freq = (crossings - 1) / ((double)(last - first) * dt);
    double late = window_peak(p, (size_t)(450 / dt), n), steady = window_peak(p, (size_t)(100 / dt), (size_t)(300 / dt));
    printf("  sine source: %.5f at the probe (%.3f), after it stopped %.2e of the steady amplitude\n", freq, f,
           late / steady);
    assert_true(fabs(freq - f) < 0.005 * f);
    assert_true(late < 0.1 * steady);
    /* Moving a source checks its cells as adding does. */
    assert_int_equal(ws_sim_move_source(s, sid, 0, 48, 0), RK_EINVAL);
    assert_int_equal(ws_sim_move_source(s, sid, 30, 30, 0), 0);
    assert_int_equal(ws_sim_remove_source(s, sid), 0);
    assert_int_equal(ws_sim_remove_source(s, sid), RK_EINVAL);
    /* Impulses remove themselves once their wavelet has passed (3 / freq): the slots come back. */
    for (int i = 0; i < WS_MAX_SOURCES; i++) {
        assert_int_equal(ws_sim_impulse(s, 20 + (uint32_t)i, 30, 0, 1, 0.1), 0);
    }
    assert_int_equal(ws_sim_impulse(s, 20, 31, 0, 1, 0.1), RK_ELIMIT);
    assert_int_equal(ws_sim_step(s, (uint32_t)(3 / 0.1 / dt) + 2), 0);
    assert_int_equal(ws_sim_impulse(s, 20, 31, 0, 1, 0.1), 0);
    ws_sim_destroy(s);
}

/* ---- Obstacles -------------------------------------------------------------------------------------- */

static double arrival_peak(int wall)
{
    const double dt = 0.5;
    ws_sim *s = sim_new(2, 96, 96, 1, dt, WS_ABSORB);
    if (wall) {
        assert_int_equal(ws_sim_set_solid_box(s, 46, 10, 0, 50, 86, 1, 1), 0);
        assert_int_equal(ws_sim_is_solid(s, 47, 48, 0), 1);
    }
    ws_source src = { .wave = WS_RICKER, .freq = 0.05, .amp = 1, .x = 30, .y = 48 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), 0);
    uint32_t id;
    assert_int_equal(ws_sim_add_probe(s, 66, 48, 0, &id), 0);
    assert_int_equal(ws_sim_step(s, 160), 0);
    size_t n;
    const float *p = probe(s, id, &n);
    double peak = 0;
    for (size_t k = 0; k < n; k++) {
        peak = fabs(p[k]) > peak ? fabs(p[k]) : peak;
    }
    ws_sim_destroy(s);
    return peak;
}

static void test_obstacle_shadow(void **state)
{
    (void)state;
    double open = arrival_peak(0), shadow = arrival_peak(1);
    printf("  peak behind the wall %.4g vs open %.4g (%.1f dB)\n", shadow, open, 20 * log10(shadow / open));
    assert_true(open > 0);
    assert_true(shadow < 0.1 * open);
    /* Sources inside an obstacle or a wall are refused. */
    ws_sim *s = sim_new(2, 32, 32, 1, 0.5, WS_REFLECT);
    assert_int_equal(ws_sim_set_solid_box(s, 10, 10, 0, 20, 20, 1, 1), 0);
    ws_source src = { .wave = WS_SINE, .freq = 0.1, .amp = 1, .x = 15, .y = 15 };
    assert_int_equal(ws_sim_add_source(s, &src, NULL), RK_EINVAL);
    src.x = 0;
    assert_int_equal(ws_sim_add_source(s, &src, NULL), RK_EINVAL);
    ws_sim_destroy(s);
}

int main(int argc, char **argv)
{
    (void)argc, (void)argv;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cfl_refused),
        cmocka_unit_test(test_point_source_3d),
        cmocka_unit_test(test_box_modes_2d),
        cmocka_unit_test(test_absorbing_boundary),
        cmocka_unit_test(test_impedance_interface),
        cmocka_unit_test(test_sine_source_and_impulses),
        cmocka_unit_test(test_obstacle_shadow),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
