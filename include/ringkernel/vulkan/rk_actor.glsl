/* rk_actor.glsl - the prelude of a Vulkan ring-kernel actor: buffers, accessors and the batch entry point.
 *
 * Public (installed as ringkernel/vulkan/rk_actor.glsl): the built-in echo and counter and every user
 * actor (actor.h, rk_vulkan_actor_register) are built on it, e.g.
 *     glslangValidator -V --target-env vulkan1.0 -I<prefix>/include/ringkernel/vulkan -o my.spv my.comp
 * The backend reads the module's local size to tell the two forms apart (64: parallel, 1: RK_ORDERED), so
 * a shader must not set its own.
 *
 * An actor shader defines RK_ORDERED (optional) and `int rk_handle(uint i, uint st)`, then includes this
 * file. One dispatch handles one batch of messages copied from H2K by the host (rk_vk_abi.h). Without
 * RK_ORDERED, invocation i handles message i, all in parallel (stateless actors such as echo); with it,
 * invocation 0 handles the whole batch in queue order (an actor whose state depends on message order).
 *
 * rk_handle(i, st): i is the message's index in the batch, st the word offset of its instance's state in
 * rk_state. It returns 0 or a negative RK_E* code; it replies at most once (rk_reply_begin, then the
 * payload words). The host counts errors and sends the error reply a request expects.
 */
#extension GL_GOOGLE_include_directive : require
#include "rk_vk_abi.h"

#ifdef RK_ORDERED
layout(local_size_x = 1) in;
#else
layout(local_size_x = 64) in;
#endif

layout(std430, set = 0, binding = 0) readonly buffer RkIn { uint w[]; } rk_in;
layout(std430, set = 0, binding = 1) buffer RkOut { uint w[]; } rk_out;
layout(std430, set = 0, binding = 2) buffer RkState { uint w[]; } rk_state;

int rk_handle(uint i, uint st);

uint rk_slot_base(uint i)
{
    return RK_VK_IN_HDR_WORDS + rk_in.w[RK_VK_IN_MAX_BATCH] + i * rk_in.w[RK_VK_IN_SLOT_WORDS];
}

uint rk_out_base(uint i) { return i * rk_in.w[RK_VK_IN_OUT_WORDS]; }

uint rk_type_lo(uint i) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_TYPE]; }
uint rk_type_hi(uint i) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_TYPE + 1u]; }
uint rk_flags(uint i) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_HEAD] >> 24; }
uint rk_payload_len(uint i) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_LEN]; }
uint rk_payload_word(uint i, uint k) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_WORDS + k]; }
/* Word k of message i's envelope (rk_vk_abi.h RK_VK_ENV_*: the HLC stamp, addresses, correlation id). */
uint rk_env_word(uint i, uint k) { return rk_in.w[rk_slot_base(i) + k]; }
/* The instance message i is addressed to (the host checked it against the kernel's instance count). */
uint rk_instance(uint i) { return rk_in.w[rk_slot_base(i) + RK_VK_ENV_DEST]; }

/* Starts the reply to message i: its type and payload length; the payload follows with rk_reply_word. */
void rk_reply_begin(uint i, uint type_lo, uint type_hi, uint len)
{
    uint o = rk_out_base(i);
    rk_out.w[o + RK_VK_OUT_REPLIED] = 1u;
    rk_out.w[o + RK_VK_OUT_TYPE] = type_lo;
    rk_out.w[o + RK_VK_OUT_TYPE + 1u] = type_hi;
    rk_out.w[o + RK_VK_OUT_LEN] = len;
}

void rk_reply_word(uint i, uint k, uint v) { rk_out.w[rk_out_base(i) + RK_VK_OUT_HDR_WORDS + k] = v; }

void rk_run_one(uint i)
{
    uint o = rk_out_base(i);
    uint op = rk_in.w[RK_VK_IN_HDR_WORDS + i];
    rk_out.w[o + RK_VK_OUT_REPLIED] = 0u;
    rk_out.w[o + RK_VK_OUT_RC] = 0u;
    if (op == 0u)
        return;
    uint inst = rk_in.w[rk_slot_base(i) + RK_VK_ENV_DEST]; /* the host checked it against the instance count */
    rk_out.w[o + RK_VK_OUT_RC] = uint(rk_handle(i, inst * rk_in.w[RK_VK_IN_STATE_WORDS]));
}

void main()
{
    uint n = rk_in.w[RK_VK_IN_N];
#ifdef RK_ORDERED
    if (gl_GlobalInvocationID.x == 0u)
        for (uint i = 0u; i < n; i++)
            rk_run_one(i);
#else
    if (gl_GlobalInvocationID.x < n)
        rk_run_one(gl_GlobalInvocationID.x);
#endif
}
