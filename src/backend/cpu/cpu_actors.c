/* cpu_actors.c - the built-in CPU actors: echo and counter (builtin.h).
 *
 * They are registered by rk__cpu_actors_register(), which the CPU backend's init calls, rather than with
 * RK_REGISTER_ACTOR: a constructor in an object file nothing references is dropped when the program links
 * the static library, and the built-ins would then silently be missing.
 */
#include <pthread.h>
#include <string.h>

#include "backend/cpu/cpu_internal.h"
#include "ringkernel/builtin.h"

static int rk__echo(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    return rk_actor_reply(ctx, env, env->type_id, payload, env->payload_len);
}

static int rk__counter(rk_actor_ctx *ctx, const rk_envelope *env, const void *payload)
{
    rk_counter_value *st = rk_actor_state(ctx);
    rk_counter_add add;

    if (env->type_id == RK_COUNTER_GET)
        return rk_actor_reply(ctx, env, RK_COUNTER_GET, st, sizeof *st);
    if (env->type_id != RK_COUNTER_ADD || env->payload_len != sizeof add)
        return RK_EINVAL;
    memcpy(&add, payload, sizeof add); /* the slot gives no alignment guarantee beyond the envelope's */
    st->count++;
    st->sum = (int64_t)((uint64_t)st->sum + (uint64_t)add.value); /* wraps without signed overflow */
    if (env->flags & RK_ENV_REQUEST)
        return rk_actor_reply(ctx, env, RK_COUNTER_ADD, st, sizeof *st);
    return 0;
}

static pthread_once_t rk__builtins_once = PTHREAD_ONCE_INIT;

static void rk__cpu_actors_register_once(void)
{
    static const rk_actor_def builtins[] = {
        { "echo", rk__echo, NULL, 0 },
        { "counter", rk__counter, NULL, sizeof(rk_counter_value) },
    };

    /* Cannot fail but for a full registry (RK_ELIMIT): the launch of that name then says RK_ENOENT. */
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        (void)rk__actor_register_builtin(&builtins[i]);
}

void rk__cpu_actors_register(void) { pthread_once(&rk__builtins_once, rk__cpu_actors_register_once); }
