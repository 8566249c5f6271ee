/* queue_test.c - unit tests of the queue (queue.h): argument checks, the SPSC and MPSC protocols on one
 * thread, shared regions attached by several handles, waiting and timeouts, and two small concurrent runs
 * (SPSC 1M messages, MPSC 4 x 200k) validated by sequence number and checksum.
 *
 * Every bad input has its own test and expects its own code, so a regression names the input it broke.
 * The suite also runs under ASan+UBSan and TSan (label `unit`), so the concurrent runs are kept small
 * enough to finish in a few seconds there; the long runs live in tests/stress/queue_stress.c.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mix64.h"
#include "ringkernel/queue.h"

/* ---- Helpers -------------------------------------------------------------------------------------- */

/*
 * Fails the test unless `got` is `want`, naming both codes, the expression and the library's detail
 * string. A macro only to capture the expression text and the line.
 */
#define CHECK_RC(expr, want) check_rc((expr), (want), #expr, __FILE__, __LINE__)

static void check_rc(int got, int want, const char *expr, const char *file, int line)
{
    if (got == want)
        return;
    print_error("%s:%d: %s returned %s (%d), expected %s (%d); last error: \"%s\"\n", file, line, expr,
                rk_err_name(got), got, rk_err_name(want), want, rk_last_error());
    _fail(file, line);
}

/* Runs `call` after clearing the last error, so the detail check sees only this call's record. */
#define EXPECT_FAIL(call, want)                                                                       \
    do {                                                                                              \
        rk_clear_error();                                                                             \
        int rc_ = (call);                                                                             \
        check_rc(rc_, (want), #call, __FILE__, __LINE__);                                             \
        if ((want) != RK_EAGAIN && (rk_last_error_code() != (want) || rk_last_error()[0] == '\0')) {  \
            print_error("%s:%d: %s: last error code %s, detail \"%s\": a failure must record both\n", \
                        __FILE__, __LINE__, #call, rk_err_name(rk_last_error_code()), rk_last_error()); \
            _fail(__FILE__, __LINE__);                                                                \
        }                                                                                             \
    } while (0)

/* A 128-byte aligned, zeroed buffer of len bytes. */
static void *region_alloc(size_t len)
{
    void *p = NULL;

    assert_int_equal(posix_memalign(&p, RK_CACHE_LINE, len ? len : RK_CACHE_LINE), 0);
    memset(p, 0, len);
    return p;
}

/* A formatted region of cap slots of slot bytes, with flags; *len receives its size. */
static void *region_new(uint32_t cap, uint32_t slot, uint32_t flags, size_t *len)
{
    size_t n = rk_queue_region_size(cap, slot, flags);
    void *mem;

    assert_true(n > 0);
    mem = region_alloc(n);
    CHECK_RC(rk_queue_format(mem, n, cap, slot, flags), 0);
    *len = n;
    return mem;
}

static rk_queue *queue_new(uint32_t cap, uint32_t slot, uint32_t flags)
{
    rk_queue *q = NULL;

    CHECK_RC(rk_queue_create(&q, cap, slot, flags), 0);
    assert_non_null(q);
    return q;
}

static double now_s(clockid_t clk)
{
    struct timespec t;

    clock_gettime(clk, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The test message: producer id, per-producer sequence, checksum of both. Fits the smallest slot. */
typedef struct tmsg {
    uint32_t producer;
    uint32_t pad;
    uint64_t seq;
    uint64_t check;
} tmsg;

static tmsg tmsg_make(uint32_t producer, uint64_t seq)
{
    tmsg m = { producer, 0, seq, mix64(((uint64_t)producer << 48) ^ seq) };

    return m;
}

static int tmsg_ok(const tmsg *m) { return m->check == mix64(((uint64_t)m->producer << 48) ^ m->seq); }

static void push_seq(rk_queue *q, uint64_t seq)
{
    tmsg m = tmsg_make(0, seq);

    CHECK_RC(rk_queue_push_spsc(q, &m, sizeof m, 0), 0);
}

static void pop_expect(rk_queue *q, uint64_t seq)
{
    tmsg m;

    memset(&m, 0, sizeof m);
    CHECK_RC(rk_queue_pop_spsc(q, &m, sizeof m, 0), 0);
    assert_true(tmsg_ok(&m));
    assert_int_equal(m.seq, seq);
}

/* ---- Region size and format: every bad input on its own ---------------------------------------------- */

static void region_size_valid(void **state)
{
    (void)state;
    /* Header, then slots; MPSC adds one 64-bit sequence per slot before them. */
    assert_true(rk_queue_region_size(8, 64, RK_QUEUE_SPSC) >= sizeof(rk_queue_header) + 8 * 64);
    assert_true(rk_queue_region_size(8, 64, RK_QUEUE_MPSC) >= sizeof(rk_queue_header) + 8 * 8 + 8 * 64);
    assert_true(rk_queue_region_size(2, RK_QUEUE_MAX_SLOT, 0) >= 2ull * RK_QUEUE_MAX_SLOT);
    assert_int_equal(rk_queue_region_size(8, 64, 0) % RK_CACHE_LINE, 0);
}

static void region_size_invalid(void **state)
{
    (void)state;
    assert_int_equal(rk_queue_region_size(0, 64, 0), 0);
    assert_int_equal(rk_queue_region_size(1, 64, 0), 0);
    assert_int_equal(rk_queue_region_size(3, 64, 0), 0);
    assert_int_equal(rk_queue_region_size(RK_QUEUE_MAX_CAPACITY * 2u, 64, 0), 0);
    assert_int_equal(rk_queue_region_size(8, 0, 0), 0);
    assert_int_equal(rk_queue_region_size(8, 32, 0), 0);
    assert_int_equal(rk_queue_region_size(8, 48, 0), 0);
    assert_int_equal(rk_queue_region_size(8, 100, 0), 0);
    assert_int_equal(rk_queue_region_size(8, RK_QUEUE_MAX_SLOT * 2u, 0), 0);
    assert_int_equal(rk_queue_region_size(8, 64, 1u << 1), 0);
}

/* A format that fails must leave the memory as it was (a failing call has no side effects). */
static void format_expect(uint32_t cap, uint32_t slot, uint32_t flags, int want)
{
    size_t len = 1u << 16;
    uint8_t *mem = region_alloc(len);

    memset(mem, 0xAB, len);
    EXPECT_FAIL(rk_queue_format(mem, len, cap, slot, flags), want);
    for (size_t i = 0; i < len; i++) {
        if (mem[i] != 0xAB)
            fail_msg("failed rk_queue_format wrote byte %zu", i);
    }
    free(mem);
}

static void format_null_mem(void **state)
{
    (void)state;
    EXPECT_FAIL(rk_queue_format(NULL, 4096, 8, 64, 0), RK_EINVAL);
}

static void format_misaligned(void **state)
{
    size_t len = 8192;
    uint8_t *mem = region_alloc(len);

    (void)state;
    EXPECT_FAIL(rk_queue_format(mem + 8, len - 8, 8, 64, 0), RK_EINVAL);
    EXPECT_FAIL(rk_queue_format(mem + 64, len - 64, 8, 64, 0), RK_EINVAL);
    free(mem);
}

static void format_capacity_zero(void **state) { (void)state; format_expect(0, 64, 0, RK_EINVAL); }
static void format_capacity_one(void **state) { (void)state; format_expect(1, 64, 0, RK_EINVAL); }
static void format_capacity_three(void **state) { (void)state; format_expect(3, 64, 0, RK_EINVAL); }

static void format_capacity_too_large(void **state)
{
    (void)state;
    format_expect(RK_QUEUE_MAX_CAPACITY * 2u, 64, 0, RK_EINVAL);
    format_expect(0x80000000u, 64, 0, RK_EINVAL);
}

static void format_slot_zero(void **state) { (void)state; format_expect(8, 0, 0, RK_EINVAL); }
static void format_slot_32(void **state) { (void)state; format_expect(8, 32, 0, RK_EINVAL); }
static void format_slot_48(void **state) { (void)state; format_expect(8, 48, 0, RK_EINVAL); }
static void format_slot_100(void **state) { (void)state; format_expect(8, 100, 0, RK_EINVAL); }

static void format_slot_too_large(void **state)
{
    (void)state;
    format_expect(8, RK_QUEUE_MAX_SLOT * 2u, 0, RK_EINVAL);
}

static void format_unknown_flags(void **state)
{
    (void)state;
    format_expect(8, 64, 1u << 1, RK_EINVAL);
    format_expect(8, 64, 0x80000000u, RK_EINVAL);
}

static void format_len_too_small(void **state)
{
    size_t need = rk_queue_region_size(8, 64, RK_QUEUE_MPSC);
    uint8_t *mem = region_alloc(need);

    (void)state;
    memset(mem, 0xAB, need);
    EXPECT_FAIL(rk_queue_format(mem, need - 1, 8, 64, RK_QUEUE_MPSC), RK_EOVERFLOW);
    EXPECT_FAIL(rk_queue_format(mem, 0, 8, 64, RK_QUEUE_MPSC), RK_EOVERFLOW);
    EXPECT_FAIL(rk_queue_format(mem, sizeof(rk_queue_header), 8, 64, RK_QUEUE_MPSC), RK_EOVERFLOW);
    for (size_t i = 0; i < need; i++) {
        if (mem[i] != 0xAB)
            fail_msg("failed rk_queue_format wrote byte %zu", i);
    }
    CHECK_RC(rk_queue_format(mem, need, 8, 64, RK_QUEUE_MPSC), 0);
    free(mem);
}

static void format_writes_header(void **state)
{
    size_t len;
    rk_queue_header *h = region_new(16, 128, RK_QUEUE_MPSC, &len);

    (void)state;
    assert_int_equal(h->magic, RK_QUEUE_MAGIC);
    assert_int_equal(h->abi_version, RK_ABI_VERSION);
    assert_int_equal(h->capacity, 16);
    assert_int_equal(h->mask, 15);
    assert_int_equal(h->slot_size, 128);
    assert_int_equal(h->flags, RK_QUEUE_MPSC);
    assert_true(h->seq_offset >= sizeof(rk_queue_header));
    assert_true(h->slots_offset >= h->seq_offset + 16 * 8);
    assert_int_equal(h->slots_offset % RK_CACHE_LINE, 0);
    assert_true(h->region_size <= len);
    assert_true(h->slots_offset + 16 * 128 <= h->region_size);
    assert_int_equal(__atomic_load_n(&h->head, __ATOMIC_RELAXED), 0);
    assert_int_equal(__atomic_load_n(&h->tail, __ATOMIC_RELAXED), 0);
    free(h);
}

/* ---- Attach: NULLs and corrupt headers ---------------------------------------------------------------- */

static void attach_null_handle(void **state)
{
    size_t len;
    void *mem = region_new(8, 64, 0, &len);

    (void)state;
    EXPECT_FAIL(rk_queue_attach(NULL, mem, len), RK_EINVAL);
    free(mem);
}

static void attach_null_mem(void **state)
{
    rk_queue q;

    (void)state;
    EXPECT_FAIL(rk_queue_attach(&q, NULL, 4096), RK_EINVAL);
}

/*
 * Corrupts one field of a freshly formatted region with `poke`, then expects attach to fail with `want`
 * and to leave the handle untouched.
 */
typedef void (*poke_fn)(rk_queue_header *h);

static void attach_corrupt(uint32_t flags, poke_fn poke, size_t len_delta, int want)
{
    size_t len;
    rk_queue_header *h = region_new(8, 64, flags, &len);
    rk_queue q, before;

    if (poke)
        poke(h);
    memset(&q, 0x5A, sizeof q);
    memcpy(&before, &q, sizeof q);
    EXPECT_FAIL(rk_queue_attach(&q, h, len - len_delta), want);
    assert_memory_equal(&q, &before, sizeof q);
    free(h);
}

static void poke_magic(rk_queue_header *h) { h->magic ^= 1; }
static void poke_abi(rk_queue_header *h) { h->abi_version = RK_ABI_VERSION + 1; }
static void poke_capacity_three(rk_queue_header *h) { h->capacity = 3; h->mask = 2; }
static void poke_capacity_zero(rk_queue_header *h) { h->capacity = 0; h->mask = UINT32_MAX; }
static void poke_capacity_huge(rk_queue_header *h) { h->capacity = 1u << 30; h->mask = (1u << 30) - 1; }
static void poke_mask(rk_queue_header *h) { h->mask = 15; }
static void poke_slot_100(rk_queue_header *h) { h->slot_size = 100; }
static void poke_slot_huge(rk_queue_header *h) { h->slot_size = 1u << 30; }
static void poke_flags(rk_queue_header *h) { h->flags = 0x40; }
static void poke_slots_offset_misaligned(rk_queue_header *h) { h->slots_offset += 8; }
static void poke_slots_past_region(rk_queue_header *h) { h->region_size = h->slots_offset + 64; }
static void poke_region_huge(rk_queue_header *h) { h->region_size = UINT64_MAX - 64; }
static void poke_seq_offset_zero(rk_queue_header *h) { h->seq_offset = 0; }

static void attach_bad_magic(void **s) { (void)s; attach_corrupt(0, poke_magic, 0, RK_ECORRUPT); }
static void attach_abi_mismatch(void **s) { (void)s; attach_corrupt(0, poke_abi, 0, RK_EABI); }
static void attach_capacity_three(void **s) { (void)s; attach_corrupt(0, poke_capacity_three, 0, RK_ECORRUPT); }
static void attach_capacity_zero(void **s) { (void)s; attach_corrupt(0, poke_capacity_zero, 0, RK_ECORRUPT); }
static void attach_capacity_huge(void **s) { (void)s; attach_corrupt(0, poke_capacity_huge, 0, RK_ECORRUPT); }
static void attach_mask_mismatch(void **s) { (void)s; attach_corrupt(0, poke_mask, 0, RK_ECORRUPT); }
static void attach_slot_100(void **s) { (void)s; attach_corrupt(0, poke_slot_100, 0, RK_ECORRUPT); }
static void attach_slot_huge(void **s) { (void)s; attach_corrupt(0, poke_slot_huge, 0, RK_ECORRUPT); }
static void attach_unknown_flags(void **s) { (void)s; attach_corrupt(0, poke_flags, 0, RK_ECORRUPT); }
static void attach_slots_misaligned(void **s) { (void)s; attach_corrupt(0, poke_slots_offset_misaligned, 0, RK_ECORRUPT); }
static void attach_slots_past_region(void **s) { (void)s; attach_corrupt(0, poke_slots_past_region, 0, RK_ECORRUPT); }
static void attach_region_huge(void **s) { (void)s; attach_corrupt(0, poke_region_huge, 0, RK_ECORRUPT); }
static void attach_mpsc_no_seq(void **s) { (void)s; attach_corrupt(RK_QUEUE_MPSC, poke_seq_offset_zero, 0, RK_ECORRUPT); }

/* The region the header describes is larger than the memory handed to attach. */
static void attach_len_too_small(void **state)
{
    (void)state;
    attach_corrupt(0, NULL, 1, RK_ECORRUPT);
}

/* len does not even cover the header: attach must not read past it. */
static void attach_len_below_header(void **state)
{
    size_t len;
    void *mem = region_new(8, 64, 0, &len);
    rk_queue q;

    (void)state;
    EXPECT_FAIL(rk_queue_attach(&q, mem, sizeof(rk_queue_header) - 1), RK_ECORRUPT);
    EXPECT_FAIL(rk_queue_attach(&q, mem, 0), RK_ECORRUPT);
    free(mem);
}

static void attach_reads_geometry(void **state)
{
    size_t len;
    void *mem = region_new(32, 256, 0, &len);
    rk_queue q;

    (void)state;
    CHECK_RC(rk_queue_attach(&q, mem, len), 0);
    assert_int_equal(rk_queue_capacity(&q), 32);
    assert_int_equal(rk_queue_slot_size(&q), 256);
    assert_int_equal(rk_queue_size(&q), 0);
    /* Slots are slot_size apart and wrap with the mask. */
    assert_ptr_equal((uint8_t *)rk_queue_slot(&q, 1), (uint8_t *)rk_queue_slot(&q, 0) + 256);
    assert_ptr_equal(rk_queue_slot(&q, 32), rk_queue_slot(&q, 0));
    assert_true((uint8_t *)rk_queue_slot(&q, 31) + 256 <= (uint8_t *)mem + len);
    assert_true((uint8_t *)rk_queue_slot(&q, 0) >= (uint8_t *)mem + sizeof(rk_queue_header));
    free(mem);
}

/* ---- Create ----------------------------------------------------------------------------------------- */

static void create_null_out(void **state)
{
    (void)state;
    EXPECT_FAIL(rk_queue_create(NULL, 8, 64, 0), RK_EINVAL);
}

static void create_bad_capacity(void **state)
{
    rk_queue *q = (rk_queue *)(uintptr_t)0x1;

    (void)state;
    EXPECT_FAIL(rk_queue_create(&q, 3, 64, 0), RK_EINVAL);
    assert_ptr_equal(q, (rk_queue *)(uintptr_t)0x1); /* no side effects on failure */
}

static void create_bad_slot(void **state)
{
    rk_queue *q = NULL;

    (void)state;
    EXPECT_FAIL(rk_queue_create(&q, 8, 48, 0), RK_EINVAL);
    assert_null(q);
}

static void create_bad_flags(void **state)
{
    rk_queue *q = NULL;

    (void)state;
    EXPECT_FAIL(rk_queue_create(&q, 8, 64, 0x10), RK_EINVAL);
    assert_null(q);
}

static void create_destroy(void **state)
{
    rk_queue *q = queue_new(1024, 512, RK_QUEUE_MPSC);

    (void)state;
    assert_int_equal(rk_queue_capacity(q), 1024);
    assert_int_equal(rk_queue_slot_size(q), 512);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
    rk_queue_destroy(NULL);
}

/* ---- SPSC argument checks and full/empty ----------------------------------------------------------- */

static void spsc_reserve_zero(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    EXPECT_FAIL(rk_queue_reserve_spsc(q, 0, &pos), RK_EINVAL);
    rk_queue_destroy(q);
}

static void spsc_reserve_while_open(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos, pos2;

    (void)state;
    CHECK_RC(rk_queue_reserve_spsc(q, 2, &pos), 2);
    EXPECT_FAIL(rk_queue_reserve_spsc(q, 1, &pos2), RK_EINVAL);
    EXPECT_FAIL(rk_queue_reserve_wait_spsc(q, 1, &pos2, RK_TIMEOUT_MS(1)), RK_EINVAL);
    /* The open reservation survived the failed calls. */
    CHECK_RC(rk_queue_commit_spsc(q, 2), 0);
    assert_int_equal(rk_queue_size(q), 2);
    rk_queue_destroy(q);
}

static void spsc_commit_more_than_reserved(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    CHECK_RC(rk_queue_reserve_spsc(q, 3, &pos), 3);
    EXPECT_FAIL(rk_queue_commit_spsc(q, 4), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 0);
    CHECK_RC(rk_queue_commit_spsc(q, 3), 0);
    assert_int_equal(rk_queue_size(q), 3);
    rk_queue_destroy(q);
}

static void spsc_commit_without_reserve(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);

    (void)state;
    EXPECT_FAIL(rk_queue_commit_spsc(q, 1), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void spsc_push_too_big(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint8_t buf[65] = { 0 };

    (void)state;
    EXPECT_FAIL(rk_queue_push_spsc(q, buf, 65, 0), RK_EMSGSIZE);
    EXPECT_FAIL(rk_queue_push_spsc(q, buf, 65, RK_TIMEOUT_MS(1)), RK_EMSGSIZE);
    assert_int_equal(rk_queue_size(q), 0);
    CHECK_RC(rk_queue_push_spsc(q, buf, 64, 0), 0); /* exactly a slot fits */
    rk_queue_destroy(q);
}

static void spsc_push_batch_stride_too_big(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint8_t buf[2 * 65] = { 0 };

    (void)state;
    EXPECT_FAIL(rk_queue_push_batch_spsc(q, buf, 65, 2, 0), RK_EMSGSIZE);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void spsc_full_eagain(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    tmsg m = tmsg_make(0, 0);
    uint64_t pos;

    (void)state;
    for (int i = 0; i < 8; i++)
        push_seq(q, (uint64_t)i);
    assert_int_equal(rk_queue_size(q), 8);
    EXPECT_FAIL(rk_queue_push_spsc(q, &m, sizeof m, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_reserve_spsc(q, 1, &pos), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_reserve_wait_spsc(q, 4, &pos, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_push_batch_spsc(q, &m, sizeof m, 1, 0), RK_EAGAIN);
    /* One pop makes room for exactly one. */
    pop_expect(q, 0);
    CHECK_RC(rk_queue_reserve_spsc(q, 4, &pos), 1);
    assert_int_equal(pos, 8);
    CHECK_RC(rk_queue_commit_spsc(q, 0), 0);
    rk_queue_destroy(q);
}

static void spsc_empty_eagain(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    tmsg m;
    uint64_t pos;

    (void)state;
    EXPECT_FAIL(rk_queue_pop_spsc(q, &m, sizeof m, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_peek_spsc(q, 1, &pos), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_peek_wait_spsc(q, 1, &pos, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_pop_batch_spsc(q, &m, sizeof m, 1, 0), RK_EAGAIN);
    /* A reservation is not visible before its commit. */
    CHECK_RC(rk_queue_reserve_spsc(q, 2, &pos), 2);
    EXPECT_FAIL(rk_queue_peek_spsc(q, 1, &pos), RK_EAGAIN);
    rk_queue_destroy(q);
}

static void spsc_peek_zero(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    push_seq(q, 0);
    EXPECT_FAIL(rk_queue_peek_spsc(q, 0, &pos), RK_EINVAL);
    rk_queue_destroy(q);
}

static void spsc_peek_while_open(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos, pos2;

    (void)state;
    push_seq(q, 0);
    push_seq(q, 1);
    CHECK_RC(rk_queue_peek_spsc(q, 1, &pos), 1);
    EXPECT_FAIL(rk_queue_peek_spsc(q, 1, &pos2), RK_EINVAL);
    EXPECT_FAIL(rk_queue_peek_wait_spsc(q, 1, &pos2, RK_TIMEOUT_MS(1)), RK_EINVAL);
    CHECK_RC(rk_queue_release_spsc(q, 1), 0);
    pop_expect(q, 1);
    rk_queue_destroy(q);
}

static void spsc_release_more_than_peeked(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    push_seq(q, 0);
    push_seq(q, 1);
    CHECK_RC(rk_queue_peek_spsc(q, 1, &pos), 1);
    EXPECT_FAIL(rk_queue_release_spsc(q, 2), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 2);
    CHECK_RC(rk_queue_release_spsc(q, 1), 0);
    assert_int_equal(rk_queue_size(q), 1);
    rk_queue_destroy(q);
}

static void spsc_release_without_peek(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);

    (void)state;
    push_seq(q, 0);
    EXPECT_FAIL(rk_queue_release_spsc(q, 1), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 1);
    rk_queue_destroy(q);
}

/* ---- SPSC calls on an MPSC queue, MPSC calls on an SPSC queue ------------------------------------- */

static void spsc_call_on_mpsc(void **state)
{
    rk_queue *q = queue_new(8, 64, RK_QUEUE_MPSC);
    tmsg m = tmsg_make(0, 0);
    uint64_t pos;

    (void)state;
    EXPECT_FAIL(rk_queue_reserve_spsc(q, 1, &pos), RK_EINVAL);
    EXPECT_FAIL(rk_queue_push_spsc(q, &m, sizeof m, 0), RK_EINVAL);
    EXPECT_FAIL(rk_queue_push_batch_spsc(q, &m, sizeof m, 1, 0), RK_EINVAL);
    CHECK_RC(rk_queue_push_mpsc(q, &m, sizeof m, 0), 0);
    EXPECT_FAIL(rk_queue_peek_spsc(q, 1, &pos), RK_EINVAL);
    EXPECT_FAIL(rk_queue_pop_spsc(q, &m, sizeof m, 0), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 1);
    rk_queue_destroy(q);
}

static void mpsc_reserve_on_spsc(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    void *slot = NULL;
    uint64_t pos;

    (void)state;
    EXPECT_FAIL(rk_queue_reserve_mpsc(q, &slot, &pos), RK_EINVAL);
    EXPECT_FAIL(rk_queue_reserve_wait_mpsc(q, &slot, &pos, RK_TIMEOUT_MS(1)), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void mpsc_commit_on_spsc(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);

    (void)state;
    EXPECT_FAIL(rk_queue_commit_mpsc(q, 0), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void mpsc_push_on_spsc(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    tmsg m = tmsg_make(0, 0);

    (void)state;
    EXPECT_FAIL(rk_queue_push_mpsc(q, &m, sizeof m, 0), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void mpsc_peek_on_spsc(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    push_seq(q, 0);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 1, &pos), RK_EINVAL);
    EXPECT_FAIL(rk_queue_peek_wait_mpsc(q, 1, &pos, RK_TIMEOUT_MS(1)), RK_EINVAL);
    EXPECT_FAIL(rk_queue_release_mpsc(q, 1), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 1);
    rk_queue_destroy(q);
}

static void mpsc_pop_on_spsc(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    tmsg m;

    (void)state;
    push_seq(q, 0);
    EXPECT_FAIL(rk_queue_pop_mpsc(q, &m, sizeof m, 0), RK_EINVAL);
    assert_int_equal(rk_queue_size(q), 1);
    pop_expect(q, 0);
    rk_queue_destroy(q);
}

/* ---- MPSC argument checks --------------------------------------------------------------------------- */

static void mpsc_push_too_big(void **state)
{
    rk_queue *q = queue_new(8, 64, RK_QUEUE_MPSC);
    uint8_t buf[65] = { 0 };

    (void)state;
    EXPECT_FAIL(rk_queue_push_mpsc(q, buf, 65, 0), RK_EMSGSIZE);
    assert_int_equal(rk_queue_size(q), 0);
    CHECK_RC(rk_queue_push_mpsc(q, buf, 64, 0), 0);
    rk_queue_destroy(q);
}

static void mpsc_full_empty(void **state)
{
    rk_queue *q = queue_new(4, 64, RK_QUEUE_MPSC);
    tmsg m = tmsg_make(1, 0);
    void *slot;
    uint64_t pos;

    (void)state;
    EXPECT_FAIL(rk_queue_pop_mpsc(q, &m, sizeof m, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 1, &pos), RK_EAGAIN);
    for (uint64_t i = 0; i < 4; i++) {
        m = tmsg_make(1, i);
        CHECK_RC(rk_queue_push_mpsc(q, &m, sizeof m, 0), 0);
    }
    EXPECT_FAIL(rk_queue_push_mpsc(q, &m, sizeof m, 0), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_reserve_mpsc(q, &slot, &pos), RK_EAGAIN);
    EXPECT_FAIL(rk_queue_reserve_wait_mpsc(q, &slot, &pos, 0), RK_EAGAIN);
    assert_int_equal(rk_queue_size(q), 4);
    rk_queue_destroy(q);
}

static void mpsc_peek_zero_and_open(void **state)
{
    rk_queue *q = queue_new(8, 64, RK_QUEUE_MPSC);
    tmsg m = tmsg_make(1, 0);
    uint64_t pos;

    (void)state;
    CHECK_RC(rk_queue_push_mpsc(q, &m, sizeof m, 0), 0);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 0, &pos), RK_EINVAL);
    CHECK_RC(rk_queue_peek_mpsc(q, 1, &pos), 1);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 1, &pos), RK_EINVAL);
    EXPECT_FAIL(rk_queue_release_mpsc(q, 2), RK_EINVAL);
    CHECK_RC(rk_queue_release_mpsc(q, 1), 0);
    assert_int_equal(rk_queue_size(q), 0);
    EXPECT_FAIL(rk_queue_release_mpsc(q, 1), RK_EINVAL);
    rk_queue_destroy(q);
}

/* ---- Timeouts --------------------------------------------------------------------------------------- */

/*
 * A 200 ms wait on an empty queue: times out no earlier than the deadline, not much later, and sleeps
 * rather than spins — the process CPU time over the wait stays well below the wall time.
 */
static void timeout_pop_spsc_sleeps(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    tmsg m;
    double w0, c0, wall, cpu;

    (void)state;
    w0 = now_s(CLOCK_MONOTONIC);
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    EXPECT_FAIL(rk_queue_pop_spsc(q, &m, sizeof m, RK_TIMEOUT_MS(200)), RK_ETIMEDOUT);
    wall = now_s(CLOCK_MONOTONIC) - w0;
    cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    print_message("      200 ms wait: %.1f ms wall, %.1f ms CPU\n", wall * 1e3, cpu * 1e3);
    assert_true(wall >= 0.200);
    assert_true(wall < 1.0);
    assert_true(cpu < 0.5 * wall);
    rk_queue_destroy(q);
}

/* Each waiting entry point times out with RK_ETIMEDOUT, after at least its timeout. */
static void timeout_every_wait(void **state)
{
    rk_queue *s = queue_new(2, 64, 0), *m = queue_new(2, 64, RK_QUEUE_MPSC);
    const int64_t t = RK_TIMEOUT_MS(10);
    tmsg msg = tmsg_make(0, 0), out[2];
    uint64_t pos;
    void *slot;
    double w0;

    (void)state;
    /* Empty. */
    w0 = now_s(CLOCK_MONOTONIC);
    EXPECT_FAIL(rk_queue_peek_wait_spsc(s, 1, &pos, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_pop_batch_spsc(s, out, sizeof out[0], 2, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_peek_wait_mpsc(m, 1, &pos, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_pop_mpsc(m, out, sizeof out[0], t), RK_ETIMEDOUT);
    assert_true(now_s(CLOCK_MONOTONIC) - w0 >= 0.040);
    /* Full. */
    for (int i = 0; i < 2; i++) {
        CHECK_RC(rk_queue_push_spsc(s, &msg, sizeof msg, 0), 0);
        CHECK_RC(rk_queue_push_mpsc(m, &msg, sizeof msg, 0), 0);
    }
    w0 = now_s(CLOCK_MONOTONIC);
    EXPECT_FAIL(rk_queue_reserve_wait_spsc(s, 1, &pos, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_push_spsc(s, &msg, sizeof msg, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_push_batch_spsc(s, &msg, sizeof msg, 1, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_reserve_wait_mpsc(m, &slot, &pos, t), RK_ETIMEDOUT);
    EXPECT_FAIL(rk_queue_push_mpsc(m, &msg, sizeof msg, t), RK_ETIMEDOUT);
    assert_true(now_s(CLOCK_MONOTONIC) - w0 >= 0.050);
    assert_int_equal(rk_queue_size(s), 2);
    assert_int_equal(rk_queue_size(m), 2);
    rk_queue_destroy(s);
    rk_queue_destroy(m);
}

/* A wait that gets its data before the deadline returns it (the producer is another thread). */
typedef struct delayed_push {
    rk_queue *q;
    int64_t delay_ns;
    int rc; /* the push's result, checked by the test thread (cmocka asserts only there) */
} delayed_push;

static void *delayed_push_main(void *arg)
{
    delayed_push *d = arg;
    struct timespec ts = { 0, (long)d->delay_ns };
    tmsg m = tmsg_make(0, 42);

    nanosleep(&ts, NULL);
    d->rc = rk_queue_push_spsc(d->q, &m, sizeof m, 0);
    return NULL;
}

static void wait_wakes_on_data(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    delayed_push d = { q, RK_TIMEOUT_MS(20), -1 };
    pthread_t th;
    tmsg m;

    (void)state;
    assert_int_equal(pthread_create(&th, NULL, delayed_push_main, &d), 0);
    CHECK_RC(rk_queue_pop_spsc(q, &m, sizeof m, RK_TIMEOUT_MS(5000)), 0);
    assert_int_equal(m.seq, 42);
    assert_true(tmsg_ok(&m));
    pthread_join(th, NULL);
    CHECK_RC(d.rc, 0);
    rk_queue_destroy(q);
}

/* ---- Backoff and clock -------------------------------------------------------------------------------- */

static void backoff_zero_times_out_at_once(void **state)
{
    rk_backoff b;

    (void)state;
    rk_backoff_init(&b, 0);
    CHECK_RC(rk_backoff_wait(&b), RK_ETIMEDOUT);
}

static void backoff_infinite_never_times_out(void **state)
{
    rk_backoff b;

    (void)state;
    rk_backoff_init(&b, RK_TIMEOUT_INFINITE);
    assert_int_equal(b.deadline_ns, -1);
    for (int i = 0; i < 2000; i++)
        CHECK_RC(rk_backoff_wait(&b), 0);
    assert_true(b.round >= 2000);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/*
 * A 30 ms backoff: waits at least 30 ms, grows from spinning to sleeping (so most of the wait costs no
 * CPU), and its sleeping rounds are short (the cap is 50 us). The median of the late rounds is checked,
 * not the longest, so a busy machine that delays one wake-up does not fail the test.
 */
static void backoff_deadline_and_cap(void **state)
{
    rk_backoff b;
    double w0, c0, wall, cpu, late[4096], median;
    int rounds = 0, nlate = 0, rc;

    (void)state;
    w0 = now_s(CLOCK_MONOTONIC);
    c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
    rk_backoff_init(&b, RK_TIMEOUT_MS(30));
    for (;;) {
        double r0 = now_s(CLOCK_MONOTONIC);

        rc = rk_backoff_wait(&b);
        if (rc != 0)
            break;
        if (++rounds > 100 && nlate < 4096)
            late[nlate++] = now_s(CLOCK_MONOTONIC) - r0;
    }
    wall = now_s(CLOCK_MONOTONIC) - w0;
    cpu = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    assert_true(nlate > 0);
    qsort(late, (size_t)nlate, sizeof late[0], cmp_double);
    median = late[nlate / 2];
    print_message("      30 ms backoff: %d rounds, %.1f ms wall, %.1f ms CPU, median late round %.0f us\n", rounds,
                  wall * 1e3, cpu * 1e3, median * 1e6);
    CHECK_RC(rc, RK_ETIMEDOUT);
    assert_true(wall >= 0.030);
    assert_true(wall < 0.5);
    assert_true(cpu < 0.6 * wall);
    assert_true(median < 0.002);
}

/* A timeout too large to add to the clock means "no deadline" in practice; it must not overflow. */
static void backoff_huge_timeout(void **state)
{
    rk_backoff b;
    rk_queue *q = queue_new(2, 64, 0);
    tmsg m = tmsg_make(0, 1);

    (void)state;
    rk_backoff_init(&b, INT64_MAX);
    for (int i = 0; i < 200; i++)
        CHECK_RC(rk_backoff_wait(&b), 0);
    rk_backoff_init(&b, INT64_MAX - 1000);
    CHECK_RC(rk_backoff_wait(&b), 0);
    /* The same through a queue call that has to wait once. */
    CHECK_RC(rk_queue_push_spsc(q, &m, sizeof m, INT64_MAX), 0);
    rk_queue_destroy(q);
}

static void monotonic_clock(void **state)
{
    int64_t a = rk_monotonic_ns(), b;
    double ref = now_s(CLOCK_MONOTONIC);

    (void)state;
    b = rk_monotonic_ns();
    assert_true(b >= a);
    assert_true((double)a * 1e-9 > ref - 0.01 && (double)a * 1e-9 < ref + 0.01);
}

/* ---- SPSC functional -------------------------------------------------------------------------------- */

/* FIFO across many wraps of a small ring, with varying fill levels. */
static void spsc_fifo_wraparound(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t next_push = 0, next_pop = 0;

    (void)state;
    for (int round = 0; round < 40; round++) {
        int in = 1 + round % 8, out = 1 + (round * 5) % 8;

        for (int i = 0; i < in && rk_queue_size(q) < 8; i++)
            push_seq(q, next_push++);
        for (int i = 0; i < out && next_pop < next_push; i++)
            pop_expect(q, next_pop++);
        assert_int_equal(rk_queue_size(q), next_push - next_pop);
    }
    while (next_pop < next_push)
        pop_expect(q, next_pop++);
    assert_true(next_push > 8 * 3);
    rk_queue_destroy(q);
}

/*
 * Positions that cross 2^32 and 2^64. The region layout is public (abi.h): a region formatted and then
 * given starting indices before any handle attaches is what a side that resumes a queue sees. attach
 * reads the current indices, so traffic must continue across the boundaries in order.
 */
static void spsc_positions_cross_boundaries(void **state)
{
    const uint64_t starts[] = { (1ull << 32) - 5, UINT64_MAX - 4 };

    (void)state;
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        size_t len;
        rk_queue_header *h = region_new(4, 64, 0, &len);
        rk_queue p, c;
        uint64_t pos, seq = 0, expect = 0;

        __atomic_store_n(&h->head, starts[s], __ATOMIC_RELEASE);
        __atomic_store_n(&h->tail, starts[s], __ATOMIC_RELEASE);
        CHECK_RC(rk_queue_attach(&p, h, len), 0);
        CHECK_RC(rk_queue_attach(&c, h, len), 0);
        assert_int_equal(rk_queue_size(&c), 0);
        for (int i = 0; i < 12; i++) {
            int n = rk_queue_reserve_spsc(&p, 3, &pos);

            assert_true(n >= 1);
            if (i == 0)
                assert_int_equal(pos, starts[s]);
            for (int k = 0; k < n; k++) {
                tmsg m = tmsg_make(7, seq++);

                memcpy(rk_queue_slot(&p, pos + (uint64_t)k), &m, sizeof m);
            }
            CHECK_RC(rk_queue_commit_spsc(&p, (uint32_t)n), 0);
            if (rk_queue_size(&c) != (uint64_t)n)
                fail_msg("start %#llx, step %d: rk_queue_size %llu, expected %d", (unsigned long long)starts[s], i,
                         (unsigned long long)rk_queue_size(&c), n);
            n = rk_queue_peek_spsc(&c, 8, &pos);
            assert_true(n >= 1);
            for (int k = 0; k < n; k++) {
                const tmsg *m = rk_queue_slot(&c, pos + (uint64_t)k);

                assert_true(tmsg_ok(m));
                assert_int_equal(m->seq, expect++);
            }
            CHECK_RC(rk_queue_release_spsc(&c, (uint32_t)n), 0);
        }
        assert_int_equal(expect, seq);
        assert_true(__atomic_load_n(&h->head, __ATOMIC_ACQUIRE) - starts[s] == seq);
        assert_true(__atomic_load_n(&h->tail, __ATOMIC_ACQUIRE) - starts[s] == seq);
        free(h);
    }
}

/* Reserve more than fits, commit part of it; the uncommitted rest is dropped. Peek and release in parts. */
static void spsc_batch_partial(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    CHECK_RC(rk_queue_reserve_spsc(q, 5, &pos), 5);
    assert_int_equal(pos, 0);
    for (uint64_t i = 0; i < 5; i++) {
        tmsg m = tmsg_make(0, i);

        memcpy(rk_queue_slot(q, pos + i), &m, sizeof m);
    }
    CHECK_RC(rk_queue_commit_spsc(q, 3), 0);
    assert_int_equal(rk_queue_size(q), 3);
    /* Room for 5 more: the reservation returns fewer than asked, starting after the 3 committed. */
    CHECK_RC(rk_queue_reserve_spsc(q, 8, &pos), 5);
    assert_int_equal(pos, 3);
    for (uint64_t i = 0; i < 5; i++) {
        tmsg m = tmsg_make(0, 3 + i);

        memcpy(rk_queue_slot(q, pos + i), &m, sizeof m);
    }
    CHECK_RC(rk_queue_commit_spsc(q, 5), 0);
    assert_int_equal(rk_queue_size(q), 8);
    /* Peek 3, release 2: the third is seen again by the next peek. */
    CHECK_RC(rk_queue_peek_spsc(q, 3, &pos), 3);
    assert_int_equal(pos, 0);
    CHECK_RC(rk_queue_release_spsc(q, 2), 0);
    assert_int_equal(rk_queue_size(q), 6);
    CHECK_RC(rk_queue_peek_spsc(q, 100, &pos), 6);
    assert_int_equal(pos, 2);
    for (uint64_t i = 0; i < 6; i++) {
        const tmsg *m = rk_queue_slot(q, pos + i);

        assert_true(tmsg_ok(m));
        assert_int_equal(m->seq, 2 + i);
    }
    CHECK_RC(rk_queue_release_spsc(q, 6), 0);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

/* Committing or releasing 0 closes the reservation/peek without publishing/consuming anything. */
static void spsc_commit_release_zero(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    CHECK_RC(rk_queue_reserve_spsc(q, 4, &pos), 4);
    CHECK_RC(rk_queue_commit_spsc(q, 0), 0);
    assert_int_equal(rk_queue_size(q), 0);
    CHECK_RC(rk_queue_reserve_spsc(q, 1, &pos), 1);
    assert_int_equal(pos, 0);
    CHECK_RC(rk_queue_commit_spsc(q, 1), 0);
    CHECK_RC(rk_queue_peek_spsc(q, 1, &pos), 1);
    CHECK_RC(rk_queue_release_spsc(q, 0), 0);
    assert_int_equal(rk_queue_size(q), 1);
    CHECK_RC(rk_queue_peek_spsc(q, 1, &pos), 1);
    assert_int_equal(pos, 0);
    CHECK_RC(rk_queue_release_spsc(q, 1), 0);
    rk_queue_destroy(q);
}

/* Zero copy: the consumer sees the very bytes the producer wrote in place, at the same address. */
static void spsc_zero_copy(void **state)
{
    rk_queue *q = queue_new(4, 1024, 0);
    uint64_t pos, ppos;
    uint8_t *w, *r;

    (void)state;
    for (int round = 0; round < 10; round++) {
        CHECK_RC(rk_queue_reserve_spsc(q, 1, &ppos), 1);
        w = rk_queue_slot(q, ppos);
        for (int i = 0; i < 1024; i++)
            w[i] = (uint8_t)(i * 7 + round);
        CHECK_RC(rk_queue_commit_spsc(q, 1), 0);
        CHECK_RC(rk_queue_peek_spsc(q, 1, &pos), 1);
        assert_int_equal(pos, ppos);
        r = rk_queue_slot(q, pos);
        assert_ptr_equal(r, w);
        for (int i = 0; i < 1024; i++)
            assert_int_equal(r[i], (uint8_t)(i * 7 + round));
        CHECK_RC(rk_queue_release_spsc(q, 1), 0);
    }
    rk_queue_destroy(q);
}

/* The copy helpers: batches that fill the ring, strides shorter than a slot, short and long buffers. */
static void spsc_push_pop_batch(void **state)
{
    rk_queue *q = queue_new(16, 64, 0);
    tmsg in[20], out[20];
    int n;

    (void)state;
    for (uint64_t i = 0; i < 20; i++)
        in[i] = tmsg_make(3, i);
    /* 20 into a ring of 16: 16 go in, one publication. */
    CHECK_RC(rk_queue_push_batch_spsc(q, in, sizeof in[0], 20, 0), 16);
    assert_int_equal(rk_queue_size(q), 16);
    memset(out, 0, sizeof out);
    CHECK_RC(rk_queue_pop_batch_spsc(q, out, sizeof out[0], 10, 0), 10);
    for (int i = 0; i < 10; i++) {
        assert_true(tmsg_ok(&out[i]));
        assert_int_equal(out[i].seq, (uint64_t)i);
    }
    CHECK_RC(rk_queue_push_batch_spsc(q, in + 16, sizeof in[0], 4, 0), 4);
    n = rk_queue_pop_batch_spsc(q, out, sizeof out[0], 20, 0);
    assert_int_equal(n, 10);
    for (int i = 0; i < n; i++) {
        assert_true(tmsg_ok(&out[i]));
        assert_int_equal(out[i].seq, (uint64_t)(10 + i));
    }
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void spsc_pop_copies_min_of_cap_and_slot(void **state)
{
    rk_queue *q = queue_new(4, 64, 0);
    uint8_t src[64], *big = malloc(128), *small = malloc(10);

    (void)state;
    assert_non_null(big);
    assert_non_null(small);
    for (int i = 0; i < 64; i++)
        src[i] = (uint8_t)(i + 1);
    CHECK_RC(rk_queue_push_spsc(q, src, 64, 0), 0);
    CHECK_RC(rk_queue_push_spsc(q, src, 64, 0), 0);
    /* A 10-byte buffer receives 10 bytes (ASan checks nothing more is written). */
    CHECK_RC(rk_queue_pop_spsc(q, small, 10, 0), 0);
    assert_memory_equal(small, src, 10);
    /* A 128-byte buffer receives one slot; the rest stays as it was. */
    memset(big, 0xEE, 128);
    CHECK_RC(rk_queue_pop_spsc(q, big, 128, 0), 0);
    assert_memory_equal(big, src, 64);
    for (int i = 64; i < 128; i++)
        assert_int_equal(big[i], 0xEE);
    free(big);
    free(small);
    rk_queue_destroy(q);
}

/* A short message: only len bytes are copied in, and a later pop sees them at the start of the slot. */
static void spsc_push_short(void **state)
{
    rk_queue *q = queue_new(4, 128, 0);
    uint32_t v = 0xC0FFEEu, out = 0;

    (void)state;
    CHECK_RC(rk_queue_push_spsc(q, &v, sizeof v, 0), 0);
    CHECK_RC(rk_queue_pop_spsc(q, &out, sizeof out, 0), 0);
    assert_int_equal(out, v);
    rk_queue_destroy(q);
}

/*
 * One region, formatted once, attached by a producer handle and a consumer handle (the way the host and
 * a GPU kernel share a ring). A handle attached later resumes at the current positions.
 */
static void shared_region_two_handles(void **state)
{
    size_t len;
    void *mem = region_new(8, 64, 0, &len);
    rk_queue p, c, c2;
    uint64_t pos;

    (void)state;
    CHECK_RC(rk_queue_attach(&p, mem, len), 0);
    CHECK_RC(rk_queue_attach(&c, mem, len), 0);
    for (uint64_t i = 0; i < 5; i++)
        push_seq(&p, i);
    assert_int_equal(rk_queue_size(&p), 5);
    assert_int_equal(rk_queue_size(&c), 5);
    pop_expect(&c, 0);
    pop_expect(&c, 1);
    assert_int_equal(rk_queue_size(&p), 3);
    /* A new consumer handle continues where the last one stopped. */
    CHECK_RC(rk_queue_attach(&c2, mem, len), 0);
    assert_int_equal(rk_queue_size(&c2), 3);
    pop_expect(&c2, 2);
    /* The producer sees the room freed through the other handle: 8 - 2 in flight. */
    CHECK_RC(rk_queue_reserve_spsc(&p, 8, &pos), 6);
    assert_int_equal(pos, 5);
    CHECK_RC(rk_queue_commit_spsc(&p, 0), 0);
    for (uint64_t i = 5; i < 30; i++) {
        push_seq(&p, i);
        pop_expect(&c2, i - 2);
    }
    /* A new producer handle continues at the current head. */
    {
        rk_queue p2;

        CHECK_RC(rk_queue_attach(&p2, mem, len), 0);
        CHECK_RC(rk_queue_reserve_spsc(&p2, 1, &pos), 1);
        assert_int_equal(pos, 30);
        CHECK_RC(rk_queue_commit_spsc(&p2, 0), 0);
    }
    free(mem);
}

static void shared_region_mpsc(void **state)
{
    size_t len;
    void *mem = region_new(8, 64, RK_QUEUE_MPSC, &len);
    rk_queue p1, p2, c;
    tmsg m;

    (void)state;
    CHECK_RC(rk_queue_attach(&p1, mem, len), 0);
    CHECK_RC(rk_queue_attach(&p2, mem, len), 0);
    CHECK_RC(rk_queue_attach(&c, mem, len), 0);
    for (uint64_t i = 0; i < 20; i++) {
        m = tmsg_make((uint32_t)(1 + i % 2), i);
        CHECK_RC(rk_queue_push_mpsc(i % 2 ? &p2 : &p1, &m, sizeof m, 0), 0);
        memset(&m, 0, sizeof m);
        CHECK_RC(rk_queue_pop_mpsc(&c, &m, sizeof m, 0), 0);
        assert_true(tmsg_ok(&m));
        assert_int_equal(m.seq, i);
        assert_int_equal(m.producer, 1 + i % 2);
    }
    free(mem);
}

static void queue_size_tracks_commits_and_releases(void **state)
{
    rk_queue *q = queue_new(8, 64, 0);
    uint64_t pos;

    (void)state;
    assert_int_equal(rk_queue_size(q), 0);
    CHECK_RC(rk_queue_reserve_spsc(q, 4, &pos), 4);
    assert_int_equal(rk_queue_size(q), 0); /* reserved is not published */
    CHECK_RC(rk_queue_commit_spsc(q, 4), 0);
    assert_int_equal(rk_queue_size(q), 4);
    CHECK_RC(rk_queue_peek_spsc(q, 4, &pos), 4);
    assert_int_equal(rk_queue_size(q), 4); /* peeked is not consumed */
    CHECK_RC(rk_queue_release_spsc(q, 3), 0);
    assert_int_equal(rk_queue_size(q), 1);
    rk_queue_destroy(q);
}

/* ---- MPSC functional -------------------------------------------------------------------------------- */

/* Slots claimed in order but committed out of order: the consumer sees none until the first is in. */
static void mpsc_out_of_order_commit(void **state)
{
    rk_queue *q = queue_new(8, 64, RK_QUEUE_MPSC);
    void *s[3];
    uint64_t p[3], pos;

    (void)state;
    for (int i = 0; i < 3; i++) {
        CHECK_RC(rk_queue_reserve_mpsc(q, &s[i], &p[i]), 0);
        assert_int_equal(p[i], (uint64_t)i);
        assert_ptr_equal(s[i], rk_queue_slot(q, p[i]));
        *(tmsg *)s[i] = tmsg_make(9, p[i]);
    }
    CHECK_RC(rk_queue_commit_mpsc(q, p[2]), 0);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 8, &pos), RK_EAGAIN);
    CHECK_RC(rk_queue_commit_mpsc(q, p[0]), 0);
    /* Stops at the first unpublished slot (1). */
    CHECK_RC(rk_queue_peek_mpsc(q, 8, &pos), 1);
    assert_int_equal(pos, 0);
    CHECK_RC(rk_queue_release_mpsc(q, 1), 0);
    EXPECT_FAIL(rk_queue_peek_mpsc(q, 8, &pos), RK_EAGAIN);
    CHECK_RC(rk_queue_commit_mpsc(q, p[1]), 0);
    CHECK_RC(rk_queue_peek_mpsc(q, 8, &pos), 2);
    assert_int_equal(pos, 1);
    for (uint64_t i = 0; i < 2; i++) {
        const tmsg *m = rk_queue_slot(q, pos + i);

        assert_true(tmsg_ok(m));
        assert_int_equal(m->seq, 1 + i);
    }
    CHECK_RC(rk_queue_release_mpsc(q, 2), 0);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

static void mpsc_fifo_wraparound(void **state)
{
    rk_queue *q = queue_new(4, 64, RK_QUEUE_MPSC);
    uint64_t next_push = 0, next_pop = 0, pos;

    (void)state;
    for (int round = 0; round < 30; round++) {
        int in = 1 + round % 4;

        for (int i = 0; i < in && next_push - next_pop < 4; i++) {
            tmsg m = tmsg_make(2, next_push++);

            CHECK_RC(rk_queue_push_mpsc(q, &m, sizeof m, 0), 0);
        }
        if (round % 2) {
            tmsg m;

            CHECK_RC(rk_queue_pop_mpsc(q, &m, sizeof m, 0), 0);
            assert_true(tmsg_ok(&m));
            assert_int_equal(m.seq, next_pop++);
        } else {
            int n = rk_queue_peek_mpsc(q, 4, &pos);

            assert_true(n >= 1);
            for (int k = 0; k < n; k++) {
                const tmsg *m = rk_queue_slot(q, pos + (uint64_t)k);

                assert_true(tmsg_ok(m));
                assert_int_equal(m->seq, next_pop++);
            }
            CHECK_RC(rk_queue_release_mpsc(q, (uint32_t)n), 0);
        }
    }
    assert_true(next_pop > 4 * 3);
    rk_queue_destroy(q);
}

/* ---- Concurrent runs: small enough for TSan ------------------------------------------------------------ */

#define SPSC_MSGS 1000000u
#define MPSC_PRODUCERS 4
#define MPSC_PER_PRODUCER 200000u
/* A stuck run fails after this instead of hanging the suite. */
#define STUCK_NS RK_TIMEOUT_MS(20000)

typedef struct spsc_run {
    rk_queue *prod;     /* producer handle */
    rk_queue *cons;     /* consumer handle (same region) */
    uint64_t count;
    int failed;         /* producer-side failure code */
} spsc_run;

/* Alternates reserve/commit batches (in place) and push_batch copies, with varying batch sizes. */
static void *spsc_producer(void *arg)
{
    spsc_run *r = arg;
    tmsg batch[32];
    uint64_t seq = 0;

    while (seq < r->count) {
        uint32_t want = (uint32_t)(1 + seq % 32), n;
        uint64_t pos;
        int rc;

        if (want > r->count - seq)
            want = (uint32_t)(r->count - seq);
        if ((seq / 32) % 2 == 0) {
            rc = rk_queue_reserve_wait_spsc(r->prod, want, &pos, STUCK_NS);
            if (rc < 0) {
                r->failed = rc;
                return NULL;
            }
            n = (uint32_t)rc;
            for (uint32_t i = 0; i < n; i++) {
                tmsg m = tmsg_make(1, seq + i);

                memcpy(rk_queue_slot(r->prod, pos + i), &m, sizeof m);
            }
            rc = rk_queue_commit_spsc(r->prod, n);
        } else {
            for (uint32_t i = 0; i < want; i++)
                batch[i] = tmsg_make(1, seq + i);
            rc = rk_queue_push_batch_spsc(r->prod, batch, sizeof batch[0], want, STUCK_NS);
            n = rc > 0 ? (uint32_t)rc : 0;
        }
        if (rc < 0) {
            r->failed = rc;
            return NULL;
        }
        seq += n;
    }
    return NULL;
}

static void spsc_concurrent_1m(void **state)
{
    size_t len;
    void *mem = region_new(256, 64, 0, &len);
    rk_queue p, c;
    spsc_run r = { &p, &c, SPSC_MSGS, 0 };
    pthread_t th;
    uint64_t expect = 0, bad = 0;
    int rc = 0;
    tmsg out[16];
    double t0 = now_s(CLOCK_MONOTONIC);

    (void)state;
    CHECK_RC(rk_queue_attach(&p, mem, len), 0);
    CHECK_RC(rk_queue_attach(&c, mem, len), 0);
    assert_int_equal(pthread_create(&th, NULL, spsc_producer, &r), 0);
    while (expect < r.count) {
        uint64_t pos;
        int n;

        if ((expect / 64) % 2 == 0) {
            n = rk_queue_peek_wait_spsc(&c, 64, &pos, STUCK_NS);
            if (n < 0) {
                rc = n;
                break;
            }
            for (int i = 0; i < n; i++) {
                const tmsg *m = rk_queue_slot(&c, pos + (uint64_t)i);

                bad += !tmsg_ok(m) || m->producer != 1 || m->seq != expect;
                expect++;
            }
            CHECK_RC(rk_queue_release_spsc(&c, (uint32_t)n), 0);
        } else {
            n = rk_queue_pop_batch_spsc(&c, out, sizeof out[0], 16, STUCK_NS);
            if (n < 0) {
                rc = n;
                break;
            }
            for (int i = 0; i < n; i++) {
                bad += !tmsg_ok(&out[i]) || out[i].producer != 1 || out[i].seq != expect;
                expect++;
            }
        }
    }
    pthread_join(th, NULL);
    print_message("      SPSC %llu msgs in %.2f s\n", (unsigned long long)expect, now_s(CLOCK_MONOTONIC) - t0);
    CHECK_RC(r.failed, 0);
    CHECK_RC(rc, 0);
    assert_int_equal(expect, r.count);
    assert_int_equal(bad, 0);
    assert_int_equal(rk_queue_size(&c), 0);
    free(mem);
}

typedef struct mpsc_run {
    rk_queue *q;
    uint32_t id;
    int failed;
} mpsc_run;

/* Producers alternate push_mpsc (copy) and reserve/commit (in place) on the shared handle. */
static void *mpsc_producer(void *arg)
{
    mpsc_run *r = arg;

    for (uint64_t seq = 0; seq < MPSC_PER_PRODUCER; seq++) {
        tmsg m = tmsg_make(r->id, seq);
        int rc;

        if (seq % 2) {
            rc = rk_queue_push_mpsc(r->q, &m, sizeof m, STUCK_NS);
        } else {
            void *slot;
            uint64_t pos;

            rc = rk_queue_reserve_wait_mpsc(r->q, &slot, &pos, STUCK_NS);
            if (rc == 0) {
                memcpy(slot, &m, sizeof m);
                rc = rk_queue_commit_mpsc(r->q, pos);
            }
        }
        if (rc != 0) {
            r->failed = rc;
            return NULL;
        }
    }
    return NULL;
}

static void mpsc_concurrent_4x200k(void **state)
{
    rk_queue *q = queue_new(256, 64, RK_QUEUE_MPSC);
    mpsc_run runs[MPSC_PRODUCERS];
    pthread_t th[MPSC_PRODUCERS];
    uint64_t next[MPSC_PRODUCERS + 1] = { 0 }, got = 0, bad = 0;
    const uint64_t total = (uint64_t)MPSC_PRODUCERS * MPSC_PER_PRODUCER;
    double t0 = now_s(CLOCK_MONOTONIC);

    (void)state;
    for (uint32_t i = 0; i < MPSC_PRODUCERS; i++) {
        runs[i] = (mpsc_run){ q, i + 1, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, mpsc_producer, &runs[i]), 0);
    }
    while (got < total) {
        uint64_t pos;
        int n = rk_queue_peek_wait_mpsc(q, 32, &pos, STUCK_NS);

        if (n < 0) {
            CHECK_RC(n, 0);
            break;
        }
        for (int i = 0; i < n; i++) {
            const tmsg *m = rk_queue_slot(q, pos + (uint64_t)i);

            if (!tmsg_ok(m) || m->producer < 1 || m->producer > MPSC_PRODUCERS || m->seq != next[m->producer]) {
                bad++;
            } else {
                next[m->producer]++;
            }
            got++;
        }
        CHECK_RC(rk_queue_release_mpsc(q, (uint32_t)n), 0);
        /* Also exercise the copying pop now and then. */
        if (got < total && got % 1024 < 32) {
            tmsg m;

            if (rk_queue_pop_mpsc(q, &m, sizeof m, 0) == 0) {
                if (!tmsg_ok(&m) || m.producer < 1 || m.producer > MPSC_PRODUCERS || m.seq != next[m.producer])
                    bad++;
                else
                    next[m.producer]++;
                got++;
            }
        }
    }
    for (int i = 0; i < MPSC_PRODUCERS; i++) {
        pthread_join(th[i], NULL);
        CHECK_RC(runs[i].failed, 0);
        assert_int_equal(next[i + 1], MPSC_PER_PRODUCER);
    }
    print_message("      MPSC %llu msgs in %.2f s\n", (unsigned long long)got, now_s(CLOCK_MONOTONIC) - t0);
    assert_int_equal(bad, 0);
    assert_int_equal(got, total);
    assert_int_equal(rk_queue_size(q), 0);
    rk_queue_destroy(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(region_size_valid),
        cmocka_unit_test(region_size_invalid),
        cmocka_unit_test(format_null_mem),
        cmocka_unit_test(format_misaligned),
        cmocka_unit_test(format_capacity_zero),
        cmocka_unit_test(format_capacity_one),
        cmocka_unit_test(format_capacity_three),
        cmocka_unit_test(format_capacity_too_large),
        cmocka_unit_test(format_slot_zero),
        cmocka_unit_test(format_slot_32),
        cmocka_unit_test(format_slot_48),
        cmocka_unit_test(format_slot_100),
        cmocka_unit_test(format_slot_too_large),
        cmocka_unit_test(format_unknown_flags),
        cmocka_unit_test(format_len_too_small),
        cmocka_unit_test(format_writes_header),
        cmocka_unit_test(attach_null_handle),
        cmocka_unit_test(attach_null_mem),
        cmocka_unit_test(attach_bad_magic),
        cmocka_unit_test(attach_abi_mismatch),
        cmocka_unit_test(attach_capacity_three),
        cmocka_unit_test(attach_capacity_zero),
        cmocka_unit_test(attach_capacity_huge),
        cmocka_unit_test(attach_mask_mismatch),
        cmocka_unit_test(attach_slot_100),
        cmocka_unit_test(attach_slot_huge),
        cmocka_unit_test(attach_unknown_flags),
        cmocka_unit_test(attach_slots_misaligned),
        cmocka_unit_test(attach_slots_past_region),
        cmocka_unit_test(attach_region_huge),
        cmocka_unit_test(attach_mpsc_no_seq),
        cmocka_unit_test(attach_len_too_small),
        cmocka_unit_test(attach_len_below_header),
        cmocka_unit_test(attach_reads_geometry),
        cmocka_unit_test(create_null_out),
        cmocka_unit_test(create_bad_capacity),
        cmocka_unit_test(create_bad_slot),
        cmocka_unit_test(create_bad_flags),
        cmocka_unit_test(create_destroy),
        cmocka_unit_test(spsc_reserve_zero),
        cmocka_unit_test(spsc_reserve_while_open),
        cmocka_unit_test(spsc_commit_more_than_reserved),
        cmocka_unit_test(spsc_commit_without_reserve),
        cmocka_unit_test(spsc_push_too_big),
        cmocka_unit_test(spsc_push_batch_stride_too_big),
        cmocka_unit_test(spsc_full_eagain),
        cmocka_unit_test(spsc_empty_eagain),
        cmocka_unit_test(spsc_peek_zero),
        cmocka_unit_test(spsc_peek_while_open),
        cmocka_unit_test(spsc_release_more_than_peeked),
        cmocka_unit_test(spsc_release_without_peek),
        cmocka_unit_test(spsc_call_on_mpsc),
        cmocka_unit_test(mpsc_reserve_on_spsc),
        cmocka_unit_test(mpsc_commit_on_spsc),
        cmocka_unit_test(mpsc_push_on_spsc),
        cmocka_unit_test(mpsc_peek_on_spsc),
        cmocka_unit_test(mpsc_pop_on_spsc),
        cmocka_unit_test(mpsc_push_too_big),
        cmocka_unit_test(mpsc_full_empty),
        cmocka_unit_test(mpsc_peek_zero_and_open),
        cmocka_unit_test(timeout_pop_spsc_sleeps),
        cmocka_unit_test(timeout_every_wait),
        cmocka_unit_test(wait_wakes_on_data),
        cmocka_unit_test(backoff_zero_times_out_at_once),
        cmocka_unit_test(backoff_infinite_never_times_out),
        cmocka_unit_test(backoff_deadline_and_cap),
        cmocka_unit_test(backoff_huge_timeout),
        cmocka_unit_test(monotonic_clock),
        cmocka_unit_test(spsc_fifo_wraparound),
        cmocka_unit_test(spsc_positions_cross_boundaries),
        cmocka_unit_test(spsc_batch_partial),
        cmocka_unit_test(spsc_commit_release_zero),
        cmocka_unit_test(spsc_zero_copy),
        cmocka_unit_test(spsc_push_pop_batch),
        cmocka_unit_test(spsc_pop_copies_min_of_cap_and_slot),
        cmocka_unit_test(spsc_push_short),
        cmocka_unit_test(shared_region_two_handles),
        cmocka_unit_test(shared_region_mpsc),
        cmocka_unit_test(queue_size_tracks_commits_and_releases),
        cmocka_unit_test(mpsc_out_of_order_commit),
        cmocka_unit_test(mpsc_fifo_wraparound),
        cmocka_unit_test(spsc_concurrent_1m),
        cmocka_unit_test(mpsc_concurrent_4x200k),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
