/* builtin.h - the actors every CPU runtime provides, and their message types.
 *
 *   "echo"     replies to every message with the same type_id and payload (a request gets a reply with
 *              its correlation id). Useful for latency and throughput measurements and for smoke tests.
 *   "counter"  keeps a count and a sum (rk_counter_value) in its state:
 *                RK_COUNTER_ADD   payload rk_counter_add: adds value, count += 1; replies with the new
 *                                 rk_counter_value only if the message is a request (rk_call), so a stream
 *                                 of plain sends produces no replies.
 *                RK_COUNTER_GET   no payload: replies with the current rk_counter_value.
 *              Any other type, or a payload of the wrong size, fails the message with RK_EINVAL (an error
 *              reply for a request).
 *
 * The payload structs are fixed-layout, little-endian, read and written in place in the queue slots.
 */
#ifndef RINGKERNEL_BUILTIN_H
#define RINGKERNEL_BUILTIN_H

#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/message.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Type id of counter_add messages (payload rk_counter_add). */
#define RK_COUNTER_ADD RK_TYPE_ID(counter_add)
/** Type id of counter_get messages (no payload; reply rk_counter_value). */
#define RK_COUNTER_GET RK_TYPE_ID(counter_get)

/** Payload of RK_COUNTER_ADD. */
typedef struct rk_counter_add {
    int64_t value; /* added to the sum */
} rk_counter_add;

/** The counter's state, and the payload of its replies. */
typedef struct rk_counter_value {
    uint64_t count; /* RK_COUNTER_ADD messages handled */
    int64_t sum;    /* sum of their values (wraps around like two's complement) */
} rk_counter_value;

RK_STATIC_ASSERT(sizeof(rk_counter_add) == 8, "rk_counter_add is 8 bytes");
RK_STATIC_ASSERT(sizeof(rk_counter_value) == 16, "rk_counter_value is 16 bytes");

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_BUILTIN_H */
