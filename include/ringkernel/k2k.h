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
 * Backends: K2K runs on the CPU and CUDA backends. rk_actor_* are CPU handler functions; a GPU actor sends
 * with rk_k2k_send / rk_k2k_send_reserve + commit, answers with rk_reply and resolves names with
 * rk_k2k_resolve (device.cuh). CUDA inboxes are device-memory rings (cuda.h: per-slot sequence numbers, no
 * host hop); the endpoint functions below also feed the device's endpoint table. A send can only reach a
 * kernel of the sender's own runtime. Topics (rk_subscribe/rk_publish) are CPU-only for now: on CUDA
 * rk_subscribe answers RK_ENOTSUP. Vulkan kernels have no inbox.
 *
 * Topics (publish/subscribe, MQTT semantics: topic.h). The host subscribes a kernel to a topic filter with
 * rk_subscribe, a handler subscribes its own actor with rk_actor_subscribe; the host publishes with
 * rk_publish, a handler with rk_actor_publish. Each runtime keeps one subscription trie under a
 * reader/writer lock: a publication takes the shared lock only to copy its subscribers out of the trie, so
 * publishers never wait for each other, and it goes only to the subscribers whose filters match, each
 * exactly once however many of its filters match ("a/#" and "a/+" both match "a/b": one delivery).
 *
 *     rk_subscribe(rt, logger, "sensors/#");                       // host, any thread
 *     static int on_temp(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload) {
 *         const char *topic; const void *data; uint32_t len;
 *         int n = rk_msg_topic(env, payload, &topic, NULL, &data, &len);
 *         if (n != 0)
 *             return n;                                            // RK_ENOENT: not a publication
 *         n = rk_actor_publish(ctx, "alerts/temp", env->type_id, data, len);
 *         return n < 0 ? n : 0;                                    // RK_EAGAIN: nobody got it
 *     }
 *
 * A publication arrives in each subscriber's K2K inbox like a K2K send: flags RK_ENV_TOPIC, source the
 * publisher (RK_ADDR_HOST for the host), dest the subscriber's address, correlation id 0, and one HLC stamp
 * and one sequence number for all its deliveries (the publication is one event): the host's clock and a
 * runtime-wide host publication counter for rk_publish, the kernel's clock and its K2K sequence for
 * rk_actor_publish. The stamp is later than everything the publisher did or received before, and the
 * subscriber merges it before its handler runs. Deliveries of one publisher reach each subscriber in the
 * order they were published. The payload starts with the topic (fixed layout, little-endian):
 *
 *     offset 0                 uint16  topic_len   bytes of the topic name, 1..RK_TOPIC_MAX_LEN
 *     offset 2                 char    topic[topic_len], then one NUL, then zero bytes up to a multiple of 8
 *     RK_TOPIC_HDR_SIZE(len)   the publisher's payload (payload_len - RK_TOPIC_HDR_SIZE(topic_len) bytes)
 *
 * so the user payload stays 8-byte aligned in its slot. rk_msg_topic parses and checks it. A publication
 * therefore fits a subscriber only if RK_TOPIC_HDR_SIZE(topic_len) + len <= rk_kernel_payload_max.
 *
 * Backpressure. A publication is all or nothing: it reserves a slot in the inbox of every live subscriber
 * before it writes any, and if one inbox is full it withdraws the slots it holds (each becomes a no-op the
 * subscriber skips; it counts in that kernel's k2k_in) and delivers nothing.
 *   - rk_actor_publish never waits (a handler must not: see above): a full inbox fails the call with
 *     RK_EAGAIN, and nobody got the message, so the handler can retry it later exactly as an rk_actor_send
 *     (a continuation message to itself) without duplicates.
 *   - rk_publish waits up to timeout_ns for every subscriber to have room at once, re-trying whenever the
 *     inbox that was full has room again; RK_ETIMEDOUT (RK_EAGAIN when timeout_ns is 0) if that never
 *     happened, and then nobody got it.
 *   - With RK_PUBLISH_DROP_IF_FULL (rk_publish_ex, rk_actor_publish_ex) the caller accepts losses: the
 *     call never waits, every subscriber with room gets the message, those without do not, and the call
 *     succeeds with the number delivered. Drops are counted, never silent: in rk_publish_info.dropped, and
 *     for a handler also in its kernel's statistics (rk_kernel_stats.dropped).
 * Subscribers that are terminating, stopped or failed are skipped (rk_publish_info.closed) and are not an
 * error: a publication goes to the live subscribers. A kernel's subscriptions are removed when it stops
 * (so a later rk_unsubscribe answers RK_ENOENT); one that failed keeps them, skipped, until the runtime is
 * destroyed.
 *
 * Threads: rk_subscribe, rk_unsubscribe and rk_publish may be called from any host thread, concurrently;
 * rk_publish with a timeout must not be called from a handler (it could wait for the worker it holds).
 * Costs: routing is one trie lookup (topic.h) under the shared lock; subscribing, unsubscribing and a
 * kernel's stop take the exclusive lock, and the latter two scan the subscriptions of the kernels that hash
 * to the same bucket (64 buckets by kernel id).
 */
#ifndef RINGKERNEL_K2K_H
#define RINGKERNEL_K2K_H

#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/actor.h"
#include "ringkernel/error.h"
#include "ringkernel/runtime.h"
#include "ringkernel/topic.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest endpoint name, in bytes (without the terminating NUL). */
#define RK_ENDPOINT_NAME_MAX 63

/**
 * Envelope flag of a publication (see Topics above): the payload starts with the topic header. One of the
 * flags of rk_envelope.flags (abi.h holds the others; this one never crosses the host/device boundary).
 */
#define RK_ENV_TOPIC (1u << 4)

/** Bytes of the topic header for a topic name of n bytes: 2 + n + 1 (the NUL), rounded up to 8. */
#define RK_TOPIC_HDR_SIZE(n) ((((uint32_t)(n)) + 3u + 7u) & ~7u)

/** Flags of rk_publish_ex and rk_actor_publish_ex. */
enum rk_publish_flags {
    RK_PUBLISH_DROP_IF_FULL = 1u << 0, /* never wait; skip subscribers whose inbox is full, counting them */
};

/** What became of one publication (filled by the _ex calls, on success and on failure). */
typedef struct rk_publish_info {
    uint32_t matched;   /* subscribers whose filters match the topic, each counted once */
    uint32_t delivered; /* of them, those that got the message (the return value on success) */
    uint32_t dropped;   /* skipped because their inbox was full (RK_PUBLISH_DROP_IF_FULL only) */
    uint32_t closed;    /* skipped because they are terminating, stopped or failed */
} rk_publish_info;

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

/* ---- Topics (host, any thread) ---------------------------------------------------------------------- */

/**
 * Subscribes kernel k (its address, instance 0) to topic filter `filter` (topic.h: '+' and '#' wildcards).
 * Publications whose topic the filter matches are delivered to k's K2K inbox. Returns 0; RK_EINVAL on NULL
 * arguments, a kernel of another runtime, or an invalid filter (rk_last_error() has the topic module's
 * detail); RK_EEXIST if k already subscribes with this exact filter string; RK_ECLOSED if k is terminating
 * or stopped; RK_ENOTSUP if the runtime's backend has no K2K inboxes (not the CPU); RK_ELIMIT; RK_ENOMEM.
 */
int rk_subscribe(rk_runtime *rt, rk_kernel *k, const char *filter);

/**
 * Removes k's subscription to `filter` (the string it subscribed with). Publications already delivered
 * stay in the inbox. Returns 0; RK_EINVAL as rk_subscribe; RK_ENOENT if k has no such subscription (also
 * once k stopped: its subscriptions went with it).
 */
int rk_unsubscribe(rk_runtime *rt, rk_kernel *k, const char *filter);

/**
 * Publishes a message to every subscriber of `topic` (a topic name: no wildcards), all or nothing, waiting
 * up to timeout_ns for room (see Backpressure above). The message is stamped with the runtime's host
 * clock. Returns the number of subscribers it was delivered to (0 if nobody subscribes); RK_EINVAL on a
 * NULL runtime, an invalid topic (the topic module's detail), a NULL payload with len > 0; RK_EMSGSIZE if
 * the topic header and len bytes do not fit the slot of some subscriber (nothing delivered); RK_EAGAIN
 * (timeout_ns 0) or RK_ETIMEDOUT if some subscriber's inbox stayed full (nothing delivered; the detail names
 * it); RK_ENOMEM.
 */
int rk_publish(rk_runtime *rt, const char *topic, uint64_t type_id, const void *payload, uint32_t len,
               int64_t timeout_ns);

/**
 * rk_publish with flags (rk_publish_flags; others are RK_EINVAL) and an optional report (info may be NULL;
 * it is filled whenever the topic was routed, also when the call fails). With RK_PUBLISH_DROP_IF_FULL
 * timeout_ns is ignored and the call returns the number delivered (see Backpressure). Returns as rk_publish.
 */
int rk_publish_ex(rk_runtime *rt, const char *topic, uint64_t type_id, uint32_t flags, const void *payload,
                  uint32_t len, int64_t timeout_ns, rk_publish_info *info);

/**
 * Parses a publication as its handler receives it (env and payload as passed to the handler). Sets those of
 * the out pointers that are not NULL: *topic to the topic name inside the payload (NUL-terminated, valid as
 * long as the payload), *topic_len to its length, *user_payload and *user_len to the publisher's payload.
 * Returns 0; RK_EINVAL if env or payload is NULL; RK_ENOENT if the message is not a publication (no
 * RK_ENV_TOPIC flag: a plain send); RK_ECORRUPT if the header does not fit payload_len, its length is 0 or
 * above RK_TOPIC_MAX_LEN, or the NUL is missing.
 */
int rk_msg_topic(const rk_envelope *env, const void *payload, const char **topic, uint32_t *topic_len,
                 const void **user_payload, uint32_t *user_len);

/* ---- Topics inside a CPU handler ------------------------------------------------------------------- */

/**
 * Subscribes this actor (rk_actor_self: its kernel and instance) to `filter`. Returns as rk_subscribe
 * (RK_ECLOSED while its kernel drains after terminate); RK_EINVAL also on a NULL ctx.
 */
int rk_actor_subscribe(rk_actor_ctx *ctx, const char *filter);

/** Removes this actor's subscription to `filter`. Returns as rk_unsubscribe; RK_EINVAL on a NULL ctx. */
int rk_actor_unsubscribe(rk_actor_ctx *ctx, const char *filter);

/**
 * Publishes from a handler: as rk_publish, but stamped with this kernel's clock and its K2K sequence
 * number, source = this actor's address, and it never waits. Returns the number of subscribers it was
 * delivered to (0 if nobody subscribes; the actor itself counts when it subscribes); RK_EAGAIN if some
 * subscriber's inbox was full (nothing was delivered, no detail string: it is the normal backpressure
 * signal; retry later as for rk_actor_send); RK_EINVAL (NULL ctx, an invalid topic, a NULL payload with
 * len > 0); RK_EMSGSIZE; RK_ENOMEM.
 */
int rk_actor_publish(rk_actor_ctx *ctx, const char *topic, uint64_t type_id, const void *payload, uint32_t len);

/**
 * rk_actor_publish with flags (RK_PUBLISH_DROP_IF_FULL: deliver to those with room; each miss is counted in
 * info->dropped and in this kernel's statistics) and an optional report. Returns as rk_actor_publish.
 */
int rk_actor_publish_ex(rk_actor_ctx *ctx, const char *topic, uint64_t type_id, uint32_t flags,
                        const void *payload, uint32_t len, rk_publish_info *info);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_K2K_H */
