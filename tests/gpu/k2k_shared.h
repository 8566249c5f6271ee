/* k2k_shared.h - message layouts shared by the CUDA K2K test actors (k2k_actors.cu) and the host test. */
#ifndef RK_TEST_K2K_SHARED_H
#define RK_TEST_K2K_SHARED_H

#include <stdint.h>

#include "ringkernel/abi.h"

#define K2K_MAX_NEXT 4
#define K2K_MAX_SOURCES 64

/* Type ids of the test protocol (arbitrary distinct values). */
#define K2K_T_CFG 0x811c9dc5ull
#define K2K_T_DATA 0x811c9dc6ull
#define K2K_T_GET 0x811c9dc7ull
#define K2K_T_ASK 0x811c9dc8ull
#define K2K_T_ECHOED 0x811c9dc9ull

typedef struct k2k_cfg {
    rk_addr next[K2K_MAX_NEXT];
    uint32_t n_next;
    uint32_t ring_hops; /* 0: forward every message; else a token ring: stop after this many hops */
} k2k_cfg;

typedef struct k2k_data {
    uint64_t origin;  /* who injected it (test-defined) */
    uint64_t n;       /* per (sender, receiver) number, from 1 */
    uint64_t first_n; /* the number the host gave it at injection */
    uint32_t hops;
    uint32_t pad;
    rk_hlc_ts prev;   /* the stamp of the envelope that delivered it to its sender */
} k2k_data;

typedef struct k2k_ask {
    char endpoint[64];
    uint64_t corr;
    uint64_t value; /* the answer must be 3 x value; the test uses value = corr */
} k2k_ask;

typedef struct k2k_stats {
    uint64_t received, sum, bad, eagain, closed, send_errors, replies, finished;
    uint64_t sent_to[K2K_MAX_NEXT];
    rk_hlc_ts clock; /* the actor's clock when it answered */
} k2k_stats;

#define K2K_STRESS_WORDS 32 /* 256-byte slots */

typedef struct k2k_stress_result {
    uint64_t consumed, lost, torn, order, short_producers, claim_errors, tail;
} k2k_stress_result;

#endif
