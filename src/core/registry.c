/* registry.c - the process-wide registry of CPU actors, by name (actor.h).
 *
 * A fixed table of RK__REGISTRY_MAX (1024) entries under one mutex. Registration is rare (program start,
 * plugin load) and lookups happen once per kernel launch, so a linear scan under a lock is the simplest
 * thing that is obviously correct: O(n) per call, n <= 1024. A full table answers RK_ELIMIT.
 *
 * Rules:
 *   G1  A name is held by at most one entry. Names are copied into the entry (at most 63 bytes).
 *   G2  A user registration shadows a built-in one (echo, counter) whatever the order: registering a
 *       built-in over a user entry is skipped, registering a user actor over a built-in replaces it.
 *   G3  A second user registration of a held name fails with RK_EEXIST. If its definition differs from
 *       the held one (handler, init or state size), the name is marked conflicting, and launching it
 *       fails with RK_EEXIST until it is unregistered: RK_REGISTER_ACTOR runs in a constructor that
 *       cannot report anything, and running whichever definition the link order happened to put first
 *       would be a silent bug. Registering the same definition twice (a header included twice) is
 *       harmless and only the second call's RK_EEXIST says so.
 *
 * The mutex is statically initialised, so constructors (RK_REGISTER_ACTOR) may run before main().
 */
#include <pthread.h>
#include <string.h>

#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/actor.h"

/** Capacity of the registry: names beyond it fail with RK_ELIMIT. */
#define RK__REGISTRY_MAX 1024
/** Longest name, in bytes (actor.h). */
#define RK__NAME_MAX 63

typedef struct rk__actor_entry {
    char name[RK__NAME_MAX + 1]; /* "" = free */
    rk_actor_def def;            /* def.name points at name above */
    int builtin;                 /* registered by the library (G2) */
    int conflict;                /* a different definition claimed the name (G3) */
} rk__actor_entry;

static pthread_mutex_t rk__registry_lock = PTHREAD_MUTEX_INITIALIZER;
static rk__actor_entry rk__registry[RK__REGISTRY_MAX]; /* under rk__registry_lock */

static int rk__registry_check_name(const char *name, const char *fn)
{
    size_t len;

    if (name == NULL)
        return rk__err(RK_EINVAL, "%s: name is NULL", fn);
    len = strnlen(name, RK__NAME_MAX + 1);
    if (len == 0 || len > RK__NAME_MAX)
        return rk__err(RK_EINVAL, "%s: actor name must be 1 to %d bytes (got %s%zu)", fn, RK__NAME_MAX,
                       len > RK__NAME_MAX ? "more than " : "", len > RK__NAME_MAX ? (size_t)RK__NAME_MAX : len);
    return 0;
}

static int rk__registry_check_def(const rk_actor_def *def, const char *fn)
{
    if (def == NULL)
        return rk__err(RK_EINVAL, "%s: def is NULL", fn);
    if (def->handler == NULL)
        return rk__err(RK_EINVAL, "%s: actor '%.63s' has no handler", fn, def->name ? def->name : "(null)");
    return rk__registry_check_name(def->name, fn);
}

/* Under the lock. The entry holding name, or NULL. */
static rk__actor_entry *rk__registry_find(const char *name)
{
    for (int i = 0; i < RK__REGISTRY_MAX; i++)
        if (rk__registry[i].name[0] != '\0' && strcmp(rk__registry[i].name, name) == 0)
            return &rk__registry[i];
    return NULL;
}

/* Under the lock. A free entry, or NULL when the table is full. */
static rk__actor_entry *rk__registry_free_entry(void)
{
    for (int i = 0; i < RK__REGISTRY_MAX; i++)
        if (rk__registry[i].name[0] == '\0')
            return &rk__registry[i];
    return NULL;
}

/* Under the lock: fills e with def. */
static void rk__registry_fill(rk__actor_entry *e, const rk_actor_def *def, int builtin)
{
    rk__strlcpy(e->name, def->name, sizeof e->name);
    e->def = *def;
    e->def.name = e->name;
    e->builtin = builtin;
    e->conflict = 0;
}

static int rk__registry_add(const rk_actor_def *def, int builtin, const char *fn)
{
    rk__actor_entry *e;
    int rc = 0;

    if ((rc = rk__registry_check_def(def, fn)) != 0)
        return rc;
    pthread_mutex_lock(&rk__registry_lock);
    e = rk__registry_find(def->name);
    if (e != NULL) {
        if (builtin) {
            rc = 0; /* G2: a user actor or the same built-in already holds the name */
        } else if (e->builtin) {
            rk__registry_fill(e, def, 0); /* G2: the user's definition replaces the built-in */
        } else {
            /* G3 */
            if (e->def.handler != def->handler || e->def.init != def->init ||
                e->def.state_size != def->state_size)
                e->conflict = 1;
            rc = rk__err(RK_EEXIST, "%s: actor '%s' is already registered%s", fn, def->name,
                         e->conflict ? " with a different definition: launching it fails until it is "
                                       "unregistered"
                                     : "");
        }
    } else if ((e = rk__registry_free_entry()) == NULL) {
        rc = rk__err(RK_ELIMIT, "%s: the registry is full (%d actors)", fn, RK__REGISTRY_MAX);
    } else {
        rk__registry_fill(e, def, builtin);
    }
    pthread_mutex_unlock(&rk__registry_lock);
    return rc;
}

int rk_actor_register(const rk_actor_def *def) { return rk__registry_add(def, 0, "rk_actor_register"); }

int rk__actor_register_builtin(const rk_actor_def *def)
{
    return rk__registry_add(def, 1, "rk__actor_register_builtin");
}

int rk_actor_unregister(const char *name)
{
    rk__actor_entry *e;
    int rc;

    /* A name that could never be registered (empty, too long) is simply not there: RK_ENOENT. */
    if (name == NULL)
        return rk__err(RK_EINVAL, "rk_actor_unregister: name is NULL");
    if ((rc = rk__registry_check_name(name, "rk_actor_unregister")) != 0)
        return rk__err(RK_ENOENT, "rk_actor_unregister: no actor '%.63s'", name);
    pthread_mutex_lock(&rk__registry_lock);
    e = rk__registry_find(name);
    if (e != NULL)
        memset(e, 0, sizeof *e);
    pthread_mutex_unlock(&rk__registry_lock);
    if (e == NULL)
        return rk__err(RK_ENOENT, "rk_actor_unregister: no actor '%s'", name);
    return 0;
}

/* Shared by lookup and resolve: conflicts are reported only by resolve (launch). */
static int rk__registry_get(const char *name, rk_actor_def *out, int check_conflict, const char *fn)
{
    rk__actor_entry *e;
    int rc = 0;

    if (out == NULL)
        return rk__err(RK_EINVAL, "%s: out is NULL", fn);
    if ((rc = rk__registry_check_name(name, fn)) != 0)
        return rc;
    pthread_mutex_lock(&rk__registry_lock);
    e = rk__registry_find(name);
    if (e == NULL)
        rc = rk__err(RK_ENOENT, "%s: no CPU actor is registered as '%s'", fn, name);
    else if (check_conflict && e->conflict)
        rc = rk__err(RK_EEXIST, "%s: actor '%s' was registered twice with different definitions "
                     "(duplicate RK_REGISTER_ACTOR?); unregister it and register one", fn, name);
    else
        *out = e->def;
    pthread_mutex_unlock(&rk__registry_lock);
    return rc;
}

int rk_actor_lookup(const char *name, rk_actor_def *out)
{
    return rk__registry_get(name, out, 0, "rk_actor_lookup");
}

int rk__actor_resolve(const char *name, rk_actor_def *out)
{
    return rk__registry_get(name, out, 1, "rk_kernel_launch");
}
