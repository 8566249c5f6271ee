/* vulkan_internal.h - what the Vulkan backend's files share: the built-in actor table, the context, compute. */
#ifndef RK_VULKAN_INTERNAL_H
#define RK_VULKAN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/** A Vulkan actor: a compute shader built on the rk_actor.glsl prelude (shaders/), as SPIR-V. */
typedef struct rk__vk_actor_def {
    const char *name;
    const uint32_t *spirv;
    const size_t *words;      /* points at the generated array's length */
    uint32_t state_size;      /* bytes of state per instance */
    int ordered;              /* 1: one invocation handles the batch in queue order (RK_ORDERED) */
} rk__vk_actor_def;

/** The built-in actors (echo, counter), in a fixed order; *count receives how many there are. */
const rk__vk_actor_def *rk__vk_actors(int *count);

struct rk_runtime;
struct rk__vk_ctx;
struct rk__compute_ops;

/** The Vulkan context of a Vulkan runtime (vulkan_backend.c). */
struct rk__vk_ctx *rk__vk_runtime_ctx(struct rk_runtime *rt);

/** The compute kernels of the Vulkan backend (vulkan_compute.c). */
extern const struct rk__compute_ops rk__vk_compute_ops;

/** Frees rt->compute_data (the backend's destroy, before the context goes). */
void rk__vk_compute_destroy(struct rk_runtime *rt);

#endif /* RK_VULKAN_INTERNAL_H */
