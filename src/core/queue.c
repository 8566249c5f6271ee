/* queue.c - SPSC and MPSC rings of fixed-size slots (queue.h; invariants Q1-Q6 there).
 *
 * Memory-ordering pairs (every atomic below names its partner):
 *   R1 (SPSC producer publishes head, release)   pairs with A2 (SPSC consumer reads head, acquire):
 *      the slot bytes written before R1 are visible after A2 (Q3).
 *   R2 (SPSC consumer publishes tail, release)   pairs with A1 (SPSC producer reads tail, acquire):
 *      the consumer's reads of a slot happen before the producer overwrites it (Q4).
 *   R3 (MPSC producer stores seq = pos + 1)      pairs with A4 (consumer loads seq, acquire).
 *   R4 (MPSC consumer stores seq = pos + cap)    pairs with A3 (producer loads seq, acquire).
 * The header's fields are plain integers in abi.h (the device compiles it too); the host accesses the
 * shared ones through rk__aq(), a cast to _Atomic uint64_t. That is sound on every platform we build for:
 * _Atomic uint64_t has the size and alignment of uint64_t and is lock-free there (checked below).
 */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "ringkernel/queue.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free to share them with a device");
_Static_assert(sizeof(_Atomic uint64_t) == sizeof(uint64_t), "atomic and plain u64 share a layout");

static inline _Atomic uint64_t *rk__aq(uint64_t *p) { return (_Atomic uint64_t *)p; }

/* ---- Regions ---------------------------------------------------------------------------------------- */

static int rk__queue_check_geometry(uint32_t capacity, uint32_t slot_size, uint32_t flags, const char *fn)
{
    if (!rk__is_pow2(capacity) || capacity < 2 || capacity > RK_QUEUE_MAX_CAPACITY)
        return rk__err(RK_EINVAL, "%s: capacity %u is not a power of two in [2, %u]", fn, capacity,
                       RK_QUEUE_MAX_CAPACITY);
    if (!rk__is_pow2(slot_size) || slot_size < RK_QUEUE_MIN_SLOT || slot_size > RK_QUEUE_MAX_SLOT)
        return rk__err(RK_EINVAL, "%s: slot size %u is not a power of two in [%u, %u]", fn, slot_size,
                       RK_QUEUE_MIN_SLOT, RK_QUEUE_MAX_SLOT);
    if (flags & ~(uint32_t)RK_QUEUE_MPSC)
        return rk__err(RK_EINVAL, "%s: unknown queue flags 0x%x", fn, flags);
    return 0;
}

/* Layout of a region; returns 0 on invalid geometry. Sizes cannot overflow: 2^24 slots of 2^20 bytes. */
static size_t rk__queue_layout(uint32_t capacity, uint32_t slot_size, uint32_t flags, uint64_t *seq_off,
                               uint64_t *slots_off)
{
    size_t off = sizeof(rk_queue_header);

    *seq_off = 0;
    if (flags & RK_QUEUE_MPSC) {
        *seq_off = off;
        off += (size_t)capacity * sizeof(uint64_t);
    }
    off = rk__align_up(off, RK_CACHE_LINE);
    *slots_off = off;
    return off + (size_t)capacity * slot_size;
}

size_t rk_queue_region_size(uint32_t capacity, uint32_t slot_size, uint32_t flags)
{
    uint64_t seq_off, slots_off;

    if (rk__queue_check_geometry(capacity, slot_size, flags, "rk_queue_region_size") != 0)
        return 0;
    return rk__queue_layout(capacity, slot_size, flags, &seq_off, &slots_off);
}

int rk_queue_format(void *mem, size_t len, uint32_t capacity, uint32_t slot_size, uint32_t flags)
{
    rk_queue_header *h = mem;
    uint64_t seq_off, slots_off;
    size_t need;
    int rc;

    if (mem == NULL)
        return rk__err(RK_EINVAL, "rk_queue_format: mem is NULL");
    if ((uintptr_t)mem % RK_CACHE_LINE != 0)
        return rk__err(RK_EINVAL, "rk_queue_format: mem %p is not %u-byte aligned", mem, RK_CACHE_LINE);
    if ((rc = rk__queue_check_geometry(capacity, slot_size, flags, "rk_queue_format")) != 0)
        return rc;
    need = rk__queue_layout(capacity, slot_size, flags, &seq_off, &slots_off);
    if (len < need)
        return rk__err(RK_EOVERFLOW, "rk_queue_format: region of %zu bytes, need %zu", len, need);

    /* Nobody is attached yet (format happens before the region is shared), so plain stores are fine for
     * line 0; the magic is stored last, with release, so an attacher that sees it sees the rest. */
    memset(h, 0, (size_t)slots_off);
    h->abi_version = RK_ABI_VERSION;
    h->capacity = capacity;
    h->mask = capacity - 1;
    h->slot_size = slot_size;
    h->flags = flags;
    h->seq_offset = seq_off;
    h->slots_offset = slots_off;
    h->region_size = need;
    atomic_store_explicit(rk__aq(&h->head), 0, memory_order_relaxed);
    atomic_store_explicit(rk__aq(&h->tail), 0, memory_order_relaxed);
    if (flags & RK_QUEUE_MPSC) {
        uint64_t *seq = (uint64_t *)((uint8_t *)mem + seq_off);
        for (uint32_t i = 0; i < capacity; i++) /* slot i is free for position i (Vyukov) */
            atomic_store_explicit(rk__aq(&seq[i]), i, memory_order_relaxed);
    }
    atomic_store_explicit((_Atomic uint32_t *)&h->magic, RK_QUEUE_MAGIC, memory_order_release);
    return 0;
}

int rk_queue_attach(rk_queue *q, void *mem, size_t len)
{
    rk_queue_header *h = mem;
    uint64_t seq_off, slots_off;
    uint32_t magic;
    size_t need;

    if (q == NULL || mem == NULL)
        return rk__err(RK_EINVAL, "rk_queue_attach: NULL %s", q == NULL ? "handle" : "mem");
    if (len < sizeof(rk_queue_header))
        return rk__err(RK_ECORRUPT, "rk_queue_attach: region of %zu bytes cannot hold a header", len);
    magic = atomic_load_explicit((_Atomic uint32_t *)&h->magic, memory_order_acquire);
    if (magic != RK_QUEUE_MAGIC)
        return rk__err(RK_ECORRUPT, "rk_queue_attach: bad magic 0x%08x", magic);
    if (h->abi_version != RK_ABI_VERSION)
        return rk__err(RK_EABI, "rk_queue_attach: queue ABI %u, library ABI %u", h->abi_version,
                       RK_ABI_VERSION);
    if (rk__queue_check_geometry(h->capacity, h->slot_size, h->flags, "rk_queue_attach") != 0 ||
        h->mask != h->capacity - 1)
        return rk__err(RK_ECORRUPT, "rk_queue_attach: bad geometry (capacity %u, mask %u, slot %u)",
                       h->capacity, h->mask, h->slot_size);
    need = rk__queue_layout(h->capacity, h->slot_size, h->flags, &seq_off, &slots_off);
    if (need > len || h->region_size != need || h->seq_offset != seq_off || h->slots_offset != slots_off)
        return rk__err(RK_ECORRUPT, "rk_queue_attach: region of %zu bytes, header says %llu, need %zu", len,
                       (unsigned long long)h->region_size, need);

    memset(q, 0, sizeof *q);
    q->hdr = h;
    q->seq = seq_off ? (_Atomic uint64_t *)((uint8_t *)mem + seq_off) : NULL;
    q->slots = (uint8_t *)mem + slots_off;
    q->mask = h->mask;
    q->slot_size = h->slot_size;
    q->slot_shift = rk__log2(h->slot_size);
    q->flags = h->flags;
    /* Acquire: a handle attached to a live queue must see the slots behind the indices it starts from
     * (pairs with R1/R2 of whichever side is already running). */
    q->p_head = atomic_load_explicit(rk__aq(&h->head), memory_order_acquire);
    q->p_tail_cache = atomic_load_explicit(rk__aq(&h->tail), memory_order_acquire);
    q->c_tail = q->p_tail_cache;
    q->c_head_cache = q->p_head;
    return 0;
}

int rk_queue_create(rk_queue **out, uint32_t capacity, uint32_t slot_size, uint32_t flags)
{
    rk_queue *q;
    void *mem;
    size_t len;
    int rc;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_queue_create: out is NULL");
    if ((rc = rk__queue_check_geometry(capacity, slot_size, flags, "rk_queue_create")) != 0)
        return rc;
    len = rk_queue_region_size(capacity, slot_size, flags);
    q = rk__aligned_zalloc(RK_CACHE_LINE, sizeof *q);
    if (q == NULL)
        goto fail_handle;
    mem = rk__aligned_zalloc(RK_CACHE_LINE, len);
    if (mem == NULL)
        goto fail_region;
    /* Cannot fail: geometry, alignment and length were checked above. */
    (void)rk_queue_format(mem, len, capacity, slot_size, flags);
    (void)rk_queue_attach(q, mem, len);
    q->owns_region = 1;
    *out = q;
    return 0;

fail_region:
    free(q);
fail_handle:
    return rk__err(RK_ENOMEM, "rk_queue_create: cannot allocate %zu bytes", len);
}

void rk_queue_destroy(rk_queue *q)
{
    if (q == NULL)
        return;
    if (q->owns_region)
        free(q->hdr);
    free(q);
}

uint64_t rk_queue_size(const rk_queue *q)
{
    /* Relaxed: a statistic. Tail first, so that head - tail never underflows when both move. */
    uint64_t t = atomic_load_explicit(rk__aq(&q->hdr->tail), memory_order_relaxed);
    uint64_t h = atomic_load_explicit(rk__aq(&q->hdr->head), memory_order_relaxed);

    /* Signed difference: positions wrap at 2^64 like every other index difference here (Q1); a relaxed
     * pair of loads may still see tail ahead of head, which reads as negative and clamps to 0. */
    int64_t d = (int64_t)(h - t);

    return d > 0 ? (uint64_t)d : 0;
}

/* ---- Waiting ---------------------------------------------------------------------------------------- */

int64_t rk_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rk_backoff_init(rk_backoff *b, int64_t timeout_ns)
{
    b->round = 0;
    if (timeout_ns < 0)
        b->deadline_ns = -1;
    else if (timeout_ns == 0)
        b->deadline_ns = 0; /* the first wait times out without reading the clock */
    else {
        int64_t now = rk_monotonic_ns();

        /* A timeout too large to add to the clock (e.g. INT64_MAX) has no deadline in practice. */
        b->deadline_ns = timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
    }
}

/* Rounds 0-1023 spin one pause each (15-50 us in all, depending on the CPU's pause), 1024-1039 yield the
 * core, then sleep 1, 2, 4 ... 50 us. One pause per round keeps the reaction to a GPU or another thread
 * within a pause or two (a round trip of a few microseconds is seen when it lands, not a doubling spin
 * later); a wait that is answered quickly costs no system call, and a long one costs ~20k wake-ups per
 * second at worst instead of a whole core. */
#define RK__BACKOFF_SPIN 1024u
#define RK__BACKOFF_YIELD (RK__BACKOFF_SPIN + 16u)

int rk_backoff_wait(rk_backoff *b)
{
    uint32_t r = b->round++;

    if (b->deadline_ns == 0 || (b->deadline_ns > 0 && (r & 7) == 0 && rk_monotonic_ns() >= b->deadline_ns))
        return RK_ETIMEDOUT;
    if (r < RK__BACKOFF_SPIN) {
        rk__cpu_relax();
    } else if (r < RK__BACKOFF_YIELD) {
        sched_yield();
    } else {
        uint32_t shift = r - RK__BACKOFF_YIELD < 6 ? r - RK__BACKOFF_YIELD : 6;
        int64_t ns = (int64_t)1000 << shift;
        struct timespec ts;

        if (ns > 50000)
            ns = 50000;
        if (b->deadline_ns > 0) {
            int64_t left = b->deadline_ns - rk_monotonic_ns();
            if (left <= 0)
                return RK_ETIMEDOUT;
            if (left < ns)
                ns = left;
        }
        ts.tv_sec = 0;
        ts.tv_nsec = ns;
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Runs `try` until it succeeds, fails with something other than RK_EAGAIN, or the timeout expires. */
#define RK__WAIT_LOOP(try_expr, timeout_ns, fn)                                                      \
    do {                                                                                             \
        rk_backoff b_;                                                                               \
        int rc_ = (try_expr);                                                                        \
        if (rc_ != RK_EAGAIN || (timeout_ns) == 0)                                                   \
            return rc_;                                                                              \
        rk_backoff_init(&b_, (timeout_ns));                                                          \
        for (;;) {                                                                                   \
            if (rk_backoff_wait(&b_) != 0)                                                           \
                return rk__err(RK_ETIMEDOUT, "%s: timed out after %lld ns", fn, (long long)(timeout_ns)); \
            rc_ = (try_expr);                                                                        \
            if (rc_ != RK_EAGAIN)                                                                    \
                return rc_;                                                                          \
        }                                                                                            \
    } while (0)

/* ---- SPSC ------------------------------------------------------------------------------------------- */

int rk_queue_reserve_spsc(rk_queue *q, uint32_t n, uint64_t *pos)
{
    uint64_t cap, room;

    if (RK__UNLIKELY(q == NULL || pos == NULL || n == 0 || q->p_reserved != 0 || q->seq != NULL))
        return rk__err(RK_EINVAL, "rk_queue_reserve_spsc: %s",
                       q == NULL || pos == NULL ? "NULL argument"
                       : n == 0                 ? "n is 0"
                       : q->seq != NULL         ? "queue is MPSC"
                                                : "a reservation is already open");
    cap = (uint64_t)q->mask + 1;
    room = cap - (q->p_head - q->p_tail_cache);
    if (room < n) {
        /* A1: pairs with R2 in rk_queue_release_spsc(): the consumer is done with slots before tail. */
        q->p_tail_cache = atomic_load_explicit(rk__aq(&q->hdr->tail), memory_order_acquire);
        room = cap - (q->p_head - q->p_tail_cache);
        if (room == 0)
            return RK_EAGAIN; /* hot path: no detail string */
    }
    if (room > n)
        room = n;
    *pos = q->p_head;
    q->p_reserved = (uint32_t)room;
    return (int)room;
}

int rk_queue_commit_spsc(rk_queue *q, uint32_t count)
{
    if (RK__UNLIKELY(q == NULL || count > q->p_reserved))
        return rk__err(RK_EINVAL, "rk_queue_commit_spsc: %s", q == NULL ? "NULL queue"
                                                                         : "count exceeds the reservation");
    q->p_head += count;
    q->p_reserved = 0;
    /* R1: pairs with A2 in rk_queue_peek_spsc(): slot bytes written before are visible to the consumer. */
    atomic_store_explicit(rk__aq(&q->hdr->head), q->p_head, memory_order_release);
    return 0;
}

int rk_queue_reserve_wait_spsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns)
{
    RK__WAIT_LOOP(rk_queue_reserve_spsc(q, n, pos), timeout_ns, "rk_queue_reserve_wait_spsc");
}

int rk_queue_peek_spsc(rk_queue *q, uint32_t n, uint64_t *pos)
{
    uint64_t avail;

    if (RK__UNLIKELY(q == NULL || pos == NULL || n == 0 || q->c_peeked != 0 || q->seq != NULL))
        return rk__err(RK_EINVAL, "rk_queue_peek_spsc: %s",
                       q == NULL || pos == NULL ? "NULL argument"
                       : n == 0                 ? "n is 0"
                       : q->seq != NULL         ? "queue is MPSC"
                                                : "a peek is already open");
    avail = q->c_head_cache - q->c_tail;
    if (avail < n) {
        /* A2: pairs with R1 in rk_queue_commit_spsc(): slots before head are fully written. */
        q->c_head_cache = atomic_load_explicit(rk__aq(&q->hdr->head), memory_order_acquire);
        avail = q->c_head_cache - q->c_tail;
        if (avail == 0)
            return RK_EAGAIN;
    }
    if (avail > n)
        avail = n;
    *pos = q->c_tail;
    q->c_peeked = (uint32_t)avail;
    return (int)avail;
}

int rk_queue_release_spsc(rk_queue *q, uint32_t count)
{
    if (RK__UNLIKELY(q == NULL || count > q->c_peeked))
        return rk__err(RK_EINVAL, "rk_queue_release_spsc: %s", q == NULL ? "NULL queue"
                                                                          : "count exceeds the peek");
    q->c_tail += count;
    q->c_peeked = 0;
    /* R2: pairs with A1 in rk_queue_reserve_spsc(): our reads of the slots happen before reuse. */
    atomic_store_explicit(rk__aq(&q->hdr->tail), q->c_tail, memory_order_release);
    return 0;
}

int rk_queue_peek_wait_spsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns)
{
    RK__WAIT_LOOP(rk_queue_peek_spsc(q, n, pos), timeout_ns, "rk_queue_peek_wait_spsc");
}

static int rk__check_len(const rk_queue *q, size_t len, const char *fn)
{
    if (q == NULL)
        return rk__err(RK_EINVAL, "%s: NULL queue", fn);
    if (len > q->slot_size)
        return rk__err(RK_EMSGSIZE, "%s: %zu bytes do not fit a %u-byte slot", fn, len, q->slot_size);
    return 0;
}

int rk_queue_push_spsc(rk_queue *q, const void *data, size_t len, int64_t timeout_ns)
{
    uint64_t pos;
    int rc;

    if ((rc = rk__check_len(q, len, "rk_queue_push_spsc")) != 0)
        return rc;
    if (data == NULL && len > 0)
        return rk__err(RK_EINVAL, "rk_queue_push_spsc: data is NULL");
    rc = rk_queue_reserve_wait_spsc(q, 1, &pos, timeout_ns);
    if (rc < 0)
        return rc;
    if (len > 0)
        memcpy(rk_queue_slot(q, pos), data, len);
    return rk_queue_commit_spsc(q, 1);
}

int rk_queue_push_batch_spsc(rk_queue *q, const void *items, size_t stride, uint32_t n, int64_t timeout_ns)
{
    const uint8_t *src = items;
    uint64_t pos;
    int rc;

    if ((rc = rk__check_len(q, stride, "rk_queue_push_batch_spsc")) != 0)
        return rc;
    if (items == NULL || n == 0)
        return rk__err(RK_EINVAL, "rk_queue_push_batch_spsc: %s", n == 0 ? "n is 0" : "items is NULL");
    rc = rk_queue_reserve_wait_spsc(q, n, &pos, timeout_ns);
    if (rc < 0)
        return rc;
    for (int i = 0; i < rc; i++)
        memcpy(rk_queue_slot(q, pos + (uint64_t)i), src + (size_t)i * stride, stride);
    rk_queue_commit_spsc(q, (uint32_t)rc);
    return rc;
}

int rk_queue_pop_spsc(rk_queue *q, void *buf, size_t cap, int64_t timeout_ns)
{
    uint64_t pos;
    int rc;

    if (q == NULL || (buf == NULL && cap > 0))
        return rk__err(RK_EINVAL, "rk_queue_pop_spsc: NULL argument");
    rc = rk_queue_peek_wait_spsc(q, 1, &pos, timeout_ns);
    if (rc < 0)
        return rc;
    memcpy(buf, rk_queue_slot(q, pos), cap < q->slot_size ? cap : q->slot_size);
    return rk_queue_release_spsc(q, 1);
}

int rk_queue_pop_batch_spsc(rk_queue *q, void *items, size_t stride, uint32_t n, int64_t timeout_ns)
{
    uint8_t *dst = items;
    size_t len;
    uint64_t pos;
    int rc;

    if (q == NULL || items == NULL || n == 0 || stride == 0)
        return rk__err(RK_EINVAL, "rk_queue_pop_batch_spsc: NULL argument or empty batch");
    rc = rk_queue_peek_wait_spsc(q, n, &pos, timeout_ns);
    if (rc < 0)
        return rc;
    len = stride < q->slot_size ? stride : q->slot_size;
    for (int i = 0; i < rc; i++)
        memcpy(dst + (size_t)i * stride, rk_queue_slot(q, pos + (uint64_t)i), len);
    rk_queue_release_spsc(q, (uint32_t)rc);
    return rc;
}

/* ---- MPSC (Vyukov's bounded queue) ---------------------------------------------------------------------
 *
 * seq[i] of the slot for position p is p when the slot is free for a producer at p, p + 1 once that
 * producer published it, and p + capacity once the consumer released it (free for position p + capacity).
 * head is claimed with compare-and-swap; tail is written by the consumer only (Q2) and is advisory for
 * producers: fullness is decided by seq, not by tail.
 */

static int rk__mpsc_check(const rk_queue *q, const char *fn)
{
    if (RK__UNLIKELY(q == NULL || q->seq == NULL))
        return rk__err(RK_EINVAL, "%s: %s", fn, q == NULL ? "NULL queue" : "queue is not MPSC");
    return 0;
}

int rk_queue_reserve_mpsc(rk_queue *q, void **slot, uint64_t *pos)
{
    _Atomic uint64_t *head;
    uint64_t p;
    int rc;

    if ((rc = rk__mpsc_check(q, "rk_queue_reserve_mpsc")) != 0)
        return rc;
    if (slot == NULL || pos == NULL)
        return rk__err(RK_EINVAL, "rk_queue_reserve_mpsc: NULL argument");
    head = rk__aq(&q->hdr->head);
    p = atomic_load_explicit(head, memory_order_relaxed);
    for (;;) {
        /* A3: pairs with R4 in rk_queue_release_mpsc(): the consumer finished reading this slot. */
        uint64_t s = atomic_load_explicit(&q->seq[p & q->mask], memory_order_acquire);
        int64_t diff = (int64_t)(s - p);

        if (diff == 0) {
            /* Relaxed CAS: the claim orders nothing by itself; the slot's contents are published by R3. */
            if (atomic_compare_exchange_weak_explicit(head, &p, p + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return RK_EAGAIN; /* the slot still holds the previous lap's message: full */
        } else {
            p = atomic_load_explicit(head, memory_order_relaxed); /* another producer took p */
        }
    }
    *pos = p;
    *slot = rk_queue_slot(q, p);
    return 0;
}

int rk_queue_commit_mpsc(rk_queue *q, uint64_t pos)
{
    int rc;

    if ((rc = rk__mpsc_check(q, "rk_queue_commit_mpsc")) != 0)
        return rc;
    /* R3: pairs with A4 in rk_queue_peek_mpsc(): the slot bytes are visible before the consumer reads. */
    atomic_store_explicit(&q->seq[pos & q->mask], pos + 1, memory_order_release);
    return 0;
}

int rk_queue_reserve_wait_mpsc(rk_queue *q, void **slot, uint64_t *pos, int64_t timeout_ns)
{
    RK__WAIT_LOOP(rk_queue_reserve_mpsc(q, slot, pos), timeout_ns, "rk_queue_reserve_wait_mpsc");
}

int rk_queue_push_mpsc(rk_queue *q, const void *data, size_t len, int64_t timeout_ns)
{
    void *slot;
    uint64_t pos;
    int rc;

    if ((rc = rk__check_len(q, len, "rk_queue_push_mpsc")) != 0)
        return rc;
    if (data == NULL && len > 0)
        return rk__err(RK_EINVAL, "rk_queue_push_mpsc: data is NULL");
    if ((rc = rk_queue_reserve_wait_mpsc(q, &slot, &pos, timeout_ns)) != 0)
        return rc;
    if (len > 0)
        memcpy(slot, data, len);
    return rk_queue_commit_mpsc(q, pos);
}

int rk_queue_peek_mpsc(rk_queue *q, uint32_t n, uint64_t *pos)
{
    uint32_t cnt = 0;
    int rc;

    if ((rc = rk__mpsc_check(q, "rk_queue_peek_mpsc")) != 0)
        return rc;
    if (pos == NULL || n == 0 || q->c_peeked != 0)
        return rk__err(RK_EINVAL, "rk_queue_peek_mpsc: %s", pos == NULL ? "NULL argument"
                                                            : n == 0    ? "n is 0"
                                                                        : "a peek is already open");
    while (cnt < n && cnt <= q->mask) {
        uint64_t p = q->c_tail + cnt;
        /* A4: pairs with R3 in rk_queue_commit_mpsc(): the producer's slot bytes are visible. */
        if (atomic_load_explicit(&q->seq[p & q->mask], memory_order_acquire) != p + 1)
            break;
        cnt++;
    }
    if (cnt == 0)
        return RK_EAGAIN;
    *pos = q->c_tail;
    q->c_peeked = cnt;
    return (int)cnt;
}

int rk_queue_release_mpsc(rk_queue *q, uint32_t count)
{
    int rc;

    if ((rc = rk__mpsc_check(q, "rk_queue_release_mpsc")) != 0)
        return rc;
    if (count > q->c_peeked)
        return rk__err(RK_EINVAL, "rk_queue_release_mpsc: count exceeds the peek");
    for (uint32_t i = 0; i < count; i++) {
        uint64_t p = q->c_tail + i;
        /* R4: pairs with A3 in rk_queue_reserve_mpsc(): our reads of the slot precede its reuse. */
        atomic_store_explicit(&q->seq[p & q->mask], p + (uint64_t)q->mask + 1, memory_order_release);
    }
    q->c_tail += count;
    q->c_peeked = 0;
    /* Relaxed: tail is only a statistic for MPSC producers (they decide fullness by seq). */
    atomic_store_explicit(rk__aq(&q->hdr->tail), q->c_tail, memory_order_relaxed);
    return 0;
}

int rk_queue_peek_wait_mpsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns)
{
    RK__WAIT_LOOP(rk_queue_peek_mpsc(q, n, pos), timeout_ns, "rk_queue_peek_wait_mpsc");
}

int rk_queue_pop_mpsc(rk_queue *q, void *buf, size_t cap, int64_t timeout_ns)
{
    uint64_t pos;
    int rc;

    if (q == NULL || (buf == NULL && cap > 0))
        return rk__err(RK_EINVAL, "rk_queue_pop_mpsc: NULL argument");
    rc = rk_queue_peek_wait_mpsc(q, 1, &pos, timeout_ns);
    if (rc < 0)
        return rc;
    memcpy(buf, rk_queue_slot(q, pos), cap < q->slot_size ? cap : q->slot_size);
    return rk_queue_release_mpsc(q, 1);
}
