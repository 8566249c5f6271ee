/* k2k.h - kernel-to-kernel (K2K) messaging: named endpoints and direct sends between kernels of one runtime,
 * without the host in the loop.
 *
 * Every CPU kernel has a K2K inbox next to its H2K queue: a many-producer ring (queue.h, MPSC) with as many
 * slots of the same size as its H2K, so several kernels can send to one (fan-in). A handler sends with
 * rk_actor_send(); the destination's worker drains H2K and the inbox alternately, in batches, so neither
 * starves the other. A message sent by a handler carries the sender's address as its source, and its HLC
 * stamp comes from the sender's kernel clock; the receiver merges it before its handler runs, so causality
 * holds along any chain: the receiver's own sends and replies are stamped later than the message, which is
 * stamped later than everything the sender had received.
 *
 *     // the host names kernels; handlers find each other by name (resolve once, keep the address in state)
 *     rk_endpoint_register(rt, "parser", parser_kernel);
 *
 *     static int forward(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload) {
 *         rk_addr next;
 *         int rc = rk_actor_resolve(ctx, "parser", &next);
 *         return rc != 0 ? rc : rk_actor_send(ctx, next, env->type_id, payload, env->payload_len);
 *     }
 *
 * Replies: rk_actor_reply() answers whoever sent the request. A request that came from the host (source
 * RK_ADDR_HOST) is answered on K2H, as before; one that came from another kernel over K2K is answered over
 * K2K to that kernel's inbox (flags RK_ENV_REPLY, the request's correlation id). Such a reply can fail the
 * way rk_actor_send fails (RK_EAGAIN, RK_ECLOSED); the room the runtime keeps for the first reply of each
 * message exists only on K2H.
 *
 * Backpressure: a send never blocks and never drops. RK_EAGAIN means the destination's inbox is full and
 * nothing was sent; the handler decides: fail the message, or try again later. A handler must not spin on
 * RK_EAGAIN: the destination may need the very worker thread the handler holds. To retry later, keep the
 * progress in the actor's state and send yourself a continuation message (rk_actor_send to rk_actor_self):
 * it is handled after the other work that is ready, and the destination gets its turn meanwhile.
 *
 * Threads: the endpoint functions are thread-safe (one lock per runtime; resolve once and keep the address).
 * The rk_actor_* functions may be called only from inside a handler, with its ctx.
 *
 * Backends: K2K runs on the CPU backend. On other backends kernels have no inbox yet: rk_actor_send is a
 * CPU handler function, and a send can only reach a kernel of the sender's own runtime.
 */
#ifndef RINGKERNEL_K2K_H
#define RINGKERNEL_K2K_H

#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/actor.h"
#include "ringkernel/error.h"
#include "ringkernel/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest endpoint name, in bytes (without the terminating NUL). */
#define RK_ENDPOINT_NAME_MAX 63

/* ---- Endpoints (any thread) ------------------------------------------------------------------------- */

/**
 * Names kernel k of runtime rt (its address, instance 0) as endpoint `name`. A kernel may have several
 * names. Returns 0; RK_EINVAL on NULL arguments, an empty name or one longer than RK_ENDPOINT_NAME_MAX
 * bytes, or a kernel of another runtime; RK_EEXIST if the name is taken; RK_ENOMEM.
 */
int rk_endpoint_register(rk_runtime *rt, const char *name, rk_kernel *k);

/**
 * Looks an endpoint up. Returns 0 with *out set to the kernel's address; RK_EINVAL on NULL arguments or a
 * bad name; RK_ENOENT if no endpoint has that name. The endpoint of a terminated kernel still resolves
 * (sends to it then fail with RK_ECLOSED) until it is unregistered.
 */
int rk_endpoint_resolve(rk_runtime *rt, const char *name, rk_addr *out);

/** Removes an endpoint. Returns 0; RK_EINVAL on NULL arguments or a bad name; RK_ENOENT if unknown. */
int rk_endpoint_unregister(rk_runtime *rt, const char *name);

/* ---- Inside a CPU handler --------------------------------------------------------------------------- */

/** rk_endpoint_resolve on the handler's own runtime. Returns as rk_endpoint_resolve. */
int rk_actor_resolve(rk_actor_ctx *ctx, const char *endpoint, rk_addr *out);

/**
 * Sends a message to actor `dest` (a kernel of the same runtime; the instance in its low half) through the
 * destination kernel's K2K inbox. The envelope carries source = this actor's address, dest, type_id, no
 * flags, correlation id 0, the next stamp of this kernel's HLC and this kernel's next K2K sequence number.
 * Returns 0 once the message is queued (it will be handled, even if the destination is terminated
 * afterwards); RK_EAGAIN if the destination's inbox is full (nothing was sent; no detail string: it is the
 * normal backpressure signal); RK_ENOENT if no kernel has that id or it has no such instance; RK_ECLOSED if
 * the destination is terminating or stopped; RK_EFAULT if it failed; RK_EMSGSIZE if len exceeds the
 * destination's payload maximum (rk_kernel_payload_max); RK_EINVAL on a NULL ctx, a NULL payload with
 * len > 0, or dest RK_ADDR_HOST (use rk_actor_reply to reach the host).
 */
int rk_actor_send(rk_actor_ctx *ctx, rk_addr dest, uint64_t type_id, const void *payload, uint32_t len);

/**
 * rk_actor_send with envelope flags and a correlation id: flags may be RK_ENV_REQUEST (the receiver's
 * rk_actor_reply comes back to this kernel's inbox with the same correlation id) and RK_ENV_REPLY; other
 * flags are RK_EINVAL. Returns as rk_actor_send.
 */
int rk_actor_send_ex(rk_actor_ctx *ctx, rk_addr dest, uint64_t type_id, uint32_t flags, uint64_t correlation_id,
                     const void *payload, uint32_t len);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_K2K_H */
