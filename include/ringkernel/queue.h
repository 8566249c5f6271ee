/* queue.h - lock-free rings of fixed-size slots, shared by host threads and (through abi.h) GPU code.
 *
 * Two protocols over the same region layout (abi.h, rk_queue_header):
 *   _spsc  one producer, one consumer: 64-bit head/tail, each side caching the other's index
 *          (Lamport; rigtorp's cached-index refinement).
 *   _mpsc  many producers, one consumer: per-slot 64-bit sequence numbers (Vyukov's bounded queue).
 *
 * Invariants (cited in queue.c as Q1..Q6):
 *   Q1  head and tail only increase; 0 <= head - tail <= capacity. Slot of position p is p & mask.
 *   Q2  Each index has exactly one writer: the producer writes head (SPSC; MPSC producers CAS it), the
 *       consumer writes tail. The other side only reads it.
 *   Q3  A producer writes a slot's bytes, then publishes with a release store (head for SPSC, the slot's
 *       sequence for MPSC); the consumer reads the publication with an acquire load before the bytes.
 *   Q4  The consumer reads a slot's bytes, then releases it with a release store of tail (SPSC) or of the
 *       slot's sequence (MPSC); the producer's acquire load of that word precedes its next write.
 *   Q5  Shared words are touched only through atomic accessors, field by field; no code copies or writes
 *       back a header.
 *   Q6  Cached copies of the other side's index live in the local handle, never in shared memory.
 *
 * Zero copy: reserve returns slot pointers in the ring; the caller writes in place and commits. peek
 * returns pointers to published slots; the caller reads in place and releases. The copy helpers
 * (push/pop) are built on these.
 *
 * Thread contract: for _spsc, one thread produces and one consumes at a time; for _mpsc any number of
 * threads produce and one consumes. Blocking variants (_wait) spin briefly, then yield, then sleep with
 * growing intervals (capped at 50 us), so a waiting side never burns a core for long.
 */
#ifndef RINGKERNEL_QUEUE_H
#define RINGKERNEL_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest slot: one envelope. */
#define RK_QUEUE_MIN_SLOT 64u
/** Largest slot: 1 MiB. */
#define RK_QUEUE_MAX_SLOT (1u << 20)
/** Largest slot count: 2^24. */
#define RK_QUEUE_MAX_CAPACITY (1u << 24)

/** Timeouts in nanoseconds: 0 = try once, RK_TIMEOUT_INFINITE = wait forever. */
#define RK_TIMEOUT_INFINITE ((int64_t)-1)
#define RK_TIMEOUT_NS(n) ((int64_t)(n))
#define RK_TIMEOUT_US(n) ((int64_t)(n) * 1000)
#define RK_TIMEOUT_MS(n) ((int64_t)(n) * 1000000)

/**
 * A local handle on a formatted queue region. Several handles may attach the same region (one per side,
 * or one per producer for MPSC). Fields are private; they are visible only so the hot path can be inline.
 */
typedef struct rk_queue {
    rk_queue_header *hdr;      /* the shared region */
    RK_ATOMIC(uint64_t) *seq;  /* per-slot sequence numbers (MPSC), else NULL */
    uint8_t *slots;            /* slot 0 */
    uint32_t mask;             /* copy of hdr->mask */
    uint32_t slot_size;        /* copy of hdr->slot_size */
    uint32_t slot_shift;       /* log2(slot_size) */
    uint32_t flags;            /* copy of hdr->flags */
    int owns_region;           /* 1 if rk_queue_create allocated the region */
    /* Producer-private line. */
    RK_ALIGNAS(RK_CACHE_LINE) uint64_t p_head;           /* producer's position (SPSC: owned copy of hdr->head) */
    uint64_t p_tail_cache;     /* producer's last read of hdr->tail (Q6) */
    uint32_t p_reserved;       /* slots reserved and not yet committed (SPSC) */
    /* Consumer-private line. */
    RK_ALIGNAS(RK_CACHE_LINE) uint64_t c_tail;           /* consumer's position (owned copy of hdr->tail) */
    uint64_t c_head_cache;     /* consumer's last read of hdr->head (Q6) */
    uint32_t c_peeked;         /* slots peeked and not yet released */
} rk_queue;

/* ---- Regions -------------------------------------------------------------------------------------- */

/**
 * Bytes needed for a queue region of `capacity` slots of `slot_size` bytes with `flags`. Returns 0 if the
 * parameters are invalid (see rk_queue_format).
 */
size_t rk_queue_region_size(uint32_t capacity, uint32_t slot_size, uint32_t flags);

/**
 * Formats `mem` (len bytes, 128-byte aligned, e.g. mapped pinned memory) as an empty queue. Only whoever
 * formats writes line 0 of the header. Returns 0; RK_EINVAL if mem is NULL or misaligned, capacity is not a
 * power of two in [2, RK_QUEUE_MAX_CAPACITY], slot_size is not a power of two in [64, RK_QUEUE_MAX_SLOT],
 * or flags are unknown; RK_EOVERFLOW if len is smaller than rk_queue_region_size().
 */
int rk_queue_format(void *mem, size_t len, uint32_t capacity, uint32_t slot_size, uint32_t flags);

/**
 * Attaches a local handle to a formatted region, reading the current indices. Returns 0; RK_EINVAL on NULL;
 * RK_ECORRUPT if the header's magic or geometry is invalid or larger than len; RK_EABI on version mismatch.
 */
int rk_queue_attach(rk_queue *q, void *mem, size_t len);

/**
 * Allocates (128-byte aligned heap memory), formats and attaches a queue. Returns 0; RK_EINVAL as for
 * rk_queue_format or on NULL out; RK_ENOMEM.
 */
int rk_queue_create(rk_queue **out, uint32_t capacity, uint32_t slot_size, uint32_t flags);

/** Frees a queue from rk_queue_create (NULL is a no-op). Handles from rk_queue_attach need no cleanup. */
void rk_queue_destroy(rk_queue *q);

/** Slot size in bytes. */
static inline uint32_t rk_queue_slot_size(const rk_queue *q) { return q->slot_size; }
/** Slot count. */
static inline uint32_t rk_queue_capacity(const rk_queue *q) { return q->mask + 1; }

/** Pointer to the slot of position pos (any position; wraps with the mask). */
static inline void *rk_queue_slot(const rk_queue *q, uint64_t pos)
{
    return q->slots + ((size_t)(pos & q->mask) << q->slot_shift);
}

/**
 * Approximate number of published, unconsumed slots (exact when called by the consumer with no producer
 * running). Never fails.
 */
uint64_t rk_queue_size(const rk_queue *q);

/* ---- SPSC producer ---------------------------------------------------------------------------------- */

/**
 * Reserves up to n consecutive slots for writing, starting at position *pos (slot pointers by
 * rk_queue_slot(q, *pos + i)). Returns the number reserved (1..n), or RK_EAGAIN if the ring is full, or
 * RK_EINVAL if n is 0, a reservation is already open, or the queue is MPSC. RK_EAGAIN sets no detail string
 * (it is the polling hot path).
 */
int rk_queue_reserve_spsc(rk_queue *q, uint32_t n, uint64_t *pos);

/**
 * Publishes the first `count` slots of the open reservation (count <= reserved; the rest are dropped from
 * the reservation). Returns 0, or RK_EINVAL if count exceeds the reservation.
 */
int rk_queue_commit_spsc(rk_queue *q, uint32_t count);

/** Like rk_queue_reserve_spsc, waiting up to timeout_ns for room. RK_ETIMEDOUT on expiry. */
int rk_queue_reserve_wait_spsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns);

/**
 * Copies len bytes into one slot and publishes it. Returns 0; RK_EMSGSIZE if len > slot size; RK_EAGAIN
 * if full (timeout 0) or RK_ETIMEDOUT (timeout > 0).
 */
int rk_queue_push_spsc(rk_queue *q, const void *data, size_t len, int64_t timeout_ns);

/**
 * Copies n items of `stride` bytes each (stride <= slot size) into consecutive slots, publishing them with
 * one index store. Returns the number pushed (may be fewer than n when the ring fills; at least 1 unless
 * it returns an error), RK_EAGAIN/RK_ETIMEDOUT if none fit, RK_EMSGSIZE if stride > slot size.
 */
int rk_queue_push_batch_spsc(rk_queue *q, const void *items, size_t stride, uint32_t n, int64_t timeout_ns);

/* ---- SPSC consumer ---------------------------------------------------------------------------------- */

/**
 * Peeks up to n published slots starting at position *pos. Returns the number available (1..n), or
 * RK_EAGAIN if empty (no detail string), or RK_EINVAL if n is 0, a peek is already open, or the queue is
 * MPSC.
 */
int rk_queue_peek_spsc(rk_queue *q, uint32_t n, uint64_t *pos);

/** Releases the first `count` peeked slots back to the producer. Returns 0 or RK_EINVAL. */
int rk_queue_release_spsc(rk_queue *q, uint32_t count);

/** Like rk_queue_peek_spsc, waiting up to timeout_ns for data. RK_ETIMEDOUT on expiry. */
int rk_queue_peek_wait_spsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns);

/**
 * Copies one slot (min(cap, slot size) bytes) into buf and releases it. Returns 0; RK_EAGAIN or
 * RK_ETIMEDOUT when empty.
 */
int rk_queue_pop_spsc(rk_queue *q, void *buf, size_t cap, int64_t timeout_ns);

/** Pops up to n slots into items (stride bytes each, copying min(stride, slot size)). Returns count. */
int rk_queue_pop_batch_spsc(rk_queue *q, void *items, size_t stride, uint32_t n, int64_t timeout_ns);

/* ---- MPSC ------------------------------------------------------------------------------------------- */

/**
 * Claims one slot for writing (any thread). Returns 0 with *slot and *pos set; RK_EAGAIN if full;
 * RK_EINVAL if the queue is not MPSC.
 */
int rk_queue_reserve_mpsc(rk_queue *q, void **slot, uint64_t *pos);

/** Publishes the slot claimed at pos. Returns 0 or RK_EINVAL. */
int rk_queue_commit_mpsc(rk_queue *q, uint64_t pos);

/** Like rk_queue_reserve_mpsc, waiting up to timeout_ns. */
int rk_queue_reserve_wait_mpsc(rk_queue *q, void **slot, uint64_t *pos, int64_t timeout_ns);

/** Copies len bytes into a claimed slot and publishes it (any thread). Errors as rk_queue_push_spsc. */
int rk_queue_push_mpsc(rk_queue *q, const void *data, size_t len, int64_t timeout_ns);

/**
 * Consumer: peeks up to n consecutive published slots from *pos (stops at the first unpublished one).
 * Returns count (1..n), RK_EAGAIN if the next slot is not published, RK_EINVAL as for SPSC.
 */
int rk_queue_peek_mpsc(rk_queue *q, uint32_t n, uint64_t *pos);

/** Consumer: releases the first count peeked slots. Returns 0 or RK_EINVAL. */
int rk_queue_release_mpsc(rk_queue *q, uint32_t count);

/** Consumer: like rk_queue_peek_mpsc, waiting up to timeout_ns. */
int rk_queue_peek_wait_mpsc(rk_queue *q, uint32_t n, uint64_t *pos, int64_t timeout_ns);

/** Consumer: copies one slot out and releases it. Errors as rk_queue_pop_spsc. */
int rk_queue_pop_mpsc(rk_queue *q, void *buf, size_t cap, int64_t timeout_ns);

/* ---- Waiting ---------------------------------------------------------------------------------------- */

/**
 * Backoff state for waiting loops: spin with a pause instruction, then sched_yield, then nanosleep with
 * doubling intervals capped at 50 us. Shared with the runtime so every wait in the library behaves alike.
 */
typedef struct rk_backoff {
    uint32_t round;       /* how many times rk_backoff_wait ran */
    int64_t deadline_ns;  /* CLOCK_MONOTONIC deadline, or -1 for none */
} rk_backoff;

/** Starts a backoff with a timeout (RK_TIMEOUT_INFINITE for none; 0 means the first wait times out). */
void rk_backoff_init(rk_backoff *b, int64_t timeout_ns);

/** Waits one round. Returns 0 to try again, or RK_ETIMEDOUT once the deadline has passed. */
int rk_backoff_wait(rk_backoff *b);

/** CLOCK_MONOTONIC in nanoseconds. */
int64_t rk_monotonic_ns(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_QUEUE_H */
