/* failer.comp - test_failer on Vulkan (runtime_test.c): fails TYPE_FAIL messages with RK_EINVAL (the host
 * turns that into an error reply for requests and counts it), echoes the others. */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rk_actor.glsl"
#include "test_types.h"

int rk_handle(uint i, uint st)
{
    uint len = rk_payload_len(i);

    if (rk_type_lo(i) == TEST_FAIL_LO && rk_type_hi(i) == TEST_FAIL_HI)
        return RK_VK_EINVAL;
    rk_reply_begin(i, rk_type_lo(i), rk_type_hi(i), len);
    for (uint k = 0u; k < (len + 3u) / 4u; k++)
        rk_reply_word(i, k, rk_payload_word(i, k));
    return 0;
}
