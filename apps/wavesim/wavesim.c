/* wavesim.c - the simulation: maps, sources, probes, and the step as launches of kernels/wave.rk.
 *
 * Invariants:
 *   W1  cur is the buffer holding p at time steps * dt; the other one holds p one step earlier. A step
 *       launches the stencil with (cur, other), which writes p_next over p_prev in `other`, then swaps.
 *   W2  The device maps (kap, bb, damp) always match the host maps (c, rho, solid, the sponge) before a
 *       step: every setter marks them dirty and ws_sim_step uploads first. Steps never wait for the host.
 *   W3  Probe sample k (time (k + 1) dt) of probe i is hist[(k - flushed) * nprobes + i] on the device
 *       while k >= flushed, else in the host history. A chunk is read back when it is full or when samples
 *       are asked for, so recording costs one launch per step and one read per chunk.
 */
#include "wavesim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* The text of kernels/wave.rk, embedded by CMake (wave_rk.c). */
extern const char ws_wave_rk[];
extern const size_t ws_wave_rk_len;

typedef struct ws_src_slot {
    ws_source src;
    int used;
    int oneshot; /* ws_sim_impulse: removed once the wavelet has passed */
} ws_src_slot;

struct ws_sim {
    rk_runtime *rt;
    ws_config cfg;
    uint32_t nz;       /* 1 in 2D */
    size_t n;          /* cells */
    rk_program *prog;
    rk_buffer *p[2];   /* W1 */
    int cur;
    rk_buffer *kap, *bb, *damp;
    rk_buffer *mur_cells, *mur_inner; /* WS_MUR: the boundary cells and their inward neighbours */
    uint32_t mur_count;
    float *c, *rho, *sponge;   /* host maps */
    uint8_t *solid;
    int dirty;                 /* W2 */
    uint64_t steps;
    ws_src_slot src[WS_MAX_SOURCES];
    /* probes (W3) */
    uint32_t probe_cell[WS_MAX_PROBES];
    uint32_t nprobes;
    rk_buffer *probe_cells, *hist;
    uint32_t hist_slot;        /* samples of the current chunk on the device */
    float *samples;            /* host history: sample-major, nprobes per sample */
    size_t nsamples, samples_cap;
    float *probe_out;          /* one probe's column, returned by ws_sim_probe_samples */
};

double ws_cfl_limit(uint32_t dims, double dx, double c_max)
{
    return dx / (c_max * sqrt((double)dims));
}

static size_t cell_index(const ws_sim *s, uint32_t x, uint32_t y, uint32_t z)
{
    return (size_t)x + (size_t)s->cfg.nx * ((size_t)y + (size_t)s->cfg.ny * z);
}

/* 1 for the outer ring of cells (the boundary, which the stencil never updates). */
static int on_wall(const ws_sim *s, uint32_t x, uint32_t y, uint32_t z)
{
    if (x == 0 || y == 0 || x == s->cfg.nx - 1 || y == s->cfg.ny - 1) {
        return 1;
    }
    return s->cfg.dims == 3 && (z == 0 || z == s->nz - 1);
}

static int inside(const ws_sim *s, uint32_t x, uint32_t y, uint32_t z)
{
    return x < s->cfg.nx && y < s->cfg.ny && z < s->nz;
}

/* Fills the defaults of cfg and checks it, the CFL condition included. */
static int config_resolve(ws_config *cfg)
{
    if (cfg->dims != 2 && cfg->dims != 3) {
        return rk__err(RK_EINVAL, "wavesim: dims must be 2 or 3, not %u", cfg->dims);
    }
    if (cfg->dims == 2) {
        cfg->nz = 1;
    }
    if (cfg->nx < 3 || cfg->ny < 3 || (cfg->dims == 3 && cfg->nz < 3)) {
        return rk__err(RK_EINVAL, "wavesim: a grid of %ux%ux%u has no interior (each axis needs >= 3 cells, "
                       "the outer ring being the wall)", cfg->nx, cfg->ny, cfg->nz);
    }
    if ((uint64_t)cfg->nx * cfg->ny * cfg->nz > UINT32_MAX) {
        return rk__err(RK_EINVAL, "wavesim: %ux%ux%u cells exceed 2^32 (the kernels index with u32)",
                       cfg->nx, cfg->ny, cfg->nz);
    }
    if (!(cfg->dx > 0) || !(cfg->c0 > 0)) {
        return rk__err(RK_EINVAL, "wavesim: dx (%g m) and c0 (%g m/s) must be > 0", cfg->dx, cfg->c0);
    }
    if (cfg->rho0 == 0) {
        cfg->rho0 = 1.2;
    }
    if (cfg->c_max == 0) {
        cfg->c_max = cfg->c0;
    }
    if (!(cfg->rho0 > 0) || cfg->c_max < cfg->c0) {
        return rk__err(RK_EINVAL, "wavesim: rho0 (%g) must be > 0 and c_max (%g m/s) >= c0 (%g m/s)",
                       cfg->rho0, cfg->c_max, cfg->c0);
    }
    if (cfg->courant == 0) {
        cfg->courant = 0.9;
    }
    if (!(cfg->courant > 0 && cfg->courant <= 1)) {
        return rk__err(RK_EINVAL, "wavesim: courant must be in (0, 1], not %g", cfg->courant);
    }
    double limit = ws_cfl_limit(cfg->dims, cfg->dx, cfg->c_max);
    if (cfg->dt == 0) {
        cfg->dt = cfg->courant * limit;
    }
    if (!(cfg->dt > 0)) {
        return rk__err(RK_EINVAL, "wavesim: dt must be > 0, not %g", cfg->dt);
    }
    if (cfg->dt > limit) {
        return rk__err(RK_EINVAL, "wavesim: dt %.6g s violates the CFL condition: c_max dt / dx = %.4f > "
                       "1/sqrt(%u) = %.4f (dx %g m, c_max %g m/s); the largest stable dt is %.6g s",
                       cfg->dt, cfg->c_max * cfg->dt / cfg->dx, cfg->dims, 1 / sqrt((double)cfg->dims),
                       cfg->dx, cfg->c_max, limit);
    }
    if (cfg->boundary != WS_REFLECT && cfg->boundary != WS_ABSORB && cfg->boundary != WS_MUR) {
        return rk__err(RK_EINVAL, "wavesim: unknown boundary %d", (int)cfg->boundary);
    }
    uint32_t shortest = cfg->nx < cfg->ny ? cfg->nx : cfg->ny;
    if (cfg->dims == 3 && cfg->nz < shortest) {
        shortest = cfg->nz;
    }
    if (cfg->sponge == 0) {
        cfg->sponge = shortest / 8 > 8 ? shortest / 8 : 8;
    }
    if (cfg->sponge_max == 0) {
        cfg->sponge_max = 0.2;
    }
    if (!(cfg->sponge_max > 0 && cfg->sponge_max < 1)) {
        return rk__err(RK_EINVAL, "wavesim: sponge_max must be in (0, 1), not %g", cfg->sponge_max);
    }
    if (cfg->probe_chunk == 0) {
        cfg->probe_chunk = 256;
    }
    return 0;
}

/*
 * The sponge: eta dt rises quadratically from 0 at `sponge` cells from the wall to sponge_max at the wall.
 * A quadratic ramp reflects little off its own gradient; the wave crosses it twice (in, off the rigid wall,
 * out), so the amplitude that comes back is about exp(-2 sponge_max sponge / (3 C)), C = c dt / dx.
 */
static void sponge_fill(ws_sim *s)
{
    const ws_config *cfg = &s->cfg;
    for (uint32_t z = 0; z < s->nz; z++) {
        for (uint32_t y = 0; y < cfg->ny; y++) {
            for (uint32_t x = 0; x < cfg->nx; x++) {
                float v = 0;
                if (cfg->boundary == WS_ABSORB) {
                    /* Distance from the wall ring: the first fluid cell is at distance 1. */
                    uint32_t d = x < cfg->nx - 1 - x ? x : cfg->nx - 1 - x;
                    uint32_t dy = y < cfg->ny - 1 - y ? y : cfg->ny - 1 - y;
                    d = dy < d ? dy : d;
                    if (cfg->dims == 3) {
                        uint32_t dz = z < s->nz - 1 - z ? z : s->nz - 1 - z;
                        d = dz < d ? dz : d;
                    }
                    if (d <= cfg->sponge) {
                        double f = (double)(cfg->sponge + 1 - d) / cfg->sponge;
                        v = (float)(cfg->sponge_max * (f > 1 ? 1 : f) * (f > 1 ? 1 : f));
                    }
                }
                s->sponge[cell_index(s, x, y, z)] = v;
            }
        }
    }
}

/* The axis position one cell inward from the boundary (unchanged when not on it). */
static uint32_t inward(uint32_t v, uint32_t n)
{
    return v == 0 ? 1 : v == n - 1 ? n - 2 : v;
}

/*
 * WS_MUR: lists the fluid boundary cells with their inward neighbours (diagonally inward at edges and
 * corners, where first order is all the scheme claims anyway) and writes the damping map with
 * k = (C - 1) / (C + 1), C = c dt / dx, on those cells and 0 elsewhere. damp is scratch of n floats.
 */
static int mur_upload(ws_sim *s, float *damp)
{
    const ws_config *cfg = &s->cfg;
    size_t cap = rk_buffer_size(s->mur_cells) / sizeof(uint32_t);
    uint32_t *cells = malloc(cap * sizeof *cells), *inner = malloc(cap * sizeof *inner);
    int rc = 0;
    if (!cells || !inner) {
        rc = rk__err(RK_ENOMEM, "wavesim: no memory for the Mur boundary lists");
        goto out;
    }
    memset(damp, 0, s->n * sizeof *damp);
    uint32_t m = 0;
    for (uint32_t z = 0; z < s->nz; z++) {
        for (uint32_t y = 0; y < cfg->ny; y++) {
            for (uint32_t x = 0; x < cfg->nx; x++) {
                size_t i = cell_index(s, x, y, z);
                if (!on_wall(s, x, y, z) || s->solid[i]) {
                    continue;
                }
                double C = s->c[i] * cfg->dt / cfg->dx;
                cells[m] = (uint32_t)i;
                inner[m] = (uint32_t)cell_index(s, inward(x, cfg->nx), inward(y, cfg->ny),
                                                cfg->dims == 3 ? inward(z, s->nz) : 0);
                damp[i] = (float)((C - 1) / (C + 1));
                m++;
            }
        }
    }
    s->mur_count = m;
    if (m > 0 && ((rc = rk_buffer_write(s->mur_cells, 0, cells, m * sizeof *cells)) != 0 ||
                  (rc = rk_buffer_write(s->mur_inner, 0, inner, m * sizeof *inner)) != 0)) {
        goto out;
    }
    rc = rk_buffer_write(s->damp, 0, damp, s->n * sizeof *damp);
out:
    free(inner);
    free(cells);
    return rc;
}

/* W2: rebuilds the coefficient maps from the host maps and uploads them. */
static int maps_upload(ws_sim *s)
{
    float *kap = malloc(s->n * sizeof *kap), *bb = malloc(s->n * sizeof *bb);
    int rc = RK_ENOMEM;
    if (!kap || !bb) {
        rk__err(rc, "wavesim: no memory for the coefficient maps (%zu cells)", s->n);
        goto out;
    }
    double r = s->cfg.dt / s->cfg.dx;
    for (size_t i = 0; i < s->n; i++) {
        double courant2 = (double)s->c[i] * s->c[i] * r * r;
        kap[i] = s->solid[i] ? 0.0f : (float)(s->rho[i] / s->cfg.rho0 * courant2);
        bb[i] = s->solid[i] ? 0.0f : (float)(s->cfg.rho0 / s->rho[i]);
    }
    if ((rc = rk_buffer_write(s->kap, 0, kap, s->n * sizeof *kap)) != 0 ||
        (rc = rk_buffer_write(s->bb, 0, bb, s->n * sizeof *bb)) != 0) {
        goto out;
    }
    if (s->cfg.boundary == WS_MUR) {
        rc = mur_upload(s, kap); /* kap is free for reuse as the damping map */
    } else {
        rc = rk_buffer_write(s->damp, 0, s->sponge, s->n * sizeof *s->sponge);
    }
    if (rc != 0) {
        goto out;
    }
    s->dirty = 0;
out:
    free(kap);
    free(bb);
    return rc;
}

int ws_sim_create(rk_runtime *rt, const ws_config *cfg_in, ws_sim **out)
{
    if (!rt || !cfg_in || !out) {
        return rk__err(RK_EINVAL, "ws_sim_create: NULL argument");
    }
    ws_config cfg = *cfg_in;
    int rc = config_resolve(&cfg);
    if (rc != 0) {
        return rc;
    }
    ws_sim *s = calloc(1, sizeof *s);
    if (!s) {
        return rk__err(RK_ENOMEM, "ws_sim_create: no memory");
    }
    s->rt = rt;
    s->cfg = cfg;
    s->nz = cfg.dims == 3 ? cfg.nz : 1;
    s->n = (size_t)cfg.nx * cfg.ny * s->nz;
    s->c = malloc(s->n * sizeof *s->c);
    s->rho = malloc(s->n * sizeof *s->rho);
    s->sponge = malloc(s->n * sizeof *s->sponge);
    s->solid = calloc(s->n, 1);
    if (!s->c || !s->rho || !s->sponge || !s->solid) {
        rc = rk__err(RK_ENOMEM, "ws_sim_create: no memory for the maps of %zu cells", s->n);
        goto fail;
    }
    for (size_t i = 0; i < s->n; i++) {
        s->c[i] = (float)cfg.c0;
        s->rho[i] = (float)cfg.rho0;
    }
    for (uint32_t z = 0; z < s->nz; z++) {
        for (uint32_t y = 0; y < cfg.ny; y++) {
            for (uint32_t x = 0; x < cfg.nx; x++) {
                s->solid[cell_index(s, x, y, z)] = (uint8_t)(cfg.boundary != WS_MUR && on_wall(s, x, y, z));
            }
        }
    }
    sponge_fill(s);

    rk_program_opts po = { .name = "apps/wavesim/kernels/wave.rk" };
    if ((rc = rk_program_create(rt, ws_wave_rk, ws_wave_rk_len, &po, &s->prog)) != 0) {
        goto fail;
    }
    size_t bytes = s->n * sizeof(float);
    if ((rc = rk_buffer_create(rt, bytes, &s->p[0])) != 0 || (rc = rk_buffer_create(rt, bytes, &s->p[1])) != 0 ||
        (rc = rk_buffer_create(rt, bytes, &s->kap)) != 0 || (rc = rk_buffer_create(rt, bytes, &s->bb)) != 0 ||
        (rc = rk_buffer_create(rt, bytes, &s->damp)) != 0 ||
        (rc = rk_buffer_create(rt, WS_MAX_PROBES * sizeof(uint32_t), &s->probe_cells)) != 0 ||
        (rc = rk_buffer_create(rt, (size_t)cfg.probe_chunk * WS_MAX_PROBES * sizeof(float), &s->hist)) != 0) {
        goto fail;
    }
    if (cfg.boundary == WS_MUR) {
        /* The boundary has at most 2 (nx ny + ny nz + nz nx) cells in 3D, 2 (nx + ny) in 2D. */
        size_t nb = cfg.dims == 3 ? 2 * ((size_t)cfg.nx * cfg.ny + (size_t)cfg.ny * cfg.nz + (size_t)cfg.nz * cfg.nx)
                                  : 2 * ((size_t)cfg.nx + cfg.ny);
        if ((rc = rk_buffer_create(rt, nb * sizeof(uint32_t), &s->mur_cells)) != 0 ||
            (rc = rk_buffer_create(rt, nb * sizeof(uint32_t), &s->mur_inner)) != 0) {
            goto fail;
        }
    }
    if ((rc = maps_upload(s)) != 0) {
        goto fail;
    }
    *out = s;
    return 0;
fail:
    ws_sim_destroy(s);
    return rc;
}

void ws_sim_destroy(ws_sim *s)
{
    if (!s) {
        return;
    }
    rk_buffer_destroy(s->mur_inner);
    rk_buffer_destroy(s->mur_cells);
    rk_buffer_destroy(s->hist);
    rk_buffer_destroy(s->probe_cells);
    rk_buffer_destroy(s->damp);
    rk_buffer_destroy(s->bb);
    rk_buffer_destroy(s->kap);
    rk_buffer_destroy(s->p[1]);
    rk_buffer_destroy(s->p[0]);
    rk_program_destroy(s->prog);
    free(s->probe_out);
    free(s->samples);
    free(s->solid);
    free(s->sponge);
    free(s->rho);
    free(s->c);
    free(s);
}

/* ---- Medium ----------------------------------------------------------------------------------------- */

int ws_sim_set_speed(ws_sim *s, const float *c)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_set_speed: NULL simulation");
    }
    for (size_t i = 0; c && i < s->n; i++) {
        if (!(c[i] > 0) || c[i] > s->cfg.c_max * (1 + 1e-6)) {
            return rk__err(RK_EINVAL, "ws_sim_set_speed: cell %zu has speed %g m/s, outside (0, c_max = %g]: "
                           "with dt %.6g s and dx %g m a faster cell breaks the CFL condition "
                           "(create the simulation with a larger c_max)", i, c[i], s->cfg.c_max, s->cfg.dt,
                           s->cfg.dx);
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        s->c[i] = c ? c[i] : (float)s->cfg.c0;
    }
    s->dirty = 1;
    return 0;
}

int ws_sim_set_density(ws_sim *s, const float *rho)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_set_density: NULL simulation");
    }
    for (size_t i = 0; rho && i < s->n; i++) {
        if (!(rho[i] > 0) || !isfinite(rho[i])) {
            return rk__err(RK_EINVAL, "ws_sim_set_density: cell %zu has density %g; densities must be finite "
                           "and > 0 (mark obstacles with ws_sim_set_solid_*)", i, rho[i]);
        }
    }
    for (size_t i = 0; i < s->n; i++) {
        s->rho[i] = rho ? rho[i] : (float)s->cfg.rho0;
    }
    s->dirty = 1;
    return 0;
}

int ws_sim_set_solid_box(ws_sim *s, uint32_t x0, uint32_t y0, uint32_t z0, uint32_t x1, uint32_t y1,
                         uint32_t z1, int solid)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_set_solid_box: NULL simulation");
    }
    if (s->cfg.dims == 2) {
        z0 = 0, z1 = 1;
    }
    x1 = x1 < s->cfg.nx ? x1 : s->cfg.nx;
    y1 = y1 < s->cfg.ny ? y1 : s->cfg.ny;
    z1 = z1 < s->nz ? z1 : s->nz;
    if (x0 >= x1 || y0 >= y1 || z0 >= z1) {
        return rk__err(RK_EINVAL, "ws_sim_set_solid_box: the box [%u,%u)x[%u,%u)x[%u,%u) is empty in the grid",
                       x0, x1, y0, y1, z0, z1);
    }
    for (uint32_t z = z0; z < z1; z++) {
        for (uint32_t y = y0; y < y1; y++) {
            for (uint32_t x = x0; x < x1; x++) {
                s->solid[cell_index(s, x, y, z)] =
                    (uint8_t)(solid || (s->cfg.boundary != WS_MUR && on_wall(s, x, y, z)));
            }
        }
    }
    s->dirty = 1;
    return 0;
}

int ws_sim_set_solid_sphere(ws_sim *s, double cx, double cy, double cz, double r)
{
    if (!s || !(r > 0)) {
        return rk__err(RK_EINVAL, "ws_sim_set_solid_sphere: NULL simulation or radius %g <= 0", r);
    }
    if (s->cfg.dims == 2) {
        cz = 0;
    }
    for (uint32_t z = 0; z < s->nz; z++) {
        for (uint32_t y = 0; y < s->cfg.ny; y++) {
            for (uint32_t x = 0; x < s->cfg.nx; x++) {
                double d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy) + (z - cz) * (z - cz);
                if (d2 <= r * r) {
                    s->solid[cell_index(s, x, y, z)] = 1;
                }
            }
        }
    }
    s->dirty = 1;
    return 0;
}

int ws_sim_is_solid(const ws_sim *s, uint32_t x, uint32_t y, uint32_t z)
{
    if (!s || !inside(s, x, y, s->cfg.dims == 2 ? 0 : z)) {
        return -1;
    }
    return s->solid[cell_index(s, x, y, s->cfg.dims == 2 ? 0 : z)];
}

/* ---- Sources ---------------------------------------------------------------------------------------- */

double ws_source_wave(const ws_source *src, double t)
{
    const double pi = 3.14159265358979323846;
    double tau = t - src->t_start;
    if (tau < 0) {
        return 0;
    }
    if (src->wave == WS_RICKER) {
        double a = pi * src->freq * (tau - 1.5 / src->freq);
        return (1 - 2 * a * a) * exp(-a * a);
    }
    if (src->duration > 0 && tau > src->duration) {
        return 0;
    }
    /* Raised-cosine ramps over the first period (and the last, with a duration) keep switching on and off
     * from being broadband clicks. */
    double ramp = tau * src->freq < 1 ? 0.5 - 0.5 * cos(pi * tau * src->freq) : 1;
    double left = src->duration > 0 ? (src->duration - tau) * src->freq : 1;
    ramp *= left < 1 ? 0.5 - 0.5 * cos(pi * left) : 1;
    return ramp * sin(2 * pi * src->freq * tau);
}

/* Checks that every cell of src is a fluid cell inside the walls. */
static int source_check(const ws_sim *s, const ws_source *src)
{
    uint32_t len = src->len ? src->len : 1;
    uint32_t z = s->cfg.dims == 2 ? 0 : src->z;
    if (src->axis > (s->cfg.dims == 3 ? 2u : 1u) || !(src->freq > 0) || !isfinite(src->amp)) {
        return rk__err(RK_EINVAL, "wavesim: a source needs freq > 0 (%g), a finite amp and an axis of the grid "
                       "(%u)", src->freq, src->axis);
    }
    for (uint32_t k = 0; k < len; k++) {
        uint32_t x = src->x + (src->axis == 0 ? k : 0), y = src->y + (src->axis == 1 ? k : 0),
                 zz = z + (src->axis == 2 ? k : 0);
        if (!inside(s, x, y, zz) || on_wall(s, x, y, zz) || s->solid[cell_index(s, x, y, zz)]) {
            return rk__err(RK_EINVAL, "wavesim: source cell (%u, %u, %u) is %s", x, y, zz,
                           !inside(s, x, y, zz) ? "outside the grid"
                           : on_wall(s, x, y, zz) ? "on the boundary ring" : "an obstacle");
        }
    }
    return 0;
}

int ws_sim_add_source(ws_sim *s, const ws_source *src, uint32_t *id)
{
    if (!s || !src) {
        return rk__err(RK_EINVAL, "ws_sim_add_source: NULL argument");
    }
    int rc = source_check(s, src);
    if (rc != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < WS_MAX_SOURCES; i++) {
        if (!s->src[i].used) {
            s->src[i] = (ws_src_slot){ .src = *src, .used = 1 };
            if (s->cfg.dims == 2) {
                s->src[i].src.z = 0;
            }
            if (id) {
                *id = i;
            }
            return 0;
        }
    }
    return rk__err(RK_ELIMIT, "ws_sim_add_source: %d sources are active already", WS_MAX_SOURCES);
}

int ws_sim_move_source(ws_sim *s, uint32_t id, uint32_t x, uint32_t y, uint32_t z)
{
    if (!s || id >= WS_MAX_SOURCES || !s->src[id].used) {
        return rk__err(RK_EINVAL, "ws_sim_move_source: no source %u", id);
    }
    ws_source moved = s->src[id].src;
    moved.x = x, moved.y = y, moved.z = s->cfg.dims == 2 ? 0 : z;
    int rc = source_check(s, &moved);
    if (rc == 0) {
        s->src[id].src = moved;
    }
    return rc;
}

int ws_sim_remove_source(ws_sim *s, uint32_t id)
{
    if (!s || id >= WS_MAX_SOURCES || !s->src[id].used) {
        return rk__err(RK_EINVAL, "ws_sim_remove_source: no source %u", id);
    }
    s->src[id].used = 0;
    return 0;
}

int ws_sim_impulse(ws_sim *s, uint32_t x, uint32_t y, uint32_t z, double amp, double freq)
{
    uint32_t id;
    ws_source src = { .wave = WS_RICKER, .freq = freq, .amp = amp, .x = x, .y = y, .z = z,
                      .t_start = s ? ws_sim_time(s) : 0 };
    int rc = ws_sim_add_source(s, &src, &id);
    if (rc == 0) {
        s->src[id].oneshot = 1;
    }
    return rc;
}

/* ---- Probes ----------------------------------------------------------------------------------------- */

int ws_sim_add_probe(ws_sim *s, uint32_t x, uint32_t y, uint32_t z, uint32_t *id)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_add_probe: NULL simulation");
    }
    z = s->cfg.dims == 2 ? 0 : z;
    if (!inside(s, x, y, z)) {
        return rk__err(RK_EINVAL, "ws_sim_add_probe: (%u, %u, %u) is outside the %ux%ux%u grid", x, y, z,
                       s->cfg.nx, s->cfg.ny, s->nz);
    }
    if (s->steps > 0) {
        return rk__err(RK_EINVAL, "ws_sim_add_probe: probes are added before the first step (all histories "
                       "start at t = dt)");
    }
    if (s->nprobes == WS_MAX_PROBES) {
        return rk__err(RK_ELIMIT, "ws_sim_add_probe: %d probes already", WS_MAX_PROBES);
    }
    s->probe_cell[s->nprobes] = (uint32_t)cell_index(s, x, y, z);
    int rc = rk_buffer_write(s->probe_cells, 0, s->probe_cell, (s->nprobes + 1) * sizeof(uint32_t));
    if (rc != 0) {
        return rc;
    }
    if (id) {
        *id = s->nprobes;
    }
    s->nprobes++;
    return 0;
}

/* W3: moves the device's chunk into the host history. */
static int probes_flush(ws_sim *s)
{
    if (s->hist_slot == 0) {
        return 0;
    }
    size_t add = (size_t)s->hist_slot * s->nprobes;
    if ((s->nsamples + s->hist_slot) * s->nprobes > s->samples_cap) {
        size_t cap = s->samples_cap ? s->samples_cap * 2 : add * 4;
        while (cap < (s->nsamples + s->hist_slot) * s->nprobes) {
            cap *= 2;
        }
        float *p = realloc(s->samples, cap * sizeof *p);
        if (!p) {
            return rk__err(RK_ENOMEM, "wavesim: no memory for %zu probe samples", cap);
        }
        s->samples = p, s->samples_cap = cap;
    }
    int rc = rk_buffer_read(s->hist, 0, s->samples + s->nsamples * s->nprobes, add * sizeof(float));
    if (rc != 0) {
        return rc;
    }
    s->nsamples += s->hist_slot;
    s->hist_slot = 0;
    return 0;
}

int ws_sim_probe_samples(ws_sim *s, uint32_t id, const float **samples, size_t *n)
{
    if (!s || !samples || !n || id >= s->nprobes) {
        return rk__err(RK_EINVAL, "ws_sim_probe_samples: no probe %u", id);
    }
    int rc = probes_flush(s);
    if (rc != 0) {
        return rc;
    }
    float *col = realloc(s->probe_out, (s->nsamples ? s->nsamples : 1) * sizeof *col);
    if (!col) {
        return rk__err(RK_ENOMEM, "wavesim: no memory for %zu probe samples", s->nsamples);
    }
    s->probe_out = col;
    for (size_t k = 0; k < s->nsamples; k++) {
        col[k] = s->samples[k * s->nprobes + id];
    }
    *samples = col;
    *n = s->nsamples;
    return 0;
}

/* ---- Stepping --------------------------------------------------------------------------------------- */

/* One step: the stencil (W1), the sources at the new time, the probes. */
static int step_one(ws_sim *s)
{
    const ws_config *cfg = &s->cfg;
    rk_buffer *p = s->p[s->cur], *q = s->p[s->cur ^ 1];
    uint32_t size[3] = { cfg->nx, cfg->ny, s->nz };
    rk_arg args[] = { RK_ARG_BUF(p), RK_ARG_BUF(q), RK_ARG_BUF(s->kap), RK_ARG_BUF(s->bb), RK_ARG_BUF(s->damp) };
    int rc = rk_program_launch(s->prog, cfg->dims == 2 ? "wave2d" : "wave3d", size, args, 5);
    if (rc != 0) {
        return rc;
    }
    if (s->mur_count > 0) {
        rk_arg ma[] = { RK_ARG_BUF(p), RK_ARG_BUF(q), RK_ARG_BUF(s->damp), RK_ARG_BUF(s->mur_cells),
                        RK_ARG_BUF(s->mur_inner), RK_ARG_U32(s->mur_count) };
        if ((rc = rk_program_launch(s->prog, "mur", (uint32_t[3]){ s->mur_count, 1, 1 }, ma, 6)) != 0) {
            return rc;
        }
    }
    /*
     * The scheme's source term at level n enters p_next as dt^2 f(t_n): the waveform is taken at the time of
     * the level the step started from, so a source's wavelet is not shifted by a step.
     */
    double t = (double)s->steps * cfg->dt;
    s->cur ^= 1;
    s->steps++;
    for (uint32_t i = 0; i < WS_MAX_SOURCES; i++) {
        ws_src_slot *sl = &s->src[i];
        if (!sl->used) {
            continue;
        }
        double w = ws_source_wave(&sl->src, t);
        if (sl->oneshot && t > sl->src.t_start + 3.0 / sl->src.freq) {
            sl->used = 0; /* the wavelet is below 1e-9 of its peak from here on */
            continue;
        }
        if (w == 0) {
            continue;
        }
        uint32_t len = sl->src.len ? sl->src.len : 1;
        uint32_t stride = sl->src.axis == 0 ? 1 : sl->src.axis == 1 ? cfg->nx : cfg->nx * cfg->ny;
        rk_arg ia[] = { RK_ARG_BUF(s->p[s->cur]),
                        RK_ARG_U32((uint32_t)cell_index(s, sl->src.x, sl->src.y, sl->src.z)),
                        RK_ARG_U32(stride), RK_ARG_U32(len), RK_ARG_F32((float)(sl->src.amp * w)) };
        if ((rc = rk_program_launch(s->prog, "inject", (uint32_t[3]){ len, 1, 1 }, ia, 5)) != 0) {
            return rc;
        }
    }
    if (s->nprobes > 0) {
        rk_arg pa[] = { RK_ARG_BUF(s->p[s->cur]), RK_ARG_BUF(s->probe_cells), RK_ARG_BUF(s->hist),
                        RK_ARG_U32(s->nprobes), RK_ARG_U32(s->hist_slot) };
        if ((rc = rk_program_launch(s->prog, "probe", (uint32_t[3]){ s->nprobes, 1, 1 }, pa, 5)) != 0) {
            return rc;
        }
        if (++s->hist_slot == cfg->probe_chunk) {
            return probes_flush(s);
        }
    }
    return 0;
}

int ws_sim_step(ws_sim *s, uint32_t n)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_step: NULL simulation");
    }
    int rc = 0;
    if (s->dirty && (rc = maps_upload(s)) != 0) {
        return rc;
    }
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        rc = step_one(s);
    }
    return rc;
}

int ws_sim_read_pressure(ws_sim *s, float *dst)
{
    if (!s || !dst) {
        return rk__err(RK_EINVAL, "ws_sim_read_pressure: NULL argument");
    }
    return rk_buffer_read(s->p[s->cur], 0, dst, s->n * sizeof(float));
}

int ws_sim_clear(ws_sim *s)
{
    if (!s) {
        return rk__err(RK_EINVAL, "ws_sim_clear: NULL simulation");
    }
    float *zero = calloc(s->n, sizeof *zero);
    if (!zero) {
        return rk__err(RK_ENOMEM, "ws_sim_clear: no memory");
    }
    int rc = rk_buffer_write(s->p[0], 0, zero, s->n * sizeof *zero);
    if (rc == 0) {
        rc = rk_buffer_write(s->p[1], 0, zero, s->n * sizeof *zero);
    }
    free(zero);
    return rc;
}

double ws_sim_dt(const ws_sim *s) { return s->cfg.dt; }
double ws_sim_time(const ws_sim *s) { return (double)s->steps * s->cfg.dt; }
uint64_t ws_sim_steps(const ws_sim *s) { return s->steps; }
size_t ws_sim_cells(const ws_sim *s) { return s->n; }
const ws_config *ws_sim_config(const ws_sim *s) { return &s->cfg; }
