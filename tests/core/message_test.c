/* message_test.c - type ids, envelope initialisation and checks, payload checks, correlation ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ringkernel/message.h"

static void assert_failed_with(int rc, int code, const char *detail)
{
    assert_int_equal(rc, code);
    assert_int_equal(rk_last_error_code(), code);
    assert_non_null(strstr(rk_last_error(), detail));
}

/* ------------------------------------------------------------------------------------------------ */
/* Type ids: FNV-1a 64, pinned against the published test vectors so the host and device functions   */
/* (and every build of them) agree forever.                                                          */
/* ------------------------------------------------------------------------------------------------ */

static void test_type_id_fnv1a_vectors(void **state)
{
    (void)state;
    assert_int_equal(rk_type_id(""), 0xcbf29ce484222325ull);
    assert_int_equal(rk_type_id("a"), 0xaf63dc4c8601ec8cull);
    assert_int_equal(rk_type_id("foobar"), 0x85944171f73967e8ull);
}

static void test_type_id_macro_stringifies(void **state)
{
    (void)state;
    assert_int_equal(RK_TYPE_ID(a), 0xaf63dc4c8601ec8cull);
    assert_int_equal(RK_TYPE_ID(foobar), 0x85944171f73967e8ull);
    assert_int_equal(RK_TYPE_ID(order_request), rk_type_id("order_request"));
    /* Bytes above 0x7f hash as unsigned bytes on every platform, whatever the signedness of char. */
    assert_int_equal(rk_type_id("\xff"), (0xcbf29ce484222325ull ^ 0xffull) * 0x100000001b3ull);
    assert_true(RK_TYPE_ID(ping) != RK_TYPE_ID(pong));
}

/* ------------------------------------------------------------------------------------------------ */
/* Envelopes.                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

static void test_envelope_init(void **state)
{
    rk_envelope e, zero;

    (void)state;
    memset(&e, 0xab, sizeof e);
    assert_int_equal(rk_envelope_init(&e, 0x1122334455667788ull, 40), 0);
    assert_int_equal(e.magic, RK_ENVELOPE_MAGIC);
    assert_int_equal(e.version, RK_ABI_VERSION);
    assert_int_equal(e.type_id, 0x1122334455667788ull);
    assert_int_equal(e.payload_len, 40);
    /* Every other byte is zero: compare with an envelope holding only those four fields. */
    memset(&zero, 0, sizeof zero);
    zero.magic = RK_ENVELOPE_MAGIC;
    zero.version = RK_ABI_VERSION;
    zero.type_id = 0x1122334455667788ull;
    zero.payload_len = 40;
    assert_memory_equal(&e, &zero, sizeof e);
    assert_int_equal(rk_envelope_check(&e, 128), 0);
}

static void test_envelope_init_null(void **state)
{
    (void)state;
    assert_failed_with(rk_envelope_init(NULL, 1, 0), RK_EINVAL, "rk_envelope_init");
}

static void test_envelope_check_null(void **state)
{
    (void)state;
    assert_failed_with(rk_envelope_check(NULL, 128), RK_EINVAL, "rk_envelope_check");
}

static void test_envelope_check_bad_magic(void **state)
{
    rk_envelope e;

    (void)state;
    rk_envelope_init(&e, 1, 0);
    e.magic = 0x4B53;
    assert_failed_with(rk_envelope_check(&e, 128), RK_ECORRUPT, "0x4b53");
    /* A zeroed slot (never written) is corrupt too, whatever else is wrong with it. */
    memset(&e, 0, sizeof e);
    e.payload_len = 1u << 30;
    assert_failed_with(rk_envelope_check(&e, 128), RK_ECORRUPT, "magic");
}

static void test_envelope_check_bad_version(void **state)
{
    rk_envelope e;

    (void)state;
    rk_envelope_init(&e, 1, 0);
    e.version = RK_ABI_VERSION + 1;
    assert_failed_with(rk_envelope_check(&e, 128), RK_EABI, "version");
    e.version = 0;
    assert_failed_with(rk_envelope_check(&e, 128), RK_EABI, "version");
}

static void test_envelope_check_payload_size(void **state)
{
    rk_envelope e;

    (void)state;
    rk_envelope_init(&e, 1, 64);
    assert_int_equal(rk_envelope_check(&e, 128), 0); /* exactly fills the slot */
    e.payload_len = 65;
    assert_failed_with(rk_envelope_check(&e, 128), RK_EMSGSIZE, "65");
    assert_non_null(strstr(rk_last_error(), "128"));
    e.payload_len = UINT32_MAX;
    assert_failed_with(rk_envelope_check(&e, 4096), RK_EMSGSIZE, "4096");
    e.payload_len = 0;
    assert_int_equal(rk_envelope_check(&e, RK_ENVELOPE_SIZE), 0);
    /* A slot smaller than the envelope holds no message, not even an empty one. */
    assert_failed_with(rk_envelope_check(&e, RK_ENVELOPE_SIZE - 1), RK_EMSGSIZE, "63");
    assert_failed_with(rk_envelope_check(&e, 0), RK_EMSGSIZE, "rk_envelope_check");
}

static void test_payload_check(void **state)
{
    (void)state;
    assert_int_equal(rk_payload_check(0, 64), 0);
    assert_int_equal(rk_payload_check(64, 128), 0);
    assert_int_equal(rk_payload_check(65536 - 64, 65536), 0);
    assert_failed_with(rk_payload_check(65, 128), RK_EMSGSIZE, "65");
    /* The detail names the payload, the slot and the room left after the envelope. */
    assert_non_null(strstr(rk_last_error(), "128"));
    assert_non_null(strstr(rk_last_error(), "64"));
    /* Lengths beyond 32 bits are rejected, not truncated. */
    assert_failed_with(rk_payload_check((size_t)UINT32_MAX + 1 + 16, 1u << 31), RK_EMSGSIZE, "4294967312");
    assert_failed_with(rk_payload_check(0, 32), RK_EMSGSIZE, "32");
}

static void test_payload_max_and_pointer(void **state)
{
    rk_envelope slot[4]; /* 256 bytes, suitably aligned */

    (void)state;
    assert_int_equal(rk_payload_max(0), 0);
    assert_int_equal(rk_payload_max(RK_ENVELOPE_SIZE), 0);
    assert_int_equal(rk_payload_max(RK_ENVELOPE_SIZE + 1), 1);
    assert_int_equal(rk_payload_max(4096), 4096 - 64);
    assert_ptr_equal(rk_envelope_payload(&slot[0]), (uint8_t *)slot + 64);
    assert_ptr_equal(rk_envelope_payload_const(&slot[0]), (const uint8_t *)slot + 64);
}

/* ------------------------------------------------------------------------------------------------ */
/* Correlation ids.                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

#define CORR_THREADS 4
#define CORR_IDS 100000

typedef struct corr_arg {
    uint64_t *ids;
    pthread_barrier_t *start;
} corr_arg;

static void *corr_worker(void *p)
{
    corr_arg *a = p;
    int i;

    pthread_barrier_wait(a->start);
    for (i = 0; i < CORR_IDS; i++)
        a->ids[i] = rk_correlation_next();
    return NULL;
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void test_correlation_single_thread(void **state)
{
    uint64_t prev = rk_correlation_next(), id;
    int i;

    (void)state;
    assert_true(prev != 0);
    /* Bit 63 stays clear, so the counter has room for 2^63 ids before it could wrap to 0. */
    assert_true(prev < (1ull << 63));
    for (i = 0; i < 1000; i++) {
        id = rk_correlation_next();
        assert_true(id > prev);
        prev = id;
    }
}

static void test_correlation_threads(void **state)
{
    pthread_t threads[CORR_THREADS];
    corr_arg args[CORR_THREADS];
    pthread_barrier_t start;
    uint64_t *all = malloc(sizeof *all * CORR_THREADS * CORR_IDS), before, after;
    size_t i, n = (size_t)CORR_THREADS * CORR_IDS;
    int t;

    (void)state;
    assert_non_null(all);
    before = rk_correlation_next();
    assert_int_equal(pthread_barrier_init(&start, NULL, CORR_THREADS), 0);
    for (t = 0; t < CORR_THREADS; t++) {
        args[t] = (corr_arg){ .ids = all + (size_t)t * CORR_IDS, .start = &start };
        assert_int_equal(pthread_create(&threads[t], NULL, corr_worker, &args[t]), 0);
    }
    for (t = 0; t < CORR_THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    pthread_barrier_destroy(&start);
    after = rk_correlation_next();

    /* Per thread: non-zero and strictly increasing. */
    for (t = 0; t < CORR_THREADS; t++) {
        const uint64_t *ids = args[t].ids;

        for (i = 0; i < CORR_IDS; i++) {
            assert_true(ids[i] != 0);
            if (i > 0 && ids[i] <= ids[i - 1])
                fail_msg("thread %d: id %zu (%llu) not above id %zu (%llu)", t, i, (unsigned long long)ids[i],
                         i - 1, (unsigned long long)ids[i - 1]);
        }
    }
    /* Across threads: all distinct, and ordered with the calls made before and after them. */
    qsort(all, n, sizeof *all, u64_cmp);
    for (i = 1; i < n; i++)
        if (all[i] == all[i - 1])
            fail_msg("duplicate correlation id %llu", (unsigned long long)all[i]);
    assert_true(all[0] > before);
    assert_true(all[n - 1] < after);
    free(all);
}

static void test_correlation_fork_reseeds(void **state)
{
    int fds[2], status;
    uint64_t parent_before, parent_after, child_id = 0;
    pid_t pid;

    (void)state;
    parent_before = rk_correlation_next();
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint64_t id = rk_correlation_next();

        _exit(write(fds[1], &id, sizeof id) == (ssize_t)sizeof id ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &child_id, sizeof child_id), (ssize_t)sizeof child_id);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    parent_after = rk_correlation_next();

    /* The parent's sequence is untouched; the child did not continue it (it would have issued
     * parent_before + 1, the id the parent then issues itself) but started from its own base. */
    assert_int_equal(parent_after, parent_before + 1);
    assert_true(child_id != 0);
    assert_true(child_id != parent_after);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_id_fnv1a_vectors),
        cmocka_unit_test(test_type_id_macro_stringifies),
        cmocka_unit_test(test_envelope_init),
        cmocka_unit_test(test_envelope_init_null),
        cmocka_unit_test(test_envelope_check_null),
        cmocka_unit_test(test_envelope_check_bad_magic),
        cmocka_unit_test(test_envelope_check_bad_version),
        cmocka_unit_test(test_envelope_check_payload_size),
        cmocka_unit_test(test_payload_check),
        cmocka_unit_test(test_payload_max_and_pointer),
        cmocka_unit_test(test_correlation_single_thread),
        cmocka_unit_test(test_correlation_threads),
        cmocka_unit_test(test_correlation_fork_reseeds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
