/* message.h - envelope helpers: type ids, correlation ids, payload checks.
 *
 * A message is an rk_envelope (abi.h) followed in the same queue slot by its payload: a fixed-layout C
 * struct read and written in place. These helpers fill and check envelopes; they never copy payloads.
 */
#ifndef RINGKERNEL_MESSAGE_H
#define RINGKERNEL_MESSAGE_H

#include <stdint.h>

#include "ringkernel/abi.h"
#include "ringkernel/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Stable 64-bit id of a message type from its name: FNV-1a over the bytes of the name. The same name gives
 * the same id on every compiler, process, host and device (device.cuh has the identical function).
 * With optimisation on, RK_TYPE_ID(my_type) folds to a constant at compile time.
 */
static inline uint64_t rk_type_id(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a 64 offset basis */
    while (*name) {
        h ^= (uint8_t)*name++;
        h *= 0x100000001b3ull; /* FNV-1a 64 prime */
    }
    return h;
}

/** Type id of a type or message name written as an identifier: RK_TYPE_ID(order_request). */
#define RK_TYPE_ID(name) rk_type_id(#name)

/** Largest payload that fits a slot of slot_size bytes (0 if the slot cannot hold an envelope). */
static inline uint32_t rk_payload_max(uint32_t slot_size)
{
    return slot_size > RK_ENVELOPE_SIZE ? slot_size - RK_ENVELOPE_SIZE : 0;
}

/** The payload that follows an envelope in its slot. */
static inline void *rk_envelope_payload(rk_envelope *e) { return (uint8_t *)e + RK_ENVELOPE_SIZE; }
static inline const void *rk_envelope_payload_const(const rk_envelope *e)
{
    return (const uint8_t *)e + RK_ENVELOPE_SIZE;
}

/**
 * Initialises *e: magic, version, type_id, payload_len; every other field zero. Returns 0, or RK_EINVAL if
 * e is NULL.
 */
int rk_envelope_init(rk_envelope *e, uint64_t type_id, uint32_t payload_len);

/**
 * Checks an envelope read from a slot of slot_size bytes. Returns 0; RK_EINVAL if e is NULL; RK_ECORRUPT on
 * a bad magic; RK_EABI on a version mismatch; RK_EMSGSIZE if payload_len does not fit the slot.
 */
int rk_envelope_check(const rk_envelope *e, uint32_t slot_size);

/**
 * Checks that a payload of len bytes fits a slot of slot_size bytes. Returns 0, or RK_EMSGSIZE with the
 * sizes in rk_last_error() (also when the slot cannot hold an envelope).
 */
int rk_payload_check(size_t len, uint32_t slot_size);

/** A fresh process-wide correlation id: unique, never 0, increasing. Thread-safe; never fails. */
uint64_t rk_correlation_next(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGKERNEL_MESSAGE_H */
