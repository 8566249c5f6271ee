/* actor.h - actor handlers for the CPU backend, registered by name.
 *
 * An actor is a handler function plus persistent state. The runtime calls the handler once per message
 * addressed to the kernel, on a worker thread; a kernel's messages are handled by at most one worker at a
 * time, in order, so a handler needs no locking for its own state. The handler may reply to the host
 * (K2H) any number of times, and send to other kernels of its runtime (k2k.h).
 *
 *     static int add_one(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload) {
 *         uint64_t v; memcpy(&v, payload, sizeof v); v += 1;
 *         return rk_actor_reply(ctx, env, env->type_id, &v, sizeof v);
 *     }
 *     RK_REGISTER_ACTOR(add_one, add_one, 0);
 *
 * GPU handlers are registered with the device-side macro in device.cuh (CUDA) or with
 * rk_vulkan_actor_register below (Vulkan) under the same names; a name may have a CPU handler, GPU handlers
 * or all of them, and rk_kernel_launch picks the one for the runtime's backend.
 */
#ifndef RINGKERNEL_ACTOR_H
#define RINGKERNEL_ACTOR_H

#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rk_actor_ctx rk_actor_ctx;

/**
 * Handles one message. The envelope and payload are read in place from the H2K slot (or the K2K inbox
 * slot, k2k.h) and are valid only during the call. Returns 0, or a negative RK_E* code: the error is counted in the kernel's statistics
 * and, if the message was a request (RK_ENV_REQUEST), an error reply carrying the code is sent to the host,
 * or to the requesting kernel over K2K (k2k.h; if that kernel's inbox is full or it stopped, the error
 * reply is dropped and counted in the statistics' `dropped`).
 */
typedef int (*rk_actor_fn)(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload);

/** Initialises fresh state (zeroed memory of state_size bytes) at launch. Returns 0 or an RK_E* code. */
typedef int (*rk_actor_init_fn)(void *state, uint32_t state_size);

typedef struct rk_actor_def {
    const char *name;         /* registry key; at most 63 bytes */
    rk_actor_fn handler;      /* required */
    rk_actor_init_fn init;    /* optional */
    uint32_t state_size;      /* default bytes of state (rk_launch_opts.state_size overrides) */
} rk_actor_def;

/**
 * Registers a CPU actor (process-wide; the definition is copied). Returns 0; RK_EINVAL on NULL def, name or
 * handler, or a name longer than 63 bytes; RK_EEXIST if the name is already registered for the CPU.
 */
int rk_actor_register(const rk_actor_def *def);

/** Removes a CPU actor registration. Returns 0 or RK_ENOENT. Running kernels are not affected. */
int rk_actor_unregister(const char *name);

/** Looks up a CPU actor. Returns 0 with *out filled, RK_EINVAL, or RK_ENOENT. */
int rk_actor_lookup(const char *name, rk_actor_def *out);

/**
 * Registers `fn` as actor `name` (an identifier) with `state_size` bytes of state, at program start
 * (a constructor). A registration that fails (duplicate name) is recorded and reported by
 * rk_kernel_launch of that name, not by aborting.
 */
#define RK_REGISTER_ACTOR(name, fn, state_size)                                              \
    __attribute__((constructor)) static void rk__register_actor_##name(void)                 \
    {                                                                                        \
        rk_actor_def rk__def = { #name, (fn), 0, (state_size) };                              \
        (void)rk_actor_register(&rk__def);                                                   \
    }

/* ---- Vulkan actors ------------------------------------------------------------------------------------
 *
 * A Vulkan actor is a compute shader built on the prelude ringkernel/vulkan/rk_actor.glsl (installed with
 * the headers), compiled to SPIR-V by the user (glslangValidator -V --target-env vulkan1.0 -I<that dir>).
 * The shader defines `int rk_handle(uint i, uint st)` and includes the prelude: message i of the batch is
 * read with rk_type_lo/hi(i), rk_flags(i), rk_payload_len(i), rk_payload_word(i, k), rk_env_word(i, k) and
 * rk_instance(i); the handler replies at most once (rk_reply_begin, then rk_reply_word) and returns 0 or a
 * negative RK_E* code (rk_vk_abi.h has the common ones), exactly as the built-in echo and counter do. The
 * host builds the reply envelopes (ARCHITECTURE.md §10.10): errors of requests become error replies, as on
 * the CPU. By default a batch runs in parallel, invocation i handling message i; a shader that defines
 * RK_ORDERED before the include has one invocation handle the batch in queue order (state that depends on
 * message order). State: st is the word offset of the message's instance's state in rk_state.w[] (state_size
 * bytes per instance, zeroed at launch). Shaders use 32-bit words; a module needing an optional device
 * feature (64-bit types, VK_KHR_shader_clock) launches only where the device has it (RK_ENOTSUP otherwise).
 *
 * The definition is its own struct, not a field of rk_actor_def: rk_actor_register and rk_actor_lookup copy
 * rk_actor_def by value, so growing it would make the library read and write past the struct of a program
 * compiled against an older header. `size` lets this one grow: the library reads only the fields it covers.
 */
typedef struct rk_vulkan_actor_def {
    uint32_t size;             /* sizeof(rk_vulkan_actor_def) */
    uint32_t state_size;       /* bytes of state per instance (rk_launch_opts.state_size may ask for more) */
    const char *name;          /* registry key; at most 63 bytes */
    const uint32_t *spirv;     /* the SPIR-V module (copied at registration) */
    size_t spirv_words;        /* its length in 32-bit words */
} rk_vulkan_actor_def;

/**
 * Registers a Vulkan actor (process-wide; definition and module are copied). A Vulkan registration of a
 * built-in name (echo, counter) replaces the built-in on Vulkan. Works in every build: without the Vulkan
 * backend the actor is simply never launched. Returns 0; RK_EINVAL (NULL def, name or module; a name of 0 or
 * more than 63 bytes; a size smaller than the fields above; words that are not a SPIR-V module); RK_EEXIST if
 * a Vulkan actor of that name is registered; RK_ELIMIT (256 actors); RK_ENOMEM. The module's entry point
 * and local size are checked at launch (RK_EINVAL names what is wrong).
 */
int rk_vulkan_actor_register(const rk_vulkan_actor_def *def);

/** Removes a Vulkan actor registration. Returns 0, RK_EINVAL (NULL) or RK_ENOENT. Running kernels keep
 * their pipeline. */
int rk_vulkan_actor_unregister(const char *name);

/* ---- Inside a handler --------------------------------------------------------------------------------- */

/** The actor's persistent state (state_size bytes, zeroed at launch; NULL if state_size is 0). */
void *rk_actor_state(rk_actor_ctx *ctx);

/** Size of the actor's state in bytes. */
uint32_t rk_actor_state_size(rk_actor_ctx *ctx);

/** The kernel's address. */
rk_addr rk_actor_self(rk_actor_ctx *ctx);

/** Largest payload a reply may carry. */
uint32_t rk_actor_payload_max(rk_actor_ctx *ctx);

/**
 * Replies to the host (K2H) with type_id and len bytes of payload, copying `request`'s correlation id and
 * setting RK_ENV_REPLY (request may be NULL for an unsolicited message). Stamps the kernel's HLC, which
 * already merged the request's stamp. Returns 0; RK_EMSGSIZE; RK_EAGAIN if K2H is full (the runtime
 * guarantees room for the first reply of each message: a handler that replies once never sees it).
 * A request that another kernel sent (its source is not RK_ADDR_HOST) is answered over K2K instead, to the
 * sender's inbox, and the call returns as rk_actor_send (k2k.h): RK_EAGAIN there means that inbox is full.
 */
int rk_actor_reply(rk_actor_ctx *ctx, const rk_envelope *request, uint64_t type_id, const void *payload,
                   uint32_t len);

/**
 * Zero-copy reply: reserves a K2H slot for len bytes and returns its envelope (header filled as
 * rk_actor_reply would) and payload pointer; write the payload, then rk_actor_reply_commit. Replies to the
 * host only: a request from another kernel gets RK_ENOTSUP (use rk_actor_reply).
 */
int rk_actor_reply_reserve(rk_actor_ctx *ctx, const rk_envelope *request, uint64_t type_id, uint32_t len,
                           rk_envelope **env, void **payload);

/** Publishes the reserved reply. Returns 0 or RK_EINVAL if nothing is reserved. */
int rk_actor_reply_commit(rk_actor_ctx *ctx);

/** The kernel's HLC: stamps a local event. Returns 0 or RK_EINVAL. */
int rk_actor_hlc_now(rk_actor_ctx *ctx, rk_hlc_ts *out);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_ACTOR_H */
