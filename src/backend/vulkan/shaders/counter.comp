/* counter.comp - the built-in counter actor, the protocol of builtin.h: state rk_counter_value (count,
 * sum: two 64-bit words kept as four 32-bit words with explicit carries). Ordered: a "get" sees every
 * earlier "add" of the batch. */
#version 450
#extension GL_GOOGLE_include_directive : require
#define RK_ORDERED 1
#include "rk_actor.glsl"

/* Adds the 64-bit (lo, hi) to the state's 64-bit word at w; wraps like two's complement. */
void add64(uint w, uint lo, uint hi)
{
    uint carry;
    rk_state.w[w] = uaddCarry(rk_state.w[w], lo, carry);
    rk_state.w[w + 1u] = rk_state.w[w + 1u] + hi + carry;
}

void reply_value(uint i, uint type_lo, uint type_hi, uint st)
{
    rk_reply_begin(i, type_lo, type_hi, 16u);
    for (uint k = 0u; k < 4u; k++)
        rk_reply_word(i, k, rk_state.w[st + k]);
}

int rk_handle(uint i, uint st)
{
    uint lo = rk_type_lo(i), hi = rk_type_hi(i);

    if (lo == RK_VK_COUNTER_GET_LO && hi == RK_VK_COUNTER_GET_HI) {
        reply_value(i, lo, hi, st);
        return 0;
    }
    if (lo != RK_VK_COUNTER_ADD_LO || hi != RK_VK_COUNTER_ADD_HI || rk_payload_len(i) != 8u)
        return RK_VK_EINVAL; /* unknown type or wrong size: counted, an error reply to requests */
    add64(st, 1u, 0u);
    add64(st + 2u, rk_payload_word(i, 0u), rk_payload_word(i, 1u));
    if ((rk_flags(i) & RK_VK_FLAG_REQUEST) != 0u) /* as on the CPU: only requests are answered */
        reply_value(i, lo, hi, st);
    return 0;
}
