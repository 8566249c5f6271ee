/* hlc_probe.comp - test_hlc_probe on Vulkan (runtime_test.c): replies with the request's HLC stamp (its 16
 * bytes, as the CPU actor does); the reply's own stamp is the host's, in its envelope. */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rk_actor.glsl"

int rk_handle(uint i, uint st)
{
    rk_reply_begin(i, rk_type_lo(i), rk_type_hi(i), 16u);
    for (uint k = 0u; k < 4u; k++)
        rk_reply_word(i, k, rk_env_word(i, RK_VK_ENV_HLC + k));
    return 0;
}
