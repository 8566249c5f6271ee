/* k2k.c - K2K routing, backend-independent: the kernel directory, the named endpoints and the topic
 * subscriptions (k2k.h).
 *
 * The sends themselves belong to the backend that runs the handlers (cpu_backend.c); this file answers the
 * three questions a send asks: which kernel has this id (lock-free, on every send), which kernel has this
 * name (under a lock, once per name: handlers keep the address), and which actors subscribe to this topic
 * (under the shared side of a reader/writer lock, on every publication).
 *
 * Kernel directory: an array indexed by kernel id. Ids are handed out in order and never reused
 * (runtime.c), so the array only grows. It grows under rt->lock by copying into a new array twice the size
 * and publishing that with a release store; the old array stays allocated (chained through `prev`) until the
 * runtime is destroyed, because a sender may still read it. The arrays add up to less than twice the last
 * one: O(kernels launched) memory, fine for a structure that holds one pointer per kernel.
 *
 * Topics. Invariants (cited below as P1..P4):
 *   P1  rt->topics and rt->subs hold the same subscriptions: every (filter, subscriber) pair in the trie has
 *       exactly one record in the bucket of its kernel id, and no record has no pair. Both change together
 *       under the exclusive lock; a failed change changes neither.
 *   P2  A publication copies its subscribers out of the trie under the shared lock and delivers after
 *       releasing it, so no lock is held while a backend touches an inbox (or waits for room), and routing
 *       never waits for a delivery.
 *   P3  No subscription is added for a kernel that is closing: subscribe reads `closing` under the exclusive
 *       lock. The kernel's stop removes its subscriptions under the same lock (rk__topic_forget, called by
 *       the backend after terminate was seen, which is after `closing` was set), so a subscribe that takes
 *       the lock after that removal sees `closing` and fails, and one before it is removed by it.
 *   P4  A subscriber id is an actor address (kernel id, instance) of a launched kernel of this runtime, so
 *       the backend finds it in the kernel directory.
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

struct rk__sub {
    rk__sub *next;                 /* bucket chain by kernel id, under topic_lock (P1) */
    rk_addr who;
    char filter[];                 /* NUL-terminated, as subscribed */
};

struct rk__endpoint {
    rk__endpoint *next;            /* bucket chain, under ep_lock */
    rk_kernel *k;
    char name[RK_ENDPOINT_NAME_MAX + 1];
};

int rk__k2k_init(rk_runtime *rt)
{
    int rc;

    atomic_init(&rt->kdir, NULL);
    atomic_init(&rt->pub_seq, 0);
    memset(rt->ep, 0, sizeof rt->ep);
    memset(rt->subs, 0, sizeof rt->subs);
    if (pthread_mutex_init(&rt->ep_lock, NULL) != 0)
        return rk__err(RK_ENOMEM, "rk_runtime_create: cannot initialise a mutex");
    if (pthread_rwlock_init(&rt->topic_lock, NULL) != 0) {
        rc = rk__err(RK_ENOMEM, "rk_runtime_create: cannot initialise a reader/writer lock");
        goto fail_rwlock;
    }
    if ((rc = rk_topic_tree_create(&rt->topics)) != 0)
        goto fail_tree;
    return 0;

fail_tree:
    pthread_rwlock_destroy(&rt->topic_lock);
fail_rwlock:
    pthread_mutex_destroy(&rt->ep_lock);
    return rc;
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
    for (uint32_t b = 0; b < RK__SUB_BUCKETS; b++) {
        for (rk__sub *r = rt->subs[b], *next; r != NULL; r = next) {
            next = r->next;
            free(r);
        }
    }
    rk_topic_tree_destroy(rt->topics);
    pthread_rwlock_destroy(&rt->topic_lock);
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
    if (!taken && rt->ops->endpoint != NULL && (rc = rt->ops->endpoint(rt, name, RK_ADDR(k->id, 0))) != 0)
        taken = -1; /* the device mirror refused it: not registered (the backend's detail) */
    else if (!taken)
        *pp = e;
    pthread_mutex_unlock(&rt->ep_lock);
    if (taken) {
        free(e);
        return taken < 0 ? rc : rk__err(RK_EEXIST, "rk_endpoint_register: endpoint '%s' exists", name);
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
    if ((e = *pp) != NULL) {
        *pp = e->next;
        if (rt->ops->endpoint != NULL)
            (void)rt->ops->endpoint(rt, name, 0); /* removing a mirrored entry cannot run out of room */
    }
    pthread_mutex_unlock(&rt->ep_lock);
    if (e == NULL)
        return rk__err(RK_ENOENT, "rk_endpoint_unregister: no endpoint '%s'", name);
    free(e);
    return 0;
}

/* ---- Topics ----------------------------------------------------------------------------------------- */

/* The bucket of a kernel's subscription records. */
static rk__sub **rk__sub_bucket(rk_runtime *rt, uint32_t kernel_id)
{
    return &rt->subs[kernel_id & (RK__SUB_BUCKETS - 1)];
}

/* Under the exclusive lock: the link that points at who's record of filter, or at the NULL ending its bucket. */
static rk__sub **rk__sub_find(rk_runtime *rt, rk_addr who, const char *filter)
{
    rk__sub **pp = rk__sub_bucket(rt, RK_ADDR_KERNEL(who));

    while (*pp != NULL && ((*pp)->who != who || strcmp((*pp)->filter, filter) != 0))
        pp = &(*pp)->next;
    return pp;
}

int rk__topic_subscribe(rk_runtime *rt, rk_kernel *k, rk_addr who, const char *filter, const char *fn)
{
    rk__sub *r, **head;
    size_t len;
    int rc;

    if (k->rt->ops->publish == NULL)
        return rk__err(RK_ENOTSUP, "%s: the %s backend has no K2K inboxes", fn, k->rt->ops->name);
    if ((rc = rk_topic_validate_filter(filter)) != 0)
        return rc; /* the topic module's detail */
    len = strlen(filter);
    r = malloc(sizeof *r + len + 1); /* before the lock: a failure has no side effect */
    if (r == NULL)
        return rk__err(RK_ENOMEM, "%s: cannot allocate a subscription", fn);
    r->who = who;
    memcpy(r->filter, filter, len + 1);
    pthread_rwlock_wrlock(&rt->topic_lock);
    /* P3. Relaxed: the lock orders this load after a stop's rk__topic_forget(), which happened after
     * `closing` was set (runtime.c K1 exchange -> terminate store -> the worker's acquire of terminate). */
    if (atomic_load_explicit(&k->closing, memory_order_relaxed) != 0) {
        rc = rk__err(RK_ECLOSED, "%s: kernel %u ('%s') is terminating or stopped", fn, k->id, k->name);
    } else if ((rc = rk_topic_subscribe(rt->topics, filter, who)) == 0) {
        head = rk__sub_bucket(rt, k->id); /* P1: the record goes in with the pair */
        r->next = *head;
        *head = r;
        r = NULL;
    }
    pthread_rwlock_unlock(&rt->topic_lock);
    free(r);
    return rc;
}

int rk__topic_unsubscribe(rk_runtime *rt, rk_addr who, const char *filter, const char *fn)
{
    rk__sub **pp, *r;
    int rc;

    if ((rc = rk_topic_validate_filter(filter)) != 0)
        return rc;
    pthread_rwlock_wrlock(&rt->topic_lock);
    pp = rk__sub_find(rt, who, filter);
    if ((r = *pp) != NULL) {
        *pp = r->next;
        (void)rk_topic_unsubscribe(rt->topics, filter, who); /* P1: present, so it cannot fail */
    }
    pthread_rwlock_unlock(&rt->topic_lock);
    if (r == NULL)
        return rk__err(RK_ENOENT, "%s: kernel %u instance %u does not subscribe to \"%s\"", fn,
                       RK_ADDR_KERNEL(who), RK_ADDR_INSTANCE(who), filter);
    free(r);
    return 0;
}

void rk__topic_forget(rk_runtime *rt, uint32_t kernel_id)
{
    rk__sub **pp, *r, *gone = NULL;

    pthread_rwlock_wrlock(&rt->topic_lock);
    for (pp = rk__sub_bucket(rt, kernel_id); (r = *pp) != NULL;) {
        if (RK_ADDR_KERNEL(r->who) != kernel_id) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        (void)rk_topic_unsubscribe(rt->topics, r->filter, r->who); /* P1 */
        r->next = gone;
        gone = r;
    }
    pthread_rwlock_unlock(&rt->topic_lock);
    while ((r = gone) != NULL) { /* free outside the lock */
        gone = r->next;
        free(r);
    }
}

int rk_subscribe(rk_runtime *rt, rk_kernel *k, const char *filter)
{
    if (rt == NULL || k == NULL)
        return rk__err(RK_EINVAL, "rk_subscribe: %s is NULL", rt == NULL ? "runtime" : "kernel");
    if (k->rt != rt)
        return rk__err(RK_EINVAL, "rk_subscribe: the kernel belongs to another runtime");
    return rk__topic_subscribe(rt, k, RK_ADDR(k->id, 0), filter, "rk_subscribe");
}

int rk_unsubscribe(rk_runtime *rt, rk_kernel *k, const char *filter)
{
    if (rt == NULL || k == NULL)
        return rk__err(RK_EINVAL, "rk_unsubscribe: %s is NULL", rt == NULL ? "runtime" : "kernel");
    if (k->rt != rt)
        return rk__err(RK_EINVAL, "rk_unsubscribe: the kernel belongs to another runtime");
    return rk__topic_unsubscribe(rt, RK_ADDR(k->id, 0), filter, "rk_unsubscribe");
}

int rk__publication_route(rk_runtime *rt, const char *topic, uint64_t type_id, uint32_t flags,
                          const void *payload, uint32_t len, rk_addr *buf, uint32_t cap, rk__publication *p,
                          const char *fn)
{
    rk_addr *subs = buf;
    int n;

    if (payload == NULL && len > 0)
        return rk__err(RK_EINVAL, "%s: payload is NULL", fn);
    if (flags & ~(uint32_t)RK_PUBLISH_DROP_IF_FULL)
        return rk__err(RK_EINVAL, "%s: flags 0x%x (only RK_PUBLISH_DROP_IF_FULL)", fn, flags);
    if ((n = rk_topic_validate_name(topic)) != 0)
        return n; /* the topic module's detail */
    /* P2: copy the subscribers out under the shared lock. The trie cannot change while it is held, so a
     * second lookup into an array of the first one's count is exact. */
    pthread_rwlock_rdlock(&rt->topic_lock);
    n = rk_topic_lookup(rt->topics, topic, buf, cap);
    if (n > (int)cap) {
        subs = malloc((size_t)n * sizeof *subs);
        n = subs == NULL ? rk__err(RK_ENOMEM, "%s: cannot allocate %d subscriber addresses", fn, n)
                         : rk_topic_lookup(rt->topics, topic, subs, (uint32_t)n);
    }
    pthread_rwlock_unlock(&rt->topic_lock);
    if (n < 0) {
        if (subs != buf)
            free(subs);
        return n;
    }
    *p = (rk__publication){ .topic = topic, .topic_len = (uint32_t)strlen(topic), .flags = flags,
                            .type_id = type_id, .payload = payload, .len = len, .nsubs = (uint32_t)n,
                            .subs = subs };
    return n;
}

void rk__publication_done(rk__publication *p, const rk_addr *buf)
{
    if (p->subs != buf)
        free((void *)p->subs);
    p->subs = NULL;
}

void rk__topic_hdr_write(void *dst, const rk__publication *p)
{
    uint8_t *d = dst;
    uint32_t size = RK_TOPIC_HDR_SIZE(p->topic_len);

    d[0] = (uint8_t)p->topic_len; /* little-endian whatever the host's order */
    d[1] = (uint8_t)(p->topic_len >> 8);
    memcpy(d + 2, p->topic, p->topic_len);
    memset(d + 2 + p->topic_len, 0, size - 2 - p->topic_len); /* the NUL and the padding */
}

int rk_msg_topic(const rk_envelope *env, const void *payload, const char **topic, uint32_t *topic_len,
                 const void **user_payload, uint32_t *user_len)
{
    const uint8_t *b = payload;
    uint32_t n, hdr;

    if (env == NULL || payload == NULL)
        return rk__err(RK_EINVAL, "rk_msg_topic: %s is NULL", env == NULL ? "env" : "payload");
    if (!(env->flags & RK_ENV_TOPIC))
        return rk__err(RK_ENOENT, "rk_msg_topic: not a publication (no RK_ENV_TOPIC flag)");
    if (env->payload_len < 2)
        return rk__err(RK_ECORRUPT, "rk_msg_topic: a payload of %u bytes holds no topic header",
                       env->payload_len);
    n = (uint32_t)b[0] | (uint32_t)b[1] << 8;
    hdr = RK_TOPIC_HDR_SIZE(n);
    if (n == 0 || n > RK_TOPIC_MAX_LEN || hdr > env->payload_len || b[2 + n] != '\0')
        return rk__err(RK_ECORRUPT, "rk_msg_topic: bad topic header (length %u in a payload of %u bytes)", n,
                       env->payload_len);
    if (topic != NULL)
        *topic = (const char *)b + 2;
    if (topic_len != NULL)
        *topic_len = n;
    if (user_payload != NULL)
        *user_payload = b + hdr;
    if (user_len != NULL)
        *user_len = env->payload_len - hdr;
    return 0;
}

int rk_publish_ex(rk_runtime *rt, const char *topic, uint64_t type_id, uint32_t flags, const void *payload,
                  uint32_t len, int64_t timeout_ns, rk_publish_info *info)
{
    rk_addr buf[64];
    rk__publication p;
    rk_publish_info local;
    int n;

    if (info == NULL)
        info = &local;
    memset(info, 0, sizeof *info);
    if (rt == NULL)
        return rk__err(RK_EINVAL, "rk_publish: runtime is NULL");
    n = rk__publication_route(rt, topic, type_id, flags, payload, len, buf, 64, &p, "rk_publish");
    if (n <= 0)
        return n; /* an error, or nobody subscribes */
    info->matched = p.nsubs;
    n = rt->ops->publish(rt, &p, timeout_ns, info); /* non-NULL: subscribe refuses otherwise (P4) */
    rk__publication_done(&p, buf);
    return n;
}

int rk_publish(rk_runtime *rt, const char *topic, uint64_t type_id, const void *payload, uint32_t len,
               int64_t timeout_ns)
{
    return rk_publish_ex(rt, topic, type_id, 0, payload, len, timeout_ns, NULL);
}
