/* backend.c - the one place where backends are chosen: kind -> ops table, names, probing, devices.
 *
 * A backend that is not compiled into this build has no ops table (rk__backend_ops returns NULL); probing
 * it still succeeds and says why it is unavailable, so a tool can print one line per backend.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "core/runtime_internal.h"

extern const rk_backend_ops rk__cpu_backend_ops;
#ifdef RK_HAVE_CUDA
extern const rk_backend_ops rk__cuda_backend_ops;
#endif
#ifdef RK_HAVE_VULKAN
extern const rk_backend_ops rk__vulkan_backend_ops;
#endif

static const char *const rk__backend_names[RK_BACKEND_COUNT] = { "auto", "cpu", "cuda", "vulkan", "metal" };

/* Why a kind has no ops table in this build (NULL if it has one). */
static const char *rk__backend_missing(rk_backend_kind kind)
{
    switch (kind) {
    case RK_BACKEND_CUDA:
        return "not compiled into this build (configure with nvcc on the PATH and -DRK_WITH_CUDA=ON)";
    case RK_BACKEND_VULKAN:
        return "not compiled into this build (configure with the Vulkan headers and glslangValidator installed "
               "and -DRK_WITH_VULKAN=ON)";
    case RK_BACKEND_METAL:
        return "not compiled into this build (Metal is code generation only: ringkernel codegen --target msl)";
    default:
        return NULL;
    }
}

const rk_backend_ops *rk__backend_ops(rk_backend_kind kind)
{
    switch (kind) {
    case RK_BACKEND_CPU:
        return &rk__cpu_backend_ops;
#ifdef RK_HAVE_CUDA
    case RK_BACKEND_CUDA:
        return &rk__cuda_backend_ops;
#endif
#ifdef RK_HAVE_VULKAN
    case RK_BACKEND_VULKAN:
        return &rk__vulkan_backend_ops;
#endif
    default:
        return NULL; /* AUTO is resolved by rk__backend_auto(); the others are not built */
    }
}

const char *rk_backend_name(rk_backend_kind kind)
{
    if ((unsigned)kind >= RK_BACKEND_COUNT)
        return "unknown";
    return rk__backend_names[kind];
}

int rk_backend_parse(const char *name, rk_backend_kind *out)
{
    if (name == NULL || out == NULL)
        return rk__err(RK_EINVAL, "rk_backend_parse: NULL %s", name == NULL ? "name" : "out");
    for (int k = 0; k < RK_BACKEND_COUNT; k++) {
        if (strcasecmp(name, rk__backend_names[k]) == 0) {
            *out = (rk_backend_kind)k;
            return 0;
        }
    }
    return rk__err(RK_EINVAL, "rk_backend_parse: unknown backend '%.32s' (auto, cpu, cuda, vulkan, metal)",
                   name);
}

/* Probes a concrete kind (not AUTO). */
static void rk__backend_probe_kind(rk_backend_kind kind, rk_backend_status *st)
{
    const rk_backend_ops *ops = rk__backend_ops(kind);

    memset(st, 0, sizeof *st);
    st->kind = kind;
    if (ops == NULL) {
        rk__strlcpy(st->reason, rk__backend_missing(kind), sizeof st->reason);
        return;
    }
    st->compiled = 1;
    if (ops->probe(st) != 0 && st->reason[0] == '\0')
        rk__strlcpy(st->reason, rk_last_error(), sizeof st->reason);
    st->kind = kind;
    st->compiled = 1;
}

rk_backend_kind rk__backend_auto(void)
{
    static const rk_backend_kind order[] = { RK_BACKEND_CUDA, RK_BACKEND_VULKAN };
    rk_backend_status st;

    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (rk__backend_ops(order[i]) == NULL)
            continue; /* not built: no need to probe */
        rk__backend_probe_kind(order[i], &st);
        if (st.available && (rk__backend_ops(order[i])->auto_ok == NULL || rk__backend_ops(order[i])->auto_ok()))
            return order[i];
    }
    return RK_BACKEND_CPU; /* always available */
}

int rk_backend_probe(rk_backend_kind kind, rk_backend_status *st)
{
    rk_backend_kind chosen;
    char why[sizeof st->reason + 32];

    if (st == NULL)
        return rk__err(RK_EINVAL, "rk_backend_probe: st is NULL");
    if ((unsigned)kind >= RK_BACKEND_COUNT)
        return rk__err(RK_EINVAL, "rk_backend_probe: unknown backend kind %d", (int)kind);
    if (kind != RK_BACKEND_AUTO) {
        rk__backend_probe_kind(kind, st);
        return 0;
    }
    /* AUTO: the status of the backend it resolves to, under the AUTO kind. */
    chosen = rk__backend_auto();
    rk__backend_probe_kind(chosen, st);
    snprintf(why, sizeof why, "auto selects %s: %s", rk_backend_name(chosen), st->reason);
    rk__strlcpy(st->reason, why, sizeof st->reason);
    st->kind = RK_BACKEND_AUTO;
    return 0;
}

int rk_backend_devices(rk_backend_kind kind, rk_device_info *out, int max)
{
    const rk_backend_ops *ops;
    rk_backend_status st;

    if (max < 0 || (out == NULL && max > 0))
        return rk__err(RK_EINVAL, "rk_backend_devices: %s", max < 0 ? "max is negative" : "out is NULL");
    if ((unsigned)kind >= RK_BACKEND_COUNT)
        return rk__err(RK_EINVAL, "rk_backend_devices: unknown backend kind %d", (int)kind);
    if (kind == RK_BACKEND_AUTO)
        kind = rk__backend_auto();
    ops = rk__backend_ops(kind);
    if (ops == NULL || max == 0)
        return 0;
    rk__backend_probe_kind(kind, &st);
    if (!st.available)
        return 0;
    return ops->devices(out, max);
}
