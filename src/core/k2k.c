/* k2k.c - K2K routing, backend-independent: the kernel directory and the named endpoints (k2k.h).
 *
 * The sends themselves belong to the backend that runs the handlers (cpu_backend.c); this file answers the
 * two questions a send asks: which kernel has this id (lock-free, on every send), and which kernel has this
 * name (under a lock, once per name: handlers keep the address).
 *
 * Kernel directory: an array indexed by kernel id. Ids are handed out in order and never reused
 * (runtime.c), so the array only grows. It grows under rt->lock by copying into a new array twice the size
 * and publishing that with a release store; the old array stays allocated (chained through `prev`) until the
 * runtime is destroyed, because a sender may still read it. The arrays add up to less than twice the last
 * one: O(kernels launched) memory, fine for a structure that holds one pointer per kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/runtime_internal.h"
#include "ringkernel/k2k.h"

/** Smallest directory. */
#define RK__KDIR_MIN 64u

struct rk__kdir {
    rk__kdir *prev;                /* the array this one replaced, freed with the runtime */
    uint32_t cap;                  /* entries */
    _Atomic(rk_kernel *) slot[];   /* written under rt->lock (release), read by senders (acquire) */
};

struct rk__endpoint {
    rk__endpoint *next;            /* bucket chain, under ep_lock */
    rk_kernel *k;
    char name[RK_ENDPOINT_NAME_MAX + 1];
};

int rk__k2k_init(rk_runtime *rt)
{
    atomic_init(&rt->kdir, NULL);
    memset(rt->ep, 0, sizeof rt->ep);
    if (pthread_mutex_init(&rt->ep_lock, NULL) != 0)
        return rk__err(RK_ENOMEM, "rk_runtime_create: cannot initialise a mutex");
    return 0;
}

void rk__k2k_destroy(rk_runtime *rt)
{
    /* Relaxed: no handler runs any more (runtime.c destroys after every kernel was released). */
    rk__kdir *d = atomic_load_explicit(&rt->kdir, memory_order_relaxed);

    while (d != NULL) {
        rk__kdir *prev = d->prev;

        free(d);
        d = prev;
    }
    for (uint32_t b = 0; b < RK__ENDPOINT_BUCKETS; b++) {
        for (rk__endpoint *e = rt->ep[b], *next; e != NULL; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&rt->ep_lock);
}

/* ---- Kernel directory ------------------------------------------------------------------------------- */

int rk__kdir_reserve(rk_runtime *rt, uint32_t id)
{
    /* Relaxed: under rt->lock, the only writer. */
    rk__kdir *old = atomic_load_explicit(&rt->kdir, memory_order_relaxed), *d;
    uint64_t cap = old != NULL ? old->cap : RK__KDIR_MIN / 2;

    if (old != NULL && id < old->cap)
        return 0;
    while (cap <= id)
        cap *= 2;
    d = calloc(1, sizeof *d + (size_t)cap * sizeof d->slot[0]);
    if (d == NULL)
        return rk__err(RK_ENOMEM, "rk_kernel_launch: cannot grow the kernel directory to %llu entries",
                       (unsigned long long)cap);
    d->prev = old;
    d->cap = (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap);
    for (uint32_t i = 0; old != NULL && i < old->cap; i++)
        atomic_init(&d->slot[i], atomic_load_explicit(&old->slot[i], memory_order_relaxed));
    /* Release: pairs with the acquire in rk__kdir_lookup(): a sender that sees the new array sees the
     * entries copied into it. */
    atomic_store_explicit(&rt->kdir, d, memory_order_release);
    return 0;
}

void rk__kdir_set(rk_runtime *rt, rk_kernel *k)
{
    rk__kdir *d = atomic_load_explicit(&rt->kdir, memory_order_relaxed); /* relaxed: under rt->lock */

    /* Release: pairs with the acquire in rk__kdir_lookup(): a sender that finds k sees it launched (its
     * backend state set up). */
    atomic_store_explicit(&d->slot[k->id], k, memory_order_release);
}

rk_kernel *rk__kdir_lookup(rk_runtime *rt, uint32_t id)
{
    /* Acquire: pairs with the release stores in rk__kdir_reserve() and rk__kdir_set(). */
    rk__kdir *d = atomic_load_explicit(&rt->kdir, memory_order_acquire);

    if (d == NULL || id >= d->cap)
        return NULL;
    return atomic_load_explicit(&d->slot[id], memory_order_acquire);
}

/* ---- Endpoints -------------------------------------------------------------------------------------- */

/* Checks an endpoint name; returns 0 or RK_EINVAL. */
static int rk__ep_check(const rk_runtime *rt, const char *name, const char *fn)
{
    size_t len;

    if (rt == NULL || name == NULL)
        return rk__err(RK_EINVAL, "%s: NULL %s", fn, rt == NULL ? "runtime" : "name");
    len = strnlen(name, RK_ENDPOINT_NAME_MAX + 1);
    if (len == 0 || len > RK_ENDPOINT_NAME_MAX)
        return rk__err(RK_EINVAL, "%s: an endpoint name is 1 to %d bytes", fn, RK_ENDPOINT_NAME_MAX);
    return 0;
}

/* The bucket of a name (FNV-1a). */
static rk__endpoint **rk__ep_bucket(rk_runtime *rt, const char *name)
{
    uint32_t h = 2166136261u;

    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
        h = (h ^ *p) * 16777619u;
    return &rt->ep[h & (RK__ENDPOINT_BUCKETS - 1)];
}

/* Under ep_lock: the link that points at the endpoint called name, or at the NULL ending its bucket. */
static rk__endpoint **rk__ep_find(rk_runtime *rt, const char *name)
{
    rk__endpoint **pp = rk__ep_bucket(rt, name);

    while (*pp != NULL && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    return pp;
}

int rk_endpoint_register(rk_runtime *rt, const char *name, rk_kernel *k)
{
    rk__endpoint **pp, *e;
    int rc, taken;

    if ((rc = rk__ep_check(rt, name, "rk_endpoint_register")) != 0)
        return rc;
    if (k == NULL || k->rt != rt)
        return rk__err(RK_EINVAL, "rk_endpoint_register: %s", k == NULL ? "kernel is NULL"
                                                                        : "the kernel belongs to another runtime");
    e = calloc(1, sizeof *e); /* before the lock: a failure has no side effect */
    if (e == NULL)
        return rk__err(RK_ENOMEM, "rk_endpoint_register: cannot allocate an endpoint");
    e->k = k;
    rk__strlcpy(e->name, name, sizeof e->name);
    pthread_mutex_lock(&rt->ep_lock);
    pp = rk__ep_find(rt, name);
    taken = *pp != NULL;
    if (!taken)
        *pp = e;
    pthread_mutex_unlock(&rt->ep_lock);
    if (taken) {
        free(e);
        return rk__err(RK_EEXIST, "rk_endpoint_register: endpoint '%s' exists", name);
    }
    return 0;
}

int rk_endpoint_resolve(rk_runtime *rt, const char *name, rk_addr *out)
{
    rk__endpoint *e;
    uint32_t id = 0;
    int rc;

    if ((rc = rk__ep_check(rt, name, "rk_endpoint_resolve")) != 0)
        return rc;
    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_endpoint_resolve: out is NULL");
    pthread_mutex_lock(&rt->ep_lock);
    if ((e = *rk__ep_find(rt, name)) != NULL)
        id = e->k->id;
    pthread_mutex_unlock(&rt->ep_lock);
    if (id == 0)
        return rk__err(RK_ENOENT, "rk_endpoint_resolve: no endpoint '%s'", name);
    *out = RK_ADDR(id, 0);
    return 0;
}

int rk_endpoint_unregister(rk_runtime *rt, const char *name)
{
    rk__endpoint **pp, *e;
    int rc;

    if ((rc = rk__ep_check(rt, name, "rk_endpoint_unregister")) != 0)
        return rc;
    pthread_mutex_lock(&rt->ep_lock);
    pp = rk__ep_find(rt, name);
    if ((e = *pp) != NULL)
        *pp = e->next;
    pthread_mutex_unlock(&rt->ep_lock);
    if (e == NULL)
        return rk__err(RK_ENOENT, "rk_endpoint_unregister: no endpoint '%s'", name);
    free(e);
    return 0;
}
