/* error_test.c - error codes, names, descriptions, and the per-thread last error.
 *
 * The table below is built from RK_ERRNO_MAP itself, so a code added to the list is covered without
 * touching this file. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/internal.h"
#include "ringkernel/error.h"

typedef struct code_entry {
    int value;
    const char *name; /* "RK_" #NAME */
    const char *desc;
} code_entry;

static const code_entry codes[] = {
#define XX(name, value, desc) { (value), "RK_" #name, (desc) },
    RK_ERRNO_MAP(XX)
#undef XX
};

#define NCODES (sizeof codes / sizeof codes[0])

static void test_codes_distinct_and_in_range(void **state)
{
    size_t i, j;
    int lowest = 0;

    (void)state;
    assert_true(NCODES > 0);
    for (i = 0; i < NCODES; i++) {
        /* Negative, and above the sentinel: a new code needs RK__ERR_MIN moved down with it. */
        assert_true(codes[i].value < 0);
        assert_true(codes[i].value > RK__ERR_MIN);
        if (codes[i].value < lowest)
            lowest = codes[i].value;
        for (j = i + 1; j < NCODES; j++) {
            if (codes[i].value == codes[j].value)
                fail_msg("%s and %s share the value %d", codes[i].name, codes[j].name, codes[i].value);
            if (strcmp(codes[i].name, codes[j].name) == 0)
                fail_msg("%s listed twice", codes[i].name);
        }
    }
    /* The sentinel is exactly one below the lowest code, so a range check against it is exact. */
    assert_int_equal(RK__ERR_MIN, lowest - 1);
}

static void test_names_and_descriptions(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < NCODES; i++) {
        const char *name = rk_err_name(codes[i].value), *desc = rk_strerror(codes[i].value);

        assert_non_null(name);
        assert_non_null(desc);
        assert_string_equal(name, codes[i].name);
        assert_string_equal(desc, codes[i].desc);
        assert_true(strlen(desc) > 0);
        assert_string_not_equal(desc, "unknown error");
        assert_string_not_equal(desc, "success");
        assert_string_not_equal(name, "RK_EUNKNOWN");
        /* Two codes with one description could not be told apart in a log. */
        for (j = i + 1; j < NCODES; j++)
            assert_string_not_equal(desc, rk_strerror(codes[j].value));
    }
}

static void test_ok(void **state)
{
    (void)state;
    assert_int_equal(RK_OK, 0);
    assert_string_equal(rk_err_name(0), "RK_OK");
    assert_string_equal(rk_strerror(0), "success");
}

static void test_unknown_codes(void **state)
{
    static const int unknown[] = { RK__ERR_MIN, RK__ERR_MIN - 1, 1, 14, 12345, -12345, INT_MAX, INT_MIN };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(rk_strerror(unknown[i]), "unknown error");
        assert_string_equal(rk_err_name(unknown[i]), "RK_EUNKNOWN");
    }
}

static void test_err_records_detail_and_code(void **state)
{
    (void)state;
    rk_clear_error();
    assert_int_equal(rk__err(RK_EINVAL, "rk_thing: capacity %u is not a power of two", 100u), RK_EINVAL);
    assert_int_equal(rk_last_error_code(), RK_EINVAL);
    assert_string_equal(rk_last_error(), "rk_thing: capacity 100 is not a power of two");
    /* A later failure replaces the earlier one. */
    rk__err(RK_ETIMEDOUT, "second");
    assert_int_equal(rk_last_error_code(), RK_ETIMEDOUT);
    assert_string_equal(rk_last_error(), "second");
}

static void test_err_detail_truncates(void **state)
{
    char longer[1024];

    (void)state;
    memset(longer, 'x', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    rk__err(RK_EIO, "%s", longer);
    /* Truncated to the buffer and terminated: no overflow (ASan would see one), no missing NUL. */
    assert_true(strlen(rk_last_error()) > 0);
    assert_true(strlen(rk_last_error()) < sizeof longer - 1);
    assert_int_equal(rk_last_error()[0], 'x');
}

static void test_clear_error(void **state)
{
    (void)state;
    rk__err(RK_ENOMEM, "out of it");
    rk_clear_error();
    assert_int_equal(rk_last_error_code(), 0);
    assert_non_null(rk_last_error());
    assert_string_equal(rk_last_error(), "");
}

/* The last error is per thread: a failure on one thread is invisible to another. */

typedef struct thread_view {
    int code_seen;
    char detail_seen[64];
} thread_view;

static void *other_thread(void *p)
{
    thread_view *v = p;

    v->code_seen = rk_last_error_code();
    rk__strlcpy(v->detail_seen, rk_last_error(), sizeof v->detail_seen);
    rk__err(RK_EFAULT, "raised on the other thread");
    return NULL;
}

static void test_last_error_is_thread_local(void **state)
{
    pthread_t t;
    thread_view v = { 12345, "unset" };

    (void)state;
    rk__err(RK_EBACKEND, "raised on the main thread");
    assert_int_equal(pthread_create(&t, NULL, other_thread, &v), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    /* The other thread started with a clean slate ... */
    assert_int_equal(v.code_seen, 0);
    assert_string_equal(v.detail_seen, "");
    /* ... and its own failure did not touch this thread's. */
    assert_int_equal(rk_last_error_code(), RK_EBACKEND);
    assert_string_equal(rk_last_error(), "raised on the main thread");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_distinct_and_in_range),
        cmocka_unit_test(test_names_and_descriptions),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_unknown_codes),
        cmocka_unit_test(test_err_records_detail_and_code),
        cmocka_unit_test(test_err_detail_truncates),
        cmocka_unit_test(test_clear_error),
        cmocka_unit_test(test_last_error_is_thread_local),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
