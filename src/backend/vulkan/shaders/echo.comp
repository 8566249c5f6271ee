/* echo.comp - the built-in echo actor (builtin.h): replies with the request's type and payload. Stateless,
 * so a batch is handled in parallel, one invocation per message. */
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rk_actor.glsl"

int rk_handle(uint i, uint st)
{
    uint len = rk_payload_len(i);

    rk_reply_begin(i, rk_type_lo(i), rk_type_hi(i), len);
    for (uint k = 0u; k < (len + 3u) / 4u; k++)
        rk_reply_word(i, k, rk_payload_word(i, k));
    return 0;
}
