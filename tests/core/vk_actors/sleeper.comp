/* sleeper.comp - test_sleeper on Vulkan (runtime_test.c): echoes its payload; a payload of four 64-bit
 * words first waits word 3 microseconds, spinning on the device's real-time clock (VK_KHR_shader_clock's
 * shaderDeviceClock; the backend refuses the module with RK_ENOTSUP on a device without it). The clock
 * counts nanoseconds on lavapipe and on NVIDIA's driver; the spec leaves its unit open, and the test checks
 * that a slow call took at least the time asked for. State: one scratch word (see spin_us; concurrent
 * writes of it race harmlessly, nobody reads it). */
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_realtime_clock : require
#include "rk_actor.glsl"

/* One step of a chain the compiler can neither fold nor skip (xorshift-multiply). */
#define MIX x = (x ^ (x >> 15)) * 0x2c1b3c6du;
#define MIX8 MIX MIX MIX MIX MIX MIX MIX MIX
#define MIX64 MIX8 MIX8 MIX8 MIX8 MIX8 MIX8 MIX8 MIX8

/* Waits us microseconds; returns whether it did. The elapsed time is t - t0 modulo 2^32: exact below
 * 4.29 s. lavapipe caps a shader's loop iterations at 65535 in all (gallivm's guard against hung shaders)
 * and merges back-to-back clock reads, so each iteration also runs 256 dependent steps (about 0.3 us); the
 * chain's result goes to the state (word st), or the compiler would delete the chain, and a loop whose
 * outcome nobody reads goes with it. */
bool spin_us(uint us, uint st)
{
    uint target = min(us, 1000000u) * 1000u; /* ns */
    uint t0 = clockRealtime2x32EXT().x, t = t0, x = t0 | 1u;

    for (uint n = 0u; n < 65000u && t - t0 < target; n++) {
        MIX64 MIX64 MIX64 MIX64
        t = clockRealtime2x32EXT().x;
    }
    rk_state.w[st] = x;
    return t - t0 >= target;
}

int rk_handle(uint i, uint st)
{
    uint len = rk_payload_len(i);

    if (len == 32u && rk_payload_word(i, 6u) != 0u && !spin_us(rk_payload_word(i, 6u), st))
        return RK_VK_EFAULT; /* the wait was cut short: the test must not pass on a fast reply */
    rk_reply_begin(i, rk_type_lo(i), rk_type_hi(i), len);
    for (uint k = 0u; k < (len + 3u) / 4u; k++)
        rk_reply_word(i, k, rk_payload_word(i, k));
    return 0;
}
