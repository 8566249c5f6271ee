/* test_actors.cu - GPU actors used by the CUDA tests: a user actor registered with RK_DEVICE_ACTOR. */
#include "ringkernel/device.cuh"

/* faulty: echoes, except that a message of type "boom" fails the kernel (RK_EFAULT) and "oops" returns a
 * plain handler error. */
__device__ static int faulty_handler(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    if (env->type_id == rk_type_id_dev("boom"))
        return RK_EFAULT;
    if (env->type_id == rk_type_id_dev("oops"))
        return RK_EINVAL;
    return rk_reply(ctx, env->type_id, payload, env->payload_len);
}
RK_DEVICE_ACTOR(faulty, faulty_handler, 0)

/* stamp: replies with its own thread's HLC tick and the grid position that handled the message. */
struct stamp_reply {
    rk_hlc_ts ts;
    uint32_t block, thread;
};
__device__ static int stamp_handler(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    (void)payload;
    struct stamp_reply r;
    r.ts = rk_hlc_now(ctx);
    r.block = rk_block_idx();
    r.thread = rk_thread_idx();
    return rk_reply(ctx, env->type_id, &r, sizeof r);
}
RK_DEVICE_ACTOR(stamp, stamp_handler, 0)

/* Referenced by the C test so the linker keeps this object and its static registrations. */
extern "C" int rk_test_actors_linked(void) { return 1; }
