/* k2k_actors.cu - GPU actors and kernels for the CUDA K2K tests (k2k_cuda_test.c).
 *
 * stage: one actor type for every topology (chain, fan-out, fan-in, ring). Ordered, so each batch is
 * handled in queue order. It checks every delivery and counts what it saw in its state; the host reads the
 * state back with a "get" request. Messages:
 *   cfg  (host)        payload k2k_cfg: up to K2K_MAX_NEXT successor addresses, the ring hop limit
 *   data (host or K2K) payload k2k_data: origin, number, and the stamp of the envelope that delivered the
 *                      message to its sender (the causal predecessor of this send)
 *   get  (host)        replies with k2k_stats
 *   ask  (host)        payload k2k_ask: send a K2K request to the endpoint named in it (resolved on the
 *                      device), and check the reply when it comes (a K2K reply from any actor that answers
 *                      with rk_reply, such as the built-in echo)
 * Checks, each failure counted in stats.bad (and the message fails with RK_EINVAL):
 *   - per-sender order: from each source (host or kernel), numbers arrive 1, 2, 3, ... with no gap or repeat
 *   - happened-before: the envelope's stamp is later than the stamp carried in the payload
 *   - a K2K reply carries the correlation id of an outstanding request and a later stamp
 */
#include <stdint.h>

#include "ringkernel/device.cuh"
#include "k2k_shared.h"

typedef struct stage_state {
    k2k_cfg cfg;
    k2k_stats st;
    uint64_t last_n[K2K_MAX_SOURCES]; /* per source kernel id (0: the host): the last number seen */
    uint64_t ask_corr;                /* the outstanding request's correlation id, 0 if none */
    rk_hlc_ts ask_ts;                 /* its stamp */
} stage_state;

__device__ static int ts_after(const rk_hlc_ts *a, const rk_hlc_ts *b)
{
    if (a->physical != b->physical)
        return a->physical > b->physical;
    if (a->logical != b->logical)
        return a->logical > b->logical;
    return a->node > b->node;
}

/* Forwards message (origin, n) to every successor; counts the outcome of each send. */
__device__ static void forward(rk_ctx *ctx, stage_state *s, const rk_envelope *env, uint64_t origin, uint64_t n,
                               uint32_t hops)
{
    for (uint32_t i = 0; i < s->cfg.n_next; i++) {
        k2k_data d;
        d.origin = origin;
        d.n = ++s->st.sent_to[i]; /* per (sender, receiver) numbering: what the receiver checks */
        d.first_n = n;
        d.hops = hops;
        d.prev = env->hlc;
        int rc = rk_k2k_send(ctx, s->cfg.next[i], K2K_T_DATA, &d, sizeof d);
        if (rc == 0)
            continue;
        --s->st.sent_to[i]; /* not sent: the next one keeps this number */
        if (rc == RK_EAGAIN)
            s->st.eagain++;
        else if (rc == RK_ECLOSED)
            s->st.closed++;
        else
            s->st.send_errors++;
    }
}

__device__ static int stage_handler(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    stage_state *s = (stage_state *)rk_state(ctx);

    if (env->type_id == K2K_T_CFG) {
        if (env->payload_len != sizeof(k2k_cfg))
            return RK_EINVAL;
        s->cfg = *(const k2k_cfg *)payload;
        return 0;
    }
    if (env->type_id == K2K_T_GET) {
        k2k_stats out = s->st;
        out.clock = rk_hlc_now(ctx);
        return rk_reply(ctx, env->type_id, &out, sizeof out);
    }
    if (env->type_id == K2K_T_ASK) {
        const k2k_ask *q = (const k2k_ask *)payload;
        rk_addr to;
        if (env->payload_len != sizeof(k2k_ask) || s->ask_corr != 0)
            return RK_EINVAL;
        if (rk_k2k_resolve(ctx, q->endpoint, &to) != 0) {
            s->st.bad++;
            return RK_ENOENT;
        }
        s->ask_corr = q->corr;
        uint64_t v = q->value;
        rk_k2k_ticket t;
        int rc = rk_k2k_send_reserve(ctx, to, K2K_T_ECHOED, RK_ENV_REQUEST, q->corr, sizeof v, &t);
        if (rc != 0) {
            s->ask_corr = 0;
            s->st.send_errors++;
            return rc;
        }
        *(uint64_t *)t.payload = v;
        s->ask_ts = ((const rk_envelope *)((const uint8_t *)t.payload - RK_ENVELOPE_SIZE))->hlc;
        rk_k2k_send_commit(ctx, &t);
        return 0;
    }
    if (env->flags & RK_ENV_REPLY) { /* the answer to an ask */
        if (env->correlation_id != s->ask_corr || env->correlation_id == 0 || !ts_after(&env->hlc, &s->ask_ts) ||
            env->payload_len != sizeof(uint64_t) || *(const uint64_t *)payload != env->correlation_id * 3) {
            s->st.bad++;
            return RK_EINVAL;
        }
        s->ask_corr = 0;
        s->st.replies++;
        return 0;
    }
    if (env->type_id != K2K_T_DATA || env->payload_len != sizeof(k2k_data))
        return RK_EINVAL;
    const k2k_data *d = (const k2k_data *)payload;
    const uint32_t src = RK_ADDR_KERNEL(env->source);
    int ok = src < K2K_MAX_SOURCES && d->n == s->last_n[src] + 1;
    if (src != 0) /* host messages carry no predecessor */
        ok = ok && ts_after(&env->hlc, &d->prev);
    if (!ok) {
        s->st.bad++;
        return RK_EINVAL;
    }
    s->last_n[src] = d->n;
    s->st.received++;
    s->st.sum += d->first_n;
    if (s->cfg.ring_hops != 0) { /* a token ring: pass it on until it made its hops */
        if (d->hops + 1 >= s->cfg.ring_hops) {
            s->st.finished++;
            return 0;
        }
        forward(ctx, s, env, d->origin, d->first_n, d->hops + 1);
        return 0;
    }
    forward(ctx, s, env, d->origin, d->first_n, d->hops + 1);
    return 0;
}
RK_DEVICE_ACTOR_ORDERED(k2k_stage, stage_handler, sizeof(stage_state))

/* tripler: answers a request with 3 x its u64 payload; parallel (one thread per message). */
__device__ static int tripler_handler(rk_ctx *ctx, const rk_envelope *env, const void *payload)
{
    if (env->payload_len != sizeof(uint64_t))
        return RK_EINVAL;
    uint64_t v = *(const uint64_t *)payload * 3;
    return rk_reply(ctx, env->type_id, &v, sizeof v);
}
RK_DEVICE_ACTOR(k2k_tripler, tripler_handler, 0)

/* ---- Ring stress: many producers, one consumer warp, on the raw ring primitives ------------------------ */

/* The payload of a stress message: 24 words derived from (producer, number), so a torn read shows. */
__device__ static uint64_t pattern(uint64_t producer, uint64_t n, uint32_t w)
{
    uint64_t x = (producer << 40) ^ (n << 8) ^ w;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

__global__ static void stress_kernel(rk_k2k_ring *ring, uint32_t per_producer, k2k_stress_result *res,
                                     uint64_t *last_by_producer)
{
    rk_k2k_view v = rk_k2k_ring_view(ring);
    const uint32_t producers = (gridDim.x - 1) * blockDim.x;
    if (blockIdx.x > 0) { /* producers: every thread of blocks 1.. */
        const uint64_t me = (blockIdx.x - 1) * blockDim.x + threadIdx.x;
        for (uint32_t n = 1; n <= per_producer; n++) {
            uint64_t pos;
            int rc;
            while ((rc = rk_k2k_ring_claim(&v, &pos)) == RK_EAGAIN)
                __nanosleep(100); /* the consumer is co-resident (cooperative launch): room comes */
            if (rc != 0) {
                atomicAdd((unsigned long long *)&res->claim_errors, 1ull);
                return;
            }
            uint64_t *w = (uint64_t *)rk_k2k_ring_slot(&v, pos);
            w[0] = me;
            w[1] = n;
            for (uint32_t i = 2; i < K2K_STRESS_WORDS; i++)
                w[i] = pattern(me, n, i);
            rk_k2k_ring_publish(&v, pos);
        }
        return;
    }
    if (threadIdx.x >= 32) /* the consumer: warp 0 of block 0 */
        return;
    /* The warp takes the ready prefix of up to 32 positions per round: lane j checks message head + j for
     * a torn payload, lane 0 then checks each producer's numbering in queue order. */
    const uint32_t lane = threadIdx.x;
    const uint64_t total = (uint64_t)producers * per_producer;
    uint64_t head = 0, torn = 0, order = 0, idle = 0;
    while (head < total) {
        uint64_t s = rk_ld_relaxed_gpu_u64(&v.seq[(head + lane) & v.mask]);
        uint32_t ready = __ballot_sync(RK_FULL_MASK, head + lane < total && s == head + lane + 1);
        uint32_t k = ready == RK_FULL_MASK ? 32u : (uint32_t)__ffs(~ready) - 1u;
        if (k == 0) {
            if (++idle > (1ull << 25)) /* ~seconds without a message: the rest is lost */
                break;
            __nanosleep(32);
            continue;
        }
        idle = 0;
        asm volatile("fence.acq_rel.gpu;" ::: "memory"); /* KQ3: the sequence loads above acquire */
        uint64_t producer = 0, n = 0;
        int good = 1;
        if (lane < k) {
            const uint64_t *w = (const uint64_t *)rk_k2k_ring_slot(&v, head + lane);
            producer = w[0];
            n = w[1];
            good = producer < producers;
            for (uint32_t i = 2; good && i < K2K_STRESS_WORDS; i++)
                good = w[i] == pattern(producer, n, i);
        }
        for (uint32_t j = 0; j < k; j++) {
            const uint64_t p = __shfl_sync(RK_FULL_MASK, producer, j), nj = __shfl_sync(RK_FULL_MASK, n, j);
            const int g = __shfl_sync(RK_FULL_MASK, good, j);
            if (lane == 0) {
                if (!g) {
                    torn++;
                } else {
                    if (nj != last_by_producer[p] + 1)
                        order++; /* a duplicate, a gap or a reordering within one producer */
                    last_by_producer[p] = nj;
                }
            }
        }
        __syncwarp();
        if (lane < k)
            rk_k2k_ring_release(&v, head + lane); /* KQ4: after this lane's reads */
        head += k;
    }
    if (lane == 0) {
        res->consumed = head;
        res->lost = total - head;
        res->torn = torn;
        res->order = order;
        uint64_t missing = 0;
        for (uint64_t p = 0; p < producers; p++)
            missing += last_by_producer[p] != per_producer;
        res->short_producers = missing;
        /* After draining everything: nothing may be claimable beyond the total (no duplicates). */
        res->tail = rk_ld_relaxed_gpu_u64(&ring->tail);
    }
}

/* Runs the stress on a fresh ring of `capacity` slots (one cooperative launch, so producers and consumer
 * are co-resident). Returns a cudaError_t. */
extern "C" int k2k_run_stress(uint32_t blocks, uint32_t threads, uint32_t per_producer, uint32_t capacity,
                              k2k_stress_result *out)
{
    const size_t slot = 256, seq_off = sizeof(rk_k2k_ring), slots_off = seq_off + capacity * sizeof(uint64_t);
    uint8_t *mem = NULL;
    k2k_stress_result *res = NULL;
    uint64_t *last = NULL;
    const uint32_t producers = (blocks - 1) * threads;
    cudaError_t e;

    if ((e = cudaMalloc((void **)&mem, slots_off + capacity * slot)) != cudaSuccess)
        return e;
    rk_k2k_ring *hdr = (rk_k2k_ring *)calloc(1, slots_off);
    hdr->seq = (uint64_t *)(mem + seq_off);
    hdr->slots = mem + slots_off;
    hdr->mask = capacity - 1;
    hdr->slot_shift = 8;
    hdr->payload_max = (uint32_t)slot - RK_ENVELOPE_SIZE;
    for (uint64_t p = 0; p < capacity; p++)
        ((uint64_t *)((uint8_t *)hdr + seq_off))[p] = p;
    e = cudaMemcpy(mem, hdr, slots_off, cudaMemcpyHostToDevice);
    free(hdr);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&res, sizeof *res);
    if (e == cudaSuccess)
        e = cudaMemset(res, 0, sizeof *res);
    if (e == cudaSuccess)
        e = cudaMalloc((void **)&last, producers * sizeof(uint64_t));
    if (e == cudaSuccess)
        e = cudaMemset(last, 0, producers * sizeof(uint64_t));
    if (e == cudaSuccess) {
        rk_k2k_ring *ring = (rk_k2k_ring *)mem;
        void *args[] = { &ring, &per_producer, &res, &last };
        e = cudaLaunchCooperativeKernel((const void *)stress_kernel, dim3(blocks), dim3(threads), args, 0, 0);
    }
    if (e == cudaSuccess)
        e = cudaDeviceSynchronize();
    if (e == cudaSuccess)
        e = cudaMemcpy(out, res, sizeof *out, cudaMemcpyDeviceToHost);
    cudaFree(last);
    cudaFree(res);
    cudaFree(mem);
    return (int)e;
}

/* Blocks of `threads` threads that the stress kernel can keep co-resident on this device (for the grid). */
extern "C" int k2k_stress_max_blocks(uint32_t threads)
{
    int per_sm = 0, dev = 0;
    cudaDeviceProp p;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, stress_kernel, (int)threads, 0) != cudaSuccess)
        return 0;
    return per_sm * p.multiProcessorCount;
}

extern "C" int k2k_test_actors_linked(void) { return 1; }
