/* message.c - envelope initialisation and checks, and process-wide correlation ids. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "ringkernel/message.h"

int rk_envelope_init(rk_envelope *e, uint64_t type_id, uint32_t payload_len)
{
    if (e == NULL)
        return rk__err(RK_EINVAL, "rk_envelope_init: envelope is NULL");
    memset(e, 0, sizeof *e);
    e->magic = RK_ENVELOPE_MAGIC;
    e->version = RK_ABI_VERSION;
    e->type_id = type_id;
    e->payload_len = payload_len;
    return 0;
}

int rk_envelope_check(const rk_envelope *e, uint32_t slot_size)
{
    if (e == NULL)
        return rk__err(RK_EINVAL, "rk_envelope_check: envelope is NULL");
    /* Magic first: when it is wrong the slot holds no envelope, so its other fields mean nothing. */
    if (e->magic != RK_ENVELOPE_MAGIC)
        return rk__err(RK_ECORRUPT, "rk_envelope_check: bad magic 0x%04x (expected 0x%04x)", (unsigned)e->magic,
                       (unsigned)RK_ENVELOPE_MAGIC);
    if (e->version != RK_ABI_VERSION)
        return rk__err(RK_EABI, "rk_envelope_check: envelope ABI version %u, this library speaks %u",
                       (unsigned)e->version, (unsigned)RK_ABI_VERSION);
    if (slot_size < RK_ENVELOPE_SIZE || e->payload_len > rk_payload_max(slot_size))
        return rk__err(RK_EMSGSIZE, "rk_envelope_check: payload of %u bytes does not fit a %u-byte slot "
                       "(at most %u bytes after the %u-byte envelope)", (unsigned)e->payload_len,
                       (unsigned)slot_size, (unsigned)rk_payload_max(slot_size), (unsigned)RK_ENVELOPE_SIZE);
    return 0;
}

int rk_payload_check(size_t len, uint32_t slot_size)
{
    /* A slot smaller than the envelope holds no message at all, not even an empty one. */
    if (slot_size < RK_ENVELOPE_SIZE || len > rk_payload_max(slot_size))
        return rk__err(RK_EMSGSIZE, "rk_payload_check: payload of %zu bytes does not fit a %u-byte slot "
                       "(at most %u bytes after the %u-byte envelope)", len, (unsigned)slot_size,
                       (unsigned)rk_payload_max(slot_size), (unsigned)RK_ENVELOPE_SIZE);
    return 0;
}

/* Correlation ids.
 *
 * One counter per process, advanced with fetch_add: the single modification order of the counter makes the
 * ids unique and increasing, even across threads (relaxed order is enough: nothing else is published with
 * an id). 0 is never issued: it means "no correlation" in the envelope.
 *
 * The counter starts at a base laid out as
 *     bit 63: 0 | bits 40..62: pid | bit 39: 0 | bits 0..38: time ^ stack address
 * so two live processes (distinct pids) issue disjoint ranges until one of them has used 2^39 ids, and a
 * recycled pid starts at a different point. Ids are matched within one runtime, so this only makes a stray
 * reply from another process (a shared-memory queue reused after a crash) unlikely to match, not
 * impossible. Bit 63 stays clear so the counter cannot wrap to 0 in any real lifetime.
 */

static _Atomic uint64_t rk__corr_next; /* 0 = not seeded in this process yet */
static pthread_once_t rk__corr_once = PTHREAD_ONCE_INIT;

static uint64_t rk__corr_base(void)
{
    struct timespec ts = { 0, 0 };
    uint64_t pid = (uint64_t)getpid() & ((1ull << 23) - 1);
    uint64_t noise;

    clock_gettime(CLOCK_REALTIME, &ts);
    /* The low bits of the time in ns already differ between any two starts; the stack address (ASLR)
     * separates two processes started in the same nanosecond on different hosts or containers. */
    noise = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ (uint64_t)(uintptr_t)&ts;
    /* | 1: a pid of 0 (masked out of a huge pid) must still not give base 0. */
    return (pid << 40) | (noise & ((1ull << 39) - 1)) | 1;
}

/* A forked child would otherwise continue its parent's sequence and issue the same ids: re-seed it. */
static void rk__corr_atfork_child(void) { atomic_store_explicit(&rk__corr_next, 0, memory_order_relaxed); }

static void rk__corr_register_atfork(void) { pthread_atfork(NULL, NULL, rk__corr_atfork_child); }

uint64_t rk_correlation_next(void)
{
    if (RK__UNLIKELY(atomic_load_explicit(&rk__corr_next, memory_order_relaxed) == 0)) {
        uint64_t unseeded = 0;

        pthread_once(&rk__corr_once, rk__corr_register_atfork);
        /* Several first callers may race here; one base wins and the others' are discarded. */
        atomic_compare_exchange_strong_explicit(&rk__corr_next, &unseeded, rk__corr_base(),
                                                memory_order_relaxed, memory_order_relaxed);
    }
    return atomic_fetch_add_explicit(&rk__corr_next, 1, memory_order_relaxed);
}
