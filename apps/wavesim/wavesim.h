/* wavesim.h - acoustic FDTD wave simulation on a RingKernel runtime (docs/WAVESIM.md).
 *
 * The second-order acoustic wave equation with variable density, p_tt = rho c^2 div((1/rho) grad p), on a
 * regular 2D or 3D grid of cell size dx, stepped with the three-level leapfrog scheme
 *
 *     p_next = 2 p - p_prev + (c dt / dx)^2 lap(p)        (5-point in 2D, 7-point in 3D)
 *
 * The step is the .rk stencil kernel of kernels/wave.rk, compiled at run time through compute.h for the
 * runtime's backend (CPU now; CUDA and Vulkan where their compute paths exist). Everything the step needs
 * lives in runtime buffers: the two pressure fields (ping-pong: the step writes p_next over p_prev), the
 * per-cell coefficient map (speed and density), the rigid-cell map (walls and obstacles) and the damping
 * map (the absorbing sponge). Per step the host only launches: the step, one tiny injection launch per
 * active source, and one probe launch that records the probes into a history buffer read back once per
 * chunk of steps.
 *
 * Geometry. Cells are indexed x fastest; (x, y, z) with z = 0 in 2D. The outermost ring of cells (x = 0,
 * x = nx - 1, ...) is the boundary, never updated by the stencil. WS_REFLECT makes it rigid (a closed box
 * with sound-hard walls); WS_ABSORB too, with a damping sponge layer of `sponge` cells inside it; WS_MUR
 * keeps it fluid and updates it with the first-order Mur condition (one more small launch per step).
 *
 * Errors: functions return 0 or a negative RK_E* code with rk_last_error() saying why.
 * Threads: one thread at a time per simulation (it uses its runtime's compute queue, compute.h).
 */
#ifndef WAVESIM_H
#define WAVESIM_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/compute.h"
#include "ringkernel/runtime.h"

typedef struct ws_sim ws_sim;

typedef enum ws_boundary {
    WS_REFLECT = 0, /* rigid walls: a closed box */
    WS_ABSORB = 1,  /* a damping sponge layer in front of the walls */
    WS_MUR = 2,     /* first-order Mur: the outer ring is fluid and updated by the one-way wave equation */
} ws_boundary;

typedef struct ws_config {
    uint32_t dims;         /* 2 or 3 */
    uint32_t nx, ny, nz;   /* cells per axis, the wall ring included (each >= 3; nz is ignored in 2D) */
    double dx;             /* cell size, m (> 0) */
    double c0;             /* speed of sound everywhere until ws_sim_set_speed, m/s (> 0) */
    double rho0;           /* density everywhere until ws_sim_set_density, kg/m^3; 0: 1.2 (air) */
    double c_max;          /* the largest speed a speed map may use, m/s; 0: c0 */
    /*
     * Time step, s. 0: courant times the CFL limit dx / (c_max sqrt(dims)). A dt above the CFL limit is
     * refused (RK_EINVAL): the leapfrog scheme is unstable there and would blow up, not merely be wrong.
     */
    double dt;
    double courant;        /* (0, 1]: the fraction of the CFL limit used when dt == 0; 0: 0.9 */
    ws_boundary boundary;
    uint32_t sponge;       /* WS_ABSORB: sponge width in cells; 0: max(8, shortest axis / 8) */
    double sponge_max;     /* WS_ABSORB: eta dt at the wall (the damping of the last cell); 0: 0.2 */
    uint32_t probe_chunk;  /* steps recorded on the device between read-backs of the probes; 0: 256 */
} ws_config;

/** The largest stable time step: dx / (c_max sqrt(dims)). */
double ws_cfl_limit(uint32_t dims, double dx, double c_max);

/**
 * Creates a simulation on rt (which must outlive it): compiles kernels/wave.rk for the runtime's backend
 * (the program cache of compute.h makes later starts fast), allocates the buffers, sets a uniform medium
 * of speed c0 and density rho0 and zero pressure. Returns 0; RK_EINVAL (a bad configuration or a dt above
 * the CFL limit, said in rk_last_error()); RK_ENOMEM; compute.h's errors (RK_ENOTSUP: no compute on this
 * backend, RK_ENODEV: no target compiler).
 */
int ws_sim_create(rk_runtime *rt, const ws_config *cfg, ws_sim **out);

/** Frees the simulation and its buffers. NULL is ignored. */
void ws_sim_destroy(ws_sim *s);

/* ---- Medium ----------------------------------------------------------------------------------------- */

/**
 * Sets the speed of sound of every cell (nx * ny * nz values, m/s; NULL: c0 everywhere). Each value must
 * be > 0 and <= c_max, else RK_EINVAL (a faster cell would break the CFL condition of the chosen dt).
 */
int ws_sim_set_speed(ws_sim *s, const float *c);

/** Sets the density of every cell (kg/m^3, each > 0; NULL: rho0 everywhere). Returns 0 or RK_EINVAL. */
int ws_sim_set_density(ws_sim *s, const float *rho);

/**
 * Marks the cells of the box [x0, x1) x [y0, y1) x [z0, z1) (clipped to the grid; z ignored in 2D) rigid
 * (solid != 0: a sound-hard obstacle that reflects) or fluid again (solid == 0; the boundary ring stays
 * rigid, except under WS_MUR). Returns 0 or RK_EINVAL for an empty box.
 */
int ws_sim_set_solid_box(ws_sim *s, uint32_t x0, uint32_t y0, uint32_t z0, uint32_t x1, uint32_t y1,
                         uint32_t z1, int solid);

/** Marks the cells within radius r (cells) of (cx, cy, cz) rigid: a disc in 2D, a ball in 3D. */
int ws_sim_set_solid_sphere(ws_sim *s, double cx, double cy, double cz, double r);

/** 1 if cell (x, y, z) is rigid (a wall or an obstacle), 0 if fluid, -1 outside the grid. */
int ws_sim_is_solid(const ws_sim *s, uint32_t x, uint32_t y, uint32_t z);

/* ---- Sources ---------------------------------------------------------------------------------------- */

typedef enum ws_wave {
    WS_RICKER = 0, /* Ricker wavelet (Mexican hat) of peak frequency freq, centred at t_start + 1.5/freq */
    WS_SINE = 1,   /* sin(2 pi freq (t - t_start)) from t_start, ramped in (and out) over one period */
} ws_wave;

typedef struct ws_source {
    ws_wave wave;
    double freq;       /* Hz (> 0) */
    double amp;        /* pressure added per step at the waveform's peak, Pa */
    double t_start;    /* s */
    double duration;   /* WS_SINE: s after t_start (0: forever); WS_RICKER: ignored (3 / freq) */
    uint32_t x, y, z;  /* the first cell */
    uint32_t len;      /* cells: 0 or 1: a point source; more: a line source along `axis` */
    uint32_t axis;     /* 0: x, 1: y, 2: z */
} ws_source;

/**
 * The waveform of src at time t, in [-1, 1]. The step from time t to t + dt adds amp times this to the
 * source's cells of p(t + dt): the source term of p_tt is amp w(t) / dt^2 per cell, which in 3D radiates
 * p(r, t) = amp w(t - r/c) dx / (4 pi C^2 r) with C = c dt / dx (r in m).
 */
double ws_source_wave(const ws_source *src, double t);

/**
 * Adds a source; *id (may be NULL) receives its id. Every cell of it must be a fluid cell off the
 * boundary ring. Returns 0; RK_EINVAL; RK_ELIMIT (WS_MAX_SOURCES active).
 */
#define WS_MAX_SOURCES 32
int ws_sim_add_source(ws_sim *s, const ws_source *src, uint32_t *id);

/** Moves source id to a new first cell (as ws_sim_add_source checks it). Returns 0 or RK_EINVAL. */
int ws_sim_move_source(ws_sim *s, uint32_t id, uint32_t x, uint32_t y, uint32_t z);

/** Removes source id. Returns 0 or RK_EINVAL. */
int ws_sim_remove_source(ws_sim *s, uint32_t id);

/**
 * A one-shot impulse: a Ricker point source of peak frequency freq starting now, removed by itself once
 * its wavelet has passed. Returns as ws_sim_add_source.
 */
int ws_sim_impulse(ws_sim *s, uint32_t x, uint32_t y, uint32_t z, double amp, double freq);

/* ---- Probes ----------------------------------------------------------------------------------------- */

#define WS_MAX_PROBES 64

/**
 * Adds a probe at cell (x, y, z), sampled after every step. Probes are added before the first step (all
 * histories then start together at t = dt). Returns 0; RK_EINVAL (outside the grid, or after a step);
 * RK_ELIMIT.
 */
int ws_sim_add_probe(ws_sim *s, uint32_t x, uint32_t y, uint32_t z, uint32_t *id);

/**
 * The samples of probe id so far: *n values, sample k taken at time (k + 1) dt. The pointer stays valid
 * until the next step. Reads back what the device holds first. Returns 0; RK_EINVAL; compute.h's errors.
 */
int ws_sim_probe_samples(ws_sim *s, uint32_t id, const float **samples, size_t *n);

/* ---- Stepping and state ------------------------------------------------------------------------------ */

/** Advances n steps (queued on the runtime; a later read waits for them). Returns 0 or compute.h's errors. */
int ws_sim_step(ws_sim *s, uint32_t n);

/** Copies the current pressure field (nx * ny * nz floats, Pa) to dst. Returns 0 or compute.h's errors. */
int ws_sim_read_pressure(ws_sim *s, float *dst);

/** Sets every pressure to zero (both time levels); sources and probes stay. Returns 0 or an error. */
int ws_sim_clear(ws_sim *s);

double ws_sim_dt(const ws_sim *s);
double ws_sim_time(const ws_sim *s);       /* steps * dt */
uint64_t ws_sim_steps(const ws_sim *s);
size_t ws_sim_cells(const ws_sim *s);      /* nx * ny * nz (nz = 1 in 2D) */
const ws_config *ws_sim_config(const ws_sim *s); /* with the defaults filled in and dt resolved */

#endif /* WAVESIM_H */
