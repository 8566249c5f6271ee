/* topic_test.c - topic names, filters and the subscription trie (topic.h).
 *
 * Three layers of checks:
 *   - a table of (filter, topic, expected) cases, each run through rk_topic_match and through a trie that
 *     holds that one filter, so the reference and the trie are pinned to the same MQTT semantics;
 *   - tables of invalid filters and names, each expecting RK_EINVAL with a detail naming the problem;
 *   - an independent reference matcher written here from MQTT 3.1.1 section 4.7 (ref_match: levels split
 *     once, compared one by one), which must agree with the table, with rk_topic_match on random pairs and
 *     on '+' in every position of a five-level topic;
 *   - a randomized comparison (fixed seed) of trie lookups against a brute-force scan of every subscription
 *     with ref_match, while subscriptions come and go, ending with an empty, fully pruned tree.
 * Plus the edge cases of the API (duplicates, absent entries, short buffers, deduplication, limits) and a
 * concurrent read-only run for TSan. Label `unit`: also run under ASan+UBSan and TSan, a few seconds each.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mix64.h"
#include "ringkernel/topic.h"

/* ---- Helpers -------------------------------------------------------------------------------------- */

/* Fails unless rc is RK_EINVAL and the thread's last error records it with a detail containing `part`. */
#define EXPECT_EINVAL(call, part) expect_einval((rk_clear_error(), (call)), (part), #call, __LINE__)

static void expect_einval(int rc, const char *part, const char *expr, int line)
{
    if (rc == RK_EINVAL && rk_last_error_code() == RK_EINVAL && strstr(rk_last_error(), part) != NULL)
        return;
    print_error("line %d: %s returned %s, last error %s \"%s\"; expected RK_EINVAL with \"%s\"\n", line, expr,
                rk_err_name(rc), rk_err_name(rk_last_error_code()), rk_last_error(), part);
    _fail(__FILE__, line);
}

static rk_topic_tree *tree_new(void)
{
    rk_topic_tree *t = NULL;

    assert_int_equal(rk_topic_tree_create(&t), 0);
    assert_non_null(t);
    assert_int_equal(rk_topic_tree_count(t), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    return t;
}

/* splitmix64: a fixed seed gives the same run everywhere. */
static uint64_t rng_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ull;
    return mix64(*s);
}

static int u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* ---- The reference matcher ---------------------------------------------------------------------------- */

/* Splits s on '/' into at most RK_TOPIC_MAX_LEVELS (start, length) levels; returns the count. */
static int ref_split(const char *s, const char *lv[], size_t len[])
{
    int n = 0;

    for (;;) {
        const char *slash = strchr(s, '/');
        size_t l = slash ? (size_t)(slash - s) : strlen(s);

        if (n == RK_TOPIC_MAX_LEVELS)
            return -1;
        lv[n] = s;
        len[n++] = l;
        if (slash == NULL)
            return n;
        s = slash + 1;
    }
}

/*
 * MQTT 3.1.1 section 4.7, level by level, for a valid filter and topic: '#' matches the rest (zero or more
 * levels, so "a/#" matches "a"), '+' exactly one level (empty included), other levels byte for byte, and a
 * wildcard in the first level never matches a topic starting with '$' (4.7.2). Written apart from topic.c
 * on purpose: it shares no code with the library.
 */
static int ref_match(const char *filter, const char *topic)
{
    const char *fl[RK_TOPIC_MAX_LEVELS], *tl[RK_TOPIC_MAX_LEVELS];
    size_t flen[RK_TOPIC_MAX_LEVELS], tlen[RK_TOPIC_MAX_LEVELS];
    int nf = ref_split(filter, fl, flen), nt = ref_split(topic, tl, tlen);

    assert_true(nf > 0 && nt > 0);
    if (topic[0] == '$' && (filter[0] == '+' || filter[0] == '#'))
        return 0;
    for (int i = 0; i < nf; i++) {
        if (flen[i] == 1 && fl[i][0] == '#')
            return 1;
        if (i == nt)
            return 0;
        if (flen[i] == 1 && fl[i][0] == '+')
            continue;
        if (flen[i] != tlen[i] || memcmp(fl[i], tl[i], flen[i]) != 0)
            return 0;
    }
    return nf == nt;
}

/* ---- The semantics table ------------------------------------------------------------------------------ */

typedef struct match_case {
    const char *filter;
    const char *topic;
    int match;
} match_case;

static const match_case match_cases[] = {
    /* Exact. */
    { "a", "a", 1 },
    { "a/b/c", "a/b/c", 1 },
    { "a/b/c", "a/b", 0 },
    { "a/b", "a/b/c", 0 },
    { "a/b", "a/bc", 0 },
    { "a/bc", "a/b", 0 },
    { "ab", "a", 0 },
    { "a", "ab", 0 },
    { "a/b", "a/c", 0 },
    { "sport/tennis/player1", "sport/tennis/player1", 1 },
    /* Case and bytes. */
    { "A", "a", 0 },
    { "a/B", "a/b", 0 },
    { "Sport", "Sport", 1 },
    { "caf\xc3\xa9", "caf\xc3\xa9", 1 },
    { "caf\xc3\xa9", "cafe", 0 },
    { " ", " ", 1 },
    { "a b", "a b", 1 },
    /* '#' at the root. */
    { "#", "a", 1 },
    { "#", "a/b/c", 1 },
    { "#", "/", 1 },
    { "#", "/a", 1 },
    { "#", "a/", 1 },
    /* '#' after levels: zero or more levels, "a/#" also matches "a". */
    { "a/#", "a", 1 },
    { "a/#", "a/", 1 },
    { "a/#", "a/b", 1 },
    { "a/#", "a/b/c/d", 1 },
    { "a/#", "b", 0 },
    { "a/#", "ab", 0 },
    { "a/#", "b/a", 0 },
    { "a/b/#", "a", 0 },
    { "a/b/#", "a/b", 1 },
    { "a/b/#", "a/bc/d", 0 },
    { "sport/tennis/player1/#", "sport/tennis/player1/ranking", 1 },
    { "sport/#", "sport", 1 },
    /* '+' first, middle, last. */
    { "+", "a", 1 },
    { "+", "a/b", 0 },
    { "+", "/", 0 },
    { "+/b", "a/b", 1 },
    { "+/b", "a/c", 0 },
    { "+/b", "b", 0 },
    { "a/+/c", "a/b/c", 1 },
    { "a/+/c", "a/b/d", 0 },
    { "a/+/c", "a/b/c/d", 0 },
    { "a/+/c", "a/c", 0 },
    { "a/+", "a/b", 1 },
    { "a/+", "a", 0 },
    { "a/+", "a/b/c", 0 },
    /* Several '+'. */
    { "+/+", "a", 0 },
    { "+/+", "a/b", 1 },
    { "+/+", "a/b/c", 0 },
    { "+/+", "/", 1 },
    { "+/+/+", "a/b/c", 1 },
    { "+/b/+", "a/b/c", 1 },
    { "+/b/+", "a/x/c", 0 },
    { "+/+/#", "a", 0 },
    { "+/+/#", "a/b", 1 },
    { "+/#", "a", 1 },
    { "a/+/#", "a/b/c/d", 1 },
    { "a/+/#", "a", 0 },
    { "a/+/#", "a/b", 1 },
    /* Empty levels. */
    { "a//b", "a//b", 1 },
    { "a//b", "a/b", 0 },
    { "a/+/b", "a//b", 1 },
    { "/a", "/a", 1 },
    { "/a", "a", 0 },
    { "+/a", "/a", 1 },
    { "/+", "/a", 1 },
    { "/+", "/", 1 },
    { "a/", "a/", 1 },
    { "a/", "a", 0 },
    { "a/+", "a/", 1 },
    { "a", "a/", 0 },
    { "/", "/", 1 },
    { "//", "//", 1 },
    { "+/+/+", "//", 1 },
    { "/#", "/", 1 },
    { "/#", "a", 0 },
    /* System topics: no wildcard in the first level matches a '$' topic. */
    { "#", "$SYS", 0 },
    { "#", "$SYS/x", 0 },
    { "+", "$SYS", 0 },
    { "+/x", "$SYS/x", 0 },
    { "+/#", "$SYS/x", 0 },
    { "$SYS/#", "$SYS/x", 1 },
    { "$SYS/#", "$SYS", 1 },
    { "$SYS/#", "$SYS/a/b", 1 },
    { "$SYS/+", "$SYS/x", 1 },
    { "$SYS/+", "$SYS", 0 },
    { "$SYS/x", "$SYS/x", 1 },
    { "$SYS", "$SYS", 1 },
    { "$SYS/#", "$SYSX/a", 0 },
    { "#", "$", 0 },
    { "$", "$", 1 },
    { "#", "a/$SYS", 1 },
    { "a/+", "a/$x", 1 },
    { "#", "x$", 1 },
    { "$SYS/monitor/+", "$SYS/monitor/Clients", 1 },
};

/* The case through the reference and through a trie holding only its filter. */
static void check_case(const match_case *c)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[2] = { 0, 0 };
    int got = rk_topic_match(c->filter, c->topic);

    if (ref_match(c->filter, c->topic) != c->match)
        fail_msg("ref_match(\"%s\", \"%s\") disagrees with the table", c->filter, c->topic);
    if (got != c->match)
        fail_msg("rk_topic_match(\"%s\", \"%s\") = %d, expected %d", c->filter, c->topic, got, c->match);
    assert_int_equal(rk_topic_subscribe(t, c->filter, 0xfeedull), 0);
    got = rk_topic_lookup(t, c->topic, out, 2);
    if (got != c->match || (got == 1 && out[0] != 0xfeedull))
        fail_msg("trie with \"%s\", lookup \"%s\" = %d, expected %d", c->filter, c->topic, got, c->match);
    assert_int_equal(rk_topic_unsubscribe(t, c->filter, 0xfeedull), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    rk_topic_tree_destroy(t);
}

static void match_table(void **state)
{
    size_t n = sizeof match_cases / sizeof match_cases[0];

    (void)state;
    assert_true(n >= 60);
    for (size_t i = 0; i < n; i++)
        check_case(&match_cases[i]);
}

/* The whole table in one trie: a topic's lookup must return exactly the cases that match it. */
static void match_table_one_trie(void **state)
{
    size_t n = sizeof match_cases / sizeof match_cases[0];
    rk_topic_tree *t = tree_new();
    uint64_t out[128];

    (void)state;
    assert_true(n <= 128);
    for (size_t i = 0; i < n; i++) {
        int rc = rk_topic_subscribe(t, match_cases[i].filter, i);

        assert_int_equal(rc, 0); /* ids differ, so no pair repeats even where filters do */
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t want[128];
        int nw = 0, got = rk_topic_lookup(t, match_cases[i].topic, out, 128);

        for (size_t j = 0; j < n; j++) {
            if (rk_topic_match(match_cases[j].filter, match_cases[i].topic) == 1)
                want[nw++] = j;
        }
        assert_int_equal(got, nw);
        assert_memory_equal(out, want, (size_t)nw * sizeof *out); /* both ascending */
    }
    rk_topic_tree_destroy(t);
}

/* ---- Invalid filters and names --------------------------------------------------------------------- */

typedef struct bad_case {
    const char *s;
    const char *detail; /* a part of rk_last_error() */
} bad_case;

static const bad_case bad_filters[] = {
    { "a/#/b", "'#' at offset 2 must be the last level" },
    { "#/", "'#' at offset 0 must be the last level" },
    { "#/a", "'#' at offset 0 must be the last level" },
    { "a#", "'#' at offset 1 must fill a whole level" },
    { "#a", "'#' at offset 0 must fill a whole level" },
    { "a/b#", "'#' at offset 3 must fill a whole level" },
    { "a/#b", "'#' at offset 2 must fill a whole level" },
    { "a+", "'+' at offset 1 must fill a whole level" },
    { "+a", "'+' at offset 0 must fill a whole level" },
    { "a/+b", "'+' at offset 2 must fill a whole level" },
    { "a/b+/c", "'+' at offset 3 must fill a whole level" },
    { "++", "'+' at offset 0 must fill a whole level" },
    { "##", "'#' at offset 0 must fill a whole level" },
    { "+#", "'+' at offset 0 must fill a whole level" },
    { "", "is empty" },
};

static const bad_case bad_names[] = {
    { "+", "wildcard '+' at offset 0 is not allowed" },
    { "#", "wildcard '#' at offset 0 is not allowed" },
    { "a/+", "wildcard '+' at offset 2 is not allowed" },
    { "a/#", "wildcard '#' at offset 2 is not allowed" },
    { "a+b", "wildcard '+' at offset 1 is not allowed" },
    { "a/b#", "wildcard '#' at offset 3 is not allowed" },
    { "$SYS/#", "wildcard '#' at offset 5 is not allowed" },
    { "", "is empty" },
};

/* An invalid filter is refused by every entry point, and a refused subscribe changes nothing. */
static void check_bad_filter(rk_topic_tree *t, const char *f, const char *detail)
{
    size_t count = rk_topic_tree_count(t), nodes = rk_topic_tree_nodes(t);

    EXPECT_EINVAL(rk_topic_validate_filter(f), detail);
    EXPECT_EINVAL(rk_topic_match(f, "a"), detail);
    EXPECT_EINVAL(rk_topic_subscribe(t, f, 1), detail);
    EXPECT_EINVAL(rk_topic_unsubscribe(t, f, 1), detail);
    assert_int_equal(rk_topic_tree_count(t), count);
    assert_int_equal(rk_topic_tree_nodes(t), nodes);
}

/* An invalid name is refused by validation, matching and lookup (a publish with a wildcard). */
static void check_bad_name(rk_topic_tree *t, const char *s, const char *detail)
{
    uint64_t out[4];

    EXPECT_EINVAL(rk_topic_validate_name(s), detail);
    EXPECT_EINVAL(rk_topic_match("#", s), detail);
    EXPECT_EINVAL(rk_topic_lookup(t, s, out, 4), detail);
}

static void invalid_filters(void **state)
{
    rk_topic_tree *t = tree_new();

    (void)state;
    assert_int_equal(rk_topic_subscribe(t, "a/b", 1), 0); /* a non-empty tree must stay as it is */
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++)
        check_bad_filter(t, bad_filters[i].s, bad_filters[i].detail);
    check_bad_filter(t, NULL, "filter is NULL");
    /* Each entry point names itself. */
    EXPECT_EINVAL(rk_topic_subscribe(t, "a#", 1), "rk_topic_subscribe: filter \"a#\"");
    EXPECT_EINVAL(rk_topic_match("a#", "a"), "rk_topic_match: filter \"a#\"");
    EXPECT_EINVAL(rk_topic_validate_filter("a#"), "rk_topic_validate_filter: filter \"a#\"");
    rk_topic_tree_destroy(t);
}

static void invalid_names(void **state)
{
    rk_topic_tree *t = tree_new();

    (void)state;
    assert_int_equal(rk_topic_subscribe(t, "#", 1), 0);
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        check_bad_name(t, bad_names[i].s, bad_names[i].detail);
    check_bad_name(t, NULL, "topic is NULL");
    EXPECT_EINVAL(rk_topic_lookup(t, "a/+", NULL, 0), "rk_topic_lookup: topic \"a/+\"");
    rk_topic_tree_destroy(t);
}

/* ---- Limits: length and levels ---------------------------------------------------------------------- */

/* A string of n copies of `unit` (one or two bytes), without the trailing '/' of the last one. */
static void repeat(char *buf, size_t cap, const char *unit, size_t n)
{
    size_t u = strlen(unit), len = 0;

    for (size_t i = 0; i < n; i++) {
        assert_true(len + u < cap);
        memcpy(buf + len, unit, u);
        len += u;
    }
    if (len > 0 && buf[len - 1] == '/')
        len--;
    buf[len] = '\0';
}

static void length_limit(void **state)
{
    char s[RK_TOPIC_MAX_LEN + 8];
    rk_topic_tree *t = tree_new();
    uint64_t out[1];

    (void)state;
    repeat(s, sizeof s, "x", RK_TOPIC_MAX_LEN); /* one level of 256 bytes: valid */
    assert_int_equal(rk_topic_validate_filter(s), 0);
    assert_int_equal(rk_topic_validate_name(s), 0);
    assert_int_equal(rk_topic_match(s, s), 1);
    assert_int_equal(rk_topic_match("#", s), 1);
    assert_int_equal(rk_topic_match("+", s), 1);
    assert_int_equal(rk_topic_subscribe(t, s, 9), 0);
    assert_int_equal(rk_topic_lookup(t, s, out, 1), 1);
    assert_int_equal(out[0], 9);
    s[RK_TOPIC_MAX_LEN - 1] = 'y'; /* differs in the last byte only */
    assert_int_equal(rk_topic_match(s, s), 1);
    assert_int_equal(rk_topic_lookup(t, s, out, 1), 0);
    repeat(s, sizeof s, "x", RK_TOPIC_MAX_LEN + 1);
    check_bad_filter(t, s, "longer than 256 bytes");
    check_bad_name(t, s, "longer than 256 bytes");
    EXPECT_EINVAL(rk_topic_validate_name(s), "...\": longer"); /* the quote is cut, and says so */
    rk_topic_tree_destroy(t);
}

static void level_limit(void **state)
{
    char f[RK_TOPIC_MAX_LEN + 8], n[RK_TOPIC_MAX_LEN + 8];
    rk_topic_tree *t = tree_new();
    uint64_t out[1];

    (void)state;
    repeat(f, sizeof f, "+/", RK_TOPIC_MAX_LEVELS);
    repeat(n, sizeof n, "a/", RK_TOPIC_MAX_LEVELS);
    assert_int_equal(rk_topic_validate_filter(f), 0);
    assert_int_equal(rk_topic_validate_name(n), 0);
    assert_int_equal(rk_topic_match(f, n), 1);
    assert_int_equal(rk_topic_match(n, n), 1);
    assert_int_equal(rk_topic_subscribe(t, f, 1), 0);
    assert_int_equal(rk_topic_subscribe(t, n, 2), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1 + 2 * RK_TOPIC_MAX_LEVELS);
    assert_int_equal(rk_topic_lookup(t, n, out, 1), 2);
    /* 31 '/' make 32 empty levels: valid; 32 make 33. */
    repeat(n, sizeof n, "/", RK_TOPIC_MAX_LEVELS);
    assert_int_equal(strlen(n), RK_TOPIC_MAX_LEVELS - 1);
    assert_int_equal(rk_topic_validate_name(n), 0);
    assert_int_equal(rk_topic_lookup(t, n, out, 1), 1);
    strcat(n, "/");
    check_bad_name(t, n, "more than 32 levels (level 33 starts at offset 32)");
    /* 31 levels and a '#': 32 levels, valid, and it matches 32 levels and 31 levels. */
    repeat(f, sizeof f, "+/", RK_TOPIC_MAX_LEVELS - 1);
    strcat(f, "/#");
    assert_int_equal(rk_topic_validate_filter(f), 0);
    assert_int_equal(rk_topic_subscribe(t, f, 3), 0);
    repeat(n, sizeof n, "b/", RK_TOPIC_MAX_LEVELS);
    assert_int_equal(rk_topic_lookup(t, n, out, 1), 2); /* ids 1 and 3 */
    repeat(n, sizeof n, "b/", RK_TOPIC_MAX_LEVELS - 1);
    assert_int_equal(rk_topic_lookup(t, n, out, 1), 1);
    assert_int_equal(out[0], 3);
    repeat(f, sizeof f, "+/", RK_TOPIC_MAX_LEVELS + 1);
    check_bad_filter(t, f, "more than 32 levels");
    rk_topic_tree_destroy(t);
}

/* ---- API edge cases ---------------------------------------------------------------------------------- */

static void null_arguments(void **state)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[1];

    (void)state;
    EXPECT_EINVAL(rk_topic_tree_create(NULL), "out is NULL");
    EXPECT_EINVAL(rk_topic_subscribe(NULL, "a", 1), "tree is NULL");
    EXPECT_EINVAL(rk_topic_unsubscribe(NULL, "a", 1), "tree is NULL");
    EXPECT_EINVAL(rk_topic_lookup(NULL, "a", out, 1), "tree is NULL");
    EXPECT_EINVAL(rk_topic_lookup(t, "a", NULL, 1), "out (with cap > 0) is NULL");
    assert_int_equal(rk_topic_subscribe(t, "a", 1), 0);
    assert_int_equal(rk_topic_lookup(t, "a", NULL, 0), 1); /* count only */
    assert_int_equal(rk_topic_tree_count(NULL), 0);
    assert_int_equal(rk_topic_tree_nodes(NULL), 0);
    rk_topic_tree_destroy(NULL);
    rk_topic_tree_destroy(t);
}

static void duplicate_subscription(void **state)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[4];

    (void)state;
    assert_int_equal(rk_topic_subscribe(t, "a/+", 7), 0);
    rk_clear_error();
    assert_int_equal(rk_topic_subscribe(t, "a/+", 7), RK_EEXIST);
    assert_int_equal(rk_last_error_code(), RK_EEXIST);
    assert_non_null(strstr(rk_last_error(), "subscriber 0x7 already subscribes to \"a/+\""));
    assert_int_equal(rk_topic_tree_count(t), 1);
    assert_int_equal(rk_topic_tree_nodes(t), 3);
    /* Another subscriber on the filter, or the subscriber on another filter, is a new subscription. */
    assert_int_equal(rk_topic_subscribe(t, "a/+", 8), 0);
    assert_int_equal(rk_topic_subscribe(t, "a/#", 7), 0);
    assert_int_equal(rk_topic_tree_count(t), 3);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 4), 2);
    assert_int_equal(out[0], 7);
    assert_int_equal(out[1], 8);
    /* One unsubscribe undoes one subscribe. */
    assert_int_equal(rk_topic_unsubscribe(t, "a/+", 7), 0);
    assert_int_equal(rk_topic_unsubscribe(t, "a/+", 7), RK_ENOENT);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 4), 2); /* 7 still through "a/#" */
    rk_topic_tree_destroy(t);
}

static void unsubscribe_absent(void **state)
{
    rk_topic_tree *t = tree_new();

    (void)state;
    assert_int_equal(rk_topic_unsubscribe(t, "a", 1), RK_ENOENT); /* empty tree */
    assert_int_equal(rk_topic_subscribe(t, "a/b/c", 1), 0);
    rk_clear_error();
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/c", 2), RK_ENOENT); /* other subscriber */
    assert_int_equal(rk_last_error_code(), RK_ENOENT);
    assert_non_null(strstr(rk_last_error(), "subscriber 0x2 does not subscribe to \"a/b/c\""));
    assert_int_equal(rk_topic_unsubscribe(t, "a/b", 1), RK_ENOENT);    /* inner node, no subscribers */
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/c/d", 1), RK_ENOENT); /* past a leaf */
    assert_int_equal(rk_topic_unsubscribe(t, "a/+/c", 1), RK_ENOENT);  /* a matching filter is not it */
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/#", 1), RK_ENOENT);
    assert_int_equal(rk_topic_unsubscribe(t, "#", 1), RK_ENOENT);
    assert_int_equal(rk_topic_tree_count(t), 1);
    assert_int_equal(rk_topic_tree_nodes(t), 4);
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/c", 1), 0);
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/c", 1), RK_ENOENT);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    rk_topic_tree_destroy(t);
}

/* A buffer smaller than the match count receives the smallest ids and the full count comes back. */
static void lookup_short_buffer(void **state)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[4];

    (void)state;
    for (uint64_t id = 10; id > 0; id--)
        assert_int_equal(rk_topic_subscribe(t, "a/b", id * 100), 0);
    memset(out, 0xee, sizeof out);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 3), 10); /* one filter: its list as it is */
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 200);
    assert_int_equal(out[2], 300);
    assert_int_equal(out[3], 0xeeeeeeeeeeeeeeeeull); /* nothing past cap */
    assert_int_equal(rk_topic_lookup(t, "a/b", NULL, 0), 10);
    for (uint64_t id = 1; id <= 10; id++)
        assert_int_equal(rk_topic_subscribe(t, "+/b", id * 100 + 50), 0);
    memset(out, 0xee, sizeof out);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 3), 20); /* two filters: merged */
    assert_int_equal(out[0], 100);
    assert_int_equal(out[1], 150);
    assert_int_equal(out[2], 200);
    assert_int_equal(out[3], 0xeeeeeeeeeeeeeeeeull);
    assert_int_equal(rk_topic_lookup(t, "x/b", out, 1), 10);
    assert_int_equal(out[0], 150);
    rk_topic_tree_destroy(t);
}

/* One subscriber matching through several filters is reported once. */
static void lookup_dedupe(void **state)
{
    static const char *filters[] = { "a/b", "a/+", "+/b", "+/+", "#", "a/#", "+/#", "a/b/#" };
    rk_topic_tree *t = tree_new();
    uint64_t out[8];

    (void)state;
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(rk_topic_subscribe(t, filters[i], 5), 0);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 8), 1);
    assert_int_equal(out[0], 5);
    assert_int_equal(rk_topic_subscribe(t, "a/b", UINT64_MAX), 0);
    assert_int_equal(rk_topic_subscribe(t, "+/#", 0), 0);
    assert_int_equal(rk_topic_subscribe(t, "#", 4), 0);
    assert_int_equal(rk_topic_lookup(t, "a/b", out, 8), 4);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 4);
    assert_int_equal(out[2], 5);
    assert_int_equal(out[3], UINT64_MAX);
    assert_int_equal(rk_topic_lookup(t, "a", out, 8), 3); /* "#", "a/#", "+/#": ids 0, 4, 5 */
    assert_int_equal(rk_topic_lookup(t, "$SYS/b", out, 8), 0);
    rk_topic_tree_destroy(t);
}

/*
 * Many matching filters with many subscribers: more hit nodes than the lookup keeps inline and more ids
 * than it merges on the stack, so both spill to the heap. Topic "a/b/c/d/e" is matched by the 32 filters
 * that put '+' or the exact level at each of its 5 levels, and by "#" and the 5 "<prefix>/#".
 */
static void lookup_many_hits(void **state)
{
    static const char lv[5] = { 'a', 'b', 'c', 'd', 'e' };
    rk_topic_tree *t = tree_new();
    uint64_t *out = calloc(4096, sizeof *out);
    char f[32];
    int nf = 0, rc;

    (void)state;
    assert_non_null(out);
    for (unsigned mask = 0; mask < 32; mask++, nf++) {
        for (int i = 0; i < 5; i++) {
            f[2 * i] = (mask >> i) & 1 ? '+' : lv[i];
            f[2 * i + 1] = '/';
        }
        f[9] = '\0';
        for (uint64_t j = 0; j < 40; j++) /* 40 ids a filter, half of them shared by every filter */
            assert_int_equal(rk_topic_subscribe(t, f, j < 20 ? j : (uint64_t)nf << 32 | j), 0);
    }
    for (int len = 0; len <= 10; len += 2, nf++) { /* "#", "a/#", "a/b/#" ... "a/b/c/d/e/#" */
        memcpy(f, "a/b/c/d/e/", 10);
        strcpy(f + len, "#");
        for (uint64_t j = 0; j < 40; j++)
            assert_int_equal(rk_topic_subscribe(t, f, j < 20 ? j : (uint64_t)nf << 32 | j), 0);
    }
    assert_int_equal(nf, 38);
    rc = rk_topic_lookup(t, "a/b/c/d/e", out, 4096);
    assert_int_equal(rc, 20 + 38 * 20);
    for (int i = 1; i < rc; i++)
        assert_true(out[i - 1] < out[i]);
    free(out);
    rk_topic_tree_destroy(t);
}

/* Nodes are shared by common prefixes and freed when their last subscription goes (T5). */
static void pruning(void **state)
{
    rk_topic_tree *t = tree_new();

    (void)state;
    assert_int_equal(rk_topic_subscribe(t, "a/b/c", 1), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 4);
    assert_int_equal(rk_topic_subscribe(t, "a/b", 1), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 4);
    assert_int_equal(rk_topic_subscribe(t, "a/+/#", 1), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 6);
    assert_int_equal(rk_topic_subscribe(t, "a/b/d", 2), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 7);
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/c", 1), 0); /* frees [a/b/c] only */
    assert_int_equal(rk_topic_tree_nodes(t), 6);
    assert_int_equal(rk_topic_unsubscribe(t, "a/b/d", 2), 0); /* [a/b] keeps its own subscriber */
    assert_int_equal(rk_topic_tree_nodes(t), 5);
    assert_int_equal(rk_topic_unsubscribe(t, "a/b", 1), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 4);
    assert_int_equal(rk_topic_unsubscribe(t, "a/+/#", 1), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    assert_int_equal(rk_topic_tree_count(t), 0);
    /* The tree is usable again after being emptied. */
    assert_int_equal(rk_topic_subscribe(t, "a/b/c", 1), 0);
    assert_int_equal(rk_topic_lookup(t, "a/b/c", NULL, 0), 1);
    rk_topic_tree_destroy(t); /* frees a non-empty tree (ASan checks) */
}

/* Many exact siblings: the sorted child array grows, stays sorted, and shrinks back to nothing. */
static void many_siblings(void **state)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[2];
    char f[32];

    (void)state;
    for (int i = 0; i < 500; i++) {
        snprintf(f, sizeof f, "dev/%d/temp", (i * 7919) % 500); /* inserted out of order */
        assert_int_equal(rk_topic_subscribe(t, f, (uint64_t)i), 0);
    }
    assert_int_equal(rk_topic_tree_nodes(t), 2 + 2 * 500);
    for (int i = 0; i < 500; i++) {
        snprintf(f, sizeof f, "dev/%d/temp", (i * 7919) % 500);
        assert_int_equal(rk_topic_lookup(t, f, out, 2), 1);
        assert_int_equal(out[0], (uint64_t)i);
    }
    assert_int_equal(rk_topic_lookup(t, "dev/500/temp", out, 2), 0);
    assert_int_equal(rk_topic_lookup(t, "dev/0", out, 2), 0);
    for (int i = 499; i >= 0; i--) { /* removed in another order */
        snprintf(f, sizeof f, "dev/%d/temp", (i * 7919) % 500);
        assert_int_equal(rk_topic_unsubscribe(t, f, (uint64_t)i), 0);
    }
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    rk_topic_tree_destroy(t);
}

/*
 * Hundreds of siblings whose levels share their first 8 bytes ("sensor-0..."), beside short ones and the
 * 8-byte prefix itself: the children are indexed by key, so every one of these levels has the same key
 * and only its bytes tell it apart. Inserted, looked up (present and absent) and removed out of order.
 */
/* Sibling k of many_long_siblings: every third is short (a key of its own), the others long. */
static void sibling_filter(char *f, size_t cap, int k)
{
    if (k % 3 == 0)
        snprintf(f, cap, "dev/s%d/temp", k);
    else
        snprintf(f, cap, "dev/sensor-%05d/temp", k);
}

static void many_long_siblings(void **state)
{
    rk_topic_tree *t = tree_new();
    uint64_t out[2];
    char f[64];

    (void)state;
    for (int i = 0; i < 300; i++) {
        int k = (i * 7919) % 300;

        sibling_filter(f, sizeof f, k);
        assert_int_equal(rk_topic_subscribe(t, f, (uint64_t)k), 0);
    }
    assert_int_equal(rk_topic_subscribe(t, "dev/sensor-0/temp", 1000), 0); /* exactly the 8 key bytes */
    assert_int_equal(rk_topic_subscribe(t, "dev/sensor-/temp", 1001), 0);  /* 7 bytes: a prefix */
    for (int k = 0; k < 300; k++) {
        sibling_filter(f, sizeof f, k);
        assert_int_equal(rk_topic_lookup(t, f, out, 2), 1);
        assert_int_equal(out[0], (uint64_t)k);
        snprintf(f, sizeof f, "dev/sensor-%05dx/temp", k); /* absent: a longer level with the same key */
        assert_int_equal(rk_topic_lookup(t, f, out, 2), 0);
    }
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-00000/temp", out, 2), 0); /* k = 0 is short */
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-0/temp", out, 2), 1);
    assert_int_equal(out[0], 1000);
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-/temp", out, 2), 1);
    assert_int_equal(out[0], 1001);
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-0x/temp", out, 2), 0);
    assert_int_equal(rk_topic_lookup(t, "dev/sensor/temp", out, 2), 0);
    assert_int_equal(rk_topic_unsubscribe(t, "dev/sensor-0/temp", 1000), 0);
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-0/temp", out, 2), 0);
    assert_int_equal(rk_topic_lookup(t, "dev/sensor-00001/temp", out, 2), 1);
    assert_int_equal(rk_topic_unsubscribe(t, "dev/sensor-/temp", 1001), 0);
    for (int i = 299; i >= 0; i--) {
        int k = (i * 7919) % 300;

        sibling_filter(f, sizeof f, k);
        assert_int_equal(rk_topic_unsubscribe(t, f, (uint64_t)k), 0);
        if (i % 50 == 0) { /* the survivors are still found after removals rebuilt the index */
            for (int j = 0; j < i; j++) {
                int kj = (j * 7919) % 300;

                if (kj % 3 == 0)
                    continue;
                snprintf(f, sizeof f, "dev/sensor-%05d/temp", kj);
                assert_int_equal(rk_topic_lookup(t, f, out, 2), 1);
                assert_int_equal(out[0], (uint64_t)kj);
            }
        }
    }
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    rk_topic_tree_destroy(t);
}

/* ---- Randomized comparison with the reference ------------------------------------------------------- */

/* TSan slows the single-threaded brute-force reference about tenfold and has nothing to check in it, so a
 * TSan build compares fewer topics (it keeps the run under 5 s); every other build compares 5000. */
#if defined(__SANITIZE_THREAD__)
#define RAND_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RAND_TSAN 1
#endif
#endif
#define RAND_FILTERS 2000
#ifdef RAND_TSAN
#define RAND_TOPICS 1500
#else
#define RAND_TOPICS 5000
#endif
#define RAND_IDS 300

typedef struct rand_sub {
    char filter[64];
    uint64_t id;
    int live;
} rand_sub;

/* The levels random filters and topics are drawn from: the last one appears only in topics. */
typedef struct rand_alphabet {
    const char *const *levels;
    uint64_t filter_levels, topic_levels;
} rand_alphabet;

/* Levels are few and short so that filters and topics collide often; "d" appears only in topics. */
static const char *const short_levels[] = { "a", "b", "c", "$SYS", "", "ab", "d" };
static const rand_alphabet rand_short = { short_levels, 6, 7 };

/* Levels of 8 bytes and more that share their first 8 bytes (the trie's search key) or are prefixes of one
 * another, beside shorter ones, so that equal keys of different levels meet in one node. */
static const char *const long_levels[] = { "abcdefgh", "abcdefghi", "abcdefghj", "abcdefg",    "",
                                           "abcdefgh01", "x",       "abcdefgh012", "abcdefghk" };
static const rand_alphabet rand_long = { long_levels, 8, 9 };

/*
 * A random filter (filter != 0) or topic of 1 to 5 levels. A filter level is '+' with probability 2/9 and,
 * when it is the last level, '#' with probability 1/9. root_wild = 0 keeps wildcards out of the first level.
 */
static void rand_string(const rand_alphabet *a, uint64_t *rng, char *buf, int filter, int root_wild)
{
    size_t len;

    do { /* a lone empty level is the empty string, which is invalid: draw again */
        uint32_t n = 1 + (uint32_t)(rng_next(rng) % 5);

        len = 0;
        for (uint32_t i = 0; i < n; i++) {
            int wild = filter && (i > 0 || root_wild);
            uint64_t r = rng_next(rng) % (filter ? a->filter_levels + (wild ? 3 : 0) : a->topic_levels);
            const char *l = r < a->filter_levels || !filter ? a->levels[r]
                            : r == a->filter_levels + 2 && i == n - 1 ? "#"
                                                                         : "+";

            if (i > 0)
                buf[len++] = '/';
            memcpy(buf + len, l, strlen(l));
            len += strlen(l);
        }
    } while (len == 0);
    buf[len] = '\0';
}

/* The reference: every live subscription through ref_match; the union, ascending. */
static int reference_lookup(const rand_sub *subs, size_t n, const char *topic, uint64_t *out)
{
    int m = 0, k = 0;

    for (size_t i = 0; i < n; i++) {
        if (subs[i].live && ref_match(subs[i].filter, topic) == 1)
            out[m++] = subs[i].id;
    }
    qsort(out, (size_t)m, sizeof *out, u64_cmp);
    for (int i = 0; i < m; i++) {
        if (k == 0 || out[i] != out[k - 1])
            out[k++] = out[i];
    }
    return k;
}

/* Compares `topics` random lookups with the reference; counts the topics nothing matched in *misses. */
static void compare_with_reference(const rand_alphabet *a, const rk_topic_tree *t, const rand_sub *subs,
                                   size_t n, uint64_t *rng, int topics, int *misses)
{
    uint64_t got[RAND_IDS], want[RAND_FILTERS];
    char topic[64];

    for (int i = 0; i < topics; i++) {
        int nw, ng;

        rand_string(a, rng, topic, 0, 0);
        nw = reference_lookup(subs, n, topic, want);
        ng = rk_topic_lookup(t, topic, got, RAND_IDS);
        if (ng != nw || memcmp(got, want, (size_t)nw * sizeof *got) != 0)
            fail_msg("topic \"%s\": trie found %d subscribers, reference %d", topic, ng, nw);
        *misses += nw == 0;
    }
}

/*
 * One randomized run: nf filters with random ids (repeated pairs must answer RK_EEXIST), compared on
 * `topics` topics; then about half unsubscribed and compared again on topics / 2; then the rest
 * unsubscribed, which must leave the bare root. Returns how many lookups matched nothing.
 */
static int random_run(const rand_alphabet *a, uint64_t seed, int nf, int topics, int root_wild)
{
    rand_sub *subs = calloc((size_t)nf, sizeof *subs);
    uint64_t ids[RAND_IDS], rng = seed;
    rk_topic_tree *t = tree_new();
    size_t live = 0;
    int misses = 0;

    assert_non_null(subs);
    for (int i = 0; i < RAND_IDS; i++)
        ids[i] = rng_next(&rng); /* full-width ids; few, so subscribers share filters and topics */
    for (int i = 0; i < nf; i++) {
        int rc, dup = 0;

        rand_string(a, &rng, subs[i].filter, 1, root_wild);
        subs[i].id = ids[rng_next(&rng) % RAND_IDS];
        for (int j = 0; j < i; j++)
            dup |= subs[j].live && subs[j].id == subs[i].id && strcmp(subs[j].filter, subs[i].filter) == 0;
        rc = rk_topic_subscribe(t, subs[i].filter, subs[i].id);
        if (rc != (dup ? RK_EEXIST : 0))
            fail_msg("subscribe \"%s\" returned %s: %s", subs[i].filter, rk_err_name(rc), rk_last_error());
        subs[i].live = !dup;
        live += !dup;
    }
    assert_int_equal(rk_topic_tree_count(t), live);
    compare_with_reference(a, t, subs, (size_t)nf, &rng, topics, &misses);

    for (int i = 0; i < nf; i++) {
        if (!subs[i].live || (rng_next(&rng) & 1))
            continue;
        assert_int_equal(rk_topic_unsubscribe(t, subs[i].filter, subs[i].id), 0);
        assert_int_equal(rk_topic_unsubscribe(t, subs[i].filter, subs[i].id), RK_ENOENT);
        subs[i].live = 0;
        live--;
    }
    assert_int_equal(rk_topic_tree_count(t), live);
    compare_with_reference(a, t, subs, (size_t)nf, &rng, topics / 2, &misses);

    for (int i = nf - 1; i >= 0; i--) {
        if (subs[i].live)
            assert_int_equal(rk_topic_unsubscribe(t, subs[i].filter, subs[i].id), 0);
    }
    assert_int_equal(rk_topic_tree_count(t), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    free(subs);
    rk_topic_tree_destroy(t);
    return misses;
}

/* Dense: 2000 filters over a small alphabet; most topics match dozens of filters, so merges dominate. */
static void random_dense(void **state)
{
    (void)state;
    random_run(&rand_short, 0x5eed2024ull, RAND_FILTERS, RAND_TOPICS, 1);
}

/* Long levels whose first 8 bytes coincide: the trie's keys tie and the level bytes must decide. */
static void random_long_levels(void **state)
{
    (void)state;
    random_run(&rand_long, 0x10a9e7e1ull, RAND_FILTERS, RAND_TOPICS, 1);
}

/* Sparse: 60 filters with no wildcard at the root, so many topics match nothing or one filter. */
static void random_sparse(void **state)
{
    int misses;

    (void)state;
    misses = random_run(&rand_short, 0x0ddba11ull, 60, 3000, 0);
    assert_true(misses > 300 && misses < 4000); /* both misses and hits were compared */
}

/* rk_topic_match against the independent reference on random pairs, wildcards at the root included. */
static void reference_agrees(void **state)
{
    uint64_t rng = 0xa11ce5ull, matches = 0;
    char f[64], t[64];

    (void)state;
    for (int i = 0; i < 100000; i++) {
        int want, got;

        rand_string(&rand_short, &rng, f, 1, 1);
        rand_string(&rand_short, &rng, t, 0, 0);
        want = ref_match(f, t);
        got = rk_topic_match(f, t);
        if (got != want)
            fail_msg("rk_topic_match(\"%s\", \"%s\") = %d, reference %d", f, t, got, want);
        matches += (uint64_t)want;
    }
    assert_true(matches > 5000 && matches < 95000); /* both answers were compared, many times */
}

/*
 * '+' in every position: for the five-level topic "l0/l1/l2/l3/l4", each of the 32 filters that put '+' at
 * a subset of the positions (the other levels spelled out) matches it; with one level of the topic changed,
 * a filter matches exactly when that position is a '+'. Also with the changed level empty, and with a
 * trailing '#' after the subset (one level shorter filter), through the reference, rk_topic_match and a
 * trie holding all of them.
 */
static void plus_every_position(void **state)
{
    static const char *const base[5] = { "l0", "l1", "l2", "l3", "l4" };
    rk_topic_tree *t = tree_new();
    char filters[64][40];
    uint64_t out[64];
    int nfilters = 0;

    (void)state;
    for (unsigned mask = 0; mask < 32; mask++) {
        for (int hash = 0; hash < 2; hash++) { /* hash: the last level is '#' instead of l4 or '+' */
            char *f = filters[nfilters];
            size_t len = 0;

            for (int i = 0; i < 5; i++) {
                const char *l = hash && i == 4 ? "#" : (mask >> i) & 1 ? "+" : base[i];

                len += (size_t)snprintf(f + len, sizeof filters[0] - len, "%s%s", i ? "/" : "", l);
            }
            assert_int_equal(rk_topic_subscribe(t, f, (uint64_t)nfilters), 0);
            nfilters++;
        }
    }
    for (int changed = -1; changed < 5; changed++) {
        for (int empty = 0; empty < 2; empty++) {
            char topic[40];
            size_t len = 0;
            int nwant = 0;

            for (int i = 0; i < 5; i++) {
                const char *l = i != changed ? base[i] : empty ? "" : "other";

                len += (size_t)snprintf(topic + len, sizeof topic - len, "%s%s", i ? "/" : "", l);
            }
            for (int j = 0; j < nfilters; j++) {
                unsigned mask = (unsigned)j / 2;
                int hash = j % 2;
                int want = changed < 0 || ((mask >> changed) & 1) || (hash && changed == 4);

                if (ref_match(filters[j], topic) != want || rk_topic_match(filters[j], topic) != want)
                    fail_msg("filter \"%s\", topic \"%s\": expected %d", filters[j], topic, want);
                nwant += want;
            }
            assert_int_equal(rk_topic_lookup(t, topic, out, 64), nwant);
            if (changed < 0)
                assert_int_equal(nwant, 64); /* the unchanged topic matches every filter */
        }
    }
    for (int j = 0; j < nfilters; j++)
        assert_int_equal(rk_topic_unsubscribe(t, filters[j], (uint64_t)j), 0);
    assert_int_equal(rk_topic_tree_nodes(t), 1);
    rk_topic_tree_destroy(t);
}

/* ---- Concurrent readers ------------------------------------------------------------------------------ */

/* Lookups only read the tree, so readers need no lock among themselves; TSan checks that claim. */
#define READERS 4

typedef struct reader_arg {
    const rk_topic_tree *t;
    int bad;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    static const char *topics[] = { "a/b", "a", "$SYS/x", "x/y/z", "a/b/c" };
    static const int want[] = { 4, 2, 1, 1, 2 };
    uint64_t out[8];

    for (int i = 0; i < 20000; i++) {
        int k = i % 5;

        if (rk_topic_lookup(a->t, topics[k], out, 8) != want[k])
            a->bad++;
    }
    return NULL;
}

static void concurrent_lookups(void **state)
{
    rk_topic_tree *t = tree_new();
    pthread_t th[READERS];
    reader_arg args[READERS];

    (void)state;
    assert_int_equal(rk_topic_subscribe(t, "a/b", 1), 0);
    assert_int_equal(rk_topic_subscribe(t, "a/+", 2), 0);
    assert_int_equal(rk_topic_subscribe(t, "#", 3), 0);
    assert_int_equal(rk_topic_subscribe(t, "a/#", 4), 0);
    assert_int_equal(rk_topic_subscribe(t, "$SYS/#", 5), 0);
    for (int i = 0; i < READERS; i++) {
        args[i] = (reader_arg){ t, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
    }
    for (int i = 0; i < READERS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(args[i].bad, 0);
    }
    rk_topic_tree_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(match_table),
        cmocka_unit_test(match_table_one_trie),
        cmocka_unit_test(invalid_filters),
        cmocka_unit_test(invalid_names),
        cmocka_unit_test(length_limit),
        cmocka_unit_test(level_limit),
        cmocka_unit_test(null_arguments),
        cmocka_unit_test(duplicate_subscription),
        cmocka_unit_test(unsubscribe_absent),
        cmocka_unit_test(lookup_short_buffer),
        cmocka_unit_test(lookup_dedupe),
        cmocka_unit_test(lookup_many_hits),
        cmocka_unit_test(pruning),
        cmocka_unit_test(many_siblings),
        cmocka_unit_test(random_dense),
        cmocka_unit_test(random_sparse),
        cmocka_unit_test(random_long_levels),
        cmocka_unit_test(many_long_siblings),
        cmocka_unit_test(reference_agrees),
        cmocka_unit_test(plus_every_position),
        cmocka_unit_test(concurrent_lookups),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
