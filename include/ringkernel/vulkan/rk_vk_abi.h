/* rk_vk_abi.h - the layout of the buffers a Vulkan actor dispatch reads and writes.
 *
 * Public (installed as ringkernel/vulkan/rk_vk_abi.h): user actors are built on it (actor.h, "Vulkan
 * actors"). Included by the host (vulkan_backend.c, C11) and by every actor shader (GLSL, through rk_actor.glsl), so
 * both sides agree on one set of numbers: plain #defines of 32-bit unsigned literals only, which both
 * languages read the same way. All offsets count 32-bit words, since GLSL storage buffers are indexed by
 * word and the shaders need no 8- or 64-bit types (no device feature beyond Vulkan 1.0 core).
 *
 * Input buffer (host writes before the dispatch, the shader reads):
 *
 *   [ header RK_VK_IN_HDR_WORDS ][ op[max_batch] ][ slot 0 ][ slot 1 ] ... (slot_words each)
 *
 * A slot is a copy of the H2K slot: the 64-byte envelope (abi.h), then the payload. op[i] is 1 when the
 * shader handles message i and 0 when the host already decided its fate (an invalid envelope, a runtime
 * no-op): the shader then leaves it alone.
 *
 * Output buffer (the shader writes, the host reads after the fence): one record of out_words per message:
 *
 *   [ rc ][ replied ][ type_lo ][ type_hi ][ len ][ 3 reserved ][ payload (payload_max bytes) ]
 *
 * rc is the handler's result (0 or a negative RK_E* code as a two's-complement word); replied is 1 when
 * the handler replied, with type and len describing the reply. The host builds the reply envelope itself
 * (correlation id, addresses, HLC, sequence number), so a shader never writes a K2H slot.
 */
#ifndef RK_VK_ABI_H
#define RK_VK_ABI_H

/* Input header words. */
#define RK_VK_IN_N 0u           /* messages in this batch */
#define RK_VK_IN_SLOT_WORDS 1u  /* words per slot */
#define RK_VK_IN_STATE_WORDS 2u /* words of state per instance (its stride in the state buffer) */
#define RK_VK_IN_INSTANCES 3u   /* instances of the kernel */
#define RK_VK_IN_MAX_BATCH 4u   /* entries of op[] */
#define RK_VK_IN_OUT_WORDS 5u   /* words per output record */
#define RK_VK_IN_HDR_WORDS 16u

/* Envelope words (abi.h rk_envelope, little-endian). */
#define RK_VK_ENV_HEAD 0u       /* magic | version << 16 | flags << 24 */
#define RK_VK_ENV_LEN 1u        /* payload_len */
#define RK_VK_ENV_TYPE 2u       /* type_id, low word first */
#define RK_VK_ENV_CORR 4u       /* correlation_id, low word first */
#define RK_VK_ENV_SOURCE 6u     /* source: the low word is the instance, the high word the kernel */
#define RK_VK_ENV_DEST 8u       /* dest: the low word is the instance */
#define RK_VK_ENV_HLC 10u       /* hlc: physical ns (2 words, low first), logical, node */
#define RK_VK_ENV_SEQ 14u       /* seq, low word first */
#define RK_VK_ENV_WORDS 16u     /* the payload starts here */

/* Output record words. */
#define RK_VK_OUT_RC 0u
#define RK_VK_OUT_REPLIED 1u
#define RK_VK_OUT_TYPE 2u       /* reply type_id, low word first */
#define RK_VK_OUT_LEN 4u
#define RK_VK_OUT_HDR_WORDS 8u  /* the reply payload starts here */

/* The envelope flags and error codes shaders use (abi.h, error.h; the host asserts they agree). */
#define RK_VK_FLAG_REQUEST 1u
#define RK_VK_EINVAL (-1)
#define RK_VK_ENOENT (-5)
#define RK_VK_EMSGSIZE (-7)
#define RK_VK_ENOTSUP (-11)
#define RK_VK_EFAULT (-13)

/* FNV-1a of "counter_add" and "counter_get" (builtin.h), as word halves; the host checks them against
 * rk_type_id() when a runtime is created. */
#define RK_VK_COUNTER_ADD_LO 0x8a0828afu
#define RK_VK_COUNTER_ADD_HI 0x3608059du
#define RK_VK_COUNTER_GET_LO 0x7f941190u
#define RK_VK_COUNTER_GET_HI 0x23f3a19du

#endif /* RK_VK_ABI_H */
