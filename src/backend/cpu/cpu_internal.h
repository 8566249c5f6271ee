/* cpu_internal.h - shared by the CPU backend's sources; not installed. */
#ifndef RK_CPU_INTERNAL_H
#define RK_CPU_INTERNAL_H

#include "core/runtime_internal.h"

/**
 * Registers the built-in CPU actors (echo, counter; builtin.h) in the process-wide registry, once per
 * process. Called by the CPU backend's init, so a static link cannot drop them: a constructor in an object
 * file that nothing references is left out of the program by the linker.
 */
void rk__cpu_actors_register(void);

/** The CPU backend's compute kernels (cpu_compute.c). */
extern const struct rk__compute_ops rk__cpu_compute_ops;

/** Stops the compute pool of rt and frees rt->compute_data (the backend's destroy). */
void rk__cpu_compute_destroy(rk_runtime *rt);

#endif /* RK_CPU_INTERNAL_H */
