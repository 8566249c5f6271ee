/* ws_app.c - ringkernel-wavesim2d and ringkernel-wavesim3d (WS_APP_DIMS = 2 or 3): run a scene, write
 * frames, probes and (3D) binaural sound, or play with it in the terminal (docs/WAVESIM.md).
 *
 * 2D scene: a sine point source (or --line: a line source) left of a wall with two slits (double-slit
 * interference), probes behind the slits. 3D scene: a room with a Ricker source and a rigid pillar, and a
 * listener: a rigid ball (the head) with one probe at each ear, whose two signals make the WAV.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ringkernel/compute.h"
#include "ringkernel/error.h"
#include "ringkernel/runtime.h"
#include "wavesim.h"
#include "ws_io.h"
#include "ws_term.h"

#ifndef WS_APP_DIMS
#error "WS_APP_DIMS must be 2 or 3"
#endif

#define APP_NAME (WS_APP_DIMS == 2 ? "ringkernel-wavesim2d" : "ringkernel-wavesim3d")

typedef struct app_opts {
    uint32_t steps, nx, ny, nz, frames;
    rk_backend_kind backend;
    const char *out;
    int interactive, line, reflect, mur;
    double dx, freq, courant, scale;
} app_opts;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n"
            "  --steps N          time steps (default %u)\n"
            "  --grid %-11s cells per axis, walls included (default %s)\n"
            "  --backend B        cpu, cuda, vulkan or auto (default auto: the best available)\n"
            "  --out DIR          write frames (frame_NNNNN.png%s), probes.csv%s to DIR\n"
            "  --frames N         PNG frames, evenly spaced over the run (default 10 with --out)\n"
            "  --scale PA         pressure drawn at full colour (default: per frame, the 99.5th percentile)\n"
            "  --dx M             cell size in metres (default %g)\n"
            "  --freq HZ          source frequency (default %g)\n"
            "  --courant F        fraction of the CFL limit for dt (default 0.9)\n"
            "  --reflect          rigid walls everywhere (default: absorbing sponge layer)\n"
            "  --mur              first-order Mur absorbing boundary instead of the sponge\n"
            "%s"
            "  --interactive      live view in the terminal: space: impulse at a random place, i/enter:\n"
            "                     impulse at the source, arrows/WASD: move the source%s, p: pause/resume,\n"
            "                     c: clear the field, +/-: colour scale, q: quit\n"
            "  --help\n",
            APP_NAME, WS_APP_DIMS == 2 ? 2000u : 400u, WS_APP_DIMS == 2 ? "N|NxM" : "N|NxMxK",
            WS_APP_DIMS == 2 ? "512x512" : "128x128x128", WS_APP_DIMS == 2 ? "" : " mid slice, maxproj_NNNNN.png",
            WS_APP_DIMS == 2 ? "" : ", binaural.wav (48 kHz stereo)", WS_APP_DIMS == 2 ? 0.005 : 0.02,
            WS_APP_DIMS == 2 ? 2000.0 : 1500.0,
            WS_APP_DIMS == 2 ? "  --line             a line source (a plane wave) instead of a point\n" : "",
            WS_APP_DIMS == 2 ? "" : " (r/f: up/down in z)");
}

static int parse_u32(const char *s, uint32_t *v)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(s, &end, 10);
    if (errno || end == s || *end || x == 0 || x > UINT32_MAX) {
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

static int parse_grid(const char *s, app_opts *o)
{
    unsigned a = 0, b = 0, c = 0;
    int n = sscanf(s, "%ux%ux%u", &a, &b, &c);
    if (n == 1) {
        b = c = a;
    } else if (n == 2) {
        c = WS_APP_DIMS == 2 ? 1 : b;
    }
    if (n < 1 || (WS_APP_DIMS == 2 && n == 3) || a < 8 || b < 8 || (WS_APP_DIMS == 3 && c < 8)) {
        return -1;
    }
    o->nx = a, o->ny = b, o->nz = WS_APP_DIMS == 2 ? 1 : c;
    return 0;
}

static int parse_args(int argc, char **argv, app_opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0, takes = 1;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--interactive")) {
            o->interactive = 1, takes = 0;
        } else if (!strcmp(a, "--reflect")) {
            o->reflect = 1, takes = 0;
        } else if (!strcmp(a, "--mur")) {
            o->mur = 1, takes = 0;
        } else if (!strcmp(a, "--line") && WS_APP_DIMS == 2) {
            o->line = 1, takes = 0;
        } else if (!v) {
            fprintf(stderr, "%s: %s needs a value (or is unknown; see --help)\n", APP_NAME, a);
            return -1;
        } else if (!strcmp(a, "--steps")) {
            bad = parse_u32(v, &o->steps);
        } else if (!strcmp(a, "--frames")) {
            bad = parse_u32(v, &o->frames);
        } else if (!strcmp(a, "--grid")) {
            bad = parse_grid(v, o);
        } else if (!strcmp(a, "--backend")) {
            bad = rk_backend_parse(v, &o->backend) != 0 || o->backend == RK_BACKEND_METAL;
        } else if (!strcmp(a, "--out")) {
            o->out = v;
        } else if (!strcmp(a, "--dx")) {
            bad = !((o->dx = atof(v)) > 0);
        } else if (!strcmp(a, "--freq")) {
            bad = !((o->freq = atof(v)) > 0);
        } else if (!strcmp(a, "--scale")) {
            bad = !((o->scale = atof(v)) > 0);
        } else if (!strcmp(a, "--courant")) {
            o->courant = atof(v);
            bad = !(o->courant > 0 && o->courant <= 1);
        } else {
            fprintf(stderr, "%s: unknown option '%s' (see --help)\n", APP_NAME, a);
            return -1;
        }
        if (bad) {
            fprintf(stderr, "%s: bad value '%s' for %s (see --help)\n", APP_NAME, v, a);
            return -1;
        }
        i += takes;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- The scenes ------------------------------------------------------------------------------------- */

typedef struct scene {
    uint32_t source;          /* the movable source's id */
    uint32_t sx, sy, sz;      /* its cell */
    uint32_t probe[4];
    const char *probe_name[4];
    uint32_t nprobes;
} scene;

static int scene_build(ws_sim *sim, const app_opts *o, scene *sc)
{
    const ws_config *cfg = ws_sim_config(sim);
    uint32_t nx = cfg->nx, ny = cfg->ny, nz = WS_APP_DIMS == 3 ? cfg->nz : 1;
    int rc;
    (void)nz;
    memset(sc, 0, sizeof *sc);
#if WS_APP_DIMS == 2
    /* A wall at x = 0.55 nx, two slits a fifth of the height apart. */
    uint32_t wx = nx * 11 / 20, thick = nx / 64 > 1 ? nx / 64 : 1, slit = ny / 40 > 1 ? ny / 40 : 1;
    uint32_t s1 = ny / 2 - ny / 10, s2 = ny / 2 + ny / 10;
    if ((rc = ws_sim_set_solid_box(sim, wx, 0, 0, wx + thick, ny, 1, 1)) != 0 ||
        (rc = ws_sim_set_solid_box(sim, wx, s1 - slit, 0, wx + thick, s1 + slit, 1, 0)) != 0 ||
        (rc = ws_sim_set_solid_box(sim, wx, s2 - slit, 0, wx + thick, s2 + slit, 1, 0)) != 0) {
        return rc;
    }
    ws_source src = { .wave = WS_SINE, .freq = o->freq, .amp = 1.0, .x = nx / 4, .y = ny / 2 };
    if (o->line) {
        /* A vertical line source through the sponge-free part: a plane wave towards the slits. */
        uint32_t margin = cfg->boundary == WS_ABSORB ? cfg->sponge + 1 : 1;
        src.y = margin, src.len = ny - 2 * margin, src.axis = 1, src.x = nx / 5;
        src.amp = 0.25;
    }
    if ((rc = ws_sim_add_source(sim, &src, &sc->source)) != 0) {
        return rc;
    }
    sc->sx = src.x, sc->sy = src.y;
    static const char *names[] = { "behind_wall_centre", "behind_slit_1", "source_side" };
    uint32_t px[] = { nx * 3 / 4, nx * 3 / 4, nx * 3 / 8 }, py[] = { ny / 2, s1, ny * 3 / 4 };
    for (uint32_t i = 0; i < 3; i++) {
        if ((rc = ws_sim_add_probe(sim, px[i], py[i], 0, &sc->probe[i])) != 0) {
            return rc;
        }
        sc->probe_name[i] = names[i];
    }
    sc->nprobes = 3;
#else
    /* A pillar (a rigid ball) in the room, the source on one side, the listener's head on the other. */
    if ((rc = ws_sim_set_solid_sphere(sim, nx * 0.5, ny * 0.55, nz * 0.5, nx / 12.0)) != 0) {
        return rc;
    }
    double head_r = 0.0875 / cfg->dx; /* an average head, 17.5 cm wide */
    head_r = head_r < 2 ? 2 : head_r;
    double hx = nx * 0.68, hy = ny * 0.3, hz = nz * 0.5;
    if ((rc = ws_sim_set_solid_sphere(sim, hx, hy, hz, head_r)) != 0) {
        return rc;
    }
    ws_source src = { .wave = WS_RICKER, .freq = o->freq, .amp = 1.0, .x = nx / 4, .y = ny * 2 / 3,
                      .z = nz / 2, .t_start = 0 };
    if ((rc = ws_sim_add_source(sim, &src, &sc->source)) != 0) {
        return rc;
    }
    sc->sx = src.x, sc->sy = src.y, sc->sz = src.z;
    /* The ears: one cell outside the head on the x axis (the listener faces +y). */
    uint32_t ex = (uint32_t)ceil(head_r + 1);
    if ((rc = ws_sim_add_probe(sim, (uint32_t)hx - ex, (uint32_t)hy, (uint32_t)hz, &sc->probe[0])) != 0 ||
        (rc = ws_sim_add_probe(sim, (uint32_t)hx + ex, (uint32_t)hy, (uint32_t)hz, &sc->probe[1])) != 0) {
        return rc;
    }
    sc->probe_name[0] = "left_ear", sc->probe_name[1] = "right_ear";
    sc->nprobes = 2;
#endif
    return 0;
}

/* ---- Outputs ---------------------------------------------------------------------------------------- */

static int write_frame(ws_sim *sim, const app_opts *o, float *field, float *plane, uint8_t *solid2d, uint32_t k)
{
    const ws_config *cfg = ws_sim_config(sim);
    char path[4096];
    int rc = ws_sim_read_pressure(sim, field);
    if (rc != 0) {
        return rc;
    }
    uint32_t zoom = cfg->nx < 256 ? 512 / cfg->nx : 1;
    zoom = zoom < 1 ? 1 : zoom;
    snprintf(path, sizeof path, "%s/frame_%05u.png", o->out, k);
#if WS_APP_DIMS == 2
    (void)plane;
    rc = ws_png_write_field(path, field, solid2d, cfg->nx, cfg->ny, (float)o->scale, zoom);
#else
    uint32_t mid = cfg->nz / 2;
    if ((rc = ws_field_slice_z(field, cfg->nx, cfg->ny, cfg->nz, mid, plane)) != 0 ||
        (rc = ws_png_write_field(path, plane, solid2d, cfg->nx, cfg->ny, (float)o->scale, zoom)) != 0) {
        return rc;
    }
    snprintf(path, sizeof path, "%s/maxproj_%05u.png", o->out, k);
    if ((rc = ws_field_maxproj_z(field, cfg->nx, cfg->ny, cfg->nz, plane)) == 0) {
        rc = ws_png_write_field(path, plane, NULL, cfg->nx, cfg->ny, (float)o->scale, zoom);
    }
#endif
    return rc;
}

static int write_probes(ws_sim *sim, const app_opts *o, const scene *sc)
{
    const float *cols[4];
    size_t n = 0;
    char path[4096];
    float *copies[4] = { 0 };
    int rc = 0;
    for (uint32_t i = 0; i < sc->nprobes; i++) {
        const float *p;
        if ((rc = ws_sim_probe_samples(sim, sc->probe[i], &p, &n)) != 0) {
            goto out;
        }
        /* ws_sim_probe_samples reuses its buffer per call: keep a copy of each column. */
        if (!(copies[i] = malloc((n ? n : 1) * sizeof(float)))) {
            rc = RK_ENOMEM;
            goto out;
        }
        memcpy(copies[i], p, n * sizeof(float));
        cols[i] = copies[i];
    }
    snprintf(path, sizeof path, "%s/probes.csv", o->out);
    if ((rc = ws_csv_write(path, sc->probe_name, cols, sc->nprobes, n, ws_sim_dt(sim))) != 0) {
        goto out;
    }
    printf("wrote %s (%zu samples x %u probes)\n", path, n, sc->nprobes);
#if WS_APP_DIMS == 3
    snprintf(path, sizeof path, "%s/binaural.wav", o->out);
    if ((rc = ws_wav_write(path, cols[0], cols[1], n, 1.0 / ws_sim_dt(sim), 48000, 0)) != 0) {
        goto out;
    }
    printf("wrote %s (%.3f s at 48 kHz, 16-bit stereo; simulated at %.0f Hz)\n", path, n * ws_sim_dt(sim),
           1.0 / ws_sim_dt(sim));
#endif
out:
    for (uint32_t i = 0; i < 4; i++) {
        free(copies[i]);
    }
    return rc;
}

/* The rigid cells of the plane that frames show (2D: the grid; 3D: the mid slice). */
static uint8_t *solid_plane(ws_sim *sim)
{
    const ws_config *cfg = ws_sim_config(sim);
    uint8_t *m = malloc((size_t)cfg->nx * cfg->ny);
    for (uint32_t y = 0; m && y < cfg->ny; y++) {
        for (uint32_t x = 0; x < cfg->nx; x++) {
            m[(size_t)y * cfg->nx + x] = (uint8_t)(ws_sim_is_solid(sim, x, y, WS_APP_DIMS == 3 ? cfg->nz / 2 : 0) == 1);
        }
    }
    return m;
}

static void progress(uint64_t done, uint64_t total, double rate)
{
    int width = 40, fill = (int)(width * done / (total ? total : 1));
    fprintf(stderr, "\r[%.*s%*s] %3d%%  %.0f steps/s ", fill, "########################################",
            width - fill, "", (int)(100 * done / (total ? total : 1)), rate);
    fflush(stderr);
}

/* ---- Batch run -------------------------------------------------------------------------------------- */

static int run_batch(rk_runtime *rt, ws_sim *sim, const app_opts *o, const scene *sc)
{
    const ws_config *cfg = ws_sim_config(sim);
    size_t n = ws_sim_cells(sim);
    float *field = malloc(n * sizeof *field), *plane = malloc((size_t)cfg->nx * cfg->ny * sizeof *plane);
    uint8_t *solid2d = solid_plane(sim);
    int rc = 0, tty = isatty(STDERR_FILENO);
    if (!field || !plane || !solid2d) {
        rc = RK_ENOMEM;
        goto out;
    }
    uint32_t frames = o->frames ? o->frames : (o->out ? 10 : 0);
    uint32_t next_frame = 1;
    double t0 = now_s(), last = t0;
    uint64_t done = 0;
    while (done < o->steps) {
        /* Up to the next frame or 64 steps, whichever is first: progress without a sync per step. */
        uint64_t target = o->steps;
        if (o->out && frames && next_frame <= frames) {
            target = (uint64_t)o->steps * next_frame / frames;
        }
        uint32_t chunk = (uint32_t)(target - done < 64 ? target - done : 64);
        if (chunk > 0 && (rc = ws_sim_step(sim, chunk)) != 0) {
            goto out;
        }
        done += chunk;
        if (o->out && frames && next_frame <= frames && done == (uint64_t)o->steps * next_frame / frames) {
            if ((rc = write_frame(sim, o, field, plane, solid2d, next_frame)) != 0) {
                goto out;
            }
            next_frame++;
        }
        double t = now_s();
        if (tty && t - last > 0.1) {
            if ((rc = rk_compute_sync(rt)) != 0) {
                goto out;
            }
            progress(done, o->steps, done / (now_s() - t0));
            last = t;
        }
    }
    if ((rc = rk_compute_sync(rt)) != 0) {
        goto out;
    }
    double wall = now_s() - t0;
    if (tty) {
        progress(done, o->steps, done / wall);
        fputc('\n', stderr);
    }
    /* The stencil updates the interior cells only; the wall ring is fixed. */
    double interior = (double)(cfg->nx - 2) * (cfg->ny - 2) * (WS_APP_DIMS == 3 ? cfg->nz - 2 : 1);
    char grid[48];
    if (WS_APP_DIMS == 3) {
        snprintf(grid, sizeof grid, "%ux%ux%u", cfg->nx, cfg->ny, cfg->nz);
    } else {
        snprintf(grid, sizeof grid, "%ux%u", cfg->nx, cfg->ny);
    }
    printf("%s: %llu steps of %s in %.3f s on %s: %.1f steps/s, %.2f M cells/s (dt %.4g s, t %.4g s)\n",
           APP_NAME, (unsigned long long)done, grid, wall, rk_backend_name(rk_runtime_backend(rt)), done / wall,
           interior * done / wall / 1e6, ws_sim_dt(sim), ws_sim_time(sim));
    if (o->out) {
        if (frames) {
            printf("wrote %u frame%s to %s/\n", frames, frames == 1 ? "" : "s", o->out);
        }
        rc = write_probes(sim, o, sc);
    }
    /* A blown-up run must not look like a result. */
    if (rc == 0 && (rc = ws_sim_read_pressure(sim, field)) == 0) {
        for (size_t i = 0; i < n; i++) {
            if (!isfinite(field[i])) {
                fprintf(stderr, "%s: the field is not finite at cell %zu: the run is unstable\n", APP_NAME, i);
                rc = RK_EFAULT;
                break;
            }
        }
    }
out:
    free(solid2d);
    free(plane);
    free(field);
    return rc;
}

/* ---- Interactive ------------------------------------------------------------------------------------ */

static int run_interactive(rk_runtime *rt, ws_sim *sim, scene *sc)
{
    const ws_config *cfg = ws_sim_config(sim);
    size_t n = ws_sim_cells(sim);
    float *field = malloc(n * sizeof *field), *plane = malloc((size_t)cfg->nx * cfg->ny * sizeof *plane);
    uint8_t *solid2d = NULL;
    int rc = 0, paused = 0, quit = 0;
    float scale = 0.5f;
    uint32_t per_frame = 4, frames = 0;
    uint64_t steps_at = 0;
    double fps = 0, sps = 0, t_mark = now_s();
    uint32_t seed = (uint32_t)time(NULL);
    if (!field || !plane) {
        rc = RK_ENOMEM;
        goto out;
    }
    if ((rc = ws_term_enter()) != 0) {
        goto out;
    }
    uint32_t slice = WS_APP_DIMS == 3 ? sc->sz : 0;
    while (!quit) {
        int key;
        while ((key = ws_term_key()) != WS_KEY_NONE) {
            int dx = 0, dy = 0, dz = 0;
            switch (key) {
            case 'q': case 'Q': quit = 1; break;
            case 'p': case 'P': paused = !paused; break;
            case 'c': case 'C': rc = ws_sim_clear(sim); break;
            case '+': case '=': scale *= 0.7f; break;
            case '-': scale /= 0.7f; break;
            case ' ': {
                uint32_t x, y, z = WS_APP_DIMS == 3 ? slice : 0;
                for (int tries = 0; tries < 100; tries++) {
                    seed = seed * 1664525u + 1013904223u;
                    x = 1 + (seed >> 8) % (cfg->nx - 2);
                    seed = seed * 1664525u + 1013904223u;
                    y = 1 + (seed >> 8) % (cfg->ny - 2);
                    if (ws_sim_is_solid(sim, x, y, z) == 0) {
                        ws_sim_impulse(sim, x, y, z, 4.0, cfg->c0 / (8 * cfg->dx));
                        break;
                    }
                }
                break;
            }
            case 'i': case 'I': case '\r': case '\n':
                ws_sim_impulse(sim, sc->sx, sc->sy, sc->sz, 4.0, cfg->c0 / (8 * cfg->dx));
                break;
            case WS_KEY_UP: case 'w': case 'W': dy = 1; break;
            case WS_KEY_DOWN: case 's': case 'S': dy = -1; break;
            case WS_KEY_LEFT: case 'a': case 'A': dx = -1; break;
            case WS_KEY_RIGHT: case 'd': case 'D': dx = 1; break;
            case 'r': case 'R': dz = WS_APP_DIMS == 3 ? 1 : 0; break;
            case 'f': case 'F': dz = WS_APP_DIMS == 3 ? -1 : 0; break;
            default: break;
            }
            if (dx || dy || dz) {
                /* Move a few cells per key press; refused moves (into a wall) leave the source where it was. */
                uint32_t step = cfg->nx / 64 > 1 ? cfg->nx / 64 : 1;
                uint32_t x = sc->sx + (uint32_t)(dx * (int)step), y = sc->sy + (uint32_t)(dy * (int)step),
                         z = sc->sz + (uint32_t)(dz * (int)step);
                if (ws_sim_is_solid(sim, x, y, z) == 0 && ws_sim_move_source(sim, sc->source, x, y, z) == 0) {
                    sc->sx = x, sc->sy = y, sc->sz = z;
                    slice = WS_APP_DIMS == 3 ? z : 0;
                }
            }
            if (rc != 0) {
                goto out;
            }
        }
        if (!paused && (rc = ws_sim_step(sim, per_frame)) != 0) {
            goto out;
        }
        if ((rc = ws_sim_read_pressure(sim, field)) != 0) {
            goto out;
        }
        const float *view = field;
#if WS_APP_DIMS == 3
        ws_field_slice_z(field, cfg->nx, cfg->ny, cfg->nz, slice, plane);
        view = plane;
#endif
        free(solid2d);
        if (!(solid2d = malloc((size_t)cfg->nx * cfg->ny))) {
            rc = RK_ENOMEM;
            goto out;
        }
        for (uint32_t y = 0; y < cfg->ny; y++) {
            for (uint32_t x = 0; x < cfg->nx; x++) {
                solid2d[(size_t)y * cfg->nx + x] = (uint8_t)(ws_sim_is_solid(sim, x, y, slice) == 1);
            }
        }
        frames++;
        double t = now_s();
        if (t - t_mark >= 0.5) {
            fps = frames / (t - t_mark);
            sps = (ws_sim_steps(sim) - steps_at) / (t - t_mark);
            frames = 0, steps_at = ws_sim_steps(sim), t_mark = t;
            /* Aim at ~30 frames/s: more steps per frame when drawing is the cost, fewer when stepping is. */
            if (!paused && fps > 40 && per_frame < 4096) {
                per_frame *= 2;
            } else if (!paused && fps < 20 && per_frame > 1) {
                per_frame /= 2;
            }
        }
        char status[256];
        int cols, rows;
        ws_term_size(&cols, &rows);
        snprintf(status, sizeof status,
                 " %s%s %s | %.1f FPS | %.0f steps/s | %u steps/frame | t %.4f s | source (%u,%u%s) | "
                 "space/i impulse, arrows/WASD move, p pause, c clear, +/- scale, q quit",
                 paused ? "PAUSED " : "", APP_NAME + 11, rk_backend_name(rk_runtime_backend(rt)), fps, sps,
                 per_frame, ws_sim_time(sim), sc->sx, sc->sy, WS_APP_DIMS == 3 ? ",z" : "");
        ws_term_draw(view, solid2d, cfg->nx, cfg->ny, scale, (int)sc->sx, (int)sc->sy, cols, rows, status);
        if (paused) {
            usleep(30000);
        }
    }
out:
    ws_term_leave();
    free(solid2d);
    free(plane);
    free(field);
    return rc;
}

int main(int argc, char **argv)
{
    app_opts o = { .steps = WS_APP_DIMS == 2 ? 2000 : 400, .nx = WS_APP_DIMS == 2 ? 512 : 128,
                   .ny = WS_APP_DIMS == 2 ? 512 : 128, .nz = WS_APP_DIMS == 2 ? 1 : 128,
                   .backend = RK_BACKEND_AUTO, .dx = WS_APP_DIMS == 2 ? 0.005 : 0.02,
                   .freq = WS_APP_DIMS == 2 ? 2000.0 : 1500.0 };
    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    if (o.out && mkdir(o.out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create '%s': %s\n", APP_NAME, o.out, strerror(errno));
        return 1;
    }
    rk_runtime *rt = NULL;
    ws_sim *sim = NULL;
    scene sc;
    int rc = rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = o.backend });
    if (rc != 0) {
        fprintf(stderr, "%s: no runtime on backend %s: %s\n", APP_NAME, rk_backend_name(o.backend), rk_last_error());
        return 1;
    }
    ws_config cfg = { .dims = WS_APP_DIMS, .nx = o.nx, .ny = o.ny, .nz = o.nz, .dx = o.dx, .c0 = 343.0,
                      .courant = o.courant, .boundary = o.reflect ? WS_REFLECT : o.mur ? WS_MUR : WS_ABSORB };
    rc = ws_sim_create(rt, &cfg, &sim);
    if (rc == RK_ENOTSUP && o.backend == RK_BACKEND_AUTO && rk_runtime_backend(rt) != RK_BACKEND_CPU) {
        /* auto picked a backend whose compute path is not there (yet): say so and run on the CPU. */
        fprintf(stderr, "%s: %s; using the cpu backend\n", APP_NAME, rk_last_error());
        rk_runtime_destroy(rt);
        rt = NULL;
        if ((rc = rk_runtime_create(&rt, &(rk_runtime_opts){ .backend = RK_BACKEND_CPU })) == 0) {
            rc = ws_sim_create(rt, &cfg, &sim);
        }
    }
    if (rc != 0 || (rc = scene_build(sim, &o, &sc)) != 0) {
        goto out;
    }
    rc = o.interactive ? run_interactive(rt, sim, &sc) : run_batch(rt, sim, &o, &sc);
out:
    if (rc != 0) {
        fprintf(stderr, "%s: %s (%s)\n", APP_NAME, rk_last_error(), rk_err_name(rc));
    }
    ws_sim_destroy(sim);
    rk_runtime_destroy(rt);
    return rc == 0 ? 0 : 1;
}
