/* abi.h - the host/device ABI of RingKernel.
 *
 * Every structure that crosses the host/device boundary lives here and nowhere else. This header is
 * compiled by the host C compiler (C11), by C++ and by nvcc, so it holds plain structs only: fixed-width
 * fields, explicit padding, natural alignment, little-endian, no pointers (offsets only). Each field says
 * who writes it. Every size and every offset the other side relies on is pinned by a static assertion, so a
 * layout change breaks the build instead of corrupting memory at run time.
 *
 * Shared words (queue indices, control flags, counters) are never read or written with plain accesses by
 * the code that shares them: the host uses C11 atomics (queue.h, runtime), the device uses acquire/release
 * loads and stores with system scope (device.cuh). Nothing ever copies or writes back a whole header or
 * control block: that would overwrite the other side's fields.
 */
#ifndef RINGKERNEL_ABI_H
#define RINGKERNEL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define RK_STATIC_ASSERT(c, m) static_assert(c, m)
#define RK_ALIGNAS(n) alignas(n)
/* C++ (nvcc, the Python-free C++ users) sees private atomic fields as plain ones of the same layout; only
 * the library's C code touches them. */
#define RK_ATOMIC(T) T
#else
#define RK_STATIC_ASSERT(c, m) _Static_assert(c, m)
#define RK_ALIGNAS(n) _Alignas(n)
#define RK_ATOMIC(T) _Atomic T
#endif

/** Version of this ABI. Stored in every envelope and control block; bumped on any layout change. */
#define RK_ABI_VERSION 1u

/** First two bytes of every valid envelope ("RK", little-endian). */
#define RK_ENVELOPE_MAGIC 0x4B52u
/** First word of every formatted queue header ("RKQ1"). */
#define RK_QUEUE_MAGIC 0x31514B52u
/** First word of every control block ("RKCB"). */
#define RK_CONTROL_MAGIC 0x42434B52u

/** Size of a cache line as far as the layout is concerned (two 64-byte lines: adjacent-line prefetch). */
#define RK_CACHE_LINE 128u

/* ------------------------------------------------------------------------------------------------ */
/* Hybrid logical clock timestamp (16 bytes).                                                        */
/* ------------------------------------------------------------------------------------------------ */

/** A hybrid logical clock timestamp. Ordered by (physical, logical, node); see hlc.h. */
typedef struct rk_hlc_ts {
    uint64_t physical;  /* wall-clock nanoseconds since the Unix epoch, as known to the stamping clock */
    uint32_t logical;   /* logical counter: events within the same physical nanosecond */
    uint32_t node;      /* id of the clock that stamped it; breaks ties so the order is total */
} rk_hlc_ts;

RK_STATIC_ASSERT(sizeof(rk_hlc_ts) == 16, "rk_hlc_ts is 16 bytes");
RK_STATIC_ASSERT(offsetof(rk_hlc_ts, physical) == 0, "hlc.physical at 0");
RK_STATIC_ASSERT(offsetof(rk_hlc_ts, logical) == 8, "hlc.logical at 8");
RK_STATIC_ASSERT(offsetof(rk_hlc_ts, node) == 12, "hlc.node at 12");

/* ------------------------------------------------------------------------------------------------ */
/* Actor addresses.                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

/** An actor address: kernel id in the high 32 bits, actor instance within the kernel in the low 32. */
typedef uint64_t rk_addr;

#define RK_ADDR(kernel_id, instance) (((uint64_t)(uint32_t)(kernel_id) << 32) | (uint32_t)(instance))
#define RK_ADDR_KERNEL(a) ((uint32_t)((uint64_t)(a) >> 32))
#define RK_ADDR_INSTANCE(a) ((uint32_t)(a))
/** The host: source of H2K messages and destination of K2H replies. */
#define RK_ADDR_HOST ((rk_addr)0)

/* ------------------------------------------------------------------------------------------------ */
/* Message envelope (64 bytes, followed in the same slot by payload_len bytes of payload).          */
/* ------------------------------------------------------------------------------------------------ */

/** Envelope flags. */
enum rk_envelope_flags {
    RK_ENV_REQUEST = 1u << 0,  /* the sender waits for a reply with the same correlation_id */
    RK_ENV_REPLY = 1u << 1,    /* this is the reply to correlation_id */
    RK_ENV_ERROR = 1u << 2,    /* the payload is an error report: int32 RK_E* code, then text */
    RK_ENV_SYSTEM = 1u << 3,   /* runtime control message, not delivered to handlers */
};

/**
 * The message envelope. The writer of a slot fills every field before publishing the slot; the reader
 * never writes it (reserve/commit on send, peek/release on receive — the payload is read and written in
 * place, no serialisation).
 */
typedef struct rk_envelope {
    uint16_t magic;          /* RK_ENVELOPE_MAGIC; sender writes */
    uint8_t version;         /* RK_ABI_VERSION; sender writes */
    uint8_t flags;           /* rk_envelope_flags; sender writes */
    uint32_t payload_len;    /* bytes of payload after the envelope; sender writes, <= slot size - 64 */
    uint64_t type_id;        /* stable hash of the message type's name (RK_TYPE_ID); sender writes */
    uint64_t correlation_id; /* request/reply matching, 0 = none; requester writes, replier copies */
    rk_addr source;          /* sender's address; sender writes */
    rk_addr dest;            /* destination address; sender writes */
    rk_hlc_ts hlc;           /* sender's HLC at send time; sender writes */
    uint64_t seq;            /* per-sender sequence number, starting at 1; sender writes */
} rk_envelope;

#define RK_ENVELOPE_SIZE 64u

RK_STATIC_ASSERT(sizeof(rk_envelope) == RK_ENVELOPE_SIZE, "rk_envelope is 64 bytes");
RK_STATIC_ASSERT(offsetof(rk_envelope, magic) == 0, "env.magic at 0");
RK_STATIC_ASSERT(offsetof(rk_envelope, version) == 2, "env.version at 2");
RK_STATIC_ASSERT(offsetof(rk_envelope, flags) == 3, "env.flags at 3");
RK_STATIC_ASSERT(offsetof(rk_envelope, payload_len) == 4, "env.payload_len at 4");
RK_STATIC_ASSERT(offsetof(rk_envelope, type_id) == 8, "env.type_id at 8");
RK_STATIC_ASSERT(offsetof(rk_envelope, correlation_id) == 16, "env.correlation_id at 16");
RK_STATIC_ASSERT(offsetof(rk_envelope, source) == 24, "env.source at 24");
RK_STATIC_ASSERT(offsetof(rk_envelope, dest) == 32, "env.dest at 32");
RK_STATIC_ASSERT(offsetof(rk_envelope, hlc) == 40, "env.hlc at 40");
RK_STATIC_ASSERT(offsetof(rk_envelope, seq) == 56, "env.seq at 56");

/* ------------------------------------------------------------------------------------------------ */
/* Queue header (384 bytes: three 128-byte lines), followed by the sequence array (MPSC only) and   */
/* the slots. Layout of a formatted queue region:                                                    */
/*                                                                                                    */
/*   [ header 384 B ][ seq[capacity] u64, MPSC only ][ pad to 128 ][ slot 0 ][ slot 1 ] ...          */
/*                                                                                                    */
/* head and tail are 64-bit and only ever increase; slot i lives at index (i & mask). The SPSC       */
/* producer owns head, the consumer owns tail (queue.h, invariants Q1-Q6).                            */
/* ------------------------------------------------------------------------------------------------ */

/** Queue flags, stored in rk_queue_header.flags. */
enum rk_queue_flags {
    RK_QUEUE_SPSC = 0u,      /* single producer, single consumer: head/tail protocol */
    RK_QUEUE_MPSC = 1u << 0, /* many producers, one consumer: per-slot sequence numbers (Vyukov) */
};

typedef struct rk_queue_header {
    /* Line 0: written once by whoever formats the region, before either side attaches; read-only after. */
    uint32_t magic;        /* RK_QUEUE_MAGIC */
    uint32_t abi_version;  /* RK_ABI_VERSION */
    uint32_t capacity;     /* number of slots, a power of two >= 2 */
    uint32_t mask;         /* capacity - 1 */
    uint32_t slot_size;    /* bytes per slot, a power of two >= 64 */
    uint32_t flags;        /* rk_queue_flags */
    uint64_t seq_offset;   /* byte offset of the per-slot sequence array from the header (0 for SPSC) */
    uint64_t slots_offset; /* byte offset of slot 0 from the header; a multiple of 128 */
    uint64_t region_size;  /* total bytes of the formatted region */
    uint8_t pad0[RK_CACHE_LINE - 48];
    /* Line 1: producer side. */
    uint64_t head;         /* next position to publish: SPSC producer writes (release), consumer reads
                              (acquire); MPSC producers claim positions with compare-and-swap */
    uint8_t pad1[RK_CACHE_LINE - 8];
    /* Line 2: consumer side. */
    uint64_t tail;         /* next position to consume: consumer writes (release), producers read (acquire) */
    uint8_t pad2[RK_CACHE_LINE - 8];
} rk_queue_header;

RK_STATIC_ASSERT(sizeof(rk_queue_header) == 3 * RK_CACHE_LINE, "rk_queue_header is 384 bytes");
RK_STATIC_ASSERT(offsetof(rk_queue_header, capacity) == 8, "qh.capacity at 8");
RK_STATIC_ASSERT(offsetof(rk_queue_header, mask) == 12, "qh.mask at 12");
RK_STATIC_ASSERT(offsetof(rk_queue_header, slot_size) == 16, "qh.slot_size at 16");
RK_STATIC_ASSERT(offsetof(rk_queue_header, flags) == 20, "qh.flags at 20");
RK_STATIC_ASSERT(offsetof(rk_queue_header, seq_offset) == 24, "qh.seq_offset at 24");
RK_STATIC_ASSERT(offsetof(rk_queue_header, slots_offset) == 32, "qh.slots_offset at 32");
RK_STATIC_ASSERT(offsetof(rk_queue_header, head) == 128, "qh.head on its own line");
RK_STATIC_ASSERT(offsetof(rk_queue_header, tail) == 256, "qh.tail on its own line");

/* ------------------------------------------------------------------------------------------------ */
/* Control block (128 bytes): one per kernel, shared by the host and the kernel.                     */
/* ------------------------------------------------------------------------------------------------ */

/**
 * Lifecycle states (control block field `state`).
 *
 *   INITIALIZING --launch ok--> RUNNING --terminate--> DRAINING --queue empty--> STOPPED
 *        |                       |  ^                       |
 *        |                  pause|  |resume                 |
 *        |                       v  |                       |
 *        +----error-----------> FAILED <----handler fault---+   (PAUSED between RUNNING and RUNNING)
 */
typedef enum rk_kernel_state {
    RK_STATE_INITIALIZING = 0, /* host set up the block; the kernel has not started */
    RK_STATE_RUNNING = 1,      /* the kernel processes messages */
    RK_STATE_PAUSED = 2,       /* the kernel is resident but takes no messages */
    RK_STATE_DRAINING = 3,     /* terminate requested: no new sends; queued messages are processed */
    RK_STATE_STOPPED = 4,      /* the kernel left its loop; final statistics are valid */
    RK_STATE_FAILED = 5,       /* a fault stopped the kernel; last_error says why */
} rk_kernel_state;

typedef struct rk_control_block {
    uint32_t magic;          /* RK_CONTROL_MAGIC; host writes before launch */
    uint32_t abi_version;    /* RK_ABI_VERSION; host writes before launch, kernel checks */
    uint32_t state;          /* rk_kernel_state; host writes INITIALIZING, kernel writes the rest */
    uint32_t kernel_id;      /* this kernel's id (high half of its rk_addr); host writes before launch */
    uint32_t terminate;      /* 1 = stop after draining; host writes (release), kernel reads (acquire) */
    uint32_t pause;          /* 1 = take no messages; host writes, kernel reads */
    uint32_t instances;      /* actor instances hosted by the kernel; host writes before launch */
    int32_t last_error;      /* RK_E* code of the last fault, 0 if none; kernel writes */
    uint64_t heartbeat;      /* incremented by the kernel on every loop pass; the watchdog reads it */
    uint64_t msgs_in;        /* messages consumed from H2K; kernel writes */
    uint64_t msgs_out;       /* messages published to K2H; kernel writes */
    uint64_t errors;         /* handler errors seen; kernel writes */
    uint64_t dropped;        /* messages dropped where dropping was explicitly requested; kernel writes */
    uint64_t h2k_offset;     /* byte offset of the H2K queue from this block; host writes before launch */
    uint64_t k2h_offset;     /* byte offset of the K2H queue from this block; host writes before launch */
    uint64_t last_hlc_physical; /* physical part of the kernel's last HLC stamp; kernel writes */
    uint32_t last_hlc_logical;  /* logical part of it; kernel writes (may be read torn: advisory only) */
    uint32_t reserved0;      /* zero */
    uint64_t k2k_in;         /* messages consumed from the kernel's K2K inbox (k2k.h); kernel writes */
    uint64_t k2k_out;        /* K2K messages its handlers sent (sends, K2K replies); kernel writes */
    uint64_t reserved[1];    /* zero; room for a later field without a layout change */
} rk_control_block;

RK_STATIC_ASSERT(sizeof(rk_control_block) == 128, "rk_control_block is 128 bytes");
RK_STATIC_ASSERT(offsetof(rk_control_block, abi_version) == 4, "cb.abi_version at 4");
RK_STATIC_ASSERT(offsetof(rk_control_block, state) == 8, "cb.state at 8");
RK_STATIC_ASSERT(offsetof(rk_control_block, kernel_id) == 12, "cb.kernel_id at 12");
RK_STATIC_ASSERT(offsetof(rk_control_block, terminate) == 16, "cb.terminate at 16");
RK_STATIC_ASSERT(offsetof(rk_control_block, pause) == 20, "cb.pause at 20");
RK_STATIC_ASSERT(offsetof(rk_control_block, instances) == 24, "cb.instances at 24");
RK_STATIC_ASSERT(offsetof(rk_control_block, last_error) == 28, "cb.last_error at 28");
RK_STATIC_ASSERT(offsetof(rk_control_block, heartbeat) == 32, "cb.heartbeat at 32");
RK_STATIC_ASSERT(offsetof(rk_control_block, msgs_in) == 40, "cb.msgs_in at 40");
RK_STATIC_ASSERT(offsetof(rk_control_block, msgs_out) == 48, "cb.msgs_out at 48");
RK_STATIC_ASSERT(offsetof(rk_control_block, errors) == 56, "cb.errors at 56");
RK_STATIC_ASSERT(offsetof(rk_control_block, dropped) == 64, "cb.dropped at 64");
RK_STATIC_ASSERT(offsetof(rk_control_block, h2k_offset) == 72, "cb.h2k_offset at 72");
RK_STATIC_ASSERT(offsetof(rk_control_block, k2h_offset) == 80, "cb.k2h_offset at 80");
RK_STATIC_ASSERT(offsetof(rk_control_block, last_hlc_physical) == 88, "cb.last_hlc_physical at 88");
RK_STATIC_ASSERT(offsetof(rk_control_block, last_hlc_logical) == 96, "cb.last_hlc_logical at 96");
RK_STATIC_ASSERT(offsetof(rk_control_block, k2k_in) == 104, "cb.k2k_in at 104");
RK_STATIC_ASSERT(offsetof(rk_control_block, k2k_out) == 112, "cb.k2k_out at 112");


/* ---- Low-latency (LL) slot encoding -----------------------------------------------------------------
 * Kernels launched with RK_LAUNCH_LOW_LATENCY (runtime.h) carry their H2K and K2H slots across the bus in
 * this encoding instead of plain slots plus a published index. Every 8-byte wire word holds 4 bytes of the
 * slot in its low half and a 32-bit flag in its high half, flag = (uint32_t)(position + 1): a wire slot is
 * twice the slot size. 8-byte aligned words are written and read whole on both sides (x86-64 stores, GPU
 * 64-bit loads and stores, PCIe), so a reader that sees the expected flag in every word of a message has
 * the whole message, with no ordering between the words and no index to read first: one bus crossing per
 * message instead of two (index, then slot), and a reply needs no fence for its order (the protocol of
 * NCCL's LL; the CUDA loop fences after a reply all the same, to push it out sooner: device.cuh).
 * Flags of the previous lap differ by the capacity, so a stale slot never matches; zeroed memory (flag 0)
 * never matches a first-lap position either.
 *
 * A writer writes at least the first RK_LL_HEAD_WORDS words of a slot (or the whole slot if smaller): the
 * reader's first look covers them, learns payload_len from the envelope, and then waits for the rest.
 */
#define RK_LL_HEAD_WORDS 32u

#if defined(__CUDACC__)
#define RK_ABI_INLINE static __host__ __device__ __forceinline__
#else
#define RK_ABI_INLINE static inline
#endif

/** Wire words that carry a message of payload_len bytes in a slot of slot_size bytes. */
RK_ABI_INLINE uint32_t rk_ll_words(uint32_t payload_len, uint32_t slot_size)
{
    uint32_t n = (RK_ENVELOPE_SIZE + payload_len + 3u) / 4u, all = slot_size / 4u;

    if (n < RK_LL_HEAD_WORDS)
        n = RK_LL_HEAD_WORDS;
    return n < all ? n : all;
}

/** The flag of the wire words of position pos. */
#define RK_LL_FLAG(pos) ((uint32_t)((uint64_t)(pos) + 1u))

#endif /* RINGKERNEL_ABI_H */
