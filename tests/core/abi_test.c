/* abi_test.c - the host/device ABI at run time, complementing abi.h's static assertions.
 *
 * abi.h pins sizes and the offsets the other side relies on. This test pins every field's offset and size
 * from one table per struct, and checks what the static assertions do not: that the fields tile the struct
 * with no padding the compiler added on its own (the ABI rule is explicit padding only), the natural
 * alignment, the byte order of the magic numbers, and the address macros. That the header also compiles as
 * C++ and under nvcc is checked by the CUDA build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ringkernel/abi.h"

typedef struct field {
    const char *name;
    size_t offset;  /* offsetof, as compiled */
    size_t size;    /* sizeof the member, as compiled */
    size_t expect;  /* the offset the ABI promises */
    size_t esize;   /* the size the ABI promises */
} field;

#define F(type, member, off, sz) { #member, offsetof(type, member), sizeof(((type *)0)->member), (off), (sz) }

/* Checks each field's offset and size, and that consecutive fields leave no gap and the last one ends at
 * the end of the struct: no implicit padding anywhere. */
static void check_layout(const char *type, size_t type_size, const field *f, size_t n)
{
    size_t i, end = 0;

    for (i = 0; i < n; i++) {
        if (f[i].offset != f[i].expect || f[i].size != f[i].esize)
            fail_msg("%s.%s: offset %zu size %zu, the ABI says offset %zu size %zu", type, f[i].name, f[i].offset,
                     f[i].size, f[i].expect, f[i].esize);
        if (f[i].offset != end)
            fail_msg("%s.%s starts at %zu, the previous field ends at %zu (implicit padding)", type, f[i].name,
                     f[i].offset, end);
        end = f[i].offset + f[i].size;
    }
    if (end != type_size)
        fail_msg("%s: fields end at %zu, the struct is %zu bytes (implicit tail padding)", type, end, type_size);
}

static void test_hlc_ts_layout(void **state)
{
    static const field f[] = {
        F(rk_hlc_ts, physical, 0, 8),
        F(rk_hlc_ts, logical, 8, 4),
        F(rk_hlc_ts, node, 12, 4),
    };

    (void)state;
    assert_int_equal(sizeof(rk_hlc_ts), 16);
    assert_int_equal(_Alignof(rk_hlc_ts), 8);
    check_layout("rk_hlc_ts", sizeof(rk_hlc_ts), f, sizeof f / sizeof f[0]);
}

static void test_envelope_layout(void **state)
{
    static const field f[] = {
        F(rk_envelope, magic, 0, 2),
        F(rk_envelope, version, 2, 1),
        F(rk_envelope, flags, 3, 1),
        F(rk_envelope, payload_len, 4, 4),
        F(rk_envelope, type_id, 8, 8),
        F(rk_envelope, correlation_id, 16, 8),
        F(rk_envelope, source, 24, 8),
        F(rk_envelope, dest, 32, 8),
        F(rk_envelope, hlc, 40, 16),
        F(rk_envelope, seq, 56, 8),
    };

    (void)state;
    assert_int_equal(sizeof(rk_envelope), 64);
    assert_int_equal(RK_ENVELOPE_SIZE, sizeof(rk_envelope));
    assert_int_equal(_Alignof(rk_envelope), 8);
    check_layout("rk_envelope", sizeof(rk_envelope), f, sizeof f / sizeof f[0]);
    /* The payload follows in the same slot: an envelope-sized step keeps it 8-byte aligned. */
    assert_int_equal(RK_ENVELOPE_SIZE % _Alignof(rk_envelope), 0);
}

static void test_queue_header_layout(void **state)
{
    static const field f[] = {
        F(rk_queue_header, magic, 0, 4),
        F(rk_queue_header, abi_version, 4, 4),
        F(rk_queue_header, capacity, 8, 4),
        F(rk_queue_header, mask, 12, 4),
        F(rk_queue_header, slot_size, 16, 4),
        F(rk_queue_header, flags, 20, 4),
        F(rk_queue_header, seq_offset, 24, 8),
        F(rk_queue_header, slots_offset, 32, 8),
        F(rk_queue_header, region_size, 40, 8),
        F(rk_queue_header, pad0, 48, 80),
        F(rk_queue_header, head, 128, 8),
        F(rk_queue_header, pad1, 136, 120),
        F(rk_queue_header, tail, 256, 8),
        F(rk_queue_header, pad2, 264, 120),
    };

    (void)state;
    assert_int_equal(RK_CACHE_LINE, 128);
    assert_int_equal(sizeof(rk_queue_header), 384);
    assert_int_equal(_Alignof(rk_queue_header), 8);
    check_layout("rk_queue_header", sizeof(rk_queue_header), f, sizeof f / sizeof f[0]);
    /* head and tail each open their own 128-byte line, so the producer and the consumer never write the
     * same line (false sharing), and the slots after the header start on a line boundary too. */
    assert_int_equal(offsetof(rk_queue_header, head) % RK_CACHE_LINE, 0);
    assert_int_equal(offsetof(rk_queue_header, tail) % RK_CACHE_LINE, 0);
    assert_int_not_equal(offsetof(rk_queue_header, head) / RK_CACHE_LINE,
                         offsetof(rk_queue_header, tail) / RK_CACHE_LINE);
    assert_int_equal(sizeof(rk_queue_header) % RK_CACHE_LINE, 0);
}

static void test_control_block_layout(void **state)
{
    static const field f[] = {
        F(rk_control_block, magic, 0, 4),
        F(rk_control_block, abi_version, 4, 4),
        F(rk_control_block, state, 8, 4),
        F(rk_control_block, kernel_id, 12, 4),
        F(rk_control_block, terminate, 16, 4),
        F(rk_control_block, pause, 20, 4),
        F(rk_control_block, instances, 24, 4),
        F(rk_control_block, last_error, 28, 4),
        F(rk_control_block, heartbeat, 32, 8),
        F(rk_control_block, msgs_in, 40, 8),
        F(rk_control_block, msgs_out, 48, 8),
        F(rk_control_block, errors, 56, 8),
        F(rk_control_block, dropped, 64, 8),
        F(rk_control_block, h2k_offset, 72, 8),
        F(rk_control_block, k2h_offset, 80, 8),
        F(rk_control_block, last_hlc_physical, 88, 8),
        F(rk_control_block, last_hlc_logical, 96, 4),
        F(rk_control_block, reserved0, 100, 4),
        F(rk_control_block, k2k_in, 104, 8),
        F(rk_control_block, k2k_out, 112, 8),
        F(rk_control_block, reserved, 120, 8),
    };

    (void)state;
    assert_int_equal(sizeof(rk_control_block), 128);
    assert_int_equal(_Alignof(rk_control_block), 8);
    check_layout("rk_control_block", sizeof(rk_control_block), f, sizeof f / sizeof f[0]);
    /* 64-bit counters sit on 8-byte boundaries: the device reads and writes them in single accesses. */
    assert_int_equal(offsetof(rk_control_block, heartbeat) % 8, 0);
    assert_int_equal(offsetof(rk_control_block, last_hlc_physical) % 8, 0);
}

static void test_magic_byte_order(void **state)
{
    rk_envelope e;
    uint32_t w;
    unsigned char b[4];

    (void)state;
    /* The ABI is little-endian: the magic numbers read as text in memory, as a hex dump shows them. */
    memset(&e, 0, sizeof e);
    e.magic = RK_ENVELOPE_MAGIC;
    assert_memory_equal(&e, "RK", 2);
    w = RK_QUEUE_MAGIC;
    memcpy(b, &w, 4);
    assert_memory_equal(b, "RKQ1", 4);
    w = RK_CONTROL_MAGIC;
    memcpy(b, &w, 4);
    assert_memory_equal(b, "RKCB", 4);
    /* The envelope's version and flags are bytes; the ABI version must fit one. */
    assert_true(RK_ABI_VERSION >= 1 && RK_ABI_VERSION <= UINT8_MAX);
}

static void test_flags_and_states(void **state)
{
    static const unsigned env_flags[] = { RK_ENV_REQUEST, RK_ENV_REPLY, RK_ENV_ERROR, RK_ENV_SYSTEM };
    unsigned seen = 0;
    size_t i;

    (void)state;
    /* Envelope flags are distinct single bits that fit the 8-bit flags field. */
    for (i = 0; i < sizeof env_flags / sizeof env_flags[0]; i++) {
        assert_true(env_flags[i] != 0 && (env_flags[i] & (env_flags[i] - 1)) == 0);
        assert_true(env_flags[i] <= UINT8_MAX);
        assert_int_equal(seen & env_flags[i], 0);
        seen |= env_flags[i];
    }
    /* SPSC is the zero value, so a zeroed header is SPSC; MPSC is a bit. */
    assert_int_equal(RK_QUEUE_SPSC, 0);
    assert_int_equal(RK_QUEUE_MPSC, 1);
    /* States are stored in a uint32 and read by the device by number. */
    assert_int_equal(RK_STATE_INITIALIZING, 0);
    assert_int_equal(RK_STATE_RUNNING, 1);
    assert_int_equal(RK_STATE_PAUSED, 2);
    assert_int_equal(RK_STATE_DRAINING, 3);
    assert_int_equal(RK_STATE_STOPPED, 4);
    assert_int_equal(RK_STATE_FAILED, 5);
}

static void test_addr_round_trip(void **state)
{
    static const uint32_t values[] = { 0, 1, 2, 0x7fffffffu, 0x80000000u, 0xdeadbeefu, UINT32_MAX - 1, UINT32_MAX };
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof values / sizeof values[0]; i++) {
        for (j = 0; j < sizeof values / sizeof values[0]; j++) {
            rk_addr a = RK_ADDR(values[i], values[j]);

            assert_int_equal(RK_ADDR_KERNEL(a), values[i]);
            assert_int_equal(RK_ADDR_INSTANCE(a), values[j]);
            assert_int_equal(a, ((uint64_t)values[i] << 32) | values[j]);
        }
    }
    assert_int_equal(RK_ADDR(0, 0), RK_ADDR_HOST);
    assert_int_equal(RK_ADDR_KERNEL(RK_ADDR_HOST), 0);
    assert_int_equal(RK_ADDR_INSTANCE(RK_ADDR_HOST), 0);
    /* Arguments are taken as 32-bit: a wider or negative value cannot spill into the other half. */
    assert_int_equal(RK_ADDR(0x100000005ull, 7), RK_ADDR(5, 7));
    assert_int_equal(RK_ADDR(3, 0x100000009ull), RK_ADDR(3, 9));
    assert_int_equal(RK_ADDR(-1, 0), (uint64_t)UINT32_MAX << 32);
    assert_int_equal(RK_ADDR(0, -1), (uint64_t)UINT32_MAX);
    /* An address is one 64-bit word: kernel in the high half. */
    assert_int_equal(sizeof(rk_addr), 8);
    assert_true(RK_ADDR(1, 0) > RK_ADDR(0, UINT32_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hlc_ts_layout),
        cmocka_unit_test(test_envelope_layout),
        cmocka_unit_test(test_queue_header_layout),
        cmocka_unit_test(test_control_block_layout),
        cmocka_unit_test(test_magic_byte_order),
        cmocka_unit_test(test_flags_and_states),
        cmocka_unit_test(test_addr_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
