/* topic.c - topic validation, matching and the subscription trie (topic.h; invariants T1-T7 there).
 *
 * Every entry point first splits its string into levels (rk__topic_split), which validates it too, so the
 * trie code below only ever sees well-formed levels. The trie is walked with explicit stacks bounded by T6:
 * no recursion, no allocation for the walk itself.
 *
 *   root ──"a"──> [a] ──"b"──> [a/b] {subs}
 *    │             ├──plus──> [a/+] ──"c"──> [a/+/c] {subs}
 *    │             └──hash──> [a/#] {subs}          ("a/#" also matches "a": see rk__topic_walk)
 *    └──hash──> [#] {subs}                           (not for '$' topics)
 */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "ringkernel/topic.h"

_Static_assert(RK_TOPIC_MAX_LEN <= UINT16_MAX, "level offsets and lengths are stored in 16 bits");

/* ---- Splitting and validation ---------------------------------------------------------------------- */

/* The levels of a valid name or filter: level i is s[off[i] .. off[i] + len[i]), and key[i] is its search
 * key (rk__level_key), computed once per call so the trie walk never rebuilds it. */
typedef struct rk__topic_levels {
    uint32_t n;                          /* 1..RK_TOPIC_MAX_LEVELS */
    uint16_t off[RK_TOPIC_MAX_LEVELS];
    uint16_t len[RK_TOPIC_MAX_LEVELS];
    uint64_t key[RK_TOPIC_MAX_LEVELS];
} rk__topic_levels;

/*
 * The search key of a level (p, len), of which `readable` bytes from p may be read (len or more): its first
 * 8 bytes, big-endian, zero-padded. Keys order levels as T2 does
 * wherever they differ, because a level never contains a NUL: a zero byte in a key is padding, so it sorts a
 * level before every longer level it is a prefix of, as the "shorter first" rule wants. Equal keys mean equal
 * levels when both are 8 bytes or shorter; longer levels tie-break on their bytes (rk__kid_cmp).
 */
static inline uint64_t rk__level_key(const char *p, size_t len, size_t readable)
{
    const unsigned char *b = (const unsigned char *)p;
    size_t m = len < 8 ? len : 8;
    uint64_t k = 0;

    if (readable >= 8) {
        /* One big-endian 8-byte load (compilers emit a load and a byte swap), then the bytes past the level
         * cleared: ~(~0 >> 8m) keeps the first m bytes, for m from 0 to 7. */
        k = (uint64_t)b[0] << 56 | (uint64_t)b[1] << 48 | (uint64_t)b[2] << 40 | (uint64_t)b[3] << 32 |
            (uint64_t)b[4] << 24 | (uint64_t)b[5] << 16 | (uint64_t)b[6] << 8 | (uint64_t)b[7];
        return m == 8 ? k : k & ~(~0ull >> (8 * m));
    }
    for (size_t i = 0; i < m; i++)
        k |= (uint64_t)b[i] << (56 - 8 * i);
    return k;
}

/* The detail strings quote the offending string, cut to this many bytes so the detail fits one line. */
#define RK__TOPIC_QUOTE 48

/* Records RK_EINVAL for string s ("filter" or "topic") as `fn: <what> "<s>": <problem>`. */
#define RK__TOPIC_BAD(fn, what, s, len, fmt, ...)                                                         \
    rk__err(RK_EINVAL, "%s: %s \"%.*s%s\": " fmt, fn, what, RK__TOPIC_QUOTE, s,                           \
            (len) > RK__TOPIC_QUOTE ? "..." : "", __VA_ARGS__)

/* The bytes the split stops at: level ends ('/' and the terminating NUL) and the wildcards. */
static const uint8_t rk__topic_stop[256] = { ['\0'] = 1, ['/'] = 1, ['+'] = 1, ['#'] = 1 };

/*
 * Splits s into levels and validates it as a filter (is_filter) or a topic name. Returns 0, or RK_EINVAL
 * with a detail naming fn, the problem and its byte offset.
 */
static int rk__topic_split(const char *s, int is_filter, const char *fn, rk__topic_levels *lv)
{
    const char *what = is_filter ? "filter" : "topic";
    size_t len, start = 0;
    uint32_t n = 0;

    if (s == NULL)
        return rk__err(RK_EINVAL, "%s: %s is NULL", fn, what);
    len = strnlen(s, RK_TOPIC_MAX_LEN + 1);
    if (len == 0)
        return rk__err(RK_EINVAL, "%s: %s is empty", fn, what);
    if (len > RK_TOPIC_MAX_LEN)
        return RK__TOPIC_BAD(fn, what, s, len, "longer than %d bytes", RK_TOPIC_MAX_LEN);
    for (size_t i = 0;; i++) {
        char c;

        while (!rk__topic_stop[(unsigned char)s[i]])
            i++; /* s[len] is the NUL, so this stops there at the latest */
        c = s[i];
        if (c == '/' || c == '\0') {
            if (n == RK_TOPIC_MAX_LEVELS)
                return RK__TOPIC_BAD(fn, what, s, len, "more than %d levels (level %d starts at offset %zu)",
                                     RK_TOPIC_MAX_LEVELS, RK_TOPIC_MAX_LEVELS + 1, start);
            lv->off[n] = (uint16_t)start;
            lv->len[n] = (uint16_t)(i - start);
            lv->key[n] = rk__level_key(s + start, i - start, len + 1 - start); /* + 1: the NUL */
            if (c == '\0') {
                lv->n = n + 1;
                return 0;
            }
            n++;
            start = i + 1;
        } else if (c == '+' || c == '#') {
            if (!is_filter)
                return RK__TOPIC_BAD(fn, what, s, len, "wildcard '%c' at offset %zu is not allowed in a name",
                                     c, i);
            if (i != start || (s[i + 1] != '/' && s[i + 1] != '\0'))
                return RK__TOPIC_BAD(fn, what, s, len, "wildcard '%c' at offset %zu must fill a whole level",
                                     c, i);
            if (c == '#' && s[i + 1] != '\0')
                return RK__TOPIC_BAD(fn, what, s, len, "'#' at offset %zu must be the last level", i);
        }
    }
}

int rk_topic_validate_filter(const char *filter)
{
    rk__topic_levels lv;

    return rk__topic_split(filter, 1, "rk_topic_validate_filter", &lv);
}

int rk_topic_validate_name(const char *topic)
{
    rk__topic_levels lv;

    return rk__topic_split(topic, 0, "rk_topic_validate_name", &lv);
}

/* 1 if level i of a valid filter is the one-byte wildcard w ('+' or '#'). */
static int rk__is_wild(const char *f, const rk__topic_levels *lv, uint32_t i, char w)
{
    return lv->len[i] == 1 && f[lv->off[i]] == w;
}

/* The reference: one pass over the filter's levels, no trie. */
int rk_topic_match(const char *filter, const char *topic)
{
    rk__topic_levels fl, tl;
    int rc;

    if ((rc = rk__topic_split(filter, 1, "rk_topic_match", &fl)) != 0 ||
        (rc = rk__topic_split(topic, 0, "rk_topic_match", &tl)) != 0)
        return rc;
    /* System topics: no wildcard in the first level matches them. */
    if (topic[0] == '$' && (rk__is_wild(filter, &fl, 0, '+') || rk__is_wild(filter, &fl, 0, '#')))
        return 0;
    for (uint32_t i = 0; i < fl.n; i++) {
        if (rk__is_wild(filter, &fl, i, '#'))
            return 1; /* the rest, zero levels included: "a/#" matches "a" (i == tl.n here) */
        if (i >= tl.n)
            return 0;
        if (rk__is_wild(filter, &fl, i, '+'))
            continue;
        if (fl.len[i] != tl.len[i] || memcmp(filter + fl.off[i], topic + tl.off[i], fl.len[i]) != 0)
            return 0;
    }
    return fl.n == tl.n;
}

/* ---- Trie nodes ------------------------------------------------------------------------------------ */

enum { RK__NODE_ROOT, RK__NODE_EXACT, RK__NODE_PLUS, RK__NODE_HASH };

/* Up to this many exact children (kids_cap) a node's keys are scanned; above it they are indexed. */
#define RK__KIDS_SCAN 16
/* The cache line size the trie's allocations are aligned to. */
#define RK__LINE 64

typedef struct rk__topic_node rk__topic_node;

/*
 * A node's exact children live in one allocation of kids_cap keys followed by kids_cap child pointers: a
 * search reads the dense key array (8 bytes a child) and dereferences only the child it finds. Above
 * RK__KIDS_SCAN children the allocation also holds an index: 2 * kids_cap open-addressing slots of (key,
 * child), so the walk finds a child in about one probe of one cache line instead of log2(k) dependent loads;
 * at most half the slots are used. A filter usually has one subscriber, who is held in the node itself
 * (subs.one) until a second one arrives, so the common lookup reads no subscriber array. Nodes and child
 * arrays start on a cache line (RK__LINE), so the fields a walk reads from a node share one line.
 */
struct rk__topic_node {
    uint64_t *keys;         /* rk__level_key of the exact children, in T2 order, then their pointers (rk__kids)
                               and the index (rk__kid_slots); NULL while nkids is 0 */
    rk__topic_node *plus;   /* the '+' child, or NULL */
    rk__topic_node *hash;   /* the '#' child (a leaf, T3), or NULL */
    union {
        uint64_t *many;     /* subs_cap > 0: subscribers, ascending and unique (T4) */
        uint64_t one;       /* subs_cap == 0: the subscriber when nsubs is 1 */
    } subs;
    uint32_t nkids, kids_cap;
    uint32_t nsubs, subs_cap;
    uint16_t len;           /* bytes in level (exact nodes; 0 otherwise) */
    uint8_t kind;           /* RK__NODE_*: how the parent holds this node, for pruning */
    char level[];           /* the level's bytes, not NUL-terminated (exact nodes) */
};

_Static_assert(offsetof(rk__topic_node, level) <= RK__LINE, "a node's fields fit the cache line it starts on");

struct rk_topic_tree {
    rk__topic_node *root;   /* never NULL, never pruned (T1) */
    size_t count;           /* subscriptions (T7) */
    size_t nodes;           /* nodes, root included */
};

/* T5: a node that may be freed. */
static int rk__node_empty(const rk__topic_node *n)
{
    return n->nsubs == 0 && n->nkids == 0 && n->plus == NULL && n->hash == NULL;
}

/* memcmp order on the common prefix, then the shorter first (T2). */
static int rk__level_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* The exact children's pointers, in the order of their keys. */
static rk__topic_node **rk__kids(const rk__topic_node *n)
{
    return (rk__topic_node **)(n->keys + n->kids_cap);
}

/* A slot of the key index: the first child whose level has this key (node NULL: an empty slot). */
typedef struct rk__kid_slot {
    uint64_t key;
    const rk__topic_node *node;
} rk__kid_slot;

/* The key index of a node with kids_cap > RK__KIDS_SCAN: 2 * kids_cap slots. */
static rk__kid_slot *rk__kid_slots(const rk__topic_node *n)
{
    return (rk__kid_slot *)(rk__kids(n) + n->kids_cap);
}


/* The home slot of key in an index of mask + 1 slots (Fibonacci hashing of the folded key). */
static uint32_t rk__key_slot(uint64_t key, uint32_t mask)
{
    return (uint32_t)(((key ^ (key >> 29)) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* The subscriber list (T4): nsubs entries. */
static const uint64_t *rk__subs(const rk__topic_node *n)
{
    return n->subs_cap == 0 ? &n->subs.one : n->subs.many;
}

/*
 * Search of n's exact children for level (p, len) with key rk__level_key(p, len): the index where it is or
 * would be inserted. A branch-free lower bound on the keys settles every level shorter than 8 bytes (an
 * equal key is then an equal level, see rk__level_key); longer levels whose keys tie are told apart by
 * their bytes, in a binary search that starts at that lower bound.
 */
static uint32_t rk__kid_settle(const rk__topic_node *n, uint32_t lo, uint64_t key, const char *p, size_t len,
                               int *found);

static uint32_t rk__kid_find(const rk__topic_node *n, uint64_t key, const char *p, size_t len, int *found)
{
    const uint64_t *keys = n->keys, *b = keys;
    uint32_t m = n->nkids;

    *found = 0;
    if (m == 0)
        return 0;
    while (m > 1) {
        uint32_t half = m / 2;

        b = b[half] < key ? b + half : b; /* the answer stays in [b, b + m] */
        m -= half;
    }
    return rk__kid_settle(n, (uint32_t)(b - keys) + (*b < key), key, p, len, found);
}

/*
 * rk__kid_find's answer given lo, the lower bound of key among n's keys (the first position whose key is not
 * below it). *found was cleared by the caller.
 */
static uint32_t rk__kid_settle(const rk__topic_node *n, uint32_t lo, uint64_t key, const char *p, size_t len,
                               int *found)
{
    const uint64_t *keys = n->keys;
    uint32_t hi;

    if (lo == n->nkids || keys[lo] != key)
        return lo;
    if (len < 8) {
        *found = 1;
        return lo;
    }
    for (hi = n->nkids; lo < hi;) {
        uint32_t mid = lo + (hi - lo) / 2;
        const rk__topic_node *c = rk__kids(n)[mid];
        int cmp = keys[mid] != key ? (keys[mid] < key ? -1 : 1) : rk__level_cmp(c->level, c->len, p, len);

        if (cmp == 0) {
            *found = 1;
            return mid;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * The exact child of n for level (p, len) with key rk__level_key(p, len), or NULL: the walk's search, which
 * needs no insertion point. It finds the first child with an equal key by a scan of few keys (independent
 * loads, no branch per key) or a probe of the index; that child is the one unless the level is 8 bytes or
 * longer and differs past its key, when siblings may share the key and rk__kid_find settles it.
 */
static const rk__topic_node *rk__kid_get(const rk__topic_node *n, uint64_t key, const char *p, size_t len)
{
    const rk__topic_node *c = NULL;
    uint32_t k;
    int found;

    if (n->kids_cap <= RK__KIDS_SCAN) {
        const uint64_t *keys = n->keys;
        uint32_t lo = 0;

        for (uint32_t i = 0; i < n->nkids; i++)
            lo += keys[i] < key;
        if (lo < n->nkids && keys[lo] == key)
            c = rk__kids(n)[lo];
    } else {
        const rk__kid_slot *slots = rk__kid_slots(n);
        uint32_t mask = (uint32_t)(2 * (size_t)n->kids_cap - 1);

        for (uint32_t s = rk__key_slot(key, mask); slots[s].node != NULL; s = (s + 1) & mask) {
            if (slots[s].key == key) {
                c = slots[s].node;
                break;
            }
        }
    }
    if (c == NULL || len < 8 || (c->len == len && memcmp(c->level + 8, p + 8, len - 8) == 0))
        return c; /* below 8 bytes an equal key is an equal level (rk__level_key) */
    k = rk__kid_find(n, key, p, len, &found);
    return found ? rk__kids(n)[k] : NULL;
}

/* Binary search of a subscriber list (T4), with the same contract as rk__kid_find. */
static uint32_t rk__sub_find(const rk__topic_node *n, uint64_t id, int *found)
{
    const uint64_t *subs = rk__subs(n);
    uint32_t lo = 0, hi = n->nsubs;

    *found = 0;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (subs[mid] == id) {
            *found = 1;
            return mid;
        }
        if (subs[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*
 * Makes room for one more element in a doubling array: returns the array (moved, perhaps) with *cap updated,
 * or NULL with arr and *cap unchanged when out of memory. Returns arr when it has room already (never NULL
 * then: cap > used >= 0 means it was allocated). cap cannot overflow: elements are bounded by the
 * subscription count (T7), below 2^31.
 */
static void *rk__grow(void *arr, uint32_t *cap, uint32_t used, size_t elem)
{
    uint32_t ncap;
    void *p;

    if (used < *cap)
        return arr;
    ncap = *cap ? *cap * 2 : 4;
    if ((p = realloc(arr, (size_t)ncap * elem)) != NULL)
        *cap = ncap;
    return p;
}

/*
 * Rebuilds n's key index from its keys (nothing to do at or below RK__KIDS_SCAN): O(kids_cap). Only the
 * first of a run of equal keys (long levels that share their first 8 bytes) is entered; rk__kid_get falls
 * back to rk__kid_find for the others.
 */
static void rk__kids_index(rk__topic_node *n)
{
    rk__kid_slot *slots;
    uint32_t mask;

    if (n->kids_cap <= RK__KIDS_SCAN)
        return;
    slots = rk__kid_slots(n);
    mask = (uint32_t)(2 * (size_t)n->kids_cap - 1);
    for (size_t s = 0; s <= mask; s++)
        slots[s] = (rk__kid_slot){ 0, NULL };
    for (uint32_t i = 0; i < n->nkids; i++) {
        uint32_t s = rk__key_slot(n->keys[i], mask);

        if (i > 0 && n->keys[i] == n->keys[i - 1])
            continue;
        while (slots[s].node != NULL)
            s = (s + 1) & mask; /* ends: at most kids_cap of the 2 * kids_cap slots are used */
        slots[s] = (rk__kid_slot){ n->keys[i], rk__kids(n)[i] };
    }
}

/* Makes room for one more exact child of n. Returns 0, or RK_ENOMEM with n unchanged. */
static int rk__kids_reserve(rk__topic_node *n)
{
    uint32_t ncap;
    uint64_t *keys;
    size_t bytes;

    if (n->nkids < n->kids_cap)
        return 0;
    /* No overflow: every child leads to a subscription (T5), so there are at most INT_MAX of them (T7). */
    ncap = n->kids_cap ? n->kids_cap * 2 : 4;
    bytes = (size_t)ncap * (sizeof *keys + sizeof(rk__topic_node *));
    if (ncap > RK__KIDS_SCAN)
        bytes += 2 * (size_t)ncap * sizeof(rk__kid_slot);
    if ((keys = rk__aligned_zalloc(RK__LINE, bytes)) == NULL)
        return RK_ENOMEM;
    if (n->nkids > 0) {
        memcpy(keys, n->keys, n->nkids * sizeof *keys);
        memcpy(keys + ncap, rk__kids(n), n->nkids * sizeof(rk__topic_node *));
    }
    free(n->keys);
    n->keys = keys;
    n->kids_cap = ncap;
    rk__kids_index(n);
    return 0;
}

/* Inserts subscriber id at index k of n's list (rk__sub_find's answer). Returns 0, or RK_ENOMEM with n
 * unchanged. */
static int rk__subs_insert(rk__topic_node *n, uint32_t k, uint64_t id)
{
    uint64_t *subs;

    if (n->subs_cap == 0 && n->nsubs == 1) {
        /* The inline slot is taken: move to an array. */
        if ((subs = malloc(4 * sizeof *subs)) == NULL)
            return RK_ENOMEM;
        subs[0] = n->subs.one;
        n->subs.many = subs;
        n->subs_cap = 4;
    } else if (n->subs_cap > 0) {
        if ((subs = rk__grow(n->subs.many, &n->subs_cap, n->nsubs, sizeof *subs)) == NULL)
            return RK_ENOMEM;
        n->subs.many = subs;
    }
    subs = n->subs_cap == 0 ? &n->subs.one : n->subs.many;
    memmove(&subs[k + 1], &subs[k], (size_t)(n->nsubs - k) * sizeof *subs);
    subs[k] = id; /* T4: still ascending */
    n->nsubs++;
    return 0;
}

/* Removes the subscriber at index k of n's list; frees the array when the list empties. */
static void rk__subs_remove(rk__topic_node *n, uint32_t k)
{
    uint64_t *subs = n->subs_cap == 0 ? &n->subs.one : n->subs.many;

    memmove(&subs[k], &subs[k + 1], (size_t)(n->nsubs - k - 1) * sizeof *subs);
    if (--n->nsubs == 0 && n->subs_cap > 0) {
        free(n->subs.many);
        n->subs_cap = 0; /* back to the inline slot, empty */
    }
}

static rk__topic_node *rk__node_new(rk_topic_tree *t, int kind, const char *level, size_t len)
{
    rk__topic_node *n = rk__aligned_zalloc(RK__LINE, offsetof(rk__topic_node, level) + len);

    if (n == NULL)
        return NULL;
    n->kind = (uint8_t)kind;
    n->len = (uint16_t)len;
    if (len > 0)
        memcpy(n->level, level, len);
    t->nodes++;
    return n;
}

static void rk__node_free(rk_topic_tree *t, rk__topic_node *n)
{
    free(n->keys);
    if (n->subs_cap > 0)
        free(n->subs.many);
    free(n);
    t->nodes--;
}

/* The existing child of n for filter level i (exact, '+' or '#'), or NULL. */
static rk__topic_node *rk__node_child(const rk__topic_node *n, const char *f, const rk__topic_levels *lv,
                                      uint32_t i)
{
    uint32_t k;
    int found;

    if (rk__is_wild(f, lv, i, '+'))
        return n->plus;
    if (rk__is_wild(f, lv, i, '#'))
        return n->hash;
    k = rk__kid_find(n, lv->key[i], f + lv->off[i], lv->len[i], &found);
    return found ? rk__kids(n)[k] : NULL;
}

/* The child of n for filter level i, created if absent. NULL when out of memory (n unchanged). */
static rk__topic_node *rk__node_child_make(rk_topic_tree *t, rk__topic_node *n, const char *f,
                                           const rk__topic_levels *lv, uint32_t i)
{
    rk__topic_node *c = rk__node_child(n, f, lv, i), **kids;
    uint32_t k;
    int found;

    if (c != NULL)
        return c;
    if (rk__is_wild(f, lv, i, '+'))
        return n->plus = rk__node_new(t, RK__NODE_PLUS, NULL, 0);
    if (rk__is_wild(f, lv, i, '#'))
        return n->hash = rk__node_new(t, RK__NODE_HASH, NULL, 0);
    if (rk__kids_reserve(n) != 0)
        return NULL;
    if ((c = rk__node_new(t, RK__NODE_EXACT, f + lv->off[i], lv->len[i])) == NULL)
        return NULL;
    k = rk__kid_find(n, lv->key[i], c->level, c->len, &found);
    kids = rk__kids(n);
    memmove(&n->keys[k + 1], &n->keys[k], (size_t)(n->nkids - k) * sizeof *n->keys);
    memmove(&kids[k + 1], &kids[k], (size_t)(n->nkids - k) * sizeof *kids);
    n->keys[k] = lv->key[i];
    kids[k] = c;
    n->nkids++;
    rk__kids_index(n);
    return c;
}

/*
 * Frees the empty nodes at the end of a path (path[0] is the root, path[depth] the deepest node), deepest
 * first, stopping at the first node that is not empty (T5). The root is never freed (T1).
 */
static void rk__prune(rk_topic_tree *t, rk__topic_node **path, uint32_t depth)
{
    for (uint32_t d = depth; d > 0 && rk__node_empty(path[d]); d--) {
        rk__topic_node *n = path[d], *parent = path[d - 1];

        if (n->kind == RK__NODE_PLUS) {
            parent->plus = NULL;
        } else if (n->kind == RK__NODE_HASH) {
            parent->hash = NULL;
        } else {
            int found;
            uint32_t k = rk__kid_find(parent, rk__level_key(n->level, n->len, n->len), n->level, n->len, &found);

            rk__topic_node **kids = rk__kids(parent);

            memmove(&parent->keys[k], &parent->keys[k + 1],
                    (size_t)(parent->nkids - k - 1) * sizeof *parent->keys);
            memmove(&kids[k], &kids[k + 1], (size_t)(parent->nkids - k - 1) * sizeof *kids);
            if (--parent->nkids == 0) {
                free(parent->keys);
                parent->keys = NULL;
                parent->kids_cap = 0;
            } else {
                rk__kids_index(parent);
            }
        }
        rk__node_free(t, n);
    }
}

/* ---- The tree ------------------------------------------------------------------------------------- */

int rk_topic_tree_create(rk_topic_tree **out)
{
    rk_topic_tree *t;

    if (out == NULL)
        return rk__err(RK_EINVAL, "rk_topic_tree_create: out is NULL");
    if ((t = calloc(1, sizeof *t)) == NULL)
        goto fail_tree;
    if ((t->root = rk__node_new(t, RK__NODE_ROOT, NULL, 0)) == NULL)
        goto fail_root;
    *out = t;
    return 0;

fail_root:
    free(t);
fail_tree:
    return rk__err(RK_ENOMEM, "rk_topic_tree_create: out of memory");
}

void rk_topic_tree_destroy(rk_topic_tree *t)
{
    rk__topic_node *stack[RK_TOPIC_MAX_LEVELS + 1]; /* T6: one node per depth 0..MAX_LEVELS */
    uint32_t sp = 0;

    if (t == NULL)
        return;
    /* Post-order without recursion: detach one child of the top node and descend into it, or free the top
     * node once it has none left. The stack holds one path, so T6 bounds it. */
    stack[sp++] = t->root;
    while (sp > 0) {
        rk__topic_node *n = stack[sp - 1], *c = NULL;

        if (n->nkids > 0)
            c = rk__kids(n)[--n->nkids];
        else if (n->plus != NULL)
            c = n->plus, n->plus = NULL;
        else if (n->hash != NULL)
            c = n->hash, n->hash = NULL;
        if (c != NULL) {
            stack[sp++] = c;
        } else {
            rk__node_free(t, n);
            sp--;
        }
    }
    free(t);
}

size_t rk_topic_tree_count(const rk_topic_tree *t) { return t ? t->count : 0; }

size_t rk_topic_tree_nodes(const rk_topic_tree *t) { return t ? t->nodes : 0; }

int rk_topic_subscribe(rk_topic_tree *t, const char *filter, uint64_t subscriber)
{
    rk__topic_node *path[RK_TOPIC_MAX_LEVELS + 1]; /* T6 */
    rk__topic_levels lv;
    rk__topic_node *n;
    uint32_t k;
    int rc, found;

    if (t == NULL)
        return rk__err(RK_EINVAL, "rk_topic_subscribe: tree is NULL");
    if ((rc = rk__topic_split(filter, 1, "rk_topic_subscribe", &lv)) != 0)
        return rc;
    if (t->count >= INT_MAX)
        return rk__err(RK_ELIMIT, "rk_topic_subscribe: the tree holds %d subscriptions already", INT_MAX);
    path[0] = t->root;
    for (uint32_t i = 0; i < lv.n; i++) {
        if ((path[i + 1] = rk__node_child_make(t, path[i], filter, &lv, i)) == NULL) {
            rk__prune(t, path, i); /* T5: drop what this call created */
            return rk__err(RK_ENOMEM, "rk_topic_subscribe: out of memory at level %u of \"%.*s\"", i + 1,
                           RK__TOPIC_QUOTE, filter);
        }
    }
    n = path[lv.n];
    k = rk__sub_find(n, subscriber, &found);
    if (found)
        return rk__err(RK_EEXIST, "rk_topic_subscribe: subscriber 0x%llx already subscribes to \"%.*s\"",
                       (unsigned long long)subscriber, RK__TOPIC_QUOTE, filter);
    if (rk__subs_insert(n, k, subscriber) != 0) {
        rk__prune(t, path, lv.n);
        return rk__err(RK_ENOMEM, "rk_topic_subscribe: out of memory for subscriber of \"%.*s\"",
                       RK__TOPIC_QUOTE, filter);
    }
    t->count++;
    return 0;
}

int rk_topic_unsubscribe(rk_topic_tree *t, const char *filter, uint64_t subscriber)
{
    rk__topic_node *path[RK_TOPIC_MAX_LEVELS + 1]; /* T6 */
    rk__topic_levels lv;
    rk__topic_node *n;
    uint32_t k = 0;
    int rc, found = 0;

    if (t == NULL)
        return rk__err(RK_EINVAL, "rk_topic_unsubscribe: tree is NULL");
    if ((rc = rk__topic_split(filter, 1, "rk_topic_unsubscribe", &lv)) != 0)
        return rc;
    path[0] = n = t->root;
    for (uint32_t i = 0; i < lv.n && n != NULL; i++)
        path[i + 1] = n = rk__node_child(n, filter, &lv, i);
    if (n != NULL)
        k = rk__sub_find(n, subscriber, &found);
    if (!found)
        return rk__err(RK_ENOENT, "rk_topic_unsubscribe: subscriber 0x%llx does not subscribe to \"%.*s\"",
                       (unsigned long long)subscriber, RK__TOPIC_QUOTE, filter);
    rk__subs_remove(n, k);
    t->count--;
    rk__prune(t, path, lv.n); /* T5 */
    return 0;
}

/* ---- Lookup --------------------------------------------------------------------------------------- */

/*
 * A lookup walks the trie once, gathering the subscriber list of every matched filter as a run (ascending
 * and unique, T4), then merges the runs into out. Nothing on the way allocates unless more than
 * RK__RUNS_INLINE filters with subscribers match.
 */
#define RK__RUNS_INLINE 32
/* At most this many matched subscriptions merge by insertion in a 512-byte buffer; more merge through a heap
 * of runs straight into out. */
#define RK__IDS_SMALL 64

typedef struct rk__topic_run {
    const uint64_t *p, *end;    /* the next subscriber and the end of the list */
} rk__topic_run;

typedef struct rk__topic_hits {
    rk__topic_run *v;           /* inline_v or heap */
    uint32_t n, cap;
    size_t ids;                 /* total subscribers of the runs */
    rk__topic_run inline_v[RK__RUNS_INLINE];
} rk__topic_hits;

/* Doubles the run array (moving it off the stack the first time). Returns 0 or RK_ENOMEM (h unchanged). */
static int rk__hits_grow(rk__topic_hits *h)
{
    rk__topic_run *p;

    if (h->v == h->inline_v) {
        if ((p = malloc(2 * (size_t)h->cap * sizeof *p)) != NULL)
            memcpy(p, h->v, h->n * sizeof *p);
    } else {
        p = realloc(h->v, 2 * (size_t)h->cap * sizeof *p);
    }
    if (p == NULL)
        return RK_ENOMEM;
    h->v = p;
    h->cap *= 2;
    return 0;
}

static inline int rk__hits_add(rk__topic_hits *h, const rk__topic_node *n)
{
    if (n->nsubs == 0)
        return 0; /* an inner node: its filter has no subscriber of its own */
    if (h->n == h->cap && rk__hits_grow(h) != 0)
        return RK_ENOMEM;
    h->v[h->n].p = rk__subs(n);
    h->v[h->n].end = rk__subs(n) + n->nsubs;
    h->n++;
    h->ids += n->nsubs;
    return 0;
}

/*
 * Gathers every node whose filter matches the topic (levels lv). A node reached at depth d matched the
 * first d topic levels; from it:
 *   - the '#' child matches whatever is left, zero levels included: that is how "a/#" matches "a";
 *   - when d is the topic's length the node's own filter matches exactly;
 *   - otherwise the walk goes on into the exact child for level d and into the '+' child.
 * At the root, a '$' topic skips the '+' and '#' children (the system-topic rule). The walk follows exact
 * children in a loop and stacks only the '+' children it passes, to visit after the exact path ends.
 * Stack bound: the depths on the stack increase strictly from the bottom, because a descent from a popped
 * frame of depth d (all frames below it are shallower) pushes depths d + 1, d + 2, ... in turn. Depths run
 * from 1 to the topic's levels, so at most RK_TOPIC_MAX_LEVELS frames are held (T6).
 */
static int rk__topic_walk(const rk_topic_tree *t, const char *topic, const rk__topic_levels *lv,
                          rk__topic_hits *h)
{
    struct {
        const rk__topic_node *node;
        uint32_t d;
    } stack[RK_TOPIC_MAX_LEVELS];
    const rk__topic_node *n = t->root;
    uint32_t sp = 0, d = 0;
    int system = topic[0] == '$';

    for (;;) {
        for (;;) {
            int wild_ok = d > 0 || !system;

            if (wild_ok && n->hash != NULL && rk__hits_add(h, n->hash) != 0)
                return RK_ENOMEM;
            if (d == lv->n) {
                if (rk__hits_add(h, n) != 0)
                    return RK_ENOMEM;
                break;
            }
            if (wild_ok && n->plus != NULL) {
                stack[sp].node = n->plus;
                stack[sp++].d = d + 1;
            }
            if (n->nkids == 0 || (n = rk__kid_get(n, lv->key[d], topic + lv->off[d], lv->len[d])) == NULL)
                break;
            d++;
        }
        if (sp == 0)
            return 0;
        sp--;
        n = stack[sp].node;
        d = stack[sp].d;
    }
}

/* Few subscriptions: insert each into a sorted buffer (out itself when it has room), skipping repeats. */
static int rk__merge_small(const rk__topic_hits *h, uint64_t *out, uint32_t cap)
{
    uint64_t buf[RK__IDS_SMALL], *ids = cap >= h->ids ? out : buf;
    uint32_t u = 0;

    for (uint32_t r = 0; r < h->n; r++) {
        for (const uint64_t *p = h->v[r].p; p < h->v[r].end; p++) {
            uint64_t x = *p;
            uint32_t j = u;

            for (; j > 0 && ids[j - 1] > x; j--)
                ids[j] = ids[j - 1]; /* shifts the larger ones up as it goes */
            if (j > 0 && ids[j - 1] == x) {
                for (; j < u; j++)
                    ids[j] = ids[j + 1]; /* a subscriber of an earlier run: undo the shift */
                continue;
            }
            ids[j] = x;
            u++;
        }
    }
    if (ids == buf && cap > 0)
        memcpy(out, buf, (u < cap ? u : cap) * sizeof *out);
    return (int)u;
}

/* Restores the min-heap order (by each run's next subscriber) below v[i]. */
static void rk__runs_sift(rk__topic_run *v, uint32_t n, uint32_t i)
{
    rk__topic_run top = v[i];

    for (;;) {
        uint32_t c = 2 * i + 1;

        if (c >= n)
            break;
        if (c + 1 < n && *v[c + 1].p < *v[c].p)
            c++;
        if (*top.p <= *v[c].p)
            break;
        v[i] = v[c];
        i = c;
    }
    v[i] = top;
}

/*
 * Many subscriptions: a k-way merge of the runs through a min-heap, O(m log r) for m subscriptions in r runs,
 * writing the first cap to out and counting the rest. Consumes the runs.
 */
static int rk__merge_heap(rk__topic_hits *h, uint64_t *out, uint32_t cap)
{
    rk__topic_run *v = h->v;
    uint32_t n = h->n;
    size_t count = 0;
    uint64_t last = 0;

    for (uint32_t i = n / 2; i-- > 0;)
        rk__runs_sift(v, n, i);
    while (n > 0) {
        uint64_t x = *v[0].p;

        if (count == 0 || x != last) {
            if (count < cap)
                out[count] = x;
            count++;
            last = x;
        }
        if (++v[0].p == v[0].end)
            v[0] = v[--n]; /* run exhausted: the last one takes its place */
        if (n > 0)
            rk__runs_sift(v, n, 0);
    }
    return (int)count; /* T7: count <= subscriptions <= INT_MAX */
}

/* Writes the union of the runs (ascending, unique) to out, at most cap of it; returns its size. */
static int rk__hits_emit(rk__topic_hits *h, uint64_t *out, uint32_t cap)
{
    if (h->n == 0)
        return 0;
    if (h->n == 1) {
        /* One filter: its list is already ascending and unique (T4). */
        size_t n = (size_t)(h->v[0].end - h->v[0].p);

        if (cap > 0)
            memcpy(out, h->v[0].p, (n < cap ? n : cap) * sizeof *out);
        return (int)n;
    }
    return h->ids <= RK__IDS_SMALL ? rk__merge_small(h, out, cap) : rk__merge_heap(h, out, cap);
}

int rk_topic_lookup(const rk_topic_tree *t, const char *topic, uint64_t *out, uint32_t cap)
{
    rk__topic_levels lv;
    rk__topic_hits h;
    int rc;

    if (t == NULL || (out == NULL && cap > 0))
        return rk__err(RK_EINVAL, "rk_topic_lookup: %s is NULL", t == NULL ? "tree" : "out (with cap > 0)");
    if ((rc = rk__topic_split(topic, 0, "rk_topic_lookup", &lv)) != 0)
        return rc;
    h.v = h.inline_v;
    h.n = 0;
    h.cap = RK__RUNS_INLINE;
    h.ids = 0;
    rc = rk__topic_walk(t, topic, &lv, &h);
    if (rc == 0)
        rc = rk__hits_emit(&h, out, cap);
    if (h.v != h.inline_v)
        free(h.v);
    if (rc == RK_ENOMEM)
        return rk__err(RK_ENOMEM, "rk_topic_lookup: out of memory gathering the %u matched filters of \"%.*s\"",
                       h.n, RK__TOPIC_QUOTE, topic);
    return rc;
}
