/* mix64.h - the 64-bit mix the queue tests use as a message checksum (splitmix64's finaliser). One
 * definition for the unit and stress tests, so a message written by one is checked the same way by both. */
#ifndef RK_TESTS_MIX64_H
#define RK_TESTS_MIX64_H

#include <stdint.h>

#include "core/internal.h"

/* A bijective mix: distinct (producer, sequence) keys never collide, and a torn slot fails the check. */
static inline uint64_t mix64(uint64_t x) { return rk__mix64(x); }

#endif /* RK_TESTS_MIX64_H */
