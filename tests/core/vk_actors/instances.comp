/* instances.comp - test_instances on Vulkan (runtime_test.c): replies with its instance number and a
 * per-instance message count kept in the instance's state (a 64-bit count as two words), both as 64-bit
 * words. Ordered, so two messages to one instance in a batch count one after the other. */
#version 450
#extension GL_GOOGLE_include_directive : require
#define RK_ORDERED 1
#include "rk_actor.glsl"

int rk_handle(uint i, uint st)
{
    uint carry;

    rk_state.w[st] = uaddCarry(rk_state.w[st], 1u, carry);
    rk_state.w[st + 1u] += carry;
    rk_reply_begin(i, rk_type_lo(i), rk_type_hi(i), 16u);
    rk_reply_word(i, 0u, rk_instance(i));
    rk_reply_word(i, 1u, 0u);
    rk_reply_word(i, 2u, rk_state.w[st]);
    rk_reply_word(i, 3u, rk_state.w[st + 1u]);
    return 0;
}
