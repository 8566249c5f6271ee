/* topic.h - topic names, topic filters and a subscription trie with MQTT semantics (the K2K broker's index).
 *
 * A topic name is a hierarchical byte string whose levels are separated by '/': "sensors/gpu0/temp". A
 * topic filter is a topic pattern whose levels may also be the wildcards
 *   '+'  exactly one level, which may be empty ("a/+/b" matches "a//b"; "a/+" matches "a/" but not "a");
 *   '#'  all remaining levels, zero or more; it must be the last level ("a/#" matches "a", "a/" and
 *        "a/b/c"; "#" matches every topic).
 * A wildcard occupies a whole level: "a+", "+a", "a#" and "a/b#" are invalid, and so are "a/#/b" and "#/".
 * System topics: a wildcard in the first level of a filter does not match a topic whose first byte is '$'
 * ("#" and "+/x" do not match "$SYS/x"; "$SYS/#" and "$SYS/+" do). This is MQTT 3.1.1 section 4.7.2.
 *
 * Names and filters are 1 to RK_TOPIC_MAX_LEN bytes and 1 to RK_TOPIC_MAX_LEVELS levels; empty levels are
 * allowed ("a//b", "/a", "a/"), the empty string is not. Levels compare as bytes, so matching is case
 * sensitive and UTF-8 is carried through unchecked. Wildcards are invalid in a topic name. The API takes
 * NUL-terminated strings, so a NUL cannot occur inside one: a caller holding a length-delimited topic (from
 * a network frame) must reject an embedded NUL itself, or the topic would be read as its prefix.
 *
 * The trie (rk_topic_tree) maps filters to sets of 64-bit subscriber ids (actor addresses, rk_addr). A node
 * stands for a filter prefix; its children are the exact levels that follow it (a sorted array, each child
 * with an 8-byte key of its level beside it, and a hash index of the keys when there are more than 16),
 * plus one slot for a '+' child and one for a '#' child. Invariants (cited in topic.c as T1..T7):
 *   T1  The root stands for the empty prefix and holds no subscriber (the empty filter is invalid).
 *   T2  A node's exact children are unique and sorted by level bytes (memcmp order, then length); an exact
 *       level never contains '/', '+' or '#'. '+' children live only in the plus slot, '#' in the hash slot.
 *   T3  A '#' node has no children: '#' is always the last level of its filter.
 *   T4  The path from the root to a node spells one filter; the node's subscriber list is that filter's
 *       subscribers, ascending and unique, so one (filter, subscriber) pair is stored at most once.
 *   T5  Every node except the root holds a subscriber or has a child: unsubscribe prunes the nodes it
 *       empties, and a failed subscribe removes the nodes it created.
 *   T6  Depth (levels below the root) is at most RK_TOPIC_MAX_LEVELS, so every walk of the trie uses a
 *       fixed stack of RK_TOPIC_MAX_LEVELS + 1 entries and no recursion.
 *   T7  The subscription count is the total length of the subscriber lists and never exceeds INT_MAX, so
 *       every count the API returns as an int fits.
 *
 * Costs, for a filter or topic of L levels, a node with k exact children and s subscribers:
 *   subscribe, unsubscribe  O(L log k) key comparisons to find the path, plus O(k) to insert or remove a
 *                           child (sorted arrays, memmove, and the index rebuilt above 16 children) and O(s)
 *                           to insert or remove a subscriber.
 *   lookup                  one pass over the topic (its levels and their keys, computed once), then O(1)
 *                           expected per node the walk visits (the exact and the '+' branch at every level:
 *                           V <= the number of nodes, and small for realistic trees): a scan of at most 16
 *                           keys or one probe of the index; only levels of 8 bytes or more that share their
 *                           first 8 bytes with a sibling's take O(log k) byte comparisons. Then the union of
 *                           the m subscriptions of the r matched filters, written straight to out: a copy for
 *                           one filter, insertion into a sorted buffer up to 64 subscriptions, a heap merge of
 *                           the r lists above that, O(m log r). No allocation unless more than 32 filters
 *                           with subscribers match.
 *   memory                  64 bytes a node, on a cache line of its own (128 for a level over 13 bytes), with
 *                           its first subscriber inside; 8 bytes a subscriber from the second on; 16 bytes a
 *                           child (key and pointer) and 32 more a child in the index of a node with more than
 *                           16 (arrays double as they grow).
 * A lookup is bound by cache misses, a line or two for each node it visits, not by comparisons: in the
 * 10,000-subscription trie of k2k_bench it takes about 80 ns while the part of the trie it touches fits the
 * L2 cache and about twice that when it does not (docs/BENCHMARKS.md, section 5b). Subscribing is O(k) per
 * child added, so building a level of 10^4 or more distinct siblings is quadratic in that fan-out.
 *
 * Thread safety: a tree is not locked inside. rk_topic_lookup, rk_topic_tree_count and rk_topic_tree_nodes
 * only read it, so any number of threads may call them at once; rk_topic_subscribe, rk_topic_unsubscribe
 * and rk_topic_tree_destroy need exclusive access (the broker holds a rwlock: shared for lookups, exclusive
 * for changes). The validate and match functions are pure and thread safe.
 */
#ifndef RINGKERNEL_TOPIC_H
#define RINGKERNEL_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Longest topic name or filter, in bytes (not counting the terminating NUL). */
#define RK_TOPIC_MAX_LEN 256
/** Most levels in a topic name or filter ("a/b/c" has 3, "a/" has 2, "/" has 2). */
#define RK_TOPIC_MAX_LEVELS 32

/* ---- Names and filters --------------------------------------------------------------------------- */

/**
 * Checks a topic filter. Returns 0; RK_EINVAL if it is NULL, empty, longer than RK_TOPIC_MAX_LEN bytes or
 * RK_TOPIC_MAX_LEVELS levels, or has a wildcard that does not occupy a whole level or a '#' that is not the
 * last level. The detail (rk_last_error()) names the problem and its byte offset.
 */
int rk_topic_validate_filter(const char *filter);

/**
 * Checks a topic name (what a publisher sends to). Returns 0; RK_EINVAL as for a filter, and also if the
 * name contains '+' or '#'.
 */
int rk_topic_validate_name(const char *topic);

/**
 * Whether `filter` matches `topic`, by the rules above: the reference semantics, for one-off checks and
 * tests (it splits both strings on every call; the trie is the fast path). Returns 1 if it matches, 0 if
 * not, RK_EINVAL if either string is invalid.
 */
int rk_topic_match(const char *filter, const char *topic);

/* ---- The subscription trie ----------------------------------------------------------------------- */

/** A set of (filter, subscriber) subscriptions indexed by filter. Opaque. */
typedef struct rk_topic_tree rk_topic_tree;

/** Creates an empty tree. Returns 0; RK_EINVAL if out is NULL; RK_ENOMEM. */
int rk_topic_tree_create(rk_topic_tree **out);

/** Frees a tree and every subscription in it (NULL is a no-op). Needs exclusive access. */
void rk_topic_tree_destroy(rk_topic_tree *t);

/**
 * Subscribes `subscriber` to `filter`. A (filter, subscriber) pair is held once: subscribing it again fails
 * with RK_EEXIST and changes nothing, so every successful subscribe is undone by exactly one unsubscribe.
 * Filters are compared as strings: "a/+" and "a/#" are different subscriptions even where they overlap.
 * Returns 0; RK_EINVAL if t is NULL or the filter is invalid (see rk_topic_validate_filter); RK_EEXIST;
 * RK_ELIMIT if the tree already holds INT_MAX subscriptions (T7); RK_ENOMEM. A failed call changes nothing.
 */
int rk_topic_subscribe(rk_topic_tree *t, const char *filter, uint64_t subscriber);

/**
 * Removes the subscription of `subscriber` to `filter` (the same string it subscribed with) and frees the
 * trie nodes it leaves empty. Returns 0; RK_EINVAL if t is NULL or the filter is invalid; RK_ENOENT if the
 * pair is not subscribed. Never allocates, so it cannot fail for lack of memory.
 */
int rk_topic_unsubscribe(rk_topic_tree *t, const char *filter, uint64_t subscriber);

/**
 * Finds the subscribers of every filter that matches `topic` (a topic name: no wildcards). Each subscriber
 * is counted once however many of its filters match. Writes the smallest min(cap, count) of them to out in
 * ascending order and returns count, which may exceed cap: the caller then retries with a buffer of count
 * entries. cap may be 0 (out may then be NULL) to ask for the count alone. Returns the count (0 if nothing
 * matches); RK_EINVAL if t is NULL, out is NULL with cap > 0, or the topic is invalid (including one with a
 * wildcard); RK_ENOMEM if more than 32 filters with subscribers match and the list of them, which then
 * outgrows its stack buffer, cannot be allocated. Only reads the tree (see thread safety above).
 */
int rk_topic_lookup(const rk_topic_tree *t, const char *topic, uint64_t *out, uint32_t cap);

/** Number of subscriptions, i.e. (filter, subscriber) pairs, in the tree (0 for NULL). */
size_t rk_topic_tree_count(const rk_topic_tree *t);

/**
 * Number of trie nodes including the root (0 for NULL): 1 for an empty tree (T5), at most one per level of
 * every distinct filter plus one. For memory accounting and for tests of pruning.
 */
size_t rk_topic_tree_nodes(const rk_topic_tree *t);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_TOPIC_H */
