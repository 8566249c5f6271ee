/* vulkan_actors.c - the built-in Vulkan actors (builtin.h): echo and counter, as embedded SPIR-V.
 *
 * The shaders are shaders/echo.comp and shaders/counter.comp, compiled at build time (vulkan.cmake); the
 * arrays come from the generated sources. Their message protocol is the CPU built-ins' (cpu_actors.c),
 * so the parametrised runtime suite checks both against the same expectations.
 */
#include "backend/vulkan/vulkan_internal.h"
#include "ringkernel/builtin.h"

extern const uint32_t rk__vk_spv_echo[];
extern const size_t rk__vk_spv_echo_words;
extern const uint32_t rk__vk_spv_counter[];
extern const size_t rk__vk_spv_counter_words;

static const rk__vk_actor_def rk__vk_builtins[] = {
    { "echo", rk__vk_spv_echo, &rk__vk_spv_echo_words, 0, 0 },
    { "counter", rk__vk_spv_counter, &rk__vk_spv_counter_words, sizeof(rk_counter_value), 1 },
};

const rk__vk_actor_def *rk__vk_actors(int *count)
{
    *count = (int)(sizeof rk__vk_builtins / sizeof rk__vk_builtins[0]);
    return rk__vk_builtins;
}
